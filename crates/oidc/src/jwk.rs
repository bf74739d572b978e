//! JSON Web Keys: the public form we publish and the parsed form we verify with.

use std::fmt;

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alg::{Algorithm, Curve, KeyFamily, RSA_VERIFY_PARAMS};
use crate::b64;
use crate::json::{ObjectError, parse_object, to_go_json};

/// A public JWK as kube-apiserver (go-jose) serialises it. Member order is go-jose's
/// `rawJSONWebKey` order: `use, kty, kid, crv, alg, x, y, n, e`, so RSA keys render as
/// `{"use":"sig","kty":"RSA","kid":…,"alg":"RS256","n":…,"e":"AQAB"}` and EC keys as
/// `{"use":"sig","kty":"EC","kid":…,"crv":"P-256","alg":"ES256","x":…,"y":…}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// `use`: always `"sig"`.
    #[serde(rename = "use")]
    pub use_: String,
    /// `kty`: `"RSA"` or `"EC"`.
    pub kty: String,
    /// `kid`.
    pub kid: String,
    /// `crv` (EC only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// `alg`.
    pub alg: String,
    /// `x` (EC only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    /// `y` (EC only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
    /// `n` (RSA only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    /// `e` (RSA only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
}

/// Maximum number of JWK entries examined in one set; further entries are ignored (and
/// counted in [`JwkSet::skipped`]). Bounds the work of trying keys for tokens without
/// a `kid`.
pub const MAX_KEYS_PER_SET: usize = 100;

/// Why a JWKS document was rejected as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwkSetError(pub String);

impl fmt::Display for JwkSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JwkSetError {}

/// The key type of a [`VerificationKey`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// RSA with the modulus size in bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// EC on the given curve.
    Ec(Curve),
}

#[derive(Clone)]
pub(crate) enum Material {
    /// RSA key; `parsed[i]` is the key bound to RS256/RS384/RS512 (`None` when the size is
    /// unsupported).
    Rsa {
        bits: usize,
        parsed: Box<[Option<ParsedPublicKey>; 3]>,
    },
    Ec {
        curve: Curve,
        parsed: ParsedPublicKey,
    },
}

/// A parsed public verification key from a JWKS.
#[derive(Clone)]
pub struct VerificationKey {
    kid: Option<String>,
    alg: Option<String>,
    pub(crate) material: Material,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("type", &self.key_type())
            .finish()
    }
}

impl VerificationKey {
    /// The JWK `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The JWK `alg`, if any (as published; may name an algorithm we do not support, in
    /// which case the key can never verify anything).
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// Key type and size/curve.
    pub fn key_type(&self) -> KeyType {
        match &self.material {
            Material::Rsa { bits, .. } => KeyType::Rsa { bits: *bits },
            Material::Ec { curve, .. } => KeyType::Ec(*curve),
        }
    }

    /// Whether the key's type/curve fits `alg`'s family and the JWK's own `alg` (if any)
    /// equals `alg`. Does not consider RSA key size.
    pub fn is_compatible_with(&self, alg: Algorithm) -> bool {
        if let Some(own) = &self.alg
            && own != alg.as_str()
        {
            return false;
        }
        match (alg.key_family(), &self.material) {
            (KeyFamily::Rsa, Material::Rsa { .. }) => true,
            (KeyFamily::Ec(c), Material::Ec { curve, .. }) => c == *curve,
            _ => false,
        }
    }

