//! Parsing and verifying web-identity tokens the way AWS STS does.

use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::b64;
use crate::error::{Segment, TokenError};
use crate::json::{ObjectError, parse_object};
use crate::jwk::{JwkSet, Material, VerificationKey};

/// Minimum token length (characters), STS's `WebIdentityToken` constraint.
pub const MIN_TOKEN_LEN: usize = 4;
/// Maximum token length (characters), STS's `WebIdentityToken` constraint.
pub const MAX_TOKEN_LEN: usize = 20_000;
/// Maximum decoded size of the protected header in bytes.
pub const MAX_HEADER_LEN: usize = 4096;

/// A structurally valid compact JWS whose signature has **not** been checked yet.
///
/// Everything returned by the accessors is attacker-controlled until
/// [`verify_signature`](Self::verify_signature) succeeds. Reading `iss` before
/// verification is intended: STS needs it to find the OIDC provider (and its keys).
///
/// `Debug` omits the compact serialisation and the signature (the token is a bearer
/// credential and must not end up in logs).
#[derive(Clone)]
pub struct UnverifiedToken {
    raw: String,
    signing_input_len: usize,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signature: Vec<u8>,
    alg: String,
    kid: Option<String>,
    iss: Option<String>,
    sub: Option<String>,
    aud: Vec<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
}

impl std::fmt::Debug for UnverifiedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnverifiedToken")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("exp", &self.exp)
            .field("nbf", &self.nbf)
            .field("iat", &self.iat)
            .finish_non_exhaustive()
    }
}

fn object(bytes: &[u8], segment: Segment) -> Result<Map<String, Value>, TokenError> {
    parse_object(bytes).map_err(|e| match e {
        ObjectError::Json(reason) => TokenError::InvalidJson { segment, reason },
        ObjectError::NotAnObject => TokenError::NotAnObject(segment),
        ObjectError::Duplicate(name) => TokenError::DuplicateMember { segment, name },
    })
}

fn opt_string(
    map: &Map<String, Value>,
    name: &'static str,
    err: fn(&'static str) -> TokenError,
) -> Result<Option<String>, TokenError> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(name)),
    }
}

