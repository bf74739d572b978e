//! JSON helpers: Go-compatible output escaping and duplicate-rejecting object parsing.

use std::fmt;

use serde::Serialize;
use serde::de::{DeserializeSeed, Error as _, MapAccess, Visitor};
use serde_json::{Map, Value};

/// Serialises `value` compactly and applies Go `encoding/json`'s HTML-safe escaping
/// (`<`, `>`, `&`, U+2028, U+2029 as `\uXXXX`), so documents are byte-identical to
/// what kube-apiserver emits. These characters can only occur inside JSON strings, so a
/// textual replacement is exact.
pub(crate) fn to_go_json<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let s = serde_json::to_string(value)?;
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return Ok(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Why [`parse_object`] failed.
#[derive(Debug)]
pub(crate) enum ObjectError {
    /// Not JSON (syntax, EOF, recursion limit, invalid UTF-8, trailing data).
    Json(String),
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A top-level member name occurs twice.
    Duplicate(String),
}

/// Parses a JSON object, rejecting duplicate top-level member names.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ObjectError> {
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        // Distinguish "valid JSON but not an object" from garbage.
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(ObjectError::NotAnObject),
            Err(e) => Err(ObjectError::Json(e.to_string())),
        };
    }
    let mut dup = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let res = StrictObject { dup: &mut dup }.deserialize(&mut de);
    match res {
        Ok(map) => match de.end() {
            Ok(()) => Ok(map),
            Err(e) => Err(ObjectError::Json(e.to_string())),
        },
        Err(e) => match dup {
            Some(name) => Err(ObjectError::Duplicate(name)),
            None => Err(ObjectError::Json(e.to_string())),
        },
    }
}

struct StrictObject<'a> {
    dup: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for StrictObject<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StrictObject<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                *self.dup = Some(key);
                return Err(A::Error::custom("duplicate member"));
            }
            let value: Value = access.next_value()?;
            map.insert(key, value);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escaping() {
        let s = to_go_json(&serde_json::json!({"a": "<x>&\u{2028}"})).unwrap_or_default();
        assert_eq!(s, r#"{"a":"\u003cx\u003e\u0026\u2028"}"#);
    }

    #[test]
    fn strict_objects() {
        assert!(parse_object(br#" {"a":1,"b":{"a":1,"a":2}} "#).is_ok());
        assert!(matches!(
            parse_object(br#"{"a":1,"a":2}"#),
            Err(ObjectError::Duplicate(n)) if n == "a"
        ));
        assert!(matches!(
            parse_object(b"[1]"),
            Err(ObjectError::NotAnObject)
        ));
        assert!(matches!(
            parse_object(b"\"x\""),
            Err(ObjectError::NotAnObject)
        ));
        assert!(matches!(parse_object(b"{"), Err(ObjectError::Json(_))));
        assert!(matches!(parse_object(b"{} x"), Err(ObjectError::Json(_))));
        assert!(matches!(parse_object(b"nul"), Err(ObjectError::Json(_))));
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(
            matches!(parse_object(deep.as_bytes()), Err(ObjectError::Json(m)) if m.contains("recursion"))
        );
    }
}
