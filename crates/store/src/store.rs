//! The cached, typed store over a backend.

use crate::backend::{Backend, BackendKind, Row};
use crate::sealed::{self, MasterKey, SealError};
use podiam_core::metrics::{latency_histogram, observe};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram};
use prometheus_client::registry::{Registry, Unit};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};

/// A stored entity type.
pub trait Entity: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The document kind, e.g. `role`.
    const KIND: &'static str;
    /// Whether documents hold secrets, encrypted at rest under the master key.
    const SECRET: bool = false;
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A create found the key already present.
    #[error("{kind} {key} already exists")]
    AlreadyExists {
        /// Entity kind.
        kind: String,
        /// Key.
        key: String,
    },
    /// An update or delete found another version (or nothing): a concurrent
    /// writer won; re-read and retry.
    #[error("{kind} {key} was modified concurrently")]
    Conflict {
        /// Entity kind.
        kind: String,
        /// Key.
        key: String,
    },
    /// The database could not be reached or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A secret document cannot be decrypted with this process's master key.
    #[error("cannot read {kind} {key}: {reason}")]
    Sealed {
        /// Entity kind.
        kind: String,
        /// Key.
        key: String,
        /// Why.
        reason: SealError,
    },
    /// A stored document could not be decoded.
    #[error("corrupt {kind} document {key}: {detail}")]
    Corrupt {
        /// Entity kind.
        kind: String,
        /// Key.
        key: String,
        /// Decoder message.
        detail: String,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// How many times [`Store::modify`] reads and writes before giving up to
/// concurrent writers.
pub const MODIFY_TRIES: usize = 8;

/// What a write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No live document with this key (a create).
    Absent,
    /// A live document at exactly this version.
    Version(i64),
}

/// One write in an atomic batch.
#[derive(Debug, Clone)]
pub enum Op {
    /// Create or replace a document.
    Put {
        /// Kind.
        kind: &'static str,
        /// Account (empty for global documents).
        account: String,
        /// Key.
        key: String,
        /// JSON body.
        body: String,
        /// Precondition.
        expect: Expect,
        /// Encrypt the body at rest ([`Entity::SECRET`]).
        secret: bool,
    },
    /// Delete a document.
    Delete {
        /// Kind.
        kind: &'static str,
        /// Account.
        account: String,
        /// Key.
        key: String,
        /// The version being deleted.
        version: i64,
    },
}

impl Op {
    /// Creates `value` under `key`; fails with `AlreadyExists` if present.
    pub fn create<T: Entity>(account: &str, key: &str, value: &T) -> Op {
        Op::put(account, key, value, Expect::Absent)
    }

    /// Replaces `value` at `version`; fails with `Conflict` otherwise.
    pub fn update<T: Entity>(account: &str, key: &str, value: &T, version: i64) -> Op {
        Op::put(account, key, value, Expect::Version(version))
    }

    fn put<T: Entity>(account: &str, key: &str, value: &T, expect: Expect) -> Op {
        Op::Put {
            kind: T::KIND,
            account: account.to_string(),
            key: key.to_string(),
            // Entities are plain data; serialisation cannot fail.
            body: serde_json::to_string(value).unwrap_or_default(),
            expect,
            secret: T::SECRET,
        }
    }

    /// Deletes the document of type `T` at `version`.
    pub fn delete<T: Entity>(account: &str, key: &str, version: i64) -> Op {
        Op::Delete {
            kind: T::KIND,
            account: account.to_string(),
            key: key.to_string(),
            version,
        }
    }

    pub(crate) fn ident(&self) -> (&'static str, &str, &str) {
        match self {
            Op::Put {
                kind, account, key, ..
            }
            | Op::Delete {
                kind, account, key, ..
            } => (kind, account, key),
        }
    }
}

/// A cached document and what has been derived from it.
struct Doc {
    version: i64,
    body: String,
    typed: OnceLock<Arc<dyn Any + Send + Sync>>,
    derived: OnceLock<Arc<dyn Any + Send + Sync>>,
}

