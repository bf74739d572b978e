//! EKS Pod Identity associations: (cluster, namespace, service account) → role.

use crate::cluster::not_found;
use crate::error::EksError;
use podiam_auth::Services;
use podiam_core::ids::association_id;
use podiam_store::{Cluster, Entity, Op, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A Pod Identity association.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Association {
    /// Cluster name.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Service account.
    pub service_account: String,
    /// The role EKS assumes for the pod.
    pub role_arn: String,
    /// `arn:aws:eks:REGION:ACCT:podidentityassociation/CLUSTER/ID`.
    pub arn: String,
    /// `a-` + 17 lowercase alphanumerics.
    pub id: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds.
    pub modified_at: i64,
    /// Whether the six session tags are left off.
    pub disable_session_tags: bool,
    /// A role to chain into from `role_arn` (capped at one hour).
    pub target_role_arn: Option<String>,
    /// The external id EKS passes when assuming `target_role_arn`.
    pub external_id: Option<String>,
    /// An inline session policy (requires `disable_session_tags`).
    pub policy: Option<String>,
    /// The idempotency token of the create call.
    pub client_request_token: Option<String>,
}

impl Entity for Association {
    const KIND: &'static str = "pod-identity-association";
}

/// The uniqueness record of (cluster, namespace, service account): created
/// in the same atomic write as the association, so the database enforces
/// one association per service account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssociationBinding {
    /// The association id.
    pub id: String,
}

impl Entity for AssociationBinding {
    const KIND: &'static str = "pod-identity-binding";
}

fn key(cluster: &str, id: &str) -> String {
    format!("{cluster}/{id}")
}

fn binding_key(cluster: &str, ns: &str, sa: &str) -> String {
    format!("{cluster}/{ns}/{sa}")
}

/// The parameters of Create/UpdatePodIdentityAssociation.
#[derive(Debug, Clone, Default)]
pub struct AssociationSpec {
    /// Namespace (create only).
    pub namespace: Option<String>,
    /// Service account (create only).
    pub service_account: Option<String>,
    /// Role ARN.
    pub role_arn: Option<String>,
    /// Idempotency token.
    pub client_request_token: Option<String>,
    /// Tags (create only).
    pub tags: BTreeMap<String, String>,
    /// `disableSessionTags`.
    pub disable_session_tags: Option<bool>,
    /// `targetRoleArn` (empty string clears it on update).
    pub target_role_arn: Option<String>,
    /// `policy` (empty string clears it on update).
    pub policy: Option<String>,
}

fn check_role_arn(field: &str, arn: &str) -> Result<(), EksError> {
    if podiam_core::arn::parse_iam_path_arn(arn, "role").is_none() {
        return Err(EksError::InvalidParameter(format!(
            "{field} {arn:?} is not a valid IAM role ARN."
        )));
    }
    Ok(())
}

fn check_policy(a: &Association) -> Result<(), EksError> {
    if let Some(p) = &a.policy {
        if !a.disable_session_tags {
            return Err(EksError::InvalidParameter(
                "A session policy can only be used when disableSessionTags is set to true.".into(),
            ));
        }
        podiam_policy::Policy::parse(p, podiam_policy::PolicyKind::Session)
            .map_err(|e| EksError::InvalidParameter(format!("The policy is invalid: {e}")))?;
    }
    Ok(())
}

fn check_name(field: &str, v: &str) -> Result<(), EksError> {
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !ok {
        return Err(EksError::InvalidParameter(format!(
            "{field} {v:?} is not a valid Kubernetes name."
        )));
    }
    Ok(())
}

