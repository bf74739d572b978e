//! The store contract: written once, run against every backend.

use podiam_store::{Op, Role, Store, StoreError, Tag};
use std::collections::BTreeMap;

fn role(name: &str) -> Role {
    Role {
        name: name.into(),
        id: format!("AROA{name}"),
        path: "/".into(),
        arn: format!("arn:aws:iam::000000000000:role/{name}"),
        trust_policy: "{}".into(),
        description: None,
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: vec![Tag {
            key: "k".into(),
            value: "v".into(),
        }],
        inline_policies: BTreeMap::new(),
        attached_policies: vec![],
        created_at: 1,
    }
}

const A: &str = "000000000000";

/// The suite every backend must pass.
async fn suite(store: Store, reopen: impl AsyncFn() -> Store) {
    // Create, read back, list in key order.
    store
        .write(vec![Op::create(A, "b", &role("b"))])
        .await
        .unwrap();
    store
        .write(vec![Op::create(A, "a", &role("a"))])
        .await
        .unwrap();
    let got = store.get::<Role>(A, "a").unwrap().unwrap();
    assert_eq!(*got.value, role("a"));
    assert_eq!(got.version, 1);
    let names: Vec<String> = store
        .list::<Role>(A)
        .unwrap()
        .iter()
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(store.list::<Role>("111111111111").unwrap().is_empty());
    assert!(store.get::<Role>(A, "zz").unwrap().is_none());

    // Uniqueness is the database's.
    let e = store
        .write(vec![Op::create(A, "a", &role("a"))])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists { .. }), "{e}");

    // Optimistic concurrency: a stale version loses.
    let mut r = role("a");
    r.description = Some("first".into());
    store.write(vec![Op::update(A, "a", &r, 1)]).await.unwrap();
    r.description = Some("stale".into());
    let e = store
        .write(vec![Op::update(A, "a", &r, 1)])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e}");
    let cur = store.get::<Role>(A, "a").unwrap().unwrap();
    assert_eq!(cur.description.as_deref(), Some("first"));
    assert_eq!(cur.version, 2);

    // Batches are atomic: the failing second op rolls back the first.
    let e = store
        .write(vec![
            Op::create(A, "c", &role("c")),
            Op::create(A, "b", &role("b")),
        ])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists { .. }));
    assert!(store.get::<Role>(A, "c").unwrap().is_none());

    // Delete needs the live version; re-create after delete works.
    let e = store
        .write(vec![Op::delete::<Role>(A, "b", 7)])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }));
    store
        .write(vec![Op::delete::<Role>(A, "b", 1)])
        .await
        .unwrap();
    assert!(store.get::<Role>(A, "b").unwrap().is_none());
    store
        .write(vec![Op::create(A, "b", &role("b"))])
        .await
        .unwrap();
    let b = store.get::<Role>(A, "b").unwrap().unwrap();
    assert!(
        b.version > 1,
        "versions stay monotonic across delete/re-create"
    );

    // Derived values are computed once per version.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let d1 = b.derived(|r| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        r.name.len()
    });
    let again = store.get::<Role>(A, "b").unwrap().unwrap();
    let d2 = again.derived(|_| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        0usize
    });
    assert_eq!((*d1, *d2), (1, 1));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Read-modify-write: creates when absent, updates at the version it
    // read, writes nothing when told so, and re-reads after losing a race
    // to another replica (whose change it then keeps).
    const M: &str = "222222222222";
    let made = store
        .modify::<Role, _, StoreError>(M, "m", |cur| {
            assert!(cur.is_none());
            Ok((Some(role("m")), "created"))
        })
        .await
        .unwrap();
    assert_eq!(made, "created");
    let other = reopen().await;
    other
        .modify::<Role, _, StoreError>(M, "m", |cur| {
            let mut r = cur.expect("m").clone();
            r.tags.push(Tag {
                key: "by".into(),
                value: "other".into(),
            });
            Ok((Some(r), ()))
        })
        .await
        .unwrap();
    let mut calls = 0;
    store
        .modify::<Role, _, StoreError>(M, "m", |cur| {
            calls += 1;
            let mut r = cur.expect("m").clone();
            r.description = Some("mine".into());
            Ok((Some(r), ()))
        })
        .await
        .unwrap();
    assert_eq!(calls, 2, "the stale first attempt lost and was re-read");
    let m = store.get::<Role>(M, "m").unwrap().unwrap();
    assert_eq!((m.version, m.description.as_deref()), (3, Some("mine")));
    assert_eq!(m.tags.last().map(|t| t.value.as_str()), Some("other"));
    store
        .modify::<Role, _, StoreError>(M, "m", |_| Ok((None, ())))
        .await
        .unwrap();
    assert_eq!(store.get::<Role>(M, "m").unwrap().unwrap().version, 3);
    drop(other);

    // Everything acknowledged is there after reopening.
    let seq = store.seq();
    drop(store);
    let store = reopen().await;
    assert_eq!(store.seq(), seq);
    let names: Vec<String> = store
        .list::<Role>(A)
        .unwrap()
        .iter()
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(
        store
            .get::<Role>(A, "a")
            .unwrap()
            .unwrap()
            .description
            .as_deref(),
        Some("first")
    );
}

