//! Extraction of SigV4 authentication data from a request, without any secret.

use http::{HeaderMap, HeaderName};
use time::OffsetDateTime;

use crate::canonical::{ALGORITHM, CanonicalParts, HeaderSource, canonical_prefix, scope_string};
use crate::datetime::{parse_amz_date, parse_http_date};
use crate::encode::query_pairs;
use crate::{ScopePart, SigV4Error, VerifyOptions};

/// Longest `Authorization` header accepted, in bytes.
pub const MAX_AUTHORIZATION_LEN: usize = 8 * 1024;
/// Most signed headers accepted.
pub const MAX_SIGNED_HEADERS: usize = 128;
/// Longest access key id accepted.
const MAX_ACCESS_KEY_ID_LEN: usize = 128;
/// Longest region / service name accepted.
const MAX_SCOPE_PART_LEN: usize = 64;

/// The default and maximal lifetime of a presigned URL (`X-Amz-Expires`): 7 days.
pub const MAX_PRESIGN_EXPIRES: u64 = 604_800;

/// `x-amz-content-sha256` value for an unsigned payload.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// `x-amz-content-sha256` value for a chunk-signed `aws-chunked` body.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// `x-amz-content-sha256` value for a chunk-signed `aws-chunked` body with signed trailers.
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// `x-amz-content-sha256` value for an unsigned `aws-chunked` body with trailers.
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// A borrowed view of the parts of an HTTP request that SigV4 covers.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// The path exactly as received, still percent-encoded.
    pub path: &'a str,
    /// The raw query string (without `?`), still percent-encoded.
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The URI authority, used as the `host` value when no `Host` header is present (HTTP/2).
    pub authority: Option<&'a str>,
}

impl<'a> RequestView<'a> {
    /// A view of `method`, `uri` and `headers`.
    pub fn new(method: &'a http::Method, uri: &'a http::Uri, headers: &'a HeaderMap) -> Self {
        RequestView {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query(),
            headers,
            authority: uri.authority().map(|a| a.as_str()),
        }
    }

    /// A view of request `parts`.
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        Self::new(&parts.method, &parts.uri, &parts.headers)
    }
}

/// How the payload is covered by the signature (the `x-amz-content-sha256` value, or the
/// computed body hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// `UNSIGNED-PAYLOAD`: the body is not covered.
    Unsigned,
    /// The SHA-256 of the whole body.
    Sha256([u8; 32]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: `aws-chunked` body with chained chunk signatures.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: as above, plus signed trailers.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: `aws-chunked` body with unsigned trailers.
    StreamingUnsignedTrailer,
}

impl PayloadMode {
    /// Parses an `x-amz-content-sha256` value (64 lowercase hex digits or one of the modes).
    pub fn parse(value: &str) -> Result<Self, SigV4Error> {
        match value {
            UNSIGNED_PAYLOAD => Ok(PayloadMode::Unsigned),
            STREAMING_PAYLOAD => Ok(PayloadMode::StreamingSigned),
            STREAMING_PAYLOAD_TRAILER => Ok(PayloadMode::StreamingSignedTrailer),
            STREAMING_UNSIGNED_PAYLOAD_TRAILER => Ok(PayloadMode::StreamingUnsignedTrailer),
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
            | "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER" => Err(
                SigV4Error::UnsupportedPayloadMode("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"),
            ),
            hex_value => parse_lower_hex32(hex_value)
                .map(PayloadMode::Sha256)
                .ok_or_else(|| SigV4Error::InvalidContentSha256(truncate(value, 80))),
        }
    }

    /// The SHA-256 of `body`.
    pub fn for_body(body: &[u8]) -> Self {
        PayloadMode::Sha256(crate::crypto::sha256(body))
    }

    /// The value as it appears in `x-amz-content-sha256` and in the canonical request.
    pub fn to_header_value(&self) -> String {
        match self {
            PayloadMode::Sha256(h) => hex::encode(h),
            other => other.mode_name().to_owned(),
        }
    }

