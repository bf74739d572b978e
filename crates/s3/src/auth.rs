//! Who is calling: SigV4 (header or presigned) against a stored long-term
//! key or a sealed session, or nobody (anonymous). Errors are S3's.

use crate::error::{S3Code, S3Error};
use podiam_auth::{AuthError, Caller, pipeline};
use podiam_sigv4::{AuthKind, RequestView, SigV4Error, VerifiedRequest};

/// Who signed a request, as S3's operations see it.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated<'a> {
    /// The caller; `None` for anonymous requests.
    pub caller: Option<&'a Caller>,
    /// The verified signature (body checks chain from it).
    pub verified: Option<&'a VerifiedRequest>,
}

impl<'a> Authenticated<'a> {
    /// What the pipeline authenticated.
    pub fn of(cx: &pipeline::Cx<'a>) -> Self {
        Authenticated {
            caller: cx.caller,
            verified: cx.verified,
        }
    }

    /// `s3:authType`.
    pub fn auth_type(&self) -> Option<&'static str> {
        self.verified.map(|v| match v.kind() {
            AuthKind::Header => "REST-HEADER",
            AuthKind::Presigned { .. } => "REST-QUERY-STRING",
        })
    }
}

fn invalid_access_key(akid: &str) -> S3Error {
    S3Error::new(
        S3Code::InvalidAccessKeyId,
        "The AWS Access Key Id you provided does not exist in our records.",
    )
    .with("AWSAccessKeyId", akid)
}

fn invalid_token() -> S3Error {
    S3Error::new(
        S3Code::InvalidToken,
        "The provided token is malformed or otherwise invalid.",
    )
}

