//! End to end over loopback TLS: AdmissionReview v1 and v1beta1 posted to the
//! webhook's `/mutate`, plus `/healthz`, `/metrics`, `/dry-run`, the
//! failurePolicy-Ignore behaviour and certificate hot reload.

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use podiam_webhook::associations::AssociationStore;
use podiam_webhook::cache::ServiceAccountCache;
use podiam_webhook::metrics::Metrics;
use podiam_webhook::server::{WebhookState, router, serve_tls};
use podiam_webhook::{Associations, Json, ServiceAccountInfo, WebhookConfig, ZeroRandom, mutate};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Tls {
    cert_pem: String,
    key_pem: String,
}

fn self_signed() -> Tls {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".into()])
        .unwrap();
    Tls {
        cert_pem: ck.cert.pem(),
        key_pem: ck.signing_key.serialize_pem(),
    }
}

type HttpsClient = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

fn client_trusting(cert_pem: &str) -> HttpsClient {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    podiam_webhook::server::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(cfg)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

async fn send(
    client: &HttpsClient,
    method: &str,
    url: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", content_type)
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| format!("{e:?}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body.to_vec()))
}

fn write(path: &Path, s: &str) {
    std::fs::write(path, s).unwrap();
}

fn state() -> Arc<WebhookState> {
    let mut irsa = BTreeMap::new();
    irsa.insert(
        "eks.amazonaws.com/role-arn".to_string(),
        "arn:aws:iam::111122223333:role/app".to_string(),
    );
    let cache = ServiceAccountCache::from_accounts(
        "eks.amazonaws.com",
        [
            ServiceAccountInfo {
                namespace: "team-a".into(),
                name: "app".into(),
                annotations: irsa,
            },
            ServiceAccountInfo {
                namespace: "team-a".into(),
                name: "pi".into(),
                annotations: BTreeMap::new(),
            },
        ],
    );
    let associations = AssociationStore::new();
    let mut a = Associations::new();
    a.insert("team-a", "pi");
    associations.set_file(a);
    Arc::new(WebhookState {
        config: WebhookConfig {
            aws_default_region: "eu-west-1".into(),
            ..WebhookConfig::default()
        },
        cache: Arc::new(cache),
        associations,
        metrics: Arc::new(Metrics::default()),
        random: Mutex::new(Box::new(ZeroRandom)),
        dry_run: true,
    })
}

fn review(api_version: &str, uid: &str, sa: &str) -> String {
    serde_json::json!({
        "apiVersion": api_version,
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "team-a",
            "operation": "CREATE",
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"generateName": "app-"},
                "spec": {"serviceAccountName": sa, "containers": [{"name": "app", "image": "busybox"}]}
            }
        }
    })
    .to_string()
}

fn decode_patch(resp: &serde_json::Value) -> Vec<u8> {
    let p = resp["response"]["patch"].as_str().expect("patch");
    base64::engine::general_purpose::STANDARD.decode(p).unwrap()
}

