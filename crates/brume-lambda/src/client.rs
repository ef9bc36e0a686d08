//! [`LambdaClient`] for the services that invoke functions (Step Functions' tasks).

use async_trait::async_trait;
use brume_core::AwsError;
use brume_core::clients::{LambdaClient, LambdaResult};
use bytes::Bytes;

use crate::Lambda;
use crate::executor::Invocation;

#[async_trait]
impl LambdaClient for Lambda {
    async fn invoke(
        &self,
        account: &str,
        region: &str,
        function: &str,
        payload: Vec<u8>,
    ) -> Result<LambdaResult, AwsError> {
        let invocation = Invocation {
            request_id: brume_core::new_request_id(),
            payload: if payload.is_empty() { Bytes::from_static(b"{}") } else { payload.into() },
            ..Default::default()
        };
        let (resolved, outcome) = self.invoke_function(account, region, function, None, invocation).await?;
        Ok(LambdaResult {
            payload: outcome.payload.to_vec(),
            function_error: outcome.function_error.map(|e| e.as_str().to_string()),
            executed_version: resolved.spec.version,
        })
    }
}
