//! Distributed Map: a Map run that runs its ItemProcessor as a child workflow execution
//! per item (or batch of items), and the Map run operations (DescribeMapRun, ListMapRuns,
//! UpdateMapRun, ListExecutions of a Map run).
//!
//! Records, in the `states` keyspace:
//! - `mr/<map run id>` → [`MapRun`]; `mrp/<execution ARN>/<entered event>/<retry>` → its id,
//!   the Map run a Map state's attempt started (a resumed execution finds it there);
//! - `mrc/<map run id>/<child index>` → [`ChildRef`]: the child started for that index
//!   (STANDARD children are executions stored as any, named `<machine>/<label>`; an EXPRESS
//!   child's record is written when it ends, with its outcome);
//! - `mrx/<child execution key>` → the child's Map run ARN.
//!
//! A STANDARD child is stored before it runs and saves its own progress, so after a restart
//! the Map run, resumed with its parent, drives the running children on from their saved
//! progress, counts the ended ones and starts only the others. `resume_all` leaves
//! children (the executions of a `<machine>/<label>`) to their Map run.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use brume_core::{AwsError, RequestContext};
use brume_storage::key::{self, Element};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::asl::{Failure, Scope};
use crate::engine::{self, End};
use crate::map_items::{self, ChildResult};
use crate::table::{self, Execution, Progress};
use crate::{StepFunctions, error, now};

/// AWS's limit on a distributed Map's concurrent children, and its default.
const MAX_CHILDREN: u64 = 10_000;

const EXCEEDED: &str = "States.ExceedToleratedFailureThreshold";
const EXCEEDED_CAUSE: &str = "The specified tolerated failure threshold was exceeded";

/// Whether a Map state runs in distributed mode.
pub(crate) fn is_distributed(state: &Value) -> bool {
    state["ItemProcessor"]["ProcessorConfig"]["Mode"].as_str() == Some("DISTRIBUTED")
}

/// How many items or children are in each stage, as DescribeMapRun counts them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub pending: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub aborted: u64,
    pub total: u64,
    pub results_written: u64,
    pub failures_not_redrivable: u64,
    pub pending_redrive: u64,
}

impl Counts {
    fn ended(&mut self, status: &str, n: u64) {
        match status {
            "SUCCEEDED" => self.succeeded += n,
            "FAILED" => self.failed += n,
            "TIMED_OUT" => self.timed_out += n,
            _ => self.aborted += n,
        }
    }

    fn failures(&self) -> u64 {
        self.failed + self.timed_out + self.aborted
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MapRun {
    pub id: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    pub execution_arn: String,
    /// The parent's state machine.
    pub machine_arn: String,
    /// `<machine>/<label>`: what the children's ARNs name as their state machine.
    pub child_machine: String,
    /// `STANDARD` or `EXPRESS`.
    pub child_type: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `ABORTED`.
    pub status: String,
    pub start: f64,
    pub stop: Option<f64>,
    pub max_concurrency: u64,
    pub tolerated_failure_percentage: f64,
    pub tolerated_failure_count: u64,
    /// Whether ToleratedFailurePercentage and ToleratedFailureCount were given: without
    /// either, no failure is tolerated.
    #[serde(default)]
    pub tolerance_given: [bool; 2],
    pub item_counts: Counts,
    pub execution_counts: Counts,
}

/// The child started for one index of a Map run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChildRef {
    pub name: String,
    pub arn: String,
    pub express: bool,
    /// An EXPRESS child's outcome (STANDARD children keep theirs in their execution).
    pub outcome: Option<Outcome>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start: f64,
    pub stop: f64,
}

fn map_run_key(id: &str) -> Vec<u8> {
    key::encode(&["mr".into(), id.into()])
}

fn parent_prefix(execution_arn: &str) -> Vec<u8> {
    key::encode(&["mrp".into(), execution_arn.into()])
}

fn parent_key(execution_arn: &str, entered: u64, retry: u32) -> Vec<u8> {
    key::encode(&["mrp".into(), execution_arn.into(), Element::Int(entered as i128), Element::Int(retry as i128)])
}

fn children_prefix(id: &str) -> Vec<u8> {
    key::encode(&["mrc".into(), id.into()])
}

fn child_key(id: &str, index: usize) -> Vec<u8> {
    key::encode(&["mrc".into(), id.into(), Element::Int(index as i128)])
}

fn child_owner_key(execution_key: &[u8]) -> Vec<u8> {
    [key::encode(&["mrx".into()]).as_slice(), execution_key].concat()
}

/// A running Map run's counts and limits, shared with DescribeMapRun and UpdateMapRun.
struct Live {
    state: Mutex<MapRun>,
    changed: tokio::sync::Notify,
}

/// The Map runs this process is running, by ARN.
static LIVE: LazyLock<Mutex<HashMap<String, Arc<Live>>>> = LazyLock::new(Mutex::default);

fn live(arn: &str) -> Option<Arc<Live>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).get(arn).cloned()
}

