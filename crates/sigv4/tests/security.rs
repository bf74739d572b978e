//! Security properties of parsing and verification: skew window, scope, required signed
//! headers, malformed / duplicate / oversized authorization data, presign lifetime.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, Uri};
use podiam_sigv4::{
    Auth, AuthKind, Credentials, Payload, PayloadMode, RequestView, ScopePart, SigV4Error,
    SignedRequest, SigningKey, SigningParams, VerifiedRequest, Verifier, VerifyOptions, parse,
    parse_amz_date, presign, sign, verify,
};
use time::OffsetDateTime;

const AKID: &str = "AKIAPODIAM";
const SECRET: &str = "secret/KEY+value";
const ZERO_SIG: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn t0() -> OffsetDateTime {
    parse_amz_date("20260315T101500Z").unwrap()
}

fn secs(s: i64) -> time::Duration {
    time::Duration::seconds(s)
}

struct Req {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Req {
    fn view(&self) -> RequestView<'_> {
        RequestView::new(&self.method, &self.uri, &self.headers)
    }
}

/// An STS request signed by our signer at `when`.
fn sts_request(when: OffsetDateTime, token: Option<&str>, service: &str) -> Req {
    let uri: Uri = "https://sts.example.com/".parse().unwrap();
    let body = b"Action=GetCallerIdentity&Version=2011-06-15".to_vec();
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let mut creds = Credentials::new(AKID, SECRET);
    if let Some(t) = token {
        creds = creds.with_session_token(t);
    }
    let out = sign(
        &Method::POST,
        &uri,
        &headers,
        &PayloadMode::for_body(&body),
        &SigningParams {
            credentials: &creds,
            region: "us-east-1",
            service,
            time: when,
            s3: false,
        },
    )
    .unwrap();
    out.apply(&mut headers);
    Req {
        method: Method::POST,
        uri,
        headers,
        body,
    }
}

fn parse_signed(req: &Req, opts: &VerifyOptions) -> Result<SignedRequest, SigV4Error> {
    match parse(&req.view(), opts)? {
        Auth::Signed(s) => Ok(*s),
        Auth::Anonymous => panic!("anonymous"),
    }
}

fn check(
    req: &Req,
    opts: &VerifyOptions,
    now: OffsetDateTime,
) -> Result<VerifiedRequest, SigV4Error> {
    let signed = parse_signed(req, opts)?;
    verify(&signed, SECRET, Payload::Bytes(&req.body), now, opts)
}

fn sts() -> VerifyOptions {
    VerifyOptions::new("sts").with_region("us-east-1")
}

/// Replaces the placeholder signature of a hand-built request with the correct one (taken
/// from the string to sign the verifier reports), so that only the property under test
/// can fail.
fn resign(req: &mut Req, opts: &VerifyOptions, now: OffsetDateTime) {
    let signed = parse_signed(req, opts).unwrap();
    let Err(SigV4Error::SignatureMismatch { string_to_sign, .. }) =
        verify(&signed, SECRET, Payload::Bytes(&req.body), now, opts)
    else {
        panic!("placeholder signature verified?");
    };
    let scope = signed.scope();
    let key = SigningKey::derive(SECRET, &scope.date, &scope.region, &scope.service);
    let sig = hex::encode(key.sign(string_to_sign.as_bytes()));
    if let Some(auth) = req.headers.get("authorization") {
        let fixed = auth.to_str().unwrap().replace(ZERO_SIG, &sig);
        req.headers
            .insert("authorization", HeaderValue::from_str(&fixed).unwrap());
    } else {
        let fixed = req.uri.to_string().replace(ZERO_SIG, &sig);
        req.uri = fixed.parse().unwrap();
    }
}

fn manual(authorization: &str, extra: &[(&str, &str)]) -> Req {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("sts.example.com"));
    headers.insert("x-amz-date", HeaderValue::from_static("20260315T101500Z"));
    for (n, v) in extra {
        headers.append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    headers.insert(
        "authorization",
        HeaderValue::from_str(authorization).unwrap(),
    );
    Req {
        method: Method::GET,
        uri: "/".parse().unwrap(),
        headers,
        body: Vec::new(),
    }
}

