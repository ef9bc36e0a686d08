//! The only door to disk for every Brume service.
//!
//! - [`Kv`]: ordered byte keys in named keyspaces (one per service), range scans in both
//!   directions, point-in-time snapshots and atomic read-modify-write transactions
//!   (`<dyn Kv>::transact`).
//! - [`Blobs`]: streaming storage of large bodies under random [`BlobId`]s, so that no
//!   user-chosen name ever becomes a file path.
//! - [`key`]: the order-preserving tuple encoding services build their keys with.
//!
//! [`open`] gives the durable store in a data directory (fjall for the keys, one file per
//! blob); [`Storage::in_memory`] gives the `--ephemeral` one with the same semantics.
//!
//! All writes go through one writer thread that groups the transactions waiting at the same
//! moment into one engine commit, so with [`Durability::Always`] concurrent writers share
//! one fsync (group commit) instead of each paying for their own.

mod blobs;
mod committer;
mod disk;
mod error;
pub mod key;
mod kv;
mod memo;
mod memory;
mod recent;

use std::path::Path;
use std::sync::Arc;

pub use blobs::{BlobId, BlobReader, BlobWriter, Blobs, read_to_end};
pub use error::StorageError;
pub use kv::{Direction, KeyRange, Kv, KvPair, ReadView, StorageFuture, Txn, TxnFn};
pub use memo::DecodeMemo;

/// How durable an acknowledged write is. Chosen when the store is opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledged writes have reached the OS (they survive `kill -9` of Brume) and are
    /// fsynced within a short bounded interval (200 ms).
    #[default]
    Default,
    /// Acknowledged writes are on disk; concurrent writers share one fsync.
    Always,
}

/// The key-value store and the blob store of one Brume instance.
#[derive(Clone)]
pub struct Storage {
    pub kv: Arc<dyn Kv>,
    pub blobs: Arc<dyn Blobs>,
}

/// Opens (creating if needed) the durable store kept in `data_dir`: keys under
/// `data_dir/kv`, blobs under `data_dir/blobs`.
pub fn open(data_dir: &Path, durability: Durability) -> Result<Storage, StorageError> {
    std::fs::create_dir_all(data_dir)?;
    let engine = disk::DiskEngine::open(&data_dir.join("kv"))?;
    let kv = committer::EngineKv::start(engine, durability)?;
    let blobs = blobs::FsBlobs::open(&data_dir.join("blobs"), durability)?;
    Ok(Storage { kv: Arc::new(kv), blobs: Arc::new(blobs) })
}

impl Storage {
    /// A store that keeps everything in memory and forgets it when dropped.
    pub fn in_memory() -> Storage {
        let kv = committer::EngineKv::start(memory::MemoryEngine::default(), Durability::Default)
            .expect("spawning the storage writer thread");
        Storage { kv: Arc::new(kv), blobs: Arc::new(blobs::MemBlobs::default()) }
    }

    /// Puts everything acknowledged so far on disk (dropping the last handle also does it,
    /// without reporting errors).
    pub async fn flush(&self) -> Result<(), StorageError> {
        self.kv.flush().await?;
        self.blobs.flush().await
    }

    /// [`Storage::flush`], leaving the store so that it opens again without replaying its
    /// log (see [`Kv::close`]): call before a graceful shutdown.
    pub async fn close(&self) -> Result<(), StorageError> {
        self.kv.close().await?;
        self.blobs.flush().await
    }
}

#[cfg(test)]
mod tests;
