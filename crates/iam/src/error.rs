//! IAM's errors and their one mapping to the wire.

use podiam_core::AwsError;
use podiam_store::StoreError;

/// Everything an IAM call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamError {
    /// The entity does not exist.
    #[error("{0}")]
    NoSuchEntity(String),
    /// A create collided with an existing entity.
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// The entity still has dependants.
    #[error("{0}")]
    DeleteConflict(String),
    /// A quota was hit.
    #[error("{0}")]
    LimitExceeded(String),
    /// A policy document is not valid.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// A parameter is invalid in a way IAM reports as `InvalidInput`.
    #[error("{0}")]
    InvalidInput(String),
    /// A parameter violates its modelled constraints.
    #[error("{0}")]
    Validation(String),
    /// The policy cannot be attached.
    #[error("{0}")]
    PolicyNotAttachable(String),
    /// The caller's policies do not allow the call.
    #[error(
        "User: {caller} is not authorized to perform: {action} on resource: {resource}{reason}"
    )]
    AccessDenied {
        /// The caller's ARN.
        caller: String,
        /// e.g. `iam:CreateRole`.
        action: String,
        /// The resource ARN.
        resource: String,
        /// AWS's suffix: ` because no identity-based policy allows the … action`, or
        /// ` with an explicit deny in an identity-based policy`.
        reason: String,
    },
    /// Concurrent writers kept winning.
    #[error("{0}")]
    ConcurrentModification(String),
    /// The action name is unknown.
    #[error("Could not find operation {0} for version 2010-05-08")]
    InvalidAction(String),
    /// The store cannot be reached (retryable).
    #[error("{0}")]
    ServiceUnavailable(String),
    /// An internal failure (e.g. a stored document that cannot be decoded).
    #[error("{0}")]
    ServiceFailure(String),
    /// No `Action` parameter.
    #[error("Missing Action")]
    MissingAction,
    /// The request could not be authenticated.
    #[error("{0}")]
    Unauthenticated(#[from] podiam_auth::AuthError),
}

impl IamError {
    /// The wire form: AWS code and HTTP status.
    pub fn to_aws(&self) -> AwsError {
        let (status, code) = match self {
            IamError::NoSuchEntity(_) => (404, "NoSuchEntity"),
            IamError::EntityAlreadyExists(_) => (409, "EntityAlreadyExists"),
            IamError::DeleteConflict(_) => (409, "DeleteConflict"),
            IamError::LimitExceeded(_) => (409, "LimitExceeded"),
            IamError::MalformedPolicyDocument(_) => (400, "MalformedPolicyDocument"),
            IamError::InvalidInput(_) => (400, "InvalidInput"),
            IamError::Validation(_) => (400, "ValidationError"),
            IamError::PolicyNotAttachable(_) => (400, "PolicyNotAttachable"),
            IamError::AccessDenied { .. } => (403, "AccessDenied"),
            IamError::ConcurrentModification(_) => (409, "ConcurrentModification"),
            IamError::InvalidAction(_) => (400, "InvalidAction"),
            IamError::ServiceUnavailable(_) => (503, "ServiceUnavailable"),
            IamError::ServiceFailure(_) => (500, "ServiceFailure"),
            IamError::MissingAction => (400, "MissingAction"),
            IamError::Unauthenticated(e) => return e.to_aws(),
        };
        AwsError::new(status, code, self.to_string())
    }
}

/// What a caller is told while the store is down (the cause is logged).
const UNAVAILABLE: &str =
    "The service is temporarily unavailable: its store cannot be reached. Retry the request.";

impl From<StoreError> for IamError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists { kind, key } => {
                IamError::EntityAlreadyExists(format!("{kind} {key} already exists."))
            }
            StoreError::Conflict { .. } => IamError::ConcurrentModification(
                "The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.".into(),
            ),
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable; write refused");
                IamError::ServiceUnavailable(UNAVAILABLE.into())
            }
            e => IamError::ServiceFailure(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_mapping() {
        let cases = [
            (IamError::NoSuchEntity("x".into()), 404, "NoSuchEntity"),
            (
                IamError::EntityAlreadyExists("x".into()),
                409,
                "EntityAlreadyExists",
            ),
            (IamError::DeleteConflict("x".into()), 409, "DeleteConflict"),
            (IamError::LimitExceeded("x".into()), 409, "LimitExceeded"),
            (
                IamError::MalformedPolicyDocument("x".into()),
                400,
                "MalformedPolicyDocument",
            ),
            (IamError::InvalidInput("x".into()), 400, "InvalidInput"),
            (IamError::Validation("x".into()), 400, "ValidationError"),
            (
                IamError::PolicyNotAttachable("x".into()),
                400,
                "PolicyNotAttachable",
            ),
            (
                IamError::ConcurrentModification("x".into()),
                409,
                "ConcurrentModification",
            ),
            (IamError::InvalidAction("Nope".into()), 400, "InvalidAction"),
            (IamError::ServiceFailure("x".into()), 500, "ServiceFailure"),
            (
                IamError::ServiceUnavailable("x".into()),
                503,
                "ServiceUnavailable",
            ),
        ];
        for (e, status, code) in cases {
            let w = e.to_aws();
            assert_eq!((w.status.as_u16(), w.code.as_ref()), (status, code));
        }
        let denied = IamError::AccessDenied {
            caller: "arn:aws:sts::000000000000:assumed-role/r/s".into(),
            action: "iam:CreateRole".into(),
            resource: "arn:aws:iam::000000000000:role/x".into(),
            reason: " because no identity-based policy allows the iam:CreateRole action".into(),
        };
        let w = denied.to_aws();
        assert_eq!(w.status.as_u16(), 403);
        assert_eq!(
            w.message,
            "User: arn:aws:sts::000000000000:assumed-role/r/s is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::000000000000:role/x because no identity-based policy allows the iam:CreateRole action"
        );
        assert_eq!(
            IamError::InvalidAction("Nope".into()).to_aws().message,
            "Could not find operation Nope for version 2010-05-08"
        );
    }
}
