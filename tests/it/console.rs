//! The web console in a real headless browser (Debian's Chromium and its
//! chromedriver, through Selenium): sign in, the seed's role, a denial
//! appearing live with its explanation, a what-if that agrees with
//! `podiam explain`, and sign-out. Screenshots: target/console-screenshots.

use super::common::*;
use std::process::Command;

#[test]
fn console_walkthrough_in_a_real_browser() {
    for (tool, install) in [
        ("/usr/bin/chromium", "apt-get install chromium"),
        ("/usr/bin/chromedriver", "apt-get install chromium-driver"),
    ] {
        assert!(
            std::path::Path::new(tool).exists(),
            "{tool} is missing: {install} (.ci/run installs it)"
        );
    }
    let s = Server::start();
    let (ns, sa) = ("default", "sa-access-s3");
    let role = s.setup_irsa("demo", "pod-access-s3-role", ns, sa);
    s.attach_role_policy(
        "pod-access-s3-role",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    );
    let annotation = format!("eks.amazonaws.com/role-arn={role}");
    s.create_sa("demo", ns, sa, &[&annotation]);
    // The same service account name in another namespace: a near miss.
    s.create_sa("demo", "other", sa, &[]);
    let wrong_token = s.token("demo", "other", sa, &[]);
    // What the other pages show: an association, a bucket and a table with
    // their resource policies.
    let pia_role = s.setup_irsa("demo2", "carts-pia", "shop", "carts");
    s.associate("demo", "shop", "carts", &pia_role, &[]);
    ok(&s.aws(&["s3api", "create-bucket", "--bucket", "data"]));
    let read = |action: &str, resource: &str| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": role.clone()}, "Action": action, "Resource": resource}]})
        .to_string()
    };
    ok(&s.aws(&[
        "s3api",
        "put-bucket-policy",
        "--bucket",
        "data",
        "--policy",
        &read("s3:GetObject", "arn:aws:s3:::data/*"),
    ]));
    let table_arn = create_id_table(&s, "carts", &[])["TableDescription"]["TableArn"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&s.aws(&[
        "dynamodb",
        "put-resource-policy",
        "--resource-arn",
        &table_arn,
        "--policy",
        &read("dynamodb:GetItem", &table_arn),
    ]));
    let (action, resource) = ("s3:PutObject", "arn:aws:s3:::data/report.csv");
    let out = s.podiam(&[
        "explain",
        "request",
        "--role-arn",
        &role,
        "--action",
        action,
        "--resource",
        resource,
        "--json",
    ]);
    let expected: serde_json::Value = serde_json::from_slice(&out.stdout).expect("explain json");
    let admin = s.admin();
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console/browser.py");
    let out = Command::new("python3")
        .arg(script)
        .env("CONSOLE_URL", format!("{}/_podiam/console/", s.endpoint))
        .env("SCREENSHOTS", &shots)
        .env("ADMIN_AKID", &admin.access_key_id)
        .env("ADMIN_SECRET", &admin.secret_access_key)
        .env("ROLE_NAME", "pod-access-s3-role")
        .env("ROLE_ARN", &role)
        .env("NAMESPACE", ns)
        .env("SERVICE_ACCOUNT", sa)
        .env("WRONG_NAMESPACE", "other")
        .env("WRONG_TOKEN", &wrong_token)
        .env("PIA_ROLE_ARN", &pia_role)
        .env("BUCKET", "data")
        .env("TABLE", "carts")
        .env("WHATIF_ACTION", action)
        .env("WHATIF_RESOURCE", resource)
        .env("EXPECT_DECISION", expected["decision"].as_str().unwrap())
        .env("EXPECT_SUMMARY", expected["summary"].as_str().unwrap())
        // The aws CLI the script runs: no credentials, this server.
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("HOME", s.home())
        .output()
        .expect("python3 (with selenium: .ci/run installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The script's report (the denial's latency) stays in the test log.
    println!("{text}");
    assert!(out.status.success(), "{text}");
    assert!(text.contains("console walkthrough passed"), "{text}");
    assert_eq!(expected["decision"], "ImplicitDeny", "{expected}");
    for name in [
        "01-sign-in",
        "02-role",
        "03-decision",
        "04-what-if",
        "05-signed-out",
    ] {
        assert!(
            shots.join(format!("{name}.png")).exists(),
            "screenshot {name}"
        );
    }
}
