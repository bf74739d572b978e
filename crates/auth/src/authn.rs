//! Authentication: SigV4 against a stored long-term key or a sealed session.

use crate::caller::Caller;
use crate::services::Services;
use podiam_core::AwsError;
use podiam_core::session::SealError;
use podiam_sigv4::{Auth, Payload, SigV4Error, Verifier, VerifyOptions};
use podiam_store::AccessKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use podiam_sigv4::RequestView;

/// Why a request could not be authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No signature at all.
    #[error("request is missing authentication")]
    Missing,
    /// The signature data could not be parsed.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// The access key id is unknown or inactive.
    #[error("unknown access key")]
    UnknownAccessKey,
    /// A temporary key came without a session token, or the token is forged,
    /// tampered with, sealed by an unknown key, or belongs to another key id.
    #[error("invalid session token: {0}")]
    InvalidSessionToken(String),
    /// The session has expired.
    #[error("session expired")]
    ExpiredSession,
    /// The signature is wrong.
    #[error("signature mismatch")]
    SignatureMismatch,
    /// The request was signed too long ago (or in the future).
    #[error("{0}")]
    Skewed(String),
    /// The credential scope names another service or an invalid region.
    #[error("{0}")]
    WrongScope(String),
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
            AuthError::Malformed(m) => AwsError::new(400, "IncompleteSignature", m.clone()),
            AuthError::UnknownAccessKey | AuthError::InvalidSessionToken(_) => AwsError::new(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
            AuthError::ExpiredSession => AwsError::new(
                403,
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
            AuthError::SignatureMismatch => AwsError::new(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ),
            AuthError::Skewed(m) | AuthError::WrongScope(m) => {
                AwsError::new(403, "SignatureDoesNotMatch", m.clone())
            }
        }
    }
}

fn from_sigv4(e: SigV4Error) -> AuthError {
    use podiam_sigv4::ScopePart;
    match e {
        SigV4Error::SignatureMismatch { .. } => AuthError::SignatureMismatch,
        SigV4Error::RequestTimeTooSkewed {
            request_time,
            server_time,
            max_skew,
        } => {
            let fmt = podiam_sigv4::format_amz_date;
            let mins = max_skew.as_secs() / 60;
            if request_time < server_time {
                AuthError::Skewed(format!(
                    "Signature expired: {} is now earlier than {} ({} - {mins} min.)",
                    fmt(request_time),
                    fmt(server_time - max_skew),
                    fmt(server_time)
                ))
            } else {
                AuthError::Skewed(format!(
                    "Signature not yet current: {} is still later than {} ({} + {mins} min.)",
                    fmt(request_time),
                    fmt(server_time + max_skew),
                    fmt(server_time)
                ))
            }
        }
        SigV4Error::PresignExpired { .. } | SigV4Error::PresignNotYetValid { .. } => {
            AuthError::Skewed("Request has expired".into())
        }
        SigV4Error::ScopeMismatch {
            part: ScopePart::Service,
            expected,
            ..
        } => AuthError::WrongScope(format!(
            "Credential should be scoped to correct service: '{expected}'. "
        )),
        SigV4Error::ScopeMismatch {
            part: ScopePart::Region,
            ..
        } => AuthError::WrongScope("Credential should be scoped to a valid region. ".into()),
        SigV4Error::ScopeMismatch { .. } => AuthError::WrongScope(e.to_string()),
        other => AuthError::Malformed(other.to_string()),
    }
}

/// The SigV4 service name a request was signed for, read from the
/// `Authorization` header or the `X-Amz-Credential` query parameter, without
/// verifying anything. Used to route requests on the shared port.
pub fn signing_service(headers: &http::HeaderMap, query: Option<&str>) -> Option<String> {
    let credential = if let Some(a) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let i = a.find("Credential=")?;
        a[i + 11..].split([',', ' ']).next()?.to_string()
    } else {
        let q = query?;
        form_value(q, "X-Amz-Credential")?
    };
    // AKID/date/region/service/aws4_request
    let parts: Vec<&str> = credential.split('/').collect();
    (parts.len() == 5).then(|| parts[3].to_string())
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

/// Signature verifiers per service, each with its own signing-key cache.
#[derive(Debug, Default)]
pub(crate) struct Verifiers(Mutex<HashMap<String, Arc<Verifier>>>);

impl Verifiers {
    fn get(&self, service: &str) -> Arc<Verifier> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(service.to_string())
            .or_insert_with(|| {
                Arc::new(Verifier::new(if service == "s3" {
                    VerifyOptions::s3()
                } else {
                    VerifyOptions::new(service)
                }))
            })
            .clone()
    }
}

impl Services {
    /// Authenticates a SigV4-signed request for `service` with its full body.
    pub fn authenticate(
        &self,
        req: &RequestView<'_>,
        body: &[u8],
        service: &str,
    ) -> Result<Caller, AuthError> {
        let verifier = self.verifiers.get(service);
        let signed = match verifier.parse(req).map_err(from_sigv4)? {
            Auth::Anonymous => return Err(AuthError::Missing),
            Auth::Signed(s) => s,
        };
        let akid = signed.access_key_id();
        let (caller, secret) = if akid.starts_with("ASIA") {
            let token = signed.security_token().ok_or_else(|| {
                AuthError::InvalidSessionToken("temporary key without a session token".into())
            })?;
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
                return Err(AuthError::ExpiredSession);
            }
            let secret = claims.secret_access_key.clone();
            (Caller::Session(Box::new(claims)), secret)
        } else {
            let key = self
                .store
                .get::<AccessKey>("", akid)
                .ok()
                .flatten()
                .filter(|k| k.active)
                .ok_or(AuthError::UnknownAccessKey)?;
            if signed.security_token().is_some() {
                return Err(AuthError::InvalidSessionToken(
                    "a long-term key does not take a session token".into(),
                ));
            }
            (
                Caller::Root {
                    account: key.account.clone(),
                    access_key_id: key.access_key_id.clone(),
                },
                key.secret_access_key.clone(),
            )
        };
        verifier
            .verify(&signed, &secret, Payload::Bytes(body), self.clock.now())
            .map_err(from_sigv4)?;
        crate::audit::note_identity(caller.user_identity());
        Ok(caller)
    }
}