    /// The mode keyword (`"SHA256"` for a plain hash).
    pub fn mode_name(&self) -> &'static str {
        match self {
            PayloadMode::Unsigned => UNSIGNED_PAYLOAD,
            PayloadMode::Sha256(_) => "SHA256",
            PayloadMode::StreamingSigned => STREAMING_PAYLOAD,
            PayloadMode::StreamingSignedTrailer => STREAMING_PAYLOAD_TRAILER,
            PayloadMode::StreamingUnsignedTrailer => STREAMING_UNSIGNED_PAYLOAD_TRAILER,
        }
    }

    /// Whether the body is `aws-chunked`.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            PayloadMode::StreamingSigned
                | PayloadMode::StreamingSignedTrailer
                | PayloadMode::StreamingUnsignedTrailer
        )
    }
}

pub(crate) fn parse_lower_hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 || !b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(b, &mut out).ok()?;
    Some(out)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        s.to_owned()
    } else {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

/// The credential scope `date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// `YYYYMMDD`.
    pub date: String,
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// The service, e.g. `sts`.
    pub service: String,
}

impl std::fmt::Display for CredentialScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Where the signature was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `Authorization: AWS4-HMAC-SHA256 ...` header.
    Header,
    /// Presigned URL (`X-Amz-Signature` query parameter), valid for `expires` seconds.
    Presigned {
        /// `X-Amz-Expires`, in seconds.
        expires: u64,
    },
}

/// The outcome of [`parse`]: either no authentication at all, or a SigV4-signed request.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Neither an `Authorization` header nor presigned query parameters.
    Anonymous,
    /// A syntactically valid SigV4 request, not yet verified.
    Signed(Box<SignedRequest>),
}

/// A parsed, syntactically checked, **not yet verified** SigV4 request. Holds everything
/// [`crate::verify`] needs, so the original request need not be kept around.
#[derive(Clone)]
pub struct SignedRequest {
    pub(crate) kind: AuthKind,
    pub(crate) access_key_id: String,
    pub(crate) scope: CredentialScope,
    pub(crate) signed_headers: Vec<String>,
    pub(crate) signature: [u8; 32],
    pub(crate) security_token: Option<String>,
    pub(crate) amz_date: String,
    pub(crate) timestamp: OffsetDateTime,
    pub(crate) declared_payload: Option<PayloadMode>,
    pub(crate) canonical_prefix: Vec<u8>,
}

impl std::fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedRequest")
            .field("kind", &self.kind)
            .field("access_key_id", &self.access_key_id)
            .field("scope", &self.scope)
            .field("signed_headers", &self.signed_headers)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("amz_date", &self.amz_date)
            .field("declared_payload", &self.declared_payload)
            .finish_non_exhaustive()
    }
}

impl SignedRequest {
    /// Header or presigned authentication.
    pub fn kind(&self) -> AuthKind {
        self.kind
    }
    /// The access key id, to look the secret up with.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
    /// The credential scope.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }
    /// The signed header names (lowercase, sorted).
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }
    /// `X-Amz-Security-Token`, if any (session credentials).
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }
    /// The request timestamp (`X-Amz-Date`, or `Date`).
    pub fn timestamp(&self) -> OffsetDateTime {
        self.timestamp
    }
    /// The timestamp in `YYYYMMDD'T'HHMMSS'Z'` form, as used in the string to sign.
    pub fn amz_date(&self) -> &str {
        &self.amz_date
    }
    /// The payload mode declared by `x-amz-content-sha256`, if that header is present.
    pub fn declared_payload(&self) -> Option<PayloadMode> {
        self.declared_payload
    }
    /// The signature bytes.
    pub fn signature(&self) -> &[u8; 32] {
        &self.signature
    }
}

static AUTHORIZATION: HeaderName = HeaderName::from_static("authorization");
static X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
static DATE: HeaderName = HeaderName::from_static("date");
static X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");
static X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");

fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>, SigV4Error> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(SigV4Error::malformed(format!("multiple {name} headers")));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| SigV4Error::malformed(format!("{name} header is not visible ASCII")))
}

