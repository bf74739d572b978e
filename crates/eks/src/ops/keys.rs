//! Signing keys of built-in cluster issuers, and their rotation.
//!
//! A cluster holds its keys oldest first. At any moment the newest key whose
//! `active_from` has passed signs; newer keys are *pending* (in the JWKS,
//! not signing yet) and older ones *retired* (in the JWKS until the last
//! token they signed has expired, plus STS's leeway, then dropped). All of
//! it is derived from the stored keys and the clock: every replica agrees,
//! no background job runs, and nothing needs a write to expire.

use crate::error::EksError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use podiam_auth::Services;
use podiam_core::timefmt::iso8601;
use podiam_oidc::{Algorithm, SigningKey};
use podiam_store::{Cluster, ClusterKey};
use serde_json::{Value, json};

/// How long a retired key outlives its last token: STS's clock leeway, so
/// a token still inside it fails as expired rather than as unknown-key.
pub const EXPIRY_GRACE: i64 = 60;

/// Default wait between publishing a rotated-in key and signing with it:
/// the JWKS `Cache-Control` max-age, so even a verifier that never refetches
/// on an unknown `kid` has the new key before the first token using it.
pub const DEFAULT_PUBLISH_DELAY: i64 = 3600;

/// Longest allowed publish delay (a week).
const MAX_PUBLISH_DELAY: i64 = 7 * 24 * 3600;

/// Generates a key for `alg` (`RS256` or `ES256`) that signs from `active_from`.
pub(crate) fn generate(alg: &str, now: i64, active_from: i64) -> Result<ClusterKey, EksError> {
    let alg = match alg {
        "RS256" => Algorithm::Rs256,
        "ES256" => Algorithm::Es256,
        other => {
            return Err(EksError::InvalidParameter(format!(
                "Unsupported signing algorithm {other:?}: use RS256 or ES256."
            )));
        }
    };
    let key = SigningKey::generate(alg).map_err(|e| EksError::Server(e.to_string()))?;
    Ok(ClusterKey {
        kid: key.kid().to_string(),
        alg: key.algorithm().as_str().to_string(),
        private_pkcs8: STANDARD.encode(key.to_pkcs8_der()),
        created_at: now,
        active_from,
        signed_until: 0,
    })
}

/// The usable key of a stored record.
pub(crate) fn load(k: &ClusterKey) -> Result<SigningKey, EksError> {
    let der = STANDARD
        .decode(&k.private_pkcs8)
        .map_err(|e| EksError::Server(format!("stored key {} is not base64: {e}", k.kid)))?;
    SigningKey::from_pkcs8_der(&der).map_err(|e| EksError::Server(e.to_string()))
}

/// The index of the key that signs at `now`.
pub(crate) fn signing_index(keys: &[ClusterKey], now: i64) -> Option<usize> {
    keys.iter().rposition(|k| k.active_from <= now)
}

/// Where key `i` is in its life at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyState {
    /// Published, signs later.
    Pending,
    /// Published and signing.
    Signing,
    /// Published for tokens it signed that have not expired.
    Retired,
    /// Every token it signed has expired: no longer published.
    Expired,
}

impl KeyState {
    fn name(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Signing => "signing",
            KeyState::Retired => "retired",
            KeyState::Expired => "expired",
        }
    }

    /// Whether the key is in the JWKS.
    pub(crate) fn published(self) -> bool {
        self != KeyState::Expired
    }
}

/// The state of key `i` at `now`.
pub(crate) fn state(keys: &[ClusterKey], i: usize, now: i64) -> KeyState {
    match signing_index(keys, now) {
        Some(s) if i == s => KeyState::Signing,
        Some(s) if i < s => {
            if now < keys[i].signed_until.saturating_add(EXPIRY_GRACE) {
                KeyState::Retired
            } else {
                KeyState::Expired
            }
        }
        _ => KeyState::Pending,
    }
}

/// What `podiam keys rotate` asks for.
#[derive(Debug, Clone, Default)]
pub struct RotateSpec {
    /// Seconds between publishing the new key and signing with it
    /// (default [`DEFAULT_PUBLISH_DELAY`]).
    pub publish_delay: Option<i64>,
    /// `RS256` or `ES256`; default: the current key's algorithm.
    pub algorithm: Option<String>,
}

