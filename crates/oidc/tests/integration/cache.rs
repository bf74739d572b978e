use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use podiam_oidc::*;

use crate::common::*;

/// Wraps a StaticFetcher: counts requests, optionally delays or fails them.
#[derive(Default)]
struct Counting {
    inner: StaticFetcher,
    count: AtomicUsize,
    delay_ms: AtomicUsize,
    fail: AtomicBool,
    hang: AtomicBool,
}

impl JwksFetcher for Counting {
    fn get<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            self.count.fetch_add(1, Ordering::SeqCst);
            if self.hang.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            let d = self.delay_ms.load(Ordering::SeqCst);
            if d > 0 {
                tokio::time::sleep(Duration::from_millis(d as u64)).await;
            }
            if self.fail.load(Ordering::SeqCst) {
                return Err(FetchError::HttpStatus {
                    url: url.into(),
                    status: 503,
                });
            }
            self.inner.get(url).await
        })
    }
}

fn setup(keys: &[&SigningKey]) -> (Arc<Counting>, JwksCache) {
    let f = Arc::new(Counting::default());
    serve(&f, keys);
    let cache = JwksCache::new(f.clone());
    (f, cache)
}

fn serve(f: &Counting, keys: &[&SigningKey]) {
    f.inner.serve_issuer(
        ISSUER,
        &default_jwks_uri(ISSUER),
        keys.iter().map(|k| k.jwk()),
    );
}

fn token(key: &SigningKey) -> UnverifiedToken {
    UnverifiedToken::parse(&mint(key)).unwrap()
}

