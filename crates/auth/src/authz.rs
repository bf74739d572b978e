//! Authorization: gather the caller's policies, build the request context,
//! and ask `podiam-policy`.

use crate::aws_managed;
use crate::caller::Caller;
use crate::services::Services;
use podiam_core::session::SessionClaims;
use podiam_policy::{Decision, Evaluation, Explanation, Policy, PolicyKind, PolicyType};
use podiam_store::{ManagedPolicy, Role, StoreError};
use std::sync::Arc;

/// Parses and validates a stored document; stored documents were validated
/// on write, so a failure here means the grammar got stricter since.
pub fn compile_policy(doc: &str, kind: PolicyKind) -> Option<Policy> {
    match Policy::parse_with_limit(doc, kind, None) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(error = %e, "stored policy no longer parses; ignoring it");
            None
        }
    }
}

/// A role's compiled policies, cached with the role version.
#[derive(Debug)]
pub(crate) struct CompiledRole {
    pub trust: Option<Policy>,
    pub inline: Vec<(String, Policy)>,
}

pub(crate) fn compiled_role(r: &podiam_store::Versioned<Role>) -> Arc<CompiledRole> {
    r.derived(|r| CompiledRole {
        trust: compile_policy(&r.trust_policy, PolicyKind::Trust),
        inline: r
            .inline_policies
            .iter()
            .filter_map(|(n, d)| compile_policy(d, PolicyKind::Identity).map(|p| (n.clone(), p)))
            .collect(),
    })
}

/// The policies that apply to a caller.
#[derive(Debug, Default)]
pub struct PolicySet {
    /// Identity policies (inline and attached), with names for explanations.
    pub identity: Vec<(String, Policy)>,
    /// Session policies; `None` when the session has none.
    pub session: Option<Vec<(String, Policy)>>,
    /// The permissions boundary.
    pub boundary: Option<(String, Policy)>,
    /// `aws:PrincipalTag/*`: role tags overridden by session tags.
    pub principal_tags: Vec<(String, String)>,
    /// The account root: identity policies do not limit it.
    pub is_root: bool,
}

impl PolicySet {
    /// The caller's side of an evaluation (add a resource policy as needed).
    pub fn evaluation(&self) -> Evaluation<'_> {
        let mut e = Evaluation::new();
        for (n, p) in &self.identity {
            e = e.with_identity(n, p);
        }
        if let Some(s) = &self.session {
            e.session = Some(s.iter().map(|(n, p)| (n.as_str(), p)).collect());
        }
        if let Some((n, p)) = &self.boundary {
            e = e.with_boundary(n, p);
        }
        e
    }
}

/// The root's implicit "everything" policy: root is not limited by identity
/// policies, but explicit denies in resource policies still apply to it.
fn root_policy() -> &'static Policy {
    static P: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap_or_else(|e| unreachable!("constant policy: {e}"))
    })
}

/// A policy of `kind` that allows nothing: what a boundary or session
/// policy that cannot be resolved amounts to (AWS intersects with it).
fn allows_nothing(kind: PolicyKind) -> Policy {
    Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"*","Resource":"*"}]}"#,
        kind,
    )
    .unwrap_or_else(|e| unreachable!("constant policy: {e}"))
}

/// A refused request: the decision and the explanation (for the audit log,
/// never for the caller).
#[derive(Debug, Clone)]
pub struct Denied {
    /// `ExplicitDeny` or `ImplicitDeny`.
    pub decision: Decision,
    /// Why.
    pub explanation: Explanation,
}

impl Denied {
    /// AWS's suffix for `… is not authorized to perform: A on resource: R`.
    pub fn reason_suffix(&self, action: &str) -> String {
        let t = self.explanation.deciding_policy_type;
        match (self.decision, t) {
            (Decision::ExplicitDeny, Some(PolicyType::Session)) => {
                " with an explicit deny in a session policy".into()
            }
            (Decision::ExplicitDeny, Some(PolicyType::Boundary)) => {
                " with an explicit deny in a permissions boundary".into()
            }
            (Decision::ExplicitDeny, Some(PolicyType::Resource | PolicyType::Trust)) => {
                " with an explicit deny in a resource-based policy".into()
            }
            (Decision::ExplicitDeny, _) => {
                " with an explicit deny in an identity-based policy".into()
            }
            (_, Some(PolicyType::Session)) => {
                format!(" because no session policy allows the {action} action")
            }
            (_, Some(PolicyType::Boundary)) => {
                format!(" because no permissions boundary allows the {action} action")
            }
            (_, Some(PolicyType::Resource | PolicyType::Trust)) => {
                format!(" because no resource-based policy allows the {action} action")
            }
            _ => format!(" because no identity-based policy allows the {action} action"),
        }
    }
}

