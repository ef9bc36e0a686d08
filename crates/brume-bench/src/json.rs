//! The awsJson 1.0 protocol SQS and DynamoDB speak: `POST /` with the operation in
//! `X-Amz-Target` and a JSON body, SigV4-signed for the service. One signed client on one
//! keep-alive connection for set-up calls and samples, the signed request the load
//! generator sends, and the raw bytes of a request for start-up probes.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::body::Memory;
use crate::load::connect;
use crate::sign::Signer;

const JSON: &str = "application/x-amz-json-1.0";

/// Which awsJson service: its signing name and the prefix of its `X-Amz-Target`.
#[derive(Clone, Copy)]
pub struct Api {
    pub service: &'static str,
    pub target_prefix: &'static str,
}

impl Api {
    pub fn signer(&self, addr: SocketAddr) -> Signer {
        Signer::for_service(addr.to_string(), self.service)
    }

    /// `operation` with the JSON `body`, signed for the current time.
    pub fn request(&self, signer: &mut Signer, operation: &str, body: Bytes) -> Result<Request<Memory>> {
        let target = format!("{}.{operation}", self.target_prefix);
        let signed = signer.sign_json(&hex::encode(Sha256::digest(&body)), JSON, &target);
        Ok(Request::post("/")
            .header(HOST, signer.host())
            .header(CONTENT_TYPE, JSON)
            .header("x-amz-target", &target)
            .header("x-amz-date", signed.amz_date)
            .header(AUTHORIZATION, signed.authorization)
            .body(Memory::whole(body))?)
    }

    /// The whole signed request as HTTP/1.1 bytes asking the server to close the
    /// connection after answering, for the start-up probe (one connection per attempt).
    pub fn raw_request(&self, addr: SocketAddr, operation: &str, body: &[u8]) -> Vec<u8> {
        let mut signer = self.signer(addr);
        let target = format!("{}.{operation}", self.target_prefix);
        let signed = signer.sign_json(&hex::encode(Sha256::digest(body)), JSON, &target);
        let mut raw = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {JSON}\r\nX-Amz-Target: {target}\r\n\
             X-Amz-Date: {}\r\nAuthorization: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            signed.amz_date,
            signed.authorization,
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(body);
        raw
    }
}

/// One signed client on one keep-alive connection (reconnecting when a server closes it).
pub struct Client {
    addr: SocketAddr,
    api: Api,
    signer: Signer,
    sender: Option<SendRequest<Memory>>,
}

impl Client {
    pub fn new(port: u16, api: Api) -> Client {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        Client { addr, api, signer: api.signer(addr), sender: None }
    }

    /// Calls `operation` with `input`; answers the status and the parsed output.
    pub async fn call(&mut self, operation: &str, input: &Value) -> Result<(StatusCode, Value)> {
        let (status, bytes) = self.send(operation, Bytes::from(serde_json::to_vec(input)?)).await?;
        let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes)? };
        Ok((status, value))
    }

    /// Sends `operation` with the serialized input `body`; answers the status and the
    /// answer's bytes, unparsed.
    pub async fn send(&mut self, operation: &str, body: Bytes) -> Result<(StatusCode, Bytes)> {
        let request = self.api.request(&mut self.signer, operation, body)?;
        let mut sender = match self.sender.take() {
            Some(mut s) => match s.ready().await {
                Ok(()) => s,
                Err(_) => connect(self.addr).await?,
            },
            None => connect(self.addr).await?,
        };
        let response = sender.send_request(request).await?;
        let status = response.status();
        let close = response.headers().get(CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let bytes = response.into_body().collect().await?.to_bytes();
        if !close {
            self.sender = Some(sender);
        }
        Ok((status, bytes))
    }

    /// Calls `operation`, failing unless it answers 200.
    pub async fn ok(&mut self, operation: &str, input: &Value) -> Result<Value> {
        let (status, out) = self.call(operation, input).await?;
        if status != StatusCode::OK {
            bail!("{operation} answered {status}: {out}");
        }
        Ok(out)
    }
}
