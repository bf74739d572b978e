//! `GET /metrics` of `podiam serve`: one `prometheus-client` registry with
//! the request, session and store metrics, plus the values other parts
//! count themselves (the JWKS cache, the store's sequence) read per scrape.

use podiam_auth::Services;
use podiam_store::Store;
use podiam_sts::Sts;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Every metric of `serve`.
pub fn registry(svc: &Services, sts: Arc<Sts>) -> Registry {
    let mut reg = Registry::default();
    svc.metrics.register(&mut reg);
    svc.store.metrics().register(&mut reg);
    reg.register_collector(Box::new(Snapshots {
        store: svc.store.clone(),
        sts,
    }));
    reg
}

/// Counters and gauges owned elsewhere, read at each scrape.
struct Snapshots {
    store: Arc<Store>,
    sts: Arc<Sts>,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Snapshots")
    }
}

impl Collector for Snapshots {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let jwks = self.sts.jwks().stats();
        for (name, help, v) in [
            (
                "podiam_jwks_cache_hits",
                "Token verifications served by a cached JWKS",
                jwks.hits,
            ),
            (
                "podiam_jwks_fetches",
                "Discovery and JWKS fetches",
                jwks.fetches,
            ),
            (
                "podiam_jwks_fetch_errors",
                "Failed discovery and JWKS fetches",
                jwks.fetch_errors,
            ),
            (
                "podiam_jwks_unknown_kid_fetches",
                "Fetches forced by a token whose kid was not cached",
                jwks.unknown_kid_fetches,
            ),
        ] {
            let c = ConstCounter::new(v);
            c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let seq = ConstGauge::new(self.store.seq());
        seq.encode(enc.encode_descriptor(
            "podiam_store_sequence",
            "The newest store change this replica has applied",
            None,
            seq.metric_type(),
        )?)
    }
}
