//! Combining policies into a decision (IAM User Guide, "Policy evaluation
//! logic", "Determining whether a request is allowed or denied within an
//! account", "Cross-account policy evaluation logic", "Permissions boundaries
//! for IAM entities", "Session policies").

use serde::Serialize;

use crate::condition::{actual_values, first_failure};
use crate::context::{Principal, PrincipalKind, RequestContext};
use crate::explain::{
    Decision, Explanation, Mismatch, PolicyResult, PolicyTrace, PolicyType, PrincipalScope,
    StatementTrace,
};
use crate::matcher::glob_match;
use crate::policy::{Effect, Policy, PolicyKind, PrincipalEntry, Statement};

/// A policy with the name/ARN used to report it.
pub type NamedPolicy<'a> = (&'a str, &'a Policy);

/// All the policies that apply to one request.
///
/// * `identity`: the caller's identity-based policies (user + groups, or role).
/// * `session`: session policies passed when the session was created; `None`
///   (or an empty list) means the session has none and nothing is limited.
/// * `boundary`: the caller's permissions boundary, if any.
/// * `resource`: the resource-based policy: a bucket policy, or a role's trust
///   policy (a policy parsed as [`PolicyKind::Trust`] must itself allow).
/// * `resource_account`: the account owning the resource; when `None` it is
///   taken from the resource ARN, else assumed to be the caller's account.
#[derive(Debug, Clone, Default)]
pub struct Evaluation<'a> {
    /// Identity-based policies of the caller.
    pub identity: Vec<NamedPolicy<'a>>,
    /// Session policies (`None` = no session policy).
    pub session: Option<Vec<NamedPolicy<'a>>>,
    /// Permissions boundary.
    pub boundary: Option<NamedPolicy<'a>>,
    /// Resource-based or trust policy.
    pub resource: Option<NamedPolicy<'a>>,
    /// Account that owns the resource.
    pub resource_account: Option<String>,
    /// Force "the resource policy must itself allow" (KMS key policies behave
    /// like this); trust policies always do.
    pub resource_must_allow: bool,
}

impl<'a> Evaluation<'a> {
    /// An empty evaluation (implicitly denies everything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only a role trust policy (IRSA / Pod Identity / service callers).
    pub fn trust(name: &'a str, policy: &'a Policy) -> Self {
        Self::new().with_resource(name, policy)
    }

    /// Adds an identity-based policy.
    pub fn with_identity(mut self, name: &'a str, policy: &'a Policy) -> Self {
        self.identity.push((name, policy));
        self
    }

    /// Adds a session policy.
    pub fn with_session(mut self, name: &'a str, policy: &'a Policy) -> Self {
        self.session
            .get_or_insert_with(Vec::new)
            .push((name, policy));
        self
    }

    /// Sets the permissions boundary.
    pub fn with_boundary(mut self, name: &'a str, policy: &'a Policy) -> Self {
        self.boundary = Some((name, policy));
        self
    }

    /// Sets the resource-based (or trust) policy.
    pub fn with_resource(mut self, name: &'a str, policy: &'a Policy) -> Self {
        self.resource = Some((name, policy));
        self
    }

    /// Sets the account that owns the resource.
    pub fn with_resource_account(mut self, account: impl Into<String>) -> Self {
        self.resource_account = Some(account.into());
        self
    }
}

/// The decision and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The decision.
    pub decision: Decision,
    /// How it was reached.
    pub explanation: Explanation,
}

/// Result of evaluating one statement.
enum StmtResult {
    Match(Option<PrincipalScope>),
    Miss(MissKind),
}

enum MissKind {
    Principal,
    Action,
    Resource,
    Condition(usize, usize),
}

fn scope_max(a: Option<PrincipalScope>, b: PrincipalScope) -> Option<PrincipalScope> {
    Some(a.map_or(b, |a| a.max(b)))
}

