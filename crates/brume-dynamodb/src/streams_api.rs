//! The DynamoDB Streams API (`dynamodbstreams`, awsJson 1.0): ListStreams, DescribeStream,
//! GetShardIterator and GetRecords over the streams and records of [`crate::stream`].
//!
//! Shard iterators carry their position and issue time, so they need no server state;
//! they expire 15 minutes after they are issued, as AWS's do.

use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_storage::Direction;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::Ddb;
use crate::error::{constraint, validation};
use crate::stream::{self, Position, Stream};
use crate::table;

/// How long a shard iterator may be used.
const ITERATOR_MS: u64 = 15 * 60 * 1000;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
    table_name: Option<String>,
    limit: Option<i64>,
    exclusive_start_stream_arn: Option<String>,
}

#[derive(Deserialize)]
pub struct ShardFilter {
    #[serde(rename = "Type")]
    ty: Option<String>,
    #[serde(rename = "ShardId")]
    shard_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    stream_arn: String,
    limit: Option<i64>,
    exclusive_start_shard_id: Option<String>,
    shard_filter: Option<ShardFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    stream_arn: String,
    shard_id: String,
    shard_iterator_type: String,
    sequence_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    shard_iterator: String,
    limit: Option<i64>,
}

/// A `Limit` up to `max` (the front end has refused less than 1), or `default` when absent.
fn limit(given: Option<i64>, max: usize, default: usize) -> Result<usize, AwsError> {
    match given {
        None => Ok(default),
        Some(n) if n as usize > max => {
            Err(constraint(n, "limit", &format!("Member must have value less than or equal to {max}")))
        }
        Some(n) => Ok(n as usize),
    }
}

/// A string member within the lengths the model gives it.
fn check_len(value: &str, member: &str, min: usize, max: usize) -> Result<(), AwsError> {
    if value.len() < min {
        return Err(constraint(value, member, &format!("Member must have length greater than or equal to {min}")));
    }
    if value.len() > max {
        return Err(constraint(value, member, &format!("Member must have length less than or equal to {max}")));
    }
    Ok(())
}

/// A stream ARN as the model constrains it, then as a stream of the caller's account.
fn check_arn(ctx: &RequestContext, arn: &str, member: &str) -> Result<(), AwsError> {
    check_len(arn, member, 37, 1024)?;
    match stream::parse_arn(arn) {
        None => Err(validation(format!("Invalid StreamArn: {arn}"))),
        Some((account, region, _, _)) if account != ctx.account || region != ctx.region => {
            Err(stream::stream_not_found(arn))
        }
        Some(_) => Ok(()),
    }
}

fn shard_not_found() -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", "Requested resource not found: Shard does not exist")
}

fn invalid_iterator() -> AwsError {
    validation("Invalid ShardIterator")
}

fn now_ms() -> u64 {
    (Timestamp::now().0 * 1000.0) as u64
}

/// Times as Java prints them in AWS's iterator messages: `Thu Nov 26 22:51:09 UTC 2026`.
fn java_date(ms: u64) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
    );
    Timestamp(ms as f64 / 1000.0).to_offset_datetime().format(format).unwrap_or_default()
}

fn summary(s: &Stream) -> Json {
    json!({ "StreamArn": s.arn(), "TableName": s.table, "StreamLabel": s.label })
}

impl Ddb {
    pub async fn list_streams(self: Arc<Self>, ctx: RequestContext, input: ListStreamsInput) -> Result<Json, AwsError> {
        let limit = limit(input.limit, 100, 100)?;
        if let Some(name) = &input.table_name {
            check_len(name, "tableName", 3, 255)?;
        }
        let start = match &input.exclusive_start_stream_arn {
            Some(arn) => {
                check_arn(&ctx, arn, "exclusiveStartStreamArn")?;
                stream::parse_arn(arn).map(|(_, _, t, l)| (t.to_string(), l.to_string()))
            }
            None => None,
        };
        let now = Timestamp::now().0;
        let view = self.kv.snapshot()?;
        let range = stream::streams_of(&ctx.account, &ctx.region, input.table_name.as_deref());
        let mut streams = Vec::new();
        for (_, bytes) in view.scan(table::KEYSPACE, &range, Direction::Forward, usize::MAX)? {
            let s = stream::decode_stream(&bytes)?;
            let after_start =
                start.as_ref().is_none_or(|(t, l)| (s.table.as_str(), s.label.as_str()) > (t.as_str(), l.as_str()));
            if !s.expired(now) && after_start {
                streams.push(s);
            }
        }
        if let Some(name) = &input.table_name
            && streams.is_empty()
            && start.is_none()
            && table::load_table(&*view, &ctx.account, &ctx.region, name)?.is_none()
        {
            return Err(crate::error::table_not_found(name));
        }
        let more = streams.len() > limit;
        streams.truncate(limit);
        let mut out = json!({ "Streams": streams.iter().map(summary).collect::<Vec<_>>() });
        if more && let Some(last) = streams.last() {
            out["LastEvaluatedStreamArn"] = json!(last.arn());
        }
        Ok(out)
    }

