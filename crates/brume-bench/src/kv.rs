//! Storage figures: the disk's synchronous write rate (the reference), the durable
//! transaction rate of `brume-storage` under concurrent writers, and the ~1 GiB data
//! directory the start-up benchmark opens.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use brume_storage::{Durability, Kv, StorageError};

use crate::stats::Latencies;

/// The keyspace the benchmarks write; Brume's services never use it.
const KEYSPACE: &str = "bench";

/// Write + `fdatasync` of 4 KiB, appended to a fresh file in `dir`, for `duration`:
/// the rate one-flush-per-write storage would be held to on this disk. Returns ops/s.
pub fn sync_write_rate(dir: &Path, duration: Duration) -> Result<f64> {
    let mut file: File = tempfile::tempfile_in(dir)?;
    let block = [0xA5u8; 4096];
    let started = Instant::now();
    let mut ops = 0u64;
    while started.elapsed() < duration {
        file.write_all(&block)?;
        file.sync_data()?;
        ops += 1;
    }
    Ok(ops as f64 / started.elapsed().as_secs_f64())
}

/// Writes `total` bytes to a fresh file in `dir` in 1 MiB writes, then `fdatasync`s it
/// once: how fast this disk takes in a large object. Returns bytes per second.
pub fn sequential_write_rate(dir: &Path, total: usize) -> Result<f64> {
    let mut file: File = tempfile::tempfile_in(dir)?;
    let block = XorShift(0x2545_F491_4F6C_DD1D).bytes(1 << 20);
    let started = Instant::now();
    for _ in 0..total.div_ceil(block.len()) {
        file.write_all(&block)?;
    }
    file.sync_data()?;
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// What [`txn_rate`] measured.
pub struct TxnRate {
    pub per_second: f64,
    pub latency: Latencies,
}

/// `writers` concurrent tasks, each committing one put of 100–4096 bytes per transaction
/// back to back, against a fresh store in `dir`; counts the commits acknowledged within
/// `measure` after `warmup`.
pub fn txn_rate(
    dir: &Path,
    durability: Durability,
    writers: u64,
    warmup: Duration,
    measure: Duration,
) -> Result<TxnRate> {
    // Two workers, as Brume's runtime has on this machine.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let storage = brume_storage::open(dir, durability)?;
    let kv = storage.kv.clone();
    let latencies = runtime.block_on(async move {
        let from = Instant::now() + warmup;
        let until = from + measure;
        let tasks: Vec<_> = (0..writers).map(|w| tokio::spawn(writer(Arc::clone(&kv), w, from, until))).collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.context("writer panicked")??);
        }
        anyhow::Ok(all)
    })?;
    runtime.block_on(storage.flush())?;
    Ok(TxnRate { per_second: latencies.len() as f64 / measure.as_secs_f64(), latency: Latencies::new(latencies) })
}

async fn writer(kv: Arc<dyn Kv>, id: u64, from: Instant, until: Instant) -> Result<Vec<Duration>> {
    let mut random = XorShift(id + 1);
    let mut latencies = Vec::new();
    for n in 0u64.. {
        let start = Instant::now();
        if start >= until {
            break;
        }
        let mut key = id.to_be_bytes().to_vec();
        key.extend_from_slice(&n.to_be_bytes());
        let len = 100 + (random.next() % 3997) as usize;
        let value = random.bytes(len);
        kv.transact(move |txn| txn.put(KEYSPACE, &key, &value))
            .await
            .map_err(|e: StorageError| anyhow::anyhow!("transaction failed: {e}"))?;
        let end = Instant::now();
        if start >= from && end <= until {
            latencies.push(end - start);
        }
    }
    Ok(latencies)
}

/// How the data directory for the start-up benchmark was filled.
pub struct Populated {
    pub keys: u64,
    pub value_bytes: usize,
    pub transactions: u64,
    pub took: Duration,
    pub on_disk: u64,
}

/// Fills `dir` with `total` bytes of values: 1 KiB incompressible values under sequential
/// 8-byte keys, 4 MiB per transaction, with `Durability::Default`; then flushes and closes
/// the store so that Brume can open the directory.
pub fn populate(dir: &Path, total: u64) -> Result<Populated> {
    const VALUE: usize = 1024;
    const PER_TXN: u64 = 4096;
    let keys = total / VALUE as u64;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let started = Instant::now();
    let storage = brume_storage::open(dir, Durability::Default)?;
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut transactions = 0;
    runtime.block_on(async {
        // One transaction in flight while the next batch is generated.
        let mut in_flight: Option<tokio::task::JoinHandle<Result<(), StorageError>>> = None;
        let mut next = 0;
        while next < keys {
            let end = (next + PER_TXN).min(keys);
            let batch: Vec<(Vec<u8>, Vec<u8>)> =
                (next..end).map(|k| (k.to_be_bytes().to_vec(), random.bytes(VALUE))).collect();
            next = end;
            if let Some(previous) = in_flight.take() {
                previous.await??;
            }
            let kv = Arc::clone(&storage.kv);
            in_flight = Some(tokio::spawn(async move {
                kv.transact(move |txn| batch.iter().try_for_each(|(k, v)| txn.put(KEYSPACE, k, v))).await
            }));
            transactions += 1;
        }
        if let Some(last) = in_flight {
            last.await??;
        }
        // As Brume leaves its store when stopped.
        storage.close().await?;
        anyhow::Ok(())
    })?;
    // Dropping the last handle joins the writer thread, which closes the engine and
    // releases its directory lock before Brume opens it.
    drop(storage);
    Ok(Populated { keys, value_bytes: VALUE, transactions, took: started.elapsed(), on_disk: dir_size(dir)? })
}

pub fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { dir_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

/// A fast deterministic generator: the values only need to be incompressible, not secret.
pub struct XorShift(pub u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}
