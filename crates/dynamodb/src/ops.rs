//! Handling authorized calls: the engine runs most of them; podiam itself
//! answers the resource-policy operations, DescribeEndpoints and
//! DescribeLimits, the tagging of streams, and on a backend the tagging
//! operations.

use crate::action::{DdbArn, DdbCall, Op};
use crate::error::DdbError;
use crate::{DynamoDb, policy, tags};
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
            Op::TagResource | Op::UntagResource | Op::ListTagsOfResource => {
                self.tags_op(cx, call).await?
            }
            // What AWS reports for a table where point-in-time recovery was
            // never enabled (continuous backups are ENABLED for every table
            // there; podiam's CreateBackup is not implemented). The Terraform
            // provider reads it for every table.
            Op::DescribeContinuousBackups => {
                let table = call.str("TableName").unwrap_or_default();
                // DescribeTable's refusals word the TableName rules.
                let probe = json!({ "TableName": call.input.get("TableName") }).to_string();
                let refused = self.engine.refusal("DescribeTable", &probe);
                if is_validation(&refused) {
                    return Err(refused);
                }
                self.engine
                    .warm(&call.account, &call.region, &[table.to_string()])
                    .await?;
                if self
                    .engine
                    .table_info(&call.account, &call.region, table)?
                    .is_none()
                {
                    return Err(DdbError::TableNotFound(format!("Table not found: {table}")));
                }
                json!({"ContinuousBackupsDescription": {
                    "ContinuousBackupsStatus": "ENABLED",
                    "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}
                }})
            }
            _ => return Err(DdbError::UnknownOperation),
        })
    }

    /// Whether podiam answers `call` itself rather than the engine: the
    /// tagging operations on a backend, and on a stream anywhere (those
    /// tags live in podiam's store; a stream's are its own, not its
    /// table's).
    pub(crate) fn answers_itself(&self, call: &DdbCall) -> bool {
        let tagging = matches!(
            call.op,
            Op::TagResource | Op::UntagResource | Op::ListTagsOfResource
        );
        !call.op.engine()
            || (tagging
                && (self.engine.is_remote()
                    || DdbArn::parse(call.str("ResourceArn").unwrap_or_default())
                        .is_some_and(|a| a.stream_label().is_some())))
    }

    /// TagResource, UntagResource and ListTagsOfResource on podiam's store.
    async fn tags_op(&self, cx: &Cx<'_>, call: &DdbCall) -> Result<Value, DdbError> {
        // The engine's own words for bad input: its scratch database has no
        // tables, so valid input is refused only for the missing table.
        let body = Value::Object(call.input.clone()).to_string();
        let missing = match self.engine.refusal(call.op.name(), &body) {
            e if is_validation(&e) => return Err(e),
            e => self.engine_refusal(cx, call, e),
        };
        let Some(arn) = DdbArn::parse(call.str("ResourceArn").unwrap_or_default()) else {
            return Err(missing);
        };
        self.engine
            .warm(&arn.account, &call.region, std::slice::from_ref(&arn.table))
            .await?;
        let Some(info) = self
            .engine
            .table_info(&arn.account, &call.region, &arn.table)?
        else {
            return Err(missing);
        };
        if let Some(label) = arn.stream_label()
            && info.stream_label.as_deref() != Some(label)
        {
            return Err(DdbError::ResourceNotFound(format!(
                "Requested resource not found: Stream: {} not found",
                call.str("ResourceArn").unwrap_or_default()
            )));
        }
        let key = tags::key_of(&arn);
        let store = &cx.svc.store;
        Ok(match call.op {
            Op::TagResource => {
                let add = tags::from_json(&call.input["Tags"]);
                tags::change(store, &arn.account, &key, |t| tags::merge(t, &add)).await?;
                json!({})
            }
            Op::UntagResource => {
                let keys: Vec<String> = call.input["TagKeys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect();
                tags::change(store, &arn.account, &key, |t| {
                    t.retain(|(k, _)| !keys.contains(k));
                })
                .await?;
                json!({})
            }
            _ => json!({"Tags": tags::to_json(&tags::of(store, &arn.account, &key)?)}),
        })
    }

    /// BatchExecuteStatement: each statement decided on its own. Denied
    /// ones never reach the engine and answer `AccessDenied` in their slot
    /// of `Responses`; the others run as one batch. A batch the engine
    /// refuses as a whole (mixed reads and writes, too many statements) is
    /// refused first, whatever IAM says.
    pub(crate) async fn batch_statements(
        &self,
        cx: &Cx<'_>,
        call: DdbCall,
        raw: &[u8],
    ) -> Result<String, DdbError> {
        let checks = self.all_checks(cx, &call)?;
        let statements = call
            .input
            .get("Statements")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // The checks are those of the statements that are objects, in order.
        let slots: Vec<usize> = (0..statements.len())
            .filter(|&i| statements[i].is_object())
            .collect();
        if slots.len() != checks.len() {
            return Err(DdbError::Internal(
                "a statement of the batch has no check".into(),
            ));
        }
        let mut denied: Vec<(usize, String)> = Vec::new();
        let mut first_denial = None;
        for (&slot, check) in slots.iter().zip(&checks) {
            if let Err(d) = cx.authz.decide(check) {
                if first_denial.is_none() {
                    let explanation = serde_json::to_value(&d.explanation).unwrap_or_default();
                    first_denial = Some((
                        check.action.to_string(),
                        check.resource.clone(),
                        explanation,
                    ));
                }
                if let DdbError::AccessDenied(m) = podiam_auth::Service::denied(self, cx, check, d)
                {
                    denied.push((slot, m));
                }
            }
        }
        if denied.is_empty() {
            return self.engine_op(cx, call, raw).await;
        }
        // The audit line shows a refusal of the batch, not its last allow.
        if let Some((action, resource, explanation)) = first_denial {
            podiam_auth::audit::note_decision(&action, &resource, false, explanation);
        }
        let whole = Value::Object(call.input.clone()).to_string();
        if let e @ DdbError::Engine { .. } = self.engine.refusal(call.op.name(), &whole)
            && !e.to_string().contains("ResourceNotFound")
        {
            return Err(e);
        }
        let is_denied = |i: usize| denied.iter().any(|(d, _)| *d == i);
        let kept: Vec<Value> = (0..statements.len())
            .filter(|&i| !is_denied(i))
            .map(|i| statements[i].clone())
            .collect();
        let mut answer = json!({});
        if !kept.is_empty() {
            let mut rest = call;
            rest.input.insert("Statements".into(), Value::Array(kept));
            rest.changed = true;
            answer = parse(&self.engine_op(cx, rest, raw).await?);
        }
        let mut ran = answer
            .get_mut("Responses")
            .and_then(Value::as_array_mut)
            .map(std::mem::take)
            .unwrap_or_default()
            .into_iter();
        let responses: Vec<Value> = (0..statements.len())
            .map(|i| match denied.iter().find(|(d, _)| *d == i) {
                Some((_, m)) => json!({"Error": {"Code": "AccessDenied", "Message": m}}),
                None => ran.next().unwrap_or_else(|| json!({})),
            })
            .collect();
        answer["Responses"] = Value::Array(responses);
        Ok(answer.to_string())
    }

    pub(crate) async fn engine_op(
        &self,
        cx: &Cx<'_>,
        mut call: DdbCall,
        raw: &[u8],
    ) -> Result<String, DdbError> {
        // On a backend, CreateTable's tags are podiam's to keep too.
        let create_tags = match call.op {
            Op::CreateTable if self.engine.is_remote() => match call.input.remove("Tags") {
                Some(t) => {
                    call.changed = true;
                    let pairs = tags::from_json(&t);
                    if !pairs.is_empty() {
                        // TagResource's checks, in the engine's words.
                        let probe = json!({"ResourceArn": format!("arn:aws:dynamodb:{}:{}:table/t", call.region, call.account), "Tags": t});
                        let e = self.engine.refusal("TagResource", &probe.to_string());
                        if is_validation(&e) {
                            return Err(e);
                        }
                    }
                    pairs
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
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
                if let Some(t) = table(&parse(&out))
                    && !create_tags.is_empty()
                {
                    tags::change(&cx.svc.store, &call.account, &t, |cur| {
                        *cur = create_tags.clone();
                    })
                    .await?;
                }
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
                    tags::forget(&cx.svc.store, &call.account, &t).await?;
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

/// Whether the engine refused the input itself (not a missing table).
fn is_validation(e: &DdbError) -> bool {
    match e {
        DdbError::Validation(_) | DdbError::Serialization(_) => true,
        DdbError::Engine { type_, .. } => type_.ends_with("#ValidationException"),
        _ => false,
    }
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_default()
}