#[tokio::test]
async fn admission_over_tls_v1_and_v1beta1() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let tls = self_signed();
    write(&cert, &tls.cert_pem);
    write(&key, &tls.key_pem);
    let st = state();
    let server = serve_tls(
        "127.0.0.1:0".parse().unwrap(),
        router(st.clone()),
        &cert,
        &key,
        Duration::from_millis(100),
    )
    .await
    .unwrap();
    let base = format!("https://127.0.0.1:{}", server.addr.port());
    let client = client_trusting(&tls.cert_pem);

    // v1 and v1beta1: TypeMeta and uid echoed, patch identical to the pure function's.
    for (version, uid) in [
        ("admission.k8s.io/v1", "uid-v1"),
        ("admission.k8s.io/v1beta1", "uid-v1beta1"),
    ] {
        let body = review(version, uid, "app");
        let (status, out) = send(
            &client,
            "POST",
            &format!("{base}/mutate"),
            "application/json",
            body.as_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["apiVersion"], version);
        assert_eq!(v["kind"], "AdmissionReview");
        assert_eq!(v["response"]["uid"], uid);
        assert_eq!(v["response"]["allowed"], true);
        assert_eq!(v["response"]["patchType"], "JSONPatch");
        let pod: Json = serde_json::from_value(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["request"]["object"].clone(),
        )
        .unwrap();
        let sa = st.cache.get_cached("team-a", "app");
        let expected = mutate(
            &pod,
            "team-a",
            sa.as_ref(),
            &Associations::new(),
            &st.config,
            &mut ZeroRandom,
        );
        assert_eq!(decode_patch(&v), expected.patch_bytes().unwrap());
        // Wire layout: Go field order.
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(&format!("{{\"kind\":\"AdmissionReview\",\"apiVersion\":\"{version}\",\"response\":{{\"uid\":\"{uid}\",\"allowed\":true,\"patch\":")));
    }

    // Pod Identity wins for an associated service account.
    let (_, out) = send(
        &client,
        "POST",
        &format!("{base}/mutate"),
        "application/json",
        review("admission.k8s.io/v1", "u3", "pi").as_bytes(),
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let patch = String::from_utf8(decode_patch(&v)).unwrap();
    assert!(patch.starts_with(r#"[{"op":"add","path":"/metadata/labels","value":{"eks.amazonaws.com/pod-identity":"enabled"}}"#), "{patch}");
    assert!(patch.contains("\"expirationSeconds\":79200"));

    // Unknown service account: allowed, no patch.
    let (_, out) = send(
        &client,
        "POST",
        &format!("{base}/mutate"),
        "application/json",
        review("admission.k8s.io/v1", "u4", "nobody").as_bytes(),
    )
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["response"]["allowed"], true);
    assert!(v["response"].get("patch").is_none());

    // Malformed reviews: a well-formed refusal with the reason, as upstream.
    for (bad, uid, reason) in [
        (&b"{"[..], "", "couldn't get version/kind; json parse error: unexpected end of JSON input"),
        (b"null", "", "bad content"),
        (b"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"x\",\"object\":7}}", "x", "json: cannot unmarshal number into Go value of type v1.Pod"),
    ] {
        let (status, out) = send(&client, "POST", &format!("{base}/mutate"), "application/json", bad).await.unwrap();
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["response"]["allowed"], false);
        assert_eq!(v["response"]["uid"], uid);
        assert_eq!(v["response"]["status"]["message"], reason);
        assert!(v["response"].get("patch").is_none());
    }
    // Wrong content type: 415 like upstream, which compares the header
    // with `application/json` exactly (a charset parameter is refused too).
    for wrong in ["text/plain", "application/json; charset=utf-8"] {
        let (status, out) = send(&client, "POST", &format!("{base}/mutate"), wrong, b"{}")
            .await
            .unwrap();
        assert_eq!(
            (status, out.as_slice()),
            (
                415,
                &b"Invalid Content-Type, expected `application/json`\n"[..]
            ),
            "{wrong}"
        );
    }

    let (status, out) = send(
        &client,
        "GET",
        &format!("{base}/healthz"),
        "text/plain",
        b"",
    )
    .await
    .unwrap();
    assert_eq!((status, out.as_slice()), (200, &b"ok"[..]));

    // Dry run with a bare pod: the patched pod comes back.
    let pod = serde_json::json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"team-a"},"spec":{"serviceAccountName":"app","containers":[{"name":"c","image":"i"}]}});
    let (status, out) = send(
        &client,
        "POST",
        &format!("{base}/dry-run"),
        "application/json",
        pod.to_string().as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(v["reason"].as_str().unwrap().starts_with("mutated"));
    assert_eq!(v["pod"]["spec"]["volumes"][0]["name"], "aws-iam-token");
    assert_eq!(
        v["pod"]["spec"]["containers"][0]["env"][2]["name"],
        "AWS_ROLE_ARN"
    );

    let (_, out) = send(
        &client,
        "GET",
        &format!("{base}/metrics"),
        "text/plain",
        b"",
    )
    .await
    .unwrap();
    let metrics = String::from_utf8(out).unwrap();
    assert!(
        metrics.contains("pod_identity_webhook_pod_count{method=\"sts_web_identity\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("pod_identity_webhook_pod_count{method=\"container_credentials\"} 1"));
    assert!(metrics.contains("pod_identity_webhook_review_errors_total 3"));
    assert!(metrics.contains("pod_identity_webhook_missing_sa_count 1"));
    assert!(metrics.contains("http_request_count{code=\"415\",path=\"/mutate\",verb=\"POST\"} 2"));

    // Hot reload: replace the certificate; new connections present the new one.
    let tls2 = self_signed();
    write(&key, &tls2.key_pem);
    write(&cert, &tls2.cert_pem);
    let client2 = client_trusting(&tls2.cert_pem);
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok((200, _)) = send(
            &client2,
            "GET",
            &format!("{base}/healthz"),
            "text/plain",
            b"",
        )
        .await
        {
            ok = true;
            break;
        }
    }
    assert!(ok, "the new certificate was not picked up");
    // The old trust root no longer matches (fresh client: no pooled connection).
    let fresh_old = client_trusting(&tls.cert_pem);
    assert!(
        send(
            &fresh_old,
            "GET",
            &format!("{base}/healthz"),
            "text/plain",
            b""
        )
        .await
        .is_err()
    );
    server.shutdown().await.unwrap();
}
