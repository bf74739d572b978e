//! URI encoding and canonicalisation of paths and query strings, shared by signing and
//! verification.

use std::borrow::Cow;

/// Whether `b` is an RFC 3986 unreserved character (`A-Z a-z 0-9 - . _ ~`), the only bytes
/// SigV4 leaves unencoded.
#[inline]
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends the SigV4 URI encoding of `input` to `out`: every byte except the unreserved
/// characters is written as `%XX` (uppercase hex); `/` is kept as-is unless `encode_slash`.
pub fn uri_encode_into(input: &[u8], encode_slash: bool, out: &mut String) {
    for &b in input {
        if is_unreserved(b) || (b == b'/' && !encode_slash) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        }
    }
}

/// SigV4 URI encoding of `input` (see [`uri_encode_into`]).
pub fn uri_encode(input: &[u8], encode_slash: bool) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 2);
    uri_encode_into(input, encode_slash, &mut out);
    out
}

/// Percent-decodes `input`; malformed escapes are kept literally.
pub fn percent_decode(input: &[u8]) -> Cow<'_, [u8]> {
    percent_encoding::percent_decode(input).into()
}

/// Decodes a query-string component with `application/x-www-form-urlencoded` rules
/// (`+` is a space, then percent-decoding) — the same rules the AWS SDKs apply when they
/// canonicalise a query.
pub fn form_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.contains(&b'+') {
        let replaced: Vec<u8> = input
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        Cow::Owned(percent_encoding::percent_decode(&replaced).collect())
    } else {
        percent_decode(input)
    }
}

