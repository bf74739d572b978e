//! podiam's STS: the query protocol, version 2011-06-15.
//!
//! `AssumeRoleWithWebIdentity` does what AWS STS does, in AWS's order:
//! find the IAM OIDC provider for the token's `iss`, verify the signature
//! with the issuer's JWKS (discovery + cache), check the validity window and
//! the audience against the provider's client ids, then evaluate the role's
//! trust policy with the token's claims as condition keys. Each refusal
//! carries AWS's code and message, and the audit log records which check
//! failed and why.
//!
//! Credentials are sealed session tokens (see `podiam_core::session`): no
//! row is written per session.

mod action;
mod error;
pub mod hints;
mod service;
mod web_identity;

pub use action::{SessionParams, StsRequest, decode};
pub use error::StsError;
pub use web_identity::{Step, StepReport, WebIdentityCheck, WebIdentityGrant};

use podiam_auth::{Caller, Check, RequestMeta, Services, Subject};
use podiam_core::ids::{IdKind, secret_access_key, unique_id};
use podiam_core::session::{SessionClaims, SessionOrigin};
use podiam_core::timefmt::iso8601;
use podiam_core::xml::XmlWriter;
use podiam_oidc::{JwksCache, JwksFetcher};
use podiam_policy::{Policy, PolicyKind};
use std::sync::Arc;

/// STS's XML namespace.
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Role chaining caps sessions at one hour.
const CHAINED_MAX: i64 = 3600;

/// Tokens whose signature verified, by SHA-256 of (token, issuer), with
/// their `exp`: a pod presents the same token for every refresh until the
/// kubelet rotates it, and an RSA check is most of a request's cost.
#[derive(Default)]
struct VerifiedTokens(std::sync::Mutex<std::collections::HashMap<[u8; 32], i64>>);

/// Entries kept in [`VerifiedTokens`].
const VERIFIED_CAPACITY: usize = 65_536;

impl VerifiedTokens {
    fn key(token: &str, issuer: &str) -> [u8; 32] {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(token.as_bytes());
        ctx.update(&[0]);
        ctx.update(issuer.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    fn contains(&self, key: &[u8; 32], now: i64) -> bool {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.get(key).is_some_and(|exp| *exp > now)
    }

    fn insert(&self, key: [u8; 32], exp: i64, now: i64) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= VERIFIED_CAPACITY {
            m.retain(|_, e| *e > now);
            if m.len() >= VERIFIED_CAPACITY {
                m.clear();
            }
        }
        m.insert(key, exp);
    }
}

/// STS: its JWKS cache and tunables.
pub struct Sts {
    jwks: JwksCache,
    verified: VerifiedTokens,
    /// Clock skew tolerated on `exp`/`nbf`/`iat`, seconds.
    pub token_leeway: i64,
    verifier: podiam_sigv4::Verifier,
}

impl std::fmt::Debug for Sts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sts")
            .field("token_leeway", &self.token_leeway)
            .finish_non_exhaustive()
    }
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

impl Sts {
    /// STS fetching issuer keys through `fetcher`.
    pub fn new(fetcher: Arc<dyn JwksFetcher>) -> Self {
        Self {
            jwks: JwksCache::new(fetcher),
            verified: VerifiedTokens::default(),
            token_leeway: 60,
            verifier: podiam_sigv4::Verifier::new(podiam_sigv4::VerifyOptions::new("sts")),
        }
    }

