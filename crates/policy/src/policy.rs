//! The compiled policy model.

use std::sync::Arc;

use serde::Serialize;

use crate::condition::CondBlock;
use crate::matcher::Glob;
use crate::variables::Template;

/// Which kind of policy a document is; decides validation and size quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// An identity-based policy (managed or inline) attached to a user, group or role.
    Identity,
    /// A resource-based policy such as an S3 bucket policy (requires `Principal`).
    Resource,
    /// A role trust policy (`AssumeRolePolicyDocument`).
    Trust,
    /// A session policy passed to `AssumeRole*` / `GetFederationToken`.
    Session,
    /// A permissions boundary (a managed policy used as boundary).
    Boundary,
}

impl PolicyKind {
    /// Default size quota in characters, whitespace excluded (IAM User Guide,
    /// "IAM and AWS STS quotas"): managed policies 6,144; role trust policies
    /// 2,048; session policies 2,048; S3 bucket policies 20 KB.
    pub fn default_max_chars(self) -> usize {
        match self {
            PolicyKind::Identity | PolicyKind::Boundary => 6144,
            PolicyKind::Trust | PolicyKind::Session => 2048,
            PolicyKind::Resource => 20480,
        }
    }

    /// The quota name IAM uses in "Cannot exceed quota for X: N".
    pub(crate) fn quota_name(self) -> &'static str {
        match self {
            PolicyKind::Trust => "ACLSizePerRole",
            _ => "PolicySize",
        }
    }

    /// Whether the document is validated by IAM's rules (Sid alphanumeric, ...).
    pub(crate) fn is_iam(self) -> bool {
        !matches!(self, PolicyKind::Resource)
    }
}

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    /// `"2012-10-17"`: policy variables are substituted.
    #[serde(rename = "2012-10-17")]
    V2012_10_17,
    /// `"2008-10-17"`: `${...}` is literal text.
    #[serde(rename = "2008-10-17")]
    V2008_10_17,
    /// No `Version` element: behaves like 2008-10-17.
    #[serde(rename = "none")]
    Missing,
}

/// `Effect` of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    /// `"Allow"`.
    Allow,
    /// `"Deny"`.
    Deny,
}

/// A 1-based line/column position in the policy text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    /// Line, starting at 1.
    pub line: usize,
    /// Column, starting at 1.
    pub column: usize,
}

/// A value of `Principal`/`NotPrincipal`, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalEntry {
    /// `"Principal": "*"`: everyone, including anonymous callers and services.
    Everyone,
    /// `{"AWS": "*"}`: every AWS principal, including anonymous.
    AnyAws,
    /// `{"AWS": "123456789012"}` or `arn:aws:iam::123456789012:root`.
    Account(String),
    /// A user, role, assumed-role session or federated-user ARN.
    Arn(String),
    /// A unique id such as `AIDA...` / `AROA...`.
    UniqueId(String),
    /// `{"Federated": ...}` provider (`*` = any).
    Federated(String),
    /// `{"Service": ...}` (`*` = any), compared case-insensitively.
    Service(String),
    /// `{"CanonicalUser": ...}`.
    CanonicalUser(String),
}

/// A compiled Resource/NotResource pattern.
#[derive(Debug, Clone)]
pub(crate) struct ResourcePattern {
    /// Precompiled glob when the pattern has no variables.
    pub glob: Option<Glob>,
    /// Template when the resource part has variables.
    pub template: Option<Template>,
    /// Wildcard- and variable-free leading text of a templated pattern: a
    /// cheap pre-check that avoids resolving variables for obvious misses.
    pub literal_prefix: String,
}

/// A compiled statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub index: usize,
    pub sid: Option<Arc<str>>,
    pub effect: Effect,
    /// `(entries, is_not_principal)`; `None` when the element is absent.
    pub principal: Option<(Vec<PrincipalEntry>, bool)>,
    /// Lower-cased action globs and whether this is `NotAction`.
    pub actions: (Vec<Glob>, bool),
    /// Resource patterns and whether this is `NotResource`; `None` if absent.
    pub resources: Option<(Vec<ResourcePattern>, bool)>,
    pub conditions: Vec<CondBlock>,
    pub start: Position,
    pub end: Position,
}

#[derive(Debug)]
pub(crate) struct PolicyInner {
    pub kind: PolicyKind,
    pub version: Version,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
    /// Every request-context key the policy reads (conditions and policy
    /// variables), lower-cased, sorted, unique.
    pub reads: Vec<String>,
}

