//! `podiam webhook`: the HTTPS server (`/mutate`, `/healthz`, `/metrics`, and
//! optionally `/dry-run`), with the certificate hot-reloaded when its files change.

use crate::associations::AssociationStore;
use crate::cache::{LookupSource, ServiceAccountCache};
use crate::config::WebhookConfig;
use crate::json::Json;
use crate::metrics::Metrics;
use crate::mutate::{Mode, RandomSource, mutate};
use crate::review::{error_response, parse_review, review_response};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_server::tls_rustls::RustlsConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Everything a request handler needs.
pub struct WebhookState {
    /// Mutation settings.
    pub config: WebhookConfig,
    /// Service accounts.
    pub cache: Arc<ServiceAccountCache>,
    /// Pod Identity associations.
    pub associations: Arc<AssociationStore>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Jitter source.
    pub random: Mutex<Box<dyn RandomSource>>,
    /// Serve `POST /dry-run`.
    pub dry_run: bool,
}

impl std::fmt::Debug for WebhookState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The outcome of one review, for the handler and the dry-run endpoint.
struct Reviewed {
    body: Vec<u8>,
    reason: String,
    patch: Option<Vec<u8>>,
    pod: Option<Json>,
}

impl WebhookState {
    async fn review(&self, body: &[u8]) -> Reviewed {
        let review = match parse_review(body) {
            Ok(r) => r,
            Err(e) => {
                self.metrics.review_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e.message, "cannot use the AdmissionReview; allowing the pod unmodified");
                return Reviewed {
                    body: error_response(&e),
                    reason: format!("not mutated: {}", e.message),
                    patch: None,
                    pod: None,
                };
            }
        };
        let sa_name = review.service_account().to_string();
        let (sa, source) = self.cache.lookup(&review.namespace, &sa_name).await;
        if sa.is_some() {
            self.metrics.used.store(1, Ordering::Relaxed);
        }
        let associations = self.associations.for_pair(&review.namespace, &sa_name);
        if source == LookupSource::Missing && associations.is_empty() {
            self.metrics.missing_sa.fetch_add(1, Ordering::Relaxed);
        }
        let mutation = match self.random.lock() {
            Ok(mut random) => mutate(
                &review.pod,
                &review.namespace,
                sa.as_ref(),
                &associations,
                &self.config,
                random.as_mut(),
            ),
            Err(_) => mutate(
                &review.pod,
                &review.namespace,
                sa.as_ref(),
                &associations,
                &self.config,
                &mut crate::mutate::SystemRandom::default(),
            ),
        };
        if let (Some(mode), Some(_)) = (mutation.mode, &mutation.patch) {
            self.metrics.pod(mode.metric_label());
        }
        let level_info = mutation.changed || mutation.mode == Some(Mode::ContainerCredentials);
        if level_info {
            tracing::info!(pod = review.pod_name(), namespace = %review.namespace, reason = %mutation.reason);
        } else {
            tracing::debug!(pod = review.pod_name(), namespace = %review.namespace, reason = %mutation.reason);
        }
        Reviewed {
            body: review_response(&review, &mutation),
            reason: mutation.reason.clone(),
            patch: mutation.patch_bytes(),
            pod: Some(review.pod),
        }
    }
}

/// Upstream compares the header with `application/json` exactly: a
/// charset parameter, or other casing, is refused with 415 there too.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json")
}

async fn mutate_handler(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_json(&headers) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Invalid Content-Type, expected `application/json`\n",
        )
            .into_response();
    }
    let r = state.review(&body).await;
    ([(header::CONTENT_TYPE, "application/json")], r.body).into_response()
}

