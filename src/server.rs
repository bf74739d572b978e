//! `podiam serve`: every service on one port.
//!
//! Requests are routed by what they are: unsigned GETs of a cluster's issuer
//! documents; SigV4-signed requests by the service in their credential scope
//! (`iam`, `sts`, `eks`, `s3`); virtual-hosted (`bucket.localhost`) requests
//! to S3; unsigned query-protocol requests only for STS's unauthenticated
//! `AssumeRoleWithWebIdentity`, and every other unsigned request to S3
//! (anonymous access, decided by bucket policies).

use anyhow::Context;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use http::{HeaderValue, Method, StatusCode, header};
use podiam_auth::audit::AuditSink;
use podiam_auth::pipeline::{Input, Service, refuse, run};
use podiam_auth::{Config, RequestMeta, Services, signing_service};
use podiam_core::error::Protocol;
use podiam_core::ids::{IdKind, request_id, s3_request_id, secret_access_key, unique_id};
use podiam_core::{AwsError, SystemClock, SystemRandom};
use podiam_dynamodb::engine::ValidationLayer;
use podiam_eks::{ClusterFetcher, IssuerDocument, issuer_document};
use podiam_oidc::{HttpFetcher, HttpFetcherConfig, JwksFetcher};
use podiam_store::{AccessKey, Cluster, MasterKey, Op, SealingKeyRecord, Store};
use podiam_sts::Sts;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Settings of `podiam serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "PODIAM_LISTEN", default_value = "127.0.0.1:4599")]
    pub listen: SocketAddr,
    /// Data directory (SQLite, admin credentials, S3 objects, audit log).
    #[arg(long, env = "PODIAM_DATA_DIR", default_value = "./podiam-data")]
    pub data_dir: PathBuf,
    /// Account id.
    #[arg(long, env = "PODIAM_ACCOUNT", default_value = "000000000000")]
    pub account: String,
    /// Region reported in ARNs.
    #[arg(long, env = "PODIAM_REGION", default_value = "us-east-1")]
    pub region: String,
    /// The URL clients and issuers use to reach this server (default http://LISTEN).
    #[arg(long, env = "PODIAM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Audit log: `file` (DATA_DIR/audit.log, rotated at 64 MiB), `stdout` or `none`.
    #[arg(long, env = "PODIAM_AUDIT", default_value = "file", value_parser = ["file", "stdout", "none"])]
    pub audit: String,
    /// Store: a `postgres://user:pass@host:port/db` URL shared by any
    /// number of replicas (default: SQLite at DATA_DIR/podiam.db).
    #[arg(long, env = "PODIAM_STORE")]
    pub store: Option<String>,
    /// The master key (32 random bytes, base64 or hex) that encrypts signing
    /// keys, sealing keys and access keys in the store. The key itself can
    /// be given in PODIAM_MASTER_KEY instead. Required with PostgreSQL (all
    /// replicas need the same key); with SQLite it defaults to
    /// DATA_DIR/master-key, created on first start.
    #[arg(long, env = "PODIAM_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Another master key, only used to read secrets sealed under it
    /// (repeatable). Rotating the master key: (1) restart every replica
    /// with the new key here, (2) restart every replica with the new key as
    /// --master-key-file and the old one here (secrets are re-sealed under
    /// the new key at start), (3) drop the old key.
    #[arg(long, env = "PODIAM_READ_MASTER_KEY_FILE", value_delimiter = ',')]
    pub read_master_key_file: Vec<PathBuf>,
    /// Start sealing new sessions with a fresh key this often (`24h`,
    /// `90m`, `0` = never). Older keys keep opening the sessions they
    /// sealed until those expire, then are dropped.
    #[arg(long, env = "PODIAM_SEALING_KEY_ROTATION", value_parser = crate::parse_seconds, default_value = "24h")]
    pub sealing_key_rotation: i64,
    /// INSECURE: fetch external issuers' discovery documents and JWKS over
    /// plain http from any host (default: https, or http only to loopback).
    /// Anyone on the path can then swap the keys and mint accepted tokens.
    #[arg(long, env = "PODIAM_INSECURE_ALLOW_HTTP_ISSUERS")]
    pub insecure_allow_http_issuers: bool,
    /// Which of DynamoDB's request-validation layers words ValidationException
    /// messages: `older` (what the public conformance suite recorded from
    /// us-east-1) or `current` (the newer layer most regions run since
    /// 2026-09). Error types and what is refused are the same in both.
    #[arg(long, env = "PODIAM_DYNAMODB_VALIDATION_LAYER", default_value = "older", value_parser = ["older", "current"])]
    pub dynamodb_validation_layer: String,
    /// DynamoDB on a DynamoDB-compatible endpoint that replicas share
    /// (ScyllaDB Alternator, DynamoDB Local, a dynoxide server, DynamoDB)
    /// instead of the embedded engine. podiam decides every call, then sends
    /// it there signed with the backend's key; the backend holds this
    /// server's account and region.
    #[arg(long, env = "PODIAM_DYNAMODB_BACKEND", value_name = "URL")]
    pub dynamodb_backend: Option<String>,
    /// The backend's key: an aws shared-credentials file (profile
    /// `default`). Default: PODIAM_DYNAMODB_BACKEND_ACCESS_KEY_ID and
    /// PODIAM_DYNAMODB_BACKEND_SECRET_ACCESS_KEY.
    #[arg(long, env = "PODIAM_DYNAMODB_BACKEND_CREDENTIALS", value_name = "FILE")]
    pub dynamodb_backend_credentials: Option<PathBuf>,
    /// The region the backend's signatures name (default: --region).
    #[arg(long, env = "PODIAM_DYNAMODB_BACKEND_REGION")]
    pub dynamodb_backend_region: Option<String>,
    /// Where S3 objects live: `fs` (under DATA_DIR/s3, this replica only),
    /// or the URL of an S3-compatible store that replicas share (Garage,
    /// MinIO, Ceph RGW). podiam decides every request, then performs it
    /// there with the backend's key; podiam bucket `b` is backend bucket
    /// `b`, and bucket records (owner, policy, tags) stay in podiam's store.
    #[arg(
        long,
        env = "PODIAM_S3_BACKEND",
        value_name = "fs|URL",
        default_value = "fs"
    )]
    pub s3_backend: String,
    /// The S3 backend's key: an aws shared-credentials file (profile
    /// `default`). Default: PODIAM_S3_BACKEND_ACCESS_KEY_ID and
    /// PODIAM_S3_BACKEND_SECRET_ACCESS_KEY.
    #[arg(long, env = "PODIAM_S3_BACKEND_CREDENTIALS", value_name = "FILE")]
    pub s3_backend_credentials: Option<PathBuf>,
    /// The region the S3 backend's signatures name (default: --region;
    /// Garage's is its `s3_region`).
    #[arg(long, env = "PODIAM_S3_BACKEND_REGION")]
    pub s3_backend_region: Option<String>,
}

