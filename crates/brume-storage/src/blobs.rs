//! Large bodies, streamed in and out in chunks and never held whole in memory (except by
//! the in-memory store).
//!
//! A blob is written to a temporary file and, on commit, renamed to
//! `blobs/<2 hex>/<2 hex>/<32 hex id>` under a random [`BlobId`] chosen here, so object
//! names never reach the file system. The caller then records the id in a [`crate::Kv`]
//! transaction. If the process dies between the two, the blob is an orphan: [`Blobs::sweep`]
//! removes blobs that no record names.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::committer::FLUSH_INTERVAL;
use crate::{Durability, StorageError};

/// The opaque, random name of a stored blob. Its text form (32 lowercase hex digits) is
/// what services record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(u128);

impl BlobId {
    fn random() -> Self {
        BlobId(uuid::Uuid::new_v4().as_u128())
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl FromStr for BlobId {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the canonical form, so that one id has one file name.
        if s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            u128::from_str_radix(s, 16).map(BlobId).map_err(|_| StorageError::InvalidBlobId(s.to_string()))
        } else {
            Err(StorageError::InvalidBlobId(s.to_string()))
        }
    }
}

/// A blob's bytes (or the requested range of them), read as a stream.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// A blob being written. Dropping it without [`BlobWriter::commit`] discards it.
#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StorageError>;

    /// Bytes written so far.
    fn len(&self) -> u64;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores the blob (as durably as the store's level promises) and names it.
    async fn commit(self: Box<Self>) -> Result<BlobId, StorageError>;

    async fn abort(self: Box<Self>) -> Result<(), StorageError>;
}

#[async_trait]
pub trait Blobs: Send + Sync {
    async fn create(&self) -> Result<Box<dyn BlobWriter>, StorageError>;

    /// The bytes `start..end` (end excluded) of the blob, or all of it.
    async fn open(&self, id: BlobId, range: Option<(u64, u64)>) -> Result<BlobReader, StorageError>;

    async fn len(&self, id: BlobId) -> Result<u64, StorageError>;

    /// Deleting a blob that does not exist is not an error, so retried deletes are harmless.
    async fn delete(&self, id: BlobId) -> Result<(), StorageError>;

    /// Deletes every committed blob not in `live` and returns how many. Run it at start-up,
    /// before anything creates blobs: a blob committed but not yet recorded would look dead.
    async fn sweep(&self, live: &HashSet<BlobId>) -> Result<usize, StorageError>;

    /// Puts every committed blob on disk.
    async fn flush(&self) -> Result<(), StorageError>;
}

fn check_range(range: Option<(u64, u64)>, len: u64) -> Result<(u64, u64), StorageError> {
    match range {
        None => Ok((0, len)),
        Some((start, end)) if start <= end && end <= len => Ok((start, end)),
        Some((start, end)) => Err(StorageError::InvalidRange { start, end, len }),
    }
}

fn not_found(id: BlobId) -> impl FnOnce(io::Error) -> StorageError {
    move |e| {
        if e.kind() == io::ErrorKind::NotFound { StorageError::BlobNotFound(id.to_string()) } else { e.into() }
    }
}

/// Blobs as files under a directory.
pub(crate) struct FsBlobs {
    root: PathBuf,
    durability: Durability,
    /// With `Durability::Default`: the committed files and directories not yet fsynced,
    /// shared with the flusher thread.
    unsynced: Arc<Unsynced>,
}

#[derive(Default)]
struct Unsynced {
    state: Mutex<UnsyncedState>,
    wake: Condvar,
}

#[derive(Default)]
struct UnsyncedState {
    paths: Vec<PathBuf>,
    closed: bool,
}

