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
async fn suite(store: Store, reopen: impl AsyncFnOnce() -> Store) {
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
