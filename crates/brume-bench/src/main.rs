//! `brume-bench`: measures a release build of Brume against references taken in the same
//! run on the same machine, so that the figures mean something on a noisy, shared host.
//!
//! - **startup**: spawn `brume up` to its first answered signed `GetCallerIdentity`, with an
//!   empty data directory and with ~1 GiB of KV data; reference: a bare hyper server.
//! - **memory**: resident memory when idle after a few requests; reference: the same bare
//!   server.
//! - **http**: signed `GetCallerIdentity` throughput and latency at concurrency 1 and 32;
//!   reference (ceiling): the same load generator against the bare server.
//! - **kv**: durable transactions per second with 32 writers at both durability levels;
//!   reference: the disk's synchronous 4 KiB write rate.
//! - **s3**: 256 MiB PutObject/GetObject throughput and Brume's peak memory meanwhile;
//!   references: the disk's sequential write rate and the same transfers to the bare
//!   server. 1 KiB PutObject/GetObject at concurrency 32; references: the bare server
//!   (ceiling) and, with `--moto`, moto's server (the peer).
//! - **sqs**: SendMessage + ReceiveMessage + DeleteMessage round trips at concurrency 32;
//!   references: the bare server's request rate (ceiling) and, with `--moto`, moto's round
//!   trips; and how soon a long poll answers after a message arrives.
//! - **dynamodb**: GetItem and PutItem of ~200-byte items at concurrency 32 and a Query
//!   answering 100 items; references: the bare server's request rate (ceiling) and, with
//!   `--moto`, moto's; and on a table of `--ddb-items` items, restart to the first answered
//!   GetItem and the Query's latency, against the same on a small table.
//! - **sns**: Publish at concurrency 32 to a topic with one SQS subscription; references:
//!   the bare server's request rate (ceiling) and, with `--moto`, moto's publishes; and the
//!   time from a Publish to its message answering a long poll on the subscribed queue.
//!
//! - **lambda**: cold starts (CreateFunction answered → first Invoke answered) of a Python
//!   handler and of a Rust `lambda_runtime` bootstrap (tests/fixtures/rust-function, built
//!   with cargo), references: the interpreter's and the binary's own start-to-exit time;
//!   warm no-op invocations at concurrency 1, reference: the bare server's request latency;
//!   1,000 Event invocations sent at once, counted as the function records them.
//! - **stepfunctions**: state transitions per second of an EXPRESS execution looping
//!   through Pass and Choice states (StartSyncExecution), without and with logging to
//!   CloudWatch Logs, and of 16 STANDARD executions saving every transition durably;
//!   an inline Map over 100,000 items (MaxConcurrency 100) each invoking a no-op Python
//!   function, checked by its history's last event; reference: the bare server's request
//!   rate at concurrency 1.
//!
//! Timings are reported, never asserted: this binary is a measuring tool, not a test.

mod bare;
mod body;
mod dynamodb;
mod json;
mod kv;
mod lambda;
mod load;
mod report;
mod s3;
mod server;
mod sign;
mod sns;
mod sqs;
mod stats;
mod stepfunctions;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use brume_storage::Durability;
use clap::{Parser, ValueEnum};
use hyper::Method;

use report::{Goal, Report, Row};
use server::{Server, Target};
use stats::Latencies;

/// Brume's allocator: the KV figures run brume-storage in this process, and should see it
/// as Brume runs it; the bare reference server (this binary too) then allocates as Brume does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "brume-bench", about = "Measures a release build of Brume against references taken in the same run.")]
struct Cli {
    /// The Brume binary to measure; build it first with `cargo build --release -p brume`.
    #[arg(long, default_value = "target/release/brume")]
    brume: PathBuf,
    /// Run one benchmark only.
    #[arg(long, value_enum)]
    only: Option<Which>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Start-up runs per configuration (median and minimum are reported).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Measured seconds per load run, each after a one-second warm-up.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// MiB of KV data in the data directory of the populated start-up figures.
    #[arg(long, default_value_t = 1024)]
    data_mib: u64,
    /// Where temporary data directories go; the sync-write reference measures this disk.
    #[arg(long)]
    scratch: Option<PathBuf>,
    /// Items in the large DynamoDB table (loaded with BatchWriteItem into a fresh data dir).
    #[arg(long, default_value_t = 1_000_000)]
    ddb_items: usize,
    /// Command line starting moto's server for the S3 comparison, `{port}` standing for the
    /// port, e.g. ".venv/bin/moto_server -p {port}".
    #[arg(long)]
    moto: Option<String>,
    /// Serve the bare reference server on this port (how the bench starts its child).
    #[arg(long, hide = true)]
    serve_bare: Option<u16>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Startup,
    Memory,
    Http,
    Kv,
    S3,
    Sqs,
    Sns,
    Dynamodb,
    Lambda,
    Stepfunctions,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(port) = cli.serve_bare {
        return bare::serve(port);
    }
    if !cli.brume.is_file() {
        anyhow::bail!(
            "no Brume binary at {} (build it with `cargo build --release -p brume`, or pass --brume)",
            cli.brume.display()
        );
    }
    let scratch = tempfile::Builder::new()
        .prefix("brume-bench-")
        .tempdir_in(cli.scratch.clone().unwrap_or_else(std::env::temp_dir))?;
    let mut bench = Bench { cli, scratch, dirs: 0, populated: None, report: Report::default() };
    bench.run()?;
    if bench.cli.json {
        println!("{}", bench.report.json());
    } else {
        print!("{}", bench.report.table());
    }
    Ok(())
}

struct Bench {
    cli: Cli,
    scratch: tempfile::TempDir,
    /// Data directories handed out so far (each gets a fresh name).
    dirs: usize,
    /// The populated (by default 1 GiB) data directory, filled the first time a benchmark needs it.
    populated: Option<PathBuf>,
    report: Report,
}

const BARE: &str = "bare hyper";

