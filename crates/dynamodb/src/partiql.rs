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

/// `Statement`'s length limit in the DynamoDB API reference.
const MAX_STATEMENT_CHARS: usize = 8192;

/// Parenthesized groups deeper than the engine's own expression limit:
/// beyond it the walk stops, and the statement fixes no key it can name.
const MAX_DEPTH: usize = 64;

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
        } else if c == '-' && cs.get(i + 1) == Some(&'-') {
            // A comment is whitespace to DynamoDB (and to the engine): a
            // quote inside one must not start a string here.
            while i < cs.len() && cs[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && cs.get(i + 1) == Some(&'*') {
            let close = (i + 2..cs.len().saturating_sub(1))
                .find(|&j| cs[j] == '*' && cs[j + 1] == '/')
                .ok_or("Statement wasn't well formed, can't be processed: unterminated comment")?;
            i = close + 2;
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
            || (c == '.' && leading_point(&cs, i))
        {
            // The engine's number grammar, exactly: digits with one point,
            // then an exponent only if digits follow. Anything after it is
            // the next token (`1OR` is `1` then `OR`), as the engine reads it.
            let mut j = i + 1;
            let mut seen_point = c == '.';
            while j < cs.len() && (cs[j].is_ascii_digit() || (cs[j] == '.' && !seen_point)) {
                seen_point |= cs[j] == '.';
                j += 1;
            }
            if j < cs.len() && matches!(cs[j], 'e' | 'E') {
                let sign = usize::from(cs.get(j + 1).is_some_and(|s| matches!(s, '+' | '-')));
                if cs.get(j + 1 + sign).is_some_and(char::is_ascii_digit) {
                    j += 1 + sign;
                    while j < cs.len() && cs[j].is_ascii_digit() {
                        j += 1;
                    }
                }
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

/// A `.` that starts a number (`.5`), as the engine reads it: not one that
/// continues a path (`a.b`, `l[0].x`, `"q".x`).
fn leading_point(cs: &[char], i: usize) -> bool {
    cs.get(i + 1).is_some_and(char::is_ascii_digit)
        && !(i > 0
            && (cs[i - 1].is_ascii_alphanumeric() || matches!(cs[i - 1], '_' | '"' | ']' | ')')))
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
    // DynamoDB's own limit on a statement, checked before reading it (the
    // walk below is recursive).
    if text.chars().count() > MAX_STATEMENT_CHARS {
        return Err(format!(
            "1 validation error detected: Value at 'statement' failed to satisfy constraint: Member must have length less than or equal to {MAX_STATEMENT_CHARS}"
        ));
    }
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
    /// How many `{` and `[` enclose each token.
    fn depths(&self) -> Vec<usize> {
        let mut d = 0usize;
        self.toks
            .iter()
            .map(|t| match t {
                Tok::Sym('{' | '[') => {
                    d += 1;
                    d - 1
                }
                Tok::Sym('}' | ']') => {
                    d = d.saturating_sub(1);
                    d
                }
                _ => d,
            })
            .collect()
    }

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
        let depth = self.depths();
        for (i, tok) in t[..end].iter().enumerate() {
            if i == 0 || (i >= table_at - 1 && i < skip_to) {
                continue;
            }
            // Inside an INSERT's item, only its own keys name attributes,
            // not those of the maps in it.
            if self.verb == Verb::Insert && depth[i] > 1 {
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

    /// The values the statement fixes attribute `key` to: `key = v`,
    /// `v = key` and `key IN [v, …]` in its WHERE clause, or `key: v` in an
    /// INSERT. `None`: it does not fix the key at all (a select then scans
    /// the table). `Some((values, false))`: some branch of the WHERE clause
    /// (an `OR` without the key, a `NOT`) does not fix it, so the statement
    /// may read or write other partitions: a select scans the table.
    pub fn key_values(&self, key: &str, params: &[Value]) -> Option<(Vec<String>, bool)> {
        let t = &self.toks;
        let value = |tok: &Tok| match tok {
            Tok::Str(s) | Tok::Num(s) => s.clone(),
            Tok::Param(i) => key_text(params.get(*i)),
            _ => UNREADABLE.to_string(),
        };
        if self.verb == Verb::Insert {
            // Item keys may be 'quoted', "quoted" or bare; a map in the item
            // has keys of its own.
            let depth = self.depths();
            let values: Vec<String> = (0..t.len())
                .filter(|&i| {
                    matches!(&t[i], Tok::Str(w) | Tok::Quoted(w) | Tok::Word(w) if w == key)
                        && t.get(i + 1) == Some(&Tok::Sym(':'))
                        && depth[i] == 1
                })
                .map(|i| t.get(i + 2).map_or(UNREADABLE.to_string(), value))
                .collect();
            return (!values.is_empty()).then_some((values, true));
        }
        let start = t.iter().position(|x| is_kw(x, "WHERE"))? + 1;
        let end = t[start..]
            .iter()
            .position(|x| is_kw(x, "RETURNING") || is_kw(x, "ORDER"))
            .map_or(t.len(), |p| start + p);
        let mut w = Where {
            toks: &t[start..end],
            at: 0,
            depth: 0,
            key,
            value: &value,
        };
        match w.or() {
            Fix::Not => None,
            Fix::Partly(v) => Some((v, false)),
            Fix::Fully(v) => Some((v, true)),
        }
    }

    /// `RETURNING`'s choice as `ReturnValues` names it.
    pub fn returning(&self) -> Option<&'static str> {
        let t = &self.toks;
        let at = t.iter().position(|x| is_kw(x, "RETURNING"))?;
        let word = |i: usize| match t.get(at + i) {
            Some(Tok::Word(w)) => w.to_ascii_uppercase(),
            _ => String::new(),
        };
        Some(match (word(1).as_str(), word(2).as_str()) {
            ("ALL", "OLD") => "ALL_OLD",
            ("MODIFIED", "OLD") => "UPDATED_OLD",
            ("ALL", "NEW") => "ALL_NEW",
            ("MODIFIED", "NEW") => "UPDATED_NEW",
            // Something the engine refuses; no allow-list admits it.
            _ => UNREADABLE,
        })
    }

    /// Whether a select names its attributes (`SELECT a, b`) rather than
    /// `SELECT *`.
    pub fn selects_specific_attributes(&self) -> bool {
        self.verb == Verb::Select && self.toks.get(1) != Some(&Tok::Sym('*'))
    }
}

/// How a part of a WHERE clause fixes the partition key.
enum Fix {
    /// It does not.
    Not,
    /// On some of its branches only.
    Partly(Vec<String>),
    /// On every branch, to one of these values.
    Fully(Vec<String>),
}

impl Fix {
    fn values(self) -> Vec<String> {
        match self {
            Fix::Not => Vec::new(),
            Fix::Partly(v) | Fix::Fully(v) => v,
        }
    }
}

/// A recursive walk of a WHERE clause: `OR` of `AND`s of `NOT`s,
/// parenthesized groups and comparisons.
struct Where<'a, F> {
    toks: &'a [Tok],
    at: usize,
    depth: usize,
    key: &'a str,
    value: &'a F,
}

impl<F: Fn(&Tok) -> String> Where<'_, F> {
    fn peek_kw(&self, kw: &str) -> bool {
        self.toks.get(self.at).is_some_and(|t| is_kw(t, kw))
    }

    /// Every branch must fix the key for the disjunction to.
    fn or(&mut self) -> Fix {
        self.list("OR", Self::and, true)
    }

    /// One fixing factor fixes the conjunction.
    fn and(&mut self) -> Fix {
        self.list("AND", Self::not, false)
    }

    /// `next (kw next)*`: fixed fully when every part is (`every`) or when
    /// any part is; not at all when no part names the key.
    fn list(&mut self, kw: &str, next: fn(&mut Self) -> Fix, every: bool) -> Fix {
        let mut parts = vec![next(self)];
        while self.peek_kw(kw) {
            self.at += 1;
            parts.push(next(self));
        }
        let is_fully = |p: &Fix| matches!(p, Fix::Fully(_));
        let fully = if every {
            parts.iter().all(is_fully)
        } else {
            parts.iter().any(is_fully)
        };
        let none = parts.iter().all(|p| matches!(p, Fix::Not));
        // A conjunction fixed by some of its parts is fixed to their values
        // only: `pk = 'a' AND NOT pk = 'b'` reads partition a, not b.
        let fixing = |p: &Fix| every || !fully || is_fully(p);
        let values: Vec<String> = parts
            .into_iter()
            .filter(fixing)
            .flat_map(Fix::values)
            .collect();
        match (none, fully) {
            (true, _) => Fix::Not,
            (_, true) => Fix::Fully(values),
            _ => Fix::Partly(values),
        }
    }

    /// A negation fixes nothing, whatever it names; a group as deep as the
    /// engine refuses fixes nothing podiam can name.
    fn not(&mut self) -> Fix {
        let mut negated = false;
        while self.peek_kw("NOT") && !self.toks.get(self.at + 1).is_some_and(|t| is_kw(t, "IN")) {
            self.at += 1;
            negated = true;
        }
        let inner = if self.toks.get(self.at) == Some(&Tok::Sym('(')) {
            if self.depth >= MAX_DEPTH {
                return Fix::Partly(vec![UNREADABLE.to_string()]);
            }
            self.at += 1;
            self.depth += 1;
            let inner = self.or();
            self.depth -= 1;
            if self.toks.get(self.at) == Some(&Tok::Sym(')')) {
                self.at += 1;
            }
            inner
        } else {
            self.comparison()
        };
        match inner {
            Fix::Partly(v) | Fix::Fully(v) if negated => Fix::Partly(v),
            other => other,
        }
    }

    /// The tokens up to the next `AND`, `OR` or closing parenthesis of
    /// this level (`BETWEEN a AND b` keeps its `AND`).
    fn comparison(&mut self) -> Fix {
        let start = self.at;
        let mut depth = 0usize;
        let mut between = false;
        while let Some(tok) = self.toks.get(self.at) {
            match tok {
                Tok::Sym('(' | '[' | '{') => depth += 1,
                Tok::Sym(')' | ']' | '}') if depth == 0 => break,
                Tok::Sym(')' | ']' | '}') => depth -= 1,
                t if depth == 0 && is_kw(t, "BETWEEN") => between = true,
                t if depth == 0 && is_kw(t, "AND") && between => between = false,
                t if depth == 0 && (is_kw(t, "AND") || is_kw(t, "OR")) => break,
                _ => {}
            }
            self.at += 1;
        }
        if self.at == start {
            // Not a comparison: step over the token so the walk ends.
            self.at += 1;
            return Fix::Not;
        }
        let c = &self.toks[start..self.at];
        let is_key = |i: usize| {
            matches!(c.get(i), Some(Tok::Word(w) | Tok::Quoted(w)) if w == self.key)
                && c.get(i + 1) != Some(&Tok::Sym('.'))
                && c.get(i + 1) != Some(&Tok::Sym('['))
        };
        let eq = Some(&Tok::Sym('='));
        if c.len() == 3 && is_key(0) && c.get(1) == eq {
            return Fix::Fully(vec![(self.value)(&c[2])]);
        }
        if c.len() == 3 && is_key(2) && c.get(1) == eq {
            return Fix::Fully(vec![(self.value)(&c[0])]);
        }
        if is_key(0) && c.get(1).is_some_and(|t| is_kw(t, "IN")) {
            let values = c[2..]
                .iter()
                .filter(|t| !matches!(t, Tok::Sym('[' | ']' | '(' | ')' | ',')))
                .map(|t| (self.value)(t))
                .collect();
            return Fix::Fully(values);
        }
        // Any other mention of the key (`pk > 1`, `begins_with(pk, …)`)
        // does not fix it.
        Fix::Not
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
        let keys = |text: &str| read(text).unwrap().key_values("pk", &p);
        let fully = |v: &[&str]| Some((v.iter().map(|s| s.to_string()).collect(), true));
        let partly = |v: &[&str]| Some((v.iter().map(|s| s.to_string()).collect(), false));
        let cases = [
            (
                r#"SELECT * FROM "T" WHERE pk = ? AND sk > ?"#,
                fully(&["alice"]),
            ),
            (
                r#"SELECT * FROM "T" WHERE "pk" IN ['a', 'b'] OR pk = 7"#,
                fully(&["a", "b", "7"]),
            ),
            (r#"SELECT * FROM "T" WHERE other = 'a'"#, None),
            (r#"SELECT * FROM "T""#, None),
            // Either operand order.
            (
                r#"UPDATE "T" SET w = 1 WHERE 'victim' = pk AND sk = 'g'"#,
                fully(&["victim"]),
            ),
            // A branch without the key: the statement reaches other partitions.
            (
                r#"SELECT * FROM "T" WHERE pk = 'a' OR Address = 'x'"#,
                partly(&["a"]),
            ),
            (r#"SELECT * FROM "T" WHERE NOT pk = 'a'"#, partly(&["a"])),
            (
                r#"SELECT * FROM "T" WHERE (pk = 'a' OR x = 1)"#,
                partly(&["a"]),
            ),
            (
                r#"SELECT * FROM "T" WHERE pk = 'a' AND (x = 1 OR y = 2)"#,
                fully(&["a"]),
            ),
            (
                r#"SELECT * FROM "T" WHERE sk BETWEEN 1 AND 5 AND pk = 'a'"#,
                fully(&["a"]),
            ),
            (r#"SELECT * FROM "T" WHERE pk > 'a'"#, None),
            (r#"SELECT * FROM "T" WHERE pk.x = 'a'"#, None),
            // Numbers end where the engine ends them: `1OR` is `1 OR`.
            (
                r#"SELECT * FROM "T" WHERE pk = 'a' AND x = 1OR y = 2"#,
                partly(&["a"]),
            ),
            (
                "SELECT * FROM \"T\" WHERE pk = 'a' AND x = 1--'\nOR y = 2 --'",
                partly(&["a"]),
            ),
            (r#"SELECT * FROM "T" WHERE pk = 1.5e3"#, fully(&["1.5e3"])),
            (r#"SELECT * FROM "T" WHERE .5 = pk"#, fully(&[".5"])),
            // A negated part does not add its value to the fixed ones.
            (
                r#"SELECT * FROM "T" WHERE pk = 'victim' AND NOT pk = 'mine'"#,
                fully(&["victim"]),
            ),
            (
                r#"SELECT * FROM "T" WHERE NOT NOT pk = 'a'"#,
                partly(&["a"]),
            ),
            // INSERT's item keys, quoted either way or bare.
            (
                r#"INSERT INTO "T" VALUE {'pk': ?, 'x': 'y'}"#,
                fully(&["alice"]),
            ),
            (r#"INSERT INTO "T" VALUE {"pk": 'b'}"#, fully(&["b"])),
            (r#"INSERT INTO "T" VALUE {pk: 'c'}"#, fully(&["c"])),
            (r#"INSERT INTO "T" VALUE {'other': 'c'}"#, None),
        ];
        for (text, want) in cases {
            assert_eq!(keys(text), want, "{text}");
        }
    }

    #[test]
    fn deep_or_long_statements_are_bounded() {
        // Nesting beyond the engine's limit names no key podiam trusts.
        let deep = format!(
            "SELECT * FROM \"T\" WHERE {}pk = 'a'{}",
            "(".repeat(3000),
            ")".repeat(3000)
        );
        let (values, every) = read(&deep).unwrap().key_values("pk", &[]).unwrap();
        assert!(!every && values.contains(&UNREADABLE.to_string()));
        let nots = format!("SELECT * FROM \"T\" WHERE {}pk = 'a'", "NOT ".repeat(2000));
        assert_eq!(
            read(&nots).unwrap().key_values("pk", &[]),
            Some((vec!["a".to_string()], false))
        );
        // DynamoDB's 8,192-character limit, before any reading.
        let long = format!("SELECT * FROM \"T\" WHERE {}", "(".repeat(9000));
        assert!(read(&long).unwrap_err().contains("8192"));
    }

    #[test]
    fn comments_are_whitespace() {
        let s =
            read("UPDATE \"T\" SET a = 1 -- '\n, b = 2 -- '\nWHERE pk = 'me' /* ' */ AND sk = 'g'")
                .unwrap();
        assert_eq!(s.attributes, ["a", "b", "pk", "sk"]);
        assert_eq!(
            s.key_values("pk", &[]),
            Some((vec!["me".to_string()], true))
        );
        assert!(read("SELECT * FROM T /* open").is_err());
    }

    #[test]
    fn returning_and_select() {
        let r = |t: &str| read(t).unwrap().returning();
        assert_eq!(
            r(r#"UPDATE T SET a = 1 WHERE pk = 'k' RETURNING ALL NEW *"#),
            Some("ALL_NEW")
        );
        assert_eq!(
            r(r#"DELETE FROM T WHERE pk = 'k' returning all old *"#),
            Some("ALL_OLD")
        );
        assert_eq!(
            r(r#"UPDATE T SET a = 1 WHERE pk = 'k' RETURNING MODIFIED OLD *"#),
            Some("UPDATED_OLD")
        );
        assert_eq!(r(r#"UPDATE T SET a = 1 WHERE pk = 'k'"#), None);
        assert!(
            read("SELECT a FROM T")
                .unwrap()
                .selects_specific_attributes()
        );
        assert!(
            !read("SELECT * FROM T")
                .unwrap()
                .selects_specific_attributes()
        );
    }
}
