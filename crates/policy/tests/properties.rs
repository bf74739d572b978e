//! Property tests: order independence, monotonicity of Deny, wildcard matcher
//! vs a regex reference, and "no panic on arbitrary input".

use podiam_policy::{
    Decision, Evaluation, Policy, PolicyKind, Principal, RequestContext, RequestContextBuilder,
    decide, evaluate, wildcard_match,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:Get*",
    "s3:*",
    "*",
    "iam:*",
    "S3:getobject",
    "ec2:?escribe*",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/${aws:username}/*",
    "arn:aws:s3:::other/*",
    "arn:aws:s3:::b*",
];

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(
            json!({"StringEquals": {"aws:PrincipalTag/team": "red"}})
        )),
        Just(Some(
            json!({"StringNotEquals": {"aws:PrincipalTag/team": "red"}})
        )),
        Just(Some(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))),
        Just(Some(json!({"Bool": {"aws:SecureTransport": "false"}}))),
        Just(Some(
            json!({"ForAllValues:StringLike": {"aws:TagKeys": "a*"}})
        )),
        Just(Some(json!({"Null": {"aws:TokenIssueTime": "true"}}))),
    ]
}

fn statement() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::sample::subsequence(ACTIONS, 1..3),
        prop::sample::subsequence(RESOURCES, 1..3),
        any::<bool>(),
        condition(),
    )
        .prop_map(
            |(allow, not_action, actions, resources, not_resource, cond)| {
                let mut s = serde_json::Map::new();
                s.insert("Effect".into(), json!(if allow { "Allow" } else { "Deny" }));
                s.insert(
                    (if not_action { "NotAction" } else { "Action" }).into(),
                    json!(actions),
                );
                s.insert(
                    (if not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    })
                    .into(),
                    json!(resources),
                );
                if let Some(c) = cond {
                    s.insert("Condition".into(), c);
                }
                Value::Object(s)
            },
        )
}

fn context() -> impl Strategy<Value = RequestContext> {
    context_builder().prop_map(|b| b.build())
}

fn context_builder() -> impl Strategy<Value = RequestContextBuilder> {
    (
        prop::sample::select(vec![
            "s3:GetObject",
            "s3:PutObject",
            "iam:CreateUser",
            "ec2:DescribeInstances",
        ]),
        prop::sample::select(vec![
            "arn:aws:s3:::b/alice/x",
            "arn:aws:s3:::other/k",
            "arn:aws:s3:::b",
            "*",
        ]),
        prop::option::of(prop::sample::select(vec!["red", "blue"])),
        prop::option::of(prop::sample::select(vec!["10.1.2.3", "192.0.2.1"])),
        prop::option::of(prop::collection::vec(
            prop::sample::select(vec!["a1", "b2"]),
            0..3,
        )),
    )
        .prop_map(|(action, resource, team, ip, tags)| {
            let mut b = RequestContext::builder(
                Principal::iam_user("arn:aws:iam::111122223333:user/alice"),
                action,
                resource,
            )
            .key("aws:SecureTransport", "true");
            if let Some(t) = team {
                b = b.key("aws:PrincipalTag/team", t);
            }
            if let Some(ip) = ip {
                b = b.key("aws:SourceIp", ip);
            }
            if let Some(tags) = tags {
                b = b.multi_key("aws:TagKeys", tags);
            }
            b
        })
}

fn policy(stmts: &[Value]) -> Policy {
    let doc = json!({"Version": "2012-10-17", "Statement": stmts});
    Policy::parse(&doc.to_string(), PolicyKind::Identity).expect("generated policy parses")
}

fn decision(stmts: &[Value], ctx: &RequestContext) -> Decision {
    let p = policy(stmts);
    let d = decide(&Evaluation::new().with_identity("p", &p), ctx);
    // `evaluate` and `decide` must agree.
    assert_eq!(
        evaluate(&Evaluation::new().with_identity("p", &p), ctx).decision,
        d
    );
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A context holding only the keys the policy reads decides, and
    /// explains, exactly as the full context does.
    #[test]
    fn only_the_keys_a_policy_reads_matter(stmts in prop::collection::vec(statement(), 1..6), b in context_builder()) {
        let p = policy(&stmts);
        let eval = Evaluation::new().with_identity("p", &p);
        let full = evaluate(&eval, &b.clone().build());
        let only = evaluate(&eval, &b.build_for(|k| p.reads_key(k)));
        prop_assert_eq!(full, only);
    }

    /// Policy evaluation logic: statement order never matters.
    #[test]
    fn order_independent(stmts in prop::collection::vec(statement(), 1..6), ctx in context(), seed in any::<u64>()) {
        let mut shuffled = stmts.clone();
        // Deterministic shuffle from the seed.
        let n = shuffled.len();
        let mut s = seed;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = (s >> 33) as usize % (i + 1);
            shuffled.swap(i, j);
        }
        prop_assert_eq!(decision(&stmts, &ctx), decision(&shuffled, &ctx));
    }

    /// Adding a Deny statement never turns a deny into Allow, and never
    /// lifts an explicit deny.
    #[test]
    fn adding_deny_is_monotone(stmts in prop::collection::vec(statement(), 1..6), extra in statement(), ctx in context()) {
        let before = decision(&stmts, &ctx);
        let mut deny = extra;
        deny["Effect"] = json!("Deny");
        let mut more = stmts.clone();
        more.push(deny);
        let after = decision(&more, &ctx);
        if before != Decision::Allow {
            prop_assert_ne!(after, Decision::Allow);
        }
        if before == Decision::ExplicitDeny {
            prop_assert_eq!(after, Decision::ExplicitDeny);
        }
    }

    /// The wildcard matcher agrees with a regex translation (`*` → `.*`, `?` → `.`).
    #[test]
    fn wildcard_matches_regex(pattern in "[ab*?/:é]{0,8}", text in "[ab/:é]{0,10}") {
        let mut re = String::from("(?s)^");
        for c in pattern.chars() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        let reference = regex::Regex::new(&re).expect("valid regex").is_match(&text);
        prop_assert_eq!(wildcard_match(&pattern, &text), reference, "pattern {:?} text {:?}", pattern, text);
    }

    /// No panic on arbitrary strings, for every policy kind.
    #[test]
    fn no_panic_on_arbitrary_strings(s in ".{0,300}") {
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust, PolicyKind::Session, PolicyKind::Boundary] {
            let _ = Policy::parse(&s, kind);
        }
    }

    /// No panic on arbitrary JSON shaped like a policy; accepted policies evaluate.
    #[test]
    fn no_panic_on_arbitrary_json(v in arb_policy_json(), ctx in context()) {
        let text = v.to_string();
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust] {
            if let Ok(p) = Policy::parse(&text, kind) {
                let out = evaluate(&Evaluation::new().with_identity("p", &p).with_resource("r", &p), &ctx);
                let _ = out.explanation.to_string();
            }
        }
    }
}

fn arb_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "*",
            "Allow",
            "Deny",
            "s3:*",
            "arn:aws:s3:::b/${aws:username}/*",
            "${",
            "${x, 'd'}",
            "2012-10-17",
            "10.0.0.0/8",
            "::/0",
            "2020-01-01T00:00:00Z",
            "true",
            "aws:SourceIp",
            "arn:aws:iam::111122223333:root",
            "111122223333",
            "",
            "ForAllValues:StringLike",
            "StringEquals",
            "IpAddress",
            "DateLessThan",
            "Null",
        ])
        .prop_map(|s| json!(s)),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    arb_scalar().prop_recursive(4, 48, 6, |inner| {
        let key = prop::sample::select(vec![
            "Version",
            "Statement",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "NotPrincipal",
            "Condition",
            "Sid",
            "AWS",
            "Service",
            "Federated",
            "StringLike",
            "ArnLike",
            "NumericLessThan",
            "Bool",
            "ForAnyValue:StringEquals",
            "aws:TagKeys",
            "x",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..5).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

fn arb_policy_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        arb_json(),
        prop::collection::vec(arb_json(), 1..4)
            .prop_map(|stmts| json!({"Version": "2012-10-17", "Statement": stmts})),
        (statement(), arb_json()).prop_map(|(mut s, c)| {
            s["Condition"] = c;
            json!({"Statement": [s]})
        }),
    ]
}

const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateLessThan",
    "DateNotEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotLike",
    "Null",
    "ForAnyValue:StringLike",
    "ForAllValues:NumericLessThan",
    "ForAllValues:DateGreaterThanIfExists",
    "ForAnyValue:IpAddress",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Every operator with arbitrary policy and request values: no panic.
    #[test]
    fn no_panic_on_arbitrary_condition_values(
        op in prop::sample::select(OPERATORS),
        policy_value in ".{0,24}",
        request_values in prop::collection::vec(".{0,24}", 0..3),
        multi in any::<bool>(),
    ) {
        let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
            "Resource": "*", "Condition": {op: {"ex:key": [policy_value, "${ex:key}"]}}}]});
        if let Ok(p) = Policy::parse(&doc.to_string(), PolicyKind::Identity) {
            let mut b = RequestContext::builder(Principal::anonymous(), "s3:GetObject", "*");
            b = if multi || request_values.is_empty() {
                b.multi_key("ex:key", request_values)
            } else {
                b.key("ex:key", request_values[0].clone())
            };
            let _ = evaluate(&Evaluation::new().with_identity("p", &p), &b.build());
        }
    }
}
