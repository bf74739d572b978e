//! Kubernetes projected service-account token claims and minting.

use serde::{Deserialize, Serialize};

use crate::error::MintError;
use crate::key::SigningKey;
use crate::uid::uuid_v4_from_bytes;

/// Minimum `expirationSeconds` kube-apiserver accepts (10 minutes).
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// Maximum `expirationSeconds` kube-apiserver accepts (2^32).
pub const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;
/// Default `expirationSeconds` of a projected volume.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;

/// A `{"name","uid"}` reference inside the `kubernetes.io` claim. Empty members are
/// omitted, like Go's `omitempty` (kube omits the node `uid` when the Node is unknown).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Object name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Object UID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

impl ObjectRef {
    /// Creates a reference.
    pub fn new(name: impl Into<String>, uid: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            uid: uid.into(),
        }
    }
}

/// The private `kubernetes.io` claim.
///
/// kube-apiserver builds the token through go-jose, which re-encodes claims as Go maps,
/// so the serialised member order is **alphabetical at every level**:
/// `namespace, node, pod, serviceaccount, warnafter`. Field order here matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    /// The service account's namespace.
    pub namespace: String,
    /// The node the pod runs on (pod-bound tokens with node info), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
    /// The pod the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    /// The service account.
    pub serviceaccount: ObjectRef,
    /// Extended-expiry warning time (epoch seconds), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// The full claims set of a projected service-account token, laid out exactly as
/// kube-apiserver serialises it (alphabetical: `aud, exp, iat, iss, jti, kubernetes.io,
/// nbf, sub`; `aud` is always an array, even with one member).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccountClaims {
    /// Audiences.
    pub aud: Vec<String>,
    /// Expiry (epoch seconds).
    pub exp: i64,
    /// Issued-at (epoch seconds).
    pub iat: i64,
    /// Issuer.
    pub iss: String,
    /// Token id (UUID).
    pub jti: String,
    /// Private Kubernetes claim.
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
    /// Not-before (= `iat`).
    pub nbf: i64,
    /// `system:serviceaccount:<namespace>:<name>`.
    pub sub: String,
}

/// A request for a projected service-account token (the TokenRequest API's inputs).
///
/// Time and randomness are injected: `now` is epoch seconds and `jti_random` supplies
/// the 16 random bytes formatted as a UUIDv4 `jti`
/// ([`random_uuid_bytes`](crate::random_uuid_bytes) gives OS randomness).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccountTokenRequest {
    /// Issuer URL (`iss`), e.g. `http://127.0.0.1:4599/clusters/demo`.
    pub issuer: String,
    /// Namespace of the service account.
    pub namespace: String,
    /// Service-account name.
    pub service_account: String,
    /// Service-account UID.
    pub sa_uid: String,
    /// Audiences (`aud`); must not be empty.
    pub audiences: Vec<String>,
    /// Lifetime in seconds, 600..=2^32.
    pub expiration_seconds: i64,
    /// Bound pod, if any.
    pub pod: Option<ObjectRef>,
    /// Node of the bound pod, if any (only emitted together with `pod`, as kube does).
    pub node: Option<ObjectRef>,
    /// Optional `warnafter` (epoch seconds) for kube's extended-expiry mode.
    pub warn_after: Option<i64>,
    /// Current time, epoch seconds (`iat` = `nbf` = `now`).
    pub now: i64,
    /// 16 random bytes for the `jti`.
    pub jti_random: [u8; 16],
}

/// A signed token and what went into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MintedToken {
    /// The compact JWS.
    pub token: String,
    /// The claims that were signed.
    pub claims: ServiceAccountClaims,
}

impl MintedToken {
    /// Expiry, epoch seconds.
    pub fn expires_at(&self) -> i64 {
        self.claims.exp
    }
}

impl ServiceAccountTokenRequest {
    /// A request with one audience, the default lifetime (3600 s) and no pod binding.
    pub fn new(
        issuer: impl Into<String>,
        namespace: impl Into<String>,
        service_account: impl Into<String>,
        sa_uid: impl Into<String>,
        audience: impl Into<String>,
        now: i64,
        jti_random: [u8; 16],
    ) -> Self {
        Self {
            issuer: issuer.into(),
            namespace: namespace.into(),
            service_account: service_account.into(),
            sa_uid: sa_uid.into(),
            audiences: vec![audience.into()],
            expiration_seconds: DEFAULT_EXPIRATION_SECONDS,
            pod: None,
            node: None,
            warn_after: None,
            now,
            jti_random,
        }
    }

    /// Sets the lifetime.
    pub fn with_expiration_seconds(mut self, seconds: i64) -> Self {
        self.expiration_seconds = seconds;
        self
    }

    /// Binds the token to a pod.
    pub fn with_pod(mut self, name: impl Into<String>, uid: impl Into<String>) -> Self {
        self.pod = Some(ObjectRef::new(name, uid));
        self
    }

    /// Adds node info (emitted only for pod-bound tokens).
    pub fn with_node(mut self, name: impl Into<String>, uid: impl Into<String>) -> Self {
        self.node = Some(ObjectRef::new(name, uid));
        self
    }

    /// Replaces the audiences.
    pub fn with_audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// Validates the request and builds the claims (kube-apiserver's rules:
    /// `expirationSeconds` 600..=2^32, `sub = system:serviceaccount:NS:SA`, `nbf = iat`).
    pub fn claims(&self) -> Result<ServiceAccountClaims, MintError> {
        if self.issuer.is_empty() {
            return Err(MintError::EmptyField("issuer"));
        }
        if self.namespace.is_empty() {
            return Err(MintError::EmptyField("namespace"));
        }
        if self.service_account.is_empty() {
            return Err(MintError::EmptyField("service account"));
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(MintError::EmptyField("audience"));
        }
        if self.expiration_seconds < MIN_EXPIRATION_SECONDS {
            return Err(MintError::ExpirationTooShort);
        }
        if self.expiration_seconds > MAX_EXPIRATION_SECONDS {
            return Err(MintError::ExpirationTooLong);
        }
        let exp = self
            .now
            .checked_add(self.expiration_seconds)
            .ok_or(MintError::TimeOverflow)?;
        Ok(ServiceAccountClaims {
            aud: self.audiences.clone(),
            exp,
            iat: self.now,
            iss: self.issuer.clone(),
            jti: uuid_v4_from_bytes(self.jti_random),
            kubernetes: KubernetesClaims {
                namespace: self.namespace.clone(),
                node: self.pod.as_ref().and(self.node.clone()),
                pod: self.pod.clone(),
                serviceaccount: ObjectRef::new(&self.service_account, &self.sa_uid),
                warnafter: self.warn_after,
            },
            nbf: self.now,
            sub: service_account_subject(&self.namespace, &self.service_account),
        })
    }

    /// Validates, builds the claims and signs them with `key`.
    pub fn mint(&self, key: &SigningKey) -> Result<MintedToken, MintError> {
        let claims = self.claims()?;
        let token = key.sign_jws(&claims)?;
        Ok(MintedToken { token, claims })
    }
}

/// `system:serviceaccount:<namespace>:<name>`.
pub fn service_account_subject(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}
