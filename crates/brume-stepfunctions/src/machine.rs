//! State machines: create (with AWS's idempotency rule), describe, update, delete, list,
//! validate a definition, and tags.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::table::{self, StateMachine};
use crate::{StepFunctions, asl, error, now, version};

const ROLE_PREFIX: &str = "arn:aws:iam::";

/// `(account, region, name)` of a state machine ARN.
pub(crate) fn parse_machine_arn(arn: &str) -> Result<(String, String, String), AwsError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2] != "states" {
        return Err(error::invalid_arn_message(format!("Invalid Arn: 'Invalid ARN prefix: {arn}'")));
    }
    if parts[5] != "stateMachine" {
        return Err(error::invalid_arn_message(format!(
            "Invalid Arn: 'Resource type not valid in this context: {}'",
            parts[5]
        )));
    }
    if parts.len() != 7 || parts[6].is_empty() {
        return Err(error::invalid_arn(arn));
    }
    Ok((parts[4].to_string(), parts[3].to_string(), parts[6].to_string()))
}

/// The parsed definition, or AWS's InvalidDefinition for it.
pub(crate) fn check_definition(definition: &str) -> Result<Value, AwsError> {
    let value = asl::parse_definition(definition)
        .map_err(|d| error::invalid_definition(asl::invalid_definition_message(&[d])))?;
    let errors: Vec<asl::Diagnostic> = asl::validate(&value).into_iter().filter(|d| d.severity == "ERROR").collect();
    if !errors.is_empty() {
        return Err(error::invalid_definition(asl::invalid_definition_message(&errors)));
    }
    Ok(value)
}

fn check_role(role: &str) -> Result<(), AwsError> {
    if !role.starts_with(ROLE_PREFIX) || !role[ROLE_PREFIX.len()..].contains(":role/") {
        return Err(error::invalid_arn_message(format!("Invalid Arn: 'Invalid ARN prefix: {role}'")));
    }
    Ok(())
}

