//! Log events: PutLogEvents (and Lambda's appends), GetLogEvents over one stream with AWS's
//! `f/…` and `b/…` tokens, FilterLogEvents over a group's time-ordered range.

use std::ops::Bound;
use std::sync::Arc;

use brume_core::clients::LogEvent;
use brume_core::{AwsError, RequestContext};
use brume_storage::{Direction, KeyRange, Txn};
use serde::{Deserialize, Serialize};

use crate::group::{self, group_name};
use crate::pattern::Pattern;
use crate::table::{self, DAY_MS, Event, Group, KEYSPACE, Stream};
use crate::{Logs, error, now_ms};

/// Events more than two hours ahead of now or more than 14 days old are rejected.
const TOO_NEW_MS: i64 = 2 * 3_600_000;
const TOO_OLD_MS: i64 = 14 * DAY_MS;
/// PutLogEvents' limits: 10,000 events, 1,048,576 bytes, 24 hours between first and last.
const MAX_BATCH_BYTES: i64 = 1_048_576;
const MAX_BATCH_SPAN_MS: i64 = DAY_MS;
const DEFAULT_EVENTS_LIMIT: usize = 10_000;
/// FilterLogEvents reads at most this many events per call, matching or not, and answers
/// a nextToken to go on from, as AWS does when a search takes long.
const FILTER_SCAN_BUDGET: usize = 10_000;
const SCAN_BATCH: usize = 1_000;

/// The stream a batch goes to.
pub(crate) struct Target {
    account: String,
    region: String,
    group: String,
    stream: String,
}

