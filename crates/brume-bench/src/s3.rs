//! S3 figures: 256 MiB objects put and got through one connection with a signed payload,
//! and 1 KiB objects put and got at concurrency by the load generator. Every request is
//! path-style (`/bucket/key`) and SigV4-signed with the body's SHA-256 in
//! `x-amz-content-sha256`, as the SDKs sign over plain HTTP.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use brume_auth::sigv4::EMPTY_SHA256;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{AUTHORIZATION, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};

use crate::body::{FRAME, Memory};
use crate::kv::XorShift;
use crate::load::Requests;
use crate::sign::Signer;

/// The large object's size.
pub const LARGE: usize = 256 << 20;
/// The small objects' size.
pub const SMALL: usize = 1024;
/// How many small keys the load spreads over; all of them exist before the GET load.
pub const KEYS: usize = 1000;
pub const BUCKET: &str = "brume-bench";

/// The large object and its SHA-256, made once before any clock starts.
pub struct Large {
    data: Bytes,
    sha256: String,
}

impl Large {
    /// Incompressible bytes, so that no layer can do better than it would with real data.
    pub fn new() -> Large {
        let data = Bytes::from(XorShift(0x6A09_E667_F3BC_C908).bytes(LARGE));
        let sha256 = hex::encode(Sha256::digest(&data));
        Large { data, sha256 }
    }
}

/// What one request did: its status, how many body bytes came back, and how long it took
/// from sending the head to reading the last byte of the answer.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    read: usize,
    took: Duration,
}

/// Sends `request` on a fresh connection and reads the whole answer. Up to 4 KiB of the
/// answer's body is kept, to explain a failure; the rest is counted and dropped.
fn send(port: u16, request: Request<Memory>) -> Result<Answer> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let stream = tokio::net::TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        stream.set_nodelay(true)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let started = Instant::now();
        let response = sender.send_request(request).await?;
        let status = response.status();
        let mut incoming = response.into_body();
        let (mut body, mut read) = (Vec::new(), 0);
        while let Some(frame) = incoming.frame().await {
            if let Ok(data) = frame?.into_data() {
                read += data.len();
                if body.len() < 4096 {
                    body.extend_from_slice(&data[..data.len().min(4096 - body.len())]);
                }
            }
        }
        Ok(Answer { status, body, read, took: started.elapsed() })
    })
}

/// A signed S3 request for `path` with `body` whose SHA-256 is `sha256`.
fn request(signer: &mut Signer, method: Method, path: &str, body: Memory, sha256: &str) -> Result<Request<Memory>> {
    let signed = signer.sign_s3(method.as_str(), path, sha256);
    Ok(Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, signer.host())
        .header("x-amz-date", signed.amz_date)
        .header("x-amz-content-sha256", sha256)
        .header(AUTHORIZATION, signed.authorization)
        .body(body)?)
}

fn signer(port: u16) -> Signer {
    Signer::for_service(SocketAddr::from((Ipv4Addr::LOCALHOST, port)).to_string(), "s3")
}

fn expect_ok(what: &str, answer: &Answer) -> Result<()> {
    if answer.status != StatusCode::OK {
        bail!("{what} answered {}: {}", answer.status, String::from_utf8_lossy(&answer.body));
    }
    Ok(())
}

/// Creates the benchmark's bucket on the server on `port`.
pub fn create_bucket(port: u16) -> Result<()> {
    let path = format!("/{BUCKET}");
    let answer = send(port, request(&mut signer(port), Method::PUT, &path, Memory::empty(), EMPTY_SHA256)?)?;
    expect_ok("CreateBucket", &answer)
}

/// Puts the large object at `path`; returns the rate in MB/s (10^6 bytes per second).
pub fn put_large(port: u16, path: &str, large: &Large) -> Result<f64> {
    let body = Memory::new(large.data.clone(), FRAME);
    let answer = send(port, request(&mut signer(port), Method::PUT, path, body, &large.sha256)?)?;
    expect_ok("PUT of the large object", &answer)?;
    Ok(LARGE as f64 / 1e6 / answer.took.as_secs_f64())
}

/// Gets the large object from `path`, checking its length; returns the rate in MB/s.
pub fn get_large(port: u16, path: &str) -> Result<f64> {
    let answer = send(port, request(&mut signer(port), Method::GET, path, Memory::empty(), EMPTY_SHA256)?)?;
    expect_ok("GET of the large object", &answer)?;
    if answer.read != LARGE {
        bail!("GET of the large object returned {} bytes, not {LARGE}", answer.read);
    }
    Ok(LARGE as f64 / 1e6 / answer.took.as_secs_f64())
}

/// Puts every small key once, one request after another, so that the GET load finds them.
pub fn fill(port: u16) -> Result<()> {
    let mut objects = SmallObjects::new(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), Method::PUT, 0, 1);
    for _ in 0..KEYS {
        expect_ok("PUT of a small object", &send(port, objects.next()?)?)?;
    }
    Ok(())
}

/// One load worker's 1 KiB PUTs or GETs. Worker `w` of `c` sends its `n`-th request to key
/// `(n * c + w) % KEYS`, so that the workers sweep all keys without two of them writing the
/// same key at once.
pub struct SmallObjects {
    signer: Signer,
    method: Method,
    body: Bytes,
    sha256: String,
    next: usize,
    step: usize,
}

impl SmallObjects {
    pub fn new(addr: SocketAddr, method: Method, worker: usize, concurrency: usize) -> SmallObjects {
        let body = Bytes::from(XorShift(0xBB67_AE85_84CA_A73B).bytes(SMALL));
        // An SDK hashes each body as it sends it; the bodies are all the same here, so the
        // hash is taken once (1 KiB costs a few microseconds).
        let sha256 = if method == Method::PUT { hex::encode(Sha256::digest(&body)) } else { EMPTY_SHA256.to_string() };
        SmallObjects {
            signer: Signer::for_service(addr.to_string(), "s3"),
            method,
            body,
            sha256,
            next: worker,
            step: concurrency,
        }
    }
}

impl Requests for SmallObjects {
    fn next(&mut self) -> Result<Request<Memory>> {
        let path = format!("/{BUCKET}/small-{:04}", self.next % KEYS);
        self.next += self.step;
        let body = if self.method == Method::PUT { Memory::whole(self.body.clone()) } else { Memory::empty() };
        request(&mut self.signer, self.method.clone(), &path, body, &self.sha256)
    }
}
