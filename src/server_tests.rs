//! Every service's authentication and authorization through the real
//! routing table and pipeline, in process: tower `oneshot` (no socket), an
//! in-memory store, a manual clock and seeded randomness.

use super::*;
use axum::body::Body;
use http::{HeaderMap, Method, Uri};
use http_body_util::BodyExt;
use podiam_core::random::SeededRandom;
use podiam_core::session::{SessionClaims, SessionOrigin};
use podiam_core::{Clock, ManualClock};
use podiam_sigv4::{Credentials, PayloadMode, SigningParams, sign};
use podiam_store::Role;
use serde_json::json;
use tower::ServiceExt;

const NOW: i64 = 1_800_000_000;
const ACCOUNT: &str = "000000000000";
const OTHER: &str = "111111111111";

struct Env {
    app: Arc<App>,
    clock: ManualClock,
    admin: Credentials,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    /// The AWS error code in any of podiam's protocols.
    fn code(&self) -> String {
        if let Some(c) = self.headers.get("x-amzn-errortype") {
            return c.to_str().unwrap_or_default().to_string();
        }
        // AWS JSON 1.0: `{"__type": "namespace#Code"}`.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&self.body)
            && let Some(t) = v["__type"].as_str()
        {
            return t.rsplit('#').next().unwrap_or_default().to_string();
        }
        let start = self.body.find("<Code>").map(|i| i + 6);
        let end = self.body.find("</Code>");
        match (start, end) {
            (Some(a), Some(b)) if a <= b => self.body[a..b].to_string(),
            _ => String::new(),
        }
    }

    fn expect(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}",
            self.body
        );
    }
}

async fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::at(NOW);
    let store = Arc::new(Store::open_memory().await.expect("store"));
    let svc = Services::new(
        store,
        Arc::new(clock.clone()),
        Arc::new(SeededRandom::new(7)),
        Config {
            account: ACCOUNT.into(),
            region: "us-east-1".into(),
            public_url: "http://127.0.0.1:4599".into(),
        },
    )
    .await
    .expect("services");
    bootstrap_admin(&svc, dir.path()).await.expect("admin");
    let admin =
        crate::client::read_credentials_file(&dir.path().join("admin-credentials"), "default")
            .expect("admin credentials");
    let dynamodb = podiam_dynamodb::DynamoDb::open(dir.path()).expect("dynamodb");
    let s3 = podiam_s3::S3::open(dir.path(), &svc.config).expect("s3");
    let app = Arc::new(App::new(svc, HttpFetcherConfig::default(), s3, dynamodb).expect("app"));
    Env {
        app,
        clock,
        admin,
        _dir: dir,
    }
}

