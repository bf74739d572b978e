//! The AWS query protocol (IAM, STS): form-encoded parameters with
//! `Name.member.N` lists, plus AWS-style constraint validation.

use std::collections::HashMap;

/// At most this many parameters in one request.
pub const MAX_PARAMS: usize = 2000;

/// Why a query-protocol request could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A parameter appeared twice.
    #[error("Duplicate parameter: {0}")]
    Duplicate(String),
    /// Too many parameters.
    #[error("Too many parameters")]
    TooMany,
    /// The body was not UTF-8 form data.
    #[error("Request body is not valid form-encoded UTF-8")]
    NotUtf8,
}

/// Decoded form parameters, in request order.
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    map: HashMap<String, String>,
}

impl QueryParams {
    /// Decodes `a=b&c=d` (from a POST body or a URL query string).
    pub fn parse(raw: &[u8]) -> Result<Self, QueryError> {
        let mut p = QueryParams::default();
        p.extend(raw)?;
        Ok(p)
    }

    /// A query-protocol request's parameters: the URL query, then the
    /// form-encoded body.
    pub fn from_request(query: Option<&str>, body: &[u8]) -> Result<Self, QueryError> {
        let mut p = QueryParams::parse(query.unwrap_or_default().as_bytes())?;
        p.extend(body)?;
        Ok(p)
    }

    /// Adds the parameters of another form-encoded string.
    pub fn extend(&mut self, raw: &[u8]) -> Result<(), QueryError> {
        if std::str::from_utf8(raw).is_err() {
            return Err(QueryError::NotUtf8);
        }
        for (k, v) in form_urlencoded::parse(raw) {
            if self.map.len() >= MAX_PARAMS {
                return Err(QueryError::TooMany);
            }
            if self.map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(QueryError::Duplicate(k.into_owned()));
            }
        }
        Ok(())
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// Every parameter, unordered.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A list `Name.member.1`, `Name.member.2`, … ordered by index.
    pub fn list(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}.member.");
        let mut items: Vec<(u32, &String)> = self
            .map
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(&prefix)?;
                n.parse::<u32>().ok().map(|i| (i, v))
            })
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, v)| v.clone()).collect()
    }

    /// A list of structures `Name.member.N.Field`, ordered by index; each is a
    /// field → value map.
    pub fn struct_list(&self, name: &str) -> Vec<HashMap<String, String>> {
        let prefix = format!("{name}.member.");
        let mut by_index: std::collections::BTreeMap<u32, HashMap<String, String>> =
            Default::default();
        for (k, v) in &self.map {
            let Some(rest) = k.strip_prefix(&prefix) else {
                continue;
            };
            let Some((n, field)) = rest.split_once('.') else {
                continue;
            };
            if let Ok(i) = n.parse::<u32>() {
                by_index
                    .entry(i)
                    .or_default()
                    .insert(field.to_string(), v.clone());
            }
        }
        by_index.into_values().collect()
    }

    /// Whether any parameter starts with `prefix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.map.keys().any(|k| k.starts_with(prefix))
    }
}

/// Collects constraint violations and renders them the way AWS does:
/// `2 validation errors detected: Value 'x' at 'roleSessionName' failed to
/// satisfy constraint: …; Value null at 'roleArn' failed to satisfy constraint:
/// Member must not be null`.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<String>,
}

