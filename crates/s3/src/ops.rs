//! The operations, after authentication and authorization.

use crate::body::BodyReader;
use crate::error::{S3Error, S3Result};
use crate::router::{ListParams, S3Request};
use crate::store::{ListEntry, ObjectMeta, Part, TempFile, Upload};
use crate::xml::{NS, http_date, iso8601_ms, url_encode};
use crate::{Cx, S3, authz, canonical_user_id};
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use md5::Digest as _;
use podiam_core::xml::XmlWriter;
use podiam_policy::{Policy, PolicyKind};
use podiam_store::{Bucket, Op, StoreError};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Largest single PUT (and part): 5 GiB.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest part except the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Largest bucket policy accepted, in bytes.
const MAX_POLICY_BODY: usize = 20 * 1024;
/// Most user metadata, names plus values.
const MAX_USER_META: usize = 2048;

type Resp = Response<Body>;

fn respond(status: StatusCode, body: Body) -> Resp {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r
}

fn xml_response(body: String) -> Resp {
    let mut r = respond(StatusCode::OK, Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

fn no_content() -> Resp {
    respond(StatusCode::NO_CONTENT, Body::empty())
}

fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

fn now_ms(cx: &Cx<'_>) -> i64 {
    i64::try_from(cx.svc.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

pub(crate) async fn execute(s3: &S3, cx: &Cx<'_>, req: S3Request, body: Body) -> S3Result<Resp> {
    use S3Request as R;
    match req {
        R::ListBuckets {
            prefix,
            max_buckets,
            continuation_token,
        } => list_buckets(cx, prefix, max_buckets, continuation_token),
        R::CreateBucket { bucket } => create_bucket(s3, cx, &bucket, body).await,
        R::DeleteBucket { bucket } => delete_bucket(s3, cx, &bucket).await,
        R::HeadBucket { bucket } => {
            let b = existing_bucket(s3, cx, &bucket)?;
            let mut r = respond(StatusCode::OK, Body::empty());
            set(r.headers_mut(), "x-amz-bucket-region", &b.region);
            set(r.headers_mut(), "x-amz-access-point-alias", "false");
            Ok(r)
        }
        R::GetBucketLocation { bucket } => {
            let b = existing_bucket(s3, cx, &bucket)?;
            // us-east-1 is reported as an empty constraint.
            let region = if b.region == "us-east-1" {
                ""
            } else {
                b.region.as_str()
            };
            Ok(xml_response(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{NS}\">{}</LocationConstraint>",
                podiam_core::xml::escape(region)
            )))
        }
        R::ListObjectsV2 { bucket, params } => list_objects(s3, cx, &bucket, params, true),
        R::ListObjects { bucket, params } => list_objects(s3, cx, &bucket, params, false),
        R::ListMultipartUploads {
            bucket,
            prefix,
            max_uploads,
            key_marker,
        } => list_uploads(s3, cx, &bucket, prefix, max_uploads, key_marker),
        R::GetBucketPolicy { bucket } => {
            let b = existing_bucket(s3, cx, &bucket)?;
            match &b.policy {
                Some(p) => {
                    let mut r = respond(StatusCode::OK, Body::from(p.clone()));
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    Ok(r)
                }
                None => Err(S3Error::new(
                    404,
                    "NoSuchBucketPolicy",
                    "The bucket policy does not exist",
                )
                .with("BucketName", bucket)),
            }
        }
        R::PutBucketPolicy { bucket } => put_bucket_policy(s3, cx, &bucket, body).await,
        R::DeleteBucketPolicy { bucket } => {
            update_bucket(s3, cx, &bucket, |b| {
                b.policy = None;
                Ok(())
            })
            .await?;
            Ok(no_content())
        }
        R::DeleteObjects { bucket } => delete_objects(s3, cx, &bucket, body).await,
        R::PutObject { bucket, key } => put_object(s3, cx, &bucket, &key, body).await,
        R::CopyObject {
            bucket,
            key,
            source_bucket,
            source_key,
        } => copy_object(s3, cx, &bucket, &key, &source_bucket, &source_key).await,
        R::GetObject { bucket, key } => get_object(s3, cx, &bucket, &key, false).await,
        R::HeadObject { bucket, key } => get_object(s3, cx, &bucket, &key, true).await,
        R::DeleteObject { bucket, key } => {
            existing_bucket(s3, cx, &bucket)?;
            s3.store.delete(&bucket, &key).await?;
            Ok(no_content())
        }
        R::CreateMultipartUpload { bucket, key } => create_upload(s3, cx, &bucket, &key),
        R::UploadPart {
            bucket,
            key,
            upload_id,
            part_number,
        } => upload_part(s3, cx, &bucket, &key, &upload_id, &part_number, body).await,
        R::CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
        } => complete_upload(s3, cx, &bucket, &key, &upload_id, body).await,
        R::AbortMultipartUpload {
            bucket,
            key,
            upload_id,
        } => {
            existing_bucket(s3, cx, &bucket)?;
            upload_for(s3, &bucket, &key, &upload_id)?;
            if !s3.store.abort_upload(&upload_id)? {
                return Err(S3Error::no_such_upload(&upload_id));
            }
            Ok(no_content())
        }
        R::ListParts {
            bucket,
            key,
            upload_id,
            max_parts,
            part_number_marker,
        } => {
            list_parts(
                s3,
                cx,
                &bucket,
                &key,
                &upload_id,
                max_parts,
                part_number_marker,
            )
            .await
        }
        R::GetObjectTagging { bucket, key } => {
            existing_bucket(s3, cx, &bucket)?;
            let m = s3
                .store
                .get(&bucket, &key)
                .ok_or_else(|| S3Error::no_such_key(&key))?;
            let mut w = XmlWriter::with_declaration();
            w.start_ns("Tagging", NS).start("TagSet");
            for (k, v) in &m.tags {
                w.start("Tag").elem("Key", k).elem("Value", v).end("Tag");
            }
            w.end("TagSet").end("Tagging");
            Ok(xml_response(w.finish()))
        }
        R::PutObjectTagging { bucket, key } => {
            existing_bucket(s3, cx, &bucket)?;
            let raw = small_body(cx, body).await?;
            let tags = crate::xml::parse_tagging(&raw)?;
            s3.store
                .update_meta(&bucket, &key, move |m| m.tags = tags)
                .await?
                .ok_or_else(|| S3Error::no_such_key(&key))?;
            Ok(respond(StatusCode::OK, Body::empty()))
        }
        R::DeleteObjectTagging { bucket, key } => {
            existing_bucket(s3, cx, &bucket)?;
            s3.store
                .update_meta(&bucket, &key, |m| m.tags.clear())
                .await?
                .ok_or_else(|| S3Error::no_such_key(&key))?;
            Ok(no_content())
        }
    }
}

fn existing_bucket(s3: &S3, cx: &Cx<'_>, name: &str) -> S3Result<podiam_store::Versioned<Bucket>> {
    let b = s3
        .bucket(cx.svc, name)?
        .ok_or_else(|| S3Error::no_such_bucket(name))?;
    // Bucket records are shared between replicas, objects are not (yet):
    // answering NoSuchKey, or deleting a bucket as empty, for a bucket
    // whose objects another replica holds would be wrong.
    if cx.svc.store.backend_kind() == podiam_store::BackendKind::Postgres
        && !s3.store.has_bucket(name)
    {
        return Err(S3Error::new(
            503,
            "ServiceUnavailable",
            format!(
                "The objects of bucket {name} are stored by another podiam replica (S3 objects are not shared between replicas yet): send this bucket's requests to the replica that created it."
            ),
        ));
    }
    Ok(b)
}

async fn small_body(cx: &Cx<'_>, body: Body) -> S3Result<Vec<u8>> {
    let reader = BodyReader::new(
        body,
        cx.auth.verified,
        cx.headers,
        crate::xml::MAX_XML_BODY as u64,
    )
    .map_err(|_| S3Error::malformed_xml())?;
    reader
        .read_all(crate::xml::MAX_XML_BODY, S3Error::malformed_xml())
        .await
}

// ---------------------------------------------------------------- buckets

/// S3's bucket naming rules (general purpose buckets).
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return false;
    }
    let ok_char = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-';
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !b.iter().all(|&c| ok_char(c)) || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return false;
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return false;
    }
    const BAD_PREFIX: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const BAD_SUFFIX: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    !BAD_PREFIX.iter().any(|p| name.starts_with(p)) && !BAD_SUFFIX.iter().any(|s| name.ends_with(s))
}