#[tokio::test]
async fn sqlite_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("podiam.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    suite(store, async || Store::open_sqlite(&path).await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_replicas_see_each_other_after_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("podiam.db");
    let a = Store::open_sqlite(&path).await.unwrap();
    let b = Store::open_sqlite(&path).await.unwrap();
    a.write(vec![Op::create(A, "x", &role("x"))]).await.unwrap();
    assert!(b.get::<Role>(A, "x").unwrap().is_none());
    assert_eq!(b.refresh().await.unwrap(), 1);
    assert!(b.get::<Role>(A, "x").unwrap().is_some());
    // A write from a stale replica conflicts instead of clobbering.
    let e = b
        .write(vec![Op::create(A, "x", &role("x"))])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists { .. }));
    b.write(vec![Op::delete::<Role>(A, "x", 1)]).await.unwrap();
    a.refresh().await.unwrap();
    assert!(a.get::<Role>(A, "x").unwrap().is_none());
}

/// A fresh, uniquely named database on the server at
/// `PODIAM_TEST_POSTGRES_URL` (a superuser connection), dropped by
/// [`TestDb::drop_db`]. An unset variable fails the test: `.ci/run`
/// always provides the server.
struct TestDb {
    admin: String,
    name: String,
    url: String,
}

impl TestDb {
    async fn create() -> TestDb {
        let admin = std::env::var("PODIAM_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .expect(
                "PODIAM_TEST_POSTGRES_URL is unset: these tests need a PostgreSQL server \
                 (bash .ci/run starts one on loopback and sets it)",
            );
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "podiam_test_{}_{}_{}",
            std::process::id(),
            nanos,
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let url = with_database(&admin, &name);
        TestDb { admin, name, url }
    }

