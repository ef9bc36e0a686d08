//! What other services ask of SQS: the typed [`SqsClient`] (SNS fan-out, Lambda
//! destinations and event source mappings), and the outbox handler for the `sqs` target (S3 event notifications),
//! whose event payload names the queue by ARN (`arn`) and carries the message (`message`:
//! an object is sent as its JSON text).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use brume_core::AwsError;
use brume_core::clients::{OutgoingMessage, ReceivedMessage, SqsClient};
use brume_events::{DeliveryError, Event, Handler};

use crate::message::{Outgoing, encode_receipt};
use crate::table::{self, Message, Queue};
use crate::{Sqs, error, md5};

impl Sqs {
    fn queue_by_arn(&self, arn: &str) -> Result<Queue, AwsError> {
        let (account, name) = table::parse_arn(arn).ok_or_else(error::queue_does_not_exist)?;
        self.queue_at(&account, &name)?.ok_or_else(error::queue_does_not_exist)
    }
}

#[async_trait]
impl SqsClient for Sqs {
    async fn send_message(&self, queue_arn: &str, message: OutgoingMessage) -> Result<String, AwsError> {
        let queue = self.queue_by_arn(queue_arn)?;
        let out = Outgoing {
            message_body: message.body,
            message_attributes: message.attributes,
            message_group_id: message.group_id,
            message_deduplication_id: message.deduplication_id,
            ..Default::default()
        };
        let m = self.new_message(&queue, out)?;
        Ok(self.store(&queue, vec![m]).await?.remove(0).id)
    }

    async fn receive_messages(
        &self,
        queue_arn: &str,
        max: usize,
        visibility_timeout: Option<u64>,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, AwsError> {
        let queue = self.queue_by_arn(queue_arn)?;
        let visibility = visibility_timeout.unwrap_or_else(|| queue.number("VisibilityTimeout", 30));
        let deadline = tokio::time::Instant::now() + wait;
        let notify = self.waiter(&queue);
        loop {
            // Interest first, then the look, so an arrival in between still wakes the wait.
            let notified = notify.notified();
            let (received, next_visible) = self.take(&queue, max.clamp(1, 10), visibility, None).await?;
            if !received.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(received.into_iter().map(received_message).collect());
            }
            let mut until = deadline;
            if let Some(at) = next_visible {
                let in_ms = at.saturating_sub(crate::now_ms());
                until = until.min(tokio::time::Instant::now() + Duration::from_millis(in_ms));
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn delete_messages(&self, queue_arn: &str, receipt_handles: Vec<String>) -> Result<(), AwsError> {
        let queue = self.queue_by_arn(queue_arn)?;
        for handle in receipt_handles {
            let (account, name) = (queue.account.clone(), queue.name.clone());
            self.by_receipt(&queue, &handle, move |txn, m| Ok(table::remove(txn, &account, &name, &m)?)).await?;
        }
        Ok(())
    }
}

/// A received message with every system attribute, as ReceiveMessage with `All` gives it.
fn received_message(m: Message) -> ReceivedMessage {
    let mut attributes = BTreeMap::from([
        ("ApproximateReceiveCount".to_string(), m.receive_count.to_string()),
        ("SentTimestamp".to_string(), m.sent_ms.to_string()),
        ("SenderId".to_string(), "AIDAIT2UOQQY3AUEKVGXU".to_string()),
        ("ApproximateFirstReceiveTimestamp".to_string(), m.first_receive_ms.unwrap_or(m.sent_ms).to_string()),
    ]);
    if let Some(group) = &m.group_id {
        attributes.insert("MessageGroupId".into(), group.clone());
    }
    if let Some(dedup) = &m.dedup_id {
        attributes.insert("MessageDeduplicationId".into(), dedup.clone());
        attributes.insert("SequenceNumber".into(), m.sequence_number());
    }
    ReceivedMessage {
        message_id: m.id.clone(),
        receipt_handle: encode_receipt(&m),
        md5_of_body: md5::of_body(&m.body),
        body: m.body,
        attributes,
        message_attributes: m.attributes,
    }
}

/// The outbox handler that sends events' messages to SQS queues.
pub struct Delivery(pub Arc<Sqs>);

#[async_trait]
impl Handler for Delivery {
    async fn deliver(&self, event: &Event) -> Result<(), DeliveryError> {
        let arn = event.payload.get("arn").and_then(|a| a.as_str()).unwrap_or_default();
        let body = match event.payload.get("message") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => return Err(DeliveryError::Permanent("event has no message".into())),
        };
        let message = OutgoingMessage { body, ..Default::default() };
        match SqsClient::send_message(self.0.as_ref(), arn, message).await {
            Ok(_) => Ok(()),
            Err(e) if e.status >= 500 => Err(DeliveryError::Retryable(e.message)),
            Err(e) => Err(DeliveryError::Permanent(format!("{arn}: {}", e.message))),
        }
    }
}