/// An entity with its version.
pub struct Versioned<T> {
    /// The version, for a later `Op::update`/`Op::delete`.
    pub version: i64,
    /// The entity.
    pub value: Arc<T>,
    doc: Arc<Doc>,
}

impl<T> Clone for Versioned<T> {
    fn clone(&self) -> Self {
        Self {
            version: self.version,
            value: self.value.clone(),
            doc: self.doc.clone(),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Versioned<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Versioned")
            .field("version", &self.version)
            .field("value", &self.value)
            .finish()
    }
}

impl<T> std::ops::Deref for Versioned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Entity> Versioned<T> {
    /// A value derived from this version of the entity, computed once and
    /// cached with it (e.g. compiled policies). Each entity type must use a
    /// single derived type `D`; a mismatch recomputes without caching.
    pub fn derived<D: Send + Sync + 'static>(&self, f: impl FnOnce(&T) -> D) -> Arc<D> {
        if let Some(any) = self.doc.derived.get() {
            return match any.clone().downcast::<D>() {
                Ok(d) => d,
                Err(_) => Arc::new(f(&self.value)),
            };
        }
        let d = Arc::new(f(&self.value));
        // A racing thread may have set it first; both values are equal.
        let _ = self.doc.derived.set(d.clone());
        d
    }
}

/// kind → account → key → document; nested so lookups borrow `&str` keys.
#[derive(Default)]
struct Cache {
    docs: HashMap<String, HashMap<String, BTreeMap<String, Arc<Doc>>>>,
    seq: i64,
}

/// The store: a backend plus a write-through cache of every document.
pub struct Store {
    backend: Backend,
    cache: RwLock<Cache>,
    master: Option<MasterKey>,
    /// Master keys only read with (a master-key rotation).
    readers: Vec<MasterKey>,
    metrics: StoreMetrics,
}

/// Latency and failures of the store's database round trips (the request
/// path reads the cache and makes none).
#[derive(Debug)]
pub struct StoreMetrics {
    writes: Histogram,
    refreshes: Histogram,
    errors: Family<ErrorLabels, Counter>,
}

/// A failed round trip: operation (`write`, `refresh`) and error
/// (`conflict`, `already_exists`, `unavailable`, `other`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    op: &'static str,
    error: &'static str,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            writes: latency_histogram(),
            refreshes: latency_histogram(),
            errors: Family::default(),
        }
    }
}

impl StoreMetrics {
    fn failed(&self, op: &'static str, e: &StoreError) {
        let error = error_label(e);
        self.errors.get_or_create(&ErrorLabels { op, error }).inc();
    }

