//! Versions and aliases of state machines, as AWS's "Versions and aliases" guide describes
//! them.
//!
//! A version (`…:stateMachine:<name>:<n>`) is an immutable snapshot of a machine's
//! definition and configuration. Numbers start at 1 and are never given twice: the last
//! one given is kept apart from the versions, so deleting the newest does not free its
//! number. An alias (`…:stateMachine:<name>:<alias>`) routes executions to one or two
//! versions of its machine by weight. An execution started through either runs the
//! version's definition, and its [`ExecutionTarget`] record says which version and alias
//! it came through.

use std::collections::HashMap;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_storage::{Direction, KeyRange, Txn};
use serde::{Deserialize, Serialize};

use crate::machine::{Empty, page, parse_machine_arn};
use crate::table::{self, Alias, ExecutionTarget, Route, StateMachine, Version};
use crate::{StepFunctions, error, now};

/// AWS's quotas: versions and aliases per state machine.
const MAX_VERSIONS: usize = 1000;
const MAX_ALIASES: usize = 100;

/// What a qualified state machine ARN names besides the machine.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Qualifier {
    None,
    Version(u64),
    Alias(String),
}

/// A state machine ARN taken apart: `(account, region, machine)` and its qualifier.
#[derive(Debug)]
pub(crate) struct MachineRef {
    pub account: String,
    pub region: String,
    pub name: String,
    pub qualifier: Qualifier,
}

impl MachineRef {
    pub fn machine_arn(&self) -> String {
        format!("arn:aws:states:{}:{}:stateMachine:{}", self.region, self.account, self.name)
    }
}

/// Takes apart a state machine ARN, unqualified, or qualified by a version number or an
/// alias name.
pub(crate) fn parse_qualified_arn(arn: &str) -> Result<MachineRef, AwsError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 8 {
        let (account, region, name) = parse_machine_arn(arn)?;
        return Ok(MachineRef { account, region, name, qualifier: Qualifier::None });
    }
    let (account, region, name) = parse_machine_arn(&parts[..7].join(":"))?;
    let qualifier = match parts[7] {
        "" => return Err(error::invalid_arn(arn)),
        q if q.bytes().all(|b| b.is_ascii_digit()) => {
            Qualifier::Version(q.parse().map_err(|_| error::invalid_arn(arn))?)
        }
        q => Qualifier::Alias(q.to_string()),
    };
    Ok(MachineRef { account, region, name, qualifier })
}

fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "ConflictException", message)
}

fn alias_not_found() -> AwsError {
    AwsError::new(400, "ResourceNotFound", "Request references a resource that does not exist.")
}

fn quota_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ServiceQuotaExceededException", message)
}

fn arn_list(routing: &[Route]) -> String {
    let arns: Vec<&str> = routing.iter().map(|r| r.state_machine_version_arn.as_str()).collect();
    format!("[{}]", arns.join(", "))
}

/// An alias name: 1 to 80 letters, digits, `_`, `-` and `.`, not all digits (so that it
/// cannot be read as a version number).
fn check_alias_name(name: &str) -> Result<(), AwsError> {
    if name.is_empty() {
        return Err(error::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )));
    }
    if name.chars().count() > 80 {
        return Err(error::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
    if !name.chars().all(allowed) || name.chars().all(|c| c.is_ascii_digit()) {
        return Err(error::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$"
        )));
    }
    Ok(())
}

fn check_description(description: Option<&str>, member: &str) -> Result<(), AwsError> {
    if let Some(d) = description
        && d.chars().count() > 256
    {
        return Err(error::validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to 256"
        )));
    }
    Ok(())
}

