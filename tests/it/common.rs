//! A podiam server per test, plus helpers to drive it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use podiam_oidc::{Algorithm, SigningKey};
use podiam_sigv4::Credentials;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const ACCOUNT: &str = "000000000000";
pub const BIN: &str = env!("CARGO_BIN_EXE_podiam");

/// A running `podiam serve`.
pub struct Server {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn spawn_serve(data_dir: &Path, listen: &str, env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(data_dir)
        .env("PODIAM_LOG", "warn,podiam::audit=info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn podiam serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .expect("read stderr");
        if let Some(a) = line.strip_prefix("podiam: listening on http://") {
            break a.trim().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

impl Server {
    pub fn start() -> Server {
        Server::start_with_env(&[])
    }

    /// Starts `podiam serve` with these `PODIAM_*` settings in its environment.
    pub fn start_with_env(env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let (child, addr) = spawn_serve(&dir.path().join("data"), "127.0.0.1:0", env);
        Server {
            child: Some(child),
            endpoint: format!("http://{addr}"),
            addr,
            dir,
        }
    }

    /// Kills the server with SIGKILL (no graceful shutdown).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill -9");
            c.wait().expect("wait");
        }
    }

    /// Starts the server again on the same data directory and address.
    pub fn restart(&mut self) {
        let (child, addr) = spawn_serve(&self.data_dir(), &self.addr, &[]);
        assert_eq!(addr, self.addr);
        self.child = Some(child);
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn home(&self) -> PathBuf {
        let h = self.dir.path().join("home");
        std::fs::create_dir_all(&h).expect("home");
        h
    }

    pub fn issuer(&self, cluster: &str) -> String {
        format!("{}/clusters/{cluster}", self.endpoint)
    }

    pub fn issuer_host_path(&self, cluster: &str) -> String {
        format!("{}/clusters/{cluster}", self.addr)
    }

    /// Runs the podiam CLI against this server.
    pub fn podiam(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("PODIAM_ENDPOINT", &self.endpoint)
            .env("PODIAM_DATA_DIR", self.data_dir())
            .output()
            .expect("run podiam")
    }

    /// `program` as a pod runs it: a clean environment with `PATH`, a
    /// private `HOME`, no AWS config or credentials files, region
    /// us-east-1, no instance metadata, and this server as the endpoint.
    /// The caller adds the credential variables.
    pub fn pod_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &self.endpoint);
        c
    }

    /// Runs the aws CLI as the admin.
    pub fn aws(&self, args: &[&str]) -> Output {
        Command::new("aws")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.data_dir().join("admin-credentials"),
            )
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .output()
            .expect("run aws (install awscli)")
    }

    /// Runs the aws CLI as a pod would: only the web identity variables and the endpoint.
    pub fn aws_as_pod(&self, role_arn: &str, token: &str, args: &[&str]) -> Output {
        let token_file = self.dir.path().join(format!("token-{}", rand_suffix()));
        std::fs::write(&token_file, format!("{token}\n")).expect("token file");
        let home = self.dir.path().join(format!("podhome-{}", rand_suffix()));
        Command::new("aws")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ROLE_ARN", role_arn)
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .output()
            .expect("run aws")
    }

