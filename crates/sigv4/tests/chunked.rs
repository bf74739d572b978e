//! `aws-chunked` decoding: the AWS documentation examples, our own encoder, aws-sigv4's chunk
//! signer as an oracle, trailers and checksums, and every way a body can be wrong.

use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};
use podiam_sigv4::{
    Auth, ChecksumAlgorithm, ChunkSigningContext, ChunkedDecoder, ChunkedDecoderConfig,
    ChunkedSummary, Credentials, Payload, PayloadMode, RequestView, SigV4Error, SigningKey,
    SigningParams, VerifiedRequest, VerifyOptions, checksum_base64, encode_unsigned_chunk,
    encode_unsigned_final, parse, parse_amz_date, sign, verify,
};

const DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DOC_SIGS: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];

fn doc_time() -> time::OffsetDateTime {
    parse_amz_date("20130524T000000Z").unwrap()
}

fn doc_body(sigs: [&str; 3], tail: &str) -> Vec<u8> {
    let mut b = format!("10000;chunk-signature={}\r\n", sigs[0]).into_bytes();
    b.extend(std::iter::repeat_n(b'a', 65536));
    b.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", sigs[1]).as_bytes());
    b.extend(std::iter::repeat_n(b'a', 1024));
    b.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n{tail}", sigs[2]).as_bytes());
    b
}

/// The request of "Signature Calculations for the Authorization Header: Transferring Payload
/// in Multiple Chunks": verify its seed signature, then decode its body.
fn doc_verified() -> (VerifiedRequest, HeaderMap) {
    let mut headers = HeaderMap::new();
    for (n, v) in [
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        ),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("content-length", "66824"),
    ] {
        headers.insert(n, HeaderValue::from_static(v));
    }
    let uri: Uri = "/examplebucket/chunkObject.txt".parse().unwrap();
    let opts = VerifyOptions::s3().with_region("us-east-1");
    let Auth::Signed(signed) =
        parse(&RequestView::new(&Method::PUT, &uri, &headers), &opts).unwrap()
    else {
        panic!("anonymous")
    };
    let verified = verify(&signed, DOC_SECRET, Payload::Declared, doc_time(), &opts).unwrap();
    assert_eq!(verified.payload(), PayloadMode::StreamingSigned);
    assert_eq!(
        verified.signature_hex(),
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    );
    (verified, headers)
}

fn decode_in_pieces(
    mut dec: ChunkedDecoder,
    body: &[u8],
    piece: usize,
) -> Result<(Vec<u8>, ChunkedSummary), SigV4Error> {
    let mut out = Vec::new();
    for part in body.chunks(piece.max(1)) {
        for b in dec.push(part)? {
            out.extend_from_slice(&b);
        }
    }
    let summary = dec.finish()?;
    Ok((out, summary))
}

#[test]
fn aws_doc_example_signed_chunks() {
    let (verified, headers) = doc_verified();
    let body = doc_body(DOC_SIGS, "\r\n");
    assert_eq!(body.len(), 66824, "documented Content-Length");
    for piece in [1, 7, 1000, 65536, body.len()] {
        let dec = verified.chunked_decoder(&headers).unwrap();
        let (data, summary) = decode_in_pieces(dec, &body, piece).unwrap();
        assert_eq!(data.len(), 66560);
        assert!(data.iter().all(|&b| b == b'a'));
        assert_eq!(summary.decoded_length, 66560);
    }
    // Any documented signature changed fails at that chunk.
    for i in 0..3 {
        let mut sigs = DOC_SIGS;
        let changed = format!("{}0", &DOC_SIGS[i][..63]);
        let changed = if changed == DOC_SIGS[i] {
            format!("{}1", &DOC_SIGS[i][..63])
        } else {
            changed
        };
        sigs[i] = &changed;
        let dec = verified.chunked_decoder(&headers).unwrap();
        assert_eq!(
            decode_in_pieces(dec, &doc_body(sigs, "\r\n"), 4096).unwrap_err(),
            SigV4Error::ChunkSignatureMismatch { index: i as u64 }
        );
    }
    // A data byte changed.
    let mut tampered = body.clone();
    tampered[1000] = b'b';
    let dec = verified.chunked_decoder(&headers).unwrap();
    assert_eq!(
        decode_in_pieces(dec, &tampered, 4096).unwrap_err(),
        SigV4Error::ChunkSignatureMismatch { index: 0 }
    );
}

