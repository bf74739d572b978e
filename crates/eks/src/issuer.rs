//! Serving a cluster's OIDC discovery document and JWKS, and resolving
//! podiam's own issuers without a network round trip.

use crate::cluster::not_found;
use crate::error::EksError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use podiam_oidc::{
    FetchError, FetchFuture, JwksFetcher, SigningKey, default_jwks_uri, discovery_document,
    discovery_url, jwks_document,
};
use podiam_store::{Cluster, Store};
use std::sync::Arc;

/// Which issuer document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerDocument {
    /// `/.well-known/openid-configuration`.
    Discovery,
    /// `/openid/v1/jwks`.
    Jwks,
}

fn public_keys(c: &Cluster) -> Result<Vec<SigningKey>, EksError> {
    c.keys
        .iter()
        .map(|k| {
            let der = STANDARD
                .decode(&k.private_pkcs8)
                .map_err(|e| EksError::Server(e.to_string()))?;
            SigningKey::from_pkcs8_der(&der).map_err(|e| EksError::Server(e.to_string()))
        })
        .collect()
}

fn render(c: &Cluster, doc: IssuerDocument) -> Result<String, EksError> {
    if let Some(jwks) = &c.external_jwks {
        return Ok(match doc {
            IssuerDocument::Jwks => jwks.clone(),
            IssuerDocument::Discovery => {
                let algs: Vec<podiam_oidc::Algorithm> =
                    podiam_oidc::JwkSet::from_json(jwks.as_bytes())
                        .map(|s| {
                            s.keys()
                                .iter()
                                .filter_map(|k| k.alg().and_then(podiam_oidc::Algorithm::from_name))
                                .collect()
                        })
                        .unwrap_or_default();
                discovery_document(&c.issuer, &default_jwks_uri(&c.issuer), &algs)
            }
        });
    }
    let keys = public_keys(c)?;
    Ok(match doc {
        IssuerDocument::Jwks => jwks_document(keys.iter().map(SigningKey::jwk)),
        IssuerDocument::Discovery => {
            let algs: Vec<_> = keys.iter().map(SigningKey::algorithm).collect();
            discovery_document(&c.issuer, &default_jwks_uri(&c.issuer), &algs)
        }
    })
}

/// A cluster's discovery document or JWKS, as kube-apiserver serves them.
pub fn issuer_document(
    store: &Store,
    account: &str,
    cluster: &str,
    doc: IssuerDocument,
) -> Result<String, EksError> {
    let c = store
        .get::<Cluster>(account, cluster)?
        .ok_or_else(|| not_found(cluster))?;
    // A cached rendering per cluster version: JWKS requests are hot.
    let cached = c.derived(|c| {
        (
            render(c, IssuerDocument::Discovery).ok(),
            render(c, IssuerDocument::Jwks).ok(),
        )
    });
    let out = match doc {
        IssuerDocument::Discovery => cached.0.clone(),
        IssuerDocument::Jwks => cached.1.clone(),
    };
    out.ok_or_else(|| EksError::Server(format!("cluster {cluster} has unusable keys")))
}

/// Resolves the discovery and JWKS URLs of clusters stored in podiam from
/// the store, and everything else over HTTP(S). The documents are the same
/// bytes podiam serves on those URLs, so the verification path is the one
/// an external issuer takes.
pub struct ClusterFetcher {
    store: Arc<Store>,
    account: String,
    fallback: Arc<dyn JwksFetcher>,
}

impl std::fmt::Debug for ClusterFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterFetcher")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl ClusterFetcher {
    /// A fetcher over the clusters of `account`, with `fallback` for other URLs.
    pub fn new(store: Arc<Store>, account: String, fallback: Arc<dyn JwksFetcher>) -> Self {
        Self {
            store,
            account,
            fallback,
        }
    }

    fn local(&self, url: &str) -> Option<String> {
        let clusters = self.store.list::<Cluster>(&self.account).ok()?;
        for c in clusters {
            let doc = if url == discovery_url(&c.issuer) {
                IssuerDocument::Discovery
            } else if url == default_jwks_uri(&c.issuer) {
                IssuerDocument::Jwks
            } else {
                continue;
            };
            return issuer_document(&self.store, &self.account, &c.name, doc).ok();
        }
        None
    }
}

impl JwksFetcher for ClusterFetcher {
    fn get<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        match self.local(url) {
            Some(doc) => Box::pin(async move { Ok::<Bytes, FetchError>(Bytes::from(doc)) }),
            None => self.fallback.get(url),
        }
    }
}
