//! [`S3Client`] for other services: object reads through the same lookups as GetObject.

use brume_core::clients::S3Client;
use brume_core::{AwsError, RequestContext};
use brume_storage::BlobId;
use tokio::io::AsyncReadExt;

use crate::{S3, error};

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
            return Err(error::entity_too_large());
        }
        if let Some(inline) = version.content.inline {
            return Ok(inline.0);
        }
        let mut bytes = Vec::with_capacity(version.size as usize);
        for (id, _) in &version.content.blobs {
            let id: BlobId = id.parse().map_err(error::internal)?;
            let mut reader = self.blobs.open(id, None).await.map_err(error::internal)?;
            reader.read_to_end(&mut bytes).await.map_err(error::internal)?;
        }
        Ok(bytes)
    }
}
