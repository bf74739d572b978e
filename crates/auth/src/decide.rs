//! The one decision function: every check of every service, `podiam
//! explain request` and the simulators go through [`Authorizer::evaluate`].
//!
//! It gathers the subject's policies once per request, builds the request
//! context with the global condition keys in one place, adds the resource
//! policy and resource account, asks `podiam-policy` (identity ∪ resource,
//! ∩ session, ∩ boundary, the cross-account rule, explicit deny anywhere)
//! and hands the explanation to the audit line.

use crate::RequestMeta;
use crate::authz::{Denied, PolicySet};
use crate::caller::Caller;
use crate::services::Services;
use podiam_policy::{
    Decision, Evaluation, Explanation, Outcome, Policy, Principal, RequestContext,
    RequestContextBuilder, evaluate,
};
use std::borrow::Cow;

/// Who a check is about.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// An authenticated caller: an account root or a role session.
    Caller(&'a Caller),
    /// An unsigned request (only resource policies can allow it).
    Anonymous,
    /// An AWS service principal acting for an account, e.g.
    /// `pods.eks.amazonaws.com` assuming a Pod Identity role.
    Service {
        /// `pods.eks.amazonaws.com`, `ec2.amazonaws.com`, …
        name: &'a str,
        /// `aws:SourceAccount`.
        source_account: &'a str,
    },
    /// A web-identity user of an OIDC provider (AssumeRoleWithWebIdentity).
    WebIdentity {
        /// The IAM OIDC provider's ARN.
        provider: &'a str,
    },
}

impl Subject<'_> {
    fn principal(&self) -> Principal {
        match self {
            Subject::Caller(c) => c.principal(),
            Subject::Anonymous => Principal::anonymous(),
            Subject::Service { name, .. } => Principal::service(*name),
            Subject::WebIdentity { provider } => Principal::web_identity(*provider),
        }
    }

    fn caller(&self) -> Option<&Caller> {
        match self {
            Subject::Caller(c) => Some(c),
            _ => None,
        }
    }

    /// The ARN reported in messages and logs.
    pub fn arn(&self) -> String {
        match self {
            Subject::Caller(c) => c.arn(),
            Subject::Anonymous => "anonymous".into(),
            Subject::Service { name, .. } => (*name).to_string(),
            Subject::WebIdentity { provider } => (*provider).to_string(),
        }
    }
}

/// A resource-based policy (bucket policy, role trust policy, …) with the
/// name explanations give it.
#[derive(Debug, Clone)]
pub struct ResourcePolicy {
    /// e.g. `bucket policy of photos`, `trust policy`.
    pub name: String,
    /// The policy.
    pub policy: Policy,
}

/// One authorization question a service asks: one IAM action on one
/// resource, with the service's condition keys.
#[derive(Debug, Clone, Default)]
pub struct Check {
    /// The IAM action, e.g. `s3:GetObject`.
    pub action: Cow<'static, str>,
    /// The resource ARN (`*` for actions without one).
    pub resource: String,
    /// The account owning the resource; `None`: the one in its ARN, else
    /// the caller's.
    pub resource_account: Option<String>,
    /// Single-valued service condition keys.
    pub keys: Vec<(String, String)>,
    /// Multivalued service condition keys.
    pub multi_keys: Vec<(String, Vec<String>)>,
    /// The resource's own policy, if it has one.
    pub resource_policy: Option<ResourcePolicy>,
    /// The resource owner's account root is allowed even where policies
    /// deny (S3: the bucket owner can always manage the bucket policy, so a
    /// policy cannot lock its owner out).
    pub owner_always_allowed: bool,
}

impl Check {
    /// A check of `action` on `resource`.
    pub fn new(action: impl Into<Cow<'static, str>>, resource: impl Into<String>) -> Check {
        Check {
            action: action.into(),
            resource: resource.into(),
            ..Check::default()
        }
    }

