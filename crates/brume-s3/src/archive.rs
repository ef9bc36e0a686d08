//! The archive storage classes (GLACIER, DEEP_ARCHIVE): their objects are listed and
//! described, but not read or copied until restored, as on S3. RestoreObject asks for a
//! temporary copy readable for `Days` days; the restore is in progress (GET still refused,
//! a second request `RestoreAlreadyInProgress`) until the `s3-restores` job completes it,
//! at its first run a second or more after the request — S3 takes minutes to hours —
//! and the copy expires at the midnight UTC after the request time plus `Days`, when the
//! object is archived again. Each step sends its event (`ObjectRestore:Post`,
//! `:Completed`, `:Delete`).
//!
//! The restores in progress are indexed under `restoring/<bucket>/<key>/<version>`, the
//! restored copies under `restored/<expiry>/<bucket>/<key>/<version>`, so the job reads
//! only what it has to change.

use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_protocol::Streamed;
use brume_protocol::codec::timestamp::http_date;
use brume_storage::key::{self, Element};
use brume_storage::{Direction, KeyRange, Txn};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::notification::{self, Details};
use crate::table::{self, KEYSPACE, Version};
use crate::{S3, error, lifecycle};

/// The classes whose objects must be restored to be read.
const ARCHIVES: [&str; 2] = ["GLACIER", "DEEP_ARCHIVE"];

/// How long a restore is in progress, at the least.
const RESTORE_SECONDS: f64 = 1.0;

/// Index entries the job handles per transaction.
const BATCH: usize = 256;

/// A restore asked of an archived version: when, for how many days, and once complete,
/// until when its copy can be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Restore {
    pub requested: f64,
    pub days: i64,
    pub until: Option<f64>,
}

fn is_archive(v: &Version) -> bool {
    v.storage_class.as_deref().is_some_and(|c| ARCHIVES.contains(&c))
}

/// Whether `v` is in an archive class and has no readable copy at `now`.
pub fn archived(v: &Version, now: f64) -> bool {
    is_archive(v) && !v.restore.and_then(|r| r.until).is_some_and(|until| until > now)
}

/// GetObject's refusal of an archived object.
pub fn check_readable(v: &Version) -> Result<(), AwsError> {
    // The class first: the clock is read for archived objects only.
    if is_archive(v) && archived(v, Timestamp::now().0) {
        return Err(AwsError::new(
            403,
            "InvalidObjectState",
            "The operation is not valid for the object's storage class",
        )
        .with_field("StorageClass", v.storage_class.clone().unwrap_or_default()));
    }
    Ok(())
}

/// CopyObject's and UploadPartCopy's refusal of an archived source.
pub fn check_copyable(v: &Version) -> Result<(), AwsError> {
    if is_archive(v) && archived(v, Timestamp::now().0) {
        return Err(AwsError::new(
            403,
            "InvalidObjectState",
            "Operation is not valid for the source object's storage class",
        ));
    }
    Ok(())
}

/// The `x-amz-restore` header of an object whose restore was asked for.
pub fn restore_header(v: &Version) -> Option<String> {
    Some(match v.restore?.until {
        None => "ongoing-request=\"true\"".to_string(),
        Some(until) => format!("ongoing-request=\"false\", expiry-date=\"{}\"", http_date(Timestamp(until))),
    })
}

/// A listing's `RestoreStatus`, for an object whose restore was asked for, when the
/// listing asks for it.
#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreStatus {
    is_restore_in_progress: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    restore_expiry_date: Option<Timestamp>,
}

