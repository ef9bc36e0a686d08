use std::io;

/// Everything that can go wrong below the services: the disk, the engine, or a caller
/// handing the store something it cannot hold.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("storage engine error: {0}")]
    Engine(String),
    /// Keyspace names are restricted so that no engine has to escape them.
    #[error("invalid keyspace name {0:?}: use 1 to 64 characters from [a-z0-9_-]")]
    InvalidKeyspace(String),
    #[error("blob {0} not found")]
    BlobNotFound(String),
    #[error("invalid blob id {0:?}")]
    InvalidBlobId(String),
    #[error("invalid range {start}..{end} for a blob of {len} bytes")]
    InvalidRange { start: u64, end: u64, len: u64 },
    /// The writer thread is gone: the store was closed or a previous fatal error stopped it.
    #[error("storage is closed")]
    Closed,
    /// A transaction closure panicked; nothing it wrote was applied.
    #[error("transaction panicked: {0}")]
    Panicked(String),
}

impl From<fjall::Error> for StorageError {
    fn from(e: fjall::Error) -> Self {
        match e {
            fjall::Error::Io(io) => StorageError::Io(io),
            other => StorageError::Engine(other.to_string()),
        }
    }
}

/// A storage failure reaching a request is an internal failure of Brume: logged here, and
/// answered without its detail.
impl From<StorageError> for brume_core::AwsError {
    fn from(e: StorageError) -> Self {
        tracing::error!(error = %e, "storage failure");
        brume_core::AwsError::internal()
    }
}
