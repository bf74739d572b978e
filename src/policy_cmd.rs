//! `podiam policy check` and `podiam policy simulate`: the policy engine,
//! offline.

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use podiam_policy::{Evaluation, Policy, PolicyKind, Principal, RequestContext, evaluate};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Policy kinds as the CLI names them.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// An identity-based (managed or inline) policy.
    Identity,
    /// A resource-based policy, such as a bucket policy.
    Resource,
    /// A role trust policy.
    Trust,
    /// A session policy.
    Session,
    /// A permissions boundary.
    Boundary,
}

impl From<Kind> for PolicyKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Identity => PolicyKind::Identity,
            Kind::Resource => PolicyKind::Resource,
            Kind::Trust => PolicyKind::Trust,
            Kind::Session => PolicyKind::Session,
            Kind::Boundary => PolicyKind::Boundary,
        }
    }
}

/// `podiam policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy document with AWS's grammar (exit 1 when malformed).
    Check {
        /// The policy file.
        file: PathBuf,
        /// What kind of policy it is.
        #[arg(long, value_enum, default_value = "identity")]
        kind: Kind,
    },
    /// Decide one request offline and explain the decision.
    Simulate(Box<SimulateArgs>),
}

/// `podiam policy simulate` arguments.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Identity policy (repeatable).
    #[arg(long = "policy")]
    policies: Vec<PathBuf>,
    /// Session policy (repeatable).
    #[arg(long = "session-policy")]
    session_policies: Vec<PathBuf>,
    /// Permissions boundary.
    #[arg(long)]
    boundary: Option<PathBuf>,
    /// Resource-based policy (e.g. a bucket policy).
    #[arg(long)]
    resource_policy: Option<PathBuf>,
    /// The role's trust policy (for sts:AssumeRole* actions).
    #[arg(long)]
    trust_policy: Option<PathBuf>,
    /// The caller (default: a user in the resource's account).
    #[arg(long)]
    principal: Option<String>,
    /// The account that owns the resource (default: the one in its ARN,
    /// else the principal's). Another account's resource needs its
    /// owner's grant in --resource-policy.
    #[arg(long)]
    resource_account: Option<String>,
    /// The action, e.g. s3:GetObject.
    #[arg(long)]
    action: String,
    /// The resource ARN.
    #[arg(long, default_value = "*")]
    resource: String,
    /// A JSON object of condition keys: key → string or list of strings.
    #[arg(long)]
    context_file: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn load(path: &Path, kind: PolicyKind) -> anyhow::Result<Policy> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Policy::parse(&text, kind)
        .map_err(|e| anyhow::anyhow!("{}: MalformedPolicyDocument: {e}", path.display()))
}

/// The caller described by an ARN (or a service name).
pub fn principal_from(arn: &str) -> Principal {
    if arn == "*" || arn.eq_ignore_ascii_case("anonymous") {
        return Principal::anonymous();
    }
    if !arn.starts_with("arn:") {
        return Principal::service(arn);
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let account = parts.get(4).copied().unwrap_or_default();
    let resource = parts.get(5).copied().unwrap_or_default();
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        let role = rest.split('/').next().unwrap_or_default();
        return Principal::assumed_role(arn, format!("arn:aws:iam::{account}:role/{role}"));
    }
    if let Some(rest) = resource.strip_prefix("role/") {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        return Principal::assumed_role(
            format!("arn:aws:sts::{account}:assumed-role/{name}/simulation"),
            arn,
        );
    }
    if resource.starts_with("oidc-provider/") || resource.starts_with("saml-provider/") {
        return Principal::web_identity(arn);
    }
    if resource == "root" {
        return Principal::account_root(account);
    }
    if resource.starts_with("federated-user/") {
        return Principal::federated_user(arn);
    }
    Principal::iam_user(arn)
}

/// Runs a policy subcommand.
pub fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Check { file, kind } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            match Policy::parse(&text, kind.into()) {
                Ok(p) => {
                    println!(
                        "{}: OK ({} statements)",
                        file.display(),
                        p.statement_count()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{}: MalformedPolicyDocument: {e}", file.display());
                    Ok(ExitCode::from(1))
                }
            }
        }
        PolicyCommand::Simulate(args) => {
            let SimulateArgs {
                policies,
                session_policies,
                boundary,
                resource_policy,
                trust_policy,
                principal,
                resource_account,
                action,
                resource,
                context_file,
                json,
            } = *args;
            if resource_policy.is_some() && trust_policy.is_some() {
                bail!(
                    "--resource-policy and --trust-policy are exclusive: a role's trust policy is its resource policy"
                );
            }
            let identity: Vec<(String, Policy)> = policies
                .iter()
                .map(|p| Ok((p.display().to_string(), load(p, PolicyKind::Identity)?)))
                .collect::<anyhow::Result<_>>()?;
            let session: Vec<(String, Policy)> = session_policies
                .iter()
                .map(|p| Ok((p.display().to_string(), load(p, PolicyKind::Session)?)))
                .collect::<anyhow::Result<_>>()?;
            let boundary = boundary
                .map(|p| {
                    Ok::<_, anyhow::Error>((
                        p.display().to_string(),
                        load(&p, PolicyKind::Boundary)?,
                    ))
                })
                .transpose()?;
            let resource_pol = match (&resource_policy, &trust_policy) {
                (Some(p), _) => Some((p.display().to_string(), load(p, PolicyKind::Resource)?)),
                (_, Some(p)) => Some((p.display().to_string(), load(p, PolicyKind::Trust)?)),
                _ => None,
            };
            // The resource's account: --resource-account, else its ARN's,
            // else the principal's (as AWS's simulator assumes for ARNs
            // without one, such as S3's).
            let arn_account = resource
                .split(':')
                .nth(4)
                .filter(|a| !a.is_empty())
                .map(str::to_string);
            let principal = principal_from(&principal.unwrap_or_else(|| {
                format!(
                    "arn:aws:iam::{}:user/simulated-user",
                    arn_account.as_deref().unwrap_or("123456789012")
                )
            }));
            let account = resource_account
                .clone()
                .or(arn_account)
                .or_else(|| principal.account.clone())
                .unwrap_or_else(|| "123456789012".to_string());
            let mut b = RequestContext::builder(principal, action, resource);
            if let Some(f) = context_file {
                let text = std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?;
                let v: Value = serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", f.display()))?;
                let Value::Object(m) = v else {
                    bail!("{} must hold a JSON object of key → value(s)", f.display());
                };
                for (k, v) in m {
                    b = match v {
                        Value::String(s) => b.key(k, s),
                        Value::Array(a) => b.multi_key(
                            k,
                            a.iter()
                                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)),
                        ),
                        other => b.key(k, other.to_string()),
                    };
                }
            }
            let ctx = b.build();
            let mut eval = Evaluation::new().with_resource_account(account);
            for (n, p) in &identity {
                eval = eval.with_identity(n, p);
            }
            for (n, p) in &session {
                eval = eval.with_session(n, p);
            }
            if let Some((n, p)) = &boundary {
                eval = eval.with_boundary(n, p);
            }
            if let Some((n, p)) = &resource_pol {
                eval = eval.with_resource(n, p);
            }
            let outcome = evaluate(&eval, &ctx);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "decision": outcome.decision.to_string(),
                        "explanation": outcome.explanation,
                    }))?
                );
            } else {
                println!("{}", outcome.decision);
                println!("{}", outcome.explanation);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