pub fn restore_status(v: &Version, asked: &[String]) -> Option<RestoreStatus> {
    let restore = v.restore?;
    asked.iter().any(|a| a == "RestoreStatus").then_some(RestoreStatus {
        is_restore_in_progress: restore.until.is_none(),
        restore_expiry_date: restore.until.map(Timestamp),
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestoreObjectInput {
    bucket: String,
    key: String,
    version_id: Option<String>,
    restore_request: Option<RestoreRequest>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RestoreRequest {
    days: Option<i64>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    output_location: Option<serde_json::Value>,
}

#[derive(Serialize)]
pub struct RestoreObjectOutput {}

/// What the job made of an index entry: the change it stands for is done, is not due
/// yet (the entry stays), or no longer applies.
#[derive(PartialEq)]
enum Entry {
    Done,
    Later,
    Stale,
}

fn restoring_key(bucket: &str, key: &str, version_id: &str) -> Vec<u8> {
    key::encode_strings_then(&["restoring", bucket, key, version_id], &[])
}

fn millis(t: f64) -> Element {
    Element::Int((t * 1000.0) as i128)
}

fn restored_key(until: f64, bucket: &str, key: &str, version_id: &str) -> Vec<u8> {
    key::encode(&["restored".into(), millis(until), bucket.into(), key.into(), version_id.into()])
}

/// The bucket, key and version id at the end of an index key.
fn named_version(index_key: &[u8]) -> Option<(String, String, String)> {
    let mut parts = key::decode(index_key).ok()?.into_iter().rev();
    let mut next = || match parts.next() {
        Some(Element::String(s)) => Some(s),
        _ => None,
    };
    let (id, key, bucket) = (next()?, next()?, next()?);
    Some((bucket, key, id))
}

impl S3 {
    /// RestoreObject: `202 Accepted` for a restore it begins, `200 OK` for a restored copy
    /// whose expiry it moves.
    pub(crate) async fn restore_object(
        self: Arc<Self>,
        ctx: RequestContext,
        input: RestoreObjectInput,
        _body: Option<brume_protocol::RequestBody>,
    ) -> Result<Streamed<RestoreObjectOutput>, AwsError> {
        let bucket = self.bucket(&ctx, &input.bucket)?;
        let request = input.restore_request.unwrap_or_default();
        if request.kind.is_some() {
            return Err(error::not_implemented_header("RestoreRequest/Type"));
        }
        // Where a SELECT restore writes its answer: S3 refuses it on any other restore.
        if request.output_location.is_some() {
            return Err(error::malformed_xml());
        }
        let (key, version_id, request_id) = (input.key, input.version_id, ctx.request_id.clone());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let (record_key, mut v) =
                    crate::read::version_to_change(txn, &bucket.name, &key, version_id.as_deref())?;
                if !is_archive(&v) {
                    return Err(AwsError::new(
                        403,
                        "InvalidObjectState",
                        "Restore is not allowed for the object's current storage class",
                    ));
                }
                let days = request.days.ok_or_else(error::malformed_xml)?;
                let now = Timestamp::now().0;
                let status = match v.restore {
                    Some(Restore { until: None, .. }) => {
                        return Err(AwsError::new(
                            409,
                            "RestoreAlreadyInProgress",
                            "Object restore is already in progress.",
                        ));
                    }
                    // A copy still readable gets its new expiry at once.
                    Some(Restore { until: Some(before), .. }) if before > now => {
                        let until = lifecycle::expires_at(now, days);
                        txn.delete(KEYSPACE, &restored_key(before, &bucket.name, &key, &v.version_id))?;
                        txn.put(KEYSPACE, &restored_key(until, &bucket.name, &key, &v.version_id), &[])?;
                        v.restore = Some(Restore { requested: now, days, until: Some(until) });
                        200
                    }
                    previous => {
                        // A copy expired but not yet taken back by the job is taken back now.
                        if let Some(Restore { until: Some(before), .. }) = previous {
                            txn.delete(KEYSPACE, &restored_key(before, &bucket.name, &key, &v.version_id))?;
                            notification::enqueue(txn, &bucket, "ObjectRestore:Delete", &v, &request_id)?;
                        }
                        v.restore = Some(Restore { requested: now, days, until: None });
                        txn.put(KEYSPACE, &restoring_key(&bucket.name, &key, &v.version_id), &[])?;
                        notification::enqueue(txn, &bucket, "ObjectRestore:Post", &v, &request_id)?;
                        202
                    }
                };
                table::rewrite_version(txn, &bucket.name, &record_key, &v)?;
                Ok(Streamed { output: RestoreObjectOutput {}, body: None, status: Some(status) })
            })
            .await
    }

    /// Completes the restores asked for a second or more before `now`, and archives again
    /// the restored copies whose expiry passed; answers how many of both.
    pub async fn run_restores(&self, now: Timestamp) -> Result<u64, AwsError> {
        let completed = self
            .index_batches(KeyRange::prefix(&key::encode(&["restoring".into()])), move |txn, bucket, record_key, v| {
                let Some(restore) = v.restore.filter(|r| r.until.is_none()) else {
                    return Ok(Entry::Stale);
                };
                if restore.requested + RESTORE_SECONDS > now.0 {
                    return Ok(Entry::Later);
                }
                let until = lifecycle::expires_at(restore.requested, restore.days);
                v.restore = Some(Restore { until: Some(until), ..restore });
                table::rewrite_version(txn, &bucket.name, record_key, v)?;
                txn.put(KEYSPACE, &restored_key(until, &bucket.name, &v.key, &v.version_id), &[])?;
                let details = Details {
                    principal: Some(format!("AmazonCustomer:{}", v.owner)),
                    extra: Some((
                        "glacierEventData",
                        json!({"restoreEventData": {
                            "lifecycleRestorationExpiryTime": Timestamp(until).iso8601(),
                            "lifecycleRestoreStorageClass": v.storage_class,
                        }}),
                    )),
                };
                notification::enqueue_with(txn, bucket, "ObjectRestore:Completed", v, "", &details)?;
                Ok(Entry::Done)
            })
            .await?;
        let due = KeyRange::between(
            &key::encode(&["restored".into()]),
            &key::encode(&["restored".into(), millis(now.0 + 0.001)]),
        );
        let expired = self
            .index_batches(due, move |txn, bucket, record_key, v| {
                // An entry of an expiry since moved or taken back is stale.
                if !v.restore.and_then(|r| r.until).is_some_and(|until| until <= now.0) {
                    return Ok(Entry::Stale);
                }
                v.restore = None;
                table::rewrite_version(txn, &bucket.name, record_key, v)?;
                notification::enqueue(txn, bucket, "ObjectRestore:Delete", v, "")?;
                Ok(Entry::Done)
            })
            .await?;
        Ok(completed + expired)
    }

    /// Takes the entries of an index of versions under `range` a batch per transaction:
    /// `step` changes the version an entry names, or says why not; answers how many it
    /// changed.
    async fn index_batches<F>(&self, range: KeyRange, step: F) -> Result<u64, AwsError>
    where
        F: Fn(&mut dyn Txn, &table::Bucket, &[u8], &mut Version) -> Result<Entry, AwsError> + Clone + Send + 'static,
    {
        // Most runs find nothing: a read of the snapshot tells, without a transaction.
        if self.kv.scan(KEYSPACE, &range, Direction::Forward, 1)?.is_empty() {
            return Ok(0);
        }
        let mut total = 0;
        let mut from = range;
        loop {
            // Entries left in place (restores not yet due) are passed over, not read again.
            let (step, scan) = (step.clone(), from.clone());
            let (done, last) = self
                .kv
                .transact(move |txn: &mut dyn Txn| {
                    let entries = txn.scan(KEYSPACE, &scan, Direction::Forward, BATCH)?;
                    let mut done = 0;
                    for (index_key, _) in &entries {
                        let found = match named_version(index_key) {
                            Some((bucket, key, id)) => table::read_bucket(txn, &bucket)
                                .map_err(error::internal)?
                                .zip(table::find_version(txn, &bucket, &key, &id)?),
                            None => None,
                        };
                        // A version gone takes what its entry waited for with it.
                        let entry = match found {
                            Some((bucket, (record_key, mut v))) => step(txn, &bucket, &record_key, &mut v)?,
                            None => Entry::Stale,
                        };
                        done += u64::from(entry == Entry::Done);
                        if entry != Entry::Later {
                            txn.delete(KEYSPACE, index_key)?;
                        }
                    }
                    let last = entries.last().filter(|_| entries.len() == BATCH).map(|(k, _)| k.clone());
                    Ok::<_, AwsError>((done, last))
                })
                .await?;
            total += done;
            match last {
                Some(k) => from.start = std::ops::Bound::Excluded(k),
                None => return Ok(total),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use brume_core::clients::S3Client;
    use brume_storage::Storage;

    use serde_json::Value;

    use super::*;

    fn input<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    fn restore_of(s3: &S3) -> Option<Restore> {
        table::get_current(s3.kv.as_ref(), "cold", "k").unwrap().unwrap().restore
    }

    #[tokio::test]
    async fn restores_complete_a_second_after_and_expire_at_their_date() {
        let storage = Storage::in_memory();
        let s3 = S3::new(&storage);
        let ctx = RequestContext::new("000000000000", "us-east-1");
        s3.clone().create_bucket(ctx.clone(), input(json!({"Bucket": "cold"}))).await.unwrap();
        s3.put_object_bytes("000000000000", "cold", "k", b"x".to_vec(), "text/plain").await.unwrap();
        let copy = json!({"Bucket": "cold", "Key": "k", "CopySource": "cold/k", "StorageClass": "GLACIER"});
        s3.clone().copy_object(ctx.clone(), input(copy)).await.unwrap();
        let asked = json!({"Bucket": "cold", "Key": "k", "RestoreRequest": {"Days": 1}});
        let answer = s3.clone().restore_object(ctx.clone(), input(asked), None).await.unwrap();
        assert_eq!(answer.status, Some(202));
        let requested = restore_of(&s3).unwrap().requested;

        // In progress until a second has passed.
        assert_eq!(s3.run_restores(Timestamp(requested + 0.5)).await.unwrap(), 0);
        assert_eq!(restore_of(&s3).unwrap().until, None);
        assert_eq!(s3.run_restores(Timestamp(requested + 1.0)).await.unwrap(), 1);
        let until = lifecycle::expires_at(requested, 1);
        assert_eq!(restore_of(&s3).unwrap().until, Some(until));
        assert!(!archived(&table::get_current(s3.kv.as_ref(), "cold", "k").unwrap().unwrap(), until - 1.0));

        // Archived again once its day is over, and only then.
        assert_eq!(s3.run_restores(Timestamp(until - 1.0)).await.unwrap(), 0);
        assert_eq!(s3.run_restores(Timestamp(until)).await.unwrap(), 1);
        assert_eq!(restore_of(&s3), None);
        assert_eq!(s3.run_restores(Timestamp(until + 1.0)).await.unwrap(), 0);
        let indexes =
            s3.kv.scan(KEYSPACE, &KeyRange::prefix(&key::encode(&["restored".into()])), Direction::Forward, 10);
        assert!(indexes.unwrap().is_empty());
    }
}
