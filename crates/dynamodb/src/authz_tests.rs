use super::*;
use crate::action::decode;
use serde_json::json;
use std::sync::Arc;

const ACCOUNT: &str = "123456789012";

fn games() -> Option<Arc<TableInfo>> {
    Some(Arc::new(TableInfo {
        partition_key: "UserId".into(),
        key_attributes: vec!["UserId".into(), "GameTitle".into(), "TopScore".into()],
        index_partition_keys: [("TopScoreDateTimeIndex".to_string(), "GameTitle".to_string())]
            .into_iter()
            .collect(),
        stream_label: Some("2024-01-01T00:00:00.000".into()),
        tags: vec![("team".into(), "games".into())],
        stream_tags: vec![("pipeline".into(), "analytics".into())],
    }))
}

fn run(op: Op, body: serde_json::Value) -> Vec<Check> {
    let call = decode(op, body.to_string().as_bytes(), "us-west-2", ACCOUNT).unwrap();
    checks(&call, &|t| (t == "GameScores").then(games).flatten()).unwrap()
}

fn key<'a>(c: &'a Check, k: &str) -> Option<&'a str> {
    c.keys.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

/// A multivalued key's values, sorted (their order means nothing to IAM).
fn multi(c: &Check, k: &str) -> Option<Vec<String>> {
    c.multi_keys.iter().find(|(n, _)| n == k).map(|(_, v)| {
        let mut v = v.clone();
        v.sort();
        v
    })
}

const TABLE: &str = "arn:aws:dynamodb:us-west-2:123456789012:table/GameScores";

#[test]
fn get_item_with_projection() {
    let c = run(
        Op::GetItem,
        json!({"TableName": "GameScores", "Key": {"UserId": {"S": "u1"}, "GameTitle": {"S": "g"}},
               "ProjectionExpression": "#t, Wins", "ExpressionAttributeNames": {"#t": "TopScore"}}),
    );
    assert_eq!(c.len(), 1);
    let c = &c[0];
    assert_eq!(
        (c.action.as_ref(), c.resource.as_str()),
        ("dynamodb:GetItem", TABLE)
    );
    assert_eq!(multi(c, "dynamodb:LeadingKeys").unwrap(), ["u1"]);
    assert_eq!(
        multi(c, "dynamodb:FirstPartitionKeyValues").unwrap(),
        ["u1"]
    );
    assert_eq!(
        multi(c, "dynamodb:Attributes").unwrap(),
        ["GameTitle", "TopScore", "UserId", "Wins"]
    );
    assert_eq!(key(c, "dynamodb:Select"), Some("SPECIFIC_ATTRIBUTES"));
    assert_eq!(key(c, "dynamodb:ReturnConsumedCapacity"), Some("NONE"));
    assert_eq!(key(c, "aws:ResourceTag/team"), Some("games"));
    assert_eq!(key(c, "dynamodb:ReturnValues"), None);
}

#[test]
fn writes_carry_return_values_and_touched_attributes() {
    let c = &run(
        Op::UpdateItem,
        json!({"TableName": "GameScores", "Key": {"UserId": {"S": "u1"}, "GameTitle": {"S": "g"}},
               "UpdateExpression": "SET TopScore = :s ADD Plays :one",
               "ConditionExpression": "attribute_exists(UserId)",
               "ReturnValues": "UPDATED_NEW", "ReturnConsumedCapacity": "TOTAL"}),
    )[0];
    assert_eq!(key(c, "dynamodb:ReturnValues"), Some("UPDATED_NEW"));
    assert_eq!(key(c, "dynamodb:ReturnConsumedCapacity"), Some("TOTAL"));
    assert_eq!(
        multi(c, "dynamodb:Attributes").unwrap(),
        ["GameTitle", "Plays", "TopScore", "UserId"]
    );
    let c = &run(
        Op::PutItem,
        json!({"TableName": "GameScores", "Item": {"UserId": {"S": "u2"}, "GameTitle": {"S": "g"}, "Secret": {"S": "x"}}}),
    )[0];
    assert_eq!(multi(c, "dynamodb:LeadingKeys").unwrap(), ["u2"]);
    assert_eq!(key(c, "dynamodb:ReturnValues"), Some("NONE"));
    assert!(
        multi(c, "dynamodb:Attributes")
            .unwrap()
            .contains(&"Secret".to_string())
    );
}

