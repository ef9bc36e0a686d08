//! Object bytes in and out: request bodies streamed into blobs while they are hashed, and
//! blobs streamed out as response bodies. Nothing holds a whole object in memory.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use http::HeaderMap;
use http_body::Frame;
use http_body_util::{BodyExt as _, StreamBody};
use md5::{Digest as _, Md5};

use brume_core::AwsError;
use brume_protocol::{RequestBody, ResponseBody};
use brume_storage::{BlobId, Blobs};

use crate::checksum::{Algorithm, Hasher};
use crate::error;

/// How much of a blob one response frame carries: large enough that a big GET is a few
/// hundred frames, small enough that many concurrent GETs stay within a few MB.
const STREAM_CHUNK: usize = 256 * 1024;

/// S3's largest single PUT: 5 GiB.
pub const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// A body stored as a blob, with what was computed while it streamed past.
pub struct Ingested {
    pub blob: BlobId,
    pub size: u64,
    pub md5: [u8; 16],
    /// The checksum computed with the algorithm asked for, if any.
    pub checksum: Option<(Algorithm, Vec<u8>)>,
    /// Trailing headers of an aws-chunked upload (`x-amz-checksum-*`).
    pub trailers: HeaderMap,
}

/// Streams `body` into a new blob. On any error the blob is discarded.
pub async fn ingest(
    blobs: &dyn Blobs,
    body: Option<RequestBody>,
    algorithm: Option<Algorithm>,
) -> Result<Ingested, AwsError> {
    let mut writer = blobs.create().await.map_err(error::internal)?;
    let mut md5 = Md5::new();
    let mut hasher = algorithm.map(Hasher::new);
    let mut trailers = HeaderMap::new();
    let mut size = 0u64;
    let mut body = body;
    while let Some(b) = body.as_mut() {
        let frame = match b.frame().await {
            None => break,
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                let _ = writer.abort().await;
                return Err(body_error(e));
            }
        };
        match frame.into_data() {
            Ok(data) => {
                size += data.len() as u64;
                if size > MAX_PUT {
                    let _ = writer.abort().await;
                    return Err(error::entity_too_large());
                }
                md5.update(&data);
                if let Some(h) = hasher.as_mut() {
                    h.update(&data);
                }
                if let Err(e) = writer.write(&data).await {
                    let _ = writer.abort().await;
                    return Err(error::internal(e));
                }
            }
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers.extend(t);
                }
            }
        }
    }
    let blob = writer.commit().await.map_err(error::internal)?;
    Ok(Ingested {
        blob,
        size,
        md5: md5.finalize().into(),
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

/// The bytes `start..end` of an object stored as `blobs` (in order, with lengths), as a
/// response body read lazily, blob after blob.
pub fn stream(store: Arc<dyn Blobs>, blobs: &[(String, u64)], start: u64, end: u64) -> Result<ResponseBody, AwsError> {
    let mut segments = Vec::new();
    let mut offset = 0u64;
    for (id, len) in blobs {
        let (seg_start, seg_end) = (offset, offset + len);
        offset = seg_end;
        if seg_end <= start || seg_start >= end {
            continue;
        }
        let id: BlobId = id.parse().map_err(error::internal)?;
        segments.push((id, start.max(seg_start) - seg_start, end.min(seg_end) - seg_start));
    }
    let chunks = futures_util::stream::iter(segments)
        .then(move |(id, from, to)| {
            let store = store.clone();
            async move { store.open(id, Some((from, to))).await.map_err(std::io::Error::other) }
        })
        .map_ok(|reader| tokio_util::io::ReaderStream::with_capacity(reader, STREAM_CHUNK))
        .try_flatten()
        .map(|r: Result<Bytes, _>| r.map(Frame::data).map_err(|e| Box::new(e) as brume_protocol::codec::BoxError));
    Ok(StreamBody::new(chunks).boxed_unsync())
}
