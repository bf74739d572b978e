//! Request bodies, streamed: plain (checked against a declared
//! `x-amz-content-sha256`), or `aws-chunked` (chunk signatures, trailer
//! signature and trailing checksums checked by podiam-sigv4), plus
//! `Content-MD5` and `x-amz-checksum-*` headers. Memory stays bounded by one
//! frame or one chunk.

use crate::auth::map_sigv4;
use crate::error::{S3Code, S3Error, S3Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use md5::Digest as _;
use podiam_sigv4::{
    ChecksumAlgorithm, Checksummer, ChunkedDecoder, ContentSha256Checker, VerifiedRequest,
};
use std::collections::VecDeque;

enum Decoder {
    Plain(Option<ContentSha256Checker>),
    Chunked(Box<ChunkedDecoder>),
}

/// A request body being read.
pub struct BodyReader {
    body: axum::body::Body,
    decoder: Option<Decoder>,
    pending: VecDeque<Bytes>,
    received: u64,
    limit: u64,
    /// The content's length as the request declared it (decoded, for
    /// `aws-chunked`).
    declared: Option<u64>,
    content_md5: Option<([u8; 16], md5::Md5)>,
    header_checksum: Option<(Checksummer, String)>,
    verified_checksum: Option<(String, String)>,
    done: bool,
}

impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader")
            .field("received", &self.received)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl BodyReader {
    /// A reader for `body`; `verified` is `None` for anonymous requests.
    /// Decoded content longer than `limit` fails with `EntityTooLarge`.
    pub fn new(
        body: axum::body::Body,
        verified: Option<&VerifiedRequest>,
        headers: &HeaderMap,
        limit: u64,
    ) -> S3Result<BodyReader> {
        let decoder = match verified {
            Some(v) if v.payload().is_streaming() => {
                Decoder::Chunked(Box::new(v.chunked_decoder(headers).map_err(map_sigv4)?))
            }
            Some(v) => Decoder::Plain(v.content_sha256_checker()),
            None => Decoder::Plain(None),
        };
        let declared = match &decoder {
            Decoder::Chunked(_) => header(headers, "x-amz-decoded-content-length"),
            Decoder::Plain(_) => header(headers, http::header::CONTENT_LENGTH.as_str()),
        }
        .and_then(|v| v.parse::<u64>().ok());
        if let Some(n) = declared
            && n > limit
        {
            return Err(S3Error::entity_too_large(n, limit));
        }
        let content_md5 = match header(headers, "content-md5") {
            None => None,
            Some(v) => {
                let raw = B64.decode(v.trim()).ok();
                let arr: [u8; 16] = raw.and_then(|r| r.try_into().ok()).ok_or_else(|| {
                    S3Error::new(
                        S3Code::InvalidDigest,
                        "The Content-MD5 you specified was invalid.",
                    )
                })?;
                Some((arr, md5::Md5::new()))
            }
        };
        // A checksum sent as a header (not as a trailer) covers the content too.
        let trailer = header(headers, "x-amz-trailer").map(|t| t.trim().to_ascii_lowercase());
        let mut header_checksum = None;
        for (name, value) in headers {
            let n = name.as_str();
            if !n.starts_with("x-amz-checksum-")
                || n == "x-amz-checksum-algorithm"
                || n == "x-amz-checksum-type"
            {
                continue;
            }
            if trailer.as_deref() == Some(n) {
                continue;
            }
            if let Ok(alg) = ChecksumAlgorithm::from_header_name(n)
                && let Ok(v) = value.to_str()
            {
                header_checksum = Some((alg.hasher(), v.trim().to_string()));
            }
        }
        Ok(BodyReader {
            body,
            decoder: Some(decoder),
            pending: VecDeque::new(),
            received: 0,
            limit,
            declared,
            content_md5,
            header_checksum,
            verified_checksum: None,
            done: false,
        })
    }

    /// The content's declared length (`x-amz-decoded-content-length` for
    /// `aws-chunked`, else `Content-Length`), if any.
    pub fn declared_length(&self) -> Option<u64> {
        self.declared
    }

    /// The next piece of decoded content; `None` once the body is complete
    /// and every check (payload hash, chunk and trailer signatures,
    /// checksums, `Content-MD5`) has passed.
    pub async fn next(&mut self) -> S3Result<Option<Bytes>> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                self.account(&b)?;
                return Ok(Some(b));
            }
            if self.done {
                return Ok(None);
            }
            match self.body.frame().await {
                None => {
                    self.finish()?;
                    self.done = true;
                }
                Some(Err(_)) => {
                    return Err(S3Error::new(
                        S3Code::IncompleteBody,
                        "You did not provide the number of bytes specified by the Content-Length HTTP header",
                    ));
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    match self.decoder.as_mut() {
                        Some(Decoder::Plain(c)) => {
                            if let Some(c) = c {
                                c.update(&data);
                            }
                            self.pending.push_back(data);
                        }
                        Some(Decoder::Chunked(d)) => {
                            self.pending.extend(d.push(&data).map_err(map_sigv4)?);
                        }
                        None => return Err(S3Error::internal("body decoder gone")),
                    }
                }
            }
        }
    }

    fn account(&mut self, b: &Bytes) -> S3Result<()> {
        self.received += b.len() as u64;
        if self.received > self.limit {
            return Err(S3Error::entity_too_large(self.received, self.limit));
        }
        if let Some((_, ctx)) = &mut self.content_md5 {
            ctx.update(b);
        }
        if let Some((c, _)) = &mut self.header_checksum {
            c.update(b);
        }
        Ok(())
    }

    fn finish(&mut self) -> S3Result<()> {
        match self.decoder.take() {
            Some(Decoder::Plain(Some(c))) => c.finish().map_err(map_sigv4)?,
            Some(Decoder::Plain(None)) | None => {}
            Some(Decoder::Chunked(d)) => {
                let summary = d.finish().map_err(map_sigv4)?;
                if let Some((alg, v)) = summary.checksum {
                    self.verified_checksum = Some((alg.header_name().to_string(), v));
                }
            }
        }
        if let Some((expected, ctx)) = self.content_md5.take()
            && ctx.finalize().as_slice() != expected
        {
            return Err(S3Error::new(
                S3Code::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
        if let Some((c, expected)) = self.header_checksum.take() {
            let alg = c.algorithm();
            if c.finalize_base64() != expected {
                return Err(S3Error::new(
                    S3Code::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        alg.header_name()
                            .trim_start_matches("x-amz-checksum-")
                            .to_ascii_uppercase()
                    ),
                ));
            }
            self.verified_checksum = Some((alg.header_name().to_string(), expected));
        }
        Ok(())
    }

    /// The `x-amz-checksum-*` (name, base64) verified over the content, if
    /// the client sent one.
    pub fn verified_checksum(&self) -> Option<&(String, String)> {
        self.verified_checksum.as_ref()
    }

    /// Reads the whole (small) body; more than `cap` bytes is `err`.
    pub async fn read_all(mut self, cap: usize, err: S3Error) -> S3Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(b) = self.next().await? {
            if out.len() + b.len() > cap {
                return Err(err);
            }
            out.extend_from_slice(&b);
        }
        Ok(out)
    }
}

