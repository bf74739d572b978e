//! Objects: put, copy, get and head (ranges, preconditions, overrides), batch delete.

use super::*;
use crate::error::S3Code;
use futures_util::StreamExt as _;

/// Headers stored with an object and returned on GET/HEAD.
pub(super) const STORED_HEADERS: [&str; 5] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// A `Content-Encoding` without `aws-chunked`: that is transport framing,
/// not the object's encoding.
pub(super) fn without_aws_chunked(v: &str) -> String {
    v.split(',')
        .map(str::trim)
        .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// Content type, stored headers and user metadata from a PUT-like request.
pub(super) fn object_template(cx: &Cx<'_>, key: &str) -> S3Result<ObjectMeta> {
    let mut headers = Vec::new();
    for h in STORED_HEADERS {
        if let Some(v) = cx.header(h) {
            let v = if h == "content-encoding" {
                without_aws_chunked(v)
            } else {
                v.to_string()
            };
            if !v.is_empty() {
                headers.push((h.to_string(), v));
            }
        }
    }
    let mut user_meta = Vec::new();
    let mut size = 0;
    for (name, value) in cx.headers {
        if let Some(n) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            size += n.len() + v.len();
            user_meta.push((n.to_string(), v));
        }
    }
    if size > MAX_USER_META {
        return Err(S3Error::new(
            S3Code::MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size.",
        )
        .with("Size", size.to_string())
        .with("MaxSizeAllowed", MAX_USER_META.to_string()));
    }
    let tags = match cx.header("x-amz-tagging") {
        Some(t) => authz::parse_tagging_header(t)?,
        None => Vec::new(),
    };
    Ok(ObjectMeta {
        key: key.to_string(),
        size: 0,
        etag: String::new(),
        last_modified_ms: 0,
        content_type: cx
            .header("content-type")
            .unwrap_or("binary/octet-stream")
            .to_string(),
        headers,
        user_meta,
        tags,
        parts: None,
        checksum: None,
        data: String::new(),
    })
}

/// Bodies up to this size are gathered in memory and written in one trip
/// to the blocking pool; larger ones stream into their temp file.
const GATHER: usize = 256 * 1024;

/// Receives the body into a temp file; returns it with the hex MD5, size
/// and verified checksum.
pub(super) async fn receive(
    s3: &S3,
    cx: &Cx<'_>,
    body: Body,
) -> S3Result<(TempFile, String, u64, Option<(String, String)>)> {
    let mut reader = BodyReader::new(body, cx.auth.verified, cx.headers, MAX_OBJECT_SIZE)?;
    let mut gathered: Vec<u8> = Vec::new();
    let mut spilled: Option<TempFile> = None;
    let mut md5 = md5::Md5::new();
    let mut size = 0u64;
    let result: S3Result<()> = async {
        while let Some(chunk) = reader.next().await? {
            md5.update(&chunk);
            size += chunk.len() as u64;
            if spilled.is_none() && gathered.len() + chunk.len() > GATHER {
                let mut tmp = s3.store.temp_file().await?;
                let written = tmp.file.write_all(&std::mem::take(&mut gathered)).await;
                spilled = Some(tmp);
                written?;
            }
            match &mut spilled {
                Some(tmp) => tmp.file.write_all(&chunk).await?,
                None => gathered.extend_from_slice(&chunk),
            }
        }
        if let Some(tmp) = &mut spilled {
            tmp.file.flush().await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        if let Some(tmp) = spilled {
            let _ = tokio::fs::remove_file(&tmp.path).await;
        }
        return Err(e);
    }
    let tmp = match spilled {
        Some(tmp) => tmp,
        None => s3.store.temp_file_with(gathered).await?,
    };
    let checksum = reader.verified_checksum().cloned();
    Ok((tmp, hex::encode(md5.finalize()), size, checksum))
}

pub(super) fn write_precondition(s3: &S3, cx: &Cx<'_>, bucket: &str, key: &str) -> S3Result<()> {
    let cur = s3.store.get(bucket, key);
    check_write(cx, key, cur.as_ref().map(|m| m.etag.as_str()))
}

/// A PUT's `If-None-Match: *` and `If-Match` against the current object's
/// ETag (`None`: no object).
pub(super) fn check_write(cx: &Cx<'_>, key: &str, current: Option<&str>) -> S3Result<()> {
    let failed = |cond: &str| {
        S3Error::new(
            S3Code::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", cond)
    };
    if let Some(v) = cx.header("if-none-match")
        && v.trim() == "*"
        && current.is_some()
    {
        return Err(failed("If-None-Match"));
    }
    if let Some(v) = cx.header("if-match") {
        match current {
            None => return Err(S3Error::no_such_key(key)),
            Some(etag) if !etag_matches(v, etag) => return Err(failed("If-Match")),
            _ => {}
        }
    }
    Ok(())
}

pub(super) async fn put_object(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    key: &str,
    body: Body,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    let mut meta = object_template(cx, key)?;
    write_precondition(s3, cx, bucket, key)?;
    let (tmp, etag, size, checksum) = receive(s3, cx, body).await?;
    if let Err(e) = write_precondition(s3, cx, bucket, key) {
        let _ = tokio::fs::remove_file(&tmp.path).await;
        return Err(e);
    }
    meta.size = size;
    meta.etag = etag;
    meta.last_modified_ms = now_ms(cx);
    meta.checksum = checksum;
    let m = commit(s3, bucket, tmp, meta).await?;
    let mut r = respond(StatusCode::OK, Body::empty());
    let h = r.headers_mut();
    set(h, "etag", &quoted(&m.etag));
    set(h, "x-amz-server-side-encryption", "AES256");
    if let Some((n, v)) = &m.checksum
        && let Ok(name) = http::HeaderName::from_bytes(n.as_bytes())
        && let Ok(v) = HeaderValue::from_str(v)
    {
        h.insert(name, v);
    }
    Ok(r)
}

pub(super) async fn commit(
    s3: &S3,
    bucket: &str,
    tmp: TempFile,
    meta: ObjectMeta,
) -> S3Result<std::sync::Arc<ObjectMeta>> {
    s3.store
        .commit_object(bucket, tmp, meta)
        .await
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                S3Error::no_such_bucket(bucket)
            } else {
                S3Error::internal(e)
            }
        })
}

