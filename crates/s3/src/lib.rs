//! podiam's S3 endpoint.
//!
//! Every request goes through the same steps:
//! 1. [`auth::authenticate`]: SigV4 in headers or a presigned query, against a
//!    stored long-term key or a sealed session (whose token must come with
//!    it), or anonymous;
//! 2. [`action::route`]: method, path, query and Host → a typed
//!    [`S3Request`];
//! 3. [`authz::checks`]: the one exhaustive mapping to IAM actions, resource
//!    ARNs and condition keys, each decided by `podiam-policy` from the
//!    caller's identity, session and boundary policies plus the bucket
//!    policy, with the bucket owner as resource account. A deny is S3's
//!    `AccessDenied`; the explanation goes to the `podiam::audit` log only;
//! 4. the operation (`ops`), streaming bodies to and from disk ([`store`]),
//!    or to and from an S3-compatible store that replicas share
//!    ([`backend`]).

pub mod action;
pub mod auth;
pub mod authz;
pub mod backend;
pub mod body;
pub mod error;
mod ops;
pub mod store;
pub mod xml;

pub use action::S3Request;
pub use error::{S3Code, S3Error, S3Result};

use axum::body::Body;
use http::request::Parts;
use http::{HeaderValue, Method, Response};
use podiam_auth::pipeline::{self, Authentication, Input, Service, ServiceError};
use podiam_auth::{
    AuthError, Authorizer, Caller, Check, Denied, RequestMeta, Services, compile_policy,
};
use podiam_policy::{Policy, PolicyKind};
use podiam_sigv4::{AuthKind, RequestView, Verifier, VerifyOptions};
use podiam_store::{Bucket, Versioned};
use std::path::Path;
use std::sync::Arc;

/// The S3 service: the object store and a signature verifier.
#[derive(Debug)]
pub struct S3 {
    store: Arc<store::ObjectStore>,
    /// Objects live here instead of `store` when set.
    backend: Option<backend::Backend>,
    verifier: Verifier,
    vhost_bases: Vec<String>,
}

/// Everything an operation knows about its request.
pub(crate) struct Cx<'a> {
    pub svc: &'a Services,
    pub auth: auth::Authenticated<'a>,
    /// Decides this request's checks (the caller's policies loaded once).
    pub authz: &'a Authorizer<'a>,
    pub headers: &'a http::HeaderMap,
    pub method: &'a Method,
    /// The query string as sent.
    pub raw_query: Option<&'a str>,
    pub query: action::Query,
    /// The body, when it was read before deciding (`S3Action::body`).
    pub body: Option<Vec<u8>>,
}

