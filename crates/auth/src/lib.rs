//! podiam's request pipeline, shared by every service.
//!
//! A service implements [`Service`]; [`pipeline::run`] authenticates the
//! caller ([`Services::authenticate_with`]: SigV4 against a stored key or a
//! sealed session, or anonymous), decodes the typed action, decides each
//! [`Check`] with the one [`Authorizer`] (through `podiam-policy`), then
//! lets the service act, rendering errors in its protocol. The
//! [`audit`] module collects the request's one audit line.

pub mod audit;
mod authn;
mod authz;
pub mod aws_managed;
mod caller;
mod decide;
pub mod hints;
pub mod metrics;
pub mod pipeline;
mod services;
pub mod sessions;

pub use authn::{AuthError, Authenticated, RequestView, signing_service};
pub use authz::{Denied, PolicySet, compile_policy};
pub use caller::Caller;
pub use decide::{Authorizer, Check, ResourcePolicy, Subject};
pub use pipeline::{Authentication, Cx, Input, Service, ServiceError};
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
    /// The `Referer` header (`aws:Referer`).
    pub referer: Option<String>,
}

impl RequestMeta {
    /// Adds `aws:SourceIp`, `aws:SecureTransport`, `aws:UserAgent` and
    /// `aws:Referer` to a context, those `wants` names.
    pub fn apply(
        &self,
        mut b: podiam_policy::RequestContextBuilder,
        wants: impl Fn(&str) -> bool,
    ) -> podiam_policy::RequestContextBuilder {
        if let Some(ip) = self.source_ip.as_ref().filter(|_| wants("aws:SourceIp")) {
            b = b.key("aws:SourceIp", ip.clone());
        }
        if let Some(ua) = self.user_agent.as_ref().filter(|_| wants("aws:UserAgent")) {
            b = b.key("aws:UserAgent", ua.clone());
        }
        if let Some(r) = self.referer.as_ref().filter(|_| wants("aws:Referer")) {
            b = b.key("aws:Referer", r.clone());
        }
        if wants("aws:SecureTransport") {
            b = b.key("aws:SecureTransport", self.secure_transport.to_string());
        }
        b
    }
}
