//! Requests signed by the AWS SDK's `aws-sigv4` verify with our verifier (header and
//! presigned, with and without session token, S3 and non-S3), and any tampering fails.
//! Also: our signer's output equals `aws-sigv4`'s.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign as aws_sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use podiam_sigv4::{
    Auth, Credentials, Payload, PayloadMode, RequestView, SigV4Error, SigningParams,
    VerifiedRequest, VerifyOptions, parse, parse_amz_date, presign, sign, verify,
};
use time::OffsetDateTime;

const AKID: &str = "AKIDPODIAMEXAMPLE";
const SECRET: &str = "podiam/secret+key/EXAMPLE0123456789";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+token/with+plus==";

fn t0() -> OffsetDateTime {
    parse_amz_date("20260101T120000Z").unwrap()
}

struct Case {
    method: &'static str,
    uri: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
}

const NON_S3: &[Case] = &[
    Case {
        method: "POST",
        uri: "https://sts.example.com/",
        headers: &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        body: b"Action=GetCallerIdentity&Version=2011-06-15",
    },
    Case {
        method: "GET",
        uri: "https://sts.example.com/?Action=GetCallerIdentity&Version=2011-06-15",
        headers: &[],
        body: b"",
    },
    Case {
        method: "GET",
        uri: "https://iam.example.com/path%20with%20space/a+b/~c/%E1%88%B4?q=a%20b&q=a+b&z=&empty&plus=a%2Bb&~t=%7E",
        headers: &[
            ("x-amz-meta-thing", "  spaced    value  "),
            ("x-custom", "a"),
        ],
        body: b"",
    },
    Case {
        method: "PUT",
        uri: "https://eks.example.com/a/./b/../c//d/",
        headers: &[("content-type", "application/json")],
        body: b"{\"unicode\":\"\xc3\xa9\"}",
    },
    Case {
        method: "GET",
        uri: "http://localhost:8080/clusters?maxResults=10&nextToken=abc%3D%3D",
        headers: &[],
        body: b"",
    },
];

const S3: &[Case] = &[
    Case {
        method: "GET",
        uri: "https://bucket.s3.example.com/key%20with%20space/%E1%88%B4?list-type=2&prefix=a%20b",
        headers: &[],
        body: b"",
    },
    Case {
        method: "PUT",
        uri: "https://s3.example.com/bucket/dir//a%2Bb/./x/../y~z",
        headers: &[("x-amz-meta-foo", "bar"), ("content-type", "text/plain")],
        body: b"hello world",
    },
    Case {
        method: "POST",
        uri: "https://s3.example.com/bucket/obj?uploads",
        headers: &[],
        body: b"",
    },
];

fn aws_settings(s3: bool) -> SigningSettings {
    let mut settings = SigningSettings::default();
    if s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    settings
}

/// Signs with aws-sigv4 and returns the signed request.
fn aws_signed(
    case: &Case,
    service: &str,
    s3: bool,
    token: Option<&str>,
    presign: Option<Duration>,
    when: OffsetDateTime,
) -> Request<Vec<u8>> {
    let identity: Identity =
        AwsCredentials::new(AKID, SECRET, token.map(str::to_owned), None, "test").into();
    let mut settings = aws_settings(s3);
    if let Some(exp) = presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(exp);
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::from(when))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let body = if s3 && presign.is_some() {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(case.body)
    };
    let signable =
        SignableRequest::new(case.method, case.uri, case.headers.iter().copied(), body).unwrap();
    let (instructions, _sig) = aws_sign(signable, &params).unwrap().into_parts();
    let mut req = Request::builder().method(case.method).uri(case.uri);
    for (n, v) in case.headers {
        req = req.header(*n, *v);
    }
    let mut req = req.body(case.body.to_vec()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    // What a server sees: a Host header (hyper adds it from the authority).
    let host = req.uri().authority().unwrap().as_str().to_owned();
    let host = host
        .strip_suffix(":443")
        .or_else(|| host.strip_suffix(":80"))
        .unwrap_or(&host)
        .to_owned();
    req.headers_mut()
        .insert(http::header::HOST, HeaderValue::from_str(&host).unwrap());
    req
}

