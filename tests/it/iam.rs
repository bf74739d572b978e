//! Every IAM operation podiam implements, through the real aws CLI (and
//! boto3), with AWS's error codes and HTTP statuses.

use super::common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::Command;

fn trust_service() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"
    }]})
}

fn allow(action: &str, resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": action, "Resource": resource
    }]})
}

/// Creates a role through a raw signed request (fast).
fn raw_role(s: &Server, name: &str, path: &str) {
    let trust = trust_service().to_string();
    let r = s.raw_admin(
        "iam",
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("Path", path),
            ("AssumeRolePolicyDocument", &trust),
        ],
    );
    assert_eq!(r.0, 200, "{}", r.1);
}

fn iam<'a>(action: &'a str, rest: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![("Action", action), ("Version", "2010-05-08")];
    v.extend_from_slice(rest);
    v
}

fn names(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {v}"))
        .iter()
        .map(|m| m[field].as_str().expect("name").to_string())
        .collect()
}

/// An IAM call as the admin over a raw signed request.
fn call(s: &Server, action: &str, params: &[(&str, &str)]) -> (u16, String) {
    s.raw_admin("iam", &iam(action, params))
}

/// An IAM call that must succeed; returns the XML.
fn call_ok(s: &Server, action: &str, params: &[(&str, &str)]) -> String {
    let (st, xml) = call(s, action, params);
    assert_eq!(st, 200, "{action}: {xml}");
    xml
}

/// An IAM call that must fail with `status` and `code`; returns the message.
fn call_err(s: &Server, action: &str, params: &[(&str, &str)], status: u16, code: &str) -> String {
    raw_fails_with(&call(s, action, params), status, code)
}

#[test]
fn oidc_provider_crud_client_ids_thumbprints_tags() {
    let s = Server::start();
    let url = "https://oidc.example.test/id/ABC";
    let arn = "arn:aws:iam::000000000000:oidc-provider/oidc.example.test/id/ABC";
    let tp1 = "0123456789abcdef0123456789abcdef01234567";
    let tp2 = "ffffffffffffffffffffffffffffffffffffffff";
    let v = json_out(&s.aws(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        url,
        "--client-id-list",
        "sts.amazonaws.com",
        "app",
        "sts.amazonaws.com",
        "--thumbprint-list",
        tp1,
        "--tags",
        "Key=env,Value=dev",
    ]));
    assert_eq!(v["OpenIDConnectProviderArn"], arn);
    assert_eq!(v["Tags"], json!([{"Key": "env", "Value": "dev"}]));

    // Url comes back without its scheme; client ids are de-duplicated.
    let get = |s: &Server| {
        json_out(&s.aws(&[
            "iam",
            "get-open-id-connect-provider",
            "--open-id-connect-provider-arn",
            arn,
        ]))
    };
    let v = get(&s);
    assert_eq!(v["Url"], "oidc.example.test/id/ABC");
    assert_eq!(v["ClientIDList"], json!(["sts.amazonaws.com", "app"]));
    assert_eq!(v["ThumbprintList"], json!([tp1]));
    assert_eq!(v["Tags"], json!([{"Key": "env", "Value": "dev"}]));
    assert!(v["CreateDate"].as_str().unwrap().ends_with('Z'), "{v}");

    // A second provider for the same URL: 409 EntityAlreadyExists.
    fails_with(
        &s.aws(&[
            "iam",
            "create-open-id-connect-provider",
            "--url",
            url,
            "--client-id-list",
            "x",
        ]),
        "EntityAlreadyExists",
    );
    call_err(
        &s,
        "CreateOpenIDConnectProvider",
        &[("Url", url), ("ClientIDList.member.1", "x")],
        409,
        "EntityAlreadyExists",
    );
    // Not a URL.
    call_err(
        &s,
        "CreateOpenIDConnectProvider",
        &[
            ("Url", "ftp://oidc.example.test"),
            ("ClientIDList.member.1", "x"),
        ],
        400,
        "InvalidInput",
    );

    // Client ids: add (idempotent), remove (idempotent).
    ok(&s.aws(&[
        "iam",
        "add-client-id-to-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        arn,
        "--client-id",
        "extra",
    ]));
    let oidc = |id: &'static str| [("OpenIDConnectProviderArn", arn), ("ClientID", id)];
    call_ok(&s, "AddClientIDToOpenIDConnectProvider", &oidc("extra"));
    ok(&s.aws(&[
        "iam",
        "remove-client-id-from-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        arn,
        "--client-id",
        "app",
    ]));
    call_ok(
        &s,
        "RemoveClientIDFromOpenIDConnectProvider",
        &oidc("never-added"),
    );
    // Only the length is IAM's rule: the API reference's own example.
    call_ok(
        &s,
        "UpdateOpenIDConnectProviderThumbprint",
        &[
            ("OpenIDConnectProviderArn", arn),
            (
                "ThumbprintList.member.1",
                "7359755EXAMPLEabc3060bce3EXAMPLEec4542a3",
            ),
        ],
    );
    assert_eq!(
        get(&s)["ThumbprintList"],
        json!(["7359755EXAMPLEabc3060bce3EXAMPLEec4542a3"])
    );
    // The thumbprint list is replaced, not merged.
    ok(&s.aws(&[
        "iam",
        "update-open-id-connect-provider-thumbprint",
        "--open-id-connect-provider-arn",
        arn,
        "--thumbprint-list",
        tp2,
    ]));
    // Tags: add, overwrite case-insensitively, remove, list.
    ok(&s.aws(&[
        "iam",
        "tag-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        arn,
        "--tags",
        "Key=team,Value=a",
        "Key=ENV,Value=prod",
    ]));
    ok(&s.aws(&[
        "iam",
        "untag-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        arn,
        "--tag-keys",
        "team",
    ]));
    let tags = json_out(&s.aws(&[
        "iam",
        "list-open-id-connect-provider-tags",
        "--open-id-connect-provider-arn",
        arn,
    ]));
    assert_eq!(tags["Tags"], json!([{"Key": "env", "Value": "prod"}]));
    let v = get(&s);
    assert_eq!(v["ClientIDList"], json!(["sts.amazonaws.com", "extra"]));
    assert_eq!(v["ThumbprintList"], json!([tp2]));

    let list = json_out(&s.aws(&["iam", "list-open-id-connect-providers"]));
    assert_eq!(list["OpenIDConnectProviderList"], json!([{"Arn": arn}]));

    ok(&s.aws(&[
        "iam",
        "delete-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        arn,
    ]));
    let err = fails_with(
        &s.aws(&[
            "iam",
            "get-open-id-connect-provider",
            "--open-id-connect-provider-arn",
            arn,
        ]),
        "NoSuchEntity",
    );
    assert!(err.contains(arn), "{err}");
    // Deleting is idempotent: "it does not fail or return an error if you
    // call the operation for a provider that does not exist".
    ok(&s.aws(&[
        "iam",
        "delete-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        arn,
    ]));
    for action in ["GetOpenIDConnectProvider", "ListOpenIDConnectProviderTags"] {
        call_err(
            &s,
            action,
            &[("OpenIDConnectProviderArn", arn)],
            404,
            "NoSuchEntity",
        );
    }
    call_err(
        &s,
        "AddClientIDToOpenIDConnectProvider",
        &oidc("x"),
        404,
        "NoSuchEntity",
    );
    let xml = call_ok(&s, "ListOpenIDConnectProviders", &[]);
    assert!(!xml.contains("<member>"), "{xml}");
}