/// Creates an association (idempotent on `clientRequestToken`).
pub async fn create(
    svc: &Services,
    account: &str,
    cluster: &str,
    spec: AssociationSpec,
) -> Result<Association, EksError> {
    let c = svc
        .store
        .get::<Cluster>(account, cluster)?
        .ok_or_else(|| not_found(cluster))?;
    let namespace = spec
        .namespace
        .ok_or_else(|| EksError::InvalidParameter("namespace is required.".into()))?;
    let service_account = spec
        .service_account
        .ok_or_else(|| EksError::InvalidParameter("serviceAccount is required.".into()))?;
    let role_arn = spec
        .role_arn
        .ok_or_else(|| EksError::InvalidParameter("roleArn is required.".into()))?;
    check_name("namespace", &namespace)?;
    check_name("serviceAccount", &service_account)?;
    check_role_arn("roleArn", &role_arn)?;
    if let Some(t) = spec.target_role_arn.as_deref() {
        check_role_arn("targetRoleArn", t)?;
    }
    if spec.tags.len() > 50 {
        return Err(EksError::InvalidParameter(
            "An association can have at most 50 tags.".into(),
        ));
    }
    let bkey = binding_key(cluster, &namespace, &service_account);
    if let Some(existing) = svc.store.get::<AssociationBinding>(account, &bkey)? {
        let a = svc
            .store
            .get::<Association>(account, &key(cluster, &existing.id))?;
        if let Some(a) = a
            && spec.client_request_token.is_some()
            && a.client_request_token == spec.client_request_token
        {
            return Ok((*a.value).clone());
        }
        return Err(in_use(&existing.id));
    }
    check_role_exists(svc, account, &role_arn)?;
    let now = svc.now();
    let id = association_id(svc.rng.as_ref());
    let external_id = spec
        .target_role_arn
        .as_ref()
        .map(|_| external_id(svc, account, cluster, &namespace, &service_account));
    let a = Association {
        arn: format!(
            "arn:aws:eks:{}:{account}:podidentityassociation/{cluster}/{id}",
            svc.config.region
        ),
        cluster: c.name.clone(),
        namespace,
        service_account,
        role_arn,
        id: id.clone(),
        tags: spec.tags,
        created_at: now,
        modified_at: now,
        disable_session_tags: spec.disable_session_tags.unwrap_or(false),
        target_role_arn: spec.target_role_arn.filter(|t| !t.is_empty()),
        external_id,
        policy: spec.policy.filter(|p| !p.is_empty()),
        client_request_token: spec.client_request_token,
    };
    check_policy(&a)?;
    svc.store
        .write(vec![
            Op::create(account, &bkey, &AssociationBinding { id: id.clone() }),
            Op::create(account, &key(cluster, &id), &a),
        ])
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists { .. } => {
                match svc.store.get::<AssociationBinding>(account, &bkey) {
                    Ok(Some(b)) => in_use(&b.id),
                    _ => in_use(&a.id),
                }
            }
            e => e.into(),
        })?;
    Ok(a)
}

fn in_use(id: &str) -> EksError {
    EksError::ResourceInUse(format!("Association already exists: {id}"))
}

/// The `sts:ExternalId` EKS passes when assuming a target role: "region/
/// account/cluster/namespace/service account" (EKS User Guide, "Access AWS
/// resources using EKS Pod Identity Target IAM Roles").
fn external_id(svc: &Services, account: &str, cluster: &str, ns: &str, sa: &str) -> String {
    format!("{}/{account}/{cluster}/{ns}/{sa}", svc.config.region)
}

/// The role must exist in the cluster's account: AWS answers
/// "Role provided in the request does not exist" otherwise.
fn check_role_exists(svc: &Services, account: &str, arn: &str) -> Result<(), EksError> {
    let found = podiam_core::arn::parse_iam_path_arn(arn, "role")
        .filter(|r| r.account == account)
        .map(|r| svc.role_by_name(account, &r.name))
        .transpose()?
        .flatten()
        .is_some_and(|r| r.arn == arn);
    if !found {
        return Err(EksError::InvalidParameter(
            "Role provided in the request does not exist".into(),
        ));
    }
    Ok(())
}

fn assoc_not_found(id: &str) -> EksError {
    EksError::ResourceNotFound(format!("No Pod Identity Association found for id: {id}"))
}