    /// Verifies `token`'s signature with `issuer`'s keys, remembering
    /// successes until the token's `exp`. A remembered token is accepted
    /// again only while the issuer's current key set still holds its `kid`,
    /// so a key removed from the JWKS stops verifying once the set is
    /// refreshed.
    pub async fn verify_signature(
        &self,
        token: &podiam_oidc::UnverifiedToken,
        issuer: &str,
        now: i64,
    ) -> Result<(), podiam_oidc::VerifyError> {
        let key = VerifiedTokens::key(token.as_str(), issuer);
        let key_still_published = || {
            self.jwks
                .cached(issuer, now)
                .is_some_and(|set| token.kid().is_none_or(|kid| set.contains_kid(kid)))
        };
        if self.verified.contains(&key, now) && key_still_published() {
            return Ok(());
        }
        self.jwks.verify_signature(token, issuer, now).await?;
        if let Some(exp) = token.exp() {
            self.verified.insert(key, exp, now);
        }
        Ok(())
    }

    /// The JWKS cache (for `explain` and metrics).
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// Answers one decoded STS request (`action` is its operation name)
    /// with its XML body. `caller` is `None` for unsigned requests, which
    /// may only be `AssumeRoleWithWebIdentity`.
    pub async fn answer(
        &self,
        svc: &Services,
        caller: Option<&Caller>,
        action: &str,
        req: StsRequest,
        meta: &RequestMeta,
        request_id: &str,
    ) -> Result<String, StsError> {
        let body = match (req, caller) {
            (
                StsRequest::AssumeRoleWithWebIdentity {
                    session,
                    token,
                    provider_id,
                },
                _,
            ) => {
                if provider_id.is_some() {
                    return Err(StsError::InvalidIdentityToken(
                        "ProviderId is only supported for OAuth 2.0 access tokens, not OpenID Connect ID tokens".into(),
                    ));
                }
                let check = WebIdentityCheck::run(self, svc, &session, &token, meta).await;
                let grant = match check.result {
                    Ok(g) => {
                        podiam_auth::audit::note_decision(
                            "sts:AssumeRoleWithWebIdentity",
                            &session.role_arn,
                            true,
                            serde_json::Value::Null,
                        );
                        podiam_auth::audit::note_identity(serde_json::json!({
                            "type": "WebIdentityUser",
                            "principalId": format!("{}:{}:{}", g.provider_arn, g.audience, g.subject),
                            "userName": g.subject,
                            "identityProvider": g.provider_arn,
                        }));
                        g
                    }
                    Err(e) => {
                        podiam_auth::audit::note_decision(
                            "sts:AssumeRoleWithWebIdentity",
                            &session.role_arn,
                            false,
                            serde_json::json!({"failedStep": check.failed_step, "explanation": check.explanation, "steps": check.steps}),
                        );
                        tracing::info!(
                            target: "podiam::audit",
                            action = "sts:AssumeRoleWithWebIdentity",
                            role = %session.role_arn,
                            failed_step = ?check.failed_step,
                            explanation = %check.explanation.as_deref().unwrap_or(""),
                            error = %e,
                            "denied"
                        );
                        return Err(e);
                    }
                };
                let issued = self.issue(
                    svc,
                    &session,
                    &grant.role,
                    grant.origin.clone(),
                    grant.tags.clone(),
                    grant.transitive.clone(),
                    grant.source_identity.clone(),
                    false,
                )?;
                render(
                    action,
                    |w| {
                        w.elem("Audience", &grant.audience);
                        assumed_role_user(w, &issued.claims);
                        w.elem("Provider", &grant.provider_arn);
                        credentials(w, &issued);
                        w.elem("SubjectFromWebIdentityToken", &grant.subject);
                        if let Some(n) = issued.packed_policy_size {
                            w.elem("PackedPolicySize", &n.to_string());
                        }
                        w.opt("SourceIdentity", issued.claims.source_identity.as_deref());
                    },
                    request_id,
                )
            }
            (_, None) => {
                return Err(StsError::AccessDenied(
                    "Request is missing Authentication Token".into(),
                ));
            }
            (StsRequest::GetCallerIdentity, Some(c)) => render(
                action,
                |w| {
                    w.elem("Arn", &c.arn())
                        .elem("UserId", &c.user_id())
                        .elem("Account", c.account());
                },
                request_id,
            ),
            (
                StsRequest::AssumeRole {
                    session,
                    external_id,
                    tags,
                    transitive_tag_keys,
                    source_identity,
                },
                Some(c),
            ) => {
                let issued = self.assume_role(
                    svc,
                    c,
                    &session,
                    external_id,
                    tags,
                    transitive_tag_keys,
                    source_identity,
                    meta,
                )?;
                render(
                    action,
                    |w| {
                        credentials(w, &issued);
                        assumed_role_user(w, &issued.claims);
                        if let Some(n) = issued.packed_policy_size {
                            w.elem("PackedPolicySize", &n.to_string());
                        }
                        w.opt("SourceIdentity", issued.claims.source_identity.as_deref());
                    },
                    request_id,
                )
            }
        };
        Ok(body)
    }