/// `POST /dry-run`: takes an AdmissionReview or a bare Pod (then namespace from
/// the pod, default `default`) and returns the reason, the patch and the patched pod.
async fn dry_run_handler(State(state): State<Arc<WebhookState>>, body: Bytes) -> Response {
    let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&body);
    let review_body = match parsed {
        Ok(v)
            if v.get("kind").and_then(|k| k.as_str()) == Some("Pod") || v.get("spec").is_some() =>
        {
            let ns = v
                .pointer("/metadata/namespace")
                .and_then(|n| n.as_str())
                .unwrap_or("default");
            serde_json::json!({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "request": {"uid": "dry-run", "namespace": ns, "operation": "CREATE", "object": v}
            })
            .to_string()
            .into_bytes()
        }
        _ => body.to_vec(),
    };
    let r = state.review(&review_body).await;
    let patch: serde_json::Value = r
        .patch
        .as_deref()
        .and_then(|p| serde_json::from_slice(p).ok())
        .unwrap_or(serde_json::Value::Null);
    let patched = match (&r.pod, &r.patch) {
        (Some(pod), Some(p)) => {
            let mut doc = pod.to_value();
            serde_json::from_slice::<json_patch::Patch>(p)
                .ok()
                .and_then(|patch| json_patch::patch(&mut doc, &patch).ok())
                .map(|_| doc)
                .unwrap_or(serde_json::Value::Null)
        }
        (Some(pod), None) => pod.to_value(),
        _ => serde_json::Value::Null,
    };
    axum::Json(serde_json::json!({"reason": r.reason, "patch": patch, "pod": patched}))
        .into_response()
}

async fn metrics_handler(State(state): State<Arc<WebhookState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn count(State(state): State<Arc<WebhookState>>, req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".into());
    let verb = req.method().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    state
        .metrics
        .observe(&verb, &path, resp.status().as_u16(), micros);
    resp
}

/// The webhook's routes.
pub fn router(state: Arc<WebhookState>) -> Router {
    let mut r = Router::new()
        .route("/mutate", post(mutate_handler))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics_handler));
    if state.dry_run {
        r = r.route("/dry-run", post(dry_run_handler));
    }
    r.layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

/// Installs aws-lc-rs as the process's rustls provider (idempotent).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn stamp(p: &Path) -> Option<(SystemTime, u64)> {
    std::fs::metadata(p)
        .ok()
        .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
}

/// Reloads the certificate whenever either file changes (cert-manager
/// rewrites the Secret's files through a symlink swap; polling catches both).
pub async fn watch_certificate(
    config: RustlsConfig,
    cert: PathBuf,
    key: PathBuf,
    interval: Duration,
) {
    let mut last = (stamp(&cert), stamp(&key));
    loop {
        tokio::time::sleep(interval).await;
        let now = (stamp(&cert), stamp(&key));
        if now != last {
            match config.reload_from_pem_file(&cert, &key).await {
                Ok(()) => {
                    tracing::info!(cert = %cert.display(), "reloaded the TLS certificate");
                    last = now;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reload the TLS certificate yet; keeping the old one")
                }
            }
        }
    }
}

/// A running HTTPS server.
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    reload: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// Stops (graceful, 10 s like upstream) and waits.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.handle.graceful_shutdown(Some(Duration::from_secs(10)));
        self.reload.abort();
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    /// Waits until the server stops.
    pub async fn wait(self) -> std::io::Result<()> {
        let r = match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        };
        self.reload.abort();
        r
    }
}

/// Binds `addr` and serves `app` over TLS with the PEM files, reloaded when
/// they change (checked every `reload_interval`).
pub async fn serve_tls(
    addr: SocketAddr,
    app: Router,
    cert: &Path,
    key: &Path,
    reload_interval: Duration,
) -> std::io::Result<RunningServer> {
    install_crypto_provider();
    let tls = RustlsConfig::from_pem_file(cert, key).await?;
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls.clone())?.handle(handle.clone());
    let task = tokio::spawn(async move { server.serve(app.into_make_service()).await });
    let reload = tokio::spawn(watch_certificate(
        tls,
        cert.to_path_buf(),
        key.to_path_buf(),
        reload_interval,
    ));
    Ok(RunningServer {
        addr,
        handle,
        task,
        reload,
    })
}
