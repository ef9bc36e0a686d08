//! Types every Brume layer shares: [`AwsError`], the one error type of the system, and
//! [`RequestContext`], who is calling and where (account, region, request id).
//!
//! This crate knows no wire format: the protocol layer renders an [`AwsError`] the way each
//! AWS protocol does.

pub mod clients;
mod context;
pub mod cors;
mod error;
pub mod page;
pub mod value;

pub use context::{Principal, RequestContext};
pub use error::{AwsError, Fault};

/// The account used when a request does not name one (the `test`/`test` credentials).
pub const DEFAULT_ACCOUNT: &str = "000000000000";
/// The region used when a request does not name one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// A new request id in the form AWS uses for most services (a UUID).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
