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
mod service;
mod web_identity;

pub use action::{StsRequest, decode};
pub use error::StsError;
pub use podiam_auth::sessions::{Issued, SessionParams};
pub use web_identity::{Step, StepReport, WebIdentityCheck, WebIdentityGrant};

use podiam_auth::{Caller, RequestMeta, Services};
use podiam_core::session::SessionClaims;
use podiam_core::timefmt::iso8601;
use podiam_core::xml::XmlWriter;
use podiam_oidc::{JwksCache, JwksFetcher};
use std::sync::Arc;

/// STS's XML namespace.
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

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
                let issued = podiam_auth::sessions::issue(
                    svc,
                    &session,
                    &grant.role,
                    podiam_auth::sessions::Grant {
                        origin: grant.origin.clone(),
                        tags: grant.tags.clone(),
                        transitive: grant.transitive.clone(),
                        source_identity: grant.source_identity.clone(),
                        chained: false,
                    },
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
                let issued = podiam_auth::sessions::assume_role(
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
