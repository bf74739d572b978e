//! The embedded engine: one dynoxide database per (account, region), as
//! DynamoDB keeps one table namespace per account and region, opened on
//! first use under `DATA_DIR/dynamodb/<account>/<region>.sqlite3`.
//!
//! dynoxide commits every write in WAL mode with SQLite's default
//! `synchronous=FULL` before it answers, so an acknowledged write survives
//! `kill -9` and power loss alike (tested in `tests/durability.rs`).
//!
//! Or a backend endpoint ([`Remote`]) that every replica shares.

use crate::error::DdbError;
use crate::remote::Remote;
use dynoxide::Database;
use dynoxide::actions::list_tags_of_resource::ListTagsOfResourceRequest;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long a backend's table facts are trusted: another replica may have
/// re-created or re-tagged the table.
const REMOTE_FACTS_TTL: Duration = Duration::from_secs(1);

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
    /// Its stream's tags: a stream does not inherit its table's.
    pub stream_tags: Vec<(String, String)>,
}

impl TableInfo {
    /// The tags of `resource`: the table's, its index's (the table's), or
    /// its stream's.
    pub fn tags_of(&self, resource: &str) -> &[(String, String)] {
        // Names of tables and indexes hold no `/`: only a stream's ARN has
        // this part (and this runs for every check).
        if resource.contains("/stream/") {
            &self.stream_tags
        } else {
            &self.tags
        }
    }

    /// From a table's `KeySchema`, its indexes (each with `IndexName` and
    /// `KeySchema`), stream label and tags.
    fn from_schema(
        key_schema: &Value,
        indexes: &[Value],
        stream_label: Option<String>,
        tags: Vec<(String, String)>,
    ) -> TableInfo {
        let mut info = TableInfo {
            partition_key: hash_key(key_schema).unwrap_or_default(),
            stream_label,
            tags,
            ..TableInfo::default()
        };
        collect_keys(key_schema, &mut info.key_attributes);
        for index in indexes {
            let keys = &index["KeySchema"];
            collect_keys(keys, &mut info.key_attributes);
            if let (Some(name), Some(pk)) = (index["IndexName"].as_str(), hash_key(keys)) {
                info.index_partition_keys.insert(name.to_string(), pk);
            }
        }
        info
    }
}

/// Where databases live.
#[derive(Debug, Clone)]
enum Location {
    Dir(PathBuf),
    Memory,
    /// A backend endpoint: one table namespace, `account`'s in `region`.
    Remote {
        remote: Arc<Remote>,
        account: String,
        region: String,
    },
}

/// (account, region, table) → what IAM reads of it (`None`: no such table),
/// and when it was read.
type InfoCache = HashMap<(String, String, String), (Option<Arc<TableInfo>>, Instant)>;

/// An open database and its writer. Every commit waits for its fsync, so
/// one thread per database runs the writes in arrival order from a queue,
/// and consecutive item writes share one transaction and one commit: a
/// write's turn costs its share of an fsync (no lock held across thread
/// hand-offs, none of the unfairness of blocking threads racing for the
/// engine's lock).
#[derive(Clone)]
struct Open {
    db: Database,
    /// Held exclusively while a group of writes shares one open transaction,
    /// whose writes are neither durable nor answered yet, so no one may read
    /// them; shared by every other use of `db`.
    gate: Arc<RwLock<()>>,
    writes: tokio::sync::mpsc::Sender<Write>,
}

/// A write for the writer thread: the operation, its body, and where the
/// engine's answer goes.
struct Write {
    operation: &'static str,
    body: String,
    answer: tokio::sync::oneshot::Sender<(u16, String)>,
}

/// Writes waiting beyond this many make their callers wait to queue.
const WRITE_QUEUE: usize = 1024;

/// Most writes that share one commit.
const GROUP_MAX: usize = 256;

/// The answer to a write whose commit did not happen.
fn internal_error() -> (u16, String) {
    (
        500,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#
            .to_string(),
    )
}

/// Item writes that may share a commit: each is one engine transaction
/// with no state outside the database. (TransactWriteItems remembers its
/// ClientRequestToken in memory, and table operations their metadata, so
/// they commit alone.)
fn shares_commit(operation: &str) -> bool {
    matches!(
        operation,
        "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem"
    )
}

/// Starts the writer thread of `db`; it ends when the last sender is dropped.
fn spawn_writer(
    db: &Database,
    gate: Arc<RwLock<()>>,
    name: String,
) -> Result<tokio::sync::mpsc::Sender<Write>, DdbError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Write>(WRITE_QUEUE);
    let db = db.clone();
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut queued = vec![first];
                while queued.len() < GROUP_MAX {
                    match rx.try_recv() {
                        Ok(w) => queued.push(w),
                        Err(_) => break,
                    }
                }
                write_all(&db, &gate, queued);
            }
        })
        .map_err(|e| DdbError::Internal(format!("starting a DynamoDB writer: {e}")))?;
    Ok(tx)
}

