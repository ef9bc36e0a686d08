//! Execution environments: each is one local process (the function's runtime) with its
//! own Runtime API endpoint, reused warm across invocations, started on demand up to the
//! function's reserved concurrency and the global limit, killed on timeout or when it
//! outgrows its memory size, and reclaimed when idle or when its function's code changes.

mod environment;
mod runtime_api;
mod runtimes;
mod sandbox;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use brume_auth::CredentialStore;
use brume_core::clients::{LogEvent, LogsClient};
use brume_core::{AwsError, Principal};
use bytes::Bytes;

use environment::{Environment, Sandboxed};
pub use sandbox::{Sandbox, bridge};

/// How the executor behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// The URL functions reach Brume at (`AWS_ENDPOINT_URL`).
    pub endpoint: String,
    /// Where environments keep their private directories (`/tmp`).
    pub work_dir: PathBuf,
    /// Environments busy at once across all functions (Lambda's account concurrency).
    pub concurrency: u32,
    /// How long an idle environment is kept warm.
    pub idle: Duration,
    /// Run runtimes under bubblewrap (`--sandbox`).
    pub sandbox: Option<Sandbox>,
}

/// What an execution environment is started from: one version of a function as it is now.
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    pub account: String,
    pub region: String,
    pub name: String,
    /// The unqualified function ARN.
    pub arn: String,
    /// `$LATEST` or a published version number.
    pub version: String,
    /// Changes whenever the code or configuration of this version changes: environments of
    /// an older revision are drained, never reused.
    pub revision: String,
    pub runtime: String,
    pub handler: String,
    /// The unpacked deployment package (`LAMBDA_TASK_ROOT`).
    pub code_dir: PathBuf,
    /// The unpacked layers, in the function's order (what Lambda puts under `/opt`).
    pub layer_dirs: Vec<PathBuf>,
    pub environment: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_mb: u32,
    /// The execution role's ARN: the environment gets temporary credentials for it.
    pub role: String,
    /// The function's reserved concurrency, if set (0 throttles every invocation).
    pub reserved_concurrency: Option<u32>,
    /// `/aws/lambda/NAME` unless the function's logging configuration names another.
    pub log_group: String,
}

/// One invocation, as the Runtime API hands it to the function.
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    /// The ARN the caller invoked (qualified when the caller named a version or alias).
    pub invoked_arn: String,
    /// The client context JSON (decoded from the caller's base64).
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub trace_id: Option<String>,
    /// Whether the caller asked for the log tail (`LogType: Tail`).
    pub tail_logs: bool,
}

/// How a function failed, as `X-Amz-Function-Error` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionError {
    /// The runtime reported the error (`/invocation/ID/error`).
    Handled,
    /// The environment failed: timeout, crash, out of memory, bad response.
    Unhandled,
}

impl FunctionError {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionError::Handled => "Handled",
            FunctionError::Unhandled => "Unhandled",
        }
    }
}

/// What an invocation produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The function's response, or the error JSON when it failed.
    pub payload: Bytes,
    pub function_error: Option<FunctionError>,
    /// The last 4 KB of the invocation's log, when asked for.
    pub log_tail: Option<String>,
}

/// The execution environments of every function.
pub struct Executor {
    config: Config,
    logs: Arc<dyn LogsClient>,
    credentials: Arc<CredentialStore>,
    runtimes: runtimes::Runtimes,
    installed: OnceLock<Result<Option<Arc<Sandboxed>>, String>>,
    pool: Arc<Mutex<Pool>>,
    /// Environments of one version starting at once: the machine's cores.
    parallel_starts: u32,
}

/// Environments by function version, and how many are busy.
#[derive(Default)]
struct Pool {
    idle: HashMap<String, Vec<Arc<Environment>>>,
    busy: u32,
    busy_by_function: HashMap<String, u32>,
    /// Environments of each version started and not yet through their first invocation.
    starting: HashMap<String, u32>,
    /// Woken (one waiter at a time) when an environment of the version becomes idle or a
    /// start ends.
    wakes: HashMap<String, Arc<tokio::sync::Notify>>,
}

