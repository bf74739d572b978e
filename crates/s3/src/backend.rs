//! An S3-compatible object store as the data plane (`serve --s3-backend
//! URL`): Garage, MinIO, Ceph RGW. podiam authenticates and authorizes every
//! request as with its own store, then performs the operation there, signed
//! with the backend's key, and streams the answer back.
//!
//! Mapping: podiam bucket `b` is backend bucket `b` (path style); the
//! backend's key must be allowed to create buckets, and podiam's bucket
//! records (owner, policy, tags) stay in podiam's store. Object tags ride
//! along as the reserved user metadata [`TAGS_META`], since not every store
//! (Garage) has object tagging; they are never shown as metadata.

use crate::body::BodyReader;
use crate::error::{S3Code, S3Error, S3Result};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Uri, header};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Frame, Incoming};
use podiam_sigv4::client::HttpsClient;
use podiam_sigv4::{Credentials, PayloadMode, SigningParams};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The user metadata that carries an object's tags on the backend.
pub const TAGS_META: &str = "x-amz-meta-podiam-tagging";

/// The longest wait for the answer to a request without a body.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest error document read from the backend.
const MAX_ERROR_BODY: usize = 64 * 1024;

type OutBody = UnsyncBoxBody<Bytes, S3Error>;

/// What is sent as a request body.
pub(crate) enum Outgoing {
    /// Nothing.
    Empty,
    /// A small body read whole (XML documents).
    Bytes(Bytes),
    /// The caller's body, decoded and verified while it streams through.
    /// `length` is the decoded content's, when the caller declared it; a
    /// checksum the caller sent as a trailer (verified by podiam) is sent
    /// on as one.
    Stream {
        reader: Box<BodyReader>,
        length: Option<u64>,
        trailer: Option<HeaderName>,
    },
}

/// The backend store and how to reach it.
pub struct Backend {
    endpoint: Uri,
    region: String,
    creds: Credentials,
    client: HttpsClient<OutBody>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// The store at `url` (`http://` or `https://`), signing for `region`
    /// with `creds`.
    pub fn new(url: &str, region: &str, creds: Credentials) -> Result<Backend, String> {
        let endpoint: Uri = url
            .trim_end_matches('/')
            .parse()
            .map_err(|e| format!("--s3-backend {url}: {e}"))?;
        if !matches!(endpoint.scheme_str(), Some("http" | "https")) || endpoint.host().is_none() {
            return Err(format!("--s3-backend {url}: not an http(s) URL"));
        }
        Ok(Backend {
            endpoint,
            region: region.to_string(),
            creds,
            client: podiam_sigv4::client::https_client()?,
        })
    }