/// Removes dot segments and empty segments from an absolute path, as the AWS SDKs do for
/// every service except S3 (RFC 3986 §5.2.4 plus collapsing of `//`).
pub fn normalize_path(path: &str) -> Cow<'_, str> {
    if path.is_empty() {
        return Cow::Borrowed("/");
    }
    let absolute: Cow<'_, str> = if path.starts_with('/') {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("/{path}"))
    };
    if !(absolute.contains('.') || absolute.contains("//")) {
        return absolute;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in absolute.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(absolute.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    let trailing = ["/", "/.", "/..", "/./", "/../"]
        .iter()
        .any(|s| absolute.ends_with(s));
    if out.is_empty() || (trailing && !out.ends_with('/')) {
        out.push('/');
    }
    Cow::Owned(out)
}

/// Canonical URI of a request path as it appears on the wire (still percent-encoded).
///
/// * `s3 = false` (every AWS service but S3): the path is normalised (dot segments and empty
///   segments removed) and then URI-encoded *again*, so `%20` becomes `%2520` — the
///   "double encoding" the SDKs use.
/// * `s3 = true`: no normalisation; the path is percent-decoded and each byte encoded once,
///   keeping `/`.
pub fn canonical_uri(raw_path: &str, s3: bool) -> String {
    let mut out = String::with_capacity(raw_path.len() + 8);
    canonical_uri_into(raw_path, s3, &mut out);
    out
}

pub(crate) fn canonical_uri_into(raw_path: &str, s3: bool, out: &mut String) {
    if s3 {
        if raw_path.is_empty() {
            out.push('/');
            return;
        }
        if !raw_path.starts_with('/') {
            out.push('/');
        }
        uri_encode_into(&percent_decode(raw_path.as_bytes()), false, out);
    } else {
        let normalized = normalize_path(raw_path);
        uri_encode_into(normalized.as_bytes(), false, out);
    }
}

/// The canonical query string of a raw (still encoded) query: every `key[=value]` pair is
/// form-decoded and re-encoded with SigV4 URI encoding, pairs are sorted by encoded key then
/// encoded value and joined with `&`; a key without value gets `=`. When `skip_signature` is
/// set, `X-Amz-Signature` parameters are left out (presigned URLs).
pub fn canonical_query(raw_query: &str, skip_signature: bool) -> String {
    let mut out = String::with_capacity(raw_query.len() + 8);
    canonical_query_into(raw_query, skip_signature, &mut out);
    out
}

pub(crate) fn canonical_query_into(raw_query: &str, skip_signature: bool, out: &mut String) {
    if raw_query.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for piece in raw_query.split('&') {
        if piece.is_empty() {
            continue;
        }
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let key = uri_encode(&form_decode(k.as_bytes()), true);
        if skip_signature && key == "X-Amz-Signature" {
            continue;
        }
        let value = uri_encode(&form_decode(v.as_bytes()), true);
        pairs.push((key, value));
    }
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

/// Splits a raw query into form-decoded `(key, value)` pairs (pieces that are empty are
/// skipped).
pub(crate) fn query_pairs(raw_query: &str) -> impl Iterator<Item = (Cow<'_, [u8]>, Cow<'_, [u8]>)> {
    raw_query.split('&').filter(|p| !p.is_empty()).map(|piece| {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        (form_decode(k.as_bytes()), form_decode(v.as_bytes()))
    })
}

/// Appends a header value normalised for the canonical request: leading and trailing
/// spaces/tabs trimmed, runs of spaces collapsed to one.
pub(crate) fn push_trimmed_header_value(value: &[u8], out: &mut Vec<u8>) {
    let mut start = 0;
    let mut end = value.len();
    while start < end && matches!(value[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(value[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    let value = &value[start..end];
    // Session tokens are a kilobyte long: a SIMD search, not a byte loop.
    if !memchr::memchr_iter(b' ', value).any(|i| value.get(i + 1) == Some(&b' ')) {
        out.extend_from_slice(value);
        return;
    }
    let mut prev_space = false;
    for &b in value {
        if b == b' ' {
            if prev_space {
                continue;
            }
            prev_space = true;
        } else {
            prev_space = false;
        }
        out.push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_unicode() {
        assert_eq!(uri_encode(b"a b+c~d/e", true), "a%20b%2Bc~d%2Fe");
        assert_eq!(uri_encode(b"a b/c", false), "a%20b/c");
        assert_eq!(uri_encode("ሴ".as_bytes(), true), "%E1%88%B4");
    }

    #[test]
    fn normalizes_like_the_sdks() {
        assert_eq!(normalize_path(""), "/");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("//example//"), "/example/");
        assert_eq!(normalize_path("/example/.."), "/");
        assert_eq!(normalize_path("/example1/example2/../.."), "/");
        assert_eq!(normalize_path("/./"), "/");
        assert_eq!(normalize_path("/foo/bar/."), "/foo/bar/");
        assert_eq!(normalize_path("/../foo"), "/foo");
        assert_eq!(normalize_path("foo"), "/foo");
        assert_eq!(normalize_path("/a.b/c"), "/a.b/c");
    }

    #[test]
    fn canonical_uri_modes() {
        assert_eq!(canonical_uri("/a%20b/c", false), "/a%2520b/c");
        assert_eq!(canonical_uri("/a%20b//c", true), "/a%20b//c");
        assert_eq!(canonical_uri("/a%7Eb/%2e%2e", true), "/a~b/..");
        assert_eq!(canonical_uri("", true), "/");
        assert_eq!(canonical_uri("/bucket/a+b", true), "/bucket/a%2Bb");
    }

    #[test]
    fn canonical_query_sorting() {
        assert_eq!(canonical_query("b=2&a=1&a=0", false), "a=0&a=1&b=2");
        assert_eq!(canonical_query("Param1", false), "Param1=");
        assert_eq!(canonical_query("a=b+c&d=%7e&&", false), "a=b%20c&d=~");
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", true),
            "X-Amz-Date=1"
        );
        assert_eq!(canonical_query("", false), "");
    }

    #[test]
    fn trims_header_values() {
        let mut out = Vec::new();
        push_trimmed_header_value(b"  \"a   b   c\"  ", &mut out);
        assert_eq!(out, b"\"a b c\"");
    }
}