    async fn drop_db(self) {
        let mut conn = sqlx::PgConnection::connect(&self.admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

/// `url` with its database path replaced by `db`, query string kept.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

use sqlx::Connection as _;

#[tokio::test]
async fn postgres_contract() {
    let db = TestDb::create().await;
    let store = Store::open_postgres(&db.url).await.unwrap();
    assert_eq!(store.backend_kind(), podiam_store::BackendKind::Postgres);
    let url = db.url.clone();
    suite(store, async || Store::open_postgres(&url).await.unwrap()).await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_race_and_refresh() {
    let db = TestDb::create().await;
    // Two pools on one database: two replicas. Opening both at once also
    // races the migrations.
    let (a, b) = tokio::join!(Store::open_postgres(&db.url), Store::open_postgres(&db.url));
    let (a, b) = (
        std::sync::Arc::new(a.unwrap()),
        std::sync::Arc::new(b.unwrap()),
    );

    // Racing creates of the same key: exactly one success, one AlreadyExists.
    for i in 0..25 {
        let key = format!("r{i}");
        let (x, y) = tokio::join!(
            tokio::spawn({
                let (a, key) = (a.clone(), key.clone());
                async move { a.write(vec![Op::create(A, &key, &role(&key))]).await }
            }),
            tokio::spawn({
                let (b, key) = (b.clone(), key.clone());
                async move { b.write(vec![Op::create(A, &key, &role(&key))]).await }
            }),
        );
        let results = [x.unwrap(), y.unwrap()];
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let exists = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::AlreadyExists { .. })))
            .count();
        assert_eq!((ok, exists), (1, 1), "{key}: {results:?}");
    }

    // Each sees the other's writes after refresh().
    a.refresh().await.unwrap();
    b.refresh().await.unwrap();
    assert_eq!(a.list::<Role>(A).unwrap().len(), 25);
    assert_eq!(b.list::<Role>(A).unwrap().len(), 25);
    assert_eq!(a.seq(), b.seq());
    a.write(vec![Op::create(A, "x", &role("x"))]).await.unwrap();
    assert!(b.get::<Role>(A, "x").unwrap().is_none());
    assert_eq!(b.refresh().await.unwrap(), 1);
    assert!(b.get::<Role>(A, "x").unwrap().is_some());

    // Racing updates of one version: one success, one Conflict.
    let mut r = role("x");
    r.description = Some("from a".into());
    let mut s = role("x");
    s.description = Some("from b".into());
    let (x, y) = tokio::join!(
        a.write(vec![Op::update(A, "x", &r, 1)]),
        b.write(vec![Op::update(A, "x", &s, 1)]),
    );
    let results = [x, y];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(StoreError::Conflict { .. }))),
        "{results:?}"
    );

    // A stale replica's write conflicts instead of clobbering; deletes
    // propagate.
    let e = b.write(vec![Op::update(A, "x", &s, 1)]).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }));
    a.refresh().await.unwrap();
    b.refresh().await.unwrap();
    let cur = b.get::<Role>(A, "x").unwrap().unwrap();
    assert_eq!(cur.version, 2);
    assert_eq!(
        a.get::<Role>(A, "x").unwrap().unwrap().description,
        cur.description
    );
    b.write(vec![Op::delete::<Role>(A, "x", 2)]).await.unwrap();
    assert_eq!(a.refresh().await.unwrap(), 1);
    assert!(a.get::<Role>(A, "x").unwrap().is_none());

    // A write refused because another replica changed the document behind
    // this one's cache brings the cache up to date, so the caller's
    // re-read and retry succeed without waiting for the periodic refresh.
    a.write(vec![Op::create(A, "y", &role("y"))]).await.unwrap();
    b.refresh().await.unwrap();
    let mut y = role("y");
    y.description = Some("from a".into());
    a.write(vec![Op::update(A, "y", &y, 1)]).await.unwrap();
    let e = b.write(vec![Op::update(A, "y", &y, 1)]).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
    let cur = b.get::<Role>(A, "y").unwrap().unwrap();
    assert_eq!(cur.version, 2);
    b.write(vec![Op::update(A, "y", &y, cur.version)])
        .await
        .unwrap();
    a.write(vec![Op::create(A, "z", &role("z"))]).await.unwrap();
    let e = b
        .write(vec![Op::create(A, "z", &role("z"))])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists { .. }), "{e:?}");
    assert!(b.get::<Role>(A, "z").unwrap().is_some());

    drop((a, b));
    db.drop_db().await;
}

#[test]
fn database_url_rewrite() {
    assert_eq!(
        with_database("postgres://u@127.0.0.1:5432/postgres", "t"),
        "postgres://u@127.0.0.1:5432/t"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "t"),
        "postgres://u:p@h/t?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h:1", "t"), "postgres://h:1/t");
}

#[tokio::test]
async fn sqlite_interleaved_writes_are_not_skipped_by_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("podiam.db");
    let a = Store::open_sqlite(&path).await.unwrap();
    let b = Store::open_sqlite(&path).await.unwrap();
    a.write(vec![Op::create(A, "1", &role("1"))]).await.unwrap();
    b.write(vec![Op::create(A, "2", &role("2"))]).await.unwrap();
    a.write(vec![Op::create(A, "3", &role("3"))]).await.unwrap();
    // a's own write at seq 3 must not make it skip b's at seq 2.
    a.refresh().await.unwrap();
    assert_eq!(a.list::<Role>(A).unwrap().len(), 3);
    assert_eq!(a.seq(), 3);
}

