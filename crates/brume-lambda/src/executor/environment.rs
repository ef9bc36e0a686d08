//! One execution environment: the runtime process (in its own process group, with a clean
//! environment and a private temporary directory), its Runtime API endpoint, and the pipe
//! its stdout and stderr share, read into the function's log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustix::process::{Pid, Signal};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot, watch};

use super::runtime_api::{Job, Listener, RuntimeApi, RuntimeResult};
use super::sandbox::{self, Sandbox};
use super::{FunctionError, FunctionSpec, Invocation, Outcome};

/// How long a runtime may take to initialise before its first invocation fails, as on
/// Lambda (on-demand functions).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a running invocation's memory is checked against the function's size.
const MEMORY_CHECK: Duration = Duration::from_millis(20);

/// The largest log tail `LogType: Tail` returns.
const TAIL_BYTES: usize = 4096;

/// What one invocation left in the log, for the REPORT line and the caller.
pub(super) struct Finished {
    pub outcome: Outcome,
    /// Whether the environment can take another invocation.
    pub reusable: bool,
}

/// The identity of a running environment's process and what it is for.
pub(super) struct Environment {
    /// `ARN:VERSION` of the function version it runs.
    pub key: String,
    pub revision: String,
    jobs: mpsc::Sender<Job>,
    api: Arc<RuntimeApi>,
    server: tokio::task::JoinHandle<()>,
    pid: Pid,
    exited: watch::Receiver<Option<String>>,
    output: Arc<Output>,
    pub log_stream: String,
    started: Instant,
    initialised: Mutex<bool>,
    pub last_used: Mutex<Instant>,
    /// The environment's `/tmp`, removed with it.
    _tmp: tempfile::TempDir,
    /// A sandboxed environment's Runtime API socket directory.
    _sockets: Option<tempfile::TempDir>,
}

/// What a sandboxed environment is started with besides its own directories.
pub(super) struct Sandboxed {
    pub sandbox: Sandbox,
    pub runtimes: PathBuf,
    /// A short directory for the sockets (Unix socket paths are limited to 108 bytes).
    pub sockets: tempfile::TempDir,
    /// The Unix socket that leads to Brume's endpoint, and the port it answers on inside.
    pub brume_socket: PathBuf,
    pub brume_port: u16,
}

