//! DynamoDB through the real binary: seed 002's `carts` table used by a
//! pod through IRSA with the aws CLI and boto3, denied until the
//! workshop's policy is attached, audited like every other call; and
//! acknowledged writes surviving `kill -9`.

use super::common::*;
use serde_json::{Value, json};
use std::time::Duration;

const TABLE: &str = "eks-workshop-carts";
const INDEX: &str = "idx_global_customerId";

/// The carts service's calls (GetItem, PutItem, UpdateItem, DeleteItem and
/// the Query on the customer index), as boto3 in a pod with IRSA; prints
/// the outcome of each and its request id.
const CARTS: &str = r#"
import json, os, boto3, botocore
ddb = boto3.client("dynamodb")
out = []
def call(name, f):
    try:
        r = f()
        out.append([name, "ok", r["ResponseMetadata"]["RequestId"], ""])
    except botocore.exceptions.ClientError as e:
        out.append([name, e.response["Error"]["Code"], e.response["ResponseMetadata"]["RequestId"], e.response["Error"]["Message"]])
t, i = os.environ["TABLE"], os.environ["INDEX"]
call("Query", lambda: ddb.query(TableName=t, IndexName=i, KeyConditionExpression="customerId = :c", ExpressionAttributeValues={":c": {"S": "cust1"}}))
call("PutItem", lambda: ddb.put_item(TableName=t, Item={"id": {"S": "cust1:item1"}, "customerId": {"S": "cust1"}, "itemId": {"S": "item1"}, "quantity": {"N": "1"}, "unitPrice": {"N": "10"}}))
call("UpdateItem", lambda: ddb.update_item(TableName=t, Key={"id": {"S": "cust1:item1"}}, UpdateExpression="SET quantity = :q", ExpressionAttributeValues={":q": {"N": "3"}}, ReturnValues="ALL_NEW"))
call("GetItem", lambda: ddb.get_item(TableName=t, Key={"id": {"S": "cust1:item1"}}))
call("DeleteItem", lambda: ddb.delete_item(TableName=t, Key={"id": {"S": "cust1:item1"}}, ReturnValues="ALL_OLD"))
print(json.dumps(out))
"#;

fn carts_as_pod(s: &Server, role: &str, token: &str) -> Vec<Value> {
    let token_file = s.data_dir().join(format!("carts-token-{}", now()));
    std::fs::write(&token_file, token).expect("token file");
    let out = s
        .pod_command("python3")
        .args(["-c", CARTS])
        .env("AWS_ROLE_ARN", role)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
        .env("TABLE", TABLE)
        .env("INDEX", INDEX)
        .output()
        .expect("python3");
    let v: Value = serde_json::from_str(ok(&out).trim()).expect("json");
    v.as_array().expect("calls").clone()
}

