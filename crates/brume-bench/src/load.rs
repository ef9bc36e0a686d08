//! The load generator: `concurrency` workers, each with its own keep-alive HTTP/1.1
//! connection, sending signed requests back to back (STS `GetCallerIdentity`, or whatever a
//! [`Requests`] makes). It runs on one current-thread runtime so that it takes as little of
//! the shared cores as it can, and it signs every request (about a microsecond) as a real
//! client would, against every server alike.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use tokio::task::JoinHandle;

use crate::body::Memory;
use crate::server::Server;
use crate::sign::{BODY, GetCallerIdentity, Signer};
use crate::stats::Latencies;

/// Makes one worker's requests, signed as they are sent.
pub trait Requests: Send + 'static {
    fn next(&mut self) -> Result<Request<Memory>>;
}

/// STS `GetCallerIdentity`, the request of the HTTP benchmark.
pub struct CallerIdentity(Signer);

impl CallerIdentity {
    pub fn new(addr: SocketAddr, _worker: usize) -> CallerIdentity {
        CallerIdentity(crate::sign::sts(addr.to_string()))
    }
}

impl Requests for CallerIdentity {
    fn next(&mut self) -> Result<Request<Memory>> {
        let signed = self.0.sign();
        Ok(Request::post("/")
            .header(HOST, self.0.host())
            .header(CONTENT_TYPE, crate::sign::CONTENT_TYPE)
            .header("x-amz-date", signed.amz_date)
            .header(AUTHORIZATION, signed.authorization)
            .body(Memory::whole(Bytes::from_static(BODY.as_bytes())))?)
    }
}

/// What one load run measured.
pub struct Load {
    /// Requests answered 200 within the measured window, per second.
    pub per_second: f64,
    pub latency: Latencies,
    /// Requests answered with anything but 200 within the window.
    pub errors: u64,
    /// The server's CPU time (user and system) over the measured window, where it was read.
    pub cpu: Option<Duration>,
}

/// Turns each side takes in [`alternating`].
pub const TURNS: usize = 3;

/// A reference and Brume measured in turn, [`TURNS`] times each, every turn a run of
/// `measure / TURNS` after `warmup`: a burst of noise on the shared host then hits both
/// alike, where one long run of each compared two different moments. Each side's [`Load`]
/// is its turns together: the mean rate (the turns are equally long), every latency, and
/// the CPU time its server spent over the measured windows.
pub fn alternating(
    warmup: Duration,
    measure: Duration,
    (reference_server, mut reference): (&Server, impl FnMut(Duration, Duration) -> Result<Load>),
    (brume_server, mut brume): (&Server, impl FnMut(Duration, Duration) -> Result<Load>),
) -> Result<(Load, Load)> {
    let turn = measure / TURNS as u32;
    let (mut refs, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..TURNS {
        refs.push(window_with_cpu(reference_server, warmup, turn, &mut reference)?);
        ours.push(window_with_cpu(brume_server, warmup, turn, &mut brume)?);
    }
    Ok((Load::combined(refs), Load::combined(ours)))
}

/// `run(warmup, measure)` with the CPU time `server` spent from the end of the warm-up to
/// the end of the measured window, read by a thread beside the load (the warm-up is not
/// counted, which is why this does not time `run` as a whole).
fn window_with_cpu(
    server: &Server,
    warmup: Duration,
    measure: Duration,
    run: impl FnOnce(Duration, Duration) -> Result<Load>,
) -> Result<Load> {
    std::thread::scope(|scope| {
        let cpu = scope.spawn(|| -> Result<Duration> {
            std::thread::sleep(warmup);
            let before = server.cpu_time()?;
            std::thread::sleep(measure);
            Ok(server.cpu_time()?.saturating_sub(before))
        });
        let mut load = run(warmup, measure)?;
        load.cpu = Some(cpu.join().map_err(|_| anyhow::anyhow!("CPU time reader panicked"))??);
        Ok(load)
    })
}

impl Load {
    /// Equally long runs as one.
    fn combined(runs: Vec<Load>) -> Load {
        let n = runs.len().max(1) as f64;
        let per_second = runs.iter().map(|r| r.per_second).sum::<f64>() / n;
        let errors = runs.iter().map(|r| r.errors).sum();
        let cpu = runs.iter().map(|r| r.cpu).sum();
        Load { per_second, errors, cpu, latency: Latencies::merged(runs.into_iter().map(|r| r.latency)) }
    }

    /// The server's CPU time per request answered 200, where it was read.
    pub fn cpu_per_request(&self) -> Option<Duration> {
        let answered = u32::try_from(self.latency.count()).ok().filter(|n| *n > 0)?;
        Some(self.cpu? / answered)
    }
}

/// Drives the server on `port` for `warmup` (not counted) and then `measure`, worker `w`
/// sending the requests of `requests(addr, w)`.
pub fn run<R: Requests>(
    port: u16,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
    requests: impl Fn(SocketAddr, usize) -> R,
) -> Result<Load> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let from = Instant::now() + warmup;
        let until = from + measure;
        let workers = (0..concurrency).map(|w| tokio::spawn(worker(addr, requests(addr, w), Tally::new(from, until))));
        gather(workers.collect(), measure).await
    })
}

/// What one worker counted of the measured window `from..until`: the latencies of the calls
/// that succeeded entirely within it, and how many others in it failed.
pub struct Tally {
    from: Instant,
    until: Instant,
    latencies: Vec<Duration>,
    errors: u64,
}

impl Tally {
    pub fn new(from: Instant, until: Instant) -> Tally {
        Tally { from, until, latencies: Vec::new(), errors: 0 }
    }

    /// Whether the window is over, so a call starting `now` would not count.
    pub fn over(&self, now: Instant) -> bool {
        now >= self.until
    }

    /// Counts a call that started at `start` and has just ended.
    pub fn record(&mut self, start: Instant, ok: bool) {
        let end = Instant::now();
        if start >= self.from && end <= self.until {
            if ok {
                self.latencies.push(end - start);
            } else {
                self.errors += 1;
            }
        }
    }
}

/// The workers' tallies together, as calls per second over `measure`.
pub async fn gather(workers: Vec<JoinHandle<Result<Tally>>>, measure: Duration) -> Result<Load> {
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let tally = w.await.context("load worker panicked")??;
        all.extend(tally.latencies);
        errors += tally.errors;
    }
    Ok(Load { per_second: all.len() as f64 / measure.as_secs_f64(), latency: Latencies::new(all), errors, cpu: None })
}

/// One keep-alive connection.
pub async fn connect(addr: SocketAddr) -> Result<SendRequest<Memory>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// One connection's loop; returns the latencies of the requests answered 200 entirely
/// within `from..until`, and how many others in that window were not 200. A server that
/// closes the connection after an answer (moto does after each one) gets a new connection
/// for the next request, as an SDK's pool would open one; the request's latency includes it.
async fn worker(addr: SocketAddr, mut requests: impl Requests, mut tally: Tally) -> Result<Tally> {
    let mut sender = connect(addr).await?;
    let mut reconnect = false;
    loop {
        let start = Instant::now();
        if tally.over(start) {
            return Ok(tally);
        }
        let request = requests.next()?;
        if reconnect || sender.ready().await.is_err() {
            sender = connect(addr).await?;
        }
        let response = sender.send_request(request).await?;
        let ok = response.status() == hyper::StatusCode::OK;
        reconnect = response.headers().get(CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        response.into_body().collect().await?;
        tally.record(start, ok);
    }
}
