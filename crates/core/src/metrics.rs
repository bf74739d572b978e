//! Shared pieces of podiam's Prometheus metrics, built on `prometheus-client`:
//! the latency buckets every histogram uses and the interning of label values.

use prometheus_client::metrics::histogram::Histogram;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of every latency histogram: 100 µs to 5 s.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The exposition's content type (OpenMetrics text, which Prometheus
/// scrapes as is).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The text exposition of `reg`.
pub fn render(reg: &prometheus_client::registry::Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; fmt's error is the encoder's only one.
    let _ = prometheus_client::encoding::text::encode(&mut out, reg);
    out
}

/// A histogram with [`LATENCY_BUCKETS`] (a `Family` constructor too).
pub fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Records `d` in seconds.
pub fn observe(h: &Histogram, d: Duration) {
    h.observe(d.as_secs_f64());
}

/// Label values shared as `Arc<str>`: a label set is then cloned and
/// hashed without allocating once its values have been seen.
#[derive(Debug, Default)]
pub struct Interner {
    values: Mutex<HashSet<Arc<str>>>,
}

impl Interner {
    /// The shared copy of `v`.
    pub fn get(&self, v: &str) -> Arc<str> {
        let mut set = self.values.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = set.get(v) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(v);
        set.insert(a.clone());
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::{Registry, Unit};

    #[test]
    fn latency_buckets_are_seconds() {
        let h = latency_histogram();
        observe(&h, Duration::from_micros(300));
        observe(&h, Duration::from_secs(9));
        let mut reg = Registry::default();
        reg.register_with_unit("x_duration", "X.", Unit::Seconds, h);
        let mut out = String::new();
        encode(&mut out, &reg).unwrap();
        assert!(
            out.contains("x_duration_seconds_bucket{le=\"0.00025\"} 0\n"),
            "{out}"
        );
        assert!(
            out.contains("x_duration_seconds_bucket{le=\"0.0005\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_duration_seconds_bucket{le=\"5.0\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_duration_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("x_duration_seconds_count 2\n"), "{out}");
    }

    #[test]
    fn interned_values_are_shared() {
        let i = Interner::default();
        let a = i.get("sts");
        assert!(Arc::ptr_eq(&a, &i.get("sts")));
        assert!(!Arc::ptr_eq(&a, &i.get("iam")));
    }
}
