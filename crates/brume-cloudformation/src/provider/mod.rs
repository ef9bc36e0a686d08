//! Resource providers: how each resource type is created, updated and deleted, through
//! the owning service's operations ([`AwsSdkClient`]), and which property changes replace it.

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use serde_json::{Map, Value};

/// What a provider is asked to act on.
pub struct Request<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub stack_name: &'a str,
    pub stack_id: &'a str,
    pub logical_id: &'a str,
    /// The resource's properties, every function resolved.
    pub properties: &'a Value,
    /// The stack's tags, to propagate to resources that take tags.
    pub tags: &'a [(String, String)],
}

/// What a provisioned resource answers: its physical id and its `Fn::GetAtt` attributes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Provisioned {
    pub physical_id: String,
    pub attributes: Map<String, Value>,
}

/// One resource type.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError>;

    /// Updates in place from `old` properties (only called when [`Provider::replaces`] is false).
    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        physical_id: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError>;

    /// Deletes; a resource already gone is not an error.
    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, physical_id: &str) -> Result<(), AwsError>;

    /// Whether going from `old` to `new` properties needs a new resource, as the AWS resource
    /// reference says of each property ("Update requires: Replacement").
    fn replaces(&self, old: &Value, new: &Value) -> bool;
}

/// The provider of `resource_type` (`AWS::SQS::Queue`), if Brume has one.
pub fn provider(resource_type: &str) -> Option<&'static dyn Provider> {
    let _ = resource_type;
    None
}
