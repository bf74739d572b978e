//! What IAM needs from DynamoDB's expressions: the top-level attribute
//! names a projection, condition, filter, key condition or update
//! expression touches (`dynamodb:Attributes`), and the partition-key value
//! a key condition fixes (`dynamodb:LeadingKeys`).
//!
//! A small tokenizer, not a parser: the engine validates the expressions;
//! here only names and the `key = :value` equality are read. An expression
//! the tokenizer cannot read is refused with the engine's wording class
//! (ValidationException) before any decision is made on partial facts.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    /// A bare name or keyword.
    Ident(&'a str),
    /// `#name`.
    Name(&'a str),
    /// `:value`.
    Value(&'a str),
    /// A number (list index).
    Number,
    /// One of `= <> < <= > >= ( ) , [ ] . + -`.
    Sym(&'a str),
}

/// Why an expression cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError(pub String);

fn tokenize(s: &str) -> Result<Vec<Token<'_>>, ExprError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |i: usize| {
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        j
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'#' | b':' => {
                let j = word(i + 1);
                if j == i + 1 {
                    return Err(ExprError(format!(
                        "Invalid expression: Syntax error; token: \"{}\"",
                        c as char
                    )));
                }
                out.push(if c == b'#' {
                    Token::Name(&s[i..j])
                } else {
                    Token::Value(&s[i..j])
                });
                i = j;
            }
            b'<' | b'>' => {
                let two = b
                    .get(i + 1)
                    .is_some_and(|&n| n == b'=' || (c == b'<' && n == b'>'));
                let n = if two { 2 } else { 1 };
                out.push(Token::Sym(&s[i..i + n]));
                i += n;
            }
            b'=' | b'(' | b')' | b',' | b'[' | b']' | b'.' | b'+' | b'-' => {
                out.push(Token::Sym(&s[i..i + 1]));
                i += 1;
            }
            c if c.is_ascii_digit() => {
                i = word(i);
                out.push(Token::Number);
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let j = word(i);
                out.push(Token::Ident(&s[i..j]));
                i = j;
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(ExprError(format!(
                    "Invalid expression: Syntax error; token: \"{ch}\""
                )));
            }
        }
    }
    Ok(out)
}

/// Words that are never attribute names where they stand: clause and
/// logical keywords.
fn is_keyword(w: &str) -> bool {
    [
        "AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(w))
}

/// Resolves `#name` through `ExpressionAttributeNames`.
fn resolve(t: &str, names: Option<&Map<String, Value>>) -> Result<String, ExprError> {
    names
        .and_then(|n| n.get(t))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            ExprError(format!(
                "Invalid expression: An expression attribute name used in the document path is not defined; attribute name: {t}"
            ))
        })
}

/// The top-level attribute names `expr` reads or writes, `#names`
/// resolved, in order of appearance (duplicates kept out).
pub fn top_level_names(
    expr: &str,
    names: Option<&Map<String, Value>>,
) -> Result<Vec<String>, ExprError> {
    let toks = tokenize(expr)?;
    let mut out: Vec<String> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let after_dot = i > 0 && toks[i - 1] == Token::Sym(".");
        let is_call = toks.get(i + 1) == Some(&Token::Sym("("));
        let name = match t {
            Token::Ident(w) if !after_dot && !is_call && !is_keyword(w) => w.to_string(),
            Token::Name(n) if !after_dot => resolve(n, names)?,
            _ => continue,
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// The values a key condition fixes `key` to (`key = :v`, either side),
/// as IAM sees them (`dynamodb:LeadingKeys`).
pub fn key_equality(
    expr: &str,
    key: &str,
    names: Option<&Map<String, Value>>,
    values: Option<&Map<String, Value>>,
) -> Result<Vec<String>, ExprError> {
    let toks = tokenize(expr)?;
    let names_key = |t: &Token<'_>| -> Result<bool, ExprError> {
        Ok(match t {
            Token::Ident(w) => *w == key,
            Token::Name(n) => resolve(n, names)? == key,
            _ => false,
        })
    };
    let mut out = Vec::new();
    for w in toks.windows(3) {
        if w[1] != Token::Sym("=") {
            continue;
        }
        let v = match (&w[0], &w[2]) {
            (l, Token::Value(v)) if names_key(l)? => v,
            (Token::Value(v), r) if names_key(r)? => v,
            _ => continue,
        };
        out.push(key_text(values.and_then(|m| m.get(*v))));
    }
    Ok(out)
}

/// An attribute value's text as condition keys compare it: S as is, N as
/// sent, B as its base64.
pub fn scalar(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    ["S", "N", "B"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str).map(str::to_string))
}

/// The key value IAM sees when a request names a key whose value podiam
/// cannot read (a missing placeholder, a map): a text no policy value
/// matches but `*`, so extraction never fails open.
pub const UNREADABLE: &str = "\u{fffd}podiam:unreadable-key-value";

/// [`scalar`], or [`UNREADABLE`].
pub fn key_text(v: Option<&Value>) -> String {
    v.and_then(scalar).unwrap_or_else(|| UNREADABLE.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn projection_and_paths() {
        let n = names(json!({"#a": "Address", "#n": "Name"}));
        assert_eq!(
            top_level_names("#n, #a.City, Scores[2], Meta.inner.deep", Some(&n)).unwrap(),
            ["Name", "Address", "Scores", "Meta"]
        );
    }

    #[test]
    fn conditions_and_functions() {
        let n = names(json!({"#s": "status"}));
        assert_eq!(
            top_level_names(
                "attribute_exists(Id) AND NOT begins_with(#s, :p) OR size(Tags) > :n AND Price BETWEEN :lo AND :hi AND Color IN (:r, :g)",
                Some(&n)
            )
            .unwrap(),
            ["Id", "status", "Tags", "Price", "Color"]
        );
    }

    #[test]
    fn update_expressions() {
        assert_eq!(
            top_level_names(
                "SET Score = if_not_exists(Score, :z) + :d, Hist = list_append(Hist, :h) REMOVE Old.x ADD Cnt :one DELETE Tagset :t",
                None
            )
            .unwrap(),
            ["Score", "Hist", "Old", "Cnt", "Tagset"]
        );
    }

    #[test]
    fn undefined_names_and_bad_tokens_are_refused() {
        assert!(top_level_names("#missing", None).is_err());
        assert!(top_level_names("a ; b", None).is_err());
        assert!(top_level_names("# a", None).is_err());
    }

    #[test]
    fn partition_key_equality() {
        let n = names(json!({"#pk": "customerId"}));
        let v = names(json!({":c": {"S": "alice"}, ":d": {"N": "5"}}));
        assert_eq!(
            key_equality("#pk = :c AND sk > :d", "customerId", Some(&n), Some(&v)).unwrap(),
            ["alice"]
        );
        assert_eq!(
            key_equality(":c = customerId", "customerId", None, Some(&v)).unwrap(),
            ["alice"]
        );
        assert!(
            key_equality("other = :c", "customerId", None, Some(&v))
                .unwrap()
                .is_empty()
        );
        assert_eq!(scalar(&json!({"N": "5"})), Some("5".into()));
        assert_eq!(scalar(&json!({"BOOL": true})), None);
    }
}