fn list_buckets(
    cx: &Cx<'_>,
    prefix: Option<String>,
    max_buckets: Option<String>,
    token: Option<String>,
) -> S3Result<Resp> {
    let account = cx.account().unwrap_or_default().to_string();
    let max = match &max_buckets {
        None => 10_000usize,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                S3Error::invalid_argument(
                    "Argument max-buckets must be an integer between 1 and 10000",
                    "max-buckets",
                    m,
                )
            })?,
    };
    let after = match &token {
        None => None,
        Some(t) => Some(
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
    };
    let buckets = cx.svc.store.list::<Bucket>("").map_err(S3Error::internal)?;
    let mut mine: Vec<_> = buckets
        .into_iter()
        .filter(|b| b.owner == account)
        .filter(|b| prefix.as_deref().is_none_or(|p| b.name.starts_with(p)))
        .filter(|b| after.as_deref().is_none_or(|a| b.name.as_str() > a))
        .collect();
    mine.sort_by(|a, b| a.name.cmp(&b.name));
    let truncated = mine.len() > max;
    mine.truncate(max);
    let mut w = XmlWriter::with_declaration();
    w.start_ns("ListAllMyBucketsResult", NS);
    w.start("Owner")
        .elem("ID", &canonical_user_id(&account))
        .end("Owner");
    w.start("Buckets");
    for b in &mine {
        w.start("Bucket")
            .elem("Name", &b.name)
            .elem("CreationDate", &iso8601_ms(b.created_at))
            .elem("BucketRegion", &b.region)
            .end("Bucket");
    }
    w.end("Buckets");
    if truncated && let Some(last) = mine.last() {
        w.elem("ContinuationToken", &B64.encode(&last.name));
    }
    w.opt("Prefix", prefix.as_deref());
    w.end("ListAllMyBucketsResult");
    Ok(xml_response(w.finish()))
}

