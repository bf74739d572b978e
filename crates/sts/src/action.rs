//! Decoding STS requests into typed actions.

use crate::error::StsError;
use podiam_auth::sessions::SessionParams;
use podiam_core::query::{
    QueryParams, Validator, is_name_char, is_policy_char, is_tag_char, parse_int,
};

/// A decoded STS request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsRequest {
    /// Unsigned: the web identity token is the credential.
    AssumeRoleWithWebIdentity {
        /// Common parameters.
        session: SessionParams,
        /// `WebIdentityToken`, trimmed.
        token: String,
        /// `ProviderId` (OAuth 2.0 only; rejected for OIDC tokens).
        provider_id: Option<String>,
    },
    /// Signed by the caller.
    AssumeRole {
        /// Common parameters.
        session: SessionParams,
        /// `ExternalId`.
        external_id: Option<String>,
        /// `Tags.member.N.{Key,Value}`.
        tags: Vec<(String, String)>,
        /// `TransitiveTagKeys.member.N`.
        transitive_tag_keys: Vec<String>,
        /// `SourceIdentity`.
        source_identity: Option<String>,
    },
    /// Signed by the caller.
    GetCallerIdentity,
}

impl StsRequest {
    /// Whether the action is sent unsigned (the token is the credential).
    pub fn is_unauthenticated(action: &str) -> bool {
        matches!(action, "AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML")
    }
}

fn is_external_id_char(c: char) -> bool {
    is_name_char(c) || c == ':' || c == '/'
}

fn session_params(
    p: &QueryParams,
    v: &mut Validator,
    policy_max: usize,
) -> Result<SessionParams, StsError> {
    let role_arn = v.required("roleArn", p.get("RoleArn"));
    v.length("roleArn", role_arn, 20, 2048);
    let name = v.required("roleSessionName", p.get("RoleSessionName"));
    v.length("roleSessionName", name, 2, 64);
    v.pattern("roleSessionName", name, r"[\w+=,.@-]*", is_name_char);
    let duration =
        parse_int("durationSeconds", p.get("DurationSeconds")).map_err(StsError::Validation)?;
    v.range("durationSeconds", duration, 900, 43200);
    let policy = p.get("Policy");
    v.length("policy", policy, 1, policy_max);
    v.pattern(
        "policy",
        policy,
        r"[\u0009\u000A\u000D\u0020-\u00FF]+",
        is_policy_char,
    );
    let policy_arns: Vec<String> = p
        .struct_list("PolicyArns")
        .into_iter()
        .filter_map(|m| m.get("arn").cloned())
        .collect();
    for a in &policy_arns {
        v.length("policyArns.member.arn", Some(a), 20, 2048);
    }
    Ok(SessionParams {
        role_arn: role_arn.unwrap_or_default().to_string(),
        session_name: name.unwrap_or_default().to_string(),
        duration,
        policy: policy.map(str::to_string),
        policy_arns,
    })
}

