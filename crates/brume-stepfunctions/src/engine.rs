//! Runs a definition: each state's data flow through [`crate::asl`], the work of Task,
//! Parallel and Map, Retry and Catch, and the history events AWS records for them.
//!
//! A STANDARD execution saves its [`Progress`] (the top-level state, its input, its
//! retry counters, the end of a wait in progress, the token of a task waiting for one)
//! with the history at each transition,
//! so [`resume_all`] continues it after a restart where it was; waits keep their end time.
//! Each Parallel branch and inline Map iteration, at any depth, saves its own progress the
//! same way under its path (a [`table::Nested`] record), and its result when it ends: a
//! resumed Parallel or Map state continues the branches in progress, answers the finished
//! ones' results without running them again, and does not record again the events stored
//! before the restart. The nested records go when the execution ends. A nested save checks
//! that the execution still runs in its small status record ([`table::status_key`]), not in
//! its record, which holds its input. EXPRESS executions keep everything in memory.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brume_core::AwsError;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::asl::{self, Failure};
use crate::table::{self, Execution, Progress};
use crate::{StepFunctions, iso, now, now_ms};

/// How AWS's cause of a failure processing a state's data starts.
const RUNTIME_PREFIX: &str = "An error occurred while executing the state";

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How an execution ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum End {
    Succeeded(Value),
    Failed(Failure),
    TimedOut,
}

/// One execution being run.
struct Run {
    sfn: Arc<StepFunctions>,
    account: String,
    region: String,
    arn: String,
    name: String,
    machine_arn: String,
    machine_name: String,
    role_arn: String,
    start_ms: u64,
    input: Arc<Value>,
    /// The record's key; `None` for EXPRESS executions, which are not stored.
    key: Option<Vec<u8>>,
    history: Mutex<Vec<Value>>,
    /// How many of `history`'s events are stored.
    saved: Mutex<usize>,
    /// Where the history events are logged, when the state machine logs them.
    log: Option<crate::logging::Sink>,
    /// The definition's QueryLanguage, the default of its states.
    language: std::sync::OnceLock<asl::Language>,
    /// Context object fields TestState gives in place of the execution's.
    given_context: std::sync::OnceLock<serde_json::Map<String, Value>>,
    /// How many events were recorded before this run started: a resumed sequence looks among
    /// them for the events it would record again.
    recorded_before: usize,
    /// The ids of the MapIterationStarted events among those, by Map state name and item index,
    /// in order: each item of a resumed Map finds its own without going through the history.
    iterations: std::sync::OnceLock<HashMap<(String, u64), Vec<u64>>>,
}

/// A Task's TimeoutSeconds and HeartbeatSeconds (given or read through their `…Path`),
/// and its task token when it waits for one.
struct TaskOptions {
    timeout: Option<u64>,
    heartbeat: Option<u64>,
    token: Option<String>,
}

/// The value of `field` (`TimeoutSeconds`, a JSONata expression in JSONata states) or of
/// the reference path in `fieldPath`.
fn seconds(flow: &asl::Flow, field: &str, input: &Value) -> Result<Option<u64>, Failure> {
    if let Some(v) = flow.field(field)? {
        return match v.as_u64() {
            Some(n) if n > 0 || !flow.jsonata() => Ok(Some(n)),
            _ => Err(Failure::new(
                asl::QUERY_EVALUATION_ERROR,
                format!("The {field} field must evaluate to a positive integer, but it evaluated to {v}"),
            )),
        };
    }
    let Some(path) = flow.state.get(format!("{field}Path")).and_then(Value::as_str) else { return Ok(None) };
    match asl::select(path, input, flow.scope)? {
        Value::Number(n) if n.as_u64().is_some_and(|n| n > 0) => Ok(n.as_u64()),
        other => Err(Failure::new(
            asl::RUNTIME,
            format!("The {field}Path parameter does not reference a valid positive integer: {other}"),
        )),
    }
}

/// What a state leads to: the next state (none at the end), its output, and the
/// variables it assigns.
struct Step {
    next: Option<String>,
    output: Value,
    assigned: serde_json::Map<String, Value>,
}

impl Step {
    /// `outcome`, going on to the state's Next or ending.
    fn after(state: &Value, outcome: asl::Outcome) -> Step {
        let next = state["Next"].as_str().map(str::to_string);
        Step { next, output: outcome.output, assigned: outcome.assigned }
    }
}

impl Run {
    fn new(sfn: Arc<StepFunctions>, execution: &Execution, durable: bool) -> Run {
        let log = open_log(&sfn, execution);
        Run {
            sfn,
            account: execution.account.clone(),
            region: execution.region.clone(),
            arn: execution.arn.clone(),
            name: execution.name.clone(),
            machine_arn: execution.machine_arn.clone(),
            machine_name: execution.machine.clone(),
            role_arn: execution.role_arn.clone(),
            start_ms: (execution.start * 1000.0).round() as u64,
            input: Arc::new(serde_json::from_str(&execution.input).unwrap_or(Value::Null)),
            key: durable.then(|| {
                table::execution_key(&execution.account, &execution.region, &execution.machine, &execution.name)
            }),
            history: Mutex::new(execution.history.clone()),
            saved: Mutex::new(execution.history.len()),
            log,
            language: std::sync::OnceLock::new(),
            given_context: std::sync::OnceLock::new(),
            recorded_before: execution.history.len(),
            iterations: std::sync::OnceLock::new(),
        }
    }

    fn events(&self) -> std::sync::MutexGuard<'_, Vec<Value>> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The events recorded since the last save, and how many there are in all with them.
    fn unsaved(&self) -> (usize, Vec<Value>) {
        let events = self.events();
        let saved = *self.saved.lock().unwrap_or_else(|e| e.into_inner());
        (events.len(), events[saved.min(events.len())..].to_vec())
    }

    /// Notes that the first `count` events are stored.
    fn saved(&self, count: usize) {
        *self.saved.lock().unwrap_or_else(|e| e.into_inner()) = count;
    }

    /// Records an event after `prev` (the previous event of the same sequence), and makes
    /// it the sequence's latest.
    fn emit(&self, prev: &mut u64, kind: &str, details: Option<(&str, Value)>) {
        let mut events = self.events();
        let id = events.len() as u64 + 1;
        let mut event = json!({ "timestamp": now(), "type": kind, "id": id, "previousEventId": *prev });
        if let Some((name, value)) = details {
            event[name] = value;
        }
        events.push(event);
        *prev = id;
    }

    fn last_id(&self) -> u64 {
        self.events().len() as u64
    }

    /// `$$` for a state, and the variables it sees. The execution's input is shared, not
    /// copied into each state's context: a large input would make every state slow.
    fn context(&self, state: &str, progress: &Progress, item: Option<(usize, &Value)>) -> asl::Scope {
        let mut ctx = json!({
            "Execution": {
                "Id": self.arn,
                "Name": self.name,
                "RoleArn": self.role_arn,
                "StartTime": iso(self.start_ms),
            },
            "State": { "EnteredTime": progress.entered, "Name": state, "RetryCount": progress.retry_count },
            "StateMachine": { "Id": self.machine_arn, "Name": self.machine_name },
        });
        if let Some((index, value)) = item {
            ctx["Map"] = json!({ "Item": { "Index": index, "Value": value } });
        }
        if let (Some(given), Value::Object(ctx)) = (self.given_context.get(), &mut ctx) {
            ctx.extend(given.clone());
        }
        asl::Scope { context: ctx, variables: progress.variables.clone(), execution_input: Some(self.input.clone()) }
    }

