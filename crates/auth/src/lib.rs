//! podiam-auth (placeholder until implemented).
