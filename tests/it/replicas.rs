//! Issue #8: three `podiam serve` replicas on one PostgreSQL database act
//! as one service. A role assumed on one replica is recognised on the
//! others, a racing create has one winner, a trust-policy change on one
//! replica is enforced by another within 1 s, and killing a replica with
//! SIGKILL under load loses no acknowledged write and fails no request to
//! the survivors.
//!
//! Runs only when `PODIAM_TEST_POSTGRES_URL` names a PostgreSQL server (a
//! superuser connection: each run creates and drops its own database).

use super::common::{ACCOUNT, BIN, form, raw_fails_with, wait_for, xml_field, xml_unescape};
use super::raw::{Raw, admin_credentials, raw_get, raw_unsigned};
use podiam_sigv4::Credentials;
use serde_json::json;
use sqlx::Connection as _;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

/// A throwaway database on the server at `PODIAM_TEST_POSTGRES_URL`,
/// dropped (with its connections) on drop.
struct TestDb {
    admin: String,
    name: String,
    url: String,
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

impl TestDb {
    fn create() -> TestDb {
        let admin = std::env::var("PODIAM_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .expect(
                "PODIAM_TEST_POSTGRES_URL is unset: these tests need a PostgreSQL server \
                 (bash .ci/run starts one on loopback and sets it)",
            );
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos();
        let name = format!("podiam_test_{}_{}_0", std::process::id(), nanos);
        block_on(async {
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to PODIAM_TEST_POSTGRES_URL");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create database");
            let _ = conn.close().await;
        });
        let url = with_database(&admin, &name);
        TestDb { admin, name, url }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        block_on(async {
            match sqlx::PgConnection::connect(&self.admin).await {
                Ok(mut conn) => {
                    let dropped = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    )))
                    .execute(&mut conn)
                    .await;
                    if let Err(e) = dropped {
                        eprintln!("cannot drop test database {}: {e}", self.name);
                    }
                    let _ = conn.close().await;
                }
                Err(e) => eprintln!("cannot drop test database {}: {e}", self.name),
            }
        });
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

/// One `podiam serve --store postgres://…` with its own data directory;
/// killed on drop.
struct Replica {
    name: &'static str,
    child: Mutex<Option<Child>>,
    dir: tempfile::TempDir,
    addr: String,
}

/// The master key every replica of a test shares (each test has its own database).
const MASTER_KEY: &str = "cG9kaWFtLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE=";

/// `podiam serve` on `store` with `master_key`.
fn serve(dir: &std::path::Path, store: &str, master_key: &str) -> Command {
    let mut c = Command::new(BIN);
    c.args(["serve", "--listen", "127.0.0.1:0", "--audit", "none"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--store", store])
        .env_remove("PODIAM_MASTER_KEY_FILE")
        .env("PODIAM_MASTER_KEY", master_key)
        .env("PODIAM_LOG", "warn");
    c
}

impl Replica {
    fn start(name: &'static str, store: &str) -> Replica {
        Self::start_with(name, store, &[])
    }

    /// Like [`Replica::start`] with more `serve` flags.
    fn start_with(name: &'static str, store: &str, flags: &[&str]) -> Replica {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = serve(dir.path(), store, MASTER_KEY)
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn podiam serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let Some(line) = lines.next() else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("replica {name} exited before listening");
            };
            let line = line.expect("read stderr");
            if let Some(a) = line.strip_prefix("podiam: listening on http://") {
                break a.trim().to_string();
            }
            eprintln!("[{name}] {line}");
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                eprintln!("[{name}] {line}");
            }
        });
        Replica {
            name,
            child: Mutex::new(Some(child)),
            dir,
            addr,
        }
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    fn admin(&self) -> Credentials {
        admin_credentials(&self.data_dir().join("admin-credentials"))
    }

    /// A signed query-protocol request; `Err` when the connection fails.
    fn try_call(
        &self,
        creds: &Credentials,
        service: &str,
        params: &[(&str, &str)],
    ) -> std::io::Result<(u16, String)> {
        Raw {
            addr: &self.addr,
            creds: creds.clone(),
            service,
            time: time::OffsetDateTime::now_utc(),
            unsigned_headers: vec![],
        }
        .try_post(&form(params))
    }

    fn call(&self, creds: &Credentials, service: &str, params: &[(&str, &str)]) -> (u16, String) {
        self.try_call(creds, service, params)
            .unwrap_or_else(|e| panic!("replica {}: {e}", self.name))
    }

    fn iam(&self, params: &[(&str, &str)]) -> (u16, String) {
        let mut p = params.to_vec();
        p.push(("Version", "2010-05-08"));
        self.call(&self.admin(), "iam", &p)
    }

    fn iam_ok(&self, params: &[(&str, &str)]) -> String {
        let (st, body) = self.iam(params);
        assert_eq!(st, 200, "replica {} {params:?}: {body}", self.name);
        body
    }

    /// Unsigned AssumeRoleWithWebIdentity.
    fn assume_web(&self, role_arn: &str, token: &str) -> (u16, String) {
        raw_unsigned(
            &self.addr,
            &form(&[
                ("Action", "AssumeRoleWithWebIdentity"),
                ("Version", "2011-06-15"),
                ("RoleArn", role_arn),
                ("RoleSessionName", "it"),
                ("WebIdentityToken", token),
            ]),
        )
    }

    /// Runs the podiam CLI against this replica as the admin.
    fn podiam(&self, args: &[&str]) -> String {
        let out = Command::new(BIN)
            .args(args)
            .env("PODIAM_ENDPOINT", format!("http://{}", self.addr))
            .env("PODIAM_DATA_DIR", self.data_dir())
            .output()
            .expect("run podiam");
        assert!(
            out.status.success(),
            "podiam {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    /// The aws CLI against this replica with `creds`.
    fn aws(&self, creds: &Credentials, args: &[&str]) -> std::process::Output {
        let mut c = Command::new("aws");
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_ENDPOINT_URL", format!("http://{}", self.addr))
            .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key);
        if let Some(t) = &creds.session_token {
            c.env("AWS_SESSION_TOKEN", t);
        }
        c.output().expect("run aws")
    }

    /// SIGKILL: no graceful shutdown.
    fn kill9(&self) {
        if let Some(mut c) = self.child.lock().expect("lock").take() {
            c.kill().expect("kill -9");
            c.wait().expect("wait");
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The replicas, then the database, torn down in that order.
struct Replicas {
    r: Vec<Replica>,
    db: TestDb,
}

impl Drop for Replicas {
    fn drop(&mut self) {
        // Kill every server before the database is dropped under them.
        self.r.clear();
    }
}

fn trust(hp: &str, sa: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{hp}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{hp}:aud"): "sts.amazonaws.com",
                format!("{hp}:sub"): format!("system:serviceaccount:default:{sa}"),
            }}
        }]
    })
    .to_string()
}

