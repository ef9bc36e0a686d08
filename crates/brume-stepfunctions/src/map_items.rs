//! What a distributed Map runs its children on, and what it writes of their results:
//! the ItemReader (an S3 object read as JSON, JSON Lines, CSV or an S3 inventory manifest;
//! or an S3 listing), the ItemSelector and ItemBatcher that make the children's inputs,
//! and the ResultWriter's files in S3.

use serde_json::{Map, Value, json};

use crate::StepFunctions;
use crate::asl::{self, Failure, Scope};

pub(crate) const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
pub(crate) const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";

/// The largest object an ItemReader reads whole.
const MAX_OBJECT: u64 = 1 << 30;

/// A batch's input size when ItemBatcher gives no MaxInputBytesPerBatch: 256 KiB.
const MAX_BATCH_BYTES: u64 = 256 * 1024;

/// The state's `field`, given or read from the input through `fieldPath`.
pub(crate) fn number(state: &Value, field: &str, input: &Value, scope: &Scope) -> Result<Option<f64>, Failure> {
    if let Some(v) = state.get(field) {
        return Ok(v.as_f64());
    }
    let Some(path) = state.get(format!("{field}Path")).and_then(Value::as_str) else { return Ok(None) };
    match asl::select(path, input, scope)? {
        Value::Number(n) if n.as_f64().is_some_and(|n| n >= 0.0) => Ok(n.as_f64()),
        other => Err(Failure::new(
            asl::RUNTIME,
            format!("The {field}Path field's value does not reference a valid non-negative number: {other}"),
        )),
    }
}

/// The items of a distributed Map: its ItemReader's, or the array at ItemsPath.
pub(crate) async fn read_items(
    sfn: &StepFunctions,
    account: &str,
    state: &Value,
    input: &Value,
    scope: &Scope,
) -> Result<Vec<Value>, Failure> {
    let Some(reader) = state.get("ItemReader") else {
        let items = match state.get("ItemsPath").and_then(Value::as_str) {
            Some(path) => asl::select(path, input, scope)?,
            None => input.clone(),
        };
        return match items {
            Value::Array(items) => Ok(items),
            _ => Err(Failure::new(asl::RUNTIME, "The ItemsPath field's value must be a JSON array")),
        };
    };
    let parameters = match reader.get("Parameters") {
        Some(template) => asl::parameters(template, input, scope)?,
        None => json!({}),
    };
    let config = reader.get("ReaderConfig").cloned().unwrap_or(json!({}));
    let max = number(&config, "MaxItems", input, scope)?.map(|n| n as usize).filter(|n| *n > 0);
    let text = |field: &str| parameters[field].as_str().unwrap_or_default().to_string();
    let resource = reader["Resource"].as_str().unwrap_or_default();
    let mut items = match resource {
        "arn:aws:states:::s3:listObjectsV2" => list(sfn, account, &text("Bucket"), &text("Prefix"), max).await?,
        "arn:aws:states:::s3:getObject" => {
            let bytes = get(sfn, account, &text("Bucket"), &text("Key"), parameters["VersionId"].as_str()).await?;
            match config["InputType"].as_str().unwrap_or("JSON") {
                "JSON" => match serde_json::from_slice(&bytes) {
                    Ok(Value::Array(items)) => items,
                    _ => return Err(reader_failed("The object's content is not a JSON array")),
                },
                "JSONL" => json_lines(&bytes)?,
                "CSV" => csv_items(&bytes, &config)?,
                "MANIFEST" => manifest_items(sfn, account, &bytes, max).await?,
                other => return Err(reader_failed(format!("Unsupported InputType: {other}"))),
            }
        }
        other => return Err(reader_failed(format!("The resource '{other}' is not supported as an ItemReader"))),
    };
    if let Some(max) = max {
        items.truncate(max);
    }
    Ok(items)
}

fn reader_failed(cause: impl Into<String>) -> Failure {
    Failure::new(ITEM_READER_FAILED, cause)
}

