//! SigV4 signing of the requests the benchmarks send, with the `test`/`test` credentials:
//! STS `GetCallerIdentity` as the AWS SDKs send it (form-encoded POST to `/`), and S3
//! path-style requests with a signed payload hash.

use brume_auth::sigv4;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

pub const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
const ACCESS_KEY: &str = "test";
const SECRET: &str = "test";
const REGION: &str = "us-east-1";

/// Signs requests to one host for one service. The signing key only changes with the date,
/// so it is derived once per day as the SDKs do; each request then costs one canonical
/// request, one SHA-256 and one HMAC.
pub struct Signer {
    host: String,
    service: &'static str,
    date: String,
    key: [u8; 32],
}

/// The headers that make a request signed.
pub struct Signed {
    pub amz_date: String,
    pub authorization: String,
}

impl Signer {
    /// A signer for STS, the service the start-up probe and the HTTP benchmark call.
    pub fn new(host: String) -> Signer {
        Signer::for_service(host, "sts")
    }

    pub fn for_service(host: String, service: &'static str) -> Signer {
        Signer { host, service, date: String::new(), key: [0; 32] }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Signs STS `GetCallerIdentity` for the current time.
    pub fn sign(&mut self) -> Signed {
        let payload_hash = hex::encode(Sha256::digest(BODY.as_bytes()));
        self.sign_request("POST", "/", &payload_hash, &[("content-type", CONTENT_TYPE)])
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
        self.sign_request("POST", "/", payload_hash, &[("content-type", CONTENT_TYPE)])
    }

    /// Signs `host`, `x-amz-date` and the lowercase `headers`, for the current time.
    pub fn sign_request(&mut self, method: &str, path: &str, payload_hash: &str, headers: &[(&str, &str)]) -> Signed {
        let amz_date = OffsetDateTime::now_utc()
            .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
            .unwrap_or_else(|_| unreachable!("a fixed format of a valid date"));
        let date = &amz_date[..8];
        if self.date != date {
            self.date = date.to_string();
            self.key = sigv4::signing_key(SECRET, date, REGION, self.service);
        }
        let mut signed: Vec<(&str, &str)> = headers.to_vec();
        signed.extend([("host", self.host.as_str()), ("x-amz-date", amz_date.as_str())]);
        signed.sort_unstable();
        let canonical_headers: String = signed.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
        let signed_headers = signed.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(";");
        let canonical = sigv4::canonical_request(method, path, "", &canonical_headers, &signed_headers, payload_hash);
        let scope = format!("{date}/{REGION}/{}/aws4_request", self.service);
        let signature = sigv4::signature(&self.key, &sigv4::string_to_sign(&amz_date, &scope, &canonical));
        let authorization = format!(
            "{} Credential={ACCESS_KEY}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            sigv4::ALGORITHM
        );
        Signed { amz_date, authorization }
    }

    /// The whole STS request as HTTP/1.1 bytes, asking the server to close the connection
    /// after answering (the start-up probe opens one connection per attempt).
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
