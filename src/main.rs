//! The `podiam` binary.
fn main() {}
