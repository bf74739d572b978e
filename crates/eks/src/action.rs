//! Decoding the EKS REST-JSON API subset (service `eks`), plus podiam's
//! own cluster endpoints (tokens, keys, service accounts), into a typed
//! [`EksRequest`] (authorization: [`crate::authz`]; handling: `ops`).

use crate::association::AssociationSpec;
use crate::cluster::{ClusterSpec, TokenSpec};
use crate::error::EksError;
use crate::keys::RotateSpec;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A decoded EKS request.
#[derive(Debug, Clone)]
pub enum EksRequest {
    /// `POST /clusters`.
    CreateCluster(ClusterSpec),
    /// `GET /clusters/{name}`.
    DescribeCluster(String),
    /// `GET /clusters`.
    ListClusters {
        /// 1..=100.
        max_results: usize,
        /// Opaque.
        next_token: Option<String>,
    },
    /// `DELETE /clusters/{name}`.
    DeleteCluster(String),
    /// `POST /clusters/{name}/pod-identity-associations`.
    CreateAssociation {
        /// Cluster.
        cluster: String,
        /// Parameters.
        spec: AssociationSpec,
    },
    /// `GET /clusters/{name}/pod-identity-associations/{id}`.
    DescribeAssociation {
        /// Cluster.
        cluster: String,
        /// Association id.
        id: String,
    },
    /// `GET /clusters/{name}/pod-identity-associations`.
    ListAssociations {
        /// Cluster.
        cluster: String,
        /// Filter.
        namespace: Option<String>,
        /// Filter.
        service_account: Option<String>,
        /// 1..=100.
        max_results: usize,
        /// Opaque.
        next_token: Option<String>,
    },
    /// `POST /clusters/{name}/pod-identity-associations/{id}`.
    UpdateAssociation {
        /// Cluster.
        cluster: String,
        /// Association id.
        id: String,
        /// Parameters.
        spec: AssociationSpec,
    },
    /// `DELETE /clusters/{name}/pod-identity-associations/{id}`.
    DeleteAssociation {
        /// Cluster.
        cluster: String,
        /// Association id.
        id: String,
    },
    /// `POST /_podiam/clusters/{name}/serviceaccounts` (podiam extension).
    CreateServiceAccount {
        /// Cluster.
        cluster: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Annotations.
        annotations: BTreeMap<String, String>,
    },
    /// `GET /_podiam/clusters/{name}/serviceaccounts[?namespace=]`.
    ListServiceAccounts {
        /// Cluster.
        cluster: String,
        /// Filter.
        namespace: Option<String>,
    },
    /// `GET /_podiam/clusters/{c}/namespaces/{ns}/serviceaccounts/{name}`.
    GetServiceAccount {
        /// Cluster.
        cluster: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// `POST …/serviceaccounts/{name}/annotations` `{set, remove}`.
    AnnotateServiceAccount {
        /// Cluster.
        cluster: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Annotations to set.
        set: BTreeMap<String, String>,
        /// Annotation keys to remove.
        remove: Vec<String>,
    },
    /// `DELETE …/serviceaccounts/{name}`.
    DeleteServiceAccount {
        /// Cluster.
        cluster: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// `POST /_podiam/clusters/{name}/token` (podiam extension).
    MintToken {
        /// Cluster.
        cluster: String,
        /// What to mint.
        spec: TokenSpec,
    },
    /// `POST /_podiam/clusters/{name}/keys/rotate`
    /// `{publishDelaySeconds, algorithm}` (podiam extension).
    RotateKeys {
        /// Cluster.
        cluster: String,
        /// How.
        spec: RotateSpec,
    },
    /// `GET /_podiam/clusters/{name}/keys` (podiam extension).
    ListKeys {
        /// Cluster.
        cluster: String,
    },
    /// `POST /tags/{resourceArn}`.
    TagResource {
        /// A cluster's or an association's ARN.
        arn: String,
        /// Tags to set.
        tags: BTreeMap<String, String>,
    },
    /// `DELETE /tags/{resourceArn}?tagKeys=…`.
    UntagResource {
        /// A cluster's or an association's ARN.
        arn: String,
        /// Keys to remove.
        keys: Vec<String>,
    },
    /// `GET /tags/{resourceArn}`.
    ListTagsForResource {
        /// A cluster's or an association's ARN.
        arn: String,
    },
}

impl EksRequest {
    /// Decodes method, path, query and JSON body. `None` when the route is not EKS's.
    pub fn decode(
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Option<Result<EksRequest, EksError>> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let q = |k: &str| {
            query.and_then(|q| {
                form_urlencoded_pairs(q)
                    .into_iter()
                    .find(|(qk, _)| qk == k)
                    .map(|(_, v)| v)
            })
        };
        Some(match (method, segs.as_slice()) {
            ("POST", ["clusters"]) => parse_body(body).and_then(|b| {
                let name = str_field(&b, "name")?
                    .ok_or_else(|| EksError::InvalidParameter("name is required".into()))?;
                let tags = b
                    .get("tags")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                            .collect()
                    })
                    .unwrap_or_else(BTreeMap::new);
                let podiam = b.get("podiam").cloned().unwrap_or(Value::Null);
                Ok(EksRequest::CreateCluster(ClusterSpec {
                    name,
                    issuer: str_field(&podiam, "issuer")?,
                    algorithm: str_field(&podiam, "signingAlgorithm")?,
                    external_jwks: str_field(&podiam, "jwks")?,
                    tags,
                }))
            }),
            ("GET", ["clusters"]) => {
                let max = q("maxResults").map(|v| v.parse::<usize>());
                match max {
                    Some(Err(_)) => Err(EksError::InvalidParameter(
                        "maxResults must be a number".into(),
                    )),
                    Some(Ok(m)) if !(1..=100).contains(&m) => Err(EksError::InvalidParameter(
                        "maxResults must be between 1 and 100".into(),
                    )),
                    m => Ok(EksRequest::ListClusters {
                        max_results: m.and_then(Result::ok).unwrap_or(100),
                        next_token: q("nextToken"),
                    }),
                }
            }
            ("POST", ["clusters", name, "pod-identity-associations"]) => parse_body(body)
                .and_then(|b| association_spec(&b))
                .map(|spec| EksRequest::CreateAssociation {
                    cluster: name.to_string(),
                    spec,
                }),
            ("GET", ["clusters", name, "pod-identity-associations"]) => {
                match page_size(q("maxResults")) {
                    Ok(max_results) => Ok(EksRequest::ListAssociations {
                        cluster: name.to_string(),
                        namespace: q("namespace"),
                        service_account: q("serviceAccount"),
                        max_results,
                        next_token: q("nextToken"),
                    }),
                    Err(e) => Err(e),
                }
            }
            ("GET", ["clusters", name, "pod-identity-associations", id]) => {
                association_id(id).map(|id| EksRequest::DescribeAssociation {
                    cluster: name.to_string(),
                    id,
                })
            }
            ("POST", ["clusters", name, "pod-identity-associations", id]) => association_id(id)
                .and_then(|id| Ok((id, association_spec(&parse_body(body)?)?)))
                .map(|(id, spec)| EksRequest::UpdateAssociation {
                    cluster: name.to_string(),
                    id,
                    spec,
                }),
            ("DELETE", ["clusters", name, "pod-identity-associations", id]) => association_id(id)
                .map(|id| EksRequest::DeleteAssociation {
                    cluster: name.to_string(),
                    id,
                }),
            ("POST", ["tags", arn]) => parse_body(body).and_then(|b| {
                Ok(EksRequest::TagResource {
                    arn: tag_target(arn)?,
                    tags: tags_of(&b)?,
                })
            }),
            ("DELETE", ["tags", arn]) => tag_target(arn).and_then(|arn| {
                let keys: Vec<String> = query
                    .map(form_urlencoded_pairs)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(k, _)| k == "tagKeys")
                    .map(|(_, v)| v)
                    .collect();
                if keys.is_empty() {
                    return Err(EksError::BadRequest("tagKeys is required".into()));
                }
                Ok(EksRequest::UntagResource { arn, keys })
            }),
            ("GET", ["tags", arn]) => {
                tag_target(arn).map(|arn| EksRequest::ListTagsForResource { arn })
            }
            ("GET", ["clusters", name]) => Ok(EksRequest::DescribeCluster(name.to_string())),
            ("DELETE", ["clusters", name]) => Ok(EksRequest::DeleteCluster(name.to_string())),
            ("POST", ["_podiam", "clusters", c, "serviceaccounts"]) => {
                parse_body(body).and_then(|b| {
                    Ok(EksRequest::CreateServiceAccount {
                        cluster: c.to_string(),
                        namespace: str_field(&b, "namespace")?.unwrap_or_else(|| "default".into()),
                        name: str_field(&b, "name")?
                            .ok_or_else(|| EksError::InvalidParameter("name is required".into()))?,
                        annotations: string_map(&b, "annotations")?,
                    })
                })
            }
            ("GET", ["_podiam", "clusters", c, "serviceaccounts"]) => {
                Ok(EksRequest::ListServiceAccounts {
                    cluster: c.to_string(),
                    namespace: q("namespace"),
                })
            }
            (
                "GET",
                [
                    "_podiam",
                    "clusters",
                    c,
                    "namespaces",
                    ns,
                    "serviceaccounts",
                    n,
                ],
            ) => Ok(EksRequest::GetServiceAccount {
                cluster: c.to_string(),
                namespace: ns.to_string(),
                name: n.to_string(),
            }),
            (
                "DELETE",
                [
                    "_podiam",
                    "clusters",
                    c,
                    "namespaces",
                    ns,
                    "serviceaccounts",
                    n,
                ],
            ) => Ok(EksRequest::DeleteServiceAccount {
                cluster: c.to_string(),
                namespace: ns.to_string(),
                name: n.to_string(),
            }),
            (
                "POST",
                [
                    "_podiam",
                    "clusters",
                    c,
                    "namespaces",
                    ns,
                    "serviceaccounts",
                    n,
                    "annotations",
                ],
            ) => parse_body(body).and_then(|b| {
                let remove = match b.get("remove") {
                    None | Some(Value::Null) => vec![],
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                    Some(_) => {
                        return Err(EksError::InvalidParameter("remove must be a list".into()));
                    }
                };
                Ok(EksRequest::AnnotateServiceAccount {
                    cluster: c.to_string(),
                    namespace: ns.to_string(),
                    name: n.to_string(),
                    set: string_map(&b, "set")?,
                    remove,
                })
            }),
            ("POST", ["_podiam", "clusters", name, "token"]) => parse_body(body).and_then(|b| {
                let namespace = str_field(&b, "namespace")?.unwrap_or_else(|| "default".into());
                let service_account = str_field(&b, "serviceAccount")?.ok_or_else(|| {
                    EksError::InvalidParameter("serviceAccount is required".into())
                })?;
                let audiences = match b.get("audiences") {
                    None | Some(Value::Null) => vec![],
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                    Some(_) => {
                        return Err(EksError::InvalidParameter(
                            "audiences must be a list".into(),
                        ));
                    }
                };
                let expiration_seconds = match b.get("expirationSeconds") {
                    None | Some(Value::Null) => 3600,
                    Some(v) => v.as_i64().ok_or_else(|| {
                        EksError::InvalidParameter("expirationSeconds must be an integer".into())
                    })?,
                };
                Ok(EksRequest::MintToken {
                    cluster: name.to_string(),
                    spec: TokenSpec {
                        namespace,
                        service_account,
                        audiences,
                        expiration_seconds,
                        pod: str_field(&b, "pod")?,
                        insecure_short_lifetime: b
                            .get("insecureShortLifetime")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    },
                })
            }),
            ("POST", ["_podiam", "clusters", name, "keys", "rotate"]) => {
                parse_body(body).and_then(|b| {
                    let publish_delay = match b.get("publishDelaySeconds") {
                        None | Some(Value::Null) => None,
                        Some(v) => Some(v.as_i64().ok_or_else(|| {
                            EksError::InvalidParameter(
                                "publishDelaySeconds must be an integer".into(),
                            )
                        })?),
                    };
                    Ok(EksRequest::RotateKeys {
                        cluster: name.to_string(),
                        spec: RotateSpec {
                            publish_delay,
                            algorithm: str_field(&b, "algorithm")?,
                        },
                    })
                })
            }
            ("GET", ["_podiam", "clusters", name, "keys"]) => Ok(EksRequest::ListKeys {
                cluster: name.to_string(),
            }),
            _ => return None,
        })
    }

    /// The API operation's name (`DescribeCluster`, `CreateServiceAccountToken`, …).
    pub fn operation(&self) -> &'static str {
        let (action, _) = self.authz("", "");
        action.split_once(':').map_or(action, |(_, name)| name)
    }
}