impl Env {
    /// Sends `req` from 127.0.0.1 through the router.
    async fn send(&self, mut req: http::Request<Body>) -> Reply {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let resp = router(self.app.clone())
            .oneshot(req)
            .await
            .expect("infallible");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// A request signed by `creds` for `service` in `region`, at the
    /// manual clock's time.
    #[allow(clippy::too_many_arguments)]
    fn signed(
        &self,
        creds: Option<&Credentials>,
        service: &str,
        region: &str,
        method: Method,
        target: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> http::Request<Body> {
        let uri: Uri = format!("http://127.0.0.1:4599{target}")
            .parse()
            .expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:4599"));
        if let Some(ct) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).expect("ct"));
        }
        if let Some(creds) = creds {
            let params = SigningParams {
                credentials: creds,
                region,
                service,
                time: self.clock.now(),
                s3: service == "s3",
            };
            sign(
                &method,
                &uri,
                &headers,
                &PayloadMode::for_body(body),
                &params,
            )
            .expect("sign")
            .apply(&mut headers);
        }
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body.to_vec()))
            .expect("request");
        *req.headers_mut() = headers;
        req
    }

    async fn query(&self, creds: Option<&Credentials>, service: &str, form: &str) -> Reply {
        self.send(self.signed(
            creds,
            service,
            "us-east-1",
            Method::POST,
            "/",
            Some("application/x-www-form-urlencoded"),
            form.as_bytes(),
        ))
        .await
    }

    async fn iam(&self, creds: &Credentials, form: &str) -> Reply {
        self.query(Some(creds), "iam", form).await
    }

    async fn s3(
        &self,
        creds: Option<&Credentials>,
        method: Method,
        target: &str,
        body: &[u8],
    ) -> Reply {
        self.send(self.signed(creds, "s3", "us-east-1", method, target, None, body))
            .await
    }

    async fn eks(
        &self,
        creds: Option<&Credentials>,
        method: Method,
        target: &str,
        body: &str,
    ) -> Reply {
        self.send(self.signed(
            creds,
            "eks",
            "us-east-1",
            method,
            target,
            Some("application/json"),
            body.as_bytes(),
        ))
        .await
    }

    /// A DynamoDB call (`op` in `X-Amz-Target`) with a JSON body.
    async fn ddb(&self, creds: Option<&Credentials>, op: &str, body: serde_json::Value) -> Reply {
        let mut req = self.signed(
            creds,
            "dynamodb",
            "us-east-1",
            Method::POST,
            "/",
            Some("application/x-amz-json-1.0"),
            body.to_string().as_bytes(),
        );
        req.headers_mut().insert(
            "x-amz-target",
            HeaderValue::from_str(&format!("DynamoDB_20120810.{op}")).expect("target"),
        );
        self.send(req).await
    }

    /// Creates role `name` (trusting the account) with `policy` inline.
    async fn role(&self, creds: &Credentials, name: &str, policy: &serde_json::Value) {
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]});
        self.iam(
            creds,
            &format!(
                "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument={}",
                pct(&trust.to_string())
            ),
        )
        .await
        .expect(200, "");
        self.iam(
            creds,
            &format!(
                "Action=PutRolePolicy&Version=2010-05-08&RoleName={name}&PolicyName=p&PolicyDocument={}",
                pct(&policy.to_string())
            ),
        )
        .await
        .expect(200, "");
    }

    /// A session of role `name` in `account`, sealed as STS seals them.
    fn session(
        &self,
        account: &str,
        name: &str,
        session_policy: Option<&serde_json::Value>,
    ) -> Credentials {
        let origin = SessionOrigin::AssumeRole {
            source_arn: format!("arn:aws:iam::{account}:root"),
        };
        self.session_from(account, name, session_policy, origin)
    }

    /// [`Env::session`] with how it was obtained.
    fn session_from(
        &self,
        account: &str,
        name: &str,
        session_policy: Option<&serde_json::Value>,
        origin: SessionOrigin,
    ) -> Credentials {
        let role = self
            .app
            .svc
            .store
            .get::<Role>(account, name)
            .expect("store")
            .expect("role");
        let n = name.len();
        let claims = SessionClaims {
            access_key_id: format!("ASIA{n:016}"),
            secret_access_key: format!("secret-of-{name}"),
            account: account.into(),
            role_arn: role.arn.clone(),
            role_id: role.id.clone(),
            role_name: role.name.clone(),
            session_name: "s".into(),
            issued_at: NOW,
            expires_at: NOW + 3600,
            origin,
            session_policy: session_policy.map(|p| p.to_string()),
            policy_arns: vec![],
            tags: vec![],
            transitive_tag_keys: vec![],
            source_identity: None,
            chained: false,
        };
        let token = self.app.svc.issue_session(&claims);
        Credentials::new(&claims.access_key_id, &claims.secret_access_key).with_session_token(token)
    }

    /// The root key of another account, stored directly.
    async fn other_account_root(&self) -> Credentials {
        let k = AccessKey {
            access_key_id: "AKIAOTHERACCOUNT0001".into(),
            secret_access_key: "other-secret".into(),
            account: OTHER.into(),
            principal_arn: format!("arn:aws:iam::{OTHER}:root"),
            active: true,
            created_at: NOW,
        };
        self.app
            .svc
            .store
            .write(vec![Op::create("", &k.access_key_id, &k)])
            .await
            .expect("write");
        Credentials::new(&k.access_key_id, &k.secret_access_key)
    }
}

fn pct(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn allow(actions: &[&str]) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})
}

const GET_ROLE: &str = "Action=GetRole&Version=2010-05-08&RoleName=app";

