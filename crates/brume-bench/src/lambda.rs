//! Lambda figures over restJson1, as the SDKs call it: the cold start of a new function
//! (CreateFunction answered → first Invoke answered) for a Python handler and a Rust
//! `lambda_runtime` bootstrap, the latency of warm invocations of a no-op handler, and
//! 1,000 concurrent Event invocations counted as they complete.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::body::Memory;
use crate::load::connect;
use crate::sign::Signer;
use crate::stats::Latencies;

const ROLE: &str = "arn:aws:iam::000000000000:role/bench";

/// A Python handler that does nothing.
pub const PYTHON_NOOP: &str = "def handler(event, context):\n    return None\n";

/// A Python handler that appends the event's `id` to the file `$BENCH_OUT`, so that the
/// benchmark can count completed invocations.
pub const PYTHON_RECORD: &str = "import os\n\ndef handler(event, context):\n    with open(os.environ['BENCH_OUT'], 'a') as f:\n        f.write(event['id'] + '\\n')\n";

/// One signed restJson client on one keep-alive connection.
pub struct Client {
    addr: SocketAddr,
    signer: Signer,
    sender: Option<SendRequest<Memory>>,
}

impl Client {
    pub fn new(port: u16) -> Client {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        Client { addr, signer: Signer::for_service(addr.to_string(), "lambda"), sender: None }
    }

    async fn send(&mut self, path: &str, body: Bytes, headers: &[(&str, &str)]) -> Result<(StatusCode, Bytes)> {
        let hash = hex::encode(Sha256::digest(&body));
        let mut signed_headers = vec![("content-type", "application/json")];
        signed_headers.extend_from_slice(headers);
        let signed = self.signer.sign_request("POST", path, &hash, &signed_headers);
        let mut request = Request::post(path)
            .header(HOST, self.signer.host())
            .header(CONTENT_TYPE, "application/json")
            .header("x-amz-date", signed.amz_date)
            .header(AUTHORIZATION, signed.authorization);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Memory::whole(body))?;
        let mut sender = match self.sender.take() {
            Some(mut s) => match s.ready().await {
                Ok(()) => s,
                Err(_) => connect(self.addr).await?,
            },
            None => connect(self.addr).await?,
        };
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        self.sender = Some(sender);
        Ok((status, bytes))
    }

    /// CreateFunction with the zip `package` and the environment `variables`.
    pub async fn create_function(
        &mut self,
        name: &str,
        (runtime, handler): (&str, &str),
        package: &[u8],
        variables: Value,
    ) -> Result<()> {
        let input = json!({
            "Environment": { "Variables": variables },
            "FunctionName": name,
            "Runtime": runtime,
            "Handler": handler,
            "Role": ROLE,
            "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(package) },
            "Timeout": 30,
        });
        let (status, body) = self.send("/2015-03-31/functions", Bytes::from(input.to_string()), &[]).await?;
        if status != StatusCode::CREATED {
            bail!("CreateFunction {name} answered {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(())
    }

    /// Invoke, synchronously or as an Event; answers the status and the payload.
    pub async fn invoke(&mut self, name: &str, payload: &str, event: bool) -> Result<(StatusCode, Bytes)> {
        let path = format!("/2015-03-31/functions/{name}/invocations");
        let kind = if event { "Event" } else { "RequestResponse" };
        self.send(&path, Bytes::from(payload.to_string()), &[("x-amz-invocation-type", kind)]).await
    }
}

/// A zip holding `files` (executable when named `bootstrap`).
pub fn zip(files: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut out);
    for (name, content) in files {
        let mode = if *name == "bootstrap" { 0o755 } else { 0o644 };
        let options = zip::write::SimpleFileOptions::default().unix_permissions(mode);
        writer.start_file(*name, options)?;
        writer.write_all(content)?;
    }
    writer.finish()?;
    Ok(out.into_inner())
}

/// Cold starts: for each of `runs` new functions made from `package`, the time from the
/// CreateFunction answer to the first Invoke answer.
pub fn cold_starts(
    port: u16,
    prefix: &str,
    runtime: &str,
    handler: &str,
    package: &[u8],
    runs: usize,
) -> Result<Latencies> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let mut client = Client::new(port);
        let mut sample = Vec::with_capacity(runs);
        for i in 0..runs {
            let name = format!("{prefix}-{i}");
            client.create_function(&name, (runtime, handler), package, json!({})).await?;
            let started = Instant::now();
            let (status, body) = client.invoke(&name, "{}", false).await?;
            sample.push(started.elapsed());
            if status != StatusCode::OK {
                bail!("Invoke {name} answered {status}: {}", String::from_utf8_lossy(&body));
            }
        }
        Ok(Latencies::new(sample))
    })
}

/// Warm invocations of `name`, one at a time on one connection, after `warmup` of them.
pub fn warm_invokes(port: u16, name: &str, warmup: usize, count: usize) -> Result<Latencies> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let mut client = Client::new(port);
        let mut sample = Vec::with_capacity(count);
        for i in 0..warmup + count {
            let started = Instant::now();
            let (status, body) = client.invoke(name, "{}", false).await?;
            if i >= warmup {
                sample.push(started.elapsed());
            }
            if status != StatusCode::OK {
                bail!("Invoke {name} answered {status}: {}", String::from_utf8_lossy(&body));
            }
        }
        Ok(Latencies::new(sample))
    })
}

/// Sends `count` Event invocations of `name` from `callers` connections at once, each
/// with a distinct id, then waits (up to `patience`) until the function has recorded them
/// all in `out`. Answers the time from the first request to the last record, and how many
/// ids never arrived.
pub fn event_burst(
    port: u16,
    name: &str,
    out: &Path,
    count: usize,
    callers: usize,
    patience: Duration,
) -> Result<(Duration, usize)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let started = Instant::now();
        let tasks: Vec<_> = (0..callers)
            .map(|c| {
                let name = name.to_string();
                tokio::spawn(async move {
                    let mut client = Client::new(port);
                    let mut accepted = 0;
                    for i in (c..count).step_by(callers) {
                        let (status, _) = client.invoke(&name, &format!("{{\"id\": \"e{i}\"}}"), true).await?;
                        accepted += usize::from(status == StatusCode::ACCEPTED);
                    }
                    anyhow::Ok(accepted)
                })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            accepted += task.await.context("caller task")??;
        }
        if accepted != count {
            bail!("{} of {count} Event invocations were not accepted", count - accepted);
        }
        loop {
            let seen = std::fs::read_to_string(out).unwrap_or_default();
            let unique: std::collections::HashSet<&str> = seen.lines().collect();
            if unique.len() >= count || started.elapsed() > patience {
                return Ok((started.elapsed(), count - unique.len().min(count)));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
}

/// The median time to run `program args` to its exit, `runs` times: the floor under a
/// cold start (the process itself).
pub fn process_floor(program: &Path, args: &[&str], runs: usize) -> Result<Duration> {
    let mut sample = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        std::process::Command::new(program)
            .args(args)
            // The Rust bootstrap exits at once without a Runtime API; no backtrace to print.
            .env("RUST_BACKTRACE", "0")
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .with_context(|| format!("running {}", program.display()))?;
        sample.push(started.elapsed());
    }
    Ok(Latencies::new(sample).median())
}
