//! Prometheus metrics of the agent, in one `prometheus-client` registry.

use crate::upstream::UpstreamError;
use podiam_core::metrics::{latency_histogram, observe};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    path: &'static str,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    code: String,
}

/// Responses, cache events and upstream calls.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
    upstream_errors: Family<ErrorLabels, Counter>,
    upstream: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let cache = Family::<CacheLabels, Counter>::default();
        let upstream_errors = Family::<ErrorLabels, Counter>::default();
        let upstream = latency_histogram();
        let mut registry = Registry::default();
        registry.register(
            "podiam_agent_requests",
            "Responses by path and status code",
            requests.clone(),
        );
        registry.register(
            "podiam_agent_cache",
            "Credential cache events",
            cache.clone(),
        );
        registry.register(
            "podiam_agent_upstream_errors",
            "Upstream errors by code",
            upstream_errors.clone(),
        );
        registry.register_with_unit(
            "podiam_agent_upstream",
            "Upstream call latency",
            Unit::Seconds,
            upstream.clone(),
        );
        Metrics {
            registry,
            requests,
            cache,
            upstream_errors,
            upstream,
        }
    }
}

impl Metrics {
    /// Counts a response on `path` with `code`.
    pub fn request(&self, path: &'static str, code: u16) {
        self.requests
            .get_or_create(&RequestLabels { path, code })
            .inc();
    }

    /// Counts a cache event: `hit`, `miss`, `stale`, `evicted`.
    pub fn cache(&self, state: &'static str) {
        self.cache.get_or_create(&CacheLabels { state }).inc();
    }

    /// Records an upstream call.
    pub fn upstream(&self, took: Duration, err: Option<&UpstreamError>) {
        observe(&self.upstream, took);
        if let Some(e) = err {
            let code = match e {
                UpstreamError::Api { code, .. } => code.clone(),
                UpstreamError::Transport(_) => "Transport".into(),
            };
            self.upstream_errors
                .get_or_create(&ErrorLabels { code })
                .inc();
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        podiam_core::metrics::render(&self.registry)
    }
}
