//! Who can assume a role, and what-if principals: a role's trust policy
//! asked, through the checks STS and eks-auth build, of every service
//! account and Pod Identity association podiam knows; and the session a
//! service account would get, for `explain request`.

use podiam_auth::sessions::{AssumeRoleRequest, Grant, SessionParams, lookup_role, session_claims};
use podiam_auth::{Caller, RequestMeta, Services, Subject};
use podiam_core::AwsError;
use podiam_core::arn::issuer_host_path;
use podiam_core::session::SessionOrigin;
use podiam_eks::association::Association;
use podiam_eks::eks_auth::{PodClaims, SERVICE_PRINCIPAL, evaluate_trust, session_tags};
use podiam_eks::serviceaccount::ServiceAccount;
use podiam_policy::{Decision, Effect, Explanation, Mismatch, Outcome, PolicyType};
use podiam_store::{Cluster, Role, Versioned};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The audience IRSA tokens carry.
const STS_AUDIENCE: &str = "sts.amazonaws.com";
/// The annotation naming a service account's IRSA role.
const ROLE_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
/// What stands for a pod's name and uid when no pod is named.
const ANY_POD: &str = "(any pod)";

fn invalid(m: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterException", m.into())
}

fn not_found(m: impl Into<String>) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", m.into())
}

fn unavailable(e: impl std::fmt::Display) -> AwsError {
    AwsError::new(503, "ServiceUnavailableException", e.to_string())
}

/// The role behind `arn`, or NoSuchEntity as IAM words it.
fn role(svc: &Services, arn: &str) -> Result<Versioned<Role>, AwsError> {
    lookup_role(svc, arn)
        .map_err(unavailable)?
        .ok_or_else(|| not_found(format!("The role {arn} cannot be found.")))
}

/// The allow statements of the trust policy that named this principal and
/// action but whose conditions failed: each failed condition with the
/// policy's values against the request's; and the deny statements that
/// applied.
fn mismatches(e: &Explanation) -> Vec<Value> {
    let mut out = Vec::new();
    for p in e
        .policies
        .iter()
        .filter(|p| matches!(p.policy_type, PolicyType::Resource | PolicyType::Trust))
    {
        for s in &p.statements {
            let statement = s.sid.clone().unwrap_or_else(|| format!("[{}]", s.index));
            match (&s.effect, s.matched, &s.mismatch) {
                (
                    Effect::Allow,
                    false,
                    Some(Mismatch::Condition {
                        key,
                        operator,
                        expected,
                        actual,
                    }),
                ) => out.push(json!({
                    "statement": statement,
                    "key": key,
                    "operator": operator,
                    "expected": expected,
                    "actual": actual,
                })),
                (Effect::Deny, true, _) => out.push(json!({
                    "statement": statement,
                    "deny": true,
                })),
                _ => {}
            }
        }
    }
    out
}

/// Whether a refusal is a near miss: a failed `:sub` condition expected
/// this service account's namespace or name (only the other half differs).
fn resembles(e: &Explanation, ns: &str, name: &str) -> bool {
    e.policies
        .iter()
        .flat_map(|p| &p.statements)
        .any(|s| match &s.mismatch {
            Some(Mismatch::Condition { key, expected, .. }) if key.ends_with(":sub") => {
                expected.iter().any(|x| {
                    x.strip_prefix("system:serviceaccount:")
                        .and_then(|r| r.split_once(':'))
                        .is_some_and(|(n, a)| n == ns || a == name)
                })
            }
            _ => false,
        })
}

fn row(base: Value, o: &Outcome) -> Value {
    let mut v = base;
    v["allowed"] = json!(o.decision == Decision::Allow);
    v["summary"] = json!(o.explanation.summary);
    v["mismatches"] = json!(mismatches(&o.explanation));
    v
}

