//! Decoding: every IAM request becomes a typed [`IamRequest`] before anything
//! else happens (authorization: [`crate::authz`]).

use crate::error::IamError;
use podiam_core::query::{
    QueryParams, Validator, is_name_char, is_policy_char, parse_bool, parse_int,
};
use podiam_store::Tag;

/// Paging parameters (`Marker`, `MaxItems`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Opaque marker from a previous response.
    pub marker: Option<String>,
    /// 1..=1000, default 100.
    pub max_items: usize,
}

/// A resource that carries tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagged {
    /// A role, by name.
    Role(String),
    /// A managed policy, by ARN.
    Policy(String),
    /// An OIDC provider, by ARN.
    OidcProvider(String),
    /// An instance profile, by name.
    InstanceProfile(String),
}

/// A decoded IAM request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum IamRequest {
    Oidc(OidcRequest),
    Role(RoleRequest),
    Policy(PolicyRequest),
    Profile(ProfileRequest),
    Tag(TagRequest),
    SimulateCustomPolicy(crate::simulate::SimulateRequest),
    SimulatePrincipalPolicy(crate::simulate::SimulateRequest),
}

/// IAM OIDC identity providers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum OidcRequest {
    CreateOpenIdConnectProvider {
        url: String,
        client_ids: Vec<String>,
        thumbprints: Vec<String>,
        tags: Vec<Tag>,
    },
    GetOpenIdConnectProvider {
        arn: String,
    },
    ListOpenIdConnectProviders,
    DeleteOpenIdConnectProvider {
        arn: String,
    },
    AddClientIdToOpenIdConnectProvider {
        arn: String,
        client_id: String,
    },
    RemoveClientIdFromOpenIdConnectProvider {
        arn: String,
        client_id: String,
    },
    UpdateOpenIdConnectProviderThumbprint {
        arn: String,
        thumbprints: Vec<String>,
    },
}

/// Roles, their trust and inline policies and boundaries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum RoleRequest {
    CreateRole {
        name: String,
        path: String,
        trust_policy: String,
        description: Option<String>,
        max_session_duration: Option<i64>,
        permissions_boundary: Option<String>,
        tags: Vec<Tag>,
    },
    GetRole {
        name: String,
    },
    ListRoles {
        path_prefix: String,
        page: Page,
    },
    DeleteRole {
        name: String,
    },
    UpdateAssumeRolePolicy {
        name: String,
        document: String,
    },
    UpdateRole {
        name: String,
        description: Option<String>,
        max_session_duration: Option<i64>,
    },
    UpdateRoleDescription {
        name: String,
        description: String,
    },
    PutRolePermissionsBoundary {
        name: String,
        policy_arn: String,
    },
    DeleteRolePermissionsBoundary {
        name: String,
    },
    PutRolePolicy {
        role: String,
        name: String,
        document: String,
    },
    GetRolePolicy {
        role: String,
        name: String,
    },
    ListRolePolicies {
        role: String,
        page: Page,
    },
    DeleteRolePolicy {
        role: String,
        name: String,
    },
}

/// Managed policies, their versions and attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum PolicyRequest {
    CreatePolicy {
        name: String,
        path: String,
        document: String,
        description: Option<String>,
        tags: Vec<Tag>,
    },
    GetPolicy {
        arn: String,
    },
    ListPolicies {
        scope: String,
        only_attached: bool,
        path_prefix: String,
        page: Page,
    },
    DeletePolicy {
        arn: String,
    },
    CreatePolicyVersion {
        arn: String,
        document: String,
        set_as_default: bool,
    },
    GetPolicyVersion {
        arn: String,
        version: String,
    },
    ListPolicyVersions {
        arn: String,
        page: Page,
    },
    DeletePolicyVersion {
        arn: String,
        version: String,
    },
    SetDefaultPolicyVersion {
        arn: String,
        version: String,
    },
    AttachRolePolicy {
        role: String,
        policy_arn: String,
    },
    DetachRolePolicy {
        role: String,
        policy_arn: String,
    },
    ListAttachedRolePolicies {
        role: String,
        path_prefix: String,
        page: Page,
    },
    ListEntitiesForPolicy {
        arn: String,
        /// `EntityFilter`: `User`, `Role`, `Group`, `LocalManagedPolicy`,
        /// `AWSManagedPolicy` (`None`: every kind).
        entity_filter: Option<String>,
        path_prefix: String,
        /// `PolicyUsageFilter`: `PermissionsPolicy` or `PermissionsBoundary`
        /// (`None`: both uses).
        usage: Option<String>,
        page: Page,
    },
}

