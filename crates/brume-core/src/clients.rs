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

    /// Receives up to `max` (1–10) messages of queue `queue_arn`, as ReceiveMessage would with
    /// every attribute asked for: each becomes invisible for `visibility_timeout` seconds (the
    /// queue's own when `None`), and the redrive policy applies. Waits up to `wait` for one
    /// to arrive.
    async fn receive_messages(
        &self,
        queue_arn: &str,
        max: usize,
        visibility_timeout: Option<u64>,
        wait: std::time::Duration,
    ) -> Result<Vec<ReceivedMessage>, AwsError>;

    /// Deletes the messages these receipt handles were issued for, as DeleteMessage would.
    async fn delete_messages(&self, queue_arn: &str, receipt_handles: Vec<String>) -> Result<(), AwsError>;
}

/// A message [`SqsClient::receive_messages`] received.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_of_body: String,
    /// The system attributes (`ApproximateReceiveCount`, `SentTimestamp`, `SenderId`,
    /// `ApproximateFirstReceiveTimestamp`, and for FIFO queues the group and sequence).
    pub attributes: BTreeMap<String, String>,
    pub message_attributes: BTreeMap<String, MessageAttribute>,
}

/// What other services may ask of SNS.
#[async_trait::async_trait]
pub trait SnsClient: Send + Sync {
    /// Publishes `message` with `attributes` to topic `topic_arn` on behalf of a service
    /// (Lambda's dead-letter topics), as Publish would (same validation, same errors:
    /// `NotFound` when the topic does not exist). Returns the message id.
    async fn publish(
        &self,
        topic_arn: &str,
        message: String,
        attributes: BTreeMap<String, MessageAttribute>,
    ) -> Result<String, AwsError>;
}

/// Where a DynamoDB stream reader starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamStart {
    TrimHorizon,
    Latest,
}

/// Records read from a DynamoDB stream's shard.
#[derive(Clone, Debug)]
pub struct StreamRecords {
    /// The records as GetRecords answers them (`eventID`, `eventName`, `dynamodb`, ...).
    pub records: Vec<serde_json::Value>,
    /// The position after these records, to read on from.
    pub position: u64,
    /// The shard is closed and nothing is left after `position`.
    pub finished: bool,
    /// The stream's (one) shard.
    pub shard_id: String,
}

/// What other services may ask of DynamoDB Streams.
#[async_trait::async_trait]
pub trait DynamoDbStreamsClient: Send + Sync {
    /// The position `start` names in stream `stream_arn` (`ResourceNotFoundException` when
    /// there is no such stream).
    async fn stream_position(&self, stream_arn: &str, start: StreamStart) -> Result<u64, AwsError>;

    /// Up to `limit` records after `after`, oldest first (`TrimmedDataAccessException` when
    /// that position has been trimmed away).
    async fn read_records(&self, stream_arn: &str, after: u64, limit: usize) -> Result<StreamRecords, AwsError>;
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

    /// The bytes `start..end` of the current version of object `key` (fewer past its end),
    /// read as `account`, for readers that go through a large object a piece at a time.
    async fn get_object_range(
        &self,
        account: &str,
        bucket: &str,
        key: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, AwsError>;

    /// Up to `max` current objects of `bucket` whose keys start with `prefix`, after key
    /// `after`, in key order, as ListObjectsV2 lists them; and whether more follow.
    async fn list_objects(
        &self,
        account: &str,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<(Vec<ListedObject>, bool), AwsError>;

    /// Stores `body` as object `key` of `bucket`, as PutObject does (durable when this
    /// returns, notifications sent), with `content_type`. Returns the object's ETag.
    async fn put_object_bytes(
        &self,
        account: &str,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<String, AwsError>;
}

/// One object of [`S3Client::list_objects`], with what ListObjectsV2 gives of it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    /// Quoted, as S3 gives it.
    pub etag: String,
    /// Seconds since the Unix epoch.
    pub last_modified: f64,
    pub storage_class: String,
}

/// What a synchronous invocation through [`LambdaClient::invoke`] answered.
#[derive(Clone, Debug, PartialEq)]
pub struct LambdaResult {
    /// The function's response, or its error JSON when it failed.
    pub payload: Vec<u8>,
    /// `Handled` or `Unhandled` when the function failed, as `X-Amz-Function-Error` says.
    pub function_error: Option<String>,
    /// The version that ran (`$LATEST`, `3`).
    pub executed_version: String,
}

/// What other services may ask of Lambda.
#[async_trait::async_trait]
pub trait LambdaClient: Send + Sync {
    /// Invokes `function` (a name, a partial or a full ARN, possibly qualified) of
    /// `account` in `region` with `payload`, as a RequestResponse Invoke would. Lambda's
    /// errors (`ResourceNotFoundException`, `TooManyRequestsException`) are the caller's;
    /// a function that failed answers `Ok` with its `function_error` set.
    async fn invoke(
        &self,
        account: &str,
        region: &str,
        function: &str,
        payload: Vec<u8>,
    ) -> Result<LambdaResult, AwsError>;
}

/// Any operation of any service Brume serves, for Step Functions' `aws-sdk` integrations.
#[async_trait::async_trait]
pub trait AwsSdkClient: Send + Sync {
    /// Calls operation `operation` (`GetObject`) of the service whose model is named `service`
    /// (`s3`, `stepfunctions`) as `account` in `region`. `input` and the answer are in the
    /// canonical form of [`crate::value`]; a streamed payload (S3's object bodies) is a blob
    /// member of the input or the answer like any other. The service's errors are the
    /// caller's; `UnknownOperationException` when the service has no such operation.
    async fn call(
        &self,
        service: &str,
        operation: &str,
        account: &str,
        region: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, AwsError>;
}

/// What other services may ask of Step Functions.
#[async_trait::async_trait]
pub trait StepFunctionsClient: Send + Sync {
    /// Starts an execution named `name` of state machine `state_machine_arn` with `input`
    /// (JSON text), as StartExecution would (same validation, same errors, same idempotency:
    /// the same name and input as a running execution answer that one). Returns its ARN.
    async fn start_execution(&self, state_machine_arn: &str, name: &str, input: String) -> Result<String, AwsError>;
}
