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
use std::fs::File;
use std::io::{self, IoSliceMut, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, RwLock, Weak};
use std::time::Instant;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, Stream, StreamExt as _};
use rustix::io::{Errno, ReadWriteFlags};
use tokio::task::JoinHandle;

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

/// A blob's bytes (or the requested range of them), as a stream of chunks: a response
/// body sends them as they are, without copying them again.
pub type BlobReader = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Appends what is left of `reader` to `out`.
pub async fn read_to_end(mut reader: BlobReader, out: &mut Vec<u8>) -> io::Result<()> {
    while let Some(chunk) = reader.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(())
}

/// How much one read of a blob file takes at most: small enough that the chunk is still in
/// the core's cache when it is copied into the socket.
pub(crate) const READ_CHUNK: u64 = 256 * 1024;

/// A blob being written. Dropping it without [`BlobWriter::commit`] discards it.
#[async_trait]
pub trait BlobWriter: Send {
    /// Takes the chunk itself, so that a file store writes it without copying it first.
    async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError>;

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

/// The writer's file: idle, or lent to a blocking thread for the one write in flight, which
/// overlaps the arrival of the next chunk.
enum FileState {
    Idle(File),
    Writing(JoinHandle<(File, io::Result<()>)>),
    Closed,
}

struct FsBlobWriter {
    file: FileState,
    tmp_path: PathBuf,
    len: u64,
    root: PathBuf,
    durability: Durability,
    unsynced: Arc<Unsynced>,
}

impl FsBlobWriter {
    /// The file, once any write in flight has finished.
    async fn settle(&mut self) -> Result<File, StorageError> {
        match std::mem::replace(&mut self.file, FileState::Closed) {
            FileState::Idle(file) => Ok(file),
            FileState::Writing(write) => {
                let (file, written) = write.await.map_err(|e| io::Error::other(e.to_string()))?;
                written?;
                Ok(file)
            }
            FileState::Closed => Err(StorageError::Closed),
        }
    }
}

#[async_trait]
impl BlobWriter for FsBlobWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        let mut file = self.settle().await?;
        self.len += chunk.len() as u64;
        self.file = FileState::Writing(tokio::task::spawn_blocking(move || {
            let written = file.write_all(&chunk);
            (file, written)
        }));
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    async fn commit(mut self: Box<Self>) -> Result<BlobId, StorageError> {
        let file = self.settle().await?;
        let always = self.durability == Durability::Always;
        if always {
            blocking(move || file.sync_all()).await?;
        }
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
            blocking(move || dirs.iter().try_for_each(|d| File::open(d)?.sync_all())).await?;
        } else {
            self.unsynced.add(std::iter::once(path).chain(dirs));
        }
        Ok(id)
    }

    async fn abort(mut self: Box<Self>) -> Result<(), StorageError> {
        // A write in flight finishes on the unlinked file.
        self.file = FileState::Closed;
        match tokio::fs::remove_file(&self.tmp_path).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

impl Drop for FsBlobWriter {
    /// A writer dropped mid-way (e.g. the client went away) leaves no file behind.
    fn drop(&mut self) {
        if !matches!(self.file, FileState::Closed) {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

#[async_trait]
impl Blobs for FsBlobs {
    async fn create(&self) -> Result<Box<dyn BlobWriter>, StorageError> {
        let tmp_path = self.root.join("tmp").join(format!("{}.tmp", BlobId::random()));
        let path = tmp_path.clone();
        let file = blocking(move || File::create(path)).await?;
        Ok(Box::new(FsBlobWriter {
            file: FileState::Idle(file),
            tmp_path,
            len: 0,
            root: self.root.clone(),
            durability: self.durability,
            unsynced: Arc::clone(&self.unsynced),
        }))
    }

    async fn open(&self, id: BlobId, range: Option<(u64, u64)>) -> Result<BlobReader, StorageError> {
        let path = self.path_of(id);
        let opened = blocking(move || File::open(path).and_then(|file| file.metadata().map(|m| (file, m.len()))));
        let (file, len) = opened.await.map_err(not_found(id))?;
        let (start, end) = check_range(range, len)?;
        Ok(read_chunks(file, start, end - start))
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
        Ok(blocking(sweep).await?)
    }

    async fn flush(&self) -> Result<(), StorageError> {
        let unsynced = Arc::clone(&self.unsynced);
        Ok(blocking(move || unsynced.sync()).await?)
    }
}

/// Runs `f` on a blocking thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    joined(tokio::task::spawn_blocking(f)).await
}

/// What a blocking thread's work returned.
async fn joined<T>(work: JoinHandle<io::Result<T>>) -> io::Result<T> {
    work.await.map_err(|e| io::Error::other(e.to_string()))?
}

/// The `len` bytes of `file` from `start` as a stream of chunks. A chunk the page cache
/// holds (the usual case: a blob written or read lately) is copied out on the spot, in the
/// task that sends it. Once a chunk has needed the disk, the rest are read on a blocking
/// thread, each while the one before is sent, so that the disk and the socket work at the
/// same time. Handing every chunk to a blocking thread cost three context switches per
/// chunk, which made a large GET from the cache spend more on scheduling than on its copy.
fn read_chunks(file: File, start: u64, len: u64) -> BlobReader {
    let end = start + len;
    // The length of the chunk that starts at `at`.
    let chunk_at = move |at: u64| (end - at).min(READ_CHUNK) as usize;
    let state = (Arc::new(file), start, Buffers::default(), None);
    Box::pin(stream::try_unfold(state, move |(file, at, buffers, ahead)| async move {
        if at >= end {
            return Ok(None);
        }
        let ((buf, read), from_disk) = match ahead {
            Some(reading) => (joined(reading).await?, true),
            None => {
                let want = chunk_at(at);
                let mut buf = buffers.take(want);
                match read_cached(&file, at, &mut buf[..want])? {
                    Some(read) => ((buf, read), false),
                    None => (joined(read_on_thread(&file, buf, at, want)).await?, true),
                }
            }
        };
        let next = at + read as u64;
        let ahead = (from_disk && next < end).then(|| {
            let want = chunk_at(next);
            read_on_thread(&file, buffers.take(want), next, want)
        });
        Ok(Some((buffers.chunk(buf, read), (file, next, buffers, ahead))))
    }))
}

/// A chunk being read on a blocking thread: its buffer and length.
type Reading = JoinHandle<io::Result<(Vec<u8>, usize)>>;

/// Reads `want` bytes of `file` at `at` into `buf` on a blocking thread.
fn read_on_thread(file: &Arc<File>, mut buf: Vec<u8>, at: u64, want: usize) -> Reading {
    let file = Arc::clone(file);
    tokio::task::spawn_blocking(move || file.read_exact_at(&mut buf[..want], at).map(|()| (buf, want)))
}

/// Fills `buf` from `file` at `at` as far as the page cache holds it (`RWF_NOWAIT`: a read
/// that would wait for the disk fails at once instead); `None` when it holds none of it, or
/// the kernel cannot read without waiting.
fn read_cached(file: &File, at: u64, buf: &mut [u8]) -> io::Result<Option<usize>> {
    match rustix::io::preadv2(file, &mut [IoSliceMut::new(buf)], at, ReadWriteFlags::NOWAIT) {
        // A file shorter than its record says: fail rather than send a short body.
        Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
        Ok(read) => Ok(Some(read)),
        Err(Errno::AGAIN | Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The spare buffers of one reader. A chunk's buffer comes back once the chunk is sent
/// (its last `Bytes` dropped), so a large read cycles through a few buffers that are still
/// in cache and need no zeroing, instead of zeroing a fresh one per chunk.
#[derive(Default)]
struct Buffers(Arc<Mutex<Vec<Vec<u8>>>>);

/// How many spare buffers a reader keeps: enough for the chunks hyper holds while it sends
/// them and the one read ahead.
const SPARE_BUFFERS: usize = 4;

impl Buffers {
    /// A buffer of at least `want` bytes.
    fn take(&self, want: usize) -> Vec<u8> {
        let spare = self.0.lock().unwrap_or_else(|p| p.into_inner()).pop();
        spare.unwrap_or_else(|| vec![0; want])
    }

    /// The first `len` bytes of `buf` as a chunk whose buffer comes back here.
    fn chunk(&self, buf: Vec<u8>, len: usize) -> Bytes {
        Bytes::from_owner(Lent { buf, len, home: Arc::downgrade(&self.0) })
    }
}

/// A chunk's buffer, lent to the response body until hyper drops the chunk.
struct Lent {
    buf: Vec<u8>,
    len: usize,
    home: Weak<Mutex<Vec<Vec<u8>>>>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Lent {
    /// Only whole-chunk buffers go back: a smaller one was made for a reader's last chunk.
    fn drop(&mut self) {
        if self.buf.len() == READ_CHUNK as usize
            && let Some(home) = self.home.upgrade()
        {
            let mut spare = home.lock().unwrap_or_else(|p| p.into_inner());
            if spare.len() < SPARE_BUFFERS {
                spare.push(std::mem::take(&mut self.buf));
            }
        }
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
    async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        self.buf.extend_from_slice(&chunk);
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
        let range = body.slice(start as usize..end as usize);
        Ok(Box::pin(stream::iter((!range.is_empty()).then_some(Ok(range)))))
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
