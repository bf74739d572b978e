//! The pure mutation: pod + service account + configuration + associations →
//! JSONPatch, with the reason it did (or did not) mutate.
//!
//! It follows upstream's `buildPodPatchConfig` / `getPodSpecPatch` /
//! `addEnvToContainer` (aws/amazon-eks-pod-identity-webhook,
//! `pkg/handler/handler.go`) rule for rule; see the crate docs for the list.

use crate::config::{
    DEFAULT_MIN_TOKEN_EXPIRATION, DEFAULT_TOKEN_EXPIRATION, IRSA_TOKEN_PATH, IRSA_VOLUME_NAME,
    POD_IDENTITY_LABEL, SaEntry, WebhookConfig, parse_go_int, validate_min_token_expiration,
};
use crate::goorder::{CONTAINER, VOLUME, write_struct};
use crate::json::{Json, write_go_string, write_raw};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// A service account, reduced to what the webhook reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccountInfo {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Annotations (all of them, or only the prefixed ones).
    pub annotations: BTreeMap<String, String>,
}

impl ServiceAccountInfo {
    /// From a k8s-openapi ServiceAccount.
    pub fn from_k8s(sa: &k8s_openapi::api::core::v1::ServiceAccount) -> ServiceAccountInfo {
        ServiceAccountInfo {
            namespace: sa.metadata.namespace.clone().unwrap_or_default(),
            name: sa.metadata.name.clone().unwrap_or_default(),
            annotations: sa.metadata.annotations.clone().unwrap_or_default(),
        }
    }

    /// From a ServiceAccount document (YAML or JSON, parsed).
    pub fn from_doc(doc: &Json) -> ServiceAccountInfo {
        let annotations = doc
            .path(&["metadata", "annotations"])
            .and_then(|a| match a {
                Json::Obj(m) => Some(
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                        .collect(),
                ),
                _ => None,
            })
            .unwrap_or_default();
        let field = |name: &str| {
            doc.path(&["metadata", name])
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string()
        };
        ServiceAccountInfo {
            namespace: field("namespace"),
            name: field("name"),
            annotations,
        }
    }

    /// Every ServiceAccount in a document: a list, a `kind: List`
    /// (`items`), or a single one.
    pub fn all_in(doc: &Json) -> Vec<ServiceAccountInfo> {
        match doc {
            Json::Arr(items) => items.iter().map(Self::from_doc).collect(),
            d => match d.get("items").and_then(Json::as_array) {
                Some(items) => items.iter().map(Self::from_doc).collect(),
                None => vec![Self::from_doc(d)],
            },
        }
    }
}

/// The (namespace, service account) pairs that have a Pod Identity association.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Associations {
    set: HashSet<(String, String)>,
}

impl Associations {
    /// An empty set.
    pub fn new() -> Associations {
        Associations::default()
    }

    /// Adds a pair.
    pub fn insert(&mut self, namespace: impl Into<String>, service_account: impl Into<String>) {
        self.set.insert((namespace.into(), service_account.into()));
    }

    /// Whether the pair has an association.
    pub fn contains(&self, namespace: &str, service_account: &str) -> bool {
        self.set
            .contains(&(namespace.to_string(), service_account.to_string()))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Parses upstream's container-credentials file:
    /// `{"identities":[{"namespace":"…","serviceAccount":"…"}]}`. An empty
    /// (or whitespace-only) file is the empty set, as upstream treats it.
    pub fn from_identities_json(bytes: &[u8]) -> Result<Associations, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default)]
            identities: Option<Vec<Identity>>,
        }
        #[derive(serde::Deserialize)]
        struct Identity {
            #[serde(default)]
            namespace: String,
            #[serde(default, rename = "serviceAccount")]
            service_account: String,
        }
        let mut out = Associations::new();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(out);
        }
        let file: File = serde_json::from_slice(bytes)?;
        for i in file.identities.unwrap_or_default() {
            out.insert(i.namespace, i.service_account);
        }
        Ok(out)
    }
}

