//! The API's request metrics (`podiam serve`'s `/metrics`).

use podiam_core::metrics::{Counters, Histograms, header};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

/// Distinct action labels kept; further names count as `other`, so the
/// series set stays bounded.
const MAX_ACTIONS: usize = 512;

/// Per-request counters and latencies of the API, recorded by
/// [`crate::pipeline::audited`].
#[derive(Debug, Default)]
pub struct RequestMetrics {
    requests: Counters,
    latency: Histograms,
    actions: Mutex<HashSet<String>>,
}

impl RequestMetrics {
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

    /// `podiam_requests_total` and `podiam_request_duration_seconds`.
    pub fn render(&self, out: &mut String) {
        header(
            out,
            "podiam_requests_total",
            "counter",
            "API requests by service, action and result (ok or the AWS error code).",
        );
        self.requests.render(
            "podiam_requests_total",
            &["service", "action", "result"],
            out,
        );
        header(
            out,
            "podiam_request_duration_seconds",
            "histogram",
            "API request latency by service and action.",
        );
        self.latency.render(
            "podiam_request_duration_seconds",
            &["service", "action"],
            out,
        );
    }
}
