//! Runs corpus case files through podiam-policy and prints one JSON line per
//! case: `{"file": ..., "name": ..., "decision": ...}`.
//!
//! Used by the differential test against an independent evaluator
//! (`scripts/policy-differential/run.sh`), which runs the same files through
//! the oracle and compares the lines.
//!
//! ```text
//! cargo run -p podiam-policy --example eval_cases -- crates/policy/tests/corpus/*.json
//! ```
//!
//! With no arguments it reads every `*.json` in `crates/policy/tests/corpus`.
//!
//! * Evaluation cases (they have an `action`) print `Allow`, `ExplicitDeny` or
//!   `ImplicitDeny`, built exactly as `tests/corpus.rs` builds them.
//! * Validation cases (they have a `policy` and a `kind`) print `Valid` or
//!   `Invalid` (whether `Policy::parse` accepts the document for that kind).
//! * A case whose policies do not parse prints `Error` (with `error`).
//!
//! `file` is the file name without directories, so both sides of the
//! differential agree on it regardless of how the paths were given.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use podiam_policy::{Evaluation, Policy, PolicyKind, Principal, RequestContext, evaluate};
use serde_json::{Value, json};

fn policy_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn principal(v: &Value) -> Result<Principal, String> {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut p = match s("type").as_str() {
        "user" => Principal::iam_user(s("arn")),
        "role" => Principal::assumed_role(s("arn"), s("role")),
        "web" => Principal::web_identity(s("provider")),
        "service" => Principal::service(s("name")),
        "anonymous" => Principal::anonymous(),
        "root" => Principal::account_root(s("account")),
        "federated_user" => Principal::federated_user(s("arn")),
        other => return Err(format!("unknown principal type {other:?}")),
    };
    if let Some(u) = v.get("userid").and_then(Value::as_str) {
        p = p.with_userid(u);
    }
    if let Some(c) = v.get("canonical_user").and_then(Value::as_str) {
        p = p.with_canonical_user(c);
    }
    Ok(p)
}

fn parse_all(c: &Value, key: &str, kind: PolicyKind) -> Result<Option<Vec<Policy>>, String> {
    let Some(items) = c.get(key) else {
        return Ok(None);
    };
    // Identity and session policies come as lists; the others as one policy.
    let list: Vec<&Value> = match items {
        Value::Array(a) if matches!(kind, PolicyKind::Identity | PolicyKind::Session) => {
            a.iter().collect()
        }
        other => vec![other],
    };
    list.into_iter()
        .map(|p| Policy::parse(&policy_text(p), kind).map_err(|e| format!("{key}: {e}")))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Evaluates one evaluation case; the decision as text.
fn eval_case(c: &Value) -> Result<String, String> {
    let identity = parse_all(c, "identity", PolicyKind::Identity)?.unwrap_or_default();
    let session = parse_all(c, "session", PolicyKind::Session)?;
    let boundary = parse_all(c, "boundary", PolicyKind::Boundary)?;
    let resource = match parse_all(c, "resource_policy", PolicyKind::Resource)? {
        Some(r) => Some(r),
        None => parse_all(c, "trust", PolicyKind::Trust)?,
    };
    let names: Vec<String> = (0..identity.len())
        .map(|i| format!("identity-{i}"))
        .collect();
    let snames: Vec<String> = (0..session.as_ref().map_or(0, Vec::len))
        .map(|i| format!("session-{i}"))
        .collect();
    let mut eval = Evaluation::new();
    for (n, p) in names.iter().zip(&identity) {
        eval = eval.with_identity(n, p);
    }
    if let Some(s) = &session {
        for (n, p) in snames.iter().zip(s) {
            eval = eval.with_session(n, p);
        }
    }
    if let Some(b) = boundary.as_ref().and_then(|b| b.first()) {
        eval = eval.with_boundary("boundary", b);
    }
    if let Some(r) = resource.as_ref().and_then(|r| r.first()) {
        eval = eval.with_resource("resource", r);
    }
    if let Some(a) = c.get("resource_account").and_then(Value::as_str) {
        eval = eval.with_resource_account(a);
    }
    let mut b = RequestContext::builder(
        principal(&c["principal"])?,
        c["action"].as_str().unwrap_or_default(),
        c["resource"].as_str().unwrap_or_default(),
    );
    if let Some(ctx) = c.get("context").and_then(Value::as_object) {
        for (k, v) in ctx {
            b = match v {
                Value::Array(items) => b.multi_key(
                    k,
                    items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string)),
                ),
                Value::String(s) => b.key(k, s),
                other => b.key(k, other.to_string()),
            };
        }
    }
    let out = evaluate(&eval, &b.build());
    Ok(out.decision.to_string())
}

/// Validates one validation case; `Valid` or `Invalid`.
fn validate_case(c: &Value) -> Result<String, String> {
    let kind = match c["kind"].as_str() {
        Some("identity") => PolicyKind::Identity,
        Some("resource") => PolicyKind::Resource,
        Some("trust") => PolicyKind::Trust,
        Some("session") => PolicyKind::Session,
        Some("boundary") => PolicyKind::Boundary,
        other => return Err(format!("bad kind {other:?}")),
    };
    let ok = Policy::parse(&policy_text(&c["policy"]), kind).is_ok();
    Ok(if ok { "Valid" } else { "Invalid" }.to_string())
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn main() -> ExitCode {
    let mut files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        files = corpus_files();
    }
    let mut status = ExitCode::SUCCESS;
    for path in &files {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cases: Vec<Value> = match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                status = ExitCode::FAILURE;
                continue;
            }
        };
        for c in &cases {
            let name = c["name"].as_str().unwrap_or("?");
            let result = if c.get("action").is_some() {
                eval_case(c)
            } else if c.get("policy").is_some() && c.get("kind").is_some() {
                validate_case(c)
            } else {
                Err("neither an evaluation nor a validation case".to_string())
            };
            let line = match result {
                Ok(decision) => json!({"file": file, "name": name, "decision": decision}),
                Err(error) => {
                    json!({"file": file, "name": name, "decision": "Error", "error": error})
                }
            };
            println!("{line}");
        }
    }
    status
}