impl Pool {
    fn wake(&mut self, key: &str) {
        if let Some(wake) = self.wakes.get(key) {
            wake.notify_one();
        }
    }
}

/// How an invocation got its environment.
enum Ready {
    Warm(Arc<Environment>),
    /// Started for it: the slot is given back once its first invocation is over.
    Started(Arc<Environment>, StartSlot),
}

/// One of a version's [`Executor::parallel_starts`], held from the start of an
/// environment to the end of its first invocation.
struct StartSlot {
    pool: Arc<Mutex<Pool>>,
    key: String,
}

impl Drop for StartSlot {
    fn drop(&mut self) {
        let mut pool = lock(&self.pool);
        if let Some(n) = pool.starting.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                pool.starting.remove(&self.key);
            }
        }
        pool.wake(&self.key);
    }
}

/// A claim on one unit of concurrency, given back when dropped (also when the caller
/// goes away mid-invocation).
struct Claim {
    pool: Arc<Mutex<Pool>>,
    function: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut pool = lock(&self.pool);
        pool.busy -= 1;
        if let Some(n) = pool.busy_by_function.get_mut(&self.function) {
            *n -= 1;
            if *n == 0 {
                pool.busy_by_function.remove(&self.function);
            }
        }
    }
}

fn lock(pool: &Mutex<Pool>) -> std::sync::MutexGuard<'_, Pool> {
    pool.lock().unwrap_or_else(|e| e.into_inner())
}

impl Executor {
    pub fn new(config: Config, logs: Arc<dyn LogsClient>, credentials: Arc<CredentialStore>) -> Executor {
        let runtimes = runtimes::Runtimes::new(config.work_dir.join("runtimes"));
        let parallel_starts = std::thread::available_parallelism().map_or(2, |n| n.get() as u32).max(2);
        Executor {
            config,
            logs,
            credentials,
            runtimes,
            installed: OnceLock::new(),
            pool: Arc::default(),
            parallel_starts,
        }
    }

    /// Runs `invocation` in a warm environment of `spec`, or a new one. Errors are AWS's
    /// for the caller (`TooManyRequestsException` beyond the concurrency limits); a
    /// function that fails still gives an [`Outcome`], with its error.
    pub async fn invoke(&self, spec: &FunctionSpec, mut invocation: Invocation) -> Result<Outcome, AwsError> {
        let (claim, warm) = self.claim(spec)?;
        let (environment, starting) = match warm {
            Some(environment) => (environment, None),
            None => match self.environment_or_start(spec).await {
                Ok(Ready::Warm(environment)) => (environment, None),
                Ok(Ready::Started(environment, slot)) => (environment, Some(slot)),
                Err(message) => {
                    tracing::warn!(function = %spec.arn, error = %message, "cannot start the runtime");
                    let doc = serde_json::json!({
                        "errorType": "Runtime.InvalidEntrypoint",
                        "errorMessage": format!("RequestId: {} Error: {message}", invocation.request_id),
                    });
                    return Ok(Outcome {
                        payload: doc.to_string().into(),
                        function_error: Some(FunctionError::Unhandled),
                        log_tail: None,
                    });
                }
            },
        };
        if invocation.trace_id.is_none() {
            invocation.trace_id = Some(trace_id());
        }
        let deadline_ms = environment::now_ms() as u64 + spec.timeout.as_millis() as u64;
        let (finished, lines) = environment.run(spec, invocation, deadline_ms).await;
        self.write_logs(spec, &environment.log_stream, lines);
        if finished.reusable && environment.alive() {
            *environment.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            let mut pool = lock(&self.pool);
            let key = environment.key.clone();
            pool.idle.entry(key.clone()).or_default().push(environment);
            pool.wake(&key);
        }
        drop(starting);
        drop(claim);
        Ok(finished.outcome)
    }

