//! JWS algorithms accepted by AWS STS for web-identity tokens.

use std::fmt;

use aws_lc_rs::signature::{self, RsaParameters};

/// A JWS signature algorithm from the set AWS documents for `WebIdentityToken`:
/// RS256/RS384/RS512 (RSASSA-PKCS1-v1_5) and ES256/ES384/ES512 (ECDSA, fixed-size `r||s`).
///
/// Everything else (`none`, `HS*`, `PS*`, `EdDSA`, …) is unrepresentable and therefore
/// rejected by [`Algorithm::from_name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
}

/// Elliptic curves used by the ES* algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (`"crv":"P-256"`).
    P256,
    /// NIST P-384 (`"crv":"P-384"`).
    P384,
    /// NIST P-521 (`"crv":"P-521"`).
    P521,
}

impl Curve {
    /// The JWK `crv` name.
    pub fn jwk_name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// Parses a JWK `crv` name (exact, case-sensitive).
    pub fn from_jwk_name(name: &str) -> Option<Self> {
        match name {
            "P-256" => Some(Self::P256),
            "P-384" => Some(Self::P384),
            "P-521" => Some(Self::P521),
            _ => None,
        }
    }

    /// Length in bytes of one coordinate (and of `r`/`s` in a JWS signature).
    pub fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    /// The ES* algorithm that uses this curve.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::P256 => Algorithm::Es256,
            Self::P384 => Algorithm::Es384,
            Self::P521 => Algorithm::Es512,
        }
    }

    pub(crate) fn verification_alg(self) -> &'static signature::EcdsaVerificationAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::P384 => &signature::ECDSA_P384_SHA384_FIXED,
            Self::P521 => &signature::ECDSA_P521_SHA512_FIXED,
        }
    }

    pub(crate) fn signing_alg(self) -> &'static signature::EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            Self::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            Self::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        }
    }
}

/// The key family an algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyFamily {
    /// An RSA key (`"kty":"RSA"`).
    Rsa,
    /// An EC key on the given curve (`"kty":"EC"`).
    Ec(Curve),
}

impl Algorithm {
    /// All supported algorithms, in the order of their JWS names.
    pub const ALL: [Algorithm; 6] = [
        Self::Es256,
        Self::Es384,
        Self::Es512,
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
    ];

    /// The JWS `alg` name (`"RS256"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
        }
    }

    /// Parses a JWS `alg` name (exact and case-sensitive, as RFC 7515 requires).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "RS384" => Some(Self::Rs384),
            "RS512" => Some(Self::Rs512),
            "ES256" => Some(Self::Es256),
            "ES384" => Some(Self::Es384),
            "ES512" => Some(Self::Es512),
            _ => None,
        }
    }

    /// The key type (and curve) this algorithm requires.
    pub fn key_family(self) -> KeyFamily {
        match self {
            Self::Rs256 | Self::Rs384 | Self::Rs512 => KeyFamily::Rsa,
            Self::Es256 => KeyFamily::Ec(Curve::P256),
            Self::Es384 => KeyFamily::Ec(Curve::P384),
            Self::Es512 => KeyFamily::Ec(Curve::P521),
        }
    }

    /// Index into per-digest RSA key tables (RS256 = 0, RS384 = 1, RS512 = 2).
    pub(crate) fn rsa_index(self) -> Option<usize> {
        match self {
            Self::Rs256 => Some(0),
            Self::Rs384 => Some(1),
            Self::Rs512 => Some(2),
            _ => None,
        }
    }
}

pub(crate) const RSA_VERIFY_PARAMS: [&RsaParameters; 3] = [
    &signature::RSA_PKCS1_2048_8192_SHA256,
    &signature::RSA_PKCS1_2048_8192_SHA384,
    &signature::RSA_PKCS1_2048_8192_SHA512,
];

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.as_str()), Some(a));
            assert_eq!(Algorithm::from_name(&a.as_str().to_lowercase()), None);
        }
        for bad in [
            "none", "None", "HS256", "HS384", "HS512", "PS256", "EdDSA", "",
        ] {
            assert_eq!(Algorithm::from_name(bad), None, "{bad}");
        }
        let mut names: Vec<_> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
        let sorted = {
            let mut s = names.clone();
            s.sort();
            s
        };
        assert_eq!(names, sorted);
        names.dedup();
        assert_eq!(names.len(), 6);
    }

    #[test]
    fn families() {
        assert_eq!(Algorithm::Rs512.key_family(), KeyFamily::Rsa);
        assert_eq!(Algorithm::Es384.key_family(), KeyFamily::Ec(Curve::P384));
        for c in [Curve::P256, Curve::P384, Curve::P521] {
            assert_eq!(Curve::from_jwk_name(c.jwk_name()), Some(c));
            assert_eq!(c.algorithm().key_family(), KeyFamily::Ec(c));
        }
    }
}
