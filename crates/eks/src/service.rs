//! EKS and eks-auth on the request pipeline (REST-JSON).

use crate::eks_auth::{EksAuthError, PodIdentityRequest, assume_role_for_pod_identity};
use crate::{EksError, EksRequest};
use podiam_auth::pipeline::{self, Authentication, Cx, Input, Service, ServiceError};
use podiam_auth::{AuthError, Check, Denied};
use podiam_core::error::Protocol;
use podiam_sigv4::{Verifier, VerifyOptions};

impl ServiceError for EksError {
    fn aws_error(&self) -> podiam_core::AwsError {
        self.to_aws()
    }

    fn protocol(&self) -> Protocol {
        Protocol::RestJson
    }
}

impl ServiceError for EksAuthError {
    fn aws_error(&self) -> podiam_core::AwsError {
        self.to_aws()
    }

    fn protocol(&self) -> Protocol {
        Protocol::RestJson
    }
}

fn caller<'a>(cx: &Cx<'a>) -> Result<&'a podiam_auth::Caller, AuthError> {
    cx.caller.ok_or(AuthError::Missing)
}

/// The EKS API: clusters and Pod Identity associations.
#[derive(Debug)]
pub struct Eks {
    verifier: Verifier,
}

impl Default for Eks {
    fn default() -> Self {
        Eks {
            verifier: Verifier::new(VerifyOptions::new("eks")),
        }
    }
}

impl Service for Eks {
    type Envelope = ();
    type Action = EksRequest;
    type Error = EksError;

    const EVENT_SOURCE: &'static str = "eks.amazonaws.com";

    fn verifier(&self, _parts: &http::request::Parts) -> &Verifier {
        &self.verifier
    }

    fn open(
        &self,
        parts: &http::request::Parts,
        input: &Input,
    ) -> Result<((), Authentication), EksError> {
        podiam_auth::audit::note_request(
            Self::EVENT_SOURCE,
            &format!("{} {}", parts.method, parts.uri.path()),
            serde_json::from_slice(input.bytes()).unwrap_or(serde_json::Value::Null),
        );
        Ok(((), Authentication::Required))
    }

    fn decode(&self, cx: &Cx<'_>, _: (), input: &Input) -> Result<EksRequest, EksError> {
        let (method, path) = (cx.parts.method.as_str(), cx.parts.uri.path());
        let req = EksRequest::decode(method, path, cx.parts.uri.query(), input.bytes())
            .ok_or_else(|| EksError::NoRoute(format!("No EKS route for {method} {path}")))??;
        podiam_auth::audit::note(|rec| rec.event_name = Some(req.operation().to_string()));
        Ok(req)
    }

    fn checks(&self, cx: &Cx<'_>, req: &EksRequest) -> Result<Vec<Check>, EksError> {
        let account = caller(cx).map_err(EksError::Unauthenticated)?.account();
        req.checks_in(cx.svc, account)
    }

    fn denied(&self, cx: &Cx<'_>, check: &Check, _d: Denied) -> EksError {
        match cx.caller {
            Some(c) => crate::authz::denied(c, check),
            None => EksError::Unauthenticated(AuthError::Missing),
        }
    }

    async fn handle(
        &self,
        cx: &Cx<'_>,
        req: EksRequest,
        _input: Input,
    ) -> Result<http::Response<axum::body::Body>, EksError> {
        let account = caller(cx).map_err(EksError::Unauthenticated)?.account();
        let (status, body) = crate::ops::execute(cx.svc, account, req).await?;
        Ok(pipeline::json_ok(status, body, cx.request_id))
    }
}

/// eks-auth: `POST /clusters/{name}/assume-role-for-pod-identity`.
#[derive(Debug)]
pub struct EksAuth {
    verifier: Verifier,
}

impl Default for EksAuth {
    fn default() -> Self {
        EksAuth {
            verifier: Verifier::new(VerifyOptions::new("eks-auth")),
        }
    }
}

impl Service for EksAuth {
    type Envelope = ();
    type Action = PodIdentityRequest;
    type Error = EksAuthError;

    const EVENT_SOURCE: &'static str = "eks-auth.amazonaws.com";

    fn verifier(&self, _parts: &http::request::Parts) -> &Verifier {
        &self.verifier
    }

    fn open(
        &self,
        parts: &http::request::Parts,
        _input: &Input,
    ) -> Result<((), Authentication), EksAuthError> {
        podiam_auth::audit::note_request(
            Self::EVENT_SOURCE,
            "AssumeRoleForPodIdentity",
            serde_json::json!({"path": parts.uri.path(), "token": "(redacted)"}),
        );
        Ok(((), Authentication::Required))
    }

    fn decode(
        &self,
        cx: &Cx<'_>,
        _: (),
        input: &Input,
    ) -> Result<PodIdentityRequest, EksAuthError> {
        let (method, path) = (&cx.parts.method, cx.parts.uri.path());
        let cluster = path
            .strip_prefix("/clusters/")
            .and_then(|r| r.strip_suffix("/assume-role-for-pod-identity"))
            .filter(|c| !c.contains('/') && method == http::Method::POST)
            .ok_or_else(|| {
                EksAuthError::NoRoute(format!("No eks-auth route for {method} {path}"))
            })?;
        PodIdentityRequest::decode(cluster, input.bytes())
    }

    fn checks(&self, cx: &Cx<'_>, req: &PodIdentityRequest) -> Result<Vec<Check>, EksAuthError> {
        let account = caller(cx).map_err(EksAuthError::Unauthenticated)?.account();
        Ok(vec![req.check(cx.svc, account)?])
    }

    fn denied(&self, cx: &Cx<'_>, check: &Check, _d: Denied) -> EksAuthError {
        match cx.caller {
            Some(c) => crate::eks_auth::caller_denied(c, check),
            None => EksAuthError::Unauthenticated(AuthError::Missing),
        }
    }

    async fn handle(
        &self,
        cx: &Cx<'_>,
        req: PodIdentityRequest,
        _input: Input,
    ) -> Result<http::Response<axum::body::Body>, EksAuthError> {
        let caller = caller(cx).map_err(EksAuthError::Unauthenticated)?;
        let v = assume_role_for_pod_identity(cx.svc, caller, req, cx.meta).await?;
        Ok(pipeline::json_ok(200, v.to_string(), cx.request_id))
    }
}
