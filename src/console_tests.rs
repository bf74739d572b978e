//! The web console through the real router: its headers, sessions and
//! their cookie, CSRF, what a principal limited by IAM sees, the live
//! decisions, and no secret in any answer.

use super::*;

const HOST: &str = "127.0.0.1:4599";
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A browser's side of the console: its cookie and CSRF token, and every
/// answer it saw (scanned for secrets at the end).
struct Browser<'a> {
    env: &'a Env,
    cookie: Option<String>,
    csrf: Option<String>,
    seen: Vec<String>,
}

impl<'a> Browser<'a> {
    fn new(env: &'a Env) -> Self {
        Browser {
            env,
            cookie: None,
            csrf: None,
            seen: Vec::new(),
        }
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> http::Request<Body> {
        let mut req = http::Request::builder()
            .method(method.clone())
            .uri(format!("http://{HOST}/_podiam/console{path}"))
            .header(header::HOST, HOST)
            .header(header::USER_AGENT, "Mozilla/5.0 (test)")
            .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
            .expect("request");
        let h = req.headers_mut();
        if method == Method::POST {
            h.insert(
                header::ORIGIN,
                HeaderValue::from_static("http://127.0.0.1:4599"),
            );
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(t) = &self.csrf {
                h.insert("x-csrf-token", HeaderValue::from_str(t).expect("csrf"));
            }
        }
        if let Some(c) = &self.cookie {
            h.insert(
                header::COOKIE,
                HeaderValue::from_str(&format!("other=1; podiam-console={c}")).expect("cookie"),
            );
        }
        req
    }

    async fn send(&mut self, req: http::Request<Body>) -> Reply {
        let r = self.env.send(req).await;
        self.seen.push(format!("{:?}\n{}", r.headers, r.body));
        r
    }

    async fn get(&mut self, path: &str) -> Reply {
        let req = self.request(Method::GET, path, None);
        self.send(req).await
    }

    async fn post(&mut self, path: &str, body: serde_json::Value) -> Reply {
        let req = self.request(Method::POST, path, Some(&body));
        self.send(req).await
    }

    async fn sign_in(&mut self, creds: &Credentials) -> Reply {
        let r = self
            .post(
                "/api/signin",
                json!({
                    "accessKeyId": creds.access_key_id,
                    "secretAccessKey": creds.secret_access_key,
                    "sessionToken": creds.session_token,
                }),
            )
            .await;
        if r.status == 200 {
            let set = r.headers[header::SET_COOKIE].to_str().expect("cookie");
            let value = set
                .strip_prefix("podiam-console=")
                .and_then(|v| v.split(';').next())
                .expect("cookie value");
            self.cookie = Some(value.to_string());
            let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
            self.csrf = v["csrfToken"].as_str().map(str::to_string);
        }
        r
    }

    async fn call(&mut self, spec: serde_json::Value) -> Reply {
        self.post("/api/call", spec).await
    }

    /// No answer carried a secret key, a session token or a JWT.
    fn assert_no_secrets(&self, secrets: &[&str]) {
        for s in &self.seen {
            for secret in secrets {
                assert!(!s.contains(secret), "a secret was rendered: {s}");
            }
            assert!(!s.contains("eyJ"), "a token was rendered: {s}");
        }
    }
}

#[tokio::test]
async fn console_pages_carry_a_strict_content_security_policy() {
    let env = env().await;
    let mut b = Browser::new(&env);
    let r = b.get("/").await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.body.contains("console.js"), "{}", r.body);
    for path in ["/", "/console.js", "/console.css", "/api/me", "/nope"] {
        let r = b.get(path).await;
        assert_eq!(r.headers[header::CONTENT_SECURITY_POLICY], CSP, "{path}");
        assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(
            r.headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{path}"
        );
    }
    assert!(!CSP.contains("unsafe"));
    let r = b.get("").await;
    assert_eq!(
        (r.status, &r.headers[header::LOCATION]),
        (308, &HeaderValue::from_static("/_podiam/console/"))
    );
    b.get("/nope").await.expect(404, "NotFound");
}