/// The checks of a routing configuration that need no stored record, in AWS's order; then
/// the machine its versions belong to.
fn check_routing(routing: &[Route]) -> Result<MachineRef, AwsError> {
    if routing.is_empty() || routing.len() > 2 {
        let items: Vec<String> = routing
            .iter()
            .map(|r| {
                format!(
                    "RoutingConfigurationListItem(stateMachineVersionArn={}, weight={})",
                    r.state_machine_version_arn, r.weight
                )
            })
            .collect();
        let constraint = if routing.is_empty() { "greater than or equal to 1" } else { "less than or equal to 2" };
        return Err(error::validation(format!(
            "1 validation error detected: Value '[{}]' at 'routingConfiguration' failed to satisfy constraint: Member must have length {constraint}",
            items.join(", ")
        )));
    }
    if routing.len() == 2 && routing[0].state_machine_version_arn == routing[1].state_machine_version_arn {
        return Err(error::validation(format!(
            "Routing configuration must contain distinct state machine version ARNs. Received: {}",
            arn_list(routing)
        )));
    }
    if let Some((i, r)) = routing.iter().enumerate().find(|(_, r)| r.weight > 100) {
        return Err(error::validation(format!(
            "1 validation error detected: Value '{}' at 'routingConfiguration.{}.member.weight' failed to satisfy constraint: Member must have value less than or equal to 100",
            r.weight,
            i + 1
        )));
    }
    let weights: Vec<u32> = routing.iter().map(|r| r.weight).collect();
    if weights.iter().sum::<u32>() != 100 {
        let listed: Vec<String> = weights.iter().map(u32::to_string).collect();
        return Err(error::validation(format!(
            "Sum of routing configuration weights must equal 100. Received: [{}]",
            listed.join(", ")
        )));
    }
    let not_versions = || {
        error::validation(format!(
            "Routing configuration must contain state machine version ARNs. Received: {}",
            arn_list(routing)
        ))
    };
    let mut machine: Option<MachineRef> = None;
    for r in routing {
        let parsed = parse_qualified_arn(&r.state_machine_version_arn).map_err(|_| not_versions())?;
        if !matches!(parsed.qualifier, Qualifier::Version(_)) {
            return Err(not_versions());
        }
        if let Some(first) = &machine
            && first.machine_arn() != parsed.machine_arn()
        {
            return Err(error::validation(format!(
                "Routing configuration must contain state machine version ARNs of the same state machine. Received: {}",
                arn_list(routing)
            )));
        }
        machine.get_or_insert(parsed);
    }
    machine.ok_or_else(not_versions)
}

/// That each version of `routing` exists.
fn check_versions_exist(txn: &dyn Txn, routing: &[Route]) -> Result<(), AwsError> {
    for r in routing {
        let parsed = parse_qualified_arn(&r.state_machine_version_arn)?;
        let Qualifier::Version(n) = parsed.qualifier else { continue };
        let key = table::version_key(&parsed.account, &parsed.region, &parsed.name, n);
        if table::get::<Version>(txn, &key)?.is_none() {
            return Err(error::validation(format!(
                "Routing configuration must contain state machine version ARNs. Received: {}",
                arn_list(routing)
            )));
        }
    }
    Ok(())
}

/// Publishes the machine's current revision as a new version, unless a version of that
/// revision exists or the latest version has the same definition and role: AWS answers
/// that version instead.
pub(crate) fn publish(txn: &mut dyn Txn, m: &StateMachine, description: Option<String>) -> Result<Version, AwsError> {
    let versions: Vec<Version> = table::scan(txn, &table::versions_prefix(&m.account, &m.region, &m.name))?;
    if let Some(same) = versions.iter().rev().find(|v| v.revision_id == m.revision_id) {
        return Ok(same.clone());
    }
    if let Some(latest) = versions.last()
        && latest.definition == m.definition
        && latest.role_arn == m.role_arn
    {
        return Ok(latest.clone());
    }
    if versions.len() >= MAX_VERSIONS {
        return Err(quota_exceeded(format!(
            "Maximum number of versions ({MAX_VERSIONS}) reached for state machine '{}'",
            m.arn()
        )));
    }
    let counter = table::version_counter_key(&m.account, &m.region, &m.name);
    let number = table::get::<u64>(txn, &counter)?.unwrap_or(0) + 1;
    let version = Version {
        account: m.account.clone(),
        region: m.region.clone(),
        machine: m.name.clone(),
        number,
        definition: m.definition.clone(),
        role_arn: m.role_arn.clone(),
        kind: m.kind.clone(),
        logging: m.logging.clone(),
        tracing: m.tracing.clone(),
        revision_id: m.revision_id.clone(),
        description,
        created: now(),
    };
    table::put(txn, &counter, &number)?;
    table::put(txn, &table::version_key(&m.account, &m.region, &m.name, number), &version)?;
    Ok(version)
}

