//! The embedded engine: one dynoxide database per (account, region), as
//! DynamoDB keeps one table namespace per account and region, opened on
//! first use under `DATA_DIR/dynamodb/<account>/<region>.sqlite3`.
//!
//! dynoxide commits every write in WAL mode with SQLite's default
//! `synchronous=FULL` before it answers, so an acknowledged write survives
//! `kill -9` and power loss alike (tested in `tests/durability.rs`).

use crate::error::DdbError;
use dynoxide::Database;
use dynoxide::actions::list_tags_of_resource::ListTagsOfResourceRequest;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// The ARN prefix dynoxide writes into its answers.
const ENGINE_ARN_PREFIX: &str = "arn:aws:dynamodb:dynoxide:000000000000:";

/// What IAM's checks read of a table: the partition keys
/// (`dynamodb:LeadingKeys`) of the table and each index, its stream, and
/// its tags (`aws:ResourceTag/*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableInfo {
    /// The table's partition (HASH) key.
    pub partition_key: String,
    /// Every key attribute of the table and its indexes.
    pub key_attributes: Vec<String>,
    /// Index name → its partition key.
    pub index_partition_keys: HashMap<String, String>,
    /// The stream label, when streams are on.
    pub stream_label: Option<String>,
    /// The table's tags.
    pub tags: Vec<(String, String)>,
}

/// Where databases live.
#[derive(Debug, Clone)]
enum Location {
    Dir(PathBuf),
    Memory,
}

/// (account, region, table) → what IAM reads of it (`None`: no such table).
type InfoCache = HashMap<(String, String, String), Option<Arc<TableInfo>>>;

/// An open database and the queue its writes wait in: the engine commits
/// one write at a time, and a fair queue in front of the blocking pool
/// serves them in arrival order, where blocking threads racing for the
/// engine's lock let some wait for hundreds of milliseconds.
#[derive(Clone)]
struct Open {
    db: Database,
    writes: Arc<tokio::sync::Mutex<()>>,
}

/// The wording of the engine's request-validation refusals, process-wide.
///
/// DynamoDB has been moving each operation to a newer validation layer, region
/// by region, since 2026-09: same error types, new message texts (no value
/// echo, `TableName` capitalised, PutItem/UpdateItem/DeleteItem refusals in the
/// `1 validation error detected:` envelope). `Older` answers as us-east-1 did
/// when the public conformance suite recorded its ground truth; `Current` as
/// most regions answer now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidationLayer {
    /// The layer the conformance suite's ground truth was recorded on.
    Older,
    /// The layer most regions run today.
    Current,
}

impl ValidationLayer {
    /// Set the layer for every engine in this process.
    pub fn install(self) {
        dynoxide::validation::set_older_layer_everywhere(self == ValidationLayer::Older);
    }
}

/// Every open database.
#[derive(Clone)]
pub struct Engine {
    location: Location,
    open: Arc<Mutex<HashMap<(String, String), Open>>>,
    /// Table facts, read once per table: every change to them (create,
    /// delete, update, tagging) goes through [`Engine::call`], which
    /// forgets the account and region's entries.
    infos: Arc<RwLock<InfoCache>>,
    /// An empty database that answers requests podiam cannot authorize
    /// (malformed bodies): its errors carry the engine's exact wording and
    /// nothing it does touches anyone's data.
    scratch: Database,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Databases under `dir` (created on first use).
    pub fn open(dir: PathBuf) -> Result<Engine, DdbError> {
        Engine::new(Location::Dir(dir))
    }

    /// In-memory databases (tests).
    pub fn memory() -> Result<Engine, DdbError> {
        Engine::new(Location::Memory)
    }

    fn new(location: Location) -> Result<Engine, DdbError> {
        Ok(Engine {
            location,
            open: Arc::default(),
            infos: Arc::default(),
            scratch: Database::memory().map_err(|e| DdbError::Internal(e.to_string()))?,
        })
    }

    /// The database of (`account`, `region`), opened if needed.
    fn db(&self, account: &str, region: &str) -> Result<Database, DdbError> {
        self.opened(account, region).map(|o| o.db)
    }

