//! podiam-store (placeholder until implemented).
