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

use crate::table::{self, AttributeValue, KEYSPACE, Message, Queue};
use crate::{Sqs, error, md5, now_ms};

/// At most this many entries in a batch request, and messages in one receive.
const MAX_BATCH: usize = 10;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageInput {
    queue_url: String,
    message_body: String,
    delay_seconds: Option<u64>,
    #[serde(default)]
    message_attributes: BTreeMap<String, AttributeValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageOutput {
    message_id: String,
    #[serde(rename = "MD5OfMessageBody")]
    md5_of_message_body: String,
    #[serde(rename = "MD5OfMessageAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<String>,
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
    message_body: String,
    delay_seconds: Option<u64>,
    #[serde(default)]
    message_attributes: BTreeMap<String, AttributeValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendResultEntry {
    id: String,
    message_id: String,
    #[serde(rename = "MD5OfMessageBody")]
    md5_of_message_body: String,
    #[serde(rename = "MD5OfMessageAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchFailure {
    id: String,
    sender_fault: bool,
    code: String,
    message: String,
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

fn encode_receipt(m: &Message) -> String {
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

impl Sqs {
    /// Validates and stores one message; the caller wakes long polls after the commit.
    pub(crate) fn new_message(
        &self,
        queue: &Queue,
        body: String,
        delay: Option<u64>,
        attributes: BTreeMap<String, AttributeValue>,
    ) -> Result<Message, AwsError> {
        let max = queue.number("MaximumMessageSize", 262_144) as usize;
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
        let delay = match delay {
            Some(d) if d > 900 => {
                return Err(error::invalid_parameter(format!(
                    "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
                )));
            }
            Some(d) => d,
            None => queue.number("DelaySeconds", 0),
        };
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
        })
    }

    pub(crate) async fn store(&self, queue: &Queue, messages: Vec<Message>) -> Result<Vec<Message>, AwsError> {
        let (account, name) = (queue.account.clone(), queue.name.clone());
        let stored = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                if txn.get(KEYSPACE, &table::queue_key(&account, &name))?.is_none() {
                    return Err(error::queue_does_not_exist());
                }
                let mut stored = Vec::new();
                for mut m in messages {
                    m.seq = next_seq(txn)?;
                    txn.put(KEYSPACE, &table::message_key(&account, &name, m.visible_ms, m.seq), &table::encode(&m))?;
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
        let m = self.new_message(&queue, input.message_body, input.delay_seconds, input.message_attributes)?;
        let m = self.store(&queue, vec![m]).await?.remove(0);
        Ok(SendMessageOutput {
            md5_of_message_body: md5::of_body(&m.body),
            md5_of_message_attributes: md5::of_attributes(&m.attributes),
            message_id: m.id,
        })
    }

    pub(crate) async fn send_message_batch(
        self: Arc<Self>,
        ctx: RequestContext,
        input: SendMessageBatchInput,
    ) -> Result<SendMessageBatchOutput, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        check_batch(&input.entries, |e| &e.id)?;
        let mut failed = Vec::new();
        let mut accepted = Vec::new();
        for e in input.entries {
            match self.new_message(&queue, e.message_body, e.delay_seconds, e.message_attributes) {
                Ok(m) => accepted.push((e.id, m)),
                Err(err) => failed.push(BatchFailure {
                    id: e.id,
                    sender_fault: true,
                    code: err.code.to_string(),
                    message: err.message,
                }),
            }
        }
        let ids: Vec<String> = accepted.iter().map(|(id, _)| id.clone()).collect();
        let stored = self.store(&queue, accepted.into_iter().map(|(_, m)| m).collect()).await?;
        let successful = ids
            .into_iter()
            .zip(stored)
            .map(|(id, m)| SendResultEntry {
                id,
                md5_of_message_body: md5::of_body(&m.body),
                md5_of_message_attributes: md5::of_attributes(&m.attributes),
                message_id: m.id,
            })
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
            let (received, next_visible) = self.take(&queue, max, visibility).await?;
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
    /// maxReceiveCount move to the dead-letter queue instead. Also returns when the next
    /// message becomes visible, to bound a long poll's sleep.
    async fn take(&self, queue: &Queue, max: usize, visibility: u64) -> Result<(Vec<Message>, Option<u64>), AwsError> {
        let redrive = redrive_target(queue);
        let retention_ms = queue.number("MessageRetentionPeriod", 345_600) * 1000;
        let (account, name, arn) = (queue.account.clone(), queue.name.clone(), queue.arn());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let now = now_ms();
                let mut out = Vec::new();
                let visible = table::visible_at(&account, &name, now);
                for (k, v) in txn.scan(KEYSPACE, &visible, Direction::Forward, usize::MAX)? {
                    if out.len() == max {
                        break;
                    }
                    let mut m: Message = table::decode(&v)?;
                    txn.delete(KEYSPACE, &k)?;
                    if m.sent_ms + retention_ms <= now {
                        continue;
                    }
                    if let Some((dlq_account, dlq_name, max_receives)) = &redrive
                        && m.receive_count >= *max_receives
                        && txn.get(KEYSPACE, &table::queue_key(dlq_account, dlq_name))?.is_some()
                    {
                        m.visible_ms = now;
                        m.dead_letter_source = Some(arn.clone());
                        txn.put(
                            KEYSPACE,
                            &table::message_key(dlq_account, dlq_name, m.visible_ms, m.seq),
                            &table::encode(&m),
                        )?;
                        continue;
                    }
                    m.receive_count += 1;
                    m.first_receive_ms.get_or_insert(now);
                    m.receipt_token = uuid::Uuid::new_v4().simple().to_string();
                    m.visible_ms = now + visibility * 1000;
                    txn.put(KEYSPACE, &table::message_key(&account, &name, m.visible_ms, m.seq), &table::encode(&m))?;
                    out.push(m);
                }
                let next = txn.scan(KEYSPACE, &table::messages_of(&account, &name), Direction::Forward, 1)?;
                let next_visible = match next.first() {
                    Some((_, v)) => Some(table::decode::<Message>(v)?.visible_ms),
                    None => None,
                };
                Ok::<_, AwsError>((out, next_visible))
            })
            .await
    }

    /// Finds the message a receipt handle was issued for and applies `f` to its record
    /// key. A handle from an earlier receive of a message received again since is accepted
    /// and changes nothing, as in SQS.
    async fn by_receipt(
        &self,
        queue: &Queue,
        handle: &str,
        f: impl FnOnce(&mut dyn Txn, Vec<u8>, Message) -> Result<(), AwsError> + Send + 'static,
    ) -> Result<(), AwsError> {
        let receipt = decode_receipt(handle)?;
        let (account, name) = (queue.account.clone(), queue.name.clone());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::message_key(&account, &name, receipt.v, receipt.s);
                match txn.get(KEYSPACE, &key)? {
                    Some(v) => {
                        let m: Message = table::decode(&v)?;
                        if m.receipt_token == receipt.t { f(txn, key, m) } else { Ok(()) }
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
        self.by_receipt(&queue, &input.receipt_handle, |txn, key, _| Ok(txn.delete(KEYSPACE, &key)?)).await?;
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
            match self.by_receipt(&queue, &e.receipt_handle, |txn, key, _| Ok(txn.delete(KEYSPACE, &key)?)).await {
                Ok(()) => out.successful.push(IdEntry { id: e.id }),
                Err(err) => out.failed.push(BatchFailure {
                    id: e.id,
                    sender_fault: true,
                    code: err.code.to_string(),
                    message: err.message,
                }),
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
        if !(0..=43_200).contains(&input.visibility_timeout) {
            return Err(error::invalid_parameter(format!(
                "Value {} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.",
                input.visibility_timeout
            )));
        }
        let seconds = input.visibility_timeout as u64;
        let (account, name) = (queue.account.clone(), queue.name.clone());
        self.by_receipt(&queue, &input.receipt_handle, move |txn, key, mut m| {
            let now = now_ms();
            if m.visible_ms <= now {
                return Err(AwsError::new(
                    400,
                    "MessageNotInflight",
                    "Message does not exist or is not available for visibility timeout change.",
                ));
            }
            txn.delete(KEYSPACE, &key)?;
            m.visible_ms = now + seconds * 1000;
            txn.put(KEYSPACE, &table::message_key(&account, &name, m.visible_ms, m.seq), &table::encode(&m))?;
            Ok(())
        })
        .await?;
        // A timeout of zero makes the message visible now: wake any long poll.
        self.wake(&queue);
        Ok(Empty {})
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

/// (account, name, maxReceiveCount) of the queue's dead-letter queue, if it has one.
fn redrive_target(queue: &Queue) -> Option<(String, String, u64)> {
    let policy: serde_json::Value = serde_json::from_str(queue.attributes.get("RedrivePolicy")?).ok()?;
    let arn = policy.get("deadLetterTargetArn")?.as_str()?;
    let count = policy.get("maxReceiveCount").and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))?;
    let mut parts = arn.rsplitn(3, ':');
    let name = parts.next()?.to_string();
    let account = parts.next()?.to_string();
    Some((account, name, count))
}

/// A received message as ReceiveMessage answers it, with the attributes asked for.
fn present(m: Message, input: &ReceiveMessageInput) -> ReceivedMessage {
    let names: Vec<&String> = input.attribute_names.iter().chain(&input.message_system_attribute_names).collect();
    let all = names.iter().any(|n| *n == "All");
    let system = [
        ("SenderId", "AIDAIT2UOQQY3AUEKVGXU".to_string()),
        ("SentTimestamp", m.sent_ms.to_string()),
        ("ApproximateReceiveCount", m.receive_count.to_string()),
        ("ApproximateFirstReceiveTimestamp", m.first_receive_ms.unwrap_or(m.sent_ms).to_string()),
    ];
    let mut attributes: BTreeMap<String, String> = system
        .into_iter()
        .filter(|(n, _)| all || names.iter().any(|x| x == n))
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    if let Some(source) =
        m.dead_letter_source.as_ref().filter(|_| all || names.iter().any(|x| *x == "DeadLetterQueueSourceArn"))
    {
        attributes.insert("DeadLetterQueueSourceArn".into(), source.clone());
    }
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
