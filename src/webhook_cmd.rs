//! `podiam webhook`: the mutating admission webhook server, and
//! `podiam webhook mutate` to run the same mutation offline.

use crate::client::{ClientArgs, resolve_credentials};
use anyhow::Context;
use podiam_webhook::associations::{AssociationStore, EksSource, watch_file};
use podiam_webhook::cache::ServiceAccountCache;
use podiam_webhook::config::{self, ComposeRoleArn, partition_for_region};
use podiam_webhook::json::parse_document;
use podiam_webhook::metrics::Metrics;
use podiam_webhook::review::{ParsedReview, review_response};
use podiam_webhook::server::{WebhookState, router, serve_tls};
use podiam_webhook::{
    AgentIpFamily, Associations, ContainerCredentialsConfig, Json, RandomSource,
    ServiceAccountInfo, SystemRandom, WebhookConfig, ZeroRandom, mutate,
};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `podiam webhook` arguments.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct WebhookArgs {
    #[command(subcommand)]
    command: Option<WebhookCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, clap::Subcommand)]
enum WebhookCommand {
    /// Run the mutation offline on a pod and print the AdmissionReview
    /// response (or the patched pod): "why wasn't my pod injected?".
    Mutate(Box<MutateArgs>),
}

/// The flags that shape the mutation (upstream's names).
#[derive(Debug, Clone, clap::Args)]
struct MutationFlags {
    /// The service account annotation prefix.
    #[arg(long, default_value = config::DEFAULT_ANNOTATION_PREFIX)]
    annotation_prefix: String,
    /// The default token audience (the SA annotation overrides it).
    #[arg(long, default_value = config::DEFAULT_TOKEN_AUDIENCE)]
    token_audience: String,
    /// Where the IRSA token is mounted.
    #[arg(long, default_value = config::DEFAULT_TOKEN_MOUNT_PATH)]
    token_mount_path: String,
    /// Default token lifetime in seconds; less than 600 (zero and negative
    /// values included) is raised to 600, as upstream does.
    #[arg(long, default_value_t = config::DEFAULT_TOKEN_EXPIRATION)]
    token_expiration: i64,
    /// If set, AWS_DEFAULT_REGION and AWS_REGION are injected with this value.
    #[arg(long, default_value = "")]
    aws_default_region: String,
    /// Inject AWS_STS_REGIONAL_ENDPOINTS=regional (the SA annotation overrides it).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    sts_regional_endpoint: bool,
    /// Treat role-arn annotations without "arn:" as role names in --aws-account-id.
    #[arg(long, requires = "aws_account_id")]
    compose_role_arn: bool,
    /// The account for --compose-role-arn (upstream reads it from IMDS).
    #[arg(long)]
    aws_account_id: Option<String>,
    /// The Pod Identity token audience.
    #[arg(long, default_value = config::DEFAULT_CC_AUDIENCE)]
    container_credentials_audience: String,
    /// Where the Pod Identity token is mounted.
    #[arg(long, default_value = config::DEFAULT_CC_MOUNT_PATH)]
    container_credentials_token_mount_path: String,
    /// The Pod Identity token volume name.
    #[arg(long, default_value = config::DEFAULT_CC_VOLUME_NAME)]
    container_credentials_token_volume_name: String,
    /// The Pod Identity token file name.
    #[arg(long, default_value = config::DEFAULT_CC_TOKEN_PATH)]
    container_credentials_token_path: String,
    /// AWS_CONTAINER_CREDENTIALS_FULL_URI.
    #[arg(long, default_value = config::DEFAULT_CC_FULL_URI)]
    container_credentials_full_uri: String,
    /// podiam: set spec.securityContext.fsGroup to GID on mutated pods that run
    /// as non-root and set none, so the token file is readable (upstream #8).
    #[arg(long, value_name = "GID")]
    non_root_fs_group: Option<i64>,
    /// podiam: the node agent's address family; ipv6 injects
    /// http://[fd00:ec2::23]/v1/credentials unless --container-credentials-full-uri is set.
    #[arg(long, default_value = "ipv4", value_parser = ["ipv4", "ipv6"])]
    agent_ip_family: String,
    /// podiam: also jitter the default 86400 s IRSA token lifetime (upstream: Pod Identity only).
    #[arg(long)]
    jitter_web_identity: bool,
}

