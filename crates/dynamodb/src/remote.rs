//! A DynamoDB-compatible endpoint as the engine (`serve --dynamodb-backend
//! URL`): ScyllaDB Alternator, DynamoDB Local, a dynoxide server, DynamoDB.
//! podiam authenticates and authorizes every call as with the embedded
//! engine, then sends the body, re-signed with the backend's key, and
//! returns the backend's answer (its errors are already DynamoDB's).
//!
//! The backend holds one table namespace: it serves podiam's own account and
//! region. Tags and resource policies stay in podiam's store.

use crate::error::DdbError;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use http_body_util::{BodyExt, Full};
use podiam_sigv4::{Credentials, SigningParams, signed_request};
use std::time::Duration;

/// The largest answer read from the backend: DynamoDB pages stop at 16 MB
/// (BatchGetItem), with room for the JSON around the items.
const MAX_ANSWER: usize = 32 << 20;

/// The backend endpoint and how to reach it.
pub struct Remote {
    endpoint: Uri,
    /// The region the backend's signatures are scoped to.
    region: String,
    creds: Credentials,
    client: podiam_sigv4::client::HttpsClient<Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// The backend at `url` (`http://` or `https://`), signing for `region`
    /// with `creds`.
    pub fn new(url: &str, region: &str, creds: Credentials) -> Result<Remote, DdbError> {
        let endpoint: Uri = url
            .trim_end_matches('/')
            .parse()
            .map_err(|e| DdbError::Internal(format!("--dynamodb-backend {url}: {e}")))?;
        if !matches!(endpoint.scheme_str(), Some("http" | "https")) || endpoint.host().is_none() {
            return Err(DdbError::Internal(format!(
                "--dynamodb-backend {url}: not an http(s) URL"
            )));
        }
        let client = podiam_sigv4::client::https_client().map_err(DdbError::Internal)?;
        Ok(Remote {
            endpoint,
            region: region.to_string(),
            creds,
            client,
            timeout: Duration::from_secs(30),
        })
    }

    /// Sends `operation` with `body`; the backend's status and body. A
    /// backend that cannot be reached, or answers with no JSON, is
    /// [`DdbError::Unavailable`].
    pub async fn call(&self, operation: &str, body: String) -> Result<(u16, String), DdbError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        let target = HeaderValue::from_str(&format!("DynamoDB_20120810.{operation}"))
            .map_err(|e| DdbError::Internal(e.to_string()))?;
        headers.insert("x-amz-target", target);
        let params = SigningParams {
            credentials: &self.creds,
            region: &self.region,
            service: "dynamodb",
            time: time::OffsetDateTime::now_utc(),
            s3: false,
        };
        let req = signed_request(
            Method::POST,
            self.endpoint.clone(),
            headers,
            body.into(),
            &params,
        )
        .map_err(|e| DdbError::Internal(format!("signing for the backend: {e}")))?
        .map(Full::new);
        let unavailable = |why: String| {
            tracing::warn!(endpoint = %self.endpoint, %operation, %why, "dynamodb backend fault");
            DdbError::Unavailable(why)
        };
        let resp = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .map_err(|_| unavailable("timed out".into()))?
            .map_err(|e| unavailable(format!("unreachable: {e}")))?;
        let status = resp.status().as_u16();
        let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| unavailable(format!("reading the answer: {e}")))?
            .to_bytes();
        let body = String::from_utf8(body.to_vec())
            .map_err(|_| unavailable("the answer is not UTF-8".into()))?;
        if status >= 500 && serde_json::from_str::<serde_json::Value>(&body).is_err() {
            return Err(unavailable(format!("HTTP {status}")));
        }
        Ok((status, body))
    }
}
