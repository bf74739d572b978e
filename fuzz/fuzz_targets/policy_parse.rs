//! Fuzzes the policy parser for every policy kind; any accepted policy is
//! also evaluated (and explained) against a fixed request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podiam_policy::{Evaluation, Policy, PolicyKind, Principal, RequestContext, evaluate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ctx = RequestContext::builder(
        Principal::iam_user("arn:aws:iam::111122223333:user/alice"),
        "s3:GetObject",
        "arn:aws:s3:::bucket/alice/key",
    )
    .key("aws:SourceIp", "10.0.0.1")
    .multi_key("aws:TagKeys", ["a", "b"])
    .build();
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Resource,
        PolicyKind::Trust,
        PolicyKind::Session,
        PolicyKind::Boundary,
    ] {
        if let Ok(policy) = Policy::parse_with_limit(text, kind, None) {
            let eval = Evaluation::new()
                .with_identity("p", &policy)
                .with_resource("r", &policy);
            let out = evaluate(&eval, &ctx);
            let _ = out.explanation.to_string();
        }
    }
});
