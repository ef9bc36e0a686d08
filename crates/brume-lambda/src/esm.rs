//! Event source mappings (Create/Get/List/Update/DeleteEventSourceMapping) for SQS queues
//! and DynamoDB streams, and the pollers that feed them to functions.
//!
//! A mapping is stored under `esm/m/<uuid>`, its stream checkpoint (the sequence number
//! read up to) under `esm/cp/<uuid>`, written after each batch is done with, so a restart
//! resumes where the last one stopped. Each enabled mapping has one poller task: started at
//! startup ([`start`]) and on create or update, stopped on disable or delete (and when its
//! record has gone, as after a reset). A stream's poller runs one batch at a time, so the
//! shard's records reach the function in order (`ParallelizationFactor` is accepted and
//! reported); a queue's runs five batches at once, or `ScalingConfig.MaximumConcurrency`
//! if lower.
//!
//! SQS: a batch is received (waiting up to the batching window to fill it); records the
//! filter criteria reject are deleted unseen, as Lambda does; a successful invocation
//! deletes the batch (all but the `batchItemFailures` it reports, with
//! ReportBatchItemFailures), a failed one leaves it to reappear after the visibility
//! timeout, so the queue's redrive policy moves it to its dead-letter queue in time.
//!
//! DynamoDB streams: a failed batch is retried (halved first with
//! BisectBatchOnFunctionError) until MaximumRetryAttempts or MaximumRecordAgeInSeconds give
//! up on it; its description then goes to the OnFailure destination and the poller moves on.

mod filter;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brume_core::clients::{ReceivedMessage, StreamStart};
use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_events::Event;
use brume_protocol::ServiceBuilder;
use brume_storage::key;
use brume_storage::{Direction, KeyRange, Txn};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{self, DestinationConfig, decode, encode};
use crate::executor::Invocation;
use crate::table::KEYSPACE;
use crate::{Lambda, error};

pub use filter::Filters;

/// How long an idle stream poller waits before it looks again.
const STREAM_POLL: Duration = Duration::from_millis(250);
/// The longest long poll of an SQS poller, so it notices changes to its mapping.
const SQS_WAIT: Duration = Duration::from_secs(2);
/// SQS batches in flight at once for one mapping (its ScalingConfig may lower it), as
/// Lambda starts with five pollers.
const SQS_POLLERS: usize = 5;

/// The running pollers, by mapping UUID.
#[derive(Default)]
pub struct Pollers(Mutex<HashMap<String, JoinHandle<()>>>);

impl Pollers {
    fn stop(&self, uuid: &str) {
        if let Some(task) = self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(uuid) {
            task.abort();
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterCriteria {
    #[serde(default)]
    pub filters: Vec<FilterPattern>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterPattern {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<i64>,
}

/// A stored mapping, in its API form (`EventSourceMappingConfiguration`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mapping {
    #[serde(rename = "UUID")]
    pub uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_position: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_position_timestamp: Option<Timestamp>,
    pub batch_size: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_batching_window_in_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelization_factor: Option<i64>,
    pub event_source_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_criteria: Option<FilterCriteria>,
    pub function_arn: String,
    pub last_modified: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_processing_result: Option<String>,
    pub state: String,
    pub state_transition_reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_config: Option<DestinationConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_record_age_in_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bisect_batch_on_function_error: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tumbling_window_in_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_response_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling_config: Option<ScalingConfig>,
    pub event_source_mapping_arn: String,
    /// Whether the mapping should poll (stored, not answered: see [`Answer`]).
    #[serde(default, rename = "BrumeEnabled")]
    pub enabled: bool,
}

/// A mapping as the API answers it: without what only Brume keeps.
pub struct Answer(Mapping);

impl Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut doc = serde_json::to_value(&self.0).map_err(serde::ser::Error::custom)?;
        if let Some(fields) = doc.as_object_mut() {
            fields.remove("BrumeEnabled");
        }
        doc.serialize(serializer)
    }
}

impl Mapping {
    fn is_sqs(&self) -> bool {
        source_kind(&self.event_source_arn) == Some(Source::Sqs)
    }