/// A request body that records whether it was read to its end.
///
/// A refusal (or any answer) sent before the client's body was read leaves
/// the rest of the body on the connection: with `Expect: 100-continue` the
/// server cannot know whether the client sends it anyway, and if it does,
/// its bytes would be read as the start of the next request. Such an answer
/// closes the connection instead ([`Tracked::close_unless_read`]).
pub struct Tracked {
    inner: axum::body::Body,
    read: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Whether a [`Tracked`] body was read to its end.
#[derive(Clone)]
pub struct ReadToEnd(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Tracked {
    /// Wraps `body` when `headers` announce one; `None` when they do not
    /// (nothing can be left unread).
    pub fn wrap(
        body: axum::body::Body,
        headers: &HeaderMap,
    ) -> (axum::body::Body, Option<ReadToEnd>) {
        let announced = headers.contains_key(http::header::TRANSFER_ENCODING)
            || headers
                .get(http::header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0");
        if !announced {
            return (body, None);
        }
        let read = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let tracked = Tracked {
            inner: body,
            read: read.clone(),
        };
        (axum::body::Body::new(tracked), Some(ReadToEnd(read)))
    }
}

impl ReadToEnd {
    /// Adds `Connection: close` to `resp` unless the body was read whole.
    pub fn close_unless_read(&self, resp: &mut http::Response<axum::body::Body>) {
        if !self.0.load(std::sync::atomic::Ordering::Acquire) {
            resp.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None)) || self.inner.is_end_stream() {
            self.read.store(true, std::sync::atomic::Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