    /// Saves `progress` (the top level's, or a nested sequence's under its path) and the
    /// history. An execution stopped (or deleted by a reset) meanwhile ends its own task
    /// instead: nothing more of it is to run.
    async fn save(&self, progress: &Progress) {
        self.log_events(progress.until_ms.is_some() || progress.token.is_some());
        match &progress.path {
            None => self.store(Some(progress.clone()), None).await,
            Some(path) => self.store(None, Some((path.clone(), table::Nested::Running(progress.clone())))).await,
        }
    }

    /// Stores the history with the top level's progress and a nested sequence's record.
    async fn store(&self, progress: Option<Progress>, nested: Option<(String, table::Nested)>) {
        let Some(key) = self.key.clone() else { return };
        let (count, history) = self.unsaved();
        let saved = self
            .sfn
            .kv
            .transact(move |txn| {
                // A nested save, one per Map item, reads the small status record only: the
                // execution's own holds its input and the top level's, megabytes for a large Map.
                let top = match progress {
                    None if table::execution_status(txn, &key)?.as_deref() == Some("RUNNING") => None,
                    None => return Ok(false),
                    Some(progress) => match table::get::<Execution>(txn, &key)? {
                        Some(e) if e.status == "RUNNING" => Some(Execution { progress: Some(progress), ..e }),
                        _ => return Ok(false),
                    },
                };
                table::append_history(txn, &key, &history)?;
                if let Some((path, record)) = nested {
                    table::put(txn, &table::nested_key(&key, &path), &record)?;
                }
                if let Some(e) = top {
                    table::put_execution(txn, &key, &e)?;
                }
                Ok::<_, AwsError>(true)
            })
            .await;
        match saved {
            Ok(true) => self.saved(count),
            Ok(false) => {
                if let Some(task) = self.sfn.running().remove(&self.arn) {
                    task.abort();
                }
                std::future::pending::<()>().await;
            }
            Err(e) => tracing::warn!(execution = %self.arn, error = %e.message, "saving execution progress failed"),
        }
    }

    /// Runs the execution from `progress` to its end, and records the end.
    async fn drive(self: Arc<Self>, machine: Value, progress: Progress, timeout: Option<u64>) -> End {
        let _ = self.language.set(asl::Language::of_machine(&machine));
        let mut prev = progress.last_event;
        let work = self.run_states(&machine, progress.input.clone(), &mut prev, Some(progress));
        let result = match timeout {
            Some(seconds) => {
                let deadline = self.start_ms + seconds * 1000;
                let left = Duration::from_millis(deadline.saturating_sub(now_ms()));
                tokio::time::timeout(left, work).await.ok()
            }
            None => Some(work.await),
        };
        let mut prev = self.last_id();
        let end = match result {
            Some(Ok(output)) => {
                let details = json!({ "output": output.to_string(), "outputDetails": { "truncated": false } });
                self.emit(&mut prev, "ExecutionSucceeded", Some(("executionSucceededEventDetails", details)));
                End::Succeeded(output)
            }
            Some(Err(f)) => {
                let details = error_details(&f);
                self.emit(&mut prev, "ExecutionFailed", Some(("executionFailedEventDetails", details)));
                End::Failed(f)
            }
            None => {
                let details = json!({ "error": "States.Timeout" });
                self.emit(&mut prev, "ExecutionTimedOut", Some(("executionTimedOutEventDetails", details)));
                End::TimedOut
            }
        };
        self.finish(&end).await;
        end
    }

    /// Hands the events not logged yet to the log when a batch is due, or `now`.
    fn log_events(&self, now: bool) {
        let Some(log) = &self.log else { return };
        let events = self.events();
        if now || log.due(events.len()) {
            let pending = events[log.handed().min(events.len())..].to_vec();
            drop(events);
            log.hand(&pending);
        }
    }

    async fn finish(&self, end: &End) {
        if let Some(log) = &self.log {
            let pending = self.events()[log.handed()..].to_vec();
            log.close(&pending).await;
        }
        self.sfn.running().remove(&self.arn);
        let Some(key) = self.key.clone() else { return };
        let (_, history) = self.unsaved();
        let end = end.clone();
        let saved = self
            .sfn
            .kv
            .transact(move |txn| {
                let Some(mut e) = table::get::<Execution>(txn, &key)? else { return Ok(()) };
                if e.status != "RUNNING" {
                    return Ok(());
                }
                match end {
                    End::Succeeded(output) => {
                        e.status = "SUCCEEDED".into();
                        e.output = Some(output.to_string());
                    }
                    End::Failed(f) => {
                        e.status = "FAILED".into();
                        e.error = Some(f.error).filter(|s| !s.is_empty());
                        e.cause = Some(f.cause).filter(|s| !s.is_empty());
                    }
                    End::TimedOut => {
                        e.status = "TIMED_OUT".into();
                        e.error = Some("States.Timeout".into());
                    }
                }
                e.stop = Some(now());
                table::append_history(txn, &key, &history)?;
                table::delete_nested(txn, &key)?;
                // A failed, timed out or aborted execution is redriven from where it was.
                e.redrive_from = e.progress.take().filter(|_| e.status != "SUCCEEDED");
                table::put_execution(txn, &key, &e)?;
                Ok::<_, AwsError>(())
            })
            .await;
        if let Err(e) = saved {
            tracing::warn!(execution = %self.arn, error = %e.message, "recording the end of an execution failed");
        }
    }

