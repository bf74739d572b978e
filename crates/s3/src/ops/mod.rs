//! The operations, after authentication and authorization.

use crate::action::{ListParams, S3Request};
use crate::body::BodyReader;
use crate::error::{S3Code, S3Error, S3Result};
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

mod bucket;
mod list;
mod multipart;
mod object;
mod remote;

use bucket::*;
use list::*;
use multipart::*;
use object::*;

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

/// ACLs are disabled on every bucket (S3 Object Ownership's "bucket owner
/// enforced", the default since April 2023): "All S3 PUT requests must either
/// specify the bucket-owner-full-control canned ACL or not specify an ACL".
fn acls_disabled(s3: &S3, cx: &Cx<'_>, bucket: &str) -> S3Result<()> {
    let canned = cx
        .header("x-amz-acl")
        .is_none_or(|v| v == "bucket-owner-full-control");
    let grants = [
        "x-amz-grant-full-control",
        "x-amz-grant-read",
        "x-amz-grant-read-acp",
        "x-amz-grant-write-acp",
    ]
    .iter()
    .any(|h| cx.header(h).is_some());
    // A missing bucket is reported as such.
    if (canned && !grants) || s3.bucket(cx.svc, bucket)?.is_none() {
        return Ok(());
    }
    Err(S3Error::new(
        S3Code::AccessControlListNotSupported,
        "The bucket does not allow ACLs",
    ))
}

pub(crate) async fn execute(s3: &S3, cx: &Cx<'_>, req: S3Request, body: Body) -> S3Result<Resp> {
    if let S3Request::PutObject { bucket, .. }
    | S3Request::CopyObject { bucket, .. }
    | S3Request::CreateMultipartUpload { bucket, .. } = &req
    {
        acls_disabled(s3, cx, bucket)?;
    }
    let read_bucket = match &req {
        S3Request::GetObject { bucket, .. } | S3Request::HeadObject { bucket, .. } => {
            Some(bucket.clone())
        }
        _ => None,
    };
    let r = match &s3.backend {
        Some(be) => remote::execute(s3, be, cx, req, body).await,
        None => local(s3, cx, req, body).await,
    };
    match (r, read_bucket) {
        // "If the object you request doesn't exist, the error that Amazon S3
        // returns depends on whether you also have the s3:ListBucket
        // permission": 404 with it, 403 without (GetObject, HeadObject).
        (Err(e), Some(bucket)) if e.code == S3Code::NoSuchKey => {
            s3.authorize(cx, &authz::list_bucket_check(&bucket))?;
            Err(e)
        }
        (r, _) => r,
    }
}

pub(crate) use remote::object_tags;

/// Whether `v` names a version other than `null` (the current object of an
/// unversioned bucket, the only version the local store keeps).
pub(crate) fn names_a_version(v: Option<&str>) -> bool {
    v.is_some_and(|v| v != "null")
}

