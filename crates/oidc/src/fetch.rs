//! Transports for discovery documents and JWKS.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::discovery::{DISCOVERY_CONTENT_TYPE, JWKS_CONTENT_TYPE, discovery_url};
use crate::error::FetchError;
use crate::json::parse_object;
use crate::jwk::jwks_document;
use crate::jwk::{JwkSet, PublicJwk};

/// The boxed future returned by [`JwksFetcher::get`].
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Bytes, FetchError>> + Send + 'a>>;

/// Transport used by [`JwksCache`](crate::JwksCache): an HTTP `GET` returning the body
/// of a `200` response.
///
/// [`HttpFetcher`] is the real implementation; [`StaticFetcher`] serves documents from
/// memory (tests, and the server's own built-in issuers, optionally falling back to
/// HTTP for everything else).
pub trait JwksFetcher: Send + Sync {
    /// Fetches `url`. Implementations must bound time and body size.
    fn get<'a>(&'a self, url: &'a str) -> FetchFuture<'a>;
}

/// Fetches `<issuer>/.well-known/openid-configuration`, checks that its `issuer`
/// equals `issuer` exactly, follows `jwks_uri` (which must be `http(s)://`) and parses
/// the JWKS. A set with no usable key is an error ([`FetchError::NoUsableKeys`]).
pub async fn fetch_issuer_jwks(
    fetcher: &dyn JwksFetcher,
    issuer: &str,
) -> Result<JwkSet, FetchError> {
    let url = discovery_url(issuer);
    let body = fetcher.get(&url).await?;
    let invalid = |reason: String| FetchError::InvalidDiscovery {
        url: url.clone(),
        reason,
    };
    let doc = parse_object(&body).map_err(|_| invalid("not a JSON object".into()))?;
    match doc.get("issuer") {
        Some(Value::String(found)) if found == issuer => {}
        Some(Value::String(found)) => {
            return Err(FetchError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: found.clone(),
            });
        }
        _ => return Err(invalid("missing \"issuer\"".into())),
    }
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("missing \"jwks_uri\"".into()))?;
    if !(jwks_uri.starts_with("https://") || jwks_uri.starts_with("http://")) {
        return Err(invalid(format!(
            "jwks_uri {jwks_uri:?} is not an http(s) URL"
        )));
    }
    let body = fetcher.get(jwks_uri).await?;
    let set = JwkSet::from_json(&body).map_err(|e| FetchError::InvalidJwks {
        url: jwks_uri.to_owned(),
        reason: e.0,
    })?;
    if set.is_empty() {
        return Err(FetchError::NoUsableKeys {
            url: jwks_uri.to_owned(),
        });
    }
    Ok(set)
}

/// In-memory fetcher: URL → body, recording every URL requested.
///
/// Unknown URLs go to the fallback if one is set, else fail with HTTP 404.
#[derive(Default)]
pub struct StaticFetcher {
    docs: RwLock<HashMap<String, Bytes>>,
    requested: Mutex<Vec<String>>,
    fallback: Option<Arc<dyn JwksFetcher>>,
}

impl std::fmt::Debug for StaticFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticFetcher")
            .field("fallback", &self.fallback.is_some())
            .finish_non_exhaustive()
    }
}

impl StaticFetcher {
    /// An empty fetcher without fallback.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty fetcher that delegates unknown URLs to `fallback` (e.g. an
    /// [`HttpFetcher`]).
    pub fn with_fallback(fallback: Arc<dyn JwksFetcher>) -> Self {
        Self {
            fallback: Some(fallback),
            ..Self::default()
        }
    }

    /// Serves `body` at `url` (replacing any previous body).
    pub fn insert(&self, url: impl Into<String>, body: impl Into<Bytes>) {
        let mut docs = self.docs.write().unwrap_or_else(|e| e.into_inner());
        docs.insert(url.into(), body.into());
    }

    /// Stops serving `url`.
    pub fn remove(&self, url: &str) {
        let mut docs = self.docs.write().unwrap_or_else(|e| e.into_inner());
        docs.remove(url);
    }

    /// Serves an issuer: its discovery document at
    /// `<issuer>/.well-known/openid-configuration` (advertising `jwks_uri`) and the JWKS
    /// of `keys` at `jwks_uri`.
    pub fn serve_issuer<'a>(
        &self,
        issuer: &str,
        jwks_uri: &str,
        keys: impl IntoIterator<Item = &'a PublicJwk>,
    ) {
        let keys: Vec<&PublicJwk> = keys.into_iter().collect();
        let algs: Vec<crate::Algorithm> = keys
            .iter()
            .filter_map(|k| crate::Algorithm::from_name(&k.alg))
            .collect();
        self.insert(
            discovery_url(issuer),
            crate::discovery_document(issuer, jwks_uri, &algs),
        );
        self.insert(jwks_uri.to_owned(), jwks_document(keys));
    }

    /// Every URL requested so far, in order (including ones passed to the fallback).
    pub fn requested_urls(&self) -> Vec<String> {
        self.requested
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl JwksFetcher for StaticFetcher {
    fn get<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            self.requested
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(url.to_owned());
            let hit = self
                .docs
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(url)
                .cloned();
            match (hit, &self.fallback) {
                (Some(body), _) => Ok(body),
                (None, Some(fb)) => fb.get(url).await,
                (None, None) => Err(FetchError::HttpStatus {
                    url: url.to_owned(),
                    status: 404,
                }),
            }
        })
    }
}

