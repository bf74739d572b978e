//! # podiam-policy
//!
//! The AWS IAM policy language: parse, validate, evaluate and explain, deciding
//! as the IAM User Guide ("Policy evaluation logic" and the "IAM JSON policy
//! elements" reference) describes.
//!
//! ```
//! use podiam_policy::*;
//!
//! let trust = Policy::parse(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
//!   "Principal":{"Service":"pods.eks.amazonaws.com"},
//!   "Action":["sts:AssumeRole","sts:TagSession"]}]}"#, PolicyKind::Trust).unwrap();
//! let ctx = RequestContext::builder(
//!     Principal::service("pods.eks.amazonaws.com"),
//!     "sts:AssumeRole",
//!     "arn:aws:iam::111122223333:role/app",
//! ).build();
//! let out = evaluate(&Evaluation::trust("trust", &trust), &ctx);
//! assert_eq!(out.decision, Decision::Allow);
//! ```
//!
//! Module layout: `json` (strict reader with duplicate-key detection and
//! positions), `parse` + `validate` (grammar and per-kind rules), `matcher`
//! (wildcards and ARNs), `variables` (policy variables), `values` (numbers,
//! dates, IPs, base64), `condition` (operators), `context` (request context),
//! `eval` (combining policy types), `explain` (explanations).

mod condition;
mod context;
mod error;
mod eval;
mod explain;
mod json;
mod matcher;
mod parse;
mod policy;
mod validate;
mod values;
mod variables;

pub use context::{ContextValue, Principal, PrincipalKind, RequestContext, RequestContextBuilder};
pub use error::{PolicyError, PolicyErrorKind};
pub use eval::{Evaluation, NamedPolicy, Outcome, decide, evaluate};
pub use explain::{
    Decision, Explanation, MatchedStatement, Mismatch, PolicyResult, PolicyTrace, PolicyType,
    PrincipalScope, StatementTrace,
};
pub use parse::policy_size;
pub use policy::{Effect, Policy, PolicyKind, Position, StatementInfo, Version};

/// Wildcard matching as used by `Action`, `Resource` and `StringLike`
/// (`*` = any run of characters, `?` = one character; case-sensitive).
/// Exposed for consumers that need the same semantics (and for tests).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    matcher::Glob::new(pattern).matches(text)
}
