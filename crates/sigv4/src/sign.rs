//! Client-side signing: `Authorization` headers and presigned URLs.

use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri};
use time::OffsetDateTime;

use crate::SigV4Error;
use crate::canonical::{
    ALGORITHM, CanonicalParts, HeaderSource, canonical_prefix, finish_canonical_request,
    scope_string, string_to_sign,
};
use crate::chunked::{ChunkSigner, ChunkSigningContext};
use crate::crypto::SigningKey;
use crate::datetime::format_amz_date;
use crate::encode::uri_encode;
use crate::parse::{MAX_PRESIGN_EXPIRES, PayloadMode, UNSIGNED_PAYLOAD};

/// AWS credentials.
#[derive(Clone)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Credentials {
    /// Long-term credentials.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    /// Adds a session token.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

/// Signing parameters.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// The credentials to sign with.
    pub credentials: &'a Credentials,
    /// Region of the scope.
    pub region: &'a str,
    /// Service of the scope (`sts`, `s3`, ...).
    pub service: &'a str,
    /// Signing time.
    pub time: OffsetDateTime,
    /// S3 rules: single-encoded, unnormalised path; `x-amz-content-sha256` header;
    /// `UNSIGNED-PAYLOAD` for presigned URLs.
    pub s3: bool,
}

/// Headers never signed: computed by signing, or changed by proxies / hop-by-hop.
const UNSIGNABLE: &[&str] = &[
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "transfer-encoding",
    "expect",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "upgrade",
];

/// The result of [`sign`].
#[derive(Debug, Clone)]
pub struct SigningOutput {
    /// Headers to add to (or replace in) the request: `authorization`, `x-amz-date`,
    /// `x-amz-security-token` (with a session token), `x-amz-content-sha256` (S3), and `host`
    /// when the input had none (so that exactly the signed value is sent).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The hex signature (the seed of chunk signatures).
    pub signature: String,
    /// The canonical request that was signed (for debugging).
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    chunk_ctx: ChunkSigningContext,
}

impl SigningOutput {
    /// A chunk signer for an `aws-chunked` body chained from this signature.
    pub fn chunk_signer(&self) -> ChunkSigner {
        ChunkSigner::new(self.chunk_ctx.clone())
    }

    /// Applies the headers to `headers` (replacing existing values).
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (n, v) in &self.headers {
            headers.insert(n.clone(), v.clone());
        }
    }
}

fn host_of(uri: &Uri, headers: &HeaderMap) -> Result<(String, bool), SigV4Error> {
    if let Some(h) = headers.get(http::header::HOST) {
        let h = h
            .to_str()
            .map_err(|_| SigV4Error::InvalidSigningInput("invalid host header".into()))?;
        return Ok((h.to_owned(), true));
    }
    let authority = uri.authority().ok_or(SigV4Error::InvalidSigningInput(
        "no host header and no URI authority".into(),
    ))?;
    let default_port = matches!(
        (uri.scheme_str(), uri.port_u16()),
        (Some("http"), Some(80)) | (Some("https"), Some(443))
    );
    let host = if default_port {
        authority.host().to_owned()
    } else {
        authority.as_str().to_owned()
    };
    Ok((host, false))
}

fn header_value(v: &str) -> Result<HeaderValue, SigV4Error> {
    HeaderValue::from_str(v)
        .map_err(|_| SigV4Error::InvalidSigningInput("value not valid in a header".into()))
}

struct Prepared {
    headers: HeaderMap,
    signed: Vec<String>,
    added: Vec<(HeaderName, HeaderValue)>,
}

/// Builds the header map to canonicalise (input + host + signing headers) and the sorted
/// signed header list.
fn prepare_headers(
    uri: &Uri,
    input: &HeaderMap,
    extra: Vec<(HeaderName, HeaderValue)>,
    skip: &[&str],
) -> Result<Prepared, SigV4Error> {
    let mut headers = input.clone();
    let mut added = Vec::new();
    let (host, present) = host_of(uri, input)?;
    if !present {
        let v = header_value(&host)?;
        headers.insert(http::header::HOST, v.clone());
        added.push((http::header::HOST, v));
    }
    for (n, v) in extra {
        headers.insert(n.clone(), v.clone());
        added.push((n, v));
    }
    let mut signed: Vec<String> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| !UNSIGNABLE.contains(k) && !skip.contains(k))
        .map(str::to_owned)
        .collect();
    signed.sort();
    signed.dedup();
    Ok(Prepared {
        headers,
        signed,
        added,
    })
}

/// A request carrying `body`, signed over its SHA-256: `headers` plus the
/// signature's (`Authorization`, `X-Amz-Date`, the token, the payload hash).
pub fn signed_request(
    method: Method,
    uri: Uri,
    mut headers: HeaderMap,
    body: bytes::Bytes,
    params: &SigningParams<'_>,
) -> Result<http::Request<bytes::Bytes>, SigV4Error> {
    sign(
        &method,
        &uri,
        &headers,
        &PayloadMode::for_body(&body),
        params,
    )?
    .apply(&mut headers);
    let mut req = http::Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    Ok(req)
}