/// How `entries` (a `Principal` element) names the caller, if at all.
fn principal_scope(entries: &[PrincipalEntry], p: &Principal) -> Option<PrincipalScope> {
    let mut best: Option<PrincipalScope> = None;
    let iam = p.is_iam_identity();
    for e in entries {
        let s = match e {
            PrincipalEntry::Everyone => Some(PrincipalScope::Direct),
            PrincipalEntry::AnyAws => {
                (iam || p.kind == PrincipalKind::Anonymous).then_some(PrincipalScope::Direct)
            }
            PrincipalEntry::Account(a) => {
                if iam && p.account.as_deref() == Some(a.as_str()) {
                    if p.kind == PrincipalKind::AccountRoot {
                        Some(PrincipalScope::Direct)
                    } else {
                        Some(PrincipalScope::Account)
                    }
                } else {
                    None
                }
            }
            PrincipalEntry::Arn(x) => match &p.kind {
                PrincipalKind::AssumedRole { role_arn, .. } => {
                    if p.arn.as_deref() == Some(x.as_str()) {
                        Some(PrincipalScope::Direct)
                    } else if role_arn == x {
                        Some(PrincipalScope::Role)
                    } else {
                        None
                    }
                }
                PrincipalKind::IamUser { .. } | PrincipalKind::FederatedUser { .. } => {
                    (p.arn.as_deref() == Some(x.as_str())).then_some(PrincipalScope::Direct)
                }
                _ => None,
            },
            PrincipalEntry::UniqueId(u) => match (&p.kind, p.userid.as_deref()) {
                (PrincipalKind::AssumedRole { .. }, Some(id)) => {
                    (id.split(':').next() == Some(u.as_str())).then_some(PrincipalScope::Role)
                }
                (_, Some(id)) if iam => (id == u).then_some(PrincipalScope::Direct),
                _ => None,
            },
            PrincipalEntry::Federated(f) => match &p.kind {
                PrincipalKind::WebIdentity { provider } => {
                    (f == "*" || f == provider).then_some(PrincipalScope::Direct)
                }
                _ => None,
            },
            PrincipalEntry::Service(s) => match &p.kind {
                PrincipalKind::Service(name) => {
                    (s == "*" || s.eq_ignore_ascii_case(name)).then_some(PrincipalScope::Direct)
                }
                _ => None,
            },
            PrincipalEntry::CanonicalUser(c) => {
                (p.canonical_user.as_deref() == Some(c.as_str())).then_some(PrincipalScope::Direct)
            }
        };
        if let Some(s) = s {
            best = scope_max(best, s);
        }
    }
    best
}

