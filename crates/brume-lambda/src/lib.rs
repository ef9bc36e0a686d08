//! AWS Lambda (restJson1) for Brume. Functions run as local processes that speak the real
//! Lambda Runtime API, so a `provided.*` bootstrap, a Python handler or a Node.js handler
//! runs unchanged, and a cold start costs what starting the process costs.
//!
//! - [`function`], [`code`], [`version`], [`alias`], [`policy`], [`concurrency`],
//!   [`layer`], [`tags`], [`account`]: the control plane, records in the `lambda` keyspace
//!   ([`table`]), code packages in the blob store and unpacked once per code hash under the
//!   work directory; [`config`]: event invoke configurations.
//! - [`executor`]: execution environments (one process each, with its own Runtime API
//!   endpoint), warm reuse, concurrency limits, timeouts, memory limits, logs.
//! - [`invoke`]: the Invoke operation (RequestResponse, Event, DryRun).
//! - [`async_invoke`]: Event invocations queued durably in the outbox, retried, and sent to
//!   their destinations.
//! - [`esm`]: event source mappings that poll SQS queues and DynamoDB streams.
//! - [`url`]: function URLs and the HTTP endpoint that serves them.

mod account;
mod alias;
mod async_invoke;
mod client;
mod code;
mod concurrency;
mod config;
mod error;
mod esm;
pub mod executor;
mod function;
mod invoke;
mod layer;
mod policy;
mod table;
mod tags;
mod url;
mod version;

use std::path::PathBuf;
use std::sync::Arc;

use brume_auth::CredentialStore;
use brume_core::clients::{LogsClient, S3Client, SqsClient};
use brume_protocol::{Service, ServiceBuilder};
use brume_storage::{Blobs, Kv};

pub use async_invoke::{Events, Links};
pub use esm::start;
pub use function::CODE_VIEW;
pub use table::KEYSPACE;

/// What Lambda is built from.
pub struct Settings {
    /// Where code packages are unpacked and environments keep their `/tmp`.
    pub work_dir: PathBuf,
    /// The URL clients reach Brume at: functions get it as `AWS_ENDPOINT_URL`, and
    /// `GetFunction`'s `Code.Location` starts with it.
    pub endpoint: String,
    /// Environments busy at once across all functions, and how long idle ones are kept.
    pub concurrency: u32,
    pub idle: std::time::Duration,
    /// Run runtimes under bubblewrap.
    pub sandbox: Option<executor::Sandbox>,
}

/// Lambda's state: the store, the environments, and the clients of the services it
/// delivers to.
pub struct Lambda {
    kv: Arc<dyn Kv>,
    blobs: Arc<dyn Blobs>,
    settings: Settings,
    executor: executor::Executor,
    sqs: Arc<dyn SqsClient>,
    s3: Arc<dyn S3Client>,
    events: brume_events::Dispatcher,
    sns: Arc<dyn brume_core::clients::SnsClient>,
    streams: Arc<dyn brume_core::clients::DynamoDbStreamsClient>,
    pollers: esm::Pollers,
}

impl Lambda {
    /// What Brume does for Lambda when it stops: see [`executor::Executor::shutdown`].
    pub fn shutdown(&self) {
        self.executor.shutdown();
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kv: Arc<dyn Kv>,
        blobs: Arc<dyn Blobs>,
        settings: Settings,
        credentials: Arc<CredentialStore>,
        logs: Arc<dyn LogsClient>,
        sqs: Arc<dyn SqsClient>,
        s3: Arc<dyn S3Client>,
        links: Links,
    ) -> Arc<Lambda> {
        let config = executor::Config {
            endpoint: settings.endpoint.clone(),
            work_dir: settings.work_dir.join("environments"),
            concurrency: settings.concurrency,
            idle: settings.idle,
            sandbox: settings.sandbox.clone(),
        };
        let executor = executor::Executor::new(config, logs, credentials);
        let Links { events, sns, streams } = links;
        let pollers = esm::Pollers::default();
        Arc::new(Lambda { kv, blobs, settings, executor, sqs, s3, events, sns, streams, pollers })
    }
}

/// The Lambda service, ready for the gateway.
pub fn service(state: Arc<Lambda>) -> Service {
    let builder = ServiceBuilder::new("lambda", state);
    let builder = function::ops(builder);
    let builder = version::ops(builder);
    let builder = alias::ops(builder);
    let builder = policy::ops(builder);
    let builder = concurrency::ops(builder);
    let builder = config::ops(builder);
    let builder = layer::ops(builder);
    let builder = invoke::ops(builder);
    let builder = url::ops(builder);
    let builder = esm::ops(builder);
    builder.build()
}
