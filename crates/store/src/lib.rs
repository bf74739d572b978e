//! podiam's state: IAM and EKS entities, stored as versioned documents.
//!
//! Services never talk SQL. They read typed entities from an in-memory,
//! write-through cache ([`Store::get`], [`Store::list`] — no I/O on the
//! request path) and write with optimistic concurrency: each [`Op`] states
//! what it expects to find (absent, or a given version), and a batch of ops
//! commits atomically or not at all. Uniqueness (role names, provider URLs,
//! association keys) is the primary key of the backing table, so the
//! database — not the caller — decides who wins a race.
//!
//! Every write bumps a global sequence number; [`Store::refresh`] pulls
//! rows with a newer sequence, which is how replicas sharing one database
//! see each other's writes.

//!
//! Secret entities (signing keys, sealing keys, access keys) are encrypted
//! at rest under a [`MasterKey`] when the store has one.

mod backend;
pub mod model;
mod sealed;
mod store;

pub use backend::BackendKind;
pub use model::*;
pub use sealed::{MasterKey, SealError};
pub use store::{Entity, Expect, MODIFY_TRIES, Op, Store, StoreError, StoreMetrics, Versioned};
