//! The IAM checks of each DynamoDB call, with DynamoDB's fine-grained
//! condition keys (Developer Guide, "Using IAM policy conditions for
//! fine-grained access control"):
//!
//! - `dynamodb:LeadingKeys`: the partition-key values the call touches,
//!   also as `dynamodb:FirstPartitionKeyValues` (its newer name: the first
//!   attribute of a table's partition key, the only one podiam's tables
//!   have);
//! - `dynamodb:Attributes`: the top-level attribute names it reads, writes
//!   or evaluates, key attributes included;
//! - `dynamodb:Select`, `dynamodb:ReturnValues`,
//!   `dynamodb:ReturnConsumedCapacity`: the parameters, with their API
//!   defaults when absent ("always has a value");
//! - `dynamodb:EnclosingOperation` on the per-item checks of transactions;
//! - `dynamodb:FullTableScan` on PartiQL selects.
//!
//! Batch calls need their own action once per table; transactions need
//! each item's action. Query and Scan on an index are checked against the
//! index ARN. Pure: table facts come from a lookup the caller supplies.

use crate::action::{DdbArn, DdbCall, Op};
use crate::engine::TableInfo;
use crate::error::DdbError;
use crate::expr::{UNREADABLE, key_equality, key_text, top_level_names};
use crate::partiql::{self, Statement};
use podiam_auth::Check;
use serde_json::{Map, Value};
use std::sync::Arc;

/// The checks of `call`; `facts` looks a table up by name (`None`: it
/// does not exist).
pub fn checks(
    call: &DdbCall,
    facts: &dyn Fn(&str) -> Option<Arc<TableInfo>>,
) -> Result<Vec<Check>, DdbError> {
    let b = Builder { call, facts };
    b.checks()
}

struct Builder<'a> {
    call: &'a DdbCall,
    facts: &'a dyn Fn(&str) -> Option<Arc<TableInfo>>,
}

/// The per-item facts of a single-item request (or a transaction item).
struct Item<'a> {
    table: &'a str,
    input: &'a Map<String, Value>,
}

