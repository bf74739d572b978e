//! Strict base64url (RFC 4648 §5, unpadded) as required by RFC 7515 §2.

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Canonical unpadded base64url: padding, `+`, `/`, whitespace and non-zero trailing
/// bits are all rejected.
const STRICT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Lenient variant for JWK members published by third parties (optional padding).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(false),
);

pub(crate) fn encode(bytes: impl AsRef<[u8]>) -> String {
    STRICT.encode(bytes)
}

pub(crate) fn decode_strict(s: &str) -> Option<Vec<u8>> {
    STRICT.decode(s).ok()
}

pub(crate) fn decode_lenient(s: &str) -> Option<Vec<u8>> {
    LENIENT.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_rejects_non_canonical() {
        assert_eq!(decode_strict("AQAB"), Some(vec![1, 0, 1]));
        assert_eq!(decode_strict("_-8"), Some(vec![0xff, 0xef]));
        assert_eq!(decode_strict("AQ"), Some(vec![1]));
        assert_eq!(decode_strict("AQ=="), None);
        assert_eq!(decode_strict("AR"), None, "non-zero trailing bits");
        assert_eq!(decode_strict("A"), None, "impossible length");
        assert_eq!(decode_strict("/+8"), None);
        assert_eq!(decode_strict("AQ B"), None);
        assert_eq!(decode_lenient("AQ=="), Some(vec![1]));
        assert_eq!(encode([0xffu8, 0xef]), "_-8");
    }
}
