//! podiam's own API under `/_podiam/`: token minting and keys (EKS-shaped
//! cluster calls), instance-role credentials for the node agent, `explain`
//! and the live audit log. On the request pipeline like the AWS services:
//! SigV4-signed (any of the `eks`, `eks-auth` or `podiam` signing names)
//! and authorized as `podiam:*` actions.

use axum::body::Body;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Response, header};
use podiam_auth::pipeline::{self, Authentication, Cx, Input, Service, ServiceError};
use podiam_auth::{
    AuthError, Caller, Check, Denied, RequestMeta, Services, Subject, signing_service,
};
use podiam_core::AwsError;
use podiam_core::error::Protocol;
use podiam_eks::EksRequest;
use podiam_sigv4::{Verifier, VerifyOptions};
use podiam_sts::{SessionParams, Step, StepReport, Sts, WebIdentityCheck};
use serde_json::{Value, json};
use std::sync::Arc;

mod who;

/// The signing names podiam's API accepts.
const SIGNING_NAMES: [&str; 3] = ["eks", "eks-auth", "podiam"];

/// podiam's API.
#[derive(Debug)]
pub struct Admin {
    sts: Arc<Sts>,
    s3: Arc<podiam_s3::S3>,
    dynamodb: Arc<podiam_dynamodb::DynamoDb>,
    verifiers: [Verifier; 3],
}

impl Admin {
    /// The API, explaining with `sts`'s checks and the data services'
    /// resolved checks.
    pub fn new(
        sts: Arc<Sts>,
        s3: Arc<podiam_s3::S3>,
        dynamodb: Arc<podiam_dynamodb::DynamoDb>,
    ) -> Admin {
        Admin {
            sts,
            s3,
            dynamodb,
            verifiers: SIGNING_NAMES.map(|n| Verifier::new(VerifyOptions::new(n))),
        }
    }
}

/// An error of podiam's API (REST-JSON, like EKS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError(pub AwsError);

impl From<AuthError> for AdminError {
    fn from(e: AuthError) -> Self {
        AdminError(e.to_aws())
    }
}

impl ServiceError for AdminError {
    fn aws_error(&self) -> AwsError {
        self.0.clone()
    }

    fn protocol(&self) -> Protocol {
        Protocol::RestJson
    }
}

impl From<AwsError> for AdminError {
    fn from(e: AwsError) -> Self {
        AdminError(e)
    }
}

/// A decoded call.
#[derive(Debug)]
pub enum AdminAction {
    /// Cluster, token, key and service-account calls (EKS-shaped).
    Eks(Box<EksRequest>),
    /// `GET /_podiam/audit`, `?denied=1`, `&follow=1`.
    AuditTail {
        /// Only failed calls.
        denied: bool,
        /// Keep streaming new lines.
        follow: bool,
    },
    /// `POST /_podiam/instance-role-credentials`.
    InstanceRoleCredentials,
    /// `POST /_podiam/explain/assume`.
    ExplainAssume,
    /// `POST /_podiam/explain/request`.
    ExplainRequest,
    /// `POST /_podiam/explain/who-can-assume`.
    WhoCanAssume,
}

fn no_route(parts: &Parts) -> AdminError {
    AdminError(AwsError::new(
        404,
        "NotFoundException",
        format!("No route for {} {}", parts.method, parts.uri.path()),
    ))
}

impl Service for Admin {
    type Envelope = ();
    type Action = AdminAction;
    type Error = AdminError;

    const EVENT_SOURCE: &'static str = "podiam";

    fn verifier(&self, parts: &Parts) -> &Verifier {
        let name = signing_service(&parts.headers, parts.uri.query());
        let i = SIGNING_NAMES
            .iter()
            .position(|n| name.as_deref() == Some(*n))
            .unwrap_or(2);
        &self.verifiers[i]
    }

    fn open(&self, parts: &Parts, input: &Input) -> Result<((), Authentication), AdminError> {
        podiam_auth::audit::note_request(
            Self::EVENT_SOURCE,
            &format!("{} {}", parts.method, parts.uri.path()),
            serde_json::from_slice(input.bytes()).unwrap_or(Value::Null),
        );
        let name = signing_service(&parts.headers, parts.uri.query());
        if !SIGNING_NAMES.iter().any(|n| name.as_deref() == Some(*n)) {
            return Err(AdminError(AwsError::new(
                403,
                "MissingAuthenticationToken",
                "podiam's API requires a SigV4 signature (service eks or podiam)",
            )));
        }
        Ok(((), Authentication::Required))
    }

