//! What other services ask of SNS through the typed [`SnsClient`]: publishing on their
//! behalf (Lambda's dead-letter topics). The request goes through Publish itself, made in
//! the topic's account and region, so it is validated and fanned out as any other.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use brume_core::clients::{MessageAttribute, SnsClient};
use brume_core::{AwsError, RequestContext};

use crate::{Sns, error, table};

/// SNS as the typed client other services hold.
pub struct Publisher(pub Arc<Sns>);

#[async_trait]
impl SnsClient for Publisher {
    async fn publish(
        &self,
        topic_arn: &str,
        message: String,
        attributes: BTreeMap<String, MessageAttribute>,
    ) -> Result<String, AwsError> {
        let (account, region, _) = table::parse_topic_arn(topic_arn).ok_or_else(error::topic_not_found)?;
        let input = serde_json::json!({"TopicArn": topic_arn, "Message": message, "MessageAttributes": attributes});
        let input = serde_json::from_value(input).map_err(|e| AwsError::new(400, "InvalidParameter", e.to_string()))?;
        let output = self.0.clone().publish(RequestContext::new(account, region), input).await?;
        let output = serde_json::to_value(output).unwrap_or_default();
        Ok(output["MessageId"].as_str().unwrap_or_default().to_string())
    }
}
