//! Sealed, self-contained session credentials.
//!
//! A temporary credential creates no database row. Its session token is an
//! AEAD-sealed blob — `version ‖ key id ‖ nonce ‖ AES-256-GCM(claims)` in
//! base64 — holding everything needed to authenticate and authorize requests
//! made with it. Any replica holding the sealing key can open it; memory and
//! storage stay flat however many sessions are issued. Keys rotate: the
//! current key seals, older keys still open until their sessions expire.

use crate::random::Random;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;
/// Session tokens longer than this are rejected before decoding.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// How a session came to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SessionOrigin {
    /// `AssumeRoleWithWebIdentity`.
    WebIdentity {
        /// The IAM OIDC provider ARN.
        provider_arn: String,
        /// The token's `sub`.
        subject: String,
        /// The matched audience.
        audience: String,
    },
    /// `AssumeRole` by another principal.
    AssumeRole {
        /// The caller's ARN.
        source_arn: String,
    },
    /// eks-auth `AssumeRoleForPodIdentity`.
    PodIdentity {
        /// The cluster name.
        cluster: String,
        /// The association id.
        association_id: String,
    },
    /// The node's instance profile (IMDS).
    InstanceProfile {
        /// The instance profile ARN.
        instance_profile_arn: String,
    },
}

/// Everything a session token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret the caller signs with.
    pub secret_access_key: String,
    /// The role's account.
    pub account: String,
    /// `arn:aws:iam::ACCT:role/PATH/NAME`.
    pub role_arn: String,
    /// `AROA…`.
    pub role_id: String,
    /// The role's name.
    pub role_name: String,
    /// The role session name.
    pub session_name: String,
    /// Issue time, epoch seconds.
    pub issued_at: i64,
    /// Expiry, epoch seconds.
    pub expires_at: i64,
    /// How the session was obtained.
    pub origin: SessionOrigin,
    /// An inline session policy, if one was passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    /// Managed session policy ARNs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_arns: Vec<String>,
    /// Session tags (key, value); keys unique case-insensitively.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// Keys of `tags` that pass through role chaining.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitive_tag_keys: Vec<String>,
    /// The source identity, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// Whether this session came from role chaining (capped at one hour).
    #[serde(default)]
    pub chained: bool,
}

impl SessionClaims {
    /// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`.
    pub fn assumed_role_arn(&self) -> String {
        crate::arn::assumed_role_arn(&self.account, &self.role_name, &self.session_name)
    }

    /// `AROA…:SESSION`, the `aws:userid` of the session.
    pub fn assumed_role_id(&self) -> String {
        format!("{}:{}", self.role_id, self.session_name)
    }

    /// Whether the credentials have expired at `now`.
    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }
}

/// Why a session token could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not base64, too short, too long, or an unknown version.
    #[error("session token is malformed")]
    Malformed,
    /// Sealed with a key this replica does not hold (rotated out, or forged).
    #[error("session token sealed with unknown key {0}")]
    UnknownKey(u32),
    /// Authentication failed: the token was altered.
    #[error("session token failed authentication")]
    Tampered,
}

/// A sealing key: id plus 32 bytes of AES-256 key material.
#[derive(Clone, Serialize, Deserialize)]
pub struct SealingKey {
    /// Key id, carried in clear in each token.
    pub id: u32,
    /// Base64 of the 32-byte key.
    pub secret: String,
    /// When the key was created, epoch seconds.
    pub created_at: i64,
    /// When it starts sealing (0: at once). A rotated-in key is shared with
    /// every replica before any of them seals with it.
    #[serde(default)]
    pub active_from: i64,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .field("active_from", &self.active_from)
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    /// A fresh random key.
    pub fn generate(rng: &dyn Random, now: i64) -> Self {
        let mut k = [0u8; 32];
        rng.fill(&mut k);
        let mut id = [0u8; 4];
        rng.fill(&mut id);
        Self {
            id: u32::from_be_bytes(id),
            secret: STANDARD.encode(k),
            created_at: now,
            active_from: 0,
        }
    }
}