async fn get(
    sfn: &StepFunctions,
    account: &str,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<Vec<u8>, Failure> {
    sfn.s3.get_object_bytes(account, bucket, key, version, MAX_OBJECT).await.map_err(|e| {
        reader_failed(format!(
            "S3 getObject failed: {} (Service: Amazon S3; Status Code: {}; Error Code: {})",
            e.message, e.status, e.code
        ))
    })
}

/// Every object under `prefix`, over all the listing's pages, as AWS gives each to a child.
async fn list(
    sfn: &StepFunctions,
    account: &str,
    bucket: &str,
    prefix: &str,
    max: Option<usize>,
) -> Result<Vec<Value>, Failure> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (objects, more) =
            sfn.s3.list_objects(account, bucket, prefix, after.as_deref(), 1000).await.map_err(|e| {
                reader_failed(format!(
                    "S3 listObjectsV2 failed: {} (Service: Amazon S3; Status Code: {}; Error Code: {})",
                    e.message, e.status, e.code
                ))
            })?;
        after = objects.last().map(|o| o.key.clone());
        items.extend(objects.into_iter().map(|o| {
            json!({
                "Etag": o.etag, "Key": o.key, "LastModified": o.last_modified as i64, "Size": o.size,
                "StorageClass": o.storage_class,
            })
        }));
        if !more || after.is_none() || max.is_some_and(|m| items.len() >= m) {
            return Ok(items);
        }
    }
}

fn json_lines(bytes: &[u8]) -> Result<Vec<Value>, Failure> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| reader_failed(format!("Invalid JSON line: {e}"))))
        .collect()
}

/// CSV rows as objects of strings keyed by the header (the first row's, or CSVHeaders).
fn csv_items(bytes: &[u8], config: &Value) -> Result<Vec<Value>, Failure> {
    let delimiter = match config["CSVDelimiter"].as_str().unwrap_or("COMMA") {
        "COMMA" => ',',
        "PIPE" => '|',
        "SEMICOLON" => ';',
        "SPACE" => ' ',
        "TAB" => '\t',
        other => return Err(reader_failed(format!("Unsupported CSVDelimiter: {other}"))),
    };
    let mut rows = parse_csv(&String::from_utf8_lossy(bytes), delimiter).into_iter();
    let headers: Vec<String> = match config["CSVHeaderLocation"].as_str().unwrap_or("FIRST_ROW") {
        "GIVEN" => {
            config["CSVHeaders"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
        }
        _ => rows.next().unwrap_or_default(),
    };
    rows.map(|row| {
        if row.len() > headers.len() {
            return Err(reader_failed(format!(
                "The row has {} fields but the header has {}: {}",
                row.len(),
                headers.len(),
                row.join(&delimiter.to_string())
            )));
        }
        let object: Map<String, Value> = headers.iter().cloned().zip(row.into_iter().map(Value::String)).collect();
        Ok(Value::Object(object))
    })
    .collect()
}

/// RFC 4180 records: quoted fields may hold delimiters, newlines and doubled quotes.
fn parse_csv(text: &str, delimiter: char) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if field.is_empty() => quoted = true,
            c if quoted => field.push(c),
            c if c == delimiter => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The objects an S3 inventory's manifest.json lists: its CSV files' rows, keyed by its
/// fileSchema.
async fn manifest_items(
    sfn: &StepFunctions,
    account: &str,
    bytes: &[u8],
    max: Option<usize>,
) -> Result<Vec<Value>, Failure> {
    let manifest: Value =
        serde_json::from_slice(bytes).map_err(|e| reader_failed(format!("Invalid inventory manifest: {e}")))?;
    if manifest["fileFormat"].as_str().is_some_and(|f| f != "CSV") {
        return Err(reader_failed("Only CSV inventory files are supported"));
    }
    let schema: Vec<String> =
        manifest["fileSchema"].as_str().unwrap_or_default().split(',').map(|s| s.trim().to_string()).collect();
    let arn = manifest["destinationBucket"].as_str().unwrap_or_default();
    let bucket = arn.strip_prefix("arn:aws:s3:::").unwrap_or(arn);
    let mut items = Vec::new();
    for file in manifest["files"].as_array().into_iter().flatten() {
        let data = get(sfn, account, bucket, file["key"].as_str().unwrap_or_default(), None).await?;
        if data.starts_with(&[0x1f, 0x8b]) {
            return Err(reader_failed("Compressed inventory files are not supported by Brume"));
        }
        for row in parse_csv(&String::from_utf8_lossy(&data), ',') {
            let object: Map<String, Value> = schema.iter().cloned().zip(row.into_iter().map(Value::String)).collect();
            items.push(Value::Object(object));
        }
        if max.is_some_and(|m| items.len() >= m) {
            break;
        }
    }
    Ok(items)
}

/// The children's inputs: each item through ItemSelector, grouped by ItemBatcher when
/// there is one; and how many items each child has.
pub(crate) fn child_inputs(
    state: &Value,
    items: Vec<Value>,
    input: &Value,
    scope: &Scope,
) -> Result<Vec<(Value, usize)>, Failure> {
    let selector = state.get("ItemSelector").or_else(|| state.get("Parameters"));
    let mut selected = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        selected.push(match selector {
            Some(template) => {
                let mut scope = scope.clone();
                scope.context["Map"] = json!({ "Item": { "Index": index, "Value": item } });
                asl::parameters(template, input, &scope)?
            }
            None => item,
        });
    }
    let Some(batcher) = state.get("ItemBatcher") else {
        return Ok(selected.into_iter().map(|item| (item, 1)).collect());
    };
    let max_items = number(batcher, "MaxItemsPerBatch", input, scope)?.map(|n| n as usize).filter(|n| *n > 0);
    let max_bytes =
        number(batcher, "MaxInputBytesPerBatch", input, scope)?.map(|n| n as u64).unwrap_or(MAX_BATCH_BYTES);
    let batch_input = match batcher.get("BatchInput") {
        Some(template) => Some(asl::parameters(template, input, scope)?),
        None => None,
    };
    let wrap = |items: Vec<Value>| {
        let count = items.len();
        let mut batch = json!({ "Items": items });
        if let Some(extra) = &batch_input {
            batch["BatchInput"] = extra.clone();
        }
        (batch, count)
    };
    let mut batches = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0u64;
    for item in selected {
        let size = item.to_string().len() as u64 + 1;
        let full = max_items.is_some_and(|m| current.len() >= m) || (!current.is_empty() && bytes + size > max_bytes);
        if full {
            batches.push(wrap(std::mem::take(&mut current)));
            bytes = 0;
        }
        bytes += size;
        current.push(item);
    }
    if !current.is_empty() {
        batches.push(wrap(current));
    }
    Ok(batches)
}

