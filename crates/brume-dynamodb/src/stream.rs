//! DynamoDB Streams' records, written in the storage transaction of the item change they
//! record, and read back by the `dynamodbstreams` API (and, later, Lambda's event source
//! mappings) through [`Ddb::read_records`].
//!
//! - `st/<account>/<region>/<table name>/<label>` → [`Stream`]: one stream of a table; a
//!   disabled stream (or one whose table was deleted) stays readable for 24 hours
//! - `r/<table id>/<label>/<sequence number>` → one record, in its GetRecords form
//!
//! Sequence numbers come from a counter in the table's [`table::Stats`] record, which every
//! write already reads and rewrites: they increase per table (across its successive
//! streams), survive restarts and cost no extra read. A stream has a single shard.

use base64::Engine as _;
use brume_core::AwsError;
use brume_core::value::Timestamp;
use brume_storage::key::{self, Element};
use brume_storage::{Direction, KeyRange, ReadView, Txn};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::Ddb;
use crate::error::validation;
use crate::table::{self, KEYSPACE, KeySchema, Table, corrupt};
use crate::value::{Item, item_size};

/// How long records are kept, and a disabled stream stays readable.
pub const RETENTION: f64 = 24.0 * 3600.0;
/// Sequence numbers are printed as this plus the counter: 21 digits, the shortest AWS
/// allows, so their string order is their numeric order.
const SEQUENCE_BASE: u128 = 100_000_000_000_000_000_000;
/// The most a GetRecords answer carries.
pub const MAX_RECORDS: usize = 1000;
const MAX_BYTES: usize = 1 << 20;
/// Records trimmed per storage transaction.
const TRIM_BATCH: usize = 256;

/// Who made a change: a client's request, or DynamoDB's own TTL sweep (whose REMOVE
/// records name the service).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Writer {
    Client,
    Ttl,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stream {
    pub account: String,
    pub region: String,
    pub table: String,
    pub table_id: String,
    pub label: String,
    pub view: String,
    pub key: KeySchema,
    pub created: f64,
    /// The first sequence number the stream can hold.
    pub first: u64,
    /// Records up to this sequence number have been trimmed.
    pub trimmed: u64,
    /// When the stream was disabled, and the last sequence number it holds.
    pub disabled: Option<(f64, u64)>,
}

impl Stream {
    pub fn arn(&self) -> String {
        format!("arn:aws:dynamodb:{}:{}:table/{}/stream/{}", self.region, self.account, self.table, self.label)
    }

    /// The one shard's id, in AWS's form: creation time in milliseconds, then 8 hex digits.
    pub fn shard_id(&self) -> String {
        let tail: String = self.table_id.chars().filter(char::is_ascii_hexdigit).take(8).collect();
        format!("shardId-{:020}-{tail:0>8}", (self.created * 1000.0) as u64)
    }

    pub fn status(&self) -> &'static str {
        if self.disabled.is_some() { "DISABLED" } else { "ENABLED" }
    }

    /// A stream disabled more than a day ago is gone, whether or not the trim has run.
    pub fn expired(&self, now: f64) -> bool {
        self.disabled.is_some_and(|(at, _)| at + RETENTION <= now)
    }

    /// The lowest position a reader may start after: everything before is trimmed.
    pub fn horizon(&self) -> u64 {
        self.trimmed.max(self.first - 1)
    }
}

/// The label of a stream created at `at`: that time, ISO 8601 with milliseconds.
pub fn label(at: f64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]");
    Timestamp(at).to_offset_datetime().format(format).unwrap_or_default()
}

pub fn sequence_number(seq: u64) -> String {
    (SEQUENCE_BASE + u128::from(seq)).to_string()
}

/// The counter behind a sequence number this module printed.
pub fn parse_sequence_number(s: &str) -> Option<u64> {
    if !(21..=40).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u128>().ok()?.checked_sub(SEQUENCE_BASE)?.try_into().ok()
}

/// The parts of a stream ARN: account, region, table name, label.
pub fn parse_arn(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", _, "dynamodb", region, account, resource] = parts[..] else {
        return None;
    };
    let (table, label) = resource.strip_prefix("table/")?.split_once("/stream/")?;
    (!table.is_empty() && !label.is_empty()).then_some((account, region, table, label))
}