#[test]
fn index_queries_check_the_index_and_its_partition_key() {
    let c = &run(
        Op::Query,
        json!({"TableName": "GameScores", "IndexName": "TopScoreDateTimeIndex",
               "KeyConditionExpression": "GameTitle = :g AND TopScore > :s",
               "ExpressionAttributeValues": {":g": {"S": "Meteor Blasters"}, ":s": {"N": "0"}}}),
    )[0];
    assert_eq!(c.resource, format!("{TABLE}/index/TopScoreDateTimeIndex"));
    assert_eq!(
        multi(c, "dynamodb:LeadingKeys").unwrap(),
        ["Meteor Blasters"]
    );
    assert_eq!(key(c, "dynamodb:Select"), Some("ALL_PROJECTED_ATTRIBUTES"));
    let c = &run(
        Op::Query,
        json!({"TableName": "GameScores", "KeyConditions": {"UserId": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "u9"}]}}, "Select": "COUNT"}),
    )[0];
    assert_eq!(c.resource, TABLE);
    assert_eq!(multi(c, "dynamodb:LeadingKeys").unwrap(), ["u9"]);
    assert_eq!(key(c, "dynamodb:Select"), Some("COUNT"));
    let c = &run(Op::Scan, json!({"TableName": "GameScores"}))[0];
    assert_eq!(multi(c, "dynamodb:LeadingKeys"), None);
    assert_eq!(key(c, "dynamodb:Select"), Some("ALL_ATTRIBUTES"));
}

#[test]
fn batches_check_each_table_once() {
    let cs = run(
        Op::BatchWriteItem,
        json!({"RequestItems": {
            "GameScores": [
                {"PutRequest": {"Item": {"UserId": {"S": "a"}, "GameTitle": {"S": "g"}}}},
                {"DeleteRequest": {"Key": {"UserId": {"S": "b"}, "GameTitle": {"S": "g"}}}}],
            "Other": [{"PutRequest": {"Item": {"k": {"S": "x"}}}}]}}),
    );
    assert_eq!(cs.len(), 2);
    let g = cs.iter().find(|c| c.resource == TABLE).unwrap();
    assert_eq!(g.action, "dynamodb:BatchWriteItem");
    assert_eq!(multi(g, "dynamodb:LeadingKeys").unwrap(), ["a", "b"]);
    let cs = run(
        Op::BatchGetItem,
        json!({"RequestItems": {"GameScores": {"Keys": [{"UserId": {"S": "a"}, "GameTitle": {"S": "g"}}]}}}),
    );
    assert_eq!(cs[0].action, "dynamodb:BatchGetItem");
    assert_eq!(key(&cs[0], "dynamodb:Select"), Some("ALL_ATTRIBUTES"));
}

