//! `SimulateCustomPolicy` and `SimulatePrincipalPolicy`: the policy engine
//! behind AWS's request and response shapes.

use crate::error::IamError;
use podiam_auth::Services;
use podiam_core::query::QueryParams;
use podiam_core::xml::XmlWriter;
use podiam_policy::{
    Decision, Evaluation, Mismatch, Policy, PolicyKind, PolicyType, Principal, RequestContext,
    evaluate,
};

/// One `ContextEntries` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    /// Key name.
    pub name: String,
    /// Values.
    pub values: Vec<String>,
    /// `string`, `stringList`, …; a `…List` type makes a multivalued key.
    pub kind: String,
}

/// A decoded simulation request (both operations share the shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulateRequest {
    /// `PolicySourceArn` (SimulatePrincipalPolicy only).
    pub policy_source_arn: Option<String>,
    /// `PolicyInputList`.
    pub policies: Vec<String>,
    /// `PermissionsBoundaryPolicyInputList`.
    pub boundaries: Vec<String>,
    /// `ActionNames`.
    pub actions: Vec<String>,
    /// `ResourceArns` (default `*`).
    pub resources: Vec<String>,
    /// `ResourcePolicy`.
    pub resource_policy: Option<String>,
    /// `ResourceOwner`.
    pub resource_owner: Option<String>,
    /// `CallerArn`.
    pub caller_arn: Option<String>,
    /// `ContextEntries`.
    pub context: Vec<ContextEntry>,
}

pub(crate) fn decode(p: &QueryParams, principal: bool) -> Result<SimulateRequest, String> {
    let mut v = podiam_core::query::Validator::new();
    let source = p.get("PolicySourceArn").map(str::to_string);
    if principal {
        v.required("policySourceArn", source.as_deref());
    }
    let policies = p.list("PolicyInputList");
    if !principal && policies.is_empty() {
        v.required("policyInputList", None);
    }
    let actions = p.list("ActionNames");
    if actions.is_empty() {
        v.required("actionNames", None);
    }
    v.finish()?;
    let mut resources = p.list("ResourceArns");
    if resources.is_empty() {
        resources.push("*".into());
    }
    let mut context = Vec::new();
    for i in 1..=p.struct_list("ContextEntries").len() {
        let base = format!("ContextEntries.member.{i}");
        let name = p
            .get(&format!("{base}.ContextKeyName"))
            .unwrap_or_default()
            .to_string();
        let values = p.list(&format!("{base}.ContextKeyValues"));
        let kind = p
            .get(&format!("{base}.ContextKeyType"))
            .unwrap_or("string")
            .to_string();
        context.push(ContextEntry { name, values, kind });
    }
    Ok(SimulateRequest {
        policy_source_arn: source,
        policies,
        boundaries: p.list("PermissionsBoundaryPolicyInputList"),
        actions,
        resources,
        resource_policy: p.get("ResourcePolicy").map(str::to_string),
        resource_owner: p.get("ResourceOwner").map(str::to_string),
        caller_arn: p.get("CallerArn").map(str::to_string),
        context,
    })
}

fn parse(doc: &str, kind: PolicyKind) -> Result<Policy, IamError> {
    Policy::parse(doc, kind).map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))
}

/// A named policy with its `SourcePolicyType` as AWS reports it.
struct Named {
    id: String,
    source_type: &'static str,
    policy: Policy,
}

