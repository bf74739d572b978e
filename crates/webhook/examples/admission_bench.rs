//! Admission latency over loopback TLS: `cargo run --release -p podiam-webhook
//! --example admission_bench -- [seconds] [concurrency]`. Prints p50/p99 and req/s
//! for a typical pod (IRSA, two containers, a region flag).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use podiam_webhook::associations::AssociationStore;
use podiam_webhook::cache::ServiceAccountCache;
use podiam_webhook::metrics::Metrics;
use podiam_webhook::server::{WebhookState, install_crypto_provider, router, serve_tls};
use podiam_webhook::{ServiceAccountInfo, SystemRandom, WebhookConfig};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let conc: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(16);
    install_crypto_provider();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])?;
    let dir = tempfile::tempdir()?;
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, ck.cert.pem())?;
    std::fs::write(&key, ck.signing_key.serialize_pem())?;
    let mut ann = BTreeMap::new();
    ann.insert(
        "eks.amazonaws.com/role-arn".into(),
        "arn:aws:iam::111122223333:role/app".into(),
    );
    let state = Arc::new(WebhookState {
        config: WebhookConfig {
            aws_default_region: "us-east-1".into(),
            ..WebhookConfig::default()
        },
        cache: Arc::new(ServiceAccountCache::from_accounts(
            "eks.amazonaws.com",
            [ServiceAccountInfo {
                namespace: "team-a".into(),
                name: "app".into(),
                annotations: ann,
            }],
        )),
        associations: AssociationStore::new(),
        metrics: Arc::new(Metrics::default()),
        random: Mutex::new(Box::new(SystemRandom::default())),
        dry_run: false,
    });
    let server = serve_tls(
        "127.0.0.1:0".parse()?,
        router(state),
        &cert,
        &key,
        Duration::from_secs(60),
    )
    .await?;
    let url = format!("https://127.0.0.1:{}/mutate", server.addr.port());
    let body = Bytes::from(
        serde_json::json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "bench", "namespace": "team-a", "operation": "CREATE", "object": {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"generateName": "app-", "labels": {"app": "web"}},
                "spec": {"serviceAccountName": "app", "containers": [
                    {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                     "volumeMounts": [{"name": "kube-api-access-x", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]},
                    {"name": "sidecar", "image": "envoy:1.30", "env": [{"name": "LOG", "value": "info"}]}],
                    "volumes": [{"name": "kube-api-access-x", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}]}
            }}
        })
        .to_string(),
    );
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ck.cert.pem().as_bytes()) {
        roots.add(c?)?;
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let req = http::Request::post(&url)
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))
                    .expect("request");
                let t = Instant::now();
                let resp = client.request(req).await.expect("response");
                let out = resp.into_body().collect().await.expect("body").to_bytes();
                assert!(out.starts_with(b"{\"kind\":\"AdmissionReview\""));
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let start = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let wall = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    println!(
        "webhook admission over loopback TLS: {} requests, concurrency {conc}, {:.0} req/s, p50 {:?}, p99 {:?}, max {:?}",
        all.len(),
        all.len() as f64 / wall,
        pct(0.50),
        pct(0.99),
        all[all.len() - 1]
    );
    server.shutdown().await?;
    Ok(())
}
