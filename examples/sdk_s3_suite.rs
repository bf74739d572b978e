//! aws-sdk-rust's S3 client against podiam, run the way a pod runs it: the
//! credentials come from the default chain (`AWS_ROLE_ARN` +
//! `AWS_WEB_IDENTITY_TOKEN_FILE`), the endpoint from `AWS_ENDPOINT_URL`,
//! path-style addressing.
//!
//! Exercises CreateBucket, PutObject (in-memory bodies with a CRC32 header,
//! and streaming bodies from a file: `aws-chunked` with a trailing checksum,
//! both the signed-chunk form the SDK uses over `http://` and the
//! `STREAMING-UNSIGNED-PAYLOAD-TRAILER` form it uses over `https://`),
//! GetObject (full and Range), HeadObject, ListObjectsV2 (prefix, delimiter,
//! continuation), multipart upload, CopyObject, DeleteObjects, presigned GET
//! and PUT fetched with a plain HTTP/1.1 client, and AccessDenied where the
//! role's policy does not allow the call.
//!
//! Every request the SDK sends is recorded (payload mode, `aws-chunked`,
//! trailer, checksum headers); the uploads' records are part of the JSON
//! summary printed on stdout. Exits non-zero on the first unexpected
//! result.
//!
//! Environment: `AWS_ENDPOINT_URL`, `AWS_REGION`, the web identity variables,
//! `SUITE_BUCKET` (default `sdk-suite`, created here: the role must be
//! allowed `s3:CreateBucket` on it) and `SUITE_DENIED_BUCKET` (default
//! `sdk-denied`, an existing bucket the role has no access to).
//! `SUITE_CRC64NVME=0` skips the CRC64NVME trailer upload (for servers
//! without CRC-64/NVME).

use aws_sdk_s3::Client;
use aws_sdk_s3::config::interceptors::{
    BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier,
};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// Fails the suite with a message.
macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+).into());
        }
    };
}

/// One request as it left the SDK.
#[derive(Debug, Clone)]
struct Sent {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
}

impl Sent {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// What matters for payload signing and checksums.
    fn summary(&self) -> Value {
        let mut v = json!({
            "method": self.method,
            "x-amz-content-sha256": self.header("x-amz-content-sha256"),
            "content-encoding": self.header("content-encoding"),
            "x-amz-trailer": self.header("x-amz-trailer"),
            "x-amz-decoded-content-length": self.header("x-amz-decoded-content-length"),
            "x-amz-sdk-checksum-algorithm": self.header("x-amz-sdk-checksum-algorithm"),
        });
        for (k, val) in &self.headers {
            if k.starts_with("x-amz-checksum-") {
                v[k.as_str()] = json!(val);
            }
        }
        v
    }
}

/// Records every request right before it is sent.
#[derive(Debug, Default, Clone)]
struct Recorder(Arc<Mutex<Vec<Sent>>>);

impl Recorder {
    fn last(&self) -> Sent {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .cloned()
            .expect("a request was sent")
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request();
        let sent = Sent {
            method: req.method().to_string(),
            uri: req.uri().to_string(),
            headers: req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect(),
        };
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(sent);
        Ok(())
    }
}

/// Makes the SDK encode request bodies as it does for an `https://`
/// endpoint: its `aws-chunked` interceptor picks chunk signing
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`) for `http://` URIs and
/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` for `https://` ones. This
/// client-level interceptor runs before the operation's own: it shows the
/// URI as `https://` while the request is signed and encoded, and puts
/// `http://` back before it is sent. The scheme is not part of a SigV4
/// signature.
#[derive(Debug)]
struct AsIfTls;

impl Intercept for AsIfTls {
    fn name(&self) -> &'static str {
        "AsIfTls"
    }

    fn modify_before_signing(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request_mut();
        if let Some(rest) = req.uri().strip_prefix("http://") {
            let uri = format!("https://{rest}");
            req.set_uri(uri.as_str())?;
        }
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = ctx.request_mut();
        if let Some(rest) = req.uri().strip_prefix("https://") {
            let uri = format!("http://{rest}");
            req.set_uri(uri.as_str())?;
        }
        Ok(())
    }
}

