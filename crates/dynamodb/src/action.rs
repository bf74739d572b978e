//! Decoding: `X-Amz-Target` names the operation, the JSON body its input.
//! Tables named by ARN are resolved here to (account, region, name), so
//! everything after decoding sees plain names and one owning account.

use crate::error::DdbError;
use serde_json::{Map, Value};

/// The target prefixes of DynamoDB and DynamoDB Streams.
pub const TARGET_PREFIX: &str = "DynamoDB_20120810.";
/// Streams operations arrive on the same endpoint with this prefix.
pub const STREAMS_TARGET_PREFIX: &str = "DynamoDBStreams_20120810.";

/// Declares [`Op`]: every operation podiam serves, whether the engine or
/// podiam itself answers it, and its target prefix.
macro_rules! ops {
    ($($op:ident: $who:ident $prefix:ident,)*) => {
        /// A DynamoDB (or DynamoDB Streams) operation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)] // the variants are DynamoDB's names
        pub enum Op {
            $($op,)*
        }

        impl Op {
            /// Every operation.
            pub const ALL: &[Op] = &[$(Op::$op,)*];

            /// The operation's name (`GetItem`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Op::$op => stringify!($op),)*
                }
            }

            /// Whether the engine answers it (else podiam does).
            pub fn engine(self) -> bool {
                match self {
                    $(Op::$op => ops!(@engine $who),)*
                }
            }

            fn prefix(self) -> &'static str {
                match self {
                    $(Op::$op => ops!(@prefix $prefix),)*
                }
            }
        }
    };
    (@engine engine) => { true };
    (@engine podiam) => { false };
    (@prefix ddb) => { TARGET_PREFIX };
    (@prefix streams) => { STREAMS_TARGET_PREFIX };
}

ops! {
    CreateTable: engine ddb,
    DeleteTable: engine ddb,
    DescribeTable: engine ddb,
    ListTables: engine ddb,
    UpdateTable: engine ddb,
    PutItem: engine ddb,
    GetItem: engine ddb,
    DeleteItem: engine ddb,
    UpdateItem: engine ddb,
    Query: engine ddb,
    Scan: engine ddb,
    BatchGetItem: engine ddb,
    BatchWriteItem: engine ddb,
    TransactWriteItems: engine ddb,
    TransactGetItems: engine ddb,
    UpdateTimeToLive: engine ddb,
    DescribeTimeToLive: engine ddb,
    ExecuteStatement: engine ddb,
    ExecuteTransaction: engine ddb,
    BatchExecuteStatement: engine ddb,
    TagResource: engine ddb,
    UntagResource: engine ddb,
    ListTagsOfResource: engine ddb,
    ListStreams: engine streams,
    DescribeStream: engine streams,
    GetShardIterator: engine streams,
    GetRecords: engine streams,
    PutResourcePolicy: podiam ddb,
    GetResourcePolicy: podiam ddb,
    DeleteResourcePolicy: podiam ddb,
    DescribeEndpoints: podiam ddb,
    DescribeLimits: podiam ddb,
    DescribeContinuousBackups: podiam ddb,
}

impl Op {
    /// Whether the operation names its table in a top-level `TableName`.
    pub fn takes_table_name(self) -> bool {
        matches!(
            self,
            Op::CreateTable
                | Op::DeleteTable
                | Op::DescribeTable
                | Op::UpdateTable
                | Op::PutItem
                | Op::GetItem
                | Op::DeleteItem
                | Op::UpdateItem
                | Op::Query
                | Op::Scan
                | Op::UpdateTimeToLive
                | Op::DescribeTimeToLive
                | Op::DescribeContinuousBackups
        )
    }

    /// The operation an `X-Amz-Target` names.
    pub fn from_target(target: &str) -> Option<Op> {
        Op::ALL.iter().copied().find(|op| {
            target
                .strip_prefix(op.prefix())
                .is_some_and(|n| n == op.name())
        })
    }
}

/// A decoded request.
#[derive(Debug, Clone)]
pub struct DdbCall {
    /// The operation.
    pub op: Op,
    /// The request's region (its credential scope).
    pub region: String,
    /// The account whose tables it reaches: the one in a table ARN, else
    /// the caller's.
    pub account: String,
    /// The input, tables named by plain name.
    pub input: Map<String, Value>,
    /// Whether decoding changed the input (a table ARN became a name): if
    /// not, the engine gets the request's own bytes, which it reads as
    /// written (number spellings, member order).
    pub changed: bool,
}