/// `POST /_podiam/explain/who-can-assume` `{"roleArn"}`: the service
/// accounts (IRSA) and associations (Pod Identity) the trust policy
/// admits, and the near misses with the conditions that failed. Needs
/// `podiam:Explain` and `iam:GetRole` on the role.
pub(crate) fn who_can_assume(
    svc: &Services,
    caller: &Caller,
    body: &[u8],
    meta: &RequestMeta,
) -> Result<Value, AwsError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("Invalid JSON body: {e}")))?;
    let role_arn = v
        .get("roleArn")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("roleArn is required"))?;
    crate::require(svc, caller, meta, "podiam:Explain", role_arn)?;
    svc.authorizer(Subject::Caller(caller), meta)
        .decide(&podiam_auth::Check::new("iam:GetRole", role_arn))
        .map_err(|d| crate::access_denied(Some(caller), "iam:GetRole", &d))?;
    let role = role(svc, role_arn)?;
    let trust = svc
        .trust_policy(&role)
        .ok_or_else(|| invalid("the role's trust policy does not parse"))?;
    let account = role_arn.split(':').nth(4).unwrap_or_default();
    let clusters = svc.store.list::<Cluster>(account).map_err(unavailable)?;
    let accounts = svc
        .store
        .list::<ServiceAccount>(account)
        .map_err(unavailable)?;
    let mut notes = Vec::new();
    let mut web = Vec::new();
    for c in &clusters {
        let provider = podiam_sts::find_provider(svc, account, &c.issuer)
            .map_err(|e| unavailable(e.to_aws().message))?;
        let Some(provider) = provider else {
            notes.push(format!(
                "cluster {}: no IAM OIDC provider for its issuer {}, so none of its service accounts can use IRSA (podiam cluster create registers one)",
                c.name, c.issuer
            ));
            continue;
        };
        let prefix = issuer_host_path(&provider.url);
        let who = svc.authorizer(
            Subject::WebIdentity {
                provider: &provider.arn,
            },
            meta,
        );
        // Known service accounts, and those the trust policy names
        // literally (it may name one not registered yet).
        let mut candidates: BTreeSet<(String, String, bool)> = accounts
            .iter()
            .filter(|sa| sa.cluster == c.name)
            .map(|sa| (sa.namespace.clone(), sa.name.clone(), true))
            .collect();
        let named = named_subjects(&role.trust_policy);
        for sub in &named {
            if !candidates
                .iter()
                .any(|(n, s, _)| (n, s) == (&sub.0, &sub.1))
            {
                candidates.insert((sub.0.clone(), sub.1.clone(), false));
            }
        }
        for (ns, name, known) in candidates {
            let sub = format!("system:serviceaccount:{ns}:{name}");
            let check = podiam_sts::trust_check(
                "sts:AssumeRoleWithWebIdentity",
                &role.arn,
                prefix,
                &sub,
                STS_AUDIENCE,
            )
            .with_resource_policy("trust policy", trust.clone());
            let o = who.evaluate(&check);
            let annotated = accounts.iter().any(|sa| {
                sa.cluster == c.name
                    && sa.namespace == ns
                    && sa.name == name
                    && sa.annotations.get(ROLE_ANNOTATION) == Some(&role.arn)
            });
            // A refusal is listed when the account means to use the role
            // (annotated), the policy names it, or it nearly matches.
            if o.decision == Decision::Allow
                || annotated
                || named.contains(&(ns.clone(), name.clone()))
                || resembles(&o.explanation, &ns, &name)
            {
                web.push(row(
                    json!({
                        "cluster": c.name,
                        "namespace": ns,
                        "serviceAccount": name,
                        "providerArn": provider.arn,
                        "annotated": annotated,
                        "known": known,
                    }),
                    &o,
                ));
            }
        }
    }
    let mut pods = Vec::new();
    for a in svc
        .store
        .list::<Association>(account)
        .map_err(unavailable)?
        .into_iter()
        .filter(|a| a.role_arn == role.arn || a.target_role_arn.as_ref() == Some(&role.arn))
    {
        let Some(c) = clusters.iter().find(|c| c.name == a.cluster) else {
            continue;
        };
        let tags = if a.disable_session_tags {
            vec![]
        } else {
            session_tags(&c.value, &pod(&a.namespace, &a.service_account))
        };
        let base = json!({
            "cluster": a.cluster,
            "associationId": a.id,
            "namespace": a.namespace,
            "serviceAccount": a.service_account,
            "principal": SERVICE_PRINCIPAL,
        });
        if a.role_arn != role.arn {
            pods.push(chained(
                svc, account, &c.value, &a, &role, &trust, tags, base, meta,
            )?);
            continue;
        }
        pods.push(
            match evaluate_trust(svc, account, &c.value, &role.arn, &trust, &tags, meta) {
                Ok(()) => {
                    let mut v = base;
                    v["allowed"] = json!(true);
                    v["summary"] = json!(format!(
                        "the trust policy allows {SERVICE_PRINCIPAL} to sts:AssumeRole{}",
                        if tags.is_empty() {
                            ""
                        } else {
                            " and sts:TagSession"
                        }
                    ));
                    v["mismatches"] = json!([]);
                    v
                }
                Err((action, o)) => {
                    let mut v = row(base, &o);
                    v["refusedAction"] = json!(action);
                    v
                }
            },
        );
    }
    if pods.iter().chain(&web).any(|r| r["allowed"] == true) {
        notes.push(format!(
            "evaluated with aud {STS_AUDIENCE} for IRSA; Pod Identity rows stand for any pod of the service account"
        ));
    }
    Ok(json!({
        "roleArn": role.arn,
        "webIdentity": web,
        "podIdentity": pods,
        "notes": notes,
    }))
}

