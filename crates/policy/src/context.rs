//! The request context: who is calling, what action on which resource, and
//! the condition keys (IAM User Guide, "Policy evaluation logic" → "Request
//! context", and "AWS global condition context keys").

use std::collections::HashMap;

use serde::Serialize;

/// What kind of caller a [`Principal`] is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PrincipalKind {
    /// An IAM user (`arn:aws:iam::A:user/path/name`).
    IamUser {
        /// The user name (last path element of the ARN).
        name: String,
    },
    /// A role session (`arn:aws:sts::A:assumed-role/R/S`).
    AssumedRole {
        /// The ARN of the role, including its path (`arn:aws:iam::A:role/path/R`).
        role_arn: String,
        /// The role session name.
        session_name: String,
    },
    /// A caller authenticated by a web identity provider, before a session exists
    /// (the subject of `AssumeRoleWithWebIdentity`).
    WebIdentity {
        /// The provider: an OIDC provider ARN
        /// (`arn:aws:iam::A:oidc-provider/host/path`) or a name such as
        /// `cognito-identity.amazonaws.com` or `accounts.google.com`.
        provider: String,
    },
    /// An AWS service principal such as `pods.eks.amazonaws.com`.
    Service(String),
    /// An unauthenticated caller.
    Anonymous,
    /// The account root user.
    AccountRoot,
    /// A federated user session from `GetFederationToken`
    /// (`arn:aws:sts::A:federated-user/name`).
    FederatedUser {
        /// The federated user name.
        name: String,
    },
}

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The caller's ARN (session ARN for role sessions), if it has one.
    pub arn: Option<String>,
    /// The caller's account id, if it has one.
    pub account: Option<String>,
    /// What kind of caller this is.
    pub kind: PrincipalKind,
    /// The unique id (`aws:userid`), e.g. `AIDA...` or `AROA...:session`.
    pub userid: Option<String>,
    /// The S3 canonical user id, if known.
    pub canonical_user: Option<String>,
}

/// The account field (5th part) of an ARN, if non-empty.
pub(crate) fn arn_account(arn: &str) -> Option<String> {
    let acct = arn.split(':').nth(4)?;
    (!acct.is_empty()).then(|| acct.to_string())
}

impl Principal {
    fn new(arn: Option<String>, account: Option<String>, kind: PrincipalKind) -> Principal {
        Principal {
            arn,
            account,
            kind,
            userid: None,
            canonical_user: None,
        }
    }

    /// An IAM user from its ARN; the name and account are taken from the ARN.
    pub fn iam_user(arn: impl Into<String>) -> Principal {
        let arn = arn.into();
        let name = arn.rsplit('/').next().unwrap_or_default().to_string();
        let account = arn_account(&arn);
        Principal::new(Some(arn), account, PrincipalKind::IamUser { name })
    }

    /// A role session from its session ARN (`arn:aws:sts::A:assumed-role/R/S`)
    /// and the role's ARN (`arn:aws:iam::A:role/path/R`, which includes the path
    /// that the session ARN omits).
    pub fn assumed_role(session_arn: impl Into<String>, role_arn: impl Into<String>) -> Principal {
        let arn = session_arn.into();
        let session_name = arn.rsplit('/').next().unwrap_or_default().to_string();
        let account = arn_account(&arn);
        Principal::new(
            Some(arn),
            account,
            PrincipalKind::AssumedRole {
                role_arn: role_arn.into(),
                session_name,
            },
        )
    }

    /// A web-identity caller (IRSA, Cognito, ...). `provider` is the OIDC
    /// provider ARN or a well-known provider name; it is what
    /// `"Principal": {"Federated": ...}` must equal.
    pub fn web_identity(provider: impl Into<String>) -> Principal {
        let provider = provider.into();
        let account = arn_account(&provider);
        Principal::new(None, account, PrincipalKind::WebIdentity { provider })
    }

    /// An AWS service principal such as `pods.eks.amazonaws.com`.
    pub fn service(name: impl Into<String>) -> Principal {
        Principal::new(None, None, PrincipalKind::Service(name.into()))
    }

    /// An anonymous (unauthenticated) caller.
    pub fn anonymous() -> Principal {
        Principal::new(None, None, PrincipalKind::Anonymous)
    }

    /// The root user of `account`.
    pub fn account_root(account: impl Into<String>) -> Principal {
        let account = account.into();
        let arn = format!("arn:aws:iam::{account}:root");
        Principal::new(Some(arn), Some(account), PrincipalKind::AccountRoot)
    }

