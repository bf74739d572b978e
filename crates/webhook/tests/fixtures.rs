//! Fixture tests in upstream's format (`pkg/handler/handler_pod_test.go`):
//! each YAML is a pod whose `testing.eks.amazonaws.com/*` annotations set up the
//! service account, the handler flags and the container-credentials config, and
//! whose `testing.eks.amazonaws.com/expectedPatch` holds the exact patch bytes.
//!
//! `fixtures/upstream/` reproduces upstream's fixtures (Apache-2.0, see the
//! README there); `fixtures/podiam/` covers podiam's extra flags the same way
//! (`testing.podiam.dev/*` annotations).

use podiam_webhook::config::ComposeRoleArn;
use podiam_webhook::{
    AgentIpFamily, Associations, ContainerCredentialsConfig, Json, RandomSource,
    ServiceAccountInfo, WebhookConfig, mutate,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const T: &str = "testing.eks.amazonaws.com/";
const P: &str = "testing.podiam.dev/";

struct FixedRandom(i64);

impl RandomSource for FixedRandom {
    fn int63n(&mut self, n: i64) -> i64 {
        self.0.rem_euclid(n)
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// Runs one fixture; returns (got, expected).
fn run(path: &Path) -> (String, String) {
    let text = std::fs::read_to_string(path).unwrap();
    // Upstream's YAML reader keeps the last of repeated keys
    // (rawPodWithInitContainer repeats serviceAccountName).
    let options = || serde_saphyr::options! { duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::LastWins };
    // The fixture must be a valid core/v1 Pod.
    let typed: k8s_openapi::api::core::v1::Pod =
        serde_saphyr::from_str_with_options(&text, options())
            .unwrap_or_else(|e| panic!("{}: not a Pod: {e}", path.display()));
    assert_eq!(typed.metadata.name.as_deref(), Some("balajilovesoreos"));
    let mut pod: Json = serde_saphyr::from_str_with_options(&text, options()).unwrap();
    let ann = |k: &str| -> Option<String> {
        pod.path(&["metadata", "annotations", k])
            .and_then(Json::as_str)
            .map(str::to_string)
    };
    let t = |k: &str| ann(&format!("{T}{k}"));
    let p = |k: &str| ann(&format!("{P}{k}"));
    let expected = t("expectedPatch").expect("expectedPatch");

    let mut config = WebhookConfig::default();
    if let Some(m) = t("handler/mountPath") {
        config.token_mount_path = m;
    }
    if let Some(r) = t("handler/region") {
        config.aws_default_region = r;
    }
    if let Some(base) = t("handler/baseArn") {
        // "arn:<partition>:iam::<account>:role/"
        let parts: Vec<&str> = base.split(':').collect();
        config.compose_role_arn = Some(ComposeRoleArn {
            partition: parts[1].to_string(),
            account_id: parts[4].to_string(),
        });
    }
    if let Some(g) = p("nonRootFsGroup") {
        config.non_root_fs_group = Some(g.parse().unwrap());
    }
    if p("agentIpFamily").as_deref() == Some("ipv6") {
        config.agent_ip_family = AgentIpFamily::Ipv6;
    }

    // The fake service account cache: default/default with annotations.
    let mut annotations = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            annotations.insert(format!("eks.amazonaws.com/{k}"), v);
        }
    };
    put("role-arn", t("serviceAccount/roleArn"));
    put("audience", t("serviceAccount/audience"));
    put(
        "sts-regional-endpoints",
        t("serviceAccount/sts-regional-endpoints").or_else(|| t("handler/injectSTS")),
    );
    put(
        "token-expiration",
        t("serviceAccount/token-expiration").or_else(|| t("handler/expiration")),
    );
    let sa = ServiceAccountInfo {
        namespace: "default".into(),
        name: "default".into(),
        annotations,
    };

    let mut associations = Associations::new();
    if let Some(uri) = t("containercredentials/uri").filter(|u| !u.is_empty()) {
        associations.insert("default", "default");
        config.container_credentials = ContainerCredentialsConfig {
            audience: t("containercredentials/audience").unwrap_or_default(),
            mount_path: t("containercredentials/mountPath").unwrap_or_default(),
            volume_name: t("containercredentials/volumeName").unwrap_or_default(),
            token_path: t("containercredentials/tokenPath").unwrap_or_default(),
            full_uri: uri,
        };
    }

    let no_sa = p("noServiceAccount").as_deref() == Some("true");
    let mut random = FixedRandom(p("random").map(|r| r.parse().unwrap()).unwrap_or(0));
    let expected_reason = p("expectedReason");
    // Like upstream's harness: namespace and service account are "default".
    if let Some(spec) = match &mut pod {
        Json::Obj(m) => m.iter_mut().find(|(k, _)| k == "spec").map(|(_, v)| v),
        _ => None,
    } {
        spec.set("serviceAccountName", Json::string("default"));
    }
    let m = mutate(
        &pod,
        "default",
        if no_sa { None } else { Some(&sa) },
        &associations,
        &config,
        &mut random,
    );
    let got = m
        .patch_bytes()
        .map(|b| String::from_utf8(b).unwrap())
        .unwrap_or_else(|| "null".into());
    if let Some(reason) = expected_reason {
        assert!(
            m.reason.contains(&reason),
            "{}: reason {:?} lacks {reason:?}",
            path.display(),
            m.reason
        );
    }
    (got, expected)
}

#[test]
fn upstream_and_podiam_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files = Vec::new();
    collect(&root, &mut files);
    assert!(files.len() >= 35, "only {} fixtures", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let (got, expected) = run(f);
        if got != expected {
            failures.push(format!(
                "{}\n  got:  {got}\n  want: {expected}",
                f.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