#[tokio::test]
async fn authentication_failures_in_each_protocol() {
    let e = env().await;
    e.role(&e.admin, "app", &allow(&["iam:GetRole"])).await;
    let wrong = Credentials::new(&e.admin.access_key_id, "not-the-secret");

    // Unsigned.
    e.query(None, "iam", GET_ROLE)
        .await
        .expect(403, "MissingAuthenticationToken");
    let r = e
        .query(None, "sts", "Action=GetCallerIdentity&Version=2011-06-15")
        .await;
    r.expect(403, "MissingAuthenticationToken");
    // (An unsigned request names no service: on the shared port it is S3's.)
    e.s3(Some(&e.admin), Method::PUT, "/bk1", b"")
        .await
        .expect(200, "");
    // S3 serves anonymous callers; with no bucket policy they are refused.
    e.s3(None, Method::GET, "/bk1", b"")
        .await
        .expect(403, "AccessDenied");

    // A wrong secret.
    e.iam(&wrong, GET_ROLE)
        .await
        .expect(403, "SignatureDoesNotMatch");
    let r = e
        .query(
            Some(&wrong),
            "sts",
            "Action=GetCallerIdentity&Version=2011-06-15",
        )
        .await;
    r.expect(403, "SignatureDoesNotMatch");
    e.eks(Some(&wrong), Method::GET, "/clusters", "")
        .await
        .expect(403, "UnrecognizedClientException");
    e.s3(Some(&wrong), Method::GET, "/bk1", b"")
        .await
        .expect(403, "SignatureDoesNotMatch");

    // S3 is regional: a scope for another region is malformed.
    let r = e
        .send(e.signed(
            Some(&e.admin),
            "s3",
            "eu-west-1",
            Method::GET,
            "/bk1",
            None,
            b"",
        ))
        .await;
    r.expect(400, "AuthorizationHeaderMalformed");
    assert!(r.body.contains("<Region>us-east-1</Region>"), "{}", r.body);

    // Expired and tampered sessions.
    let s = e.session(ACCOUNT, "app", None);
    e.iam(&s, GET_ROLE).await.expect(200, "");
    let mut tampered = s.clone();
    let mut t = tampered.session_token.clone().expect("token").into_bytes();
    let i = t.len() / 2;
    t[i] = if t[i] == b'A' { b'B' } else { b'A' };
    tampered.session_token = Some(String::from_utf8(t).expect("ascii"));
    e.iam(&tampered, GET_ROLE)
        .await
        .expect(403, "InvalidClientTokenId");
    e.s3(Some(&tampered), Method::GET, "/bk1", b"")
        .await
        .expect(400, "InvalidToken");
    e.eks(Some(&tampered), Method::GET, "/clusters", "")
        .await
        .expect(403, "UnrecognizedClientException");
    e.clock.advance(3601);
    e.iam(&s, GET_ROLE).await.expect(403, "ExpiredToken");
    e.s3(Some(&s), Method::GET, "/bk1", b"")
        .await
        .expect(400, "ExpiredToken");
    let r = e
        .query(
            Some(&s),
            "sts",
            "Action=GetCallerIdentity&Version=2011-06-15",
        )
        .await;
    r.expect(403, "ExpiredToken");
}

#[tokio::test]
async fn identity_resource_session_and_boundary_policies() {
    let e = env().await;
    let deny_delete = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:GetRole", "iam:ListRoles", "s3:ListBucket", "s3:GetObject", "eks:ListClusters"], "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:ListRoles", "Resource": "*"}]});
    e.role(&e.admin, "app", &deny_delete).await;
    e.role(&e.admin, "bare", &allow(&["iam:GetRole"])).await;
    let app = e.session(ACCOUNT, "app", None);

    // Identity allow, and an explicit deny in the identity policy.
    e.iam(&app, GET_ROLE).await.expect(200, "");
    let r = e.iam(&app, "Action=ListRoles&Version=2010-05-08").await;
    r.expect(403, "AccessDenied");
    assert!(
        r.body
            .contains("with an explicit deny in an identity-based policy"),
        "{}",
        r.body
    );
    e.eks(Some(&app), Method::GET, "/clusters", "")
        .await
        .expect(200, "");
    let r = e.eks(Some(&app), Method::GET, "/clusters/demo", "").await;
    r.expect(403, "AccessDeniedException");

    // A bucket policy grants what no identity policy does; a Deny in it wins.
    e.s3(Some(&e.admin), Method::PUT, "/bk1", b"")
        .await
        .expect(200, "");
    e.s3(Some(&e.admin), Method::PUT, "/bk1/k", b"data")
        .await
        .expect(200, "");
    e.s3(Some(&e.admin), Method::PUT, "/bk1/secret", b"data")
        .await
        .expect(200, "");
    let bare = e.session(ACCOUNT, "bare", None);
    e.s3(Some(&bare), Method::GET, "/bk1/k", b"")
        .await
        .expect(403, "AccessDenied");
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/bare")}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bk1/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bk1/secret"}]});
    e.s3(
        Some(&e.admin),
        Method::PUT,
        "/bk1?policy",
        policy.to_string().as_bytes(),
    )
    .await
    .expect(204, "");
    e.s3(Some(&bare), Method::GET, "/bk1/k", b"")
        .await
        .expect(200, "");
    let r = e.s3(Some(&bare), Method::GET, "/bk1/secret", b"").await;
    r.expect(403, "AccessDenied");
    assert!(
        r.body.contains("explicit deny in a resource-based policy"),
        "{}",
        r.body
    );
    e.s3(Some(&app), Method::GET, "/bk1/secret", b"")
        .await
        .expect(403, "AccessDenied");

    // A session policy narrows; a Deny in it wins.
    let narrow = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bk1/k"}]});
    let narrowed = e.session(ACCOUNT, "app", Some(&narrow));
    let r = e.iam(&narrowed, GET_ROLE).await;
    r.expect(403, "AccessDenied");
    assert!(
        r.body.contains("because no session policy allows"),
        "{}",
        r.body
    );
    let r = e.s3(Some(&narrowed), Method::GET, "/bk1/k", b"").await;
    r.expect(403, "AccessDenied");
    assert!(
        r.body.contains("explicit deny in a session policy"),
        "{}",
        r.body
    );

    // A permissions boundary without iam:GetRole.
    let boundary = allow(&["s3:*"]);
    e.iam(
        &e.admin,
        &format!(
            "Action=CreatePolicy&Version=2010-05-08&PolicyName=bound&PolicyDocument={}",
            pct(&boundary.to_string())
        ),
    )
    .await
    .expect(200, "");
    e.iam(
        &e.admin,
        &format!(
            "Action=PutRolePermissionsBoundary&Version=2010-05-08&RoleName=app&PermissionsBoundary=arn:aws:iam::{ACCOUNT}:policy/bound"
        ),
    )
    .await
    .expect(200, "");
    let bounded = e.session(ACCOUNT, "app", None);
    let r = e.iam(&bounded, GET_ROLE).await;
    r.expect(403, "AccessDenied");
    assert!(
        r.body.contains("because no permissions boundary allows"),
        "{}",
        r.body
    );
    e.s3(Some(&bounded), Method::GET, "/bk1/k", b"")
        .await
        .expect(200, "");
}

