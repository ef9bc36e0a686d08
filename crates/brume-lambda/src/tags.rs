//! Tags of functions: TagResource, UntagResource, ListTags, by function ARN.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_protocol::ServiceBuilder;
use brume_storage::Txn;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::function::{FunctionRef, validation};
use crate::table::{self, Function, KEYSPACE};
use crate::version::read;
use crate::{Lambda, error};

/// The most tags a function may carry.
const MAX_TAGS: usize = 50;

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder
        .op("TagResource", Lambda::tag_resource)
        .op("UntagResource", Lambda::untag_resource)
        .op("ListTags", Lambda::list_tags)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    resource: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagInput {
    resource: String,
    #[serde(default)]
    tag_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceInput {
    resource: String,
}

/// The function a taggable ARN names (tags belong to the unqualified function).
fn tagged(ctx: &RequestContext, resource: &str) -> Result<FunctionRef, AwsError> {
    if !resource.starts_with("arn:") {
        return Err(validation(
            resource,
            "resource",
            r"Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
        ));
    }
    let target = FunctionRef::parse(&ctx.account, &ctx.region, resource, None)?;
    if target.qualifier.is_some() {
        return Err(error::invalid_parameter(
            "Tags on function aliases and versions are not supported. Please specify a function ARN.",
        ));
    }
    Ok(target)
}

impl Lambda {
    async fn change_tags(
        &self,
        target: FunctionRef,
        change: impl FnOnce(&mut BTreeMap<String, String>) + Send + 'static,
    ) -> Result<Value, AwsError> {
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::function_key(&target.account, &target.region, &target.name);
                let mut function: Function =
                    read(txn, &key)?.ok_or_else(|| error::function_not_found(&target.arn()))?;
                change(&mut function.tags);
                if function.tags.len() > MAX_TAGS {
                    return Err(error::invalid_parameter(format!(
                        "The number of tags exceeds the limit of {MAX_TAGS} tags per resource."
                    )));
                }
                txn.put(KEYSPACE, &key, &table::encode(&function))?;
                Ok::<_, AwsError>(json!({}))
            })
            .await
    }

    pub(crate) async fn tag_resource(self: Arc<Self>, ctx: RequestContext, input: TagInput) -> Result<Value, AwsError> {
        let target = tagged(&ctx, &input.resource)?;
        self.change_tags(target, move |tags| tags.extend(input.tags)).await
    }

    pub(crate) async fn untag_resource(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UntagInput,
    ) -> Result<Value, AwsError> {
        let target = tagged(&ctx, &input.resource)?;
        self.change_tags(target, move |tags| {
            for key in &input.tag_keys {
                tags.remove(key);
            }
        })
        .await
    }

    pub(crate) async fn list_tags(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ResourceInput,
    ) -> Result<Value, AwsError> {
        let target = tagged(&ctx, &input.resource)?;
        let function = self.function(&target)?;
        Ok(json!({"Tags": function.tags}))
    }
}
