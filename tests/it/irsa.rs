//! The IRSA walkthrough with the real aws CLI and boto3, and each failure
//! with AWS's exact error code.

use super::common::*;
use super::raw::raw_unsigned;
use podiam_oidc::Algorithm;
use std::process::Command;

#[test]
fn seed_walkthrough_with_aws_cli_and_boto3() {
    let s = Server::start();
    let role = s.setup_irsa("demo", "pod-access-s3-role", "default", "sa-access-s3");

    // The seed's managed policy, attached; plus an inline one.
    let pol = s.dir.path().join("policy.json");
    std::fs::write(
        &pol,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"VisualEditor0","Effect":"Allow","Action":["s3:ListBucket","s3:ListAllMyBuckets"],"Resource":"*"}]}"#,
    )
    .unwrap();
    let out = ok(&s.aws(&[
        "iam",
        "create-policy",
        "--policy-name",
        "pod-access-to-s3",
        "--policy-document",
        &format!("file://{}", pol.display()),
    ]));
    assert!(
        out.contains("\"Arn\": \"arn:aws:iam::000000000000:policy/pod-access-to-s3\""),
        "{out}"
    );
    ok(&s.aws(&[
        "iam",
        "attach-role-policy",
        "--role-name",
        "pod-access-s3-role",
        "--policy-arn",
        "arn:aws:iam::000000000000:policy/pod-access-to-s3",
    ]));
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "pod-access-s3-role",
        "--policy-name",
        "inline",
        "--policy-document",
        &format!("file://{}", pol.display()),
    ]));
    let got = ok(&s.aws(&["iam", "get-role", "--role-name", "pod-access-s3-role"]));
    let v: serde_json::Value = serde_json::from_str(&got).unwrap();
    // The CLI decodes the URL-encoded document back into JSON.
    assert_eq!(
        v["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Action"],
        "sts:AssumeRoleWithWebIdentity"
    );
    assert!(v["Role"]["RoleId"].as_str().unwrap().starts_with("AROA"));
    assert_eq!(v["Role"]["RoleId"].as_str().unwrap().len(), 21);
    let listed = ok(&s.aws(&["iam", "list-roles"]));
    assert!(listed.contains("pod-access-s3-role"));
    let providers = ok(&s.aws(&["iam", "list-open-id-connect-providers"]));
    assert!(providers.contains(&format!("oidc-provider/{}", s.issuer_host_path("demo"))));
    let inline = ok(&s.aws(&[
        "iam",
        "get-role-policy",
        "--role-name",
        "pod-access-s3-role",
        "--policy-name",
        "inline",
    ]));
    assert!(inline.contains("s3:ListAllMyBuckets"));

    // As the pod: only AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ENDPOINT_URL.
    let token = s.token("demo", "default", "sa-access-s3", &[]);
    let me = ok(&s.aws_as_pod(&role, &token, &["sts", "get-caller-identity"]));
    let v: serde_json::Value = serde_json::from_str(&me).unwrap();
    let arn = v["Arn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:sts::000000000000:assumed-role/pod-access-s3-role/"),
        "{arn}"
    );
    assert!(v["UserId"].as_str().unwrap().starts_with("AROA"));

    // boto3's default chain does the same.
    let token_file = s.dir.path().join("boto-token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.dir.path())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ROLE_ARN", &role)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .output()
        .expect("python3");
    let arn = ok(&out);
    assert!(
        arn.trim()
            .starts_with("arn:aws:sts::000000000000:assumed-role/pod-access-s3-role/"),
        "{arn}"
    );

    // A session with no IAM permission gets AccessDenied from IAM.
    let denied = s.aws_as_pod(&role, &token, &["iam", "list-roles"]);
    fails_with(&denied, "AccessDenied");
}

fn assume(s: &Server, role: &str, token: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        role,
        "--role-session-name",
        "it",
        "--web-identity-token",
        token,
    ];
    args.extend_from_slice(extra);
    s.aws(&args)
}

