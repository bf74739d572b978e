//! S3 with IAM: the seed walkthrough with the real aws CLI as a pod, a
//! boto3 suite over the operations, and every denial path with S3's codes.

use super::common::*;
use super::raw::admin_credentials;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use podiam_sigv4::{Credentials, PayloadMode, SigningParams, sign};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use time::OffsetDateTime;

// ------------------------------------------------------------ helpers

/// A raw S3 response.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn code(&self) -> String {
        let t = self.text();
        t.split_once("<Code>")
            .and_then(|(_, r)| r.split_once("</Code>"))
            .map(|(c, _)| c.to_string())
            .unwrap_or_default()
    }
}

/// Sends `head` + `body` over a fresh connection and reads the response.
fn send(addr: &str, head: &str, body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw.get(split + 4..).unwrap_or_default().to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(i) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
}

/// A SigV4-signed S3 request built by hand, so tests control every part.
struct S3Raw<'a> {
    addr: &'a str,
    creds: Credentials,
    time: OffsetDateTime,
    host: String,
}

impl<'a> S3Raw<'a> {
    fn new(addr: &'a str, creds: Credentials) -> Self {
        S3Raw {
            addr,
            creds,
            time: OffsetDateTime::now_utc(),
            host: addr.to_string(),
        }
    }

    fn request(&self, method: &str, target: &str, extra: &[(&str, &str)], body: &[u8]) -> Resp {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let uri: Uri = format!("http://{}{target}", self.host).parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(&self.host).unwrap());
        for (k, v) in extra {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let params = SigningParams {
            credentials: &self.creds,
            region: "us-east-1",
            service: "s3",
            time: self.time,
            s3: true,
        };
        sign(
            &method,
            &uri,
            &headers,
            &PayloadMode::for_body(body),
            &params,
        )
        .unwrap()
        .apply(&mut headers);
        send(
            self.addr,
            &head(method.as_str(), target, &headers, body.len()),
            body,
        )
    }
}

fn head(method: &str, target: &str, headers: &HeaderMap, len: usize) -> String {
    let mut h = format!("{method} {target} HTTP/1.1\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    h.push_str(&format!(
        "content-length: {len}\r\nconnection: close\r\n\r\n"
    ));
    h
}

fn unsigned(addr: &str, method: &str, target: &str, host: &str, body: &[u8]) -> Resp {
    send(
        addr,
        &format!(
            "{method} {target} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        ),
        body,
    )
}

fn admin(s: &Server) -> Credentials {
    admin_credentials(&s.data_dir().join("admin-credentials"))
}

/// Session credentials from AssumeRoleWithWebIdentity, optionally with a
/// session policy.
fn web_identity_creds(s: &Server, role: &str, token: &str, policy: Option<&str>) -> Credentials {
    let mut args = vec![
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        role,
        "--role-session-name",
        "s3-it",
        "--web-identity-token",
        token,
    ];
    if let Some(p) = policy {
        args.extend_from_slice(&["--policy", p]);
    }
    let out = ok(&s.aws(&args));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v["Credentials"];
    Credentials::new(
        c["AccessKeyId"].as_str().unwrap(),
        c["SecretAccessKey"].as_str().unwrap(),
    )
    .with_session_token(c["SessionToken"].as_str().unwrap())
}

fn put_role_policy(s: &Server, role: &str, name: &str, doc: &str) {
    let f = s.dir.path().join(format!("rp-{name}.json"));
    std::fs::write(&f, doc).unwrap();
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        role,
        "--policy-name",
        name,
        "--policy-document",
        &format!("file://{}", f.display()),
    ]));
}

fn put_bucket_policy(s: &Server, bucket: &str, doc: &str) -> Output {
    let f = s.dir.path().join(format!("bp-{bucket}.json"));
    std::fs::write(&f, doc).unwrap();
    s.aws(&[
        "s3api",
        "put-bucket-policy",
        "--bucket",
        bucket,
        "--policy",
        &format!("file://{}", f.display()),
    ])
}

/// The seed's role with the seed's policy (`s3:ListBucket` +
/// `s3:ListAllMyBuckets` on `*`) attached as a managed policy.
fn seed_role(s: &Server) -> (String, String) {
    let role = s.setup_irsa("demo", "pod-access-s3-role", "default", "sa-access-s3");
    let pol = s.dir.path().join("seed-policy.json");
    std::fs::write(
        &pol,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"VisualEditor0","Effect":"Allow","Action":["s3:ListBucket","s3:ListAllMyBuckets"],"Resource":"*"}]}"#,
    )
    .unwrap();
    ok(&s.aws(&[
        "iam",
        "create-policy",
        "--policy-name",
        "pod-access-to-s3",
        "--policy-document",
        &format!("file://{}", pol.display()),
    ]));
    ok(&s.aws(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        "pod-access-s3-role",
        "--policy-arn",
        &format!("arn:aws:iam::{ACCOUNT}:policy/pod-access-to-s3"),
    ]));
    let token = s.token("demo", "default", "sa-access-s3", &[]);
    (role, token)
}

