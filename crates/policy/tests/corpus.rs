//! Table-driven corpus derived from IAM User Guide examples.
//!
//! `tests/corpus/evaluation.json`: each case names the User Guide page it is
//! taken from (`cite`), the policies (identity, boundary, session, resource
//! policy or trust policy), the caller, action, resource and context keys, and
//! the expected decision. `tests/corpus/validation.json`: policy documents with
//! the expected `MalformedPolicyDocument` message (or `null` = valid).

use podiam_policy::{
    Decision, Evaluation, Policy, PolicyKind, Principal, RequestContext, evaluate,
};
use serde_json::Value;

fn policy_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn principal(v: &Value) -> Principal {
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
        other => panic!("unknown principal type {other}"),
    };
    if let Some(u) = v.get("userid").and_then(Value::as_str) {
        p = p.with_userid(u);
    }
    if let Some(c) = v.get("canonical_user").and_then(Value::as_str) {
        p = p.with_canonical_user(c);
    }
    p
}

fn parse(v: &Value, kind: PolicyKind, name: &str) -> Policy {
    Policy::parse(&policy_text(v), kind)
        .unwrap_or_else(|e| panic!("case {name:?}: policy did not parse: {e}\n{v}"))
}

#[test]
fn evaluation_corpus() {
    let text = include_str!("corpus/evaluation.json");
    let cases: Vec<Value> = serde_json::from_str(text).expect("corpus is JSON");
    assert!(cases.len() >= 200, "corpus too small: {}", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().unwrap_or("?");
        assert!(
            c["cite"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: missing cite"
        );
        let identity: Vec<Policy> = c
            .get("identity")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|p| parse(p, PolicyKind::Identity, name))
                    .collect()
            })
            .unwrap_or_default();
        let session: Option<Vec<Policy>> = c.get("session").and_then(Value::as_array).map(|a| {
            a.iter()
                .map(|p| parse(p, PolicyKind::Session, name))
                .collect()
        });
        let boundary = c
            .get("boundary")
            .map(|p| parse(p, PolicyKind::Boundary, name));
        let resource = c
            .get("resource_policy")
            .map(|p| parse(p, PolicyKind::Resource, name))
            .or_else(|| c.get("trust").map(|p| parse(p, PolicyKind::Trust, name)));
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
        if let Some(b) = &boundary {
            eval = eval.with_boundary("boundary", b);
        }
        if let Some(r) = &resource {
            eval = eval.with_resource("resource", r);
        }
        if let Some(a) = c.get("resource_account").and_then(Value::as_str) {
            eval = eval.with_resource_account(a);
        }
        let mut b = RequestContext::builder(
            principal(&c["principal"]),
            c["action"].as_str().unwrap_or_default(),
            c["resource"].as_str().unwrap_or_default(),
        );
        if let Some(ctx) = c.get("context").and_then(Value::as_object) {
            for (k, v) in ctx {
                b = match v {
                    Value::Array(items) => {
                        b.multi_key(k, items.iter().map(|i| i.as_str().unwrap_or_default()))
                    }
                    Value::String(s) => b.key(k, s),
                    other => b.key(k, other.to_string()),
                };
            }
        }
        let ctx = b.build();
        let out = evaluate(&eval, &ctx);
        let expect = match c["expect"].as_str() {
            Some("Allow") => Decision::Allow,
            Some("ExplicitDeny") => Decision::ExplicitDeny,
            Some("ImplicitDeny") => Decision::ImplicitDeny,
            other => panic!("{name}: bad expect {other:?}"),
        };
        if out.decision != expect {
            failures.push(format!(
                "{name} [{}]: expected {expect}, got {}\n{}",
                c["cite"].as_str().unwrap_or_default(),
                out.decision,
                out.explanation
            ));
        }
        assert_eq!(out.explanation.decision, out.decision);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn validation_corpus() {
    let text = include_str!("corpus/validation.json");
    let cases: Vec<Value> = serde_json::from_str(text).expect("corpus is JSON");
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().unwrap_or("?");
        assert!(
            c["cite"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: missing cite"
        );
        let kind = match c["kind"].as_str() {
            Some("identity") => PolicyKind::Identity,
            Some("resource") => PolicyKind::Resource,
            Some("trust") => PolicyKind::Trust,
            Some("session") => PolicyKind::Session,
            Some("boundary") => PolicyKind::Boundary,
            other => panic!("{name}: bad kind {other:?}"),
        };
        let doc = policy_text(&c["policy"]);
        let got = Policy::parse(&doc, kind).err().map(|e| e.to_string());
        let want = c["error"].as_str().map(str::to_string);
        if got != want {
            failures.push(format!("{name}: expected {want:?}, got {got:?}\n{doc}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