async fn create_bucket(s3: &S3, cx: &Cx<'_>, name: &str, body: Body) -> S3Result<Resp> {
    if !valid_bucket_name(name) {
        return Err(S3Error::new(
            400,
            "InvalidBucketName",
            "The specified bucket is not valid.",
        )
        .with("BucketName", name));
    }
    let account = cx.account().ok_or_else(S3Error::access_denied)?.to_string();
    let raw = small_body(cx, body).await?;
    let location = crate::xml::parse_create_bucket(&raw)?;
    let region = cx.svc.config.region.clone();
    match location.as_deref() {
        None if region == "us-east-1" => {}
        None => {
            return Err(S3Error::new(
                400,
                "IllegalLocationConstraintException",
                "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
            ));
        }
        Some(l) if l == region && region != "us-east-1" => {}
        Some(l) if l == "us-east-1" || !looks_like_region(l) => {
            return Err(S3Error::new(
                400,
                "InvalidLocationConstraint",
                "The specified location-constraint is not valid",
            )
            .with("LocationConstraint", l));
        }
        Some(l) => {
            return Err(S3Error::new(
                400,
                "IllegalLocationConstraintException",
                format!(
                    "The {l} location constraint is incompatible for the region specific endpoint this request was sent to."
                ),
            ));
        }
    }
    if let Some(existing) = s3.bucket(cx.svc, name)? {
        if existing.owner == account {
            // S3 keeps this legacy behaviour in us-east-1 only.
            if region == "us-east-1" {
                let mut r = respond(StatusCode::OK, Body::empty());
                set(r.headers_mut(), "location", &format!("/{name}"));
                return Ok(r);
            }
            return Err(already_owned(name));
        }
        return Err(already_exists(name));
    }
    let rec = Bucket {
        name: name.to_string(),
        owner: account.clone(),
        region,
        created_at: now_ms(cx),
        policy: None,
        tags: Vec::new(),
    };
    let held = s3.store.has_bucket(name);
    s3.store.create_bucket(name)?;
    let written = cx.svc.store.write(vec![Op::create("", name, &rec)]).await;
    if written.is_err() && !held {
        // The record is not ours (another replica won the name, or the
        // store is down): this replica must not hold the bucket, or it
        // would answer for another replica's objects.
        if let Err(e) = s3.store.remove_bucket(name) {
            tracing::warn!(bucket = name, error = %e, "cannot undo a failed bucket creation");
        }
    }
    match written {
        Ok(()) => {}
        Err(StoreError::AlreadyExists { .. }) => {
            return match s3.bucket(cx.svc, name)? {
                Some(b) if b.owner == account => Err(already_owned(name)),
                _ => Err(already_exists(name)),
            };
        }
        Err(e) => return Err(e.into()),
    }
    let mut r = respond(StatusCode::OK, Body::empty());
    set(r.headers_mut(), "location", &format!("/{name}"));
    Ok(r)
}

