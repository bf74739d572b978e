//! EKS errors (REST-JSON) and their one mapping to the wire.

use podiam_core::AwsError;

/// Everything an EKS or cluster-issuer call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EksError {
    /// The cluster (or association) does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// A create collided with an existing resource.
    #[error("{0}")]
    ResourceInUse(String),
    /// A parameter is invalid.
    #[error("{0}")]
    InvalidParameter(String),
    /// The request is invalid in its current state.
    #[error("{0}")]
    InvalidRequest(String),
    /// The caller's policies do not allow it.
    #[error("{0}")]
    AccessDenied(String),
    /// The store failed.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// An unexpected internal failure.
    #[error("{0}")]
    Server(String),
    /// No operation at this method and path.
    #[error("{0}")]
    NoRoute(String),
    /// A tagging call's request is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// A tagging call's resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request could not be authenticated.
    #[error("{0}")]
    Unauthenticated(#[from] podiam_auth::AuthError),
}

impl EksError {
    /// The wire form: AWS code and HTTP status.
    pub fn to_aws(&self) -> AwsError {
        let (status, code) = match self {
            EksError::ResourceNotFound(_) => (404, "ResourceNotFoundException"),
            EksError::ResourceInUse(_) => (409, "ResourceInUseException"),
            EksError::InvalidParameter(_) => (400, "InvalidParameterException"),
            EksError::InvalidRequest(_) => (400, "InvalidRequestException"),
            EksError::AccessDenied(_) => (403, "AccessDeniedException"),
            EksError::ServiceUnavailable(_) => (503, "ServiceUnavailableException"),
            EksError::Server(_) => (500, "ServerException"),
            EksError::NoRoute(_) | EksError::NotFound(_) => (404, "NotFoundException"),
            EksError::BadRequest(_) => (400, "BadRequestException"),
            EksError::Unauthenticated(e) => return unrecognized_client(e),
        };
        AwsError::new(status, code, self.to_string())
    }
}

/// REST-JSON services report every authentication failure as
/// `UnrecognizedClientException`, with the status and message STS would give.
pub(crate) fn unrecognized_client(e: &podiam_auth::AuthError) -> AwsError {
    let w = e.to_aws();
    AwsError::new(w.status.as_u16(), "UnrecognizedClientException", w.message)
}

impl From<podiam_store::StoreError> for EksError {
    fn from(e: podiam_store::StoreError) -> Self {
        match e {
            podiam_store::StoreError::AlreadyExists { key, .. } => {
                EksError::ResourceInUse(format!("Resource {key} already exists."))
            }
            e => EksError::ServiceUnavailable(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_mapping() {
        let cases = [
            (
                EksError::ResourceNotFound("x".into()),
                404,
                "ResourceNotFoundException",
            ),
            (
                EksError::ResourceInUse("x".into()),
                409,
                "ResourceInUseException",
            ),
            (
                EksError::InvalidParameter("x".into()),
                400,
                "InvalidParameterException",
            ),
            (
                EksError::InvalidRequest("x".into()),
                400,
                "InvalidRequestException",
            ),
            (
                EksError::AccessDenied("x".into()),
                403,
                "AccessDeniedException",
            ),
            (
                EksError::ServiceUnavailable("x".into()),
                503,
                "ServiceUnavailableException",
            ),
            (EksError::Server("x".into()), 500, "ServerException"),
        ];
        for (e, status, code) in cases {
            let w = e.to_aws();
            assert_eq!((w.status.as_u16(), w.code.as_ref()), (status, code));
        }
    }
}
