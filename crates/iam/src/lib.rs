//! podiam's IAM service: the query protocol (version 2010-05-08).
//!
//! A request is decoded into a typed [`IamRequest`], authorized as exactly
//! one IAM action on one resource, then handled against the store with
//! optimistic concurrency. Every policy written is validated with AWS's
//! grammar first.

mod action;
mod error;
mod ops;
mod render;
mod simulate;

pub use action::{IamRequest, Page, Tagged, decode};
pub use error::IamError;
pub use simulate::SimulateRequest;

use podiam_auth::{Caller, Check, RequestMeta, Services, Subject};
use podiam_core::query::QueryParams;

/// IAM's XML namespace.
pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// Handles one authenticated IAM request; returns the XML response body.
pub async fn handle(
    svc: &Services,
    caller: &Caller,
    params: &QueryParams,
    meta: &RequestMeta,
    request_id: &str,
) -> Result<String, IamError> {
    let req = decode(params)?;
    let (action, resource) = req.authz(caller.account());
    svc.authorizer(Subject::Caller(caller), meta)
        .decide(&Check::new(action, resource.clone()))
        .map_err(|d| IamError::AccessDenied {
            caller: caller.arn(),
            action: action.to_string(),
            resource: resource.clone(),
            reason: d.reason_suffix(action),
        })?;
    let iam = ops::Iam {
        svc,
        caller,
        account: caller.account().to_string(),
    };
    let name = params.get("Action").unwrap_or_default();
    iam.run(name, req, request_id).await
}
