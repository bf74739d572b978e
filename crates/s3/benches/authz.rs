//! The per-request cost of deciding an S3 call: a header-signed GetObject
//! from a web identity session (`ASIA…` key + sealed `x-amz-security-token`),
//! authenticated with SigV4 and authorized against the role's identity policy
//! and a bucket policy with conditions. Target: ≤ 10 µs per request.
//!
//! - `get_object_sigv4_and_policy`: the target figure. What `S3::handle` does
//!   before the operation runs, through podiam-s3's public pieces: parse the
//!   signature, open the session token, verify SigV4 (cached signing key),
//!   route the request, map it to `s3:GetObject` on the object ARN, load the
//!   caller's policies and the bucket (policy compiled once per version),
//!   build the request context and evaluate identity + bucket policy.
//! - `get_object_sigv4_only` / `get_object_policy_only`: the two halves.
//! - `head_object_handle` / `get_object_4k_handle`: the whole `S3::handle`
//!   (request ids, XML-free response headers, object metadata lookup and, for
//!   GET, reading the 4 KiB body from disk), without the network.
#![allow(missing_docs)]

use axum::body::Body;
use divan::{Bencher, black_box};
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::BodyExt;
use podiam_auth::{Caller, Check, Config, RequestMeta, Services, Subject, compile_policy};
use podiam_core::session::{SessionClaims, SessionOrigin};
use podiam_core::{SystemClock, SystemRandom};
use podiam_policy::{Decision, PolicyKind, evaluate};
use podiam_s3::{S3, action, auth, authz};
use podiam_sigv4::{
    Credentials, PayloadMode, RequestView, SigningParams, Verifier, VerifyOptions, sign,
};
use podiam_store::{AccessKey, Op, Role, Store, Tag};
use std::collections::BTreeMap;
use std::sync::Arc;

fn main() {
    divan::main();
}

const ACCOUNT: &str = "000000000000";
const HOST: &str = "127.0.0.1:4599";
const BUCKET: &str = "bench-bucket";
const KEY: &str = "shared/reports/2026/object-4k.bin";

/// A typical application role policy: list under a prefix, read and write
/// objects of one bucket.
const IDENTITY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bench-bucket",
  "Condition":{"StringLike":{"s3:prefix":["shared/*","home/${aws:PrincipalTag/team}/*"]}}},
 {"Sid":"Objects","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::bench-bucket/*"}]}"#;

/// A bucket policy with conditions: a network guard that applies to
/// everyone, and a tag-scoped grant to the role.
const BUCKET_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"OnlyFromOurNetworks","Effect":"Deny","Principal":"*","Action":"s3:*",
  "Resource":["arn:aws:s3:::bench-bucket","arn:aws:s3:::bench-bucket/*"],
  "Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.0/8","192.168.0.0/16"]}}},
 {"Sid":"TeamReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:role/app"},
  "Action":"s3:GetObject","Resource":"arn:aws:s3:::bench-bucket/shared/*",
  "Condition":{"StringEquals":{"aws:PrincipalTag/team":"data"}}}]}"#;

struct Fixture {
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    svc: Services,
    s3: S3,
    verifier: Verifier,
    session: Credentials,
    meta: RequestMeta,
}

/// A request for `target` (path and query), SigV4-signed in headers the way
/// the aws CLI signs a GetObject.
fn signed_parts(
    creds: &Credentials,
    method: Method,
    target: &str,
    body: &[u8],
) -> (Uri, HeaderMap) {
    let full: Uri = format!("http://{HOST}{target}").parse().expect("uri");
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
    headers.insert(
        http::header::USER_AGENT,
        HeaderValue::from_static("aws-cli/2.27.0 md/awscrt#0.26.1 ua/2.1 os/linux#6.1 md/arch#x86_64 lang/python#3.13.3 cfg/retry-mode#standard md/command#s3api.get-object"),
    );
    headers.insert(
        "amz-sdk-invocation-id",
        HeaderValue::from_static("6b2f0c7e-1c1f-4c1e-9a3e-0d3c9f0a1b2c"),
    );
    headers.insert("amz-sdk-request", HeaderValue::from_static("attempt=1"));
    let params = SigningParams {
        credentials: creds,
        region: "us-east-1",
        service: "s3",
        time: time::OffsetDateTime::now_utc(),
        s3: true,
    };
    sign(
        &method,
        &full,
        &headers,
        &PayloadMode::for_body(body),
        &params,
    )
    .expect("sign")
    .apply(&mut headers);
    let origin_form: Uri = target.parse().expect("target");
    (origin_form, headers)
}