/// The environment variables, program and arguments a runtime starts with.
pub(super) struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl Environment {
    /// Starts the runtime of `spec`. `launch` is filled in with the Runtime API address
    /// and the private directory here; spawn failures are the invocation's error.
    pub async fn start(
        spec: &FunctionSpec,
        mut launch: Launch,
        work_dir: &Path,
        log_stream: String,
        sandbox: Option<&Sandboxed>,
    ) -> Result<Environment, String> {
        std::fs::create_dir_all(work_dir).map_err(|e| format!("creating {}: {e}", work_dir.display()))?;
        let tmp = tempfile::Builder::new().prefix("env-").tempdir_in(work_dir).map_err(|e| e.to_string())?;
        let mut sockets = None;
        let listener = match sandbox {
            None => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
                let address = listener.local_addr().map_err(|e| e.to_string())?;
                launch.env.insert("AWS_LAMBDA_RUNTIME_API".into(), address.to_string());
                launch.env.insert("TMPDIR".into(), tmp.path().display().to_string());
                Listener::Tcp(listener)
            }
            Some(sandboxed) => {
                // Socket paths must be short (108 bytes): the sockets live in a directory of
                // their own under the machine's temporary directory.
                let run = tempfile::Builder::new()
                    .prefix("")
                    .tempdir_in(sandboxed.sockets.path())
                    .map_err(|e| e.to_string())?;
                let private = tmp.path().to_path_buf();
                let socket = run.path().join(sandbox::RUNTIME_SOCKET);
                let listener =
                    tokio::net::UnixListener::bind(&socket).map_err(|e| format!("{}: {e}", socket.display()))?;
                let mounts = sandbox::Mounts {
                    code: &spec.code_dir,
                    layers: &spec.layer_dirs,
                    runtimes: &sandboxed.runtimes,
                    tmp: &private,
                    run: run.path(),
                    brume_socket: &sandboxed.brume_socket,
                    brume_port: sandboxed.brume_port,
                };
                launch = sandboxed.sandbox.wrap(launch, &mounts);
                sockets = Some(run);
                Listener::Unix(listener)
            }
        };

        let (sender, receiver) = pipe::pipe().map_err(|e| e.to_string())?;
        let writer = sender.into_blocking_fd().map_err(|e| e.to_string())?;
        let mut command = tokio::process::Command::new(&launch.program);
        command
            .args(&launch.args)
            .env_clear()
            .envs(&launch.env)
            .current_dir(&spec.code_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(writer))
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| format!("fork/exec {}: {}", launch.program.display(), e))?;
        drop(command);
        let pid = child.id().and_then(|id| Pid::from_raw(id as i32)).ok_or("the runtime exited at once")?;
        let (exit_tx, exited) = watch::channel(None);
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => describe_exit(status),
                Err(e) => e.to_string(),
            };
            let _ = exit_tx.send(Some(status));
        });
        let output = Output::start(receiver);
        let (jobs, queue) = mpsc::channel(1);
        let api = RuntimeApi::new(queue);
        let server = api.serve(listener);
        Ok(Environment {
            key: format!("{}:{}", spec.arn, spec.version),
            revision: spec.revision.clone(),
            jobs,
            api,
            server,
            pid,
            exited,
            output,
            log_stream,
            started: Instant::now(),
            initialised: Mutex::new(false),
            last_used: Mutex::new(Instant::now()),
            _tmp: tmp,
            _sockets: sockets,
        })
    }

    /// Whether the runtime process is still running.
    pub fn alive(&self) -> bool {
        self.exited.borrow().is_none()
    }

    /// Runs one invocation to its end: the runtime's response or error, a timeout, an
    /// exit, or the memory limit. The log lines it printed, framed by START/END/REPORT,
    /// are returned for the function's log stream.
    pub async fn run(
        &self,
        spec: &FunctionSpec,
        invocation: Invocation,
        deadline_ms: u64,
    ) -> (Finished, Vec<(i64, String)>) {
        let id = invocation.request_id.clone();
        let tail = invocation.tail_logs;
        let (picked_tx, picked) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        let job = Job { invocation, deadline_ms, picked: picked_tx, done: done_tx };
        let mut lines = Vec::new();
        let first = !*self.initialised.lock().unwrap_or_else(|e| e.into_inner());
        let mut init_duration = None;
        if self.jobs.try_send(job).is_err() {
            return (self.failed(&id, "Runtime.Unknown", "the environment is busy".into(), tail, lines), Vec::new());
        }
        let mut exited = self.exited.clone();
        if first {
            let init = async {
                tokio::select! {
                    taken = picked => taken.is_ok(),
                    _ = exited.wait_for(Option::is_some) => false,
                    () = self.api.init_failed.notified() => false,
                }
            };
            let taken = tokio::time::timeout(INIT_TIMEOUT, init).await.unwrap_or(false);
            init_duration = Some(self.started.elapsed());
            if !taken {
                lines.extend(self.output.drain());
                let (kind, message) = match self.api.init_error() {
                    Some(doc) => return self.init_failed(&id, doc, tail, lines),
                    None => match self.exit_status() {
                        Some(status) => ("Runtime.ExitError", format!("Runtime exited with error: {status}")),
                        None => ("Sandbox.Timedout", format!("Init timed out after {:.2} seconds", 10.0)),
                    },
                };
                self.kill();
                let mut finished = self.failed(&id, kind, message, tail, Vec::new());
                finished.reusable = false;
                return (finished, frame(spec, &id, lines, &self.usage(init_duration, Duration::ZERO)));
            }
            *self.initialised.lock().unwrap_or_else(|e| e.into_inner()) = true;
        }
        lines.extend(self.output.drain());
        let start_line = lines.len();
        let began = Instant::now();
        let memory_limit = u64::from(spec.memory_mb) * 1024 * 1024;
        let result = tokio::select! {
            result = done => result.ok(),
            _ = exited.wait_for(Option::is_some) => None,
            () = tokio::time::sleep(spec.timeout) => {
                self.kill();
                let timeout = spec.timeout.as_secs_f64();
                let mut lines = lines;
                lines.extend(self.output.drain());
                lines.push((now_ms(), format!("{} {id} Task timed out after {timeout:.2} seconds", brume_core::value::Timestamp::now().iso8601())));
                let message = format!("Task timed out after {timeout:.2} seconds");
                let mut finished = self.failed(&id, "Sandbox.Timedout", message, tail, Vec::new());
                finished.reusable = false;
                let usage = self.usage(init_duration, began.elapsed());
                let framed = frame_with_status(spec, &id, lines, &usage, start_line, Some("timeout"));
                finished.outcome.log_tail = tail.then(|| log_tail(&framed));
                return (finished, framed);
            }
            () = watch_memory(self.pid, memory_limit) => {
                self.kill();
                Some(RuntimeResult::Error(Bytes::new(), Some("Runtime.OutOfMemory".into())))
            }
        };
        let duration = began.elapsed();
        lines.extend(self.output.drain());
        let usage = self.usage(init_duration, duration);
        let (finished, status) = match result {
            Some(RuntimeResult::Response(body)) => {
                let outcome = Outcome { payload: body, function_error: None, log_tail: None };
                (Finished { outcome, reusable: true }, None)
            }
            Some(RuntimeResult::Error(_, Some(kind))) if kind == "Runtime.OutOfMemory" => {
                let message = "Runtime exited with error: signal: killed".to_string();
                (self.failed(&id, "Runtime.OutOfMemory", message, false, Vec::new()), Some("error"))
            }
            Some(RuntimeResult::Error(body, _)) => {
                let outcome = Outcome { payload: body, function_error: Some(FunctionError::Unhandled), log_tail: None };
                (Finished { outcome, reusable: true }, None)
            }
            Some(RuntimeResult::TooLarge) => {
                let message = format!(
                    "Response payload size exceeded maximum allowed payload size ({} bytes).",
                    super::runtime_api::MAX_RESPONSE
                );
                let doc = serde_json::json!({ "errorMessage": message, "errorType": "Function.ResponseSizeTooLarge" });
                let outcome = Outcome {
                    payload: doc.to_string().into(),
                    function_error: Some(FunctionError::Unhandled),
                    log_tail: None,
                };
                (Finished { outcome, reusable: true }, None)
            }
            None => {
                let status = self.exit_status().unwrap_or_else(|| "signal: killed".into());
                let message = format!("Runtime exited with error: {status}");
                (self.failed(&id, "Runtime.ExitError", message, false, Vec::new()), Some("error"))
            }
        };
        let mut finished = finished;
        if status.is_some() {
            finished.reusable = false;
            self.kill();
        }
        let framed = frame_with_status(spec, &id, lines, &usage, start_line, status);
        finished.outcome.log_tail = tail.then(|| log_tail(&framed));
        (finished, framed)
    }

    fn init_failed(
        &self,
        id: &str,
        doc: Bytes,
        tail: bool,
        lines: Vec<(i64, String)>,
    ) -> (Finished, Vec<(i64, String)>) {
        self.kill();
        let outcome = Outcome { payload: doc, function_error: Some(FunctionError::Unhandled), log_tail: None };
        let mut framed = lines;
        framed.push((
            now_ms(),
            format!("INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error", ms(self.started.elapsed())),
        ));
        framed.push((now_ms(), format!("END RequestId: {id}")));
        let mut finished = Finished { outcome, reusable: false };
        finished.outcome.log_tail = tail.then(|| log_tail(&framed));
        (finished, framed)
    }

    /// An environment failure, reported as Lambda's runtime reports it.
    fn failed(&self, id: &str, kind: &str, message: String, tail: bool, lines: Vec<(i64, String)>) -> Finished {
        let doc = serde_json::json!({ "errorType": kind, "errorMessage": format!("RequestId: {id} Error: {message}") });
        let outcome = Outcome {
            payload: doc.to_string().into(),
            function_error: Some(FunctionError::Unhandled),
            log_tail: tail.then(|| log_tail(&lines)),
        };
        Finished { outcome, reusable: false }
    }

    fn exit_status(&self) -> Option<String> {
        self.exited.borrow().clone()
    }

    fn usage(&self, init: Option<Duration>, duration: Duration) -> Usage {
        Usage { init, duration, max_memory_mb: peak_memory(self.pid).unwrap_or(0) / (1024 * 1024) }
    }

    /// Kills the runtime and whatever it started.
    pub fn kill(&self) {
        let _ = rustix::process::kill_process_group(self.pid, Signal::KILL);
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.kill();
        self.server.abort();
    }
}

