//! Amazon CloudWatch Logs (awsJson 1.1) for Brume: log groups, log streams and their
//! events, durable in storage. Lambda writes its functions' output here through
//! [`brume_core::clients::LogsClient`].

use std::sync::Arc;

use brume_core::AwsError;
use brume_core::clients::{LogEvent, LogsClient};
use brume_protocol::{Service, ServiceBuilder};
use brume_storage::Kv;

/// The keyspace log groups, streams and events live in.
pub const KEYSPACE: &str = "logs";

/// CloudWatch Logs' state.
pub struct Logs {
    kv: Arc<dyn Kv>,
}

impl Logs {
    pub fn new(kv: Arc<dyn Kv>) -> Arc<Logs> {
        Arc::new(Logs { kv })
    }
}

#[async_trait::async_trait]
impl LogsClient for Logs {
    async fn put_log_events(
        &self,
        _account: &str,
        _region: &str,
        _group: &str,
        _stream: &str,
        _events: Vec<LogEvent>,
    ) -> Result<(), AwsError> {
        let _ = &self.kv;
        Err(AwsError::internal())
    }
}

/// The CloudWatch Logs service, ready for the gateway.
pub fn service(state: Arc<Logs>) -> Service {
    ServiceBuilder::new("logs", state).build()
}
