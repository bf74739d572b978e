//! `podiam sa …` (local service accounts) and `podiam iamserviceaccount
//! create` (role + policies + service account or association, in one step,
//! like `eksctl create iamserviceaccount`).

use crate::client::{Client, ClientArgs, xml_field};
use anyhow::{Context, bail};
use http::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `podiam sa …`.
#[derive(Debug, clap::Subcommand)]
pub enum SaCommand {
    /// Create a service account.
    Create {
        /// Cluster.
        #[arg(long)]
        cluster: String,
        /// Namespace.
        #[arg(long, short = 'n', default_value = "default")]
        namespace: String,
        /// Name.
        name: String,
        /// `KEY=VALUE` annotations (repeatable).
        #[arg(long = "annotation")]
        annotations: Vec<String>,
    },
    /// Set (`KEY=VALUE`) or remove (`KEY-`) annotations, like kubectl annotate.
    Annotate {
        /// Cluster.
        #[arg(long)]
        cluster: String,
        /// Namespace.
        #[arg(long, short = 'n', default_value = "default")]
        namespace: String,
        /// Name.
        name: String,
        /// `KEY=VALUE` or `KEY-`.
        #[arg(required = true)]
        changes: Vec<String>,
    },
    /// Show one service account.
    Get {
        /// Cluster.
        #[arg(long)]
        cluster: String,
        /// Namespace.
        #[arg(long, short = 'n', default_value = "default")]
        namespace: String,
        /// Name.
        name: String,
    },
    /// List service accounts.
    List {
        /// Cluster.
        #[arg(long)]
        cluster: String,
        /// Only this namespace.
        #[arg(long, short = 'n')]
        namespace: Option<String>,
    },
    /// Delete a service account.
    Delete {
        /// Cluster.
        #[arg(long)]
        cluster: String,
        /// Namespace.
        #[arg(long, short = 'n', default_value = "default")]
        namespace: String,
        /// Name.
        name: String,
    },
}

fn parse_annotations(items: &[String]) -> anyhow::Result<(BTreeMap<String, String>, Vec<String>)> {
    let mut set = BTreeMap::new();
    let mut remove = Vec::new();
    for i in items {
        if let Some((k, v)) = i.split_once('=') {
            set.insert(k.to_string(), v.to_string());
        } else if let Some(k) = i.strip_suffix('-') {
            remove.push(k.to_string());
        } else {
            bail!("{i:?}: use KEY=VALUE to set or KEY- to remove");
        }
    }
    Ok((set, remove))
}

/// Runs `podiam sa …`.
pub async fn run_sa(cmd: SaCommand, client: &ClientArgs) -> anyhow::Result<Value> {
    let c = Client::new(client)?;
    let sa_path = |cl: &str, ns: &str, n: &str| {
        format!("/_podiam/clusters/{cl}/namespaces/{ns}/serviceaccounts/{n}")
    };
    Ok(match cmd {
        SaCommand::Create {
            cluster,
            namespace,
            name,
            annotations,
        } => {
            let (set, remove) = parse_annotations(&annotations)?;
            if !remove.is_empty() {
                bail!("create takes KEY=VALUE annotations only");
            }
            c.json(
                Method::POST,
                &format!("/_podiam/clusters/{cluster}/serviceaccounts"),
                Some(json!({"namespace": namespace, "name": name, "annotations": set})),
            )
            .await?
        }
        SaCommand::Annotate {
            cluster,
            namespace,
            name,
            changes,
        } => {
            let (set, remove) = parse_annotations(&changes)?;
            c.json(
                Method::POST,
                &format!("{}/annotations", sa_path(&cluster, &namespace, &name)),
                Some(json!({"set": set, "remove": remove})),
            )
            .await?
        }
        SaCommand::Get {
            cluster,
            namespace,
            name,
        } => {
            c.json(Method::GET, &sa_path(&cluster, &namespace, &name), None)
                .await?
        }
        SaCommand::List { cluster, namespace } => {
            let q = namespace
                .map(|n| format!("?namespace={n}"))
                .unwrap_or_default();
            c.json(
                Method::GET,
                &format!("/_podiam/clusters/{cluster}/serviceaccounts{q}"),
                None,
            )
            .await?
        }
        SaCommand::Delete {
            cluster,
            namespace,
            name,
        } => {
            c.json(Method::DELETE, &sa_path(&cluster, &namespace, &name), None)
                .await?
        }
    })
}

