//! CopyObject: a new object (or version) with the bytes of another, metadata copied or
//! replaced, source conditions checked. Bytes are copied blob to blob, streamed.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::value::{Blob, Timestamp};
use brume_core::{AwsError, RequestContext};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use crate::table::{self, Content, Version};
use crate::{S3, body, error, lock, object};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CopyObjectInput {
    bucket: String,
    key: String,
    copy_source: String,
    object_lock_mode: lock::Member,
    object_lock_retain_until_date: lock::Member,
    object_lock_legal_hold_status: lock::Member,
    metadata_directive: Option<String>,
    tagging_directive: Option<String>,
    tagging: Option<String>,
    metadata: BTreeMap<String, String>,
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    website_redirect_location: Option<String>,
    expires: Option<Timestamp>,
    storage_class: Option<String>,
    copy_source_if_match: Option<String>,
    copy_source_if_none_match: Option<String>,
    copy_source_if_modified_since: Option<Timestamp>,
    copy_source_if_unmodified_since: Option<Timestamp>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyObjectResult {
    #[serde(rename = "ETag")]
    e_tag: String,
    last_modified: Timestamp,
    #[serde(flatten)]
    checksum: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyObjectOutput {
    copy_object_result: CopyObjectResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    copy_source_version_id: Option<String>,
    server_side_encryption: &'static str,
}

/// `bucket/key[?versionId=id]`, percent-encoded, with or without a leading slash.
pub fn parse_copy_source(source: &str) -> Result<(String, String, Option<String>), AwsError> {
    let invalid = || error::invalid_argument("Invalid copy source object key", "x-amz-copy-source", source);
    let (path, query) = source.split_once('?').unwrap_or((source, ""));
    let path =
        percent_encoding::percent_decode_str(path.trim_start_matches('/')).decode_utf8().map_err(|_| invalid())?;
    let (bucket, key) = path.split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    let version = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "versionId").map(|(_, v)| v.into_owned());
    Ok((bucket.to_string(), key.to_string(), version))
}

fn check_source_conditions(v: &Version, input: &CopyObjectInput) -> Result<(), AwsError> {
    let modified = v.last_modified.floor();
    let failed = |h: &str| Err(error::precondition_failed(h));
    if let Some(c) = &input.copy_source_if_match {
        if !object::etag_matches(c, &v.etag) {
            return failed("x-amz-copy-source-If-Match");
        }
    } else if input.copy_source_if_unmodified_since.is_some_and(|t| modified > t.0) {
        return failed("x-amz-copy-source-If-Unmodified-Since");
    }
    if let Some(c) = &input.copy_source_if_none_match {
        if object::etag_matches(c, &v.etag) {
            return failed("x-amz-copy-source-If-None-Match");
        }
    } else if input.copy_source_if_modified_since.is_some_and(|t| modified <= t.0) {
        return failed("x-amz-copy-source-If-Modified-Since");
    }
    Ok(())
}

impl S3 {
    /// The bucket, key and version an `x-amz-copy-source` names, readable by the caller.
    pub(crate) fn copy_source(
        &self,
        ctx: &RequestContext,
        copy_source: &str,
    ) -> Result<(String, String, Version), AwsError> {
        let (bucket, key, version_id) = parse_copy_source(copy_source)?;
        self.bucket(ctx, &bucket)?;
        let version = match &version_id {
            None => table::get_current(self.kv.as_ref(), &bucket, &key)?
                .filter(|v| !v.delete_marker)
                .ok_or_else(|| error::no_such_key(&key))?,
            Some(id) => {
                let (_, v) = table::find_version(self.kv.as_ref(), &bucket, &key, id)?
                    .ok_or_else(|| error::no_such_version(&key, id))?;
                if v.delete_marker {
                    return Err(error::invalid_request(
                        "The source of a copy request may not specifically refer to a delete marker by version id.",
                    ));
                }
                v
            }
        };
        crate::archive::check_copyable(&version)?;
        Ok((bucket, key, version))
    }

    pub(crate) async fn copy_object(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CopyObjectInput,
    ) -> Result<CopyObjectOutput, AwsError> {
        object::check_key(&input.key)?;
        let bucket = self.bucket(&ctx, &input.bucket)?;
        lock::refuse_on_write(
            &input.object_lock_mode,
            &input.object_lock_retain_until_date,
            &input.object_lock_legal_hold_status,
        )?;
        let (src_bucket, src_key, source) = self.copy_source(&ctx, &input.copy_source)?;
        check_source_conditions(&source, &input)?;
        let replace = match input.metadata_directive.as_deref() {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(other) => {
                return Err(error::invalid_argument("Unknown metadata directive.", "MetadataDirective", other));
            }
        };
        if replace {
            object::check_metadata(&input.metadata)?;
        }
        let replace_tags = input.tagging_directive.as_deref() == Some("REPLACE");
        let same_object = src_bucket == input.bucket && src_key == input.key;
        if same_object && !replace && input.storage_class.is_none() && input.website_redirect_location.is_none() {
            return Err(error::invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let content = self.copy_bytes(&source).await?;
        let size = source.size;
        let mut headers = source.headers.clone();
        let mut metadata = source.metadata.clone();
        let mut expires = source.expires;
        if replace {
            let put = object::PutObjectInput {
                content_type: input.content_type.clone(),
                content_encoding: input.content_encoding.clone(),
                content_disposition: input.content_disposition.clone(),
                content_language: input.content_language.clone(),
                cache_control: input.cache_control.clone(),
                website_redirect_location: input.website_redirect_location.clone(),
                ..Default::default()
            };
            headers = put.headers();
            metadata = input.metadata.clone();
            expires = input.expires.map(|t| t.0);
        }
        let version = Version {
            key: input.key.clone(),
            last_modified: Timestamp::now().0,
            size,
            etag: source.etag.clone(),
            content: content.clone(),
            headers,
            metadata,
            expires,
            // A copy is STANDARD unless the request names a class: it does not inherit the
            // source's (a restored archive's copy is readable).
            storage_class: input.storage_class.clone().filter(|c| c != "STANDARD"),
            checksum: source.checksum.clone(),
            parts: source.parts.clone(),
            tags: if replace_tags {
                input
                    .tagging
                    .as_deref()
                    .map(|t| form_urlencoded::parse(t.as_bytes()).into_owned().collect())
                    .unwrap_or_default()
            } else {
                source.tags.clone()
            },
            owner: ctx.account.clone(),
            ..Default::default()
        };
        let written =
            self.write_version_as(&bucket, version, (None, None), "ObjectCreated:Copy", &ctx.request_id).await;
        let version = match written {
            Ok(v) => v,
            Err(e) => {
                self.delete_blobs(content.blobs.into_iter().map(|(b, _)| b).collect()).await;
                return Err(e);
            }
        };
        let mut checksum = BTreeMap::new();
        if let Some(c) = &version.checksum {
            checksum.insert(format!("Checksum{}", c.algorithm), c.value.clone());
        }
        Ok(CopyObjectOutput {
            copy_object_result: CopyObjectResult {
                e_tag: version.etag.clone(),
                last_modified: Timestamp(version.last_modified.floor()),
                checksum,
            },
            version_id: (version.version_id != "null").then_some(version.version_id),
            copy_source_version_id: (source.version_id != "null").then_some(source.version_id),
            server_side_encryption: "AES256",
        })
    }

    /// A copy of the bytes of `source`: inline bytes as they are, a small object's blobs
    /// (written before small objects were kept inline) into inline bytes, larger blobs into
    /// a new blob in bounded chunks.
    async fn copy_bytes(&self, source: &Version) -> Result<Content, AwsError> {
        if source.content.inline.is_some() {
            return Ok(source.content.clone());
        }
        if source.size <= body::INLINE_MAX as u64 {
            let bytes = body::read_all(self.blobs.as_ref(), &source.content, source.size).await?;
            return Ok(Content { blobs: Vec::new(), inline: Some(Blob(bytes)) });
        }
        let mut writer = self.blobs.create().await.map_err(error::internal)?;
        let mut chunks = body::chunks(self.blobs.clone(), &source.content, 0, source.size)?;
        while let Some(chunk) = chunks.next().await {
            writer.write(chunk.map_err(error::internal)?).await.map_err(error::internal)?;
        }
        let size = writer.len();
        let id = writer.commit().await.map_err(error::internal)?;
        Ok(Content { blobs: vec![(id.to_string(), size)], inline: None })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_copy_source;

    #[test]
    fn copy_sources_are_decoded() {
        assert_eq!(parse_copy_source("b/k").unwrap(), ("b".into(), "k".into(), None));
        assert_eq!(parse_copy_source("/b/dir/a%20b%2Bc").unwrap(), ("b".into(), "dir/a b+c".into(), None));
        assert_eq!(parse_copy_source("b/k?versionId=v1").unwrap(), ("b".into(), "k".into(), Some("v1".into())));
        assert!(parse_copy_source("b").is_err());
    }
}