/// Runs `w` on the engine; `None` when the engine panicked. That fails the
/// write, and the writer thread lives on, but the engine's storage lock is
/// poisoned by then: its later calls fail until a restart.
fn run(db: &Database, w: &Write) -> Option<(u16, String)> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        dynoxide::server::handle_parsed_json(db, w.operation, &w.body)
    }))
    .inspect_err(|_| tracing::error!(operation = w.operation, "the DynamoDB engine panicked"))
    .ok()
}

/// Runs `queued` in arrival order: each run of consecutive item writes in
/// groups that share one commit, anything else alone.
fn write_all(db: &Database, gate: &RwLock<()>, queued: Vec<Write>) {
    let mut queued = queued.into_iter().peekable();
    while let Some(w) = queued.next() {
        if !shares_commit(w.operation) {
            let _shared = gate.read().unwrap_or_else(|e| e.into_inner());
            let answer = run(db, &w).unwrap_or_else(internal_error);
            let _ = w.answer.send(answer);
            continue;
        }
        let _exclusive = gate.write().unwrap_or_else(|e| e.into_inner());
        let mut run_of = vec![w];
        while let Some(w) = queued.next_if(|w| shares_commit(w.operation)) {
            run_of.push(w);
        }
        write_group(db, run_of);
    }
}

