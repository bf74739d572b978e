//! SHA-256, HMAC-SHA256 and SigV4 signing-key derivation (aws-lc-rs), plus a small bounded
//! cache of derived keys.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::{digest, hmac};
use subtle::ConstantTimeEq;

/// Hex SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha256(data))
}

pub(crate) fn digest_to_array(d: digest::Digest) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn hmac_raw(key: &[u8], data: &[u8]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&key, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A derived SigV4 signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region),
/// service), "aws4_request")`. Its `Debug` output is redacted.
#[derive(Clone)]
pub struct SigningKey {
    key: hmac::Key,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Derives the signing key for `secret` and the scope `date` (`YYYYMMDD`), `region`,
    /// `service`.
    pub fn derive(secret: &str, date: &str, region: &str, service: &str) -> Self {
        let mut k_secret = Vec::with_capacity(4 + secret.len());
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret.as_bytes());
        let k_date = hmac_raw(&k_secret, date.as_bytes());
        let k_region = hmac_raw(&k_date, region.as_bytes());
        let k_service = hmac_raw(&k_region, service.as_bytes());
        let k_signing = hmac_raw(&k_service, b"aws4_request");
        Self::from_bytes(&k_signing)
    }

    /// Wraps raw key bytes (32 bytes for a real SigV4 key).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        SigningKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
        }
    }

    /// HMAC-SHA256 of `data` under this key.
    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.key, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// A bounded, thread-safe cache of derived signing keys keyed by
/// `(secret, date, region, service)`. When full, an arbitrary entry is evicted.
pub struct SigningKeyCache {
    capacity: usize,
    map: Mutex<HashMap<Box<[u8]>, SigningKey>>,
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl SigningKeyCache {
    /// A cache holding at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        SigningKeyCache {
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Returns the cached key for the tuple, deriving and inserting it when absent.
    pub fn get_or_derive(
        &self,
        secret: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> SigningKey {
        // Length-prefixed so that no two tuples share a cache key.
        let mut id =
            Vec::with_capacity(secret.len() + date.len() + region.len() + service.len() + 16);
        for part in [secret, date, region, service] {
            id.extend_from_slice(&(part.len() as u32).to_le_bytes());
            id.extend_from_slice(part.as_bytes());
        }
        if let Ok(map) = self.map.lock()
            && let Some(key) = map.get(id.as_slice())
        {
            return key.clone();
        }
        let key = SigningKey::derive(secret, date, region, service);
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= self.capacity
                && let Some(victim) = map.keys().next().cloned()
            {
                map.remove(&victim);
            }
            map.insert(id.into_boxed_slice(), key.clone());
        }
        key
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_documented_key() {
        // From the AWS "derive a signing key" example (secret of the SigV4 test suite).
        let key = SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        let sts = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\nf536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59";
        assert_eq!(
            hex::encode(key.sign(sts.as_bytes())),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn cache_is_bounded_and_consistent() {
        let cache = SigningKeyCache::new(2);
        let a = cache.get_or_derive("s", "20200101", "r", "svc");
        let _ = cache.get_or_derive("s", "20200102", "r", "svc");
        let _ = cache.get_or_derive("s", "20200103", "r", "svc");
        assert_eq!(cache.len(), 2);
        let again = cache.get_or_derive("s", "20200101", "r", "svc");
        assert_eq!(a.sign(b"x"), again.sign(b"x"));
    }
}
