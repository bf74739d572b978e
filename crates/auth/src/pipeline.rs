//! The request pipeline every service runs on, written once:
//!
//! ```text
//! authenticate (SigV4 header / presigned / chunked, or anonymous where the
//! service allows it) → Service::decode → Service::checks → decide each →
//! Service::handle → the response, or the service's error in its protocol
//! ```
//!
//! The dispatcher in front gives each request its id and body (buffered
//! within the service's limit, or the stream) and writes the one audit line
//! afterwards from what the pipeline noted.

use crate::decide::{Authorizer, Check, Subject};
use crate::{AuthError, Authenticated, Caller, Denied, RequestMeta, Services, audit};
use axum::body::Body;
use bytes::Bytes;
use http::Response;
use http::request::Parts;
use podiam_core::AwsError;
use podiam_core::error::Protocol;
use podiam_core::query::QueryParams;
use podiam_sigv4::{Payload, RequestView, VerifiedRequest, Verifier};
use std::future::Future;

/// A request body as the pipeline hands it on.
#[derive(Debug)]
pub enum Input {
    /// Read whole (query protocol, JSON): the signature covers its hash.
    Buffered(Bytes),
    /// Streamed (S3): checked against the signature while it is read.
    Stream(Body),
}

impl Input {
    /// The buffered bytes (empty for a stream).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Input::Buffered(b) => b,
            Input::Stream(_) => &[],
        }
    }
}

/// Who may call an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authentication {
    /// A valid signature is required.
    Required,
    /// Unsigned requests are served as the anonymous principal (S3).
    AllowAnonymous,
    /// The action carries its own credential (STS
    /// `AssumeRoleWithWebIdentity`): signatures are not checked.
    None,
}

/// What the pipeline needs to know of a service's error: its one mapping
/// to AWS's code, status and message, and its wire protocol.
pub trait ServiceError: Send {
    /// Code, HTTP status and message.
    fn aws_error(&self) -> AwsError;
    /// The protocol errors are rendered in.
    fn protocol(&self) -> Protocol;
    /// The error on the wire (S3 adds its extra elements).
    fn render(&self, request_id: &str) -> Response<Body> {
        render_aws(&self.aws_error(), &self.protocol(), request_id)
    }
}

/// Refuses a request outside a service (routing, body limits, podiam's
/// own API): notes the error for the audit line and renders it.
pub fn refuse(e: &AwsError, protocol: &Protocol, request_id: &str) -> Response<Body> {
    audit::note_error(&e.code, &e.message);
    render_aws(e, protocol, request_id)
}

/// An [`AwsError`] rendered in `protocol`: the query, JSON and S3 shapes.
pub fn render_aws(e: &AwsError, protocol: &Protocol, request_id: &str) -> Response<Body> {
    let (parts, body) = e.render(protocol, request_id).into_parts();
    Response::from_parts(parts, Body::from(body))
}

/// Everything a service sees of an authenticated request.
pub struct Cx<'a> {
    /// The shared context: store, clock, randomness, settings.
    pub svc: &'a Services,
    /// The request line and headers.
    pub parts: &'a Parts,
    /// The caller (`None`: anonymous or unauthenticated).
    pub caller: Option<&'a Caller>,
    /// The verified signature (S3 checks streamed bodies against it).
    pub verified: Option<&'a VerifiedRequest>,
    /// Decides checks for this caller (policies loaded once).
    pub authz: Authorizer<'a>,
    /// Transport facts for condition keys.
    pub meta: &'a RequestMeta,
    /// The request id (response header, audit line, logs).
    pub request_id: &'a str,
}

/// One AWS service on the pipeline: decode, checks, handle.
pub trait Service: Send + Sync {
    /// What [`Service::open`] read of the request before authentication
    /// (the query protocol's parameters), handed on to decoding.
    type Envelope: Send;
    /// The decoded request.
    type Action: Send;
    /// The service's error, with its one mapping to the wire; an
    /// authentication failure becomes one through `From`.
    type Error: ServiceError + From<AuthError>;

