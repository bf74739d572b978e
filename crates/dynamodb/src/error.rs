//! DynamoDB's errors and their one mapping to the wire: AWS JSON 1.0,
//! `{"__type": "<namespace>#<Name>", "message": …}`, HTTP 400 for every
//! client error (authentication and authorization included), 500 for
//! server faults.

use axum::body::Body;
use podiam_auth::AuthError;
use podiam_auth::pipeline::ServiceError;
use podiam_core::AwsError;
use podiam_core::error::Protocol;

/// Namespace of the errors DynamoDB's model declares.
const DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810";
/// Namespace of the errors of AWS's service framework (authentication,
/// authorization, serialization).
const CORAL: &str = "com.amazon.coral.service";
/// Namespace of input validation errors.
const VALIDATE: &str = "com.amazon.coral.validate";

/// Why a DynamoDB request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DdbError {
    /// The caller could not be authenticated.
    #[error("{0}")]
    Auth(#[from] AuthError),
    /// IAM refused the call; the message names principal, action and resource.
    #[error("{0}")]
    AccessDenied(String),
    /// The request violates the API's constraints.
    #[error("{0}")]
    Validation(String),
    /// The body is not the JSON the operation takes.
    #[error("serialization error")]
    Serialization(Option<String>),
    /// `X-Amz-Target` names no DynamoDB operation.
    #[error("unknown operation")]
    UnknownOperation,
    /// The table (or stream) does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// The table does not exist, in the backup operations' words.
    #[error("{0}")]
    TableNotFound(String),
    /// The resource has no resource-based policy, or another revision.
    #[error("{0}")]
    PolicyNotFound(String),
    /// A limit is exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// podiam's store refused a write (another replica won, or it is down).
    #[error("{0}")]
    Store(String),
    /// A fault of podiam or the engine; the cause is logged, not sent.
    #[error("{0}")]
    Internal(String),
    /// The backend (`--dynamodb-backend`) cannot answer; the SDKs retry.
    #[error("{0}")]
    Unavailable(String),
    /// The engine's own answer, already in DynamoDB's wire form.
    #[error("{type_}: {message}")]
    Engine {
        /// HTTP status.
        status: u16,
        /// `__type`.
        type_: String,
        /// The message, for the audit line.
        message: String,
        /// The body as the engine wrote it.
        body: String,
    },
}

impl From<podiam_store::StoreError> for DdbError {
    fn from(e: podiam_store::StoreError) -> Self {
        DdbError::Store(e.to_string())
    }
}

impl DdbError {
    /// The wire form: HTTP status, `__type`, and the message with the key
    /// DynamoDB spells it with (`Message` for AccessDenied, `message` else).
    pub fn wire(&self) -> (u16, String, &'static str, Option<String>) {
        let t = |ns: &str, name: &str| format!("{ns}#{name}");
        match self {
            // An Authorization header that is not SigV4's at all is read as
            // no authentication (DynamoDB, as dynalite records it).
            DdbError::Auth(AuthError::Signature {
                error: podiam_sigv4::SigV4Error::UnsupportedAlgorithm(alg),
                ..
            }) if !alg.starts_with("AWS4-") => (
                400,
                t(CORAL, "MissingAuthenticationTokenException"),
                "message",
                Some("Request is missing Authentication Token".into()),
            ),
            DdbError::Auth(e) => {
                let aws = e.to_aws();
                let name = match aws.code.as_ref() {
                    "MissingAuthenticationToken" => "MissingAuthenticationTokenException",
                    "InvalidClientTokenId" => "UnrecognizedClientException",
                    "ExpiredToken" => "ExpiredTokenException",
                    "SignatureDoesNotMatch" => "InvalidSignatureException",
                    _ => "IncompleteSignatureException",
                };
                (400, t(CORAL, name), "message", Some(aws.message))
            }
            DdbError::AccessDenied(m) => (
                400,
                t(CORAL, "AccessDeniedException"),
                "Message",
                Some(m.clone()),
            ),
            DdbError::Validation(m) => (
                400,
                t(VALIDATE, "ValidationException"),
                "message",
                Some(m.clone()),
            ),
            DdbError::Serialization(m) => (
                400,
                t(CORAL, "SerializationException"),
                "Message",
                m.clone(),
            ),
            DdbError::UnknownOperation => {
                (400, t(CORAL, "UnknownOperationException"), "message", None)
            }
            DdbError::ResourceNotFound(m) => (
                400,
                t(DYNAMODB, "ResourceNotFoundException"),
                "message",
                Some(m.clone()),
            ),
            DdbError::TableNotFound(m) => (
                400,
                t(DYNAMODB, "TableNotFoundException"),
                "message",
                Some(m.clone()),
            ),
            DdbError::PolicyNotFound(m) => (
                400,
                t(DYNAMODB, "PolicyNotFoundException"),
                "message",
                Some(m.clone()),
            ),
            DdbError::LimitExceeded(m) => (
                400,
                t(DYNAMODB, "LimitExceededException"),
                "message",
                Some(m.clone()),
            ),
            DdbError::Store(_) => (
                500,
                t(DYNAMODB, "InternalServerError"),
                "message",
                Some("Internal server error".into()),
            ),
            DdbError::Internal(_) => (
                500,
                t(DYNAMODB, "InternalServerError"),
                "message",
                Some("Internal server error".into()),
            ),
            DdbError::Unavailable(_) => (
                503,
                t(CORAL, "ServiceUnavailable"),
                "message",
                Some("The service is currently unavailable or busy.".into()),
            ),
            DdbError::Engine {
                status,
                type_,
                message,
                ..
            } => (*status, type_.clone(), "message", Some(message.clone())),
        }
    }

