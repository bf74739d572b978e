//! IAM operation handlers: dispatch and what the families share; one module
//! per family.

mod oidc;
mod policy;
mod profile;
mod role;
mod tag;

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
        Ok(self.attachments()?.get(arn).copied().unwrap_or_default())
    }

    /// Policy ARN → (roles it is attached to, roles it bounds), from one
    /// pass over the roles.
    fn attachments(&self) -> Result<std::collections::HashMap<String, (usize, usize)>, IamError> {
        let mut counts: std::collections::HashMap<String, (usize, usize)> = Default::default();
        for r in self.svc.store.list::<Role>(&self.account)?.iter() {
            for a in &r.attached_policies {
                counts.entry(a.clone()).or_default().0 += 1;
            }
            if let Some(b) = &r.permissions_boundary {
                counts.entry(b.clone()).or_default().1 += 1;
            }
        }
        Ok(counts)
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
        match req {
            IamRequest::Oidc(r) => self.oidc_op(r).await,
            IamRequest::Role(r) => self.role_op(r).await,
            IamRequest::Policy(r) => self.policy_op(r).await,
            IamRequest::Profile(r) => self.profile_op(r).await,
            IamRequest::Tag(r) => self.tag_op(r).await,
            IamRequest::SimulateCustomPolicy(r) => {
                crate::simulate::run(self.svc, &self.account, r, false)
            }
            IamRequest::SimulatePrincipalPolicy(r) => {
                crate::simulate::run(self.svc, &self.account, r, true)
            }
        }
    }
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