fn stream_key(account: &str, region: &str, table: &str, label: &str) -> Vec<u8> {
    key::encode(&["st".into(), account.into(), region.into(), table.into(), label.into()])
}

/// The streams of an account and region, or of one table.
pub fn streams_of(account: &str, region: &str, table: Option<&str>) -> KeyRange {
    let mut parts: Vec<Element> = vec!["st".into(), account.into(), region.into()];
    parts.extend(table.map(Element::from));
    KeyRange::prefix(&key::encode(&parts))
}

fn records_of(table_id: &str, label: &str) -> Vec<Element> {
    vec!["r".into(), table_id.into(), label.into()]
}

fn record_key(table_id: &str, label: &str, seq: u64) -> Vec<u8> {
    let mut parts = records_of(table_id, label);
    parts.push(Element::Int(i128::from(seq)));
    key::encode(&parts)
}

pub fn decode_stream(bytes: &[u8]) -> Result<Stream, AwsError> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(&e))
}

fn save(txn: &mut dyn Txn, stream: &Stream) -> Result<(), AwsError> {
    let bytes = serde_json::to_vec(stream).map_err(|e| corrupt(&e))?;
    txn.put(KEYSPACE, &stream_key(&stream.account, &stream.region, &stream.table, &stream.label), &bytes)?;
    Ok(())
}

pub fn load(
    view: &dyn ReadView,
    account: &str,
    region: &str,
    table: &str,
    label: &str,
) -> Result<Option<Stream>, AwsError> {
    view.get(KEYSPACE, &stream_key(account, region, table, label))?.map(|b| decode_stream(&b)).transpose()
}

/// `at`, or the first millisecond after it whose label no stream of `table` has yet: a
/// stream enabled again within the millisecond it was disabled must not take the old one's
/// name.
pub fn unused_moment(view: &dyn ReadView, table: &Table, mut at: f64) -> Result<f64, AwsError> {
    while load(view, &table.account, &table.region, &table.name, &label(at))?.is_some() {
        at = ((at * 1000.0).round() + 1.0) / 1000.0;
    }
    Ok(at)
}

/// Records the stream `table` has just been given (its label set at `at`).
pub fn open(txn: &mut dyn Txn, table: &Table, at: f64) -> Result<(), AwsError> {
    let (Some(view), Some(label)) = (&table.stream_view, &table.stream_label) else {
        return Ok(());
    };
    let next = table::load_stats(txn, table)?.stream_seq + 1;
    save(
        txn,
        &Stream {
            account: table.account.clone(),
            region: table.region.clone(),
            table: table.name.clone(),
            table_id: table.id.clone(),
            label: label.clone(),
            view: view.clone(),
            key: table.key.clone(),
            created: at,
            first: next,
            trimmed: 0,
            disabled: None,
        },
    )
}

/// Closes `table`'s enabled stream (disabled, or its table deleted) at `at`: its shard
/// ends at the last record written, and it stays readable for a day.
pub fn close(txn: &mut dyn Txn, table: &Table, at: f64) -> Result<(), AwsError> {
    let (Some(_), Some(label)) = (&table.stream_view, &table.stream_label) else {
        return Ok(());
    };
    let Some(mut stream) = load(txn, &table.account, &table.region, &table.name, label)? else {
        return Ok(());
    };
    if stream.disabled.is_none() {
        stream.disabled = Some((at, table::load_stats(txn, table)?.stream_seq));
        save(txn, &stream)?;
    }
    Ok(())
}

/// Writes the record of a change to `table`'s stream, when it has one enabled and the
/// change changes something (DynamoDB writes none for a put or update that leaves the
/// item as it was). `seq` is the table's counter, advanced for the record.
pub fn emit(
    txn: &mut dyn Txn,
    table: &Table,
    seq: &mut u64,
    old: Option<&Item>,
    new: Option<&Item>,
    writer: Writer,
) -> Result<(), AwsError> {
    let (Some(view), Some(label)) = (&table.stream_view, &table.stream_label) else {
        return Ok(());
    };
    if old == new {
        return Ok(());
    }
    let Some(keys) = new.or(old).and_then(|i| table.key.key_of(i)) else {
        return Ok(());
    };
    *seq += 1;
    let change = Change { view, region: &table.region, keys: &keys, old, new, writer };
    let record = change.record(*seq, Timestamp::now().0, &uuid::Uuid::new_v4().simple().to_string());
    txn.put(KEYSPACE, &record_key(&table.id, label, *seq), &serde_json::to_vec(&record).map_err(|e| corrupt(&e))?)?;
    Ok(())
}

