//! STS AssumeRole through the aws CLI with session credentials in the
//! environment: trust by role ARN and by account, ExternalId, role chaining,
//! root refusal, session tags and transitive tags.

use super::common::*;
use podiam_sigv4::Credentials;
use serde_json::{Value, json};

const A: &str = "arn:aws:iam::000000000000:role/role-a";

/// Role A via IRSA (web identity); returns its session credentials.
fn role_a_session(s: &Server) -> Credentials {
    let role = s.setup_irsa("demo", "role-a", "default", "app");
    assert_eq!(role, A);
    let token = s.token("demo", "default", "app", &[]);
    let v = json_out(&s.aws(&[
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        A,
        "--role-session-name",
        "pod",
        "--web-identity-token",
        &token,
    ]));
    creds_of(&v)
}

fn trust(principal: Value, actions: Value, condition: Option<Value>) -> Value {
    let mut st = json!({"Effect": "Allow", "Principal": principal, "Action": actions});
    if let Some(c) = condition {
        st["Condition"] = c;
    }
    json!({"Version": "2012-10-17", "Statement": [st]})
}

/// A trust policy that lets role A assume the role.
fn trusts_a() -> Value {
    trust(json!({"AWS": A}), json!("sts:AssumeRole"), None)
}

/// Creates a role over a raw signed request (fast); returns its RoleId.
fn create_role(s: &Server, name: &str, trust: &Value, extra: &[(&str, &str)]) -> String {
    let doc = trust.to_string();
    let mut params = vec![
        ("Action", "CreateRole"),
        ("Version", "2010-05-08"),
        ("RoleName", name),
        ("AssumeRolePolicyDocument", doc.as_str()),
    ];
    params.extend_from_slice(extra);
    let (st, xml) = s.raw_admin("iam", &params);
    assert_eq!(st, 200, "{xml}");
    xml_field(&xml, "RoleId").expect("RoleId").to_string()
}

fn put_inline(s: &Server, role: &str, name: &str, doc: &Value) {
    let doc = doc.to_string();
    let (st, xml) = s.raw_admin(
        "iam",
        &[
            ("Action", "PutRolePolicy"),
            ("Version", "2010-05-08"),
            ("RoleName", role),
            ("PolicyName", name),
            ("PolicyDocument", &doc),
        ],
    );
    assert_eq!(st, 200, "{xml}");
}

fn assume(s: &Server, creds: &Credentials, role: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sts",
        "assume-role",
        "--role-arn",
        role,
        "--role-session-name",
        "chained",
    ];
    args.extend_from_slice(extra);
    s.aws_with_creds(creds, &args)
}

fn denied_message(caller: &str, action: &str, role: &str) -> String {
    format!("User: {caller} is not authorized to perform: {action} on resource: {role}")
}