    /// Registers `podiam_store_write_duration_seconds`,
    /// `podiam_store_refresh_duration_seconds` and `podiam_store_errors_total`.
    pub fn register(&self, reg: &mut Registry) {
        reg.register_with_unit(
            "podiam_store_write_duration",
            "Latency of atomic write batches to the store's database",
            Unit::Seconds,
            self.writes.clone(),
        );
        reg.register_with_unit(
            "podiam_store_refresh_duration",
            "Latency of pulling other replicas' changes (PostgreSQL; every 250 ms)",
            Unit::Seconds,
            self.refreshes.clone(),
        );
        reg.register(
            "podiam_store_errors",
            "Failed store round trips by operation and error",
            self.errors.clone(),
        );
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend.kind())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) an SQLite database at `path`, applies
    /// migrations and loads the cache.
    pub async fn open_sqlite(path: &std::path::Path) -> Result<Store, StoreError> {
        Self::with_backend(Backend::open_sqlite(Some(path)).await?).await
    }

    /// Connects to PostgreSQL at `url` (`postgres://user:pass@host:port/db`),
    /// applies migrations and loads the cache. Any number of replicas may
    /// share one database.
    pub async fn open_postgres(url: &str) -> Result<Store, StoreError> {
        Self::with_backend(Backend::open_postgres(url).await?).await
    }

    /// A private in-memory SQLite store (tests, `policy simulate`).
    pub async fn open_memory() -> Result<Store, StoreError> {
        Self::with_backend(Backend::open_sqlite(None).await?).await
    }

    async fn with_backend(backend: Backend) -> Result<Store, StoreError> {
        let store = Store {
            backend,
            cache: RwLock::new(Cache::default()),
            master: None,
            readers: Vec::new(),
            metrics: StoreMetrics::default(),
        };
        store.refresh().await?;
        Ok(store)
    }

    /// Encrypts secret documents written from now on under `key`, and
    /// decrypts stored ones with it. Check it with [`Store::check_master_key`].
    pub fn with_master_key(mut self, key: MasterKey) -> Store {
        self.master = Some(key);
        self
    }

    /// Also decrypts documents sealed under `key`, without sealing anything
    /// with it: rotating the master key is (1) every replica reads with the
    /// new key, (2) every replica seals with the new key and reads with the
    /// old one while [`Store::seal_secrets`] re-seals at start, (3) the old
    /// key is dropped.
    pub fn with_read_master_key(mut self, key: MasterKey) -> Store {
        self.readers.push(key);
        self
    }

    /// Whether every encrypted document opens with this store's master key:
    /// a replica started with the wrong key (or none) fails here, at start,
    /// naming the key it needs.
    pub fn check_master_key(&self) -> Result<(), StoreError> {
        let c = self.read_cache();
        for (kind, accounts) in &c.docs {
            for (account, keys) in accounts {
                for (key, doc) in keys {
                    if sealed::is_sealed(&doc.body) {
                        self.open_body(kind, account, key, &doc.body)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Re-writes documents of `T` that are not sealed under the master key
    /// — stored in plain text before a master key was configured, or sealed
    /// under a read-only key being rotated out — sealed under it. Returns
    /// how many.
    pub async fn seal_secrets<T: Entity>(&self) -> Result<usize, StoreError> {
        let Some(master) = self.master.as_ref().filter(|_| T::SECRET) else {
            return Ok(0);
        };
        // Replicas starting together race to re-seal the same documents:
        // the loser's write conflicts (and refreshes), and its next look
        // finds what the winner left to do.
        for _ in 0..5 {
            let stale: Vec<(String, String, String, i64)> = {
                let c = self.read_cache();
                c.docs
                    .get(T::KIND)
                    .into_iter()
                    .flat_map(|accounts| accounts.iter())
                    .flat_map(|(account, keys)| {
                        keys.iter()
                            .filter(|(_, d)| sealed::key_id(&d.body) != Some(master.id()))
                            .map(move |(key, d)| {
                                (account.clone(), key.clone(), d.body.clone(), d.version)
                            })
                    })
                    .collect()
            };
            let mut ops = Vec::with_capacity(stale.len());
            for (account, key, body, version) in stale {
                let plain = if sealed::is_sealed(&body) {
                    self.open_body(T::KIND, &account, &key, &body)?
                } else {
                    body
                };
                ops.push(Op::Put {
                    kind: T::KIND,
                    account,
                    key,
                    body: plain,
                    expect: Expect::Version(version),
                    secret: true,
                });
            }
            let n = ops.len();
            match self.write(ops).await {
                Ok(()) => return Ok(n),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict {
            kind: T::KIND.into(),
            key: "*".into(),
        })
    }

    fn open_body(
        &self,
        kind: &str,
        account: &str,
        key: &str,
        body: &str,
    ) -> Result<String, StoreError> {
        let locked = |reason| StoreError::Sealed {
            kind: kind.into(),
            key: key.into(),
            reason,
        };
        let id = sealed::key_id(body).unwrap_or("?");
        let reader = self
            .master
            .iter()
            .chain(&self.readers)
            .find(|k| k.id() == id);
        match (reader, &self.master) {
            (Some(k), _) => k
                .open(&sealed::aad(kind, account, key), body)
                .map_err(locked),
            (None, None) => Err(locked(SealError::NoKey(id.to_string()))),
            (None, Some(m)) => Err(locked(SealError::WrongKey {
                found: id.to_string(),
                ours: m.id().to_string(),
            })),
        }
    }

    /// Round-trip latency and failures.
    pub fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    /// Which backend this store uses.
    pub fn backend_kind(&self) -> BackendKind {
        self.backend.kind()
    }

    /// Pulls documents written since the last refresh (by this or another
    /// replica). Returns how many changed.
    pub async fn refresh(&self) -> Result<usize, StoreError> {
        let since = self.read_cache().seq;
        let started = std::time::Instant::now();
        let rows = self.backend.changes_since(since).await;
        observe(&self.metrics.refreshes, started.elapsed());
        let rows = rows.inspect_err(|e| self.metrics.failed("refresh", e))?;
        let n = rows.len();
        let mut c = self.write_cache();
        for r in rows {
            c.seq = c.seq.max(r.seq);
            apply_row(&mut c, r);
        }
        Ok(n)
    }

    /// The highest sequence number this replica has seen.
    pub fn seq(&self) -> i64 {
        self.read_cache().seq
    }

    /// The entity of type `T` at (`account`, `key`), from the cache.
    pub fn get<T: Entity>(
        &self,
        account: &str,
        key: &str,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        let doc = {
            let c = self.read_cache();
            c.docs
                .get(T::KIND)
                .and_then(|a| a.get(account))
                .and_then(|k| k.get(key))
                .cloned()
        };
        doc.map(|d| self.typed::<T>(d, account, key)).transpose()
    }

    /// Every entity of type `T` in `account`, ordered by key.
    pub fn list<T: Entity>(&self, account: &str) -> Result<Vec<Versioned<T>>, StoreError> {
        let docs: Vec<(String, Arc<Doc>)> = {
            let c = self.read_cache();
            c.docs
                .get(T::KIND)
                .and_then(|a| a.get(account))
                .map(|keys| keys.iter().map(|(k, d)| (k.clone(), d.clone())).collect())
                .unwrap_or_default()
        };
        docs.into_iter()
            .map(|(k, d)| self.typed::<T>(d, account, &k))
            .collect()
    }

    /// Every entity of type `T` in every account, as (account, entity),
    /// ordered by account then key.
    pub fn list_all<T: Entity>(&self) -> Result<Vec<(String, Versioned<T>)>, StoreError> {
        let docs: Vec<(String, String, Arc<Doc>)> = {
            let c = self.read_cache();
            let mut out = Vec::new();
            if let Some(accounts) = c.docs.get(T::KIND) {
                for (a, keys) in accounts {
                    out.extend(keys.iter().map(|(k, d)| (a.clone(), k.clone(), d.clone())));
                }
            }
            out
        };
        let mut out = docs
            .into_iter()
            .map(|(a, k, d)| self.typed::<T>(d, &a, &k).map(|v| (a, v)))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|x, y| x.0.cmp(&y.0));
        Ok(out)
    }

    /// Applies `ops` atomically. On success the cache reflects them
    /// immediately. On `Conflict` or `AlreadyExists` the cache is refreshed
    /// first: the write was checked against a document another replica
    /// changed behind this one's cache, and the caller's re-read and retry
    /// must see that change rather than the stale copy again.
    pub async fn write(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let ops: Vec<Op> = ops.into_iter().map(|op| self.seal_op(op)).collect();
        let started = std::time::Instant::now();
        let written = self.backend.write(&ops).await;
        observe(&self.metrics.writes, started.elapsed());
        if let Err(e) = &written {
            self.metrics.failed("write", e);
        }
        let rows = match written {
            Ok(rows) => rows,
            Err(e @ (StoreError::Conflict { .. } | StoreError::AlreadyExists { .. })) => {
                // Best effort: on failure the periodic refresh catches up.
                let _ = self.refresh().await;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let mut c = self.write_cache();
        for r in rows {
            // Every committed batch takes the next sequence number, so a
            // gap means another replica wrote in between: `seq` only
            // advances when nothing was skipped, and the next refresh pulls
            // the gap (and this batch again, harmlessly).
            if r.seq == c.seq + 1 {
                c.seq = r.seq;
            }
            apply_row(&mut c, r);
        }
        Ok(())
    }

    /// Read-modify-write of the `T` at (`account`, `key`) under optimistic
    /// concurrency: `f` sees the current value (`None`: absent) and returns
    /// the value to write (`None`: write nothing) and the result. When
    /// another writer got there first, the document is re-read (the failed
    /// write refreshed the cache) and `f` runs again; after
    /// [`MODIFY_TRIES`] lost races the `Conflict` is returned.
    pub async fn modify<T: Entity, R, E: From<StoreError>>(
        &self,
        account: &str,
        key: &str,
        mut f: impl FnMut(Option<&T>) -> Result<(Option<T>, R), E>,
    ) -> Result<R, E> {
        for _ in 0..MODIFY_TRIES {
            let cur = self.get::<T>(account, key)?;
            let (next, out) = f(cur.as_deref())?;
            let Some(next) = next else { return Ok(out) };
            let op = match &cur {
                Some(c) => Op::update(account, key, &next, c.version),
                None => Op::create(account, key, &next),
            };
            match self.write(vec![op]).await {
                Ok(()) => return Ok(out),
                Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict {
            kind: T::KIND.into(),
            key: key.into(),
        }
        .into())
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn error_label(e: &StoreError) -> &'static str {
    match e {
        StoreError::Conflict { .. } => "conflict",
        StoreError::AlreadyExists { .. } => "already_exists",
        StoreError::Unavailable(_) => "unavailable",
        StoreError::Sealed { .. } | StoreError::Corrupt { .. } => "other",
    }
}

fn apply_row(c: &mut Cache, r: Row) {
    let keys = c
        .docs
        .entry(r.kind)
        .or_default()
        .entry(r.account)
        .or_default();
    // Same version again (a refresh re-reading this replica's own write):
    // keep the cached document and what was derived from it.
    if let Some(existing) = keys.get(&r.key)
        && existing.version >= r.version
    {
        return;
    }
    if r.deleted {
        keys.remove(&r.key);
    } else {
        keys.insert(
            r.key,
            Arc::new(Doc {
                version: r.version,
                body: r.body,
                typed: OnceLock::new(),
                derived: OnceLock::new(),
            }),
        );
    }
}

impl Store {
    /// Encrypts a secret document's body when there is a master key.
    fn seal_op(&self, op: Op) -> Op {
        match (op, &self.master) {
            (
                Op::Put {
                    kind,
                    account,
                    key,
                    body,
                    expect,
                    secret: true,
                },
                Some(m),
            ) if !sealed::is_sealed(&body) => Op::Put {
                body: m.seal(&sealed::aad(kind, &account, &key), &body),
                kind,
                account,
                key,
                expect,
                secret: true,
            },
            (op, _) => op,
        }
    }

    /// The typed entity of a cached document, decrypted and decoded once
    /// per version.
    fn typed<T: Entity>(
        &self,
        doc: Arc<Doc>,
        account: &str,
        key: &str,
    ) -> Result<Versioned<T>, StoreError> {
        let any = match doc.typed.get() {
            Some(a) => a.clone(),
            None => {
                let opened;
                let json = if sealed::is_sealed(&doc.body) {
                    opened = self.open_body(T::KIND, account, key, &doc.body)?;
                    opened.as_str()
                } else {
                    doc.body.as_str()
                };
                let v: T = serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
                    kind: T::KIND.into(),
                    key: key.into(),
                    detail: e.to_string(),
                })?;
                doc.typed
                    .get_or_init(|| Arc::new(v) as Arc<dyn Any + Send + Sync>)
                    .clone()
            }
        };
        let value = any.downcast::<T>().map_err(|_| StoreError::Corrupt {
            kind: T::KIND.into(),
            key: key.into(),
            detail: "type mismatch".into(),
        })?;
        Ok(Versioned {
            version: doc.version,
            value,
            doc,
        })
    }
}