fn request(creds: &Credentials, method: Method, target: &str, body: &[u8]) -> Request<Body> {
    let (uri, headers) = signed_parts(creds, method.clone(), target, body);
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_vec()))
        .expect("request");
    *req.headers_mut() = headers;
    req.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        HeaderValue::from_str(&body.len().to_string()).expect("length"),
    );
    req
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let (svc, s3, session) = rt.block_on(async {
        let store = Arc::new(
            Store::open_sqlite(&dir.path().join("podiam.db"))
                .await
                .expect("store"),
        );
        let svc = Services::new(
            store.clone(),
            Arc::new(SystemClock),
            Arc::new(SystemRandom),
            Config {
                account: ACCOUNT.into(),
                region: "us-east-1".into(),
                public_url: format!("http://{HOST}"),
            },
        )
        .await
        .expect("services");
        let now = svc.now();
        let admin = AccessKey {
            access_key_id: "AKIABENCHADMIN000001".into(),
            secret_access_key: "admin-secret-admin-secret-admin-secret00".into(),
            account: ACCOUNT.into(),
            principal_arn: format!("arn:aws:iam::{ACCOUNT}:root"),
            active: true,
            created_at: now,
        };
        let provider = format!(
            "arn:aws:iam::{ACCOUNT}:oidc-provider/127.0.0.1:4599/clusters/demo"
        );
        let role = Role {
            name: "app".into(),
            id: "AROABENCHROLE0000001".into(),
            path: "/".into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:role/app"),
            trust_policy: format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity"}}]}}"#
            ),
            description: None,
            max_session_duration: 3600,
            permissions_boundary: None,
            tags: vec![Tag {
                key: "team".into(),
                value: "data".into(),
            }],
            inline_policies: BTreeMap::from([("app-s3".to_string(), IDENTITY_POLICY.to_string())]),
            attached_policies: vec![],
            created_at: now,
        };
        store
            .write(vec![
                Op::create("", &admin.access_key_id, &admin),
                Op::create(ACCOUNT, "app", &role),
            ])
            .await
            .expect("write");
        let s3 = S3::open(dir.path(), &svc.config).expect("s3");

        // The admin creates the bucket, its policy and the object.
        let admin_creds = Credentials::new(&admin.access_key_id, &admin.secret_access_key);
        let meta = RequestMeta::default();
        for (method, target, body) in [
            (Method::PUT, format!("/{BUCKET}"), Vec::new()),
            (Method::PUT, format!("/{BUCKET}/{KEY}"), vec![b'x'; 4096]),
            (
                Method::PUT,
                format!("/{BUCKET}?policy"),
                BUCKET_POLICY.as_bytes().to_vec(),
            ),
        ] {
            let resp = s3
                .handle(&svc, request(&admin_creds, method, &target, &body), meta.clone(), "0123456789ABCDEF")
                .await;
            assert!(resp.status().is_success(), "setup {target}: {}", resp.status());
        }

        // A web identity session for the role, sealed like STS seals it.
        let claims = SessionClaims {
            access_key_id: "ASIABENCHSESSION0001".into(),
            secret_access_key: "session-secret-session-secret-session-0".into(),
            account: ACCOUNT.into(),
            role_arn: role.arn.clone(),
            role_id: role.id.clone(),
            role_name: role.name.clone(),
            session_name: "botocore-session-1767268800".into(),
            issued_at: now,
            expires_at: now + 3600,
            origin: SessionOrigin::WebIdentity {
                provider_arn: provider,
                subject: "system:serviceaccount:default:app".into(),
                audience: "sts.amazonaws.com".into(),
            },
            session_policy: None,
            policy_arns: vec![],
            tags: vec![],
            transitive_tag_keys: vec![],
            source_identity: None,
            chained: false,
        };
        let token = svc.sealer().seal(&claims, &SystemRandom);
        let session = Credentials::new(&claims.access_key_id, &claims.secret_access_key)
            .with_session_token(token);
        (svc, s3, session)
    });
    Fixture {
        rt,
        _dir: dir,
        svc,
        s3,
        verifier: Verifier::new(VerifyOptions::s3().with_region("us-east-1")),
        session,
        meta: RequestMeta {
            source_ip: Some("127.0.0.1".into()),
            secure_transport: false,
            user_agent: Some("aws-cli/2.27.0".into()),
            referer: None,
        },
    }
}

/// Authenticates the request (signature + session token).
fn authenticate(
    f: &Fixture,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> podiam_auth::Authenticated {
    f.svc
        .authenticate_with(
            &f.verifier,
            &RequestView::new(method, uri, headers),
            podiam_sigv4::Payload::Declared,
        )
        .expect("authenticated")
        .expect("signed")
}

/// S3's view of an authenticated request.
fn s3_view(a: &podiam_auth::Authenticated) -> auth::Authenticated<'_> {
    auth::Authenticated {
        caller: Some(&a.caller),
        verified: Some(&a.verified),
    }
}

