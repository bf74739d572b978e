//! The entities podiam stores.

use crate::store::Entity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Key (case-insensitive uniqueness, case preserved).
    pub key: String,
    /// Value.
    pub value: String,
}

/// A long-term access key (the bootstrap admin key is one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// Owning account.
    pub account: String,
    /// The principal the key belongs to (`arn:aws:iam::ACCT:root` for the admin).
    pub principal_arn: String,
    /// `Active` or `Inactive`.
    pub active: bool,
    /// Epoch seconds.
    pub created_at: i64,
}

impl Entity for AccessKey {
    const KIND: &'static str = "access-key";
    const SECRET: bool = true;
}

/// An IAM OIDC identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProvider {
    /// `arn:aws:iam::ACCT:oidc-provider/HOST/PATH`.
    pub arn: String,
    /// The URL as registered (with scheme), e.g. `https://oidc.example.com/id/X`.
    pub url: String,
    /// Client ids (audiences).
    pub client_ids: Vec<String>,
    /// Certificate thumbprints (hex SHA-1).
    pub thumbprints: Vec<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Epoch seconds.
    pub created_at: i64,
}

impl Entity for OidcProvider {
    const KIND: &'static str = "oidc-provider";
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Name as created (unique case-insensitively).
    pub name: String,
    /// `AROA…`.
    pub id: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// `arn:aws:iam::ACCT:role/PATH/NAME`.
    pub arn: String,
    /// The trust policy document (JSON, as given).
    pub trust_policy: String,
    /// Description.
    pub description: Option<String>,
    /// 3600..=43200.
    pub max_session_duration: i64,
    /// Permissions boundary policy ARN.
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, String>,
    /// Attached managed policy ARNs, in attach order.
    pub attached_policies: Vec<String>,
    /// Epoch seconds.
    pub created_at: i64,
}

impl Entity for Role {
    const KIND: &'static str = "role";
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// `v1`, `v2`, …
    pub id: String,
    /// The document (JSON, as given).
    pub document: String,
    /// Epoch seconds.
    pub created_at: i64,
}

/// A customer managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    /// Name.
    pub name: String,
    /// `ANPA…`.
    pub id: String,
    /// Path.
    pub path: String,
    /// `arn:aws:iam::ACCT:policy/PATH/NAME`.
    pub arn: String,
    /// Description (immutable after creation).
    pub description: Option<String>,
    /// The default version id.
    pub default_version: String,
    /// At most five versions.
    pub versions: Vec<PolicyVersion>,
    /// The number the next version gets.
    pub next_version: u32,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds.
    pub updated_at: i64,
}

impl ManagedPolicy {
    /// The default version's document.
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
    }
}

impl Entity for ManagedPolicy {
    const KIND: &'static str = "managed-policy";
}

/// An instance profile (the node role, for IMDS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceProfile {
    /// Name.
    pub name: String,
    /// `AIPA…`.
    pub id: String,
    /// Path.
    pub path: String,
    /// ARN.
    pub arn: String,
    /// Role names (at most one).
    pub roles: Vec<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Epoch seconds.
    pub created_at: i64,
}

impl Entity for InstanceProfile {
    const KIND: &'static str = "instance-profile";
}

/// A signing key of a built-in cluster issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterKey {
    /// `kid`.
    pub kid: String,
    /// `RS256` or `ES256`.
    pub alg: String,
    /// PKCS#8 DER, base64.
    pub private_pkcs8: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// When the key starts signing (epoch seconds; 0: from creation). A
    /// rotated-in key is published in the JWKS before this, so verifiers
    /// holding a cached JWKS know it by the time tokens carry its `kid`.
    #[serde(default)]
    pub active_from: i64,
    /// The latest `exp` of any token this key signed: once a newer key
    /// signs, this key stays published until then. Keys stored before
    /// podiam tracked it read as "unknown" (`i64::MAX`) and are kept.
    #[serde(default = "unknown_signed_until")]
    pub signed_until: i64,
}

fn unknown_signed_until() -> i64 {
    i64::MAX
}

/// A cluster: a name, an issuer, and (for built-in issuers) signing keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// Name.
    pub name: String,
    /// `arn:aws:eks:REGION:ACCT:cluster/NAME`.
    pub arn: String,
    /// Issuer URL.
    pub issuer: String,
    /// Signing keys, newest last; empty for an external issuer.
    pub keys: Vec<ClusterKey>,
    /// A JWKS document for an external issuer registered with a key file.
    pub external_jwks: Option<String>,
    /// A random seed that makes service-account and pod uids stable.
    pub uid_seed: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Epoch seconds.
    pub created_at: i64,
}

impl Entity for Cluster {
    const KIND: &'static str = "cluster";
    const SECRET: bool = true;
}

/// A key that seals session tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealingKeyRecord {
    /// Key id.
    pub id: u32,
    /// Base64 AES-256 key.
    pub secret: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// When it starts sealing (epoch seconds; 0: at once).
    #[serde(default)]
    pub active_from: i64,
    /// Rotation generation: new keys are stored under `g<generation>`, so
    /// replicas rotating at the same moment create one key, not two.
    #[serde(default)]
    pub generation: u32,
}

impl Entity for SealingKeyRecord {
    const KIND: &'static str = "sealing-key";
    const SECRET: bool = true;
}

/// An S3 bucket (objects live on disk; this is the bucket's record).
/// Stored in the global namespace (account `""`) under its name: bucket names
/// are unique across accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// The bucket name.
    pub name: String,
    /// The owning account.
    pub owner: String,
    /// The region the bucket lives in.
    pub region: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// The bucket policy document (JSON, as given), if any.
    pub policy: Option<String>,
    /// Bucket tags.
    pub tags: Vec<Tag>,
}

impl Entity for Bucket {
    const KIND: &'static str = "s3-bucket";
}

/// A web console sign-in. The cookie holds a random id; the store keys the
/// record by that id's SHA-256, so reading the store does not yield live
/// cookies. Deleting the record signs out on every replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSession {
    /// Its store key: the SHA-256 (hex) of the cookie's id.
    pub key: String,
    /// The access key signed in with; every console call is signed with it.
    pub access_key_id: String,
    /// Its session token (temporary keys).
    pub session_token: Option<String>,
    /// The principal's ARN, as shown.
    pub arn: String,
    /// The CSRF token state-changing console calls must carry.
    pub csrf_token: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds; the cookie's Max-Age ends here too.
    pub expires_at: i64,
}

impl Entity for ConsoleSession {
    const KIND: &'static str = "console-session";
    const SECRET: bool = true;
}