    /// `sts:AssumeRole` by `caller` (a role session): evaluates the caller's
    /// policies and the target's trust policy, carries transitive tags over,
    /// and caps the chained session at one hour.
    #[allow(clippy::too_many_arguments)]
    pub fn assume_role(
        &self,
        svc: &Services,
        caller: &Caller,
        session: &SessionParams,
        external_id: Option<String>,
        mut tags: Vec<(String, String)>,
        mut transitive: Vec<String>,
        source_identity: Option<String>,
        meta: &RequestMeta,
    ) -> Result<Issued, StsError> {
        let denied = |action: &str| {
            StsError::AccessDenied(format!(
                "User: {} is not authorized to perform: {action} on resource: {}",
                caller.arn(),
                session.role_arn
            ))
        };
        let Caller::Session(parent) = caller else {
            return Err(StsError::AccessDenied(
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
                    return Err(StsError::Validation(format!(
                        "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session: {k}"
                    )));
                }
                tags.push((k.clone(), v.clone()));
                transitive.push(k.clone());
            }
        }
        check_tags(&tags, &transitive)?;
        let role = lookup_role(svc, &session.role_arn)?.ok_or_else(|| denied("sts:AssumeRole"))?;
        let trust = svc
            .trust_policy(&role)
            .ok_or_else(|| denied("sts:AssumeRole"))?;
        let who = svc.authorizer(Subject::Caller(caller), meta);
        let role_account = role.arn.split(':').nth(4).unwrap_or_default().to_string();
        let mut actions = vec!["sts:AssumeRole"];
        if !tags.is_empty() {
            actions.push("sts:TagSession");
        }
        if source_identity.is_some() {
            actions.push("sts:SetSourceIdentity");
        }
        for action in actions {
            let mut check = Check::new(action, role.arn.clone())
                .key("sts:RoleSessionName", session.session_name.clone());
            if let Some(x) = &external_id {
                check = check.key("sts:ExternalId", x.clone());
            }
            if let Some(s) = &source_identity {
                check = check.key("sts:SourceIdentity", s.clone());
            }
            let check = check
                .with_request_tags(&tags, &transitive)
                .with_resource_policy("trust policy", trust.clone())
                .with_resource_account(role_account.clone());
            if who.decide(&check).is_err() {
                return Err(denied(action));
            }
        }
        let duration = session.duration.unwrap_or(3600);
        if duration > CHAINED_MAX {
            return Err(StsError::Validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into(),
            ));
        }
        let origin = SessionOrigin::AssumeRole {
            source_arn: caller.arn(),
        };
        self.issue(
            svc,
            session,
            &role,
            origin,
            tags,
            transitive,
            source_identity,
            true,
        )
    }

    /// Mints credentials for `role`; validates the duration and session policies.
    #[allow(clippy::too_many_arguments)]
    fn issue(
        &self,
        svc: &Services,
        session: &SessionParams,
        role: &podiam_store::Role,
        origin: SessionOrigin,
        tags: Vec<(String, String)>,
        transitive: Vec<String>,
        source_identity: Option<String>,
        chained: bool,
    ) -> Result<Issued, StsError> {
        let duration = session.duration.unwrap_or(3600);
        if duration > role.max_session_duration {
            return Err(StsError::Validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .into(),
            ));
        }
        mint_session(
            svc,
            session,
            role,
            origin,
            tags,
            transitive,
            source_identity,
            chained,
        )
    }
}

