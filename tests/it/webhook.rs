//! `podiam webhook mutate` (offline) and `podiam webhook` (HTTPS) from the real binary.

use super::common::BIN;
use base64::Engine;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: team-a
spec:
  serviceAccountName: reader
  containers:
  - name: app
    image: busybox
"#;

const SA: &str = r#"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"reader","namespace":"team-a","annotations":{"eks.amazonaws.com/role-arn":"arn:aws:iam::000000000000:role/reader","eks.amazonaws.com/token-expiration":"3600"}}}"#;

fn files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pod.yaml"), POD).unwrap();
    std::fs::write(dir.path().join("sa.json"), SA).unwrap();
    std::fs::write(
        dir.path().join("assoc.json"),
        r#"{"identities":[{"namespace":"team-a","serviceAccount":"reader"}]}"#,
    )
    .unwrap();
    dir
}

fn mutate(dir: &std::path::Path, extra: &[&str]) -> (serde_json::Value, String) {
    let out = Command::new(BIN)
        .args(["webhook", "mutate", "--pod"])
        .arg(dir.join("pod.yaml"))
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn webhook_mutate_cli() {
    let dir = files();
    let sa = dir.path().join("sa.json");
    let sa = sa.to_str().unwrap();
    // IRSA: the AdmissionReview response with the patch base64-encoded, as on the wire.
    let (v, why) = mutate(
        dir.path(),
        &["--service-account", sa, "--aws-default-region", "eu-west-1"],
    );
    assert!(
        why.starts_with("mutated: service account team-a/reader gets IRSA"),
        "{why}"
    );
    assert_eq!(v["kind"], "AdmissionReview");
    assert_eq!(v["response"]["allowed"], true);
    let patch = base64::engine::general_purpose::STANDARD
        .decode(v["response"]["patch"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(patch).unwrap(),
        r#"[{"op":"add","path":"/spec/volumes","value":[{"name":"aws-iam-token","projected":{"sources":[{"serviceAccountToken":{"audience":"sts.amazonaws.com","expirationSeconds":3600,"path":"token"}}]}}]},{"op":"add","path":"/spec/containers","value":[{"name":"app","image":"busybox","env":[{"name":"AWS_DEFAULT_REGION","value":"eu-west-1"},{"name":"AWS_REGION","value":"eu-west-1"},{"name":"AWS_ROLE_ARN","value":"arn:aws:iam::000000000000:role/reader"},{"name":"AWS_WEB_IDENTITY_TOKEN_FILE","value":"/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}],"resources":{},"volumeMounts":[{"name":"aws-iam-token","readOnly":true,"mountPath":"/var/run/secrets/eks.amazonaws.com/serviceaccount"}]}]}]"#
    );

    // Pod Identity wins; --patched prints the pod.
    let assoc = dir.path().join("assoc.json");
    let (pod, why) = mutate(
        dir.path(),
        &[
            "--service-account",
            sa,
            "--associations",
            assoc.to_str().unwrap(),
            "--patched",
            "--agent-ip-family",
            "ipv6",
        ],
    );
    assert!(
        why.contains("pod identity via http://[fd00:ec2::23]/v1/credentials"),
        "{why}"
    );
    assert_eq!(
        pod["metadata"]["labels"]["eks.amazonaws.com/pod-identity"],
        "enabled"
    );
    assert_eq!(pod["spec"]["volumes"][0]["name"], "eks-pod-identity-token");
    assert_eq!(
        pod["spec"]["containers"][0]["env"][0]["value"],
        "http://[fd00:ec2::23]/v1/credentials"
    );

    // No service account: the reason says why, no patch.
    let (v, why) = mutate(dir.path(), &[]);
    assert!(
        why.contains("service account team-a/reader was not found"),
        "{why}"
    );
    assert!(v["response"].get("patch").is_none());
}

/// As upstream: the handler mutates a pod whatever its labels (the skip
/// label works through the webhook configuration's objectSelector), an
/// unquoted YAML annotation is a string, and a `--token-expiration` below
/// 600 (zero included) is raised to 600.
#[test]
fn webhook_mutate_reads_pods_as_upstream_does() {
    let dir = files();
    let sa = dir.path().join("sa.yaml");
    std::fs::write(
        &sa,
        "kind: ServiceAccount\nmetadata:\n  name: reader\n  namespace: team-a\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::000000000000:role/reader\n    eks.amazonaws.com/sts-regional-endpoints: true\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pod.yaml"),
        POD.replace(
            "  namespace: team-a\n",
            "  namespace: team-a\n  labels:\n    eks.amazonaws.com/skip-pod-identity-webhook: \"true\"\n",
        ),
    )
    .unwrap();
    let sa = sa.to_str().unwrap();
    let (pod, _) = mutate(
        dir.path(),
        &["--service-account", sa, "--token-expiration=0", "--patched"],
    );
    let volume = &pod["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"];
    assert_eq!(volume["expirationSeconds"], 600, "{pod}");
    let env = &pod["spec"]["containers"][0]["env"];
    assert_eq!(env[0]["name"], "AWS_STS_REGIONAL_ENDPOINTS", "{pod}");
    assert_eq!(env[0]["value"], "regional", "{pod}");
}

#[test]
fn webhook_server_https() {
    let dir = files();
    // The HTTPS path is covered in depth by crates/webhook/tests/server.rs; here the
    // binary is driven with the openssl and curl CLIs when the machine has them.
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status();
    assert!(
        matches!(made, Ok(s) if s.success()),
        "openssl could not make the test certificate (bash .ci/run installs it)"
    );
    assert!(
        Command::new("curl").arg("--version").output().is_ok(),
        "curl is missing (bash .ci/run installs it)"
    );
    let mut child = Command::new(BIN)
        .args([
            "webhook",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--metrics-port",
            "0",
            "--enable-dry-run",
        ])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .arg("--service-account-file")
        .arg(dir.path().join("sa.json"))
        .arg("--watch-container-credentials-config")
        .arg(dir.path().join("assoc.json"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("webhook exited").unwrap();
        if let Some(a) = line.strip_prefix("podiam webhook: listening on https://") {
            break a.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let review = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
        "request": {"uid": "u-7", "namespace": "team-a", "object": serde_json::from_str::<serde_json::Value>(&serde_json::to_string(&serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"},
            "spec": {"serviceAccountName": "reader", "containers": [{"name": "app", "image": "busybox"}]}
        })).unwrap()).unwrap()}
    });
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(&cert)
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &review.to_string(),
        ])
        .arg(format!("https://{addr}/mutate"))
        .output()
        .unwrap();
    let out = out.stdout;
    let _ = child.kill();
    let _ = child.wait();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(v["response"]["uid"], "u-7");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(v["response"]["patch"].as_str().unwrap())
        .unwrap();
    let patch = String::from_utf8(patch).unwrap();
    // The association file was picked up: Pod Identity.
    assert!(
        patch.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        "{patch}"
    );
}
