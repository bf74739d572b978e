//! Minting sessions, shared by STS (AssumeRole*, web identity) and
//! eks-auth (Pod Identity, instance roles): the session's claims sealed into
//! its token, the limits on session policies and tags, and role chaining.

use crate::decide::{Check, Subject};
use crate::{Caller, RequestMeta, Services};
use podiam_core::ids::{IdKind, secret_access_key, unique_id};
use podiam_core::session::{SessionClaims, SessionOrigin};
use podiam_policy::{Policy, PolicyKind};

/// Chained sessions (AssumeRole by a role session) last at most an hour.
const CHAINED_MAX: i64 = 3600;

/// Why a session cannot be minted. Each service maps it to its own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// A parameter violates its constraints.
    #[error("{0}")]
    Validation(String),
    /// The session policy is not valid.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// Session policies and tags exceed the packed size.
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    /// The caller's policies or the role's trust policy do not allow it.
    #[error("{0}")]
    AccessDenied(String),
    /// The store failed.
    #[error("{0}")]
    ServiceUnavailable(String),
}

impl From<podiam_store::StoreError> for SessionError {
    fn from(e: podiam_store::StoreError) -> Self {
        SessionError::ServiceUnavailable(e.to_string())
    }
}

/// Parameters shared by the AssumeRole* actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams {
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `DurationSeconds` (900..=43200).
    pub duration: Option<i64>,
    /// `Policy` (inline session policy).
    pub policy: Option<String>,
    /// `PolicyArns.member.N.arn`.
    pub policy_arns: Vec<String>,
}

/// Issued credentials plus what the response reports.
#[derive(Debug, Clone)]
pub struct Issued {
    /// What the session token carries.
    pub claims: SessionClaims,
    /// The sealed session token.
    pub token: String,
    /// `PackedPolicySize`, when session policies or tags were passed.
    pub packed_policy_size: Option<u32>,
}

/// `sts:AssumeRole` by `caller` (a role session): evaluates the caller's
/// policies and the target's trust policy, carries transitive tags over,
/// and caps the chained session at one hour.
#[allow(clippy::too_many_arguments)]
pub fn assume_role(
    svc: &Services,
    caller: &Caller,
    session: &SessionParams,
    external_id: Option<String>,
    mut tags: Vec<(String, String)>,
    mut transitive: Vec<String>,
    source_identity: Option<String>,
    meta: &RequestMeta,
) -> Result<Issued, SessionError> {
    let denied = |action: &str| {
        SessionError::AccessDenied(format!(
            "User: {} is not authorized to perform: {action} on resource: {}",
            caller.arn(),
            session.role_arn
        ))
    };
    let Caller::Session(parent) = caller else {
        return Err(SessionError::AccessDenied(
            "Roles may not be assumed by root accounts.".into(),
        ));
    };
    // Transitive tags of the parent session carry over and cannot be overridden.
    for k in &parent.transitive_tag_keys {
        if let Some((_, v)) = parent
            .tags
            .iter()
            .find(|(pk, _)| pk.eq_ignore_ascii_case(k))
        {
            if tags.iter().any(|(tk, _)| tk.eq_ignore_ascii_case(k)) {
                return Err(SessionError::Validation(format!(
                    "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session: {k}"
                )));
            }
            tags.push((k.clone(), v.clone()));
            transitive.push(k.clone());
        }
    }
    check_tags(&tags, &transitive)?;
    // "The source identity value persists across chained role sessions …
    // After the source identity is set, the value cannot be changed" (the
    // AssumeRole reference): inherited, and checked as
    // `sts:SetSourceIdentity` on each role of the chain.
    let source_identity = match (&parent.source_identity, source_identity) {
        (Some(inherited), Some(asked)) if *inherited != asked => {
            return Err(denied("sts:SetSourceIdentity"));
        }
        (Some(inherited), _) => Some(inherited.clone()),
        (None, asked) => asked,
    };
    let role = lookup_role(svc, &session.role_arn)?.ok_or_else(|| denied("sts:AssumeRole"))?;
    let trust = svc
        .trust_policy(&role)
        .ok_or_else(|| denied("sts:AssumeRole"))?;
    let who = svc.authorizer(Subject::Caller(caller), meta);
    let request = AssumeRoleRequest {
        role_arn: &role.arn,
        session_name: &session.session_name,
        external_id: external_id.as_deref(),
        source_identity: source_identity.as_deref(),
        tags: &tags,
        transitive: &transitive,
    };
    for check in request.checks(&trust) {
        if who.decide(&check).is_err() {
            return Err(denied(check.action.as_ref()));
        }
    }
    let duration = session.duration.unwrap_or(3600);
    if duration > CHAINED_MAX {
        return Err(SessionError::Validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into(),
        ));
    }
    let origin = SessionOrigin::AssumeRole {
        source_arn: caller.arn(),
    };
    issue(
        svc,
        session,
        &role,
        Grant {
            origin,
            tags,
            transitive,
            source_identity,
            chained: true,
        },
    )
}