/// One child's line in the ResultWriter's files.
pub(crate) struct ChildResult {
    pub arn: String,
    pub name: String,
    pub machine_arn: String,
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start: f64,
    pub stop: Option<f64>,
}

impl ChildResult {
    fn entry(&self) -> Value {
        let date = |t: f64| crate::iso((t * 1000.0).round() as u64);
        let mut entry = json!({
            "ExecutionArn": self.arn, "Input": self.input, "InputDetails": { "Included": true }, "Name": self.name,
            "RedriveCount": 0, "RedriveStatus": "NOT_REDRIVABLE",
            "RedriveStatusReason": format!("Execution is {} and cannot be redriven", self.status),
            "StartDate": date(self.start), "StateMachineArn": self.machine_arn, "Status": self.status,
        });
        if let Some(stop) = self.stop {
            entry["StopDate"] = json!(date(stop));
        }
        if let Some(output) = &self.output {
            entry["Output"] = json!(output);
            entry["OutputDetails"] = json!({ "Included": true });
        }
        if let Some(error) = &self.error {
            entry["Error"] = json!(error);
        }
        if let Some(cause) = &self.cause {
            entry["Cause"] = json!(cause);
        }
        entry
    }
}

/// Writes `<Prefix>/<map run id>/` SUCCEEDED_0.json, FAILED_0.json, PENDING_0.json (those
/// with results) and manifest.json; the Map's result naming the manifest.
pub(crate) async fn write_results(
    sfn: &StepFunctions,
    account: &str,
    writer: &Value,
    input: &Value,
    scope: &Scope,
    map_run_arn: &str,
    results: &[ChildResult],
) -> Result<Value, Failure> {
    let parameters = match writer.get("Parameters") {
        Some(template) => asl::parameters(template, input, scope)?,
        None => json!({}),
    };
    let bucket = parameters["Bucket"].as_str().unwrap_or_default().to_string();
    let prefix = parameters["Prefix"].as_str().unwrap_or_default().trim_end_matches('/').to_string();
    let id = map_run_arn.rsplit(':').next().unwrap_or_default();
    let folder = if prefix.is_empty() { id.to_string() } else { format!("{prefix}/{id}") };
    let mut files = Map::new();
    for (category, statuses) in [
        ("FAILED", &["FAILED", "TIMED_OUT", "ABORTED"][..]),
        ("PENDING", &["PENDING"][..]),
        ("SUCCEEDED", &["SUCCEEDED"][..]),
    ] {
        let entries: Vec<Value> =
            results.iter().filter(|r| statuses.contains(&r.status.as_str())).map(ChildResult::entry).collect();
        let mut listed = Vec::new();
        if !entries.is_empty() {
            let key = format!("{folder}/{category}_0.json");
            let body = Value::Array(entries).to_string().into_bytes();
            let size = body.len();
            put(sfn, account, &bucket, &key, body).await?;
            listed.push(json!({ "Key": key, "Size": size }));
        }
        files.insert(category.to_string(), Value::Array(listed));
    }
    let manifest = json!({ "DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files });
    let key = format!("{folder}/manifest.json");
    put(sfn, account, &bucket, &key, manifest.to_string().into_bytes()).await?;
    Ok(json!({ "MapRunArn": map_run_arn, "ResultWriterDetails": { "Bucket": bucket, "Key": key } }))
}

async fn put(sfn: &StepFunctions, account: &str, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), Failure> {
    sfn.s3.put_object_bytes(account, bucket, key, body, "application/json").await.map(|_| ()).map_err(|e| {
        Failure::new(
            RESULT_WRITER_FAILED,
            format!(
                "S3 putObject failed: {} (Service: Amazon S3; Status Code: {}; Error Code: {})",
                e.message, e.status, e.code
            ),
        )
    })
}

/// An S3 without buckets, for the engine's unit tests.
#[cfg(test)]
pub(crate) struct NoS3;

#[cfg(test)]
#[async_trait::async_trait]
impl brume_core::clients::S3Client for NoS3 {
    async fn get_object_range(
        &self,
        _: &str,
        bucket: &str,
        _: &str,
        _: u64,
        _: u64,
    ) -> Result<Vec<u8>, brume_core::AwsError> {
        Err(no_such_bucket(bucket))
    }

    async fn get_object_bytes(
        &self,
        _: &str,
        bucket: &str,
        _: &str,
        _: Option<&str>,
        _: u64,
    ) -> Result<Vec<u8>, brume_core::AwsError> {
        Err(no_such_bucket(bucket))
    }

    async fn list_objects(
        &self,
        _: &str,
        bucket: &str,
        _: &str,
        _: Option<&str>,
        _: usize,
    ) -> Result<(Vec<brume_core::clients::ListedObject>, bool), brume_core::AwsError> {
        Err(no_such_bucket(bucket))
    }

    async fn put_object_bytes(
        &self,
        _: &str,
        bucket: &str,
        _: &str,
        _: Vec<u8>,
        _: &str,
    ) -> Result<String, brume_core::AwsError> {
        Err(no_such_bucket(bucket))
    }
}

#[cfg(test)]
fn no_such_bucket(bucket: &str) -> brume_core::AwsError {
    brume_core::AwsError::new(404, "NoSuchBucket", format!("The specified bucket does not exist: {bucket}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_and_delimiters() {
        let rows = parse_csv("a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\n\"multi\nline\",3\n", ',');
        assert_eq!(rows, vec![vec!["a", "b"], vec!["x,1", "say \"hi\""], vec!["multi\nline", "3"]]);
    }

    #[test]
    fn csv_items_with_given_headers() {
        let config = json!({"CSVHeaderLocation": "GIVEN", "CSVHeaders": ["k", "v"], "CSVDelimiter": "PIPE"});
        let items = csv_items(b"a|1\nb|2", &config).unwrap();
        assert_eq!(items, vec![json!({"k": "a", "v": "1"}), json!({"k": "b", "v": "2"})]);
    }

    #[test]
    fn batches_by_count_and_size() {
        let state = json!({"ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"b.$": "$.x"}}});
        let input = json!({"x": 7});
        let items = vec![json!(1), json!(2), json!(3)];
        let batches = child_inputs(&state, items, &input, &Scope::default()).unwrap();
        assert_eq!(
            batches,
            vec![
                (json!({"Items": [1, 2], "BatchInput": {"b": 7}}), 2),
                (json!({"Items": [3], "BatchInput": {"b": 7}}), 1),
            ]
        );
        let state = json!({"ItemBatcher": {"MaxInputBytesPerBatch": 4}});
        let batches = child_inputs(&state, vec![json!(10), json!(20), json!(30)], &input, &Scope::default()).unwrap();
        assert_eq!(batches.len(), 3);
    }
}