/// Adds a new signing key to a built-in issuer: published now, signing
/// after the publish delay. Keys whose tokens have all expired are dropped.
pub async fn rotate(
    svc: &Services,
    account: &str,
    cluster: &str,
    spec: &RotateSpec,
) -> Result<Cluster, EksError> {
    let delay = spec.publish_delay.unwrap_or(DEFAULT_PUBLISH_DELAY);
    if !(0..=MAX_PUBLISH_DELAY).contains(&delay) {
        return Err(EksError::InvalidParameter(format!(
            "publishDelaySeconds must be between 0 and {MAX_PUBLISH_DELAY}."
        )));
    }
    svc.store
        .modify(account, cluster, |cur: Option<&Cluster>| {
            let cur = cur.ok_or_else(|| crate::cluster::not_found(cluster))?;
            let now = svc.now();
            let Some(signing) = signing_index(&cur.keys, now) else {
                return Err(external(cluster));
            };
            if let Some(p) = cur.keys.iter().find(|k| k.active_from > now) {
                return Err(EksError::InvalidRequest(format!(
                    "A rotation of cluster {cluster} is already pending: key {} signs from {}.",
                    p.kid,
                    iso8601(p.active_from)
                )));
            }
            let alg = spec
                .algorithm
                .clone()
                .unwrap_or_else(|| cur.keys[signing].alg.clone());
            let mut next = cur.clone();
            next.keys = (0..cur.keys.len())
                .filter(|&i| state(&cur.keys, i, now).published())
                .map(|i| cur.keys[i].clone())
                .collect();
            next.keys.push(generate(&alg, now, now + delay)?);
            Ok((Some(next.clone()), next))
        })
        .await
}

/// The key that signs a token expiring at `exp`, recorded first so the key
/// stays published until that token expires even after a rotation. Only an
/// `exp` past the recorded one needs a write.
pub(crate) async fn sign_with(
    svc: &Services,
    account: &str,
    cluster: &str,
    exp: i64,
) -> Result<SigningKey, EksError> {
    svc.store
        .modify(account, cluster, |cur: Option<&Cluster>| {
            let cur = cur.ok_or_else(|| crate::cluster::not_found(cluster))?;
            let now = svc.now();
            let Some(i) = signing_index(&cur.keys, now) else {
                return Err(external(cluster));
            };
            let key = load(&cur.keys[i])?;
            if cur.keys[i].signed_until >= exp {
                return Ok((None, key));
            }
            // Recorded with half a lifetime of slack, so steady minting writes
            // about twice per token lifetime rather than on every token.
            let mut next = cur.clone();
            next.keys[i].signed_until = exp.saturating_add(exp.saturating_sub(now).max(0) / 2);
            Ok((Some(next), key))
        })
        .await
}

/// The keys of a cluster and where each is in its life, for `podiam keys list`.
pub fn describe(c: &Cluster, now: i64) -> Value {
    let keys: Vec<Value> = c
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let st = state(&c.keys, i, now);
            let mut v = json!({
                "kid": k.kid,
                "algorithm": k.alg,
                "state": st.name(),
                "createdAt": iso8601(k.created_at),
                "signsFrom": iso8601(k.active_from.max(k.created_at)),
            });
            if k.signed_until == i64::MAX {
                v["lastTokenExpires"] = json!("unknown (minted before podiam tracked it)");
            } else if k.signed_until > 0 {
                v["lastTokenExpires"] = json!(iso8601(k.signed_until));
            }
            if matches!(st, KeyState::Retired) && k.signed_until != i64::MAX {
                v["publishedUntil"] = json!(iso8601(k.signed_until + EXPIRY_GRACE));
            }
            v
        })
        .collect();
    json!({"cluster": c.name, "issuer": c.issuer, "keys": keys})
}

