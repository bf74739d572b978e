//! STS on the request pipeline.

use crate::{NAMESPACE, Sts, StsError, StsRequest, decode};
use podiam_auth::pipeline::{
    self, Authentication, Cx, Input, QueryOpenError, Service, ServiceError,
};
use podiam_auth::{Check, Denied};
use podiam_core::error::Protocol;
use podiam_core::query::QueryParams;
use podiam_sigv4::Verifier;

const PROTOCOL: Protocol = Protocol::Query {
    namespace: NAMESPACE,
};

impl ServiceError for StsError {
    fn aws_error(&self) -> podiam_core::AwsError {
        self.to_aws()
    }

    fn protocol(&self) -> Protocol {
        PROTOCOL
    }
}

/// A decoded STS call: the operation name and its typed request.
#[derive(Debug)]
pub struct StsCall {
    name: String,
    request: StsRequest,
}

impl Service for Sts {
    type Envelope = QueryParams;
    type Action = StsCall;
    type Error = StsError;

    const EVENT_SOURCE: &'static str = "sts.amazonaws.com";

    fn verifier(&self, _parts: &http::request::Parts) -> &Verifier {
        &self.verifier
    }

    /// `AssumeRoleWithWebIdentity` carries its own credential, the token.
    fn open(
        &self,
        parts: &http::request::Parts,
        input: &Input,
    ) -> Result<(QueryParams, Authentication), StsError> {
        let (params, action) =
            pipeline::open_query(parts, input, Self::EVENT_SOURCE).map_err(|e| match e {
                QueryOpenError::Malformed(m) => StsError::Validation(m),
                QueryOpenError::MissingAction => StsError::MissingAction,
            })?;
        let mode = if StsRequest::is_unauthenticated(&action) {
            Authentication::None
        } else {
            Authentication::Required
        };
        Ok((params, mode))
    }

    fn decode(
        &self,
        _cx: &Cx<'_>,
        params: QueryParams,
        _input: &Input,
    ) -> Result<StsCall, StsError> {
        let name = params.get("Action").unwrap_or_default().to_string();
        let request = decode(&params)?;
        Ok(StsCall { name, request })
    }

    /// STS decides while handling: the role's trust policy is its resource
    /// policy, and the role must be looked up first.
    fn checks(&self, _cx: &Cx<'_>, _call: &StsCall) -> Result<Vec<Check>, StsError> {
        Ok(Vec::new())
    }

    fn denied(&self, cx: &Cx<'_>, check: &Check, _d: Denied) -> StsError {
        StsError::AccessDenied(format!(
            "User: {} is not authorized to perform: {} on resource: {}",
            cx.caller.map(|c| c.arn()).unwrap_or_default(),
            check.action,
            check.resource
        ))
    }

    async fn handle(
        &self,
        cx: &Cx<'_>,
        call: StsCall,
        _input: Input,
    ) -> Result<http::Response<axum::body::Body>, StsError> {
        let body = self
            .answer(
                cx.svc,
                cx.caller,
                &call.name,
                call.request,
                cx.meta,
                cx.request_id,
            )
            .await?;
        Ok(pipeline::xml_ok(body, cx.request_id))
    }
}
