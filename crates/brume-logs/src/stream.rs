//! Log streams: create, delete (with their events), describe in name or last-event order.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use brume_core::{AwsError, RequestContext};
use brume_storage::{Direction, KeyRange};
use serde::{Deserialize, Serialize};

use crate::group::{self, group_name};
use crate::table::{self, KEYSPACE, Stream};
use crate::{Empty, Logs, error, now_ms};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StreamInput {
    log_group_name: String,
    log_stream_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeLogStreamsInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogStream {
    log_stream_name: String,
    creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_ingestion_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_sequence_token: Option<String>,
    arn: String,
    stored_bytes: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeLogStreamsOutput {
    log_streams: Vec<LogStream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// What DescribeLogStreams sorts by: the last event time (0 when ordering by name) and
/// then the name. Page tokens carry the last one listed.
type SortKey = (i64, String);

fn encode_token((t, name): &SortKey) -> String {
    B64.encode(format!("{t}/{name}"))
}

fn decode_token(token: &str) -> Result<SortKey, AwsError> {
    let invalid = || error::invalid_parameter("The specified nextToken is invalid.");
    let text = String::from_utf8(B64.decode(token).map_err(|_| invalid())?).map_err(|_| invalid())?;
    let (t, name) = text.split_once('/').ok_or_else(invalid)?;
    Ok((t.parse().map_err(|_| invalid())?, name.to_string()))
}

impl Logs {
    pub(crate) async fn create_log_stream(
        self: Arc<Self>,
        ctx: RequestContext,
        input: StreamInput,
    ) -> Result<Empty, AwsError> {
        self.kv
            .transact(move |txn| {
                group::load(txn, &ctx, &input.log_group_name)?;
                let key = table::stream_key(&ctx.account, &ctx.region, &input.log_group_name, &input.log_stream_name);
                if txn.get(KEYSPACE, &key)?.is_some() {
                    return Err(error::stream_exists());
                }
                txn.put(KEYSPACE, &key, &table::encode(&Stream::new(&input.log_stream_name, now_ms())))?;
                Ok(Empty {})
            })
            .await
    }

    pub(crate) async fn delete_log_stream(
        self: Arc<Self>,
        ctx: RequestContext,
        input: StreamInput,
    ) -> Result<Empty, AwsError> {
        self.kv
            .transact(move |txn| {
                let (account, region) = (&ctx.account, &ctx.region);
                let (group_name, stream) = (&input.log_group_name, &input.log_stream_name);
                let mut group = group::load(txn, &ctx, group_name)?;
                let key = table::stream_key(account, region, group_name, stream);
                let Some(bytes) = txn.get(KEYSPACE, &key)? else { return Err(error::stream_not_found()) };
                let record: Stream = table::decode(&bytes)?;
                txn.delete(KEYSPACE, &key)?;
                let range = table::stream_events(account, region, group_name, stream, 0, i64::MAX - 1);
                for (k, _) in txn.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)? {
                    let (ts, seq) = table::position_of(&k)?;
                    txn.delete(KEYSPACE, &table::event_key(account, region, group_name, ts, seq))?;
                    txn.delete(KEYSPACE, &k)?;
                }
                group.stored_bytes = (group.stored_bytes - record.stored_bytes).max(0);
                txn.put(KEYSPACE, &table::group_key(account, region, group_name), &table::encode(&group))?;
                Ok(Empty {})
            })
            .await
    }

    pub(crate) async fn describe_log_streams(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DescribeLogStreamsInput,
    ) -> Result<DescribeLogStreamsOutput, AwsError> {
        let group_name = group_name(input.log_group_name, input.log_group_identifier)?;
        // The front end keeps the limit within 1..=50 and the order to its two values.
        let limit = input.limit.map_or(50, |n| n as usize);
        let by_time = input.order_by.as_deref() == Some("LastEventTime");
        if by_time && input.log_stream_name_prefix.is_some() {
            return Err(error::invalid_parameter("Cannot order by LastEventTime with a logStreamNamePrefix."));
        }
        let descending = input.descending.unwrap_or(false);
        let after = input.next_token.as_deref().map(decode_token).transpose()?;

        let view = self.kv.snapshot()?;
        group::load(view.as_ref(), &ctx, &group_name)?;
        let range = match &input.log_stream_name_prefix {
            Some(prefix) => {
                let key = table::stream_key(&ctx.account, &ctx.region, &group_name, prefix);
                KeyRange::prefix(&key[..key.len() - 1])
            }
            None => table::streams_of(&ctx.account, &ctx.region, &group_name),
        };
        let mut streams: Vec<(SortKey, Stream)> = Vec::new();
        for (_, v) in view.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)? {
            let stream: Stream = table::decode(&v)?;
            let key = (if by_time { stream.last_event_ms.unwrap_or(0) } else { 0 }, stream.name.clone());
            streams.push((key, stream));
        }
        streams.sort_by(|a, b| a.0.cmp(&b.0));
        if descending {
            streams.reverse();
        }
        let mut log_streams = Vec::new();
        let mut next_token = None;
        let mut last = None;
        for (key, stream) in streams {
            if let Some(after) = &after
                && (if descending { key >= *after } else { key <= *after })
            {
                continue;
            }
            if log_streams.len() == limit {
                next_token = last.as_ref().map(encode_token);
                break;
            }
            log_streams.push(LogStream {
                arn: table::stream_arn(&ctx.region, &ctx.account, &group_name, &stream.name),
                creation_time: stream.created_ms,
                first_event_timestamp: stream.first_event_ms,
                last_event_timestamp: stream.last_event_ms,
                last_ingestion_time: stream.last_ingestion_ms,
                upload_sequence_token: (stream.puts > 0).then(|| table::sequence_token(stream.puts)),
                stored_bytes: stream.stored_bytes,
                log_stream_name: stream.name,
            });
            last = Some(key);
        }
        Ok(DescribeLogStreamsOutput { log_streams, next_token })
    }
}
