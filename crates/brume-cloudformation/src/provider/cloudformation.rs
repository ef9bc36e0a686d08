//! AWS::CloudFormation::WaitConditionHandle: nothing to create. Its physical id is the URL
//! a wait condition's signal would be sent to, as AWS answers it.

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use serde_json::{Value, json};

use super::{Provider, Provisioned, Request, provisioned};

pub(super) struct WaitConditionHandle;

#[async_trait::async_trait]
impl Provider for WaitConditionHandle {
    async fn create(&self, _: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let stack = request.stack_id.replace(':', "%3A").replace('/', "%2F");
        let url = format!(
            "https://cloudformation-waitcondition-{}.s3.amazonaws.com/{stack}/{}",
            request.region, request.logical_id
        );
        Ok(provisioned(url, json!({})))
    }

    async fn update(
        &self,
        _: &dyn AwsSdkClient,
        _: &Request<'_>,
        id: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        Ok(provisioned(id, json!({})))
    }

    async fn delete(&self, _: &dyn AwsSdkClient, _: &Request<'_>, _: &str) -> Result<(), AwsError> {
        Ok(())
    }

    fn replaces(&self, _: &Value, _: &Value) -> bool {
        false
    }
}