/// One item change, as a stream of view type `view` records it.
struct Change<'a> {
    view: &'a str,
    region: &'a str,
    keys: &'a Item,
    old: Option<&'a Item>,
    new: Option<&'a Item>,
    writer: Writer,
}

impl Change<'_> {
    /// The record in its GetRecords form; its time is rounded down to the second, as
    /// DynamoDB reports it.
    fn record(&self, seq: u64, at: f64, event_id: &str) -> Json {
        let event = match (self.old, self.new) {
            (None, _) => "INSERT",
            (Some(_), Some(_)) => "MODIFY",
            (Some(_), None) => "REMOVE",
        };
        let mut size = item_size(self.keys);
        let mut body = json!({
            "ApproximateCreationDateTime": at.floor(),
            "Keys": self.keys,
            "SequenceNumber": sequence_number(seq),
            "StreamViewType": self.view,
        });
        if matches!(self.view, "NEW_IMAGE" | "NEW_AND_OLD_IMAGES")
            && let Some(new) = self.new
        {
            size += item_size(new);
            body["NewImage"] = json!(new);
        }
        if matches!(self.view, "OLD_IMAGE" | "NEW_AND_OLD_IMAGES")
            && let Some(old) = self.old
        {
            size += item_size(old);
            body["OldImage"] = json!(old);
        }
        body["SizeBytes"] = json!(size);
        let mut record = json!({
            "eventID": event_id,
            "eventName": event,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": body,
        });
        if self.writer == Writer::Ttl {
            record["userIdentity"] = json!({"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"});
        }
        record
    }
}

/// Where a reader starts in a stream's shard.
pub enum Position {
    TrimHorizon,
    Latest,
    At(u64),
    After(u64),
}

/// Records read from a stream: the records, the position after them, and whether the
/// shard is closed with nothing left to read after that position.
pub struct Batch {
    pub records: Vec<Json>,
    pub position: u64,
    pub finished: bool,
}

pub fn trimmed() -> AwsError {
    AwsError::new(
        400,
        "TrimmedDataAccessException",
        "The operation attempted to read past the oldest stream record in a shard.",
    )
}

pub fn stream_not_found(arn: &str) -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", format!("Requested resource not found: Stream: {arn} not found"))
}

/// The stream `arn` names, as of `view` at `now`.
pub fn find(view: &dyn ReadView, arn: &str, now: f64) -> Result<Stream, AwsError> {
    let (account, region, table, label) = parse_arn(arn).ok_or_else(|| stream_not_found(arn))?;
    load(view, account, region, table, label)?.filter(|s| !s.expired(now)).ok_or_else(|| stream_not_found(arn))
}

/// The last sequence number written to `stream`.
fn last(view: &dyn ReadView, stream: &Stream) -> Result<u64, AwsError> {
    if let Some((_, end)) = stream.disabled {
        return Ok(end);
    }
    match table::load_table(view, &stream.account, &stream.region, &stream.table)? {
        Some(t) if t.id == stream.table_id => Ok(table::load_stats(view, &t)?.stream_seq),
        _ => Ok(stream.first - 1),
    }
}

impl Ddb {
    /// The position (the sequence number to read after) `at` names in stream `arn`.
    pub fn stream_position(&self, arn: &str, at: Position) -> Result<u64, AwsError> {
        let view = self.kv.snapshot()?;
        let stream = find(&*view, arn, Timestamp::now().0)?;
        let last = last(&*view, &stream)?;
        let (seq, inclusive) = match at {
            Position::TrimHorizon => return Ok(stream.horizon()),
            Position::Latest => return Ok(last),
            Position::At(seq) => (seq, true),
            Position::After(seq) => (seq, false),
        };
        if seq <= stream.trimmed {
            return Err(trimmed());
        }
        if seq < stream.first || seq > last {
            return Err(validation(format!(
                "Invalid SequenceNumber: {} is not in shard {} of stream {arn}",
                sequence_number(seq),
                stream.shard_id()
            )));
        }
        Ok(if inclusive { seq - 1 } else { seq })
    }