    /// Runs the aws CLI with explicit credentials in the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
    pub fn aws_with_creds(&self, creds: &Credentials, args: &[&str]) -> Output {
        let mut c = Command::new("aws");
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key);
        if let Some(t) = &creds.session_token {
            c.env("AWS_SESSION_TOKEN", t);
        }
        c.output().expect("run aws")
    }

    /// The admin's long-term key.
    pub fn admin(&self) -> Credentials {
        super::raw::admin_credentials(&self.data_dir().join("admin-credentials"))
    }

    /// A query-protocol request signed by the admin for `service`
    /// (`iam` or `sts`); `params` are form-encoded here. Returns
    /// (HTTP status, body).
    pub fn raw_admin(&self, service: &str, params: &[(&str, &str)]) -> (u16, String) {
        self.raw_as(&self.admin(), service, params)
    }

    /// Like [`Server::raw_admin`] with any credentials.
    pub fn raw_as(
        &self,
        creds: &Credentials,
        service: &str,
        params: &[(&str, &str)],
    ) -> (u16, String) {
        super::raw::Raw {
            addr: &self.addr,
            creds: creds.clone(),
            service,
            time: time::OffsetDateTime::now_utc(),
            unsigned_headers: vec![],
        }
        .post(&form(params))
    }

    /// Writes `v` to a file in the test directory; returns `file://PATH`
    /// for the aws CLI.
    pub fn json_file(&self, name: &str, v: &Value) -> String {
        let f = self
            .dir
            .path()
            .join(format!("{name}-{}.json", rand_suffix()));
        std::fs::write(&f, v.to_string()).expect("write json");
        format!("file://{}", f.display())
    }

    /// Mints a token for `cluster` through `podiam token`.
    pub fn token(&self, cluster: &str, ns: &str, sa: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "token",
            "--cluster",
            cluster,
            "--namespace",
            ns,
            "--service-account",
            sa,
        ];
        args.extend_from_slice(extra);
        let out = self.podiam(&args);
        assert!(
            out.status.success(),
            "podiam token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_string()
    }

    /// Creates a cluster, its OIDC provider, and the seed's role with the
    /// seed's trust policy for `ns:sa`. Returns the role ARN.
    pub fn setup_irsa(&self, cluster: &str, role: &str, ns: &str, sa: &str) -> String {
        ok(&self.podiam(&["cluster", "create", cluster]));
        ok(&self.aws(&[
            "iam",
            "create-open-id-connect-provider",
            "--url",
            &self.issuer(cluster),
            "--client-id-list",
            "sts.amazonaws.com",
        ]));
        let hp = self.issuer_host_path(cluster);
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{hp}")},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    format!("{hp}:aud"): "sts.amazonaws.com",
                    format!("{hp}:sub"): format!("system:serviceaccount:{ns}:{sa}"),
                }}
            }]
        });
        let f = self.dir.path().join(format!("trust-{role}.json"));
        std::fs::write(&f, trust.to_string()).expect("write trust");
        let out = self.aws(&[
            "iam",
            "create-role",
            "--role-name",
            role,
            "--assume-role-policy-document",
            &format!("file://{}", f.display()),
        ]);
        ok(&out);
        format!("arn:aws:iam::{ACCOUNT}:role/{role}")
    }

    /// `podiam sa create` in `cluster`, with `KEY=VALUE` annotations.
    pub fn create_sa(&self, cluster: &str, ns: &str, name: &str, annotations: &[&str]) {
        let mut args = vec!["sa", "create", "--cluster", cluster, "-n", ns, name];
        for a in annotations {
            args.extend(["--annotation", a]);
        }
        ok(&self.podiam(&args));
    }

    /// `aws eks create-pod-identity-association` for `ns/sa` in `cluster`
    /// with `role_arn`, plus `extra` arguments; returns the association.
    pub fn associate(
        &self,
        cluster: &str,
        ns: &str,
        sa: &str,
        role_arn: &str,
        extra: &[&str],
    ) -> Value {
        let mut args = vec![
            "eks",
            "create-pod-identity-association",
            "--cluster-name",
            cluster,
            "--namespace",
            ns,
            "--service-account",
            sa,
            "--role-arn",
            role_arn,
        ];
        args.extend_from_slice(extra);
        json_out(&self.aws(&args))["association"].clone()
    }

    /// Attaches managed policy `policy_arn` to role `role`.
    pub fn attach_role_policy(&self, role: &str, policy_arn: &str) {
        ok(&self.aws(&[
            "iam",
            "attach-role-policy",
            "--role-name",
            role,
            "--policy-arn",
            policy_arn,
        ]));
    }

    /// Registers an external cluster whose JWKS holds `key`'s public key.
    pub fn register_external(&self, cluster: &str, issuer: &str, keys: &[&SigningKey]) {
        let jwks = podiam_oidc::jwks_document(keys.iter().map(|k| k.jwk()));
        let f = self.dir.path().join(format!("jwks-{cluster}.json"));
        std::fs::write(&f, jwks).expect("jwks");
        ok(&self.podiam(&[
            "cluster",
            "register",
            cluster,
            "--issuer",
            issuer,
            "--jwks-file",
            f.to_str().expect("path"),
        ]));
        ok(&self.aws(&[
            "iam",
            "create-open-id-connect-provider",
            "--url",
            issuer,
            "--client-id-list",
            "sts.amazonaws.com",
        ]));
    }
}

