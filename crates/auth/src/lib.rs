//! podiam's shared request pipeline.
//!
//! Every service handles a request in the same four steps: decode it into a
//! typed action, [`authenticate`](Services::authenticate) the caller (SigV4
//! against a stored long-term key or a sealed session), authorize the
//! action with [`Services::authorize`] (through `podiam-policy`), then act.

pub mod audit;
mod authn;
mod authz;
pub mod aws_managed;
mod caller;
mod decide;
mod services;

pub use authn::{AuthError, Authenticated, RequestView, signing_service};
pub use authz::{Denied, PolicySet, compile_policy};
pub use caller::Caller;
pub use decide::{Authorizer, Check, ResourcePolicy, Subject};
pub use services::{Config, Services};

/// Facts about the HTTP request that feed condition keys.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The client's IP address (`aws:SourceIp`).
    pub source_ip: Option<String>,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The `User-Agent` header (`aws:UserAgent`).
    pub user_agent: Option<String>,
}

impl RequestMeta {
    /// Adds `aws:SourceIp`, `aws:SecureTransport` and `aws:UserAgent` to a context.
    pub fn apply(
        &self,
        mut b: podiam_policy::RequestContextBuilder,
    ) -> podiam_policy::RequestContextBuilder {
        if let Some(ip) = &self.source_ip {
            b = b.key("aws:SourceIp", ip.clone());
        }
        if let Some(ua) = &self.user_agent {
            b = b.key("aws:UserAgent", ua.clone());
        }
        b.key("aws:SecureTransport", self.secure_transport.to_string())
    }
}
