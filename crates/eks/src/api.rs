//! The EKS REST-JSON API subset (service `eks`), plus podiam's token
//! endpoint. Typed request → authorize → handle, as elsewhere.

use crate::association::{self, AssociationSpec};
use crate::cluster::{
    ClusterSpec, TokenSpec, create_cluster, delete_cluster, mint_token, not_found,
};
use crate::error::EksError;
use crate::keys::RotateSpec;
use crate::serviceaccount;
use podiam_auth::{Caller, Check, RequestMeta, Services, Subject};
use podiam_store::Cluster;
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
                Ok(EksRequest::DescribeAssociation {
                    cluster: name.to_string(),
                    id: id.to_string(),
                })
            }
            ("POST", ["clusters", name, "pod-identity-associations", id]) => parse_body(body)
                .and_then(|b| association_spec(&b))
                .map(|spec| EksRequest::UpdateAssociation {
                    cluster: name.to_string(),
                    id: id.to_string(),
                    spec,
                }),
            ("DELETE", ["clusters", name, "pod-identity-associations", id]) => {
                Ok(EksRequest::DeleteAssociation {
                    cluster: name.to_string(),
                    id: id.to_string(),
                })
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

    /// The IAM action and resource this request is authorized as.
    pub fn authz(&self, region: &str, account: &str) -> (&'static str, String) {
        let arn = |n: &str| format!("arn:aws:eks:{region}:{account}:cluster/{n}");
        let assoc = |c: &str, id: &str| {
            format!("arn:aws:eks:{region}:{account}:podidentityassociation/{c}/{id}")
        };
        match self {
            EksRequest::CreateCluster(s) => ("eks:CreateCluster", arn(&s.name)),
            EksRequest::DescribeCluster(n) => ("eks:DescribeCluster", arn(n)),
            EksRequest::ListClusters { .. } => ("eks:ListClusters", "*".into()),
            EksRequest::DeleteCluster(n) => ("eks:DeleteCluster", arn(n)),
            EksRequest::MintToken { cluster, .. } => {
                ("podiam:CreateServiceAccountToken", arn(cluster))
            }
            EksRequest::RotateKeys { cluster, .. } => {
                ("podiam:RotateClusterSigningKey", arn(cluster))
            }
            EksRequest::ListKeys { cluster } => ("podiam:ListClusterSigningKeys", arn(cluster)),
            EksRequest::CreateAssociation { cluster, .. } => {
                ("eks:CreatePodIdentityAssociation", arn(cluster))
            }
            EksRequest::CreateServiceAccount { cluster, .. } => {
                ("podiam:CreateServiceAccount", arn(cluster))
            }
            EksRequest::ListServiceAccounts { cluster, .. } => {
                ("podiam:ListServiceAccounts", arn(cluster))
            }
            EksRequest::GetServiceAccount { cluster, .. } => {
                ("podiam:GetServiceAccount", arn(cluster))
            }
            EksRequest::AnnotateServiceAccount { cluster, .. } => {
                ("podiam:UpdateServiceAccount", arn(cluster))
            }
            EksRequest::DeleteServiceAccount { cluster, .. } => {
                ("podiam:DeleteServiceAccount", arn(cluster))
            }
            EksRequest::ListAssociations { cluster, .. } => {
                ("eks:ListPodIdentityAssociations", arn(cluster))
            }
            EksRequest::DescribeAssociation { cluster, id } => {
                ("eks:DescribePodIdentityAssociation", assoc(cluster, id))
            }
            EksRequest::UpdateAssociation { cluster, id, .. } => {
                ("eks:UpdatePodIdentityAssociation", assoc(cluster, id))
            }
            EksRequest::DeleteAssociation { cluster, id } => {
                ("eks:DeletePodIdentityAssociation", assoc(cluster, id))
            }
        }
    }
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

/// A cluster as EKS describes it.
pub fn cluster_json(svc: &Services, c: &Cluster) -> Value {
    json!({
        "name": c.name,
        "arn": c.arn,
        "createdAt": c.created_at as f64,
        "version": "1.33",
        "endpoint": svc.config.public_url,
        "identity": {"oidc": {"issuer": c.issuer}},
        "status": "ACTIVE",
        "platformVersion": "podiam.1",
        "tags": c.tags,
    })
}

/// Authorizes and handles an EKS request for `caller`; returns the status
/// and JSON body. (podiam's own API serves cluster calls this way; the EKS
/// endpoint runs the same two steps through the pipeline.)
pub async fn handle(
    svc: &Services,
    caller: &Caller,
    req: EksRequest,
    meta: &RequestMeta,
) -> Result<(u16, String), EksError> {
    let check = req.check(&svc.config.region, caller.account());
    svc.authorizer(Subject::Caller(caller), meta)
        .decide(&check)
        .map_err(|_| denied(caller, &check))?;
    execute(svc, caller.account(), req).await
}

/// EKS's refusal message.
pub(crate) fn denied(caller: &Caller, check: &Check) -> EksError {
    EksError::AccessDenied(format!(
        "User: {} is not authorized to perform: {} on resource: {}",
        caller.arn(),
        check.action,
        check.resource
    ))
}

impl EksRequest {
    /// The one authorization this request needs.
    pub fn check(&self, region: &str, account: &str) -> Check {
        let (action, resource) = self.authz(region, account);
        Check::new(action, resource)
    }
}

/// Handles an authorized EKS request in `account`; returns the status and
/// JSON body.
pub async fn execute(
    svc: &Services,
    account: &str,
    req: EksRequest,
) -> Result<(u16, String), EksError> {
    let account = account.to_string();
    let body = match req {
        EksRequest::CreateCluster(spec) => {
            let c = create_cluster(svc, &account, spec).await?;
            json!({ "cluster": cluster_json(svc, &c) })
        }
        EksRequest::DescribeCluster(name) => {
            let c = svc
                .store
                .get::<Cluster>(&account, &name)?
                .ok_or_else(|| not_found(&name))?;
            json!({ "cluster": cluster_json(svc, &c) })
        }
        EksRequest::ListClusters {
            max_results,
            next_token,
        } => {
            let names: Vec<String> = svc
                .store
                .list::<Cluster>(&account)?
                .iter()
                .map(|c| c.name.clone())
                .collect();
            let start = next_token.as_deref().map_or(0, |t| {
                names
                    .iter()
                    .position(|n| n.as_str() >= t)
                    .unwrap_or(names.len())
            });
            let page: Vec<&String> = names.iter().skip(start).take(max_results).collect();
            let next = names.get(start + max_results);
            let mut v = json!({ "clusters": page });
            if let Some(n) = next {
                v["nextToken"] = json!(n);
            }
            v
        }
        EksRequest::DeleteCluster(name) => {
            let c = delete_cluster(svc, &account, &name).await?;
            let mut j = cluster_json(svc, &c);
            j["status"] = json!("DELETING");
            json!({ "cluster": j })
        }
        EksRequest::CreateAssociation { cluster, spec } => {
            json!({ "association": association::to_json(&association::create(svc, &account, &cluster, spec).await?) })
        }
        EksRequest::DescribeAssociation { cluster, id } => {
            json!({ "association": association::to_json(&association::describe(svc, &account, &cluster, &id)?) })
        }
        EksRequest::ListAssociations {
            cluster,
            namespace,
            service_account,
            max_results,
            next_token,
        } => {
            let (items, next) = association::list(
                svc,
                &account,
                &cluster,
                namespace.as_deref(),
                service_account.as_deref(),
                max_results,
                next_token.as_deref(),
            )?;
            let mut v = json!({ "associations": items.iter().map(association::to_summary_json).collect::<Vec<_>>() });
            if let Some(n) = next {
                v["nextToken"] = json!(n);
            }
            v
        }
        EksRequest::UpdateAssociation { cluster, id, spec } => {
            json!({ "association": association::to_json(&association::update(svc, &account, &cluster, &id, spec).await?) })
        }
        EksRequest::DeleteAssociation { cluster, id } => {
            json!({ "association": association::to_json(&association::delete(svc, &account, &cluster, &id).await?) })
        }
        EksRequest::CreateServiceAccount {
            cluster,
            namespace,
            name,
            annotations,
        } => serviceaccount::to_json(
            &serviceaccount::create(svc, &account, &cluster, &namespace, &name, annotations)
                .await?,
        ),
        EksRequest::ListServiceAccounts { cluster, namespace } => {
            let items = serviceaccount::list(svc, &account, &cluster, namespace.as_deref())?;
            json!({"apiVersion": "v1", "kind": "ServiceAccountList", "items": items.iter().map(serviceaccount::to_json).collect::<Vec<_>>()})
        }
        EksRequest::GetServiceAccount {
            cluster,
            namespace,
            name,
        } => {
            let sa = serviceaccount::get(svc, &account, &cluster, &namespace, &name)?.ok_or_else(|| {
                EksError::ResourceNotFound(format!("serviceaccounts \"{name}\" not found in namespace {namespace} of cluster {cluster}"))
            })?;
            serviceaccount::to_json(&sa)
        }
        EksRequest::AnnotateServiceAccount {
            cluster,
            namespace,
            name,
            set,
            remove,
        } => serviceaccount::to_json(
            &serviceaccount::annotate(svc, &account, &cluster, &namespace, &name, set, remove)
                .await?,
        ),
        EksRequest::DeleteServiceAccount {
            cluster,
            namespace,
            name,
        } => serviceaccount::to_json(
            &serviceaccount::delete(svc, &account, &cluster, &namespace, &name).await?,
        ),
        EksRequest::MintToken { cluster, spec } => {
            let token = mint_token(svc, &account, &cluster, &spec).await?;
            json!({ "token": token })
        }
        EksRequest::RotateKeys { cluster, spec } => {
            let c = crate::keys::rotate(svc, &account, &cluster, &spec).await?;
            crate::keys::describe(&c, svc.now())
        }
        EksRequest::ListKeys { cluster } => {
            let c = svc
                .store
                .get::<Cluster>(&account, &cluster)?
                .ok_or_else(|| not_found(&cluster))?;
            crate::keys::describe(&c, svc.now())
        }
    };
    Ok((200, body.to_string()))
}
