//! Imports from S3: ImportTable, DescribeImport and ListImports.
//!
//! - `im/<account>/<region>/<table name>/<suffix>` → [`Import`], keyed as its ARN
//!   (`…:table/<name>/import/<suffix>`)
//!
//! An import reads every object under its bucket and prefix a piece at a time
//! (decompressing gzip as it goes), as DynamoDB JSON lines (`{"Item": …}`, the export
//! format) or CSV, and puts each valid item into a backup of its own; items that are not
//! (bad JSON, a missing or mistyped key, too large) are counted as errors. The backup is
//! then restored into the new table (see [`crate::backup`]), which appears whole when the
//! import completes; its name is taken from the start. It runs in the background; one a
//! stop interrupted before its restore began reads S3 again at start-up.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext, value::Timestamp};
use brume_storage::key;
use brume_storage::{Direction, KeyRange, KvPair, Txn};
use flate2::write::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::Ddb;
use crate::backup::{
    Restore, arn_suffix, by_client_token, items_prefix, key_of_arn, load, name_taken, page_of, save, with_optional,
};
use crate::control::{CreateTableInput, new_table, table_of_arn};
use crate::error::{resource_in_use, validation};
use crate::item::check_new_item;
use crate::number::Num;
use crate::table::{self, KEYSPACE, Table, corrupt, encode_item};
use crate::value::{Item, Value, item_from_wire};

/// Bytes of an object read at a time.
const READ_CHUNK: u64 = 1 << 20;
/// Items put per storage transaction.
const BATCH: usize = 1000;

