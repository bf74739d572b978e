//! The credential cache: keyed by pod uid + token hash, LRU-bounded,
//! refreshed ahead of expiry in the background, one upstream call per key
//! at a time, last good credentials kept through throttling and outages,
//! evicted on an authentication error. Time is injected.

use crate::metrics::Metrics;
use crate::upstream::{Creds, UpstreamError};
use podiam_core::Clock;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Credentials with this little life left are never served.
pub const MIN_REMAINING: i64 = 15;

/// Cache tunables.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Maximum entries (least recently used evicted).
    pub capacity: usize,
    /// Refresh once this much of the credentials' life has passed
    /// (numerator over 4), capped by `max_age`.
    pub refresh_quarters: i64,
    /// Refresh at the latest this long after fetching (seconds).
    pub max_age: i64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            capacity: 2000,
            refresh_quarters: 3,
            max_age: 3 * 3600,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    creds: Creds,
    fetched_at: i64,
    used: u64,
}

impl Entry {
    fn refresh_at(&self, cfg: &CacheConfig) -> i64 {
        let life = (self.creds.expiration - self.fetched_at).max(0);
        self.fetched_at + (life * cfg.refresh_quarters / 4).min(cfg.max_age)
    }

    fn usable(&self, now: i64) -> bool {
        self.creds.expiration - now > MIN_REMAINING
    }
}

type Flight = Arc<tokio::sync::Mutex<()>>;

/// In-flight markers are weak: a marker lives only while a fetch or a
/// waiter holds it, so the map does not grow with every token ever seen.
type WeakFlight = std::sync::Weak<tokio::sync::Mutex<()>>;