#[test]
fn signed_chunks_are_released_only_after_verification() {
    let (verified, headers) = doc_verified();
    let body = doc_body(DOC_SIGS, "\r\n");
    let mut dec = verified.chunked_decoder(&headers).unwrap();
    // Everything but the CRLF closing the first chunk: nothing may be released yet.
    let first_end = body.windows(5).position(|w| w == b"\r\n400").unwrap();
    assert!(dec.push(&body[..first_end]).unwrap().is_empty());
    let out = dec.push(&body[first_end..first_end + 2]).unwrap();
    assert_eq!(out.iter().map(Bytes::len).sum::<usize>(), 65536);
}

#[test]
fn aws_doc_example_signed_trailer() {
    // "Signature calculations for trailing headers": seed taken as documented.
    let seed =
        hex::decode("106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e").unwrap();
    let ctx = ChunkSigningContext::new(
        SigningKey::derive(DOC_SECRET, "20130524", "us-east-1", "s3"),
        "20130524T000000Z".into(),
        "20130524/us-east-1/s3/aws4_request".into(),
        seed.try_into().unwrap(),
    );
    let sigs = [
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    ];
    let tail = "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n";
    let config = ChunkedDecoderConfig {
        decoded_content_length: Some(66560),
        trailer: Some(ChecksumAlgorithm::Crc32c),
        ..Default::default()
    };
    let new = || {
        ChunkedDecoder::new(
            PayloadMode::StreamingSignedTrailer,
            Some(ctx.clone()),
            config.clone(),
        )
        .unwrap()
    };
    for piece in [1, 777, 100_000] {
        let (data, summary) = decode_in_pieces(new(), &doc_body(sigs, tail), piece).unwrap();
        assert_eq!(data.len(), 66560);
        assert_eq!(
            summary.checksum,
            Some((ChecksumAlgorithm::Crc32c, "sOO8/Q==".into()))
        );
    }
    // A changed trailer value breaks the trailer signature.
    let changed = tail.replace("sOO8/Q==", "sOO8/A==");
    assert_eq!(
        decode_in_pieces(new(), &doc_body(sigs, &changed), 4096).unwrap_err(),
        SigV4Error::TrailerSignatureMismatch
    );
    // A missing trailer signature.
    let unsigned = "x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n";
    assert_eq!(
        decode_in_pieces(new(), &doc_body(sigs, unsigned), 4096).unwrap_err(),
        SigV4Error::MissingTrailer("x-amz-trailer-signature".into())
    );
}

struct Upload {
    verified: VerifiedRequest,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Signs an S3 PUT with our signer in `mode`, encodes `data` in `chunk` sized chunks, and
/// verifies the request (seed) with our verifier.
fn upload(
    mode: PayloadMode,
    data: &[u8],
    chunk: usize,
    trailer: Option<ChecksumAlgorithm>,
    declared_len: u64,
) -> Upload {
    let uri: Uri = "https://s3.example.com/bucket/big.bin".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("content-encoding", HeaderValue::from_static("aws-chunked"));
    headers.insert(
        "x-amz-decoded-content-length",
        HeaderValue::from_str(&declared_len.to_string()).unwrap(),
    );
    if let Some(t) = trailer {
        headers.insert("x-amz-trailer", HeaderValue::from_static(t.header_name()));
    }
    let creds = Credentials::new("AKIAUPLOAD", "upload-secret");
    let when = parse_amz_date("20260401T000000Z").unwrap();
    let out = sign(
        &Method::PUT,
        &uri,
        &headers,
        &mode,
        &SigningParams {
            credentials: &creds,
            region: "us-east-1",
            service: "s3",
            time: when,
            s3: true,
        },
    )
    .unwrap();
    out.apply(&mut headers);
    let trailers: Vec<(String, String)> = trailer
        .map(|t| vec![(t.header_name().to_owned(), checksum_base64(t, data))])
        .unwrap_or_default();
    let mut body = Vec::new();
    match mode {
        PayloadMode::StreamingSigned | PayloadMode::StreamingSignedTrailer => {
            let mut signer = out.chunk_signer();
            for c in data.chunks(chunk) {
                body.extend(signer.encode_chunk(c));
            }
            if mode == PayloadMode::StreamingSigned {
                body.extend(signer.encode_final());
            } else {
                body.extend(signer.encode_final_with_trailers(&trailers));
            }
        }
        _ => {
            for c in data.chunks(chunk) {
                body.extend(encode_unsigned_chunk(c));
            }
            body.extend(encode_unsigned_final(&trailers));
        }
    }
    let opts = VerifyOptions::s3();
    let Auth::Signed(signed) =
        parse(&RequestView::new(&Method::PUT, &uri, &headers), &opts).unwrap()
    else {
        panic!()
    };
    let verified = verify(&signed, "upload-secret", Payload::Declared, when, &opts).unwrap();
    assert_eq!(verified.payload(), mode);
    Upload {
        verified,
        headers,
        body,
    }
}

/// ASCII payload (so tests can splice the encoded body as text).
fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i * 31 % 26) as u8).collect()
}

