//! The API calls the console's pages make, as the SDKs would send them.
//!
//! A page asks for one call (`POST api/call`); it is decoded into a
//! [`Call`], checked against what the console does (reads, explain, and
//! revoking a role's sessions: never a call that returns a secret), then
//! signed with the signed-in principal's key and served by podiam itself.

use crate::ConsoleError;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The inline policy AWS's console attaches to revoke a role's sessions.
pub const REVOKE_POLICY_NAME: &str = "AWSRevokeOlderSessions";

/// DynamoDB operations the console reads with.
const DYNAMODB_READS: [&str; 4] = [
    "ListTables",
    "DescribeTable",
    "GetResourcePolicy",
    "ListTagsOfResource",
];

/// podiam API calls other than reads of clusters.
const PODIAM_POSTS: [&str; 2] = [
    "/_podiam/explain/request",
    "/_podiam/explain/who-can-assume",
];

/// What a page sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    service: String,
    action: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    method: Option<String>,
    path: Option<String>,
    query: Option<String>,
    target: Option<String>,
    body: Option<Value>,
}

/// One decoded, allowed API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The signing name (`iam`, `sts`, `eks`, `podiam`, `s3`, `dynamodb`).
    pub service: &'static str,
    /// The request line.
    pub method: Method,
    /// Path and query.
    pub uri: String,
    /// `Content-Type` and `X-Amz-Target`, where the protocol has them.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Bytes,
}

fn unsupported(what: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::Unsupported(format!("The console does not make this call: {what}"))
}

/// A path the page names: absolute, no `..`, no query or fragment.
fn clean_path(p: Option<String>) -> Result<String, ConsoleError> {
    let p = p.ok_or_else(|| ConsoleError::Invalid("path is required".into()))?;
    if !p.starts_with('/') || p.contains(['?', '#', '\\']) || p.split('/').any(|s| s == "..") {
        return Err(ConsoleError::Invalid(format!("bad path {p:?}")));
    }
    Ok(p)
}

/// `path` with the page's query string (a list's `nextToken`, S3's
/// `?policy`), which must be one.
fn with_query(path: String, query: Option<String>) -> Result<String, ConsoleError> {
    match query.filter(|q| !q.is_empty()) {
        Some(q) if q.contains(['#', ' ', '?']) => {
            Err(ConsoleError::Invalid(format!("bad query {q:?}")))
        }
        Some(q) => Ok(format!("{path}?{q}")),
        None => Ok(path),
    }
}