/// The resource ARN of a tagging call, from its path segment.
fn tag_target(segment: &str) -> Result<String, EksError> {
    let arn = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| EksError::BadRequest("The resource ARN is not valid UTF-8.".into()))?
        .into_owned();
    if !arn.starts_with("arn:") {
        return Err(EksError::BadRequest(format!("{arn} is not a valid ARN.")));
    }
    Ok(arn)
}

/// The `tags` of a tagging call: 1 to 50, keys of 1 to 128 characters,
/// values up to 256 (the model's TagMap, TagKey and TagValue).
fn tags_of(b: &Value) -> Result<BTreeMap<String, String>, EksError> {
    let tags = string_map(b, "tags").map_err(|e| EksError::BadRequest(e.to_string()))?;
    if tags.is_empty() || tags.len() > 50 {
        return Err(EksError::BadRequest(
            "tags must hold between 1 and 50 tags.".into(),
        ));
    }
    if let Some((k, _)) = tags
        .iter()
        .find(|(k, v)| k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256)
    {
        return Err(EksError::BadRequest(format!(
            "The tag {k:?} is invalid: keys have 1 to 128 characters, values up to 256."
        )));
    }
    Ok(tags)
}

fn form_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn string_map(b: &Value, k: &str) -> Result<BTreeMap<String, String>, EksError> {
    match b.get(k) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_string()))
                    .ok_or_else(|| EksError::InvalidParameter(format!("{k} must map to strings")))
            })
            .collect(),
        Some(_) => Err(EksError::InvalidParameter(format!(
            "{k} must be a map of strings"
        ))),
    }
}