struct Usage {
    init: Option<Duration>,
    duration: Duration,
    max_memory_mb: u64,
}

fn frame(spec: &FunctionSpec, id: &str, lines: Vec<(i64, String)>, usage: &Usage) -> Vec<(i64, String)> {
    let at = lines.len();
    frame_with_status(spec, id, lines, usage, at, Some("error"))
}

/// The invocation's lines between Lambda's START, END and REPORT lines; `start_at` is
/// where the invocation's own output begins (init output comes before START).
fn frame_with_status(
    spec: &FunctionSpec,
    id: &str,
    mut lines: Vec<(i64, String)>,
    usage: &Usage,
    start_at: usize,
    status: Option<&str>,
) -> Vec<(i64, String)> {
    let start_ms = lines.get(start_at).map_or_else(now_ms, |l| l.0);
    lines.insert(start_at, (start_ms, format!("START RequestId: {id} Version: {}", spec.version)));
    lines.push((now_ms(), format!("END RequestId: {id}")));
    let duration = ms(usage.duration);
    let mut report = format!(
        "REPORT RequestId: {id}\tDuration: {duration:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
        (duration.ceil() as u64).max(1),
        spec.memory_mb,
        usage.max_memory_mb,
    );
    if let Some(init) = usage.init {
        report.push_str(&format!("\tInit Duration: {:.2} ms", ms(init)));
    }
    if let Some(status) = status {
        report.push_str(&format!("\tStatus: {status}"));
    }
    lines.push((now_ms(), report));
    lines
}