/// One identity the caller is evaluated as, for `NotPrincipal`.
enum ChainLink<'p> {
    Arn(&'p str),
    Account(&'p str),
    Federated(&'p str),
    Service(&'p str),
    Anonymous,
}

/// Whether a `NotPrincipal` statement applies to the caller. AWS checks the
/// account, then the role, then the session (or the account, then the user);
/// the statement applies unless *every* one of them is listed (IAM User
/// Guide, "AWS JSON policy elements: NotPrincipal"). A caller with a
/// permissions boundary is always covered by Deny+NotPrincipal.
fn not_principal_applies(entries: &[PrincipalEntry], p: &Principal, has_boundary: bool) -> bool {
    if has_boundary && p.is_iam_identity() {
        return true;
    }
    let acct = p.account.as_deref().unwrap_or_default();
    let mut chain: Vec<ChainLink<'_>> = Vec::with_capacity(3);
    match &p.kind {
        PrincipalKind::IamUser { .. } | PrincipalKind::FederatedUser { .. } => {
            chain.push(ChainLink::Arn(p.arn.as_deref().unwrap_or_default()));
            chain.push(ChainLink::Account(acct));
        }
        PrincipalKind::AssumedRole { role_arn, .. } => {
            chain.push(ChainLink::Arn(p.arn.as_deref().unwrap_or_default()));
            chain.push(ChainLink::Arn(role_arn));
            chain.push(ChainLink::Account(acct));
        }
        PrincipalKind::AccountRoot => chain.push(ChainLink::Account(acct)),
        PrincipalKind::WebIdentity { provider } => chain.push(ChainLink::Federated(provider)),
        PrincipalKind::Service(s) => chain.push(ChainLink::Service(s)),
        PrincipalKind::Anonymous => chain.push(ChainLink::Anonymous),
    }
    let listed = |link: &ChainLink<'_>| {
        entries.iter().any(|e| match (e, link) {
            (PrincipalEntry::Everyone, _) => true,
            (
                PrincipalEntry::AnyAws,
                ChainLink::Arn(_) | ChainLink::Account(_) | ChainLink::Anonymous,
            ) => true,
            (PrincipalEntry::Account(a), ChainLink::Account(b)) => a == b,
            (PrincipalEntry::Arn(a), ChainLink::Arn(b)) => a == b,
            (PrincipalEntry::UniqueId(u), ChainLink::Arn(_)) => {
                p.userid.as_deref().and_then(|id| id.split(':').next()) == Some(u.as_str())
            }
            (PrincipalEntry::Federated(f), ChainLink::Federated(x)) => f == "*" || f == x,
            (PrincipalEntry::Service(s), ChainLink::Service(x)) => {
                s == "*" || s.eq_ignore_ascii_case(x)
            }
            _ => false,
        })
    };
    chain.iter().any(|l| !listed(l))
}

fn eval_statement(s: &Statement, ctx: &RequestContext, has_boundary: bool) -> StmtResult {
    let mut scope = None;
    if let Some((entries, negated)) = &s.principal {
        if *negated {
            if !not_principal_applies(entries, &ctx.principal, has_boundary) {
                return StmtResult::Miss(MissKind::Principal);
            }
            scope = Some(PrincipalScope::Direct);
        } else {
            match principal_scope(entries, &ctx.principal) {
                Some(sc) => scope = Some(sc),
                None => return StmtResult::Miss(MissKind::Principal),
            }
        }
    }
    let (globs, not_action) = &s.actions;
    let any_action = globs.iter().any(|g| g.matches(&ctx.action_lower));
    if any_action == *not_action {
        return StmtResult::Miss(MissKind::Action);
    }
    if let Some((pats, not_resource)) = &s.resources {
        let any = pats.iter().any(|r| match (&r.glob, &r.template) {
            (Some(g), _) => g.matches(&ctx.resource),
            // An unresolvable variable makes the pattern match nothing.
            (None, Some(t)) => {
                ctx.resource.starts_with(r.literal_prefix.as_str())
                    && t.resolve_prog(Some(ctx))
                        .is_some_and(|p| glob_match(&p, ctx.resource.as_bytes()))
            }
            (None, None) => false,
        });
        if any == *not_resource {
            return StmtResult::Miss(MissKind::Resource);
        }
    }
    if let Some((b, e)) = first_failure(&s.conditions, ctx) {
        return StmtResult::Miss(MissKind::Condition(b, e));
    }
    StmtResult::Match(scope)
}

/// What one policy (or policy set) contributed.
#[derive(Debug, Clone, Copy, Default)]
struct Contribution {
    /// Best scope of an applicable Allow (`Direct` for policies without Principal).
    allow: Option<PrincipalScope>,
    /// First applicable Deny statement: (policy position, statement index).
    deny: Option<(usize, usize)>,
}

struct Evaluator<'c> {
    ctx: &'c RequestContext,
    has_boundary: bool,
    trace: Option<Vec<PolicyTrace>>,
}

impl Evaluator<'_> {
    fn policy(&mut self, ptype: PolicyType, name: &str, policy: &Policy) -> Contribution {
        let mut c = Contribution::default();
        let mut traces = self
            .trace
            .as_ref()
            .map(|_| Vec::with_capacity(policy.inner.statements.len()));
        for s in &policy.inner.statements {
            let r = eval_statement(s, self.ctx, self.has_boundary);
            if let StmtResult::Match(scope) = &r {
                match s.effect {
                    Effect::Allow => {
                        c.allow = scope_max(c.allow, scope.unwrap_or(PrincipalScope::Direct));
                    }
                    Effect::Deny => {
                        if c.deny.is_none() {
                            c.deny = Some((0, s.index));
                        }
                    }
                }
            }
            if let Some(t) = traces.as_mut() {
                t.push(self.statement_trace(s, &r));
            }
        }
        if let (Some(all), Some(statements)) = (self.trace.as_mut(), traces) {
            let result = if c.deny.is_some() {
                PolicyResult::Deny
            } else if c.allow.is_some() {
                PolicyResult::Allow
            } else {
                PolicyResult::NoMatch
            };
            all.push(PolicyTrace {
                policy_type: ptype,
                name: name.to_string(),
                result,
                statements,
            });
        }
        c
    }

    fn set(&mut self, ptype: PolicyType, policies: &[(&str, &Policy)]) -> Contribution {
        let mut total = Contribution::default();
        for (i, (name, p)) in policies.iter().enumerate() {
            let c = self.policy(ptype, name, p);
            if let Some(a) = c.allow {
                total.allow = scope_max(total.allow, a);
            }
            if total.deny.is_none() {
                total.deny = c.deny.map(|(_, s)| (i, s));
            }
        }
        total
    }

    fn statement_trace(&self, s: &Statement, r: &StmtResult) -> StatementTrace {
        let (matched, principal_scope, mismatch) = match r {
            StmtResult::Match(scope) => (true, *scope, None),
            StmtResult::Miss(m) => {
                let mm = match m {
                    MissKind::Principal => Mismatch::Principal,
                    MissKind::Action => Mismatch::Action,
                    MissKind::Resource => Mismatch::Resource,
                    MissKind::Condition(b, e) => {
                        let block = &s.conditions[*b];
                        let entry = &block.entries[*e];
                        Mismatch::Condition {
                            key: entry.key.clone(),
                            operator: block.op.name.clone(),
                            expected: entry.values.iter().map(|v| v.raw.clone()).collect(),
                            actual: actual_values(entry, self.ctx),
                        }
                    }
                };
                (false, None, Some(mm))
            }
        };
        StatementTrace {
            index: s.index,
            sid: s.sid.as_deref().map(str::to_string),
            effect: s.effect,
            matched,
            principal_scope,
            mismatch,
            start: s.start,
            end: s.end,
        }
    }
}

