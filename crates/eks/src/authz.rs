//! Authorization: every EKS request maps to one IAM action on one resource.

use crate::action::EksRequest;
use crate::error::EksError;
use crate::ops::{Tagged, tagged, tags_of_target};
use podiam_auth::{Caller, Check, Services};

impl EksRequest {
    /// The IAM action and resource this request is authorized as.
    pub fn authz(&self, region: &str, account: &str) -> (&'static str, String) {
        let arn = |n: &str| format!("arn:aws:eks:{region}:{account}:cluster/{n}");
        let assoc = |c: &str, id: &str| {
            format!("arn:aws:eks:{region}:{account}:podidentityassociation/{c}/{id}")
        };
        match self {
            // No resource-level permissions (Service Authorization Reference).
            EksRequest::CreateCluster(_) => ("eks:CreateCluster", "*".into()),
            EksRequest::DescribeCluster(n) => ("eks:DescribeCluster", arn(n)),
            EksRequest::ListClusters { .. } => ("eks:ListClusters", "*".into()),
            EksRequest::DeleteCluster(n) => ("eks:DeleteCluster", arn(n)),
            EksRequest::MintToken { cluster, .. } => {
                ("podiam:CreateServiceAccountToken", arn(cluster))
            }
            EksRequest::RotateKeys { cluster, .. } => {
                ("podiam:RotateClusterSigningKey", arn(cluster))
            }
            EksRequest::ListKeys { cluster } => ("podiam:ListClusterSigningKeys", arn(cluster)),
            EksRequest::CreateAssociation { cluster, .. } => {
                ("eks:CreatePodIdentityAssociation", arn(cluster))
            }
            EksRequest::CreateServiceAccount { cluster, .. } => {
                ("podiam:CreateServiceAccount", arn(cluster))
            }
            EksRequest::ListServiceAccounts { cluster, .. } => {
                ("podiam:ListServiceAccounts", arn(cluster))
            }
            EksRequest::GetServiceAccount { cluster, .. } => {
                ("podiam:GetServiceAccount", arn(cluster))
            }
            EksRequest::AnnotateServiceAccount { cluster, .. } => {
                ("podiam:UpdateServiceAccount", arn(cluster))
            }
            EksRequest::DeleteServiceAccount { cluster, .. } => {
                ("podiam:DeleteServiceAccount", arn(cluster))
            }
            EksRequest::ListAssociations { cluster, .. } => {
                ("eks:ListPodIdentityAssociations", arn(cluster))
            }
            EksRequest::DescribeAssociation { cluster, id } => {
                ("eks:DescribePodIdentityAssociation", assoc(cluster, id))
            }
            EksRequest::UpdateAssociation { cluster, id, .. } => {
                ("eks:UpdatePodIdentityAssociation", assoc(cluster, id))
            }
            EksRequest::DeleteAssociation { cluster, id } => {
                ("eks:DeletePodIdentityAssociation", assoc(cluster, id))
            }
            EksRequest::TagResource { arn, .. } => ("eks:TagResource", arn.clone()),
            EksRequest::UntagResource { arn, .. } => ("eks:UntagResource", arn.clone()),
            EksRequest::ListTagsForResource { arn } => ("eks:ListTagsForResource", arn.clone()),
        }
    }

    /// The authorizations this request needs: its action, and for an
    /// association that names a role, `iam:PassRole` on that role ("EKS Pod
    /// Identity uses PassRole to connect a role to a Kubernetes service
    /// account", EKS User Guide), which also keeps it in the caller's account.
    pub fn checks(&self, region: &str, account: &str) -> Vec<Check> {
        let (action, resource) = self.authz(region, account);
        let mut check = Check::new(action, resource);
        match self {
            EksRequest::TagResource { tags, .. } => {
                let tags: Vec<(String, String)> = tags.clone().into_iter().collect();
                check = check.with_request_tags(&tags, &[]);
            }
            EksRequest::UntagResource { keys, .. } => {
                check.multi_keys.push(("aws:TagKeys".into(), keys.clone()));
            }
            _ => {}
        }
        let mut checks = vec![check];
        if let EksRequest::CreateAssociation { spec, .. }
        | EksRequest::UpdateAssociation { spec, .. } = self
            && let Some(role) = spec.role_arn.as_deref()
        {
            checks.push(
                Check::new("iam:PassRole", role)
                    .key("iam:PassedToService", "pods.eks.amazonaws.com"),
            );
        }
        checks
    }
}

impl EksRequest {
    /// The cluster, or association, the request acts on.
    fn target(&self, region: &str, account: &str) -> Option<Tagged<'_>> {
        match self {
            EksRequest::CreateCluster(_) | EksRequest::ListClusters { .. } => None,
            EksRequest::TagResource { arn, .. }
            | EksRequest::UntagResource { arn, .. }
            | EksRequest::ListTagsForResource { arn } => tagged(region, account, arn),
            EksRequest::DescribeAssociation { cluster, id }
            | EksRequest::UpdateAssociation { cluster, id, .. }
            | EksRequest::DeleteAssociation { cluster, id } => {
                Some(Tagged::Association { cluster, id })
            }
            EksRequest::DescribeCluster(c) | EksRequest::DeleteCluster(c) => {
                Some(Tagged::Cluster(c))
            }
            EksRequest::MintToken { cluster, .. }
            | EksRequest::RotateKeys { cluster, .. }
            | EksRequest::ListKeys { cluster }
            | EksRequest::CreateAssociation { cluster, .. }
            | EksRequest::CreateServiceAccount { cluster, .. }
            | EksRequest::ListServiceAccounts { cluster, .. }
            | EksRequest::GetServiceAccount { cluster, .. }
            | EksRequest::AnnotateServiceAccount { cluster, .. }
            | EksRequest::DeleteServiceAccount { cluster, .. }
            | EksRequest::ListAssociations { cluster, .. } => Some(Tagged::Cluster(cluster)),
        }
    }

    /// [`checks`](Self::checks), the first with the tags of the cluster or
    /// association it acts on as `aws:ResourceTag/*`.
    pub fn checks_in(&self, svc: &Services, account: &str) -> Result<Vec<Check>, EksError> {
        let mut checks = self.checks(&svc.config.region, account);
        let tags = match self.target(&svc.config.region, account) {
            Some(target) => tags_of_target(svc, account, &target)?,
            None => None,
        };
        if let (Some(tags), Some(first)) = (tags, checks.first_mut()) {
            *first = std::mem::take(first).with_resource_tags(&tags);
        }
        Ok(checks)
    }
}

/// EKS's refusal message.
pub(crate) fn denied(caller: &Caller, check: &Check) -> EksError {
    EksError::AccessDenied(format!(
        "User: {} is not authorized to perform: {} on resource: {}",
        caller.arn(),
        check.action,
        check.resource
    ))
}
