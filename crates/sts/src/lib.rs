//! podiam-sts (placeholder until implemented).
