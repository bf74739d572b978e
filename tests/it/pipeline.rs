//! The request pipeline seen from outside: every service's audit line
//! carries the response's own request id, the caller and the decision, and
//! every service's decision sees the request's global condition keys.

use super::common::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

/// boto3 as a web-identity role session: for each service one allowed and
/// one denied call, printing `(service, call, allowed, request id)` as JSON.
const CALLS: &str = r#"
import json, os, boto3, botocore
sts = boto3.client("sts")
r = sts.assume_role_with_web_identity(RoleArn=os.environ["ROLE"], RoleSessionName="pipe", WebIdentityToken=os.environ["TOKEN"])
c = r["Credentials"]
kw = dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
out = {"akid": c["AccessKeyId"], "calls": [["sts", "AssumeRoleWithWebIdentity", True, r["ResponseMetadata"]["RequestId"]]]}
def call(svc, name, allowed, f):
    try:
        rid = f()["ResponseMetadata"]["RequestId"]
        got = True
    except botocore.exceptions.ClientError as e:
        rid = e.response["ResponseMetadata"]["RequestId"]
        got = False
    assert got == allowed, (svc, name, got)
    out["calls"].append([svc, name, allowed, rid])
iam = boto3.client("iam", **kw)
s3 = boto3.client("s3", **kw)
eks = boto3.client("eks", **kw)
stsr = boto3.client("sts", **kw)
call("sts", "GetCallerIdentity", True, lambda: stsr.get_caller_identity())
call("iam", "GetRole", True, lambda: iam.get_role(RoleName="app"))
call("iam", "CreateRole", False, lambda: iam.create_role(RoleName="x", AssumeRolePolicyDocument="{}"))
call("s3", "ListObjectsV2", True, lambda: s3.list_objects_v2(Bucket="pipe-bucket"))
call("s3", "GetObject", False, lambda: s3.get_object(Bucket="pipe-bucket", Key="k"))
call("eks", "ListClusters", True, lambda: eks.list_clusters())
call("eks", "DescribeCluster", False, lambda: eks.describe_cluster(name="demo"))
print(json.dumps(out))
"#;

fn audit_lines(s: &Server) -> Vec<Value> {
    std::fs::read_to_string(s.data_dir().join("audit.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn audit_lines_carry_the_response_request_id_caller_and_decision() {
    let s = Server::start();
    let role = s.setup_irsa("demo", "app", "default", "app");
    // iam:GetRole only from loopback: IAM's decision must see aws:SourceIp.
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*",
             "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}},
            {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": "*",
             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"},
            {"Effect": "Allow", "Action": "eks:ListClusters", "Resource": "*",
             "Condition": {"StringLike": {"aws:UserAgent": "*Boto3*"}}}
        ]
    });
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "p",
        "--policy-document",
        &s.json_file("pipe-policy.json", &policy),
    ]));
    ok(&s.aws(&["s3", "mb", "s3://pipe-bucket"]));
    let token = s.token("demo", "default", "app", &[]);
    let out = Command::new("python3")
        .args(["-c", CALLS])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.home())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("ROLE", &role)
        .env("TOKEN", &token)
        .output()
        .expect("python3");
    let v: Value = serde_json::from_str(ok(&out).trim()).expect("json");
    let akid = v["akid"].as_str().expect("akid").to_string();
    let calls = v["calls"].as_array().expect("calls").clone();
    assert_eq!(calls.len(), 8);

    // No further request: each line reaches the file by itself.
    let mut lines = Vec::new();
    let all_there = wait_for(Duration::from_secs(5), || {
        lines = audit_lines(&s);
        calls.iter().all(|c| {
            lines
                .iter()
                .any(|l| l["requestID"] == c[3] && l["eventName"] == c[1])
        })
    });
    assert!(all_there, "missing audit lines for {calls:?} in {lines:#?}");
    for c in &calls {
        let (svc, name, allowed, rid) = (
            c[0].as_str().unwrap(),
            c[1].as_str().unwrap(),
            c[2].as_bool().unwrap(),
            c[3].as_str().unwrap(),
        );
        assert!(!rid.is_empty(), "{svc} {name}: empty request id");
        let l = lines.iter().find(|l| l["requestID"] == rid).expect("line");
        assert_eq!(l["eventSource"], format!("{svc}.amazonaws.com"), "{l}");
        assert_eq!(l["eventName"], name, "{l}");
        assert_eq!(l["sourceIPAddress"], "127.0.0.1", "{l}");
        if name == "AssumeRoleWithWebIdentity" {
            // The token is the credential; the decision is the trust policy's.
            assert_eq!(l["decision"]["allowed"], true, "{l}");
            continue;
        }
        let who = &l["userIdentity"];
        assert_eq!(who["type"], "AssumedRole", "{svc} {name}: {l}");
        assert_eq!(who["accessKeyId"], akid.as_str(), "{l}");
        assert_eq!(
            who["arn"],
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/pipe"),
            "{l}"
        );
        assert_eq!(
            who["sessionContext"]["sessionIssuer"]["arn"],
            role.as_str(),
            "{l}"
        );
        if name == "GetCallerIdentity" {
            // Needs no permission: no decision to record.
            continue;
        }
        assert_eq!(l["decision"]["allowed"], allowed, "{svc} {name}: {l}");
        if allowed {
            assert!(l.get("errorCode").is_none(), "{l}");
        } else {
            assert!(l["errorCode"].as_str().is_some(), "{l}");
            assert!(
                l["decision"]["explanation"]["summary"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "a denial says why: {l}"
            );
        }
    }
}