#[test]
fn role_create_get_update_tag_delete() {
    let s = Server::start();
    let trust = s.json_file("trust", &trust_service());
    // Latin-1 is what the model allows in a role description.
    let description = "Rôle für das Café: ü ß ñ (Latin-1 only)";
    let v = json_out(&s.aws(&[
        "iam",
        "create-role",
        "--role-name",
        "App-Role",
        "--path",
        "/team/a/",
        "--description",
        description,
        "--max-session-duration",
        "7200",
        "--tags",
        "Key=team,Value=a",
        "Key=cost center,Value=42",
        "--assume-role-policy-document",
        &trust,
    ]));
    let role = &v["Role"];
    assert_eq!(
        role["Arn"],
        "arn:aws:iam::000000000000:role/team/a/App-Role"
    );
    assert_eq!(role["Path"], "/team/a/");
    assert_eq!(role["MaxSessionDuration"], 7200);
    assert_eq!(role["Description"], description);
    // The CLI decoded the URL-encoded document back into JSON.
    assert_eq!(role["AssumeRolePolicyDocument"], trust_service());
    let id = role["RoleId"].as_str().unwrap().to_string();
    assert!(id.starts_with("AROA") && id.len() == 21, "{id}");

    // Names are unique case-insensitively: 409.
    let err = fails_with(
        &s.aws(&[
            "iam",
            "create-role",
            "--role-name",
            "app-role",
            "--assume-role-policy-document",
            &trust,
        ]),
        "EntityAlreadyExists",
    );
    assert!(
        err.contains("Role with name app-role already exists."),
        "{err}"
    );
    let t = trust_service().to_string();
    call_err(
        &s,
        "CreateRole",
        &[("RoleName", "APP-ROLE"), ("AssumeRolePolicyDocument", &t)],
        409,
        "EntityAlreadyExists",
    );

    let got = json_out(&s.aws(&["iam", "get-role", "--role-name", "App-Role"]));
    assert_eq!(got["Role"]["RoleId"], id.as_str());
    assert_eq!(got["Role"]["Description"], description);
    assert_eq!(
        got["Role"]["Tags"],
        json!([{"Key": "team", "Value": "a"}, {"Key": "cost center", "Value": "42"}])
    );

    // UpdateRole, UpdateRoleDescription, UpdateAssumeRolePolicy.
    ok(&s.aws(&[
        "iam",
        "update-role",
        "--role-name",
        "App-Role",
        "--description",
        "second description",
        "--max-session-duration",
        "43200",
    ]));
    let xml = call_ok(&s, "GetRole", &[("RoleName", "App-Role")]);
    assert_eq!(xml_field(&xml, "Description"), Some("second description"));
    assert_eq!(xml_field(&xml, "MaxSessionDuration"), Some("43200"));
    let v = json_out(&s.aws(&[
        "iam",
        "update-role-description",
        "--role-name",
        "App-Role",
        "--description",
        "third",
    ]));
    assert_eq!(v["Role"]["Description"], "third");
    let new_trust = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Pods", "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"]
    }]});
    let f = s.json_file("trust2", &new_trust);
    ok(&s.aws(&[
        "iam",
        "update-assume-role-policy",
        "--role-name",
        "App-Role",
        "--policy-document",
        &f,
    ]));

    // Tags: TagRole overwrites keys case-insensitively; UntagRole; ListRoleTags.
    ok(&s.aws(&[
        "iam",
        "tag-role",
        "--role-name",
        "App-Role",
        "--tags",
        "Key=TEAM,Value=b",
        "Key=env,Value=prod",
    ]));
    ok(&s.aws(&[
        "iam",
        "untag-role",
        "--role-name",
        "App-Role",
        "--tag-keys",
        "cost center",
    ]));
    let tags = json_out(&s.aws(&["iam", "list-role-tags", "--role-name", "App-Role"]));
    assert_eq!(
        tags["Tags"],
        json!([{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "prod"}])
    );
    call_err(
        &s,
        "TagRole",
        &[
            ("RoleName", "App-Role"),
            ("Tags.member.1.Key", "dup"),
            ("Tags.member.1.Value", "1"),
            ("Tags.member.2.Key", "DUP"),
            ("Tags.member.2.Value", "2"),
        ],
        400,
        "InvalidInput",
    );

    // Everything together, as GetRole returns it.
    let got = json_out(&s.aws(&["iam", "get-role", "--role-name", "App-Role"]));
    let r = &got["Role"];
    assert_eq!(r["AssumeRolePolicyDocument"], new_trust);
    assert_eq!(
        (&r["Description"], &r["MaxSessionDuration"]),
        (&json!("third"), &json!(43200))
    );
    assert_eq!(r["Tags"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(r["RoleId"], id.as_str());

    // Unknown roles: 404 everywhere.
    let nope = [("RoleName", "nope")];
    for (action, extra) in [
        ("GetRole", vec![]),
        ("UpdateRole", vec![("Description", "x")]),
        ("UpdateRoleDescription", vec![("Description", "x")]),
        (
            "UpdateAssumeRolePolicy",
            vec![("PolicyDocument", t.as_str())],
        ),
        (
            "TagRole",
            vec![("Tags.member.1.Key", "a"), ("Tags.member.1.Value", "b")],
        ),
        ("UntagRole", vec![("TagKeys.member.1", "a")]),
        ("ListRoleTags", vec![]),
        ("DeleteRole", vec![]),
    ] {
        let mut params = nope.to_vec();
        params.extend(extra);
        let msg = call_err(&s, action, &params, 404, "NoSuchEntity");
        assert_eq!(msg, "The role with name nope cannot be found.", "{action}");
    }

    ok(&s.aws(&["iam", "delete-role", "--role-name", "App-Role"]));
    fails_with(
        &s.aws(&["iam", "get-role", "--role-name", "App-Role"]),
        "NoSuchEntity",
    );
}

#[test]
fn list_roles_path_prefix_and_paging() {
    let s = Server::start();
    for n in ["p-a", "P-b", "p-c", "p-d", "p-e"] {
        raw_role(&s, n, "/p/");
    }
    raw_role(&s, "other", "/");
    raw_role(&s, "deep", "/p/q/");

    let v = json_out(&s.aws(&["iam", "list-roles", "--path-prefix", "/p/"]));
    let listed = names(&v, "Roles", "RoleName");
    let all: BTreeSet<String> = listed.iter().cloned().collect();
    let want: BTreeSet<String> = ["p-a", "P-b", "p-c", "p-d", "p-e", "deep"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    assert_eq!((listed.len(), &all), (6, &want));
    let deep = json_out(&s.aws(&["iam", "list-roles", "--path-prefix", "/p/q/"]));
    assert_eq!(names(&deep, "Roles", "RoleName"), ["deep"]);

    // --max-items: the CLI hands back a NextToken to resume from.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut args = vec![
            "iam",
            "list-roles",
            "--path-prefix",
            "/p/",
            "--max-items",
            "2",
        ];
        if let Some(t) = &token {
            args.extend(["--starting-token", t.as_str()]);
        }
        let v = json_out(&s.aws(&args));
        let page = names(&v, "Roles", "RoleName");
        assert!(page.len() <= 2, "{v}");
        seen.extend(page);
        match v["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), all);
    assert_eq!(seen.len(), 6, "{seen:?}");

    // --page-size: the CLI follows the server's Marker across requests.
    let v = json_out(&s.aws(&[
        "iam",
        "list-roles",
        "--path-prefix",
        "/p/",
        "--page-size",
        "2",
    ]));
    let paged = names(&v, "Roles", "RoleName");
    assert_eq!(paged.len(), 6, "{paged:?}");
    assert_eq!(paged.iter().cloned().collect::<BTreeSet<_>>(), all);

    // The wire: MaxItems → IsTruncated + Marker.
    let (st, xml) = s.raw_admin(
        "iam",
        &iam("ListRoles", &[("PathPrefix", "/p/"), ("MaxItems", "4")]),
    );
    assert_eq!(st, 200, "{xml}");
    assert_eq!(xml.matches("<member>").count(), 4, "{xml}");
    assert_eq!(xml_field(&xml, "IsTruncated"), Some("true"), "{xml}");
    let marker = xml_field(&xml, "Marker").expect("marker").to_string();
    let (st, xml2) = s.raw_admin(
        "iam",
        &iam(
            "ListRoles",
            &[
                ("PathPrefix", "/p/"),
                ("MaxItems", "4"),
                ("Marker", &marker),
            ],
        ),
    );
    assert_eq!(st, 200, "{xml2}");
    assert_eq!(xml2.matches("<member>").count(), 2, "{xml2}");
    assert_eq!(xml_field(&xml2, "IsTruncated"), Some("false"), "{xml2}");
    assert!(xml_field(&xml2, "Marker").is_none(), "{xml2}");
    // ListRoles does not return tags, boundaries or RoleLastUsed.
    assert!(!xml.contains("<RoleLastUsed"), "{xml}");

    // MaxItems outside 1..=1000.
    for bad in ["0", "1001"] {
        let r = s.raw_admin("iam", &iam("ListRoles", &[("MaxItems", bad)]));
        let msg = raw_fails_with(&r, 400, "ValidationError");
        assert!(msg.contains("'maxItems'"), "{msg}");
    }
}

#[test]
fn inline_role_policies() {
    let s = Server::start();
    raw_role(&s, "r1", "/");
    // Spaces and non-ASCII Latin-1 survive the URL-encoding round trip.
    let doc = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadReports2026",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::reports/a folder with spaces/*", "arn:aws:s3:::reports/café+ü/*"]
    }]});
    let f = s.json_file("inline", &doc);
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "r1",
        "--policy-name",
        "read",
        "--policy-document",
        &f,
    ]));
    // Pretty-printed documents are stored as sent.
    let pretty = serde_json::to_string_pretty(&allow("sts:GetCallerIdentity", "*")).unwrap();
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "r1",
        "--policy-name",
        "second",
        "--policy-document",
        &pretty,
    ]));
    let v = json_out(&s.aws(&[
        "iam",
        "get-role-policy",
        "--role-name",
        "r1",
        "--policy-name",
        "read",
    ]));
    assert_eq!(v["RoleName"], "r1");
    assert_eq!(v["PolicyName"], "read");
    assert_eq!(v["PolicyDocument"], doc);
    let v = json_out(&s.aws(&[
        "iam",
        "get-role-policy",
        "--role-name",
        "r1",
        "--policy-name",
        "second",
    ]));
    assert_eq!(v["PolicyDocument"], allow("sts:GetCallerIdentity", "*"));
    // The raw document is URL-encoded with %20 for spaces (never `+`).
    let (st, xml) = s.raw_admin(
        "iam",
        &iam(
            "GetRolePolicy",
            &[("RoleName", "r1"), ("PolicyName", "read")],
        ),
    );
    assert_eq!(st, 200, "{xml}");
    let enc = xml_field(&xml, "PolicyDocument").unwrap();
    assert!(enc.contains("a%20folder%20with%20spaces"), "{enc}");
    assert!(enc.contains("caf%C3%A9%2B%C3%BC"), "{enc}");

    let v = json_out(&s.aws(&["iam", "list-role-policies", "--role-name", "r1"]));
    assert_eq!(v["PolicyNames"], json!(["read", "second"]));

    // A role with inline policies cannot be deleted.
    let err = fails_with(
        &s.aws(&["iam", "delete-role", "--role-name", "r1"]),
        "DeleteConflict",
    );
    assert!(err.contains("must delete policies first"), "{err}");
    call_err(
        &s,
        "DeleteRole",
        &[("RoleName", "r1")],
        409,
        "DeleteConflict",
    );

    ok(&s.aws(&[
        "iam",
        "delete-role-policy",
        "--role-name",
        "r1",
        "--policy-name",
        "read",
    ]));
    let err = fails_with(
        &s.aws(&[
            "iam",
            "get-role-policy",
            "--role-name",
            "r1",
            "--policy-name",
            "read",
        ]),
        "NoSuchEntity",
    );
    assert!(
        err.contains("The role policy with name read cannot be found."),
        "{err}"
    );
    let d = doc.to_string();
    for (action, params) in [
        (
            "DeleteRolePolicy",
            vec![("RoleName", "r1"), ("PolicyName", "read")],
        ),
        (
            "GetRolePolicy",
            vec![("RoleName", "nope"), ("PolicyName", "read")],
        ),
        ("ListRolePolicies", vec![("RoleName", "nope")]),
        (
            "PutRolePolicy",
            vec![
                ("RoleName", "nope"),
                ("PolicyName", "p"),
                ("PolicyDocument", &d),
            ],
        ),
    ] {
        call_err(&s, action, &params, 404, "NoSuchEntity");
    }
    let v = json_out(&s.aws(&["iam", "list-role-policies", "--role-name", "r1"]));
    assert_eq!(v["PolicyNames"], json!(["second"]));
    call_ok(
        &s,
        "DeleteRolePolicy",
        &[("RoleName", "r1"), ("PolicyName", "second")],
    );
    ok(&s.aws(&["iam", "delete-role", "--role-name", "r1"]));
}

