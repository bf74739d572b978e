//! Multipart uploads: create, parts, complete, abort, and their listings.

use super::*;
use crate::error::S3Code;

pub(super) fn create_upload(s3: &S3, cx: &Cx<'_>, bucket: &str, key: &str) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    let template = object_template(cx, key)?;
    let mut raw = [0u8; 24];
    cx.svc.rng.fill(&mut raw);
    let id = hex::encode(raw);
    let initiator = cx
        .auth
        .caller
        .as_ref()
        .map(|c| c.arn())
        .unwrap_or_else(|| "anonymous".into());
    s3.store.create_upload(Upload {
        id: id.clone(),
        bucket: bucket.to_string(),
        key: key.to_string(),
        initiated_ms: now_ms(cx),
        initiator,
        template,
    })?;
    let mut w = XmlWriter::with_declaration();
    w.start_ns("InitiateMultipartUploadResult", NS)
        .elem("Bucket", bucket)
        .elem("Key", key)
        .elem("UploadId", &id)
        .end("InitiateMultipartUploadResult");
    let mut r = xml_response(w.finish());
    set(r.headers_mut(), "x-amz-server-side-encryption", "AES256");
    Ok(r)
}

pub(super) fn upload_for(
    s3: &S3,
    bucket: &str,
    key: &str,
    id: &str,
) -> S3Result<std::sync::Arc<Upload>> {
    if !crate::store::valid_upload_id(id) {
        return Err(S3Error::no_such_upload(id));
    }
    s3.store
        .upload(id)
        .filter(|u| u.bucket == bucket && u.key == key)
        .ok_or_else(|| S3Error::no_such_upload(id))
}

pub(super) async fn upload_part(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    key: &str,
    id: &str,
    number: &str,
    body: Body,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    let n = part_number(number)?;
    upload_for(s3, bucket, key, id)?;
    let (tmp, etag, size, checksum) = receive(s3, cx, body).await?;
    let part = s3
        .store
        .commit_part(id, n, tmp, etag, size)
        .await?
        .ok_or_else(|| S3Error::no_such_upload(id))?;
    let mut r = respond(StatusCode::OK, Body::empty());
    set(r.headers_mut(), "etag", &quoted(&part.etag));
    set(r.headers_mut(), "x-amz-server-side-encryption", "AES256");
    if let Some((n, v)) = checksum
        && let Ok(name) = http::HeaderName::from_bytes(n.as_bytes())
        && let Ok(v) = HeaderValue::from_str(&v)
    {
        r.headers_mut().insert(name, v);
    }
    Ok(r)
}

fn part_number(number: &str) -> S3Result<u32> {
    number
        .parse()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
                "partNumber",
                number,
            )
        })
}

/// UploadPartCopy: a part cut from an existing object, whole or the
/// `x-amz-copy-source-range` of it.
pub(super) async fn upload_part_copy(
    s3: &S3,
    cx: &Cx<'_>,
    (bucket, key, id): (&str, &str, &str),
    number: &str,
    src_bucket: &str,
    src_key: &str,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    let n = part_number(number)?;
    upload_for(s3, bucket, key, id)?;
    let src = copy_source_object(s3, cx, src_bucket, src_key)?;
    let (start, len) = match cx.header("x-amz-copy-source-range") {
        None => (0, src.size),
        Some(r) => copy_range(r, src.size)?,
    };
    if len > MAX_OBJECT_SIZE {
        return Err(S3Error::invalid_request(
            "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
        ));
    }
    let path = s3.store.data_path(src_bucket, &src)?;
    let mut input = tokio::fs::File::open(&path)
        .await
        .map_err(|_| S3Error::no_such_key(src_key))?;
    input.seek(std::io::SeekFrom::Start(start)).await?;
    let mut input = input.take(len);
    let mut tmp = s3.store.temp_file().await?;
    let mut md5 = md5::Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    let copied: std::io::Result<()> = async {
        loop {
            let got = input.read(&mut buf).await?;
            if got == 0 {
                break;
            }
            md5.update(&buf[..got]);
            tmp.file.write_all(&buf[..got]).await?;
        }
        tmp.file.flush().await
    }
    .await;
    if let Err(e) = copied {
        let _ = tokio::fs::remove_file(&tmp.path).await;
        return Err(e.into());
    }
    let part = s3
        .store
        .commit_part(id, n, tmp, hex::encode(md5.finalize()), len)
        .await?
        .ok_or_else(|| S3Error::no_such_upload(id))?;
    let mut w = XmlWriter::with_declaration();
    w.start_ns("CopyPartResult", NS)
        .elem("LastModified", &iso8601_ms(now_ms(cx)))
        .elem("ETag", &quoted(&part.etag))
        .end("CopyPartResult");
    let mut r = xml_response(w.finish());
    set(r.headers_mut(), "x-amz-server-side-encryption", "AES256");
    Ok(r)
}