fn rand_suffix() -> String {
    let u = podiam_oidc::random_uuid_bytes().unwrap_or([7; 16]);
    u[..8].iter().map(|x| format!("{x:02x}")).collect()
}

/// Form-encodes query-protocol parameters (RFC 3986 unreserved kept).
pub fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of the first `<tag>…</tag>` in `xml`, as sent (still escaped).
pub fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    xml.split(&format!("<{tag}>"))
        .nth(1)
        .and_then(|x| x.split(&format!("</{tag}>")).next())
}

/// Undoes XML's five predefined entity escapes.
pub fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Asserts a raw response is an AWS error with `status` and `code`; returns
/// the message.
pub fn raw_fails_with(resp: &(u16, String), status: u16, code: &str) -> String {
    let (st, body) = resp;
    assert_eq!(
        (*st, xml_field(body, "Code").unwrap_or("")),
        (status, code),
        "{body}"
    );
    assert!(body.starts_with("<ErrorResponse"), "{body}");
    xml_unescape(xml_field(body, "Message").unwrap_or(""))
}

/// Parses the aws CLI's JSON output.
pub fn json_out(out: &Output) -> Value {
    let text = ok(out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The `Credentials` of an AssumeRole* response printed by the aws CLI.
pub fn creds_of(v: &Value) -> Credentials {
    let c = &v["Credentials"];
    let s = |k: &str| c[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}"));
    Credentials::new(s("AccessKeyId"), s("SecretAccessKey")).with_session_token(s("SessionToken"))
}

/// Asserts a command succeeded; returns stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\nstdout: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts a command failed with AWS error `code`; returns stderr.
pub fn fails_with(out: &Output, code: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected {code}, but it succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        err.contains(&format!("({code})")),
        "expected ({code}), got: {err}"
    );
    err
}

/// The built example `name` (cargo test builds the examples).
pub fn example(name: &str) -> PathBuf {
    let p = std::env::current_exe()
        .expect("test binary")
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("examples")
        .join(name);
    assert!(p.exists(), "build examples first: {}", p.display());
    p
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// kube-apiserver-shaped claims for `ns:sa`.
pub fn claims(iss: &str, ns: &str, sa: &str, aud: &str, iat: i64, exp: i64) -> Value {
    json!({
        "aud": [aud], "exp": exp, "iat": iat, "iss": iss, "nbf": iat,
        "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": sa, "uid": "5f0c2d3e-0000-4000-8000-000000000001"}},
        "sub": format!("system:serviceaccount:{ns}:{sa}"),
    })
}

/// Signs `claims` with `key`.
pub fn sign(key: &SigningKey, claims: &Value) -> String {
    key.sign_jws(claims).expect("sign")
}

/// An unsigned (`alg: none`) token.
pub fn unsigned_token(claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{h}.{p}.")
}

/// An HS256 token whose HMAC key is `secret` (the classic key-confusion attack
/// uses the issuer's public key bytes).
pub fn hs256_token(claims: &Value, secret: &[u8], kid: &str) -> String {
    let h = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#));
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let sig = aws_lc_rs::hmac::sign(&key, format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

pub fn new_key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg).expect("keygen")
}

