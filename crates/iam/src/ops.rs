//! IAM operation handlers.

use crate::action::{IamRequest, Page, Tagged};
use crate::error::IamError;
use crate::render;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use podiam_auth::Services;
use podiam_auth::aws_managed;
use podiam_core::arn::{iam_arn, issuer_host_path, oidc_provider_arn, parse_iam_path_arn};
use podiam_core::ids::{IdKind, unique_id};
use podiam_core::xml::XmlWriter;
use podiam_policy::{Policy, PolicyKind};
use podiam_store::{
    InstanceProfile, ManagedPolicy, OidcProvider, Op, PolicyVersion, Role, StoreError, Tag,
    Versioned,
};
use std::collections::BTreeMap;

/// Attempts at an optimistic write before giving up with ConcurrentModification.
const MAX_TRIES: usize = 8;
/// IAM quotas (IAM User Guide, "IAM and AWS STS quotas").
const MAX_OIDC_PROVIDERS: usize = 100;
const MAX_CLIENT_IDS: usize = 100;
const MAX_THUMBPRINTS: usize = 5;
const MAX_MANAGED_PER_ROLE: usize = 10;
const MAX_INLINE_ROLE_CHARS: usize = 10240;
const MAX_POLICY_VERSIONS: usize = 5;
const MAX_TAGS: usize = 50;

pub(crate) struct Iam<'a> {
    pub svc: &'a Services,
    pub account: String,
}

type Out = Result<Option<String>, IamError>;

fn xml(f: impl FnOnce(&mut XmlWriter)) -> Option<String> {
    let mut w = XmlWriter::new();
    f(&mut w);
    Some(w.finish())
}

/// Validates a policy document with AWS's grammar and quota for `kind`.
/// A document over its size quota is `LimitExceeded` (409), as IAM reports
/// it; every other problem is `MalformedPolicyDocument`. `limit: None` skips
/// the per-document quota (inline role policies are limited in aggregate).
fn validate(doc: &str, kind: PolicyKind, limit: Option<usize>) -> Result<Policy, IamError> {
    Policy::parse_with_limit(doc, kind, limit).map_err(|e| match e.kind() {
        podiam_policy::PolicyErrorKind::PolicySize { .. } => IamError::LimitExceeded(e.to_string()),
        _ => IamError::MalformedPolicyDocument(e.to_string()),
    })
}

/// Characters that count toward IAM's size quotas (whitespace excluded).
fn policy_chars(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

fn role_not_found(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

fn policy_not_found(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} was not found."))
}

fn profile_not_found(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("Instance Profile {name} cannot be found."))
}

fn oidc_not_found(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("OpenIDConnect Provider not found for arn {arn}"))
}

/// Case-insensitive uniqueness: IAM names are keyed lowercased.
fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn merge_tags(existing: &[Tag], new: &[Tag], kind: &str) -> Result<Vec<Tag>, IamError> {
    let mut out = existing.to_vec();
    for t in new {
        match out.iter_mut().find(|e| e.key.eq_ignore_ascii_case(&t.key)) {
            Some(e) => e.value = t.value.clone(),
            None => out.push(t.clone()),
        }
    }
    if out.len() > MAX_TAGS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for TagsPer{kind}: {MAX_TAGS}"
        )));
    }
    Ok(out)
}

