//! Fuzzes the aws-chunked decoder in every streaming mode, feeding the input in pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podiam_sigv4::{
    ChecksumAlgorithm, ChunkSigningContext, ChunkedDecoder, ChunkedDecoderConfig, PayloadMode,
    SigningKey,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let mode = match selector % 3 {
        0 => PayloadMode::StreamingSigned,
        1 => PayloadMode::StreamingSignedTrailer,
        _ => PayloadMode::StreamingUnsignedTrailer,
    };
    let trailer = match (mode, selector / 3 % 3) {
        (PayloadMode::StreamingSigned, _) | (_, 0) => None,
        (_, 1) => Some(ChecksumAlgorithm::Crc32c),
        _ => Some(ChecksumAlgorithm::Sha256),
    };
    let ctx = ChunkSigningContext::new(
        SigningKey::derive("secret", "20260101", "us-east-1", "s3"),
        "20260101T000000Z".into(),
        "20260101/us-east-1/s3/aws4_request".into(),
        [0; 32],
    );
    let config = ChunkedDecoderConfig {
        decoded_content_length: (selector & 0x80 != 0).then_some(body.len() as u64 / 2),
        trailer,
        max_chunk_size: 1 << 16,
    };
    let Ok(mut decoder) = ChunkedDecoder::new(mode, Some(ctx), config) else {
        return;
    };
    let piece = usize::from(selector % 17) + 1;
    for chunk in body.chunks(piece) {
        if decoder.push(chunk).is_err() {
            return;
        }
    }
    let _ = decoder.finish();
});