impl Cx<'_> {
    /// The caller's account (`None` for anonymous callers).
    pub fn account(&self) -> Option<&str> {
        self.auth.caller.map(Caller::account)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A routed S3 request.
#[derive(Debug)]
pub struct S3Action {
    request: S3Request,
    query: action::Query,
    /// The existing object's tags, read from a backend store for the
    /// policies that ask (`s3:ExistingObjectTag/*`).
    existing_tags: Option<Vec<(String, String)>>,
    /// The small body whose contents are condition keys (PutObjectTagging's
    /// tags, CreateBucket's location), read and verified before deciding.
    body: Option<Vec<u8>>,
}

/// The canonical user id S3 reports for an account's resources.
pub fn canonical_user_id(account: &str) -> String {
    podiam_sigv4::sha256_hex(format!("podiam canonical user {account}").as_bytes())
}

impl S3 {
    /// Opens the object store under `<data_dir>/s3/`. Virtual-hosted requests
    /// are recognised for `<bucket>.localhost` and `<bucket>.<public host>`.
    pub fn open(data_dir: &Path, config: &podiam_auth::Config) -> std::io::Result<S3> {
        let store = store::ObjectStore::open(&data_dir.join("s3"))?;
        let mut vhost_bases = vec!["localhost".to_string()];
        if let Some(host) = http::Uri::try_from(config.public_url.as_str())
            .ok()
            .and_then(|u| u.host().map(str::to_ascii_lowercase))
            && host.parse::<std::net::IpAddr>().is_err()
            && !host.starts_with('[')
            && !vhost_bases.contains(&host)
        {
            vhost_bases.push(host);
        }
        Ok(S3 {
            store: Arc::new(store),
            backend: None,
            verifier: Verifier::new(VerifyOptions::s3().with_region(config.region.clone())),
            vhost_bases,
        })
    }

    /// Keeps objects on `backend` instead of under the data directory.
    pub fn with_backend(mut self, backend: backend::Backend) -> S3 {
        self.backend = Some(backend);
        self
    }

    /// Whether the Host header addresses a bucket (`bucket.localhost:PORT`).
    pub fn is_virtual_host(&self, headers: &http::HeaderMap) -> bool {
        action::virtual_host_bucket(host(headers), &self.vhost_bases).is_some()
    }

    /// Whether a request on the shared port is for S3: signed for `s3`,
    /// virtual-hosted, or unsigned and not shaped like a query-protocol
    /// (STS/IAM) request.
    pub fn wants(&self, parts: &http::request::Parts, signing_service: Option<&str>) -> bool {
        match signing_service {
            Some(s) => s == "s3",
            None => {
                if self.is_virtual_host(&parts.headers) {
                    return true;
                }
                let query_protocol = parts.uri.path() == "/"
                    && (parts
                        .uri
                        .query()
                        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("Action=")))
                        || (parts.method == Method::POST
                            && parts
                                .headers
                                .get(http::header::CONTENT_TYPE)
                                .and_then(|v| v.to_str().ok())
                                .is_some_and(|c| {
                                    c.starts_with("application/x-www-form-urlencoded")
                                })));
                !query_protocol
            }
        }
    }

    /// Handles one S3 request through the pipeline; `rid` (see
    /// [`podiam_core::ids::s3_request_id`]) is its `x-amz-request-id` and
    /// its audit line's `requestID`.
    pub async fn handle(
        &self,
        svc: &Services,
        req: http::Request<Body>,
        meta: RequestMeta,
        rid: &str,
    ) -> Response<Body> {
        let is_head = req.method() == Method::HEAD;
        let (parts, body) = req.into_parts();
        let (body, read) = body::Tracked::wrap(body, &parts.headers);
        let mut resp = pipeline::run(svc, self, parts, Input::Stream(body), &meta, rid).await;
        if let Some(read) = read {
            read.close_unless_read(&mut resp);
        }
        if is_head && resp.status().as_u16() >= 300 {
            // A HEAD error has S3's status and headers, and no body.
            *resp.body_mut() = Body::empty();
            resp.headers_mut().remove(http::header::CONTENT_TYPE);
        }
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(rid) {
            h.insert("x-amz-request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&host_id(rid)) {
            h.insert("x-amz-id-2", v);
        }
        h.insert("server", HeaderValue::from_static("AmazonS3"));
        resp
    }

    /// The bucket record, if the bucket exists.
    pub(crate) fn bucket(&self, svc: &Services, name: &str) -> S3Result<Option<Versioned<Bucket>>> {
        svc.store.get::<Bucket>("", name).map_err(S3Error::internal)
    }

    /// Decides one check; `Err(AccessDenied)` unless allowed.
    pub(crate) fn authorize(&self, cx: &Cx<'_>, check: &authz::Check) -> S3Result<()> {
        let c = self.resolve(cx.svc, check, &cx.auth)?;
        cx.authz
            .decide(&c)
            .map_err(|d| access_denied(cx.auth.caller, &c, cx.authz.resource_account(&c), d))
    }

    /// The pipeline's check for one of S3's: the bucket's policy and owner
    /// (the resource account), the owner rule, the signature's `s3:*` keys
    /// and the existing object's tags. `podiam explain request` asks the
    /// same question through here.
    pub fn resolve(
        &self,
        svc: &Services,
        check: &authz::Check,
        auth: &auth::Authenticated<'_>,
    ) -> S3Result<Check> {
        let bucket = match &check.bucket {
            // Creating a bucket is decided in the caller's account, without
            // any bucket of that name: another account's bucket answers
            // BucketAlreadyExists (409) once allowed, never AccessDenied.
            Some(_) if check.action == "s3:CreateBucket" => None,
            Some(name) => Some(
                self.bucket(svc, name)?
                    .ok_or_else(|| S3Error::no_such_bucket(name))?,
            ),
            None => None,
        };
        let mut c = Check::new(check.action.clone(), check.resource.clone());
        if let Some(b) = &bucket {
            let policy: Arc<Option<Policy>> = b.derived(|b| {
                b.policy
                    .as_deref()
                    .and_then(|d| compile_policy(d, PolicyKind::Resource))
            });
            if let Some(p) = policy.as_ref() {
                c = c.with_resource_policy(format!("bucket policy of {}", b.name), p.clone());
            }
            c = c.with_resource_account(b.owner.clone());
            // The bucket owner's root can always manage the bucket policy, so
            // a policy cannot lock its owner out.
            c.owner_always_allowed = matches!(
                check.action.as_ref(),
                "s3:GetBucketPolicy" | "s3:PutBucketPolicy" | "s3:DeleteBucketPolicy"
            );
        } else if let Some(caller) = auth.caller {
            c = c.with_resource_account(caller.account().to_string());
        }
        if let Some(v) = auth.verified {
            c = c
                .key("s3:signatureversion", "AWS4-HMAC-SHA256")
                .key("s3:x-amz-content-sha256", v.payload().to_header_value());
            if let AuthKind::Presigned { .. } = v.kind() {
                let age = (svc.clock.now() - v.timestamp())
                    .whole_milliseconds()
                    .max(0);
                c = c.key("s3:signatureAge", age.to_string());
            }
        }
        if let Some(t) = auth.auth_type() {
            c = c.key("s3:authType", t);
        }
        if let Some(acct) = c.resource_account.clone() {
            c = c.key("s3:ResourceAccount", acct);
        }
        c.keys.extend(check.keys.iter().cloned());
        c.multi_keys.extend(check.multi_keys.iter().cloned());
        if let Some((ob, ok)) = &check.existing_object
            && self.backend.is_none()
            && let Some(m) = self.store.get(ob, ok)
        {
            for (k, v) in &m.tags {
                c = c.key(format!("s3:ExistingObjectTag/{k}"), v.clone());
            }
        }
        Ok(c)
    }
}