/// What an `sts:AssumeRole` asks of the target role, for its checks.
#[derive(Debug, Clone, Copy)]
pub struct AssumeRoleRequest<'a> {
    /// The target role.
    pub role_arn: &'a str,
    /// `RoleSessionName`.
    pub session_name: &'a str,
    /// `ExternalId`.
    pub external_id: Option<&'a str>,
    /// `SourceIdentity`.
    pub source_identity: Option<&'a str>,
    /// Session tags, the caller's transitive ones included.
    pub tags: &'a [(String, String)],
    /// Transitive tag keys.
    pub transitive: &'a [String],
}

impl AssumeRoleRequest<'_> {
    /// The checks the caller must pass, each against the role's `trust`
    /// policy: `sts:AssumeRole`, and `sts:TagSession` or
    /// `sts:SetSourceIdentity` when the request carries them.
    pub fn checks(&self, trust: &Policy) -> Vec<Check> {
        let role_account = self.role_arn.split(':').nth(4).unwrap_or_default();
        let mut actions = vec!["sts:AssumeRole"];
        if !self.tags.is_empty() {
            actions.push("sts:TagSession");
        }
        if self.source_identity.is_some() {
            actions.push("sts:SetSourceIdentity");
        }
        actions
            .into_iter()
            .map(|action| {
                let mut check = Check::new(action, self.role_arn.to_string())
                    .key("sts:RoleSessionName", self.session_name.to_string());
                if let Some(x) = self.external_id {
                    check = check.key("sts:ExternalId", x.to_string());
                }
                if let Some(s) = self.source_identity {
                    check = check.key("sts:SourceIdentity", s.to_string());
                }
                check
                    .with_request_tags(self.tags, self.transitive)
                    .with_resource_policy("trust policy", trust.clone())
                    .with_resource_account(role_account.to_string())
            })
            .collect()
    }
}

/// What a new session carries besides its request parameters.
#[derive(Debug, Clone)]
pub struct Grant {
    /// How the session came about.
    pub origin: SessionOrigin,
    /// Session tags.
    pub tags: Vec<(String, String)>,
    /// Transitive tag keys.
    pub transitive: Vec<String>,
    /// `SourceIdentity`.
    pub source_identity: Option<String>,
    /// Made by role chaining.
    pub chained: bool,
}

impl Grant {
    /// A grant with no tags or source identity.
    pub fn new(origin: SessionOrigin) -> Grant {
        Grant {
            origin,
            tags: Vec::new(),
            transitive: Vec::new(),
            source_identity: None,
            chained: false,
        }
    }
}

/// Mints credentials for `role` within its `MaxSessionDuration` (STS).
pub fn issue(
    svc: &Services,
    session: &SessionParams,
    role: &podiam_store::Role,
    grant: Grant,
) -> Result<Issued, SessionError> {
    let duration = session.duration.unwrap_or(3600);
    if duration > role.max_session_duration {
        return Err(SessionError::Validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .into(),
        ));
    }
    mint_session(svc, session, role, grant)
}

/// Seals a new session for `role`. The caller has authorized it and checked
/// the duration (`session.duration`, default 3600) against its own rules;
/// this validates the session policies and their packed size.
pub fn mint_session(
    svc: &Services,
    session: &SessionParams,
    role: &podiam_store::Role,
    grant: Grant,
) -> Result<Issued, SessionError> {
    let (claims, packed_policy_size) = session_claims(svc, session, role, grant)?;
    let token = svc.issue_session(&claims);
    Ok(Issued {
        claims,
        token,
        packed_policy_size,
    })
}

