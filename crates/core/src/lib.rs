//! podiam-core (placeholder until implemented).