fn opt_int(map: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, TokenError> {
    match map.get(name) {
        None => Ok(None),
        // `as_i64` is `Some` only for JSON integers (no fraction, no exponent) in range.
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or(TokenError::InvalidClaimType(name)),
        Some(_) => Err(TokenError::InvalidClaimType(name)),
    }
}

impl UnverifiedToken {
    /// Parses a compact JWS.
    ///
    /// * Surrounding whitespace is trimmed first: SDKs send the token file verbatim,
    ///   trailing newline included.
    /// * Length must be 4..=20000 characters.
    /// * Exactly three `.`-separated segments, each canonical unpadded base64url
    ///   (the signature segment may be empty so that `alg: none` tokens are reported as
    ///   [`TokenError::UnsupportedAlgorithm`] later).
    /// * Header: a JSON object of at most [`MAX_HEADER_LEN`] bytes with a string `alg`
    ///   and optional string `kid`. Claims: a JSON object. Duplicate member names are
    ///   rejected; nesting is bounded by the JSON parser's recursion limit (128).
    /// * `iss`/`sub` must be strings, `aud` a string or array of strings, and
    ///   `exp`/`nbf`/`iat` JSON integers, when present.
    ///
    /// Never panics, whatever the input.
    pub fn parse(token: &str) -> Result<Self, TokenError> {
        let raw = token.trim();
        let len = raw.chars().count();
        if !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&len) {
            return Err(TokenError::InvalidLength { len });
        }
        let found = raw.split('.').count();
        let mut parts = raw.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::WrongSegmentCount { found });
        };
        if h.is_empty() {
            return Err(TokenError::EmptySegment(Segment::Header));
        }
        if p.is_empty() {
            return Err(TokenError::EmptySegment(Segment::Claims));
        }
        let header_bytes =
            b64::decode_strict(h).ok_or(TokenError::InvalidBase64(Segment::Header))?;
        let claims_bytes =
            b64::decode_strict(p).ok_or(TokenError::InvalidBase64(Segment::Claims))?;
        let signature =
            b64::decode_strict(s).ok_or(TokenError::InvalidBase64(Segment::Signature))?;
        if header_bytes.len() > MAX_HEADER_LEN {
            return Err(TokenError::HeaderTooLarge {
                len: header_bytes.len(),
            });
        }
        let header = object(&header_bytes, Segment::Header)?;
        let alg = opt_string(&header, "alg", TokenError::InvalidHeaderType)?
            .ok_or(TokenError::MissingHeader("alg"))?;
        let kid = opt_string(&header, "kid", TokenError::InvalidHeaderType)?;

        let claims = object(&claims_bytes, Segment::Claims)?;
        let iss = opt_string(&claims, "iss", TokenError::InvalidClaimType)?;
        let sub = opt_string(&claims, "sub", TokenError::InvalidClaimType)?;
        let aud = match claims.get("aud") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(TokenError::InvalidClaimType("aud"))?,
            Some(_) => return Err(TokenError::InvalidClaimType("aud")),
        };
        let exp = opt_int(&claims, "exp")?;
        let nbf = opt_int(&claims, "nbf")?;
        let iat = opt_int(&claims, "iat")?;

        Ok(Self {
            signing_input_len: h.len() + 1 + p.len(),
            raw: raw.to_owned(),
            header,
            claims,
            signature,
            alg,
            kid,
            iss,
            sub,
            aud,
            exp,
            nbf,
            iat,
        })
    }

    /// The trimmed compact serialisation.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The header `alg` exactly as sent (not yet checked against the allow-list).
    pub fn header_alg(&self) -> &str {
        &self.alg
    }

    /// The header `alg` if it is in the allow-list (RS256/384/512, ES256/384/512).
    pub fn algorithm(&self) -> Result<Algorithm, TokenError> {
        Algorithm::from_name(&self.alg)
            .ok_or_else(|| TokenError::UnsupportedAlgorithm(self.alg.clone()))
    }

    /// The header `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The whole protected header.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The whole claims set (for trust-policy condition keys such as `amr`, `azp`,
    /// `https://aws.amazon.com/tags`).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// `iss`, if present.
    pub fn issuer(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// `sub`, if present.
    pub fn subject(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// `aud` as a list (a string `aud` becomes a one-element list; absent → empty).
    pub fn audiences(&self) -> &[String] {
        &self.aud
    }

    /// `exp` (epoch seconds), if present.
    pub fn exp(&self) -> Option<i64> {
        self.exp
    }

    /// `nbf` (epoch seconds), if present.
    pub fn nbf(&self) -> Option<i64> {
        self.nbf
    }

    /// `iat` (epoch seconds), if present.
    pub fn iat(&self) -> Option<i64> {
        self.iat
    }

    /// Verifies the signature against `jwks`.
    ///
    /// Order of checks:
    /// 1. `alg` must be in the allow-list → [`TokenError::UnsupportedAlgorithm`]
    ///    (`none`, `HS*`, `PS*`, … never reach key selection, so HMAC key confusion is
    ///    impossible).
    /// 2. Any `crit` header → [`TokenError::UnsupportedCriticalHeader`] (we understand no
    ///    extensions). `jku`, `x5u`, `jwk`, `x5c` and `x5t` are ignored entirely — keys
    ///    come only from `jwks`, and nothing is ever fetched from a header URL.
    /// 3. Key selection:
    ///    * **with `kid`**: the keys whose `kid` equals it; none →
    ///      [`TokenError::UnknownKid`]. Each must fit the algorithm (type, curve, and the
    ///      JWK's own `alg` if present), else [`TokenError::KeyAlgorithmMismatch`].
    ///    * **without `kid`**: every key of the algorithm's type/curve whose own `alg` (if
    ///      any) equals the header's is tried in document order, and the token is
    ///      accepted if one verifies (kube-apiserver also tries all keys when the `kid`
    ///      is absent). No such key → [`TokenError::NoCompatibleKey`].
    /// 4. RSA keys outside 2048..=8192 bits → [`TokenError::RsaKeySizeUnsupported`].
    /// 5. The signature over `header.payload` must verify →
    ///    [`TokenError::InvalidSignature`].
    pub fn verify_signature(&self, jwks: &JwkSet) -> Result<(), TokenError> {
        let alg = self.algorithm()?;
        if let Some(crit) = self.header.get("crit") {
            return Err(TokenError::UnsupportedCriticalHeader(crit.to_string()));
        }
        let message = self
            .raw
            .as_bytes()
            .get(..self.signing_input_len)
            .unwrap_or_default();
        match &self.kid {
            Some(kid) => {
                let mut found = false;
                let mut last_err = TokenError::InvalidSignature;
                for key in jwks.keys().iter().filter(|k| k.kid() == Some(kid.as_str())) {
                    found = true;
                    if !key.is_compatible_with(alg) {
                        last_err = TokenError::KeyAlgorithmMismatch {
                            alg: alg.as_str().to_owned(),
                            kid: Some(kid.clone()),
                        };
                        continue;
                    }
                    match verify_with(key, alg, message, &self.signature) {
                        Ok(()) => return Ok(()),
                        Err(e) => last_err = e,
                    }
                }
                if found {
                    Err(last_err)
                } else {
                    Err(TokenError::UnknownKid(kid.clone()))
                }
            }
            None => {
                let mut tried = false;
                let mut last_err = TokenError::NoCompatibleKey;
                for key in jwks.keys().iter().filter(|k| k.is_compatible_with(alg)) {
                    tried = true;
                    match verify_with(key, alg, message, &self.signature) {
                        Ok(()) => return Ok(()),
                        Err(e) => last_err = e,
                    }
                }
                if tried {
                    Err(last_err)
                } else {
                    Err(TokenError::NoCompatibleKey)
                }
            }
        }
    }

    /// Checks the validity window at `now` (epoch seconds) with `leeway` seconds of
    /// clock-skew tolerance (AWS's own skew is undocumented; `0` reproduces the observed
    /// strict `exp` comparison).
    ///
    /// * `exp` is required: missing → [`TokenError::MissingClaim`]`("exp")`;
    ///   `now >= exp + leeway` → [`TokenError::Expired`] (AWS: "must be before").
    /// * `nbf` (optional): `nbf > now + leeway` → [`TokenError::NotYetValid`].
    /// * `iat` (optional): `iat > now + leeway` → [`TokenError::IssuedInFuture`].
    pub fn check_time(&self, now: i64, leeway: i64) -> Result<(), TokenError> {
        let leeway = leeway.max(0);
        let exp = self.exp.ok_or(TokenError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(TokenError::Expired { now, exp });
        }
        if let Some(nbf) = self.nbf
            && nbf > now.saturating_add(leeway)
        {
            return Err(TokenError::NotYetValid { now, nbf });
        }
        if let Some(iat) = self.iat
            && iat > now.saturating_add(leeway)
        {
            return Err(TokenError::IssuedInFuture { now, iat });
        }
        Ok(())
    }

    /// Rejects tokens whose `iat` is more than `max_age_seconds` before `now`
    /// ([`TokenError::TooOld`], AWS's `Token too old: {age}`). Missing `iat` →
    /// [`TokenError::MissingClaim`]`("iat")`. AWS's threshold is undocumented; callers
    /// choose it.
    pub fn check_max_age(&self, now: i64, max_age_seconds: i64) -> Result<(), TokenError> {
        let iat = self.iat.ok_or(TokenError::MissingClaim("iat"))?;
        let age = now.saturating_sub(iat);
        if age > max_age_seconds {
            return Err(TokenError::TooOld { age });
        }
        Ok(())
    }

    /// Returns the first of the token's audiences (in token order) that is in
    /// `client_ids` (exact, case-sensitive comparison), or
    /// [`TokenError::AudienceMismatch`].
    pub fn check_audience<S: AsRef<str>>(&self, client_ids: &[S]) -> Result<String, TokenError> {
        self.aud
            .iter()
            .find(|a| client_ids.iter().any(|c| c.as_ref() == a.as_str()))
            .cloned()
            .ok_or(TokenError::AudienceMismatch)
    }
}

fn verify_with(
    key: &VerificationKey,
    alg: Algorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), TokenError> {
    let parsed = match &key.material {
        Material::Rsa { bits, parsed } => {
            let idx = alg.rsa_index().ok_or(TokenError::InvalidSignature)?;
            parsed
                .get(idx)
                .and_then(Option::as_ref)
                .ok_or(TokenError::RsaKeySizeUnsupported { bits: *bits })?
        }
        Material::Ec { parsed, curve } => {
            // JWS ECDSA signatures are fixed-size r||s (RFC 7518 §3.4); DER is invalid.
            if signature.len() != 2 * curve.coordinate_len() {
                return Err(TokenError::InvalidSignature);
            }
            parsed
        }
    };
    parsed
        .verify_sig(message, signature)
        .map_err(|_| TokenError::InvalidSignature)
}