fn auth(credential: &str, signed_headers: &str, sig: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed_headers}, Signature={sig}"
    )
}

const CRED: &str = "AKIAPODIAM/20260315/us-east-1/sts/aws4_request";

#[test]
fn skew_window_edges() {
    let req = sts_request(t0(), None, "sts");
    for delta in [0, 899, -899, 900, -900] {
        check(&req, &sts(), t0() + secs(delta)).unwrap_or_else(|e| panic!("{delta}: {e:?}"));
    }
    for delta in [901, -901, 3600, -86400] {
        let err = check(&req, &sts(), t0() + secs(delta)).unwrap_err();
        assert!(
            matches!(err, SigV4Error::RequestTimeTooSkewed { .. }),
            "{delta}: {err:?}"
        );
    }
}

#[test]
fn wrong_scope_service_region_date_terminator() {
    let req = sts_request(t0(), None, "iam");
    assert!(matches!(
        check(&req, &sts(), t0()),
        Err(SigV4Error::ScopeMismatch {
            part: ScopePart::Service,
            ..
        })
    ));
    let req = sts_request(t0(), None, "sts");
    assert!(matches!(
        check(
            &req,
            &VerifyOptions::new("sts").with_region("eu-west-1"),
            t0()
        ),
        Err(SigV4Error::ScopeMismatch {
            part: ScopePart::Region,
            ..
        })
    ));
    // Region unset: any region accepted.
    check(&req, &VerifyOptions::new("sts"), t0()).unwrap();

    let r = manual(
        &auth(
            "AKIAPODIAM/20260314/us-east-1/sts/aws4_request",
            "host;x-amz-date",
            ZERO_SIG,
        ),
        &[],
    );
    assert!(matches!(
        parse(&r.view(), &sts()),
        Err(SigV4Error::ScopeMismatch {
            part: ScopePart::Date,
            ..
        })
    ));
    let r = manual(
        &auth(
            "AKIAPODIAM/20260315/us-east-1/sts/aws4_requesT",
            "host;x-amz-date",
            ZERO_SIG,
        ),
        &[],
    );
    assert!(matches!(
        parse(&r.view(), &sts()),
        Err(SigV4Error::ScopeMismatch {
            part: ScopePart::Terminator,
            ..
        })
    ));
    let r = manual(
        &auth(
            "AKIAPODIAM/20260315/us-east-1/sts",
            "host;x-amz-date",
            ZERO_SIG,
        ),
        &[],
    );
    assert!(parse(&r.view(), &sts()).is_err());
}

#[test]
fn unsigned_security_token_is_rejected() {
    let mut req = sts_request(t0(), None, "sts");
    req.headers
        .insert("x-amz-security-token", HeaderValue::from_static("injected"));
    assert_eq!(
        check(&req, &sts(), t0()).unwrap_err(),
        SigV4Error::HeaderNotSigned("x-amz-security-token".into())
    );
    // Signed token: accepted and exposed.
    let req = sts_request(t0(), Some("tok"), "sts");
    assert_eq!(
        check(&req, &sts(), t0()).unwrap().security_token(),
        Some("tok")
    );
}

