//! [`S3Client`] for other services: object reads through the same lookups as GetObject,
//! listings through ListObjectsV2's pages, writes through PutObject's ingestion and
//! versioned write.

use std::collections::BTreeMap;

use brume_core::clients::{ListedObject, S3Client};
use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use http_body_util::BodyExt;

use crate::listing::{Entry, page};
use crate::object::{check_key, quote_etag};
use crate::table::Version;
use crate::{S3, body, error};

#[async_trait::async_trait]
impl S3Client for S3 {
    async fn get_object_bytes(
        &self,
        account: &str,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        max_size: u64,
    ) -> Result<Vec<u8>, AwsError> {
        self.bucket(&RequestContext::new(account, brume_core::DEFAULT_REGION), bucket)?;
        let version = self.version_to_read(bucket, key, version_id)?;
        if version.size > max_size {
            return Err(error::entity_too_large(Some(version.size), max_size));
        }
        body::read_all(self.blobs.as_ref(), &version.content, version.size).await
    }

    async fn get_object_range(
        &self,
        account: &str,
        bucket: &str,
        key: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, AwsError> {
        self.bucket(&RequestContext::new(account, brume_core::DEFAULT_REGION), bucket)?;
        let version = self.version_to_read(bucket, key, None)?;
        let end = end.min(version.size);
        let mut bytes = Vec::with_capacity(end.saturating_sub(start) as usize);
        if start < end {
            let reader = body::chunks(self.blobs.clone(), &version.content, start, end)?;
            brume_storage::read_to_end(reader, &mut bytes).await.map_err(error::internal)?;
        }
        Ok(bytes)
    }

    async fn list_objects(
        &self,
        account: &str,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<(Vec<ListedObject>, bool), AwsError> {
        self.bucket(&RequestContext::new(account, brume_core::DEFAULT_REGION), bucket)?;
        let (entries, truncated) = page(self.kv.as_ref(), bucket, prefix, None, after, max)?;
        let objects = entries
            .into_iter()
            .filter_map(|e| match e {
                Entry::Key(v) => Some(ListedObject {
                    key: v.key.clone(),
                    size: v.size,
                    etag: v.etag.clone(),
                    last_modified: v.last_modified.floor(),
                    storage_class: v.storage_class.clone().unwrap_or_else(|| "STANDARD".into()),
                }),
                Entry::Prefix(_) => None,
            })
            .collect();
        Ok((objects, truncated))
    }

    async fn put_object_bytes(
        &self,
        account: &str,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<String, AwsError> {
        check_key(key)?;
        let ctx = RequestContext::new(account, brume_core::DEFAULT_REGION);
        let bucket = self.bucket(&ctx, bucket)?;
        let stream = http_body_util::Full::new(bytes::Bytes::from(body)).map_err(|never| match never {}).boxed();
        let ingested = body::ingest(self.blobs.as_ref(), Some(stream), None, body::INLINE_MAX).await?;
        let version = Version {
            key: key.to_string(),
            version_id: String::new(),
            seq: 0,
            delete_marker: false,
            last_modified: Timestamp::now().0,
            size: ingested.size,
            etag: quote_etag(&ingested.md5),
            content: ingested.content(),
            headers: BTreeMap::from([("ContentType".to_string(), content_type.to_string())]),
            metadata: BTreeMap::new(),
            expires: None,
            storage_class: None,
            checksum: None,
            parts: Vec::new(),
            tags: Vec::new(),
            owner: account.to_string(),
            restore: None,
        };
        let written = self.write_version_as(&bucket, version, (None, None), "ObjectCreated:Put", &ctx.request_id).await;
        match written {
            Ok(v) => Ok(v.etag),
            Err(e) => {
                self.delete_blobs(ingested.blob()).await;
                Err(e)
            }
        }
    }
}
