//! `podiam`: self-hosted, AWS-wire-compatible workload identity.

mod agent_cmd;
mod client;
mod explain_cmd;
mod policy_cmd;
mod run_cmd;
mod sa_cmd;
mod serve_metrics;
mod server;
mod webhook_cmd;

use anyhow::Context;
use clap::{Parser, Subcommand};
use client::{Client, ClientArgs};
use http::Method;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: requests allocate many small, short-lived buffers (JSON,
/// headers, audit lines). Measured with bench/dynamodb.sh: a 100-item Query
/// went from 627 to 544 µs of server CPU; GetItem was unchanged.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "podiam",
    version,
    about = "Workload identity for Kubernetes pods, self-hosted and AWS-wire-compatible"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service on one port: IAM, STS, EKS and eks-auth, S3, DynamoDB, the cluster issuers.
    Serve(Box<server::ServeConfig>),
    /// Manage clusters and their OIDC issuers.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Role operations beyond the IAM API.
    Role {
        #[command(subcommand)]
        command: RoleCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Rotate and list the signing keys of podiam-hosted cluster issuers.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print a projected service-account token (a JWT) for a cluster.
    Token {
        /// Cluster name.
        #[arg(long)]
        cluster: String,
        /// Namespace.
        #[arg(long, short = 'n', default_value = "default")]
        namespace: String,
        /// Service account name.
        #[arg(long)]
        service_account: String,
        /// Audience (repeatable).
        #[arg(long = "audience", default_value = "sts.amazonaws.com")]
        audiences: Vec<String>,
        /// Lifetime in seconds (600..=4294967296).
        #[arg(
            long = "token-expiration",
            alias = "expiration",
            default_value_t = 3600
        )]
        expiration: i64,
        /// Bind the token to a pod of this name.
        #[arg(long)]
        pod: Option<String>,
        /// Allow --token-expiration below kube-apiserver's 600 s floor (down
        /// to 10 s) to test expiry and refresh without waiting.
        #[arg(
            long = "insecure-short-token-lifetime",
            alias = "insecure-short-lifetime"
        )]
        insecure_short_lifetime: bool,
        /// Write the token to FILE (mode 0600, no trailing newline, as the
        /// kubelet writes projected tokens) instead of printing it.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Run the node agent: the Pod Identity credential endpoint and IMDS.
    Agent(Box<agent_cmd::AgentArgs>),
    /// The mutating admission webhook (IRSA and Pod Identity injection), or
    /// `webhook mutate` to run it offline on a pod.
    Webhook(Box<webhook_cmd::WebhookArgs>),
    /// Explain why a role can or cannot be assumed, check by check.
    Explain {
        #[command(subcommand)]
        command: explain_cmd::ExplainCommand,
    },
    /// Run a command as a pod of the cluster would see it (IRSA or Pod Identity).
    Run(Box<run_cmd::RunArgs>),
    /// Manage a cluster's service accounts (and their annotations).
    Sa {
        #[command(subcommand)]
        command: sa_cmd::SaCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Create a role, its policies and a service account in one step.
    Iamserviceaccount {
        #[command(subcommand)]
        command: IamServiceAccountCommand,
    },
    /// Read the server's audit log: one JSON line per API decision.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Validate and simulate IAM policies offline.
    Policy {
        #[command(subcommand)]
        command: policy_cmd::PolicyCommand,
    },
}

