//! The policy engine through `aws iam simulate-custom-policy`,
//! `aws iam simulate-principal-policy`, `podiam policy check` and
//! `podiam policy simulate`.

use super::common::*;
use serde_json::{Value, json};
use std::process::{Command, Output};

/// 1-based (start, end) columns AWS reports for the `n`th top-level
/// statement object of a one-line `doc`: the `{` and one past the `}`.
fn statement_columns(doc: &str, n: usize) -> (usize, usize) {
    let v: Value = serde_json::from_str(doc).unwrap();
    let stmt = serde_json::to_string(&v["Statement"][n]).unwrap();
    let start = doc.find(&stmt).expect("compact statement in doc");
    (start + 1, start + stmt.len() + 1)
}

fn results(v: &Value) -> &Vec<Value> {
    v["EvaluationResults"]
        .as_array()
        .expect("EvaluationResults")
}

#[test]
fn simulate_custom_policy_decisions_statements_and_context() {
    let s = Server::start();
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        {"Sid": "List", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bkt",
         "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}}
    ]})
    .to_string();
    let out = s.aws(&[
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        &doc,
        "--action-names",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:PutObject",
        "--resource-arns",
        "arn:aws:s3:::bkt/report.csv",
        "--context-entries",
        "ContextKeyName=aws:PrincipalTag/team,ContextKeyValues=blue,ContextKeyType=string",
    ]);
    let v = json_out(&out);
    let r = results(&v);
    assert_eq!(r.len(), 3, "{v}");
    let by = |a: &str| r.iter().find(|x| x["EvalActionName"] == a).expect(a);
    let get = by("s3:GetObject");
    assert_eq!(get["EvalDecision"], "allowed");
    assert_eq!(get["EvalResourceName"], "arn:aws:s3:::bkt/report.csv");
    let m = &get["MatchedStatements"];
    assert_eq!(m.as_array().unwrap().len(), 1, "{m}");
    assert_eq!(m[0]["SourcePolicyId"], "PolicyInputList.1");
    assert_eq!(m[0]["SourcePolicyType"], "IAM Policy");
    let (c0, e0) = statement_columns(&doc, 0);
    assert_eq!(m[0]["StartPosition"], json!({"Line": 1, "Column": c0}));
    assert_eq!(m[0]["EndPosition"], json!({"Line": 1, "Column": e0}));
    assert_eq!(get["MissingContextValues"], json!([]));

    let del = by("s3:DeleteObject");
    assert_eq!(del["EvalDecision"], "explicitDeny");
    let (c1, e1) = statement_columns(&doc, 1);
    assert_eq!(
        del["MatchedStatements"][0]["StartPosition"],
        json!({"Line": 1, "Column": c1})
    );
    assert_eq!(
        del["MatchedStatements"][0]["EndPosition"],
        json!({"Line": 1, "Column": e1})
    );
    let put = by("s3:PutObject");
    assert_eq!(put["EvalDecision"], "implicitDeny");
    assert_eq!(put["MatchedStatements"], json!([]));

    // Without the context key: implicitDeny, and the key is reported missing.
    let v = json_out(&s.aws(&[
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        &doc,
        "--action-names",
        "s3:GetObject",
        "--resource-arns",
        "arn:aws:s3:::bkt/report.csv",
    ]));
    let r = &results(&v)[0];
    assert_eq!(r["EvalDecision"], "implicitDeny");
    assert_eq!(r["MissingContextValues"], json!(["aws:PrincipalTag/team"]));
    // The wrong value: implicitDeny, nothing missing.
    let v = json_out(&s.aws(&[
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        &doc,
        "--action-names",
        "s3:GetObject",
        "--resource-arns",
        "arn:aws:s3:::bkt/report.csv",
        "--context-entries",
        "ContextKeyName=aws:PrincipalTag/team,ContextKeyValues=red,ContextKeyType=string",
    ]));
    assert_eq!(results(&v)[0]["EvalDecision"], "implicitDeny");
    assert_eq!(results(&v)[0]["MissingContextValues"], json!([]));
    // A multivalued (stringList) key with ForAnyValue; several resources.
    let v = json_out(&s.aws(&[
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        &doc,
        "--action-names",
        "s3:ListBucket",
        "--resource-arns",
        "arn:aws:s3:::bkt",
        "arn:aws:s3:::other",
        "--context-entries",
        "ContextKeyName=aws:TagKeys,ContextKeyValues=z,b,ContextKeyType=stringList",
    ]));
    let r = results(&v);
    assert_eq!(r.len(), 2, "{v}");
    assert_eq!(
        (&r[0]["EvalResourceName"], &r[0]["EvalDecision"]),
        (&json!("arn:aws:s3:::bkt"), &json!("allowed"))
    );
    assert_eq!(
        (&r[1]["EvalResourceName"], &r[1]["EvalDecision"]),
        (&json!("arn:aws:s3:::other"), &json!("implicitDeny"))
    );

    // The AWS CLI documentation's example: a date context key.
    let dated = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}"#;
    for (when, decision) in [
        ("2019-04-25T11:00:00Z", "allowed"),
        ("2014-04-25T11:00:00Z", "implicitDeny"),
    ] {
        let ctx = format!(
            "ContextKeyName='aws:CurrentTime',ContextKeyValues='{when}',ContextKeyType=date"
        );
        let v = json_out(&s.aws(&[
            "iam",
            "simulate-custom-policy",
            "--policy-input-list",
            dated,
            "--action-names",
            "dynamodb:CreateBackup",
            "--context-entries",
            &ctx,
        ]));
        let r = &results(&v)[0];
        assert_eq!(r["EvalResourceName"], "*");
        assert_eq!(r["EvalDecision"], decision, "{when}: {v}");
        // The documented end column of the example's statement.
        if decision == "allowed" {
            assert_eq!(
                r["MatchedStatements"][0]["EndPosition"],
                json!({"Line": 1, "Column": 167})
            );
        }
    }

    // Malformed input policies.
    let bad = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]}).to_string();
    fails_with(
        &s.aws(&[
            "iam",
            "simulate-custom-policy",
            "--policy-input-list",
            &bad,
            "--action-names",
            "s3:GetObject",
        ]),
        "MalformedPolicyDocument",
    );
    // ActionNames is required (raw: the CLI would refuse).
    let r = s.raw_admin(
        "iam",
        &[
            ("Action", "SimulateCustomPolicy"),
            ("Version", "2010-05-08"),
            ("PolicyInputList.member.1", &doc),
        ],
    );
    let msg = raw_fails_with(&r, 400, "ValidationError");
    assert!(msg.contains("'actionNames'"), "{msg}");
}

