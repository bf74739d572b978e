//! `aws-chunked` payloads: an incremental, bounded-memory decoder that verifies chained chunk
//! signatures, trailer signatures and trailing checksums, and the matching client-side
//! encoder.
//!
//! Wire format (signed):
//! ```text
//! <hex-size>;chunk-signature=<sig>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n[trailers]\r\n
//! ```
//! Unsigned with trailers: `<hex-size>\r\n<data>\r\n ... 0\r\n<name>:<value>\r\n\r\n`.

use bytes::Bytes;
use http::HeaderMap;

use crate::SigV4Error;
use crate::checksum::{ChecksumAlgorithm, Checksummer};
use crate::crypto::{EMPTY_SHA256, SigningKey, ct_eq, sha256, sha256_hex};
use crate::parse::{PayloadMode, parse_lower_hex32};

/// Default limit on a single chunk's size (the SDKs use 64 KiB; 16 MiB leaves ample room).
pub const DEFAULT_MAX_CHUNK_SIZE: usize = 16 * 1024 * 1024;
const MAX_CHUNK_LINE: usize = 256;
const MAX_TRAILER_SECTION: usize = 16 * 1024;
const MAX_TRAILERS: usize = 8;
const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// Everything needed to compute chunk and trailer signatures chained from a seed signature.
#[derive(Clone, Debug)]
pub struct ChunkSigningContext {
    key: SigningKey,
    amz_date: String,
    scope: String,
    seed: [u8; 32],
}

impl ChunkSigningContext {
    /// A context from the signing key, the request's `YYYYMMDD'T'HHMMSS'Z'` date, its
    /// credential scope (`date/region/service/aws4_request`) and its signature (the seed).
    pub fn new(key: SigningKey, amz_date: String, scope: String, seed: [u8; 32]) -> Self {
        ChunkSigningContext {
            key,
            amz_date,
            scope,
            seed,
        }
    }

    fn sign(&self, algorithm: &str, prev: &[u8; 32], hash_lines: &str) -> [u8; 32] {
        let mut sts = String::with_capacity(256);
        sts.push_str(algorithm);
        sts.push('\n');
        sts.push_str(&self.amz_date);
        sts.push('\n');
        sts.push_str(&self.scope);
        sts.push('\n');
        sts.push_str(&hex::encode(prev));
        sts.push('\n');
        sts.push_str(hash_lines);
        self.key.sign(sts.as_bytes())
    }

    /// `AWS4-HMAC-SHA256-PAYLOAD` signature of a chunk whose data hashes to `data_hash`.
    pub fn chunk_signature(&self, prev: &[u8; 32], data_hash: &[u8; 32]) -> [u8; 32] {
        let lines = format!("{EMPTY_SHA256}\n{}", hex::encode(data_hash));
        self.sign("AWS4-HMAC-SHA256-PAYLOAD", prev, &lines)
    }

    /// `AWS4-HMAC-SHA256-TRAILER` signature of trailers (names lowercased, sorted,
    /// `name:value\n` each).
    pub fn trailer_signature(&self, prev: &[u8; 32], trailers: &[(String, String)]) -> [u8; 32] {
        self.sign(
            "AWS4-HMAC-SHA256-TRAILER",
            prev,
            &sha256_hex(&canonical_trailers(trailers)),
        )
    }
}

