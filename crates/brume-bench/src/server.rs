//! The servers under test as child processes: Brume (`brume up`), the bare hyper server
//! (this binary with `--serve-bare`) and peers started from a command line (moto), how to
//! time their first answer, read their memory and stop them.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rustix::process::{Pid, Signal, kill_process};

use crate::sign::{GetCallerIdentity, sts};

/// Longest wait for a first answer before the run is declared failed.
const START_DEADLINE: Duration = Duration::from_secs(15);
/// The probe's retry interval: short, so that it adds at most about a millisecond.
const RETRY: Duration = Duration::from_millis(1);

/// Which server to run.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    Brume {
        exe: &'a Path,
        data_dir: &'a Path,
    },
    Bare,
    /// A shell command line in which `{port}` stands for the port to listen on. It runs as
    /// `sh -c "exec LINE"` so that the server itself, not a shell, is the child to stop.
    Command {
        line: &'a str,
    },
}

/// A server process that is stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// Starts `target` on a free port and returns it with the time from spawn to its first
    /// successful signed `GetCallerIdentity`.
    pub fn start(target: Target) -> Result<(Server, Duration)> {
        Server::start_answering(target, |addr| sts(addr.to_string()).raw_request())
    }

    /// Starts `target` on a free port and returns it with the time from spawn to the first
    /// 200 answer to `request(addr)`: the raw bytes of one request asking for the
    /// connection to be closed, sent on a fresh connection per attempt.
    pub fn start_answering(target: Target, request: impl FnOnce(SocketAddr) -> Vec<u8>) -> Result<(Server, Duration)> {
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        // Signed before the clock starts: a signature stays valid for 15 minutes.
        let request = request(addr);
        let mut command = match target {
            Target::Brume { exe, data_dir } => {
                let mut c = Command::new(exe);
                c.arg("up")
                    .arg("--port")
                    .arg(port.to_string())
                    .arg("--data-dir")
                    .arg(data_dir)
                    .args(["--log-level", "warn"]);
                c
            }
            Target::Bare => {
                let mut c = Command::new(std::env::current_exe()?);
                c.arg("--serve-bare").arg(port.to_string());
                c
            }
            Target::Command { line } => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("exec {}", line.replace("{port}", &port.to_string())));
                // Peers such as moto log every request to stderr; run the command by hand to
                // see why it fails to start.
                c.stderr(Stdio::null());
                c
            }
        };
        command.stdin(Stdio::null()).stdout(Stdio::null());
        let started = Instant::now();
        let child = command.spawn().with_context(|| format!("spawning {:?}", command.get_program()))?;
        let mut server = Server { child, port };
        loop {
            if probe(addr, &request) {
                return Ok((server, started.elapsed()));
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("{:?} exited before answering: {status}", command.get_program());
            }
            if started.elapsed() > START_DEADLINE {
                bail!("{:?} did not answer within {START_DEADLINE:?}", command.get_program());
            }
            std::thread::sleep(RETRY);
        }
    }

    /// The resident set size in bytes, from `/proc/PID/status`.
    pub fn rss_bytes(&self) -> Result<u64> {
        self.status_bytes("VmRSS")
    }

    /// The highest resident set size since the process started, in bytes.
    pub fn peak_rss_bytes(&self) -> Result<u64> {
        self.status_bytes("VmHWM")
    }

    /// The CPU time the process has used so far, user and system, its ended threads
    /// included (`/proc/PID/stat`, in clock ticks).
    pub fn cpu_time(&self) -> Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // The fields after the command name, which is in parentheses and may hold spaces;
        // utime and stime are the 14th and 15th fields of the line.
        let fields: Vec<&str> =
            stat.rsplit_once(')').context("no command name in /proc/PID/stat")?.1.split_whitespace().collect();
        let ticks = |i: usize| -> Result<u64> { Ok(fields.get(i).context("short /proc/PID/stat")?.parse()?) };
        let total = ticks(11)? + ticks(12)?;
        Ok(Duration::from_secs_f64(total as f64 / rustix::param::clock_ticks_per_second() as f64))
    }

    fn status_bytes(&self, field: &str) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .with_context(|| format!("no {field} line in /proc/PID/status"))?
            .trim()
            .parse::<u64>()?;
        Ok(kib * 1024)
    }

    /// Sends `n` signed requests, one connection each, failing unless each is answered 200.
    pub fn warm(&self, n: usize) -> Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut signer = sts(addr.to_string());
        for _ in 0..n {
            if !probe(addr, &signer.raw_request()) {
                bail!("a signed GetCallerIdentity was not answered 200");
            }
        }
        Ok(())
    }
}

impl Drop for Server {
    /// SIGTERM first so that Brume shuts down gracefully (and leaves its data directory as
    /// a clean stop does); SIGKILL if it takes more than five seconds.
    fn drop(&mut self) {
        let pid = Pid::from_child(&self.child);
        if kill_process(pid, Signal::TERM).is_ok() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on now. Another process could take it before the server binds it;
/// on loopback with ephemeral ports that is rare enough for a benchmark.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// One attempt: connect, send the request, read until the server closes; true on a 200.
fn probe(addr: SocketAddr, request: &[u8]) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut answer = Vec::new();
    stream.write_all(request).is_ok() && stream.read_to_end(&mut answer).is_ok() && answer.starts_with(b"HTTP/1.1 200")
}