fn options(service: &str, s3: bool) -> VerifyOptions {
    let o = if s3 {
        VerifyOptions::s3()
    } else {
        VerifyOptions::new(service)
    };
    o.with_region("us-east-1")
}

fn verify_req(
    req: &Request<Vec<u8>>,
    opts: &VerifyOptions,
    now: OffsetDateTime,
) -> Result<VerifiedRequest, SigV4Error> {
    let view = RequestView::new(req.method(), req.uri(), req.headers());
    let Auth::Signed(signed) = parse(&view, opts)? else {
        panic!("anonymous");
    };
    assert_eq!(signed.access_key_id(), AKID);
    let payload = if opts.s3 {
        Payload::Declared
    } else {
        Payload::Bytes(req.body())
    };
    let verified = verify(&signed, SECRET, payload, now, opts)?;
    if let Some(mut checker) = verified.content_sha256_checker() {
        checker.update(req.body());
        checker.finish()?;
    }
    Ok(verified)
}

fn all_cases() -> impl Iterator<Item = (&'static Case, &'static str, bool)> {
    NON_S3
        .iter()
        .map(|c| (c, "sts", false))
        .chain(S3.iter().map(|c| (c, "s3", true)))
}

#[test]
fn aws_sdk_header_signed_requests_verify() {
    for (case, service, s3) in all_cases() {
        for token in [None, Some(TOKEN)] {
            let req = aws_signed(case, service, s3, token, None, t0());
            let v = verify_req(
                &req,
                &options(service, s3),
                t0() + time::Duration::seconds(30),
            )
            .unwrap_or_else(|e| {
                panic!(
                    "{} {} token={}: {e:?}",
                    case.method,
                    case.uri,
                    token.is_some()
                )
            });
            assert_eq!(v.security_token(), token);
            assert_eq!(v.scope().service, service);
        }
    }
}

#[test]
fn aws_sdk_presigned_requests_verify() {
    for (case, service, s3) in all_cases() {
        for token in [None, Some(TOKEN)] {
            let req = aws_signed(
                case,
                service,
                s3,
                token,
                Some(Duration::from_secs(900)),
                t0(),
            );
            let opts = options(service, s3);
            let v =
                verify_req(&req, &opts, t0() + time::Duration::seconds(899)).unwrap_or_else(|e| {
                    panic!(
                        "{} {} token={}: {e:?}",
                        case.method,
                        case.uri,
                        token.is_some()
                    )
                });
            assert_eq!(v.security_token(), token);
            assert!(matches!(
                verify_req(&req, &opts, t0() + time::Duration::seconds(901)),
                Err(SigV4Error::PresignExpired { .. })
            ));
        }
    }
}

fn flip_hex_digit(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let last = b.len() - 1;
    b[last] = if b[last] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

/// Every mutation of a signed component must make verification fail.
#[test]
fn tampering_with_any_signed_part_fails() {
    for (case, service, s3) in all_cases() {
        let opts = options(service, s3);
        let req = aws_signed(case, service, s3, Some(TOKEN), None, t0());
        assert!(verify_req(&req, &opts, t0()).is_ok());
        let mut mutants: Vec<(&str, Request<Vec<u8>>)> = Vec::new();

        let mut m = req.clone();
        *m.method_mut() = if req.method() == Method::GET {
            Method::HEAD
        } else {
            Method::GET
        };
        mutants.push(("method", m));

        let mut m = req.clone();
        let uri = req.uri().to_string();
        let path_end = uri.find('?').unwrap_or(uri.len());
        let tampered = format!("{}x{}", &uri[..path_end], &uri[path_end..]);
        *m.uri_mut() = tampered.parse::<Uri>().unwrap();
        mutants.push(("path", m));

        let mut m = req.clone();
        let sep = if uri.contains('?') { "&" } else { "?" };
        *m.uri_mut() = format!("{uri}{sep}extra=1").parse::<Uri>().unwrap();
        mutants.push(("query", m));

        for name in ["host", "x-amz-date", "x-amz-security-token"] {
            let mut m = req.clone();
            let v = m.headers()[name].to_str().unwrap().to_owned();
            let nv = if name == "x-amz-date" {
                "20260101T120001Z".to_owned()
            } else {
                format!("{v}x")
            };
            m.headers_mut()
                .insert(name, HeaderValue::from_str(&nv).unwrap());
            mutants.push((name, m));
        }
        for (n, _) in case.headers {
            let mut m = req.clone();
            m.headers_mut()
                .append(*n, HeaderValue::from_static("second"));
            mutants.push(("custom header", m));
        }

        let mut m = req.clone();
        m.body_mut().push(b'!');
        mutants.push(("body", m));

        let mut m = req.clone();
        let auth = m.headers()["authorization"].to_str().unwrap().to_owned();
        m.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&flip_hex_digit(&auth)).unwrap(),
        );
        mutants.push(("signature", m));

        for (what, m) in mutants {
            let r = verify_req(&m, &opts, t0());
            assert!(
                r.is_err(),
                "{} {}: mutation of {what} accepted",
                case.method,
                case.uri
            );
        }
    }
}

