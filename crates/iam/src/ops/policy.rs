//! IAM managed policies, versions and attachments.

use super::*;
use crate::action::PolicyRequest;

impl Iam<'_> {
    pub(super) async fn policy_op(&self, req: PolicyRequest) -> Out {
        use PolicyRequest::*;
        match req {
            CreatePolicy {
                name,
                path,
                document,
                description,
                tags,
            } => {
                self.create_policy(name, path, document, description, tags)
                    .await
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
            ListPolicies {
                scope,
                only_attached,
                path_prefix,
                page,
            } => {
                let mut all: Vec<ManagedPolicy> = Vec::new();
                if scope != "Local" {
                    all.extend(aws_managed::all());
                }
                if scope != "AWS" {
                    all.extend(
                        self.svc
                            .store
                            .list::<ManagedPolicy>(&self.account)?
                            .iter()
                            .map(|p| (*p.value).clone()),
                    );
                }
                let counts = self.attachments()?;
                let mut items = Vec::new();
                for p in all.into_iter().filter(|p| p.path.starts_with(&path_prefix)) {
                    let (a, b) = counts.get(&p.arn).copied().unwrap_or_default();
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
            CreatePolicyVersion {
                arn,
                document,
                set_as_default,
            } => {
                validate(
                    &document,
                    PolicyKind::Identity,
                    Some(PolicyKind::Identity.default_max_chars()),
                )?;
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
                    IamError::NoSuchEntity(format!(
                        "Policy {arn} version {version} does not exist or is not attachable."
                    ))
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
                let items = versions
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{i:08}"), v))
                    .collect();
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
                        return Err(IamError::DeleteConflict(
                            "Cannot delete the default version of a policy.".into(),
                        ));
                    }
                    let before = p.versions.len();
                    p.versions.retain(|v| v.id != version);
                    if p.versions.len() == before {
                        return Err(IamError::NoSuchEntity(format!(
                            "Policy {arn} version {version} does not exist."
                        )));
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
                        return Err(IamError::NoSuchEntity(format!(
                            "Policy {arn} version {version} does not exist."
                        )));
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
                    IamError::NoSuchEntity(_) => IamError::NoSuchEntity(format!(
                        "Policy {policy_arn} does not exist or is not attachable."
                    )),
                    e => e,
                })?;
                self.update_role(&role, |r| {
                    if !r.attached_policies.contains(&policy_arn) {
                        if r.attached_policies.len() >= MAX_MANAGED_PER_ROLE {
                            return Err(IamError::LimitExceeded(format!(
                                "Cannot exceed quota for PoliciesPerRole: {MAX_MANAGED_PER_ROLE}"
                            )));
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
                        return Err(IamError::NoSuchEntity(format!(
                            "Policy {policy_arn} was not found."
                        )));
                    }
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            ListAttachedRolePolicies {
                role,
                path_prefix,
                page,
            } => {
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
                        w.start("member")
                            .elem("PolicyName", name)
                            .elem("PolicyArn", arn)
                            .end("member");
                    }
                    w.end("AttachedPolicies");
                    truncation(w, marker);
                }))
            }
            // Roles are podiam's only entities: a filter for users or groups
            // lists none. Without `PolicyUsageFilter`, both uses count ("If it
            // is not included, all policies are returned").
            ListEntitiesForPolicy {
                arn,
                entity_filter,
                path_prefix,
                usage,
                page,
            } => {
                self.managed(&arn)?;
                let roles = self.svc.store.list::<Role>(&self.account)?;
                let wanted = entity_filter.as_deref().is_none_or(|f| f == "Role");
                let permissions = usage.as_deref() != Some("PermissionsBoundary");
                let boundary = usage.as_deref() != Some("PermissionsPolicy");
                let items = roles
                    .into_iter()
                    .filter(|r| wanted && r.path.starts_with(&path_prefix))
                    .filter(|r| {
                        (permissions && r.attached_policies.contains(&arn))
                            || (boundary && r.permissions_boundary.as_deref() == Some(arn.as_str()))
                    })
                    .map(|r| (key(&r.name), r))
                    .collect();
                let (page_items, marker) = paginate(items, &page);
                Ok(xml(|w| {
                    w.start("PolicyGroups")
                        .end("PolicyGroups")
                        .start("PolicyUsers")
                        .end("PolicyUsers");
                    w.start("PolicyRoles");
                    for r in &page_items {
                        w.start("member")
                            .elem("RoleName", &r.name)
                            .elem("RoleId", &r.id)
                            .end("member");
                    }
                    w.end("PolicyRoles");
                    truncation(w, marker);
                }))
            }
        }
    }

    pub(super) async fn create_policy(
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

    pub(super) async fn update_policy(
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

    pub(super) async fn delete_policy(&self, arn: &str) -> Out {
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
}
