//! Header-auth verification of typical STS and S3 requests.
#![allow(missing_docs)]

use divan::{Bencher, black_box};
use http::{HeaderMap, HeaderValue, Method, Uri};
use podiam_sigv4::{
    Auth, Credentials, Payload, PayloadMode, RequestView, SigningKey, SigningParams, Verifier,
    VerifyOptions, parse_amz_date, sign,
};

fn main() {
    divan::main();
}

struct Fixture {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
    verifier: Verifier,
}

fn fixture(s3: bool) -> Fixture {
    let (method, uri, body, service) = if s3 {
        (
            Method::GET,
            "https://bucket.s3.example.com/photos/2026/holiday%20pic.jpg?versionId=abc"
                .parse::<Uri>()
                .unwrap(),
            Vec::new(),
            "s3",
        )
    } else {
        (
            Method::POST,
            "https://sts.example.com/".parse::<Uri>().unwrap(),
            b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp&RoleSessionName=pod".to_vec(),
            "sts",
        )
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    headers.insert(
        "user-agent",
        HeaderValue::from_static("aws-sdk-rust/1.0 os/linux"),
    );
    headers.insert(
        "amz-sdk-invocation-id",
        HeaderValue::from_static("6b2f0c7e-1c1f-4c1e-9a3e-0d3c9f0a1b2c"),
    );
    let creds = Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    .with_session_token("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexampletokenvalue");
    let when = parse_amz_date("20260101T120000Z").unwrap();
    let out = sign(
        &method,
        &uri,
        &headers,
        &PayloadMode::for_body(&body),
        &SigningParams {
            credentials: &creds,
            region: "us-east-1",
            service,
            time: when,
            s3,
        },
    )
    .unwrap();
    out.apply(&mut headers);
    let opts = if s3 {
        VerifyOptions::s3()
    } else {
        VerifyOptions::new("sts")
    };
    Fixture {
        method,
        uri,
        headers,
        body,
        verifier: Verifier::new(opts.with_region("us-east-1")),
    }
}

fn run(f: &Fixture) {
    let view = RequestView::new(&f.method, &f.uri, &f.headers);
    let Ok(Auth::Signed(signed)) = f.verifier.parse(&view) else {
        panic!("parse failed")
    };
    let payload = if f.verifier.options().s3 {
        Payload::Declared
    } else {
        Payload::Bytes(&f.body)
    };
    let now = parse_amz_date("20260101T120100Z").unwrap();
    let v = f
        .verifier
        .verify(
            &signed,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            payload,
            now,
        )
        .unwrap();
    black_box(v);
}

/// Parse + verify an STS POST (body hashed), signing key cached.
#[divan::bench(sample_count = 500, sample_size = 50)]
fn sts_header_auth_cached(bencher: Bencher) {
    let f = fixture(false);
    run(&f);
    bencher.bench_local(|| run(black_box(&f)));
}

/// Parse + verify an S3 GET (declared payload hash), signing key cached.
#[divan::bench(sample_count = 500, sample_size = 50)]
fn s3_header_auth_cached(bencher: Bencher) {
    let f = fixture(true);
    run(&f);
    bencher.bench_local(|| run(black_box(&f)));
}

/// Signing key derivation alone (what the cache saves).
#[divan::bench(sample_count = 500, sample_size = 50)]
fn derive_signing_key() {
    black_box(SigningKey::derive(
        black_box("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "20260101",
        "us-east-1",
        "sts",
    ));
}

/// Parse only (no crypto), STS request.
#[divan::bench(sample_count = 500, sample_size = 50)]
fn sts_parse_only(bencher: Bencher) {
    let f = fixture(false);
    bencher.bench_local(|| {
        let view = RequestView::new(&f.method, &f.uri, &f.headers);
        black_box(f.verifier.parse(black_box(&view)).unwrap());
    });
}