fn looks_like_region(l: &str) -> bool {
    let parts: Vec<&str> = l.split('-').collect();
    parts.len() >= 3
        && l.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn already_owned(name: &str) -> S3Error {
    S3Error::new(
        409,
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
    )
    .with("BucketName", name)
}

fn already_exists(name: &str) -> S3Error {
    S3Error::new(
        409,
        "BucketAlreadyExists",
        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
    )
    .with("BucketName", name)
}

async fn delete_bucket(s3: &S3, cx: &Cx<'_>, name: &str) -> S3Result<Resp> {
    let b = existing_bucket(s3, cx, name)?;
    if !s3.store.bucket_is_empty(name) {
        return Err(S3Error::new(
            409,
            "BucketNotEmpty",
            "The bucket you tried to delete is not empty",
        )
        .with("BucketName", name));
    }
    cx.svc
        .store
        .write(vec![Op::delete::<Bucket>("", name, b.version)])
        .await?;
    s3.store.remove_bucket(name)?;
    Ok(no_content())
}

async fn update_bucket(
    s3: &S3,
    cx: &Cx<'_>,
    name: &str,
    f: impl Fn(&mut Bucket) -> S3Result<()>,
) -> S3Result<()> {
    existing_bucket(s3, cx, name)?;
    cx.svc
        .store
        .modify("", name, |cur: Option<&Bucket>| {
            let mut b = cur.ok_or_else(|| S3Error::no_such_bucket(name))?.clone();
            f(&mut b)?;
            Ok((Some(b), ()))
        })
        .await
}

/// Checks a bucket policy: the resource-policy grammar, and every resource
/// in this bucket.
pub fn validate_bucket_policy(bucket: &str, doc: &str) -> S3Result<()> {
    let malformed = |m: String| S3Error::new(400, "MalformedPolicy", m);
    Policy::parse(doc, PolicyKind::Resource).map_err(|e| malformed(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(doc).map_err(|e| malformed(e.to_string()))?;
    let stmts = match &v["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        s @ serde_json::Value::Object(_) => vec![s.clone()],
        _ => vec![],
    };
    let bucket_arn = authz::bucket_arn(bucket);
    for s in stmts {
        for field in ["Resource", "NotResource"] {
            let rs: Vec<&str> = match &s[field] {
                serde_json::Value::String(r) => vec![r.as_str()],
                serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
                _ => vec![],
            };
            for r in rs {
                let on_bucket = r.contains("${")
                    || podiam_policy::wildcard_match(r, &bucket_arn)
                    || r.split_once('/')
                        .is_some_and(|(b, _)| podiam_policy::wildcard_match(b, &bucket_arn))
                    || podiam_policy::wildcard_match(r, &format!("{bucket_arn}/"));
                if !on_bucket {
                    return Err(malformed("Policy has invalid resource".into()));
                }
            }
        }
    }
    Ok(())
}

async fn put_bucket_policy(s3: &S3, cx: &Cx<'_>, name: &str, body: Body) -> S3Result<Resp> {
    existing_bucket(s3, cx, name)?;
    let reader = BodyReader::new(body, cx.auth.verified, cx.headers, MAX_POLICY_BODY as u64)
        .map_err(|e| {
            if e.code == "EntityTooLarge" {
                policy_too_large()
            } else {
                e
            }
        })?;
    let raw = reader.read_all(MAX_POLICY_BODY, policy_too_large()).await?;
    let doc = String::from_utf8(raw)
        .map_err(|_| S3Error::new(400, "MalformedPolicy", "Policies must be valid JSON"))?;
    validate_bucket_policy(name, &doc)?;
    update_bucket(s3, cx, name, |b| {
        b.policy = Some(doc.clone());
        Ok(())
    })
    .await?;
    Ok(no_content())
}

fn policy_too_large() -> S3Error {
    S3Error::new(
        400,
        "PolicyTooLarge",
        "Policy exceeds the maximum allowed document size.",
    )
}

// ---------------------------------------------------------------- listing

fn parse_max(v: &Option<String>, name: &str, default: usize) -> S3Result<usize> {
    match v {
        None => Ok(default),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| usize::try_from(n.min(default as i64)).unwrap_or(default))
            .ok_or_else(|| {
                S3Error::invalid_argument(
                    "Provided max-keys not an integer or within integer range",
                    name,
                    s,
                )
            }),
    }
}

fn list_objects(s3: &S3, cx: &Cx<'_>, bucket: &str, p: ListParams, v2: bool) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    let max = parse_max(&p.max_keys, "max-keys", 1000)?;
    let url = match p.encoding_type.as_deref() {
        None => false,
        Some("url") => true,
        Some(other) => {
            return Err(S3Error::invalid_argument(
                "Invalid Encoding Method specified in Request",
                "encoding-type",
                other,
            ));
        }
    };
    let enc = |s: &str| if url { url_encode(s) } else { s.to_string() };
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
    w.start_ns("ListBucketResult", NS);
    w.elem("Name", bucket).elem("Prefix", &enc(&prefix));
    if v2 {
        if let Some(sa) = &p.marker {
            w.elem("StartAfter", &enc(sa));
        }
        w.opt("ContinuationToken", p.continuation_token.as_deref());
        if page.truncated
            && let Some(last) = &page.last
        {
            w.elem("NextContinuationToken", &B64.encode(last));
        }
        w.elem("KeyCount", &page.entries.len().to_string());
    } else {
        w.elem("Marker", &enc(p.marker.as_deref().unwrap_or_default()));
        if page.truncated
            && p.delimiter.is_some()
            && let Some(last) = &page.last
        {
            w.elem("NextMarker", &enc(last));
        }
    }
    w.elem("MaxKeys", &max.to_string());
    if let Some(d) = &p.delimiter {
        w.elem("Delimiter", &enc(d));
    }
    if url {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
    let mut prefixes = Vec::new();
    for e in &page.entries {
        match e {
            ListEntry::Object(m) => {
                w.start("Contents")
                    .elem("Key", &enc(&m.key))
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
    for cp in prefixes {
        w.start("CommonPrefixes")
            .elem("Prefix", &enc(&cp))
            .end("CommonPrefixes");
    }
    w.end("ListBucketResult");
    Ok(xml_response(w.finish()))
}

// ---------------------------------------------------------------- objects

/// Headers stored with an object and returned on GET/HEAD.
const STORED_HEADERS: [&str; 5] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// Content type, stored headers and user metadata from a PUT-like request.
fn object_template(cx: &Cx<'_>, key: &str) -> S3Result<ObjectMeta> {
    let mut headers = Vec::new();
    for h in STORED_HEADERS {
        if let Some(v) = cx.header(h) {
            let v = if h == "content-encoding" {
                // aws-chunked is transport framing, not the object's encoding.
                v.split(',')
                    .map(str::trim)
                    .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
                    .collect::<Vec<_>>()
                    .join(",")
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
            400,
            "MetadataTooLarge",
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

/// Streams the body into a temp file; returns it with the hex MD5, size and
/// verified checksum.
async fn receive(
    s3: &S3,
    cx: &Cx<'_>,
    body: Body,
) -> S3Result<(TempFile, String, u64, Option<(String, String)>)> {
    let mut reader = BodyReader::new(body, cx.auth.verified, cx.headers, MAX_OBJECT_SIZE)?;
    let mut tmp = s3.store.temp_file().await?;
    let mut md5 = md5::Md5::new();
    let mut size = 0u64;
    let result: S3Result<()> = async {
        while let Some(chunk) = reader.next().await? {
            md5.update(&chunk);
            size += chunk.len() as u64;
            tmp.file.write_all(&chunk).await?;
        }
        tmp.file.flush().await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&tmp.path).await;
        return Err(e);
    }
    let checksum = reader.verified_checksum().cloned();
    Ok((tmp, hex::encode(md5.finalize()), size, checksum))
}

fn write_precondition(s3: &S3, cx: &Cx<'_>, bucket: &str, key: &str) -> S3Result<()> {
    let cur = s3.store.get(bucket, key);
    let failed = |cond: &str| {
        S3Error::new(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", cond)
    };
    if let Some(v) = cx.header("if-none-match")
        && v.trim() == "*"
        && cur.is_some()
    {
        return Err(failed("If-None-Match"));
    }
    if let Some(v) = cx.header("if-match") {
        match &cur {
            None => return Err(S3Error::no_such_key(key)),
            Some(m) if !etag_matches(v, &m.etag) => return Err(failed("If-Match")),
            _ => {}
        }
    }
    Ok(())
}

async fn put_object(s3: &S3, cx: &Cx<'_>, bucket: &str, key: &str, body: Body) -> S3Result<Resp> {
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

async fn commit(
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

async fn copy_object(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    key: &str,
    src_bucket: &str,
    src_key: &str,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    existing_bucket(s3, cx, src_bucket)?;
    let src = s3
        .store
        .get(src_bucket, src_key)
        .ok_or_else(|| S3Error::no_such_key(src_key))?;
    // Copy-source conditions.
    let lm = src.last_modified_ms / 1000;
    let failed = || {
        S3Error::new(
            412,
            "PreconditionFailed",
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
    let directive = cx.header("x-amz-metadata-directive").unwrap_or("COPY");
    let replace = match directive {
        "COPY" => false,
        "REPLACE" => true,
        other => {
            return Err(S3Error::invalid_argument(
                "Unknown metadata directive.",
                "x-amz-metadata-directive",
                other,
            ));
        }
    };
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
    match cx.header("x-amz-tagging-directive").unwrap_or("COPY") {
        "REPLACE" => {
            meta.tags = match cx.header("x-amz-tagging") {
                Some(t) => authz::parse_tagging_header(t)?,
                None => Vec::new(),
            }
        }
        _ => meta.tags = src.tags.clone(),
    }
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

/// Whether an `If-Match`/`If-None-Match` value (a list of entity tags, or
/// `*`) names `etag`.
pub fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').any(|t| {
        let t = t.trim();
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || t.trim_matches('"') == etag
    })
}

fn http_time(s: &str) -> Option<i64> {
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

fn object_headers(h: &mut HeaderMap, m: &ObjectMeta) {
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

const RESPONSE_OVERRIDES: [(&str, &str); 6] = [
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

async fn get_object(s3: &S3, cx: &Cx<'_>, bucket: &str, key: &str, head: bool) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    if cx.query.has("partNumber") || cx.query.has("versionId") {
        // Per-part reads and versions are not supported; refuse rather than
        // serve something else.
        if cx.query.get("partNumber") != Some("1") && cx.query.get("versionId") != Some("null") {
            return Err(S3Error::not_implemented());
        }
    }
    let overrides: Vec<(&str, &str)> = RESPONSE_OVERRIDES
        .iter()
        .filter_map(|(q, h)| cx.query.get(q).map(|v| (*h, v)))
        .collect();
    if !overrides.is_empty() && cx.auth.caller.is_none() {
        return Err(S3Error::invalid_request(
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
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
        if let Ok(f) = tokio::fs::File::open(&path).await {
            opened = Some((m, Some(f)));
            break;
        }
    }
    let (m, file) = opened.ok_or_else(|| S3Error::no_such_key(key))?;
    match evaluate_preconditions(cx.headers, &m.etag, m.last_modified_ms / 1000) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            let mut r = respond(StatusCode::NOT_MODIFIED, Body::empty());
            set(r.headers_mut(), "etag", &quoted(&m.etag));
            set(
                r.headers_mut(),
                "last-modified",
                &http_date(m.last_modified_ms),
            );
            return Ok(r);
        }
        Precondition::Failed(cond) => {
            return Err(S3Error::new(
                412,
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
            )
            .with("Condition", cond));
        }
    }
    let range = parse_range(cx.header("range"), m.size);
    let (status, start, len) = match range {
        RangeSpec::Full => (StatusCode::OK, 0, m.size),
        RangeSpec::Partial(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        RangeSpec::Unsatisfiable => {
            return Err(S3Error::new(
                416,
                "InvalidRange",
                "The requested range is not satisfiable",
            )
            .with("RangeRequested", cx.header("range").unwrap_or_default())
            .with("ActualObjectSize", m.size.to_string()));
        }
    };
    let body = match file {
        Some(mut f) => {
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

async fn delete_objects(s3: &S3, cx: &Cx<'_>, bucket: &str, body: Body) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    let raw = small_body(cx, body).await?;
    let (quiet, keys) = crate::xml::parse_delete(&raw)?;
    let mut w = XmlWriter::with_declaration();
    w.start_ns("DeleteResult", NS);
    for key in keys {
        let check = authz::delete_object_check(bucket, &key);
        match s3.authorize(cx, &check) {
            Err(e) => {
                w.start("Error")
                    .elem("Key", &key)
                    .elem("Code", e.code)
                    .elem("Message", &e.message)
                    .end("Error");
            }
            Ok(()) => match s3.store.delete(bucket, &key).await {
                Ok(_) => {
                    if !quiet {
                        w.start("Deleted").elem("Key", &key).end("Deleted");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "delete failed");
                    w.start("Error")
                        .elem("Key", &key)
                        .elem("Code", "InternalError")
                        .elem(
                            "Message",
                            "We encountered an internal error. Please try again.",
                        )
                        .end("Error");
                }
            },
        }
    }
    w.end("DeleteResult");
    Ok(xml_response(w.finish()))
}

// ---------------------------------------------------------------- multipart

fn create_upload(s3: &S3, cx: &Cx<'_>, bucket: &str, key: &str) -> S3Result<Resp> {
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

fn upload_for(s3: &S3, bucket: &str, key: &str, id: &str) -> S3Result<std::sync::Arc<Upload>> {
    if !crate::store::valid_upload_id(id) {
        return Err(S3Error::no_such_upload(id));
    }
    s3.store
        .upload(id)
        .filter(|u| u.bucket == bucket && u.key == key)
        .ok_or_else(|| S3Error::no_such_upload(id))
}

async fn upload_part(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    key: &str,
    id: &str,
    number: &str,
    body: Body,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    let n: u32 = number
        .parse()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
                "partNumber",
                number,
            )
        })?;
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

async fn complete_upload(
    s3: &S3,
    cx: &Cx<'_>,
    bucket: &str,
    key: &str,
    id: &str,
    body: Body,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, bucket)?;
    upload_for(s3, bucket, key, id)?;
    let raw = small_body(cx, body).await?;
    let wanted = crate::xml::parse_complete(&raw)?;
    let parts = s3.store.parts(id).await?;
    if wanted.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(S3Error::new(
            400,
            "InvalidPartOrder",
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
                    400,
                    "InvalidPart",
                    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                )
                .with("UploadId", id)
                .with("PartNumber", n.to_string())
                .with("ETag", etag.clone())
            })?;
        if i + 1 < wanted.len() && p.size < MIN_PART_SIZE {
            return Err(S3Error::new(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed size",
            )
            .with("ProposedSize", p.size.to_string())
            .with("MinSizeAllowed", MIN_PART_SIZE.to_string())
            .with("PartNumber", n.to_string())
            .with("ETag", etag.clone()));
        }
        chosen.push(p);
    }
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

fn initiator_xml(w: &mut XmlWriter, up: &Upload, owner: &str) {
    w.start("Initiator")
        .elem("ID", &up.initiator)
        .elem("DisplayName", &up.initiator)
        .end("Initiator");
    w.start("Owner").elem("ID", owner).end("Owner");
    w.elem("StorageClass", "STANDARD");
}

fn list_uploads(
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

async fn list_parts(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=0-4"), 10), RangeSpec::Partial(0, 4));
        assert_eq!(
            parse_range(Some("bytes=5-100"), 10),
            RangeSpec::Partial(5, 9)
        );
        assert_eq!(parse_range(Some("bytes=7-"), 10), RangeSpec::Partial(7, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), RangeSpec::Partial(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), RangeSpec::Partial(0, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), RangeSpec::Unsatisfiable);
        assert_eq!(
            parse_range(Some("bytes=10-20"), 10),
            RangeSpec::Unsatisfiable
        );
        assert_eq!(parse_range(Some("bytes=-0"), 10), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), RangeSpec::Unsatisfiable);
        // Ignored like S3: bad syntax, reversed, multiple ranges, other units.
        assert_eq!(parse_range(Some("bytes=5-2"), 10), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), RangeSpec::Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=a-b"), 10), RangeSpec::Full);
        assert_eq!(
            parse_range(Some("bytes=99999999999999999999999-"), 10),
            RangeSpec::Full
        );
    }

    #[test]
    fn preconditions() {
        let mut h = HeaderMap::new();
        let lm = 1_000_000;
        assert_eq!(evaluate_preconditions(&h, "abc", lm), Precondition::Proceed);
        h.insert("if-match", "\"abc\"".parse().unwrap());
        assert_eq!(evaluate_preconditions(&h, "abc", lm), Precondition::Proceed);
        h.insert("if-match", "\"zzz\", \"yyy\"".parse().unwrap());
        assert_eq!(
            evaluate_preconditions(&h, "abc", lm),
            Precondition::Failed("If-Match")
        );
        let mut h = HeaderMap::new();
        h.insert("if-none-match", "\"abc\"".parse().unwrap());
        assert_eq!(
            evaluate_preconditions(&h, "abc", lm),
            Precondition::NotModified
        );
        h.insert("if-none-match", "*".parse().unwrap());
        assert_eq!(
            evaluate_preconditions(&h, "abc", lm),
            Precondition::NotModified
        );
        let date = |t: i64| {
            crate::xml::http_date(t * 1000)
                .parse::<HeaderValue>()
                .unwrap()
        };
        let mut h = HeaderMap::new();
        h.insert("if-modified-since", date(lm));
        assert_eq!(
            evaluate_preconditions(&h, "abc", lm),
            Precondition::NotModified
        );
        h.insert("if-modified-since", date(lm - 1));
        assert_eq!(evaluate_preconditions(&h, "abc", lm), Precondition::Proceed);
        // If-None-Match (not matching) overrides If-Modified-Since.
        h.insert("if-modified-since", date(lm));
        h.insert("if-none-match", "\"other\"".parse().unwrap());
        assert_eq!(evaluate_preconditions(&h, "abc", lm), Precondition::Proceed);
        let mut h = HeaderMap::new();
        h.insert("if-unmodified-since", date(lm - 1));
        assert_eq!(
            evaluate_preconditions(&h, "abc", lm),
            Precondition::Failed("If-Unmodified-Since")
        );
        // If-Match (matching) overrides If-Unmodified-Since.
        h.insert("if-match", "\"abc\"".parse().unwrap());
        assert_eq!(evaluate_preconditions(&h, "abc", lm), Precondition::Proceed);
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.1", "a1b", &"a".repeat(63)] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a_b",
            "a/b",
            "..",
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn multipart_etag_is_md5_of_md5s() {
        // Two parts whose MD5s are those of "a" and "b".
        let a = hex::encode(md5::Md5::digest(b"a"));
        let b = hex::encode(md5::Md5::digest(b"b"));
        let mut concat = hex::decode(&a).unwrap();
        concat.extend(hex::decode(&b).unwrap());
        let expected = format!("{}-2", hex::encode(md5::Md5::digest(&concat)));
        assert_eq!(multipart_etag(&[&a, &b]), expected);
    }

    #[test]
    fn bucket_policy_validation() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::bkt","arn:aws:s3:::bkt/*"]}]}"#;
        assert!(validate_bucket_policy("bkt", ok).is_ok());
        let other = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::other/*"}]}"#;
        assert_eq!(
            validate_bucket_policy("bkt", other).unwrap_err().message,
            "Policy has invalid resource"
        );
        let no_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bkt/*"}]}"#;
        assert_eq!(
            validate_bucket_policy("bkt", no_principal)
                .unwrap_err()
                .code,
            "MalformedPolicy"
        );
        assert_eq!(
            validate_bucket_policy("bkt", "{").unwrap_err().code,
            "MalformedPolicy"
        );
        let var = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/${aws:PrincipalTag/team}/*"}]}"#;
        assert!(validate_bucket_policy("bkt", var).is_ok());
    }

    #[test]
    fn etags_match_lists_and_weak_tags() {
        assert!(etag_matches("\"a\"", "a"));
        assert!(etag_matches("W/\"a\"", "a"));
        assert!(etag_matches("\"x\", \"a\"", "a"));
        assert!(etag_matches("*", "a"));
        assert!(!etag_matches("\"b\"", "a"));
    }
}
