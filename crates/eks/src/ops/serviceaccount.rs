//! Local service accounts: the objects a real cluster would hold, with the
//! same annotations, so `podiam run` and the webhook see what a pod would.

use crate::cluster::not_found;
use crate::error::EksError;
use podiam_auth::Services;
use podiam_oidc::object_uid;
use podiam_store::{Cluster, Entity, Op, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A service account of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccount {
    /// Cluster name.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The uid tokens carry (stable per cluster, namespace and name).
    pub uid: String,
    /// Annotations (`eks.amazonaws.com/role-arn`, …).
    pub annotations: BTreeMap<String, String>,
    /// Epoch seconds.
    pub created_at: i64,
}

impl Entity for ServiceAccount {
    const KIND: &'static str = "service-account";
}

fn key(cluster: &str, ns: &str, name: &str) -> String {
    format!("{cluster}/{ns}/{name}")
}

/// The deletions of every service account of `cluster`, for the write that
/// deletes the cluster.
pub(crate) fn cluster_deletions(
    svc: &Services,
    account: &str,
    cluster: &str,
) -> Result<Vec<Op>, EksError> {
    Ok(svc
        .store
        .list::<ServiceAccount>(account)?
        .into_iter()
        .filter(|sa| sa.cluster == cluster)
        .map(|sa| {
            Op::delete::<ServiceAccount>(
                account,
                &key(cluster, &sa.namespace, &sa.name),
                sa.version,
            )
        })
        .collect())
}

fn check_name(field: &str, v: &str) -> Result<(), EksError> {
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(EksError::InvalidParameter(format!(
            "{field} {v:?} is not a valid Kubernetes name"
        )))
    }
}

/// Creates a service account.
pub async fn create(
    svc: &Services,
    account: &str,
    cluster: &str,
    namespace: &str,
    name: &str,
    annotations: BTreeMap<String, String>,
) -> Result<ServiceAccount, EksError> {
    let c = svc
        .store
        .get::<Cluster>(account, cluster)?
        .ok_or_else(|| not_found(cluster))?;
    check_name("namespace", namespace)?;
    check_name("name", name)?;
    let sa = ServiceAccount {
        cluster: cluster.into(),
        namespace: namespace.into(),
        name: name.into(),
        uid: object_uid(c.uid_seed.as_bytes(), "ServiceAccount", namespace, name),
        annotations,
        created_at: svc.now(),
    };
    svc.store
        .write(vec![Op::create(account, &key(cluster, namespace, name), &sa)])
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists { .. } => EksError::ResourceInUse(format!(
                "serviceaccounts \"{name}\" already exists in namespace {namespace} of cluster {cluster}"
            )),
            e => e.into(),
        })?;
    Ok(sa)
}

fn missing(cluster: &str, ns: &str, name: &str) -> EksError {
    EksError::ResourceNotFound(format!(
        "serviceaccounts \"{name}\" not found in namespace {ns} of cluster {cluster}"
    ))
}

/// A service account, if it exists.
pub fn get(
    svc: &Services,
    account: &str,
    cluster: &str,
    ns: &str,
    name: &str,
) -> Result<Option<ServiceAccount>, EksError> {
    Ok(svc
        .store
        .get::<ServiceAccount>(account, &key(cluster, ns, name))?
        .map(|v| (*v.value).clone()))
}

/// The service accounts of a cluster, optionally of one namespace.
pub fn list(
    svc: &Services,
    account: &str,
    cluster: &str,
    ns: Option<&str>,
) -> Result<Vec<ServiceAccount>, EksError> {
    svc.store
        .get::<Cluster>(account, cluster)?
        .ok_or_else(|| not_found(cluster))?;
    Ok(svc
        .store
        .list::<ServiceAccount>(account)?
        .into_iter()
        .filter(|s| s.cluster == cluster && ns.is_none_or(|n| s.namespace == n))
        .map(|s| (*s.value).clone())
        .collect())
}

/// Sets and removes annotations.
pub async fn annotate(
    svc: &Services,
    account: &str,
    cluster: &str,
    ns: &str,
    name: &str,
    set: BTreeMap<String, String>,
    remove: Vec<String>,
) -> Result<ServiceAccount, EksError> {
    svc.store
        .modify(
            account,
            &key(cluster, ns, name),
            |cur: Option<&ServiceAccount>| {
                let mut sa = cur.ok_or_else(|| missing(cluster, ns, name))?.clone();
                for k in &remove {
                    sa.annotations.remove(k);
                }
                sa.annotations.extend(set.clone());
                Ok((Some(sa.clone()), sa))
            },
        )
        .await
}

/// Deletes a service account.
pub async fn delete(
    svc: &Services,
    account: &str,
    cluster: &str,
    ns: &str,
    name: &str,
) -> Result<ServiceAccount, EksError> {
    let cur = svc
        .store
        .get::<ServiceAccount>(account, &key(cluster, ns, name))?
        .ok_or_else(|| missing(cluster, ns, name))?;
    svc.store
        .write(vec![Op::delete::<ServiceAccount>(
            account,
            &key(cluster, ns, name),
            cur.version,
        )])
        .await?;
    Ok((*cur.value).clone())
}

/// The Kubernetes object form (`v1/ServiceAccount`).
pub fn to_json(sa: &ServiceAccount) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": sa.name,
            "namespace": sa.namespace,
            "uid": sa.uid,
            "annotations": sa.annotations,
            "creationTimestamp": podiam_core::timefmt::iso8601(sa.created_at),
        },
    })
}