/// On replica `r`: a built-in cluster, its issuer trusted in IAM, and a
/// role `web` that default/app may assume. Returns the issuer's host/path
/// and the role's ARN.
fn irsa_role(r: &Replica, cluster: &str) -> (String, String) {
    r.podiam(&["cluster", "create", cluster]);
    let hp = format!("{}/clusters/{cluster}", r.addr);
    r.iam_ok(&[
        ("Action", "CreateOpenIDConnectProvider"),
        ("Url", &format!("http://{hp}")),
        ("ClientIDList.member.1", "sts.amazonaws.com"),
    ]);
    r.iam_ok(&[
        ("Action", "CreateRole"),
        ("RoleName", "web"),
        ("AssumeRolePolicyDocument", &trust(&hp, "app")),
    ]);
    (hp, format!("arn:aws:iam::{ACCOUNT}:role/web"))
}

/// A token of default/app minted by `r`, with more `podiam token` flags.
fn app_token(r: &Replica, cluster: &str, flags: &[&str]) -> String {
    let mut args = vec!["token", "--cluster", cluster, "--service-account", "app"];
    args.extend_from_slice(flags);
    r.podiam(&args).trim().to_string()
}

fn session_credentials(body: &str) -> Credentials {
    let f = |t: &str| xml_unescape(xml_field(body, t).unwrap_or_else(|| panic!("no {t}: {body}")));
    Credentials::new(f("AccessKeyId"), f("SecretAccessKey")).with_session_token(f("SessionToken"))
}

/// Every value of `<tag>` in every page of an IAM list call.
fn list_all(r: &Replica, params: &[(&str, &str)], tag: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut marker: Option<String> = None;
    loop {
        let mut p = params.to_vec();
        p.push(("MaxItems", "1000"));
        if let Some(m) = &marker {
            p.push(("Marker", m));
        }
        let body = r.iam_ok(&p);
        let open = format!("<{tag}>");
        for piece in body.split(&open).skip(1) {
            if let Some(v) = piece.split(&format!("</{tag}>")).next() {
                out.insert(xml_unescape(v));
            }
        }
        if xml_field(&body, "IsTruncated") == Some("true") {
            marker = Some(xml_unescape(xml_field(&body, "Marker").expect("Marker")));
        } else {
            return out;
        }
    }
}

