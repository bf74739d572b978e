//! `podiam explain`: why a role can (not) be assumed, as a checklist.

use crate::client::{Client, ClientArgs};
use anyhow::{Context, bail};
use http::Method;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;

/// `podiam explain …`.
#[derive(Debug, clap::Subcommand)]
pub enum ExplainCommand {
    /// Walk every check of assuming a role with a service-account token.
    Assume(Box<AssumeArgs>),
    /// How the policies behind an access key, a role, or a service
    /// account's session decide one action on one resource.
    Request(Box<RequestArgs>),
    /// Which service accounts (IRSA) and Pod Identity associations a
    /// role's trust policy admits, and the near misses with why.
    WhoCanAssume(Box<WhoArgs>),
}

/// `podiam explain who-can-assume` arguments.
#[derive(Debug, clap::Args)]
pub struct WhoArgs {
    /// The role.
    #[arg(long)]
    role_arn: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// `podiam explain request` arguments.
#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    /// The caller's access key id (AKIA… or ASIA…).
    #[arg(long, required_unless_present_any = ["role_arn", "service_account"])]
    access_key: Option<String>,
    /// The session token, for a temporary (ASIA…) key.
    #[arg(long)]
    session_token: Option<String>,
    /// Decide as a session of this role instead (with --service-account:
    /// the role that service account's session would have).
    #[arg(long, conflicts_with = "access_key")]
    role_arn: Option<String>,
    /// Decide as this service account's session: its IRSA role (its
    /// annotation, or --role-arn), or with --pod-identity its association's.
    #[arg(long, conflicts_with = "access_key", requires = "cluster")]
    service_account: Option<String>,
    /// The service account's cluster.
    #[arg(long)]
    cluster: Option<String>,
    /// The service account's namespace.
    #[arg(long, short = 'n', default_value = "default")]
    namespace: String,
    /// The service account's session comes from EKS Pod Identity.
    #[arg(long, requires = "service_account")]
    pod_identity: bool,
    /// The action, e.g. s3:GetObject.
    #[arg(long)]
    action: String,
    /// The resource ARN.
    #[arg(long, default_value = "*")]
    resource: String,
    /// A JSON object of extra condition keys: key → string or list of strings.
    #[arg(long)]
    context_file: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// `podiam explain assume` arguments.
#[derive(Debug, clap::Args)]
pub struct AssumeArgs {
    /// The role to assume.
    #[arg(long)]
    role_arn: Option<String>,
    /// A token file, as the pod sees it.
    #[arg(long, conflicts_with = "service_account")]
    token_file: Option<PathBuf>,
    /// Mint the token for this cluster's service account instead.
    #[arg(long)]
    cluster: Option<String>,
    /// Namespace of the service account.
    #[arg(long, short = 'n', default_value = "default")]
    namespace: String,
    /// The service account.
    #[arg(long, requires = "cluster")]
    service_account: Option<String>,
    /// Pod name for a pod-bound token (Pod Identity needs one).
    #[arg(long, default_value = "explain")]
    pod: String,
    /// `sts:AssumeRoleWithWebIdentity` (IRSA) or `sts:AssumeRole` (Pod Identity).
    #[arg(long, default_value = "sts:AssumeRoleWithWebIdentity")]
    action: String,
    /// The session duration the pod would ask for.
    #[arg(long)]
    duration_seconds: Option<i64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// Renders the server's checklist.
pub fn render(v: &Value) -> String {
    let mut out = format!(
        "Explaining {} on {}\n\n",
        v["action"].as_str().unwrap_or_default(),
        v["roleArn"]
            .as_str()
            .filter(|r| !r.is_empty())
            .unwrap_or("(the associated role)")
    );
    for s in v["steps"].as_array().into_iter().flatten() {
        let mark = if s["ok"].as_bool() == Some(true) {
            "✓"
        } else {
            "✗"
        };
        out.push_str(&format!(
            "  {mark} {:<12} {}\n",
            s["step"].as_str().unwrap_or_default(),
            s["detail"].as_str().unwrap_or_default()
        ));
        if let Some(fix) = s["fix"].as_str() {
            out.push_str(&format!("    {:<12} fix: {fix}\n", ""));
        }
    }
    match v["error"].as_object() {
        None => out.push_str("\nResult: allowed\n"),
        Some(e) => out.push_str(&format!(
            "\nResult: denied — {}: {}\n",
            e.get("code").and_then(Value::as_str).unwrap_or_default(),
            e.get("message").and_then(Value::as_str).unwrap_or_default()
        )),
    }
    out
}

/// What `explain request` asks about: an access key, a role, or a service
/// account's session.
fn request_body(r: &RequestArgs, context: Value) -> Value {
    let mut body = json!({"action": r.action, "resource": r.resource, "context": context});
    match (&r.access_key, &r.service_account) {
        (Some(key), _) => {
            body["accessKeyId"] = json!(key);
            body["sessionToken"] = json!(r.session_token);
        }
        (None, Some(sa)) => {
            let mut p = json!({
                "kind": if r.pod_identity { "pod-identity" } else { "irsa" },
                "cluster": r.cluster,
                "namespace": r.namespace,
                "serviceAccount": sa,
            });
            if let Some(role) = &r.role_arn {
                p["roleArn"] = json!(role);
            }
            body["principal"] = p;
        }
        (None, None) => body["principal"] = json!({"kind": "role", "roleArn": r.role_arn}),
    }
    body
}

/// Renders who can assume a role, then the near misses.
pub fn render_who(v: &Value) -> String {
    let mut out = format!(
        "Who can assume {}\n",
        v["roleArn"].as_str().unwrap_or_default()
    );
    let rows = |allowed: bool| {
        let web = v["webIdentity"].as_array().into_iter().flatten().map(|r| {
            (
                r,
                format!(
                    "IRSA         {}/{}/{}",
                    r["cluster"].as_str().unwrap_or_default(),
                    r["namespace"].as_str().unwrap_or_default(),
                    r["serviceAccount"].as_str().unwrap_or_default()
                ),
            )
        });
        let pods = v["podIdentity"].as_array().into_iter().flatten().map(|r| {
            (
                r,
                format!(
                    "Pod Identity {}/{}/{} ({})",
                    r["cluster"].as_str().unwrap_or_default(),
                    r["namespace"].as_str().unwrap_or_default(),
                    r["serviceAccount"].as_str().unwrap_or_default(),
                    r["associationId"].as_str().unwrap_or_default()
                ),
            )
        });
        web.chain(pods)
            .filter(move |(r, _)| r["allowed"].as_bool() == Some(allowed))
            .collect::<Vec<_>>()
    };
    for (title, allowed) in [("\nAllowed:\n", true), ("\nNear misses:\n", false)] {
        let list = rows(allowed);
        out.push_str(title);
        if list.is_empty() {
            out.push_str("  (none)\n");
        }
        for (r, who) in list {
            out.push_str(&format!("  {who}\n"));
            if !allowed {
                out.push_str(&format!(
                    "      {}\n",
                    r["summary"].as_str().unwrap_or_default()
                ));
            }
            for m in r["mismatches"].as_array().into_iter().flatten() {
                if m["deny"] == true {
                    out.push_str(&format!(
                        "      statement {}: an explicit Deny applies\n",
                        m["statement"].as_str().unwrap_or_default()
                    ));
                    continue;
                }
                out.push_str(&format!(
                    "      statement {}: {} {} expected {}, got {}\n",
                    m["statement"].as_str().unwrap_or_default(),
                    m["key"].as_str().unwrap_or_default(),
                    m["operator"].as_str().unwrap_or_default(),
                    m["expected"],
                    if m["actual"].is_null() {
                        "nothing (the key is missing)".to_string()
                    } else {
                        m["actual"].to_string()
                    }
                ));
            }
        }
    }
    for n in v["notes"].as_array().into_iter().flatten() {
        out.push_str(&format!("\nnote: {}\n", n.as_str().unwrap_or_default()));
    }
    out
}

/// Runs an explain subcommand.
pub async fn run(cmd: ExplainCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ExplainCommand::Request(r) => {
            let c = Client::new(&r.client)?;
            let context = match &r.context_file {
                Some(f) => serde_json::from_str::<Value>(
                    &std::fs::read_to_string(f)
                        .with_context(|| format!("reading {}", f.display()))?,
                )
                .with_context(|| format!("parsing {}", f.display()))?,
                None => json!({}),
            };
            let v = c
                .json(
                    Method::POST,
                    "/_podiam/explain/request",
                    Some(request_body(&r, context)),
                )
                .await?;
            if r.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "Explaining {} on {} for {}\n",
                    v["action"].as_str().unwrap_or_default(),
                    v["resource"].as_str().unwrap_or_default(),
                    v["principal"].as_str().unwrap_or_default()
                );
                for n in v["notes"].as_array().into_iter().flatten() {
                    println!("  note: {}", n.as_str().unwrap_or_default());
                }
                println!("{}", v["rendered"].as_str().unwrap_or_default());
                println!("\nResult: {}", v["decision"].as_str().unwrap_or_default());
            }
            Ok(if v["decision"] == "Allow" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        ExplainCommand::WhoCanAssume(w) => {
            let c = Client::new(&w.client)?;
            let v = c
                .json(
                    Method::POST,
                    "/_podiam/explain/who-can-assume",
                    Some(json!({"roleArn": w.role_arn})),
                )
                .await?;
            if w.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", render_who(&v));
            }
            Ok(ExitCode::SUCCESS)
        }
        ExplainCommand::Assume(a) => {
            let c = Client::new(&a.client)?;
            let pod_identity = a.action == "sts:AssumeRole";
            let token = match (&a.token_file, &a.service_account, &a.cluster) {
                (Some(f), _, _) => std::fs::read_to_string(f)
                    .with_context(|| format!("reading {}", f.display()))?,
                (None, Some(sa), Some(cluster)) => {
                    let aud = if pod_identity {
                        "pods.eks.amazonaws.com"
                    } else {
                        "sts.amazonaws.com"
                    };
                    let mut body =
                        json!({"namespace": a.namespace, "serviceAccount": sa, "audiences": [aud]});
                    if pod_identity {
                        body["pod"] = json!(a.pod);
                    }
                    let v = c
                        .json(
                            Method::POST,
                            &format!("/_podiam/clusters/{cluster}/token"),
                            Some(body),
                        )
                        .await?;
                    v["token"].as_str().unwrap_or_default().to_string()
                }
                _ => bail!("pass --token-file, or --cluster with --service-account"),
            };
            if !pod_identity && a.role_arn.is_none() {
                bail!("--role-arn is required for sts:AssumeRoleWithWebIdentity");
            }
            let mut body = json!({
                "token": token.trim(),
                "action": a.action,
                "roleArn": a.role_arn.clone().unwrap_or_default(),
            });
            if let Some(d) = a.duration_seconds {
                body["durationSeconds"] = json!(d);
            }
            if let Some(cl) = &a.cluster {
                body["cluster"] = json!(cl);
            }
            let v = c
                .json(Method::POST, "/_podiam/explain/assume", Some(body))
                .await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", render(&v));
            }
            Ok(if v["allowed"].as_bool() == Some(true) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