impl Bench {
    fn run(&mut self) -> Result<()> {
        self.report.notes.push(format!(
            "Brume binary {}; {} CPUs shared by the servers and the load generator; scratch {}",
            self.cli.brume.display(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.scratch.path().display()
        ));
        if self.wants(Which::Startup) {
            self.startup().context("start-up benchmark")?;
        }
        if self.wants(Which::Memory) {
            self.memory().context("memory benchmark")?;
        }
        if self.wants(Which::Http) {
            self.http().context("HTTP benchmark")?;
        }
        if self.wants(Which::Kv) {
            self.kv().context("KV benchmark")?;
        }
        if self.wants(Which::S3) {
            self.s3().context("S3 benchmark")?;
        }
        if self.wants(Which::Sqs) {
            self.sqs().context("SQS benchmark")?;
        }
        if self.wants(Which::Sns) {
            self.sns().context("SNS benchmark")?;
        }
        if self.wants(Which::Lambda) {
            self.lambda().context("Lambda benchmark")?;
        }
        if self.wants(Which::Stepfunctions) {
            self.stepfunctions().context("Step Functions benchmark")?;
        }
        if self.wants(Which::Dynamodb) {
            self.dynamodb().context("DynamoDB benchmark")?;
        }
        Ok(())
    }

    fn wants(&self, which: Which) -> bool {
        self.cli.only.is_none_or(|only| only == which)
    }

    fn fresh_dir(&mut self) -> PathBuf {
        self.dirs += 1;
        self.scratch.path().join(format!("data-{}", self.dirs))
    }

    fn populated_dir(&mut self) -> Result<PathBuf> {
        if let Some(dir) = &self.populated {
            return Ok(dir.clone());
        }
        let dir = self.fresh_dir();
        progress(&format!("writing {} MiB of KV data", self.cli.data_mib));
        let p = kv::populate(&dir, self.cli.data_mib << 20)?;
        self.report.notes.push(format!(
            "populated data dir: {} keys x {} B incompressible values (8-byte sequential keys) in {} \
             transactions of 4 MiB, Durability::Default, written in {:.1} s; {:.0} MiB on disk",
            p.keys,
            p.value_bytes,
            p.transactions,
            p.took.as_secs_f64(),
            p.on_disk as f64 / f64::from(1 << 20)
        ));
        self.populated = Some(dir.clone());
        Ok(dir)
    }

    /// Runs of the three configurations are interleaved so that a burst of noise on the
    /// host hits all of them alike.
    fn startup(&mut self) -> Result<()> {
        let populated = self.populated_dir()?;
        progress(&format!("start to first answer, {} runs each", self.cli.runs));
        let (mut bare, mut empty, mut full) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..self.cli.runs {
            bare.push(Server::start(Target::Bare)?.1);
            let dir = self.fresh_dir();
            let exe = &self.cli.brume;
            empty.push(Server::start(Target::Brume { exe, data_dir: &dir })?.1);
            full.push(Server::start(Target::Brume { exe, data_dir: &populated })?.1);
        }
        let bare = Latencies::new(bare);
        let reference = (format!("{BARE}, median"), ms(bare.median()));
        let full_dir = format!("{} MiB data dir", self.cli.data_mib);
        for (what, sample, limit) in [("empty data dir", empty, 20.0), (full_dir.as_str(), full, 200.0)] {
            let sample = Latencies::new(sample);
            self.report.rows.push(Row::new(
                format!("start to first answer, {what} (median)"),
                (ms(sample.median()), "ms"),
                format!("min {:.1} ms (ref min {:.1} ms)", ms(sample.min()), ms(bare.min())),
                reference.clone(),
                Goal::Below(limit),
            ));
        }
        self.report.notes.push(format!(
            "start-up: {} runs per configuration; the clock runs from spawn until a signed \
             GetCallerIdentity is answered 200 (probed on a fresh connection every ~1 ms); \
             each empty-dir run gets a new data dir; servers are stopped with SIGTERM between runs",
            self.cli.runs
        ));
        Ok(())
    }

    fn memory(&mut self) -> Result<()> {
        progress("idle resident memory");
        let bare = idle_rss(Target::Bare)?;
        let dir = self.fresh_dir();
        let empty = idle_rss(Target::Brume { exe: &self.cli.brume, data_dir: &dir })?;
        let populated = self.populated_dir()?;
        let full = idle_rss(Target::Brume { exe: &self.cli.brume, data_dir: &populated })?;
        let full_dir = format!("{} MiB data dir", self.cli.data_mib);
        for (what, value, goal) in [("empty data dir", empty, Goal::Below(15.0)), (full_dir.as_str(), full, Goal::None)]
        {
            self.report.rows.push(Row::new(format!("idle RSS, {what}"), (value, "MB"), "", (BARE, bare), goal));
        }
        self.report.notes.push(
            "memory: VmRSS (1 MB = 10^6 bytes) after start, 10 signed GetCallerIdentity calls \
             and 1 s idle"
                .to_string(),
        );
        Ok(())
    }

    fn http(&mut self) -> Result<()> {
        let dir = self.fresh_dir();
        let (brume, _) = Server::start(Target::Brume { exe: &self.cli.brume, data_dir: &dir })?;
        let (bare, _) = Server::start(Target::Bare)?;
        let warmup = Duration::from_secs(1);
        let measure = Duration::from_secs(self.cli.seconds);
        for (concurrency, goal) in [(1, Goal::None), (32, Goal::RatioAtLeast(0.6))] {
            progress(&format!("signed requests at concurrency {concurrency}"));
            let (ceiling, got) = load::alternating(
                warmup,
                measure,
                (&bare, |w, m| load::run(bare.port, concurrency, w, m, load::CallerIdentity::new)),
                (&brume, |w, m| load::run(brume.port, concurrency, w, m, load::CallerIdentity::new)),
            )?;
            let c = format!("c={concurrency}");
            let p = |l: &Latencies, q| us(l.percentile(q));
            self.report.rows.push(Row::new(
                format!("GetCallerIdentity req/s, {c}"),
                (got.per_second, "req/s"),
                format!("{} non-200", got.errors),
                (BARE, ceiling.per_second),
                goal,
            ));
            self.report.rows.extend(cpu_row(&format!("GetCallerIdentity, {c}"), &ceiling, &got));
            for q in [50.0, 99.0] {
                self.report.rows.push(Row::new(
                    format!("GetCallerIdentity p{q:.0} latency, {c}"),
                    (p(&got.latency, q), "us"),
                    "",
                    (BARE, p(&ceiling.latency, q)),
                    Goal::None,
                ));
            }
            if ceiling.errors > 0 {
                anyhow::bail!("the bare server answered {} requests with non-200", ceiling.errors);
            }
        }
        self.report.notes.push(format!(
            "http: one keep-alive HTTP/1.1 connection per worker, all workers on one current-thread \
             tokio runtime in the bench process; every request is SigV4-signed when sent (signing \
             key cached per day); bare and Brume measured in {} alternating turns of \
             {}s/{} each after a 1 s warm-up, at each concurrency; Brume runs with --log-level warn; \
             in these and the other loads against bare hyper, each server's CPU time (user + \
             system, from /proc in 10 ms ticks) is read over its measured windows, and the \
             figure's CPU per request is that time over the requests answered 200",
            load::TURNS,
            self.cli.seconds,
            load::TURNS
        ));
        Ok(())
    }

    fn kv(&mut self) -> Result<()> {
        progress("synchronous 4 KiB write rate of the scratch disk");
        let sync = kv::sync_write_rate(self.scratch.path(), Duration::from_secs(2))?;
        let reference = ("write+fdatasync 4 KiB", sync);
        for (name, durability, goal) in [("always", Durability::Always, 10.0), ("default", Durability::Default, 50.0)] {
            progress(&format!("KV transactions, Durability::{durability:?}"));
            let dir = self.fresh_dir();
            let r = kv::txn_rate(&dir, durability, 32, Duration::from_millis(500), Duration::from_secs(3))?;
            self.report.rows.push(Row::new(
                format!("KV txn/s, 32 writers, fsync {name}"),
                (r.per_second, "txn/s"),
                format!("p50 {:.2} ms, p99 {:.2} ms", ms(r.latency.median()), ms(r.latency.percentile(99.0))),
                reference,
                Goal::RatioAtLeast(goal),
            ));
        }
        self.report.notes.push(
            "kv: reference appends 4 KiB + fdatasync to a new file for 2 s; each writer commits \
             one put of 100-4096 B per transaction back to back, 3 s measured after 0.5 s, on a \
             2-worker tokio runtime in the bench process (brume-storage linked in, no HTTP)"
                .to_string(),
        );
        Ok(())
    }

    fn s3(&mut self) -> Result<()> {
        const RUNS: usize = 3;
        let dir = self.fresh_dir();
        let (brume, _) = Server::start(Target::Brume { exe: &self.cli.brume, data_dir: &dir })?;
        let (bare, _) = Server::start(Target::Bare)?;
        progress(&format!("generating {} MiB of object data and its SHA-256", s3::LARGE >> 20));
        let large = s3::Large::new();
        s3::create_bucket(brume.port)?;
        let path = format!("/{}/big", s3::BUCKET);
        let (mut disk, mut bare_put, mut bare_get, mut put, mut get) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut bare_get_cpu, mut get_cpu) = (vec![], vec![]);
        // The bare server makes its large object on the first GET: untimed, so that the first
        // reference run is not charged for faulting in 256 MiB.
        s3::get_large(bare.port, "/big")?;
        // Interleaved, so that a burst of noise on the host hits every figure alike.
        for run in 1..=RUNS {
            progress(&format!("{} MiB transfers, run {run} of {RUNS}", s3::LARGE >> 20));
            disk.push(kv::sequential_write_rate(self.scratch.path(), s3::LARGE)? / 1e6);
            bare_put.push(s3::put_large(bare.port, "/big", &large)?);
            put.push(s3::put_large(brume.port, &path, &large)?);
            let (rate, cpu) = with_cpu(&bare, || s3::get_large(bare.port, "/big"))?;
            bare_get.push(rate);
            bare_get_cpu.push(cpu);
            let (rate, cpu) = with_cpu(&brume, || s3::get_large(brume.port, &path))?;
            get.push(rate);
            get_cpu.push(cpu);
        }
        let peak = brume.peak_rss_bytes()? as f64 / 1e6;
        // 256 MiB the small-object loads do not need, on a machine shared with the servers.
        drop(large);
        let runs = |sample: &[f64]| sample.iter().map(|v| report::num(*v)).collect::<Vec<_>>().join(", ");
        let (disk_rate, bare_put_rate) = (stats::median(disk.clone()), stats::median(bare_put.clone()));
        let (floor, floor_name) = if disk_rate < bare_put_rate {
            (disk_rate, "disk write: 1 MiB writes + fdatasync")
        } else {
            (bare_put_rate, "bare hyper PUT")
        };
        self.report.rows.push(Row::new(
            "S3 PutObject 256 MiB, signed payload",
            (stats::median(put.clone()), "MB/s"),
            format!(
                "runs {}; disk write {} ({}), bare PUT {} ({})",
                runs(&put),
                report::num(disk_rate),
                runs(&disk),
                report::num(bare_put_rate),
                runs(&bare_put)
            ),
            (floor_name, floor),
            Goal::RatioAtLeast(0.4),
        ));
        self.report.rows.push(Row::new(
            "S3 GetObject 256 MiB",
            (stats::median(get.clone()), "MB/s"),
            format!("runs {}; ref runs {}", runs(&get), runs(&bare_get)),
            ("bare hyper GET", stats::median(bare_get)),
            Goal::RatioAtLeast(0.7),
        ));
        self.report.rows.push(Row::new(
            "S3 GetObject 256 MiB, server CPU time",
            (stats::median(get_cpu.clone()), "ms"),
            format!("runs {}; ref runs {}", runs(&get_cpu), runs(&bare_get_cpu)),
            ("bare hyper GET", stats::median(bare_get_cpu)),
            Goal::None,
        ));
        self.report.rows.push(Row::new(
            "Brume peak RSS over the 256 MiB transfers",
            (peak, "MB"),
            "VmHWM",
            ("object size", s3::LARGE as f64 / 1e6),
            Goal::Below(64.0),
        ));
        self.small_objects(&brume, &bare)?;
        self.report.notes.push(format!(
            "s3: path-style requests, SigV4 with the payload's SHA-256 in x-amz-content-sha256 \
             (hashed before the clock starts); 256 MiB bodies streamed from memory in 1 MiB \
             frames, one fresh connection per transfer, timed from sending the head to the last \
             byte of the answer; after one untimed bare GET, {RUNS} interleaved runs of disk \
             write, bare PUT, Brume PUT, bare GET, Brume GET, medians reported (MB = 10^6 \
             bytes); the PUT target is against the lower of the disk write and bare PUT rates; \
             the servers' CPU time (user + system, in clock ticks) is read around each GET, \
             less noisy than the rates on a shared host; Brume's VmHWM is read after the last \
             large transfer (the server was started for this benchmark); 1 KiB loads as in http (bare and Brume in alternating turns), at \
             c=32, keys spread over {} keys, all of which exist before the GET load",
            s3::KEYS
        ));
        Ok(())
    }