/// Instance profiles.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ProfileRequest {
    CreateInstanceProfile {
        name: String,
        path: String,
        tags: Vec<Tag>,
    },
    GetInstanceProfile {
        name: String,
    },
    ListInstanceProfiles {
        path_prefix: String,
        page: Page,
    },
    ListInstanceProfilesForRole {
        role: String,
        page: Page,
    },
    DeleteInstanceProfile {
        name: String,
    },
    AddRoleToInstanceProfile {
        profile: String,
        role: String,
    },
    RemoveRoleFromInstanceProfile {
        profile: String,
        role: String,
    },
}

/// Tagging of roles, policies, providers and instance profiles.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum TagRequest {
    TagResource { target: Tagged, tags: Vec<Tag> },
    UntagResource { target: Tagged, keys: Vec<String> },
    ListResourceTags { target: Tagged, page: Page },
}

/// Reads parameters with constraint checks, collecting every violation.
struct Reader<'a> {
    p: &'a QueryParams,
    v: Validator,
    early: Option<IamError>,
}

impl<'a> Reader<'a> {
    fn req(&mut self, key: &str, field: &str, min: usize, max: usize) -> String {
        let val = self.v.required(field, self.p.get(key));
        self.v.length(field, val, min, max);
        val.unwrap_or_default().to_string()
    }

    fn opt(&mut self, key: &str, field: &str, min: usize, max: usize) -> Option<String> {
        let val = self.p.get(key);
        self.v.length(field, val, min, max);
        val.map(str::to_string)
    }

    fn name(&mut self, key: &str, field: &str, max: usize) -> String {
        let val = self.req(key, field, 1, max);
        self.v
            .pattern(field, self.p.get(key), r"[\w+=,.@-]+", is_name_char);
        val
    }

    fn arn(&mut self, key: &str, field: &str) -> String {
        self.req(key, field, 20, 2048)
    }

    fn document(&mut self, key: &str, field: &str) -> String {
        let val = self.req(key, field, 1, 131072);
        self.v.pattern(
            field,
            self.p.get(key),
            r"[\u0009\u000A\u000D\u0020-\u00FF]+",
            is_policy_char,
        );
        val
    }

