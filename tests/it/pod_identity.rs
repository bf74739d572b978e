//! EKS Pod Identity end to end: associations through the aws CLI,
//! eks-auth's checks, the node agent with the SDKs' container provider, and
//! the IMDS fallback.

use super::common::*;
use podiam_oidc::Algorithm;
use std::process::{Command, Output};

const POD_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowEksAuthToAssumeRoleForPodIdentity","Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;

fn write_token_file(s: &Server, name: &str, token: &str) -> std::path::PathBuf {
    let f = s.dir.path().join(name);
    std::fs::write(&f, token).expect("token file");
    f
}

/// The aws CLI with only the container-credentials variables.
fn aws_in_pod(
    s: &Server,
    agent: &AgentProc,
    token_file: &std::path::Path,
    args: &[&str],
) -> Output {
    Command::new("aws")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.dir.path().join("pod-home"))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &agent.creds_url)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file)
        .output()
        .expect("aws")
}

fn pod_token(s: &Server, cluster: &str, ns: &str, sa: &str, pod: &str) -> String {
    s.token(
        cluster,
        ns,
        sa,
        &["--audience", "pods.eks.amazonaws.com", "--pod", pod],
    )
}

fn setup(s: &Server, role: &str, trust: &str, ns: &str, sa: &str) -> String {
    ok(&s.podiam(&["cluster", "create", "demo"]));
    let f = s.dir.path().join(format!("{role}.json"));
    std::fs::write(&f, trust).unwrap();
    ok(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        role,
        "--assume-role-policy-document",
        &format!("file://{}", f.display()),
    ]));
    let arn = format!("arn:aws:iam::000000000000:role/{role}");
    s.associate("demo", ns, sa, &arn, &[])["associationId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn associations_api_through_the_cli() {
    let s = Server::start();
    let id = setup(&s, "carts-pia", POD_TRUST, "carts", "carts");
    assert!(id.starts_with("a-") && id.len() == 19, "{id}");
    let d = ok(&s.aws(&describe_association(&id)));
    let v: serde_json::Value = serde_json::from_str(&d).unwrap();
    assert_eq!(
        v["association"]["associationArn"],
        format!("arn:aws:eks:us-east-1:000000000000:podidentityassociation/demo/{id}")
    );
    assert_eq!(v["association"]["disableSessionTags"], false);
    let l = ok(&s.aws(&[
        "eks",
        "list-pod-identity-associations",
        "--cluster-name",
        "demo",
        "--namespace",
        "carts",
    ]));
    assert!(l.contains(&id));
    let none = ok(&s.aws(&[
        "eks",
        "list-pod-identity-associations",
        "--cluster-name",
        "demo",
        "--namespace",
        "other",
    ]));
    assert!(!none.contains(&id));
    let create = |ns: &str, sa: &str, role: &str| {
        s.aws(&[
            "eks",
            "create-pod-identity-association",
            "--cluster-name",
            "demo",
            "--namespace",
            ns,
            "--service-account",
            sa,
            "--role-arn",
            role,
        ])
    };
    // One association per service account; AWS names the association that
    // holds it.
    let err = fails_with(
        &create("carts", "carts", "arn:aws:iam::000000000000:role/carts-pia"),
        "ResourceInUseException",
    );
    assert!(
        err.contains(&format!("Association already exists: {id}")),
        "{err}"
    );
    // The role must exist, in the cluster's account: another account's
    // cannot even be passed.
    let with_role = |role: &str| create("x", "y", role);
    let err = fails_with(
        &with_role("arn:aws:iam::000000000000:role/no-such-role"),
        "InvalidParameterException",
    );
    assert!(
        err.contains("Role provided in the request does not exist"),
        "{err}"
    );
    let err = fails_with(
        &with_role("arn:aws:iam::111122223333:role/carts-pia"),
        "AccessDeniedException",
    );
    assert!(err.contains("iam:PassRole"), "{err}");
    fails_with(&with_role("not-an-arn"), "InvalidParameterException");
    let missing = s.aws(&[
        "eks",
        "list-pod-identity-associations",
        "--cluster-name",
        "nope",
    ]);
    fails_with(&missing, "ResourceNotFoundException");
    let err = fails_with(
        &s.aws(&describe_association("a-short")),
        "InvalidParameterException",
    );
    assert!(
        err.contains("The parameter associationId should be 19 characters long."),
        "{err}"
    );
    // A session policy needs disableSessionTags.
    let pol = s.aws(&[
        "eks", "update-pod-identity-association", "--cluster-name", "demo", "--association-id", &id,
        "--policy", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    ]);
    fails_with(&pol, "InvalidParameterException");
    ok(&s.aws(&[
        "eks",
        "update-pod-identity-association",
        "--cluster-name",
        "demo",
        "--association-id",
        &id,
        "--disable-session-tags",
    ]));
    ok(&s.aws(&[
        "eks",
        "delete-pod-identity-association",
        "--cluster-name",
        "demo",
        "--association-id",
        &id,
    ]));
    fails_with(
        &s.aws(&describe_association(&id)),
        "ResourceNotFoundException",
    );
    // The cluster is visible through EKS with its issuer.
    let c = ok(&s.aws(&["eks", "describe-cluster", "--name", "demo"]));
    assert!(
        c.contains(&format!("\"issuer\": \"{}\"", s.issuer("demo"))),
        "{c}"
    );
}

