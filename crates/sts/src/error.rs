//! STS's errors and their one mapping to the wire.

use podiam_core::AwsError;

/// Everything an STS call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    /// A parameter violates its constraints.
    #[error("{0}")]
    Validation(String),
    /// The session policy is not valid.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// Session policies and tags exceed the packed size.
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    /// The web identity token could not be validated.
    #[error("{0}")]
    InvalidIdentityToken(String),
    /// The web identity token has expired.
    #[error("{0}")]
    ExpiredToken(String),
    /// The trust policy (or the caller's policies) do not allow it.
    #[error("{0}")]
    AccessDenied(String),
    /// Unknown action.
    #[error("Could not find operation {0} for version 2011-06-15")]
    InvalidAction(String),
    /// The store failed.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// No `Action` parameter.
    #[error("Missing Action")]
    MissingAction,
    /// The request could not be authenticated.
    #[error("{0}")]
    Unauthenticated(#[from] podiam_auth::AuthError),
}

impl StsError {
    /// The wire form: AWS code and HTTP status.
    pub fn to_aws(&self) -> AwsError {
        let (status, code) = match self {
            StsError::Validation(_) => (400, "ValidationError"),
            StsError::MalformedPolicyDocument(_) => (400, "MalformedPolicyDocument"),
            StsError::PackedPolicyTooLarge(_) => (400, "PackedPolicyTooLarge"),
            StsError::InvalidIdentityToken(_) => (400, "InvalidIdentityToken"),
            StsError::ExpiredToken(_) => (400, "ExpiredTokenException"),
            StsError::AccessDenied(_) => (403, "AccessDenied"),
            StsError::InvalidAction(_) => (400, "InvalidAction"),
            StsError::ServiceUnavailable(_) => (503, "ServiceUnavailable"),
            StsError::MissingAction => (400, "MissingAction"),
            StsError::Unauthenticated(e) => return e.to_aws(),
        };
        AwsError::new(status, code, self.to_string())
    }
}

impl From<podiam_auth::sessions::SessionError> for StsError {
    fn from(e: podiam_auth::sessions::SessionError) -> Self {
        use podiam_auth::sessions::SessionError as E;
        match e {
            E::Validation(m) => StsError::Validation(m),
            E::MalformedPolicyDocument(m) => StsError::MalformedPolicyDocument(m),
            E::PackedPolicyTooLarge(m) => StsError::PackedPolicyTooLarge(m),
            E::AccessDenied(m) => StsError::AccessDenied(m),
            E::ServiceUnavailable(m) => StsError::ServiceUnavailable(m),
        }
    }
}

impl From<podiam_store::StoreError> for StsError {
    fn from(e: podiam_store::StoreError) -> Self {
        StsError::ServiceUnavailable(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_mapping() {
        let cases = [
            (StsError::Validation("x".into()), 400, "ValidationError"),
            (
                StsError::MalformedPolicyDocument("x".into()),
                400,
                "MalformedPolicyDocument",
            ),
            (
                StsError::PackedPolicyTooLarge("x".into()),
                400,
                "PackedPolicyTooLarge",
            ),
            (
                StsError::InvalidIdentityToken("x".into()),
                400,
                "InvalidIdentityToken",
            ),
            (
                StsError::ExpiredToken("x".into()),
                400,
                "ExpiredTokenException",
            ),
            (StsError::AccessDenied("x".into()), 403, "AccessDenied"),
            (StsError::InvalidAction("X".into()), 400, "InvalidAction"),
            (
                StsError::ServiceUnavailable("x".into()),
                503,
                "ServiceUnavailable",
            ),
        ];
        for (e, status, code) in cases {
            let w = e.to_aws();
            assert_eq!((w.status.as_u16(), w.code.as_ref()), (status, code));
        }
    }
}
