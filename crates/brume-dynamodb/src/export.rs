//! Exports to S3: ExportTableToPointInTime, DescribeExport and ListExports.
//!
//! - `ex/<account>/<region>/<table name>/<suffix>` → [`Export`], keyed as its ARN
//!   (`…:table/<name>/export/<suffix>`)
//!
//! An export writes the table as it was at its export time (see [`crate::pitr`]) into the
//! bucket as DynamoDB lays it out: under `<prefix>/AWSDynamoDB/<export id>/`, a `_started`
//! marker, gzipped `data/*.json.gz` files of one `{"Item": …}` per line, then
//! `manifest-files.json` (a line per data file) and `manifest-summary.json`. It runs in the
//! background, `IN_PROGRESS` until it is `COMPLETED` or `FAILED` (with S3's error); one a
//! stop interrupted runs again at start-up, from the history, to the same content.

use std::io::Write;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext, value::Timestamp};
use brume_storage::key;
use brume_storage::{KvPair, ReadView, Txn};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::Ddb;
use crate::backup::{arn_suffix, by_client_token, key_of_arn, load, page_of, save, with_optional};
use crate::control::{backups_table_not_found, table_of_arn};
use crate::error::validation;
use crate::pitr::{ItemsAt, before_changes_after, earliest, unavailable};
use crate::table::{self, Table, corrupt};

/// Items read per page while writing the data files.
const PAGE: usize = 1000;
/// A data file is closed once this many bytes of JSON have gone into it.
const FILE_BYTES: usize = 8 << 20;

