//! S3 errors: one enum-like value with S3's code, status and message, and
//! the extra elements S3 puts in its `<Error>` document.

use podiam_core::xml::XmlWriter;

/// Declares [`S3Code`] from `Code => status` lines: the one table of S3's
/// error codes and their HTTP statuses.
macro_rules! s3_codes {
    ($($code:ident => $status:literal,)*) => {
        /// An S3 error code; its HTTP status is fixed by the code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)] // the variants are S3's own names
        pub enum S3Code {
            $($code,)*
        }

        impl S3Code {
            /// Every code, for tests and tables.
            pub const ALL: &[S3Code] = &[$(S3Code::$code,)*];

            /// The code on the wire (`NoSuchKey`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(S3Code::$code => stringify!($code),)*
                }
            }

            /// The code named `s`, if S3 has it.
            pub fn parse(s: &str) -> Option<S3Code> {
                Self::ALL.iter().copied().find(|c| c.as_str() == s)
            }

            /// The HTTP status S3 answers with.
            pub fn status(self) -> u16 {
                match self {
                    $(S3Code::$code => $status,)*
                }
            }
        }
    };
}

s3_codes! {
    AccessControlListNotSupported => 400,
    AccessDenied => 403,
    AuthorizationHeaderMalformed => 400,
    AuthorizationQueryParametersError => 400,
    BadDigest => 400,
    BucketAlreadyExists => 409,
    BucketAlreadyOwnedByYou => 409,
    BucketNotEmpty => 409,
    EntityTooLarge => 400,
    EntityTooSmall => 400,
    ExpiredToken => 400,
    IllegalLocationConstraintException => 400,
    IncompleteBody => 400,
    InternalError => 500,
    InvalidAccessKeyId => 403,
    InvalidArgument => 400,
    InvalidBucketName => 400,
    InvalidDigest => 400,
    InvalidLocationConstraint => 400,
    InvalidPart => 400,
    InvalidPartOrder => 400,
    InvalidRange => 416,
    InvalidRequest => 400,
    InvalidTag => 400,
    InvalidToken => 400,
    InvalidURI => 400,
    KeyTooLongError => 400,
    MalformedPolicy => 400,
    MalformedTrailerError => 400,
    MalformedXML => 400,
    MetadataTooLarge => 400,
    MethodNotAllowed => 405,
    MissingSecurityHeader => 400,
    NoSuchBucket => 404,
    NoSuchBucketPolicy => 404,
    NoSuchCORSConfiguration => 404,
    NoSuchKey => 404,
    NoSuchLifecycleConfiguration => 404,
    NoSuchTagSet => 404,
    NoSuchUpload => 404,
    NoSuchWebsiteConfiguration => 404,
    NotImplemented => 501,
    ObjectLockConfigurationNotFoundError => 404,
    OperationAborted => 409,
    PolicyTooLarge => 400,
    PreconditionFailed => 412,
    ReplicationConfigurationNotFoundError => 404,
    RequestTimeTooSkewed => 403,
    ServiceUnavailable => 503,
    SignatureDoesNotMatch => 403,
    XAmzContentSHA256Mismatch => 400,
}

impl S3Code {
    /// The message S3 gives with this code when the message names nothing
    /// of the request: what a backend store's own wording is replaced by.
    pub fn standard_message(self) -> Option<&'static str> {
        Some(match self {
            S3Code::NoSuchKey => "The specified key does not exist.",
            S3Code::NoSuchBucket => "The specified bucket does not exist",
            S3Code::NoSuchUpload => {
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
            }
            S3Code::BucketNotEmpty => "The bucket you tried to delete is not empty",
            S3Code::PreconditionFailed => {
                "At least one of the pre-conditions you specified did not hold"
            }
            S3Code::InvalidRange => "The requested range is not satisfiable",
            S3Code::InvalidPartOrder => {
                "The list of parts was not in ascending order. Parts must be ordered by part number."
            }
            S3Code::InvalidPart => {
                "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
            }
            S3Code::EntityTooSmall => {
                "Your proposed upload is smaller than the minimum allowed size"
            }
            S3Code::BadDigest => "The Content-MD5 you specified did not match what we received.",
            S3Code::BucketAlreadyOwnedByYou => {
                "Your previous request to create the named bucket succeeded and you already own it."
            }
            _ => return None,
        })
    }
}

