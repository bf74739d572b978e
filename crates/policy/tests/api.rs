//! API-level tests: the four consumer scenarios, explanations (data, Display,
//! serde), simulate helpers, errors and context behaviour.

use podiam_policy::{
    ContextValue, Decision, Evaluation, Mismatch, Policy, PolicyErrorKind, PolicyKind, PolicyType,
    Position, Principal, PrincipalScope, RequestContext, decide, evaluate, policy_size,
};

const ACCT: &str = "111122223333";
const PROVIDER: &str =
    "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE";
const ROLE: &str = "arn:aws:iam::111122223333:role/app";

fn p(json: &str, kind: PolicyKind) -> Policy {
    Policy::parse(json, kind).expect("valid policy")
}

/// Consumer 1 — IRSA (IAM User Guide, "Create a role for OpenID Connect
/// federation"; EKS User Guide, "IAM roles for service accounts").
#[test]
fn consumer_irsa() {
    let trust = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"},
        "Action":"sts:AssumeRoleWithWebIdentity",
        "Condition":{"StringEquals":{
          "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:sub":"system:serviceaccount:default:my-sa",
          "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:aud":"sts.amazonaws.com"}}}]}"#,
        PolicyKind::Trust,
    );
    let ctx = |sub: &str| {
        RequestContext::builder(
            Principal::web_identity(PROVIDER),
            "sts:AssumeRoleWithWebIdentity",
            ROLE,
        )
        .key("oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:sub", sub)
        .key(
            "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:aud",
            "sts.amazonaws.com",
        )
        .build()
    };
    let eval = Evaluation::trust(ROLE, &trust);
    assert_eq!(
        decide(&eval, &ctx("system:serviceaccount:default:my-sa")),
        Decision::Allow
    );
    let out = evaluate(&eval, &ctx("system:serviceaccount:default:other"));
    assert_eq!(out.decision, Decision::ImplicitDeny);
    assert_eq!(
        out.explanation.deciding_policy_type,
        Some(PolicyType::Trust)
    );
    assert!(
        out.explanation
            .summary
            .contains("no statement in the trust policy"),
        "{}",
        out.explanation.summary
    );
    let st = &out.explanation.policies[0].statements[0];
    assert_eq!(
        st.mismatch,
        Some(Mismatch::Condition {
            key: "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:sub".into(),
            operator: "StringEquals".into(),
            expected: vec!["system:serviceaccount:default:my-sa".into()],
            actual: Some(vec!["system:serviceaccount:default:other".into()]),
        })
    );
}

/// Consumer 2 — EKS Pod Identity (EKS User Guide, "pod-id-role", "pod-id-abac").
#[test]
fn consumer_pod_identity() {
    let trust = p(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowEksAuthToAssumeRoleForPodIdentity",
        "Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},
        "Action":["sts:AssumeRole","sts:TagSession"],
        "Condition":{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"prod"}}}]}"#,
        PolicyKind::Trust,
    );
    for action in ["sts:AssumeRole", "sts:TagSession"] {
        let ctx =
            RequestContext::builder(Principal::service("pods.eks.amazonaws.com"), action, ROLE)
                .key("aws:RequestTag/kubernetes-namespace", "prod")
                .key("aws:RequestTag/kubernetes-service-account", "api")
                .multi_key(
                    "aws:TagKeys",
                    ["kubernetes-namespace", "kubernetes-service-account"],
                )
                .build();
        assert_eq!(
            decide(&Evaluation::trust(ROLE, &trust), &ctx),
            Decision::Allow,
            "{action}"
        );
    }
}

/// Consumer 3 — same-account and cross-account AssumeRole (IAM User Guide,
/// "Policy evaluation logic", "Cross-account policy evaluation logic").
#[test]
fn consumer_assume_role() {
    let names_user = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}]}"#,
        PolicyKind::Trust,
    );
    let names_account = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}]}"#,
        PolicyKind::Trust,
    );
    let identity = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",
        "Resource":"arn:aws:iam::111122223333:role/app"}]}"#,
        PolicyKind::Identity,
    );
    let ctx = RequestContext::builder(
        Principal::iam_user("arn:aws:iam::111122223333:user/alice"),
        "sts:AssumeRole",
        ROLE,
    )
    .build();
    assert_eq!(
        decide(&Evaluation::trust("t", &names_user), &ctx),
        Decision::Allow
    );
    let out = evaluate(&Evaluation::trust("t", &names_account), &ctx);
    assert_eq!(out.decision, Decision::ImplicitDeny);
    assert!(
        out.explanation.summary.contains("names only the account"),
        "{}",
        out.explanation.summary
    );
    assert_eq!(
        out.explanation.policies[0].statements[0].principal_scope,
        Some(PrincipalScope::Account)
    );
    let eval = Evaluation::trust("t", &names_account).with_identity("id", &identity);
    assert_eq!(decide(&eval, &ctx), Decision::Allow);
}