impl Call {
    /// Decodes and checks a page's request.
    pub fn decode(body: &[u8]) -> Result<Call, ConsoleError> {
        let spec: Spec = serde_json::from_slice(body)
            .map_err(|e| ConsoleError::Invalid(format!("Invalid call: {e}")))?;
        let method = |m: &Option<String>| match m.as_deref().unwrap_or("GET") {
            "GET" => Ok(Method::GET),
            "POST" => Ok(Method::POST),
            other => Err(unsupported(format!("{} {other}", spec.service))),
        };
        match spec.service.as_str() {
            "iam" | "sts" => {
                let action = spec
                    .action
                    .clone()
                    .ok_or_else(|| ConsoleError::Invalid("action is required".into()))?;
                let (service, version) = if spec.service == "iam" {
                    ("iam", "2010-05-08")
                } else {
                    ("sts", "2011-06-15")
                };
                let allowed = if service == "iam" {
                    ["Get", "List", "Simulate"]
                        .iter()
                        .any(|p| action.starts_with(p))
                        || (action == "PutRolePolicy"
                            && spec.params.get("PolicyName").map(String::as_str)
                                == Some(REVOKE_POLICY_NAME))
                } else {
                    action == "GetCallerIdentity"
                };
                if !allowed || !action.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(unsupported(format!("{service}:{action}")));
                }
                let mut form = form_urlencoded::Serializer::new(String::new());
                form.append_pair("Action", &action)
                    .append_pair("Version", version);
                for (k, v) in &spec.params {
                    if k == "Action" || k == "Version" {
                        continue;
                    }
                    form.append_pair(k, v);
                }
                Ok(Call {
                    service,
                    method: Method::POST,
                    uri: "/".into(),
                    headers: vec![(
                        "content-type",
                        "application/x-www-form-urlencoded; charset=utf-8".into(),
                    )],
                    body: Bytes::from(form.finish()),
                })
            }
            "eks" => {
                let m = method(&spec.method)?;
                let path = clean_path(spec.path)?;
                if m != Method::GET || path.starts_with("/_podiam") {
                    return Err(unsupported(format!("eks {m} {path}")));
                }
                Ok(Call::rest("eks", m, with_query(path, spec.query)?, None))
            }
            "podiam" => {
                let m = method(&spec.method)?;
                let path = clean_path(spec.path)?;
                let read = m == Method::GET && path.starts_with("/_podiam/clusters/");
                let explain = m == Method::POST && PODIAM_POSTS.contains(&path.as_str());
                if !read && !explain {
                    return Err(unsupported(format!("podiam {m} {path}")));
                }
                let body = spec.body.map(|b| b.to_string());
                Ok(Call::rest("podiam", m, with_query(path, spec.query)?, body))
            }
            "s3" => {
                let m = method(&spec.method)?;
                let path = clean_path(spec.path)?;
                // The service (list buckets) or one bucket: never an object.
                if m != Method::GET || path[1..].contains('/') {
                    return Err(unsupported(format!("s3 {m} {path}")));
                }
                Ok(Call {
                    service: "s3",
                    method: m,
                    uri: with_query(path, spec.query)?,
                    headers: vec![("x-amz-content-sha256", podiam_sigv4::EMPTY_SHA256.into())],
                    body: Bytes::new(),
                })
            }
            "dynamodb" => {
                let target = spec
                    .target
                    .ok_or_else(|| ConsoleError::Invalid("target is required".into()))?;
                if !DYNAMODB_READS.contains(&target.as_str()) {
                    return Err(unsupported(format!("dynamodb:{target}")));
                }
                Ok(Call {
                    service: "dynamodb",
                    method: Method::POST,
                    uri: "/".into(),
                    headers: vec![
                        ("content-type", "application/x-amz-json-1.0".into()),
                        ("x-amz-target", format!("DynamoDB_20120810.{target}")),
                    ],
                    body: Bytes::from(
                        spec.body
                            .unwrap_or(Value::Object(Default::default()))
                            .to_string(),
                    ),
                })
            }
            other => Err(unsupported(format!("service {other:?}"))),
        }
    }

    fn rest(service: &'static str, method: Method, path: String, body: Option<String>) -> Call {
        let headers = if body.is_some() {
            vec![("content-type", "application/json".into())]
        } else {
            vec![]
        };
        Call {
            service,
            method,
            uri: path,
            headers,
            body: body.map(Bytes::from).unwrap_or_default(),
        }
    }

    /// The live audit stream (`podiam:ReadAuditLog`).
    pub fn audit_stream(denied: bool) -> Call {
        let uri = if denied {
            "/_podiam/audit?follow=1&denied=1"
        } else {
            "/_podiam/audit?follow=1"
        };
        Call::rest("podiam", Method::GET, uri.into(), None)
    }

    /// The request, signed with `credentials` at `now` for `region`, sent
    /// to `host`.
    pub fn signed(
        self,
        host: &str,
        region: &str,
        credentials: &podiam_sigv4::Credentials,
        now: time::OffsetDateTime,
        user_agent: &str,
    ) -> Result<http::Request<Bytes>, ConsoleError> {
        let uri: Uri = self
            .uri
            .parse()
            .map_err(|e| ConsoleError::Invalid(format!("bad path: {e}")))?;
        let mut headers = HeaderMap::new();
        let bad = |_| ConsoleError::Invalid("bad header value".into());
        headers.insert(header::HOST, HeaderValue::from_str(host).map_err(bad)?);
        for (k, v) in self.headers {
            headers.insert(k, HeaderValue::from_str(&v).map_err(bad)?);
        }
        let params = podiam_sigv4::SigningParams {
            credentials,
            region,
            service: self.service,
            time: now,
            s3: self.service == "s3",
        };
        let mut req = podiam_sigv4::signed_request(self.method, uri, headers, self.body, &params)
            .map_err(|e| ConsoleError::Invalid(format!("cannot sign: {e}")))?;
        // Not signed: the services see the browser behind the console.
        if let Ok(v) = HeaderValue::from_str(user_agent) {
            req.headers_mut().insert(header::USER_AGENT, v);
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(v: Value) -> Result<Call, ConsoleError> {
        Call::decode(v.to_string().as_bytes())
    }

    #[test]
    fn reads_explain_and_revoke_are_made() {
        let c =
            call(serde_json::json!({"service":"iam","action":"GetRole","params":{"RoleName":"r"}}))
                .unwrap();
        assert_eq!(c.service, "iam");
        assert_eq!(c.body, "Action=GetRole&Version=2010-05-08&RoleName=r");
        let c = call(serde_json::json!({"service":"iam","action":"PutRolePolicy","params":{"RoleName":"r","PolicyName":"AWSRevokeOlderSessions","PolicyDocument":"{}"}})).unwrap();
        assert_eq!(c.method, Method::POST);
        let c =
            call(serde_json::json!({"service":"s3","method":"GET","path":"/b","query":"policy"}))
                .unwrap();
        assert_eq!(c.uri, "/b?policy");
        let c = call(serde_json::json!({"service":"dynamodb","target":"DescribeTable","body":{"TableName":"t"}})).unwrap();
        assert_eq!(c.headers[1].1, "DynamoDB_20120810.DescribeTable");
        let c = call(serde_json::json!({"service":"podiam","method":"POST","path":"/_podiam/explain/who-can-assume","body":{"roleArn":"x"}})).unwrap();
        assert_eq!(c.body, r#"{"roleArn":"x"}"#);
        let c = call(serde_json::json!({"service":"eks","path":"/clusters/c/pod-identity-associations","query":"nextToken=a-1"})).unwrap();
        assert_eq!(c.uri, "/clusters/c/pod-identity-associations?nextToken=a-1");
        call(serde_json::json!({"service":"podiam","path":"/_podiam/clusters/c/keys"})).unwrap();
        call(serde_json::json!({"service":"sts","action":"GetCallerIdentity"})).unwrap();
    }

    #[test]
    fn writes_and_calls_that_return_secrets_are_not() {
        for v in [
            serde_json::json!({"service":"iam","action":"CreateAccessKey"}),
            serde_json::json!({"service":"iam","action":"PutRolePolicy","params":{"RoleName":"r","PolicyName":"Admin","PolicyDocument":"{}"}}),
            serde_json::json!({"service":"iam","action":"Get&Action=DeleteRole"}),
            serde_json::json!({"service":"sts","action":"AssumeRole"}),
            serde_json::json!({"service":"eks","method":"POST","path":"/clusters"}),
            serde_json::json!({"service":"eks","path":"/_podiam/clusters/c/keys"}),
            serde_json::json!({"service":"podiam","method":"POST","path":"/_podiam/clusters/c/token"}),
            serde_json::json!({"service":"podiam","method":"POST","path":"/_podiam/instance-role-credentials"}),
            serde_json::json!({"service":"podiam","path":"/_podiam/audit"}),
            serde_json::json!({"service":"s3","path":"/b/secret.txt"}),
            serde_json::json!({"service":"s3","method":"DELETE","path":"/b"}),
            serde_json::json!({"service":"dynamodb","target":"GetItem","body":{}}),
            serde_json::json!({"service":"kms","action":"Decrypt"}),
        ] {
            assert!(
                matches!(call(v.clone()), Err(ConsoleError::Unsupported(_))),
                "{v}"
            );
        }
        for v in [
            serde_json::json!({"service":"podiam","path":"/_podiam/clusters/../audit"}),
            serde_json::json!({"service":"eks","path":"clusters"}),
            serde_json::json!({"service":"iam","action":"GetRole","extra":1}),
            serde_json::json!({"service":"eks","path":"/clusters","query":"a#b"}),
        ] {
            assert!(
                matches!(call(v.clone()), Err(ConsoleError::Invalid(_))),
                "{v}"
            );
        }
    }
}
