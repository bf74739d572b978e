//! Prometheus metrics of the agent, rendered in the text exposition format.

use crate::upstream::UpstreamError;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Counters and an upstream latency summary.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    cache: BTreeMap<String, u64>,
    upstream_errors: BTreeMap<String, u64>,
    upstream_seconds_sum: f64,
    upstream_count: u64,
}

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut Inner)) {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Counts a response on `path` with `code`.
    pub fn request(&self, path: &str, code: u16) {
        self.with(|i| *i.requests.entry((path.to_string(), code)).or_default() += 1);
    }

    /// Counts a cache event: `hit`, `miss`, `stale`, `evicted`.
    pub fn cache(&self, state: &str) {
        self.with(|i| *i.cache.entry(state.to_string()).or_default() += 1);
    }

    /// Records an upstream call.
    pub fn upstream(&self, took: Duration, err: Option<&UpstreamError>) {
        self.with(|i| {
            i.upstream_seconds_sum += took.as_secs_f64();
            i.upstream_count += 1;
            if let Some(e) = err {
                let code = match e {
                    UpstreamError::Api { code, .. } => code.clone(),
                    UpstreamError::Transport(_) => "Transport".into(),
                };
                *i.upstream_errors.entry(code).or_default() += 1;
            }
        });
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut s = String::new();
        s.push_str("# HELP podiam_agent_requests_total Responses by path and status code.\n# TYPE podiam_agent_requests_total counter\n");
        for ((p, c), n) in &i.requests {
            s.push_str(&format!(
                "podiam_agent_requests_total{{path=\"{p}\",code=\"{c}\"}} {n}\n"
            ));
        }
        s.push_str("# HELP podiam_agent_cache_total Credential cache events.\n# TYPE podiam_agent_cache_total counter\n");
        for (state, n) in &i.cache {
            s.push_str(&format!(
                "podiam_agent_cache_total{{state=\"{state}\"}} {n}\n"
            ));
        }
        s.push_str("# HELP podiam_agent_upstream_errors_total Upstream errors by code.\n# TYPE podiam_agent_upstream_errors_total counter\n");
        for (code, n) in &i.upstream_errors {
            s.push_str(&format!(
                "podiam_agent_upstream_errors_total{{code=\"{code}\"}} {n}\n"
            ));
        }
        s.push_str("# HELP podiam_agent_upstream_seconds Upstream call latency.\n# TYPE podiam_agent_upstream_seconds summary\n");
        s.push_str(&format!(
            "podiam_agent_upstream_seconds_sum {}\npodiam_agent_upstream_seconds_count {}\n",
            i.upstream_seconds_sum, i.upstream_count
        ));
        s
    }
}
