//! Serving a cluster's OIDC discovery document and JWKS, and resolving
//! podiam's own issuers without a network round trip.

use crate::cluster::not_found;
use crate::error::EksError;
use crate::keys;
use bytes::Bytes;
use podiam_core::Clock;
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

/// Derived once per cluster version: the documents of an external issuer,
/// or a built-in issuer's parsed keys (parsing RSA keys is slow; which of
/// them are published depends on the time, see [`crate::keys`]).
enum Parsed {
    External { discovery: String, jwks: String },
    Builtin(Vec<SigningKey>),
}

fn parse(c: &Cluster) -> Result<Parsed, EksError> {
    if let Some(jwks) = &c.external_jwks {
        let algs: Vec<podiam_oidc::Algorithm> = podiam_oidc::JwkSet::from_json(jwks.as_bytes())
            .map(|s| {
                s.keys()
                    .iter()
                    .filter_map(|k| k.alg().and_then(podiam_oidc::Algorithm::from_name))
                    .collect()
            })
            .unwrap_or_default();
        return Ok(Parsed::External {
            discovery: discovery_document(&c.issuer, &default_jwks_uri(&c.issuer), &algs),
            jwks: jwks.clone(),
        });
    }
    c.keys
        .iter()
        .map(keys::load)
        .collect::<Result<_, _>>()
        .map(Parsed::Builtin)
}

/// A cluster's discovery document or JWKS at `now`, as kube-apiserver
/// serves them: pending, signing and retired keys, not expired ones.
pub fn issuer_document(
    store: &Store,
    account: &str,
    cluster: &str,
    doc: IssuerDocument,
    now: i64,
) -> Result<String, EksError> {
    let c = store
        .get::<Cluster>(account, cluster)?
        .ok_or_else(|| not_found(cluster))?;
    let parsed = c.derived(|c| parse(c).ok());
    match (parsed.as_ref(), doc) {
        (None, _) => Err(EksError::Server(format!(
            "cluster {cluster} has unusable keys"
        ))),
        (Some(Parsed::External { discovery, .. }), IssuerDocument::Discovery) => {
            Ok(discovery.clone())
        }
        (Some(Parsed::External { jwks, .. }), IssuerDocument::Jwks) => Ok(jwks.clone()),
        (Some(Parsed::Builtin(parsed)), doc) => {
            let live = parsed
                .iter()
                .enumerate()
                .filter(|(i, _)| keys::state(&c.keys, *i, now).published())
                .map(|(_, k)| k);
            Ok(match doc {
                IssuerDocument::Jwks => jwks_document(live.map(SigningKey::jwk)),
                IssuerDocument::Discovery => {
                    let mut algs = Vec::new();
                    for a in live.map(SigningKey::algorithm) {
                        if !algs.contains(&a) {
                            algs.push(a);
                        }
                    }
                    discovery_document(&c.issuer, &default_jwks_uri(&c.issuer), &algs)
                }
            })
        }
    }
}

/// Resolves the discovery and JWKS URLs of clusters stored in podiam from
/// the store, and everything else over HTTP(S). The documents are the same
/// bytes podiam serves on those URLs, so the verification path is the one
/// an external issuer takes.
pub struct ClusterFetcher {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
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
    pub fn new(
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        account: String,
        fallback: Arc<dyn JwksFetcher>,
    ) -> Self {
        Self {
            store,
            clock,
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
            return issuer_document(&self.store, &self.account, &c.name, doc, self.clock.epoch())
                .ok();
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
