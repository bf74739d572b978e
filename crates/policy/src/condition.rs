//! Condition operators (IAM User Guide, "IAM JSON policy elements: Condition
//! operators", "Condition operators to check existence of condition keys",
//! "Single-valued vs. multivalued context keys", "Condition with multiple
//! context keys or values").
//!
//! Semantics implemented here:
//! * keys under one operator and separate operators are AND-ed; values of one
//!   key are OR-ed; for negated operators the values are NOR-ed;
//! * a missing key makes positive operators false and negated operators true;
//!   `...IfExists` makes a missing key true;
//! * `ForAllValues` is true for a missing key or an empty value set,
//!   `ForAnyValue` is false for them;
//! * `Null: true` means the key is absent (or has no value).

use crate::PolicyError;
use crate::context::{ContextValue, RequestContext};
use crate::error::{PolicyErrorKind, err};
use crate::matcher::{Glob, P, arn_match, glob_match};
use crate::values::{IpNet, base64_decode, parse_date, parse_ip, parse_number};
use crate::variables::Template;

/// Comparison for Numeric and Date operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn test<T: PartialOrd>(self, ctx: T, policy: T) -> bool {
        match self {
            Cmp::Eq => ctx == policy,
            Cmp::Lt => ctx < policy,
            Cmp::Le => ctx <= policy,
            Cmp::Gt => ctx > policy,
            Cmp::Ge => ctx >= policy,
        }
    }
}

/// The operator family, after removing negation, set prefix and `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// Set-operator prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    None,
    ForAnyValue,
    ForAllValues,
}

/// A parsed condition operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operator {
    pub name: String,
    pub base: Base,
    pub negated: bool,
    pub set: SetOp,
    pub if_exists: bool,
}

impl Operator {
    /// Parses an operator name such as `ForAllValues:StringNotLikeIfExists`.
    /// Operator names are case-sensitive, like IAM's validator.
    pub fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetOp::ForAnyValue, r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetOp::ForAllValues, r)
        } else {
            (SetOp::None, name)
        };
        let (if_exists, core) = match rest.strip_suffix("IfExists") {
            Some(c) => (true, c),
            None => (false, rest),
        };
        let (base, negated) = match core {
            "StringEquals" => (Base::StringEquals, false),
            "StringNotEquals" => (Base::StringEquals, true),
            "StringEqualsIgnoreCase" => (Base::StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (Base::StringEqualsIgnoreCase, true),
            "StringLike" => (Base::StringLike, false),
            "StringNotLike" => (Base::StringLike, true),
            "NumericEquals" => (Base::Numeric(Cmp::Eq), false),
            "NumericNotEquals" => (Base::Numeric(Cmp::Eq), true),
            "NumericLessThan" => (Base::Numeric(Cmp::Lt), false),
            "NumericLessThanEquals" => (Base::Numeric(Cmp::Le), false),
            "NumericGreaterThan" => (Base::Numeric(Cmp::Gt), false),
            "NumericGreaterThanEquals" => (Base::Numeric(Cmp::Ge), false),
            "DateEquals" => (Base::Date(Cmp::Eq), false),
            "DateNotEquals" => (Base::Date(Cmp::Eq), true),
            "DateLessThan" => (Base::Date(Cmp::Lt), false),
            "DateLessThanEquals" => (Base::Date(Cmp::Le), false),
            "DateGreaterThan" => (Base::Date(Cmp::Gt), false),
            "DateGreaterThanEquals" => (Base::Date(Cmp::Ge), false),
            "Bool" => (Base::Bool, false),
            "BinaryEquals" => (Base::Binary, false),
            "IpAddress" => (Base::Ip, false),
            "NotIpAddress" => (Base::Ip, true),
            // ArnEquals and ArnLike behave identically (both honour wildcards).
            "ArnEquals" | "ArnLike" => (Base::Arn, false),
            "ArnNotEquals" | "ArnNotLike" => (Base::Arn, true),
            "Null" => (Base::Null, false),
            _ => return None,
        };
        // IfExists goes with "any condition operator except the Null
        // condition" (IAM User Guide).
        if if_exists && matches!(base, Base::Null) {
            return None;
        }
        Some(Operator {
            name: name.to_string(),
            base,
            negated,
            set,
            if_exists,
        })
    }
}