impl DdbCall {
    /// The ARN prefix of this call's resources.
    pub fn arn_prefix(&self) -> String {
        format!("arn:aws:dynamodb:{}:{}:", self.region, self.account)
    }

    /// A string member of the input.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.input.get(key).and_then(Value::as_str)
    }
}

/// A table, stream or index ARN of DynamoDB, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdbArn {
    /// Region.
    pub region: String,
    /// Account.
    pub account: String,
    /// Table name.
    pub table: String,
    /// `index/<name>` or `stream/<label>`, if any.
    pub sub: Option<(String, String)>,
}

impl DdbArn {
    /// The stream label, when the ARN names a stream.
    pub fn stream_label(&self) -> Option<&str> {
        match &self.sub {
            Some((kind, label)) if kind == "stream" => Some(label),
            _ => None,
        }
    }

    /// Parses `arn:aws:dynamodb:<region>:<account>:table/<name>[/index|stream/<x>]`.
    pub fn parse(arn: &str) -> Option<DdbArn> {
        let mut p = arn.splitn(6, ':');
        let (Some("arn"), Some(_), Some("dynamodb"), Some(region), Some(account), Some(res)) =
            (p.next(), p.next(), p.next(), p.next(), p.next(), p.next())
        else {
            return None;
        };
        let rest = res.strip_prefix("table/")?;
        let mut parts = rest.splitn(3, '/');
        let table = parts.next().filter(|t| !t.is_empty())?.to_string();
        let sub = match (parts.next(), parts.next()) {
            (None, _) => None,
            (Some(kind @ ("index" | "stream")), Some(x)) if !x.is_empty() => {
                Some((kind.to_string(), x.to_string()))
            }
            _ => return None,
        };
        Some(DdbArn {
            region: region.to_string(),
            account: account.to_string(),
            table,
            sub,
        })
    }
}

/// Why a body cannot be decoded by podiam: the engine words the error
/// (see [`crate::engine::Engine::refusal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Let the engine say what is wrong with the input.
    Malformed,
    /// podiam's own refusal.
    Refused(DdbError),
}

impl From<DdbError> for DecodeError {
    fn from(e: DdbError) -> Self {
        DecodeError::Refused(e)
    }
}

/// Decodes `body` for `op`, as `caller_account` calling in `region`.
pub fn decode(
    op: Op,
    body: &[u8],
    region: &str,
    caller_account: &str,
) -> Result<DdbCall, DecodeError> {
    let v = serde_json::from_slice::<Value>(body).map_err(|_| DecodeError::Malformed)?;
    decode_value(op, v, region, caller_account)
}

/// [`decode`] of a body already parsed.
pub fn decode_value(
    op: Op,
    body: Value,
    region: &str,
    caller_account: &str,
) -> Result<DdbCall, DecodeError> {
    let Value::Object(mut input) = body else {
        return Err(DecodeError::Malformed);
    };
    // Without its table the request can only be refused, in the engine's words.
    if op.takes_table_name() && !input.get("TableName").is_some_and(Value::is_string) {
        return Err(DecodeError::Malformed);
    }
    let mut changed = false;
    let mut owner: Option<String> = None;
    let mut claim = |arn: &DdbArn| -> Result<(), DdbError> {
        if arn.region != region {
            return Err(DdbError::Validation(format!(
                "One or more parameter values were invalid: Invalid resource Arn: arn:aws:dynamodb:{}:{}:table/{}",
                arn.region, arn.account, arn.table
            )));
        }
        match &owner {
            Some(o) if *o != arn.account => Err(DdbError::Validation(
                "podiam serves one account's tables per request: every table ARN in it must name the same account".into(),
            )),
            _ => {
                owner = Some(arn.account.clone());
                Ok(())
            }
        }
    };
    // Table names that may be ARNs: the top-level TableName, the keys of
    // RequestItems, and each transaction item's TableName.
    if let Some(Value::String(t)) = input.get_mut("TableName") {
        changed |= plain_name(t, &mut claim)?;
    }
    if let Some(Value::Object(items)) = input.get_mut("RequestItems")
        && items.keys().any(|k| k.starts_with("arn:"))
    {
        let mut renamed = Map::new();
        for (mut k, v) in std::mem::take(items) {
            changed |= plain_name(&mut k, &mut claim)?;
            renamed.insert(k, v);
        }
        *items = renamed;
    }
    if let Some(Value::Array(items)) = input.get_mut("TransactItems") {
        let members = items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|o| o.values_mut());
        for member in members {
            if let Some(Value::String(t)) = member.get_mut("TableName") {
                changed |= plain_name(t, &mut claim)?;
            }
        }
    }
    for key in ["ResourceArn", "StreamArn"] {
        if let Some(arn) = input.get(key).and_then(Value::as_str)
            && let Some(a) = DdbArn::parse(arn)
        {
            claim(&a)?;
        }
    }
    Ok(DdbCall {
        op,
        region: region.to_string(),
        account: owner.unwrap_or_else(|| caller_account.to_string()),
        input,
        changed,
    })
}

