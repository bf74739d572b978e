//! JSON text → validated, compiled [`Policy`].
//!
//! Grammar: IAM User Guide, "Grammar of the IAM JSON policy language" and the
//! "IAM JSON policy elements" pages. Messages follow IAM's
//! `MalformedPolicyDocument` texts.

use std::collections::HashSet;
use std::sync::Arc;

use crate::condition::{CondBlock, CondEntry, CondValue, Operator, compile_value};
use crate::error::{PolicyError, PolicyErrorKind as K, err};
use crate::json::{self, JsonError, Node, Value};
use crate::matcher::Glob;
use crate::policy::{
    Effect, Policy, PolicyInner, PolicyKind, Position, PrincipalEntry, ResourcePattern, Statement,
    Version,
};
use crate::validate;
use crate::variables::Template;

const STATEMENT_FIELDS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Counts characters the way IAM does for size quotas: whitespace excluded
/// (IAM User Guide, "IAM and AWS STS quotas": "IAM doesn't count white space").
pub fn policy_size(json: &str) -> usize {
    json.chars().filter(|c| !c.is_whitespace()).count()
}

impl Policy {
    /// Parses and validates `json` as a policy of `kind`, enforcing the kind's
    /// default size quota ([`PolicyKind::default_max_chars`]).
    pub fn parse(json: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        Policy::parse_with_limit(json, kind, Some(kind.default_max_chars()))
    }

    /// Like [`Policy::parse`] with an explicit size quota (`None` = unlimited),
    /// e.g. 10,240 for the aggregate of a role's inline policies or 4,096 /
    /// 8,192 for a raised trust-policy quota.
    pub fn parse_with_limit(
        json: &str,
        kind: PolicyKind,
        max_chars: Option<usize>,
    ) -> Result<Policy, PolicyError> {
        if let Some(limit) = max_chars
            && policy_size(json) > limit
        {
            return err(K::PolicySize {
                quota: kind.quota_name().to_string(),
                limit,
            });
        }
        let root = json::parse(json).map_err(|e| match e {
            JsonError::Syntax | JsonError::DuplicateKey(_) => PolicyError::new(K::Syntax),
        })?;
        let Value::Object(top) = &root.value else {
            return err(K::Syntax);
        };
        let mut version = Version::Missing;
        let mut id = None;
        let mut statement_node = None;
        for (k, v) in top {
            match k.as_str() {
                "Version" => {
                    let Value::String(s) = &v.value else {
                        return err(K::Syntax);
                    };
                    version = match s.as_str() {
                        "2012-10-17" => Version::V2012_10_17,
                        "2008-10-17" => Version::V2008_10_17,
                        _ => return err(K::LegacyParsing),
                    };
                }
                "Id" => {
                    let Value::String(s) = &v.value else {
                        return err(K::Syntax);
                    };
                    id = Some(s.clone());
                }
                "Statement" => statement_node = Some(v),
                other => return err(K::UnknownField(other.to_string())),
            }
        }
        let Some(statement_node) = statement_node else {
            return err(K::MissingField("Statement".into()));
        };
        let stmt_nodes: Vec<&Node> = match &statement_node.value {
            Value::Object(_) => vec![statement_node],
            Value::Array(items) if !items.is_empty() => items.iter().collect(),
            _ => return err(K::Syntax),
        };
        let vars = version == Version::V2012_10_17;
        let mut statements = Vec::with_capacity(stmt_nodes.len());
        let mut offsets = Vec::with_capacity(stmt_nodes.len() * 2);
        for (index, node) in stmt_nodes.into_iter().enumerate() {
            statements.push(parse_statement(node, index, kind, vars)?);
            offsets.push(node.start);
            offsets.push(node.end);
        }
        // Statement spans are in ascending order: one pass computes all positions.
        let positions = json::line_cols(json, &offsets);
        for (s, pair) in statements.iter_mut().zip(positions.chunks(2)) {
            if let [(sl, sc), (el, ec)] = pair {
                s.start = Position {
                    line: *sl,
                    column: *sc,
                };
                s.end = Position {
                    line: *el,
                    column: *ec,
                };
            }
        }
        // Sid uniqueness (IAM User Guide, "IAM JSON policy elements: Sid").
        let mut seen = HashSet::new();
        for s in &statements {
            if let Some(sid) = &s.sid
                && !sid.is_empty()
                && !seen.insert(sid.clone())
            {
                return err(K::DuplicateSid);
            }
        }
        Ok(Policy {
            inner: Arc::new(PolicyInner::new(kind, version, id, statements)),
        })
    }
}

