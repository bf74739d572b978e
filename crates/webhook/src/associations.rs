//! Where Pod Identity associations come from: upstream's watched JSON file
//! (`{"identities":[{"namespace","serviceAccount"}]}`) and/or podiam's EKS API
//! (`ListPodIdentityAssociations`, polled). The webhook uses the union.

use crate::mutate::Associations;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use podiam_sigv4::{Credentials, PayloadMode, SigningParams, sign};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// The association sets, shared between the sources and the handler.
#[derive(Debug, Default)]
pub struct AssociationStore {
    file: RwLock<Associations>,
    api: RwLock<Associations>,
}

impl AssociationStore {
    /// An empty store.
    pub fn new() -> Arc<AssociationStore> {
        Arc::new(AssociationStore::default())
    }

    /// Replaces the file-sourced set.
    pub fn set_file(&self, a: Associations) {
        if let Ok(mut f) = self.file.write() {
            *f = a;
        }
    }

    /// Replaces the API-sourced set.
    pub fn set_api(&self, a: Associations) {
        if let Ok(mut f) = self.api.write() {
            *f = a;
        }
    }

    /// Whether either source has the pair.
    pub fn contains(&self, namespace: &str, service_account: &str) -> bool {
        let f = self
            .file
            .read()
            .map(|a| a.contains(namespace, service_account))
            .unwrap_or(false);
        f || self
            .api
            .read()
            .map(|a| a.contains(namespace, service_account))
            .unwrap_or(false)
    }

    /// A snapshot restricted to one pair (what [`crate::mutate()`] needs).
    pub fn for_pair(&self, namespace: &str, service_account: &str) -> Associations {
        let mut a = Associations::new();
        if self.contains(namespace, service_account) {
            a.insert(namespace, service_account);
        }
        a
    }

    /// Total pairs known (both sources).
    pub fn len(&self) -> usize {
        self.file.read().map(|a| a.len()).unwrap_or(0)
            + self.api.read().map(|a| a.len()).unwrap_or(0)
    }

    /// Whether no source has any pair.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Loads `path` now, then reloads it whenever its modification time or size
/// changes (polled every `interval`; a parse error keeps the previous set).
pub async fn watch_file(store: Arc<AssociationStore>, path: PathBuf, interval: Duration) {
    let mut last: Option<(SystemTime, u64)> = None;
    loop {
        let stamp = tokio::fs::metadata(&path)
            .await
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
        if stamp != last {
            match tokio::fs::read(&path).await {
                Ok(bytes) => match Associations::from_identities_json(&bytes) {
                    Ok(a) => {
                        tracing::info!(path = %path.display(), count = a.len(), "loaded pod identity associations");
                        store.set_file(a);
                    }
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "bad container credentials config; keeping the previous one")
                    }
                },
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot read the container credentials config; clearing");
                    store.set_file(Associations::new());
                }
            }
            last = stamp;
        }
        tokio::time::sleep(interval).await;
    }
}

/// How to reach podiam's EKS API.
#[derive(Clone)]
pub struct EksSource {
    /// `http://host:port` of `podiam serve`.
    pub endpoint: String,
    /// The cluster whose associations apply.
    pub cluster: String,
    /// Signing region.
    pub region: String,
    /// Signing credentials.
    pub credentials: Credentials,
}

impl std::fmt::Debug for EksSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksSource")
            .field("endpoint", &self.endpoint)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl EksSource {
    /// One full `ListPodIdentityAssociations` (all pages).
    pub async fn list(&self) -> Result<Associations, String> {
        let http: HyperClient<_, Full<Bytes>> =
            HyperClient::builder(TokioExecutor::new()).build_http();
        let mut out = Associations::new();
        let mut next: Option<String> = None;
        for _page in 0..10_000 {
            let mut pq = format!(
                "/clusters/{}/pod-identity-associations?maxResults=100",
                percent(&self.cluster)
            );
            if let Some(t) = &next {
                pq.push_str("&nextToken=");
                pq.push_str(&percent(t));
            }
            let uri: Uri = format!("{}{pq}", self.endpoint.trim_end_matches('/'))
                .parse()
                .map_err(|e| format!("bad endpoint: {e}"))?;
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            let params = SigningParams {
                credentials: &self.credentials,
                region: &self.region,
                service: "eks",
                time: time::OffsetDateTime::now_utc(),
                s3: false,
            };
            let signed = sign(
                &Method::GET,
                &uri,
                &headers,
                &PayloadMode::for_body(b""),
                &params,
            )
            .map_err(|e| format!("signing: {e}"))?;
            signed.apply(&mut headers);
            let mut req = Request::builder()
                .method(Method::GET)
                .uri(uri)
                .body(Full::new(Bytes::new()))
                .map_err(|e| e.to_string())?;
            *req.headers_mut() = headers;
            let resp = tokio::time::timeout(Duration::from_secs(10), http.request(req))
                .await
                .map_err(|_| "timed out".to_string())?
                .map_err(|e| format!("cannot reach {}: {e}", self.endpoint))?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            if !status.is_success() {
                return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
            }
            let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
            for a in v["associations"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                if let (Some(ns), Some(sa)) =
                    (a["namespace"].as_str(), a["serviceAccount"].as_str())
                {
                    out.insert(ns, sa);
                }
            }
            match v["nextToken"].as_str() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    /// Refreshes `store` every `interval`; a failed refresh keeps the last set.
    pub async fn poll(self, store: Arc<AssociationStore>, interval: Duration) {
        loop {
            match self.list().await {
                Ok(a) => {
                    tracing::debug!(count = a.len(), "refreshed pod identity associations");
                    store.set_api(a);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ListPodIdentityAssociations failed; keeping the last set")
                }
            }
            tokio::time::sleep(interval).await;
        }
    }
}