/// The randomness behind the Pod Identity expiry jitter (injectable so tests
/// are deterministic, as upstream's tests inject an always-zero source).
pub trait RandomSource: Send {
    /// A value in `0..n` (`n > 0`), like Go's `rand.Int63n`.
    fn int63n(&mut self, n: i64) -> i64;
}

/// Always 0: a default token gets exactly 79200 s, as in upstream's fixtures.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZeroRandom;

impl RandomSource for ZeroRandom {
    fn int63n(&mut self, _n: i64) -> i64 {
        0
    }
}

/// A non-cryptographic generator seeded from the process's hash keys.
#[derive(Debug, Clone)]
pub struct SystemRandom(u64);

impl Default for SystemRandom {
    fn default() -> Self {
        use std::hash::BuildHasher;
        let seed =
            std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
        SystemRandom(seed | 1)
    }
}

impl RandomSource for SystemRandom {
    fn int63n(&mut self, n: i64) -> i64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 1;
        if n <= 0 { 0 } else { (v % n as u64) as i64 }
    }
}

/// Which credentials a pod gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// IRSA: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`.
    WebIdentity,
    /// EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_FULL_URI` + token file.
    ContainerCredentials,
}

impl Mode {
    /// Upstream's metric label.
    pub fn metric_label(self) -> &'static str {
        match self {
            Mode::WebIdentity => "sts_web_identity",
            Mode::ContainerCredentials => "container_credentials",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum ValueKind {
    Raw,
    Containers,
    Volume,
    Volumes,
}

/// One `add` operation of the patch.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// JSON pointer.
    pub path: String,
    /// The value (before Go-order rendering).
    pub value: Json,
    kind: ValueKind,
}

impl PatchOp {
    fn render(&self, out: &mut String) {
        out.push_str("{\"op\":\"add\",\"path\":");
        write_go_string(out, &self.path);
        out.push_str(",\"value\":");
        match (&self.kind, &self.value) {
            (ValueKind::Containers, Json::Arr(items)) | (ValueKind::Volumes, Json::Arr(items)) => {
                let schema = if self.kind == ValueKind::Containers {
                    CONTAINER
                } else {
                    VOLUME
                };
                out.push('[');
                for (i, c) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_struct(out, schema, Some(c));
                }
                out.push(']');
            }
            (ValueKind::Volume, v) => write_struct(out, VOLUME, Some(v)),
            (_, v) => write_raw(out, v),
        }
        out.push('}');
    }
}

/// The outcome of [`mutate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// The injection mode, when the pod qualified.
    pub mode: Option<Mode>,
    /// The patch; `None` means "allowed, no patch".
    pub patch: Option<Vec<PatchOp>>,
    /// Whether the patch changes anything (upstream sends it regardless).
    pub changed: bool,
    /// Why the pod was or was not mutated, for humans.
    pub reason: String,
}

impl Mutation {
    fn none(reason: String) -> Mutation {
        Mutation {
            mode: None,
            patch: None,
            changed: false,
            reason,
        }
    }

    /// The patch bytes exactly as upstream's `json.Marshal` writes them.
    pub fn patch_bytes(&self) -> Option<Vec<u8>> {
        let ops = self.patch.as_ref()?;
        let mut out = String::from("[");
        for (i, op) in ops.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            op.render(&mut out);
        }
        out.push(']');
        Some(out.into_bytes())
    }

    /// Applies the patch to `pod` (a copy), for dry runs.
    pub fn apply(&self, pod: &serde_json::Value) -> Result<serde_json::Value, String> {
        let mut doc = pod.clone();
        if let Some(bytes) = self.patch_bytes() {
            let patch: json_patch::Patch =
                serde_json::from_slice(&bytes).map_err(|e| format!("patch: {e}"))?;
            json_patch::patch(&mut doc, &patch).map_err(|e| format!("applying the patch: {e}"))?;
        }
        Ok(doc)
    }
}