    /// A backend's answer to a failed call, in DynamoDB's envelope whatever
    /// the backend's own: the error's name under DynamoDB's namespace for
    /// it, the message under the key DynamoDB uses.
    pub fn from_backend(status: u16, body: &str) -> DdbError {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let s = |k: &str| v.get(k).and_then(|m| m.as_str()).map(str::to_string);
        let Some(name) = s("__type").map(|t| t.rsplit('#').next().unwrap_or_default().to_string())
        else {
            return DdbError::Unavailable(format!("HTTP {status} without an error type"));
        };
        let message = s("message").or_else(|| s("Message")).unwrap_or_default();
        let namespace = match name.as_str() {
            "ValidationException" => VALIDATE,
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "MissingAuthenticationTokenException"
            | "InvalidSignatureException"
            | "IncompleteSignatureException"
            | "ExpiredTokenException"
            | "SerializationException"
            | "UnknownOperationException"
            | "ServiceUnavailable" => CORAL,
            _ => DYNAMODB,
        };
        let type_ = format!("{namespace}#{name}");
        let key = if name == "AccessDeniedException" {
            "Message"
        } else {
            "message"
        };
        let mut o = serde_json::Map::new();
        o.insert("__type".into(), type_.clone().into());
        o.insert(key.into(), message.clone().into());
        // Fields an error carries besides its message (CancellationReasons,
        // a ConditionalCheckFailed's Item) are DynamoDB's own: kept.
        if let Some(obj) = v.as_object() {
            for (k, val) in obj {
                if !matches!(k.as_str(), "__type" | "message" | "Message") {
                    o.insert(k.clone(), val.clone());
                }
            }
        }
        DdbError::Engine {
            status,
            type_,
            message,
            body: serde_json::Value::Object(o).to_string(),
        }
    }

    /// The engine's answer to a failed call.
    pub fn from_engine(status: u16, body: String) -> DdbError {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let s = |k: &str| v.get(k).and_then(|m| m.as_str()).map(str::to_string);
        DdbError::Engine {
            status,
            type_: s("__type").unwrap_or_default(),
            message: s("message").or_else(|| s("Message")).unwrap_or_default(),
            body,
        }
    }
}

impl ServiceError for DdbError {
    fn aws_error(&self) -> AwsError {
        let (status, type_, _, message) = self.wire();
        if let DdbError::Internal(cause) | DdbError::Store(cause) | DdbError::Unavailable(cause) =
            self
        {
            tracing::error!(%cause, "dynamodb request failed");
        }
        let code = type_.rsplit('#').next().unwrap_or_default().to_string();
        AwsError::new(status, code, message.unwrap_or_default())
    }

    fn protocol(&self) -> Protocol {
        Protocol::RestJson
    }

    fn render(&self, request_id: &str) -> http::Response<Body> {
        let body = match self {
            DdbError::Engine { body, .. } => body.clone(),
            _ => {
                let (_, type_, key, message) = self.wire();
                let mut o = serde_json::Map::new();
                o.insert("__type".into(), type_.into());
                if let Some(m) = message {
                    o.insert(key.into(), m.into());
                }
                serde_json::Value::Object(o).to_string()
            }
        };
        json_response(self.wire().0, body, request_id)
    }
}

/// A JSON 1.0 response with DynamoDB's headers: `x-amzn-RequestId` and the
/// body's CRC32 (decimal), which the SDKs verify.
pub fn json_response(status: u16, body: String, request_id: &str) -> http::Response<Body> {
    let crc = crc32fast::hash(body.as_bytes());
    let mut r = http::Response::new(Body::from(body));
    *r.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    h.insert(X_AMZ_CRC32, http::HeaderValue::from(crc));
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        h.insert(podiam_core::error::X_AMZN_REQUESTID, v);
    }
    r
}