/// Presigned query parameter names that mark a request as presigned.
const PRESIGN_MARKERS: [&str; 4] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
];

struct RawAuth {
    algorithm: String,
    credential: String,
    signed_headers: String,
    signature: String,
}

/// Parses the `Authorization` header value. Tolerates the separator variants the SDKs
/// produce (`, `, `,`, extra spaces); rejects duplicates and unknown components.
fn parse_authorization_header(value: &str) -> Result<RawAuth, SigV4Error> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(SigV4Error::malformed("Authorization header too long"));
    }
    let value = value.trim_matches(' ');
    if value.is_empty() {
        return Err(SigV4Error::malformed("empty Authorization header"));
    }
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(truncate(algorithm, 64)));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    if rest.trim_matches(' ').is_empty() {
        return Err(SigV4Error::Missing("Credential"));
    }
    for component in rest.split(',') {
        let component = component.trim_matches(' ');
        if component.is_empty() {
            return Err(SigV4Error::malformed("empty Authorization component"));
        }
        let Some((key, val)) = component.split_once('=') else {
            return Err(SigV4Error::malformed(format!(
                "Authorization component without '=': {:?}",
                truncate(component, 64)
            )));
        };
        let slot = match key.trim_matches(' ') {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => {
                return Err(SigV4Error::malformed(format!(
                    "unknown Authorization component {:?}",
                    truncate(other, 64)
                )));
            }
        };
        if slot.is_some() {
            return Err(SigV4Error::malformed(format!(
                "duplicate {} in Authorization",
                key.trim_matches(' ')
            )));
        }
        *slot = Some(val.trim_matches(' ').to_owned());
    }
    Ok(RawAuth {
        algorithm: algorithm.to_owned(),
        credential: credential.ok_or(SigV4Error::Missing("Credential"))?,
        signed_headers: signed_headers.ok_or(SigV4Error::Missing("SignedHeaders"))?,
        signature: signature.ok_or(SigV4Error::Missing("Signature"))?,
    })
}

fn parse_credential(credential: &str) -> Result<(String, CredentialScope), SigV4Error> {
    let mut parts = credential.rsplitn(5, '/');
    let (Some(terminator), Some(service), Some(region), Some(date), Some(akid)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SigV4Error::malformed(
            "Credential must be AKID/date/region/service/aws4_request",
        ));
    };
    if terminator != "aws4_request" {
        return Err(SigV4Error::ScopeMismatch {
            part: ScopePart::Terminator,
            expected: "aws4_request".to_owned(),
            found: truncate(terminator, 64),
        });
    }
    let valid_token = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
    };
    if !valid_token(akid, MAX_ACCESS_KEY_ID_LEN) {
        return Err(SigV4Error::malformed("invalid access key id in Credential"));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::malformed("Credential date must be YYYYMMDD"));
    }
    if !valid_token(region, MAX_SCOPE_PART_LEN) || !valid_token(service, MAX_SCOPE_PART_LEN) {
        return Err(SigV4Error::malformed(
            "invalid region or service in Credential",
        ));
    }
    Ok((
        akid.to_owned(),
        CredentialScope {
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        },
    ))
}

fn parse_signed_headers(list: &str) -> Result<Vec<String>, SigV4Error> {
    let mut out: Vec<String> = Vec::new();
    for name in list.split(';') {
        if name.is_empty()
            || !name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
            })
        {
            return Err(SigV4Error::malformed(format!(
                "invalid SignedHeaders entry {:?}",
                truncate(name, 64)
            )));
        }
        if let Some(prev) = out.last()
            && prev.as_str() >= name
        {
            return Err(SigV4Error::malformed(
                "SignedHeaders must be sorted and without duplicates",
            ));
        }
        if out.len() == MAX_SIGNED_HEADERS {
            return Err(SigV4Error::malformed("too many SignedHeaders"));
        }
        out.push(name.to_owned());
    }
    Ok(out)
}

fn parse_signature(sig: &str) -> Result<[u8; 32], SigV4Error> {
    parse_lower_hex32(sig)
        .ok_or_else(|| SigV4Error::malformed("Signature must be 64 lowercase hex characters"))
}