impl Builder<'_> {
    fn table_arn(&self, t: &str) -> String {
        format!("{}table/{t}", self.call.arn_prefix())
    }

    fn table(&self) -> Result<&str, DdbError> {
        self.call
            .str("TableName")
            .ok_or_else(|| DdbError::Validation("TableName is required".into()))
    }

    /// A check on a table (or one of its indexes/streams), with its tags
    /// (an index's are its table's; a stream's are its own).
    fn on(&self, action: &str, table: &str, resource: String) -> Check {
        let facts = (self.facts)(table);
        let tags = facts.as_ref().map_or(&[][..], |f| f.tags_of(&resource));
        Check::new(format!("dynamodb:{action}"), resource.clone())
            .with_resource_tags(tags.iter().map(|(k, v)| (k, v)))
    }

    fn rcc(&self, c: Check) -> Check {
        let v = self.call.str("ReturnConsumedCapacity").unwrap_or("NONE");
        c.key("dynamodb:ReturnConsumedCapacity", v)
    }

    fn checks(&self) -> Result<Vec<Check>, DdbError> {
        let call = self.call;
        let simple = |action: &str| -> Result<Vec<Check>, DdbError> {
            let t = self.table()?;
            Ok(vec![self.on(action, t, self.table_arn(t))])
        };
        Ok(match call.op {
            Op::DeleteTable
            | Op::DescribeTable
            | Op::UpdateTable
            | Op::DescribeTimeToLive
            | Op::UpdateTimeToLive
            | Op::DescribeContinuousBackups => simple(call.op.name())?,
            Op::CreateTable => self.create_table()?,
            Op::ListTables => vec![Check::new(
                "dynamodb:ListTables",
                format!("{}table/*", call.arn_prefix()),
            )],
            Op::DescribeEndpoints | Op::DescribeLimits | Op::ListStreams => {
                vec![Check::new(format!("dynamodb:{}", call.op.name()), "*")]
            }
            Op::GetItem | Op::PutItem | Op::UpdateItem | Op::DeleteItem => {
                let item = Item {
                    table: self.table()?,
                    input: &call.input,
                };
                vec![self.rcc(self.item(call.op.name(), &item)?)]
            }
            Op::Query | Op::Scan => vec![self.rcc(self.query_or_scan()?)],
            Op::BatchGetItem => self.batch_get()?,
            Op::BatchWriteItem => self.batch_write()?,
            Op::TransactGetItems | Op::TransactWriteItems => self.transact()?,
            Op::ExecuteStatement => vec![self.statement(&call.input, None)?],
            Op::ExecuteTransaction | Op::BatchExecuteStatement => {
                let enclosing = (call.op == Op::ExecuteTransaction).then_some(call.op.name());
                let key = if enclosing.is_some() {
                    "TransactStatements"
                } else {
                    "Statements"
                };
                let mut out = Vec::new();
                for s in array(&call.input, key) {
                    if let Some(o) = s.as_object() {
                        out.push(self.statement(o, enclosing)?);
                    }
                }
                out
            }
            Op::TagResource | Op::UntagResource | Op::ListTagsOfResource => self.tagging()?,
            Op::PutResourcePolicy | Op::GetResourcePolicy | Op::DeleteResourcePolicy => {
                let arn = call.str("ResourceArn").unwrap_or_default();
                let table = DdbArn::parse(arn).map(|a| a.table).unwrap_or_default();
                vec![self.on(call.op.name(), &table, arn.to_string())]
            }
            Op::DescribeStream | Op::GetShardIterator => {
                let arn = call.str("StreamArn").unwrap_or_default();
                let table = DdbArn::parse(arn).map(|a| a.table).unwrap_or_default();
                vec![self.on(call.op.name(), &table, arn.to_string())]
            }
            Op::GetRecords => {
                let it = call.str("ShardIterator").unwrap_or_default();
                let table = dynoxide::actions::get_shard_iterator::decode_shard_iterator(it)
                    .map(|(t, _, _)| t)
                    .unwrap_or_default();
                let label = (self.facts)(&table)
                    .and_then(|s| s.stream_label.clone())
                    .unwrap_or_else(|| "*".into());
                let arn = format!("{}/stream/{label}", self.table_arn(&table));
                vec![self.on("GetRecords", &table, arn)]
            }
        })
    }

    fn create_table(&self) -> Result<Vec<Check>, DdbError> {
        let t = self.table()?;
        let arn = self.table_arn(t);
        let tags: Vec<(String, String)> = array(&self.call.input, "Tags")
            .iter()
            .filter_map(|t| Some((t["Key"].as_str()?.into(), t["Value"].as_str()?.into())))
            .collect();
        let mut out =
            vec![Check::new("dynamodb:CreateTable", arn.clone()).with_request_tags(&tags, &[])];
        if !tags.is_empty() {
            out.push(Check::new("dynamodb:TagResource", arn.clone()).with_request_tags(&tags, &[]));
        }
        if self.call.input.contains_key("ResourcePolicy") {
            out.push(Check::new("dynamodb:PutResourcePolicy", arn));
        }
        Ok(out)
    }

    fn tagging(&self) -> Result<Vec<Check>, DdbError> {
        let arn = self.call.str("ResourceArn").unwrap_or_default();
        let table = DdbArn::parse(arn).map(|a| a.table).unwrap_or_default();
        let mut c = self.on(self.call.op.name(), &table, arn.to_string());
        match self.call.op {
            Op::TagResource => {
                let tags: Vec<(String, String)> = array(&self.call.input, "Tags")
                    .iter()
                    .filter_map(|t| Some((t["Key"].as_str()?.into(), t["Value"].as_str()?.into())))
                    .collect();
                c = c.with_request_tags(&tags, &[]);
            }
            Op::UntagResource => {
                let keys = array(&self.call.input, "TagKeys")
                    .iter()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect();
                c.multi_keys.push(("aws:TagKeys".into(), keys));
            }
            _ => {}
        }
        Ok(vec![c])
    }

    /// A single-item check (GetItem, PutItem, UpdateItem, DeleteItem, and
    /// the ConditionCheckItem of transactions).
    fn item(&self, action: &str, item: &Item<'_>) -> Result<Check, DdbError> {
        let schema = (self.facts)(item.table);
        let input = item.input;
        let names = input
            .get("ExpressionAttributeNames")
            .and_then(Value::as_object);
        let key_obj = if action == "PutItem" {
            input.get("Item")
        } else {
            input.get("Key")
        };
        let mut attrs: Vec<String> = Vec::new();
        add_all(&mut attrs, object_keys(key_obj));
        for e in [
            "ConditionExpression",
            "UpdateExpression",
            "ProjectionExpression",
        ] {
            if let Some(x) = input.get(e).and_then(Value::as_str) {
                add_all(&mut attrs, names_or_unreadable(x, names));
            }
        }
        for legacy in ["Expected", "AttributeUpdates"] {
            add_all(&mut attrs, object_keys(input.get(legacy)));
        }
        add_all(&mut attrs, strings(input.get("AttributesToGet")));
        let mut c = self.on(action, item.table, self.table_arn(item.table));
        if let Some(s) = &schema {
            let v = key_text(key_obj.and_then(|k| k.get(&s.partition_key)));
            leading_keys(&mut c, vec![v]);
        }
        c.multi_keys.push(("dynamodb:Attributes".into(), attrs));
        match action {
            "GetItem" => {
                let specific = input.contains_key("ProjectionExpression")
                    || input.contains_key("AttributesToGet");
                c = c.key("dynamodb:Select", select_default(specific, false));
            }
            "PutItem" | "UpdateItem" | "DeleteItem" => {
                let rv = input
                    .get("ReturnValues")
                    .and_then(Value::as_str)
                    .unwrap_or("NONE");
                c = c.key("dynamodb:ReturnValues", rv);
            }
            _ => {}
        }
        Ok(c)
    }

    fn query_or_scan(&self) -> Result<Check, DdbError> {
        let input = &self.call.input;
        let t = self.table()?;
        let index = input.get("IndexName").and_then(Value::as_str);
        let resource = match index {
            Some(i) => format!("{}/index/{i}", self.table_arn(t)),
            None => self.table_arn(t),
        };
        let names = input
            .get("ExpressionAttributeNames")
            .and_then(Value::as_object);
        let values = input
            .get("ExpressionAttributeValues")
            .and_then(Value::as_object);
        let mut attrs = Vec::new();
        for e in [
            "KeyConditionExpression",
            "FilterExpression",
            "ProjectionExpression",
        ] {
            if let Some(x) = input.get(e).and_then(Value::as_str) {
                add_all(&mut attrs, names_or_unreadable(x, names));
            }
        }
        for legacy in ["KeyConditions", "QueryFilter", "ScanFilter"] {
            add_all(&mut attrs, object_keys(input.get(legacy)));
        }
        add_all(&mut attrs, strings(input.get("AttributesToGet")));
        let mut c = self.on(self.call.op.name(), t, resource);
        if self.call.op == Op::Query {
            let schema = (self.facts)(t);
            let pk = schema.as_ref().and_then(|s| match index {
                Some(i) => s.index_partition_keys.get(i).cloned(),
                None => Some(s.partition_key.clone()),
            });
            if let Some(pk) = pk {
                let mut leading = match input.get("KeyConditionExpression").and_then(Value::as_str)
                {
                    Some(kce) => key_equality(kce, &pk, names, values)
                        .unwrap_or_else(|_| vec![UNREADABLE.to_string()]),
                    None => Vec::new(),
                };
                // The legacy form: KeyConditions {pk: {EQ, [value]}}.
                if let Some(k) = input.get("KeyConditions").and_then(|k| k.get(&pk)) {
                    leading.push(key_text(k.get("AttributeValueList").and_then(|l| l.get(0))));
                }
                // A query always fixes its partition key; one podiam cannot
                // find is unreadable, never absent.
                if leading.is_empty() {
                    leading.push(UNREADABLE.to_string());
                }
                leading_keys(&mut c, leading);
            }
        }
        c.multi_keys.push(("dynamodb:Attributes".into(), attrs));
        let specific =
            input.contains_key("ProjectionExpression") || input.contains_key("AttributesToGet");
        let select = input
            .get("Select")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| select_default(specific, index.is_some()).into());
        Ok(c.key("dynamodb:Select", select))
    }

    fn batch_get(&self) -> Result<Vec<Check>, DdbError> {
        let mut out = Vec::new();
        for (table, req) in object(&self.call.input, "RequestItems") {
            let schema = (self.facts)(table);
            let names = req
                .get("ExpressionAttributeNames")
                .and_then(Value::as_object);
            let mut attrs = Vec::new();
            let mut leading = Vec::new();
            for key in req
                .get("Keys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                add_all(&mut attrs, object_keys(Some(key)));
                if let Some(s) = &schema {
                    leading.push(key_text(key.get(&s.partition_key)));
                }
            }
            let mut specific = false;
            if let Some(p) = req.get("ProjectionExpression").and_then(Value::as_str) {
                add_all(&mut attrs, names_or_unreadable(p, names));
                specific = true;
            }
            if req.get("AttributesToGet").is_some() {
                add_all(&mut attrs, strings(req.get("AttributesToGet")));
                specific = true;
            }
            let mut c = self.on("BatchGetItem", table, self.table_arn(table));
            if schema.is_some() {
                leading_keys(&mut c, leading);
            }
            c.multi_keys.push(("dynamodb:Attributes".into(), attrs));
            let c = c.key("dynamodb:Select", select_default(specific, false));
            out.push(self.rcc(c));
        }
        Ok(out)
    }

    fn batch_write(&self) -> Result<Vec<Check>, DdbError> {
        let mut out = Vec::new();
        for (table, reqs) in object(&self.call.input, "RequestItems") {
            let schema = (self.facts)(table);
            let mut attrs = Vec::new();
            let mut leading = Vec::new();
            for r in reqs.as_array().into_iter().flatten() {
                let k = r
                    .get("PutRequest")
                    .and_then(|p| p.get("Item"))
                    .or_else(|| r.get("DeleteRequest").and_then(|d| d.get("Key")));
                add_all(&mut attrs, object_keys(k));
                if let Some(s) = &schema {
                    leading.push(key_text(k.and_then(|k| k.get(&s.partition_key))));
                }
            }
            let mut c = self.on("BatchWriteItem", table, self.table_arn(table));
            if schema.is_some() {
                leading_keys(&mut c, leading);
            }
            c.multi_keys.push(("dynamodb:Attributes".into(), attrs));
            out.push(self.rcc(c));
        }
        Ok(out)
    }

    fn transact(&self) -> Result<Vec<Check>, DdbError> {
        let enclosing = self.call.op.name();
        let mut out = Vec::new();
        let empty = Map::new();
        // Every action member that is not null is checked: the engine reads
        // a null member as absent and ignores names it does not know, so
        // neither the first member nor a lone one is enough.
        let members = array(&self.call.input, "TransactItems")
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|o| o.iter())
            .filter(|(_, body)| !body.is_null());
        for (kind, body) in members {
            let action = match kind.as_str() {
                "Get" => "GetItem",
                "Put" => "PutItem",
                "Update" => "UpdateItem",
                "Delete" => "DeleteItem",
                "ConditionCheck" => "ConditionCheckItem",
                _ => continue,
            };
            let body = body.as_object().unwrap_or(&empty);
            let table = body
                .get("TableName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut c = self.item(action, &Item { table, input: body })?;
            if action != "GetItem" {
                // Inside a transaction the item's return values are those
                // of a failed condition.
                c.keys.retain(|(k, _)| k != "dynamodb:ReturnValues");
                let rv = body
                    .get("ReturnValuesOnConditionCheckFailure")
                    .and_then(Value::as_str)
                    .unwrap_or("NONE");
                c = c.key("dynamodb:ReturnValues", rv);
            }
            c = c.key("dynamodb:EnclosingOperation", enclosing);
            out.push(self.rcc(c));
        }
        Ok(out)
    }

    /// The check of one PartiQL statement.
    fn statement(
        &self,
        s: &Map<String, Value>,
        enclosing: Option<&str>,
    ) -> Result<Check, DdbError> {
        let text = s
            .get("Statement")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let params = s
            .get("Parameters")
            .and_then(Value::as_array)
            .map(Vec::as_slice);
        let st: Statement = partiql::read(text).map_err(DdbError::Validation)?;
        let resource = match &st.index {
            Some(i) => format!("{}/index/{i}", self.table_arn(&st.table)),
            None => self.table_arn(&st.table),
        };
        let schema = (self.facts)(&st.table);
        let pk = schema.as_ref().and_then(|s| match &st.index {
            Some(i) => s.index_partition_keys.get(i).cloned(),
            None => Some(s.partition_key.clone()),
        });
        let action = format!("PartiQL{}", st.verb.name());
        let mut c = self.on(&action, &st.table, resource);
        let select = st.verb == partiql::Verb::Select;
        if let Some(pk) = &pk {
            let leading = st.key_values(pk, params.unwrap_or_default());
            if select {
                let scans = leading.as_ref().is_none_or(|(_, every)| !every);
                c = c.key("dynamodb:FullTableScan", scans.to_string());
            }
            let leading = match leading {
                Some((values, true)) => values,
                // Some branch reaches other partitions: no allow-list of
                // keys admits it.
                Some((mut values, false)) => {
                    values.push(UNREADABLE.to_string());
                    values
                }
                // A select without the key scans the table, as Scan does
                // (no leading keys); a write always fixes the key, so one
                // this reader cannot place fails closed.
                None if select => Vec::new(),
                None => vec![UNREADABLE.to_string()],
            };
            leading_keys(&mut c, leading);
        } else if select {
            c = c.key("dynamodb:FullTableScan", "true");
        }
        c.multi_keys
            .push(("dynamodb:Attributes".into(), st.attributes.clone()));
        if select {
            let specific = st.selects_specific_attributes();
            c = c.key(
                "dynamodb:Select",
                select_default(specific, st.index.is_some()),
            );
        }
        if matches!(st.verb, partiql::Verb::Update | partiql::Verb::Delete) {
            // RETURNING returns items as ReturnValues does; without it only
            // a failed condition can. (PartiQLInsert has no ReturnValues key
            // in the Service Authorization Reference.)
            let rv = st.returning().unwrap_or_else(|| {
                s.get("ReturnValuesOnConditionCheckFailure")
                    .and_then(Value::as_str)
                    .unwrap_or("NONE")
            });
            c = c.key("dynamodb:ReturnValues", rv);
        }
        if let Some(e) = enclosing {
            c = c.key("dynamodb:EnclosingOperation", e);
        }
        Ok(c)
    }
}

