//! Authentication for Brume: AWS Signature Version 4 and the credentials behind it.
//!
//! - [`Verifier::verify`] checks a request signed with an `Authorization` header or as a
//!   presigned URL and returns the [`Verified`] caller (account, principal, region and
//!   service of the credential scope), or why it failed as an [`AuthFailure`], which
//!   [`AuthFailure::to_aws_error`] turns into the error AWS answers in each
//!   [`ServiceFamily`].
//! - S3 streaming uploads get a [`ChunkSigner`] to check each chunk's signature.
//! - [`CredentialStore`] resolves access keys: the built-in `test` key and 12-digit keys,
//!   a `--credentials` file, and temporary credentials issued for STS, which persist
//!   through a [`SessionPersistence`].
//! - [`sigv4`] holds the pure algorithm (canonical request, string to sign, signing key),
//!   tested against the AWS SigV4 test suite; [`sign`] signs outgoing requests with it.
//!
//! Nothing here does IO except reading the credentials file; time comes from a [`Clock`].

mod chunk;
mod credentials;
mod failure;
pub mod sign;
mod sigv2;
pub mod sigv4;
mod verify;

pub use chunk::{ChunkSigner, signatures_match};
pub use credentials::{
    Credential, CredentialStore, CredentialsFileError, MemorySessions, PersistenceError, SessionCredentials,
    SessionPersistence, TEST_SECRET, is_account_id,
};
pub use failure::{AuthFailure, MAX_PRESIGN_EXPIRES, MAX_SKEW_SECONDS, Malformed, ServiceFamily, SignatureMismatch};
pub use verify::{
    AuthMode, Clock, PayloadHash, PayloadSigning, SystemClock, Verified, Verifier, s3_virtual_host_bucket,
};