    /// Sends one request for `bucket` (and `key`) with `query` (already
    /// encoded) and `headers`. Error answers become [`S3Error`]s: the
    /// backend's code when S3 has it, `ServiceUnavailable` for faults.
    pub(crate) async fn send(
        &self,
        method: Method,
        bucket: &str,
        key: Option<&str>,
        query: &str,
        mut headers: HeaderMap,
        body: Outgoing,
    ) -> S3Result<Response<Incoming>> {
        let mut path = format!(
            "/{}",
            podiam_sigv4::encode::uri_encode(bucket.as_bytes(), true)
        );
        if let Some(k) = key {
            path.push('/');
            path.push_str(&podiam_sigv4::encode::uri_encode(k.as_bytes(), false));
        }
        let authority = self.endpoint.authority().map_or("", |a| a.as_str());
        let scheme = self.endpoint.scheme_str().unwrap_or("http");
        let uri: Uri = if query.is_empty() {
            format!("{scheme}://{authority}{path}")
        } else {
            format!("{scheme}://{authority}{path}?{query}")
        }
        .parse()
        .map_err(|e| S3Error::internal(format!("backend URI: {e}")))?;
        // How the caller's body ended: its fault, to answer with the
        // caller's error (a bad chunk signature), not the transport's; or the
        // checksum podiam verified, which S3 echoes.
        let ended: Arc<Mutex<StreamEnd>> = Arc::default();
        let (payload, out, bounded) = match body {
            Outgoing::Empty => (PayloadMode::for_body(b""), empty(), true),
            Outgoing::Bytes(b) => {
                set_len(&mut headers, b.len() as u64);
                (
                    PayloadMode::for_body(&b),
                    http_body_util::Full::new(b)
                        .map_err(|never| match never {})
                        .boxed_unsync(),
                    true,
                )
            }
            Outgoing::Stream {
                reader,
                length,
                trailer,
            } => {
                let mode = match &trailer {
                    None => {
                        if let Some(n) = length {
                            set_len(&mut headers, n);
                        }
                        PayloadMode::Unsigned
                    }
                    Some(t) => {
                        headers.insert(
                            "x-amz-trailer",
                            HeaderValue::from_str(t.as_str()).map_err(S3Error::internal)?,
                        );
                        if let Some(n) = length {
                            headers.insert("x-amz-decoded-content-length", HeaderValue::from(n));
                        }
                        let enc = match headers.get(header::CONTENT_ENCODING) {
                            Some(v) => format!("aws-chunked,{}", v.to_str().unwrap_or_default()),
                            None => "aws-chunked".to_string(),
                        };
                        headers.insert(
                            header::CONTENT_ENCODING,
                            HeaderValue::from_str(&enc).map_err(S3Error::internal)?,
                        );
                        PayloadMode::StreamingUnsignedTrailer
                    }
                };
                (mode, stream(reader, trailer, ended.clone()), false)
            }
        };
        let params = SigningParams {
            credentials: &self.creds,
            region: &self.region,
            service: "s3",
            time: time::OffsetDateTime::now_utc(),
            s3: true,
        };
        podiam_sigv4::sign(&method, &uri, &headers, &payload, &params)
            .map_err(|e| S3Error::internal(format!("signing for the backend: {e}")))?
            .apply(&mut headers);
        let mut req = http::Request::new(out);
        *req.method_mut() = method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        let sent = self.client.request(req);
        // A body's upload takes as long as it takes; a bodiless call does not.
        let resp = if bounded {
            tokio::time::timeout(TIMEOUT, sent)
                .await
                .map_err(|_| self.unavailable(&method, "timed out"))?
        } else {
            sent.await
        };
        let end = || std::mem::take(&mut *ended.lock().unwrap_or_else(|e| e.into_inner()));
        let mut resp = match resp {
            Ok(r) => r,
            Err(e) => {
                if let Some(caller_fault) = end().fault {
                    return Err(caller_fault);
                }
                return Err(self.unavailable(&method, &format!("unreachable: {e}")));
            }
        };
        let status = resp.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            // A store may not echo a checksum that came as a trailer.
            if let Some((name, value)) = end().checksum
                && let Ok(name) = HeaderName::from_bytes(name.as_bytes())
                && !resp.headers().contains_key(&name)
                && let Ok(value) = HeaderValue::from_str(&value)
            {
                resp.headers_mut().insert(name, value);
            }
            return Ok(resp);
        }
        let raw = http_body_util::Limited::new(resp.into_body(), MAX_ERROR_BODY)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Err(self.error(status, &raw))
    }

    /// A request with no headers or body.
    pub(crate) async fn bare(
        &self,
        method: Method,
        bucket: &str,
        key: Option<&str>,
        query: &str,
    ) -> S3Result<Response<Incoming>> {
        self.send(
            method,
            bucket,
            key,
            query,
            HeaderMap::new(),
            Outgoing::Empty,
        )
        .await
    }

    /// Creates `bucket`; one the backend's key already owns is kept (another
    /// replica, or an earlier attempt, created it).
    pub(crate) async fn create_bucket(&self, bucket: &str) -> S3Result<()> {
        match self.bare(Method::PUT, bucket, None, "").await {
            Ok(_) => Ok(()),
            Err(e) if e.code == S3Code::BucketAlreadyOwnedByYou => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes `bucket` (`BucketNotEmpty` while it holds objects); one the
    /// backend no longer has is gone already.
    pub(crate) async fn delete_bucket(&self, bucket: &str) -> S3Result<()> {
        match self.bare(Method::DELETE, bucket, None, "").await {
            Err(e) if e.code != S3Code::NoSuchBucket => Err(e),
            _ => Ok(()),
        }
    }

    /// Deletes one object.
    pub(crate) async fn delete_object(&self, bucket: &str, key: &str) -> S3Result<()> {
        self.bare(Method::DELETE, bucket, Some(key), "")
            .await
            .map(drop)
    }

    /// A whole answer body (listings, part lists); a store that stops
    /// mid-answer is unavailable.
    pub(crate) async fn read(&self, body: Incoming) -> S3Result<Bytes> {
        body.collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| self.unavailable(&Method::GET, &format!("reading the answer: {e}")))
    }

    fn unavailable(&self, method: &Method, why: &str) -> S3Error {
        tracing::warn!(endpoint = %self.endpoint, %method, %why, "s3 backend fault");
        S3Error::new(
            S3Code::ServiceUnavailable,
            "Service is unable to handle request.",
        )
    }

    /// The backend's error answer as S3's.
    fn error(&self, status: StatusCode, raw: &[u8]) -> S3Error {
        let doc = crate::xml::parse(raw).ok();
        let field = |name: &str| doc.as_ref()?.text_of(name).map(str::to_string);
        let (code, message) = (field("Code"), field("Message"));
        // HEAD errors, and some stores' precondition failures, have no
        // body: the status says what it was (podiam checked the bucket).
        let known = code
            .as_deref()
            .and_then(S3Code::parse)
            .or(match status.as_u16() {
                404 => Some(S3Code::NoSuchKey),
                412 => Some(S3Code::PreconditionFailed),
                416 => Some(S3Code::InvalidRange),
                _ => None,
            });
        match known {
            // The backend's own faults (and its key being refused) are
            // podiam's to report as unavailability, not the caller's.
            Some(c)
                if c.status() < 500
                    && !matches!(
                        c,
                        S3Code::AccessDenied
                            | S3Code::InvalidAccessKeyId
                            | S3Code::SignatureDoesNotMatch
                            | S3Code::RequestTimeTooSkewed
                    ) =>
            {
                let m = match c.standard_message() {
                    Some(m) => m.to_string(),
                    None => message.unwrap_or_else(|| "The request was refused.".to_string()),
                };
                S3Error::new(c, m)
            }
            // A refusal podiam cannot name: the backend's words, as S3's
            // generic client error.
            None if status.is_client_error() && status != StatusCode::FORBIDDEN => {
                S3Error::invalid_request(
                    message.unwrap_or_else(|| format!("The request was refused ({status}).")),
                )
            }
            _ => {
                tracing::warn!(endpoint = %self.endpoint, %status, code = ?code, message = ?message, "s3 backend refused podiam's request");
                S3Error::new(
                    S3Code::ServiceUnavailable,
                    "Service is unable to handle request.",
                )
            }
        }
    }
}