    fn decode(&self, cx: &Cx<'_>, _: (), input: &Input) -> Result<AdminAction, AdminError> {
        let parts = cx.parts;
        let (method, path, query) = (&parts.method, parts.uri.path(), parts.uri.query());
        if let Some(req) = EksRequest::decode(method.as_str(), path, query, input.bytes()) {
            let req = req.map_err(|e| AdminError(e.to_aws()))?;
            podiam_auth::audit::note(|r| r.event_name = Some(req.operation().to_string()));
            return Ok(AdminAction::Eks(Box::new(req)));
        }
        let flag = |k: &str| {
            query.is_some_and(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .any(|(qk, v)| qk == k && (v == "1" || v == "true"))
            })
        };
        Ok(match (method, path) {
            (&Method::GET, "/_podiam/audit") => AdminAction::AuditTail {
                denied: flag("denied"),
                follow: flag("follow"),
            },
            (&Method::POST, "/_podiam/instance-role-credentials") => {
                AdminAction::InstanceRoleCredentials
            }
            (&Method::POST, "/_podiam/explain/assume") => AdminAction::ExplainAssume,
            (&Method::POST, "/_podiam/explain/request") => AdminAction::ExplainRequest,
            (&Method::POST, "/_podiam/explain/who-can-assume") => AdminAction::WhoCanAssume,
            _ => return Err(no_route(parts)),
        })
    }

    /// Cluster calls are EKS's checks; the audit log needs
    /// `podiam:ReadAuditLog`. Instance-role credentials and explain decide
    /// on what their bodies name, while handling.
    fn checks(&self, cx: &Cx<'_>, action: &AdminAction) -> Result<Vec<Check>, AdminError> {
        let account = cx.caller.map(Caller::account).unwrap_or_default();
        Ok(match action {
            AdminAction::Eks(req) => req
                .checks_in(cx.svc, account)
                .map_err(|e| AdminError(e.to_aws()))?,
            AdminAction::AuditTail { .. } => {
                vec![own_check("podiam:ReadAuditLog", "*", account)]
            }
            _ => vec![],
        })
    }

    fn denied(&self, cx: &Cx<'_>, check: &Check, d: Denied) -> AdminError {
        AdminError(access_denied(cx.caller, &check.action, &d))
    }

    async fn handle(
        &self,
        cx: &Cx<'_>,
        action: AdminAction,
        input: Input,
    ) -> Result<Response<Body>, AdminError> {
        let caller = cx
            .caller
            .ok_or_else(|| AdminError(AuthError::Missing.to_aws()))?;
        let (svc, meta, body) = (cx.svc, cx.meta, input.bytes());
        let v = match action {
            AdminAction::Eks(req) => {
                let (_, body) = podiam_eks::execute(svc, caller.account(), *req)
                    .await
                    .map_err(|e| AdminError(e.to_aws()))?;
                return Ok(pipeline::json_ok(200, body, cx.request_id));
            }
            AdminAction::AuditTail { denied, follow } => {
                return Ok(audit_tail(svc, denied, follow));
            }
            AdminAction::InstanceRoleCredentials => {
                podiam_eks::eks_auth::instance_role_credentials(svc, caller, body, meta)
                    .map_err(|e| e.to_aws())?
            }
            AdminAction::ExplainAssume => {
                explain_assume(svc, &self.sts, caller, body, meta).await?
            }
            AdminAction::ExplainRequest => explain_request(svc, self, caller, body, meta)?,
            AdminAction::WhoCanAssume => who::who_can_assume(svc, caller, body, meta)?,
        };
        Ok(pipeline::json_ok(200, v.to_string(), cx.request_id))
    }
}

/// A check of one of podiam's own actions: they act in the caller's
/// account, whatever ARN they are about (explaining another account's
/// role is not acting on it).
fn own_check(action: &'static str, resource: &str, account: &str) -> Check {
    Check::new(action, resource).with_resource_account(account.to_string())
}