    /// Runs the states of `machine` (a definition, a Parallel branch or a Map's
    /// processor) from its StartAt, or from `resume` for a top-level sequence, which is
    /// then saved at each transition.
    fn run_states<'a>(
        &'a self,
        machine: &'a Value,
        input: Value,
        prev: &'a mut u64,
        resume: Option<Progress>,
    ) -> Boxed<'a, Result<Value, Failure>> {
        let top = resume.is_some();
        let p = resume.unwrap_or_else(|| Progress {
            state: machine["StartAt"].as_str().unwrap_or_default().to_string(),
            input,
            ..Progress::default()
        });
        self.run_sequence(machine, p, prev, top)
    }

    /// Runs a Parallel branch or a Map iteration, which sees the `variables` of the state
    /// that runs it; what it assigns stays inside. The branch of a STANDARD execution saves
    /// its progress under its `path` at each transition, and goes on from `resume`, the
    /// progress it saved before a restart.
    fn run_branch<'a>(
        &'a self,
        machine: &'a Value,
        input: Value,
        prev: &'a mut u64,
        variables: Arc<serde_json::Map<String, Value>>,
        path: Option<String>,
        resume: Option<Progress>,
    ) -> Boxed<'a, Result<Value, Failure>> {
        let durable = path.is_some();
        let p = match resume {
            Some(p) => {
                *prev = p.last_event;
                p
            }
            None => {
                let state = machine["StartAt"].as_str().unwrap_or_default().to_string();
                Progress { state, input, variables, path, ..Progress::default() }
            }
        };
        self.run_sequence(machine, p, prev, durable)
    }

    /// The path of a nested sequence of the state `p` runs (`tail`: `#<branch>` or
    /// `[<item index>]`), which the entering event and the retry count make a retried or
    /// re-entered state's own; none in an execution that is not stored.
    fn nested_path(&self, p: &Progress, tail: &str) -> Option<String> {
        self.key.as_ref()?;
        let parent = p.path.as_deref().unwrap_or_default();
        Some(format!("{parent}/{}@{}.{}{tail}", p.state, p.entered_event, p.retry_count))
    }

    /// What the nested sequence at `path` of the state entered at event `entered` saved
    /// before a restart; a state entered since has nothing to look for.
    fn nested(&self, path: Option<&str>, entered: u64) -> Option<table::Nested> {
        let (key, path) = (self.key.as_ref()?, path?);
        if entered as usize > self.recorded_before {
            return None;
        }
        table::get(&*self.sfn.kv, &table::nested_key(key, path)).ok().flatten()
    }

    /// Stores how the nested sequence at `path` ended, and the history.
    async fn save_end(&self, path: Option<String>, result: &Result<Value, Failure>, last_event: u64) {
        let Some(path) = path else { return };
        let record = match result {
            Ok(output) => table::Nested::Succeeded { output: output.clone(), last_event },
            Err(f) => table::Nested::Failed { error: f.error.clone(), cause: f.cause.clone(), last_event },
        };
        self.store(None, Some((path, record))).await;
    }

    /// The id of the event of type `kind` after `after` that `matches`, among those recorded
    /// before this run started: what a resumed sequence recorded already.
    fn recorded(&self, after: u64, kind: &str, matches: impl Fn(&Value) -> bool) -> Option<u64> {
        if after as usize >= self.recorded_before {
            return None;
        }
        let events = self.events();
        let before = self.recorded_before.min(events.len());
        events[after as usize..before].iter().find(|e| e["type"] == kind && matches(e)).and_then(|e| e["id"].as_u64())
    }

    /// The id of the MapIterationStarted event of item `index` of the Map state `name` after
    /// `after`, among those recorded before this run started.
    fn recorded_iteration(&self, after: u64, name: &str, index: usize) -> Option<u64> {
        if after as usize >= self.recorded_before {
            return None;
        }
        let iterations = self.iterations.get_or_init(|| {
            let events = self.events();
            let mut found: HashMap<(String, u64), Vec<u64>> = HashMap::new();
            for e in
                events[..self.recorded_before.min(events.len())].iter().filter(|e| e["type"] == "MapIterationStarted")
            {
                let details = &e["mapIterationStartedEventDetails"];
                if let (Some(name), Some(index), Some(id)) =
                    (details["name"].as_str(), details["index"].as_u64(), e["id"].as_u64())
                {
                    found.entry((name.to_string(), index)).or_default().push(id);
                }
            }
            found
        });
        iterations.get(&(name.to_string(), index as u64))?.iter().copied().find(|id| *id > after)
    }

    fn run_sequence<'a>(
        &'a self,
        machine: &'a Value,
        mut p: Progress,
        prev: &'a mut u64,
        top: bool,
    ) -> Boxed<'a, Result<Value, Failure>> {
        Box::pin(async move {
            loop {
                let state = machine["States"]
                    .get(&p.state)
                    .ok_or_else(|| Failure::new("States.Runtime", format!("State '{}' does not exist", p.state)))?;
                let kind = state["Type"].as_str().unwrap_or_default().to_string();
                if !p.started {
                    p.entered = iso(now_ms());
                    let details = json!({
                        "name": p.state, "input": p.input.to_string(), "inputDetails": { "truncated": false },
                    });
                    // Another branch's save may have stored the event before a restart.
                    let entered = format!("{kind}StateEntered");
                    let last = *prev;
                    match self.recorded(last, &entered, |e| {
                        e["previousEventId"] == last && e["stateEnteredEventDetails"]["name"] == p.state
                    }) {
                        Some(id) => *prev = id,
                        None => self.emit(prev, &entered, Some(("stateEnteredEventDetails", details))),
                    }
                    p.started = true;
                    p.entered_event = *prev;
                    p.last_event = *prev;
                    // A nested sequence does not save its entries, sparing each Map iteration a
                    // write: resumed from before one, it finds the event if a later save stored it.
                    if top && p.path.is_none() {
                        self.save(&p).await;
                    }
                }
                let step = match self.run_state(state, &kind, &mut p, prev, top).await {
                    Ok(step) => step,
                    Err(mut f) => {
                        let data = [asl::RUNTIME, asl::RESULT_PATH_MATCH_FAILURE, asl::QUERY_EVALUATION_ERROR]
                            .contains(&f.error.as_str());
                        if data && !f.cause.starts_with(RUNTIME_PREFIX) {
                            f.cause = format!(
                                "{RUNTIME_PREFIX} '{}' (entered at the event id #{}). {}",
                                p.state, p.entered_event, f.cause
                            );
                        }
                        return Err(f);
                    }
                };
                if over_data_limit(&step.output) {
                    return Err(data_limit_exceeded(&p.state));
                }
                let mut details = json!({
                    "name": p.state, "output": step.output.to_string(), "outputDetails": { "truncated": false },
                });
                if !step.assigned.is_empty() {
                    let assigned: serde_json::Map<String, Value> =
                        step.assigned.iter().map(|(name, value)| (name.clone(), json!(value.to_string()))).collect();
                    details["assignedVariables"] = Value::Object(assigned);
                    details["assignedVariablesDetails"] = json!({ "truncated": false });
                }
                self.emit(prev, &format!("{kind}StateExited"), Some(("stateExitedEventDetails", details)));
                let Some(next) = step.next else { return Ok(step.output) };
                let mut variables = std::mem::take(&mut p.variables);
                if !step.assigned.is_empty() {
                    Arc::make_mut(&mut variables).extend(step.assigned);
                }
                let path = p.path.take();
                p = Progress {
                    state: next,
                    input: step.output,
                    last_event: *prev,
                    variables,
                    path,
                    ..Progress::default()
                };
                if top {
                    self.save(&p).await;
                }
            }
        })
    }

    /// The query language `state` is written in.
    fn language(&self, state: &Value) -> asl::Language {
        asl::Language::of_state(state, *self.language.get().unwrap_or(&asl::Language::JsonPath))
    }

    async fn run_state(
        &self,
        state: &Value,
        kind: &str,
        p: &mut Progress,
        prev: &mut u64,
        top: bool,
    ) -> Result<Step, Failure> {
        let scope = self.context(&p.state, p, None);
        let raw = p.input.clone();
        let flow = asl::Flow { state, language: self.language(state), raw: &raw, scope: &scope };
        match kind {
            "Pass" => {
                let input = flow.input()?;
                let result = match (flow.jsonata(), state.get("Result"), state.get("Parameters")) {
                    (true, _, _) => input,
                    (false, Some(result), _) => result.clone(),
                    (false, None, Some(template)) => asl::parameters(template, &input, &scope)?,
                    (false, None, None) => input,
                };
                Ok(Step::after(state, flow.with_result(result)?))
            }
            "Succeed" => {
                let outcome = flow.without_result(flow.input()?, state)?;
                Ok(Step { next: None, output: outcome.output, assigned: outcome.assigned })
            }
            "Fail" => {
                let text = |field: &str, path: &str| -> Result<String, Failure> {
                    let value = match (flow.field(field)?, state.get(path).and_then(Value::as_str)) {
                        (Some(value), _) => value,
                        (None, Some(path)) => asl::select(path, &raw, &scope)?,
                        (None, None) => return Ok(String::new()),
                    };
                    match value {
                        Value::String(s) => Ok(s),
                        other => Ok(other.to_string()),
                    }
                };
                Err(Failure::new(text("Error", "ErrorPath")?, text("Cause", "CausePath")?))
            }
            "Choice" => {
                let input = flow.input()?;
                let choices = state["Choices"].as_array().map(Vec::as_slice).unwrap_or_default();
                let default = state["Default"].as_str();
                let (next, rule) = match flow.language {
                    asl::Language::Jsonata => asl::choose_by(choices, default, |rule| flow.condition(rule))?,
                    asl::Language::JsonPath => asl::choose(choices, default, &input, &scope)?,
                };
                let outcome = flow.without_result(input, rule.unwrap_or(state))?;
                Ok(Step { next: Some(next), output: outcome.output, assigned: outcome.assigned })
            }
            "Wait" => {
                let input = flow.input()?;
                if p.until_ms.is_none() {
                    p.until_ms = Some(wait_until(&flow, &input)?);
                    if top {
                        self.save(p).await;
                    }
                }
                sleep_until(p.until_ms.unwrap_or_default()).await;
                p.until_ms = None;
                Ok(Step::after(state, flow.without_result(input, state)?))
            }
            "Task" | "Parallel" | "Map" => self.run_with_retries(state, kind, p, prev, top).await,
            other => Err(Failure::new("States.Runtime", format!("Unsupported state type {other}"))),
        }
    }

    /// A Task, Parallel or Map state: its work, retried as its Retry says, caught as its
    /// Catch says.
    async fn run_with_retries(
        &self,
        state: &Value,
        kind: &str,
        p: &mut Progress,
        prev: &mut u64,
        top: bool,
    ) -> Result<Step, Failure> {
        let raw = p.input.clone();
        loop {
            if let Some(until) = p.until_ms {
                sleep_until(until).await;
                p.until_ms = None;
            }
            let mut scope = self.context(&p.state, p, None);
            let token = waits_for_token(state).then(|| p.token.clone().unwrap_or_else(crate::token::new_token));
            if let Some(token) = &token {
                scope.context["Task"] = json!({ "Token": token });
            }
            let flow = asl::Flow { state, language: self.language(state), raw: &raw, scope: &scope };
            let name = p.state.clone();
            let outcome = async {
                let input = flow.input()?;
                let result = match kind {
                    "Task" => {
                        let options = TaskOptions {
                            timeout: seconds(&flow, "TimeoutSeconds", &input)?,
                            heartbeat: seconds(&flow, "HeartbeatSeconds", &input)?,
                            token: token.clone(),
                        };
                        let effective = flow.arguments(input)?;
                        self.task(state, effective, options, p, prev, top).await?
                    }
                    "Parallel" => {
                        let effective = flow.arguments(input)?;
                        self.parallel(state, effective, p, prev).await?
                    }
                    _ => self.map(state, &name, input, p, prev).await?,
                };
                // A task's own result counts; Map and Parallel may drop theirs.
                if kind == "Task" && over_data_limit(&result) {
                    return Err(data_limit_exceeded(&name));
                }
                let outcome = flow.with_result(result)?;
                if over_data_limit(&outcome.output) {
                    return Err(data_limit_exceeded(&name));
                }
                Ok(outcome)
            }
            .await;
            let failure = match outcome {
                Ok(outcome) => return Ok(Step::after(state, outcome)),
                Err(f) => f,
            };
            let retriers = state["Retry"].as_array().map(Vec::as_slice).unwrap_or_default();
            if let Some(delay) = asl::retry_delay(retriers, &failure.error, &mut p.attempts, rand::random::<f64>()) {
                p.retry_count += 1;
                p.until_ms = Some(now_ms() + delay);
                p.last_event = *prev;
                if top {
                    self.save(p).await;
                }
                continue;
            }
            let catchers = state["Catch"].as_array().map(Vec::as_slice).unwrap_or_default();
            if let Some((next, catcher)) = asl::catch(catchers, &failure.error) {
                // What SendTaskFailure left out is null in the caught error, as in AWS.
                let text = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
                let error = json!({ "Error": text(&failure.error), "Cause": text(&failure.cause) });
                let outcome = flow.caught(catcher, error)?;
                return Ok(Step { next: Some(next), output: outcome.output, assigned: outcome.assigned });
            }
            return Err(failure);
        }
    }

    /// A Task's work: a Lambda function by its ARN, or a service integration
    /// (`arn:aws:states:::lambda:invoke`, `sqs:sendMessage`, `sns:publish`), optionally
    /// waiting for its task token; TimeoutSeconds and HeartbeatSeconds bound it.
    async fn task(
        &self,
        state: &Value,
        input: Value,
        options: TaskOptions,
        p: &mut Progress,
        prev: &mut u64,
        top: bool,
    ) -> Result<Value, Failure> {
        let resource = state["Resource"].as_str().unwrap_or_default();
        let TaskOptions { timeout, heartbeat, token } = options;
        let deadline = timeout.map(|t| now_ms() + t * 1000);
        if resource.starts_with("arn:aws:lambda:") {
            return self.plain_function(resource, input, timeout, prev).await;
        }
        if crate::activity::is_activity(resource) {
            let call = crate::activity::Call { resource, input, timeout, heartbeat };
            return crate::activity::run(self, call, p, prev, top).await;
        }
        let Some((service, action)) = resource.strip_prefix("arn:aws:states:::").and_then(|r| r.split_once(':')) else {
            return Err(Failure::new("States.Runtime", format!("The resource '{resource}' is not supported by Brume")));
        };
        let action = action.strip_suffix(".waitForTaskToken").unwrap_or(action);
        // `.sync` waits for the child execution it starts, `.sync:2` answers its output as JSON.
        let (action, sync) = match action.split_once(".sync") {
            Some((action, pattern)) => (action, Some(pattern == ":2")),
            None => (action, None),
        };
        if sync.is_some() && (service, action) != ("states", "startExecution") {
            return Err(Failure::new("States.Runtime", format!("The resource '{resource}' is not supported by Brume")));
        }
        let resource_name = resource["arn:aws:states:::".len() + service.len() + 1..].to_string();
        // AWS records `aws-sdk:s3:getObject` as resource type `aws-sdk:s3`, resource `getObject`.
        let (resource_type, resource_name) = match (service, resource_name.split_once(':')) {
            ("aws-sdk", Some((name, call))) => (format!("aws-sdk:{name}"), call.to_string()),
            _ => (service.to_string(), resource_name),
        };
        let mut details = json!({
            "resourceType": resource_type, "resource": resource_name, "region": self.region,
            "parameters": input.to_string(),
        });
        if let Some(t) = timeout {
            details["timeoutInSeconds"] = json!(t);
        }
        if let Some(h) = heartbeat {
            details["heartbeatInSeconds"] = json!(h);
        }
        // A resumed `.sync` task finds its child's ARN where a token would be.
        let submitted = (token.is_some() && token == p.token) || (sync.is_some() && p.token.is_some());
        if !submitted {
            self.emit(prev, "TaskScheduled", Some(("taskScheduledEventDetails", details)));
            let started = json!({ "resourceType": resource_type, "resource": resource_name });
            self.emit(prev, "TaskStarted", Some(("taskStartedEventDetails", started)));
        }
        let outcome = async {
            if !submitted {
                if let Some(token) = &token {
                    self.sfn
                        .issue_token(token, self.key.clone())
                        .await
                        .map_err(|e| (Failure::new("States.Runtime", e.message), false))?;
                }
                let call = self.sfn.integrate(&self.account, &self.region, service, action, &input);
                let answer = match deadline {
                    Some(d) => tokio::time::timeout(Duration::from_millis(d.saturating_sub(now_ms())), call)
                        .await
                        .map_err(|_| (Failure::new("States.Timeout", ""), true))?,
                    None => call.await,
                };
                let answer = answer.map_err(|f| (f, false))?;
                if token.is_none() && sync.is_none() {
                    return Ok(answer);
                }
                let details = json!({
                    "resourceType": resource_type, "resource": resource_name,
                    "output": answer.to_string(), "outputDetails": { "truncated": false },
                });
                self.emit(prev, "TaskSubmitted", Some(("taskSubmittedEventDetails", details)));
                let child = answer["ExecutionArn"].as_str().unwrap_or_default().to_string();
                p.token = Some(token.clone().unwrap_or(child));
                p.last_event = *prev;
                if top {
                    self.save(p).await;
                }
            }
            if let Some(parsed) = sync {
                let child = p.token.clone().unwrap_or_default();
                let wait = self.sfn.await_child(&self.account, &self.region, &child, parsed);
                let ended = match deadline {
                    Some(d) => tokio::time::timeout(Duration::from_millis(d.saturating_sub(now_ms())), wait)
                        .await
                        .map_err(|_| (Failure::new("States.Timeout", ""), true))?,
                    None => wait.await,
                };
                return ended.map_err(|f| (f, false));
            }
            let token = token.clone().unwrap_or_default();
            self.await_token(&token, heartbeat, deadline).await
        }
        .await;
        if let Some(token) = &token {
            self.sfn.drop_token(token).await;
            p.token = None;
        }
        if sync.is_some() {
            p.token = None;
        }
        let head = json!({ "resourceType": resource_type, "resource": resource_name });
        match outcome {
            Ok(output) => {
                let mut details = head;
                details["output"] = json!(output.to_string());
                details["outputDetails"] = json!({ "truncated": false });
                self.emit(prev, "TaskSucceeded", Some(("taskSucceededEventDetails", details)));
                Ok(output)
            }
            Err((f, timed_out)) => {
                let mut details = head;
                if let (Some(details), Value::Object(error)) = (details.as_object_mut(), error_details(&f)) {
                    details.extend(error);
                }
                if timed_out {
                    self.emit(prev, "TaskTimedOut", Some(("taskTimedOutEventDetails", details)));
                } else {
                    self.emit(prev, "TaskFailed", Some(("taskFailedEventDetails", details)));
                }
                Err(f)
            }
        }
    }

    /// Waits for the answer to `token`: SendTaskSuccess's output or SendTaskFailure's
    /// error, unless the task times out or misses a heartbeat (`States.Timeout`).
    async fn await_token(
        &self,
        token: &str,
        heartbeat: Option<u64>,
        deadline: Option<u64>,
    ) -> Result<Value, (Failure, bool)> {
        let notify = self.sfn.notifier(token);
        loop {
            let notified = notify.notified();
            let record = self
                .sfn
                .token_record(token)
                .map_err(|e| (Failure::new("States.Runtime", e.message), false))?
                .ok_or_else(|| (Failure::new("States.Runtime", "The task token is gone"), false))?;
            match record.outcome {
                Some(crate::token::Outcome::Success(output)) => {
                    return Ok(serde_json::from_str(&output).unwrap_or(Value::String(output)));
                }
                Some(crate::token::Outcome::Failure { error, cause }) => {
                    return Err((Failure::new(error, cause), false));
                }
                None => {}
            }
            let now = now_ms();
            let beat = heartbeat.map(|h| record.heartbeat_ms + h * 1000);
            if deadline.is_some_and(|d| now >= d) {
                return Err((Failure::new("States.Timeout", ""), true));
            }
            // AWS records a missed heartbeat as `States.Timeout` too.
            if beat.is_some_and(|b| now >= b) {
                return Err((Failure::new("States.Timeout", ""), true));
            }
            let wake = [deadline, beat].into_iter().flatten().min();
            match wake {
                Some(at) => {
                    let _ = tokio::time::timeout(Duration::from_millis(at.saturating_sub(now)), notified).await;
                }
                None => notified.await,
            }
        }
    }

    /// A Task whose Resource is a function's ARN: the function's payload is the result.
    async fn plain_function(
        &self,
        resource: &str,
        input: Value,
        timeout: Option<u64>,
        prev: &mut u64,
    ) -> Result<Value, Failure> {
        let mut details =
            json!({ "resource": resource, "input": input.to_string(), "inputDetails": { "truncated": false } });
        if let Some(t) = timeout {
            details["timeoutInSeconds"] = json!(t);
        }
        self.emit(prev, "LambdaFunctionScheduled", Some(("lambdaFunctionScheduledEventDetails", details)));
        self.emit(prev, "LambdaFunctionStarted", None);
        let call = self.sfn.invoke(&self.account, &self.region, resource, input.to_string().into_bytes());
        let answered = match timeout {
            Some(seconds) => tokio::time::timeout(Duration::from_secs(seconds), call).await.ok(),
            None => Some(call.await),
        };
        match answered {
            Some(Ok(invoked)) => {
                let output = invoked.payload;
                let details = json!({ "output": output.to_string(), "outputDetails": { "truncated": false } });
                self.emit(prev, "LambdaFunctionSucceeded", Some(("lambdaFunctionSucceededEventDetails", details)));
                Ok(output)
            }
            Some(Err(f)) => {
                let details = error_details(&f);
                self.emit(prev, "LambdaFunctionFailed", Some(("lambdaFunctionFailedEventDetails", details)));
                Err(f)
            }
            None => {
                let details = json!({ "error": "States.Timeout" });
                self.emit(prev, "LambdaFunctionTimedOut", Some(("lambdaFunctionTimedOutEventDetails", details)));
                Err(Failure::new("States.Timeout", ""))
            }
        }
    }

    /// A Parallel state's branches, run at once on the same input; the first to fail
    /// stops the others. `p` is the state's progress; a resumed state's branches go on
    /// from what they saved.
    async fn parallel(&self, state: &Value, input: Value, p: &Progress, prev: &mut u64) -> Result<Value, Failure> {
        let last = *prev;
        match self.recorded(last, "ParallelStateStarted", |e| e["previousEventId"] == last) {
            Some(id) => *prev = id,
            None => self.emit(prev, "ParallelStateStarted", None),
        }
        let start = *prev;
        let branches = state["Branches"].as_array().cloned().unwrap_or_default();
        let saved: Vec<_> = (0..branches.len())
            .map(|index| {
                let path = self.nested_path(p, &format!("#{index}"));
                let record = self.nested(path.as_deref(), p.entered_event);
                (path, record)
            })
            .collect();
        // A branch that failed before a restart fails the state again, the others left as they are.
        let failed = saved.iter().find_map(|(_, record)| match record {
            Some(table::Nested::Failed { error, cause, .. }) => Some(Failure::new(error.clone(), cause.clone())),
            _ => None,
        });
        let runs = branches.iter().zip(saved).map(|(branch, (path, record))| {
            let input = input.clone();
            async move {
                let resume = match record {
                    Some(table::Nested::Succeeded { output, .. }) => return Ok(output),
                    Some(table::Nested::Running(progress)) => Some(progress),
                    _ => None,
                };
                let mut last = start;
                let result = self.run_branch(branch, input, &mut last, p.variables.clone(), path.clone(), resume).await;
                self.save_end(path, &result, last).await;
                result
            }
        });
        let result = match failed {
            Some(f) => Err(f),
            None => futures_util::future::try_join_all(runs).await,
        };
        *prev = self.last_id();
        match result {
            Ok(outputs) => {
                // AWS chains the state's exit to the event before ParallelStateSucceeded.
                let before = *prev;
                self.emit(prev, "ParallelStateSucceeded", None);
                *prev = before;
                Ok(Value::Array(outputs))
            }
            Err(f) => {
                self.emit(prev, "ParallelStateFailed", None);
                Err(f)
            }
        }
    }

    /// An inline Map state: its ItemProcessor run on each item, at most MaxConcurrency at
    /// once, results in item order.
    async fn map(
        &self,
        state: &Value,
        name: &str,
        input: Value,
        p: &Progress,
        prev: &mut u64,
    ) -> Result<Value, Failure> {
        let ctx = self.context(name, p, None);
        if crate::map_run::is_distributed(state) {
            return self.distributed_map(state, name, input, &ctx, p, prev).await;
        }
        let flow = asl::Flow { state, language: self.language(state), raw: &input, scope: &ctx };
        let items = match (flow.field("Items")?, state.get("ItemsPath").and_then(Value::as_str)) {
            (Some(items), _) => items,
            (None, Some(path)) => asl::select(path, &input, &ctx)?,
            (None, None) => input.clone(),
        };
        let Value::Array(items) = items else {
            return Err(Failure::new(
                "States.Runtime",
                format!(
                    "An error occurred while executing the state '{name}'. The ItemsPath field's value must be a JSON array"
                ),
            ));
        };
        let processor = state.get("ItemProcessor").or_else(|| state.get("Iterator")).cloned().unwrap_or(Value::Null);
        let selector = state.get("ItemSelector").or_else(|| state.get("Parameters"));
        let count = items.len();
        let last = *prev;
        match self.recorded(last, "MapStateStarted", |e| e["previousEventId"] == last) {
            Some(id) => *prev = id,
            None => {
                self.emit(prev, "MapStateStarted", Some(("mapStateStartedEventDetails", json!({ "length": count }))))
            }
        }
        let start = *prev;
        let limit = match flow.field("MaxConcurrency")?.and_then(|n| n.as_u64()) {
            Some(n) if n > 0 => n as usize,
            _ => count.max(1),
        };
        let tolerated_count = state["ToleratedFailureCount"].as_u64();
        let tolerated_percentage = state["ToleratedFailurePercentage"].as_f64();
        let tolerant = tolerated_count.is_some() || tolerated_percentage.is_some();
        // AWS chains an iteration's start to the last state event of the iteration before,
        // and its MapIteration{Succeeded,Failed} event is a side branch of that chain.
        let chain = Mutex::new(start);
        let runs = items.into_iter().enumerate().map(|(index, item)| {
            let processor = &processor;
            let input = &input;
            let chain = &chain;
            let flow = &flow;
            let run = async move {
                let item_input = match selector {
                    Some(template) => {
                        let scope = self.context(name, p, Some((index, &item)));
                        let selected = if flow.jsonata() {
                            let states = json!({ "input": input, "context": scope.full_context() });
                            flow.field_with("ItemSelector", template, &states)
                        } else {
                            asl::parameters(template, input, &scope)
                        };
                        selected.map_err(|f| (f, start))?
                    }
                    None => item,
                };
                // A resumed state's finished iterations answer what they saved.
                let path = self.nested_path(p, &format!("[{index}]"));
                let resume = match self.nested(path.as_deref(), p.entered_event) {
                    Some(table::Nested::Succeeded { output, last_event }) => {
                        *chain.lock().unwrap_or_else(|e| e.into_inner()) = last_event;
                        return Ok(output);
                    }
                    Some(table::Nested::Failed { error, cause, last_event }) => {
                        *chain.lock().unwrap_or_else(|e| e.into_inner()) = last_event;
                        return Err((Failure::new(error, cause), last_event));
                    }
                    Some(table::Nested::Running(progress)) => Some(progress),
                    None => None,
                };
                let mut last = *chain.lock().unwrap_or_else(|e| e.into_inner());
                let details = json!({ "name": name, "index": index });
                let field = "mapIterationStartedEventDetails";
                match self.recorded_iteration(start, name, index) {
                    Some(id) => last = id,
                    None if resume.is_none() => {
                        self.emit(&mut last, "MapIterationStarted", Some((field, details.clone())))
                    }
                    None => {}
                }
                let result =
                    self.run_branch(processor, item_input, &mut last, p.variables.clone(), path.clone(), resume).await;
                let state_last = last;
                match &result {
                    Ok(_) => self.emit(
                        &mut last,
                        "MapIterationSucceeded",
                        Some(("mapIterationSucceededEventDetails", details)),
                    ),
                    Err(_) => {
                        self.emit(&mut last, "MapIterationFailed", Some(("mapIterationFailedEventDetails", details)))
                    }
                }
                self.save_end(path, &result, state_last).await;
                *chain.lock().unwrap_or_else(|e| e.into_inner()) = state_last;
                result.map_err(|f| (f, state_last))
            };
            async move { (index, run.await) }
        });
        // MaxConcurrency iterations run at all times: one that ends makes room for the next
        // whatever the earlier ones are doing, and the outputs take their items' places.
        let mut results = futures_util::stream::iter(runs).buffer_unordered(limit);
        let mut outputs = vec![Value::Null; count];
        let mut failures = 0usize;
        let mut failed = None;
        while let Some((index, result)) = results.next().await {
            match result {
                Ok(output) => outputs[index] = output,
                Err((f, _)) if tolerant => {
                    failures += 1;
                    outputs[index] = json!({ "Error": f.error, "Cause": f.cause });
                }
                Err((f, state_last)) => {
                    failed = Some((f, state_last));
                    break;
                }
            }
        }
        drop(results);
        if failed.is_none() && tolerant {
            let over_count = tolerated_count.is_some_and(|n| failures as u64 > n);
            let over_percentage =
                tolerated_percentage.is_some_and(|pct| count > 0 && failures as f64 * 100.0 / count as f64 > pct);
            if over_count || over_percentage {
                let f = Failure::new(
                    "States.ExceedToleratedFailureThreshold",
                    "The specified tolerated failure threshold was exceeded",
                );
                failed = Some((f, self.last_id()));
            }
        }
        match failed {
            None => {
                *prev = self.last_id();
                let before = *prev;
                self.emit(prev, "MapStateSucceeded", None);
                *prev = before;
                Ok(Value::Array(outputs))
            }
            Some((f, state_last)) => {
                *prev = state_last;
                self.emit(prev, "MapStateFailed", None);
                Err(f)
            }
        }
    }

    /// A distributed Map state: a Map run of child executions ([`crate::map_run`]), recorded
    /// as MapRunStarted, then MapRunSucceeded or MapRunFailed.
    async fn distributed_map(
        &self,
        state: &Value,
        name: &str,
        input: Value,
        scope: &asl::Scope,
        p: &Progress,
        prev: &mut u64,
    ) -> Result<Value, Failure> {
        let parent = crate::map_run::Parent {
            sfn: &self.sfn,
            account: &self.account,
            region: &self.region,
            execution_arn: &self.arn,
            machine_arn: &self.machine_arn,
            machine_name: &self.machine_name,
            role_arn: &self.role_arn,
            state_name: name,
            entered_event: p.entered_event,
            retry_count: p.retry_count,
        };
        // A resumed Map run was recorded as started before the restart.
        let started = |arn: &str| {
            let recorded = self.events().iter().find(|e| e["mapRunStartedEventDetails"]["mapRunArn"] == arn).cloned();
            match recorded.and_then(|e| e["id"].as_u64()) {
                Some(id) => *prev = id,
                None => {
                    self.emit(prev, "MapRunStarted", Some(("mapRunStartedEventDetails", json!({ "mapRunArn": arn }))))
                }
            }
        };
        match crate::map_run::run(&parent, state, input, scope, started).await {
            Ok(output) => {
                self.emit(prev, "MapRunSucceeded", None);
                Ok(output)
            }
            Err((f, map_run)) => {
                if map_run.is_some() {
                    self.emit(prev, "MapRunFailed", Some(("mapRunFailedEventDetails", error_details(&f))));
                }
                Err(f)
            }
        }
    }
}