/// Maps a SigV4 failure to S3's error.
pub fn map_sigv4(e: SigV4Error) -> S3Error {
    use podiam_sigv4::ScopePart;
    let fmt = podiam_sigv4::format_amz_date;
    match e {
        SigV4Error::SignatureMismatch {
            canonical_request,
            string_to_sign,
        } => S3Error::new(
            S3Code::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with("StringToSign", string_to_sign.clone())
        .with("StringToSignBytes", hex_spaced(string_to_sign.as_bytes()))
        .with("CanonicalRequest", canonical_request.clone())
        .with("CanonicalRequestBytes", hex_spaced(canonical_request.as_bytes())),
        SigV4Error::ChunkSignatureMismatch { .. } | SigV4Error::TrailerSignatureMismatch => {
            S3Error::new(
                S3Code::SignatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            )
        }
        SigV4Error::RequestTimeTooSkewed {
            request_time,
            server_time,
            max_skew,
        } => S3Error::new(
            S3Code::RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large.",
        )
        .with("RequestTime", fmt(request_time))
        .with("ServerTime", crate::xml::iso8601_ms(server_time.unix_timestamp() * 1000))
        .with("MaxAllowedSkewMilliseconds", max_skew.as_millis().to_string()),
        SigV4Error::PresignExpired {
            expires_at,
            server_time,
        } => S3Error::new(S3Code::AccessDenied, "Request has expired")
            .with("Expires", crate::xml::iso8601_ms(expires_at.unix_timestamp() * 1000))
            .with("ServerTime", crate::xml::iso8601_ms(server_time.unix_timestamp() * 1000)),
        SigV4Error::PresignNotYetValid { .. } => {
            S3Error::new(S3Code::AccessDenied, "Request is not valid yet")
        }
        SigV4Error::PresignTooLong { max, .. } => S3Error::new(
            S3Code::AuthorizationQueryParametersError,
            format!("X-Amz-Expires must be less than a week (in seconds) that is {max}"),
        ),
        SigV4Error::ScopeMismatch {
            part: ScopePart::Region,
            expected,
            found,
        } => S3Error::new(
            S3Code::AuthorizationHeaderMalformed,
            format!(
                "The authorization header is malformed; the region '{found}' is wrong; expecting '{expected}'"
            ),
        )
        .with("Region", expected),
        SigV4Error::ScopeMismatch {
            part: ScopePart::Service,
            found,
            ..
        } => S3Error::new(
            S3Code::AuthorizationHeaderMalformed,
            format!(
                "The authorization header is malformed; incorrect service \"{found}\". This endpoint belongs to \"s3\"."
            ),
        ),
        SigV4Error::ScopeMismatch { part: ScopePart::Date, .. } => S3Error::new(
            S3Code::AuthorizationHeaderMalformed,
            "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.",
        ),
        SigV4Error::HeaderNotSigned(h) => S3Error::new(
            S3Code::AccessDenied,
            "There were headers present in the request which were not signed",
        )
        .with("HeadersNotSigned", h),
        SigV4Error::Missing("x-amz-content-sha256") => S3Error::new(
            S3Code::InvalidRequest,
            "Missing required header for this request: x-amz-content-sha256",
        ),
        SigV4Error::Missing(h @ "x-amz-decoded-content-length") => S3Error::new(
            S3Code::MissingSecurityHeader,
            "Your request was missing a required header",
        )
        .with("MissingHeaderName", h),
        SigV4Error::InvalidContentSha256(_) => S3Error::new(
            S3Code::InvalidArgument,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
        ),
        SigV4Error::PayloadHashMismatch { declared, computed } => S3Error::new(
            S3Code::XAmzContentSHA256Mismatch,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
        .with("ClientComputedContentSHA256", declared)
        .with("S3ComputedContentSHA256", computed),
        SigV4Error::ChecksumMismatch { algorithm, .. } => S3Error::new(
            S3Code::BadDigest,
            format!(
                "The {} you specified did not match the calculated checksum.",
                algorithm.trim_start_matches("x-amz-checksum-").to_ascii_uppercase()
            ),
        ),
        SigV4Error::IncompleteBody | SigV4Error::DecodedLengthMismatch { .. } => S3Error::new(
            S3Code::IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header",
        ),
        SigV4Error::UnsupportedChecksum(h) => S3Error::new(
            S3Code::InvalidRequest,
            format!("Value for {h} header is invalid."),
        ),
        SigV4Error::UnexpectedTrailer(_) | SigV4Error::MissingTrailer(_) => S3Error::new(
            S3Code::MalformedTrailerError,
            "The request contained trailing data that was not well-formed or did not conform to our published schema.",
        ),
        SigV4Error::ChunkedFraming(m) => S3Error::new(S3Code::InvalidRequest, format!("Invalid chunked body: {m}")),
        SigV4Error::ChunkTooLarge { .. } => {
            S3Error::new(S3Code::InvalidRequest, "Chunk size exceeds the maximum allowed")
        }
        SigV4Error::UnsupportedPayloadMode(m) => S3Error::new(
            S3Code::InvalidRequest,
            format!("The payload mode {m} is not supported for this request"),
        ),
        SigV4Error::UnsupportedAlgorithm(_) => S3Error::new(
            S3Code::InvalidArgument,
            "Unsupported Authorization Type",
        ),
        other => S3Error::new(
            S3Code::AuthorizationHeaderMalformed,
            format!("The authorization header is malformed; {other}"),
        ),
    }
}

fn hex_spaced(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// S3 answers SigV2 (`Authorization: AWS …` or a v2 presigned query)
/// with `InvalidRequest` before looking at the signature.
pub fn refuse_sigv2(view: &RequestView<'_>) -> Result<(), S3Error> {
    let sigv2 = view
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("AWS "))
        || view.query.is_some_and(|q| {
            q.split('&').any(|kv| kv.starts_with("AWSAccessKeyId="))
                && q.split('&').any(|kv| kv.starts_with("Signature="))
        });
    if sigv2 {
        return Err(S3Error::new(
            S3Code::InvalidRequest,
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ));
    }
    Ok(())
}

/// S3's shape of an authentication failure.
pub fn map_auth(e: AuthError, in_header: bool) -> S3Error {
    match e {
        AuthError::Missing => S3Error::access_denied(),
        AuthError::Signature {
            error: SigV4Error::MalformedAuthorization(m),
            ..
        } => {
            if in_header {
                S3Error::new(
                    S3Code::AuthorizationHeaderMalformed,
                    format!("The authorization header is malformed; {m}"),
                )
            } else {
                S3Error::new(S3Code::AuthorizationQueryParametersError, m)
            }
        }
        AuthError::Signature {
            error: error @ SigV4Error::SignatureMismatch { .. },
            access_key_id,
            signature,
        } => {
            let mut e = map_sigv4(error);
            if let Some(akid) = access_key_id {
                e = e.with("AWSAccessKeyId", akid);
            }
            if let Some(sig) = signature {
                e = e.with("SignatureProvided", sig);
            }
            e
        }
        AuthError::Signature { error, .. } => map_sigv4(error),
        AuthError::UnknownAccessKey(akid) | AuthError::MissingSessionToken(akid) => {
            invalid_access_key(&akid)
        }
        AuthError::InvalidSessionToken(_) => invalid_token(),
        AuthError::ExpiredSession { token } => {
            S3Error::new(S3Code::ExpiredToken, "The provided token has expired.")
                .with("Token-0", token)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigv4_errors_map_to_s3_codes() {
        let now = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let cases: Vec<(SigV4Error, u16, &str)> = vec![
            (
                SigV4Error::SignatureMismatch {
                    canonical_request: "GET\n/".into(),
                    string_to_sign: "AWS4".into(),
                },
                403,
                "SignatureDoesNotMatch",
            ),
            (
                SigV4Error::RequestTimeTooSkewed {
                    request_time: now - time::Duration::hours(1),
                    server_time: now,
                    max_skew: std::time::Duration::from_secs(900),
                },
                403,
                "RequestTimeTooSkewed",
            ),
            (
                SigV4Error::PresignExpired {
                    expires_at: now,
                    server_time: now,
                },
                403,
                "AccessDenied",
            ),
            (
                SigV4Error::PresignTooLong { expires: 1, max: 2 },
                400,
                "AuthorizationQueryParametersError",
            ),
            (
                SigV4Error::PayloadHashMismatch {
                    declared: "a".into(),
                    computed: "b".into(),
                },
                400,
                "XAmzContentSHA256Mismatch",
            ),
            (
                SigV4Error::ChunkSignatureMismatch { index: 1 },
                403,
                "SignatureDoesNotMatch",
            ),
            (
                SigV4Error::Missing("x-amz-content-sha256"),
                400,
                "InvalidRequest",
            ),
            (
                SigV4Error::Missing("x-amz-decoded-content-length"),
                400,
                "MissingSecurityHeader",
            ),
            (SigV4Error::IncompleteBody, 400, "IncompleteBody"),
            (
                SigV4Error::ChecksumMismatch {
                    algorithm: "x-amz-checksum-crc32".into(),
                    expected: "a".into(),
                    computed: "b".into(),
                },
                400,
                "BadDigest",
            ),
            (
                SigV4Error::ScopeMismatch {
                    part: podiam_sigv4::ScopePart::Region,
                    expected: "us-east-1".into(),
                    found: "eu-west-1".into(),
                },
                400,
                "AuthorizationHeaderMalformed",
            ),
            (
                SigV4Error::HeaderNotSigned("x-amz-security-token".into()),
                403,
                "AccessDenied",
            ),
        ];
        for (e, status, code) in cases {
            let m = map_sigv4(e);
            assert_eq!((m.status(), m.code.as_str()), (status, code));
        }
        let m = map_sigv4(SigV4Error::SignatureMismatch {
            canonical_request: "GET\n/".into(),
            string_to_sign: "AWS4".into(),
        });
        assert!(
            m.extra
                .iter()
                .any(|(k, v)| *k == "CanonicalRequest" && v == "GET\n/")
        );
        assert!(
            m.extra
                .iter()
                .any(|(k, v)| *k == "StringToSignBytes" && v == "41 57 53 34")
        );
    }
}