    fn reports_item_failures(&self) -> bool {
        self.function_response_types.as_ref().is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Sqs,
    DynamoDb,
}

fn source_kind(arn: &str) -> Option<Source> {
    match arn.split(':').nth(2) {
        Some("sqs") => Some(Source::Sqs),
        Some("dynamodb") if arn.contains("/stream/") => Some(Source::DynamoDb),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateInput {
    event_source_arn: Option<String>,
    function_name: String,
    enabled: Option<bool>,
    batch_size: Option<i64>,
    filter_criteria: Option<FilterCriteria>,
    maximum_batching_window_in_seconds: Option<i64>,
    parallelization_factor: Option<i64>,
    starting_position: Option<String>,
    starting_position_timestamp: Option<Timestamp>,
    destination_config: Option<DestinationConfig>,
    maximum_record_age_in_seconds: Option<i64>,
    bisect_batch_on_function_error: Option<bool>,
    maximum_retry_attempts: Option<i64>,
    tumbling_window_in_seconds: Option<i64>,
    function_response_types: Option<Vec<String>>,
    scaling_config: Option<ScalingConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateInput {
    #[serde(rename = "UUID")]
    uuid: String,
    function_name: Option<String>,
    enabled: Option<bool>,
    batch_size: Option<i64>,
    filter_criteria: Option<FilterCriteria>,
    maximum_batching_window_in_seconds: Option<i64>,
    destination_config: Option<DestinationConfig>,
    maximum_record_age_in_seconds: Option<i64>,
    bisect_batch_on_function_error: Option<bool>,
    maximum_retry_attempts: Option<i64>,
    parallelization_factor: Option<i64>,
    tumbling_window_in_seconds: Option<i64>,
    function_response_types: Option<Vec<String>>,
    scaling_config: Option<ScalingConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UuidInput {
    #[serde(rename = "UUID")]
    uuid: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    event_source_arn: Option<String>,
    function_name: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOutput {
    event_source_mappings: Vec<Answer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder
        .op("CreateEventSourceMapping", Lambda::create_event_source_mapping)
        .op("GetEventSourceMapping", Lambda::get_event_source_mapping)
        .op("ListEventSourceMappings", Lambda::list_event_source_mappings)
        .op("UpdateEventSourceMapping", Lambda::update_event_source_mapping)
        .op("DeleteEventSourceMapping", Lambda::delete_event_source_mapping)
}

fn mapping_key(uuid: &str) -> Vec<u8> {
    key::encode(&["esm".into(), "m".into(), uuid.into()])
}

fn mappings() -> KeyRange {
    KeyRange::prefix(&key::encode(&["esm".into(), "m".into()]))
}

fn checkpoint_key(uuid: &str) -> Vec<u8> {
    key::encode(&["esm".into(), "cp".into(), uuid.into()])
}

fn mapping_not_found() -> AwsError {
    error::not_found("The resource you requested does not exist.")
}

fn range(value: Option<i64>, name: &str, min: i64, max: i64) -> Result<(), AwsError> {
    match value {
        Some(v) if v < min || v > max => {
            Err(error::invalid_parameter(format!("{name} must be between {min} and {max}, inclusive.")))
        }
        _ => Ok(()),
    }
}

/// The settings both Create and Update take, checked for the mapping's kind of source.
fn validate(m: &Mapping) -> Result<(), AwsError> {
    let sqs = m.is_sqs();
    let max_batch = 10_000;
    range(Some(m.batch_size), "BatchSize", 1, max_batch)?;
    range(m.maximum_batching_window_in_seconds, "MaximumBatchingWindowInSeconds", 0, 300)?;
    if sqs && m.batch_size > 10 && m.maximum_batching_window_in_seconds.unwrap_or(0) < 1 {
        return Err(error::invalid_parameter(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ));
    }
    if let Some(types) = &m.function_response_types
        && types.iter().any(|t| t != "ReportBatchItemFailures")
    {
        return Err(error::invalid_parameter(
            "Unsupported FunctionResponseType. Supported values: ReportBatchItemFailures",
        ));
    }
    if let Some(c) = &m.scaling_config {
        if !sqs {
            return Err(error::invalid_parameter("ScalingConfig is only supported for Amazon SQS event sources."));
        }
        range(c.maximum_concurrency, "MaximumConcurrency", 2, 1000)?;
    }
    if let Some(criteria) = &m.filter_criteria {
        Filters::parse(criteria)?;
    }
    if sqs {
        let stream_only = [
            ("ParallelizationFactor", m.parallelization_factor.is_some()),
            ("MaximumRetryAttempts", m.maximum_retry_attempts.is_some()),
            ("MaximumRecordAgeInSeconds", m.maximum_record_age_in_seconds.is_some()),
            ("BisectBatchOnFunctionError", m.bisect_batch_on_function_error.is_some()),
            ("DestinationConfig", m.destination_config.is_some()),
            ("TumblingWindowInSeconds", m.tumbling_window_in_seconds.is_some()),
        ];
        if let Some((name, _)) = stream_only.iter().find(|(_, set)| *set) {
            return Err(error::invalid_parameter(format!(
                "Unsupported {name} parameter for given event source mapping type."
            )));
        }
        return Ok(());
    }
    range(m.parallelization_factor, "ParallelizationFactor", 1, 10)?;
    range(m.maximum_retry_attempts, "MaximumRetryAttempts", -1, 10_000)?;
    if let Some(age) = m.maximum_record_age_in_seconds
        && age != -1
        && !(60..=604_800).contains(&age)
    {
        return Err(error::invalid_parameter(
            "MaximumRecordAgeInSeconds must be -1, or between 60 and 604800, inclusive.",
        ));
    }
    range(m.tumbling_window_in_seconds, "TumblingWindowInSeconds", 0, 900)?;
    if let Some(d) = &m.destination_config {
        if d.on_success().is_some() {
            return Err(error::invalid_parameter(
                "Unsupported OnSuccess destination for given event source mapping type.",
            ));
        }
        if let Some(arn) = d.on_failure() {
            let service = arn.split(':').nth(2).unwrap_or_default();
            if !matches!(service, "sqs" | "sns") {
                return Err(error::invalid_parameter(format!("The destination ARN {arn} is invalid.")));
            }
        }
    }
    Ok(())
}

impl Lambda {
    fn load_mapping(&self, uuid: &str) -> Result<Option<Mapping>, AwsError> {
        Ok(self.kv.get(KEYSPACE, &mapping_key(uuid))?.map(|v| decode(&v)).transpose()?)
    }

    fn all_mappings(&self) -> Result<Vec<Mapping>, AwsError> {
        let found = self.kv.scan(KEYSPACE, &mappings(), Direction::Forward, usize::MAX)?;
        Ok(found.into_iter().map(|(_, v)| decode(&v)).collect::<Result<_, _>>()?)
    }

    pub(crate) async fn create_event_source_mapping(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateInput,
    ) -> Result<Answer, AwsError> {
        let source = input.event_source_arn.clone().ok_or_else(|| {
            error::invalid_parameter("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
        })?;
        let kind = source_kind(&source).ok_or_else(|| {
            error::invalid_parameter("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
        })?;
        let (base, qualifier) = config::split_qualifier(&input.function_name);
        let target = self.target(&ctx.account, &ctx.region, base, qualifier).await?;
        let function_arn = match qualifier {
            Some(q) => format!("{}:{q}", target.arn),
            None => target.arn.clone(),
        };
        let uuid = uuid::Uuid::new_v4().to_string();
        let mapping = Mapping {
            uuid: uuid.clone(),
            starting_position: input.starting_position.clone(),
            starting_position_timestamp: input.starting_position_timestamp,
            batch_size: input.batch_size.unwrap_or(if kind == Source::Sqs { 10 } else { 100 }),
            maximum_batching_window_in_seconds: Some(input.maximum_batching_window_in_seconds.unwrap_or(0)),
            parallelization_factor: input.parallelization_factor.or((kind == Source::DynamoDb).then_some(1)),
            event_source_arn: source.clone(),
            filter_criteria: input.filter_criteria,
            function_arn: function_arn.clone(),
            last_modified: Timestamp::now(),
            last_processing_result: (kind == Source::DynamoDb).then(|| "No records processed".to_string()),
            state: "Creating".into(),
            state_transition_reason: "USER_INITIATED".into(),
            destination_config: input.destination_config.clone().or((kind == Source::DynamoDb)
                .then(|| DestinationConfig { on_failure: Some(Default::default()), ..Default::default() })),
            maximum_record_age_in_seconds: input
                .maximum_record_age_in_seconds
                .or((kind == Source::DynamoDb).then_some(-1)),
            bisect_batch_on_function_error: input
                .bisect_batch_on_function_error
                .or((kind == Source::DynamoDb).then_some(false)),
            maximum_retry_attempts: input.maximum_retry_attempts.or((kind == Source::DynamoDb).then_some(-1)),
            tumbling_window_in_seconds: input.tumbling_window_in_seconds.or((kind == Source::DynamoDb).then_some(0)),
            function_response_types: Some(input.function_response_types.unwrap_or_default()),
            scaling_config: input.scaling_config,
            event_source_mapping_arn: format!(
                "arn:aws:lambda:{}:{}:event-source-mapping:{uuid}",
                ctx.region, ctx.account
            ),
            enabled: input.enabled.unwrap_or(true),
        };
        // The defaults put in for the answer are not the caller's settings.
        let checked = Mapping { destination_config: input.destination_config, ..mapping.clone() };
        validate(&checked)?;
        let checkpoint = match kind {
            Source::Sqs => {
                if input.starting_position.is_some() {
                    return Err(error::invalid_parameter("StartingPosition is not valid for SQS event sources."));
                }
                None
            }
            Source::DynamoDb => {
                let start = match input.starting_position.as_deref() {
                    Some("TRIM_HORIZON") => StreamStart::TrimHorizon,
                    Some("LATEST") => StreamStart::Latest,
                    Some("AT_TIMESTAMP") => {
                        return Err(error::invalid_parameter(
                            "Unsupported starting position for DynamoDB stream event sources: AT_TIMESTAMP",
                        ));
                    }
                    Some(other) => {
                        return Err(error::invalid_parameter(format!("Unsupported starting position: {other}")));
                    }
                    None => {
                        return Err(error::invalid_parameter(
                            "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.",
                        ));
                    }
                };
                let position = self
                    .streams
                    .stream_position(&source, start)
                    .await
                    .map_err(|_| error::invalid_parameter(format!("Stream not found: {source}")))?;
                Some(position)
            }
        };
        let existing = self.all_mappings()?;
        if kind == Source::Sqs
            && let Some(other) =
                existing.iter().find(|m| m.event_source_arn == source && m.function_arn == function_arn)
        {
            return Err(error::conflict(format!(
                "An event source mapping with SQS arn (\" {source} \") and function (\" {} \") already exists. Please update or delete the existing mapping with UUID {}",
                target.name, other.uuid
            )));
        }
        let stored = mapping.clone();
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                txn.put(KEYSPACE, &mapping_key(&stored.uuid), &encode(&stored))?;
                if let Some(position) = checkpoint {
                    txn.put(KEYSPACE, &checkpoint_key(&stored.uuid), &position.to_be_bytes())?;
                }
                Ok::<_, AwsError>(())
            })
            .await?;
        self.clone().settle_state(uuid);
        Ok(Answer(mapping))
    }

    pub(crate) async fn get_event_source_mapping(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: UuidInput,
    ) -> Result<Answer, AwsError> {
        self.load_mapping(&input.uuid)?.map(Answer).ok_or_else(mapping_not_found)
    }

    pub(crate) async fn list_event_source_mappings(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListInput,
    ) -> Result<ListOutput, AwsError> {
        range(input.max_items, "MaxItems", 1, 10_000)?;
        let function_arn = match &input.function_name {
            Some(name) => {
                let (base, qualifier) = config::split_qualifier(name);
                let target = self.target(&ctx.account, &ctx.region, base, qualifier).await?;
                Some((target.arn, qualifier.map(str::to_string)))
            }
            None => None,
        };
        let prefix = format!("arn:aws:lambda:{}:{}:", ctx.region, ctx.account);
        let mut all: Vec<Mapping> = self
            .all_mappings()?
            .into_iter()
            .filter(|m| m.event_source_mapping_arn.starts_with(&prefix))
            .filter(|m| input.event_source_arn.as_ref().is_none_or(|a| &m.event_source_arn == a))
            .filter(|m| match &function_arn {
                Some((arn, Some(q))) => m.function_arn == format!("{arn}:{q}"),
                Some((arn, None)) => m.function_arn == *arn || m.function_arn.starts_with(&format!("{arn}:")),
                None => true,
            })
            .collect();
        if let Some(marker) = &input.marker {
            let at = all.iter().position(|m| &m.uuid == marker).unwrap_or(all.len());
            all.drain(..at);
        }
        let max = input.max_items.unwrap_or(100) as usize;
        let next_marker = all.get(max).map(|m| m.uuid.clone());
        all.truncate(max);
        Ok(ListOutput { event_source_mappings: all.into_iter().map(Answer).collect(), next_marker })
    }

    pub(crate) async fn update_event_source_mapping(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UpdateInput,
    ) -> Result<Answer, AwsError> {
        let mut m = self.load_mapping(&input.uuid)?.ok_or_else(mapping_not_found)?;
        if m.state == "Deleting" {
            return Err(error::conflict(format!(
                "The resource you requested is currently in use by another operation. (Service: Lambda, Status Code: 409) for UUID {}",
                m.uuid
            )));
        }
        if let Some(name) = &input.function_name {
            let (base, qualifier) = config::split_qualifier(name);
            let target = self.target(&ctx.account, &ctx.region, base, qualifier).await?;
            m.function_arn = match qualifier {
                Some(q) => format!("{}:{q}", target.arn),
                None => target.arn,
            };
        }
        let mut checked = m.clone();
        checked.destination_config = None;
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(v) = input.$field.clone() {
                    m.$field = Some(v.clone());
                    checked.$field = Some(v);
                }
            )*};
        }
        set!(
            maximum_batching_window_in_seconds,
            destination_config,
            maximum_record_age_in_seconds,
            bisect_batch_on_function_error,
            maximum_retry_attempts,
            parallelization_factor,
            tumbling_window_in_seconds,
            function_response_types,
            scaling_config,
            filter_criteria
        );
        if let Some(b) = input.batch_size {
            m.batch_size = b;
            checked.batch_size = b;
        }
        validate(&checked)?;
        m.state = match input.enabled {
            Some(false) if m.enabled => "Disabling",
            Some(true) if !m.enabled => "Enabling",
            _ => "Updating",
        }
        .into();
        if let Some(enabled) = input.enabled {
            m.enabled = enabled;
        }
        m.last_modified = Timestamp::now();
        let stored = m.clone();
        self.kv
            .transact(move |txn: &mut dyn Txn| txn.put(KEYSPACE, &mapping_key(&stored.uuid), &encode(&stored)))
            .await?;
        self.pollers.stop(&m.uuid);
        self.clone().settle_state(m.uuid.clone());
        Ok(Answer(m))
    }

    pub(crate) async fn delete_event_source_mapping(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: UuidInput,
    ) -> Result<Answer, AwsError> {
        let mut m = self.load_mapping(&input.uuid)?.ok_or_else(mapping_not_found)?;
        let uuid = m.uuid.clone();
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                txn.delete(KEYSPACE, &mapping_key(&uuid))?;
                txn.delete(KEYSPACE, &checkpoint_key(&uuid))
            })
            .await?;
        self.pollers.stop(&m.uuid);
        m.state = "Deleting".into();
        Ok(Answer(m))
    }

    /// Brings a mapping from its transitional state (Creating, Enabling, Updating,
    /// Disabling) to Enabled or Disabled, and starts its poller when it is enabled.
    fn settle_state(self: Arc<Self>, uuid: String) {
        tokio::spawn(async move {
            let key = mapping_key(&uuid);
            let settled = self
                .kv
                .transact(move |txn: &mut dyn Txn| {
                    let Some(v) = txn.get(KEYSPACE, &key)? else { return Ok(None) };
                    let mut m: Mapping = decode(&v)?;
                    m.state = if m.enabled { "Enabled" } else { "Disabled" }.into();
                    txn.put(KEYSPACE, &key, &encode(&m))?;
                    Ok::<_, AwsError>(Some(m))
                })
                .await;
            match settled {
                Ok(Some(m)) if m.enabled => self.spawn_poller(m.uuid),
                Ok(_) => {}
                Err(e) => tracing::error!(%uuid, error = %e.message, "cannot update an event source mapping's state"),
            }
        });
    }

    fn spawn_poller(self: &Arc<Self>, uuid: String) {
        let lambda = self.clone();
        let id = uuid.clone();
        let task = tokio::spawn(async move {
            lambda.poll(&id).await;
            lambda.pollers.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        });
        if let Some(old) = self.pollers.0.lock().unwrap_or_else(|e| e.into_inner()).insert(uuid, task) {
            old.abort();
        }
    }

    /// The mapping's poll loop; returns when the mapping is disabled or gone.
    async fn poll(self: &Arc<Self>, uuid: &str) {
        let workers = match self.load_mapping(uuid) {
            Ok(Some(m)) if m.is_sqs() => {
                let limit = m.scaling_config.and_then(|c| c.maximum_concurrency).unwrap_or(SQS_POLLERS as i64);
                limit.clamp(1, SQS_POLLERS as i64) as usize
            }
            _ => 1,
        };
        let mut running = JoinSet::new();
        for _ in 0..workers {
            let (lambda, uuid) = (self.clone(), uuid.to_string());
            running.spawn(async move { lambda.poll_loop(&uuid).await });
        }
        while running.join_next().await.is_some() {}
    }

    /// One poller's loop.
    async fn poll_loop(self: &Arc<Self>, uuid: &str) {
        loop {
            let m = match self.load_mapping(uuid) {
                Ok(Some(m)) if m.enabled => m,
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(%uuid, error = %e.message, "cannot read an event source mapping");
                    tokio::time::sleep(STREAM_POLL).await;
                    continue;
                }
            };
            let filters = m.filter_criteria.as_ref().and_then(|c| Filters::parse(c).ok()).unwrap_or_default();
            let worked =
                if m.is_sqs() { self.poll_sqs(&m, &filters).await } else { self.poll_stream(&m, &filters).await };
            match worked {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(STREAM_POLL).await,
                Err(e) => {
                    tracing::debug!(%uuid, error = %e.message, "event source mapping poll failed");
                    tokio::time::sleep(STREAM_POLL * 4).await;
                }
            }
        }
    }