#[test]
fn simulate_custom_policy_with_resource_policy_and_boundary() {
    let s = Server::start();
    let bob = "arn:aws:iam::000000000000:user/bob";
    let identity = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    .to_string();
    let unrelated = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]})
    .to_string();
    let rp = |effect: &str| {
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": effect, "Principal": {"AWS": bob},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bkt/*"}]})
        .to_string()
    };
    let sim = |policy: &str, resource_policy: &str, caller: &str| -> Value {
        let v = json_out(&s.aws(&[
            "iam",
            "simulate-custom-policy",
            "--policy-input-list",
            policy,
            "--action-names",
            "s3:GetObject",
            "--resource-arns",
            "arn:aws:s3:::bkt/k",
            "--resource-policy",
            resource_policy,
            "--caller-arn",
            caller,
        ]));
        results(&v)[0].clone()
    };
    // A Deny in the resource policy naming the caller wins.
    let r = sim(&identity, &rp("Deny"), bob);
    assert_eq!(r["EvalDecision"], "explicitDeny", "{r}");
    let ids: Vec<(&Value, &Value)> = r["MatchedStatements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (&m["SourcePolicyId"], &m["SourcePolicyType"]))
        .collect();
    assert!(
        ids.contains(&(&json!("ResourcePolicy"), &json!("resource"))),
        "{r}"
    );
    // …but not for another caller.
    let r = sim(
        &identity,
        &rp("Deny"),
        "arn:aws:iam::000000000000:user/alice",
    );
    assert_eq!(r["EvalDecision"], "allowed", "{r}");
    // Same account: a resource policy Allow naming the user is enough.
    let r = sim(&unrelated, &rp("Allow"), bob);
    assert_eq!(r["EvalDecision"], "allowed", "{r}");
    assert_eq!(
        r["MatchedStatements"][0]["SourcePolicyId"],
        "ResourcePolicy"
    );
    let r = sim(
        &unrelated,
        &rp("Allow"),
        "arn:aws:iam::000000000000:user/alice",
    );
    assert_eq!(r["EvalDecision"], "implicitDeny", "{r}");

    // A permissions boundary that does not allow the action.
    let boundary = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]})
    .to_string();
    let v = json_out(&s.aws(&[
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        &identity,
        "--permissions-boundary-policy-input-list",
        &boundary,
        "--action-names",
        "s3:GetObject",
        "s3:ListBucket",
    ]));
    let r = results(&v);
    assert_eq!(r[0]["EvalDecision"], "implicitDeny");
    assert_eq!(
        r[0]["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"],
        false
    );
    // Allowed by the boundary, but no identity policy allows it.
    assert_eq!(r[1]["EvalDecision"], "implicitDeny");
}

