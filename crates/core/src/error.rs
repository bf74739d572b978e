//! The AWS error model on the wire.
//!
//! Each service crate has its own fine-grained error enum and one tested
//! function mapping it to an [`AwsError`]; this module only knows how to put
//! an [`AwsError`] on the wire for each protocol.

use crate::xml::XmlWriter;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use std::borrow::Cow;

/// The request id header of the JSON and query protocols.
pub const X_AMZN_REQUESTID: http::HeaderName = http::HeaderName::from_static("x-amzn-requestid");

/// Who is at fault, as reported in `<Type>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ErrorFault {
    /// The caller (4xx).
    Sender,
    /// The service (5xx).
    Receiver,
}

/// An error as the caller sees it: code, message and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// HTTP status.
    pub status: StatusCode,
    /// The AWS error code, e.g. `NoSuchEntity`.
    pub code: Cow<'static, str>,
    /// The human message.
    pub message: String,
}

impl AwsError {
    /// A new error.
    pub fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code.into(),
            message: message.into(),
        }
    }

    /// `Sender` for 4xx, `Receiver` for 5xx.
    pub fn fault(&self) -> ErrorFault {
        if self.status.is_server_error() {
            ErrorFault::Receiver
        } else {
            ErrorFault::Sender
        }
    }

    /// Renders the error in `protocol`.
    pub fn render(&self, protocol: &Protocol, request_id: &str) -> Response<Bytes> {
        let (content_type, body) = match protocol {
            Protocol::Query { namespace } => {
                let mut w = XmlWriter::new();
                w.start_ns("ErrorResponse", namespace).start("Error");
                w.elem(
                    "Type",
                    match self.fault() {
                        ErrorFault::Sender => "Sender",
                        ErrorFault::Receiver => "Receiver",
                    },
                );
                w.elem("Code", &self.code).elem("Message", &self.message);
                w.end("Error")
                    .elem("RequestId", request_id)
                    .end("ErrorResponse");
                ("text/xml", w.finish())
            }
            Protocol::RestJson => {
                let body = serde_json::json!({ "message": self.message }).to_string();
                ("application/json", body)
            }
            Protocol::S3 { resource } => {
                let mut w = XmlWriter::with_declaration();
                w.start("Error")
                    .elem("Code", &self.code)
                    .elem("Message", &self.message);
                w.opt("Resource", resource.as_deref());
                w.elem("RequestId", request_id).end("Error");
                ("application/xml", w.finish())
            }
        };
        let mut resp = Response::new(Bytes::from(body));
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert(X_AMZN_REQUESTID, v.clone());
            if matches!(protocol, Protocol::S3 { .. }) {
                h.insert("x-amz-request-id", v);
            }
        }
        if matches!(protocol, Protocol::RestJson)
            && let Ok(v) = HeaderValue::from_str(&self.code)
        {
            h.insert("x-amzn-errortype", v);
        }
        resp
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.status.as_u16(),
            self.message
        )
    }
}

impl std::error::Error for AwsError {}

/// The wire protocol an error is rendered in.
#[derive(Debug, Clone)]
pub enum Protocol {
    /// IAM / STS query protocol, with the service's XML namespace.
    Query {
        /// e.g. `https://sts.amazonaws.com/doc/2011-06-15/`.
        namespace: &'static str,
    },
    /// EKS / eks-auth REST-JSON.
    RestJson,
    /// S3's XML error document.
    S3 {
        /// The bucket or key the error is about.
        resource: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_error_shape() {
        let e = AwsError::new(400, "ExpiredTokenException", "Token too old");
        let r = e.render(
            &Protocol::Query {
                namespace: "https://sts.amazonaws.com/doc/2011-06-15/",
            },
            "rid-1",
        );
        assert_eq!(r.status(), 400);
        assert_eq!(
            std::str::from_utf8(r.body()).unwrap(),
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>ExpiredTokenException</Code><Message>Token too old</Message></Error><RequestId>rid-1</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn json_error_shape() {
        let e = AwsError::new(404, "ResourceNotFoundException", "no such association");
        let r = e.render(&Protocol::RestJson, "rid");
        assert_eq!(r.headers()["x-amzn-errortype"], "ResourceNotFoundException");
        assert_eq!(r.body().as_ref(), br#"{"message":"no such association"}"#);
        let e = AwsError::new(503, "ServiceUnavailable", "x");
        assert_eq!(e.fault(), ErrorFault::Receiver);
    }
}
