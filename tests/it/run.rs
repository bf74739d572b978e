//! `podiam run`: a real program as a pod would run it, in both modes.

use super::common::*;
use serde_json::Value;
use std::process::Command;

fn run(s: &Server, args: &[&str]) -> std::process::Output {
    let mut full = vec!["run"];
    full.extend_from_slice(args);
    Command::new(BIN)
        .args(&full)
        .env("PODIAM_ENDPOINT", &s.endpoint)
        .env("PODIAM_DATA_DIR", s.data_dir())
        // Decoys: the child must not see any of these.
        .env("AWS_ACCESS_KEY_ID", "AKIADECOYDECOYDECOY1")
        .env("AWS_SECRET_ACCESS_KEY", "decoy")
        .env("AWS_PROFILE", "admin")
        .env("HOME", s.home())
        .env("TMPDIR_SEEN", s.dir.path().join("seen-tokens"))
        .output()
        .expect("podiam run")
}

/// `podiam iamserviceaccount create --cluster demo -n NS --name NAME EXTRA…`.
fn isa(s: &Server, namespace: &str, name: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "iamserviceaccount",
        "create",
        "--cluster",
        "demo",
        "-n",
        namespace,
        "--name",
        name,
    ];
    args.extend_from_slice(extra);
    s.podiam(&args)
}

const BOTO: &str = "import boto3, os\nprint(boto3.client('sts').get_caller_identity()['Arn'])\nassert 'AWS_ACCESS_KEY_ID' not in os.environ and 'AWS_PROFILE' not in os.environ and 'PODIAM_DATA_DIR' not in os.environ\n";

