//! podiam's S3 endpoint.
//!
//! Every request goes through the same steps:
//! 1. [`auth::authenticate`]: SigV4 in headers or a presigned query, against a
//!    stored long-term key or a sealed session (whose token must come with
//!    it), or anonymous;
//! 2. [`router::route`]: method, path, query and Host → a typed
//!    [`S3Request`];
//! 3. [`authz::checks`]: the one exhaustive mapping to IAM actions, resource
//!    ARNs and condition keys, each decided by `podiam-policy` from the
//!    caller's identity, session and boundary policies plus the bucket
//!    policy, with the bucket owner as resource account. A deny is S3's
//!    `AccessDenied`; the explanation goes to the `podiam::audit` log only;
//! 4. the operation (`ops`), streaming bodies to and from disk ([`store`]).

pub mod auth;
pub mod authz;
pub mod body;
pub mod error;
mod ops;
pub mod router;
pub mod store;
pub mod xml;

pub use error::{S3Error, S3Result};
pub use router::S3Request;

use axum::body::Body;
use http::{HeaderValue, Method, Response};
use podiam_auth::{Caller, Denied, PolicySet, RequestMeta, Services, compile_policy};
use podiam_policy::{
    Decision, Evaluation, Policy, PolicyKind, Principal, RequestContext, evaluate,
};
use podiam_sigv4::{AuthKind, RequestView, Verifier, VerifyOptions};
use podiam_store::{Bucket, Versioned};
use std::path::Path;
use std::sync::Arc;

/// The S3 service: the object store and a signature verifier.
#[derive(Debug)]
pub struct S3 {
    store: Arc<store::ObjectStore>,
    verifier: Verifier,
    vhost_bases: Vec<String>,
}

/// Everything an operation knows about its request.
pub(crate) struct Cx<'a> {
    pub svc: &'a Services,
    pub auth: auth::Authenticated,
    pub meta: RequestMeta,
    pub headers: http::HeaderMap,
    pub query: router::Query,
    pub policies: Option<PolicySet>,
}