    /// Adds a single-valued condition key.
    pub fn key(mut self, k: impl Into<String>, v: impl Into<String>) -> Check {
        self.keys.push((k.into(), v.into()));
        self
    }

    /// `aws:ResourceTag/<key>` for each of the resource's tags.
    pub fn with_resource_tags<'a>(
        mut self,
        tags: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Check {
        for (k, v) in tags {
            self.keys.push((format!("aws:ResourceTag/{k}"), v.clone()));
        }
        self
    }

    /// `aws:RequestTag/*`, `aws:TagKeys` and `sts:TransitiveTagKeys` of
    /// session tags being passed.
    pub fn with_request_tags(mut self, tags: &[(String, String)], transitive: &[String]) -> Check {
        if tags.is_empty() {
            return self;
        }
        for (k, v) in tags {
            self.keys.push((format!("aws:RequestTag/{k}"), v.clone()));
        }
        self.multi_keys.push((
            "aws:TagKeys".into(),
            tags.iter().map(|(k, _)| k.clone()).collect(),
        ));
        if !transitive.is_empty() {
            self.multi_keys
                .push(("sts:TransitiveTagKeys".into(), transitive.to_vec()));
        }
        self
    }

    /// Sets the resource-based policy.
    pub fn with_resource_policy(mut self, name: impl Into<String>, policy: Policy) -> Check {
        self.resource_policy = Some(ResourcePolicy {
            name: name.into(),
            policy,
        });
        self
    }

    /// Sets the owning account.
    pub fn with_resource_account(mut self, account: impl Into<String>) -> Check {
        self.resource_account = Some(account.into());
        self
    }
}

/// Decides the checks of one request for one subject: its policies are
/// looked up once.
#[derive(Debug)]
pub struct Authorizer<'a> {
    svc: &'a Services,
    subject: Subject<'a>,
    meta: &'a RequestMeta,
    /// The subject's policies, or why they could not be loaded.
    set: Result<PolicySet, String>,
}

impl Services {
    /// The authorizer of `subject` for a request with `meta`.
    pub fn authorizer<'a>(&'a self, subject: Subject<'a>, meta: &'a RequestMeta) -> Authorizer<'a> {
        let set = match subject {
            Subject::Caller(c) => self.policy_set(c).map_err(|e| e.to_string()),
            // Callers outside IAM have no identity-based policies.
            _ => Ok(PolicySet::default()),
        };
        Authorizer {
            svc: self,
            subject,
            meta,
            set,
        }
    }
}

