//! IAM instance profiles.

use super::*;
use crate::action::ProfileRequest;

impl Iam<'_> {
    pub(super) async fn profile_op(&self, req: ProfileRequest) -> Out {
        use ProfileRequest::*;
        match req {
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
                self.svc
                    .store
                    .write(vec![Op::create(&self.account, &key(&name), &p)])
                    .await
                    .map_err(|e| match e {
                        StoreError::AlreadyExists { .. } => IamError::EntityAlreadyExists(format!(
                            "Instance Profile {name} already exists."
                        )),
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
                    render::instance_profile(
                        w,
                        &p,
                        &roles.iter().map(|r| &**r).collect::<Vec<_>>(),
                    );
                    w.end("InstanceProfile");
                }))
            }
            ListInstanceProfiles { path_prefix, page } => {
                let list = self.svc.store.list::<InstanceProfile>(&self.account)?;
                let items = list
                    .into_iter()
                    .filter(|p| p.path.starts_with(&path_prefix))
                    .map(|p| (key(&p.name), p))
                    .collect();
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
                        return Err(IamError::DeleteConflict(
                            "Cannot delete entity, must remove roles from instance profile first."
                                .into(),
                        ));
                    }
                    if self
                        .commit(
                            vec![Op::delete::<InstanceProfile>(
                                &self.account,
                                &key(&name),
                                p.version,
                            )],
                            &mut tries,
                        )
                        .await?
                    {
                        return Ok(None);
                    }
                }
            }
            AddRoleToInstanceProfile { profile, role } => {
                let r = self.role(&role)?;
                self.update_profile(&profile, |p| {
                    if p.roles.iter().any(|n| n.eq_ignore_ascii_case(&r.name)) {
                        return Err(IamError::EntityAlreadyExists(format!(
                            "Role {} is already in instance profile {}.",
                            r.name, p.name
                        )));
                    }
                    if !p.roles.is_empty() {
                        return Err(IamError::LimitExceeded(
                            "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1".into(),
                        ));
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
        }
    }

    pub(super) fn profile_roles(
        &self,
        p: &InstanceProfile,
    ) -> Result<Vec<Versioned<Role>>, IamError> {
        let mut out = Vec::new();
        for n in &p.roles {
            if let Some(r) = self.svc.store.get::<Role>(&self.account, &key(n))? {
                out.push(r);
            }
        }
        Ok(out)
    }

    pub(super) fn render_profiles(
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

    pub(super) async fn update_profile(
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
}
