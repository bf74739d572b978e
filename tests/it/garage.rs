//! A Garage cluster on loopback for the S3 backend tests: three nodes,
//! replication factor 3, one key allowed to create buckets. Garage is a
//! separate binary (AGPL, never linked): `PODIAM_TEST_GARAGE`, else
//! `garage` on PATH or in ~/.cargo/bin (`bash .ci/run` installs it).

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// One `garage server`; killed on drop.
pub struct Node {
    child: Option<Child>,
    config: PathBuf,
    rpc: u16,
    /// `http://127.0.0.1:PORT` of its S3 API.
    pub s3: String,
}

/// The cluster and the key podiam signs with.
pub struct Garage {
    pub nodes: Vec<Node>,
    pub key_id: String,
    pub secret: String,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

fn garage_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PODIAM_TEST_GARAGE") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("garage"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    on_path
        .into_iter()
        .chain(cargo_home.map(|c| c.join("bin/garage")))
        .find(|p| p.is_file())
        .expect(
            "garage is not installed: these tests need it (bash .ci/run installs it with \
             `cargo install --locked garage`; or set PODIAM_TEST_GARAGE)",
        )
}

/// `n` distinct free ports: each listener is held until all are chosen, so
/// the kernel cannot hand one out twice.
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

fn hex32(seed: u64) -> String {
    podiam_sigv4::sha256_hex(format!("podiam garage test {seed}").as_bytes())
}

impl Garage {
    /// Starts three nodes, joins them, assigns the layout and creates the key.
    /// A start that fails (another process took a port between its choice
    /// and Garage's bind) is retried on new ports.
    pub fn start() -> Garage {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Garage::try_start() {
                Ok(g) => return g,
                Err(e) => failures.push(e),
            }
        }
        panic!("garage did not start: {failures:#?}");
    }

    fn try_start() -> Result<Garage, String> {
        let bin = garage_bin();
        let dir = tempfile::tempdir().expect("tempdir");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos() as u64;
        let secret = hex32(nanos);
        let mut nodes = Vec::new();
        let ports = free_ports(9);
        for (i, p) in (1..=3).zip(ports.chunks(3)) {
            let home = dir.path().join(format!("n{i}"));
            std::fs::create_dir_all(&home).expect("node dir");
            let (rpc, s3, admin) = (p[0], p[1], p[2]);
            let config = home.join("garage.toml");
            std::fs::write(
                &config,
                format!(
                    r#"metadata_dir = "{home}/meta"
data_dir = "{home}/data"
db_engine = "sqlite"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{secret}"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{s3}"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:{admin}"
admin_token = "{admin_token}"
"#,
                    home = home.display(),
                    admin_token = hex32(nanos + 1),
                ),
            )
            .expect("garage.toml");
            let log = std::fs::File::create(home.join("log")).expect("log");
            let child = Command::new(&bin)
                .arg("-c")
                .arg(&config)
                .arg("server")
                .env("RUST_LOG", "garage=warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start garage");
            nodes.push(Node {
                child: Some(child),
                config,
                rpc,
                s3: format!("http://127.0.0.1:{s3}"),
            });
        }
        let mut g = Garage {
            nodes,
            key_id: String::new(),
            secret: String::new(),
            bin,
            dir,
        };
        // Up once its RPC and S3 ports accept connections.
        for (i, n) in g.nodes.iter().enumerate() {
            let s3_port = n.s3.rsplit(':').next().unwrap_or_default();
            let deadline = Instant::now() + Duration::from_secs(30);
            while [n.rpc.to_string(), s3_port.to_string()]
                .iter()
                .any(|p| std::net::TcpStream::connect(format!("127.0.0.1:{p}")).is_err())
            {
                if Instant::now() > deadline {
                    return Err(format!("garage node {i} never listened: {}", g.log(i)));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(g.ok(i, &["node", "id", "-q"])?.trim().to_string());
        }
        for id in &ids[1..] {
            g.ok(0, &["node", "connect", id])?;
        }
        for (i, id) in ids.iter().enumerate() {
            let short = &id[..16];
            g.ok(
                0,
                &[
                    "layout",
                    "assign",
                    "-z",
                    &format!("dc{i}"),
                    "-c",
                    "1G",
                    short,
                ],
            )?;
        }
        g.ok(0, &["layout", "apply", "--version", "1"])?;
        g.ok(0, &["key", "create", "podiam"])?;
        g.ok(0, &["key", "allow", "--create-bucket", "podiam"])?;
        let info = g.ok(0, &["key", "info", "podiam", "--show-secret"])?;
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
                .ok_or_else(|| format!("no {name} in {info}"))
        };
        g.key_id = field("Key ID:")?;
        g.secret = field("Secret key:")?;
        Ok(g)
    }

    fn cli(&self, node: usize, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("-c")
            .arg(&self.nodes[node].config)
            .args(args)
            .output()
            .expect("garage cli")
    }

    fn ok(&self, node: usize, args: &[&str]) -> Result<String, String> {
        let out = self.cli(node, args);
        if !out.status.success() {
            return Err(format!(
                "garage {args:?}: {}{}",
                String::from_utf8_lossy(&out.stderr),
                self.log(node)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn log(&self, node: usize) -> String {
        std::fs::read_to_string(self.nodes[node].config.with_file_name("log")).unwrap_or_default()
    }

    /// An aws shared-credentials file with the cluster's key.
    pub fn credentials_file(&self) -> PathBuf {
        let path = self.dir.path().join("backend-credentials");
        std::fs::write(
            &path,
            format!(
                "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                self.key_id, self.secret
            ),
        )
        .expect("credentials file");
        path
    }

    /// SIGKILL of node `i`.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill9(i);
        }
    }
}