#[test]
fn managed_policies_versions_and_limits() {
    let s = Server::start();
    let arn = "arn:aws:iam::000000000000:policy/team/reports";
    let v1 = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "V1", "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::bucket/key with spaces/ünïcödé/*"
    }]});
    let f1 = s.json_file("v1", &v1);
    let description = "Reports — read access ✓ (unicode is fine in a policy description)";
    let v = json_out(&s.aws(&[
        "iam",
        "create-policy",
        "--policy-name",
        "reports",
        "--path",
        "/team/",
        "--description",
        description,
        "--policy-document",
        &f1,
        "--tags",
        "Key=owner,Value=data",
    ]));
    let p = &v["Policy"];
    assert_eq!(p["Arn"], arn);
    assert_eq!(p["Path"], "/team/");
    assert_eq!(p["DefaultVersionId"], "v1");
    assert_eq!(p["AttachmentCount"], 0);
    assert_eq!(p["IsAttachable"], true);
    assert_eq!(p["Description"], description);
    assert!(p["PolicyId"].as_str().unwrap().starts_with("ANPA"), "{p}");

    let d1 = v1.to_string();
    call_err(
        &s,
        "CreatePolicy",
        &[("PolicyName", "REPORTS"), ("PolicyDocument", &d1)],
        409,
        "EntityAlreadyExists",
    );

    let got = json_out(&s.aws(&["iam", "get-policy", "--policy-arn", arn]));
    assert_eq!(got["Policy"]["Description"], description);
    assert_eq!(
        got["Policy"]["Tags"],
        json!([{"Key": "owner", "Value": "data"}])
    );
    let pv = json_out(&s.aws(&[
        "iam",
        "get-policy-version",
        "--policy-arn",
        arn,
        "--version-id",
        "v1",
    ]));
    assert_eq!(pv["PolicyVersion"]["Document"], v1);
    assert_eq!(pv["PolicyVersion"]["IsDefaultVersion"], true);

    // Versions v2..v5; the sixth is LimitExceeded (409).
    let f2 = s.json_file("v2", &allow("s3:Get2", "*"));
    let v = json_out(&s.aws(&[
        "iam",
        "create-policy-version",
        "--policy-arn",
        arn,
        "--policy-document",
        &f2,
    ]));
    assert_eq!(v["PolicyVersion"]["VersionId"], "v2");
    assert_eq!(v["PolicyVersion"]["IsDefaultVersion"], false);
    for n in 3..=5 {
        let d = allow(&format!("s3:Get{n}"), "*").to_string();
        let xml = call_ok(
            &s,
            "CreatePolicyVersion",
            &[("PolicyArn", arn), ("PolicyDocument", &d)],
        );
        assert_eq!(xml_field(&xml, "VersionId"), Some(format!("v{n}").as_str()));
    }
    let f6 = s.json_file("v6", &allow("s3:Get6", "*"));
    let err = fails_with(
        &s.aws(&[
            "iam",
            "create-policy-version",
            "--policy-arn",
            arn,
            "--policy-document",
            &f6,
        ]),
        "LimitExceeded",
    );
    assert!(err.contains("5 versions"), "{err}");
    let d6 = allow("s3:Get6", "*").to_string();
    call_err(
        &s,
        "CreatePolicyVersion",
        &[("PolicyArn", arn), ("PolicyDocument", &d6)],
        409,
        "LimitExceeded",
    );

    let list = json_out(&s.aws(&["iam", "list-policy-versions", "--policy-arn", arn]));
    let versions: BTreeSet<String> = names(&list, "Versions", "VersionId").into_iter().collect();
    assert_eq!(
        versions,
        ["v1", "v2", "v3", "v4", "v5"]
            .iter()
            .map(|x| x.to_string())
            .collect()
    );
    let defaults: Vec<&Value> = list["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["IsDefaultVersion"] == true)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["VersionId"], "v1");

    // The default version cannot be deleted: 409 DeleteConflict.
    let version = |v: &'static str| [("PolicyArn", arn), ("VersionId", v)];
    call_err(
        &s,
        "DeletePolicyVersion",
        &version("v1"),
        409,
        "DeleteConflict",
    );
    ok(&s.aws(&[
        "iam",
        "set-default-policy-version",
        "--policy-arn",
        arn,
        "--version-id",
        "v3",
    ]));
    ok(&s.aws(&[
        "iam",
        "delete-policy-version",
        "--policy-arn",
        arn,
        "--version-id",
        "v1",
    ]));
    for action in [
        "GetPolicyVersion",
        "SetDefaultPolicyVersion",
        "DeletePolicyVersion",
    ] {
        call_err(&s, action, &version("v1"), 404, "NoSuchEntity");
    }
    // --set-as-default makes the new version (v6, ids never reused) the default.
    let v = json_out(&s.aws(&[
        "iam",
        "create-policy-version",
        "--policy-arn",
        arn,
        "--policy-document",
        &f6,
        "--set-as-default",
    ]));
    assert_eq!(v["PolicyVersion"]["VersionId"], "v6");
    assert_eq!(v["PolicyVersion"]["IsDefaultVersion"], true);
    let xml = call_ok(&s, "GetPolicy", &[("PolicyArn", arn)]);
    assert_eq!(xml_field(&xml, "DefaultVersionId"), Some("v6"));

    // A policy with several versions cannot be deleted; with one it can.
    call_err(
        &s,
        "DeletePolicy",
        &[("PolicyArn", arn)],
        409,
        "DeleteConflict",
    );
    for v in ["v2", "v3", "v4", "v5"] {
        call_ok(&s, "DeletePolicyVersion", &version(v));
    }
    ok(&s.aws(&["iam", "delete-policy", "--policy-arn", arn]));
    let msg = call_err(&s, "GetPolicy", &[("PolicyArn", arn)], 404, "NoSuchEntity");
    assert_eq!(msg, format!("Policy {arn} was not found."));
}