#[derive(Subcommand)]
enum IamServiceAccountCommand {
    /// Create the role (with the recommended trust policy), attach policies,
    /// and create the annotated service account or the association.
    Create {
        #[command(flatten)]
        args: sa_cmd::IamServiceAccountArgs,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Print recent events, and with --follow keep printing new ones.
    Tail {
        /// Only failed or denied calls.
        #[arg(long)]
        denied: bool,
        /// Keep streaming new events.
        #[arg(long, short = 'f')]
        follow: bool,
    },
}

#[derive(Subcommand)]
enum RoleCommand {
    /// Revoke every active session of a role, as the AWS console's "Revoke
    /// active sessions" does: an inline policy `AWSRevokeOlderSessions`
    /// denying everything to sessions issued before now
    /// (`aws:TokenIssueTime`). Sessions issued afterwards are unaffected;
    /// every replica enforces it within a second.
    RevokeSessions {
        /// Role name.
        name: String,
    },
}

/// The inline policy AWS attaches to revoke a role's sessions issued
/// before `now` (epoch milliseconds).
fn revoke_older_sessions(now_ms: i64) -> String {
    let stamp = podiam_core::timefmt::iso8601_ms(now_ms);
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": stamp}}
        }]
    })
    .to_string()
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a signing key: in the JWKS at once, signing after --publish-delay.
    /// The old key stops signing then and stays in the JWKS until the last
    /// token it signed has expired.
    Rotate {
        /// Cluster name.
        #[arg(long)]
        cluster: String,
        /// Wait between publishing the key and signing with it, e.g. `90s`,
        /// `5m`, `1h` (default: the JWKS cache max-age, 1h, so verifiers
        /// that never refetch on an unknown kid still see the key in time;
        /// podiam's own STS refetches, so seconds suffice when only it verifies).
        #[arg(long, value_parser = parse_seconds, default_value = "1h")]
        publish_delay: i64,
        /// Algorithm of the new key (default: the current key's).
        #[arg(long, value_parser = ["RS256", "ES256"])]
        algorithm: Option<String>,
    },
    /// List a cluster's keys: pending, signing, retired (published until
    /// their last token expires) or expired.
    List {
        /// Cluster name.
        #[arg(long)]
        cluster: String,
    },
}

