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
    pub(crate) verifiers: crate::authn::Verifiers,
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
            verifiers: Default::default(),
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

    /// Re-reads sealing keys from the store (after a rotation elsewhere).
    pub async fn reload_sealer(&self) -> Result<(), StoreError> {
        let s = load_sealer(&self.store, self.clock.as_ref(), self.rng.as_ref()).await?;
        *self.sealer.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(s);
        Ok(())
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
            })
            .collect();
        if let Some(s) = Sealer::new(&keys) {
            return Ok(s);
        }
        let k = SealingKey::generate(rng, clock.epoch());
        let rec = SealingKeyRecord {
            id: k.id,
            secret: k.secret,
            created_at: k.created_at,
        };
        match store
            .write(vec![Op::create("", &rec.id.to_string(), &rec)])
            .await
        {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
        store.refresh().await?;
    }
    Err(StoreError::Unavailable(
        "no usable session sealing key".into(),
    ))
}
