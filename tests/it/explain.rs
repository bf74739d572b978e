//! Golden outputs of `podiam explain assume` for real misconfigurations.
//! Values that change per run (ports, key ids, role ids, uids, times) are
//! redacted; everything else is the exact text a developer sees.

use super::common::*;
use podiam_oidc::Algorithm;

fn explain(s: &Server, args: &[&str]) -> String {
    let mut full = vec!["explain", "assume"];
    full.extend_from_slice(args);
    let out = s.podiam(&full);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    format!("exit {code}\n{text}")
}

macro_rules! golden {
    ($s:expr, $name:expr, $text:expr) => {{
        let port = $s.addr.rsplit(':').next().unwrap_or_default().to_string();
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("snapshots");
        settings.set_prepend_module_to_snapshot(false);
        settings.add_filter(&regex_escape(&port), "[PORT]");
        settings.add_filter(r"kid [A-Za-z0-9_-]{43}", "kid [KID]");
        settings.add_filter(r"AROA[A-Z2-7]{17}", "[ROLE-ID]");
        settings.add_filter(r"a-[a-z0-9]{17}", "[ASSOCIATION-ID]");
        settings.add_filter(r"uid [0-9a-f-]{36}", "uid [UID]");
        settings.add_filter(r"\d+ s left", "[N] s left");
        settings.add_filter(r"expires in \d+ s", "expires in [N] s");
        settings.add_filter(r"expired \d+ s ago", "expired [N] s ago");
        settings.add_filter(
            r"date/time \d+ must be before the expiration date/time\d+",
            "date/time [NOW] must be before the expiration date/time[EXP]",
        );
        settings.bind(|| insta::assert_snapshot!($name, $text));
    }};
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

const ROLE: &str = "arn:aws:iam::000000000000:role/pod-access-s3-role";

fn role_with_trust(s: &Server, name: &str, trust: &str) {
    let f = s.dir.path().join(format!("{name}.json"));
    std::fs::write(&f, trust).unwrap();
    ok(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        name,
        "--assume-role-policy-document",
        &format!("file://{}", f.display()),
    ]));
}

#[test]
fn explain_wrong_namespace_and_wrong_service_account() {
    let s = Server::start();
    s.setup_irsa("demo", "pod-access-s3-role", "default", "sa-access-s3");
    golden!(
        s,
        "wrong_namespace",
        explain(
            &s,
            &[
                "--role-arn",
                ROLE,
                "--cluster",
                "demo",
                "-n",
                "dev",
                "--service-account",
                "sa-access-s3"
            ]
        )
    );
    golden!(
        s,
        "wrong_service_account",
        explain(
            &s,
            &[
                "--role-arn",
                ROLE,
                "--cluster",
                "demo",
                "-n",
                "default",
                "--service-account",
                "other"
            ]
        )
    );
    golden!(
        s,
        "allowed",
        explain(
            &s,
            &[
                "--role-arn",
                ROLE,
                "--cluster",
                "demo",
                "-n",
                "default",
                "--service-account",
                "sa-access-s3"
            ]
        )
    );
    golden!(
        s,
        "duration_over_max",
        explain(
            &s,
            &[
                "--role-arn",
                ROLE,
                "--cluster",
                "demo",
                "-n",
                "default",
                "--service-account",
                "sa-access-s3",
                "--duration-seconds",
                "7200"
            ]
        )
    );
}

#[test]
fn explain_trust_policy_mistakes() {
    let s = Server::start();
    ok(&s.podiam(&["cluster", "create", "demo"]));
    ok(&s.aws(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        &s.issuer("demo"),
        "--client-id-list",
        "sts.amazonaws.com",
    ]));
    let hp = s.issuer_host_path("demo");
    let provider = format!("arn:aws:iam::000000000000:oidc-provider/{hp}");
    let wildcard = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":provider},
        "Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{format!("{hp}:sub"):"system:serviceaccount:*:sa-access-s3"}}}]});
    role_with_trust(&s, "wildcard", &wildcard.to_string());
    golden!(
        s,
        "string_equals_with_wildcard",
        explain(
            &s,
            &[
                "--role-arn",
                "arn:aws:iam::000000000000:role/wildcard",
                "--cluster",
                "demo",
                "-n",
                "default",
                "--service-account",
                "sa-access-s3"
            ]
        )
    );
    let no_aud = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":provider},
        "Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{format!("{hp}:sub"):"system:serviceaccount:default:sa-access-s3"}}}]});
    role_with_trust(&s, "no-aud", &no_aud.to_string());
    golden!(
        s,
        "missing_aud_condition",
        explain(
            &s,
            &[
                "--role-arn",
                "arn:aws:iam::000000000000:role/no-aud",
                "--cluster",
                "demo",
                "-n",
                "default",
                "--service-account",
                "sa-access-s3"
            ]
        )
    );
    let typo = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":provider},
        "Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:sub":"system:serviceaccount:default:sa-access-s3"}}}]});
    role_with_trust(&s, "key-typo", &typo.to_string());
    golden!(
        s,
        "condition_key_of_another_issuer",
        explain(
            &s,
            &[
                "--role-arn",
                "arn:aws:iam::000000000000:role/key-typo",
                "--cluster",
                "demo",
                "-n",
                "default",
                "--service-account",
                "sa-access-s3"
            ]
        )
    );
}