    fn opened(&self, account: &str, region: &str) -> Result<Open, DdbError> {
        let key = (account.to_string(), region.to_string());
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = open.get(&key) {
            return Ok(o.clone());
        }
        let db = match &self.location {
            Location::Memory => Database::memory(),
            Location::Dir(dir) => {
                let dir = dir.join(account);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| DdbError::Internal(format!("{}: {e}", dir.display())))?;
                let path = dir.join(format!("{region}.sqlite3"));
                Database::new(&path.to_string_lossy())
            }
        }
        .map_err(|e| DdbError::Internal(format!("opening the {account}/{region} database: {e}")))?;
        let o = Open {
            db,
            writes: Arc::default(),
        };
        open.insert(key, o.clone());
        Ok(o)
    }

    /// Runs `operation` with the JSON `body` on the blocking pool; the
    /// answer's engine ARNs are rewritten to (`account`, `region`).
    pub async fn call(
        &self,
        account: &str,
        region: &str,
        operation: &'static str,
        body: String,
    ) -> Result<String, DdbError> {
        let Open { db, writes } = self.opened(account, region)?;
        // Reads are short and commit nothing: they run where the request
        // runs, sparing two thread hand-offs per call. Writes wait for their
        // commit's fsync: they queue, then go to the blocking pool.
        let (status, out) = if is_read(operation) {
            dynoxide::server::handle_json(&db, operation, &body)
        } else {
            let _turn = writes.lock().await;
            tokio::task::spawn_blocking(move || {
                dynoxide::server::handle_json(&db, operation, &body)
            })
            .await
            .map_err(|e| DdbError::Internal(format!("engine task: {e}")))?
        };
        if status != 200 {
            return Err(DdbError::from_engine(status, out));
        }
        if matches!(
            operation,
            "CreateTable" | "DeleteTable" | "UpdateTable" | "TagResource" | "UntagResource"
        ) {
            self.infos
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|(a, r, _), _| a != account || r != region);
        }
        Ok(rewrite_arns(operation, out, account, region))
    }

    /// The engine's error for a request podiam cannot read, from the
    /// scratch database.
    pub fn refusal(&self, operation: &'static str, body: &str) -> DdbError {
        match dynoxide::server::handle_json(&self.scratch, operation, body) {
            (200, _) => {
                DdbError::Validation(format!("The request for {operation} could not be read"))
            }
            (status, out) => DdbError::from_engine(status, out),
        }
    }

    /// What IAM reads of `table`, if it exists.
    pub fn table_info(
        &self,
        account: &str,
        region: &str,
        table: &str,
    ) -> Result<Option<Arc<TableInfo>>, DdbError> {
        let key = (account.to_string(), region.to_string(), table.to_string());
        if let Some(hit) = self
            .infos
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(hit.clone());
        }
        let info = self.read_table_info(account, region, table)?.map(Arc::new);
        self.infos
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, info.clone());
        Ok(info)
    }

    fn read_table_info(
        &self,
        account: &str,
        region: &str,
        table: &str,
    ) -> Result<Option<TableInfo>, DdbError> {
        let db = self.db(account, region)?;
        let meta = db
            .get_table_metadata(table)
            .map_err(|e| DdbError::Internal(e.to_string()))?;
        let Some(m) = meta else {
            return Ok(None);
        };
        let tags = db
            .list_tags_of_resource(ListTagsOfResourceRequest {
                resource_arn: Some(format!("arn:aws:dynamodb:{region}:{account}:table/{table}")),
            })
            .map(|r| r.tags.into_iter().map(|t| (t.key, t.value)).collect())
            .unwrap_or_default();
        Ok(Some({
            let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or_default();
            let mut schema = TableInfo {
                stream_label: m.stream_label.clone(),
                tags,
                ..TableInfo::default()
            };
            let table_keys = parse(&m.key_schema);
            schema.partition_key = hash_key(&table_keys).unwrap_or_default();
            collect_keys(&table_keys, &mut schema.key_attributes);
            for defs in [&m.gsi_definitions, &m.lsi_definitions]
                .into_iter()
                .flatten()
            {
                for index in parse(defs).as_array().into_iter().flatten() {
                    let keys = &index["KeySchema"];
                    collect_keys(keys, &mut schema.key_attributes);
                    if let (Some(name), Some(pk)) = (index["IndexName"].as_str(), hash_key(keys)) {
                        schema.index_partition_keys.insert(name.to_string(), pk);
                    }
                }
            }
            schema
        }))
    }

    /// Deletes items whose TTL has passed, in every open database.
    pub fn sweep_ttl(&self) {
        let dbs: Vec<Database> = self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|o| o.db.clone())
            .collect();
        for db in dbs {
            if let Err(e) = db.sweep_ttl() {
                tracing::warn!(error = %e, "dynamodb TTL sweep failed");
            }
        }
    }
}

/// Operations that only read the database.
fn is_read(operation: &str) -> bool {
    matches!(
        operation,
        "GetItem"
            | "Query"
            | "Scan"
            | "BatchGetItem"
            | "TransactGetItems"
            | "DescribeTable"
            | "ListTables"
            | "ListTagsOfResource"
            | "DescribeTimeToLive"
            | "ListStreams"
            | "DescribeStream"
            | "GetShardIterator"
    )
}

fn hash_key(keys: &Value) -> Option<String> {
    keys.as_array()?
        .iter()
        .find(|k| k["KeyType"] == "HASH")
        .and_then(|k| k["AttributeName"].as_str())
        .map(str::to_string)
}

fn collect_keys(keys: &Value, out: &mut Vec<String>) {
    for k in keys.as_array().into_iter().flatten() {
        if let Some(n) = k["AttributeName"].as_str()
            && !out.iter().any(|o| o == n)
        {
            out.push(n.to_string());
        }
    }
}

/// Fields whose values are ARNs the engine made up, and the fields that
/// hold item data, which are never touched.
const ARN_FIELDS: &[&str] = &[
    "TableArn",
    "IndexArn",
    "LatestStreamArn",
    "StreamArn",
    "LastEvaluatedStreamArn",
    "eventSourceARN",
];
const ITEM_FIELDS: &[&str] = &[
    "Item",
    "Items",
    "Attributes",
    "Keys",
    "NewImage",
    "OldImage",
    "LastEvaluatedKey",
    "Responses",
    "UnprocessedItems",
    "UnprocessedKeys",
];