fn check_type(kind: Option<&str>) -> Result<String, AwsError> {
    match kind.unwrap_or("STANDARD") {
        k @ ("STANDARD" | "EXPRESS") => Ok(k.to_string()),
        other => Err(error::validation(format!(
            "1 validation error detected: Value '{other}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        ))),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tag {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateStateMachineInput {
    name: String,
    definition: String,
    role_arn: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    logging_configuration: Option<Value>,
    tracing_configuration: Option<Value>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    publish: bool,
    version_description: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateStateMachineOutput {
    state_machine_arn: String,
    creation_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_version_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineArnInput {
    state_machine_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeStateMachineOutput {
    state_machine_arn: String,
    name: String,
    status: &'static str,
    definition: String,
    role_arn: String,
    #[serde(rename = "type")]
    kind: String,
    creation_date: f64,
    logging_configuration: Value,
    tracing_configuration: Value,
    revision_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStateMachineInput {
    state_machine_arn: String,
    definition: Option<String>,
    role_arn: Option<String>,
    logging_configuration: Option<Value>,
    tracing_configuration: Option<Value>,
    #[serde(default)]
    publish: bool,
    version_description: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStateMachineOutput {
    update_date: f64,
    revision_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_version_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineItem {
    state_machine_arn: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    creation_date: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListStateMachinesOutput {
    state_machines: Vec<MachineItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateInput {
    definition: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    severity: Option<String>,
    max_results: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateOutput {
    result: &'static str,
    diagnostics: Vec<asl::Diagnostic>,
    truncated: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResourceInput {
    resource_arn: String,
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagResourceInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTagsInput {
    resource_arn: String,
}

#[derive(Serialize)]
pub struct Empty {}

#[derive(Serialize)]
pub struct ListTagsOutput {
    tags: Vec<Tag>,
}

/// Default and largest page of the List operations.
pub(crate) const DEFAULT_PAGE: usize = 100;
pub(crate) const MAX_PAGE: usize = 1000;

pub(crate) fn page_size(max_results: Option<usize>) -> Result<usize, AwsError> {
    match max_results {
        None | Some(0) => Ok(DEFAULT_PAGE),
        Some(n) if n > MAX_PAGE => Err(error::validation(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {MAX_PAGE}"
        ))),
        Some(n) => Ok(n),
    }
}

/// The page of `items` a List operation answers, and the token of the next.
pub(crate) fn page<T>(
    items: Vec<T>,
    max_results: Option<usize>,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let start = token.map(crate::decode_token).transpose()?.unwrap_or(0);
    let (items, next) = brume_core::page::slice(items, start, page_size(max_results)?);
    Ok((items, next.map(crate::encode_token)))
}

impl StepFunctions {
    pub(crate) async fn machine(&self, arn: &str) -> Result<StateMachine, AwsError> {
        let (account, region, name) = parse_machine_arn(arn)?;
        table::get(&*self.kv, &table::machine_key(&account, &region, &name))?
            .ok_or_else(|| error::state_machine_does_not_exist(arn))
    }

    pub(crate) async fn create_state_machine(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateStateMachineInput,
    ) -> Result<CreateStateMachineOutput, AwsError> {
        crate::check_name(&input.name)?;
        check_definition(&input.definition)?;
        check_role(&input.role_arn)?;
        let kind = check_type(input.kind.as_deref())?;
        let logging = input.logging_configuration.as_ref().map(crate::logging::check).transpose()?;
        version::check_version_description(input.publish, input.version_description.as_deref())?;
        let (publish, version_description) = (input.publish, input.version_description);
        let time = now();
        let machine = StateMachine {
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            name: input.name.clone(),
            definition: input.definition,
            role_arn: input.role_arn,
            kind,
            created: time,
            updated: time,
            revision_id: uuid::Uuid::new_v4().to_string(),
            logging,
            tracing: input.tracing_configuration,
            tags: input.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        };
        let key = table::machine_key(&ctx.account, &ctx.region, &input.name);
        let (created, version) = self
            .kv
            .transact(move |txn| {
                let created = match table::get::<StateMachine>(txn, &key)? {
                    Some(existing) => {
                        // AWS's idempotency check: a different role or tags are ignored (and
                        // not applied), any other difference is a conflict.
                        let same = existing.definition == machine.definition
                            && existing.kind == machine.kind
                            && existing.logging == machine.logging
                            && existing.tracing == machine.tracing;
                        if !same {
                            return Err(error::state_machine_already_exists(&existing.arn()));
                        }
                        existing
                    }
                    None => {
                        table::put(txn, &key, &machine)?;
                        machine
                    }
                };
                let version = publish.then(|| version::publish(txn, &created, version_description)).transpose()?;
                Ok::<_, AwsError>((created, version))
            })
            .await?;
        Ok(CreateStateMachineOutput {
            state_machine_arn: created.arn(),
            creation_date: created.created,
            state_machine_version_arn: version.map(|v| v.arn()),
        })
    }

    pub(crate) async fn describe_state_machine(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: MachineArnInput,
    ) -> Result<DescribeStateMachineOutput, AwsError> {
        let arn = &input.state_machine_arn;
        // A version ARN describes that version: its definition, configuration and description.
        let version = self.version_named(arn)?;
        let m = match &version {
            Some(_) => self.machine_for_execution(arn)?.0,
            None => self.machine(arn).await?,
        };
        Ok(DescribeStateMachineOutput {
            state_machine_arn: version.as_ref().map_or_else(|| m.arn(), |v| v.arn()),
            name: m.name.clone(),
            status: "ACTIVE",
            definition: m.definition.clone(),
            role_arn: m.role_arn.clone(),
            kind: m.kind.clone(),
            creation_date: version.as_ref().map_or(m.created, |v| v.created),
            logging_configuration: logging(&m),
            tracing_configuration: tracing(&m),
            revision_id: m.revision_id,
            description: version.and_then(|v| v.description),
        })
    }

    pub(crate) async fn update_state_machine(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: UpdateStateMachineInput,
    ) -> Result<UpdateStateMachineOutput, AwsError> {
        let (account, region, name) = parse_machine_arn(&input.state_machine_arn)?;
        if input.definition.is_none()
            && input.role_arn.is_none()
            && input.logging_configuration.is_none()
            && input.tracing_configuration.is_none()
        {
            return Err(AwsError::new(
                400,
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
            ));
        }
        if let Some(definition) = &input.definition {
            check_definition(definition)?;
        }
        if let Some(role) = &input.role_arn {
            check_role(role)?;
        }
        let logging = input.logging_configuration.as_ref().map(crate::logging::check).transpose()?;
        version::check_version_description(input.publish, input.version_description.as_deref())?;
        let key = table::machine_key(&account, &region, &name);
        let arn = input.state_machine_arn.clone();
        let (m, version) = self
            .kv
            .transact(move |txn| {
                let mut m: StateMachine =
                    table::get(txn, &key)?.ok_or_else(|| error::state_machine_does_not_exist(&arn))?;
                let before = (m.definition.clone(), m.role_arn.clone(), m.logging.clone(), m.tracing.clone());
                if let Some(d) = input.definition {
                    m.definition = d;
                }
                if let Some(r) = input.role_arn {
                    m.role_arn = r;
                }
                if logging.is_some() {
                    m.logging = logging;
                }
                if input.tracing_configuration.is_some() {
                    m.tracing = input.tracing_configuration;
                }
                m.updated = now();
                // An update that changes nothing keeps the revision, as in AWS.
                if before != (m.definition.clone(), m.role_arn.clone(), m.logging.clone(), m.tracing.clone()) {
                    m.revision_id = uuid::Uuid::new_v4().to_string();
                }
                table::put(txn, &key, &m)?;
                let version =
                    input.publish.then(|| version::publish(txn, &m, input.version_description)).transpose()?;
                Ok::<_, AwsError>((m, version))
            })
            .await?;
        Ok(UpdateStateMachineOutput {
            update_date: m.updated,
            revision_id: m.revision_id,
            state_machine_version_arn: version.map(|v| v.arn()),
        })
    }

    pub(crate) async fn delete_state_machine(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: MachineArnInput,
    ) -> Result<Empty, AwsError> {
        let (account, region, name) = parse_machine_arn(&input.state_machine_arn)?;
        let key = table::machine_key(&account, &region, &name);
        self.kv
            .transact(move |txn| {
                txn.delete(table::KEYSPACE, &key)?;
                version::delete_all(txn, &account, &region, &name)?;
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(Empty {})
    }

    pub(crate) async fn list_state_machines(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListInput,
    ) -> Result<ListStateMachinesOutput, AwsError> {
        let all: Vec<StateMachine> = table::scan(&*self.kv, &table::machines_prefix(&ctx.account, &ctx.region))?;
        let (all, next_token) = page(all, input.max_results, input.next_token.as_deref())?;
        let state_machines = all
            .iter()
            .map(|m| MachineItem {
                state_machine_arn: m.arn(),
                name: m.name.clone(),
                kind: m.kind.clone(),
                creation_date: m.created,
            })
            .collect();
        Ok(ListStateMachinesOutput { state_machines, next_token })
    }

    pub(crate) async fn validate_state_machine_definition(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: ValidateInput,
    ) -> Result<ValidateOutput, AwsError> {
        check_type(input.kind.as_deref())?;
        let mut diagnostics = match asl::parse_definition(&input.definition) {
            Ok(value) => asl::validate(&value),
            Err(d) => vec![d],
        };
        if input.severity.as_deref() == Some("ERROR") {
            diagnostics.retain(|d| d.severity == "ERROR");
        }
        let result = if diagnostics.iter().any(|d| d.severity == "ERROR") { "FAIL" } else { "OK" };
        let max = input.max_results.filter(|n| *n > 0).unwrap_or(100);
        let truncated = diagnostics.len() > max;
        diagnostics.truncate(max);
        Ok(ValidateOutput { result, diagnostics, truncated })
    }

    async fn update_tags(
        &self,
        arn: &str,
        f: impl FnOnce(&mut BTreeMap<String, String>) + Send + 'static,
    ) -> Result<(), AwsError> {
        if crate::activity::is_activity(arn) {
            return self.update_activity_tags(arn, f).await;
        }
        let (account, region, name) = parse_machine_arn(arn).map_err(|_| error::resource_not_found(arn))?;
        let key = table::machine_key(&account, &region, &name);
        let arn = arn.to_string();
        self.kv
            .transact(move |txn| {
                let mut m: StateMachine = table::get(txn, &key)?.ok_or_else(|| error::resource_not_found(&arn))?;
                f(&mut m.tags);
                table::put(txn, &key, &m)?;
                Ok::<_, AwsError>(())
            })
            .await
    }

    pub(crate) async fn tag_resource(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: TagResourceInput,
    ) -> Result<Empty, AwsError> {
        self.update_tags(&input.resource_arn, move |tags| {
            tags.extend(input.tags.into_iter().map(|t| (t.key, t.value)));
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn untag_resource(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: UntagResourceInput,
    ) -> Result<Empty, AwsError> {
        self.update_tags(&input.resource_arn, move |tags| {
            for k in &input.tag_keys {
                tags.remove(k);
            }
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn list_tags_for_resource(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: ListTagsInput,
    ) -> Result<ListTagsOutput, AwsError> {
        let arn = &input.resource_arn;
        let tags = if crate::activity::is_activity(arn) {
            self.activity_tags(arn)?
        } else {
            let (account, region, name) = parse_machine_arn(arn).map_err(|_| error::resource_not_found(arn))?;
            let m: StateMachine = table::get(&*self.kv, &table::machine_key(&account, &region, &name))?
                .ok_or_else(|| error::resource_not_found(arn))?;
            m.tags
        };
        Ok(ListTagsOutput { tags: tags.into_iter().map(|(key, value)| Tag { key, value }).collect() })
    }
}

pub(crate) fn logging(m: &StateMachine) -> Value {
    m.logging.clone().unwrap_or_else(|| serde_json::json!({ "level": "OFF", "includeExecutionData": false }))
}

pub(crate) fn tracing(m: &StateMachine) -> Value {
    m.tracing.clone().unwrap_or_else(|| serde_json::json!({ "enabled": false }))
}
