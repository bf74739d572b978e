//! Who is calling.

use podiam_core::session::SessionClaims;
use podiam_policy::Principal;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The account root (the bootstrap admin key).
    Root {
        /// The account.
        account: String,
        /// The long-term key used.
        access_key_id: String,
    },
    /// A role session from a sealed session token.
    Session(Box<SessionClaims>),
}

impl Caller {
    /// The caller's ARN as `GetCallerIdentity` reports it.
    pub fn arn(&self) -> String {
        match self {
            Caller::Root { account, .. } => format!("arn:aws:iam::{account}:root"),
            Caller::Session(s) => s.assumed_role_arn(),
        }
    }

    /// The caller's account.
    pub fn account(&self) -> &str {
        match self {
            Caller::Root { account, .. } => account,
            Caller::Session(s) => &s.account,
        }
    }

    /// `aws:userid`: the account id for root, `AROA…:session` for sessions.
    pub fn user_id(&self) -> String {
        match self {
            Caller::Root { account, .. } => account.clone(),
            Caller::Session(s) => s.assumed_role_id(),
        }
    }

    /// The access key id the request was signed with.
    pub fn access_key_id(&self) -> &str {
        match self {
            Caller::Root { access_key_id, .. } => access_key_id,
            Caller::Session(s) => &s.access_key_id,
        }
    }

    /// The session, if the caller is one.
    pub fn session(&self) -> Option<&SessionClaims> {
        match self {
            Caller::Session(s) => Some(s),
            Caller::Root { .. } => None,
        }
    }

    /// CloudTrail's `userIdentity` for this caller.
    pub fn user_identity(&self) -> serde_json::Value {
        match self {
            Caller::Root {
                account,
                access_key_id,
            } => serde_json::json!({
                "type": "Root",
                "principalId": account,
                "arn": self.arn(),
                "accountId": account,
                "accessKeyId": access_key_id,
            }),
            Caller::Session(s) => serde_json::json!({
                "type": "AssumedRole",
                "principalId": s.assumed_role_id(),
                "arn": s.assumed_role_arn(),
                "accountId": s.account,
                "accessKeyId": s.access_key_id,
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": s.role_id, "arn": s.role_arn, "accountId": s.account, "userName": s.role_name},
                    "attributes": {"creationDate": podiam_core::timefmt::iso8601(s.issued_at), "mfaAuthenticated": "false"},
                    "sourceIdentity": s.source_identity,
                },
            }),
        }
    }

    /// The caller as the policy engine sees it.
    pub fn principal(&self) -> Principal {
        match self {
            Caller::Root { account, .. } => {
                Principal::account_root(account.clone()).with_userid(account.clone())
            }
            Caller::Session(s) => Principal::assumed_role(s.assumed_role_arn(), s.role_arn.clone())
                .with_userid(s.assumed_role_id()),
        }
    }
}
