//! `AdmissionReview` in and out, as upstream's handler reads and writes it.
//!
//! Upstream decodes the body into `admission/v1.AdmissionReview`, a type its
//! scheme does not register, so the body's `apiVersion` and `kind` are read
//! but never checked: any review (v1, v1beta1, or none) is served, and the
//! response echoes them (left out when absent, Go's `omitempty`) with the
//! request's `uid`, in Go's field order:
//! `{"kind":…,"apiVersion":…,"response":{"uid":…,"allowed":…,"patch":…,"patchType":"JSONPatch"}}`.
//!
//! A review that cannot be used is refused as upstream refuses it:
//! `allowed: false` with the reason in `status.message` (`bad content` when
//! there is no request).

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

/// Decodes an AdmissionReview body.
pub fn parse_review(body: &[u8]) -> Result<ParsedReview, ReviewError> {
    let mut err = ReviewError {
        api_version: String::new(),
        kind: String::new(),
        uid: String::new(),
        message: String::new(),
    };
    // An empty body decodes to an empty review: no request.
    if body.iter().all(u8::is_ascii_whitespace) {
        err.message = "bad content".into();
        return Err(err);
    }
    let review: Json = match serde_json::from_slice(body) {
        Ok(j) => j,
        Err(e) => {
            err.message = format!(
                "couldn't get version/kind; json parse error: {}",
                go_json_error(&e)
            );
            return Err(err);
        }
    };
    // `null` unmarshals into an empty review, as an empty body does.
    if !matches!(review, Json::Obj(_) | Json::Null) {
        err.message = format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            go_type(&review)
        );
        return Err(err);
    }
    err.api_version = review.str_of("apiVersion").to_string();
    err.kind = review.str_of("kind").to_string();
    let request = match review.get("request") {
        Some(r @ Json::Obj(_)) => r,
        // Decoding the review itself fails on a request of another type.
        Some(other @ (Json::Arr(_) | Json::Str(_) | Json::Num(_) | Json::Bool(_))) => {
            err.message = format!(
                "json: cannot unmarshal {} into Go struct field AdmissionReview.request of type v1.AdmissionRequest",
                go_type(other)
            );
            return Err(err);
        }
        _ => {
            err.message = "bad content".into();
            return Err(err);
        }
    };
    err.uid = request.str_of("uid").to_string();
    // `request.object` is a RawExtension unmarshalled into a Pod; `null`
    // leaves it empty, which fails as a missing object does.
    let pod = match request.get("object") {
        Some(p @ Json::Obj(_)) => p.clone(),
        Some(Json::Null) | None => {
            err.message = "unexpected end of JSON input".into();
            return Err(err);
        }
        Some(other) => {
            err.message = format!(
                "json: cannot unmarshal {} into Go value of type v1.Pod",
                go_type(other)
            );
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

/// How Go's `encoding/json` names a JSON value's type in its errors.
fn go_type(v: &Json) -> &'static str {
    match v {
        Json::Obj(_) => "object",
        Json::Arr(_) => "array",
        Json::Str(_) => "string",
        Json::Num(_) => "number",
        Json::Bool(_) => "bool",
        Json::Null => "null",
    }
}

/// Go's wording for the JSON errors it words differently from serde_json.
fn go_json_error(e: &serde_json::Error) -> String {
    if e.is_eof() {
        "unexpected end of JSON input".into()
    } else {
        e.to_string()
    }
}

fn render(
    api_version: &str,
    kind: &str,
    uid: &str,
    patch: Option<&[u8]>,
    message: Option<&str>,
) -> Vec<u8> {
    let mut out = String::from("{");
    if !kind.is_empty() {
        out.push_str("\"kind\":");
        write_go_string(&mut out, kind);
        out.push(',');
    }
    if !api_version.is_empty() {
        out.push_str("\"apiVersion\":");
        write_go_string(&mut out, api_version);
        out.push(',');
    }
    out.push_str("\"response\":{\"uid\":");
    write_go_string(&mut out, uid);
    out.push_str(if message.is_some() {
        ",\"allowed\":false"
    } else {
        ",\"allowed\":true"
    });
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

/// The refusal of a review that could not be used.
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

    /// Upstream's `TestModifierHandler` refusals, byte for byte.
    #[test]
    fn unusable_reviews_are_refused_as_upstream_refuses_them() {
        let refusal = |body: &[u8]| {
            String::from_utf8(error_response(&parse_review(body).unwrap_err())).unwrap()
        };
        assert_eq!(
            refusal(b""),
            r#"{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"bad content"}}}"#
        );
        assert_eq!(
            refusal(b"{}"),
            r#"{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"bad content"}}}"#
        );
        assert_eq!(
            refusal(br#"{"request": {"object": "\"metadata\":{\"name\":\"fake\""}"#),
            r#"{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"couldn't get version/kind; json parse error: unexpected end of JSON input"}}}"#
        );
        assert_eq!(
            refusal(br#"{"request": {"object": "\"metadata\":{\"name\":\"fake\""}}"#),
            r#"{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"json: cannot unmarshal string into Go value of type v1.Pod"}}}"#
        );
        // The type fields are echoed, whatever they are.
        let out = refusal(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#);
        assert!(
            out.starts_with(r#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"","allowed":false"#),
            "{out}"
        );
        assert!(refusal(b"[]").contains(r#""allowed":false"#));
    }

    #[test]
    fn a_review_without_type_fields_is_served() {
        let body = br#"{"request":{"uid":"918ef1dc","namespace":"default","object":{"spec":{}}}}"#;
        let r = parse_review(body).unwrap();
        let out =
            String::from_utf8(render(&r.api_version, &r.kind, &r.uid, Some(b"[]"), None)).unwrap();
        assert_eq!(
            out,
            r#"{"response":{"uid":"918ef1dc","allowed":true,"patch":"W10=","patchType":"JSONPatch"}}"#
        );
        // A null object is no object (RawExtension keeps no bytes for it).
        let e = parse_review(br#"{"request":{"uid":"u","object":null}}"#).unwrap_err();
        assert_eq!(
            (e.uid.as_str(), e.message.as_str()),
            ("u", "unexpected end of JSON input")
        );
        // A request that is not an object fails the review's own decoding.
        for (request, t) in [
            ("\"x\"", "string"),
            ("5", "number"),
            ("[]", "array"),
            ("true", "bool"),
        ] {
            let body = format!(r#"{{"kind":"AdmissionReview","request":{request}}}"#);
            let e = parse_review(body.as_bytes()).unwrap_err();
            assert_eq!(
                e.message,
                format!(
                    "json: cannot unmarshal {t} into Go struct field AdmissionReview.request of type v1.AdmissionRequest"
                )
            );
            assert_eq!(e.kind, "AdmissionReview");
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