#[test]
fn attach_detach_list_policies_and_aws_managed() {
    let s = Server::start();
    raw_role(&s, "app", "/");
    let s3ro = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
    let local = "arn:aws:iam::000000000000:policy/local-one";
    let unused = "arn:aws:iam::000000000000:policy/unused";
    let f = s.json_file("local-one", &allow("s3:ListBucket", "*"));
    ok(&s.aws(&[
        "iam",
        "create-policy",
        "--policy-name",
        "local-one",
        "--policy-document",
        &f,
    ]));
    let d = allow("s3:ListBucket", "*").to_string();
    call_ok(
        &s,
        "CreatePolicy",
        &[("PolicyName", "unused"), ("PolicyDocument", &d)],
    );
    // AWS managed policies resolve to their real documents.
    let v = json_out(&s.aws(&["iam", "get-policy", "--policy-arn", s3ro]));
    assert_eq!(v["Policy"]["PolicyName"], "AmazonS3ReadOnlyAccess");
    assert_eq!(v["Policy"]["AttachmentCount"], 0);
    // Its default version is AWS's current one (v3 at AWS since 2023).
    let version = v["Policy"]["DefaultVersionId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(version, "v3");
    let doc = json_out(&s.aws(&[
        "iam",
        "get-policy-version",
        "--policy-arn",
        s3ro,
        "--version-id",
        &version,
    ]));
    let actions = &doc["PolicyVersion"]["Document"]["Statement"][0]["Action"];
    assert!(
        actions.as_array().unwrap().contains(&json!("s3:Get*")),
        "{doc}"
    );

    for p in [local, s3ro] {
        ok(&s.aws(&[
            "iam",
            "attach-role-policy",
            "--role-name",
            "app",
            "--policy-arn",
            p,
        ]));
    }
    // Attaching twice is a no-op.
    call_ok(
        &s,
        "AttachRolePolicy",
        &[("RoleName", "app"), ("PolicyArn", local)],
    );
    let v = json_out(&s.aws(&["iam", "list-attached-role-policies", "--role-name", "app"]));
    assert_eq!(
        v["AttachedPolicies"],
        json!([
            {"PolicyName": "local-one", "PolicyArn": local},
            {"PolicyName": "AmazonS3ReadOnlyAccess", "PolicyArn": s3ro}
        ])
    );
    for p in [local, s3ro] {
        let xml = call_ok(&s, "GetPolicy", &[("PolicyArn", p)]);
        assert_eq!(xml_field(&xml, "AttachmentCount"), Some("1"), "{xml}");
    }
    let v = json_out(&s.aws(&["iam", "list-entities-for-policy", "--policy-arn", local]));
    assert_eq!(names(&v, "PolicyRoles", "RoleName"), ["app"]);
    // A role bounded by the policy is listed too, unless the usage filter
    // asks for permissions policies only; users and groups are none.
    raw_role(&s, "bounded", "/team/");
    ok(&s.aws(&[
        "iam",
        "put-role-permissions-boundary",
        "--role-name",
        "bounded",
        "--permissions-boundary",
        local,
    ]));
    let entities = |extra: &[&str]| {
        let mut args = vec!["iam", "list-entities-for-policy", "--policy-arn", local];
        args.extend_from_slice(extra);
        names(&json_out(&s.aws(&args)), "PolicyRoles", "RoleName")
    };
    assert_eq!(entities(&[]), ["app", "bounded"]);
    assert_eq!(
        entities(&["--policy-usage-filter", "PermissionsPolicy"]),
        ["app"]
    );
    assert_eq!(
        entities(&["--policy-usage-filter", "PermissionsBoundary"]),
        ["bounded"]
    );
    assert_eq!(entities(&["--path-prefix", "/team/"]), ["bounded"]);
    assert_eq!(entities(&["--entity-filter", "Role"]), ["app", "bounded"]);
    assert!(entities(&["--entity-filter", "User"]).is_empty());
    call_err(
        &s,
        "ListEntitiesForPolicy",
        &[("PolicyArn", local), ("EntityFilter", "Robot")],
        400,
        "ValidationError",
    );
    ok(&s.aws(&[
        "iam",
        "delete-role-permissions-boundary",
        "--role-name",
        "bounded",
    ]));

    // ListPolicies: --scope Local / AWS, --only-attached.
    let v = json_out(&s.aws(&["iam", "list-policies", "--scope", "Local"]));
    let local_names: BTreeSet<String> = names(&v, "Policies", "PolicyName").into_iter().collect();
    assert_eq!(
        local_names,
        ["local-one", "unused"]
            .iter()
            .map(|x| x.to_string())
            .collect()
    );
    let v = json_out(&s.aws(&["iam", "list-policies", "--scope", "AWS"]));
    let aws_names = names(&v, "Policies", "PolicyName");
    assert!(
        aws_names.contains(&"AmazonS3ReadOnlyAccess".to_string()),
        "{v}"
    );
    assert!(!aws_names.contains(&"local-one".to_string()), "{v}");
    let v = json_out(&s.aws(&["iam", "list-policies", "--only-attached"]));
    let attached: BTreeSet<String> = names(&v, "Policies", "Arn").into_iter().collect();
    assert_eq!(
        attached,
        [local, s3ro].iter().map(|x| x.to_string()).collect()
    );
    let v = json_out(&s.aws(&[
        "iam",
        "list-policies",
        "--scope",
        "Local",
        "--only-attached",
    ]));
    assert_eq!(names(&v, "Policies", "Arn"), [local]);
    let v = json_out(&s.aws(&["iam", "list-policies"]));
    let every: BTreeSet<String> = names(&v, "Policies", "Arn").into_iter().collect();
    assert!(
        every.contains(local) && every.contains(unused) && every.contains(s3ro),
        "{v}"
    );

    // Attached policies block deletes: 409 DeleteConflict.
    let err = fails_with(
        &s.aws(&["iam", "delete-policy", "--policy-arn", local]),
        "DeleteConflict",
    );
    assert!(err.contains("attached"), "{err}");
    let err = fails_with(
        &s.aws(&["iam", "delete-role", "--role-name", "app"]),
        "DeleteConflict",
    );
    assert!(err.contains("must detach all policies first"), "{err}");

    // Missing things: 404.
    for (action, role, policy) in [
        (
            "AttachRolePolicy",
            "app",
            "arn:aws:iam::000000000000:policy/nope",
        ),
        ("AttachRolePolicy", "nope", local),
        ("DetachRolePolicy", "app", unused),
        ("DetachRolePolicy", "nope", local),
    ] {
        call_err(
            &s,
            action,
            &[("RoleName", role), ("PolicyArn", policy)],
            404,
            "NoSuchEntity",
        );
    }
    call_err(
        &s,
        "GetPolicy",
        &[("PolicyArn", "arn:aws:iam::aws:policy/NoSuchManagedPolicy")],
        404,
        "NoSuchEntity",
    );
    call_err(
        &s,
        "ListEntitiesForPolicy",
        &[("PolicyArn", "arn:aws:iam::000000000000:policy/nope")],
        404,
        "NoSuchEntity",
    );

    for p in [local, s3ro] {
        ok(&s.aws(&[
            "iam",
            "detach-role-policy",
            "--role-name",
            "app",
            "--policy-arn",
            p,
        ]));
    }
    let v = json_out(&s.aws(&["iam", "list-attached-role-policies", "--role-name", "app"]));
    assert_eq!(v["AttachedPolicies"], json!([]));
    ok(&s.aws(&["iam", "delete-policy", "--policy-arn", local]));
    call_ok(&s, "DeleteRole", &[("RoleName", "app")]);
}

#[test]
fn managed_policies_per_role_quota_is_10() {
    let s = Server::start();
    raw_role(&s, "busy", "/");
    let doc = allow("s3:ListBucket", "*").to_string();
    for i in 0..11 {
        let name = format!("p{i}");
        let r = s.raw_admin(
            "iam",
            &iam(
                "CreatePolicy",
                &[("PolicyName", &name), ("PolicyDocument", &doc)],
            ),
        );
        assert_eq!(r.0, 200, "{}", r.1);
    }
    for i in 0..10 {
        let arn = format!("arn:aws:iam::000000000000:policy/p{i}");
        let r = s.raw_admin(
            "iam",
            &iam(
                "AttachRolePolicy",
                &[("RoleName", "busy"), ("PolicyArn", &arn)],
            ),
        );
        assert_eq!(r.0, 200, "{}", r.1);
    }
    let err = fails_with(
        &s.aws(&[
            "iam",
            "attach-role-policy",
            "--role-name",
            "busy",
            "--policy-arn",
            "arn:aws:iam::000000000000:policy/p10",
        ]),
        "LimitExceeded",
    );
    assert!(
        err.contains("Cannot exceed quota for PoliciesPerRole: 10"),
        "{err}"
    );
}

#[test]
fn instance_profiles_hold_one_role() {
    let s = Server::start();
    raw_role(&s, "web", "/");
    raw_role(&s, "worker", "/");
    let v = json_out(&s.aws(&[
        "iam",
        "create-instance-profile",
        "--instance-profile-name",
        "web-profile",
        "--path",
        "/ec2/",
        "--tags",
        "Key=tier,Value=web",
    ]));
    let ip = &v["InstanceProfile"];
    assert_eq!(
        ip["Arn"],
        "arn:aws:iam::000000000000:instance-profile/ec2/web-profile"
    );
    assert_eq!(ip["Roles"], json!([]));
    assert!(
        ip["InstanceProfileId"]
            .as_str()
            .unwrap()
            .starts_with("AIPA"),
        "{ip}"
    );
    assert_eq!(ip["Tags"], json!([{"Key": "tier", "Value": "web"}]));
    call_err(
        &s,
        "CreateInstanceProfile",
        &[("InstanceProfileName", "WEB-PROFILE")],
        409,
        "EntityAlreadyExists",
    );

    ok(&s.aws(&[
        "iam",
        "add-role-to-instance-profile",
        "--instance-profile-name",
        "web-profile",
        "--role-name",
        "web",
    ]));
    let pair = |p: &'static str, r: &'static str| [("InstanceProfileName", p), ("RoleName", r)];
    call_err(
        &s,
        "AddRoleToInstanceProfile",
        &pair("web-profile", "web"),
        409,
        "EntityAlreadyExists",
    );
    // Only one role per instance profile: 409 LimitExceeded.
    fails_with(
        &s.aws(&[
            "iam",
            "add-role-to-instance-profile",
            "--instance-profile-name",
            "web-profile",
            "--role-name",
            "worker",
        ]),
        "LimitExceeded",
    );
    call_err(
        &s,
        "AddRoleToInstanceProfile",
        &pair("web-profile", "worker"),
        409,
        "LimitExceeded",
    );
    call_err(
        &s,
        "AddRoleToInstanceProfile",
        &pair("web-profile", "nope"),
        404,
        "NoSuchEntity",
    );
    call_err(
        &s,
        "AddRoleToInstanceProfile",
        &pair("nope", "web"),
        404,
        "NoSuchEntity",
    );

    let v = json_out(&s.aws(&[
        "iam",
        "get-instance-profile",
        "--instance-profile-name",
        "web-profile",
    ]));
    assert_eq!(names(&v["InstanceProfile"], "Roles", "RoleName"), ["web"]);
    assert_eq!(
        v["InstanceProfile"]["Roles"][0]["AssumeRolePolicyDocument"],
        trust_service()
    );
    let v = json_out(&s.aws(&["iam", "list-instance-profiles", "--path-prefix", "/ec2/"]));
    assert_eq!(
        names(&v, "InstanceProfiles", "InstanceProfileName"),
        ["web-profile"]
    );
    let xml = call_ok(&s, "ListInstanceProfiles", &[("PathPrefix", "/other/")]);
    assert!(!xml.contains("<member>"), "{xml}");
    let v = json_out(&s.aws(&[
        "iam",
        "list-instance-profiles-for-role",
        "--role-name",
        "web",
    ]));
    assert_eq!(
        names(&v, "InstanceProfiles", "InstanceProfileName"),
        ["web-profile"]
    );
    let xml = call_ok(&s, "ListInstanceProfilesForRole", &[("RoleName", "worker")]);
    assert!(!xml.contains("<member>"), "{xml}");

    // A role in a profile, and a profile with a role, cannot be deleted.
    let err = fails_with(
        &s.aws(&["iam", "delete-role", "--role-name", "web"]),
        "DeleteConflict",
    );
    assert!(
        err.contains("must remove roles from instance profile first"),
        "{err}"
    );
    call_err(
        &s,
        "DeleteInstanceProfile",
        &[("InstanceProfileName", "web-profile")],
        409,
        "DeleteConflict",
    );

    ok(&s.aws(&[
        "iam",
        "remove-role-from-instance-profile",
        "--instance-profile-name",
        "web-profile",
        "--role-name",
        "web",
    ]));
    call_err(
        &s,
        "RemoveRoleFromInstanceProfile",
        &pair("web-profile", "web"),
        404,
        "NoSuchEntity",
    );
    // Now a second role fits.
    call_ok(
        &s,
        "AddRoleToInstanceProfile",
        &pair("web-profile", "worker"),
    );
    call_ok(
        &s,
        "RemoveRoleFromInstanceProfile",
        &pair("web-profile", "worker"),
    );
    ok(&s.aws(&[
        "iam",
        "delete-instance-profile",
        "--instance-profile-name",
        "web-profile",
    ]));
    call_ok(&s, "DeleteRole", &[("RoleName", "web")]);
    call_err(
        &s,
        "GetInstanceProfile",
        &[("InstanceProfileName", "web-profile")],
        404,
        "NoSuchEntity",
    );
}

#[test]
fn malformed_policy_documents() {
    let s = Server::start();
    raw_role(&s, "target", "/");
    raw_role(&s, "exists", "/svc/");
    let trust_with_resource = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole", "Resource": "*"
    }]})
    .to_string();
    let err = fails_with(
        &s.aws(&[
            "iam",
            "create-role",
            "--role-name",
            "r",
            "--assume-role-policy-document",
            &trust_with_resource,
        ]),
        "MalformedPolicyDocument",
    );
    assert!(err.contains("Has prohibited field Resource"), "{err}");
    call_err(
        &s,
        "UpdateAssumeRolePolicy",
        &[
            ("RoleName", "target"),
            ("PolicyDocument", &trust_with_resource),
        ],
        400,
        "MalformedPolicyDocument",
    );

    // An identity policy may not name a principal.
    let with_principal = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"
    }]})
    .to_string();
    let err = fails_with(
        &s.aws(&[
            "iam",
            "put-role-policy",
            "--role-name",
            "target",
            "--policy-name",
            "p",
            "--policy-document",
            &with_principal,
        ]),
        "MalformedPolicyDocument",
    );
    assert!(err.contains("should not specify a principal"), "{err}");
    // A bad Effect and bad JSON, in every identity-policy write.
    let bad_effect = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Maybe", "Action": "s3:*", "Resource": "*"
    }]})
    .to_string();
    let bad_json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","#;
    let good = allow("s3:GetObject", "*").to_string();
    call_ok(
        &s,
        "CreatePolicy",
        &[("PolicyName", "existing"), ("PolicyDocument", &good)],
    );
    let existing = "arn:aws:iam::000000000000:policy/existing";
    for doc in [with_principal.as_str(), bad_effect.as_str(), bad_json] {
        for (action, params) in [
            ("CreatePolicy", vec![("PolicyName", "p")]),
            (
                "PutRolePolicy",
                vec![("RoleName", "target"), ("PolicyName", "p")],
            ),
            ("CreatePolicyVersion", vec![("PolicyArn", existing)]),
        ] {
            let mut params = params;
            params.push(("PolicyDocument", doc));
            call_err(&s, action, &params, 400, "MalformedPolicyDocument");
        }
    }
    fails_with(
        &s.aws(&[
            "iam",
            "create-policy",
            "--policy-name",
            "p",
            "--policy-document",
            &bad_effect,
        ]),
        "MalformedPolicyDocument",
    );
    // Nothing was created by the failed calls.
    let v = json_out(&s.aws(&["iam", "list-policies", "--scope", "Local"]));
    assert_eq!(names(&v, "Policies", "PolicyName"), ["existing"]);
    let xml = call_ok(&s, "ListPolicyVersions", &[("PolicyArn", existing)]);
    assert_eq!(xml.matches("<member>").count(), 1, "{xml}");
    let xml = call_ok(&s, "ListRolePolicies", &[("RoleName", "target")]);
    assert!(!xml.contains("<member>"), "{xml}");

    // A trust policy naming a role of this account that does not exist
    // (or with the wrong path) is refused: AWS resolves it to a unique id.
    let trust_naming = |arn: &str| {
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"
        }]})
        .to_string()
    };
    let err = fails_with(
        &s.aws(&[
            "iam",
            "create-role",
            "--role-name",
            "r",
            "--assume-role-policy-document",
            &trust_naming("arn:aws:iam::000000000000:role/ghost"),
        ]),
        "MalformedPolicyDocument",
    );
    assert!(
        err.contains(
            r#"Invalid principal in policy: "AWS":"arn:aws:iam::000000000000:role/ghost""#
        ),
        "{err}"
    );
    for ghost in [
        "arn:aws:iam::000000000000:role/ghost",
        "arn:aws:iam::000000000000:role/exists",
    ] {
        let doc = trust_naming(ghost);
        let msg = call_err(
            &s,
            "CreateRole",
            &[("RoleName", "r"), ("AssumeRolePolicyDocument", &doc)],
            400,
            "MalformedPolicyDocument",
        );
        assert_eq!(
            msg,
            format!(r#"Invalid principal in policy: "AWS":"{ghost}""#)
        );
        call_err(
            &s,
            "UpdateAssumeRolePolicy",
            &[("RoleName", "target"), ("PolicyDocument", &doc)],
            400,
            "MalformedPolicyDocument",
        );
    }
    call_err(&s, "GetRole", &[("RoleName", "r")], 404, "NoSuchEntity");
    // The same policy naming real roles (and another account) is fine.
    for good in [
        "arn:aws:iam::000000000000:role/svc/exists",
        "arn:aws:iam::111122223333:role/anything",
        "arn:aws:iam::000000000000:root",
    ] {
        let doc = trust_naming(good);
        call_ok(
            &s,
            "UpdateAssumeRolePolicy",
            &[("RoleName", "target"), ("PolicyDocument", &doc)],
        );
    }
    let doc = s.json_file(
        "self",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::000000000000:role/target"},
            "Action": "sts:AssumeRole"}]}),
    );
    ok(&s.aws(&[
        "iam",
        "update-assume-role-policy",
        "--role-name",
        "target",
        "--policy-document",
        &doc,
    ]));
}

