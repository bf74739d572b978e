//! Policy variables (IAM User Guide, "IAM policy elements: Variables and tags").
//!
//! `${key}` is replaced by the single value of the request-context key `key`
//! (names are case-insensitive). `${key, 'default'}` supplies a default used
//! only when the key is absent. `${*}`, `${?}` and `${$}` stand for literal `*`,
//! `?` and `$`. Variables are only recognised with `"Version": "2012-10-17"`;
//! otherwise `${...}` is plain text. A variable whose key is absent (and has no
//! default), is multivalued, or has no value, is *unresolved*.

use crate::context::RequestContext;
use crate::matcher::{P, push_lit, push_wild};

/// One piece of a string that may contain policy variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Policy text; `*` and `?` in it are wildcards where the operator allows them.
    Text(String),
    /// A literal character produced by `${*}`, `${?}` or `${$}`; never a wildcard.
    Escaped(char),
    /// A variable reference.
    Var {
        /// Lower-cased key name used for lookup.
        key: String,
        /// Default value from `${key, 'default'}`.
        default: Option<String>,
    },
}

/// A policy string split into text and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
    has_vars: bool,
}

impl Template {
    /// Parses `s`; if `vars` is false, the whole string is text.
    pub fn parse(s: &str, vars: bool) -> Template {
        if !vars || !s.contains("${") {
            return Template {
                pieces: vec![Piece::Text(s.to_string())],
                has_vars: false,
            };
        }
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = s;
        let mut has_vars = false;
        while let Some(pos) = rest.find("${") {
            text.push_str(&rest[..pos]);
            let after = &rest[pos + 2..];
            match after
                .find('}')
                .and_then(|end| parse_var(&after[..end]).map(|v| (end, v)))
            {
                Some((end, piece)) => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    if matches!(piece, Piece::Var { .. }) {
                        has_vars = true;
                    }
                    pieces.push(piece);
                    rest = &after[end + 1..];
                }
                None => {
                    // Not a well-formed variable: keep `${` as text.
                    text.push_str("${");
                    rest = after;
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Template { pieces, has_vars }
    }

    /// Parses a Resource/NotResource ARN: variables are recognised only in the
    /// resource part, after the fifth colon (IAM User Guide, "IAM policy
    /// elements: Variables and tags" → "Where you can use policy variables").
    pub fn parse_resource(s: &str, vars: bool) -> Template {
        let split = s.match_indices(':').nth(4).map(|(i, _)| i + 1);
        match split {
            Some(i) if vars => {
                let mut t = Template::parse(&s[i..], true);
                t.pieces.insert(0, Piece::Text(s[..i].to_string()));
                t
            }
            _ => Template::parse(s, false),
        }
    }

    /// The (lower-cased) keys of the `${key}` references.
    pub fn var_keys(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var { key, .. } => Some(key.as_str()),
            _ => None,
        })
    }

    /// Whether any `${key}` reference is present.
    pub fn has_vars(&self) -> bool {
        self.has_vars
    }

    /// Resolves variables into a plain string (wildcards are not special).
    /// `None` if a variable cannot be resolved.
    pub fn resolve(&self, ctx: &RequestContext) -> Option<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Escaped(c) => out.push(*c),
                Piece::Var { key, default } => out.push_str(lookup(ctx, key, default.as_deref())?),
            }
        }
        Some(out)
    }

    /// Resolves a template without variables (escapes applied); `None` if it has variables.
    pub fn resolve_no_ctx(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Escaped(c) => out.push(*c),
                Piece::Var { .. } => return None,
            }
        }
        Some(out)
    }

    /// Resolves into a wildcard program: text wildcards stay wildcards,
    /// substituted values and escapes are literal.
    pub fn resolve_prog(&self, ctx: Option<&RequestContext>) -> Option<Vec<P>> {
        let mut prog = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => push_wild(&mut prog, t),
                Piece::Escaped(c) => push_lit(&mut prog, c.encode_utf8(&mut [0u8; 4])),
                Piece::Var { key, default } => {
                    push_lit(&mut prog, lookup(ctx?, key, default.as_deref())?);
                }
            }
        }
        Some(prog)
    }
}

fn lookup<'c>(ctx: &'c RequestContext, key: &str, default: Option<&'c str>) -> Option<&'c str> {
    match ctx.get_lower(key) {
        // Multivalued keys cannot be used as variables; an empty set has no value.
        Some(v) => v.single(),
        None => default,
    }
}

/// Parses the inside of `${...}`.
fn parse_var(inner: &str) -> Option<Piece> {
    match inner {
        "*" => return Some(Piece::Escaped('*')),
        "?" => return Some(Piece::Escaped('?')),
        "$" => return Some(Piece::Escaped('$')),
        _ => {}
    }
    let (name, default) = match inner.split_once(',') {
        Some((n, d)) => {
            let d = d.trim();
            let d = d.strip_prefix('\'')?.strip_suffix('\'')?;
            (n.trim(), Some(d.to_string()))
        }
        None => (inner.trim(), None),
    };
    if name.is_empty() || name.contains(['$', '{', '\'']) {
        return None;
    }
    Some(Piece::Var {
        key: name.to_lowercase(),
        default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_pieces() {
        let t = Template::parse("home/${aws:username}/*", true);
        assert!(t.has_vars());
        assert_eq!(t.pieces.len(), 3);
        let t = Template::parse("a${*}b${?}${$}", true);
        assert!(!t.has_vars());
        let t = Template::parse("${aws:PrincipalTag/team, 'company-wide'}", true);
        assert_eq!(
            t.pieces,
            vec![Piece::Var {
                key: "aws:principaltag/team".into(),
                default: Some("company-wide".into())
            }]
        );
        let t = Template::parse("${aws:username}", false);
        assert!(!t.has_vars());
        let t = Template::parse("x${unterminated", true);
        assert_eq!(t.pieces, vec![Piece::Text("x${unterminated".into())]);
    }
}