fn external(cluster: &str) -> EksError {
    EksError::InvalidRequest(format!(
        "Cluster {cluster} has an external issuer; podiam holds no key to sign its tokens."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(active_from: i64, signed_until: i64) -> ClusterKey {
        ClusterKey {
            kid: format!("k{active_from}"),
            alg: "RS256".into(),
            private_pkcs8: String::new(),
            created_at: 0,
            active_from,
            signed_until,
        }
    }

    #[test]
    fn life_of_a_rotated_key() {
        // Old key signed tokens until t=1500; the new key was published at
        // t=1000 and signs from t=1100.
        let keys = [key(0, 1500), key(1100, 0)];
        let at = |now| (state(&keys, 0, now), state(&keys, 1, now));
        use KeyState::*;
        assert_eq!(at(1000), (Signing, Pending));
        assert_eq!(at(1099), (Signing, Pending));
        assert_eq!(at(1100), (Retired, Signing));
        assert_eq!(at(1500 + EXPIRY_GRACE - 1), (Retired, Signing));
        assert_eq!(at(1500 + EXPIRY_GRACE), (Expired, Signing));
        assert_eq!(signing_index(&keys, 1099), Some(0));
        assert_eq!(signing_index(&keys, 1100), Some(1));
    }

    /// The whole rotation with a manual clock: both generations of tokens
    /// verify against the served JWKS while in flight; once the old key's
    /// last token has expired (plus the grace) only the new key is served.
    #[tokio::test]
    async fn rotation_keeps_old_tokens_verifiable_until_they_expire() {
        use crate::cluster::{ClusterSpec, TokenSpec, create_cluster, mint_token};
        use crate::issuer::{IssuerDocument, issuer_document};
        use podiam_core::{ManualClock, SystemRandom};
        use podiam_oidc::{JwkSet, UnverifiedToken};
        use std::sync::Arc;

        let clock = ManualClock::at(1_800_000_000);
        let store = Arc::new(podiam_store::Store::open_memory().await.expect("store"));
        let svc = Services::new(
            store,
            Arc::new(clock.clone()),
            Arc::new(SystemRandom),
            podiam_auth::Config {
                account: "000000000000".into(),
                region: "us-east-1".into(),
                public_url: "http://127.0.0.1:1".into(),
            },
        )
        .await
        .expect("services");
        let acct = "000000000000";
        create_cluster(
            &svc,
            acct,
            ClusterSpec {
                name: "demo".into(),
                ..Default::default()
            },
        )
        .await
        .expect("cluster");
        let spec = TokenSpec {
            namespace: "default".into(),
            service_account: "app".into(),
            audiences: vec![],
            expiration_seconds: 600,
            pod: None,
            insecure_short_lifetime: false,
        };
        let jwks = || {
            let doc = issuer_document(&svc.store, acct, "demo", IssuerDocument::Jwks, svc.now())
                .expect("jwks");
            JwkSet::from_json(doc.as_bytes()).expect("parse jwks")
        };
        let verifies = |t: &str| {
            UnverifiedToken::parse(t)
                .expect("parse")
                .verify_signature(&jwks())
                .is_ok()
        };
        let kid = |t: &str| {
            UnverifiedToken::parse(t)
                .expect("parse")
                .kid()
                .map(str::to_string)
        };

        let old = mint_token(&svc, acct, "demo", &spec).await.expect("mint");
        let spec30 = RotateSpec {
            publish_delay: Some(30),
            algorithm: Some("ES256".into()),
        };
        clock.advance(100);
        let c = rotate(&svc, acct, "demo", &spec30).await.expect("rotate");
        let new_kid = c.keys[1].kid.clone();
        assert!(jwks().contains_kid(&new_kid), "published before it signs");
        // A second rotation while one is pending is refused.
        assert!(matches!(
            rotate(&svc, acct, "demo", &spec30).await,
            Err(EksError::InvalidRequest(_))
        ));
        // Inside the publish delay the old key still signs.
        clock.advance(10);
        let during = mint_token(&svc, acct, "demo", &spec).await.expect("mint");
        assert_eq!(kid(&during), kid(&old));
        clock.advance(20);
        let new = mint_token(&svc, acct, "demo", &spec).await.expect("mint");
        assert_eq!(kid(&new).as_deref(), Some(new_kid.as_str()));
        for t in [&old, &during, &new] {
            assert!(verifies(t));
        }
        // `during` was the old key's last token (minted at +110, exp +710);
        // the key records that, with slack, and stays published until then.
        let c = svc.store.get::<Cluster>(acct, "demo").unwrap().unwrap();
        let until = c.keys[0].signed_until;
        assert!((1_800_000_710..=1_800_001_010).contains(&until), "{until}");
        clock.set(until + EXPIRY_GRACE - 1);
        assert!(
            verifies(&during),
            "old key dropped before its last token expired"
        );
        clock.advance(1);
        assert!(!verifies(&during) && !verifies(&old));
        assert!(verifies(&new));
        let listed = describe(
            &svc.store.get::<Cluster>(acct, "demo").unwrap().unwrap(),
            svc.now(),
        );
        assert_eq!(listed["keys"][0]["state"], "expired");
        assert_eq!(listed["keys"][1]["state"], "signing");
        // The next rotation drops the expired key from the store.
        let c = rotate(&svc, acct, "demo", &RotateSpec::default())
            .await
            .expect("rotate");
        assert_eq!(c.keys.len(), 2);
        assert_eq!(c.keys[0].kid, new_kid);
        assert_eq!(c.keys[1].alg, "ES256", "keeps the current algorithm");
    }

    #[test]
    fn untracked_keys_are_kept() {
        let keys = [key(0, i64::MAX), key(10, 0)];
        assert_eq!(state(&keys, 0, i64::MAX - 1), KeyState::Retired);
    }
}
