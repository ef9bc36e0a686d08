//! Bucket versioning: its state (Enabled, Suspended) and the listing of every version and
//! delete marker. Version records are written by the object operations (see
//! [`crate::table`]): ids while Enabled, `null` otherwise.

use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_storage::Txn;
use serde::{Deserialize, Serialize};

use crate::bucket::{Owner, owner};
use crate::listing::{check_encoding, url_encode};
use crate::table::{self, KEYSPACE};
use crate::{S3, error};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutVersioningInput {
    bucket: String,
    versioning_configuration: VersioningConfiguration,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct VersioningConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(rename = "MFADelete", skip_serializing_if = "Option::is_none")]
    mfa_delete: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketInput {
    bucket: String,
}

#[derive(Serialize)]
pub struct Empty {}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListVersionsInput {
    bucket: String,
    prefix: Option<String>,
    delimiter: Option<String>,
    key_marker: Option<String>,
    version_id_marker: Option<String>,
    max_keys: Option<i64>,
    encoding_type: Option<String>,
    optional_object_attributes: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionEntry {
    key: String,
    version_id: String,
    is_latest: bool,
    last_modified: Timestamp,
    #[serde(rename = "ETag")]
    e_tag: String,
    size: u64,
    storage_class: String,
    owner: Owner,
    #[serde(skip_serializing_if = "Option::is_none")]
    restore_status: Option<crate::archive::RestoreStatus>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MarkerEntry {
    key: String,
    version_id: String,
    is_latest: bool,
    last_modified: Timestamp,
    owner: Owner,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommonPrefix {
    prefix: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsOutput {
    name: String,
    prefix: String,
    key_marker: String,
    version_id_marker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_key_marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_version_id_marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    max_keys: i64,
    is_truncated: bool,
    versions: Vec<VersionEntry>,
    delete_markers: Vec<MarkerEntry>,
    common_prefixes: Vec<CommonPrefix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_type: Option<String>,
}

impl S3 {
    pub(crate) async fn put_bucket_versioning(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PutVersioningInput,
    ) -> Result<Empty, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        let status = match input.versioning_configuration.status.as_deref() {
            Some(s @ ("Enabled" | "Suspended")) => s.to_string(),
            _ => return Err(error::malformed_xml()),
        };
        if input.versioning_configuration.mfa_delete.as_deref().is_some_and(|m| m != "Disabled") {
            return Err(error::invalid_request("DevPay and Mfa are mutually exclusive authorization methods."));
        }
        let name = input.bucket;
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let mut b = table::get_bucket(txn, &name)?.ok_or_else(|| error::no_such_bucket(&name))?;
                b.versioning = Some(status);
                txn.put(KEYSPACE, &table::bucket_key(&name), &table::encode(&b))?;
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(Empty {})
    }

    pub(crate) async fn get_bucket_versioning(
        self: Arc<Self>,
        ctx: RequestContext,
        input: BucketInput,
    ) -> Result<VersioningConfiguration, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        Ok(VersioningConfiguration { status: bucket.versioning.clone(), mfa_delete: None })
    }

    pub(crate) async fn list_object_versions(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListVersionsInput,
    ) -> Result<ListVersionsOutput, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        let max = input.max_keys.unwrap_or(1000).clamp(0, 1000);
        let prefix = input.prefix.clone().unwrap_or_default();
        let key_marker = input.key_marker.clone().unwrap_or_default();
        let id_marker = input.version_id_marker.clone().unwrap_or_default();
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let encode = check_encoding(&input.encoding_type)?;
        if key_marker.is_empty() && !id_marker.is_empty() {
            return Err(error::invalid_argument(
                "A version-id marker cannot be specified without a key marker.",
                "version-id-marker",
                &id_marker,
            ));
        }
        // Versions of keys before the key marker are never listed: start the scan at it.
        let from =
            if key_marker.len() > prefix.len() && key_marker.starts_with(&prefix) { &key_marker } else { &prefix };
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut count = 0i64;
        let mut truncated = false;
        // The last entry listed: a version's key and id, or a common prefix alone.
        let mut last: Option<(String, Option<String>)> = None;
        // Past the id marker of the marker key, when resuming inside a key's versions.
        let mut past_id = id_marker.is_empty();
        for listed in table::Versions::new(self.kv.as_ref(), &input.bucket, &prefix, from) {
            let table::Listed { version, latest: is_latest } = listed?;
            let rollup = delimiter.as_deref().and_then(|d| {
                version.key[prefix.len()..].find(d).map(|i| version.key[..prefix.len() + i + d.len()].to_string())
            });
            // A key marker that is a common prefix (the last entry of the previous page)
            // resumes after every key it rolled up.
            if !key_marker.is_empty() && rollup.as_deref() == Some(key_marker.as_str()) {
                continue;
            }
            if !key_marker.is_empty() {
                if version.key < key_marker || (version.key == key_marker && id_marker.is_empty()) {
                    continue;
                }
                if version.key == key_marker && !past_id {
                    past_id = version.version_id == id_marker;
                    continue;
                }
            }
            if let Some(p) = &rollup
                && prefixes.last() == Some(p)
            {
                continue;
            }
            if count == max {
                truncated = true;
                break;
            }
            count += 1;
            if let Some(p) = rollup {
                last = Some((p.clone(), None));
                prefixes.push(p);
                continue;
            }
            last = Some((version.key.clone(), Some(version.version_id.clone())));
            if version.delete_marker {
                markers.push(MarkerEntry {
                    key: url_encode(&version.key, encode),
                    version_id: version.version_id,
                    is_latest,
                    last_modified: Timestamp(version.last_modified.floor()),
                    owner: owner(&version.owner),
                });
            } else {
                versions.push(VersionEntry {
                    restore_status: crate::archive::restore_status(&version, &input.optional_object_attributes),
                    owner: owner(&version.owner),
                    storage_class: version.storage_class.clone().unwrap_or_else(|| "STANDARD".into()),
                    key: url_encode(&version.key, encode),
                    version_id: version.version_id,
                    is_latest,
                    last_modified: Timestamp(version.last_modified.floor()),
                    e_tag: version.etag,
                    size: version.size,
                });
            }
        }
        let (next_key, next_id) = match (truncated, last) {
            (true, Some((k, id))) => (Some(url_encode(&k, encode)), id),
            _ => (None, None),
        };
        Ok(ListVersionsOutput {
            name: input.bucket,
            prefix: url_encode(&prefix, encode),
            key_marker: url_encode(&key_marker, encode),
            version_id_marker: id_marker,
            next_key_marker: next_key,
            next_version_id_marker: next_id,
            delimiter: delimiter.map(|d| url_encode(&d, encode)),
            max_keys: max,
            is_truncated: truncated,
            versions,
            delete_markers: markers,
            common_prefixes: prefixes.into_iter().map(|p| CommonPrefix { prefix: url_encode(&p, encode) }).collect(),
            encoding_type: input.encoding_type,
        })
    }
}
