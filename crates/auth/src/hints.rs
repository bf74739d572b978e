//! Turning a trust-policy refusal into the sentence a developer needs:
//! which statement came closest, which condition failed with actual versus
//! expected values, and what to change.

use podiam_policy::{Decision, Effect, Explanation, Mismatch, StatementTrace};

fn quoted(v: &[String]) -> String {
    match v {
        [one] => format!("`{one}`"),
        many => format!(
            "[{}]",
            many.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `system:serviceaccount:NS:SA` → (NS, SA).
fn parse_sub(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix("system:serviceaccount:")?;
    rest.split_once(':')
}

fn statement_name(s: &StatementTrace) -> String {
    match &s.sid {
        Some(sid) => format!("statement {sid:?}"),
        None => format!("statement #{}", s.index + 1),
    }
}

/// Ranks how close a non-matching Allow statement came: a failed condition
/// beats a wrong action beats a wrong principal.
fn closeness(s: &StatementTrace) -> u8 {
    match s.mismatch {
        Some(Mismatch::Condition { .. }) => 3,
        Some(Mismatch::Resource) => 2,
        Some(Mismatch::Action) => 1,
        _ => 0,
    }
}

/// Detail and fix for a refused trust evaluation of `action`.
pub fn trust_failure(
    e: &Explanation,
    action: &str,
    principal: &str,
    key_prefix: &str,
) -> (String, String) {
    let statements: Vec<&StatementTrace> = e
        .policies
        .iter()
        .flat_map(|p| p.statements.iter())
        .collect();
    if e.decision == Decision::ExplicitDeny
        && let Some(s) = statements
            .iter()
            .find(|s| s.matched && s.effect == Effect::Deny)
    {
        return (
            format!("{} explicitly denies {action}", statement_name(s)),
            format!("remove or narrow the Deny {}", statement_name(s)),
        );
    }
    let best = statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && !s.matched)
        .max_by_key(|s| closeness(s));
    let Some(best) = best else {
        return (
            format!("the trust policy has no Allow statement for {action}"),
            format!("add a statement allowing {action} for {principal}"),
        );
    };
    let name = statement_name(best);
    match &best.mismatch {
        Some(Mismatch::Condition { key, operator, expected, actual }) => condition_hint(&name, key, operator, expected, actual.as_deref(), key_prefix),
        Some(Mismatch::Action) if action == "sts:TagSession" => (
            format!("{name} does not allow sts:TagSession, which is needed because the session carries tags (EKS Pod Identity always adds six session tags)"),
            "add \"sts:TagSession\" to the statement's Action, or set disableSessionTags on the association".into(),
        ),
        Some(Mismatch::Action) => (
            format!("{name} does not allow {action}"),
            format!("add \"{action}\" to the statement's Action"),
        ),
        Some(Mismatch::Principal) | None => (
            format!("no statement names the caller {principal}"),
            format!("set the statement's Principal to {principal}"),
        ),
        Some(Mismatch::Resource) => (
            format!("{name} has a Resource that does not match the role"),
            "remove Resource from the trust policy (trust policies take none)".into(),
        ),
    }
}

fn condition_hint(
    name: &str,
    key: &str,
    op: &str,
    expected: &[String],
    actual: Option<&[String]>,
    key_prefix: &str,
) -> (String, String) {
    let Some(actual) = actual else {
        let suffix = key.rsplit(':').next().unwrap_or(key);
        let detail = format!(
            "{name}: condition {op} `{key}` expected {} but the request has no `{key}`",
            quoted(expected)
        );
        let fix = if key.contains('/')
            && !key
                .to_ascii_lowercase()
                .starts_with(&key_prefix.to_ascii_lowercase())
        {
            format!(
                "condition keys must start with the issuer as registered: write `{key_prefix}:{suffix}`"
            )
        } else {
            format!("remove the `{key}` condition or make the request carry it")
        };
        return (detail, fix);
    };
    let mut detail = format!(
        "{name}: condition {op} `{key}` expected {}, got {}",
        quoted(expected),
        quoted(actual)
    );
    let literal_wildcard =
        op.starts_with("StringEquals") && expected.iter().any(|e| e.contains(['*', '?']));
    if literal_wildcard {
        return (
            detail,
            format!(
                "{op} compares literally — `*` and `?` are not wildcards there; use StringLike for {}",
                quoted(expected)
            ),
        );
    }
    let lower = key.to_ascii_lowercase();
    if lower.ends_with(":sub")
        && let Some((ns, sa)) = actual.first().and_then(|a| parse_sub(a))
    {
        let wanted: Vec<(&str, &str)> = expected.iter().filter_map(|e| parse_sub(e)).collect();
        if wanted.iter().all(|(ens, _)| *ens != ns) {
            detail.push_str(&format!(" — the pod runs in namespace `{ns}`"));
        } else if wanted.iter().all(|(_, esa)| *esa != sa) {
            detail.push_str(&format!(" — the pod uses service account `{sa}`"));
        }
        let want = expected.first().cloned().unwrap_or_default();
        return (
            detail,
            format!(
                "run the pod as {want}, or allow system:serviceaccount:{ns}:{sa} in the trust policy's `{key}` condition"
            ),
        );
    }
    if lower.ends_with(":aud") {
        let got = actual.first().cloned().unwrap_or_default();
        return (
            detail,
            format!(
                "mint the token with --audience {}, or expect `{got}` in the `{key}` condition",
                expected.first().cloned().unwrap_or_default()
            ),
        );
    }
    if let Some(tag) = lower.strip_prefix("aws:requesttag/") {
        detail.push_str(&format!(
            " — the session tag `{tag}` is `{}`",
            actual.first().cloned().unwrap_or_default()
        ));
    }
    (
        detail,
        format!(
            "change the `{key}` condition to accept {}, or change the request",
            quoted(actual)
        ),
    )
}

/// The line for a trust evaluation that allowed `action`.
pub fn trust_success(e: &Explanation, action: &str) -> String {
    let allowing = e
        .policies
        .iter()
        .flat_map(|p| p.statements.iter())
        .find(|s| s.matched && s.effect == Effect::Allow);
    match allowing {
        Some(s) => format!("{} allows {action}", statement_name(s)),
        None => format!("{action} allowed"),
    }
}