/// Evaluates a request against all applicable policies, with an explanation.
pub fn evaluate(eval: &Evaluation<'_>, ctx: &RequestContext) -> Outcome {
    let (decision, explanation) = run(eval, ctx, true);
    Outcome {
        decision,
        explanation: explanation.unwrap_or_else(|| Explanation {
            decision,
            summary: String::new(),
            deciding_policy_type: None,
            policies: Vec::new(),
        }),
    }
}

/// Like [`evaluate`] but returns only the decision (no allocation for traces).
pub fn decide(eval: &Evaluation<'_>, ctx: &RequestContext) -> Decision {
    run(eval, ctx, false).0
}

fn stmt_label(policy: &Policy, index: usize) -> String {
    match policy
        .inner
        .statements
        .get(index)
        .and_then(|s| s.sid.as_deref())
    {
        Some(sid) if !sid.is_empty() => format!("statement {sid:?}"),
        _ => format!("statement #{index}"),
    }
}

/// Collects the summary only when explaining (keeps `decide` allocation-free).
struct Say {
    on: bool,
    summary: Option<String>,
    deciding: Option<PolicyType>,
}

impl Say {
    fn say(&mut self, f: impl FnOnce() -> (String, PolicyType)) {
        if self.on {
            let (s, t) = f();
            self.summary = Some(s);
            self.deciding = Some(t);
        }
    }
}