    /// Up to `limit` records of stream `arn` after sequence number `after` (and at most
    /// 1 MB of them), oldest first. A position that has been trimmed away is refused.
    pub fn read_records(&self, arn: &str, after: u64, limit: usize) -> Result<Batch, AwsError> {
        let view = self.kv.snapshot()?;
        let stream = find(&*view, arn, Timestamp::now().0)?;
        if after < stream.horizon() {
            return Err(trimmed());
        }
        let mut start = records_of(&stream.table_id, &stream.label);
        let end = key::encode(&start);
        start.push(Element::Int(i128::from(after)));
        let range = KeyRange { start: std::ops::Bound::Excluded(key::encode(&start)), end: KeyRange::prefix(&end).end };
        let mut records = Vec::new();
        let (mut position, mut bytes) = (after, 0);
        for (k, v) in view.scan(KEYSPACE, &range, Direction::Forward, limit.min(MAX_RECORDS))? {
            let record: Json = serde_json::from_slice(&v).map_err(|e| corrupt(&e))?;
            bytes += record["dynamodb"]["SizeBytes"].as_u64().unwrap_or(0) as usize;
            if bytes > MAX_BYTES && !records.is_empty() {
                break;
            }
            position = match key::decode(&k).map_err(|e| corrupt(&e))?.pop() {
                Some(Element::Int(seq)) => seq as u64,
                _ => return Err(AwsError::internal()),
            };
            records.push(record);
        }
        let finished = stream.disabled.is_some_and(|(_, end)| position >= end);
        Ok(Batch { records, position, finished })
    }

    /// Trims records older than a day from every stream, and forgets streams disabled
    /// more than a day ago with their records; answers how many records went.
    pub async fn trim_streams(&self, now: f64) -> Result<u64, AwsError> {
        let streams: Vec<Stream> = self
            .kv
            .scan(KEYSPACE, &KeyRange::prefix(&key::encode(&["st".into()])), Direction::Forward, usize::MAX)?
            .into_iter()
            .map(|(_, v)| decode_stream(&v))
            .collect::<Result<_, _>>()?;
        let mut removed = 0;
        for stream in streams {
            removed += self.in_batches(TRIM_BATCH, move |txn| trim_step(txn, &stream, now)).await?;
        }
        Ok(removed)
    }
}

/// Deletes up to [`TRIM_BATCH`] records of `stream` that are due; answers how many.
fn trim_step(txn: &mut dyn Txn, stream: &Stream, now: f64) -> Result<usize, AwsError> {
    let Some(mut current) = load(txn, &stream.account, &stream.region, &stream.table, &stream.label)? else {
        return Ok(0);
    };
    let range = KeyRange::prefix(&key::encode(&records_of(&current.table_id, &current.label)));
    let gone = current.expired(now);
    let mut count = 0;
    for (k, v) in txn.scan(KEYSPACE, &range, Direction::Forward, TRIM_BATCH)? {
        if !gone {
            let record: Json = serde_json::from_slice(&v).map_err(|e| corrupt(&e))?;
            if record["dynamodb"]["ApproximateCreationDateTime"].as_f64().unwrap_or(0.0) + RETENTION > now {
                break;
            }
            if let Some(Element::Int(seq)) = key::decode(&k).map_err(|e| corrupt(&e))?.pop() {
                current.trimmed = current.trimmed.max(seq as u64);
            }
        }
        txn.delete(KEYSPACE, &k)?;
        count += 1;
    }
    if gone && count < TRIM_BATCH {
        txn.delete(KEYSPACE, &stream_key(&current.account, &current.region, &current.table, &current.label))?;
    } else if count > 0 {
        save(txn, &current)?;
    }
    Ok(count)
}

/// A shard iterator: the stream's ARN, then (opaque to clients) the position to read
/// after and when the iterator was issued, in milliseconds.
pub fn iterator(arn: &str, after: u64, issued_ms: u64) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(format!("{after}/{issued_ms}"));
    format!("{arn}|1|{payload}")
}

