//! The typed in-process clients services call each other through (a trait per service), so
//! that no service reaches into another's storage and the same call could later cross
//! machines. The binary wires each trait to the service that implements it.

use std::collections::BTreeMap;

use crate::AwsError;
use crate::value::Blob;

/// A message attribute as SQS and SNS carry it (`String`, `Number`, `Binary`, and their
/// custom `Type.label` forms).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageAttribute {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<Blob>,
}

/// One message for [`SqsClient::send_message`].
#[derive(Clone, Debug, Default)]
pub struct OutgoingMessage {
    pub body: String,
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// FIFO queues: the message group (required) and deduplication id (or the queue's
    /// content-based deduplication).
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

/// What other services may ask of SQS.
#[async_trait::async_trait]
pub trait SqsClient: Send + Sync {
    /// Sends a message to the queue `queue_arn` names, as SendMessage would (same
    /// validation, same errors: `AWS.SimpleQueueService.NonExistentQueue` when it does not
    /// exist). Returns the new message's id once it is durable.
    async fn send_message(&self, queue_arn: &str, message: OutgoingMessage) -> Result<String, AwsError>;
}

/// One log event for [`LogsClient::put_log_events`].
#[derive(Clone, Debug, PartialEq)]
pub struct LogEvent {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub message: String,
}

/// What other services may ask of CloudWatch Logs.
#[async_trait::async_trait]
pub trait LogsClient: Send + Sync {
    /// Appends `events` (in timestamp order) to stream `stream` of log group `group` in
    /// `account` and `region`, creating the group and the stream when they do not exist,
    /// as Lambda's service role does. Returns once they are durable.
    async fn put_log_events(
        &self,
        account: &str,
        region: &str,
        group: &str,
        stream: &str,
        events: Vec<LogEvent>,
    ) -> Result<(), AwsError>;
}

/// What other services may ask of S3.
#[async_trait::async_trait]
pub trait S3Client: Send + Sync {
    /// The bytes of object `key` in `bucket` (its current version, or `version_id`), read
    /// as `account`, which must own the bucket. S3's errors (`NoSuchBucket`, `NoSuchKey`,
    /// `NoSuchVersion`, `AccessDenied`); `EntityTooLarge` when the object is larger than
    /// `max_size` bytes.
    async fn get_object_bytes(
        &self,
        account: &str,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        max_size: u64,
    ) -> Result<Vec<u8>, AwsError>;
}