fn access_denied(caller: Option<&Caller>, action: &str, d: &Denied) -> AwsError {
    AwsError::new(
        403,
        "AccessDeniedException",
        format!(
            "User: {} is not authorized to perform: {action}{}",
            caller.map(Caller::arn).unwrap_or_default(),
            d.reason_suffix(action)
        ),
    )
}

/// Authorizes `caller` for one of podiam's own actions, with AWS's message.
fn require(
    svc: &Services,
    caller: &Caller,
    meta: &RequestMeta,
    action: &'static str,
    resource: &str,
) -> Result<(), AwsError> {
    svc.authorizer(Subject::Caller(caller), meta)
        .decide(&own_check(action, resource, caller.account()))
        .map_err(|d| access_denied(Some(caller), action, &d))
}

fn report(step: Step, ok: bool, detail: impl Into<String>, fix: Option<String>) -> StepReport {
    StepReport {
        step,
        ok,
        detail: detail.into(),
        fix,
    }
}

/// `podiam explain assume`: every check of AssumeRoleWithWebIdentity (or,
/// with action `sts:AssumeRole` and a cluster, of EKS Pod Identity), as a
/// checklist that stops at the first failure.
async fn explain_assume(
    svc: &Services,
    sts: &Sts,
    caller: &Caller,
    body: &[u8],
    meta: &RequestMeta,
) -> Result<Value, AwsError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        AwsError::new(
            400,
            "InvalidRequestException",
            format!("Invalid JSON body: {e}"),
        )
    })?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let token = s("token")
        .ok_or_else(|| AwsError::new(400, "InvalidParameterException", "token is required"))?;
    let action = s("action").unwrap_or_else(|| "sts:AssumeRoleWithWebIdentity".into());
    let role_arn = s("roleArn").unwrap_or_default();
    require(
        svc,
        caller,
        meta,
        "podiam:Explain",
        if role_arn.is_empty() { "*" } else { &role_arn },
    )?;
    let (steps, error) = if action == "sts:AssumeRoleWithWebIdentity" {
        let session = SessionParams {
            role_arn: role_arn.clone(),
            session_name: "podiam-explain".into(),
            duration: v.get("durationSeconds").and_then(Value::as_i64),
            policy: None,
            policy_arns: vec![],
        };
        let check = WebIdentityCheck::explain(sts, svc, &session, &token, meta).await;
        let err = check.result.err().map(|e| {
            let w = e.to_aws();
            json!({"code": w.code, "message": w.message})
        });
        (check.steps, err)
    } else {
        let cluster = s("cluster").ok_or_else(|| {
            AwsError::new(
                400,
                "InvalidParameterException",
                "cluster is required for Pod Identity",
            )
        })?;
        explain_pod_identity(svc, caller, &cluster, &role_arn, &token, meta).await
    };
    Ok(json!({
        "action": action,
        "roleArn": role_arn,
        "allowed": error.is_none(),
        "error": error,
        "steps": steps,
    }))
}