/// What an activity task records and saves through.
impl crate::activity::Recorder for Run {
    fn sfn(&self) -> &Arc<StepFunctions> {
        &self.sfn
    }

    fn execution_key(&self) -> Option<Vec<u8>> {
        self.key.clone()
    }

    fn emit(&self, prev: &mut u64, kind: &str, details: Option<(&str, Value)>) {
        Run::emit(self, prev, kind, details)
    }

    fn event_type(&self, id: u64) -> Option<String> {
        let events = self.events();
        events.get((id as usize).checked_sub(1)?).and_then(|e| e["type"].as_str()).map(str::to_string)
    }

    fn save<'a>(&'a self, progress: &'a Progress) -> crate::activity::Boxed<'a, ()> {
        Box::pin(Run::save(self, progress))
    }
}

/// `{error, cause}` of a failure's event, without the empty ones, as AWS leaves them out.
pub(crate) fn error_details(f: &Failure) -> Value {
    let mut details = serde_json::Map::new();
    if !f.error.is_empty() {
        details.insert("error".into(), json!(f.error));
    }
    if !f.cause.is_empty() {
        details.insert("cause".into(), json!(f.cause));
    }
    Value::Object(details)
}

/// AWS's limit on the data passed between states, in bytes of UTF-8 JSON.
const MAX_DATA_BYTES: usize = 262_144;