    /// The audit line's `eventSource`, e.g. `iam.amazonaws.com`.
    const EVENT_SOURCE: &'static str;

    /// The largest body read whole before the request is refused with 413
    /// (services that stream their bodies, S3, never buffer them).
    const MAX_BODY: usize = 1024 * 1024;

    /// The signature verifier (SigV4 service name, region, S3 rules) for
    /// a request; podiam's own API accepts several signing names.
    fn verifier(&self, parts: &Parts) -> &Verifier;

    /// What is read before authentication: the audit line's event name
    /// and parameters (noted here, so failed authentications are audited
    /// too) and who may call. An error refuses the request before its
    /// signature is looked at (S3 refuses SigV2 this way).
    fn open(
        &self,
        parts: &Parts,
        input: &Input,
    ) -> Result<(Self::Envelope, Authentication), Self::Error>;

    /// An authentication failure in the service's shape (S3's depends on
    /// the request).
    fn auth_error(&self, _parts: &Parts, e: AuthError) -> Self::Error {
        e.into()
    }

    /// The typed action (validation errors are the service's).
    fn decode(
        &self,
        cx: &Cx<'_>,
        envelope: Self::Envelope,
        input: &Input,
    ) -> Result<Self::Action, Self::Error>;

    /// What [`Service::checks`] needs fetched first, where fetching waits
    /// (DynamoDB on a backend endpoint reads table schemas from it; S3 on a
    /// backend store reads an object's tags into the action, and reads the
    /// small bodies whose contents are condition keys).
    fn prepare(
        &self,
        _cx: &Cx<'_>,
        _action: &mut Self::Action,
        _input: &mut Input,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        async { Ok(()) }
    }

    /// The authorizations `action` needs before it is handled (a service
    /// may decide more checks while handling, through `cx.authz`).
    fn checks(&self, cx: &Cx<'_>, action: &Self::Action) -> Result<Vec<Check>, Self::Error>;

    /// A refused check in the service's shape.
    fn denied(&self, cx: &Cx<'_>, check: &Check, denied: Denied) -> Self::Error;

    /// Performs the authorized action.
    fn handle(
        &self,
        cx: &Cx<'_>,
        action: Self::Action,
        input: Input,
    ) -> impl Future<Output = Result<Response<Body>, Self::Error>> + Send;
}

/// Runs one request through `service`; errors are rendered, noted for the
/// audit line and logged (server faults at ERROR).
pub async fn run<S: Service>(
    svc: &Services,
    service: &S,
    parts: Parts,
    input: Input,
    meta: &RequestMeta,
    request_id: &str,
) -> Response<Body> {
    match run_inner(svc, service, &parts, input, meta, request_id).await {
        Ok(r) => r,
        Err(e) => {
            let w = e.aws_error();
            audit::note_error(&w.code, &w.message);
            if w.status.is_server_error() {
                tracing::error!(request_id, code = %w.code, message = %w.message, "request failed");
            } else {
                tracing::debug!(request_id, code = %w.code, message = %w.message, "request refused");
            }
            e.render(request_id)
        }
    }
}

async fn run_inner<S: Service>(
    svc: &Services,
    service: &S,
    parts: &Parts,
    input: Input,
    meta: &RequestMeta,
    request_id: &str,
) -> Result<Response<Body>, S::Error> {
    let (envelope, mode) = service.open(parts, &input)?;
    let authenticated = match mode {
        Authentication::None => None,
        mode => {
            let payload = match &input {
                Input::Buffered(b) => Payload::Bytes(b),
                Input::Stream(_) => Payload::Declared,
            };
            let view = RequestView::from_parts(parts);
            match svc.authenticate_with(service.verifier(parts), &view, payload) {
                Ok(Some(a)) => Some(a),
                Ok(None) if mode == Authentication::AllowAnonymous => None,
                Ok(None) => return Err(service.auth_error(parts, AuthError::Missing)),
                Err(e) => {
                    tracing::debug!(request_id, error = %e, "authentication failed");
                    return Err(service.auth_error(parts, e));
                }
            }
        }
    };
    let caller = authenticated.as_ref().map(|a: &Authenticated| &a.caller);
    let subject = caller.map_or(Subject::Anonymous, Subject::Caller);
    let cx = Cx {
        svc,
        parts,
        caller,
        verified: authenticated.as_ref().map(|a| &a.verified),
        authz: svc.authorizer(subject, meta),
        meta,
        request_id,
    };
    let mut input = input;
    let mut action = service.decode(&cx, envelope, &input)?;
    service.prepare(&cx, &mut action, &mut input).await?;
    for check in service.checks(&cx, &action)? {
        if let Err(d) = cx.authz.decide(&check) {
            return Err(service.denied(&cx, &check, d));
        }
    }
    service.handle(&cx, action, input).await
}

/// A successful query-protocol response (IAM, STS).
pub fn xml_ok(body: String, request_id: &str) -> Response<Body> {
    ok("text/xml", 200, body, request_id)
}

/// A successful JSON response (EKS, eks-auth, podiam's API).
pub fn json_ok(status: u16, body: String, request_id: &str) -> Response<Body> {
    ok("application/json", status, body, request_id)
}

fn ok(content_type: &'static str, status: u16, body: String, request_id: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        h.insert(podiam_core::error::X_AMZN_REQUESTID, v);
    }
    r
}

/// Why a query-protocol request (IAM, STS) cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryOpenError {
    /// The form encoding is invalid (repeated key, not UTF-8, too many).
    Malformed(String),
    /// No `Action` parameter.
    MissingAction,
}