/// Waits until `f` is true or `timeout` passes.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A running `podiam agent`; killed on drop.
pub struct AgentProc {
    child: Child,
    /// `http://ADDR/v1/credentials`.
    pub creds_url: String,
    /// The IMDS endpoint, with `--node-role`.
    pub imds_url: Option<String>,
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn spawn_agent(s: &Server, cluster: &str, node_role: Option<&str>) -> AgentProc {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "agent",
        "--listen",
        "127.0.0.1:0",
        "--cluster-name",
        cluster,
    ])
    .env("PODIAM_ENDPOINT", &s.endpoint)
    .env("PODIAM_DATA_DIR", s.data_dir())
    .env("PODIAM_LOG", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Some(r) = node_role {
        cmd.args(["--node-role", r, "--imds-listen", "127.0.0.1:0"]);
    }
    let mut child = cmd.spawn().expect("spawn agent");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let (mut creds_url, mut imds_url) = (None, None);
    while creds_url.is_none() || (node_role.is_some() && imds_url.is_none()) {
        let line = lines.next().expect("agent exited").expect("read");
        if let Some(a) = line.strip_prefix("podiam agent: listening on ") {
            creds_url = Some(format!("{}/v1/credentials", a.trim()));
        } else if let Some(a) = line.strip_prefix("podiam agent: imds on ") {
            imds_url = Some(a.trim().to_string());
        }
    }
    std::thread::spawn(move || for _ in lines {});
    AgentProc {
        child,
        creds_url: creds_url.unwrap_or_default(),
        imds_url,
    }
}

/// `aws dynamodb create-table` of a table keyed by `id` (S), on demand,
/// with `more_attributes` defined.
fn id_table_args(table: &str, more_attributes: &[&str]) -> Vec<String> {
    let mut args = vec![
        "dynamodb",
        "create-table",
        "--table-name",
        table,
        "--attribute-definitions",
        "AttributeName=id,AttributeType=S",
    ];
    args.extend_from_slice(more_attributes);
    args.extend([
        "--key-schema",
        "AttributeName=id,KeyType=HASH",
        "--billing-mode",
        "PAY_PER_REQUEST",
    ]);
    args.into_iter().map(String::from).collect()
}

/// `aws dynamodb create-table` of seed 002's carts table: partition key
/// `id`, GSI `idx_global_customerId` on `customerId`, on demand.
pub fn carts_table_args(table: &str) -> Vec<String> {
    let mut args = id_table_args(table, &["AttributeName=customerId,AttributeType=S"]);
    args.push("--global-secondary-indexes".into());
    args.push(
        json!([{"IndexName": "idx_global_customerId",
                "KeySchema": [{"AttributeName": "customerId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}}])
        .to_string(),
    );
    args
}

/// `aws eks describe-pod-identity-association` of `id` in cluster `demo`.
pub fn describe_association(id: &str) -> [&str; 6] {
    [
        "eks",
        "describe-pod-identity-association",
        "--cluster-name",
        "demo",
        "--association-id",
        id,
    ]
}

/// A table keyed by `id` (S), on demand, with `extra` create-table
/// arguments; the CLI's answer.
pub fn create_id_table(s: &Server, table: &str, extra: &[&str]) -> Value {
    let mut args = id_table_args(table, &[]);
    args.extend(extra.iter().map(|a| a.to_string()));
    json_out(&s.aws(&args.iter().map(String::as_str).collect::<Vec<_>>()))
}

/// Seed 002's carts table, named `table`: partition key `id` (S), and the
/// GSI `idx_global_customerId` on `customerId` (S), projection ALL.
pub fn create_carts_table(s: &Server, table: &str) {
    let args = carts_table_args(table);
    ok(&s.aws(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    ok(&s.aws(&["dynamodb", "wait", "table-exists", "--table-name", table]));
}
