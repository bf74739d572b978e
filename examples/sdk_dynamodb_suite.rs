//! aws-sdk-rust's DynamoDB client against podiam, run the way a pod runs
//! it: credentials from the default chain (`AWS_ROLE_ARN` +
//! `AWS_WEB_IDENTITY_TOKEN_FILE`), the endpoint from `AWS_ENDPOINT_URL`.
//!
//! The role is expected to hold a policy limiting it to the partition
//! `SUITE_TENANT` of table `SUITE_TABLE` (`dynamodb:LeadingKeys`), with
//! Query, Get/Put/Update/DeleteItem, BatchWriteItem, TransactWriteItems,
//! TransactGetItems and DescribeTable allowed. Exercises the table waiter,
//! item calls, a paginated Query, a batch write, both transaction calls,
//! and AccessDeniedException for another tenant's partition, a Scan, and a
//! transaction touching another tenant. Prints `SDK DYNAMODB SUITE OK`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue, Get, Put, PutRequest, TransactGetItem, TransactWriteItem, WriteRequest,
};
use std::collections::HashMap;
use std::time::Duration;

type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+).into());
        }
    };
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn item(tenant: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("tenant".to_string(), s(tenant)),
        ("sk".to_string(), s(sk)),
        ("n".to_string(), AttributeValue::N("1".into())),
    ])
}

/// The error code of a failed call, or `ok`.
fn code<T, E: ProvideErrorMetadata>(r: &std::result::Result<T, E>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code().unwrap_or("(no code)").to_string(),
    }
}

#[tokio::main]
async fn main() {
    match suite().await {
        Ok(()) => println!("SDK DYNAMODB SUITE OK"),
        Err(e) => {
            eprintln!("sdk_dynamodb_suite: FAILED: {e}");
            std::process::exit(1);
        }
    }
}

async fn suite() -> Result<()> {
    let table = std::env::var("SUITE_TABLE").unwrap_or_else(|_| "tenants".into());
    let me = std::env::var("SUITE_TENANT").unwrap_or_else(|_| "team-a".into());
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ddb = Client::new(&sdk);

    ddb.wait_until_table_exists()
        .table_name(&table)
        .wait(Duration::from_secs(30))
        .await?;

    for i in 0..25 {
        ddb.put_item()
            .table_name(&table)
            .set_item(Some(item(&me, &format!("k{i:02}"))))
            .send()
            .await?;
    }
    let got = ddb
        .get_item()
        .table_name(&table)
        .key("tenant", s(&me))
        .key("sk", s("k03"))
        .send()
        .await?;
    check!(got.item().is_some(), "GetItem found nothing");
    ddb.update_item()
        .table_name(&table)
        .key("tenant", s(&me))
        .key("sk", s("k03"))
        .update_expression("SET n = n + :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await?;

    // A paginated Query over the caller's partition.
    let pages: Vec<_> = ddb
        .query()
        .table_name(&table)
        .key_condition_expression("tenant = :t")
        .expression_attribute_values(":t", s(&me))
        .limit(10)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    let mut count = 0;
    for p in &pages {
        count += p
            .as_ref()
            .map_err(|e| format!("query page: {e:?}"))?
            .count();
    }
    check!(
        pages.len() >= 3 && count == 25,
        "query: {} pages, {count} items",
        pages.len()
    );

    // Batch and transactions within the partition.
    let writes: Vec<WriteRequest> = (0..5)
        .map(|i| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item(&me, &format!("b{i}"))))
                        .build()
                        .expect("put request"),
                )
                .build()
        })
        .collect();
    let out = ddb
        .batch_write_item()
        .request_items(&table, writes)
        .send()
        .await?;
    check!(
        out.unprocessed_items().is_none_or(|u| u.is_empty()),
        "unprocessed batch items"
    );
    let put = |tenant: &str, sk: &str| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&table)
                    .set_item(Some(item(tenant, sk)))
                    .build()
                    .expect("put"),
            )
            .build()
    };
    ddb.transact_write_items()
        .transact_items(put(&me, "t1"))
        .transact_items(put(&me, "t2"))
        .send()
        .await?;
    let got = ddb
        .transact_get_items()
        .transact_items(
            TransactGetItem::builder()
                .get(
                    Get::builder()
                        .table_name(&table)
                        .key("tenant", s(&me))
                        .key("sk", s("t2"))
                        .build()?,
                )
                .build(),
        )
        .send()
        .await?;
    check!(
        got.responses().first().and_then(|r| r.item()).is_some(),
        "TransactGetItems found nothing"
    );

    // Denials: another tenant's item, a scan, a transaction reaching out.
    let other = ddb
        .get_item()
        .table_name(&table)
        .key("tenant", s("someone-else"))
        .key("sk", s("k00"))
        .send()
        .await;
    check!(
        code(&other) == "AccessDeniedException",
        "other tenant: {}",
        code(&other)
    );
    let scan = ddb.scan().table_name(&table).send().await;
    check!(
        code(&scan) == "AccessDeniedException",
        "scan: {}",
        code(&scan)
    );
    let mixed = ddb
        .transact_write_items()
        .transact_items(put(&me, "t3"))
        .transact_items(put("someone-else", "t3"))
        .send()
        .await;
    check!(
        code(&mixed) == "AccessDeniedException",
        "mixed transaction: {}",
        code(&mixed)
    );
    let t3 = ddb
        .get_item()
        .table_name(&table)
        .key("tenant", s(&me))
        .key("sk", s("t3"))
        .send()
        .await?;
    check!(t3.item().is_none(), "a denied transaction wrote");
    Ok(())
}
