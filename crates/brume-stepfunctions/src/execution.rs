//! Executions: start (with AWS's idempotency rule), start synchronously (EXPRESS), describe,
//! list, stop, and their history.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{self, End};
use crate::machine::{page, parse_machine_arn};
use crate::table::{self, Execution, Progress, StateMachine};
use crate::{StepFunctions, error, now};

/// How long a closed execution keeps its name from being used again.
const NAME_REUSE_SECONDS: f64 = 90.0 * 24.0 * 3600.0;

/// The largest execution input, in bytes.
const MAX_INPUT: usize = 256 * 1024;

/// `(account, region, machine, name)` of an execution ARN.
fn parse_execution_arn(arn: &str) -> Result<(String, String, String, String), AwsError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2] != "states" {
        return Err(error::invalid_arn_message(format!("Invalid Arn: 'Invalid ARN prefix: {arn}'")));
    }
    // AWS keeps no record of EXPRESS executions: their history is only in their logs.
    if parts[5] == "express" && parts.len() == 9 && parts[6..].iter().all(|p| !p.is_empty()) {
        return Err(error::execution_does_not_exist(arn));
    }
    if parts[5] != "execution" {
        return Err(error::invalid_arn_message(format!(
            "Invalid Arn: 'Resource type not valid in this context: {}'",
            parts[5]
        )));
    }
    if parts.len() != 8 || parts[6].is_empty() || parts[7].is_empty() {
        return Err(error::invalid_arn(arn));
    }
    Ok((parts[4].to_string(), parts[3].to_string(), parts[6].to_string(), parts[7].to_string()))
}

