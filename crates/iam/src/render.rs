//! XML rendering of IAM entities.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use podiam_core::timefmt::iso8601;
use podiam_core::xml::XmlWriter;
use podiam_store::{InstanceProfile, ManagedPolicy, OidcProvider, PolicyVersion, Role, Tag};

/// Everything but unreserved characters; spaces become `%20` (botocore uses
/// `unquote`, not `unquote_plus`).
const DOC_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// URL-encodes a policy document as IAM returns it.
pub fn encode_document(doc: &str) -> String {
    utf8_percent_encode(doc, DOC_ENCODE).to_string()
}

pub fn tags(w: &mut XmlWriter, tags: &[Tag]) {
    w.start("Tags");
    for t in tags {
        w.start("member")
            .elem("Key", &t.key)
            .elem("Value", &t.value)
            .end("member");
    }
    w.end("Tags");
}

/// A `Role` element's children. `full` adds what only GetRole/CreateRole return.
pub fn role(w: &mut XmlWriter, r: &Role, full: bool) {
    w.elem("Path", &r.path)
        .elem("RoleName", &r.name)
        .elem("RoleId", &r.id)
        .elem("Arn", &r.arn)
        .elem("CreateDate", &iso8601(r.created_at))
        .elem(
            "AssumeRolePolicyDocument",
            &encode_document(&r.trust_policy),
        );
    w.opt("Description", r.description.as_deref());
    w.elem("MaxSessionDuration", &r.max_session_duration.to_string());
    if full {
        if let Some(b) = &r.permissions_boundary {
            w.start("PermissionsBoundary")
                .elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                .elem("PermissionsBoundaryArn", b)
                .end("PermissionsBoundary");
        }
        if !r.tags.is_empty() {
            tags(w, &r.tags);
        }
        w.start("RoleLastUsed").end("RoleLastUsed");
    }
}

/// A `Policy` element's children.
pub fn policy(
    w: &mut XmlWriter,
    p: &ManagedPolicy,
    attachments: usize,
    boundary_uses: usize,
    full: bool,
) {
    w.elem("PolicyName", &p.name)
        .elem("PolicyId", &p.id)
        .elem("Arn", &p.arn)
        .elem("Path", &p.path)
        .elem("DefaultVersionId", &p.default_version)
        .elem("AttachmentCount", &attachments.to_string())
        .elem("PermissionsBoundaryUsageCount", &boundary_uses.to_string())
        .elem("IsAttachable", "true");
    if full {
        w.opt("Description", p.description.as_deref());
    }
    w.elem("CreateDate", &iso8601(p.created_at))
        .elem("UpdateDate", &iso8601(p.updated_at));
    if full && !p.tags.is_empty() {
        tags(w, &p.tags);
    }
}

/// A `PolicyVersion` element's children.
pub fn policy_version(w: &mut XmlWriter, v: &PolicyVersion, is_default: bool, with_document: bool) {
    if with_document {
        w.elem("Document", &encode_document(&v.document));
    }
    w.elem("VersionId", &v.id)
        .elem(
            "IsDefaultVersion",
            if is_default { "true" } else { "false" },
        )
        .elem("CreateDate", &iso8601(v.created_at));
}

/// An `InstanceProfile` element's children.
pub fn instance_profile(w: &mut XmlWriter, p: &InstanceProfile, roles: &[&Role]) {
    w.elem("Path", &p.path)
        .elem("InstanceProfileName", &p.name)
        .elem("InstanceProfileId", &p.id)
        .elem("Arn", &p.arn)
        .elem("CreateDate", &iso8601(p.created_at));
    w.start("Roles");
    for r in roles {
        w.start("member");
        role(w, r, false);
        w.end("member");
    }
    w.end("Roles");
    if !p.tags.is_empty() {
        tags(w, &p.tags);
    }
}

/// GetOpenIDConnectProvider's result children.
pub fn oidc_provider(w: &mut XmlWriter, p: &OidcProvider) {
    w.elem("Url", podiam_core::arn::issuer_host_path(&p.url))
        .members("ClientIDList", &p.client_ids)
        .members("ThumbprintList", &p.thumbprints)
        .elem("CreateDate", &iso8601(p.created_at));
    tags(w, &p.tags);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_percent_encoded_with_space_as_20() {
        assert_eq!(
            encode_document(r#"{"Version": "2012-10-17"}"#),
            "%7B%22Version%22%3A%20%222012-10-17%22%7D"
        );
    }
}
