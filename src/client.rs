//! The CLI's client: every state-changing subcommand talks to the running
//! server over HTTP, SigV4-signed like any AWS client.

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use podiam_sigv4::{Credentials, PayloadMode, SigningParams, sign, signed_request};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A signed HTTP client for podiam's APIs.
pub struct Client {
    endpoint: String,
    creds: Credentials,
    region: String,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

/// Where the CLI finds the server and its credentials.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// The podiam server.
    #[arg(
        long,
        env = "PODIAM_ENDPOINT",
        default_value = "http://127.0.0.1:4599",
        global = true
    )]
    pub endpoint: String,
    /// Read the admin key from DIR/admin-credentials (default: the standard AWS
    /// environment or profile, else ./podiam-data).
    #[arg(long, env = "PODIAM_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Region to sign with.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1", global = true)]
    pub region: String,
}

/// Reads `profile` from an aws shared-credentials file.
pub fn read_credentials_file(path: &Path, profile: &str) -> anyhow::Result<Credentials> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_profile = line.trim_matches(['[', ']']).trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_string();
            match k.trim() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                _ => {}
            }
        }
    }
    let (Some(id), Some(secret)) = (id, secret) else {
        bail!(
            "no credentials for profile [{profile}] in {}",
            path.display()
        );
    };
    let c = Credentials::new(id, secret);
    Ok(match token {
        Some(t) => c.with_session_token(t),
        None => c,
    })
}

/// The credentials the CLI signs with: `--data-dir`, then the AWS
/// environment, then `./podiam-data`, then the shared credentials file.
pub fn resolve_credentials(args: &ClientArgs) -> anyhow::Result<Credentials> {
    if let Some(dir) = &args.data_dir {
        return read_credentials_file(&dir.join("admin-credentials"), "default");
    }
    if let (Ok(id), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        let c = Credentials::new(id, secret);
        return Ok(match std::env::var("AWS_SESSION_TOKEN") {
            Ok(t) => c.with_session_token(t),
            Err(_) => c,
        });
    }
    let local = Path::new("podiam-data/admin-credentials");
    if local.exists() {
        return read_credentials_file(local, "default");
    }
    let file = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws/credentials")))
        .ok_or_else(|| anyhow!("no credentials: pass --data-dir or set AWS_ACCESS_KEY_ID"))?;
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    read_credentials_file(&file, &profile)
}

impl Client {
    /// A client for `args`.
    pub fn new(args: &ClientArgs) -> anyhow::Result<Client> {
        let creds = resolve_credentials(args)?;
        Ok(Client {
            endpoint: args.endpoint.trim_end_matches('/').to_string(),
            creds,
            region: args.region.clone(),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// Sends a signed request; returns status and body.
    pub async fn send(
        &self,
        service: &str,
        method: Method,
        path_and_query: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, Bytes)> {
        let uri: Uri = format!("{}{}", self.endpoint, path_and_query).parse()?;
        if uri.scheme_str() != Some("http") {
            bail!(
                "only http:// endpoints are supported by the CLI, got {}",
                self.endpoint
            );
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type)?);
        let params = SigningParams {
            credentials: &self.creds,
            region: &self.region,
            service,
            time: time::OffsetDateTime::now_utc(),
            s3: false,
        };
        let req = signed_request(method, uri, headers, body.into(), &params)
            .map_err(|e| anyhow!("signing failed: {e}"))?
            .map(Full::new);
        let resp = self
            .http
            .request(req)
            .await
            .with_context(|| format!("cannot reach podiam at {}", self.endpoint))?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// Calls a REST-JSON (EKS-style) route; errors carry the service's message.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, resp) = self
            .send("eks", method, path, "application/json", bytes)
            .await?;
        let v: Value = serde_json::from_slice(&resp).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let msg = v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("request failed");
            bail!("{msg} (HTTP {status})");
        }
        Ok(v)
    }
}

impl Client {
    /// The Pod Identity association summaries of `service_account` in
    /// `namespace` of `cluster` (at most one).
    pub async fn associations_of(
        &self,
        cluster: &str,
        namespace: &str,
        service_account: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let v = self
            .json(
                Method::GET,
                &format!(
                    "/clusters/{cluster}/pod-identity-associations?namespace={namespace}&serviceAccount={service_account}"
                ),
                None,
            )
            .await?;
        Ok(v["associations"].as_array().cloned().unwrap_or_default())
    }