/// `podiam iamserviceaccount create` arguments.
#[derive(Debug, clap::Args)]
pub struct IamServiceAccountArgs {
    /// Cluster.
    #[arg(long)]
    cluster: String,
    /// Namespace.
    #[arg(long, short = 'n', default_value = "default")]
    namespace: String,
    /// Service account name.
    #[arg(long)]
    name: String,
    /// Managed policies to attach (repeatable).
    #[arg(long = "attach-policy-arn")]
    policy_arns: Vec<String>,
    /// Role name (default podiam-CLUSTER-NAMESPACE-NAME).
    #[arg(long)]
    role_name: Option<String>,
    /// Use EKS Pod Identity (an association) instead of IRSA (an annotation).
    #[arg(long)]
    pod_identity: bool,
    /// Re-point a service account (or association) that already uses another role.
    #[arg(long)]
    override_existing_serviceaccounts: bool,
}

/// The IRSA trust policy the AWS docs recommend: `StringEquals` on `:sub` and `:aud`.
pub fn irsa_trust_policy(account: &str, issuer: &str, namespace: &str, name: &str) -> Value {
    let hp = issuer
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{account}:oidc-provider/{hp}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{hp}:sub"): format!("system:serviceaccount:{namespace}:{name}"),
                format!("{hp}:aud"): "sts.amazonaws.com",
            }}
        }]
    })
}

/// The trust policy EKS Pod Identity requires.
pub fn pod_identity_trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowEksAuthToAssumeRoleForPodIdentity",
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"]
        }]
    })
}