/// Extracts the SigV4 authentication data of a request. No secret is needed: the result
/// exposes the access key id so the caller can look the secret up, then call
/// [`crate::verify`].
///
/// Performs every check that needs neither the secret nor the clock: algorithm, syntax,
/// duplicates, credential scope terminator, scope date against the request date, presign
/// lifetime bounds, `host` and the security-relevant `x-amz-*` headers being signed, and the
/// presence of every signed header. Returns [`Auth::Anonymous`] when the request carries no
/// authentication at all.
pub fn parse(req: &RequestView<'_>, options: &VerifyOptions) -> Result<Auth, SigV4Error> {
    let headers = req.headers;
    let auth_header = single_header(headers, &AUTHORIZATION)?;
    let query = req.query.unwrap_or("");
    let presigned = !query.is_empty()
        && query_pairs(query).any(|(k, _)| PRESIGN_MARKERS.iter().any(|m| m.as_bytes() == &*k));

    let (raw, kind, amz_date, timestamp, query_token) = match (auth_header, presigned) {
        (None, false) => return Ok(Auth::Anonymous),
        (Some(_), true) => return Err(SigV4Error::AmbiguousAuthorization),
        (Some(value), false) => {
            let raw = parse_authorization_header(value)?;
            let (amz_date, timestamp) = match single_header(headers, &X_AMZ_DATE)? {
                Some(d) => (
                    d.to_owned(),
                    parse_amz_date(d).ok_or_else(|| SigV4Error::InvalidDate(truncate(d, 64)))?,
                ),
                None => {
                    let d =
                        single_header(headers, &DATE)?.ok_or(SigV4Error::Missing("X-Amz-Date"))?;
                    let t = parse_http_date(d)
                        .ok_or_else(|| SigV4Error::InvalidDate(truncate(d, 64)))?;
                    (crate::datetime::format_amz_date(t), t)
                }
            };
            (raw, AuthKind::Header, amz_date, timestamp, None)
        }
        (None, true) => {
            let mut fields: [Option<String>; 7] = Default::default();
            const NAMES: [&str; 7] = [
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-Date",
                "X-Amz-Expires",
                "X-Amz-SignedHeaders",
                "X-Amz-Signature",
                "X-Amz-Security-Token",
            ];
            for (k, v) in query_pairs(query) {
                if let Some(i) = NAMES.iter().position(|n| n.as_bytes() == &*k) {
                    if fields[i].is_some() {
                        return Err(SigV4Error::malformed(format!(
                            "duplicate {} query parameter",
                            NAMES[i]
                        )));
                    }
                    let v = String::from_utf8(v.into_owned())
                        .map_err(|_| SigV4Error::malformed(format!("{} is not UTF-8", NAMES[i])))?;
                    fields[i] = Some(v);
                }
            }
            let [
                algorithm,
                credential,
                date,
                expires,
                signed_headers,
                signature,
                token,
            ] = fields;
            let algorithm = algorithm.ok_or(SigV4Error::Missing("X-Amz-Algorithm"))?;
            if algorithm != ALGORITHM {
                return Err(SigV4Error::UnsupportedAlgorithm(truncate(&algorithm, 64)));
            }
            let credential = credential.ok_or(SigV4Error::Missing("X-Amz-Credential"))?;
            let date = date.ok_or(SigV4Error::Missing("X-Amz-Date"))?;
            let expires = expires.ok_or(SigV4Error::Missing("X-Amz-Expires"))?;
            let signed_headers =
                signed_headers.ok_or(SigV4Error::Missing("X-Amz-SignedHeaders"))?;
            let signature = signature.ok_or(SigV4Error::Missing("X-Amz-Signature"))?;
            if expires.is_empty()
                || expires.len() > 20
                || !expires.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(SigV4Error::malformed(
                    "X-Amz-Expires must be a number of seconds",
                ));
            }
            let expires_secs: u64 = expires.parse().unwrap_or(u64::MAX);
            if expires_secs == 0 {
                return Err(SigV4Error::malformed("X-Amz-Expires must be at least 1"));
            }
            if expires_secs > options.max_presign_expires {
                return Err(SigV4Error::PresignTooLong {
                    expires: expires_secs,
                    max: options.max_presign_expires,
                });
            }
            let timestamp = parse_amz_date(&date)
                .ok_or_else(|| SigV4Error::InvalidDate(truncate(&date, 64)))?;
            (
                RawAuth {
                    algorithm,
                    credential,
                    signed_headers,
                    signature,
                },
                AuthKind::Presigned {
                    expires: expires_secs,
                },
                date,
                timestamp,
                token,
            )
        }
    };
    debug_assert_eq!(raw.algorithm, ALGORITHM);

    let (access_key_id, scope) = parse_credential(&raw.credential)?;
    if !amz_date.starts_with(scope.date.as_str()) {
        return Err(SigV4Error::ScopeMismatch {
            part: ScopePart::Date,
            expected: amz_date.get(..8).unwrap_or("").to_owned(),
            found: scope.date,
        });
    }
    let signed_headers = parse_signed_headers(&raw.signed_headers)?;
    let signature = parse_signature(&raw.signature)?;

    // Headers that must be covered by the signature whenever they are present.
    let is_signed = |name: &str| {
        signed_headers
            .binary_search_by(|h| h.as_str().cmp(name))
            .is_ok()
    };
    if !is_signed("host") {
        return Err(SigV4Error::HostNotSigned);
    }
    let date_header = if headers.contains_key(&X_AMZ_DATE) {
        &X_AMZ_DATE
    } else {
        &DATE
    };
    let mut must_sign = [&X_AMZ_SECURITY_TOKEN, &X_AMZ_CONTENT_SHA256, date_header]
        .into_iter()
        .take(if kind == AuthKind::Header { 3 } else { 2 });
    if let Some(name) = must_sign.find(|n| headers.contains_key(*n) && !is_signed(n.as_str())) {
        return Err(SigV4Error::HeaderNotSigned(name.as_str().to_owned()));
    }
    for name in &options.extra_signed_headers {
        if headers.contains_key(name.as_str()) && !is_signed(name) {
            return Err(SigV4Error::HeaderNotSigned(name.clone()));
        }
    }
    if options.require_all_amz_headers_signed {
        for name in headers.keys() {
            if name.as_str().starts_with("x-amz-") && !is_signed(name.as_str()) {
                return Err(SigV4Error::HeaderNotSigned(name.as_str().to_owned()));
            }
        }
    }

    let security_token = match single_header(headers, &X_AMZ_SECURITY_TOKEN)? {
        Some(t) => Some(t.to_owned()),
        None => query_token,
    };

    let declared_payload = single_header(headers, &X_AMZ_CONTENT_SHA256)?
        .map(PayloadMode::parse)
        .transpose()?;
    if options.s3 && kind == AuthKind::Header && declared_payload.is_none() {
        return Err(SigV4Error::Missing("x-amz-content-sha256"));
    }
    if let Some(mode) = declared_payload
        && mode.is_streaming()
        && (!options.s3 || kind != AuthKind::Header)
    {
        return Err(SigV4Error::UnsupportedPayloadMode(mode.mode_name()));
    }

    let canonical_prefix = canonical_prefix(
        &CanonicalParts {
            method: req.method,
            path: req.path,
            query: req.query,
            s3: options.s3,
            skip_signature_param: matches!(kind, AuthKind::Presigned { .. }),
            signed_headers: &signed_headers,
        },
        &HeaderSource {
            headers,
            host_fallback: req.authority,
        },
    )?;

    Ok(Auth::Signed(Box::new(SignedRequest {
        kind,
        access_key_id,
        scope,
        signed_headers,
        signature,
        security_token,
        amz_date,
        timestamp,
        declared_payload,
        canonical_prefix,
    })))
}

impl SignedRequest {
    pub(crate) fn scope_string(&self) -> String {
        scope_string(&self.scope.date, &self.scope.region, &self.scope.service)
    }
}
