//! UUID helpers: random `jti`s and deterministic object UIDs.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

fn format_uuid(b: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    s
}

/// Formats 16 random bytes as an RFC 9562 version-4 UUID (lower-case, 36 characters),
/// setting the version and variant bits.
pub fn uuid_v4_from_bytes(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    format_uuid(&bytes)
}

/// RFC 9562 version-5 (SHA-1, name-based) UUID of `name` in `namespace`.
pub fn uuid_v5(namespace: &[u8; 16], name: &[u8]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(namespace);
    ctx.update(name);
    let d = ctx.finish();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    format_uuid(&b)
}

/// A stable UID (v5 UUID, 36 characters) for a Kubernetes-style object, derived from a
/// per-deployment secret-ish `seed` so UIDs differ between installations but stay the
/// same across restarts: `uuid_v5(ns, "<kind>/<namespace>/<name>")` with
/// `ns = SHA-256(seed)[..16]`. Use `kind` `"ServiceAccount"` or `"Pod"` and an empty
/// namespace for cluster-scoped kinds (e.g. `"Node"`). Object names cannot contain `/`,
/// so the encoding is unambiguous.
pub fn object_uid(seed: &[u8], kind: &str, namespace: &str, name: &str) -> String {
    let h = digest::digest(&digest::SHA256, seed);
    let mut ns = [0u8; 16];
    ns.copy_from_slice(&h.as_ref()[..16]);
    let name = format!("{kind}/{namespace}/{name}");
    uuid_v5(&ns, name.as_bytes())
}

/// 16 bytes from the operating system's CSPRNG, for
/// [`ServiceAccountTokenRequest::jti_random`](crate::ServiceAccountTokenRequest::jti_random).
/// Returns `None` only if the system RNG fails.
pub fn random_uuid_bytes() -> Option<[u8; 16]> {
    let mut b = [0u8; 16];
    SystemRandom::new().fill(&mut b).ok()?;
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v5_known_vector() {
        // RFC 9562 namespace DNS; uuid5(NAMESPACE_DNS, "python.org") (Python docs).
        let dns: [u8; 16] = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            uuid_v5(&dns, b"python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
    }

    #[test]
    fn v4_format() {
        let u = uuid_v4_from_bytes([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let u = uuid_v4_from_bytes([0; 16]);
        assert_eq!(u, "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn object_uids_are_stable_and_distinct() {
        let a = object_uid(b"seed", "ServiceAccount", "default", "app");
        assert_eq!(a, object_uid(b"seed", "ServiceAccount", "default", "app"));
        assert_ne!(a, object_uid(b"seed2", "ServiceAccount", "default", "app"));
        assert_ne!(a, object_uid(b"seed", "Pod", "default", "app"));
        assert_ne!(a, object_uid(b"seed", "ServiceAccount", "defaul", "tapp"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
        assert!(random_uuid_bytes().is_some());
    }
}
