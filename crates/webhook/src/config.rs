//! The webhook's configuration: upstream's flags, plus podiam's opt-in extras.

use std::collections::BTreeMap;

/// Default `--annotation-prefix`.
pub const DEFAULT_ANNOTATION_PREFIX: &str = "eks.amazonaws.com";
/// Default `--token-audience`.
pub const DEFAULT_TOKEN_AUDIENCE: &str = "sts.amazonaws.com";
/// Default `--token-mount-path`.
pub const DEFAULT_TOKEN_MOUNT_PATH: &str = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
/// Default `--token-expiration` (24 h, EKS's maximum).
pub const DEFAULT_TOKEN_EXPIRATION: i64 = 86400;
/// The lower bound of the jitter applied to a default Pod Identity token (22 h).
pub const DEFAULT_MIN_TOKEN_EXPIRATION: i64 = 79200;
/// kube-apiserver's minimum `expirationSeconds`; smaller values are raised to it.
pub const MIN_TOKEN_EXPIRATION: i64 = 600;
/// The IRSA volume name (hard-coded upstream).
pub const IRSA_VOLUME_NAME: &str = "aws-iam-token";
/// The IRSA token file name inside the volume.
pub const IRSA_TOKEN_PATH: &str = "token";
/// Default `--container-credentials-audience`.
pub const DEFAULT_CC_AUDIENCE: &str = "pods.eks.amazonaws.com";
/// Default `--container-credentials-token-mount-path`.
pub const DEFAULT_CC_MOUNT_PATH: &str = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount";
/// Default `--container-credentials-token-volume-name`.
pub const DEFAULT_CC_VOLUME_NAME: &str = "eks-pod-identity-token";
/// Default `--container-credentials-token-path`.
pub const DEFAULT_CC_TOKEN_PATH: &str = "eks-pod-identity-token";
/// Default `--container-credentials-full-uri` (the agent's IPv4 link-local address).
pub const DEFAULT_CC_FULL_URI: &str = "http://169.254.170.23/v1/credentials";
/// The agent's IPv6 address, chosen by `--agent-ip-family ipv6`.
pub const DEFAULT_CC_FULL_URI_V6: &str = "http://[fd00:ec2::23]/v1/credentials";
/// The label added to pods that get Pod Identity.
pub const POD_IDENTITY_LABEL: &str = "eks.amazonaws.com/pod-identity";

/// Pod Identity (container credentials) injection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerCredentialsConfig {
    /// Token audience.
    pub audience: String,
    /// Where the token volume is mounted.
    pub mount_path: String,
    /// The token volume's name.
    pub volume_name: String,
    /// The token file name inside the volume.
    pub token_path: String,
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub full_uri: String,
}

impl Default for ContainerCredentialsConfig {
    fn default() -> Self {
        ContainerCredentialsConfig {
            audience: DEFAULT_CC_AUDIENCE.into(),
            mount_path: DEFAULT_CC_MOUNT_PATH.into(),
            volume_name: DEFAULT_CC_VOLUME_NAME.into(),
            token_path: DEFAULT_CC_TOKEN_PATH.into(),
            full_uri: DEFAULT_CC_FULL_URI.into(),
        }
    }
}

/// `--compose-role-arn`: role annotations without `arn:` are role names in this account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeRoleArn {
    /// Partition (`aws`, `aws-cn`, …).
    pub partition: String,
    /// Account id.
    pub account_id: String,
}

/// Which address family the node agent is reached on (podiam extra).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AgentIpFamily {
    /// `169.254.170.23` (upstream's only choice).
    #[default]
    Ipv4,
    /// `[fd00:ec2::23]`, for IPv6-only clusters.
    Ipv6,
}

