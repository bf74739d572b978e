//! podiam's web console at `/_podiam/console/`.
//!
//! - **Assets** are embedded: the page, its script and its style sheet,
//!   under a Content-Security-Policy that allows nothing but them.
//! - **Sign-in** takes an access key (the admin's, or a role session's with
//!   its token). The console keeps a session in the store (so every replica
//!   knows it, and signing out ends it everywhere), named by a random id in
//!   an HttpOnly, SameSite=Strict cookie that expires with it.
//! - **Every page is a real API call** ([`call::Call`]): signed with the
//!   session's key and served by the server's own router, so IAM decides it
//!   and the audit log records it like any other call. State-changing
//!   requests carry the session's CSRF token.
//! - **Decisions** stream the audit log (`podiam:ReadAuditLog`) as
//!   server-sent events.

pub mod call;
mod error;

use axum::body::Body;
use base64::Engine as _;
use bytes::Bytes;
use call::Call;
pub use error::ConsoleError;
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use podiam_auth::pipeline::RequestFacts;
use podiam_auth::{Services, audit};
use podiam_store::{ConsoleSession, Op};
use serde_json::{Value, json};

/// Where the console lives.
pub const PREFIX: &str = "/_podiam/console";
/// The session cookie.
const COOKIE: &str = "podiam-console";
/// How long a sign-in lasts (AWS's console signs IAM users out after 12
/// hours); a temporary key's session ends with the key.
const SESSION_SECONDS: i64 = 12 * 3600;
/// The largest request body the console reads.
const MAX_BODY: usize = 64 * 1024;

/// Nothing but the console's own files: no inline script or style, no
/// other origin, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("../assets/index.html");
const CONSOLE_JS: &str = include_str!("../assets/console.js");
const CONSOLE_CSS: &str = include_str!("../assets/console.css");

/// The server's own router, which console calls go through.
pub trait Upstream: Send + Sync {
    /// Serves one signed request as if it came from the browser's address.
    fn call(&self, req: Request<Body>) -> BoxFuture<'static, Response<Body>>;
}

/// Whether `path` is the console's.
pub fn owns(path: &str) -> bool {
    path == PREFIX
        || path
            .strip_prefix(PREFIX)
            .is_some_and(|r| r.starts_with('/'))
}

/// Serves one console request. `facts` identify it for the audit lines
/// of sign-in and sign-out (the API calls pages make get their own).
pub async fn handle(
    svc: &Services,
    req: Request<Body>,
    facts: RequestFacts,
    upstream: &dyn Upstream,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let route = parts.uri.path().strip_prefix(PREFIX).unwrap_or_default();
    let resp = match (&parts.method, route) {
        (&Method::GET, "") => redirect(&format!("{PREFIX}/")),
        (&Method::GET, "/" | "/index.html") => asset("text/html; charset=utf-8", INDEX_HTML),
        (&Method::GET, "/console.js") => asset("text/javascript; charset=utf-8", CONSOLE_JS),
        (&Method::GET, "/console.css") => asset("text/css; charset=utf-8", CONSOLE_CSS),
        (&Method::POST, "/api/signin") => {
            let body = read(body).await;
            podiam_auth::pipeline::audited(svc, facts, async {
                audit::note_request("signin.amazonaws.com", "ConsoleLogin", Value::Null);
                let r = match body {
                    Ok(b) => sign_in(svc, &parts, &b).await,
                    Err(e) => Err(e),
                };
                refused(r)
            })
            .await
        }
        (&Method::POST, "/api/signout") => {
            podiam_auth::pipeline::audited(svc, facts, async {
                audit::note_request("signin.amazonaws.com", "ConsoleLogout", Value::Null);
                refused(sign_out(svc, &parts).await)
            })
            .await
        }
        (&Method::GET, "/api/me") => refused(session(svc, &parts).map(|s| json_ok(me(&s.1)))),
        (&Method::POST, "/api/call") => {
            let r = async {
                let (_, s) = session(svc, &parts)?;
                csrf(svc, &parts, &s)?;
                let call = Call::decode(&read(body).await?)?;
                forward(svc, &parts, &s, call, upstream).await
            };
            refused(r.await)
        }
        (&Method::GET, "/api/events") => {
            let denied = parts
                .uri
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "denied=1"));
            let r = async {
                let (key, s) = session(svc, &parts)?;
                let resp = forward(svc, &parts, &s, Call::audit_stream(denied), upstream).await?;
                Ok(if resp.status().is_success() {
                    event_stream(svc, key, resp.into_body())
                } else {
                    resp
                })
            };
            refused(r.await)
        }
        _ => ConsoleError::NotFound(parts.uri.path().to_string()).render(),
    };
    secure(resp)
}