/// Consumer 4 — S3 authorization with identity ∩ boundary ∩ session plus a
/// bucket policy (IAM User Guide, "Permissions boundaries for IAM entities").
#[test]
fn consumer_s3() {
    let identity = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        PolicyKind::Identity,
    );
    let boundary = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}"#,
        PolicyKind::Boundary,
    );
    let session = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
        "Resource":"arn:aws:s3:::bucket/public/*"}]}"#,
        PolicyKind::Session,
    );
    let bucket = p(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Role","Effect":"Allow",
        "Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"s3:GetObject",
        "Resource":"arn:aws:s3:::bucket/*"}]}"#,
        PolicyKind::Resource,
    );
    let principal = Principal::assumed_role("arn:aws:sts::111122223333:assumed-role/app/s1", ROLE);
    let ctx = |key: &str| {
        RequestContext::builder(
            principal.clone(),
            "s3:GetObject",
            format!("arn:aws:s3:::bucket/{key}"),
        )
        .build()
    };
    let eval = Evaluation::new()
        .with_identity("arn:aws:iam::111122223333:policy/s3", &identity)
        .with_boundary("arn:aws:iam::111122223333:policy/boundary", &boundary)
        .with_session("inline-session", &session)
        .with_resource("bucket", &bucket)
        .with_resource_account(ACCT);
    assert_eq!(decide(&eval, &ctx("public/a")), Decision::Allow);
    let out = evaluate(&eval, &ctx("private/a"));
    assert_eq!(out.decision, Decision::ImplicitDeny);
    assert_eq!(
        out.explanation.deciding_policy_type,
        Some(PolicyType::Session)
    );
    assert!(
        out.explanation.summary.contains("session policy"),
        "{}",
        out.explanation.summary
    );
}

#[test]
fn explanation_display_is_stable() {
    let policy = p(
        r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
  {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}
]}"#,
        PolicyKind::Identity,
    );
    let ctx = RequestContext::builder(
        Principal::iam_user("arn:aws:iam::111122223333:user/alice"),
        "s3:PutObject",
        "arn:aws:s3:::b/k",
    )
    .key("aws:SourceIp", "192.0.2.1")
    .build();
    let out = evaluate(&Evaluation::new().with_identity("ReadOnly", &policy), &ctx);
    let expected = "decision: ImplicitDeny
reason: no statement in the identity policies allows s3:PutObject on arn:aws:s3:::b/k
identity policy \"ReadOnly\": no match
  [0] Sid \"Read\" Allow: action did not match
  [1] Deny: condition aws:SourceIp IpAddress expected [\"10.0.0.0/8\"] got [\"192.0.2.1\"]
";
    assert_eq!(out.explanation.to_string(), expected);

    let json = serde_json::to_value(&out).expect("serializable");
    assert_eq!(json["decision"], "ImplicitDeny");
    assert_eq!(
        json["explanation"]["policies"][0]["policy_type"],
        "identity"
    );
    assert_eq!(
        json["explanation"]["policies"][0]["statements"][1]["mismatch"]["element"],
        "condition"
    );
    assert_eq!(
        json["explanation"]["policies"][0]["statements"][0]["mismatch"]["element"],
        "action"
    );
}

#[test]
fn matched_statements_for_simulation() {
    let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}\n  ]\n}";
    let policy = p(text, PolicyKind::Identity);
    let ctx = RequestContext::builder(
        Principal::iam_user("arn:aws:iam::1:user/a"),
        "s3:GetObject",
        "*",
    )
    .build();
    let out = evaluate(&Evaluation::new().with_identity("policy-1", &policy), &ctx);
    let m = out.explanation.matched_statements();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].source_policy_id, "policy-1");
    assert_eq!(m[0].source_policy_type, PolicyType::Identity);
    assert_eq!(m[0].start_position, Position { line: 4, column: 5 });
    assert_eq!(
        m[0].end_position,
        Position {
            line: 4,
            column: 59
        }
    );
    let infos = policy.statements();
    assert_eq!(infos[0].start, m[0].start_position);
}

