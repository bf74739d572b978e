//! The AWS SDK for Java 2.x and aws-sdk-go-v2 as pods run them: the probes in
//! `tests/clients/java` (a shaded jar, main class `PodProbe`) and
//! `tests/clients/go` (`pod-probe`) take credentials only from their SDK's
//! default chain and the endpoint only from the environment, then make seed
//! 002's carts calls: STS GetCallerIdentity; the STS error codes for another
//! namespace's token, an edited payload and an expired token; S3
//! ListObjectsV2/PutObject/GetObject with the SDK's default checksums, a 6 MiB
//! body and a body of unknown length (Go: through its transfer manager, a
//! three-part multipart upload) read back byte for byte, and AccessDenied on
//! another bucket; DynamoDB PutItem, GetItem, UpdateItem (ALL_NEW), the
//! paginated index Query, DeleteItem (ALL_OLD) and AccessDeniedException on
//! another table, every DynamoDB response checked against its `x-amz-crc32`
//! by the SDK. Go also runs a client across refreshes of 15-minute sessions,
//! and re-reads a rotated Pod Identity token file on its next refresh.
//! Each prints one JSON summary line and `JAVA POD PROBE OK` / `GO POD PROBE
//! OK`, and exits non-zero at the first unexpected result.
//!
//! Nothing is built here: `.ci/run` builds the probes before `cargo test`
//! (`mvn -q -B package -DskipTests` in tests/clients/java, `go build -o
//! pod-probe .` in tests/clients/go), and a missing probe fails the test.

use super::common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const TABLE: &str = "eks-workshop-carts";
const DENIED_TABLE: &str = "other-table";
const BUCKET: &str = "carts-assets";
const DENIED_BUCKET: &str = "orders-assets";
const IRSA_ROLE: &str = "eks-workshop-carts-dynamo-irsa";
const PIA_ROLE: &str = "eks-workshop-carts-dynamo-pia";
const POD_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;

/// A built probe and how to start it.
enum Probe {
    Java(PathBuf),
    Go(PathBuf),
}

impl Probe {
    fn clients() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
    }

    fn java() -> Probe {
        let jar = Self::clients().join("java/target/podiam-pod-probe.jar");
        assert!(
            jar.is_file(),
            "the Java probe is not built: {} is missing; run `mvn -q -B package -DskipTests` \
             in tests/clients/java (JDK 17 and Maven; .ci/run does this before cargo test)",
            jar.display()
        );
        Probe::Java(jar)
    }

    fn go() -> Probe {
        let bin = Self::clients().join("go/pod-probe");
        assert!(
            bin.is_file(),
            "the Go probe is not built: {} is missing; run `go build -o pod-probe .` \
             in tests/clients/go (.ci/run does this before cargo test)",
            bin.display()
        );
        Probe::Go(bin)
    }

    fn marker(&self) -> &'static str {
        match self {
            Probe::Java(_) => "JAVA POD PROBE OK",
            Probe::Go(_) => "GO POD PROBE OK",
        }
    }

    /// The probe in a clean pod environment (`Server::pod_command`), with
    /// this test's bucket and table names.
    fn command(&self, s: &Server) -> Command {
        let mut c = match self {
            Probe::Java(jar) => {
                let mut c = s.pod_command("java");
                c.arg("-jar").arg(jar);
                c
            }
            Probe::Go(bin) => s.pod_command(bin),
        };
        c.env("PROBE_TABLE", TABLE)
            .env("PROBE_DENIED_TABLE", DENIED_TABLE)
            .env("PROBE_BUCKET", BUCKET)
            .env("PROBE_DENIED_BUCKET", DENIED_BUCKET);
        c
    }
}