/// Everything a request handler needs.
pub struct App {
    svc: Services,
    iam: podiam_iam::Iam,
    sts: Arc<Sts>,
    eks: podiam_eks::Eks,
    eks_auth: podiam_eks::EksAuth,
    admin: podiam_admin::Admin,
    s3: Arc<podiam_s3::S3>,
    dynamodb: Arc<podiam_dynamodb::DynamoDb>,
    metrics: prometheus_client::registry::Registry,
}

impl App {
    /// Every service on a ready context, with its S3 and DynamoDB data planes.
    pub fn new(
        svc: Services,
        http: HttpFetcherConfig,
        s3: podiam_s3::S3,
        dynamodb: podiam_dynamodb::DynamoDb,
    ) -> anyhow::Result<App> {
        let http: Arc<dyn JwksFetcher> = Arc::new(HttpFetcher::new(http)?);
        let fetcher = Arc::new(ClusterFetcher::new(
            svc.store.clone(),
            svc.clock.clone(),
            svc.config.account.clone(),
            http,
        ));
        let s3 = Arc::new(s3);
        let sts = Arc::new(Sts::new(fetcher));
        let dynamodb = Arc::new(dynamodb);
        Ok(App {
            dynamodb: dynamodb.clone(),
            metrics: crate::serve_metrics::registry(&svc, sts.clone()),
            svc,
            iam: podiam_iam::Iam::default(),
            eks: podiam_eks::Eks::default(),
            eks_auth: podiam_eks::EksAuth::default(),
            admin: podiam_admin::Admin::new(sts.clone(), s3.clone(), dynamodb.clone()),
            sts,
            s3,
        })
    }
}