#[test]
fn explain_provider_and_audience_mistakes() {
    let s = Server::start();
    ok(&s.podiam(&["cluster", "create", "demo"]));
    // Client id list without sts.amazonaws.com.
    ok(&s.aws(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        &s.issuer("demo"),
        "--client-id-list",
        "sts.amazon.com",
    ]));
    let hp = s.issuer_host_path("demo");
    let trust = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":format!("arn:aws:iam::000000000000:oidc-provider/{hp}")},
        "Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{format!("{hp}:sub"):"system:serviceaccount:default:app"}}}]});
    role_with_trust(&s, "app", &trust.to_string());
    golden!(
        s,
        "audience_not_a_client_id",
        explain(
            &s,
            &[
                "--role-arn",
                "arn:aws:iam::000000000000:role/app",
                "--cluster",
                "demo",
                "-n",
                "default",
                "--service-account",
                "app"
            ]
        )
    );
    // A provider registered with a trailing slash.
    ok(&s.podiam(&["cluster", "create", "slash"]));
    ok(&s.aws(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        &format!("{}/", s.issuer("slash")),
        "--client-id-list",
        "sts.amazonaws.com",
    ]));
    golden!(
        s,
        "issuer_trailing_slash",
        explain(
            &s,
            &[
                "--role-arn",
                "arn:aws:iam::000000000000:role/app",
                "--cluster",
                "slash",
                "-n",
                "default",
                "--service-account",
                "app"
            ]
        )
    );
    // The role lives in another account than the provider.
    golden!(
        s,
        "provider_in_another_account",
        explain(
            &s,
            &[
                "--role-arn",
                "arn:aws:iam::111122223333:role/app",
                "--cluster",
                "demo",
                "-n",
                "default",
                "--service-account",
                "app"
            ]
        )
    );
    // No provider at all.
    ok(&s.podiam(&["cluster", "create", "unregistered"]));
    golden!(
        s,
        "no_provider",
        explain(
            &s,
            &[
                "--role-arn",
                "arn:aws:iam::000000000000:role/app",
                "--cluster",
                "unregistered",
                "-n",
                "default",
                "--service-account",
                "app"
            ]
        )
    );
}

#[test]
fn explain_expired_token() {
    let s = Server::start();
    let key = new_key(Algorithm::Rs256);
    let iss = "https://oidc.example.test/id/EXPIRED";
    s.register_external("ext", iss, &[&key]);
    let t = now();
    let token = sign(
        &key,
        &claims(
            iss,
            "default",
            "app",
            "sts.amazonaws.com",
            t - 7200,
            t - 3600,
        ),
    );
    let f = s.dir.path().join("expired-token");
    std::fs::write(&f, &token).unwrap();
    golden!(
        s,
        "expired_token",
        explain(
            &s,
            &[
                "--role-arn",
                "arn:aws:iam::000000000000:role/app",
                "--token-file",
                f.to_str().unwrap()
            ]
        )
    );
}

#[test]
fn explain_pod_identity_without_tag_session() {
    let s = Server::start();
    ok(&s.podiam(&["cluster", "create", "demo"]));
    role_with_trust(
        &s,
        "carts-pia",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    );
    ok(&s.aws(&[
        "eks",
        "create-pod-identity-association",
        "--cluster-name",
        "demo",
        "--namespace",
        "carts",
        "--service-account",
        "carts",
        "--role-arn",
        "arn:aws:iam::000000000000:role/carts-pia",
    ]));
    golden!(
        s,
        "pod_identity_without_tag_session",
        explain(
            &s,
            &[
                "--action",
                "sts:AssumeRole",
                "--cluster",
                "demo",
                "-n",
                "carts",
                "--service-account",
                "carts"
            ]
        )
    );
    golden!(
        s,
        "pod_identity_without_association",
        explain(
            &s,
            &[
                "--action",
                "sts:AssumeRole",
                "--cluster",
                "demo",
                "-n",
                "carts",
                "--service-account",
                "orders"
            ]
        )
    );
}

