//! Value-level validation of actions, resources, condition keys and principals.

use crate::error::{PolicyError, PolicyErrorKind as K, err};
use crate::policy::PrincipalEntry;

/// `Action` values: `*` or `vendor:action` (IAM User Guide, "IAM JSON policy
/// elements: Action"); vendor is letters, digits, `-`, `.` (or a wildcard).
pub(crate) fn action(a: &str) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    let mut parts = a.split(':');
    let vendor = parts.next().unwrap_or_default();
    let Some(_name) = parts.next() else {
        return err(K::MissingVendor);
    };
    if parts.next().is_some() {
        return err(K::TooManyColons);
    }
    if vendor.is_empty()
        || !vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'*' | b'?'))
    {
        return err(K::InvalidVendor(vendor.to_string()));
    }
    Ok(())
}

/// `Resource` values: `*` or an ARN (IAM User Guide, "IAM JSON policy
/// elements: Resource").
pub(crate) fn resource(r: &str) -> Result<(), PolicyError> {
    if r == "*" || r.starts_with("arn:") {
        return Ok(());
    }
    if !r.contains(':') {
        return err(K::InvalidResource(r.to_string()));
    }
    // Something ARN-like that does not start with `arn:`.
    err(K::LegacyParsing)
}

/// Condition keys: must be non-empty and must not start with a colon (an
/// empty vendor). Keys without any vendor prefix are accepted because the
/// User Guide's own `BinaryEquals` example uses the bare key `key`.
pub(crate) fn condition_key(k: &str) -> Result<(), PolicyError> {
    if k.is_empty() || k.starts_with(':') {
        return err(K::MissingVendor);
    }
    Ok(())
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn invalid(typ: &str, v: &str) -> Result<PrincipalEntry, PolicyError> {
    err(K::InvalidPrincipal(format!("\"{typ}\":\"{v}\"")))
}

/// Normalises one `Principal` value (IAM User Guide, "AWS JSON policy
/// elements: Principal"): no partial wildcards; an account id means the
/// account root; ARNs of users, roles, sessions, federated users.
pub(crate) fn principal(typ: &str, v: &str) -> Result<PrincipalEntry, PolicyError> {
    match typ {
        "AWS" => {
            if v == "*" {
                return Ok(PrincipalEntry::AnyAws);
            }
            if has_wildcard(v) {
                return invalid(typ, v);
            }
            if is_account_id(v) {
                return Ok(PrincipalEntry::Account(v.to_string()));
            }
            if let Some(rest) = v.strip_prefix("arn:") {
                let parts: Vec<&str> = rest.splitn(5, ':').collect();
                // partition, service, region, account, resource
                if parts.len() != 5 || parts[0].is_empty() || !is_account_id(parts[3]) {
                    return invalid(typ, v);
                }
                let (service, res) = (parts[1], parts[4]);
                return match (service, res) {
                    ("iam", "root") => Ok(PrincipalEntry::Account(parts[3].to_string())),
                    ("iam", r) if r.starts_with("user/") || r.starts_with("role/") => {
                        Ok(PrincipalEntry::Arn(v.to_string()))
                    }
                    ("sts", r)
                        if r.starts_with("assumed-role/") || r.starts_with("federated-user/") =>
                    {
                        Ok(PrincipalEntry::Arn(v.to_string()))
                    }
                    _ => invalid(typ, v),
                };
            }
            // IAM unique ids (AIDA..., AROA...) appear when the named entity was deleted.
            if v.len() >= 16 && v.starts_with('A') && v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Ok(PrincipalEntry::UniqueId(v.to_string()));
            }
            invalid(typ, v)
        }
        "Federated" => {
            if v.is_empty() || (has_wildcard(v) && v != "*") {
                return invalid(typ, v);
            }
            Ok(PrincipalEntry::Federated(v.to_string()))
        }
        "Service" => {
            if v.is_empty() || (has_wildcard(v) && v != "*") {
                return invalid(typ, v);
            }
            Ok(PrincipalEntry::Service(v.to_ascii_lowercase()))
        }
        "CanonicalUser" => {
            if v.is_empty() || has_wildcard(v) {
                return invalid(typ, v);
            }
            Ok(PrincipalEntry::CanonicalUser(v.to_string()))
        }
        _ => invalid(typ, v),
    }
}
