//! S3 errors: one enum-like value with S3's code, status and message, and
//! the extra elements S3 puts in its `<Error>` document.

use podiam_core::xml::XmlWriter;

/// An S3 error as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    /// HTTP status.
    pub status: u16,
    /// S3 error code, e.g. `NoSuchKey`.
    pub code: &'static str,
    /// Human message.
    pub message: String,
    /// The `<Resource>` element, when S3 sends one.
    pub resource: Option<String>,
    /// Extra elements after `<Message>` (`BucketName`, `Key`, `StringToSign`, …).
    pub extra: Vec<(&'static str, String)>,
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for S3Error {}

/// Result alias.
pub type S3Result<T> = Result<T, S3Error>;

impl S3Error {
    /// A new error.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        S3Error {
            status,
            code,
            message: message.into(),
            resource: None,
            extra: Vec::new(),
        }
    }

    /// Adds an extra element.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    /// Sets `<Resource>`.
    pub fn resource(mut self, r: impl Into<String>) -> Self {
        self.resource = Some(r.into());
        self
    }

    /// `AccessDenied` with S3's classic message.
    pub fn access_denied() -> Self {
        Self::new(403, "AccessDenied", "Access Denied")
    }

    /// `NoSuchBucket`.
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(404, "NoSuchBucket", "The specified bucket does not exist")
            .with("BucketName", bucket)
    }

    /// `NoSuchKey`.
    pub fn no_such_key(key: &str) -> Self {
        Self::new(404, "NoSuchKey", "The specified key does not exist.").with("Key", key)
    }

    /// `NoSuchUpload`.
    pub fn no_such_upload(upload_id: &str) -> Self {
        Self::new(
            404,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
        .with("UploadId", upload_id)
    }

    /// `InvalidArgument` naming the argument.
    pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> Self {
        Self::new(400, "InvalidArgument", message)
            .with("ArgumentName", name)
            .with("ArgumentValue", value)
    }

    /// `InvalidRequest`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequest", message)
    }

    /// `MalformedXML`.
    pub fn malformed_xml() -> Self {
        Self::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    }

    /// `InternalError`; the cause is logged, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "s3 internal error");
        Self::new(
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    /// `EntityTooLarge`.
    pub fn entity_too_large(size: u64, max: u64) -> Self {
        Self::new(
            400,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed object size.",
        )
        .with("ProposedSize", size.to_string())
        .with("MaxSizeAllowed", max.to_string())
    }

    /// `NotImplemented`.
    pub fn not_implemented() -> Self {
        Self::new(
            501,
            "NotImplemented",
            "A header you provided implies functionality that is not implemented",
        )
    }

    /// The `<Error>` document.
    pub fn to_xml(&self, request_id: &str, host_id: &str) -> String {
        let mut w = XmlWriter::with_declaration();
        w.start("Error")
            .elem("Code", self.code)
            .elem("Message", &self.message);
        for (k, v) in &self.extra {
            w.elem(k, v);
        }
        w.opt("Resource", self.resource.as_deref());
        w.elem("RequestId", request_id)
            .elem("HostId", host_id)
            .end("Error");
        w.finish()
    }
}

impl From<podiam_store::StoreError> for S3Error {
    /// A write that kept losing to concurrent ones is `OperationAborted`,
    /// the store being unreachable S3's retryable `ServiceUnavailable`;
    /// anything else is internal.
    fn from(e: podiam_store::StoreError) -> Self {
        match e {
            podiam_store::StoreError::Conflict { .. } => S3Error::new(
                409,
                "OperationAborted",
                "A conflicting conditional operation is currently in progress against this resource. Please try again.",
            ),
            podiam_store::StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable; s3 write refused");
                S3Error::new(
                    503,
                    "ServiceUnavailable",
                    "Service is unable to handle request.",
                )
            }
            e => S3Error::internal(e),
        }
    }
}

impl From<std::io::Error> for S3Error {
    fn from(e: std::io::Error) -> Self {
        S3Error::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_s3_error_document() {
        let e = S3Error::no_such_key("a<b");
        let x = e.to_xml("RID", "HID");
        assert_eq!(
            x,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&lt;b</Key><RequestId>RID</RequestId><HostId>HID</HostId></Error>"
        );
        assert_eq!(e.status, 404);
    }
}
