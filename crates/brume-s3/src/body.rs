//! Object bytes in and out: request bodies kept inline when small or streamed into blobs
//! while they are hashed, and blobs streamed out as response bodies. Nothing holds a whole
//! object in memory, except a small one.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use http::HeaderMap;
use http_body::{Body as _, Frame};
use http_body_util::{BodyExt as _, StreamBody};

use brume_core::AwsError;
use brume_core::value::Blob;
use brume_protocol::{RequestBody, ResponseBody};
use brume_storage::{BlobId, BlobReader, BlobWriter, Blobs};

use crate::checksum::{Algorithm, Hasher, Md5};
use crate::error;
use crate::table::Content;

/// S3's largest single PUT: 5 GiB.
pub const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// Bodies up to this size are kept in the object's record instead of a blob file: small
/// objects then cost one storage commit, not a file created, written and synced.
pub const INLINE_MAX: usize = 8 * 1024;

/// Where an ingested body was put.
pub enum Stored {
    Inline(Vec<u8>),
    Blob(BlobId),
}

/// A stored body, with what was computed while it streamed past.
pub struct Ingested {
    pub stored: Stored,
    pub size: u64,
    pub md5: [u8; 16],
    /// The checksum computed with the algorithm asked for, if any.
    pub checksum: Option<(Algorithm, Vec<u8>)>,
    /// Trailing headers of an aws-chunked upload (`x-amz-checksum-*`).
    pub trailers: HeaderMap,
}

impl Ingested {
    /// The record's view of the body.
    pub fn content(&self) -> Content {
        match &self.stored {
            Stored::Inline(bytes) => Content { blobs: Vec::new(), inline: Some(Blob(bytes.clone())) },
            Stored::Blob(id) => Content { blobs: vec![(id.to_string(), self.size)], inline: None },
        }
    }

    /// The blob to delete if the body is not kept after all.
    pub fn blob(&self) -> Vec<String> {
        match &self.stored {
            Stored::Inline(_) => Vec::new(),
            Stored::Blob(id) => vec![id.to_string()],
        }
    }
}

/// The digests of a body being ingested: MD5 for the ETag and the checksum asked for.
enum Digests {
    /// Computed as the bytes arrive: right for a small body.
    Here(Md5, Option<Hasher>),
    /// Computed on a blocking thread fed the chunks, once the body outgrew the inline size:
    /// a large body's MD5 then runs alongside the gateway's SHA-256 of a signed payload and
    /// the blob writes, not after them.
    Away { chunks: tokio::sync::mpsc::Sender<Bytes>, done: tokio::task::JoinHandle<(Md5, Option<Hasher>)> },
}

/// Chunks queued for the hashing thread at most; each is at most one read of the request.
const HASH_QUEUE: usize = 8;

impl Digests {
    async fn update(&mut self, data: &Bytes) {
        match self {
            Digests::Here(md5, hasher) => {
                md5.update(data);
                if let Some(h) = hasher.as_mut() {
                    h.update(data);
                }
            }
            // Only a dead hashing thread drops its end, and `finish` reports that.
            Digests::Away { chunks, .. } => {
                let _ = chunks.send(data.clone()).await;
            }
        }
    }

    fn move_away(self) -> Digests {
        let Digests::Here(mut md5, mut hasher) = self else { return self };
        let (chunks, mut rx) = tokio::sync::mpsc::channel::<Bytes>(HASH_QUEUE);
        let done = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = rx.blocking_recv() {
                md5.update(&chunk);
                if let Some(h) = hasher.as_mut() {
                    h.update(&chunk);
                }
            }
            (md5, hasher)
        });
        Digests::Away { chunks, done }
    }

    async fn finish(self) -> Result<(Md5, Option<Hasher>), AwsError> {
        match self {
            Digests::Here(md5, hasher) => Ok((md5, hasher)),
            Digests::Away { chunks, done } => {
                drop(chunks);
                done.await.map_err(error::internal)
            }
        }
    }
}

