//! SigV4 signing of the one request the benchmarks send: STS `GetCallerIdentity` as the
//! AWS SDKs send it (form-encoded POST to `/`), with the `test`/`test` credentials.

use brume_auth::sigv4;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

pub const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
const ACCESS_KEY: &str = "test";
const SECRET: &str = "test";
const REGION: &str = "us-east-1";
const SERVICE: &str = "sts";
const SIGNED_HEADERS: &str = "content-type;host;x-amz-date";

/// Signs requests to one host. The signing key only changes with the date, so it is derived
/// once per day as the SDKs do; each request then costs one canonical request, one SHA-256
/// and one HMAC.
pub struct Signer {
    host: String,
    payload_hash: String,
    date: String,
    key: [u8; 32],
}

/// The headers that make a request signed.
pub struct Signed {
    pub amz_date: String,
    pub authorization: String,
}

impl Signer {
    pub fn new(host: String) -> Signer {
        Signer { host, payload_hash: hex::encode(Sha256::digest(BODY.as_bytes())), date: String::new(), key: [0; 32] }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Signs the request for the current time.
    pub fn sign(&mut self) -> Signed {
        let amz_date = OffsetDateTime::now_utc()
            .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
            .unwrap_or_else(|_| unreachable!("a fixed format of a valid date"));
        let date = &amz_date[..8];
        if self.date != date {
            self.date = date.to_string();
            self.key = sigv4::signing_key(SECRET, date, REGION, SERVICE);
        }
        let headers = format!("content-type:{CONTENT_TYPE}\nhost:{}\nx-amz-date:{amz_date}\n", self.host);
        let canonical = sigv4::canonical_request("POST", "/", "", &headers, SIGNED_HEADERS, &self.payload_hash);
        let scope = format!("{date}/{REGION}/{SERVICE}/aws4_request");
        let signature = sigv4::signature(&self.key, &sigv4::string_to_sign(&amz_date, &scope, &canonical));
        let authorization = format!(
            "{} Credential={ACCESS_KEY}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
            sigv4::ALGORITHM
        );
        Signed { amz_date, authorization }
    }

    /// The whole request as HTTP/1.1 bytes, asking the server to close the connection after
    /// answering (the start-up probe opens one connection per attempt).
    pub fn raw_request(&mut self) -> Vec<u8> {
        let Signed { amz_date, authorization } = self.sign();
        format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: {CONTENT_TYPE}\r\nX-Amz-Date: {amz_date}\r\n\
             Authorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
            self.host,
            BODY.len()
        )
        .into_bytes()
    }
}