/// Binary payload, including CR, LF and bytes >= 0x80.
fn bin_data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

impl Upload {
    fn decode(&self, body: &[u8], piece: usize) -> Result<(Vec<u8>, ChunkedSummary), SigV4Error> {
        decode_in_pieces(self.verified.chunked_decoder(&self.headers)?, body, piece)
    }
}

#[test]
fn our_chunk_signatures_match_aws_sigv4() {
    let d = data(20_000);
    let up = upload(PayloadMode::StreamingSigned, &d, 8192, None, d.len() as u64);
    let identity: aws_smithy_runtime_api::client::identity::Identity =
        aws_credential_types::Credentials::new("AKIAUPLOAD", "upload-secret", None, None, "t")
            .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(SystemTime::from(
            parse_amz_date("20260401T000000Z").unwrap(),
        ))
        .settings(())
        .build()
        .unwrap();
    let mut running = up.verified.signature_hex();
    let text = String::from_utf8_lossy(&up.body).into_owned();
    let ours: Vec<&str> = text
        .split("chunk-signature=")
        .skip(1)
        .map(|s| &s[..64])
        .collect();
    let mut pieces: Vec<&[u8]> = d.chunks(8192).collect();
    pieces.push(&[]);
    assert_eq!(ours.len(), pieces.len());
    for (piece, our_sig) in pieces.iter().zip(ours) {
        let (_, sig) =
            aws_sigv4::sign::v4::sign_chunk(&Bytes::copy_from_slice(piece), &running, &params)
                .unwrap()
                .into_parts();
        assert_eq!(sig, our_sig);
        running = sig;
    }
}

#[test]
fn round_trips_every_mode_and_checksum() {
    let d = bin_data(70_001);
    for (mode, trailer) in [
        (PayloadMode::StreamingSigned, None),
        (
            PayloadMode::StreamingSignedTrailer,
            Some(ChecksumAlgorithm::Crc32),
        ),
        (
            PayloadMode::StreamingSignedTrailer,
            Some(ChecksumAlgorithm::Crc32c),
        ),
        (
            PayloadMode::StreamingSignedTrailer,
            Some(ChecksumAlgorithm::Sha256),
        ),
        (PayloadMode::StreamingSignedTrailer, None),
        (
            PayloadMode::StreamingUnsignedTrailer,
            Some(ChecksumAlgorithm::Crc32),
        ),
        (
            PayloadMode::StreamingUnsignedTrailer,
            Some(ChecksumAlgorithm::Crc32c),
        ),
        (
            PayloadMode::StreamingUnsignedTrailer,
            Some(ChecksumAlgorithm::Sha256),
        ),
        (
            PayloadMode::StreamingUnsignedTrailer,
            Some(ChecksumAlgorithm::Sha1),
        ),
        (PayloadMode::StreamingUnsignedTrailer, None),
    ] {
        for chunk in [8192, 65536, 100_000] {
            let up = upload(mode, &d, chunk, trailer, d.len() as u64);
            for piece in [1, 13, 4096, up.body.len()] {
                if piece == 1 && chunk != 8192 {
                    continue;
                }
                let (out, summary) = up
                    .decode(&up.body, piece)
                    .unwrap_or_else(|e| panic!("{mode:?} {trailer:?} {chunk}/{piece}: {e:?}"));
                assert_eq!(out, d);
                assert_eq!(summary.checksum.map(|c| c.0), trailer);
            }
        }
    }
    // Empty payload.
    for mode in [
        PayloadMode::StreamingSigned,
        PayloadMode::StreamingUnsignedTrailer,
    ] {
        let up = upload(mode, &[], 8192, None, 0);
        assert_eq!(up.decode(&up.body, 3).unwrap().0, Vec::<u8>::new());
    }
}