    /// Takes a unit of concurrency for `spec`'s function and a warm environment of its
    /// current revision if one is idle (idle ones of older revisions are stopped).
    fn claim(&self, spec: &FunctionSpec) -> Result<(Claim, Option<Arc<Environment>>), AwsError> {
        let mut pool = lock(&self.pool);
        let busy_here = pool.busy_by_function.get(&spec.arn).copied().unwrap_or(0);
        if spec.reserved_concurrency.is_some_and(|reserved| busy_here >= reserved) {
            return Err(crate::error::too_many_requests(
                "Rate Exceeded.",
                "ReservedFunctionConcurrentInvocationLimitExceeded",
            ));
        }
        if pool.busy >= self.config.concurrency {
            return Err(crate::error::too_many_requests("Rate Exceeded.", "ConcurrentInvocationLimitExceeded"));
        }
        pool.busy += 1;
        *pool.busy_by_function.entry(spec.arn.clone()).or_default() += 1;
        let key = format!("{}:{}", spec.arn, spec.version);
        let mut warm = None;
        if let Some(idle) = pool.idle.get_mut(&key) {
            idle.retain(|e| e.revision == spec.revision && e.alive());
            warm = idle.pop();
        }
        drop(pool);
        Ok((Claim { pool: self.pool.clone(), function: spec.arn.clone() }, warm))
    }

    /// A warm environment of `spec` that became idle, or a new one. At most
    /// [`Executor::parallel_starts`] environments of a version start at once: further
    /// invocations wait for one of them (or another) to be free rather than each starting
    /// its own, so a burst costs a few cold starts, not one per invocation.
    async fn environment_or_start(&self, spec: &FunctionSpec) -> Result<Ready, String> {
        let key = format!("{}:{}", spec.arn, spec.version);
        loop {
            let wake = {
                let mut pool = lock(&self.pool);
                if let Some(idle) = pool.idle.get_mut(&key) {
                    idle.retain(|e| e.revision == spec.revision && e.alive());
                    if let Some(environment) = idle.pop() {
                        return Ok(Ready::Warm(environment));
                    }
                }
                let starting = pool.starting.entry(key.clone()).or_default();
                if *starting < self.parallel_starts {
                    *starting += 1;
                    break;
                }
                pool.wakes.entry(key.clone()).or_default().clone()
            };
            // A wake that came before this wait left a permit: nothing is missed.
            wake.notified().await;
        }
        let slot = StartSlot { pool: self.pool.clone(), key };
        Ok(Ready::Started(Arc::new(self.start(spec).await?), slot))
    }