pub(crate) fn run(
    svc: &Services,
    account: &str,
    r: SimulateRequest,
    principal_mode: bool,
) -> Result<Option<String>, IamError> {
    let mut identity: Vec<Named> = Vec::new();
    let mut boundary: Option<Named> = None;
    let mut principal = match &r.caller_arn {
        Some(a) if a.contains(":assumed-role/") => Principal::assumed_role(a.clone(), a.clone()),
        Some(a) => Principal::iam_user(a.clone()),
        None => Principal::iam_user(format!("arn:aws:iam::{account}:user/simulated-user")),
    };
    if principal_mode {
        let src = r.policy_source_arn.clone().unwrap_or_default();
        let role = podiam_core::arn::parse_iam_path_arn(&src, "role")
            .filter(|a| a.account == account)
            .and_then(|a| svc.role_by_name(account, &a.name).ok().flatten())
            .filter(|role| role.arn == src)
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!("The role with arn {src} cannot be found."))
            })?;
        let set = svc.role_policies(&role)?;
        // AWS names managed policies by name and inline role policies as
        // `role_<RoleName>_<PolicyName>`, all of type "IAM Policy".
        for (name, p) in set.identity {
            let id = match name.split_once(" (inline in role ") {
                Some((policy, _)) => format!("role_{}_{policy}", role.name),
                None => name.rsplit('/').next().unwrap_or(&name).to_string(),
            };
            identity.push(Named {
                id,
                source_type: "IAM Policy",
                policy: p,
            });
        }
        if let Some((n, p)) = set.boundary {
            boundary = Some(Named {
                id: n.rsplit('/').next().unwrap_or(&n).to_string(),
                source_type: "IAM Policy",
                policy: p,
            });
        }
        if r.caller_arn.is_none() {
            principal = Principal::assumed_role(
                podiam_core::arn::assumed_role_arn(account, &role.name, "simulation"),
                role.arn.clone(),
            )
            .with_userid(format!("{}:simulation", role.id));
        }
    }
    for (i, doc) in r.policies.iter().enumerate() {
        identity.push(Named {
            id: format!("PolicyInputList.{}", i + 1),
            source_type: "IAM Policy",
            policy: parse(doc, PolicyKind::Identity)?,
        });
    }
    for (i, doc) in r.boundaries.iter().enumerate() {
        boundary = Some(Named {
            id: format!("PermissionsBoundaryPolicyInputList.{}", i + 1),
            source_type: "IAM Policy",
            policy: parse(doc, PolicyKind::Boundary)?,
        });
    }
    if r.resource_policy.is_some() && r.caller_arn.is_none() && !principal_mode {
        return Err(IamError::InvalidInput(
            "Invalid input: CallerArn is required when a ResourcePolicy is specified".into(),
        ));
    }
    let resource_policy = r
        .resource_policy
        .as_deref()
        .map(|d| parse(d, PolicyKind::Resource))
        .transpose()?;

    let mut w = XmlWriter::new();
    w.start("EvaluationResults");
    for action in &r.actions {
        for resource in &r.resources {
            let mut b =
                RequestContext::builder(principal.clone(), action.clone(), resource.clone());
            for c in &r.context {
                b = if c.kind.ends_with("List") {
                    b.multi_key(c.name.clone(), c.values.clone())
                } else {
                    match c.values.first() {
                        Some(v) => b.key(c.name.clone(), v.clone()),
                        None => b.empty_key(c.name.clone()),
                    }
                };
            }
            let ctx = b.build();
            let mut eval = Evaluation::new();
            for n in &identity {
                eval = eval.with_identity(&n.id, &n.policy);
            }
            if let Some(n) = &boundary {
                eval = eval.with_boundary(&n.id, &n.policy);
            }
            if let Some(p) = &resource_policy {
                eval = eval.with_resource("ResourcePolicy", p);
            }
            eval = eval.with_resource_account(resource_owner(resource, &r, &principal, account));
            let outcome = evaluate(&eval, &ctx);
            let decision = match outcome.decision {
                Decision::Allow => "allowed",
                Decision::ExplicitDeny => "explicitDeny",
                Decision::ImplicitDeny => "implicitDeny",
            };
            w.start("member")
                .elem("EvalActionName", action)
                .elem("EvalResourceName", resource)
                .elem("EvalDecision", decision);
            w.start("MatchedStatements");
            for m in outcome.explanation.matched_statements() {
                let source_type = if m.source_policy_type == PolicyType::Resource {
                    "resource"
                } else {
                    identity
                        .iter()
                        .chain(boundary.iter())
                        .find(|n| n.id == m.source_policy_id)
                        .map_or("none", |n| n.source_type)
                };
                w.start("member")
                    .elem("SourcePolicyId", &m.source_policy_id)
                    .elem("SourcePolicyType", source_type);
                w.start("StartPosition")
                    .elem("Line", &m.start_position.line.to_string())
                    .elem("Column", &m.start_position.column.to_string())
                    .end("StartPosition");
                w.start("EndPosition")
                    .elem("Line", &m.end_position.line.to_string())
                    .elem("Column", &m.end_position.column.to_string())
                    .end("EndPosition");
                w.end("member");
            }
            w.end("MatchedStatements");
            let mut missing: Vec<String> = Vec::new();
            for p in &outcome.explanation.policies {
                for s in &p.statements {
                    if let Some(Mismatch::Condition {
                        key, actual: None, ..
                    }) = &s.mismatch
                        && !missing.iter().any(|m| m.eq_ignore_ascii_case(key))
                    {
                        missing.push(key.clone());
                    }
                }
            }
            w.members("MissingContextValues", &missing);
            w.start("OrganizationsDecisionDetail")
                .elem("AllowedByOrganizations", "true")
                .end("OrganizationsDecisionDetail");
            if boundary.is_some() {
                let allowed =
                    outcome.explanation.deciding_policy_type != Some(PolicyType::Boundary);
                w.start("PermissionsBoundaryDecisionDetail")
                    .elem(
                        "AllowedByPermissionsBoundary",
                        if allowed { "true" } else { "false" },
                    )
                    .end("PermissionsBoundaryDecisionDetail");
            }
            if resource != "*" {
                w.start("EvalDecisionDetails").end("EvalDecisionDetails");
            }
            w.end("member");
        }
    }
    w.end("EvaluationResults");
    w.elem("IsTruncated", "false");
    Ok(Some(w.finish()))
}

/// The account owning a simulated resource (API reference,
/// `SimulatePrincipalPolicy`): the one in its ARN, else `ResourceOwner` (an
/// account ARN `arn:aws:iam::A:root` or an id), else the caller's.
fn resource_owner(
    resource: &str,
    r: &SimulateRequest,
    principal: &Principal,
    account: &str,
) -> String {
    if let Some(a) = resource.split(':').nth(4).filter(|a| !a.is_empty()) {
        return a.to_string();
    }
    if let Some(owner) = &r.resource_owner {
        return podiam_core::arn::Arn::parse(owner)
            .map_or_else(|| owner.to_string(), |a| a.account);
    }
    principal
        .account
        .clone()
        .unwrap_or_else(|| account.to_string())
}