#[test]
fn wrong_namespace_and_audience() {
    let s = Server::start();
    let role = s.setup_irsa("demo", "r1", "default", "sa-access-s3");
    let ok_token = s.token("demo", "default", "sa-access-s3", &[]);
    let out = ok(&assume(&s, &role, &ok_token, &[]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["SubjectFromWebIdentityToken"],
        "system:serviceaccount:default:sa-access-s3"
    );
    assert_eq!(v["Audience"], "sts.amazonaws.com");
    assert_eq!(
        v["Provider"],
        format!(
            "arn:aws:iam::000000000000:oidc-provider/{}",
            s.issuer_host_path("demo")
        )
    );
    assert!(
        v["Credentials"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("ASIA")
    );
    assert!(v.get("PackedPolicySize").is_none());

    let dev = s.token("demo", "dev", "sa-access-s3", &[]);
    let err = fails_with(&assume(&s, &role, &dev, &[]), "AccessDenied");
    assert!(
        err.contains("Not authorized to perform sts:AssumeRoleWithWebIdentity"),
        "{err}"
    );
    let other_sa = s.token("demo", "default", "other", &[]);
    fails_with(&assume(&s, &role, &other_sa, &[]), "AccessDenied");

    let aud = s.token(
        "demo",
        "default",
        "sa-access-s3",
        &["--audience", "sts.amazon.com"],
    );
    let err = fails_with(&assume(&s, &role, &aud, &[]), "InvalidIdentityToken");
    assert!(err.contains("Incorrect token audience"), "{err}");
}

#[test]
fn token_validation_failures() {
    let s = Server::start();
    let key = new_key(Algorithm::Rs256);
    let iss = "https://oidc.example.test/id/ABC";
    s.register_external("ext", iss, &[&key]);
    let hp = "oidc.example.test/id/ABC";
    let trust = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Federated": format!("arn:aws:iam::000000000000:oidc-provider/{hp}")},
        "Action":"sts:AssumeRoleWithWebIdentity",
        "Condition":{"StringEquals":{format!("{hp}:sub"):"system:serviceaccount:default:app"}}}]});
    let f = s.dir.path().join("t.json");
    std::fs::write(&f, trust.to_string()).unwrap();
    ok(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "ext-role",
        "--assume-role-policy-document",
        &format!("file://{}", f.display()),
    ]));
    let role = "arn:aws:iam::000000000000:role/ext-role";
    let t = now();

    // The happy path with the external key.
    let good = sign(
        &key,
        &claims(iss, "default", "app", "sts.amazonaws.com", t, t + 3600),
    );
    ok(&assume(&s, role, &good, &[]));

    // Expired.
    let expired = sign(
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
    let err = fails_with(&assume(&s, role, &expired, &[]), "ExpiredTokenException");
    assert!(err.contains("Token expired: current date/time"), "{err}");

    // Unknown issuer.
    let other_iss = sign(
        &key,
        &claims(
            "https://unknown.example.test",
            "default",
            "app",
            "sts.amazonaws.com",
            t,
            t + 3600,
        ),
    );
    let err = fails_with(&assume(&s, role, &other_iss, &[]), "InvalidIdentityToken");
    assert!(
        err.contains(
            "No OpenIDConnect provider found in your account for https://unknown.example.test"
        ),
        "{err}"
    );

    // A registered provider whose keys cannot be fetched: STS's own words.
    let down = "https://127.0.0.1:9/unreachable";
    ok(&s.aws(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        down,
        "--client-id-list",
        "sts.amazonaws.com",
    ]));
    let unreachable = sign(
        &key,
        &claims(down, "default", "app", "sts.amazonaws.com", t, t + 3600),
    );
    let err = fails_with(&assume(&s, role, &unreachable, &[]), "InvalidIdentityToken");
    assert!(
        err.contains("Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"),
        "{err}"
    );

    // Signed by another key (same kid, wrong signature; and an unknown kid).
    let attacker = new_key(Algorithm::Rs256);
    let forged = sign(
        &attacker,
        &claims(iss, "default", "app", "sts.amazonaws.com", t, t + 3600),
    );
    fails_with(&assume(&s, role, &forged, &[]), "InvalidIdentityToken");
    let parts: Vec<&str> = forged.split('.').collect();
    let good_parts: Vec<&str> = good.split('.').collect();
    let spliced = format!("{}.{}.{}", good_parts[0], parts[1], parts[2]);
    fails_with(&assume(&s, role, &spliced, &[]), "InvalidIdentityToken");

    // alg none and HS256 keyed with the public key (algorithm confusion).
    let none = unsigned_token(&claims(
        iss,
        "default",
        "app",
        "sts.amazonaws.com",
        t,
        t + 3600,
    ));
    fails_with(&assume(&s, role, &none, &[]), "InvalidIdentityToken");
    let hs = hs256_token(
        &claims(iss, "default", "app", "sts.amazonaws.com", t, t + 3600),
        key.public_key_der(),
        key.kid(),
    );
    fails_with(&assume(&s, role, &hs, &[]), "InvalidIdentityToken");

    // Over the role's MaxSessionDuration.
    let err = fails_with(
        &assume(&s, role, &good, &["--duration-seconds", "7200"]),
        "ValidationError",
    );
    assert!(
        err.contains(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        ),
        "{err}"
    );
    // Below the floor, and a huge token: the CLI refuses these itself, so
    // send them raw.
    let body = |token: &str, extra: &str| {
        format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName=it&WebIdentityToken={token}{extra}",
            role.replace(':', "%3A").replace('/', "%2F")
        )
    };
    let (st, xml) = raw_unsigned(&s.addr, &body(&good, "&DurationSeconds=600"));
    assert_eq!(st, 400, "{xml}");
    assert!(
        xml.contains("<Code>ValidationError</Code>")
            && xml.contains("Member must have value greater than or equal to 900"),
        "{xml}"
    );
    let huge = format!("{}.{}.{}", "a".repeat(10000), "b".repeat(10000), "c");
    let (st, xml) = raw_unsigned(&s.addr, &body(&huge, ""));
    assert_eq!(st, 400, "{xml}");
    assert!(
        xml.contains("<Code>ValidationError</Code>") && xml.contains("webIdentityToken"),
        "{xml}"
    );
    let nested = format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            "[".repeat(5000)
        )
    );
    let (st, xml) = raw_unsigned(&s.addr, &body(&nested, ""));
    assert_eq!(st, 400, "{xml}");
    assert!(xml.contains("<Code>InvalidIdentityToken</Code>"), "{xml}");

    // A deleted role.
    ok(&s.aws(&["iam", "delete-role", "--role-name", "ext-role"]));
    fails_with(&assume(&s, role, &good, &[]), "AccessDenied");
}

