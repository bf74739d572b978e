//! Handling authorized EKS requests: clusters, Pod Identity associations,
//! service accounts and signing keys, one module per family.

pub mod association;
pub(crate) mod cluster;
pub mod keys;
pub mod serviceaccount;

use crate::action::EksRequest;
use crate::authz::denied;
use crate::error::EksError;
use cluster::{create_cluster, delete_cluster, mint_token, not_found};
use podiam_auth::{Caller, RequestMeta, Services, Subject};
use podiam_store::Cluster;
use serde_json::{Value, json};
use std::collections::BTreeMap;

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
    let authorizer = svc.authorizer(Subject::Caller(caller), meta);
    for check in req.checks_in(svc, caller.account())? {
        authorizer
            .decide(&check)
            .map_err(|_| denied(caller, &check))?;
    }
    execute(svc, caller.account(), req).await
}

/// A cluster, or an association of one: what a request acts on.
pub(crate) enum Tagged<'a> {
    Cluster(&'a str),
    Association { cluster: &'a str, id: &'a str },
}

/// What a tagging call's ARN names, in `region` and `account`.
pub(crate) fn tagged<'a>(region: &str, account: &str, arn: &'a str) -> Option<Tagged<'a>> {
    let prefix = format!("arn:aws:eks:{region}:{account}:");
    let parts: Vec<&str> = arn.strip_prefix(&prefix)?.split('/').collect();
    match parts.as_slice() {
        ["cluster", name] => Some(Tagged::Cluster(name)),
        ["podidentityassociation", cluster, id] => Some(Tagged::Association { cluster, id }),
        _ => None,
    }
}

fn tagged_in<'a>(svc: &Services, account: &str, arn: &'a str) -> Result<Tagged<'a>, EksError> {
    tagged(&svc.config.region, account, arn).ok_or_else(|| tagged_not_found(arn))
}

fn tagged_not_found(arn: &str) -> EksError {
    EksError::NotFound(format!("Resource {arn} not found."))
}

/// The tags of a cluster or association; `None` when it does not exist.
pub(crate) fn tags_of_target(
    svc: &Services,
    account: &str,
    target: &Tagged<'_>,
) -> Result<Option<BTreeMap<String, String>>, EksError> {
    match *target {
        Tagged::Cluster(name) => Ok(svc
            .store
            .get::<Cluster>(account, name)?
            .map(|c| c.tags.clone())),
        Tagged::Association { cluster, id } => association::tags_of(svc, account, cluster, id),
    }
}

pub(crate) fn check_tag_count(tags: &BTreeMap<String, String>) -> Result<(), EksError> {
    if tags.len() > 50 {
        return Err(EksError::BadRequest(
            "A resource can have at most 50 tags.".into(),
        ));
    }
    Ok(())
}

/// The tags of the cluster or association `arn` names.
fn tags_of(svc: &Services, account: &str, arn: &str) -> Result<BTreeMap<String, String>, EksError> {
    tags_of_target(svc, account, &tagged_in(svc, account, arn)?)?
        .ok_or_else(|| tagged_not_found(arn))
}

/// Applies `f` to the tags of the cluster or association `arn` names.
async fn retag(
    svc: &Services,
    account: &str,
    arn: &str,
    f: impl Fn(&mut BTreeMap<String, String>),
) -> Result<(), EksError> {
    let found = match tagged_in(svc, account, arn)? {
        Tagged::Cluster(name) => {
            svc.store
                .modify(account, name, |cur: Option<&Cluster>| {
                    let Some(cur) = cur else {
                        return Ok::<_, EksError>((None, false));
                    };
                    let mut c = cur.clone();
                    f(&mut c.tags);
                    check_tag_count(&c.tags)?;
                    Ok((Some(c), true))
                })
                .await?
        }
        Tagged::Association { cluster, id } => {
            association::retag(svc, account, cluster, id, f).await?
        }
    };
    if !found {
        return Err(tagged_not_found(arn));
    }
    Ok(())
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
        EksRequest::TagResource { arn, tags } => {
            retag(svc, &account, &arn, |t| t.extend(tags.clone())).await?;
            json!({})
        }
        EksRequest::UntagResource { arn, keys } => {
            retag(svc, &account, &arn, |t| t.retain(|k, _| !keys.contains(k))).await?;
            json!({})
        }
        EksRequest::ListTagsForResource { arn } => {
            json!({ "tags": tags_of(svc, &account, &arn)? })
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
            let c = keys::rotate(svc, &account, &cluster, &spec).await?;
            keys::describe(&c, svc.now())
        }
        EksRequest::ListKeys { cluster } => {
            let c = svc
                .store
                .get::<Cluster>(&account, &cluster)?
                .ok_or_else(|| not_found(&cluster))?;
            keys::describe(&c, svc.now())
        }
    };
    Ok((200, body.to_string()))
}
