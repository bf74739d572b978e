//! The README's walkthroughs, run as written: every ```sh block from "Set up"
//! to "Architecture" (but the first, which builds and starts the server this
//! test starts itself), in one shell, in a fresh directory, with the aws CLI.
//!
//! The only edits: the server's and the agent's addresses (tests bind
//! `127.0.0.1:0`), and a wait for the agent to listen before it is used.
//! Commands whose failure is the point (the denials the walkthroughs
//! demonstrate) must fail, in order; every other command must succeed.

use super::common::*;
use std::path::Path;
use std::process::Command;

const README: &str = include_str!("../../README.md");

/// What must fail, in order: each entry is a piece of the failing command.
const EXPECTED_FAILURES: &[&str] = &[
    // "Now break it on purpose and ask why": explain exits non-zero on a denial.
    "podiam explain assume",
    // The workshop's failure: the table-only policy denies the index Query.
    "aws dynamodb query",
    // LeadingKeys: another namespace's partition.
    r#"{"tenant":{"S":"orders"}"#,
];

/// The README's shell blocks between `## Set up` and `## Architecture`,
/// without the first (build and serve).
fn walkthrough_blocks() -> Vec<String> {
    let start = README.find("\n## Set up").expect("a Set up section");
    let end = README
        .find("\n## Architecture")
        .expect("an Architecture section");
    let mut blocks = Vec::new();
    let mut rest = &README[start..end];
    while let Some(i) = rest.find("```sh\n") {
        let body = &rest[i + 6..];
        let j = body.find("\n```").expect("a closed block");
        blocks.push(body[..j].to_string());
        rest = &body[j + 4..];
    }
    assert!(
        blocks[0].contains("cargo run --release -- serve"),
        "{}",
        blocks[0]
    );
    blocks.remove(0);
    blocks
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs the walkthroughs against a fresh server with `aws` (an aws CLI
/// binary), and checks what failed and what was printed.
fn run_readme(aws: &Path) {
    let s = Server::start();
    let work = s.dir.path().join("walkthrough");
    let bin = s.dir.path().join("bin");
    std::fs::create_dir_all(work.join("target/release")).expect("work dir");
    std::fs::create_dir_all(&bin).expect("bin dir");
    std::os::unix::fs::symlink(BIN, work.join("target/release/podiam")).expect("podiam");
    std::os::unix::fs::symlink(s.data_dir(), work.join("podiam-data")).expect("data dir");
    std::os::unix::fs::symlink(aws, bin.join("aws")).expect("aws");

    let agent = format!("127.0.0.1:{}", free_port());
    let mut script = String::from(
        "shopt -s expand_aliases\nset -o errtrace\n\
         trap 'printf \"%s\\n\" \"$BASH_COMMAND\" >> \"$README_FAILED\"' ERR\n",
    );
    for block in walkthrough_blocks() {
        for line in block.lines() {
            script.push_str(line);
            script.push('\n');
            if line.starts_with("podiam agent --listen") {
                script.push_str(&format!(
                    "until curl -sf http://{agent}/healthz >/dev/null; do sleep 0.1; done\n"
                ));
            }
        }
    }
    let script = script
        .replace("127.0.0.1:4599", &s.addr)
        .replace("127.0.0.1:2703", &agent);
    let failed = s.dir.path().join("failed");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(&work)
        .env_clear()
        .env("PATH", path)
        .env("HOME", s.home())
        .env("PODIAM_ENDPOINT", &s.endpoint)
        .env("README_FAILED", &failed)
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    let failures: Vec<String> = std::fs::read_to_string(&failed)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let as_expected = failures.len() == EXPECTED_FAILURES.len()
        && failures
            .iter()
            .zip(EXPECTED_FAILURES)
            .all(|(got, want)| got.contains(want));
    assert!(
        as_expected,
        "failed commands {failures:#?}, expected {EXPECTED_FAILURES:#?}\n{log}"
    );
    for shown in [
        // IRSA: who the pod is, and the bucket it lists.
        "assumed-role/pod-access-s3-role/podiam-run-",
        "my-bucket-dummy-eks",
        // explain names the check that decided.
        "✗ trust",
        // Pod Identity, through podiam run and through the agent.
        "assumed-role/eks-workshop-carts-dynamo-pia/eks-demo-",
        // The denied index Query names the index ARN.
        "on resource: arn:aws:dynamodb:us-east-1:000000000000:table/eks-workshop-carts/index/idx_global_customerId",
        // IRSA's get-item reads what Pod Identity's put-item wrote.
        "c1:i1",
        // iamserviceaccount made its role.
        "podiam-demo-default-s3-reader",
        // simulate-custom-policy: one allowed, one not.
        "\"EvalDecision\": \"allowed\"",
        "\"EvalDecision\": \"implicitDeny\"",
    ] {
        assert!(log.contains(shown), "missing {shown:?}\n{log}");
    }
}

/// The aws CLI v1, the one `.ci/run` installs with pip.
#[test]
fn readme_walkthroughs_with_aws_cli_v1() {
    let aws = which("aws");
    let version = aws_version(&aws);
    assert!(version.starts_with("aws-cli/1."), "{version}");
    run_readme(&aws);
}

/// The aws CLI v2 at `PODIAM_TEST_AWS_V2`: it must be 2.15 or newer (the first
/// with `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, which Pod Identity needs;
/// `AWS_ENDPOINT_URL` came in 2.13). `.ci/run` runs this with the one
/// `scripts/awscli-v2.sh` finds or installs.
#[test]
#[ignore = "needs the aws CLI v2 >= 2.15 at PODIAM_TEST_AWS_V2 (.ci/run runs it: scripts/awscli-v2.sh)"]
fn readme_walkthroughs_with_aws_cli_v2() {
    let aws = std::path::PathBuf::from(
        std::env::var("PODIAM_TEST_AWS_V2").expect("PODIAM_TEST_AWS_V2: the aws CLI v2"),
    );
    let version = aws_version(&aws);
    let minor: u32 = version
        .strip_prefix("aws-cli/2.")
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("not the aws CLI v2: {version}"));
    assert!(minor >= 15, "{version} predates Pod Identity support");
    run_readme(&aws);
}

fn which(program: &str) -> std::path::PathBuf {
    let out = Command::new("bash")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .expect("bash");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!path.is_empty(), "{program} is not on PATH");
    path.into()
}

fn aws_version(aws: &Path) -> String {
    let out = Command::new(aws)
        .arg("--version")
        .output()
        .expect("aws --version");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim()
    .to_string()
}
