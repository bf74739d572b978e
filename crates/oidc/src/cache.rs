//! Per-issuer JWKS cache with bounded refresh and single-flight fetching.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{FetchError, TokenError, VerifyError};
use crate::fetch::{JwksFetcher, fetch_issuer_jwks};
use crate::jwk::JwkSet;
use crate::token::UnverifiedToken;

/// Tunables of [`JwksCache`]. All times are seconds of the caller-supplied clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksCacheConfig {
    /// How long a fetched JWKS is used without refetching (default 3600).
    pub ttl_seconds: i64,
    /// Minimum interval between refetches triggered by an unknown `kid` (default 30):
    /// tokens with random `kid`s cannot make us hammer the issuer.
    pub min_refresh_interval_seconds: i64,
    /// After a failed fetch, further fetches for that issuer wait this long; meanwhile
    /// the failure is returned (or stale keys used) without network traffic (default 5).
    pub failure_backoff_seconds: i64,
    /// How long past its TTL a JWKS may still be used when refetching fails
    /// (default 86400).
    pub max_stale_seconds: i64,
    /// Maximum number of issuers tracked; the least recently fetched idle entry is
    /// evicted beyond it (default 1024).
    pub max_issuers: usize,
    /// Upper bound for one discovery + JWKS fetch, whatever the fetcher does (default 10 s).
    pub fetch_timeout: Duration,
}

impl Default for JwksCacheConfig {
    fn default() -> Self {
        Self {
            ttl_seconds: 3600,
            min_refresh_interval_seconds: 30,
            failure_backoff_seconds: 5,
            max_stale_seconds: 86_400,
            max_issuers: 1024,
            fetch_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Default)]
struct IssuerState {
    keys: Option<Arc<JwkSet>>,
    fetched_at: i64,
    last_attempt: Option<i64>,
    /// Time of the last refetch triggered by an unknown `kid`.
    last_forced: Option<i64>,
    last_error: Option<FetchError>,
    generation: u64,
}

#[derive(Default)]
struct Slot {
    state: Mutex<IssuerState>,
    /// Held while fetching: one in-flight fetch per issuer.
    fetch: tokio::sync::Mutex<()>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// Normal lookup: fetch only if missing or past TTL.
    Normal,
    /// The token's `kid` was not in the cached set: refetch, rate-limited.
    UnknownKid,
}

/// Caches each issuer's JWKS (discovery → `jwks_uri` → keys).
///
/// * Fresh sets (younger than the TTL) are served from memory without awaiting.
/// * Concurrent misses for one issuer collapse into a single in-flight fetch; the
///   waiters reuse its result.
/// * An unknown `kid` triggers at most one refetch per
///   [`min_refresh_interval_seconds`](JwksCacheConfig::min_refresh_interval_seconds)
///   per issuer.
/// * Fetch failures are remembered for
///   [`failure_backoff_seconds`](JwksCacheConfig::failure_backoff_seconds); stale keys
///   are served for up to [`max_stale_seconds`](JwksCacheConfig::max_stale_seconds)
///   past their TTL while the issuer is unreachable.
///
/// Issuer URLs are used verbatim as keys. Callers should only look up issuers that
/// match a configured OIDC provider, so an attacker cannot make the cache fetch
/// arbitrary URLs (the `max_issuers` cap is a second line of defence).
pub struct JwksCache {
    fetcher: Arc<dyn JwksFetcher>,
    config: JwksCacheConfig,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    stats: Stats,
}

#[derive(Debug, Default)]
struct Stats {
    hits: AtomicU64,
    fetches: AtomicU64,
    fetch_errors: AtomicU64,
    unknown_kid_fetches: AtomicU64,
}

/// What a [`JwksCache`] has done since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JwksStats {
    /// Lookups answered from a fresh cached JWKS.
    pub hits: u64,
    /// Discovery + JWKS fetches (each may be two requests).
    pub fetches: u64,
    /// Fetches that failed.
    pub fetch_errors: u64,
    /// Fetches forced by a token whose `kid` was not in the cached JWKS.
    pub unknown_kid_fetches: u64,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// A cache over `fetcher` with default settings.
    pub fn new(fetcher: Arc<dyn JwksFetcher>) -> Self {
        Self::with_config(fetcher, JwksCacheConfig::default())
    }

