//! Handling authorized calls: the engine runs most of them; podiam itself
//! answers the resource-policy operations, DescribeEndpoints and
//! DescribeLimits.

use crate::action::{DdbArn, DdbCall, Op};
use crate::error::DdbError;
use crate::{DynamoDb, policy};
use podiam_auth::Caller;
use podiam_auth::pipeline::Cx;
use serde_json::{Value, json};

impl DynamoDb {
    /// A resource ARN of the call that must be a table or stream of it,
    /// which must exist.
    async fn policy_target(&self, call: &DdbCall) -> Result<(String, DdbArn), DdbError> {
        let raw = call.str("ResourceArn").unwrap_or_default().to_string();
        if !raw.starts_with("arn:") {
            return Err(DdbError::Validation(format!(
                "One or more parameter values were invalid: ARNs must start with 'arn:': {raw}"
            )));
        }
        let arn = DdbArn::parse(&raw).ok_or_else(|| {
            DdbError::Validation(format!(
                "One or more parameter values were invalid: Invalid resource Arn: {raw}"
            ))
        })?;
        self.engine
            .warm(&arn.account, &call.region, std::slice::from_ref(&arn.table))
            .await?;
        let schema = self
            .engine
            .table_info(&arn.account, &call.region, &arn.table)?;
        match (&arn.sub, schema) {
            (Some((kind, _)), _) if kind == "index" => Err(DdbError::Validation(format!(
                "One or more parameter values were invalid: Invalid resource arn provided, only table or stream is accepted. Arn: {raw}"
            ))),
            (_, None) => Err(DdbError::ResourceNotFound(format!(
                "Requested resource not found: Table: {} not found",
                arn.table
            ))),
            (Some((_, label)), Some(s)) if s.stream_label.as_deref() != Some(label) => {
                Err(DdbError::ResourceNotFound(format!(
                    "Requested resource not found: Stream: {raw} not found"
                )))
            }
            _ => Ok((raw, arn)),
        }
    }

    pub(crate) async fn podiam_op(&self, cx: &Cx<'_>, call: &DdbCall) -> Result<Value, DdbError> {
        let store = &cx.svc.store;
        Ok(match call.op {
            Op::PutResourcePolicy => {
                let (_, arn) = self.policy_target(call).await?;
                let doc = call.str("Policy").unwrap_or_default();
                let now_ms = cx.svc.now() * 1000;
                let rev =
                    policy::put(store, now_ms, &arn, doc, call.str("ExpectedRevisionId")).await?;
                json!({"RevisionId": rev})
            }
            Op::GetResourcePolicy => {
                let (raw, arn) = self.policy_target(call).await?;
                policy::get(store, &raw, &arn)?
            }
            Op::DeleteResourcePolicy => {
                let (raw, arn) = self.policy_target(call).await?;
                let rev = policy::delete(store, &raw, &arn, call.str("ExpectedRevisionId")).await?;
                json!({"RevisionId": rev})
            }
            Op::DescribeEndpoints => {
                let host = cx
                    .parts
                    .headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default();
                json!({"Endpoints": [{"Address": host, "CachePeriodInMinutes": 1440}]})
            }
            Op::DescribeLimits => json!({
                "AccountMaxReadCapacityUnits": 80000,
                "AccountMaxWriteCapacityUnits": 80000,
                "TableMaxReadCapacityUnits": 40000,
                "TableMaxWriteCapacityUnits": 40000
            }),
            _ => return Err(DdbError::UnknownOperation),
        })
    }

    pub(crate) async fn engine_op(
        &self,
        cx: &Cx<'_>,
        mut call: DdbCall,
        raw: &[u8],
    ) -> Result<String, DdbError> {
        // CreateTable's policy is podiam's to keep; the engine ignores it.
        let create_policy = match call.op {
            Op::CreateTable => match call.input.remove("ResourcePolicy") {
                Some(Value::String(p)) => {
                    policy::validate(&p)?;
                    call.changed = true;
                    Some(p)
                }
                _ => None,
            },
            _ => None,
        };
        // The request's own bytes unless decoding changed it.
        let body = if call.changed {
            Value::Object(call.input.clone()).to_string()
        } else {
            String::from_utf8_lossy(raw).into_owned()
        };
        let out = self
            .engine
            .call(&call.account, &call.region, call.op.name(), body)
            .await
            .map_err(|e| self.engine_refusal(cx, &call, e))?;
        let table = |v: &Value| {
            v.pointer("/TableDescription/TableName")
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        match call.op {
            Op::CreateTable => {
                if let (Some(p), Some(t)) = (create_policy, table(&parse(&out))) {
                    let arn = DdbArn {
                        region: call.region.clone(),
                        account: call.account.clone(),
                        table: t,
                        sub: None,
                    };
                    policy::put(&cx.svc.store, cx.svc.now() * 1000, &arn, &p, None).await?;
                }
            }
            Op::DeleteTable => {
                if let Some(t) = table(&parse(&out)) {
                    policy::forget_table(&cx.svc.store, &call.account, &t).await?;
                }
            }
            _ => {}
        }
        Ok(out)
    }

    /// The engine's refusals, with its placeholder principal replaced by
    /// the caller (ListTagsOfResource of a missing table is AccessDenied).
    fn engine_refusal(&self, cx: &Cx<'_>, call: &DdbCall, e: DdbError) -> DdbError {
        match e {
            DdbError::Engine { ref type_, .. } if type_.ends_with("#AccessDeniedException") => {
                DdbError::AccessDenied(format!(
                    "User: {} is not authorized to perform: dynamodb:{} on resource: {}",
                    cx.caller.map(Caller::arn).unwrap_or_default(),
                    call.op.name(),
                    call.str("ResourceArn").unwrap_or_default()
                ))
            }
            e => e,
        }
    }
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_default()
}