fn check_duplicate_tag_keys(tags: &[Tag]) -> Result<(), IamError> {
    for (i, t) in tags.iter().enumerate() {
        if tags[..i].iter().any(|o| o.key.eq_ignore_ascii_case(&t.key)) {
            return Err(IamError::InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
    }
    Ok(())
}

/// Pages `items` (already in key order) by the marker, which is the
/// base64url of the first key of the next page.
fn paginate<T>(items: Vec<(String, T)>, page: &Page) -> (Vec<T>, Option<String>) {
    let start = match &page.marker {
        Some(m) => {
            let k = URL_SAFE_NO_PAD
                .decode(m)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            items
                .iter()
                .position(|(ik, _)| *ik >= k)
                .unwrap_or(items.len())
        }
        None => 0,
    };
    let mut rest: Vec<(String, T)> = items.into_iter().skip(start).collect();
    let marker = (rest.len() > page.max_items)
        .then(|| URL_SAFE_NO_PAD.encode(rest[page.max_items].0.as_bytes()));
    rest.truncate(page.max_items);
    (rest.into_iter().map(|(_, v)| v).collect(), marker)
}

fn truncation(w: &mut XmlWriter, marker: Option<String>) {
    w.elem(
        "IsTruncated",
        if marker.is_some() { "true" } else { "false" },
    );
    w.opt("Marker", marker.as_deref());
}

impl Iam<'_> {
    fn now(&self) -> i64 {
        self.svc.now()
    }

    /// Commits `ops`; `Ok(false)` asks the caller to re-read and retry.
    async fn commit(&self, ops: Vec<Op>, tries: &mut usize) -> Result<bool, IamError> {
        match self.svc.store.write(ops).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict { .. }) if *tries + 1 < MAX_TRIES => {
                *tries += 1;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn role(&self, name: &str) -> Result<Versioned<Role>, IamError> {
        self.svc
            .store
            .get::<Role>(&self.account, &key(name))?
            .ok_or_else(|| role_not_found(name))
    }

    fn profile(&self, name: &str) -> Result<Versioned<InstanceProfile>, IamError> {
        self.svc
            .store
            .get::<InstanceProfile>(&self.account, &key(name))?
            .ok_or_else(|| profile_not_found(name))
    }

    fn oidc_key<'b>(&self, arn: &'b str) -> Result<&'b str, IamError> {
        let prefix = format!("arn:aws:iam::{}:oidc-provider/", self.account);
        match arn.strip_prefix(&prefix) {
            Some(k) if !k.is_empty() => Ok(k),
            _ if arn.starts_with("arn:") => Err(oidc_not_found(arn)),
            _ => Err(IamError::InvalidInput(format!("Invalid ARN: {arn}"))),
        }
    }

    fn oidc(&self, arn: &str) -> Result<Versioned<OidcProvider>, IamError> {
        let k = self.oidc_key(arn)?;
        self.svc
            .store
            .get::<OidcProvider>(&self.account, k)?
            .ok_or_else(|| oidc_not_found(arn))
    }

    /// A managed policy by ARN: a customer policy of this account, or an
    /// AWS managed policy (`arn:aws:iam::aws:policy/…`). `None` for AWS ones.
    fn managed(&self, arn: &str) -> Result<(Option<i64>, std::sync::Arc<ManagedPolicy>), IamError> {
        if let Some(name) = arn.strip_prefix("arn:aws:iam::aws:policy/") {
            let name = name.rsplit('/').next().unwrap_or(name);
            return aws_managed::get(name)
                .filter(|p| p.arn == arn)
                .map(|p| (None, std::sync::Arc::new(p)))
                .ok_or_else(|| policy_not_found(arn));
        }
        let Some(parsed) = parse_iam_path_arn(arn, "policy") else {
            return Err(IamError::InvalidInput(format!("ARN {arn} is not valid.")));
        };
        if parsed.account != self.account {
            return Err(policy_not_found(arn));
        }
        let p = self
            .svc
            .store
            .get::<ManagedPolicy>(&self.account, &key(&parsed.name))?
            .filter(|p| p.arn == arn)
            .ok_or_else(|| policy_not_found(arn))?;
        Ok((Some(p.version), p.value.clone()))
    }

    fn attachment_counts(&self, arn: &str) -> Result<(usize, usize), IamError> {
        let roles = self.svc.store.list::<Role>(&self.account)?;
        let attached = roles
            .iter()
            .filter(|r| r.attached_policies.iter().any(|a| a == arn))
            .count();
        let boundary = roles
            .iter()
            .filter(|r| r.permissions_boundary.as_deref() == Some(arn))
            .count();
        Ok((attached, boundary))
    }

    /// Trust policies may only name roles of this account that exist
    /// (AWS resolves principal ARNs to unique ids when a policy is saved).
    fn check_trust_principals(&self, doc: &str) -> Result<(), IamError> {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) else {
            return Ok(());
        };
        let statements = match &v["Statement"] {
            serde_json::Value::Array(a) => a.clone(),
            s @ serde_json::Value::Object(_) => vec![s.clone()],
            _ => vec![],
        };
        for s in statements {
            let aws = &s["Principal"]["AWS"];
            let arns: Vec<&str> = match aws {
                serde_json::Value::String(a) => vec![a.as_str()],
                serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
                _ => vec![],
            };
            for a in arns {
                if let Some(r) = parse_iam_path_arn(a, "role")
                    && r.account == self.account
                    && self
                        .svc
                        .store
                        .get::<Role>(&self.account, &key(&r.name))?
                        .is_none_or(|role| role.arn != a)
                {
                    return Err(IamError::MalformedPolicyDocument(format!(
                        "Invalid principal in policy: \"AWS\":\"{a}\""
                    )));
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn run(
        &self,
        action: &str,
        req: IamRequest,
        request_id: &str,
    ) -> Result<String, IamError> {
        let result = self.dispatch(req).await?;
        let mut w = XmlWriter::new();
        let resp = format!("{action}Response");
        w.start_ns(&resp, crate::NAMESPACE);
        let mut body = w.finish();
        if let Some(inner) = result {
            body.push_str(&format!("<{action}Result>{inner}</{action}Result>"));
        }
        body.push_str(&format!(
            "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{resp}>",
            podiam_core::xml::escape(request_id)
        ));
        Ok(body)
    }

    async fn dispatch(&self, req: IamRequest) -> Out {
        use IamRequest::*;
        match req {
            CreateOpenIdConnectProvider { url, client_ids, thumbprints, tags } => {
                self.create_oidc(url, client_ids, thumbprints, tags).await
            }
            GetOpenIdConnectProvider { arn } => {
                let p = self.oidc(&arn)?;
                Ok(xml(|w| render::oidc_provider(w, &p)))
            }
            ListOpenIdConnectProviders => {
                let list = self.svc.store.list::<OidcProvider>(&self.account)?;
                Ok(xml(|w| {
                    w.start("OpenIDConnectProviderList");
                    for p in &list {
                        w.start("member").elem("Arn", &p.arn).end("member");
                    }
                    w.end("OpenIDConnectProviderList");
                }))
            }
            DeleteOpenIdConnectProvider { arn } => {
                let mut tries = 0;
                loop {
                    let p = self.oidc(&arn)?;
                    let k = self.oidc_key(&arn)?;
                    if self.commit(vec![Op::delete::<OidcProvider>(&self.account, k, p.version)], &mut tries).await? {
                        return Ok(None);
                    }
                }
            }
            AddClientIdToOpenIdConnectProvider { arn, client_id } => {
                self.update_oidc(&arn, |p| {
                    if !p.client_ids.contains(&client_id) {
                        if p.client_ids.len() >= MAX_CLIENT_IDS {
                            return Err(IamError::LimitExceeded(format!("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}")));
                        }
                        p.client_ids.push(client_id.clone());
                    }
                    Ok(())
                })
                .await
            }
            RemoveClientIdFromOpenIdConnectProvider { arn, client_id } => {
                self.update_oidc(&arn, |p| {
                    p.client_ids.retain(|c| *c != client_id);
                    Ok(())
                })
                .await
            }
            UpdateOpenIdConnectProviderThumbprint { arn, thumbprints } => {
                check_thumbprints(&thumbprints)?;
                self.update_oidc(&arn, |p| {
                    p.thumbprints = thumbprints.clone();
                    Ok(())
                })
                .await
            }
            CreateRole { name, path, trust_policy, description, max_session_duration, permissions_boundary, tags } => {
                self.create_role(name, path, trust_policy, description, max_session_duration, permissions_boundary, tags)
                    .await
            }
            GetRole { name } => {
                let r = self.role(&name)?;
                Ok(xml(|w| {
                    w.start("Role");
                    render::role(w, &r, true);
                    w.end("Role");
                }))
            }
            ListRoles { path_prefix, page } => {
                let roles = self.svc.store.list::<Role>(&self.account)?;
                let items = roles
                    .into_iter()
                    .filter(|r| r.path.starts_with(&path_prefix))
                    .map(|r| (key(&r.name), r))
                    .collect();
                let (page_items, marker) = paginate(items, &page);
                Ok(xml(|w| {
                    w.start("Roles");
                    for r in &page_items {
                        w.start("member");
                        render::role(w, r, false);
                        w.end("member");
                    }
                    w.end("Roles");
                    truncation(w, marker);
                }))
            }
            DeleteRole { name } => self.delete_role(&name).await,
            UpdateAssumeRolePolicy { name, document } => {
                validate(&document, PolicyKind::Trust, Some(PolicyKind::Trust.default_max_chars()))?;
                self.check_trust_principals(&document)?;
                self.update_role(&name, |r| {
                    r.trust_policy = document.clone();
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            UpdateRole { name, description, max_session_duration } => {
                self.update_role(&name, |r| {
                    if let Some(d) = &description {
                        r.description = Some(d.clone());
                    }
                    if let Some(m) = max_session_duration {
                        r.max_session_duration = m;
                    }
                    Ok(())
                })
                .await?;
                Ok(Some(String::new()))
            }
            UpdateRoleDescription { name, description } => {
                let r = self
                    .update_role(&name, |r| {
                        r.description = Some(description.clone());
                        Ok(())
                    })
                    .await?;
                Ok(xml(|w| {
                    w.start("Role");
                    render::role(w, &r, true);
                    w.end("Role");
                }))
            }
            PutRolePermissionsBoundary { name, policy_arn } => {
                self.managed(&policy_arn)
                    .map_err(|_| IamError::NoSuchEntity(format!("Scope ARN: {policy_arn} does not exist or is not attachable.")))?;
                self.update_role(&name, |r| {
                    r.permissions_boundary = Some(policy_arn.clone());
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            DeleteRolePermissionsBoundary { name } => {
                self.update_role(&name, |r| {
                    r.permissions_boundary = None;
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            PutRolePolicy { role, name, document } => {
                validate(&document, PolicyKind::Identity, None)?;
                self.update_role(&role, |r| {
                    r.inline_policies.insert(name.clone(), document.clone());
                    let total: usize = r.inline_policies.values().map(|d| policy_chars(d)).sum();
                    if total > MAX_INLINE_ROLE_CHARS {
                        return Err(IamError::LimitExceeded(format!(
                            "Maximum policy size of {MAX_INLINE_ROLE_CHARS} bytes exceeded for role {}",
                            r.name
                        )));
                    }
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            GetRolePolicy { role, name } => {
                let r = self.role(&role)?;
                let doc = r.inline_policies.get(&name).ok_or_else(|| {
                    IamError::NoSuchEntity(format!("The role policy with name {name} cannot be found."))
                })?;
                Ok(xml(|w| {
                    w.elem("RoleName", &r.name)
                        .elem("PolicyName", &name)
                        .elem("PolicyDocument", &render::encode_document(doc));
                }))
            }
            ListRolePolicies { role, page } => {
                let r = self.role(&role)?;
                let items = r.inline_policies.keys().map(|k| (k.clone(), k.clone())).collect();
                let (names, marker) = paginate(items, &page);
                Ok(xml(|w| {
                    w.members("PolicyNames", &names);
                    truncation(w, marker);
                }))
            }
            DeleteRolePolicy { role, name } => {
                self.update_role(&role, |r| {
                    r.inline_policies.remove(&name).map(|_| ()).ok_or_else(|| {
                        IamError::NoSuchEntity(format!("The role policy with name {name} cannot be found."))
                    })
                })
                .await?;
                Ok(None)
            }
            CreatePolicy { name, path, document, description, tags } => {
                self.create_policy(name, path, document, description, tags).await
            }
            GetPolicy { arn } => {
                let (_, p) = self.managed(&arn)?;
                let (a, b) = self.attachment_counts(&arn)?;
                Ok(xml(|w| {
                    w.start("Policy");
                    render::policy(w, &p, a, b, true);
                    w.end("Policy");
                }))
            }
            ListPolicies { scope, only_attached, path_prefix, page } => {
                let mut all: Vec<ManagedPolicy> = Vec::new();
                if scope != "Local" {
                    all.extend(aws_managed::all());
                }
                if scope != "AWS" {
                    all.extend(self.svc.store.list::<ManagedPolicy>(&self.account)?.iter().map(|p| (*p.value).clone()));
                }
                let mut items = Vec::new();
                for p in all.into_iter().filter(|p| p.path.starts_with(&path_prefix)) {
                    let (a, b) = self.attachment_counts(&p.arn)?;
                    if only_attached && a + b == 0 {
                        continue;
                    }
                    items.push((format!("{}\u{0}{}", key(&p.name), p.arn), (p, a, b)));
                }
                items.sort_by(|x, y| x.0.cmp(&y.0));
                let (page_items, marker) = paginate(items, &page);
                Ok(xml(|w| {
                    w.start("Policies");
                    for (p, a, b) in &page_items {
                        w.start("member");
                        render::policy(w, p, *a, *b, false);
                        w.end("member");
                    }
                    w.end("Policies");
                    truncation(w, marker);
                }))
            }
            DeletePolicy { arn } => self.delete_policy(&arn).await,
            CreatePolicyVersion { arn, document, set_as_default } => {
                validate(&document, PolicyKind::Identity, Some(PolicyKind::Identity.default_max_chars()))?;
                let now = self.now();
                let (p, _) = self
                    .update_policy(&arn, |p| {
                        if p.versions.len() >= MAX_POLICY_VERSIONS {
                            return Err(IamError::LimitExceeded(format!("A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version.")));
                        }
                        let id = format!("v{}", p.next_version);
                        p.next_version += 1;
                        p.versions.push(PolicyVersion { id: id.clone(), document: document.clone(), created_at: now });
                        if set_as_default {
                            p.default_version = id;
                        }
                        p.updated_at = now;
                        Ok(())
                    })
                    .await?;
                let v = p.versions.last().cloned();
                Ok(xml(|w| {
                    if let Some(v) = &v {
                        w.start("PolicyVersion");
                        render::policy_version(w, v, v.id == p.default_version, false);
                        w.end("PolicyVersion");
                    }
                }))
            }
            GetPolicyVersion { arn, version } => {
                let (_, p) = self.managed(&arn)?;
                let v = p.versions.iter().find(|v| v.id == version).ok_or_else(|| {
                    IamError::NoSuchEntity(format!("Policy {arn} version {version} does not exist or is not attachable."))
                })?;
                Ok(xml(|w| {
                    w.start("PolicyVersion");
                    render::policy_version(w, v, v.id == p.default_version, true);
                    w.end("PolicyVersion");
                }))
            }
            ListPolicyVersions { arn, page } => {
                let (_, p) = self.managed(&arn)?;
                let mut versions = p.versions.clone();
                versions.reverse();
                let items = versions.into_iter().enumerate().map(|(i, v)| (format!("{i:08}"), v)).collect();
                let (page_items, marker) = paginate(items, &page);
                Ok(xml(|w| {
                    w.start("Versions");
                    for v in &page_items {
                        w.start("member");
                        render::policy_version(w, v, v.id == p.default_version, false);
                        w.end("member");
                    }
                    w.end("Versions");
                    truncation(w, marker);
                }))
            }
            DeletePolicyVersion { arn, version } => {
                self.update_policy(&arn, |p| {
                    if p.default_version == version {
                        return Err(IamError::DeleteConflict("Cannot delete the default version of a policy.".into()));
                    }
                    let before = p.versions.len();
                    p.versions.retain(|v| v.id != version);
                    if p.versions.len() == before {
                        return Err(IamError::NoSuchEntity(format!("Policy {arn} version {version} does not exist.")));
                    }
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            SetDefaultPolicyVersion { arn, version } => {
                let now = self.now();
                self.update_policy(&arn, |p| {
                    if !p.versions.iter().any(|v| v.id == version) {
                        return Err(IamError::NoSuchEntity(format!("Policy {arn} version {version} does not exist.")));
                    }
                    p.default_version = version.clone();
                    p.updated_at = now;
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            AttachRolePolicy { role, policy_arn } => {
                self.managed(&policy_arn).map_err(|e| match e {
                    IamError::NoSuchEntity(_) => {
                        IamError::NoSuchEntity(format!("Policy {policy_arn} does not exist or is not attachable."))
                    }
                    e => e,
                })?;
                self.update_role(&role, |r| {
                    if !r.attached_policies.contains(&policy_arn) {
                        if r.attached_policies.len() >= MAX_MANAGED_PER_ROLE {
                            return Err(IamError::LimitExceeded(format!("Cannot exceed quota for PoliciesPerRole: {MAX_MANAGED_PER_ROLE}")));
                        }
                        r.attached_policies.push(policy_arn.clone());
                    }
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            DetachRolePolicy { role, policy_arn } => {
                self.update_role(&role, |r| {
                    let before = r.attached_policies.len();
                    r.attached_policies.retain(|a| *a != policy_arn);
                    if before == r.attached_policies.len() {
                        return Err(IamError::NoSuchEntity(format!("Policy {policy_arn} was not found.")));
                    }
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            ListAttachedRolePolicies { role, path_prefix, page } => {
                let r = self.role(&role)?;
                let mut items = Vec::new();
                for (i, arn) in r.attached_policies.iter().enumerate() {
                    if let Ok((_, p)) = self.managed(arn)
                        && p.path.starts_with(&path_prefix)
                    {
                        items.push((format!("{i:08}"), (p.name.clone(), arn.clone())));
                    }
                }
                let (page_items, marker) = paginate(items, &page);
                Ok(xml(|w| {
                    w.start("AttachedPolicies");
                    for (name, arn) in &page_items {
                        w.start("member").elem("PolicyName", name).elem("PolicyArn", arn).end("member");
                    }
                    w.end("AttachedPolicies");
                    truncation(w, marker);
                }))
            }
            ListEntitiesForPolicy { arn, page } => {
                self.managed(&arn)?;
                let roles = self.svc.store.list::<Role>(&self.account)?;
                let items = roles
                    .into_iter()
                    .filter(|r| r.attached_policies.contains(&arn))
                    .map(|r| (key(&r.name), r))
                    .collect();
                let (page_items, marker) = paginate(items, &page);
                Ok(xml(|w| {
                    w.start("PolicyGroups").end("PolicyGroups").start("PolicyUsers").end("PolicyUsers");
                    w.start("PolicyRoles");
                    for r in &page_items {
                        w.start("member").elem("RoleName", &r.name).elem("RoleId", &r.id).end("member");
                    }
                    w.end("PolicyRoles");
                    truncation(w, marker);
                }))
            }
            CreateInstanceProfile { name, path, tags } => {
                check_duplicate_tag_keys(&tags)?;
                let p = InstanceProfile {
                    arn: iam_arn(&self.account, "instance-profile", &path, &name),
                    id: unique_id(self.svc.rng.as_ref(), IdKind::InstanceProfile),
                    name: name.clone(),
                    path,
                    roles: vec![],
                    tags,
                    created_at: self.now(),
                };
                self.svc.store.write(vec![Op::create(&self.account, &key(&name), &p)]).await.map_err(|e| match e {
                    StoreError::AlreadyExists { .. } => {
                        IamError::EntityAlreadyExists(format!("Instance Profile {name} already exists."))
                    }
                    e => e.into(),
                })?;
                Ok(xml(|w| {
                    w.start("InstanceProfile");
                    render::instance_profile(w, &p, &[]);
                    w.end("InstanceProfile");
                }))
            }
            GetInstanceProfile { name } => {
                let p = self.profile(&name)?;
                let roles = self.profile_roles(&p)?;
                Ok(xml(|w| {
                    w.start("InstanceProfile");
                    render::instance_profile(w, &p, &roles.iter().map(|r| &**r).collect::<Vec<_>>());
                    w.end("InstanceProfile");
                }))
            }
            ListInstanceProfiles { path_prefix, page } => {
                let list = self.svc.store.list::<InstanceProfile>(&self.account)?;
                let items = list.into_iter().filter(|p| p.path.starts_with(&path_prefix)).map(|p| (key(&p.name), p)).collect();
                self.render_profiles(items, &page)
            }
            ListInstanceProfilesForRole { role, page } => {
                let r = self.role(&role)?;
                let list = self.svc.store.list::<InstanceProfile>(&self.account)?;
                let items = list
                    .into_iter()
                    .filter(|p| p.roles.iter().any(|n| n.eq_ignore_ascii_case(&r.name)))
                    .map(|p| (key(&p.name), p))
                    .collect();
                self.render_profiles(items, &page)
            }
            DeleteInstanceProfile { name } => {
                let mut tries = 0;
                loop {
                    let p = self.profile(&name)?;
                    if !p.roles.is_empty() {
                        return Err(IamError::DeleteConflict("Cannot delete entity, must remove roles from instance profile first.".into()));
                    }
                    if self.commit(vec![Op::delete::<InstanceProfile>(&self.account, &key(&name), p.version)], &mut tries).await? {
                        return Ok(None);
                    }
                }
            }
            AddRoleToInstanceProfile { profile, role } => {
                let r = self.role(&role)?;
                self.update_profile(&profile, |p| {
                    if p.roles.iter().any(|n| n.eq_ignore_ascii_case(&r.name)) {
                        return Err(IamError::EntityAlreadyExists(format!("Role {} is already in instance profile {}.", r.name, p.name)));
                    }
                    if !p.roles.is_empty() {
                        return Err(IamError::LimitExceeded("Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1".into()));
                    }
                    p.roles.push(r.name.clone());
                    Ok(())
                })
                .await
            }
            RemoveRoleFromInstanceProfile { profile, role } => {
                self.update_profile(&profile, |p| {
                    let before = p.roles.len();
                    p.roles.retain(|n| !n.eq_ignore_ascii_case(&role));
                    if before == p.roles.len() {
                        return Err(role_not_found(&role));
                    }
                    Ok(())
                })
                .await
            }
            TagResource { target, tags } => {
                check_duplicate_tag_keys(&tags)?;
                self.retag(&target, |existing, kind| merge_tags(existing, &tags, kind)).await
            }
            UntagResource { target, keys } => {
                self.retag(&target, |existing, _| {
                    Ok(existing.iter().filter(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key))).cloned().collect())
                })
                .await
            }
            ListResourceTags { target, page } => {
                let tags = match &target {
                    Tagged::Role(n) => self.role(n)?.tags.clone(),
                    Tagged::Policy(a) => self.managed(a)?.1.tags.clone(),
                    Tagged::OidcProvider(a) => self.oidc(a)?.tags.clone(),
                    Tagged::InstanceProfile(n) => self.profile(n)?.tags.clone(),
                };
                let items = tags.into_iter().enumerate().map(|(i, t)| (format!("{i:08}"), t)).collect();
                let (page_items, marker) = paginate(items, &page);
                Ok(xml(|w| {
                    render::tags(w, &page_items);
                    truncation(w, marker);
                }))
            }
            SimulateCustomPolicy(r) => crate::simulate::run(self.svc, &self.account, r, false),
            SimulatePrincipalPolicy(r) => crate::simulate::run(self.svc, &self.account, r, true),
        }
    }

    fn profile_roles(&self, p: &InstanceProfile) -> Result<Vec<Versioned<Role>>, IamError> {
        let mut out = Vec::new();
        for n in &p.roles {
            if let Some(r) = self.svc.store.get::<Role>(&self.account, &key(n))? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn render_profiles(
        &self,
        items: Vec<(String, Versioned<InstanceProfile>)>,
        page: &Page,
    ) -> Out {
        let (page_items, marker) = paginate(items, page);
        let mut rendered = Vec::new();
        for p in &page_items {
            rendered.push((p, self.profile_roles(p)?));
        }
        Ok(xml(|w| {
            w.start("InstanceProfiles");
            for (p, roles) in &rendered {
                w.start("member");
                render::instance_profile(w, p, &roles.iter().map(|r| &**r).collect::<Vec<_>>());
                w.end("member");
            }
            w.end("InstanceProfiles");
            truncation(w, marker);
        }))
    }

    async fn create_oidc(
        &self,
        url: String,
        client_ids: Vec<String>,
        thumbprints: Vec<String>,
        tags: Vec<Tag>,
    ) -> Out {
        let parsed = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .filter(|rest| {
                let host = rest.split('/').next().unwrap_or_default();
                !host.is_empty() && !rest.contains(['?', '#'])
            });
        if parsed.is_none() {
            return Err(IamError::InvalidInput(
                "Invalid Openid Connect Provider URL".into(),
            ));
        }
        if url.starts_with("http://") {
            // AWS requires https; podiam accepts http so built-in and lab
            // issuers on loopback work. Logged so it is never silent.
            tracing::warn!(%url, "registering an OIDC provider over plain http");
        }
        if client_ids.len() > MAX_CLIENT_IDS {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
            )));
        }
        check_thumbprints(&thumbprints)?;
        check_duplicate_tag_keys(&tags)?;
        if self.svc.store.list::<OidcProvider>(&self.account)?.len() >= MAX_OIDC_PROVIDERS {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_OIDC_PROVIDERS}"
            )));
        }
        let host_path = issuer_host_path(&url).to_string();
        let mut ids: Vec<String> = Vec::new();
        for c in client_ids {
            if !ids.contains(&c) {
                ids.push(c);
            }
        }
        let p = OidcProvider {
            arn: oidc_provider_arn(&self.account, &host_path),
            url: url.clone(),
            client_ids: ids,
            thumbprints,
            tags,
            created_at: self.now(),
        };
        self.svc
            .store
            .write(vec![Op::create(&self.account, &host_path, &p)])
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists { .. } => IamError::EntityAlreadyExists(format!(
                    "Provider with url {url} already exists."
                )),
                e => e.into(),
            })?;
        Ok(xml(|w| {
            w.elem("OpenIDConnectProviderArn", &p.arn);
            if !p.tags.is_empty() {
                render::tags(w, &p.tags);
            }
        }))
    }

    async fn update_oidc(
        &self,
        arn: &str,
        f: impl Fn(&mut OidcProvider) -> Result<(), IamError>,
    ) -> Out {
        let mut tries = 0;
        loop {
            let cur = self.oidc(arn)?;
            let mut p = (*cur.value).clone();
            f(&mut p)?;
            let k = self.oidc_key(arn)?;
            if self
                .commit(
                    vec![Op::update(&self.account, k, &p, cur.version)],
                    &mut tries,
                )
                .await?
            {
                return Ok(None);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_role(
        &self,
        name: String,
        path: String,
        trust_policy: String,
        description: Option<String>,
        max_session_duration: Option<i64>,
        permissions_boundary: Option<String>,
        tags: Vec<Tag>,
    ) -> Out {
        validate(
            &trust_policy,
            PolicyKind::Trust,
            Some(PolicyKind::Trust.default_max_chars()),
        )?;
        self.check_trust_principals(&trust_policy)?;
        check_duplicate_tag_keys(&tags)?;
        if let Some(b) = &permissions_boundary {
            self.managed(b).map_err(|_| {
                IamError::NoSuchEntity(format!(
                    "Scope ARN: {b} does not exist or is not attachable."
                ))
            })?;
        }
        let role = Role {
            arn: iam_arn(&self.account, "role", &path, &name),
            id: unique_id(self.svc.rng.as_ref(), IdKind::Role),
            name: name.clone(),
            path,
            trust_policy,
            description,
            max_session_duration: max_session_duration.unwrap_or(3600),
            permissions_boundary,
            tags,
            inline_policies: BTreeMap::new(),
            attached_policies: vec![],
            created_at: self.now(),
        };
        self.svc
            .store
            .write(vec![Op::create(&self.account, &key(&name), &role)])
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists { .. } => {
                    IamError::EntityAlreadyExists(format!("Role with name {name} already exists."))
                }
                e => e.into(),
            })?;
        Ok(xml(|w| {
            w.start("Role");
            render::role(w, &role, true);
            w.end("Role");
        }))
    }

    async fn update_role(
        &self,
        name: &str,
        f: impl Fn(&mut Role) -> Result<(), IamError>,
    ) -> Result<Role, IamError> {
        let mut tries = 0;
        loop {
            let cur = self.role(name)?;
            let mut r = (*cur.value).clone();
            f(&mut r)?;
            if self
                .commit(
                    vec![Op::update(&self.account, &key(name), &r, cur.version)],
                    &mut tries,
                )
                .await?
            {
                return Ok(r);
            }
        }
    }

    async fn delete_role(&self, name: &str) -> Out {
        let mut tries = 0;
        loop {
            let r = self.role(name)?;
            if self
                .svc
                .store
                .list::<InstanceProfile>(&self.account)?
                .iter()
                .any(|p| p.roles.iter().any(|n| n.eq_ignore_ascii_case(&r.name)))
            {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must remove roles from instance profile first.".into(),
                ));
            }
            if !r.attached_policies.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must detach all policies first.".into(),
                ));
            }
            if !r.inline_policies.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            if self
                .commit(
                    vec![Op::delete::<Role>(&self.account, &key(name), r.version)],
                    &mut tries,
                )
                .await?
            {
                return Ok(None);
            }
        }
    }

    async fn create_policy(
        &self,
        name: String,
        path: String,
        document: String,
        description: Option<String>,
        tags: Vec<Tag>,
    ) -> Out {
        validate(
            &document,
            PolicyKind::Identity,
            Some(PolicyKind::Identity.default_max_chars()),
        )?;
        check_duplicate_tag_keys(&tags)?;
        let now = self.now();
        let p = ManagedPolicy {
            arn: iam_arn(&self.account, "policy", &path, &name),
            id: unique_id(self.svc.rng.as_ref(), IdKind::Policy),
            name: name.clone(),
            path,
            description,
            default_version: "v1".into(),
            versions: vec![PolicyVersion {
                id: "v1".into(),
                document,
                created_at: now,
            }],
            next_version: 2,
            tags,
            created_at: now,
            updated_at: now,
        };
        self.svc
            .store
            .write(vec![Op::create(&self.account, &key(&name), &p)])
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists { .. } => IamError::EntityAlreadyExists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                )),
                e => e.into(),
            })?;
        Ok(xml(|w| {
            w.start("Policy");
            render::policy(w, &p, 0, 0, true);
            w.end("Policy");
        }))
    }

    async fn update_policy(
        &self,
        arn: &str,
        f: impl Fn(&mut ManagedPolicy) -> Result<(), IamError>,
    ) -> Result<(ManagedPolicy, i64), IamError> {
        let mut tries = 0;
        loop {
            let (version, cur) = self.managed(arn)?;
            let Some(version) = version else {
                return Err(IamError::InvalidInput(format!(
                    "Policy {arn} is an AWS managed policy and cannot be modified."
                )));
            };
            let mut p = (*cur).clone();
            f(&mut p)?;
            if self
                .commit(
                    vec![Op::update(&self.account, &key(&p.name), &p, version)],
                    &mut tries,
                )
                .await?
            {
                return Ok((p, version + 1));
            }
        }
    }

    async fn delete_policy(&self, arn: &str) -> Out {
        let mut tries = 0;
        loop {
            let (version, p) = self.managed(arn)?;
            let Some(version) = version else {
                return Err(IamError::InvalidInput(format!(
                    "Policy {arn} is an AWS managed policy and cannot be deleted."
                )));
            };
            let (a, b) = self.attachment_counts(arn)?;
            if a + b > 0 {
                return Err(IamError::DeleteConflict(
                    "Cannot delete a policy attached to entities.".into(),
                ));
            }
            if p.versions.len() > 1 {
                return Err(IamError::DeleteConflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into()));
            }
            if self
                .commit(
                    vec![Op::delete::<ManagedPolicy>(
                        &self.account,
                        &key(&p.name),
                        version,
                    )],
                    &mut tries,
                )
                .await?
            {
                return Ok(None);
            }
        }
    }

    async fn update_profile(
        &self,
        name: &str,
        f: impl Fn(&mut InstanceProfile) -> Result<(), IamError>,
    ) -> Out {
        let mut tries = 0;
        loop {
            let cur = self.profile(name)?;
            let mut p = (*cur.value).clone();
            f(&mut p)?;
            if self
                .commit(
                    vec![Op::update(&self.account, &key(name), &p, cur.version)],
                    &mut tries,
                )
                .await?
            {
                return Ok(None);
            }
        }
    }

    async fn retag(
        &self,
        target: &Tagged,
        f: impl Fn(&[Tag], &str) -> Result<Vec<Tag>, IamError>,
    ) -> Out {
        match target {
            Tagged::Role(n) => {
                self.update_role(n, |r| {
                    r.tags = f(&r.tags, "Role")?;
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            Tagged::Policy(a) => {
                self.update_policy(a, |p| {
                    p.tags = f(&p.tags, "Policy")?;
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            Tagged::OidcProvider(a) => {
                self.update_oidc(a, |p| {
                    p.tags = f(&p.tags, "OpenIdConnectProvider")?;
                    Ok(())
                })
                .await
            }
            Tagged::InstanceProfile(n) => {
                self.update_profile(n, |p| {
                    p.tags = f(&p.tags, "InstanceProfile")?;
                    Ok(())
                })
                .await
            }
        }
    }
}

fn check_thumbprints(t: &[String]) -> Result<(), IamError> {
    if t.len() > MAX_THUMBPRINTS {
        return Err(IamError::LimitExceeded(format!(
            "Thumbprint list must contain fewer than {} entries.",
            MAX_THUMBPRINTS + 1
        )));
    }
    if let Some(bad) = t.iter().find(|x| !x.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(IamError::InvalidInput(format!(
            "Thumbprint {bad} is not a valid hex string."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_markers() {
        let items: Vec<(String, u32)> = (0..5).map(|i| (format!("k{i}"), i)).collect();
        let page = Page {
            marker: None,
            max_items: 2,
        };
        let (a, m) = paginate(items.clone(), &page);
        assert_eq!(a, [0, 1]);
        let page = Page {
            marker: m,
            max_items: 2,
        };
        let (b, m) = paginate(items.clone(), &page);
        assert_eq!(b, [2, 3]);
        let (c, m) = paginate(
            items,
            &Page {
                marker: m,
                max_items: 2,
            },
        );
        assert_eq!(c, [4]);
        assert!(m.is_none());
    }

    #[test]
    fn tag_merging_is_case_insensitive() {
        let t = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        let merged = merge_tags(&[t("Team", "a")], &[t("team", "b"), t("x", "y")], "Role").unwrap();
        assert_eq!(merged, vec![t("Team", "b"), t("x", "y")]);
        assert!(check_duplicate_tag_keys(&[t("a", "1"), t("A", "2")]).is_err());
    }
}