fn set_len(headers: &mut HeaderMap, n: u64) {
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
}

fn empty() -> OutBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// How a streamed body ended.
#[derive(Default)]
struct StreamEnd {
    fault: Option<S3Error>,
    checksum: Option<(String, String)>,
}

/// The caller's decoded body as the backend's: plain, or `aws-chunked` with
/// unsigned chunks and the verified checksum as the trailer.
fn stream(
    reader: Box<BodyReader>,
    trailer: Option<HeaderName>,
    ended: Arc<Mutex<StreamEnd>>,
) -> OutBody {
    enum State {
        Reading(Box<BodyReader>),
        Done,
    }
    let chunked = trailer.is_some();
    let frames = futures_util::stream::unfold(State::Reading(reader), move |state| {
        let trailer = trailer.clone();
        let ended = ended.clone();
        async move {
            let State::Reading(mut reader) = state else {
                return None;
            };
            match reader.next().await {
                Ok(Some(data)) if chunked => {
                    let chunk = podiam_sigv4::encode_unsigned_chunk(&data);
                    Some((Ok(Frame::data(Bytes::from(chunk))), State::Reading(reader)))
                }
                Ok(Some(data)) => Some((Ok(Frame::data(data)), State::Reading(reader))),
                Ok(None) => {
                    if let Ok(mut end) = ended.lock() {
                        end.checksum = reader.verified_checksum().cloned();
                    }
                    let name = trailer?;
                    let value = reader
                        .verified_checksum()
                        .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    let last = podiam_sigv4::encode_unsigned_final(&[(name.to_string(), value)]);
                    Some((Ok(Frame::data(Bytes::from(last))), State::Done))
                }
                Err(e) => {
                    if let Ok(mut end) = ended.lock() {
                        end.fault = Some(e.clone());
                    }
                    Some((Err(e), State::Done))
                }
            }
        }
    });
    http_body_util::StreamBody::new(frames).boxed_unsync()
}

