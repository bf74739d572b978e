//! IAM roles, trust and inline policies, boundaries.

use super::*;
use crate::action::RoleRequest;

impl Iam<'_> {
    pub(super) async fn role_op(&self, req: RoleRequest) -> Out {
        use RoleRequest::*;
        match req {
            CreateRole {
                name,
                path,
                trust_policy,
                description,
                max_session_duration,
                permissions_boundary,
                tags,
            } => {
                self.create_role(
                    name,
                    path,
                    trust_policy,
                    description,
                    max_session_duration,
                    permissions_boundary,
                    tags,
                )
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
                validate(
                    &document,
                    PolicyKind::Trust,
                    Some(PolicyKind::Trust.default_max_chars()),
                )?;
                self.check_trust_principals(&document)?;
                self.update_role(&name, |r| {
                    r.trust_policy = document.clone();
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            UpdateRole {
                name,
                description,
                max_session_duration,
            } => {
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
                self.managed(&policy_arn).map_err(|_| {
                    IamError::NoSuchEntity(format!(
                        "Scope ARN: {policy_arn} does not exist or is not attachable."
                    ))
                })?;
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
            PutRolePolicy {
                role,
                name,
                document,
            } => {
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
                    IamError::NoSuchEntity(format!(
                        "The role policy with name {name} cannot be found."
                    ))
                })?;
                Ok(xml(|w| {
                    w.elem("RoleName", &r.name)
                        .elem("PolicyName", &name)
                        .elem("PolicyDocument", &render::encode_document(doc));
                }))
            }
            ListRolePolicies { role, page } => {
                let r = self.role(&role)?;
                let items = r
                    .inline_policies
                    .keys()
                    .map(|k| (k.clone(), k.clone()))
                    .collect();
                let (names, marker) = paginate(items, &page);
                Ok(xml(|w| {
                    w.members("PolicyNames", &names);
                    truncation(w, marker);
                }))
            }
            DeleteRolePolicy { role, name } => {
                self.update_role(&role, |r| {
                    r.inline_policies.remove(&name).map(|_| ()).ok_or_else(|| {
                        IamError::NoSuchEntity(format!(
                            "The role policy with name {name} cannot be found."
                        ))
                    })
                })
                .await?;
                Ok(None)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn create_role(
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

    pub(super) async fn update_role(
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

    pub(super) async fn delete_role(&self, name: &str) -> Out {
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
}