fn refused(r: Result<Response<Body>, ConsoleError>) -> Response<Body> {
    match r {
        Ok(r) => r,
        Err(e) => {
            let (code, _) = e.code_and_status();
            audit::note_error(code, &e.to_string());
            e.render()
        }
    }
}

/// Headers on every console answer.
fn secure(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

fn redirect(to: &str) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn asset(content_type: &'static str, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(text));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_ok(v: Value) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn read(body: Body) -> Result<Bytes, ConsoleError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ConsoleError::Invalid(format!("the body is over {MAX_BODY} bytes")))
}

/// Refuses a request that another site's page made: browsers send
/// `Sec-Fetch-Site` and, on POST, `Origin`, which must be this server as
/// the browser reached it (its `Host`) or as `--public-url` names it (a
/// proxy in front may rewrite `Host`).
fn same_origin(svc: &Services, parts: &Parts) -> Result<(), ConsoleError> {
    let h = &parts.headers;
    if h.get("sec-fetch-site")
        .is_some_and(|v| v != "same-origin" && v != "none")
    {
        return Err(ConsoleError::CrossOrigin);
    }
    let Some(origin) = h.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    let public = svc.config.public_url.trim_end_matches('/');
    let ours = origin.split_once("://").map(|(_, rest)| rest) == host
        || (!public.is_empty() && origin.eq_ignore_ascii_case(public));
    if ours {
        Ok(())
    } else {
        Err(ConsoleError::CrossOrigin)
    }
}

/// A random token: 32 bytes, base64url.
fn random_token(svc: &Services) -> String {
    let mut b = [0u8; 32];
    svc.rng.fill(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The store key of a cookie value.
fn store_key(cookie: &str) -> String {
    podiam_sigv4::sha256_hex(cookie.as_bytes())
}

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

fn set_cookie(svc: &Services, value: &str, max_age: i64) -> HeaderValue {
    let secure = if svc.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path={PREFIX}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("podiam-console=; Max-Age=0"))
}

/// The signed-in session: (store key, record).
fn session(svc: &Services, parts: &Parts) -> Result<(String, ConsoleSession), ConsoleError> {
    let cookie = cookie_value(&parts.headers).ok_or(ConsoleError::NotSignedIn)?;
    let key = store_key(cookie);
    let s = svc
        .store
        .get::<ConsoleSession>("", &key)
        .map_err(|_| ConsoleError::Unavailable)?
        .ok_or(ConsoleError::NotSignedIn)?;
    if s.expires_at <= svc.now() {
        return Err(ConsoleError::Expired);
    }
    Ok((key, (*s.value).clone()))
}

fn csrf(svc: &Services, parts: &Parts, s: &ConsoleSession) -> Result<(), ConsoleError> {
    same_origin(svc, parts)?;
    let sent = parts
        .headers
        .get("x-csrf-token")
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    if podiam_sigv4::ct_eq(sent, s.csrf_token.as_bytes()) {
        Ok(())
    } else {
        Err(ConsoleError::Csrf)
    }
}

fn me(s: &ConsoleSession) -> Value {
    json!({
        "arn": s.arn,
        "account": s.arn.split(':').nth(4).unwrap_or_default(),
        "expiresAt": s.expires_at,
        "csrfToken": s.csrf_token,
    })
}

/// `POST api/signin` `{"accessKeyId","secretAccessKey","sessionToken"?}`.
async fn sign_in(
    svc: &Services,
    parts: &Parts,
    body: &[u8],
) -> Result<Response<Body>, ConsoleError> {
    same_origin(svc, parts)?;
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ConsoleError::Invalid(format!("Invalid JSON body: {e}")))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let (Some(akid), Some(secret)) = (s("accessKeyId"), s("secretAccessKey")) else {
        return Err(ConsoleError::Invalid(
            "accessKeyId and secretAccessKey are required".into(),
        ));
    };
    let token = s("sessionToken");
    let (caller, real) = svc
        .key_owner(akid, token)
        .map_err(|_| ConsoleError::InvalidCredentials)?;
    if !podiam_sigv4::ct_eq(real.as_bytes(), secret.as_bytes()) {
        return Err(ConsoleError::InvalidCredentials);
    }
    audit::note_identity(caller.user_identity());
    let now = svc.now();
    let expires_at = caller.session().map_or(now + SESSION_SECONDS, |c| {
        c.expires_at.min(now + SESSION_SECONDS)
    });
    let cookie = random_token(svc);
    let key = store_key(&cookie);
    let record = ConsoleSession {
        key: key.clone(),
        access_key_id: akid.to_string(),
        session_token: token.map(str::to_string),
        arn: caller.arn(),
        csrf_token: random_token(svc),
        created_at: now,
        expires_at,
    };
    let mut ops = vec![Op::create("", &key, &record)];
    // Sign-ins that ended are dropped on the way.
    for (_, old) in svc
        .store
        .list_all::<ConsoleSession>()
        .map_err(|_| ConsoleError::Unavailable)?
    {
        if old.expires_at <= now {
            ops.push(Op::delete::<ConsoleSession>("", &old.key, old.version));
        }
    }
    svc.store
        .write(ops)
        .await
        .map_err(|_| ConsoleError::Unavailable)?;
    let mut r = json_ok(me(&record));
    r.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(svc, &cookie, expires_at - now),
    );
    Ok(r)
}