#[test]
fn pod_identity_with_the_agent_aws_cli_and_boto3() {
    let s = Server::start();
    setup(&s, "carts-pia", POD_TRUST, "carts", "carts");
    let agent = spawn_agent(&s, "demo", None);
    let tok = write_token_file(
        &s,
        "pod-token",
        &pod_token(&s, "demo", "carts", "carts", "carts-7d9f"),
    );
    let me = ok(&aws_in_pod(
        &s,
        &agent,
        &tok,
        &["sts", "get-caller-identity"],
    ));
    let v: serde_json::Value = serde_json::from_str(&me).unwrap();
    let arn = v["Arn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:sts::000000000000:assumed-role/carts-pia/eks-demo-carts-7d9f-"),
        "{arn}"
    );

    let out = Command::new("python3")
        .args([
            "-c",
            "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.dir.path())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &agent.creds_url)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &tok)
        .output()
        .unwrap();
    assert!(ok(&out).contains("assumed-role/carts-pia/eks-demo-carts-7d9f-"));

    // A service account without an association: the agent passes eks-auth's 404 through.
    let other = write_token_file(
        &s,
        "other-token",
        &pod_token(&s, "demo", "carts", "orders", "orders-1"),
    );
    let err = aws_in_pod(&s, &agent, &other, &["sts", "get-caller-identity"]);
    assert!(!err.status.success());
}

fn curl(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", url]);
    for (k, v) in headers {
        cmd.args(["-H", &format!("{k}: {v}")]);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn agent_request_validation_and_outage() {
    let mut s = Server::start();
    setup(&s, "carts-pia", POD_TRUST, "carts", "carts");
    let agent = spawn_agent(&s, "demo", None);
    let url = agent.creds_url.clone();
    let (st, body) = curl(&url, &[]);
    assert_eq!(
        (st, body.trim()),
        (400, "Service account token cannot be empty")
    );
    let (st, body) = curl(&url, &[("Authorization", "garbage")]);
    assert_eq!(st, 400);
    assert!(
        body.starts_with("Service account token cannot be parsed"),
        "{body}"
    );
    // golang-jwt's default checks, before eks-auth is asked: exp and nbf.
    let t = now();
    let expired = unsigned_token(&claims(
        "https://x",
        "carts",
        "carts",
        "pods.eks.amazonaws.com",
        t - 600,
        t - 60,
    ));
    let (st, body) = curl(&url, &[("Authorization", &expired)]);
    assert_eq!(
        (st, body.trim()),
        (
            400,
            "Service account token failed basic claim validations: token is expired"
        )
    );
    let mut early = claims(
        "https://x",
        "carts",
        "carts",
        "pods.eks.amazonaws.com",
        t,
        t + 600,
    );
    early["nbf"] = serde_json::json!(t + 300);
    let (st, body) = curl(&url, &[("Authorization", &unsigned_token(&early))]);
    assert_eq!(
        (st, body.trim()),
        (
            400,
            "Service account token failed basic claim validations: token is not valid yet"
        )
    );
    let token = pod_token(&s, "demo", "carts", "carts", "p1");
    let (st, body) = curl(&url, &[("Authorization", &token), ("Host", "evil.example")]);
    assert_eq!(st, 403, "{body}");
    // Upstream's text, its host list printed as Go prints a []string.
    assert!(
        body.starts_with(
            "Access Denied. Called agent through invalid address, please use either ["
        ) && body.ends_with("] address not evil.example\n")
            && !body.contains('"'),
        "{body:?}"
    );
    // Upstream serves the path for any method.
    let out = Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            "-H",
            &format!("Authorization: {token}"),
            &url,
        ])
        .output()
        .expect("curl");
    let posted: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(posted["AccessKeyId"].is_string(), "{posted}");
    let (st, body) = curl(&url, &[("Authorization", &token)]);
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    for k in [
        "AccessKeyId",
        "SecretAccessKey",
        "Token",
        "AccountId",
        "Expiration",
    ] {
        assert!(v.get(k).is_some(), "{k} missing: {body}");
    }
    assert_eq!(v["AccountId"], "000000000000");
    // eks-auth goes away: the agent keeps serving what it has cached.
    s.kill9();
    let (st, again) = curl(&url, &[("Authorization", &token)]);
    assert_eq!(st, 200, "{again}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&again).unwrap()["AccessKeyId"],
        v["AccessKeyId"]
    );
    // A new token (a miss) fails with a 500 while eks-auth is down.
    let other = pod_token_offline_fails(&url);
    assert_eq!(other, 500);
    let (st, metrics) = curl(&agent.creds_url.replace("/v1/credentials", "/metrics"), &[]);
    assert_eq!(st, 200);
    assert!(
        metrics.contains("podiam_agent_cache_total{state=\"hit\"}"),
        "{metrics}"
    );
}

/// A syntactically valid, unexpired token the agent has never seen.
fn pod_token_offline_fails(url: &str) -> u16 {
    let key = new_key(Algorithm::Rs256);
    let t = now();
    let mut c = claims(
        "http://127.0.0.1:1/clusters/x",
        "carts",
        "carts",
        "pods.eks.amazonaws.com",
        t,
        t + 600,
    );
    c["kubernetes.io"]["pod"] = serde_json::json!({"name": "p2", "uid": "u2"});
    curl(url, &[("Authorization", &sign(&key, &c))]).0
}

#[test]
fn eks_auth_checks() {
    let s = Server::start();
    setup(&s, "carts-pia", POD_TRUST, "carts", "carts");
    let assume = |token: &str| {
        s.aws(&[
            "eks-auth",
            "assume-role-for-pod-identity",
            "--cluster-name",
            "demo",
            "--token",
            token,
        ])
    };
    // The happy path reports the association and six session tags' subject.
    let good = pod_token(&s, "demo", "carts", "carts", "p1");
    let out = ok(&assume(&good));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["audience"], "pods.eks.amazonaws.com");
    assert_eq!(v["subject"]["namespace"], "carts");
    assert!(
        v["credentials"]["accessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("ASIA")
    );
    // Wrong audience, unbound token, no association, unknown cluster.
    fails_with(
        &assume(&s.token("demo", "carts", "carts", &["--pod", "p1"])),
        "InvalidTokenException",
    );
    fails_with(
        &assume(&s.token(
            "demo",
            "carts",
            "carts",
            &["--audience", "pods.eks.amazonaws.com"],
        )),
        "InvalidTokenException",
    );
    fails_with(
        &assume(&pod_token(&s, "demo", "carts", "orders", "p1")),
        "ResourceNotFoundException",
    );
    let other = s.aws(&[
        "eks-auth",
        "assume-role-for-pod-identity",
        "--cluster-name",
        "nope",
        "--token",
        &good,
    ]);
    fails_with(&other, "ResourceNotFoundException");
    // A trust policy without sts:TagSession refuses the tagged session.
    let no_tag = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let f = s.dir.path().join("notag.json");
    std::fs::write(&f, no_tag).unwrap();
    ok(&s.aws(&[
        "iam",
        "update-assume-role-policy",
        "--role-name",
        "carts-pia",
        "--policy-document",
        &format!("file://{}", f.display()),
    ]));
    fails_with(&assume(&good), "AccessDeniedException");
}

#[test]
fn eks_auth_expired_token_and_abac_trust() {
    let s = Server::start();
    let key = new_key(Algorithm::Rs256);
    let iss = "https://oidc.example.test/id/POD";
    let jwks = podiam_oidc::jwks_document([key.jwk()]);
    let f = s.dir.path().join("jwks.json");
    std::fs::write(&f, jwks).unwrap();
    ok(&s.podiam(&[
        "cluster",
        "register",
        "ext",
        "--issuer",
        iss,
        "--jwks-file",
        f.to_str().unwrap(),
    ]));
    // Trust scoped by session tag: only namespace "team-a".
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"team-a"}}}]}"#;
    let tf = s.dir.path().join("abac.json");
    std::fs::write(&tf, trust).unwrap();
    ok(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "abac",
        "--assume-role-policy-document",
        &format!("file://{}", tf.display()),
    ]));
    for ns in ["team-a", "team-b"] {
        ok(&s.aws(&[
            "eks",
            "create-pod-identity-association",
            "--cluster-name",
            "ext",
            "--namespace",
            ns,
            "--service-account",
            "app",
            "--role-arn",
            "arn:aws:iam::000000000000:role/abac",
        ]));
    }
    let tok = |ns: &str, iat: i64, exp: i64| {
        let mut c = claims(iss, ns, "app", "pods.eks.amazonaws.com", iat, exp);
        c["kubernetes.io"]["pod"] =
            serde_json::json!({"name": "app-1", "uid": "3f0c2d3e-0000-4000-8000-00000000000a"});
        sign(&key, &c)
    };
    let assume = |token: &str| {
        s.aws(&[
            "eks-auth",
            "assume-role-for-pod-identity",
            "--cluster-name",
            "ext",
            "--token",
            token,
        ])
    };
    let t = now();
    ok(&assume(&tok("team-a", t, t + 600)));
    fails_with(&assume(&tok("team-b", t, t + 600)), "AccessDeniedException");
    let err = fails_with(
        &assume(&tok("team-a", t - 1200, t - 600)),
        "ExpiredTokenException",
    );
    let exp = podiam_core::timefmt::iso8601(t - 600);
    assert!(
        err.contains("The token included in the request is expired: current date/time ")
            && err.contains(&format!("must be before the expiration date/time {exp}.")),
        "{err}"
    );
}