fn canonical_trailers(trailers: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<(String, &str)> = trailers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim()))
        .collect();
    sorted.sort();
    let mut out = Vec::new();
    for (n, v) in sorted {
        out.extend_from_slice(n.as_bytes());
        out.push(b':');
        out.extend_from_slice(v.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Limits and expectations for a [`ChunkedDecoder`].
#[derive(Debug, Clone)]
pub struct ChunkedDecoderConfig {
    /// `x-amz-decoded-content-length`: the decoded body must have exactly this length.
    pub decoded_content_length: Option<u64>,
    /// The checksum trailer announced in `x-amz-trailer`, if any.
    pub trailer: Option<ChecksumAlgorithm>,
    /// Largest chunk accepted (signed chunks are buffered until verified).
    pub max_chunk_size: usize,
}

impl Default for ChunkedDecoderConfig {
    fn default() -> Self {
        ChunkedDecoderConfig {
            decoded_content_length: None,
            trailer: None,
            max_chunk_size: DEFAULT_MAX_CHUNK_SIZE,
        }
    }
}

impl ChunkedDecoderConfig {
    /// Reads `x-amz-decoded-content-length` (required) and `x-amz-trailer` (optional).
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, SigV4Error> {
        let len = headers
            .get("x-amz-decoded-content-length")
            .ok_or(SigV4Error::Missing("x-amz-decoded-content-length"))?;
        let len = len
            .to_str()
            .ok()
            .filter(|s| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| SigV4Error::framing("invalid x-amz-decoded-content-length"))?;
        let trailer = match headers.get("x-amz-trailer") {
            None => None,
            Some(v) => {
                let v = v
                    .to_str()
                    .map_err(|_| SigV4Error::framing("invalid x-amz-trailer"))?;
                if v.contains(',') {
                    return Err(SigV4Error::UnexpectedTrailer(v.to_owned()));
                }
                Some(ChecksumAlgorithm::from_header_name(v)?)
            }
        };
        Ok(ChunkedDecoderConfig {
            decoded_content_length: Some(len),
            trailer,
            max_chunk_size: DEFAULT_MAX_CHUNK_SIZE,
        })
    }
}

/// What a successfully decoded body ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedSummary {
    /// Number of decoded payload bytes.
    pub decoded_length: u64,
    /// Trailers received (lowercase names, trimmed values), excluding the trailer signature.
    pub trailers: Vec<(String, String)>,
    /// The verified checksum trailer, if any (algorithm and base64 value).
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a `<hex-size>[;chunk-signature=..]\r\n` line.
    Header,
    /// Reading chunk data.
    Data { remaining: u64 },
    /// Reading the `\r\n` after chunk data; `matched` bytes already seen.
    DataCrlf { matched: u8 },
    /// After the final 0-size chunk: trailer lines until an empty line.
    Trailer,
    /// The body is complete.
    Done,
    /// An error occurred; the decoder is unusable.
    Failed,
}

/// Incremental `aws-chunked` decoder. Feed it the raw body in pieces with
/// [`push`](Self::push), which returns the decoded data available so far, then call
/// [`finish`](Self::finish). Signed chunks are released only once their signature is
/// verified; in unsigned mode data is released as it arrives and only [`finish`](Self::finish)
/// (trailing checksum) vouches for it. Memory is bounded by the chunk-size limit.
pub struct ChunkedDecoder {
    mode: PayloadMode,
    signing: Option<ChunkSigningContext>,
    prev_sig: [u8; 32],
    config: ChunkedDecoderConfig,
    state: State,
    line: Vec<u8>,
    chunk_buf: Vec<u8>,
    pending_sig: [u8; 32],
    checksum: Option<Checksummer>,
    decoded: u64,
    chunk_index: u64,
    trailers: Vec<(String, String)>,
    trailer_sig: Option<[u8; 32]>,
    trailer_bytes: usize,
}

impl std::fmt::Debug for ChunkedDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkedDecoder")
            .field("mode", &self.mode)
            .field("state", &self.state)
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

impl ChunkedDecoder {
    /// A decoder for `mode` (one of the streaming modes). Signed modes need the signing
    /// context of the verified request.
    pub fn new(
        mode: PayloadMode,
        signing: Option<ChunkSigningContext>,
        config: ChunkedDecoderConfig,
    ) -> Result<Self, SigV4Error> {
        if !mode.is_streaming() {
            return Err(SigV4Error::UnsupportedPayloadMode(mode.mode_name()));
        }
        let signed = matches!(
            mode,
            PayloadMode::StreamingSigned | PayloadMode::StreamingSignedTrailer
        );
        if signed && signing.is_none() {
            return Err(SigV4Error::Missing("chunk signing context"));
        }
        if mode == PayloadMode::StreamingSigned && config.trailer.is_some() {
            return Err(SigV4Error::UnexpectedTrailer(
                "x-amz-trailer without a trailer payload mode".to_owned(),
            ));
        }
        let prev_sig = signing.as_ref().map(|s| s.seed).unwrap_or([0; 32]);
        Ok(ChunkedDecoder {
            mode,
            signing: if signed { signing } else { None },
            prev_sig,
            checksum: config.trailer.map(|a| a.hasher()),
            config,
            state: State::Header,
            line: Vec::new(),
            chunk_buf: Vec::new(),
            pending_sig: [0; 32],
            decoded: 0,
            chunk_index: 0,
            trailers: Vec::new(),
            trailer_sig: None,
            trailer_bytes: 0,
        })
    }

    /// Number of payload bytes decoded so far.
    pub fn decoded_length(&self) -> u64 {
        self.decoded
    }

    /// Whether the final chunk (and trailers) have been fully received.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds the next piece of the raw body; returns the decoded data that became available.
    /// After an error the decoder refuses all further input.
    pub fn push(&mut self, input: &[u8]) -> Result<Vec<Bytes>, SigV4Error> {
        let mut out = Vec::new();
        match self.push_inner(input, &mut out) {
            Ok(()) => Ok(out),
            Err(e) => {
                self.state = State::Failed;
                self.chunk_buf = Vec::new();
                Err(e)
            }
        }
    }

    fn push_inner(&mut self, mut input: &[u8], out: &mut Vec<Bytes>) -> Result<(), SigV4Error> {
        while !input.is_empty() {
            match self.state {
                State::Failed => return Err(SigV4Error::framing("decoder already failed")),
                State::Done => return Err(SigV4Error::framing("data after the final chunk")),
                State::Header | State::Trailer => {
                    let limit = if self.state == State::Header {
                        MAX_CHUNK_LINE
                    } else {
                        MAX_TRAILER_SECTION.saturating_sub(self.trailer_bytes)
                    };
                    let (taken, complete) = match input.iter().position(|&b| b == b'\n') {
                        Some(i) => (i + 1, true),
                        None => (input.len(), false),
                    };
                    if self.line.len() + taken > limit {
                        return Err(SigV4Error::framing("chunk header or trailer line too long"));
                    }
                    self.line.extend_from_slice(&input[..taken]);
                    input = &input[taken..];
                    if complete {
                        let mut line = std::mem::take(&mut self.line);
                        if line.len() < 2 || line[line.len() - 2] != b'\r' {
                            return Err(SigV4Error::framing("line not terminated by CRLF"));
                        }
                        line.truncate(line.len() - 2);
                        if self.state == State::Header {
                            self.on_chunk_header(&line)?;
                        } else {
                            self.trailer_bytes += line.len() + 2;
                            self.on_trailer_line(&line)?;
                        }
                        self.line = line;
                        self.line.clear();
                    }
                }
                State::Data { remaining } => {
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let (data, rest) = input.split_at(n);
                    input = rest;
                    if let Some(c) = &mut self.checksum {
                        c.update(data);
                    }
                    if self.signing.is_some() {
                        self.chunk_buf.extend_from_slice(data);
                    } else {
                        out.push(Bytes::copy_from_slice(data));
                    }
                    self.decoded += n as u64;
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::DataCrlf { matched: 0 }
                    } else {
                        State::Data { remaining }
                    };
                }
                State::DataCrlf { matched } => {
                    let expected = b"\r\n"[usize::from(matched)];
                    if input[0] != expected {
                        return Err(SigV4Error::framing("chunk data not followed by CRLF"));
                    }
                    input = &input[1..];
                    if matched == 0 {
                        self.state = State::DataCrlf { matched: 1 };
                    } else {
                        self.end_of_chunk_data(out)?;
                        self.state = State::Header;
                    }
                }
            }
        }
        Ok(())
    }

    fn end_of_chunk_data(&mut self, out: &mut Vec<Bytes>) -> Result<(), SigV4Error> {
        if let Some(ctx) = &self.signing {
            let expected = ctx.chunk_signature(&self.prev_sig, &sha256(&self.chunk_buf));
            if !ct_eq(&expected, &self.pending_sig) {
                return Err(SigV4Error::ChunkSignatureMismatch {
                    index: self.chunk_index,
                });
            }
            self.prev_sig = expected;
            out.push(Bytes::from(std::mem::take(&mut self.chunk_buf)));
        }
        self.chunk_index += 1;
        Ok(())
    }

    fn on_chunk_header(&mut self, line: &[u8]) -> Result<(), SigV4Error> {
        let (size_hex, ext) = match line.iter().position(|&b| b == b';') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        if size_hex.is_empty()
            || size_hex.len() > 16
            || !size_hex.iter().all(|b| b.is_ascii_hexdigit())
        {
            return Err(SigV4Error::framing("invalid chunk size"));
        }
        let mut size: u64 = 0;
        for &b in size_hex {
            // At most 16 hex digits: cannot overflow.
            size = (size << 4) | u64::from(char::from(b).to_digit(16).unwrap_or(0));
        }
        match (&self.signing, ext) {
            (Some(_), Some(ext)) => {
                let sig = ext
                    .strip_prefix(b"chunk-signature=")
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(parse_lower_hex32)
                    .ok_or_else(|| SigV4Error::framing("invalid chunk-signature extension"))?;
                self.pending_sig = sig;
            }
            (Some(_), None) => return Err(SigV4Error::framing("missing chunk-signature")),
            (None, Some(_)) => {
                return Err(SigV4Error::framing("unexpected chunk extension"));
            }
            (None, None) => {}
        }
        if size > self.config.max_chunk_size as u64 {
            return Err(SigV4Error::ChunkTooLarge {
                size,
                max: self.config.max_chunk_size as u64,
            });
        }
        if let Some(declared) = self.config.decoded_content_length
            && self.decoded.saturating_add(size) > declared
        {
            return Err(SigV4Error::DecodedLengthMismatch {
                declared,
                actual: self.decoded.saturating_add(size),
            });
        }
        if size == 0 {
            // The final chunk: signed over empty data.
            self.chunk_buf.clear();
            self.end_of_chunk_data(&mut Vec::new())?;
            self.state = State::Trailer;
        } else {
            self.chunk_buf.clear();
            self.state = State::Data { remaining: size };
        }
        Ok(())
    }

    fn on_trailer_line(&mut self, line: &[u8]) -> Result<(), SigV4Error> {
        if line.is_empty() {
            return self.end_of_trailers();
        }
        let line =
            std::str::from_utf8(line).map_err(|_| SigV4Error::framing("trailer is not UTF-8"))?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| SigV4Error::framing("trailer line without ':'"))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if name == TRAILER_SIGNATURE {
            if self.mode != PayloadMode::StreamingSignedTrailer {
                return Err(SigV4Error::UnexpectedTrailer(name));
            }
            if self.trailer_sig.is_some() {
                return Err(SigV4Error::framing("duplicate trailer signature"));
            }
            self.trailer_sig = Some(
                parse_lower_hex32(value)
                    .ok_or_else(|| SigV4Error::framing("invalid trailer signature"))?,
            );
            return Ok(());
        }
        if self.trailer_sig.is_some() {
            return Err(SigV4Error::framing("trailer after the trailer signature"));
        }
        let announced = self.config.trailer.map(|a| a.header_name());
        if self.mode == PayloadMode::StreamingSigned || announced != Some(name.as_str()) {
            return Err(SigV4Error::UnexpectedTrailer(name));
        }
        if self.trailers.iter().any(|(n, _)| *n == name) || self.trailers.len() >= MAX_TRAILERS {
            return Err(SigV4Error::framing("duplicate trailer"));
        }
        self.trailers.push((name, value.to_owned()));
        Ok(())
    }

    fn end_of_trailers(&mut self) -> Result<(), SigV4Error> {
        if self.mode == PayloadMode::StreamingSignedTrailer {
            let sig = self
                .trailer_sig
                .ok_or(SigV4Error::MissingTrailer(TRAILER_SIGNATURE.to_owned()))?;
            let ctx = self
                .signing
                .as_ref()
                .ok_or(SigV4Error::Missing("chunk signing context"))?;
            let expected = ctx.trailer_signature(&self.prev_sig, &self.trailers);
            if !ct_eq(&expected, &sig) {
                return Err(SigV4Error::TrailerSignatureMismatch);
            }
        }
        self.check_complete()?;
        self.state = State::Done;
        Ok(())
    }

    fn check_complete(&mut self) -> Result<(), SigV4Error> {
        if let Some(algorithm) = self.config.trailer {
            let name = algorithm.header_name();
            let value = self
                .trailers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| SigV4Error::MissingTrailer(name.to_owned()))?;
            if let Some(c) = self.checksum.take() {
                c.verify_base64(&value)?;
            }
        }
        if let Some(declared) = self.config.decoded_content_length
            && declared != self.decoded
        {
            return Err(SigV4Error::DecodedLengthMismatch {
                declared,
                actual: self.decoded,
            });
        }
        Ok(())
    }

    /// Ends the body: fails with [`SigV4Error::IncompleteBody`] unless the final chunk and
    /// the trailers were received (an unsigned body that stops right after `0\r\n` without
    /// announced trailers is accepted, as some SDKs send it).
    pub fn finish(mut self) -> Result<ChunkedSummary, SigV4Error> {
        match self.state {
            State::Done => {}
            State::Trailer
                if self.mode == PayloadMode::StreamingUnsignedTrailer
                    && self.line.is_empty()
                    && self.trailer_bytes == 0
                    && self.config.trailer.is_none() =>
            {
                self.check_complete()?;
            }
            State::Failed => return Err(SigV4Error::framing("decoder already failed")),
            _ => return Err(SigV4Error::IncompleteBody),
        }
        let checksum = self.config.trailer.and_then(|a| {
            self.trailers
                .iter()
                .find(|(n, _)| n == a.header_name())
                .map(|(_, v)| (a, v.clone()))
        });
        Ok(ChunkedSummary {
            decoded_length: self.decoded,
            trailers: self.trailers,
            checksum,
        })
    }
}

