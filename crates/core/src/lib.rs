//! podiam's AWS wire layer.
//!
//! Everything here is I/O-free: decoding the query protocol, rendering XML and
//! JSON, the AWS error model, ARNs and identifier formats, and the sealed,
//! self-contained session credentials that let any replica verify a session
//! without a database row.

pub mod arn;
pub mod clock;
pub mod error;
pub mod ids;
pub mod metrics;
pub mod query;
pub mod random;
pub mod session;
pub mod timefmt;
pub mod xml;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AwsError, ErrorFault, Protocol};
pub use random::{Random, SystemRandom};