/// Whether `value`, as JSON text, is over AWS's 256 KiB limit on the data passed between states.
fn over_data_limit(value: &Value) -> bool {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // Small values are under the limit whatever their encoding: skip counting them.
    if matches!(value, Value::Null | Value::Bool(_) | Value::Number(_)) {
        return false;
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).is_ok() && count.0 > MAX_DATA_BYTES
}

/// The terminal failure of a state whose data is over the limit, as AWS words it.
fn data_limit_exceeded(state: &str) -> Failure {
    Failure::new(
        "States.DataLimitExceeded",
        format!(
            "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit."
        ),
    )
}

/// When a Wait state ends, in ms since the epoch; `input` is its effective input.
fn wait_until(flow: &asl::Flow, input: &Value) -> Result<u64, Failure> {
    let (error, prefix) = if flow.jsonata() { (asl::QUERY_EVALUATION_ERROR, "") } else { (asl::RUNTIME, "Path") };
    let seconds = |v: &Value| -> Result<u64, Failure> {
        v.as_f64().filter(|s| *s >= 0.0).map(|s| now_ms() + (s * 1000.0) as u64).ok_or_else(|| {
            Failure::new(error, format!("The Seconds{prefix} parameter does not reference a valid integer: {v}"))
        })
    };
    let timestamp = |v: &Value| -> Result<u64, Failure> {
        v.as_str()
            .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000).max(0) as u64)
            .ok_or_else(|| {
                Failure::new(
                    error,
                    format!("The Timestamp{prefix} parameter does not reference a valid ISO-8601 extended offset date-time format string: {v}"),
                )
            })
    };
    if let Some(v) = flow.field("Seconds")? {
        return seconds(&v);
    }
    if let Some(v) = flow.field("Timestamp")? {
        return timestamp(&v);
    }
    if let Some(path) = flow.state["SecondsPath"].as_str() {
        return seconds(&asl::select(path, input, flow.scope)?);
    }
    if let Some(path) = flow.state["TimestampPath"].as_str() {
        return timestamp(&asl::select(path, input, flow.scope)?);
    }
    Ok(now_ms())
}