/// The HTTP front of `app`: everything is routed by [`dispatch`].
pub fn router(app: Arc<App>) -> Router {
    Router::new().fallback(dispatch).with_state(app)
}

/// A bound, ready server.
pub struct Server {
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    /// The address actually bound.
    pub addr: SocketAddr,
}

impl Server {
    /// Opens the store, bootstraps the account's admin key and binds.
    pub async fn bind(cfg: ServeConfig) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&cfg.data_dir)?;
        let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let public_url = cfg
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let postgres = match cfg.store.as_deref().filter(|s| !s.is_empty()) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Some(url)
            }
            Some(other) => anyhow::bail!("--store: expected a postgres:// URL, got {other:?}"),
            None => None,
        };
        let master = master_key(&cfg, postgres.is_some())?;
        let mut store = match postgres {
            Some(url) => Store::open_postgres(url).await?,
            None => Store::open_sqlite(&cfg.data_dir.join("podiam.db")).await?,
        }
        .with_master_key(master);
        for path in &cfg.read_master_key_file {
            store = store.with_read_master_key(read_key_file(path)?);
        }
        store.check_master_key()?;
        seal_secrets(&store).await?;
        let store = Arc::new(store);
        let mut svc = Services::new(
            store.clone(),
            Arc::new(SystemClock),
            Arc::new(SystemRandom),
            Config {
                account: cfg.account.clone(),
                region: cfg.region.clone(),
                public_url,
            },
        )
        .await?;
        svc.set_audit_sink(match cfg.audit.as_str() {
            "stdout" => AuditSink::Stdout,
            "none" => AuditSink::None,
            _ => AuditSink::File {
                path: cfg.data_dir.join("audit.log"),
                max_bytes: 64 * 1024 * 1024,
            },
        });
        bootstrap_admin(&svc, &cfg.data_dir).await?;
        if store.backend_kind() == podiam_store::BackendKind::Postgres {
            spawn_replica_refresh(store.clone());
        }
        if cfg.insecure_allow_http_issuers {
            tracing::warn!(
                "INSECURE: --insecure-allow-http-issuers is on: issuer keys are fetched over plain http \
                 from any host, so anyone on the network path can mint tokens STS accepts"
            );
        }
        let http = HttpFetcherConfig {
            insecure_allow_http: cfg.insecure_allow_http_issuers,
            ..HttpFetcherConfig::default()
        };
        match cfg.dynamodb_validation_layer.as_str() {
            "current" => ValidationLayer::Current,
            _ => ValidationLayer::Older,
        }
        .install();
        let dynamodb = match &cfg.dynamodb_backend {
            Some(url) => {
                let creds = backend_credentials(
                    cfg.dynamodb_backend_credentials.as_deref(),
                    "PODIAM_DYNAMODB_BACKEND",
                )?;
                let region = cfg.dynamodb_backend_region.as_ref().unwrap_or(&cfg.region);
                let remote = podiam_dynamodb::remote::Remote::new(url, region, creds)?;
                tracing::info!(backend = %url, "DynamoDB tables live on the backend");
                podiam_dynamodb::DynamoDb::with_backend(remote, &cfg.account, &cfg.region)?
            }
            None => podiam_dynamodb::DynamoDb::open(&cfg.data_dir)?,
        };
        let mut s3 = podiam_s3::S3::open(&cfg.data_dir, &svc.config)?;
        if cfg.s3_backend != "fs" {
            let creds =
                backend_credentials(cfg.s3_backend_credentials.as_deref(), "PODIAM_S3_BACKEND")?;
            let region = cfg.s3_backend_region.as_ref().unwrap_or(&cfg.region);
            let backend = podiam_s3::backend::Backend::new(&cfg.s3_backend, region, creds)
                .map_err(anyhow::Error::msg)?;
            tracing::info!(backend = %cfg.s3_backend, "S3 objects live on the backend store");
            s3 = s3.with_backend(backend);
        }
        let app = Arc::new(App::new(svc, http, s3, dynamodb)?);
        spawn_sealing_rotation(app.clone(), cfg.sealing_key_rotation);
        spawn_ttl_sweep(app.clone());
        Ok(Server {
            listener,
            app,
            addr,
        })
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let app = self.app.clone();
        let router = router(self.app);
        axum::serve(
            // Responses are written in pieces (headers, then body); without
            // TCP_NODELAY, Nagle's algorithm and delayed ACKs stall each
            // keep-alive response by ~40 ms.
            self.listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            }),
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        // Background tasks keep the app alive: write the audit buffer now.
        app.svc.audit_log.flush();
        Ok(())
    }
}