impl PolicyInner {
    /// A compiled policy, with the keys its statements read.
    pub(crate) fn new(
        kind: PolicyKind,
        version: Version,
        id: Option<String>,
        statements: Vec<Statement>,
    ) -> PolicyInner {
        let mut reads: Vec<String> = Vec::new();
        for s in &statements {
            for r in s.resources.iter().flat_map(|(rs, _)| rs) {
                reads.extend(
                    r.template
                        .iter()
                        .flat_map(|t| t.var_keys().map(str::to_string)),
                );
            }
            for e in s.conditions.iter().flat_map(|b| &b.entries) {
                reads.push(e.key_lower.clone());
                for v in &e.values {
                    reads.extend(
                        v.compiled
                            .template()
                            .into_iter()
                            .flat_map(|t| t.var_keys().map(str::to_string)),
                    );
                }
            }
        }
        reads.sort_unstable();
        reads.dedup();
        PolicyInner {
            kind,
            version,
            id,
            statements,
            reads,
        }
    }
}

/// A parsed, validated and compiled policy. Cheap to clone (shared) and to
/// evaluate; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) inner: Arc<PolicyInner>,
}

/// Public summary of one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementInfo {
    /// 0-based index in the `Statement` list.
    pub index: usize,
    /// The `Sid`, if any.
    pub sid: Option<String>,
    /// The statement's effect.
    pub effect: Effect,
    /// Where the statement object starts in the source text.
    pub start: Position,
    /// Where the statement object ends (just past its closing brace).
    pub end: Position,
}

impl Policy {
    /// The kind the policy was validated as.
    pub fn kind(&self) -> PolicyKind {
        self.inner.kind
    }

    /// The `Version` element.
    pub fn version(&self) -> Version {
        self.inner.version
    }

    /// The `Id` element.
    pub fn id(&self) -> Option<&str> {
        self.inner.id.as_deref()
    }

    /// Number of statements.
    pub fn statement_count(&self) -> usize {
        self.inner.statements.len()
    }

    /// Summaries of all statements, in order.
    pub fn statements(&self) -> Vec<StatementInfo> {
        self.inner.statements.iter().map(Statement::info).collect()
    }

    /// Whether a condition reads a key that starts with `prefix`
    /// (case-insensitive): a service fetches costly context (an object's
    /// tags) only for the policies that read it.
    pub fn reads_key_prefix(&self, prefix: &str) -> bool {
        // `reads` is lower-cased: compare without lower-casing `prefix`
        // (this runs on every decision).
        let p = prefix.as_bytes();
        self.inner.reads.iter().any(|k| {
            k.as_bytes()
                .get(..p.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(p))
        })
    }

    /// Whether a condition or a policy variable reads `key`
    /// (case-insensitive): keys no policy of an evaluation reads need not
    /// be in its request context.
    pub fn reads_key(&self, key: &str) -> bool {
        let reads = &self.inner.reads;
        if key.is_ascii() {
            reads
                .binary_search_by(|k| k.bytes().cmp(key.bytes().map(|b| b.to_ascii_lowercase())))
                .is_ok()
        } else {
            reads.binary_search(&key.to_lowercase()).is_ok()
        }
    }
}

impl Statement {
    pub(crate) fn info(&self) -> StatementInfo {
        StatementInfo {
            index: self.index,
            sid: self.sid.as_deref().map(str::to_string),
            effect: self.effect,
            start: self.start,
            end: self.end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_condition_keys_and_policy_variables() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::b/${aws:username}/*",
                "Condition":{"StringEquals":{"aws:PrincipalTag/Team":"${aws:RequestTag/Ünit}"},
                             "Bool":{"aws:SecureTransport":"true"}}}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        for k in [
            "aws:username",
            "AWS:UserName",
            "aws:principaltag/team",
            "aws:RequestTag/ünit",
            "aws:RequestTag/ÜNIT",
            "aws:SecureTransport",
        ] {
            assert!(p.reads_key(k), "{k}");
        }
        for k in ["aws:CurrentTime", "aws:PrincipalTag/other", "s3:prefix"] {
            assert!(!p.reads_key(k), "{k}");
        }
        assert!(p.reads_key_prefix("aws:principaltag/"));
        // Version 2008-10-17 has no variables: `${…}` is text.
        let old = Policy::parse(
            r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username}"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        assert!(!old.reads_key("aws:username"));
    }
}
