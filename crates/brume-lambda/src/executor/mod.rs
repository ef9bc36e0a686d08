//! Execution environments: each is one local process (the function's runtime) with its
//! own Runtime API endpoint, reused warm across invocations, started on demand up to the
//! function's reserved concurrency and the global limit, killed on timeout or when it
//! outgrows its memory size, and reclaimed when idle or when its function's code changes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use brume_auth::CredentialStore;
use brume_core::AwsError;
use brume_core::clients::LogsClient;
use bytes::Bytes;

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
}

impl Executor {
    pub fn new(config: Config, logs: Arc<dyn LogsClient>, credentials: Arc<CredentialStore>) -> Executor {
        Executor { config, logs, credentials }
    }

    /// Runs `invocation` in a warm environment of `spec`, or a new one. Errors are AWS's
    /// for the caller (`TooManyRequestsException` beyond the concurrency limits); a
    /// function that fails still gives an [`Outcome`], with its error.
    pub async fn invoke(&self, spec: &FunctionSpec, invocation: Invocation) -> Result<Outcome, AwsError> {
        let _ = (&self.config, &self.logs, &self.credentials, spec, invocation);
        Err(AwsError::internal())
    }
}