/// A compiled policy-side condition value.
#[derive(Debug, Clone)]
pub(crate) enum Compiled {
    /// StringEquals: template, plus its text when it has no variables.
    Str(Template, Option<String>),
    /// StringEqualsIgnoreCase: lower-cased literal or template.
    StrIc(Template, Option<String>),
    /// StringLike / Bool-with-variables style patterns; precompiled if no variables.
    Like(Template, Option<Glob>),
    /// ARN pattern; precompiled program if no variables.
    Arn(Template, Option<Vec<P>>),
    Num(Option<f64>),
    Date(Option<i128>),
    Bool(Template),
    Bin(Option<Vec<u8>>),
    Ip(Option<IpNet>),
    /// Null: `Some(true)` = key must be absent.
    Null(Option<bool>),
}

impl Compiled {
    /// The template of a value that may hold policy variables.
    pub(crate) fn template(&self) -> Option<&Template> {
        match self {
            Compiled::Str(t, _)
            | Compiled::StrIc(t, _)
            | Compiled::Like(t, _)
            | Compiled::Arn(t, _)
            | Compiled::Bool(t) => Some(t),
            _ => None,
        }
    }
}

/// One policy value with its source text.
#[derive(Debug, Clone)]
pub(crate) struct CondValue {
    pub raw: String,
    pub compiled: Compiled,
}

/// `key: [values]` under one operator.
#[derive(Debug, Clone)]
pub(crate) struct CondEntry {
    /// Key as written (for explanations).
    pub key: String,
    /// Lower-cased key for lookups.
    pub key_lower: String,
    pub values: Vec<CondValue>,
}

/// `Operator: { entries }`.
#[derive(Debug, Clone)]
pub(crate) struct CondBlock {
    pub op: Operator,
    pub entries: Vec<CondEntry>,
}

/// Compiles a policy value for `base`. `vars` enables policy variables
/// (Version 2012-10-17). Variables are honoured only in String, ARN and Bool
/// operators (the User Guide's operator page allows them for Bool).
pub(crate) fn compile_value(base: Base, raw: &str, vars: bool) -> Result<Compiled, PolicyError> {
    Ok(match base {
        Base::StringEquals => {
            let t = Template::parse(raw, vars);
            let lit = (!t.has_vars()).then(|| t.resolve_static());
            Compiled::Str(t, lit)
        }
        Base::StringEqualsIgnoreCase => {
            let t = Template::parse(raw, vars);
            let lit = (!t.has_vars()).then(|| t.resolve_static().to_lowercase());
            Compiled::StrIc(t, lit)
        }
        Base::StringLike => {
            let t = Template::parse(raw, vars);
            let g = if t.has_vars() {
                None
            } else {
                t.resolve_prog(None).map(Glob::from_prog)
            };
            Compiled::Like(t, g)
        }
        Base::Arn => {
            let t = Template::parse(raw, vars);
            let g = if t.has_vars() {
                None
            } else {
                t.resolve_prog(None)
            };
            Compiled::Arn(t, g)
        }
        Base::Numeric(_) => Compiled::Num(parse_number(raw)),
        Base::Date(_) => {
            // IAM's legacy parser rejects values that are not dates.
            match parse_date(raw) {
                Some(d) => Compiled::Date(Some(d)),
                None => return err(PolicyErrorKind::LegacyParsing),
            }
        }
        Base::Bool => Compiled::Bool(Template::parse(raw, vars)),
        Base::Binary => Compiled::Bin(base64_decode(raw)),
        Base::Ip => Compiled::Ip(IpNet::parse(raw)),
        Base::Null => Compiled::Null(match raw.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }),
    })
}

impl Template {
    /// The text of a template without variables (escapes applied).
    pub(crate) fn resolve_static(&self) -> String {
        self.resolve_no_ctx().unwrap_or_default()
    }
}