    /// A federated user session (`arn:aws:sts::A:federated-user/name`).
    pub fn federated_user(arn: impl Into<String>) -> Principal {
        let arn = arn.into();
        let name = arn.rsplit('/').next().unwrap_or_default().to_string();
        let account = arn_account(&arn);
        Principal::new(Some(arn), account, PrincipalKind::FederatedUser { name })
    }

    /// Sets the unique id (`aws:userid`).
    pub fn with_userid(mut self, userid: impl Into<String>) -> Principal {
        self.userid = Some(userid.into());
        self
    }

    /// Sets the S3 canonical user id.
    pub fn with_canonical_user(mut self, id: impl Into<String>) -> Principal {
        self.canonical_user = Some(id.into());
        self
    }

    /// Overrides the account id.
    pub fn with_account(mut self, account: impl Into<String>) -> Principal {
        self.account = Some(account.into());
        self
    }

    /// Whether identity-based policies (and boundaries, session policies) can
    /// apply to this caller. Web identities, services and anonymous callers
    /// have none: only a resource-based (or trust) policy can allow them.
    pub fn is_iam_identity(&self) -> bool {
        matches!(
            self.kind,
            PrincipalKind::IamUser { .. }
                | PrincipalKind::AssumedRole { .. }
                | PrincipalKind::AccountRoot
                | PrincipalKind::FederatedUser { .. }
        )
    }

    /// `aws:PrincipalArn`: for role sessions this is the role ARN.
    pub fn principal_arn(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::AssumedRole { role_arn, .. } => Some(role_arn),
            _ => self.arn.as_deref(),
        }
    }

    fn principal_type(&self) -> &'static str {
        match self.kind {
            PrincipalKind::IamUser { .. } => "User",
            PrincipalKind::AssumedRole { .. } => "AssumedRole",
            PrincipalKind::WebIdentity { .. } => "WebIdentityUser",
            PrincipalKind::Service(_) => "AWSService",
            PrincipalKind::Anonymous => "Anonymous",
            PrincipalKind::AccountRoot => "Account",
            PrincipalKind::FederatedUser { .. } => "FederatedUser",
        }
    }
}

/// The value(s) of one condition key in the request context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ContextValue {
    /// A single-valued key (e.g. `aws:SourceIp`).
    Single(String),
    /// A multivalued key (e.g. `aws:TagKeys`); may be empty (key present, no values).
    Multi(Vec<String>),
}

impl ContextValue {
    /// All values as a slice-like list.
    pub fn values(&self) -> &[String] {
        match self {
            ContextValue::Single(s) => std::slice::from_ref(s),
            ContextValue::Multi(v) => v,
        }
    }

    /// The value if the key is single-valued (usable as a policy variable).
    pub fn single(&self) -> Option<&str> {
        match self {
            ContextValue::Single(s) => Some(s),
            ContextValue::Multi(_) => None,
        }
    }

    /// Whether the key has no value at all.
    pub fn is_empty(&self) -> bool {
        matches!(self, ContextValue::Multi(v) if v.is_empty())
    }

    /// Whether the value is IAM's null data set: no value, or only empty
    /// strings ("a null data set, such as an empty string").
    pub fn is_null(&self) -> bool {
        self.values().iter().all(String::is_empty)
    }
}

/// Everything a policy decision depends on. Build with [`RequestContext::builder`].
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub(crate) principal: Principal,
    pub(crate) action: String,
    pub(crate) action_lower: String,
    pub(crate) resource: String,
    /// Keys are stored lower-cased: condition key names are case-insensitive,
    /// including the tag-key part of `aws:PrincipalTag/k`.
    pub(crate) keys: HashMap<String, ContextValue>,
}

impl RequestContext {
    /// Starts a context for `principal` calling `action` (e.g. `s3:GetObject`)
    /// on `resource` (an ARN, or `*` for actions without resource types).
    pub fn builder(
        principal: Principal,
        action: impl Into<String>,
        resource: impl Into<String>,
    ) -> RequestContextBuilder {
        RequestContextBuilder {
            principal,
            action: action.into(),
            resource: resource.into(),
            keys: Vec::new(),
            derive: true,
        }
    }

    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The action as given.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource as given.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Looks up a condition key, case-insensitively.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.keys.get(&key.to_lowercase())
    }

    /// Looks up an already lower-cased key.
    pub(crate) fn get_lower(&self, key: &str) -> Option<&ContextValue> {
        self.keys.get(key)
    }

    /// All condition keys (lower-cased) and values.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.keys.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Builder for [`RequestContext`].