/// What a new session for `role` would carry, with its packed policy size,
/// unsealed: `explain`'s what-if decides as such a session without minting
/// one.
pub fn session_claims(
    svc: &Services,
    session: &SessionParams,
    role: &podiam_store::Role,
    grant: Grant,
) -> Result<(SessionClaims, Option<u32>), SessionError> {
    let duration = session.duration.unwrap_or(3600);
    if let Some(doc) = &session.policy {
        Policy::parse(doc, PolicyKind::Session)
            .map_err(|e| SessionError::MalformedPolicyDocument(e.to_string()))?;
    }
    if session.policy_arns.len() > 10 {
        return Err(SessionError::Validation(
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10".into(),
        ));
    }
    let packed = packed_size(session, &grant.tags)?;
    let now = svc.now();
    let rng = svc.rng.as_ref();
    let claims = SessionClaims {
        access_key_id: unique_id(rng, IdKind::TemporaryAccessKey),
        secret_access_key: secret_access_key(rng),
        account: role.arn.split(':').nth(4).unwrap_or_default().to_string(),
        role_arn: role.arn.clone(),
        role_id: role.id.clone(),
        role_name: role.name.clone(),
        session_name: session.session_name.clone(),
        issued_at: now,
        expires_at: now + duration,
        origin: grant.origin,
        session_policy: session.policy.clone(),
        policy_arns: session.policy_arns.clone(),
        tags: grant.tags,
        transitive_tag_keys: grant.transitive,
        source_identity: grant.source_identity,
        chained: grant.chained,
    };
    Ok((claims, packed))
}

/// Looks a role up by ARN; `None` when the ARN is malformed or the role is
/// missing (callers answer AccessDenied then, as AWS does, without
/// revealing which).
pub fn lookup_role(
    svc: &Services,
    arn: &str,
) -> Result<Option<podiam_store::Versioned<podiam_store::Role>>, SessionError> {
    let Some(parsed) = podiam_core::arn::parse_iam_path_arn(arn, "role") else {
        return Ok(None);
    };
    Ok(svc
        .role_by_name(&parsed.account, &parsed.name)?
        .filter(|r| r.arn == arn))
}

/// Session tag limits (IAM User Guide, "Passing session tags in AWS STS").
pub fn check_tags(tags: &[(String, String)], transitive: &[String]) -> Result<(), SessionError> {
    if tags.len() > 50 {
        return Err(SessionError::Validation(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50".into(),
        ));
    }
    for (i, (k, _)) in tags.iter().enumerate() {
        if tags[..i].iter().any(|(o, _)| o.eq_ignore_ascii_case(k)) {
            return Err(SessionError::Validation(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
    }
    for k in transitive {
        if !tags.iter().any(|(t, _)| t.eq_ignore_ascii_case(k)) {
            return Err(SessionError::Validation(format!(
                "The specified transitive tag key must be included in the requested tags: {k}"
            )));
        }
    }
    Ok(())
}

/// The packed size AWS reports, as a percentage of the limit; `None` when no
/// session policy or tag was passed. Over 100% is `PackedPolicyTooLarge`.
fn packed_size(
    session: &SessionParams,
    tags: &[(String, String)],
) -> Result<Option<u32>, SessionError> {
    if session.policy.is_none() && session.policy_arns.is_empty() && tags.is_empty() {
        return Ok(None);
    }
    let policy_chars: usize = session
        .policy
        .as_deref()
        .map_or(0, |p| p.chars().filter(|c| !c.is_whitespace()).count());
    let arn_chars: usize = session.policy_arns.iter().map(String::len).sum();
    let tag_chars: usize = tags.iter().map(|(k, v)| k.len() + v.len()).sum();
    // Policies and tags share one packed budget; AWS compresses, so its
    // numbers are lower — this is deliberately conservative.
    let pct = ((policy_chars + arn_chars) * 100).div_ceil(2048) + (tag_chars * 100).div_ceil(4096);
    if pct > 100 {
        return Err(SessionError::PackedPolicyTooLarge(format!(
            "Packed policy consumes {pct}% of allotted space, please use smaller policy."
        )));
    }
    Ok(Some(pct as u32))
}
