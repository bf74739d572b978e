//! Policy validation errors, worded like IAM's `MalformedPolicyDocument`
//! messages (messages observed from IAM and mirrored by moto's validator).

use std::fmt;

use serde::Serialize;

/// The category of a [`PolicyError`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum PolicyErrorKind {
    /// Not JSON, wrong JSON types, duplicate keys, empty lists, both `X` and `NotX`.
    Syntax,
    /// Structurally valid but rejected by IAM's "legacy" parser: unknown
    /// `Version`, `Effect` in the wrong case, unparseable dates, bad ARN shapes.
    LegacyParsing,
    /// An element name IAM does not know.
    UnknownField(String),
    /// An element that this policy type must not contain (e.g. `Resource` in a trust policy).
    ProhibitedField(String),
    /// An element that this policy type requires (e.g. `Principal` in a trust policy).
    MissingField(String),
    /// `Principal`/`NotPrincipal` in an identity, session or boundary policy.
    PrincipalNotAllowed,
    /// `NotPrincipal` combined with `"Effect": "Allow"`.
    NotPrincipalWithAllow,
    /// Two statements share a `Sid`.
    DuplicateSid,
    /// A `Sid` with characters other than ASCII letters and digits.
    InvalidSid,
    /// A statement without `Action`/`NotAction`.
    MissingAction,
    /// A statement without `Resource`/`NotResource` where one is required.
    MissingResource,
    /// An action or condition key without a `vendor:` prefix.
    MissingVendor,
    /// An action with more than one colon.
    TooManyColons,
    /// An action vendor with invalid characters.
    InvalidVendor(String),
    /// A resource that is neither `*` nor ARN-shaped.
    InvalidResource(String),
    /// An unknown condition operator.
    InvalidConditionType(String),
    /// A principal value IAM would not accept (e.g. a partial wildcard).
    InvalidPrincipal(String),
    /// The document exceeds its size quota (whitespace is not counted).
    PolicySize {
        /// The quota's name as IAM reports it (`PolicySize`, `ACLSizePerRole`).
        quota: String,
        /// The limit in characters.
        limit: usize,
    },
}

/// A policy document was rejected. `Display` gives an IAM-style message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyError {
    kind: PolicyErrorKind,
    message: String,
}

impl PolicyError {
    pub(crate) fn new(kind: PolicyErrorKind) -> PolicyError {
        let message = match &kind {
            PolicyErrorKind::Syntax => "Syntax errors in policy.".to_string(),
            PolicyErrorKind::LegacyParsing => "The policy failed legacy parsing".to_string(),
            PolicyErrorKind::UnknownField(f) => format!("Unknown field {f}"),
            PolicyErrorKind::ProhibitedField(f) => format!("Has prohibited field {f}."),
            PolicyErrorKind::MissingField(f) => format!("Missing required field {f}."),
            PolicyErrorKind::PrincipalNotAllowed => {
                "Policy document should not specify a principal.".to_string()
            }
            PolicyErrorKind::NotPrincipalWithAllow => {
                "NotPrincipal must be used with \"Effect\":\"Deny\".".to_string()
            }
            PolicyErrorKind::DuplicateSid => {
                "Statement IDs (SID) in a single policy must be unique.".to_string()
            }
            PolicyErrorKind::InvalidSid => "Statement IDs (SID) must be alpha-numeric. Check that \
                 your input satisfies the regular expression [0-9A-Za-z]*"
                .to_string(),
            PolicyErrorKind::MissingAction => "Policy statement must contain actions.".to_string(),
            PolicyErrorKind::MissingResource => {
                "Policy statement must contain resources.".to_string()
            }
            PolicyErrorKind::MissingVendor => {
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                    .to_string()
            }
            PolicyErrorKind::TooManyColons => {
                "Actions/Condition can contain only one colon.".to_string()
            }
            PolicyErrorKind::InvalidVendor(v) => format!("Vendor {v} is not valid"),
            PolicyErrorKind::InvalidResource(r) => {
                format!("Resource {r} must be in ARN format or \"*\".")
            }
            PolicyErrorKind::InvalidConditionType(c) => format!("Invalid Condition type : {c}"),
            PolicyErrorKind::InvalidPrincipal(p) => format!("Invalid principal in policy: {p}"),
            PolicyErrorKind::PolicySize { quota, limit } => {
                format!("Cannot exceed quota for {quota}: {limit}")
            }
        };
        PolicyError { kind, message }
    }

    /// The structured category.
    pub fn kind(&self) -> &PolicyErrorKind {
        &self.kind
    }

    /// The IAM-style message (same as `Display`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

pub(crate) fn err<T>(kind: PolicyErrorKind) -> Result<T, PolicyError> {
    Err(PolicyError::new(kind))
}