/// The master key: `--master-key-file`, else `PODIAM_MASTER_KEY`, else (for
/// SQLite only) DATA_DIR/master-key, created on first start.
fn master_key(cfg: &ServeConfig, postgres: bool) -> anyhow::Result<MasterKey> {
    if let Some(path) = &cfg.master_key_file {
        return read_key_file(path);
    }
    if let Ok(text) = std::env::var("PODIAM_MASTER_KEY") {
        return MasterKey::parse(&text).context("PODIAM_MASTER_KEY");
    }
    if postgres {
        anyhow::bail!(
            "replicas sharing a PostgreSQL store need one master key: pass the same --master-key-file \
             (or PODIAM_MASTER_KEY) to each; create it with `head -c 32 /dev/urandom | base64 > master.key`"
        );
    }
    let path = cfg.data_dir.join("master-key");
    if path.exists() {
        return read_key_file(&path);
    }
    let (key, text) = MasterKey::generate();
    write_private(&path, format!("{text}\n").as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        key_id = key.id(),
        "created the master key that encrypts the store's secrets: keep a copy (without it they cannot be read), \
         and for real protection keep it off the data volume (--master-key-file)"
    );
    Ok(key)
}

/// Re-seals secrets stored in plain text or under a read-only master key
/// (see [`Store::seal_secrets`]).
async fn seal_secrets(store: &Store) -> Result<(), podiam_store::StoreError> {
    let n = store.seal_secrets::<AccessKey>().await?
        + store.seal_secrets::<SealingKeyRecord>().await?
        + store.seal_secrets::<Cluster>().await?
        + store.seal_secrets::<podiam_store::ConsoleSession>().await?;
    if n > 0 {
        tracing::warn!(
            documents = n,
            "sealed secrets stored in plain text or under a previous master key"
        );
    }
    Ok(())
}

/// A master key file (warning when others may read it).
fn read_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the master key {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "the master key file is readable by other users");
        }
    }
    MasterKey::parse(&text).with_context(|| format!("master key {}", path.display()))
}

/// Other replicas sharing the database write behind this one's cache:
/// pull their changes four times a second (one indexed range query when
/// idle), so a change on any replica is in force everywhere within 1 s.
fn spawn_replica_refresh(store: Arc<Store>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut log = FailureLog::new(
            "store unreachable: serving reads from cache, refusing writes with ServiceUnavailable",
        );
        loop {
            tick.tick().await;
            log.record(store.refresh().await.map(drop));
        }
    });
}

