//! An order-preserving JSON value and a writer that reproduces Go's
//! `encoding/json` output byte for byte.
//!
//! Upstream's webhook decodes the pod into Go structs and re-encodes the
//! containers, so the bytes of a patch depend on Go's struct field order,
//! `omitempty` rules and HTML-safe string escaping. [`Json`] keeps the input's
//! key order (serde_json's `Map` would sort it), and [`crate::goorder`] walks
//! it with tables of the core/v1 field orders.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;

/// A JSON value whose objects keep their keys in input order.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Json {
    /// `null`.
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as serde_json parsed it.
    Num(serde_json::Number),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, keys in input order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// The member `key` of an object (the last one if the key repeats, as Go
    /// decodes it), or `None`.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows `keys` through nested objects.
    pub fn path(&self, keys: &[&str]) -> Option<&Json> {
        let mut cur = self;
        for k in keys {
            cur = cur.get(k)?;
        }
        Some(cur)
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Arr(a) => Some(a),
            _ => None,
        }
    }

    /// Whether this is `null` (or absent, for callers that map `None` here).
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// A string member, `""` when absent or not a string (Go's zero value).
    pub fn str_of(&self, key: &str) -> &str {
        self.get(key).and_then(Json::as_str).unwrap_or("")
    }

    /// Sets (or appends) a member of an object; no-op on other values.
    pub fn set(&mut self, key: &str, value: Json) {
        if let Json::Obj(members) = self {
            if let Some(slot) = members.iter_mut().rev().find(|(k, _)| k == key) {
                slot.1 = value;
            } else {
                members.push((key.to_string(), value));
            }
        }
    }

    /// A string value.
    pub fn string(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// An object from `(key, value)` pairs.
    pub fn object<K: Into<String>>(members: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Obj(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Converts to a serde_json value (object keys then follow serde_json's order).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Num(n) => serde_json::Value::Number(n.clone()),
            Json::Str(s) => serde_json::Value::String(s.clone()),
            Json::Arr(a) => serde_json::Value::Array(a.iter().map(Json::to_value).collect()),
            Json::Obj(m) => serde_json::Value::Object(
                m.iter().map(|(k, v)| (k.clone(), v.to_value())).collect(),
            ),
        }
    }

    /// Converts from a serde_json value.
    pub fn from_value(v: &serde_json::Value) -> Json {
        match v {
            serde_json::Value::Null => Json::Null,
            serde_json::Value::Bool(b) => Json::Bool(*b),
            serde_json::Value::Number(n) => Json::Num(n.clone()),
            serde_json::Value::String(s) => Json::Str(s.clone()),
            serde_json::Value::Array(a) => Json::Arr(a.iter().map(Json::from_value).collect()),
            serde_json::Value::Object(m) => Json::Obj(
                m.iter()
                    .map(|(k, v)| (k.clone(), Json::from_value(v)))
                    .collect(),
            ),
        }
    }

    /// Go-style encoding of this value as it stands (objects in stored order).
    pub fn to_go_string(&self) -> String {
        let mut out = String::new();
        write_raw(&mut out, self);
        out
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
                Json::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Num(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Num(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
                serde_json::Number::from_f64(n)
                    .map(Json::Num)
                    .ok_or_else(|| E::custom("non-finite number"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::Str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<Json>()? {
                    out.push(v);
                }
                Ok(Json::Arr(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    out.push((k, v));
                }
                Ok(Json::Obj(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Num(n) => n.serialize(s),
            Json::Str(v) => s.serialize_str(v),
            Json::Arr(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Json::Obj(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Appends `s` as a JSON string literal, escaped as Go's `encoding/json`
/// does by default (HTML-safe: `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes).
pub fn write_go_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}' => {
                let n = c as u32;
                out.push_str("\\u");
                for shift in [12u32, 8, 4, 0] {
                    out.push(HEX[((n >> shift) & 0xf) as usize] as char);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a number as Go would print it after decoding into a numeric field.
pub fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else {
        out.push_str(&n.to_string());
    }
}

/// Appends `v` in Go's encoding, objects in their stored order.
pub fn write_raw(out: &mut String, v: &Json) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(true) => out.push_str("true"),
        Json::Bool(false) => out.push_str("false"),
        Json::Num(n) => write_number(out, n),
        Json::Str(s) => write_go_string(out, s),
        Json::Arr(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_raw(out, e);
            }
            out.push(']');
        }
        Json::Obj(m) => {
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(out, k);
                out.push(':');
                write_raw(out, e);
            }
            out.push('}');
        }
    }
}

/// Parses a JSON or YAML document (the first YAML document) into [`Json`].
pub fn parse_document(bytes: &[u8]) -> Result<Json, String> {
    if let Ok(j) = serde_json::from_slice::<Json>(bytes) {
        return Ok(j);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut doc =
        serde_saphyr::from_str::<Json>(text).map_err(|e| format!("neither JSON nor YAML: {e}"))?;
    stringify_metadata(&mut doc);
    if let Some(Json::Obj(review)) = Some(&mut doc)
        && let Some((_, Json::Obj(request))) = review.iter_mut().rev().find(|(k, _)| k == "request")
        && let Some((_, object)) = request.iter_mut().rev().find(|(k, _)| k == "object")
    {
        stringify_metadata(object);
    }
    Ok(doc)
}

/// Annotations and labels are `map[string]string`: Kubernetes' YAML reader
/// (sigs.k8s.io/yaml, type-directed) turns an unquoted `3600` or `true`
/// there into a string, so this does too.
fn stringify_metadata(doc: &mut Json) {
    let Json::Obj(members) = doc else { return };
    let Some((_, Json::Obj(metadata))) = members.iter_mut().rev().find(|(k, _)| k == "metadata")
    else {
        return;
    };
    for (k, map) in metadata.iter_mut() {
        if k != "annotations" && k != "labels" {
            continue;
        }
        let Json::Obj(entries) = map else { continue };
        for (_, v) in entries.iter_mut() {
            let text = match v {
                Json::Num(n) => n.to_string(),
                Json::Bool(b) => b.to_string(),
                _ => continue,
            };
            *v = Json::Str(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escaping() {
        let mut s = String::new();
        write_go_string(&mut s, "a<b>&\"\\\n\u{1}\u{2028}é");
        assert_eq!(s, r#""a\u003cb\u003e\u0026\"\\\n\u0001\u2028é""#);
    }

    #[test]
    fn yaml_annotations_and_labels_are_strings() {
        let doc = parse_document(
            b"metadata:\n  annotations:\n    eks.amazonaws.com/token-expiration: 3600\n    x: true\n  labels:\n    n: 1.5\nspec:\n  priority: 7\n",
        )
        .unwrap();
        assert_eq!(
            doc.to_go_string(),
            r#"{"metadata":{"annotations":{"eks.amazonaws.com/token-expiration":"3600","x":"true"},"labels":{"n":"1.5"}},"spec":{"priority":7}}"#
        );
        let review = parse_document(
            b"kind: AdmissionReview\nrequest:\n  object:\n    metadata:\n      annotations:\n        a: 1\n",
        )
        .unwrap();
        assert_eq!(
            review.path(&["request", "object", "metadata", "annotations", "a"]),
            Some(&Json::string("1"))
        );
    }

    #[test]
    fn keeps_order() {
        let j: Json =
            serde_json::from_str(r#"{"z":1,"a":[true,null,"x"],"m":{"b":1,"a":2}}"#).unwrap();
        assert_eq!(
            j.to_go_string(),
            r#"{"z":1,"a":[true,null,"x"],"m":{"b":1,"a":2}}"#
        );
    }
}