    /// moto's server when `--moto` says how to start it, noting how it was measured.
    fn moto(&mut self) -> Result<Option<Server>> {
        let Some(line) = self.cli.moto.clone() else {
            self.report.notes.push(
                "moto: not measured; install it (see crates/brume-bench/README.md) and pass \
                 --moto '.venv/bin/moto_server -p {port}'"
                    .to_string(),
            );
            return Ok(None);
        };
        progress("starting moto");
        let (moto, took) = Server::start(Target::Command { line: &line })?;
        self.report.notes.push(format!("moto: `{line}`, first answer after {:.1} s", took.as_secs_f64()));
        Ok(Some(moto))
    }

    fn sqs(&mut self) -> Result<()> {
        const CONCURRENCY: usize = 32;
        let dir = self.fresh_dir();
        let (brume, _) = Server::start(Target::Brume { exe: &self.cli.brume, data_dir: &dir })?;
        let (bare, _) = Server::start(Target::Bare)?;
        let moto = self.moto()?;
        let warmup = Duration::from_secs(1);
        let measure = Duration::from_secs(self.cli.seconds);
        progress(&format!("SQS round trips at concurrency {CONCURRENCY}"));
        let (ceiling, got) = load::alternating(
            warmup,
            measure,
            (&bare, |w, m| load::run(bare.port, CONCURRENCY, w, m, load::CallerIdentity::new)),
            (&brume, |w, m| sqs::round_trips(brume.port, CONCURRENCY, w, m)),
        )?;
        let figure = format!("SQS send+receive+delete round trips/s, c={CONCURRENCY}");
        let detail = format!(
            "{} failed; p50 {:.2} ms, p99 {:.2} ms",
            got.errors,
            ms(got.latency.median()),
            ms(got.latency.percentile(99.0))
        );
        self.report.rows.push(Row::new(
            format!("SQS HTTP req/s in round trips (3 each), c={CONCURRENCY}"),
            (got.per_second * 3.0, "req/s"),
            &detail,
            (BARE, ceiling.per_second),
            Goal::RatioAtLeast(0.3),
        ));
        if let Some(moto) = &moto {
            progress(&format!("moto SQS round trips at concurrency {CONCURRENCY}"));
            let peer = sqs::round_trips(moto.port, CONCURRENCY, warmup, measure)?;
            self.report.rows.push(Row::new(
                format!("{figure}, vs moto"),
                (got.per_second, "trips/s"),
                format!("moto: {} failed, p50 {:.1} ms", peer.errors, ms(peer.latency.median())),
                ("moto", peer.per_second),
                Goal::RatioAtLeast(50.0),
            ));
        }
        progress("long polls woken by arrivals");
        let (after_stored, after_sent) = sqs::long_poll_wakes(brume.port, 50)?;
        self.report.rows.push(Row::new(
            "SQS long poll answer after the SendMessage answer, p50",
            (ms(after_stored.median()), "ms"),
            format!(
                "p99 {:.2} ms; from the SendMessage request: p50 {:.2} ms, p99 {:.2} ms",
                ms(after_stored.percentile(99.0)),
                ms(after_sent.median()),
                ms(after_sent.percentile(99.0))
            ),
            ("goal", 5.0),
            Goal::Below(5.0),
        ));
        self.report.notes.push(format!(
            "sqs: awsJson 1.0, every request SigV4-signed; each of the {CONCURRENCY} workers has \
             its own queue and keep-alive connection and sends a 64 B message, receives it \
             (MaxNumberOfMessages 1) and deletes it, {}s measured after 1 s; the HTTP ceiling \
             is signed GetCallerIdentity against the bare server at the same concurrency, the two \
             measured in alternating turns as in http; long \
             polls: 50 samples of a ReceiveMessage (WaitTimeSeconds 20) on an empty queue \
             woken by a SendMessage from another connection 50 ms later",
            self.cli.seconds
        ));
        Ok(())
    }

