//! Server-side signature verification.

use std::time::Duration;

use aws_lc_rs::digest;
use time::OffsetDateTime;

use crate::canonical::{canonical_request_hash, finish_canonical_request, string_to_sign};
use crate::chunked::{ChunkSigningContext, ChunkedDecoder, ChunkedDecoderConfig};
use crate::crypto::{SigningKey, SigningKeyCache, ct_eq, digest_to_array};
use crate::parse::{
    Auth, AuthKind, CredentialScope, MAX_PRESIGN_EXPIRES, PayloadMode, RequestView, SignedRequest,
    UNSIGNED_PAYLOAD,
};
use crate::{ScopePart, SigV4Error};

/// Default allowed clock skew for header authentication: 15 minutes.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Verification policy.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The service name the credential scope must carry (`sts`, `iam`, `s3`, `eks`,
    /// `eks-auth`, ...).
    pub service: String,
    /// The region the credential scope must carry; `None` accepts any region.
    pub region: Option<String>,
    /// S3 canonicalisation and payload rules: path used as-is (decoded and encoded once, no
    /// normalisation), payload hash taken from `x-amz-content-sha256` (required for header
    /// auth), `UNSIGNED-PAYLOAD` for presigned URLs, streaming modes allowed.
    pub s3: bool,
    /// Allowed clock skew for header authentication (and for presigned URLs dated in the
    /// future). Default 15 minutes.
    pub max_skew: Duration,
    /// Maximal `X-Amz-Expires` in seconds. Default (and AWS maximum) 604800, 7 days.
    pub max_presign_expires: u64,
    /// More header names (lowercase) that must be signed whenever present, on top of `host`,
    /// `x-amz-date`, `x-amz-security-token` and `x-amz-content-sha256`.
    pub extra_signed_headers: Vec<String>,
    /// Require every `x-amz-*` header present in the request to be signed.
    pub require_all_amz_headers_signed: bool,
}

impl VerifyOptions {
    /// Options for a non-S3 service (`sts`, `iam`, `eks`, `eks-auth`, ...).
    pub fn new(service: impl Into<String>) -> Self {
        VerifyOptions {
            service: service.into(),
            region: None,
            s3: false,
            max_skew: DEFAULT_MAX_SKEW,
            max_presign_expires: MAX_PRESIGN_EXPIRES,
            extra_signed_headers: Vec::new(),
            require_all_amz_headers_signed: false,
        }
    }

    /// Options for S3 (service `s3`, S3 canonicalisation rules).
    pub fn s3() -> Self {
        VerifyOptions {
            s3: true,
            ..Self::new("s3")
        }
    }

    /// Sets the required region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
}

/// What the verifier knows about the body when it checks the signature.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The whole body (non-S3 services: the signature covers its hash).
    Bytes(&'a [u8]),
    /// The SHA-256 of the whole body, computed by the caller.
    Sha256([u8; 32]),
    /// The body has not been read: trust the declared `x-amz-content-sha256` (S3). The caller
    /// must then check the body with [`VerifiedRequest::content_sha256_checker`] or
    /// [`VerifiedRequest::chunked_decoder`].
    Declared,
}

/// A request whose signature has been verified.
#[derive(Clone)]
pub struct VerifiedRequest {
    kind: AuthKind,
    access_key_id: String,
    scope: CredentialScope,
    signed_headers: Vec<String>,
    security_token: Option<String>,
    timestamp: OffsetDateTime,
    amz_date: String,
    payload: PayloadMode,
    signature: [u8; 32],
    signing_key: SigningKey,
}

impl std::fmt::Debug for VerifiedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedRequest")
            .field("kind", &self.kind)
            .field("access_key_id", &self.access_key_id)
            .field("scope", &self.scope)
            .field("signed_headers", &self.signed_headers)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timestamp", &self.timestamp)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