fn strings(node: &Node) -> Result<Vec<&str>, PolicyError> {
    match &node.value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) => items
            .iter()
            .map(|n| match &n.value {
                Value::String(s) => Ok(s.as_str()),
                _ => err(K::Syntax),
            })
            .collect(),
        _ => err(K::Syntax),
    }
}

fn parse_statement(
    node: &Node,
    index: usize,
    kind: PolicyKind,
    vars: bool,
) -> Result<Statement, PolicyError> {
    let Value::Object(fields) = &node.value else {
        return err(K::Syntax);
    };
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    for (k, _) in fields {
        if !STATEMENT_FIELDS.contains(&k.as_str()) {
            return err(K::UnknownField(k.clone()));
        }
    }
    let pairs = [
        ("Action", "NotAction"),
        ("Resource", "NotResource"),
        ("Principal", "NotPrincipal"),
    ];
    for (a, b) in pairs {
        if get(a).is_some() && get(b).is_some() {
            return err(K::Syntax);
        }
    }

    let sid = match get("Sid") {
        None => None,
        Some(Node {
            value: Value::String(s),
            ..
        }) => Some(s.as_str()),
        Some(_) => return err(K::Syntax),
    };
    let effect = match get("Effect").map(|n| &n.value) {
        None => return err(K::MissingField("Effect".into())),
        Some(Value::String(e)) => match e.as_str() {
            "Allow" => Effect::Allow,
            "Deny" => Effect::Deny,
            // Effect values are case-sensitive: IAM's legacy parser rejects "allow".
            other if other.eq_ignore_ascii_case("allow") || other.eq_ignore_ascii_case("deny") => {
                return err(K::LegacyParsing);
            }
            _ => return err(K::Syntax),
        },
        Some(_) => return err(K::Syntax),
    };

    // Principal rules per policy type.
    let principal_node = get("Principal")
        .map(|n| (n, false))
        .or(get("NotPrincipal").map(|n| (n, true)));
    let resource_node = get("Resource")
        .map(|n| (n, false))
        .or(get("NotResource").map(|n| (n, true)));
    let action_node = get("Action")
        .map(|n| (n, false))
        .or(get("NotAction").map(|n| (n, true)));
    match kind {
        PolicyKind::Identity | PolicyKind::Session | PolicyKind::Boundary => {
            if principal_node.is_some() {
                return err(K::PrincipalNotAllowed);
            }
        }
        PolicyKind::Trust => {
            if get("NotPrincipal").is_some() {
                return err(K::ProhibitedField("NotPrincipal".into()));
            }
            if let Some((_, neg)) = resource_node {
                let f = if neg { "NotResource" } else { "Resource" };
                return err(K::ProhibitedField(f.into()));
            }
            if principal_node.is_none() {
                return err(K::MissingField("Principal".into()));
            }
        }
        PolicyKind::Resource => {
            if principal_node.is_none() {
                return err(K::MissingField("Principal".into()));
            }
            if get("NotPrincipal").is_some() && effect == Effect::Allow {
                return err(K::NotPrincipalWithAllow);
            }
        }
    }

    if let Some(s) = sid
        && kind.is_iam()
        && !s.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return err(K::InvalidSid);
    }

    // Action / NotAction.
    let Some((anode, a_neg)) = action_node else {
        return err(K::MissingAction);
    };
    let actions = strings(anode)?;
    if actions.is_empty() {
        return err(K::MissingAction);
    }
    let mut action_globs = Vec::with_capacity(actions.len());
    for a in actions {
        validate::action(a)?;
        // Actions are case-insensitive: compile lower-cased once.
        action_globs.push(Glob::new(&a.to_lowercase()));
    }

    // Resource / NotResource.
    let resources = match resource_node {
        None => {
            if matches!(kind, PolicyKind::Trust) {
                None
            } else {
                return err(K::MissingResource);
            }
        }
        Some((rnode, neg)) => {
            let list = strings(rnode)?;
            if list.is_empty() {
                return err(K::MissingResource);
            }
            let mut pats = Vec::with_capacity(list.len());
            for r in list {
                validate::resource(r)?;
                let t = Template::parse_resource(r, vars);
                let (glob, template) = if t.has_vars() {
                    (None, Some(t))
                } else {
                    (t.resolve_prog(None).map(Glob::from_prog), None)
                };
                let literal_prefix = if template.is_some() {
                    let end = r.find(['*', '?', '$']).unwrap_or(r.len());
                    r[..end].to_string()
                } else {
                    String::new()
                };
                pats.push(ResourcePattern {
                    glob,
                    template,
                    literal_prefix,
                });
            }
            Some((pats, neg))
        }
    };

    let principal = match principal_node {
        None => None,
        Some((pnode, neg)) => Some((parse_principal(pnode)?, neg)),
    };

    let conditions = match get("Condition") {
        None => Vec::new(),
        Some(c) => parse_conditions(c, vars)?,
    };

    Ok(Statement {
        index,
        sid: sid.map(Arc::from),
        effect,
        principal,
        actions: (action_globs, a_neg),
        resources,
        conditions,
        start: Position { line: 0, column: 0 },
        end: Position { line: 0, column: 0 },
    })
}