#[test]
fn simulate_principal_policy_for_a_role() {
    let s = Server::start();
    let t = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let f = s.json_file("trust", &t);
    ok(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "app",
        "--assume-role-policy-document",
        &f,
    ]));
    let inline = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]});
    let f = s.json_file("inline", &inline);
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "writes",
        "--policy-document",
        &f,
    ]));
    ok(&s.aws(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        "app",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    ]));
    let role = "arn:aws:iam::000000000000:role/app";
    let sim = |actions: &[&str]| -> Value {
        let mut args = vec![
            "iam",
            "simulate-principal-policy",
            "--policy-source-arn",
            role,
            "--action-names",
        ];
        args.extend_from_slice(actions);
        json_out(&s.aws(&args))
    };
    let v = sim(&[
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "iam:ListRoles",
    ]);
    let d: Vec<&Value> = results(&v).iter().map(|r| &r["EvalDecision"]).collect();
    assert_eq!(
        d,
        [
            &json!("allowed"),
            &json!("allowed"),
            &json!("explicitDeny"),
            &json!("implicitDeny")
        ],
        "{v}"
    );
    assert_eq!(results(&v)[3]["MatchedStatements"], json!([]));

    // Extra policies in PolicyInputList are added to the role's.
    let extra = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}]})
    .to_string();
    let v = json_out(&s.aws(&[
        "iam",
        "simulate-principal-policy",
        "--policy-source-arn",
        role,
        "--action-names",
        "iam:ListRoles",
        "--policy-input-list",
        &extra,
    ]));
    assert_eq!(results(&v)[0]["EvalDecision"], "allowed", "{v}");

    // A boundary limits the role's own policies.
    ok(&s.aws(&[
        "iam",
        "put-role-permissions-boundary",
        "--role-name",
        "app",
        "--permissions-boundary",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    ]));
    let v = sim(&["s3:GetObject", "s3:PutObject"]);
    let r = results(&v);
    assert_eq!(r[0]["EvalDecision"], "allowed");
    assert_eq!(r[1]["EvalDecision"], "implicitDeny");
    assert_eq!(
        r[1]["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"],
        false
    );
    let v = json_out(&s.aws(&[
        "iam",
        "simulate-principal-policy",
        "--policy-source-arn",
        role,
        "--action-names",
        "iam:ListRoles",
        "--policy-input-list",
        &extra,
    ]));
    assert_eq!(
        results(&v)[0]["EvalDecision"],
        "implicitDeny",
        "boundary: {v}"
    );

    let err = fails_with(
        &s.aws(&[
            "iam",
            "simulate-principal-policy",
            "--policy-source-arn",
            "arn:aws:iam::000000000000:role/nope",
            "--action-names",
            "s3:GetObject",
        ]),
        "NoSuchEntity",
    );
    assert!(err.contains("arn:aws:iam::000000000000:role/nope"), "{err}");
}

