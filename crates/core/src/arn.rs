//! Amazon Resource Names.

use std::fmt;

/// A parsed ARN: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    /// `aws`, `aws-cn`, …
    pub partition: String,
    /// `iam`, `sts`, `s3`, …
    pub service: String,
    /// Empty for global services.
    pub region: String,
    /// Twelve digits, or empty (S3).
    pub account: String,
    /// Everything after the fifth colon (it may contain colons).
    pub resource: String,
}

impl Arn {
    /// Parses an ARN; `None` when it does not have six colon-separated parts.
    pub fn parse(s: &str) -> Option<Arn> {
        let mut it = s.splitn(6, ':');
        if it.next()? != "arn" {
            return None;
        }
        let partition = it.next()?;
        let service = it.next()?;
        let region = it.next()?;
        let account = it.next()?;
        let resource = it.next()?;
        if partition.is_empty() || service.is_empty() {
            return None;
        }
        Some(Arn {
            partition: partition.into(),
            service: service.into(),
            region: region.into(),
            account: account.into(),
            resource: resource.into(),
        })
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// Whether `s` is a twelve-digit account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An IAM entity addressed by an ARN with a path: `arn:aws:iam::ACCT:role/PATH/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathArn {
    /// The account.
    pub account: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// The entity name.
    pub name: String,
}

/// Parses an IAM ARN of resource type `kind` (`role`, `policy`, `instance-profile`, `user`).
pub fn parse_iam_path_arn(s: &str, kind: &str) -> Option<PathArn> {
    let arn = Arn::parse(s)?;
    if arn.service != "iam" || !arn.region.is_empty() || !is_account_id(&arn.account) {
        return None;
    }
    let rest = arn.resource.strip_prefix(kind)?.strip_prefix('/')?;
    let (path, name) = match rest.rfind('/') {
        Some(i) => (format!("/{}/", &rest[..i]), &rest[i + 1..]),
        None => ("/".to_string(), rest),
    };
    if name.is_empty() || path.contains("//") {
        return None;
    }
    Some(PathArn {
        account: arn.account,
        path,
        name: name.to_string(),
    })
}

/// `arn:aws:iam::ACCT:KIND/PATH…NAME`; `path` starts and ends with `/`.
pub fn iam_arn(account: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:{kind}{path}{name}")
}

/// The assumed-role ARN of a session: the role's path is dropped.
pub fn assumed_role_arn(account: &str, role_name: &str, session_name: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}")
}

/// The ARN of an IAM OIDC provider, from the issuer URL without its scheme.
pub fn oidc_provider_arn(account: &str, host_and_path: &str) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/{host_and_path}")
}

/// Strips `https://` or `http://` from an issuer URL, as IAM does when it
/// names the provider and its condition keys. A trailing `/` is kept: an
/// issuer with one is a different issuer.
pub fn issuer_host_path(url: &str) -> &str {
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let a = Arn::parse("arn:aws:s3:::bucket/key:with:colons").unwrap();
        assert_eq!(a.service, "s3");
        assert_eq!(a.resource, "bucket/key:with:colons");
        assert_eq!(a.to_string(), "arn:aws:s3:::bucket/key:with:colons");
        assert!(Arn::parse("arn:aws:s3").is_none());
        assert!(Arn::parse("nope:aws:s3:::b").is_none());
    }

    #[test]
    fn path_arns() {
        let r = parse_iam_path_arn("arn:aws:iam::123456789012:role/a/b/R1", "role").unwrap();
        assert_eq!((r.path.as_str(), r.name.as_str()), ("/a/b/", "R1"));
        let r = parse_iam_path_arn("arn:aws:iam::123456789012:role/R1", "role").unwrap();
        assert_eq!(r.path, "/");
        assert!(parse_iam_path_arn("arn:aws:iam::123456789012:policy/R1", "role").is_none());
        assert!(parse_iam_path_arn("arn:aws:iam::12345:role/R1", "role").is_none());
        assert!(parse_iam_path_arn("arn:aws:iam::123456789012:role/", "role").is_none());
        assert_eq!(iam_arn("1", "role", "/x/", "n"), "arn:aws:iam::1:role/x/n");
    }

    #[test]
    fn issuer_names() {
        assert_eq!(
            issuer_host_path("https://oidc.example.com/id/1/"),
            "oidc.example.com/id/1/"
        );
        assert_eq!(
            issuer_host_path("http://127.0.0.1:4599/clusters/demo"),
            "127.0.0.1:4599/clusters/demo"
        );
    }
}