fn page_size(v: Option<String>) -> Result<usize, EksError> {
    match v.map(|v| v.parse::<usize>()) {
        None => Ok(100),
        Some(Ok(m)) if (1..=100).contains(&m) => Ok(m),
        Some(_) => Err(EksError::InvalidParameter(
            "maxResults must be a number between 1 and 100".into(),
        )),
    }
}

fn association_spec(b: &Value) -> Result<AssociationSpec, EksError> {
    let tags = match b.get("tags") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_string()))
                    .ok_or_else(|| EksError::InvalidParameter("tag values must be strings".into()))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(EksError::InvalidParameter("tags must be a map".into())),
    };
    let disable_session_tags = match b.get("disableSessionTags") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(x)) => Some(*x),
        Some(_) => {
            return Err(EksError::InvalidParameter(
                "disableSessionTags must be a boolean".into(),
            ));
        }
    };
    Ok(AssociationSpec {
        namespace: str_field(b, "namespace")?,
        service_account: str_field(b, "serviceAccount")?,
        role_arn: str_field(b, "roleArn")?,
        client_request_token: str_field(b, "clientRequestToken")?,
        tags,
        disable_session_tags,
        target_role_arn: str_field(b, "targetRoleArn")?,
        policy: str_field(b, "policy")?,
    })
}

/// An association id from the path: EKS refuses one of the wrong length
/// before looking it up.
fn association_id(id: &str) -> Result<String, EksError> {
    if id.chars().count() != 19 {
        return Err(EksError::InvalidParameter(
            "The parameter associationId should be 19 characters long.".into(),
        ));
    }
    Ok(id.to_string())
}

fn parse_body(body: &[u8]) -> Result<Value, EksError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| EksError::InvalidParameter(format!("Invalid JSON body: {e}")))?;
    if !v.is_object() {
        return Err(EksError::InvalidParameter(
            "The request body must be a JSON object".into(),
        ));
    }
    Ok(v)
}

fn str_field(v: &Value, k: &str) -> Result<Option<String>, EksError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(EksError::InvalidParameter(format!("{k} must be a string"))),
    }
}