/// `versionDescription` without `publish`, refused as AWS does.
pub(crate) fn check_version_description(publish: bool, description: Option<&str>) -> Result<(), AwsError> {
    if !publish && description.is_some() {
        return Err(error::validation("Version description can only be set when publish is true"));
    }
    check_description(description, "versionDescription")
}

/// Forgets the versions and aliases of a deleted machine.
pub(crate) fn delete_all(txn: &mut dyn Txn, account: &str, region: &str, machine: &str) -> Result<(), AwsError> {
    for prefix in [table::versions_prefix(account, region, machine), table::aliases_prefix(account, region, machine)] {
        let keys = txn.scan(table::KEYSPACE, &KeyRange::prefix(&prefix), Direction::Forward, usize::MAX)?;
        for (key, _) in keys {
            txn.delete(table::KEYSPACE, &key)?;
        }
    }
    txn.delete(table::KEYSPACE, &table::version_counter_key(account, region, machine))?;
    Ok(())
}

/// The version an execution through `alias` runs, drawn by the routing weights.
fn draw(alias: &Alias) -> &str {
    let roll = rand::random::<u32>() % 100;
    let mut bound = 0;
    for r in &alias.routing {
        bound += r.weight;
        if roll < bound {
            return &r.state_machine_version_arn;
        }
    }
    &alias.routing[0].state_machine_version_arn
}

/// Which executions ListExecutions answers for a version or an alias ARN.
pub(crate) enum ExecutionFilter {
    Version(String),
    Alias(String),
}