    async fn start(&self, spec: &FunctionSpec) -> Result<Environment, String> {
        let sandboxed = self.installed.get_or_init(|| self.install()).clone()?;
        let log_stream = log_stream_name(&spec.version);
        let role_name = spec.role.rsplit('/').next().unwrap_or("lambda").to_string();
        let principal = Principal::AssumedRole { role_name, session_name: spec.name.clone() };
        let expiration = SystemTime::now() + CREDENTIALS_LIFETIME;
        // Sessions are persisted with a blocking write: off the async workers, as STS does.
        let (store, account) = (self.credentials.clone(), spec.account.clone());
        let session = tokio::task::spawn_blocking(move || store.issue_session(&account, principal, expiration))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("issuing the role's credentials: {e}"))?;
        let credentials = (session.access_key_id, session.secret_access_key, session.session_token);
        let launch = self.runtimes.launch(spec, &self.config.endpoint, &log_stream, credentials)?;
        Environment::start(spec, launch, &self.config.work_dir, log_stream, sandboxed.as_deref()).await
    }

    /// Done once, at the first start: writes the runtime loops, starts the reaper and, in
    /// sandbox mode, the socket that leads sandboxes to Brume's endpoint (sweeping the
    /// socket directories of killed Brumes).
    fn install(&self) -> Result<Option<Arc<Sandboxed>>, String> {
        self.reap_idle();
        self.runtimes.install().map_err(|e| format!("installing the runtimes: {e}"))?;
        let Some(sandbox) = &self.config.sandbox else { return Ok(None) };
        let port = endpoint_port(&self.config.endpoint).ok_or("the endpoint has no port")?;
        let sockets = tempfile::Builder::new()
            .prefix(sandbox::SOCKETS_PREFIX)
            .rand_bytes(sandbox::SOCKETS_RANDOM)
            .tempdir()
            .map_err(|e| e.to_string())?;
        // A Brume killed with SIGKILL could not remove its directory: the next one does.
        let base = sockets.path().parent().unwrap_or(sockets.path());
        let swept = sandbox::sweep_stale_sockets(base, rustix::process::getuid().as_raw());
        if swept > 0 {
            tracing::info!(swept, "removed sandbox socket directories left by stopped Brumes");
        }
        let brume_socket = sockets.path().join(sandbox::ENDPOINT_SOCKET);
        let target = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
        // The task lives as long as the process: sandboxes may start at any time.
        drop(sandbox::serve_endpoint(&brume_socket, target).map_err(|e| format!("{}: {e}", brume_socket.display()))?);
        Ok(Some(Arc::new(Sandboxed {
            sandbox: sandbox.clone(),
            runtimes: self.runtimes.dir().to_path_buf(),
            sockets,
            brume_socket,
            brume_port: port,
        })))
    }

    /// Stops environments idle for longer than the configured time, in the background.
    fn reap_idle(&self) {
        let pool = Arc::downgrade(&self.pool);
        let idle = self.config.idle;
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(idle.clamp(Duration::from_millis(100), Duration::from_secs(30)));
            loop {
                ticks.tick().await;
                let Some(pool) = pool.upgrade() else { return };
                let stopped: Vec<Arc<Environment>> = {
                    let mut pool = lock(&pool);
                    let mut stopped = Vec::new();
                    for environments in pool.idle.values_mut() {
                        let (keep, stop) = environments.drain(..).partition(|e| {
                            e.alive() && e.last_used.lock().unwrap_or_else(|e| e.into_inner()).elapsed() < idle
                        });
                        *environments = keep;
                        stopped.extend(stop);
                    }
                    pool.idle.retain(|_, v| !v.is_empty());
                    stopped
                };
                drop(stopped);
            }
        });
    }

    /// Removes what the executor made outside its work directory: the sandboxes' socket
    /// directory. Called once Brume has stopped serving; the environments stop with the
    /// runtime's tasks, which own them.
    pub fn shutdown(&self) {
        if let Some(Ok(Some(sandboxed))) = self.installed.get()
            && let Err(e) = std::fs::remove_dir_all(sandboxed.sockets.path())
        {
            tracing::warn!(error = %e, "removing the sandbox socket directory");
        }
    }

    /// Stops every idle environment of function `arn` (its code or configuration changed,
    /// or it was deleted). Busy ones finish their invocation and are not reused.
    pub fn drain(&self, arn: &str) {
        let prefix = format!("{arn}:");
        let stopped: Vec<_> = {
            let mut pool = lock(&self.pool);
            let keys: Vec<String> = pool.idle.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
            keys.iter().filter_map(|k| pool.idle.remove(k)).flatten().collect()
        };
        drop(stopped);
    }

    fn write_logs(&self, spec: &FunctionSpec, stream: &str, lines: Vec<(i64, String)>) {
        let logs = self.logs.clone();
        let (account, region, group, stream) =
            (spec.account.clone(), spec.region.clone(), spec.log_group.clone(), stream.to_string());
        let events = lines.into_iter().map(|(timestamp_ms, message)| LogEvent { timestamp_ms, message }).collect();
        tokio::spawn(async move {
            if let Err(e) = logs.put_log_events(&account, &region, &group, &stream, events).await {
                tracing::warn!(group = %group, error = %e.message, "cannot write a function's log");
            }
        });
    }
}

