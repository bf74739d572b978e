//! Who is calling.

use podiam_core::session::SessionClaims;
use podiam_policy::Principal;
use serde::{Serialize, Serializer};

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
    Session(std::sync::Arc<SessionClaims>),
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

    /// CloudTrail's `userIdentity` for this caller, serialized straight
    /// from the caller's fields (it is written on every audit line).
    pub fn user_identity(&self) -> UserIdentity<'_> {
        UserIdentity(self)
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

/// [`Caller::user_identity`].
#[derive(Debug, Clone, Copy)]
pub struct UserIdentity<'a>(&'a Caller);

impl Serialize for UserIdentity<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Identity<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            principal_id: &'a str,
            arn: &'a str,
            account_id: &'a str,
            access_key_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            session_context: Option<SessionContext<'a>>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct SessionContext<'a> {
            session_issuer: Issuer<'a>,
            attributes: Attributes,
            source_identity: Option<&'a str>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Issuer<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            principal_id: &'a str,
            arn: &'a str,
            account_id: &'a str,
            user_name: &'a str,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Attributes {
            creation_date: String,
            mfa_authenticated: &'static str,
        }
        match self.0 {
            Caller::Root {
                account,
                access_key_id,
            } => Identity {
                kind: "Root",
                principal_id: account,
                arn: &self.0.arn(),
                account_id: account,
                access_key_id,
                session_context: None,
            }
            .serialize(ser),
            Caller::Session(s) => Identity {
                kind: "AssumedRole",
                principal_id: &s.assumed_role_id(),
                arn: &s.assumed_role_arn(),
                account_id: &s.account,
                access_key_id: &s.access_key_id,
                session_context: Some(SessionContext {
                    session_issuer: Issuer {
                        kind: "Role",
                        principal_id: &s.role_id,
                        arn: &s.role_arn,
                        account_id: &s.account,
                        user_name: &s.role_name,
                    },
                    attributes: Attributes {
                        creation_date: podiam_core::timefmt::iso8601(s.issued_at),
                        mfa_authenticated: "false",
                    },
                    source_identity: s.source_identity.as_deref(),
                }),
            }
            .serialize(ser),
        }
    }
}
