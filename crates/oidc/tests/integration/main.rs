//! Integration tests for podiam-oidc (one binary, several modules).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod cache;
mod common;
mod http_server;
mod mint;
mod prop;
mod security;
