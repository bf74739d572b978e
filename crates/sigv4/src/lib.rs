//! AWS Signature Version 4 for podiam: server-side verification, client-side signing and
//! `aws-chunked` payload decoding.
//!
//! # Server side
//!
//! 1. [`parse`] (or [`Verifier::parse`]) extracts the authentication data of a request —
//!    header (`Authorization: AWS4-HMAC-SHA256 ...`) or presigned query — without any
//!    secret, and tells anonymous requests apart from malformed ones.
//! 2. Look the secret up by [`SignedRequest::access_key_id`].
//! 3. [`verify`] (or [`Verifier::verify`], which caches derived signing keys) rebuilds the
//!    canonical request, checks scope, clock skew / presign expiry and the signature in
//!    constant time.
//! 4. For S3 bodies: [`VerifiedRequest::content_sha256_checker`] (declared hex hash) or
//!    [`VerifiedRequest::chunked_decoder`] (`aws-chunked` streaming uploads).
//!
//! # Client side
//!
//! [`sign`] produces the `Authorization` (and companion) headers, [`presign`] a presigned
//! URL; [`ChunkSigner`] encodes chunk-signed bodies. Signing and verification share the
//! same canonicalisation code.
//!
//! Errors ([`SigV4Error`]) are fine-grained and not mapped to AWS error codes here.
//!
//! ```
//! use podiam_sigv4::*;
//! use http::{HeaderMap, Method, Uri};
//!
//! // Client: sign an STS call.
//! let creds = Credentials::new("AKIDEXAMPLE", "secret").with_session_token("token");
//! let uri: Uri = "https://sts.example.com/".parse().unwrap();
//! let body = b"Action=GetCallerIdentity&Version=2011-06-15";
//! let mut headers = HeaderMap::new();
//! let now = time::OffsetDateTime::now_utc();
//! let params = SigningParams { credentials: &creds, region: "us-east-1", service: "sts", time: now, s3: false };
//! sign(&Method::POST, &uri, &headers, &PayloadMode::for_body(body), &params)?.apply(&mut headers);
//!
//! // Server: parse, look the secret up, verify.
//! let verifier = Verifier::new(VerifyOptions::new("sts"));
//! let Auth::Signed(signed) = verifier.parse(&RequestView::new(&Method::POST, &uri, &headers))? else {
//!     unreachable!("the request is signed")
//! };
//! assert_eq!(signed.access_key_id(), "AKIDEXAMPLE");
//! let verified = verifier.verify(&signed, "secret", Payload::Bytes(body), now)?;
//! assert_eq!(verified.security_token(), Some("token"));
//! # Ok::<(), SigV4Error>(())
//! ```

mod canonical;
mod checksum;
mod chunked;
#[cfg(feature = "client")]
pub mod client;
mod crypto;
mod datetime;
pub mod encode;
mod error;
mod parse;
mod sign;
mod verify;

pub use canonical::ALGORITHM;
pub use checksum::{ChecksumAlgorithm, Checksummer, checksum_base64};
pub use chunked::{
    ChunkSigner, ChunkSigningContext, ChunkedDecoder, ChunkedDecoderConfig, ChunkedSummary,
    DEFAULT_MAX_CHUNK_SIZE, encode_unsigned_chunk, encode_unsigned_final,
};
pub use crypto::{EMPTY_SHA256, SigningKey, SigningKeyCache, ct_eq, sha256, sha256_hex};
pub use datetime::{format_amz_date, parse_amz_date, parse_http_date};
pub use error::{ScopePart, SigV4Error};
pub use parse::{
    Auth, AuthKind, CredentialScope, MAX_AUTHORIZATION_LEN, MAX_PRESIGN_EXPIRES,
    MAX_SIGNED_HEADERS, PayloadMode, RequestView, STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER, SignedRequest, UNSIGNED_PAYLOAD, parse,
};
pub use sign::{
    Credentials, PresignedRequest, SigningOutput, SigningParams, presign, sign, signed_request,
};
pub use verify::{
    ContentSha256Checker, DEFAULT_MAX_SKEW, Payload, VerifiedRequest, Verifier, VerifyOptions,
    verify,
};
