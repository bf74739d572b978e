//! A real hyper server on 127.0.0.1:0 serving discovery + JWKS to the HTTP fetcher.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use podiam_oidc::*;
use tokio::net::TcpListener;

use crate::common::*;

struct Server {
    base: String,
    hits: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `/clusters/demo/.well-known/openid-configuration` and
/// `/clusters/demo/openid/v1/jwks` like the podiam server would, plus `/big` (300 KiB)
/// and `/slow` (sleeps 10 s).
async fn start(keys: Vec<PublicJwk>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let issuer = format!("{base}/clusters/demo");
    let discovery = discovery_document(
        &issuer,
        &default_jwks_uri(&issuer),
        &[Algorithm::Rs256, Algorithm::Es256],
    );
    let jwks = jwks_document(&keys);
    let hits = Arc::new(Mutex::new(Vec::new()));
    let hits2 = hits.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (discovery, jwks, hits) = (discovery.clone(), jwks.clone(), hits2.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (discovery, jwks, hits) = (discovery.clone(), jwks.clone(), hits.clone());
                    async move {
                        let path = req.uri().path().to_owned();
                        hits.lock().unwrap().push(path.clone());
                        let resp = match path.as_str() {
                            "/clusters/demo/.well-known/openid-configuration" => {
                                Response::builder()
                                    .header("content-type", DISCOVERY_CONTENT_TYPE)
                                    .header("cache-control", CACHE_CONTROL)
                                    .body(Full::new(Bytes::from(discovery)))
                            }
                            "/clusters/demo/openid/v1/jwks" => Response::builder()
                                .header("content-type", JWKS_CONTENT_TYPE)
                                .header("cache-control", CACHE_CONTROL)
                                .body(Full::new(Bytes::from(jwks))),
                            "/big" => Response::builder()
                                .body(Full::new(Bytes::from(vec![b' '; 300 * 1024]))),
                            "/slow" => {
                                tokio::time::sleep(Duration::from_secs(10)).await;
                                Response::builder().body(Full::new(Bytes::new()))
                            }
                            "/redirect" => Response::builder()
                                .status(302)
                                .header("location", "/clusters/demo/openid/v1/jwks")
                                .body(Full::new(Bytes::new())),
                            _ => Response::builder()
                                .status(404)
                                .body(Full::new(Bytes::new())),
                        };
                        Ok::<_, Infallible>(resp.unwrap())
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Server { base, hits, task }
}

#[tokio::test]
async fn http_fetcher_against_real_server() {
    let (r, e) = (rsa(), ec());
    let server = start(vec![r.jwk().clone(), e.jwk().clone()]).await;
    let issuer = format!("{}/clusters/demo", server.base);
    let fetcher = Arc::new(HttpFetcher::new(HttpFetcherConfig::default()).unwrap());
    let cache = JwksCache::new(fetcher.clone());

    for key in [&r, &e] {
        let mut req = request();
        req.issuer = issuer.clone();
        let tok = UnverifiedToken::parse(&format!("{}\n", req.mint(key).unwrap().token)).unwrap();
        assert_eq!(tok.issuer(), Some(issuer.as_str()));
        cache
            .verify_signature(&tok, tok.issuer().unwrap(), NOW)
            .await
            .unwrap();
        tok.check_time(NOW + 1, 0).unwrap();
        tok.check_audience(&[AUD]).unwrap();
    }
    assert_eq!(
        *server.hits.lock().unwrap(),
        [
            "/clusters/demo/.well-known/openid-configuration",
            "/clusters/demo/openid/v1/jwks"
        ],
        "second token served from cache"
    );

    // The raw fetcher: status, size cap, timeout, redirects, schemes.
    let get = |path: &str| {
        let f = fetcher.clone();
        let url = format!("{}{path}", server.base);
        async move { f.get(&url).await }
    };
    assert!(matches!(
        get("/nope").await,
        Err(FetchError::HttpStatus { status: 404, .. })
    ));
    assert!(matches!(
        get("/redirect").await,
        Err(FetchError::HttpStatus { status: 302, .. })
    ));
    assert!(matches!(
        get("/big").await,
        Err(FetchError::BodyTooLarge { limit: 262_144, .. })
    ));
    let quick = HttpFetcher::new(HttpFetcherConfig {
        total_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    let url = format!("{}/slow", server.base);
    assert!(matches!(
        quick.get(&url).await,
        Err(FetchError::Timeout { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(
        fetcher.get("ftp://127.0.0.1/x").await,
        Err(FetchError::UnsupportedScheme { .. })
    ));
    assert!(matches!(
        fetcher.get("not a url").await,
        Err(FetchError::InvalidUrl { .. })
    ));
    // https to a plain-http port: the TLS handshake fails → Request error, no panic.
    let https = server.base.replace("http://", "https://");
    assert!(matches!(
        fetcher.get(&format!("{https}/big")).await,
        Err(FetchError::Request { .. })
    ));
    // http disallowed by config.
    let strict = HttpFetcher::new(HttpFetcherConfig {
        allow_loopback_http: false,
        ..Default::default()
    })
    .unwrap();
    assert!(matches!(
        strict.get(&url).await,
        Err(FetchError::UnsupportedScheme { .. })
    ));
}

#[tokio::test]
async fn connection_refused_is_idp_communication_error() {
    // Bind then drop to get a closed loopback port.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let cache = JwksCache::new(Arc::new(
        HttpFetcher::new(HttpFetcherConfig::default()).unwrap(),
    ));
    let err = cache
        .keys(&format!("http://127.0.0.1:{port}/x"), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Request { .. }), "{err:?}");
    assert_eq!(err.sts_error_code(), StsErrorCode::InvalidIdentityToken);
}