/// The port of `http://host:port`.
fn endpoint_port(endpoint: &str) -> Option<u16> {
    endpoint.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

/// How long the role credentials an environment starts with stay valid.
const CREDENTIALS_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// `2024/01/31/[$LATEST]` and 32 hex digits, as Lambda names an environment's stream.
fn log_stream_name(version: &str) -> String {
    let today = time::OffsetDateTime::now_utc().date();
    let (year, month, day) = (today.year(), u8::from(today.month()), today.day());
    format!("{year}/{month:02}/{day:02}/[{version}]{}", uuid::Uuid::new_v4().simple())
}

/// An X-Ray trace header for an invocation the caller sent none for.
fn trace_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{now:08x}-{};Parent={};Sampled=0", &id[..24], &id[16..32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use brume_auth::MemorySessions;

    /// Log events as they were written, for assertions.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<(String, String, LogEvent)>>);

    #[async_trait::async_trait]
    impl LogsClient for Recorded {
        async fn put_log_events(
            &self,
            _: &str,
            _: &str,
            group: &str,
            stream: &str,
            events: Vec<LogEvent>,
        ) -> Result<(), AwsError> {
            let mut recorded = self.0.lock().unwrap();
            recorded.extend(events.into_iter().map(|e| (group.to_string(), stream.to_string(), e)));
            Ok(())
        }
    }

    fn executor(dir: &std::path::Path, concurrency: u32) -> (Executor, Arc<Recorded>) {
        let logs = Arc::new(Recorded::default());
        let credentials = Arc::new(CredentialStore::new("000000000000", Arc::new(MemorySessions::default())).unwrap());
        let config = Config {
            endpoint: "http://localhost:4566".into(),
            work_dir: dir.join("environments"),
            concurrency,
            idle: Duration::from_secs(60),
            sandbox: None,
        };
        (Executor::new(config, logs.clone(), credentials), logs)
    }

    fn python(dir: &std::path::Path, source: &str) -> FunctionSpec {
        let code = dir.join("code");
        std::fs::create_dir_all(&code).unwrap();
        std::fs::write(code.join("index.py"), source).unwrap();
        FunctionSpec {
            account: "000000000000".into(),
            region: "us-east-1".into(),
            name: "f".into(),
            arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            version: "$LATEST".into(),
            revision: "1".into(),
            runtime: "python3.12".into(),
            handler: "index.handler".into(),
            code_dir: code,
            layer_dirs: Vec::new(),
            environment: BTreeMap::from([("GREETING".to_string(), "hi".to_string())]),
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            role: "arn:aws:iam::000000000000:role/r".into(),
            reserved_concurrency: None,
            log_group: "/aws/lambda/f".into(),
        }
    }

    fn invocation(payload: &str) -> Invocation {
        Invocation {
            request_id: uuid::Uuid::new_v4().to_string(),
            payload: Bytes::from(payload.to_string()),
            invoked_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn python_handlers_run_warm_and_log() {
        let dir = tempfile::tempdir().unwrap();
        let (executor, logs) = executor(dir.path(), 10);
        let spec = python(
            dir.path(),
            "import os\ndef handler(event, context):\n    print('got', event['n'])\n    return {'n': event['n'] + 1, 'greeting': os.environ['GREETING'], 'fn': context.function_name}\n",
        );
        for n in 0..3 {
            let outcome = executor.invoke(&spec, invocation(&format!("{{\"n\": {n}}}"))).await.unwrap();
            assert_eq!(outcome.function_error, None);
            let body: serde_json::Value = serde_json::from_slice(&outcome.payload).unwrap();
            assert_eq!(body, serde_json::json!({"n": n + 1, "greeting": "hi", "fn": "f"}));
        }
        assert_eq!(lock(&executor.pool).idle.values().map(Vec::len).sum::<usize>(), 1, "one warm environment");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let recorded = logs.0.lock().unwrap();
        let lines: Vec<&str> = recorded.iter().map(|(_, _, e)| e.message.as_str()).collect();
        assert!(lines.contains(&"got 2"), "{lines:?}");
        assert_eq!(lines.iter().filter(|l| l.starts_with("START RequestId: ")).count(), 3, "{lines:?}");
        assert_eq!(lines.iter().filter(|l| l.contains("Init Duration")).count(), 1, "{lines:?}");
    }

    #[tokio::test]
    async fn errors_timeouts_and_exits_are_reported_as_lambda_does() {
        let dir = tempfile::tempdir().unwrap();
        let (executor, _) = executor(dir.path(), 10);
        let mut spec = python(
            dir.path(),
            "import time, os\ndef handler(event, context):\n    if event == 'fail': raise ValueError('bad input')\n    if event == 'sleep': time.sleep(5)\n    if event == 'exit': os._exit(3)\n    return 'ok'\n",
        );
        spec.timeout = Duration::from_secs(1);
        let failed = executor.invoke(&spec, invocation("\"fail\"")).await.unwrap();
        assert_eq!(failed.function_error, Some(FunctionError::Unhandled));
        let doc: serde_json::Value = serde_json::from_slice(&failed.payload).unwrap();
        assert_eq!((doc["errorType"].as_str(), doc["errorMessage"].as_str()), (Some("ValueError"), Some("bad input")));

        let slow = invocation("\"sleep\"");
        let id = slow.request_id.clone();
        let timed_out = executor.invoke(&spec, slow).await.unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&timed_out.payload).unwrap();
        assert_eq!(doc["errorType"], "Sandbox.Timedout");
        assert_eq!(doc["errorMessage"], format!("RequestId: {id} Error: Task timed out after 1.00 seconds"));

        let exited = executor.invoke(&spec, invocation("\"exit\"")).await.unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&exited.payload).unwrap();
        assert_eq!(doc["errorType"], "Runtime.ExitError");
        assert!(doc["errorMessage"].as_str().unwrap().ends_with("Runtime exited with error: exit status 3"), "{doc}");

        let ok = executor.invoke(&spec, invocation("\"again\"")).await.unwrap();
        assert_eq!(&ok.payload[..], b"\"ok\"");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_waits_for_environments_instead_of_starting_one_each() {
        let dir = tempfile::tempdir().unwrap();
        let (executor, _) = executor(dir.path(), 100);
        let executor = Arc::new(executor);
        let spec = python(dir.path(), "import os\ndef handler(event, context):\n    return os.getpid()\n");
        let burst: Vec<_> = (0..12)
            .map(|_| {
                let (executor, spec) = (executor.clone(), spec.clone());
                tokio::spawn(async move { executor.invoke(&spec, invocation("{}")).await.unwrap() })
            })
            .collect();
        let mut pids = std::collections::HashSet::new();
        for outcome in burst {
            let outcome = outcome.await.unwrap();
            assert_eq!(outcome.function_error, None);
            pids.insert(String::from_utf8(outcome.payload.to_vec()).unwrap());
        }
        // Each environment that finishes its first invocation serves a waiter warm.
        assert!(pids.len() < 12, "{} environments for 12 invocations", pids.len());
        assert!(lock(&executor.pool).starting.is_empty());
    }

    #[tokio::test]
    async fn concurrency_limits_throttle() {
        let dir = tempfile::tempdir().unwrap();
        let (executor, _) = executor(dir.path(), 10);
        let mut spec = python(dir.path(), "def handler(event, context):\n    return 1\n");
        spec.reserved_concurrency = Some(0);
        let err = executor.invoke(&spec, invocation("{}")).await.unwrap_err();
        assert_eq!((err.status, &*err.code), (429, "TooManyRequestsException"));
    }
}
