//! Handling STS calls: the decisions happen here, where the role and its
//! trust policy (the role's resource policy) are known.

mod web_identity;

pub use web_identity::{
    Step, StepReport, WebIdentityCheck, WebIdentityGrant, find_provider, trust_check,
};

use crate::{NAMESPACE, Sts, StsError, StsRequest};
use podiam_auth::sessions::Issued;
use podiam_auth::{Caller, RequestMeta, Services};
use podiam_core::session::SessionClaims;
use podiam_core::timefmt::iso8601;
use podiam_core::xml::XmlWriter;

impl Sts {
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
