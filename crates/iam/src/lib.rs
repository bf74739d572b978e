//! podiam-iam (placeholder until implemented).