/// Routes and authorizes an authenticated request as `S3::handle` does:
/// S3's checks resolved against the bucket (policy, owner, `s3:*` keys),
/// then the pipeline's one decision.
fn authorize(
    f: &Fixture,
    a: &podiam_auth::Authenticated,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Decision {
    let query = action::Query::parse(uri.query());
    let req = action::route(method, uri.path(), &query, headers, None).expect("route");
    let checks = authz::checks(&req, headers, None)
        .expect("checks")
        .expect("needs checks");
    let caller: &Caller = &a.caller;
    let who = f.svc.authorizer(Subject::Caller(caller), &f.meta);
    let mut decision = Decision::Allow;
    for c in &checks {
        let check = f.s3.resolve(&f.svc, c, &s3_view(a)).expect("resolve");
        let outcome = who.evaluate(&check);
        if outcome.decision != Decision::Allow {
            decision = outcome.decision;
        }
    }
    decision
}

#[divan::bench(sample_count = 500, sample_size = 20)]
fn get_object_sigv4_and_policy(b: Bencher) {
    let f = fixture();
    let (uri, headers) = signed_parts(&f.session, Method::GET, &format!("/{BUCKET}/{KEY}"), b"");
    let a = authenticate(&f, &Method::GET, &uri, &headers);
    assert_eq!(
        authorize(&f, &a, &Method::GET, &uri, &headers),
        Decision::Allow
    );
    b.bench(|| {
        let a = authenticate(
            &f,
            black_box(&Method::GET),
            black_box(&uri),
            black_box(&headers),
        );
        let d = authorize(&f, &a, &Method::GET, &uri, &headers);
        assert_eq!(d, Decision::Allow);
        d
    });
}

#[divan::bench(sample_count = 500, sample_size = 20)]
fn get_object_sigv4_only(b: Bencher) {
    let f = fixture();
    let (uri, headers) = signed_parts(&f.session, Method::GET, &format!("/{BUCKET}/{KEY}"), b"");
    b.bench(|| {
        authenticate(
            &f,
            black_box(&Method::GET),
            black_box(&uri),
            black_box(&headers),
        )
    });
}

#[divan::bench(sample_count = 500, sample_size = 20)]
fn get_object_policy_only(b: Bencher) {
    let f = fixture();
    let (uri, headers) = signed_parts(&f.session, Method::GET, &format!("/{BUCKET}/{KEY}"), b"");
    let a = authenticate(&f, &Method::GET, &uri, &headers);
    b.bench(|| authorize(&f, black_box(&a), &Method::GET, black_box(&uri), &headers));
}

/// The explicit-deny path: the same request from outside the allowed
/// networks (the bucket policy's `NotIpAddress` Deny matches).
#[divan::bench(sample_count = 500, sample_size = 20)]
fn get_object_denied_by_bucket_policy(b: Bencher) {
    let mut f = fixture();
    f.meta.source_ip = Some("203.0.113.9".into());
    let (uri, headers) = signed_parts(&f.session, Method::GET, &format!("/{BUCKET}/{KEY}"), b"");
    b.bench(|| {
        let a = authenticate(
            &f,
            black_box(&Method::GET),
            black_box(&uri),
            black_box(&headers),
        );
        let d = authorize(&f, &a, &Method::GET, &uri, &headers);
        assert_eq!(d, Decision::ExplicitDeny);
        d
    });
}

#[divan::bench(sample_count = 500, sample_size = 20)]
fn head_object_handle(b: Bencher) {
    let f = fixture();
    let target = format!("/{BUCKET}/{KEY}");
    let (uri, headers) = signed_parts(&f.session, Method::HEAD, &target, b"");
    b.bench(|| {
        let mut req = Request::new(Body::empty());
        *req.method_mut() = Method::HEAD;
        *req.uri_mut() = uri.clone();
        *req.headers_mut() = headers.clone();
        let resp =
            f.rt.block_on(f.s3.handle(&f.svc, req, f.meta.clone(), "0123456789ABCDEF"));
        assert_eq!(resp.status(), 200);
        resp
    });
}

#[divan::bench(sample_count = 500, sample_size = 20)]
fn get_object_4k_handle(b: Bencher) {
    let f = fixture();
    let target = format!("/{BUCKET}/{KEY}");
    let (uri, headers) = signed_parts(&f.session, Method::GET, &target, b"");
    b.bench(|| {
        let mut req = Request::new(Body::empty());
        *req.uri_mut() = uri.clone();
        *req.headers_mut() = headers.clone();
        f.rt.block_on(async {
            let resp =
                f.s3.handle(&f.svc, req, f.meta.clone(), "0123456789ABCDEF")
                    .await;
            assert_eq!(resp.status(), 200);
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(body.len(), 4096);
            body
        })
    });
}

/// Where the time of `get_object_sigv4_and_policy` goes, piece by piece.
mod parts {
    use super::*;
    use podiam_policy::decide;
    use podiam_sigv4::{Auth, Payload};

    fn get(f: &Fixture) -> (Uri, HeaderMap) {
        signed_parts(&f.session, Method::GET, &format!("/{BUCKET}/{KEY}"), b"")
    }

    /// AES-256-GCM open of the ~800-byte session token + claims JSON parse.
    #[divan::bench(sample_count = 500, sample_size = 20)]
    fn session_token_open(b: Bencher) {
        let f = fixture();
        let token = f.session.session_token.clone().expect("token");
        let sealer = f.svc.sealer();
        b.bench(|| sealer.open(black_box(&token)).expect("open"));
    }

    /// SigV4 alone: parse the Authorization header, rebuild the canonical
    /// request, HMAC with the cached signing key, compare.
    #[divan::bench(sample_count = 500, sample_size = 20)]
    fn sigv4_parse_and_verify(b: Bencher) {
        let f = fixture();
        let (uri, headers) = get(&f);
        let now = time::OffsetDateTime::now_utc();
        b.bench(|| {
            let view = RequestView::new(&Method::GET, black_box(&uri), black_box(&headers));
            let Ok(Auth::Signed(s)) = f.verifier.parse(&view) else {
                unreachable!("signed")
            };
            f.verifier
                .verify(&s, &f.session.secret_access_key, Payload::Declared, now)
                .expect("verify")
        });
    }

    /// The caller's policies: role lookup + compiled inline policies (cloned).
    #[divan::bench(sample_count = 500, sample_size = 20)]
    fn policy_set(b: Bencher) {
        let f = fixture();
        let (uri, headers) = get(&f);
        let a = authenticate(&f, &Method::GET, &uri, &headers);
        let caller = a.caller;
        b.bench(|| f.svc.policy_set(black_box(&caller)).expect("set"));
    }

    /// The pipeline's check for the GetObject, resolved by S3.
    fn resolved(
        f: &Fixture,
        a: &podiam_auth::Authenticated,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Check {
        let query = action::Query::parse(uri.query());
        let req = action::route(&Method::GET, uri.path(), &query, headers, None).expect("route");
        let c = authz::checks(&req, headers, None)
            .expect("checks")
            .expect("checks");
        f.s3.resolve(&f.svc, &c[0], &s3_view(a)).expect("resolve")
    }

    fn context(
        f: &Fixture,
    ) -> (
        podiam_auth::PolicySet,
        podiam_policy::RequestContext,
        podiam_policy::Policy,
    ) {
        let (uri, headers) = get(f);
        let a = authenticate(f, &Method::GET, &uri, &headers);
        let caller = &a.caller;
        let set = f.svc.policy_set(caller).expect("set");
        let check = resolved(f, &a, &uri, &headers);
        let ctx = f
            .svc
            .authorizer(Subject::Caller(caller), &f.meta)
            .context(&check);
        let policy = compile_policy(BUCKET_POLICY, PolicyKind::Resource).expect("policy");
        (set, ctx, policy)
    }

    /// Route + action mapping + bucket lookup + the request context (about
    /// 20 keys).
    #[divan::bench(sample_count = 500, sample_size = 20)]
    fn route_and_context(b: Bencher) {
        let f = fixture();
        let (uri, headers) = get(&f);
        let a = authenticate(&f, &Method::GET, &uri, &headers);
        let caller = &a.caller;
        let who = f.svc.authorizer(Subject::Caller(caller), &f.meta);
        b.bench(|| who.context(&resolved(&f, &a, black_box(&uri), black_box(&headers))));
    }

    /// Identity + bucket policy evaluation with the explanation S3 keeps
    /// for its audit log (`evaluate`).
    #[divan::bench(sample_count = 500, sample_size = 20)]
    fn evaluate_explained(b: Bencher) {
        let f = fixture();
        let (set, ctx, policy) = context(&f);
        let eval = set
            .evaluation()
            .with_resource("bucket policy", &policy)
            .with_resource_account(ACCOUNT.to_string());
        assert_eq!(evaluate(&eval, &ctx).decision, Decision::Allow);
        b.bench(|| evaluate(black_box(&eval), black_box(&ctx)));
    }

    /// The same evaluation without building an explanation (`decide`).
    #[divan::bench(sample_count = 500, sample_size = 20)]
    fn evaluate_decision_only(b: Bencher) {
        let f = fixture();
        let (set, ctx, policy) = context(&f);
        let eval = set
            .evaluation()
            .with_resource("bucket policy", &policy)
            .with_resource_account(ACCOUNT.to_string());
        assert_eq!(decide(&eval, &ctx), Decision::Allow);
        b.bench(|| decide(black_box(&eval), black_box(&ctx)));
    }
}