/// The Pod Identity path: the pod's token against the cluster, the
/// association, the role, and its trust policy as `pods.eks.amazonaws.com`.
async fn explain_pod_identity(
    svc: &Services,
    caller: &Caller,
    cluster_name: &str,
    role_arn: &str,
    token: &str,
    meta: &RequestMeta,
) -> (Vec<StepReport>, Option<Value>) {
    let mut steps = Vec::new();
    let account = caller.account().to_string();
    let fail = |steps: Vec<StepReport>, e: AwsError| {
        (steps, Some(json!({"code": e.code, "message": e.message})))
    };
    let cluster = match svc
        .store
        .get::<podiam_store::Cluster>(&account, cluster_name)
    {
        Ok(Some(c)) => c,
        _ => {
            steps.push(report(
                Step::Token,
                false,
                format!("no cluster {cluster_name}"),
                Some(format!("podiam cluster create {cluster_name}")),
            ));
            return fail(
                steps,
                AwsError::new(
                    404,
                    "ResourceNotFoundException",
                    format!("No cluster found for name: {cluster_name}."),
                ),
            );
        }
    };
    let pod = match podiam_eks::eks_auth::verify_pod_token(svc, &account, &cluster, token) {
        Ok(p) => p,
        Err(e) => {
            steps.push(report(
                Step::Token,
                false,
                e.to_string(),
                Some(format!("mint a pod-bound token: podiam token --cluster {cluster_name} -n NS --service-account SA --audience pods.eks.amazonaws.com --pod NAME")),
            ));
            return fail(steps, e.to_aws());
        }
    };
    steps.push(report(
        Step::Token,
        true,
        format!("pod {}/{} (uid {}), service account {}, signed by cluster {cluster_name}'s issuer, aud pods.eks.amazonaws.com", pod.namespace, pod.pod_name, pod.pod_uid, pod.service_account),
        None,
    ));
    let assoc = match podiam_eks::association::find(
        svc,
        &account,
        cluster_name,
        &pod.namespace,
        &pod.service_account,
    ) {
        Ok(Some(a)) => a,
        _ => {
            steps.push(report(
                Step::Association,
                false,
                format!("no Pod Identity association for {}/{} in cluster {cluster_name}", pod.namespace, pod.service_account),
                Some(format!(
                    "aws eks create-pod-identity-association --cluster-name {cluster_name} --namespace {} --service-account {} --role-arn {}",
                    pod.namespace,
                    pod.service_account,
                    if role_arn.is_empty() { "ROLE_ARN" } else { role_arn }
                )),
            ));
            return fail(
                steps,
                AwsError::new(
                    404,
                    "ResourceNotFoundException",
                    "No Pod Identity Association found",
                ),
            );
        }
    };
    if !role_arn.is_empty() && assoc.role_arn != role_arn {
        steps.push(report(
            Step::Association,
            false,
            format!("association {} maps {}/{} to {}, not {role_arn}", assoc.id, assoc.namespace, assoc.service_account, assoc.role_arn),
            Some(format!("aws eks update-pod-identity-association --cluster-name {cluster_name} --association-id {} --role-arn {role_arn}", assoc.id)),
        ));
        return fail(
            steps,
            AwsError::new(
                400,
                "InvalidParameterException",
                "The association names another role",
            ),
        );
    }
    steps.push(report(
        Step::Association,
        true,
        format!("{} → {}", assoc.id, assoc.role_arn),
        None,
    ));
    let result = match podiam_eks::PodIdentityRequest::decode(
        cluster_name,
        json!({"token": token}).to_string().as_bytes(),
    ) {
        Ok(req) => podiam_eks::assume_role_for_pod_identity(svc, caller, req, meta).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            steps.push(report(Step::Trust, true, "the trust policy allows pods.eks.amazonaws.com to sts:AssumeRole (and sts:TagSession)", None));
            (steps, None)
        }
        Err(e) => {
            let (detail, fix) =
                podiam_eks::eks_auth::explain_trust(svc, &account, &cluster, &assoc, &pod, meta);
            steps.push(report(Step::Trust, false, detail, Some(fix)));
            fail(steps, e.to_aws())
        }
    }
}

