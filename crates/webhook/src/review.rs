//! `AdmissionReview` in and out (`admission.k8s.io/v1` and `v1beta1`).
//!
//! The response echoes the request's `apiVersion`/`kind` and `uid`, as upstream
//! does since the admission/v1 fix, and is written in Go's field order:
//! `{"kind":…,"apiVersion":…,"response":{"uid":…,"allowed":…,"patch":…,"patchType":"JSONPatch"}}`.
//!
//! Unlike upstream, a review that cannot be decoded still gets `allowed: true`
//! (with the error in `status.message`): the webhook runs with
//! `failurePolicy: Ignore`, so a broken request must never block a pod.

use crate::json::{Json, write_go_string};
use crate::mutate::Mutation;
use base64::Engine;

/// The fields of a review the webhook uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedReview {
    /// `apiVersion` to echo.
    pub api_version: String,
    /// `kind` to echo.
    pub kind: String,
    /// `request.uid`.
    pub uid: String,
    /// `request.namespace` (upstream overwrites the pod's namespace with it).
    pub namespace: String,
    /// `request.object`: the pod.
    pub pod: Json,
}

impl ParsedReview {
    /// The pod's `spec.serviceAccountName` (`""` when unset).
    pub fn service_account(&self) -> &str {
        self.pod
            .path(&["spec", "serviceAccountName"])
            .and_then(Json::as_str)
            .unwrap_or("")
    }

    /// `name` or `generateName`, for logs.
    pub fn pod_name(&self) -> &str {
        let name = self
            .pod
            .path(&["metadata", "name"])
            .and_then(Json::as_str)
            .unwrap_or("");
        if name.is_empty() {
            self.pod
                .path(&["metadata", "generateName"])
                .and_then(Json::as_str)
                .unwrap_or("")
        } else {
            name
        }
    }
}

/// A review the webhook could not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewError {
    /// `apiVersion` to echo (if the body had one).
    pub api_version: String,
    /// `kind` to echo.
    pub kind: String,
    /// `request.uid`, if readable.
    pub uid: String,
    /// What was wrong.
    pub message: String,
}

/// The accepted review versions.
pub const API_VERSIONS: [&str; 2] = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"];

/// Decodes an AdmissionReview body.
pub fn parse_review(body: &[u8]) -> Result<ParsedReview, ReviewError> {
    let mut err = ReviewError {
        api_version: API_VERSIONS[0].into(),
        kind: "AdmissionReview".into(),
        uid: String::new(),
        message: String::new(),
    };
    let review: Json = match serde_json::from_slice(body) {
        Ok(j) => j,
        Err(e) => {
            err.message = format!("cannot decode the AdmissionReview: {e}");
            return Err(err);
        }
    };
    if !matches!(review, Json::Obj(_)) {
        err.message = "the AdmissionReview is not a JSON object".into();
        return Err(err);
    }
    let api_version = review
        .get("apiVersion")
        .and_then(Json::as_str)
        .unwrap_or("");
    let kind = review.get("kind").and_then(Json::as_str).unwrap_or("");
    if !api_version.is_empty() {
        err.api_version = api_version.to_string();
    }
    if !kind.is_empty() {
        err.kind = kind.to_string();
    }
    let request = review.get("request").filter(|r| matches!(r, Json::Obj(_)));
    err.uid = request
        .map(|r| r.str_of("uid").to_string())
        .unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() {
        err.message = "Object 'Kind' is missing or apiVersion is empty".into();
        return Err(err);
    }
    if !API_VERSIONS.contains(&api_version) || kind != "AdmissionReview" {
        err.message = format!("unsupported review {api_version}, Kind={kind}");
        return Err(err);
    }
    let Some(request) = request else {
        err.message = "bad content".into();
        return Err(err);
    };
    let pod = match request.get("object") {
        Some(p @ Json::Obj(_)) => p.clone(),
        _ => {
            err.message = "request.object is not a Pod".into();
            return Err(err);
        }
    };
    Ok(ParsedReview {
        api_version: err.api_version,
        kind: err.kind,
        uid: err.uid,
        namespace: request.str_of("namespace").to_string(),
        pod,
    })
}

fn render(
    api_version: &str,
    kind: &str,
    uid: &str,
    patch: Option<&[u8]>,
    message: Option<&str>,
) -> Vec<u8> {
    let mut out = String::from("{\"kind\":");
    write_go_string(&mut out, kind);
    out.push_str(",\"apiVersion\":");
    write_go_string(&mut out, api_version);
    out.push_str(",\"response\":{\"uid\":");
    write_go_string(&mut out, uid);
    out.push_str(",\"allowed\":true");
    if let Some(m) = message {
        out.push_str(",\"status\":{\"metadata\":{},\"message\":");
        write_go_string(&mut out, m);
        out.push('}');
    }
    if let Some(p) = patch {
        out.push_str(",\"patch\":\"");
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(p));
        out.push_str("\",\"patchType\":\"JSONPatch\"");
    }
    out.push_str("}}");
    out.into_bytes()
}

/// The response for a decoded review and its mutation.
pub fn review_response(review: &ParsedReview, mutation: &Mutation) -> Vec<u8> {
    let patch = mutation.patch_bytes();
    render(
        &review.api_version,
        &review.kind,
        &review.uid,
        patch.as_deref(),
        None,
    )
}

/// The (allowed, patch-less) response for a review that could not be used.
pub fn error_response(err: &ReviewError) -> Vec<u8> {
    render(
        &err.api_version,
        &err.kind,
        &err.uid,
        None,
        Some(&err.message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_reviews_are_allowed() {
        for body in [
            &b"not json"[..],
            b"[]",
            b"{}",
            b"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
        ] {
            let err = parse_review(body).unwrap_err();
            let v: serde_json::Value = serde_json::from_slice(&error_response(&err)).unwrap();
            assert_eq!(v["response"]["allowed"], true);
            assert!(v["response"].get("patch").is_none());
        }
    }

    #[test]
    fn echoes_type_meta_and_uid() {
        let body = br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u-1","namespace":"ns","object":{"spec":{}}}}"#;
        let r = parse_review(body).unwrap();
        assert_eq!(r.namespace, "ns");
        let out =
            String::from_utf8(render(&r.api_version, &r.kind, &r.uid, Some(b"[]"), None)).unwrap();
        assert_eq!(
            out,
            r#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1","response":{"uid":"u-1","allowed":true,"patch":"W10=","patchType":"JSONPatch"}}"#
        );
    }
}