/// How many opened tokens a [`Sealer`] remembers.
const OPENED_CAPACITY: usize = 4096;

/// Seals and opens session tokens with a key ring.
///
/// It remembers the claims of the tokens it opened (at most
/// [`OPENED_CAPACITY`]): a client signs each request with the same token,
/// and the same bytes under the same keys always open to the same claims.
/// A changed key ring is a new `Sealer`, which remembers nothing.
pub struct Sealer {
    current: u32,
    keys: HashMap<u32, LessSafeKey>,
    opened: std::sync::RwLock<HashMap<Box<str>, Arc<SessionClaims>>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("current", &self.current)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Sealer {
    /// A sealer that seals with the newest of `keys` active at `now` and
    /// opens with any. `None` when no key is active or a key is not 32
    /// bytes of base64.
    pub fn new(keys: &[SealingKey], now: i64) -> Option<Self> {
        let newest = keys
            .iter()
            .filter(|k| k.active_from <= now)
            .max_by_key(|k| (k.active_from, k.created_at, k.id))?;
        let mut map = HashMap::new();
        for k in keys {
            let raw = STANDARD.decode(&k.secret).ok()?;
            let unbound = UnboundKey::new(&AES_256_GCM, &raw).ok()?;
            map.insert(k.id, LessSafeKey::new(unbound));
        }
        Some(Self {
            current: newest.id,
            keys: map,
            opened: std::sync::RwLock::default(),
        })
    }

    /// The id of the key that seals.
    pub fn current_key_id(&self) -> u32 {
        self.current
    }

    /// Seals `claims` into a session token.
    pub fn seal(&self, claims: &SessionClaims, rng: &dyn Random) -> String {
        let mut header = [0u8; HEADER_LEN];
        header[0] = VERSION;
        header[1..5].copy_from_slice(&self.current.to_be_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        header[5..].copy_from_slice(&nonce);
        // Serialising a struct of strings and integers cannot fail.
        let mut data = serde_json::to_vec(claims).unwrap_or_default();
        let key = &self.keys[&self.current];
        // Sealing only fails for absurd lengths (> 64 GiB).
        if key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&header[..5]),
                &mut data,
            )
            .is_err()
        {
            data.clear();
        }
        let mut out = Vec::with_capacity(HEADER_LEN + data.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&data);
        STANDARD.encode(out)
    }