/// Seconds from `90`, `90s`, `5m`, `2h` or `1d`.
pub(crate) fn parse_seconds(s: &str) -> Result<i64, String> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 5m, 1h"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too long"))
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Create a cluster with a built-in issuer at <endpoint>/clusters/NAME.
    Create {
        /// Cluster name.
        name: String,
        /// Signing algorithm.
        #[arg(long, default_value = "RS256", value_parser = ["RS256", "ES256"])]
        algorithm: String,
        /// Override the issuer URL.
        #[arg(long)]
        issuer: Option<String>,
    },
    /// Register a cluster whose issuer is external (a real kube-apiserver).
    Register {
        /// Cluster name.
        name: String,
        /// The cluster's --service-account-issuer URL.
        #[arg(long)]
        issuer: String,
        /// The cluster's JWKS (kubectl get --raw /openid/v1/jwks).
        #[arg(long)]
        jwks_file: PathBuf,
    },
    /// Describe a cluster.
    Describe {
        /// Cluster name.
        name: String,
    },
    /// List clusters.
    List,
    /// Delete a cluster.
    Delete {
        /// Cluster name.
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PODIAM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("podiam: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("podiam: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(cfg) => {
            let server = server::Server::bind(*cfg).await?;
            eprintln!("podiam: listening on http://{}", server.addr);
            server.run(shutdown_signal()).await?;
        }
        Command::Cluster { command, client } => {
            let c = Client::new(&client)?;
            let out = match command {
                ClusterCommand::Create {
                    name,
                    algorithm,
                    issuer,
                } => {
                    let issuer = issuer.unwrap_or_else(|| {
                        format!("{}/clusters/{name}", client.endpoint.trim_end_matches('/'))
                    });
                    c.json(
                        Method::POST,
                        "/clusters",
                        Some(json!({"name": name, "podiam": {"issuer": issuer, "signingAlgorithm": algorithm}})),
                    )
                    .await?
                }
                ClusterCommand::Register {
                    name,
                    issuer,
                    jwks_file,
                } => {
                    let jwks = std::fs::read_to_string(&jwks_file)
                        .with_context(|| format!("reading {}", jwks_file.display()))?;
                    c.json(
                        Method::POST,
                        "/clusters",
                        Some(json!({"name": name, "podiam": {"issuer": issuer, "jwks": jwks}})),
                    )
                    .await?
                }
                ClusterCommand::Describe { name } => {
                    c.json(Method::GET, &format!("/clusters/{name}"), None)
                        .await?
                }
                ClusterCommand::List => c.json(Method::GET, "/clusters", None).await?,
                ClusterCommand::Delete { name } => {
                    c.json(Method::DELETE, &format!("/clusters/{name}"), None)
                        .await?
                }
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Command::Role {
            command: RoleCommand::RevokeSessions { name },
            client,
        } => {
            let c = Client::new(&client)?;
            // The server's clock stamps sessions, and its Date header has
            // whole seconds: round up, so no session issued before now
            // survives (one issued later in this second is refused too).
            let now_ms = (c.server_time().await?.unix_timestamp() + 1) * 1000;
            let doc = revoke_older_sessions(now_ms);
            c.query(
                "iam",
                &[
                    ("Action", "PutRolePolicy"),
                    ("Version", "2010-05-08"),
                    ("RoleName", &name),
                    ("PolicyName", "AWSRevokeOlderSessions"),
                    ("PolicyDocument", &doc),
                ],
            )
            .await?;
            println!("{doc}");
        }
        Command::Keys { command, client } => {
            let c = Client::new(&client)?;
            let out = match command {
                KeysCommand::Rotate {
                    cluster,
                    publish_delay,
                    algorithm,
                } => {
                    c.json(
                        Method::POST,
                        &format!("/_podiam/clusters/{cluster}/keys/rotate"),
                        Some(json!({"publishDelaySeconds": publish_delay, "algorithm": algorithm})),
                    )
                    .await?
                }
                KeysCommand::List { cluster } => {
                    c.json(
                        Method::GET,
                        &format!("/_podiam/clusters/{cluster}/keys"),
                        None,
                    )
                    .await?
                }
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Command::Token {
            cluster,
            namespace,
            service_account,
            audiences,
            expiration,
            pod,
            insecure_short_lifetime,
            output,
            client,
        } => {
            let c = Client::new(&client)?;
            let out = c
                .json(
                    Method::POST,
                    &format!("/_podiam/clusters/{cluster}/token"),
                    Some(json!({
                        "namespace": namespace,
                        "serviceAccount": service_account,
                        "audiences": audiences,
                        "expirationSeconds": expiration,
                        "pod": pod,
                        "insecureShortLifetime": insecure_short_lifetime,
                    })),
                )
                .await?;
            let token = out
                .get("token")
                .and_then(|t| t.as_str())
                .context("the server returned no token")?;
            match output {
                Some(path) => server::write_private(&path, token.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?,
                None => println!("{token}"),
            }
        }
        Command::Policy { command } => return policy_cmd::run(command),
        Command::Explain { command } => return explain_cmd::run(command).await,
        Command::Run(args) => return run_cmd::run(*args).await,
        Command::Sa { command, client } => {
            let out = sa_cmd::run_sa(command, &client).await?;
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Command::Iamserviceaccount {
            command: IamServiceAccountCommand::Create { args, client },
        } => {
            let out = sa_cmd::create_iam_service_account(args, &client).await?;
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Command::Audit {
            command: AuditCommand::Tail { denied, follow },
            client,
        } => {
            let c = Client::new(&client)?;
            let q = format!(
                "/_podiam/audit?denied={}&follow={}",
                u8::from(denied),
                u8::from(follow)
            );
            c.stream_to_stdout("eks", &q).await?;
        }
        Command::Agent(args) => agent_cmd::run(*args, shutdown_signal()).await?,
        Command::Webhook(args) => webhook_cmd::run(*args, shutdown_signal()).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_seconds("90"), Ok(90));
        assert_eq!(parse_seconds("90s"), Ok(90));
        assert_eq!(parse_seconds("5m"), Ok(300));
        assert_eq!(parse_seconds("24h"), Ok(86_400));
        assert_eq!(parse_seconds("2d"), Ok(172_800));
        for bad in ["", "h", "5w", "-1s", "1.5h", "99999999999999999999d"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn revocation_policy_is_awss() {
        let doc: serde_json::Value =
            serde_json::from_str(&revoke_older_sessions(1_795_338_149_085)).unwrap();
        assert_eq!(
            doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2026-11-22T09:02:29.085Z"
        );
        assert_eq!(doc["Statement"][0]["Effect"], "Deny");
        assert_eq!(doc["Statement"][0]["Action"][0], "*");
    }
}
