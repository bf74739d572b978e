//! Encryption at rest of secret documents under a master key.
//!
//! Documents of entities marked [`Entity::SECRET`](crate::Entity::SECRET)
//! (signing keys, session-sealing keys, access keys) are stored as
//! `$sealed:v1:<key id>:<base64(nonce ‖ AES-256-GCM(json))>`, with the
//! document's kind, account and key as associated data, so a ciphertext
//! cannot be moved to another row. The key id (the first 8 bytes of the
//! master key's SHA-256, hex) tells a replica started with the wrong key
//! which key it needs, without revealing it.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const PREFIX: &str = "$sealed:v1:";

/// The key every secret document is encrypted under.
pub struct MasterKey {
    key: LessSafeKey,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish()
    }
}

/// Why a master key or a sealed document could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key text is not 32 bytes in base64 or hex.
    #[error(
        "a master key is 32 random bytes in base64 (44 characters) or hex (64 characters); create one with `head -c 32 /dev/urandom | base64`"
    )]
    BadKey,
    /// The document is sealed but this process has no master key.
    #[error(
        "the document is encrypted at rest under master key {0}; start podiam with that key (--master-key-file)"
    )]
    NoKey(String),
    /// The document is sealed under another master key.
    #[error(
        "the document is encrypted under master key {found}, but this process has master key {ours}"
    )]
    WrongKey {
        /// The key id in the document.
        found: String,
        /// This process's key id.
        ours: String,
    },
    /// Authentication failed or the envelope is malformed.
    #[error("the sealed document is damaged or was moved from another row")]
    Damaged,
}

impl MasterKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        let id = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // AES-256-GCM accepts any 32-byte key.
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, bytes).unwrap_or_else(|_| unreachable!()),
        );
        MasterKey { key, id }
    }

    /// Parses a key file's or variable's text: 32 bytes in base64 or hex,
    /// surrounding whitespace ignored.
    pub fn parse(text: &str) -> Result<MasterKey, SealError> {
        let t = text.trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| SealError::BadKey)?
        } else {
            STANDARD.decode(t).map_err(|_| SealError::BadKey)?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(MasterKey::from_bytes(&bytes))
    }

    /// A new random key and its base64 text (for a key file).
    pub fn generate() -> (MasterKey, String) {
        let mut bytes = [0u8; 32];
        // The system RNG does not fail on supported platforms.
        SystemRandom::new()
            .fill(&mut bytes)
            .unwrap_or_else(|_| unreachable!());
        (MasterKey::from_bytes(&bytes), STANDARD.encode(bytes))
    }

    /// The key's public id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Encrypts `plain`, bound to `aad`.
    pub(crate) fn seal(&self, aad: &str, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .unwrap_or_else(|_| unreachable!());
        let mut buf = plain.as_bytes().to_vec();
        // Sealing in place cannot fail for inputs under GCM's 64 GiB limit.
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .unwrap_or_else(|_| unreachable!());
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!("{PREFIX}{}:{}", self.id, STANDARD.encode(out))
    }

    /// Decrypts a [`is_sealed`] body bound to `aad`.
    pub(crate) fn open(&self, aad: &str, body: &str) -> Result<String, SealError> {
        let (found, data) = split(body)?;
        if found != self.id {
            return Err(SealError::WrongKey {
                found: found.to_string(),
                ours: self.id.clone(),
            });
        }
        let raw = STANDARD.decode(data).map_err(|_| SealError::Damaged)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::Damaged);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Damaged)?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| SealError::Damaged)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Damaged)
    }
}

/// Whether a stored body is sealed.
pub(crate) fn is_sealed(body: &str) -> bool {
    body.starts_with(PREFIX)
}

/// The key id a sealed body names.
pub(crate) fn key_id(body: &str) -> Option<&str> {
    split(body).ok().map(|(id, _)| id)
}

fn split(body: &str) -> Result<(&str, &str), SealError> {
    body.strip_prefix(PREFIX)
        .and_then(|r| r.split_once(':'))
        .ok_or(SealError::Damaged)
}

/// The associated data binding a sealed body to its row.
pub(crate) fn aad(kind: &str, account: &str, key: &str) -> String {
    format!("{kind}\n{account}\n{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_every_way_to_fail() {
        let (k, text) = MasterKey::generate();
        let again = MasterKey::parse(&format!("  {text}\n")).expect("base64");
        assert_eq!(again.id(), k.id());
        let hex: String = STANDARD
            .decode(&text)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(MasterKey::parse(&hex).expect("hex").id(), k.id());
        for bad in ["", "short", &text[..40], &hex[..62]] {
            assert_eq!(MasterKey::parse(bad).unwrap_err(), SealError::BadKey);
        }

        let a = aad("cluster", "000000000000", "demo");
        let sealed = k.seal(&a, r#"{"secret":"x"}"#);
        assert!(is_sealed(&sealed) && !sealed.contains("secret"));
        assert_eq!(key_id(&sealed), Some(k.id()));
        assert_eq!(again.open(&a, &sealed).unwrap(), r#"{"secret":"x"}"#);
        // Moved to another row.
        assert_eq!(
            k.open(&aad("cluster", "000000000000", "other"), &sealed),
            Err(SealError::Damaged)
        );
        // Another master key.
        let (other, _) = MasterKey::generate();
        assert!(matches!(
            other.open(&a, &sealed),
            Err(SealError::WrongKey { .. })
        ));
        // Tampered ciphertext.
        let mut t = sealed.clone().into_bytes();
        let last = t.len() - 3;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            k.open(&a, &String::from_utf8(t).unwrap()),
            Err(SealError::Damaged)
        );
        assert!(format!("{k:?}").contains(k.id()));
    }
}
