//! Property tests: no input makes the review path panic, and whatever comes
//! back is a well-formed AdmissionReview response: allowed when the review
//! could be read, refused (as upstream refuses it) when not.

use podiam_webhook::review::{error_response, parse_review, review_response};
use podiam_webhook::{Associations, Json, ServiceAccountInfo, WebhookConfig, ZeroRandom, mutate};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn respond(body: &[u8]) -> Vec<u8> {
    match parse_review(body) {
        Err(e) => error_response(&e),
        Ok(r) => {
            let mut ann = BTreeMap::new();
            ann.insert(
                "eks.amazonaws.com/role-arn".to_string(),
                "arn:aws:iam::111122223333:role/r".to_string(),
            );
            let sa = ServiceAccountInfo {
                namespace: r.namespace.clone(),
                name: r.service_account().to_string(),
                annotations: ann,
            };
            let mut assoc = Associations::new();
            if r.service_account().len() % 2 == 1 {
                assoc.insert(r.namespace.clone(), r.service_account());
            }
            let cfg = WebhookConfig {
                aws_default_region: "us-east-1".into(),
                non_root_fs_group: Some(1),
                ..WebhookConfig::default()
            };
            let m = mutate(
                &r.pod,
                &r.namespace,
                Some(&sa),
                &assoc,
                &cfg,
                &mut ZeroRandom,
            );
            if let Some(bytes) = m.patch_bytes() {
                // The patch is valid JSON and applies to the pod.
                let v: serde_json::Value = serde_json::from_slice(&bytes).expect("patch is JSON");
                assert!(v.is_array());
                let _ = m.apply(&r.pod.to_value());
            }
            review_response(&r, &m)
        }
    }
}

fn check(body: &[u8]) {
    let out = respond(body);
    let v: serde_json::Value = serde_json::from_slice(&out).expect("response is JSON");
    assert_eq!(v["response"]["allowed"], parse_review(body).is_ok());
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        "[ -~<>&\u{2028}\u{e9}]{0,12}".prop_map(serde_json::Value::String),
        prop_oneof![
            Just("env"),
            Just("name"),
            Just("volumeMounts"),
            Just("AWS_REGION"),
            Just("aws-iam-token"),
            Just("projected"),
            Just("windows"),
            Just("Always")
        ]
        .prop_map(|s| serde_json::Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("name".to_string()),
            Just("env".to_string()),
            Just("value".to_string()),
            Just("volumeMounts".to_string()),
            Just("volumes".to_string()),
            Just("containers".to_string()),
            Just("initContainers".to_string()),
            Just("labels".to_string()),
            Just("securityContext".to_string()),
            Just("serviceAccountToken".to_string()),
            Just("sources".to_string()),
            Just("projected".to_string()),
            "[a-zA-Z]{1,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys, inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&body);
    }

    #[test]
    fn arbitrary_json(v in arb_json()) {
        check(v.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_pod_in_a_valid_review(spec in arb_json(), metadata in arb_json(), containers in prop::collection::vec(arb_json(), 0..3), sa in "[a-c]{0,3}") {
        let mut spec = spec;
        if let serde_json::Value::Object(m) = &mut spec {
            m.insert("containers".into(), serde_json::Value::Array(containers));
            m.insert("serviceAccountName".into(), serde_json::Value::String(sa));
        }
        for version in ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] {
            let review = serde_json::json!({
                "apiVersion": version, "kind": "AdmissionReview",
                "request": {"uid": "u", "namespace": "ns", "object": {"metadata": metadata, "spec": spec}}
            });
            check(review.to_string().as_bytes());
        }
    }
}

#[test]
fn json_roundtrip_of_weird_strings() {
    let j: Json = serde_json::from_str(r#"{"a":"\u0000\u001f\u007f\u2029<"}"#).unwrap();
    assert_eq!(
        j.to_go_string(),
        "{\"a\":\"\\u0000\\u001f\u{7f}\\u2029\\u003c\"}"
    );
}
