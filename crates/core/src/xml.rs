//! A small, allocation-light XML writer for AWS responses.

use std::borrow::Cow;

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(is_special) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    escape_into(&mut out, s);
    Cow::Owned(out)
}

/// The characters XML text and attributes escape: all ASCII, so a byte scan
/// finds them.
fn is_special(b: u8) -> bool {
    matches!(b, b'<' | b'>' | b'&' | b'"' | b'\'' | b'\r')
}

/// Appends `s` to `out`, escaped.
fn escape_into(out: &mut String, s: &str) {
    let mut done = 0;
    for (i, b) in s.bytes().enumerate() {
        let entity = match b {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            b'\r' => "&#13;",
            _ => continue,
        };
        out.push_str(&s[done..i]);
        out.push_str(entity);
        done = i + 1;
    }
    out.push_str(&s[done..]);
}

/// Builds an XML document element by element.
#[derive(Debug, Default)]
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    /// An empty document.
    pub fn new() -> Self {
        Self {
            buf: String::with_capacity(1024),
        }
    }

    /// An empty document starting with `<?xml version="1.0" encoding="UTF-8"?>`.
    pub fn with_declaration() -> Self {
        let mut w = Self::new();
        w.buf
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        w
    }

    /// Opens `<name>`.
    pub fn start(&mut self, name: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// Opens `<name xmlns="ns">`.
    pub fn start_ns(&mut self, name: &str, ns: &str) -> &mut Self {
        self.start_with(name, &[("xmlns", ns)])
    }

    /// Opens `<name a="v" …>`.
    pub fn start_with(&mut self, name: &str, attributes: &[(&str, &str)]) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        for (a, v) in attributes {
            self.buf.push(' ');
            self.buf.push_str(a);
            self.buf.push_str("=\"");
            escape_into(&mut self.buf, v);
            self.buf.push('"');
        }
        self.buf.push('>');
        self
    }

    /// Closes `</name>`.
    pub fn end(&mut self, name: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// Writes `<name>text</name>`.
    pub fn elem(&mut self, name: &str, text: &str) -> &mut Self {
        self.start(name);
        escape_into(&mut self.buf, text);
        self.end(name)
    }

    /// Makes room for `additional` more bytes (a long listing).
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// Writes `<name>text</name>` when `text` is `Some`.
    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(name, t);
        }
        self
    }

    /// Writes `<name><member>a</member>…</name>`.
    pub fn members<S: AsRef<str>>(&mut self, name: &str, items: &[S]) -> &mut Self {
        self.start(name);
        for i in items {
            self.elem("member", i.as_ref());
        }
        self.end(name)
    }

    /// The document so far.
    pub fn finish(self) -> String {
        self.buf
    }
}

/// Renders a query-protocol (IAM/STS) success response:
/// `<{Action}Response xmlns=…><{Action}Result>…</{Action}Result><ResponseMetadata>…`.
/// With `result == None` the operation has no output and no Result element.
pub fn query_response(
    action: &str,
    namespace: &str,
    request_id: &str,
    result: Option<&dyn Fn(&mut XmlWriter)>,
) -> String {
    let mut w = XmlWriter::new();
    let resp = format!("{action}Response");
    w.start_ns(&resp, namespace);
    if let Some(f) = result {
        let res = format!("{action}Result");
        w.start(&res);
        f(&mut w);
        w.end(&res);
    }
    w.start("ResponseMetadata")
        .elem("RequestId", request_id)
        .end("ResponseMetadata");
    w.end(&resp);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn envelope() {
        let body = query_response(
            "GetCallerIdentity",
            "https://sts.amazonaws.com/doc/2011-06-15/",
            "rid",
            Some(&|w: &mut XmlWriter| {
                w.elem("Account", "000000000000");
            }),
        );
        assert_eq!(
            body,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Account>000000000000</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
        let empty = query_response("DeleteRole", "ns", "r", None);
        assert_eq!(
            empty,
            "<DeleteRoleResponse xmlns=\"ns\"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteRoleResponse>"
        );
    }
}