    pub async fn describe_stream(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DescribeStreamInput,
    ) -> Result<Json, AwsError> {
        check_arn(&ctx, &input.stream_arn, "streamArn")?;
        limit(input.limit, 100, 100)?;
        if let Some(start) = &input.exclusive_start_shard_id {
            check_len(start, "exclusiveStartShardId", 28, 65)?;
        }
        let view = self.kv.snapshot()?;
        let s = stream::find(&*view, &input.stream_arn, Timestamp::now().0)?;
        let shard_id = s.shard_id();
        let mut range = json!({ "StartingSequenceNumber": stream::sequence_number(s.first) });
        if let Some((_, end)) = s.disabled {
            range["EndingSequenceNumber"] = json!(stream::sequence_number(end.max(s.first)));
        }
        // The one shard has no children, and comes after no other shard.
        let listed = match (&input.shard_filter, &input.exclusive_start_shard_id) {
            (Some(f), _) => {
                if f.ty.as_deref() != Some("CHILD_SHARDS") {
                    return Err(constraint(
                        f.ty.as_deref().unwrap_or("null"),
                        "shardFilter.type",
                        "Member must satisfy enum value set: [CHILD_SHARDS]",
                    ));
                }
                if f.shard_id.as_deref() != Some(shard_id.as_str()) {
                    return Err(shard_not_found());
                }
                false
            }
            (None, Some(start)) => *start < shard_id,
            (None, None) => true,
        };
        let shards: Vec<Json> =
            if listed { vec![json!({ "ShardId": shard_id, "SequenceNumberRange": range })] } else { Vec::new() };
        Ok(json!({ "StreamDescription": {
            "StreamArn": s.arn(),
            "StreamLabel": s.label,
            "StreamStatus": s.status(),
            "StreamViewType": s.view,
            "CreationRequestDateTime": s.created,
            "TableName": s.table,
            "KeySchema": s.key.describe(),
            "Shards": shards,
        }}))
    }

    pub async fn get_shard_iterator(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetShardIteratorInput,
    ) -> Result<Json, AwsError> {
        check_arn(&ctx, &input.stream_arn, "streamArn")?;
        check_len(&input.shard_id, "shardId", 28, 65)?;
        if let Some(seq) = &input.sequence_number {
            check_len(seq, "sequenceNumber", 21, 40)?;
        }
        let sequence = |kind: &str| -> Result<u64, AwsError> {
            let given = input.sequence_number.as_deref().ok_or_else(|| {
                validation(format!("SequenceNumber must be provided when ShardIteratorType is {kind}"))
            })?;
            stream::parse_sequence_number(given).ok_or_else(|| validation(format!("Invalid SequenceNumber: {given}")))
        };
        let position = match input.shard_iterator_type.as_str() {
            kind @ ("TRIM_HORIZON" | "LATEST") if input.sequence_number.is_some() => {
                return Err(validation(format!(
                    "SequenceNumber must not be provided when ShardIteratorType is {kind}"
                )));
            }
            "TRIM_HORIZON" => Position::TrimHorizon,
            "LATEST" => Position::Latest,
            kind @ "AT_SEQUENCE_NUMBER" => Position::At(sequence(kind)?),
            kind @ "AFTER_SEQUENCE_NUMBER" => Position::After(sequence(kind)?),
            other => {
                return Err(constraint(
                    other,
                    "shardIteratorType",
                    "Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER]",
                ));
            }
        };
        let s = stream::find(&*self.kv, &input.stream_arn, Timestamp::now().0)?;
        if input.shard_id != s.shard_id() {
            return Err(shard_not_found());
        }
        let after = self.stream_position(&input.stream_arn, position)?;
        Ok(json!({ "ShardIterator": stream::iterator(&input.stream_arn, after, now_ms()) }))
    }

    pub async fn get_records(self: Arc<Self>, ctx: RequestContext, input: GetRecordsInput) -> Result<Json, AwsError> {
        check_len(&input.shard_iterator, "shardIterator", 1, 2048)?;
        let limit = limit(input.limit, stream::MAX_RECORDS, stream::MAX_RECORDS)?;
        let (arn, after, issued) = stream::parse_iterator(&input.shard_iterator).ok_or_else(invalid_iterator)?;
        if stream::parse_arn(arn).is_none_or(|(account, region, _, _)| account != ctx.account || region != ctx.region) {
            return Err(invalid_iterator());
        }
        let now = now_ms();
        if now > issued + ITERATOR_MS {
            return Err(AwsError::new(
                400,
                "ExpiredIteratorException",
                format!(
                    "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_MS} milliseconds.",
                    java_date(issued),
                    java_date(now)
                ),
            ));
        }
        let batch = self.read_records(arn, after, limit)?;
        let mut out = json!({ "Records": batch.records });
        if !batch.finished {
            out["NextShardIterator"] = json!(stream::iterator(arn, batch.position, now));
        }
        Ok(out)
    }
}
