//! podiam's EKS side.
//!
//! Clusters are first-class: each has an issuer — built in (podiam holds
//! the signing keys, serves discovery and JWKS exactly as kube-apiserver
//! does, and mints projected service-account tokens) or external (a real
//! kube-apiserver's issuer, registered with its JWKS). The EKS REST API
//! exposes them as `DescribeCluster` / `ListClusters` so tools that read the
//! issuer from EKS work.

mod action;
mod authz;
pub mod eks_auth;
mod error;
mod issuer;
mod ops;
mod service;

pub use action::EksRequest;
pub use cluster::{ClusterSpec, TokenSpec, create_cluster, delete_cluster, mint_token};
pub use eks_auth::{EksAuthError, PodIdentityRequest, assume_role_for_pod_identity};
pub use error::EksError;
pub use issuer::{ClusterFetcher, IssuerDocument, issuer_document};
use ops::cluster;
pub use ops::{association, execute, handle, keys, serviceaccount};
pub use service::{Eks, EksAuth};
