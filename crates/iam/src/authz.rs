//! Authorization: every IAM request maps to exactly one IAM action and
//! resource ([`IamRequest::authz`]).

use crate::action::{
    IamRequest, OidcRequest, PolicyRequest, ProfileRequest, RoleRequest, TagRequest, Tagged,
};

impl IamRequest {
    /// The IAM action and resource ARN this request is authorized as.
    pub fn authz(&self, account: &str) -> (&'static str, String) {
        use IamRequest::*;
        use {OidcRequest::*, PolicyRequest::*, ProfileRequest::*, RoleRequest::*, TagRequest::*};
        let role = |n: &str| format!("arn:aws:iam::{account}:role/{n}");
        let profile = |n: &str| format!("arn:aws:iam::{account}:instance-profile/{n}");
        let any = || "*".to_string();
        match self {
            Oidc(CreateOpenIdConnectProvider { url, .. }) => (
                "iam:CreateOpenIDConnectProvider",
                podiam_core::arn::oidc_provider_arn(
                    account,
                    podiam_core::arn::issuer_host_path(url),
                ),
            ),
            Oidc(GetOpenIdConnectProvider { arn }) => ("iam:GetOpenIDConnectProvider", arn.clone()),
            Oidc(ListOpenIdConnectProviders) => ("iam:ListOpenIDConnectProviders", any()),
            Oidc(DeleteOpenIdConnectProvider { arn }) => {
                ("iam:DeleteOpenIDConnectProvider", arn.clone())
            }
            Oidc(AddClientIdToOpenIdConnectProvider { arn, .. }) => {
                ("iam:AddClientIDToOpenIDConnectProvider", arn.clone())
            }
            Oidc(RemoveClientIdFromOpenIdConnectProvider { arn, .. }) => {
                ("iam:RemoveClientIDFromOpenIDConnectProvider", arn.clone())
            }
            Oidc(UpdateOpenIdConnectProviderThumbprint { arn, .. }) => {
                ("iam:UpdateOpenIDConnectProviderThumbprint", arn.clone())
            }
            Role(CreateRole { name, path, .. }) => (
                "iam:CreateRole",
                format!("arn:aws:iam::{account}:role{path}{name}"),
            ),
            Role(GetRole { name }) => ("iam:GetRole", role(name)),
            Role(ListRoles { .. }) => ("iam:ListRoles", any()),
            Role(DeleteRole { name }) => ("iam:DeleteRole", role(name)),
            Role(UpdateAssumeRolePolicy { name, .. }) => ("iam:UpdateAssumeRolePolicy", role(name)),
            Role(UpdateRole { name, .. }) => ("iam:UpdateRole", role(name)),
            Role(UpdateRoleDescription { name, .. }) => ("iam:UpdateRoleDescription", role(name)),
            Role(PutRolePermissionsBoundary { name, .. }) => {
                ("iam:PutRolePermissionsBoundary", role(name))
            }
            Role(DeleteRolePermissionsBoundary { name }) => {
                ("iam:DeleteRolePermissionsBoundary", role(name))
            }
            Role(PutRolePolicy { role: r, .. }) => ("iam:PutRolePolicy", role(r)),
            Role(GetRolePolicy { role: r, .. }) => ("iam:GetRolePolicy", role(r)),
            Role(ListRolePolicies { role: r, .. }) => ("iam:ListRolePolicies", role(r)),
            Role(DeleteRolePolicy { role: r, .. }) => ("iam:DeleteRolePolicy", role(r)),
            Policy(CreatePolicy { name, path, .. }) => (
                "iam:CreatePolicy",
                format!("arn:aws:iam::{account}:policy{path}{name}"),
            ),
            Policy(GetPolicy { arn }) => ("iam:GetPolicy", arn.clone()),
            Policy(ListPolicies { .. }) => ("iam:ListPolicies", any()),
            Policy(DeletePolicy { arn }) => ("iam:DeletePolicy", arn.clone()),
            Policy(CreatePolicyVersion { arn, .. }) => ("iam:CreatePolicyVersion", arn.clone()),
            Policy(GetPolicyVersion { arn, .. }) => ("iam:GetPolicyVersion", arn.clone()),
            Policy(ListPolicyVersions { arn, .. }) => ("iam:ListPolicyVersions", arn.clone()),
            Policy(DeletePolicyVersion { arn, .. }) => ("iam:DeletePolicyVersion", arn.clone()),
            Policy(SetDefaultPolicyVersion { arn, .. }) => {
                ("iam:SetDefaultPolicyVersion", arn.clone())
            }
            Policy(AttachRolePolicy { role: r, .. }) => ("iam:AttachRolePolicy", role(r)),
            Policy(DetachRolePolicy { role: r, .. }) => ("iam:DetachRolePolicy", role(r)),
            Policy(ListAttachedRolePolicies { role: r, .. }) => {
                ("iam:ListAttachedRolePolicies", role(r))
            }
            Policy(ListEntitiesForPolicy { arn, .. }) => ("iam:ListEntitiesForPolicy", arn.clone()),
            Profile(CreateInstanceProfile { name, path, .. }) => (
                "iam:CreateInstanceProfile",
                format!("arn:aws:iam::{account}:instance-profile{path}{name}"),
            ),
            Profile(GetInstanceProfile { name }) => ("iam:GetInstanceProfile", profile(name)),
            Profile(ListInstanceProfiles { .. }) => ("iam:ListInstanceProfiles", any()),
            Profile(ListInstanceProfilesForRole { role: r, .. }) => {
                ("iam:ListInstanceProfilesForRole", role(r))
            }
            Profile(DeleteInstanceProfile { name }) => ("iam:DeleteInstanceProfile", profile(name)),
            Profile(AddRoleToInstanceProfile { profile: p, .. }) => {
                ("iam:AddRoleToInstanceProfile", profile(p))
            }
            Profile(RemoveRoleFromInstanceProfile { profile: p, .. }) => {
                ("iam:RemoveRoleFromInstanceProfile", profile(p))
            }
            Tag(TagResource { target, .. }) => {
                (tag_action(target, "Tag"), target_arn(target, account))
            }
            Tag(UntagResource { target, .. }) => {
                (tag_action(target, "Untag"), target_arn(target, account))
            }
            Tag(ListResourceTags { target, .. }) => {
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