/// A copy's source object, once its `x-amz-copy-source-if-*` conditions
/// hold.
pub(super) fn copy_source_object(
    s3: &S3,
    cx: &Cx<'_>,
    src_bucket: &str,
    src_key: &str,
) -> S3Result<std::sync::Arc<ObjectMeta>> {
    existing_bucket(s3, cx, src_bucket)?;
    let src = s3
        .store
        .get(src_bucket, src_key)
        .ok_or_else(|| S3Error::no_such_key(src_key))?;
    copy_source_preconditions(cx, &src)?;
    Ok(src)
}

/// The `x-amz-copy-source-if-*` conditions on the source object.
fn copy_source_preconditions(cx: &Cx<'_>, src: &ObjectMeta) -> S3Result<()> {
    let lm = src.last_modified_ms / 1000;
    let failed = || {
        S3Error::new(
            S3Code::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        )
    };
    if let Some(v) = cx.header("x-amz-copy-source-if-match")
        && !etag_matches(v, &src.etag)
    {
        return Err(failed());
    }
    if let Some(v) = cx.header("x-amz-copy-source-if-none-match")
        && etag_matches(v, &src.etag)
    {
        return Err(failed());
    }
    if let Some(t) = cx
        .header("x-amz-copy-source-if-unmodified-since")
        .and_then(http_time)
        && lm > t
    {
        return Err(failed());
    }
    if let Some(t) = cx
        .header("x-amz-copy-source-if-modified-since")
        .and_then(http_time)
        && lm <= t
    {
        return Err(failed());
    }
    Ok(())
}