#[test]
fn explicit_deny_explanation_names_policy_and_sid() {
    let policy = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
        {"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#,
        PolicyKind::Identity,
    );
    let ctx = RequestContext::builder(
        Principal::iam_user("arn:aws:iam::1:user/a"),
        "s3:deleteobject",
        "arn:aws:s3:::b/k",
    )
    .build();
    let out = evaluate(&Evaluation::new().with_identity("Admin", &policy), &ctx);
    assert_eq!(out.decision, Decision::ExplicitDeny);
    assert_eq!(
        out.explanation.summary,
        "explicitly denied by identity policy \"Admin\" (statement \"NoDelete\")"
    );
}

#[test]
fn boundary_reason() {
    let identity = p(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        PolicyKind::Identity,
    );
    let boundary = p(
        r#"{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#,
        PolicyKind::Boundary,
    );
    let ctx = RequestContext::builder(
        Principal::iam_user("arn:aws:iam::1:user/a"),
        "s3:GetObject",
        "*",
    )
    .build();
    let out = evaluate(
        &Evaluation::new()
            .with_identity("i", &identity)
            .with_boundary("b", &boundary),
        &ctx,
    );
    assert_eq!(out.decision, Decision::ImplicitDeny);
    assert_eq!(
        out.explanation.summary,
        "allowed by identity policy, but no statement in the permissions boundary allows it"
    );
}

#[test]
fn errors_are_structured() {
    let e = Policy::parse(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Principal":"*"}]}"#,
        PolicyKind::Identity,
    )
    .expect_err("principal not allowed");
    assert_eq!(e.kind(), &PolicyErrorKind::PrincipalNotAllowed);
    assert_eq!(
        e.to_string(),
        "Policy document should not specify a principal."
    );
    let e = Policy::parse_with_limit(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        PolicyKind::Identity,
        Some(10),
    )
    .expect_err("too big");
    assert_eq!(
        e.kind(),
        &PolicyErrorKind::PolicySize {
            quota: "PolicySize".into(),
            limit: 10
        }
    );
    assert!(Policy::parse_with_limit(&format!("{{\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}}]}}{}", " ".repeat(9000)), PolicyKind::Identity, None).is_ok());
    assert_eq!(policy_size("{ \"a\" :\n 1 }"), 7);
}

#[test]
fn context_keys_case_insensitive_and_values() {
    let ctx = RequestContext::builder(
        Principal::iam_user("arn:aws:iam::111122223333:user/path/alice"),
        "s3:GetObject",
        "*",
    )
    .key("aws:PrincipalTag/Team", "red")
    .empty_key("aws:TagKeys")
    .build();
    assert_eq!(
        ctx.get("AWS:PRINCIPALTAG/team"),
        Some(&ContextValue::Single("red".into()))
    );
    assert_eq!(
        ctx.get("aws:tagkeys").map(ContextValue::is_empty),
        Some(true)
    );
    assert_eq!(
        ctx.get("aws:username"),
        Some(&ContextValue::Single("alice".into()))
    );
    assert_eq!(
        ctx.get("aws:PrincipalAccount"),
        Some(&ContextValue::Single(ACCT.into()))
    );
    let ctx = RequestContext::builder(Principal::anonymous(), "s3:GetObject", "*")
        .derive_principal_keys(false)
        .build();
    assert!(ctx.get("aws:userid").is_none());
}

#[test]
fn policy_is_send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_traits::<Policy>();
    assert_traits::<RequestContext>();
    let pol = p(
        r#"{"Version":"2008-10-17","Id":"x","Statement":{"Sid":"1","Effect":"Allow","Action":"*","Resource":"*"}}"#,
        PolicyKind::Identity,
    );
    assert_eq!(pol.id(), Some("x"));
    assert_eq!(pol.version(), podiam_policy::Version::V2008_10_17);
    assert_eq!(pol.statement_count(), 1);
    assert_eq!(pol.kind(), PolicyKind::Identity);
}

#[test]
fn reads_key_prefix_sees_every_condition_key() {
    let tagged = p(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
            {"Effect":"Deny","Action":"s3:GetObject","Resource":"*",
             "Condition":{"StringEquals":{"aws:SourceVpc":"v"},"ForAnyValue:StringLike":{"S3:ExistingObjectTag/team":"x"}}}]}"#,
        PolicyKind::Identity,
    );
    assert!(tagged.reads_key_prefix("s3:existingobjecttag/"));
    assert!(tagged.reads_key_prefix("s3:ExistingObjectTag/"));
    assert!(!tagged.reads_key_prefix("s3:RequestObjectTag/"));
    let plain = p(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        PolicyKind::Identity,
    );
    assert!(!plain.reads_key_prefix("s3:existingobjecttag/"));
}
