//! The one mapping from an [`S3Request`] to what IAM must allow: action,
//! resource ARN and request-specific condition keys.
//!
//! Keys that depend on the caller (principal tags, `aws:userid`, …), the
//! transport (`aws:SourceIp`, `aws:SecureTransport`) or stored state
//! (`s3:ExistingObjectTag/*`) are added by the caller of [`checks`].

use crate::action::S3Request;
use crate::error::{S3Code, S3Error, S3Result};
use http::HeaderMap;
use std::borrow::Cow;

/// One authorization S3 performs for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The IAM action, e.g. `s3:GetObject`.
    pub action: Cow<'static, str>,
    /// The bucket whose policy and owner apply (`None`: no bucket, e.g. ListBuckets).
    pub bucket: Option<String>,
    /// The resource ARN.
    pub resource: String,
    /// Request-specific single-valued condition keys.
    pub keys: Vec<(String, String)>,
    /// Request-specific multivalued condition keys.
    pub multi_keys: Vec<(String, Vec<String>)>,
    /// `(bucket, key)` of an existing object whose tags become
    /// `s3:ExistingObjectTag/<key>`.
    pub existing_object: Option<(String, String)>,
}

/// The ARN of a bucket.
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// The ARN of an object.
pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

fn check(action: &'static str, bucket: &str, resource: String) -> Check {
    Check {
        action: action.into(),
        bucket: Some(bucket.to_string()),
        resource,
        keys: Vec::new(),
        multi_keys: Vec::new(),
        existing_object: None,
    }
}

/// The check of `action` on an S3 resource ARN (`arn:aws:s3:::bucket`
/// or `…:::bucket/key`), for questions asked without a request (`podiam
/// explain request`); `None` for other ARNs.
pub fn for_arn(action: &str, resource: &str) -> Option<Check> {
    let rest = resource.strip_prefix("arn:aws:s3:::")?;
    let (bucket, key) = match rest.split_once('/') {
        Some((b, k)) => (b, Some(k)),
        None => (rest, None),
    };
    if bucket.is_empty() || bucket.contains('*') {
        return None;
    }
    Some(Check {
        action: action.to_string().into(),
        bucket: Some(bucket.to_string()),
        resource: resource.to_string(),
        keys: Vec::new(),
        multi_keys: Vec::new(),
        existing_object: key.map(|k| (bucket.to_string(), k.to_string())),
    })
}

fn on_bucket(action: &'static str, bucket: &str) -> Check {
    check(action, bucket, bucket_arn(bucket))
}

fn on_object(action: &'static str, bucket: &str, key: &str) -> Check {
    check(action, bucket, object_arn(bucket, key))
}

