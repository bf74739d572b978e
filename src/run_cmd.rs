//! `podiam run`: run a command as a pod would see it.
//!
//! The webhook's own mutation function is applied to a synthetic Pod for
//! the service account, so the child gets exactly the IRSA or Pod Identity
//! environment the webhook would inject. The projected token is minted into
//! a private temp file and re-minted at 80% of its lifetime, like the
//! kubelet. For Pod Identity an agent runs in-process on loopback. The
//! child sees only what a pod would, plus the endpoint variables: no admin
//! credentials, no AWS profile.

use crate::client::{Client, ClientArgs, resolve_credentials};
use anyhow::{Context, bail};
use axum::serve::ListenerExt;
use http::Method;
use podiam_agent::upstream::HttpUpstream;
use podiam_agent::{Agent, AgentConfig};
use podiam_webhook::{Associations, Json, ServiceAccountInfo, SystemRandom, WebhookConfig, mutate};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `podiam run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Cluster.
    #[arg(long)]
    cluster: String,
    /// Namespace.
    #[arg(long, short = 'n', default_value = "default")]
    namespace: String,
    /// Service account.
    #[arg(long)]
    service_account: String,
    /// Pod name (default: podiam-run-PID).
    #[arg(long)]
    pod: Option<String>,
    /// Print what would be injected, and why, instead of running.
    #[arg(long)]
    print_env: bool,
    /// With --print-env: print JSON.
    #[arg(long)]
    json: bool,
    /// Token lifetime override (seconds). Below 600 requires --insecure-short-token-lifetime.
    #[arg(long)]
    token_expiration: Option<i64>,
    /// Allow token lifetimes below kube-apiserver's 600 s floor (testing refresh).
    #[arg(long)]
    insecure_short_token_lifetime: bool,
    #[command(flatten)]
    client: ClientArgs,
    /// The command and its arguments.
    #[arg(last = true)]
    command: Vec<String>,
}

/// What the webhook injected, resolved for this machine.
struct Plan {
    env: BTreeMap<String, String>,
    reason: String,
    mode: Option<podiam_webhook::Mode>,
    /// (file path, audience, lifetime) of the projected token.
    token: Option<(PathBuf, String, i64)>,
}

fn synthetic_pod(pod: &str, namespace: &str, sa: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod, "namespace": namespace},
        "spec": {"serviceAccountName": sa, "containers": [{"name": "app", "image": "podiam-run"}]},
    })
}

async fn plan(
    c: &Client,
    a: &RunArgs,
    pod: &str,
    dir: &Path,
    agent_uri: Option<&str>,
) -> anyhow::Result<Plan> {
    let sa_path = format!(
        "/_podiam/clusters/{}/namespaces/{}/serviceaccounts/{}",
        a.cluster, a.namespace, a.service_account
    );
    let sa = c
        .json(Method::GET, &sa_path, None)
        .await
        .ok()
        .map(|v| ServiceAccountInfo {
            namespace: a.namespace.clone(),
            name: a.service_account.clone(),
            annotations: v["metadata"]["annotations"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
        });
    let mut associations = Associations::new();
    for item in c
        .associations_of(&a.cluster, &a.namespace, &a.service_account)
        .await?
    {
        if let (Some(ns), Some(s)) = (item["namespace"].as_str(), item["serviceAccount"].as_str()) {
            associations.insert(ns, s);
        }
    }
    let mut config = WebhookConfig {
        aws_default_region: a.client.region.clone(),
        sts_regional_endpoint: true,
        // Mount the token volumes into the private temp directory.
        token_mount_path: dir
            .join("eks.amazonaws.com/serviceaccount")
            .display()
            .to_string(),
        ..WebhookConfig::default()
    };
    config.container_credentials.mount_path = dir
        .join("pods.eks.amazonaws.com/serviceaccount")
        .display()
        .to_string();
    if let Some(uri) = agent_uri {
        config.container_credentials.full_uri = uri.to_string();
    }
    if let Some(e) = a.token_expiration {
        config.token_expiration = e.max(600);
    }
    let pod_json = synthetic_pod(pod, &a.namespace, &a.service_account);
    let m = mutate(
        &Json::from_value(&pod_json),
        &a.namespace,
        sa.as_ref(),
        &associations,
        &config,
        &mut SystemRandom::default(),
    );
    let patched = m.apply(&pod_json).map_err(|e| anyhow::anyhow!(e))?;
    let mut env = BTreeMap::new();
    for e in patched["spec"]["containers"][0]["env"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let (Some(k), Some(v)) = (e["name"].as_str(), e["value"].as_str()) {
            env.insert(k.to_string(), v.to_string());
        }
    }
    let mut token = None;
    for vol in patched["spec"]["volumes"].as_array().into_iter().flatten() {
        let Some(sat) = vol["projected"]["sources"][0]["serviceAccountToken"].as_object() else {
            continue;
        };
        let name = vol["name"].as_str().unwrap_or_default();
        let mount = patched["spec"]["containers"][0]["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["name"].as_str() == Some(name))
            .and_then(|m| m["mountPath"].as_str())
            .unwrap_or_default()
            .to_string();
        let path =
            PathBuf::from(mount).join(sat.get("path").and_then(Value::as_str).unwrap_or("token"));
        let audience = sat
            .get("audience")
            .and_then(Value::as_str)
            .unwrap_or("sts.amazonaws.com")
            .to_string();
        let mut lifetime = sat
            .get("expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(3600);
        if let Some(e) = a.token_expiration {
            lifetime = e;
        }
        token = Some((path, audience, lifetime));
    }
    Ok(Plan {
        env,
        reason: m.reason.clone(),
        mode: m.mode,
        token,
    })
}

async fn mint(
    c: &Client,
    a: &RunArgs,
    pod: &str,
    audience: &str,
    lifetime: i64,
) -> anyhow::Result<String> {
    let v = c
        .json(
            Method::POST,
            &format!("/_podiam/clusters/{}/token", a.cluster),
            Some(json!({
                "namespace": a.namespace,
                "serviceAccount": a.service_account,
                "audiences": [audience],
                "expirationSeconds": lifetime,
                "pod": pod,
                "insecureShortLifetime": a.insecure_short_token_lifetime,
            })),
        )
        .await?;
    v["token"]
        .as_str()
        .map(str::to_string)
        .context("the server returned no token")
}

/// Writes the token as the kubelet does: atomically, owner-only.
fn write_token(path: &Path, token: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::server::write_private(path, token.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Runs `podiam run`.
pub async fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    if a.command.is_empty() && !a.print_env {
        bail!("nothing to run: podiam run … -- COMMAND [ARGS]");
    }
    if a.token_expiration.is_some_and(|e| e < 600) && !a.insecure_short_token_lifetime {
        bail!("--token-expiration below 600 s needs --insecure-short-token-lifetime");
    }
    let c = Arc::new(Client::new(&a.client)?);
    let pod = a
        .pod
        .clone()
        .unwrap_or_else(|| format!("podiam-run-{}", std::process::id()));
    let dir = tempfile::Builder::new().prefix("podiam-run-").tempdir()?;
    // The agent only matters for Pod Identity, but its address must be known
    // before the mutation; binding a loopback port is cheap.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let agent_uri = format!("http://{}/v1/credentials", listener.local_addr()?);
    let plan = plan(&c, &a, &pod, dir.path(), Some(&agent_uri)).await?;
    let mut child_env = plan.env.clone();
    child_env.insert("AWS_ENDPOINT_URL".into(), a.client.endpoint.clone());
    // aws-sdk-go-v2 builds the web-identity provider's STS client before it
    // reads AWS_ENDPOINT_URL: without the STS-specific variable, a Go program
    // would send the pod's token to AWS's own STS.
    child_env.insert("AWS_ENDPOINT_URL_STS".into(), a.client.endpoint.clone());
    if child_env.contains_key("AWS_ROLE_ARN") {
        // The aws CLI caches web-identity sessions in ~/.aws/cli/cache, keyed
        // without the generated session name: a session cached from another
        // podiam (another sealing key) would be reused and refused. A session
        // name of our own makes the key unique per run, and names the pod.
        let mut rnd = [0u8; 4];
        podiam_core::Random::fill(&podiam_core::SystemRandom, &mut rnd);
        let suffix: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
        let mut name = format!("{pod}-{suffix}");
        name.retain(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        name.truncate(64);
        child_env.insert("AWS_ROLE_SESSION_NAME".into(), name);
    }
    // A pod has no shared config or credentials file: keep the SDK from
    // finding the developer's, and from probing a cloud metadata service.
    for (k, v) in [
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        child_env.insert(k.into(), v.into());
    }
    if a.print_env {
        if a.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "mode": plan.mode.map(|m| m.metric_label()),
                    "reason": plan.reason,
                    "env": child_env,
                    "token": plan.token.as_ref().map(|(p, aud, l)| json!({"path": p, "audience": aud, "expirationSeconds": l})),
                }))?
            );
        } else {
            println!("# {}", plan.reason);
            for (k, v) in &child_env {
                println!("{k}={v}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some((token_path, audience, lifetime)) = plan.token.clone() else {
        bail!(
            "{} — nothing to inject; annotate the service account or create an association",
            plan.reason
        );
    };
    write_token(&token_path, &mint(&c, &a, &pod, &audience, lifetime).await?)?;
    // The kubelet re-mints at 80% of the lifetime.
    let refresher = {
        let (c, token_path, audience, pod) =
            (c.clone(), token_path.clone(), audience.clone(), pod.clone());
        let a2 = a.clone_for_refresh();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis((lifetime.max(1) as u64) * 800)).await;
                match mint(&c, &a2, &pod, &audience, lifetime)
                    .await
                    .and_then(|t| write_token(&token_path, &t))
                {
                    Ok(()) => tracing::debug!("refreshed the projected token"),
                    Err(e) => {
                        tracing::warn!(error = %e, "token refresh failed; keeping the old token")
                    }
                }
            }
        })
    };
    let agent_task = if plan.mode == Some(podiam_webhook::Mode::ContainerCredentials) {
        let creds = resolve_credentials(&a.client)?;
        let upstream = Arc::new(
            HttpUpstream::new(&a.client.endpoint, &a.cluster, &a.client.region, creds)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        let agent = Agent::new(
            AgentConfig {
                allowed_hosts: vec!["127.0.0.1".into()],
                ..AgentConfig::default()
            },
            upstream,
            Arc::new(podiam_core::SystemClock),
        );
        let router = agent.router();
        Some(tokio::spawn(async move {
            axum::serve(
                listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                }),
                router,
            )
            .await
        }))
    } else {
        drop(listener);
        None
    };
    let status = spawn_and_wait(&a.command, &child_env).await;
    refresher.abort();
    if let Some(t) = agent_task {
        t.abort();
    }
    drop(dir);
    status
}

impl RunArgs {
    fn clone_for_refresh(&self) -> RunArgs {
        RunArgs {
            cluster: self.cluster.clone(),
            namespace: self.namespace.clone(),
            service_account: self.service_account.clone(),
            pod: self.pod.clone(),
            print_env: false,
            json: false,
            token_expiration: self.token_expiration,
            insecure_short_token_lifetime: self.insecure_short_token_lifetime,
            client: self.client.clone(),
            command: vec![],
        }
    }
}

/// Variables a pod would not have: they are removed from the child's
/// environment so the admin's credentials and profile never leak in.
fn is_host_only(key: &str) -> bool {
    key.starts_with("AWS_") || key.starts_with("PODIAM_")
}

async fn spawn_and_wait(
    command: &[String],
    injected: &BTreeMap<String, String>,
) -> anyhow::Result<ExitCode> {
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..]);
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(is_host_only) {
            cmd.env_remove(&k);
        }
    }
    cmd.envs(injected);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", command[0]))?;
    let pid = child.id();
    let forward = tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        loop {
            let sig = tokio::select! {
                _ = int.recv() => nix::sys::signal::Signal::SIGINT,
                _ = term.recv() => nix::sys::signal::Signal::SIGTERM,
                _ = hup.recv() => nix::sys::signal::Signal::SIGHUP,
            };
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
            }
        }
    });
    let status = child.wait().await?;
    forward.abort();
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
