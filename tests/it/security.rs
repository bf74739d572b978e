//! SigV4 and session-token attacks against the real server.

use super::common::*;
use super::raw::{Raw, admin_credentials, raw_unsigned};
use podiam_sigv4::Credentials;
use time::{Duration, OffsetDateTime};

const WHOAMI: &str = "Action=GetCallerIdentity&Version=2011-06-15";

fn raw(s: &Server, creds: Credentials, offset: Duration) -> Raw<'_> {
    Raw {
        addr: &s.addr,
        creds,
        service: "sts",
        time: OffsetDateTime::now_utc() + offset,
        unsigned_headers: vec![],
    }
}

fn code(body: &str) -> &str {
    body.split("<Code>")
        .nth(1)
        .and_then(|x| x.split("</Code>").next())
        .unwrap_or("")
}

#[test]
fn sigv4_skew_window_is_15_minutes() {
    let s = Server::start();
    let admin = admin_credentials(&s.data_dir().join("admin-credentials"));
    let (st, body) = raw(&s, admin.clone(), Duration::ZERO).post(WHOAMI);
    assert_eq!(st, 200, "{body}");
    assert!(
        body.contains("<Arn>arn:aws:iam::000000000000:root</Arn>"),
        "{body}"
    );
    for mins in [-14, 14] {
        let (st, body) = raw(&s, admin.clone(), Duration::minutes(mins)).post(WHOAMI);
        assert_eq!(st, 200, "{mins} min: {body}");
    }
    for mins in [-16, 16] {
        let (st, body) = raw(&s, admin.clone(), Duration::minutes(mins)).post(WHOAMI);
        assert_eq!(
            (st, code(&body)),
            (403, "SignatureDoesNotMatch"),
            "{mins} min: {body}"
        );
        assert!(
            body.contains(if mins < 0 {
                "Signature expired"
            } else {
                "Signature not yet current"
            }),
            "{body}"
        );
    }
}

#[test]
fn wrong_keys_and_scopes() {
    let s = Server::start();
    let admin = admin_credentials(&s.data_dir().join("admin-credentials"));
    // Unknown access key.
    let (st, body) = raw(
        &s,
        Credentials::new("AKIAAAAAAAAAAAAAAAAA", "x".repeat(40)),
        Duration::ZERO,
    )
    .post(WHOAMI);
    assert_eq!((st, code(&body)), (403, "InvalidClientTokenId"), "{body}");
    // Right key, wrong secret: a signature from another key.
    let wrong = Credentials::new(admin.access_key_id.clone(), "y".repeat(40));
    let (st, body) = raw(&s, wrong, Duration::ZERO).post(WHOAMI);
    assert_eq!((st, code(&body)), (403, "SignatureDoesNotMatch"), "{body}");
    // Scope naming another service than the one the action belongs to.
    let mut r = raw(&s, admin.clone(), Duration::ZERO);
    r.service = "iam";
    let (st, body) = r.post(WHOAMI);
    assert_eq!((st, code(&body)), (400, "InvalidAction"), "{body}");
    // No signature at all on a signed-only action.
    let (st, body) = raw_unsigned(&s.addr, WHOAMI);
    assert_eq!(
        (st, code(&body)),
        (403, "MissingAuthenticationToken"),
        "{body}"
    );
}

/// Credentials from a web-identity session.
fn session(s: &Server) -> Credentials {
    let role = s.setup_irsa("demo", "r1", "default", "app");
    let token = s.token("demo", "default", "app", &[]);
    let body = format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName=s1&WebIdentityToken={token}",
        role.replace(':', "%3A").replace('/', "%2F")
    );
    let (st, xml) = raw_unsigned(&s.addr, &body);
    assert_eq!(st, 200, "{xml}");
    let field = |n: &str| {
        xml.split(&format!("<{n}>"))
            .nth(1)
            .unwrap()
            .split(&format!("</{n}>"))
            .next()
            .unwrap()
            .to_string()
    };
    assert!(field("AccessKeyId").starts_with("ASIA"));
    Credentials::new(field("AccessKeyId"), field("SecretAccessKey"))
        .with_session_token(field("SessionToken"))
}

#[test]
fn session_tokens_cannot_be_tampered_or_unsigned() {
    let s = Server::start();
    let creds = session(&s);
    let (st, body) = raw(&s, creds.clone(), Duration::ZERO).post(WHOAMI);
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("assumed-role/r1/s1"), "{body}");

    // Flip one character of the sealed token.
    let mut t = creds.session_token.clone().unwrap().into_bytes();
    let i = t.len() / 2;
    t[i] = if t[i] == b'A' { b'B' } else { b'A' };
    let tampered = Credentials::new(creds.access_key_id.clone(), creds.secret_access_key.clone())
        .with_session_token(String::from_utf8(t).unwrap());
    let (st, body) = raw(&s, tampered, Duration::ZERO).post(WHOAMI);
    assert_eq!((st, code(&body)), (403, "InvalidClientTokenId"), "{body}");

    // A temporary key without its token.
    let bare = Credentials::new(creds.access_key_id.clone(), creds.secret_access_key.clone());
    let (st, body) = raw(&s, bare.clone(), Duration::ZERO).post(WHOAMI);
    assert_eq!((st, code(&body)), (403, "InvalidClientTokenId"), "{body}");

    // The token sent but not signed.
    let mut r = raw(&s, bare, Duration::ZERO);
    r.unsigned_headers
        .push(("x-amz-security-token", creds.session_token.clone().unwrap()));
    let (st, body) = r.post(WHOAMI);
    assert!(st == 400 || st == 403, "{st} {body}");
}