impl Parent<'_> {
    /// The parent's record, when it is a stored (STANDARD) execution.
    fn execution_key(&self) -> Option<Vec<u8>> {
        let parts: Vec<&str> = self.execution_arn.split(':').collect();
        (parts.len() == 8 && parts[5] == "execution")
            .then(|| table::execution_key(self.account, self.region, parts[6], parts[7]))
    }
}

impl Live {
    fn get(&self) -> std::sync::MutexGuard<'_, MapRun> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A Map run being driven. Dropped before its end (StopExecution aborts its parent's task),
/// it aborts the Map run and its running children once the store says the parent stopped.
struct Running {
    live: Arc<Live>,
    sfn: Arc<StepFunctions>,
    parent_key: Option<Vec<u8>>,
    done: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        let run = self.live.get().clone();
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(&run.arn);
        let Some(key) = self.parent_key.clone().filter(|_| !self.done) else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let sfn = self.sfn.clone();
        runtime.spawn(async move {
            if let Err(e) = abort_stopped(&sfn, run, &key).await {
                tracing::warn!(error = %e.message, "aborting the Map run of a stopped execution failed");
            }
        });
    }
}

/// Aborts a Map run and its running STANDARD children if its parent was stopped.
async fn abort_stopped(sfn: &StepFunctions, mut run: MapRun, parent_key: &[u8]) -> Result<(), AwsError> {
    let parent: Option<Execution> = table::get(&*sfn.kv, parent_key)?;
    if parent.is_none_or(|p| p.status != "ABORTED") {
        return Ok(());
    }
    let children: Vec<ChildRef> = table::scan(&*sfn.kv, &children_prefix(&run.id))?;
    for child in children.iter().filter(|c| !c.express) {
        abort_child(sfn, &run, &child.name).await?;
    }
    for counts in [&mut run.item_counts, &mut run.execution_counts] {
        counts.aborted += std::mem::take(&mut counts.running);
    }
    close(sfn, run, "ABORTED").await;
    Ok(())
}

/// Who runs a distributed Map: the parent execution and the Map state's attempt.
pub(crate) struct Parent<'a> {
    pub sfn: &'a Arc<StepFunctions>,
    pub account: &'a str,
    pub region: &'a str,
    pub execution_arn: &'a str,
    pub machine_arn: &'a str,
    pub machine_name: &'a str,
    pub role_arn: &'a str,
    pub state_name: &'a str,
    pub entered_event: u64,
    pub retry_count: u32,
}