#[test]
fn web_identity_session_chains_into_a_role_that_trusts_its_arn() {
    let s = Server::start();
    let a = role_a_session(&s);
    let me = json_out(&s.aws_with_creds(&a, &["sts", "get-caller-identity"]));
    assert_eq!(
        me["Arn"],
        "arn:aws:sts::000000000000:assumed-role/role-a/pod"
    );

    // Role B trusts role A by ARN: no identity policy is needed in the same
    // account. B allows 2 h sessions, but chaining caps at 1 h.
    let b_id = create_role(&s, "role-b", &trusts_a(), &[("MaxSessionDuration", "7200")]);
    let b = "arn:aws:iam::000000000000:role/role-b";
    let t0 = now();
    let v = json_out(&assume(&s, &a, b, &[]));
    assert_eq!(
        v["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::000000000000:assumed-role/role-b/chained"
    );
    assert_eq!(
        v["AssumedRoleUser"]["AssumedRoleId"],
        format!("{b_id}:chained")
    );
    assert!(v.get("PackedPolicySize").is_none(), "{v}");
    let chained = creds_of(&v);
    assert!(chained.access_key_id.starts_with("ASIA"), "{v}");
    // Default duration: one hour.
    let exp = time::OffsetDateTime::parse(
        v["Credentials"]["Expiration"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("Expiration")
    .unix_timestamp();
    assert!((exp - t0 - 3600).abs() <= 120, "{exp} vs {t0}");

    // The chained session is role B.
    let me = json_out(&s.aws_with_creds(&chained, &["sts", "get-caller-identity"]));
    assert_eq!(
        me["Arn"],
        "arn:aws:sts::000000000000:assumed-role/role-b/chained"
    );
    assert_eq!(me["UserId"], format!("{b_id}:chained"));
    assert_eq!(me["Account"], "000000000000");

    // Role chaining limits sessions to one hour, whatever the role allows.
    let err = fails_with(
        &assume(&s, &a, b, &["--duration-seconds", "7200"]),
        "ValidationError",
    );
    assert!(
        err.contains(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
        ),
        "{err}"
    );
    ok(&assume(&s, &a, b, &["--duration-seconds", "900"]));

    // B's trust does not name B: B cannot assume itself.
    let err = fails_with(&assume(&s, &chained, b, &[]), "AccessDenied");
    assert!(
        err.contains(&denied_message(
            "arn:aws:sts::000000000000:assumed-role/role-b/chained",
            "sts:AssumeRole",
            b
        )),
        "{err}"
    );
    // An unknown role is AccessDenied too (never NoSuchEntity).
    let ghost = "arn:aws:iam::000000000000:role/ghost";
    let err = fails_with(&assume(&s, &a, ghost, &[]), "AccessDenied");
    assert!(
        err.contains(&denied_message(
            "arn:aws:sts::000000000000:assumed-role/role-a/pod",
            "sts:AssumeRole",
            ghost
        )),
        "{err}"
    );

    // An explicit Deny in A's identity policy beats B's trust policy.
    put_inline(
        &s,
        "role-a",
        "deny-b",
        &json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Action": "sts:AssumeRole", "Resource": b}]}),
    );
    fails_with(&assume(&s, &a, b, &[]), "AccessDenied");

    // The account root may not assume roles at all, whatever the trust says.
    let err = fails_with(
        &s.aws(&[
            "sts",
            "assume-role",
            "--role-arn",
            b,
            "--role-session-name",
            "root",
        ]),
        "AccessDenied",
    );
    assert!(
        err.contains("Roles may not be assumed by root accounts."),
        "{err}"
    );
    let root = s.raw_admin(
        "sts",
        &[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", b),
            ("RoleSessionName", "root"),
        ],
    );
    raw_fails_with(&root, 403, "AccessDenied");
}

#[test]
fn account_root_trust_needs_an_identity_policy_allow() {
    let s = Server::start();
    let a = role_a_session(&s);
    let c = "arn:aws:iam::000000000000:role/role-c";
    create_role(
        &s,
        "role-c",
        &trust(
            json!({"AWS": "arn:aws:iam::000000000000:root"}),
            json!("sts:AssumeRole"),
            None,
        ),
        &[],
    );
    // The trust delegates to the account: A needs its own Allow.
    let err = fails_with(&assume(&s, &a, c, &[]), "AccessDenied");
    assert!(
        err.contains(&denied_message(
            "arn:aws:sts::000000000000:assumed-role/role-a/pod",
            "sts:AssumeRole",
            c
        )),
        "{err}"
    );
    // An Allow on another role does not help.
    put_inline(
        &s,
        "role-a",
        "assume-other",
        &json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Resource": "arn:aws:iam::000000000000:role/other"}]}),
    );
    fails_with(&assume(&s, &a, c, &[]), "AccessDenied");
    put_inline(
        &s,
        "role-a",
        "assume-c",
        &json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": c}]}),
    );
    let v = json_out(&assume(&s, &a, c, &[]));
    assert_eq!(
        v["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::000000000000:assumed-role/role-c/chained"
    );
    // A permissions boundary on A that does not allow sts:AssumeRole limits it.
    let boundary = s.json_file(
        "boundary",
        &json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
    );
    ok(&s.aws(&[
        "iam",
        "create-policy",
        "--policy-name",
        "s3-only",
        "--policy-document",
        &boundary,
    ]));
    ok(&s.aws(&[
        "iam",
        "put-role-permissions-boundary",
        "--role-name",
        "role-a",
        "--permissions-boundary",
        "arn:aws:iam::000000000000:policy/s3-only",
    ]));
    fails_with(&assume(&s, &a, c, &[]), "AccessDenied");
    ok(&s.aws(&[
        "iam",
        "delete-role-permissions-boundary",
        "--role-name",
        "role-a",
    ]));
    ok(&assume(&s, &a, c, &[]));
}

#[test]
fn external_id_condition() {
    let s = Server::start();
    let a = role_a_session(&s);
    let d = "arn:aws:iam::000000000000:role/role-d";
    create_role(
        &s,
        "role-d",
        &trust(
            json!({"AWS": A}),
            json!("sts:AssumeRole"),
            Some(json!({"StringEquals": {"sts:ExternalId": "tenant-42:prod"}})),
        ),
        &[],
    );
    fails_with(&assume(&s, &a, d, &[]), "AccessDenied");
    fails_with(
        &assume(&s, &a, d, &["--external-id", "tenant-41:prod"]),
        "AccessDenied",
    );
    // ExternalId is case-sensitive under StringEquals.
    fails_with(
        &assume(&s, &a, d, &["--external-id", "TENANT-42:prod"]),
        "AccessDenied",
    );
    let v = json_out(&assume(&s, &a, d, &["--external-id", "tenant-42:prod"]));
    assert_eq!(
        v["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::000000000000:assumed-role/role-d/chained"
    );
    // Modelled constraints: 2..1224 characters of [\w+=,.@:\/-]*.
    let r = s.raw_as(
        &a,
        "sts",
        &[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", d),
            ("RoleSessionName", "x1"),
            ("ExternalId", "has space"),
        ],
    );
    let msg = raw_fails_with(&r, 400, "ValidationError");
    assert!(msg.contains("'externalId'"), "{msg}");
}

#[test]
fn session_tags_need_tag_session_and_transitive_tags_carry_over() {
    let s = Server::start();
    let a = role_a_session(&s);
    let b = "arn:aws:iam::000000000000:role/role-b";
    let e = "arn:aws:iam::000000000000:role/role-e";
    create_role(&s, "role-b", &trusts_a(), &[]);
    let tags = [
        "--tags",
        "Key=team,Value=blue",
        "Key=env,Value=dev",
        "--transitive-tag-keys",
        "team",
    ];
    // Without sts:TagSession in B's trust, tags are refused.
    fails_with(&assume(&s, &a, b, &tags), "AccessDenied");
    // Untagged is still fine.
    ok(&assume(&s, &a, b, &[]));
    let doc = trust(
        json!({"AWS": A}),
        json!(["sts:AssumeRole", "sts:TagSession"]),
        None,
    )
    .to_string();
    let (st, xml) = s.raw_admin(
        "iam",
        &[
            ("Action", "UpdateAssumeRolePolicy"),
            ("Version", "2010-05-08"),
            ("RoleName", "role-b"),
            ("PolicyDocument", &doc),
        ],
    );
    assert_eq!(st, 200, "{xml}");
    let v = json_out(&assume(&s, &a, b, &tags));
    assert!(v["PackedPolicySize"].as_i64().unwrap() > 0, "{v}");
    let tagged_b = creds_of(&v);
    // A transitive key must be one of the tags.
    fails_with(
        &assume(
            &s,
            &a,
            b,
            &[
                "--tags",
                "Key=team,Value=blue",
                "--transitive-tag-keys",
                "other",
            ],
        ),
        "ValidationError",
    );

    // Role E trusts B (with tags) and allows what depends on B's tags.
    create_role(
        &s,
        "role-e",
        &trust(
            json!({"AWS": b}),
            json!(["sts:AssumeRole", "sts:TagSession"]),
            None,
        ),
        &[],
    );
    put_inline(
        &s,
        "role-e",
        "by-tag",
        &json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Team", "Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}},
            {"Sid": "Env", "Effect": "Allow", "Action": "iam:ListOpenIDConnectProviders", "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/env": "dev"}}}
        ]}),
    );
    let v = json_out(&assume(&s, &tagged_b, e, &[]));
    let e_session = creds_of(&v);
    // team=blue was transitive: E's session carries it.
    ok(&s.aws_with_creds(&e_session, &["iam", "list-roles"]));
    // env=dev was not: it stopped at B.
    fails_with(
        &s.aws_with_creds(&e_session, &["iam", "list-open-id-connect-providers"]),
        "AccessDenied",
    );
    // A chained call cannot override an inherited transitive tag.
    let out = assume(&s, &tagged_b, e, &["--tags", "Key=Team,Value=red"]);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A session of B without tags reaching E has no team tag.
    let v = json_out(&assume(&s, &a, b, &[]));
    let plain_b = creds_of(&v);
    let v = json_out(&assume(&s, &plain_b, e, &[]));
    let plain_e = creds_of(&v);
    fails_with(
        &s.aws_with_creds(&plain_e, &["iam", "list-roles"]),
        "AccessDenied",
    );
}