    fn path(&mut self, key: &str, field: &str) -> String {
        let val = self.p.get(key);
        self.v.length(field, val, 1, 512);
        if let Some(p) = val {
            // `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`: `//` is not a path.
            let ok = p == "/"
                || (p.len() >= 3
                    && p.starts_with('/')
                    && p.ends_with('/')
                    && p.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)));
            if !ok {
                self.v.violation(
                    field,
                    Some(p),
                    r"Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
                );
            }
        }
        val.unwrap_or("/").to_string()
    }

    /// An optional enum parameter: one of `values`, else a violation.
    fn one_of(&mut self, key: &str, field: &str, values: &[&str]) -> Option<String> {
        let val = self.p.get(key)?;
        if !values.contains(&val) {
            self.v.violation(
                field,
                Some(val),
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    values.join(", ")
                ),
            );
        }
        Some(val.to_string())
    }

    fn path_prefix(&mut self) -> String {
        let val = self.p.get("PathPrefix");
        self.v.length("pathPrefix", val, 1, 512);
        if let Some(p) = val
            && !(p.starts_with('/') && p.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c)))
        {
            self.v.violation(
                "pathPrefix",
                Some(p),
                r"Member must satisfy regular expression pattern: \u002F[\u0021-\u007F]*",
            );
        }
        val.unwrap_or("/").to_string()
    }

    fn description(&mut self, required: bool) -> Option<String> {
        let val = self.p.get("Description");
        if required {
            self.v.required("description", val);
        }
        self.v.length("description", val, 0, 1000);
        self.v.pattern(
            "description",
            val,
            r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*",
            |c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}'),
        );
        val.map(str::to_string)
    }

    /// Managed policy paths: `((/[A-Za-z0-9\.,\+@=_-]+)*)/`.
    /// A `policyPathType` parameter (`key`, reported as `field`): CreatePolicy's
    /// `Path`, and the `PathPrefix` of the policy listings.
    fn policy_path(&mut self, key: &str, field: &str) -> String {
        let val = self.p.get(key);
        self.v.length(field, val, 1, 512);
        if let Some(p) = val {
            let ok = p.ends_with('/')
                && p[..p.len() - 1].split('/').skip(1).all(|seg| {
                    !seg.is_empty()
                        && seg
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || ".,+@=_-".contains(c))
                })
                && p.starts_with('/');
            if !ok {
                self.v.violation(
                    field,
                    Some(p),
                    r"Member must satisfy regular expression pattern: ((/[A-Za-z0-9\.,\+@=_-]+)*)/",
                );
            }
        }
        val.unwrap_or("/").to_string()
    }

    /// Policy version ids: `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`.
    fn version_id(&mut self) -> String {
        let val = self.req("VersionId", "versionId", 1, 128);
        let (num, rest) = match val.strip_prefix('v') {
            Some(r) => r.split_once('.').map_or((r, None), |(n, x)| (n, Some(x))),
            None => ("", None),
        };
        let ok = num.starts_with(|c: char| ('1'..='9').contains(&c))
            && num.chars().all(|c| c.is_ascii_digit())
            && rest.is_none_or(|x| x.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !val.is_empty() && !ok {
            self.v.violation(
                "versionId",
                Some(&val),
                r"Member must satisfy regular expression pattern: v[1-9][0-9]*(\.[A-Za-z0-9-]*)?",
            );
        }
        val
    }

    fn int(&mut self, key: &str, field: &str) -> Option<i64> {
        match parse_int(field, self.p.get(key)) {
            Ok(v) => v,
            Err(m) => {
                self.early.get_or_insert(IamError::Validation(m));
                None
            }
        }
    }

    fn flag(&mut self, key: &str, field: &str) -> bool {
        match parse_bool(field, self.p.get(key)) {
            Ok(v) => v.unwrap_or(false),
            Err(m) => {
                self.early.get_or_insert(IamError::Validation(m));
                false
            }
        }
    }

    fn page(&mut self) -> Page {
        let max = self.int("MaxItems", "maxItems");
        self.v.range("maxItems", max, 1, 1000);
        let marker = self.opt("Marker", "marker", 1, 320);
        Page {
            marker,
            max_items: max.unwrap_or(100).clamp(1, 1000) as usize,
        }
    }

    fn list(&mut self, key: &str, field: &str, min: usize, max: usize) -> Vec<String> {
        let items = self.p.list(key);
        for i in &items {
            self.v.length(field, Some(i), min, max);
        }
        items
    }

    fn tags(&mut self) -> Vec<Tag> {
        let raw = self.p.struct_list("Tags");
        let mut out = Vec::with_capacity(raw.len());
        for (i, t) in raw.into_iter().enumerate() {
            let key = t.get("Key").cloned();
            let value = t.get("Value").cloned();
            self.v.tag("tags", i, key.as_deref(), value.as_deref());
            out.push(Tag {
                key: key.unwrap_or_default(),
                value: value.unwrap_or_default(),
            });
        }
        if out.len() > 50 {
            self.early.get_or_insert(IamError::LimitExceeded(
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50".into(),
            ));
        }
        out
    }

    fn finish<T>(self, value: T) -> Result<T, IamError> {
        if let Some(e) = self.early {
            return Err(e);
        }
        self.v.finish().map_err(IamError::Validation)?;
        Ok(value)
    }
}

