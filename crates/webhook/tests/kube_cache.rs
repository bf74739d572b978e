//! The ServiceAccount cache against a fake API server on 127.0.0.1 that speaks
//! the real list/watch JSON (metadata-only, as kube-rs requests it): initial
//! sync, watch events, and the on-demand GET for a brand-new account (#174).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use podiam_webhook::cache::{LookupSource, ServiceAccountCache, kube_client};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Default)]
struct Fake {
    /// Listed at start.
    listed: Vec<Value>,
    /// Only reachable by GET (created after the list, event not yet delivered).
    hidden: HashMap<(String, String), Value>,
    /// Events to stream to the (first) watch.
    events: Mutex<Option<mpsc::UnboundedReceiver<Value>>>,
    gets: AtomicUsize,
}

fn meta(ns: &str, name: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": "10", "uid": format!("uid-{name}"), "annotations": annotations}
    })
}

async fn list_or_watch(
    State(fake): State<Arc<Fake>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("watch").map(String::as_str) == Some("true")
        || q.get("watch").map(String::as_str) == Some("1")
    {
        let rx = fake.events.lock().unwrap().take();
        let Some(mut rx) = rx else {
            // Later watches: hang until the client times out.
            tokio::time::sleep(Duration::from_secs(30)).await;
            return (StatusCode::OK, "").into_response();
        };
        let stream = async_stream(
            move |tx: mpsc::UnboundedSender<Result<bytes::Bytes, std::io::Error>>| async move {
                while let Some(ev) = rx.recv().await {
                    let mut line = ev.to_string();
                    line.push('\n');
                    if tx.send(Ok(bytes::Bytes::from(line))).is_err() {
                        break;
                    }
                }
                // Keep the stream open.
                tokio::time::sleep(Duration::from_secs(30)).await;
            },
        );
        return Response::builder()
            .header("content-type", "application/json")
            .body(axum::body::Body::from_stream(stream))
            .unwrap();
    }
    axum::Json(json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadataList",
        "metadata": {"resourceVersion": "10"},
        "items": fake.listed,
    }))
    .into_response()
}

/// A tiny channel-backed stream (no extra crates).
fn async_stream<F, Fut>(f: F) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>>
where
    F: FnOnce(mpsc::UnboundedSender<Result<bytes::Bytes, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(f(tx));
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn get_one(
    State(fake): State<Arc<Fake>>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    fake.gets.fetch_add(1, Ordering::SeqCst);
    match fake.hidden.get(&(ns.clone(), name.clone())) {
        Some(v) => axum::Json(v.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":format!("serviceaccounts \"{name}\" not found"),"reason":"NotFound","details":{"name":name,"kind":"serviceaccounts"},"code":404})),
        )
            .into_response(),
    }
}

#[tokio::test]
async fn list_watch_and_on_demand_get() {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut hidden = HashMap::new();
    hidden.insert(
        ("team-b".to_string(), "fresh".to_string()),
        meta(
            "team-b",
            "fresh",
            json!({"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/fresh"}),
        ),
    );
    let fake = Arc::new(Fake {
        listed: vec![
            meta(
                "team-a",
                "app",
                json!({"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/app", "unrelated/x": "dropped"}),
            ),
            meta("team-a", "plain", json!({})),
        ],
        hidden,
        events: Mutex::new(Some(rx)),
        gets: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/api/v1/serviceaccounts", get(list_or_watch))
        .route(
            "/api/v1/namespaces/{ns}/serviceaccounts/{name}",
            get(get_one),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = kube_client(Some(&format!("http://{addr}"))).await.unwrap();
    let cache = Arc::new(ServiceAccountCache::new("eks.amazonaws.com", Some(client)));
    let watcher = tokio::spawn(cache.clone().run_watcher());

    // Initial list.
    for _ in 0..100 {
        if cache.is_synced() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cache.is_synced(), "cache never synced");
    let app_sa = cache.get_cached("team-a", "app").expect("listed");
    assert_eq!(
        app_sa.annotations.len(),
        1,
        "only prefixed annotations are kept"
    );
    assert!(cache.get_cached("team-a", "plain").is_some());

    // A watch event adds an account.
    tx.send(json!({"type": "ADDED", "object": meta("team-a", "late", json!({"eks.amazonaws.com/audience": "x"}))}))
        .unwrap();
    tx.send(json!({"type": "DELETED", "object": meta("team-a", "plain", json!({}))}))
        .unwrap();
    let mut seen = false;
    for _ in 0..100 {
        if cache.get_cached("team-a", "late").is_some()
            && cache.get_cached("team-a", "plain").is_none()
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "watch events not applied");

    // Cache miss for an account created after the list (#174): GET finds it.
    let (sa, source) = cache.lookup("team-b", "fresh").await;
    assert_eq!(source, LookupSource::ApiServer);
    assert_eq!(
        sa.unwrap()
            .annotations
            .get("eks.amazonaws.com/role-arn")
            .map(String::as_str),
        Some("arn:aws:iam::111122223333:role/fresh")
    );
    // Now cached: no second GET.
    let (_, source) = cache.lookup("team-b", "fresh").await;
    assert_eq!(source, LookupSource::Cache);
    assert_eq!(fake.gets.load(Ordering::SeqCst), 1);

    // Truly missing: GET returns 404 → Missing.
    let (sa, source) = cache.lookup("team-b", "ghost").await;
    assert!(sa.is_none());
    assert_eq!(source, LookupSource::Missing);

    // Rate limit: a burst of misses stops hitting the API server after 20.
    let before = fake.gets.load(Ordering::SeqCst);
    for i in 0..40 {
        let _ = cache.lookup("team-b", &format!("ghost-{i}")).await;
    }
    let made = fake.gets.load(Ordering::SeqCst) - before;
    assert!(made <= 21, "rate limiter let {made} GETs through");
    watcher.abort();
}