/// Runs a distributed Map state on `input` to its result: the children's outputs in item
/// order, or the ResultWriter's details. `started` is told the Map run's ARN once it exists.
pub(crate) async fn run(
    parent: &Parent<'_>,
    state: &Value,
    input: Value,
    scope: &Scope,
    started: impl FnOnce(&str),
) -> Result<Value, (Failure, Option<String>)> {
    let sfn = parent.sfn;
    let items = map_items::read_items(sfn, parent.account, state, &input, scope).await.map_err(|f| (f, None))?;
    let item_count = items.len() as u64;
    let inputs = map_items::child_inputs(state, items, &input, scope).map_err(|f| (f, None))?;
    let number = |field: &str| map_items::number(state, field, &input, scope).map_err(|f| (f, None));
    let map_run = open(
        parent,
        state,
        &inputs,
        item_count,
        number("MaxConcurrency")?,
        [number("ToleratedFailurePercentage")?, number("ToleratedFailureCount")?],
    )
    .await
    .map_err(|e| (Failure::new("States.Runtime", e.message), None))?;
    started(&map_run.arn);
    let arn = map_run.arn.clone();
    let live = Arc::new(Live { state: Mutex::new(map_run), changed: tokio::sync::Notify::new() });
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).insert(arn.clone(), live.clone());
    let mut running = Running { live: live.clone(), sfn: sfn.clone(), parent_key: parent.execution_key(), done: false };
    let driven = drive(parent, state, &live, inputs).await;
    running.done = true;
    drop(running);
    let (results, failure) = driven.map_err(|e| (Failure::new("States.Runtime", e.message), Some(arn.clone())))?;
    let mut output = Value::Array(
        results
            .iter()
            .map(|r| match (&r.output, r.status.as_str()) {
                (Some(output), _) => serde_json::from_str(output).unwrap_or(Value::Null),
                (None, "PENDING") => Value::Null,
                (None, _) => json!({ "Error": r.error, "Cause": r.cause }),
            })
            .collect(),
    );
    if let Some(writer) = state.get("ResultWriter").filter(|w| w.get("Resource").is_some()) {
        let written = map_items::write_results(sfn, parent.account, writer, &input, scope, &arn, &results).await;
        match written {
            Ok(details) => {
                output = details;
                let written = results.iter().filter(|r| r.status != "PENDING").count() as u64;
                let mut run = live.get();
                run.execution_counts.results_written = written;
                run.item_counts.results_written = run.item_counts.total - run.item_counts.pending;
            }
            Err(f) => {
                let run = live.get().clone();
                close(sfn, run, "FAILED").await;
                return Err((f, Some(arn)));
            }
        }
    }
    let run = live.get().clone();
    match failure {
        Some(f) => {
            close(sfn, run, "FAILED").await;
            Err((f, Some(arn)))
        }
        None => {
            close(sfn, run, "SUCCEEDED").await;
            Ok(output)
        }
    }
}

/// The Map run of this attempt of the state: the stored one when the parent resumes, or a
/// new one.
async fn open(
    parent: &Parent<'_>,
    state: &Value,
    inputs: &[(Value, usize)],
    item_count: u64,
    max_concurrency: Option<f64>,
    tolerated: [Option<f64>; 2],
) -> Result<MapRun, AwsError> {
    let index = parent_key(parent.execution_arn, parent.entered_event, parent.retry_count);
    let kv = &parent.sfn.kv;
    if let Some(id) = table::get::<String>(&**kv, &index)?
        && let Some(run) = table::get::<MapRun>(&**kv, &map_run_key(&id))?
    {
        return Ok(run);
    }
    let label = state["Label"].as_str().unwrap_or(parent.state_name);
    let child_machine = format!("{}/{label}", parent.machine_name);
    let id = uuid::Uuid::new_v4().to_string();
    let child_type = state["ItemProcessor"]["ProcessorConfig"]["ExecutionType"].as_str().unwrap_or("STANDARD");
    let counts = |total: u64| Counts { pending: total, total, ..Counts::default() };
    let run = MapRun {
        arn: format!("arn:aws:states:{}:{}:mapRun:{child_machine}:{id}", parent.region, parent.account),
        id: id.clone(),
        account: parent.account.to_string(),
        region: parent.region.to_string(),
        execution_arn: parent.execution_arn.to_string(),
        machine_arn: parent.machine_arn.to_string(),
        child_machine,
        child_type: child_type.to_string(),
        status: "RUNNING".into(),
        start: now(),
        stop: None,
        max_concurrency: max_concurrency.map(|n| n as u64).unwrap_or(0),
        tolerated_failure_percentage: tolerated[0].unwrap_or(0.0),
        tolerated_failure_count: tolerated[1].map(|n| n as u64).unwrap_or(0),
        tolerance_given: [tolerated[0].is_some(), tolerated[1].is_some()],
        item_counts: counts(item_count),
        execution_counts: counts(inputs.len() as u64),
    };
    let record = run.clone();
    kv.transact(move |txn| {
        table::put(txn, &map_run_key(&record.id), &record)?;
        table::put(txn, &index, &record.id)?;
        Ok::<_, AwsError>(())
    })
    .await?;
    Ok(run)
}

