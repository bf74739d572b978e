//! Mints N distinct RS256 service-account tokens from a fresh key, for
//! `bench/sts-assume.sh`'s distinct-token scenario (no two requests share a
//! token, so no verification is remembered).
//!
//! Usage: `mint_tokens ISSUER N JWKS_OUT NAMESPACE SERVICE_ACCOUNT`: the
//! key's JWKS goes to JWKS_OUT (for `podiam cluster register --jwks-file`),
//! one token per line to stdout. Signing runs on every core.

use podiam_oidc::{Algorithm, SigningKey, jwks_document};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [issuer, n, jwks_out, ns, sa] = args.as_slice() else {
        return Err("usage: mint_tokens ISSUER N JWKS_OUT NAMESPACE SERVICE_ACCOUNT".into());
    };
    let n: usize = n.parse()?;
    let key = SigningKey::generate(Algorithm::Rs256)?;
    std::fs::write(jwks_out, jwks_document([key.jwk()]))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per = n.div_ceil(threads);
    let chunks: Vec<Result<Vec<String>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let key = &key;
                s.spawn(move || {
                    (t * per..((t + 1) * per).min(n))
                        .map(|i| {
                            let claims = serde_json::json!({
                                "aud": ["sts.amazonaws.com"],
                                "exp": now + 86_400,
                                "iat": now,
                                "nbf": now,
                                "iss": issuer,
                                "jti": format!("bench-{i}"),
                                "kubernetes.io": {
                                    "namespace": ns,
                                    "serviceaccount": {"name": sa, "uid": format!("00000000-0000-4000-8000-{i:012}")},
                                },
                                "sub": format!("system:serviceaccount:{ns}:{sa}"),
                            });
                            key.sign_jws(&claims).map_err(|e| e.to_string())
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a signing thread panicked".into()))
            })
            .collect()
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for chunk in chunks {
        for token in chunk? {
            writeln!(out, "{token}")?;
        }
    }
    out.flush()?;
    Ok(())
}
