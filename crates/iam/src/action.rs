//! Decoding: every IAM request becomes a typed [`IamRequest`] before anything
//! else happens, and every request maps to exactly one IAM action and
//! resource for authorization ([`IamRequest::authz`]).

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
        page: Page,
    },
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
    TagResource {
        target: Tagged,
        tags: Vec<Tag>,
    },
    UntagResource {
        target: Tagged,
        keys: Vec<String>,
    },
    ListResourceTags {
        target: Tagged,
        page: Page,
    },
    SimulateCustomPolicy(crate::simulate::SimulateRequest),
    SimulatePrincipalPolicy(crate::simulate::SimulateRequest),
}

impl IamRequest {
    /// The IAM action and resource ARN this request is authorized as.
    pub fn authz(&self, account: &str) -> (&'static str, String) {
        use IamRequest::*;
        let role = |n: &str| format!("arn:aws:iam::{account}:role/{n}");
        let profile = |n: &str| format!("arn:aws:iam::{account}:instance-profile/{n}");
        let any = || "*".to_string();
        match self {
            CreateOpenIdConnectProvider { url, .. } => (
                "iam:CreateOpenIDConnectProvider",
                podiam_core::arn::oidc_provider_arn(
                    account,
                    podiam_core::arn::issuer_host_path(url),
                ),
            ),
            GetOpenIdConnectProvider { arn } => ("iam:GetOpenIDConnectProvider", arn.clone()),
            ListOpenIdConnectProviders => ("iam:ListOpenIDConnectProviders", any()),
            DeleteOpenIdConnectProvider { arn } => ("iam:DeleteOpenIDConnectProvider", arn.clone()),
            AddClientIdToOpenIdConnectProvider { arn, .. } => {
                ("iam:AddClientIDToOpenIDConnectProvider", arn.clone())
            }
            RemoveClientIdFromOpenIdConnectProvider { arn, .. } => {
                ("iam:RemoveClientIDFromOpenIDConnectProvider", arn.clone())
            }
            UpdateOpenIdConnectProviderThumbprint { arn, .. } => {
                ("iam:UpdateOpenIDConnectProviderThumbprint", arn.clone())
            }
            CreateRole { name, path, .. } => (
                "iam:CreateRole",
                format!("arn:aws:iam::{account}:role{path}{name}"),
            ),
            GetRole { name } => ("iam:GetRole", role(name)),
            ListRoles { .. } => ("iam:ListRoles", any()),
            DeleteRole { name } => ("iam:DeleteRole", role(name)),
            UpdateAssumeRolePolicy { name, .. } => ("iam:UpdateAssumeRolePolicy", role(name)),
            UpdateRole { name, .. } => ("iam:UpdateRole", role(name)),
            UpdateRoleDescription { name, .. } => ("iam:UpdateRoleDescription", role(name)),
            PutRolePermissionsBoundary { name, .. } => {
                ("iam:PutRolePermissionsBoundary", role(name))
            }
            DeleteRolePermissionsBoundary { name } => {
                ("iam:DeleteRolePermissionsBoundary", role(name))
            }
            PutRolePolicy { role: r, .. } => ("iam:PutRolePolicy", role(r)),
            GetRolePolicy { role: r, .. } => ("iam:GetRolePolicy", role(r)),
            ListRolePolicies { role: r, .. } => ("iam:ListRolePolicies", role(r)),
            DeleteRolePolicy { role: r, .. } => ("iam:DeleteRolePolicy", role(r)),
            CreatePolicy { name, path, .. } => (
                "iam:CreatePolicy",
                format!("arn:aws:iam::{account}:policy{path}{name}"),
            ),
            GetPolicy { arn } => ("iam:GetPolicy", arn.clone()),
            ListPolicies { .. } => ("iam:ListPolicies", any()),
            DeletePolicy { arn } => ("iam:DeletePolicy", arn.clone()),
            CreatePolicyVersion { arn, .. } => ("iam:CreatePolicyVersion", arn.clone()),
            GetPolicyVersion { arn, .. } => ("iam:GetPolicyVersion", arn.clone()),
            ListPolicyVersions { arn, .. } => ("iam:ListPolicyVersions", arn.clone()),
            DeletePolicyVersion { arn, .. } => ("iam:DeletePolicyVersion", arn.clone()),
            SetDefaultPolicyVersion { arn, .. } => ("iam:SetDefaultPolicyVersion", arn.clone()),
            AttachRolePolicy { role: r, .. } => ("iam:AttachRolePolicy", role(r)),
            DetachRolePolicy { role: r, .. } => ("iam:DetachRolePolicy", role(r)),
            ListAttachedRolePolicies { role: r, .. } => ("iam:ListAttachedRolePolicies", role(r)),
            ListEntitiesForPolicy { arn, .. } => ("iam:ListEntitiesForPolicy", arn.clone()),
            CreateInstanceProfile { name, path, .. } => (
                "iam:CreateInstanceProfile",
                format!("arn:aws:iam::{account}:instance-profile{path}{name}"),
            ),
            GetInstanceProfile { name } => ("iam:GetInstanceProfile", profile(name)),
            ListInstanceProfiles { .. } => ("iam:ListInstanceProfiles", any()),
            ListInstanceProfilesForRole { role: r, .. } => {
                ("iam:ListInstanceProfilesForRole", role(r))
            }
            DeleteInstanceProfile { name } => ("iam:DeleteInstanceProfile", profile(name)),
            AddRoleToInstanceProfile { profile: p, .. } => {
                ("iam:AddRoleToInstanceProfile", profile(p))
            }
            RemoveRoleFromInstanceProfile { profile: p, .. } => {
                ("iam:RemoveRoleFromInstanceProfile", profile(p))
            }
            TagResource { target, .. } => (tag_action(target, "Tag"), target_arn(target, account)),
            UntagResource { target, .. } => {
                (tag_action(target, "Untag"), target_arn(target, account))
            }
            ListResourceTags { target, .. } => {
                (tag_action(target, "List"), target_arn(target, account))
            }
            SimulateCustomPolicy(_) => ("iam:SimulateCustomPolicy", any()),
            SimulatePrincipalPolicy(r) => (
                "iam:SimulatePrincipalPolicy",
                r.policy_source_arn.clone().unwrap_or_else(any),
            ),
        }
    }

