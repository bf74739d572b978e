//! `AssumeRoleWithWebIdentity`, step by step, in AWS's order.

use crate::action::SessionParams;
use crate::error::StsError;
use crate::{Sts, check_tags, lookup_role, request_tags};
use podiam_auth::{RequestMeta, Services};
use podiam_core::arn::issuer_host_path;
use podiam_core::session::SessionOrigin;
use podiam_oidc::{StsErrorCode, UnverifiedToken, VerifyError};
use podiam_policy::{Decision, Evaluation, Principal, RequestContext, evaluate};
use podiam_store::{OidcProvider, Role, Versioned};
use serde_json::Value;

/// The checks of `AssumeRoleWithWebIdentity`, in the order AWS makes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The request's parameters (role ARN format).
    Request,
    /// The token's structure.
    Token,
    /// The IAM OIDC provider for the token's `iss`.
    Provider,
    /// The signature, with the issuer's JWKS.
    Signature,
    /// `exp` / `nbf` / `iat`.
    Validity,
    /// `aud` against the provider's client ids.
    Audience,
    /// The role exists.
    Role,
    /// The role's trust policy.
    Trust,
}

/// What a successful check yields.
#[derive(Debug, Clone)]
pub struct WebIdentityGrant {
    /// The role.
    pub role: Role,
    /// The OIDC provider ARN (reported as `Provider`).
    pub provider_arn: String,
    /// The token's `sub`.
    pub subject: String,
    /// The matched audience.
    pub audience: String,
    /// The session's origin.
    pub origin: SessionOrigin,
    /// Session tags from the token.
    pub tags: Vec<(String, String)>,
    /// Transitive tag keys from the token.
    pub transitive: Vec<String>,
    /// Source identity from the token.
    pub source_identity: Option<String>,
}

/// The outcome of the checks, with which step failed and why.
#[derive(Debug)]
pub struct WebIdentityCheck {
    /// The grant, or the error the caller sees.
    pub result: Result<WebIdentityGrant, StsError>,
    /// The step that failed.
    pub failed_step: Option<Step>,
    /// A detailed explanation (the policy engine's, for trust failures).
    pub explanation: Option<String>,
}

impl WebIdentityCheck {
    fn fail(step: Step, e: StsError, explanation: Option<String>) -> Self {
        Self {
            result: Err(e),
            failed_step: Some(step),
            explanation,
        }
    }