fn run(
    eval: &Evaluation<'_>,
    ctx: &RequestContext,
    explain: bool,
) -> (Decision, Option<Explanation>) {
    let has_boundary = eval.boundary.is_some();
    let mut ev = Evaluator {
        ctx,
        has_boundary,
        trace: explain.then(Vec::new),
    };
    let sessions: Option<&[(&str, &Policy)]> = eval.session.as_deref().filter(|s| !s.is_empty());
    let resource_type = |p: &Policy| {
        if p.kind() == PolicyKind::Trust {
            PolicyType::Trust
        } else {
            PolicyType::Resource
        }
    };
    let res = eval
        .resource
        .map(|(n, p)| (resource_type(p), n, p, ev.policy(resource_type(p), n, p)));
    let ident = ev.set(PolicyType::Identity, &eval.identity);
    let bound = eval
        .boundary
        .map(|(n, p)| (n, p, ev.policy(PolicyType::Boundary, n, p)));
    let sess = sessions.map(|s| (s, ev.set(PolicyType::Session, s)));
    let mut say = Say {
        on: explain,
        summary: None,
        deciding: None,
    };

    // 1. Any applicable explicit Deny, in any policy type, wins.
    let mut denied: Option<(PolicyType, &str, &Policy, usize)> = None;
    if let Some((t, n, p, c)) = &res
        && let Some((_, i)) = c.deny
    {
        denied = Some((*t, n, p, i));
    }
    if denied.is_none()
        && let Some((pi, i)) = ident.deny
    {
        let (n, p) = eval.identity[pi];
        denied = Some((PolicyType::Identity, n, p, i));
    }
    if denied.is_none()
        && let Some((n, p, c)) = &bound
        && let Some((_, i)) = c.deny
    {
        denied = Some((PolicyType::Boundary, n, p, i));
    }
    if denied.is_none()
        && let Some((s, c)) = &sess
        && let Some((pi, i)) = c.deny
    {
        let (n, p) = s[pi];
        denied = Some((PolicyType::Session, n, p, i));
    }
    let decision = if let Some((t, n, p, i)) = denied {
        say.say(|| {
            (
                format!(
                    "explicitly denied by {} {n:?} ({})",
                    t.label(),
                    stmt_label(p, i)
                ),
                t,
            )
        });
        Decision::ExplicitDeny
    } else {
        let res = res.as_ref().map(|(t, n, _, c)| (*t, *n, *c));
        decide_allow(
            eval,
            ctx,
            res,
            ident,
            bound.map(|b| b.2),
            sess.map(|s| s.1),
            &mut say,
        )
    };
    let explanation = explain.then(|| Explanation {
        decision,
        summary: say.summary.unwrap_or_default(),
        deciding_policy_type: say.deciding,
        policies: ev.trace.unwrap_or_default(),
    });
    (decision, explanation)
}