    /// Each Brume figure is taken on a fresh server: the publish load leaves tens of
    /// thousands of deliveries behind it, which would weigh on the others.
    fn lambda(&mut self) -> Result<()> {
        const COLD: usize = 10;
        const WARM: usize = 500;
        const EVENTS: usize = 1000;
        let dir = self.fresh_dir();
        let (brume, _) = Server::start(Target::Brume { exe: &self.cli.brume, data_dir: &dir })?;

        progress("Python cold starts");
        let python_zip = lambda::zip(&[("index.py", lambda::PYTHON_NOOP.as_bytes())])?;
        let cold = lambda::cold_starts(brume.port, "cold-py", "python3.12", "index.handler", &python_zip, COLD)?;
        let python = std::env::var("BRUME_LAMBDA_PYTHON").unwrap_or_else(|_| "python3".into());
        let floor = lambda::process_floor(Path::new(&python), &["-c", "import json, http.client, logging"], COLD)?;
        self.report.rows.push(Row::new(
            "Lambda cold start, Python no-op handler, p50",
            (ms(cold.median()), "ms"),
            format!("min {:.1} ms, max {:.1} ms, {COLD} functions", ms(cold.min()), ms(cold.percentile(100.0))),
            (format!("{python} start to exit"), ms(floor)),
            Goal::Below(150.0),
        ));

        progress("building the Rust fixture function");
        let bootstrap = build_rust_fixture()?;
        let rust_zip = lambda::zip(&[("bootstrap", &std::fs::read(&bootstrap)?)])?;
        let cold = lambda::cold_starts(brume.port, "cold-rs", "provided.al2023", "bootstrap", &rust_zip, COLD)?;
        let floor = lambda::process_floor(&bootstrap, &[], COLD)?;
        self.report.rows.push(Row::new(
            "Lambda cold start, Rust lambda_runtime bootstrap, p50",
            (ms(cold.median()), "ms"),
            format!("min {:.1} ms, max {:.1} ms, {COLD} functions", ms(cold.min()), ms(cold.percentile(100.0))),
            ("the bootstrap's own start to exit", ms(floor)),
            Goal::Below(30.0),
        ));

        progress("warm invocations of a no-op handler");
        let (bare, _) = Server::start(Target::Bare)?;
        let floor =
            load::run(bare.port, 1, Duration::from_millis(200), Duration::from_secs(1), load::CallerIdentity::new)?;
        let warm = lambda::warm_invokes(brume.port, "cold-py-0", 50, WARM)?;
        self.report.rows.push(Row::new(
            "Lambda warm Invoke of a no-op Python handler, c=1, p50",
            (ms(warm.median()), "ms"),
            format!("p99 {:.2} ms, {WARM} invocations", ms(warm.percentile(99.0))),
            (format!("{BARE} request, c=1, p50"), ms(floor.latency.median())),
            Goal::Below(1.0),
        ));

        progress(&format!("{EVENTS} Event invocations at once"));
        let out = self.scratch.path().join("events.txt");
        let recorder = lambda::zip(&[("index.py", lambda::PYTHON_RECORD.as_bytes())])?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async {
            let variables = serde_json::json!({ "BENCH_OUT": out.display().to_string() });
            lambda::Client::new(brume.port)
                .create_function("events", ("python3.12", "index.handler"), &recorder, variables)
                .await
        })?;
        let (took, lost) = lambda::event_burst(brume.port, "events", &out, EVENTS, 50, Duration::from_secs(300))?;
        self.report.rows.push(Row::new(
            format!("Lambda Event invocations completed /s ({EVENTS} sent at once by 50 callers)"),
            (EVENTS as f64 / took.as_secs_f64(), "inv/s"),
            format!("{lost} lost; all done in {:.2} s", took.as_secs_f64()),
            ("lost", lost as f64),
            Goal::None,
        ));
        Ok(())
    }

    fn stepfunctions(&mut self) -> Result<()> {
        const LOOP: usize = 5000;
        const STANDARD_LOOP: usize = 250;
        const STANDARD_EXECUTIONS: usize = 16;
        const ITEMS: usize = 100_000;
        const MAP_CONCURRENCY: usize = 100;
        let (bare, _) = Server::start(Target::Bare)?;
        let floor =
            load::run(bare.port, 1, Duration::from_millis(200), Duration::from_secs(1), load::CallerIdentity::new)?;
        let reference = (format!("{BARE} requests/s, c=1"), floor.per_second);
        let dir = self.fresh_dir();
        let (brume, _) = Server::start(Target::Brume { exe: &self.cli.brume, data_dir: &dir })?;

        let transitions = stepfunctions::loop_transitions(LOOP);
        for (level, goal) in [("OFF", Goal::Above(50_000.0)), ("ALL", Goal::None)] {
            progress(&format!("EXPRESS loop of {transitions} transitions, logging {level}"));
            let rate = stepfunctions::express_rate(brume.port, LOOP, 3, level)?;
            self.report.rows.push(Row::new(
                format!("Step Functions EXPRESS transitions /s, Pass/Choice loop, logging {level}"),
                (rate, "tr/s"),
                format!("best of 3 StartSyncExecution calls of {transitions} transitions"),
                reference.clone(),
                goal,
            ));
            measured(&self.report);
        }

        let transitions = STANDARD_EXECUTIONS * stepfunctions::loop_transitions(STANDARD_LOOP);
        progress(&format!("{STANDARD_EXECUTIONS} STANDARD loops, {transitions} durable transitions"));
        let rate = stepfunctions::standard_rate(brume.port, STANDARD_LOOP, STANDARD_EXECUTIONS)?;
        self.report.rows.push(Row::new(
            "Step Functions STANDARD transitions /s, each saved durably",
            (rate, "tr/s"),
            format!("{STANDARD_EXECUTIONS} executions at once, {transitions} transitions in all"),
            reference.clone(),
            Goal::Above(5_000.0),
        ));
        measured(&self.report);

        progress(&format!("inline Map over {ITEMS} items calling a no-op Python function"));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let noop = lambda::zip(&[("index.py", lambda::PYTHON_NOOP.as_bytes())])?;
        runtime.block_on(async {
            lambda::Client::new(brume.port)
                .create_function("noop", ("python3.12", "index.handler"), &noop, serde_json::json!({}))
                .await
        })?;
        let function = "arn:aws:lambda:us-east-1:000000000000:function:noop";
        let map = stepfunctions::inline_map(brume.port, function, ITEMS, MAP_CONCURRENCY)?;
        let expected = stepfunctions::map_events(ITEMS);
        if (map.last_event, map.last_type.as_str()) != (expected, "ExecutionSucceeded") {
            anyhow::bail!(
                "the Map's history ends with #{} {}, not #{expected} ExecutionSucceeded",
                map.last_event,
                map.last_type
            );
        }
        self.report.rows.push(Row::new(
            format!("Step Functions inline Map items /s, {ITEMS} Lambda tasks, MaxConcurrency {MAP_CONCURRENCY}"),
            (ITEMS as f64 / map.took.as_secs_f64(), "items/s"),
            format!("done in {:.1} s; history of {} events, as expected", map.took.as_secs_f64(), map.last_event),
            reference,
            Goal::None,
        ));
        Ok(())
    }

    fn sns(&mut self) -> Result<()> {
        const CONCURRENCY: usize = 32;
        const SAMPLES: usize = 100;
        const FAN_OUT: usize = 2000;
        let (bare, _) = Server::start(Target::Bare)?;
        let moto = self.moto()?;
        let warmup = Duration::from_secs(1);
        let measure = Duration::from_secs(self.cli.seconds);
        let detail = |l: &load::Load| {
            format!(
                "{} failed; p50 {:.2} ms, p99 {:.2} ms",
                l.errors,
                ms(l.latency.median()),
                ms(l.latency.percentile(99.0))
            )
        };

        let dir = self.fresh_dir();
        let (brume, _) = Server::start(Target::Brume { exe: &self.cli.brume, data_dir: &dir })?;
        for (raw, what) in [(false, "signed JSON notifications"), (true, "raw messages")] {
            let name = if raw { "bench-fan-out-raw" } else { "bench-fan-out" };
            progress(&format!("SNS fan-out of {FAN_OUT} {what} to a queue"));
            let (topic, url) = sns::topic_with_queue(brume.port, name, raw)?;
            let took = sns::fan_out(brume.port, &topic, &url, FAN_OUT)?;
            let reference = match &moto {
                Some(moto) => {
                    progress(&format!("moto SNS fan-out of {FAN_OUT} {what} to a queue"));
                    let (topic, url) = sns::topic_with_queue(moto.port, name, raw)?;
                    let took = sns::fan_out(moto.port, &topic, &url, FAN_OUT)?;
                    ("moto", FAN_OUT as f64 / took.as_secs_f64())
                }
                None => ("goal", 1000.0),
            };
            self.report.rows.push(Row::new(
                format!("SNS messages published and in the subscribed queue /s, {what}"),
                (FAN_OUT as f64 / took.as_secs_f64(), "msg/s"),
                format!("{FAN_OUT} messages in {:.2} s", took.as_secs_f64()),
                reference,
                if moto.is_some() { Goal::RatioAtLeast(10.0) } else { Goal::RatioAtLeast(1.0) },
            ));
        }
        for (raw, what) in [(false, "signed JSON notification"), (true, "raw message")] {
            progress(&format!("SNS publish to receivable, {what}"));
            let name = if raw { "bench-latency-raw" } else { "bench-latency" };
            let (topic, url) = sns::topic_with_queue(brume.port, name, raw)?;
            let latency = sns::publish_to_receive(brume.port, &topic, &url, SAMPLES)?;
            self.report.rows.push(Row::new(
                format!("SNS Publish request to the message answering a long poll, p50, {what}"),
                (ms(latency.median()), "ms"),
                format!("p99 {:.2} ms, min {:.2} ms", ms(latency.percentile(99.0)), ms(latency.min())),
                ("goal", 5.0),
                Goal::Below(5.0),
            ));
        }
        drop(brume);

        let dir = self.fresh_dir();
        let (brume, _) = Server::start(Target::Brume { exe: &self.cli.brume, data_dir: &dir })?;
        progress(&format!("SNS Publish at concurrency {CONCURRENCY}"));
        let (topic, _) = sns::topic_with_queue(brume.port, "bench-publish", false)?;
        let (ceiling, got) = load::alternating(
            warmup,
            measure,
            (&bare, |w, m| load::run(bare.port, CONCURRENCY, w, m, load::CallerIdentity::new)),
            (&brume, |w, m| sns::publishes(brume.port, &topic, CONCURRENCY, w, m)),
        )?;
        let figure = format!("SNS Publish/s (one SQS subscription), c={CONCURRENCY}");
        self.report.rows.push(Row::new(
            figure.clone(),
            (got.per_second, "req/s"),
            detail(&got),
            (BARE, ceiling.per_second),
            Goal::RatioAtLeast(0.3),
        ));
        if let Some(moto) = &moto {
            progress(&format!("moto SNS Publish at concurrency {CONCURRENCY}"));
            let (moto_topic, _) = sns::topic_with_queue(moto.port, "bench-publish", false)?;
            let peer = sns::publishes(moto.port, &moto_topic, CONCURRENCY, warmup, measure)?;
            self.report.rows.push(Row::new(
                format!("{figure}, vs moto"),
                (got.per_second, "req/s"),
                format!("moto: {}", detail(&peer)),
                ("moto", peer.per_second),
                Goal::RatioAtLeast(50.0),
            ));
        }
        self.report.notes.push(format!(
            "sns: awsQuery, every request SigV4-signed; deliveries go through the durable outbox; \
             fan-out: {FAN_OUT} messages in PublishBatch calls of 10 (8 callers) to a topic with \
             one SQS subscription, getting the signed JSON notification (RSA-2048, one signature \
             per message) or the raw message, timed until GetQueueAttributes counts them all in \
             the queue; publish to receivable: \
             {SAMPLES} samples of a Publish while a ReceiveMessage (WaitTimeSeconds 20) waits on \
             the subscribed queue, with signed notifications and with raw messages; Publish/s: a fresh server, {CONCURRENCY} workers each on its \
             own keep-alive connection publishing 64 B messages to one topic with one SQS \
             subscription, {}s measured after 1 s (the deliveries trail behind: see fan-out); \
             the HTTP ceiling is signed GetCallerIdentity against the bare server, the two \
             measured in alternating turns as in http",
            self.cli.seconds
        ));
        Ok(())
    }

    /// The small-table figures first, each load against the bare server, Brume, then moto;
    /// then the large table, loaded into a fresh data dir, whose restarts and Query
    /// latencies are taken in turn with the small table's.
    fn dynamodb(&mut self) -> Result<()> {
        use dynamodb::{ITEMS_TABLE, KEYS, LOADERS, Op, PARTITION, QUERY_TABLE};
        const CONCURRENCY: usize = 32;
        // moto answers a 100-item Query in about 90 ms: at 32 callers each would wait ~3 s,
        // and only calls wholly inside the measured window count, which would shortchange it.
        const QUERY_CONCURRENCY: usize = 4;
        let items = self.cli.ddb_items;
        if items < PARTITION {
            anyhow::bail!("--ddb-items must be at least {PARTITION}");
        }
        let small_dir = self.fresh_dir();
        let exe = self.cli.brume.clone();
        let (brume, _) = Server::start(Target::Brume { exe: &exe, data_dir: &small_dir })?;
        let (bare, _) = Server::start(Target::Bare)?;
        let moto = self.moto()?;
        progress("creating and filling the small DynamoDB tables");
        for server in std::iter::once(&brume).chain(&moto) {
            dynamodb::create_tables(server.port)?;
            dynamodb::put_items(server.port, ITEMS_TABLE, 0..KEYS, dynamodb::item, LOADERS)?;
            let partition = dynamodb::partition_items(items);
            dynamodb::put_items(server.port, QUERY_TABLE, partition, dynamodb::query_item, LOADERS)?;
            dynamodb::check_item(server.port)?;
            dynamodb::check_query(server.port, items)?;
        }
        let warmup = Duration::from_secs(1);
        let measure = Duration::from_secs(self.cli.seconds);
        let load_for = |server: &Server, op: Op, concurrency: usize, warmup, measure| -> Result<load::Load> {
            let bodies = op.bodies()?;
            load::run(server.port, concurrency, warmup, measure, |addr, w| {
                dynamodb::Calls::new(addr, op, bodies.clone(), w, concurrency)
            })
        };
        let load = |server: &Server, op: Op, concurrency: usize| load_for(server, op, concurrency, warmup, measure);
        let detail = |l: &load::Load| {
            format!(
                "{} non-200; p50 {:.2} ms, p99 {:.2} ms",
                l.errors,
                ms(l.latency.median()),
                ms(l.latency.percentile(99.0))
            )
        };
        let mut put_rate = 0.0;
        for op in [Op::GetItem, Op::PutItem] {
            progress(&format!("DynamoDB {} at concurrency {CONCURRENCY}", op.name()));
            let (ceiling, got) = load::alternating(
                warmup,
                measure,
                (&bare, |w, m| load::run(bare.port, CONCURRENCY, w, m, load::CallerIdentity::new)),
                (&brume, |w, m| load_for(&brume, op, CONCURRENCY, w, m)),
            )?;
            if ceiling.errors > 0 {
                anyhow::bail!("the bare server answered {} requests with non-200", ceiling.errors);
            }
            let figure = format!("DynamoDB {} ~200 B req/s, c={CONCURRENCY}", op.name());
            self.report.rows.push(Row::new(
                &figure,
                (got.per_second, "req/s"),
                detail(&got),
                (BARE, ceiling.per_second),
                Goal::RatioAtLeast(0.5),
            ));
            self.report.rows.extend(cpu_row(&figure, &ceiling, &got));
            self.report.rows.push(Row::new(
                format!("DynamoDB {} p99 latency, c={CONCURRENCY}", op.name()),
                (ms(got.latency.percentile(99.0)), "ms"),
                format!("p50 {:.2} ms", ms(got.latency.median())),
                (format!("{BARE} p99"), ms(ceiling.latency.percentile(99.0))),
                Goal::Below(5.0),
            ));
            if let Some(moto) = &moto {
                progress(&format!("moto DynamoDB {} at concurrency {CONCURRENCY}", op.name()));
                let peer = load(moto, op, CONCURRENCY)?;
                self.report.rows.push(Row::new(
                    format!("{figure}, vs moto"),
                    (got.per_second, "req/s"),
                    format!("moto: {}", detail(&peer)),
                    ("moto", peer.per_second),
                    Goal::RatioAtLeast(30.0),
                ));
            }
            if let Op::PutItem = op {
                put_rate = got.per_second;
            }
        }
        progress(&format!("DynamoDB Query of {PARTITION} items at concurrency {QUERY_CONCURRENCY}"));
        let got = load(&brume, Op::Query(items), QUERY_CONCURRENCY)?;
        let figure = format!("DynamoDB Query of {PARTITION} items req/s, c={QUERY_CONCURRENCY}");
        match &moto {
            Some(moto) => {
                progress(&format!("moto DynamoDB Query at concurrency {QUERY_CONCURRENCY}"));
                let peer = load(moto, Op::Query(items), QUERY_CONCURRENCY)?;
                self.report.rows.push(Row::new(
                    format!("{figure}, vs moto"),
                    (got.per_second, "req/s"),
                    format!("{}; moto: {}", detail(&got), detail(&peer)),
                    ("moto", peer.per_second),
                    Goal::RatioAtLeast(100.0),
                ));
            }
            None => {
                let ceiling = load::run(bare.port, QUERY_CONCURRENCY, warmup, measure, load::CallerIdentity::new)?;
                self.report.rows.push(Row::new(
                    figure,
                    (got.per_second, "req/s"),
                    detail(&got),
                    (BARE, ceiling.per_second),
                    Goal::None,
                ));
            }
        }
        drop((brume, bare, moto));

        let big_dir = self.fresh_dir();
        let (loader, _) = Server::start(Target::Brume { exe: &exe, data_dir: &big_dir })?;
        dynamodb::create_tables(loader.port)?;
        progress(&format!("loading {items} items into a DynamoDB table"));
        let took = dynamodb::put_items(loader.port, QUERY_TABLE, 0..items, dynamodb::query_item, LOADERS)?;
        dynamodb::check_query(loader.port, items)?;
        drop(loader);
        self.report.rows.push(Row::new(
            format!("DynamoDB BatchWriteItem loading {items} items, items/s"),
            (items as f64 / took.as_secs_f64(), "items/s"),
            format!("{:.1} s; {} MiB data dir", took.as_secs_f64(), kv::dir_size(&big_dir)? >> 20),
            (format!("PutItem c={CONCURRENCY}"), put_rate),
            Goal::None,
        ));

        progress(&format!("DynamoDB restarts to the first GetItem, {} runs each", self.cli.runs));
        let (mut small, mut big) = (Vec::new(), Vec::new());
        for _ in 0..self.cli.runs {
            for (dir, sample) in [(&small_dir, &mut small), (&big_dir, &mut big)] {
                let target = Target::Brume { exe: &exe, data_dir: dir };
                sample.push(Server::start_answering(target, |addr| dynamodb::probe(addr, items))?.1);
            }
        }
        let first = big[0];
        let (small, big) = (Latencies::new(small), Latencies::new(big));
        self.report.rows.push(Row::new(
            format!("DynamoDB restart to first GetItem, {items}-item table (median)"),
            (ms(big.median()), "ms"),
            format!(
                "first after loading {:.1} ms, min {:.1} ms, max {:.1} ms",
                ms(first),
                ms(big.min()),
                ms(big.percentile(100.0))
            ),
            ("small table, median", ms(small.median())),
            Goal::Below(1000.0),
        ));

        progress(&format!("DynamoDB Query latency, {items}-item table and small table in turn"));
        let (small, _) = Server::start(Target::Brume { exe: &exe, data_dir: &small_dir })?;
        let (big, _) = Server::start(Target::Brume { exe: &exe, data_dir: &big_dir })?;
        let latencies = dynamodb::query_latencies(&[small.port, big.port], items, warmup, measure)?;
        let (small, big) = (&latencies[0], &latencies[1]);
        self.report.rows.push(Row::new(
            format!("DynamoDB Query of {PARTITION} items p50 latency, {items}-item table"),
            (ms(big.median()), "ms"),
            format!("p99 {:.2} ms (small table: p99 {:.2} ms)", ms(big.percentile(99.0)), ms(small.percentile(99.0))),
            ("small table, p50", ms(small.median())),
            Goal::RatioAtMost(1.2),
        ));
        self.report.notes.push(format!(
            "dynamodb: awsJson 1.0, every request SigV4-signed, request bodies serialized before \
             the clock starts; items of 200 B by DynamoDB's item size (a 176-char string, a \
             number, a boolean and the key), tables on demand; GetItem/PutItem: {CONCURRENCY} \
             workers on keep-alive connections, worker w sending its n-th request to key \
             ({CONCURRENCY}n + w) mod {KEYS} (GetItem) or to body ({CONCURRENCY}n + w) mod \
             {}, key that mod {KEYS}, in one of two versions of the same size (PutItem, so a put \
             replaces the item with a different one), all {KEYS} items existing first, {}s measured after \
             1 s, the ceiling being signed GetCallerIdentity against the bare server, the two measured in \
             alternating turns as in http; \
             Query: the {PARTITION} items of one partition (KeyConditionExpression pk = :p, one \
             page) at c={QUERY_CONCURRENCY}, low enough that moto's calls fit the window; large \
             table: {items} items in partitions of {PARTITION}, written with BatchWriteItem (25 \
             a call, {LOADERS} callers) into a fresh data dir, then stopped; restarts: {} runs, \
             each starting the large table's and the small table's servers in turn (SIGTERM \
             between), timed from spawn until a signed GetItem of an item of the queried \
             partition is answered 200 (probed on a fresh connection every ~1 ms); Query latency: \
             the same Query (same partition and items) on both servers, one call at a time, \
             alternating, {}s after 1 s",
            2 * KEYS,
            self.cli.seconds,
            self.cli.runs,
            self.cli.seconds
        ));
        Ok(())
    }

    fn small_objects(&mut self, brume: &Server, bare: &Server) -> Result<()> {
        let moto = self.moto()?;
        if let Some(moto) = &moto {
            s3::create_bucket(moto.port)?;
        }
        s3::create_bucket(bare.port)?;
        let warmup = Duration::from_secs(1);
        let measure = Duration::from_secs(self.cli.seconds);
        const CONCURRENCY: usize = 32;
        for (operation, method) in [("PutObject", Method::PUT), ("GetObject", Method::GET)] {
            if method == Method::GET {
                progress("putting the small objects the GET load reads");
                for server in [brume, bare].into_iter().chain(&moto) {
                    s3::fill(server.port)?;
                }
            }
            progress(&format!("1 KiB {operation} at concurrency {CONCURRENCY}"));
            let load_for = |server: &Server, warmup, measure| {
                let method = method.clone();
                load::run(server.port, CONCURRENCY, warmup, measure, move |addr, w| {
                    s3::SmallObjects::new(addr, method.clone(), w, CONCURRENCY)
                })
            };
            let load = |server: &Server| load_for(server, warmup, measure);
            let (ceiling, got) = load::alternating(
                warmup,
                measure,
                (bare, |w, m| load_for(bare, w, m)),
                (brume, |w, m| load_for(brume, w, m)),
            )?;
            if ceiling.errors > 0 {
                anyhow::bail!("the bare server answered {} requests with non-200", ceiling.errors);
            }
            let figure = format!("S3 {operation} 1 KiB req/s, c={CONCURRENCY}");
            let detail = format!(
                "{} non-200; p50 {:.0} us, p99 {:.0} us",
                got.errors,
                us(got.latency.median()),
                us(got.latency.percentile(99.0))
            );
            self.report.rows.push(Row::new(
                &figure,
                (got.per_second, "req/s"),
                &detail,
                (BARE, ceiling.per_second),
                Goal::RatioAtLeast(0.4),
            ));
            self.report.rows.extend(cpu_row(&figure, &ceiling, &got));
            if let Some(moto) = &moto {
                let peer = load(moto)?;
                self.report.rows.push(Row::new(
                    format!("{figure}, vs moto"),
                    (got.per_second, "req/s"),
                    format!("moto: {} non-200, p50 {:.0} us", peer.errors, us(peer.latency.median())),
                    ("moto", peer.per_second),
                    Goal::RatioAtLeast(30.0),
                ));
            }
        }
        Ok(())
    }
}

