//! Amazon CloudWatch Logs (awsJson 1.1) for Brume: log groups, log streams and their
//! events, durable in storage. Lambda writes its functions' output here through
//! [`brume_core::clients::LogsClient`], one transaction per batch.
//!
//! A group's events are kept in one time-ordered range (see [`table`]), so FilterLogEvents
//! and `aws logs tail --follow` read a slice of it; GetLogEvents reads a per-stream index.
//! Reads leave out events past their group's retention period; [`Logs::expire`] deletes them.

mod error;
mod events;
mod group;
mod json_pattern;
mod pattern;
mod retention;
mod stream;
mod table;

use std::sync::Arc;

use brume_core::AwsError;
use brume_core::clients::{LogEvent, LogsClient};
use brume_protocol::{Service, ServiceBuilder};
use brume_storage::Kv;

pub use table::KEYSPACE;

/// CloudWatch Logs' state.
pub struct Logs {
    kv: Arc<dyn Kv>,
}

impl Logs {
    pub fn new(kv: Arc<dyn Kv>) -> Arc<Logs> {
        Arc::new(Logs { kv })
    }
}

/// The output of the operations that answer nothing.
#[derive(serde::Serialize)]
pub(crate) struct Empty {}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as i64
}

#[async_trait::async_trait]
impl LogsClient for Logs {
    async fn put_log_events(
        &self,
        account: &str,
        region: &str,
        group: &str,
        stream: &str,
        mut events: Vec<LogEvent>,
    ) -> Result<(), AwsError> {
        if events.is_empty() {
            return Ok(());
        }
        // Lambda's batches are in order already; a stable sort keeps that cheap and makes
        // an out-of-order line land where a reader expects it rather than fail the batch.
        events.sort_by_key(|e| e.timestamp_ms);
        let target = events::Target::new(account, region, group, stream);
        self.kv.transact(move |txn| events::append(txn, &target, &events, now_ms(), true).map(|_| ())).await
    }
}

/// The CloudWatch Logs service, ready for the gateway.
pub fn service(state: Arc<Logs>) -> Service {
    ServiceBuilder::new("logs", state)
        .op("CreateLogGroup", Logs::create_log_group)
        .op("DeleteLogGroup", Logs::delete_log_group)
        .op("DescribeLogGroups", Logs::describe_log_groups)
        .op("PutRetentionPolicy", Logs::put_retention_policy)
        .op("DeleteRetentionPolicy", Logs::delete_retention_policy)
        .op("TagResource", Logs::tag_resource)
        .op("UntagResource", Logs::untag_resource)
        .op("ListTagsForResource", Logs::list_tags_for_resource)
        .op("TagLogGroup", Logs::tag_log_group)
        .op("UntagLogGroup", Logs::untag_log_group)
        .op("ListTagsLogGroup", Logs::list_tags_log_group)
        .op("CreateLogStream", Logs::create_log_stream)
        .op("DeleteLogStream", Logs::delete_log_stream)
        .op("DescribeLogStreams", Logs::describe_log_streams)
        .op("PutLogEvents", Logs::put_log_events_op)
        .op("GetLogEvents", Logs::get_log_events)
        .op("FilterLogEvents", Logs::filter_log_events)
        .build()
}