impl<'a> Authorizer<'a> {
    /// The subject.
    pub fn subject(&self) -> Subject<'a> {
        self.subject
    }

    /// Whether one of the subject's own policies (identity, session,
    /// boundary) reads a condition key starting with `prefix`.
    pub fn reads_key_prefix(&self, prefix: &str) -> bool {
        let Ok(set) = &self.set else { return false };
        set.identity
            .iter()
            .chain(set.session.iter().flatten())
            .chain(set.boundary.iter())
            .any(|(_, p)| p.reads_key_prefix(prefix))
    }

    /// The account that owns `check`'s resource.
    pub fn resource_account(&self, check: &Check) -> Option<String> {
        check
            .resource_account
            .clone()
            .or_else(|| arn_account(&check.resource).map(str::to_string))
            .or_else(|| match self.subject {
                Subject::Caller(c) => Some(c.account().to_string()),
                Subject::Service { source_account, .. } => Some(source_account.to_string()),
                _ => None,
            })
    }

    /// The request context of `check`: every global condition key, added
    /// here and nowhere else, then the service's keys.
    pub fn context(&self, check: &Check) -> RequestContext {
        self.context_in(check, self.resource_account(check))
    }

    fn context_in(&self, check: &Check, resource_account: Option<String>) -> RequestContext {
        // Only the keys some policy of this evaluation reads: no other key
        // can change the outcome, and formatting them is most of the cost.
        let policies = || {
            let set = self.set.as_ref().ok();
            set.into_iter()
                .flat_map(|s| {
                    s.identity
                        .iter()
                        .chain(s.session.iter().flatten())
                        .chain(&s.boundary)
                        .map(|(_, p)| p)
                })
                .chain(check.resource_policy.iter().map(|rp| &rp.policy))
        };
        let wants = |k: &str| policies().any(|p| p.reads_key(k));
        let tags = policies().any(|p| p.reads_key_prefix("aws:PrincipalTag/"));
        let svc = self.svc;
        let now = svc.clock.now().unix_timestamp();
        let mut b = RequestContext::builder(
            self.subject.principal(),
            check.action.as_ref(),
            check.resource.as_str(),
        );
        if wants("aws:CurrentTime") {
            b = b.key("aws:CurrentTime", podiam_core::timefmt::iso8601(now));
        }
        if wants("aws:EpochTime") {
            b = b.key("aws:EpochTime", now.to_string());
        }
        if wants("aws:RequestedRegion") {
            b = b.key("aws:RequestedRegion", svc.config.region.clone());
        }
        b = self.meta.apply(b, wants);
        match self.subject {
            Subject::Caller(c) => {
                b = caller_keys(b, c, self.set.as_ref().ok().filter(|_| tags), &wants)
            }
            Subject::Service { source_account, .. } if wants("aws:SourceAccount") => {
                b = b.key("aws:SourceAccount", source_account.to_string());
            }
            Subject::WebIdentity { provider } if wants("aws:FederatedProvider") => {
                b = b.key("aws:FederatedProvider", provider.to_string());
            }
            Subject::Service { .. } | Subject::WebIdentity { .. } => {}
            Subject::Anonymous => {}
        }
        if let Some(a) = resource_account.filter(|_| wants("aws:ResourceAccount")) {
            b = b.key("aws:ResourceAccount", a);
        }
        for (k, v) in check.keys.iter().filter(|(k, _)| wants(k)) {
            b = b.key(k.clone(), v.clone());
        }
        for (k, v) in check.multi_keys.iter().filter(|(k, _)| wants(k)) {
            b = b.multi_key(k.clone(), v.iter().cloned());
        }
        b.build_for(wants)
    }

    /// The decision on `check` and why, without recording it (`explain`,
    /// the simulators).
    pub fn evaluate(&self, check: &Check) -> Outcome {
        self.run(check, true)
    }

    /// [`Authorizer::evaluate`]; `explain: false` skips building the
    /// explanation (the decision is the same).
    fn run(&self, check: &Check, explain: bool) -> Outcome {
        let set = match &self.set {
            Ok(s) => s,
            Err(e) => {
                let summary = format!("the caller's policies could not be loaded: {e}");
                return Outcome {
                    decision: Decision::ImplicitDeny,
                    explanation: Explanation {
                        decision: Decision::ImplicitDeny,
                        summary,
                        deciding_policy_type: None,
                        policies: vec![],
                    },
                };
            }
        };
        let resource_account = self.resource_account(check);
        let ctx = self.context_in(check, resource_account.clone());
        let mut eval: Evaluation<'_> = set.evaluation();
        if let Some(rp) = &check.resource_policy {
            eval = eval.with_resource(&rp.name, &rp.policy);
        }
        if let Some(a) = resource_account {
            eval = eval.with_resource_account(a);
        }
        let mut outcome = if explain {
            evaluate(&eval, &ctx)
        } else {
            let decision = podiam_policy::decide(&eval, &ctx);
            Outcome {
                decision,
                explanation: Explanation {
                    decision,
                    summary: String::new(),
                    deciding_policy_type: None,
                    policies: vec![],
                },
            }
        };
        if outcome.decision != Decision::Allow
            && check.owner_always_allowed
            && let Some(Caller::Root { account, .. }) = self.subject.caller()
            && (check.resource_account.as_deref()).or_else(|| arn_account(&check.resource))
                == Some(account.as_str())
        {
            outcome.explanation.summary = format!(
                "the resource owner's account root may always perform {} (the policies alone said: {})",
                check.action, outcome.explanation.summary
            );
            outcome.decision = Decision::Allow;
            outcome.explanation.decision = Decision::Allow;
        }
        outcome
    }

    /// Decides `check`, notes the decision (with the explanation of a
    /// denial) for the request's audit line, and logs denials.
    pub fn decide(&self, check: &Check) -> Result<(), Denied> {
        // Most calls are allowed: explain only a refusal, which evaluates
        // again (the same decision, with its reasons).
        let mut outcome = self.run(check, false);
        if outcome.decision != Decision::Allow {
            outcome = self.evaluate(check);
        }
        let allowed = outcome.decision == Decision::Allow;
        // Explanations of allowed calls are not kept: they cost and say little.
        crate::audit::note_decision(
            &check.action,
            &check.resource,
            allowed,
            (!allowed).then_some(&outcome.explanation),
        );
        if allowed {
            return Ok(());
        }
        tracing::info!(
            target: "podiam::audit",
            caller = %self.subject.arn(),
            action = %check.action,
            resource = %check.resource,
            decision = %outcome.decision,
            explanation = %outcome.explanation,
            "denied"
        );
        Err(Denied {
            decision: outcome.decision,
            explanation: outcome.explanation,
        })
    }
}

