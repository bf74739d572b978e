//! # podiam-oidc
//!
//! Two halves of workload identity over OpenID Connect:
//!
//! * **Issuing** — a built-in, Kubernetes-shaped OIDC issuer: [`SigningKey`] (RS256 /
//!   ES256, kube-apiserver key ids), [`ServiceAccountTokenRequest`] (projected
//!   service-account tokens with kube-apiserver's exact claims layout), and the
//!   discovery/JWKS documents ([`discovery_document`], [`jwks_document`]).
//! * **Verifying** — web-identity tokens checked the way AWS STS does, in steps the
//!   caller sequences to reproduce AWS's order and error codes:
//!   [`UnverifiedToken::parse`] → issuer lookup (caller) →
//!   [`JwksCache::verify_signature`] → [`UnverifiedToken::check_time`] →
//!   [`UnverifiedToken::check_audience`]. Failures are a fine-grained [`TokenError`] /
//!   [`FetchError`], each with a default [`StsErrorCode`].
//!
//! Crypto is aws-lc-rs only. Clocks and randomness are injected: every time-dependent
//! function takes `now` (epoch seconds), and token ids come from caller-supplied bytes.
//!
//! ## Minting a token for a cluster issuer
//!
//! ```
//! use podiam_oidc::{Algorithm, ServiceAccountTokenRequest, SigningKey};
//!
//! let key = SigningKey::generate(Algorithm::Rs256)?;
//! let minted = ServiceAccountTokenRequest::new(
//!     "http://127.0.0.1:4599/clusters/demo",
//!     "default",
//!     "app",
//!     "c0ffee00-0000-4000-8000-000000000001",
//!     "sts.amazonaws.com",
//!     1_700_000_000,
//!     [7u8; 16], // from podiam_oidc::random_uuid_bytes() in production
//! )
//! .with_expiration_seconds(86_400)
//! .with_pod("app-7d9f", "c0ffee00-0000-4000-8000-000000000002")
//! .mint(&key)?;
//! assert_eq!(minted.claims.sub, "system:serviceaccount:default:app");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Serving discovery and JWKS
//!
//! ```
//! use podiam_oidc::{
//!     default_jwks_uri, discovery_document, discovery_url, jwks_document, Algorithm,
//!     SigningKey, CACHE_CONTROL, DISCOVERY_CONTENT_TYPE, JWKS_CONTENT_TYPE,
//! };
//!
//! let key = SigningKey::generate(Algorithm::Es256)?;
//! let issuer = "http://127.0.0.1:4599/clusters/demo";
//! let jwks_uri = default_jwks_uri(issuer); // …/clusters/demo/openid/v1/jwks
//! // GET discovery_url(issuer) → 200, Content-Type DISCOVERY_CONTENT_TYPE, Cache-Control CACHE_CONTROL
//! let discovery = discovery_document(issuer, &jwks_uri, &[key.algorithm()]);
//! // GET jwks_uri → 200, Content-Type JWKS_CONTENT_TYPE, Cache-Control CACHE_CONTROL
//! let jwks = jwks_document([key.jwk()]);
//! assert!(discovery.starts_with(r#"{"issuer":"http://127.0.0.1:4599/clusters/demo","jwks_uri":"#));
//! assert!(jwks.starts_with(r#"{"keys":[{"use":"sig","kty":"EC","kid":"#));
//! # let _ = (discovery_url(issuer), CACHE_CONTROL, DISCOVERY_CONTENT_TYPE, JWKS_CONTENT_TYPE);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The STS verification sequence
//!
//! ```
//! # use std::sync::Arc;
//! # use podiam_oidc::*;
//! # async fn sts(cache: &JwksCache, web_identity_token: &str, now: i64) -> Result<(), String> {
//! # let client_ids = vec!["sts.amazonaws.com".to_string()];
//! // 1. Structure (InvalidIdentityToken). Trims the SDK's trailing newline.
//! let tok = UnverifiedToken::parse(web_identity_token).map_err(|e| e.to_string())?;
//! // 2. Issuer → IAM OIDC provider (caller's store):
//! //    "No OpenIDConnect provider found in your account for {iss}".
//! let iss = tok.issuer().ok_or(TokenError::MissingClaim("iss")).map_err(|e| e.to_string())?;
//! // 3. Signature with the provider's JWKS (InvalidIdentityToken).
//! cache.verify_signature(&tok, iss, now).await.map_err(|e| format!("{}: {e}", e.sts_error_code()))?;
//! // 4. Validity window (ExpiredTokenException "Token expired: current date/time …").
//! tok.check_time(now, 0).map_err(|e| format!("{}: {e}", e.sts_error_code()))?;
//! // 5. Audience against the provider's ClientIDList ("Incorrect token audience").
//! let _aud = tok.check_audience(&client_ids).map_err(|e| e.to_string())?;
//! // 6. Trust policy with tok.subject(), tok.claims() … (caller).
//! # Ok(()) }
//! ```

mod alg;
mod b64;
mod cache;
mod claims;
mod discovery;
mod error;
mod fetch;
mod json;
mod jwk;
mod key;
mod token;
mod uid;

pub use alg::{Algorithm, Curve, KeyFamily};
pub use cache::{JwksCache, JwksCacheConfig, JwksStats};
pub use claims::{
    DEFAULT_EXPIRATION_SECONDS, KubernetesClaims, MAX_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS,
    MintedToken, ObjectRef, ServiceAccountClaims, ServiceAccountTokenRequest,
    service_account_subject,
};
pub use discovery::{
    CACHE_CONTROL, DISCOVERY_CONTENT_TYPE, DISCOVERY_PATH, JWKS_CONTENT_TYPE, JWKS_PATH,
    default_jwks_uri, discovery_document, discovery_url,
};
pub use error::{FetchError, KeyError, MintError, Segment, StsErrorCode, TokenError, VerifyError};
pub use fetch::{
    FetchFuture, HttpFetcher, HttpFetcherConfig, JwksFetcher, StaticFetcher, fetch_issuer_jwks,
};
pub use jwk::{
    JwkSet, JwkSetError, KeyType, MAX_KEYS_PER_SET, PublicJwk, VerificationKey, jwks_document,
};
pub use key::{SigningKey, kid_from_spki};
pub use token::{MAX_HEADER_LEN, MAX_TOKEN_LEN, MIN_TOKEN_LEN, UnverifiedToken};
pub use uid::{object_uid, random_uuid_bytes, uuid_v4_from_bytes, uuid_v5};