/// Seals a new session for `role`. The caller has authorized it and checked
/// the duration (`session.duration`, default 3600) against its own rules;
/// this validates the session policies and their packed size.
#[allow(clippy::too_many_arguments)]
pub fn mint_session(
    svc: &Services,
    session: &SessionParams,
    role: &podiam_store::Role,
    origin: SessionOrigin,
    tags: Vec<(String, String)>,
    transitive: Vec<String>,
    source_identity: Option<String>,
    chained: bool,
) -> Result<Issued, StsError> {
    let duration = session.duration.unwrap_or(3600);
    if let Some(doc) = &session.policy {
        Policy::parse(doc, PolicyKind::Session)
            .map_err(|e| StsError::MalformedPolicyDocument(e.to_string()))?;
    }
    if session.policy_arns.len() > 10 {
        return Err(StsError::Validation(
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10".into(),
        ));
    }
    let packed = packed_size(session, &tags)?;
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
        origin,
        session_policy: session.policy.clone(),
        policy_arns: session.policy_arns.clone(),
        tags,
        transitive_tag_keys: transitive,
        source_identity,
        chained,
    };
    let token = svc.issue_session(&claims);
    Ok(Issued {
        claims,
        token,
        packed_policy_size: packed,
    })
}

/// Looks a role up by ARN; `None` when the ARN is malformed or the role is
/// missing (callers answer AccessDenied then, as AWS does, without
/// revealing which).
pub fn lookup_role(
    svc: &Services,
    arn: &str,
) -> Result<Option<podiam_store::Versioned<podiam_store::Role>>, StsError> {
    let Some(parsed) = podiam_core::arn::parse_iam_path_arn(arn, "role") else {
        return Ok(None);
    };
    Ok(svc
        .role_by_name(&parsed.account, &parsed.name)?
        .filter(|r| r.arn == arn))
}

/// Session tag limits (IAM User Guide, "Passing session tags in AWS STS").
pub fn check_tags(tags: &[(String, String)], transitive: &[String]) -> Result<(), StsError> {
    if tags.len() > 50 {
        return Err(StsError::Validation(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50".into(),
        ));
    }
    for (i, (k, _)) in tags.iter().enumerate() {
        if tags[..i].iter().any(|(o, _)| o.eq_ignore_ascii_case(k)) {
            return Err(StsError::Validation(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
    }
    for k in transitive {
        if !tags.iter().any(|(t, _)| t.eq_ignore_ascii_case(k)) {
            return Err(StsError::Validation(format!(
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
) -> Result<Option<u32>, StsError> {
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
        return Err(StsError::PackedPolicyTooLarge(format!(
            "Packed policy consumes {pct}% of allotted space, please use smaller policy."
        )));
    }
    Ok(Some(pct as u32))
}

fn credentials(w: &mut XmlWriter, i: &Issued) {
    w.start("Credentials")
        .elem("AccessKeyId", &i.claims.access_key_id)
        .elem("SecretAccessKey", &i.claims.secret_access_key)
        .elem("SessionToken", &i.token)
        .elem("Expiration", &iso8601(i.claims.expires_at))
        .end("Credentials");
}

fn assumed_role_user(w: &mut XmlWriter, c: &SessionClaims) {
    w.start("AssumedRoleUser")
        .elem("AssumedRoleId", &c.assumed_role_id())
        .elem("Arn", &c.assumed_role_arn())
        .end("AssumedRoleUser");
}

fn render(action: &str, f: impl Fn(&mut XmlWriter), request_id: &str) -> String {
    podiam_core::xml::query_response(action, NAMESPACE, request_id, Some(&f))
}
