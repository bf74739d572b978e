//! OpenID Connect discovery documents, as kube-apiserver serves them.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::alg::Algorithm;
use crate::json::to_go_json;

/// Path of the discovery document below the issuer URL.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// kube-apiserver's JWKS path.
pub const JWKS_PATH: &str = "/openid/v1/jwks";
/// `Content-Type` of the discovery document.
pub const DISCOVERY_CONTENT_TYPE: &str = "application/json";
/// `Content-Type` of the JWKS document.
pub const JWKS_CONTENT_TYPE: &str = "application/jwk-set+json";
/// `Cache-Control` of both documents (kube-apiserver: `max-age` = key cache age, 3600).
pub const CACHE_CONTROL: &str = "public, max-age=3600";

/// The discovery URL of an issuer: `<issuer without trailing '/'>` + [`DISCOVERY_PATH`]
/// (OpenID Connect Discovery 1.0 §4).
pub fn discovery_url(issuer: &str) -> String {
    format!("{}{DISCOVERY_PATH}", issuer.trim_end_matches('/'))
}

/// The conventional JWKS URL of an issuer: `<issuer without trailing '/'>` + [`JWKS_PATH`].
pub fn default_jwks_uri(issuer: &str) -> String {
    format!("{}{JWKS_PATH}", issuer.trim_end_matches('/'))
}

#[derive(Serialize)]
struct OpenIdMetadata<'a> {
    issuer: &'a str,
    jwks_uri: &'a str,
    response_types_supported: [&'static str; 1],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: Vec<&'static str>,
}

/// Renders the discovery document exactly like kube-apiserver:
/// `{"issuer":…,"jwks_uri":…,"response_types_supported":["id_token"],
/// "subject_types_supported":["public"],"id_token_signing_alg_values_supported":[…]}`
/// with the algorithms sorted and de-duplicated.
pub fn discovery_document(issuer: &str, jwks_uri: &str, algs: &[Algorithm]) -> String {
    let algs: BTreeSet<&'static str> = algs.iter().map(|a| a.as_str()).collect();
    let doc = OpenIdMetadata {
        issuer,
        jwks_uri,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: algs.into_iter().collect(),
    };
    // Serialising plain strings cannot fail.
    to_go_json(&doc).unwrap_or_default()
}