/// Records the Map run's end.
async fn close(sfn: &StepFunctions, mut run: MapRun, status: &str) {
    run.status = status.to_string();
    run.stop = Some(now());
    let saved = sfn.kv.transact(move |txn| table::put(txn, &map_run_key(&run.id), &run)).await;
    if let Err(e) = saved {
        tracing::warn!(error = %e, "recording the end of a Map run failed");
    }
}

/// Whether the failed items so far exceed either tolerated threshold given (none given:
/// any failure does).
fn exceeded(run: &MapRun) -> bool {
    let failed = run.item_counts.failures();
    let over_percentage =
        failed as f64 * 100.0 / run.item_counts.total.max(1) as f64 > run.tolerated_failure_percentage;
    let over_count = failed > run.tolerated_failure_count;
    match run.tolerance_given {
        [false, false] => failed > 0,
        [percentage, count] => (percentage && over_percentage) || (count && over_count),
    }
}

/// A child as the Map run holds it while it runs.
struct Child {
    index: usize,
    execution: Execution,
}

/// Runs the children not yet ended, at most MaxConcurrency at once; their results in index
/// order, and the Map's failure when the failures exceeded the tolerated ones.
async fn drive(
    parent: &Parent<'_>,
    state: &Value,
    live: &Arc<Live>,
    inputs: Vec<(Value, usize)>,
) -> Result<(Vec<ChildResult>, Option<Failure>), AwsError> {
    let sfn = parent.sfn;
    let run = live.get().clone();
    let express = run.child_type == "EXPRESS";
    let child_machine_arn = format!("arn:aws:states:{}:{}:stateMachine:{}", run.region, run.account, run.child_machine);
    let mut processor = state["ItemProcessor"].clone();
    if let Some(p) = processor.as_object_mut() {
        p.remove("ProcessorConfig");
    }
    let definition = processor.to_string();
    let sizes: Vec<u64> = inputs.iter().map(|(_, n)| *n as u64).collect();
    let mut results: Vec<ChildResult> = inputs
        .iter()
        .map(|(input, _)| ChildResult {
            arn: String::new(),
            name: String::new(),
            machine_arn: child_machine_arn.clone(),
            status: "PENDING".into(),
            input: input.to_string(),
            output: None,
            error: None,
            cause: None,
            start: 0.0,
            stop: None,
        })
        .collect();
    let mut inputs: Vec<Option<Value>> = inputs.into_iter().map(|(v, _)| Some(v)).collect();
    // What the store says of the children already started.
    let mut resumed = Vec::new();
    let started: Vec<(Vec<u8>, Vec<u8>)> = sfn.kv.scan(
        table::KEYSPACE,
        &brume_storage::KeyRange::prefix(&children_prefix(&run.id)),
        brume_storage::Direction::Forward,
        usize::MAX,
    )?;
    let mut counts = (run.item_counts.clone(), run.execution_counts.clone());
    counts.0 = Counts { pending: counts.0.total, total: counts.0.total, ..Counts::default() };
    counts.1 = Counts { pending: counts.1.total, total: counts.1.total, ..Counts::default() };
    for (k, v) in &started {
        let Some(Element::Int(index)) = key::decode(k).ok().and_then(|e| e.into_iter().last()) else { continue };
        let index = index as usize;
        if index >= results.len() {
            continue;
        }
        let child: ChildRef = table::decode(v)?;
        inputs[index] = None;
        let r = &mut results[index];
        r.arn = child.arn.clone();
        r.name = child.name.clone();
        if let Some(o) = child.outcome {
            end_result(r, &o);
            counts.0.pending -= sizes[index];
            counts.0.ended(&o.status, sizes[index]);
            counts.1.pending -= 1;
            counts.1.ended(&o.status, 1);
            continue;
        }
        let execution_key = table::execution_key(&run.account, &run.region, &run.child_machine, &child.name);
        let Some(mut execution) = table::get::<Execution>(&*sfn.kv, &execution_key)? else { continue };
        counts.0.pending -= sizes[index];
        counts.1.pending -= 1;
        if execution.status == "RUNNING" {
            execution.history = table::read_history(&*sfn.kv, &execution_key)?;
            counts.0.running += sizes[index];
            counts.1.running += 1;
            resumed.push(Child { index, execution });
        } else {
            let o = outcome_of(&execution);
            end_result(r, &o);
            counts.0.ended(&o.status, sizes[index]);
            counts.1.ended(&o.status, 1);
        }
    }
    {
        let mut run = live.get();
        run.item_counts = counts.0;
        run.execution_counts = counts.1;
    }
    let mut pending: VecDeque<usize> = (0..inputs.len()).filter(|i| inputs[*i].is_some()).collect();
    let mut running = FuturesUnordered::new();
    let child_run = |child: Child| {
        let sfn = sfn.clone();
        async move {
            let Child { index, execution } = child;
            let end = if express {
                engine::run_in_memory(&sfn, &execution).await
            } else {
                engine::run_stored(&sfn, &execution).await
            };
            let mut o = Outcome {
                status: String::new(),
                input: execution.input.clone(),
                output: None,
                error: None,
                cause: None,
                start: execution.start,
                stop: now(),
            };
            match end {
                End::Succeeded(v) => {
                    o.status = "SUCCEEDED".into();
                    o.output = Some(v.to_string());
                }
                End::Failed(f) => {
                    o.status = "FAILED".into();
                    o.error = Some(f.error).filter(|s| !s.is_empty());
                    o.cause = Some(f.cause).filter(|s| !s.is_empty());
                }
                End::TimedOut => {
                    o.status = "TIMED_OUT".into();
                    o.error = Some("States.Timeout".into());
                }
            }
            (index, execution, o)
        }
    };
    for child in resumed {
        running.push(child_run(child));
    }
    let mut failure = None;
    loop {
        let limit = match live.get().max_concurrency {
            0 => MAX_CHILDREN,
            n => n.min(MAX_CHILDREN),
        } as usize;
        let mut batch = Vec::new();
        while running.len() + batch.len() < limit
            && let Some(index) = pending.pop_front()
        {
            let input = inputs[index].take().unwrap_or(Value::Null);
            batch.push(new_child(parent, &run, &child_machine_arn, &definition, index, input));
        }
        if !batch.is_empty() {
            if !express {
                store_children(sfn, &run, &batch).await?;
            }
            let mut r = live.get();
            for child in &batch {
                r.item_counts.pending -= sizes[child.index];
                r.item_counts.running += sizes[child.index];
                r.execution_counts.pending -= 1;
                r.execution_counts.running += 1;
                results[child.index].arn = child.execution.arn.clone();
                results[child.index].name = child.execution.name.clone();
            }
            drop(r);
            for child in batch {
                running.push(child_run(child));
            }
        }
        if running.is_empty() {
            break;
        }
        let ended = tokio::select! {
            ended = running.next() => ended,
            _ = live.changed.notified() => continue,
        };
        let Some((index, execution, o)) = ended else { break };
        if express {
            let child = ChildRef {
                name: execution.name.clone(),
                arn: execution.arn.clone(),
                express: true,
                outcome: Some(o.clone()),
            };
            let k = child_key(&run.id, index);
            sfn.kv.transact(move |txn| table::put(txn, &k, &child)).await?;
        }
        end_result(&mut results[index], &o);
        let over = {
            let mut r = live.get();
            r.item_counts.running -= sizes[index];
            r.item_counts.ended(&o.status, sizes[index]);
            r.execution_counts.running -= 1;
            r.execution_counts.ended(&o.status, 1);
            exceeded(&r)
        };
        if over {
            failure = Some(Failure::new(EXCEEDED, EXCEEDED_CAUSE));
            break;
        }
    }
    // The children still running when the Map fails are aborted.
    drop(running);
    if failure.is_some() {
        let aborted: Vec<usize> =
            results.iter().enumerate().filter(|(_, r)| r.status == "RUNNING").map(|(i, _)| i).collect();
        for index in aborted {
            if !express {
                abort_child(sfn, &run, &results[index].name).await?;
            }
            let stop = now();
            let r = &mut results[index];
            r.status = "ABORTED".into();
            r.stop = Some(stop);
            let mut l = live.get();
            l.item_counts.running -= sizes[index];
            l.item_counts.aborted += sizes[index];
            l.execution_counts.running -= 1;
            l.execution_counts.aborted += 1;
        }
    }
    Ok((results, failure))
}

