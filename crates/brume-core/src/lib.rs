//! Types every Brume layer shares: [`AwsError`], the one error type of the system, and
//! [`RequestContext`], who is calling and where (account, region, request id).
//!
//! This crate knows no wire format: the protocol layer renders an [`AwsError`] the way each
//! AWS protocol does.

pub mod clients;
mod context;
pub mod cors;
mod error;
pub mod nesting;
pub mod page;
pub mod value;

pub use context::{Principal, RequestContext, looks_like_region};
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

/// Appends `value` in decimal, zero-padded to `width` digits (wider values are written
/// whole), as `format!("{value:0width$}")` does at a fraction of its cost: dates are written
/// on every response.
pub fn push_zero_padded(out: &mut String, value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut n = value;
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    start = start.min(digits.len().saturating_sub(width));
    out.push_str(std::str::from_utf8(&digits[start..]).expect("decimal digits are ASCII"));
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

    #[test]
    fn zero_padding_matches_format() {
        for (value, width) in [(0, 2), (7, 2), (42, 2), (123, 2), (5, 4), (2024, 4), (12345, 4), (u32::MAX, 3), (9, 0)]
        {
            let mut out = String::from("x");
            super::push_zero_padded(&mut out, value, width);
            assert_eq!(out, format!("x{value:0width$}"));
        }
    }
}
