//! The outbound HTTP(S) client podiam's upstream calls share (the agent's
//! eks-auth, the DynamoDB and S3 backends): hyper over rustls with aws-lc
//! and the Web PKI roots, HTTP/1.1, plain `http://` allowed for loopback
//! and in-cluster endpoints.

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A pooled client sending bodies of type `B`.
pub type HttpsClient<B> = Client<hyper_rustls::HttpsConnector<HttpConnector>, B>;

/// A new pooled client; fails only when the TLS provider cannot be set up.
pub fn https_client<B>() -> Result<HttpsClient<B>, String>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // Headers and body go out in separate writes: with Nagle's algorithm
    // and the peer's delayed ACKs, each request would stall ~40 ms.
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(provider)
        .map_err(|e| e.to_string())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(https))
}
