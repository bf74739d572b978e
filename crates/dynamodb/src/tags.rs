//! Tags kept in podiam's store, like resource policies: a stream's own
//! tags (streams do not inherit their table's), and table tags when the
//! tables live on a backend (`--dynamodb-backend`), so every replica reads
//! the same `aws:ResourceTag/*` without asking the backend, and a backend
//! without tagging (or with other rules) changes no decision.

use crate::action::DdbArn;
use crate::error::DdbError;
use podiam_store::{Entity, Op as StoreOp, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A table's or a stream's tags, in the order they were first set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableTags {
    /// Its store key: the table's name, or [`stream_key`].
    pub table: String,
    /// Key and value of each tag.
    pub tags: Vec<(String, String)>,
}

impl Entity for TableTags {
    const KIND: &'static str = "dynamodb-table-tags";
}

/// The store key of a stream's tags.
pub fn stream_key(table: &str, label: &str) -> String {
    format!("{table}/stream/{label}")
}

/// The store key of the tags of the table or stream `arn` names (an
/// index's tags are its table's).
pub fn key_of(arn: &DdbArn) -> String {
    match arn.stream_label() {
        Some(label) => stream_key(&arn.table, label),
        None => arn.table.clone(),
    }
}

/// The tags of `account`'s `table` (or stream, by [`stream_key`]).
pub fn of(store: &Store, account: &str, table: &str) -> Result<Vec<(String, String)>, DdbError> {
    Ok(store
        .get::<TableTags>(account, table)?
        .map(|t| t.value.tags.clone())
        .unwrap_or_default())
}

/// `[{"Key": …, "Value": …}]` as pairs.
pub fn from_json(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["Key"].as_str().unwrap_or_default().to_string(),
                t["Value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Pairs as `[{"Key": …, "Value": …}]`.
pub fn to_json(tags: &[(String, String)]) -> Value {
    tags.iter()
        .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
        .collect()
}

/// Applies `f` to the table's tags (TagResource merges, UntagResource
/// removes).
pub async fn change(
    store: &Store,
    account: &str,
    table: &str,
    f: impl Fn(&mut Vec<(String, String)>) + Send,
) -> Result<(), DdbError> {
    store
        .modify(account, table, |cur: Option<&TableTags>| {
            let mut tags = cur.map(|t| t.tags.clone()).unwrap_or_default();
            f(&mut tags);
            let next = TableTags {
                table: table.to_string(),
                tags,
            };
            Ok::<_, DdbError>((Some(next), ()))
        })
        .await
}

/// Sets `add` over the current tags: same key, new value.
pub fn merge(tags: &mut Vec<(String, String)>, add: &[(String, String)]) {
    for (k, v) in add {
        match tags.iter_mut().find(|(tk, _)| tk == k) {
            Some(t) => t.1 = v.clone(),
            None => tags.push((k.clone(), v.clone())),
        }
    }
}

/// Forgets a deleted table's tags.
pub async fn forget(store: &Store, account: &str, table: &str) -> Result<(), DdbError> {
    if let Some(t) = store.get::<TableTags>(account, table)? {
        store
            .write(vec![StoreOp::delete::<TableTags>(
                account, table, t.version,
            )])
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_overwrites_by_key_and_keeps_order() {
        let mut tags = vec![("a".into(), "1".into()), ("b".into(), "2".into())];
        merge(
            &mut tags,
            &[("b".into(), "3".into()), ("c".into(), "4".into())],
        );
        assert_eq!(
            tags,
            [("a", "1"), ("b", "3"), ("c", "4")].map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let json = to_json(&tags);
        assert_eq!(from_json(&json), tags);
    }
}
