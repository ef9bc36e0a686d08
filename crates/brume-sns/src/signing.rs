//! Message signatures: SNS signs what it sends (SignatureVersion 1: SHA1withRSA, 2:
//! SHA256withRSA) over a canonical string of the message's fields, and publishes the
//! certificate at the message's `SigningCertURL`. Brume's key is an RSA-2048 key made on
//! first use and kept in its own keyspace; the certificate is self-signed (by the same
//! key), so receivers that verify signatures against the certificate at the URL accept
//! Brume's messages, while those that also require an `amazonaws.com` host do not.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use brume_core::AwsError;
use brume_crypto::rsa::{Hash, SigningKey};
use brume_storage::{Kv, StorageError, Txn};

use crate::table::{self, SIGNING_KEYSPACE};

/// sha256WithRSAEncryption (1.2.840.113549.1.1.11), the certificate's own signature.
const SHA256_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
/// commonName (2.5.4.3).
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

pub struct Signer {
    key: SigningKey,
    certificate_pem: String,
}

impl Signer {
    /// The stored key, or a new one stored now. Making a key takes a moment, so it runs
    /// on the blocking pool.
    pub async fn load_or_create(kv: Arc<dyn Kv>) -> Result<Arc<Signer>, AwsError> {
        if let Some(der) = kv.get(SIGNING_KEYSPACE, &table::signing_key())? {
            return tokio::task::spawn_blocking(move || Signer::from_der(&der))
                .await
                .map_err(|_| AwsError::internal())?;
        }
        let der = tokio::task::spawn_blocking(|| SigningKey::generate().map(|key| key.pkcs8().to_vec()))
            .await
            .map_err(|_| AwsError::internal())?
            .map_err(|e| internal(format!("encoding the signing key: {e}")))?;
        // Two first uses racing both make a key; the first stored wins and both use it.
        let stored = kv
            .transact(move |txn: &mut dyn Txn| {
                if let Some(existing) = txn.get(SIGNING_KEYSPACE, &table::signing_key())? {
                    return Ok::<_, StorageError>(existing);
                }
                txn.put(SIGNING_KEYSPACE, &table::signing_key(), &der)?;
                Ok(der)
            })
            .await?;
        tokio::task::spawn_blocking(move || Signer::from_der(&stored)).await.map_err(|_| AwsError::internal())?
    }

    fn from_der(der: &[u8]) -> Result<Arc<Signer>, AwsError> {
        let key = SigningKey::from_pkcs8(der).map_err(|e| internal(format!("decoding the signing key: {e}")))?;
        let certificate_pem = certificate(&key)?;
        Ok(Arc::new(Signer { key, certificate_pem }))
    }

    /// The base64 signature of `canonical` for `version` ("1": SHA1withRSA, "2": SHA256withRSA).
    pub fn sign(&self, version: &str, canonical: &str) -> Result<String, AwsError> {
        let hash = if version == "2" { Hash::Sha256 } else { Hash::Sha1 };
        let signature = self.key.sign(hash, canonical.as_bytes()).map_err(|e| internal(format!("signing: {e}")))?;
        Ok(B64.encode(signature))
    }

    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }
}

fn internal(detail: String) -> AwsError {
    tracing::error!(%detail, "sns signing failed");
    AwsError::internal()
}

/// The string SNS signs: the message's fields, each as `Name\nValue\n`, in this order;
/// absent ones (`Subject`) are left out.
pub fn canonical(fields: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        if let Some(value) = value {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
    }
    out
}

/// A DER element: tag, length, content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

/// A self-signed X.509 v3 certificate for `key`, PEM-encoded.
fn certificate(key: &SigningKey) -> Result<String, AwsError> {
    let algorithm = sequence(&[der(0x06, SHA256_WITH_RSA), der(0x05, &[])]);
    let name = sequence(&[der(0x31, &sequence(&[der(0x06, COMMON_NAME), der(0x0c, b"brume-sns")]))]);
    let tbs = sequence(&[
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &[1]),
        algorithm.clone(),
        name.clone(),
        sequence(&[der(0x17, b"200101000000Z"), der(0x17, b"491231235959Z")]),
        name,
        key.public_key_der().to_vec(),
    ]);
    let signature = key.sign(Hash::Sha256, &tbs).map_err(|e| internal(format!("signing: {e}")))?;
    let mut bits = vec![0u8];
    bits.extend(signature);
    let cert = sequence(&[tbs, algorithm, der(0x03, &bits)]);
    let body = B64.encode(cert);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    Ok(format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_strings_leave_out_absent_fields() {
        let s = canonical(&[
            ("Message", Some("hi")),
            ("MessageId", Some("1")),
            ("Subject", None),
            ("Type", Some("Notification")),
        ]);
        assert_eq!(s, "Message\nhi\nMessageId\n1\nType\nNotification\n");
    }

    #[test]
    fn der_lengths() {
        assert_eq!(der(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = der(0x04, &[0; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    #[tokio::test]
    async fn the_key_is_kept_and_signs_both_versions() {
        let kv = brume_storage::Storage::in_memory().kv;
        let signer = Signer::load_or_create(kv.clone()).await.unwrap();
        let again = Signer::load_or_create(kv).await.unwrap();
        assert_eq!(signer.certificate_pem(), again.certificate_pem(), "the key is kept");
        assert!(signer.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
        // PKCS#1 v1.5 is deterministic: the same key gives the same signature, and the two
        // versions differ. (Verification against the certificate is tested with openssl in
        // tests/integration/test_sns.py, and with AWS-LC in brume-crypto.)
        let v1 = signer.sign("1", "text").unwrap();
        assert_eq!(v1, again.sign("1", "text").unwrap());
        assert_eq!(B64.decode(&v1).unwrap().len(), 256);
        assert_ne!(v1, signer.sign("2", "text").unwrap());
    }
}
