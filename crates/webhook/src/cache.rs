//! The ServiceAccount cache: a metadata-only list/watch of every
//! ServiceAccount (only the prefixed annotations are kept), plus an on-demand,
//! rate-limited GET when a pod names a service account the cache has not seen
//! yet — the race of upstream issue #174, where a Deployment and its
//! ServiceAccount are applied together and the first pods miss their role.

use crate::mutate::ServiceAccountInfo;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::watcher::{self, Event};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

type Key = (String, String);

/// A Kubernetes client for `url`, or from the in-cluster configuration /
/// `$KUBECONFIG` when `None`.
pub async fn kube_client(url: Option<&str>) -> Result<kube::Client, String> {
    crate::server::install_crypto_provider();
    let config = match url {
        Some(u) => kube::Config::new(
            u.parse()
                .map_err(|e| format!("bad Kubernetes API URL {u:?}: {e}"))?,
        ),
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no Kubernetes configuration (in-cluster or KUBECONFIG): {e}"))?,
    };
    kube::Client::try_from(config).map_err(|e| format!("building the Kubernetes client: {e}"))
}

/// A token bucket.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Where a lookup's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupSource {
    /// The watch cache.
    Cache,
    /// An on-demand GET after a cache miss.
    ApiServer,
    /// Not found (or the GET was rate limited / failed).
    Missing,
}

/// Service accounts by (namespace, name).
pub struct ServiceAccountCache {
    prefix: String,
    map: RwLock<HashMap<Key, ServiceAccountInfo>>,
    synced: AtomicBool,
    client: Option<kube::Client>,
    bucket: Mutex<Bucket>,
    get_timeout: Duration,
    /// On-demand GETs issued.
    pub gets: AtomicU64,
}

impl std::fmt::Debug for ServiceAccountCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountCache")
            .field("prefix", &self.prefix)
            .field("len", &self.len())
            .finish()
    }
}

impl ServiceAccountCache {
    /// A cache keeping annotations under `prefix/`; `client` enables the
    /// on-demand GET (10/s, burst 20, like upstream).
    pub fn new(prefix: &str, client: Option<kube::Client>) -> ServiceAccountCache {
        ServiceAccountCache {
            prefix: format!("{prefix}/"),
            map: RwLock::new(HashMap::new()),
            synced: AtomicBool::new(false),
            client,
            bucket: Mutex::new(Bucket {
                tokens: 20.0,
                last: Instant::now(),
                rate: 10.0,
                burst: 20.0,
            }),
            get_timeout: Duration::from_secs(1),
            gets: AtomicU64::new(0),
        }
    }

    /// A cache with fixed contents (tests, `podiam run`).
    pub fn from_accounts(
        prefix: &str,
        accounts: impl IntoIterator<Item = ServiceAccountInfo>,
    ) -> ServiceAccountCache {
        let c = ServiceAccountCache::new(prefix, None);
        for sa in accounts {
            c.insert(sa);
        }
        c.synced.store(true, Ordering::SeqCst);
        c
    }

    /// Number of cached accounts.
    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the initial list has completed.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }

    fn strip(
        &self,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ) -> ServiceAccountInfo {
        let annotations: BTreeMap<String, String> = meta
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| k.starts_with(&self.prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        ServiceAccountInfo {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            annotations,
        }
    }

    /// Adds or replaces an entry.
    pub fn insert(&self, sa: ServiceAccountInfo) {
        let mut sa = sa;
        let prefix = self.prefix.clone();
        sa.annotations.retain(|k, _| k.starts_with(&prefix));
        if let Ok(mut m) = self.map.write() {
            m.insert((sa.namespace.clone(), sa.name.clone()), sa);
        }
    }

    /// The cached entry, without going to the API server.
    pub fn get_cached(&self, namespace: &str, name: &str) -> Option<ServiceAccountInfo> {
        self.map
            .read()
            .ok()?
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Looks a service account up: cache first, then (rate limited) the API server.
    pub async fn lookup(
        &self,
        namespace: &str,
        name: &str,
    ) -> (Option<ServiceAccountInfo>, LookupSource) {
        if let Some(sa) = self.get_cached(namespace, name) {
            return (Some(sa), LookupSource::Cache);
        }
        let Some(client) = &self.client else {
            return (None, LookupSource::Missing);
        };
        if namespace.is_empty() || name.is_empty() {
            return (None, LookupSource::Missing);
        }
        let allowed = self.bucket.lock().map(|mut b| b.take()).unwrap_or(false);
        if !allowed {
            tracing::warn!(%namespace, %name, "service account not cached; on-demand lookup rate limited");
            return (None, LookupSource::Missing);
        }
        self.gets.fetch_add(1, Ordering::Relaxed);
        let api: Api<PartialObjectMeta<ServiceAccount>> =
            Api::namespaced(client.clone(), namespace);
        match tokio::time::timeout(self.get_timeout, api.get_opt(name)).await {
            Ok(Ok(Some(meta))) => {
                let sa = self.strip(&meta.metadata);
                self.insert(sa.clone());
                (Some(sa), LookupSource::ApiServer)
            }
            Ok(Ok(None)) => (None, LookupSource::Missing),
            Ok(Err(e)) => {
                tracing::warn!(%namespace, %name, error = %e, "service account lookup failed");
                (None, LookupSource::Missing)
            }
            Err(_) => {
                tracing::warn!(%namespace, %name, "service account lookup timed out");
                (None, LookupSource::Missing)
            }
        }
    }

    /// Runs the metadata watch until the stream ends (it retries with backoff
    /// inside; this returns only if the task is dropped).
    pub async fn run_watcher(self: Arc<Self>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let api: Api<PartialObjectMeta<ServiceAccount>> = Api::all(client);
        let stream = watcher::watcher(api, watcher::Config::default());
        let mut stream = std::pin::pin!(stream);
        let mut buffer: Option<HashMap<Key, ServiceAccountInfo>> = None;
        let mut backoff = Duration::from_millis(200);
        while let Some(event) = stream.next().await {
            let event: Event<PartialObjectMeta<ServiceAccount>> = match event {
                Ok(e) => {
                    backoff = Duration::from_millis(200);
                    e
                }
                Err(e) => {
                    tracing::warn!(error = %e, "service account watch failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            match event {
                Event::Init => buffer = Some(HashMap::new()),
                Event::InitApply(obj) => {
                    let sa = self.strip(&obj.metadata);
                    if let Some(b) = buffer.as_mut() {
                        b.insert((sa.namespace.clone(), sa.name.clone()), sa);
                    }
                }
                Event::InitDone => {
                    if let (Some(b), Ok(mut m)) = (buffer.take(), self.map.write()) {
                        *m = b;
                    }
                    self.synced.store(true, Ordering::SeqCst);
                    tracing::info!(count = self.len(), "service account cache synced");
                }
                Event::Apply(obj) => self.insert(self.strip(&obj.metadata)),
                Event::Delete(obj) => {
                    let sa = self.strip(&obj.metadata);
                    if let Ok(mut m) = self.map.write() {
                        m.remove(&(sa.namespace, sa.name));
                    }
                }
            }
        }
    }
}