/// Tags as the reserved metadata value (a URL query, like `x-amz-tagging`).
pub fn encode_tags(tags: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in tags {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Tags from the reserved metadata value.
pub fn decode_tags(value: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(value.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_survive_the_metadata_round_trip() {
        let tags = vec![
            ("team".to_string(), "a b&c=d".to_string()),
            ("ünï".to_string(), String::new()),
        ];
        let enc = encode_tags(&tags);
        assert!(enc.is_ascii(), "{enc}");
        assert_eq!(decode_tags(&enc), tags);
        assert!(decode_tags("").is_empty());
    }

    #[test]
    fn backend_errors_map_to_s3_or_unavailable() {
        let be = Backend::new(
            "http://127.0.0.1:9",
            "garage",
            Credentials::new("id", "secret"),
        )
        .unwrap();
        let doc = |c: &str| {
            format!(
                "<?xml version=\"1.0\"?><Error><Code>{c}</Code><Message>m &amp; n</Message></Error>"
            )
        };
        // S3's own words where it has fixed ones, the backend's otherwise.
        let e = be.error(StatusCode::NOT_FOUND, doc("NoSuchKey").as_bytes());
        assert_eq!(
            (e.code, e.message.as_str()),
            (S3Code::NoSuchKey, "The specified key does not exist.")
        );
        let e = be.error(StatusCode::BAD_REQUEST, doc("InvalidArgument").as_bytes());
        assert_eq!(
            (e.code, e.message.as_str()),
            (S3Code::InvalidArgument, "m & n")
        );
        let e = be.error(StatusCode::CONFLICT, doc("BucketNotEmpty").as_bytes());
        assert_eq!(e.code, S3Code::BucketNotEmpty);
        // The backend refusing podiam's key is podiam's fault, not the caller's.
        let e = be.error(StatusCode::FORBIDDEN, doc("AccessDenied").as_bytes());
        assert_eq!(e.code, S3Code::ServiceUnavailable);
        let e = be.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            doc("InternalError").as_bytes(),
        );
        assert_eq!(e.code, S3Code::ServiceUnavailable);
        let e = be.error(StatusCode::BAD_GATEWAY, b"<html>");
        assert_eq!(e.code, S3Code::ServiceUnavailable);
        let e = be.error(StatusCode::NOT_FOUND, b"");
        assert_eq!(e.code, S3Code::NoSuchKey);
        let e = be.error(StatusCode::RANGE_NOT_SATISFIABLE, b"");
        assert_eq!(e.code, S3Code::InvalidRange);
        let e = be.error(StatusCode::BAD_REQUEST, doc("SomethingNew").as_bytes());
        assert_eq!(
            (e.code, e.message.as_str()),
            (S3Code::InvalidRequest, "m & n")
        );
    }
}
