//! `AssumeRoleWithWebIdentity`, step by step, in AWS's order.

use crate::Sts;
use crate::error::StsError;
use podiam_auth::sessions::{SessionParams, check_tags, lookup_role};
use podiam_auth::{Check, RequestMeta, Services, Subject};
use podiam_core::arn::issuer_host_path;
use podiam_core::session::SessionOrigin;
use podiam_oidc::{StsErrorCode, UnverifiedToken, VerifyError};
use podiam_policy::Decision;
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
    /// The Pod Identity association for the service account.
    Association,
    /// The role exists.
    Role,
    /// The role's trust policy.
    Trust,
    /// The requested duration against the role's MaxSessionDuration.
    Duration,
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

/// One line of the checklist: a step, whether it passed, what was seen,
/// and for a failure a concrete fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// Whether it passed.
    pub ok: bool,
    /// What was checked, with actual versus expected values.
    pub detail: String,
    /// For a failure: what to change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
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
    /// Every step taken, in order, up to and including the failing one.
    pub steps: Vec<StepReport>,
}

/// Collects step reports while the checks run. Passed steps are only
/// described when `record` is set (explain): the hot path pays for the
/// failing step's report alone.
#[derive(Default)]
struct Checklist {
    steps: Vec<StepReport>,
    record: bool,
}

impl Checklist {
    fn pass(&mut self, step: Step, detail: impl FnOnce() -> String) {
        if self.record {
            self.steps.push(StepReport {
                step,
                ok: true,
                detail: detail(),
                fix: None,
            });
        }
    }

    fn fail(
        mut self,
        step: Step,
        e: StsError,
        detail: String,
        fix: Option<String>,
        explanation: Option<String>,
    ) -> WebIdentityCheck {
        self.steps.push(StepReport {
            step,
            ok: false,
            detail,
            fix,
        });
        WebIdentityCheck {
            result: Err(e),
            failed_step: Some(step),
            explanation,
            steps: self.steps,
        }
    }
}

fn list(v: &[String]) -> String {
    format!("[{}]", v.join(", "))
}

impl WebIdentityCheck {
    /// Runs every check, describing only a failure (the STS hot path).
    pub async fn run(
        sts: &Sts,
        svc: &Services,
        session: &SessionParams,
        raw: &str,
        meta: &RequestMeta,
    ) -> Self {
        Self::run_with(sts, svc, session, raw, meta, false).await
    }

    /// Runs every check, describing every step (`podiam explain`).
    pub async fn explain(
        sts: &Sts,
        svc: &Services,
        session: &SessionParams,
        raw: &str,
        meta: &RequestMeta,
    ) -> Self {
        Self::run_with(sts, svc, session, raw, meta, true).await
    }