/// AWS's newer explicit message for same-account identity callers; the
/// classic "Access Denied" for anonymous and cross-account callers.
fn access_denied(
    caller: Option<&Caller>,
    check: &Check,
    resource_account: Option<String>,
    denied: Denied,
) -> S3Error {
    match caller {
        Some(c) if resource_account.as_deref() == Some(c.account()) => S3Error::new(
            S3Code::AccessDenied,
            format!(
                "User: {} is not authorized to perform: {} on resource: \"{}\"{}",
                c.arn(),
                check.action,
                check.resource,
                denied.reason_suffix(&check.action)
            ),
        ),
        _ => S3Error::access_denied(),
    }
}

fn host(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
}

/// `x-amz-id-2` and the error document's `<HostId>`: derived from the
/// request id, so the two always agree.
fn host_id(rid: &str) -> String {
    use base64::Engine as _;
    let digest = podiam_sigv4::sha256(format!("podiam host id {rid}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..24])
}

impl ServiceError for S3Error {
    fn aws_error(&self) -> podiam_core::AwsError {
        podiam_core::AwsError::new(self.status(), self.code.as_str(), self.message.clone())
    }

    fn protocol(&self) -> podiam_core::error::Protocol {
        podiam_core::error::Protocol::S3 {
            resource: self.resource.clone(),
        }
    }

    fn render(&self, request_id: &str) -> Response<Body> {
        let mut r = Response::new(Body::from(self.to_xml(request_id, &host_id(request_id))));
        *r.status_mut() = http::StatusCode::from_u16(self.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        if self.code == S3Code::InvalidRange
            && let Some((_, size)) = self.extra.iter().find(|(k, _)| *k == "ActualObjectSize")
            && let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}"))
        {
            r.headers_mut().insert(http::header::CONTENT_RANGE, v);
        }
        r
    }
}

/// An authentication failure of a request that carried an Authorization
/// header (the pipeline's default path; [`S3::auth_error`] tells the two
/// apart).
impl From<AuthError> for S3Error {
    fn from(e: AuthError) -> Self {
        auth::map_auth(e, true)
    }
}

impl Service for S3 {
    type Envelope = ();
    type Action = S3Action;
    type Error = S3Error;

    const EVENT_SOURCE: &'static str = "s3.amazonaws.com";

    fn verifier(&self, _parts: &http::request::Parts) -> &Verifier {
        &self.verifier
    }

    /// Anyone may call (bucket policies decide anonymous requests), but
    /// not with SigV2.
    fn open(&self, parts: &Parts, _input: &Input) -> S3Result<((), Authentication)> {
        auth::refuse_sigv2(&RequestView::from_parts(parts))?;
        Ok(((), Authentication::AllowAnonymous))
    }

    fn auth_error(&self, parts: &Parts, e: AuthError) -> S3Error {
        auth::map_auth(e, parts.headers.contains_key(http::header::AUTHORIZATION))
    }

    fn decode(&self, cx: &pipeline::Cx<'_>, _: (), _input: &Input) -> S3Result<S3Action> {
        let parts = cx.parts;
        let query = action::Query::parse(parts.uri.query());
        let vhost = action::virtual_host_bucket(host(&parts.headers), &self.vhost_bases);
        let request = action::route(
            &parts.method,
            parts.uri.path(),
            &query,
            &parts.headers,
            vhost,
        )?;
        podiam_auth::audit::note_request(
            Self::EVENT_SOURCE,
            request.name(),
            serde_json::json!({"bucketName": request.bucket(), "key": request.key()}),
        );
        Ok(S3Action {
            request,
            query,
            existing_tags: None,
            body: None,
        })
    }

    /// `DeleteObjects` has none here: it is decided key by key, and
    /// reported per key, while handling.
    fn checks(&self, cx: &pipeline::Cx<'_>, a: &S3Action) -> S3Result<Vec<Check>> {
        let auth = auth::Authenticated::of(cx);
        authz::checks(&a.request, &cx.parts.headers, a.query.get("versionId"))?
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let c = match &a.body {
                    Some(body) => &authz::body_keys(c.clone(), &a.request, body),
                    None => c,
                };
                let mut r = self.resolve(cx.svc, c, &auth)?;
                if c.existing_object.is_some() {
                    for (k, v) in a.existing_tags.iter().flatten() {
                        r = r.key(format!("s3:ExistingObjectTag/{k}"), v.clone());
                    }
                }
                Ok(r)
            })
            .collect()
    }

    /// The small bodies whose contents are condition keys are read (and
    /// checked against the signature) first. On a backend store, the
    /// existing object's tags are read when a policy that decides this
    /// request reads them.
    async fn prepare(
        &self,
        cx: &pipeline::Cx<'_>,
        a: &mut S3Action,
        input: &mut Input,
    ) -> S3Result<()> {
        if authz::has_body_keys(&a.request) {
            a.body = Some(
                match std::mem::replace(input, Input::Buffered(Default::default())) {
                    Input::Stream(body) => {
                        ops::small_body(cx.verified, &cx.parts.headers, body).await?
                    }
                    Input::Buffered(b) => b.to_vec(),
                },
            );
        }
        let Some(be) = &self.backend else {
            return Ok(());
        };
        for c in authz::checks(&a.request, &cx.parts.headers, a.query.get("versionId"))?
            .unwrap_or_default()
        {
            let Some((bucket, key)) = &c.existing_object else {
                continue;
            };
            const TAG_KEYS: &str = "s3:ExistingObjectTag/";
            let bucket_reads = self.bucket(cx.svc, bucket)?.is_some_and(|b| {
                b.derived(|b| {
                    b.policy
                        .as_deref()
                        .and_then(|d| compile_policy(d, PolicyKind::Resource))
                })
                .as_ref()
                .as_ref()
                .is_some_and(|p| p.reads_key_prefix(TAG_KEYS))
            });
            if bucket_reads || cx.authz.reads_key_prefix(TAG_KEYS) {
                // The store answers the current version's tags only: a
                // decision about another version cannot be made here.
                if ops::names_a_version(a.query.get("versionId")) {
                    return Err(S3Error::not_implemented());
                }
                match ops::object_tags(be, bucket, key).await {
                    Ok(tags) => a.existing_tags = Some(tags),
                    Err(e) if e.code == S3Code::NoSuchKey => {}
                    Err(e) => return Err(e),
                }
                break;
            }
        }
        Ok(())
    }

    fn denied(&self, cx: &pipeline::Cx<'_>, check: &Check, d: Denied) -> S3Error {
        access_denied(cx.caller, check, cx.authz.resource_account(check), d)
    }

    async fn handle(
        &self,
        cx: &pipeline::Cx<'_>,
        a: S3Action,
        input: Input,
    ) -> S3Result<Response<Body>> {
        let body = match input {
            Input::Stream(b) => b,
            Input::Buffered(b) => Body::from(b),
        };
        let s3cx = Cx {
            body: a.body,
            svc: cx.svc,
            auth: auth::Authenticated::of(cx),
            authz: &cx.authz,
            headers: &cx.parts.headers,
            method: &cx.parts.method,
            raw_query: cx.parts.uri.query(),
            query: a.query,
        };
        ops::execute(self, &s3cx, a.request, body).await
    }
}
