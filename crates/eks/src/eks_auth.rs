//! eks-auth `AssumeRoleForPodIdentity`: what the node agent calls to trade a
//! pod's service-account token for the associated role's credentials.

use crate::association::{Association, find};
use crate::issuer::{IssuerDocument, issuer_document};
use podiam_auth::sessions::{
    Grant, SessionError, SessionParams, assume_role, lookup_role, mint_session,
};
use podiam_auth::{Caller, Check, RequestMeta, Services, Subject};
use podiam_core::AwsError;
use podiam_core::session::SessionOrigin;
use podiam_oidc::{JwkSet, StsErrorCode, UnverifiedToken};
use podiam_store::Cluster;
use serde_json::{Value, json};

/// The audience of Pod Identity tokens.
pub const AUDIENCE: &str = "pods.eks.amazonaws.com";
/// The service principal EKS assumes roles as.
pub const SERVICE_PRINCIPAL: &str = "pods.eks.amazonaws.com";
/// How long Pod Identity credentials last.
pub const CREDENTIAL_SECONDS: i64 = 6 * 3600;

/// eks-auth's errors (REST-JSON), with their one mapping to the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EksAuthError {
    /// The service account token is invalid.
    #[error("{0}")]
    InvalidToken(String),
    /// The service account token has expired.
    #[error("{0}")]
    ExpiredToken(String),
    /// EKS (or the caller) may not assume the role.
    #[error("{0}")]
    AccessDenied(String),
    /// No cluster or no association.
    #[error("{0}")]
    ResourceNotFound(String),
    /// A parameter is invalid.
    #[error("{0}")]
    InvalidParameter(String),
    /// The request is semantically wrong.
    #[error("{0}")]
    InvalidRequest(String),
    /// The store failed.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// No operation at this method and path.
    #[error("{0}")]
    NoRoute(String),
    /// The request could not be authenticated.
    #[error("{0}")]
    Unauthenticated(#[from] podiam_auth::AuthError),
}

impl EksAuthError {
    /// The wire form. AccessDeniedException is 400 in eks-auth's model.
    pub fn to_aws(&self) -> AwsError {
        let (status, code) = match self {
            EksAuthError::InvalidToken(_) => (400, "InvalidTokenException"),
            EksAuthError::ExpiredToken(_) => (400, "ExpiredTokenException"),
            EksAuthError::AccessDenied(_) => (400, "AccessDeniedException"),
            EksAuthError::ResourceNotFound(_) => (404, "ResourceNotFoundException"),
            EksAuthError::InvalidParameter(_) => (400, "InvalidParameterException"),
            EksAuthError::InvalidRequest(_) => (400, "InvalidRequestException"),
            EksAuthError::ServiceUnavailable(_) => (503, "ServiceUnavailableException"),
            EksAuthError::NoRoute(_) => (404, "NotFoundException"),
            EksAuthError::Unauthenticated(e) => return crate::error::unrecognized_client(e),
        };
        AwsError::new(status, code, self.to_string())
    }
}

impl From<podiam_store::StoreError> for EksAuthError {
    fn from(e: podiam_store::StoreError) -> Self {
        EksAuthError::ServiceUnavailable(e.to_string())
    }
}

impl From<crate::EksError> for EksAuthError {
    fn from(e: crate::EksError) -> Self {
        match e {
            crate::EksError::ResourceNotFound(m) => EksAuthError::ResourceNotFound(m),
            crate::EksError::InvalidParameter(m) => EksAuthError::InvalidParameter(m),
            other => EksAuthError::ServiceUnavailable(other.to_string()),
        }
    }
}

/// What a valid pod token says.
#[derive(Debug, Clone)]
pub struct PodClaims {
    /// Namespace.
    pub namespace: String,
    /// Service account.
    pub service_account: String,
    /// Pod name.
    pub pod_name: String,
    /// Pod uid.
    pub pod_uid: String,
}

fn invalid(m: impl Into<String>) -> EksAuthError {
    EksAuthError::InvalidToken(m.into())
}