fn decide_allow(
    eval: &Evaluation<'_>,
    ctx: &RequestContext,
    res: Option<(PolicyType, &str, Contribution)>,
    ident: Contribution,
    bound: Option<Contribution>,
    sess: Option<Contribution>,
    say: &mut Say,
) -> Decision {
    let p = &ctx.principal;
    let what = || format!("{} on {}", ctx.action, ctx.resource);
    let boundary_ok = bound.is_none_or(|b| b.allow.is_some());
    // A federated user's credentials (GetFederationToken) have no
    // permissions of their own without a session policy.
    let federated = matches!(p.kind, PrincipalKind::FederatedUser { .. });
    let session_ok = sess.map_or(!federated, |s| s.allow.is_some());
    let is_root = p.kind == PrincipalKind::AccountRoot;
    let identity_allows = is_root || ident.allow.is_some();
    // Identity ∩ boundary ∩ session: boundaries and session policies never grant.
    let identity_side =
        p.is_iam_identity() && identity_allows && (is_root || (boundary_ok && session_ok));
    // Why the identity side fails, for explanations.
    let identity_reason = || -> (String, PolicyType) {
        if !p.is_iam_identity() {
            (
                "the caller has no identity-based policies".to_string(),
                PolicyType::Identity,
            )
        } else if !identity_allows {
            if eval.identity.is_empty() {
                (
                    format!("no identity policy allows {} (none attached)", what()),
                    PolicyType::Identity,
                )
            } else {
                (
                    format!("no statement in the identity policies allows {}", what()),
                    PolicyType::Identity,
                )
            }
        } else if !boundary_ok {
            (
                "allowed by identity policy, but no statement in the permissions boundary allows it"
                    .to_string(),
                PolicyType::Boundary,
            )
        } else if sess.is_none() {
            (
                "allowed by identity policy, but a federated user's session has no session policy"
                    .to_string(),
                PolicyType::Session,
            )
        } else {
            (
                "allowed by identity policy, but no statement in the session policy allows it"
                    .to_string(),
                PolicyType::Session,
            )
        }
    };
    let allowed_by_identity = || {
        (
            format!("allowed by identity policy: {}", what()),
            PolicyType::Identity,
        )
    };

    let resource_account = eval
        .resource_account
        .clone()
        .or_else(|| crate::context::arn_account(&ctx.resource));
    let same_account = match (&resource_account, &p.account) {
        (Some(r), Some(c)) => r == c,
        _ => true,
    };

    let Some((rtype, rname, rc)) = res else {
        // Another account's resource: its owner must grant access in a
        // resource-based policy, and there is none.
        if !same_account && p.is_iam_identity() {
            say.say(|| {
                let why = if identity_side {
                    "allowed by identity policy, but ".to_string()
                } else {
                    String::new()
                };
                (
                    format!(
                        "cross-account request: {why}the resource's account {} grants nothing (no resource-based policy)",
                        resource_account.as_deref().unwrap_or_default()
                    ),
                    PolicyType::Resource,
                )
            });
            return Decision::ImplicitDeny;
        }
        if identity_side {
            say.say(allowed_by_identity);
            return Decision::Allow;
        }
        say.say(identity_reason);
        return Decision::ImplicitDeny;
    };
    let must_allow = rtype == PolicyType::Trust || eval.resource_must_allow;
    let no_resource_allow = || {
        (
            format!(
                "no statement in the {} {rname:?} allows {} for this principal",
                rtype.label(),
                what()
            ),
            rtype,
        )
    };

    let Some(scope) = rc.allow else {
        if must_allow || !p.is_iam_identity() {
            say.say(no_resource_allow);
            return Decision::ImplicitDeny;
        }
        if !same_account {
            if identity_side {
                say.say(|| {
                    let (why, t) = no_resource_allow();
                    (
                        format!("cross-account request: allowed by identity policy, but {why}"),
                        t,
                    )
                });
            } else {
                say.say(|| {
                    let (why, t) = identity_reason();
                    (format!("cross-account request: {why}"), t)
                });
            }
            return Decision::ImplicitDeny;
        }
        // Same account: an identity-policy Allow suffices.
        if identity_side {
            say.say(allowed_by_identity);
            return Decision::Allow;
        }
        say.say(identity_reason);
        return Decision::ImplicitDeny;
    };

    // The resource/trust policy allows the caller.
    if !p.is_iam_identity() {
        say.say(|| (format!("allowed by {} {rname:?}", rtype.label()), rtype));
        return Decision::Allow;
    }
    if !same_account {
        // Cross-account: the identity side must allow too.
        if identity_side {
            say.say(|| {
                (
                    format!(
                        "cross-account request allowed by both the identity policy and the {} {rname:?}",
                        rtype.label()
                    ),
                    rtype,
                )
            });
            return Decision::Allow;
        }
        say.say(|| {
            let (why, t) = identity_reason();
            (
                format!(
                    "cross-account request: allowed by {} {rname:?}, but {why}",
                    rtype.label()
                ),
                t,
            )
        });
        return Decision::ImplicitDeny;
    }
    match scope {
        PrincipalScope::Direct => {
            say.say(|| {
                (
                    format!(
                        "allowed by {} {rname:?}, which names the caller",
                        rtype.label()
                    ),
                    rtype,
                )
            });
            Decision::Allow
        }
        // A role ARN grant is still limited by the boundary and session policies.
        PrincipalScope::Role if boundary_ok && session_ok => {
            say.say(|| {
                (
                    format!(
                        "allowed by {} {rname:?}, which names the caller's role",
                        rtype.label()
                    ),
                    rtype,
                )
            });
            Decision::Allow
        }
        PrincipalScope::Role => {
            let t = if boundary_ok {
                PolicyType::Session
            } else {
                PolicyType::Boundary
            };
            say.say(|| {
                (
                    format!(
                        "allowed by {} {rname:?} for the role ARN, but no statement in the {} allows it",
                        rtype.label(),
                        t.label()
                    ),
                    t,
                )
            });
            Decision::ImplicitDeny
        }
        // Naming only the account delegates to the account's identity policies.
        PrincipalScope::Account if identity_side => {
            say.say(|| {
                (
                    format!(
                        "the {} {rname:?} names only the account, and the identity policy allows it",
                        rtype.label()
                    ),
                    PolicyType::Identity,
                )
            });
            Decision::Allow
        }
        PrincipalScope::Account => {
            say.say(|| {
                let (why, t) = identity_reason();
                (
                    format!(
                        "the {} {rname:?} names only the account, so an identity policy must also allow it: {why}",
                        rtype.label()
                    ),
                    t,
                )
            });
            Decision::ImplicitDeny
        }
    }
}