/// Rotates session-sealing keys every `interval` seconds (0: never) and
/// picks up keys other replicas created (see
/// [`Services::maintain_sealing_keys`]); every 10 s re-seals secrets that a
/// replica still on a previous master key wrote during a master-key rotation.
fn spawn_sealing_rotation(app: Arc<App>, interval: i64) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut log = FailureLog::new("session-sealing key rotation failing");
        let mut reseal = FailureLog::new("re-sealing secrets under the master key failing");
        for n in 0u64.. {
            tick.tick().await;
            log.record(app.svc.maintain_sealing_keys(interval).await);
            if n % 10 == 0 {
                reseal.record(seal_secrets(&app.svc.store).await);
            }
        }
    });
}

/// Deletes DynamoDB items whose TTL has passed, once a minute (DynamoDB
/// itself takes up to a few days).
fn spawn_ttl_sweep(app: Arc<App>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let engine = app.dynamodb.engine().clone();
            // The sweep is synchronous SQLite work.
            let _ = tokio::task::spawn_blocking(move || engine.sweep_ttl()).await;
        }
    });
}

/// Logs a background task's failures once when they start and once when
/// they stop: an outage would otherwise log several lines a second.
struct FailureLog {
    what: &'static str,
    since: Option<std::time::Instant>,
}

impl FailureLog {
    fn new(what: &'static str) -> Self {
        Self { what, since: None }
    }

    fn record<E: std::fmt::Display>(&mut self, r: Result<(), E>) {
        match (r, self.since) {
            (Ok(()), Some(t)) => {
                tracing::warn!(
                    after_secs = t.elapsed().as_secs_f64(),
                    "recovered: {}",
                    self.what
                );
                self.since = None;
            }
            (Err(e), None) => {
                tracing::error!(error = %e, "{}", self.what);
                self.since = Some(std::time::Instant::now());
            }
            _ => {}
        }
    }
}

/// Creates the account's admin key on first start and writes it to
/// A backend's key: profile `default` of `file`, else `<PREFIX>_ACCESS_KEY_ID`
/// and `<PREFIX>_SECRET_ACCESS_KEY` (and `_SESSION_TOKEN`) from the environment.
fn backend_credentials(
    file: Option<&Path>,
    prefix: &str,
) -> anyhow::Result<podiam_sigv4::Credentials> {
    if let Some(f) = file {
        return crate::client::read_credentials_file(f, "default")
            .with_context(|| format!("reading the backend's key from {}", f.display()));
    }
    let var = |name: &str| std::env::var(format!("{prefix}_{name}")).ok();
    match (var("ACCESS_KEY_ID"), var("SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(podiam_sigv4::Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: var("SESSION_TOKEN"),
        }),
        _ => anyhow::bail!(
            "the backend needs a key: a credentials file, or {prefix}_ACCESS_KEY_ID and \
             {prefix}_SECRET_ACCESS_KEY"
        ),
    }
}

/// `DIR/admin-credentials` (aws shared-credentials format, mode 0600).
async fn bootstrap_admin(svc: &Services, dir: &Path) -> anyhow::Result<()> {
    let path = dir.join("admin-credentials");
    let existing = svc
        .store
        .list::<AccessKey>("")?
        .into_iter()
        .find(|k| k.account == svc.config.account && k.principal_arn.ends_with(":root"));
    let (key, created) = match existing {
        Some(k) => ((*k.value).clone(), false),
        None => {
            let rng = svc.rng.as_ref();
            let k = AccessKey {
                access_key_id: unique_id(rng, IdKind::AccessKey),
                secret_access_key: secret_access_key(rng),
                account: svc.config.account.clone(),
                principal_arn: format!("arn:aws:iam::{}:root", svc.config.account),
                active: true,
                created_at: svc.now(),
            };
            svc.store
                .write(vec![Op::create("", &k.access_key_id, &k)])
                .await?;
            (k, true)
        }
    };
    if created || !path.exists() {
        let body = format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key.access_key_id, key.secret_access_key
        );
        write_private(&path, body.as_bytes())?;
    }
    if created {
        println!(
            "podiam: created admin access key {} for account {} (secret in {})",
            key.access_key_id,
            svc.config.account,
            path.display()
        );
    }
    Ok(())
}

/// Writes a file readable only by its owner.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