async fn sleep_until(until_ms: u64) {
    let left = until_ms.saturating_sub(now_ms());
    if left > 0 {
        tokio::time::sleep(Duration::from_millis(left)).await;
    }
}

/// Whether a Task waits for its task token.
fn waits_for_token(state: &Value) -> bool {
    state["Resource"].as_str().is_some_and(|r| r.ends_with(".waitForTaskToken"))
}

/// The definition an execution runs, parsed, and its TimeoutSeconds.
pub(crate) fn parse(definition: &str) -> (Value, Option<u64>) {
    let machine: Value = serde_json::from_str(definition).unwrap_or(Value::Null);
    let timeout = machine["TimeoutSeconds"].as_u64();
    (machine, timeout)
}

/// The log of `execution`, when its state machine logs. A resumed execution logged what
/// it had saved (its first save comes after the events of its start).
fn open_log(sfn: &Arc<StepFunctions>, execution: &Execution) -> Option<crate::logging::Sink> {
    let key = table::machine_key(&execution.account, &execution.region, &execution.machine);
    let machine: table::StateMachine = table::get(&*sfn.kv, &key).ok().flatten()?;
    let handed = if execution.history.len() <= 1 { 0 } else { execution.history.len() };
    let start_ms = (execution.start * 1000.0).round() as u64;
    crate::logging::Sink::open(
        &sfn.logs,
        machine.logging.as_ref(),
        &execution.machine,
        &execution.arn,
        start_ms,
        handed,
    )
}

