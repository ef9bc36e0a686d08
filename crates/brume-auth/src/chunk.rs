//! Per-chunk signatures of S3 streaming uploads (`aws-chunked` bodies).
//!
//! The request's own signature is the seed; each chunk is signed over the previous chunk's
//! signature, so chunks can be neither reordered nor dropped. The S3 service reads the
//! chunks and asks a [`ChunkSigner`] what each signature should be.

use std::fmt;

use crate::sigv4::{EMPTY_SHA256, hmac};

/// What S3 needs to check the chunk signatures of one streaming upload.
#[derive(Clone)]
pub struct ChunkSigner {
    signing_key: [u8; 32],
    timestamp: String,
    scope: String,
    seed_signature: String,
}

impl ChunkSigner {
    /// `timestamp` is the request's `X-Amz-Date` (`20130524T000000Z`), `scope` its credential
    /// scope (`20130524/us-east-1/s3/aws4_request`), `seed_signature` the request signature.
    pub fn new(signing_key: [u8; 32], timestamp: String, scope: String, seed_signature: String) -> Self {
        ChunkSigner { signing_key, timestamp, scope, seed_signature }
    }

    /// The request's signature, which the first chunk's signature chains from.
    pub fn seed_signature(&self) -> &str {
        &self.seed_signature
    }

    /// The expected signature of a data chunk (the final zero-length chunk included).
    pub fn chunk_signature(&self, previous_signature: &str, chunk_sha256: &[u8; 32]) -> String {
        self.sign(&format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous_signature}\n{EMPTY_SHA256}\n{}",
            self.timestamp,
            self.scope,
            brume_core::hex(chunk_sha256)
        ))
    }

    /// The expected signature of the trailer chunk (`x-amz-trailer-signature`), given the
    /// SHA-256 of the trailing header lines as sent (`x-amz-checksum-crc32:...\n`).
    pub fn trailer_signature(&self, previous_signature: &str, trailer_sha256: &[u8; 32]) -> String {
        self.sign(&format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{previous_signature}\n{}",
            self.timestamp,
            self.scope,
            brume_core::hex(trailer_sha256)
        ))
    }

    fn sign(&self, string_to_sign: &str) -> String {
        brume_core::hex(&hmac(&self.signing_key, string_to_sign.as_bytes()))
    }
}

/// Compares a computed signature with the one a client sent, in constant time.
pub fn signatures_match(expected: &str, provided: &str) -> bool {
    use subtle::ConstantTimeEq;
    expected.len() == provided.len() && bool::from(expected.as_bytes().ct_eq(provided.as_bytes()))
}

impl fmt::Debug for ChunkSigner {
    // The signing key is as good as the secret for a day: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("timestamp", &self.timestamp)
            .field("scope", &self.scope)
            .field("seed_signature", &self.seed_signature)
            .finish_non_exhaustive()
    }
}