    /// A cache over `fetcher` with explicit settings.
    pub fn with_config(fetcher: Arc<dyn JwksFetcher>, config: JwksCacheConfig) -> Self {
        Self {
            fetcher,
            config,
            slots: Mutex::new(HashMap::new()),
            stats: Stats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &JwksCacheConfig {
        &self.config
    }

    fn slot(&self, issuer: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slots.get(issuer) {
            return s.clone();
        }
        if slots.len() >= self.config.max_issuers.max(1) {
            // Evict the least recently fetched entry nobody is using right now.
            let victim = slots
                .iter()
                .filter(|(_, s)| Arc::strong_count(s) == 1)
                .min_by_key(|(_, s)| s.state.lock().map(|st| st.fetched_at).unwrap_or(i64::MIN))
                .map(|(k, _)| k.clone());
            if let Some(v) = victim {
                slots.remove(&v);
            }
        }
        let s = Arc::new(Slot::default());
        slots.insert(issuer.to_owned(), s.clone());
        s
    }

    fn fresh(&self, st: &IssuerState, now: i64) -> Option<Arc<JwkSet>> {
        let keys = st.keys.as_ref()?;
        (now >= st.fetched_at && now < st.fetched_at.saturating_add(self.config.ttl_seconds))
            .then(|| keys.clone())
    }

    fn usable_stale(&self, st: &IssuerState, now: i64) -> Option<Arc<JwkSet>> {
        let keys = st.keys.as_ref()?;
        let limit = st
            .fetched_at
            .saturating_add(self.config.ttl_seconds)
            .saturating_add(self.config.max_stale_seconds);
        (now < limit).then(|| keys.clone())
    }

    /// The cached set for `issuer` if it is fresh at `now`; never fetches or awaits.
    pub fn cached(&self, issuer: &str, now: i64) -> Option<Arc<JwkSet>> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get(issuer)?;
        let st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
        self.fresh(&st, now)
    }

    /// Seeds or replaces the set for `issuer` as if fetched at `now` (e.g. for built-in
    /// issuers whose keys the server holds).
    pub fn insert(&self, issuer: &str, keys: JwkSet, now: i64) {
        let slot = self.slot(issuer);
        let mut st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
        st.keys = Some(Arc::new(keys));
        st.fetched_at = now;
        st.last_error = None;
        st.generation += 1;
    }

    /// Forgets `issuer`.
    pub fn invalidate(&self, issuer: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.remove(issuer);
    }

    /// Counts of hits and fetches so far.
    pub fn stats(&self) -> JwksStats {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        JwksStats {
            hits: n(&self.stats.hits),
            fetches: n(&self.stats.fetches),
            fetch_errors: n(&self.stats.fetch_errors),
            unknown_kid_fetches: n(&self.stats.unknown_kid_fetches),
        }
    }

    /// The JWKS of `issuer`: from cache when fresh, otherwise fetched (one fetch in
    /// flight per issuer).
    pub async fn keys(&self, issuer: &str, now: i64) -> Result<Arc<JwkSet>, FetchError> {
        self.keys_for(issuer, now, Reason::Normal).await
    }

    async fn keys_for(
        &self,
        issuer: &str,
        now: i64,
        reason: Reason,
    ) -> Result<Arc<JwkSet>, FetchError> {
        let slot = self.slot(issuer);
        let seen_generation = {
            let st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
            if reason == Reason::Normal
                && let Some(k) = self.fresh(&st, now)
            {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(k);
            }
            st.generation
        };

        let _in_flight = slot.fetch.lock().await;
        {
            let st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.generation != seen_generation {
                // Someone fetched while we waited: use their result.
                if let Some(k) = st.keys.as_ref().filter(|_| st.last_error.is_none()) {
                    return Ok(k.clone());
                }
                if let Some(k) = self.usable_stale(&st, now) {
                    return Ok(k);
                }
                if let Some(e) = &st.last_error {
                    return Err(e.clone());
                }
            }
            let recent = |since: Option<i64>, limit: i64| {
                since.is_some_and(|t| (0..limit).contains(&now.saturating_sub(t)))
            };
            if reason == Reason::UnknownKid
                && st.last_error.is_none()
                && recent(st.last_forced, self.config.min_refresh_interval_seconds)
                && let Some(k) = st.keys.as_ref()
            {
                return Ok(k.clone());
            }
            if let Some(e) = &st.last_error
                && recent(st.last_attempt, self.config.failure_backoff_seconds)
            {
                return match self.usable_stale(&st, now) {
                    Some(k) => Ok(k),
                    None => Err(e.clone()),
                };
            }
        }

        let result = match tokio::time::timeout(
            self.config.fetch_timeout,
            fetch_issuer_jwks(self.fetcher.as_ref(), issuer),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout {
                url: crate::discovery::discovery_url(issuer),
            }),
        };

        self.stats.fetches.fetch_add(1, Ordering::Relaxed);
        if reason == Reason::UnknownKid {
            self.stats
                .unknown_kid_fetches
                .fetch_add(1, Ordering::Relaxed);
        }
        if result.is_err() {
            self.stats.fetch_errors.fetch_add(1, Ordering::Relaxed);
        }
        let mut st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
        st.generation += 1;
        st.last_attempt = Some(now);
        if reason == Reason::UnknownKid {
            st.last_forced = Some(now);
        }
        match result {
            Ok(set) => {
                let set = Arc::new(set);
                st.keys = Some(set.clone());
                st.fetched_at = now;
                st.last_error = None;
                Ok(set)
            }
            Err(e) => {
                tracing::warn!(issuer, error = %e, "JWKS fetch failed");
                st.last_error = Some(e.clone());
                match self.usable_stale(&st, now) {
                    Some(k) => Ok(k),
                    None => Err(e),
                }
            }
        }
    }

    /// Verifies `token`'s signature with `issuer`'s keys.
    ///
    /// If the token's `kid` is unknown (or, without a `kid`, no key of its type exists)
    /// the JWKS is refetched once — subject to the refresh rate limit — and verification
    /// retried. Key-fetch failures are [`VerifyError::Fetch`]
    /// (STS's `InvalidIdentityToken`, "Couldn't retrieve verification key"); token
    /// problems are [`VerifyError::Token`].
    ///
    /// `issuer` is the OIDC provider's URL as the caller resolved it from the token's
    /// `iss`; it is passed explicitly so that the token cannot choose what is fetched.
    pub async fn verify_signature(
        &self,
        token: &UnverifiedToken,
        issuer: &str,
        now: i64,
    ) -> Result<Arc<JwkSet>, VerifyError> {
        // Reject bad algorithms / crit before any network traffic.
        token.algorithm()?;
        let keys = self.keys(issuer, now).await?;
        match token.verify_signature(&keys) {
            Ok(()) => Ok(keys),
            Err(TokenError::UnknownKid(_) | TokenError::NoCompatibleKey) => {
                let keys = self.keys_for(issuer, now, Reason::UnknownKid).await?;
                token.verify_signature(&keys)?;
                Ok(keys)
            }
            Err(e) => Err(e.into()),
        }
    }
}
