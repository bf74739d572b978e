//! Explanations of decisions: serde-serializable data with a stable
//! human-readable `Display` rendering.

use std::fmt;

use serde::Serialize;

use crate::policy::{Effect, Position};

/// The final decision (IAM User Guide, "Policy evaluation logic").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Decision {
    /// The request is allowed.
    Allow,
    /// A `Deny` statement applied.
    ExplicitDeny,
    /// Nothing denied it, but nothing (sufficient) allowed it either.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Allow => "Allow",
            Decision::ExplicitDeny => "ExplicitDeny",
            Decision::ImplicitDeny => "ImplicitDeny",
        })
    }
}

/// The role a policy played in an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    /// Identity-based policy of the caller.
    Identity,
    /// Permissions boundary of the caller.
    Boundary,
    /// Session policy of the caller's session.
    Session,
    /// Resource-based policy (e.g. a bucket policy).
    Resource,
    /// Role trust policy.
    Trust,
}

impl PolicyType {
    /// Human name used in renderings.
    pub fn label(self) -> &'static str {
        match self {
            PolicyType::Identity => "identity policy",
            PolicyType::Boundary => "permissions boundary",
            PolicyType::Session => "session policy",
            PolicyType::Resource => "resource policy",
            PolicyType::Trust => "trust policy",
        }
    }
}

/// How specifically a resource/trust policy named the caller; decides whether
/// identity policies, boundaries and session policies still apply (IAM User
/// Guide, "Policy evaluation logic" and "Permissions boundaries for IAM entities").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalScope {
    /// Only the caller's account was named (delegation): the account's identity
    /// policies must also allow.
    Account,
    /// The role ARN was named for a role session: still limited by the
    /// boundary and session policies.
    Role,
    /// The caller itself was named (user ARN, session ARN, federated-user ARN,
    /// service, web-identity provider, or `*`).
    Direct,
}

/// Why a statement did not apply (the first failing element).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "element", rename_all = "snake_case")]
pub enum Mismatch {
    /// `Principal`/`NotPrincipal` did not cover the caller.
    Principal,
    /// `Action`/`NotAction` did not match.
    Action,
    /// `Resource`/`NotResource` did not match.
    Resource,
    /// A condition was false.
    Condition {
        /// The condition key as written in the policy.
        key: String,
        /// The operator as written.
        operator: String,
        /// The policy values.
        expected: Vec<String>,
        /// The request values, or `None` if the key is missing.
        actual: Option<Vec<String>>,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Principal => f.write_str("principal did not match"),
            Mismatch::Action => f.write_str("action did not match"),
            Mismatch::Resource => f.write_str("resource did not match"),
            Mismatch::Condition {
                key,
                operator,
                expected,
                actual,
            } => {
                write!(f, "condition {key} {operator} expected {expected:?} ")?;
                match actual {
                    Some(a) => write!(f, "got {a:?}"),
                    None => f.write_str("but the key is missing"),
                }
            }
        }
    }
}

/// The evaluation of one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementTrace {
    /// 0-based index in the policy.
    pub index: usize,
    /// The `Sid`, if any.
    pub sid: Option<String>,
    /// The statement's effect.
    pub effect: Effect,
    /// Whether every element matched (the statement applies).
    pub matched: bool,
    /// For matched statements with a `Principal`, how the caller was named.
    pub principal_scope: Option<PrincipalScope>,
    /// For unmatched statements, the first reason.
    pub mismatch: Option<Mismatch>,
    /// Start of the statement in the policy text.
    pub start: Position,
    /// End of the statement in the policy text.
    pub end: Position,
}

impl StatementTrace {
    fn label(&self) -> String {
        match &self.sid {
            Some(s) if !s.is_empty() => format!("[{}] Sid {:?}", self.index, s),
            _ => format!("[{}]", self.index),
        }
    }
}

/// What one policy contributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyResult {
    /// At least one Allow statement applied and no Deny.
    Allow,
    /// A Deny statement applied.
    Deny,
    /// No statement applied.
    NoMatch,
}

/// The evaluation of one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyTrace {
    /// The policy's role in the evaluation.
    pub policy_type: PolicyType,
    /// The name/ARN the caller gave the policy.
    pub name: String,
    /// What this policy contributed.
    pub result: PolicyResult,
    /// Every statement, in order.
    pub statements: Vec<StatementTrace>,
}

/// A statement that applied, in the shape IAM's simulate APIs report
/// (`MatchedStatements`: `SourcePolicyId`, `SourcePolicyType`, positions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedStatement {
    /// The policy name/ARN as given to the evaluation.
    pub source_policy_id: String,
    /// The role the policy played.
    pub source_policy_type: PolicyType,
    /// The statement index.
    pub index: usize,
    /// The `Sid`, if any.
    pub sid: Option<String>,
    /// The statement's effect.
    pub effect: Effect,
    /// Start position (1-based line/column).
    pub start_position: Position,
    /// End position (1-based line/column).
    pub end_position: Position,
}

/// Why the decision was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The decision.
    pub decision: Decision,
    /// One-sentence reason, e.g. "allowed by identity policy, but no statement
    /// in the session policy allows it".
    pub summary: String,
    /// The policy type that decided (granting, denying, or missing an Allow).
    pub deciding_policy_type: Option<PolicyType>,
    /// Every policy evaluated, with per-statement details.
    pub policies: Vec<PolicyTrace>,
}

impl Explanation {
    /// Statements that applied (matched), for simulate APIs.
    pub fn matched_statements(&self) -> Vec<MatchedStatement> {
        let mut out = Vec::new();
        for p in &self.policies {
            for s in p.statements.iter().filter(|s| s.matched) {
                out.push(MatchedStatement {
                    source_policy_id: p.name.clone(),
                    source_policy_type: p.policy_type,
                    index: s.index,
                    sid: s.sid.clone(),
                    effect: s.effect,
                    start_position: s.start,
                    end_position: s.end,
                });
            }
        }
        out
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "decision: {}", self.decision)?;
        writeln!(f, "reason: {}", self.summary)?;
        for p in &self.policies {
            let result = match p.result {
                PolicyResult::Allow => "allows",
                PolicyResult::Deny => "denies",
                PolicyResult::NoMatch => "no match",
            };
            writeln!(f, "{} {:?}: {}", p.policy_type.label(), p.name, result)?;
            for s in &p.statements {
                let effect = match s.effect {
                    Effect::Allow => "Allow",
                    Effect::Deny => "Deny",
                };
                if s.matched {
                    write!(f, "  {} {}: matched", s.label(), effect)?;
                    if let Some(scope) = s.principal_scope {
                        let how = match scope {
                            PrincipalScope::Account => "account",
                            PrincipalScope::Role => "role",
                            PrincipalScope::Direct => "caller",
                        };
                        write!(f, " (principal named: {how})")?;
                    }
                    writeln!(f)?;
                } else {
                    let why = s
                        .mismatch
                        .as_ref()
                        .map_or_else(|| "not matched".to_string(), ToString::to_string);
                    writeln!(f, "  {} {}: {}", s.label(), effect, why)?;
                }
            }
        }
        Ok(())
    }
}
