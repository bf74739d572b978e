//! Buckets: create, delete, list, and the bucket policy.

use super::*;
use crate::action::BucketConfig;
use crate::error::S3Code;

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

pub(super) fn list_buckets(
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

pub(super) async fn create_bucket(s3: &S3, cx: &Cx<'_>, name: &str, body: Body) -> S3Result<Resp> {
    if !valid_bucket_name(name) {
        return Err(S3Error::new(
            S3Code::InvalidBucketName,
            "The specified bucket is not valid.",
        )
        .with("BucketName", name));
    }
    let account = cx.account().ok_or_else(S3Error::access_denied)?.to_string();
    let raw = body_of(cx, body).await?;
    let location = crate::xml::parse_create_bucket(&raw)?;
    let region = cx.svc.config.region.clone();
    match location.as_deref() {
        None if region == "us-east-1" => {}
        None => {
            return Err(S3Error::new(
                S3Code::IllegalLocationConstraintException,
                "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
            ));
        }
        Some(l) if l == region && region != "us-east-1" => {}
        Some(l) if l == "us-east-1" || !looks_like_region(l) => {
            return Err(S3Error::new(
                S3Code::InvalidLocationConstraint,
                "The specified location-constraint is not valid",
            )
            .with("LocationConstraint", l));
        }
        Some(l) => {
            return Err(S3Error::new(
                S3Code::IllegalLocationConstraintException,
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
    // The data plane first: a record never names a bucket it lacks.
    let held = match &s3.backend {
        Some(be) => {
            be.create_bucket(name).await?;
            true
        }
        None => {
            let held = s3.store.has_bucket(name);
            s3.store.create_bucket(name)?;
            held
        }
    };
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

pub(super) fn looks_like_region(l: &str) -> bool {
    let parts: Vec<&str> = l.split('-').collect();
    parts.len() >= 3
        && l.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(super) fn already_owned(name: &str) -> S3Error {
    S3Error::new(
        S3Code::BucketAlreadyOwnedByYou,
        "Your previous request to create the named bucket succeeded and you already own it.",
    )
    .with("BucketName", name)
}

pub(super) fn already_exists(name: &str) -> S3Error {
    S3Error::new(
        S3Code::BucketAlreadyExists,
        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
    )
    .with("BucketName", name)
}

pub(super) async fn delete_bucket(s3: &S3, cx: &Cx<'_>, name: &str) -> S3Result<Resp> {
    let b = existing_bucket(s3, cx, name)?;
    if let Some(be) = &s3.backend {
        // The backend says whether it is empty.
        be.delete_bucket(name).await?;
    } else if !s3.store.bucket_is_empty(name) {
        return Err(S3Error::new(
            S3Code::BucketNotEmpty,
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

pub(super) async fn update_bucket(
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
    let malformed = |m: String| S3Error::new(S3Code::MalformedPolicy, m);
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

pub(super) async fn put_bucket_policy(
    s3: &S3,
    cx: &Cx<'_>,
    name: &str,
    body: Body,
) -> S3Result<Resp> {
    existing_bucket(s3, cx, name)?;
    let reader = BodyReader::new(body, cx.auth.verified, cx.headers, MAX_POLICY_BODY as u64)
        .map_err(|e| {
            if e.code == S3Code::EntityTooLarge {
                policy_too_large()
            } else {
                e
            }
        })?;
    let raw = reader.read_all(MAX_POLICY_BODY, policy_too_large()).await?;
    let doc = String::from_utf8(raw)
        .map_err(|_| S3Error::new(S3Code::MalformedPolicy, "Policies must be valid JSON"))?;
    validate_bucket_policy(name, &doc)?;
    update_bucket(s3, cx, name, |b| {
        b.policy = Some(doc.clone());
        Ok(())
    })
    .await?;
    Ok(no_content())
}

pub(super) fn policy_too_large() -> S3Error {
    S3Error::new(
        S3Code::PolicyTooLarge,
        "Policy exceeds the maximum allowed document size.",
    )
}

/// A configuration podiam has no way to set: the answer S3 gives for a
/// bucket where it was never set.
pub(super) fn bucket_config(b: &Bucket, config: BucketConfig) -> S3Result<Resp> {
    let absent = match config {
        BucketConfig::Tagging if b.tags.is_empty() => {
            Some((S3Code::NoSuchTagSet, "The TagSet does not exist"))
        }
        BucketConfig::Cors => Some((
            S3Code::NoSuchCORSConfiguration,
            "The CORS configuration does not exist",
        )),
        BucketConfig::Lifecycle => Some((
            S3Code::NoSuchLifecycleConfiguration,
            "The lifecycle configuration does not exist",
        )),
        BucketConfig::Website => Some((
            S3Code::NoSuchWebsiteConfiguration,
            "The specified bucket does not have a website configuration",
        )),
        BucketConfig::ObjectLock => Some((
            S3Code::ObjectLockConfigurationNotFoundError,
            "Object Lock configuration does not exist for this bucket",
        )),
        BucketConfig::Replication => Some((
            S3Code::ReplicationConfigurationNotFoundError,
            "The replication configuration was not found",
        )),
        _ => None,
    };
    if let Some((code, message)) = absent {
        return Err(S3Error::new(code, message).with("BucketName", &b.name));
    }
    let mut w = XmlWriter::with_declaration();
    // The configurations that read as an empty document.
    let empty = |w: &mut XmlWriter, name: &str| {
        w.start_ns(name, NS).end(name);
    };
    match config {
        BucketConfig::Versioning => empty(&mut w, "VersioningConfiguration"),
        BucketConfig::Logging => empty(&mut w, "BucketLoggingStatus"),
        BucketConfig::Accelerate => empty(&mut w, "AccelerateConfiguration"),
        BucketConfig::Notification => empty(&mut w, "NotificationConfiguration"),
        // Every bucket has had SSE-S3 as its default since January 2023
        // (podiam answers objects' writes with the same AES256 header).
        BucketConfig::Encryption => {
            w.start_ns("ServerSideEncryptionConfiguration", NS)
                .start("Rule")
                .start("ApplyServerSideEncryptionByDefault")
                .elem("SSEAlgorithm", "AES256")
                .end("ApplyServerSideEncryptionByDefault")
                .elem("BucketKeyEnabled", "false")
                .end("Rule")
                .end("ServerSideEncryptionConfiguration");
        }
        BucketConfig::RequestPayment => {
            w.start_ns("RequestPaymentConfiguration", NS)
                .elem("Payer", "BucketOwner")
                .end("RequestPaymentConfiguration");
        }
        BucketConfig::Acl => {
            let owner = canonical_user_id(&b.owner);
            w.start_ns("AccessControlPolicy", NS);
            w.start("Owner").elem("ID", &owner).end("Owner");
            w.start("AccessControlList").start("Grant");
            w.start_with(
                "Grantee",
                &[
                    ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
                    ("xsi:type", "CanonicalUser"),
                ],
            )
            .elem("ID", &owner)
            .end("Grantee");
            w.elem("Permission", "FULL_CONTROL");
            w.end("Grant").end("AccessControlList");
            w.end("AccessControlPolicy");
        }
        BucketConfig::Tagging => {
            w.start_ns("Tagging", NS).start("TagSet");
            for t in &b.tags {
                w.start("Tag")
                    .elem("Key", &t.key)
                    .elem("Value", &t.value)
                    .end("Tag");
            }
            w.end("TagSet").end("Tagging");
        }
        // Answered above.
        BucketConfig::Cors
        | BucketConfig::Lifecycle
        | BucketConfig::Website
        | BucketConfig::ObjectLock
        | BucketConfig::Replication => {}
    }
    Ok(xml_response(w.finish()))
}
