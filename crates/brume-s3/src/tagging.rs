//! Object tags: put, get and delete on the current version or a named one.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_storage::Txn;
use serde::{Deserialize, Serialize};

use crate::table::{self, Version};
use crate::{S3, error, notification};

#[derive(Deserialize, Serialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    key: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tagging {
    tag_set: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInput {
    bucket: String,
    key: String,
    version_id: Option<String>,
    tagging: Tagging,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectInput {
    bucket: String,
    key: String,
    version_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    tag_set: Vec<Tag>,
}

/// S3's limits on object tags. Too many tags is `too_many_code`: S3 answers `BadRequest`
/// for an `x-amz-tagging` header and `InvalidTag` for a PutObjectTagging document.
pub(crate) fn check_tags(tags: &[(String, String)], too_many_code: &'static str) -> Result<(), AwsError> {
    if tags.len() > 10 {
        return Err(AwsError::new(400, too_many_code, "Object tags cannot be greater than 10"));
    }
    if tags.iter().any(|(k, _)| k.chars().count() > 128) {
        return Err(AwsError::new(400, "InvalidTag", "The TagKey you have provided is too long, max 128"));
    }
    if tags.iter().any(|(_, v)| v.chars().count() > 256) {
        return Err(AwsError::new(400, "InvalidTag", "The TagValue you have provided is too long, max 256"));
    }
    let mut keys: Vec<&String> = tags.iter().map(|(k, _)| k).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(AwsError::new(400, "InvalidTag", "Cannot provide multiple Tags with the same key"));
    }
    Ok(())
}

fn shown(version: &Version) -> Option<String> {
    (version.version_id != "null").then(|| version.version_id.clone())
}

impl S3 {
    /// Replaces the tags of the named version (or the current one), with its `event`
    /// (`ObjectTagging:Put` or `:Delete`).
    async fn set_tags(
        &self,
        ctx: &RequestContext,
        bucket: Arc<table::Bucket>,
        (key, version_id): (String, Option<String>),
        tags: Vec<(String, String)>,
        event: &'static str,
    ) -> Result<Version, AwsError> {
        let request_id = ctx.request_id.clone();
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let (record_key, mut version) =
                    crate::read::version_to_change(txn, &bucket.name, &key, version_id.as_deref())?;
                version.tags = tags;
                table::rewrite_version(txn, &bucket.name, &record_key, &version)?;
                notification::enqueue(txn, &bucket, event, &version, &request_id)?;
                Ok::<_, AwsError>(version)
            })
            .await
    }

    pub(crate) async fn put_object_tagging(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PutInput,
    ) -> Result<VersionOutput, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        let tags: Vec<(String, String)> = input.tagging.tag_set.into_iter().map(|t| (t.key, t.value)).collect();
        check_tags(&tags, "InvalidTag")?;
        let v = self.set_tags(&ctx, bucket, (input.key, input.version_id), tags, "ObjectTagging:Put").await?;
        Ok(VersionOutput { version_id: shown(&v) })
    }

    pub(crate) async fn delete_object_tagging(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ObjectInput,
    ) -> Result<VersionOutput, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        let v = self.set_tags(&ctx, bucket, (input.key, input.version_id), Vec::new(), "ObjectTagging:Delete").await?;
        Ok(VersionOutput { version_id: shown(&v) })
    }

    pub(crate) async fn get_object_tagging(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ObjectInput,
    ) -> Result<GetOutput, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        let version = match &input.version_id {
            Some(id) => table::find_version(self.kv.as_ref(), &input.bucket, &input.key, id)?
                .map(|(_, v)| v)
                .ok_or_else(|| error::no_such_version(&input.key, id))?,
            None => table::get_current(self.kv.as_ref(), &input.bucket, &input.key)?
                .filter(|v| !v.delete_marker)
                .ok_or_else(|| error::no_such_key(&input.key))?,
        };
        let tag_set = version.tags.iter().map(|(k, v)| Tag { key: k.clone(), value: v.clone() }).collect();
        Ok(GetOutput { version_id: shown(&version), tag_set })
    }
}