/// AWS names the action that was refused: with tags and no sts:TagSession
/// in the trust policy, the message is about sts:TagSession.
#[test]
fn tag_session_denial_names_sts_tag_session() {
    let s = Server::start();
    let a = role_a_session(&s);
    let b = "arn:aws:iam::000000000000:role/role-b";
    create_role(&s, "role-b", &trusts_a(), &[]);
    let err = fails_with(
        &assume(&s, &a, b, &["--tags", "Key=team,Value=blue"]),
        "AccessDenied",
    );
    assert!(
        err.contains(&denied_message(
            "arn:aws:sts::000000000000:assumed-role/role-a/pod",
            "sts:TagSession",
            b
        )),
        "{err}"
    );
}

#[test]
fn a_managed_session_policy_that_is_gone_allows_nothing() {
    let s = Server::start();
    let a = role_a_session(&s);
    let c = "arn:aws:iam::000000000000:role/role-c";
    create_role(&s, "role-c", &trusts_a(), &[]);
    put_inline(
        &s,
        "role-c",
        "read-iam",
        &json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]}),
    );
    let doc = s.json_file(
        "session",
        &json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]}),
    );
    ok(&s.aws(&[
        "iam",
        "create-policy",
        "--policy-name",
        "session-limit",
        "--policy-document",
        &doc,
    ]));
    let arn = "arn:aws:iam::000000000000:policy/session-limit";
    let limited = creds_of(&json_out(&assume(
        &s,
        &a,
        c,
        &["--policy-arns", &format!("arn={arn}")],
    )));
    let get = |creds: &Credentials| {
        s.aws_with_creds(creds, &["iam", "get-role", "--role-name", "role-c"])
    };
    ok(&get(&limited));
    // Deleted, the session policy no longer allows: the session must not
    // fall back to the role's full permissions.
    ok(&s.aws(&["iam", "delete-policy", "--policy-arn", arn]));
    let err = fails_with(&get(&limited), "AccessDenied");
    assert!(err.contains("session policy"), "{err}");
}