fn end_result(r: &mut ChildResult, o: &Outcome) {
    r.status = o.status.clone();
    r.input = o.input.clone();
    r.output = o.output.clone();
    r.error = o.error.clone();
    r.cause = o.cause.clone();
    r.start = o.start;
    r.stop = Some(o.stop);
}

fn outcome_of(e: &Execution) -> Outcome {
    Outcome {
        status: e.status.clone(),
        input: e.input.clone(),
        output: e.output.clone(),
        error: e.error.clone(),
        cause: e.cause.clone(),
        start: e.start,
        stop: e.stop.unwrap_or(e.start),
    }
}

/// A child execution for `index`, named as AWS names a Map run's children.
fn new_child(
    parent: &Parent<'_>,
    run: &MapRun,
    machine_arn: &str,
    definition: &str,
    index: usize,
    input: Value,
) -> Child {
    let name = uuid::Uuid::new_v4().to_string();
    let arn = match run.child_type.as_str() {
        "EXPRESS" => format!(
            "arn:aws:states:{}:{}:express:{}:{name}:{}",
            run.region,
            run.account,
            run.child_machine,
            uuid::Uuid::new_v4()
        ),
        _ => format!("arn:aws:states:{}:{}:execution:{}:{name}", run.region, run.account, run.child_machine),
    };
    let start = now();
    let text = input.to_string();
    let started = json!({
        "timestamp": start, "type": "ExecutionStarted", "id": 1, "previousEventId": 0,
        "executionStartedEventDetails": {
            "input": text, "inputDetails": { "truncated": false }, "roleArn": parent.role_arn,
        },
    });
    let start_at = engine::parse(definition).0["StartAt"].as_str().unwrap_or_default().to_string();
    let execution = Execution {
        account: run.account.clone(),
        region: run.region.clone(),
        machine: run.child_machine.clone(),
        name,
        machine_arn: machine_arn.to_string(),
        arn,
        status: "RUNNING".into(),
        input: text,
        output: None,
        error: None,
        cause: None,
        start,
        stop: None,
        definition: definition.to_string(),
        role_arn: parent.role_arn.to_string(),
        machine_updated: start,
        revision_id: String::new(),
        history: vec![started],
        progress: Some(Progress { state: start_at, input, last_event: 0, ..Progress::default() }),
        ..Execution::default()
    };
    Child { index, execution }
}