    /// Invokes the mapping's function with `event`: the version that ran, the response, and
    /// the function's error if it failed.
    async fn invoke_batch(&self, m: &Mapping, event: &Value) -> Result<(String, Bytes, Option<String>), AwsError> {
        let (account, region, name, qualifier) = parse_mapping_function(&m.function_arn)?;
        let invocation = Invocation {
            request_id: uuid::Uuid::new_v4().to_string(),
            payload: Bytes::from(event.to_string()),
            invoked_arn: m.function_arn.clone(),
            ..Default::default()
        };
        let (target, outcome) = self.run(&account, &region, &name, qualifier.as_deref(), invocation).await?;
        Ok((target.version, outcome.payload, outcome.function_error.map(|e| e.as_str().to_string())))
    }

    /// One SQS batch; `Ok(false)` when the queue had nothing.
    async fn poll_sqs(&self, m: &Mapping, filters: &Filters) -> Result<bool, AwsError> {
        let arn = &m.event_source_arn;
        let want = m.batch_size.max(1) as usize;
        let window = Duration::from_secs(m.maximum_batching_window_in_seconds.unwrap_or(0).max(0) as u64);
        let mut batch = self.sqs.receive_messages(arn, want.min(10), None, SQS_WAIT).await?;
        if batch.is_empty() {
            return Ok(false);
        }
        let until = tokio::time::Instant::now() + window;
        while batch.len() < want && tokio::time::Instant::now() < until {
            let left = until - tokio::time::Instant::now();
            let more = self.sqs.receive_messages(arn, (want - batch.len()).min(10), None, left).await?;
            if more.is_empty() {
                break;
            }
            batch.extend(more);
        }
        let region = arn.split(':').nth(3).unwrap_or_default();
        let (records, rejected): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|message| (sqs_record(&message, arn, region), message))
            .partition(|(record, _)| filters.matches(record));
        if !rejected.is_empty() {
            self.sqs.delete_messages(arn, rejected.into_iter().map(|(_, m)| m.receipt_handle).collect()).await?;
        }
        if records.is_empty() {
            return Ok(true);
        }
        let event = json!({"Records": records.iter().map(|(r, _)| r).collect::<Vec<_>>()});
        let (_, response, function_error) = match self.invoke_batch(m, &event).await {
            Ok(outcome) => outcome,
            Err(e) => {
                // Throttled or gone: the messages reappear after their visibility timeout.
                tracing::debug!(uuid = %m.uuid, error = %e.message, "SQS batch not delivered");
                return Ok(true);
            }
        };
        if function_error.is_some() {
            return Ok(true);
        }
        let failed = if m.reports_item_failures() { batch_item_failures(&response) } else { Some(Vec::new()) };
        let Some(failed) = failed else {
            // An unreadable response fails the whole batch.
            return Ok(true);
        };
        let known: Vec<&str> = records.iter().map(|(_, msg)| msg.message_id.as_str()).collect();
        if failed.iter().any(|id| !known.contains(&id.as_str())) {
            return Ok(true);
        }
        let done: Vec<String> = records
            .into_iter()
            .filter(|(_, msg)| !failed.contains(&msg.message_id))
            .map(|(_, msg)| msg.receipt_handle)
            .collect();
        self.sqs.delete_messages(arn, done).await?;
        Ok(true)
    }

