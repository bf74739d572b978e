//! Request bodies in (a size- and depth-capped tree read with quick-xml's
//! event reader) and the bits of response XML shared by operations.

use crate::error::{S3Code, S3Error, S3Result};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// S3's XML namespace.
pub const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Largest XML request body read (DeleteObjects with 1000 long keys fits).
pub const MAX_XML_BODY: usize = 2 * 1024 * 1024;
const MAX_DEPTH: usize = 16;
const MAX_NODES: usize = 20_000;

/// An element: its local name, its text and its child elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// Local name (namespace prefix dropped).
    pub name: String,
    /// Concatenated text content (entities resolved, not trimmed).
    pub text: String,
    /// Child elements, in order.
    pub children: Vec<Node>,
}

impl Node {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

fn resolve_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Parses an XML document into its root element. Anything malformed, too
/// deep or too large is `MalformedXML`.
pub fn parse(bytes: &[u8]) -> S3Result<Node> {
    if bytes.len() > MAX_XML_BODY {
        return Err(S3Error::malformed_xml());
    }
    let bad = |_| S3Error::malformed_xml();
    let mut r = Reader::from_reader(bytes);
    r.config_mut().trim_text(false);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut nodes = 0usize;
    let mut buf = Vec::new();
    loop {
        let ev = r
            .read_event_into(&mut buf)
            .map_err(|_| S3Error::malformed_xml())?;
        match ev {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(S3Error::malformed_xml());
            }
            Event::Start(e) => {
                nodes += 1;
                if stack.len() >= MAX_DEPTH || nodes > MAX_NODES {
                    return Err(S3Error::malformed_xml());
                }
                let name = String::from_utf8(e.local_name().as_ref().to_vec())
                    .map_err(|_| S3Error::malformed_xml())?;
                stack.push(Node {
                    name,
                    ..Default::default()
                });
            }
            Event::Empty(e) => {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(S3Error::malformed_xml());
                }
                let name = String::from_utf8(e.local_name().as_ref().to_vec())
                    .map_err(|_| S3Error::malformed_xml())?;
                let n = Node {
                    name,
                    ..Default::default()
                };
                match stack.last_mut() {
                    Some(p) => p.children.push(n),
                    None => root = Some(n),
                }
            }
            Event::End(_) => {
                let n = stack.pop().ok_or_else(S3Error::malformed_xml)?;
                match stack.last_mut() {
                    Some(p) => p.children.push(n),
                    None => root = Some(n),
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|_| S3Error::malformed_xml())?;
                match stack.last_mut() {
                    Some(p) => p.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(S3Error::malformed_xml()),
                }
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|_| S3Error::malformed_xml())?;
                stack
                    .last_mut()
                    .ok_or_else(S3Error::malformed_xml)?
                    .text
                    .push_str(&s);
            }
            Event::GeneralRef(e) => {
                let c = match e.resolve_char_ref().map_err(bad)? {
                    Some(c) => c,
                    None => {
                        let name = e.decode().map_err(|_| S3Error::malformed_xml())?;
                        resolve_entity(&name).ok_or_else(S3Error::malformed_xml)?
                    }
                };
                stack
                    .last_mut()
                    .ok_or_else(S3Error::malformed_xml)?
                    .text
                    .push(c);
            }
            Event::DocType(_) => return Err(S3Error::malformed_xml()),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(S3Error::malformed_xml());
    }
    root.ok_or_else(S3Error::malformed_xml)
}

/// `<Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>`.
pub fn parse_tagging(bytes: &[u8]) -> S3Result<Vec<(String, String)>> {
    let root = parse(bytes)?;
    if root.name != "Tagging" {
        return Err(S3Error::malformed_xml());
    }
    let set = root.child("TagSet").ok_or_else(S3Error::malformed_xml)?;
    let mut tags = Vec::new();
    for t in set.all("Tag") {
        let k = t.text_of("Key").ok_or_else(S3Error::malformed_xml)?;
        let v = t.text_of("Value").ok_or_else(S3Error::malformed_xml)?;
        tags.push((k.to_string(), v.to_string()));
    }
    crate::authz::validate_tags(&tags)?;
    Ok(tags)
}

/// An object named in a `DeleteObjects` body: its key and `<VersionId>`.
pub type DeleteEntry = (String, Option<String>);

/// `<Delete><Quiet/><Object><Key/><VersionId/></Object>…</Delete>`:
/// (quiet, objects).
pub fn parse_delete(bytes: &[u8]) -> S3Result<(bool, Vec<DeleteEntry>)> {
    let root = parse(bytes)?;
    if root.name != "Delete" {
        return Err(S3Error::malformed_xml());
    }
    let quiet = root.text_of("Quiet").is_some_and(|q| q.trim() == "true");
    let keys: Vec<DeleteEntry> = root
        .all("Object")
        .map(|o| {
            let key = o.text_of("Key")?.to_string();
            Some((key, o.text_of("VersionId").map(str::to_string)))
        })
        .collect::<Option<_>>()
        .ok_or_else(S3Error::malformed_xml)?;
    if keys.is_empty() || keys.len() > 1000 {
        return Err(S3Error::malformed_xml());
    }
    Ok((quiet, keys))
}