impl VerifiedRequest {
    /// Header or presigned authentication.
    pub fn kind(&self) -> AuthKind {
        self.kind
    }
    /// The authenticated access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
    /// The credential scope.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }
    /// The signed header names.
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }
    /// The session token, if any. The caller must validate it belongs to the access key.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }
    /// The signing time.
    pub fn timestamp(&self) -> OffsetDateTime {
        self.timestamp
    }
    /// How the payload is covered by the signature.
    pub fn payload(&self) -> PayloadMode {
        self.payload
    }
    /// The verified request signature (the seed of chunk signatures).
    pub fn signature_hex(&self) -> String {
        hex::encode(self.signature)
    }

    /// The context needed to verify (or produce) chunk signatures chained from this
    /// request's signature.
    pub fn chunk_signing_context(&self) -> ChunkSigningContext {
        ChunkSigningContext::new(
            self.signing_key.clone(),
            self.amz_date.clone(),
            self.scope.to_string(),
            self.signature,
        )
    }

    /// A decoder for the `aws-chunked` body of this request, configured from its headers
    /// (`x-amz-decoded-content-length`, required; `x-amz-trailer`, optional). Fails when the
    /// payload mode is not a streaming one.
    pub fn chunked_decoder(&self, headers: &http::HeaderMap) -> Result<ChunkedDecoder, SigV4Error> {
        let config = ChunkedDecoderConfig::from_headers(headers)?;
        ChunkedDecoder::new(self.payload, Some(self.chunk_signing_context()), config)
    }

    /// For a declared hex `x-amz-content-sha256`, an incremental checker of the body that
    /// arrives later; `None` for other payload modes.
    pub fn content_sha256_checker(&self) -> Option<ContentSha256Checker> {
        match self.payload {
            PayloadMode::Sha256(expected) => Some(ContentSha256Checker {
                ctx: digest::Context::new(&digest::SHA256),
                expected,
            }),
            _ => None,
        }
    }
}

/// Incrementally hashes a body and compares it with the declared `x-amz-content-sha256`.
pub struct ContentSha256Checker {
    ctx: digest::Context,
    expected: [u8; 32],
}

impl std::fmt::Debug for ContentSha256Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentSha256Checker")
            .field("expected", &hex::encode(self.expected))
            .finish_non_exhaustive()
    }
}

impl ContentSha256Checker {
    /// Feeds body bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    /// Checks the hash of everything fed.
    pub fn finish(self) -> Result<(), SigV4Error> {
        let computed = digest_to_array(self.ctx.finish());
        if ct_eq(&computed, &self.expected) {
            Ok(())
        } else {
            Err(SigV4Error::PayloadHashMismatch {
                declared: hex::encode(self.expected),
                computed: hex::encode(computed),
            })
        }
    }
}

/// Verifies `req` with `secret_access_key`, deriving the signing key without a cache.
/// See [`Verifier`] for the cached variant.
pub fn verify(
    req: &SignedRequest,
    secret_access_key: &str,
    payload: Payload<'_>,
    now: OffsetDateTime,
    options: &VerifyOptions,
) -> Result<VerifiedRequest, SigV4Error> {
    verify_inner(req, payload, now, options, |s| {
        SigningKey::derive(secret_access_key, &s.date, &s.region, &s.service)
    })
}

fn check_scope(scope: &CredentialScope, options: &VerifyOptions) -> Result<(), SigV4Error> {
    if scope.service != options.service {
        return Err(SigV4Error::ScopeMismatch {
            part: ScopePart::Service,
            expected: options.service.clone(),
            found: scope.service.clone(),
        });
    }
    if let Some(region) = &options.region
        && &scope.region != region
    {
        return Err(SigV4Error::ScopeMismatch {
            part: ScopePart::Region,
            expected: region.clone(),
            found: scope.region.clone(),
        });
    }
    Ok(())
}

fn check_time(
    req: &SignedRequest,
    now: OffsetDateTime,
    options: &VerifyOptions,
) -> Result<(), SigV4Error> {
    let t = req.timestamp;
    let skew = time::Duration::try_from(options.max_skew).unwrap_or(time::Duration::MAX);
    match req.kind {
        AuthKind::Header => {
            let diff = (now - t).abs();
            if diff > skew {
                return Err(SigV4Error::RequestTimeTooSkewed {
                    request_time: t,
                    server_time: now,
                    max_skew: options.max_skew,
                });
            }
        }
        AuthKind::Presigned { expires } => {
            if t - now > skew {
                return Err(SigV4Error::PresignNotYetValid {
                    request_time: t,
                    server_time: now,
                });
            }
            let lifetime = time::Duration::seconds(i64::try_from(expires).unwrap_or(i64::MAX));
            let expires_at = t.checked_add(lifetime).unwrap_or(t);
            if now > expires_at {
                return Err(SigV4Error::PresignExpired {
                    expires_at,
                    server_time: now,
                });
            }
        }
    }
    Ok(())
}