impl Target {
    pub(crate) fn new(account: &str, region: &str, group: &str, stream: &str) -> Target {
        Target {
            account: account.to_string(),
            region: region.to_string(),
            group: group.to_string(),
            stream: stream.to_string(),
        }
    }
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rejected {
    #[serde(skip_serializing_if = "Option::is_none")]
    too_new_log_event_start_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    too_old_log_event_end_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expired_log_event_end_index: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutLogEventsOutput {
    next_sequence_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected_log_events_info: Option<Rejected>,
}

/// Appends `events` (in timestamp order) to `target` inside `txn`. With `create`, a missing
/// group or stream is created (Lambda's way); otherwise it is AWS's ResourceNotFound.
/// Events too new, too old or past the group's retention are left out and reported.
pub(crate) fn append(
    txn: &mut dyn Txn,
    target: &Target,
    events: &[LogEvent],
    now: i64,
    create: bool,
) -> Result<PutLogEventsOutput, AwsError> {
    let Target { account, region, group: group_name, stream: stream_name } = target;
    let gk = table::group_key(account, region, group_name);
    let mut group = match txn.get(KEYSPACE, &gk)? {
        Some(bytes) => table::decode::<Group>(&bytes)?,
        None if create => Group::new(group_name, now),
        None => return Err(error::group_not_found()),
    };
    let sk = table::stream_key(account, region, group_name, stream_name);
    let mut stream = match txn.get(KEYSPACE, &sk)? {
        Some(bytes) => table::decode::<Stream>(&bytes)?,
        None if create => Stream::new(stream_name, now),
        None => return Err(error::stream_not_found()),
    };

    let too_new_start = events.iter().position(|e| e.timestamp_ms > now + TOO_NEW_MS);
    let too_old_end = events.iter().rposition(|e| e.timestamp_ms < now - TOO_OLD_MS);
    let retention_cutoff = group.cutoff(now);
    let expired_end = group.retention_days.and_then(|_| events.iter().rposition(|e| e.timestamp_ms < retention_cutoff));
    let first = too_old_end.max(expired_end).map_or(0, |i| i + 1);
    let end = too_new_start.unwrap_or(events.len()).max(first);

    for e in &events[first..end] {
        group.seq += 1;
        let record = Event { stream: stream_name.clone(), message: e.message.clone(), ingestion_ms: now };
        txn.put(
            KEYSPACE,
            &table::event_key(account, region, group_name, e.timestamp_ms, group.seq),
            &table::encode(&record),
        )?;
        txn.put(
            KEYSPACE,
            &table::stream_event_key(account, region, group_name, stream_name, e.timestamp_ms, group.seq),
            &[],
        )?;
        let size = table::event_size(&e.message);
        group.stored_bytes += size;
        stream.stored_bytes += size;
        stream.first_event_ms = Some(stream.first_event_ms.map_or(e.timestamp_ms, |t| t.min(e.timestamp_ms)));
        stream.last_event_ms = Some(stream.last_event_ms.map_or(e.timestamp_ms, |t| t.max(e.timestamp_ms)));
        stream.last_ingestion_ms = Some(now);
    }
    stream.puts += 1;
    txn.put(KEYSPACE, &gk, &table::encode(&group))?;
    txn.put(KEYSPACE, &sk, &table::encode(&stream))?;

    let rejected = (too_new_start.is_some() || too_old_end.is_some() || expired_end.is_some()).then_some(Rejected {
        too_new_log_event_start_index: too_new_start,
        too_old_log_event_end_index: too_old_end,
        expired_log_event_end_index: expired_end,
    });
    Ok(PutLogEventsOutput {
        next_sequence_token: table::sequence_token(stream.puts),
        rejected_log_events_info: rejected,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InputLogEvent {
    timestamp: i64,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutLogEventsInput {
    log_group_name: String,
    log_stream_name: String,
    log_events: Vec<InputLogEvent>,
}

/// Checks AWS makes on a PutLogEvents batch before it looks at the stream.
fn validate_batch(events: &[InputLogEvent]) -> Result<(), AwsError> {
    // The front end has refused batches of no event or more than 10,000, and empty messages.
    if events.windows(2).any(|w| w[1].timestamp < w[0].timestamp) {
        return Err(error::invalid_parameter(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    if let (Some(first), Some(last)) = (events.first(), events.last())
        && last.timestamp - first.timestamp > MAX_BATCH_SPAN_MS
    {
        return Err(error::invalid_parameter(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
        ));
    }
    let size: i64 = events.iter().map(|e| table::event_size(&e.message)).sum();
    if size > MAX_BATCH_BYTES {
        return Err(error::invalid_parameter(format!(
            "Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetLogEventsInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    next_token: Option<String>,
    limit: Option<i64>,
    start_from_head: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutputLogEvent {
    timestamp: i64,
    message: String,
    ingestion_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetLogEventsOutput {
    events: Vec<OutputLogEvent>,
    next_forward_token: String,
    next_backward_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterLogEventsInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilteredLogEvent {
    log_stream_name: String,
    timestamp: i64,
    message: String,
    ingestion_time: i64,
    event_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchedLogStream {
    log_stream_name: String,
    searched_completely: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterLogEventsOutput {
    events: Vec<FilteredLogEvent>,
    searched_log_streams: Vec<SearchedLogStream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// A place between events: `(timestamp, seq)` of the event just before it. Seq 0 is never
/// an event's, so `(t, 0)` is the place before every event at time `t`.
type Position = (i64, u64);

fn format_position((ts, seq): Position) -> String {
    format!("{ts:020}{seq:020}")
}

fn parse_position(digits: &str) -> Result<Position, AwsError> {
    let invalid = || error::invalid_parameter("The specified nextToken is invalid.");
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    Ok((digits[..20].parse().map_err(|_| invalid())?, digits[20..].parse().map_err(|_| invalid())?))
}

/// The front end keeps `limit` within 1..=10,000.
fn events_limit(limit: Option<i64>) -> usize {
    limit.map_or(DEFAULT_EVENTS_LIMIT, |n| n as usize)
}

/// The later of two lower bounds (an `Excluded` one wins a tie).
fn later_start(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match (&a, &b) {
        (Bound::Included(x) | Bound::Excluded(x), Bound::Included(y) | Bound::Excluded(y)) => {
            if x > y || (x == y && matches!(a, Bound::Excluded(_))) { a } else { b }
        }
        (Bound::Unbounded, _) => b,
        (_, Bound::Unbounded) => a,
    }
}

/// The earlier of two upper bounds (an `Excluded` one wins a tie).
fn earlier_end(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match (&a, &b) {
        (Bound::Included(x) | Bound::Excluded(x), Bound::Included(y) | Bound::Excluded(y)) => {
            if x < y || (x == y && matches!(a, Bound::Excluded(_))) { a } else { b }
        }
        (Bound::Unbounded, _) => b,
        (_, Bound::Unbounded) => a,
    }
}

impl Logs {
    pub(crate) async fn put_log_events_op(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PutLogEventsInput,
    ) -> Result<PutLogEventsOutput, AwsError> {
        validate_batch(&input.log_events)?;
        let target = Target::new(&ctx.account, &ctx.region, &input.log_group_name, &input.log_stream_name);
        let events: Vec<LogEvent> =
            input.log_events.into_iter().map(|e| LogEvent { timestamp_ms: e.timestamp, message: e.message }).collect();
        self.kv.transact(move |txn| append(txn, &target, &events, now_ms(), false)).await
    }

    pub(crate) async fn get_log_events(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetLogEventsInput,
    ) -> Result<GetLogEventsOutput, AwsError> {
        let group_name = group_name(input.log_group_name, input.log_group_identifier)?;
        let limit = events_limit(input.limit);
        let view = self.kv.snapshot()?;
        let group = group::load(view.as_ref(), &ctx, &group_name)?;
        let stream = &input.log_stream_name;
        if view.get(KEYSPACE, &table::stream_key(&ctx.account, &ctx.region, &group_name, stream))?.is_none() {
            return Err(error::stream_not_found());
        }
        let now = now_ms();
        let from = input.start_time.unwrap_or(0).max(group.cutoff(now)).max(0);
        // GetLogEvents' endTime is exclusive (FilterLogEvents' is not).
        let to = input.end_time.map_or(i64::MAX - 1, |t| t - 1);
        let at = |(ts, seq): Position| table::stream_event_key(&ctx.account, &ctx.region, &group_name, stream, ts, seq);
        let mut range = table::stream_events(&ctx.account, &ctx.region, &group_name, stream, from, to);

        let (direction, token) = match input.next_token.as_deref() {
            Some(t) => match t.split_once('/') {
                Some(("f", digits)) => (Direction::Forward, Some(parse_position(digits)?)),
                Some(("b", digits)) => (Direction::Reverse, Some(parse_position(digits)?)),
                _ => return Err(error::invalid_parameter("The specified nextToken is invalid.")),
            },
            None if input.start_from_head.unwrap_or(false) => (Direction::Forward, None),
            None => (Direction::Reverse, None),
        };
        if let Some(position) = token {
            match direction {
                Direction::Forward => range.start = later_start(range.start, Bound::Excluded(at(position))),
                Direction::Reverse => range.end = earlier_end(range.end, Bound::Excluded(at(position))),
            }
        }
        let mut pairs = if range.is_empty() { Vec::new() } else { view.scan(KEYSPACE, &range, direction, limit)? };
        if direction == Direction::Reverse {
            pairs.reverse();
        }
        let mut events = Vec::with_capacity(pairs.len());
        let mut positions = Vec::with_capacity(pairs.len());
        for (k, _) in pairs {
            let (ts, seq) = table::position_of(&k)?;
            let Some(bytes) = view.get(KEYSPACE, &table::event_key(&ctx.account, &ctx.region, &group_name, ts, seq))?
            else {
                continue;
            };
            let event: Event = table::decode(&bytes)?;
            positions.push((ts, seq));
            events.push(OutputLogEvent { timestamp: ts, message: event.message, ingestion_time: event.ingestion_ms });
        }
        // With nothing read, both tokens stay where the request was, so a reader polling
        // with nextForwardToken gets it back until something newer arrives.
        let here = token.unwrap_or((from, 0));
        let forward = positions.last().copied().unwrap_or(here);
        let backward = positions.first().map_or(here, |&(ts, seq)| (ts, seq));
        Ok(GetLogEventsOutput {
            events,
            next_forward_token: format!("f/{}", format_position(forward)),
            next_backward_token: format!("b/{}", format_position(backward)),
        })
    }

    pub(crate) async fn filter_log_events(
        self: Arc<Self>,
        ctx: RequestContext,
        input: FilterLogEventsInput,
    ) -> Result<FilterLogEventsOutput, AwsError> {
        let group_name = group_name(input.log_group_name, input.log_group_identifier)?;
        if input.log_stream_names.is_some() && input.log_stream_name_prefix.is_some() {
            return Err(error::invalid_parameter(
                "Cannot specify both logStreamNames and logStreamNamePrefix in the same request.",
            ));
        }
        let limit = events_limit(input.limit);
        let pattern = Pattern::parse(input.filter_pattern.as_deref().unwrap_or(""))?;
        let view = self.kv.snapshot()?;
        let group = group::load(view.as_ref(), &ctx, &group_name)?;
        let wanted = |stream: &str| match (&input.log_stream_names, &input.log_stream_name_prefix) {
            (Some(names), _) => names.iter().any(|n| n == stream),
            (_, Some(prefix)) => stream.starts_with(prefix.as_str()),
            _ => true,
        };

        let from = input.start_time.unwrap_or(0).max(group.cutoff(now_ms())).max(0);
        let to = input.end_time.unwrap_or(i64::MAX - 1);
        let mut range = table::group_events(&ctx.account, &ctx.region, &group_name, from, to);
        if let Some(token) = input.next_token.as_deref() {
            let (ts, seq) = parse_position(token)?;
            let after = table::event_key(&ctx.account, &ctx.region, &group_name, ts, seq);
            range.start = later_start(range.start, Bound::Excluded(after));
        }

        let mut events = Vec::new();
        let mut scanned = 0;
        let mut next_token = None;
        'scan: while !range.is_empty() {
            let batch = view.scan(KEYSPACE, &range, Direction::Forward, SCAN_BATCH)?;
            let Some((last, _)) = batch.last() else { break };
            range.start = Bound::Excluded(last.clone());
            let exhausted = batch.len() < SCAN_BATCH;
            for (k, v) in batch {
                let position = table::position_of(&k)?;
                scanned += 1;
                let event: Event = table::decode(&v)?;
                if wanted(&event.stream) && pattern.matches(&event.message) {
                    events.push(FilteredLogEvent {
                        log_stream_name: event.stream,
                        timestamp: position.0,
                        message: event.message,
                        ingestion_time: event.ingestion_ms,
                        event_id: format_position(position),
                    });
                }
                if events.len() == limit || scanned == FILTER_SCAN_BUDGET {
                    let more = !range_after(&range, &k).is_empty()
                        && !view.scan(KEYSPACE, &range_after(&range, &k), Direction::Forward, 1)?.is_empty();
                    next_token = more.then(|| format_position(position));
                    break 'scan;
                }
            }
            if exhausted {
                break;
            }
        }

        let mut searched = Vec::new();
        for (_, v) in view.scan(
            KEYSPACE,
            &table::streams_of(&ctx.account, &ctx.region, &group_name),
            Direction::Forward,
            usize::MAX,
        )? {
            let stream: Stream = table::decode(&v)?;
            if wanted(&stream.name) {
                searched.push(SearchedLogStream {
                    log_stream_name: stream.name,
                    searched_completely: next_token.is_none(),
                });
            }
        }
        Ok(FilterLogEventsOutput { events, searched_log_streams: searched, next_token })
    }
}

/// The part of `range` after key `k`.
fn range_after(range: &KeyRange, k: &[u8]) -> KeyRange {
    KeyRange { start: Bound::Excluded(k.to_vec()), end: range.end.clone() }
}

#[cfg(test)]
mod tests {
    use brume_core::clients::LogsClient;
    use brume_storage::Storage;

    use super::*;

    fn input<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).expect("input")
    }

    #[tokio::test]
    async fn lambda_appends_create_the_group_and_stream_and_read_back_in_order() {
        let logs = Logs::new(Storage::in_memory().kv);
        let now = now_ms();
        let event = |dt: i64, message: &str| LogEvent { timestamp_ms: now + dt, message: message.into() };
        let client: &dyn LogsClient = logs.as_ref();
        client
            .put_log_events("000000000000", "us-east-1", "/aws/lambda/f", "s1", vec![event(2, "b"), event(1, "a")])
            .await
            .unwrap();
        client.put_log_events("000000000000", "us-east-1", "/aws/lambda/f", "s2", vec![event(1, "c")]).await.unwrap();
        let ctx = RequestContext::new("000000000000", "us-east-1");

        let got = logs
            .clone()
            .get_log_events(
                ctx.clone(),
                input(serde_json::json!({"logGroupName": "/aws/lambda/f", "logStreamName": "s1"})),
            )
            .await
            .unwrap();
        let messages: Vec<&str> = got.events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["a", "b"]);

        let filtered =
            logs.filter_log_events(ctx, input(serde_json::json!({"logGroupName": "/aws/lambda/f"}))).await.unwrap();
        let seen: Vec<(&str, &str)> =
            filtered.events.iter().map(|e| (e.log_stream_name.as_str(), e.message.as_str())).collect();
        assert_eq!(seen, [("s1", "a"), ("s2", "c"), ("s1", "b")]);
    }
}