/// Verifies a pod's token against `cluster`'s issuer: signature, expiry,
/// audience, and the pod-bound `kubernetes.io` claims.
pub fn verify_pod_token(
    svc: &Services,
    account: &str,
    cluster: &Cluster,
    raw: &str,
) -> Result<PodClaims, EksAuthError> {
    let tok = UnverifiedToken::parse(raw).map_err(|e| invalid(e.to_string()))?;
    if tok.issuer() != Some(cluster.issuer.as_str()) {
        return Err(invalid(format!(
            "The token's issuer {:?} is not the issuer of cluster {}",
            tok.issuer().unwrap_or_default(),
            cluster.name
        )));
    }
    let jwks = issuer_document(
        &svc.store,
        account,
        &cluster.name,
        IssuerDocument::Jwks,
        svc.now(),
    )?;
    let set =
        JwkSet::from_json(jwks.as_bytes()).map_err(|e| EksAuthError::ServiceUnavailable(e.0))?;
    tok.verify_signature(&set)
        .map_err(|e| invalid(e.to_string()))?;
    if let Err(e) = tok.check_time(svc.now(), 0) {
        return Err(match e {
            podiam_oidc::TokenError::Expired { exp, .. } => {
                EksAuthError::ExpiredToken(expired_message(svc.clock.now(), exp))
            }
            e if e.sts_error_code() == StsErrorCode::ExpiredTokenException => {
                EksAuthError::ExpiredToken(e.to_string())
            }
            e => invalid(e.to_string()),
        });
    }
    if !tok.audiences().iter().any(|a| a == AUDIENCE) {
        return Err(invalid(format!(
            "The token's audience must include {AUDIENCE}"
        )));
    }
    let k = tok
        .claims()
        .get("kubernetes.io")
        .cloned()
        .unwrap_or(Value::Null);
    let s = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let claims = PodClaims {
        namespace: s(&k["namespace"])
            .ok_or_else(|| invalid("The token has no kubernetes.io namespace"))?,
        service_account: s(&k["serviceaccount"]["name"])
            .ok_or_else(|| invalid("The token has no kubernetes.io service account"))?,
        pod_name: s(&k["pod"]["name"]).ok_or_else(|| invalid("The token is not bound to a pod"))?,
        pod_uid: s(&k["pod"]["uid"]).ok_or_else(|| invalid("The token is not bound to a pod"))?,
    };
    let sub = format!(
        "system:serviceaccount:{}:{}",
        claims.namespace, claims.service_account
    );
    if tok.subject() != Some(sub.as_str()) {
        return Err(invalid(
            "The token's subject does not match its kubernetes.io claims",
        ));
    }
    Ok(claims)
}

/// The six transitive session tags EKS attaches.
pub fn session_tags(cluster: &Cluster, p: &PodClaims) -> Vec<(String, String)> {
    vec![
        ("eks-cluster-arn".into(), cluster.arn.clone()),
        ("eks-cluster-name".into(), cluster.name.clone()),
        ("kubernetes-namespace".into(), p.namespace.clone()),
        (
            "kubernetes-service-account".into(),
            p.service_account.clone(),
        ),
        ("kubernetes-pod-name".into(), p.pod_name.clone()),
        ("kubernetes-pod-uid".into(), p.pod_uid.clone()),
    ]
}

fn denied() -> EksAuthError {
    EksAuthError::AccessDenied(
        "Unauthorized Exception! EKS does not have permissions to assume the associated role."
            .into(),
    )
}

/// A decoded `POST /clusters/{name}/assume-role-for-pod-identity`.
#[derive(Debug)]
pub struct PodIdentityRequest {
    cluster: String,
    token: String,
}

impl PodIdentityRequest {
    /// Validates the cluster name and the JSON body.
    pub fn decode(cluster: &str, body: &[u8]) -> Result<Self, EksAuthError> {
        if !crate::cluster::valid_cluster_name(cluster) {
            return Err(EksAuthError::InvalidParameter(format!(
                "Invalid cluster name: {cluster}"
            )));
        }
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| EksAuthError::InvalidRequest(format!("Invalid JSON body: {e}")))?;
        let token = v
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| EksAuthError::InvalidParameter("token is required".into()))?;
        Ok(PodIdentityRequest {
            cluster: cluster.to_string(),
            token: token.to_string(),
        })
    }

    fn cluster(
        &self,
        svc: &Services,
        account: &str,
    ) -> Result<podiam_store::Versioned<Cluster>, EksAuthError> {
        svc.store
            .get::<Cluster>(account, &self.cluster)?
            .ok_or_else(|| {
                EksAuthError::ResourceNotFound(format!(
                    "No cluster found for name: {}.",
                    self.cluster
                ))
            })
    }

    /// `eks-auth:AssumeRoleForPodIdentity` on the cluster.
    pub fn check(&self, svc: &Services, account: &str) -> Result<Check, EksAuthError> {
        let cluster = self.cluster(svc, account)?;
        Ok(
            Check::new("eks-auth:AssumeRoleForPodIdentity", cluster.arn.clone())
                .with_resource_tags(&cluster.tags),
        )
    }
}

