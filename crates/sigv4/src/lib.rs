//! podiam-sigv4 (placeholder until implemented).