#[test]
fn bad_checksums_and_trailers() {
    let d = data(10_000);
    for alg in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Sha256,
    ] {
        let up = upload(
            PayloadMode::StreamingUnsignedTrailer,
            &d,
            4096,
            Some(alg),
            d.len() as u64,
        );
        // Corrupt a data byte: the checksum catches it.
        let mut body = up.body.clone();
        body[100] ^= 1;
        assert!(matches!(
            up.decode(&body, 999).unwrap_err(),
            SigV4Error::ChecksumMismatch { .. }
        ));
        let text = String::from_utf8_lossy(&up.body).into_owned();
        let line_start = text.find(alg.header_name()).unwrap();
        let line_end = line_start + text[line_start..].find("\r\n").unwrap() + 2;
        // Trailer missing.
        let mut missing = up.body[..line_start].to_vec();
        missing.extend_from_slice(&up.body[line_end..]);
        assert_eq!(
            up.decode(&missing, 999).unwrap_err(),
            SigV4Error::MissingTrailer(alg.header_name().into())
        );
        // A different trailer than announced.
        let swapped = text.replace(alg.header_name(), "x-amz-checksum-other");
        assert!(matches!(
            up.decode(swapped.as_bytes(), 999).unwrap_err(),
            SigV4Error::UnexpectedTrailer(_)
        ));
    }
    // Signed trailer with a signed-but-wrong checksum: signature holds, checksum does not.
    let up = upload(
        PayloadMode::StreamingSignedTrailer,
        &d,
        4096,
        Some(ChecksumAlgorithm::Crc32),
        d.len() as u64,
    );
    let mut body = up.body.clone();
    let pos = body.len() - 150;
    assert!(body[pos..].starts_with(b"x-amz") || !body.is_empty());
    // Flip a byte inside the trailer value: either the trailer signature or the framing fails.
    let text = String::from_utf8_lossy(&body).into_owned();
    let vpos = text.find("x-amz-checksum-crc32:").unwrap() + "x-amz-checksum-crc32:".len();
    body[vpos] = if body[vpos] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        up.decode(&body, 999).unwrap_err(),
        SigV4Error::TrailerSignatureMismatch
    );
    // An unannounced trailer on a plain signed stream.
    let up = upload(PayloadMode::StreamingSigned, &d, 4096, None, d.len() as u64);
    let mut body = up.body[..up.body.len() - 2].to_vec();
    body.extend_from_slice(b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n");
    assert!(matches!(
        up.decode(&body, 999).unwrap_err(),
        SigV4Error::UnexpectedTrailer(_)
    ));
    // Unsupported announced checksum.
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amz-decoded-content-length",
        HeaderValue::from_static("1"),
    );
    headers.insert(
        "x-amz-trailer",
        HeaderValue::from_static("x-amz-checksum-crc64"),
    );
    assert!(matches!(
        ChunkedDecoderConfig::from_headers(&headers),
        Err(SigV4Error::UnsupportedChecksum(_))
    ));
}

#[test]
fn chunk_reordering_and_truncation() {
    let d = data(3 * 4096);
    let up = upload(PayloadMode::StreamingSigned, &d, 4096, None, d.len() as u64);
    let text = String::from_utf8_lossy(&up.body).into_owned();
    // Swap the first two (equal-sized) chunks: each is validly signed, the chain is not.
    let second = text[1..].find("1000;chunk-signature").unwrap() + 1;
    let third = text[second + 1..].find("1000;chunk-signature").unwrap() + second + 1;
    let mut swapped = up.body[second..third].to_vec();
    swapped.extend_from_slice(&up.body[..second]);
    swapped.extend_from_slice(&up.body[third..]);
    assert_eq!(
        up.decode(&swapped, 512).unwrap_err(),
        SigV4Error::ChunkSignatureMismatch { index: 0 }
    );
    // Truncation anywhere before the end is an incomplete body.
    for cut in [
        0,
        1,
        50,
        4096,
        second,
        third + 10,
        up.body.len() - 2,
        up.body.len() - 1,
    ] {
        assert_eq!(
            up.decode(&up.body[..cut], 512).unwrap_err(),
            SigV4Error::IncompleteBody,
            "cut at {cut}"
        );
    }
    // Data after the end.
    let mut extra = up.body.clone();
    extra.extend_from_slice(b"x");
    assert!(matches!(
        up.decode(&extra, 512).unwrap_err(),
        SigV4Error::ChunkedFraming(_)
    ));
}