/// Deterministic pseudo-random bytes.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// MD5 (RFC 1321) in hex: what S3 puts in a single-part ETag. Small enough
/// to keep here rather than add a dependency for an example.
fn md5_hex(input: &[u8]) -> String {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut msg = input.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((input.len() as u64).wrapping_mul(8)).to_le_bytes());
    let mut h: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    for block in msg.chunks(64) {
        let m: Vec<u32> = block
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter()
        .flat_map(|x| x.to_le_bytes())
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The service error code of a failed call (`None` if it succeeded or
/// failed without reaching the service).
fn code_of<T, E: ProvideErrorMetadata>(r: &std::result::Result<T, E>) -> Option<String> {
    r.as_ref().err().and_then(|e| e.code().map(str::to_string))
}

/// A response from the plain HTTP client.
struct Plain {
    status: u16,
    body: Vec<u8>,
}

/// One HTTP/1.1 request over a fresh TCP connection: no SDK, no signing,
/// exactly what a browser or curl does with a presigned URL.
fn plain_http(method: &str, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Plain> {
    let rest = uri
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {uri}"))?;
    let (authority, target) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = std::net::TcpStream::connect(authority)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {authority}\r\n");
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("content-length") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = Vec::new();
        let mut b = &body[..];
        while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16)?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&b[i + 2..i + 2 + n]);
            b = &b[i + 2 + n + 2..];
        }
        body = out;
    }
    Ok(Plain { status, body })
}

async fn body_of(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Result<Vec<u8>> {
    Ok(out.body.collect().await?.into_bytes().to_vec())
}

#[tokio::main]
async fn main() {
    match run().await {
        Ok(summary) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).unwrap_or_default()
            );
            println!("SDK S3 SUITE OK");
        }
        Err(e) => {
            eprintln!("sdk_s3_suite: FAILED: {e}");
            std::process::exit(1);
        }
    }
}