/// Decodes `params` (carrying `Action`) into a typed request.
pub fn decode(p: &QueryParams) -> Result<StsRequest, StsError> {
    let action = p.get("Action").unwrap_or_default();
    let mut v = Validator::new();
    let req = match action {
        "AssumeRoleWithWebIdentity" => {
            // The web-identity Policy is capped at 2048 by the model itself.
            let session = session_params(p, &mut v, 2048)?;
            let token = v.required("webIdentityToken", p.get("WebIdentityToken"));
            // SDKs send the token file verbatim, trailing newline included.
            let token = token.map(str::trim);
            if let Some(t) = token
                && !(4..=20000).contains(&t.chars().count())
            {
                v.violation(
                    "webIdentityToken",
                    Some("***"),
                    if t.chars().count() < 4 {
                        "Member must have length greater than or equal to 4"
                    } else {
                        "Member must have length less than or equal to 20000"
                    },
                );
            }
            let provider_id = p.get("ProviderId").map(str::to_string);
            v.length("providerId", provider_id.as_deref(), 4, 2048);
            StsRequest::AssumeRoleWithWebIdentity {
                session,
                token: token.unwrap_or_default().to_string(),
                provider_id,
            }
        }
        "AssumeRole" => {
            let session = session_params(p, &mut v, usize::MAX)?;
            let external_id = p.get("ExternalId");
            v.length("externalId", external_id, 2, 1224);
            v.pattern(
                "externalId",
                external_id,
                r"[\w+=,.@:\/-]*",
                is_external_id_char,
            );
            let mut tags = Vec::new();
            for (i, t) in p.struct_list("Tags").into_iter().enumerate() {
                let k = t.get("Key").cloned();
                let val = t.get("Value").cloned();
                v.tag("tags", i, k.as_deref(), val.as_deref());
                tags.push((k.unwrap_or_default(), val.unwrap_or_default()));
            }
            v.list_max("tags", tags.len(), 50);
            let transitive_tag_keys = p.list("TransitiveTagKeys");
            v.list_max("transitiveTagKeys", transitive_tag_keys.len(), 50);
            for (i, k) in transitive_tag_keys.iter().enumerate() {
                let field = format!("transitiveTagKeys.{}.member", i + 1);
                v.length(&field, Some(k), 1, 128);
                v.pattern(&field, Some(k), r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+", is_tag_char);
            }
            let source_identity = p.get("SourceIdentity");
            v.length("sourceIdentity", source_identity, 2, 64);
            v.pattern(
                "sourceIdentity",
                source_identity,
                r"[\w+=,.@-]*",
                is_name_char,
            );
            StsRequest::AssumeRole {
                session,
                external_id: external_id.map(str::to_string),
                tags,
                transitive_tag_keys,
                source_identity: source_identity.map(str::to_string),
            }
        }
        "GetCallerIdentity" => StsRequest::GetCallerIdentity,
        other => return Err(StsError::InvalidAction(other.to_string())),
    };
    v.finish().map_err(StsError::Validation)?;
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> QueryParams {
        QueryParams::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn web_identity_trims_token() {
        let r = decode(&q("Action=AssumeRoleWithWebIdentity&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=s1&WebIdentityToken=a.b.c%0A")).unwrap();
        match r {
            StsRequest::AssumeRoleWithWebIdentity { token, .. } => assert_eq!(token, "a.b.c"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tag_rules() {
        let e = decode(&q("Action=AssumeRole&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=s1&Tags.member.1.Key=a%2Ab&Tags.member.1.Value=x")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value 'a*b' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"
        );
        let many: String = (1..=51)
            .map(|i| format!("&Tags.member.{i}.Key=k{i}&Tags.member.{i}.Value=v"))
            .collect();
        let e = decode(&q(&format!(
            "Action=AssumeRole&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=s1{many}"
        )))
        .unwrap_err();
        assert!(e.to_string().contains("at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"), "{e}");
        assert!(decode(&q("Action=AssumeRole&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=s1&Tags.member.1.Key=team%20name&Tags.member.1.Value=caf%C3%A9%20%40x")).is_ok());
    }

    #[test]
    fn session_name_rules() {
        let e = decode(&q("Action=AssumeRoleWithWebIdentity&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=bad%20name&WebIdentityToken=a.b.c")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        );
        let e = decode(&q("Action=AssumeRoleWithWebIdentity&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=s&WebIdentityToken=a.b.c&DurationSeconds=60")).unwrap_err();
        assert!(
            e.to_string().starts_with("2 validation errors detected"),
            "{e}"
        );
        let long = "p".repeat(2049);
        let e = decode(&q(&format!("Action=AssumeRoleWithWebIdentity&RoleArn=arn:aws:iam::000000000000:role/r&RoleSessionName=ss&WebIdentityToken=a.b.c&Policy={long}"))).unwrap_err();
        assert!(e.to_string().contains("'policy' failed to satisfy constraint: Member must have length less than or equal to 2048"));
        assert!(matches!(
            decode(&q("Action=Nope")).unwrap_err(),
            StsError::InvalidAction(_)
        ));
    }
}