    async fn run_with(
        sts: &Sts,
        svc: &Services,
        session: &SessionParams,
        raw: &str,
        meta: &RequestMeta,
        record: bool,
    ) -> Self {
        let not_authorized = || {
            StsError::AccessDenied("Not authorized to perform sts:AssumeRoleWithWebIdentity".into())
        };
        let mut c = Checklist {
            steps: Vec::new(),
            record,
        };
        let Some(role_arn) = podiam_core::arn::parse_iam_path_arn(&session.role_arn, "role") else {
            return c.fail(
                Step::Request,
                StsError::Validation("Request ARN is invalid".into()),
                format!("{:?} is not a role ARN", session.role_arn),
                Some("use arn:aws:iam::ACCOUNT:role/NAME".into()),
                None,
            );
        };
        let token = match UnverifiedToken::parse(raw) {
            Ok(t) => t,
            Err(e) => {
                return c.fail(
                    Step::Token,
                    StsError::InvalidIdentityToken(e.to_string()),
                    e.to_string(),
                    Some("pass the projected service-account token file's contents".into()),
                    None,
                );
            }
        };
        let Some(iss) = token.issuer().map(str::to_string) else {
            return c.fail(
                Step::Token,
                StsError::InvalidIdentityToken(
                    "The ID Token provided is missing the iss claim".into(),
                ),
                "the token has no iss claim".into(),
                None,
                None,
            );
        };
        let now = svc.now();
        c.pass(Step::Token, || {
            format!(
                "alg {}, kid {}, iss {iss}, sub {}, aud {}, {}",
                token.header_alg(),
                token.kid().unwrap_or("(none)"),
                token.subject().unwrap_or("(none)"),
                list(token.audiences()),
                match token.exp() {
                    Some(exp) if exp > now => format!("expires in {} s", exp - now),
                    Some(exp) => format!("expired {} s ago", now - exp),
                    None => "no exp".into(),
                }
            )
        });
        let provider = match find_provider(svc, &role_arn.account, &iss) {
            Ok(Some(p)) => p,
            Ok(None) => {
                let fix = provider_near_misses(svc, &role_arn.account, &iss).unwrap_or_else(|| {
                    format!("aws iam create-open-id-connect-provider --url {iss} --client-id-list sts.amazonaws.com")
                });
                return c.fail(
                    Step::Provider,
                    StsError::InvalidIdentityToken(format!(
                        "No OpenIDConnect provider found in your account for {iss}"
                    )),
                    format!(
                        "no IAM OIDC provider in account {} for issuer {iss}",
                        role_arn.account
                    ),
                    Some(fix),
                    None,
                );
            }
            Err(e) => return c.fail(Step::Provider, e.clone(), e.to_string(), None, None),
        };
        c.pass(Step::Provider, || {
            format!(
                "{} (client ids {})",
                provider.arn,
                list(&provider.client_ids)
            )
        });
        if let Err(e) = sts.verify_signature(&token, &provider.url, now).await {
            let err = match &e {
                // STS's answer when the issuer's keys cannot be fetched (its
                // double space included); the cause goes to the audit line.
                VerifyError::Fetch(_) => StsError::InvalidIdentityToken(
                    "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements".into(),
                ),
                other if other.sts_error_code() == StsErrorCode::ExpiredTokenException => {
                    StsError::ExpiredToken(other.to_string())
                }
                other => StsError::InvalidIdentityToken(other.to_string()),
            };
            let fix = match &e {
                VerifyError::Fetch(_) => format!("make {iss}/.well-known/openid-configuration and its jwks_uri reachable from podiam"),
                _ => "the token was not signed by one of the issuer's published keys: mint it from this cluster's issuer, or publish the signing key in the issuer's JWKS".into(),
            };
            return c.fail(
                Step::Signature,
                err,
                e.to_string(),
                Some(fix),
                Some(e.to_string()),
            );
        }
        c.pass(Step::Signature, || {
            format!(
                "{} signature verified with the issuer's JWKS",
                token.header_alg()
            )
        });
        if let Err(e) = token.check_time(now, sts.token_leeway) {
            let err = if e.sts_error_code() == StsErrorCode::ExpiredTokenException {
                StsError::ExpiredToken(e.to_string())
            } else {
                StsError::InvalidIdentityToken(e.to_string())
            };
            return c.fail(
                Step::Validity,
                err,
                e.to_string(),
                Some("mint a fresh token; the kubelet refreshes projected tokens at 80% of their lifetime, so a pod reading its file each time never sends an expired one".into()),
                None,
            );
        }
        c.pass(Step::Validity, || {
            format!("valid now ({} s left)", token.exp().map_or(0, |e| e - now))
        });
        let audience = match token.check_audience(&provider.client_ids) {
            Ok(a) => a,
            Err(e) => {
                let aud = token.audiences().first().cloned().unwrap_or_default();
                return c.fail(
                    Step::Audience,
                    StsError::InvalidIdentityToken(e.to_string()),
                    format!("token aud {} is not among the provider's client ids {}", list(token.audiences()), list(&provider.client_ids)),
                    Some(format!(
                        "aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {} --client-id {aud}   (or mint the token with --audience {})",
                        provider.arn,
                        provider.client_ids.first().map_or("sts.amazonaws.com", String::as_str)
                    )),
                    Some(format!("token aud {:?}, provider client ids {:?}", token.audiences(), provider.client_ids)),
                );
            }
        };
        c.pass(Step::Audience, || {
            format!("aud {audience} is a client id of the provider")
        });
        let subject = token.subject().unwrap_or_default().to_string();
        let (tags, transitive) = match session_tags(token.claims()) {
            Ok(t) => t,
            Err(e) => return c.fail(Step::Token, e.clone(), e.to_string(), None, None),
        };
        let source_identity = token
            .claims()
            .get("https://aws.amazon.com/source_identity")
            .and_then(Value::as_str)
            .map(str::to_string);
        let Some(role) = lookup_role(svc, &session.role_arn).ok().flatten() else {
            return c.fail(
                Step::Role,
                not_authorized(),
                format!("role {} does not exist", session.role_arn),
                Some(format!("aws iam create-role --role-name {} --assume-role-policy-document file://trust.json", role_arn.name)),
                Some(format!("role {} does not exist", session.role_arn)),
            );
        };
        let duration = session.duration.unwrap_or(3600);
        c.pass(Step::Role, || {
            format!(
                "{} ({}, MaxSessionDuration {} s)",
                role.arn, role.id, role.max_session_duration
            )
        });
        let Some(trust) = svc.trust_policy(&role) else {
            return c.fail(
                Step::Trust,
                not_authorized(),
                "the role's trust policy does not parse".into(),
                None,
                None,
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
        let who = svc.authorizer(
            Subject::WebIdentity {
                provider: &provider.arn,
            },
            meta,
        );
        for action in actions {
            let mut check = trust_check(action, &role.arn, &key_prefix, &subject, &audience)
                .key("sts:RoleSessionName", session.session_name.clone());
            if let Some(azp) = token.claims().get("azp").and_then(Value::as_str) {
                check = check.key(format!("{key_prefix}:azp"), azp.to_string());
            }
            match token.claims().get("amr") {
                Some(Value::Array(a)) => check.multi_keys.push((
                    format!("{key_prefix}:amr"),
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                )),
                Some(Value::String(s)) => check
                    .multi_keys
                    .push((format!("{key_prefix}:amr"), vec![s.clone()])),
                _ => {}
            }
            if let Some(s) = &source_identity {
                check = check.key("sts:SourceIdentity", s.clone());
            }
            let check = check
                .with_request_tags(&tags, &transitive)
                .with_resource_policy("trust policy", trust.clone());
            let outcome = who.evaluate(&check);
            if outcome.decision != Decision::Allow {
                let (detail, fix) = podiam_auth::hints::trust_failure(
                    &outcome.explanation,
                    action,
                    &provider.arn,
                    &key_prefix,
                );
                return c.fail(
                    Step::Trust,
                    not_authorized(),
                    detail,
                    Some(fix),
                    Some(outcome.explanation.to_string()),
                );
            }
            let mut detail = podiam_auth::hints::trust_success(&outcome.explanation, action);
            if action == "sts:AssumeRoleWithWebIdentity"
                && !role
                    .trust_policy
                    .to_ascii_lowercase()
                    .contains(&format!("{}:aud", key_prefix.to_ascii_lowercase()))
            {
                detail.push_str(&format!(
                    " — note: no `{key_prefix}:aud` condition; AWS accepts that, but pinning the audience to sts.amazonaws.com is recommended"
                ));
            }
            c.pass(Step::Trust, || detail);
        }
        if duration > role.max_session_duration {
            return c.fail(
                Step::Duration,
                StsError::Validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into()),
                format!("requested {duration} s, the role allows at most {} s", role.max_session_duration),
                Some(format!("aws iam update-role --role-name {} --max-session-duration {duration}   (or request at most {} s)", role.name, role.max_session_duration)),
                None,
            );
        }
        c.pass(Step::Duration, || {
            format!(
                "{duration} s ≤ MaxSessionDuration {} s",
                role.max_session_duration
            )
        });
        WebIdentityCheck {
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
            steps: c.steps,
        }
    }
}

/// Providers that almost match `iss`: a trailing slash, another scheme, or
/// another account. `None` when there is no near miss.
fn provider_near_misses(svc: &Services, account: &str, iss: &str) -> Option<String> {
    let all = svc.store.list_all::<OidcProvider>().ok()?;
    let trimmed = iss.trim_end_matches('/');
    let bare = issuer_host_path(iss).trim_end_matches('/');
    for (acct, p) in &all {
        if acct == account {
            if p.url.trim_end_matches('/') == trimmed {
                return Some(format!(
                    "the provider is registered as {} but the token's iss is {iss}: the trailing slash must match exactly; re-create the provider with --url {iss}",
                    p.url
                ));
            }
            if issuer_host_path(&p.url).trim_end_matches('/') == bare {
                return Some(format!(
                    "the provider is registered as {} but the token's iss is {iss}: the scheme must match; re-create the provider with --url {iss}",
                    p.url
                ));
            }
        } else if p.url == iss {
            return Some(format!(
                "a provider for {iss} exists in account {acct}, not in the role's account {account}: create the provider in {account}, or use a role in {acct}"
            ));
        }
    }
    None
}

/// The trust-policy check of web identity `action` on `role_arn` for a
/// token of issuer `key_prefix` (host and path) with `sub` and `aud`; STS
/// adds the request's own keys, and `explain who-can-assume` asks it of
/// every known service account.
pub fn trust_check(
    action: &'static str,
    role_arn: &str,
    key_prefix: &str,
    sub: &str,
    aud: &str,
) -> Check {
    Check::new(action, role_arn.to_string())
        .key(format!("{key_prefix}:sub"), sub.to_string())
        .key(format!("{key_prefix}:aud"), aud.to_string())
}

/// The provider registered for `iss` in `account`. The scheme must match
/// too: a provider registered as `https://x` does not serve `http://x`.
pub fn find_provider(
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
