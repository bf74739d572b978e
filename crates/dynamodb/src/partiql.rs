//! What IAM needs from a PartiQL statement: its verb (the
//! `dynamodb:PartiQL*` action), its table and index, the partition-key
//! values it fixes (`dynamodb:LeadingKeys`, and whether a select scans the
//! table), and the top-level attribute names it names. The engine parses
//! and runs the statement; a statement this reader cannot place is refused
//! before any decision.

use crate::expr::{UNREADABLE, key_text};
use serde_json::Value;

/// The statement kinds, one IAM action each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `SELECT`: `dynamodb:PartiQLSelect`.
    Select,
    /// `INSERT`: `dynamodb:PartiQLInsert`.
    Insert,
    /// `UPDATE`: `dynamodb:PartiQLUpdate`.
    Update,
    /// `DELETE`: `dynamodb:PartiQLDelete`.
    Delete,
}

impl Verb {
    /// `Select`, `Insert`, …
    pub fn name(self) -> &'static str {
        match self {
            Verb::Select => "Select",
            Verb::Insert => "Insert",
            Verb::Update => "Update",
            Verb::Delete => "Delete",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Num(String),
    Param(usize),
    Sym(char),
}

/// A statement as IAM sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The verb.
    pub verb: Verb,
    /// The table.
    pub table: String,
    /// The index (`"T"."I"`), for selects.
    pub index: Option<String>,
    /// Top-level attribute names, in order of appearance.
    pub attributes: Vec<String>,
    toks: Vec<Tok>,
}

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "IS",
    "MISSING",
    "NULL",
    "INSERT",
    "INTO",
    "VALUE",
    "UPDATE",
    "SET",
    "REMOVE",
    "DELETE",
    "RETURNING",
    "TRUE",
    "FALSE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
];

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut params = 0;
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut j = i + 1;
            let mut text = String::new();
            loop {
                match cs.get(j) {
                    None => {
                        return Err(format!(
                            "Statement wasn't well formed, can't be processed: unterminated {c}"
                        ));
                    }
                    Some(&q) if q == c && cs.get(j + 1) == Some(&c) => {
                        text.push(c);
                        j += 2;
                    }
                    Some(&q) if q == c => break,
                    Some(&x) => {
                        text.push(x);
                        j += 1;
                    }
                }
            }
            out.push(if c == '"' {
                Tok::Quoted(text)
            } else {
                Tok::Str(text)
            });
            i = j + 1;
        } else if c.is_ascii_digit()
            || (c == '-' && cs.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let mut j = i + 1;
            while j < cs.len()
                && (cs[j].is_ascii_alphanumeric() || cs[j] == '.' || cs[j] == '+' || cs[j] == '-')
            {
                j += 1;
            }
            out.push(Tok::Num(cs[i..j].iter().collect()));
            i = j;
        } else if c.is_alphabetic() || c == '_' {
            let mut j = i;
            while j < cs.len() && (cs[j].is_alphanumeric() || cs[j] == '_') {
                j += 1;
            }
            out.push(Tok::Word(cs[i..j].iter().collect()));
            i = j;
        } else if c == '?' {
            out.push(Tok::Param(params));
            params += 1;
            i += 1;
        } else {
            out.push(Tok::Sym(c));
            i += 1;
        }
    }
    Ok(out)
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

/// A table or index name.
fn name(t: Option<&Tok>) -> Option<String> {
    match t? {
        Tok::Quoted(n) => Some(n.clone()),
        Tok::Word(w) if !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(w)) => Some(w.clone()),
        _ => None,
    }
}

/// Reads `text`.
pub fn read(text: &str) -> Result<Statement, String> {
    let toks = tokenize(text)?;
    let bad = || format!("Statement wasn't well formed, can't be processed: {text}");
    let first = toks.first().ok_or_else(bad)?;
    let (verb, at) = if is_kw(first, "SELECT") {
        let from = toks.iter().position(|t| is_kw(t, "FROM")).ok_or_else(bad)?;
        (Verb::Select, from + 1)
    } else if is_kw(first, "INSERT") && toks.get(1).is_some_and(|t| is_kw(t, "INTO")) {
        (Verb::Insert, 2)
    } else if is_kw(first, "UPDATE") {
        (Verb::Update, 1)
    } else if is_kw(first, "DELETE") && toks.get(1).is_some_and(|t| is_kw(t, "FROM")) {
        (Verb::Delete, 2)
    } else {
        return Err(bad());
    };
    let table = name(toks.get(at)).ok_or_else(bad)?;
    let index = (verb == Verb::Select && toks.get(at + 1) == Some(&Tok::Sym('.')))
        .then(|| name(toks.get(at + 2)))
        .flatten();
    let mut st = Statement {
        verb,
        table,
        index,
        attributes: Vec::new(),
        toks,
    };
    st.attributes = st.names(at);
    Ok(st)
}