#[test]
fn decoded_length_must_match() {
    let d = data(10_000);
    let longer = upload(
        PayloadMode::StreamingSigned,
        &d,
        4096,
        None,
        d.len() as u64 + 1,
    );
    assert_eq!(
        longer.decode(&longer.body, 999).unwrap_err(),
        SigV4Error::DecodedLengthMismatch {
            declared: 10_001,
            actual: 10_000
        }
    );
    let shorter = upload(
        PayloadMode::StreamingUnsignedTrailer,
        &d,
        4096,
        None,
        d.len() as u64 - 1,
    );
    assert!(matches!(
        shorter.decode(&shorter.body, 999).unwrap_err(),
        SigV4Error::DecodedLengthMismatch {
            declared: 9_999,
            ..
        }
    ));
    // Header required.
    let mut headers = longer.headers.clone();
    headers.remove("x-amz-decoded-content-length");
    assert_eq!(
        longer.verified.chunked_decoder(&headers).unwrap_err(),
        SigV4Error::Missing("x-amz-decoded-content-length")
    );
}

#[test]
fn malformed_framing() {
    let d = data(5_000);
    let signed = upload(PayloadMode::StreamingSigned, &d, 4096, None, d.len() as u64);
    let text = String::from_utf8_lossy(&signed.body).into_owned();
    let cases: Vec<(&str, String)> = vec![
        ("leading garbage", format!("zz{text}")),
        ("bare LF", text.replacen("\r\n", "\n", 1)),
        ("no signature", {
            let start = text.find(";chunk-signature=").unwrap();
            format!("{}{}", &text[..start], &text[start + 17 + 64..])
        }),
        ("uppercase signature", {
            let start = text.find(";chunk-signature=").unwrap() + 17;
            format!(
                "{}{}{}",
                &text[..start],
                text[start..start + 64].to_uppercase(),
                &text[start + 64..]
            )
        }),
        ("data not followed by CRLF", {
            let data_end = text.find("\r\n").unwrap() + 2 + 4096;
            format!("{}XX{}", &text[..data_end], &text[data_end + 2..])
        }),
        ("negative size", format!("-{text}")),
        (
            "huge size",
            format!(
                "fffffffffffffffff;{}",
                &text[text.find("chunk-signature").unwrap()..]
            ),
        ),
    ];
    for (what, body) in cases {
        let Err(err) = signed.decode(body.as_bytes(), 700) else {
            panic!("{what}: accepted");
        };
        assert!(
            matches!(
                err,
                SigV4Error::ChunkedFraming(_) | SigV4Error::ChunkSignatureMismatch { .. }
            ),
            "{what}: {err:?}"
        );
    }
    // Chunk too large for the configured limit.
    let ctx = signed.verified.chunk_signing_context();
    let config = ChunkedDecoderConfig {
        max_chunk_size: 1024,
        decoded_content_length: None,
        trailer: None,
    };
    let mut dec = ChunkedDecoder::new(PayloadMode::StreamingSigned, Some(ctx), config).unwrap();
    assert_eq!(
        dec.push(&signed.body).unwrap_err(),
        SigV4Error::ChunkTooLarge {
            size: 4096,
            max: 1024
        }
    );
    // After an error, the decoder refuses everything.
    assert!(dec.push(b"0\r\n").is_err());
    assert!(dec.finish().is_err());
    // Unsigned mode rejects chunk signatures.
    let unsigned = upload(
        PayloadMode::StreamingUnsignedTrailer,
        &d,
        4096,
        None,
        d.len() as u64,
    );
    assert!(matches!(
        unsigned.decode(&signed.body, 700).unwrap_err(),
        SigV4Error::ChunkedFraming(_)
    ));
    // Non-streaming payload modes cannot be decoded.
    assert!(
        ChunkedDecoder::new(PayloadMode::Unsigned, None, ChunkedDecoderConfig::default()).is_err()
    );
    assert!(
        ChunkedDecoder::new(
            PayloadMode::StreamingSigned,
            None,
            ChunkedDecoderConfig::default()
        )
        .is_err()
    );
}

#[test]
fn unsigned_body_ending_after_last_chunk_is_accepted() {
    // Some SDKs send `0\r\n` and nothing more when there is no trailer.
    let d = data(3000);
    let up = upload(
        PayloadMode::StreamingUnsignedTrailer,
        &d,
        1024,
        None,
        d.len() as u64,
    );
    let bare = &up.body[..up.body.len() - 2];
    assert!(bare.ends_with(b"\r\n0\r\n"));
    assert_eq!(up.decode(bare, 100).unwrap().0, d);
    // ...but not when a trailer was announced.
    let up = upload(
        PayloadMode::StreamingUnsignedTrailer,
        &d,
        1024,
        Some(ChecksumAlgorithm::Crc32),
        d.len() as u64,
    );
    let zero = String::from_utf8_lossy(&up.body).rfind("0\r\n").unwrap();
    assert_eq!(
        up.decode(&up.body[..zero + 3], 100).unwrap_err(),
        SigV4Error::IncompleteBody
    );
}