const IAM: Protocol = Protocol::Query {
    namespace: podiam_iam::NAMESPACE,
};

async fn dispatch(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    // Unsigned issuer documents and health: not API calls, not audited.
    if req.method() == Method::GET && !req.headers().contains_key(header::AUTHORIZATION) {
        let path = req.uri().path();
        if path == "/healthz" || path == "/readyz" {
            return (StatusCode::OK, "ok").into_response();
        }
        if path == "/metrics" {
            let body = podiam_core::metrics::render(&app.metrics);
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(podiam_core::metrics::CONTENT_TYPE),
            );
            return r;
        }
        if let Some(r) = issuer_route(&app.svc, path) {
            return r;
        }
    }
    if podiam_console::owns(req.uri().path()) {
        let facts = podiam_auth::pipeline::RequestFacts {
            request_id: request_id(app.svc.rng.as_ref()),
            source_ip: peer.ip().to_string(),
            user_agent: user_agent(req.headers()),
        };
        let upstream = Upstream {
            app: app.clone(),
            peer,
        };
        return Box::pin(podiam_console::handle(&app.svc, req, facts, &upstream)).await;
    }
    let (parts, body) = req.into_parts();
    if parts.method == Method::OPTIONS
        && let Some(r) = podiam_dynamodb::cors::preflight(
            &parts.method,
            &parts.headers,
            &podiam_core::ids::dynamodb_request_id(app.svc.rng.as_ref()),
        )
    {
        return r;
    }
    let service = signing_service(&parts.headers, parts.uri.query());
    // S3 streams its bodies: it is routed before the query protocols' size cap.
    // DynamoDB's target header claims an unsigned request before S3 does.
    let dynamodb = podiam_dynamodb::DynamoDb::wants(&parts.headers, service.as_deref());
    let s3 = !dynamodb && app.s3.wants(&parts, service.as_deref());
    // One id per request, in the service's own format: the response's
    // request id header (and XML RequestId) and the audit line's requestID.
    let rng = app.svc.rng.as_ref();
    let rid = if s3 {
        s3_request_id(rng)
    } else if dynamodb {
        podiam_core::ids::dynamodb_request_id(rng)
    } else {
        request_id(rng)
    };
    let facts = podiam_auth::pipeline::RequestFacts {
        request_id: rid.clone(),
        source_ip: peer.ip().to_string(),
        user_agent: user_agent(&parts.headers),
    };
    let req = Request::from_parts(parts, body);
    podiam_auth::pipeline::audited(
        &app.svc,
        facts,
        route(app.clone(), peer, req, service, s3, rid),
    )
    .await
}

fn user_agent(headers: &http::HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The console's calls go through [`dispatch`] as if the browser had sent
/// them: same routing, authentication, decision and audit line.
struct Upstream {
    app: Arc<App>,
    peer: SocketAddr,
}

impl podiam_console::Upstream for Upstream {
    fn call(&self, req: Request) -> futures_util::future::BoxFuture<'static, Response> {
        Box::pin(dispatch(
            State(self.app.clone()),
            ConnectInfo(self.peer),
            req,
        ))
    }
}

