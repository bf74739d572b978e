//! podiam-oidc (placeholder until implemented).