#[derive(Clone, Serialize, Deserialize)]
pub struct Import {
    arn: String,
    id: String,
    status: String,
    start: f64,
    end: Option<f64>,
    table: Table,
    client_token: Option<String>,
    source: Json,
    format: String,
    format_options: Option<Json>,
    compression: String,
    parameters: Json,
    processed_bytes: u64,
    processed_items: u64,
    imported_items: u64,
    errors: u64,
    failure: Option<(String, String)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportTableInput {
    client_token: Option<String>,
    s3_bucket_source: Json,
    input_format: String,
    input_format_options: Option<Json>,
    input_compression_type: Option<String>,
    table_creation_parameters: Json,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeImportInput {
    import_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListImportsInput {
    table_arn: Option<String>,
    page_size: Option<usize>,
    next_token: Option<String>,
}

fn import_key(account: &str, region: &str, table: &str, suffix: &str) -> Vec<u8> {
    key::encode_strings_then(&["im", account, region, table, suffix], &[])
}

fn import_not_found(arn: &str) -> AwsError {
    AwsError::new(400, "ImportNotFoundException", format!("Import not found: {arn}"))
}

fn import_of_arn(ctx: &RequestContext, arn: &str, action: &str) -> Result<Vec<u8>, AwsError> {
    key_of_arn(ctx, arn, ("import", "im"), action, import_not_found)
}

impl Import {
    fn bucket(&self) -> &str {
        self.source["S3Bucket"].as_str().unwrap_or_default()
    }

    fn prefix(&self) -> &str {
        self.source["S3KeyPrefix"].as_str().unwrap_or_default()
    }

    fn description(&self) -> Json {
        let out = json!({
            "ImportArn": self.arn,
            "ImportStatus": self.status,
            "TableArn": self.table.arn(),
            "TableId": self.table.id,
            "S3BucketSource": self.source,
            "ErrorCount": self.errors,
            "InputFormat": self.format,
            "InputCompressionType": self.compression,
            "TableCreationParameters": self.parameters,
            "StartTime": self.start,
            "ProcessedSizeBytes": self.processed_bytes,
            "ProcessedItemCount": self.processed_items,
            "ImportedItemCount": self.imported_items,
        });
        with_optional(
            out,
            [
                ("EndTime", self.end.map(Json::from)),
                ("ClientToken", self.client_token.clone().map(Json::from)),
                ("InputFormatOptions", self.format_options.clone()),
                ("FailureCode", self.failure.as_ref().map(|f| Json::from(f.0.clone()))),
                ("FailureMessage", self.failure.as_ref().map(|f| Json::from(f.1.clone()))),
            ],
        )
    }

    fn summary(&self) -> Json {
        let mut out = json!({
            "ImportArn": self.arn,
            "ImportStatus": self.status,
            "TableArn": self.table.arn(),
            "S3BucketSource": self.source,
            "InputFormat": self.format,
            "StartTime": self.start,
        });
        if let Some(end) = self.end {
            out["EndTime"] = json!(end);
        }
        out
    }
}

impl Ddb {
    pub async fn import_table(self: Arc<Self>, ctx: RequestContext, input: ImportTableInput) -> Result<Json, AwsError> {
        match input.input_format.as_str() {
            "DYNAMODB_JSON" | "CSV" => {}
            _ => {
                return Err(validation(
                    "Imports in the ION format are not supported by Brume; use DYNAMODB_JSON or CSV",
                ));
            }
        }
        let compression = input.input_compression_type.clone().unwrap_or_else(|| "NONE".into());
        if compression == "ZSTD" {
            return Err(validation("ZSTD-compressed imports are not supported by Brume; use GZIP or NONE"));
        }
        let token = input.client_token.as_deref();
        let made = token.map(|t| by_client_token(&*self.kv, ("im", &ctx), t, |i: &Import| i.client_token.as_deref()));
        if let Some(import) = made.transpose()?.flatten() {
            return Ok(json!({ "ImportTableDescription": import.description() }));
        }
        let parameters: CreateTableInput = serde_json::from_value(input.table_creation_parameters.clone())
            .map_err(|e| validation(format!("Invalid TableCreationParameters: {e}")))?;
        let now = Timestamp::now().0;
        let table = new_table(&ctx, &parameters, now)?;
        let suffix = arn_suffix(now);
        let import = Import {
            arn: format!("{}/import/{suffix}", table.arn()),
            id: suffix.clone(),
            status: "IN_PROGRESS".into(),
            start: now,
            end: None,
            client_token: input.client_token,
            source: input.s3_bucket_source,
            format: input.input_format,
            format_options: input.input_format_options,
            compression,
            parameters: input.table_creation_parameters,
            processed_bytes: 0,
            processed_items: 0,
            imported_items: 0,
            errors: 0,
            failure: None,
            table,
        };
        let key = import_key(&ctx.account, &ctx.region, &import.table.name, &suffix);
        let (k, i) = (key.clone(), import.clone());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let t = &i.table;
                if name_taken(txn, &t.account, &t.region, &t.name)? {
                    return Err(resource_in_use(format!("Table already exists: {}", t.name)));
                }
                save(txn, &k, &i)
            })
            .await?;
        let description = import.description();
        tokio::spawn(self.run_import(key, import));
        Ok(json!({ "ImportTableDescription": description }))
    }

    /// Reads the objects, restores what they hold into the table, and records how it ended.
    async fn run_import(self: Arc<Self>, key: Vec<u8>, mut import: Import) {
        let outcome = self.clone().load_import(&key, &mut import).await;
        import.end = Some(Timestamp::now().0);
        match outcome {
            Ok(()) => import.status = "COMPLETED".into(),
            Err(e) => {
                import.status = "FAILED".into();
                import.failure = Some((e.code.to_string(), e.message));
            }
        }
        if let Err(e) = self.kv.transact(move |txn: &mut dyn Txn| save(txn, &key, &import)).await {
            tracing::warn!(error = %e.message, "could not record the end of a DynamoDB import");
        }
    }

    async fn load_import(self: Arc<Self>, key: &[u8], import: &mut Import) -> Result<(), AwsError> {
        // Buried while it is filled, so that a stop before the restore begins leaves nothing.
        let id = uuid::Uuid::new_v4().to_string();
        let buried = id.clone();
        self.kv.transact(move |txn: &mut dyn Txn| table::bury(txn, &buried)).await?;
        let filled = self.fill_import(&id, import).await;
        let restore = Restore::temporary(import.table.clone(), id.clone());
        let (k, counted) = (key.to_vec(), import.clone());
        let begun = match filled {
            Ok(()) => self.begin_restore(restore, true, move |txn| save(txn, &k, &counted)).await,
            Err(e) => Err(e),
        };
        match begun {
            Ok(job) => tokio::spawn(self.clone().restore(job)).await.map_err(|_| AwsError::internal())?.map(|_| ()),
            Err(e) => {
                self.purge(id);
                Err(e)
            }
        }
    }

    /// Puts the items of every object under the import's prefix into backup `id`.
    async fn fill_import(&self, id: &str, import: &mut Import) -> Result<(), AwsError> {
        let account = import.table.account.clone();
        if import.source["S3BucketOwner"].as_str().is_some_and(|owner| owner != account) {
            return Err(AwsError::new(403, "AccessDenied", "Access Denied"));
        }
        let (bucket, prefix) = (import.bucket().to_string(), import.prefix().to_string());
        let csv = (import.format == "CSV").then(|| CsvOptions::of(import.format_options.as_ref(), &import.table));
        let mut batch = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (objects, more) = self.s3.list_objects(&account, &bucket, &prefix, after.as_deref(), 1000).await?;
            for object in &objects {
                let mut reader = Reader::new(import.compression == "GZIP", csv.clone());
                let mut offset = 0;
                while offset < object.size {
                    let end = (offset + READ_CHUNK).min(object.size);
                    let chunk = self.s3.get_object_range(&account, &bucket, &object.key, offset, end).await?;
                    offset = end;
                    for record in reader.feed(&chunk, offset == object.size)? {
                        import.processed_items += 1;
                        match record.and_then(|item| Ok((check_new_item(&import.table, &item, false)?, item))) {
                            Ok((elements, item)) => {
                                import.imported_items += 1;
                                batch.push(([items_prefix(id), key::encode(&elements)].concat(), encode_item(&item)));
                            }
                            Err(_) => import.errors += 1,
                        }
                        if batch.len() == BATCH {
                            self.put_all(std::mem::take(&mut batch)).await?;
                        }
                    }
                }
                import.processed_bytes += object.size;
            }
            after = objects.last().map(|o| o.key.clone());
            if !more {
                break;
            }
        }
        self.put_all(batch).await
    }