    /// Parses one JWK object. Returns `None` for keys we cannot or must not use: unknown
    /// `kty`, `use` other than `sig`, `key_ops` without `verify`, malformed members,
    /// wrong coordinate lengths, points not on the curve.
    pub fn from_jwk_value(v: &Value) -> Option<Self> {
        let obj = v.as_object()?;
        let opt_str = |name: &str| -> Result<Option<String>, ()> {
            match obj.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(()),
            }
        };
        let kty = opt_str("kty").ok()??;
        let kid = opt_str("kid").ok()?;
        let alg = opt_str("alg").ok()?;
        if let Some(u) = opt_str("use").ok()?
            && u != "sig"
        {
            return None;
        }
        if let Some(ops) = obj.get("key_ops") {
            let ops = ops.as_array()?;
            if !ops.iter().any(|o| o.as_str() == Some("verify")) {
                return None;
            }
        }
        let b64_member = |name: &str| -> Option<Vec<u8>> {
            obj.get(name)
                .and_then(Value::as_str)
                .and_then(b64::decode_lenient)
        };
        let material = match kty.as_str() {
            "RSA" => {
                let n = b64_member("n")?;
                let e = b64_member("e")?;
                let n = strip_leading_zeros(&n);
                let e = strip_leading_zeros(&e);
                let first = *n.first()?;
                e.first()?;
                let bits = n.len() * 8 - first.leading_zeros() as usize;
                let comps = RsaPublicKeyComponents { n, e };
                let parsed = if (2048..=8192).contains(&bits) {
                    let mut parsed: [Option<ParsedPublicKey>; 3] = [None, None, None];
                    for (slot, params) in parsed.iter_mut().zip(RSA_VERIFY_PARAMS) {
                        *slot = Some(comps.to_parsed_public_key(params).ok()?);
                    }
                    parsed
                } else {
                    [None, None, None]
                };
                Material::Rsa {
                    bits,
                    parsed: Box::new(parsed),
                }
            }
            "EC" => {
                let curve = Curve::from_jwk_name(obj.get("crv")?.as_str()?)?;
                let x = b64_member("x")?;
                let y = b64_member("y")?;
                let len = curve.coordinate_len();
                if x.len() != len || y.len() != len {
                    return None;
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                let parsed = ParsedPublicKey::new(curve.verification_alg(), &point).ok()?;
                Material::Ec { curve, parsed }
            }
            _ => return None,
        };
        Some(Self { kid, alg, material })
    }
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[i..]
}

/// A parsed JSON Web Key Set used for verification.
///
/// Malformed keys and keys of unknown type are skipped rather than failing the whole
/// set (see [`VerificationKey::from_jwk_value`]); at most [`MAX_KEYS_PER_SET`] entries
/// are examined.
#[derive(Clone, Debug, Default)]
pub struct JwkSet {
    keys: Vec<VerificationKey>,
    skipped: usize,
}

impl JwkSet {
    /// Parses a JWKS document `{"keys":[…]}`. Fails only if the document is not a JSON
    /// object with a `keys` array.
    pub fn from_json(bytes: &[u8]) -> Result<Self, JwkSetError> {
        let obj = parse_object(bytes).map_err(|e| match e {
            ObjectError::Json(m) => JwkSetError(format!("not valid JSON: {m}")),
            ObjectError::NotAnObject => JwkSetError("not a JSON object".into()),
            ObjectError::Duplicate(n) => JwkSetError(format!("duplicate member {n:?}")),
        })?;
        let keys = obj
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwkSetError("missing \"keys\" array".into()))?;
        let mut set = JwkSet::default();
        for (i, v) in keys.iter().enumerate() {
            if i >= MAX_KEYS_PER_SET {
                set.skipped += keys.len() - i;
                break;
            }
            match VerificationKey::from_jwk_value(v) {
                Some(k) => set.keys.push(k),
                None => set.skipped += 1,
            }
        }
        Ok(set)
    }

    /// Builds a set from our own published keys (e.g. the built-in issuer's).
    pub fn from_public_jwks<'a>(keys: impl IntoIterator<Item = &'a PublicJwk>) -> Self {
        let mut set = JwkSet::default();
        for k in keys {
            match serde_json::to_value(k)
                .ok()
                .and_then(|v| VerificationKey::from_jwk_value(&v))
            {
                Some(k) => set.keys.push(k),
                None => set.skipped += 1,
            }
        }
        set
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[VerificationKey] {
        &self.keys
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no usable keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of entries skipped as malformed, unsupported or over the limit.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Whether some usable key has this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }
}

/// Renders a JWKS document `{"keys":[…]}` exactly like kube-apiserver.
pub fn jwks_document<'a>(keys: impl IntoIterator<Item = &'a PublicJwk>) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        keys: Vec<&'a PublicJwk>,
    }
    let doc = Doc {
        keys: keys.into_iter().collect(),
    };
    // Serialising plain strings cannot fail.
    to_go_json(&doc).unwrap_or_else(|_| String::from("{\"keys\":[]}"))
}