/// `GET /_podiam/audit[?denied=1][&follow=1]`: recent audit lines as
/// NDJSON, then (with `follow`) new ones as they happen.
fn audit_tail(svc: &Services, denied: bool, follow: bool) -> Response<Body> {
    let mut head = String::new();
    for line in svc.audit_log.recent(denied) {
        head.push_str(&line);
        head.push('\n');
    }
    let body = if follow {
        let rx = svc.audit_log.subscribe();
        let live = futures_util::stream::unfold(rx, move |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok((failed, line)) if !denied || failed => {
                        return Some((
                            Ok::<_, std::convert::Infallible>(Bytes::from(format!("{line}\n"))),
                            rx,
                        ));
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        let first = futures_util::stream::once(async move {
            Ok::<_, std::convert::Infallible>(Bytes::from(head))
        });
        Body::from_stream(futures_util::StreamExt::chain(first, live))
    } else {
        Body::from(head)
    };
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    r
}

/// `podiam explain request`: how the policies of the principal behind an
/// access key decide one action on one resource (identity, session,
/// boundary, and for S3 the bucket policy).
fn explain_request(
    svc: &Services,
    admin: &Admin,
    caller: &Caller,
    body: &[u8],
    meta: &RequestMeta,
) -> Result<Value, AwsError> {
    let invalid = |m: String| AwsError::new(400, "InvalidParameterException", m);
    let v: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("Invalid JSON body: {e}")))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let action = s("action").ok_or_else(|| invalid("action is required".into()))?;
    let resource = s("resource").unwrap_or_else(|| "*".into());
    require(svc, caller, meta, "podiam:Explain", &resource)?;
    let mut notes = Vec::new();
    let subject = if let Some(p) = v.get("principal") {
        who::what_if_subject(svc, caller.account(), p, &mut notes)?
    } else {
        key_subject(svc, &v, &mut notes)?
    };
    // The service's own check: for S3 the bucket policy, owner, owner rule
    // and existing object's tags; for DynamoDB the table's resource policy
    // and tags; exactly as the service decides. Keys that only a real
    // request carries (the signature's s3:* keys, dynamodb:LeadingKeys,
    // aws:SourceIp) come from `context`.
    let mut check = Check::new(action.clone(), resource.clone());
    if action.starts_with("s3:")
        && let Some(c) = podiam_s3::authz::for_arn(&action, &resource)
    {
        let auth = podiam_s3::auth::Authenticated {
            caller: Some(&subject),
            verified: None,
        };
        match admin.s3.resolve(svc, &c, &auth) {
            Ok(resolved) => {
                if resolved.resource_policy.is_none() {
                    notes.push(format!(
                        "bucket {} has no bucket policy",
                        c.bucket.as_deref().unwrap_or_default()
                    ));
                }
                check = resolved;
            }
            Err(e) => notes.push(format!("{}: {}", e.code.as_str(), e.message)),
        }
    }
    if action.starts_with("dynamodb:") {
        match admin.dynamodb.resolve(&svc.store, &action, &resource) {
            Ok(resolved) => {
                if resolved.resource_policy.is_none() {
                    notes.push(format!("{resource} has no resource-based policy"));
                }
                check = resolved;
            }
            Err(e) => notes.push(e.to_string()),
        }
    }
    if let Some(Value::Object(m)) = v.get("context") {
        for (k, val) in m {
            match val {
                Value::Array(a) => check.multi_keys.push((
                    k.clone(),
                    a.iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .collect(),
                )),
                Value::String(x) => check.keys.push((k.clone(), x.clone())),
                other => check.keys.push((k.clone(), other.to_string())),
            }
        }
    }
    let outcome = svc
        .authorizer(Subject::Caller(&subject), meta)
        .evaluate(&check);
    Ok(json!({
        "principal": subject.arn(),
        "userId": subject.user_id(),
        "action": action,
        "resource": resource,
        "decision": outcome.decision.to_string(),
        "summary": outcome.explanation.summary,
        "notes": notes,
        "explanation": outcome.explanation,
        "rendered": outcome.explanation.to_string(),
    }))
}

/// The principal behind `accessKeyId` (and `sessionToken`): an expired
/// session is still explained, with a note that it no longer works.
fn key_subject(svc: &Services, v: &Value, notes: &mut Vec<String>) -> Result<Caller, AwsError> {
    let invalid = |m: String| AwsError::new(400, "InvalidParameterException", m);
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let akid =
        s("accessKeyId").ok_or_else(|| invalid("accessKeyId (or principal) is required".into()))?;
    Ok(if akid.starts_with("ASIA") {
        let token = s("sessionToken")
            .ok_or_else(|| invalid("a temporary key (ASIA…) needs --session-token".into()))?;
        let claims = svc
            .sealer()
            .open(&token)
            .map_err(|e| invalid(format!("the session token does not open: {e}")))?;
        if claims.access_key_id != akid {
            return Err(invalid(
                "the session token belongs to another access key".into(),
            ));
        }
        if claims.is_expired(svc.now()) {
            notes.push(format!(
                "the session expired at {}: every request with it gets ExpiredToken",
                podiam_core::timefmt::iso8601(claims.expires_at)
            ));
        }
        Caller::Session(claims)
    } else {
        let key = svc
            .store
            .get::<podiam_store::AccessKey>("", &akid)
            .ok()
            .flatten()
            .ok_or_else(|| invalid(format!("unknown access key {akid}")))?;
        Caller::Root {
            account: key.account.clone(),
            access_key_id: key.access_key_id.clone(),
        }
    })
}