#[test]
fn run_irsa_with_aws_cli_and_boto3() {
    let s = Server::start();
    ok(&s.podiam(&["cluster", "create", "demo"]));
    let out = ok(&isa(
        &s,
        "default",
        "sa-access-s3",
        &[
            "--attach-policy-arn",
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        ],
    ));
    assert!(out.contains("podiam-demo-default-sa-access-s3"), "{out}");
    let me = ok(&run(
        &s,
        &[
            "--cluster",
            "demo",
            "-n",
            "default",
            "--service-account",
            "sa-access-s3",
            "--",
            "aws",
            "sts",
            "get-caller-identity",
        ],
    ));
    assert!(
        me.contains("assumed-role/podiam-demo-default-sa-access-s3/"),
        "{me}"
    );
    let py = s.dir.path().join("who.py");
    std::fs::write(&py, BOTO).unwrap();
    let me = ok(&run(
        &s,
        &[
            "--cluster",
            "demo",
            "-n",
            "default",
            "--service-account",
            "sa-access-s3",
            "--",
            "python3",
            py.to_str().unwrap(),
        ],
    ));
    assert!(
        me.contains("assumed-role/podiam-demo-default-sa-access-s3/"),
        "{me}"
    );
    // --print-env shows the webhook's injection and why.
    let env = ok(&run(
        &s,
        &[
            "--cluster",
            "demo",
            "-n",
            "default",
            "--service-account",
            "sa-access-s3",
            "--print-env",
        ],
    ));
    assert!(
        env.contains(
            "AWS_ROLE_ARN=arn:aws:iam::000000000000:role/podiam-demo-default-sa-access-s3"
        ),
        "{env}"
    );
    assert!(env.contains("AWS_WEB_IDENTITY_TOKEN_FILE="), "{env}");
    assert!(env.contains("AWS_STS_REGIONAL_ENDPOINTS=regional"), "{env}");
    // The exit code is the child's.
    let out = run(
        &s,
        &[
            "--cluster",
            "demo",
            "-n",
            "default",
            "--service-account",
            "sa-access-s3",
            "--",
            "sh",
            "-c",
            "exit 7",
        ],
    );
    assert_eq!(out.status.code(), Some(7));
    // A service account with nothing to inject is refused with the reason.
    let out = run(
        &s,
        &[
            "--cluster",
            "demo",
            "-n",
            "default",
            "--service-account",
            "plain",
            "--",
            "true",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not mutated"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn run_pod_identity_with_aws_cli_and_boto3() {
    let s = Server::start();
    ok(&s.podiam(&["cluster", "create", "demo"]));
    ok(&isa(&s, "carts", "carts", &["--pod-identity"]));
    let me = ok(&run(
        &s,
        &[
            "--cluster",
            "demo",
            "-n",
            "carts",
            "--service-account",
            "carts",
            "--pod",
            "carts-1",
            "--",
            "aws",
            "sts",
            "get-caller-identity",
        ],
    ));
    assert!(
        me.contains("assumed-role/podiam-demo-carts-carts/eks-demo-carts-1-"),
        "{me}"
    );
    let py = s.dir.path().join("who.py");
    std::fs::write(&py, BOTO).unwrap();
    let me = ok(&run(
        &s,
        &[
            "--cluster",
            "demo",
            "-n",
            "carts",
            "--service-account",
            "carts",
            "--",
            "python3",
            py.to_str().unwrap(),
        ],
    ));
    assert!(me.contains("assumed-role/podiam-demo-carts-carts/"), "{me}");
    let env = ok(&run(
        &s,
        &[
            "--cluster",
            "demo",
            "-n",
            "carts",
            "--service-account",
            "carts",
            "--print-env",
        ],
    ));
    assert!(
        env.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:"),
        "{env}"
    );
    assert!(
        env.contains("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="),
        "{env}"
    );
}

#[test]
fn token_refresh_outlives_the_token() {
    let s = Server::start();
    ok(&s.podiam(&["cluster", "create", "demo"]));
    ok(&isa(&s, "default", "app", &[]));
    // A 12 s token; the child keeps calling STS (fresh credentials each time,
    // so every call presents the current token file) for 30 s.
    let script = "end=$(( $(date +%s) + 30 )); n=0; while [ $(date +%s) -lt $end ]; do HOME=$(mktemp -d) aws sts get-caller-identity >/dev/null || exit 1; sha256sum \"$AWS_WEB_IDENTITY_TOKEN_FILE\" | cut -c1-16 >> \"$TMPDIR_SEEN\"; n=$((n+1)); sleep 2; done; echo calls=$n tokens=$(sort -u \"$TMPDIR_SEEN\" | wc -l)";
    let out = run(
        &s,
        &[
            "--cluster",
            "demo",
            "-n",
            "default",
            "--service-account",
            "app",
            "--token-expiration",
            "12",
            "--insecure-short-token-lifetime",
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    let text = ok(&out);
    let tokens: usize = text
        .trim()
        .rsplit("tokens=")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    // 30 s with a 12 s token re-minted at 80%: at least three different tokens.
    assert!(tokens >= 3, "the token was not refreshed: {text}");
}

/// `iamserviceaccount create` as eksctl's: a re-run changes nothing, a
/// different role is refused (and nothing created) without
/// `--override-existing-serviceaccounts`, and a role that exists is kept only
/// when it trusts the service account.
#[test]
fn iamserviceaccount_create_is_idempotent_and_refuses_to_repoint() {
    let s = Server::start();
    ok(&s.podiam(&["cluster", "create", "demo"]));
    let create = |extra: &[&str]| isa(&s, "default", "app", extra);
    let annotation = || {
        let v: Value = serde_json::from_str(&ok(&s.podiam(&[
            "sa",
            "get",
            "--cluster",
            "demo",
            "-n",
            "default",
            "app",
        ])))
        .expect("json");
        v["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    ok(&create(&[]));
    let first = annotation();
    assert!(first.ends_with(":role/podiam-demo-default-app"), "{first}");
    let again = ok(&create(&[]));
    assert!(again.contains("unchanged"), "{again}");

    let refused = create(&["--role-name", "other"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("already exists")
            && err.contains(&first)
            && err.contains("--override-existing-serviceaccounts")
            && err.contains("Nothing was changed"),
        "{err}"
    );
    assert_eq!(annotation(), first);
    fails_with(
        &s.aws(&["iam", "get-role", "--role-name", "other"]),
        "NoSuchEntity",
    );

    ok(&create(&[
        "--role-name",
        "other",
        "--override-existing-serviceaccounts",
    ]));
    assert!(annotation().ends_with(":role/other"));

    // A role that exists but trusts someone else is not borrowed.
    let refused = isa(&s, "default", "intruder", &["--role-name", "other"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("does not admit"),
        "{err}"
    );

    // Pod Identity: the association is what points at the role.
    let pi = |extra: &[&str]| {
        let mut args = vec!["--pod-identity"];
        args.extend_from_slice(extra);
        isa(&s, "carts", "carts", &args)
    };
    ok(&pi(&[]));
    assert!(ok(&pi(&[])).contains("unchanged"));
    let refused = pi(&["--role-name", "carts-other"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("Pod Identity association"),
        "{err}"
    );
    ok(&pi(&[
        "--role-name",
        "carts-other",
        "--override-existing-serviceaccounts",
    ]));
    let listed = ok(&s.aws(&[
        "eks",
        "list-pod-identity-associations",
        "--cluster-name",
        "demo",
        "--namespace",
        "carts",
    ]));
    let id = json_field_str(&listed, "associationId");
    let described = ok(&s.aws(&describe_association(&id)));
    assert!(described.contains(":role/carts-other"), "{described}");
    assert_eq!(listed.matches("associationId").count(), 1, "{listed}");
}

fn json_field_str(json: &str, field: &str) -> String {
    let v: Value = serde_json::from_str(json).expect("json");
    v["associations"][0][field]
        .as_str()
        .expect("field")
        .to_string()
}