/// Puts (`account`, `region`) into the ARNs of a control-plane or streams
/// answer; item answers are returned untouched.
fn rewrite_arns(operation: &str, body: String, account: &str, region: &str) -> String {
    let carries_arns = matches!(
        operation,
        "CreateTable"
            | "DeleteTable"
            | "DescribeTable"
            | "UpdateTable"
            | "ListStreams"
            | "DescribeStream"
            | "GetRecords"
    );
    if !carries_arns || !body.contains("dynoxide") {
        return body;
    }
    let Ok(mut v) = serde_json::from_str::<Value>(&body) else {
        return body;
    };
    let prefix = format!("arn:aws:dynamodb:{region}:{account}:");
    walk(&mut v, &prefix, region);
    v.to_string()
}

fn walk(v: &mut Value, prefix: &str, region: &str) {
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                if ITEM_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                match child {
                    Value::String(s) if ARN_FIELDS.contains(&k.as_str()) => {
                        if let Some(rest) = s.strip_prefix(ENGINE_ARN_PREFIX) {
                            *s = format!("{prefix}{rest}");
                        }
                    }
                    Value::String(s) if k == "awsRegion" => *s = region.to_string(),
                    _ => walk(child, prefix, region),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| walk(c, prefix, region)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_are_rewritten_but_items_are_not() {
        let body = serde_json::json!({
            "Table": {
                "TableArn": "arn:aws:dynamodb:dynoxide:000000000000:table/t",
                "LatestStreamArn": "arn:aws:dynamodb:dynoxide:000000000000:table/t/stream/x",
                "GlobalSecondaryIndexes": [{"IndexArn": "arn:aws:dynamodb:dynoxide:000000000000:table/t/index/i"}]
            },
            "Records": [{"awsRegion": "dynoxide", "dynamodb": {"NewImage": {"TableArn": {"S": "arn:aws:dynamodb:dynoxide:000000000000:x"}}}}]
        })
        .to_string();
        let out: Value = serde_json::from_str(&rewrite_arns(
            "DescribeTable",
            body.clone(),
            "123456789012",
            "eu-west-1",
        ))
        .unwrap();
        assert_eq!(
            out["Table"]["TableArn"],
            "arn:aws:dynamodb:eu-west-1:123456789012:table/t"
        );
        assert_eq!(
            out["Table"]["GlobalSecondaryIndexes"][0]["IndexArn"],
            "arn:aws:dynamodb:eu-west-1:123456789012:table/t/index/i"
        );
        assert_eq!(out["Records"][0]["awsRegion"], "eu-west-1");
        assert_eq!(
            out["Records"][0]["dynamodb"]["NewImage"]["TableArn"]["S"],
            "arn:aws:dynamodb:dynoxide:000000000000:x"
        );
        assert_eq!(rewrite_arns("GetItem", body.clone(), "1", "r"), body);
    }

    #[tokio::test]
    async fn tables_live_per_account_and_region() {
        let e = Engine::memory().unwrap();
        let create = r#"{"TableName":"tbl","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"},{"AttributeName":"c","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST","GlobalSecondaryIndexes":[{"IndexName":"byC","KeySchema":[{"AttributeName":"c","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}}]}"#;
        let out = e
            .call("111111111111", "us-east-1", "CreateTable", create.into())
            .await
            .unwrap();
        assert!(
            out.contains("arn:aws:dynamodb:us-east-1:111111111111:table/tbl"),
            "{out}"
        );
        let schema = e
            .table_info("111111111111", "us-east-1", "tbl")
            .unwrap()
            .unwrap();
        assert_eq!(schema.partition_key, "id");
        assert_eq!(schema.index_partition_keys["byC"], "c");
        assert_eq!(schema.key_attributes, ["id", "c"]);
        assert!(
            e.table_info("222222222222", "us-east-1", "tbl")
                .unwrap()
                .is_none()
        );
        assert!(
            e.table_info("111111111111", "eu-west-1", "tbl")
                .unwrap()
                .is_none()
        );
        let err = e
            .call(
                "222222222222",
                "us-east-1",
                "DescribeTable",
                r#"{"TableName":"tbl"}"#.into(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, DdbError::Engine { ref type_, .. } if type_.ends_with("#ResourceNotFoundException")),
            "{err:?}"
        );
    }

    #[test]
    fn refusals_carry_the_engine_wording() {
        let e = Engine::memory().unwrap();
        let r = e.refusal("GetItem", "{not json");
        assert!(
            matches!(r, DdbError::Engine { ref type_, .. } if type_.ends_with("#SerializationException")),
            "{r:?}"
        );
        let r = e.refusal("GetItem", r#"{"Key":{}}"#);
        assert!(
            matches!(r, DdbError::Engine { ref type_, .. } if type_.ends_with("#ValidationException")),
            "{r:?}"
        );
    }
}
