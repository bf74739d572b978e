//! The console's own refusals, and their one mapping to code and status.

use axum::body::Body;
use http::{HeaderValue, Response, header};

/// Why the console refused a request (the AWS services' own refusals pass
/// through untouched).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsoleError {
    /// No console cookie, or one the store does not know (signed out).
    #[error("Sign in first: this page needs a console session")]
    NotSignedIn,
    /// The session's time is up.
    #[error("Your console session expired: sign in again")]
    Expired,
    /// The access key, secret or session token did not check out (which
    /// one is not said).
    #[error("The access key ID, secret access key or session token is not valid")]
    InvalidCredentials,
    /// A state-changing call without the session's CSRF token.
    #[error("Missing or wrong X-CSRF-Token header")]
    Csrf,
    /// A request another site's page sent.
    #[error("Cross-origin requests are refused")]
    CrossOrigin,
    /// A malformed request.
    #[error("{0}")]
    Invalid(String),
    /// An API call the console does not make.
    #[error("{0}")]
    Unsupported(String),
    /// No such page or asset.
    #[error("No console route for {0}")]
    NotFound(String),
    /// The store could not be reached.
    #[error("The console's session store is unavailable")]
    Unavailable,
}

impl ConsoleError {
    /// The code and HTTP status.
    pub fn code_and_status(&self) -> (&'static str, u16) {
        match self {
            ConsoleError::NotSignedIn | ConsoleError::Expired => ("NotSignedIn", 401),
            ConsoleError::InvalidCredentials => ("InvalidCredentials", 401),
            ConsoleError::Csrf => ("InvalidCsrfToken", 403),
            ConsoleError::CrossOrigin => ("CrossOriginRequest", 403),
            ConsoleError::Invalid(_) => ("ValidationException", 400),
            ConsoleError::Unsupported(_) => ("UnsupportedOperation", 400),
            ConsoleError::NotFound(_) => ("NotFound", 404),
            ConsoleError::Unavailable => ("ServiceUnavailable", 503),
        }
    }

    /// `{"code","message"}` with the code in `x-amzn-errortype`, as the
    /// REST-JSON services send it.
    pub fn render(&self) -> Response<Body> {
        let (code, status) = self.code_and_status();
        let body = serde_json::json!({"code": code, "message": self.to_string()}).to_string();
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("x-amzn-errortype", HeaderValue::from_static(code));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_its_code_and_status() {
        let cases = [
            (ConsoleError::NotSignedIn, "NotSignedIn", 401),
            (ConsoleError::Expired, "NotSignedIn", 401),
            (ConsoleError::InvalidCredentials, "InvalidCredentials", 401),
            (ConsoleError::Csrf, "InvalidCsrfToken", 403),
            (ConsoleError::CrossOrigin, "CrossOriginRequest", 403),
            (
                ConsoleError::Invalid("x".into()),
                "ValidationException",
                400,
            ),
            (
                ConsoleError::Unsupported("x".into()),
                "UnsupportedOperation",
                400,
            ),
            (ConsoleError::NotFound("/x".into()), "NotFound", 404),
            (ConsoleError::Unavailable, "ServiceUnavailable", 503),
        ];
        for (e, code, status) in cases {
            assert_eq!(e.code_and_status(), (code, status), "{e:?}");
            let r = e.render();
            assert_eq!(r.status().as_u16(), status);
            assert_eq!(r.headers()["x-amzn-errortype"], code);
        }
    }
}