/// `POST api/signout`: the record goes, so the cookie is dead everywhere.
async fn sign_out(svc: &Services, parts: &Parts) -> Result<Response<Body>, ConsoleError> {
    let (key, s) = session(svc, parts)?;
    csrf(svc, parts, &s)?;
    if let Some(v) = svc
        .store
        .get::<ConsoleSession>("", &key)
        .map_err(|_| ConsoleError::Unavailable)?
    {
        svc.store
            .write(vec![Op::delete::<ConsoleSession>("", &key, v.version)])
            .await
            .map_err(|_| ConsoleError::Unavailable)?;
    }
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(svc, "", 0));
    Ok(r)
}

/// Signs `call` as the session's principal and serves it through the
/// server's router.
async fn forward(
    svc: &Services,
    parts: &Parts,
    s: &ConsoleSession,
    call: Call,
    upstream: &dyn Upstream,
) -> Result<Response<Body>, ConsoleError> {
    let (_, secret) = svc
        .key_owner(&s.access_key_id, s.session_token.as_deref())
        .map_err(|_| ConsoleError::Expired)?;
    let credentials = podiam_sigv4::Credentials {
        access_key_id: s.access_key_id.clone(),
        secret_access_key: secret,
        session_token: s.session_token.clone(),
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let browser = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let agent = format!("podiam-console/{} {browser}", env!("CARGO_PKG_VERSION"));
    let req = call.signed(
        host,
        &svc.config.region,
        &credentials,
        svc.clock.now(),
        agent.trim_end(),
    )?;
    let (p, b) = req.into_parts();
    let mut resp = upstream.call(Request::from_parts(p, Body::from(b))).await;
    // The service's answer is the page's data, never cached.
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// NDJSON audit lines as server-sent events, one `data:` line each, while
/// the console session `key` lasts: signing out or expiry ends the stream
/// at its next event.
fn event_stream(svc: &Services, key: String, body: Body) -> Response<Body> {
    let (store, clock) = (svc.store.clone(), svc.clock.clone());
    let alive = move || {
        store
            .get::<ConsoleSession>("", &key)
            .ok()
            .flatten()
            .is_some_and(|s| s.expires_at > clock.epoch())
    };
    let lines = futures_util::stream::unfold(
        (body.into_data_stream(), Vec::<u8>::new(), alive),
        |(mut data, mut pending, alive)| async move {
            loop {
                if let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let text = String::from_utf8_lossy(&line[..end]).into_owned();
                    if text.is_empty() {
                        continue;
                    }
                    if !alive() {
                        return None;
                    }
                    let event = Bytes::from(format!("data: {text}\n\n"));
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        (data, pending, alive),
                    ));
                }
                match data.next().await {
                    Some(Ok(chunk)) => pending.extend_from_slice(&chunk),
                    _ => return None,
                }
            }
        },
    );
    let mut r = Response::new(Body::from_stream(lines));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}