/// `x-amz-copy-source-range: bytes=first-last`, inside the source:
/// (offset, length).
fn copy_range(v: &str, size: u64) -> S3Result<(u64, u64)> {
    let bad = || {
        S3Error::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            v,
        )
    };
    let (a, b) = v
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad());
    }
    if b >= size {
        return Err(S3Error::invalid_request(format!(
            "Range specified is not valid for source object of size: {size}"
        )));
    }
    Ok((a, b - a + 1))
}

/// The ETag of a multipart object: MD5 of the parts' binary MD5s, `-N`.
pub fn multipart_etag(part_etags: &[&str]) -> String {
    let mut md5 = md5::Md5::new();
    for e in part_etags {
        if let Ok(b) = hex::decode(e) {
            md5.update(&b);
        }
    }
    format!("{}-{}", hex::encode(md5.finalize()), part_etags.len())
}

pub(super) async fn complete_upload(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    key: &str,
    id: &str,
    body: Body,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    upload_for(s3, bucket, key, id)?;
    let raw = body_of(cx, body).await?;
    let wanted = crate::xml::parse_complete(&raw)?;
    let parts = s3.store.parts(id).await?;
    let chosen = choose_parts(id, &wanted, &parts)?;
    let total: u64 = chosen.iter().map(|p| p.size).sum();
    if total > 5 * 1024 * MAX_OBJECT_SIZE {
        return Err(S3Error::entity_too_large(total, 5 * 1024 * MAX_OBJECT_SIZE));
    }
    // Exactly one completion wins.
    let up = s3
        .store
        .take_upload(id)
        .ok_or_else(|| S3Error::no_such_upload(id))?;
    let result: S3Result<std::sync::Arc<ObjectMeta>> = async {
        let mut tmp = s3.store.temp_file().await?;
        let copied: std::io::Result<()> = async {
            for p in &chosen {
                let mut f = tokio::fs::File::open(s3.store.part_path(id, p)?).await?;
                tokio::io::copy(&mut f, &mut tmp.file).await?;
            }
            tmp.file.flush().await
        }
        .await;
        if let Err(e) = copied {
            let _ = tokio::fs::remove_file(&tmp.path).await;
            return Err(e.into());
        }
        let etags: Vec<&str> = chosen.iter().map(|p| p.etag.as_str()).collect();
        let mut meta = up.template.clone();
        meta.size = total;
        meta.etag = multipart_etag(&etags);
        meta.parts = Some(u32::try_from(chosen.len()).unwrap_or(u32::MAX));
        meta.last_modified_ms = now_ms(cx);
        commit(s3, bucket, tmp, meta).await
    }
    .await;
    let m = match result {
        Ok(m) => m,
        Err(e) => {
            s3.store.restore_upload(up);
            return Err(e);
        }
    };
    // The object is committed; the parts are garbage now.
    if let Err(e) = s3.store.abort_upload(id) {
        tracing::warn!(error = %e, upload = id, "could not remove completed upload");
    }
    let location = format!(
        "{}/{bucket}/{}",
        cx.svc.config.public_url.trim_end_matches('/'),
        podiam_sigv4::encode::uri_encode(key.as_bytes(), false)
    );
    let mut w = XmlWriter::with_declaration();
    w.start_ns("CompleteMultipartUploadResult", NS)
        .elem("Location", &location)
        .elem("Bucket", bucket)
        .elem("Key", key)
        .elem("ETag", &quoted(&m.etag))
        .end("CompleteMultipartUploadResult");
    let mut r = xml_response(w.finish());
    set(r.headers_mut(), "x-amz-server-side-encryption", "AES256");
    Ok(r)
}

pub(super) fn initiator_xml(w: &mut XmlWriter, up: &Upload, owner: &str) {
    w.start("Initiator")
        .elem("ID", &up.initiator)
        .elem("DisplayName", &up.initiator)
        .end("Initiator");
    w.start("Owner").elem("ID", owner).end("Owner");
    w.elem("StorageClass", "STANDARD");
}