#[test]
fn transactions_check_each_item_with_the_enclosing_operation() {
    let cs = run(
        Op::TransactWriteItems,
        json!({"TransactItems": [
            {"Put": {"TableName": "GameScores", "Item": {"UserId": {"S": "a"}, "GameTitle": {"S": "g"}}}},
            {"ConditionCheck": {"TableName": "GameScores", "Key": {"UserId": {"S": "b"}, "GameTitle": {"S": "g"}},
                                "ConditionExpression": "attribute_exists(UserId)",
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]}),
    );
    assert_eq!(
        cs.iter().map(|c| c.action.as_ref()).collect::<Vec<_>>(),
        ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"]
    );
    assert!(
        cs.iter()
            .all(|c| key(c, "dynamodb:EnclosingOperation") == Some("TransactWriteItems"))
    );
    assert_eq!(key(&cs[0], "dynamodb:ReturnValues"), Some("NONE"));
    assert_eq!(key(&cs[1], "dynamodb:ReturnValues"), Some("ALL_OLD"));
    assert_eq!(multi(&cs[1], "dynamodb:LeadingKeys").unwrap(), ["b"]);
}

#[test]
fn a_transaction_item_is_checked_whatever_member_comes_first() {
    // The engine reads a null member as absent and ignores unknown ones:
    // the Put runs, so it is checked.
    let put = json!({"TableName": "GameScores", "Item": {"UserId": {"S": "victim"}, "GameTitle": {"S": "g"}}});
    for entry in [
        json!({"Delete": null, "Put": put}),
        json!({"A": 0, "Put": put}),
        json!({"ConditionCheck": null, "Delete": null, "Put": put}),
    ] {
        let cs = run(Op::TransactWriteItems, json!({"TransactItems": [entry]}));
        assert_eq!(
            cs.iter().map(|c| c.action.as_ref()).collect::<Vec<_>>(),
            ["dynamodb:PutItem"],
            "{entry}"
        );
        assert_eq!(multi(&cs[0], "dynamodb:LeadingKeys").unwrap(), ["victim"]);
    }
    // Two actions in one item: both are checked (the engine refuses it).
    let cs = run(
        Op::TransactWriteItems,
        json!({"TransactItems": [{"Delete": {"TableName": "GameScores", "Key": {"UserId": {"S": "a"}, "GameTitle": {"S": "g"}}}, "Put": put}]}),
    );
    assert_eq!(cs.len(), 2);
    let cs = run(
        Op::TransactGetItems,
        json!({"TransactItems": [{"A": null, "Get": {"TableName": "GameScores", "Key": {"UserId": {"S": "b"}, "GameTitle": {"S": "g"}}}}]}),
    );
    assert_eq!(cs[0].action, "dynamodb:GetItem");
}

#[test]
fn a_table_arn_in_a_transaction_reaches_the_engine_as_its_name() {
    let body =
        json!({"TransactItems": [{"Put": {"TableName": TABLE, "Item": {"UserId": {"S": "a"}}}}]});
    let call = decode(
        Op::TransactWriteItems,
        body.to_string().as_bytes(),
        "us-west-2",
        ACCOUNT,
    )
    .unwrap();
    assert!(call.changed, "the engine must get the rewritten body");
    assert_eq!(
        call.input["TransactItems"][0]["Put"]["TableName"],
        "GameScores"
    );
}

#[test]
fn partiql_statements() {
    let c = &run(
        Op::ExecuteStatement,
        json!({"Statement": "SELECT TopScore FROM \"GameScores\" WHERE UserId = ?", "Parameters": [{"S": "u1"}]}),
    )[0];
    assert_eq!(c.action, "dynamodb:PartiQLSelect");
    assert_eq!(key(c, "dynamodb:FullTableScan"), Some("false"));
    assert_eq!(multi(c, "dynamodb:LeadingKeys").unwrap(), ["u1"]);
    let c = &run(
        Op::ExecuteStatement,
        json!({"Statement": "SELECT * FROM \"GameScores\".\"TopScoreDateTimeIndex\""}),
    )[0];
    assert_eq!(c.resource, format!("{TABLE}/index/TopScoreDateTimeIndex"));
    assert_eq!(key(c, "dynamodb:FullTableScan"), Some("true"));
    let cs = run(
        Op::ExecuteTransaction,
        json!({"TransactStatements": [{"Statement": "DELETE FROM GameScores WHERE UserId = 'x' AND GameTitle = 'g'"}]}),
    );
    assert_eq!(cs[0].action, "dynamodb:PartiQLDelete");
    assert_eq!(
        key(&cs[0], "dynamodb:EnclosingOperation"),
        Some("ExecuteTransaction")
    );
    // An INSERT's attributes and partition key are its item's own keys,
    // not those of a map inside it; PartiQLInsert has no ReturnValues key.
    let c = &run(
        Op::ExecuteStatement,
        json!({"Statement": "INSERT INTO \"GameScores\" VALUE {'UserId': 'me', 'GameTitle': 'g', 'Stats': {'Wins': 1, 'UserId': 'x', \"Deep\": [{Losses: 2}]}, Tags: ['a']}",
               "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
    )[0];
    assert_eq!(c.action, "dynamodb:PartiQLInsert");
    assert_eq!(multi(c, "dynamodb:LeadingKeys").unwrap(), ["me"]);
    assert_eq!(
        multi(c, "dynamodb:Attributes").unwrap(),
        ["GameTitle", "Stats", "Tags", "UserId"]
    );
    assert_eq!(key(c, "dynamodb:ReturnValues"), None);
}

#[test]
fn partiql_statements_that_reach_other_partitions_fail_closed() {
    let one = |stmt: &str| {
        run(Op::ExecuteStatement, json!({ "Statement": stmt }))
            .pop()
            .unwrap()
    };
    // The select reference's full-table-scan example.
    let c = one(r#"SELECT * FROM "GameScores" WHERE UserId = 'me' OR GameTitle = 'x'"#);
    assert_eq!(key(&c, "dynamodb:FullTableScan"), Some("true"));
    assert!(
        multi(&c, "dynamodb:LeadingKeys")
            .unwrap()
            .contains(&UNREADABLE.to_string())
    );
    assert_eq!(key(&c, "dynamodb:Select"), Some("ALL_ATTRIBUTES"));
    // Reversed operands fix the key as well.
    let c = one(r#"UPDATE "GameScores" SET Wins = 1 WHERE 'victim' = UserId AND GameTitle = 'g'"#);
    assert_eq!(multi(&c, "dynamodb:LeadingKeys").unwrap(), ["victim"]);
    assert_eq!(key(&c, "dynamodb:ReturnValues"), Some("NONE"));
    // A write whose key this reader cannot place.
    let c = one(r#"DELETE FROM "GameScores" WHERE begins_with(UserId, 'v') AND GameTitle = 'g'"#);
    assert_eq!(multi(&c, "dynamodb:LeadingKeys").unwrap(), [UNREADABLE]);
    // A comment hides nothing from the attribute list.
    let c = one(
        "UPDATE \"GameScores\" SET TopScore = 1 -- '\n, Secret = 2 -- '\nWHERE UserId = 'me' AND GameTitle = 'g'",
    );
    assert!(
        multi(&c, "dynamodb:Attributes")
            .unwrap()
            .contains(&"Secret".to_string())
    );
    // RETURNING is the statement's ReturnValues; a select list is specific.
    let c = one(
        r#"UPDATE "GameScores" SET Wins = 1 WHERE UserId = 'me' AND GameTitle = 'g' RETURNING ALL NEW *"#,
    );
    assert_eq!(key(&c, "dynamodb:ReturnValues"), Some("ALL_NEW"));
    let c = one(r#"SELECT TopScore FROM "GameScores" WHERE UserId = 'me'"#);
    assert_eq!(key(&c, "dynamodb:Select"), Some("SPECIFIC_ATTRIBUTES"));
    assert_eq!(key(&c, "dynamodb:FullTableScan"), Some("false"));
}

#[test]
fn control_plane() {
    let cs = run(
        Op::CreateTable,
        json!({"TableName": "New", "Tags": [{"Key": "team", "Value": "a"}], "ResourcePolicy": "{}"}),
    );
    assert_eq!(
        cs.iter().map(|c| c.action.as_ref()).collect::<Vec<_>>(),
        [
            "dynamodb:CreateTable",
            "dynamodb:TagResource",
            "dynamodb:PutResourcePolicy"
        ]
    );
    assert_eq!(key(&cs[0], "aws:RequestTag/team"), Some("a"));
    let c = &run(Op::ListTables, json!({}))[0];
    assert_eq!(
        c.resource,
        "arn:aws:dynamodb:us-west-2:123456789012:table/*"
    );
    let c = &run(
        Op::UntagResource,
        json!({"ResourceArn": TABLE, "TagKeys": ["team"]}),
    )[0];
    assert_eq!(multi(c, "aws:TagKeys").unwrap(), ["team"]);
}

#[test]
fn unreadable_keys_never_fail_open() {
    let unreadable = vec![crate::expr::UNREADABLE.to_string()];
    let c = &run(
        Op::Query,
        json!({"TableName": "GameScores", "KeyConditionExpression": "UserId = :missing"}),
    )[0];
    assert_eq!(multi(c, "dynamodb:LeadingKeys").unwrap(), unreadable);
    let c = &run(
        Op::GetItem,
        json!({"TableName": "GameScores", "Key": {"UserId": {"M": {}}}}),
    )[0];
    assert_eq!(multi(c, "dynamodb:LeadingKeys").unwrap(), unreadable);
    let c = &run(
        Op::ExecuteStatement,
        json!({"Statement": "SELECT * FROM GameScores WHERE UserId = ?"}),
    )[0];
    assert_eq!(multi(c, "dynamodb:LeadingKeys").unwrap(), unreadable);
    assert_eq!(key(c, "dynamodb:FullTableScan"), Some("false"));
}

/// A stream's checks carry the stream's own tags, not its table's; an
/// index's carry its table's.
#[test]
fn streams_have_their_own_tags() {
    let stream = format!("{TABLE}/stream/2024-01-01T00:00:00.000");
    for c in [
        run(Op::DescribeStream, json!({"StreamArn": stream})),
        run(
            Op::TagResource,
            json!({"ResourceArn": stream, "Tags": [{"Key": "k", "Value": "v"}]}),
        ),
        run(Op::ListTagsOfResource, json!({"ResourceArn": stream})),
    ] {
        assert_eq!(c[0].resource, stream);
        assert_eq!(key(&c[0], "aws:ResourceTag/pipeline"), Some("analytics"));
        assert_eq!(key(&c[0], "aws:ResourceTag/team"), None);
    }
    let c = &run(
        Op::Query,
        json!({"TableName": "GameScores", "IndexName": "TopScoreDateTimeIndex",
               "KeyConditionExpression": "GameTitle = :g", "ExpressionAttributeValues": {":g": {"S": "g"}}}),
    )[0];
    assert_eq!(key(c, "aws:ResourceTag/team"), Some("games"));
    assert_eq!(key(c, "aws:ResourceTag/pipeline"), None);
}