#[test]
fn session_policy_narrows_and_is_reported() {
    let s = Server::start();
    let role = s.setup_irsa("demo", "r1", "default", "app");
    let token = s.token("demo", "default", "app", &[]);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let out = ok(&assume(&s, &role, &token, &["--policy", policy]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["PackedPolicySize"].as_i64().unwrap() > 0);
    let bad = fails_with(
        &assume(
            &s,
            &role,
            &token,
            &["--policy", r#"{"Statement":[{"Effect":"Maybe"}]}"#],
        ),
        "MalformedPolicyDocument",
    );
    assert!(!bad.is_empty());
}

#[test]
fn aws_sdk_rust_default_chain() {
    let s = Server::start();
    let role = s.setup_irsa("demo", "r1", "default", "app");
    let token = s.token("demo", "default", "app", &[]);
    let f = s.dir.path().join("sdk-token");
    std::fs::write(&f, format!("{token}\n")).unwrap();
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/sdk_caller_identity");
    assert!(
        example.exists(),
        "build examples first: {}",
        example.display()
    );
    let out = Command::new(example)
        .env_clear()
        .env("HOME", s.dir.path())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ROLE_ARN", &role)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &f)
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .output()
        .unwrap();
    let arn = ok(&out);
    assert!(
        arn.trim()
            .starts_with("arn:aws:sts::000000000000:assumed-role/r1/"),
        "{arn}"
    );
}

/// aws:MultiFactorAuthPresent "is not present for federated identities":
/// the User Guide's Deny on `Bool … "false"` misses a web identity session,
/// and the BoolIfExists form lets it through. A role session it assumes in
/// turn carries the key, "false".
#[test]
fn web_identity_sessions_carry_no_mfa_key() {
    let s = Server::start();
    let role = s.setup_irsa("demo", "mfa-role", "default", "app");
    let token = s.token("demo", "default", "app", &[]);
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "sts:AssumeRole"], "Resource": "*",
         "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}},
        {"Effect": "Deny", "Action": "s3:ListAllMyBuckets", "Resource": "*",
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}]});
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "mfa-role",
        "--policy-name",
        "mfa",
        "--policy-document",
        &s.json_file("mfa.json", &policy),
    ]));
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": &role}, "Action": "sts:AssumeRole"}]});
    ok(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "chained",
        "--assume-role-policy-document",
        &s.json_file("chained-trust.json", &trust),
    ]));
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "chained",
        "--policy-name",
        "mfa",
        "--policy-document",
        &s.json_file("mfa.json", &policy),
    ]));
    ok(&s.aws_as_pod(&role, &token, &["s3api", "list-buckets"]));
    let chained = json_out(&s.aws_as_pod(
        &role,
        &token,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &format!("arn:aws:iam::{ACCOUNT}:role/chained"),
            "--role-session-name",
            "chained-session",
        ],
    ));
    let err = fails_with(
        &s.aws_with_creds(&creds_of(&chained), &["s3api", "list-buckets"]),
        "AccessDenied",
    );
    assert!(err.contains("explicit deny"), "{err}");
}
