//! Wildcard (`*`, `?`) matching for Action, Resource, `StringLike` and the ARN
//! operators.
//!
//! Patterns are compiled once into a byte program where each element is a
//! literal byte, `*` (any run of characters, possibly empty) or `?` (exactly one
//! character). Matching works on UTF-8 bytes; `?` and `*` always consume whole
//! characters, so a multi-byte character counts as one (IAM User Guide,
//! "IAM JSON policy elements: Resource": "`?` matches any single character").

/// One element of a compiled wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum P {
    /// A literal byte.
    B(u8),
    /// `*`: zero or more characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    prog: Vec<P>,
    /// `Some(text)` when the pattern has no wildcard at all (fast path).
    exact: Option<String>,
    /// The pattern is exactly `*`.
    any: bool,
}

impl Glob {
    /// Compiles `pattern`, treating `*` and `?` as wildcards.
    pub fn new(pattern: &str) -> Glob {
        let mut prog = Vec::with_capacity(pattern.len());
        push_wild(&mut prog, pattern);
        Glob::from_prog(prog)
    }

    /// Builds a glob from an already assembled program.
    pub fn from_prog(prog: Vec<P>) -> Glob {
        let wild = prog.iter().any(|p| !matches!(p, P::B(_)));
        let exact = if wild {
            None
        } else {
            let bytes: Vec<u8> = prog
                .iter()
                .filter_map(|p| match p {
                    P::B(b) => Some(*b),
                    _ => None,
                })
                .collect();
            String::from_utf8(bytes).ok()
        };
        let any = prog.len() == 1 && prog[0] == P::Star;
        Glob { prog, exact, any }
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        if self.any {
            return true;
        }
        if let Some(e) = &self.exact {
            return e == text;
        }
        glob_match(&self.prog, text.as_bytes())
    }

    /// The compiled program.
    #[cfg(test)]
    pub fn prog(&self) -> &[P] {
        &self.prog
    }
}

/// Appends `text` to a program, interpreting `*` and `?` as wildcards.
pub(crate) fn push_wild(prog: &mut Vec<P>, text: &str) {
    for &b in text.as_bytes() {
        prog.push(match b {
            b'*' => P::Star,
            b'?' => P::One,
            _ => P::B(b),
        });
    }
}

/// Appends `text` to a program as literal bytes.
pub(crate) fn push_lit(prog: &mut Vec<P>, text: &str) {
    prog.extend(text.as_bytes().iter().map(|&b| P::B(b)));
}

#[inline]
fn char_len(t: &[u8], i: usize) -> usize {
    let b = t[i];
    let n = if b < 0x80 {
        1
    } else if b >= 0xF0 {
        4
    } else if b >= 0xE0 {
        3
    } else {
        2
    };
    n.min(t.len() - i)
}

/// Classic linear-time glob matching with single-star backtracking.
/// It is exact for `*`/`?` globs: a later star can absorb anything an
/// earlier star would have had to backtrack for.
pub(crate) fn glob_match(p: &[P], t: &[u8]) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if let Some(&tok) = p.get(pi) {
            match tok {
                P::Star => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                P::One => {
                    ti += char_len(t, ti);
                    pi += 1;
                    continue;
                }
                P::B(b) if b == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                P::B(_) => {}
            }
        }
        match star {
            Some((sp, st)) => {
                let nt = st + char_len(t, st);
                star = Some((sp, nt));
                pi = sp + 1;
                ti = nt;
            }
            None => return false,
        }
    }
    while p.get(pi) == Some(&P::Star) {
        pi += 1;
    }
    pi == p.len()
}

/// Splits a compiled program into ARN parts at its first five `:` bytes.
pub(crate) fn split_prog(prog: &[P]) -> Vec<&[P]> {
    let mut parts = Vec::with_capacity(6);
    let mut start = 0;
    for (i, p) in prog.iter().enumerate() {
        if parts.len() == 5 {
            break;
        }
        if *p == P::B(b':') {
            parts.push(&prog[start..i]);
            start = i + 1;
        }
    }
    parts.push(&prog[start..]);
    parts
}

/// ARN matching for `ArnEquals`/`ArnLike` (IAM User Guide, "IAM JSON policy
/// elements: Condition operators", ARN condition operators): each of the six
/// colon-delimited parts is matched separately, so a `*` in one part cannot
/// span a colon into the next part. The sixth part (resource) keeps its colons.
/// A pattern with fewer than six parts lets its last part cover the rest.
pub(crate) fn arn_match(prog: &[P], value: &str) -> bool {
    let pparts = split_prog(prog);
    let vparts: Vec<&str> = value.splitn(6, ':').collect();
    if pparts.len() == 6 && vparts.len() != 6 {
        return false;
    }
    let last = pparts.len() - 1;
    let mut offset = 0usize;
    for (i, pp) in pparts.iter().enumerate() {
        if i == last {
            let rest = match value.get(offset..) {
                Some(r) => r,
                None => return false,
            };
            if pparts.len() < 6 {
                return glob_match(pp, rest.as_bytes());
            }
            return vparts.get(i).is_some_and(|v| glob_match(pp, v.as_bytes()));
        }
        let Some(v) = vparts.get(i) else {
            return false;
        };
        // Only the final part of the value may be the remainder.
        if i == vparts.len() - 1 && vparts.len() < 6 {
            return false;
        }
        if !glob_match(pp, v.as_bytes()) {
            return false;
        }
        offset += v.len() + 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = |p: &str, t: &str| Glob::new(p).matches(t);
        assert!(g("*", ""));
        assert!(g("a*c", "abbbc"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("a?c", "aéc"));
        assert!(g("*a*b", "xxaxxb"));
        assert!(!g("*a*b", "xxaxxbc"));
        assert!(g("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(!g("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(g("arn:aws:s3:::prod*", "arn:aws:s3:::production-logs/a"));
    }

    #[test]
    fn arns() {
        let a = |p: &str, v: &str| arn_match(Glob::new(p).prog(), v);
        assert!(a("arn:aws:sqs:*:123:q", "arn:aws:sqs:us-east-1:123:q"));
        assert!(!a("arn:aws:sqs:*:q", "arn:aws:sqs:us-east-1:123:q"));
        assert!(a("arn:aws:s3:::b/*", "arn:aws:s3:::b/k:with:colons"));
        assert!(a("*", "arn:aws:s3:::b"));
        assert!(!a("arn:aws:iam::1:role/x", "not-an-arn"));
        assert!(a("arn:aws:sqs:*", "arn:aws:sqs:us-east-1:123:q"));
    }
}