#[test]
fn host_and_amz_headers_must_be_signed() {
    let r = manual(&auth(CRED, "x-amz-date", ZERO_SIG), &[]);
    assert_eq!(
        parse(&r.view(), &sts()).unwrap_err(),
        SigV4Error::HostNotSigned
    );
    let r = manual(&auth(CRED, "host", ZERO_SIG), &[]);
    assert_eq!(
        parse(&r.view(), &sts()).unwrap_err(),
        SigV4Error::HeaderNotSigned("x-amz-date".into())
    );
    let r = manual(
        &auth(CRED, "host;x-amz-date", ZERO_SIG),
        &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
    );
    assert_eq!(
        parse(&r.view(), &sts()).unwrap_err(),
        SigV4Error::HeaderNotSigned("x-amz-content-sha256".into())
    );
    // Optional strictness: all x-amz-* headers.
    let r = manual(
        &auth(CRED, "host;x-amz-date", ZERO_SIG),
        &[("x-amz-meta-a", "b")],
    );
    assert!(parse(&r.view(), &sts()).is_ok());
    let mut strict = sts();
    strict.require_all_amz_headers_signed = true;
    assert_eq!(
        parse(&r.view(), &strict).unwrap_err(),
        SigV4Error::HeaderNotSigned("x-amz-meta-a".into())
    );
    // A signed header that is absent.
    let r = manual(&auth(CRED, "host;x-amz-date;x-custom", ZERO_SIG), &[]);
    assert_eq!(
        parse(&r.view(), &sts()).unwrap_err(),
        SigV4Error::SignedHeaderMissing("x-custom".into())
    );
    // Unsorted / duplicate / uppercase signed header lists.
    for list in [
        "x-amz-date;host",
        "host;host;x-amz-date",
        "Host;x-amz-date",
        "host;;x-amz-date",
    ] {
        let r = manual(&auth(CRED, list, ZERO_SIG), &[]);
        assert!(
            matches!(
                parse(&r.view(), &sts()),
                Err(SigV4Error::MalformedAuthorization(_))
            ),
            "{list}"
        );
    }
}

#[test]
fn authorization_header_variants() {
    // Tolerated separator variants all verify.
    for template in [
        "AWS4-HMAC-SHA256 Credential={c}, SignedHeaders={h}, Signature={s}",
        "AWS4-HMAC-SHA256 Credential={c},SignedHeaders={h},Signature={s}",
        "AWS4-HMAC-SHA256  Credential={c} ,  SignedHeaders={h},   Signature={s} ",
        "AWS4-HMAC-SHA256 Signature={s}, Credential={c}, SignedHeaders={h}",
    ] {
        let a = template
            .replace("{c}", CRED)
            .replace("{h}", "host;x-amz-date")
            .replace("{s}", ZERO_SIG);
        let mut r = manual(&a, &[]);
        resign(&mut r, &sts(), t0());
        check(&r, &sts(), t0()).unwrap_or_else(|e| panic!("{template}: {e:?}"));
    }
    type Expect = fn(&SigV4Error) -> bool;
    let bad: Vec<(String, Expect)> = vec![
        (String::new(), |e| {
            matches!(e, SigV4Error::MalformedAuthorization(_))
        }),
        ("   ".into(), |e| {
            matches!(e, SigV4Error::MalformedAuthorization(_))
        }),
        ("AWS4-HMAC-SHA256".into(), |e| {
            *e == SigV4Error::Missing("Credential")
        }),
        ("Bearer abc".into(), |e| {
            matches!(e, SigV4Error::UnsupportedAlgorithm(_))
        }),
        ("AWS AKIA:sig".into(), |e| {
            matches!(e, SigV4Error::UnsupportedAlgorithm(_))
        }),
        ("AWS4-ECDSA-P256-SHA256 Credential=x".into(), |e| {
            matches!(e, SigV4Error::UnsupportedAlgorithm(_))
        }),
        (
            format!(
                "{}, Credential={CRED}",
                auth(CRED, "host;x-amz-date", ZERO_SIG)
            ),
            |e| matches!(e, SigV4Error::MalformedAuthorization(m) if m.contains("duplicate")),
        ),
        (
            format!(
                "{}, Signature={ZERO_SIG}",
                auth(CRED, "host;x-amz-date", ZERO_SIG)
            ),
            |e| matches!(e, SigV4Error::MalformedAuthorization(m) if m.contains("duplicate")),
        ),
        (
            format!("{}, Foo=bar", auth(CRED, "host;x-amz-date", ZERO_SIG)),
            |e| matches!(e, SigV4Error::MalformedAuthorization(_)),
        ),
        (
            format!("{},", auth(CRED, "host;x-amz-date", ZERO_SIG)),
            |e| matches!(e, SigV4Error::MalformedAuthorization(_)),
        ),
        (auth(CRED, "host;x-amz-date", &"A".repeat(64)), |e| {
            matches!(e, SigV4Error::MalformedAuthorization(_))
        }),
        (auth(CRED, "host;x-amz-date", &"0".repeat(63)), |e| {
            matches!(e, SigV4Error::MalformedAuthorization(_))
        }),
        (auth(CRED, "host;x-amz-date", &"g".repeat(64)), |e| {
            matches!(e, SigV4Error::MalformedAuthorization(_))
        }),
        (
            auth(
                &format!("{}/20260315/us-east-1/sts/aws4_request", "A".repeat(5000)),
                "host",
                ZERO_SIG,
            ),
            |e| matches!(e, SigV4Error::MalformedAuthorization(_)),
        ),
        (
            auth(
                CRED,
                &format!("host;x-amz-date;{}", "x".repeat(9000)),
                ZERO_SIG,
            ),
            |e| matches!(e, SigV4Error::MalformedAuthorization(m) if m.contains("too long")),
        ),
    ];
    for (value, ok) in bad {
        let r = manual(&value, &[]);
        let err = parse(&r.view(), &sts()).unwrap_err();
        assert!(ok(&err), "{value:.80}: {err:?}");
    }
    // Two Authorization headers.
    let mut r = manual(&auth(CRED, "host;x-amz-date", ZERO_SIG), &[]);
    r.headers.append(
        "authorization",
        HeaderValue::from_str(&auth(CRED, "host;x-amz-date", ZERO_SIG)).unwrap(),
    );
    assert!(matches!(
        parse(&r.view(), &sts()),
        Err(SigV4Error::MalformedAuthorization(_))
    ));
}

