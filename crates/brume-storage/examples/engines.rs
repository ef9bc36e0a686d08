//! Measures the candidate engines and Brume's store on this machine's disk.
//!
//! `cargo run --release -p brume-storage --example engines [DIR]` (DIR defaults to the
//! current directory; do not point it at a tmpfs such as /tmp, which never syncs).
//!
//! Reports, as writes per second and as ratios to the disk's raw rate of synchronous 4 KiB
//! writes (write + fdatasync), the commit rates of redb and fjall alone (one insert per
//! commit; 32 inserts per commit, the ceiling of group commit) and of `brume_storage` with
//! one writer and with 32 concurrent writers at both durability levels. Not a test: the
//! figures depend on the machine.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brume_storage::{Durability, StorageError, Txn};

/// How long each measurement runs.
const RUN: Duration = Duration::from_secs(2);
const VALUE: [u8; 100] = [7; 100];

/// Runs `op` until `RUN` has passed; returns operations per second and mean latency.
fn rate(mut op: impl FnMut(u64) -> u64) -> (f64, Duration) {
    let start = Instant::now();
    let (mut ops, mut calls) = (0u64, 0u64);
    while start.elapsed() < RUN {
        ops += op(calls);
        calls += 1;
    }
    let elapsed = start.elapsed();
    (ops as f64 / elapsed.as_secs_f64(), elapsed / calls.max(1) as u32)
}

fn report(name: &str, (per_sec, latency): (f64, Duration), reference: f64) {
    println!(
        "{name:<48} {per_sec:>10.0} writes/s {:>7.1}x  {:>9.3} ms/commit",
        per_sec / reference,
        latency.as_secs_f64() * 1e3
    );
}

fn raw_sync_rate(dir: &Path) -> (f64, Duration) {
    let mut file = std::fs::File::create(dir.join("raw")).expect("temp file");
    let block = [0u8; 4096];
    rate(|_| {
        file.write_all(&block).expect("write");
        file.sync_data().expect("fdatasync");
        1
    })
}

fn redb(dir: &Path, durability: redb::Durability, per_commit: u64) -> (f64, Duration) {
    let table: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("t");
    let path = dir.join(format!("redb-{durability:?}-{per_commit}"));
    let db = redb::Database::create(path).expect("redb open");
    rate(|n| {
        let mut txn = db.begin_write().expect("begin");
        txn.set_durability(durability).expect("durability");
        {
            let mut t = txn.open_table(table).expect("table");
            for i in 0..per_commit {
                t.insert(n * per_commit + i, VALUE.as_slice()).expect("insert");
            }
        }
        txn.commit().expect("commit");
        per_commit
    })
}

fn fjall(dir: &Path, mode: fjall::PersistMode, per_commit: u64) -> (f64, Duration) {
    let path = dir.join(format!("fjall-{mode:?}-{per_commit}"));
    let db = fjall::Database::builder(path).manual_journal_persist(true).open().expect("fjall open");
    let ks = db.keyspace("t", fjall::KeyspaceCreateOptions::default).expect("keyspace");
    rate(|n| {
        let mut batch = db.batch().durability(Some(mode));
        for i in 0..per_commit {
            batch.insert(&ks, (n * per_commit + i).to_be_bytes(), VALUE);
        }
        batch.commit().expect("commit");
        per_commit
    })
}

/// `writers` tasks each committing one put per transaction through `brume_storage`.
fn brume(rt: &tokio::runtime::Runtime, dir: PathBuf, durability: Durability, writers: u64) -> (f64, Duration) {
    rt.block_on(async move {
        let storage = brume_storage::open(&dir, durability).expect("open");
        let start = Instant::now();
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let kv = Arc::clone(&storage.kv);
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while start.elapsed() < RUN {
                        let key = [w.to_be_bytes(), n.to_be_bytes()].concat();
                        kv.transact(move |txn: &mut dyn Txn| txn.put("bench", &key, &VALUE)).await?;
                        n += 1;
                    }
                    Ok::<u64, StorageError>(n)
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.expect("task").expect("transaction");
        }
        let elapsed = start.elapsed();
        storage.flush().await.expect("flush");
        // Mean latency as each writer saw it.
        (total as f64 / elapsed.as_secs_f64(), elapsed * writers as u32 / total.max(1) as u32)
    })
}

fn main() {
    let base = std::env::args().nth(1).map_or_else(|| PathBuf::from("."), PathBuf::from);
    let dir = tempfile::tempdir_in(&base).expect("temporary directory");
    let d = dir.path();
    let reference = raw_sync_rate(d);
    report("raw write(4 KiB) + fdatasync", reference, reference.0);
    let r = reference.0;

    println!("-- engines alone, one thread");
    report("redb Immediate, 1 put/commit", redb(d, redb::Durability::Immediate, 1), r);
    report("redb None (not crash-safe), 1 put/commit", redb(d, redb::Durability::None, 1), r);
    report("redb Immediate, 32 puts/commit", redb(d, redb::Durability::Immediate, 32), r);
    report("fjall SyncAll, 1 put/commit", fjall(d, fjall::PersistMode::SyncAll, 1), r);
    report("fjall SyncData, 1 put/commit", fjall(d, fjall::PersistMode::SyncData, 1), r);
    report("fjall Buffer (survives kill -9), 1 put/commit", fjall(d, fjall::PersistMode::Buffer, 1), r);
    report("fjall SyncAll, 32 puts/commit", fjall(d, fjall::PersistMode::SyncAll, 32), r);

    println!("-- brume-storage (fjall + group commit)");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for (level, name) in [(Durability::Always, "Always"), (Durability::Default, "Default")] {
        for writers in [1, 32] {
            let label = format!("brume {name}, {writers} writer(s)");
            report(&label, brume(&rt, d.join(format!("brume-{name}-{writers}")), level, writers), r);
        }
    }
}