const X_AMZ_CRC32: http::HeaderName = http::HeaderName::from_static("x-amz-crc32");

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn body(e: &DdbError) -> (u16, serde_json::Value, String) {
        let r = e.render("RID");
        let status = r.status().as_u16();
        let crc = r.headers()["x-amz-crc32"].to_str().unwrap().to_string();
        let bytes = futures_lite(r.into_body());
        assert_eq!(crc, crc32fast::hash(&bytes).to_string());
        (status, serde_json::from_slice(&bytes).unwrap(), crc)
    }

    fn futures_lite(b: Body) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async { b.collect().await.unwrap().to_bytes().to_vec() })
    }

    #[test]
    fn wire_shapes() {
        let (s, v, _) = body(&DdbError::AccessDenied("User: x is not authorized".into()));
        assert_eq!(s, 400);
        assert_eq!(
            v["__type"],
            "com.amazon.coral.service#AccessDeniedException"
        );
        assert_eq!(v["Message"], "User: x is not authorized");
        let (s, v, _) = body(&DdbError::Auth(AuthError::UnknownAccessKey("AKIA".into())));
        assert_eq!(s, 400);
        assert_eq!(
            v["__type"],
            "com.amazon.coral.service#UnrecognizedClientException"
        );
        assert_eq!(
            v["message"],
            "The security token included in the request is invalid."
        );
        let (_, v, _) = body(&DdbError::Auth(AuthError::Missing));
        assert_eq!(
            v["__type"],
            "com.amazon.coral.service#MissingAuthenticationTokenException"
        );
        // An Authorization header that is not SigV4's reads as none; a
        // misspelt SigV4 algorithm is an incomplete signature.
        let sig = |alg: &str| {
            DdbError::Auth(AuthError::Signature {
                error: podiam_sigv4::SigV4Error::UnsupportedAlgorithm(alg.into()),
                access_key_id: None,
                signature: None,
            })
        };
        for alg in ["AWS", "Bearer", "AWS4"] {
            let (s, v, _) = body(&sig(alg));
            assert_eq!(s, 400);
            assert_eq!(
                v,
                serde_json::json!({"__type": "com.amazon.coral.service#MissingAuthenticationTokenException",
                                   "message": "Request is missing Authentication Token"})
            );
        }
        let (_, v, _) = body(&sig("AWS4-HMAC-SHA25"));
        assert_eq!(
            v["__type"],
            "com.amazon.coral.service#IncompleteSignatureException"
        );
        let (_, v, _) = body(&DdbError::Auth(AuthError::ExpiredSession {
            token: "t".into(),
        }));
        assert_eq!(
            v["__type"],
            "com.amazon.coral.service#ExpiredTokenException"
        );
        let (_, v, _) = body(&DdbError::ResourceNotFound(
            "Requested resource not found".into(),
        ));
        assert_eq!(
            v["__type"],
            "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
        );
        let (_, v, _) = body(&DdbError::Validation("bad".into()));
        assert_eq!(v["__type"], "com.amazon.coral.validate#ValidationException");
        let (_, v, _) = body(&DdbError::UnknownOperation);
        assert_eq!(
            v,
            serde_json::json!({"__type": "com.amazon.coral.service#UnknownOperationException"})
        );
        let (s, v, _) = body(&DdbError::Internal("disk".into()));
        assert_eq!(s, 500);
        assert_eq!(v["message"], "Internal server error");
        // The backend's fault: retried by the SDKs, its cause never sent.
        // A backend's error in its own envelope comes out in DynamoDB's.
        let (s, v, _) = body(&DdbError::from_backend(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","Message":"bad key","x":1}"#,
        ));
        assert_eq!(s, 400);
        assert_eq!(
            v,
            serde_json::json!({"__type": "com.amazon.coral.validate#ValidationException",
                               "message": "bad key", "x": 1})
        );
        let (s, v, _) = body(&DdbError::Unavailable("connection refused".into()));
        assert_eq!(s, 503);
        assert_eq!(v["__type"], "com.amazon.coral.service#ServiceUnavailable");
        assert!(!v.to_string().contains("refused"));
    }

    #[test]
    fn engine_errors_pass_through() {
        let raw = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#;
        let e = DdbError::from_engine(400, raw.into());
        let a = e.aws_error();
        assert_eq!(a.code, "ConditionalCheckFailedException");
        assert_eq!(a.message, "The conditional request failed");
        assert_eq!(futures_lite(e.render("R").into_body()), raw.as_bytes());
    }
}