/// Does one policy value match one context value? `false` when a variable is
/// unresolved (so positive operators fail and negated ones succeed).
fn value_matches(cv: &CondValue, v: &str, ctx: &RequestContext, base: Base) -> bool {
    match (&cv.compiled, base) {
        (Compiled::Str(t, lit), _) => match lit {
            Some(l) => l == v,
            None => t.resolve(ctx).is_some_and(|r| r == v),
        },
        (Compiled::StrIc(t, lit), _) => match lit {
            Some(l) => *l == v.to_lowercase(),
            None => t
                .resolve(ctx)
                .is_some_and(|r| r.to_lowercase() == v.to_lowercase()),
        },
        (Compiled::Like(t, g), _) => match g {
            Some(g) => g.matches(v),
            None => t
                .resolve_prog(Some(ctx))
                .is_some_and(|p| glob_match(&p, v.as_bytes())),
        },
        (Compiled::Arn(t, g), _) => match g {
            Some(p) => arn_match(p, v),
            None => t.resolve_prog(Some(ctx)).is_some_and(|p| arn_match(&p, v)),
        },
        (Compiled::Num(n), Base::Numeric(cmp)) => match (n, parse_number(v)) {
            (Some(p), Some(c)) => cmp.test(c, *p),
            _ => false,
        },
        (Compiled::Date(d), Base::Date(cmp)) => match (d, parse_date(v)) {
            (Some(p), Some(c)) => cmp.test(c, *p),
            _ => false,
        },
        (Compiled::Bool(t), _) => t
            .resolve(ctx)
            .is_some_and(|r| r.eq_ignore_ascii_case(v.trim())),
        (Compiled::Bin(b), _) => match (b, base64_decode(v)) {
            (Some(p), Some(c)) => *p == c,
            _ => cv.raw == v,
        },
        (Compiled::Ip(n), _) => match (n, parse_ip(v)) {
            (Some(n), Some(ip)) => n.contains(ip),
            _ => false,
        },
        _ => false,
    }
}

fn any_policy_value(entry: &CondEntry, v: &str, ctx: &RequestContext, base: Base) -> bool {
    entry
        .values
        .iter()
        .any(|cv| value_matches(cv, v, ctx, base))
}

/// Evaluates one `key: values` entry under `op`.
pub(crate) fn eval_entry(op: &Operator, entry: &CondEntry, ctx: &RequestContext) -> bool {
    let found: Option<&ContextValue> = ctx.get_lower(&entry.key_lower);
    if op.base == Base::Null {
        let absent = found.is_none_or(ContextValue::is_null);
        return entry.values.iter().any(|cv| match cv.compiled {
            Compiled::Null(Some(want_absent)) => want_absent == absent,
            _ => false,
        });
    }
    let Some(found) = found else {
        if op.if_exists {
            return true;
        }
        return match op.set {
            SetOp::ForAllValues => true,
            SetOp::ForAnyValue => false,
            SetOp::None => op.negated,
        };
    };
    // A set operator sees a null data set (only empty strings) as no values.
    let vals = if op.set != SetOp::None && found.is_null() {
        &[]
    } else {
        found.values()
    };
    // One request value against the operator (negated = matches no policy value).
    let per_value = |v: &String| any_policy_value(entry, v, ctx, op.base) != op.negated;
    match op.set {
        SetOp::ForAllValues => vals.iter().all(per_value),
        SetOp::ForAnyValue => vals.iter().any(per_value),
        SetOp::None => {
            // A plain operator on a multivalued key matches if any request value
            // matches; the negated form is its exact complement.
            let any = vals
                .iter()
                .any(|v| any_policy_value(entry, v, ctx, op.base));
            any != op.negated
        }
    }
}

/// Evaluates a whole `Condition` element; returns the first failing
/// (block, entry) index, or `None` if every condition holds.
pub(crate) fn first_failure(blocks: &[CondBlock], ctx: &RequestContext) -> Option<(usize, usize)> {
    for (bi, b) in blocks.iter().enumerate() {
        for (ei, e) in b.entries.iter().enumerate() {
            if !eval_entry(&b.op, e, ctx) {
                return Some((bi, ei));
            }
        }
    }
    None
}

/// Request values for an explanation: `None` if the key is missing.
pub(crate) fn actual_values(entry: &CondEntry, ctx: &RequestContext) -> Option<Vec<String>> {
    ctx.get_lower(&entry.key_lower).map(|v| v.values().to_vec())
}
