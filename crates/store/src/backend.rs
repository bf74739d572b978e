//! The SQL backends. Only this module speaks SQL.

use crate::store::{Expect, Op, StoreError};
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::time::Duration;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Embedded SQLite.
    Sqlite,
    /// A PostgreSQL server, shareable by many replicas.
    Postgres,
}

/// A document row as stored.
#[derive(Debug)]
pub(crate) struct Row {
    pub kind: String,
    pub account: String,
    pub key: String,
    pub body: String,
    pub version: i64,
    pub deleted: bool,
    pub seq: i64,
}

/// Versioned migrations, applied in order, each exactly once. Every
/// version exists for both backends: [`MIGRATIONS`] for SQLite,
/// [`PG_MIGRATIONS`] for PostgreSQL, the same schema in each dialect.
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE docs (
        kind TEXT NOT NULL,
        account TEXT NOT NULL,
        key TEXT NOT NULL,
        body TEXT NOT NULL,
        version INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        seq INTEGER NOT NULL,
        PRIMARY KEY (kind, account, key)
    );
    CREATE INDEX docs_seq ON docs (seq);
    CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
    INSERT INTO meta (k, v) VALUES ('seq', 0);",
)];

/// [`MIGRATIONS`] in PostgreSQL's dialect.
const PG_MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE docs (
        kind TEXT NOT NULL,
        account TEXT NOT NULL,
        key TEXT NOT NULL,
        body TEXT NOT NULL,
        version BIGINT NOT NULL,
        deleted BOOLEAN NOT NULL DEFAULT FALSE,
        seq BIGINT NOT NULL,
        PRIMARY KEY (kind, account, key)
    );
    CREATE INDEX docs_seq ON docs (seq);
    CREATE TABLE meta (k TEXT PRIMARY KEY, v BIGINT NOT NULL);
    INSERT INTO meta (k, v) VALUES ('seq', 0);",
)];

const _: () = assert!(MIGRATIONS.len() == PG_MIGRATIONS.len());

/// Key of the advisory lock that serialises migrations of replicas starting
/// together ("podiam" in ASCII).
const PG_MIGRATION_LOCK: i64 = 0x706f_6469_616d;

pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Backend {
    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// WAL with `synchronous=FULL`: a write is durable once acknowledged,
    /// even across `kill -9` or power loss.
    pub(crate) async fn open_sqlite(path: Option<&std::path::Path>) -> Result<Backend, StoreError> {
        let opts = match path {
            Some(p) => SqliteConnectOptions::new()
                .filename(p)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal),
            None => SqliteConnectOptions::new().in_memory(true),
        }
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
        // One connection: SQLite has one writer anyway, reads are served from
        // the cache, and an in-memory database exists per connection.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await?;
        let b = Backend::Sqlite(pool);
        b.migrate().await?;
        Ok(b)
    }

    /// Connects to PostgreSQL at `url` (`postgres://user:pass@host/db`) and
    /// applies migrations.
    pub(crate) async fn open_postgres(url: &str) -> Result<Backend, StoreError> {
        // While the database is down a write fails within the acquire
        // timeout (a clean ServiceUnavailable the SDKs retry) instead of
        // hanging; pooled connections are pinged before use, so the pool
        // heals by itself when the database returns.
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(3))
            .test_before_acquire(true)
            .connect(url)
            .await?;
        let b = Backend::Postgres(pool);
        b.migrate().await?;
        Ok(b)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let pool = match self {
            Backend::Sqlite(pool) => pool,
            Backend::Postgres(pool) => return migrate_pg(pool).await,
        };
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        )
        .execute(pool)
        .await?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(pool)
                .await?;
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            let mut tx = pool.begin().await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO schema_migrations (version) VALUES (?)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version, "applied store migration");
        }
        Ok(())
    }

    pub(crate) async fn changes_since(&self, seq: i64) -> Result<Vec<Row>, StoreError> {
        let pool = match self {
            Backend::Sqlite(pool) => pool,
            Backend::Postgres(pool) => return changes_since_pg(pool, seq).await,
        };
        let rows = sqlx::query(
            "SELECT kind, account, key, body, version, deleted, seq FROM docs WHERE seq > ? ORDER BY seq",
        )
        .bind(seq)
        .fetch_all(pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Row {
                    kind: r.try_get("kind")?,
                    account: r.try_get("account")?,
                    key: r.try_get("key")?,
                    body: r.try_get("body")?,
                    version: r.try_get("version")?,
                    deleted: r.try_get::<i64, _>("deleted")? != 0,
                    seq: r.try_get("seq")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Applies `ops` in one transaction; returns the rows as written.
    pub(crate) async fn write(&self, ops: &[Op]) -> Result<Vec<Row>, StoreError> {
        let pool = match self {
            Backend::Sqlite(pool) => pool,
            Backend::Postgres(pool) => return write_pg(pool, ops).await,
        };
        let mut tx = pool.begin().await?;
        let seq: i64 = sqlx::query_scalar("UPDATE meta SET v = v + 1 WHERE k = 'seq' RETURNING v")
            .fetch_one(&mut *tx)
            .await?;
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            let (kind, account, key) = op.ident();
            let current: Option<(i64, i64)> = sqlx::query_as(
                "SELECT version, deleted FROM docs WHERE kind = ? AND account = ? AND key = ?",
            )
            .bind(kind)
            .bind(account)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            let current = current.map(|(v, d)| (v, d != 0));
            let (body, deleted, next) = decide(op, current)?;
            sqlx::query(
                "INSERT INTO docs (kind, account, key, body, version, deleted, seq) VALUES (?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (kind, account, key) DO UPDATE SET body = excluded.body, version = excluded.version, deleted = excluded.deleted, seq = excluded.seq",
            )
            .bind(kind)
            .bind(account)
            .bind(key)
            .bind(&body)
            .bind(next)
            .bind(i64::from(deleted))
            .bind(seq)
            .execute(&mut *tx)
            .await?;
            out.push(Row {
                kind: kind.into(),
                account: account.into(),
                key: key.into(),
                body,
                version: next,
                deleted,
                seq,
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// Checks `op`'s precondition against the stored (version, deleted) and
/// returns the row to write: (body, deleted, next version).
fn decide(op: &Op, current: Option<(i64, bool)>) -> Result<(String, bool, i64), StoreError> {
    let (kind, _, key) = op.ident();
    let live = current.filter(|(_, d)| !*d).map(|(v, _)| v);
    let next = current.map_or(1, |(v, _)| v + 1);
    match op {
        Op::Put { body, expect, .. } => {
            match (expect, live) {
                (Expect::Absent, Some(_)) => {
                    return Err(StoreError::AlreadyExists {
                        kind: kind.into(),
                        key: key.into(),
                    });
                }
                (Expect::Version(v), Some(l)) if *v == l => {}
                (Expect::Version(_), _) => return Err(conflict(kind, key)),
                (Expect::Absent, None) => {}
            }
            Ok((body.clone(), false, next))
        }
        Op::Delete { version, .. } => {
            if live != Some(*version) {
                return Err(conflict(kind, key));
            }
            Ok((String::new(), true, next))
        }
    }
}

async fn migrate_pg(pool: &PgPool) -> Result<(), StoreError> {
    // One transaction under an advisory lock: replicas starting together
    // apply each migration once, and DDL is transactional in PostgreSQL.
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations")
            .fetch_one(&mut *tx)
            .await?;
    for (version, sql) in PG_MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, "applied store migration");
    }
    tx.commit().await?;
    Ok(())
}

async fn changes_since_pg(pool: &PgPool, seq: i64) -> Result<Vec<Row>, StoreError> {
    let rows = sqlx::query(
        "SELECT kind, account, key, body, version, deleted, seq FROM docs WHERE seq > $1 ORDER BY seq",
    )
    .bind(seq)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Row {
                kind: r.try_get("kind")?,
                account: r.try_get("account")?,
                key: r.try_get("key")?,
                body: r.try_get("body")?,
                version: r.try_get("version")?,
                deleted: r.try_get("deleted")?,
                seq: r.try_get("seq")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Applies `ops` in one READ COMMITTED transaction.
///
/// The first statement bumps the `meta` sequence row, which row-locks it
/// until commit: writers are serialised, sequence numbers commit in order
/// (so `changes_since` never skips a row committed late), and every later
/// statement of the transaction sees all writes committed before it. The
/// primary key still has the last word: a create is a plain `INSERT`, and
/// a unique violation maps to `AlreadyExists`.
async fn write_pg(pool: &PgPool, ops: &[Op]) -> Result<Vec<Row>, StoreError> {
    let mut tx = pool.begin().await?;
    let seq: i64 = sqlx::query_scalar("UPDATE meta SET v = v + 1 WHERE k = 'seq' RETURNING v")
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| pg_error(e, "meta", "seq"))?;
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let (kind, account, key) = op.ident();
        let current: Option<(i64, bool)> = sqlx::query_as(
            "SELECT version, deleted FROM docs WHERE kind = $1 AND account = $2 AND key = $3 FOR UPDATE",
        )
        .bind(kind)
        .bind(account)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| pg_error(e, kind, key))?;
        let (body, deleted, next) = decide(op, current)?;
        let written = match current {
            None => sqlx::query(
                "INSERT INTO docs (kind, account, key, body, version, deleted, seq) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(kind)
            .bind(account)
            .bind(key)
            .bind(&body)
            .bind(next)
            .bind(deleted)
            .bind(seq)
            .execute(&mut *tx)
            .await,
            Some((version, _)) => sqlx::query(
                "UPDATE docs SET body = $4, version = $5, deleted = $6, seq = $7
                 WHERE kind = $1 AND account = $2 AND key = $3 AND version = $8",
            )
            .bind(kind)
            .bind(account)
            .bind(key)
            .bind(&body)
            .bind(next)
            .bind(deleted)
            .bind(seq)
            .bind(version)
            .execute(&mut *tx)
            .await,
        }
        .map_err(|e| pg_error(e, kind, key))?;
        if written.rows_affected() != 1 {
            return Err(conflict(kind, key));
        }
        out.push(Row {
            kind: kind.into(),
            account: account.into(),
            key: key.into(),
            body,
            version: next,
            deleted,
            seq,
        });
    }
    tx.commit().await.map_err(|e| pg_error(e, "meta", "seq"))?;
    Ok(out)
}

/// Maps PostgreSQL's verdicts on a race to the store's: a unique violation
/// is `AlreadyExists`, a serialization failure or deadlock is `Conflict`.
fn pg_error(e: sqlx::Error, kind: &str, key: &str) -> StoreError {
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned());
    match code.as_deref() {
        Some("23505") => StoreError::AlreadyExists {
            kind: kind.into(),
            key: key.into(),
        },
        Some("40001" | "40P01") => conflict(kind, key),
        _ => e.into(),
    }
}

fn conflict(kind: &str, key: &str) -> StoreError {
    StoreError::Conflict {
        kind: kind.into(),
        key: key.into(),
    }
}