#[tokio::test]
async fn console_answers_nothing_without_a_session() {
    let env = env().await;
    let mut b = Browser::new(&env);
    b.get("/api/me").await.expect(401, "NotSignedIn");
    b.get("/api/events").await.expect(401, "NotSignedIn");
    b.call(json!({"service":"iam","action":"ListRoles"}))
        .await
        .expect(401, "NotSignedIn");
    b.post("/api/signout", json!({}))
        .await
        .expect(401, "NotSignedIn");
    // A made-up cookie is no session either.
    b.cookie = Some("forged".into());
    b.csrf = Some("forged".into());
    b.get("/api/me").await.expect(401, "NotSignedIn");
    b.call(json!({"service":"iam","action":"ListRoles"}))
        .await
        .expect(401, "NotSignedIn");
}

#[tokio::test]
async fn console_sessions_cookies_csrf_and_sign_out() {
    let env = env().await;
    let admin = env.admin.clone();
    let mut b = Browser::new(&env);
    // Bad credentials, whichever part is wrong, read the same.
    let mut wrong = admin.clone();
    wrong.secret_access_key.push('x');
    b.sign_in(&wrong).await.expect(401, "InvalidCredentials");
    wrong.access_key_id = "AKIAAAAAAAAAAAAAAAAA".into();
    b.sign_in(&wrong).await.expect(401, "InvalidCredentials");
    b.post("/api/signin", json!({"accessKeyId": admin.access_key_id}))
        .await
        .expect(400, "ValidationException");
    // Another site's page cannot sign a visitor in.
    let mut req = b.request(
        Method::POST,
        "/api/signin",
        Some(&json!({"accessKeyId": admin.access_key_id, "secretAccessKey": admin.secret_access_key})),
    );
    req.headers_mut().insert(
        header::ORIGIN,
        HeaderValue::from_static("https://evil.example"),
    );
    b.send(req).await.expect(403, "CrossOriginRequest");
    // Behind a proxy that rewrites Host, the public URL is this server.
    let mut req = b.request(
        Method::POST,
        "/api/signin",
        Some(&json!({"accessKeyId": admin.access_key_id, "secretAccessKey": admin.secret_access_key})),
    );
    req.headers_mut().insert(
        header::HOST,
        HeaderValue::from_static("podiam.internal:4599"),
    );
    b.send(req).await.expect(200, "");

    let r = b.sign_in(&admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r.headers[header::SET_COOKIE].to_str().unwrap().to_string();
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/_podiam/console",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let me: serde_json::Value = serde_json::from_str(&b.get("/api/me").await.body).unwrap();
    assert_eq!(me["arn"], format!("arn:aws:iam::{ACCOUNT}:root"));

    // Every call carries the session's CSRF token.
    let good = b.csrf.take();
    let list = json!({"service":"iam","action":"ListRoles"});
    b.call(list.clone()).await.expect(403, "InvalidCsrfToken");
    b.csrf = Some("not-the-token".into());
    b.call(list.clone()).await.expect(403, "InvalidCsrfToken");
    b.csrf = good;
    let r = b.call(list.clone()).await;
    assert!(
        r.status == 200 && r.body.contains("<ListRolesResponse"),
        "{}",
        r.body
    );
    b.call(json!({"service":"iam","action":"CreateAccessKey"}))
        .await
        .expect(400, "UnsupportedOperation");

    // The page's call is an API call like any other: audited as the admin,
    // from the browser, through the console.
    let lines = env.app.svc.audit_log.recent(false);
    let list_line = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["eventName"] == "ListRoles")
        .expect("ListRoles audited");
    assert_eq!(
        list_line["userIdentity"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
    assert_eq!(list_line["sourceIPAddress"], "127.0.0.1");
    assert!(
        list_line["userAgent"]
            .as_str()
            .unwrap()
            .starts_with("podiam-console/")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"ConsoleLogin\"") && l.contains("signin.amazonaws.com"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"ConsoleLogin\"") && l.contains("InvalidCredentials"))
    );

    // Signing out ends the session in the store: the old cookie is dead.
    let old = (b.cookie.clone(), b.csrf.clone());
    assert_eq!(b.post("/api/signout", json!({})).await.status, 204);
    (b.cookie, b.csrf) = old;
    b.get("/api/me").await.expect(401, "NotSignedIn");
    b.call(list.clone()).await.expect(401, "NotSignedIn");

    // A session expires.
    b.sign_in(&admin).await.expect(200, "");
    env.clock.advance(12 * 3600);
    b.get("/api/me").await.expect(401, "NotSignedIn");
    b.assert_no_secrets(&[&admin.secret_access_key]);
}

