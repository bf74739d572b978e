//! Object operations on a backend store ([`crate::backend`]): podiam has
//! decided the request and validated what it validates for its own store
//! (metadata, tags, directives, listing parameters); the backend performs
//! it. Bucket records stay podiam's; bucket creation and deletion reach the
//! backend from [`super::bucket`].

use super::*;
use crate::backend::{Backend, Outgoing, TAGS_META, decode_tags, encode_tags};
use http::Method;
use hyper::body::Incoming;

/// Request headers an operation hands on: content headers, user metadata,
/// conditions, ranges, copy sources and directives, checksums, SSE-C.
fn forwarded(cx: &Cx<'_>) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in cx.headers {
        let n = name.as_str();
        let keep = matches!(
            n,
            "content-type"
                | "content-md5"
                | "range"
                | "if-match"
                | "if-none-match"
                | "if-modified-since"
                | "if-unmodified-since"
                | "x-amz-metadata-directive"
                | "x-amz-checksum-algorithm"
                | "x-amz-checksum-mode"
                | "x-amz-website-redirect-location"
        ) || STORED_HEADERS.contains(&n)
            || (n.starts_with("x-amz-meta-") && n != TAGS_META)
            || n.starts_with("x-amz-copy-source-if-")
            || n.starts_with("x-amz-server-side-encryption-customer-")
            || n.starts_with("x-amz-copy-source-server-side-encryption-customer-")
            || (n.starts_with("x-amz-checksum-") && n != "x-amz-checksum-type");
        if keep {
            out.append(name.clone(), value.clone());
        }
    }
    // aws-chunked is podiam's framing with its caller, not the object's.
    if let Some(enc) = cx.header("content-encoding") {
        out.remove(header::CONTENT_ENCODING);
        if let Ok(v) = HeaderValue::from_str(&without_aws_chunked(enc))
            && !v.is_empty()
        {
            out.insert(header::CONTENT_ENCODING, v);
        }
    }
    out
}

