//! The shared service context.

use podiam_core::session::{Sealer, SealingKey};
use podiam_core::{Clock, Random};
use podiam_store::{Op, SealingKeyRecord, Store, StoreError};
use std::sync::{Arc, RwLock};

/// Settings every service reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// The account id (`000000000000` by default).
    pub account: String,
    /// The region reported in ARNs and expected in signatures' scope.
    pub region: String,
    /// The externally reachable base URL, e.g. `http://127.0.0.1:4599`.
    pub public_url: String,
}

/// What every request handler gets: the store, time, randomness, settings and
/// the session sealer.
pub struct Services {
    /// The store.
    pub store: Arc<Store>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub rng: Arc<dyn Random>,
    /// Settings.
    pub config: Config,
    sealer: RwLock<Arc<Sealer>>,
    /// The audit log.
    pub audit_log: crate::audit::Auditor,
    /// API requests, their latency, and the sessions issued.
    pub metrics: crate::metrics::ApiMetrics,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Builds the context, creating the first sealing key if the store has none.
    pub async fn new(
        store: Arc<Store>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
        config: Config,
    ) -> Result<Services, StoreError> {
        let sealer = load_sealer(&store, clock.as_ref(), rng.as_ref()).await?;
        Ok(Services {
            store,
            clock,
            rng,
            config,
            sealer: RwLock::new(Arc::new(sealer)),
            audit_log: crate::audit::Auditor::new(crate::audit::AuditSink::None),
            metrics: Default::default(),
        })
    }

    /// Replaces the audit sink (the server sets it from its flags).
    pub fn set_audit_sink(&mut self, sink: crate::audit::AuditSink) {
        self.audit_log = crate::audit::Auditor::new(sink);
    }

    /// Now, epoch seconds.
    pub fn now(&self) -> i64 {
        self.clock.epoch()
    }