impl Services {
    /// A managed policy (customer or AWS) by ARN, compiled.
    pub fn managed_policy(&self, arn: &str) -> Result<Option<Policy>, StoreError> {
        if let Some(name) = arn.strip_prefix("arn:aws:iam::aws:policy/") {
            let name = name.rsplit('/').next().unwrap_or(name);
            // The ARN must carry the policy's own path.
            if aws_managed::arn_of(name).as_deref() != Some(arn) {
                return Ok(None);
            }
            return Ok(aws_managed::compiled(name));
        }
        let Some(parsed) = podiam_core::arn::parse_iam_path_arn(arn, "policy") else {
            return Ok(None);
        };
        let Some(p) = self
            .store
            .get::<ManagedPolicy>(&parsed.account, &parsed.name.to_ascii_lowercase())?
            .filter(|p| p.arn == arn)
        else {
            return Ok(None);
        };
        Ok((*p.derived(|p| {
            p.default_document()
                .and_then(|d| compile_policy(d, PolicyKind::Identity))
        }))
        .clone())
    }

    /// The role named `name` in `account`, with its compiled policies.
    pub fn role_by_name(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<podiam_store::Versioned<Role>>, StoreError> {
        self.store.get::<Role>(account, &name.to_ascii_lowercase())
    }

    /// The compiled trust policy of a role.
    pub fn trust_policy(&self, role: &podiam_store::Versioned<Role>) -> Option<Policy> {
        compiled_role(role).trust.clone()
    }

    /// The identity policies, boundary and tags of `role`.
    pub fn role_policies(
        &self,
        role: &podiam_store::Versioned<Role>,
    ) -> Result<PolicySet, StoreError> {
        let compiled = compiled_role(role);
        let mut set = PolicySet::default();
        for (n, p) in &compiled.inline {
            set.identity
                .push((format!("{} (inline in role {})", n, role.name), p.clone()));
        }
        for arn in &role.attached_policies {
            if let Some(p) = self.managed_policy(arn)? {
                set.identity.push((arn.clone(), p));
            }
        }
        if let Some(b) = &role.permissions_boundary {
            // A boundary that no longer exists allows nothing.
            let p = self
                .managed_policy(b)?
                .unwrap_or_else(|| allows_nothing(PolicyKind::Boundary));
            set.boundary = Some((b.clone(), p));
        }
        set.principal_tags = role
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        Ok(set)
    }

    /// The policies that apply to `caller`.
    pub fn policy_set(&self, caller: &Caller) -> Result<PolicySet, StoreError> {
        match caller {
            Caller::Root { .. } => Ok(PolicySet {
                identity: vec![("account root".into(), root_policy().clone())],
                is_root: true,
                ..Default::default()
            }),
            Caller::Session(s) => self.session_policy_set(s),
        }
    }

    fn session_policy_set(&self, s: &SessionClaims) -> Result<PolicySet, StoreError> {
        // A deleted (or deleted and re-created) role leaves the session with
        // no permissions, as in AWS where policies are looked up by role id.
        let mut set = match self.role_by_name(&s.account, &s.role_name)? {
            Some(r) if r.id == s.role_id => self.role_policies(&r)?,
            _ => PolicySet::default(),
        };
        // A session policy that no longer resolves (or compiles) allows
        // nothing: it must not drop out of the intersection, which would
        // leave the session the role's full permissions.
        let mut session = Vec::new();
        if let Some(doc) = &s.session_policy {
            let p = compile_policy(doc, PolicyKind::Session)
                .unwrap_or_else(|| allows_nothing(PolicyKind::Session));
            session.push(("inline session policy".to_string(), p));
        }
        for arn in &s.policy_arns {
            let p = self
                .managed_policy(arn)?
                .unwrap_or_else(|| allows_nothing(PolicyKind::Session));
            session.push((format!("{arn} (session policy)"), p));
        }
        if s.session_policy.is_some() || !s.policy_arns.is_empty() {
            set.session = Some(session);
        }
        for (k, v) in &s.tags {
            set.principal_tags
                .retain(|(ek, _)| !ek.eq_ignore_ascii_case(k));
            set.principal_tags.push((k.clone(), v.clone()));
        }
        Ok(set)
    }
}