/// `Select`'s default: SPECIFIC_ATTRIBUTES with a projection, else every
/// attribute of the table or, on an index, of its projection.
fn select_default(specific: bool, index: bool) -> &'static str {
    match (specific, index) {
        (true, _) => "SPECIFIC_ATTRIBUTES",
        (false, true) => "ALL_PROJECTED_ATTRIBUTES",
        (false, false) => "ALL_ATTRIBUTES",
    }
}

/// The names an expression touches; an expression podiam cannot read
/// touches [`UNREADABLE`], which no allow-list admits: the decision fails
/// closed, and if allowed the engine refuses the expression in DynamoDB's
/// words (its grammar rejects everything this reader does).
fn names_or_unreadable(expr: &str, names: Option<&Map<String, Value>>) -> Vec<String> {
    top_level_names(expr, names).unwrap_or_else(|_| vec![UNREADABLE.to_string()])
}

fn array<'a>(input: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    input
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn object<'a>(input: &'a Map<String, Value>, key: &str) -> Vec<(&'a str, &'a Value)> {
    input
        .get(key)
        .and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

fn object_keys(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn add_all(out: &mut Vec<String>, names: Vec<String>) {
    for n in names {
        if !out.contains(&n) {
            out.push(n);
        }
    }
}

/// The partition-key values a call touches, under both of their names.
fn leading_keys(c: &mut Check, values: Vec<String>) {
    c.multi_keys
        .push(("dynamodb:FirstPartitionKeyValues".into(), values.clone()));
    c.multi_keys.push(("dynamodb:LeadingKeys".into(), values));
}

#[cfg(test)]
#[path = "authz_tests.rs"]
mod tests;