/// An association that chains into `target` (its target role): EKS's
/// session of the association's role must be admitted first, then that
/// session's `sts:AssumeRole` (and `sts:TagSession`, the six tags being
/// transitive) by the target's trust policy and its own identity policies.
#[allow(clippy::too_many_arguments)]
fn chained(
    svc: &Services,
    account: &str,
    cluster: &Cluster,
    a: &Association,
    target: &Role,
    trust: &podiam_policy::Policy,
    tags: Vec<(String, String)>,
    mut base: Value,
    meta: &RequestMeta,
) -> Result<Value, AwsError> {
    base["via"] = json!(a.role_arn);
    let first = role(svc, &a.role_arn)?;
    let first_trust = svc
        .trust_policy(&first)
        .ok_or_else(|| invalid("the association's role's trust policy does not parse"))?;
    if let Err((action, o)) =
        evaluate_trust(svc, account, cluster, &first.arn, &first_trust, &tags, meta)
    {
        let mut v = row(base, &o);
        v["refusedAction"] = json!(action);
        v["refusedBy"] = json!(first.arn);
        return Ok(v);
    }
    let transitive: Vec<String> = tags.iter().map(|(k, _)| k.clone()).collect();
    let grant = Grant {
        tags,
        transitive,
        ..Grant::new(SessionOrigin::PodIdentity {
            cluster: cluster.name.clone(),
            association_id: a.id.clone(),
        })
    };
    let params = SessionParams {
        role_arn: first.arn.clone(),
        session_name: format!("eks-{}-pod", cluster.name),
        duration: None,
        policy: None,
        policy_arns: vec![],
    };
    let (session, _) =
        session_claims(svc, &params, &first, grant).map_err(|e| invalid(e.to_string()))?;
    let request = AssumeRoleRequest {
        role_arn: &target.arn,
        session_name: &session.session_name,
        external_id: a.external_id.as_deref(),
        source_identity: None,
        tags: &session.tags,
        transitive: &session.transitive_tag_keys,
    };
    let caller = Caller::Session(std::sync::Arc::new(session.clone()));
    let who = svc.authorizer(Subject::Caller(&caller), meta);
    for check in request.checks(trust) {
        let o = who.evaluate(&check);
        if o.decision != Decision::Allow {
            let mut v = row(base, &o);
            v["refusedAction"] = json!(check.action);
            return Ok(v);
        }
    }
    base["allowed"] = json!(true);
    base["summary"] = json!(format!(
        "EKS assumes {} for the pod, then chains into this role as that session",
        first.arn
    ));
    base["mismatches"] = json!([]);
    Ok(base)
}

/// The (namespace, name) pairs a trust policy names literally as
/// `system:serviceaccount:NS:NAME` (no wildcard).
fn named_subjects(trust: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for piece in trust.split('"') {
        let Some(rest) = piece.strip_prefix("system:serviceaccount:") else {
            continue;
        };
        if rest.contains(['*', '?', '$']) {
            continue;
        }
        if let Some((ns, name)) = rest.split_once(':')
            && !ns.is_empty()
            && !name.is_empty()
            && !name.contains(':')
        {
            out.push((ns.to_string(), name.to_string()));
        }
    }
    out
}

fn pod(namespace: &str, service_account: &str) -> PodClaims {
    PodClaims {
        namespace: namespace.to_string(),
        service_account: service_account.to_string(),
        pod_name: ANY_POD.into(),
        pod_uid: ANY_POD.into(),
    }
}