/// Routes one API request (inside an audit scope).
async fn route(
    app: Arc<App>,
    peer: SocketAddr,
    req: Request,
    service: Option<String>,
    s3: bool,
    rid: String,
) -> Response {
    let rid = rid.as_str();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);

    let header_text = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let meta = RequestMeta {
        source_ip: Some(peer.ip().to_string()),
        secure_transport: false,
        user_agent: header_text(header::USER_AGENT),
        referer: header_text(header::REFERER),
    };
    if s3 {
        return Box::pin(
            app.s3
                .handle(&app.svc, Request::from_parts(parts, body), meta, rid),
        )
        .await;
    }
    let dynamodb = podiam_dynamodb::DynamoDb::wants(&parts.headers, service.as_deref());
    // The body cap is the service's; IAM and STS (told apart by the body's
    // Action) share the query protocol's.
    let limit = if dynamodb {
        <podiam_dynamodb::DynamoDb as Service>::MAX_BODY
    } else {
        <podiam_iam::Iam as Service>::MAX_BODY
    };
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        // DynamoDB answers an oversized body with a bare 413.
        Err(_) if dynamodb => {
            podiam_auth::audit::note_error("RequestEntityTooLarge", "");
            let mut r = podiam_dynamodb::error::json_response(413, String::new(), rid);
            r.headers_mut().remove(header::CONTENT_TYPE);
            return r;
        }
        Err(_) => {
            let e = AwsError::new(
                413,
                "RequestEntityTooLarge",
                format!("Request body exceeds {limit} bytes"),
            );
            return refuse(&e, &IAM, rid);
        }
    };
    let sts_unsigned = service.is_none() && {
        let action = action_of(query.as_deref(), &body);
        action.as_deref().is_some_and(|a| {
            podiam_sts::StsRequest::is_unauthenticated(a) || a == "GetCallerIdentity"
        })
    };
    let (svc, input) = (&app.svc, Input::Buffered(body));
    if path.starts_with("/_podiam/") {
        return Box::pin(run(svc, &app.admin, parts, input, &meta, rid)).await;
    }
    // The routing table: one line per service. Each service's future is
    // boxed: it is large (S3's is ~14 KiB) and would otherwise be copied
    // with every future that wraps it, on every request.
    match service.as_deref() {
        _ if dynamodb => {
            let origin = parts.headers.contains_key(header::ORIGIN);
            let mut r = Box::pin(run(svc, app.dynamodb.as_ref(), parts, input, &meta, rid)).await;
            podiam_dynamodb::cors::allow_origin(origin, &mut r);
            r
        }
        Some("eks-auth") => Box::pin(run(svc, &app.eks_auth, parts, input, &meta, rid)).await,
        Some("eks") => Box::pin(run(svc, &app.eks, parts, input, &meta, rid)).await,
        Some("sts") => Box::pin(run(svc, app.sts.as_ref(), parts, input, &meta, rid)).await,
        None if sts_unsigned => {
            Box::pin(run(svc, app.sts.as_ref(), parts, input, &meta, rid)).await
        }
        Some("iam") | None => Box::pin(run(svc, &app.iam, parts, input, &meta, rid)).await,
        Some(other) => {
            let e = AwsError::new(
                400,
                "UnrecognizedClientException",
                format!("podiam does not serve the '{other}' service on this endpoint"),
            );
            refuse(&e, &IAM, rid)
        }
    }
}

fn issuer_route(svc: &Services, path: &str) -> Option<Response> {
    let rest = path.strip_prefix("/clusters/")?;
    let (name, doc) = if let Some(n) = rest.strip_suffix("/.well-known/openid-configuration") {
        (n, IssuerDocument::Discovery)
    } else if let Some(n) = rest.strip_suffix("/openid/v1/jwks") {
        (n, IssuerDocument::Jwks)
    } else {
        return None;
    };
    if name.contains('/') {
        return None;
    }
    Some(
        match issuer_document(&svc.store, &svc.config.account, name, doc, svc.now()) {
            Ok(body) => {
                let ct = match doc {
                    IssuerDocument::Discovery => podiam_oidc::DISCOVERY_CONTENT_TYPE,
                    IssuerDocument::Jwks => podiam_oidc::JWKS_CONTENT_TYPE,
                };
                let mut r = (StatusCode::OK, body).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
                r.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(podiam_oidc::CACHE_CONTROL),
                );
                r
            }
            Err(_) => (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
        },
    )
}

/// The `Action` of a query-protocol request (URL query, then body), for
/// routing unsigned requests between STS and IAM.
fn action_of<'a>(query: Option<&'a str>, body: &'a [u8]) -> Option<std::borrow::Cow<'a, str>> {
    let find = |raw: &'a [u8]| {
        form_urlencoded::parse(raw)
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v)
    };
    find(query.unwrap_or_default().as_bytes()).or_else(|| find(body))
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