impl Cx<'_> {
    /// The caller's account (`None` for anonymous callers).
    pub fn account(&self) -> Option<&str> {
        self.auth.caller.as_ref().map(Caller::account)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
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
            verifier: Verifier::new(VerifyOptions::s3().with_region(config.region.clone())),
            vhost_bases,
        })
    }

    /// Whether the Host header addresses a bucket (`bucket.localhost:PORT`).
    pub fn is_virtual_host(&self, headers: &http::HeaderMap) -> bool {
        router::virtual_host_bucket(host(headers), &self.vhost_bases).is_some()
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

    /// Handles one S3 request.
    pub async fn handle(
        &self,
        svc: &Services,
        req: http::Request<Body>,
        meta: RequestMeta,
    ) -> Response<Body> {
        let mut id = [0u8; 8];
        svc.rng.fill(&mut id);
        let rid = hex::encode_upper(id);
        let mut hid = [0u8; 24];
        svc.rng.fill(&mut hid);
        let host_id = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(hid)
        };
        let is_head = req.method() == Method::HEAD;
        let mut resp = match self.handle_inner(svc, req, meta).await {
            Ok(r) => r,
            Err(e) => {
                podiam_auth::audit::note_error(e.code, &e.message);
                if e.status >= 500 {
                    tracing::error!(code = e.code, message = %e.message, "s3 request failed");
                } else {
                    tracing::debug!(code = e.code, message = %e.message, "s3 request refused");
                }
                error_response(&e, is_head, &rid, &host_id)
            }
        };
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&rid) {
            h.insert("x-amz-request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&host_id) {
            h.insert("x-amz-id-2", v);
        }
        h.insert("server", HeaderValue::from_static("AmazonS3"));
        resp
    }

    async fn handle_inner(
        &self,
        svc: &Services,
        req: http::Request<Body>,
        meta: RequestMeta,
    ) -> S3Result<Response<Body>> {
        let (parts, body) = req.into_parts();
        let auth = auth::authenticate(svc, &self.verifier, &RequestView::from_parts(&parts))?;
        let query = router::Query::parse(parts.uri.query());
        let vhost = router::virtual_host_bucket(host(&parts.headers), &self.vhost_bases);
        let request = router::route(
            &parts.method,
            parts.uri.path(),
            &query,
            &parts.headers,
            vhost,
        )?;
        podiam_auth::audit::note_request(
            "s3.amazonaws.com",
            request.name(),
            serde_json::json!({"bucketName": request.bucket(), "key": request.key()}),
        );
        let policies = match &auth.caller {
            Some(c) => Some(svc.policy_set(c).map_err(S3Error::internal)?),
            None => None,
        };
        let cx = Cx {
            svc,
            auth,
            meta,
            headers: parts.headers,
            query,
            policies,
        };
        if let Some(checks) = authz::checks(&request, &cx.headers)? {
            for c in &checks {
                self.authorize(&cx, c)?;
            }
        }
        ops::execute(self, &cx, request, body).await
    }

    /// The bucket record, if the bucket exists.
    pub(crate) fn bucket(&self, svc: &Services, name: &str) -> S3Result<Option<Versioned<Bucket>>> {
        svc.store.get::<Bucket>("", name).map_err(S3Error::internal)
    }

    /// Decides one check; `Err(AccessDenied)` unless allowed.
    pub(crate) fn authorize(&self, cx: &Cx<'_>, check: &authz::Check) -> S3Result<()> {
        let svc = cx.svc;
        let bucket = match &check.bucket {
            Some(name) => match self.bucket(svc, name)? {
                Some(b) => Some(b),
                // Creating a bucket is decided without one.
                None if check.action == "s3:CreateBucket" => None,
                None => return Err(S3Error::no_such_bucket(name)),
            },
            None => None,
        };
        let policy: Option<Arc<Option<Policy>>> = bucket.as_ref().map(|b| {
            b.derived(|b| {
                b.policy
                    .as_deref()
                    .and_then(|d| compile_policy(d, PolicyKind::Resource))
            })
        });
        let resource_account = bucket
            .as_ref()
            .map(|b| b.owner.clone())
            .or_else(|| cx.account().map(str::to_string));
        let action = check.action;
        let resource = check.resource.as_str();
        let mut b = match (&cx.auth.caller, &cx.policies) {
            (Some(c), Some(set)) => svc.base_context(c, set, action, resource),
            _ => {
                let now = svc.clock.now();
                RequestContext::builder(Principal::anonymous(), action, resource)
                    .key(
                        "aws:CurrentTime",
                        podiam_core::timefmt::iso8601(now.unix_timestamp()),
                    )
                    .key("aws:EpochTime", now.unix_timestamp().to_string())
                    .key("aws:RequestedRegion", svc.config.region.clone())
            }
        };
        b = cx.meta.apply(b);
        if let Some(v) = &cx.auth.verified {
            b = b
                .key("s3:signatureversion", "AWS4-HMAC-SHA256")
                .key("s3:x-amz-content-sha256", v.payload().to_header_value());
            if let AuthKind::Presigned { .. } = v.kind() {
                let age = (svc.clock.now() - v.timestamp())
                    .whole_milliseconds()
                    .max(0);
                b = b.key("s3:signatureAge", age.to_string());
            }
        }
        if let Some(t) = cx.auth.auth_type() {
            b = b.key("s3:authType", t);
        }
        if let Some(acct) = &resource_account {
            b = b
                .key("s3:ResourceAccount", acct.clone())
                .key("aws:ResourceAccount", acct.clone());
        }
        for (k, v) in &check.keys {
            b = b.key(k.clone(), v.clone());
        }
        for (k, v) in &check.multi_keys {
            b = b.multi_key(k.clone(), v.clone());
        }
        if let Some((ob, ok)) = &check.existing_object
            && let Some(m) = self.store.get(ob, ok)
        {
            for (k, v) in &m.tags {
                b = b.key(format!("s3:ExistingObjectTag/{k}"), v.clone());
            }
        }
        let ctx = b.build();
        let policy_name = check
            .bucket
            .as_deref()
            .map(|n| format!("bucket policy of {n}"))
            .unwrap_or_default();
        let mut eval = match &cx.policies {
            Some(set) => set.evaluation(),
            None => Evaluation::new(),
        };
        if let Some(p) = policy.as_deref().and_then(|p| p.as_ref()) {
            eval = eval.with_resource(&policy_name, p);
        }
        if let Some(a) = &resource_account {
            eval = eval.with_resource_account(a.clone());
        }
        let outcome = evaluate(&eval, &ctx);
        match &cx.auth.caller {
            Some(c) => svc.audit(c, action, resource, &outcome),
            None if outcome.decision != Decision::Allow => tracing::info!(
                target: "podiam::audit",
                caller = "anonymous",
                action,
                resource,
                decision = %outcome.decision,
                explanation = %outcome.explanation,
                "denied"
            ),
            None => {}
        }
        if outcome.decision == Decision::Allow {
            return Ok(());
        }
        // The bucket owner's root can always manage the bucket policy, so a
        // policy cannot lock its owner out.
        if let (Some(Caller::Root { account, .. }), Some(bk)) = (&cx.auth.caller, &bucket)
            && *account == bk.owner
            && matches!(
                action,
                "s3:GetBucketPolicy" | "s3:PutBucketPolicy" | "s3:DeleteBucketPolicy"
            )
        {
            return Ok(());
        }
        Err(access_denied(
            cx,
            action,
            resource,
            &resource_account,
            outcome,
        ))
    }
}

/// AWS's newer explicit message for same-account identity callers; the
/// classic "Access Denied" for anonymous and cross-account callers.
fn access_denied(
    cx: &Cx<'_>,
    action: &str,
    resource: &str,
    resource_account: &Option<String>,
    outcome: podiam_policy::Outcome,
) -> S3Error {
    match &cx.auth.caller {
        Some(c) if resource_account.as_deref() == Some(c.account()) => {
            let denied = Denied {
                decision: outcome.decision,
                explanation: outcome.explanation,
            };
            S3Error::new(
                403,
                "AccessDenied",
                format!(
                    "User: {} is not authorized to perform: {action} on resource: \"{resource}\"{}",
                    c.arn(),
                    denied.reason_suffix(action)
                ),
            )
        }
        _ => S3Error::access_denied(),
    }
}

fn host(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
}

fn error_response(e: &S3Error, is_head: bool, rid: &str, host_id: &str) -> Response<Body> {
    let body = if is_head {
        Body::empty()
    } else {
        Body::from(e.to_xml(rid, host_id))
    };
    let mut r = Response::new(body);
    *r.status_mut() =
        http::StatusCode::from_u16(e.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if !is_head {
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
    }
    if e.code == "InvalidRange"
        && let Some((_, size)) = e.extra.iter().find(|(k, _)| *k == "ActualObjectSize")
        && let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}"))
    {
        r.headers_mut().insert(http::header::CONTENT_RANGE, v);
    }
    r
}
