//! `GET /metrics` of `podiam serve`, in Prometheus' text format.

use podiam_auth::Services;
use podiam_core::metrics::header;
use podiam_oidc::JwksStats;
use std::fmt::Write;

/// The exposition: requests, sessions, JWKS cache and store.
pub fn render(svc: &Services, jwks: JwksStats) -> String {
    let mut out = String::new();
    svc.request_metrics.render(&mut out);
    header(
        &mut out,
        "podiam_sessions_issued_total",
        "counter",
        "Temporary credentials issued, by how they were obtained.",
    );
    svc.sessions_issued
        .render("podiam_sessions_issued_total", &["origin"], &mut out);
    for (name, help, v) in [
        (
            "podiam_jwks_cache_hits_total",
            "Token verifications served by a cached JWKS.",
            jwks.hits,
        ),
        (
            "podiam_jwks_fetches_total",
            "Discovery and JWKS fetches.",
            jwks.fetches,
        ),
        (
            "podiam_jwks_fetch_errors_total",
            "Failed discovery and JWKS fetches.",
            jwks.fetch_errors,
        ),
        (
            "podiam_jwks_unknown_kid_fetches_total",
            "Fetches forced by a token whose kid was not cached.",
            jwks.unknown_kid_fetches,
        ),
    ] {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
    let store = svc.store.metrics();
    header(
        &mut out,
        "podiam_store_write_duration_seconds",
        "histogram",
        "Latency of atomic write batches to the store's database.",
    );
    store
        .writes
        .render("podiam_store_write_duration_seconds", "", &mut out);
    header(
        &mut out,
        "podiam_store_refresh_duration_seconds",
        "histogram",
        "Latency of pulling other replicas' changes (PostgreSQL; every 250 ms).",
    );
    store
        .refreshes
        .render("podiam_store_refresh_duration_seconds", "", &mut out);
    header(
        &mut out,
        "podiam_store_errors_total",
        "counter",
        "Failed store round trips by operation and error.",
    );
    store
        .errors
        .render("podiam_store_errors_total", &["op", "error"], &mut out);
    header(
        &mut out,
        "podiam_store_sequence",
        "gauge",
        "The newest store change this replica has applied.",
    );
    let _ = writeln!(out, "podiam_store_sequence {}", svc.store.seq());
    out
}