#[tokio::test]
async fn cross_account_needs_the_owners_policy() {
    let e = env().await;
    let other_root = e.other_account_root().await;
    // A role in the other account allowed everything on S3 by its own policy.
    e.role(&other_root, "reader", &allow(&["s3:*"])).await;
    let reader = e.session(OTHER, "reader", None);
    e.s3(Some(&e.admin), Method::PUT, "/owned", b"")
        .await
        .expect(200, "");
    e.s3(Some(&e.admin), Method::PUT, "/owned/k", b"data")
        .await
        .expect(200, "");

    // Its identity policy alone does not open another account's bucket.
    let r = e.s3(Some(&reader), Method::GET, "/owned/k", b"").await;
    r.expect(403, "AccessDenied");
    assert!(
        r.body.contains("<Message>Access Denied</Message>"),
        "{}",
        r.body
    );

    // The owner's bucket policy naming the account opens it.
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{OTHER}:root")}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::owned/*"}]});
    e.s3(
        Some(&e.admin),
        Method::PUT,
        "/owned?policy",
        policy.to_string().as_bytes(),
    )
    .await
    .expect(204, "");
    e.s3(Some(&reader), Method::GET, "/owned/k", b"")
        .await
        .expect(200, "");
    // The grant still needs the caller's own identity policy.
    e.role(&other_root, "noperm", &allow(&["iam:GetRole"]))
        .await;
    let noperm = e.session(OTHER, "noperm", None);
    e.s3(Some(&noperm), Method::GET, "/owned/k", b"")
        .await
        .expect(403, "AccessDenied");
}