/// The caller's query without its presigning parameters and the SDKs'
/// `x-id` marker: the backend request is signed anew.
fn forwarded_query(cx: &Cx<'_>) -> String {
    cx.raw_query
        .unwrap_or("")
        .split('&')
        .filter(|kv| {
            let name = kv.split('=').next().unwrap_or("");
            !name.is_empty() && !name.to_ascii_lowercase().starts_with("x-amz-") && name != "x-id"
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn with_tags(h: &mut HeaderMap, tags: &[(String, String)]) {
    h.remove(TAGS_META);
    if !tags.is_empty()
        && let Ok(v) = HeaderValue::from_str(&encode_tags(tags))
    {
        h.insert(TAGS_META, v);
    }
}

/// The backend's answer with its status, headers (not its request ids, and
/// the tags as their count) and streamed body.
fn relay(resp: Response<Incoming>) -> Resp {
    let (parts, body) = resp.into_parts();
    let mut r = respond(parts.status, Body::new(body));
    let h = r.headers_mut();
    for (name, value) in &parts.headers {
        let n = name.as_str();
        let drop = matches!(
            n,
            "x-amz-request-id" | "x-amz-id-2" | "server" | "date" | "connection" | "keep-alive"
                | "transfer-encoding"
                // podiam's buckets are unversioned; the backend's may not be.
                | "x-amz-version-id" | "x-amz-copy-source-version-id"
        ) || n.starts_with("x-garage-");
        if n == TAGS_META {
            let count = decode_tags(value.to_str().unwrap_or("")).len();
            set(h, "x-amz-tagging-count", &count.to_string());
        } else if !drop {
            h.append(name.clone(), value.clone());
        }
    }
    r
}

/// An XML answer read whole, with every `<Owner>` and `<Initiator>` naming
/// the bucket owner's canonical user (the backend only knows its own key),
/// then `edit`ed.
async fn relay_owned(
    be: &Backend,
    resp: Response<Incoming>,
    owner: &str,
    edit: impl FnOnce(String) -> String,
) -> S3Result<Resp> {
    let (parts, body) = resp.into_parts();
    let raw = be.read(body).await?;
    let text = String::from_utf8_lossy(&raw);
    let id = canonical_user_id(owner);
    let mut out = text.into_owned();
    for el in ["Owner", "Initiator"] {
        out = replace_elements(&out, el, &format!("<ID>{id}</ID>"));
    }
    let mut r = xml_response(edit(out));
    *r.status_mut() = parts.status;
    Ok(r)
}

/// `xml` with the content of each `<el>…</el>` replaced by `inner`.
fn replace_elements(xml: &str, el: &str, inner: &str) -> String {
    let (open, close) = (format!("<{el}>"), format!("</{el}>"));
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push_str(&rest[..i + open.len()]);
        out.push_str(inner);
        rest = &after[j..];
    }
    out.push_str(rest);
    out
}

async fn list(
    s3: &S3,
    be: &Backend,
    cx: &Cx<'_>,
    bucket: &str,
    params: &ListParams,
    q: &str,
    owners: bool,
) -> S3Result<Resp> {
    let b = existing_bucket(s3, cx, bucket)?;
    parse_max(&params.max_keys, "max-keys", 1000)?;
    let url = list_encoding(params)?;
    let resp = be.bare(Method::GET, bucket, None, q).await?;
    let xml = |text: String| {
        let text = if owners && !text.contains("<Owner>") {
            let id = canonical_user_id(&b.owner);
            text.replace(
                "</Contents>",
                &format!("<Owner><ID>{id}</ID></Owner></Contents>"),
            )
        } else {
            text
        };
        if url {
            // S3 leaves `/` as it is in URL-encoded listings; some stores
            // do not. `%2F` cannot stand for anything else (`%` is `%25`).
            text.replace("%2F", "/").replace("%2f", "/")
        } else {
            text
        }
    };
    relay_owned(be, resp, &b.owner, xml).await
}

/// Every part of an upload, as the backend lists them.
async fn uploaded_parts(
    be: &Backend,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> S3Result<Vec<Part>> {
    let mut parts = Vec::new();
    let mut marker = 0u32;
    loop {
        let q = format!(
            "uploadId={}&part-number-marker={marker}",
            podiam_sigv4::encode::uri_encode(upload_id.as_bytes(), true)
        );
        let resp = be.bare(Method::GET, bucket, Some(key), &q).await?;
        let raw = be.read(resp.into_body()).await?;
        let root = crate::xml::parse(&raw)?;
        for p in root.all("Part") {
            let number = p.text_of("PartNumber").and_then(|n| n.trim().parse().ok());
            let size = p.text_of("Size").and_then(|n| n.trim().parse().ok());
            let (Some(number), Some(size)) = (number, size) else {
                continue;
            };
            parts.push(Part {
                number,
                etag: p
                    .text_of("ETag")
                    .unwrap_or("")
                    .trim()
                    .trim_matches('"')
                    .to_string(),
                size,
                last_modified_ms: 0,
                data: String::new(),
            });
        }
        let next = root
            .text_of("NextPartNumberMarker")
            .and_then(|n| n.trim().parse().ok())
            .filter(|n| *n > marker);
        match (root.text_of("IsTruncated").map(str::trim), next) {
            (Some("true"), Some(n)) => marker = n,
            _ => return Ok(parts),
        }
    }
}

/// The caller's body as the backend's: decoded, verified, streamed.
fn upload(cx: &Cx<'_>, body: Body) -> S3Result<Outgoing> {
    let reader = BodyReader::new(body, cx.auth.verified, cx.headers, MAX_OBJECT_SIZE)?;
    let length = reader.declared_length();
    let trailer = cx
        .header("x-amz-trailer")
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| t.starts_with("x-amz-checksum-"))
        .and_then(|t| http::HeaderName::from_bytes(t.as_bytes()).ok());
    Ok(Outgoing::Stream {
        reader: Box::new(reader),
        length,
        trailer,
    })
}

/// The tags of `bucket`/`key` on the backend.
pub(crate) async fn object_tags(
    be: &Backend,
    bucket: &str,
    key: &str,
) -> S3Result<Vec<(String, String)>> {
    let head = be.bare(Method::HEAD, bucket, Some(key), "").await?;
    Ok(head
        .headers()
        .get(TAGS_META)
        .and_then(|v| v.to_str().ok())
        .map(decode_tags)
        .unwrap_or_default())
}

/// Rewrites an object's tags in place: a copy onto itself that keeps its
/// content and metadata (the backend may have no tagging of its own).
async fn retag(be: &Backend, bucket: &str, key: &str, tags: &[(String, String)]) -> S3Result<()> {
    let head = be.bare(Method::HEAD, bucket, Some(key), "").await?;
    let mut h = stored_metadata(head.headers());
    with_tags(&mut h, tags);
    h.insert(
        "x-amz-metadata-directive",
        HeaderValue::from_static("REPLACE"),
    );
    copy_source(&mut h, bucket, key)?;
    // Only if the object is the one just read: a concurrent PUT wins.
    if let Some(etag) = head.headers().get(header::ETAG) {
        h.insert("x-amz-copy-source-if-match", etag.clone());
    }
    be.send(Method::PUT, bucket, Some(key), "", h, Outgoing::Empty)
        .await?;
    Ok(())
}

/// The ETag of an answer, without quotes.
fn etag_of(h: &HeaderMap) -> String {
    h.get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim_matches('"')
        .to_string()
}

/// An object's metadata as a HEAD answer gives it, as request headers.
fn stored_metadata(head: &HeaderMap) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in head {
        let n = name.as_str();
        if n == "content-type"
            || STORED_HEADERS.contains(&n)
            || (n.starts_with("x-amz-meta-") && n != TAGS_META)
        {
            h.append(name.clone(), value.clone());
        }
    }
    h
}

/// The headers of a new object (PUT, multipart): podiam's metadata and tag
/// checks, then the caller's headers with the tags as metadata.
fn new_object(s3: &S3, cx: &Cx<'_>, bucket: &str, key: &str) -> S3Result<HeaderMap> {
    existing_bucket(s3, cx, bucket)?;
    let template = object_template(cx, key)?;
    let mut h = forwarded(cx);
    with_tags(&mut h, &template.tags);
    Ok(h)
}

/// The headers a copy forwards, naming its source, once both buckets are
/// known to exist.
fn copy_headers(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    source_bucket: &str,
    source_key: &str,
) -> S3Result<HeaderMap> {
    existing_bucket(s3, cx, bucket)?;
    existing_bucket(s3, cx, source_bucket)?;
    let mut h = forwarded(cx);
    copy_source(&mut h, source_bucket, source_key)?;
    Ok(h)
}

fn copy_source(h: &mut HeaderMap, bucket: &str, key: &str) -> S3Result<()> {
    let v = format!(
        "/{bucket}/{}",
        podiam_sigv4::encode::uri_encode(key.as_bytes(), false)
    );
    h.insert(
        "x-amz-copy-source",
        HeaderValue::from_str(&v).map_err(S3Error::internal)?,
    );
    Ok(())
}

fn tagging(xml: Vec<(String, String)>) -> Resp {
    let mut w = XmlWriter::with_declaration();
    w.start_ns("Tagging", NS).start("TagSet");
    for (k, v) in &xml {
        w.start("Tag").elem("Key", k).elem("Value", v).end("Tag");
    }
    w.end("TagSet").end("Tagging");
    xml_response(w.finish())
}

pub(super) async fn execute(
    s3: &S3,
    be: &Backend,
    cx: &Cx<'_>,
    req: S3Request,
    body: Body,
) -> S3Result<Resp> {
    use S3Request as R;
    // A named version reaches the store only where podiam decides and acts
    // on that same version: reads and deletes. Tagging and copies act on the
    // current object here, so a version other than `null` is refused.
    let acts_on_current = matches!(
        req,
        R::GetObjectTagging { .. }
            | R::PutObjectTagging { .. }
            | R::DeleteObjectTagging { .. }
            | R::CopyObject { .. }
            | R::UploadPartCopy { .. }
    );
    if acts_on_current
        && (names_a_version(cx.query.get("versionId"))
            || names_a_version(authz::copy_source_version(cx.headers)))
    {
        return Err(S3Error::not_implemented());
    }
    let q = forwarded_query(cx);
    match req {
        R::PutObject { bucket, key } => {
            let h = new_object(s3, cx, &bucket, &key)?;
            if cx.header("if-none-match").is_some() || cx.header("if-match").is_some() {
                // Stores without conditional writes (Garage) ignore these
                // headers: podiam checks them first. Only a store that
                // applies them itself makes the check atomic.
                let current = match be.bare(Method::HEAD, &bucket, Some(&key), "").await {
                    Ok(r) => Some(etag_of(r.headers())),
                    Err(e) if e.code == S3Code::NoSuchKey => None,
                    Err(e) => return Err(e),
                };
                check_write(cx, &key, current.as_deref())?;
            }
            let out = upload(cx, body)?;
            Ok(relay(
                be.send(Method::PUT, &bucket, Some(&key), "", h, out)
                    .await?,
            ))
        }
        R::CreateMultipartUpload { bucket, key } => {
            let h = new_object(s3, cx, &bucket, &key)?;
            let resp = be
                .send(Method::POST, &bucket, Some(&key), &q, h, Outgoing::Empty)
                .await?;
            Ok(relay(resp))
        }
        R::UploadPart { bucket, key, .. } => {
            existing_bucket(s3, cx, &bucket)?;
            let out = upload(cx, body)?;
            let h = forwarded(cx);
            Ok(relay(
                be.send(Method::PUT, &bucket, Some(&key), &q, h, out)
                    .await?,
            ))
        }
        R::UploadPartCopy {
            bucket,
            key,
            source_bucket,
            source_key,
            ..
        } => {
            let mut h = copy_headers(s3, cx, &bucket, &source_bucket, &source_key)?;
            if let Some(range) = cx.headers.get("x-amz-copy-source-range") {
                h.insert("x-amz-copy-source-range", range.clone());
            }
            let resp = be
                .send(Method::PUT, &bucket, Some(&key), &q, h, Outgoing::Empty)
                .await?;
            Ok(relay(resp))
        }
        R::GetObject { bucket, key } | R::HeadObject { bucket, key } => {
            existing_bucket(s3, cx, &bucket)?;
            response_overrides(cx)?;
            // Dates are compared here, to the second as S3 does (stores may
            // compare milliseconds); entity tags there and here alike.
            let mut h = forwarded(cx);
            h.remove(header::IF_MODIFIED_SINCE);
            h.remove(header::IF_UNMODIFIED_SINCE);
            let resp = be
                .send(
                    cx.method.clone(),
                    &bucket,
                    Some(&key),
                    &q,
                    h,
                    Outgoing::Empty,
                )
                .await;
            match resp {
                Ok(r) if r.status().is_success() => {
                    let etag = etag_of(r.headers());
                    let modified = r
                        .headers()
                        .get(header::LAST_MODIFIED)
                        .and_then(|v| v.to_str().ok())
                        .and_then(http_time)
                        .unwrap_or(0);
                    match read_precondition(cx, &etag, modified * 1000)? {
                        Some(not_modified) => Ok(not_modified),
                        None => Ok(relay(r)),
                    }
                }
                Ok(r) => Ok(relay(r)),
                Err(mut e) if e.code == S3Code::NoSuchKey => {
                    e.extra = vec![("Key", key)];
                    Err(e)
                }
                Err(e) => Err(e),
            }
        }
        R::DeleteObject { bucket, key } | R::AbortMultipartUpload { bucket, key, .. } => {
            existing_bucket(s3, cx, &bucket)?;
            let resp = be.bare(Method::DELETE, &bucket, Some(&key), &q).await?;
            Ok(relay(resp))
        }
        R::CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
        } => {
            existing_bucket(s3, cx, &bucket)?;
            let raw = body_of(cx, body).await?;
            // S3's rules on the parts named, which not every store applies.
            let wanted = crate::xml::parse_complete(&raw)?;
            let parts = uploaded_parts(be, &bucket, &key, &upload_id).await?;
            choose_parts(&upload_id, &wanted, &parts)?;
            let resp = be
                .send(
                    Method::POST,
                    &bucket,
                    Some(&key),
                    &q,
                    HeaderMap::new(),
                    Outgoing::Bytes(raw.into()),
                )
                .await?;
            Ok(relay(resp))
        }
        R::CopyObject {
            bucket,
            key,
            source_bucket,
            source_key,
        } => {
            let mut h = copy_headers(s3, cx, &bucket, &source_bucket, &source_key)?;
            let replace_meta = directive(cx, "x-amz-metadata-directive")?;
            let replace_tags = directive(cx, "x-amz-tagging-directive")?;
            if bucket == source_bucket && key == source_key && !replace_meta {
                return Err(S3Error::invalid_request(
                    "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
                ));
            }
            let new_tags = match cx.header("x-amz-tagging") {
                Some(t) if replace_tags => authz::parse_tagging_header(t)?,
                _ => Vec::new(),
            };
            match (replace_meta, replace_tags) {
                // The source's metadata carries its tags along.
                (false, false) => {}
                (true, true) => {
                    object_template(cx, &key)?;
                    with_tags(&mut h, &new_tags);
                }
                (true, false) => {
                    object_template(cx, &key)?;
                    let tags = object_tags(be, &source_bucket, &source_key).await?;
                    with_tags(&mut h, &tags);
                }
                (false, true) => {
                    // New tags on the source's metadata: read it, send it back.
                    let head = be
                        .bare(Method::HEAD, &source_bucket, Some(&source_key), "")
                        .await?;
                    h.extend(stored_metadata(head.headers()));
                    h.insert(
                        "x-amz-metadata-directive",
                        HeaderValue::from_static("REPLACE"),
                    );
                    with_tags(&mut h, &new_tags);
                }
            }
            let resp = be
                .send(Method::PUT, &bucket, Some(&key), "", h, Outgoing::Empty)
                .await?;
            Ok(relay(resp))
        }
        R::ListObjectsV2 { bucket, params } => {
            list(s3, be, cx, &bucket, &params, &q, params.fetch_owner).await
        }
        R::ListObjects { bucket, params } => list(s3, be, cx, &bucket, &params, &q, true).await,
        R::ListMultipartUploads { bucket, .. } | R::ListObjectVersions { bucket, .. } => {
            let b = existing_bucket(s3, cx, &bucket)?;
            let resp = be.bare(Method::GET, &bucket, None, &q).await?;
            relay_owned(be, resp, &b.owner, |x| x).await
        }
        R::ListParts { bucket, key, .. } => {
            let b = existing_bucket(s3, cx, &bucket)?;
            let resp = be.bare(Method::GET, &bucket, Some(&key), &q).await?;
            relay_owned(be, resp, &b.owner, |x| x).await
        }
        R::GetObjectTagging { bucket, key } => {
            existing_bucket(s3, cx, &bucket)?;
            Ok(tagging(object_tags(be, &bucket, &key).await?))
        }
        R::PutObjectTagging { bucket, key } => {
            existing_bucket(s3, cx, &bucket)?;
            let raw = body_of(cx, body).await?;
            let tags = crate::xml::parse_tagging(&raw)?;
            retag(be, &bucket, &key, &tags).await?;
            Ok(respond(StatusCode::OK, Body::empty()))
        }
        R::DeleteObjectTagging { bucket, key } => {
            existing_bucket(s3, cx, &bucket)?;
            retag(be, &bucket, &key, &[]).await?;
            Ok(no_content())
        }
        other => local(s3, cx, other, body).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_rewritten_in_place() {
        let xml = "<R><Contents><Key>a</Key><Owner><ID>garage</ID><DisplayName>x</DisplayName></Owner></Contents><Owner><ID>y</ID></Owner><Owner></R>";
        assert_eq!(
            replace_elements(xml, "Owner", "<ID>me</ID>"),
            "<R><Contents><Key>a</Key><Owner><ID>me</ID></Owner></Contents><Owner><ID>me</ID></Owner><Owner></R>"
        );
    }
}
