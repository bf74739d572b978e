//! Property tests: encoding round trips, sign/verify round trips, and no panics on arbitrary
//! input to the parser and the chunked decoder.

use http::{HeaderMap, HeaderValue, Method, Uri};
use podiam_sigv4::encode::{
    canonical_query, canonical_uri, form_decode, percent_decode, uri_encode,
};
use podiam_sigv4::{
    Auth, ChecksumAlgorithm, ChunkSigningContext, ChunkedDecoder, ChunkedDecoderConfig,
    Credentials, Payload, PayloadMode, RequestView, SigningKey, SigningParams, VerifyOptions,
    checksum_base64, encode_unsigned_chunk, encode_unsigned_final, parse, parse_amz_date, sign,
    verify,
};
use proptest::prelude::*;

fn ctx() -> ChunkSigningContext {
    ChunkSigningContext::new(
        SigningKey::derive("secret", "20260101", "us-east-1", "s3"),
        "20260101T000000Z".into(),
        "20260101/us-east-1/s3/aws4_request".into(),
        [7; 32],
    )
}

fn modes() -> impl Strategy<Value = PayloadMode> {
    prop_oneof![
        Just(PayloadMode::StreamingSigned),
        Just(PayloadMode::StreamingSignedTrailer),
        Just(PayloadMode::StreamingUnsignedTrailer),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn uri_encode_decode_round_trip(s in proptest::collection::vec(any::<u8>(), 0..64)) {
        let enc = uri_encode(&s, true);
        prop_assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        prop_assert_eq!(percent_decode(enc.as_bytes()).into_owned(), s.clone());
        prop_assert_eq!(form_decode(enc.as_bytes()).into_owned(), s);
    }

    #[test]
    fn s3_canonical_uri_is_idempotent_and_lossless(segments in proptest::collection::vec("\\PC{0,12}", 1..5)) {
        let raw = format!("/{}", segments.join("/"));
        let wire = uri_encode(raw.as_bytes(), false);
        let canon = canonical_uri(&wire, true);
        prop_assert_eq!(&canon, &wire);
        prop_assert_eq!(canonical_uri(&canon, true), canon.clone());
        prop_assert_eq!(percent_decode(canon.as_bytes()).into_owned(), raw.into_bytes());
    }

    #[test]
    fn canonical_query_is_sorted_and_order_independent(
        pairs in proptest::collection::vec(("\\PC{0,8}", "\\PC{0,8}"), 0..8)
    ) {
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", uri_encode(k.as_bytes(), true), uri_encode(v.as_bytes(), true)))
            .collect();
        let forward = canonical_query(&encoded.join("&"), false);
        let mut rev = encoded.clone();
        rev.reverse();
        prop_assert_eq!(&forward, &canonical_query(&rev.join("&"), false));
        // Canonicalisation is idempotent.
        prop_assert_eq!(&canonical_query(&forward, false), &forward);
        // Empty keys are kept (`=`), exactly as the SDKs' form parsing does.
        let expected_pairs: Vec<(String, String)> = encoded
            .iter()
            .map(|p| { let (k, v) = p.split_once('=').unwrap(); (k.to_owned(), v.to_owned()) })
            .collect();
        let mut sorted_pairs = expected_pairs.clone();
        sorted_pairs.sort();
        let expected_str: Vec<String> = sorted_pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        prop_assert_eq!(forward, expected_str.join("&"));
    }

    #[test]
    fn sign_then_verify_round_trip(
        path in proptest::collection::vec("\\PC{0,10}", 0..4),
        query in proptest::collection::vec(("[a-zA-Z0-9 +~%/=&]{0,8}", "\\PC{0,8}"), 0..4),
        header in "[ -~]{0,20}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
        s3 in any::<bool>(),
        token in proptest::option::of("[A-Za-z0-9+/=]{1,40}"),
    ) {
        let path = format!("/{}", path.iter().map(|s| uri_encode(s.as_bytes(), true)).collect::<Vec<_>>().join("/"));
        let q: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", uri_encode(k.as_bytes(), true), uri_encode(v.as_bytes(), true))).collect();
        let target = if q.is_empty() { path } else { format!("{path}?{}", q.join("&")) };
        let uri: Uri = format!("https://svc.example.com{target}").parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-custom", HeaderValue::from_str(&header).unwrap());
        let mut creds = Credentials::new("AKID", "secret");
        if let Some(t) = &token { creds = creds.with_session_token(t.clone()); }
        let when = parse_amz_date("20260101T000000Z").unwrap();
        let service = if s3 { "s3" } else { "sts" };
        let out = sign(&Method::POST, &uri, &headers, &PayloadMode::for_body(&body),
            &SigningParams { credentials: &creds, region: "us-east-1", service, time: when, s3 }).unwrap();
        out.apply(&mut headers);
        let opts = if s3 { VerifyOptions::s3() } else { VerifyOptions::new("sts") };
        let Auth::Signed(signed) = parse(&RequestView::new(&Method::POST, &uri, &headers), &opts).unwrap() else {
            panic!("anonymous")
        };
        let v = verify(&signed, "secret", Payload::Bytes(&body), when, &opts).unwrap();
        prop_assert_eq!(v.security_token(), token.as_deref());
    }

    #[test]
    fn parse_never_panics(
        auth in "\\PC{0,200}",
        query in "[ -~]{0,200}",
        date in "[0-9TZ]{0,20}",
    ) {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&auth) { headers.insert("authorization", v); }
        if let Ok(v) = HeaderValue::from_str(&date) { headers.insert("x-amz-date", v); }
        let q = query.replace(['#', ' '], "");
        let opts = VerifyOptions::new("sts");
        let view = RequestView { method: "GET", path: "/", query: Some(&q), headers: &headers, authority: None };
        if let Ok(Auth::Signed(s)) = parse(&view, &opts) {
            let _ = verify(&s, "secret", Payload::Bytes(b""), parse_amz_date("20260101T000000Z").unwrap(), &opts);
        }
        let view = RequestView { method: "GET", path: "/", query: Some(&q), headers: &HeaderMap::new(), authority: None };
        let _ = parse(&view, &opts);
    }

    #[test]
    fn decoder_never_panics_on_random_bytes(
        mode in modes(),
        input in proptest::collection::vec(any::<u8>(), 0..512),
        split in 1usize..64,
        declared in proptest::option::of(0u64..1024),
    ) {
        let config = ChunkedDecoderConfig {
            decoded_content_length: declared,
            trailer: None,
            max_chunk_size: 4096,
        };
        let mut dec = ChunkedDecoder::new(mode, Some(ctx()), config).unwrap();
        let mut failed = false;
        for part in input.chunks(split) {
            if dec.push(part).is_err() { failed = true; break; }
        }
        if !failed { let _ = dec.finish(); }
    }

    #[test]
    fn decoder_never_panics_on_mutated_valid_bodies(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        chunk in 1usize..100,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        split in 1usize..50,
    ) {
        let mut body = Vec::new();
        for c in data.chunks(chunk) { body.extend(encode_unsigned_chunk(c)); }
        let trailer = vec![("x-amz-checksum-crc32c".to_owned(), checksum_base64(ChecksumAlgorithm::Crc32c, &data))];
        body.extend(encode_unsigned_final(&trailer));
        let original = body.clone();
        for (pos, byte) in &flips {
            if !body.is_empty() { let i = pos % body.len(); body[i] = *byte; }
        }
        let config = ChunkedDecoderConfig {
            decoded_content_length: Some(data.len() as u64),
            trailer: Some(ChecksumAlgorithm::Crc32c),
            max_chunk_size: 4096,
        };
        let mut dec = ChunkedDecoder::new(PayloadMode::StreamingUnsignedTrailer, None, config).unwrap();
        let mut out = Vec::new();
        let mut result = Ok(());
        for part in body.chunks(split) {
            match dec.push(part) {
                Ok(bs) => for b in bs { out.extend_from_slice(&b) },
                Err(e) => { result = Err(e); break; }
            }
        }
        let result = result.and_then(|_| dec.finish().map(|_| ()));
        if body == original {
            prop_assert!(result.is_ok());
            prop_assert_eq!(out, data);
        } else if result.is_ok() {
            // A mutation that still decodes must yield data with the same CRC32C and length.
            prop_assert_eq!(out.len(), data.len());
            prop_assert_eq!(checksum_base64(ChecksumAlgorithm::Crc32c, &out), checksum_base64(ChecksumAlgorithm::Crc32c, &data));
        }
    }
}