/// The caller may not call eks-auth on the cluster.
pub(crate) fn caller_denied(caller: &Caller, check: &Check) -> EksAuthError {
    EksAuthError::AccessDenied(format!(
        "User: {} is not authorized to perform: {} on resource: {}",
        caller.arn(),
        check.action,
        check.resource
    ))
}

/// Handles an authorized `AssumeRoleForPodIdentity`: the pod's token, its
/// association, EKS's trust check, and the session.
pub async fn assume_role_for_pod_identity(
    svc: &Services,
    caller: &Caller,
    req: PodIdentityRequest,
    meta: &RequestMeta,
) -> Result<Value, EksAuthError> {
    let account = caller.account().to_string();
    let cluster = req.cluster(svc, &account)?;
    let (cluster_name, token) = (req.cluster.as_str(), req.token.as_str());
    let pod = verify_pod_token(svc, &account, &cluster, token)?;
    let assoc = find(
        svc,
        &account,
        cluster_name,
        &pod.namespace,
        &pod.service_account,
    )?
    .ok_or_else(|| {
        EksAuthError::ResourceNotFound(format!(
            "No Pod Identity Association found for service account {} in namespace {}",
            pod.service_account, pod.namespace
        ))
    })?;
    let (claims, session_token) = assume(svc, &account, &cluster, &assoc, &pod, meta)?;
    Ok(json!({
        "subject": {"namespace": pod.namespace, "serviceAccount": pod.service_account},
        "audience": AUDIENCE,
        "podIdentityAssociation": {"associationArn": assoc.arn, "associationId": assoc.id},
        "assumedRoleUser": {"arn": claims.assumed_role_arn(), "assumeRoleId": claims.assumed_role_id()},
        "credentials": {
            "sessionToken": session_token,
            "secretAccessKey": claims.secret_access_key,
            "accessKeyId": claims.access_key_id,
            "expiration": claims.expires_at,
        },
    }))
}

/// EKS assumes the association's role as `pods.eks.amazonaws.com` (and
/// chains into the target role when one is set).
fn assume(
    svc: &Services,
    account: &str,
    cluster: &Cluster,
    assoc: &Association,
    pod: &PodClaims,
    meta: &RequestMeta,
) -> Result<(podiam_core::session::SessionClaims, String), EksAuthError> {
    let role = lookup_role(svc, &assoc.role_arn)
        .map_err(|e| EksAuthError::ServiceUnavailable(e.to_string()))?
        .ok_or_else(denied)?;
    let trust = svc.trust_policy(&role).ok_or_else(denied)?;
    let tags = if assoc.disable_session_tags {
        vec![]
    } else {
        session_tags(cluster, pod)
    };
    let transitive: Vec<String> = tags.iter().map(|(k, _)| k.clone()).collect();
    if let Err((action, outcome)) =
        evaluate_trust(svc, account, cluster, &role.arn, &trust, &tags, meta)
    {
        podiam_auth::audit::note_decision(action, &role.arn, false, &outcome.explanation);
        tracing::info!(
            target: "podiam::audit",
            action,
            role = %role.arn,
            association = %assoc.id,
            explanation = %outcome.explanation,
            "denied"
        );
        return Err(denied());
    }
    let mut uuid = [0u8; 16];
    svc.rng.fill(&mut uuid);
    let mut session_name = format!(
        "eks-{}-{}-{}",
        cluster.name,
        pod.pod_name,
        podiam_core::ids::uuid_string(uuid)
    );
    session_name.truncate(64);
    let params = SessionParams {
        role_arn: role.arn.clone(),
        session_name,
        duration: Some(CREDENTIAL_SECONDS),
        // With a target role the association's policy narrows the target
        // session only (see `aws eks create-pod-identity-association --policy`).
        policy: if assoc.target_role_arn.is_some() {
            None
        } else {
            assoc.policy.clone()
        },
        policy_arns: vec![],
    };
    let origin = SessionOrigin::PodIdentity {
        cluster: cluster.name.clone(),
        association_id: assoc.id.clone(),
    };
    let grant = Grant {
        tags,
        transitive,
        ..Grant::new(origin)
    };
    let issued = mint_session(svc, &params, &role, grant).map_err(map_sts)?;
    let Some(target) = &assoc.target_role_arn else {
        return Ok((issued.claims, issued.token));
    };
    // Role chaining into the target role, as the first role's session.
    let caller = Caller::Session(std::sync::Arc::new(issued.claims.clone()));
    let params = SessionParams {
        role_arn: target.clone(),
        session_name: issued.claims.session_name.clone(),
        duration: Some(3600),
        policy: assoc.policy.clone(),
        policy_arns: vec![],
    };
    let chained = assume_role(
        svc,
        &caller,
        &params,
        assoc.external_id.clone(),
        vec![],
        vec![],
        None,
        meta,
    )
    .map_err(map_sts)?;
    Ok((chained.claims, chained.token))
}