#[test]
fn seed_002_carts_with_irsa() {
    let s = Server::start();
    let role = s.setup_irsa(
        "eks-workshop",
        "eks-workshop-carts-dynamo-irsa",
        "carts",
        "carts",
    );
    create_carts_table(&s, TABLE);
    let token = s.token("eks-workshop", "carts", "carts", &[]);

    // Before the policy: the startup Query on the index is refused, in the
    // workshop's words, naming the index ARN.
    let calls = carts_as_pod(&s, &role, &token);
    let query = &calls[0];
    assert_eq!(query[1], "AccessDeniedException", "{calls:?}");
    let index_arn = format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}/index/{INDEX}");
    let msg = query[3].as_str().expect("message");
    assert!(
        msg.starts_with(&format!(
            "User: arn:aws:sts::{ACCOUNT}:assumed-role/eks-workshop-carts-dynamo-irsa/"
        )) && msg.ends_with(&format!(
            "is not authorized to perform: dynamodb:Query on resource: {index_arn} because no identity-based policy allows the dynamodb:Query action"
        )),
        "{msg}"
    );
    assert_eq!(query[2].as_str().expect("rid").len(), 52, "{query:?}");

    // The workshop's policy: every action on the table and its indexes.
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "AllAPIActionsOnCart", "Effect": "Allow", "Action": "dynamodb:*",
        "Resource": [format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}"),
                     format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}/index/*")]}]});
    ok(&s.aws(&[
        "iam",
        "put-role-policy",
        "--role-name",
        "eks-workshop-carts-dynamo-irsa",
        "--policy-name",
        "eks-workshop-carts-dynamo",
        "--policy-document",
        &s.json_file("carts-policy.json", &policy),
    ]));
    let calls = carts_as_pod(&s, &role, &token);
    for c in &calls {
        assert_eq!(c[1], "ok", "{calls:?}");
    }

    // The denied Query's audit line carries the response's request id.
    let rid = query[2].as_str().expect("rid").to_string();
    let mut line = Value::Null;
    let found = wait_for(Duration::from_secs(5), || {
        let text = std::fs::read_to_string(s.data_dir().join("audit.log")).unwrap_or_default();
        line = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["requestID"] == rid.as_str())
            .unwrap_or(Value::Null);
        !line.is_null()
    });
    assert!(found, "no audit line for {rid}");
    assert_eq!(line["eventSource"], "dynamodb.amazonaws.com", "{line}");
    assert_eq!(line["eventName"], "Query", "{line}");
    assert_eq!(line["errorCode"], "AccessDeniedException", "{line}");
    assert_eq!(line["decision"]["allowed"], false, "{line}");
    assert_eq!(line["userIdentity"]["type"], "AssumedRole", "{line}");
}

/// Writers under load: PutItem and TransactWriteItems from four threads,
/// each acknowledged id printed (and flushed) only after the response.
const WRITERS: &str = r#"
import os, sys, threading, boto3, botocore
cfg = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5)
t = os.environ["TABLE"]
lock = threading.Lock()
def writer(w):
    ddb = boto3.client("dynamodb", config=cfg)
    i = 0
    while True:
        i += 1
        k = "w%d-%d" % (w, i)
        try:
            if w % 2:
                ddb.put_item(TableName=t, Item={"id": {"S": k}, "customerId": {"S": "c"}})
                done = [k]
            else:
                ddb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": t, "Item": {"id": {"S": k + "a"}, "customerId": {"S": "c"}}}},
                    {"Put": {"TableName": t, "Item": {"id": {"S": k + "b"}, "customerId": {"S": "c"}}}}])
                done = [k + "a", k + "b"]
        except Exception:
            return
        with lock:
            for d in done:
                sys.stdout.write(d + "\n")
            sys.stdout.flush()
ts = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
for x in ts: x.start()
for x in ts: x.join()
"#;

#[test]
fn acknowledged_writes_survive_kill_9_under_load() {
    let mut s = Server::start();
    create_carts_table(&s, TABLE);
    let acked = s.dir.path().join("acked");
    let admin = s.admin();
    let mut writers = s
        .pod_command("python3")
        .args(["-c", WRITERS])
        .env("AWS_ACCESS_KEY_ID", &admin.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &admin.secret_access_key)
        .env("TABLE", TABLE)
        .stdout(std::fs::File::create(&acked).expect("acked file"))
        .spawn()
        .expect("python3");
    // Kill the server mid-stream, once writes are flowing.
    assert!(
        wait_for(Duration::from_secs(30), || std::fs::read_to_string(&acked)
            .unwrap_or_default()
            .lines()
            .count()
            >= 200),
        "the writers never got going"
    );
    s.kill9();
    writers.wait().expect("writers exit");
    let ids: Vec<String> = std::fs::read_to_string(&acked)
        .expect("acked")
        .lines()
        .map(str::to_string)
        .collect();
    s.restart();
    let out = ok(&s.aws(&["dynamodb", "scan", "--table-name", TABLE]));
    let v: Value = serde_json::from_str(&out).expect("json");
    let stored: std::collections::HashSet<&str> = v["Items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"]["S"].as_str())
        .collect();
    let lost: Vec<&String> = ids
        .iter()
        .filter(|i| !stored.contains(i.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {lost:?}",
        lost.len(),
        ids.len()
    );
    // Transactions are atomic across the crash: both halves or neither.
    for id in &stored {
        if let Some(stem) = id
            .strip_suffix('a')
            .filter(|_| id.starts_with("w0") || id.starts_with("w2"))
        {
            assert!(
                stored.contains(format!("{stem}b").as_str()),
                "half a transaction: {id}"
            );
        }
    }
}

/// `--dynamodb-validation-layer` picks the wording of a refusal, never whether
/// the request is refused: the older layer (the default) names the value and
/// the member, the current one neither.
#[test]
fn validation_layer_words_refusals() {
    let put = [
        "dynamodb",
        "put-item",
        "--table-name",
        TABLE,
        "--item",
        r#"{"id": {"S": "c1"}}"#,
        "--return-values",
        "EVERYTHING",
    ];
    let older = Server::start();
    create_carts_table(&older, TABLE);
    let msg = fails_with(&older.aws(&put), "ValidationException");
    assert!(
        msg.contains("Value 'EVERYTHING' at 'returnValues' failed to satisfy constraint"),
        "{msg}"
    );
    let current = Server::start_with_env(&[("PODIAM_DYNAMODB_VALIDATION_LAYER", "current")]);
    create_carts_table(&current, TABLE);
    let msg = fails_with(&current.aws(&put), "ValidationException");
    assert!(
        msg.contains(
            "1 validation error detected: Failed to satisfy constraint: Member must satisfy enum value set"
        ) && !msg.contains("EVERYTHING"),
        "{msg}"
    );
}

/// Browsers call DynamoDB across origins: a preflight naming
/// `x-amz-target` is answered as DynamoDB answers it, and a signed call
/// with an `Origin` may be read by any origin.
#[test]
fn browsers_get_dynamodbs_cors_answers() {
    let s = Server::start();
    let script = r#"
import os, urllib.request, boto3
ep = os.environ['AWS_ENDPOINT_URL']
req = urllib.request.Request(ep + '/', method='OPTIONS', headers={'Origin': 'https://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-amz-target,x-amz-date,authorization'})
r = urllib.request.urlopen(req)
assert r.status == 200 and r.headers['Access-Control-Allow-Origin'] == '*', dict(r.headers)
assert r.headers['Access-Control-Allow-Headers'] == 'content-type,x-amz-target,x-amz-date,authorization'
assert r.headers['Access-Control-Allow-Methods'] == 'POST' and r.headers['Access-Control-Max-Age'] == '172800'
ddb = boto3.client('dynamodb')
ddb.meta.events.register('before-sign.dynamodb.ListTables', lambda request, **kw: request.headers.__setitem__('Origin', 'https://app.example'))
h = ddb.list_tables()['ResponseMetadata']['HTTPHeaders']
assert h['access-control-allow-origin'] == '*', h
print('CORS OK')
"#;
    let out = s
        .pod_command("python3")
        .args(["-c", script])
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            s.data_dir().join("admin-credentials"),
        )
        .output()
        .expect("python3");
    assert!(ok(&out).contains("CORS OK"));
}

/// An Authorization header that is not SigV4's (SigV2's `AWS key:sig`, a
/// bearer token) is answered as DynamoDB answers a request without one.
#[test]
fn a_foreign_authorization_header_is_no_authentication() {
    let s = Server::start();
    let script = r#"
import json, os, urllib.request, urllib.error
for auth in ('AWS AKIAEXAMPLE:c2lnbmF0dXJl', 'Bearer abc'):
    req = urllib.request.Request(os.environ['AWS_ENDPOINT_URL'] + '/', data=b'{}', method='POST', headers={
        'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'DynamoDB_20120810.ListTables', 'Authorization': auth})
    try:
        urllib.request.urlopen(req)
        raise AssertionError('accepted')
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        assert e.code == 400 and body == {'__type': 'com.amazon.coral.service#MissingAuthenticationTokenException', 'message': 'Request is missing Authentication Token'}, (e.code, body)
print('FOREIGN OK')
"#;
    let out = s
        .pod_command("python3")
        .args(["-c", script])
        .output()
        .expect("python3");
    assert!(ok(&out).contains("FOREIGN OK"));
}

/// A table policy that denies everyone locks out even the account root,
/// except for DeleteResourcePolicy (DeleteResourcePolicy API reference).
#[test]
fn the_root_may_always_delete_a_policy_that_locks_everyone_out() {
    let s = Server::start();
    create_carts_table(&s, TABLE);
    let arn = format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}");
    let deny = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "dynamodb:*", "Resource": arn}]});
    ok(&s.aws(&[
        "dynamodb",
        "put-resource-policy",
        "--resource-arn",
        &arn,
        "--policy",
        &deny.to_string(),
    ]));
    let get = [
        "dynamodb",
        "get-item",
        "--table-name",
        TABLE,
        "--key",
        r#"{"id":{"S":"1"}}"#,
    ];
    let err = fails_with(&s.aws(&get), "AccessDeniedException");
    assert!(
        err.contains("with an explicit deny in a resource-based policy"),
        "{err}"
    );
    fails_with(
        &s.aws(&["dynamodb", "get-resource-policy", "--resource-arn", &arn]),
        "AccessDeniedException",
    );
    ok(&s.aws(&["dynamodb", "delete-resource-policy", "--resource-arn", &arn]));
    ok(&s.aws(&get));
}

/// A stream's tags are its own: tagging the table does not tag its stream,
/// tagging the stream does not tag the table, and `aws:ResourceTag/*` on
/// the stream's operations reads the stream's (DynamoDB Developer Guide,
/// ABAC for streams).
#[test]
fn streams_have_their_own_tags() {
    let s = Server::start();
    let role = s.setup_irsa("demo", "stream-reader", "default", "app");
    let token = s.token("demo", "default", "app", &[]);
    let table = create_id_table(
        &s,
        "orders",
        &[
            "--stream-specification",
            "StreamEnabled=true,StreamViewType=NEW_IMAGE",
        ],
    );
    let table_arn = table["TableDescription"]["TableArn"].as_str().unwrap();
    let stream_arn = table["TableDescription"]["LatestStreamArn"]
        .as_str()
        .unwrap();
    let tag = |arn: &str, tag: &str| {
        ok(&s.aws(&[
            "dynamodb",
            "tag-resource",
            "--resource-arn",
            arn,
            "--tags",
            tag,
        ]));
    };
    tag(table_arn, "Key=env,Value=prod");
    tag(stream_arn, "Key=team,Value=analytics");
    let tags_of = |arn: &str| {
        json_out(&s.aws(&["dynamodb", "list-tags-of-resource", "--resource-arn", arn]))["Tags"]
            .clone()
    };
    assert_eq!(tags_of(table_arn), json!([{"Key": "env", "Value": "prod"}]));
    assert_eq!(
        tags_of(stream_arn),
        json!([{"Key": "team", "Value": "analytics"}])
    );
    ok(&s.aws(&[
        "dynamodb",
        "untag-resource",
        "--resource-arn",
        stream_arn,
        "--tag-keys",
        "team",
    ]));
    assert_eq!(tags_of(stream_arn), json!([]));
    assert_eq!(tags_of(table_arn), json!([{"Key": "env", "Value": "prod"}]));
    tag(stream_arn, "Key=team,Value=analytics");
    let stale = stream_arn.replace("/stream/", "/stream/1999-");
    fails_with(
        &s.aws(&[
            "dynamodb",
            "list-tags-of-resource",
            "--resource-arn",
            &stale,
        ]),
        "ResourceNotFoundException",
    );

    let allow_if = |name: &str, key: &str, value: &str| {
        let policy = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "dynamodb:DescribeStream",
            "Resource": format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/*/stream/*"),
            "Condition": {"StringEquals": {format!("aws:ResourceTag/{key}"): value}}}]});
        ok(&s.aws(&[
            "iam",
            "put-role-policy",
            "--role-name",
            "stream-reader",
            "--policy-name",
            name,
            "--policy-document",
            &s.json_file(&format!("{name}.json"), &policy),
        ]));
    };
    let describe = [
        "dynamodbstreams",
        "describe-stream",
        "--stream-arn",
        stream_arn,
    ];
    // The table's tag does not reach the stream.
    allow_if("by-table-tag", "env", "prod");
    fails_with(
        &s.aws_as_pod(&role, &token, &describe),
        "AccessDeniedException",
    );
    allow_if("by-stream-tag", "team", "analytics");
    ok(&s.aws_as_pod(&role, &token, &describe));
}

/// DescribeContinuousBackups (what Terraform reads for every table): as
/// AWS answers for a table without point-in-time recovery; a missing table
/// is TableNotFoundException.
#[test]
fn describe_continuous_backups() {
    let s = Server::start();
    create_id_table(&s, "ledger", &[]);
    let v = json_out(&s.aws(&[
        "dynamodb",
        "describe-continuous-backups",
        "--table-name",
        "ledger",
    ]));
    assert_eq!(
        v,
        json!({"ContinuousBackupsDescription": {"ContinuousBackupsStatus": "ENABLED",
               "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}})
    );
    let err = fails_with(
        &s.aws(&[
            "dynamodb",
            "describe-continuous-backups",
            "--table-name",
            "nope",
        ]),
        "TableNotFoundException",
    );
    assert!(err.contains("Table not found: nope"), "{err}");
    fails_with(
        &s.aws(&[
            "dynamodb",
            "describe-continuous-backups",
            "--table-name",
            "ab",
        ]),
        "ValidationException",
    );
}