/// Per-pod settings resolved from all sources (upstream's `podPatchConfig`).
struct PatchConfig {
    mode: Mode,
    skip: HashSet<String>,
    token_expiration: i64,
    use_regional_sts: bool,
    audience: String,
    mount_path: String,
    volume_name: String,
    token_path: String,
    role_arn: String,
    full_uri: String,
}

/// Mutates `pod` (the AdmissionReview's `request.object`) created in
/// `namespace` by `service_account` (the pod's `spec.serviceAccountName`,
/// `None` when not found).
pub fn mutate(
    pod: &Json,
    namespace: &str,
    service_account: Option<&ServiceAccountInfo>,
    associations: &Associations,
    config: &WebhookConfig,
    random: &mut dyn RandomSource,
) -> Mutation {
    let sa_name = pod
        .path(&["spec", "serviceAccountName"])
        .and_then(Json::as_str)
        .unwrap_or("");
    let key = format!("{namespace}/{sa_name}");
    let entry: Option<SaEntry> =
        service_account.map(|sa| config.service_account_entry(&sa.annotations));
    let pod_annotations = pod.path(&["metadata", "annotations"]);
    let annotation = |name: &str| {
        pod_annotations
            .and_then(|a| a.get(&format!("{}/{name}", config.annotation_prefix)))
            .and_then(Json::as_str)
    };
    let apply_pod_expiration = |fallback: i64| {
        annotation("token-expiration")
            .and_then(parse_go_int)
            .map(validate_min_token_expiration)
            .unwrap_or(fallback)
    };
    let jitter = |exp: i64, random: &mut dyn RandomSource| {
        if exp == DEFAULT_TOKEN_EXPIRATION {
            random.int63n(DEFAULT_TOKEN_EXPIRATION - DEFAULT_MIN_TOKEN_EXPIRATION + 1)
                + DEFAULT_MIN_TOKEN_EXPIRATION
        } else {
            exp
        }
    };
    let skip = containers_to_skip(annotation("skip-containers"));

    let patch_config = if associations.contains(namespace, sa_name) {
        let (regional, expiration) = entry
            .as_ref()
            .map(|e| (e.use_regional_sts, e.token_expiration))
            .unwrap_or((false, DEFAULT_TOKEN_EXPIRATION));
        let expiration = jitter(apply_pod_expiration(expiration), random);
        let cc = &config.container_credentials;
        PatchConfig {
            mode: Mode::ContainerCredentials,
            skip,
            token_expiration: expiration,
            use_regional_sts: regional,
            audience: cc.audience.clone(),
            mount_path: cc.mount_path.clone(),
            volume_name: cc.volume_name.clone(),
            token_path: cc.token_path.clone(),
            role_arn: String::new(),
            full_uri: config.full_uri().to_string(),
        }
    } else {
        let Some(entry) = entry else {
            return Mutation::none(format!(
                "not mutated: service account {key} was not found and has no pod identity association"
            ));
        };
        let role_arn = match entry.role_arn.as_deref() {
            Some(arn) if !arn.is_empty() => arn.to_string(),
            Some(_) => {
                return Mutation::none(format!(
                    "not mutated: service account {key} has an empty {}/role-arn annotation and no pod identity association",
                    config.annotation_prefix
                ));
            }
            None => {
                return Mutation::none(format!(
                    "not mutated: service account {key} has no {}/role-arn annotation and no pod identity association",
                    config.annotation_prefix
                ));
            }
        };
        let mut expiration = apply_pod_expiration(entry.token_expiration);
        if config.jitter_web_identity {
            expiration = jitter(expiration, random);
        }
        PatchConfig {
            mode: Mode::WebIdentity,
            skip,
            token_expiration: expiration,
            use_regional_sts: entry.use_regional_sts,
            audience: entry.audience,
            mount_path: config.token_mount_path.clone(),
            volume_name: IRSA_VOLUME_NAME.into(),
            token_path: IRSA_TOKEN_PATH.into(),
            role_arn,
            full_uri: String::new(),
        }
    };
    pod_spec_patch(pod, &patch_config, config, &key)
}

