//! Hand-made SigV4 requests over a plain TCP connection, so tests control
//! every header and the signing time.

use http::{HeaderMap, HeaderValue, Method, Uri, header};
use podiam_sigv4::{Credentials, PayloadMode, SigningParams, sign};
use std::io::{Read, Write};
use std::net::TcpStream;
use time::OffsetDateTime;

/// Reads `[default]` from a shared-credentials file.
pub fn admin_credentials(path: &std::path::Path) -> Credentials {
    let text = std::fs::read_to_string(path).expect("admin-credentials");
    let get = |k: &str| {
        text.lines()
            .find_map(|l| {
                l.split_once('=')
                    .filter(|(a, _)| a.trim() == k)
                    .map(|(_, v)| v.trim().to_string())
            })
            .expect("key")
    };
    Credentials::new(get("aws_access_key_id"), get("aws_secret_access_key"))
}

/// A POST of a query-protocol body, signed for `service` at `time`.
pub struct Raw<'a> {
    pub addr: &'a str,
    pub creds: Credentials,
    pub service: &'a str,
    pub time: OffsetDateTime,
    /// Headers added after signing (unsigned).
    pub unsigned_headers: Vec<(&'static str, String)>,
}

impl Raw<'_> {
    pub fn post(&self, body: &str) -> (u16, String) {
        self.try_post(body).expect("connect")
    }

    /// Like [`Raw::post`], with connection errors returned (a server that
    /// is down or dies mid-request).
    pub fn try_post(&self, body: &str) -> std::io::Result<(u16, String)> {
        let uri: Uri = format!("http://{}/", self.addr).parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        headers.insert(header::HOST, HeaderValue::from_str(self.addr).unwrap());
        let params = SigningParams {
            credentials: &self.creds,
            region: "us-east-1",
            service: self.service,
            time: self.time,
            s3: false,
        };
        let out = sign(
            &Method::POST,
            &uri,
            &headers,
            &PayloadMode::for_body(body.as_bytes()),
            &params,
        )
        .unwrap();
        out.apply(&mut headers);
        let mut req = String::from("POST / HTTP/1.1\r\n");
        for (k, v) in &headers {
            req.push_str(&format!("{}: {}\r\n", k, v.to_str().unwrap()));
        }
        for (k, v) in &self.unsigned_headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ));
        let mut s = TcpStream::connect(self.addr)?;
        s.write_all(req.as_bytes())?;
        let mut resp = String::new();
        s.read_to_string(&mut resp)?;
        let status: u16 = resp
            .split(' ')
            .nth(1)
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        let body = resp
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }
}

/// An unsigned POST of a query-protocol body.
pub fn raw_unsigned(addr: &str, body: &str) -> (u16, String) {
    raw_http(
        addr,
        &format!(
            "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// An unsigned GET of `path`.
pub fn raw_get(addr: &str, path: &str) -> (u16, String) {
    raw_http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"),
    )
}

/// Sends `req` on a new connection; (status, body) of the response.
fn raw_http(addr: &str, req: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    let st = resp
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (
        st,
        resp.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}