/// Stores STANDARD children, with their index in the Map run, before they run.
async fn store_children(sfn: &StepFunctions, run: &MapRun, children: &[Child]) -> Result<(), AwsError> {
    let records: Vec<(usize, Execution)> = children.iter().map(|c| (c.index, c.execution.clone())).collect();
    let (id, map_run_arn) = (run.id.clone(), run.arn.clone());
    sfn.kv
        .transact(move |txn| {
            for (index, e) in &records {
                let key = table::execution_key(&e.account, &e.region, &e.machine, &e.name);
                table::put_execution(txn, &key, e)?;
                table::append_history(txn, &key, &e.history)?;
                table::put(txn, &child_owner_key(&key), &map_run_arn)?;
                let child = ChildRef { name: e.name.clone(), arn: e.arn.clone(), express: false, outcome: None };
                table::put(txn, &child_key(&id, *index), &child)?;
            }
            Ok::<_, AwsError>(())
        })
        .await
}

/// Ends a STANDARD child the Map run no longer waits for, as StopExecution would.
async fn abort_child(sfn: &StepFunctions, run: &MapRun, name: &str) -> Result<(), AwsError> {
    let key = table::execution_key(&run.account, &run.region, &run.child_machine, name);
    sfn.kv
        .transact(move |txn| {
            let Some(mut e) = table::get::<Execution>(txn, &key)? else { return Ok(()) };
            if e.status != "RUNNING" {
                return Ok(());
            }
            let last = table::last_event_id(txn, &key)?;
            let event =
                json!({ "timestamp": now(), "type": "ExecutionAborted", "id": last + 1, "previousEventId": last });
            table::append_history(txn, &key, &[event])?;
            e.status = "ABORTED".into();
            e.stop = Some(now());
            e.progress = None;
            table::put_execution(txn, &key, &e)?;
            Ok::<_, AwsError>(())
        })
        .await
}