    pub async fn describe_import(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DescribeImportInput,
    ) -> Result<Json, AwsError> {
        let key = import_of_arn(&ctx, &input.import_arn, "DescribeImport")?;
        let import: Import = load(&*self.kv, &key)?.ok_or_else(|| import_not_found(&input.import_arn))?;
        Ok(json!({ "ImportTableDescription": import.description() }))
    }

    pub async fn list_imports(self: Arc<Self>, ctx: RequestContext, input: ListImportsInput) -> Result<Json, AwsError> {
        let table = input.table_arn.as_deref().map(|arn| table_of_arn(&ctx, arn, "ListImports")).transpose()?;
        let invalid = || validation("Invalid NextToken");
        let start = match &input.next_token {
            Some(token) => {
                let arn = token_arn(token).ok_or_else(invalid)?;
                Some(import_of_arn(&ctx, &arn, "ListImports").map_err(|_| invalid())?)
            }
            None => None,
        };
        // The front end keeps it within 1..=25.
        let (page, next) =
            page_of::<Import>(&*self.kv, ("im", &ctx, table.as_deref()), start, input.page_size.unwrap_or(25))?;
        let mut out = json!({ "ImportSummaryList": page.iter().map(Import::summary).collect::<Vec<_>>() });
        if let Some(next) = next {
            out["NextToken"] = json!(arn_token(&next.arn));
        }
        Ok(out)
    }