    /// One stream batch; `Ok(false)` when the stream had nothing new.
    async fn poll_stream(&self, m: &Mapping, filters: &Filters) -> Result<bool, AwsError> {
        let arn = &m.event_source_arn;
        let after = match self.kv.get(KEYSPACE, &checkpoint_key(&m.uuid))? {
            Some(v) => u64::from_be_bytes(v.as_slice().try_into().unwrap_or_default()),
            None => self.streams.stream_position(arn, StreamStart::TrimHorizon).await?,
        };
        let limit = m.batch_size.max(1) as usize;
        let (after, mut read) = match self.streams.read_records(arn, after, limit).await {
            // Records older than a day are trimmed: what is left is read from its start.
            Err(e) if e.code == "TrimmedDataAccessException" => {
                let horizon = self.streams.stream_position(arn, StreamStart::TrimHorizon).await?;
                (horizon, self.streams.read_records(arn, horizon, limit).await?)
            }
            read => (after, read?),
        };
        if read.records.is_empty() {
            return Ok(false);
        }
        let window = m.maximum_batching_window_in_seconds.unwrap_or(0).max(0) as u64;
        if read.records.len() < limit && window > 0 {
            tokio::time::sleep(Duration::from_secs(window)).await;
            read = self.streams.read_records(arn, after, limit).await?;
        }
        let records: Vec<Value> = read
            .records
            .into_iter()
            .map(|mut r| {
                r["eventSourceARN"] = json!(arn);
                r
            })
            .filter(|r| filters.matches(r))
            .collect();
        let result = match records.is_empty() {
            true => None,
            false => Some(self.deliver_stream_batch(m, &read.shard_id, records).await),
        };
        let position = read.position;
        let uuid = m.uuid.clone();
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                // A mapping deleted meanwhile keeps no checkpoint.
                let key = mapping_key(&uuid);
                let Some(v) = txn.get(KEYSPACE, &key)? else { return Ok(()) };
                txn.put(KEYSPACE, &checkpoint_key(&uuid), &position.to_be_bytes())?;
                let mut m: Mapping = decode(&v)?;
                if let Some(result) = result
                    && m.last_processing_result.as_deref() != Some(result)
                {
                    m.last_processing_result = Some(result.to_string());
                    txn.put(KEYSPACE, &key, &encode(&m))?;
                }
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(true)
    }

