//! The error type shared by parsing, verification, signing and chunk decoding.

use std::time::Duration;

use time::OffsetDateTime;

/// Which part of a credential scope (`date/region/service/aws4_request`) did not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopePart {
    /// The `YYYYMMDD` date, which must equal the date part of the request timestamp.
    Date,
    /// The region.
    Region,
    /// The service name.
    Service,
    /// The terminator, which must be `aws4_request`.
    Terminator,
}

impl std::fmt::Display for ScopePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScopePart::Date => "date",
            ScopePart::Region => "region",
            ScopePart::Service => "service",
            ScopePart::Terminator => "terminator",
        })
    }
}

/// Everything that can go wrong when parsing, verifying or signing a SigV4 request, or decoding
/// an `aws-chunked` body.
///
/// The variants are deliberately fine-grained; mapping them to AWS error codes
/// (`SignatureDoesNotMatch`, `RequestTimeTooSkewed`, `AuthorizationHeaderMalformed`, ...) is
/// the job of the protocol crates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// A required header or query parameter is absent (its name is given).
    #[error("missing required {0}")]
    Missing(&'static str),
    /// The `Authorization` header (or the presigned query parameters) could not be parsed.
    #[error("malformed authorization: {0}")]
    MalformedAuthorization(String),
    /// The request carries both an `Authorization` header and presigned query parameters.
    #[error("request carries both an Authorization header and a presigned query signature")]
    AmbiguousAuthorization,
    /// The signing algorithm is not `AWS4-HMAC-SHA256`.
    #[error("unsupported signing algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The request timestamp (`X-Amz-Date` or `Date`) is not valid.
    #[error("invalid request date {0:?}")]
    InvalidDate(String),
    /// A part of the credential scope is not what it has to be.
    #[error("credential scope {part} mismatch: expected {expected:?}, found {found:?}")]
    ScopeMismatch {
        /// Which part of the scope is wrong.
        part: ScopePart,
        /// What the verifier expected.
        expected: String,
        /// What the request carried.
        found: String,
    },
    /// `host` is not among the signed headers.
    #[error("the host header is not signed")]
    HostNotSigned,
    /// A header that must be signed when present (e.g. `x-amz-security-token`) is not signed.
    #[error("header {0:?} is present but not signed")]
    HeaderNotSigned(String),
    /// A header listed in `SignedHeaders` is not present in the request.
    #[error("signed header {0:?} is not present in the request")]
    SignedHeaderMissing(String),
    /// Header authentication: the request time is outside the allowed clock skew window.
    #[error(
        "request time {request_time} is too far from server time {server_time} (max skew {max_skew:?})"
    )]
    RequestTimeTooSkewed {
        /// The time the request was signed at.
        request_time: OffsetDateTime,
        /// The verifier's clock.
        server_time: OffsetDateTime,
        /// The allowed skew.
        max_skew: Duration,
    },
    /// Presigned URL: `X-Amz-Date` lies in the future (beyond the allowed skew).
    #[error("presigned request is not valid before {request_time} (server time {server_time})")]
    PresignNotYetValid {
        /// The presign time.
        request_time: OffsetDateTime,
        /// The verifier's clock.
        server_time: OffsetDateTime,
    },
    /// Presigned URL: `X-Amz-Date + X-Amz-Expires` has passed.
    #[error("presigned request expired at {expires_at} (server time {server_time})")]
    PresignExpired {
        /// When the URL stopped being valid.
        expires_at: OffsetDateTime,
        /// The verifier's clock.
        server_time: OffsetDateTime,
    },
    /// Presigned URL: `X-Amz-Expires` exceeds the maximum (7 days by default).
    #[error("X-Amz-Expires {expires} exceeds the maximum of {max} seconds")]
    PresignTooLong {
        /// The requested lifetime in seconds.
        expires: u64,
        /// The maximum allowed lifetime in seconds.
        max: u64,
    },
    /// `x-amz-content-sha256` is neither a lowercase hex SHA-256 nor a known mode.
    #[error("invalid x-amz-content-sha256 value {0:?}")]
    InvalidContentSha256(String),
    /// The payload mode is not allowed here (e.g. streaming on a presigned or non-S3 request).
    #[error("payload mode {0} is not supported for this request")]
    UnsupportedPayloadMode(&'static str),
    /// The computed signature does not match the provided one. Carries what the server
    /// computed, as S3 returns it in `SignatureDoesNotMatch` responses.
    #[error("signature does not match")]
    SignatureMismatch {
        /// The canonical request the server computed.
        canonical_request: String,
        /// The string to sign the server computed.
        string_to_sign: String,
    },
    /// The declared `x-amz-content-sha256` does not match the body that arrived.
    #[error("x-amz-content-sha256 mismatch: declared {declared}, computed {computed}")]
    PayloadHashMismatch {
        /// The hash the client declared.
        declared: String,
        /// The hash of the body actually received.
        computed: String,
    },
    /// `aws-chunked` body: the framing is malformed.
    #[error("malformed aws-chunked body: {0}")]
    ChunkedFraming(String),
    /// `aws-chunked` body: a chunk exceeds the configured maximum size.
    #[error("chunk of {size} bytes exceeds the maximum of {max}")]
    ChunkTooLarge {
        /// The declared chunk size.
        size: u64,
        /// The configured limit.
        max: u64,
    },
    /// `aws-chunked` body: the signature of chunk number `index` (0-based) is wrong.
    #[error("chunk {index} signature does not match")]
    ChunkSignatureMismatch {
        /// 0-based index of the failing chunk (the final empty chunk counts).
        index: u64,
    },
    /// `aws-chunked` body: the trailer signature is wrong.
    #[error("trailer signature does not match")]
    TrailerSignatureMismatch,
    /// `aws-chunked` body: the body ended before the final chunk (or the trailers) arrived.
    #[error("incomplete aws-chunked body")]
    IncompleteBody,
    /// `aws-chunked` body: the decoded length differs from `x-amz-decoded-content-length`.
    #[error("decoded length mismatch: declared {declared}, got at least {actual}")]
    DecodedLengthMismatch {
        /// The declared decoded length.
        declared: u64,
        /// The number of bytes decoded (so far).
        actual: u64,
    },
    /// A trailing (or header) checksum does not match the data.
    #[error("{algorithm} checksum mismatch: expected {expected}, computed {computed}")]
    ChecksumMismatch {
        /// The checksum header name, e.g. `x-amz-checksum-crc32c`.
        algorithm: String,
        /// The base64 value the client sent.
        expected: String,
        /// The base64 value computed over the data.
        computed: String,
    },
    /// A checksum algorithm we do not implement (e.g. `x-amz-checksum-crc64`).
    #[error("unsupported checksum algorithm {0:?}")]
    UnsupportedChecksum(String),
    /// A trailer was sent that was not announced in `x-amz-trailer`, or is not allowed.
    #[error("unexpected trailer {0:?}")]
    UnexpectedTrailer(String),
    /// A trailer announced in `x-amz-trailer` (or the trailer signature) was not sent.
    #[error("missing trailer {0:?}")]
    MissingTrailer(String),
    /// Signing: the input cannot be signed (invalid header value, missing host, ...).
    #[error("cannot sign request: {0}")]
    InvalidSigningInput(String),
}

impl SigV4Error {
    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        SigV4Error::MalformedAuthorization(msg.into())
    }

    pub(crate) fn framing(msg: impl Into<String>) -> Self {
        SigV4Error::ChunkedFraming(msg.into())
    }
}