/// Upstream parses the skip list as one CSV record; a parse error skips nothing.
fn containers_to_skip(value: Option<&str>) -> HashSet<String> {
    value
        .and_then(first_csv_record)
        .map(|names| names.into_iter().collect())
        .unwrap_or_default()
}

/// The first record of `s` as Go's `encoding/csv` reads it (default options):
/// blank lines are skipped, `"` quoting with `""` escapes, no trimming.
/// `None` for a parse error or no record.
pub(crate) fn first_csv_record(s: &str) -> Option<Vec<String>> {
    let s = s.replace("\r\n", "\n");
    let mut rest = s.as_str();
    // Skip empty lines.
    while let Some(r) = rest.strip_prefix('\n') {
        rest = r;
    }
    if rest.is_empty() {
        return None;
    }
    let mut fields = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return None,
                    Some('"') => match chars.peek() {
                        Some('"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some(',') | Some('\n') | None => break,
                        Some(_) => return None,
                    },
                    Some(c) => field.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '\n' {
                    break;
                }
                if c == '"' {
                    return None;
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field);
        match chars.next() {
            Some(',') => continue,
            _ => return Some(fields),
        }
    }
}

/// Go's `filepath.Join` on Unix (join non-empty elements, then `Clean`).
pub(crate) fn go_join(a: &str, b: &str) -> String {
    let joined = match (a.is_empty(), b.is_empty()) {
        (true, true) => return String::new(),
        (true, false) => b.to_string(),
        (false, true) => a.to_string(),
        (false, false) => format!("{a}/{b}"),
    };
    go_clean(&joined)
}