pub(super) async fn copy_object(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    key: &str,
    src_bucket: &str,
    src_key: &str,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    let src = copy_source_object(s3, cx, src_bucket, src_key)?;
    let replace = directive(cx, "x-amz-metadata-directive")?;

    if bucket == src_bucket && key == src_key && !replace {
        return Err(S3Error::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let mut meta = if replace {
        object_template(cx, key)?
    } else {
        let mut m = (*src).clone();
        m.key = key.to_string();
        m
    };
    meta.tags = if directive(cx, "x-amz-tagging-directive")? {
        match cx.header("x-amz-tagging") {
            Some(t) => authz::parse_tagging_header(t)?,
            None => Vec::new(),
        }
    } else {
        src.tags.clone()
    };
    let path = s3.store.data_path(src_bucket, &src)?;
    let mut input = tokio::fs::File::open(&path)
        .await
        .map_err(|_| S3Error::no_such_key(src_key))?;
    let mut tmp = s3.store.temp_file().await?;
    if let Err(e) = tokio::io::copy(&mut input, &mut tmp.file).await {
        let _ = tokio::fs::remove_file(&tmp.path).await;
        return Err(e.into());
    }
    meta.size = src.size;
    meta.etag = src.etag.clone();
    meta.parts = src.parts;
    meta.checksum = src.checksum.clone();
    meta.last_modified_ms = now_ms(cx);
    let m = commit(s3, bucket, tmp, meta).await?;
    let mut w = XmlWriter::with_declaration();
    w.start_ns("CopyObjectResult", NS)
        .elem("LastModified", &iso8601_ms(m.last_modified_ms))
        .elem("ETag", &quoted(&m.etag))
        .end("CopyObjectResult");
    let mut r = xml_response(w.finish());
    set(r.headers_mut(), "x-amz-server-side-encryption", "AES256");
    Ok(r)
}

/// The `response-*` header overrides a GET asks for (not for anonymous
/// callers).
pub(super) fn response_overrides<'c>(cx: &'c Cx<'_>) -> S3Result<Vec<(&'static str, &'c str)>> {
    let overrides: Vec<(&str, &str)> = RESPONSE_OVERRIDES
        .iter()
        .filter_map(|(q, h)| cx.query.get(q).map(|v| (*h, v)))
        .collect();
    if !overrides.is_empty() && cx.auth.caller.is_none() {
        return Err(S3Error::invalid_request(
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
    Ok(overrides)
}

/// A GET/HEAD's conditional headers against the object: `Some(304)`, a
/// `PreconditionFailed` error, or `None` to serve it.
pub(super) fn read_precondition(
    cx: &Cx<'_>,
    etag: &str,
    last_modified_ms: i64,
) -> S3Result<Option<Resp>> {
    match evaluate_preconditions(cx.headers, etag, last_modified_ms.div_euclid(1000)) {
        Precondition::Proceed => Ok(None),
        Precondition::NotModified => {
            let mut r = respond(StatusCode::NOT_MODIFIED, Body::empty());
            set(r.headers_mut(), "etag", &quoted(etag));
            set(
                r.headers_mut(),
                "last-modified",
                &http_date(last_modified_ms),
            );
            Ok(Some(r))
        }
        Precondition::Failed(cond) => Err(S3Error::new(
            S3Code::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", cond)),
    }
}

/// A `COPY`/`REPLACE` directive header of CopyObject: whether it says
/// `REPLACE`.
pub(super) fn directive(cx: &Cx<'_>, name: &str) -> S3Result<bool> {
    match cx.header(name).unwrap_or("COPY") {
        "COPY" => Ok(false),
        "REPLACE" => Ok(true),
        other => Err(S3Error::invalid_argument(
            if name == "x-amz-metadata-directive" {
                "Unknown metadata directive."
            } else {
                "Unknown tagging directive."
            },
            name,
            other,
        )),
    }
}

/// Whether an `If-Match`/`If-None-Match` value (a list of entity tags, or
/// `*`) names `etag`.
pub fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').any(|t| {
        let t = t.trim();
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || t.trim_matches('"') == etag
    })
}

pub(super) fn http_time(s: &str) -> Option<i64> {
    podiam_sigv4::parse_http_date(s.trim()).map(|t| t.unix_timestamp())
}

/// The outcome of GET/HEAD conditional headers (RFC 7232 as S3 applies it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the object.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed, naming the header.
    Failed(&'static str),
}

/// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and
/// `If-Modified-Since` against an object (`last_modified` in epoch seconds).
pub fn evaluate_preconditions(h: &HeaderMap, etag: &str, last_modified: i64) -> Precondition {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    let if_match = get("if-match");
    if let Some(v) = if_match {
        if !etag_matches(v, etag) {
            return Precondition::Failed("If-Match");
        }
    } else if let Some(t) = get("if-unmodified-since").and_then(http_time)
        && last_modified > t
    {
        return Precondition::Failed("If-Unmodified-Since");
    }
    if let Some(v) = get("if-none-match") {
        if etag_matches(v, etag) {
            return Precondition::NotModified;
        }
    } else if let Some(t) = get("if-modified-since").and_then(http_time)
        && last_modified <= t
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// A parsed `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// No (usable) range: the whole object.
    Full,
    /// Bytes `start..=end`.
    Partial(u64, u64),
    /// Outside the object: 416 InvalidRange.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` for an object of `size`
/// bytes. Syntactically invalid or multi-range headers are ignored, as S3
/// does.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeSpec {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Full;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (a.trim(), b.trim()) {
        ("", n) => match num(n) {
            None => RangeSpec::Full,
            Some(0) => RangeSpec::Unsatisfiable,
            Some(_) if size == 0 => RangeSpec::Unsatisfiable,
            Some(n) => RangeSpec::Partial(size.saturating_sub(n), size - 1),
        },
        (a, "") => match num(a) {
            None => RangeSpec::Full,
            Some(a) if a >= size => RangeSpec::Unsatisfiable,
            Some(a) => RangeSpec::Partial(a, size - 1),
        },
        (a, b) => match (num(a), num(b)) {
            (Some(a), Some(b)) if a <= b => {
                if a >= size {
                    RangeSpec::Unsatisfiable
                } else {
                    RangeSpec::Partial(a, b.min(size - 1))
                }
            }
            _ => RangeSpec::Full,
        },
    }
}

pub(super) fn object_headers(h: &mut HeaderMap, m: &ObjectMeta) {
    set(h, "etag", &quoted(&m.etag));
    set(h, "last-modified", &http_date(m.last_modified_ms));
    set(h, "content-type", &m.content_type);
    set(h, "accept-ranges", "bytes");
    set(h, "x-amz-server-side-encryption", "AES256");
    for (k, v) in &m.headers {
        if let Ok(n) = http::HeaderName::from_bytes(k.as_bytes())
            && let Ok(v) = HeaderValue::from_str(v)
        {
            h.insert(n, v);
        }
    }
    for (k, v) in &m.user_meta {
        if let Ok(n) = http::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes())
            && let Ok(v) = HeaderValue::from_bytes(v.as_bytes())
        {
            h.insert(n, v);
        }
    }
    if !m.tags.is_empty() {
        set(h, "x-amz-tagging-count", &m.tags.len().to_string());
    }
    if let Some(n) = m.parts {
        set(h, "x-amz-mp-parts-count", &n.to_string());
    }
}

pub(super) const RESPONSE_OVERRIDES: [(&str, &str); 6] = [
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

/// Objects up to this size are read whole, in one trip to the blocking
/// pool: a `tokio::fs::File` costs one per open and one per read.
const READ_WHOLE: u64 = 256 * 1024;

/// Objects up to this size are read where the request runs: a few
/// microseconds of page-cache reads cost less than the two thread hand-offs
/// of a trip to the blocking pool.
const READ_INLINE: u64 = 16 * 1024;

/// An object's data, as a GET sends it.
enum Content {
    /// Read whole (small objects).
    Whole(bytes::Bytes),
    /// Streamed from its file.
    Stream(tokio::fs::File),
}

pub(super) async fn get_object(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    key: &str,
    head: bool,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    // Per-part reads are not supported (but part 1 of a single-part object
    // is the object); refuse rather than serve something else.
    if cx.query.get("partNumber").is_some_and(|p| p != "1") {
        return Err(S3Error::not_implemented());
    }
    let overrides = response_overrides(cx)?;
    // The data file of a superseded version may vanish between the lookup
    // and the open; look again once.
    let mut opened = None;
    for _ in 0..2 {
        let m = s3
            .store
            .get(bucket, key)
            .ok_or_else(|| S3Error::no_such_key(key))?;
        let path = s3.store.data_path(bucket, &m)?;
        if head {
            opened = Some((m, None));
            break;
        }
        if m.size <= READ_WHOLE {
            let read = if m.size <= READ_INLINE {
                std::fs::read(&path).ok()
            } else {
                tokio::task::spawn_blocking(move || std::fs::read(path))
                    .await
                    .ok()
                    .and_then(Result::ok)
            };
            if let Some(data) = read.filter(|d| d.len() as u64 == m.size) {
                opened = Some((m, Some(Content::Whole(bytes::Bytes::from(data)))));
                break;
            }
        } else if let Ok(f) = tokio::fs::File::open(&path).await {
            opened = Some((m, Some(Content::Stream(f))));
            break;
        }
    }
    let (m, file) = opened.ok_or_else(|| S3Error::no_such_key(key))?;
    if let Some(not_modified) = read_precondition(cx, &m.etag, m.last_modified_ms)? {
        return Ok(not_modified);
    }
    let range = parse_range(cx.header("range"), m.size);
    let (status, start, len) = match range {
        RangeSpec::Full => (StatusCode::OK, 0, m.size),
        RangeSpec::Partial(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        RangeSpec::Unsatisfiable => {
            return Err(S3Error::new(
                S3Code::InvalidRange,
                "The requested range is not satisfiable",
            )
            .with("RangeRequested", cx.header("range").unwrap_or_default())
            .with("ActualObjectSize", m.size.to_string()));
        }
    };
    let body = match file {
        // Within the object, which is at most READ_WHOLE bytes.
        Some(Content::Whole(data)) => {
            Body::from(data.slice(start as usize..(start + len) as usize))
        }
        Some(Content::Stream(mut f)) => {
            if start > 0 {
                f.seek(std::io::SeekFrom::Start(start)).await?;
            }
            let stream = tokio_util::io::ReaderStream::with_capacity(f.take(len), 64 * 1024);
            Body::from_stream(stream)
        }
        None => Body::empty(),
    };
    let mut r = respond(status, body);
    let h = r.headers_mut();
    object_headers(h, &m);
    set(h, "content-length", &len.to_string());
    if status == StatusCode::PARTIAL_CONTENT {
        set(
            h,
            "content-range",
            &format!("bytes {start}-{}/{}", start + len - 1, m.size),
        );
    }
    if status == StatusCode::OK
        && cx.header("x-amz-checksum-mode") == Some("ENABLED")
        && let Some((n, v)) = &m.checksum
        && let Ok(name) = http::HeaderName::from_bytes(n.as_bytes())
        && let Ok(v) = HeaderValue::from_str(v)
    {
        h.insert(name, v);
    }
    for (name, v) in overrides {
        if let Ok(n) = http::HeaderName::from_bytes(name.as_bytes())
            && let Ok(v) = HeaderValue::from_str(v)
        {
            h.insert(n, v);
        }
    }
    Ok(r)
}

pub(super) async fn delete_objects(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    body: Body,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    let raw = body_of(cx, body).await?;
    let (quiet, keys) = crate::xml::parse_delete(&raw)?;
    // Decided key by key, then deleted a few at a time (a backend store
    // answers each over the network), reported in the request's order.
    let outcomes: Vec<(crate::xml::DeleteEntry, S3Result<()>)> =
        futures_util::stream::iter(keys.into_iter().map(|(key, version)| {
            let allowed = s3.authorize(
                cx,
                &authz::delete_object_check(bucket, &key, version.as_deref()),
            );
            async move {
                let done = match allowed {
                    Err(e) => Err(e),
                    Ok(()) if names_a_version(version.as_deref()) => {
                        Err(S3Error::not_implemented())
                    }
                    Ok(()) => delete_one(s3, bucket, &key).await,
                };
                ((key, version), done)
            }
        }))
        .buffered(16)
        .collect()
        .await;
    let mut w = XmlWriter::with_declaration();
    w.start_ns("DeleteResult", NS);
    for ((key, version), done) in outcomes {
        match done {
            Ok(()) => {
                if !quiet {
                    w.start("Deleted").elem("Key", &key);
                    if let Some(v) = &version {
                        w.elem("VersionId", v);
                    }
                    w.end("Deleted");
                }
            }
            Err(e) => {
                w.start("Error").elem("Key", &key);
                if let Some(v) = &version {
                    w.elem("VersionId", v);
                }
                w.elem("Code", e.code.as_str())
                    .elem("Message", &e.message)
                    .end("Error");
            }
        }
    }
    w.end("DeleteResult");
    Ok(xml_response(w.finish()))
}

async fn delete_one(s3: &S3, bucket: &str, key: &str) -> S3Result<()> {
    match &s3.backend {
        Some(be) => be.delete_object(bucket, key).await,
        None => s3
            .store
            .delete(bucket, key)
            .await
            .map(drop)
            .map_err(S3Error::internal),
    }
}