/// The association `id` of `cluster`.
pub fn describe(
    svc: &Services,
    account: &str,
    cluster: &str,
    id: &str,
) -> Result<Association, EksError> {
    svc.store
        .get::<Cluster>(account, cluster)?
        .ok_or_else(|| not_found(cluster))?;
    let a = svc
        .store
        .get::<Association>(account, &key(cluster, id))?
        .ok_or_else(|| assoc_not_found(id))?;
    Ok((*a.value).clone())
}

/// The association for a service account, if any (used by eks-auth and the webhook).
pub fn find(
    svc: &Services,
    account: &str,
    cluster: &str,
    ns: &str,
    sa: &str,
) -> Result<Option<Association>, EksError> {
    let Some(b) = svc
        .store
        .get::<AssociationBinding>(account, &binding_key(cluster, ns, sa))?
    else {
        return Ok(None);
    };
    Ok(svc
        .store
        .get::<Association>(account, &key(cluster, &b.id))?
        .map(|a| (*a.value).clone()))
}

/// The deletions of every association of `cluster` and of their bindings,
/// for the write that deletes the cluster: a cluster made again with the
/// same name starts with none.
pub(crate) fn cluster_deletions(
    svc: &Services,
    account: &str,
    cluster: &str,
) -> Result<Vec<Op>, EksError> {
    let mut ops = Vec::new();
    for a in svc.store.list::<Association>(account)? {
        if a.cluster != cluster {
            continue;
        }
        ops.push(Op::delete::<Association>(
            account,
            &key(cluster, &a.id),
            a.version,
        ));
        let bkey = binding_key(cluster, &a.namespace, &a.service_account);
        if let Some(b) = svc
            .store
            .get::<AssociationBinding>(account, &bkey)?
            .filter(|b| b.id == a.id)
        {
            ops.push(Op::delete::<AssociationBinding>(account, &bkey, b.version));
        }
    }
    Ok(ops)
}

/// The tags of association `id` of `cluster`, if there is one.
pub(crate) fn tags_of(
    svc: &Services,
    account: &str,
    cluster: &str,
    id: &str,
) -> Result<Option<BTreeMap<String, String>>, EksError> {
    Ok(svc
        .store
        .get::<Association>(account, &key(cluster, id))?
        .map(|a| a.tags.clone()))
}

/// Applies `f` to the tags of association `id` of `cluster`; `false` when
/// there is no such association.
pub(crate) async fn retag(
    svc: &Services,
    account: &str,
    cluster: &str,
    id: &str,
    f: impl Fn(&mut BTreeMap<String, String>),
) -> Result<bool, EksError> {
    svc.store
        .modify(account, &key(cluster, id), |cur: Option<&Association>| {
            let Some(cur) = cur else {
                return Ok::<_, EksError>((None, false));
            };
            let mut a = cur.clone();
            f(&mut a.tags);
            super::check_tag_count(&a.tags)?;
            Ok((Some(a), true))
        })
        .await
}

/// Lists associations, filtered and paged (`nextToken` is the next id).
pub fn list(
    svc: &Services,
    account: &str,
    cluster: &str,
    namespace: Option<&str>,
    service_account: Option<&str>,
    max_results: usize,
    next_token: Option<&str>,
) -> Result<(Vec<Association>, Option<String>), EksError> {
    svc.store
        .get::<Cluster>(account, cluster)?
        .ok_or_else(|| not_found(cluster))?;
    let prefix = format!("{cluster}/");
    let mut all: Vec<Association> = svc
        .store
        .list::<Association>(account)?
        .into_iter()
        .filter(|a| a.cluster == cluster)
        .filter(|a| namespace.is_none_or(|n| a.namespace == n))
        .filter(|a| service_account.is_none_or(|s| a.service_account == s))
        .map(|a| (*a.value).clone())
        .collect();
    debug_assert!(
        all.iter()
            .all(|a| key(&a.cluster, &a.id).starts_with(&prefix))
    );
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let start = next_token.map_or(0, |t| {
        all.iter()
            .position(|a| a.id.as_str() >= t)
            .unwrap_or(all.len())
    });
    let rest: Vec<Association> = all.into_iter().skip(start).collect();
    let next = rest.get(max_results).map(|a| a.id.clone());
    Ok((rest.into_iter().take(max_results).collect(), next))
}