/// Chooses the payload hash line of the canonical request; returns it with the effective
/// payload mode and the hash to compare with a declared one after the signature check.
fn canonical_payload(
    req: &SignedRequest,
    payload: Payload<'_>,
    s3: bool,
) -> Result<(String, PayloadMode, Option<[u8; 32]>), SigV4Error> {
    let computed = match payload {
        Payload::Bytes(b) => Some(crate::crypto::sha256(b)),
        Payload::Sha256(h) => Some(h),
        Payload::Declared => None,
    };
    let presigned = matches!(req.kind, AuthKind::Presigned { .. });
    match (req.declared_payload, computed) {
        (Some(mode), computed) => Ok((mode.to_header_value(), mode, computed)),
        (None, _) if s3 && presigned => {
            Ok((UNSIGNED_PAYLOAD.to_owned(), PayloadMode::Unsigned, None))
        }
        (None, Some(h)) => Ok((hex::encode(h), PayloadMode::Sha256(h), None)),
        (None, None) => Err(SigV4Error::Missing(
            "payload hash (body or x-amz-content-sha256)",
        )),
    }
}

fn verify_inner(
    req: &SignedRequest,
    payload: Payload<'_>,
    now: OffsetDateTime,
    options: &VerifyOptions,
    derive: impl FnOnce(&CredentialScope) -> SigningKey,
) -> Result<VerifiedRequest, SigV4Error> {
    check_scope(&req.scope, options)?;
    check_time(req, now, options)?;
    let (payload_line, mode, computed) = canonical_payload(req, payload, options.s3)?;
    let sts = string_to_sign(
        &req.amz_date,
        &req.scope_string(),
        &canonical_request_hash(&req.canonical_prefix, &payload_line),
    );
    let key = derive(&req.scope);
    let expected = key.sign(sts.as_bytes());
    if !ct_eq(&expected, &req.signature) {
        let canonical_request = finish_canonical_request(&req.canonical_prefix, &payload_line);
        return Err(SigV4Error::SignatureMismatch {
            canonical_request: String::from_utf8_lossy(&canonical_request).into_owned(),
            string_to_sign: sts,
        });
    }
    if let (PayloadMode::Sha256(declared), Some(computed)) = (mode, computed)
        && !ct_eq(&declared, &computed)
    {
        return Err(SigV4Error::PayloadHashMismatch {
            declared: hex::encode(declared),
            computed: hex::encode(computed),
        });
    }
    Ok(VerifiedRequest {
        kind: req.kind,
        access_key_id: req.access_key_id.clone(),
        scope: req.scope.clone(),
        signed_headers: req.signed_headers.clone(),
        security_token: req.security_token.clone(),
        timestamp: req.timestamp,
        amz_date: req.amz_date.clone(),
        payload: mode,
        signature: req.signature,
        signing_key: key,
    })
}

/// A verifier: options plus a bounded cache of derived signing keys.
///
/// ```
/// use podiam_sigv4::{Auth, Payload, RequestView, Verifier, VerifyOptions};
/// # fn lookup_secret(_akid: &str) -> Option<String> { None }
/// # fn handle(parts: &http::request::Parts, body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Verifier::new(VerifyOptions::new("sts"));
/// match verifier.parse(&RequestView::from_parts(parts))? {
///     Auth::Anonymous => { /* unauthenticated request */ }
///     Auth::Signed(signed) => {
///         let secret = lookup_secret(signed.access_key_id()).ok_or("unknown access key")?;
///         let now = time::OffsetDateTime::now_utc();
///         let verified = verifier.verify(&signed, &secret, Payload::Bytes(body), now)?;
///         let _caller = verified.access_key_id();
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Verifier {
    options: VerifyOptions,
    cache: SigningKeyCache,
}

impl Verifier {
    /// A verifier with a 1024-entry signing key cache.
    pub fn new(options: VerifyOptions) -> Self {
        Verifier {
            options,
            cache: SigningKeyCache::default(),
        }
    }

    /// A verifier with a signing key cache of `capacity` entries.
    pub fn with_cache_capacity(options: VerifyOptions, capacity: usize) -> Self {
        Verifier {
            options,
            cache: SigningKeyCache::new(capacity),
        }
    }

    /// The verification options.
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// [`crate::parse`] with this verifier's options.
    pub fn parse(&self, req: &RequestView<'_>) -> Result<Auth, SigV4Error> {
        crate::parse::parse(req, &self.options)
    }

    /// [`verify`] with this verifier's options and key cache.
    pub fn verify(
        &self,
        req: &SignedRequest,
        secret_access_key: &str,
        payload: Payload<'_>,
        now: OffsetDateTime,
    ) -> Result<VerifiedRequest, SigV4Error> {
        verify_inner(req, payload, now, &self.options, |s| {
            self.cache
                .get_or_derive(secret_access_key, &s.date, &s.region, &s.service)
        })
    }
}
