//! IAM OIDC identity providers.

use super::*;
use crate::action::OidcRequest;

impl Iam<'_> {
    pub(super) async fn oidc_op(&self, req: OidcRequest) -> Out {
        use OidcRequest::*;
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
            // "This operation is idempotent; it does not fail or return an
            // error if you call the operation for a provider that does not
            // exist" (the API reference).
            DeleteOpenIdConnectProvider { arn } => {
                let mut tries = 0;
                loop {
                    let p = match self.oidc(&arn) {
                        Err(IamError::NoSuchEntity(_)) => return Ok(None),
                        found => found?,
                    };
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
        }
    }

    pub(super) async fn create_oidc(
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

    pub(super) async fn update_oidc(
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
}

fn check_thumbprints(t: &[String]) -> Result<(), IamError> {
    if t.len() > MAX_THUMBPRINTS {
        return Err(IamError::LimitExceeded(format!(
            "Thumbprint list must contain fewer than {} entries.",
            MAX_THUMBPRINTS + 1
        )));
    }
    // Only their length (40) is IAM's rule: the API reference's own
    // examples are `c3768084dfb3d2b68b7897bf5f565da8eEXAMPLE`.
    Ok(())
}
