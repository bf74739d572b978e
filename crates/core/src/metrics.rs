//! Prometheus metrics without a registry crate: counters keyed by label
//! values and latency histograms, rendered in the text exposition format.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of every latency histogram: 100 µs to 5 s.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A latency histogram (lock-free).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Appends `name_bucket`/`_sum`/`_count` lines with `labels`
    /// (`k="v",…`, possibly empty).
    pub fn render(&self, name: &str, labels: &str, out: &mut String) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, n) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = |l: &str| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{{{l}}}")
            }
        };
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
    }
}

/// Label values joined by a separator no label contains: one allocation
/// per lookup, O(1) in the number of label sets.
fn key(labels: &[&str]) -> String {
    labels.join("\u{1f}")
}

/// Counters by label values.
#[derive(Debug, Default)]
pub struct Counters {
    values: Mutex<HashMap<String, u64>>,
}

impl Counters {
    /// Adds one to the counter of `labels`.
    pub fn inc(&self, labels: &[&str]) {
        let k = key(labels);
        *self
            .values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(k)
            .or_default() += 1;
    }

    /// Appends one `name{labels} value` line per label set (sorted), label
    /// names from `names`.
    pub fn render(&self, name: &str, names: &[&str], out: &mut String) {
        let m = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let sorted: BTreeMap<&String, &u64> = m.iter().collect();
        for (values, n) in sorted {
            let _ = writeln!(out, "{name}{{{}}} {n}", labels(names, values));
        }
    }
}

/// Histograms by label values.
#[derive(Debug, Default)]
pub struct Histograms {
    values: Mutex<HashMap<String, Arc<Histogram>>>,
}

impl Histograms {
    /// Records `d` in the histogram of `labels`.
    pub fn observe(&self, labels: &[&str], d: Duration) {
        let h = self
            .values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key(labels))
            .or_default()
            .clone();
        h.observe(d);
    }

    /// Appends every histogram (sorted), label names from `names`.
    pub fn render(&self, name: &str, names: &[&str], out: &mut String) {
        let m = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let sorted: BTreeMap<&String, &Arc<Histogram>> = m.iter().collect();
        for (values, h) in sorted {
            h.render(name, &labels(names, values), out);
        }
    }
}

/// `# HELP` and `# TYPE` lines.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn labels(names: &[&str], joined: &str) -> String {
    names
        .iter()
        .zip(joined.split('\u{1f}'))
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let c = Counters::default();
        c.inc(&["sts", "AssumeRoleWithWebIdentity", "ok"]);
        c.inc(&["sts", "AssumeRoleWithWebIdentity", "ok"]);
        c.inc(&["iam", "Create\"Role", "AccessDenied"]);
        let h = Histograms::default();
        h.observe(&["sts"], Duration::from_micros(300));
        h.observe(&["sts"], Duration::from_secs(9));
        let mut out = String::new();
        header(&mut out, "x_total", "counter", "X.");
        c.render("x_total", &["service", "action", "result"], &mut out);
        h.render("x_seconds", &["service"], &mut out);
        assert!(out.starts_with("# HELP x_total X.\n# TYPE x_total counter\n"));
        assert!(out.contains(
            "x_total{service=\"sts\",action=\"AssumeRoleWithWebIdentity\",result=\"ok\"} 2\n"
        ));
        assert!(out.contains("action=\"Create\\\"Role\""));
        assert!(out.contains("x_seconds_bucket{service=\"sts\",le=\"0.00025\"} 0\n"));
        assert!(out.contains("x_seconds_bucket{service=\"sts\",le=\"0.0005\"} 1\n"));
        assert!(out.contains("x_seconds_bucket{service=\"sts\",le=\"5\"} 1\n"));
        assert!(out.contains("x_seconds_bucket{service=\"sts\",le=\"+Inf\"} 2\n"));
        assert!(out.contains("x_seconds_count{service=\"sts\"} 2\n"));
        let mut plain = String::new();
        Histogram::default().render("y", "", &mut plain);
        assert!(plain.contains("y_bucket{le=\"+Inf\"} 0\ny_sum 0\ny_count 0\n"));
    }
}