/// Resident memory of `target`, in MB, once idle after a few requests.
fn idle_rss(target: Target) -> Result<f64> {
    let (server, _) = Server::start(target)?;
    server.warm(10)?;
    std::thread::sleep(Duration::from_secs(1));
    Ok(server.rss_bytes()? as f64 / 1e6)
}

/// Builds tests/fixtures/rust-function (the official Rust runtime) and answers its binary.
fn build_rust_fixture() -> Result<PathBuf> {
    let manifest = Path::new("tests/fixtures/rust-function/Cargo.toml");
    let target = Path::new("target/fixtures");
    let status = std::process::Command::new("cargo")
        .args(["build", "--quiet", "--release", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(target)
        .status()
        .context("running cargo")?;
    if !status.success() {
        anyhow::bail!("building {} failed", manifest.display());
    }
    Ok(target.join("release").join("bootstrap"))
}

/// What `f` returns, and the CPU time in ms that `server` spent while it ran.
fn with_cpu<T>(server: &Server, f: impl FnOnce() -> Result<T>) -> Result<(T, f64)> {
    let before = server.cpu_time()?;
    let out = f()?;
    Ok((out, ms(server.cpu_time()?.saturating_sub(before))))
}

/// A context row: the server CPU time per request answered in `got`'s load against the
/// reference's, for figures where both serve one request per call.
fn cpu_row(figure: &str, ceiling: &load::Load, got: &load::Load) -> Option<Row> {
    let (ours, theirs) = (got.cpu_per_request()?, ceiling.cpu_per_request()?);
    Some(Row::new(format!("{figure}, server CPU per request"), (us(ours), "us"), "", (BARE, us(theirs)), Goal::None))
}

fn progress(what: &str) {
    eprintln!("brume-bench: {what}...");
}

/// Prints the last figure measured, so that a later failure does not lose it.
fn measured(report: &Report) {
    if let Some(row) = report.rows.last() {
        eprintln!("brume-bench: {}: {:.1} {} ({})", row.figure, row.value, row.unit, row.detail);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