pub(crate) fn check_input(input: Option<&str>) -> Result<Value, AwsError> {
    let text = input.unwrap_or("{}");
    if text.is_empty() {
        return Err(error::invalid_execution_input(
            "Invalid State Machine Execution Input: 'Invalid execution input.'",
        ));
    }
    if text.len() > MAX_INPUT {
        return Err(error::validation(format!(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to {MAX_INPUT}"
        )));
    }
    serde_json::from_str(text).map_err(|e| {
        error::invalid_execution_input(format!("Invalid State Machine Execution Input: 'Unrecognized token: {e}'"))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartExecutionInput {
    state_machine_arn: String,
    name: Option<String>,
    input: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartExecutionOutput {
    execution_arn: String,
    start_date: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartSyncExecutionOutput {
    execution_arn: String,
    state_machine_arn: String,
    name: String,
    start_date: f64,
    stop_date: f64,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
    input: String,
    input_details: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_details: Option<Value>,
    billing_details: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionArnInput {
    execution_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeExecutionOutput {
    execution_arn: String,
    state_machine_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_version_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_alias_arn: Option<String>,
    name: String,
    status: String,
    start_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_date: Option<f64>,
    input: String,
    input_details: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_details: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
    redrive_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    redrive_date: Option<f64>,
    redrive_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    redrive_status_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    map_run_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListExecutionsInput {
    /// Absent when the children of a Map run are listed.
    #[serde(default)]
    state_machine_arn: String,
    map_run_arn: Option<String>,
    status_filter: Option<String>,
    /// `REDRIVEN` or `NOT_REDRIVEN`.
    redrive_filter: Option<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionItem {
    execution_arn: String,
    state_machine_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_version_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_alias_arn: Option<String>,
    name: String,
    status: String,
    start_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_date: Option<f64>,
    redrive_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    redrive_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    map_run_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListExecutionsOutput {
    executions: Vec<ExecutionItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopExecutionInput {
    execution_arn: String,
    error: Option<String>,
    cause: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopExecutionOutput {
    stop_date: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryInput {
    execution_arn: String,
    max_results: Option<usize>,
    #[serde(default)]
    reverse_order: bool,
    next_token: Option<String>,
    include_execution_data: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryOutput {
    events: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeForExecutionOutput {
    state_machine_arn: String,
    name: String,
    definition: String,
    role_arn: String,
    update_date: f64,
    logging_configuration: Value,
    tracing_configuration: Value,
    revision_id: String,
}

fn data_details() -> Value {
    serde_json::json!({ "included": true })
}

impl StepFunctions {
    pub(crate) async fn execution(&self, arn: &str) -> Result<Execution, AwsError> {
        let (account, region, machine, name) = parse_execution_arn(arn)?;
        table::get(&*self.kv, &table::execution_key(&account, &region, &machine, &name))?
            .ok_or_else(|| error::execution_does_not_exist(arn))
    }

    fn new_execution(m: &StateMachine, name: String, input: &Value, text: String) -> Execution {
        let start = now();
        let arn = match m.kind.as_str() {
            "EXPRESS" => format!(
                "arn:aws:states:{}:{}:express:{}:{}:{}",
                m.region,
                m.account,
                m.name,
                name,
                uuid::Uuid::new_v4()
            ),
            _ => format!("arn:aws:states:{}:{}:execution:{}:{}", m.region, m.account, m.name, name),
        };
        let details = serde_json::json!({
            "input": text, "inputDetails": { "truncated": false }, "roleArn": m.role_arn,
        });
        let started = serde_json::json!({
            "timestamp": start, "type": "ExecutionStarted", "id": 1, "previousEventId": 0,
            "executionStartedEventDetails": details,
        });
        let start_at = engine::parse(&m.definition).0["StartAt"].as_str().unwrap_or_default().to_string();
        Execution {
            account: m.account.clone(),
            region: m.region.clone(),
            machine: m.name.clone(),
            name,
            machine_arn: m.arn(),
            arn,
            status: "RUNNING".into(),
            input: text,
            output: None,
            error: None,
            cause: None,
            start,
            stop: None,
            definition: m.definition.clone(),
            role_arn: m.role_arn.clone(),
            machine_updated: m.updated,
            revision_id: m.revision_id.clone(),
            history: vec![started],
            // AWS records the first state's entry with previousEventId 0, as ExecutionStarted.
            progress: Some(Progress { state: start_at, input: input.clone(), last_event: 0, ..Progress::default() }),
            ..Execution::default()
        }
    }

    pub(crate) async fn start_execution(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: StartExecutionInput,
    ) -> Result<StartExecutionOutput, AwsError> {
        let (m, target) = self.machine_for_execution(&input.state_machine_arn)?;
        let name = input.name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        crate::check_name(&name)?;
        let value = check_input(input.input.as_deref())?;
        let text = input.input.unwrap_or_else(|| "{}".to_string());
        let execution = Self::new_execution(&m, name.clone(), &value, text);
        if m.kind == "EXPRESS" {
            tokio::spawn(engine::run_in_memory(&self, &execution));
            return Ok(StartExecutionOutput { execution_arn: execution.arn, start_date: execution.start });
        }
        let key = table::execution_key(&m.account, &m.region, &m.name, &name);
        let target_key = table::target_key(&m.account, &m.region, &m.name, &name);
        let target = target.map(|t| table::ExecutionTarget { execution: name.clone(), ..t });
        let (execution, fresh) = self
            .kv
            .transact(move |txn| {
                if let Some(existing) = table::get::<Execution>(txn, &key)? {
                    if existing.status == "RUNNING" && existing.input == execution.input {
                        return Ok((existing, false));
                    }
                    // A closed execution's name can be used again after 90 days.
                    let forgotten = existing.stop.is_some_and(|stop| execution.start - stop > NAME_REUSE_SECONDS);
                    if !forgotten {
                        return Err(error::execution_already_exists(&existing.arn));
                    }
                    table::delete_history(txn, &key)?;
                }
                table::put_execution(txn, &key, &execution)?;
                table::append_history(txn, &key, &execution.history)?;
                match &target {
                    Some(target) => table::put(txn, &target_key, target)?,
                    None => txn.delete(table::KEYSPACE, &target_key)?,
                }
                Ok::<_, AwsError>((execution, true))
            })
            .await?;
        if fresh {
            engine::spawn(&self, &execution);
        }
        Ok(StartExecutionOutput { execution_arn: execution.arn, start_date: execution.start })
    }

    pub(crate) async fn start_sync_execution(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: StartExecutionInput,
    ) -> Result<StartSyncExecutionOutput, AwsError> {
        let (m, _) = self.machine_for_execution(&input.state_machine_arn)?;
        if m.kind != "EXPRESS" {
            return Err(error::state_machine_type_not_supported(
                "This operation is not supported by this type of state machine",
            ));
        }
        let name = input.name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        crate::check_name(&name)?;
        let value = check_input(input.input.as_deref())?;
        let text = input.input.unwrap_or_else(|| "{}".to_string());
        let execution = Self::new_execution(&m, name.clone(), &value, text.clone());
        let started = execution.start;
        let end = engine::run_in_memory(&self, &execution).await;
        let stop = now();
        let billed_ms = (((stop - started) * 1000.0).ceil() as u64).max(100);
        let mut out = StartSyncExecutionOutput {
            execution_arn: execution.arn,
            state_machine_arn: m.arn(),
            name,
            start_date: started,
            stop_date: stop,
            status: "SUCCEEDED",
            error: None,
            cause: None,
            input: text,
            input_details: data_details(),
            output: None,
            output_details: None,
            billing_details: serde_json::json!({ "billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": billed_ms }),
        };
        match end {
            End::Succeeded(output) => {
                out.output = Some(output.to_string());
                out.output_details = Some(data_details());
            }
            End::Failed(f) => {
                out.status = "FAILED";
                out.error = Some(f.error).filter(|s| !s.is_empty());
                out.cause = Some(f.cause).filter(|s| !s.is_empty());
            }
            End::TimedOut => {
                out.status = "TIMED_OUT";
                out.error = Some("States.Timeout".into());
            }
        }
        Ok(out)
    }

    pub(crate) async fn describe_execution(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: ExecutionArnInput,
    ) -> Result<DescribeExecutionOutput, AwsError> {
        let e = self.execution(&input.execution_arn).await?;
        let target = self.execution_target(&e.account, &e.region, &e.machine, &e.name)?;
        let (redrive_status, redrive_status_reason) = crate::redrive::status(&e, now());
        let map_run_arn = crate::map_run::map_run_of(&self, &e)?;
        Ok(DescribeExecutionOutput {
            execution_arn: e.arn,
            state_machine_arn: e.machine_arn,
            state_machine_version_arn: target.as_ref().map(|t| t.version_arn.clone()),
            state_machine_alias_arn: target.and_then(|t| t.alias_arn),
            name: e.name,
            status: e.status,
            start_date: e.start,
            stop_date: e.stop,
            input: e.input,
            input_details: data_details(),
            output_details: e.output.as_ref().map(|_| data_details()),
            output: e.output,
            error: e.error,
            cause: e.cause,
            redrive_count: e.redrive_count,
            redrive_date: e.redrive_date,
            redrive_status,
            redrive_status_reason,
            map_run_arn,
        })
    }

    pub(crate) async fn list_executions(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: ListExecutionsInput,
    ) -> Result<ListExecutionsOutput, AwsError> {
        if let Some(arn) = &input.map_run_arn {
            return self.list_map_run_executions(
                arn,
                input.status_filter.as_deref(),
                input.max_results,
                input.next_token.as_deref(),
            );
        }
        let (m, filter) = self.machine_for_listing(&input.state_machine_arn)?;
        if m.kind == "EXPRESS" {
            return Err(error::state_machine_type_not_supported(
                "This operation is not supported by this type of state machine",
            ));
        }
        if let Some(status) = &input.status_filter
            && !["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"].contains(&status.as_str())
        {
            return Err(error::validation(format!(
                "1 validation error detected: Value '{status}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]"
            )));
        }
        let mut all: Vec<Execution> =
            table::scan(&*self.kv, &table::executions_prefix(&m.account, &m.region, &m.name))?;
        all.retain(|e| input.status_filter.as_ref().is_none_or(|s| *s == e.status));
        match input.redrive_filter.as_deref() {
            None => {}
            Some("REDRIVEN") => all.retain(|e| e.redrive_count > 0),
            Some("NOT_REDRIVEN") => all.retain(|e| e.redrive_count == 0),
            Some(other) => {
                return Err(error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'redriveFilter' failed to satisfy constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]"
                )));
            }
        }
        let targets = self.execution_targets(&m.account, &m.region, &m.name)?;
        all.retain(|e| filter.as_ref().is_none_or(|f| f.keeps(targets.get(&e.name))));
        all.sort_by(|a, b| b.start.total_cmp(&a.start).then_with(|| a.name.cmp(&b.name)));
        let (all, next_token) = page(all, input.max_results, input.next_token.as_deref())?;
        let executions = all
            .iter()
            .map(|e| ExecutionItem {
                execution_arn: e.arn.clone(),
                state_machine_arn: e.machine_arn.clone(),
                state_machine_version_arn: targets.get(&e.name).map(|t| t.version_arn.clone()),
                state_machine_alias_arn: targets.get(&e.name).and_then(|t| t.alias_arn.clone()),
                name: e.name.clone(),
                status: e.status.clone(),
                start_date: e.start,
                stop_date: e.stop,
                redrive_count: e.redrive_count,
                redrive_date: e.redrive_date,
                map_run_arn: None,
            })
            .collect();
        Ok(ListExecutionsOutput { executions, next_token })
    }

    /// ListExecutions of a Map run: its STANDARD children, newest first.
    fn list_map_run_executions(
        &self,
        map_run_arn: &str,
        status: Option<&str>,
        max_results: Option<usize>,
        next_token: Option<&str>,
    ) -> Result<ListExecutionsOutput, AwsError> {
        let mut all = self.map_run_children(map_run_arn)?;
        all.retain(|e| status.is_none_or(|s| s == e.status));
        all.sort_by(|a, b| b.start.total_cmp(&a.start).then_with(|| a.name.cmp(&b.name)));
        let (all, next_token) = page(all, max_results, next_token)?;
        let executions = all
            .iter()
            .map(|e| ExecutionItem {
                execution_arn: e.arn.clone(),
                state_machine_arn: e.machine_arn.clone(),
                state_machine_version_arn: None,
                state_machine_alias_arn: None,
                name: e.name.clone(),
                status: e.status.clone(),
                start_date: e.start,
                stop_date: e.stop,
                redrive_count: e.redrive_count,
                redrive_date: e.redrive_date,
                map_run_arn: Some(map_run_arn.to_string()),
            })
            .collect();
        Ok(ListExecutionsOutput { executions, next_token })
    }

    pub(crate) async fn stop_execution(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: StopExecutionInput,
    ) -> Result<StopExecutionOutput, AwsError> {
        let (account, region, machine, name) = parse_execution_arn(&input.execution_arn)?;
        let key = table::execution_key(&account, &region, &machine, &name);
        let arn = input.execution_arn.clone();
        let stop = self
            .kv
            .transact(move |txn| {
                let mut e: Execution = table::get(txn, &key)?.ok_or_else(|| error::execution_does_not_exist(&arn))?;
                if e.status != "RUNNING" {
                    return Ok((e.stop.unwrap_or_else(now), None));
                }
                let time = now();
                let mut details = serde_json::Map::new();
                if let Some(error) = &input.error {
                    details.insert("error".into(), Value::String(error.clone()));
                }
                if let Some(cause) = &input.cause {
                    details.insert("cause".into(), Value::String(cause.clone()));
                }
                // AWS records the abort with previousEventId 0, outside the states' chain.
                let id = table::last_event_id(txn, &key)? + 1;
                let aborted = serde_json::json!({
                    "timestamp": time, "type": "ExecutionAborted", "id": id, "previousEventId": 0,
                    "executionAbortedEventDetails": details,
                });
                table::append_history(txn, &key, std::slice::from_ref(&aborted))?;
                e.status = "ABORTED".into();
                e.error = input.error;
                e.cause = input.cause;
                e.stop = Some(time);
                e.redrive_from = e.progress.take();
                table::put_execution(txn, &key, &e)?;
                Ok::<_, AwsError>((time, Some((aborted, e))))
            })
            .await?;
        if let Some(task) = self.running().remove(&input.execution_arn) {
            task.abort();
        }
        if let (_, Some((aborted, e))) = &stop {
            let machine: Option<StateMachine> =
                table::get(&*self.kv, &table::machine_key(&e.account, &e.region, &e.machine))?;
            let config = machine.and_then(|m| m.logging);
            let start_ms = (e.start * 1000.0).round() as u64;
            crate::logging::log_one(&self.logs, config.as_ref(), &e.machine, &e.arn, start_ms, aborted).await;
        }
        Ok(StopExecutionOutput { stop_date: stop.0 })
    }

    pub(crate) async fn get_execution_history(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: HistoryInput,
    ) -> Result<HistoryOutput, AwsError> {
        let (account, region, machine, name) = parse_execution_arn(&input.execution_arn)?;
        let key = table::execution_key(&account, &region, &machine, &name);
        self.execution(&input.execution_arn).await?;
        let mut events = table::read_history(&*self.kv, &key)?;
        if input.reverse_order {
            events.reverse();
        }
        if input.include_execution_data == Some(false) {
            for event in &mut events {
                for details in event.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
                    if let Some(d) = details.as_object_mut() {
                        d.remove("input");
                        d.remove("output");
                    }
                }
            }
        }
        let (events, next_token) = page(events, input.max_results, input.next_token.as_deref())?;
        Ok(HistoryOutput { events, next_token })
    }

    pub(crate) async fn describe_state_machine_for_execution(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: ExecutionArnInput,
    ) -> Result<DescribeForExecutionOutput, AwsError> {
        let e = self.execution(&input.execution_arn).await?;
        let (account, region, _) = parse_machine_arn(&e.machine_arn)?;
        let current: Option<StateMachine> = table::get(&*self.kv, &table::machine_key(&account, &region, &e.machine))?;
        let (logging, tracing) = match &current {
            Some(m) => (crate::machine::logging(m), crate::machine::tracing(m)),
            None => (
                serde_json::json!({ "level": "OFF", "includeExecutionData": false }),
                serde_json::json!({ "enabled": false }),
            ),
        };
        Ok(DescribeForExecutionOutput {
            state_machine_arn: e.machine_arn,
            name: e.machine,
            definition: e.definition,
            role_arn: e.role_arn,
            update_date: e.machine_updated,
            logging_configuration: logging,
            tracing_configuration: tracing,
            revision_id: e.revision_id,
        })
    }
}
