pub mod common;
mod durability;
mod irsa;
pub mod raw;
mod security;
mod pod_identity;
