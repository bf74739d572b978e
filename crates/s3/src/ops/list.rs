//! ListObjects, ListObjectsV2 and ListObjectVersions.

use super::*;

pub(super) fn list_objects(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    p: ListParams,
    v2: bool,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    let max = parse_max(&p.max_keys, "max-keys", 1000)?;
    let url = list_encoding(&p)?;
    let token_marker = match &p.continuation_token {
        Some(t) if v2 => Some(
            B64.decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    S3Error::invalid_argument(
                        "The continuation token provided is incorrect",
                        "continuation-token",
                        t,
                    )
                })?,
        ),
        _ => None,
    };
    let marker = token_marker.clone().or_else(|| p.marker.clone());
    let prefix = p.prefix.clone().unwrap_or_default();
    let page = s3.store.list(
        bucket,
        &prefix,
        p.delimiter.as_deref(),
        marker.as_deref(),
        max,
    );
    let owner = canonical_user_id(&existing_bucket(s3, cx, bucket)?.owner);
    let mut w = XmlWriter::with_declaration();
    // About 250 bytes an entry.
    w.reserve(page.entries.len() * 256);
    w.start_ns("ListBucketResult", NS);
    w.elem("Name", bucket).elem("Prefix", &enc(url, &prefix));
    if v2 {
        if let Some(sa) = &p.marker {
            w.elem("StartAfter", &enc(url, sa));
        }
        w.opt("ContinuationToken", p.continuation_token.as_deref());
        if page.truncated
            && let Some(last) = &page.last
        {
            w.elem("NextContinuationToken", &B64.encode(last));
        }
        w.elem("KeyCount", &page.entries.len().to_string());
    } else {
        w.elem("Marker", &enc(url, p.marker.as_deref().unwrap_or_default()));
        if page.truncated
            && p.delimiter.is_some()
            && let Some(last) = &page.last
        {
            w.elem("NextMarker", &enc(url, last));
        }
    }
    listing_settings(&mut w, max, &p, url, page.truncated);
    let mut prefixes = Vec::new();
    for e in &page.entries {
        match e {
            ListEntry::Object(m) => {
                w.start("Contents")
                    .elem("Key", &enc(url, &m.key))
                    .elem("LastModified", &iso8601_ms(m.last_modified_ms))
                    .elem("ETag", &quoted(&m.etag));
                if let Some((alg, _)) = &m.checksum {
                    w.elem(
                        "ChecksumAlgorithm",
                        &alg.trim_start_matches("x-amz-checksum-")
                            .to_ascii_uppercase(),
                    );
                }
                w.elem("Size", &m.size.to_string());
                if !v2 || p.fetch_owner {
                    w.start("Owner").elem("ID", &owner).end("Owner");
                }
                w.elem("StorageClass", "STANDARD").end("Contents");
            }
            ListEntry::Prefix(cp) => prefixes.push(cp.clone()),
        }
    }
    common_prefixes(&mut w, &prefixes, url);
    w.end("ListBucketResult");
    Ok(xml_response(w.finish()))
}

/// A listing's `MaxKeys`, `Delimiter`, `EncodingType` and `IsTruncated`.
fn listing_settings(w: &mut XmlWriter, max: usize, p: &ListParams, url: bool, truncated: bool) {
    w.elem("MaxKeys", &max.to_string());
    if let Some(d) = &p.delimiter {
        w.elem("Delimiter", &enc(url, d));
    }
    if url {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
}

/// A listing's `CommonPrefixes`, after its entries.
fn common_prefixes(w: &mut XmlWriter, prefixes: &[String], url: bool) {
    for cp in prefixes {
        w.start("CommonPrefixes")
            .elem("Prefix", &enc(url, cp))
            .end("CommonPrefixes");
    }
}

/// A key or prefix as a listing writes it: URL-encoded when asked.
fn enc(url: bool, s: &str) -> std::borrow::Cow<'_, str> {
    if url { url_encode(s).into() } else { s.into() }
}

/// Whether a listing's keys are URL-encoded (`encoding-type=url`).
pub(super) fn list_encoding(p: &ListParams) -> S3Result<bool> {
    match p.encoding_type.as_deref() {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(other) => Err(S3Error::invalid_argument(
            "Invalid Encoding Method specified in Request",
            "encoding-type",
            other,
        )),
    }
}

/// ListObjectVersions on a store that keeps one version per key: each
/// object is its `null` version, the latest.
pub(super) fn list_versions(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    p: ListParams,
    version_id_marker: Option<String>,
) -> S3Result<Resp> {
    let b = existing_bucket(s3, cx, bucket)?;
    if version_id_marker.is_some() && p.marker.is_none() {
        return Err(S3Error::invalid_argument(
            "A version-id marker cannot be specified without a key marker.",
            "version-id-marker",
            version_id_marker.as_deref().unwrap_or_default(),
        ));
    }
    let max = parse_max(&p.max_keys, "max-keys", 1000)?;
    let url = list_encoding(&p)?;
    let prefix = p.prefix.clone().unwrap_or_default();
    // The only version of the key-marker's key is at or before any version
    // marker: the page starts after that key either way.
    let page = s3.store.list(
        bucket,
        &prefix,
        p.delimiter.as_deref(),
        p.marker.as_deref(),
        max,
    );
    let owner = canonical_user_id(&b.owner);
    let mut w = XmlWriter::with_declaration();
    w.reserve(page.entries.len() * 256);
    w.start_ns("ListVersionsResult", NS);
    w.elem("Name", bucket).elem("Prefix", &enc(url, &prefix));
    w.elem(
        "KeyMarker",
        &enc(url, p.marker.as_deref().unwrap_or_default()),
    );
    w.elem(
        "VersionIdMarker",
        version_id_marker.as_deref().unwrap_or_default(),
    );
    if page.truncated
        && let Some(last) = &page.last
    {
        w.elem("NextKeyMarker", &enc(url, last))
            .elem("NextVersionIdMarker", "null");
    }
    listing_settings(&mut w, max, &p, url, page.truncated);
    let mut prefixes = Vec::new();
    for e in &page.entries {
        match e {
            ListEntry::Object(m) => {
                w.start("Version")
                    .elem("Key", &enc(url, &m.key))
                    .elem("VersionId", "null")
                    .elem("IsLatest", "true")
                    .elem("LastModified", &iso8601_ms(m.last_modified_ms))
                    .elem("ETag", &quoted(&m.etag))
                    .elem("Size", &m.size.to_string())
                    .elem("StorageClass", "STANDARD")
                    .start("Owner")
                    .elem("ID", &owner)
                    .end("Owner")
                    .end("Version");
            }
            ListEntry::Prefix(cp) => prefixes.push(cp.clone()),
        }
    }
    common_prefixes(&mut w, &prefixes, url);
    w.end("ListVersionsResult");
    Ok(xml_response(w.finish()))
}
