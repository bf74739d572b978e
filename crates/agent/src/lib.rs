//! podiam's node agent.
//!
//! * `GET /v1/credentials` — the EKS Pod Identity credential endpoint the
//!   SDKs reach through `AWS_CONTAINER_CREDENTIALS_FULL_URI`. The
//!   `Authorization` header is the pod's service-account token; the agent
//!   trades it with eks-auth `AssumeRoleForPodIdentity` and caches the
//!   result (see [`cache`]).
//! * An IMDSv2 endpoint serving the node's instance role, so pods with
//!   neither IRSA nor Pod Identity get the node role, as on EC2.
//! * `/healthz`, `/readyz`, `/metrics`, and a token-bucket rate limit.

pub mod cache;
mod imds;
pub mod metrics;
mod ratelimit;
pub mod upstream;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use cache::{CacheConfig, CredentialCache};
use http::{HeaderValue, StatusCode, header};
use metrics::Metrics;
use podiam_core::Clock;
use podiam_oidc::UnverifiedToken;
use std::sync::Arc;
use upstream::{Creds, Upstream};

pub use imds::{ImdsConfig, imds_router};

/// Agent settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Hosts a request's `Host` header may name (the bind addresses).
    pub allowed_hosts: Vec<String>,
    /// Requests per second allowed (token bucket).
    pub rate_per_second: f64,
    /// Bucket size.
    pub burst: f64,
    /// Cache tunables.
    pub cache: CacheConfig,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            allowed_hosts: vec!["169.254.170.23".into(), "fd00:ec2::23".into()],
            rate_per_second: 1000.0,
            burst: 500.0,
            cache: CacheConfig::default(),
        }
    }
}

/// The agent's shared state.
pub struct Agent {
    config: AgentConfig,
    upstream: Arc<dyn Upstream>,
    cache: Arc<CredentialCache>,
    clock: Arc<dyn Clock>,
    /// Metrics, also rendered on `/metrics`.
    pub metrics: Arc<Metrics>,
    limiter: ratelimit::TokenBucket,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// A new agent.
    pub fn new(
        config: AgentConfig,
        upstream: Arc<dyn Upstream>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Agent> {
        let metrics = Arc::new(Metrics::default());
        Arc::new(Agent {
            cache: CredentialCache::new(clock.clone(), config.cache.clone(), metrics.clone()),
            limiter: ratelimit::TokenBucket::new(config.rate_per_second, config.burst),
            config,
            upstream,
            clock,
            metrics,
        })
    }

    /// The router for the credential endpoint.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            // Upstream's mux serves the path for every method.
            .route("/v1/credentials", any(credentials))
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(|| async { "ok" }))
            .route("/metrics", get(render_metrics))
            .with_state(self.clone())
    }

    /// The credential cache (for tests).
    pub fn cache(&self) -> &Arc<CredentialCache> {
        &self.cache
    }
}

async fn render_metrics(State(a): State<Arc<Agent>>) -> Response {
    let mut r = a.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(podiam_core::metrics::CONTENT_TYPE),
    );
    r
}

fn plain(status: StatusCode, msg: String) -> Response {
    let mut r = (status, format!("{msg}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn host_of(h: &str) -> &str {
    // "[fd00:ec2::23]:80" → "fd00:ec2::23"; "127.0.0.1:8080" → "127.0.0.1".
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => h,
    }
}

/// The JSON the SDKs' container credential provider reads.
pub fn credentials_json(c: &Creds) -> String {
    let exp = time::OffsetDateTime::from_unix_timestamp(c.expiration)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    serde_json::json!({
        "AccessKeyId": c.access_key_id,
        "SecretAccessKey": c.secret_access_key,
        "Token": c.token,
        "AccountId": c.account_id,
        "Expiration": exp,
    })
    .to_string()
}

async fn credentials(State(a): State<Arc<Agent>>, req: Request) -> Response {
    let r = serve_credentials(&a, req.headers().clone()).await;
    a.metrics.request("/v1/credentials", r.status().as_u16());
    r
}

async fn serve_credentials(a: &Arc<Agent>, headers: http::HeaderMap) -> Response {
    if !a.limiter.try_take() {
        return plain(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests".into());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(host_of)
        .unwrap_or_default()
        .to_string();
    if !a.config.allowed_hosts.iter().any(|h| h == &host) {
        return plain(
            StatusCode::FORBIDDEN,
            format!(
                // Go's `%s` of a []string: `[169.254.170.23 fd00:ec2::23]`.
                "Access Denied. Called agent through invalid address, please use either [{}] address not {host}",
                a.config.allowed_hosts.join(" ")
            ),
        );
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    if token.is_empty() {
        return plain(
            StatusCode::BAD_REQUEST,
            "Service account token cannot be empty".into(),
        );
    }
    let parsed = match UnverifiedToken::parse(&token) {
        Ok(t) => t,
        Err(e) => {
            return plain(
                StatusCode::BAD_REQUEST,
                format!("Service account token cannot be parsed: {e}"),
            );
        }
    };
    // golang-jwt's default validation, as upstream runs it: `exp` and `nbf`
    // when present, nothing required, `iat` unchecked (eks-auth decides the
    // rest).
    let now = a.clock.epoch();
    let failed = if parsed.exp().is_some_and(|exp| now >= exp) {
        Some("token is expired")
    } else if parsed.nbf().is_some_and(|nbf| now < nbf) {
        Some("token is not valid yet")
    } else {
        None
    };
    if let Some(what) = failed {
        return plain(
            StatusCode::BAD_REQUEST,
            format!("Service account token failed basic claim validations: {what}"),
        );
    }
    let pod_uid = parsed.claims()["kubernetes.io"]["pod"]["uid"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let key = format!("{pod_uid}/{}", hex_prefix(digest.as_ref()));
    let up = a.upstream.clone();
    let result = a
        .cache
        .get(&key, move || {
            let (up, token) = (up.clone(), token.clone());
            async move { up.pod_credentials(&token).await }
        })
        .await;
    match result {
        Ok(c) => {
            let mut r = (StatusCode::OK, credentials_json(&c)).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => plain(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            e.to_string(),
        ),
    }
}

fn hex_prefix(b: &[u8]) -> String {
    b.iter().take(16).map(|x| format!("{x:02x}")).collect()
}