/// The principal a what-if decides as (`explain request`'s `principal`):
/// - `{"kind":"role","roleArn"}`: a session of the role (AssumeRole);
/// - `{"kind":"irsa","cluster","namespace","serviceAccount","roleArn"?}`:
///   the web identity session the service account's token gets (its
///   annotated role unless one is named), with its provider's keys;
/// - `{"kind":"pod-identity","cluster","namespace","serviceAccount"}`: the
///   session EKS Pod Identity gives it, with the association's role and
///   session tags.
///
/// Whether the trust policy admits it is `who-can-assume`'s question, not
/// this one's: notes say when it would not.
pub(crate) fn what_if_subject(
    svc: &Services,
    account: &str,
    p: &Value,
    notes: &mut Vec<String>,
) -> Result<Caller, AwsError> {
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    let need = |k: &str| s(k).ok_or_else(|| invalid(format!("principal.{k} is required")));
    let kind = s("kind").unwrap_or_else(|| "role".into());
    // The service account a what-if names, and its cluster.
    let service_account = || -> Result<(String, String, String, Versioned<Cluster>), AwsError> {
        let cluster = need("cluster")?;
        let c = cluster_named(svc, account, &cluster)?;
        Ok((cluster, need("namespace")?, need("serviceAccount")?, c))
    };
    // A session of `role` with the session policy `policy`.
    let session = |role: &Role, grant: Grant, policy: Option<String>| {
        let params = SessionParams {
            role_arn: role.arn.clone(),
            session_name: "podiam-what-if".into(),
            duration: None,
            policy,
            policy_arns: vec![],
        };
        session_claims(svc, &params, role, grant)
            .map(|(c, _)| c)
            .map_err(|e| invalid(e.to_string()))
    };
    let claims = |role: &Role, grant: Grant| {
        session(role, grant, None).map(|c| Caller::Session(std::sync::Arc::new(c)))
    };
    match kind.as_str() {
        "role" => {
            let role = role(svc, &need("roleArn")?)?;
            claims(
                &role,
                Grant::new(SessionOrigin::AssumeRole {
                    source_arn: format!("arn:aws:iam::{account}:root"),
                }),
            )
        }
        "irsa" => {
            let (cluster, ns, name, c) = service_account()?;
            let role_arn = match s("roleArn") {
                Some(r) => r,
                None => podiam_eks::serviceaccount::get(svc, account, &cluster, &ns, &name)
                    .ok()
                    .flatten()
                    .and_then(|sa| sa.annotations.get(ROLE_ANNOTATION).cloned())
                    .ok_or_else(|| {
                        invalid(format!(
                            "service account {ns}/{name} in cluster {cluster} has no {ROLE_ANNOTATION} annotation: name the role"
                        ))
                    })?,
            };
            let role = role(svc, &role_arn)?;
            let provider = podiam_sts::find_provider(svc, account, &c.issuer)
                .map_err(|e| unavailable(e.to_aws().message))?
                .ok_or_else(|| {
                    invalid(format!(
                        "cluster {cluster}'s issuer {} has no IAM OIDC provider",
                        c.issuer
                    ))
                })?;
            notes.push(format!(
                "decided as {}'s web identity session for system:serviceaccount:{ns}:{name}",
                role.arn
            ));
            claims(
                &role,
                Grant::new(SessionOrigin::WebIdentity {
                    provider_arn: provider.arn.clone(),
                    subject: format!("system:serviceaccount:{ns}:{name}"),
                    audience: STS_AUDIENCE.into(),
                }),
            )
        }
        "pod-identity" => {
            let (cluster, ns, name, c) = service_account()?;
            let assoc = podiam_eks::association::find(svc, account, &cluster, &ns, &name)
                .map_err(|e| unavailable(e.to_string()))?
                .ok_or_else(|| {
                    not_found(format!(
                        "No Pod Identity association for {ns}/{name} in cluster {cluster}"
                    ))
                })?;
            let role = role(svc, &assoc.role_arn)?;
            let mut grant = Grant::new(SessionOrigin::PodIdentity {
                cluster: cluster.clone(),
                association_id: assoc.id.clone(),
            });
            if !assoc.disable_session_tags {
                grant.tags = session_tags(&c.value, &pod(&ns, &name));
                grant.transitive = grant.tags.iter().map(|(k, _)| k.clone()).collect();
            }
            notes.push(format!(
                "decided as {}'s Pod Identity session (association {}), with a pod of {ns}/{name}",
                role.arn, assoc.id
            ));
            // The association's session policy narrows the pod's session:
            // the target role's, when EKS chains into one.
            let Some(target) = &assoc.target_role_arn else {
                return session(&role, grant, assoc.policy.clone())
                    .map(|c| Caller::Session(std::sync::Arc::new(c)));
            };
            let first = session(&role, grant, None)?;
            let target = self::role(svc, target)?;
            notes.push(format!(
                "EKS chains into the target role {}: decided as that session (its trust policy is not checked here)",
                target.arn
            ));
            let chained = Grant {
                tags: first.tags.clone(),
                transitive: first.transitive_tag_keys.clone(),
                chained: true,
                ..Grant::new(SessionOrigin::AssumeRole {
                    source_arn: first.assumed_role_arn(),
                })
            };
            session(&target, chained, assoc.policy.clone())
                .map(|c| Caller::Session(std::sync::Arc::new(c)))
        }
        other => Err(invalid(format!(
            "principal.kind must be role, irsa or pod-identity, not {other:?}"
        ))),
    }
}

fn cluster_named(
    svc: &Services,
    account: &str,
    name: &str,
) -> Result<Versioned<Cluster>, AwsError> {
    svc.store
        .get::<Cluster>(account, name)
        .map_err(unavailable)?
        .ok_or_else(|| not_found(format!("No cluster found for name: {name}.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_subjects_are_named_and_patterns_are_not() {
        let trust = r#"{"Condition":{"StringEquals":{"x:sub":["system:serviceaccount:shop:carts","system:serviceaccount:a:*"]},
            "StringLike":{"x:sub":"system:serviceaccount:ops:?b"}}}"#;
        assert_eq!(
            named_subjects(trust),
            vec![("shop".to_string(), "carts".to_string())]
        );
    }
}