/// Client-side encoder of chunk-signed `aws-chunked` bodies
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`).
#[derive(Debug, Clone)]
pub struct ChunkSigner {
    ctx: ChunkSigningContext,
    prev: [u8; 32],
}

impl ChunkSigner {
    /// A signer chaining from the context's seed signature.
    pub fn new(ctx: ChunkSigningContext) -> Self {
        let prev = ctx.seed;
        ChunkSigner { ctx, prev }
    }

    /// Signs the next chunk (use an empty slice for the final chunk); returns the hex
    /// signature and advances the chain.
    pub fn sign_chunk(&mut self, data: &[u8]) -> String {
        self.prev = self.ctx.chunk_signature(&self.prev, &sha256(data));
        hex::encode(self.prev)
    }

    /// Signs trailers chained from the last chunk signature; returns the hex signature.
    pub fn sign_trailers(&mut self, trailers: &[(String, String)]) -> String {
        self.prev = self.ctx.trailer_signature(&self.prev, trailers);
        hex::encode(self.prev)
    }

    /// Encodes one data chunk: `<hex-size>;chunk-signature=<sig>\r\n<data>\r\n`.
    pub fn encode_chunk(&mut self, data: &[u8]) -> Vec<u8> {
        let sig = self.sign_chunk(data);
        let mut out = format!("{:x};chunk-signature={sig}\r\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Encodes the final chunk of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body.
    pub fn encode_final(&mut self) -> Vec<u8> {
        let sig = self.sign_chunk(&[]);
        format!("0;chunk-signature={sig}\r\n\r\n").into_bytes()
    }

    /// Encodes the final chunk, the trailers and the trailer signature of a
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` body.
    pub fn encode_final_with_trailers(&mut self, trailers: &[(String, String)]) -> Vec<u8> {
        let sig = self.sign_chunk(&[]);
        let mut out = format!("0;chunk-signature={sig}\r\n");
        for (n, v) in trailers {
            out.push_str(&format!("{}:{}\r\n", n.to_ascii_lowercase(), v.trim()));
        }
        let tsig = self.sign_trailers(trailers);
        out.push_str(&format!("{TRAILER_SIGNATURE}:{tsig}\r\n\r\n"));
        out.into_bytes()
    }
}

/// Encodes one chunk of a `STREAMING-UNSIGNED-PAYLOAD-TRAILER` body.
pub fn encode_unsigned_chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// Encodes the final chunk and trailers of a `STREAMING-UNSIGNED-PAYLOAD-TRAILER` body.
pub fn encode_unsigned_final(trailers: &[(String, String)]) -> Vec<u8> {
    let mut out = String::from("0\r\n");
    for (n, v) in trailers {
        out.push_str(&format!("{}:{}\r\n", n.to_ascii_lowercase(), v.trim()));
    }
    out.push_str("\r\n");
    out.into_bytes()
}