    /// Delivers stream records until they succeed or are given up on; answers the mapping's
    /// LastProcessingResult.
    async fn deliver_stream_batch(&self, m: &Mapping, shard_id: &str, records: Vec<Value>) -> &'static str {
        let mut pending = vec![records];
        let mut result = "OK";
        while let Some(batch) = pending.pop() {
            let mut attempts = 0u32;
            loop {
                let outcome = self.invoke_batch(m, &json!({"Records": batch})).await;
                let (version, failed) = match outcome {
                    Ok((_, _, None)) => break,
                    Ok((version, _, Some(e))) => (version, e),
                    Err(e) if e.code == "TooManyRequestsException" => {
                        tokio::time::sleep(crate::async_invoke::throttle_delay()).await;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(uuid = %m.uuid, error = %e.message, "stream batch not delivered");
                        tokio::time::sleep(STREAM_POLL * 4).await;
                        continue;
                    }
                };
                attempts += 1;
                result = "PROBLEM: Function call failed";
                if m.bisect_batch_on_function_error == Some(true) && batch.len() > 1 {
                    let second = batch[batch.len() / 2..].to_vec();
                    let first = batch[..batch.len() / 2].to_vec();
                    // Halves in order: the first half is delivered first.
                    pending.push(second);
                    pending.push(first);
                    break;
                }
                let max_retries = m.maximum_retry_attempts.unwrap_or(-1);
                let max_age = m.maximum_record_age_in_seconds.unwrap_or(-1);
                let oldest =
                    batch.first().and_then(|r| r["dynamodb"]["ApproximateCreationDateTime"].as_f64()).unwrap_or(0.0);
                let condition = if max_retries >= 0 && i64::from(attempts) > max_retries {
                    Some("RetryAttemptsExhausted")
                } else if max_age >= 0 && Timestamp::now().0 - oldest > max_age as f64 {
                    Some("RecordAgeExceeded")
                } else {
                    None
                };
                if let Some(condition) = condition {
                    let given_up = GivenUp { condition, attempts, version: &version, function_error: &failed };
                    self.stream_failure(m, shard_id, &batch, given_up).await;
                    break;
                }
                tokio::time::sleep(STREAM_POLL).await;
            }
        }
        result
    }

    /// Sends the description of a batch given up on to the mapping's OnFailure destination.
    async fn stream_failure(&self, m: &Mapping, shard_id: &str, batch: &[Value], given_up: GivenUp<'_>) {
        let GivenUp { condition, attempts, version, function_error } = given_up;
        let Some(arn) = m.destination_config.as_ref().and_then(|d| d.on_failure()).map(str::to_string) else {
            return;
        };
        let sequence = |r: Option<&Value>| r.map(|r| r["dynamodb"]["SequenceNumber"].clone()).unwrap_or(Value::Null);
        let arrival = |r: Option<&Value>| {
            let at = r.and_then(|r| r["dynamodb"]["ApproximateCreationDateTime"].as_f64()).unwrap_or(0.0);
            json!(Timestamp(at).iso8601())
        };
        let record = json!({
            "requestContext": {
                "requestId": uuid::Uuid::new_v4().to_string(),
                "functionArn": m.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": version, "functionError": function_error},
            "version": "1.0",
            "timestamp": Timestamp::now().iso8601(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": sequence(batch.first()),
                "endSequenceNumber": sequence(batch.last()),
                "approximateArrivalOfFirstRecord": arrival(batch.first()),
                "approximateArrivalOfLastRecord": arrival(batch.last()),
                "batchSize": batch.len(),
                "streamArn": m.event_source_arn,
            },
        });
        let target = if arn.split(':').nth(2) == Some("sns") { "sns" } else { "sqs" };
        let event =
            Event::new(target, "lambda:OnFailure", json!({"arn": arn, "message": record}), self.events.now_ms());
        let queued = self.kv.transact(move |txn: &mut dyn Txn| brume_events::enqueue(txn, &event)).await;
        match queued {
            Ok(()) => self.events.notify(),
            Err(e) => {
                tracing::warn!(uuid = %m.uuid, error = %e, "cannot queue an event source mapping's failure record")
            }
        }
    }
}