impl Statement {
    /// Top-level attribute names outside the table reference.
    fn names(&self, table_at: usize) -> Vec<String> {
        let skip_to = if self.index.is_some() {
            table_at + 3
        } else {
            table_at + 1
        };
        let mut out: Vec<String> = Vec::new();
        let mut push = |n: &str| {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        };
        let t = &self.toks;
        // RETURNING's words (ALL OLD *) name no attributes.
        let end = t
            .iter()
            .position(|x| is_kw(x, "RETURNING"))
            .unwrap_or(t.len());
        for (i, tok) in t[..end].iter().enumerate() {
            if i == 0 || (i >= table_at - 1 && i < skip_to) {
                continue;
            }
            let after_dot = t[i - 1] == Tok::Sym('.');
            let is_call = t.get(i + 1) == Some(&Tok::Sym('('));
            match tok {
                Tok::Word(w)
                    if !after_dot
                        && !is_call
                        && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(w)) =>
                {
                    push(w)
                }
                Tok::Quoted(q) if !after_dot => push(q),
                // INSERT's VALUE {'name': …}: the keys name attributes.
                Tok::Str(s)
                    if self.verb == Verb::Insert && t.get(i + 1) == Some(&Tok::Sym(':')) =>
                {
                    push(s)
                }
                _ => {}
            }
        }
        out
    }

    /// The values the statement fixes attribute `key` to: `key = v` and
    /// `key IN [v, …]` in its WHERE clause, or `'key': v` in an INSERT.
    /// `None`: it does not fix the key (a select then scans the table).
    pub fn key_values(&self, key: &str, params: &[Value]) -> Option<Vec<String>> {
        let t = &self.toks;
        let value = |tok: &Tok| match tok {
            Tok::Str(s) | Tok::Num(s) => s.clone(),
            Tok::Param(i) => key_text(params.get(*i)),
            _ => UNREADABLE.to_string(),
        };
        let is_key = |tok: &Tok| matches!(tok, Tok::Word(w) | Tok::Quoted(w) if w == key);
        let mut out = Vec::new();
        let mut found = false;
        for i in 0..t.len() {
            if self.verb == Verb::Insert {
                if matches!(&t[i], Tok::Str(s) if s == key) && t.get(i + 1) == Some(&Tok::Sym(':'))
                {
                    found = true;
                    out.push(t.get(i + 2).map_or(UNREADABLE.to_string(), value));
                }
                continue;
            }
            if !is_key(&t[i]) || (i > 0 && t[i - 1] == Tok::Sym('.')) {
                continue;
            }
            match t.get(i + 1) {
                Some(Tok::Sym('=')) => {
                    found = true;
                    out.push(t.get(i + 2).map_or(UNREADABLE.to_string(), value));
                }
                Some(w) if is_kw(w, "IN") => {
                    found = true;
                    for tok in t[i + 2..].iter().skip(1) {
                        match tok {
                            Tok::Sym(']') | Tok::Sym(')') => break,
                            Tok::Sym(',') => {}
                            v => out.push(value(v)),
                        }
                    }
                }
                _ => {}
            }
        }
        found.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verbs_tables_and_indexes() {
        let s = read(r#"SELECT a, b.c FROM "Music"."byArtist" WHERE Artist = ?"#).unwrap();
        assert_eq!(
            (s.verb, s.table.as_str(), s.index.as_deref()),
            (Verb::Select, "Music", Some("byArtist"))
        );
        assert_eq!(s.attributes, ["a", "b", "Artist"]);
        let s = read(r#"INSERT INTO Music VALUE {'Artist': 'x', 'Song''s': ?}"#).unwrap();
        assert_eq!((s.verb, s.table.as_str()), (Verb::Insert, "Music"));
        assert_eq!(s.attributes, ["Artist", "Song's"]);
        let s = read(r#"update "T" SET n = n + 1 REMOVE old WHERE pk = 'k' RETURNING ALL NEW *"#)
            .unwrap();
        assert_eq!(s.verb, Verb::Update);
        assert_eq!(s.attributes, ["n", "old", "pk"]);
        assert_eq!(
            read(r#"DELETE FROM "T" WHERE pk = 'k'"#).unwrap().verb,
            Verb::Delete
        );
        assert!(read("EXPLAIN SELECT").is_err());
        assert!(read("SELECT * FROM").is_err());
        assert!(read("SELECT * FROM 'unterminated").is_err());
    }

    #[test]
    fn key_values() {
        let p = [json!({"S": "alice"}), json!({"S": "bob"})];
        let s = read(r#"SELECT * FROM "T" WHERE pk = ? AND sk > ?"#).unwrap();
        assert_eq!(s.key_values("pk", &p), Some(vec!["alice".into()]));
        let s = read(r#"SELECT * FROM "T" WHERE "pk" IN ['a', 'b'] OR pk = 7"#).unwrap();
        assert_eq!(
            s.key_values("pk", &[]),
            Some(vec!["a".into(), "b".into(), "7".into()])
        );
        let s = read(r#"SELECT * FROM "T" WHERE other = 'a'"#).unwrap();
        assert_eq!(s.key_values("pk", &[]), None);
        let s = read(r#"INSERT INTO "T" VALUE {'pk': ?, 'x': 'y'}"#).unwrap();
        assert_eq!(s.key_values("pk", &p), Some(vec!["alice".into()]));
    }
}