/// Real AWS SimulatePrincipalPolicy answers name a managed policy by its
/// name and an inline role policy as `role_<RoleName>_<PolicyName>`, both
/// with `SourcePolicyType` "IAM Policy"; with resource `*` there is no
/// `EvalDecisionDetails`.
#[test]
fn simulate_principal_policy_source_ids_match_aws() {
    let s = Server::start();
    let f = s.json_file(
        "trust",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    );
    ok(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "app",
        "--assume-role-policy-document",
        &f,
    ]));
    let f = s.json_file(
        "inline",
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}),
    );
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "writes",
        "--policy-document",
        &f,
    ]));
    ok(&s.aws(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        "app",
        "--policy-arn",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    ]));
    let v = json_out(&s.aws(&[
        "iam",
        "simulate-principal-policy",
        "--policy-source-arn",
        "arn:aws:iam::000000000000:role/app",
        "--action-names",
        "s3:GetObject",
        "s3:PutObject",
    ]));
    let r = results(&v);
    let m = |i: usize| &r[i]["MatchedStatements"][0];
    assert_eq!(
        (&m(0)["SourcePolicyId"], &m(0)["SourcePolicyType"]),
        (&json!("AmazonS3ReadOnlyAccess"), &json!("IAM Policy")),
        "{v}"
    );
    assert_eq!(
        (&m(1)["SourcePolicyId"], &m(1)["SourcePolicyType"]),
        (&json!("role_app_writes"), &json!("IAM Policy")),
        "{v}"
    );
    assert!(r[0].get("EvalDecisionDetails").is_none(), "{v}");
}

/// `SimulateCustomPolicy`'s model: "CallerArn is required if you include a
/// ResourcePolicy".
#[test]
fn simulate_custom_policy_resource_policy_requires_caller_arn() {
    let s = Server::start();
    let identity = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    .to_string();
    let rp = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/bob"},
        "Action": "s3:GetObject", "Resource": "*"}]})
    .to_string();
    fails_with(
        &s.aws(&[
            "iam",
            "simulate-custom-policy",
            "--policy-input-list",
            &identity,
            "--action-names",
            "s3:GetObject",
            "--resource-policy",
            &rp,
        ]),
        "InvalidInput",
    );
}

fn podiam(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("podiam")
}