/// Why a stream batch was given up on, and its last invocation.
struct GivenUp<'a> {
    condition: &'a str,
    attempts: u32,
    version: &'a str,
    function_error: &'a str,
}

/// The account, region, name and qualifier of a mapping's function ARN.
fn parse_mapping_function(arn: &str) -> Result<(String, String, String, Option<String>), AwsError> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", region, account, "function", name, rest @ ..] if rest.len() <= 1 => {
            Ok((account.to_string(), region.to_string(), name.to_string(), rest.first().map(|q| q.to_string())))
        }
        _ => Err(error::function_not_found(arn)),
    }
}

/// An SQS message as Lambda hands it to a function.
fn sqs_record(m: &ReceivedMessage, arn: &str, region: &str) -> Value {
    let attributes: serde_json::Map<String, Value> = m
        .message_attributes
        .iter()
        .map(|(name, a)| {
            let mut v = json!({"stringListValues": [], "binaryListValues": [], "dataType": a.data_type});
            if let Some(s) = &a.string_value {
                v["stringValue"] = json!(s);
            }
            if let Some(b) = &a.binary_value {
                use base64::Engine as _;
                v["binaryValue"] = json!(base64::engine::general_purpose::STANDARD.encode(&b.0));
            }
            (name.clone(), v)
        })
        .collect();
    json!({
        "messageId": m.message_id,
        "receiptHandle": m.receipt_handle,
        "body": m.body,
        "attributes": m.attributes,
        "messageAttributes": attributes,
        "md5OfBody": m.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    })
}