fn map_sts(e: SessionError) -> EksAuthError {
    match e {
        SessionError::AccessDenied(_) => denied(),
        SessionError::ServiceUnavailable(m) => EksAuthError::ServiceUnavailable(m),
        other => EksAuthError::InvalidRequest(other.to_string()),
    }
}

/// Evaluates `trust` as EKS does for Pod Identity: `sts:AssumeRole`, and
/// `sts:TagSession` when the session carries tags, as
/// `pods.eks.amazonaws.com`. On refusal, the refused action and why.
pub fn evaluate_trust(
    svc: &Services,
    account: &str,
    cluster: &Cluster,
    role_arn: &str,
    trust: &podiam_policy::Policy,
    tags: &[(String, String)],
    meta: &RequestMeta,
) -> Result<(), (&'static str, Box<podiam_policy::Outcome>)> {
    let transitive: Vec<String> = tags.iter().map(|(k, _)| k.clone()).collect();
    let mut actions = vec!["sts:AssumeRole"];
    if !tags.is_empty() {
        actions.push("sts:TagSession");
    }
    let who = svc.authorizer(
        Subject::Service {
            name: SERVICE_PRINCIPAL,
            source_account: account,
        },
        meta,
    );
    for action in actions {
        let check = Check::new(action, role_arn)
            .key("aws:SourceArn", cluster.arn.clone())
            .with_request_tags(tags, &transitive)
            .with_resource_policy("trust policy", trust.clone());
        let o = who.evaluate(&check);
        if o.decision != podiam_policy::Decision::Allow {
            return Err((action, Box::new(o)));
        }
    }
    Ok(())
}

/// Why EKS may not assume the association's role, as (detail, fix): the
/// trust policy evaluated as `pods.eks.amazonaws.com` with the session tags.
pub fn explain_trust(
    svc: &Services,
    account: &str,
    cluster: &Cluster,
    assoc: &Association,
    pod: &PodClaims,
    meta: &RequestMeta,
) -> (String, String) {
    let Ok(Some(role)) = lookup_role(svc, &assoc.role_arn) else {
        return (
            format!("role {} does not exist", assoc.role_arn),
            format!(
                "create the role {} with the Pod Identity trust policy",
                assoc.role_arn
            ),
        );
    };
    let Some(trust) = svc.trust_policy(&role) else {
        return (
            "the role's trust policy does not parse".into(),
            "fix the trust policy".into(),
        );
    };
    let tags = if assoc.disable_session_tags {
        vec![]
    } else {
        session_tags(cluster, pod)
    };
    if let Err((action, outcome)) =
        evaluate_trust(svc, account, cluster, &role.arn, &trust, &tags, meta)
    {
        return podiam_auth::hints::trust_failure(
            &outcome.explanation,
            action,
            SERVICE_PRINCIPAL,
            "",
        );
    }
    (
        "the trust policy allows it".into(),
        "nothing to fix in the trust policy".into(),
    )
}

/// The service principal EC2 assumes instance-profile roles as.
pub const EC2_PRINCIPAL: &str = "ec2.amazonaws.com";