/// Decodes `params` (which carry `Action`) into a typed request.
pub fn decode(params: &QueryParams) -> Result<IamRequest, IamError> {
    use IamRequest::*;
    use {OidcRequest::*, PolicyRequest::*, ProfileRequest::*, RoleRequest::*, TagRequest::*};
    let action = params.get("Action").unwrap_or_default();
    let mut r = Reader {
        p: params,
        v: Validator::new(),
        early: None,
    };
    let oidc_arn = |r: &mut Reader| r.arn("OpenIDConnectProviderArn", "openIDConnectProviderArn");
    let req = match action {
        "CreateOpenIDConnectProvider" => Oidc(CreateOpenIdConnectProvider {
            url: r.req("Url", "url", 1, 255),
            client_ids: r.list("ClientIDList", "clientIDList.member", 1, 255),
            thumbprints: r.list("ThumbprintList", "thumbprintList.member", 40, 40),
            tags: r.tags(),
        }),
        "GetOpenIDConnectProvider" => Oidc(GetOpenIdConnectProvider {
            arn: oidc_arn(&mut r),
        }),
        "ListOpenIDConnectProviders" => Oidc(ListOpenIdConnectProviders),
        "DeleteOpenIDConnectProvider" => Oidc(DeleteOpenIdConnectProvider {
            arn: oidc_arn(&mut r),
        }),
        "AddClientIDToOpenIDConnectProvider" => Oidc(AddClientIdToOpenIdConnectProvider {
            arn: oidc_arn(&mut r),
            client_id: r.req("ClientID", "clientID", 1, 255),
        }),
        "RemoveClientIDFromOpenIDConnectProvider" => {
            Oidc(RemoveClientIdFromOpenIdConnectProvider {
                arn: oidc_arn(&mut r),
                client_id: r.req("ClientID", "clientID", 1, 255),
            })
        }
        "UpdateOpenIDConnectProviderThumbprint" => {
            let arn = oidc_arn(&mut r);
            if r.p.list("ThumbprintList").is_empty() {
                r.v.required("thumbprintList", None);
            }
            Oidc(UpdateOpenIdConnectProviderThumbprint {
                arn,
                thumbprints: r.list("ThumbprintList", "thumbprintList.member", 40, 40),
            })
        }
        "TagOpenIDConnectProvider" => Tag(TagResource {
            target: Tagged::OidcProvider(oidc_arn(&mut r)),
            tags: r.tags(),
        }),
        "UntagOpenIDConnectProvider" => Tag(UntagResource {
            target: Tagged::OidcProvider(oidc_arn(&mut r)),
            keys: r.list("TagKeys", "tagKeys.member", 1, 128),
        }),
        "ListOpenIDConnectProviderTags" => Tag(ListResourceTags {
            target: Tagged::OidcProvider(oidc_arn(&mut r)),
            page: r.page(),
        }),
        "CreateRole" => {
            let name = r.name("RoleName", "roleName", 64);
            let path = r.path("Path", "path");
            let trust_policy = r.document("AssumeRolePolicyDocument", "assumeRolePolicyDocument");
            let description = r.description(false);
            let max_session_duration = r.int("MaxSessionDuration", "maxSessionDuration");
            r.v.range("maxSessionDuration", max_session_duration, 3600, 43200);
            let permissions_boundary =
                r.opt("PermissionsBoundary", "permissionsBoundary", 20, 2048);
            Role(CreateRole {
                name,
                path,
                trust_policy,
                description,
                max_session_duration,
                permissions_boundary,
                tags: r.tags(),
            })
        }
        "GetRole" => Role(GetRole {
            name: r.name("RoleName", "roleName", 64),
        }),
        "ListRoles" => Role(ListRoles {
            path_prefix: r.path_prefix(),
            page: r.page(),
        }),
        "DeleteRole" => Role(DeleteRole {
            name: r.name("RoleName", "roleName", 64),
        }),
        "UpdateAssumeRolePolicy" => Role(UpdateAssumeRolePolicy {
            name: r.name("RoleName", "roleName", 64),
            document: r.document("PolicyDocument", "policyDocument"),
        }),
        "UpdateRole" => {
            let name = r.name("RoleName", "roleName", 64);
            let description = r.description(false);
            let max_session_duration = r.int("MaxSessionDuration", "maxSessionDuration");
            r.v.range("maxSessionDuration", max_session_duration, 3600, 43200);
            Role(UpdateRole {
                name,
                description,
                max_session_duration,
            })
        }
        "UpdateRoleDescription" => Role(UpdateRoleDescription {
            name: r.name("RoleName", "roleName", 64),
            description: r.description(true).unwrap_or_default(),
        }),
        "PutRolePermissionsBoundary" => Role(PutRolePermissionsBoundary {
            name: r.name("RoleName", "roleName", 64),
            policy_arn: r.arn("PermissionsBoundary", "permissionsBoundary"),
        }),
        "DeleteRolePermissionsBoundary" => Role(DeleteRolePermissionsBoundary {
            name: r.name("RoleName", "roleName", 64),
        }),
        "TagRole" => Tag(TagResource {
            target: Tagged::Role(r.name("RoleName", "roleName", 64)),
            tags: r.tags(),
        }),
        "UntagRole" => Tag(UntagResource {
            target: Tagged::Role(r.name("RoleName", "roleName", 64)),
            keys: r.list("TagKeys", "tagKeys.member", 1, 128),
        }),
        "ListRoleTags" => Tag(ListResourceTags {
            target: Tagged::Role(r.name("RoleName", "roleName", 64)),
            page: r.page(),
        }),
        "PutRolePolicy" => Role(PutRolePolicy {
            role: r.name("RoleName", "roleName", 64),
            name: r.name("PolicyName", "policyName", 128),
            document: r.document("PolicyDocument", "policyDocument"),
        }),
        "GetRolePolicy" => Role(GetRolePolicy {
            role: r.name("RoleName", "roleName", 64),
            name: r.name("PolicyName", "policyName", 128),
        }),
        "ListRolePolicies" => Role(ListRolePolicies {
            role: r.name("RoleName", "roleName", 64),
            page: r.page(),
        }),
        "DeleteRolePolicy" => Role(DeleteRolePolicy {
            role: r.name("RoleName", "roleName", 64),
            name: r.name("PolicyName", "policyName", 128),
        }),
        "CreatePolicy" => Policy(CreatePolicy {
            name: r.name("PolicyName", "policyName", 128),
            path: r.policy_path("Path", "path"),
            document: r.document("PolicyDocument", "policyDocument"),
            // Policy descriptions have no character pattern, unlike roles'.
            description: r.opt("Description", "description", 0, 1000),
            tags: r.tags(),
        }),
        "GetPolicy" => Policy(GetPolicy {
            arn: r.arn("PolicyArn", "policyArn"),
        }),
        "ListPolicies" => {
            let scope = r
                .one_of("Scope", "scope", &["All", "AWS", "Local"])
                .unwrap_or_else(|| "All".into());
            Policy(ListPolicies {
                scope,
                only_attached: r.flag("OnlyAttached", "onlyAttached"),
                path_prefix: r.policy_path("PathPrefix", "pathPrefix"),
                page: r.page(),
            })
        }
        "DeletePolicy" => Policy(DeletePolicy {
            arn: r.arn("PolicyArn", "policyArn"),
        }),
        "CreatePolicyVersion" => Policy(CreatePolicyVersion {
            arn: r.arn("PolicyArn", "policyArn"),
            document: r.document("PolicyDocument", "policyDocument"),
            set_as_default: r.flag("SetAsDefault", "setAsDefault"),
        }),
        "GetPolicyVersion" => Policy(GetPolicyVersion {
            arn: r.arn("PolicyArn", "policyArn"),
            version: r.version_id(),
        }),
        "ListPolicyVersions" => Policy(ListPolicyVersions {
            arn: r.arn("PolicyArn", "policyArn"),
            page: r.page(),
        }),
        "DeletePolicyVersion" => Policy(DeletePolicyVersion {
            arn: r.arn("PolicyArn", "policyArn"),
            version: r.version_id(),
        }),
        "SetDefaultPolicyVersion" => Policy(SetDefaultPolicyVersion {
            arn: r.arn("PolicyArn", "policyArn"),
            version: r.version_id(),
        }),
        "TagPolicy" => Tag(TagResource {
            target: Tagged::Policy(r.arn("PolicyArn", "policyArn")),
            tags: r.tags(),
        }),
        "UntagPolicy" => Tag(UntagResource {
            target: Tagged::Policy(r.arn("PolicyArn", "policyArn")),
            keys: r.list("TagKeys", "tagKeys.member", 1, 128),
        }),
        "ListPolicyTags" => Tag(ListResourceTags {
            target: Tagged::Policy(r.arn("PolicyArn", "policyArn")),
            page: r.page(),
        }),
        "AttachRolePolicy" => Policy(AttachRolePolicy {
            role: r.name("RoleName", "roleName", 64),
            policy_arn: r.arn("PolicyArn", "policyArn"),
        }),
        "DetachRolePolicy" => Policy(DetachRolePolicy {
            role: r.name("RoleName", "roleName", 64),
            policy_arn: r.arn("PolicyArn", "policyArn"),
        }),
        "ListAttachedRolePolicies" => Policy(ListAttachedRolePolicies {
            role: r.name("RoleName", "roleName", 64),
            path_prefix: r.policy_path("PathPrefix", "pathPrefix"),
            page: r.page(),
        }),
        "ListEntitiesForPolicy" => Policy(ListEntitiesForPolicy {
            arn: r.arn("PolicyArn", "policyArn"),
            entity_filter: r.one_of(
                "EntityFilter",
                "entityFilter",
                &[
                    "User",
                    "Role",
                    "Group",
                    "LocalManagedPolicy",
                    "AWSManagedPolicy",
                ],
            ),
            path_prefix: r.path("PathPrefix", "pathPrefix"),
            usage: r.one_of(
                "PolicyUsageFilter",
                "policyUsageFilter",
                &["PermissionsPolicy", "PermissionsBoundary"],
            ),
            page: r.page(),
        }),
        "CreateInstanceProfile" => Profile(CreateInstanceProfile {
            name: r.name("InstanceProfileName", "instanceProfileName", 128),
            path: r.path("Path", "path"),
            tags: r.tags(),
        }),
        "GetInstanceProfile" => Profile(GetInstanceProfile {
            name: r.name("InstanceProfileName", "instanceProfileName", 128),
        }),
        "ListInstanceProfiles" => Profile(ListInstanceProfiles {
            path_prefix: r.path_prefix(),
            page: r.page(),
        }),
        "ListInstanceProfilesForRole" => Profile(ListInstanceProfilesForRole {
            role: r.name("RoleName", "roleName", 64),
            page: r.page(),
        }),
        "DeleteInstanceProfile" => Profile(DeleteInstanceProfile {
            name: r.name("InstanceProfileName", "instanceProfileName", 128),
        }),
        "AddRoleToInstanceProfile" => Profile(AddRoleToInstanceProfile {
            profile: r.name("InstanceProfileName", "instanceProfileName", 128),
            role: r.name("RoleName", "roleName", 64),
        }),
        "RemoveRoleFromInstanceProfile" => Profile(RemoveRoleFromInstanceProfile {
            profile: r.name("InstanceProfileName", "instanceProfileName", 128),
            role: r.name("RoleName", "roleName", 64),
        }),
        "TagInstanceProfile" => Tag(TagResource {
            target: Tagged::InstanceProfile(r.name(
                "InstanceProfileName",
                "instanceProfileName",
                128,
            )),
            tags: r.tags(),
        }),
        "UntagInstanceProfile" => Tag(UntagResource {
            target: Tagged::InstanceProfile(r.name(
                "InstanceProfileName",
                "instanceProfileName",
                128,
            )),
            keys: r.list("TagKeys", "tagKeys.member", 1, 128),
        }),
        "ListInstanceProfileTags" => Tag(ListResourceTags {
            target: Tagged::InstanceProfile(r.name(
                "InstanceProfileName",
                "instanceProfileName",
                128,
            )),
            page: r.page(),
        }),
        "SimulateCustomPolicy" => SimulateCustomPolicy(
            crate::simulate::decode(params, false).map_err(IamError::Validation)?,
        ),
        "SimulatePrincipalPolicy" => SimulatePrincipalPolicy(
            crate::simulate::decode(params, true).map_err(IamError::Validation)?,
        ),
        other => return Err(IamError::InvalidAction(other.to_string())),
    };
    r.finish(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> QueryParams {
        QueryParams::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn decodes_create_role() {
        let r = decode(&q("Action=CreateRole&RoleName=r1&AssumeRolePolicyDocument=%7B%7D&Tags.member.1.Key=a&Tags.member.1.Value=b")).unwrap();
        match r {
            IamRequest::Role(RoleRequest::CreateRole {
                name, path, tags, ..
            }) => {
                assert_eq!((name.as_str(), path.as_str()), ("r1", "/"));
                assert_eq!(tags.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decode(&q(
                "Action=CreateRole&RoleName=r1&AssumeRolePolicyDocument=%7B%7D"
            ))
            .unwrap()
            .authz("000000000000"),
            (
                "iam:CreateRole",
                "arn:aws:iam::000000000000:role/r1".to_string()
            )
        );
    }

    #[test]
    fn constraint_messages() {
        let e = decode(&q("Action=CreateRole&RoleName=bad%20name")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "2 validation errors detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+; Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null"
        );
        let e = decode(&q(
            "Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=x&MaxSessionDuration=100",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"));
        assert!(matches!(
            decode(&q("Action=Frobnicate")).unwrap_err(),
            IamError::InvalidAction(_)
        ));
        let e = decode(&q("Action=ListRoles&MaxItems=abc")).unwrap_err();
        assert!(matches!(e, IamError::Validation(_)));
    }
}