    /// Finishes the imports a stop interrupted (of `imports`, the records there when the
    /// service started): one whose table the restores at start-up finished is complete; the
    /// others read S3 again.
    pub(crate) async fn resume_imports(self: &Arc<Self>, imports: Vec<KvPair>) -> Result<(), AwsError> {
        for (key, bytes) in imports {
            let mut import: Import = serde_json::from_slice(&bytes).map_err(|e| corrupt(&e))?;
            if import.status != "IN_PROGRESS" {
                continue;
            }
            let t = &import.table;
            match table::load_table(&*self.kv, &t.account, &t.region, &t.name)? {
                Some(table) if table.id == t.id => {
                    import.status = "COMPLETED".into();
                    import.end = Some(Timestamp::now().0);
                    self.kv.transact(move |txn: &mut dyn Txn| save(txn, &key, &import)).await?;
                }
                _ => {
                    import.processed_bytes = 0;
                    (import.processed_items, import.imported_items, import.errors) = (0, 0, 0);
                    self.clone().run_import(key, import).await;
                }
            }
        }
        Ok(())
    }
}

/// ListImports' page token: the next import's ARN in hex, padded with zero bytes to whole
/// groups of 16 digits, as the model's pattern wants.
fn arn_token(arn: &str) -> String {
    let mut token: String = arn.bytes().map(|b| format!("{b:02x}")).collect();
    while !token.len().is_multiple_of(16) {
        token.push_str("00");
    }
    token
}

fn token_arn(token: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok()).collect();
    let mut bytes = bytes?;
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    String::from_utf8(bytes).ok()
}

/// Whether an import in progress is making table `name`.
pub(crate) fn importing(
    view: &dyn brume_storage::ReadView,
    account: &str,
    region: &str,
    name: &str,
) -> Result<bool, AwsError> {
    let range = KeyRange::prefix(&key::encode_strings_then(&["im", account, region, name], &[]));
    for (_, bytes) in view.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)? {
        let import: Import = serde_json::from_slice(&bytes).map_err(|e| corrupt(&e))?;
        if import.status == "IN_PROGRESS" {
            return Ok(true);
        }
    }
    Ok(false)
}

#[derive(Clone)]
struct CsvOptions {
    delimiter: u8,
    header: Option<Vec<String>>,
    /// The types of the table's key attributes (`N`, `B`); the others are strings.
    types: BTreeMap<String, String>,
}

impl CsvOptions {
    fn of(options: Option<&Json>, table: &Table) -> Self {
        let csv = options.and_then(|o| o.get("Csv"));
        let delimiter = csv.and_then(|c| c["Delimiter"].as_str()).and_then(|d| d.bytes().next()).unwrap_or(b',');
        let header = csv
            .and_then(|c| c["HeaderList"].as_array())
            .map(|h| h.iter().filter_map(|n| n.as_str().map(str::to_string)).collect());
        let types = table.attributes.iter().map(|a| (a.name.clone(), a.ty.clone())).collect();
        CsvOptions { delimiter, header, types }
    }
}

/// Turns an object's bytes, fed a chunk at a time, into items: decompressing them, cutting
/// them into records (lines, or CSV records, whose quoted fields may hold newlines), and
/// reading each.
struct Reader {
    gzip: Option<MultiGzDecoder<Vec<u8>>>,
    pending: Vec<u8>,
    csv: Option<CsvOptions>,
    /// Dropping what is left of a record too long to be an item, up to its end.
    skipping: bool,
}

type Record = Result<Item, AwsError>;

/// A record longer than this (an item's JSON is at most ~1.2 MB, with escapes) is an error,
/// and is not held: an object of one endless line must not fill the memory.
const MAX_RECORD: usize = 8 << 20;
/// Compressed bytes inflated at a time, so that what one step holds stays bounded however
/// well the data compresses.
const INFLATE_PIECE: usize = 16 << 10;

impl Reader {
    fn new(gzip: bool, csv: Option<CsvOptions>) -> Self {
        Reader { gzip: gzip.then(|| MultiGzDecoder::new(Vec::new())), pending: Vec::new(), csv, skipping: false }
    }