#[test]
fn validation_errors() {
    let s = Server::start();
    let t = trust_service().to_string();
    // A bad role name: the modelled constraint message, 400.
    let r = s.raw_admin(
        "iam",
        &iam(
            "CreateRole",
            &[("RoleName", "bad name!"), ("AssumeRolePolicyDocument", &t)],
        ),
    );
    let msg = raw_fails_with(&r, 400, "ValidationError");
    assert_eq!(
        msg,
        r"1 validation error detected: Value 'bad name!' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"
    );
    let err = fails_with(
        &s.aws(&[
            "iam",
            "create-role",
            "--role-name",
            "bad/name",
            "--assume-role-policy-document",
            &t,
        ]),
        "ValidationError",
    );
    assert!(err.contains("'roleName'"), "{err}");
    let long = "r".repeat(65);
    let r = s.raw_admin(
        "iam",
        &iam(
            "CreateRole",
            &[("RoleName", &long), ("AssumeRolePolicyDocument", &t)],
        ),
    );
    let msg = raw_fails_with(&r, 400, "ValidationError");
    assert!(
        msg.contains("Member must have length less than or equal to 64"),
        "{msg}"
    );

    // MaxSessionDuration 100 (the CLI refuses it client-side, so raw).
    let r = s.raw_admin(
        "iam",
        &iam(
            "CreateRole",
            &[
                ("RoleName", "r1"),
                ("AssumeRolePolicyDocument", &t),
                ("MaxSessionDuration", "100"),
            ],
        ),
    );
    let msg = raw_fails_with(&r, 400, "ValidationError");
    assert_eq!(
        msg,
        "1 validation error detected: Value '100' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"
    );
    let r = s.raw_admin(
        "iam",
        &iam(
            "CreateRole",
            &[
                ("RoleName", "r1"),
                ("AssumeRolePolicyDocument", &t),
                ("MaxSessionDuration", "43201"),
            ],
        ),
    );
    raw_fails_with(&r, 400, "ValidationError");
    raw_role(&s, "r1", "/");
    let r = s.raw_admin(
        "iam",
        &iam(
            "UpdateRole",
            &[("RoleName", "r1"), ("MaxSessionDuration", "100")],
        ),
    );
    raw_fails_with(&r, 400, "ValidationError");
    // A bad path, a missing document, two violations at once.
    let err = fails_with(
        &s.aws(&[
            "iam",
            "create-role",
            "--role-name",
            "r2",
            "--path",
            "/no-trailing-slash",
            "--assume-role-policy-document",
            &t,
        ]),
        "ValidationError",
    );
    assert!(err.contains("'path'"), "{err}");
    let r = s.raw_admin("iam", &iam("CreateRole", &[("RoleName", "bad name")]));
    let msg = raw_fails_with(&r, 400, "ValidationError");
    assert!(msg.starts_with("2 validation errors detected: "), "{msg}");
    // Unknown action.
    let r = s.raw_admin("iam", &iam("CreateUserX", &[]));
    raw_fails_with(&r, 400, "InvalidAction");
    // Nothing was created.
    let v = json_out(&s.aws(&["iam", "list-roles"]));
    assert_eq!(names(&v, "Roles", "RoleName"), ["r1"]);
}

