//! DeleteObject and DeleteObjects: removal without versioning, delete markers with it,
//! permanent deletion of a named version.

use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_storage::Txn;
use serde::{Deserialize, Serialize};

use crate::notification::{self, Details};
use crate::table::{self, Version};
use crate::{S3, error, object};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteObjectInput {
    bucket: String,
    key: String,
    version_id: Option<String>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteObjectOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    delete_marker: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteObjectsInput {
    bucket: String,
    delete: DeleteRequest,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRequest {
    #[serde(default)]
    objects: Vec<ObjectIdentifier>,
    #[serde(default)]
    quiet: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectIdentifier {
    key: String,
    version_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeletedObject {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete_marker: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delete_marker_version_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteError {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    code: String,
    message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteObjectsOutput {
    deleted: Vec<DeletedObject>,
    #[serde(rename = "Errors")]
    errors: Vec<DeleteError>,
}

/// S3's limit on keys in one DeleteObjects request.
const MAX_BATCH: usize = 1000;

/// Who deletes: a client, or a lifecycle rule, whose deletions S3 reports as events of
/// their own, made by S3.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum DeletedBy {
    Request,
    Lifecycle,
}

impl DeletedBy {
    /// The event of a deletion (`marker`: one that made a delete marker).
    fn event(self, marker: bool) -> &'static str {
        match (self, marker) {
            (DeletedBy::Request, false) => "ObjectRemoved:Delete",
            (DeletedBy::Request, true) => "ObjectRemoved:DeleteMarkerCreated",
            (DeletedBy::Lifecycle, false) => "LifecycleExpiration:Delete",
            (DeletedBy::Lifecycle, true) => "LifecycleExpiration:DeleteMarkerCreated",
        }
    }

    fn details(self) -> Details {
        let principal = (self == DeletedBy::Lifecycle).then(|| notification::S3_PRINCIPAL.to_string());
        Details { principal, extra: None }
    }
}

impl S3 {
    /// Deletes one key (or one version of it) in its own transaction.
    pub(crate) async fn delete_one(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: String,
        version_id: Option<String>,
        by: DeletedBy,
    ) -> Result<DeleteObjectOutput, AwsError> {
        let bucket = bucket.to_string();
        let owner = ctx.account.clone();
        let request_id = ctx.request_id.clone();
        let (output, dead) = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                let b = table::read_bucket(txn, &bucket)
                    .map_err(error::internal)?
                    .ok_or_else(|| error::no_such_bucket(&bucket))?;
                if let Some(id) = version_id {
                    // Deleting a version that does not exist succeeds, as in S3.
                    let Some((record_key, v)) =
                        table::find_version(txn, &bucket, &key, &id).map_err(error::internal)?
                    else {
                        return Ok::<_, AwsError>((
                            DeleteObjectOutput { version_id: Some(id), ..Default::default() },
                            Vec::new(),
                        ));
                    };
                    let dead = table::remove_version(txn, &bucket, &record_key, &v).map_err(error::internal)?;
                    notification::enqueue_with(txn, &b, by.event(false), &v, &request_id, &by.details())?;
                    let out =
                        DeleteObjectOutput { delete_marker: v.delete_marker.then_some(true), version_id: Some(id) };
                    return Ok((out, dead));
                }
                match b.versioning.as_deref() {
                    None => {
                        // Never versioned: the current version is the key's only one, `null`.
                        let found = table::get_current(txn, &bucket, &key)
                            .map_err(error::internal)?
                            .map(|v| (table::current_key(&bucket, &key), v));
                        let dead = match found {
                            Some((record_key, v)) => {
                                notification::enqueue_with(txn, &b, by.event(false), &v, &request_id, &by.details())?;
                                table::remove_version(txn, &bucket, &record_key, &v).map_err(error::internal)?
                            }
                            None => Vec::new(),
                        };
                        Ok((DeleteObjectOutput::default(), dead))
                    }
                    Some(state) => {
                        let keys = table::ObjectKeys::new(&bucket, &key);
                        let current = table::current_for_write(txn, &keys).map_err(error::internal)?;
                        let marker = Version {
                            key: key.clone(),
                            version_id: object::version_id_for(Some(state)),
                            seq: table::next_seq(current.as_ref().map(|c| c.seq)),
                            delete_marker: true,
                            last_modified: Timestamp::now().0,
                            owner,
                            ..Default::default()
                        };
                        let record = table::encode_version(&marker);
                        let dead = table::put_version(txn, keys, &marker, record, current.as_ref())
                            .map_err(error::internal)?
                            .dead;
                        notification::enqueue_with(txn, &b, by.event(true), &marker, &request_id, &by.details())?;
                        Ok((
                            DeleteObjectOutput { delete_marker: Some(true), version_id: Some(marker.version_id) },
                            dead,
                        ))
                    }
                }
            })
            .await?;
        self.delete_blobs(dead).await;
        Ok(output)
    }

    pub(crate) async fn delete_object(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DeleteObjectInput,
    ) -> Result<DeleteObjectOutput, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        self.delete_one(&ctx, &input.bucket, input.key, input.version_id, DeletedBy::Request).await
    }

    pub(crate) async fn delete_objects(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DeleteObjectsInput,
    ) -> Result<DeleteObjectsOutput, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        if input.delete.objects.is_empty() || input.delete.objects.len() > MAX_BATCH {
            return Err(error::malformed_xml());
        }
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for obj in input.delete.objects {
            match self
                .delete_one(&ctx, &input.bucket, obj.key.clone(), obj.version_id.clone(), DeletedBy::Request)
                .await
            {
                Ok(out) => {
                    if input.delete.quiet {
                        continue;
                    }
                    let marker_created = obj.version_id.is_none() && out.delete_marker == Some(true);
                    deleted.push(DeletedObject {
                        key: obj.key,
                        version_id: obj.version_id,
                        delete_marker: out.delete_marker,
                        delete_marker_version_id: if marker_created { out.version_id } else { None },
                    });
                }
                Err(e) => errors.push(DeleteError {
                    key: obj.key,
                    version_id: obj.version_id,
                    code: e.code.to_string(),
                    message: e.message,
                }),
            }
        }
        Ok(DeleteObjectsOutput { deleted, errors })
    }
}
