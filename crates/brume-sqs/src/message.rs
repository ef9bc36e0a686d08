//! Messages: send (delays, attributes, MD5 digests), receive (visibility timeouts, long
//! polling woken by arrivals, dead-letter moves after maxReceiveCount), delete and
//! visibility changes by receipt handle, and their batch forms.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use brume_core::{AwsError, RequestContext};
use brume_storage::{Direction, Txn};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::table::{self, AttributeValue, KEYSPACE, Message, Queue};
use crate::{Sqs, error, md5, now_ms};

/// At most this many entries in a batch request, and messages in one receive.
const MAX_BATCH: usize = 10;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageInput {
    queue_url: String,
    #[serde(flatten)]
    message: Outgoing,
}

/// A message as SendMessage and each SendMessageBatch entry give it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Outgoing {
    pub message_body: String,
    pub delay_seconds: Option<i64>,
    #[serde(default)]
    pub message_attributes: BTreeMap<String, AttributeValue>,
    #[serde(default)]
    pub message_system_attributes: BTreeMap<String, AttributeValue>,
    pub message_group_id: Option<String>,
    pub message_deduplication_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageOutput {
    message_id: String,
    #[serde(rename = "MD5OfMessageBody")]
    md5_of_message_body: String,
    #[serde(rename = "MD5OfMessageAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<String>,
    #[serde(rename = "MD5OfMessageSystemAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_system_attributes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

impl SendMessageOutput {
    fn of(m: &Message, fifo: bool) -> Self {
        SendMessageOutput {
            message_id: m.id.clone(),
            md5_of_message_body: md5::of_body(&m.body),
            md5_of_message_attributes: md5::of_attributes(&m.attributes),
            md5_of_message_system_attributes: md5::of_attributes(&m.system_attributes),
            sequence_number: fifo.then(|| m.sequence_number()),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchInput {
    queue_url: String,
    entries: Vec<SendEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendEntry {
    id: String,
    #[serde(flatten)]
    message: Outgoing,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendResultEntry {
    id: String,
    #[serde(flatten)]
    sent: SendMessageOutput,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchFailure {
    id: String,
    sender_fault: bool,
    code: String,
    message: String,
}

impl BatchFailure {
    fn of(id: String, err: AwsError) -> Self {
        BatchFailure {
            id,
            sender_fault: err.fault == brume_core::Fault::Sender,
            code: err.code.to_string(),
            message: err.message,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchOutput {
    successful: Vec<SendResultEntry>,
    failed: Vec<BatchFailure>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessageInput {
    queue_url: String,
    #[serde(default)]
    attribute_names: Vec<String>,
    #[serde(default)]
    message_system_attribute_names: Vec<String>,
    #[serde(default)]
    message_attribute_names: Vec<String>,
    max_number_of_messages: Option<i64>,
    visibility_timeout: Option<i64>,
    wait_time_seconds: Option<i64>,
    receive_request_attempt_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceivedMessage {
    message_id: String,
    receipt_handle: String,
    #[serde(rename = "MD5OfBody")]
    md5_of_body: String,
    body: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, String>,
    #[serde(rename = "MD5OfMessageAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    message_attributes: BTreeMap<String, AttributeValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessageOutput {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<ReceivedMessage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageInput {
    queue_url: String,
    receipt_handle: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageBatchInput {
    queue_url: String,
    entries: Vec<DeleteEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteEntry {
    id: String,
    receipt_handle: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdEntry {
    id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchOutput {
    successful: Vec<IdEntry>,
    failed: Vec<BatchFailure>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeVisibilityInput {
    queue_url: String,
    receipt_handle: String,
    visibility_timeout: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeVisibilityBatchInput {
    queue_url: String,
    entries: Vec<ChangeVisibilityEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeVisibilityEntry {
    id: String,
    receipt_handle: String,
    visibility_timeout: Option<i64>,
}

#[derive(Serialize)]
pub struct Empty {}

/// A receipt handle names the message record it was issued for and that receive's token;
/// once the message is received again, the old handle no longer matches.
#[derive(Serialize, Deserialize)]
struct Receipt {
    v: u64,
    s: u64,
    t: String,
}

pub(crate) fn encode_receipt(m: &Message) -> String {
    B64.encode(
        serde_json::to_vec(&Receipt { v: m.visible_ms, s: m.seq, t: m.receipt_token.clone() }).unwrap_or_default(),
    )
}

fn decode_receipt(handle: &str) -> Result<Receipt, AwsError> {
    B64.decode(handle)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| error::receipt_handle_invalid(handle))
}

fn check_batch<T>(entries: &[T], id: impl Fn(&T) -> &str) -> Result<(), AwsError> {
    if entries.is_empty() {
        return Err(AwsError::new(
            400,
            "EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
        ));
    }
    if entries.len() > MAX_BATCH {
        return Err(AwsError::new(
            400,
            "TooManyEntriesInBatchRequest",
            format!("Maximum number of entries per request are {MAX_BATCH}. You have sent {}.", entries.len()),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for e in entries {
        let id = id(e);
        if id.is_empty() || id.len() > 80 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(AwsError::new(
                400,
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id.to_string()) {
            return Err(AwsError::new(400, "BatchEntryIdsNotDistinct", format!("Id {id} repeated.")));
        }
    }
    Ok(())
}

/// The largest message, and the largest batch, SQS accepts (1 MiB).
pub(crate) const MAX_MESSAGE_SIZE: u64 = 1_048_576;

/// Messages a receive reads beyond its batch size, for those it drops (past retention) or
/// moves to the dead-letter queue instead of handing out; a receive that meets more than
/// this answers fewer messages, and the next one goes on.
const SCAN_HEADROOM: usize = 16;

/// FIFO deduplication and receive attempts last five minutes.
const FIFO_WINDOW_MS: u64 = 300_000;

/// MessageGroupId and MessageDeduplicationId: 1 to 128 alphanumeric or punctuation characters.
fn check_fifo_id(name: &str, value: &str) -> Result<(), AwsError> {
    if (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic()) {
        return Ok(());
    }
    Err(error::invalid_parameter(format!(
        "Value {value} for parameter {name} is invalid. Reason: {name} can only include alphanumeric and punctuation characters. 1 to 128 in length."
    )))
}

fn not_for_queue_type(name: &str, value: &str) -> AwsError {
    error::invalid_parameter(format!(
        "Value {value} for parameter {name} is invalid. Reason: The request include parameter that is not valid for this queue type."
    ))
}

impl Sqs {
    /// Validates one message for `queue` and makes its record; [`Sqs::store`] stores it.
    pub(crate) fn new_message(&self, queue: &Queue, out: Outgoing) -> Result<Message, AwsError> {
        let Outgoing { message_body: body, delay_seconds, message_attributes: attributes, .. } = out;
        let max = queue.number("MaximumMessageSize", MAX_MESSAGE_SIZE) as usize;
        let size = body.len()
            + attributes
                .iter()
                .map(|(k, v)| {
                    k.len()
                        + v.data_type.len()
                        + v.string_value.as_ref().map_or(0, String::len)
                        + v.binary_value.as_ref().map_or(0, |b| b.0.len())
                })
                .sum::<usize>();
        if size > max {
            return Err(error::invalid_parameter(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {max} bytes."
            )));
        }
        if body.is_empty() {
            return Err(AwsError::new(400, "MissingParameter", "The request must contain the parameter MessageBody."));
        }
        // SQS accepts #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
        if body.chars().any(|c| !matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)) {
            return Err(AwsError::new(400, "InvalidMessageContents", "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"));
        }
        for name in out.message_system_attributes.keys() {
            if name != "AWSTraceHeader" {
                return Err(error::invalid_parameter(format!("Message system attribute name '{name}' is invalid.")));
            }
        }
        let fifo = table::is_fifo(&queue.name);
        let delay = match delay_seconds {
            Some(d) if fifo => return Err(not_for_queue_type("DelaySeconds", &d.to_string())),
            Some(d) if !(0..=900).contains(&d) => {
                return Err(error::invalid_parameter(format!(
                    "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
                )));
            }
            Some(d) => d as u64,
            None => queue.number("DelaySeconds", 0),
        };
        if let Some(group) = &out.message_group_id {
            check_fifo_id("MessageGroupId", group)?;
        }
        let dedup_id = match (fifo, out.message_deduplication_id) {
            (false, Some(id)) => return Err(not_for_queue_type("MessageDeduplicationId", &id)),
            (false, None) => None,
            (true, Some(id)) => {
                check_fifo_id("MessageDeduplicationId", &id)?;
                Some(id)
            }
            (true, None) if queue.attributes.get("ContentBasedDeduplication").is_some_and(|v| v == "true") => {
                Some(brume_core::hex(&sha2::Sha256::digest(body.as_bytes())))
            }
            (true, None) => {
                return Err(error::invalid_parameter(
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                ));
            }
        };
        if fifo && out.message_group_id.is_none() {
            return Err(AwsError::new(
                400,
                "MissingParameter",
                "The request must contain the parameter MessageGroupId.",
            ));
        }
        let now = now_ms();
        Ok(Message {
            id: uuid::Uuid::new_v4().to_string(),
            body,
            attributes,
            sent_ms: now,
            seq: 0,
            receive_count: 0,
            first_receive_ms: None,
            receipt_token: String::new(),
            visible_ms: now + delay * 1000,
            dead_letter_source: None,
            system_attributes: out.message_system_attributes,
            group_id: out.message_group_id,
            dedup_id,
        })
    }

    /// Stores messages in one transaction, numbering them in order. A FIFO message whose
    /// deduplication id was sent in the last five minutes is not stored again: the first
    /// one's id and sequence number are answered for it.
    pub(crate) async fn store(&self, queue: &Queue, messages: Vec<Message>) -> Result<Vec<Message>, AwsError> {
        let (account, name) = (queue.account.clone(), queue.name.clone());
        let by_group = queue.attributes.get("DeduplicationScope").is_some_and(|s| s == "messageGroup");
        let marks = self.marks.clone();
        let stored = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                if txn.get(KEYSPACE, &table::queue_key(&account, &name))?.is_none() {
                    return Err(error::queue_does_not_exist());
                }
                let now = now_ms();
                let mut stored = Vec::new();
                for mut m in messages {
                    if let Some(dedup) = &m.dedup_id {
                        let scope = if by_group { m.group_id.as_deref().unwrap_or_default() } else { "" };
                        let key = table::dedup_key(&account, &name, scope, dedup);
                        if let Some(first) = txn.get(KEYSPACE, &key)? {
                            let first: table::Dedup = table::decode(&first)?;
                            if first.expires_ms > now {
                                m.id = first.message_id;
                                m.seq = first.seq;
                                stored.push(m);
                                continue;
                            }
                        }
                        m.seq = next_seq(txn)?;
                        let record =
                            table::Dedup { message_id: m.id.clone(), seq: m.seq, expires_ms: now + FIFO_WINDOW_MS };
                        txn.put(KEYSPACE, &key, &table::encode(&record))?;
                    } else {
                        m.seq = next_seq(txn)?;
                    }
                    table::insert(txn, &marks, &account, &name, &m)?;
                    stored.push(m);
                }
                Ok::<_, AwsError>(stored)
            })
            .await?;
        self.wake(queue);
        Ok(stored)
    }

    pub(crate) async fn send_message(
        self: Arc<Self>,
        ctx: RequestContext,
        input: SendMessageInput,
    ) -> Result<SendMessageOutput, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        let m = self.new_message(&queue, input.message)?;
        let m = self.store(&queue, vec![m]).await?.remove(0);
        Ok(SendMessageOutput::of(&m, table::is_fifo(&queue.name)))
    }

    pub(crate) async fn send_message_batch(
        self: Arc<Self>,
        ctx: RequestContext,
        input: SendMessageBatchInput,
    ) -> Result<SendMessageBatchOutput, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        check_batch(&input.entries, |e| &e.id)?;
        let total: usize = input.entries.iter().map(|e| e.message.message_body.len()).sum();
        let max = MAX_MESSAGE_SIZE as usize;
        if total > max {
            return Err(AwsError::new(
                400,
                "BatchRequestTooLong",
                format!("Batch requests cannot be longer than {max} bytes. You have sent {total} bytes."),
            ));
        }
        let mut failed = Vec::new();
        let mut accepted = Vec::new();
        for e in input.entries {
            match self.new_message(&queue, e.message) {
                Ok(m) => accepted.push((e.id, m)),
                Err(err) => failed.push(BatchFailure::of(e.id, err)),
            }
        }
        let ids: Vec<String> = accepted.iter().map(|(id, _)| id.clone()).collect();
        let stored = self.store(&queue, accepted.into_iter().map(|(_, m)| m).collect()).await?;
        let fifo = table::is_fifo(&queue.name);
        let successful = ids
            .into_iter()
            .zip(stored)
            .map(|(id, m)| SendResultEntry { id, sent: SendMessageOutput::of(&m, fifo) })
            .collect();
        Ok(SendMessageBatchOutput { successful, failed })
    }

    pub(crate) async fn receive_message(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ReceiveMessageInput,
    ) -> Result<ReceiveMessageOutput, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        let max = bounded(input.max_number_of_messages, 1, 1..=10, "MaxNumberOfMessages", "Must be between 1 and 10")?
            as usize;
        let visibility = bounded(
            input.visibility_timeout,
            queue.number("VisibilityTimeout", 30),
            0..=43_200,
            "VisibilityTimeout",
            "Must be between 0 and 43200",
        )?;
        let wait = bounded(
            input.wait_time_seconds,
            queue.number("ReceiveMessageWaitTimeSeconds", 0),
            0..=20,
            "WaitTimeSeconds",
            "Must be >= 0 and <= 20",
        )?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
        let notify = self.waiter(&queue);
        loop {
            // Register interest before looking, so an arrival between the look and the wait
            // is not missed.
            let notified = notify.notified();
            let attempt = input.receive_request_attempt_id.clone().filter(|_| table::is_fifo(&queue.name));
            let (received, next_visible) = self.take(&queue, max, visibility, attempt).await?;
            if !received.is_empty() || tokio::time::Instant::now() >= deadline {
                let messages = received.into_iter().map(|m| present(m, &input)).collect();
                return Ok(ReceiveMessageOutput { messages });
            }
            let mut until = deadline;
            if let Some(at) = next_visible {
                let in_ms = at.saturating_sub(now_ms());
                until = until.min(tokio::time::Instant::now() + Duration::from_millis(in_ms));
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }

    /// Receives up to `max` visible messages in one transaction: each gets a new receipt
    /// token and becomes invisible for `visibility` seconds; those past the redrive policy's
    /// maxReceiveCount move to the dead-letter queue instead. FIFO queues hand out each
    /// group's messages in order, and none of a group while one of it is in flight. Also
    /// returns when the next message becomes visible, to bound a long poll's sleep.
    pub(crate) async fn take(
        &self,
        queue: &Queue,
        max: usize,
        visibility: u64,
        attempt: Option<String>,
    ) -> Result<(Vec<Message>, Option<u64>), AwsError> {
        let receiver = Receiver {
            marks: self.marks.clone(),
            account: queue.account.clone(),
            name: queue.name.clone(),
            arn: queue.arn(),
            redrive: crate::redrive::redrive_target(queue),
            retention_ms: queue.number("MessageRetentionPeriod", 345_600) * 1000,
            visibility_ms: visibility * 1000,
            now: 0,
        };
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let mut r = receiver;
                r.now = now_ms();
                let attempt_key = attempt.as_deref().map(|id| table::attempt_key(&r.account, &r.name, id));
                if let Some(key) = &attempt_key
                    && let Some(prior) = r.replay(txn, key)?
                {
                    return Ok((prior, None));
                }
                let out = if table::is_fifo(&r.name) { r.take_fifo(txn, max)? } else { r.take_standard(txn, max)? };
                if let Some(key) = attempt_key {
                    let record = table::Attempt {
                        expires_ms: r.now + FIFO_WINDOW_MS,
                        received: out.iter().map(|m| (m.visible_ms, m.seq, m.receipt_token.clone())).collect(),
                    };
                    txn.put(KEYSPACE, &key, &table::encode(&record))?;
                }
                // Only a receive that found nothing sleeps until the next message is due.
                let mut next_visible = None;
                if out.is_empty() {
                    let from = r.marks.get(&r.account, &r.name);
                    let next =
                        txn.scan(KEYSPACE, &table::messages_from(&r.account, &r.name, from), Direction::Forward, 1)?;
                    if let Some((_, v)) = next.first() {
                        next_visible = Some(table::decode::<Message>(v)?.visible_ms);
                    }
                }
                Ok::<_, AwsError>((out, next_visible))
            })
            .await
    }

    /// Finds the message a receipt handle was issued for and applies `f` to its record
    /// key. A handle from an earlier receive of a message received again since is accepted
    /// and changes nothing, as in SQS.
    pub(crate) async fn by_receipt(
        &self,
        queue: &Queue,
        handle: &str,
        f: impl FnOnce(&mut dyn Txn, Message) -> Result<(), AwsError> + Send + 'static,
    ) -> Result<(), AwsError> {
        let receipt = decode_receipt(handle)?;
        let (account, name) = (queue.account.clone(), queue.name.clone());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::message_key(&account, &name, receipt.v, receipt.s);
                match txn.get(KEYSPACE, &key)? {
                    Some(v) => {
                        let m: Message = table::decode(&v)?;
                        if m.receipt_token == receipt.t { f(txn, m) } else { Ok(()) }
                    }
                    None => Ok(()),
                }
            })
            .await
    }

    pub(crate) async fn delete_message(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DeleteMessageInput,
    ) -> Result<Empty, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        let (account, name) = (queue.account.clone(), queue.name.clone());
        self.by_receipt(&queue, &input.receipt_handle, move |txn, m| Ok(table::remove(txn, &account, &name, &m)?))
            .await?;
        Ok(Empty {})
    }

    pub(crate) async fn delete_message_batch(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DeleteMessageBatchInput,
    ) -> Result<BatchOutput, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        check_batch(&input.entries, |e| &e.id)?;
        let mut out = BatchOutput { successful: Vec::new(), failed: Vec::new() };
        for e in input.entries {
            let (account, name) = (queue.account.clone(), queue.name.clone());
            let delete = move |txn: &mut dyn Txn, m: Message| Ok(table::remove(txn, &account, &name, &m)?);
            match self.by_receipt(&queue, &e.receipt_handle, delete).await {
                Ok(()) => out.successful.push(IdEntry { id: e.id }),
                Err(err) => out.failed.push(BatchFailure::of(e.id, err)),
            }
        }
        Ok(out)
    }

    pub(crate) async fn change_message_visibility(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ChangeVisibilityInput,
    ) -> Result<Empty, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        self.change_visibility(&queue, &input.receipt_handle, Some(input.visibility_timeout)).await?;
        Ok(Empty {})
    }

    pub(crate) async fn change_message_visibility_batch(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ChangeVisibilityBatchInput,
    ) -> Result<BatchOutput, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        check_batch(&input.entries, |e| &e.id)?;
        let mut out = BatchOutput { successful: Vec::new(), failed: Vec::new() };
        for e in input.entries {
            match self.change_visibility(&queue, &e.receipt_handle, e.visibility_timeout).await {
                Ok(()) => out.successful.push(IdEntry { id: e.id }),
                Err(err) => out.failed.push(BatchFailure::of(e.id, err)),
            }
        }
        Ok(out)
    }

    async fn change_visibility(&self, queue: &Queue, handle: &str, timeout: Option<i64>) -> Result<(), AwsError> {
        let timeout = timeout.unwrap_or(0);
        if !(0..=43_200).contains(&timeout) {
            return Err(error::invalid_parameter(format!(
                "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200."
            )));
        }
        let seconds = timeout as u64;
        let (account, name, marks) = (queue.account.clone(), queue.name.clone(), self.marks.clone());
        self.by_receipt(queue, handle, move |txn, mut m| {
            let now = now_ms();
            if m.visible_ms <= now {
                return Err(AwsError::new(
                    400,
                    "MessageNotInflight",
                    "Message does not exist or is not available for visibility timeout change.",
                ));
            }
            table::remove(txn, &account, &name, &m)?;
            m.visible_ms = now + seconds * 1000;
            table::insert(txn, &marks, &account, &name, &m)?;
            Ok(())
        })
        .await?;
        // A timeout of zero makes the message visible now: wake any long poll.
        self.wake(queue);
        Ok(())
    }
}

/// One receive's view of its queue, used inside the receiving transaction.
struct Receiver {
    marks: Arc<table::Marks>,
    account: String,
    name: String,
    arn: String,
    redrive: Option<(String, String, u64)>,
    retention_ms: u64,
    visibility_ms: u64,
    now: u64,
}

impl Receiver {
    /// Standard queues: the visible messages, oldest visible time first.
    fn take_standard(&self, txn: &mut dyn Txn, max: usize) -> Result<Vec<Message>, AwsError> {
        let mut out = Vec::new();
        let mark = self.marks.of(&self.account, &self.name);
        let from = mark.load(std::sync::atomic::Ordering::Acquire);
        let visible = txn.scan(
            KEYSPACE,
            &table::visible_at(&self.account, &self.name, from, self.now),
            Direction::Forward,
            max + SCAN_HEADROOM,
        )?;
        let messages: Vec<Message> = visible.iter().map(|(_, v)| table::decode(v)).collect::<Result<_, _>>()?;
        // Nothing lives before the first visible message (or, when there is none, before
        // now); the messages received below lower the mark again as they are re-stored.
        let first = messages.first().map_or(self.now + 1, |m| m.visible_ms);
        mark.store(first, std::sync::atomic::Ordering::Release);
        for m in messages {
            if out.len() == max {
                break;
            }
            if let Some(m) = self.receive(txn, m)? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// FIFO queues: from each group not blocked by a message in flight, its messages in
    /// order up to the first one not visible.
    fn take_fifo(&self, txn: &mut dyn Txn, max: usize) -> Result<Vec<Message>, AwsError> {
        let mut out = Vec::new();
        for (gk, gv) in
            txn.scan(KEYSPACE, &table::groups_of(&self.account, &self.name), Direction::Forward, usize::MAX)?
        {
            if out.len() == max {
                break;
            }
            let group: table::Group = table::decode(&gv)?;
            if group.blocked(self.now) {
                continue;
            }
            let Some(id) = table::group_of_key(&gk) else { continue };
            // Enough of the group's head to fill the batch.
            let head = txn.scan(
                KEYSPACE,
                &table::group_messages(&self.account, &self.name, &id),
                Direction::Forward,
                max - out.len() + SCAN_HEADROOM,
            )?;
            for (_, pointer) in head {
                if out.len() == max {
                    break;
                }
                let (visible_ms, seq): (u64, u64) = table::decode(&pointer)?;
                if visible_ms > self.now {
                    break;
                }
                let Some(v) = txn.get(KEYSPACE, &table::message_key(&self.account, &self.name, visible_ms, seq))?
                else {
                    continue;
                };
                if let Some(m) = self.receive(txn, table::decode(&v)?)? {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    /// Receives one visible message: drops it when past retention, moves it to the
    /// dead-letter queue when past maxReceiveCount, else hides it under a new receipt.
    fn receive(&self, txn: &mut dyn Txn, mut m: Message) -> Result<Option<Message>, AwsError> {
        table::remove(txn, &self.account, &self.name, &m)?;
        if m.sent_ms + self.retention_ms <= self.now {
            return Ok(None);
        }
        if let Some((dlq_account, dlq_name, max_receives)) = &self.redrive
            && m.receive_count >= *max_receives
            && txn.get(KEYSPACE, &table::queue_key(dlq_account, dlq_name))?.is_some()
        {
            m.visible_ms = self.now;
            m.receipt_token.clear();
            m.dead_letter_source = Some(self.arn.clone());
            table::insert(txn, &self.marks, dlq_account, dlq_name, &m)?;
            return Ok(None);
        }
        m.receive_count += 1;
        m.first_receive_ms.get_or_insert(self.now);
        m.receipt_token = uuid::Uuid::new_v4().simple().to_string();
        m.visible_ms = self.now + self.visibility_ms;
        table::insert(txn, &self.marks, &self.account, &self.name, &m)?;
        Ok(Some(m))
    }

    /// The messages an earlier receive with the same attempt id got, while that attempt
    /// is recent and all of them are still in flight under the receipts it issued.
    fn replay(&self, txn: &mut dyn Txn, key: &[u8]) -> Result<Option<Vec<Message>>, AwsError> {
        let Some(attempt) = txn.get(KEYSPACE, key)? else { return Ok(None) };
        let attempt: table::Attempt = table::decode(&attempt)?;
        if attempt.expires_ms <= self.now {
            return Ok(None);
        }
        let mut prior = Vec::new();
        for (visible_ms, seq, token) in attempt.received {
            match txn.get(KEYSPACE, &table::message_key(&self.account, &self.name, visible_ms, seq))? {
                Some(v) => {
                    let m: Message = table::decode(&v)?;
                    if m.receipt_token != token || m.visible_ms <= self.now {
                        return Ok(None);
                    }
                    prior.push(m);
                }
                None => return Ok(None),
            }
        }
        Ok(Some(prior))
    }
}

/// A request parameter within SQS's bounds, or `default` when absent.
fn bounded(
    value: Option<i64>,
    default: u64,
    range: std::ops::RangeInclusive<i64>,
    name: &str,
    reason: &str,
) -> Result<u64, AwsError> {
    match value {
        None => Ok(default),
        Some(v) if range.contains(&v) => Ok(v as u64),
        Some(v) => Err(error::invalid_parameter(format!(
            "Value {v} for parameter {name} is invalid. Reason: {reason}, if provided."
        ))),
    }
}

fn next_seq(txn: &mut dyn Txn) -> Result<u64, AwsError> {
    let k = table::seq_key();
    let current = match txn.get(KEYSPACE, &k)? {
        Some(b) => u64::from_be_bytes(b.try_into().map_err(|_| AwsError::internal())?),
        None => 0,
    };
    txn.put(KEYSPACE, &k, &(current + 1).to_be_bytes())?;
    Ok(current + 1)
}

/// A received message as ReceiveMessage answers it, with the attributes asked for.
fn present(m: Message, input: &ReceiveMessageInput) -> ReceivedMessage {
    let names: Vec<&String> = input.attribute_names.iter().chain(&input.message_system_attribute_names).collect();
    let all = names.iter().any(|n| *n == "All");
    let mut system = vec![
        ("SenderId", "AIDAIT2UOQQY3AUEKVGXU".to_string()),
        ("SentTimestamp", m.sent_ms.to_string()),
        ("ApproximateReceiveCount", m.receive_count.to_string()),
        ("ApproximateFirstReceiveTimestamp", m.first_receive_ms.unwrap_or(m.sent_ms).to_string()),
    ];
    if let Some(trace) = m.system_attributes.get("AWSTraceHeader").and_then(|a| a.string_value.clone()) {
        system.push(("AWSTraceHeader", trace));
    }
    if let Some(group) = &m.group_id {
        system.push(("MessageGroupId", group.clone()));
    }
    // Only FIFO messages carry a deduplication id, and only they have sequence numbers.
    if let Some(dedup) = &m.dedup_id {
        system.push(("MessageDeduplicationId", dedup.clone()));
        system.push(("SequenceNumber", m.sequence_number()));
    }
    if let Some(source) = &m.dead_letter_source {
        system.push(("DeadLetterQueueSourceArn", source.clone()));
    }
    let attributes: BTreeMap<String, String> = system
        .into_iter()
        .filter(|(n, _)| all || names.iter().any(|x| x == n))
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    let wanted = |name: &str| {
        input.message_attribute_names.iter().any(|w| {
            w == "All"
                || w == ".*"
                || w == name
                || w.strip_suffix(".*").is_some_and(|p| name.starts_with(&format!("{p}.")))
        })
    };
    let message_attributes: BTreeMap<String, AttributeValue> =
        m.attributes.iter().filter(|(k, _)| wanted(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    ReceivedMessage {
        receipt_handle: encode_receipt(&m),
        md5_of_body: md5::of_body(&m.body),
        md5_of_message_attributes: md5::of_attributes(&message_attributes),
        message_id: m.id,
        body: m.body,
        attributes,
        message_attributes,
    }
}