#[tokio::test]
async fn request_ids_and_audit_lines_agree() {
    let e = env().await;
    e.role(&e.admin, "app", &allow(&["iam:GetRole"])).await;
    let app = e.session(ACCOUNT, "app", None);
    let mut rx = e.app.svc.audit_log.subscribe();
    for (r, header) in [
        (e.iam(&app, GET_ROLE).await, "x-amzn-requestid"),
        (
            e.iam(&app, "Action=ListRoles&Version=2010-05-08").await,
            "x-amzn-requestid",
        ),
        (
            e.s3(Some(&app), Method::GET, "/", b"").await,
            "x-amz-request-id",
        ),
        (
            e.eks(Some(&app), Method::GET, "/clusters", "").await,
            "x-amzn-requestid",
        ),
    ] {
        let rid = r
            .headers
            .get(header)
            .expect("request id")
            .to_str()
            .unwrap()
            .to_string();
        let (_, line) = rx.recv().await.expect("audit line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["requestID"], rid.as_str(), "{line}");
        assert_eq!(v["userIdentity"]["type"], "AssumedRole", "{line}");
        assert_eq!(
            v["userIdentity"]["accessKeyId"],
            app.access_key_id.as_str(),
            "{line}"
        );
        if r.status == 200 {
            assert!(v.get("errorCode").is_none(), "{line}");
        } else {
            assert_eq!(v["errorCode"], r.code().as_str(), "{line}");
            assert_eq!(v["decision"]["allowed"], false, "{line}");
        }
        if r.body.contains("<RequestId>") {
            assert!(
                r.body.contains(&format!("<RequestId>{rid}</RequestId>")),
                "{}",
                r.body
            );
        }
    }
}

mod explain_agrees {
    //! Property: for generated identity and bucket policies, `podiam
    //! explain request` decides every S3 request exactly as S3 does.

    use super::*;
    use proptest::prelude::*;

    const ACTIONS: &[&str] = &[
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "s3:*",
        "s3:Get*",
    ];
    const RESOURCES: &[&str] = &[
        "arn:aws:s3:::bkt/*",
        "arn:aws:s3:::bkt/k1",
        "arn:aws:s3:::bkt",
        "*",
    ];
    const CONDITIONS: &[Option<(&str, &str, &str)>] = &[
        None,
        Some(("IpAddress", "aws:SourceIp", "127.0.0.0/8")),
        Some(("IpAddress", "aws:SourceIp", "10.0.0.0/8")),
        Some(("StringEquals", "s3:ExistingObjectTag/team", "blue")),
        Some(("StringEquals", "aws:ResourceAccount", ACCOUNT)),
        Some(("StringLike", "aws:PrincipalArn", "arn:aws:iam::*:role/app")),
    ];

    fn statement(principal: bool) -> impl Strategy<Value = serde_json::Value> {
        (
            any::<bool>(),
            0..ACTIONS.len(),
            0..RESOURCES.len(),
            0..CONDITIONS.len(),
            0..3usize,
        )
            .prop_map(move |(allow, a, r, c, p)| {
                let mut s = json!({
                    "Effect": if allow { "Allow" } else { "Deny" },
                    "Action": ACTIONS[a],
                    "Resource": RESOURCES[r],
                });
                if let Some((op, k, v)) = CONDITIONS[c] {
                    s["Condition"] = json!({op: {k: v}});
                }
                if principal {
                    s["Principal"] = match p {
                        0 => json!("*"),
                        1 => json!({"AWS": format!("arn:aws:iam::{ACCOUNT}:role/app")}),
                        _ => json!({"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}),
                    };
                }
                s
            })
    }

    fn policy(principal: bool) -> impl Strategy<Value = serde_json::Value> {
        prop::collection::vec(statement(principal), 1..4)
            .prop_map(|s| json!({"Version": "2012-10-17", "Statement": s}))
    }

    async fn explain(e: &Env, s: &Credentials, action: &str, resource: &str) -> String {
        let body = json!({
            "accessKeyId": s.access_key_id,
            "sessionToken": s.session_token,
            "action": action,
            "resource": resource,
        })
        .to_string();
        let r = e
            .send(e.signed(
                Some(&e.admin),
                "podiam",
                "us-east-1",
                Method::POST,
                "/_podiam/explain/request",
                Some("application/json"),
                body.as_bytes(),
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        v["decision"].as_str().expect("decision").to_string()
    }

    async fn case(identity: serde_json::Value, bucket: serde_json::Value) {
        let e = env().await;
        e.role(&e.admin, "app", &identity).await;
        e.s3(Some(&e.admin), Method::PUT, "/bkt", b"")
            .await
            .expect(200, "");
        let mut put = e.signed(
            Some(&e.admin),
            "s3",
            "us-east-1",
            Method::PUT,
            "/bkt/k1",
            None,
            b"v",
        );
        put.headers_mut()
            .insert("x-amz-tagging", HeaderValue::from_static("team=blue"));
        e.send(put).await.expect(200, "");
        e.s3(
            Some(&e.admin),
            Method::PUT,
            "/bkt?policy",
            bucket.to_string().as_bytes(),
        )
        .await
        .expect(204, "");
        let s = e.session(ACCOUNT, "app", None);
        for (method, target, action, resource) in [
            (
                Method::GET,
                "/bkt/k1",
                "s3:GetObject",
                "arn:aws:s3:::bkt/k1",
            ),
            (
                Method::PUT,
                "/bkt/k2",
                "s3:PutObject",
                "arn:aws:s3:::bkt/k2",
            ),
            (Method::GET, "/bkt", "s3:ListBucket", "arn:aws:s3:::bkt"),
        ] {
            let r = e.s3(Some(&s), method, target, b"x").await;
            assert!(matches!(r.status, 200 | 403), "{}", r.body);
            let s3_allowed = r.status == 200;
            let explained = explain(&e, &s, action, resource).await;
            assert_eq!(
                s3_allowed,
                explained == "Allow",
                "{action} on {resource}: S3 {} but explain {explained}\nidentity {identity}\nbucket {bucket}",
                r.status
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn explain_request_decides_as_s3_does(identity in policy(false), bucket in policy(true)) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(case(identity, bucket));
        }
    }
}

const GAMES: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/GameScores";

async fn games_table(e: &Env) {
    e.ddb(
        Some(&e.admin),
        "CreateTable",
        json!({"TableName": "GameScores",
               "KeySchema": [{"AttributeName": "UserId", "KeyType": "HASH"}],
               "AttributeDefinitions": [{"AttributeName": "UserId", "AttributeType": "S"}],
               "BillingMode": "PAY_PER_REQUEST"}),
    )
    .await
    .expect(200, "");
    for user in ["alice", "bob"] {
        e.ddb(
            Some(&e.admin),
            "PutItem",
            json!({"TableName": "GameScores", "Item": {"UserId": {"S": user}, "TopScore": {"N": "1"}, "Secret": {"S": "x"}}}),
        )
        .await
        .expect(200, "");
    }
}

fn get(user: &str, projection: Option<&str>) -> serde_json::Value {
    let mut b = json!({"TableName": "GameScores", "Key": {"UserId": {"S": user}}});
    if let Some(p) = projection {
        b["ProjectionExpression"] = json!(p);
    }
    b
}

#[tokio::test]
async fn dynamodb_authentication_failures() {
    let e = env().await;
    let wrong = Credentials::new(&e.admin.access_key_id, "not-the-secret");
    let r = e.ddb(None, "ListTables", json!({})).await;
    r.expect(400, "MissingAuthenticationTokenException");
    e.ddb(Some(&wrong), "ListTables", json!({}))
        .await
        .expect(400, "InvalidSignatureException");
    let unknown = Credentials::new("AKIAUNKNOWNUNKNOWN00", "x");
    e.ddb(Some(&unknown), "ListTables", json!({}))
        .await
        .expect(400, "UnrecognizedClientException");
    e.role(&e.admin, "app", &allow(&["dynamodb:ListTables"]))
        .await;
    let s = e.session(ACCOUNT, "app", None);
    let r = e.ddb(Some(&s), "ListTables", json!({})).await;
    r.expect(200, "");
    // DynamoDB's own headers: a 52-character request id and the CRC32.
    let rid = r.headers["x-amzn-requestid"].to_str().unwrap();
    assert_eq!(rid.len(), 52, "{rid}");
    assert_eq!(
        r.headers["x-amz-crc32"].to_str().unwrap(),
        crc32fast::hash(r.body.as_bytes()).to_string()
    );
    let mut tampered = s.clone();
    let mut t = tampered.session_token.clone().expect("token").into_bytes();
    let i = t.len() / 2;
    t[i] = if t[i] == b'A' { b'B' } else { b'A' };
    tampered.session_token = Some(String::from_utf8(t).expect("ascii"));
    e.ddb(Some(&tampered), "ListTables", json!({}))
        .await
        .expect(400, "UnrecognizedClientException");
    e.clock.advance(3601);
    e.ddb(Some(&s), "ListTables", json!({}))
        .await
        .expect(400, "ExpiredTokenException");
    // Malformed bodies and unknown targets are refused in DynamoDB's words.
    e.ddb(Some(&e.admin), "NoSuchOperation", json!({}))
        .await
        .expect(400, "UnknownOperationException");
    e.ddb(Some(&e.admin), "GetItem", json!({"Key": {}}))
        .await
        .expect(400, "ValidationException");
}

#[tokio::test]
async fn dynamodb_fine_grained_access_control() {
    let e = env().await;
    games_table(&e).await;
    // The Developer Guide's examples 1 and 2 together: own partition only,
    // listed attributes only, specific attributes selected.
    let fgac = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
        "Resource": GAMES,
        "Condition": {
            "ForAllValues:StringEquals": {
                "dynamodb:LeadingKeys": ["alice"],
                "dynamodb:Attributes": ["UserId", "TopScore"]},
            "StringEqualsIfExists": {
                "dynamodb:Select": "SPECIFIC_ATTRIBUTES",
                "dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"]}}}]});
    e.role(&e.admin, "player", &fgac).await;
    let p = e.session(ACCOUNT, "player", None);
    e.ddb(Some(&p), "GetItem", get("alice", Some("UserId, TopScore")))
        .await
        .expect(200, "");
    let r = e
        .ddb(Some(&p), "GetItem", get("bob", Some("TopScore")))
        .await;
    r.expect(400, "AccessDeniedException");
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        v["Message"],
        format!(
            "User: arn:aws:sts::{ACCOUNT}:assumed-role/player/s is not authorized to perform: dynamodb:GetItem on resource: {GAMES} because no identity-based policy allows the dynamodb:GetItem action"
        )
    );
    // All attributes (Select), another attribute, a scan: denied.
    e.ddb(Some(&p), "GetItem", get("alice", None))
        .await
        .expect(400, "AccessDeniedException");
    e.ddb(Some(&p), "GetItem", get("alice", Some("Secret")))
        .await
        .expect(400, "AccessDeniedException");
    e.ddb(Some(&p), "Scan", json!({"TableName": "GameScores"}))
        .await
        .expect(400, "AccessDeniedException");
    // Query fixes the partition key.
    let q = |user: &str| {
        json!({"TableName": "GameScores", "KeyConditionExpression": "UserId = :u",
               "ProjectionExpression": "TopScore",
               "ExpressionAttributeValues": {":u": {"S": user}}})
    };
    e.ddb(Some(&p), "Query", q("alice")).await.expect(200, "");
    e.ddb(Some(&p), "Query", q("bob"))
        .await
        .expect(400, "AccessDeniedException");
    // Updates: allowed attributes and return values only.
    let upd = |expr: &str, rv: &str| {
        json!({"TableName": "GameScores", "Key": {"UserId": {"S": "alice"}},
               "UpdateExpression": expr, "ExpressionAttributeValues": {":v": {"N": "9"}},
               "ReturnValues": rv})
    };
    e.ddb(
        Some(&p),
        "UpdateItem",
        upd("SET TopScore = :v", "UPDATED_NEW"),
    )
    .await
    .expect(200, "");
    e.ddb(Some(&p), "UpdateItem", upd("SET Secret = :v", "NONE"))
        .await
        .expect(400, "AccessDeniedException");
    e.ddb(Some(&p), "UpdateItem", upd("SET TopScore = :v", "ALL_OLD"))
        .await
        .expect(400, "AccessDeniedException");
}