/// Updates the role, target role, session tags switch or policy.
pub async fn update(
    svc: &Services,
    account: &str,
    cluster: &str,
    id: &str,
    spec: AssociationSpec,
) -> Result<Association, EksError> {
    svc.store
        .modify(account, &key(cluster, id), |cur: Option<&Association>| {
            svc.store
                .get::<Cluster>(account, cluster)?
                .ok_or_else(|| not_found(cluster))?;
            let mut a = cur.ok_or_else(|| assoc_not_found(id))?.clone();
            if let Some(r) = &spec.role_arn {
                check_role_arn("roleArn", r)?;
                check_role_exists(svc, account, r)?;
                a.role_arn = r.clone();
            }
            if let Some(d) = spec.disable_session_tags {
                a.disable_session_tags = d;
            }
            if let Some(t) = &spec.target_role_arn {
                if t.is_empty() {
                    a.target_role_arn = None;
                    a.external_id = None;
                } else {
                    check_role_arn("targetRoleArn", t)?;
                    a.external_id = Some(external_id(
                        svc,
                        account,
                        cluster,
                        &a.namespace,
                        &a.service_account,
                    ));
                    a.target_role_arn = Some(t.clone());
                }
            }
            if let Some(p) = &spec.policy {
                a.policy = (!p.is_empty()).then(|| p.clone());
            }
            check_policy(&a)?;
            a.modified_at = svc.now();
            Ok((Some(a.clone()), a))
        })
        .await
}

/// Deletes an association.
pub async fn delete(
    svc: &Services,
    account: &str,
    cluster: &str,
    id: &str,
) -> Result<Association, EksError> {
    svc.store
        .get::<Cluster>(account, cluster)?
        .ok_or_else(|| not_found(cluster))?;
    let cur = svc
        .store
        .get::<Association>(account, &key(cluster, id))?
        .ok_or_else(|| assoc_not_found(id))?;
    let bkey = binding_key(cluster, &cur.namespace, &cur.service_account);
    let binding = svc.store.get::<AssociationBinding>(account, &bkey)?;
    let mut ops = vec![Op::delete::<Association>(
        account,
        &key(cluster, id),
        cur.version,
    )];
    if let Some(b) = binding.filter(|b| b.id == id) {
        ops.push(Op::delete::<AssociationBinding>(account, &bkey, b.version));
    }
    svc.store.write(ops).await?;
    Ok((*cur.value).clone())
}

/// The full JSON form (`association` member of responses).
pub fn to_json(a: &Association) -> Value {
    let mut v = json!({
        "clusterName": a.cluster,
        "namespace": a.namespace,
        "serviceAccount": a.service_account,
        "roleArn": a.role_arn,
        "associationArn": a.arn,
        "associationId": a.id,
        "tags": a.tags,
        "createdAt": a.created_at as f64,
        "modifiedAt": a.modified_at as f64,
        "disableSessionTags": a.disable_session_tags,
    });
    if let Some(t) = &a.target_role_arn {
        v["targetRoleArn"] = json!(t);
    }
    if let Some(x) = &a.external_id {
        v["externalId"] = json!(x);
    }
    if let Some(p) = &a.policy {
        v["policy"] = json!(p);
    }
    v
}

/// The summary JSON form (members of `associations` in List).
pub fn to_summary_json(a: &Association) -> Value {
    json!({
        "clusterName": a.cluster,
        "namespace": a.namespace,
        "serviceAccount": a.service_account,
        "associationArn": a.arn,
        "associationId": a.id,
    })
}