fn log_tail(lines: &[(i64, String)]) -> String {
    let mut text = String::new();
    for (_, line) in lines {
        text.push_str(line);
        text.push('\n');
    }
    if text.len() <= TAIL_BYTES {
        return text;
    }
    let mut cut = text.len() - TAIL_BYTES;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    text[cut..].to_string()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as i64
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(9)) => "signal: killed".into(),
        (None, Some(signal)) => format!("signal: {signal}"),
        (None, None) => status.to_string(),
    }
}

/// Resolves when the process's resident memory exceeds `limit` bytes.
async fn watch_memory(pid: Pid, limit: u64) {
    let mut ticks = tokio::time::interval(MEMORY_CHECK);
    loop {
        ticks.tick().await;
        if tree(pid).into_iter().filter_map(|p| status_field(p, "VmRSS:")).sum::<u64>() > limit {
            return;
        }
    }
}

/// The peak resident memory of the process tree (each process's own peak, summed).
fn peak_memory(pid: Pid) -> Option<u64> {
    let peaks: Vec<u64> = tree(pid).into_iter().filter_map(|p| status_field(p, "VmHWM:")).collect();
    (!peaks.is_empty()).then(|| peaks.iter().sum())
}

/// `pid` and its descendants: a runtime may start processes (a sandbox always does).
fn tree(pid: Pid) -> Vec<Pid> {
    let mut all = vec![pid];
    let mut next = 0;
    while next < all.len() && all.len() < 64 {
        let parent = all[next].as_raw_nonzero();
        next += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else { continue };
        for task in tasks.flatten() {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(children.split_whitespace().filter_map(|c| Pid::from_raw(c.parse().ok()?)));
        }
    }
    all
}

