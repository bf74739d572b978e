//! Benchmarks: IRSA trust evaluation, a 30-statement identity policy (miss and
//! hit), and parse+validate of a ~6 KB policy.
#![allow(missing_docs)]

use divan::{Bencher, black_box};
use podiam_policy::{Evaluation, Policy, PolicyKind, Principal, RequestContext, decide, evaluate};

fn main() {
    divan::main();
}

const OIDC: &str = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

fn irsa() -> (Policy, RequestContext) {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
        "Principal":{{"Federated":"arn:aws:iam::111122223333:oidc-provider/{OIDC}"}},
        "Action":"sts:AssumeRoleWithWebIdentity",
        "Condition":{{"StringEquals":{{"{OIDC}:sub":"system:serviceaccount:default:my-sa","{OIDC}:aud":"sts.amazonaws.com"}}}}}}]}}"#
    );
    let policy = Policy::parse(&trust, PolicyKind::Trust).expect("valid");
    let ctx = RequestContext::builder(
        Principal::web_identity(format!("arn:aws:iam::111122223333:oidc-provider/{OIDC}")),
        "sts:AssumeRoleWithWebIdentity",
        "arn:aws:iam::111122223333:role/app",
    )
    .key(format!("{OIDC}:sub"), "system:serviceaccount:default:my-sa")
    .key(format!("{OIDC}:aud"), "sts.amazonaws.com")
    .build();
    (policy, ctx)
}

#[divan::bench]
fn irsa_trust_decide(b: Bencher) {
    let (policy, ctx) = irsa();
    let eval = Evaluation::trust("role", &policy);
    b.bench(|| decide(black_box(&eval), black_box(&ctx)));
}

#[divan::bench]
fn irsa_trust_evaluate_explained(b: Bencher) {
    let (policy, ctx) = irsa();
    let eval = Evaluation::trust("role", &policy);
    b.bench(|| evaluate(black_box(&eval), black_box(&ctx)));
}

fn thirty_statements() -> Policy {
    let mut stmts = Vec::new();
    for i in 0..30 {
        stmts.push(format!(
            r#"{{"Sid":"S{i}","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:List*"],
            "Resource":"arn:aws:s3:::bucket-{i}/home/${{aws:username}}/*",
            "Condition":{{"StringEquals":{{"aws:PrincipalTag/team":"${{aws:PrincipalTag/team}}","s3:x-amz-acl":"private"}},
            "IpAddress":{{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}},
            "Bool":{{"aws:SecureTransport":"true"}}}}}}"#
        ));
    }
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        stmts.join(",")
    );
    Policy::parse_with_limit(&doc, PolicyKind::Identity, None).expect("valid")
}

fn s3_ctx(bucket: usize) -> RequestContext {
    RequestContext::builder(
        Principal::iam_user("arn:aws:iam::111122223333:user/alice"),
        "s3:GetObject",
        format!("arn:aws:s3:::bucket-{bucket}/home/alice/file.txt"),
    )
    .key("aws:PrincipalTag/team", "red")
    .key("s3:x-amz-acl", "private")
    .key("aws:SourceIp", "10.1.2.3")
    .key("aws:SecureTransport", "true")
    .build()
}

#[divan::bench]
fn identity_30_statements_miss(b: Bencher) {
    let policy = thirty_statements();
    let ctx = s3_ctx(99);
    let eval = Evaluation::new().with_identity("p", &policy);
    b.bench(|| decide(black_box(&eval), black_box(&ctx)));
}

#[divan::bench]
fn identity_30_statements_hit(b: Bencher) {
    let policy = thirty_statements();
    let ctx = s3_ctx(29);
    let eval = Evaluation::new().with_identity("p", &policy);
    b.bench(|| decide(black_box(&eval), black_box(&ctx)));
}

#[divan::bench]
fn identity_30_statements_hit_explained(b: Bencher) {
    let policy = thirty_statements();
    let ctx = s3_ctx(29);
    let eval = Evaluation::new().with_identity("p", &policy);
    b.bench(|| evaluate(black_box(&eval), black_box(&ctx)));
}

#[divan::bench]
fn parse_validate_6kb(b: Bencher) {
    let mut actions = Vec::new();
    let mut i = 0;
    let mut doc = String::new();
    while doc.len() < 6000 {
        actions.push(format!("\"s3:GetObjectVersion{i}\""));
        i += 1;
        doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"A","Effect":"Allow","Action":[{}],"Resource":["arn:aws:s3:::b/${{aws:username}}/*","arn:aws:s3:::c/*"],"Condition":{{"IpAddress":{{"aws:SourceIp":"10.0.0.0/8"}},"StringLike":{{"s3:prefix":"home/*"}}}}}}]}}"#,
            actions.join(",")
        );
    }
    b.bench(|| Policy::parse(black_box(&doc), PolicyKind::Identity).expect("valid"));
}
