//! The ceiling: a minimal hyper HTTP/1.1 server answering every request with a fixed 200
//! of about the size of Brume's `GetCallerIdentity` answer. It runs as a child process of
//! this binary (`--serve-bare PORT`) so that, like Brume, it is a separate process with its
//! own multi-threaded runtime competing for the same cores as the load generator.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

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

/// Reads the whole body, as any real handler must, then answers.
async fn answer(request: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let _ = request.into_body().collect().await;
    let mut response = Response::new(Full::new(Bytes::from_static(ANSWER.as_bytes())));
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/xml"));
    response
        .headers_mut()
        .insert("x-amzn-requestid", hyper::header::HeaderValue::from_static("8f0a7c52-6a0e-4f61-9f3c-2b8f6a1c0d47"));
    Ok(response)
}