/// Runs `writes` in one transaction and answers them once it has
/// committed. A write that fails rolls back to its savepoint and leaves
/// the others. If the transaction itself ends (SQLite rolls back the
/// whole transaction on some errors; the engine rolls it back when a
/// savepoint cannot be), nothing of it was kept: its writes so far fail,
/// and the rest start another.
fn write_group(db: &Database, writes: Vec<Write>) {
    let mut done: Vec<(Write, (u16, String))> = Vec::with_capacity(writes.len());
    for w in writes {
        if done.is_empty()
            && let Err(e) = db.begin_group()
        {
            tracing::error!(error = %e, "starting a DynamoDB write transaction");
            let _ = w.answer.send(internal_error());
            continue;
        }
        match run(db, &w) {
            Some(answer) if db.group_open() => done.push((w, answer)),
            answer => {
                db.abort_group();
                for (w, _) in done.drain(..) {
                    let _ = w.answer.send(internal_error());
                }
                let answer = answer
                    .filter(|(status, _)| *status != 200)
                    .unwrap_or_else(internal_error);
                let _ = w.answer.send(answer);
            }
        }
    }
    if done.is_empty() {
        return;
    }
    let committed = db.commit_group();
    if let Err(e) = &committed {
        tracing::error!(error = %e, writes = done.len(), "committing DynamoDB writes");
    }
    for (w, answer) in done {
        let answer = if committed.is_ok() {
            answer
        } else {
            internal_error()
        };
        let _ = w.answer.send(answer);
    }
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

    /// Tables on a backend endpoint, which holds `account`'s in `region`.
    pub fn remote(remote: Remote, account: &str, region: &str) -> Result<Engine, DdbError> {
        Engine::new(Location::Remote {
            remote: Arc::new(remote),
            account: account.to_string(),
            region: region.to_string(),
        })
    }

    /// Whether tables live on a backend.
    pub fn is_remote(&self) -> bool {
        matches!(self.location, Location::Remote { .. })
    }

    /// The backend, when tables live on one, after checking that it holds
    /// (`account`, `region`)'s tables.
    fn remote_for(&self, account: &str, region: &str) -> Result<Option<&Remote>, DdbError> {
        match &self.location {
            Location::Remote {
                remote,
                account: a,
                region: r,
            } => {
                if a != account || r != region {
                    return Err(DdbError::Validation(format!(
                        "This endpoint's DynamoDB backend holds the tables of account {a} in \
                         {r} only, not those of account {account} in {region}"
                    )));
                }
                Ok(Some(remote))
            }
            _ => Ok(None),
        }
    }

    fn new(location: Location) -> Result<Engine, DdbError> {
        Ok(Engine {
            location,
            open: Arc::default(),
            infos: Arc::default(),
            scratch: Database::memory().map_err(|e| DdbError::Internal(e.to_string()))?,
        })
    }

    fn opened(&self, account: &str, region: &str) -> Result<Open, DdbError> {
        let key = (account.to_string(), region.to_string());
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = open.get(&key) {
            return Ok(o.clone());
        }
        let db = match &self.location {
            // Never reached: calls go to the backend.
            Location::Remote { .. } => {
                return Err(DdbError::Internal(
                    "no embedded database with a backend".into(),
                ));
            }
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
        let gate = Arc::new(RwLock::new(()));
        let writes = spawn_writer(&db, gate.clone(), format!("ddb-writer-{region}"))?;
        let o = Open { db, gate, writes };
        open.insert(key, o.clone());
        Ok(o)
    }

    /// Runs `operation` with the JSON `body` on the blocking pool; the
    /// answer's engine ARNs are rewritten to (`account`, `region`). `body`
    /// is JSON that podiam has parsed (a request it decoded, or one it
    /// wrote): the engine does not parse it once more to check that.
    pub async fn call(
        &self,
        account: &str,
        region: &str,
        operation: &'static str,
        body: String,
    ) -> Result<String, DdbError> {
        let (status, out) = if let Some(remote) = self.remote_for(account, region)? {
            match remote.call(operation, body).await? {
                (200, out) => (200, out),
                (status, out) => return Err(DdbError::from_backend(status, &out)),
            }
        } else {
            self.embedded(account, region, operation, body).await?
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

    async fn embedded(
        &self,
        account: &str,
        region: &str,
        operation: &'static str,
        body: String,
    ) -> Result<(u16, String), DdbError> {
        let Open { db, gate, writes } = self.opened(account, region)?;
        // Reads are short and commit nothing: they run where the request
        // runs, sparing two thread hand-offs per call. Writes wait for their
        // commit's fsync: they go to the database's writer thread.
        if is_read(operation) {
            let _shared = gate.read().unwrap_or_else(|e| e.into_inner());
            return Ok(dynoxide::server::handle_parsed_json(&db, operation, &body));
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        let gone = || DdbError::Internal("the DynamoDB writer stopped".into());
        writes
            .send(Write {
                operation,
                body,
                answer,
            })
            .await
            .map_err(|_| gone())?;
        answered.await.map_err(|_| gone())
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

    /// What IAM reads of `table`, if it exists. On a backend, what
    /// [`Engine::warm`] fetched for this request (however long ago): facts
    /// never fetched are an error, never a missing table.
    pub fn table_info(
        &self,
        account: &str,
        region: &str,
        table: &str,
    ) -> Result<Option<Arc<TableInfo>>, DdbError> {
        let key = (account.to_string(), region.to_string(), table.to_string());
        let remote = self.remote_for(account, region)?.is_some();
        if let Some((hit, _)) = self
            .infos
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(hit.clone());
        }
        if remote {
            return Err(DdbError::Unavailable(format!(
                "the backend's description of table {table} is not loaded"
            )));
        }
        let info = self.read_table_info(account, region, table)?.map(Arc::new);
        self.infos
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (info.clone(), Instant::now()));
        Ok(info)
    }

    /// On a backend, fetches the facts of `tables` not fetched in the last
    /// second (DescribeTable), for
    /// [`Engine::table_info`]. Embedded, nothing to do.
    pub async fn warm(
        &self,
        account: &str,
        region: &str,
        tables: &[String],
    ) -> Result<(), DdbError> {
        let Some(remote) = self.remote_for(account, region)? else {
            return Ok(());
        };
        for table in tables {
            let key = (account.to_string(), region.to_string(), table.clone());
            let fresh = self
                .infos
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .is_some_and(|(_, at)| at.elapsed() < REMOTE_FACTS_TTL);
            if fresh {
                continue;
            }
            let (status, out) = remote
                .call(
                    "DescribeTable",
                    serde_json::json!({"TableName": table}).to_string(),
                )
                .await?;
            let info = match status {
                200 => {
                    let d: Value = serde_json::from_str(&out).unwrap_or_default();
                    let t = &d["Table"];
                    let indexes = ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"]
                        .iter()
                        .flat_map(|k| t[*k].as_array().cloned().unwrap_or_default())
                        .collect::<Vec<_>>();
                    Some(Arc::new(TableInfo::from_schema(
                        &t["KeySchema"],
                        &indexes,
                        t["LatestStreamLabel"].as_str().map(str::to_string),
                        // Tags are in podiam's store (crate::tags).
                        Vec::new(),
                    )))
                }
                _ if out.contains("ResourceNotFoundException") => None,
                _ => return Err(DdbError::from_engine(status, out)),
            };
            self.infos
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, (info, Instant::now()));
        }
        Ok(())
    }

    fn read_table_info(
        &self,
        account: &str,
        region: &str,
        table: &str,
    ) -> Result<Option<TableInfo>, DdbError> {
        let Open { db, gate, .. } = self.opened(account, region)?;
        let _shared = gate.read().unwrap_or_else(|e| e.into_inner());
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
        let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or_default();
        let indexes = [&m.gsi_definitions, &m.lsi_definitions]
            .into_iter()
            .flatten()
            .flat_map(|defs| parse(defs).as_array().cloned().unwrap_or_default())
            .collect::<Vec<_>>();
        Ok(Some(TableInfo::from_schema(
            &parse(&m.key_schema),
            &indexes,
            m.stream_label.clone(),
            tags,
        )))
    }

    /// Deletes items whose TTL has passed, in every open database.
    pub fn sweep_ttl(&self) {
        let dbs: Vec<Open> = self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        // Without the gate: holding it for a whole sweep would stall every
        // read and write of the database. A page the sweep runs while a
        // group of writes is open joins the group's transaction, and is
        // rolled back with it if the group fails (the next sweep redoes it).
        for Open { db, .. } in dbs {
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

/// Fields whose values are ARNs the engine (or backend) made, and the fields that
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
    if !carries_arns || !body.contains("arn:aws:dynamodb:") {
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
                        // The engine's (or backend's) region and account.
                        if let Some(rest) = s.strip_prefix("arn:aws:dynamodb:")
                            && let Some((_, resource)) = rest.split_once(':')
                            && let Some((_, resource)) = resource.split_once(':')
                        {
                            *s = format!("{prefix}{resource}");
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

    /// Queued writes, run as the writer thread runs them; their answers.
    fn write_queued(db: &Database, writes: &[(&'static str, String)]) -> Vec<(u16, String)> {
        let (queued, answers): (Vec<Write>, Vec<_>) = writes
            .iter()
            .map(|(operation, body)| {
                let (answer, answered) = tokio::sync::oneshot::channel();
                let body = body.clone();
                (
                    Write {
                        operation,
                        body,
                        answer,
                    },
                    answered,
                )
            })
            .unzip();
        write_all(db, &RwLock::new(()), queued);
        answers
            .into_iter()
            .map(|a| a.blocking_recv().expect("answered"))
            .collect()
    }

    #[test]
    fn writes_that_share_a_commit_fail_alone() {
        let db = Database::memory().unwrap();
        let table = r#"{"TableName":"tbl","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#;
        let put = |id: &str, condition: &str| {
            let mut v = serde_json::json!({"TableName": "tbl", "Item": {"id": {"S": id}}});
            if !condition.is_empty() {
                v["ConditionExpression"] = condition.into();
            }
            ("PutItem", v.to_string())
        };
        let answers = write_queued(
            &db,
            &[
                ("CreateTable", table.to_string()),
                put("a", ""),
                put("a", "attribute_not_exists(id)"),
                put("b", ""),
                (
                    "UpdateItem",
                    r#"{"TableName":"tbl","Key":{"id":{"S":"b"}},"UpdateExpression":"SET n = :n","ExpressionAttributeValues":{":n":{"N":"1"}}}"#
                        .to_string(),
                ),
                put("c", "attribute_exists(id)"),
                ("UpdateTimeToLive", r#"{"TableName":"tbl","TimeToLiveSpecification":{"Enabled":true,"AttributeName":"ttl"}}"#.to_string()),
                ("DeleteItem", r#"{"TableName":"tbl","Key":{"id":{"S":"a"}}}"#.to_string()),
                put("d", ""),
            ],
        );
        let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        assert_eq!(
            statuses,
            [200, 200, 400, 200, 200, 400, 200, 200, 200],
            "{answers:?}"
        );
        assert!(
            answers[2].1.contains("ConditionalCheckFailedException"),
            "{answers:?}"
        );
        let scan = dynoxide::server::handle_json(&db, "Scan", r#"{"TableName":"tbl"}"#);
        let items: Value = serde_json::from_str(&scan.1).unwrap();
        let mut ids: Vec<String> = items["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                format!(
                    "{}{}",
                    i["id"]["S"].as_str().unwrap(),
                    i["n"]["N"].as_str().unwrap_or("")
                )
            })
            .collect();
        ids.sort();
        assert_eq!(ids, ["b1", "d"]);
        // The group's transaction is over: a write on its own commits.
        assert!(!db.group_open());
        assert_eq!(write_queued(&db, &[put("e", "")])[0].0, 200);
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
    fn facts_a_backend_never_gave_are_an_error_not_a_missing_table() {
        // Nothing listens there: table_info must not call, and must not
        // read "not fetched" as "no such table" (the checks would then
        // leave the table's keys out).
        let remote = crate::remote::Remote::new(
            "http://127.0.0.1:9",
            "us-east-1",
            podiam_sigv4::Credentials::new("AKIDEXAMPLE", "secret"),
        )
        .unwrap();
        let e = Engine::remote(remote, "000000000000", "us-east-1").unwrap();
        let r = e.table_info("000000000000", "us-east-1", "tbl");
        assert!(matches!(r, Err(DdbError::Unavailable(_))), "{r:?}");
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