#[derive(Debug, Clone)]
pub struct RequestContextBuilder {
    principal: Principal,
    action: String,
    resource: String,
    keys: Vec<(String, ContextValue)>,
    derive: bool,
}

impl RequestContextBuilder {
    /// Adds a single-valued key. A later call for the same key (in any case) wins.
    pub fn key(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.keys
            .push((key.into(), ContextValue::Single(value.into())));
        self
    }

    /// Adds a multivalued key (such as `aws:TagKeys`). An empty iterator
    /// makes the key present with an empty value set.
    pub fn multi_key<I, S>(mut self, key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let v = values.into_iter().map(Into::into).collect();
        self.keys.push((key.into(), ContextValue::Multi(v)));
        self
    }

    /// Adds a key that is present but has no value.
    pub fn empty_key(self, key: impl Into<String>) -> Self {
        self.multi_key(key, std::iter::empty::<String>())
    }

    /// Adds a key with an explicit [`ContextValue`].
    pub fn value(mut self, key: impl Into<String>, value: ContextValue) -> Self {
        self.keys.push((key.into(), value));
        self
    }

    /// Whether to derive principal keys (`aws:PrincipalArn`, `aws:PrincipalAccount`,
    /// `aws:username`, `aws:userid`, `aws:PrincipalType`, `aws:PrincipalIsAWSService`,
    /// `aws:PrincipalServiceName`) from the principal when not set explicitly.
    /// Default: true.
    pub fn derive_principal_keys(mut self, on: bool) -> Self {
        self.derive = on;
        self
    }

    /// Finishes the context.
    pub fn build(self) -> RequestContext {
        self.build_for(|_| true)
    }

    /// Finishes the context with only the keys `wants` (the keys the
    /// evaluation's policies read: no other key can change its outcome).
    pub fn build_for(self, wants: impl Fn(&str) -> bool) -> RequestContext {
        let mut keys = HashMap::with_capacity(self.keys.len() + 6);
        for (k, v) in self.keys {
            if wants(&k) {
                keys.insert(lowercase(k), v);
            }
        }
        if self.derive {
            let p = &self.principal;
            let mut add = |k: &str, v: Option<String>| {
                if !wants(k) {
                    return;
                }
                if let Some(v) = v {
                    keys.entry(lowercase(k.to_string()))
                        .or_insert(ContextValue::Single(v));
                }
            };
            if p.is_iam_identity() {
                add("aws:PrincipalArn", p.principal_arn().map(str::to_string));
                add("aws:PrincipalAccount", p.account.clone());
            }
            if p.kind == PrincipalKind::Anonymous {
                add("aws:PrincipalAccount", Some("anonymous".to_string()));
            }
            if let PrincipalKind::IamUser { name } = &p.kind {
                add("aws:username", Some(name.clone()));
            }
            let userid = match &p.kind {
                PrincipalKind::AccountRoot => p.userid.clone().or_else(|| p.account.clone()),
                PrincipalKind::Anonymous => Some("anonymous".to_string()),
                // "account:caller-specified-name".
                PrincipalKind::FederatedUser { name } => p
                    .userid
                    .clone()
                    .or_else(|| p.account.as_ref().map(|a| format!("{a}:{name}"))),
                _ => p.userid.clone(),
            };
            add("aws:userid", userid);
            add("aws:PrincipalType", Some(p.principal_type().to_string()));
            // Signed requests only.
            if p.kind != PrincipalKind::Anonymous {
                let is_service = matches!(p.kind, PrincipalKind::Service(_));
                add("aws:PrincipalIsAWSService", Some(is_service.to_string()));
            }
            if let PrincipalKind::Service(s) = &p.kind {
                add("aws:PrincipalServiceName", Some(s.clone()));
            }
        }
        let action_lower = lowercase(self.action.clone());
        RequestContext {
            principal: self.principal,
            action: self.action,
            action_lower,
            resource: self.resource,
            keys,
        }
    }
}

/// Lower-cases a key for case-insensitive lookup, in place for ASCII (every
/// AWS-defined key; tag keys may be Unicode).
fn lowercase(mut k: String) -> String {
    if k.is_ascii() {
        k.make_ascii_lowercase();
        k
    } else {
        k.to_lowercase()
    }
}