    /// Whether the request only reads.
    pub fn is_read_only(&self) -> bool {
        let (action, _) = self.authz("");
        let name = action.trim_start_matches("iam:");
        ["Get", "List", "Simulate"]
            .iter()
            .any(|p| name.starts_with(p))
    }
}

fn tag_action(t: &Tagged, verb: &str) -> &'static str {
    match (t, verb) {
        (Tagged::Role(_), "Tag") => "iam:TagRole",
        (Tagged::Role(_), "Untag") => "iam:UntagRole",
        (Tagged::Role(_), _) => "iam:ListRoleTags",
        (Tagged::Policy(_), "Tag") => "iam:TagPolicy",
        (Tagged::Policy(_), "Untag") => "iam:UntagPolicy",
        (Tagged::Policy(_), _) => "iam:ListPolicyTags",
        (Tagged::OidcProvider(_), "Tag") => "iam:TagOpenIDConnectProvider",
        (Tagged::OidcProvider(_), "Untag") => "iam:UntagOpenIDConnectProvider",
        (Tagged::OidcProvider(_), _) => "iam:ListOpenIDConnectProviderTags",
        (Tagged::InstanceProfile(_), "Tag") => "iam:TagInstanceProfile",
        (Tagged::InstanceProfile(_), "Untag") => "iam:UntagInstanceProfile",
        (Tagged::InstanceProfile(_), _) => "iam:ListInstanceProfileTags",
    }
}