/// Limits of [`HttpFetcher`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpFetcherConfig {
    /// TCP connect timeout (default 2 s).
    pub connect_timeout: Duration,
    /// Whole-request timeout: connect, TLS, headers and body (default 5 s).
    pub total_timeout: Duration,
    /// Maximum response body (default 256 KiB).
    pub max_body_bytes: usize,
    /// Whether plain `http://` is allowed to loopback hosts (`localhost`,
    /// `127.0.0.0/8`, `::1`; default `true`): a self-hosted or lab issuer on
    /// this machine, which no one on the network can impersonate.
    pub allow_loopback_http: bool,
    /// Whether plain `http://` is allowed to any host (default `false`).
    /// AWS requires https: a JWKS fetched in clear text over a network can
    /// be replaced, and with it every token's signature check.
    pub insecure_allow_http: bool,
}

impl HttpFetcherConfig {
    /// Whether a plain-http URL to `host` may be fetched.
    fn http_allowed(&self, host: &str) -> bool {
        self.insecure_allow_http || (self.allow_loopback_http && is_loopback(host))
    }
}

/// Whether `host` (as in a URI) is a loopback name or address.
fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Default for HttpFetcherConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            total_timeout: Duration::from_secs(5),
            max_body_bytes: 256 * 1024,
            allow_loopback_http: true,
            insecure_allow_http: false,
        }
    }
}

/// HTTP(S) fetcher on hyper-util's legacy client with rustls (aws-lc-rs provider) and
/// the Mozilla root store (`webpki-roots`). Redirects are not followed; only `200` is
/// accepted. Must be used inside a Tokio runtime.
#[derive(Clone)]
pub struct HttpFetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    config: HttpFetcherConfig,
}

impl std::fmt::Debug for HttpFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFetcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HttpFetcher {
    /// A fetcher trusting the Mozilla root store.
    pub fn new(config: HttpFetcherConfig) -> Result<Self, FetchError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| FetchError::Tls(e.to_string()))?;
        let https = builder
            .https_or_http()
            .enable_http1()
            .wrap_connector(Self::http_connector(&config));
        Ok(Self::from_connector(https, config))
    }

    /// A fetcher with a caller-built rustls configuration (private CAs, pinning).
    pub fn with_tls_config(config: HttpFetcherConfig, tls: rustls::ClientConfig) -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(Self::http_connector(&config));
        Self::from_connector(https, config)
    }

    fn http_connector(config: &HttpFetcherConfig) -> HttpConnector {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);
        http
    }

    fn from_connector(https: HttpsConnector<HttpConnector>, config: HttpFetcherConfig) -> Self {
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(4)
            .build(https);
        Self { client, config }
    }

    async fn fetch(&self, url: &str) -> Result<Bytes, FetchError> {
        let uri: http::Uri =
            url.parse()
                .map_err(|e: http::uri::InvalidUri| FetchError::InvalidUrl {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if self.config.http_allowed(uri.host().unwrap_or_default()) => {}
            _ => {
                return Err(FetchError::UnsupportedScheme {
                    url: url.to_owned(),
                });
            }
        }
        if uri.host().is_none() {
            return Err(FetchError::InvalidUrl {
                url: url.to_owned(),
                reason: "missing host".into(),
            });
        }
        let accept = accept_header();
        let req = http::Request::get(uri)
            .header(http::header::ACCEPT, accept)
            .header(http::header::USER_AGENT, "podiam-oidc")
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::InvalidUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| FetchError::Request {
                url: url.to_owned(),
                reason: error_chain(&e),
            })?;
        let status = resp.status();
        if status != http::StatusCode::OK {
            return Err(FetchError::HttpStatus {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        let limit = self.config.max_body_bytes;
        let too_large = || FetchError::BodyTooLarge {
            url: url.to_owned(),
            limit,
        };
        if let Some(len) = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && len > limit as u64
        {
            return Err(too_large());
        }
        let body = Limited::new(resp.into_body(), limit);
        match body.collect().await {
            Ok(c) => Ok(c.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(e) => Err(FetchError::Request {
                url: url.to_owned(),
                reason: e.to_string(),
            }),
        }
    }
}

fn accept_header() -> String {
    format!("{DISCOVERY_CONTENT_TYPE}, {JWKS_CONTENT_TYPE}")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

impl JwksFetcher for HttpFetcher {
    fn get<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            match tokio::time::timeout(self.config.total_timeout, self.fetch(url)).await {
                Ok(r) => r,
                Err(_) => Err(FetchError::Timeout {
                    url: url.to_owned(),
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_unless_insecure() {
        let c = HttpFetcherConfig::default();
        for host in ["127.0.0.1", "127.3.4.5", "localhost", "LOCALHOST", "[::1]"] {
            assert!(c.http_allowed(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "issuer.example.com",
            "[::2]",
            "localhost.evil.com",
            "",
        ] {
            assert!(!c.http_allowed(host), "{host}");
        }
        let insecure = HttpFetcherConfig {
            insecure_allow_http: true,
            ..Default::default()
        };
        assert!(insecure.http_allowed("issuer.example.com"));
        let strict = HttpFetcherConfig {
            allow_loopback_http: false,
            ..Default::default()
        };
        assert!(!strict.http_allowed("127.0.0.1"));
    }
}