impl ExecutionFilter {
    pub fn keeps(&self, target: Option<&ExecutionTarget>) -> bool {
        match self {
            ExecutionFilter::Version(arn) => target.is_some_and(|t| t.version_arn == *arn),
            ExecutionFilter::Alias(arn) => target.is_some_and(|t| t.alias_arn.as_deref() == Some(arn)),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishInput {
    state_machine_arn: String,
    revision_id: Option<String>,
    description: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishOutput {
    creation_date: f64,
    state_machine_version_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListByMachineInput {
    state_machine_arn: String,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionItem {
    state_machine_version_arn: String,
    creation_date: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListVersionsOutput {
    state_machine_versions: Vec<VersionItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteVersionInput {
    state_machine_version_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAliasInput {
    name: String,
    description: Option<String>,
    routing_configuration: Vec<Route>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAliasOutput {
    state_machine_alias_arn: String,
    creation_date: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AliasArnInput {
    state_machine_alias_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeAliasOutput {
    state_machine_alias_arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    routing_configuration: Vec<Route>,
    creation_date: f64,
    update_date: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAliasInput {
    state_machine_alias_arn: String,
    description: Option<String>,
    routing_configuration: Option<Vec<Route>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAliasOutput {
    update_date: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AliasItem {
    state_machine_alias_arn: String,
    creation_date: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAliasesOutput {
    state_machine_aliases: Vec<AliasItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn alias_ref(arn: &str) -> Result<(MachineRef, String), AwsError> {
    let parsed = parse_qualified_arn(arn)?;
    match parsed.qualifier.clone() {
        Qualifier::Alias(name) => Ok((parsed, name)),
        _ => Err(error::invalid_arn_message(format!("Invalid Arn: '{arn}'"))),
    }
}

impl StepFunctions {
    /// The version `arn` names: `None` for an unqualified ARN, StateMachineDoesNotExist
    /// for a version that does not exist or an alias ARN.
    pub(crate) fn version_named(&self, arn: &str) -> Result<Option<Version>, AwsError> {
        let parsed = parse_qualified_arn(arn)?;
        match parsed.qualifier {
            Qualifier::None => Ok(None),
            Qualifier::Version(n) => {
                table::get(&*self.kv, &table::version_key(&parsed.account, &parsed.region, &parsed.name, n))?
                    .map(Some)
                    .ok_or_else(|| error::state_machine_does_not_exist(arn))
            }
            Qualifier::Alias(_) => Err(error::state_machine_does_not_exist(arn)),
        }
    }

    /// The machine an execution started with `arn` runs (through a version or an alias,
    /// with that version's definition and configuration), and the version and alias it
    /// came through.
    pub(crate) fn machine_for_execution(&self, arn: &str) -> Result<(StateMachine, Option<ExecutionTarget>), AwsError> {
        let parsed = parse_qualified_arn(arn)?;
        let machine_key = table::machine_key(&parsed.account, &parsed.region, &parsed.name);
        let mut m: StateMachine =
            table::get(&*self.kv, &machine_key)?.ok_or_else(|| error::state_machine_does_not_exist(arn))?;
        let (version_arn, alias_arn) = match &parsed.qualifier {
            Qualifier::None => return Ok((m, None)),
            Qualifier::Version(_) => (arn.to_string(), None),
            Qualifier::Alias(name) => {
                let key = table::alias_key(&parsed.account, &parsed.region, &parsed.name, name);
                let alias: Alias =
                    table::get(&*self.kv, &key)?.ok_or_else(|| error::state_machine_does_not_exist(arn))?;
                (draw(&alias).to_string(), Some(alias.arn()))
            }
        };
        let v = self.version_named(&version_arn)?.ok_or_else(|| error::state_machine_does_not_exist(arn))?;
        m.definition = v.definition;
        m.role_arn = v.role_arn;
        m.logging = v.logging;
        m.tracing = v.tracing;
        m.revision_id = v.revision_id;
        m.updated = v.created;
        Ok((m, Some(ExecutionTarget { execution: String::new(), version_arn, alias_arn })))
    }

    /// The machine ListExecutions lists for `arn`, and which of its executions when `arn`
    /// names a version or an alias.
    pub(crate) fn machine_for_listing(&self, arn: &str) -> Result<(StateMachine, Option<ExecutionFilter>), AwsError> {
        let parsed = parse_qualified_arn(arn)?;
        let key = table::machine_key(&parsed.account, &parsed.region, &parsed.name);
        let m: StateMachine = table::get(&*self.kv, &key)?.ok_or_else(|| error::state_machine_does_not_exist(arn))?;
        let filter = match &parsed.qualifier {
            Qualifier::None => None,
            Qualifier::Version(_) => {
                self.version_named(arn)?;
                Some(ExecutionFilter::Version(arn.to_string()))
            }
            Qualifier::Alias(name) => {
                let key = table::alias_key(&parsed.account, &parsed.region, &parsed.name, name);
                table::get::<Alias>(&*self.kv, &key)?.ok_or_else(|| error::state_machine_does_not_exist(arn))?;
                Some(ExecutionFilter::Alias(arn.to_string()))
            }
        };
        Ok((m, filter))
    }

    /// The version and alias the execution `name` of `machine` was started through.
    pub(crate) fn execution_target(
        &self,
        account: &str,
        region: &str,
        machine: &str,
        name: &str,
    ) -> Result<Option<ExecutionTarget>, AwsError> {
        Ok(table::get(&*self.kv, &table::target_key(account, region, machine, name))?)
    }

    /// The targets of the executions of `machine` started through a version or an alias,
    /// by execution name.
    pub(crate) fn execution_targets(
        &self,
        account: &str,
        region: &str,
        machine: &str,
    ) -> Result<HashMap<String, ExecutionTarget>, AwsError> {
        let targets: Vec<ExecutionTarget> = table::scan(&*self.kv, &table::targets_prefix(account, region, machine))?;
        Ok(targets.into_iter().map(|t| (t.execution.clone(), t)).collect())
    }

    pub(crate) async fn publish_state_machine_version(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: PublishInput,
    ) -> Result<PublishOutput, AwsError> {
        let parsed = parse_qualified_arn(&input.state_machine_arn)?;
        if parsed.qualifier != Qualifier::None {
            return Err(error::state_machine_does_not_exist(&input.state_machine_arn));
        }
        check_description(input.description.as_deref(), "description")?;
        let key = table::machine_key(&parsed.account, &parsed.region, &parsed.name);
        let arn = input.state_machine_arn;
        let version = self
            .kv
            .transact(move |txn| {
                let m: StateMachine =
                    table::get(txn, &key)?.ok_or_else(|| error::state_machine_does_not_exist(&arn))?;
                // `INITIAL` names the revision of a machine never updated since its creation.
                if let Some(expected) = &input.revision_id
                    && *expected != m.revision_id
                    && !(expected == "INITIAL" && m.updated == m.created)
                {
                    return Err(conflict(format!(
                        "Failed to publish the State Machine version for revision {expected}. The current State Machine revision is {}.",
                        m.revision_id
                    )));
                }
                publish(txn, &m, input.description)
            })
            .await?;
        Ok(PublishOutput { creation_date: version.created, state_machine_version_arn: version.arn() })
    }

    pub(crate) async fn list_state_machine_versions(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: ListByMachineInput,
    ) -> Result<ListVersionsOutput, AwsError> {
        let arn = &input.state_machine_arn;
        let parsed = parse_qualified_arn(arn)?;
        let key = table::machine_key(&parsed.account, &parsed.region, &parsed.name);
        if parsed.qualifier != Qualifier::None || table::get::<StateMachine>(&*self.kv, &key)?.is_none() {
            return Err(error::invalid_arn_message(format!("Invalid Arn: '{arn}'")));
        }
        let mut versions: Vec<Version> =
            table::scan(&*self.kv, &table::versions_prefix(&parsed.account, &parsed.region, &parsed.name))?;
        versions.reverse();
        let items = versions
            .iter()
            .map(|v| VersionItem { state_machine_version_arn: v.arn(), creation_date: v.created })
            .collect();
        let (state_machine_versions, next_token) = page(items, input.max_results, input.next_token.as_deref())?;
        Ok(ListVersionsOutput { state_machine_versions, next_token })
    }

    pub(crate) async fn delete_state_machine_version(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: DeleteVersionInput,
    ) -> Result<Empty, AwsError> {
        let arn = input.state_machine_version_arn;
        let parsed = parse_qualified_arn(&arn)?;
        let Qualifier::Version(number) = parsed.qualifier else {
            return Err(error::invalid_arn_message(format!("Invalid Arn: '{arn}'")));
        };
        self.kv
            .transact(move |txn| {
                let key = table::version_key(&parsed.account, &parsed.region, &parsed.name, number);
                if table::get::<Version>(txn, &key)?.is_none() {
                    return Ok(());
                }
                let aliases: Vec<Alias> =
                    table::scan(txn, &table::aliases_prefix(&parsed.account, &parsed.region, &parsed.name))?;
                let referencing: Vec<String> = aliases
                    .into_iter()
                    .filter(|a| a.routing.iter().any(|r| r.state_machine_version_arn == arn))
                    .map(|a| a.name)
                    .collect();
                if !referencing.is_empty() {
                    return Err(conflict(format!(
                        "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                        referencing.join(", ")
                    )));
                }
                txn.delete(table::KEYSPACE, &key)?;
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(Empty {})
    }

    pub(crate) async fn create_state_machine_alias(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: CreateAliasInput,
    ) -> Result<CreateAliasOutput, AwsError> {
        check_alias_name(&input.name)?;
        check_description(input.description.as_deref(), "description")?;
        let machine = check_routing(&input.routing_configuration)?;
        let time = now();
        let alias = Alias {
            account: machine.account.clone(),
            region: machine.region.clone(),
            machine: machine.name.clone(),
            name: input.name,
            description: input.description,
            routing: input.routing_configuration,
            created: time,
            updated: time,
        };
        let created = self
            .kv
            .transact(move |txn| {
                check_versions_exist(txn, &alias.routing)?;
                let key = table::alias_key(&alias.account, &alias.region, &alias.machine, &alias.name);
                if let Some(existing) = table::get::<Alias>(txn, &key)? {
                    if existing.routing == alias.routing && existing.description == alias.description {
                        return Ok(existing);
                    }
                    return Err(conflict(
                        "Failed to create alias because an alias with the same name and a different routing configuration already exists.",
                    ));
                }
                let prefix = table::aliases_prefix(&alias.account, &alias.region, &alias.machine);
                if table::scan::<Alias>(txn, &prefix)?.len() >= MAX_ALIASES {
                    return Err(quota_exceeded(format!(
                        "Maximum number of aliases ({MAX_ALIASES}) reached for state machine '{}'",
                        machine.machine_arn()
                    )));
                }
                table::put(txn, &key, &alias)?;
                Ok::<_, AwsError>(alias)
            })
            .await?;
        Ok(CreateAliasOutput { state_machine_alias_arn: created.arn(), creation_date: created.created })
    }

    pub(crate) async fn describe_state_machine_alias(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: AliasArnInput,
    ) -> Result<DescribeAliasOutput, AwsError> {
        let (parsed, name) = alias_ref(&input.state_machine_alias_arn)?;
        let key = table::alias_key(&parsed.account, &parsed.region, &parsed.name, &name);
        let a: Alias = table::get(&*self.kv, &key)?.ok_or_else(alias_not_found)?;
        Ok(DescribeAliasOutput {
            state_machine_alias_arn: a.arn(),
            name: a.name,
            description: a.description,
            routing_configuration: a.routing,
            creation_date: a.created,
            update_date: a.updated,
        })
    }

    pub(crate) async fn update_state_machine_alias(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: UpdateAliasInput,
    ) -> Result<UpdateAliasOutput, AwsError> {
        let (parsed, name) = alias_ref(&input.state_machine_alias_arn)?;
        if input.description.is_none() && input.routing_configuration.is_none() {
            return Err(AwsError::new(
                400,
                "MissingRequiredParameter",
                "Either the description or the RoutingConfiguration must be specified",
            ));
        }
        check_description(input.description.as_deref(), "description")?;
        if let Some(routing) = &input.routing_configuration {
            let machine = check_routing(routing)?;
            if machine.machine_arn() != parsed.machine_arn() {
                return Err(error::validation(format!(
                    "Routing configuration must contain state machine version ARNs of the alias's state machine. Received: {}",
                    arn_list(routing)
                )));
            }
        }
        let key = table::alias_key(&parsed.account, &parsed.region, &parsed.name, &name);
        let updated = self
            .kv
            .transact(move |txn| {
                let mut a: Alias = table::get(txn, &key)?.ok_or_else(alias_not_found)?;
                if let Some(routing) = input.routing_configuration {
                    check_versions_exist(txn, &routing)?;
                    a.routing = routing;
                }
                if input.description.is_some() {
                    a.description = input.description;
                }
                a.updated = now();
                table::put(txn, &key, &a)?;
                Ok::<_, AwsError>(a.updated)
            })
            .await?;
        Ok(UpdateAliasOutput { update_date: updated })
    }

    pub(crate) async fn delete_state_machine_alias(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: AliasArnInput,
    ) -> Result<Empty, AwsError> {
        let (parsed, name) = alias_ref(&input.state_machine_alias_arn)?;
        let key = table::alias_key(&parsed.account, &parsed.region, &parsed.name, &name);
        self.kv
            .transact(move |txn| {
                txn.delete(table::KEYSPACE, &key)?;
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(Empty {})
    }

    pub(crate) async fn list_state_machine_aliases(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: ListByMachineInput,
    ) -> Result<ListAliasesOutput, AwsError> {
        let arn = &input.state_machine_arn;
        let parsed = parse_qualified_arn(arn)?;
        let version = match parsed.qualifier {
            Qualifier::None => None,
            Qualifier::Version(_) => Some(arn.clone()),
            Qualifier::Alias(_) => return Err(error::invalid_arn_message(format!("Invalid Arn: '{arn}'"))),
        };
        let key = table::machine_key(&parsed.account, &parsed.region, &parsed.name);
        if table::get::<StateMachine>(&*self.kv, &key)?.is_none() {
            return Err(error::state_machine_does_not_exist(arn));
        }
        if version.is_some() {
            self.version_named(arn)?;
        }
        let mut aliases: Vec<Alias> =
            table::scan(&*self.kv, &table::aliases_prefix(&parsed.account, &parsed.region, &parsed.name))?;
        if let Some(version) = &version {
            aliases.retain(|a| a.routing.iter().any(|r| r.state_machine_version_arn == *version));
        }
        aliases.sort_by(|a, b| a.created.total_cmp(&b.created).then_with(|| a.name.cmp(&b.name)));
        let items =
            aliases.iter().map(|a| AliasItem { state_machine_alias_arn: a.arn(), creation_date: a.created }).collect();
        let (state_machine_aliases, next_token) = page(items, input.max_results, input.next_token.as_deref())?;
        Ok(ListAliasesOutput { state_machine_aliases, next_token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINE: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:m";

    fn route(arn: &str, weight: u32) -> Route {
        Route { state_machine_version_arn: arn.to_string(), weight }
    }

    #[test]
    fn qualified_arns_name_a_version_or_an_alias() {
        assert_eq!(parse_qualified_arn(MACHINE).unwrap().qualifier, Qualifier::None);
        assert_eq!(parse_qualified_arn(&format!("{MACHINE}:12")).unwrap().qualifier, Qualifier::Version(12));
        let alias = parse_qualified_arn(&format!("{MACHINE}:PROD")).unwrap();
        assert_eq!(alias.machine_arn(), MACHINE);
        assert_eq!(alias.qualifier, Qualifier::Alias("PROD".into()));
        assert_eq!(parse_qualified_arn(&format!("{MACHINE}:")).unwrap_err().code, "InvalidArn");
    }

    #[test]
    fn alias_names_need_a_character_other_than_digits() {
        assert!(check_alias_name("v1.prod-2_x").is_ok());
        assert!(check_alias_name("123").is_err());
        assert!(check_alias_name("a b").is_err());
        assert!(check_alias_name(&"a".repeat(81)).is_err());
    }

    #[test]
    fn routing_names_versions_of_one_machine_weighing_100() {
        let one = format!("{MACHINE}:1");
        assert_eq!(check_routing(&[route(&one, 100)]).unwrap().machine_arn(), MACHINE);
        assert!(check_routing(&[route(&one, 60), route(&format!("{MACHINE}:2"), 40)]).is_ok());
        assert!(check_routing(&[route(&one, 60)]).is_err());
        assert!(check_routing(&[route(MACHINE, 100)]).is_err());
        let other = "arn:aws:states:us-east-1:000000000000:stateMachine:other:1";
        assert!(check_routing(&[route(&one, 50), route(other, 50)]).is_err());
    }

    #[test]
    fn a_draw_follows_the_weights() {
        let alias = Alias {
            account: String::new(),
            region: String::new(),
            machine: String::new(),
            name: String::new(),
            description: None,
            routing: vec![route("a", 0), route("b", 100)],
            created: 0.0,
            updated: 0.0,
        };
        assert!((0..50).all(|_| draw(&alias) == "b"));
    }
}
