//! The benchmarks' SigV4 requests, signed by [`brume_auth::sign`] with the `test`/`test`
//! credentials; here only STS `GetCallerIdentity` as the AWS SDKs send it (form-encoded POST
//! to `/`), which the start-up probe and the HTTP benchmark call.

pub use brume_auth::sign::{FORM_CONTENT_TYPE as CONTENT_TYPE, Signed, Signer};

pub const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// A signer for STS.
pub fn sts(host: String) -> Signer {
    Signer::for_service(host, "sts")
}

/// STS `GetCallerIdentity` requests.
pub trait GetCallerIdentity {
    /// Signs the request for the current time.
    fn sign(&mut self) -> Signed;

    /// The whole request as HTTP/1.1 bytes, asking the server to close the connection after
    /// answering (the start-up probe opens one connection per attempt).
    fn raw_request(&mut self) -> Vec<u8>;
}

impl GetCallerIdentity for Signer {
    fn sign(&mut self) -> Signed {
        self.sign_query(&brume_auth::sign::payload_hash(BODY.as_bytes()))
    }

    fn raw_request(&mut self) -> Vec<u8> {
        let Signed { amz_date, authorization } = self.sign();
        format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: {CONTENT_TYPE}\r\nX-Amz-Date: {amz_date}\r\n\
             Authorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
            self.host(),
            BODY.len()
        )
        .into_bytes()
    }
}
