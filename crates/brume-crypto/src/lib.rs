//! The cryptography Brume takes from AWS-LC where the safe binding, `aws-lc-rs`, falls
//! short: RSA signatures over SHA-1 ([`rsa`]) and MD5 ([`Md5`]).
//!
//! This is the one crate of the workspace with unsafe code, kept to the FFI calls into
//! `aws-lc-sys` that those two need.

mod md5;
pub mod rsa;

pub use md5::Md5;
