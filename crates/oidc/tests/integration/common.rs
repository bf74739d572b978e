use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use podiam_oidc::{
    Algorithm, JwkSet, PublicJwk, ServiceAccountTokenRequest, SigningKey, jwks_document,
};

pub const ISSUER: &str = "http://127.0.0.1:4599/clusters/demo";
pub const AUD: &str = "sts.amazonaws.com";
pub const NOW: i64 = 1_700_000_000;

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

/// Fresh keys are cached per algorithm and slot so the suite generates few RSA keys.
pub fn key(alg: Algorithm, slot: usize) -> Arc<SigningKey> {
    type Keys = Vec<((Algorithm, usize), Arc<SigningKey>)>;
    static KEYS: OnceLock<std::sync::Mutex<Keys>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    let mut keys = keys.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, k)) = keys.iter().find(|(id, _)| *id == (alg, slot)) {
        return k.clone();
    }
    let k = Arc::new(SigningKey::generate(alg).expect("keygen"));
    keys.push(((alg, slot), k.clone()));
    k
}

pub fn rsa() -> Arc<SigningKey> {
    key(Algorithm::Rs256, 0)
}

pub fn ec() -> Arc<SigningKey> {
    key(Algorithm::Es256, 0)
}

pub fn request() -> ServiceAccountTokenRequest {
    ServiceAccountTokenRequest::new(
        ISSUER,
        "default",
        "app",
        "5b1b7e3c-0000-4000-8000-000000000001",
        AUD,
        NOW,
        [0x42; 16],
    )
}

pub fn mint(key: &SigningKey) -> String {
    request().mint(key).expect("mint").token
}

pub fn set_of(keys: &[&SigningKey]) -> JwkSet {
    let jwks: Vec<&PublicJwk> = keys.iter().map(|k| k.jwk()).collect();
    JwkSet::from_json(jwks_document(jwks).as_bytes()).expect("jwks")
}

pub fn claims_json() -> String {
    serde_json::to_string(&request().claims().expect("claims")).expect("json")
}

/// A token with an arbitrary header, signed by `key`.
pub fn craft(key: &SigningKey, header: &str, claims: &str) -> String {
    key.sign_compact(header.as_bytes(), claims.as_bytes())
        .expect("sign")
}

/// A token with arbitrary header, claims and raw signature bytes.
pub fn craft_raw(header: &str, claims: &str, sig: &[u8]) -> String {
    format!("{}.{}.{}", b64(header), b64(claims), b64(sig))
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).expect("fixture")
}
