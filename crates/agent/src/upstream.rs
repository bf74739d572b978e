//! The agent's upstream: eks-auth `AssumeRoleForPodIdentity` and podiam's
//! instance-role credentials, SigV4-signed with the node's credentials.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use http_body_util::{BodyExt, Full};
use podiam_sigv4::{Credentials, SigningParams, signed_request};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Credentials as the SDK container provider reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    /// `ASIA…`.
    pub access_key_id: String,
    /// Secret.
    pub secret_access_key: String,
    /// Session token.
    pub token: String,
    /// Account, parsed from the assumed-role ARN.
    pub account_id: String,
    /// Expiry, epoch seconds.
    pub expiration: i64,
}

/// Why the upstream call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The service answered with an error.
    #[error("[{request_id}]: ({code}): {message}, fault: {}", if *.status >= 500 { "server" } else { "client" })]
    Api {
        /// HTTP status.
        status: u16,
        /// AWS error code.
        code: String,
        /// Message.
        message: String,
        /// Request id.
        request_id: String,
    },
    /// The service could not be reached or answered nonsense.
    #[error("{0}")]
    Transport(String),
}

impl UpstreamError {
    /// Whether the agent should keep serving cached credentials and retry
    /// later (throttling, server faults, transport) rather than evict
    /// (invalid or expired token, access denied, no association).
    pub fn is_recoverable(&self) -> bool {
        match self {
            UpstreamError::Api { code, .. } => !matches!(
                code.as_str(),
                "InvalidTokenException"
                    | "ExpiredTokenException"
                    | "AccessDeniedException"
                    | "ResourceNotFoundException"
            ),
            UpstreamError::Transport(_) => true,
        }
    }

    /// The HTTP status the agent answers with.
    pub fn status(&self) -> u16 {
        match self {
            UpstreamError::Api { status, .. } => *status,
            UpstreamError::Transport(_) => 500,
        }
    }
}

/// A boxed future (the trait is object-safe for test doubles).
pub type UpstreamFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Creds, UpstreamError>> + Send + 'a>>;

/// Where credentials come from.
pub trait Upstream: Send + Sync {
    /// Trades a pod's service-account token for its association's credentials.
    fn pod_credentials<'a>(&'a self, token: &'a str) -> UpstreamFuture<'a>;
    /// Credentials of the node's instance role.
    fn node_credentials<'a>(&'a self, role: &'a str, instance_id: &'a str) -> UpstreamFuture<'a>;
}

/// The real upstream over HTTP(S).
pub struct HttpUpstream {
    endpoint: String,
    cluster: String,
    region: String,
    creds: Credentials,
    client: podiam_sigv4::client::HttpsClient<Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpUpstream")
            .field("endpoint", &self.endpoint)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl HttpUpstream {
    /// An upstream at `endpoint` for `cluster`, signing with `creds`.
    pub fn new(
        endpoint: &str,
        cluster: &str,
        region: &str,
        creds: Credentials,
    ) -> Result<Self, UpstreamError> {
        let client = podiam_sigv4::client::https_client().map_err(UpstreamError::Transport)?;
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            cluster: cluster.to_string(),
            region: region.to_string(),
            creds,
            client,
            // The upstream agent uses 1 s; podiam's own loopback calls are
            // fast, but a cold server may need longer for its first mint.
            timeout: Duration::from_secs(5),
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, UpstreamError> {
        let uri: Uri = format!("{}{path}", self.endpoint)
            .parse()
            .map_err(|e| UpstreamError::Transport(format!("bad endpoint: {e}")))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let params = SigningParams {
            credentials: &self.creds,
            region: &self.region,
            service: "eks-auth",
            time: time::OffsetDateTime::now_utc(),
            s3: false,
        };
        let req = signed_request(Method::POST, uri, headers, body.to_string().into(), &params)
            .map_err(|e| UpstreamError::Transport(format!("signing failed: {e}")))?
            .map(Full::new);
        let resp = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .map_err(|_| UpstreamError::Transport("eks-auth request timed out".into()))?
            .map_err(|e| UpstreamError::Transport(format!("eks-auth unreachable: {e}")))?;
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let code = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|c| c.split(':').next().unwrap_or(c).to_string());
        let bytes = tokio::time::timeout(self.timeout, resp.into_body().collect())
            .await
            .map_err(|_| UpstreamError::Transport("eks-auth response timed out".into()))?
            .map_err(|e| UpstreamError::Transport(e.to_string()))?
            .to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(UpstreamError::Api {
                status,
                code: code.unwrap_or_else(|| "UnknownError".into()),
                message: v["message"]
                    .as_str()
                    .unwrap_or("request failed")
                    .to_string(),
                request_id,
            });
        }
        Ok(v)
    }
}

fn creds_from(v: &Value, c: &Value, arn: &str) -> Result<Creds, UpstreamError> {
    let s = |x: &Value| {
        x.as_str()
            .map(str::to_string)
            .ok_or_else(|| UpstreamError::Transport(format!("malformed credentials: {v}")))
    };
    Ok(Creds {
        access_key_id: s(&c["accessKeyId"])?,
        secret_access_key: s(&c["secretAccessKey"])?,
        token: s(&c["sessionToken"])?,
        account_id: arn.split(':').nth(4).unwrap_or_default().to_string(),
        expiration: c["expiration"]
            .as_i64()
            .or_else(|| c["expiration"].as_f64().map(|f| f as i64))
            .ok_or_else(|| UpstreamError::Transport("credentials without expiration".into()))?,
    })
}

impl Upstream for HttpUpstream {
    fn pod_credentials<'a>(&'a self, token: &'a str) -> UpstreamFuture<'a> {
        Box::pin(async move {
            let path = format!("/clusters/{}/assume-role-for-pod-identity", self.cluster);
            let v = self
                .post(&path, serde_json::json!({ "token": token }))
                .await?;
            let arn = v["assumedRoleUser"]["arn"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            creds_from(&v, &v["credentials"], &arn)
        })
    }

    fn node_credentials<'a>(&'a self, role: &'a str, instance_id: &'a str) -> UpstreamFuture<'a> {
        Box::pin(async move {
            let v = self
                .post(
                    "/_podiam/instance-role-credentials",
                    serde_json::json!({ "roleName": role, "instanceId": instance_id }),
                )
                .await?;
            let arn = v["roleArn"].as_str().unwrap_or_default().to_string();
            creds_from(&v, &v, &arn)
        })
    }
}
