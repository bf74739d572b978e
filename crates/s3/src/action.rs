//! Method + path + query + Host → a typed [`S3Request`].
//!
//! Path style (`/bucket/key`) on podiam's port, and virtual-host style
//! (`bucket.localhost:PORT`, `bucket.<public host>`) when the Host header asks
//! for it.

use crate::error::{S3Code, S3Error, S3Result};
use http::Method;

/// Most keys S3 accepts, in bytes (UTF-8).
pub const MAX_KEY_LEN: usize = 1024;

/// Listing parameters shared by ListObjects and ListObjectsV2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// `prefix`.
    pub prefix: Option<String>,
    /// `delimiter`.
    pub delimiter: Option<String>,
    /// `max-keys`, as given (validated by the operation).
    pub max_keys: Option<String>,
    /// `encoding-type`.
    pub encoding_type: Option<String>,
    /// v1: `marker`. v2: `start-after`.
    pub marker: Option<String>,
    /// v2: `continuation-token`.
    pub continuation_token: Option<String>,
    /// v2: `fetch-owner`.
    pub fetch_owner: bool,
}

/// One S3 operation with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Request {
    /// `GET /`.
    ListBuckets {
        /// `prefix`.
        prefix: Option<String>,
        /// `max-buckets`.
        max_buckets: Option<String>,
        /// `continuation-token`.
        continuation_token: Option<String>,
    },
    /// `PUT /b`.
    CreateBucket {
        /// Bucket.
        bucket: String,
    },
    /// `DELETE /b`.
    DeleteBucket {
        /// Bucket.
        bucket: String,
    },
    /// `HEAD /b`.
    HeadBucket {
        /// Bucket.
        bucket: String,
    },
    /// `GET /b?location`.
    GetBucketLocation {
        /// Bucket.
        bucket: String,
    },
    /// `GET /b?versioning`, `?acl`, `?cors`, …: a configuration podiam
    /// reports but offers no way to change.
    GetBucketConfig {
        /// Bucket.
        bucket: String,
        /// Which configuration.
        config: BucketConfig,
    },
    /// `GET /b?list-type=2`.
    ListObjectsV2 {
        /// Bucket.
        bucket: String,
        /// Parameters.
        params: ListParams,
    },
    /// `GET /b`.
    ListObjects {
        /// Bucket.
        bucket: String,
        /// Parameters.
        params: ListParams,
    },
    /// `GET /b?versions` (`marker` is `key-marker`).
    ListObjectVersions {
        /// Bucket.
        bucket: String,
        /// Parameters.
        params: ListParams,
        /// `version-id-marker`.
        version_id_marker: Option<String>,
    },
    /// `PUT /b/k?partNumber=N&uploadId=U` with `x-amz-copy-source`.
    UploadPartCopy {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// `uploadId`.
        upload_id: String,
        /// `partNumber`, as given.
        part_number: String,
        /// The source's bucket.
        source_bucket: String,
        /// The source's key.
        source_key: String,
    },
    /// `GET /b?uploads`.
    ListMultipartUploads {
        /// Bucket.
        bucket: String,
        /// `prefix`.
        prefix: Option<String>,
        /// `max-uploads`.
        max_uploads: Option<String>,
        /// `key-marker`.
        key_marker: Option<String>,
    },
    /// `GET /b?policy`.
    GetBucketPolicy {
        /// Bucket.
        bucket: String,
    },
    /// `PUT /b?policy`.
    PutBucketPolicy {
        /// Bucket.
        bucket: String,
    },
    /// `DELETE /b?policy`.
    DeleteBucketPolicy {
        /// Bucket.
        bucket: String,
    },
    /// `POST /b?delete`.
    DeleteObjects {
        /// Bucket.
        bucket: String,
    },
    /// `PUT /b/k`.
    PutObject {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// `PUT /b/k` with `x-amz-copy-source`.
    CopyObject {
        /// Destination bucket.
        bucket: String,
        /// Destination key.
        key: String,
        /// Source bucket.
        source_bucket: String,
        /// Source key.
        source_key: String,
    },
    /// `GET /b/k`.
    GetObject {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// `HEAD /b/k`.
    HeadObject {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// `DELETE /b/k`.
    DeleteObject {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// `POST /b/k?uploads`.
    CreateMultipartUpload {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// `PUT /b/k?partNumber=N&uploadId=U`.
    UploadPart {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Upload id.
        upload_id: String,
        /// `partNumber`, as given.
        part_number: String,
    },
    /// `POST /b/k?uploadId=U`.
    CompleteMultipartUpload {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Upload id.
        upload_id: String,
    },
    /// `DELETE /b/k?uploadId=U`.
    AbortMultipartUpload {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Upload id.
        upload_id: String,
    },
    /// `GET /b/k?uploadId=U`.
    ListParts {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Upload id.
        upload_id: String,
        /// `max-parts`.
        max_parts: Option<String>,
        /// `part-number-marker`.
        part_number_marker: Option<String>,
    },
    /// `GET /b/k?tagging`.
    GetObjectTagging {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// `PUT /b/k?tagging`.
    PutObjectTagging {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// `DELETE /b/k?tagging`.
    DeleteObjectTagging {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
}

impl S3Request {
    /// The operation name, as S3 and the SDKs call it.
    pub fn name(&self) -> &'static str {
        match self {
            S3Request::ListBuckets { .. } => "ListBuckets",
            S3Request::CreateBucket { .. } => "CreateBucket",
            S3Request::DeleteBucket { .. } => "DeleteBucket",
            S3Request::HeadBucket { .. } => "HeadBucket",
            S3Request::GetBucketLocation { .. } => "GetBucketLocation",
            S3Request::GetBucketConfig { config, .. } => config.operation(),
            S3Request::ListObjectsV2 { .. } => "ListObjectsV2",
            S3Request::ListObjects { .. } => "ListObjects",
            S3Request::ListObjectVersions { .. } => "ListObjectVersions",
            S3Request::ListMultipartUploads { .. } => "ListMultipartUploads",
            S3Request::GetBucketPolicy { .. } => "GetBucketPolicy",
            S3Request::PutBucketPolicy { .. } => "PutBucketPolicy",
            S3Request::DeleteBucketPolicy { .. } => "DeleteBucketPolicy",
            S3Request::DeleteObjects { .. } => "DeleteObjects",
            S3Request::PutObject { .. } => "PutObject",
            S3Request::CopyObject { .. } => "CopyObject",
            S3Request::GetObject { .. } => "GetObject",
            S3Request::HeadObject { .. } => "HeadObject",
            S3Request::DeleteObject { .. } => "DeleteObject",
            S3Request::CreateMultipartUpload { .. } => "CreateMultipartUpload",
            S3Request::UploadPart { .. } => "UploadPart",
            S3Request::UploadPartCopy { .. } => "UploadPartCopy",
            S3Request::CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            S3Request::AbortMultipartUpload { .. } => "AbortMultipartUpload",
            S3Request::ListParts { .. } => "ListParts",
            S3Request::GetObjectTagging { .. } => "GetObjectTagging",
            S3Request::PutObjectTagging { .. } => "PutObjectTagging",
            S3Request::DeleteObjectTagging { .. } => "DeleteObjectTagging",
        }
    }

    /// The bucket the request addresses, if any.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            S3Request::ListBuckets { .. } => None,
            S3Request::CreateBucket { bucket }
            | S3Request::DeleteBucket { bucket }
            | S3Request::HeadBucket { bucket }
            | S3Request::GetBucketLocation { bucket }
            | S3Request::GetBucketConfig { bucket, .. }
            | S3Request::ListObjectsV2 { bucket, .. }
            | S3Request::ListObjects { bucket, .. }
            | S3Request::ListObjectVersions { bucket, .. }
            | S3Request::ListMultipartUploads { bucket, .. }
            | S3Request::GetBucketPolicy { bucket }
            | S3Request::PutBucketPolicy { bucket }
            | S3Request::DeleteBucketPolicy { bucket }
            | S3Request::DeleteObjects { bucket }
            | S3Request::PutObject { bucket, .. }
            | S3Request::CopyObject { bucket, .. }
            | S3Request::GetObject { bucket, .. }
            | S3Request::HeadObject { bucket, .. }
            | S3Request::DeleteObject { bucket, .. }
            | S3Request::CreateMultipartUpload { bucket, .. }
            | S3Request::UploadPart { bucket, .. }
            | S3Request::UploadPartCopy { bucket, .. }
            | S3Request::CompleteMultipartUpload { bucket, .. }
            | S3Request::AbortMultipartUpload { bucket, .. }
            | S3Request::ListParts { bucket, .. }
            | S3Request::GetObjectTagging { bucket, .. }
            | S3Request::PutObjectTagging { bucket, .. }
            | S3Request::DeleteObjectTagging { bucket, .. } => Some(bucket),
        }
    }

    /// The `<Resource>` S3 reports in errors: `/bucket` or `/bucket/key`.
    pub fn resource_path(&self) -> String {
        match (self.bucket(), self.key()) {
            (Some(b), Some(k)) => format!("/{b}/{k}"),
            (Some(b), None) => format!("/{b}"),
            _ => "/".into(),
        }
    }

    /// The object key, if the request addresses one.
    pub fn key(&self) -> Option<&str> {
        match self {
            S3Request::PutObject { key, .. }
            | S3Request::CopyObject { key, .. }
            | S3Request::GetObject { key, .. }
            | S3Request::HeadObject { key, .. }
            | S3Request::DeleteObject { key, .. }
            | S3Request::CreateMultipartUpload { key, .. }
            | S3Request::UploadPart { key, .. }
            | S3Request::UploadPartCopy { key, .. }
            | S3Request::CompleteMultipartUpload { key, .. }
            | S3Request::AbortMultipartUpload { key, .. }
            | S3Request::ListParts { key, .. }
            | S3Request::GetObjectTagging { key, .. }
            | S3Request::PutObjectTagging { key, .. }
            | S3Request::DeleteObjectTagging { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Decoded query parameters, in order (`?uploads` has an empty value).
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `k`.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    /// Whether `k` is present (with or without a value).
    pub fn has(&self, k: &str) -> bool {
        self.0.iter().any(|(n, _)| n == k)
    }

    fn owned(&self, k: &str) -> Option<String> {
        self.get(k).map(str::to_string)
    }
}

/// Where the bucket name comes from: the Host header when it is
/// `<bucket>.<base>` for one of the `bases`.
pub fn virtual_host_bucket(host: Option<&str>, bases: &[String]) -> Option<String> {
    let host = host?;
    // Strip the port (IPv6 literals never carry a bucket).
    if host.starts_with('[') {
        return None;
    }
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    bases.iter().find_map(|base| {
        let b = name.strip_suffix(base.as_str())?.strip_suffix('.')?;
        (!b.is_empty()).then(|| b.to_string())
    })
}

fn decode_path(raw: &str) -> S3Result<String> {
    let bytes = percent_encoding::percent_decode_str(raw).collect::<Vec<u8>>();
    String::from_utf8(bytes)
        .map_err(|_| S3Error::new(S3Code::InvalidURI, "Couldn't parse the specified URI."))
}

/// Routes a request. `vhost_bucket` is the bucket from the Host header, if
/// the request is virtual-hosted.
pub fn route(
    method: &Method,
    raw_path: &str,
    q: &Query,
    headers: &http::HeaderMap,
    vhost_bucket: Option<String>,
) -> S3Result<S3Request> {
    let path = decode_path(raw_path)?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    let (bucket, key) = match vhost_bucket {
        Some(b) => (Some(b), (!path.is_empty()).then(|| path.to_string())),
        None if path.is_empty() => (None, None),
        None => match path.split_once('/') {
            Some((b, "")) => (Some(b.to_string()), None),
            Some((b, k)) => (Some(b.to_string()), Some(k.to_string())),
            None => (Some(path.to_string()), None),
        },
    };
    let Some(bucket) = bucket else {
        return match *method {
            Method::GET => Ok(S3Request::ListBuckets {
                prefix: q.owned("prefix"),
                max_buckets: q.owned("max-buckets"),
                continuation_token: q.owned("continuation-token"),
            }),
            _ => Err(method_not_allowed(method, "SERVICE")),
        };
    };
    match key {
        None => bucket_request(method, bucket, q),
        Some(key) => {
            if key.len() > MAX_KEY_LEN {
                return Err(
                    S3Error::new(S3Code::KeyTooLongError, "Your key is too long")
                        .with("Size", key.len().to_string())
                        .with("MaxSizeAllowed", MAX_KEY_LEN.to_string()),
                );
            }
            object_request(method, bucket, key, q, headers)
        }
    }
}

fn method_not_allowed(method: &Method, resource_type: &str) -> S3Error {
    S3Error::new(
        S3Code::MethodNotAllowed,
        "The specified method is not allowed against this resource.",
    )
    .with("Method", method.as_str())
    .with("ResourceType", resource_type)
}

/// Subresources podiam does not implement: asking for one is `NotImplemented`
/// rather than silently acting on the bucket or object itself.
const UNSUPPORTED_SUBRESOURCES: &[&str] = &[
    "acl",
    "accelerate",
    "analytics",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "lifecycle",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "legal-hold",
    "select",
    "torrent",
    "versioning",
    "website",
    "attributes",
];

/// A bucket configuration that podiam cannot set, so every bucket is in
/// S3's state for a bucket where it was never set; reading it answers that,
/// as S3 does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketConfig {
    /// `?versioning`: never enabled.
    Versioning,
    /// `?acl`: the owner's FULL_CONTROL grant.
    Acl,
    /// `?cors`: none.
    Cors,
    /// `?encryption`: SSE-S3, every bucket's default.
    Encryption,
    /// `?lifecycle`: none.
    Lifecycle,
    /// `?website`: none.
    Website,
    /// `?tagging`: the bucket's tags.
    Tagging,
    /// `?object-lock`: none.
    ObjectLock,
    /// `?replication`: none.
    Replication,
    /// `?logging`: off.
    Logging,
    /// `?accelerate`: never set.
    Accelerate,
    /// `?requestPayment`: the owner pays.
    RequestPayment,
    /// `?notification`: none.
    Notification,
}

impl BucketConfig {
    /// (subresource, configuration, operation, IAM action).
    const ALL: [(&'static str, BucketConfig, &'static str, &'static str); 13] = [
        (
            "versioning",
            BucketConfig::Versioning,
            "GetBucketVersioning",
            "s3:GetBucketVersioning",
        ),
        ("acl", BucketConfig::Acl, "GetBucketAcl", "s3:GetBucketAcl"),
        (
            "cors",
            BucketConfig::Cors,
            "GetBucketCors",
            "s3:GetBucketCORS",
        ),
        (
            "encryption",
            BucketConfig::Encryption,
            "GetBucketEncryption",
            "s3:GetEncryptionConfiguration",
        ),
        (
            "lifecycle",
            BucketConfig::Lifecycle,
            "GetBucketLifecycleConfiguration",
            "s3:GetLifecycleConfiguration",
        ),
        (
            "website",
            BucketConfig::Website,
            "GetBucketWebsite",
            "s3:GetBucketWebsite",
        ),
        (
            "tagging",
            BucketConfig::Tagging,
            "GetBucketTagging",
            "s3:GetBucketTagging",
        ),
        (
            "object-lock",
            BucketConfig::ObjectLock,
            "GetObjectLockConfiguration",
            "s3:GetBucketObjectLockConfiguration",
        ),
        (
            "replication",
            BucketConfig::Replication,
            "GetBucketReplication",
            "s3:GetReplicationConfiguration",
        ),
        (
            "logging",
            BucketConfig::Logging,
            "GetBucketLogging",
            "s3:GetBucketLogging",
        ),
        (
            "accelerate",
            BucketConfig::Accelerate,
            "GetBucketAccelerateConfiguration",
            "s3:GetAccelerateConfiguration",
        ),
        (
            "requestPayment",
            BucketConfig::RequestPayment,
            "GetBucketRequestPayment",
            "s3:GetBucketRequestPayment",
        ),
        (
            "notification",
            BucketConfig::Notification,
            "GetBucketNotificationConfiguration",
            "s3:GetBucketNotification",
        ),
    ];

    /// The configuration a GET's query names, if any.
    fn in_query(q: &Query) -> Option<BucketConfig> {
        Self::ALL.iter().find(|e| q.has(e.0)).map(|e| e.1)
    }

    /// `ALL` lists the configurations in declaration order.
    fn entry(self) -> &'static (&'static str, BucketConfig, &'static str, &'static str) {
        &Self::ALL[self as usize]
    }

    /// The operation, as S3 and the SDKs call it.
    pub fn operation(self) -> &'static str {
        self.entry().2
    }

    /// The IAM action that authorizes reading it.
    pub fn action(self) -> &'static str {
        self.entry().3
    }
}

fn bucket_request(method: &Method, bucket: String, q: &Query) -> S3Result<S3Request> {
    if *method == Method::GET
        && let Some(config) = BucketConfig::in_query(q)
    {
        return Ok(S3Request::GetBucketConfig { bucket, config });
    }
    // `versions` is served for listing only.
    let other_versions = q.has("versions") && *method != Method::GET;
    if UNSUPPORTED_SUBRESOURCES.iter().any(|s| q.has(s)) || q.has("tagging") || other_versions {
        return Err(S3Error::not_implemented());
    }
    let list = || ListParams {
        prefix: q.owned("prefix"),
        delimiter: q.owned("delimiter"),
        max_keys: q.owned("max-keys"),
        encoding_type: q.owned("encoding-type"),
        marker: None,
        continuation_token: None,
        fetch_owner: false,
    };
    Ok(match *method {
        Method::GET if q.has("location") => S3Request::GetBucketLocation { bucket },
        Method::GET if q.has("policy") => S3Request::GetBucketPolicy { bucket },
        Method::GET if q.has("uploads") => S3Request::ListMultipartUploads {
            bucket,
            prefix: q.owned("prefix"),
            max_uploads: q.owned("max-uploads"),
            key_marker: q.owned("key-marker"),
        },
        Method::GET if q.has("versions") => S3Request::ListObjectVersions {
            bucket,
            params: ListParams {
                marker: q.owned("key-marker"),
                ..list()
            },
            version_id_marker: q.owned("version-id-marker"),
        },
        Method::GET if q.get("list-type") == Some("2") => S3Request::ListObjectsV2 {
            bucket,
            params: ListParams {
                marker: q.owned("start-after"),
                continuation_token: q.owned("continuation-token"),
                fetch_owner: q.get("fetch-owner") == Some("true"),
                ..list()
            },
        },
        Method::GET => S3Request::ListObjects {
            bucket,
            params: ListParams {
                marker: q.owned("marker"),
                ..list()
            },
        },
        Method::HEAD => S3Request::HeadBucket { bucket },
        Method::PUT if q.has("policy") => S3Request::PutBucketPolicy { bucket },
        Method::PUT => S3Request::CreateBucket { bucket },
        Method::DELETE if q.has("policy") => S3Request::DeleteBucketPolicy { bucket },
        Method::DELETE => S3Request::DeleteBucket { bucket },
        Method::POST if q.has("delete") => S3Request::DeleteObjects { bucket },
        _ => return Err(method_not_allowed(method, "BUCKET")),
    })
}

/// Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, URL-encoded.
pub fn parse_copy_source(v: &str) -> S3Result<(String, String)> {
    let invalid =
        || S3Error::invalid_argument("Invalid copy source object key", "x-amz-copy-source", v);
    let v = v.split_once("?versionId=").map_or(v, |(a, _)| a);
    let decoded = decode_path(v).map_err(|_| invalid())?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (b, k) = decoded.split_once('/').ok_or_else(invalid)?;
    if b.is_empty() || k.is_empty() || k.len() > MAX_KEY_LEN {
        return Err(invalid());
    }
    Ok((b.to_string(), k.to_string()))
}

/// The `x-amz-copy-source` of a copy, if the request has one.
fn copy_source_of(headers: &http::HeaderMap) -> S3Result<Option<(String, String)>> {
    headers
        .get("x-amz-copy-source")
        .map(|v| parse_copy_source(v.to_str().unwrap_or("\u{0}")))
        .transpose()
}

fn object_request(
    method: &Method,
    bucket: String,
    key: String,
    q: &Query,
    headers: &http::HeaderMap,
) -> S3Result<S3Request> {
    if UNSUPPORTED_SUBRESOURCES.iter().any(|s| q.has(s)) || q.has("versions") {
        return Err(S3Error::not_implemented());
    }
    let upload_id = q.owned("uploadId");
    Ok(match (method.clone(), upload_id) {
        (Method::GET, _) if q.has("tagging") => S3Request::GetObjectTagging { bucket, key },
        (Method::PUT, _) if q.has("tagging") => S3Request::PutObjectTagging { bucket, key },
        (Method::DELETE, _) if q.has("tagging") => S3Request::DeleteObjectTagging { bucket, key },
        (Method::GET, Some(upload_id)) => S3Request::ListParts {
            bucket,
            key,
            upload_id,
            max_parts: q.owned("max-parts"),
            part_number_marker: q.owned("part-number-marker"),
        },
        (Method::GET, None) => S3Request::GetObject { bucket, key },
        (Method::HEAD, _) => S3Request::HeadObject { bucket, key },
        (Method::PUT, Some(upload_id)) => {
            let part_number = q.owned("partNumber").unwrap_or_default();
            match copy_source_of(headers)? {
                Some((source_bucket, source_key)) => S3Request::UploadPartCopy {
                    bucket,
                    key,
                    upload_id,
                    part_number,
                    source_bucket,
                    source_key,
                },
                None => S3Request::UploadPart {
                    bucket,
                    key,
                    upload_id,
                    part_number,
                },
            }
        }
        (Method::PUT, None) => match copy_source_of(headers)? {
            Some((source_bucket, source_key)) => S3Request::CopyObject {
                bucket,
                key,
                source_bucket,
                source_key,
            },
            None => S3Request::PutObject { bucket, key },
        },
        (Method::POST, _) if q.has("uploads") => S3Request::CreateMultipartUpload { bucket, key },
        (Method::POST, Some(upload_id)) => S3Request::CompleteMultipartUpload {
            bucket,
            key,
            upload_id,
        },
        (Method::DELETE, Some(upload_id)) => S3Request::AbortMultipartUpload {
            bucket,
            key,
            upload_id,
        },
        (Method::DELETE, None) => S3Request::DeleteObject { bucket, key },
        _ => return Err(method_not_allowed(method, "OBJECT")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: &str, target: &str) -> S3Result<S3Request> {
        r_h(method, target, &http::HeaderMap::new(), None)
    }

    fn r_h(
        method: &str,
        target: &str,
        headers: &http::HeaderMap,
        vhost: Option<&str>,
    ) -> S3Result<S3Request> {
        let (path, query) = target
            .split_once('?')
            .map_or((target, None), |(p, q)| (p, Some(q)));
        route(
            &Method::from_bytes(method.as_bytes()).unwrap(),
            path,
            &Query::parse(query),
            headers,
            vhost.map(str::to_string),
        )
    }

    #[test]
    fn service_and_bucket_routes() {
        assert!(matches!(r("GET", "/"), Ok(S3Request::ListBuckets { .. })));
        assert_eq!(r("PUT", "/").unwrap_err().code.as_str(), "MethodNotAllowed");
        let b = || "b".to_string();
        assert_eq!(
            r("PUT", "/b").unwrap(),
            S3Request::CreateBucket { bucket: b() }
        );
        assert_eq!(
            r("PUT", "/b/").unwrap(),
            S3Request::CreateBucket { bucket: b() }
        );
        assert_eq!(
            r("DELETE", "/b").unwrap(),
            S3Request::DeleteBucket { bucket: b() }
        );
        assert_eq!(
            r("HEAD", "/b").unwrap(),
            S3Request::HeadBucket { bucket: b() }
        );
        assert_eq!(
            r("GET", "/b?location").unwrap(),
            S3Request::GetBucketLocation { bucket: b() }
        );
        assert_eq!(
            r("GET", "/b?policy").unwrap(),
            S3Request::GetBucketPolicy { bucket: b() }
        );
        assert_eq!(
            r("PUT", "/b?policy").unwrap(),
            S3Request::PutBucketPolicy { bucket: b() }
        );
        assert_eq!(
            r("DELETE", "/b?policy").unwrap(),
            S3Request::DeleteBucketPolicy { bucket: b() }
        );
        assert_eq!(
            r("POST", "/b?delete").unwrap(),
            S3Request::DeleteObjects { bucket: b() }
        );
        assert!(matches!(
            r("GET", "/b?uploads&prefix=x").unwrap(),
            S3Request::ListMultipartUploads { prefix: Some(p), .. } if p == "x"
        ));
        match r("GET", "/b?list-type=2&prefix=a%2Fb&delimiter=%2F&start-after=s&continuation-token=t&max-keys=5&encoding-type=url&fetch-owner=true").unwrap() {
            S3Request::ListObjectsV2 { bucket, params } => {
                assert_eq!(bucket, "b");
                assert_eq!(params.prefix.as_deref(), Some("a/b"));
                assert_eq!(params.delimiter.as_deref(), Some("/"));
                assert_eq!(params.marker.as_deref(), Some("s"));
                assert_eq!(params.continuation_token.as_deref(), Some("t"));
                assert_eq!(params.max_keys.as_deref(), Some("5"));
                assert_eq!(params.encoding_type.as_deref(), Some("url"));
                assert!(params.fetch_owner);
            }
            other => panic!("{other:?}"),
        }
        match r("GET", "/b?marker=m").unwrap() {
            S3Request::ListObjects { params, .. } => {
                assert_eq!(params.marker.as_deref(), Some("m"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            r("GET", "/b?versioning").unwrap(),
            S3Request::GetBucketConfig {
                bucket: b(),
                config: BucketConfig::Versioning
            }
        );
        for (i, (sub, config, operation, action)) in BucketConfig::ALL.into_iter().enumerate() {
            assert_eq!(config as usize, i, "{sub}");
            let req = r("GET", &format!("/b?{sub}")).unwrap();
            assert_eq!(
                req,
                S3Request::GetBucketConfig {
                    bucket: b(),
                    config
                }
            );
            assert_eq!((req.name(), config.action()), (operation, action));
            // Setting one is not offered.
            assert_eq!(
                r("PUT", &format!("/b?{sub}")).unwrap_err().code.as_str(),
                "NotImplemented",
                "{sub}"
            );
        }
        // `versions` lists; with any other method, or on an object, it is
        // refused rather than read as the bare operation.
        match r("GET", "/b?versions&key-marker=k&version-id-marker=null").unwrap() {
            S3Request::ListObjectVersions {
                params,
                version_id_marker,
                ..
            } => {
                assert_eq!(params.marker.as_deref(), Some("k"));
                assert_eq!(version_id_marker.as_deref(), Some("null"));
            }
            other => panic!("{other:?}"),
        }
        for (m, t) in [
            ("DELETE", "/b?versions"),
            ("PUT", "/b?versions"),
            ("GET", "/b/k?versions"),
        ] {
            assert_eq!(
                r(m, t).unwrap_err().code.as_str(),
                "NotImplemented",
                "{m} {t}"
            );
        }
        assert_eq!(
            r("POST", "/b").unwrap_err().code.as_str(),
            "MethodNotAllowed"
        );
    }

    #[test]
    fn object_routes() {
        let bk = || ("b".to_string(), "dir/a b+c".to_string());
        let (bucket, key) = bk();
        assert_eq!(
            r("GET", "/b/dir/a%20b+c").unwrap(),
            S3Request::GetObject {
                bucket: bucket.clone(),
                key: key.clone()
            }
        );
        assert_eq!(
            r("HEAD", "/b/dir/a%20b+c").unwrap(),
            S3Request::HeadObject {
                bucket: bucket.clone(),
                key: key.clone()
            }
        );
        assert_eq!(
            r("PUT", "/b/dir/a%20b+c").unwrap(),
            S3Request::PutObject {
                bucket: bucket.clone(),
                key: key.clone()
            }
        );
        assert_eq!(
            r("DELETE", "/b/dir/a%20b+c").unwrap(),
            S3Request::DeleteObject {
                bucket: bucket.clone(),
                key: key.clone()
            }
        );
        assert!(matches!(
            r("POST", "/b/k?uploads").unwrap(),
            S3Request::CreateMultipartUpload { .. }
        ));
        assert_eq!(
            r("PUT", "/b/k?partNumber=3&uploadId=U").unwrap(),
            S3Request::UploadPart {
                bucket: "b".into(),
                key: "k".into(),
                upload_id: "U".into(),
                part_number: "3".into()
            }
        );
        assert!(matches!(
            r("POST", "/b/k?uploadId=U").unwrap(),
            S3Request::CompleteMultipartUpload { .. }
        ));
        assert!(matches!(
            r("DELETE", "/b/k?uploadId=U").unwrap(),
            S3Request::AbortMultipartUpload { .. }
        ));
        assert!(matches!(
            r("GET", "/b/k?uploadId=U").unwrap(),
            S3Request::ListParts { .. }
        ));
        assert!(matches!(
            r("GET", "/b/k?tagging").unwrap(),
            S3Request::GetObjectTagging { .. }
        ));
        assert!(matches!(
            r("PUT", "/b/k?tagging").unwrap(),
            S3Request::PutObjectTagging { .. }
        ));
        assert!(matches!(
            r("DELETE", "/b/k?tagging").unwrap(),
            S3Request::DeleteObjectTagging { .. }
        ));
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-copy-source",
            "/src/a%2Fb?versionId=x".parse().unwrap(),
        );
        assert_eq!(
            r_h("PUT", "/b/k", &h, None).unwrap(),
            S3Request::CopyObject {
                bucket: "b".into(),
                key: "k".into(),
                source_bucket: "src".into(),
                source_key: "a/b".into()
            }
        );
        h.insert("x-amz-copy-source", "nokey".parse().unwrap());
        assert_eq!(
            r_h("PUT", "/b/k", &h, None).unwrap_err().code.as_str(),
            "InvalidArgument"
        );
        let long = format!("/b/{}", "x".repeat(1025));
        assert_eq!(
            r("GET", &long).unwrap_err().code.as_str(),
            "KeyTooLongError"
        );
        assert_eq!(r("GET", "/b/%ff").unwrap_err().code.as_str(), "InvalidURI");
    }

    #[test]
    fn virtual_host_style() {
        let bases = vec!["localhost".to_string(), "s3.example.com".to_string()];
        assert_eq!(
            virtual_host_bucket(Some("my-bucket.localhost:4599"), &bases).as_deref(),
            Some("my-bucket")
        );
        assert_eq!(
            virtual_host_bucket(Some("a.b.s3.example.com"), &bases).as_deref(),
            Some("a.b")
        );
        assert_eq!(virtual_host_bucket(Some("localhost:4599"), &bases), None);
        assert_eq!(virtual_host_bucket(Some("127.0.0.1:4599"), &bases), None);
        assert_eq!(virtual_host_bucket(Some("[::1]:4599"), &bases), None);
        assert_eq!(virtual_host_bucket(Some("evillocalhost"), &bases), None);
        let h = http::HeaderMap::new();
        assert_eq!(
            r_h("GET", "/dir/k", &h, Some("vb")).unwrap(),
            S3Request::GetObject {
                bucket: "vb".into(),
                key: "dir/k".into()
            }
        );
        assert!(matches!(
            r_h("GET", "/?list-type=2", &h, Some("vb")).unwrap(),
            S3Request::ListObjectsV2 { bucket, .. } if bucket == "vb"
        ));
    }
}
