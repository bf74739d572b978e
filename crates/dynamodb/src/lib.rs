//! DynamoDB on podiam's request pipeline.
//!
//! Every call is authenticated and decided by the pipeline, with DynamoDB's
//! fine-grained condition keys and the table's resource policy, then run on
//! an embedded dynoxide engine (one SQLite database per account and
//! region), or on a DynamoDB-compatible backend that replicas share
//! ([`remote`]). podiam answers the resource-policy operations,
//! `DescribeEndpoints` and `DescribeLimits` itself.

pub mod action;
pub mod authz;
pub mod cors;
pub mod engine;
pub mod error;
pub mod expr;
mod ops;
pub mod partiql;
pub mod policy;
pub mod remote;
pub mod tags;

use action::{DdbArn, DdbCall, DecodeError, Op};
use axum::body::Body;
use engine::Engine;
use error::{DdbError, json_response};
use podiam_auth::Check;
use podiam_auth::pipeline::{Authentication, Cx, Input, Service};
use podiam_auth::{AuthError, Caller, Denied};
use podiam_sigv4::{Verifier, VerifyOptions};
use serde_json::Value;
use std::path::Path;

/// The audit event source.
pub const EVENT_SOURCE: &str = "dynamodb.amazonaws.com";

/// The DynamoDB service.
#[derive(Debug)]
pub struct DynamoDb {
    verifier: Verifier,
    engine: Engine,
}

impl DynamoDb {
    /// Tables under `data_dir/dynamodb`.
    pub fn open(data_dir: &Path) -> Result<DynamoDb, DdbError> {
        Ok(DynamoDb::with(Engine::open(data_dir.join("dynamodb"))?))
    }

    /// Tables in memory (tests).
    pub fn memory() -> Result<DynamoDb, DdbError> {
        Ok(DynamoDb::with(Engine::memory()?))
    }

    /// Tables on a backend endpoint, which holds `account`'s in `region`.
    pub fn with_backend(
        backend: remote::Remote,
        account: &str,
        region: &str,
    ) -> Result<DynamoDb, DdbError> {
        Ok(DynamoDb::with(Engine::remote(backend, account, region)?))
    }

    fn with(engine: Engine) -> DynamoDb {
        DynamoDb {
            verifier: Verifier::new(VerifyOptions::new("dynamodb")),
            engine,
        }
    }

    /// The engine (the TTL sweeper runs on it).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether a request is DynamoDB's: signed for `dynamodb`, or naming
    /// a DynamoDB target (an unsigned call still gets DynamoDB's error).
    pub fn wants(headers: &http::HeaderMap, signing_service: Option<&str>) -> bool {
        match signing_service {
            Some(s) => s == "dynamodb",
            None => headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| {
                    t.starts_with(action::TARGET_PREFIX)
                        || t.starts_with(action::STREAMS_TARGET_PREFIX)
                }),
        }
    }

    /// What IAM reads of a table: its schema from the engine; its
    /// stream's tags, and on a backend its own, from podiam's store.
    fn table_info(
        &self,
        store: &podiam_store::Store,
        account: &str,
        region: &str,
        table: &str,
    ) -> Result<Option<std::sync::Arc<engine::TableInfo>>, DdbError> {
        let Some(info) = self.engine.table_info(account, region, table)? else {
            return Ok(None);
        };
        if !self.engine.is_remote() && info.stream_label.is_none() {
            return Ok(Some(info));
        }
        let mut with_tags = (*info).clone();
        if self.engine.is_remote() {
            with_tags.tags = tags::of(store, account, table)?;
        }
        if let Some(label) = &info.stream_label {
            with_tags.stream_tags = tags::of(store, account, &tags::stream_key(table, label))?;
        }
        Ok(Some(std::sync::Arc::new(with_tags)))
    }

    /// The check DynamoDB decides for `action` on `resource` (for
    /// `podiam explain request`): the table's resource policy and tags
    /// added. Keys only a real request carries (`dynamodb:LeadingKeys`, …)
    /// are the explainer's to give.
    pub fn resolve(
        &self,
        store: &podiam_store::Store,
        action: &str,
        resource: &str,
    ) -> Result<Check, DdbError> {
        let mut c = Check::new(action.to_string(), resource.to_string());
        // On a backend, tags only once a request has loaded the table's
        // facts: explain sends nothing to the backend.
        let info =
            |arn: &DdbArn| match self.table_info(store, &arn.account, &arn.region, &arn.table) {
                Err(DdbError::Unavailable(_)) => Ok(None),
                other => other,
            };
        if let Some(arn) = DdbArn::parse(resource)
            && let Some(info) = info(&arn)?
        {
            c = c.with_resource_tags(info.tags_of(resource).iter().map(|(k, v)| (k, v)));
        }
        attach_resource_policy(store, &mut c)?;
        Ok(c)
    }
}