/// Reads a query-protocol request's parameters (URL query, then body),
/// notes the call for the audit line (secrets redacted there), and returns
/// them with the `Action`.
pub fn open_query(
    parts: &Parts,
    input: &Input,
    event_source: &'static str,
) -> Result<(QueryParams, String), QueryOpenError> {
    let params = QueryParams::from_request(parts.uri.query(), input.bytes())
        .map_err(|e| QueryOpenError::Malformed(e.to_string()))?;
    let action = params.get("Action").unwrap_or_default().to_string();
    let logged: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .filter(|(k, _)| *k != "Action" && *k != "Version")
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    audit::note_request(event_source, &action, serde_json::Value::Object(logged));
    if action.is_empty() {
        return Err(QueryOpenError::MissingAction);
    }
    Ok((params, action))
}

/// What the audit line records of a request besides what the pipeline
/// notes while serving it.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    /// The request id, in the service's format.
    pub request_id: String,
    /// The client's address.
    pub source_ip: String,
    /// The `User-Agent`.
    pub user_agent: String,
}

/// Serves one API request: runs `serve` in an audit scope, then writes the
/// request's one audit line (with the response's own request id) and its
/// metrics.
pub async fn audited<F>(svc: &Services, facts: RequestFacts, serve: F) -> Response<Body>
where
    F: Future<Output = Response<Body>>,
{
    let started = std::time::Instant::now();
    let (resp, rec) = audit::scope(serve).await;
    let status = resp.status();
    let error_code = rec.error_code.or_else(|| {
        (status.is_client_error() || status.is_server_error())
            .then(|| format!("HTTP{}", status.as_u16()))
    });
    svc.metrics.observe(
        rec.event_source.as_deref(),
        rec.event_name.as_deref(),
        error_code.as_deref(),
        started.elapsed(),
    );
    svc.audit_log.emit(&audit::AuditEvent {
        event_time: podiam_core::timefmt::iso8601(svc.now()),
        event_source: rec.event_source.unwrap_or_else(|| "podiam".into()),
        event_name: rec.event_name.unwrap_or_default(),
        aws_region: svc.config.region.clone(),
        source_ip_address: facts.source_ip,
        user_agent: facts.user_agent,
        user_identity: rec.user_identity,
        request_parameters: rec.request_parameters.unwrap_or(serde_json::Value::Null),
        request_id: facts.request_id,
        error_code,
        error_message: rec.error_message,
        decision: rec.decision,
    });
    resp
}
