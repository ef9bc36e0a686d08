//! GetObjectAttributes: an object's ETag, checksum, parts, storage class and size, as
//! asked for in `x-amz-object-attributes`, without its body.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};

use crate::table::{self, Version};
use crate::{S3, error};

const ATTRIBUTES: &[&str] = &["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"];

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct Input {
    bucket: String,
    key: String,
    version_id: Option<String>,
    max_parts: Option<i64>,
    part_number_marker: Option<i64>,
    object_attributes: Vec<String>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Parts {
    total_parts_count: usize,
    part_number_marker: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_part_number_marker: Option<i64>,
    max_parts: i64,
    is_truncated: bool,
    parts: Vec<PartEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartEntry {
    part_number: i64,
    size: u64,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    #[serde(rename = "ETag", skip_serializing_if = "Option::is_none")]
    e_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object_parts: Option<Parts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object_size: Option<u64>,
}

fn parts_of(v: &Version, marker: i64, max: i64) -> Parts {
    let all: Vec<PartEntry> =
        v.parts.iter().enumerate().map(|(i, size)| PartEntry { part_number: i as i64 + 1, size: *size }).collect();
    let total = all.len();
    let page: Vec<PartEntry> = all.into_iter().filter(|p| p.part_number > marker).collect();
    let truncated = page.len() as i64 > max;
    let parts: Vec<PartEntry> = page.into_iter().take(max.max(0) as usize).collect();
    Parts {
        total_parts_count: total,
        part_number_marker: marker,
        next_part_number_marker: parts.last().map(|p| p.part_number),
        max_parts: max,
        is_truncated: truncated,
        parts,
    }
}

impl S3 {
    pub(crate) async fn get_object_attributes(
        self: Arc<Self>,
        ctx: RequestContext,
        input: Input,
    ) -> Result<Output, AwsError> {
        self.bucket(&ctx, &input.bucket)?;
        // The header is one comma-separated list, which clients may send as one value.
        let wanted: Vec<String> =
            input.object_attributes.iter().flat_map(|a| a.split(',')).map(|a| a.trim().to_string()).collect();
        if wanted.is_empty() {
            return Err(error::invalid_argument("Invalid attribute name specified.", "x-amz-object-attributes", ""));
        }
        if let Some(bad) = wanted.iter().find(|a| !ATTRIBUTES.contains(&a.as_str())) {
            return Err(error::invalid_argument("Invalid attribute name specified.", "x-amz-object-attributes", bad));
        }
        let v = match &input.version_id {
            Some(id) => table::find_version(self.kv.as_ref(), &input.bucket, &input.key, id)?
                .map(|(_, v)| v)
                .ok_or_else(|| error::no_such_version(&input.key, id))?,
            None => table::get_current(self.kv.as_ref(), &input.bucket, &input.key)?
                .ok_or_else(|| error::no_such_key(&input.key))?,
        };
        if v.delete_marker {
            return Err(error::no_such_key(&input.key).with_header("x-amz-delete-marker", "true"));
        }
        let has = |name: &str| wanted.iter().any(|w| w == name);
        let multipart = !v.parts.is_empty();
        Ok(Output {
            last_modified: Some(Timestamp(v.last_modified.floor())),
            version_id: (v.version_id != "null").then(|| v.version_id.clone()),
            // This API reports the ETag without quotes.
            e_tag: has("ETag").then(|| v.etag.trim_matches('"').to_string()),
            checksum: v.checksum.as_ref().filter(|_| has("Checksum")).map(|c| {
                BTreeMap::from([
                    (format!("Checksum{}", c.algorithm), c.value.clone()),
                    ("ChecksumType".into(), c.kind.clone()),
                ])
            }),
            object_parts: (has("ObjectParts") && multipart)
                .then(|| parts_of(&v, input.part_number_marker.unwrap_or(0), input.max_parts.unwrap_or(1000))),
            storage_class: has("StorageClass").then(|| v.storage_class.clone().unwrap_or_else(|| "STANDARD".into())),
            object_size: has("ObjectSize").then_some(v.size),
        })
    }
}