#[tokio::test]
async fn fetches_discovery_then_jwks_and_caches_for_ttl() {
    let key = rsa();
    let (f, cache) = setup(&[&key]);
    assert!(cache.cached(ISSUER, NOW).is_none());
    cache
        .verify_signature(&token(&key), ISSUER, NOW)
        .await
        .unwrap();
    assert_eq!(f.count.load(Ordering::SeqCst), 2);
    assert_eq!(
        f.inner.requested_urls(),
        [
            format!("{ISSUER}/.well-known/openid-configuration"),
            format!("{ISSUER}/openid/v1/jwks")
        ]
    );
    for t in [NOW + 1, NOW + 3599] {
        cache
            .verify_signature(&token(&key), ISSUER, t)
            .await
            .unwrap();
        assert!(cache.cached(ISSUER, t).is_some());
    }
    assert_eq!(f.count.load(Ordering::SeqCst), 2);
    // TTL over: refetch.
    assert!(cache.cached(ISSUER, NOW + 3600).is_none());
    cache.keys(ISSUER, NOW + 3600).await.unwrap();
    assert_eq!(f.count.load(Ordering::SeqCst), 4);
    assert_eq!(
        cache.stats(),
        podiam_oidc::JwksStats {
            hits: 2,
            fetches: 2,
            fetch_errors: 0,
            unknown_kid_fetches: 0
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_collapse_into_one_fetch() {
    let key = ec();
    let (f, cache) = setup(&[&key]);
    f.delay_ms.store(50, Ordering::SeqCst);
    let cache = Arc::new(cache);
    let tok = Arc::new(token(&key));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (cache, tok) = (cache.clone(), tok.clone());
            tokio::spawn(async move { cache.verify_signature(&tok, ISSUER, NOW).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        f.count.load(Ordering::SeqCst),
        2,
        "one discovery + one JWKS fetch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_refetch_is_bounded_and_collapsed() {
    let (old, new) = (rsa(), key(Algorithm::Rs256, 1));
    let (f, cache) = setup(&[&old]);
    let cache = Arc::new(cache);
    cache.keys(ISSUER, NOW).await.unwrap();
    assert_eq!(f.count.load(Ordering::SeqCst), 2);

    // Issuer rotates to a new key; a token with the new kid arrives.
    serve(&f, &[&old, &new]);
    f.delay_ms.store(30, Ordering::SeqCst);
    let tok = Arc::new(token(&new));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (cache, tok) = (cache.clone(), tok.clone());
            tokio::spawn(async move { cache.verify_signature(&tok, ISSUER, NOW + 5).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        f.count.load(Ordering::SeqCst),
        4,
        "herd collapsed into one refetch"
    );
    f.delay_ms.store(0, Ordering::SeqCst);

    // Random kids cannot force refetches more than once per interval.
    let bogus = |kid: &str| {
        UnverifiedToken::parse(&craft(
            &old,
            &format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#),
            &claims_json(),
        ))
        .unwrap()
    };
    for (i, t) in [NOW + 6, NOW + 7, NOW + 20, NOW + 34]
        .into_iter()
        .enumerate()
    {
        let err = cache
            .verify_signature(&bogus(&format!("k{i}")), ISSUER, t)
            .await
            .unwrap_err();
        assert!(matches!(err, VerifyError::Token(TokenError::UnknownKid(_))));
    }
    assert_eq!(
        f.count.load(Ordering::SeqCst),
        4,
        "within 30 s of the last refresh"
    );
    let err = cache
        .verify_signature(&bogus("late"), ISSUER, NOW + 35)
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::Token(TokenError::UnknownKid(_))));
    assert_eq!(
        f.count.load(Ordering::SeqCst),
        6,
        "one refetch after the interval"
    );
    let stats = cache.stats();
    assert_eq!(
        (stats.fetches, stats.unknown_kid_fetches),
        (3, 2),
        "{stats:?}"
    );
}

#[tokio::test]
async fn failures_are_idp_communication_errors_with_backoff_and_stale_keys() {
    let key = rsa();
    let (f, cache) = setup(&[&key]);
    f.fail.store(true, Ordering::SeqCst);
    let err = cache
        .verify_signature(&token(&key), ISSUER, NOW)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::Fetch(FetchError::HttpStatus {
            url: format!("{ISSUER}/.well-known/openid-configuration"),
            status: 503
        })
    );
    assert_eq!(err.sts_error_code(), StsErrorCode::InvalidIdentityToken);
    assert_eq!(f.count.load(Ordering::SeqCst), 1);
    // Within the backoff: the same error, no request.
    assert!(cache.keys(ISSUER, NOW + 4).await.is_err());
    assert_eq!(f.count.load(Ordering::SeqCst), 1);
    // After it: retried, and recovery works.
    f.fail.store(false, Ordering::SeqCst);
    cache.keys(ISSUER, NOW + 5).await.unwrap();
    assert_eq!(f.count.load(Ordering::SeqCst), 3);
    // TTL expires while the issuer is down: stale keys keep verifying.
    f.fail.store(true, Ordering::SeqCst);
    cache
        .verify_signature(&token(&key), ISSUER, NOW + 5 + 3600 + 10)
        .await
        .unwrap();
    assert_eq!(f.count.load(Ordering::SeqCst), 4);
    // ... but not forever.
    let too_late = NOW + 5 + 3600 + 86_400 + 1;
    assert!(matches!(
        cache.verify_signature(&token(&key), ISSUER, too_late).await,
        Err(VerifyError::Fetch(_))
    ));
}

#[tokio::test]
async fn discovery_validation() {
    let key = rsa();
    let f = Arc::new(StaticFetcher::new());
    let cache = JwksCache::new(f.clone());
    let disc = discovery_url(ISSUER);
    // Issuer mismatch (OIDC Discovery §4.3).
    f.insert(
        disc.clone(),
        discovery_document(
            "https://other",
            &default_jwks_uri(ISSUER),
            &[Algorithm::Rs256],
        ),
    );
    f.insert(default_jwks_uri(ISSUER), jwks_document([key.jwk()]));
    assert!(matches!(
        cache.keys(ISSUER, NOW).await,
        Err(FetchError::IssuerMismatch { .. })
    ));
    // Bad jwks_uri scheme.
    f.insert(
        disc.clone(),
        discovery_document(ISSUER, "file:///etc/passwd", &[Algorithm::Rs256]),
    );
    assert!(matches!(
        cache.keys(ISSUER, NOW + 10).await,
        Err(FetchError::InvalidDiscovery { .. })
    ));
    // Not JSON.
    f.insert(disc.clone(), "<html>");
    assert!(matches!(
        cache.keys(ISSUER, NOW + 20).await,
        Err(FetchError::InvalidDiscovery { .. })
    ));
    // JWKS without usable keys.
    f.insert(
        disc.clone(),
        discovery_document(ISSUER, &default_jwks_uri(ISSUER), &[Algorithm::Rs256]),
    );
    f.insert(
        default_jwks_uri(ISSUER),
        r#"{"keys":[{"kty":"oct","k":"AA"}]}"#,
    );
    assert!(matches!(
        cache.keys(ISSUER, NOW + 30).await,
        Err(FetchError::NoUsableKeys { .. })
    ));
    f.insert(default_jwks_uri(ISSUER), "[]");
    assert!(matches!(
        cache.keys(ISSUER, NOW + 40).await,
        Err(FetchError::InvalidJwks { .. })
    ));
    // Missing document.
    f.remove(&disc);
    assert!(matches!(
        cache.keys(ISSUER, NOW + 50).await,
        Err(FetchError::HttpStatus { status: 404, .. })
    ));
}

#[tokio::test]
async fn fetch_timeout_bounds_a_hanging_fetcher() {
    let f = Arc::new(Counting::default());
    f.hang.store(true, Ordering::SeqCst);
    let cache = JwksCache::with_config(
        f.clone(),
        JwksCacheConfig {
            fetch_timeout: Duration::from_millis(100),
            ..Default::default()
        },
    );
    let started = std::time::Instant::now();
    assert!(matches!(
        cache.keys(ISSUER, NOW).await,
        Err(FetchError::Timeout { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn built_in_issuers_resolve_without_http_and_others_fall_back() {
    let builtin = ec();
    let external = rsa();
    // Fallback stands in for HttpFetcher: it knows the external issuer only.
    let fallback = Arc::new(StaticFetcher::new());
    fallback.serve_issuer(
        "https://idp.example",
        "https://idp.example/keys",
        [external.jwk()],
    );
    let f = Arc::new(StaticFetcher::with_fallback(fallback.clone()));
    f.serve_issuer(ISSUER, &default_jwks_uri(ISSUER), [builtin.jwk()]);
    let cache = JwksCache::new(f.clone());
    cache
        .verify_signature(&token(&builtin), ISSUER, NOW)
        .await
        .unwrap();
    assert!(fallback.requested_urls().is_empty());
    let mut req = request();
    req.issuer = "https://idp.example".into();
    let ext = UnverifiedToken::parse(&req.mint(&external).unwrap().token).unwrap();
    cache
        .verify_signature(&ext, "https://idp.example", NOW)
        .await
        .unwrap();
    assert_eq!(fallback.requested_urls().len(), 2);
    // Seeding the cache directly also works (no fetch at all).
    let seeded = JwksCache::new(Arc::new(StaticFetcher::new()));
    seeded.insert(ISSUER, JwkSet::from_public_jwks([builtin.jwk()]), NOW);
    seeded
        .verify_signature(&token(&builtin), ISSUER, NOW)
        .await
        .unwrap();
    assert!(seeded.cached(ISSUER, NOW).is_some());
    seeded.invalidate(ISSUER);
    assert!(seeded.cached(ISSUER, NOW).is_none());
}

#[tokio::test]
async fn unsupported_alg_rejected_before_any_fetch() {
    let (f, cache) = setup(&[&rsa()]);
    let t = UnverifiedToken::parse(&craft_raw(r#"{"alg":"none"}"#, &claims_json(), b"")).unwrap();
    let err = cache.verify_signature(&t, ISSUER, NOW).await.unwrap_err();
    assert_eq!(
        err,
        VerifyError::Token(TokenError::UnsupportedAlgorithm("none".into()))
    );
    assert_eq!(f.count.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn issuer_cap_evicts_idle_entries() {
    let key = rsa();
    let f = Arc::new(StaticFetcher::new());
    for i in 0..5 {
        let iss = format!("https://iss{i}.example");
        f.serve_issuer(&iss, &format!("{iss}/jwks"), [key.jwk()]);
    }
    let cache = JwksCache::with_config(
        f.clone(),
        JwksCacheConfig {
            max_issuers: 2,
            ..Default::default()
        },
    );
    for i in 0..5 {
        cache
            .keys(&format!("https://iss{i}.example"), NOW + i)
            .await
            .unwrap();
    }
    let cached = (0..5)
        .filter(|i| {
            cache
                .cached(&format!("https://iss{i}.example"), NOW + 5)
                .is_some()
        })
        .count();
    assert!(cached <= 2, "{cached}");
    assert!(cache.cached("https://iss4.example", NOW + 5).is_some());
}