/// Credentials for a node's instance role, as EC2 hands them to IMDS: the
/// role's trust policy must allow `ec2.amazonaws.com` to `sts:AssumeRole`,
/// and the caller (the node agent) needs `podiam:GetInstanceRoleCredentials`.
pub fn instance_role_credentials(
    svc: &Services,
    caller: &Caller,
    body: &[u8],
    meta: &RequestMeta,
) -> Result<Value, EksAuthError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| EksAuthError::InvalidRequest(format!("Invalid JSON body: {e}")))?;
    let role_name = v
        .get("roleName")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| EksAuthError::InvalidParameter("roleName is required".into()))?;
    let instance_id = v
        .get("instanceId")
        .and_then(Value::as_str)
        .unwrap_or("i-0000000000podiam")
        .to_string();
    if !podiam_core::query::is_name_char_str(&instance_id)
        || instance_id.len() < 2
        || instance_id.len() > 64
    {
        return Err(EksAuthError::InvalidParameter(
            "instanceId must be 2..64 characters of [\\w+=,.@-]".into(),
        ));
    }
    let account = caller.account().to_string();
    let role_arn_guess = format!("arn:aws:iam::{account}:role/{role_name}");
    let check = Check::new("podiam:GetInstanceRoleCredentials", role_arn_guess.clone());
    svc.authorizer(Subject::Caller(caller), meta)
        .decide(&check)
        .map_err(|_| {
            EksAuthError::AccessDenied(format!(
                "User: {} is not authorized to perform: podiam:GetInstanceRoleCredentials on resource: {role_arn_guess}",
                caller.arn()
            ))
        })?;
    let not_assumable = || {
        EksAuthError::AccessDenied(format!(
            "EC2 cannot assume role {role_name}: its trust policy does not allow ec2.amazonaws.com"
        ))
    };
    let role = svc
        .role_by_name(&account, role_name)?
        .ok_or_else(not_assumable)?;
    let trust = svc.trust_policy(&role).ok_or_else(not_assumable)?;
    let check =
        Check::new("sts:AssumeRole", role.arn.clone()).with_resource_policy("trust policy", trust);
    let ec2 = Subject::Service {
        name: EC2_PRINCIPAL,
        source_account: &account,
    };
    svc.authorizer(ec2, meta)
        .decide(&check)
        .map_err(|_| not_assumable())?;
    let params = SessionParams {
        role_arn: role.arn.clone(),
        session_name: instance_id,
        duration: Some(CREDENTIAL_SECONDS),
        policy: None,
        policy_arns: vec![],
    };
    let origin = SessionOrigin::InstanceProfile {
        instance_profile_arn: format!("arn:aws:iam::{account}:instance-profile/{role_name}"),
    };
    let issued = mint_session(svc, &params, &role, Grant::new(origin)).map_err(map_sts)?;
    Ok(json!({
        "roleArn": role.arn,
        "accessKeyId": issued.claims.access_key_id,
        "secretAccessKey": issued.claims.secret_access_key,
        "sessionToken": issued.token,
        "expiration": issued.claims.expires_at,
    }))
}

/// eks-auth's wording for an expired token, as the agent relays it: "The
/// token included in the request is expired: current date/time
/// 2024-02-10T08:38:55.284028Z must be before the expiration date/time
/// 2024-02-09T10:47:44Z." (boto/botocore#3117).
fn expired_message(now: time::OffsetDateTime, exp: i64) -> String {
    let seconds = podiam_core::timefmt::iso8601(now.unix_timestamp());
    format!(
        "The token included in the request is expired: current date/time {}.{:06}Z must be before the expiration date/time {}.",
        seconds.trim_end_matches('Z'),
        now.microsecond(),
        podiam_core::timefmt::iso8601(exp)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expired_token_message_is_eks_auths() {
        let now = time::macros::datetime!(2024-02-10 08:38:55.284028 UTC);
        assert_eq!(
            expired_message(now, 1_707_475_664),
            "The token included in the request is expired: current date/time 2024-02-10T08:38:55.284028Z must be before the expiration date/time 2024-02-09T10:47:44Z."
        );
    }

    #[test]
    fn wire_mapping() {
        let cases = [
            (
                EksAuthError::InvalidToken("x".into()),
                400,
                "InvalidTokenException",
            ),
            (
                EksAuthError::ExpiredToken("x".into()),
                400,
                "ExpiredTokenException",
            ),
            (
                EksAuthError::AccessDenied("x".into()),
                400,
                "AccessDeniedException",
            ),
            (
                EksAuthError::ResourceNotFound("x".into()),
                404,
                "ResourceNotFoundException",
            ),
            (
                EksAuthError::InvalidParameter("x".into()),
                400,
                "InvalidParameterException",
            ),
            (
                EksAuthError::InvalidRequest("x".into()),
                400,
                "InvalidRequestException",
            ),
            (
                EksAuthError::ServiceUnavailable("x".into()),
                503,
                "ServiceUnavailableException",
            ),
        ];
        for (e, status, code) in cases {
            let w = e.to_aws();
            assert_eq!((w.status.as_u16(), w.code.as_ref()), (status, code));
        }
    }
}