/// Quotas AWS enforces on document size. Each case is one request; all are
/// checked so the report lists every deviation.
#[test]
fn policy_size_quotas_are_limit_exceeded() {
    let s = Server::start();
    raw_role(&s, "r1", "/");
    let actions =
        |n: usize| -> Vec<String> { (0..n).map(|i| format!("s3:GetObject{i:05}")).collect() };
    // 400 actions ≈ 8,000 characters without whitespace (> 6,144).
    let big = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": actions(400), "Resource": "*"}]})
    .to_string();
    // 700 actions ≈ 14,000 characters (> 10,240 for a role's inline policies).
    let huge = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": actions(700), "Resource": "*"}]})
    .to_string();
    let arns: Vec<String> = (0..70)
        .map(|i| format!("arn:aws:iam::111122223333:role/r{i:03}"))
        .collect();
    let big_trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": arns}, "Action": "sts:AssumeRole"}]})
    .to_string();
    let mut failures = Vec::new();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "CreatePolicy > 6144",
            iam(
                "CreatePolicy",
                &[("PolicyName", "big"), ("PolicyDocument", &big)],
            ),
            "Cannot exceed quota for PolicySize: 6144",
        ),
        (
            "CreateRole trust > 2048",
            iam(
                "CreateRole",
                &[
                    ("RoleName", "bigtrust"),
                    ("AssumeRolePolicyDocument", &big_trust),
                ],
            ),
            "Cannot exceed quota for ACLSizePerRole: 2048",
        ),
        (
            "UpdateAssumeRolePolicy > 2048",
            iam(
                "UpdateAssumeRolePolicy",
                &[("RoleName", "r1"), ("PolicyDocument", &big_trust)],
            ),
            "Cannot exceed quota for ACLSizePerRole: 2048",
        ),
        (
            "PutRolePolicy > 10240",
            iam(
                "PutRolePolicy",
                &[
                    ("RoleName", "r1"),
                    ("PolicyName", "huge"),
                    ("PolicyDocument", &huge),
                ],
            ),
            "Maximum policy size of 10240 bytes exceeded for role r1",
        ),
    ];
    for (what, params, msg) in cases {
        let (st, body) = s.raw_admin("iam", &params);
        let code = xml_field(&body, "Code").unwrap_or("");
        if (st, code) != (409, "LimitExceeded") || !body.contains(msg) {
            failures.push(format!("{what}: got {st} {code}: {body}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Patterns from the botocore model that AWS enforces with ValidationError.
#[test]
fn modelled_patterns_are_validation_errors() {
    let s = Server::start();
    raw_role(&s, "r1", "/");
    let t = trust_service().to_string();
    let p = allow("s3:GetObject", "*").to_string();
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            // roleDescriptionType: [\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*
            "CreateRole Description with U+2013",
            iam(
                "CreateRole",
                &[
                    ("RoleName", "d1"),
                    ("AssumeRolePolicyDocument", &t),
                    ("Description", "en\u{2013}dash"),
                ],
            ),
        ),
        (
            "UpdateRole Description with U+2603",
            iam(
                "UpdateRole",
                &[("RoleName", "r1"), ("Description", "snow\u{2603}man")],
            ),
        ),
        (
            // policyPathType: ((/[A-Za-z0-9\.,\+@=_-]+)*)/
            "CreatePolicy Path /a*b/",
            iam(
                "CreatePolicy",
                &[
                    ("PolicyName", "p1"),
                    ("Path", "/a*b/"),
                    ("PolicyDocument", &p),
                ],
            ),
        ),
        (
            // pathPrefixType: \u002F[\u0021-\u007F]*
            "ListRoles PathPrefix p/",
            iam("ListRoles", &[("PathPrefix", "p/")]),
        ),
        (
            // ListPolicies' PathPrefix is a policyPathType: it ends with `/`.
            "ListPolicies PathPrefix /p",
            iam("ListPolicies", &[("PathPrefix", "/p")]),
        ),
        (
            // tagKeyType: [\p{L}\p{Z}\p{N}_.:/=+\-@]+
            "TagRole key bad*key",
            iam(
                "TagRole",
                &[
                    ("RoleName", "r1"),
                    ("Tags.member.1.Key", "bad*key"),
                    ("Tags.member.1.Value", "v"),
                ],
            ),
        ),
        (
            "TagRole value v!",
            iam(
                "TagRole",
                &[
                    ("RoleName", "r1"),
                    ("Tags.member.1.Key", "k"),
                    ("Tags.member.1.Value", "v!"),
                ],
            ),
        ),
        (
            // policyVersionIdType: v[1-9][0-9]*(\.[A-Za-z0-9-]*)?
            "GetPolicyVersion VersionId x1",
            iam(
                "GetPolicyVersion",
                &[
                    (
                        "PolicyArn",
                        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                    ),
                    ("VersionId", "x1"),
                ],
            ),
        ),
    ];
    let mut failures = Vec::new();
    for (what, params) in cases {
        let (st, body) = s.raw_admin("iam", &params);
        if (st, xml_field(&body, "Code").unwrap_or("")) != (400, "ValidationError") {
            failures.push(format!("{what}: got {st}: {body}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// boto3's paginator walks ListRoles over more than one default page
/// (100) and sees every role exactly once, with a small and the default
/// page size.
#[test]
fn boto3_paginator_lists_every_role_once() {
    let s = Server::start();
    let admin = s.admin();
    let mut expected = BTreeSet::new();
    for i in 0..130 {
        // Mixed case so the marker must follow the case-insensitive order.
        let name = if i % 3 == 0 {
            format!("Role-{i:03}")
        } else {
            format!("role-{i:03}")
        };
        let path = if i % 2 == 0 { "/" } else { "/batch/" };
        raw_role(&s, &name, path);
        expected.insert(name);
    }
    let script = r#"
import boto3, json, sys
iam = boto3.client("iam")
out = {}
for label, cfg in (("default", {}), ("small", {"PageSize": 7})):
    names, pages = [], 0
    for page in iam.get_paginator("list_roles").paginate(PaginationConfig=cfg):
        pages += 1
        names.extend(r["RoleName"] for r in page["Roles"])
    out[label] = {"names": names, "pages": pages}
batch = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate(PathPrefix="/batch/", PaginationConfig={"PageSize": 10}) for r in p["Roles"]]
out["batch"] = {"names": batch, "pages": 0}
print(json.dumps(out))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.home())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", &admin.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &admin.secret_access_key)
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .output()
        .expect("python3");
    let v: Value = serde_json::from_str(&ok(&out)).expect("json");
    for (label, min_pages) in [("default", 2), ("small", 19)] {
        let got: Vec<String> = v[label]["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        assert_eq!(got.len(), 130, "{label}: duplicates or losses: {got:?}");
        let set: BTreeSet<String> = got.into_iter().collect();
        assert_eq!(set, expected, "{label}");
        assert!(
            v[label]["pages"].as_u64().unwrap() >= min_pages,
            "{label}: {}",
            v[label]["pages"]
        );
    }
    let batch: BTreeSet<String> = v["batch"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    assert_eq!(batch.len(), 65);
    assert_eq!(
        v["batch"]["names"].as_array().unwrap().len(),
        65,
        "duplicates in /batch/"
    );
    assert!(batch.iter().all(|n| {
        let i: usize = n[5..].parse().unwrap();
        i % 2 == 1
    }));
}

/// AWS managed policies decide as their AWS documents do: a pod's role
/// with `ReadOnlyAccess` reads S3 and IAM but writes nothing; with
/// `PowerUserAccess` it writes S3 but manages no IAM. Policies under a path
/// keep it in their ARN.
#[test]
fn aws_managed_policies_decide_as_their_documents() {
    let s = Server::start();
    let role = s.setup_irsa("demo", "reader", "default", "app");
    let token = s.token("demo", "default", "app", &[]);
    ok(&s.aws(&["s3", "mb", "s3://shared"]));
    let attach = |arn: &str, verb: &str| {
        ok(&s.aws(&[
            "iam",
            &format!("{verb}-role-policy"),
            "--role-name",
            "reader",
            "--policy-arn",
            arn,
        ]))
    };
    let pod = |args: &[&str]| s.aws_as_pod(&role, &token, args);
    let file = s.dir.path().join("f.txt");
    std::fs::write(&file, "x").unwrap();
    let f = file.to_str().unwrap();

    attach("arn:aws:iam::aws:policy/ReadOnlyAccess", "attach");
    ok(&pod(&["s3", "ls", "s3://shared"]));
    ok(&pod(&["iam", "list-roles"]));
    fails_with(&pod(&["s3", "cp", f, "s3://shared/f.txt"]), "AccessDenied");
    attach("arn:aws:iam::aws:policy/ReadOnlyAccess", "detach");

    attach("arn:aws:iam::aws:policy/PowerUserAccess", "attach");
    ok(&pod(&["s3", "cp", f, "s3://shared/f.txt"]));
    ok(&pod(&["iam", "list-roles"]));
    let err = fails_with(&pod(&["iam", "list-policies"]), "AccessDenied");
    assert!(err.contains("iam:ListPolicies"), "{err}");

    let v = json_out(&s.aws(&[
        "iam",
        "get-policy",
        "--policy-arn",
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    ]));
    assert_eq!(v["Policy"]["Path"], "/job-function/");
    fails_with(
        &s.aws(&[
            "iam",
            "get-policy",
            "--policy-arn",
            "arn:aws:iam::aws:policy/ViewOnlyAccess",
        ]),
        "NoSuchEntity",
    );
}

/// Tag members are named by their 1-based index, and `//` is not a path.
#[test]
fn tag_member_indexes_and_paths() {
    let s = Server::start();
    let (st, xml) = s.raw_admin(
        "iam",
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", &trust_service().to_string()),
            ("Tags.member.1.Key", "a"),
            ("Tags.member.1.Value", "x"),
            ("Tags.member.2.Key", "b"),
            ("Tags.member.2.Value", "bad!"),
        ],
    );
    assert_eq!(st, 400, "{xml}");
    assert!(
        xml.contains(
            "Value &apos;bad!&apos; at &apos;tags.2.member.value&apos; failed to satisfy constraint"
        ),
        "{xml}"
    );
    let (st, xml) = s.raw_admin(
        "iam",
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "r"),
            ("Path", "//"),
            ("AssumeRolePolicyDocument", &trust_service().to_string()),
        ],
    );
    assert_eq!(st, 400, "{xml}");
    assert!(xml.contains("<Code>ValidationError</Code>"), "{xml}");
}