const OBJECT_RW: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::seed-bucket/*"}]}"#;

// ------------------------------------------------------------ the seed

#[test]
fn seed_walkthrough_aws_cli_as_pod() {
    let s = Server::start();
    let (role, token) = seed_role(&s);
    ok(&s.aws(&["s3", "mb", "s3://seed-bucket"]));
    ok(&s.aws(&["s3", "mb", "s3://other-bucket"]));

    // The seed's policy lets `aws s3 ls` list buckets …
    let listed = ok(&s.aws_as_pod(&role, &token, &["s3", "ls"]));
    assert!(listed.contains("seed-bucket"), "{listed}");
    assert!(listed.contains("other-bucket"), "{listed}");
    let inside = ok(&s.aws_as_pod(&role, &token, &["s3", "ls", "s3://seed-bucket/"]));
    assert!(inside.trim().is_empty(), "{inside}");

    // … but not copy a file into the bucket.
    let small = s.dir.path().join("small.txt");
    std::fs::write(&small, b"hello from the pod\n").unwrap();
    let denied = s.aws_as_pod(
        &role,
        &token,
        &[
            "s3",
            "cp",
            "--only-show-errors",
            small.to_str().unwrap(),
            "s3://seed-bucket/small.txt",
        ],
    );
    assert!(!denied.status.success());
    let err = String::from_utf8_lossy(&denied.stderr);
    assert!(err.contains("(AccessDenied)"), "{err}");
    assert!(
        err.contains("is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::seed-bucket/small.txt\" because no identity-based policy allows the s3:PutObject action"),
        "{err}"
    );
    // The explanation (policy names) never reaches the caller.
    assert!(!err.contains("pod-access-to-s3"), "{err}");

    // After s3:PutObject / s3:GetObject on the bucket's objects: a 20 MiB
    // round trip (multipart above 8 MiB) is byte-identical.
    put_role_policy(&s, "pod-access-s3-role", "objects", OBJECT_RW);
    let big = s.dir.path().join("big.bin");
    let mut data = vec![0u8; 20 * 1024 * 1024];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(&big, &data).unwrap();
    ok(&s.aws_as_pod(
        &role,
        &token,
        &[
            "s3",
            "cp",
            "--only-show-errors",
            big.to_str().unwrap(),
            "s3://seed-bucket/data/big.bin",
        ],
    ));
    let back = s.dir.path().join("big.back");
    ok(&s.aws_as_pod(
        &role,
        &token,
        &[
            "s3",
            "cp",
            "--only-show-errors",
            "s3://seed-bucket/data/big.bin",
            back.to_str().unwrap(),
        ],
    ));
    assert!(
        std::fs::read(&back).unwrap() == data,
        "20 MiB round trip differs"
    );
    let head = ok(&s.aws(&[
        "s3api",
        "head-object",
        "--bucket",
        "seed-bucket",
        "--key",
        "data/big.bin",
    ]));
    let v: serde_json::Value = serde_json::from_str(&head).unwrap();
    assert_eq!(v["ContentLength"], 20 * 1024 * 1024);
    assert!(
        v["ETag"].as_str().unwrap().ends_with("-3\""),
        "multipart ETag: {head}"
    );
    ok(&s.aws_as_pod(
        &role,
        &token,
        &[
            "s3",
            "cp",
            "--only-show-errors",
            small.to_str().unwrap(),
            "s3://seed-bucket/small.txt",
        ],
    ));
    let listed = ok(&s.aws_as_pod(
        &role,
        &token,
        &["s3", "ls", "--recursive", "s3://seed-bucket/"],
    ));
    assert!(
        listed.contains("data/big.bin") && listed.contains("small.txt"),
        "{listed}"
    );
    // Still no delete, and nothing in the other bucket.
    fails_with(
        &s.aws_as_pod(
            &role,
            &token,
            &[
                "s3api",
                "delete-object",
                "--bucket",
                "seed-bucket",
                "--key",
                "small.txt",
            ],
        ),
        "AccessDenied",
    );
    fails_with(
        &s.aws_as_pod(
            &role,
            &token,
            &[
                "s3api",
                "put-object",
                "--bucket",
                "other-bucket",
                "--key",
                "x",
                "--body",
                small.to_str().unwrap(),
            ],
        ),
        "AccessDenied",
    );
}

// ------------------------------------------------------------ boto3

const BOTO3_SUITE: &str = r#"
import os, io, json, hashlib, urllib.request, urllib.error
import boto3, botocore
from botocore.config import Config

ep = os.environ['AWS_ENDPOINT_URL']
s3 = boto3.client('s3', config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}))
v2 = boto3.client('s3', config=Config(signature_version='s3'))

def code(f, *a, **k):
    try:
        f(*a, **k)
    except botocore.exceptions.ClientError as e:
        return e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']
    raise AssertionError('no error')

# buckets
s3.create_bucket(Bucket='bkt')
s3.create_bucket(Bucket='bkt')  # us-east-1: re-creating your own bucket is a 200
assert code(s3.create_bucket, Bucket='Bad_Name') == ('InvalidBucketName', 400)
assert code(s3.create_bucket, Bucket='bk2', CreateBucketConfiguration={'LocationConstraint': 'eu-west-1'})[0] == 'IllegalLocationConstraintException'
s3.head_bucket(Bucket='bkt')
assert code(s3.head_bucket, Bucket='nope-bucket') == ('404', 404)
assert s3.get_bucket_location(Bucket='bkt')['LocationConstraint'] is None
names = [b['Name'] for b in s3.list_buckets()['Buckets']]
assert 'bkt' in names, names
assert code(s3.list_objects_v2, Bucket='nope-bucket') == ('NoSuchBucket', 404)

# objects, metadata, tags
r = s3.put_object(Bucket='bkt', Key='a/b c+d.txt', Body=b'hello world', ContentType='text/plain',
                  Metadata={'color': 'blue'}, Tagging='team=blue&env=dev')
assert r['ETag'] == '"%s"' % hashlib.md5(b'hello world').hexdigest(), r['ETag']
g = s3.get_object(Bucket='bkt', Key='a/b c+d.txt')
assert g['Body'].read() == b'hello world'
assert g['ContentType'] == 'text/plain'
assert g['Metadata'] == {'color': 'blue'}, g['Metadata']
assert g['TagCount'] == 2
h = s3.head_object(Bucket='bkt', Key='a/b c+d.txt')
assert h['ContentLength'] == 11
tags = s3.get_object_tagging(Bucket='bkt', Key='a/b c+d.txt')['TagSet']
assert sorted((t['Key'], t['Value']) for t in tags) == [('env', 'dev'), ('team', 'blue')], tags
s3.put_object_tagging(Bucket='bkt', Key='a/b c+d.txt', Tagging={'TagSet': [{'Key': 'k', 'Value': 'v'}]})
assert s3.get_object_tagging(Bucket='bkt', Key='a/b c+d.txt')['TagSet'] == [{'Key': 'k', 'Value': 'v'}]
s3.delete_object_tagging(Bucket='bkt', Key='a/b c+d.txt')
assert s3.get_object_tagging(Bucket='bkt', Key='a/b c+d.txt')['TagSet'] == []
assert code(s3.get_object, Bucket='bkt', Key='missing') == ('NoSuchKey', 404)
assert code(s3.head_object, Bucket='bkt', Key='missing') == ('404', 404)

# ranges and conditionals
assert s3.get_object(Bucket='bkt', Key='a/b c+d.txt', Range='bytes=0-4')['Body'].read() == b'hello'
r = s3.get_object(Bucket='bkt', Key='a/b c+d.txt', Range='bytes=-5')
assert r['Body'].read() == b'world' and r['ContentRange'] == 'bytes 6-10/11', r['ContentRange']
assert s3.get_object(Bucket='bkt', Key='a/b c+d.txt', Range='bytes=6-')['Body'].read() == b'world'
assert code(s3.get_object, Bucket='bkt', Key='a/b c+d.txt', Range='bytes=20-') == ('InvalidRange', 416)
# Read again: on a store without object tagging a retag is a self-copy,
# which moves Last-Modified (README, "S3 across replicas").
h = s3.head_object(Bucket='bkt', Key='a/b c+d.txt')
etag = h['ETag']
assert code(s3.get_object, Bucket='bkt', Key='a/b c+d.txt', IfNoneMatch=etag) == ('304', 304)
assert code(s3.get_object, Bucket='bkt', Key='a/b c+d.txt', IfMatch='"nope"') == ('PreconditionFailed', 412)
assert s3.get_object(Bucket='bkt', Key='a/b c+d.txt', IfMatch=etag)['Body'].read() == b'hello world'
assert code(s3.get_object, Bucket='bkt', Key='a/b c+d.txt', IfModifiedSince=h['LastModified']) == ('304', 304)
assert code(s3.get_object, Bucket='bkt', Key='a/b c+d.txt',
            IfUnmodifiedSince=h['LastModified'].replace(year=2000)) == ('PreconditionFailed', 412)

# listing: delimiter, pagination, start-after, v1 marker, url encoding
for k in ['l/1', 'l/2', 'l/3', 'l/d/4', 'l/d/5', 'l/e/6', 'l/7 x']:
    s3.put_object(Bucket='bkt', Key=k, Body=k.encode())
r = s3.list_objects_v2(Bucket='bkt', Prefix='l/', Delimiter='/')
assert [o['Key'] for o in r['Contents']] == ['l/1', 'l/2', 'l/3', 'l/7 x'], r
assert [p['Prefix'] for p in r['CommonPrefixes']] == ['l/d/', 'l/e/'], r
seen, kw = [], {}
pages = 0
while True:
    r = s3.list_objects_v2(Bucket='bkt', Prefix='l/', MaxKeys=2, **kw)
    pages += 1
    seen += [o['Key'] for o in r.get('Contents', [])]
    assert r['KeyCount'] <= 2
    if not r['IsTruncated']:
        break
    kw = {'ContinuationToken': r['NextContinuationToken']}
assert seen == ['l/1', 'l/2', 'l/3', 'l/7 x', 'l/d/4', 'l/d/5', 'l/e/6'], seen
assert pages == 4, pages
p = s3.get_paginator('list_objects_v2')
keys = [o['Key'] for page in p.paginate(Bucket='bkt', Prefix='l/', PaginationConfig={'PageSize': 3}) for o in page.get('Contents', [])]
assert keys == seen, keys
r = s3.list_objects_v2(Bucket='bkt', Prefix='l/', StartAfter='l/3')
assert [o['Key'] for o in r['Contents']][0] == 'l/7 x'
r = s3.list_objects(Bucket='bkt', Prefix='l/', Marker='l/2', MaxKeys=2)
assert [o['Key'] for o in r['Contents']] == ['l/3', 'l/7 x'] and r['IsTruncated'], r
r = s3.list_objects_v2(Bucket='bkt', Prefix='l/7', EncodingType='url')
assert r['Contents'][0]['Key'] == 'l/7%20x', r  # asked for explicitly: left encoded
assert code(s3.list_objects_v2, Bucket='bkt', EncodingType='bogus')[0] == 'InvalidArgument'

# copy
r = s3.copy_object(Bucket='bkt', Key='copy.txt', CopySource={'Bucket': 'bkt', 'Key': 'a/b c+d.txt'})
assert r['CopyObjectResult']['ETag'] == etag
assert s3.get_object(Bucket='bkt', Key='copy.txt')['Metadata'] == {'color': 'blue'}
s3.copy_object(Bucket='bkt', Key='copy2.txt', CopySource='bkt/a/b c+d.txt', MetadataDirective='REPLACE',
               Metadata={'x': 'y'}, ContentType='application/x-test')
g = s3.get_object(Bucket='bkt', Key='copy2.txt')
assert g['Metadata'] == {'x': 'y'} and g['ContentType'] == 'application/x-test'
assert code(s3.copy_object, Bucket='bkt', Key='copy.txt', CopySource='bkt/copy.txt')[0] == 'InvalidRequest'
assert code(s3.copy_object, Bucket='bkt', Key='c3', CopySource='bkt/missing') == ('NoSuchKey', 404)

# delete_objects
r = s3.delete_objects(Bucket='bkt', Delete={'Objects': [{'Key': 'l/1'}, {'Key': 'l/2'}, {'Key': 'never-existed'}]})
assert sorted(d['Key'] for d in r['Deleted']) == ['l/1', 'l/2', 'never-existed'], r
assert 'Errors' not in r or not r['Errors'], r
s3.delete_object(Bucket='bkt', Key='l/3')
assert code(s3.get_object, Bucket='bkt', Key='l/3')[0] == 'NoSuchKey'

# multipart by hand
mp = s3.create_multipart_upload(Bucket='bkt', Key='mp.bin', ContentType='application/octet-stream', Metadata={'m': '1'})
uid = mp['UploadId']
p1 = os.urandom(5 * 1024 * 1024)
p2 = b'tail'
e1 = s3.upload_part(Bucket='bkt', Key='mp.bin', UploadId=uid, PartNumber=1, Body=p1)['ETag']
e2 = s3.upload_part(Bucket='bkt', Key='mp.bin', UploadId=uid, PartNumber=2, Body=p2)['ETag']
ups = s3.list_multipart_uploads(Bucket='bkt')['Uploads']
assert [u['UploadId'] for u in ups] == [uid], ups
parts = s3.list_parts(Bucket='bkt', Key='mp.bin', UploadId=uid)['Parts']
assert [(p['PartNumber'], p['Size']) for p in parts] == [(1, len(p1)), (2, 4)], parts
assert code(s3.complete_multipart_upload, Bucket='bkt', Key='mp.bin', UploadId=uid,
            MultipartUpload={'Parts': [{'PartNumber': 2, 'ETag': e2}, {'PartNumber': 1, 'ETag': e1}]})[0] == 'InvalidPartOrder'
assert code(s3.complete_multipart_upload, Bucket='bkt', Key='mp.bin', UploadId=uid,
            MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': '"00"'}]})[0] == 'InvalidPart'
r = s3.complete_multipart_upload(Bucket='bkt', Key='mp.bin', UploadId=uid,
                                 MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': e1}, {'PartNumber': 2, 'ETag': e2}]})
md5s = hashlib.md5(bytes.fromhex(e1.strip('"')) + bytes.fromhex(e2.strip('"'))).hexdigest()
assert r['ETag'] == '"%s-2"' % md5s, r['ETag']
g = s3.get_object(Bucket='bkt', Key='mp.bin')
assert g['Body'].read() == p1 + p2 and g['Metadata'] == {'m': '1'}
assert code(s3.list_parts, Bucket='bkt', Key='mp.bin', UploadId=uid) == ('NoSuchUpload', 404)
# too-small parts, abort
mp2 = s3.create_multipart_upload(Bucket='bkt', Key='small-mp')['UploadId']
f1 = s3.upload_part(Bucket='bkt', Key='small-mp', UploadId=mp2, PartNumber=1, Body=b'x')['ETag']
f2 = s3.upload_part(Bucket='bkt', Key='small-mp', UploadId=mp2, PartNumber=2, Body=b'y')['ETag']
assert code(s3.complete_multipart_upload, Bucket='bkt', Key='small-mp', UploadId=mp2,
            MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': f1}, {'PartNumber': 2, 'ETag': f2}]})[0] == 'EntityTooSmall'
s3.abort_multipart_upload(Bucket='bkt', Key='small-mp', UploadId=mp2)
assert code(s3.abort_multipart_upload, Bucket='bkt', Key='small-mp', UploadId=mp2) == ('NoSuchUpload', 404)
assert code(s3.upload_part, Bucket='bkt', Key='small-mp', UploadId=mp2, PartNumber=1, Body=b'x') == ('NoSuchUpload', 404)

# upload_fileobj (the transfer manager: multipart above its threshold)
big = os.urandom(9 * 1024 * 1024)
s3.upload_fileobj(io.BytesIO(big), 'bkt', 'tm.bin')
buf = io.BytesIO()
s3.download_fileobj('bkt', 'tm.bin', buf)
assert buf.getvalue() == big
# The transfer manager's multipart copy: UploadPartCopy with ranges.
from boto3.s3.transfer import TransferConfig
five = 5 * 1024 * 1024
s3.copy({'Bucket': 'bkt', 'Key': 'tm.bin'}, 'bkt', 'tm-copy.bin', Config=TransferConfig(multipart_threshold=five, multipart_chunksize=five))
assert s3.get_object(Bucket='bkt', Key='tm-copy.bin')['Body'].read() == big
assert s3.head_object(Bucket='bkt', Key='tm-copy.bin')['ETag'].endswith('-2"')
up = s3.create_multipart_upload(Bucket='bkt', Key='pc')['UploadId']
r = s3.upload_part_copy(Bucket='bkt', Key='pc', UploadId=up, PartNumber=1, CopySource={'Bucket': 'bkt', 'Key': 'tm.bin'}, CopySourceRange='bytes=10-19')
assert r['CopyPartResult']['ETag'] == '"%s"' % hashlib.md5(big[10:20]).hexdigest()
s3.complete_multipart_upload(Bucket='bkt', Key='pc', UploadId=up, MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': r['CopyPartResult']['ETag']}]})
assert s3.get_object(Bucket='bkt', Key='pc')['Body'].read() == big[10:20]

# presigned GET and PUT
url = s3.generate_presigned_url('get_object', Params={'Bucket': 'bkt', 'Key': 'a/b c+d.txt'}, ExpiresIn=300)
assert urllib.request.urlopen(url).read() == b'hello world'
url = s3.generate_presigned_url('put_object', Params={'Bucket': 'bkt', 'Key': 'presigned.txt'}, ExpiresIn=300)
req = urllib.request.Request(url, data=b'via presigned put', method='PUT')
assert urllib.request.urlopen(req).status == 200
assert s3.get_object(Bucket='bkt', Key='presigned.txt')['Body'].read() == b'via presigned put'
try:
    urllib.request.urlopen(v2.generate_presigned_url('get_object', Params={'Bucket': 'bkt', 'Key': 'presigned.txt'}))
    raise AssertionError('SigV2 accepted')
except urllib.error.HTTPError as e:
    assert e.code == 400 and b'Please use AWS4-HMAC-SHA256' in e.read()
bad = url.replace('X-Amz-Signature=', 'X-Amz-Signature=0')
try:
    urllib.request.urlopen(urllib.request.Request(bad[:-1], data=b'x', method='PUT'))
    raise AssertionError('tampered presigned URL accepted')
except urllib.error.HTTPError as e:
    assert e.code in (400, 403), e.code
try:
    urllib.request.urlopen(ep + '/bkt/presigned.txt')
    raise AssertionError('anonymous read accepted')
except urllib.error.HTTPError as e:
    assert e.code == 403 and b'<Code>AccessDenied</Code>' in e.read()

# bucket policy
assert code(s3.get_bucket_policy, Bucket='bkt') == ('NoSuchBucketPolicy', 404)
assert code(s3.put_bucket_policy, Bucket='bkt', Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}')[0] == 'MalformedPolicy'
assert code(s3.put_bucket_policy, Bucket='bkt', Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::elsewhere/*"}]}')[0] == 'MalformedPolicy'
pol = '{"Version":"2012-10-17","Statement":[{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/public/*"}]}'
s3.put_bucket_policy(Bucket='bkt', Policy=pol)
assert json.loads(s3.get_bucket_policy(Bucket='bkt')['Policy']) == json.loads(pol)
s3.put_object(Bucket='bkt', Key='public/readme', Body=b'anyone')
assert urllib.request.urlopen(ep + '/bkt/public/readme').read() == b'anyone'
try:
    urllib.request.urlopen(ep + '/bkt/presigned.txt')
    raise AssertionError('anonymous read outside public/ accepted')
except urllib.error.HTTPError as e:
    assert e.code == 403
anon = boto3.client('s3', config=Config(signature_version=botocore.UNSIGNED))
assert anon.get_object(Bucket='bkt', Key='public/readme')['Body'].read() == b'anyone'
assert code(anon.list_objects_v2, Bucket='bkt') == ('AccessDenied', 403)
assert code(anon.list_buckets) == ('AccessDenied', 403)
# The S3 User Guide's "restricting access to a specific HTTP referer".
pol = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/public/*","Condition":{"StringLike":{"aws:Referer":["https://www.example.com/*"]}}}]}'
s3.put_bucket_policy(Bucket='bkt', Policy=pol)
ref = lambda r: urllib.request.Request(ep + '/bkt/public/readme', headers={'Referer': r})
assert urllib.request.urlopen(ref('https://www.example.com/page')).read() == b'anyone'
for r in ('https://elsewhere.example/', None):
    try:
        urllib.request.urlopen(ref(r) if r else ep + '/bkt/public/readme')
        raise AssertionError('referer %r accepted' % r)
    except urllib.error.HTTPError as e:
        assert e.code == 403
# s3:max-keys is present on every ListBucket (1000 when the request names none).
pol = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bkt","Condition":{"NumericGreaterThan":{"s3:max-keys":"100"}}}]}'
s3.put_bucket_policy(Bucket='bkt', Policy=pol)
assert code(s3.list_objects_v2, Bucket='bkt') == ('AccessDenied', 403)
assert s3.list_objects_v2(Bucket='bkt', MaxKeys=100)['MaxKeys'] == 100
s3.delete_bucket_policy(Bucket='bkt')
assert code(anon.get_object, Bucket='bkt', Key='public/readme') == ('AccessDenied', 403)

# Configurations podiam cannot set read as S3 answers for a bucket where
# they never were (what Terraform's aws_s3_bucket reads after creating one).
assert 'Status' not in s3.get_bucket_versioning(Bucket='bkt')
acl = s3.get_bucket_acl(Bucket='bkt')
assert acl['Grants'] == [{'Grantee': {'ID': acl['Owner']['ID'], 'Type': 'CanonicalUser'}, 'Permission': 'FULL_CONTROL'}], acl
assert acl['Owner']['ID'] == s3.list_buckets()['Owner']['ID']
assert s3.get_bucket_request_payment(Bucket='bkt')['Payer'] == 'BucketOwner'
rules = s3.get_bucket_encryption(Bucket='bkt')['ServerSideEncryptionConfiguration']['Rules']
assert rules == [{'ApplyServerSideEncryptionByDefault': {'SSEAlgorithm': 'AES256'}, 'BucketKeyEnabled': False}], rules
assert 'LoggingEnabled' not in s3.get_bucket_logging(Bucket='bkt')
assert 'Status' not in s3.get_bucket_accelerate_configuration(Bucket='bkt')
n = s3.get_bucket_notification_configuration(Bucket='bkt')
assert not any(k.endswith('Configurations') for k in n), n
for call, err in [(s3.get_bucket_tagging, 'NoSuchTagSet'), (s3.get_bucket_cors, 'NoSuchCORSConfiguration'),
                  (s3.get_bucket_lifecycle_configuration, 'NoSuchLifecycleConfiguration'),
                  (s3.get_bucket_website, 'NoSuchWebsiteConfiguration'),
                  (s3.get_object_lock_configuration, 'ObjectLockConfigurationNotFoundError'),
                  (s3.get_bucket_replication, 'ReplicationConfigurationNotFoundError')]:
    assert code(call, Bucket='bkt') == (err, 404), (call, code(call, Bucket='bkt'))
    assert code(call, Bucket='no-such-bkt') == ('NoSuchBucket', 404)
    assert code(getattr(anon, call.__name__), Bucket='bkt') == ('AccessDenied', 403)
assert code(s3.put_bucket_versioning, Bucket='bkt', VersioningConfiguration={'Status': 'Enabled'}) == ('NotImplemented', 501)

# delete bucket
assert code(s3.delete_bucket, Bucket='bkt') == ('BucketNotEmpty', 409)
s3.create_bucket(Bucket='empty-bk')
s3.delete_bucket(Bucket='empty-bk')
assert code(s3.head_bucket, Bucket='empty-bk') == ('404', 404)
print('BOTO3 SUITE OK')
"#;

fn python(s: &Server, script: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("python3");
    c.args(["-c", script])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.home())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &s.endpoint);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("python3")
}

/// The boto3 suite as the admin against `s`.
fn run_boto3_suite(s: &Server) {
    let creds = s.data_dir().join("admin-credentials");
    let out = python(
        s,
        BOTO3_SUITE,
        &[("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap())],
    );
    let stdout = ok(&out);
    assert!(stdout.contains("BOTO3 SUITE OK"), "{stdout}");
}

#[test]
fn boto3_suite_over_the_operations() {
    run_boto3_suite(&Server::start());
}

/// podiam with its objects on a fresh 3-node Garage cluster.
pub fn on_garage() -> (super::garage::Garage, Server) {
    let garage = super::garage::Garage::start();
    let key = garage.credentials_file();
    let s = Server::start_with_env(&[
        ("PODIAM_S3_BACKEND", garage.nodes[0].s3.as_str()),
        ("PODIAM_S3_BACKEND_CREDENTIALS", key.to_str().unwrap()),
        ("PODIAM_S3_BACKEND_REGION", "garage"),
    ]);
    (garage, s)
}

/// Object tags live on the backend (as metadata Garage keeps), and a role
/// policy on `s3:ExistingObjectTag/*` is decided with them: podiam reads
/// them before deciding, for the policies that ask.
#[test]
fn existing_object_tags_decide_on_a_garage_backend() {
    let (_garage, s) = on_garage();
    let role = s.setup_irsa("demo", "tagged-reader", "default", "reader");
    put_role_policy(
        &s,
        "tagged-reader",
        "blue-only",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:GetObjectTagging"],"Resource":"arn:aws:s3:::tagged/*","Condition":{"StringEquals":{"s3:ExistingObjectTag/team":"blue"}}}]}"#,
    );
    ok(&s.aws(&["s3", "mb", "s3://tagged"]));
    let body = s.dir.path().join("body");
    std::fs::write(&body, "tagged content").unwrap();
    let body = body.to_str().unwrap();
    for (key, tags) in [("blue", "team=blue"), ("red", "team=red")] {
        ok(&s.aws(&[
            "s3api",
            "put-object",
            "--bucket",
            "tagged",
            "--key",
            key,
            "--body",
            body,
            "--tagging",
            tags,
        ]));
    }
    let token = s.token("demo", "default", "reader", &[]);
    let get = |key: &str| {
        s.aws_as_pod(
            &role,
            &token,
            &[
                "s3api",
                "get-object",
                "--bucket",
                "tagged",
                "--key",
                key,
                "/dev/null",
            ],
        )
    };
    ok(&get("blue"));
    fails_with(&get("red"), "AccessDenied");
    // Retagged: the decision follows the object's tags, and its content stays.
    ok(&s.aws(&[
        "s3api",
        "put-object-tagging",
        "--bucket",
        "tagged",
        "--key",
        "red",
        "--tagging",
        "TagSet=[{Key=team,Value=blue}]",
    ]));
    ok(&get("red"));
    ok(&s.aws(&[
        "s3api",
        "delete-object-tagging",
        "--bucket",
        "tagged",
        "--key",
        "blue",
    ]));
    fails_with(&get("blue"), "AccessDenied");
    let got = s.dir.path().join("got");
    ok(&s.aws(&[
        "s3api",
        "get-object",
        "--bucket",
        "tagged",
        "--key",
        "blue",
        got.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "tagged content");
    let tags = ok(&s.aws(&[
        "s3api",
        "get-object-tagging",
        "--bucket",
        "tagged",
        "--key",
        "red",
    ]));
    assert!(tags.contains("\"blue\""), "{tags}");
    // The reserved metadata never shows.
    let head = ok(&s.aws(&["s3api", "head-object", "--bucket", "tagged", "--key", "red"]));
    assert!(
        !head.contains("podiam") && head.contains("\"TagCount\": 1"),
        "{head}"
    );
}

/// Issue #15: the same suite with the objects on a 3-node Garage cluster
/// (`serve --s3-backend URL`): what S3 answers does not depend on where
/// podiam keeps the bytes.
#[test]
fn boto3_suite_on_a_garage_backend() {
    let (_garage, s) = on_garage();
    run_boto3_suite(&s);
    // Nothing of the objects is on podiam's disk.
    let files: Vec<_> = walk(&s.data_dir().join("s3"))
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert!(files.is_empty(), "{files:?}");
}

// ------------------------------------------------------------ denials

#[test]
fn explicit_deny_in_bucket_policy_and_session_policy_narrowing() {
    let s = Server::start();
    let (role, token) = seed_role(&s);
    ok(&s.aws(&["s3", "mb", "s3://seed-bucket"]));
    put_role_policy(&s, "pod-access-s3-role", "objects", OBJECT_RW);
    let admin = S3Raw::new(&s.addr, admin(&s));
    assert_eq!(
        admin
            .request("PUT", "/seed-bucket/doc.txt", &[], b"doc")
            .status,
        200
    );

    // Allowed by the identity policy.
    let pod = S3Raw::new(&s.addr, web_identity_creds(&s, &role, &token, None));
    let r = pod.request("GET", "/seed-bucket/doc.txt", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "doc"));

    // An explicit deny in the bucket policy wins over the identity Allow.
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"NoPods","Effect":"Deny","Principal":{{"AWS":"{role}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::seed-bucket/*"}}]}}"#
    );
    ok(&put_bucket_policy(&s, "seed-bucket", &deny));
    let r = pod.request("GET", "/seed-bucket/doc.txt", &[], b"");
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "AccessDenied"),
        "{}",
        r.text()
    );
    assert!(
        r.text()
            .contains("with an explicit deny in a resource-based policy"),
        "{}",
        r.text()
    );
    assert!(
        !r.text().contains("NoPods"),
        "explanations stay out of responses"
    );
    // The admin (account root) is not named by the Deny.
    assert_eq!(
        admin
            .request("GET", "/seed-bucket/doc.txt", &[], b"")
            .status,
        200
    );
    ok(&s.aws(&["s3api", "delete-bucket-policy", "--bucket", "seed-bucket"]));
    assert_eq!(
        pod.request("GET", "/seed-bucket/doc.txt", &[], b"").status,
        200
    );

    // A session policy narrows the role: only listing is left.
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;
    let narrowed = S3Raw::new(&s.addr, web_identity_creds(&s, &role, &token, Some(narrow)));
    let r = narrowed.request("GET", "/seed-bucket/doc.txt", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));
    assert!(
        r.text()
            .contains("because no session policy allows the s3:GetObject action"),
        "{}",
        r.text()
    );
    assert_eq!(
        narrowed
            .request("GET", "/seed-bucket?list-type=2", &[], b"")
            .status,
        200
    );
    // The session policy never grants: ListAllMyBuckets is not in it.
    assert_eq!(narrowed.request("GET", "/", &[], b"").status, 403);
}

#[test]
fn principal_tag_variable_in_bucket_policy() {
    let s = Server::start();
    let (role, token) = seed_role(&s);
    ok(&s.aws(&[
        "iam",
        "tag-role",
        "--role-name",
        "pod-access-s3-role",
        "--tags",
        "Key=team,Value=blue",
    ]));
    ok(&s.aws(&["s3", "mb", "s3://teams"]));
    let admin = S3Raw::new(&s.addr, admin(&s));
    for k in ["blue/a", "red/a"] {
        assert_eq!(
            admin
                .request("PUT", &format!("/teams/{k}"), &[], k.as_bytes())
                .status,
            200
        );
    }
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{role}"}},"Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::teams/${{aws:PrincipalTag/team}}/*"}}]}}"#
    );
    ok(&put_bucket_policy(&s, "teams", &policy));
    let pod = S3Raw::new(&s.addr, web_identity_creds(&s, &role, &token, None));
    let r = pod.request("GET", "/teams/blue/a", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "blue/a"));
    assert_eq!(pod.request("PUT", "/teams/blue/new", &[], b"n").status, 200);
    let r = pod.request("GET", "/teams/red/a", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));
    assert_eq!(pod.request("PUT", "/teams/red/new", &[], b"n").status, 403);
}

/// The S3 API reference's permission rules, through boto3 as a role
/// session: a missing key is 404 only with `s3:ListBucket`; tags and ACLs
/// on PutObject need `s3:PutObjectTagging` / `s3:PutObjectAcl`; a named
/// version needs the `…Version` actions; PutObjectTagging's request tags
/// are condition keys; bucket-policy calls from outside the owner's
/// account are 405.
#[test]
fn documented_permission_rules_through_boto3() {
    let s = Server::start();
    let (role, token) = seed_role(&s);
    ok(&s.aws(&["s3", "mb", "s3://seed-bucket"]));
    put_role_policy(&s, "pod-access-s3-role", "objects", OBJECT_RW);
    let wide = web_identity_creds(&s, &role, &token, None);
    let narrow = web_identity_creds(&s, &role, &token, Some(OBJECT_RW));
    let admin = admin(&s);
    let mut env = vec![];
    for (p, c) in [("ADMIN", &admin), ("WIDE", &wide), ("NARROW", &narrow)] {
        env.push((format!("{p}_AK"), c.access_key_id.clone()));
        env.push((format!("{p}_SK"), c.secret_access_key.clone()));
        env.push((
            format!("{p}_ST"),
            c.session_token.clone().unwrap_or_default(),
        ));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = python(&s, PERMISSION_RULES, &env);
    assert!(ok(&out).contains("PERMISSION RULES OK"), "{out:?}");
}

const PERMISSION_RULES: &str = r#"
import json, os, urllib.request, urllib.error
import boto3, botocore
from botocore.config import Config
def client(svc, p):
    return boto3.client(svc, aws_access_key_id=os.environ[p + '_AK'], aws_secret_access_key=os.environ[p + '_SK'], aws_session_token=os.environ[p + '_ST'] or None)
admin, wide, narrow = client('s3', 'ADMIN'), client('s3', 'WIDE'), client('s3', 'NARROW')
iam = client('iam', 'ADMIN')
def err(f, **kw):
    try:
        f(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode'], e.response['Error'].get('Message', '')
    raise AssertionError('allowed: %s %r' % (f.__name__, kw))
def code(f, **kw):
    return err(f, **kw)[:2]
def grant(name, actions, cond=None):
    st = {'Effect': 'Allow', 'Action': actions, 'Resource': 'arn:aws:s3:::seed-bucket/*'}
    if cond:
        st['Condition'] = cond
    iam.put_role_policy(RoleName='pod-access-s3-role', PolicyName=name, PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [st]}))

# A missing key: 404 with s3:ListBucket (the seed's policy), 403 without
# (the session policy leaves it out), and the denial names s3:ListBucket.
admin.put_object(Bucket='seed-bucket', Key='here', Body=b'x')
assert code(wide.head_object, Bucket='seed-bucket', Key='missing') == ('404', 404)
assert code(wide.get_object, Bucket='seed-bucket', Key='missing') == ('NoSuchKey', 404)
assert code(narrow.head_object, Bucket='seed-bucket', Key='missing') == ('403', 403)
c, st, msg = err(narrow.get_object, Bucket='seed-bucket', Key='missing')
assert (c, st) == ('AccessDenied', 403) and 's3:ListBucket on resource: "arn:aws:s3:::seed-bucket"' in msg, msg
assert narrow.get_object(Bucket='seed-bucket', Key='here')['Body'].read() == b'x'
# An anonymous reader of a public prefix gets 403 for a missing key too.
admin.put_bucket_policy(Bucket='seed-bucket', Policy=json.dumps({'Version': '2012-10-17', 'Statement': [
    {'Effect': 'Allow', 'Principal': '*', 'Action': ['s3:GetObject', 's3:GetBucketPolicy'], 'Resource': ['arn:aws:s3:::seed-bucket/*', 'arn:aws:s3:::seed-bucket']}]}))
anon = boto3.client('s3', config=Config(signature_version=botocore.UNSIGNED))
assert anon.get_object(Bucket='seed-bucket', Key='here')['Body'].read() == b'x'
assert code(anon.get_object, Bucket='seed-bucket', Key='missing') == ('AccessDenied', 403)
# Allowed to read the bucket policy, but not of the owner's account: 405.
assert code(anon.get_bucket_policy, Bucket='seed-bucket') == ('MethodNotAllowed', 405)
assert json.loads(admin.get_bucket_policy(Bucket='seed-bucket')['Policy'])['Statement'][0]['Principal'] == '*'
admin.delete_bucket_policy(Bucket='seed-bucket')

# Tags and ACLs on PutObject need their own permissions.
c, st, msg = err(wide.put_object, Bucket='seed-bucket', Key='t', Body=b't', Tagging='team=a')
assert (c, st) == ('AccessDenied', 403) and 's3:PutObjectTagging' in msg, msg
c, st, msg = err(wide.put_object, Bucket='seed-bucket', Key='t', Body=b't', ACL='bucket-owner-full-control')
assert (c, st) == ('AccessDenied', 403) and 's3:PutObjectAcl' in msg, msg
wide.put_object(Bucket='seed-bucket', Key='t', Body=b't')
# ACLs are disabled (Object Ownership "bucket owner enforced", every bucket's
# default): a PUT may carry no ACL but bucket-owner-full-control.
admin.put_object(Bucket='seed-bucket', Key='acl', Body=b'a', ACL='bucket-owner-full-control')
for call, kw in [(admin.put_object, {'Body': b'a'}), (admin.create_multipart_upload, {}),
                 (admin.copy_object, {'CopySource': 'seed-bucket/acl'})]:
    c, st, msg = err(call, Bucket='seed-bucket', Key='acl2', ACL='public-read', **kw)
    assert (c, st, msg) == ('AccessControlListNotSupported', 400, 'The bucket does not allow ACLs'), (c, st, msg)
c, st, msg = err(admin.put_object, Bucket='seed-bucket', Key='acl2', Body=b'a', GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"')
assert (c, st) == ('AccessControlListNotSupported', 400), (c, st, msg)
admin.delete_object(Bucket='seed-bucket', Key='acl')
# The User Guide's tagging example: PutObjectTagging only with Project=X.
grant('tagging', ['s3:PutObjectTagging'], {'StringEquals': {'s3:RequestObjectTag/Project': 'X'}})
wide.put_object(Bucket='seed-bucket', Key='t', Body=b't', Tagging='Project=X')
assert code(wide.put_object, Bucket='seed-bucket', Key='t', Body=b't', Tagging='Project=Y') == ('AccessDenied', 403)
wide.put_object_tagging(Bucket='seed-bucket', Key='t', Tagging={'TagSet': [{'Key': 'Project', 'Value': 'X'}]})
assert code(wide.put_object_tagging, Bucket='seed-bucket', Key='t', Tagging={'TagSet': [{'Key': 'Project', 'Value': 'Y'}]}) == ('AccessDenied', 403)
assert admin.get_object_tagging(Bucket='seed-bucket', Key='t')['TagSet'] == [{'Key': 'Project', 'Value': 'X'}]

# A named version needs the Version actions, with s3:VersionId.
c, st, msg = err(wide.get_object, Bucket='seed-bucket', Key='here', VersionId='null')
assert (c, st) == ('AccessDenied', 403) and 's3:GetObjectVersion' in msg, msg
c, st, msg = err(wide.delete_object, Bucket='seed-bucket', Key='here', VersionId='null')
assert (c, st) == ('AccessDenied', 403) and 's3:DeleteObjectVersion' in msg, msg
r = wide.delete_objects(Bucket='seed-bucket', Delete={'Objects': [{'Key': 'here', 'VersionId': 'null'}]})
assert [(e['Key'], e['VersionId'], e['Code']) for e in r['Errors']] == [('here', 'null', 'AccessDenied')], r
grant('versions', ['s3:GetObjectVersion', 's3:DeleteObjectVersion'], {'StringEquals': {'s3:VersionId': 'null'}})
assert wide.get_object(Bucket='seed-bucket', Key='here', VersionId='null')['Body'].read() == b'x'
# ListObjectVersions needs s3:ListBucketVersions; each object is its null version.
c, st, msg = err(wide.list_object_versions, Bucket='seed-bucket')
assert (c, st) == ('AccessDenied', 403) and 's3:ListBucketVersions' in msg, msg
v = admin.list_object_versions(Bucket='seed-bucket')
assert [(x['Key'], x['VersionId'], x['IsLatest'], x['Size']) for x in v['Versions']] == [('here', 'null', True, 1), ('t', 'null', True, 1)], v
v = admin.list_object_versions(Bucket='seed-bucket', MaxKeys=1)
assert v['IsTruncated'] and v['NextKeyMarker'] == 'here' and v['NextVersionIdMarker'] == 'null', v
v = admin.list_object_versions(Bucket='seed-bucket', KeyMarker='here', VersionIdMarker='null')
assert [x['Key'] for x in v['Versions']] == ['t'] and not v['IsTruncated'], v
assert sorted(o.key for o in boto3.resource('s3', aws_access_key_id=os.environ['ADMIN_AK'], aws_secret_access_key=os.environ['ADMIN_SK']).Bucket('seed-bucket').object_versions.all()) == ['here', 't']
# A copy range outside the source object.
up = admin.create_multipart_upload(Bucket='seed-bucket', Key='pc')['UploadId']
c, st, msg = err(admin.upload_part_copy, Bucket='seed-bucket', Key='pc', UploadId=up, PartNumber=1, CopySource={'Bucket': 'seed-bucket', 'Key': 't'}, CopySourceRange='bytes=0-1')
assert (c, st, msg) == ('InvalidRequest', 400, 'Range specified is not valid for source object of size: 1'), (c, st, msg)
admin.abort_multipart_upload(Bucket='seed-bucket', Key='pc', UploadId=up)
# The store keeps no other versions: refused, never served as the current one.
assert code(admin.get_object, Bucket='seed-bucket', Key='here', VersionId='3HL4kqtJlcpXroDTDmjVBH40Nrjfkd') == ('NotImplemented', 501)
r = wide.delete_objects(Bucket='seed-bucket', Delete={'Objects': [{'Key': 'here', 'VersionId': 'null'}]})
assert [(d['Key'], d['VersionId']) for d in r['Deleted']] == [('here', 'null')], r
assert code(admin.head_object, Bucket='seed-bucket', Key='here') == ('404', 404)
print('PERMISSION RULES OK')
"#;

/// A refusal sent before the body was read closes the connection: with
/// `Expect: 100-continue` the client may send the body anyway, and its
/// bytes must never be read as the next request (boto3 once got a 405 for
/// `xxPUT`, its previous body glued to its next request line).
#[test]
fn an_answer_before_the_body_closes_the_connection() {
    let s = Server::start();
    ok(&s.aws(&["s3", "mb", "s3://bkt"]));
    let mut c = TcpStream::connect(&s.addr).expect("connect");
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    c.write_all(
        b"PUT /bkt/k HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut raw = Vec::new();
    // The server closes: reading to the end returns (a kept-alive
    // connection would time out here instead).
    c.read_to_end(&mut raw)
        .expect("the server closes the connection");
    let r = parse_response(&raw);
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));
    assert_eq!(r.header("connection"), Some("close"));
}

#[test]
fn authentication_failures_have_s3_codes() {
    let s = Server::start();
    let (role, token) = seed_role(&s);
    ok(&s.aws(&["s3", "mb", "s3://seed-bucket"]));
    let good = admin(&s);

    // A signature from another key.
    let forged = S3Raw::new(
        &s.addr,
        Credentials::new(good.access_key_id.clone(), "not-the-secret"),
    );
    let r = forged.request("GET", "/seed-bucket?list-type=2", &[], b"");
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch"),
        "{}",
        r.text()
    );
    assert!(
        r.text()
            .contains("<CanonicalRequest>GET\n/seed-bucket\nlist-type=2"),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains("<StringToSign>AWS4-HMAC-SHA256\n"),
        "{}",
        r.text()
    );

    // An unknown key.
    let unknown = S3Raw::new(&s.addr, Credentials::new("AKIAUNKNOWNUNKNOWN00", "x"));
    let r = unknown.request("GET", "/", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (403, "InvalidAccessKeyId"));

    // Clock skew over 15 minutes, both ways.
    for minutes in [-16, 16] {
        let mut skewed = S3Raw::new(&s.addr, good.clone());
        skewed.time = OffsetDateTime::now_utc() + time::Duration::minutes(minutes);
        let r = skewed.request("GET", "/", &[], b"");
        assert_eq!(
            (r.status, r.code().as_str()),
            (403, "RequestTimeTooSkewed"),
            "{}",
            r.text()
        );
        assert!(
            r.text()
                .contains("<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>")
        );
    }
    let mut slightly = S3Raw::new(&s.addr, good.clone());
    slightly.time = OffsetDateTime::now_utc() - time::Duration::minutes(14);
    assert_eq!(slightly.request("GET", "/", &[], b"").status, 200);

    // A tampered session token.
    let session = web_identity_creds(&s, &role, &token, None);
    let tok = session.session_token.clone().unwrap();
    let mut bytes = tok.into_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    let tampered = Credentials::new(
        session.access_key_id.clone(),
        session.secret_access_key.clone(),
    )
    .with_session_token(String::from_utf8(bytes).unwrap());
    let r = S3Raw::new(&s.addr, tampered).request("GET", "/", &[], b"");
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "InvalidToken"),
        "{}",
        r.text()
    );

    // A session key without its token.
    let bare = Credentials::new(
        session.access_key_id.clone(),
        session.secret_access_key.clone(),
    );
    let r = S3Raw::new(&s.addr, bare).request("GET", "/", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (403, "InvalidAccessKeyId"));

    // An expired session: the same claims, sealed with the server's key with
    // an expiry in the past.
    let expired = expired_copy(&s, &session);
    let r = S3Raw::new(&s.addr, expired).request("GET", "/", &[], b"");
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "ExpiredToken"),
        "{}",
        r.text()
    );

    // The real session still works.
    assert_eq!(
        S3Raw::new(&s.addr, session)
            .request("GET", "/", &[], b"")
            .status,
        200
    );

    // Missing x-amz-content-sha256 on a header-signed request.
    let uri: Uri = format!("http://{}/", s.addr).parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_str(&s.addr).unwrap());
    let params = SigningParams {
        credentials: &good,
        region: "us-east-1",
        service: "s3",
        time: OffsetDateTime::now_utc(),
        s3: false,
    };
    sign(
        &Method::GET,
        &uri,
        &headers,
        &PayloadMode::for_body(b""),
        &params,
    )
    .unwrap()
    .apply(&mut headers);
    let r = send(&s.addr, &head("GET", "/", &headers, 0), b"");
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "InvalidRequest"),
        "{}",
        r.text()
    );

    // Wrong region in the scope.
    let uri: Uri = format!("http://{}/", s.addr).parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_str(&s.addr).unwrap());
    let params = SigningParams {
        credentials: &good,
        region: "eu-west-1",
        service: "s3",
        time: OffsetDateTime::now_utc(),
        s3: true,
    };
    sign(
        &Method::GET,
        &uri,
        &headers,
        &PayloadMode::for_body(b""),
        &params,
    )
    .unwrap()
    .apply(&mut headers);
    let r = send(&s.addr, &head("GET", "/", &headers, 0), b"");
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "AuthorizationHeaderMalformed"),
        "{}",
        r.text()
    );
}

/// Re-seals `session`'s claims with an expiry in the past, with the sealing
/// key from the server's store (what a session issued long ago looks like).
fn expired_copy(s: &Server, session: &Credentials) -> Credentials {
    use podiam_core::session::{Sealer, SealingKey};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = rt
        .block_on(podiam_store::Store::open_sqlite(
            &s.data_dir().join("podiam.db"),
        ))
        .unwrap()
        .with_master_key(
            podiam_store::MasterKey::parse(
                &std::fs::read_to_string(s.data_dir().join("master-key")).unwrap(),
            )
            .unwrap(),
        );
    let keys: Vec<SealingKey> = store
        .list::<podiam_store::SealingKeyRecord>("")
        .unwrap()
        .iter()
        .map(|k| SealingKey {
            id: k.id,
            secret: k.secret.clone(),
            created_at: k.created_at,
            active_from: k.active_from,
        })
        .collect();
    let sealer = Sealer::new(&keys, now()).unwrap();
    let mut claims = (*sealer
        .open(session.session_token.as_deref().unwrap())
        .unwrap())
    .clone();
    claims.expires_at = now() - 60;
    let token = sealer.seal(&claims, &podiam_core::SystemRandom);
    Credentials::new(
        session.access_key_id.clone(),
        session.secret_access_key.clone(),
    )
    .with_session_token(token)
}

// ------------------------------------------------------------ wire details

#[test]
fn streaming_uploads_virtual_hosts_and_key_safety() {
    wire_suite(&Server::start());
}

/// Issue #15: chunk-signed and trailer-checksummed uploads are verified by
/// podiam, then reach Garage (as plain and as unsigned aws-chunked bodies);
/// keys, listings and limits behave the same.
#[test]
fn streaming_uploads_on_a_garage_backend() {
    let (_garage, s) = on_garage();
    wire_suite(&s);
}

fn wire_suite(s: &Server) {
    ok(&s.aws(&["s3", "mb", "s3://wire"]));
    let creds = admin(s);

    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD: chunk signatures verified.
    let chunked = |tamper: bool| -> Resp {
        let data: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let target = "/wire/chunked.bin";
        let uri: Uri = format!("http://{}{target}", s.addr).parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(&s.addr).unwrap());
        headers.insert("content-encoding", HeaderValue::from_static("aws-chunked"));
        headers.insert(
            "x-amz-decoded-content-length",
            HeaderValue::from_str(&data.len().to_string()).unwrap(),
        );
        let params = SigningParams {
            credentials: &creds,
            region: "us-east-1",
            service: "s3",
            time: OffsetDateTime::now_utc(),
            s3: true,
        };
        let out = sign(
            &Method::PUT,
            &uri,
            &headers,
            &PayloadMode::StreamingSigned,
            &params,
        )
        .unwrap();
        out.apply(&mut headers);
        let mut signer = out.chunk_signer();
        let mut body = Vec::new();
        for c in data.chunks(65_536) {
            body.extend(signer.encode_chunk(c));
        }
        body.extend(signer.encode_final());
        if tamper {
            let i = body.len() / 2;
            body[i] ^= 1;
        }
        send(&s.addr, &head("PUT", target, &headers, body.len()), &body)
    };
    let r = chunked(false);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = S3Raw::new(&s.addr, creds.clone()).request("GET", "/wire/chunked.bin", &[], b"");
    assert_eq!(got.body.len(), 150_000);
    let r = chunked(true);
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch"),
        "{}",
        r.text()
    );
    // The failed upload left the object as it was.
    let again = S3Raw::new(&s.addr, creds.clone()).request("GET", "/wire/chunked.bin", &[], b"");
    assert_eq!(again.body, got.body);

    // STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer (good and bad).
    let trailer = |crc: &str| -> Resp {
        let data = b"trailing checksum body".to_vec();
        let target = "/wire/trailer.txt";
        let uri: Uri = format!("http://{}{target}", s.addr).parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(&s.addr).unwrap());
        headers.insert("content-encoding", HeaderValue::from_static("aws-chunked"));
        headers.insert(
            "x-amz-trailer",
            HeaderValue::from_static("x-amz-checksum-crc32"),
        );
        headers.insert(
            "x-amz-decoded-content-length",
            HeaderValue::from_str(&data.len().to_string()).unwrap(),
        );
        let params = SigningParams {
            credentials: &creds,
            region: "us-east-1",
            service: "s3",
            time: OffsetDateTime::now_utc(),
            s3: true,
        };
        sign(
            &Method::PUT,
            &uri,
            &headers,
            &PayloadMode::StreamingUnsignedTrailer,
            &params,
        )
        .unwrap()
        .apply(&mut headers);
        let mut body = podiam_sigv4::encode_unsigned_chunk(&data);
        body.extend(podiam_sigv4::encode_unsigned_final(&[(
            "x-amz-checksum-crc32".into(),
            crc.into(),
        )]));
        send(&s.addr, &head("PUT", target, &headers, body.len()), &body)
    };
    let good = podiam_sigv4::checksum_base64(
        podiam_sigv4::ChecksumAlgorithm::Crc32,
        b"trailing checksum body",
    );
    let r = trailer(&good);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-checksum-crc32"), Some(good.as_str()));
    // Stored with the object: returned when asked for.
    let h = S3Raw::new(&s.addr, creds.clone()).request(
        "HEAD",
        "/wire/trailer.txt",
        &[("x-amz-checksum-mode", "ENABLED")],
        b"",
    );
    assert_eq!(h.header("x-amz-checksum-crc32"), Some(good.as_str()));
    let r = trailer("AAAAAA==");
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "BadDigest"),
        "{}",
        r.text()
    );

    // Conditional writes: If-None-Match: * never replaces, If-Match needs
    // the current ETag (checked by podiam where the store does not).
    let raw = S3Raw::new(&s.addr, creds.clone());
    let put =
        |headers: &[(&str, &str)], body: &[u8]| raw.request("PUT", "/wire/cond", headers, body);
    let first = put(&[("if-none-match", "*")], b"one");
    assert_eq!(first.status, 200, "{}", first.text());
    let one = first.header("etag").expect("etag").to_string();
    let r = put(&[("if-none-match", "*")], b"two");
    assert_eq!(
        (r.status, r.code().as_str()),
        (412, "PreconditionFailed"),
        "{}",
        r.text()
    );
    let r = put(&[("if-match", "\"0123\"")], b"two");
    assert_eq!(
        (r.status, r.code().as_str()),
        (412, "PreconditionFailed"),
        "{}",
        r.text()
    );
    assert_eq!(put(&[("if-match", one.as_str())], b"two").status, 200);
    assert_eq!(raw.request("GET", "/wire/cond", &[], b"").text(), "two");
    let r = raw.request(
        "PUT",
        "/wire/cond-missing",
        &[("if-match", one.as_str())],
        b"x",
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (404, "NoSuchKey"),
        "{}",
        r.text()
    );

    // Virtual-hosted style: the bucket comes from the Host header.
    let mut vh = S3Raw::new(&s.addr, creds.clone());
    let port = s.addr.rsplit(':').next().unwrap();
    vh.host = format!("wire.localhost:{port}");
    let r = vh.request(
        "PUT",
        "/vhost.txt",
        &[("content-type", "text/plain")],
        b"virtual",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = vh.request("GET", "/?list-type=2&prefix=vhost", &[], b"");
    assert!(r.text().contains("<Key>vhost.txt</Key>"), "{}", r.text());
    let path = S3Raw::new(&s.addr, creds.clone()).request("GET", "/wire/vhost.txt", &[], b"");
    assert_eq!(path.text(), "virtual");
    // Unsigned + virtual-hosted is anonymous S3, not STS.
    let r = unsigned(
        &s.addr,
        "GET",
        "/vhost.txt",
        &format!("wire.localhost:{port}"),
        b"",
    );
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));

    // Keys never become paths: traversal, NUL, very long.
    let raw = S3Raw::new(&s.addr, creds.clone());
    for key in [
        "..%2F..%2F..%2Fescaped",
        "../../../escaped2",
        "a%00b",
        "dir/..",
        "%2E%2E",
    ] {
        let r = raw.request("PUT", &format!("/wire/{key}"), &[], key.as_bytes());
        assert_eq!(r.status, 200, "{key}: {}", r.text());
        let g = raw.request("GET", &format!("/wire/{key}"), &[], b"");
        assert_eq!(g.body, key.as_bytes(), "{key}");
    }
    for name in ["escaped", "escaped2"] {
        assert!(!s.dir.path().join(name).exists());
        assert!(!s.data_dir().join(name).exists());
        assert!(!s.data_dir().join("s3").join(name).exists());
    }
    let walk = walk(&s.dir.path().to_path_buf());
    assert!(walk.iter().all(|p| p.starts_with(s.dir.path())));
    assert!(
        !walk.iter().any(|p| p.to_string_lossy().contains("escaped")),
        "{walk:?}"
    );
    let long = format!("/wire/{}", "k".repeat(1025));
    let r = raw.request("PUT", &long, &[], b"x");
    assert_eq!((r.status, r.code().as_str()), (400, "KeyTooLongError"));
    let ok_long = format!("/wire/{}", "k".repeat(1024));
    assert_eq!(raw.request("PUT", &ok_long, &[], b"x").status, 200);
    // A listing shows the keys as given.
    let r = raw.request("GET", "/wire?list-type=2&prefix=..", &[], b"");
    assert!(
        r.text().contains("<Key>../../../escaped</Key>"),
        "{}",
        r.text()
    );

    // 5 GiB cap on a single PUT, checked before reading the body.
    let uri: Uri = format!("http://{}/wire/huge", s.addr).parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_str(&s.addr).unwrap());
    let params = SigningParams {
        credentials: &creds,
        region: "us-east-1",
        service: "s3",
        time: OffsetDateTime::now_utc(),
        s3: true,
    };
    sign(
        &Method::PUT,
        &uri,
        &headers,
        &PayloadMode::Unsigned,
        &params,
    )
    .unwrap()
    .apply(&mut headers);
    let r = send(&s.addr, &head("PUT", "/wire/huge", &headers, 6 << 30), b"");
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "EntityTooLarge"),
        "{}",
        r.text()
    );
}

fn walk(dir: &std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

#[test]
fn kill_9_during_a_put_leaves_the_old_object() {
    let mut s = Server::start();
    ok(&s.aws(&["s3", "mb", "s3://durable"]));
    let creds = admin(&s);
    let raw = S3Raw::new(&s.addr, creds.clone());
    assert_eq!(
        raw.request("PUT", "/durable/obj", &[], b"version one")
            .status,
        200
    );

    // Start a 64 MiB PUT, send 8 MiB of it, then kill -9 the server.
    let target = "/durable/obj";
    let uri: Uri = format!("http://{}{target}", s.addr).parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_str(&s.addr).unwrap());
    let params = SigningParams {
        credentials: &creds,
        region: "us-east-1",
        service: "s3",
        time: OffsetDateTime::now_utc(),
        s3: true,
    };
    sign(
        &Method::PUT,
        &uri,
        &headers,
        &PayloadMode::Unsigned,
        &params,
    )
    .unwrap()
    .apply(&mut headers);
    let mut conn = TcpStream::connect(&s.addr).unwrap();
    conn.write_all(head("PUT", target, &headers, 64 << 20).as_bytes())
        .unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..8 {
        conn.write_all(&chunk).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    s.kill9();
    drop(conn);
    s.restart();
    let raw = S3Raw::new(&s.addr, creds);
    let r = raw.request("GET", "/durable/obj", &[], b"");
    assert_eq!((r.status, r.text().as_str()), (200, "version one"));
    let list = raw.request("GET", "/durable?list-type=2", &[], b"");
    assert!(
        list.text().contains("<KeyCount>1</KeyCount>"),
        "{}",
        list.text()
    );
    // Nothing partial left behind.
    assert_eq!(
        std::fs::read_dir(s.data_dir().join("s3").join("tmp"))
            .unwrap()
            .count(),
        0
    );
}

// ------------------------------------------------------------ aws-sdk-rust

/// The role's policy for the SDK suite: what the suite does in `sdk-suite`,
/// nothing elsewhere (an explicit deny outside it), and no DeleteBucket.
const SDK_SUITE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Bucket","Effect":"Allow","Action":["s3:CreateBucket","s3:ListBucket","s3:ListBucketMultipartUploads"],"Resource":"arn:aws:s3:::sdk-suite"},
 {"Sid":"Objects","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Resource":"arn:aws:s3:::sdk-suite/*"},
 {"Sid":"NothingElse","Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::sdk-suite","arn:aws:s3:::sdk-suite/*"]}]}"#;

#[test]
fn aws_sdk_rust_s3_suite() {
    let s = Server::start();
    let role = s.setup_irsa("demo", "sdk-role", "default", "sdk-app");
    put_role_policy(&s, "sdk-role", "sdk-suite", SDK_SUITE_POLICY);
    ok(&s.aws(&["s3", "mb", "s3://sdk-denied"]));
    let token = s.token("demo", "default", "sdk-app", &[]);
    let f = s.dir.path().join("sdk-s3-token");
    std::fs::write(&f, format!("{token}\n")).unwrap();
    let example = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/sdk_s3_suite");
    assert!(
        example.exists(),
        "build examples first: {}",
        example.display()
    );
    // As a pod: the web identity variables and the endpoint, nothing else.
    let out = Command::new(example)
        .env_clear()
        .env("HOME", s.dir.path())
        .env("TMPDIR", s.dir.path())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ROLE_ARN", &role)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &f)
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("SUITE_BUCKET", "sdk-suite")
        .env("SUITE_DENIED_BUCKET", "sdk-denied")
        .output()
        .unwrap();
    let stdout = ok(&out);
    assert!(stdout.contains("SDK S3 SUITE OK"), "{stdout}");
    let json = stdout.trim().trim_end_matches("SDK S3 SUITE OK").trim();
    let v: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("summary not JSON ({e}): {stdout}"));
    // What the SDK sent, for `--nocapture` readers.
    println!("{json}");
    assert!(
        v["caller"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:sts::000000000000:assumed-role/sdk-role/"),
        "{v}"
    );
    // Over http:// the SDK signs each chunk and the trailer; the CRC32
    // trailer is its default.
    assert_eq!(
        v["default_streaming_upload"]["x-amz-content-sha256"],
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "{v}"
    );
    assert_eq!(
        v["default_streaming_upload"]["x-amz-trailer"], "x-amz-checksum-crc32",
        "{v}"
    );
    // Over https:// it sends STREAMING-UNSIGNED-PAYLOAD-TRAILER (forced in the
    // suite), with every trailer algorithm.
    let unsigned: Vec<&serde_json::Value> = v["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["sent"]["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        .collect();
    let trailers: Vec<&str> = unsigned
        .iter()
        .map(|u| u["sent"]["x-amz-trailer"].as_str().unwrap())
        .collect();
    for t in [
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-sha1",
        "x-amz-checksum-sha256",
        "x-amz-checksum-crc64nvme",
    ] {
        assert!(trailers.contains(&t), "no {t} trailer upload: {v}");
    }
    for k in [
        "put_object_other_bucket",
        "list_objects_v2_other_bucket",
        "delete_bucket",
    ] {
        assert!(!v["access_denied"][k].is_null(), "{v}");
    }
    // The objects are really there, for the admin too.
    let listed = ok(&s.aws(&["s3", "ls", "--recursive", "s3://sdk-suite/"]));
    for key in ["mp.bin", "copy.txt", "presigned.txt", "stream/default.bin"] {
        assert!(listed.contains(key), "{key} missing: {listed}");
    }
    // Nothing was written to the other bucket.
    let other = ok(&s.aws(&["s3", "ls", "s3://sdk-denied/"]));
    assert!(other.trim().is_empty(), "{other}");
}