    /// The records completed by `chunk` (all that are left when `last`).
    fn feed(&mut self, chunk: &[u8], last: bool) -> Result<Vec<Record>, AwsError> {
        let invalid = |e: std::io::Error| {
            AwsError::new(400, "InvalidInput", format!("The object could not be decompressed: {e}"))
        };
        // Whole records, or `None` for one too long.
        let mut records = Vec::new();
        match self.gzip.take() {
            Some(mut gz) => {
                for piece in chunk.chunks(INFLATE_PIECE) {
                    gz.write_all(piece).map_err(invalid)?;
                    self.pending.append(gz.get_mut());
                    self.cut(&mut records);
                }
                if last {
                    gz.try_finish().map_err(invalid)?;
                    self.pending.append(gz.get_mut());
                }
                self.gzip = Some(gz);
            }
            None => self.pending.extend_from_slice(chunk),
        }
        self.cut(&mut records);
        if last && !self.skipping && !self.pending.is_empty() {
            records.push(Some(std::mem::take(&mut self.pending)));
        }
        let mut items = Vec::new();
        for record in records {
            let Some(record) = record else {
                items.push(Err(validation(format!("A record is longer than {MAX_RECORD} bytes"))));
                continue;
            };
            let record = record.strip_suffix(b"\r").unwrap_or(&record);
            if record.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match &mut self.csv {
                None => items.push(json_item(record)),
                Some(options) => {
                    let fields = csv_fields(record, options.delimiter);
                    match &options.header {
                        None => options.header = Some(fields),
                        Some(header) => items.push(csv_item(header, &options.types, fields)),
                    }
                }
            }
        }
        Ok(items)
    }

    /// Moves the records `pending` completes into `out` (lines, or CSV records, whose quoted
    /// fields may hold newlines); drops a record that grows past [`MAX_RECORD`].
    fn cut(&mut self, out: &mut Vec<Option<Vec<u8>>>) {
        let (mut start, mut quoted) = (0, false);
        for (i, &b) in self.pending.iter().enumerate() {
            if b == b'"' && self.csv.is_some() && !self.skipping {
                quoted = !quoted;
            }
            if b == b'\n' && (!quoted || self.skipping) {
                if !std::mem::take(&mut self.skipping) {
                    out.push(Some(self.pending[start..i].to_vec()));
                }
                (start, quoted) = (i + 1, false);
            }
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_RECORD {
            if !self.skipping {
                out.push(None);
            }
            self.skipping = true;
            self.pending.clear();
        }
    }
}

/// A line of DynamoDB JSON: `{"Item": {…}}`.
fn json_item(line: &[u8]) -> Record {
    #[derive(Deserialize)]
    struct Line {
        #[serde(rename = "Item")]
        item: BTreeMap<String, Json>,
    }
    let line: Line = serde_json::from_slice(line).map_err(|e| validation(e.to_string()))?;
    item_from_wire(&line.item)
}

/// A CSV record's fields: quotes around a field are removed, doubled quotes in it undone.
fn csv_fields(record: &[u8], delimiter: u8) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < record.len() {
        let b = record[i];
        match b {
            b'"' if quoted && record.get(i + 1) == Some(&b'"') => {
                field.push(b'"');
                i += 1;
            }
            b'"' => quoted = !quoted,
            _ if b == delimiter && !quoted => {
                fields.push(String::from_utf8_lossy(&std::mem::take(&mut field)).into_owned())
            }
            _ => field.push(b),
        }
        i += 1;
    }
    fields.push(String::from_utf8_lossy(&field).into_owned());
    fields
}