    /// The current sealer.
    pub fn sealer(&self) -> Arc<Sealer> {
        self.sealer
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Seals a new session's credentials into its session token, counted
    /// in [`Services::metrics`].
    pub fn issue_session(&self, claims: &podiam_core::session::SessionClaims) -> String {
        use podiam_core::session::SessionOrigin;
        self.metrics.session_issued(match claims.origin {
            SessionOrigin::WebIdentity { .. } => "web-identity",
            SessionOrigin::AssumeRole { .. } => "assume-role",
            SessionOrigin::PodIdentity { .. } => "pod-identity",
            SessionOrigin::InstanceProfile { .. } => "instance-profile",
        });
        self.sealer().seal(claims, self.rng.as_ref())
    }

    /// Re-reads sealing keys from the store (after a rotation elsewhere),
    /// and seals with the newest that is active now.
    pub async fn reload_sealer(&self) -> Result<(), StoreError> {
        let s = load_sealer(&self.store, self.clock.as_ref(), self.rng.as_ref()).await?;
        *self.sealer.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(s);
        Ok(())
    }

    /// One step of session-sealing key rotation; `serve` runs it every
    /// second on every replica. When the newest key is `interval` seconds
    /// old a new one is created, active only after [`activation_delay`] so
    /// that every replica holds it before any seals with it (replicas
    /// racing create one key: its store key is its generation). A key is
    /// dropped once its successor has sealed for longer than any session
    /// lives. Then the sealer is rebuilt. `interval` 0: never rotate.
    pub async fn maintain_sealing_keys(&self, interval: i64) -> Result<(), StoreError> {
        let now = self.now();
        let keys = self.store.list::<SealingKeyRecord>("")?;
        if interval > 0 {
            let newest = keys.iter().map(|k| k.created_at).max().unwrap_or(i64::MIN);
            if now.saturating_sub(newest) >= interval {
                let generation = keys.iter().map(|k| k.generation).max().unwrap_or(0) + 1;
                let mut k = SealingKey::generate(self.rng.as_ref(), now);
                k.active_from = now + activation_delay(interval);
                create_key(&self.store, k, generation).await?;
            }
            let mut drop = Vec::new();
            for k in &keys {
                // The earliest key that took over from k and is sealing now.
                let successor = keys
                    .iter()
                    .map(|j| j.active_from)
                    .filter(|&a| a > k.active_from && a <= now)
                    .min();
                if successor.is_some_and(|a| now >= a + MAX_SESSION_SECONDS + CLOCK_SKEW) {
                    drop.push(Op::delete::<SealingKeyRecord>("", &store_key(k), k.version));
                }
            }
            for op in drop {
                // Another replica may have dropped it first.
                match self.store.write(vec![op]).await {
                    Ok(()) | Err(StoreError::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.reload_sealer().await
    }
}

/// Sessions live at most 12 hours (a role's longest MaxSessionDuration).
const MAX_SESSION_SECONDS: i64 = 43_200;
/// Allowed clock difference between replicas.
const CLOCK_SKEW: i64 = 300;

/// How long a new sealing key waits before sealing: a quarter of the
/// rotation interval, between 2 s (a replica refreshes every 250 ms and
/// rebuilds its sealer every second) and 60 s.
pub fn activation_delay(interval: i64) -> i64 {
    (interval / 4).clamp(2, 60)
}

/// Where a sealing key is stored: `g<generation>`, or its id for keys from
/// before generations.
fn store_key(k: &SealingKeyRecord) -> String {
    if k.generation == 0 {
        k.id.to_string()
    } else {
        format!("g{}", k.generation)
    }
}

/// Stores a new sealing key; a replica that created the same generation
/// first wins.
async fn create_key(store: &Store, k: SealingKey, generation: u32) -> Result<(), StoreError> {
    let rec = SealingKeyRecord {
        id: k.id,
        secret: k.secret,
        created_at: k.created_at,
        active_from: k.active_from,
        generation,
    };
    match store
        .write(vec![Op::create("", &store_key(&rec), &rec)])
        .await
    {
        Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn load_sealer(
    store: &Store,
    clock: &dyn Clock,
    rng: &dyn Random,
) -> Result<Sealer, StoreError> {
    for _ in 0..3 {
        let keys: Vec<SealingKey> = store
            .list::<SealingKeyRecord>("")?
            .iter()
            .map(|k| SealingKey {
                id: k.id,
                secret: k.secret.clone(),
                created_at: k.created_at,
                active_from: k.active_from,
            })
            .collect();
        if let Some(s) = Sealer::new(&keys, clock.epoch()) {
            return Ok(s);
        }
        if keys.is_empty() {
            create_key(store, SealingKey::generate(rng, clock.epoch()), 1).await?;
        }
        store.refresh().await?;
    }
    Err(StoreError::Unavailable(
        "no usable session sealing key".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use podiam_core::ManualClock;
    use podiam_core::random::SeededRandom;
    use podiam_core::session::SealError;

    fn claims(now: i64) -> podiam_core::session::SessionClaims {
        podiam_core::session::SessionClaims {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "s".into(),
            account: "000000000000".into(),
            role_arn: "arn:aws:iam::000000000000:role/r".into(),
            role_id: "AROAEXAMPLE".into(),
            role_name: "r".into(),
            session_name: "s".into(),
            issued_at: now,
            expires_at: now + 3600,
            origin: podiam_core::session::SessionOrigin::AssumeRole {
                source_arn: "arn:aws:iam::000000000000:root".into(),
            },
            session_policy: None,
            policy_arns: vec![],
            tags: vec![],
            transitive_tag_keys: vec![],
            source_identity: None,
            chained: false,
        }
    }

    #[tokio::test]
    async fn sealing_keys_rotate_activate_late_and_retire() {
        let clock = ManualClock::at(1_800_000_000);
        let store = Arc::new(Store::open_memory().await.expect("store"));
        let svc = Services::new(
            store.clone(),
            Arc::new(clock.clone()),
            Arc::new(SeededRandom::new(7)),
            Config {
                account: "000000000000".into(),
                region: "us-east-1".into(),
                public_url: "http://127.0.0.1:1".into(),
            },
        )
        .await
        .expect("services");
        let rng = SeededRandom::new(8);
        let first = svc.sealer().current_key_id();
        let t1 = svc.sealer().seal(&claims(svc.now()), &rng);

        // Not due yet.
        svc.maintain_sealing_keys(100).await.unwrap();
        assert_eq!(store.list::<SealingKeyRecord>("").unwrap().len(), 1);

        // Due: a second key appears but does not seal for a quarter interval.
        clock.advance(100);
        svc.maintain_sealing_keys(100).await.unwrap();
        let keys = store.list::<SealingKeyRecord>("").unwrap();
        assert_eq!(keys.len(), 2);
        let second = keys.iter().find(|k| k.id != first).expect("new key");
        assert_eq!(second.active_from, svc.now() + activation_delay(100));
        assert_eq!(svc.sealer().current_key_id(), first);
        // A second replica in the same second creates no third key.
        svc.maintain_sealing_keys(100).await.unwrap();
        assert_eq!(store.list::<SealingKeyRecord>("").unwrap().len(), 2);

        clock.advance(activation_delay(100));
        svc.maintain_sealing_keys(100).await.unwrap();
        assert_eq!(svc.sealer().current_key_id(), second.id);
        let t2 = svc.sealer().seal(&claims(svc.now()), &rng);
        assert!(svc.sealer().open(&t1).is_ok(), "old sessions still open");
        assert!(svc.sealer().open(&t2).is_ok());

        // Once no session sealed by the first key can be alive, it goes.
        clock.advance(MAX_SESSION_SECONDS + CLOCK_SKEW);
        svc.maintain_sealing_keys(100).await.unwrap();
        let ids: Vec<u32> = store
            .list::<SealingKeyRecord>("")
            .unwrap()
            .iter()
            .map(|k| k.id)
            .collect();
        assert!(!ids.contains(&first), "{ids:?}");
        assert!(ids.contains(&second.id));
        assert_eq!(svc.sealer().open(&t1), Err(SealError::UnknownKey(first)));
        assert!(svc.sealer().open(&t2).is_ok());

        // Interval 0 never rotates.
        let n = store.list::<SealingKeyRecord>("").unwrap().len();
        clock.advance(10 * 86_400);
        svc.maintain_sealing_keys(0).await.unwrap();
        assert_eq!(store.list::<SealingKeyRecord>("").unwrap().len(), n);
    }
}
