//! Resource-based policies of tables and streams: kept in podiam's store
//! (so every replica decides alike), used in every decision on the table,
//! its indexes, or the stream.

use crate::action::DdbArn;
use crate::error::DdbError;
use podiam_policy::{Policy, PolicyKind};
use podiam_store::{Entity, Op as StoreOp, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// DynamoDB's limit on a resource policy, whitespace included.
const MAX_POLICY_BYTES: usize = 20 * 1024;

/// A table's or stream's resource-based policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcePolicyDoc {
    /// Its store key: the table's name, or `<table>/stream/<label>`.
    pub key: String,
    /// The policy document as given.
    pub policy: String,
    /// The revision: epoch milliseconds of the write, compared as text.
    pub revision_id: String,
}

impl Entity for ResourcePolicyDoc {
    const KIND: &'static str = "dynamodb-resource-policy";
}

/// The store key of the policy governing `arn`: a stream's own, else the
/// table's (indexes are governed by their table's policy).
pub fn key_of(arn: &DdbArn) -> String {
    match &arn.sub {
        Some((kind, label)) if kind == "stream" => format!("{}/stream/{label}", arn.table),
        _ => arn.table.clone(),
    }
}

/// The parsed policy governing `resource`, with the name explanations use.
pub fn governing(store: &Store, resource: &str) -> Result<Option<(String, Policy)>, DdbError> {
    let Some(arn) = DdbArn::parse(resource) else {
        return Ok(None);
    };
    let Some(doc) = store.get::<ResourcePolicyDoc>(&arn.account, &key_of(&arn))? else {
        return Ok(None);
    };
    let policy = Policy::parse_with_limit(&doc.value.policy, PolicyKind::Resource, None)
        .map_err(|e| DdbError::Internal(format!("stored policy of {resource}: {e}")))?;
    Ok(Some((
        format!("resource policy of {}", key_of(&arn)),
        policy,
    )))
}

/// Validates a policy document for `PutResourcePolicy` / `CreateTable`.
pub fn validate(doc: &str) -> Result<(), DdbError> {
    if doc.len() > MAX_POLICY_BYTES {
        return Err(DdbError::LimitExceeded(format!(
            "Policy size {} exceeds the maximum allowed size of {MAX_POLICY_BYTES} bytes",
            doc.len()
        )));
    }
    Policy::parse_with_limit(doc, PolicyKind::Resource, None)
        .map(|_| ())
        .map_err(|e| DdbError::Validation(format!("Invalid policy document: {e}")))
}

/// `PutResourcePolicy`: the revision written (or the current one, when the
/// document is unchanged).
pub async fn put(
    store: &Store,
    now_ms: i64,
    arn: &DdbArn,
    doc: &str,
    expected: Option<&str>,
) -> Result<String, DdbError> {
    validate(doc)?;
    let key = key_of(arn);
    let current = store.get::<ResourcePolicyDoc>(&arn.account, &key)?;
    match (expected, &current) {
        (Some("NO_POLICY"), Some(c)) => {
            return Err(DdbError::PolicyNotFound(format!(
                "Resource-based policy not found for the provided ResourceArn: Requested policy update expecting none to be present for table {}, but a policy exists with revision id {}.",
                arn.table, c.value.revision_id
            )));
        }
        (Some(e), Some(c)) if e != "NO_POLICY" && e != c.value.revision_id => {
            return Err(DdbError::PolicyNotFound(format!(
                "Resource-based policy not found for the provided ResourceArn: Requested update for policy with revision id {e}, but the policy associated to target table {} has revision id {}.",
                arn.table, c.value.revision_id
            )));
        }
        (Some(e), None) if e != "NO_POLICY" => {
            return Err(DdbError::PolicyNotFound(format!(
                "Resource-based policy not found for the provided ResourceArn: Requested update for policy with revision id {e}, but the policy associated to target table {} has revision id NO_POLICY.",
                arn.table
            )));
        }
        _ => {}
    }
    if let Some(c) = &current
        && c.value.policy == doc
    {
        return Ok(c.value.revision_id.clone());
    }
    let revision_id = now_ms.to_string();
    let value = ResourcePolicyDoc {
        key: key.clone(),
        policy: doc.to_string(),
        revision_id: revision_id.clone(),
    };
    let op = match &current {
        Some(c) => StoreOp::update(&arn.account, &key, &value, c.version),
        None => StoreOp::create(&arn.account, &key, &value),
    };
    store.write(vec![op]).await?;
    Ok(revision_id)
}

/// `GetResourcePolicy`.
pub fn get(store: &Store, call_arn: &str, arn: &DdbArn) -> Result<serde_json::Value, DdbError> {
    let doc = store
        .get::<ResourcePolicyDoc>(&arn.account, &key_of(arn))?
        .ok_or_else(|| not_found(call_arn))?;
    Ok(json!({"Policy": doc.value.policy, "RevisionId": doc.value.revision_id}))
}

/// `DeleteResourcePolicy`: the revision deleted.
pub async fn delete(
    store: &Store,
    call_arn: &str,
    arn: &DdbArn,
    expected: Option<&str>,
) -> Result<String, DdbError> {
    let key = key_of(arn);
    let doc = store
        .get::<ResourcePolicyDoc>(&arn.account, &key)?
        .ok_or_else(|| not_found(call_arn))?;
    if let Some(e) = expected
        && e != doc.value.revision_id
    {
        return Err(DdbError::PolicyNotFound(format!(
            "Resource-based policy not found for the provided ResourceArn: Requested update for policy with revision id {e}, but the policy associated to target table {} has revision id {}.",
            arn.table, doc.value.revision_id
        )));
    }
    store
        .write(vec![StoreOp::delete::<ResourcePolicyDoc>(
            &arn.account,
            &key,
            doc.version,
        )])
        .await?;
    Ok(doc.value.revision_id.clone())
}

/// Removes the policies of a deleted table (its own and its streams').
pub async fn forget_table(store: &Store, account: &str, table: &str) -> Result<(), DdbError> {
    let prefix = format!("{table}/stream/");
    let ops: Vec<StoreOp> = store
        .list::<ResourcePolicyDoc>(account)?
        .into_iter()
        .filter(|d| d.value.key == table || d.value.key.starts_with(&prefix))
        .map(|d| StoreOp::delete::<ResourcePolicyDoc>(account, &d.value.key, d.version))
        .collect();
    store.write(ops).await?;
    Ok(())
}

fn not_found(arn: &str) -> DdbError {
    DdbError::PolicyNotFound(format!(
        "Resource-based policy not found for the provided ResourceArn: {arn}"
    ))
}