#[tokio::test]
async fn console_shows_a_limited_principal_only_what_iam_allows() {
    let env = env().await;
    let admin = env.admin.clone();
    env.role(
        &admin,
        "viewer",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "iam:GetRole", "Resource": format!("arn:aws:iam::{ACCOUNT}:role/viewer")}]}),
    )
    .await;
    env.role(
        &admin,
        "other",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "sts:GetCallerIdentity", "Resource": "*"}]}),
    )
    .await;
    let viewer = env.session(ACCOUNT, "viewer", None);
    let mut b = Browser::new(&env);
    let r = b.sign_in(&viewer).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let me: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(
        me["arn"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/viewer/"),
        "{me}"
    );
    // It may read its own role, and nothing else.
    let r = b
        .call(json!({"service":"iam","action":"GetRole","params":{"RoleName":"viewer"}}))
        .await;
    assert!(
        r.status == 200 && r.body.contains("<RoleName>viewer</RoleName>"),
        "{}",
        r.body
    );
    b.call(json!({"service":"iam","action":"GetRole","params":{"RoleName":"other"}}))
        .await
        .expect(403, "AccessDenied");
    b.call(json!({"service":"iam","action":"ListRoles"}))
        .await
        .expect(403, "AccessDenied");
    b.call(
        json!({"service":"podiam","method":"POST","path":"/_podiam/explain/who-can-assume",
        "body":{"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/viewer")}}),
    )
    .await
    .expect(403, "AccessDeniedException");
    b.get("/api/events")
        .await
        .expect(403, "AccessDeniedException");
    b.assert_no_secrets(&[
        &admin.secret_access_key,
        &viewer.secret_access_key,
        viewer.session_token.as_deref().unwrap(),
    ]);
}

#[tokio::test]
async fn console_streams_decisions_with_their_explanations() {
    let env = env().await;
    let admin = env.admin.clone();
    env.role(
        &admin,
        "limited",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "sts:GetCallerIdentity", "Resource": "*"}]}),
    )
    .await;
    let limited = env.session(ACCOUNT, "limited", None);
    // A denied call before the page opens, and one after.
    env.iam(&limited, "Action=ListRoles&Version=2010-05-08")
        .await
        .expect(403, "AccessDenied");
    let mut b = Browser::new(&env);
    b.sign_in(&admin).await.expect(200, "");
    let mut req = b.request(Method::GET, "/api/events?denied=1", None);
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = router(env.app.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body();
    let mut text = String::new();
    let deadline = std::time::Duration::from_secs(5);
    let mut sent_live = false;
    while !text.contains("\"GetRole\"") {
        if !sent_live && text.contains("\"ListRoles\"") {
            env.iam(
                &limited,
                "Action=GetRole&Version=2010-05-08&RoleName=limited",
            )
            .await
            .expect(403, "AccessDenied");
            sent_live = true;
        }
        let frame = tokio::time::timeout(deadline, body.frame())
            .await
            .expect("an event within 5 s")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    let events: Vec<serde_json::Value> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|e| serde_json::from_str(e).expect("one JSON line per event"))
        .collect();
    let live = events
        .iter()
        .find(|e| e["eventName"] == "GetRole")
        .expect("live event");
    assert_eq!(live["errorCode"], "AccessDenied");
    assert_eq!(live["decision"]["allowed"], false);
    assert_eq!(live["decision"]["explanation"]["decision"], "ImplicitDeny");
    assert!(
        events.iter().all(|e| e["errorCode"].is_string()),
        "denied only: {text}"
    );

    // Signing out ends the open stream at its next event.
    assert_eq!(b.post("/api/signout", json!({})).await.status, 204);
    env.iam(&limited, "Action=ListRoles&Version=2010-05-08")
        .await
        .expect(403, "AccessDenied");
    let end = tokio::time::timeout(deadline, async {
        while let Some(frame) = body.frame().await {
            let data = frame.expect("frame").into_data().unwrap_or_default();
            assert!(data.is_empty(), "an event after sign-out: {data:?}");
        }
    })
    .await;
    assert!(end.is_ok(), "the stream stayed open after sign-out");
}

