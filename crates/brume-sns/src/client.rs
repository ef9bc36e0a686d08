//! What other services ask of SNS through the typed [`SnsClient`]: publishing on their
//! behalf (Lambda's destinations and dead-letter topics).

use async_trait::async_trait;
use brume_core::AwsError;
use brume_core::clients::SnsClient;

use crate::Sns;

#[async_trait]
impl SnsClient for Sns {
    async fn publish(&self, topic_arn: &str, message: String) -> Result<(), AwsError> {
        self.publish_from_service(topic_arn, "lambda", message).await
    }
}
