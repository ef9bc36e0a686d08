//! The load generator: `concurrency` workers, each with its own keep-alive HTTP/1.1
//! connection, sending signed `GetCallerIdentity` requests back to back. It runs on one
//! current-thread runtime so that it takes as little of the shared cores as it can, and it
//! signs every request (about a microsecond) as a real client would, against either server.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;

use crate::sign::{BODY, Signer};
use crate::stats::Latencies;

/// What one load run measured.
pub struct Load {
    /// Requests answered 200 within the measured window, per second.
    pub per_second: f64,
    pub latency: Latencies,
    /// Requests answered with anything but 200 within the window.
    pub errors: u64,
}

/// Drives the server on `port` for `warmup` (not counted) and then `measure`.
pub fn run(port: u16, concurrency: usize, warmup: Duration, measure: Duration) -> Result<Load> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let from = Instant::now() + warmup;
        let until = from + measure;
        let workers: Vec<_> = (0..concurrency).map(|_| tokio::spawn(worker(addr, from, until))).collect();
        let mut all = Vec::new();
        let mut errors = 0;
        for w in workers {
            let (latencies, failed) = w.await.context("load worker panicked")??;
            all.extend(latencies);
            errors += failed;
        }
        Ok(Load { per_second: all.len() as f64 / measure.as_secs_f64(), latency: Latencies::new(all), errors })
    })
}

/// One connection's loop; returns the latencies of the requests answered 200 entirely
/// within `from..until`, and how many others in that window were not 200.
async fn worker(addr: SocketAddr, from: Instant, until: Instant) -> Result<(Vec<Duration>, u64)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut signer = Signer::new(addr.to_string());
    let mut latencies = Vec::new();
    let mut errors = 0;
    loop {
        let start = Instant::now();
        if start >= until {
            return Ok((latencies, errors));
        }
        let signed = signer.sign();
        let request = Request::post("/")
            .header(HOST, signer.host())
            .header(CONTENT_TYPE, crate::sign::CONTENT_TYPE)
            .header("x-amz-date", signed.amz_date)
            .header(AUTHORIZATION, signed.authorization)
            .body(Full::new(Bytes::from_static(BODY.as_bytes())))?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let ok = response.status() == hyper::StatusCode::OK;
        response.into_body().collect().await?;
        let end = Instant::now();
        if start >= from && end <= until {
            if ok {
                latencies.push(end - start);
            } else {
                errors += 1;
            }
        }
    }
}
