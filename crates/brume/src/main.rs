//! The `brume` command: `brume up` starts every service on one port. This crate only wires
//! the layers together; each lives in its own crate (see ARCHITECTURE.md).

#[cfg(test)]
mod compat;
mod deploy;
mod sdk;
mod services;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use brume_auth::{AuthMode, CredentialStore, MemorySessions, SessionPersistence, SystemClock, Verifier};
use brume_events::{Dispatcher, DispatcherConfig};
use brume_gateway::{Gateway, Settings};
use brume_storage::{Durability, Storage};

/// Requests allocate many small short-lived buffers (headers, decoded inputs, JSON trees);
/// mimalloc serves them in a fraction of glibc's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The stack of the runtime's threads. Parsers of request input recurse with its nesting
/// and bound it at what AWS accepts (DynamoDB's expressions: 600 levels); a debug build
/// needs ~7 KB of stack a level there, more than tokio's default 2 MiB holds. Untouched
/// stack pages cost no memory.
const THREAD_STACK: usize = 8 << 20;

#[derive(Parser)]
#[command(name = "brume", version, about = "The serverless side of AWS, on one machine, in one binary.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start Brume: every service on one HTTP port.
    Up(Up),
    /// Deploy a CloudFormation or SAM template to a running Brume: package local code into
    /// S3, create or update the stack through a change set, show its progress and outputs.
    Deploy(deploy::Deploy),
    /// Delete a stack from a running Brume.
    Destroy(deploy::Destroy),
    /// Runs inside a Lambda sandbox: forwards the runtime's loopback ports to Brume, then
    /// runs the runtime (started by Brume, not by hand).
    #[command(hide = true)]
    LambdaBridge {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Parser)]
struct Up {
    /// Address to listen on. Only this machine can reach the default.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 4566)]
    port: u16,
    /// Where state is kept.
    #[arg(long, env = "BRUME_DATA_DIR", default_value = ".brume")]
    data_dir: PathBuf,
    /// Keep all state in memory and forget it on exit.
    #[arg(long, conflicts_with = "data_dir")]
    ephemeral: bool,
    /// The region of requests whose signature names none.
    #[arg(long, default_value = brume_core::DEFAULT_REGION)]
    region: String,
    /// The account of the `test` access key.
    #[arg(long, default_value = brume_core::DEFAULT_ACCOUNT)]
    account: String,
    /// When an acknowledged write is on disk: `default` (in the OS at once, on disk within
    /// 200 ms; survives a crash of Brume) or `always` (on disk before the answer).
    #[arg(long, value_enum, default_value_t = Fsync::Default)]
    fsync: Fsync,
    /// `verify` checks every SigV4 signature; `open` accepts any access key unchecked.
    #[arg(long, value_enum, default_value_t = Auth::Verify)]
    auth: Auth,
    /// A file of further access keys: `ACCESS_KEY_ID SECRET ACCOUNT [USER]` per line.
    #[arg(long)]
    credentials: Option<PathBuf>,
    /// Lambda execution environments busy at once, across all functions.
    #[arg(long, env = "BRUME_LAMBDA_CONCURRENCY", default_value_t = 1000)]
    lambda_concurrency: u32,
    /// Seconds an idle Lambda execution environment is kept warm.
    #[arg(long, env = "BRUME_LAMBDA_IDLE_SECONDS", default_value_t = 600)]
    lambda_idle_seconds: u64,
    /// Run Lambda functions under bubblewrap (`bwrap` on PATH): a read-only view of the
    /// machine without Brume's data, a private /tmp, and no network but Brume's endpoint.
    #[arg(long)]
    sandbox: bool,
    /// Threads serving requests. By default one per CPU but one (at least one): the other
    /// is left to Brume's storage threads and to the clients on the same machine.
    #[arg(long, env = "BRUME_WORKERS", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Log lines as text for people or as JSON objects for machines.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Fsync {
    Default,
    Always,
}

#[derive(Clone, Copy, ValueEnum)]
enum Auth {
    Verify,
    Open,
}

fn main() -> Result<()> {
    let started = Instant::now();
    let cli = Cli::parse();
    match cli.command {
        Command::Up(up) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(up.workers.map_or_else(default_workers, usize::from))
                .thread_stack_size(THREAD_STACK)
                .enable_all()
                .build()?;
            runtime.block_on(run(up, started))
        }
        Command::Deploy(args) => client_runtime()?.block_on(async { std::process::exit(deploy::deploy(args).await) }),
        Command::Destroy(args) => client_runtime()?.block_on(async { std::process::exit(deploy::destroy(args).await) }),
        Command::LambdaBridge { args } => std::process::exit(brume_lambda::executor::bridge(&args)),
    }
}