#[test]
fn imds_fallback_with_boto3() {
    let s = Server::start();
    ok(&s.podiam(&["cluster", "create", "demo"]));
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let f = s.dir.path().join("node.json");
    std::fs::write(&f, trust).unwrap();
    ok(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "node-role",
        "--assume-role-policy-document",
        &format!("file://{}", f.display()),
    ]));
    let agent = spawn_agent(&s, "demo", Some("node-role"));
    let imds = agent.imds_url.clone().unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.dir.path())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("{imds}/"))
        .output()
        .unwrap();
    assert_eq!(
        ok(&out).trim(),
        "arn:aws:sts::000000000000:assumed-role/node-role/i-0podiam000000000"
    );
    // botocore's IMDS region fetcher (its `defaults_mode=auto`) asks for
    // `placement/availability-zone/`, with a trailing slash.
    let fetch = format!(
        "from botocore.utils import InstanceMetadataRegionFetcher as F; \
         print(F(config={{'ec2_metadata_service_endpoint': '{imds}/'}}).retrieve_region())"
    );
    let out = Command::new("python3")
        .args(["-c", &fetch])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.dir.path())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("{imds}/"))
        .output()
        .unwrap();
    assert_eq!(ok(&out).trim(), "us-east-1");
    // IMDSv2 only: no token, no credentials.
    let (st, _) = curl(
        &format!("{imds}/latest/meta-data/iam/security-credentials/"),
        &[],
    );
    assert_eq!(st, 401);
}

// ------------------------------------------------------------ S3 and ABAC through the agent

/// Creates role `name` with `trust`; returns its ARN.
fn create_role(s: &Server, name: &str, trust: &str) -> String {
    let f = s.dir.path().join(format!("trust-{name}.json"));
    std::fs::write(&f, trust).unwrap();
    ok(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        name,
        "--assume-role-policy-document",
        &format!("file://{}", f.display()),
    ]));
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn put_inline_policy(s: &Server, role: &str, name: &str, doc: &str) {
    let f = s.dir.path().join(format!("policy-{role}-{name}.json"));
    std::fs::write(&f, doc).unwrap();
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        role,
        "--policy-name",
        name,
        "--policy-document",
        &format!("file://{}", f.display()),
    ]));
}

static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn unique_path(s: &Server, stem: &str) -> std::path::PathBuf {
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    s.dir.path().join(format!("{stem}-{n}"))
}

/// The admin uploads `body` to `bucket/key`.
fn admin_put(s: &Server, bucket: &str, key: &str, body: &str) {
    let f = unique_path(s, "upload");
    std::fs::write(&f, body).unwrap();
    ok(&s.aws(&[
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        key,
        "--body",
        f.to_str().unwrap(),
    ]));
}

/// `aws s3api get-object` as the pod; on success the object's text is in
/// the returned path.
fn pod_get(
    s: &Server,
    agent: &AgentProc,
    tok: &std::path::Path,
    bucket: &str,
    key: &str,
) -> (Output, std::path::PathBuf) {
    let dest = unique_path(s, "download");
    let out = aws_in_pod(
        s,
        agent,
        tok,
        &[
            "s3api",
            "get-object",
            "--bucket",
            bucket,
            "--key",
            key,
            dest.to_str().unwrap(),
        ],
    );
    (out, dest)
}

fn pod_read(
    s: &Server,
    agent: &AgentProc,
    tok: &std::path::Path,
    bucket: &str,
    key: &str,
) -> String {
    let (out, dest) = pod_get(s, agent, tok, bucket, key);
    ok(&out);
    std::fs::read_to_string(dest).unwrap()
}

