//! Authentication: SigV4 against a stored long-term key or a sealed session.

use crate::caller::Caller;
use crate::services::Services;
use podiam_core::AwsError;
use podiam_core::session::SealError;
use podiam_sigv4::{Auth, Payload, SigV4Error, VerifiedRequest, Verifier};
use podiam_store::AccessKey;

pub use podiam_sigv4::RequestView;

/// Why a request could not be authenticated. Each wire protocol renders
/// it in its own shape ([`AuthError::to_aws`] for the query and JSON
/// protocols; S3 keeps the details it reports in its error document).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No signature at all.
    #[error("request is missing authentication")]
    Missing,
    /// The signature could not be parsed, or did not verify.
    #[error("{error}")]
    Signature {
        /// What SigV4 found.
        error: SigV4Error,
        /// The access key id, once known.
        access_key_id: Option<String>,
        /// The signature the client sent (hex), once known.
        signature: Option<String>,
    },
    /// The access key id is unknown or inactive.
    #[error("unknown access key {0}")]
    UnknownAccessKey(String),
    /// A temporary key (`ASIA…`) came without a session token.
    #[error("temporary key {0} without a session token")]
    MissingSessionToken(String),
    /// The token is forged, tampered with, sealed by an unknown key, belongs
    /// to another key id, or came with a long-term key.
    #[error("invalid session token: {0}")]
    InvalidSessionToken(String),
    /// The session has expired.
    #[error("session expired")]
    ExpiredSession {
        /// The expired token (S3 echoes it).
        token: String,
    },
}