fn target_arn(t: &Tagged, account: &str) -> String {
    match t {
        Tagged::Role(n) => format!("arn:aws:iam::{account}:role/{n}"),
        Tagged::InstanceProfile(n) => format!("arn:aws:iam::{account}:instance-profile/{n}"),
        Tagged::Policy(a) | Tagged::OidcProvider(a) => a.clone(),
    }
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
            let ok = p == "/"
                || (p.len() >= 2
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
    fn policy_path(&mut self) -> String {
        let val = self.p.get("Path");
        self.v.length("path", val, 1, 512);
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
                    "path",
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
        for t in raw {
            let key = t.get("Key").cloned();
            let value = t.get("Value").cloned();
            self.v.required("tags.member.key", key.as_deref());
            self.v.length("tags.member.key", key.as_deref(), 1, 128);
            self.v.required("tags.member.value", value.as_deref());
            self.v.length("tags.member.value", value.as_deref(), 0, 256);
            self.v.pattern(
                "tags.member.key",
                key.as_deref(),
                r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+",
                is_tag_char,
            );
            self.v.pattern(
                "tags.member.value",
                value.as_deref(),
                r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
                is_tag_char,
            );
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

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: letters, separators, numbers and `_.:/=+-@`.
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// Decodes `params` (which carry `Action`) into a typed request.
pub fn decode(params: &QueryParams) -> Result<IamRequest, IamError> {
    use IamRequest::*;
    let action = params.get("Action").unwrap_or_default();
    let mut r = Reader {
        p: params,
        v: Validator::new(),
        early: None,
    };
    let oidc_arn = |r: &mut Reader| r.arn("OpenIDConnectProviderArn", "openIDConnectProviderArn");
    let req = match action {
        "CreateOpenIDConnectProvider" => CreateOpenIdConnectProvider {
            url: r.req("Url", "url", 1, 255),
            client_ids: r.list("ClientIDList", "clientIDList.member", 1, 255),
            thumbprints: r.list("ThumbprintList", "thumbprintList.member", 40, 40),
            tags: r.tags(),
        },
        "GetOpenIDConnectProvider" => GetOpenIdConnectProvider {
            arn: oidc_arn(&mut r),
        },
        "ListOpenIDConnectProviders" => ListOpenIdConnectProviders,
        "DeleteOpenIDConnectProvider" => DeleteOpenIdConnectProvider {
            arn: oidc_arn(&mut r),
        },
        "AddClientIDToOpenIDConnectProvider" => AddClientIdToOpenIdConnectProvider {
            arn: oidc_arn(&mut r),
            client_id: r.req("ClientID", "clientID", 1, 255),
        },
        "RemoveClientIDFromOpenIDConnectProvider" => RemoveClientIdFromOpenIdConnectProvider {
            arn: oidc_arn(&mut r),
            client_id: r.req("ClientID", "clientID", 1, 255),
        },
        "UpdateOpenIDConnectProviderThumbprint" => {
            let arn = oidc_arn(&mut r);
            if r.p.list("ThumbprintList").is_empty() {
                r.v.required("thumbprintList", None);
            }
            UpdateOpenIdConnectProviderThumbprint {
                arn,
                thumbprints: r.list("ThumbprintList", "thumbprintList.member", 40, 40),
            }
        }
        "TagOpenIDConnectProvider" => TagResource {
            target: Tagged::OidcProvider(oidc_arn(&mut r)),
            tags: r.tags(),
        },
        "UntagOpenIDConnectProvider" => UntagResource {
            target: Tagged::OidcProvider(oidc_arn(&mut r)),
            keys: r.list("TagKeys", "tagKeys.member", 1, 128),
        },
        "ListOpenIDConnectProviderTags" => ListResourceTags {
            target: Tagged::OidcProvider(oidc_arn(&mut r)),
            page: r.page(),
        },
        "CreateRole" => {
            let name = r.name("RoleName", "roleName", 64);
            let path = r.path("Path", "path");
            let trust_policy = r.document("AssumeRolePolicyDocument", "assumeRolePolicyDocument");
            let description = r.description(false);
            let max_session_duration = r.int("MaxSessionDuration", "maxSessionDuration");
            r.v.range("maxSessionDuration", max_session_duration, 3600, 43200);
            let permissions_boundary =
                r.opt("PermissionsBoundary", "permissionsBoundary", 20, 2048);
            CreateRole {
                name,
                path,
                trust_policy,
                description,
                max_session_duration,
                permissions_boundary,
                tags: r.tags(),
            }
        }
        "GetRole" => GetRole {
            name: r.name("RoleName", "roleName", 64),
        },
        "ListRoles" => ListRoles {
            path_prefix: r.path_prefix(),
            page: r.page(),
        },
        "DeleteRole" => DeleteRole {
            name: r.name("RoleName", "roleName", 64),
        },
        "UpdateAssumeRolePolicy" => UpdateAssumeRolePolicy {
            name: r.name("RoleName", "roleName", 64),
            document: r.document("PolicyDocument", "policyDocument"),
        },
        "UpdateRole" => {
            let name = r.name("RoleName", "roleName", 64);
            let description = r.description(false);
            let max_session_duration = r.int("MaxSessionDuration", "maxSessionDuration");
            r.v.range("maxSessionDuration", max_session_duration, 3600, 43200);
            UpdateRole {
                name,
                description,
                max_session_duration,
            }
        }
        "UpdateRoleDescription" => UpdateRoleDescription {
            name: r.name("RoleName", "roleName", 64),
            description: r.description(true).unwrap_or_default(),
        },
        "PutRolePermissionsBoundary" => PutRolePermissionsBoundary {
            name: r.name("RoleName", "roleName", 64),
            policy_arn: r.arn("PermissionsBoundary", "permissionsBoundary"),
        },
        "DeleteRolePermissionsBoundary" => DeleteRolePermissionsBoundary {
            name: r.name("RoleName", "roleName", 64),
        },
        "TagRole" => TagResource {
            target: Tagged::Role(r.name("RoleName", "roleName", 64)),
            tags: r.tags(),
        },
        "UntagRole" => UntagResource {
            target: Tagged::Role(r.name("RoleName", "roleName", 64)),
            keys: r.list("TagKeys", "tagKeys.member", 1, 128),
        },
        "ListRoleTags" => ListResourceTags {
            target: Tagged::Role(r.name("RoleName", "roleName", 64)),
            page: r.page(),
        },
        "PutRolePolicy" => PutRolePolicy {
            role: r.name("RoleName", "roleName", 64),
            name: r.name("PolicyName", "policyName", 128),
            document: r.document("PolicyDocument", "policyDocument"),
        },
        "GetRolePolicy" => GetRolePolicy {
            role: r.name("RoleName", "roleName", 64),
            name: r.name("PolicyName", "policyName", 128),
        },
        "ListRolePolicies" => ListRolePolicies {
            role: r.name("RoleName", "roleName", 64),
            page: r.page(),
        },
        "DeleteRolePolicy" => DeleteRolePolicy {
            role: r.name("RoleName", "roleName", 64),
            name: r.name("PolicyName", "policyName", 128),
        },
        "CreatePolicy" => CreatePolicy {
            name: r.name("PolicyName", "policyName", 128),
            path: r.policy_path(),
            document: r.document("PolicyDocument", "policyDocument"),
            // Policy descriptions have no character pattern, unlike roles'.
            description: r.opt("Description", "description", 0, 1000),
            tags: r.tags(),
        },
        "GetPolicy" => GetPolicy {
            arn: r.arn("PolicyArn", "policyArn"),
        },
        "ListPolicies" => {
            let scope = r.p.get("Scope").unwrap_or("All").to_string();
            if !["All", "AWS", "Local"].contains(&scope.as_str()) {
                r.v.violation(
                    "scope",
                    Some(&scope),
                    "Member must satisfy enum value set: [All, AWS, Local]",
                );
            }
            ListPolicies {
                scope,
                only_attached: r.flag("OnlyAttached", "onlyAttached"),
                path_prefix: r.path_prefix(),
                page: r.page(),
            }
        }
        "DeletePolicy" => DeletePolicy {
            arn: r.arn("PolicyArn", "policyArn"),
        },
        "CreatePolicyVersion" => CreatePolicyVersion {
            arn: r.arn("PolicyArn", "policyArn"),
            document: r.document("PolicyDocument", "policyDocument"),
            set_as_default: r.flag("SetAsDefault", "setAsDefault"),
        },
        "GetPolicyVersion" => GetPolicyVersion {
            arn: r.arn("PolicyArn", "policyArn"),
            version: r.version_id(),
        },
        "ListPolicyVersions" => ListPolicyVersions {
            arn: r.arn("PolicyArn", "policyArn"),
            page: r.page(),
        },
        "DeletePolicyVersion" => DeletePolicyVersion {
            arn: r.arn("PolicyArn", "policyArn"),
            version: r.version_id(),
        },
        "SetDefaultPolicyVersion" => SetDefaultPolicyVersion {
            arn: r.arn("PolicyArn", "policyArn"),
            version: r.version_id(),
        },
        "TagPolicy" => TagResource {
            target: Tagged::Policy(r.arn("PolicyArn", "policyArn")),
            tags: r.tags(),
        },
        "UntagPolicy" => UntagResource {
            target: Tagged::Policy(r.arn("PolicyArn", "policyArn")),
            keys: r.list("TagKeys", "tagKeys.member", 1, 128),
        },
        "ListPolicyTags" => ListResourceTags {
            target: Tagged::Policy(r.arn("PolicyArn", "policyArn")),
            page: r.page(),
        },
        "AttachRolePolicy" => AttachRolePolicy {
            role: r.name("RoleName", "roleName", 64),
            policy_arn: r.arn("PolicyArn", "policyArn"),
        },
        "DetachRolePolicy" => DetachRolePolicy {
            role: r.name("RoleName", "roleName", 64),
            policy_arn: r.arn("PolicyArn", "policyArn"),
        },
        "ListAttachedRolePolicies" => ListAttachedRolePolicies {
            role: r.name("RoleName", "roleName", 64),
            path_prefix: r.path_prefix(),
            page: r.page(),
        },
        "ListEntitiesForPolicy" => ListEntitiesForPolicy {
            arn: r.arn("PolicyArn", "policyArn"),
            page: r.page(),
        },
        "CreateInstanceProfile" => CreateInstanceProfile {
            name: r.name("InstanceProfileName", "instanceProfileName", 128),
            path: r.path("Path", "path"),
            tags: r.tags(),
        },
        "GetInstanceProfile" => GetInstanceProfile {
            name: r.name("InstanceProfileName", "instanceProfileName", 128),
        },
        "ListInstanceProfiles" => ListInstanceProfiles {
            path_prefix: r.path_prefix(),
            page: r.page(),
        },
        "ListInstanceProfilesForRole" => ListInstanceProfilesForRole {
            role: r.name("RoleName", "roleName", 64),
            page: r.page(),
        },
        "DeleteInstanceProfile" => DeleteInstanceProfile {
            name: r.name("InstanceProfileName", "instanceProfileName", 128),
        },
        "AddRoleToInstanceProfile" => AddRoleToInstanceProfile {
            profile: r.name("InstanceProfileName", "instanceProfileName", 128),
            role: r.name("RoleName", "roleName", 64),
        },
        "RemoveRoleFromInstanceProfile" => RemoveRoleFromInstanceProfile {
            profile: r.name("InstanceProfileName", "instanceProfileName", 128),
            role: r.name("RoleName", "roleName", 64),
        },
        "TagInstanceProfile" => TagResource {
            target: Tagged::InstanceProfile(r.name(
                "InstanceProfileName",
                "instanceProfileName",
                128,
            )),
            tags: r.tags(),
        },
        "UntagInstanceProfile" => UntagResource {
            target: Tagged::InstanceProfile(r.name(
                "InstanceProfileName",
                "instanceProfileName",
                128,
            )),
            keys: r.list("TagKeys", "tagKeys.member", 1, 128),
        },
        "ListInstanceProfileTags" => ListResourceTags {
            target: Tagged::InstanceProfile(r.name(
                "InstanceProfileName",
                "instanceProfileName",
                128,
            )),
            page: r.page(),
        },
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
            IamRequest::CreateRole {
                name, path, tags, ..
            } => {
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