/// The message ids a ReportBatchItemFailures response names; `None` when the response
/// is not one (which fails the whole batch).
fn batch_item_failures(response: &[u8]) -> Option<Vec<String>> {
    let doc: Value = match serde_json::from_slice(response) {
        Ok(doc) => doc,
        Err(_) => return if response.is_empty() { Some(Vec::new()) } else { None },
    };
    match doc.get("batchItemFailures") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.get("itemIdentifier").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string))
            .collect(),
        Some(_) => None,
    }
}

/// Starts what Lambda runs in the background: the pollers of enabled mappings (and the
/// settling of mappings left in a transitional state), and the Event invocations an
/// earlier process left in flight.
pub fn start(lambda: &Arc<Lambda>) {
    let lambda = lambda.clone();
    tokio::spawn(async move {
        if let Err(e) = lambda.resume_async().await {
            tracing::error!(error = %e.message, "cannot resume Event invocations");
        }
        match lambda.all_mappings() {
            Ok(all) => {
                for m in all {
                    lambda.clone().settle_state(m.uuid);
                }
            }
            Err(e) => tracing::error!(error = %e.message, "cannot read event source mappings"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_item_failures_are_read_as_lambda_reads_them() {
        let cases: [(&[u8], Option<Vec<&str>>); 7] = [
            (b"", Some(vec![])),
            (b"null", Some(vec![])),
            (br#"{"batchItemFailures": []}"#, Some(vec![])),
            (br#"{"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}"#, Some(vec!["a", "b"])),
            (br#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#, None),
            (br#"{"batchItemFailures": [{"other": "a"}]}"#, None),
            (br#"{"batchItemFailures": "a"}"#, None),
        ];
        for (response, expected) in cases {
            let expected = expected.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(batch_item_failures(response), expected, "{}", String::from_utf8_lossy(response));
        }
    }

    #[test]
    fn sources_are_queues_and_table_streams() {
        assert_eq!(source_kind("arn:aws:sqs:us-east-1:000000000000:q"), Some(Source::Sqs));
        assert_eq!(
            source_kind("arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2024-01-01T00:00:00.000"),
            Some(Source::DynamoDb)
        );
        assert_eq!(source_kind("arn:aws:dynamodb:us-east-1:000000000000:table/t"), None);
        assert_eq!(source_kind("arn:aws:kinesis:us-east-1:000000000000:stream/s"), None);
    }

    fn mapping(source: &str) -> Mapping {
        Mapping {
            uuid: "u".into(),
            starting_position: None,
            starting_position_timestamp: None,
            batch_size: 10,
            maximum_batching_window_in_seconds: None,
            parallelization_factor: None,
            event_source_arn: source.into(),
            filter_criteria: None,
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            last_modified: Timestamp(0.0),
            last_processing_result: None,
            state: "Creating".into(),
            state_transition_reason: "USER_INITIATED".into(),
            destination_config: None,
            maximum_record_age_in_seconds: None,
            bisect_batch_on_function_error: None,
            maximum_retry_attempts: None,
            tumbling_window_in_seconds: None,
            function_response_types: None,
            scaling_config: None,
            event_source_mapping_arn: String::new(),
            enabled: true,
        }
    }

    #[test]
    fn validation_follows_the_source() {
        let queue = "arn:aws:sqs:us-east-1:000000000000:q";
        let stream = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x";
        let mut m = mapping(queue);
        assert!(validate(&m).is_ok());
        m.batch_size = 11;
        assert!(validate(&m).unwrap_err().message.starts_with("Maximum batch window"));
        m.maximum_batching_window_in_seconds = Some(1);
        assert!(validate(&m).is_ok());
        m.batch_size = 10_001;
        assert!(validate(&m).is_err());
        let mut m = mapping(queue);
        m.bisect_batch_on_function_error = Some(true);
        assert!(validate(&m).is_err());
        let mut m = mapping(stream);
        m.bisect_batch_on_function_error = Some(true);
        m.maximum_retry_attempts = Some(2);
        assert!(validate(&m).is_ok());
        m.maximum_record_age_in_seconds = Some(30);
        assert!(validate(&m).is_err());
        let mut m = mapping(stream);
        m.scaling_config = Some(ScalingConfig { maximum_concurrency: Some(5) });
        assert!(validate(&m).is_err());
        let mut m = mapping(queue);
        m.function_response_types = Some(vec!["Other".into()]);
        assert!(validate(&m).is_err());
    }
}