/// Signs a request with an `Authorization` header.
///
/// `payload` is the body's hash ([`PayloadMode::for_body`]) or one of the special modes
/// (`UNSIGNED-PAYLOAD`, streaming). All headers in `headers` are signed except hop-by-hop
/// and proxy-modified ones (`user-agent`, `transfer-encoding`, ...).
pub fn sign(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    payload: &PayloadMode,
    params: &SigningParams<'_>,
) -> Result<SigningOutput, SigV4Error> {
    let amz_date = format_amz_date(params.time);
    let date = &amz_date[..8];
    let creds = params.credentials;
    let payload_hash = payload.to_header_value();

    let mut extra = vec![(
        HeaderName::from_static("x-amz-date"),
        header_value(&amz_date)?,
    )];
    if let Some(token) = &creds.session_token {
        let mut v = header_value(token)?;
        v.set_sensitive(true);
        extra.push((HeaderName::from_static("x-amz-security-token"), v));
    }
    if params.s3 {
        extra.push((
            HeaderName::from_static("x-amz-content-sha256"),
            header_value(&payload_hash)?,
        ));
    }
    let prepared = prepare_headers(uri, headers, extra, &[])?;
    let prefix = canonical_prefix(
        &CanonicalParts {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query(),
            s3: params.s3,
            skip_signature_param: false,
            signed_headers: &prepared.signed,
        },
        &HeaderSource {
            headers: &prepared.headers,
            host_fallback: None,
        },
    )?;
    let creq = finish_canonical_request(&prefix, &payload_hash);
    let scope = scope_string(date, params.region, params.service);
    let sts = string_to_sign(&amz_date, &scope, &crate::crypto::sha256(&creq));
    let key = SigningKey::derive(
        &creds.secret_access_key,
        date,
        params.region,
        params.service,
    );
    let sig = key.sign(sts.as_bytes());
    let signature = hex::encode(sig);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        creds.access_key_id,
        prepared.signed.join(";")
    );
    let mut out_headers = prepared.added;
    let mut auth = header_value(&authorization)?;
    auth.set_sensitive(true);
    out_headers.push((http::header::AUTHORIZATION, auth));
    Ok(SigningOutput {
        headers: out_headers,
        signature,
        canonical_request: String::from_utf8_lossy(&creq).into_owned(),
        string_to_sign: sts,
        chunk_ctx: ChunkSigningContext::new(key, amz_date.clone(), scope, sig),
    })
}

/// The result of [`presign`].
#[derive(Debug, Clone)]
pub struct PresignedRequest {
    /// The full presigned URI (the input URI with the `X-Amz-*` parameters appended).
    pub uri: Uri,
    /// Just the query string (without `?`).
    pub query: String,
    /// Headers that were signed and must be sent with the request in addition to those of
    /// the input (`host` when the input had none).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The hex signature.
    pub signature: String,
}

/// Produces a presigned URL valid for `expires` (1 s ..= 7 days).
///
/// Signs `host` and the given `headers` (which the eventual request must carry). For S3 the
/// payload is `UNSIGNED-PAYLOAD`; otherwise `payload` is used (e.g. the empty-body hash for
/// a presigned STS `GetCallerIdentity`).
pub fn presign(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    payload: &PayloadMode,
    params: &SigningParams<'_>,
    expires: Duration,
) -> Result<PresignedRequest, SigV4Error> {
    let secs = expires.as_secs();
    if secs == 0 || secs > MAX_PRESIGN_EXPIRES {
        return Err(SigV4Error::PresignTooLong {
            expires: secs,
            max: MAX_PRESIGN_EXPIRES,
        });
    }
    let amz_date = format_amz_date(params.time);
    let date = &amz_date[..8];
    let creds = params.credentials;
    let scope = scope_string(date, params.region, params.service);
    let prepared = prepare_headers(
        uri,
        headers,
        Vec::new(),
        &["x-amz-user-agent", "x-amz-checksum-mode"],
    )?;

    let mut query = uri.query().unwrap_or("").to_owned();
    let mut add = |k: &str, v: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(k);
        query.push('=');
        query.push_str(&uri_encode(v.as_bytes(), true));
    };
    add("X-Amz-Algorithm", ALGORITHM);
    add(
        "X-Amz-Credential",
        &format!("{}/{scope}", creds.access_key_id),
    );
    add("X-Amz-Date", &amz_date);
    add("X-Amz-Expires", &secs.to_string());
    add("X-Amz-SignedHeaders", &prepared.signed.join(";"));
    if let Some(token) = &creds.session_token {
        add("X-Amz-Security-Token", token);
    }

    let payload_hash = if params.s3 {
        UNSIGNED_PAYLOAD.to_owned()
    } else {
        payload.to_header_value()
    };
    let prefix = canonical_prefix(
        &CanonicalParts {
            method: method.as_str(),
            path: uri.path(),
            query: Some(&query),
            s3: params.s3,
            skip_signature_param: true,
            signed_headers: &prepared.signed,
        },
        &HeaderSource {
            headers: &prepared.headers,
            host_fallback: None,
        },
    )?;
    let creq = finish_canonical_request(&prefix, &payload_hash);
    let sts = string_to_sign(&amz_date, &scope, &crate::crypto::sha256(&creq));
    let key = SigningKey::derive(
        &creds.secret_access_key,
        date,
        params.region,
        params.service,
    );
    let signature = hex::encode(key.sign(sts.as_bytes()));
    query.push_str("&X-Amz-Signature=");
    query.push_str(&signature);

    let mut full = String::new();
    if let Some(scheme) = uri.scheme_str() {
        full.push_str(scheme);
        full.push_str("://");
    }
    if let Some(authority) = uri.authority() {
        full.push_str(authority.as_str());
    }
    full.push_str(uri.path());
    full.push('?');
    full.push_str(&query);
    let uri = full
        .parse::<Uri>()
        .map_err(|e| SigV4Error::InvalidSigningInput(format!("presigned URI: {e}")))?;
    Ok(PresignedRequest {
        uri,
        query,
        headers: prepared.added,
        signature,
    })
}