/// The Developer Guide's web identity federation example: each user of the
/// game reaches only the items under their own provider user id, through
/// `${www.amazon.com:user_id}`; the same with an OIDC provider's `:sub`.
#[tokio::test]
async fn dynamodb_leading_keys_from_the_web_identity_user_id() {
    let e = env().await;
    games_table(&e).await;
    for (role, provider, variable, user) in [
        (
            "game-role",
            "www.amazon.com",
            "${www.amazon.com:user_id}",
            "amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A",
        ),
        (
            "pod-role",
            "oidc.example.com/id/7",
            "${oidc.example.com/id/7:sub}",
            "system:serviceaccount:game:alice",
        ),
    ] {
        let policy = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                       "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                       "dynamodb:BatchWriteItem"],
            "Resource": GAMES,
            "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [variable]}}}]});
        e.role(&e.admin, role, &policy).await;
        let origin = SessionOrigin::WebIdentity {
            provider_arn: format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}"),
            subject: user.into(),
            audience: "app".into(),
        };
        let p = e.session_from(ACCOUNT, role, None, origin);
        let put = |id: &str| json!({"TableName": "GameScores", "Item": {"UserId": {"S": id}, "TopScore": {"N": "1"}}});
        e.ddb(Some(&p), "PutItem", put(user)).await.expect(200, "");
        e.ddb(Some(&p), "GetItem", get(user, None))
            .await
            .expect(200, "");
        e.ddb(Some(&p), "PutItem", put("someone-else"))
            .await
            .expect(400, "AccessDeniedException");
        e.ddb(Some(&p), "GetItem", get("someone-else", None))
            .await
            .expect(400, "AccessDeniedException");
    }
}