#[derive(Clone, Serialize, Deserialize)]
pub struct Export {
    arn: String,
    id: String,
    status: String,
    start: f64,
    end: Option<f64>,
    table: Table,
    time: f64,
    bucket: String,
    owner: Option<String>,
    prefix: Option<String>,
    sse: String,
    kms_key: Option<String>,
    client_token: Option<String>,
    items: u64,
    bytes: u64,
    manifest: Option<String>,
    failure: Option<(String, String)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportTableToPointInTimeInput {
    table_arn: String,
    export_time: Option<Timestamp>,
    client_token: Option<String>,
    s3_bucket: String,
    s3_bucket_owner: Option<String>,
    s3_prefix: Option<String>,
    s3_sse_algorithm: Option<String>,
    s3_sse_kms_key_id: Option<String>,
    export_format: Option<String>,
    export_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeExportInput {
    export_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListExportsInput {
    table_arn: Option<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

fn export_key(account: &str, region: &str, table: &str, suffix: &str) -> Vec<u8> {
    key::encode_strings_then(&["ex", account, region, table, suffix], &[])
}

fn export_not_found(arn: &str) -> AwsError {
    AwsError::new(400, "ExportNotFoundException", format!("Export not found: {arn}"))
}

/// The record key of export `arn`.
fn export_of_arn(ctx: &RequestContext, arn: &str, action: &str) -> Result<Vec<u8>, AwsError> {
    key_of_arn(ctx, arn, ("export", "ex"), action, export_not_found)
}

impl Export {
    /// Where its files go: `<prefix>/AWSDynamoDB/<export id>/`.
    fn folder(&self) -> String {
        match self.prefix.as_deref().map(|p| p.trim_end_matches('/')).filter(|p| !p.is_empty()) {
            Some(prefix) => format!("{prefix}/AWSDynamoDB/{}/", self.id),
            None => format!("AWSDynamoDB/{}/", self.id),
        }
    }

    fn description(&self) -> Json {
        let out = json!({
            "ExportArn": self.arn,
            "ExportStatus": self.status,
            "StartTime": self.start,
            "TableArn": self.table.arn(),
            "TableId": self.table.id,
            "ExportTime": self.time,
            "S3Bucket": self.bucket,
            "S3SseAlgorithm": self.sse,
            "ExportFormat": "DYNAMODB_JSON",
            "ExportType": "FULL_EXPORT",
            "BilledSizeBytes": self.bytes,
            "ItemCount": self.items,
        });
        with_optional(
            out,
            [
                ("EndTime", self.end.map(Json::from)),
                ("ExportManifest", self.manifest.clone().map(Json::from)),
                ("ClientToken", self.client_token.clone().map(Json::from)),
                ("S3BucketOwner", self.owner.clone().map(Json::from)),
                ("S3Prefix", self.prefix.clone().map(Json::from)),
                ("S3SseKmsKeyId", self.kms_key.clone().map(Json::from)),
                ("FailureCode", self.failure.as_ref().map(|f| Json::from(f.0.clone()))),
                ("FailureMessage", self.failure.as_ref().map(|f| Json::from(f.1.clone()))),
            ],
        )
    }
}

/// `(data file key, items, its MD5 and ETag)` of one written file.
type DataFile = (String, u64, String, String);

impl Ddb {
    pub async fn export_table_to_point_in_time(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ExportTableToPointInTimeInput,
    ) -> Result<Json, AwsError> {
        let name = table_of_arn(&ctx, &input.table_arn, "ExportTableToPointInTime")?;
        if input.export_type.as_deref() == Some("INCREMENTAL_EXPORT") {
            return Err(validation("Incremental exports are not supported by Brume; use FULL_EXPORT"));
        }
        if input.export_format.as_deref() == Some("ION") {
            return Err(validation("Exports in the ION format are not supported by Brume; use DYNAMODB_JSON"));
        }
        let snapshot = self.kv.snapshot()?;
        let source = table::load_table(&*snapshot, &ctx.account, &ctx.region, &name)?
            .ok_or_else(|| backups_table_not_found(&name))?;
        let token = input.client_token.as_deref();
        let made = token.map(|t| by_client_token(&*snapshot, ("ex", &ctx), t, |e: &Export| e.client_token.as_deref()));
        if let Some(export) = made.transpose()?.flatten() {
            return Ok(json!({ "ExportDescription": export.description() }));
        }
        let now = Timestamp::now().0;
        let earliest = earliest(&source, now).ok_or_else(|| unavailable(&name))?;
        let time = input.export_time.map_or(now, |t| t.0);
        if time < earliest || time > now {
            return Err(AwsError::new(
                400,
                "InvalidExportTimeException",
                "ExportTime must be between EarliestRestorableDateTime and LatestRestorableDateTime",
            ));
        }
        let suffix = arn_suffix(now);
        let export = Export {
            arn: format!("{}/export/{suffix}", source.arn()),
            id: suffix.clone(),
            status: "IN_PROGRESS".into(),
            start: now,
            end: None,
            table: Arc::unwrap_or_clone(source),
            time,
            bucket: input.s3_bucket,
            owner: input.s3_bucket_owner,
            prefix: input.s3_prefix,
            sse: input.s3_sse_algorithm.unwrap_or_else(|| "AES256".into()),
            kms_key: input.s3_sse_kms_key_id,
            client_token: input.client_token,
            items: 0,
            bytes: 0,
            manifest: None,
            failure: None,
        };
        let key = export_key(&ctx.account, &ctx.region, &name, &suffix);
        let (k, e) = (key.clone(), export.clone());
        self.kv.transact(move |txn: &mut dyn Txn| save(txn, &k, &e)).await?;
        let description = export.description();
        tokio::spawn(self.run_export(key, export, snapshot));
        Ok(json!({ "ExportDescription": description }))
    }

    /// Writes `export`'s files from `snapshot`, then records how it ended.
    async fn run_export(self: Arc<Self>, key: Vec<u8>, mut export: Export, snapshot: Box<dyn ReadView>) {
        match self.write_export(&export, &*snapshot).await {
            Ok((items, bytes, manifest)) => {
                export.status = "COMPLETED".into();
                (export.items, export.bytes, export.manifest) = (items, bytes, Some(manifest));
            }
            Err(e) => {
                export.status = "FAILED".into();
                export.failure = Some((e.code.to_string(), e.message));
            }
        }
        export.end = Some(Timestamp::now().0);
        if let Err(e) = self.kv.transact(move |txn: &mut dyn Txn| save(txn, &key, &export)).await {
            tracing::warn!(error = %e.message, "could not record the end of a DynamoDB export");
        }
    }

    /// Answers the items and bytes written, and the manifest summary's key.
    async fn write_export(&self, export: &Export, snapshot: &dyn ReadView) -> Result<(u64, u64, String), AwsError> {
        let account = export.table.account.as_str();
        if export.owner.as_ref().is_some_and(|owner| owner != account) {
            return Err(AwsError::new(403, "AccessDenied", "Access Denied"));
        }
        let folder = export.folder();
        let put = |key: String, body: Vec<u8>, content_type: &'static str| async move {
            self.s3.put_object_bytes(account, &export.bucket, &key, body, content_type).await
        };
        put(format!("{folder}_started"), Vec::new(), "application/octet-stream").await?;
        let before = before_changes_after(snapshot, &export.table, export.time)?;
        let mut items = ItemsAt::new(snapshot, &export.table, &before);
        let (mut files, mut total, mut bytes): (Vec<DataFile>, u64, u64) = (Vec::new(), 0, 0);
        let mut file = DataFileWriter::new();
        loop {
            let page = items.next_page(PAGE)?;
            let last = page.is_none();
            for (_, record) in page.into_iter().flatten() {
                file.add(&record)?;
                bytes += record.len() as u64;
                total += 1;
            }
            if file.items > 0 && (last || file.raw >= FILE_BYTES) {
                let (count, body) = std::mem::replace(&mut file, DataFileWriter::new()).finish()?;
                // Named after the export and the file's place in it, so that an export run
                // again after a stop writes the same files over those it had written.
                let name: String = brume_crypto::Md5::digest(format!("{}/{}", export.arn, files.len()))
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let key = format!("{folder}data/{}.json.gz", &name[..26]);
                let md5 = brume_crypto::Md5::digest(&body);
                let etag = put(key.clone(), body, "application/x-gzip").await?;
                files.push((key, count, base64_of(&md5), etag.trim_matches('"').to_string()));
            }
            if last {
                break;
            }
        }
        let listing: String = files
            .iter()
            .map(|(key, count, md5, etag)| {
                format!("{}\n", json!({"itemCount": count, "md5Checksum": md5, "etag": etag, "dataFileS3Key": key}))
            })
            .collect();
        let files_key = format!("{folder}manifest-files.json");
        put(files_key.clone(), listing.into_bytes(), "application/json").await?;
        let summary = json!({
            "version": "2020-06-30",
            "exportArn": export.arn,
            "startTime": Timestamp(export.start).iso8601(),
            "endTime": Timestamp::now().iso8601(),
            "tableArn": export.table.arn(),
            "tableId": export.table.id,
            "exportTime": Timestamp(export.time).iso8601(),
            "s3Bucket": export.bucket,
            "s3Prefix": export.prefix,
            "s3SseAlgorithm": export.sse,
            "s3SseKmsKeyId": export.kms_key,
            "manifestFilesS3Key": files_key,
            "billedSizeBytes": bytes,
            "itemCount": total,
            "outputFormat": "DYNAMODB_JSON",
            "exportType": "FULL_EXPORT",
        });
        let summary_key = format!("{folder}manifest-summary.json");
        put(summary_key.clone(), summary.to_string().into_bytes(), "application/json").await?;
        Ok((total, bytes, summary_key))
    }

    pub async fn describe_export(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DescribeExportInput,
    ) -> Result<Json, AwsError> {
        let key = export_of_arn(&ctx, &input.export_arn, "DescribeExport")?;
        let export: Export = load(&*self.kv, &key)?.ok_or_else(|| export_not_found(&input.export_arn))?;
        Ok(json!({ "ExportDescription": export.description() }))
    }

    pub async fn list_exports(self: Arc<Self>, ctx: RequestContext, input: ListExportsInput) -> Result<Json, AwsError> {
        let table = input.table_arn.as_deref().map(|arn| table_of_arn(&ctx, arn, "ListExports")).transpose()?;
        let start = input.next_token.as_deref().map(|token| export_of_arn(&ctx, token, "ListExports"));
        let start = start.transpose().map_err(|_| validation("Invalid NextToken"))?;
        // The front end keeps it within 1..=25.
        let (page, next) =
            page_of::<Export>(&*self.kv, ("ex", &ctx, table.as_deref()), start, input.max_results.unwrap_or(25))?;
        let summaries: Vec<Json> = page
            .iter()
            .map(|e| json!({"ExportArn": e.arn, "ExportStatus": e.status, "ExportType": "FULL_EXPORT"}))
            .collect();
        let mut out = json!({ "ExportSummaries": summaries });
        if let Some(next) = next {
            out["NextToken"] = json!(next.arn);
        }
        Ok(out)
    }

    /// Runs again the exports a stop interrupted (of `exports`, the records there when the
    /// service started): the history gives the same content, as long as the table still
    /// keeps it; otherwise they fail.
    pub(crate) async fn resume_exports(self: &Arc<Self>, exports: Vec<KvPair>) -> Result<(), AwsError> {
        for (key, bytes) in exports {
            let mut export: Export = serde_json::from_slice(&bytes).map_err(|e| corrupt(&e))?;
            if export.status != "IN_PROGRESS" {
                continue;
            }
            let snapshot = self.kv.snapshot()?;
            let t = &export.table;
            let now = Timestamp::now().0;
            match table::load_table(&*snapshot, &t.account, &t.region, &t.name)? {
                Some(table) if table.id == t.id && earliest(&table, now).is_some_and(|e| e <= export.time) => {
                    export.table = Arc::unwrap_or_clone(table);
                    self.clone().run_export(key, export, snapshot).await;
                }
                _ => {
                    export.status = "FAILED".into();
                    export.end = Some(now);
                    export.failure = Some((
                        "ExportInterrupted".into(),
                        "The export was interrupted and its table no longer keeps the history it needs".into(),
                    ));
                    self.kv.transact(move |txn: &mut dyn Txn| save(txn, &key, &export)).await?;
                }
            }
        }
        Ok(())
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn gzip_failed(e: &std::io::Error) -> AwsError {
    tracing::error!(error = %e, "could not compress an export's data file");
    AwsError::internal()
}

/// One data file being written: a gzip stream of `{"Item": …}` lines.
struct DataFileWriter {
    gz: GzEncoder<Vec<u8>>,
    items: u64,
    raw: usize,
}

impl DataFileWriter {
    fn new() -> Self {
        DataFileWriter { gz: GzEncoder::new(Vec::new(), Compression::default()), items: 0, raw: 0 }
    }

    /// Adds the item whose stored record (its wire JSON) is `record`.
    fn add(&mut self, record: &[u8]) -> Result<(), AwsError> {
        let io = |e: std::io::Error| gzip_failed(&e);
        self.gz.write_all(b"{\"Item\":").map_err(io)?;
        self.gz.write_all(record).map_err(io)?;
        self.gz.write_all(b"}\n").map_err(io)?;
        self.items += 1;
        self.raw += record.len() + 10;
        Ok(())
    }

    fn finish(self) -> Result<(u64, Vec<u8>), AwsError> {
        let body = self.gz.finish().map_err(|e| gzip_failed(&e))?;
        Ok((self.items, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::KEYSPACE;
    use crate::table::tests::table;
    use crate::tests::Puts;
    use crate::value::{Item, Value};
    use brume_storage::Storage;
    use brume_storage::{Direction, KeyRange};

    fn export(table: &Table, suffix: &str, time: f64) -> Export {
        Export {
            arn: format!("{}/export/{suffix}", table.arn()),
            id: suffix.into(),
            status: "IN_PROGRESS".into(),
            start: time,
            end: None,
            table: table.clone(),
            time,
            bucket: "b".into(),
            owner: None,
            prefix: Some("p/".into()),
            sse: "AES256".into(),
            kms_key: None,
            client_token: None,
            items: 0,
            bytes: 0,
            manifest: None,
            failure: None,
        }
    }

    /// A stop left two exports in progress: the one whose table still keeps its history is
    /// written again, the other fails.
    #[tokio::test]
    async fn interrupted_exports_run_again_or_fail() {
        let kv = Storage::in_memory().kv;
        let puts = Arc::new(Puts::default());
        let ddb = Ddb::new(kv.clone(), puts.clone());
        let mut kept = table();
        kept.pitr = Some((0.0, 35));
        let mut lost = Table { name: "lost".into(), id: "id-2".into(), ..table() };
        lost.pitr = None;
        // Exported as at a moment after the items were written.
        let now = Timestamp::now().0 + 1.0;
        let (a, b) = (export(&kept, "00000000000001-00000001", now), export(&lost, "00000000000001-00000002", now));
        let (t, ea, eb) = (kept.clone(), a.clone(), b.clone());
        kv.transact(move |txn: &mut dyn Txn| -> Result<(), AwsError> {
            let (a, b) = (ea, eb);
            table::save_table(txn, &t)?;
            table::save_table(txn, &lost)?;
            for i in 0..3 {
                let item: Item = [("pk".to_string(), Value::S(format!("k{i}")))].into();
                table::write_item(txn, &t, &t.check_item_key(&item)?, None, Some(&item))?;
            }
            save(txn, &export_key(&a.table.account, &a.table.region, &a.table.name, &a.id), &a)?;
            save(txn, &export_key(&b.table.account, &b.table.region, &b.table.name, &b.id), &b)
        })
        .await
        .unwrap();

        let all = KeyRange::prefix(&key::encode(&["ex".into()]));
        ddb.resume_exports(kv.scan(KEYSPACE, &all, Direction::Forward, usize::MAX).unwrap()).await.unwrap();
        let done: Export = load(&*kv, &export_key(&kept.account, &kept.region, &kept.name, &a.id)).unwrap().unwrap();
        assert_eq!((done.status.as_str(), done.items), ("COMPLETED", 3));
        let failed: Export = load(&*kv, &export_key(&kept.account, &kept.region, "lost", &b.id)).unwrap().unwrap();
        assert_eq!((failed.status.as_str(), failed.failure.unwrap().0.as_str()), ("FAILED", "ExportInterrupted"));
        let keys: Vec<String> = puts.0.lock().unwrap().iter().map(|(_, k, _)| k.clone()).collect();
        let folder = "p/AWSDynamoDB/00000000000001-00000001/";
        assert_eq!(keys.len(), 4);
        assert_eq!(keys[0], format!("{folder}_started"));
        assert!(keys[1].starts_with(&format!("{folder}data/")) && keys[1].ends_with(".json.gz"));
        assert_eq!(keys[2..], [format!("{folder}manifest-files.json"), format!("{folder}manifest-summary.json")]);
    }
}