#[test]
fn replicas_share_one_postgres_database() {
    let db = TestDb::create();
    let started = Instant::now();
    // A first (it creates the admin key), then B and C find it.
    let a = Replica::start("A", &db.url);
    let b = Replica::start("B", &db.url);
    let c = Replica::start("C", &db.url);
    let set = Replicas {
        r: vec![a, b, c],
        db,
    };
    let (a, b, c) = (&set.r[0], &set.r[1], &set.r[2]);
    // A replica with another master key (or none) refuses to start, naming
    // the key the store's secrets are encrypted under.
    let dir = tempfile::tempdir().expect("tempdir");
    for (key, says) in [
        (
            "b3RoZXItbWFzdGVyLWtleS0zMi1ieXRlcy1sb25nISE=",
            "encrypted under master key",
        ),
        ("", "master key"),
    ] {
        let mut cmd = serve(dir.path(), &set.db.url, key);
        if key.is_empty() {
            cmd.env_remove("PODIAM_MASTER_KEY");
        }
        let out = cmd.output().expect("run podiam serve");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{err}");
    }
    let admin = a.admin();
    for r in [b, c] {
        let k = r.admin();
        assert_eq!(
            (&k.access_key_id, &k.secret_access_key),
            (&admin.access_key_id, &admin.secret_access_key),
            "replica {} has its own admin key",
            r.name
        );
    }

    // --- 1. Assume on A, use the session on B and C; racing creates. ---
    let (hp, role_arn) = irsa_role(a, "irsa");
    let token = app_token(a, "irsa", &[]);
    let (st, body) = a.assume_web(&role_arn, &token);
    assert_eq!(st, 200, "AssumeRoleWithWebIdentity on A: {body}");
    let session = session_credentials(&body);
    let assumed = format!("arn:aws:sts::{ACCOUNT}:assumed-role/web/it");

    let who = |r: &Replica, creds: &Credentials| {
        r.call(
            creds,
            "sts",
            &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        )
    };
    for r in [b, c] {
        let t = Instant::now();
        let mut last = (0, String::new());
        let mut tries = 0;
        let seen = wait_for(Duration::from_secs(1), || {
            last = who(r, &session);
            tries += 1;
            if last.0 != 200 {
                eprintln!("session from A not yet accepted on {}: {last:?}", r.name);
            }
            last.0 == 200
        });
        assert!(seen, "session from A rejected on {}: {last:?}", r.name);
        assert_eq!(
            xml_field(&last.1, "Arn"),
            Some(assumed.as_str()),
            "{}",
            last.1
        );
        eprintln!(
            "session from A accepted on {} after {:?} ({tries} tries)",
            r.name,
            t.elapsed()
        );
    }
    let t = Instant::now();
    assert!(
        wait_for(Duration::from_secs(1), || list_all(
            c,
            &[("Action", "ListRoles")],
            "RoleName"
        )
        .contains("web")),
        "role created on A not listed on C within 1 s"
    );
    eprintln!("role created on A listed on C after {:?}", t.elapsed());

    // S3 objects stay on the replica that holds the bucket: another replica
    // says so (503) rather than answer NoSuchKey or delete it as empty.
    let out = a.aws(&admin, &["s3", "mb", "s3://on-a"]);
    assert!(out.status.success(), "{out:?}");
    for args in [
        &["s3", "ls", "s3://on-a"][..],
        &["s3", "rb", "s3://on-a"][..],
    ] {
        let mut out = b.aws(&admin, args);
        for _ in 0..4 {
            if !String::from_utf8_lossy(&out.stderr).contains("NoSuchBucket") {
                break;
            }
            // B has not seen the bucket record yet.
            std::thread::sleep(Duration::from_millis(250));
            out = b.aws(&admin, args);
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("ServiceUnavailable") && err.contains("another podiam replica"),
            "{args:?}: {err}"
        );
    }
    assert!(a.aws(&admin, &["s3", "ls", "s3://on-a"]).status.success());

    // Racing CreateRole of one name on two replicas: one 200, one 409.
    for i in 0..10 {
        let name = format!("race-{i}");
        let (x, y) = if i % 2 == 0 { (a, b) } else { (b, c) };
        let doc = trust(&hp, "app");
        let go = Barrier::new(2);
        let (rx, ry) = std::thread::scope(|s| {
            let create = |rep: &Replica| {
                go.wait();
                rep.iam(&[
                    ("Action", "CreateRole"),
                    ("RoleName", &name),
                    ("AssumeRolePolicyDocument", &doc),
                ])
            };
            let hx = s.spawn(move || create(x));
            let hy = s.spawn(move || create(y));
            (hx.join().expect("x"), hy.join().expect("y"))
        });
        let mut both = [rx, ry];
        both.sort_by_key(|r| r.0);
        assert_eq!(both[0].0, 200, "{name} on {}/{}: {both:?}", x.name, y.name);
        raw_fails_with(&both[1], 409, "EntityAlreadyExists");
    }

    // --- 2. A trust-policy change on B is enforced by A within 1 s. ---
    assert!(
        wait_for(Duration::from_secs(1), || b
            .iam(&[("Action", "GetRole"), ("RoleName", "web")])
            .0
            == 200),
        "role web not visible on B"
    );
    b.iam_ok(&[
        ("Action", "UpdateAssumeRolePolicy"),
        ("RoleName", "web"),
        ("PolicyDocument", &trust(&hp, "other")),
    ]);
    let updated = Instant::now();
    let denied = loop {
        let resp = a.assume_web(&role_arn, &token);
        if resp.0 != 200 {
            break resp;
        }
        assert!(
            updated.elapsed() < Duration::from_secs(2),
            "A still allows the old trust policy after 2 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let latency = updated.elapsed();
    raw_fails_with(&denied, 403, "AccessDenied");
    eprintln!("trust-policy update on B enforced on A after {latency:?}");
    assert!(
        latency < Duration::from_secs(1),
        "A enforced B's update only after {latency:?}"
    );
    // And on C, which also had the old policy cached.
    assert!(
        wait_for(Duration::from_secs(1), || c.assume_web(&role_arn, &token).0
            == 403),
        "C still allows the old trust policy"
    );

    // --- 3. SIGKILL A under load: no failed request to B or C, no lost
    // acknowledged write. Each worker cycles over A, B, C and over three
    // writes: CreatePolicy and CreateRole of fresh names, and PutRolePolicy
    // rewriting one inline policy of its own role (an update of a document
    // the other replicas wrote a moment before), each followed by a
    // GetCallerIdentity. ---
    const WORKERS: usize = 4;
    for w in 0..WORKERS {
        b.iam_ok(&[
            ("Action", "CreateRole"),
            ("RoleName", &format!("load-{w}")),
            ("AssumeRolePolicyDocument", &trust(&hp, "app")),
        ]);
    }
    for r in [a, c] {
        assert!(
            wait_for(Duration::from_secs(1), || {
                let roles = list_all(r, &[("Action", "ListRoles")], "RoleName");
                (0..WORKERS).all(|w| roles.contains(&format!("load-{w}")))
            }),
            "load roles not visible on {}",
            r.name
        );
    }
    let policy_doc = |resource: &str| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}]
        })
        .to_string()
    };
    let role_doc = trust(&hp, "app");
    let killed = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    // "replica action: failure" for every request that had to succeed.
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // Acknowledged creates (policy and role names), and per worker the
    // highest acknowledged revision of its inline policy.
    let policies: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let roles: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let revisions: Mutex<Vec<Option<usize>>> = Mutex::new(vec![None; WORKERS]);
    let acked_by = [0usize, 0, 0].map(std::sync::atomic::AtomicUsize::new);
    let (mut kill_at, mut load_secs) = (Duration::ZERO, 0.0);
    std::thread::scope(|s| {
        for w in 0..WORKERS {
            let (killed, stop, errors, acked_by, admin) =
                (&killed, &stop, &errors, &acked_by, &admin);
            let (policies, roles, revisions, policy_doc, role_doc) =
                (&policies, &roles, &revisions, &policy_doc, &role_doc);
            let replicas = &set.r;
            s.spawn(move || {
                let own_role = format!("load-{w}");
                let mut i = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    let ri = (w + i) % 3;
                    let r = &replicas[ri];
                    let name = format!("n-{w}-{i}");
                    let doc = policy_doc(&format!("arn:aws:s3:::load-w{w}-r{i}"));
                    let write: Vec<(&str, &str)> = match i % 3 {
                        0 => vec![
                            ("Action", "CreatePolicy"),
                            ("PolicyName", &name),
                            ("PolicyDocument", &doc),
                        ],
                        1 => vec![
                            ("Action", "CreateRole"),
                            ("RoleName", &name),
                            ("AssumeRolePolicyDocument", role_doc),
                        ],
                        _ => vec![
                            ("Action", "PutRolePolicy"),
                            ("RoleName", &own_role),
                            ("PolicyName", "inline"),
                            ("PolicyDocument", &doc),
                        ],
                    };
                    let mut write = write;
                    write.push(("Version", "2010-05-08"));
                    let read = [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")];
                    for (service, params) in [("iam", &write[..]), ("sts", &read[..])] {
                        let failure = match r.try_call(admin, service, params) {
                            Ok((200, _)) => None,
                            Ok((st, body)) => Some(format!("HTTP {st}: {body}")),
                            Err(e) => Some(e.to_string()),
                        };
                        match failure {
                            None if service == "iam" => {
                                acked_by[ri].fetch_add(1, Ordering::SeqCst);
                                match i % 3 {
                                    0 => {
                                        policies.lock().expect("lock").insert(name.clone());
                                    }
                                    1 => {
                                        roles.lock().expect("lock").insert(name.clone());
                                    }
                                    _ => revisions.lock().expect("lock")[w] = Some(i),
                                }
                            }
                            None => {}
                            // Replica A's requests fail once it is killed.
                            Some(_) if ri == 0 && killed.load(Ordering::SeqCst) => {}
                            Some(why) => errors
                                .lock()
                                .expect("lock")
                                .push(format!("{} {}: {why}", r.name, params[0].1)),
                        }
                    }
                    i += 1;
                }
            });
        }
        let load = Instant::now();
        std::thread::sleep(Duration::from_millis(1500));
        killed.store(true, Ordering::SeqCst);
        a.kill9();
        kill_at = load.elapsed();
        std::thread::sleep(Duration::from_millis(1000));
        stop.store(true, Ordering::SeqCst);
        load_secs = load.elapsed().as_secs_f64();
    });
    let errors = errors.into_inner().expect("lock");
    assert!(
        errors.is_empty(),
        "{} failed requests to live replicas:\n{}",
        errors.len(),
        errors.join("\n")
    );
    let policies = policies.into_inner().expect("lock");
    let roles = roles.into_inner().expect("lock");
    let revisions = revisions.into_inner().expect("lock");
    let acked: Vec<usize> = acked_by.iter().map(|n| n.load(Ordering::SeqCst)).collect();
    eprintln!(
        "load: {} writes acknowledged ({} CreatePolicy, {} CreateRole, the rest \
         PutRolePolicy) in {load_secs:.1} s, by A/B/C: {acked:?}; A killed at {kill_at:?}",
        acked.iter().sum::<usize>(),
        policies.len(),
        roles.len(),
    );
    assert!(
        acked.iter().all(|&n| n > 0),
        "a replica acknowledged nothing: {acked:?}"
    );

    let done = Instant::now();
    for r in [b, c] {
        let mut missing = Vec::new();
        let visible = wait_for(Duration::from_secs(1), || {
            let listed = list_all(
                r,
                &[("Action", "ListPolicies"), ("Scope", "Local")],
                "PolicyName",
            );
            missing = policies
                .difference(&listed)
                .map(|n| format!("policy {n}"))
                .collect();
            let listed = list_all(r, &[("Action", "ListRoles")], "RoleName");
            missing.extend(roles.difference(&listed).map(|n| format!("role {n}")));
            for (w, rev) in revisions.iter().enumerate() {
                let Some(rev) = rev else { continue };
                let body = r.iam_ok(&[
                    ("Action", "GetRolePolicy"),
                    ("RoleName", &format!("load-{w}")),
                    ("PolicyName", "inline"),
                ]);
                // A later revision may have been committed by A without
                // reaching the client; an older one means a lost write.
                let tag = format!("load-w{w}-r");
                let seen: Option<usize> = body.split_once(&tag).and_then(|(_, rest)| {
                    rest.split(|ch: char| !ch.is_ascii_digit())
                        .next()
                        .and_then(|d| d.parse().ok())
                });
                if seen.is_none_or(|seen| seen < *rev) {
                    missing.push(format!("load-{w}/inline revision {rev} (seen {seen:?})"));
                }
            }
            missing.is_empty()
        });
        assert!(
            visible,
            "{} acknowledged writes missing on {}: {missing:?}",
            missing.len(),
            r.name
        );
    }
    eprintln!(
        "every acknowledged write visible on B and C {:?} after the load; test took {:?}",
        done.elapsed(),
        started.elapsed()
    );
}

