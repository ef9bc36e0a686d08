//! RSA PKCS#1 v1.5 signatures.
//!
//! SNS signs every message it delivers, with SHA1withRSA (`SignatureVersion` 1, the
//! default) or SHA256withRSA (2). The pure-Rust `rsa` crate took 3.4 ms per 2048-bit
//! signature here, a third of AWS-LC's time and most of an SNS delivery; `aws-lc-rs`, the
//! safe binding, signs SHA-256 but not SHA-1. So key generation, parsing and the public key
//! go through `aws-lc-rs`, and only the signature itself calls AWS-LC's `RSA_sign`, after
//! parsing the same key into AWS-LC's `RSA` object.

use std::ffi::c_uint;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;

/// What went wrong; AWS-LC does not say more.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot generate an RSA key")]
    Generate,
    #[error("not an RSA private key in PKCS#8 DER")]
    InvalidKey,
    #[error("RSA signing failed")]
    Sign,
}

/// The digest a signature is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha256,
}

/// An RSA private key that signs.
pub struct SigningKey {
    rsa: NonNull<aws_lc_sys::RSA>,
    pkcs8: Vec<u8>,
    public_key: Vec<u8>,
}

// SAFETY: AWS-LC's `RSA` objects may be used for private-key operations from several threads
// at once (the lazily computed values they cache are guarded by the object's own lock), and
// this type never mutates the key after building it.
#[allow(unsafe_code)]
unsafe impl Send for SigningKey {}
// SAFETY: see `Send`.
#[allow(unsafe_code)]
unsafe impl Sync for SigningKey {}

impl SigningKey {
    /// A new 2048-bit key.
    pub fn generate() -> Result<SigningKey, Error> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| Error::Generate)?;
        let der: Pkcs8V1Der = pair.as_der().map_err(|_| Error::Generate)?;
        SigningKey::from_pkcs8(der.as_ref())
    }

    /// The key in `der`, a PKCS#8 `PrivateKeyInfo` holding an RSA key.
    pub fn from_pkcs8(der: &[u8]) -> Result<SigningKey, Error> {
        // Validated by the safe binding first, so AWS-LC below parses a key it accepted.
        let pair = KeyPair::from_pkcs8(der).map_err(|_| Error::InvalidKey)?;
        let public_key = pair.public_key().as_der().map_err(|_| Error::InvalidKey)?.as_ref().to_vec();
        let rsa = parse_rsa(der).ok_or(Error::InvalidKey)?;
        Ok(SigningKey { rsa, pkcs8: der.to_vec(), public_key })
    }

    /// The private key as PKCS#8 DER, for storing.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as an X.509 `SubjectPublicKeyInfo`, DER.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key
    }

    /// The PKCS#1 v1.5 signature of `message` hashed with `hash`.
    pub fn sign(&self, hash: Hash, message: &[u8]) -> Result<Vec<u8>, Error> {
        let (algorithm, nid) = match hash {
            Hash::Sha1 => (&digest::SHA1_FOR_LEGACY_USE_ONLY, aws_lc_sys::NID_sha1),
            Hash::Sha256 => (&digest::SHA256, aws_lc_sys::NID_sha256),
        };
        let digest = digest::digest(algorithm, message);
        let digest = digest.as_ref();
        #[allow(unsafe_code)]
        // SAFETY: `self.rsa` is a live key (freed only in `drop`); `out` has `RSA_size`
        // bytes, the most `RSA_sign` writes; the digest pointer and length describe a live
        // slice.
        let signed = unsafe {
            let mut out = vec![0u8; aws_lc_sys::RSA_size(self.rsa.as_ptr()) as usize];
            let mut len: c_uint = 0;
            let ok =
                aws_lc_sys::RSA_sign(nid, digest.as_ptr(), digest.len(), out.as_mut_ptr(), &mut len, self.rsa.as_ptr());
            (ok == 1).then(|| {
                out.truncate(len as usize);
                out
            })
        };
        signed.ok_or(Error::Sign)
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        #[allow(unsafe_code)]
        // SAFETY: `self.rsa` holds the one reference `parse_rsa` took; nothing uses it after.
        unsafe {
            aws_lc_sys::RSA_free(self.rsa.as_ptr())
        }
    }
}

/// AWS-LC's `RSA` object for the PKCS#8 key in `der`, with one reference owned by the caller.
fn parse_rsa(der: &[u8]) -> Option<NonNull<aws_lc_sys::RSA>> {
    #[allow(unsafe_code)]
    // SAFETY: `CBS_init` only records the pointer and length of `der`, which outlives the
    // parse; `EVP_parse_private_key` returns an owned key or null; `EVP_PKEY_get1_RSA` returns
    // a new reference (or null), so freeing the `EVP_PKEY` afterwards leaves the `RSA` alive.
    unsafe {
        let mut cbs = MaybeUninit::<aws_lc_sys::CBS>::uninit();
        aws_lc_sys::CBS_init(cbs.as_mut_ptr(), der.as_ptr(), der.len());
        let mut cbs = cbs.assume_init();
        let pkey = aws_lc_sys::EVP_parse_private_key(&mut cbs);
        if pkey.is_null() {
            return None;
        }
        let rsa = aws_lc_sys::EVP_PKEY_get1_RSA(pkey);
        aws_lc_sys::EVP_PKEY_free(pkey);
        NonNull::new(rsa)
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{self, UnparsedPublicKey};

    use super::*;

    #[test]
    fn signatures_verify_and_keys_round_trip() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs8(key.pkcs8()).unwrap();
        assert_eq!(key.public_key_der(), again.public_key_der());
        // `public_key_der` is a SubjectPublicKeyInfo; the verifier wants the bare RSAPublicKey
        // at its end, which the safe binding hands out directly.
        let pair = KeyPair::from_pkcs8(key.pkcs8()).unwrap();
        let public = pair.public_key().as_ref();
        for (hash, params) in [
            (Hash::Sha1, &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY),
            (Hash::Sha256, &signature::RSA_PKCS1_2048_8192_SHA256),
        ] {
            let sig = again.sign(hash, b"text").unwrap();
            assert_eq!(sig.len(), 256);
            UnparsedPublicKey::new(params, public).verify(b"text", &sig).unwrap();
            assert!(UnparsedPublicKey::new(params, public).verify(b"other", &sig).is_err());
        }
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(matches!(SigningKey::from_pkcs8(b"not a key"), Err(Error::InvalidKey)));
    }
}
