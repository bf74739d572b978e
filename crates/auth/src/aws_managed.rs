//! A few AWS managed policies, so `arn:aws:iam::aws:policy/…` ARNs that
//! walkthroughs attach resolve to their real documents.

use podiam_store::{ManagedPolicy, PolicyVersion};

const POLICIES: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "AmazonS3FullAccess",
        "ANPAIFIR6V6BVTRAHWINE",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3ReadOnlyAccess",
        "ANPAIZTJ4DXE7G6AGAE6M",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Resource":"*"}]}"#,
    ),
    (
        "IAMReadOnlyAccess",
        "ANPAJKSO7NDY4T57MWDSQ",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "ANPAI7XKCFMBPM3QQRRVQ",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    ),
];

/// The AWS managed policy named `name`, if podiam ships it.
pub fn get(name: &str) -> Option<ManagedPolicy> {
    POLICIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, id, doc)| build(n, id, doc))
}

/// Every AWS managed policy podiam ships.
pub fn all() -> Vec<ManagedPolicy> {
    POLICIES
        .iter()
        .map(|(n, id, doc)| build(n, id, doc))
        .collect()
}

fn build(name: &str, id: &str, doc: &str) -> ManagedPolicy {
    ManagedPolicy {
        name: name.to_string(),
        id: id.to_string(),
        path: "/".into(),
        arn: format!("arn:aws:iam::aws:policy/{name}"),
        description: None,
        default_version: "v1".into(),
        versions: vec![PolicyVersion {
            id: "v1".into(),
            document: doc.to_string(),
            // 2015-02-06, when AWS managed policies launched.
            created_at: 1_423_180_800,
        }],
        next_version: 2,
        tags: vec![],
        created_at: 1_423_180_800,
        updated_at: 1_423_180_800,
    }
}

/// The compiled default version of an AWS managed policy.
pub fn compiled(name: &str) -> Option<podiam_policy::Policy> {
    static CACHE: std::sync::OnceLock<Vec<(&'static str, podiam_policy::Policy)>> =
        std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| {
            POLICIES
                .iter()
                .filter_map(|(n, _, doc)| {
                    crate::compile_policy(doc, podiam_policy::PolicyKind::Identity).map(|p| (*n, p))
                })
                .collect()
        })
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| p.clone())
}