/// An S3 error as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    /// The S3 error code, which fixes the HTTP status.
    pub code: S3Code,
    /// Human message.
    pub message: String,
    /// The `<Resource>` element, when S3 sends one.
    pub resource: Option<String>,
    /// Extra elements after `<Message>` (`BucketName`, `Key`, `StringToSign`, …).
    pub extra: Vec<(&'static str, String)>,
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code.as_str(),
            self.status(),
            self.message
        )
    }
}

impl std::error::Error for S3Error {}

/// Result alias.
pub type S3Result<T> = Result<T, S3Error>;

impl S3Error {
    /// A new error.
    pub fn new(code: S3Code, message: impl Into<String>) -> Self {
        S3Error {
            code,
            message: message.into(),
            resource: None,
            extra: Vec::new(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.code.status()
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
        Self::new(S3Code::AccessDenied, "Access Denied")
    }

    /// `NoSuchBucket`.
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(S3Code::NoSuchBucket, "The specified bucket does not exist")
            .with("BucketName", bucket)
    }

    /// `NoSuchKey`.
    pub fn no_such_key(key: &str) -> Self {
        Self::new(S3Code::NoSuchKey, "The specified key does not exist.").with("Key", key)
    }

    /// `NoSuchUpload`.
    pub fn no_such_upload(upload_id: &str) -> Self {
        Self::new(
            S3Code::NoSuchUpload,
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
        .with("UploadId", upload_id)
    }

    /// `InvalidArgument` naming the argument.
    pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> Self {
        Self::new(S3Code::InvalidArgument, message)
            .with("ArgumentName", name)
            .with("ArgumentValue", value)
    }

    /// `InvalidRequest`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(S3Code::InvalidRequest, message)
    }

    /// `MalformedXML`.
    pub fn malformed_xml() -> Self {
        Self::new(
            S3Code::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    }

    /// `InternalError`; the cause is logged, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "s3 internal error");
        Self::new(
            S3Code::InternalError,
            "We encountered an internal error. Please try again.",
        )
    }

    /// `EntityTooLarge`.
    pub fn entity_too_large(size: u64, max: u64) -> Self {
        Self::new(
            S3Code::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size.",
        )
        .with("ProposedSize", size.to_string())
        .with("MaxSizeAllowed", max.to_string())
    }

    /// `NotImplemented`.
    pub fn not_implemented() -> Self {
        Self::new(
            S3Code::NotImplemented,
            "A header you provided implies functionality that is not implemented",
        )
    }

    /// The `<Error>` document.
    pub fn to_xml(&self, request_id: &str, host_id: &str) -> String {
        let mut w = XmlWriter::with_declaration();
        w.start("Error")
            .elem("Code", self.code.as_str())
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
                S3Code::OperationAborted,
                "A conflicting conditional operation is currently in progress against this resource. Please try again.",
            ),
            podiam_store::StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "store unavailable; s3 write refused");
                S3Error::new(
                    S3Code::ServiceUnavailable,
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
        assert_eq!(e.status(), 404);
    }

    #[test]
    fn every_code_has_its_status() {
        let status = |c: &str| {
            S3Code::ALL
                .iter()
                .find(|x| x.as_str() == c)
                .map(|x| x.status())
        };
        assert_eq!(status("NoSuchKey"), Some(404));
        assert_eq!(status("AccessDenied"), Some(403));
        assert_eq!(status("SignatureDoesNotMatch"), Some(403));
        assert_eq!(status("InvalidAccessKeyId"), Some(403));
        assert_eq!(status("RequestTimeTooSkewed"), Some(403));
        assert_eq!(status("ExpiredToken"), Some(400));
        assert_eq!(status("BucketNotEmpty"), Some(409));
        assert_eq!(status("MethodNotAllowed"), Some(405));
        assert_eq!(status("PreconditionFailed"), Some(412));
        assert_eq!(status("InvalidRange"), Some(416));
        assert_eq!(status("InternalError"), Some(500));
        assert_eq!(status("NotImplemented"), Some(501));
        assert_eq!(status("ServiceUnavailable"), Some(503));
        // Codes are distinct and every status is an error status.
        let mut names: Vec<_> = S3Code::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), S3Code::ALL.len());
        assert!(S3Code::ALL.iter().all(|c| (400..600).contains(&c.status())));
    }
}
