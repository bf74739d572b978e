//! Fuzzes SigV4 request parsing (Authorization header, presigned query, dates) and, for
//! anything that parses, verification against a fixed secret.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use podiam_sigv4::{Auth, Payload, RequestView, VerifyOptions, parse, parse_amz_date, verify};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Layout: authorization \n x-amz-date \n path \n query
    let mut parts = text.splitn(4, '\n');
    let (auth, date, path, query) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("/"),
        parts.next(),
    );
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("example.com"));
    if let Ok(v) = HeaderValue::from_str(auth) {
        headers.insert("authorization", v);
    }
    if let Ok(v) = HeaderValue::from_str(date) {
        headers.insert("x-amz-date", v);
    }
    let now = parse_amz_date("20260101T000000Z").expect("valid date");
    for opts in [VerifyOptions::new("sts"), VerifyOptions::s3()] {
        let view = RequestView {
            method: "GET",
            path,
            query,
            headers: &headers,
            authority: None,
        };
        if let Ok(Auth::Signed(signed)) = parse(&view, &opts) {
            let _ = verify(&signed, "secret", Payload::Bytes(b""), now, &opts);
            let _ = verify(&signed, "secret", Payload::Declared, now, &opts);
        }
    }
});
