//! An IMDSv2 endpoint serving the node's instance role.

use crate::upstream::Upstream;
use crate::{Agent, plain};
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use http::{HeaderValue, StatusCode, header};
use podiam_core::Clock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";

/// IMDS settings.
#[derive(Debug, Clone)]
pub struct ImdsConfig {
    /// The node's role name.
    pub role: String,
    /// The instance id used as session name.
    pub instance_id: String,
    /// The region reported under `placement/`.
    pub region: String,
    /// Allow IMDSv1 (no session token). Off by default, as on new instances.
    pub insecure_allow_imdsv1: bool,
}

struct Imds {
    config: ImdsConfig,
    agent: Arc<Agent>,
    tokens: Mutex<HashMap<String, i64>>,
}

/// The IMDS router, sharing the agent's cache and upstream.
pub fn imds_router(agent: Arc<Agent>, config: ImdsConfig) -> Router {
    if config.insecure_allow_imdsv1 {
        tracing::warn!(
            "IMDSv1 is enabled: any local process can read the node role's credentials without a session token"
        );
    }
    let state = Arc::new(Imds {
        config,
        agent,
        tokens: Mutex::default(),
    });
    // IMDS answers a path with or without its trailing slash: botocore asks
    // for `…/placement/availability-zone/` to learn its region.
    let mut r = Router::new().route("/latest/api/token", put(new_token));
    for (path, handler) in [
        ("/latest/meta-data/iam/security-credentials", get(role_list)),
        (
            "/latest/meta-data/iam/security-credentials/{role}",
            get(role_creds),
        ),
        ("/latest/meta-data/instance-id", get(instance_id)),
        ("/latest/meta-data/placement/region", get(region)),
        ("/latest/meta-data/placement/availability-zone", get(zone)),
    ] {
        r = r
            .route(path, handler.clone())
            .route(&format!("{path}/"), handler);
    }
    r.with_state(state)
}

fn clock(i: &Imds) -> &dyn Clock {
    i.agent.clock.as_ref()
}

async fn new_token(State(i): State<Arc<Imds>>, req: Request) -> Response {
    let ttl = req
        .headers()
        .get(TTL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let Some(ttl) = ttl.filter(|t| (1..=21600).contains(t)) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "Invalid or missing X-aws-ec2-metadata-token-ttl-seconds".into(),
        );
    };
    if req.headers().contains_key("x-forwarded-for") {
        // IMDSv2 refuses proxied token requests.
        return plain(StatusCode::FORBIDDEN, "Forbidden".into());
    }
    let mut raw = [0u8; 32];
    let _ = aws_lc_rs::rand::fill(&mut raw);
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let now = clock(&i).epoch();
    let mut t = i.tokens.lock().unwrap_or_else(|e| e.into_inner());
    t.retain(|_, exp| *exp > now);
    t.insert(token.clone(), now + ttl);
    let mut r = token.into_response();
    if let Ok(v) = HeaderValue::from_str(&ttl.to_string()) {
        r.headers_mut().insert(TTL_HEADER, v);
    }
    r
}

/// Whether the request may read metadata: a live IMDSv2 session token, or
/// no token at all when IMDSv1 is enabled.
fn authorized(i: &Imds, req: &Request) -> bool {
    match req
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        None => i.config.insecure_allow_imdsv1,
        Some(t) => {
            let now = clock(i).epoch();
            i.tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(t)
                .is_some_and(|exp| *exp > now)
        }
    }
}

fn unauthorized() -> Response {
    plain(StatusCode::UNAUTHORIZED, "Unauthorized".into())
}

async fn role_list(State(i): State<Arc<Imds>>, req: Request) -> Response {
    if !authorized(&i, &req) {
        return unauthorized();
    }
    i.config.role.clone().into_response()
}

async fn instance_id(State(i): State<Arc<Imds>>, req: Request) -> Response {
    if !authorized(&i, &req) {
        return unauthorized();
    }
    i.config.instance_id.clone().into_response()
}

async fn region(State(i): State<Arc<Imds>>, req: Request) -> Response {
    if !authorized(&i, &req) {
        return unauthorized();
    }
    i.config.region.clone().into_response()
}

async fn zone(State(i): State<Arc<Imds>>, req: Request) -> Response {
    if !authorized(&i, &req) {
        return unauthorized();
    }
    format!("{}a", i.config.region).into_response()
}

async fn role_creds(
    State(i): State<Arc<Imds>>,
    Path(role): Path<String>,
    req: Request,
) -> Response {
    if !authorized(&i, &req) {
        return unauthorized();
    }
    if role != i.config.role {
        return plain(StatusCode::NOT_FOUND, "Not Found".into());
    }
    let up: Arc<dyn Upstream> = i.agent.upstream.clone();
    let (role_name, instance) = (i.config.role.clone(), i.config.instance_id.clone());
    let result = i
        .agent
        .cache
        .get(&format!("node/{role_name}"), move || {
            let (up, role_name, instance) = (up.clone(), role_name.clone(), instance.clone());
            async move { up.node_credentials(&role_name, &instance).await }
        })
        .await;
    match result {
        Ok(c) => {
            let fmt = |t: i64| {
                time::OffsetDateTime::from_unix_timestamp(t)
                    .ok()
                    .map(|t| podiam_core::timefmt::iso8601(t.unix_timestamp()))
                    .unwrap_or_default()
            };
            let body = serde_json::json!({
                "Code": "Success",
                "LastUpdated": fmt(clock(&i).epoch()),
                "Type": "AWS-HMAC",
                "AccessKeyId": c.access_key_id,
                "SecretAccessKey": c.secret_access_key,
                "Token": c.token,
                "Expiration": fmt(c.expiration),
            });
            let mut r = (StatusCode::OK, body.to_string()).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r
        }
        Err(e) => plain(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            e.to_string(),
        ),
    }
}
