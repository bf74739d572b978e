//! Error types.
//!
//! Errors are fine-grained so that callers (STS `AssumeRoleWithWebIdentity`, EKS Auth
//! `AssumeRoleForPodIdentity`) can reproduce AWS's check order and pick the wire error
//! code themselves. [`TokenError::sts_error_code`] and [`FetchError::sts_error_code`]
//! give the default mapping.

use std::fmt;

/// The AWS STS error code a verification failure maps to by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StsErrorCode {
    /// `InvalidIdentityToken` (HTTP 400): the token could not be validated.
    InvalidIdentityToken,
    /// `ExpiredTokenException` (HTTP 400): the token is expired (or too old).
    ExpiredTokenException,
}

impl StsErrorCode {
    /// The code exactly as it appears on the wire (`<Code>…</Code>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidIdentityToken => "InvalidIdentityToken",
            Self::ExpiredTokenException => "ExpiredTokenException",
        }
    }
}

impl fmt::Display for StsErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of the three compact-JWS segments an error refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// The protected header (first segment).
    Header,
    /// The payload / claims set (second segment).
    Claims,
    /// The signature (third segment).
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Claims => "claims",
            Self::Signature => "signature",
        })
    }
}

/// Why a web-identity token was rejected.
///
/// Variants are grouped by the step that produces them:
/// [`UnverifiedToken::parse`](crate::UnverifiedToken::parse) (structure),
/// [`verify_signature`](crate::UnverifiedToken::verify_signature) (algorithm, key,
/// signature), [`check_time`](crate::UnverifiedToken::check_time) (validity window) and
/// [`check_audience`](crate::UnverifiedToken::check_audience).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    // ---- structure (parse) ----
    /// The token (after trimming surrounding whitespace) is shorter than 4 or longer than
    /// 20000 characters, the `WebIdentityToken` length constraint of STS.
    InvalidLength {
        /// Length in characters after trimming.
        len: usize,
    },
    /// The token is not three `.`-separated segments (JWE or JWS JSON serialisation, or junk).
    WrongSegmentCount {
        /// Number of segments found.
        found: usize,
    },
    /// A segment is empty where content is required (header or claims).
    EmptySegment(Segment),
    /// A segment is not canonical unpadded base64url (padding `=`, `+`, `/`, whitespace,
    /// non-zero trailing bits, impossible length).
    InvalidBase64(Segment),
    /// The decoded header exceeds the header size limit.
    HeaderTooLarge {
        /// Decoded size in bytes.
        len: usize,
    },
    /// A segment is not valid JSON (includes invalid UTF-8 and nesting deeper than the
    /// JSON parser's recursion limit).
    InvalidJson {
        /// Which segment.
        segment: Segment,
        /// Parser message.
        reason: String,
    },
    /// A segment is valid JSON but not a JSON object.
    NotAnObject(Segment),
    /// A JSON object member name appears twice at the top level (RFC 7515 §5.2 / RFC 7519
    /// §4 allow rejecting; we always do, to avoid parser-differential attacks).
    DuplicateMember {
        /// Which segment.
        segment: Segment,
        /// The duplicated member name.
        name: String,
    },
    /// A required header parameter (`alg`) is missing.
    MissingHeader(&'static str),
    /// A header parameter has the wrong JSON type (e.g. `alg` or `kid` not a string).
    InvalidHeaderType(&'static str),
    /// A registered claim has the wrong JSON type: `iss`/`sub` not a string, `aud` not a
    /// string or array of strings, or `exp`/`nbf`/`iat` not a JSON integer that fits in
    /// an `i64` (floats such as `1.5` or `1.0` and strings such as `"123"` are rejected:
    /// AWS accepts integer timestamps only).
    InvalidClaimType(&'static str),

    // ---- algorithm and key selection (verify_signature) ----
    /// The header `alg` is not one of RS256/RS384/RS512/ES256/ES384/ES512 (AWS's
    /// documented set). Covers `none`, `HS*` (key-confusion attacks), `PS*`, `EdDSA`, ….
    UnsupportedAlgorithm(String),
    /// The header carries `crit` (RFC 7515 §4.1.11). No extensions are understood, so any
    /// `crit` – including a malformed one – is rejected.
    UnsupportedCriticalHeader(String),
    /// The token's `kid` matches no key in the JWKS. When produced through
    /// [`JwksCache`](crate::JwksCache) the JWKS has already been refreshed (subject to the
    /// refresh rate limit).
    UnknownKid(String),
    /// No key in the JWKS can verify this algorithm: either the token has no `kid` and the
    /// set has no key of the algorithm's type/curve, or the set is empty.
    NoCompatibleKey,
    /// The key selected by `kid` cannot be used with the header algorithm: wrong key type
    /// (RSA key with `ES256`, EC key with `RS256`), wrong curve (P-256 key with `ES384`),
    /// or the JWK's own `alg` differs from the header `alg`.
    KeyAlgorithmMismatch {
        /// The header algorithm.
        alg: String,
        /// The key id of the rejected key (if any).
        kid: Option<String>,
    },
    /// The selected RSA key's modulus is outside 2048..=8192 bits.
    RsaKeySizeUnsupported {
        /// Modulus size in bits.
        bits: usize,
    },
    /// The signature does not verify (wrong key, tampered header/payload, malformed or
    /// wrongly-sized signature).
    InvalidSignature,

    // ---- validity window (check_time) ----
    /// A claim required by the check is absent (`exp` for [`check_time`](crate::UnverifiedToken::check_time),
    /// `iat` for [`check_max_age`](crate::UnverifiedToken::check_max_age), `iss` for issuer lookup).
    MissingClaim(&'static str),
    /// `now` is not before `exp` (+ leeway). Display is AWS's exact text:
    /// `Token expired: current date/time {now} must be before the expiration date/time{exp}`.
    Expired {
        /// Current time, epoch seconds.
        now: i64,
        /// The token's `exp`.
        exp: i64,
    },
    /// `nbf` is after `now` (+ leeway).
    NotYetValid {
        /// Current time, epoch seconds.
        now: i64,
        /// The token's `nbf`.
        nbf: i64,
    },
    /// `iat` is after `now` (+ leeway).
    IssuedInFuture {
        /// Current time, epoch seconds.
        now: i64,
        /// The token's `iat`.
        iat: i64,
    },
    /// `now - iat` exceeds the caller's maximum age. Display matches AWS's
    /// `Token too old: {age}` (the age in seconds).
    TooOld {
        /// Age in seconds.
        age: i64,
    },

    // ---- audience (check_audience) ----
    /// None of the token's audiences is in the provider's client-ID list. Display is AWS's
    /// `Incorrect token audience`.
    AudienceMismatch,
}

impl TokenError {
    /// The AWS STS error code this failure maps to by default:
    /// [`Expired`](Self::Expired) and [`TooOld`](Self::TooOld) →
    /// `ExpiredTokenException`; everything else → `InvalidIdentityToken`.
    pub fn sts_error_code(&self) -> StsErrorCode {
        match self {
            Self::Expired { .. } | Self::TooOld { .. } => StsErrorCode::ExpiredTokenException,
            _ => StsErrorCode::InvalidIdentityToken,
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidLength { len } => write!(
                f,
                "Token length {len} is outside the allowed range of 4 to 20000 characters"
            ),
            Self::WrongSegmentCount { found } => write!(
                f,
                "Token is not a compact JWS: expected 3 segments, found {found}"
            ),
            Self::EmptySegment(s) => write!(f, "Token {s} segment is empty"),
            Self::InvalidBase64(s) => write!(f, "Token {s} segment is not valid base64url"),
            Self::HeaderTooLarge { len } => write!(f, "Token header is too large ({len} bytes)"),
            Self::InvalidJson { segment, reason } => {
                write!(f, "Token {segment} is not valid JSON: {reason}")
            }
            Self::NotAnObject(s) => write!(f, "Token {s} is not a JSON object"),
            Self::DuplicateMember { segment, name } => {
                write!(f, "Token {segment} contains duplicate member {name:?}")
            }
            Self::MissingHeader(h) => write!(f, "Token header is missing {h:?}"),
            Self::InvalidHeaderType(h) => write!(f, "Token header {h:?} has an invalid type"),
            Self::InvalidClaimType(c) => write!(f, "Token claim {c:?} has an invalid type"),
            Self::UnsupportedAlgorithm(a) => {
                write!(f, "Token signing algorithm {a:?} is not supported")
            }
            Self::UnsupportedCriticalHeader(c) => {
                write!(f, "Token header lists unsupported critical parameters: {c}")
            }
            Self::UnknownKid(kid) => write!(
                f,
                "Couldn't retrieve verification key from your identity provider (kid {kid:?})"
            ),
            Self::NoCompatibleKey => {
                f.write_str("Couldn't retrieve verification key from your identity provider")
            }
            Self::KeyAlgorithmMismatch { alg, kid } => match kid {
                Some(kid) => write!(f, "Key {kid:?} cannot be used with algorithm {alg}"),
                None => write!(f, "Key cannot be used with algorithm {alg}"),
            },
            Self::RsaKeySizeUnsupported { bits } => {
                write!(f, "RSA key size {bits} bits is not supported")
            }
            Self::InvalidSignature => f.write_str("Invalid token signature"),
            Self::MissingClaim(c) => write!(f, "Token is missing the {c:?} claim"),
            Self::Expired { now, exp } => write!(
                f,
                "Token expired: current date/time {now} must be before the expiration date/time{exp}"
            ),
            Self::NotYetValid { now, nbf } => write!(
                f,
                "Token is not yet valid: current date/time {now} must be after the not-before date/time {nbf}"
            ),
            Self::IssuedInFuture { now, iat } => write!(
                f,
                "Token issued in the future: current date/time {now} is before the issued-at date/time {iat}"
            ),
            Self::TooOld { age } => write!(f, "Token too old: {age}"),
            Self::AudienceMismatch => f.write_str("Incorrect token audience"),
        }
    }
}

impl std::error::Error for TokenError {}

/// Failure to obtain an issuer's discovery document or JWKS. Maps to
/// `InvalidIdentityToken` (see [`FetchError::sts_error_code`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL could not be parsed.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The URL's scheme is neither `http` nor `https`.
    #[error("unsupported URL scheme in {url:?}")]
    UnsupportedScheme {
        /// The URL.
        url: String,
    },
    /// The whole request (connect, TLS, response, body) did not finish in time.
    #[error("timed out fetching {url}")]
    Timeout {
        /// The URL.
        url: String,
    },
    /// Connecting, TLS or the HTTP exchange failed.
    #[error("request to {url} failed: {reason}")]
    Request {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server answered with a non-200 status (redirects are not followed).
    #[error("{url} returned HTTP {status}")]
    HttpStatus {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The response body exceeds the size cap.
    #[error("response from {url} exceeds {limit} bytes")]
    BodyTooLarge {
        /// The URL.
        url: String,
        /// The cap in bytes.
        limit: usize,
    },
    /// The discovery document is not usable (not JSON, no `jwks_uri`, bad `jwks_uri`).
    #[error("invalid OpenID discovery document at {url}: {reason}")]
    InvalidDiscovery {
        /// The discovery URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The discovery document's `issuer` differs from the issuer it was fetched for
    /// (OpenID Connect Discovery 1.0 §4.3).
    #[error("discovery document issuer {found:?} does not match {expected:?}")]
    IssuerMismatch {
        /// The issuer we asked for.
        expected: String,
        /// The `issuer` in the document.
        found: String,
    },
    /// The JWKS is not a JSON object with a `keys` array.
    #[error("invalid JWKS at {url}: {reason}")]
    InvalidJwks {
        /// The JWKS URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The JWKS parsed but contains no usable verification key.
    #[error("JWKS at {url} contains no usable signing keys")]
    NoUsableKeys {
        /// The JWKS URL.
        url: String,
    },
    /// The TLS client could not be configured.
    #[error("TLS configuration error: {0}")]
    Tls(String),
}

impl FetchError {
    /// Always [`StsErrorCode::InvalidIdentityToken`]: STS answers "Couldn't
    /// retrieve verification key from your identity provider" with that code.
    pub fn sts_error_code(&self) -> StsErrorCode {
        StsErrorCode::InvalidIdentityToken
    }
}

/// Result of [`JwksCache::verify_signature`](crate::JwksCache::verify_signature): either
/// the token was rejected or the keys could not be obtained.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token was rejected.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The issuer's keys could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

impl VerifyError {
    /// The AWS STS error code this failure maps to by default.
    pub fn sts_error_code(&self) -> StsErrorCode {
        match self {
            Self::Token(t) => t.sts_error_code(),
            Self::Fetch(f) => f.sts_error_code(),
        }
    }
}

/// Signing-key generation, import or signing failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The algorithm cannot be used for a built-in signing key (RSA keys sign RS256
    /// only, like kube-apiserver).
    #[error("algorithm {0} is not supported for signing keys")]
    UnsupportedAlgorithm(&'static str),
    /// The DER is not an unencrypted PKCS#8 RSA (≥ 2048 bits) or P-256/P-384/P-521 key.
    #[error("key rejected: {0}")]
    Rejected(String),
    /// The crypto library failed (key generation, encoding or signing).
    #[error("crypto operation failed: {0}")]
    Crypto(&'static str),
    /// Claims or header could not be serialised.
    #[error("JSON serialisation failed: {0}")]
    Json(String),
}

/// A [`ServiceAccountTokenRequest`](crate::ServiceAccountTokenRequest) was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// `expiration_seconds` < 600 (kube: `may not specify a duration less than 10 minutes`).
    #[error("may not specify a duration less than 10 minutes")]
    ExpirationTooShort,
    /// `expiration_seconds` > 2^32 (kube: `may not specify a duration larger than 2^32 seconds`).
    #[error("may not specify a duration larger than 2^32 seconds")]
    ExpirationTooLong,
    /// A required field (issuer, namespace, service account name, audience) is empty.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    /// `now + expiration_seconds` overflows.
    #[error("expiration time overflows")]
    TimeOverflow,
    /// Signing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}