/// Adds the resource-based policy governing `c`'s resource.
fn attach_resource_policy(store: &podiam_store::Store, c: &mut Check) -> Result<(), DdbError> {
    if let Some((name, p)) = policy::governing(store, &c.resource)? {
        *c = std::mem::take(c).with_resource_policy(name, p);
    }
    // The root of the owning account may always remove a policy that locks
    // everyone out.
    c.owner_always_allowed = c.action == "dynamodb:DeleteResourcePolicy";
    Ok(())
}

impl Service for DynamoDb {
    /// The operation, and the body parsed once (`None`: not JSON podiam
    /// reads; the engine words the refusal).
    type Envelope = (Op, Option<Value>);
    type Action = DdbCall;
    type Error = DdbError;

    const EVENT_SOURCE: &'static str = EVENT_SOURCE;

    /// DynamoDB accepts request bodies up to 16 MB.
    const MAX_BODY: usize = 16 * 1024 * 1024;

    fn verifier(&self, _parts: &http::request::Parts) -> &Verifier {
        &self.verifier
    }

    fn open(
        &self,
        parts: &http::request::Parts,
        input: &Input,
    ) -> Result<((Op, Option<Value>), Authentication), DdbError> {
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let op = Op::from_target(target);
        let parsed = serde_json::from_slice::<Value>(input.bytes());
        // The audit line names the table, never item contents.
        let mut params = serde_json::Map::new();
        for k in ["TableName", "IndexName", "ResourceArn", "StreamArn"] {
            if let Some(v) = parsed.as_ref().ok().and_then(|b| b.get(k)) {
                params.insert(k.into(), v.clone());
            }
        }
        podiam_auth::audit::note_request(
            EVENT_SOURCE,
            op.map(Op::name)
                .unwrap_or_else(|| target.rsplit('.').next().unwrap_or_default()),
            Value::Object(params),
        );
        // DynamoDB reads the body and the target before the signature.
        // (JSON nested deeper than serde_json follows is still JSON: the
        // engine answers it with DynamoDB's nesting error.)
        if !input.bytes().is_empty()
            && let Err(e) = &parsed
            && !e.to_string().starts_with("recursion limit exceeded")
        {
            return Err(DdbError::Serialization(None));
        }
        let op = op.ok_or(DdbError::UnknownOperation)?;
        Ok(((op, parsed.ok()), Authentication::Required))
    }

    fn decode(
        &self,
        cx: &Cx<'_>,
        (op, parsed): (Op, Option<Value>),
        input: &Input,
    ) -> Result<DdbCall, DdbError> {
        let region = cx
            .verified
            .map(|v| v.scope().region.clone())
            .unwrap_or_else(|| cx.svc.config.region.clone());
        let account = cx
            .caller
            .map(|c| c.account().to_string())
            .ok_or(DdbError::Auth(AuthError::Missing))?;
        let decoded = match parsed {
            Some(v) => action::decode_value(op, v, &region, &account),
            None => Err(DecodeError::Malformed),
        };
        decoded.map_err(|e| match e {
            DecodeError::Malformed => self
                .engine
                .refusal(op.name(), &String::from_utf8_lossy(input.bytes())),
            DecodeError::Refused(e) => e,
        })
    }