#[tokio::test]
async fn dynamodb_resource_policies_and_cross_account() {
    let e = env().await;
    games_table(&e).await;
    e.role(&e.admin, "bare", &allow(&["iam:GetRole"])).await;
    let bare = e.session(ACCOUNT, "bare", None);
    let other = e.other_account_root().await;
    let by_arn = json!({"TableName": GAMES, "Key": {"UserId": {"S": "alice"}}});
    e.ddb(Some(&bare), "GetItem", get("alice", None))
        .await
        .expect(400, "AccessDeniedException");
    e.ddb(Some(&other), "GetItem", by_arn.clone())
        .await
        .expect(400, "AccessDeniedException");
    // The table's policy grants the role (same account) and the other
    // account's root; a Deny in it wins over the admin's identity policy.
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": GAMES,
         "Principal": {"AWS": [format!("arn:aws:iam::{ACCOUNT}:role/bare"), OTHER]}},
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": GAMES, "Principal": "*"}]});
    let r = e
        .ddb(
            Some(&e.admin),
            "PutResourcePolicy",
            json!({"ResourceArn": GAMES, "Policy": policy.to_string()}),
        )
        .await;
    r.expect(200, "");
    let rev = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["RevisionId"]
        .as_str()
        .unwrap()
        .to_string();
    let got = e
        .ddb(
            Some(&e.admin),
            "GetResourcePolicy",
            json!({"ResourceArn": GAMES}),
        )
        .await;
    got.expect(200, "");
    assert!(got.body.contains(&rev), "{}", got.body);
    e.ddb(Some(&bare), "GetItem", get("alice", None))
        .await
        .expect(200, "");
    // Cross-account: the owner's policy and the caller's identity (an
    // account root) both allow.
    let r = e.ddb(Some(&other), "GetItem", by_arn).await;
    r.expect(200, "");
    assert!(r.body.contains("alice"), "{}", r.body);
    // Another account's table under a bare name is that account's own (none).
    e.ddb(Some(&other), "GetItem", get("alice", None))
        .await
        .expect(400, "ResourceNotFoundException");
    let r = e
        .ddb(Some(&e.admin), "DeleteItem", get("alice", None))
        .await;
    r.expect(400, "AccessDeniedException");
    assert!(
        r.body
            .contains("with an explicit deny in a resource-based policy"),
        "{}",
        r.body
    );
    // A stale revision is refused; the right one deletes.
    e.ddb(
        Some(&e.admin),
        "DeleteResourcePolicy",
        json!({"ResourceArn": GAMES, "ExpectedRevisionId": "1"}),
    )
    .await
    .expect(400, "PolicyNotFoundException");
    e.ddb(
        Some(&e.admin),
        "DeleteResourcePolicy",
        json!({"ResourceArn": GAMES, "ExpectedRevisionId": rev}),
    )
    .await
    .expect(200, "");
    e.ddb(
        Some(&e.admin),
        "GetResourcePolicy",
        json!({"ResourceArn": GAMES}),
    )
    .await
    .expect(400, "PolicyNotFoundException");
    e.ddb(Some(&bare), "GetItem", get("alice", None))
        .await
        .expect(400, "AccessDeniedException");
}