/// What TestState runs: one state, once, on `input`.
pub(crate) struct Trial {
    pub name: String,
    pub state: Value,
    pub language: asl::Language,
    pub input: Value,
    pub variables: serde_json::Map<String, Value>,
    /// Context object fields replacing those an execution would have.
    pub context: Option<Value>,
    /// What a Task answers instead of calling its resource.
    pub mock: Option<Result<Value, Failure>>,
    /// How many times the state's retriers have retried already.
    pub retry_count: u32,
}

/// How a [`Trial`] ended: `SUCCEEDED`, `FAILED`, `RETRIABLE` or `CAUGHT_ERROR`, and the data
/// TestState inspects, each as JSON text.
pub(crate) struct TrialEnd {
    pub status: &'static str,
    pub output: Option<Value>,
    pub failure: Option<Failure>,
    pub next: Option<String>,
    pub inspection: serde_json::Map<String, Value>,
    pub error_details: Option<Value>,
}

/// Runs `trial` in a throwaway in-memory execution: its retriers and catchers are reported,
/// not followed, and a Wait state does not wait.
pub(crate) async fn trial(sfn: &Arc<StepFunctions>, execution: &Execution, trial: Trial) -> TrialEnd {
    let run = Run::new(sfn.clone(), execution, false);
    let _ = run.language.set(trial.language);
    let seen = Mutex::new(serde_json::Map::new());
    let note = |name: &str, value: &Value| {
        seen.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), json!(value.to_string()));
    };
    note("input", &trial.input);
    let mut p = Progress {
        state: trial.name.clone(),
        input: trial.input.clone(),
        entered: iso(now_ms()),
        started: true,
        variables: Arc::new(trial.variables),
        ..Progress::default()
    };
    let state = &trial.state;
    let kind = state["Type"].as_str().unwrap_or_default();
    if let Some(Value::Object(given)) = trial.context {
        let _ = run.given_context.set(given);
    }
    let scope = run.context(&p.state, &p, None);
    let raw = trial.input.clone();
    let flow = asl::Flow { state, language: trial.language, raw: &raw, scope: &scope };
    let jsonpath = !flow.jsonata();
    let mut prev = 0;
    let outcome = match kind {
        "Task" | "Parallel" | "Map" => {
            async {
                let input = flow.input()?;
                if jsonpath {
                    note("afterInputPath", &input);
                }
                let result = match kind {
                    "Task" | "Parallel" => {
                        let effective = flow.arguments(input)?;
                        note(if jsonpath { "afterParameters" } else { "afterArguments" }, &effective);
                        match (kind, trial.mock.clone()) {
                            (_, Some(mocked)) => mocked?,
                            ("Task", None) => {
                                let options = TaskOptions {
                                    timeout: seconds(&flow, "TimeoutSeconds", &effective)?,
                                    heartbeat: seconds(&flow, "HeartbeatSeconds", &effective)?,
                                    token: None,
                                };
                                run.task(state, effective, options, &mut p, &mut prev, false).await?
                            }
                            _ => run.parallel(state, effective, &p, &mut prev).await?,
                        }
                    }
                    _ => run.map(state, &trial.name, input, &p, &mut prev).await?,
                };
                note("result", &result);
                let outcome = flow.with_result_seen(result, &mut |name, value| note(name, value))?;
                Ok(Step::after(state, outcome))
            }
            .await
        }
        _ => {
            if jsonpath && let Ok(input) = flow.input() {
                note("afterInputPath", &input);
            }
            p.until_ms = Some(0);
            run.run_state(state, kind, &mut p, &mut prev, false).await
        }
    };
    let mut end = TrialEnd {
        status: "SUCCEEDED",
        output: None,
        failure: None,
        next: None,
        inspection: serde_json::Map::new(),
        error_details: None,
    };
    let variables = |assigned: serde_json::Map<String, Value>| {
        let mut all = (*p.variables).clone();
        all.extend(assigned);
        Value::Object(all)
    };
    match outcome {
        Ok(step) => {
            note("variables", &variables(step.assigned));
            (end.output, end.next) = (Some(step.output), step.next);
        }
        Err(failure) => {
            let retriers = state["Retry"].as_array().map(Vec::as_slice).unwrap_or_default();
            let catchers = state["Catch"].as_array().map(Vec::as_slice).unwrap_or_default();
            let mut attempts = vec![trial.retry_count; retriers.len()];
            let retry = asl::retry_delay(retriers, &failure.error, &mut attempts, rand::random::<f64>());
            let retrier = retriers.iter().position(|r| {
                asl::error_matches(r["ErrorEquals"].as_array().map(Vec::as_slice).unwrap_or_default(), &failure.error)
            });
            let caught = asl::catch(catchers, &failure.error);
            let text = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
            let error = json!({ "Error": text(&failure.error), "Cause": text(&failure.cause) });
            match (retry, retrier, caught) {
                (Some(delay), Some(index), _) => {
                    end.status = "RETRIABLE";
                    end.error_details =
                        Some(json!({ "retryIndex": index, "retryBackoffIntervalSeconds": delay / 1000 }));
                    end.failure = Some(failure);
                }
                (_, _, Some((next, catcher))) => match flow.caught(catcher, error) {
                    Ok(outcome) => {
                        end.status = "CAUGHT_ERROR";
                        let index = catchers.iter().position(|c| std::ptr::eq(c, catcher)).unwrap_or_default();
                        end.error_details = Some(json!({ "catchIndex": index }));
                        note("variables", &variables(outcome.assigned));
                        (end.output, end.next) = (Some(outcome.output), Some(next));
                    }
                    Err(f) => (end.status, end.failure) = ("FAILED", Some(f)),
                },
                _ => (end.status, end.failure) = ("FAILED", Some(failure)),
            }
        }
    }
    end.inspection = seen.into_inner().unwrap_or_else(|e| e.into_inner());
    end
}