pub(super) fn list_uploads(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    prefix: Option<String>,
    max_uploads: Option<String>,
    key_marker: Option<String>,
) -> S3Result<Resp> {
    let b = existing_bucket(s3, cx, bucket)?;
    let max = parse_max(&max_uploads, "max-uploads", 1000)?;
    let owner = canonical_user_id(&b.owner);
    let all: Vec<_> = s3
        .store
        .uploads_in(bucket)
        .into_iter()
        .filter(|u| prefix.as_deref().is_none_or(|p| u.key.starts_with(p)))
        .filter(|u| key_marker.as_deref().is_none_or(|m| u.key.as_str() > m))
        .collect();
    let truncated = all.len() > max;
    let page = &all[..all.len().min(max)];
    let mut w = XmlWriter::with_declaration();
    w.start_ns("ListMultipartUploadsResult", NS)
        .elem("Bucket", bucket)
        .elem("KeyMarker", key_marker.as_deref().unwrap_or_default())
        .elem("UploadIdMarker", "");
    if truncated && let Some(last) = page.last() {
        w.elem("NextKeyMarker", &last.key)
            .elem("NextUploadIdMarker", &last.id);
    }
    w.opt("Prefix", prefix.as_deref());
    w.elem("MaxUploads", &max.to_string())
        .elem("IsTruncated", if truncated { "true" } else { "false" });
    for u in page {
        w.start("Upload")
            .elem("Key", &u.key)
            .elem("UploadId", &u.id);
        initiator_xml(&mut w, u, &owner);
        w.elem("Initiated", &iso8601_ms(u.initiated_ms))
            .end("Upload");
    }
    w.end("ListMultipartUploadsResult");
    Ok(xml_response(w.finish()))
}

pub(super) async fn list_parts(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    key: &str,
    id: &str,
    max_parts: Option<String>,
    marker: Option<String>,
) -> S3Result<Resp> {
    let b = existing_bucket(s3, cx, bucket)?;
    let up = upload_for(s3, bucket, key, id)?;
    let max = parse_max(&max_parts, "max-parts", 1000)?;
    let after: u32 = match &marker {
        None => 0,
        Some(m) => m.parse().map_err(|_| {
            S3Error::invalid_argument(
                "Provided part-number-marker not an integer or within integer range",
                "part-number-marker",
                m,
            )
        })?,
    };
    let parts: Vec<Part> = s3
        .store
        .parts(id)
        .await?
        .into_iter()
        .filter(|p| p.number > after)
        .collect();
    let truncated = parts.len() > max;
    let page = &parts[..parts.len().min(max)];
    let mut w = XmlWriter::with_declaration();
    w.start_ns("ListPartsResult", NS)
        .elem("Bucket", bucket)
        .elem("Key", key)
        .elem("UploadId", id)
        .elem("PartNumberMarker", &after.to_string());
    if let Some(last) = page.last() {
        w.elem("NextPartNumberMarker", &last.number.to_string());
    }
    w.elem("MaxParts", &max.to_string())
        .elem("IsTruncated", if truncated { "true" } else { "false" });
    for p in page {
        w.start("Part")
            .elem("PartNumber", &p.number.to_string())
            .elem("LastModified", &iso8601_ms(p.last_modified_ms))
            .elem("ETag", &quoted(&p.etag))
            .elem("Size", &p.size.to_string())
            .end("Part");
    }
    initiator_xml(&mut w, &up, &canonical_user_id(&b.owner));
    w.end("ListPartsResult");
    Ok(xml_response(w.finish()))
}

/// The uploaded parts a CompleteMultipartUpload names, in order: S3's
/// order, existence (number and ETag) and minimum-size rules.
pub(super) fn choose_parts<'p>(
    id: &str,
    wanted: &[(u32, String)],
    parts: &'p [Part],
) -> S3Result<Vec<&'p Part>> {
    if wanted.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(S3Error::new(
            S3Code::InvalidPartOrder,
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        )
        .with("UploadId", id));
    }
    let mut chosen: Vec<&Part> = Vec::with_capacity(wanted.len());
    for (i, (n, etag)) in wanted.iter().enumerate() {
        let p = parts
            .iter()
            .find(|p| p.number == *n && p.etag == *etag)
            .ok_or_else(|| {
                S3Error::new(
                    S3Code::InvalidPart,
                    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                )
                .with("UploadId", id)
                .with("PartNumber", n.to_string())
                .with("ETag", etag.clone())
            })?;
        if i + 1 < wanted.len() && p.size < MIN_PART_SIZE {
            return Err(S3Error::new(
                S3Code::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed size",
            )
            .with("ProposedSize", p.size.to_string())
            .with("MinSizeAllowed", MIN_PART_SIZE.to_string())
            .with("PartNumber", n.to_string())
            .with("ETag", etag.clone()));
        }
        chosen.push(p);
    }
    Ok(chosen)
}
