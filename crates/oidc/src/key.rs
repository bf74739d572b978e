//! Signing keys of the built-in issuer.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use serde::Serialize;

use crate::alg::{Algorithm, Curve, KeyFamily};
use crate::b64;
use crate::error::KeyError;
use crate::json::to_go_json;
use crate::jwk::PublicJwk;

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private signing key of the built-in issuer: RSA (RS256, like kube-apiserver) or
/// ECDSA P-256/P-384/P-521 (ES256/ES384/ES512).
///
/// The key id is computed exactly as kube-apiserver's `keyIDFromPublicKey`:
/// `base64url_nopad(SHA-256(DER SubjectPublicKeyInfo))`, 43 characters.
pub struct SigningKey {
    inner: Inner,
    alg: Algorithm,
    kid: String,
    pkcs8: Vec<u8>,
    spki: Vec<u8>,
    jwk: PublicJwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    kid: &'a str,
}

impl SigningKey {
    /// Generates a fresh key: RSA-2048 for [`Algorithm::Rs256`], the matching curve for
    /// ES256/ES384/ES512. RS384/RS512 are refused (kube signs RSA keys with RS256 only).
    ///
    /// Uses the operating system's CSPRNG through aws-lc.
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        match alg.key_family() {
            KeyFamily::Rsa if alg == Algorithm::Rs256 => {
                let kp = RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| KeyError::Crypto("RSA key generation"))?;
                Self::from_rsa(kp)
            }
            KeyFamily::Rsa => Err(KeyError::UnsupportedAlgorithm(alg.as_str())),
            KeyFamily::Ec(curve) => {
                let kp = EcdsaKeyPair::generate(curve.signing_alg())
                    .map_err(|_| KeyError::Crypto("EC key generation"))?;
                Self::from_ec(kp, curve)
            }
        }
    }

    /// Imports an unencrypted PKCS#8 v1 DER private key (as produced by
    /// [`to_pkcs8_der`](Self::to_pkcs8_der) or `openssl pkcs8 -topk8 -nocrypt -outform
    /// der`). RSA keys must be 2048..=8192 bits and sign RS256; EC keys must be on
    /// P-256, P-384 or P-521.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(kp) = RsaKeyPair::from_pkcs8(der) {
            return Self::from_rsa(kp);
        }
        for curve in [Curve::P256, Curve::P384, Curve::P521] {
            if let Ok(kp) = EcdsaKeyPair::from_pkcs8(curve.signing_alg(), der) {
                return Self::from_ec(kp, curve);
            }
        }
        Err(KeyError::Rejected(
            "not a PKCS#8 RSA or P-256/P-384/P-521 private key".into(),
        ))
    }

    fn from_rsa(kp: RsaKeyPair) -> Result<Self, KeyError> {
        let bits = kp.public_modulus_len() * 8;
        if !(2048..=8192).contains(&bits) {
            return Err(KeyError::Rejected(format!(
                "RSA key size {bits} bits is not supported"
            )));
        }
        let pkcs8: Pkcs8V1Der<'static> = kp
            .as_der()
            .map_err(|_| KeyError::Crypto("PKCS#8 encoding"))?;
        let pkcs8 = pkcs8.as_ref().to_vec();
        let public = kp.public_key();
        let spki = public
            .as_der()
            .map_err(|_| KeyError::Crypto("SPKI encoding"))?
            .as_ref()
            .to_vec();
        let kid = kid_from_spki(&spki);
        let jwk = PublicJwk {
            use_: "sig".into(),
            kty: "RSA".into(),
            kid: kid.clone(),
            crv: None,
            alg: Algorithm::Rs256.as_str().into(),
            x: None,
            y: None,
            n: Some(b64::encode(
                public.modulus().big_endian_without_leading_zero(),
            )),
            e: Some(b64::encode(
                public.exponent().big_endian_without_leading_zero(),
            )),
        };
        Ok(Self {
            inner: Inner::Rsa(kp),
            alg: Algorithm::Rs256,
            kid,
            pkcs8,
            spki,
            jwk,
        })
    }

    fn from_ec(kp: EcdsaKeyPair, curve: Curve) -> Result<Self, KeyError> {
        let pkcs8 = kp
            .to_pkcs8v1()
            .map_err(|_| KeyError::Crypto("PKCS#8 encoding"))?
            .as_ref()
            .to_vec();
        let public = kp.public_key();
        let spki = public
            .as_der()
            .map_err(|_| KeyError::Crypto("SPKI encoding"))?
            .as_ref()
            .to_vec();
        let point = public.as_ref();
        let n = curve.coordinate_len();
        if point.len() != 1 + 2 * n || point.first() != Some(&0x04) {
            return Err(KeyError::Crypto("unexpected EC point encoding"));
        }
        let kid = kid_from_spki(&spki);
        let alg = curve.algorithm();
        let jwk = PublicJwk {
            use_: "sig".into(),
            kty: "EC".into(),
            kid: kid.clone(),
            crv: Some(curve.jwk_name().into()),
            alg: alg.as_str().into(),
            x: Some(b64::encode(&point[1..=n])),
            y: Some(b64::encode(&point[1 + n..])),
            n: None,
            e: None,
        };
        Ok(Self {
            inner: Inner::Ec(kp),
            alg,
            kid,
            pkcs8,
            spki,
            jwk,
        })
    }

    /// The private key as unencrypted PKCS#8 v1 DER, for storage. Treat as secret.
    pub fn to_pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The DER `SubjectPublicKeyInfo` of the public key.
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id: `base64url_nopad(SHA-256(SPKI DER))`, 43 characters.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK as kube-apiserver publishes it.
    pub fn jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// Signs `message` (the JWS signing input), returning the raw JWS signature
    /// (PKCS#1 v1.5 for RSA, fixed-size `r||s` for ECDSA).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| KeyError::Crypto("RSA signing"))?;
                Ok(sig)
            }
            Inner::Ec(kp) => kp
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto("ECDSA signing")),
        }
    }

    /// Produces a compact JWS over `claims` with the protected header
    /// `{"alg":"…","kid":"…"}` — no `typ`, exactly like kube-apiserver.
    pub fn sign_jws<C: Serialize + ?Sized>(&self, claims: &C) -> Result<String, KeyError> {
        let header = to_go_json(&Header {
            alg: self.alg.as_str(),
            kid: &self.kid,
        })
        .map_err(|e| KeyError::Json(e.to_string()))?;
        let payload = to_go_json(claims).map_err(|e| KeyError::Json(e.to_string()))?;
        self.sign_compact(header.as_bytes(), payload.as_bytes())
    }

    /// Low-level: signs arbitrary header and payload bytes into a compact JWS
    /// `b64(header).b64(payload).b64(sig)`. The header is not checked; this exists for
    /// callers that need a custom header (and for negative tests).
    pub fn sign_compact(&self, header: &[u8], payload: &[u8]) -> Result<String, KeyError> {
        let mut out = b64::encode(header);
        out.push('.');
        out.push_str(&b64::encode(payload));
        let sig = self.sign(out.as_bytes())?;
        out.push('.');
        out.push_str(&b64::encode(sig));
        Ok(out)
    }
}

/// kube-apiserver's key id: `base64url_nopad(SHA-256(der))` for a DER
/// `SubjectPublicKeyInfo`.
pub fn kid_from_spki(spki_der: &[u8]) -> String {
    b64::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        spki_der,
    ))
}