/// One worker per CPU but one. Every write also runs on the storage writer thread, and on
/// a machine of few cores a worker more mostly costs wake-ups: on two cores, one worker
/// served GetItem at three quarters of the CPU per request that two did.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

async fn run(up: Up, started: Instant) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&up.log_level).context("invalid --log-level")?;
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match up.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }

    let durability = match up.fsync {
        Fsync::Default => Durability::Default,
        Fsync::Always => Durability::Always,
    };
    let storage = if up.ephemeral {
        Storage::in_memory()
    } else {
        brume_storage::open(&up.data_dir, durability)
            .with_context(|| format!("opening the data directory {}", up.data_dir.display()))?
    };

    let sessions: Arc<dyn SessionPersistence> = if up.ephemeral {
        Arc::new(MemorySessions::default())
    } else {
        Arc::new(brume_sts::KvSessions::new(storage.kv.clone(), tokio::runtime::Handle::current()))
    };
    let mut store =
        CredentialStore::new(up.account.clone(), sessions).map_err(|e| anyhow::anyhow!("loading sessions: {e}"))?;
    if let Some(path) = &up.credentials {
        store.load_credentials_file(path)?;
    }
    let credentials = Arc::new(store);
    let mode = match up.auth {
        Auth::Verify => AuthMode::Verify,
        Auth::Open => AuthMode::Open,
    };
    let verifier = Arc::new(Verifier::new(credentials.clone(), mode, Arc::new(SystemClock)));

    let settings = Settings { region: up.region.clone(), version: env!("CARGO_PKG_VERSION") };
    let mut gateway = Gateway::new(storage.clone(), verifier, settings);
    let addr: SocketAddr = format!("{}:{}", up.host, up.port)
        .parse()
        .or_else(|_| format!("[{}]:{}", up.host, up.port).parse())
        .with_context(|| format!("invalid --host {}", up.host))?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    // Loopback is reachable as `localhost`, the name the README and the SDKs use.
    let endpoint = if local.ip().is_loopback() || local.ip().is_unspecified() {
        format!("http://localhost:{}", local.port())
    } else {
        format!("http://{local}")
    };
    let dispatcher =
        Dispatcher::new(storage.kv.clone(), DispatcherConfig::default(), Arc::new(brume_events::SystemClock));
    // Unpacked Lambda code and the environments' private directories: beside the data, or
    // in a temporary directory removed on exit.
    let scratch = if up.ephemeral { Some(tempfile::tempdir().context("creating a work directory")?) } else { None };
    let work_dir = scratch.as_ref().map_or(up.data_dir.clone(), |t| t.path().to_path_buf());
    let sandbox = if up.sandbox {
        let bwrap = find_program("bwrap").context("--sandbox needs bubblewrap's `bwrap` on PATH")?;
        let hide = vec![std::path::absolute(&work_dir)?];
        Some(brume_lambda::executor::Sandbox { bwrap, bridge: std::env::current_exe()?, hide })
    } else {
        None
    };
    let limits = services::LambdaLimits {
        concurrency: up.lambda_concurrency,
        idle: std::time::Duration::from_secs(up.lambda_idle_seconds),
        sandbox,
    };
    let (sdk, lambda) =
        services::register(&mut gateway, &dispatcher, &storage, credentials, &endpoint, &work_dir, &limits);
    gateway.set_dispatcher(dispatcher.clone());
    // Every handler is registered: events pending from before a restart go out at once.
    dispatcher.run();
    let services = gateway.service_names().join(", ");
    let where_ = if up.ephemeral { "in memory".to_string() } else { format!("in {}", up.data_dir.display()) };
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    println!(
        "Brume {} listening on http://{} (state {where_}, {workers} worker{}, ready in {} ms)\nServices: {services}",
        env!("CARGO_PKG_VERSION"),
        local,
        if workers == 1 { "" } else { "s" },
        started.elapsed().as_millis()
    );

    let gateway = Arc::new(gateway);
    sdk.bind(&gateway);
    brume_gateway::serve(gateway, listener, shutdown_signal()).await?;
    dispatcher.shutdown().await;
    lambda.shutdown();
    storage.close().await.context("closing storage at shutdown")?;
    tracing::info!("stopped");
    Ok(())
}

/// The runtime of the commands that are clients of a running Brume.
fn client_runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// The first executable `name` on PATH.
fn find_program(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
