//! Publish and PublishBatch: SNS's checks on messages, subjects, attributes and the JSON
//! message structure, FIFO topics' group ids, deduplication and sequence numbers, and the
//! fan-out itself: one outbox event per subscription whose filter policy matches, all
//! written in one transaction, delivered after it commits.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use brume_core::clients::MessageAttribute;
use brume_core::{AwsError, RequestContext};
use brume_events::Event;
use brume_storage::{StorageError, Txn};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::envelope::{self, Notification};
use crate::filter::{self, Scope};
use crate::subscription::NOTIFICATION;
use crate::table::{self, Dedup, KEYSPACE, LocalMessage, Subscription, Topic};
use crate::{Sns, error, now_ms};

/// The largest message, attributes included.
const MAX_MESSAGE_BYTES: usize = 262_144;
/// Entries in one PublishBatch.
const MAX_BATCH: usize = 10;
/// How long a FIFO topic remembers a deduplication id.
const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;
/// The subject S3 event notifications carry.
const S3_SUBJECT: &str = "Amazon S3 Notification";

/// A message as Publish and each PublishBatch entry give it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Outgoing {
    message: String,
    subject: Option<String>,
    message_structure: Option<String>,
    #[serde(default)]
    message_attributes: BTreeMap<String, MessageAttribute>,
    message_deduplication_id: Option<String>,
    message_group_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishInput {
    topic_arn: Option<String>,
    target_arn: Option<String>,
    phone_number: Option<String>,
    #[serde(flatten)]
    message: Outgoing,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishOutput {
    message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishBatchInput {
    topic_arn: String,
    publish_batch_request_entries: Vec<BatchEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchEntry {
    id: String,
    #[serde(flatten)]
    message: Outgoing,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResultEntry {
    id: String,
    message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchFailure {
    id: String,
    code: String,
    message: String,
    sender_fault: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishBatchOutput {
    successful: Vec<BatchResultEntry>,
    failed: Vec<BatchFailure>,
}

/// A checked message, ready to fan out.
struct Prepared {
    message_id: String,
    /// The message, or with MessageStructure=json the per-protocol messages.
    body: Body,
    subject: Option<String>,
    attributes: BTreeMap<String, MessageAttribute>,
    group_id: Option<String>,
    dedup_id: Option<String>,
}

enum Body {
    Plain(String),
    PerProtocol(serde_json::Map<String, Value>),
}

impl Body {
    /// The message `protocol`'s endpoints get.
    fn for_protocol(&self, protocol: &str) -> String {
        match self {
            Body::Plain(m) => m.clone(),
            Body::PerProtocol(messages) => {
                let pick = messages.get(protocol).or_else(|| messages.get("default"));
                match pick {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                }
            }
        }
    }
}

fn invalid_attribute(message: String) -> AwsError {
    error::invalid_parameter_value(message)
}

/// SNS's rules for message attributes: names, type prefixes, values.
fn validate_attributes(attributes: &BTreeMap<String, MessageAttribute>) -> Result<usize, AwsError> {
    let mut size = 0;
    for (name, a) in attributes {
        let lower = name.to_ascii_lowercase();
        let valid_name = !name.is_empty()
            && name.len() <= 256
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
            && !name.starts_with('.')
            && !name.ends_with('.')
            && !name.contains("..")
            && !lower.starts_with("aws.")
            && !lower.starts_with("amazon.");
        if !valid_name {
            return Err(invalid_attribute(format!("The message attribute name '{name}' is invalid.")));
        }
        let base = a.data_type.split('.').next().unwrap_or_default();
        if !["String", "Number", "Binary"].contains(&base) || a.data_type.len() > 256 {
            return Err(invalid_attribute(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        match base {
            "Binary" => {
                if a.binary_value.as_ref().is_none_or(|b| b.0.is_empty()) {
                    return Err(invalid_attribute(format!(
                        "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
                    )));
                }
            }
            _ => {
                let value = a.string_value.as_deref().unwrap_or_default();
                if value.is_empty() {
                    return Err(invalid_attribute(format!(
                        "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
                    )));
                }
                if base == "Number" && value.trim().parse::<f64>().is_err() {
                    return Err(invalid_attribute(format!(
                        "Could not cast message attribute '{name}' value to number."
                    )));
                }
                if a.data_type == "String.Array" && !matches!(serde_json::from_str(value), Ok(Value::Array(_))) {
                    return Err(invalid_attribute(format!(
                        "The message attribute '{name}' with type 'String.Array' has an invalid value: it must be a JSON array."
                    )));
                }
            }
        }
        size += name.len()
            + a.data_type.len()
            + a.string_value.as_ref().map_or(0, String::len)
            + a.binary_value.as_ref().map_or(0, |b| b.0.len());
    }
    Ok(size)
}

fn validate_subject(subject: &str) -> Result<(), AwsError> {
    let printable = subject.chars().all(|c| !c.is_control());
    if subject.is_empty() || subject.len() > 100 || !printable || subject.trim().is_empty() {
        return Err(error::invalid_parameter("Subject"));
    }
    Ok(())
}

/// Checks `m` for `topic` and gives it its id.
fn prepare(topic: &Topic, m: Outgoing) -> Result<Prepared, AwsError> {
    if m.message.is_empty() {
        return Err(error::invalid_parameter("Empty message"));
    }
    let attributes_size = validate_attributes(&m.message_attributes)?;
    if m.message.len() + attributes_size > MAX_MESSAGE_BYTES {
        return Err(error::invalid_parameter("Message too long"));
    }
    if let Some(subject) = &m.subject {
        validate_subject(subject)?;
    }
    let body = match m.message_structure.as_deref() {
        None => Body::Plain(m.message.clone()),
        Some("json") => {
            let parsed: Value = serde_json::from_str(&m.message)
                .map_err(|_| error::invalid_parameter("Message Structure - JSON message body failed to parse"))?;
            let Value::Object(messages) = parsed else {
                return Err(error::invalid_parameter("Message Structure - JSON message body failed to parse"));
            };
            if !messages.contains_key("default") {
                return Err(error::invalid_parameter("Message Structure - No default entry in JSON message body"));
            }
            Body::PerProtocol(messages)
        }
        Some(_) => return Err(error::invalid_parameter("MessageStructure")),
    };
    let (group_id, dedup_id) = if topic.is_fifo() {
        let group = m
            .message_group_id
            .filter(|g| !g.is_empty())
            .ok_or_else(|| error::invalid_parameter("The MessageGroupId parameter is required for FIFO topics"))?;
        let dedup = match m.message_deduplication_id {
            Some(id) => id,
            None if topic.content_based_deduplication() => brume_core::hex(&sha2::Sha256::digest(m.message.as_bytes())),
            None => {
                return Err(error::invalid_parameter(
                    "The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                ));
            }
        };
        for (name, value) in [("MessageGroupId", &group), ("MessageDeduplicationId", &dedup)] {
            if value.len() > 128 || !value.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(error::invalid_parameter(format!("{name} Reason: invalid characters or length")));
            }
        }
        (Some(group), Some(dedup))
    } else {
        if m.message_deduplication_id.is_some() {
            return Err(error::invalid_parameter(
                "MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
            ));
        }
        // Standard topics pass a group id on to SQS fair queues.
        (m.message_group_id, None)
    };
    Ok(Prepared {
        message_id: uuid::Uuid::new_v4().to_string(),
        body,
        subject: m.subject,
        attributes: m.message_attributes,
        group_id,
        dedup_id,
    })
}

/// Whether `sub`'s filter policy lets `message` (with `attributes`) through.
fn passes(sub: &Subscription, message: &str, attributes: &BTreeMap<String, MessageAttribute>) -> bool {
    let Some(policy) = sub.attributes.get("FilterPolicy") else { return true };
    let scope =
        sub.attributes.get("FilterPolicyScope").and_then(|s| Scope::parse(s)).unwrap_or(Scope::MessageAttributes);
    match filter::parse(policy, scope) {
        Ok(policy) => match scope {
            Scope::MessageAttributes => policy.matches_attributes(attributes),
            Scope::MessageBody => policy.matches_body(message),
        },
        // Policies are validated when set; one that no longer parses lets nothing through.
        Err(_) => false,
    }
}

/// A message to fan out, with everything the transaction needs.
struct Fanout {
    prepared: Prepared,
    timestamp: String,
    /// Lambda event records, signed before the transaction (signing is not for the
    /// store's writer thread), keyed by subscription ARN.
    lambda: BTreeMap<String, Value>,
}

/// The outcome of one message: its id (the original's for a FIFO duplicate) and FIFO
/// sequence number.
type Published = (String, Option<String>);

impl Sns {
    pub(crate) async fn publish(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PublishInput,
    ) -> Result<PublishOutput, AwsError> {
        if let Some(phone) = input.phone_number {
            return self.publish_sms(phone, input.message).await;
        }
        let arn = match (input.topic_arn, input.target_arn) {
            (Some(arn), None) | (None, Some(arn)) => arn,
            (Some(_), Some(_)) => {
                return Err(error::invalid_parameter(
                    "TopicArn or TargetArn Reason: Only one of TopicArn or TargetArn may be specified",
                ));
            }
            (None, None) => {
                return Err(error::invalid_parameter("TopicArn or TargetArn Reason: no value for required parameter"));
            }
        };
        if table::parse_topic_arn(&arn).is_none() {
            return Err(error::invalid_parameter(
                "TargetArn Reason: Brume serves topic targets only; platform application endpoints are not built",
            ));
        }
        let topic = self.topic(&ctx, &arn)?;
        let prepared = prepare(&topic, input.message)?;
        let mut published = self.fan_out(&topic, vec![prepared]).await?;
        let (message_id, sequence_number) = published.remove(0);
        Ok(PublishOutput { message_id, sequence_number })
    }

    pub(crate) async fn publish_batch(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PublishBatchInput,
    ) -> Result<PublishBatchOutput, AwsError> {
        let topic = self.topic(&ctx, &input.topic_arn)?;
        let entries = input.publish_batch_request_entries;
        if entries.is_empty() {
            return Err(AwsError::new(
                400,
                "EmptyBatchRequestException",
                "The batch request doesn't contain any entries.",
            ));
        }
        if entries.len() > MAX_BATCH {
            return Err(AwsError::new(
                400,
                "TooManyEntriesInBatchRequestException",
                "The batch request contains more entries than permissible.",
            ));
        }
        let mut ids = HashSet::new();
        for e in &entries {
            let valid = !e.id.is_empty()
                && e.id.len() <= 80
                && e.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err(AwsError::new(
                    400,
                    "InvalidBatchEntryIdException",
                    "The Id of a batch entry in a batch request doesn't abide by the specification.",
                ));
            }
            if !ids.insert(e.id.clone()) {
                return Err(AwsError::new(
                    400,
                    "BatchEntryIdsNotDistinctException",
                    "Two or more batch entries in the request have the same Id.",
                ));
            }
        }
        let total: usize = entries.iter().map(|e| e.message.message.len()).sum();
        if total > MAX_MESSAGE_BYTES {
            return Err(AwsError::new(
                400,
                "BatchRequestTooLongException",
                "The length of all the messages put together is more than the limit.",
            ));
        }
        let mut failed = Vec::new();
        let mut ready = Vec::new();
        let mut ready_ids = Vec::new();
        for e in entries {
            match prepare(&topic, e.message) {
                Ok(p) => {
                    ready_ids.push(e.id);
                    ready.push(p);
                }
                Err(err) => failed.push(BatchFailure {
                    id: e.id,
                    code: wire_code(&err.code).to_string(),
                    message: err.message,
                    sender_fault: true,
                }),
            }
        }
        let published = if ready.is_empty() { Vec::new() } else { self.fan_out(&topic, ready).await? };
        let successful = ready_ids
            .into_iter()
            .zip(published)
            .map(|(id, (message_id, sequence_number))| BatchResultEntry { id, message_id, sequence_number })
            .collect();
        Ok(PublishBatchOutput { successful, failed })
    }

    /// Publishes `message` to the topic `arn` on behalf of another service (S3 event
    /// notifications). No subscription is a fine outcome; no topic is an error.
    pub(crate) async fn publish_from_service(&self, arn: &str, kind: &str, message: String) -> Result<(), AwsError> {
        let (account, region, name) = table::parse_topic_arn(arn).ok_or_else(error::topic_not_found)?;
        let topic = self.topic_by_arn_parts(&account, &region, &name)?.ok_or_else(error::topic_not_found)?;
        let subject = kind.starts_with("s3:").then(|| S3_SUBJECT.to_string());
        let fifo = topic.is_fifo();
        let outgoing = Outgoing {
            message,
            subject,
            // A FIFO topic needs a group: events from one source keep their order.
            message_group_id: fifo.then(|| kind.split(':').next().unwrap_or("events").to_string()),
            message_deduplication_id: fifo.then(|| uuid::Uuid::new_v4().to_string()),
            ..Default::default()
        };
        let prepared = prepare(&topic, outgoing)?;
        self.fan_out(&topic, vec![prepared]).await?;
        Ok(())
    }

    /// SMS straight to a phone number: kept with the local messages.
    async fn publish_sms(&self, phone: String, m: Outgoing) -> Result<PublishOutput, AwsError> {
        if m.message.is_empty() {
            return Err(error::invalid_parameter("Empty message"));
        }
        let digits = phone.strip_prefix('+').unwrap_or(&phone);
        if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error::invalid_parameter(format!("PhoneNumber Reason: {phone} is not valid to publish to")));
        }
        let now = now_ms();
        let message = LocalMessage {
            id: uuid::Uuid::new_v4().to_string(),
            protocol: "sms".into(),
            endpoint: phone,
            subscription_arn: String::new(),
            topic_arn: String::new(),
            kind: "Notification".into(),
            subject: None,
            body: m.message,
            timestamp: brume_core::value::Timestamp::from_unix_millis(now).iso8601(),
            token: None,
        };
        let message_id = message.id.clone();
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                txn.put(KEYSPACE, &table::local_key(now, &message.id), &table::encode(&message))
            })
            .await?;
        Ok(PublishOutput { message_id, sequence_number: None })
    }

    /// Writes one outbox event per (message, matching subscription) in one transaction;
    /// FIFO topics also get their sequence numbers and deduplication there.
    async fn fan_out(&self, topic: &Topic, messages: Vec<Prepared>) -> Result<Vec<Published>, AwsError> {
        let subscriptions: Vec<Subscription> =
            self.subscriptions_of(topic)?.into_iter().filter(|s| !s.pending()).collect();
        let now = now_ms();
        let timestamp = brume_core::value::Timestamp::from_unix_millis(now).iso8601();
        let signature_version = topic.attributes.get("SignatureVersion").cloned().unwrap_or_else(|| "1".into());
        let mut fanouts = Vec::with_capacity(messages.len());
        for prepared in messages {
            let mut lambda = BTreeMap::new();
            for sub in subscriptions.iter().filter(|s| s.protocol == "lambda") {
                let message = prepared.body.for_protocol("lambda");
                if passes(sub, &message, &prepared.attributes) {
                    let record = self.lambda_record(sub, &prepared, &message, &timestamp, &signature_version).await?;
                    lambda.insert(sub.arn(), record);
                }
            }
            fanouts.push(Fanout { prepared, timestamp: timestamp.clone(), lambda });
        }
        let topic = topic.clone();
        let published = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                let mut out = Vec::with_capacity(fanouts.len());
                for f in &fanouts {
                    out.push(enqueue_message(txn, &topic, &subscriptions, f, &signature_version, now)?);
                }
                Ok::<_, StorageError>(out)
            })
            .await?;
        Ok(published)
    }

    /// The SNS event record a Lambda subscription receives.
    async fn lambda_record(
        &self,
        sub: &Subscription,
        p: &Prepared,
        message: &str,
        timestamp: &str,
        signature_version: &str,
    ) -> Result<Value, AwsError> {
        let arn = sub.arn();
        let topic_arn = sub.topic_arn();
        let n = Notification {
            message_id: &p.message_id,
            topic_arn: &topic_arn,
            subscription_arn: &arn,
            subject: p.subject.as_deref(),
            message,
            timestamp,
            attributes: &p.attributes,
            sequence_number: None,
            signature_version,
        };
        let mut sns = self.notification(&n, true).await?;
        // Lambda's records always carry these two keys.
        sns["Subject"] = p.subject.as_deref().map_or(Value::Null, |s| json!(s));
        sns["MessageAttributes"] = envelope::attributes_json(&p.attributes);
        Ok(json!({"Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": arn,
            "Sns": sns,
        }]}))
    }
}

/// The awsQuery code of an error shape, for batch result entries.
fn wire_code(shape: &str) -> &str {
    match shape {
        "InvalidParameterValueException" => "ParameterValueInvalid",
        other => other.strip_suffix("Exception").unwrap_or(other),
    }
}

/// Enqueues `f`'s deliveries inside `txn`; a FIFO duplicate within the window enqueues
/// nothing and answers the original's id and sequence number.
fn enqueue_message(
    txn: &mut dyn Txn,
    topic: &Topic,
    subscriptions: &[Subscription],
    f: &Fanout,
    signature_version: &str,
    now: u64,
) -> Result<Published, StorageError> {
    let p = &f.prepared;
    let mut sequence_number = None;
    if topic.is_fifo() {
        let dedup_key =
            table::dedup_key(&topic.account, &topic.region, &topic.name, p.dedup_id.as_deref().unwrap_or_default());
        if let Some(found) = txn.get(KEYSPACE, &dedup_key)? {
            let dedup: Dedup = table::decode(&found)?;
            if dedup.expires_ms > now {
                return Ok((dedup.message_id, Some(dedup.sequence_number)));
            }
        }
        let seq_key = table::seq_key(&topic.account, &topic.region, &topic.name);
        let seq: u64 = txn.get(KEYSPACE, &seq_key)?.map(|b| table::decode(&b)).transpose()?.unwrap_or(0) + 1;
        txn.put(KEYSPACE, &seq_key, &table::encode(&seq))?;
        let number = format!("{seq:020}");
        let dedup = Dedup {
            message_id: p.message_id.clone(),
            sequence_number: number.clone(),
            expires_ms: now + DEDUP_WINDOW_MS,
        };
        txn.put(KEYSPACE, &dedup_key, &table::encode(&dedup))?;
        sequence_number = Some(number);
    }
    for sub in subscriptions {
        let arn = sub.arn();
        if sub.protocol == "lambda" {
            if let Some(record) = f.lambda.get(&arn) {
                // Parked for the Lambda service, as S3's notifications to functions are.
                let payload = json!({"arn": sub.endpoint, "message": record, "subscription": arn});
                brume_events::enqueue(txn, &Event::new("lambda", "sns:Notification", payload, now))?;
            }
            continue;
        }
        let message = p.body.for_protocol(&sub.protocol);
        if !passes(sub, &message, &p.attributes) {
            continue;
        }
        let payload = json!({
            "subscription": arn,
            "message_id": p.message_id,
            "message": message,
            "subject": p.subject,
            "timestamp": f.timestamp,
            "attributes": p.attributes,
            "group_id": p.group_id,
            "dedup_id": p.dedup_id,
            "sequence_number": sequence_number,
            "signature_version": signature_version,
        });
        brume_events::enqueue(txn, &Event::new("sns", NOTIFICATION, payload, now))?;
    }
    Ok((p.message_id.clone(), sequence_number))
}