/// The Map run a stored child execution belongs to.
pub(crate) fn map_run_of(sfn: &StepFunctions, execution: &Execution) -> Result<Option<String>, AwsError> {
    if !execution.machine.contains('/') {
        return Ok(None);
    }
    let key = table::execution_key(&execution.account, &execution.region, &execution.machine, &execution.name);
    Ok(table::get(&*sfn.kv, &child_owner_key(&key))?)
}

/// `(account, region, id)` of a Map run ARN.
fn parse_map_run_arn(arn: &str) -> Result<(String, String, String), AwsError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2] != "states" {
        return Err(error::invalid_arn_message(format!("Invalid Arn: 'Invalid ARN prefix: {arn}'")));
    }
    if parts[5] != "mapRun" {
        return Err(error::invalid_arn_message(format!(
            "Invalid Arn: 'Resource type not valid in this context: {}'",
            parts[5]
        )));
    }
    if parts.len() != 8 || !parts[6].contains('/') || parts[7].is_empty() {
        return Err(error::invalid_arn(arn));
    }
    Ok((parts[4].to_string(), parts[3].to_string(), parts[7].to_string()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapRunArnInput {
    map_run_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeMapRunOutput {
    map_run_arn: String,
    execution_arn: String,
    status: String,
    start_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_date: Option<f64>,
    max_concurrency: u64,
    tolerated_failure_percentage: f64,
    tolerated_failure_count: u64,
    item_counts: Counts,
    execution_counts: Counts,
    redrive_count: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMapRunsInput {
    execution_arn: String,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MapRunItem {
    execution_arn: String,
    map_run_arn: String,
    state_machine_arn: String,
    start_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_date: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMapRunsOutput {
    map_runs: Vec<MapRunItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateMapRunInput {
    map_run_arn: String,
    max_concurrency: Option<i64>,
    tolerated_failure_percentage: Option<f64>,
    tolerated_failure_count: Option<i64>,
}

#[derive(Serialize)]
pub struct Empty {}

impl StepFunctions {
    /// A Map run as it is now: a running one's counts are the live ones.
    fn map_run(&self, arn: &str) -> Result<MapRun, AwsError> {
        let (account, region, id) = parse_map_run_arn(arn)?;
        if let Some(live) = live(arn) {
            return Ok(live.get().clone());
        }
        table::get::<MapRun>(&*self.kv, &map_run_key(&id))?
            .filter(|r| r.account == account && r.region == region && r.arn == arn)
            .ok_or_else(|| error::resource_not_found(arn))
    }

    /// The STANDARD children of a Map run, for ListExecutions.
    pub(crate) fn map_run_children(&self, arn: &str) -> Result<Vec<Execution>, AwsError> {
        let run = self.map_run(arn)?;
        let children: Vec<ChildRef> = table::scan(&*self.kv, &children_prefix(&run.id))?;
        let mut executions = Vec::new();
        for child in children.iter().filter(|c| !c.express) {
            let key = table::execution_key(&run.account, &run.region, &run.child_machine, &child.name);
            executions.extend(table::get::<Execution>(&*self.kv, &key)?);
        }
        Ok(executions)
    }

    pub(crate) async fn describe_map_run(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: MapRunArnInput,
    ) -> Result<DescribeMapRunOutput, AwsError> {
        let r = self.map_run(&input.map_run_arn)?;
        Ok(DescribeMapRunOutput {
            map_run_arn: r.arn,
            execution_arn: r.execution_arn,
            status: r.status,
            start_date: r.start,
            stop_date: r.stop,
            max_concurrency: r.max_concurrency,
            tolerated_failure_percentage: r.tolerated_failure_percentage,
            tolerated_failure_count: r.tolerated_failure_count,
            item_counts: r.item_counts,
            execution_counts: r.execution_counts,
            redrive_count: 0,
        })
    }

    pub(crate) async fn list_map_runs(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: ListMapRunsInput,
    ) -> Result<ListMapRunsOutput, AwsError> {
        let parts: Vec<&str> = input.execution_arn.split(':').collect();
        if parts.len() != 8 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "execution" {
            return Err(error::invalid_arn(&input.execution_arn));
        }
        let key = table::execution_key(parts[4], parts[3], parts[6], parts[7]);
        if table::get::<Execution>(&*self.kv, &key)?.is_none() {
            return Err(error::execution_does_not_exist(&input.execution_arn));
        }
        let ids: Vec<String> = table::scan(&*self.kv, &parent_prefix(&input.execution_arn))?;
        let mut runs = Vec::new();
        for id in ids {
            if let Some(r) = table::get::<MapRun>(&*self.kv, &map_run_key(&id))? {
                runs.push(r);
            }
        }
        let (runs, next_token) = crate::machine::page(runs, input.max_results, input.next_token.as_deref())?;
        let map_runs = runs
            .iter()
            .map(|r| MapRunItem {
                execution_arn: r.execution_arn.clone(),
                map_run_arn: r.arn.clone(),
                state_machine_arn: r.machine_arn.clone(),
                start_date: r.start,
                stop_date: r.stop,
            })
            .collect();
        Ok(ListMapRunsOutput { map_runs, next_token })
    }

    pub(crate) async fn update_map_run(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: UpdateMapRunInput,
    ) -> Result<Empty, AwsError> {
        if input.max_concurrency.is_none()
            && input.tolerated_failure_percentage.is_none()
            && input.tolerated_failure_count.is_none()
        {
            return Err(error::validation(
                "Must specify at least one of maxConcurrency, toleratedFailurePercentage, toleratedFailureCount",
            )
            .with_field("reason", "MISSING_REQUIRED_PARAMETER"));
        }
        if let Some(n) = input.max_concurrency.filter(|n| *n < 0) {
            return Err(error::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 0"
            )));
        }
        if let Some(n) = input.tolerated_failure_count.filter(|n| *n < 0) {
            return Err(error::validation(format!(
                "1 validation error detected: Value '{n}' at 'toleratedFailureCount' failed to satisfy constraint: Member must have value greater than or equal to 0"
            )));
        }
        if let Some(p) = input.tolerated_failure_percentage.filter(|p| !(0.0..=100.0).contains(p)) {
            return Err(error::validation(format!(
                "1 validation error detected: Value '{p}' at 'toleratedFailurePercentage' failed to satisfy constraint: Member must have value between 0 and 100"
            )));
        }
        let r = self.map_run(&input.map_run_arn)?;
        let Some(live) = live(&r.arn).filter(|_| r.status == "RUNNING") else {
            return Err(error::validation(format!("Map Run {} is not running and cannot be updated", r.arn))
                .with_field("reason", "CANNOT_UPDATE_COMPLETED_MAP_RUN"));
        };
        let record = {
            let mut run = live.get();
            if let Some(n) = input.max_concurrency {
                run.max_concurrency = n as u64;
            }
            if let Some(p) = input.tolerated_failure_percentage {
                run.tolerated_failure_percentage = p;
                run.tolerance_given[0] = true;
            }
            if let Some(n) = input.tolerated_failure_count {
                run.tolerated_failure_count = n as u64;
                run.tolerance_given[1] = true;
            }
            run.clone()
        };
        let key = map_run_key(&record.id);
        self.kv.transact(move |txn| table::put(txn, &key, &record)).await?;
        live.changed.notify_one();
        Ok(Empty {})
    }
}