fn go_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for elem in p.split('/') {
        match elem {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            e => parts.push(e),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// Whether the pod already has a volume with the token volume's name.
/// Upstream then only leaves the volume out, whatever that volume is: the
/// containers still get their variables and the mount.
fn has_token_volume(pod: &Json, pc: &PatchConfig) -> bool {
    pod.path(&["spec", "volumes"])
        .and_then(Json::as_array)
        .is_some_and(|vs| vs.iter().any(|v| v.str_of("name") == pc.volume_name))
}

fn env_var(name: &str, value: &str) -> Json {
    Json::object([("name", Json::string(name)), ("value", Json::string(value))])
}

/// Upstream's `addEnvToContainer`; returns whether the container changed.
fn add_env_to_container(
    container: &mut Json,
    token_file: &str,
    pc: &PatchConfig,
    region: &str,
) -> bool {
    let env: Vec<Json> = container
        .get("env")
        .and_then(Json::as_array)
        .map(<[Json]>::to_vec)
        .unwrap_or_default();
    let has = |names: &[&str]| env.iter().any(|e| names.contains(&e.str_of("name")));
    let web_identity_defined = has(&["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"]);
    let cc_defined = has(&[
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    ]);
    let region_defined = has(&["AWS_REGION", "AWS_DEFAULT_REGION"]);
    let sts_defined = has(&["AWS_STS_REGIONAL_ENDPOINTS"]);
    let pair_defined = match pc.mode {
        Mode::WebIdentity => web_identity_defined,
        Mode::ContainerCredentials => cc_defined,
    };
    if pair_defined && region_defined && sts_defined {
        return false;
    }
    let mut changed = false;
    let mut new_env = env.clone();
    if !sts_defined && pc.use_regional_sts {
        new_env.push(env_var("AWS_STS_REGIONAL_ENDPOINTS", "regional"));
        changed = true;
    }
    if !region_defined && !region.is_empty() {
        new_env.push(env_var("AWS_DEFAULT_REGION", region));
        new_env.push(env_var("AWS_REGION", region));
        changed = true;
    }
    match pc.mode {
        Mode::ContainerCredentials if !cc_defined => {
            new_env.push(env_var("AWS_CONTAINER_CREDENTIALS_FULL_URI", &pc.full_uri));
            new_env.push(env_var(
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                token_file,
            ));
            changed = true;
        }
        Mode::WebIdentity if !web_identity_defined => {
            new_env.push(env_var("AWS_ROLE_ARN", &pc.role_arn));
            new_env.push(env_var("AWS_WEB_IDENTITY_TOKEN_FILE", token_file));
            changed = true;
        }
        _ => {}
    }
    if changed {
        container.set("env", Json::Arr(new_env));
    }
    let mounts: Vec<Json> = container
        .get("volumeMounts")
        .and_then(Json::as_array)
        .map(<[Json]>::to_vec)
        .unwrap_or_default();
    if !mounts.iter().any(|m| m.str_of("name") == pc.volume_name) {
        let mut mounts = mounts;
        mounts.push(Json::object([
            ("name", Json::string(&pc.volume_name)),
            ("readOnly", Json::Bool(true)),
            ("mountPath", Json::string(&pc.mount_path)),
        ]));
        container.set("volumeMounts", Json::Arr(mounts));
        changed = true;
    }
    changed
}

fn is_non_root(sc: Option<&Json>) -> bool {
    let Some(sc) = sc else { return false };
    let run_as_user = sc.get("runAsUser").and_then(|v| match v {
        Json::Num(n) => n.as_i64(),
        _ => None,
    });
    matches!(sc.get("runAsNonRoot"), Some(Json::Bool(true))) || run_as_user.is_some_and(|u| u != 0)
}

/// Upstream's `getPodSpecPatch`, plus the opt-in fsGroup.
fn pod_spec_patch(pod: &Json, pc: &PatchConfig, config: &WebhookConfig, key: &str) -> Mutation {
    let mut token_file = go_join(&pc.mount_path, &pc.token_path);
    let node_selector = pod.path(&["spec", "nodeSelector"]);
    let os =
        |k: &str| node_selector.and_then(|n| n.get(k)).and_then(Json::as_str) == Some("windows");
    if os("beta.kubernetes.io/os") || os("kubernetes.io/os") {
        token_file = format!("C:{}", token_file.replace('/', "\\"));
    }
    let mut changed = false;
    let mut mutate_list = |field: &str| -> Vec<Json> {
        let list = pod
            .path(&["spec", field])
            .and_then(Json::as_array)
            .unwrap_or(&[]);
        list.iter()
            .map(|c| {
                let mut c = c.clone();
                let name = c.str_of("name").to_string();
                if !pc.skip.contains(&name)
                    && add_env_to_container(&mut c, &token_file, pc, &config.aws_default_region)
                {
                    changed = true;
                }
                c
            })
            .collect()
    };
    let init_containers = mutate_list("initContainers");
    let containers = mutate_list("containers");

    let mut ops = Vec::new();
    if pc.mode == Mode::ContainerCredentials {
        let labels = pod.path(&["metadata", "labels"]);
        if labels.is_none_or(Json::is_null) {
            ops.push(PatchOp {
                path: "/metadata/labels".into(),
                value: Json::object([(POD_IDENTITY_LABEL, Json::string("enabled"))]),
                kind: ValueKind::Raw,
            });
        } else {
            ops.push(PatchOp {
                path: "/metadata/labels/eks.amazonaws.com~1pod-identity".into(),
                value: Json::string("enabled"),
                kind: ValueKind::Raw,
            });
        }
        changed = true;
    }
    if !has_token_volume(pod, pc) {
        let mut sat = vec![("audience", Json::string(&pc.audience))];
        sat.push(("expirationSeconds", Json::Num(pc.token_expiration.into())));
        sat.push(("path", Json::string(&pc.token_path)));
        let volume = Json::object([
            ("name", Json::string(&pc.volume_name)),
            (
                "projected",
                Json::object([(
                    "sources",
                    Json::Arr(vec![Json::object([(
                        "serviceAccountToken",
                        Json::object(sat),
                    )])]),
                )]),
            ),
        ]);
        if pod.path(&["spec", "volumes"]).is_none_or(Json::is_null) {
            ops.push(PatchOp {
                path: "/spec/volumes".into(),
                value: Json::Arr(vec![volume]),
                kind: ValueKind::Volumes,
            });
        } else {
            ops.push(PatchOp {
                path: "/spec/volumes/0".into(),
                value: volume,
                kind: ValueKind::Volume,
            });
        }
        changed = true;
    }
    let any_non_root = is_non_root(pod.path(&["spec", "securityContext"]))
        || containers
            .iter()
            .chain(init_containers.iter())
            .any(|c| is_non_root(c.get("securityContext")));
    ops.push(PatchOp {
        path: "/spec/containers".into(),
        value: Json::Arr(containers),
        kind: ValueKind::Containers,
    });
    if !init_containers.is_empty() {
        ops.push(PatchOp {
            path: "/spec/initContainers".into(),
            value: Json::Arr(init_containers),
            kind: ValueKind::Containers,
        });
    }
    let mut extras = Vec::new();
    if let Some(gid) = config.non_root_fs_group {
        let sc = pod.path(&["spec", "securityContext"]);
        let has_fs_group = sc
            .and_then(|s| s.get("fsGroup"))
            .is_some_and(|g| !g.is_null());
        if any_non_root && !has_fs_group {
            if sc.is_none_or(Json::is_null) {
                ops.push(PatchOp {
                    path: "/spec/securityContext".into(),
                    value: Json::object([("fsGroup", Json::Num(gid.into()))]),
                    kind: ValueKind::Raw,
                });
            } else {
                ops.push(PatchOp {
                    path: "/spec/securityContext/fsGroup".into(),
                    value: Json::Num(gid.into()),
                    kind: ValueKind::Raw,
                });
            }
            extras.push(format!("fsGroup {gid} for non-root containers"));
            changed = true;
        }
    }
    let what = match pc.mode {
        Mode::WebIdentity => format!("IRSA role {}", pc.role_arn),
        Mode::ContainerCredentials => format!("pod identity via {}", pc.full_uri),
    };
    let mut reason = if changed {
        format!(
            "mutated: service account {key} gets {what} (token {} s, audience {:?})",
            pc.token_expiration, pc.audience
        )
    } else {
        format!(
            "not changed: service account {key} qualifies for {what}, but every container already has the variables and mount"
        )
    };
    if !extras.is_empty() {
        reason.push_str("; ");
        reason.push_str(&extras.join(", "));
    }
    Mutation {
        mode: Some(pc.mode),
        patch: Some(ops),
        changed,
        reason,
    }
}

/// Convenience: mutates a k8s-openapi Pod.
pub fn mutate_k8s(
    pod: &k8s_openapi::api::core::v1::Pod,
    service_account: Option<&k8s_openapi::api::core::v1::ServiceAccount>,
    associations: &Associations,
    config: &WebhookConfig,
    random: &mut dyn RandomSource,
) -> Mutation {
    let json = serde_json::to_value(pod)
        .map(|v| Json::from_value(&v))
        .unwrap_or_default();
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let sa = service_account.map(ServiceAccountInfo::from_k8s);
    mutate(&json, &namespace, sa.as_ref(), associations, config, random)
}

/// Names of the containers a skip annotation value lists (for explanations).
pub fn skip_list(value: &str) -> BTreeSet<String> {
    first_csv_record(value)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv() {
        assert_eq!(first_csv_record("a,b"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(
            first_csv_record("a, b"),
            Some(vec!["a".into(), " b".into()])
        );
        assert_eq!(
            first_csv_record("\"a,b\",c"),
            Some(vec!["a,b".into(), "c".into()])
        );
        assert_eq!(first_csv_record("a\"b"), None);
        assert_eq!(first_csv_record(""), None);
        assert_eq!(first_csv_record("\n\nx\ny"), Some(vec!["x".into()]));
        assert_eq!(first_csv_record("\"a\"b"), None);
        assert_eq!(first_csv_record("a,"), Some(vec!["a".into(), "".into()]));
    }

    #[test]
    fn join() {
        assert_eq!(go_join("/a/", "/b"), "/a/b");
        assert_eq!(go_join("", "token"), "token");
        assert_eq!(go_join("/a/../..", "t"), "/t");
        assert_eq!(go_join("a", "../.."), "..");
    }
}