fn pod_denied(
    s: &Server,
    agent: &AgentProc,
    tok: &std::path::Path,
    bucket: &str,
    key: &str,
) -> String {
    fails_with(&pod_get(s, agent, tok, bucket, key).0, "AccessDenied")
}

/// boto3 with only the container-credentials variables; prints what
/// `script` prints.
fn boto3_in_pod(
    s: &Server,
    agent: &AgentProc,
    token_file: &std::path::Path,
    script: &str,
) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.dir.path().join("pod-home"))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &agent.creds_url)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file)
        .output()
        .expect("python3");
    ok(&out)
}

#[test]
fn pod_identity_s3_follows_the_role_policy() {
    let s = Server::start();
    setup(&s, "carts-pia", POD_TRUST, "carts", "carts");
    put_inline_policy(
        &s,
        "carts-pia",
        "carts-objects",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::carts-bucket/*"}]}"#,
    );
    ok(&s.aws(&["s3", "mb", "s3://carts-bucket"]));
    ok(&s.aws(&["s3", "mb", "s3://orders-bucket"]));
    admin_put(&s, "orders-bucket", "secret.txt", "orders only");
    let agent = spawn_agent(&s, "demo", None);
    let tok = write_token_file(
        &s,
        "carts-token",
        &pod_token(&s, "demo", "carts", "carts", "carts-1"),
    );

    // Allowed: a round trip through the bucket the policy names.
    let f = s.dir.path().join("order.txt");
    std::fs::write(&f, "one order").unwrap();
    ok(&aws_in_pod(
        &s,
        &agent,
        &tok,
        &[
            "s3",
            "cp",
            "--only-show-errors",
            f.to_str().unwrap(),
            "s3://carts-bucket/order.txt",
        ],
    ));
    assert_eq!(
        pod_read(&s, &agent, &tok, "carts-bucket", "order.txt"),
        "one order"
    );

    // Denied: another bucket, and ListAllMyBuckets.
    let err = pod_denied(&s, &agent, &tok, "orders-bucket", "secret.txt");
    assert!(
        err.contains("assumed-role/carts-pia/eks-demo-carts-1-")
            && err.contains("is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::orders-bucket/secret.txt\" because no identity-based policy allows the s3:GetObject action"),
        "{err}"
    );
    fails_with(
        &aws_in_pod(&s, &agent, &tok, &["s3api", "list-buckets"]),
        "AccessDenied",
    );

    // The role's policy is read at request time: once it is gone, the same
    // (agent-cached) credentials are refused.
    ok(&s.aws(&[
        "iam",
        "delete-role-policy",
        "--role-name",
        "carts-pia",
        "--policy-name",
        "carts-objects",
    ]));
    pod_denied(&s, &agent, &tok, "carts-bucket", "order.txt");
}

/// `${aws:PrincipalTag/kubernetes-namespace}` resolves to the session tag
/// EKS attaches, so one role serves every namespace with its own prefix.
const ABAC_IDENTITY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"OwnPrefix","Effect":"Allow","Action":"s3:GetObject",
   "Resource":"arn:aws:s3:::shared/${aws:PrincipalTag/kubernetes-namespace}/*"},
  {"Sid":"ListOwnPrefix","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared",
   "Condition":{"StringLike":{"s3:prefix":"${aws:PrincipalTag/kubernetes-namespace}/*"}}}]}"#;

/// A cluster, role `role` with the Pod Identity trust, associations for
/// `team-a/app` and `team-b/app`, bucket `shared` with `team-a/x` and
/// `team-b/y`, an agent, and a token file for each namespace's pod.
fn abac_setup(s: &Server, role: &str) -> (AgentProc, std::path::PathBuf, std::path::PathBuf) {
    ok(&s.podiam(&["cluster", "create", "demo"]));
    let arn = create_role(s, role, POD_TRUST);
    for ns in ["team-a", "team-b"] {
        s.associate("demo", ns, "app", &arn, &[]);
    }
    ok(&s.aws(&["s3", "mb", "s3://shared"]));
    admin_put(s, "shared", "team-a/x", "for team a");
    admin_put(s, "shared", "team-b/y", "for team b");
    let agent = spawn_agent(s, "demo", None);
    let a = write_token_file(
        s,
        "team-a-token",
        &pod_token(s, "demo", "team-a", "app", "app-a"),
    );
    let b = write_token_file(
        s,
        "team-b-token",
        &pod_token(s, "demo", "team-b", "app", "app-b"),
    );
    (agent, a, b)
}

const BOTO3_TEAM_B: &str = r#"
import boto3, botocore.exceptions
s3 = boto3.client('s3')
print(s3.get_object(Bucket='shared', Key='team-b/y')['Body'].read().decode())
try:
    s3.get_object(Bucket='shared', Key='team-a/x')
    print('READ team-a/x')
except botocore.exceptions.ClientError as e:
    print(e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode'])
"#;

#[test]
fn abac_principal_tag_namespace_in_the_identity_policy() {
    let s = Server::start();
    let (agent, a, b) = abac_setup(&s, "shared-pia");
    put_inline_policy(&s, "shared-pia", "by-namespace", ABAC_IDENTITY);

    // team-a reads A/* and is denied B/*, through the aws CLI.
    assert_eq!(pod_read(&s, &agent, &a, "shared", "team-a/x"), "for team a");
    let err = pod_denied(&s, &agent, &a, "shared", "team-b/y");
    assert!(
        err.contains("assumed-role/shared-pia/eks-demo-app-a-")
            && err.contains("s3:GetObject on resource: \"arn:aws:s3:::shared/team-b/y\""),
        "{err}"
    );
    // Listing is scoped the same way, through s3:prefix.
    let listed = ok(&aws_in_pod(
        &s,
        &agent,
        &a,
        &[
            "s3api",
            "list-objects-v2",
            "--bucket",
            "shared",
            "--prefix",
            "team-a/",
        ],
    ));
    assert!(
        listed.contains("team-a/x") && !listed.contains("team-b/"),
        "{listed}"
    );
    fails_with(
        &aws_in_pod(
            &s,
            &agent,
            &a,
            &[
                "s3api",
                "list-objects-v2",
                "--bucket",
                "shared",
                "--prefix",
                "team-b/",
            ],
        ),
        "AccessDenied",
    );

    // And vice versa for team-b: the aws CLI, then boto3.
    assert_eq!(pod_read(&s, &agent, &b, "shared", "team-b/y"), "for team b");
    pod_denied(&s, &agent, &b, "shared", "team-a/x");
    assert_eq!(
        boto3_in_pod(&s, &agent, &b, BOTO3_TEAM_B),
        "for team b\nAccessDenied 403\n"
    );

    // The tag is what grants: with session tags disabled the variable has
    // no value, and the statement matches nothing (a new pod, so the agent
    // fetches new credentials).
    let list = json_out(&s.aws(&[
        "eks",
        "list-pod-identity-associations",
        "--cluster-name",
        "demo",
        "--namespace",
        "team-a",
    ]));
    let id = list["associations"][0]["associationId"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&s.aws(&[
        "eks",
        "update-pod-identity-association",
        "--cluster-name",
        "demo",
        "--association-id",
        &id,
        "--disable-session-tags",
    ]));
    let untagged = write_token_file(
        &s,
        "team-a-untagged",
        &pod_token(&s, "demo", "team-a", "app", "app-a2"),
    );
    pod_denied(&s, &agent, &untagged, "shared", "team-a/x");
}

#[test]
fn abac_principal_tag_namespace_in_a_bucket_policy() {
    let s = Server::start();
    let (agent, a, b) = abac_setup(&s, "bp-pia");
    // No identity policy at all: the bucket policy names the role (same
    // account), and scopes it by the session tag.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"OwnNamespace","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/bp-pia"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/${{aws:PrincipalTag/kubernetes-namespace}}/*"}}]}}"#
    );
    let f = s.dir.path().join("bucket-policy.json");
    std::fs::write(&f, policy).unwrap();
    ok(&s.aws(&[
        "s3api",
        "put-bucket-policy",
        "--bucket",
        "shared",
        "--policy",
        &format!("file://{}", f.display()),
    ]));

    assert_eq!(pod_read(&s, &agent, &a, "shared", "team-a/x"), "for team a");
    let err = pod_denied(&s, &agent, &a, "shared", "team-b/y");
    assert!(err.contains("arn:aws:s3:::shared/team-b/y"), "{err}");
    assert_eq!(pod_read(&s, &agent, &b, "shared", "team-b/y"), "for team b");
    pod_denied(&s, &agent, &b, "shared", "team-a/x");
    assert_eq!(
        boto3_in_pod(&s, &agent, &b, BOTO3_TEAM_B),
        "for team b\nAccessDenied 403\n"
    );
}

// ------------------------------------------------------------ targetRoleArn (role chaining)

/// An eks-auth or agent expiration: epoch seconds, or an RFC 3339 string
/// (the aws CLI may print timestamps either way; the agent sends RFC 3339).
fn epoch_of(v: &serde_json::Value) -> i64 {
    if let Some(n) = v.as_f64() {
        return n as i64;
    }
    let s = v.as_str().unwrap_or_else(|| panic!("no expiration: {v}"));
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .unix_timestamp()
}

fn assume_for_pod(s: &Server, token: &str) -> Output {
    s.aws(&[
        "eks-auth",
        "assume-role-for-pod-identity",
        "--cluster-name",
        "demo",
        "--token",
        token,
    ])
}

fn update_trust(s: &Server, role: &str, trust: &str) {
    let f = unique_path(s, "trust-update");
    std::fs::write(&f, trust).unwrap();
    ok(&s.aws(&[
        "iam",
        "update-assume-role-policy",
        "--role-name",
        role,
        "--policy-document",
        &format!("file://{}", f.display()),
    ]));
}

#[test]
fn target_role_arn_chains_into_the_target_role() {
    let s = Server::start();
    ok(&s.podiam(&["cluster", "create", "demo"]));
    let cluster_arn =
        json_out(&s.aws(&["eks", "describe-cluster", "--name", "demo"]))["cluster"]["arn"]
            .as_str()
            .unwrap()
            .to_string();
    let primary = create_role(&s, "primary-pia", POD_TRUST);
    // The target's trust as the EKS User Guide writes it ("Access AWS
    // Resources using EKS Pod Identity Target IAM Roles"): the cluster's
    // account, only as the Pod Identity role, with sts:TagSession, scoped by
    // the pod's (transitive) session tags.
    let target_trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "StringEquals": {
                    "aws:RequestTag/eks-cluster-arn": cluster_arn,
                    "aws:RequestTag/kubernetes-namespace": "chain",
                    "aws:RequestTag/kubernetes-service-account": "app",
                },
                "ArnEquals": {"aws:PrincipalARN": primary},
            }
        }]
    })
    .to_string();
    let target = create_role(&s, "target-role", &target_trust);
    // The trust names the account, so the Pod Identity role needs an
    // identity policy allowing it to assume (and tag) the target.
    let assume_target = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":"{target}"}}]}}"#
    );
    put_inline_policy(&s, "primary-pia", "assume-target", &assume_target);
    // Only the target may list buckets: visible proof of whose credentials the pod holds.
    put_inline_policy(
        &s,
        "target-role",
        "list",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#,
    );

    let assoc = s.associate(
        "demo",
        "chain",
        "app",
        &primary,
        &["--target-role-arn", &target],
    );
    assert_eq!(assoc["roleArn"], primary.as_str());
    assert_eq!(assoc["targetRoleArn"], target.as_str());
    let external_id = assoc["externalId"].as_str().unwrap().to_string();
    assert!(!external_id.is_empty(), "{assoc}");

    // eks-auth returns the target role's credentials, capped at 1 h.
    let token = pod_token(&s, "demo", "chain", "app", "app-1");
    let before = now();
    let v = json_out(&assume_for_pod(&s, &token));
    let arn = v["assumedRoleUser"]["arn"].as_str().unwrap();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/target-role/eks-demo-app-1-"
        )),
        "{v}"
    );
    assert_eq!(
        v["podIdentityAssociation"]["associationId"],
        assoc["associationId"]
    );
    assert_eq!(v["subject"]["namespace"], "chain");
    let exp = epoch_of(&v["credentials"]["expiration"]);
    assert!(
        exp > before + 3000 && exp <= now() + 3600,
        "expires in {}s",
        exp - before
    );

    // Through the node agent: the SDK's view is the target role, 1 h.
    let agent = spawn_agent(&s, "demo", None);
    let (st, body) = curl(&agent.creds_url, &[("Authorization", &token)]);
    assert_eq!(st, 200, "{body}");
    let creds: serde_json::Value = serde_json::from_str(&body).unwrap();
    let exp = epoch_of(&creds["Expiration"]);
    assert!(
        exp > before + 3000 && exp <= now() + 3600,
        "expires in {}s",
        exp - before
    );
    let tok = write_token_file(&s, "chain-token", &token);
    let me = json_out(&aws_in_pod(
        &s,
        &agent,
        &tok,
        &["sts", "get-caller-identity"],
    ));
    assert!(
        me["Arn"].as_str().unwrap().starts_with(&format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/target-role/eks-demo-app-1-"
        )),
        "{me}"
    );
    ok(&aws_in_pod(&s, &agent, &tok, &["s3api", "list-buckets"]));

    // The target's trust scopes by the transitive session tags: another
    // namespace's association to the same roles is refused.
    s.associate(
        "demo",
        "other",
        "app",
        &primary,
        &["--target-role-arn", &target],
    );
    fails_with(
        &assume_for_pod(&s, &pod_token(&s, "demo", "other", "app", "o-1")),
        "AccessDeniedException",
    );

    // An account-wide trust needs the Pod Identity role's identity policy.
    ok(&s.aws(&[
        "iam",
        "delete-role-policy",
        "--role-name",
        "primary-pia",
        "--policy-name",
        "assume-target",
    ]));
    fails_with(&assume_for_pod(&s, &token), "AccessDeniedException");

    // A trust naming the Pod Identity role itself needs no identity policy;
    // the association's externalId arrives as sts:ExternalId.
    let by_role = |external: &str, actions: serde_json::Value| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": primary},
                "Action": actions,
                "Condition": {"StringEquals": {"sts:ExternalId": external}},
            }]
        })
        .to_string()
    };
    update_trust(
        &s,
        "target-role",
        &by_role(
            &external_id,
            serde_json::json!(["sts:AssumeRole", "sts:TagSession"]),
        ),
    );
    let v = json_out(&assume_for_pod(&s, &token));
    assert!(
        v["assumedRoleUser"]["arn"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/target-role/"),
        "{v}"
    );
    update_trust(
        &s,
        "target-role",
        &by_role(
            "some-other-id",
            serde_json::json!(["sts:AssumeRole", "sts:TagSession"]),
        ),
    );
    fails_with(&assume_for_pod(&s, &token), "AccessDeniedException");
    // The pod's session tags are transitive, so the chained AssumeRole
    // carries them and the target must allow sts:TagSession.
    update_trust(
        &s,
        "target-role",
        &by_role(&external_id, serde_json::json!("sts:AssumeRole")),
    );
    fails_with(&assume_for_pod(&s, &token), "AccessDeniedException");
}

/// `aws eks create-pod-identity-association help`, on `--policy`: "If you
/// specify both a TargetRoleArn and a policy, the policy restrictions apply
/// only to the target role's permissions, not to the initial role used for
/// assuming the target role."
#[test]

fn association_policy_with_a_target_role_limits_the_target_session() {
    let s = Server::start();
    ok(&s.podiam(&["cluster", "create", "demo"]));
    let primary = create_role(&s, "primary-pia", POD_TRUST);
    let target_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{primary}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let target = create_role(&s, "target-role", &target_trust);
    put_inline_policy(
        &s,
        "target-role",
        "s3",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:GetObject"],"Resource":"*"}]}"#,
    );
    ok(&s.aws(&["s3", "mb", "s3://data"]));
    admin_put(&s, "data", "k", "v");
    // The association narrows the target's permissions to GetObject.
    s.associate("demo", "ns",
        "app",
        &primary,
        &[
            "--target-role-arn",
            &target,
            "--disable-session-tags",
            "--policy",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
        ],
    );
    let token = pod_token(&s, "demo", "ns", "app", "app-1");
    // eks-auth must succeed: the policy does not restrict the first role
    // (podiam answers AccessDeniedException here, because it makes the
    // policy a session policy of the first role's session, which then may
    // not call sts:AssumeRole).
    let v = json_out(&assume_for_pod(&s, &token));
    assert!(
        v["assumedRoleUser"]["arn"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/target-role/"),
        "{v}"
    );
    // … and the target's credentials are narrowed by it.
    let agent = spawn_agent(&s, "demo", None);
    let tok = write_token_file(&s, "narrow-token", &token);
    assert_eq!(pod_read(&s, &agent, &tok, "data", "k"), "v");
    fails_with(
        &aws_in_pod(&s, &agent, &tok, &["s3api", "list-buckets"]),
        "AccessDenied",
    );
}

// ------------------------------------------------- DynamoDB, shared by namespaces

/// One table for every namespace: each pod reaches only the partition
/// named after its namespace, through Pod Identity's session tag.
const TENANT_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"OwnPartition","Effect":"Allow",
  "Action":["dynamodb:GetItem","dynamodb:PutItem","dynamodb:UpdateItem","dynamodb:DeleteItem","dynamodb:Query","dynamodb:BatchGetItem","dynamodb:BatchWriteItem","dynamodb:ConditionCheckItem","dynamodb:PartiQLSelect","dynamodb:PartiQLUpdate"],
  "Resource":"arn:aws:dynamodb:us-east-1:000000000000:table/tenants",
  "Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["${aws:PrincipalTag/kubernetes-namespace}"]}}},
 {"Sid":"Describe","Effect":"Allow","Action":"dynamodb:DescribeTable","Resource":"arn:aws:dynamodb:us-east-1:000000000000:table/tenants"}]}"#;

/// boto3's resource API in a pod: waiter, batch writer, put/get, a
/// paginated query, and the refusals of another namespace's partition.
const TENANT_BOTO3: &str = r#"
import json, os, boto3, botocore
from boto3.dynamodb.conditions import Key
me = os.environ["TENANT"]
ddb = boto3.resource("dynamodb")
t = ddb.Table("tenants")
t.wait_until_exists()
with t.batch_writer() as b:
    for i in range(30):
        b.put_item(Item={"tenant": me, "sk": "r%02d" % i, "v": i})
t.put_item(Item={"tenant": me, "sk": "one", "v": 1})
assert t.get_item(Key={"tenant": me, "sk": "one"})["Item"]["v"] == 1
# (The resource's own client serializes Python values itself.)
client = boto3.client("dynamodb")
n = 0
for page in client.get_paginator("query").paginate(TableName="tenants", KeyConditionExpression="tenant = :t", ExpressionAttributeValues={":t": {"S": me}}, PaginationConfig={"PageSize": 7}):
    n += page["Count"]
assert n == 31, n
assert len(t.query(KeyConditionExpression=Key("tenant").eq(me))["Items"]) == 31
client.transact_write_items(TransactItems=[{"Put": {"TableName": "tenants", "Item": {"tenant": {"S": me}, "sk": {"S": "tx"}}}}])
def denied(f):
    try:
        f()
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDeniedException", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        return e.response["Error"]["Message"]
    raise AssertionError("allowed")
print(denied(lambda: t.get_item(Key={"tenant": "team-a", "sk": "one"})))
denied(lambda: t.scan())
denied(lambda: client.transact_write_items(TransactItems=[{"Put": {"TableName": "tenants", "Item": {"tenant": {"S": "team-a"}, "sk": {"S": "tx"}}}}]))
def raw(op, body):
    # A body no SDK would build, signed as any other: swapped in before
    # the signature is computed.
    def swap(request, **kw):
        request.data = json.dumps(body).encode()
    ev = "before-sign.dynamodb." + op
    client.meta.events.register(ev, swap)
    try:
        if op == "TransactWriteItems":
            return client.transact_write_items(TransactItems=[{"Put": {"TableName": "tenants", "Item": {"tenant": {"S": me}, "sk": {"S": "tx"}}}}])
        return client.execute_statement(Statement="SELECT * FROM tenants")
    finally:
        client.meta.events.unregister(ev, swap)
# The Put after a null member is still another namespace's partition.
denied(lambda: raw("TransactWriteItems", {"TransactItems": [{"Delete": None, "Put": {"TableName": "tenants", "Item": {"tenant": {"S": "team-a"}, "sk": {"S": "tx"}}}}]}))
# PartiQL: the own partition in either operand order, then the refusals.
stmt = lambda s: client.execute_statement(Statement=s)
assert len(stmt("SELECT * FROM tenants WHERE tenant = '%s' AND sk = 'one'" % me)["Items"]) == 1
stmt("UPDATE tenants SET v = 2 WHERE '%s' = tenant AND sk = 'one'" % me)
denied(lambda: stmt("UPDATE tenants SET v = 2 WHERE 'team-a' = tenant AND sk = 'one'"))
denied(lambda: stmt("SELECT * FROM tenants WHERE tenant = '%s' OR sk = 'one'" % me))
# A number runs into OR as the engine reads it: still a scan of every partition.
denied(lambda: stmt("SELECT * FROM tenants WHERE tenant = '%s' AND v = 1OR sk = 'one'" % me))
denied(lambda: stmt("UPDATE tenants SET v = 3 -- '\n WHERE tenant = 'team-a' AND sk = 'one' -- '"))
# A batch is decided statement by statement: the other partition's read
# fails in its slot, the own one runs.
r = client.batch_execute_statement(Statements=[
    {"Statement": "SELECT * FROM tenants WHERE tenant = '%s' AND sk = 'one'" % me},
    {"Statement": "SELECT * FROM tenants WHERE tenant = 'team-a' AND sk = 'one'"},
    {"Statement": "SELECT * FROM tenants WHERE tenant = ? AND sk = 'r01'", "Parameters": [{"S": me}]}])["Responses"]
assert len(r) == 3, r
assert r[0]["Item"]["v"] == {"N": "2"} and r[2]["Item"]["v"] == {"N": "1"}, r
assert r[1]["Error"]["Code"] == "AccessDenied", r
assert "dynamodb:PartiQLSelect on resource: arn:aws:dynamodb:us-east-1:000000000000:table/tenants" in r[1]["Error"]["Message"], r
r = client.batch_execute_statement(Statements=[{"Statement": "SELECT * FROM tenants WHERE tenant = 'team-a' AND sk = 'one'"}])["Responses"]
assert [x["Error"]["Code"] for x in r] == ["AccessDenied"], r
print("BOTO3 TENANT OK")
"#;

#[test]
fn namespaces_share_a_dynamodb_table_by_leading_keys() {
    let s = Server::start();
    setup(&s, "tenant-pia", POD_TRUST, "team-a", "app");
    ok(&s.aws(&[
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        "demo",
        "--namespace",
        "team-b",
        "--service-account",
        "app",
        "--role-arn",
        "arn:aws:iam::000000000000:role/tenant-pia",
    ]));
    let f = s.dir.path().join("tenant-policy.json");
    std::fs::write(&f, TENANT_POLICY).unwrap();
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "tenant-pia",
        "--policy-name",
        "own-partition",
        "--policy-document",
        &format!("file://{}", f.display()),
    ]));
    ok(&s.aws(&[
        "dynamodb",
        "create-table",
        "--table-name",
        "tenants",
        "--attribute-definitions",
        "AttributeName=tenant,AttributeType=S",
        "AttributeName=sk,AttributeType=S",
        "--key-schema",
        "AttributeName=tenant,KeyType=HASH",
        "AttributeName=sk,KeyType=RANGE",
        "--billing-mode",
        "PAY_PER_REQUEST",
    ]));
    let agent = spawn_agent(&s, "demo", None);

    // team-a with aws-sdk-rust.
    let tok_a = write_token_file(
        &s,
        "team-a-token",
        &pod_token(&s, "demo", "team-a", "app", "app-a1"),
    );
    let out = s
        .pod_command(example("sdk_dynamodb_suite"))
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &agent.creds_url)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &tok_a)
        .env("SUITE_TABLE", "tenants")
        .env("SUITE_TENANT", "team-a")
        .output()
        .unwrap();
    assert!(ok(&out).contains("SDK DYNAMODB SUITE OK"));

    // team-b with boto3's resource API.
    let tok_b = write_token_file(
        &s,
        "team-b-token",
        &pod_token(&s, "demo", "team-b", "app", "app-b1"),
    );
    let out = s
        .pod_command("python3")
        .args(["-c", TENANT_BOTO3])
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &agent.creds_url)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &tok_b)
        .env("TENANT", "team-b")
        .output()
        .unwrap();
    let stdout = ok(&out);
    assert!(stdout.contains("BOTO3 TENANT OK"), "{stdout}");
    assert!(
        stdout.contains(
            "is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/tenants because no identity-based policy allows the dynamodb:GetItem action"
        ),
        "{stdout}"
    );
}

/// Passing a role to Pod Identity takes `iam:PassRole` on it (with
/// `iam:PassedToService`); a target role is assumed with the external id
/// "region/account/cluster/namespace/service account"; deleting a cluster
/// deletes its associations.
#[test]
fn associations_pass_the_role_and_go_with_their_cluster() {
    let s = Server::start();
    setup(&s, "carts-pia", POD_TRUST, "carts", "carts");
    // A pod of the cluster whose role may create associations, and pass
    // roles only once the policy says so.
    let operator = s.setup_irsa("ops", "operator", "kube-system", "operator");
    let token = s.token("ops", "kube-system", "operator", &[]);
    let allow = |statements: serde_json::Value| {
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
        ok(&s.aws(&[
            "iam",
            "put-role-policy",
            "--role-name",
            "operator",
            "--policy-name",
            "operator",
            "--policy-document",
            &s.json_file("operator.json", &policy),
        ]));
    };
    let create = [
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        "demo",
        "--namespace",
        "orders",
        "--service-account",
        "orders",
        "--role-arn",
        "arn:aws:iam::000000000000:role/carts-pia",
        "--target-role-arn",
        "arn:aws:iam::000000000000:role/target",
    ];
    allow(
        serde_json::json!([{"Effect": "Allow", "Action": "eks:CreatePodIdentityAssociation", "Resource": "*"}]),
    );
    let err = fails_with(
        &s.aws_as_pod(&operator, &token, &create),
        "AccessDeniedException",
    );
    assert!(
        err.contains("iam:PassRole on resource: arn:aws:iam::000000000000:role/carts-pia"),
        "{err}"
    );
    allow(serde_json::json!([
        {"Effect": "Allow", "Action": "eks:CreatePodIdentityAssociation", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:PassedToService": "pods.eks.amazonaws.com"}}}]));
    let a = json_out(&s.aws_as_pod(&operator, &token, &create))["association"].clone();
    assert_eq!(
        a["externalId"], "us-east-1/000000000000/demo/orders/orders",
        "{a}"
    );

    ok(&s.aws(&["eks", "delete-cluster", "--name", "demo"]));
    ok(&s.podiam(&["cluster", "create", "demo"]));
    let listed = json_out(&s.aws(&[
        "eks",
        "list-pod-identity-associations",
        "--cluster-name",
        "demo",
    ]));
    assert_eq!(listed["associations"], serde_json::json!([]), "{listed}");
}

/// EKS's tagging API on clusters and associations, decided with the tag
/// condition keys.
#[test]
fn eks_tagging_api() {
    let s = Server::start();
    let id = setup(&s, "carts-pia", POD_TRUST, "carts", "carts");
    let assoc = format!("arn:aws:eks:us-east-1:{ACCOUNT}:podidentityassociation/demo/{id}");
    let cluster = format!("arn:aws:eks:us-east-1:{ACCOUNT}:cluster/demo");
    let tags_of = |arn: &str| {
        json_out(&s.aws(&["eks", "list-tags-for-resource", "--resource-arn", arn]))["tags"].clone()
    };
    for arn in [&assoc, &cluster] {
        ok(&s.aws(&[
            "eks",
            "tag-resource",
            "--resource-arn",
            arn,
            "--tags",
            "team=carts,env=dev",
        ]));
        assert_eq!(
            tags_of(arn),
            serde_json::json!({"env": "dev", "team": "carts"})
        );
        ok(&s.aws(&[
            "eks",
            "untag-resource",
            "--resource-arn",
            arn,
            "--tag-keys",
            "env",
        ]));
        assert_eq!(tags_of(arn), serde_json::json!({"team": "carts"}));
    }
    let d = json_out(&s.aws(&describe_association(&id)));
    assert_eq!(
        d["association"]["tags"],
        serde_json::json!({"team": "carts"})
    );
    fails_with(
        &s.aws(&[
            "eks",
            "list-tags-for-resource",
            "--resource-arn",
            &format!("arn:aws:eks:us-east-1:{ACCOUNT}:cluster/nope"),
        ]),
        "NotFoundException",
    );
    // A role may tag only with team=carts.
    let role = s.setup_irsa("ops", "tagger", "kube-system", "tagger");
    let token = s.token("ops", "kube-system", "tagger", &[]);
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "eks:TagResource", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/team": "carts"}}},
        {"Effect": "Allow", "Action": "eks:DescribePodIdentityAssociation", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "carts"}}}]});
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "tagger",
        "--policy-name",
        "tagger",
        "--policy-document",
        &s.json_file("tagger.json", &policy),
    ]));
    let tag = |t: &str| {
        s.aws_as_pod(
            &role,
            &token,
            &["eks", "tag-resource", "--resource-arn", &assoc, "--tags", t],
        )
    };
    ok(&tag("team=carts"));
    fails_with(&tag("team=orders"), "AccessDeniedException");
    // The association's own tags decide what the role may describe.
    let other = s.associate(
        "demo",
        "orders",
        "orders",
        &format!("arn:aws:iam::{ACCOUNT}:role/carts-pia"),
        &[],
    );
    let describe = |id: &str| s.aws_as_pod(&role, &token, &describe_association(id));
    ok(&describe(&id));
    fails_with(
        &describe(other["associationId"].as_str().unwrap()),
        "AccessDeniedException",
    );
}
