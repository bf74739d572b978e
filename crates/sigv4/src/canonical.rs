//! The canonical request and string to sign: one implementation, used by both the signer and
//! the verifier.

use http::HeaderMap;

use crate::SigV4Error;
use crate::encode::{canonical_query_into, canonical_uri_into, push_trimmed_header_value};

/// The only algorithm this crate supports.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Where canonical header values come from: the request's header map, with the URI authority
/// standing in for a missing `host` header (HTTP/2 `:authority`).
pub(crate) struct HeaderSource<'a> {
    pub headers: &'a HeaderMap,
    pub host_fallback: Option<&'a str>,
}

/// Inputs of the canonical request, except the payload hash.
pub(crate) struct CanonicalParts<'a, S: AsRef<str>> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub s3: bool,
    /// Leave `X-Amz-Signature` out of the canonical query (presigned URLs).
    pub skip_signature_param: bool,
    /// Lowercase, strictly sorted (hence de-duplicated) header names.
    pub signed_headers: &'a [S],
}

/// Writes every line of the canonical request up to and including the signed-headers line
/// (and its newline); the payload hash is appended by [`finish_canonical_request`].
pub(crate) fn canonical_prefix<S: AsRef<str>>(
    parts: &CanonicalParts<'_, S>,
    src: &HeaderSource<'_>,
) -> Result<Vec<u8>, SigV4Error> {
    let mut line = String::with_capacity(256);
    line.push_str(parts.method);
    line.push('\n');
    canonical_uri_into(parts.path, parts.s3, &mut line);
    line.push('\n');
    if let Some(q) = parts.query {
        canonical_query_into(q, parts.skip_signature_param, &mut line);
    }
    line.push('\n');
    let mut out = line.into_bytes();
    // One pass over the header map (no per-name hashing): collect the values of signed
    // headers, keeping the order of repeated headers.
    let names = parts.signed_headers;
    let mut found: Vec<(usize, &[u8])> = Vec::with_capacity(names.len() + 2);
    for (name, value) in src.headers.iter() {
        if let Ok(i) = names.binary_search_by(|n| n.as_ref().cmp(name.as_str())) {
            found.push((i, value.as_bytes()));
        }
    }
    found.sort_by_key(|(i, _)| *i);
    let mut next = found.iter().peekable();
    for (i, name) in names.iter().enumerate() {
        let name = name.as_ref();
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut any = false;
        while let Some((_, value)) = next.next_if(|(j, _)| *j == i) {
            if any {
                out.push(b',');
            }
            push_trimmed_header_value(value, &mut out);
            any = true;
        }
        if !any {
            match (name, src.host_fallback) {
                ("host", Some(host)) => push_trimmed_header_value(host.as_bytes(), &mut out),
                _ => return Err(SigV4Error::SignedHeaderMissing(name.to_owned())),
            }
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, name) in parts.signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_ref().as_bytes());
    }
    out.push(b'\n');
    Ok(out)
}

/// Appends the payload hash line, completing the canonical request.
pub(crate) fn finish_canonical_request(prefix: &[u8], payload_hash: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + payload_hash.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// SHA-256 of the canonical request `prefix` + `payload_hash`, without assembling it: the
/// verifier needs its text only to report a mismatch.
pub(crate) fn canonical_request_hash(prefix: &[u8], payload_hash: &str) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(prefix);
    ctx.update(payload_hash.as_bytes());
    crate::crypto::digest_to_array(ctx.finish())
}

/// `AWS4-HMAC-SHA256\n<amz-date>\n<scope>\n<hex(canonical request hash)>`.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_hash: &[u8; 32]) -> String {
    let mut hex = [0u8; 64];
    // Cannot fail: the buffer is exactly twice the input.
    let _ = hex::encode_to_slice(canonical_hash, &mut hex);
    let mut s = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 67);
    s.push_str(ALGORITHM);
    s.push('\n');
    s.push_str(amz_date);
    s.push('\n');
    s.push_str(scope);
    s.push('\n');
    s.extend(hex.iter().map(|&b| char::from(b)));
    s
}

/// `date/region/service/aws4_request`.
pub(crate) fn scope_string(date: &str, region: &str, service: &str) -> String {
    let mut s = String::with_capacity(date.len() + region.len() + service.len() + 15);
    for part in [date, "/", region, "/", service, "/aws4_request"] {
        s.push_str(part);
    }
    s
}
