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

/// Lowercase hex of `bytes`, as AWS writes hashes, ETags and signatures. Table-driven: the
/// `hex` crate's `encode` pushes one `char` at a time, which was a few percent of the CPU of
/// a signed request (three hashes are written per request).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.extend_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]);
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// A new request id in the form AWS uses for most services (a UUID).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
    }
}
