//! podiam's STS: the query protocol, version 2011-06-15.
//!
//! `AssumeRoleWithWebIdentity` does what AWS STS does, in AWS's order:
//! find the IAM OIDC provider for the token's `iss`, verify the signature
//! with the issuer's JWKS (discovery + cache), check the validity window and
//! the audience against the provider's client ids, then evaluate the role's
//! trust policy with the token's claims as condition keys. Each refusal
//! carries AWS's code and message, and the audit log records which check
//! failed and why.
//!
//! Credentials are sealed session tokens (see `podiam_core::session`): no
//! row is written per session.

mod action;
mod error;
mod ops;
mod service;

pub use action::{StsRequest, decode};
pub use error::StsError;
pub use ops::{Step, StepReport, WebIdentityCheck, WebIdentityGrant, find_provider, trust_check};
pub use podiam_auth::sessions::{Issued, SessionParams};

use podiam_oidc::{JwksCache, JwksFetcher};
use std::sync::Arc;

/// STS's XML namespace.
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Tokens whose signature verified, by SHA-256 of (token, issuer), with
/// their `exp`: a pod presents the same token for every refresh until the
/// kubelet rotates it, and an RSA check is most of a request's cost.
#[derive(Default)]
struct VerifiedTokens(std::sync::Mutex<std::collections::HashMap<[u8; 32], i64>>);

/// Entries kept in [`VerifiedTokens`].
const VERIFIED_CAPACITY: usize = 65_536;

impl VerifiedTokens {
    fn key(token: &str, issuer: &str) -> [u8; 32] {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(token.as_bytes());
        ctx.update(&[0]);
        ctx.update(issuer.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    fn contains(&self, key: &[u8; 32], now: i64) -> bool {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.get(key).is_some_and(|exp| *exp > now)
    }

    fn insert(&self, key: [u8; 32], exp: i64, now: i64) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= VERIFIED_CAPACITY {
            m.retain(|_, e| *e > now);
            if m.len() >= VERIFIED_CAPACITY {
                m.clear();
            }
        }
        m.insert(key, exp);
    }
}

/// STS: its JWKS cache and tunables.
pub struct Sts {
    jwks: JwksCache,
    verified: VerifiedTokens,
    /// Clock skew tolerated on `exp`/`nbf`/`iat`, seconds.
    pub token_leeway: i64,
    verifier: podiam_sigv4::Verifier,
}

impl std::fmt::Debug for Sts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sts")
            .field("token_leeway", &self.token_leeway)
            .finish_non_exhaustive()
    }
}

impl Sts {
    /// STS fetching issuer keys through `fetcher`.
    pub fn new(fetcher: Arc<dyn JwksFetcher>) -> Self {
        Self {
            jwks: JwksCache::new(fetcher),
            verified: VerifiedTokens::default(),
            token_leeway: 60,
            verifier: podiam_sigv4::Verifier::new(podiam_sigv4::VerifyOptions::new("sts")),
        }
    }

    /// Verifies `token`'s signature with `issuer`'s keys, remembering
    /// successes until the token's `exp`. A remembered token is accepted
    /// again only while the issuer's current key set still holds its `kid`,
    /// so a key removed from the JWKS stops verifying once the set is
    /// refreshed.
    pub async fn verify_signature(
        &self,
        token: &podiam_oidc::UnverifiedToken,
        issuer: &str,
        now: i64,
    ) -> Result<(), podiam_oidc::VerifyError> {
        let key = VerifiedTokens::key(token.as_str(), issuer);
        let key_still_published = || {
            self.jwks
                .cached(issuer, now)
                .is_some_and(|set| token.kid().is_none_or(|kid| set.contains_kid(kid)))
        };
        if self.verified.contains(&key, now) && key_still_published() {
            return Ok(());
        }
        self.jwks.verify_signature(token, issuer, now).await?;
        if let Some(exp) = token.exp() {
            self.verified.insert(key, exp, now);
        }
        Ok(())
    }

    /// The JWKS cache (for `explain` and metrics).
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }
}