/// The cache.
pub struct CredentialCache {
    entries: Mutex<HashMap<String, Entry>>,
    flights: Mutex<HashMap<String, WeakFlight>>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    clock: Arc<dyn Clock>,
    config: CacheConfig,
    metrics: Arc<Metrics>,
    tick: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CredentialCache {
    /// An empty cache.
    pub fn new(clock: Arc<dyn Clock>, config: CacheConfig, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            entries: Mutex::default(),
            flights: Mutex::default(),
            background: Mutex::default(),
            clock,
            config,
            metrics,
            tick: Default::default(),
        })
    }

    fn lock_entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn flight(&self, key: &str) -> Flight {
        let mut m = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = m.get(key).and_then(std::sync::Weak::upgrade) {
            return f;
        }
        if m.len() >= self.config.capacity {
            m.retain(|_, w| w.strong_count() > 0);
        }
        let f: Flight = Arc::default();
        m.insert(key.to_string(), Arc::downgrade(&f));
        f
    }

    /// Number of live in-flight markers (tests).
    pub fn flights_len(&self) -> usize {
        let m = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        m.values().filter(|w| w.strong_count() > 0).count()
    }

    fn lookup(&self, key: &str) -> Option<Entry> {
        let mut m = self.lock_entries();
        let e = m.get_mut(key)?;
        e.used = self.tick.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(e.clone())
    }

    fn store(&self, key: &str, creds: Creds, now: i64) {
        let mut m = self.lock_entries();
        let used = self.tick.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        m.insert(
            key.to_string(),
            Entry {
                creds,
                fetched_at: now,
                used,
            },
        );
        while m.len() > self.config.capacity {
            let Some(oldest) = m.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone()) else {
                break;
            };
            m.remove(&oldest);
            self.metrics.cache("evicted");
        }
    }

    fn evict(&self, key: &str) {
        if self.lock_entries().remove(key).is_some() {
            self.metrics.cache("evicted");
        }
    }

    /// Number of cached entries.
    pub fn len(&self) -> usize {
        self.lock_entries().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Credentials for `key`, fetching with `fetch` when needed.
    pub async fn get<F, Fut>(self: &Arc<Self>, key: &str, fetch: F) -> Result<Creds, UpstreamError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Creds, UpstreamError>> + Send + 'static,
    {
        let now = self.clock.epoch();
        if let Some(e) = self.lookup(key).filter(|e| e.usable(now)) {
            if now >= e.refresh_at(&self.config) {
                self.refresh_in_background(key, fetch);
            }
            self.metrics.cache("hit");
            return Ok(e.creds);
        }
        self.metrics.cache("miss");
        self.fetch(key, &fetch).await
    }

    /// One upstream call per key at a time: later callers wait for the first
    /// and take its result from the cache.
    async fn fetch<F, Fut>(&self, key: &str, fetch: &F) -> Result<Creds, UpstreamError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Creds, UpstreamError>>,
    {
        let flight = self.flight(key);
        let _guard = flight.lock().await;
        let now = self.clock.epoch();
        if let Some(e) = self
            .lookup(key)
            .filter(|e| e.usable(now) && now < e.refresh_at(&self.config))
        {
            return Ok(e.creds);
        }
        let start = std::time::Instant::now();
        let result = fetch().await;
        self.metrics
            .upstream(start.elapsed(), result.as_ref().err());
        let now = self.clock.epoch();
        match result {
            Ok(c) if c.expiration - now > MIN_REMAINING => {
                self.store(key, c.clone(), now);
                Ok(c)
            }
            Ok(_) => Err(UpstreamError::Transport(
                "upstream returned credentials about to expire".into(),
            )),
            Err(e) if e.is_recoverable() => match self.lookup(key).filter(|c| c.usable(now)) {
                Some(last_good) => {
                    self.metrics.cache("stale");
                    tracing::warn!(error = %e, "serving cached credentials through an upstream failure");
                    Ok(last_good.creds)
                }
                None => Err(e),
            },
            Err(e) => {
                self.evict(key);
                Err(e)
            }
        }
    }

    fn refresh_in_background<F, Fut>(self: &Arc<Self>, key: &str, fetch: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Creds, UpstreamError>> + Send + 'static,
    {
        // Skip if a fetch for this key is already running.
        let flight = self.flight(key);
        if flight.try_lock().is_err() {
            return;
        }
        let me = self.clone();
        let key = key.to_string();
        let handle = tokio::spawn(async move {
            if let Err(e) = me.fetch(&key, &fetch).await {
                tracing::warn!(error = %e, "background credential refresh failed");
            }
        });
        let mut bg = self.background.lock().unwrap_or_else(|e| e.into_inner());
        bg.retain(|h| !h.is_finished());
        bg.push(handle);
    }

    /// Waits for background refreshes (tests, shutdown).
    pub async fn settle(&self) {
        let handles: Vec<_> =
            std::mem::take(&mut *self.background.lock().unwrap_or_else(|e| e.into_inner()));
        for h in handles {
            let _ = h.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use podiam_core::ManualClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn creds(exp: i64, id: &str) -> Creds {
        Creds {
            access_key_id: id.into(),
            secret_access_key: "s".into(),
            token: "t".into(),
            account_id: "000000000000".into(),
            expiration: exp,
        }
    }

    struct Fake {
        calls: AtomicUsize,
        next: Mutex<Result<Creds, UpstreamError>>,
    }

    fn setup(start: i64) -> (Arc<CredentialCache>, ManualClock, Arc<Fake>) {
        let clock = ManualClock::at(start);
        let cache = CredentialCache::new(
            Arc::new(clock.clone()),
            CacheConfig::default(),
            Arc::new(Metrics::default()),
        );
        let fake = Arc::new(Fake {
            calls: AtomicUsize::new(0),
            next: Mutex::new(Ok(creds(start + 3600, "A"))),
        });
        (cache, clock, fake)
    }

    fn fetcher(
        f: &Arc<Fake>,
    ) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = Result<Creds, UpstreamError>> + Send>>
    + Send
    + Sync
    + 'static {
        let f = f.clone();
        move || {
            let f = f.clone();
            Box::pin(async move {
                f.calls.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                f.next.lock().unwrap().clone()
            })
        }
    }

    fn throttled() -> UpstreamError {
        UpstreamError::Api {
            status: 429,
            code: "ThrottlingException".into(),
            message: "slow down".into(),
            request_id: "r".into(),
        }
    }

    #[tokio::test]
    async fn hit_miss_and_refresh_ahead() {
        let (cache, clock, fake) = setup(1000);
        assert_eq!(
            cache.get("k", fetcher(&fake)).await.unwrap().access_key_id,
            "A"
        );
        assert_eq!(
            cache.get("k", fetcher(&fake)).await.unwrap().access_key_id,
            "A"
        );
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1, "second call is a hit");
        // Past 3/4 of the life: served from cache, refreshed in the background.
        *fake.next.lock().unwrap() = Ok(creds(1000 + 2800 + 3600, "B"));
        clock.advance(2800);
        assert_eq!(
            cache.get("k", fetcher(&fake)).await.unwrap().access_key_id,
            "A"
        );
        cache.settle().await;
        assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
        assert_eq!(
            cache.get("k", fetcher(&fake)).await.unwrap().access_key_id,
            "B"
        );
    }

    #[tokio::test]
    async fn never_serves_credentials_with_15s_left() {
        let (cache, clock, fake) = setup(1000);
        cache.get("k", fetcher(&fake)).await.unwrap();
        clock.advance(3600 - 15);
        *fake.next.lock().unwrap() = Err(throttled());
        // The cached credentials have exactly 15 s left: not served, and the
        // upstream failure surfaces.
        assert_eq!(
            cache.get("k", fetcher(&fake)).await.unwrap_err(),
            throttled()
        );
    }

    #[tokio::test]
    async fn outage_keeps_last_good_and_auth_error_evicts() {
        let (cache, clock, fake) = setup(1000);
        cache.get("k", fetcher(&fake)).await.unwrap();
        clock.advance(3000);
        *fake.next.lock().unwrap() = Err(UpstreamError::Transport("eks-auth down".into()));
        // Refresh fails, but the old credentials still have 600 s: served.
        assert_eq!(
            cache.get("k", fetcher(&fake)).await.unwrap().access_key_id,
            "A"
        );
        cache.settle().await;
        assert_eq!(cache.len(), 1);
        // An irrecoverable error evicts.
        *fake.next.lock().unwrap() = Err(UpstreamError::Api {
            status: 400,
            code: "AccessDeniedException".into(),
            message: "no".into(),
            request_id: "r".into(),
        });
        clock.advance(590);
        assert!(cache.get("k", fetcher(&fake)).await.is_err());
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn concurrent_identical_requests_share_one_call() {
        let (cache, _clock, fake) = setup(1000);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (c, f) = (cache.clone(), fetcher(&fake));
            tasks.push(tokio::spawn(async move { c.get("k", f).await }));
        }
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn lru_bound() {
        let clock = ManualClock::at(0);
        let cfg = CacheConfig {
            capacity: 2,
            ..Default::default()
        };
        let cache = CredentialCache::new(Arc::new(clock), cfg, Arc::new(Metrics::default()));
        let fake = Arc::new(Fake {
            calls: AtomicUsize::new(0),
            next: Mutex::new(Ok(creds(3600, "A"))),
        });
        for k in ["a", "b", "a", "c"] {
            cache.get(k, fetcher(&fake)).await.unwrap();
        }
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.flights_len(),
            0,
            "no fetch is running, so no marker stays alive"
        );
        // "b" was least recently used.
        let before = fake.calls.load(Ordering::SeqCst);
        cache.get("a", fetcher(&fake)).await.unwrap();
        assert_eq!(fake.calls.load(Ordering::SeqCst), before);
        cache.get("b", fetcher(&fake)).await.unwrap();
        assert_eq!(fake.calls.load(Ordering::SeqCst), before + 1);
    }
}
