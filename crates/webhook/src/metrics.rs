//! Prometheus metrics with upstream's names (text exposition, no registry crate).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (µs) of `http_request_latencies`: 125000 × 2^n, 7 buckets.
const BUCKETS: [u64; 7] = [
    125_000, 250_000, 500_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: u64,
}

/// The webhook's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latencies: Mutex<BTreeMap<(String, String), Histogram>>,
    pods: Mutex<BTreeMap<&'static str, u64>>,
    /// `pod_identity_webhook_missing_sa_count`.
    pub missing_sa: AtomicU64,
    /// `pod_identity_webhook_review_errors_total` (podiam): reviews that could not be decoded.
    pub review_errors: AtomicU64,
    /// `pod_identity_webhook_used`.
    pub used: AtomicU64,
}

impl Metrics {
    /// Counts a request.
    pub fn observe(&self, verb: &str, path: &str, code: u16, micros: u64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((verb.to_string(), path.to_string(), code))
                .or_default() += 1;
        }
        if let Ok(mut m) = self.latencies.lock() {
            let h = m.entry((verb.to_string(), path.to_string())).or_default();
            for (i, b) in BUCKETS.iter().enumerate() {
                if micros <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += micros;
        }
    }

    /// Counts a mutated pod by method (`sts_web_identity` / `container_credentials`).
    pub fn pod(&self, method: &'static str) {
        if let Ok(mut m) = self.pods.lock() {
            *m.entry(method).or_default() += 1;
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP http_request_count Counter of requests broken out for each verb, path, and response code."
        );
        let _ = writeln!(s, "# TYPE http_request_count counter");
        if let Ok(m) = self.requests.lock() {
            for ((verb, path, code), n) in m.iter() {
                let _ = writeln!(
                    s,
                    "http_request_count{{code=\"{code}\",path=\"{path}\",verb=\"{verb}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP http_request_latencies Response latency distribution in microseconds for each verb and path"
        );
        let _ = writeln!(s, "# TYPE http_request_latencies histogram");
        if let Ok(m) = self.latencies.lock() {
            for ((verb, path), h) in m.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        s,
                        "http_request_latencies_bucket{{path=\"{path}\",verb=\"{verb}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    s,
                    "http_request_latencies_bucket{{path=\"{path}\",verb=\"{verb}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    s,
                    "http_request_latencies_sum{{path=\"{path}\",verb=\"{verb}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    s,
                    "http_request_latencies_count{{path=\"{path}\",verb=\"{verb}\"}} {}",
                    h.count
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP pod_identity_webhook_pod_count Number of pods mutated, by method"
        );
        let _ = writeln!(s, "# TYPE pod_identity_webhook_pod_count counter");
        if let Ok(m) = self.pods.lock() {
            for (method, n) in m.iter() {
                let _ = writeln!(
                    s,
                    "pod_identity_webhook_pod_count{{method=\"{method}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP pod_identity_webhook_missing_sa_count Pods whose service account was not found"
        );
        let _ = writeln!(s, "# TYPE pod_identity_webhook_missing_sa_count counter");
        let _ = writeln!(
            s,
            "pod_identity_webhook_missing_sa_count {}",
            self.missing_sa.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP pod_identity_webhook_review_errors_total AdmissionReviews that could not be decoded (answered allowed, unpatched)"
        );
        let _ = writeln!(s, "# TYPE pod_identity_webhook_review_errors_total counter");
        let _ = writeln!(
            s,
            "pod_identity_webhook_review_errors_total {}",
            self.review_errors.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP pod_identity_webhook_used Indicator to know pod identity webhook is used"
        );
        let _ = writeln!(s, "# TYPE pod_identity_webhook_used gauge");
        let _ = writeln!(
            s,
            "pod_identity_webhook_used {}",
            self.used.load(Ordering::Relaxed)
        );
        s
    }
}