async fn run() -> Result<Value> {
    let bucket = std::env::var("SUITE_BUCKET").unwrap_or_else(|_| "sdk-suite".into());
    let denied_bucket =
        std::env::var("SUITE_DENIED_BUCKET").unwrap_or_else(|_| "sdk-denied".into());
    let work = std::env::temp_dir().join(format!("sdk-s3-suite-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = suite(&bucket, &denied_bucket, &work).await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn suite(bucket: &str, denied_bucket: &str, work: &std::path::Path) -> Result<Value> {
    check!(
        md5_hex(b"") == "d41d8cd98f00b204e9800998ecf8427e"
            && md5_hex(b"The quick brown fox jumps over the lazy dog")
                == "9e107d9d372bb6826bd81d3542a419d6",
        "md5 self-test"
    );
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let rec = Recorder::default();
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(true)
        .interceptor(rec.clone())
        .build();
    let s3 = Client::from_conf(conf.clone());
    let tls_like = Client::from_conf(conf.to_builder().interceptor(AsIfTls).build());
    let mut summary = json!({});

    // Who we are (through the same chain): a web identity session.
    let me = aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await?;
    let arn = me.arn().unwrap_or_default().to_string();
    check!(arn.contains(":assumed-role/"), "not a role session: {arn}");
    summary["caller"] = json!(arn);

    // CreateBucket.
    s3.create_bucket().bucket(bucket).send().await?;
    let head = s3.head_bucket().bucket(bucket).send().await;
    check!(head.is_ok(), "HeadBucket after CreateBucket: {head:?}");
    summary["create_bucket"] = json!(bucket);

    // PutObject, in-memory body: the SDK puts the checksum in a header.
    let small = b"hello from aws-sdk-rust".to_vec();
    let r = s3
        .put_object()
        .bucket(bucket)
        .key("small.txt")
        .content_type("text/plain")
        .metadata("origin", "sdk")
        .body(ByteStream::from(small.clone()))
        .send()
        .await?;
    check!(
        r.e_tag() == Some(format!("\"{}\"", md5_hex(&small)).as_str()),
        "small ETag {:?}",
        r.e_tag()
    );
    let mut uploads = vec![json!({"put": "small.txt (in-memory)", "sent": rec.last().summary()})];

    // PutObject, streaming body from a file, the SDK's default checksum
    // (a trailer on an aws-chunked body), as sent to this http:// endpoint.
    let file_data = data(300 * 1024 + 17, 1);
    let path = work.join("stream.bin");
    std::fs::write(&path, &file_data)?;
    let r = s3
        .put_object()
        .bucket(bucket)
        .key("stream/default.bin")
        .body(ByteStream::from_path(&path).await?)
        .send()
        .await?;
    let sent = rec.last();
    check!(
        sent.header("content-encoding") == Some("aws-chunked"),
        "streaming upload not aws-chunked: {:?}",
        sent.summary()
    );
    let trailer = sent.header("x-amz-trailer").unwrap_or_default().to_string();
    check!(
        trailer.starts_with("x-amz-checksum-"),
        "no checksum trailer: {:?}",
        sent.summary()
    );
    check!(
        r.e_tag() == Some(format!("\"{}\"", md5_hex(&file_data)).as_str()),
        "streamed ETag {:?}",
        r.e_tag()
    );
    let default_mode = sent
        .header("x-amz-content-sha256")
        .unwrap_or_default()
        .to_string();
    summary["default_streaming_upload"] = json!({
        "x-amz-content-sha256": default_mode,
        "x-amz-trailer": trailer,
        "response_checksum_crc32": r.checksum_crc32(),
        "response_checksum_crc64nvme": r.checksum_crc64_nvme(),
    });
    uploads.push(json!({"put": "stream/default.bin (from_path, http://)", "sent": sent.summary()}));

    // The same upload encoded as for https://: STREAMING-UNSIGNED-PAYLOAD-TRAILER,
    // once per trailer algorithm the SDK offers.
    let mut algorithms = vec![
        (None, "default"),
        (Some(ChecksumAlgorithm::Crc32), "crc32"),
        (Some(ChecksumAlgorithm::Crc32C), "crc32c"),
        (Some(ChecksumAlgorithm::Sha1), "sha1"),
        (Some(ChecksumAlgorithm::Sha256), "sha256"),
    ];
    if std::env::var("SUITE_CRC64NVME").as_deref() != Ok("0") {
        algorithms.push((Some(ChecksumAlgorithm::Crc64Nvme), "crc64nvme"));
    }
    for (alg, name) in algorithms {
        let key = format!("stream/unsigned-trailer-{name}.bin");
        let r = tls_like
            .put_object()
            .bucket(bucket)
            .key(&key)
            .set_checksum_algorithm(alg.clone())
            .body(ByteStream::from_path(&path).await?)
            .send()
            .await;
        let sent = rec.last();
        let r = r.map_err(|e| {
            format!(
                "unsigned-trailer upload ({name}) failed: {}: {:?}; sent {}",
                e.code().unwrap_or("?"),
                e.message(),
                sent.summary()
            )
        })?;
        check!(
            sent.header("x-amz-content-sha256") == Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            "as-if-TLS upload was not STREAMING-UNSIGNED-PAYLOAD-TRAILER: {}",
            sent.summary()
        );
        check!(
            sent.uri.starts_with("http://"),
            "sent to {} instead of the http:// endpoint",
            sent.uri
        );
        check!(
            r.e_tag() == Some(format!("\"{}\"", md5_hex(&file_data)).as_str()),
            "{key} ETag {:?}",
            r.e_tag()
        );
        // podiam verified the trailer against the body and echoes it.
        let echoed = match alg.unwrap_or(ChecksumAlgorithm::Crc32) {
            ChecksumAlgorithm::Crc32 => r.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => r.checksum_crc32_c(),
            ChecksumAlgorithm::Sha1 => r.checksum_sha1(),
            ChecksumAlgorithm::Sha256 => r.checksum_sha256(),
            ChecksumAlgorithm::Crc64Nvme => r.checksum_crc64_nvme(),
            _ => None,
        }
        .map(str::to_string);
        check!(
            echoed.is_some(),
            "{key}: no checksum in the PutObject response"
        );
        // GetObject validates the stored checksum (x-amz-checksum-mode: ENABLED).
        let back = body_of(s3.get_object().bucket(bucket).key(&key).send().await?).await?;
        check!(back == file_data, "{key} differs after the round trip");
        uploads.push(json!({
            "put": format!("{key} (from_path, as over https://)"),
            "sent": sent.summary(),
            "response_checksum": echoed,
        }));
    }
    summary["uploads"] = json!(uploads);

    // GetObject: full (with the SDK's response checksum validation) and Range.
    let g = s3
        .get_object()
        .bucket(bucket)
        .key("stream/default.bin")
        .send()
        .await?;
    let validated = g.checksum_crc32().map(str::to_string);
    check!(
        body_of(g).await? == file_data,
        "GetObject returned other bytes"
    );
    let g = s3
        .get_object()
        .bucket(bucket)
        .key("stream/default.bin")
        .range("bytes=1000-1999")
        .send()
        .await?;
    check!(
        g.content_range() == Some(&*format!("bytes 1000-1999/{}", file_data.len())),
        "Content-Range {:?}",
        g.content_range()
    );
    check!(
        body_of(g).await? == file_data[1000..2000],
        "Range GET returned other bytes"
    );
    let g = s3
        .get_object()
        .bucket(bucket)
        .key("small.txt")
        .range("bytes=-3")
        .send()
        .await?;
    check!(body_of(g).await? == b"ust", "suffix range");
    let bad = s3
        .get_object()
        .bucket(bucket)
        .key("small.txt")
        .range("bytes=5000-")
        .send()
        .await;
    check!(
        code_of(&bad).as_deref() == Some("InvalidRange"),
        "unsatisfiable range: {:?}",
        code_of(&bad)
    );
    let missing = s3.get_object().bucket(bucket).key("missing").send().await;
    check!(
        missing
            .as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .is_some_and(|e| e.is_no_such_key()),
        "GetObject of a missing key: {:?}",
        code_of(&missing)
    );
    summary["get_object"] =
        json!({"full": true, "range": "bytes=1000-1999", "validated_crc32": validated});

    // HeadObject.
    let h = s3
        .head_object()
        .bucket(bucket)
        .key("small.txt")
        .send()
        .await?;
    check!(
        h.content_length() == Some(small.len() as i64),
        "HeadObject length"
    );
    check!(
        h.content_type() == Some("text/plain"),
        "HeadObject content type"
    );
    check!(
        h.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str)
            == Some("sdk"),
        "HeadObject metadata {:?}",
        h.metadata()
    );
    summary["head_object"] = json!({"content_length": h.content_length(), "etag": h.e_tag()});

    // ListObjectsV2: prefix + delimiter, then pages with continuation tokens.
    let keys = [
        "list/a",
        "list/b",
        "list/c d",
        "list/sub/1",
        "list/sub/2",
        "list/zz/3",
    ];
    for k in keys {
        s3.put_object()
            .bucket(bucket)
            .key(k)
            .body(ByteStream::from(k.as_bytes().to_vec()))
            .send()
            .await?;
    }
    let r = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("list/")
        .delimiter("/")
        .send()
        .await?;
    let objs: Vec<&str> = r.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = r
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    check!(
        objs == ["list/a", "list/b", "list/c d"],
        "delimited keys {objs:?}"
    );
    check!(
        prefixes == ["list/sub/", "list/zz/"],
        "common prefixes {prefixes:?}"
    );
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let r = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix("list/")
            .max_keys(4)
            .set_continuation_token(token.take())
            .send()
            .await?;
        pages += 1;
        check!(r.key_count().unwrap_or(0) <= 4, "page too long");
        seen.extend(
            r.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        match r.next_continuation_token() {
            Some(t) if r.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    check!(seen == keys, "paginated keys {seen:?}");
    check!(pages == 2, "{pages} pages");
    let mut paged = Vec::new();
    let mut p = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("list/")
        .max_keys(2)
        .into_paginator()
        .send();
    while let Some(page) = p.next().await {
        paged.extend(
            page?
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
    }
    check!(paged == keys, "paginator keys {paged:?}");
    summary["list_objects_v2"] = json!({
        "delimited": {"contents": objs, "common_prefixes": prefixes},
        "continuation_pages_of_4": pages,
        "paginator_pages_of_2": keys.len().div_ceil(2),
    });

    // Multipart: a 5 MiB in-memory part and a streamed (aws-chunked) last part.
    let mp = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("mp.bin")
        .content_type("application/x-mp")
        .send()
        .await?;
    let upload_id = mp.upload_id().ok_or("no UploadId")?.to_string();
    let p1 = data(5 * 1024 * 1024, 2);
    let p2 = data(123_457, 3);
    let p2_path = work.join("part2.bin");
    std::fs::write(&p2_path, &p2)?;
    let e1 = s3
        .upload_part()
        .bucket(bucket)
        .key("mp.bin")
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from(p1.clone()))
        .send()
        .await?;
    let e2 = s3
        .upload_part()
        .bucket(bucket)
        .key("mp.bin")
        .upload_id(&upload_id)
        .part_number(2)
        .body(ByteStream::from_path(&p2_path).await?)
        .send()
        .await?;
    let part2_sent = rec.last();
    check!(
        part2_sent.header("content-encoding") == Some("aws-chunked"),
        "streamed part not aws-chunked: {}",
        part2_sent.summary()
    );
    let parts = s3
        .list_parts()
        .bucket(bucket)
        .key("mp.bin")
        .upload_id(&upload_id)
        .send()
        .await?;
    check!(parts.parts().len() == 2, "ListParts {:?}", parts.parts());
    let done = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key("mp.bin")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(e1.e_tag().unwrap_or_default())
                        .build(),
                )
                .parts(
                    CompletedPart::builder()
                        .part_number(2)
                        .e_tag(e2.e_tag().unwrap_or_default())
                        .build(),
                )
                .build(),
        )
        .send()
        .await?;
    let mp_etag = done.e_tag().unwrap_or_default().to_string();
    check!(mp_etag.ends_with("-2\""), "multipart ETag {mp_etag}");
    let back = body_of(s3.get_object().bucket(bucket).key("mp.bin").send().await?).await?;
    check!(
        back.len() == p1.len() + p2.len()
            && back[..p1.len()] == p1[..]
            && back[p1.len()..] == p2[..],
        "multipart object differs"
    );
    // Abort.
    let ab = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("aborted.bin")
        .send()
        .await?;
    s3.abort_multipart_upload()
        .bucket(bucket)
        .key("aborted.bin")
        .upload_id(ab.upload_id().unwrap_or_default())
        .send()
        .await?;
    summary["multipart"] = json!({
        "etag": mp_etag,
        "size": back.len(),
        "part2_sent": part2_sent.summary(),
    });

    // CopyObject.
    let c = s3
        .copy_object()
        .bucket(bucket)
        .key("copy.txt")
        .copy_source(format!("{bucket}/small.txt"))
        .send()
        .await?;
    let copy_etag = c
        .copy_object_result()
        .and_then(|r| r.e_tag())
        .unwrap_or_default()
        .to_string();
    check!(
        copy_etag == format!("\"{}\"", md5_hex(&small)),
        "CopyObject ETag {copy_etag}"
    );
    let g = s3
        .get_object()
        .bucket(bucket)
        .key("copy.txt")
        .send()
        .await?;
    check!(
        g.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str)
            == Some("sdk"),
        "copied metadata"
    );
    check!(body_of(g).await? == small, "copied bytes");
    summary["copy_object"] = json!({"etag": copy_etag});

    // DeleteObjects.
    let del = s3
        .delete_objects()
        .bucket(bucket)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("list/a").build()?)
                .objects(ObjectIdentifier::builder().key("list/b").build()?)
                .objects(ObjectIdentifier::builder().key("never-existed").build()?)
                .build()?,
        )
        .send()
        .await?;
    let mut deleted: Vec<&str> = del.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort();
    check!(
        deleted == ["list/a", "list/b", "never-existed"],
        "deleted {deleted:?}"
    );
    check!(
        del.errors().is_empty(),
        "DeleteObjects errors {:?}",
        del.errors()
    );
    let gone = s3.head_object().bucket(bucket).key("list/a").send().await;
    check!(
        gone.as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .is_some_and(|e| e.is_not_found()),
        "HeadObject after delete: {:?}",
        gone.map(|_| ())
    );
    summary["delete_objects"] = json!({"deleted": deleted});

    // Presigned GET and PUT, fetched without the SDK.
    let presign = PresigningConfig::expires_in(Duration::from_secs(300))?;
    let url = s3
        .get_object()
        .bucket(bucket)
        .key("small.txt")
        .presigned(presign.clone())
        .await?;
    let hdrs: Vec<(&str, &str)> = url.headers().collect();
    let got = plain_http("GET", url.uri(), &hdrs, b"")?;
    check!(
        got.status == 200 && got.body == small,
        "presigned GET: {} {}",
        got.status,
        String::from_utf8_lossy(&got.body)
    );
    check!(
        url.uri().contains("X-Amz-Security-Token="),
        "presigned URL without the session token"
    );
    let put_body = b"uploaded through a presigned PUT".to_vec();
    let purl = s3
        .put_object()
        .bucket(bucket)
        .key("presigned.txt")
        .presigned(presign.clone())
        .await?;
    let hdrs: Vec<(&str, &str)> = purl.headers().collect();
    let put = plain_http("PUT", purl.uri(), &hdrs, &put_body)?;
    check!(
        put.status == 200,
        "presigned PUT: {} {}",
        put.status,
        String::from_utf8_lossy(&put.body)
    );
    let back = body_of(
        s3.get_object()
            .bucket(bucket)
            .key("presigned.txt")
            .send()
            .await?,
    )
    .await?;
    check!(back == put_body, "presigned PUT stored other bytes");
    // A tampered presigned URL is refused.
    let tampered = url.uri().replace("small.txt", "copy.txt");
    let t = plain_http("GET", &tampered, &[], b"")?;
    check!(
        t.status == 403 && String::from_utf8_lossy(&t.body).contains("SignatureDoesNotMatch"),
        "tampered presigned URL: {}",
        t.status
    );
    summary["presigned"] = json!({"get": got.status, "put": put.status, "tampered_get": t.status});

    // AccessDenied where the role's policy does not allow the call.
    let mut denied = serde_json::Map::new();
    let r = s3
        .put_object()
        .bucket(denied_bucket)
        .key("x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    check!(
        code_of(&r).as_deref() == Some("AccessDenied"),
        "PutObject into {denied_bucket}: {:?}",
        code_of(&r)
    );
    let msg = r
        .err()
        .and_then(|e| e.message().map(str::to_string))
        .unwrap_or_default();
    check!(
        msg.contains("is not authorized to perform: s3:PutObject"),
        "AccessDenied message {msg}"
    );
    denied.insert("put_object_other_bucket".into(), json!(msg));
    let r = s3.list_objects_v2().bucket(denied_bucket).send().await;
    check!(
        code_of(&r).as_deref() == Some("AccessDenied"),
        "ListObjectsV2 of {denied_bucket}: {:?}",
        code_of(&r)
    );
    denied.insert("list_objects_v2_other_bucket".into(), json!("AccessDenied"));
    let r = s3.delete_bucket().bucket(bucket).send().await;
    check!(
        code_of(&r).as_deref() == Some("AccessDenied"),
        "DeleteBucket: {:?}",
        code_of(&r)
    );
    denied.insert("delete_bucket".into(), json!("AccessDenied"));
    let r = s3
        .get_object()
        .bucket(denied_bucket)
        .key("x")
        .presigned(presign)
        .await?;
    let g = plain_http("GET", r.uri(), &[], b"")?;
    check!(
        g.status == 403 && String::from_utf8_lossy(&g.body).contains("<Code>AccessDenied</Code>"),
        "presigned GET from {denied_bucket}: {}",
        g.status
    );
    denied.insert("presigned_get_other_bucket".into(), json!(g.status));
    summary["access_denied"] = Value::Object(denied);

    Ok(summary)
}
