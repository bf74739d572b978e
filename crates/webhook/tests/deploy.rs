//! Every YAML document under `deploy/` parses into its k8s-openapi type (or,
//! for cert-manager, a strict local model), and no field is silently dropped:
//! re-serialising the typed value must keep every field of the input.

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// cert-manager.io/v1 Issuer (the fields used here), strict.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Issuer {
    api_version: String,
    kind: String,
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    spec: IssuerSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct IssuerSpec {
    self_signed: Option<serde_json::Map<String, Value>>,
    ca: Option<Value>,
}

/// cert-manager.io/v1 Certificate (the fields used here), strict.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Certificate {
    api_version: String,
    kind: String,
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    spec: CertificateSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct CertificateSpec {
    secret_name: String,
    duration: Option<String>,
    renew_before: Option<String>,
    common_name: Option<String>,
    dns_names: Vec<String>,
    is_ca: Option<bool>,
    issuer_ref: IssuerRef,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct IssuerRef {
    name: String,
    kind: String,
}

/// Every field (path) of `orig` must be present, equal, in `back`.
fn assert_subset(orig: &Value, back: &Value, path: &str) {
    match (orig, back) {
        (Value::Object(o), Value::Object(b)) => {
            for (k, v) in o {
                let Some(bv) = b.get(k) else {
                    panic!("{path}.{k}: unknown field (dropped by the typed model)");
                };
                assert_subset(v, bv, &format!("{path}.{k}"));
            }
        }
        (Value::Array(o), Value::Array(b)) => {
            assert_eq!(o.len(), b.len(), "{path}: length");
            for (i, (ov, bv)) in o.iter().zip(b).enumerate() {
                assert_subset(ov, bv, &format!("{path}[{i}]"));
            }
        }
        (o, b) => assert_eq!(o, b, "{path}"),
    }
}

fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value, where_: &str) {
    let t: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{where_}: {e}"));
    let back = serde_json::to_value(&t).unwrap();
    assert_subset(doc, &back, where_);
}

#[test]
fn every_manifest_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    // deploy/ and its variants one level down (deploy/postgres/).
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .flat_map(|p| {
            if p.is_dir() {
                std::fs::read_dir(&p)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .collect()
            } else {
                vec![p]
            }
        })
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    let mut kinds = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_str_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for (i, doc) in docs.iter().enumerate() {
            if doc.is_null() {
                continue;
            }
            let where_ = format!("{} #{i}", f.display());
            let kind = doc["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("{where_}: no kind"));
            let api = doc["apiVersion"].as_str().unwrap_or("");
            match (api, kind) {
                ("v1", "Namespace") => typed::<Namespace>(doc, &where_),
                ("v1", "PersistentVolumeClaim") => typed::<PersistentVolumeClaim>(doc, &where_),
                ("v1", "Service") => typed::<Service>(doc, &where_),
                ("v1", "ServiceAccount") => typed::<ServiceAccount>(doc, &where_),
                ("apps/v1", "Deployment") => typed::<Deployment>(doc, &where_),
                ("apps/v1", "DaemonSet") => typed::<DaemonSet>(doc, &where_),
                ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
                    typed::<ClusterRole>(doc, &where_)
                }
                ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
                    typed::<ClusterRoleBinding>(doc, &where_)
                }
                ("policy/v1", "PodDisruptionBudget") => typed::<PodDisruptionBudget>(doc, &where_),
                ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration") => {
                    typed::<MutatingWebhookConfiguration>(doc, &where_);
                    let w = &doc["webhooks"][0];
                    assert_eq!(w["failurePolicy"], "Ignore");
                    assert_eq!(w["rules"][0]["operations"], serde_json::json!(["CREATE"]));
                    assert_eq!(w["rules"][0]["resources"], serde_json::json!(["pods"]));
                    assert_eq!(
                        w["objectSelector"]["matchExpressions"][0]["key"],
                        "eks.amazonaws.com/skip-pod-identity-webhook"
                    );
                }
                ("cert-manager.io/v1", "Issuer") => {
                    serde_json::from_value::<Issuer>(doc.clone())
                        .unwrap_or_else(|e| panic!("{where_}: {e}"));
                }
                ("cert-manager.io/v1", "Certificate") => {
                    serde_json::from_value::<Certificate>(doc.clone())
                        .unwrap_or_else(|e| panic!("{where_}: {e}"));
                }
                other => panic!("{where_}: no model for {other:?}"),
            }
            kinds.push(kind.to_string());
        }
    }
    for k in [
        "Deployment",
        "DaemonSet",
        "MutatingWebhookConfiguration",
        "PersistentVolumeClaim",
        "Certificate",
    ] {
        assert!(kinds.iter().any(|x| x == k), "no {k} under deploy/");
    }
}

#[test]
fn an_unknown_field_is_caught() {
    let doc = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
        "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "c", "imagee": "typo"}]}}}
    });
    let r = std::panic::catch_unwind(|| typed::<Deployment>(&doc, "typo"));
    assert!(r.is_err(), "a misspelt field must fail the check");
}
