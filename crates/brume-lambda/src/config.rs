//! Event invoke configurations (Put/Update/Get/Delete/ListFunctionEventInvokeConfigs): how
//! many times an Event invocation of a function version or alias is retried, how old its
//! event may grow, and where its record goes after success or failure. Stored under
//! `eic/cfg/<account>/<region>/<function>/<qualifier>`.

use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_protocol::ServiceBuilder;
use brume_storage::key::{self, Element};
use brume_storage::{Direction, KeyRange, StorageError, Txn};
use serde::{Deserialize, Serialize};

use crate::table::KEYSPACE;
use crate::{Lambda, error};

/// AWS's defaults: two retries, events kept up to six hours.
pub const DEFAULT_RETRIES: u32 = 2;
pub const DEFAULT_MAX_AGE_SECONDS: u64 = 21_600;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Destination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<Destination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<Destination>,
}

impl DestinationConfig {
    pub fn on_success(&self) -> Option<&str> {
        self.on_success.as_ref().and_then(|d| d.destination.as_deref())
    }

    pub fn on_failure(&self) -> Option<&str> {
        self.on_failure.as_ref().and_then(|d| d.destination.as_deref())
    }
}

/// A stored event invoke configuration, in its API form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfig {
    pub last_modified: Timestamp,
    pub function_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u64>,
    #[serde(default)]
    pub destination_config: DestinationConfig,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInput {
    function_name: String,
    qualifier: Option<String>,
    maximum_retry_attempts: Option<i64>,
    maximum_event_age_in_seconds: Option<i64>,
    destination_config: Option<DestinationConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionInput {
    function_name: String,
    qualifier: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    function_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOutput {
    function_event_invoke_configs: Vec<EventInvokeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

#[derive(Serialize)]
pub struct Empty {}

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder
        .op("PutFunctionEventInvokeConfig", Lambda::put_event_invoke_config)
        .op("UpdateFunctionEventInvokeConfig", Lambda::update_event_invoke_config)
        .op("GetFunctionEventInvokeConfig", Lambda::get_event_invoke_config)
        .op("DeleteFunctionEventInvokeConfig", Lambda::delete_event_invoke_config)
        .op("ListFunctionEventInvokeConfigs", Lambda::list_event_invoke_configs)
}

pub fn config_key(account: &str, region: &str, function: &str, qualifier: &str) -> Vec<u8> {
    key::encode(&["eic".into(), "cfg".into(), account.into(), region.into(), function.into(), qualifier.into()])
}

fn configs_of(account: &str, region: &str, function: &str) -> KeyRange {
    let prefix: Vec<Element> = vec!["eic".into(), "cfg".into(), account.into(), region.into(), function.into()];
    KeyRange::prefix(&key::encode(&prefix))
}

/// The function part and the qualifier of a FunctionName (a name, a partial ARN
/// `ACCOUNT:function:NAME` or a full ARN, each optionally ending in `:QUALIFIER`).
pub fn split_qualifier(function: &str) -> (&str, Option<&str>) {
    let parts: Vec<&str> = function.split(':').collect();
    let (name_at, len) = if function.starts_with("arn:") {
        (6, 7)
    } else if parts.len() >= 3 && parts[1] == "function" {
        (2, 3)
    } else {
        (0, 1)
    };
    match parts.get(name_at + 1) {
        Some(q) if parts.len() == len + 1 => {
            let cut = function.len() - q.len() - 1;
            (&function[..cut], Some(q))
        }
        _ => (function, None),
    }
}

/// A validation failure as Lambda's request model words it.
fn constraint(value: i64, member: &str, bound: &str) -> AwsError {
    AwsError::new(
        400,
        "ValidationException",
        format!("1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {bound}"),
    )
}

fn check_range(value: Option<i64>, member: &str, min: i64, max: i64) -> Result<(), AwsError> {
    match value {
        Some(v) if v < min => {
            Err(constraint(v, member, &format!("Member must have value greater than or equal to {min}")))
        }
        Some(v) if v > max => {
            Err(constraint(v, member, &format!("Member must have value less than or equal to {max}")))
        }
        _ => Ok(()),
    }
}

/// Destinations of an event invoke configuration: an SQS queue, an SNS topic, a Lambda
/// function, an EventBridge event bus or an S3 bucket.
pub fn check_destination(arn: &str) -> Result<(), AwsError> {
    let service = arn.split(':').nth(2).unwrap_or_default();
    let ok = arn.starts_with("arn:aws")
        && arn.split(':').count() >= 6
        && matches!(service, "sqs" | "sns" | "lambda" | "events" | "s3");
    if ok { Ok(()) } else { Err(error::invalid_parameter(format!("The destination ARN {arn} is invalid."))) }
}

fn check_destinations(config: &DestinationConfig) -> Result<(), AwsError> {
    config.on_success().into_iter().chain(config.on_failure()).try_for_each(check_destination)
}

impl Lambda {
    /// The function's name and ARN and the qualifier `input` names (`$LATEST` by default),
    /// once the version or alias is known to exist.
    async fn config_target(
        &self,
        ctx: &RequestContext,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(String, String, String), AwsError> {
        let (base, in_name) = split_qualifier(function);
        let qualifier = qualifier.or(in_name).unwrap_or("$LATEST").to_string();
        let target = self.target(&ctx.account, &ctx.region, base, Some(&qualifier)).await?;
        Ok((target.name, target.arn, qualifier))
    }

    /// The event invoke configuration that governs Event invocations of `function` at
    /// `qualifier`, if one was put.
    pub(crate) fn event_invoke_config(
        &self,
        account: &str,
        region: &str,
        function: &str,
        qualifier: &str,
    ) -> Result<Option<EventInvokeConfig>, AwsError> {
        let found = self.kv.get(KEYSPACE, &config_key(account, region, function, qualifier))?;
        Ok(found.map(|v| decode(&v)).transpose()?)
    }

    async fn write_event_invoke_config(
        &self,
        ctx: RequestContext,
        input: PutInput,
        merge: bool,
    ) -> Result<EventInvokeConfig, AwsError> {
        check_range(input.maximum_retry_attempts, "maximumRetryAttempts", 0, 2)?;
        check_range(input.maximum_event_age_in_seconds, "maximumEventAgeInSeconds", 60, 21_600)?;
        if let Some(d) = &input.destination_config {
            check_destinations(d)?;
        }
        let (name, arn, qualifier) = self.config_target(&ctx, &input.function_name, input.qualifier.as_deref()).await?;
        let key = config_key(&ctx.account, &ctx.region, &name, &qualifier);
        let function_arn = format!("{arn}:{qualifier}");
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let existing: Option<EventInvokeConfig> = txn.get(KEYSPACE, &key)?.map(|v| decode(&v)).transpose()?;
                let config = match (merge, existing) {
                    (true, None) => {
                        return Err(error::not_found(format!(
                            "The function {function_arn} doesn't have an EventInvokeConfig"
                        )));
                    }
                    (true, Some(mut c)) => {
                        if let Some(n) = input.maximum_retry_attempts {
                            c.maximum_retry_attempts = Some(n as u32);
                        }
                        if let Some(n) = input.maximum_event_age_in_seconds {
                            c.maximum_event_age_in_seconds = Some(n as u64);
                        }
                        if let Some(d) = input.destination_config {
                            if d.on_success.is_some() {
                                c.destination_config.on_success = d.on_success;
                            }
                            if d.on_failure.is_some() {
                                c.destination_config.on_failure = d.on_failure;
                            }
                        }
                        c.last_modified = Timestamp::now();
                        c
                    }
                    (false, _) => EventInvokeConfig {
                        last_modified: Timestamp::now(),
                        function_arn,
                        maximum_retry_attempts: input.maximum_retry_attempts.map(|n| n as u32),
                        maximum_event_age_in_seconds: input.maximum_event_age_in_seconds.map(|n| n as u64),
                        destination_config: input.destination_config.unwrap_or_default(),
                    },
                };
                txn.put(KEYSPACE, &key, &encode(&config))?;
                Ok::<_, AwsError>(config)
            })
            .await
    }

    pub(crate) async fn put_event_invoke_config(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PutInput,
    ) -> Result<EventInvokeConfig, AwsError> {
        self.write_event_invoke_config(ctx, input, false).await
    }

    pub(crate) async fn update_event_invoke_config(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PutInput,
    ) -> Result<EventInvokeConfig, AwsError> {
        self.write_event_invoke_config(ctx, input, true).await
    }

    pub(crate) async fn get_event_invoke_config(
        self: Arc<Self>,
        ctx: RequestContext,
        input: FunctionInput,
    ) -> Result<EventInvokeConfig, AwsError> {
        let (name, arn, qualifier) = self.config_target(&ctx, &input.function_name, input.qualifier.as_deref()).await?;
        self.event_invoke_config(&ctx.account, &ctx.region, &name, &qualifier)?.ok_or_else(|| {
            error::not_found(format!("The function {arn}:{qualifier} doesn't have an EventInvokeConfig"))
        })
    }

    pub(crate) async fn delete_event_invoke_config(
        self: Arc<Self>,
        ctx: RequestContext,
        input: FunctionInput,
    ) -> Result<Empty, AwsError> {
        let (name, arn, qualifier) = self.config_target(&ctx, &input.function_name, input.qualifier.as_deref()).await?;
        let key = config_key(&ctx.account, &ctx.region, &name, &qualifier);
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                if txn.get(KEYSPACE, &key)?.is_none() {
                    return Err(error::not_found(format!(
                        "The function {arn}:{qualifier} doesn't have an EventInvokeConfig"
                    )));
                }
                txn.delete(KEYSPACE, &key)?;
                Ok(Empty {})
            })
            .await
    }

    pub(crate) async fn list_event_invoke_configs(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListInput,
    ) -> Result<ListOutput, AwsError> {
        check_range(input.max_items, "maxItems", 1, 50)?;
        let (base, _) = split_qualifier(&input.function_name);
        let target = self.target(&ctx.account, &ctx.region, base, None).await?;
        let range = configs_of(&ctx.account, &ctx.region, &target.name);
        let mut all: Vec<EventInvokeConfig> = self
            .kv
            .scan(KEYSPACE, &range, Direction::Forward, usize::MAX)?
            .into_iter()
            .map(|(_, v)| decode(&v))
            .collect::<Result<_, _>>()?;
        if let Some(marker) = &input.marker {
            let at = all
                .iter()
                .position(|c| &c.function_arn == marker)
                .ok_or_else(|| error::invalid_parameter(format!("Invalid marker: {marker}")))?;
            all.drain(..at);
        }
        let max = input.max_items.unwrap_or(50) as usize;
        let next_marker = all.get(max).map(|c| c.function_arn.clone());
        all.truncate(max);
        Ok(ListOutput { function_event_invoke_configs: all, next_marker })
    }
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Engine(format!("corrupt Lambda record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_split_from_every_form_of_function_name() {
        let cases = [
            ("f", ("f", None)),
            ("f:prod", ("f", Some("prod"))),
            ("123456789012:function:f", ("123456789012:function:f", None)),
            ("123456789012:function:f:1", ("123456789012:function:f", Some("1"))),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:f",
                ("arn:aws:lambda:us-east-1:123456789012:function:f", None),
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
                ("arn:aws:lambda:us-east-1:123456789012:function:f", Some("$LATEST")),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(split_qualifier(input), expected, "{input}");
        }
    }

    #[test]
    fn destinations_must_be_queues_topics_functions_buses_or_buckets() {
        assert!(check_destination("arn:aws:sqs:us-east-1:000000000000:q").is_ok());
        assert!(check_destination("arn:aws:sns:us-east-1:000000000000:t").is_ok());
        assert!(check_destination("arn:aws:dynamodb:us-east-1:000000000000:table/t").is_err());
        assert!(check_destination("not-an-arn").is_err());
    }
}