/// A CSV record as an item: the table's key attributes of type N or B (base64) read as
/// such, every other value a string; empty fields are left out.
fn csv_item(header: &[String], types: &BTreeMap<String, String>, fields: Vec<String>) -> Record {
    let mut item = Item::new();
    for (name, text) in header.iter().zip(fields).filter(|(_, value)| !value.is_empty()) {
        let value = match types.get(name).map(String::as_str) {
            Some("N") => Value::N(Num::parse(&text).map_err(|_| validation(format!("{name} is not a number")))?),
            Some("B") => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD.decode(&text);
                Value::B(bytes.map_err(|_| validation(format!("{name} is not base64")))?)
            }
            _ => Value::S(text),
        };
        item.insert(name.clone(), value);
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::table;

    fn read(reader: &mut Reader, bytes: &[u8], chunk: usize) -> Vec<Record> {
        let pieces: Vec<&[u8]> = bytes.chunks(chunk).collect();
        let mut records = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            records.extend(reader.feed(piece, i + 1 == pieces.len()).unwrap());
        }
        records
    }

    /// Records come out whole however the object is cut, compressed or not, with quoted
    /// fields that hold delimiters, quotes and newlines.
    #[test]
    fn records_survive_any_chunking() {
        let csv = b"pk,note\r\na,\"x, \"\"y\"\"\nz\"\r\nb,plain\nc,";
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(csv).unwrap();
            e.finish().unwrap()
        };
        let options = CsvOptions::of(None, &table());
        for chunk in [1, 2, 3, 7, 1000] {
            for (gzip, bytes) in [(false, &csv[..]), (true, &gz[..])] {
                let mut reader = Reader::new(gzip, Some(options.clone()));
                let items: Vec<Item> = read(&mut reader, bytes, chunk).into_iter().map(Result::unwrap).collect();
                let note = |i: usize| items[i].get("note").cloned();
                assert_eq!(items.len(), 3, "chunk {chunk}, gzip {gzip}");
                assert_eq!(note(0), Some(Value::S("x, \"y\"\nz".into())));
                assert_eq!((note(1), note(2)), (Some(Value::S("plain".into())), None));
            }
        }
        let mut reader = Reader::new(false, None);
        let lines = b"{\"Item\":{\"pk\":{\"S\":\"a\"}}}\nnot json\n\n{\"Item\":{\"pk\":{\"N\":\"x\"}}}";
        let records = read(&mut reader, lines, 5);
        assert_eq!(records.len(), 3);
        assert!(records[0].is_ok() && records[1].is_err() && records[2].is_err());
    }

    /// A table being imported holds its name until the import ends.
    #[tokio::test]
    async fn an_import_in_progress_takes_its_table_name() {
        let kv = brume_storage::Storage::in_memory().kv;
        let t = table();
        let mut import = Import {
            arn: format!("{}/import/00000000000001-00000001", t.arn()),
            id: "00000000000001-00000001".into(),
            status: "IN_PROGRESS".into(),
            start: 0.0,
            end: None,
            table: t.clone(),
            client_token: None,
            source: json!({"S3Bucket": "b"}),
            format: "CSV".into(),
            format_options: None,
            compression: "NONE".into(),
            parameters: json!({}),
            processed_bytes: 0,
            processed_items: 0,
            imported_items: 0,
            errors: 0,
            failure: None,
        };
        let key = import_key(&t.account, &t.region, &t.name, &import.id);
        for (status, taken) in [("IN_PROGRESS", true), ("FAILED", false)] {
            import.status = status.into();
            let (k, i) = (key.clone(), import.clone());
            kv.transact(move |txn: &mut dyn Txn| save(txn, &k, &i)).await.unwrap();
            assert_eq!(name_taken(&*kv, &t.account, &t.region, &t.name).unwrap(), taken, "{status}");
        }
    }

    /// A record too long to be an item is one error, dropped as it comes rather than held,
    /// and the records after it are read.
    #[test]
    fn an_endless_record_is_an_error_not_a_buffer() {
        let mut reader = Reader::new(false, None);
        let mut records = reader.feed(b"{\"Item\":{\"pk\":{\"S\":\"a\"}}}\n", false).unwrap();
        for _ in 0..(MAX_RECORD >> 20) + 2 {
            records.extend(reader.feed(&[b'x'; 1 << 20], false).unwrap());
            assert!(reader.pending.len() <= MAX_RECORD);
        }
        records.extend(reader.feed(b"x\n{\"Item\":{\"pk\":{\"S\":\"b\"}}}", true).unwrap());
        assert_eq!(records.len(), 3);
        assert!(records[0].is_ok() && records[1].is_err() && records[2].is_ok());
    }

    #[test]
    fn page_tokens_are_hex_in_groups_of_sixteen() {
        let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/people/import/01700000000000-0a1b2c3d";
        let token = arn_token(arn);
        assert!(token.len() >= 112 && token.len().is_multiple_of(16));
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(token_arn(&token).as_deref(), Some(arn));
        assert_eq!(token_arn("zz"), None);
    }
}