/// `aws:PrincipalTag/*` (given `set` when a policy reads them), the session
/// keys and `aws:ViaAWSService`.
fn caller_keys(
    mut b: RequestContextBuilder,
    caller: &Caller,
    set: Option<&PolicySet>,
    wants: &impl Fn(&str) -> bool,
) -> RequestContextBuilder {
    if wants("aws:ViaAWSService") {
        b = b.key("aws:ViaAWSService", "false");
    }
    for (k, v) in set.map(|s| s.principal_tags.as_slice()).unwrap_or_default() {
        b = b.key(format!("aws:PrincipalTag/{k}"), v.clone());
    }
    if let Caller::Session(s) = caller {
        if wants("aws:TokenIssueTime") {
            b = b.key(
                "aws:TokenIssueTime",
                podiam_core::timefmt::iso8601(s.issued_at),
            );
        }
        // "not present for federated identities".
        if wants("aws:MultiFactorAuthPresent")
            && !matches!(
                s.origin,
                podiam_core::session::SessionOrigin::WebIdentity { .. }
            )
        {
            b = b.key("aws:MultiFactorAuthPresent", "false");
        }
        if let Some(si) = s
            .source_identity
            .as_ref()
            .filter(|_| wants("aws:SourceIdentity"))
        {
            b = b.key("aws:SourceIdentity", si.clone());
        }
        if let podiam_core::session::SessionOrigin::WebIdentity {
            provider_arn,
            subject,
            ..
        } = &s.origin
        {
            if wants("aws:FederatedProvider") {
                b = b.key("aws:FederatedProvider", provider_arn.clone());
            }
            // The user id the provider returned, for the role's own policies
            // (`${server.example.com:sub}`; Login with Amazon and Facebook
            // name it `user_id` and `id`): the IAM User Guide's "Identifying
            // users with web identity federation".
            if let Some((_, url)) = provider_arn.split_once(":oidc-provider/") {
                let sub = format!("{url}:sub");
                if wants(&sub) {
                    b = b.key(sub, subject.clone());
                }
                let alias = match url {
                    "www.amazon.com" => "www.amazon.com:user_id",
                    "graph.facebook.com" => "graph.facebook.com:id",
                    _ => "",
                };
                if !alias.is_empty() && wants(alias) {
                    b = b.key(alias, subject.clone());
                }
            }
        }
    }
    b
}

/// The account field of an ARN, if it names one: `arn:aws:s3:::b` has
/// none, and AWS-managed policies (`arn:aws:iam::aws:policy/…`) belong to
/// no account (every account may read them).
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty() && *a != "aws")
}
