//! What other services ask of SQS: the typed [`SqsClient`] (SNS fan-out, Lambda
//! destinations), and the outbox handler for the `sqs` target (S3 event notifications),
//! whose event payload names the queue by ARN (`arn`) and carries the message (`message`:
//! an object is sent as its JSON text).

use std::sync::Arc;

use async_trait::async_trait;
use brume_core::AwsError;
use brume_core::clients::{OutgoingMessage, SqsClient};
use brume_events::{DeliveryError, Event, Handler};

use crate::message::Outgoing;
use crate::table::{self, Queue};
use crate::{Sqs, error};

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