/// Everything the mutation depends on besides the pod and its service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `--annotation-prefix`.
    pub annotation_prefix: String,
    /// `--token-audience`.
    pub token_audience: String,
    /// `--token-mount-path`.
    pub token_mount_path: String,
    /// `--token-expiration` (seconds).
    pub token_expiration: i64,
    /// `--aws-default-region` (empty: no region variables).
    pub aws_default_region: String,
    /// `--sts-regional-endpoint`.
    pub sts_regional_endpoint: bool,
    /// `--compose-role-arn`.
    pub compose_role_arn: Option<ComposeRoleArn>,
    /// The `--container-credentials-*` flags.
    pub container_credentials: ContainerCredentialsConfig,
    /// podiam extra: set `spec.securityContext.fsGroup` to this group on pods
    /// that run as non-root and set none, so the token file is readable
    /// (upstream issue #8).
    pub non_root_fs_group: Option<i64>,
    /// podiam extra: which agent address goes into
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI` when the URI flag is left at its default.
    pub agent_ip_family: AgentIpFamily,
    /// Jitter the default 86400 s expiry for IRSA tokens too. Upstream applied
    /// it to both modes for a while and now only to Pod Identity; off by default.
    pub jitter_web_identity: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            annotation_prefix: DEFAULT_ANNOTATION_PREFIX.into(),
            token_audience: DEFAULT_TOKEN_AUDIENCE.into(),
            token_mount_path: DEFAULT_TOKEN_MOUNT_PATH.into(),
            token_expiration: DEFAULT_TOKEN_EXPIRATION,
            aws_default_region: String::new(),
            sts_regional_endpoint: false,
            compose_role_arn: None,
            container_credentials: ContainerCredentialsConfig::default(),
            non_root_fs_group: None,
            agent_ip_family: AgentIpFamily::Ipv4,
            jitter_web_identity: false,
        }
    }
}

impl WebhookConfig {
    /// The Pod Identity URI after the IPv6 selection.
    pub fn full_uri(&self) -> &str {
        if self.agent_ip_family == AgentIpFamily::Ipv6
            && self.container_credentials.full_uri == DEFAULT_CC_FULL_URI
        {
            DEFAULT_CC_FULL_URI_V6
        } else {
            &self.container_credentials.full_uri
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.annotation_prefix)
    }

    /// Parses a service account's annotations the way upstream's cache does.
    pub fn service_account_entry(&self, annotations: &BTreeMap<String, String>) -> SaEntry {
        let role_arn =
            annotations
                .get(&self.key("role-arn"))
                .map(|arn| match &self.compose_role_arn {
                    Some(c) if !arn.contains("arn:") => {
                        format!("arn:{}:iam::{}:role/{arn}", c.partition, c.account_id)
                    }
                    _ => arn.clone(),
                });
        let audience = annotations
            .get(&self.key("audience"))
            .cloned()
            .unwrap_or_else(|| self.token_audience.clone());
        let use_regional_sts = annotations
            .get(&self.key("sts-regional-endpoints"))
            .and_then(|v| parse_go_bool(v))
            .unwrap_or(self.sts_regional_endpoint);
        let token_expiration = annotations
            .get(&self.key("token-expiration"))
            .and_then(|v| parse_go_int(v))
            .map(validate_min_token_expiration)
            .unwrap_or(self.token_expiration);
        SaEntry {
            role_arn,
            audience,
            use_regional_sts,
            token_expiration,
        }
    }
}

/// A service account as upstream's cache stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaEntry {
    /// The role ARN annotation (after composition), if present.
    pub role_arn: Option<String>,
    /// Token audience.
    pub audience: String,
    /// Whether to inject `AWS_STS_REGIONAL_ENDPOINTS=regional`.
    pub use_regional_sts: bool,
    /// Token lifetime in seconds.
    pub token_expiration: i64,
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`.
pub fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Raises values below [`MIN_TOKEN_EXPIRATION`] to it.
pub fn validate_min_token_expiration(v: i64) -> i64 {
    v.max(MIN_TOKEN_EXPIRATION)
}

/// The partition of a region, as upstream's `--compose-role-arn` derives it.
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eusc-") {
        "aws-eusc"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_parsers() {
        assert_eq!(parse_go_int("+10"), Some(10));
        assert_eq!(parse_go_int("-1"), Some(-1));
        assert_eq!(parse_go_int(" 1"), None);
        assert_eq!(parse_go_int("1_0"), None);
        assert_eq!(parse_go_int("99999999999999999999"), None);
        assert_eq!(parse_go_bool("T"), Some(true));
        assert_eq!(parse_go_bool("yes"), None);
        assert_eq!(partition_for_region("us-isob-east-1"), "aws-iso-b");
    }

    #[test]
    fn sa_entry_defaults_and_floor() {
        let cfg = WebhookConfig::default();
        let mut a = BTreeMap::new();
        a.insert("eks.amazonaws.com/token-expiration".into(), "5".into());
        a.insert(
            "eks.amazonaws.com/sts-regional-endpoints".into(),
            "bogus".into(),
        );
        let e = cfg.service_account_entry(&a);
        assert_eq!(e.token_expiration, 600);
        assert!(!e.use_regional_sts);
        assert_eq!(e.audience, "sts.amazonaws.com");
        assert_eq!(e.role_arn, None);
    }
}