#[tokio::test]
async fn console_page_calls_answer_without_secrets() {
    let env = env().await;
    let admin = env.admin.clone();
    env.eks(
        Some(&admin),
        Method::POST,
        "/clusters",
        r#"{"name":"demo"}"#,
    )
    .await
    .expect(200, "");
    env.role(
        &admin,
        "app",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "s3:ListBucket", "Resource": "*"}]}),
    )
    .await;
    env.s3(Some(&admin), Method::PUT, "/bucket", b"")
        .await
        .expect(200, "");
    let mut b = Browser::new(&env);
    b.sign_in(&admin).await.expect(200, "");
    let role = format!("arn:aws:iam::{ACCOUNT}:role/app");
    let app = env.session(ACCOUNT, "app", None);
    env.s3(Some(&app), Method::GET, "/bucket", b"")
        .await
        .expect(200, "");
    // One call of each kind the pages make.
    for spec in [
        json!({"service":"sts","action":"GetCallerIdentity"}),
        json!({"service":"iam","action":"ListRoles"}),
        json!({"service":"iam","action":"GetRole","params":{"RoleName":"app"}}),
        json!({"service":"iam","action":"ListRolePolicies","params":{"RoleName":"app"}}),
        json!({"service":"iam","action":"GetRolePolicy","params":{"RoleName":"app","PolicyName":"p"}}),
        json!({"service":"iam","action":"ListOpenIDConnectProviders"}),
        json!({"service":"eks","path":"/clusters"}),
        json!({"service":"eks","path":"/clusters/demo"}),
        json!({"service":"eks","path":"/clusters/demo/pod-identity-associations"}),
        json!({"service":"podiam","path":"/_podiam/clusters/demo/keys"}),
        json!({"service":"podiam","path":"/_podiam/clusters/demo/serviceaccounts"}),
        json!({"service":"podiam","method":"POST","path":"/_podiam/explain/who-can-assume","body":{"roleArn": role}}),
        json!({"service":"podiam","method":"POST","path":"/_podiam/explain/request",
            "body":{"principal":{"kind":"role","roleArn": role},"action":"s3:ListBucket","resource":"arn:aws:s3:::bucket"}}),
        json!({"service":"s3","path":"/"}),
        json!({"service":"dynamodb","target":"ListTables","body":{}}),
        json!({"service":"iam","action":"PutRolePolicy","params":{"RoleName":"app","PolicyName":"AWSRevokeOlderSessions",
            "PolicyDocument": json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],
                "Condition":{"DateLessThan":{"aws:TokenIssueTime":"2027-01-15T08:00:01Z"}}}]}).to_string()}}),
    ] {
        let r = b.call(spec.clone()).await;
        assert_eq!(r.status, 200, "{spec}: {}", r.body);
    }
    // "Revoke sessions" ended the role's sessions issued before it.
    env.s3(Some(&app), Method::GET, "/bucket", b"")
        .await
        .expect(403, "AccessDenied");
    // Lists page with the page's nextToken.
    env.eks(
        Some(&admin),
        Method::POST,
        "/clusters",
        r#"{"name":"demo2"}"#,
    )
    .await
    .expect(200, "");
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let query = match &token {
            Some(t) => format!("maxResults=1&nextToken={t}"),
            None => "maxResults=1".into(),
        };
        let r = b
            .call(json!({"service":"eks","path":"/clusters","query": query}))
            .await;
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        names.extend(v["clusters"].as_array().unwrap().iter().cloned());
        match v["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(names, [json!("demo"), json!("demo2")]);
    let r = b
        .call(json!({"service":"s3","path":"/bucket","query":"policy"}))
        .await;
    r.expect(404, "NoSuchBucketPolicy");
    let keys = b
        .seen
        .iter()
        .find(|s| s.contains("\"keys\""))
        .expect("keys listed");
    assert!(keys.contains("\"state\":\"signing\""), "{keys}");
    let cluster = env
        .app
        .svc
        .store
        .get::<podiam_store::Cluster>(ACCOUNT, "demo")
        .unwrap()
        .unwrap();
    let private: Vec<&str> = cluster
        .keys
        .iter()
        .map(|k| k.private_pkcs8.as_str())
        .collect();
    let mut secrets = vec![admin.secret_access_key.as_str()];
    secrets.extend(private);
    b.assert_no_secrets(&secrets);
}