#[test]
fn explain_request_for_a_role_session() {
    let s = Server::start();
    let role = s.setup_irsa("demo", "reader", "default", "app");
    s.attach_role_policy("reader", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess");
    ok(&s.aws(&["s3api", "create-bucket", "--bucket", "data"]));
    let token = s.token("demo", "default", "app", &[]);
    let out = ok(&s.aws(&[
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        &role,
        "--role-session-name",
        "dev",
        "--web-identity-token",
        &token,
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (ak, st) = (
        v["Credentials"]["AccessKeyId"].as_str().unwrap(),
        v["Credentials"]["SessionToken"].as_str().unwrap(),
    );
    let explain = |action: &str, resource: &str| {
        s.podiam(&[
            "explain",
            "request",
            "--access-key",
            ak,
            "--session-token",
            st,
            "--action",
            action,
            "--resource",
            resource,
        ])
    };
    let denied = explain("s3:PutObject", "arn:aws:s3:::data/x");
    assert_eq!(denied.status.code(), Some(1));
    let text = String::from_utf8_lossy(&denied.stdout);
    assert!(
        text.contains("for arn:aws:sts::000000000000:assumed-role/reader/dev"),
        "{text}"
    );
    assert!(
        text.contains("no statement in the identity policies allows s3:PutObject"),
        "{text}"
    );
    assert!(text.contains("Result: ImplicitDeny"), "{text}");
    let allowed = explain("s3:GetObject", "arn:aws:s3:::data/x");
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&allowed.stdout)
    );
    // A bucket policy with an explicit deny decides.
    let policy = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/secret/*"}]});
    ok(&s.aws(&[
        "s3api",
        "put-bucket-policy",
        "--bucket",
        "data",
        "--policy",
        &policy.to_string(),
    ]));
    let deny = explain("s3:GetObject", "arn:aws:s3:::data/secret/k");
    assert_eq!(deny.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&deny.stdout).contains("Result: ExplicitDeny"));
}

#[test]
fn who_can_assume_and_what_if_for_service_accounts() {
    let s = Server::start();
    let role = s.setup_irsa("demo", "reader", "shop", "carts");
    s.attach_role_policy("reader", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess");
    // Annotated for the role, but the trust policy names another namespace.
    let annotation = format!("eks.amazonaws.com/role-arn={role}");
    s.create_sa("demo", "shop", "carts", &[&annotation]);
    s.create_sa("demo", "dev", "carts", &[&annotation]);
    s.create_sa("demo", "dev", "unrelated", &[]);
    // Pod Identity: one association whose role trusts EKS, one that does not.
    role_with_trust(
        &s,
        "carts-pia",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#,
    );
    s.associate(
        "demo",
        "shop",
        "pia",
        "arn:aws:iam::000000000000:role/carts-pia",
        &[],
    );
    let who = |role: &str| {
        let out = s.podiam(&["explain", "who-can-assume", "--role-arn", role, "--json"]);
        serde_json::from_str::<serde_json::Value>(&ok(&out)).unwrap()
    };
    let v = who(&role);
    let rows = v["webIdentity"].as_array().unwrap();
    let find = |ns: &str, sa: &str| {
        rows.iter()
            .find(|r| r["namespace"] == ns && r["serviceAccount"] == sa)
            .unwrap_or_else(|| panic!("{ns}/{sa} missing: {v}"))
    };
    let yes = find("shop", "carts");
    assert_eq!(
        (yes["allowed"].as_bool(), yes["annotated"].as_bool()),
        (Some(true), Some(true)),
        "{v}"
    );
    let miss = find("dev", "carts");
    assert_eq!(miss["allowed"], false, "{v}");
    let m = &miss["mismatches"][0];
    assert!(m["key"].as_str().unwrap().ends_with(":sub"), "{m}");
    assert_eq!(m["expected"][0], "system:serviceaccount:shop:carts");
    assert_eq!(m["actual"][0], "system:serviceaccount:dev:carts");
    assert!(
        !rows.iter().any(|r| r["serviceAccount"] == "unrelated"),
        "a service account the policy does not name is no near miss: {v}"
    );
    let text = String::from_utf8_lossy(
        &s.podiam(&["explain", "who-can-assume", "--role-arn", &role])
            .stdout,
    )
    .into_owned();
    assert!(text.contains("IRSA         demo/shop/carts"), "{text}");
    assert!(
        text.contains("expected [\"system:serviceaccount:shop:carts\"], got [\"system:serviceaccount:dev:carts\"]"),
        "{text}"
    );
    let v = who("arn:aws:iam::000000000000:role/carts-pia");
    let pia = &v["podIdentity"][0];
    assert_eq!(
        (pia["namespace"].as_str(), pia["allowed"].as_bool()),
        (Some("shop"), Some(true)),
        "{v}"
    );

    // What-if as the service account's IRSA session agrees with the
    // session the pod really gets.
    let what_if = |args: &[&str]| {
        let mut full = vec!["explain", "request", "--json"];
        full.extend_from_slice(args);
        let out = s.podiam(&full);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)))
    };
    // As service account `sa` of demo/shop, on s3://data/x.
    let as_sa = |sa: &str, pod_identity: bool, action: &str| {
        let mut args = vec!["--cluster", "demo", "-n", "shop", "--service-account", sa];
        if pod_identity {
            args.push("--pod-identity");
        }
        args.extend(["--action", action, "--resource", "arn:aws:s3:::data/x"]);
        what_if(&args)
    };
    let v = as_sa("carts", false, "s3:GetObject");
    assert_eq!(v["decision"], "Allow", "{v}");
    assert!(
        v["principal"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:sts::000000000000:assumed-role/reader/"),
        "{v}"
    );
    let v = what_if(&[
        "--role-arn",
        &role,
        "--action",
        "s3:PutObject",
        "--resource",
        "arn:aws:s3:::data/x",
    ]);
    assert_eq!(v["decision"], "ImplicitDeny", "{v}");
    let v = as_sa("pia", true, "s3:GetObject");
    assert_eq!(v["decision"], "ImplicitDeny", "{v}");
    assert!(
        v["principal"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/carts-pia/"),
        "{v}"
    );
    // Pod Identity's session policy narrows the pod's session; with a target
    // role, the pod's session is the target's.
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;
    s.associate(
        "demo",
        "shop",
        "narrow",
        &role,
        &["--disable-session-tags", "--policy", narrow],
    );
    let v = as_sa("narrow", true, "s3:GetObject");
    assert_eq!(v["decision"], "ImplicitDeny", "{v}");
    assert!(
        v["summary"].as_str().unwrap().contains("session policy"),
        "{v}"
    );
    role_with_trust(
        &s,
        "chained-target",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:role/carts-pia"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#,
    );
    s.attach_role_policy(
        "chained-target",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    );
    s.associate(
        "demo",
        "shop",
        "chain",
        "arn:aws:iam::000000000000:role/carts-pia",
        &[
            "--target-role-arn",
            "arn:aws:iam::000000000000:role/chained-target",
        ],
    );
    let v = as_sa("chain", true, "s3:GetObject");
    assert_eq!(v["decision"], "Allow", "{v}");
    assert!(
        v["principal"]
            .as_str()
            .unwrap()
            .contains(":assumed-role/chained-target/"),
        "{v}"
    );
    // Who can assume a target role: the associations that chain into it,
    // when its trust policy admits the first role's session with its tags.
    role_with_trust(
        &s,
        "untagged-target",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:role/carts-pia"},"Action":"sts:AssumeRole"}]}"#,
    );
    s.associate(
        "demo",
        "shop",
        "untagged",
        "arn:aws:iam::000000000000:role/carts-pia",
        &[
            "--target-role-arn",
            "arn:aws:iam::000000000000:role/untagged-target",
        ],
    );
    let v = who("arn:aws:iam::000000000000:role/chained-target");
    let row = &v["podIdentity"][0];
    assert_eq!(
        (row["serviceAccount"].as_str(), row["allowed"].as_bool()),
        (Some("chain"), Some(true)),
        "{v}"
    );
    assert_eq!(row["via"], "arn:aws:iam::000000000000:role/carts-pia");
    let v = who("arn:aws:iam::000000000000:role/untagged-target");
    let row = &v["podIdentity"][0];
    assert_eq!(
        (row["allowed"].as_bool(), row["refusedAction"].as_str()),
        (Some(false), Some("sts:TagSession")),
        "{v}"
    );
    // A what-if needs a service account that has a role.
    let out = s.podiam(&[
        "explain",
        "request",
        "--cluster",
        "demo",
        "-n",
        "dev",
        "--service-account",
        "unrelated",
        "--action",
        "s3:GetObject",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("has no eks.amazonaws.com/role-arn annotation")
    );
}