/// A `kB` field of `/proc/PID/status`, in bytes.
fn status_field(pid: Pid, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.as_raw_nonzero())).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// The runtime's stdout and stderr (one pipe), split into timestamped lines. Reads happen
/// under the lock that guards the lines, so what [`Output::drain`] returns includes
/// everything the runtime wrote before it answered.
struct Output {
    pipe: pipe::Receiver,
    state: Mutex<Lines>,
}

#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    done: Vec<(i64, String)>,
    /// Bytes in `done`, and bytes dropped beyond [`MAX_BUFFERED`] since the last drain.
    buffered: usize,
    dropped: usize,
}

/// The longest event CloudWatch Logs takes (256 KiB less its 26 bytes of overhead):
/// longer lines are split, as Lambda splits them.
const MAX_EVENT: usize = 262_144 - 26;

/// The output one invocation may hold in Brume's memory; beyond it lines are counted and
/// dropped, so a function printing without end cannot exhaust Brume.
const MAX_BUFFERED: usize = 16 * 1024 * 1024;

impl Output {
    fn start(pipe: pipe::Receiver) -> Arc<Output> {
        let output = Arc::new(Output { pipe, state: Mutex::default() });
        let reader = Arc::downgrade(&output);
        tokio::spawn(async move {
            loop {
                let Some(output) = reader.upgrade() else { return };
                if output.pipe.readable().await.is_err() || !output.read_available() {
                    return;
                }
            }
        });
        output
    }

    /// Reads what the pipe holds now; false at the end of the output.
    fn read_available(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = [0u8; 8192];
        loop {
            match self.pipe.try_read(&mut buf) {
                Ok(0) => {
                    if !state.partial.is_empty() {
                        let rest = std::mem::take(&mut state.partial);
                        state.done.push((now_ms(), String::from_utf8_lossy(&rest).into_owned()));
                    }
                    return false;
                }
                Ok(n) => state.push(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }

    fn drain(&self) -> Vec<(i64, String)> {
        self.read_available();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.dropped > 0 {
            let note = format!(
                "[brume] {} bytes of output dropped: more than {} MiB in one invocation",
                state.dropped,
                MAX_BUFFERED >> 20
            );
            state.done.push((now_ms(), note));
        }
        state.buffered = 0;
        state.dropped = 0;
        std::mem::take(&mut state.done)
    }
}

impl Lines {
    fn push(&mut self, bytes: &[u8]) {
        let now = now_ms();
        self.partial.extend_from_slice(bytes);
        loop {
            let end = match self.partial.iter().position(|&b| b == b'\n') {
                Some(newline) if newline < MAX_EVENT => newline + 1,
                _ if self.partial.len() > MAX_EVENT => {
                    // Split at a character boundary.
                    let mut cut = MAX_EVENT;
                    while cut > 0 && self.partial[cut] & 0xC0 == 0x80 {
                        cut -= 1;
                    }
                    cut
                }
                _ => break,
            };
            let line: Vec<u8> = self.partial.drain(..end).collect();
            let text = String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']).to_string();
            if self.buffered + text.len() > MAX_BUFFERED {
                self.dropped += text.len();
                continue;
            }
            self.buffered += text.len();
            self.done.push((now, text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_splits_into_lines_of_at_most_one_log_event() {
        let mut lines = Lines::default();
        lines.push(b"one\r\ntw");
        lines.push(b"o\n");
        let long = "é".repeat(MAX_EVENT);
        lines.push(long.as_bytes());
        lines.push(b"\n");
        let texts: Vec<&str> = lines.done.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(&texts[..2], ["one", "two"]);
        assert!(texts[2..].iter().all(|t| t.len() <= MAX_EVENT && t.chars().all(|c| c == 'é')), "split on characters");
        assert_eq!(texts[2..].iter().map(|t| t.len()).sum::<usize>(), long.len());
    }

    #[test]
    fn output_beyond_the_cap_is_counted_not_kept() {
        let mut lines = Lines::default();
        let line = format!("{}\n", "x".repeat(100_000));
        for _ in 0..200 {
            lines.push(line.as_bytes());
        }
        let kept = MAX_BUFFERED / 100_000;
        assert_eq!(lines.done.len(), kept);
        assert_eq!(lines.dropped, (200 - kept) * 100_000);
    }
}