#[test]
fn signature_hex_case_and_bit_flips() {
    let req = sts_request(t0(), None, "sts");
    check(&req, &sts(), t0()).unwrap();
    let auth = req.headers["authorization"].to_str().unwrap().to_owned();
    let sig = auth.rsplit('=').next().unwrap().to_owned();
    // Uppercase hex is not the signature the client computed.
    let mut upper = Req {
        headers: req.headers.clone(),
        ..clone_req(&req)
    };
    upper.headers.insert(
        "authorization",
        HeaderValue::from_str(&auth.replace(&sig, &sig.to_uppercase())).unwrap(),
    );
    if sig.bytes().any(|b| b.is_ascii_alphabetic()) {
        assert!(matches!(
            check(&upper, &sts(), t0()),
            Err(SigV4Error::MalformedAuthorization(_))
        ));
    }
    for i in 0..64 {
        let mut bytes = sig.clone().into_bytes();
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let flipped = String::from_utf8(bytes).unwrap();
        let mut m = clone_req(&req);
        m.headers.insert(
            "authorization",
            HeaderValue::from_str(&auth.replace(&sig, &flipped)).unwrap(),
        );
        assert!(
            matches!(
                check(&m, &sts(), t0()),
                Err(SigV4Error::SignatureMismatch { .. })
            ),
            "flip at {i}"
        );
    }
    // Wrong secret.
    let signed = parse_signed(&req, &sts()).unwrap();
    assert!(matches!(
        verify(&signed, "other", Payload::Bytes(&req.body), t0(), &sts()),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
    // Body tampering (non-S3: the body hash is part of the signature).
    assert!(matches!(
        verify(
            &signed,
            SECRET,
            Payload::Bytes(b"Action=CreateUser"),
            t0(),
            &sts()
        ),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
}

fn clone_req(r: &Req) -> Req {
    Req {
        method: r.method.clone(),
        uri: r.uri.clone(),
        headers: r.headers.clone(),
        body: r.body.clone(),
    }
}

#[test]
fn anonymous_and_mixed() {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("h"));
    let uri: Uri = "/?X-Amz-Date=20260101T000000Z&foo=bar".parse().unwrap();
    assert!(matches!(
        parse(&RequestView::new(&Method::GET, &uri, &headers), &sts()).unwrap(),
        Auth::Anonymous
    ));
    let mut r = manual(&auth(CRED, "host;x-amz-date", ZERO_SIG), &[]);
    r.uri = format!("/?X-Amz-Signature={ZERO_SIG}").parse().unwrap();
    assert_eq!(
        parse(&r.view(), &sts()).unwrap_err(),
        SigV4Error::AmbiguousAuthorization
    );
}

#[test]
fn date_header_fallback_and_bad_dates() {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("sts.example.com"));
    headers.insert(
        "date",
        HeaderValue::from_static("Sun, 15 Mar 2026 10:15:00 GMT"),
    );
    headers.insert(
        "authorization",
        HeaderValue::from_str(&auth(CRED, "date;host", ZERO_SIG)).unwrap(),
    );
    let mut r = Req {
        method: Method::GET,
        uri: "/".parse().unwrap(),
        headers,
        body: Vec::new(),
    };
    resign(&mut r, &sts(), t0());
    let v = check(&r, &sts(), t0()).unwrap();
    assert_eq!(v.timestamp(), t0());
    // Date used but not signed.
    let mut r2 = clone_req(&r);
    r2.headers.insert(
        "authorization",
        HeaderValue::from_str(&auth(CRED, "host", ZERO_SIG)).unwrap(),
    );
    assert_eq!(
        parse(&r2.view(), &sts()).unwrap_err(),
        SigV4Error::HeaderNotSigned("date".into())
    );
    for bad in [
        "2026-03-15T10:15:00Z",
        "20260315T101500",
        "20261315T101500Z",
        "",
    ] {
        let mut r = manual(&auth(CRED, "host;x-amz-date", ZERO_SIG), &[]);
        r.headers
            .insert("x-amz-date", HeaderValue::from_str(bad).unwrap());
        assert!(
            matches!(parse(&r.view(), &sts()), Err(SigV4Error::InvalidDate(_))),
            "{bad}"
        );
    }
    let mut r = manual(&auth(CRED, "host", ZERO_SIG), &[]);
    r.headers.remove("x-amz-date");
    assert_eq!(
        parse(&r.view(), &sts()).unwrap_err(),
        SigV4Error::Missing("X-Amz-Date")
    );
}

fn presigned(expires: u64, token: Option<&str>) -> Req {
    let uri: Uri = "https://sts.example.com/?Action=GetCallerIdentity&Version=2011-06-15"
        .parse()
        .unwrap();
    let mut creds = Credentials::new(AKID, SECRET);
    if let Some(t) = token {
        creds = creds.with_session_token(t);
    }
    let out = presign(
        &Method::GET,
        &uri,
        &HeaderMap::new(),
        &PayloadMode::for_body(b""),
        &SigningParams {
            credentials: &creds,
            region: "us-east-1",
            service: "sts",
            time: t0(),
            s3: false,
        },
        Duration::from_secs(expires),
    )
    .unwrap();
    let mut headers = HeaderMap::new();
    for (n, v) in out.headers {
        headers.insert(n, v);
    }
    Req {
        method: Method::GET,
        uri: out.uri,
        headers,
        body: Vec::new(),
    }
}

fn with_query(r: &Req, from: &str, to: &str) -> Req {
    let mut m = clone_req(r);
    m.uri = r.uri.to_string().replace(from, to).parse().unwrap();
    m
}

#[test]
fn presign_lifetime() {
    let r = presigned(60, Some("tok/en+="));
    let v = check(&r, &sts(), t0() + secs(60)).unwrap();
    assert_eq!(v.kind(), AuthKind::Presigned { expires: 60 });
    assert_eq!(v.security_token(), Some("tok/en+="));
    assert!(matches!(
        check(&r, &sts(), t0() + secs(61)),
        Err(SigV4Error::PresignExpired { .. })
    ));
    // Dated in the future beyond the skew allowance.
    assert!(matches!(
        check(&r, &sts(), t0() - secs(901)),
        Err(SigV4Error::PresignNotYetValid { .. })
    ));
    check(&r, &sts(), t0() - secs(60)).unwrap();

    let week = presigned(604_800, None);
    check(&week, &sts(), t0() + secs(604_800)).unwrap();
    assert!(matches!(
        check(&week, &sts(), t0() + secs(604_801)),
        Err(SigV4Error::PresignExpired { .. })
    ));
    let too_long = with_query(&week, "X-Amz-Expires=604800", "X-Amz-Expires=604801");
    assert_eq!(
        parse(&too_long.view(), &sts()).unwrap_err(),
        SigV4Error::PresignTooLong {
            expires: 604_801,
            max: 604_800
        }
    );
    for bad in [
        "X-Amz-Expires=0",
        "X-Amz-Expires=-1",
        "X-Amz-Expires=abc",
        "X-Amz-Expires=",
    ] {
        let m = with_query(&week, "X-Amz-Expires=604800", bad);
        assert!(
            matches!(
                parse(&m.view(), &sts()),
                Err(SigV4Error::MalformedAuthorization(_))
            ),
            "{bad}"
        );
    }
    let huge = with_query(
        &week,
        "X-Amz-Expires=604800",
        "X-Amz-Expires=99999999999999999999",
    );
    assert!(matches!(
        parse(&huge.view(), &sts()),
        Err(SigV4Error::PresignTooLong { .. })
    ));
    // The signer refuses too.
    let uri: Uri = "https://h/".parse().unwrap();
    let creds = Credentials::new(AKID, SECRET);
    assert!(
        presign(
            &Method::GET,
            &uri,
            &HeaderMap::new(),
            &PayloadMode::Unsigned,
            &SigningParams {
                credentials: &creds,
                region: "r",
                service: "s",
                time: t0(),
                s3: false
            },
            Duration::from_secs(604_801),
        )
        .is_err()
    );
}

#[test]
fn presign_tampering_and_duplicates() {
    let r = presigned(300, Some("tok"));
    check(&r, &sts(), t0()).unwrap();
    let q = r.uri.query().unwrap().to_owned();
    let sig = q
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Signature="))
        .unwrap()
        .to_owned();
    // Duplicate parameters.
    for dup in [
        format!("&X-Amz-Signature={sig}"),
        "&X-Amz-Expires=300".to_owned(),
        "&X-Amz-Security-Token=other".to_owned(),
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256".to_owned(),
    ] {
        let m = with_query(&r, &q, &format!("{q}{dup}"));
        assert!(
            matches!(parse(&m.view(), &sts()), Err(SigV4Error::MalformedAuthorization(m)) if m.contains("duplicate")),
            "{dup}"
        );
    }
    // Tampered parameters.
    for (from, to) in [
        ("X-Amz-Expires=300", "X-Amz-Expires=301"),
        ("X-Amz-Security-Token=tok", "X-Amz-Security-Token=tak"),
        ("Action=GetCallerIdentity", "Action=GetCallerIdentitx"),
    ] {
        let m = with_query(&r, from, to);
        assert!(
            matches!(
                check(&m, &sts(), t0()),
                Err(SigV4Error::SignatureMismatch { .. })
            ),
            "{to}"
        );
    }
    let m = with_query(
        &r,
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Algorithm=AWS4-HMAC-SHA1",
    );
    assert!(matches!(
        parse(&m.view(), &sts()),
        Err(SigV4Error::UnsupportedAlgorithm(_))
    ));
    let m = with_query(&r, &format!("&X-Amz-Signature={sig}"), "");
    assert_eq!(
        parse(&m.view(), &sts()).unwrap_err(),
        SigV4Error::Missing("X-Amz-Signature")
    );
    // An unsigned security token header next to a presigned URL.
    let mut m = clone_req(&r);
    m.headers
        .insert("x-amz-security-token", HeaderValue::from_static("tok"));
    assert_eq!(
        parse(&m.view(), &sts()).unwrap_err(),
        SigV4Error::HeaderNotSigned("x-amz-security-token".into())
    );
}

#[test]
fn s3_payload_rules() {
    let s3 = VerifyOptions::s3().with_region("us-east-1");
    let uri: Uri = "https://s3.example.com/bucket/key".parse().unwrap();
    let body = b"object body".to_vec();
    let creds = Credentials::new(AKID, SECRET);
    let params = SigningParams {
        credentials: &creds,
        region: "us-east-1",
        service: "s3",
        time: t0(),
        s3: true,
    };
    let out = sign(
        &Method::PUT,
        &uri,
        &HeaderMap::new(),
        &PayloadMode::for_body(&body),
        &params,
    )
    .unwrap();
    let mut headers = HeaderMap::new();
    out.apply(&mut headers);
    let req = Req {
        method: Method::PUT,
        uri: uri.clone(),
        headers,
        body,
    };
    let signed = parse_signed(&req, &s3).unwrap();
    // Declared: signature OK, body checked afterwards.
    let v = verify(&signed, SECRET, Payload::Declared, t0(), &s3).unwrap();
    let mut c = v.content_sha256_checker().unwrap();
    c.update(b"other body!");
    assert!(matches!(
        c.finish(),
        Err(SigV4Error::PayloadHashMismatch { .. })
    ));
    let mut c = v.content_sha256_checker().unwrap();
    c.update(b"object ");
    c.update(b"body");
    c.finish().unwrap();
    // Body given up front: compared with the declared hash.
    assert!(matches!(
        verify(&signed, SECRET, Payload::Bytes(b"tampered"), t0(), &s3),
        Err(SigV4Error::PayloadHashMismatch { .. })
    ));
    verify(&signed, SECRET, Payload::Bytes(&req.body), t0(), &s3).unwrap();

    // x-amz-content-sha256 is required for S3 header auth, and must be valid.
    let mut m = clone_req(&req);
    m.headers.remove("x-amz-content-sha256");
    assert_eq!(
        parse(&m.view(), &s3).unwrap_err(),
        SigV4Error::Missing("x-amz-content-sha256")
    );
    for bad in ["abc", "UNSIGNED", &"A".repeat(64)] {
        let mut m = clone_req(&req);
        m.headers
            .insert("x-amz-content-sha256", HeaderValue::from_str(bad).unwrap());
        assert!(
            matches!(
                parse(&m.view(), &s3),
                Err(SigV4Error::InvalidContentSha256(_))
            ),
            "{bad}"
        );
    }
    // Streaming modes are S3-only.
    let mut m = manual(
        &auth(CRED, "host;x-amz-content-sha256;x-amz-date", ZERO_SIG),
        &[("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")],
    );
    assert!(matches!(
        parse(&m.view(), &sts()),
        Err(SigV4Error::UnsupportedPayloadMode(_))
    ));
    m.headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"),
    );
    assert!(matches!(
        parse(&m.view(), &s3),
        Err(SigV4Error::UnsupportedPayloadMode(_))
    ));
}

#[test]
fn verifier_caches_keys() {
    let verifier = Verifier::with_cache_capacity(sts(), 4);
    let req = sts_request(t0(), None, "sts");
    for _ in 0..3 {
        let Auth::Signed(s) = verifier.parse(&req.view()).unwrap() else {
            panic!()
        };
        verifier
            .verify(&s, SECRET, Payload::Bytes(&req.body), t0())
            .unwrap();
        assert!(matches!(
            verifier.verify(&s, "wrong", Payload::Bytes(&req.body), t0()),
            Err(SigV4Error::SignatureMismatch { .. })
        ));
    }
}

#[test]
fn http2_authority_stands_in_for_host() {
    let req = sts_request(t0(), None, "sts");
    let mut headers = req.headers.clone();
    headers.remove("host");
    // No host header, no authority: the signed host header is missing.
    let origin: Uri = "/".parse().unwrap();
    let view = RequestView::new(&Method::POST, &origin, &headers);
    assert_eq!(
        parse(&view, &sts()).unwrap_err(),
        SigV4Error::SignedHeaderMissing("host".into())
    );
    let view = RequestView::new(&Method::POST, &req.uri, &headers);
    let Auth::Signed(s) = parse(&view, &sts()).unwrap() else {
        panic!()
    };
    verify(&s, SECRET, Payload::Bytes(&req.body), t0(), &sts()).unwrap();
}
