//! IAM on the request pipeline.

use crate::{IamError, IamRequest, NAMESPACE, decode};
use podiam_auth::pipeline::{
    self, Authentication, Cx, Input, QueryOpenError, Service, ServiceError,
};
use podiam_auth::{AuthError, Check, Denied};
use podiam_core::error::Protocol;
use podiam_core::query::QueryParams;
use podiam_sigv4::{Verifier, VerifyOptions};

/// The IAM service (query protocol 2010-05-08).
#[derive(Debug)]
pub struct Iam {
    verifier: Verifier,
}

impl Default for Iam {
    fn default() -> Self {
        Iam {
            verifier: Verifier::new(VerifyOptions::new("iam")),
        }
    }
}

/// A decoded IAM call: the operation name and its typed request.
#[derive(Debug)]
pub struct IamCall {
    name: String,
    request: IamRequest,
}

const PROTOCOL: Protocol = Protocol::Query {
    namespace: NAMESPACE,
};

impl ServiceError for IamError {
    fn aws_error(&self) -> podiam_core::AwsError {
        self.to_aws()
    }

    fn protocol(&self) -> Protocol {
        PROTOCOL
    }
}

impl Service for Iam {
    type Envelope = QueryParams;
    type Action = IamCall;
    type Error = IamError;

    const EVENT_SOURCE: &'static str = "iam.amazonaws.com";

    fn verifier(&self, _parts: &http::request::Parts) -> &Verifier {
        &self.verifier
    }

    fn open(
        &self,
        parts: &http::request::Parts,
        input: &Input,
    ) -> Result<(QueryParams, Authentication), IamError> {
        let (params, _) =
            pipeline::open_query(parts, input, Self::EVENT_SOURCE).map_err(|e| match e {
                QueryOpenError::Malformed(m) => IamError::Validation(m),
                QueryOpenError::MissingAction => IamError::MissingAction,
            })?;
        Ok((params, Authentication::Required))
    }

    fn decode(
        &self,
        _cx: &Cx<'_>,
        params: QueryParams,
        _input: &Input,
    ) -> Result<IamCall, IamError> {
        let name = params.get("Action").unwrap_or_default().to_string();
        let request = decode(&params)?;
        Ok(IamCall { name, request })
    }

    fn checks(&self, cx: &Cx<'_>, call: &IamCall) -> Result<Vec<Check>, IamError> {
        let account = cx.caller.map(|c| c.account()).unwrap_or_default();
        let (action, resource) = call.request.authz(account);
        Ok(vec![Check::new(action, resource)])
    }

    fn denied(&self, cx: &Cx<'_>, check: &Check, d: Denied) -> IamError {
        IamError::AccessDenied {
            caller: cx.caller.map(|c| c.arn()).unwrap_or_default(),
            action: check.action.to_string(),
            resource: check.resource.clone(),
            reason: d.reason_suffix(&check.action),
        }
    }

    async fn handle(
        &self,
        cx: &Cx<'_>,
        call: IamCall,
        _input: Input,
    ) -> Result<http::Response<axum::body::Body>, IamError> {
        let caller = cx
            .caller
            .ok_or(IamError::Unauthenticated(AuthError::Missing))?;
        let ops = crate::ops::Iam {
            svc: cx.svc,
            account: caller.account().to_string(),
        };
        let body = ops.run(&call.name, call.request, cx.request_id).await?;
        Ok(pipeline::xml_ok(body, cx.request_id))
    }
}