/// `<CompleteMultipartUpload><Part><PartNumber/><ETag/></Part>…`.
pub fn parse_complete(bytes: &[u8]) -> S3Result<Vec<(u32, String)>> {
    let root = parse(bytes)?;
    if root.name != "CompleteMultipartUpload" {
        return Err(S3Error::malformed_xml());
    }
    let mut parts = Vec::new();
    for p in root.all("Part") {
        let n: u32 = p
            .text_of("PartNumber")
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(S3Error::malformed_xml)?;
        let etag = p.text_of("ETag").ok_or_else(S3Error::malformed_xml)?;
        parts.push((n, etag.trim().trim_matches('"').to_string()));
    }
    if parts.is_empty() {
        return Err(S3Error::new(
            S3Code::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    Ok(parts)
}

/// `<CreateBucketConfiguration><LocationConstraint/>…`: the location
/// constraint, if any. An empty body has none.
pub fn parse_create_bucket(bytes: &[u8]) -> S3Result<Option<String>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let root = parse(bytes)?;
    if root.name != "CreateBucketConfiguration" {
        return Err(S3Error::malformed_xml());
    }
    Ok(root
        .text_of("LocationConstraint")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty()))
}

/// S3's `encoding-type=url` encoding of keys and prefixes in listings.
pub fn url_encode(s: &str) -> String {
    podiam_sigv4::encode::uri_encode(s.as_bytes(), false)
}

pub use podiam_core::timefmt::iso8601_ms;

/// `Wed, 21 Oct 2015 07:28:00 GMT`.
pub fn http_date(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[usize::from(t.weekday().number_days_from_monday())],
        t.day(),
        MONTHS[usize::from(u8::from(t.month()) - 1)],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_delete_with_entities_and_spaces() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>
  <Object><Key> a &amp; b &#x41;&lt;</Key></Object>
  <Object><Key><![CDATA[c]]></Key><VersionId>x</VersionId></Object>
</Delete>"#;
        let (quiet, keys) = parse_delete(body).unwrap();
        assert!(quiet);
        assert_eq!(
            keys,
            [(" a & b A<".into(), None), ("c".into(), Some("x".into()))]
        );
    }

    #[test]
    fn rejects_malformed_and_hostile_xml() {
        for bad in [
            &b"<Delete><Object><Key>a</Key></Object>"[..],
            b"<Delete></Object>",
            b"not xml",
            b"<Delete/><Delete/>",
            b"<!DOCTYPE x [<!ENTITY e \"boom\">]><Delete><Object><Key>&e;</Key></Object></Delete>",
            b"<Delete><Object><Key>&unknown;</Key></Object></Delete>",
            b"<Delete></Delete>",
        ] {
            assert_eq!(
                parse_delete(bad).unwrap_err().code.as_str(),
                "MalformedXML",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(parse(deep.as_bytes()).is_err());
        let big = vec![b' '; MAX_XML_BODY + 1];
        assert!(parse(&big).is_err());
    }

    #[test]
    fn parses_complete_tagging_and_create_bucket() {
        let c = parse_complete(
            b"<CompleteMultipartUpload><Part><ETag>\"abc\"</ETag><PartNumber>1</PartNumber></Part><Part><PartNumber>2</PartNumber><ETag>def</ETag></Part></CompleteMultipartUpload>",
        )
        .unwrap();
        assert_eq!(c, vec![(1, "abc".to_string()), (2, "def".to_string())]);
        let t = parse_tagging(
            b"<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag><Tag><Key>e</Key><Value></Value></Tag></TagSet></Tagging>",
        )
        .unwrap();
        assert_eq!(
            t,
            vec![("team".into(), "blue".into()), ("e".into(), "".into())]
        );
        assert_eq!(
            parse_create_bucket(b"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>").unwrap().as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(parse_create_bucket(b"").unwrap(), None);
        assert!(parse_create_bucket(b"<Other/>").is_err());
    }

    #[test]
    fn time_formats() {
        assert_eq!(iso8601_ms(1_445_412_480_123), "2015-10-21T07:28:00.123Z");
        assert_eq!(
            http_date(1_445_412_480_123),
            "Wed, 21 Oct 2015 07:28:00 GMT"
        );
        assert_eq!(url_encode("a b/c+é"), "a%20b/c%2B%C3%A9");
    }
}