impl Unsynced {
    fn state(&self) -> std::sync::MutexGuard<'_, UnsyncedState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, paths: impl IntoIterator<Item = PathBuf>) {
        self.state().paths.extend(paths);
        self.wake.notify_one();
    }

    fn close(&self) {
        self.state().closed = true;
        self.wake.notify_one();
    }

    /// Fsyncs everything added so far. A file deleted meanwhile needs nothing.
    fn sync(&self) -> io::Result<()> {
        let mut paths = std::mem::take(&mut self.state().paths);
        paths.sort();
        paths.dedup();
        for path in paths {
            match std::fs::File::open(&path).and_then(|f| f.sync_all()) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// The flusher: waits for work, lets more accumulate for one interval, fsyncs it all.
    fn run(&self) {
        loop {
            let mut state = self.state();
            while state.paths.is_empty() && !state.closed {
                state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            let deadline = Instant::now() + FLUSH_INTERVAL;
            while !state.closed {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = self.wake.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
            }
            let closed = state.closed;
            drop(state);
            if let Err(e) = self.sync() {
                tracing::error!(error = %e, "blob background fsync failed");
            }
            if closed {
                return;
            }
        }
    }
}

impl FsBlobs {
    pub(crate) fn open(root: &Path, durability: Durability) -> Result<Self, StorageError> {
        let tmp = root.join("tmp");
        // Temporary files left by a crash were never committed: nobody can name them.
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        let unsynced = Arc::new(Unsynced::default());
        if durability == Durability::Default {
            let flusher = Arc::clone(&unsynced);
            std::thread::Builder::new().name("brume-blob-flusher".into()).spawn(move || flusher.run())?;
        }
        Ok(Self { root: root.to_path_buf(), durability, unsynced })
    }

    fn dir_of(&self, id: BlobId) -> PathBuf {
        let hex = id.to_string();
        self.root.join(&hex[0..2]).join(&hex[2..4])
    }

    fn path_of(&self, id: BlobId) -> PathBuf {
        self.dir_of(id).join(id.to_string())
    }
}

impl Drop for FsBlobs {
    fn drop(&mut self) {
        self.unsynced.close();
        if let Err(e) = self.unsynced.sync() {
            tracing::error!(error = %e, "blob fsync at close failed");
        }
    }
}

struct FsBlobWriter {
    file: Option<tokio::fs::File>,
    tmp_path: PathBuf,
    len: u64,
    root: PathBuf,
    durability: Durability,
    unsynced: Arc<Unsynced>,
}

#[async_trait]
impl BlobWriter for FsBlobWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StorageError> {
        let file = self.file.as_mut().ok_or(StorageError::Closed)?;
        file.write_all(chunk).await?;
        self.len += chunk.len() as u64;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    async fn commit(mut self: Box<Self>) -> Result<BlobId, StorageError> {
        let mut file = self.file.take().ok_or(StorageError::Closed)?;
        // tokio buffers one write in flight; flushing makes sure it reached the OS.
        file.flush().await?;
        let always = self.durability == Durability::Always;
        if always {
            file.sync_all().await?;
        }
        drop(file);
        let id = BlobId::random();
        let hex = id.to_string();
        let level1 = self.root.join(&hex[0..2]);
        let dir = level1.join(&hex[2..4]);
        let created = !tokio::fs::try_exists(&dir).await?;
        if created {
            tokio::fs::create_dir_all(&dir).await?;
        }
        let path = dir.join(&hex);
        tokio::fs::rename(&self.tmp_path, &path).await?;
        // The rename and any new directory are durable only once their parents are synced.
        let mut dirs = vec![dir];
        if created {
            dirs.push(level1);
            dirs.push(self.root.clone());
        }
        if always {
            tokio::task::spawn_blocking(move || dirs.iter().try_for_each(|d| std::fs::File::open(d)?.sync_all()))
                .await
                .map_err(|e| io::Error::other(e.to_string()))??;
        } else {
            self.unsynced.add(std::iter::once(path).chain(dirs));
        }
        Ok(id)
    }

    async fn abort(mut self: Box<Self>) -> Result<(), StorageError> {
        self.file = None;
        match tokio::fs::remove_file(&self.tmp_path).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

impl Drop for FsBlobWriter {
    /// A writer dropped mid-way (e.g. the client went away) leaves no file behind.
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

#[async_trait]
impl Blobs for FsBlobs {
    async fn create(&self) -> Result<Box<dyn BlobWriter>, StorageError> {
        let tmp_path = self.root.join("tmp").join(format!("{}.tmp", BlobId::random()));
        let file = tokio::fs::File::create(&tmp_path).await?;
        Ok(Box::new(FsBlobWriter {
            file: Some(file),
            tmp_path,
            len: 0,
            root: self.root.clone(),
            durability: self.durability,
            unsynced: Arc::clone(&self.unsynced),
        }))
    }

    async fn open(&self, id: BlobId, range: Option<(u64, u64)>) -> Result<BlobReader, StorageError> {
        let mut file = tokio::fs::File::open(self.path_of(id)).await.map_err(not_found(id))?;
        let len = file.metadata().await?.len();
        let (start, end) = check_range(range, len)?;
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await?;
        }
        Ok(Box::pin(file.take(end - start)))
    }

    async fn len(&self, id: BlobId) -> Result<u64, StorageError> {
        Ok(tokio::fs::metadata(self.path_of(id)).await.map_err(not_found(id))?.len())
    }

    async fn delete(&self, id: BlobId) -> Result<(), StorageError> {
        match tokio::fs::remove_file(self.path_of(id)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn sweep(&self, live: &HashSet<BlobId>) -> Result<usize, StorageError> {
        let root = self.root.clone();
        let live = live.clone();
        let sweep = move || -> io::Result<usize> {
            let mut removed = 0;
            for level1 in std::fs::read_dir(&root)? {
                let level1 = level1?.path();
                if level1.file_name().is_some_and(|n| n == "tmp") || !level1.is_dir() {
                    continue;
                }
                for level2 in std::fs::read_dir(&level1)? {
                    for file in std::fs::read_dir(level2?.path())? {
                        let path = file?.path();
                        let id = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse::<BlobId>().ok());
                        if id.is_some_and(|id| !live.contains(&id)) {
                            std::fs::remove_file(&path)?;
                            removed += 1;
                        }
                    }
                }
            }
            Ok(removed)
        };
        Ok(tokio::task::spawn_blocking(sweep).await.map_err(|e| io::Error::other(e.to_string()))??)
    }

    async fn flush(&self) -> Result<(), StorageError> {
        let unsynced = Arc::clone(&self.unsynced);
        tokio::task::spawn_blocking(move || unsynced.sync()).await.map_err(|e| io::Error::other(e.to_string()))??;
        Ok(())
    }
}

/// Blobs in memory, for `--ephemeral`.
#[derive(Default)]
pub(crate) struct MemBlobs {
    blobs: Arc<RwLock<HashMap<BlobId, Bytes>>>,
}

struct MemBlobWriter {
    buf: BytesMut,
    blobs: Arc<RwLock<HashMap<BlobId, Bytes>>>,
}

#[async_trait]
impl BlobWriter for MemBlobWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), StorageError> {
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.buf.len() as u64
    }

    async fn commit(self: Box<Self>) -> Result<BlobId, StorageError> {
        let id = BlobId::random();
        self.blobs.write().unwrap_or_else(|p| p.into_inner()).insert(id, self.buf.freeze());
        Ok(id)
    }

    async fn abort(self: Box<Self>) -> Result<(), StorageError> {
        Ok(())
    }
}

impl MemBlobs {
    fn get(&self, id: BlobId) -> Result<Bytes, StorageError> {
        let blobs = self.blobs.read().unwrap_or_else(|p| p.into_inner());
        blobs.get(&id).cloned().ok_or_else(|| StorageError::BlobNotFound(id.to_string()))
    }
}

#[async_trait]
impl Blobs for MemBlobs {
    async fn create(&self) -> Result<Box<dyn BlobWriter>, StorageError> {
        Ok(Box::new(MemBlobWriter { buf: BytesMut::new(), blobs: Arc::clone(&self.blobs) }))
    }

    async fn open(&self, id: BlobId, range: Option<(u64, u64)>) -> Result<BlobReader, StorageError> {
        let body = self.get(id)?;
        let (start, end) = check_range(range, body.len() as u64)?;
        // In memory, so the bounds fit in usize.
        Ok(Box::pin(io::Cursor::new(body.slice(start as usize..end as usize))))
    }

    async fn len(&self, id: BlobId) -> Result<u64, StorageError> {
        Ok(self.get(id)?.len() as u64)
    }

    async fn delete(&self, id: BlobId) -> Result<(), StorageError> {
        self.blobs.write().unwrap_or_else(|p| p.into_inner()).remove(&id);
        Ok(())
    }

    async fn sweep(&self, live: &HashSet<BlobId>) -> Result<usize, StorageError> {
        let mut blobs = self.blobs.write().unwrap_or_else(|p| p.into_inner());
        let before = blobs.len();
        blobs.retain(|id, _| live.contains(id));
        Ok(before - blobs.len())
    }

    async fn flush(&self) -> Result<(), StorageError> {
        Ok(())
    }
}