/// Runs the probe; asserts it succeeded with its marker last and returns its
/// JSON summary.
fn run_probe(probe: &Probe, mut cmd: Command) -> Value {
    let out: Output = cmd.output().expect("start the probe (java on PATH?)");
    let stdout = ok(&out);
    let mut lines = stdout.lines().rev();
    let (marker, summary) = (lines.next(), lines.next().unwrap_or(""));
    assert_eq!(
        marker,
        Some(probe.marker()),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(summary).unwrap_or_else(|e| panic!("summary is not JSON ({e}): {stdout}"))
}

/// The workshop's world: cluster `demo`, the carts table (and another table),
/// a bucket the carts roles may use and one they may not; role
/// `eks-workshop-carts-dynamo-irsa` for `carts-irsa:carts` through IRSA and
/// `eks-workshop-carts-dynamo-pia` for `carts:carts` through Pod Identity, both
/// with the workshop's policy plus the bucket.
struct World {
    s: Server,
    irsa_role: String,
    irsa_token: PathBuf,
    pod_token: PathBuf,
    agent: AgentProc,
    /// `PROBE_BAD_TOKEN_*`: the role and the tokens STS must refuse.
    bad_tokens: Vec<(String, String)>,
}

fn world() -> World {
    world_on(Server::start())
}

fn world_on(s: Server) -> World {
    let irsa_role = s.setup_irsa("demo", IRSA_ROLE, "carts-irsa", "carts");
    let f = s.dir.path().join("pod-trust.json");
    std::fs::write(&f, POD_TRUST).expect("trust");
    ok(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        PIA_ROLE,
        "--assume-role-policy-document",
        &format!("file://{}", f.display()),
    ]));
    ok(&s.aws(&[
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        "demo",
        "--namespace",
        "carts",
        "--service-account",
        "carts",
        "--role-arn",
        &format!("arn:aws:iam::{ACCOUNT}:role/{PIA_ROLE}"),
    ]));
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "AllAPIActionsOnCart", "Effect": "Allow", "Action": "dynamodb:*",
         "Resource": [format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}"),
                      format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}/index/*")]},
        {"Sid": "Assets", "Effect": "Allow", "Action": "s3:*",
         "Resource": [format!("arn:aws:s3:::{BUCKET}"), format!("arn:aws:s3:::{BUCKET}/*")]}]});
    let doc = s.json_file("carts-policy", &policy);
    for role in [IRSA_ROLE, PIA_ROLE] {
        ok(&s.aws(&[
            "iam",
            "put-role-policy",
            "--role-name",
            role,
            "--policy-name",
            "carts",
            "--policy-document",
            &doc,
        ]));
    }
    for b in [BUCKET, DENIED_BUCKET] {
        ok(&s.aws(&["s3api", "create-bucket", "--bucket", b]));
    }
    for t in [TABLE, DENIED_TABLE] {
        create_carts_table(&s, t);
    }
    // Token files as the kubelet writes them: the JWT, no trailing newline
    // (the SDKs' container providers refuse a token with one).
    let irsa_token = s.dir.path().join("irsa-token");
    std::fs::write(&irsa_token, s.token("demo", "carts-irsa", "carts", &[])).expect("token");
    let pod_token = s.dir.path().join("pod-token");
    std::fs::write(
        &pod_token,
        s.token(
            "demo",
            "carts",
            "carts",
            &["--audience", "pods.eks.amazonaws.com", "--pod", "carts-1"],
        ),
    )
    .expect("token");
    let agent = spawn_agent(&s, "demo", None);
    let bad_tokens = bad_tokens(&s);
    World {
        s,
        irsa_role,
        irsa_token,
        pod_token,
        agent,
        bad_tokens,
    }
}

/// An issuer whose key this test holds, a role trusting its `carts-irsa:carts`,
/// and three tokens STS must refuse: another namespace's (AccessDenied), one
/// whose payload was edited after signing (InvalidIdentityToken), an expired
/// one (ExpiredTokenException). The unedited token is accepted.
fn bad_tokens(s: &Server) -> Vec<(String, String)> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = new_key(podiam_oidc::Algorithm::Rs256);
    let iss = "https://oidc.carts.example.test/id/probe";
    s.register_external("ext", iss, &[&key]);
    let hp = iss.trim_start_matches("https://");
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{hp}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            format!("{hp}:sub"): "system:serviceaccount:carts-irsa:carts",
            format!("{hp}:aud"): "sts.amazonaws.com"}}}]});
    ok(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "carts-ext",
        "--assume-role-policy-document",
        &s.json_file("carts-ext-trust", &trust),
    ]));
    let role = format!("arn:aws:iam::{ACCOUNT}:role/carts-ext");
    let t = now();
    let good = sign(
        &key,
        &claims(iss, "carts-irsa", "carts", "sts.amazonaws.com", t, t + 3600),
    );
    ok(&s.aws(&[
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        &role,
        "--role-session-name",
        "good",
        "--web-identity-token",
        &good,
    ]));
    let parts: Vec<&str> = good.split('.').collect();
    let payload =
        String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).expect("payload")).expect("utf8");
    let edited_payload = payload.replace("carts-irsa:carts", "carts-irsa:admin");
    assert_ne!(payload, edited_payload);
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(edited_payload),
        parts[2]
    );
    vec![
        ("PROBE_BAD_TOKEN_ROLE".into(), role),
        (
            "PROBE_BAD_TOKEN_WRONG_NAMESPACE".into(),
            sign(
                &key,
                &claims(
                    iss,
                    "carts-other",
                    "carts",
                    "sts.amazonaws.com",
                    t,
                    t + 3600,
                ),
            ),
        ),
        ("PROBE_BAD_TOKEN_EDITED_PAYLOAD".into(), edited),
        (
            "PROBE_BAD_TOKEN_EXPIRED".into(),
            sign(
                &key,
                &claims(
                    iss,
                    "carts-irsa",
                    "carts",
                    "sts.amazonaws.com",
                    t - 7200,
                    t - 3600,
                ),
            ),
        ),
    ]
}

/// What both modes print alike: the S3 and DynamoDB results.
fn assert_calls(v: &Value) {
    let s3 = &v["s3"];
    assert_eq!(s3["bucket"], BUCKET, "{v}");
    assert_eq!(s3["listObjectsV2"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(s3["getObject"]["bytes"].as_u64().unwrap_or(0) > 0, "{v}");
    for d in s3["denied"].as_array().expect("s3 denied") {
        assert_eq!(
            (&d["status"], &d["code"]),
            (&json!(403), &json!("AccessDenied")),
            "{v}"
        );
    }
    let ddb = &v["dynamodb"];
    assert_eq!(ddb["table"], TABLE, "{v}");
    assert_eq!(ddb["queryIndexPages"], json!([2, 2, 1]), "{v}");
    assert_eq!(
        ddb["updateItemAllNew"]["quantity"]
            .to_string()
            .trim_matches('"'),
        "3",
        "{v}"
    );
    assert_eq!(
        ddb["deleteItemAllOld"]["quantity"]
            .to_string()
            .trim_matches('"'),
        "3",
        "{v}"
    );
    let denied = ddb["denied"].as_array().expect("dynamodb denied");
    assert_eq!(denied.len(), 2, "{v}");
    for d in denied {
        assert_eq!(
            (&d["status"], &d["code"]),
            (&json!(400), &json!("AccessDeniedException")),
            "{v}"
        );
        assert_eq!(d["requestId"].as_str().map(str::len), Some(52), "{v}");
    }
}

/// IRSA: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, the session name the
/// SDK generates. Returns the summary.
fn irsa(w: &World, probe: &Probe) -> Value {
    irsa_with(w, probe, &[])
}

/// [`irsa`] with more environment for the probe.
fn irsa_with(w: &World, probe: &Probe, env: &[(&str, &str)]) -> Value {
    let mut cmd = probe.command(&w.s);
    cmd.envs(env.iter().copied());
    cmd.env("AWS_ROLE_ARN", &w.irsa_role)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &w.irsa_token)
        // aws-sdk-go-v2 builds the web identity provider's STS client before
        // it reads AWS_ENDPOINT_URL (config resolves credentials before the
        // base endpoint, and the STS client skips the shared config sources
        // when AWS_ENDPOINT_URL is set without AWS_ENDPOINT_URL_STS), so
        // AssumeRoleWithWebIdentity would go to sts.us-east-1.amazonaws.com.
        // AWS_ENDPOINT_URL_STS is honoured by both SDKs.
        .env("AWS_ENDPOINT_URL_STS", &w.s.endpoint)
        .envs(w.bad_tokens.iter().map(|(k, v)| (k, v)));
    let v = run_probe(probe, cmd);
    assert_eq!(v["mode"], "irsa", "{v}");
    for (case, code, status) in [
        ("WRONG_NAMESPACE", "AccessDenied", 403),
        ("EDITED_PAYLOAD", "InvalidIdentityToken", 400),
        ("EXPIRED", "ExpiredTokenException", 400),
    ] {
        assert_eq!(v["stsErrors"][case]["code"], code, "{v}");
        assert_eq!(v["stsErrors"][case]["status"], status, "{v}");
    }
    // 6 MiB and a stream of unknown length, each read back byte for byte.
    assert_eq!(v["s3"]["large"]["bytes"], 6 << 20, "{v}");
    assert!(v["s3"]["stream"]["bytes"].as_u64() > Some(3 << 20), "{v}");
    let prefix = format!("arn:aws:sts::{ACCOUNT}:assumed-role/{IRSA_ROLE}/");
    let arn = v["arn"].as_str().expect("arn");
    assert!(arn.starts_with(&prefix), "{v}");
    assert_eq!(v["sessionName"].as_str(), arn.strip_prefix(&prefix), "{v}");
    assert_calls(&v);
    v
}

/// Pod Identity: the agent on `http://127.0.0.1:PORT/v1/credentials` and the
/// pod's token file; eks-auth names the session. Returns the summary.
fn pod_identity(w: &World, probe: &Probe) -> Value {
    pod_identity_with(w, probe, &w.pod_token, &[])
}

/// [`pod_identity`] with this token file and more environment.
fn pod_identity_with(w: &World, probe: &Probe, token: &Path, env: &[(&str, &str)]) -> Value {
    let mut cmd = probe.command(&w.s);
    cmd.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &w.agent.creds_url)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token)
        .env("PROBE_EXPECT_ROLE", PIA_ROLE)
        .envs(env.iter().copied());
    let v = run_probe(probe, cmd);
    assert_eq!(v["mode"], "pod-identity", "{v}");
    assert_eq!(
        v["containerCredentialsFullUri"],
        w.agent.creds_url.as_str(),
        "{v}"
    );
    assert!(
        w.agent.creds_url.starts_with("http://127.0.0.1:"),
        "{}",
        w.agent.creds_url
    );
    let arn = v["arn"].as_str().expect("arn");
    assert!(
        arn.starts_with(&format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/{PIA_ROLE}/eks-demo-carts-1-"
        )),
        "{v}"
    );
    assert_calls(&v);
    v
}

/// The audit line of the web identity exchange names the session the SDK
/// generated and carries the SDK's user agent: the credential provider
/// itself talked to podiam.
fn assert_sts_call_audited(s: &Server, session: &str, user_agent_prefix: &str) {
    let mut line = Value::Null;
    let found = wait_for(Duration::from_secs(5), || {
        line = std::fs::read_to_string(s.data_dir().join("audit.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| {
                l["eventName"] == "AssumeRoleWithWebIdentity"
                    && l["requestParameters"]["RoleSessionName"] == session
            })
            .unwrap_or(Value::Null);
        !line.is_null()
    });
    assert!(
        found,
        "no AssumeRoleWithWebIdentity audited for session {session}"
    );
    assert!(
        line["userAgent"]
            .as_str()
            .is_some_and(|ua| ua.starts_with(user_agent_prefix)),
        "{line}"
    );
    assert_eq!(line["decision"]["allowed"], true, "{line}");
    assert_eq!(
        line["userIdentity"]["userName"], "system:serviceaccount:carts-irsa:carts",
        "{line}"
    );
}

#[test]
fn java_sdk_v2_as_a_pod_with_irsa_and_pod_identity() {
    let probe = Probe::java();
    let w = world();

    let v = irsa(&w, &probe);
    assert_eq!(v["sdk"], "aws-sdk-java-v2", "{v}");
    // No AWS_ROLE_SESSION_NAME: the SDK's own `aws-sdk-java-<epoch millis>`.
    let session = v["sessionName"].as_str().expect("session");
    let millis = session.strip_prefix("aws-sdk-java-").unwrap_or("");
    assert!(
        !millis.is_empty() && millis.bytes().all(|b| b.is_ascii_digit()),
        "{v}"
    );
    assert!(
        v["credentialsFeatures"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("CREDENTIALS_STS_ASSUME_ROLE_WEB_ID"))),
        "{v}"
    );
    // PutObject over http: signed aws-chunked with a CRC32 trailer.
    let sent = &v["s3"]["putObject"]["sent"];
    assert_eq!(
        sent["x-amz-content-sha256"], "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "{v}"
    );
    assert_eq!(sent["x-amz-trailer"], "x-amz-checksum-crc32", "{v}");
    // A body of unknown length: the SDK buffers it and sends it aws-chunked.
    assert_eq!(v["s3"]["stream"]["bytes"], (3 << 20) + 17, "{v}");
    assert_eq!(
        v["s3"]["stream"]["sent"]["x-amz-decoded-content-length"], "3145745",
        "{v}"
    );
    assert_sts_call_audited(&w.s, session, "aws-sdk-java/");

    let v = pod_identity(&w, &probe);
    assert!(
        v["credentialsFeatures"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("CREDENTIALS_HTTP"))),
        "{v}"
    );
}

/// Issue #15: both SDKs' S3 calls (Java's chunk-signed upload with a CRC32
/// trailer and its buffered stream, Go's signed payload and its
/// transfer-manager multipart) with the objects on a 3-node Garage cluster.
#[test]
fn java_and_go_sdks_with_s3_on_a_garage_backend() {
    let (_garage, s) = super::s3::on_garage();
    let w = world_on(s);
    for probe in [Probe::java(), Probe::go()] {
        let v = irsa(&w, &probe);
        assert!(v["s3"]["stream"]["bytes"].as_u64() > Some(3 << 20), "{v}");
    }
}

#[test]
fn go_sdk_v2_as_a_pod_with_irsa_and_pod_identity() {
    let probe = Probe::go();
    let w = world();

    let v = irsa(&w, &probe);
    assert_eq!(v["sdk"], "aws-sdk-go-v2", "{v}");
    assert_eq!(v["credentialsSource"], "WebIdentityCredentials", "{v}");
    // No AWS_ROLE_SESSION_NAME: the SDK's own session name, the time in
    // nanoseconds.
    let session = v["sessionName"].as_str().expect("session");
    assert!(
        session.len() >= 18 && session.bytes().all(|b| b.is_ascii_digit()),
        "{v}"
    );
    // PutObject over http: a signed payload with a CRC32 header.
    let sent = &v["s3"]["putObject"]["sent"];
    assert!(sent["X-Amz-Checksum-Crc32"].is_string(), "{v}");
    // A stream of unknown length through the transfer manager: three parts.
    assert_eq!(v["s3"]["stream"]["bytes"], (11 << 20) + 17, "{v}");
    // The kubelet rotates the pod's token file (now for pod carts-2): the
    // container provider reads it again on its next refresh.
    let rotated = w.s.dir.path().join("go-pod-token");
    std::fs::copy(&w.pod_token, &rotated).expect("copy the token");
    let next = w.s.token(
        "demo",
        "carts",
        "carts",
        &["--audience", "pods.eks.amazonaws.com", "--pod", "carts-2"],
    );
    let v = pod_identity_with(
        &w,
        &probe,
        &rotated,
        &[
            ("PROBE_NEXT_POD_TOKEN", &next),
            ("PROBE_NEXT_POD_NAME", "carts-2"),
        ],
    );
    assert!(
        v["arnAfterTokenRotation"]
            .as_str()
            .is_some_and(|a| a.contains(&format!("assumed-role/{PIA_ROLE}/eks-demo-carts-2-"))),
        "{v}"
    );
    // 15-minute sessions refreshed while the client runs.
    let v = irsa_with(&w, &probe, &[("PROBE_REFRESH_SECONDS", "12")]);
    assert!(v["refresh"]["sessions"].as_u64() >= Some(2), "{v}");
    assert_eq!(v["refresh"]["sessionSeconds"], 900, "{v}");
    assert_sts_call_audited(&w.s, session, "aws-sdk-go-v2/");

    let v = pod_identity(&w, &probe);
    assert_eq!(v["credentialsSource"], "CredentialsEndpointProvider", "{v}");
}