#[tokio::test]
async fn dynamodb_session_policies_and_boundaries_narrow() {
    let e = env().await;
    games_table(&e).await;
    e.role(
        &e.admin,
        "app",
        &allow(&["dynamodb:GetItem", "dynamodb:PutItem"]),
    )
    .await;
    let narrowed = e.session(ACCOUNT, "app", Some(&allow(&["dynamodb:GetItem"])));
    e.ddb(Some(&narrowed), "GetItem", get("alice", None))
        .await
        .expect(200, "");
    let r = e
        .ddb(
            Some(&narrowed),
            "PutItem",
            json!({"TableName": "GameScores", "Item": {"UserId": {"S": "carol"}}}),
        )
        .await;
    r.expect(400, "AccessDeniedException");
    assert!(
        r.body.contains("because no session policy allows"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn dynamodb_refusals_are_worded_by_the_engine() {
    let e = env().await;
    games_table(&e).await;
    let msg = |r: &Reply| {
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let r = e
        .ddb(
            Some(&e.admin),
            "PutItem",
            json!({"Item": {"a": {"S": "b"}}}),
        )
        .await;
    r.expect(400, "ValidationException");
    assert_eq!(
        msg(&r),
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null"
    );
    let r = e.ddb(Some(&e.admin), "CreateTable", json!({})).await;
    assert_eq!(
        msg(&r),
        "The parameter 'TableName' is required but was not present in the request"
    );
    // An expression podiam's reader refuses reaches the engine, which words it.
    let r = e
        .ddb(Some(&e.admin), "GetItem", get("alice", Some("!!")))
        .await;
    r.expect(400, "ValidationException");
    assert_eq!(
        msg(&r),
        "Invalid ProjectionExpression: Syntax error; token: \"!\", near: \"!!\""
    );
    // A number spelled -0 for a boolean is named as written.
    let r = e
        .ddb(
            Some(&e.admin),
            "GetItem",
            json!({"TableName": "GameScores", "Key": {"UserId": {"S": "a"}}, "ConsistentRead": -0}),
        )
        .await;
    r.expect(400, "SerializationException");
    // But an unreadable projection never passes an Attributes allow-list.
    e.role(
        &e.admin,
        "reader",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
            "Resource": GAMES, "Condition": {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["UserId"]}}}]}),
    )
    .await;
    let reader = e.session(ACCOUNT, "reader", None);
    e.ddb(Some(&reader), "GetItem", get("alice", Some("!!")))
        .await
        .expect(400, "AccessDeniedException");
}

#[tokio::test]
async fn dynamodb_abac_on_table_tags_and_transactions() {
    let e = env().await;
    games_table(&e).await;
    e.ddb(
        Some(&e.admin),
        "TagResource",
        json!({"ResourceArn": GAMES, "Tags": [{"Key": "team", "Value": "games"}]}),
    )
    .await
    .expect(200, "");
    // Reads only on tables tagged for the caller's team; transactional
    // writes only inside a transaction (dynamodb:EnclosingOperation).
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "games"}}},
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": GAMES,
         "Condition": {"StringEquals": {"dynamodb:EnclosingOperation": "TransactWriteItems"}}}]});
    e.role(&e.admin, "team", &policy).await;
    let t = e.session(ACCOUNT, "team", None);
    e.ddb(Some(&t), "GetItem", get("alice", None))
        .await
        .expect(200, "");
    let put = json!({"TableName": "GameScores", "Item": {"UserId": {"S": "dave"}}});
    e.ddb(Some(&t), "PutItem", put.clone())
        .await
        .expect(400, "AccessDeniedException");
    e.ddb(
        Some(&t),
        "TransactWriteItems",
        json!({"TransactItems": [{"Put": put}]}),
    )
    .await
    .expect(200, "");
    e.ddb(
        Some(&e.admin),
        "UntagResource",
        json!({"ResourceArn": GAMES, "TagKeys": ["team"]}),
    )
    .await
    .expect(200, "");
    e.ddb(Some(&t), "GetItem", get("alice", None))
        .await
        .expect(400, "AccessDeniedException");
}

#[path = "console_tests.rs"]
mod console;
