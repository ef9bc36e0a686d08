//! The ceiling: a minimal hyper HTTP/1.1 server. It runs as a child process of this binary
//! (`--serve-bare PORT`) so that, like Brume, it is a separate process with its own
//! multi-threaded runtime competing for the same cores as the load generator. It answers
//! as cheaply as a server can while doing the same wire work as Brume:
//!
//! - `PUT`: reads the body frame by frame, discarding it, and answers an empty 200;
//! - `GET /big`: the large object of the S3 benchmark, streamed from memory;
//! - any other `GET`: a small object of the S3 benchmark's size;
//! - anything else: a fixed 200 of about the size of Brume's `GetCallerIdentity` answer,
//!   after reading the body.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::OnceLock;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;

use crate::body::{FRAME, Memory};
use crate::s3::{LARGE, SMALL};

/// Shaped like STS's answer so that both servers write about the same bytes.
const ANSWER: &str = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::000000000000:root</Arn>
    <UserId>000000000000</UserId>
    <Account>000000000000</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>8f0a7c52-6a0e-4f61-9f3c-2b8f6a1c0d47</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>"#;

const REQUEST_ID: &str = "8f0a7c52-6a0e-4f61-9f3c-2b8f6a1c0d47";

/// The large object, allocated on the first `GET /big` only, so that the start-up and
/// memory references are not charged for it.
static LARGE_OBJECT: OnceLock<Bytes> = OnceLock::new();
static SMALL_OBJECT: [u8; SMALL] = [0xA5; SMALL];

/// Serves until killed. The runtime has tokio's default worker count, as Brume's has.
pub fn serve(port: u16) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(answer)).await;
            });
        }
    })
}

/// Reads the whole body, as any real handler must (without keeping it), then answers.
async fn answer(request: Request<hyper::body::Incoming>) -> Result<Response<Memory>, Infallible> {
    let (parts, mut body) = request.into_parts();
    while let Some(Ok(_)) = body.frame().await {}
    let mut response = Response::new(match (&parts.method, parts.uri.path()) {
        (&Method::PUT, _) => Memory::empty(),
        (&Method::GET, "/big") => Memory::new(LARGE_OBJECT.get_or_init(|| vec![0xA5; LARGE].into()).clone(), FRAME),
        (&Method::GET, _) => Memory::whole(Bytes::from_static(&SMALL_OBJECT)),
        _ => Memory::whole(Bytes::from_static(ANSWER.as_bytes())),
    });
    let headers = response.headers_mut();
    if parts.method == Method::GET {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("binary/octet-stream"));
    } else if parts.method != Method::PUT {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    }
    headers.insert("x-amzn-requestid", HeaderValue::from_static(REQUEST_ID));
    Ok(response)
}
