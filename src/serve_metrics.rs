//! `GET /metrics` of `podiam serve`, in Prometheus' text format.

use podiam_auth::Services;
use podiam_core::metrics::{Counters, Histograms, header};
use podiam_oidc::JwksStats;
use std::collections::HashSet;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Distinct action labels kept; further names count as `other`, so the
/// series set stays bounded.
const MAX_ACTIONS: usize = 512;

/// Per-request counters and latencies of the API.
#[derive(Debug, Default)]
pub struct ServeMetrics {
    requests: Counters,
    latency: Histograms,
    actions: Mutex<HashSet<String>>,
}

impl ServeMetrics {
    /// Records one API request: `source` is the audit event source
    /// (`sts.amazonaws.com`), `name` the operation, `error` its error code.
    pub fn observe(
        &self,
        source: Option<&str>,
        name: Option<&str>,
        error: Option<&str>,
        took: Duration,
    ) {
        let service = source
            .map(|s| s.strip_suffix(".amazonaws.com").unwrap_or(s))
            .unwrap_or("unknown");
        let action = self.action(name.unwrap_or_default(), error.is_none());
        self.requests.inc(&[service, action, error.unwrap_or("ok")]);
        self.latency.observe(&[service, action], took);
    }

    /// The label for `name`: names enter the label set only with a
    /// successful request, so unauthenticated or invalid calls with made-up
    /// actions cannot fill it.
    fn action<'a>(&self, name: &'a str, ok: bool) -> &'a str {
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return "-";
        }
        let mut seen = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(name) {
            name
        } else if !ok {
            "-"
        } else if seen.len() < MAX_ACTIONS {
            seen.insert(name.to_string());
            name
        } else {
            "other"
        }
    }

    /// The exposition: requests, sessions, JWKS cache and store.
    pub fn render(&self, svc: &Services, jwks: JwksStats) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "podiam_requests_total",
            "counter",
            "API requests by service, action and result (ok or the AWS error code).",
        );
        self.requests.render(
            "podiam_requests_total",
            &["service", "action", "result"],
            &mut out,
        );
        header(
            &mut out,
            "podiam_request_duration_seconds",
            "histogram",
            "API request latency by service and action.",
        );
        self.latency.render(
            "podiam_request_duration_seconds",
            &["service", "action"],
            &mut out,
        );
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
}