    /// On a backend, the facts of every table the checks will read.
    async fn prepare(
        &self,
        _cx: &Cx<'_>,
        call: &mut DdbCall,
        _input: &mut Input,
    ) -> Result<(), DdbError> {
        if !self.engine.is_remote() {
            return Ok(());
        }
        let named = std::cell::RefCell::new(Vec::<String>::new());
        // A dry run of the checks lists the tables they read.
        let _ = authz::checks(call, &|t: &str| {
            let mut n = named.borrow_mut();
            if !n.iter().any(|x| x == t) {
                n.push(t.to_string());
            }
            None
        });
        let tables = named.into_inner();
        self.engine.warm(&call.account, &call.region, &tables).await
    }

    fn checks(&self, cx: &Cx<'_>, call: &DdbCall) -> Result<Vec<Check>, DdbError> {
        // A batch of statements is decided statement by statement, as
        // DynamoDB does: a denied one is an error in its slot of the answer
        // and the others run ([`DynamoDb::batch_statements`]).
        if call.op == Op::BatchExecuteStatement {
            return Ok(Vec::new());
        }
        self.all_checks(cx, call)
    }

    fn denied(&self, cx: &Cx<'_>, check: &Check, d: Denied) -> DdbError {
        DdbError::AccessDenied(format!(
            "User: {} is not authorized to perform: {} on resource: {}{}",
            cx.caller.map(Caller::arn).unwrap_or_default(),
            check.action,
            check.resource,
            d.reason_suffix(&check.action)
        ))
    }

    async fn handle(
        &self,
        cx: &Cx<'_>,
        call: DdbCall,
        input: Input,
    ) -> Result<http::Response<Body>, DdbError> {
        let body = if self.answers_itself(&call) {
            self.podiam_op(cx, &call).await?.to_string()
        } else if call.op == Op::BatchExecuteStatement {
            self.batch_statements(cx, call, input.bytes()).await?
        } else {
            self.engine_op(cx, call, input.bytes()).await?
        };
        Ok(json_response(200, body, cx.request_id))
    }
}

impl DynamoDb {
    /// Every check of `call`, one per statement of a batch.
    pub(crate) fn all_checks(&self, cx: &Cx<'_>, call: &DdbCall) -> Result<Vec<Check>, DdbError> {
        // One lookup per table, however many checks read it. A lookup that
        // fails fails the request: checks without a table's key schema
        // would leave its keys out.
        let seen = std::cell::RefCell::new(std::collections::HashMap::new());
        let failed = std::cell::RefCell::new(None);
        let facts = |t: &str| {
            seen.borrow_mut()
                .entry(t.to_string())
                .or_insert_with(|| {
                    self.table_info(&cx.svc.store, &call.account, &call.region, t)
                        .unwrap_or_else(|e| {
                            *failed.borrow_mut() = Some(e);
                            None
                        })
                })
                .clone()
        };
        let checks = authz::checks(call, &facts);
        if let Some(e) = failed.into_inner() {
            return Err(e);
        }
        let mut checks = match checks {
            Ok(c) => c,
            // A statement podiam cannot place: the engine says what is wrong.
            Err(DdbError::Validation(m))
                if call.op.name().contains("Statement") || call.op == Op::ExecuteTransaction =>
            {
                let body = Value::Object(call.input.clone()).to_string();
                return Err(match self.engine.refusal(call.op.name(), &body) {
                    e @ DdbError::Engine { .. } if !e.to_string().contains("ResourceNotFound") => e,
                    _ => DdbError::Validation(m),
                });
            }
            Err(e) => return Err(e),
        };
        for c in &mut checks {
            attach_resource_policy(&cx.svc.store, c)?;
        }
        Ok(checks)
    }
}