    /// Runs every check.
    pub async fn run(
        sts: &Sts,
        svc: &Services,
        session: &SessionParams,
        raw: &str,
        meta: &RequestMeta,
    ) -> Self {
        let not_authorized = || {
            StsError::AccessDenied("Not authorized to perform sts:AssumeRoleWithWebIdentity".into())
        };
        let Some(role_arn) = podiam_core::arn::parse_iam_path_arn(&session.role_arn, "role") else {
            return Self::fail(
                Step::Request,
                StsError::Validation("Request ARN is invalid".into()),
                None,
            );
        };
        let token = match UnverifiedToken::parse(raw) {
            Ok(t) => t,
            Err(e) => {
                return Self::fail(
                    Step::Token,
                    StsError::InvalidIdentityToken(e.to_string()),
                    None,
                );
            }
        };
        let Some(iss) = token.issuer().map(str::to_string) else {
            return Self::fail(
                Step::Token,
                StsError::InvalidIdentityToken(
                    "The ID Token provided is missing the iss claim".into(),
                ),
                None,
            );
        };
        let provider = match find_provider(svc, &role_arn.account, &iss) {
            Ok(Some(p)) => p,
            Ok(None) => {
                return Self::fail(
                    Step::Provider,
                    StsError::InvalidIdentityToken(format!(
                        "No OpenIDConnect provider found in your account for {iss}"
                    )),
                    None,
                );
            }
            Err(e) => return Self::fail(Step::Provider, e, None),
        };
        let now = svc.now();
        if let Err(e) = sts
            .jwks()
            .verify_signature(&token, &provider.url, now)
            .await
        {
            let err = match &e {
                VerifyError::Fetch(f) => StsError::IdpCommunication(format!(
                    "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements ({f})"
                )),
                other if other.sts_error_code() == StsErrorCode::ExpiredTokenException => {
                    StsError::ExpiredToken(other.to_string())
                }
                other => StsError::InvalidIdentityToken(other.to_string()),
            };
            return Self::fail(Step::Signature, err, Some(e.to_string()));
        }
        if let Err(e) = token.check_time(now, sts.token_leeway) {
            let err = if e.sts_error_code() == StsErrorCode::ExpiredTokenException {
                StsError::ExpiredToken(e.to_string())
            } else {
                StsError::InvalidIdentityToken(e.to_string())
            };
            return Self::fail(Step::Validity, err, None);
        }
        let audience = match token.check_audience(&provider.client_ids) {
            Ok(a) => a,
            Err(e) => {
                return Self::fail(
                    Step::Audience,
                    StsError::InvalidIdentityToken(e.to_string()),
                    Some(format!(
                        "token aud {:?}, provider client ids {:?}",
                        token.audiences(),
                        provider.client_ids
                    )),
                );
            }
        };
        let subject = token.subject().unwrap_or_default().to_string();
        let (tags, transitive) = match session_tags(token.claims()) {
            Ok(t) => t,
            Err(e) => return Self::fail(Step::Token, e, None),
        };
        let source_identity = token
            .claims()
            .get("https://aws.amazon.com/source_identity")
            .and_then(Value::as_str)
            .map(str::to_string);
        let Some(role) = lookup_role(svc, &session.role_arn).ok().flatten() else {
            return Self::fail(
                Step::Role,
                not_authorized(),
                Some(format!("role {} does not exist", session.role_arn)),
            );
        };
        let Some(trust) = svc.trust_policy(&role) else {
            return Self::fail(
                Step::Trust,
                not_authorized(),
                Some("the role's trust policy does not parse".into()),
            );
        };
        let key_prefix = issuer_host_path(&provider.url).to_string();
        let mut actions = vec!["sts:AssumeRoleWithWebIdentity"];
        if !tags.is_empty() {
            actions.push("sts:TagSession");
        }
        if source_identity.is_some() {
            actions.push("sts:SetSourceIdentity");
        }
        for action in actions {
            let mut b = RequestContext::builder(
                Principal::web_identity(provider.arn.clone()),
                action,
                role.arn.clone(),
            );
            b = meta.apply(b);
            let t = svc.clock.now().unix_timestamp();
            b = b
                .key("aws:CurrentTime", podiam_core::timefmt::iso8601(t))
                .key("aws:EpochTime", t.to_string())
                .key("aws:FederatedProvider", provider.arn.clone())
                .key("sts:RoleSessionName", session.session_name.clone())
                .key(format!("{key_prefix}:sub"), subject.clone())
                .key(format!("{key_prefix}:aud"), audience.clone());
            if let Some(azp) = token.claims().get("azp").and_then(Value::as_str) {
                b = b.key(format!("{key_prefix}:azp"), azp.to_string());
            }
            match token.claims().get("amr") {
                Some(Value::Array(a)) => {
                    b = b.multi_key(
                        format!("{key_prefix}:amr"),
                        a.iter().filter_map(Value::as_str).map(str::to_string),
                    );
                }
                Some(Value::String(s)) => b = b.multi_key(format!("{key_prefix}:amr"), [s.clone()]),
                _ => {}
            }
            if let Some(s) = &source_identity {
                b = b.key("sts:SourceIdentity", s.clone());
            }
            b = request_tags(b, &tags, &transitive);
            let ctx = b.build();
            let outcome = evaluate(&Evaluation::trust("trust policy", &trust), &ctx);
            if outcome.decision != Decision::Allow {
                return Self::fail(
                    Step::Trust,
                    not_authorized(),
                    Some(outcome.explanation.to_string()),
                );
            }
        }
        Self {
            result: Ok(WebIdentityGrant {
                role: (*role.value).clone(),
                provider_arn: provider.arn.clone(),
                origin: SessionOrigin::WebIdentity {
                    provider_arn: provider.arn.clone(),
                    subject: subject.clone(),
                    audience: audience.clone(),
                },
                subject,
                audience,
                tags,
                transitive,
                source_identity,
            }),
            failed_step: None,
            explanation: None,
        }
    }
}

/// The provider registered for `iss` in `account`. The scheme must match
/// too: a provider registered as `https://x` does not serve `http://x`.
pub(crate) fn find_provider(
    svc: &Services,
    account: &str,
    iss: &str,
) -> Result<Option<Versioned<OidcProvider>>, StsError> {
    let key = issuer_host_path(iss);
    Ok(svc
        .store
        .get::<OidcProvider>(account, key)?
        .filter(|p| p.url == iss))
}

/// Session tags and transitive tag keys.
type SessionTags = (Vec<(String, String)>, Vec<String>);

/// Session tags from the `https://aws.amazon.com/tags` claim.
fn session_tags(claims: &serde_json::Map<String, Value>) -> Result<SessionTags, StsError> {
    let Some(v) = claims.get("https://aws.amazon.com/tags") else {
        return Ok((vec![], vec![]));
    };
    let bad = || {
        StsError::InvalidIdentityToken("The session tags claim in the ID Token is invalid".into())
    };
    let obj = v.as_object().ok_or_else(bad)?;
    let mut tags = Vec::new();
    if let Some(pt) = obj.get("principal_tags") {
        for (k, val) in pt.as_object().ok_or_else(bad)? {
            let value = match val {
                Value::Array(a) if a.len() == 1 => a[0].as_str().ok_or_else(bad)?.to_string(),
                Value::String(s) => s.clone(),
                _ => return Err(bad()),
            };
            if k.is_empty() || k.chars().count() > 128 || value.chars().count() > 256 {
                return Err(bad());
            }
            tags.push((k.clone(), value));
        }
    }
    let transitive = match obj.get("transitive_tag_keys") {
        None => vec![],
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad()),
    };
    check_tags(&tags, &transitive)?;
    Ok((tags, transitive))
}
