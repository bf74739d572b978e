//! Verification benchmarks: a realistic pod-bound kube token checked against a cached
//! JWKS (RS256 and ES256), plus minting for comparison.
//!
//! Run with `cargo bench -p podiam-oidc --bench verify`.

use std::sync::{Arc, LazyLock};

use divan::{Bencher, black_box};
use podiam_oidc::{
    Algorithm, JwkSet, JwksCache, ServiceAccountTokenRequest, SigningKey, StaticFetcher,
    UnverifiedToken, default_jwks_uri,
};

const ISSUER: &str = "https://oidc.eks.eu-west-3.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF";
const AUD: &str = "sts.amazonaws.com";
const NOW: i64 = 1_700_000_000;

fn main() {
    divan::main();
}

struct Fixture {
    key: SigningKey,
    token: String,
    cache: JwksCache,
    runtime: tokio::runtime::Runtime,
}

fn request() -> ServiceAccountTokenRequest {
    ServiceAccountTokenRequest::new(
        ISSUER,
        "payments",
        "payments-api",
        "0b6f3c9e-52a1-4a8e-9d43-5a1f7f4e2c11",
        AUD,
        NOW,
        [0x5a; 16],
    )
    .with_expiration_seconds(86_400)
    .with_pod(
        "payments-api-7d9f8c6b5d-x2k8q",
        "6c1d7a0e-3b2f-4c8d-a9e1-2f3b4c5d6e7f",
    )
    .with_node(
        "ip-10-0-12-34.eu-west-3.compute.internal",
        "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    )
}

fn fixture(alg: Algorithm) -> Fixture {
    let key = SigningKey::generate(alg).expect("keygen");
    // A second key in the set, as during rotation.
    let other = SigningKey::generate(alg).expect("keygen");
    let token = request().mint(&key).expect("mint").token;
    let fetcher = Arc::new(StaticFetcher::new());
    fetcher.serve_issuer(ISSUER, &default_jwks_uri(ISSUER), [other.jwk(), key.jwk()]);
    let cache = JwksCache::new(fetcher);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(cache.keys(ISSUER, NOW))
        .expect("warm cache");
    Fixture {
        key,
        token,
        cache,
        runtime,
    }
}

static RS256: LazyLock<Fixture> = LazyLock::new(|| fixture(Algorithm::Rs256));
static ES256: LazyLock<Fixture> = LazyLock::new(|| fixture(Algorithm::Es256));

fn fx(alg: &str) -> &'static Fixture {
    if alg == "RS256" { &RS256 } else { &ES256 }
}

/// Full STS-style check with the cached key set: parse, signature, time, audience.
#[divan::bench(args = ["RS256", "ES256"])]
fn parse_and_verify(b: Bencher, alg: &str) {
    let f = fx(alg);
    b.bench(|| {
        let tok = UnverifiedToken::parse(black_box(&f.token)).expect("parse");
        let keys: Arc<JwkSet> = f.cache.cached(ISSUER, NOW).expect("cached");
        tok.verify_signature(&keys).expect("verify");
        tok.check_time(NOW + 1, 0).expect("time");
        tok.check_audience(&[AUD]).expect("aud")
    });
}

/// Signature verification only (token already parsed).
#[divan::bench(args = ["RS256", "ES256"])]
fn verify_signature_only(b: Bencher, alg: &str) {
    let f = fx(alg);
    let tok = UnverifiedToken::parse(&f.token).expect("parse");
    let keys = f.cache.cached(ISSUER, NOW).expect("cached");
    b.bench(|| black_box(&tok).verify_signature(&keys).expect("verify"));
}

/// Parse only.
#[divan::bench(args = ["RS256", "ES256"])]
fn parse_only(b: Bencher, alg: &str) {
    let f = fx(alg);
    b.bench(|| UnverifiedToken::parse(black_box(&f.token)).expect("parse"));
}

/// Through the async cache API (cache hit; includes `block_on`).
#[divan::bench(args = ["RS256", "ES256"])]
fn cache_verify_signature(b: Bencher, alg: &str) {
    let f = fx(alg);
    let tok = UnverifiedToken::parse(&f.token).expect("parse");
    b.bench(|| {
        f.runtime
            .block_on(f.cache.verify_signature(black_box(&tok), ISSUER, NOW))
            .expect("verify")
    });
}

/// Minting (claims + sign).
#[divan::bench(args = ["RS256", "ES256"])]
fn mint(b: Bencher, alg: &str) {
    let f = fx(alg);
    let req = request();
    b.bench(|| req.mint(black_box(&f.key)).expect("mint"));
}
