//! Cluster lifecycle and token minting.

use crate::error::EksError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use podiam_auth::Services;
use podiam_oidc::{ServiceAccountTokenRequest, object_uid};
use podiam_store::{Cluster, Op, StoreError};
use std::collections::BTreeMap;

/// What `CreateCluster` / `podiam cluster create` asks for.
#[derive(Debug, Clone, Default)]
pub struct ClusterSpec {
    /// Cluster name: `[0-9A-Za-z][A-Za-z0-9\-_]*`, 1..100.
    pub name: String,
    /// The issuer URL; default `<public url>/clusters/<name>`.
    pub issuer: Option<String>,
    /// `RS256` (default) or `ES256`; ignored with `external_jwks`.
    pub algorithm: Option<String>,
    /// An external issuer's JWKS document (register a real cluster's issuer).
    pub external_jwks: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// Checks a cluster name against EKS's pattern.
pub fn valid_cluster_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 100
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Creates a cluster; a built-in issuer gets a fresh signing key.
pub async fn create_cluster(
    svc: &Services,
    account: &str,
    spec: ClusterSpec,
) -> Result<Cluster, EksError> {
    if !valid_cluster_name(&spec.name) {
        return Err(EksError::InvalidParameter(format!(
            "The cluster name {:?} is invalid: it must match [0-9A-Za-z][A-Za-z0-9\\-_]* and be at most 100 characters.",
            spec.name
        )));
    }
    let issuer = spec.issuer.clone().unwrap_or_else(|| {
        format!(
            "{}/clusters/{}",
            svc.config.public_url.trim_end_matches('/'),
            spec.name
        )
    });
    if !(issuer.starts_with("https://") || issuer.starts_with("http://"))
        || issuer.contains(['?', '#'])
    {
        return Err(EksError::InvalidParameter(format!(
            "The issuer URL {issuer:?} must be an http(s) URL without query or fragment."
        )));
    }
    let now = svc.now();
    let mut keys = Vec::new();
    if let Some(jwks) = &spec.external_jwks {
        let set = podiam_oidc::JwkSet::from_json(jwks.as_bytes()).map_err(|e| {
            EksError::InvalidParameter(format!("The JWKS document is invalid: {}", e.0))
        })?;
        if set.is_empty() {
            return Err(EksError::InvalidParameter(
                "The JWKS document has no usable key.".into(),
            ));
        }
    } else {
        keys.push(crate::keys::generate(
            spec.algorithm.as_deref().unwrap_or("RS256"),
            now,
            0,
        )?);
    }
    let mut seed = [0u8; 16];
    svc.rng.fill(&mut seed);
    let cluster = Cluster {
        arn: format!(
            "arn:aws:eks:{}:{account}:cluster/{}",
            svc.config.region, spec.name
        ),
        name: spec.name.clone(),
        issuer,
        keys,
        external_jwks: spec.external_jwks,
        uid_seed: STANDARD.encode(seed),
        tags: spec.tags,
        created_at: now,
    };
    svc.store
        .write(vec![Op::create(account, &spec.name, &cluster)])
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists { .. } => {
                EksError::ResourceInUse(format!("Cluster already exists with name: {}", spec.name))
            }
            e => e.into(),
        })?;
    Ok(cluster)
}

/// Deletes a cluster, with its Pod Identity associations and its service
/// accounts, in one write.
pub async fn delete_cluster(
    svc: &Services,
    account: &str,
    name: &str,
) -> Result<Cluster, EksError> {
    let c = svc
        .store
        .get::<Cluster>(account, name)?
        .ok_or_else(|| not_found(name))?;
    let mut ops = vec![Op::delete::<Cluster>(account, name, c.version)];
    ops.extend(super::association::cluster_deletions(svc, account, name)?);
    ops.extend(super::serviceaccount::cluster_deletions(
        svc, account, name,
    )?);
    svc.store.write(ops).await?;
    Ok((*c.value).clone())
}

pub(crate) fn not_found(name: &str) -> EksError {
    EksError::ResourceNotFound(format!("No cluster found for name: {name}."))
}

/// What `podiam token` asks for.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// Namespace.
    pub namespace: String,
    /// Service account.
    pub service_account: String,
    /// Audiences (default `sts.amazonaws.com`).
    pub audiences: Vec<String>,
    /// Lifetime, 600..=2^32 seconds (default 3600, kube's projected default).
    pub expiration_seconds: i64,
    /// Pod name, for a pod-bound token.
    pub pod: Option<String>,
    /// Allow lifetimes below kube-apiserver's 600 s floor (down to 10 s), so
    /// token refresh can be tested without waiting. Off by default.
    pub insecure_short_lifetime: bool,
}

/// Mints a projected service-account token exactly as kube-apiserver would,
/// with uids stable per (cluster, namespace, name), signed by the cluster's
/// current key (which records the token's expiry, see [`crate::keys`]).
pub async fn mint_token(
    svc: &Services,
    account: &str,
    cluster: &str,
    spec: &TokenSpec,
) -> Result<String, EksError> {
    let c = svc
        .store
        .get::<Cluster>(account, cluster)?
        .ok_or_else(|| not_found(cluster))?;
    if c.keys.is_empty() {
        return Err(EksError::InvalidRequest(format!(
            "Cluster {cluster} has an external issuer; podiam holds no key to sign its tokens."
        )));
    }
    let seed = c.uid_seed.as_bytes();
    let sa_uid = object_uid(
        seed,
        "ServiceAccount",
        &spec.namespace,
        &spec.service_account,
    );
    let mut jti = [0u8; 16];
    svc.rng.fill(&mut jti);
    let audiences = if spec.audiences.is_empty() {
        vec!["sts.amazonaws.com".to_string()]
    } else {
        spec.audiences.clone()
    };
    let mut req = ServiceAccountTokenRequest::new(
        c.issuer.clone(),
        spec.namespace.clone(),
        spec.service_account.clone(),
        sa_uid,
        audiences[0].clone(),
        svc.now(),
        jti,
    )
    .with_audiences(audiences.iter().cloned())
    .with_expiration_seconds(spec.expiration_seconds);
    if let Some(pod) = &spec.pod {
        req = req.with_pod(pod.clone(), object_uid(seed, "Pod", &spec.namespace, pod));
    }
    let short = spec.insecure_short_lifetime && (10..600).contains(&spec.expiration_seconds);
    if short {
        tracing::warn!(
            seconds = spec.expiration_seconds,
            "minting a token below kube-apiserver's 600 s floor (insecure short lifetime)"
        );
        req = req.with_expiration_seconds(600);
    }
    let mut claims = req
        .claims()
        .map_err(|e| EksError::InvalidParameter(e.to_string()))?;
    if short {
        claims.exp = claims.iat + spec.expiration_seconds;
    }
    let key = crate::keys::sign_with(svc, account, cluster, claims.exp).await?;
    key.sign_jws(&claims)
        .map_err(|e| EksError::Server(e.to_string()))
}