impl Validator {
    /// A validator with no errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation for `field` (lowerCamel member name) with value `value`.
    pub fn violation(&mut self, field: &str, value: Option<&str>, constraint: &str) {
        let shown = match value {
            Some(v) => format!("'{v}'"),
            None => "null".to_string(),
        };
        self.errors.push(format!(
            "Value {shown} at '{field}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// Requires a value; returns it when present.
    pub fn required<'a>(&mut self, field: &str, value: Option<&'a str>) -> Option<&'a str> {
        if value.is_none() {
            self.violation(field, None, "Member must not be null");
        }
        value
    }

    /// Checks a length range in characters.
    pub fn length(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) {
        if let Some(v) = value {
            let n = v.chars().count();
            if n < min {
                self.violation(
                    field,
                    Some(v),
                    &format!("Member must have length greater than or equal to {min}"),
                );
            } else if n > max {
                self.violation(
                    field,
                    Some(v),
                    &format!("Member must have length less than or equal to {max}"),
                );
            }
        }
    }

    /// Checks that every character satisfies `ok`, reporting `pattern` as AWS does.
    pub fn pattern(
        &mut self,
        field: &str,
        value: Option<&str>,
        pattern: &str,
        ok: fn(char) -> bool,
    ) {
        if let Some(v) = value
            && !v.chars().all(ok)
        {
            self.violation(
                field,
                Some(v),
                &format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// Checks member `index` (0-based) of the tag list `list`: key and value
    /// present, their lengths and characters. AWS names the member by its
    /// 1-based index: `tags.2.member.value`.
    pub fn tag(&mut self, list: &str, index: usize, key: Option<&str>, value: Option<&str>) {
        let (kf, vf) = (
            format!("{list}.{}.member.key", index + 1),
            format!("{list}.{}.member.value", index + 1),
        );
        self.required(&kf, key);
        self.length(&kf, key, 1, 128);
        self.required(&vf, value);
        self.length(&vf, value, 0, 256);
        self.pattern(&kf, key, r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+", is_tag_char);
        self.pattern(&vf, value, r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", is_tag_char);
    }

    /// Checks that a list has at most `max` members.
    pub fn list_max(&mut self, field: &str, len: usize, max: usize) {
        if len > max {
            self.errors.push(format!(
                "Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            ));
        }
    }

    /// Checks an integer range.
    pub fn range(&mut self, field: &str, value: Option<i64>, min: i64, max: i64) {
        if let Some(v) = value {
            let s = v.to_string();
            if v < min {
                self.violation(
                    field,
                    Some(&s),
                    &format!("Member must have value greater than or equal to {min}"),
                );
            } else if v > max {
                self.violation(
                    field,
                    Some(&s),
                    &format!("Member must have value less than or equal to {max}"),
                );
            }
        }
    }

    /// `Ok` when nothing was violated, else the AWS-formatted message.
    pub fn finish(self) -> Result<(), String> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(format!("1 validation error detected: {}", self.errors[0])),
            n => Err(format!(
                "{n} validation errors detected: {}",
                self.errors.join("; ")
            )),
        }
    }
}

/// `[\w+=,.@-]` — role session names, role names, policy names.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Whether every character of `s` is in `[\w+=,.@-]`.
pub fn is_name_char_str(s: &str) -> bool {
    s.chars().all(is_name_char)
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: tag keys and values (letters, separators,
/// numbers and `_.:/=+-@`).
pub fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

/// The policy-document character set `[\u0009\u000A\u000D\u0020-\u00FF]`.
pub fn is_policy_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FF}')
}

/// Parses an integer parameter; `Err` carries the AWS message for a non-number.
pub fn parse_int(field: &str, value: Option<&str>) -> Result<Option<i64>, String> {
    match value {
        None => Ok(None),
        Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
            format!("1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: Member must be a number")
        }),
    }
}

/// Parses a boolean parameter (`true`/`false`, case-insensitive).
pub fn parse_bool(field: &str, value: Option<&str>) -> Result<Option<bool>, String> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(format!(
            "1 validation error detected: Value '{}' at '{field}' failed to satisfy constraint: Member must be a boolean",
            value.unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_structs() {
        let p = QueryParams::parse(
            b"Action=X&ClientIDList.member.2=b&ClientIDList.member.1=a&Tags.member.1.Key=k&Tags.member.1.Value=v%20w&Tags.member.10.Key=z",
        )
        .unwrap();
        assert_eq!(p.get("Action"), Some("X"));
        assert_eq!(p.list("ClientIDList"), vec!["a", "b"]);
        let tags = p.struct_list("Tags");
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0]["Value"], "v w");
        assert_eq!(tags[1]["Key"], "z");
        assert!(p.has_prefix("Tags."));
    }

    #[test]
    fn duplicates_rejected() {
        assert_eq!(
            QueryParams::parse(b"a=1&a=2").unwrap_err(),
            QueryError::Duplicate("a".into())
        );
        assert_eq!(
            QueryParams::parse(&[0xff, 0xfe]).unwrap_err(),
            QueryError::NotUtf8
        );
    }

    #[test]
    fn validator_messages() {
        let mut v = Validator::new();
        v.required("roleArn", None);
        v.pattern("roleSessionName", Some("a b"), r"[\w+=,.@-]*", is_name_char);
        assert_eq!(
            v.finish().unwrap_err(),
            "2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        );
        let mut v = Validator::new();
        v.range("durationSeconds", Some(60), 900, 43200);
        assert!(
            v.finish()
                .unwrap_err()
                .starts_with("1 validation error detected: Value '60' at 'durationSeconds'")
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Ok(p) = QueryParams::parse(&raw) {
                let _ = p.list("A");
                let _ = p.struct_list("A");
            }
        }
    }
}