/// Replaces a table ARN by its table name, claiming its account; says
/// whether it did.
fn plain_name(
    t: &mut String,
    claim: &mut impl FnMut(&DdbArn) -> Result<(), DdbError>,
) -> Result<bool, DdbError> {
    if !t.starts_with("arn:") {
        return Ok(false);
    }
    match DdbArn::parse(t) {
        Some(a) if a.sub.is_none() => {
            claim(&a)?;
            *t = a.table;
            Ok(true)
        }
        _ => Err(DdbError::Validation(format!(
            "1 validation error detected: Value '{t}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            Op::from_target("DynamoDB_20120810.GetItem"),
            Some(Op::GetItem)
        );
        assert_eq!(
            Op::from_target("DynamoDBStreams_20120810.GetRecords"),
            Some(Op::GetRecords)
        );
        assert_eq!(Op::from_target("DynamoDB_20120810.GetRecords"), None);
        assert_eq!(Op::from_target("DynamoDB_20120810.SearchVectors"), None);
        assert_eq!(Op::from_target("DynamoDB_20120810.getitem"), None);
        assert!(Op::PutItem.engine() && !Op::PutResourcePolicy.engine());
    }

    #[test]
    fn arns() {
        let a = DdbArn::parse("arn:aws:dynamodb:us-east-1:123456789012:table/T/index/I").unwrap();
        assert_eq!((a.table.as_str(), a.sub.unwrap().1.as_str()), ("T", "I"));
        assert!(DdbArn::parse("arn:aws:dynamodb:us-east-1:1:table/").is_none());
        assert!(DdbArn::parse("arn:aws:dynamodb:us-east-1:1:table/T/other/x").is_none());
        assert!(DdbArn::parse("arn:aws:s3:::b").is_none());
    }

    #[test]
    fn table_arns_become_names_and_pick_the_account() {
        let body = br#"{"TableName":"arn:aws:dynamodb:us-east-1:222222222222:table/T","Key":{}}"#;
        let c = decode(Op::GetItem, body, "us-east-1", "111111111111").unwrap();
        assert_eq!(
            (c.account.as_str(), c.str("TableName")),
            ("222222222222", Some("T"))
        );
        let c = decode(
            Op::GetItem,
            br#"{"TableName":"T"}"#,
            "us-east-1",
            "111111111111",
        )
        .unwrap();
        assert_eq!(c.account, "111111111111");
        let body =
            br#"{"RequestItems":{"arn:aws:dynamodb:us-east-1:222222222222:table/A":{},"B":{}}}"#;
        let c = decode(Op::BatchGetItem, body, "us-east-1", "111111111111").unwrap();
        assert!(c.input["RequestItems"].get("A").is_some());
        let mixed = br#"{"TransactItems":[{"Put":{"TableName":"arn:aws:dynamodb:us-east-1:2:table/A"}},{"Put":{"TableName":"arn:aws:dynamodb:us-east-1:3:table/B"}}]}"#;
        assert!(matches!(
            decode(Op::TransactWriteItems, mixed, "us-east-1", "1"),
            Err(DecodeError::Refused(DdbError::Validation(_)))
        ));
        let other_region = br#"{"TableName":"arn:aws:dynamodb:eu-west-1:2:table/A"}"#;
        assert!(decode(Op::GetItem, other_region, "us-east-1", "1").is_err());
        assert_eq!(
            decode(Op::GetItem, b"[1]", "us-east-1", "1").unwrap_err(),
            DecodeError::Malformed
        );
    }
}
