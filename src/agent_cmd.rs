//! `podiam agent`: the node agent.

use crate::client::{ClientArgs, resolve_credentials};
use axum::serve::ListenerExt;
use podiam_agent::upstream::HttpUpstream;
use podiam_agent::{Agent, AgentConfig, ImdsConfig, imds_router};
use podiam_core::SystemClock;
use std::net::SocketAddr;
use std::sync::Arc;

/// `podiam agent` arguments.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Where to serve /v1/credentials (repeatable). In a cluster:
    /// 169.254.170.23:80 and [fd00:ec2::23]:80.
    #[arg(long = "listen", required = true)]
    listen: Vec<SocketAddr>,
    /// Host names requests may use (default: the --listen hosts).
    #[arg(long = "allowed-host")]
    allowed_hosts: Vec<String>,
    /// The cluster this node belongs to.
    #[arg(long, env = "PODIAM_CLUSTER")]
    cluster_name: String,
    /// The node's instance role, served over IMDSv2 on --imds-listen.
    #[arg(long)]
    node_role: Option<String>,
    /// Where to serve IMDS (in a cluster: 169.254.169.254:80).
    #[arg(long, requires = "node_role")]
    imds_listen: Option<SocketAddr>,
    /// The instance id reported by IMDS (the node role's session name).
    #[arg(long, default_value = "i-0podiam000000000")]
    instance_id: String,
    /// Serve IMDSv1 (no session token). Insecure; off by default.
    #[arg(long)]
    insecure_imdsv1: bool,
    /// Requests per second before answering 429.
    #[arg(long, default_value_t = 1000.0)]
    rate_limit: f64,
    #[command(flatten)]
    client: ClientArgs,
}

/// Runs the agent until `shutdown`.
pub async fn run(
    args: AgentArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let creds = resolve_credentials(&args.client)?;
    let upstream = Arc::new(
        HttpUpstream::new(
            &args.client.endpoint,
            &args.cluster_name,
            &args.client.region,
            creds,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let allowed_hosts = if args.allowed_hosts.is_empty() {
        args.listen.iter().map(|a| a.ip().to_string()).collect()
    } else {
        args.allowed_hosts.clone()
    };
    let config = AgentConfig {
        allowed_hosts,
        rate_per_second: args.rate_limit,
        burst: (args.rate_limit / 2.0).max(1.0),
        ..Default::default()
    };
    let agent = Agent::new(config, upstream, Arc::new(SystemClock));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for addr in &args.listen {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        eprintln!(
            "podiam agent: listening on http://{}",
            listener.local_addr()?
        );
        let router = agent.router();
        tasks.push(spawn_server(listener, router, rx.clone()));
    }
    if let (Some(role), Some(addr)) = (args.node_role.clone(), args.imds_listen) {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        eprintln!("podiam agent: imds on http://{}", listener.local_addr()?);
        let router = imds_router(
            agent.clone(),
            ImdsConfig {
                role,
                instance_id: args.instance_id.clone(),
                region: args.client.region.clone(),
                insecure_allow_imdsv1: args.insecure_imdsv1,
            },
        );
        tasks.push(spawn_server(listener, router, rx.clone()));
    }
    shutdown.await;
    let _ = tx.send(true);
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Serves `router` on `listener` until `stop` turns true. TCP_NODELAY: see
/// `podiam serve` (keep-alive responses otherwise stall ~40 ms).
fn spawn_server(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        axum::serve(
            listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            }),
            router,
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stop| *stop).await;
        })
        .await
    })
}