    /// Opens a session token. Expiry is the caller's check. The claims are
    /// shared with the cache of opened tokens (every request of a session
    /// opens its token).
    pub fn open(&self, token: &str) -> Result<Arc<SessionClaims>, SealError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(SealError::Malformed);
        }
        let token = token.trim();
        if let Some(c) = self
            .opened
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
        {
            return Ok(c.clone());
        }
        let claims = Arc::new(self.unseal(token)?);
        let mut opened = self.opened.write().unwrap_or_else(|e| e.into_inner());
        if opened.len() >= OPENED_CAPACITY {
            opened.clear();
        }
        opened.insert(token.into(), claims.clone());
        Ok(claims)
    }

    fn unseal(&self, token: &str) -> Result<SessionClaims, SealError> {
        let raw = STANDARD.decode(token).map_err(|_| SealError::Malformed)?;
        if raw.len() < HEADER_LEN + 16 || raw[0] != VERSION {
            return Err(SealError::Malformed);
        }
        let kid = u32::from_be_bytes([raw[1], raw[2], raw[3], raw[4]]);
        let key = self.keys.get(&kid).ok_or(SealError::UnknownKey(kid))?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&raw[5..HEADER_LEN]);
        let mut data = raw[HEADER_LEN..].to_vec();
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&raw[..5]),
                &mut data,
            )
            .map_err(|_| SealError::Tampered)?;
        serde_json::from_slice(plain).map_err(|_| SealError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn claims() -> SessionClaims {
        SessionClaims {
            access_key_id: "ASIAEXAMPLEEXAMPLE12".into(),
            secret_access_key: "s".repeat(40),
            account: "000000000000".into(),
            role_arn: "arn:aws:iam::000000000000:role/r".into(),
            role_id: "AROAEXAMPLEEXAMPLE123".into(),
            role_name: "r".into(),
            session_name: "s1".into(),
            issued_at: 10,
            expires_at: 3610,
            origin: SessionOrigin::WebIdentity {
                provider_arn: "arn:aws:iam::000000000000:oidc-provider/x".into(),
                subject: "system:serviceaccount:default:sa".into(),
                audience: "sts.amazonaws.com".into(),
            },
            session_policy: None,
            policy_arns: vec![],
            tags: vec![("k".into(), "v".into())],
            transitive_tag_keys: vec![],
            source_identity: None,
            chained: false,
        }
    }

    #[test]
    fn seal_open_rotate_tamper() {
        let rng = SeededRandom::new(3);
        let k1 = SealingKey::generate(&rng, 1);
        let old = Sealer::new(std::slice::from_ref(&k1), 1).unwrap();
        let t1 = old.seal(&claims(), &rng);
        assert_eq!(old.open(&t1).unwrap(), claims().into());
        assert_eq!(
            claims().assumed_role_arn(),
            "arn:aws:sts::000000000000:assumed-role/r/s1"
        );
        assert!(claims().is_expired(3610) && !claims().is_expired(3609));

        // Rotation: the new key seals once active, the old one still opens.
        let mut k2 = SealingKey::generate(&rng, 2);
        k2.active_from = 10;
        let pending = Sealer::new(&[k1.clone(), k2.clone()], 9).unwrap();
        assert_eq!(pending.current_key_id(), k1.id);
        assert_eq!(
            *pending.open(&pending.seal(&claims(), &rng)).unwrap(),
            claims()
        );
        let both = Sealer::new(&[k1.clone(), k2.clone()], 10).unwrap();
        assert_eq!(both.current_key_id(), k2.id);
        assert_eq!(both.open(&t1).unwrap(), claims().into());
        let t2 = both.seal(&claims(), &rng);
        assert_eq!(old.open(&t2), Err(SealError::UnknownKey(k2.id)));

        // Flip one bit anywhere in the ciphertext.
        let mut raw = STANDARD.decode(&t1).unwrap();
        let n = raw.len();
        raw[n - 20] ^= 1;
        assert_eq!(old.open(&STANDARD.encode(&raw)), Err(SealError::Tampered));
        // The key id is authenticated too.
        let mut raw = STANDARD.decode(&t1).unwrap();
        raw[0] = 9;
        assert_eq!(old.open(&STANDARD.encode(&raw)), Err(SealError::Malformed));
        assert_eq!(old.open("!!"), Err(SealError::Malformed));
        assert_eq!(old.open(""), Err(SealError::Malformed));
    }

    #[test]
    fn remembered_tokens_follow_the_key_ring() {
        let rng = SeededRandom::new(4);
        let k1 = SealingKey::generate(&rng, 1);
        let k2 = SealingKey::generate(&rng, 1);
        let both = Sealer::new(&[k1.clone(), k2.clone()], 1).unwrap();
        let t1 = Sealer::new(std::slice::from_ref(&k1), 1)
            .unwrap()
            .seal(&claims(), &rng);
        // Opened twice: the second answer is the remembered one, the same.
        assert_eq!(both.open(&t1).unwrap(), claims().into());
        assert_eq!(*both.open(&format!(" {t1}\n")).unwrap(), claims());
        // A ring without k1 (k1 dropped) refuses what the old ring opened.
        let without = Sealer::new(std::slice::from_ref(&k2), 1).unwrap();
        assert_eq!(without.open(&t1), Err(SealError::UnknownKey(k1.id)));
        // Memory is bounded.
        for _ in 0..OPENED_CAPACITY + 10 {
            let t = both.seal(&claims(), &rng);
            both.open(&t).unwrap();
        }
        assert!(both.opened.read().unwrap().len() <= OPENED_CAPACITY);
    }
}