/// A loopback TCP proxy in front of the database that can go down: every
/// open connection is cut and new ones are refused (the port is closed), as
/// when PostgreSQL stops; `up` listens on the same port again.
struct DbProxy {
    addr: std::net::SocketAddr,
    target: String,
    down: std::sync::Arc<AtomicBool>,
    conns: std::sync::Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl DbProxy {
    /// Proxies to the host:port of `url`.
    fn start(url: &str) -> DbProxy {
        let authority = url
            .split_once("://")
            .map_or(url, |(_, r)| r)
            .split('/')
            .next()
            .unwrap_or_default();
        let target = authority
            .rsplit('@')
            .next()
            .unwrap_or(authority)
            .to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let p = DbProxy {
            addr: listener.local_addr().expect("addr"),
            target,
            down: Default::default(),
            conns: Default::default(),
        };
        p.serve(listener);
        p
    }

    /// `url` pointing at the proxy instead.
    fn url(&self, url: &str) -> String {
        url.replacen(&self.target, &self.addr.to_string(), 1)
    }

    fn serve(&self, listener: std::net::TcpListener) {
        let (target, down, conns) = (self.target.clone(), self.down.clone(), self.conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if down.load(Ordering::SeqCst) {
                    // Woken by `stop`: close the port.
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(upstream) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                let mut held = conns.lock().expect("lock");
                for (from, to) in [(&client, &upstream), (&upstream, &client)] {
                    let (mut from, mut to) = (
                        from.try_clone().expect("clone"),
                        to.try_clone().expect("clone"),
                    );
                    held.push(from.try_clone().expect("clone"));
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
    }

    /// Cuts every connection and closes the port.
    fn stop(&self) {
        self.down.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
        for c in self.conns.lock().expect("lock").drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Listens on the same port again.
    fn start_again(&self) {
        self.down.store(false, Ordering::SeqCst);
        let listener = std::net::TcpListener::bind(self.addr).expect("rebind proxy");
        self.serve(listener);
    }
}

#[test]
fn replicas_ride_out_a_database_outage() {
    let db = TestDb::create();
    let proxy = DbProxy::start(&db.url);
    let url = proxy.url(&db.url);
    let a = Replica::start("A", &url);
    let b = Replica::start("B", &url);
    let set = Replicas { r: vec![a, b], db };
    let (a, b) = (&set.r[0], &set.r[1]);
    let admin = a.admin();

    let (hp, role_arn) = irsa_role(a, "irsa");
    let read_bucket = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
            "Resource": ["arn:aws:s3:::outage", "arn:aws:s3:::outage/*"]}]
    })
    .to_string();
    a.iam_ok(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "web"),
        ("PolicyName", "read"),
        ("PolicyDocument", &read_bucket),
    ]);
    let object = a.dir.path().join("object.txt");
    std::fs::write(&object, "kept\n").expect("object");
    let o = object.to_str().expect("utf8");
    for args in [
        &["s3", "mb", "s3://outage"][..],
        &["s3", "cp", o, "s3://outage/a.txt"][..],
    ] {
        let out = a.aws(&admin, args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let token = app_token(a, "irsa", &[]);
    let (st, body) = a.assume_web(&role_arn, &token);
    assert_eq!(st, 200, "{body}");
    let session = session_credentials(&body);
    assert!(
        wait_for(Duration::from_secs(1), || b.assume_web(&role_arn, &token).0
            == 200),
        "B does not know the role"
    );

    // --- PostgreSQL down for 10 s: reads and authorization go on from
    // the cache while a second thread keeps trying writes. ---
    proxy.stop();
    let down = Instant::now();
    let outage = Duration::from_secs(10);
    let (mut rounds, mut refusals) = (0, Vec::new());
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut out = Vec::new();
            while down.elapsed() < outage {
                let r = [a, b][out.len() % 2];
                let t = Instant::now();
                let resp = r.iam(&[
                    ("Action", "CreateRole"),
                    ("RoleName", &format!("during-{}", out.len())),
                    ("AssumeRolePolicyDocument", &trust(&hp, "app")),
                ]);
                out.push((r.name, t.elapsed(), resp));
            }
            out
        });
        while down.elapsed() < outage {
            for r in [a, b] {
                let (st, body) = r.assume_web(&role_arn, &token);
                assert_eq!(
                    st, 200,
                    "{} AssumeRoleWithWebIdentity during outage: {body}",
                    r.name
                );
                let (st, body) = r.call(
                    &session_credentials(&body),
                    "sts",
                    &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
                );
                assert_eq!(
                    st, 200,
                    "{} GetCallerIdentity during outage: {body}",
                    r.name
                );
            }
            // S3 authorization (identity policy, session) from the cache.
            let out = a.aws(&session, &["s3", "cp", "s3://outage/a.txt", "-"]);
            assert!(out.status.success(), "s3 GET during outage: {out:?}");
            assert_eq!(String::from_utf8_lossy(&out.stdout), "kept\n");
            let out = a.aws(&session, &["s3", "cp", o, "s3://outage/b.txt"]);
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("AccessDenied"),
                "s3 PUT must stay denied during outage: {out:?}"
            );
            rounds += 1;
        }
        refusals = writer.join().expect("writer");
    });
    for (name, _, resp) in &refusals {
        let msg = raw_fails_with(resp, 503, "ServiceUnavailable");
        assert!(msg.contains("Retry"), "{name}: {msg}");
    }
    let slowest = refusals.iter().map(|r| r.1).max().unwrap_or_default();
    eprintln!(
        "outage: {rounds} rounds of reads, {} writes refused with 503 ServiceUnavailable \
         (slowest after {slowest:?}) in {:?}",
        refusals.len(),
        down.elapsed()
    );
    assert!(refusals.len() >= 2, "too few write attempts: {refusals:?}");
    assert!(
        slowest < Duration::from_secs(5),
        "a refused write took {slowest:?}"
    );

    // --- PostgreSQL back: writes work again, and replicate, by themselves. ---
    proxy.start_again();
    let back = Instant::now();
    let mut last = (0, String::new());
    assert!(
        wait_for(Duration::from_secs(10), || {
            last = b.iam(&[
                ("Action", "CreateRole"),
                ("RoleName", "after"),
                ("AssumeRolePolicyDocument", &trust(&hp, "app")),
            ]);
            last.0 == 200
        }),
        "writes did not recover: {last:?}"
    );
    eprintln!(
        "first write accepted {:?} after the database returned",
        back.elapsed()
    );
    assert!(
        wait_for(Duration::from_secs(1), || a
            .iam(&[("Action", "GetRole"), ("RoleName", "after")])
            .0
            == 200),
        "A did not catch up after the outage"
    );

    // "Revoke active sessions" on B: A refuses sessions issued before it
    // within a second; sessions issued after it work.
    b.podiam(&["role", "revoke-sessions", "web"]);
    let revoked = Instant::now();
    let get = |creds: &Credentials| a.aws(creds, &["s3", "cp", "s3://outage/a.txt", "-"]);
    let mut last = get(&session);
    while last.status.success() {
        assert!(
            revoked.elapsed() < Duration::from_secs(2),
            "A still honours a revoked session"
        );
        last = get(&session);
    }
    // `s3 cp` starts with a HEAD: a 403 without a body.
    assert!(
        String::from_utf8_lossy(&last.stderr).contains("(403)"),
        "{last:?}"
    );
    eprintln!(
        "revocation on B enforced on A after {:?}",
        revoked.elapsed()
    );
    std::thread::sleep(Duration::from_millis(1100));
    let (st, body) = a.assume_web(&role_arn, &token);
    assert_eq!(st, 200, "{body}");
    let out = get(&session_credentials(&body));
    assert!(
        out.status.success(),
        "a session issued after revocation: {out:?}"
    );

    b.iam_ok(&[
        ("Action", "UpdateAssumeRolePolicy"),
        ("RoleName", "web"),
        ("PolicyDocument", &trust(&hp, "other")),
    ]);
    assert!(
        wait_for(Duration::from_secs(1), || a.assume_web(&role_arn, &token).0
            == 403),
        "A still allows the old trust policy after recovery"
    );
    let roles = list_all(a, &[("Action", "ListRoles")], "RoleName");
    assert!(
        !roles.iter().any(|r| r.starts_with("during-")),
        "a refused write was stored: {roles:?}"
    );
}