/// The stream ARN, position and issue time of an iterator [`iterator`] made.
pub fn parse_iterator(it: &str) -> Option<(&str, u64, u64)> {
    let mut parts = it.rsplitn(3, '|');
    let payload = parts.next()?;
    let _version = parts.next()?;
    let arn = parts.next()?;
    let payload = base64::engine::general_purpose::STANDARD.decode(payload).ok()?;
    let (after, issued) = std::str::from_utf8(&payload).ok()?.split_once('/')?;
    Some((arn, after.parse().ok()?, issued.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Num;
    use crate::value::Value;
    use brume_storage::Storage;

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), Value::S(v.to_string()))).collect()
    }

    fn record(view: &str, old: Option<&Item>, new: Option<&Item>, writer: Writer) -> Json {
        let keys = item(&[("pk", "a")]);
        Change { view, region: "eu-west-1", keys: &keys, old, new, writer }.record(7, 1700000000.75, "e1")
    }

    #[test]
    fn records_carry_what_their_view_type_asks_for() {
        let old = item(&[("pk", "a"), ("v", "old")]);
        let new = item(&[("pk", "a"), ("v", "new!")]);
        let check = |view: &str, has_old: bool, has_new: bool, size: u64| {
            let r = record(view, Some(&old), Some(&new), Writer::Client);
            assert_eq!(r["eventName"], "MODIFY");
            assert_eq!(r["dynamodb"]["Keys"], json!({"pk": {"S": "a"}}));
            assert_eq!(r["dynamodb"].get("OldImage").is_some(), has_old, "{view}");
            assert_eq!(r["dynamodb"].get("NewImage").is_some(), has_new, "{view}");
            assert_eq!(r["dynamodb"]["SizeBytes"], size, "{view}");
            assert_eq!(r["dynamodb"]["StreamViewType"], view);
        };
        // Keys: "pk" + "a" = 3 bytes; old image 3 + "v" + "old" = 7; new 3 + 1 + 4 = 8.
        check("KEYS_ONLY", false, false, 3);
        check("OLD_IMAGE", true, false, 10);
        check("NEW_IMAGE", false, true, 11);
        check("NEW_AND_OLD_IMAGES", true, true, 18);
    }

    #[test]
    fn record_fields() {
        let new = item(&[("pk", "a")]);
        let r = record("NEW_AND_OLD_IMAGES", None, Some(&new), Writer::Client);
        assert_eq!(r["eventName"], "INSERT");
        assert_eq!((r["eventVersion"].as_str(), r["eventSource"].as_str()), (Some("1.1"), Some("aws:dynamodb")));
        assert_eq!(r["awsRegion"], "eu-west-1");
        assert_eq!(r["dynamodb"]["ApproximateCreationDateTime"], 1700000000.0);
        assert_eq!(r["dynamodb"]["SequenceNumber"], "100000000000000000007");
        assert!(r["dynamodb"].get("OldImage").is_none() && r.get("userIdentity").is_none());
        let removed = record("KEYS_ONLY", Some(&new), None, Writer::Ttl);
        assert_eq!(removed["eventName"], "REMOVE");
        assert_eq!(removed["userIdentity"], json!({"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}));
    }

    #[test]
    fn sequence_numbers_round_trip_and_sort_as_strings() {
        for n in [1u64, 9, 10, 12345, u64::MAX] {
            assert_eq!(parse_sequence_number(&sequence_number(n)), Some(n));
        }
        assert!(sequence_number(9) < sequence_number(10));
        for bad in [
            "",
            "12",
            "abc000000000000000000001",
            "000000000000000000001",
            "1000000000000000000000000000000000000000000",
        ] {
            assert_eq!(parse_sequence_number(bad), None, "{bad}");
        }
        assert!(Num::parse(&sequence_number(3)).is_ok());
    }

    #[test]
    fn arns_and_iterators() {
        let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t.1/stream/2026-11-26T22:36:50.123";
        assert_eq!(parse_arn(arn), Some(("000000000000", "us-east-1", "t.1", "2026-11-26T22:36:50.123")));
        assert_eq!(parse_arn("arn:aws:dynamodb:us-east-1:000000000000:table/t.1"), None);
        assert_eq!(parse_arn("arn:aws:sqs:us-east-1:000000000000:table/t/stream/x"), None);
        let it = iterator(arn, 42, 1_700_000_000_000);
        assert!(it.starts_with(&format!("{arn}|1|")));
        assert_eq!(parse_iterator(&it), Some((arn, 42, 1_700_000_000_000)));
        assert_eq!(parse_iterator("nonsense"), None);
        assert_eq!(label(1_764_196_610.123), "2025-11-26T22:36:50.123");
    }

    #[test]
    fn shard_ids_look_like_aws() {
        let stream = Stream {
            account: "000000000000".into(),
            region: "us-east-1".into(),
            table: "t".into(),
            table_id: "abcdef12-3456-7890-abcd-ef1234567890".into(),
            label: label(1_700_000_000.0),
            view: "KEYS_ONLY".into(),
            key: KeySchema { hash: table::KeyAttr { name: "pk".into(), ty: "S".into() }, range: None },
            created: 1_700_000_000.0,
            first: 1,
            trimmed: 0,
            disabled: None,
        };
        assert_eq!(stream.shard_id(), "shardId-00000001700000000000-abcdef12");
        assert!(!stream.expired(1e12));
        let closed = Stream { disabled: Some((100.0, 5)), ..stream };
        assert!(!closed.expired(100.0 + RETENTION - 1.0) && closed.expired(100.0 + RETENTION));
        assert_eq!(closed.status(), "DISABLED");
    }

    #[tokio::test]
    async fn old_records_are_trimmed_and_closed_streams_forgotten() {
        let kv = Storage::in_memory().kv;
        let ddb = crate::tests::ddb(kv.clone());
        let now = Timestamp::now().0;
        let mut t = table::tests::table();
        t.stream_view = Some("KEYS_ONLY".into());
        t.stream_label = Some(label(now));
        let written = t.clone();
        kv.transact(move |txn: &mut dyn Txn| -> Result<(), AwsError> {
            table::save_table(txn, &written)?;
            open(txn, &written, now)?;
            for i in 0..3 {
                let item = item(&[("pk", &format!("k{i}"))]);
                let key = written.check_item_key(&item)?;
                table::write_item(txn, &written, &key, None, Some(&item))?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let arn = format!("{}/stream/{}", t.arn(), label(now));
        let batch = ddb.read_records(&arn, 0, 10).unwrap();
        assert_eq!((batch.records.len(), batch.position, batch.finished), (3, 3, false));
        assert_eq!(ddb.read_records(&arn, 1, 1).unwrap().records[0]["dynamodb"]["Keys"], json!({"pk": {"S": "k1"}}));
        assert_eq!(ddb.trim_streams(now).await.unwrap(), 0);
        assert_eq!(ddb.trim_streams(now + RETENTION + 1.0).await.unwrap(), 3);
        let code = |r: Result<Batch, AwsError>| r.err().map(|e| e.code.to_string());
        assert_eq!(code(ddb.read_records(&arn, 0, 10)).as_deref(), Some("TrimmedDataAccessException"));
        assert_eq!(ddb.stream_position(&arn, Position::TrimHorizon).unwrap(), 3);
        assert_eq!(ddb.stream_position(&arn, Position::Latest).unwrap(), 3);
        assert!(ddb.read_records(&arn, 3, 10).unwrap().records.is_empty());
        kv.transact(move |txn: &mut dyn Txn| close(txn, &t, now)).await.unwrap();
        assert!(ddb.read_records(&arn, 3, 10).unwrap().finished);
        // A day after it was disabled, the stream is gone with its records.
        ddb.trim_streams(now + RETENTION).await.unwrap();
        assert_eq!(code(ddb.read_records(&arn, 3, 10)).as_deref(), Some("ResourceNotFoundException"));
        let left = kv.scan(KEYSPACE, &KeyRange::prefix(&key::encode(&["st".into()])), Direction::Forward, 10).unwrap();
        assert!(left.is_empty());
    }

    #[tokio::test]
    async fn a_stream_enabled_again_within_the_millisecond_gets_a_new_label() {
        let kv = Storage::in_memory().kv;
        let mut t = table::tests::table();
        t.stream_view = Some("KEYS_ONLY".into());
        t.stream_label = Some(label(1_700_000_000.5));
        let opened = t.clone();
        kv.transact(move |txn: &mut dyn Txn| open(txn, &opened, 1_700_000_000.5)).await.unwrap();
        assert_eq!(unused_moment(&*kv, &t, 1_700_000_000.4).unwrap(), 1_700_000_000.4);
        let next = unused_moment(&*kv, &t, 1_700_000_000.5).unwrap();
        assert_eq!(label(next), "2023-11-14T22:13:20.501");
    }
}
