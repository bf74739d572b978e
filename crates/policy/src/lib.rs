//! podiam-policy (placeholder until implemented).
