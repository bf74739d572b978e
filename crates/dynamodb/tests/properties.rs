//! Property tests of request decoding and key extraction: no input panics,
//! and what IAM sees of a request is exactly what the request touches.

use podiam_dynamodb::action::{Op, decode};
use podiam_dynamodb::authz::checks;
use podiam_dynamodb::engine::TableInfo;
use podiam_dynamodb::expr::{UNREADABLE, key_equality, top_level_names};
use podiam_dynamodb::partiql;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::Arc;

fn table() -> Option<Arc<TableInfo>> {
    Some(Arc::new(TableInfo {
        partition_key: "pk".into(),
        key_attributes: vec!["pk".into(), "sk".into()],
        index_partition_keys: [("byG".to_string(), "g".to_string())].into_iter().collect(),
        ..TableInfo::default()
    }))
}

/// Arbitrary JSON, biased towards DynamoDB's member names and shapes.
fn json_value() -> impl Strategy<Value = Value> {
    let member = prop_oneof![
        prop::sample::select(vec![
            "TableName",
            "Key",
            "Item",
            "IndexName",
            "KeyConditionExpression",
            "ProjectionExpression",
            "ExpressionAttributeNames",
            "ExpressionAttributeValues",
            "RequestItems",
            "TransactItems",
            "Statement",
            "Statements",
            "TransactStatements",
            "Parameters",
            "KeyConditions",
            "pk",
            "S",
            "N",
            "Put",
            "Get",
            "ConditionCheck",
            "ResourceArn",
            "Tags",
            "TagKeys",
            "ShardIterator"
        ])
        .prop_map(str::to_string),
        "[a-zA-Z:#]{1,6}",
    ];

    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~]{0,24}".prop_map(Value::from),
        Just(json!("arn:aws:dynamodb:us-east-1:111111111111:table/T")),
        Just(json!("T")),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((member.clone(), inner), 0..6)
                .prop_map(|kv| { Value::Object(kv.into_iter().collect()) }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decoding_and_checks_never_panic(
        op in prop::sample::select(Op::ALL.to_vec()),
        body in json_value(),
        raw in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = decode(op, &raw, "us-east-1", "123456789012");
        if let Ok(call) = decode(op, body.to_string().as_bytes(), "us-east-1", "123456789012") {
            let _ = checks(&call, &|_| table());
        }
    }

    #[test]
    fn expression_readers_never_panic(s in "[ -~]{0,64}") {
        let _ = top_level_names(&s, None);
        let _ = key_equality(&s, "pk", None, None);
        if let Ok(st) = partiql::read(&s) {
            let _ = st.key_values("pk", &[]);
        }
    }

    /// A GetItem's LeadingKeys is its key's partition value, whatever else
    /// the request holds: never absent, never another value.
    #[test]
    fn leading_keys_are_the_key_touched(
        v in "[ -~]{0,16}",
        projection in prop::option::of("[a-z#:, .()]{0,20}"),
    ) {
        let mut body = json!({"TableName": "T", "Key": {"pk": {"S": v}, "sk": {"S": "x"}}});
        if let Some(p) = projection {
            body["ProjectionExpression"] = json!(p);
        }
        let call = decode(Op::GetItem, body.to_string().as_bytes(), "us-east-1", "1").unwrap();
        let c = &checks(&call, &|_| table()).unwrap()[0];
        let leading = c
            .multi_keys
            .iter()
            .find(|(k, _)| k == "dynamodb:LeadingKeys")
            .map(|(_, v)| v.clone());
        prop_assert_eq!(leading, Some(vec![v]));
    }

    /// Names joined by operators are read back, in order, without
    /// duplicates; a key condition's equality yields its value.
    #[test]
    fn expression_names_round_trip(
        names in prop::collection::vec("[a-z][a-zA-Z0-9_]{0,8}", 1..6),
        op in prop::sample::select(vec![" = ", " < ", " <> ", " AND ", ", "]),
        value in "[a-z0-9]{1,8}",
    ) {
        let names: Vec<String> = names
            .into_iter()
            .filter(|n| !["and", "or", "not", "in", "between", "set", "remove", "add", "delete"]
                .contains(&n.to_ascii_lowercase().as_str()))
            .collect();
        prop_assume!(!names.is_empty());
        let expr = names.join(op);
        let mut want: Vec<String> = Vec::new();
        for n in &names {
            if !want.contains(n) {
                want.push(n.clone());
            }
        }
        prop_assert_eq!(top_level_names(&expr, None).unwrap(), want);
        let values = json!({":v": {"S": value.clone()}});
        let got = key_equality(&format!("{} = :v", names[0]), &names[0], None, values.as_object()).unwrap();
        prop_assert_eq!(got, vec![value]);
    }

    /// An expression podiam cannot read never yields a readable name list
    /// that could pass an allow-list: it is an error, and the checks carry
    /// UNREADABLE instead.
    #[test]
    fn unreadable_projections_fail_closed(junk in "[a-z]{0,4}[!@$%^&*;{}|~`]{1,3}[a-z]{0,4}") {
        prop_assert!(top_level_names(&junk, None).is_err());
        let body = json!({"TableName": "T", "Key": {"pk": {"S": "a"}}, "ProjectionExpression": junk});
        let call = decode(Op::GetItem, body.to_string().as_bytes(), "us-east-1", "1").unwrap();
        let c = &checks(&call, &|_| table()).unwrap()[0];
        let attrs = &c.multi_keys.iter().find(|(k, _)| k == "dynamodb:Attributes").unwrap().1;
        prop_assert!(attrs.contains(&UNREADABLE.to_string()));
    }
}