/// Streams `body` into storage: in memory up to `inline_max` bytes, into a new blob past
/// that. On any error the blob is discarded.
pub async fn ingest(
    blobs: &dyn Blobs,
    body: Option<RequestBody>,
    algorithm: Option<Algorithm>,
    inline_max: usize,
) -> Result<Ingested, AwsError> {
    let mut buffered: Vec<u8> = Vec::new();
    let mut writer: Option<Box<dyn BlobWriter>> = None;
    let mut digests = Digests::Here(Md5::new(), algorithm.map(Hasher::new));
    let mut trailers = HeaderMap::new();
    let mut size = 0u64;
    // A body declared larger than S3 takes is refused before any of it is read.
    if let Some(declared) = body.as_ref().map(|b| b.size_hint().lower()).filter(|&n| n > MAX_PUT) {
        return Err(error::entity_too_large(Some(declared), MAX_PUT));
    }
    let mut body = body;
    let failed = |writer: Option<Box<dyn BlobWriter>>, err: AwsError| async move {
        if let Some(w) = writer {
            let _ = w.abort().await;
        }
        Err(err)
    };
    while let Some(b) = body.as_mut() {
        let frame = match b.frame().await {
            None => break,
            Some(Ok(f)) => f,
            Some(Err(e)) => return failed(writer, body_error(e)).await,
        };
        match frame.into_data() {
            Ok(data) => {
                size += data.len() as u64;
                if size > MAX_PUT {
                    return failed(writer, error::entity_too_large(None, MAX_PUT)).await;
                }
                if writer.is_none() && buffered.len() + data.len() <= inline_max {
                    digests.update(&data).await;
                    buffered.extend_from_slice(&data);
                    continue;
                }
                if writer.is_none() {
                    digests = digests.move_away();
                    let mut w = blobs.create().await.map_err(error::internal)?;
                    // Multipart parts (nothing inline) start here with nothing buffered.
                    if !buffered.is_empty()
                        && let Err(e) = w.write(std::mem::take(&mut buffered).into()).await
                    {
                        return failed(Some(w), error::internal(e)).await;
                    }
                    writer = Some(w);
                }
                digests.update(&data).await;
                if let Some(w) = writer.as_mut()
                    && let Err(e) = w.write(data).await
                {
                    return failed(writer, error::internal(e)).await;
                }
            }
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers.extend(t);
                }
            }
        }
    }
    let (md5, hasher) = match digests.finish().await {
        Ok(d) => d,
        Err(e) => return failed(writer, e).await,
    };
    let stored = match writer {
        Some(w) => Stored::Blob(w.commit().await.map_err(error::internal)?),
        // Nothing may be inline (multipart parts): an empty body is an empty blob.
        None if inline_max == 0 => {
            Stored::Blob(blobs.create().await.map_err(error::internal)?.commit().await.map_err(error::internal)?)
        }
        None => Stored::Inline(buffered),
    };
    Ok(Ingested {
        stored,
        size,
        md5: md5.finish(),
        checksum: algorithm.zip(hasher).map(|(a, h)| (a, h.finish())),
        trailers,
    })
}

/// The error a failing request body reports: the gateway's own AWS error (a bad chunk
/// signature, a digest mismatch), or the client going away mid-upload.
fn body_error(e: Box<dyn std::error::Error + Send + Sync>) -> AwsError {
    match e.downcast::<AwsError>() {
        Ok(aws) => *aws,
        Err(_) => AwsError::new(
            400,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header",
        ),
    }
}

/// The whole of an object's content in memory, for an object known to be small: its
/// `size` bytes.
pub async fn read_all(store: &dyn Blobs, content: &Content, size: u64) -> Result<Vec<u8>, AwsError> {
    if let Some(inline) = &content.inline {
        return Ok(inline.0.clone());
    }
    let mut bytes = Vec::with_capacity(size as usize);
    for (id, _) in &content.blobs {
        let id: BlobId = id.parse().map_err(error::internal)?;
        let reader = store.open(id, None).await.map_err(error::internal)?;
        brume_storage::read_to_end(reader, &mut bytes).await.map_err(error::internal)?;
    }
    Ok(bytes)
}

/// The bytes `start..end` of an object's content, as a response body: inline bytes as they
/// are, blobs read lazily one after the other.
pub fn stream(store: Arc<dyn Blobs>, content: &Content, start: u64, end: u64) -> Result<ResponseBody, AwsError> {
    if let Some(inline) = &content.inline {
        return Ok(brume_protocol::full_body(inline_range(&inline.0, start, end)));
    }
    let frames = chunks(store, content, start, end)?
        .map(|r| r.map(Frame::data).map_err(|e| Box::new(e) as brume_protocol::codec::BoxError));
    Ok(StreamBody::new(frames).boxed_unsync())
}

/// The bytes `start..end` of an object's content as a stream of chunks: inline bytes in
/// one, blobs as the blob store reads them, one blob after the other.
pub fn chunks(store: Arc<dyn Blobs>, content: &Content, start: u64, end: u64) -> Result<BlobReader, AwsError> {
    if let Some(inline) = &content.inline {
        return Ok(Box::pin(futures_util::stream::once(std::future::ready(Ok(inline_range(&inline.0, start, end))))));
    }
    let mut segments = Vec::new();
    let mut offset = 0u64;
    for (id, len) in &content.blobs {
        let (seg_start, seg_end) = (offset, offset + len);
        offset = seg_end;
        if seg_end <= start || seg_start >= end {
            continue;
        }
        let id: BlobId = id.parse().map_err(error::internal)?;
        segments.push((id, start.max(seg_start) - seg_start, end.min(seg_end) - seg_start));
    }
    Ok(Box::pin(
        futures_util::stream::iter(segments)
            .then(move |(id, from, to)| {
                let store = store.clone();
                async move { store.open(id, Some((from, to))).await.map_err(std::io::Error::other) }
            })
            .try_flatten(),
    ))
}

fn inline_range(bytes: &[u8], start: u64, end: u64) -> Bytes {
    let (start, end) = (start as usize, (end as usize).min(bytes.len()));
    Bytes::copy_from_slice(&bytes[start.min(end)..end])
}