/// Runs an EXPRESS execution, kept in memory only, to its end.
pub(crate) fn run_in_memory(
    sfn: &Arc<StepFunctions>,
    execution: &Execution,
) -> impl Future<Output = End> + Send + 'static {
    let run = Arc::new(Run::new(sfn.clone(), execution, false));
    let (machine, timeout) = parse(&execution.definition);
    run.drive(machine, execution.progress.clone().unwrap_or_default(), timeout)
}

/// Starts running a stored STANDARD execution from its saved progress.
pub(crate) fn spawn(sfn: &Arc<StepFunctions>, execution: &Execution) {
    let Some(progress) = execution.progress.clone() else { return };
    let run = Arc::new(Run::new(sfn.clone(), execution, true));
    let (machine, timeout) = parse(&execution.definition);
    let mut running = sfn.running();
    let task = tokio::spawn(run.drive(machine, progress, timeout));
    running.insert(execution.arn.clone(), task.abort_handle());
}

/// Runs a stored STANDARD execution from its saved progress to its end in the caller's
/// task: a distributed Map's child, which its Map run drives and awaits.
pub(crate) fn run_stored(
    sfn: &Arc<StepFunctions>,
    execution: &Execution,
) -> impl Future<Output = End> + Send + 'static {
    let run = Arc::new(Run::new(sfn.clone(), execution, true));
    let (machine, timeout) = parse(&execution.definition);
    run.drive(machine, execution.progress.clone().unwrap_or_default(), timeout)
}

/// Resumes every STANDARD execution the store says is running.
pub(crate) fn resume_all(sfn: &Arc<StepFunctions>) -> Result<(), brume_storage::StorageError> {
    let executions: Vec<Execution> = table::scan(&*sfn.kv, &table::all_executions_prefix())?;
    // StopExecution ends a run without its own cleanup: forget the nested records it left.
    // Running executions stored before status records get theirs, for their saves to read.
    let (mut stopped, mut running) = (Vec::new(), Vec::new());
    for e in &executions {
        let key = table::execution_key(&e.account, &e.region, &e.machine, &e.name);
        if e.status == "RUNNING" {
            running.push((key, e.status.clone()));
        } else if table::has_nested(&*sfn.kv, &key)? {
            stopped.push(key);
        }
    }
    if !stopped.is_empty() || !running.is_empty() {
        let kv = sfn.kv.clone();
        tokio::spawn(async move {
            let cleaned = kv
                .transact(move |txn| {
                    table::migrate_statuses(txn, &running)?;
                    stopped.iter().try_for_each(|key| table::delete_nested(txn, key))
                })
                .await;
            if let Err(e) = cleaned {
                tracing::warn!(error = %e, "migrating or cleaning up stored executions failed");
            }
        });
    }
    // A distributed Map's children (of a `<machine>/<label>`) are resumed by their Map run.
    for mut execution in executions.into_iter().filter(|e| e.status == "RUNNING" && !e.machine.contains('/')) {
        tracing::info!(execution = %execution.arn, "resuming execution");
        let key = table::execution_key(&execution.account, &execution.region, &execution.machine, &execution.name);
        execution.history = table::read_history(&*sfn.kv, &key)?;
        spawn(sfn, &execution);
    }
    Ok(())
}