impl AuthError {
    /// The wire form for IAM, STS and the other non-S3 services.
    pub fn to_aws(&self) -> AwsError {
        match self {
            AuthError::Missing => AwsError::new(
                403,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            ),
            AuthError::Signature { error, .. } => sigv4_to_aws(error),
            AuthError::UnknownAccessKey(_)
            | AuthError::MissingSessionToken(_)
            | AuthError::InvalidSessionToken(_) => AwsError::new(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
            AuthError::ExpiredSession { .. } => AwsError::new(
                403,
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
        }
    }
}

fn sigv4_to_aws(e: &SigV4Error) -> AwsError {
    use podiam_sigv4::ScopePart;
    let mismatch = |m: String| AwsError::new(403, "SignatureDoesNotMatch", m);
    match e {
        SigV4Error::SignatureMismatch { .. } => mismatch(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        ),
        SigV4Error::RequestTimeTooSkewed {
            request_time,
            server_time,
            max_skew,
        } => {
            let fmt = podiam_sigv4::format_amz_date;
            let mins = max_skew.as_secs() / 60;
            let (request_time, server_time) = (*request_time, *server_time);
            mismatch(if request_time < server_time {
                format!(
                    "Signature expired: {} is now earlier than {} ({} - {mins} min.)",
                    fmt(request_time),
                    fmt(server_time - *max_skew),
                    fmt(server_time)
                )
            } else {
                format!(
                    "Signature not yet current: {} is still later than {} ({} + {mins} min.)",
                    fmt(request_time),
                    fmt(server_time + *max_skew),
                    fmt(server_time)
                )
            })
        }
        SigV4Error::PresignExpired { .. } | SigV4Error::PresignNotYetValid { .. } => {
            mismatch("Request has expired".into())
        }
        SigV4Error::ScopeMismatch {
            part: ScopePart::Service,
            expected,
            ..
        } => mismatch(format!(
            "Credential should be scoped to correct service: '{expected}'. "
        )),
        SigV4Error::ScopeMismatch {
            part: ScopePart::Region,
            ..
        } => mismatch("Credential should be scoped to a valid region. ".into()),
        SigV4Error::ScopeMismatch { .. } => mismatch(e.to_string()),
        other => AwsError::new(400, "IncompleteSignature", other.to_string()),
    }
}

/// A verified request: who signed it, and the verified signature (S3
/// checks streamed bodies and chunk signatures against it).
#[derive(Debug)]
pub struct Authenticated {
    /// The caller.
    pub caller: Caller,
    /// The verified signature.
    pub verified: VerifiedRequest,
}

/// The SigV4 service name a request was signed for, read from the
/// `Authorization` header or the `X-Amz-Credential` query parameter, without
/// verifying anything. Used to route requests on the shared port.
pub fn signing_service(headers: &http::HeaderMap, query: Option<&str>) -> Option<String> {
    // AKID/date/region/service/aws4_request
    let service = |credential: &str| {
        let mut parts = credential.split('/');
        let service = parts.nth(3)?;
        (parts.next().is_some() && parts.next().is_none()).then(|| service.to_string())
    };
    if let Some(a) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let i = a.find("Credential=")?;
        service(a[i + 11..].split([',', ' ']).next()?)
    } else {
        service(&form_value(query?, "X-Amz-Credential")?)
    }
}

fn form_value(q: &str, key: &str) -> Option<String> {
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

impl Services {
    /// Who an access key (with its session token, for `ASIA…` keys) belongs
    /// to, and the secret it signs with: an open, unexpired session, or an
    /// active stored long-term key.
    pub fn key_owner(
        &self,
        akid: &str,
        session_token: Option<&str>,
    ) -> Result<(Caller, String), AuthError> {
        if akid.starts_with("ASIA") {
            let token =
                session_token.ok_or_else(|| AuthError::MissingSessionToken(akid.to_string()))?;
            let claims = self.sealer().open(token).map_err(|e| match e {
                SealError::Malformed | SealError::Tampered | SealError::UnknownKey(_) => {
                    AuthError::InvalidSessionToken(e.to_string())
                }
            })?;
            if claims.access_key_id != akid {
                return Err(AuthError::InvalidSessionToken(
                    "session token belongs to another access key".into(),
                ));
            }
            if claims.is_expired(self.now()) {
                return Err(AuthError::ExpiredSession {
                    token: token.to_string(),
                });
            }
            let secret = claims.secret_access_key.clone();
            return Ok((Caller::Session(claims), secret));
        }
        let key = self
            .store
            .get::<AccessKey>("", akid)
            .ok()
            .flatten()
            .filter(|k| k.active)
            .ok_or_else(|| AuthError::UnknownAccessKey(akid.to_string()))?;
        if session_token.is_some() {
            return Err(AuthError::InvalidSessionToken(
                "a long-term key does not take a session token".into(),
            ));
        }
        Ok((
            Caller::Root {
                account: key.account.clone(),
                access_key_id: key.access_key_id.clone(),
            },
            key.secret_access_key.clone(),
        ))
    }

    /// The one authentication every service uses: parse the signature
    /// (header or presigned query), find the caller (a sealed session, or a
    /// stored long-term key), verify, and note the caller for the audit
    /// line. `Ok(None)`: the request carries no signature (anonymous).
    pub fn authenticate_with(
        &self,
        verifier: &Verifier,
        req: &RequestView<'_>,
        payload: Payload<'_>,
    ) -> Result<Option<Authenticated>, AuthError> {
        let signed = match verifier.parse(req) {
            Ok(Auth::Anonymous) => return Ok(None),
            Ok(Auth::Signed(s)) => s,
            Err(error) => {
                return Err(AuthError::Signature {
                    error,
                    access_key_id: None,
                    signature: None,
                });
            }
        };
        let akid = signed.access_key_id();
        let (caller, secret) = self.key_owner(akid, signed.security_token())?;
        let verified = verifier
            .verify(&signed, &secret, payload, self.clock.now())
            .map_err(|error| AuthError::Signature {
                error,
                access_key_id: Some(akid.to_string()),
                signature: Some(hex::encode(signed.signature())),
            })?;
        crate::audit::note_identity(caller.user_identity());
        Ok(Some(Authenticated { caller, verified }))
    }
}

#[cfg(test)]
mod tests {
    use super::signing_service;

    #[test]
    fn the_signing_service_is_the_credential_scopes_fourth_part() {
        let mut h = http::HeaderMap::new();
        let auth = |cred: &str| {
            format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature=00")
                .parse::<http::HeaderValue>()
                .unwrap()
        };
        h.insert(
            "authorization",
            auth("AKID/20260101/us-east-1/dynamodb/aws4_request"),
        );
        assert_eq!(signing_service(&h, None).as_deref(), Some("dynamodb"));
        for bad in [
            "AKID/20260101/us-east-1/dynamodb",
            "AKID/d/r/s/aws4_request/x",
            "",
        ] {
            h.insert("authorization", auth(bad));
            assert_eq!(signing_service(&h, None), None, "{bad}");
        }
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request";
        assert_eq!(
            signing_service(&http::HeaderMap::new(), Some(q)).as_deref(),
            Some("s3")
        );
        assert_eq!(signing_service(&http::HeaderMap::new(), Some("a=b")), None);
        assert_eq!(signing_service(&http::HeaderMap::new(), None), None);
    }
}
