//! SigV4 signing of outgoing requests, for Brume's own clients (`brume deploy`, the
//! benchmarks): the same algorithm as [`crate::sigv4`] checks, from the client's side.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::sigv4;

/// The content type of awsQuery requests.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Signs requests to one host for one service. The signing key only changes with the date,
/// so it is derived once per day as the SDKs do; each request then costs one canonical
/// request, one SHA-256 and one HMAC.
pub struct Signer {
    host: String,
    service: &'static str,
    region: String,
    access_key: String,
    secret: String,
    date: String,
    key: [u8; 32],
}

/// The headers that make a request signed.
pub struct Signed {
    pub amz_date: String,
    pub authorization: String,
}

/// The SHA-256 of a body in hex, as `x-amz-content-sha256` and the canonical request carry it.
pub fn payload_hash(body: &[u8]) -> String {
    brume_core::hex(&Sha256::digest(body))
}

impl Signer {
    /// A signer with the `test`/`test` credentials in us-east-1.
    pub fn for_service(host: String, service: &'static str) -> Signer {
        Signer {
            host,
            service,
            region: "us-east-1".to_string(),
            access_key: "test".to_string(),
            secret: crate::TEST_SECRET.to_string(),
            date: String::new(),
            key: [0; 32],
        }
    }

    /// The same signer for another region and access key.
    pub fn with_credentials(self, region: &str, access_key: &str, secret: &str) -> Signer {
        Signer {
            region: region.to_string(),
            access_key: access_key.to_string(),
            secret: secret.to_string(),
            date: String::new(),
            ..self
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Signs an S3 request whose body has the SHA-256 `payload_hash` (hex), which the
    /// request must also carry as `x-amz-content-sha256`. `path` is sent as is: S3 signs the
    /// path without encoding it again.
    pub fn sign_s3(&mut self, method: &str, path: &str, payload_hash: &str) -> Signed {
        self.sign_request(method, path, payload_hash, &[("x-amz-content-sha256", payload_hash)])
    }

    /// Signs an awsJson request (`POST /` with `X-Amz-Target`) whose body has the SHA-256
    /// `payload_hash` (hex).
    pub fn sign_json(&mut self, payload_hash: &str, content_type: &str, target: &str) -> Signed {
        self.sign_request("POST", "/", payload_hash, &[("content-type", content_type), ("x-amz-target", target)])
    }

    /// Signs an awsQuery request (form-encoded `POST /`) whose body has the SHA-256
    /// `payload_hash` (hex).
    pub fn sign_query(&mut self, payload_hash: &str) -> Signed {
        self.sign_request("POST", "/", payload_hash, &[("content-type", FORM_CONTENT_TYPE)])
    }

    /// Signs `host`, `x-amz-date` and the lowercase `headers`, for the current time.
    pub fn sign_request(&mut self, method: &str, path: &str, payload_hash: &str, headers: &[(&str, &str)]) -> Signed {
        let amz_date = OffsetDateTime::now_utc()
            .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
            .unwrap_or_else(|_| unreachable!("a fixed format of a valid date"));
        let date = &amz_date[..8];
        if self.date != date {
            self.date = date.to_string();
            self.key = sigv4::signing_key(&self.secret, date, &self.region, self.service);
        }
        let mut signed: Vec<(&str, &str)> = headers.to_vec();
        signed.extend([("host", self.host.as_str()), ("x-amz-date", amz_date.as_str())]);
        signed.sort_unstable();
        let canonical_headers: String = signed.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
        let signed_headers = signed.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(";");
        let canonical = sigv4::canonical_request(method, path, "", &canonical_headers, &signed_headers, payload_hash);
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let signature = sigv4::signature(&self.key, &sigv4::string_to_sign(&amz_date, &scope, &canonical));
        let authorization = format!(
            "{} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            sigv4::ALGORITHM,
            self.access_key
        );
        Signed { amz_date, authorization }
    }
}