/// An operation on podiam's own store (and the bucket operations, whose
/// records are podiam's either way).
async fn local(s3: &S3, cx: &Cx<'_>, req: S3Request, body: Body) -> S3Result<Resp> {
    use S3Request as R;
    // The store keeps no versions: only `null`, the current object, exists.
    // Refused rather than served as the current object.
    if names_a_version(cx.query.get("versionId"))
        || names_a_version(authz::copy_source_version(cx.headers))
    {
        return Err(S3Error::not_implemented());
    }
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
        R::GetBucketConfig { bucket, config } => {
            bucket_config(&*existing_bucket(s3, cx, &bucket)?, config)
        }
        R::ListObjectsV2 { bucket, params } => list_objects(s3, cx, &bucket, params, true),
        R::ListObjects { bucket, params } => list_objects(s3, cx, &bucket, params, false),
        R::ListObjectVersions {
            bucket,
            params,
            version_id_marker,
        } => list_versions(s3, cx, &bucket, params, version_id_marker),
        R::ListMultipartUploads {
            bucket,
            prefix,
            max_uploads,
            key_marker,
        } => list_uploads(s3, cx, &bucket, prefix, max_uploads, key_marker),
        R::GetBucketPolicy { bucket } => {
            let b = owner_only(s3, cx, &bucket)?;
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
                    S3Code::NoSuchBucketPolicy,
                    "The bucket policy does not exist",
                )
                .with("BucketName", bucket)),
            }
        }
        R::PutBucketPolicy { bucket } => {
            owner_only(s3, cx, &bucket)?;
            put_bucket_policy(s3, cx, &bucket, body).await
        }
        R::DeleteBucketPolicy { bucket } => {
            owner_only(s3, cx, &bucket)?;
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
        R::UploadPartCopy {
            bucket,
            key,
            upload_id,
            part_number,
            source_bucket,
            source_key,
        } => {
            let to = (bucket.as_str(), key.as_str(), upload_id.as_str());
            upload_part_copy(s3, cx, to, &part_number, &source_bucket, &source_key).await
        }
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
            let raw = body_of(cx, body).await?;
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

/// The bucket of a bucket-policy operation: "If you have the correct
/// permissions, but you're not using an identity that belongs to the bucket
/// owner's account, Amazon S3 returns a 405 Method Not Allowed error" (the
/// PutBucketPolicy, GetBucketPolicy and DeleteBucketPolicy references).
fn owner_only(s3: &S3, cx: &Cx<'_>, name: &str) -> S3Result<podiam_store::Versioned<Bucket>> {
    let b = existing_bucket(s3, cx, name)?;
    if cx.account() != Some(b.owner.as_str()) {
        return Err(S3Error::new(
            S3Code::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        )
        .with("Method", cx.method.as_str())
        .with("ResourceType", "BUCKETPOLICY"));
    }
    Ok(b)
}

fn existing_bucket(s3: &S3, cx: &Cx<'_>, name: &str) -> S3Result<podiam_store::Versioned<Bucket>> {
    let b = s3
        .bucket(cx.svc, name)?
        .ok_or_else(|| S3Error::no_such_bucket(name))?;
    // Bucket records are shared between replicas; without a backend store,
    // objects are not: answering NoSuchKey, or deleting a bucket as empty,
    // for a bucket whose objects another replica holds would be wrong.
    if s3.backend.is_none()
        && cx.svc.store.backend_kind() == podiam_store::BackendKind::Postgres
        && !s3.store.has_bucket(name)
    {
        return Err(S3Error::new(
            S3Code::ServiceUnavailable,
            format!(
                "The objects of bucket {name} are stored by another podiam replica (objects are shared between replicas only with `serve --s3-backend URL`): send this bucket's requests to the replica that created it."
            ),
        ));
    }
    Ok(b)
}

/// A small XML or JSON body, checked against the signature while read (or
/// the one read before deciding).
async fn body_of(cx: &Cx<'_>, body: Body) -> S3Result<Vec<u8>> {
    match &cx.body {
        Some(read) => Ok(read.clone()),
        None => small_body(cx.auth.verified, cx.headers, body).await,
    }
}

/// Reads a small body whole, checking it against the signature.
pub(crate) async fn small_body(
    verified: Option<&podiam_sigv4::VerifiedRequest>,
    headers: &HeaderMap,
    body: Body,
) -> S3Result<Vec<u8>> {
    let reader = BodyReader::new(body, verified, headers, crate::xml::MAX_XML_BODY as u64)
        .map_err(|_| S3Error::malformed_xml())?;
    reader
        .read_all(crate::xml::MAX_XML_BODY, S3Error::malformed_xml())
        .await
}

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
                .code
                .as_str(),
            "MalformedPolicy"
        );
        assert_eq!(
            validate_bucket_policy("bkt", "{")
                .unwrap_err()
                .code
                .as_str(),
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
