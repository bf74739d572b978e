//! podiam's IAM service: the query protocol (version 2010-05-08).
//!
//! A request is decoded into a typed [`IamRequest`], authorized as exactly
//! one IAM action on one resource, then handled against the store with
//! optimistic concurrency. Every policy written is validated with AWS's
//! grammar first.

mod action;
mod authz;
mod error;
mod ops;
mod render;
mod service;
mod simulate;

pub use action::{
    IamRequest, OidcRequest, Page, PolicyRequest, ProfileRequest, RoleRequest, TagRequest, Tagged,
    decode,
};
pub use error::IamError;
pub use service::{Iam, IamCall};
pub use simulate::SimulateRequest;

/// IAM's XML namespace.
pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