fn write(dir: &std::path::Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn podiam_policy_check() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.json",
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}),
    );
    let out = podiam(&["policy", "check", &good]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("OK") && stdout.contains("2 statements"),
        "{stdout}"
    );

    let cases = [
        (
            "effect.json",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]}),
            "identity",
            "",
        ),
        (
            "principal.json",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}),
            "identity",
            "Policy document should not specify a principal.",
        ),
        (
            "trust.json",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole", "Resource": "*"}]}),
            "trust",
            "Has prohibited field Resource.",
        ),
    ];
    for (name, doc, kind, msg) in cases {
        let f = write(dir.path(), name, &doc);
        let out = podiam(&["policy", "check", "--kind", kind, &f]);
        assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("MalformedPolicyDocument"), "{name}: {err}");
        assert!(err.contains(msg), "{name}: {err}");
    }
    // Not JSON at all.
    let f = dir.path().join("broken.json");
    std::fs::write(&f, r#"{"Version": "2012-10-17", "Statement": ["#).unwrap();
    let out = podiam(&["policy", "check", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("MalformedPolicyDocument: Syntax errors in policy."),
        "{out:?}"
    );
    // The same trust policy is fine as a trust policy without Resource.
    let f = write(
        dir.path(),
        "trust-ok.json",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    );
    let out = podiam(&["policy", "check", "--kind", "trust", &f]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// Runs `podiam policy simulate --json`; returns (decision, explanation).
fn simulate(args: &[&str]) -> (String, Value) {
    let mut all = vec!["policy", "simulate", "--json"];
    all.extend_from_slice(args);
    let out = podiam(&all);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let obj = v.as_object().expect("object");
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        ["decision", "explanation"],
        "{v}"
    );
    let d = v["decision"].as_str().unwrap().to_string();
    assert!(
        ["Allow", "ExplicitDeny", "ImplicitDeny"].contains(&d.as_str()),
        "{v}"
    );
    assert_eq!(v["explanation"]["decision"], d.as_str(), "{v}");
    (d, v["explanation"].clone())
}

#[test]
fn podiam_policy_simulate() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str, v: Value| write(dir.path(), name, &v);
    let all_s3 = p(
        "all.json",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
    );
    let list_only = p(
        "list.json",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}),
    );
    let tagged = p(
        "tagged.json",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"},
                          "ForAnyValue:StringLike": {"aws:TagKeys": "proj-*"}}}]}),
    );
    let bucket = p(
        "bucket.json",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret/*"}]}),
    );
    let trust = p(
        "trust.json",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:role/app"}, "Action": "sts:AssumeRole"}]}),
    );
    let obj = "arn:aws:s3:::b/k";

    let (d, e) = simulate(&[
        "--policy",
        &all_s3,
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(d, "Allow");
    assert_eq!(e["deciding_policy_type"], "identity");
    assert_eq!(e["policies"][0]["statements"][0]["matched"], true, "{e}");
    let (d, _) = simulate(&[
        "--policy",
        &list_only,
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(d, "ImplicitDeny");
    // No policy at all.
    let (d, _) = simulate(&["--action", "s3:GetObject", "--resource", obj]);
    assert_eq!(d, "ImplicitDeny");

    // --session-policy and --boundary intersect with the identity policy.
    let (d, e) = simulate(&[
        "--policy",
        &all_s3,
        "--session-policy",
        &list_only,
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(
        (d.as_str(), &e["deciding_policy_type"]),
        ("ImplicitDeny", &json!("session"))
    );
    let (d, _) = simulate(&[
        "--policy",
        &all_s3,
        "--session-policy",
        &list_only,
        "--action",
        "s3:ListBucket",
        "--resource",
        "arn:aws:s3:::b",
    ]);
    assert_eq!(d, "Allow");
    let (d, e) = simulate(&[
        "--policy",
        &all_s3,
        "--boundary",
        &list_only,
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(
        (d.as_str(), &e["deciding_policy_type"]),
        ("ImplicitDeny", &json!("boundary"))
    );

    // --resource-policy: an explicit Deny wins over the identity Allow.
    let (d, e) = simulate(&[
        "--policy",
        &all_s3,
        "--resource-policy",
        &bucket,
        "--action",
        "s3:GetObject",
        "--resource",
        "arn:aws:s3:::b/secret/x",
    ]);
    assert_eq!(
        (d.as_str(), &e["deciding_policy_type"]),
        ("ExplicitDeny", &json!("resource"))
    );
    let (d, _) = simulate(&[
        "--policy",
        &all_s3,
        "--resource-policy",
        &bucket,
        "--action",
        "s3:GetObject",
        "--resource",
        "arn:aws:s3:::b/public/x",
    ]);
    assert_eq!(d, "Allow");

    // --trust-policy with --principal.
    let target = "arn:aws:iam::111111111111:role/target";
    let (d, e) = simulate(&[
        "--trust-policy",
        &trust,
        "--principal",
        "arn:aws:iam::111111111111:role/app",
        "--action",
        "sts:AssumeRole",
        "--resource",
        target,
    ]);
    assert_eq!(
        (d.as_str(), &e["deciding_policy_type"]),
        ("Allow", &json!("trust"))
    );
    let (d, _) = simulate(&[
        "--trust-policy",
        &trust,
        "--principal",
        "arn:aws:sts::111111111111:assumed-role/app/session-1",
        "--action",
        "sts:AssumeRole",
        "--resource",
        target,
    ]);
    assert_eq!(d, "Allow");
    let (d, _) = simulate(&[
        "--trust-policy",
        &trust,
        "--principal",
        "arn:aws:iam::111111111111:role/other",
        "--action",
        "sts:AssumeRole",
        "--resource",
        target,
    ]);
    assert_eq!(d, "ImplicitDeny");

    // Cross-account (IAM User Guide, "Cross-account policy evaluation
    // logic"): the caller's identity policy alone is not enough, the
    // resource owner must grant access too.
    let other = "arn:aws:sts::222222222222:assumed-role/app/s";
    let (d, e) = simulate(&[
        "--policy",
        &all_s3,
        "--principal",
        other,
        "--resource-account",
        "111111111111",
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(d, "ImplicitDeny", "{e}");
    let grant = p(
        "grant.json",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}),
    );
    let (d, _) = simulate(&[
        "--policy",
        &all_s3,
        "--resource-policy",
        &grant,
        "--principal",
        other,
        "--resource-account",
        "111111111111",
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(d, "Allow");
    // Without --resource-account, an S3 ARN (no account in it) belongs to
    // the principal's account: the identity policy decides.
    let (d, _) = simulate(&[
        "--policy",
        &all_s3,
        "--principal",
        other,
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(d, "Allow");
    // The owner's grant without the caller's own identity policy: denied.
    let (d, _) = simulate(&[
        "--resource-policy",
        &grant,
        "--principal",
        other,
        "--resource-account",
        "111111111111",
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(d, "ImplicitDeny");

    // --context-file: strings and lists.
    let ctx = p(
        "ctx.json",
        json!({"aws:PrincipalTag/team": "blue", "aws:TagKeys": ["x", "proj-a"]}),
    );
    let (d, _) = simulate(&[
        "--policy",
        &tagged,
        "--context-file",
        &ctx,
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(d, "Allow");
    let wrong = p(
        "wrong.json",
        json!({"aws:PrincipalTag/team": "red", "aws:TagKeys": ["proj-a"]}),
    );
    let (d, _) = simulate(&[
        "--policy",
        &tagged,
        "--context-file",
        &wrong,
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(d, "ImplicitDeny");
    let (d, e) = simulate(&[
        "--policy",
        &tagged,
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(d, "ImplicitDeny");
    assert!(
        e["policies"][0]["statements"][0]["mismatch"].is_object(),
        "{e}"
    );

    // Text mode: the decision on the first line.
    let out = podiam(&[
        "policy",
        "simulate",
        "--policy",
        &all_s3,
        "--action",
        "s3:GetObject",
        "--resource",
        obj,
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().next(),
        Some("Allow")
    );
    // Errors: a malformed input policy, exclusive flags.
    let bad = p(
        "bad.json",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]}),
    );
    let out = podiam(&[
        "policy",
        "simulate",
        "--policy",
        &bad,
        "--action",
        "s3:GetObject",
    ]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("MalformedPolicyDocument"),
        "{out:?}"
    );
    let out = podiam(&[
        "policy",
        "simulate",
        "--resource-policy",
        &bucket,
        "--trust-policy",
        &trust,
        "--action",
        "s3:GetObject",
    ]);
    assert!(!out.status.success(), "{out:?}");
}
