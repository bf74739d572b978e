//! The API's metrics (`podiam serve`'s `/metrics`), registered with a
//! `prometheus-client` registry.

use podiam_core::metrics::{Interner, latency_histogram, observe};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Distinct action labels kept; further names count as `other`, so the
/// series set stays bounded.
const MAX_ACTIONS: usize = 512;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: Arc<str>,
    action: Arc<str>,
    result: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    service: Arc<str>,
    action: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OriginLabels {
    origin: &'static str,
}

/// Per-request counters and latencies, recorded by
/// [`crate::pipeline::audited`], and the sessions issued.
#[derive(Debug)]
pub struct ApiMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    sessions: Family<OriginLabels, Counter>,
    values: Interner,
    actions: Mutex<HashSet<String>>,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        ApiMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            sessions: Family::default(),
            values: Interner::default(),
            actions: Mutex::default(),
        }
    }
}

impl ApiMetrics {
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
        let service = self.values.get(service);
        let action = self
            .values
            .get(self.action(name.unwrap_or_default(), error.is_none()));
        let result = self.values.get(error.unwrap_or("ok"));
        let latency = LatencyLabels { service, action };
        observe(&self.latency.get_or_create(&latency), took);
        self.requests
            .get_or_create(&RequestLabels {
                service: latency.service,
                action: latency.action,
                result,
            })
            .inc();
    }

    /// Counts a session issued with `origin` (`web-identity`, …).
    pub fn session_issued(&self, origin: &'static str) {
        self.sessions.get_or_create(&OriginLabels { origin }).inc();
    }

    /// The label for `name`: names enter the label set only with a
    /// successful request, so unauthenticated or invalid calls with made-up
    /// actions cannot fill it. Error codes come from podiam's own enums, a
    /// bounded set.
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

    /// Registers `podiam_requests_total`, `podiam_request_duration_seconds`
    /// and `podiam_sessions_issued_total`.
    pub fn register(&self, reg: &mut Registry) {
        reg.register(
            "podiam_requests",
            "API requests by service, action and result (ok or the AWS error code)",
            self.requests.clone(),
        );
        reg.register_with_unit(
            "podiam_request_duration",
            "API request latency by service and action",
            Unit::Seconds,
            self.latency.clone(),
        );
        reg.register(
            "podiam_sessions_issued",
            "Temporary credentials issued, by how they were obtained",
            self.sessions.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn requests_and_sessions_are_exposed() {
        let m = ApiMetrics::default();
        let took = Duration::from_micros(300);
        m.observe(Some("sts.amazonaws.com"), Some("AssumeRole"), None, took);
        m.observe(Some("sts.amazonaws.com"), Some("AssumeRole"), None, took);
        m.observe(
            Some("iam.amazonaws.com"),
            Some("Made\"Up"),
            Some("AccessDenied"),
            took,
        );
        m.observe(
            Some("iam.amazonaws.com"),
            Some("NeverSeen"),
            Some("AccessDenied"),
            took,
        );
        m.session_issued("web-identity");
        let mut reg = Registry::default();
        m.register(&mut reg);
        let mut out = String::new();
        encode(&mut out, &reg).unwrap();
        for line in [
            "podiam_requests_total{service=\"sts\",action=\"AssumeRole\",result=\"ok\"} 2\n",
            "podiam_requests_total{service=\"iam\",action=\"-\",result=\"AccessDenied\"} 2\n",
            "podiam_request_duration_seconds_count{service=\"sts\",action=\"AssumeRole\"} 2\n",
            "podiam_sessions_issued_total{origin=\"web-identity\"} 1\n",
        ] {
            assert!(out.contains(line), "{line} not in\n{out}");
        }
    }
}