/// Encryption at rest, on every backend: `open(key)` opens the same
/// database with a master key (or none), `raw()` reads (kind, body) of
/// every row straight from the database.
async fn secrets_suite(
    open: impl AsyncFn(Option<&str>, Option<&str>) -> Store,
    raw: impl AsyncFn() -> Vec<(String, String)>,
) {
    use podiam_store::{AccessKey, MasterKey, SealError};
    let key = |id: &str| AccessKey {
        access_key_id: id.into(),
        secret_access_key: format!("secret-of-{id}"),
        account: A.into(),
        principal_arn: format!("arn:aws:iam::{A}:root"),
        active: true,
        created_at: 1,
    };
    let (_, k1) = MasterKey::generate();
    let (_, k2) = MasterKey::generate();
    let plain_in_db = async || {
        raw()
            .await
            .iter()
            .filter(|(_, body)| body.contains("secret-of-"))
            .count()
    };

    // Written before any master key: plain text.
    let store = open(None, None).await;
    store
        .write(vec![Op::create("", "AKIAOLD", &key("AKIAOLD"))])
        .await
        .unwrap();
    drop(store);
    assert_eq!(plain_in_db().await, 1);

    // With a key: the old document still reads, and is re-written sealed;
    // new secrets are sealed, other documents stay readable JSON.
    let store = open(Some(&k1), None).await;
    let racer = open(Some(&k1), None).await;
    assert_eq!(
        *store
            .get::<AccessKey>("", "AKIAOLD")
            .unwrap()
            .unwrap()
            .value,
        key("AKIAOLD")
    );
    // Another replica starting at the same moment re-seals first: this
    // one's stale view conflicts, refreshes and finds nothing left to do.
    assert_eq!(racer.seal_secrets::<AccessKey>().await.unwrap(), 1);
    drop(racer);
    assert_eq!(store.seal_secrets::<AccessKey>().await.unwrap(), 0);
    store
        .write(vec![
            Op::create("", "AKIANEW", &key("AKIANEW")),
            Op::create(A, "r", &role("r")),
        ])
        .await
        .unwrap();
    store.check_master_key().unwrap();
    drop(store);
    assert_eq!(plain_in_db().await, 0, "a secret is stored in plain text");
    let rows = raw().await;
    assert!(rows.iter().any(|(k, b)| k == "role" && b.starts_with('{')));
    assert!(
        rows.iter()
            .filter(|(k, _)| k == "access-key")
            .all(|(_, b)| b.starts_with("$sealed:v1:"))
    );

    // The wrong key, or none, is refused at the check and on every read.
    for (k, want_wrong) in [(Some(k2.as_str()), true), (None, false)] {
        let store = open(k, None).await;
        let e = store.check_master_key().unwrap_err();
        match e {
            StoreError::Sealed { reason, .. } => match reason {
                SealError::WrongKey { .. } => assert!(want_wrong),
                SealError::NoKey(_) => assert!(!want_wrong),
                other => panic!("{other}"),
            },
            other => panic!("{other}"),
        }
        assert!(matches!(
            store.get::<AccessKey>("", "AKIANEW"),
            Err(StoreError::Sealed { .. })
        ));
        assert!(store.get::<Role>(A, "r").unwrap().is_some());
    }

    // The right key reads everything back.
    let store = open(Some(&k1), None).await;
    for id in ["AKIAOLD", "AKIANEW"] {
        assert_eq!(
            *store.get::<AccessKey>("", id).unwrap().unwrap().value,
            key(id)
        );
    }
}

const ROWS: &str = "SELECT kind, body FROM docs";

/// `store` with a master key and a read-only one, given as base64 text.
fn with_keys(store: Store, master: Option<&str>, read: Option<&str>) -> Store {
    let parse = |k: &str| podiam_store::MasterKey::parse(k).unwrap();
    let store = match master {
        Some(k) => store.with_master_key(parse(k)),
        None => store,
    };
    match read {
        Some(k) => store.with_read_master_key(parse(k)),
        None => store,
    }
}

#[tokio::test]
async fn sqlite_secrets_are_encrypted_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("podiam.db");
    let open = async |k: Option<&str>, read: Option<&str>| {
        with_keys(Store::open_sqlite(&path).await.unwrap(), k, read)
    };
    let raw = async || {
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::query_as(ROWS).fetch_all(&mut c).await.unwrap()
    };
    secrets_suite(open, raw).await;
}

#[tokio::test]
async fn postgres_secrets_are_encrypted_at_rest() {
    let db = TestDb::create().await;
    let url = db.url.clone();
    let open = async |k: Option<&str>, read: Option<&str>| {
        with_keys(Store::open_postgres(&url).await.unwrap(), k, read)
    };
    let raw = async || {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_as(ROWS).fetch_all(&mut c).await.unwrap()
    };
    secrets_suite(open, raw).await;
    db.drop_db().await;
}