impl MutationFlags {
    fn config(&self) -> anyhow::Result<WebhookConfig> {
        Ok(WebhookConfig {
            annotation_prefix: self.annotation_prefix.clone(),
            token_audience: self.token_audience.clone(),
            token_mount_path: self.token_mount_path.clone(),
            token_expiration: config::validate_min_token_expiration(self.token_expiration),
            aws_default_region: self.aws_default_region.clone(),
            sts_regional_endpoint: self.sts_regional_endpoint,
            compose_role_arn: match (self.compose_role_arn, &self.aws_account_id) {
                (true, Some(account)) => Some(ComposeRoleArn {
                    partition: partition_for_region(&self.aws_default_region).into(),
                    account_id: account.clone(),
                }),
                _ => None,
            },
            container_credentials: ContainerCredentialsConfig {
                audience: self.container_credentials_audience.clone(),
                mount_path: self.container_credentials_token_mount_path.clone(),
                volume_name: self.container_credentials_token_volume_name.clone(),
                token_path: self.container_credentials_token_path.clone(),
                full_uri: self.container_credentials_full_uri.clone(),
            },
            non_root_fs_group: self.non_root_fs_group,
            agent_ip_family: if self.agent_ip_family == "ipv6" {
                AgentIpFamily::Ipv6
            } else {
                AgentIpFamily::Ipv4
            },
            jitter_web_identity: self.jitter_web_identity,
        })
    }
}

/// `podiam webhook` (server) arguments.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// HTTPS port for /mutate, /healthz and /metrics.
    #[arg(long, default_value_t = 443)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Plain-HTTP port serving only /metrics (0: off).
    #[arg(long, default_value_t = 9999)]
    metrics_port: u16,
    /// TLS certificate (PEM), reloaded when it changes.
    #[arg(long, default_value = "/etc/webhook/certs/tls.crt")]
    tls_cert: PathBuf,
    /// TLS key (PEM), reloaded when it changes.
    #[arg(long, default_value = "/etc/webhook/certs/tls.key")]
    tls_key: PathBuf,
    /// How often to check the certificate files, in seconds.
    #[arg(long, default_value_t = 5)]
    cert_reload_interval: u64,
    /// Kubernetes API URL (default: in-cluster config or $KUBECONFIG).
    #[arg(long)]
    kube_api: Option<String>,
    /// Serve service accounts from this JSON/YAML file (a ServiceAccount, a
    /// list, or a ServiceAccountList) instead of watching the cluster.
    #[arg(long)]
    service_account_file: Option<PathBuf>,
    /// Upstream's Pod Identity config file ({"identities":[…]}), watched.
    #[arg(long)]
    watch_container_credentials_config: Option<PathBuf>,
    /// Read Pod Identity associations of this cluster from podiam's EKS API (--endpoint).
    #[arg(long)]
    cluster_name: Option<String>,
    /// How often to refresh associations from the EKS API, in seconds.
    #[arg(long, default_value_t = 30)]
    associations_refresh: u64,
    /// Serve POST /dry-run (returns the reason, the patch and the patched pod).
    #[arg(long)]
    enable_dry_run: bool,
    #[command(flatten)]
    mutation: MutationFlags,
    #[command(flatten)]
    client: ClientArgs,
}

/// `podiam webhook mutate` arguments.
#[derive(Debug, clap::Args)]
struct MutateArgs {
    /// The pod (JSON or YAML), or a whole AdmissionReview.
    #[arg(long)]
    pod: PathBuf,
    /// The pod's ServiceAccount (JSON or YAML). Without it the account counts as not found.
    #[arg(long)]
    service_account: Option<PathBuf>,
    /// Pod Identity associations in upstream's format ({"identities":[…]}).
    #[arg(long)]
    associations: Option<PathBuf>,
    /// The namespace the pod is created in (default: the pod's, else the
    /// service account's, else "default").
    #[arg(long, short = 'n')]
    namespace: Option<String>,
    /// Print the patched pod instead of the AdmissionReview response.
    #[arg(long)]
    patched: bool,
    /// Use zero for the token-lifetime jitter (reproducible output).
    #[arg(long)]
    no_jitter: bool,
    #[command(flatten)]
    mutation: MutationFlags,
}

/// Runs `podiam webhook …`.
pub async fn run(
    args: WebhookArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    match args.command {
        Some(WebhookCommand::Mutate(m)) => run_mutate(*m),
        None => run_server(args.serve, shutdown).await,
    }
}

