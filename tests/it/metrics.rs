//! `GET /metrics` of `podiam serve`: OpenMetrics text with requests by
//! service/action/result, latency histograms, sessions issued, the JWKS
//! cache and the store.

use super::common::{Server, form, ok};
use super::raw::{raw_get, raw_unsigned};

/// The value of the sample `series` (`name{k="v",…}`, labels in any order).
fn sample(text: &str, series: &str) -> Option<f64> {
    let want = canonical(series);
    text.lines().find_map(|l| {
        let (s, v) = l.rsplit_once(' ')?;
        (canonical(s) == want).then(|| v.parse().ok())?
    })
}

/// The series name and its labels, sorted (values here hold no `,`).
fn canonical(series: &str) -> (String, Vec<String>) {
    let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
    let mut labels: Vec<String> = labels
        .trim_end_matches('}')
        .split(',')
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    labels.sort();
    (name.to_string(), labels)
}

#[test]
fn serve_exports_prometheus_metrics() {
    let s = Server::start();
    let role = s.setup_irsa("m", "web", "default", "app");
    let good = s.token("m", "default", "app", &[]);
    let wrong = s.token("m", "other", "app", &[]);
    let assume = |t: &str| {
        raw_unsigned(
            &s.addr,
            &form(&[
                ("Action", "AssumeRoleWithWebIdentity"),
                ("Version", "2011-06-15"),
                ("RoleArn", &role),
                ("RoleSessionName", "metered"),
                ("WebIdentityToken", t),
            ]),
        )
    };
    for _ in 0..3 {
        let r = assume(&good);
        assert_eq!(r.0, 200, "{}", r.1);
    }
    assert_eq!(assume(&wrong).0, 403);
    ok(&s.aws(&["s3", "mb", "s3://metered"]));
    ok(&s.aws(&["s3", "ls"]));

    let (st, text) = raw_get(&s.addr, "/metrics");
    assert_eq!(st, 200);
    assert!(text.ends_with("# EOF\n"), "{text}");
    // Every sample line is `name{labels} number`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, v) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(v.parse::<f64>().is_ok(), "{line}");
    }
    let at =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    let web = r#"service="sts",action="AssumeRoleWithWebIdentity""#;
    assert_eq!(
        at(&format!("podiam_requests_total{{{web},result=\"ok\"}}")),
        3.0
    );
    assert_eq!(
        at(&format!(
            "podiam_requests_total{{{web},result=\"AccessDenied\"}}"
        )),
        1.0
    );
    assert_eq!(
        at(&format!("podiam_request_duration_seconds_count{{{web}}}")),
        4.0
    );
    assert_eq!(
        at(&format!(
            "podiam_request_duration_seconds_bucket{{{web},le=\"+Inf\"}}"
        )),
        4.0
    );
    assert_eq!(
        at(r#"podiam_requests_total{service="iam",action="CreateRole",result="ok"}"#),
        1.0
    );
    assert!(at(r#"podiam_requests_total{service="s3",action="CreateBucket",result="ok"}"#) >= 1.0);
    assert!(at(r#"podiam_requests_total{service="s3",action="ListBuckets",result="ok"}"#) >= 1.0);
    assert!(
        at(r#"podiam_requests_total{service="eks",action="CreateCluster",result="ok"}"#) >= 1.0
    );
    assert_eq!(
        at(r#"podiam_sessions_issued_total{origin="web-identity"}"#),
        3.0
    );
    assert!(at("podiam_jwks_fetches_total") >= 1.0);
    assert!(at("podiam_jwks_cache_hits_total") >= 1.0);
    assert!(at("podiam_store_write_duration_seconds_count") >= 3.0);
    assert!(at("podiam_store_sequence") >= 3.0);
}