/// Runs `podiam iamserviceaccount create`, as `eksctl create iamserviceaccount`
/// does: idempotent when the service account already points at the role,
/// refusing to re-point it without `--override-existing-serviceaccounts`, and
/// checking all of that before it changes anything.
pub async fn create_iam_service_account(
    a: IamServiceAccountArgs,
    client: &ClientArgs,
) -> anyhow::Result<Value> {
    let c = Client::new(client)?;
    let cluster = c
        .json(Method::GET, &format!("/clusters/{}", a.cluster), None)
        .await
        .with_context(|| {
            format!(
                "cluster {} (create it with `podiam cluster create`)",
                a.cluster
            )
        })?;
    let issuer = cluster["cluster"]["identity"]["oidc"]["issuer"]
        .as_str()
        .context("the cluster has no issuer")?
        .to_string();
    let account = cluster["cluster"]["arn"]
        .as_str()
        .and_then(|arn| arn.split(':').nth(4))
        .unwrap_or("000000000000")
        .to_string();
    let mut role_name = a
        .role_name
        .clone()
        .unwrap_or_else(|| format!("podiam-{}-{}-{}", a.cluster, a.namespace, a.name));
    role_name.truncate(64);
    let role_arn = format!("arn:aws:iam::{account}:role/{role_name}");
    let who = format!(
        "service account {}/{} in cluster {}",
        a.namespace, a.name, a.cluster
    );
    let sa_path = format!(
        "/_podiam/clusters/{}/namespaces/{}/serviceaccounts/{}",
        a.cluster, a.namespace, a.name
    );
    let mut notes = Vec::new();

    // 1. What the service account points at today.
    let sa = c.json(Method::GET, &sa_path, None).await.ok();
    let association = if a.pod_identity {
        let list = c.associations_of(&a.cluster, &a.namespace, &a.name).await?;
        match list.first().and_then(|x| x["associationId"].as_str()) {
            Some(id) => Some(
                c.json(
                    Method::GET,
                    &format!("/clusters/{}/pod-identity-associations/{id}", a.cluster),
                    None,
                )
                .await?["association"]
                    .clone(),
            ),
            None => None,
        }
    } else {
        None
    };
    let current = if a.pod_identity {
        association.as_ref().and_then(|x| x["roleArn"].as_str())
    } else {
        sa.as_ref()
            .and_then(|x| x["metadata"]["annotations"][ROLE_ANNOTATION].as_str())
    }
    .map(str::to_string);
    let via = if a.pod_identity {
        "its Pod Identity association uses"
    } else {
        "it is annotated with eks.amazonaws.com/role-arn ="
    };
    if let Some(cur) = current.as_deref()
        && cur != role_arn
    {
        if !a.override_existing_serviceaccounts {
            bail!(
                "{who} already exists and {via} {cur}; this would re-point it to {role_arn}. \
                 Nothing was changed. Re-run with --override-existing-serviceaccounts to re-point it, \
                 or with --role-name {} to keep the role it has.",
                cur.rsplit('/').next().unwrap_or(cur)
            );
        }
        notes.push(format!(
            "re-pointed {who} from {cur} (--override-existing-serviceaccounts)"
        ));
    }

    // 2. The role: created, or kept when it already trusts this service account.
    let trust = if a.pod_identity {
        pod_identity_trust_policy()
    } else {
        irsa_trust_policy(&account, &issuer, &a.namespace, &a.name)
    };
    match c
        .query(
            "iam",
            &[
                ("Action", "GetRole"),
                ("Version", "2010-05-08"),
                ("RoleName", &role_name),
            ],
        )
        .await
    {
        Ok(xml) => {
            let doc = xml_field(&xml, "AssumeRolePolicyDocument").unwrap_or_default();
            let doc: String = form_urlencoded::parse(format!("d={doc}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .collect();
            let admits = if a.pod_identity {
                doc.contains("pods.eks.amazonaws.com")
            } else {
                doc.contains(&format!("system:serviceaccount:{}:{}", a.namespace, a.name))
            };
            if !admits {
                bail!(
                    "role {role_name} already exists and its trust policy does not admit {who} \
                     ({}). Nothing was changed. Choose another --role-name, or edit its trust \
                     policy with `aws iam update-assume-role-policy`.",
                    if a.pod_identity {
                        "no pods.eks.amazonaws.com principal".to_string()
                    } else {
                        format!(
                            "no system:serviceaccount:{}:{} subject",
                            a.namespace, a.name
                        )
                    }
                );
            }
            notes.push(format!(
                "role {role_name} already exists and trusts {who}; kept"
            ));
        }
        Err(e) if e.to_string().starts_with("NoSuchEntity") => {
            if !a.pod_identity {
                ensure_oidc_provider(&c, &issuer, &mut notes).await?;
            }
            c.query(
                "iam",
                &[
                    ("Action", "CreateRole"),
                    ("Version", "2010-05-08"),
                    ("RoleName", &role_name),
                    (
                        "AssumeRolePolicyDocument",
                        &serde_json::to_string_pretty(&trust)?,
                    ),
                    (
                        "Description",
                        &format!(
                            "podiam iamserviceaccount {}/{} in cluster {}",
                            a.namespace, a.name, a.cluster
                        ),
                    ),
                ],
            )
            .await?;
        }
        Err(e) => return Err(e),
    }
    // AttachRolePolicy is idempotent.
    for p in &a.policy_arns {
        c.query(
            "iam",
            &[
                ("Action", "AttachRolePolicy"),
                ("Version", "2010-05-08"),
                ("RoleName", &role_name),
                ("PolicyArn", p),
            ],
        )
        .await?;
    }

    // 3. The service account and what points it at the role.
    if sa.is_none() {
        c.json(
            Method::POST,
            &format!("/_podiam/clusters/{}/serviceaccounts", a.cluster),
            Some(json!({"namespace": a.namespace, "name": a.name})),
        )
        .await?;
    }
    let mut association = association.unwrap_or(Value::Null);
    if current.as_deref() == Some(role_arn.as_str()) {
        notes.push(format!("{who} already points at {role_arn}; unchanged"));
    } else if a.pod_identity {
        let base = format!("/clusters/{}/pod-identity-associations", a.cluster);
        let v = match association["associationId"].as_str() {
            Some(id) => {
                c.json(
                    Method::POST,
                    &format!("{base}/{id}"),
                    Some(json!({"roleArn": role_arn})),
                )
                .await?
            }
            None => {
                c.json(
                    Method::POST,
                    &base,
                    Some(json!({"namespace": a.namespace, "serviceAccount": a.name, "roleArn": role_arn})),
                )
                .await?
            }
        };
        association = v["association"].clone();
    } else {
        c.json(
            Method::POST,
            &format!("{sa_path}/annotations"),
            Some(json!({"set": {ROLE_ANNOTATION: role_arn}})),
        )
        .await?;
    }
    let sa = c.json(Method::GET, &sa_path, None).await?;
    Ok(json!({
        "roleArn": role_arn,
        "roleName": role_name,
        "trustPolicy": trust,
        "attachedPolicies": a.policy_arns,
        "serviceAccount": sa,
        "association": association,
        "notes": notes,
    }))
}

const ROLE_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// Creates the IAM OIDC provider for `issuer` unless it exists.
async fn ensure_oidc_provider(
    c: &Client,
    issuer: &str,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let providers = c
        .query(
            "iam",
            &[
                ("Action", "ListOpenIDConnectProviders"),
                ("Version", "2010-05-08"),
            ],
        )
        .await?;
    let hp = issuer
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    if !providers.contains(&format!("oidc-provider/{hp}</Arn>")) {
        c.query(
            "iam",
            &[
                ("Action", "CreateOpenIDConnectProvider"),
                ("Version", "2010-05-08"),
                ("Url", issuer),
                ("ClientIDList.member.1", "sts.amazonaws.com"),
            ],
        )
        .await?;
        notes.push(format!("created the IAM OIDC provider for {issuer}"));
    }
    Ok(())
}