fn parse_principal(node: &Node) -> Result<Vec<PrincipalEntry>, PolicyError> {
    match &node.value {
        Value::String(s) if s == "*" => Ok(vec![PrincipalEntry::Everyone]),
        Value::String(s) => err(K::InvalidPrincipal(format!("\"{s}\""))),
        Value::Object(map) if !map.is_empty() => {
            let mut out = Vec::new();
            for (typ, v) in map {
                let vals = strings(v)?;
                if vals.is_empty() {
                    return err(K::Syntax);
                }
                for val in vals {
                    out.push(validate::principal(typ, val)?);
                }
            }
            Ok(out)
        }
        _ => err(K::Syntax),
    }
}

fn scalar_text(node: &Node) -> Result<String, PolicyError> {
    match &node.value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => err(K::Syntax),
    }
}

fn parse_conditions(node: &Node, vars: bool) -> Result<Vec<CondBlock>, PolicyError> {
    let Value::Object(ops) = &node.value else {
        return err(K::Syntax);
    };
    let mut blocks = Vec::with_capacity(ops.len());
    for (op_name, body) in ops {
        let Value::Object(entries) = &body.value else {
            return err(K::Syntax);
        };
        let Some(op) = Operator::parse(op_name) else {
            return err(K::InvalidConditionType(op_name.clone()));
        };
        if entries.is_empty() {
            return err(K::Syntax);
        }
        let mut out = Vec::with_capacity(entries.len());
        for (key, vnode) in entries {
            validate::condition_key(key)?;
            let raws: Vec<String> = match &vnode.value {
                Value::Array(items) => items.iter().map(scalar_text).collect::<Result<_, _>>()?,
                _ => vec![scalar_text(vnode)?],
            };
            if raws.is_empty() {
                return err(K::Syntax);
            }
            let mut values = Vec::with_capacity(raws.len());
            for raw in raws {
                let compiled = compile_value(op.base, &raw, vars)?;
                values.push(CondValue { raw, compiled });
            }
            out.push(CondEntry {
                key_lower: key.to_lowercase(),
                key: key.clone(),
                values,
            });
        }
        blocks.push(CondBlock { op, entries: out });
    }
    Ok(blocks)
}
