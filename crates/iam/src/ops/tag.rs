//! IAM tags on roles, policies, providers and instance profiles.

use super::*;
use crate::action::TagRequest;

impl Iam<'_> {
    pub(super) async fn tag_op(&self, req: TagRequest) -> Out {
        use TagRequest::*;
        match req {
            TagResource { target, tags } => {
                check_duplicate_tag_keys(&tags)?;
                self.retag(&target, |existing, kind| merge_tags(existing, &tags, kind))
                    .await
            }
            UntagResource { target, keys } => {
                self.retag(&target, |existing, _| {
                    Ok(existing
                        .iter()
                        .filter(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)))
                        .cloned()
                        .collect())
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
                let items = tags
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| (format!("{i:08}"), t))
                    .collect();
                let (page_items, marker) = paginate(items, &page);
                Ok(xml(|w| {
                    render::tags(w, &page_items);
                    truncation(w, marker);
                }))
            }
        }
    }

    pub(super) async fn retag(
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
