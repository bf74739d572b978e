//! DynamoDB's CORS answers, so that browser SDKs can call it: a preflight
//! naming `x-amz-target` is answered 200, and every answer to a request
//! with an `Origin` allows any origin (as DynamoDB, and DynamoDB Local,
//! answer).

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Response, header};

/// The answer to a CORS preflight for DynamoDB: an `OPTIONS` with an
/// `Origin` whose requested headers include `x-amz-target`. `None` for
/// any other request (S3 and the rest decide those).
pub fn preflight(
    method: &http::Method,
    headers: &HeaderMap,
    request_id: &str,
) -> Option<Response<Body>> {
    let asked = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS)?;
    let for_dynamodb = *method == http::Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && asked.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|h| h.trim().eq_ignore_ascii_case("x-amz-target"))
        });
    if !for_dynamodb {
        return None;
    }
    let mut r = crate::error::json_response(200, String::new(), request_id);
    let h = r.headers_mut();
    h.remove(header::CONTENT_TYPE);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("172800"),
    );
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    if let Some(m) = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD) {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, m.clone());
    }
    Some(r)
}

/// Allows any origin to read `resp` when the request came with an `Origin`.
pub fn allow_origin(had_origin: bool, resp: &mut Response<Body>) {
    if had_origin {
        resp.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflights_naming_the_target_are_dynamodbs() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example"),
        );
        h.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("content-type, X-Amz-Target, x-amz-date"),
        );
        h.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("POST"),
        );
        let r = preflight(&http::Method::OPTIONS, &h, "RID").expect("a preflight");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert_eq!(r.headers()["access-control-allow-methods"], "POST");
        assert_eq!(
            r.headers()["access-control-allow-headers"],
            "content-type, X-Amz-Target, x-amz-date"
        );
        assert_eq!(r.headers()["access-control-max-age"], "172800");
        assert!(preflight(&http::Method::POST, &h, "RID").is_none());
        h.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("authorization"),
        );
        assert!(preflight(&http::Method::OPTIONS, &h, "RID").is_none());
    }
}
