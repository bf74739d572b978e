//! The SQL backends. Only this module speaks SQL.

use crate::store::{Expect, Op, StoreError};
use sqlx::Row as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::time::Duration;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Embedded SQLite.
    Sqlite,
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

/// Versioned migrations, applied in order, each exactly once.
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

pub(crate) enum Backend {
    Sqlite(SqlitePool),
}

impl Backend {
    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Backend::Sqlite(_) => BackendKind::Sqlite,
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

    async fn migrate(&self) -> Result<(), StoreError> {
        let Backend::Sqlite(pool) = self;
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
        let Backend::Sqlite(pool) = self;
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
        let Backend::Sqlite(pool) = self;
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
            let live = current.filter(|(_, d)| *d == 0).map(|(v, _)| v);
            let next = current.map_or(1, |(v, _)| v + 1);
            let (body, deleted) = match op {
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
                    (body.clone(), false)
                }
                Op::Delete { version, .. } => {
                    if live != Some(*version) {
                        return Err(conflict(kind, key));
                    }
                    (String::new(), true)
                }
            };
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

fn conflict(kind: &str, key: &str) -> StoreError {
    StoreError::Conflict {
        kind: kind.into(),
        key: key.into(),
    }
}
