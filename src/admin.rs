//! podiam's own API under `/_podiam/`: token minting, instance-role
//! credentials for the node agent, and `explain`. SigV4-signed like the AWS
//! APIs (any of the `eks`, `eks-auth` or `podiam` signing names), and
//! authorized as `podiam:*` actions.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, Method, header};
use podiam_auth::{Caller, Check, RequestMeta, RequestView, Services, Subject, signing_service};
use podiam_core::AwsError;
use podiam_core::error::Protocol;
use podiam_eks::EksRequest;
use podiam_sts::{SessionParams, Step, StepReport, Sts, WebIdentityCheck};
use serde_json::{Value, json};

fn error(e: &AwsError, rid: &str) -> Response {
    podiam_auth::pipeline::refuse(e, &Protocol::RestJson, rid)
}

fn ok(v: Value, rid: &str) -> Response {
    podiam_auth::pipeline::json_ok(200, v.to_string(), rid)
}

/// Handles a request under `/_podiam/`.
#[allow(clippy::too_many_arguments)]
pub async fn handle(
    svc: &Services,
    sts: &Sts,
    s3: &podiam_s3::S3,
    view: &RequestView<'_>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &Bytes,
    meta: &RequestMeta,
    rid: &str,
) -> Response {
    podiam_auth::audit::note_request(
        "podiam",
        &format!("{method} {path}"),
        serde_json::from_slice(body).unwrap_or(Value::Null),
    );
    let service = signing_service(view.headers, query).unwrap_or_default();
    if !matches!(service.as_str(), "eks" | "eks-auth" | "podiam") {
        let e = AwsError::new(
            403,
            "MissingAuthenticationToken",
            "podiam's API requires a SigV4 signature (service eks or podiam)",
        );
        return error(&e, rid);
    }
    let caller = match svc.authenticate(view, body, &service) {
        Ok(c) => c,
        Err(e) => return error(&e.to_aws(), rid),
    };
    if let Some(req) = EksRequest::decode(method.as_str(), path, query, body) {
        let req = match req {
            Ok(req) => req,
            Err(e) => return error(&e.to_aws(), rid),
        };
        podiam_auth::audit::note(|r| r.event_name = Some(req.operation().to_string()));
        return match podiam_eks::handle(svc, &caller, req, meta).await {
            Ok((_, body)) => podiam_auth::pipeline::json_ok(200, body, rid),
            Err(e) => error(&e.to_aws(), rid),
        };
    }
    if method == Method::GET && path == "/_podiam/audit" {
        return audit_tail(svc, &caller, meta, query, rid);
    }
    let result = match (method, path) {
        (&Method::POST, "/_podiam/instance-role-credentials") => {
            podiam_eks::eks_auth::instance_role_credentials(svc, &caller, body, meta)
                .map_err(|e| e.to_aws())
        }
        (&Method::POST, "/_podiam/explain/assume") => {
            explain_assume(svc, sts, &caller, body, meta).await
        }
        (&Method::POST, "/_podiam/explain/request") => {
            explain_request(svc, s3, &caller, body, meta)
        }
        _ => Err(AwsError::new(
            404,
            "NotFoundException",
            format!("No route for {method} {path}"),
        )),
    };
    match result {
        Ok(v) => ok(v, rid),
        Err(e) => error(&e, rid),
    }
}

/// Authorizes `caller` for one of podiam's own actions, with AWS's message.
fn require(
    svc: &Services,
    caller: &Caller,
    meta: &RequestMeta,
    action: &'static str,
    resource: &str,
) -> Result<(), AwsError> {
    // podiam's own actions act in the caller's account, whatever ARN they
    // are about (explaining another account's role is not acting on it).
    let check = Check::new(action, resource).with_resource_account(caller.account().to_string());
    svc.authorizer(Subject::Caller(caller), meta)
        .decide(&check)
        .map_err(|d| {
            AwsError::new(
                403,
                "AccessDeniedException",
                format!(
                    "User: {} is not authorized to perform: {action}{}",
                    caller.arn(),
                    d.reason_suffix(action)
                ),
            )
        })
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
fn audit_tail(
    svc: &Services,
    caller: &Caller,
    meta: &RequestMeta,
    query: Option<&str>,
    rid: &str,
) -> Response {
    if let Err(e) = require(svc, caller, meta, "podiam:ReadAuditLog", "*") {
        return error(&e, rid);
    }
    let flag = |k: &str| {
        query.is_some_and(|q| {
            form_urlencoded::parse(q.as_bytes()).any(|(qk, v)| qk == k && (v == "1" || v == "true"))
        })
    };
    let (denied, follow) = (flag("denied"), flag("follow"));
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
    s3: &podiam_s3::S3,
    caller: &Caller,
    body: &[u8],
    meta: &RequestMeta,
) -> Result<Value, AwsError> {
    let invalid = |m: String| AwsError::new(400, "InvalidParameterException", m);
    let v: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("Invalid JSON body: {e}")))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let akid = s("accessKeyId").ok_or_else(|| invalid("accessKeyId is required".into()))?;
    let action = s("action").ok_or_else(|| invalid("action is required".into()))?;
    let resource = s("resource").unwrap_or_else(|| "*".into());
    require(svc, caller, meta, "podiam:Explain", &resource)?;
    let mut notes = Vec::new();
    let subject = if akid.starts_with("ASIA") {
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
        Caller::Session(Box::new(claims))
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
    };
    // The service's own check for (action, resource): for S3 the bucket
    // policy, owner, owner rule and s3:* keys, exactly as S3 decides.
    // The service's own check: for S3 the bucket policy, owner, owner rule
    // and existing object's tags, exactly as S3 decides. Keys that only a
    // real request carries (the signature's s3:* keys, aws:SourceIp) come
    // from `context`.
    let mut check = Check::new(action.clone(), resource.clone());
    if action.starts_with("s3:")
        && let Some(c) = podiam_s3::authz::for_arn(&action, &resource)
    {
        let auth = podiam_s3::auth::Authenticated {
            caller: Some(&subject),
            verified: None,
        };
        match s3.resolve(svc, &c, &auth) {
            Ok(resolved) => {
                if resolved.resource_policy.is_none() {
                    notes.push(format!(
                        "bucket {} has no bucket policy",
                        c.bucket.as_deref().unwrap_or_default()
                    ));
                }
                check = resolved;
            }
            Err(e) => notes.push(format!("{}: {}", e.code, e.message)),
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