/// "The source identity value persists across chained role sessions … After
/// the source identity is set, the value cannot be changed" (the AssumeRole
/// reference): role B's session, set to alice, hands alice on to E whether
/// or not the next call names it, E's trust must allow
/// `sts:SetSourceIdentity` for it, and bob is refused.
#[test]
fn source_identity_persists_across_chained_sessions() {
    let s = Server::start();
    let a = role_a_session(&s);
    let b = "arn:aws:iam::000000000000:role/role-b";
    let e = "arn:aws:iam::000000000000:role/role-e";
    let set = json!(["sts:AssumeRole", "sts:SetSourceIdentity"]);
    create_role(
        &s,
        "role-b",
        &trust(json!({"AWS": A}), set.clone(), None),
        &[],
    );
    let v = json_out(&assume(&s, &a, b, &["--source-identity", "alice"]));
    assert_eq!(v["SourceIdentity"], "alice", "{v}");
    let b_session = creds_of(&v);
    // E trusts B for AssumeRole only: the inherited identity is refused.
    create_role(
        &s,
        "role-e",
        &trust(json!({"AWS": b}), json!("sts:AssumeRole"), None),
        &[],
    );
    let err = fails_with(&assume(&s, &b_session, e, &[]), "AccessDenied");
    assert!(err.contains("sts:SetSourceIdentity"), "{err}");
    let doc = trust(
        json!({"AWS": b}),
        set,
        Some(json!({"StringEquals": {"sts:SourceIdentity": "alice"}})),
    )
    .to_string();
    let (st, xml) = s.raw_admin(
        "iam",
        &[
            ("Action", "UpdateAssumeRolePolicy"),
            ("Version", "2010-05-08"),
            ("RoleName", "role-e"),
            ("PolicyDocument", &doc),
        ],
    );
    assert_eq!(st, 200, "{xml}");
    let v = json_out(&assume(&s, &b_session, e, &[]));
    assert_eq!(v["SourceIdentity"], "alice", "{v}");
    let v = json_out(&assume(&s, &b_session, e, &["--source-identity", "alice"]));
    assert_eq!(v["SourceIdentity"], "alice", "{v}");
    let err = fails_with(
        &assume(&s, &b_session, e, &["--source-identity", "bob"]),
        "AccessDenied",
    );
    assert!(err.contains("sts:SetSourceIdentity"), "{err}");
}