    /// The server's clock, from the `Date` header of its health check
    /// (second precision): revocation cut-offs must be in the clock that
    /// stamps sessions, not this machine's.
    pub async fn server_time(&self) -> anyhow::Result<time::OffsetDateTime> {
        let uri: Uri = format!("{}/healthz", self.endpoint).parse()?;
        let req = Request::builder().uri(uri).body(Full::new(Bytes::new()))?;
        let resp = self
            .http
            .request(req)
            .await
            .with_context(|| format!("cannot reach podiam at {}", self.endpoint))?;
        let date = resp
            .headers()
            .get(header::DATE)
            .and_then(|v| v.to_str().ok())
            .context("the server sent no Date header")?;
        parse_http_date(date).with_context(|| format!("unreadable Date header {date:?}"))
    }

    /// Sends a signed GET and copies the streamed body to stdout as it
    /// arrives (for `audit tail --follow`).
    pub async fn stream_to_stdout(
        &self,
        service: &str,
        path_and_query: &str,
    ) -> anyhow::Result<()> {
        use std::io::Write;
        let uri: Uri = format!("{}{}", self.endpoint, path_and_query).parse()?;
        let mut headers = HeaderMap::new();
        let params = SigningParams {
            credentials: &self.creds,
            region: &self.region,
            service,
            time: time::OffsetDateTime::now_utc(),
            s3: false,
        };
        sign(
            &Method::GET,
            &uri,
            &headers,
            &PayloadMode::for_body(b""),
            &params,
        )
        .map_err(|e| anyhow!("signing failed: {e}"))?
        .apply(&mut headers);
        let mut req = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .body(Full::new(Bytes::new()))?;
        *req.headers_mut() = headers;
        let resp = self
            .http
            .request(req)
            .await
            .with_context(|| format!("cannot reach podiam at {}", self.endpoint))?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        if !(200..300).contains(&status) {
            let bytes = body.collect().await?.to_bytes();
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            bail!(
                "{} (HTTP {status})",
                v["message"].as_str().unwrap_or("request failed")
            );
        }
        let mut out = std::io::stdout();
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame?.data_ref() {
                out.write_all(data)?;
                out.flush()?;
            }
        }
        Ok(())
    }
}

impl Client {
    /// Calls a query-protocol action (IAM, STS); returns the XML body, or
    /// an error carrying AWS's code and message.
    pub async fn query(&self, service: &str, params: &[(&str, &str)]) -> anyhow::Result<String> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let (status, resp) = self
            .send(
                service,
                Method::POST,
                "/",
                "application/x-www-form-urlencoded; charset=utf-8",
                body.into_bytes(),
            )
            .await?;
        let text = String::from_utf8_lossy(&resp).into_owned();
        if !(200..300).contains(&status) {
            let field = |n: &str| {
                text.split(&format!("<{n}>"))
                    .nth(1)
                    .and_then(|x| x.split(&format!("</{n}>")).next())
                    .unwrap_or_default()
                    .to_string()
            };
            bail!("{}: {} (HTTP {status})", field("Code"), field("Message"));
        }
        Ok(text)
    }
}

/// The text of the first `<name>` element in `xml`.
pub fn xml_field(xml: &str, name: &str) -> Option<String> {
    let v = xml
        .split(&format!("<{name}>"))
        .nth(1)?
        .split(&format!("</{name}>"))
        .next()?;
    Some(
        v.replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP servers send.
fn parse_http_date(s: &str) -> anyhow::Result<time::OffsetDateTime> {
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    Ok(time::PrimitiveDateTime::parse(s, f)?.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        let t = parse_http_date("Sun, 22 Nov 2026 10:07:09 GMT").unwrap();
        assert_eq!(t.unix_timestamp(), 1_795_342_029);
        assert!(parse_http_date("Sunday, 22-Nov-26 10:07:09 GMT").is_err());
    }
}