fn read_doc(path: &PathBuf) -> anyhow::Result<Json> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_document(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn run_mutate(args: MutateArgs) -> anyhow::Result<()> {
    let config = args.mutation.config()?;
    let doc = read_doc(&args.pod)?;
    let sa = args
        .service_account
        .as_ref()
        .map(read_doc)
        .transpose()?
        .map(|d| ServiceAccountInfo::from_doc(&d));
    let associations = match &args.associations {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Associations::from_identities_json(&bytes)
                .with_context(|| format!("parsing {}", p.display()))?
        }
        None => Associations::new(),
    };
    let (mut review, pod) = if doc.str_of("kind") == "AdmissionReview" {
        let bytes = serde_json::to_vec(&doc)?;
        let r = podiam_webhook::review::parse_review(&bytes)
            .map_err(|e| anyhow::anyhow!("the AdmissionReview is unusable: {}", e.message))?;
        let pod = r.pod.clone();
        (r, pod)
    } else {
        let r = ParsedReview {
            api_version: "admission.k8s.io/v1".into(),
            kind: "AdmissionReview".into(),
            uid: "podiam-webhook-mutate".into(),
            namespace: String::new(),
            pod: doc.clone(),
        };
        (r, doc)
    };
    let pod_ns = pod
        .path(&["metadata", "namespace"])
        .and_then(Json::as_str)
        .unwrap_or("");
    review.namespace = args
        .namespace
        .clone()
        .or_else(|| (!review.namespace.is_empty()).then(|| review.namespace.clone()))
        .or_else(|| (!pod_ns.is_empty()).then(|| pod_ns.to_string()))
        .or_else(|| {
            sa.as_ref()
                .map(|s| s.namespace.clone())
                .filter(|n| !n.is_empty())
        })
        .unwrap_or_else(|| "default".into());
    let pod_sa = pod
        .path(&["spec", "serviceAccountName"])
        .and_then(Json::as_str)
        .unwrap_or("");
    if let Some(sa) = &sa {
        let sa_ns = if sa.namespace.is_empty() {
            &review.namespace
        } else {
            &sa.namespace
        };
        if sa.name != pod_sa || *sa_ns != review.namespace {
            eprintln!(
                "podiam: warning: the pod runs as {}/{pod_sa} but --service-account is {sa_ns}/{}",
                review.namespace, sa.name
            );
        }
    }
    let mut random: Box<dyn RandomSource> = if args.no_jitter {
        Box::new(ZeroRandom)
    } else {
        Box::new(SystemRandom::default())
    };
    let mutation = mutate(
        &pod,
        &review.namespace,
        sa.as_ref(),
        &associations,
        &config,
        random.as_mut(),
    );
    eprintln!("{}", mutation.reason);
    let out = if args.patched {
        let patched = mutation
            .apply(&pod.to_value())
            .map_err(|e| anyhow::anyhow!(e))?;
        serde_json::to_vec_pretty(&patched)?
    } else {
        review_response(&review, &mutation)
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = stdout
        .write_all(&out)
        .and_then(|()| stdout.write_all(b"\n"));
    Ok(())
}

async fn run_server(
    args: ServeArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = args.mutation.config()?;
    let (cache, watch) = match &args.service_account_file {
        Some(path) => {
            let doc = read_doc(path)?;
            let c = ServiceAccountCache::from_accounts(
                &config.annotation_prefix,
                ServiceAccountInfo::all_in(&doc),
            );
            eprintln!(
                "podiam webhook: {} service accounts from {}",
                c.len(),
                path.display()
            );
            (Arc::new(c), false)
        }
        None => {
            let client = podiam_webhook::cache::kube_client(args.kube_api.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}; pass --kube-api or --service-account-file"))?;
            (
                Arc::new(ServiceAccountCache::new(
                    &config.annotation_prefix,
                    Some(client),
                )),
                true,
            )
        }
    };
    let mut tasks = Vec::new();
    if watch {
        tasks.push(tokio::spawn(cache.clone().run_watcher()));
    }
    let associations = AssociationStore::new();
    if let Some(path) = &args.watch_container_credentials_config {
        tasks.push(tokio::spawn(watch_file(
            associations.clone(),
            path.clone(),
            Duration::from_secs(1),
        )));
    }
    if let Some(cluster) = &args.cluster_name {
        let source = EksSource {
            endpoint: args.client.endpoint.clone(),
            cluster: cluster.clone(),
            region: args.client.region.clone(),
            credentials: resolve_credentials(&args.client)?,
        };
        tasks.push(tokio::spawn(source.poll(
            associations.clone(),
            Duration::from_secs(args.associations_refresh.max(1)),
        )));
    }
    let metrics = Arc::new(Metrics::default());
    let state = Arc::new(WebhookState {
        config,
        cache,
        associations,
        metrics: metrics.clone(),
        random: Mutex::new(Box::new(SystemRandom::default())),
        dry_run: args.enable_dry_run,
    });
    let app = router(state.clone());
    if args.metrics_port != 0 {
        let addr = SocketAddr::new(args.bind, args.metrics_port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        eprintln!(
            "podiam webhook: metrics on http://{}/metrics",
            listener.local_addr()?
        );
        let metrics_app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let m = metrics.clone();
                async move { m.render() }
            }),
        );
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, metrics_app).await;
        }));
    }
    let server = serve_tls(
        SocketAddr::new(args.bind, args.port),
        app,
        &args.tls_cert,
        &args.tls_key,
        Duration::from_secs(args.cert_reload_interval.max(1)),
    )
    .await
    .with_context(|| {
        format!(
            "starting HTTPS with {} / {}",
            args.tls_cert.display(),
            args.tls_key.display()
        )
    })?;
    eprintln!("podiam webhook: listening on https://{}", server.addr);
    shutdown.await;
    eprintln!("podiam webhook: shutting down");
    for t in &tasks {
        t.abort();
    }
    server.shutdown().await?;
    Ok(())
}
