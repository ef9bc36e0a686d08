//! Deliveries from other services into queues (S3 event notifications now; SNS fan-out and
//! Lambda destinations later): the outbox's handler for the `sqs` target. The event's
//! payload names the queue by ARN and carries the message, an object (sent as its JSON
//! text) or a string.

use std::sync::Arc;

use async_trait::async_trait;
use brume_events::{DeliveryError, Event, Handler};

use crate::Sqs;
use crate::table::{self, KEYSPACE, Queue};

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
        let mut parts = arn.rsplitn(3, ':');
        let (Some(name), Some(account)) = (parts.next(), parts.next()) else {
            return Err(DeliveryError::Permanent(format!("not a queue ARN: {arn}")));
        };
        let queue = self
            .0
            .kv
            .get(KEYSPACE, &table::queue_key(account, name))
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
        let Some(queue) = queue else {
            return Err(DeliveryError::Permanent(format!("queue {arn} does not exist")));
        };
        let queue: Queue = table::decode(&queue).map_err(|e| DeliveryError::Retryable(e.to_string()))?;
        let message = self
            .0
            .new_message(&queue, body, None, Default::default())
            .map_err(|e| DeliveryError::Permanent(e.message))?;
        self.0.store(&queue, vec![message]).await.map_err(|e| DeliveryError::Retryable(e.message))?;
        Ok(())
    }
}