fn existing(mut c: Check, bucket: &str, key: &str) -> Check {
    c.existing_object = Some((bucket.to_string(), key.to_string()));
    c
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Parses the `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded) with S3's
/// limits: at most 10 tags, keys ≤ 128 and values ≤ 256 characters, no
/// duplicate keys, no `aws:` prefix.
pub fn parse_tagging_header(v: &str) -> S3Result<Vec<(String, String)>> {
    let tags: Vec<(String, String)> = form_urlencoded::parse(v.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    validate_tags(&tags)?;
    Ok(tags)
}

/// S3's object tag rules.
pub fn validate_tags(tags: &[(String, String)]) -> S3Result<()> {
    let bad = |m: &str| S3Error::new(S3Code::InvalidTag, m.to_string());
    if tags.len() > 10 {
        return Err(bad("Object tags cannot be greater than 10"));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(bad("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > 256 {
            return Err(bad("The TagValue you have provided is invalid"));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(bad("Your TagKey cannot be prefixed with aws:"));
        }
        if tags[..i].iter().any(|(o, _)| o == k) {
            return Err(bad("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

/// The ACL headers of a write and their condition keys.
const ACL_KEYS: [(&str, &str); 5] = [
    ("x-amz-acl", "s3:x-amz-acl"),
    ("x-amz-grant-full-control", "s3:x-amz-grant-full-control"),
    ("x-amz-grant-read", "s3:x-amz-grant-read"),
    ("x-amz-grant-read-acp", "s3:x-amz-grant-read-acp"),
    ("x-amz-grant-write-acp", "s3:x-amz-grant-write-acp"),
];

fn header_keys(c: &mut Check, h: &HeaderMap, keys: &[(&str, &str)]) {
    for (hdr, key) in keys {
        if let Some(v) = header(h, hdr) {
            c.keys.push((key.to_string(), v.to_string()));
        }
    }
}

fn tag_keys(mut c: Check, tags: &[(String, String)]) -> Check {
    c.multi_keys.push((
        "s3:RequestObjectTagKeys".into(),
        tags.iter().map(|(k, _)| k.clone()).collect(),
    ));
    for (k, v) in tags {
        c.keys.push((format!("s3:RequestObjectTag/{k}"), v.clone()));
    }
    c
}

/// The condition keys that PUT-like requests (PutObject, CopyObject,
/// CreateMultipartUpload) carry in headers.
fn write_keys(mut c: Check, h: &HeaderMap) -> S3Result<Check> {
    header_keys(&mut c, h, &ACL_KEYS);
    header_keys(
        &mut c,
        h,
        &[
            (
                "x-amz-server-side-encryption",
                "s3:x-amz-server-side-encryption",
            ),
            (
                "x-amz-server-side-encryption-aws-kms-key-id",
                "s3:x-amz-server-side-encryption-aws-kms-key-id",
            ),
            (
                "x-amz-server-side-encryption-customer-algorithm",
                "s3:x-amz-server-side-encryption-customer-algorithm",
            ),
            ("x-amz-storage-class", "s3:x-amz-storage-class"),
            ("x-amz-object-lock-mode", "s3:object-lock-mode"),
            (
                "x-amz-object-lock-retain-until-date",
                "s3:object-lock-retain-until-date",
            ),
            ("x-amz-object-lock-legal-hold", "s3:object-lock-legal-hold"),
        ],
    );
    match header(h, "x-amz-tagging") {
        Some(v) => Ok(tag_keys(c, &parse_tagging_header(v)?)),
        None => Ok(c),
    }
}

/// PutObject's checks: `s3:PutObject`, and "to successfully set the
/// tag-set with your PutObject request, you must have the
/// s3:PutObjectTagging" permission, and to set its ACL `s3:PutObjectAcl`
/// (the PutObject API reference).
fn put_object_checks(bucket: &str, key: &str, h: &HeaderMap) -> S3Result<Vec<Check>> {
    let mut checks = vec![write_keys(on_object("s3:PutObject", bucket, key), h)?];
    if let Some(v) = header(h, "x-amz-tagging").filter(|v| !v.is_empty()) {
        let tags = parse_tagging_header(v)?;
        checks.push(tag_keys(
            on_object("s3:PutObjectTagging", bucket, key),
            &tags,
        ));
    }
    if ACL_KEYS.iter().any(|(hdr, _)| h.contains_key(*hdr)) {
        let mut acl = on_object("s3:PutObjectAcl", bucket, key);
        header_keys(&mut acl, h, &ACL_KEYS);
        checks.push(acl);
    }
    Ok(checks)
}

fn list_keys(
    mut c: Check,
    prefix: &Option<String>,
    delimiter: &Option<String>,
    max: Option<&str>,
) -> Check {
    for (k, v) in [
        ("s3:prefix", prefix.as_deref()),
        ("s3:delimiter", delimiter.as_deref()),
        ("s3:max-keys", max),
    ] {
        if let Some(v) = v {
            c.keys.push((k.to_string(), v.to_string()));
        }
    }
    c
}

/// What `DeleteObjects` checks for each key of its body (and its
/// `<VersionId>`).
pub fn delete_object_check(bucket: &str, key: &str, version: Option<&str>) -> Check {
    versioned(on_object("s3:DeleteObject", bucket, key), version)
}

/// A request naming an object version needs the action's `…Version…`
/// twin, with `s3:VersionId` (the GetObject, DeleteObject and object
/// tagging references: "To … a specific version of an object, you must
/// have the s3:GetObjectVersion permission").
fn versioned(mut c: Check, version: Option<&str>) -> Check {
    let Some(v) = version else { return c };
    let action = match c.action.as_ref() {
        "s3:GetObject" => "s3:GetObjectVersion",
        "s3:DeleteObject" => "s3:DeleteObjectVersion",
        "s3:GetObjectTagging" => "s3:GetObjectVersionTagging",
        "s3:PutObjectTagging" => "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging" => "s3:DeleteObjectVersionTagging",
        _ => return c,
    };
    c.action = action.into();
    c.keys.push(("s3:VersionId".into(), v.to_string()));
    c
}

/// The `versionId` of an `x-amz-copy-source`, if it names one.
pub fn copy_source_version(h: &HeaderMap) -> Option<&str> {
    header(h, "x-amz-copy-source")?
        .split_once("?versionId=")
        .map(|(_, v)| v)
}

/// Whether `req`'s body holds condition keys: PutObjectTagging's tags
/// (`s3:RequestObjectTag/*`, the User Guide's tagging examples) and
/// CreateBucket's `s3:LocationConstraint`.
pub fn has_body_keys(req: &S3Request) -> bool {
    matches!(
        req,
        S3Request::PutObjectTagging { .. } | S3Request::CreateBucket { .. }
    )
}

/// `c` with the condition keys of `req`'s `body`. A body that cannot be
/// read adds none; if the request is allowed all the same, the operation
/// refuses the body in its own words.
pub fn body_keys(mut c: Check, req: &S3Request, body: &[u8]) -> Check {
    match req {
        S3Request::PutObjectTagging { .. } => match crate::xml::parse_tagging(body) {
            Ok(tags) => tag_keys(c, &tags),
            Err(_) => c,
        },
        S3Request::CreateBucket { .. } => {
            if let Ok(Some(l)) = crate::xml::parse_create_bucket(body) {
                c.keys.push(("s3:LocationConstraint".into(), l));
            }
            c
        }
        _ => c,
    }
}

/// `s3:ListBucket` on `bucket`, with no listing's keys: what decides
/// between 404 and 403 for an object that does not exist.
pub fn list_bucket_check(bucket: &str) -> Check {
    on_bucket("s3:ListBucket", bucket)
}

/// The authorizations `req` needs, in order; `version` is the request's
/// `versionId`. `Ok(None)` only for `DeleteObjects`, which S3 authorizes
/// key by key ([`delete_object_check`]) and reports per key.
pub fn checks(
    req: &S3Request,
    h: &HeaderMap,
    version: Option<&str>,
) -> S3Result<Option<Vec<Check>>> {
    use S3Request as R;
    let one = |c: Check| Ok(Some(vec![c]));
    match req {
        R::ListBuckets { .. } => one(Check {
            action: "s3:ListAllMyBuckets".into(),
            bucket: None,
            // S3 matches ListAllMyBuckets against `arn:aws:s3:::*` (policies
            // name either `*` or that ARN).
            resource: "arn:aws:s3:::*".into(),
            keys: Vec::new(),
            multi_keys: Vec::new(),
            existing_object: None,
        }),
        R::CreateBucket { bucket } => {
            let mut c = on_bucket("s3:CreateBucket", bucket);
            if let Some(v) = header(h, "x-amz-acl") {
                c.keys.push(("s3:x-amz-acl".into(), v.into()));
            }
            one(c)
        }
        R::DeleteBucket { bucket } => one(on_bucket("s3:DeleteBucket", bucket)),
        R::HeadBucket { bucket } => one(on_bucket("s3:ListBucket", bucket)),
        R::GetBucketLocation { bucket } => one(on_bucket("s3:GetBucketLocation", bucket)),
        R::GetBucketConfig { bucket, config } => one(on_bucket(config.action(), bucket)),
        // "The s3:max-keys key is always present in the request when you
        // perform the ListBucket operation" (IAM User Guide, condition
        // operators): S3's default when the request names none.
        R::ListObjectsV2 { bucket, params } | R::ListObjects { bucket, params } => one(list_keys(
            on_bucket("s3:ListBucket", bucket),
            &params.prefix,
            &params.delimiter,
            Some(params.max_keys.as_deref().unwrap_or("1000")),
        )),
        R::ListObjectVersions { bucket, params, .. } => one(list_keys(
            on_bucket("s3:ListBucketVersions", bucket),
            &params.prefix,
            &params.delimiter,
            Some(params.max_keys.as_deref().unwrap_or("1000")),
        )),
        R::ListMultipartUploads {
            bucket,
            prefix,
            max_uploads,
            ..
        } => one(list_keys(
            on_bucket("s3:ListBucketMultipartUploads", bucket),
            prefix,
            &None,
            max_uploads.as_deref(),
        )),
        R::GetBucketPolicy { bucket } => one(on_bucket("s3:GetBucketPolicy", bucket)),
        R::PutBucketPolicy { bucket } => one(on_bucket("s3:PutBucketPolicy", bucket)),
        R::DeleteBucketPolicy { bucket } => one(on_bucket("s3:DeleteBucketPolicy", bucket)),
        R::DeleteObjects { .. } => Ok(None),
        R::PutObject { bucket, key } => Ok(Some(put_object_checks(bucket, key, h)?)),
        R::CreateMultipartUpload { bucket, key } => {
            one(write_keys(on_object("s3:PutObject", bucket, key), h)?)
        }
        R::UploadPart { bucket, key, .. } | R::CompleteMultipartUpload { bucket, key, .. } => {
            one(on_object("s3:PutObject", bucket, key))
        }
        // "You must have READ access to the source object and WRITE access
        // to the destination bucket" (the UploadPartCopy reference).
        R::UploadPartCopy {
            bucket,
            key,
            source_bucket,
            source_key,
            ..
        } => Ok(Some(vec![
            existing(
                versioned(
                    on_object("s3:GetObject", source_bucket, source_key),
                    copy_source_version(h),
                ),
                source_bucket,
                source_key,
            ),
            on_object("s3:PutObject", bucket, key),
        ])),
        R::CopyObject {
            bucket,
            key,
            source_bucket,
            source_key,
        } => {
            let get = existing(
                versioned(
                    on_object("s3:GetObject", source_bucket, source_key),
                    copy_source_version(h),
                ),
                source_bucket,
                source_key,
            );
            let mut put = write_keys(on_object("s3:PutObject", bucket, key), h)?;
            if let Some(v) = header(h, "x-amz-copy-source") {
                put.keys.push(("s3:x-amz-copy-source".into(), v.into()));
            }
            if let Some(v) = header(h, "x-amz-metadata-directive") {
                put.keys
                    .push(("s3:x-amz-metadata-directive".into(), v.into()));
            }
            Ok(Some(vec![get, put]))
        }
        R::GetObject { bucket, key } | R::HeadObject { bucket, key } => Ok(Some(vec![existing(
            versioned(on_object("s3:GetObject", bucket, key), version),
            bucket,
            key,
        )])),
        R::DeleteObject { bucket, key } => one(delete_object_check(bucket, key, version)),
        R::AbortMultipartUpload { bucket, key, .. } => {
            one(on_object("s3:AbortMultipartUpload", bucket, key))
        }
        R::ListParts { bucket, key, .. } => {
            one(on_object("s3:ListMultipartUploadParts", bucket, key))
        }
        R::GetObjectTagging { bucket, key } => one(existing(
            versioned(on_object("s3:GetObjectTagging", bucket, key), version),
            bucket,
            key,
        )),
        R::PutObjectTagging { bucket, key } => one(existing(
            versioned(on_object("s3:PutObjectTagging", bucket, key), version),
            bucket,
            key,
        )),
        R::DeleteObjectTagging { bucket, key } => one(existing(
            versioned(on_object("s3:DeleteObjectTagging", bucket, key), version),
            bucket,
            key,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::ListParams;

    fn b() -> String {
        "bkt".into()
    }
    fn k() -> String {
        "dir/obj".into()
    }

    fn only(req: S3Request, h: &HeaderMap) -> Check {
        let mut v = checks(&req, h, None).unwrap().unwrap();
        assert_eq!(v.len(), 1, "{req:?}");
        v.remove(0)
    }

    /// Every variant, with its action and resource.
    #[test]
    fn every_request_maps_to_its_action() {
        let h = HeaderMap::new();
        let bucket_ops: Vec<(S3Request, &str)> = vec![
            (S3Request::CreateBucket { bucket: b() }, "s3:CreateBucket"),
            (S3Request::DeleteBucket { bucket: b() }, "s3:DeleteBucket"),
            (S3Request::HeadBucket { bucket: b() }, "s3:ListBucket"),
            (
                S3Request::GetBucketLocation { bucket: b() },
                "s3:GetBucketLocation",
            ),
            (
                S3Request::ListObjectsV2 {
                    bucket: b(),
                    params: ListParams::default(),
                },
                "s3:ListBucket",
            ),
            (
                S3Request::ListObjects {
                    bucket: b(),
                    params: ListParams::default(),
                },
                "s3:ListBucket",
            ),
            (
                S3Request::ListObjectVersions {
                    bucket: b(),
                    params: ListParams::default(),
                    version_id_marker: None,
                },
                "s3:ListBucketVersions",
            ),
            (
                S3Request::ListMultipartUploads {
                    bucket: b(),
                    prefix: None,
                    max_uploads: None,
                    key_marker: None,
                },
                "s3:ListBucketMultipartUploads",
            ),
            (
                S3Request::GetBucketPolicy { bucket: b() },
                "s3:GetBucketPolicy",
            ),
            (
                S3Request::PutBucketPolicy { bucket: b() },
                "s3:PutBucketPolicy",
            ),
            (
                S3Request::DeleteBucketPolicy { bucket: b() },
                "s3:DeleteBucketPolicy",
            ),
        ];
        for (req, action) in bucket_ops {
            let c = only(req, &h);
            assert_eq!(c.action, action);
            assert_eq!(c.resource, "arn:aws:s3:::bkt");
            assert_eq!(c.bucket.as_deref(), Some("bkt"));
        }
        let object_ops: Vec<(S3Request, &str, bool)> = vec![
            (
                S3Request::PutObject {
                    bucket: b(),
                    key: k(),
                },
                "s3:PutObject",
                false,
            ),
            (
                S3Request::GetObject {
                    bucket: b(),
                    key: k(),
                },
                "s3:GetObject",
                true,
            ),
            (
                S3Request::HeadObject {
                    bucket: b(),
                    key: k(),
                },
                "s3:GetObject",
                true,
            ),
            (
                S3Request::DeleteObject {
                    bucket: b(),
                    key: k(),
                },
                "s3:DeleteObject",
                false,
            ),
            (
                S3Request::CreateMultipartUpload {
                    bucket: b(),
                    key: k(),
                },
                "s3:PutObject",
                false,
            ),
            (
                S3Request::UploadPart {
                    bucket: b(),
                    key: k(),
                    upload_id: "u".into(),
                    part_number: "1".into(),
                },
                "s3:PutObject",
                false,
            ),
            (
                S3Request::CompleteMultipartUpload {
                    bucket: b(),
                    key: k(),
                    upload_id: "u".into(),
                },
                "s3:PutObject",
                false,
            ),
            (
                S3Request::AbortMultipartUpload {
                    bucket: b(),
                    key: k(),
                    upload_id: "u".into(),
                },
                "s3:AbortMultipartUpload",
                false,
            ),
            (
                S3Request::ListParts {
                    bucket: b(),
                    key: k(),
                    upload_id: "u".into(),
                    max_parts: None,
                    part_number_marker: None,
                },
                "s3:ListMultipartUploadParts",
                false,
            ),
            (
                S3Request::GetObjectTagging {
                    bucket: b(),
                    key: k(),
                },
                "s3:GetObjectTagging",
                true,
            ),
            (
                S3Request::PutObjectTagging {
                    bucket: b(),
                    key: k(),
                },
                "s3:PutObjectTagging",
                true,
            ),
            (
                S3Request::DeleteObjectTagging {
                    bucket: b(),
                    key: k(),
                },
                "s3:DeleteObjectTagging",
                true,
            ),
        ];
        for (req, action, has_existing) in object_ops {
            let c = only(req, &h);
            assert_eq!(c.action, action);
            assert_eq!(c.resource, "arn:aws:s3:::bkt/dir/obj");
            assert_eq!(c.existing_object.is_some(), has_existing, "{action}");
        }
        let c = only(
            S3Request::ListBuckets {
                prefix: None,
                max_buckets: None,
                continuation_token: None,
            },
            &h,
        );
        assert_eq!(c.action, "s3:ListAllMyBuckets");
        assert_eq!(c.bucket, None);
        assert_eq!(
            checks(&S3Request::DeleteObjects { bucket: b() }, &h, None).unwrap(),
            None
        );
        let d = delete_object_check("bkt", "x", None);
        assert_eq!(
            (d.action.as_ref(), d.resource.as_str()),
            ("s3:DeleteObject", "arn:aws:s3:::bkt/x")
        );
    }

    /// A named version needs the `…Version…` action with `s3:VersionId`.
    #[test]
    fn versions_need_their_own_actions() {
        let h = HeaderMap::new();
        let get = |req| checks(&req, &h, Some("v1")).unwrap().unwrap().remove(0);
        for (req, action) in [
            (
                S3Request::GetObject {
                    bucket: b(),
                    key: k(),
                },
                "s3:GetObjectVersion",
            ),
            (
                S3Request::HeadObject {
                    bucket: b(),
                    key: k(),
                },
                "s3:GetObjectVersion",
            ),
            (
                S3Request::DeleteObject {
                    bucket: b(),
                    key: k(),
                },
                "s3:DeleteObjectVersion",
            ),
            (
                S3Request::GetObjectTagging {
                    bucket: b(),
                    key: k(),
                },
                "s3:GetObjectVersionTagging",
            ),
            (
                S3Request::PutObjectTagging {
                    bucket: b(),
                    key: k(),
                },
                "s3:PutObjectVersionTagging",
            ),
            (
                S3Request::DeleteObjectTagging {
                    bucket: b(),
                    key: k(),
                },
                "s3:DeleteObjectVersionTagging",
            ),
        ] {
            let c = get(req);
            assert_eq!(c.action, action);
            assert!(
                c.keys.contains(&("s3:VersionId".into(), "v1".into())),
                "{c:?}"
            );
        }
        let mut h = HeaderMap::new();
        h.insert("x-amz-copy-source", "src/a?versionId=v2".parse().unwrap());
        let copy = S3Request::CopyObject {
            bucket: b(),
            key: k(),
            source_bucket: "src".into(),
            source_key: "a".into(),
        };
        let v = checks(&copy, &h, None).unwrap().unwrap();
        assert_eq!(
            (v[0].action.as_ref(), v[0].resource.as_str()),
            ("s3:GetObjectVersion", "arn:aws:s3:::src/a")
        );
        assert_eq!(v[1].action, "s3:PutObject");
    }

    /// PutObject with tags or an ACL also needs `s3:PutObjectTagging` /
    /// `s3:PutObjectAcl`, each with its own keys.
    #[test]
    fn put_object_with_tags_or_acl_needs_those_actions() {
        let put = S3Request::PutObject {
            bucket: b(),
            key: k(),
        };
        let mut h = HeaderMap::new();
        h.insert("x-amz-tagging", "team=a".parse().unwrap());
        h.insert("x-amz-acl", "bucket-owner-full-control".parse().unwrap());
        let v = checks(&put, &h, None).unwrap().unwrap();
        let actions: Vec<&str> = v.iter().map(|c| c.action.as_ref()).collect();
        assert_eq!(
            actions,
            ["s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectAcl"]
        );
        assert!(
            v[1].keys
                .contains(&("s3:RequestObjectTag/team".into(), "a".into()))
        );
        assert!(
            v[2].keys
                .contains(&("s3:x-amz-acl".into(), "bucket-owner-full-control".into()))
        );
        h.insert("x-amz-tagging", "".parse().unwrap());
        h.remove("x-amz-acl");
        assert_eq!(checks(&put, &h, None).unwrap().unwrap().len(), 1);
    }

    /// PutObjectTagging's tags and CreateBucket's location come from the
    /// body; an unreadable body adds no keys.
    #[test]
    fn body_condition_keys() {
        let tagging = S3Request::PutObjectTagging {
            bucket: b(),
            key: k(),
        };
        assert!(has_body_keys(&tagging));
        let c = body_keys(
            on_object("s3:PutObjectTagging", "bkt", "dir/obj"),
            &tagging,
            b"<Tagging><TagSet><Tag><Key>Project</Key><Value>X</Value></Tag></TagSet></Tagging>",
        );
        assert_eq!(c.keys, [("s3:RequestObjectTag/Project".into(), "X".into())]);
        assert_eq!(
            c.multi_keys,
            [("s3:RequestObjectTagKeys".into(), vec!["Project".into()])]
        );
        let c = body_keys(
            on_object("s3:PutObjectTagging", "bkt", "k"),
            &tagging,
            b"<Tag",
        );
        assert!(c.keys.is_empty() && c.multi_keys.is_empty());
        let create = S3Request::CreateBucket { bucket: b() };
        let body = b"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
        let c = body_keys(on_bucket("s3:CreateBucket", "bkt"), &create, body);
        assert_eq!(
            c.keys,
            [("s3:LocationConstraint".into(), "eu-west-1".into())]
        );
        assert!(!has_body_keys(&S3Request::PutObject {
            bucket: b(),
            key: k()
        }));
    }

    #[test]
    fn copy_needs_get_on_source_and_put_on_destination() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-copy-source", "src/a".parse().unwrap());
        h.insert("x-amz-metadata-directive", "REPLACE".parse().unwrap());
        let v = checks(
            &S3Request::CopyObject {
                bucket: b(),
                key: k(),
                source_bucket: "src".into(),
                source_key: "a".into(),
            },
            &h,
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(v[0].action, "s3:GetObject");
        assert_eq!(v[0].resource, "arn:aws:s3:::src/a");
        assert_eq!(v[0].bucket.as_deref(), Some("src"));
        assert_eq!(v[1].action, "s3:PutObject");
        assert_eq!(v[1].resource, "arn:aws:s3:::bkt/dir/obj");
        assert!(
            v[1].keys
                .contains(&("s3:x-amz-metadata-directive".into(), "REPLACE".into()))
        );
        assert!(
            v[1].keys
                .contains(&("s3:x-amz-copy-source".into(), "src/a".into()))
        );
    }

    #[test]
    fn condition_keys_from_the_request() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-acl", "public-read".parse().unwrap());
        h.insert("x-amz-server-side-encryption", "AES256".parse().unwrap());
        h.insert("x-amz-tagging", "team=blue&env=prod%20x".parse().unwrap());
        let c = only(
            S3Request::CreateMultipartUpload {
                bucket: b(),
                key: k(),
            },
            &h,
        );
        assert!(
            c.keys
                .contains(&("s3:x-amz-acl".into(), "public-read".into()))
        );
        assert!(
            c.keys
                .contains(&("s3:x-amz-server-side-encryption".into(), "AES256".into()))
        );
        assert!(
            c.keys
                .contains(&("s3:RequestObjectTag/team".into(), "blue".into()))
        );
        assert!(
            c.keys
                .contains(&("s3:RequestObjectTag/env".into(), "prod x".into()))
        );
        assert_eq!(
            c.multi_keys[0].1,
            vec!["team".to_string(), "env".to_string()]
        );

        let params = ListParams {
            prefix: Some("home/".into()),
            delimiter: Some("/".into()),
            max_keys: Some("10".into()),
            ..Default::default()
        };
        let c = only(
            S3Request::ListObjectsV2 {
                bucket: b(),
                params,
            },
            &HeaderMap::new(),
        );
        assert!(c.keys.contains(&("s3:prefix".into(), "home/".into())));
        assert!(c.keys.contains(&("s3:delimiter".into(), "/".into())));
        assert!(c.keys.contains(&("s3:max-keys".into(), "10".into())));
        // Absent parameters are absent keys, but for s3:max-keys, which is
        // always present (S3's default).
        let c = only(
            S3Request::ListObjects {
                bucket: b(),
                params: ListParams::default(),
            },
            &HeaderMap::new(),
        );
        assert_eq!(c.keys, [("s3:max-keys".to_string(), "1000".to_string())]);
    }

    #[test]
    fn tagging_header_limits() {
        assert!(parse_tagging_header("a=1&a=2").is_err());
        assert!(parse_tagging_header("aws:x=1").is_err());
        let many: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            parse_tagging_header(&many.join("&"))
                .unwrap_err()
                .code
                .as_str(),
            "InvalidTag"
        );
        assert_eq!(parse_tagging_header("").unwrap(), vec![]);
    }
}
