//! Which services this binary serves, and what each is built from.

use std::sync::Arc;

use brume_auth::CredentialStore;
use brume_events::{DeliveryError, Dispatcher, Event, Handler};
use brume_gateway::Gateway;
use brume_storage::Storage;

/// Registers every built service with the gateway, each with the keyspaces it owns.
/// Registers every built service with the gateway, each with the keyspaces it owns, and
/// the handlers that deliver the outbox's events between them. `endpoint` is the URL
/// clients reach Brume at (queue URLs start with it).
pub fn register(
    gateway: &mut Gateway,
    dispatcher: &Dispatcher,
    storage: &Storage,
    credentials: Arc<CredentialStore>,
    endpoint: &str,
) {
    gateway.register("sts", &[brume_sts::KEYSPACE], move || brume_sts::service(credentials.clone()));
    gateway.set_cors(Arc::new(brume_s3::BucketCors(storage.kv.clone())));
    let s3_storage = storage.clone();
    gateway.register("s3", &[brume_s3::KEYSPACE], move || brume_s3::service(&s3_storage));
    let sqs = brume_sqs::Sqs::new(storage.kv.clone(), endpoint.to_string());
    dispatcher.register("sqs", Arc::new(brume_sqs::Delivery(sqs.clone())));
    gateway.register("sqs", &[brume_sqs::KEYSPACE], move || brume_sqs::service(sqs.clone()));
    dispatcher.set_dead_letter(Arc::new(LogDeadLetters));
}

/// Where events go that could not be delivered: the log, with why.
struct LogDeadLetters;

#[async_trait::async_trait]
impl Handler for LogDeadLetters {
    async fn deliver(&self, event: &Event) -> Result<(), DeliveryError> {
        tracing::warn!(
            target = %event.target,
            kind = %event.kind,
            attempts = event.attempts,
            error = event.last_error.as_deref().unwrap_or(""),
            "event dropped after failed deliveries"
        );
        Ok(())
    }
}
