//! EKS Pod Identity end to end: associations through the aws CLI,
//! eks-auth's checks, the node agent with the SDKs' container provider, and
//! the IMDS fallback.

use super::common::*;
use podiam_oidc::Algorithm;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

const POD_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowEksAuthToAssumeRoleForPodIdentity","Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;

/// A running `podiam agent`; killed on drop.
struct AgentProc {
    child: Child,
    creds_url: String,
    imds_url: Option<String>,
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_agent(s: &Server, cluster: &str, node_role: Option<&str>) -> AgentProc {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "agent",
        "--listen",
        "127.0.0.1:0",
        "--cluster-name",
        cluster,
    ])
    .env("PODIAM_ENDPOINT", &s.endpoint)
    .env("PODIAM_DATA_DIR", s.data_dir())
    .env("PODIAM_LOG", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Some(r) = node_role {
        cmd.args(["--node-role", r, "--imds-listen", "127.0.0.1:0"]);
    }
    let mut child = cmd.spawn().expect("spawn agent");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let (mut creds_url, mut imds_url) = (None, None);
    while creds_url.is_none() || (node_role.is_some() && imds_url.is_none()) {
        let line = lines.next().expect("agent exited").expect("read");
        if let Some(a) = line.strip_prefix("podiam agent: listening on ") {
            creds_url = Some(format!("{}/v1/credentials", a.trim()));
        } else if let Some(a) = line.strip_prefix("podiam agent: imds on ") {
            imds_url = Some(a.trim().to_string());
        }
    }
    std::thread::spawn(move || for _ in lines {});
    AgentProc {
        child,
        creds_url: creds_url.unwrap_or_default(),
        imds_url,
    }
}

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
    let out = ok(&s.aws(&[
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        "demo",
        "--namespace",
        ns,
        "--service-account",
        sa,
        "--role-arn",
        &format!("arn:aws:iam::000000000000:role/{role}"),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["association"]["associationId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn associations_api_through_the_cli() {
    let s = Server::start();
    let id = setup(&s, "carts-pia", POD_TRUST, "carts", "carts");
    assert!(id.starts_with("a-") && id.len() == 19, "{id}");
    let d = ok(&s.aws(&[
        "eks",
        "describe-pod-identity-association",
        "--cluster-name",
        "demo",
        "--association-id",
        &id,
    ]));
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
    // One association per service account.
    let dup = s.aws(&[
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        "demo",
        "--namespace",
        "carts",
        "--service-account",
        "carts",
        "--role-arn",
        "arn:aws:iam::000000000000:role/carts-pia",
    ]);
    fails_with(&dup, "ResourceInUseException");
    let bad = s.aws(&[
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        "demo",
        "--namespace",
        "x",
        "--service-account",
        "y",
        "--role-arn",
        "not-an-arn",
    ]);
    fails_with(&bad, "InvalidParameterException");
    let missing = s.aws(&[
        "eks",
        "list-pod-identity-associations",
        "--cluster-name",
        "nope",
    ]);
    fails_with(&missing, "ResourceNotFoundException");
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
        &s.aws(&[
            "eks",
            "describe-pod-identity-association",
            "--cluster-name",
            "demo",
            "--association-id",
            &id,
        ]),
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
    let token = pod_token(&s, "demo", "carts", "carts", "p1");
    let (st, body) = curl(&url, &[("Authorization", &token), ("Host", "evil.example")]);
    assert_eq!(st, 403, "{body}");
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
    fails_with(
        &assume(&tok("team-a", t - 1200, t - 600)),
        "ExpiredTokenException",
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
    // IMDSv2 only: no token, no credentials.
    let (st, _) = curl(
        &format!("{imds}/latest/meta-data/iam/security-credentials/"),
        &[],
    );
    assert_eq!(st, 401);
}