fn our_creds(token: Option<&str>) -> Credentials {
    let c = Credentials::new(AKID, SECRET);
    match token {
        Some(t) => c.with_session_token(t),
        None => c,
    }
}

/// Our signer produces byte-identical Authorization headers to aws-sigv4.
#[test]
fn our_signer_matches_aws_sigv4() {
    for (case, service, s3) in all_cases() {
        for token in [None, Some(TOKEN)] {
            let expected = aws_signed(case, service, s3, token, None, t0());
            let uri: Uri = case.uri.parse().unwrap();
            let mut headers = HeaderMap::new();
            for (n, v) in case.headers {
                headers.append(*n, HeaderValue::from_static(v));
            }
            let creds = our_creds(token);
            let out = sign(
                &Method::from_bytes(case.method.as_bytes()).unwrap(),
                &uri,
                &headers,
                &PayloadMode::for_body(case.body),
                &SigningParams {
                    credentials: &creds,
                    region: "us-east-1",
                    service,
                    time: t0(),
                    s3,
                },
            )
            .unwrap();
            let ours = out
                .headers
                .iter()
                .find(|(n, _)| n == http::header::AUTHORIZATION)
                .unwrap()
                .1
                .clone();
            assert_eq!(
                ours,
                expected.headers()["authorization"],
                "{} {}\n{}",
                case.method,
                case.uri,
                out.canonical_request
            );
            // And our verifier accepts our own output.
            let mut req = expected.clone();
            out.apply(req.headers_mut());
            verify_req(&req, &options(service, s3), t0()).unwrap();
        }
    }
}

/// Our presigned URLs equal aws-sigv4's (same parameters, same signature) and verify.
#[test]
fn our_presign_matches_aws_sigv4() {
    for (case, service, s3) in all_cases() {
        for token in [None, Some(TOKEN)] {
            let expected = aws_signed(
                case,
                service,
                s3,
                token,
                Some(Duration::from_secs(300)),
                t0(),
            );
            let uri: Uri = case.uri.parse().unwrap();
            let mut headers = HeaderMap::new();
            for (n, v) in case.headers {
                headers.append(*n, HeaderValue::from_static(v));
            }
            let creds = our_creds(token);
            let out = presign(
                &Method::from_bytes(case.method.as_bytes()).unwrap(),
                &uri,
                &headers,
                &PayloadMode::for_body(case.body),
                &SigningParams {
                    credentials: &creds,
                    region: "us-east-1",
                    service,
                    time: t0(),
                    s3,
                },
                Duration::from_secs(300),
            )
            .unwrap();
            let theirs_sig = expected
                .uri()
                .query()
                .unwrap()
                .split('&')
                .find_map(|p| p.strip_prefix("X-Amz-Signature="))
                .unwrap()
                .to_owned();
            assert_eq!(out.signature, theirs_sig, "{} {}", case.method, case.uri);
            let mut req = expected.clone();
            *req.uri_mut() = out.uri.clone();
            verify_req(&req, &options(service, s3), t0()).unwrap();
        }
    }
}