/// The id of the key that sealed a session token (bytes 1..5).
fn sealing_key_of(token: &str) -> u32 {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .expect("base64 session token");
    u32::from_be_bytes([raw[1], raw[2], raw[3], raw[4]])
}

/// The `kid` in a JWT's header.
fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().expect("header");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url header");
    let v: serde_json::Value = serde_json::from_slice(&raw).expect("json header");
    v["kid"].as_str().expect("kid").to_string()
}

#[test]
fn signing_key_rotation_with_tokens_in_flight() {
    let db = TestDb::create();
    // Session-sealing keys rotate every 4 s meanwhile.
    let rotation = ["--sealing-key-rotation", "4s"];
    let a = Replica::start_with("A", &db.url, &rotation);
    let b = Replica::start_with("B", &db.url, &rotation);
    let set = Replicas { r: vec![a, b], db };
    let (a, b) = (&set.r[0], &set.r[1]);
    let (_, role_arn) = irsa_role(a, "rot");
    let token = |r: &Replica, seconds: &str| {
        app_token(
            r,
            "rot",
            &[
                "--token-expiration",
                seconds,
                "--insecure-short-token-lifetime",
            ],
        )
    };
    let jwks_kids = |r: &Replica| {
        let (st, body) = raw_get(&r.addr, "/clusters/rot/openid/v1/jwks");
        assert_eq!(st, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("jwks json");
        v["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_string())
            .collect::<BTreeSet<String>>()
    };

    // A token in flight, signed by the first key, expiring in 10 s.
    let old = token(a, "10");
    let old_kid = kid_of(&old);
    let minted_old = Instant::now();
    assert!(
        wait_for(Duration::from_secs(1), || b.assume_web(&role_arn, &old).0
            == 200),
        "B does not know the cluster and role"
    );

    // Rotate on B: the new key is in every replica's JWKS at once and signs
    // two seconds later.
    let rotated: serde_json::Value = serde_json::from_str(&b.podiam(&[
        "keys",
        "rotate",
        "--cluster",
        "rot",
        "--publish-delay",
        "2s",
    ]))
    .expect("json");
    let rotated_at = Instant::now();
    assert_eq!(rotated["keys"][0]["state"], "signing", "{rotated}");
    assert_eq!(rotated["keys"][1]["state"], "pending", "{rotated}");
    let new_kid = rotated["keys"][1]["kid"].as_str().expect("kid").to_string();
    assert!(
        wait_for(Duration::from_secs(1), || jwks_kids(a)
            == BTreeSet::from([old_kid.clone(), new_kid.clone()])),
        "A does not publish both keys: {:?}",
        jwks_kids(a)
    );
    // Still inside the delay: the old key signs (the last token it signs).
    let during = token(a, "10");
    let minted_during = Instant::now();
    if rotated_at.elapsed() < Duration::from_millis(1800) {
        assert_eq!(
            kid_of(&during),
            old_kid,
            "the new key signed before its delay"
        );
    }

    // After the delay A signs with the new key; old and new tokens both work
    // on both replicas.
    std::thread::sleep(Duration::from_secs(2).saturating_sub(rotated_at.elapsed()));
    let new = token(a, "600");
    assert_eq!(kid_of(&new), new_kid);
    for r in [a, b] {
        for (what, t) in [("old", &old), ("new", &new)] {
            let (st, body) = r.assume_web(&role_arn, t);
            assert_eq!(st, 200, "{what} token on {}: {body}", r.name);
        }
    }
    let listed: serde_json::Value =
        serde_json::from_str(&b.podiam(&["keys", "list", "--cluster", "rot"])).expect("json");
    assert_eq!(listed["keys"][0]["state"], "retired", "{listed}");
    // The old key stays published until its last token has expired (the
    // key records that with some slack) plus STS's leeway.
    let published_until = time::OffsetDateTime::parse(
        listed["keys"][0]["publishedUntil"]
            .as_str()
            .expect("publishedUntil"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    assert_eq!(listed["keys"][1]["state"], "signing", "{listed}");

    // Once the old key's tokens have expired (STS allows 60 s of clock
    // leeway past `exp`, and the key stays published that long) only the
    // new token is accepted and only the new key is published.
    // Meanwhile sessions sealed on A, under whichever sealing key is
    // current, open on B, and the first session keeps working throughout.
    let (st, body) = a.assume_web(&role_arn, &new);
    assert_eq!(st, 200, "{body}");
    let first_session = session_credentials(&body);
    let mut sealing_keys = BTreeSet::new();
    let mut sessions_until = |deadline: Duration, since: Instant| {
        while since.elapsed() < deadline {
            let (st, body) = a.assume_web(&role_arn, &new);
            assert_eq!(st, 200, "{body}");
            let s = session_credentials(&body);
            sealing_keys.insert(sealing_key_of(s.session_token.as_deref().expect("token")));
            for creds in [&s, &first_session] {
                let (st, body) = b.call(
                    creds,
                    "sts",
                    &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
                );
                assert_eq!(st, 200, "session from A on B: {body}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let leeway = Duration::from_secs(60);
    sessions_until(Duration::from_secs(11) + leeway, minted_old);
    for r in [a, b] {
        raw_fails_with(&r.assume_web(&role_arn, &old), 400, "ExpiredTokenException");
    }
    sessions_until(Duration::from_secs(11) + leeway, minted_during);
    let left = published_until - time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let until_unpublished = Duration::try_from(left).unwrap_or_default();
    assert!(
        until_unpublished < Duration::from_secs(30),
        "old key published until {published_until}"
    );
    sessions_until(until_unpublished, Instant::now());
    eprintln!(
        "{} session-sealing keys used over {:?}",
        sealing_keys.len(),
        minted_old.elapsed()
    );
    assert!(
        sealing_keys.len() >= 5,
        "sealing keys did not rotate: {sealing_keys:?}"
    );
    for r in [a, b] {
        // Expired (or, to a verifier that never saw it, signed by an
        // unpublished key): refused either way.
        let (st, body) = r.assume_web(&role_arn, &during);
        assert_eq!(st, 400, "old key's last token on {}: {body}", r.name);
        let (st, body) = r.assume_web(&role_arn, &new);
        assert_eq!(st, 200, "new token on {}: {body}", r.name);
        assert_eq!(
            jwks_kids(r),
            BTreeSet::from([new_kid.clone()]),
            "{}",
            r.name
        );
    }
}

/// dynoxide's own HTTP server on loopback (the DynamoDB backend replicas
/// share): the `dynoxide_server` example of `podiam-dynamodb`, which
/// `cargo test --workspace` builds. Killed on drop.
struct Dynoxide {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Dynoxide {
    fn start() -> Dynoxide {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(super::common::example("dynoxide_server"))
            .arg(dir.path().join("tables.sqlite3"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dynoxide_server");
        let stdout = child.stdout.take().expect("stdout");
        let line = BufReader::new(stdout)
            .lines()
            .next()
            .and_then(Result::ok)
            .unwrap_or_default();
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("dynoxide_server said {line:?}"))
            .to_string();
        Dynoxide {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for Dynoxide {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The carts item every replica reads.
const GET_ITEM: [&str; 6] = [
    "dynamodb",
    "get-item",
    "--table-name",
    "carts",
    "--key",
    r#"{"id":{"S":"c1:i1"}}"#,
];

/// Issue #15, "Must show": three replicas on one PostgreSQL, with S3
/// objects on a 3-node Garage cluster (replication factor 3) and DynamoDB
/// tables on one dynoxide server, act as one service. Each replica talks to
/// its own Garage node (A to 1, B to 2, C to 3), as replicas behind a store
/// load balancer would. The backends hold the data; podiam decides.
#[test]
fn replicas_share_objects_and_tables_on_backends() {
    let mut garage = super::garage::Garage::start();
    let dynamo = Dynoxide::start();
    let db = TestDb::create();
    let key_dir = tempfile::tempdir().expect("tempdir");
    let dynamo_key = key_dir.path().join("dynamodb-credentials");
    // dynoxide checks no signature; podiam signs with this key all the same.
    std::fs::write(
        &dynamo_key,
        "[default]\naws_access_key_id = AKIABACKEND000000000\naws_secret_access_key = backend-secret\n",
    )
    .expect("key file");
    let garage_key = garage.credentials_file();
    let replica = |name: &'static str, node: usize| {
        Replica::start_with(
            name,
            &db.url,
            &[
                "--dynamodb-backend",
                dynamo.url.as_str(),
                "--dynamodb-backend-credentials",
                dynamo_key.to_str().expect("path"),
                "--s3-backend",
                garage.nodes[node].s3.as_str(),
                "--s3-backend-credentials",
                garage_key.to_str().expect("path"),
                "--s3-backend-region",
                "garage",
            ],
        )
    };
    let r = Replicas {
        r: vec![replica("A", 0), replica("B", 1), replica("C", 2)],
        db,
    };
    let (a, b, c) = (&r.r[0], &r.r[1], &r.r[2]);
    let admin = a.admin();
    shared_objects(a, b, c, &admin);
    shared_tables(a, b, c, &admin, &dynamo.url);
    objects_survive_faults_under_load(&r.r, &mut garage, &admin);
    // The table backend gone: DynamoDB's 503, which the SDKs retry, and no cause leaked.
    drop(dynamo);
    let out = b.aws(
        &admin,
        &["dynamodb", "describe-table", "--table-name", "carts"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("(ServiceUnavailable)") && !err.contains("refused"),
        "{err}"
    );
}

fn aws_ok(out: std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap_or_default()
}

/// An item put on A is read (GetItem, the index Query) on B and C; a
/// resource policy set on C is enforced by A within 1 s.
fn shared_tables(a: &Replica, b: &Replica, c: &Replica, admin: &Credentials, backend: &str) {
    let ok = aws_ok;
    let create = super::common::carts_table_args("carts");
    ok(a.aws(
        admin,
        &create.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    ok(a.aws(
        admin,
        &[
            "dynamodb",
            "put-item",
            "--table-name",
            "carts",
            "--item",
            r#"{"id":{"S":"c1:i1"},"customerId":{"S":"c1"},"quantity":{"N":"2"}}"#,
        ],
    ));
    for r in [b, c] {
        let got = ok(r.aws(admin, &GET_ITEM));
        assert_eq!(
            got["Item"]["quantity"]["N"], "2",
            "replica {}: {got}",
            r.name
        );
        let q = ok(r.aws(
            admin,
            &[
                "dynamodb",
                "query",
                "--table-name",
                "carts",
                "--index-name",
                "idx_global_customerId",
                "--key-condition-expression",
                "customerId = :c",
                "--expression-attribute-values",
                r#"{":c":{"S":"c1"}}"#,
            ],
        ));
        assert_eq!(q["Count"], 1, "replica {}: {q}", r.name);
        // ARNs name this account and region, not the backend's.
        let d = ok(r.aws(
            admin,
            &["dynamodb", "describe-table", "--table-name", "carts"],
        ));
        assert_eq!(
            d["Table"]["TableArn"],
            format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/carts"),
            "{d}"
        );
    }
    // The backend's refusals come back in DynamoDB's envelope.
    let out = b.aws(
        admin,
        &[
            "dynamodb",
            "put-item",
            "--table-name",
            "carts",
            "--item",
            r#"{"id":{"S":"c1:i1"},"customerId":{"S":"c1"}}"#,
            "--condition-expression",
            "attribute_not_exists(id)",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(ConditionalCheckFailedException)"), "{err}");
    // Tags set through A are read through C, and live in podiam's store,
    // not on the backend.
    let table_arn = format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/carts");
    let tag = |r: &Replica, tags: &str| {
        r.aws(
            admin,
            &[
                "dynamodb",
                "tag-resource",
                "--resource-arn",
                &table_arn,
                "--tags",
                tags,
            ],
        )
    };
    ok(tag(a, "Key=team,Value=carts"));
    let listed = ok(c.aws(
        admin,
        &[
            "dynamodb",
            "list-tags-of-resource",
            "--resource-arn",
            &table_arn,
        ],
    ));
    assert_eq!(
        listed["Tags"],
        json!([{"Key": "team", "Value": "carts"}]),
        "{listed}"
    );
    let on_backend = Command::new("aws")
        .args([
            "dynamodb",
            "list-tags-of-resource",
            "--resource-arn",
            &table_arn,
        ])
        .args(["--endpoint-url", backend, "--region", "us-east-1"])
        .env("AWS_ACCESS_KEY_ID", "AKIABACKEND000000000")
        .env("AWS_SECRET_ACCESS_KEY", "backend-secret")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("aws");
    let on_backend = ok(on_backend);
    assert_eq!(on_backend["Tags"], json!([]), "{on_backend}");
    // botocore checks minimum lengths itself, not maximums.
    let long_key = format!("Key={},Value=x", "k".repeat(129));
    let out = tag(b, &long_key);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("(ValidationException)"),
        "{out:?}"
    );
    let out = b.aws(
        admin,
        &[
            "dynamodb",
            "untag-resource",
            "--resource-arn",
            &format!("{table_arn}-gone"),
            "--tag-keys",
            "team",
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("(ResourceNotFoundException)"),
        "{out:?}"
    );
    // A resource policy set through C denies GetItem to everyone; A enforces it.
    let deny = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
        "Principal": "*", "Action": "dynamodb:GetItem",
        "Resource": format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/carts")}]});
    ok(c.aws(
        admin,
        &[
            "dynamodb",
            "put-resource-policy",
            "--resource-arn",
            &format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/carts"),
            "--policy",
            &deny.to_string(),
        ],
    ));
    let started = Instant::now();
    let denied = wait_for(Duration::from_secs(1), || {
        let out = a.aws(admin, &GET_ITEM);
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("AccessDeniedException")
    });
    assert!(
        denied,
        "A still allows GetItem {:?} after C set the policy",
        started.elapsed()
    );
}

/// A 20 MiB multipart upload and a small object through A are read, byte
/// for byte, through B and C, and listed on C; a bucket policy set on B is
/// enforced by A within 1 s.
fn shared_objects(a: &Replica, b: &Replica, c: &Replica, admin: &Credentials) {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big");
    let small = dir.path().join("small");
    std::fs::write(&big, object_bytes("big", 20 << 20)).expect("big");
    std::fs::write(&small, b"hello from A\n").expect("small");
    aws_ok(a.aws(admin, &["s3api", "create-bucket", "--bucket", "shared"]));
    // `aws s3 cp` uploads anything over 8 MiB in parts.
    for (file, key) in [(&big, "s3://shared/big"), (&small, "s3://shared/small")] {
        aws_ok(a.aws(
            admin,
            &[
                "s3",
                "cp",
                "--only-show-errors",
                file.to_str().expect("path"),
                key,
            ],
        ));
    }
    let head = aws_ok(a.aws(
        admin,
        &["s3api", "head-object", "--bucket", "shared", "--key", "big"],
    ));
    assert!(
        head["ETag"].as_str().unwrap_or("").ends_with("-3\""),
        "not a 3-part upload: {head}"
    );
    let get = |r: &Replica, key: &str, to: &str| {
        r.aws(
            admin,
            &[
                "s3api",
                "get-object",
                "--bucket",
                "shared",
                "--key",
                key,
                to,
            ],
        )
    };
    for r in [b, c] {
        for (file, key) in [(&big, "big"), (&small, "small")] {
            let got = dir.path().join(format!("{}-{key}", r.name));
            aws_ok(get(r, key, got.to_str().expect("path")));
            assert!(
                std::fs::read(&got).expect("read") == std::fs::read(file).expect("read"),
                "replica {} returned other bytes for {key}",
                r.name
            );
        }
    }
    let listed = aws_ok(c.aws(admin, &["s3api", "list-objects-v2", "--bucket", "shared"]));
    let keys: Vec<&str> = listed["Contents"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["Key"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(keys, ["big", "small"], "{listed}");
    let deny = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
        "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::shared/small"}]});
    aws_ok(b.aws(
        admin,
        &[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            "shared",
            "--policy",
            &deny.to_string(),
        ],
    ));
    let started = Instant::now();
    let denied = wait_for(Duration::from_secs(1), || {
        let out = get(a, "small", "/dev/null");
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("(AccessDenied)")
    });
    assert!(
        denied,
        "A still allows GetObject {:?} after B set the bucket policy",
        started.elapsed()
    );
}

/// Deterministic content of `len` bytes for `key`.
fn object_bytes(key: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block = podiam_sigv4::sha256(key.as_bytes());
    while out.len() < len {
        out.extend_from_slice(&block);
        block = podiam_sigv4::sha256(&block);
    }
    out.truncate(len);
    out
}

fn sdk_s3(addr: &str, creds: &Credentials) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(format!("http://{addr}"))
        .force_path_style(true)
        // The SDK's own retries: what "no errors" allows.
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::standard())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.clone(),
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A steady PUT/GET load over the replicas (aws-sdk-rust, standard
/// retries), then `kill -9` of Garage node 1 and of replica A: B and C
/// answer every request, and every acknowledged PUT reads back byte for
/// byte afterwards.
fn objects_survive_faults_under_load(
    replicas: &[Replica],
    garage: &mut super::garage::Garage,
    admin: &Credentials,
) {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let clients: Arc<Vec<aws_sdk_s3::Client>> =
        Arc::new(replicas.iter().map(|r| sdk_s3(&r.addr, admin)).collect());
    aws_ok(replicas[1].aws(admin, &["s3api", "create-bucket", "--bucket", "load"]));
    // Garage spreads a new bucket's name to its nodes in the background.
    for (r, client) in clients.iter().enumerate() {
        let ready = wait_for(Duration::from_secs(10), || {
            rt.block_on(
                client
                    .put_object()
                    .bucket("load")
                    .key("probe")
                    .body(b"p".to_vec().into())
                    .send(),
            )
            .is_ok()
        });
        assert!(ready, "bucket load never reached replica {r}'s Garage node");
    }
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    // (replica, phase, what) of every request that failed after the SDK's retries.
    let failures: Arc<Mutex<Vec<(usize, usize, String)>>> = Arc::default();
    let phase = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let (clients, acked, failures, phase, stop) = (
                clients.clone(),
                acked.clone(),
                failures.clone(),
                phase.clone(),
                stop.clone(),
            );
            rt.spawn(async move {
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let r = (w + i) % 3;
                    let key = format!("w{w}/{i}");
                    let body = object_bytes(&key, 1024 + (i * 7919) % (96 << 10));
                    // A failure counts in the phase it ends in.
                    let at = || phase.load(Ordering::Relaxed);
                    match clients[r]
                        .put_object()
                        .bucket("load")
                        .key(&key)
                        .body(body.into())
                        .send()
                        .await
                    {
                        Ok(_) => acked.lock().expect("lock").push(key),
                        Err(e) => failures.lock().expect("lock").push((
                            r,
                            at(),
                            format!("PUT {key}: {:?}", aws_sdk_s3::error::DisplayErrorContext(e)),
                        )),
                    }
                    let earlier = {
                        let a = acked.lock().expect("lock");
                        a.get((i * 31 + w) % a.len().max(1)).cloned()
                    };
                    if let Some(k) = earlier {
                        let got = clients[r].get_object().bucket("load").key(&k).send().await;
                        match got {
                            Ok(o) => {
                                let bytes = o.body.collect().await.map(|b| b.into_bytes());
                                let want =
                                    object_bytes(&k, 1024 + (k_index(&k) * 7919) % (96 << 10));
                                match bytes {
                                    Ok(b) => assert!(
                                        b[..] == want[..],
                                        "GET {k} on replica {r}: other bytes"
                                    ),
                                    Err(e) => failures.lock().expect("lock").push((
                                        r,
                                        at(),
                                        format!("GET {k} body: {e}"),
                                    )),
                                }
                            }
                            Err(e) => failures.lock().expect("lock").push((
                                r,
                                at(),
                                format!("GET {k}: {:?}", aws_sdk_s3::error::DisplayErrorContext(e)),
                            )),
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    phase.store(1, Ordering::Relaxed);
    garage.kill9(0);
    std::thread::sleep(Duration::from_secs(3));
    phase.store(2, Ordering::Relaxed);
    replicas[0].kill9();
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        rt.block_on(w).expect("load worker");
    }
    let failures = failures.lock().expect("lock").clone();
    let acked = acked.lock().expect("lock").clone();
    // A fails only once its own Garage node, then itself, is gone.
    let bad: Vec<_> = failures
        .iter()
        .filter(|(r, at, _)| *r != 0 || *at == 0)
        .collect();
    assert!(
        bad.is_empty(),
        "{} failed requests beyond the SDK's retries (of {} acknowledged PUTs): {:#?}",
        bad.len(),
        acked.len(),
        &bad[..bad.len().min(10)]
    );
    assert!(acked.len() > 100, "too little load: {} PUTs", acked.len());
    // Every acknowledged PUT, read through B and C after the faults.
    rt.block_on(async {
        for (n, k) in acked.iter().enumerate() {
            let r = 1 + n % 2;
            let o = clients[r]
                .get_object()
                .bucket("load")
                .key(k)
                .send()
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "acknowledged {k} lost (replica {r}): {:?}",
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    )
                });
            let b = o.body.collect().await.expect("body").into_bytes();
            let want = object_bytes(k, 1024 + (k_index(k) * 7919) % (96 << 10));
            assert!(b[..] == want[..], "acknowledged {k}: other bytes");
        }
    });
    eprintln!(
        "faults under load: {} acknowledged PUTs, {} failures on A after its faults, none on B or C",
        acked.len(),
        failures.len()
    );
}

/// The request number in a load key (`w3/17` → 17).
fn k_index(key: &str) -> usize {
    key.rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
