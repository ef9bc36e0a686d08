//! Activities: their operations, GetActivityTask's long poll, and the Task states whose
//! Resource is an activity's ARN.
//!
//! A scheduled task waits in its activity's queue (`aq/…` records, oldest first) until a
//! worker takes it; its task token is an ordinary `tok/<token>` record of [`crate::token`]
//! with an [`ActivityClaim`], so SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat
//! answer it as they answer `.waitForTaskToken` tasks. Queue and token are stored, so a
//! STANDARD execution waiting on an activity resumes after a restart with its task still
//! queued, or still held by its worker.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use brume_core::{AwsError, RequestContext};
use brume_storage::{Direction, KeyRange};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::asl::{self, Failure};
use crate::machine::{Empty, page};
use crate::table::{self, Activity, ActivityClaim, Execution, Progress, QueuedTask};
use crate::token::{Outcome, TaskToken, new_token, token_key};
use crate::{StepFunctions, error, now, now_ms};

/// How long GetActivityTask waits for a task before answering without one.
const POLL: Duration = Duration::from_secs(60);

/// `(account, region, name)` of an activity ARN.
fn parse_activity_arn(arn: &str) -> Result<(String, String, String), AwsError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2] != "states" {
        return Err(error::invalid_arn_message(format!("Invalid Arn: 'Invalid ARN prefix: {arn}'")));
    }
    if parts[5] != "activity" {
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

/// Whether a Task's Resource (or a tagged resource) is an activity.
pub(crate) fn is_activity(arn: &str) -> bool {
    arn.starts_with("arn:aws:states:") && arn.split(':').nth(5) == Some("activity")
}

fn activity_does_not_exist(arn: &str) -> AwsError {
    AwsError::new(400, "ActivityDoesNotExist", format!("Activity Does Not Exist: '{arn}'"))
}

fn activity_already_exists(arn: &str) -> AwsError {
    AwsError::new(400, "ActivityAlreadyExists", format!("Activity Already Exists: '{arn}'"))
}

fn default_encryption() -> Value {
    json!({ "type": "AWS_OWNED_KEY" })
}

#[derive(Deserialize)]
pub struct ActivityTag {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateActivityInput {
    name: String,
    #[serde(default)]
    tags: Vec<ActivityTag>,
    encryption_configuration: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateActivityOutput {
    activity_arn: String,
    creation_date: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityArnInput {
    activity_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeActivityOutput {
    activity_arn: String,
    name: String,
    creation_date: f64,
    encryption_configuration: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListActivitiesInput {
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityItem {
    activity_arn: String,
    name: String,
    creation_date: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListActivitiesOutput {
    activities: Vec<ActivityItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetActivityTaskInput {
    activity_arn: String,
    worker_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetActivityTaskOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    task_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<String>,
}

impl StepFunctions {
    /// Wakes the GetActivityTask calls polling an activity when a task is queued for it.
    fn activity_waiter(&self, key: &[u8]) -> Arc<Notify> {
        self.activity_polls.lock().unwrap_or_else(|e| e.into_inner()).entry(key.to_vec()).or_default().clone()
    }

    async fn activity(&self, arn: &str) -> Result<Activity, AwsError> {
        let (account, region, name) = parse_activity_arn(arn)?;
        table::get(&*self.kv, &table::activity_key(&account, &region, &name))?
            .ok_or_else(|| activity_does_not_exist(arn))
    }

    pub(crate) async fn create_activity(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateActivityInput,
    ) -> Result<CreateActivityOutput, AwsError> {
        crate::check_name(&input.name)?;
        let activity = Activity {
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            name: input.name.clone(),
            created: now(),
            tags: input.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            encryption: input.encryption_configuration.unwrap_or_else(default_encryption),
        };
        let key = table::activity_key(&ctx.account, &ctx.region, &input.name);
        let created = self
            .kv
            .transact(move |txn| {
                if let Some(existing) = table::get::<Activity>(txn, &key)? {
                    // Idempotent by name: different tags are ignored (and not applied), a
                    // different encryption configuration is a conflict.
                    if existing.encryption != activity.encryption {
                        return Err(activity_already_exists(&existing.arn()));
                    }
                    return Ok(existing);
                }
                table::put(txn, &key, &activity)?;
                Ok::<_, AwsError>(activity)
            })
            .await?;
        Ok(CreateActivityOutput { activity_arn: created.arn(), creation_date: created.created })
    }

    pub(crate) async fn describe_activity(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: ActivityArnInput,
    ) -> Result<DescribeActivityOutput, AwsError> {
        let a = self.activity(&input.activity_arn).await?;
        Ok(DescribeActivityOutput {
            activity_arn: a.arn(),
            name: a.name,
            creation_date: a.created,
            encryption_configuration: a.encryption,
        })
    }

    pub(crate) async fn delete_activity(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: ActivityArnInput,
    ) -> Result<Empty, AwsError> {
        let (account, region, name) = parse_activity_arn(&input.activity_arn)?;
        let key = table::activity_key(&account, &region, &name);
        self.kv
            .transact(move |txn| {
                txn.delete(table::KEYSPACE, &key)?;
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(Empty {})
    }

    pub(crate) async fn list_activities(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListActivitiesInput,
    ) -> Result<ListActivitiesOutput, AwsError> {
        let all: Vec<Activity> = table::scan(&*self.kv, &table::activities_prefix(&ctx.account, &ctx.region))?;
        let (all, next_token) = page(all, input.max_results, input.next_token.as_deref())?;
        let activities = all
            .iter()
            .map(|a| ActivityItem { activity_arn: a.arn(), name: a.name.clone(), creation_date: a.created })
            .collect();
        Ok(ListActivitiesOutput { activities, next_token })
    }

    /// Hands the oldest task of the activity to a worker, waiting up to 60 seconds for one.
    pub(crate) async fn get_activity_task(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: GetActivityTaskInput,
    ) -> Result<GetActivityTaskOutput, AwsError> {
        let a = self.activity(&input.activity_arn).await?;
        let queue = table::activity_queue_prefix(&a.account, &a.region, &a.name);
        let notify = self.activity_waiter(&queue);
        let deadline = tokio::time::Instant::now() + POLL;
        loop {
            // Registered before looking, so a task queued meanwhile is not missed.
            let notified = notify.notified();
            if let Some((token, task_input)) = self.take_task(queue.clone(), input.worker_name.clone()).await? {
                self.notifier(&token).notify_one();
                return Ok(GetActivityTaskOutput { task_token: Some(token), input: Some(task_input) });
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(GetActivityTaskOutput { task_token: None, input: None });
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Takes the oldest queued task still awaited. Tasks of executions that ended are
    /// dropped from the queue on the way: they are never handed out.
    async fn take_task(&self, queue: Vec<u8>, worker: Option<String>) -> Result<Option<(String, String)>, AwsError> {
        self.kv
            .transact(move |txn| {
                let queued = txn.scan(table::KEYSPACE, &KeyRange::prefix(&queue), Direction::Forward, usize::MAX)?;
                let now = now_ms();
                for (key, value) in queued {
                    let task: QueuedTask = table::decode(&value)?;
                    let token = token_key(&task.token);
                    let Some(mut record) = table::get::<TaskToken>(txn, &token)? else {
                        txn.delete(table::KEYSPACE, &key)?;
                        continue;
                    };
                    let running = match &record.execution {
                        Some(execution) => {
                            table::get::<Execution>(txn, execution)?.is_some_and(|e| e.status == "RUNNING")
                        }
                        None => true,
                    };
                    if !running || record.outcome.is_some() {
                        txn.delete(table::KEYSPACE, &key)?;
                        txn.delete(table::KEYSPACE, &token)?;
                        continue;
                    }
                    let Some(claim) = record.activity.as_mut() else { continue };
                    // Its execution times it out at once: it is no longer to be done.
                    if claim.deadline_ms.is_some_and(|d| now >= d) {
                        continue;
                    }
                    claim.taken = true;
                    claim.worker = worker;
                    record.heartbeat_ms = now;
                    txn.delete(table::KEYSPACE, &key)?;
                    table::put(txn, &token, &record)?;
                    return Ok(Some((task.token, task.input)));
                }
                Ok::<_, AwsError>(None)
            })
            .await
    }

    /// Queues the task of `token` unless it is queued or taken already (a resumed
    /// execution keeps its task), and wakes the activity's pollers.
    async fn enqueue(
        &self,
        token: &str,
        activity: &Activity,
        call: &Call<'_>,
        execution: Option<Vec<u8>>,
    ) -> Result<(), AwsError> {
        let queue = table::activity_queue_prefix(&activity.account, &activity.region, &activity.name);
        let now = now_ms();
        let task = QueuedTask { token: token.to_string(), input: call.input.to_string() };
        let claim = ActivityClaim {
            queue_key: table::queued_task_key(
                &activity.account,
                &activity.region,
                &activity.name,
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
                    as i128,
                token,
            ),
            deadline_ms: call.timeout.map(|t| now + t * 1000),
            taken: false,
            worker: None,
        };
        let record = TaskToken { execution, outcome: None, heartbeat_ms: now, activity: Some(claim) };
        let key = token_key(token);
        self.kv
            .transact(move |txn| {
                if table::get::<TaskToken>(txn, &key)?.is_none() {
                    let claim = record.activity.as_ref().map(|c| c.queue_key.clone()).unwrap_or_default();
                    table::put(txn, &claim, &task)?;
                    table::put(txn, &key, &record)?;
                }
                Ok::<_, AwsError>(())
            })
            .await?;
        self.activity_waiter(&queue).notify_waiters();
        Ok(())
    }

    /// Forgets a task that ended: its token and, if no worker took it, its place in the queue.
    async fn end_task(&self, token: &str) {
        self.forget_token(token);
        let key = token_key(token);
        let ended = self
            .kv
            .transact(move |txn| {
                if let Some(claim) = table::get::<TaskToken>(txn, &key)?.and_then(|r| r.activity) {
                    txn.delete(table::KEYSPACE, &claim.queue_key)?;
                }
                txn.delete(table::KEYSPACE, &key)?;
                Ok::<_, AwsError>(())
            })
            .await;
        if let Err(e) = ended {
            tracing::warn!(error = %e.message, "deleting an activity task failed");
        }
    }

    /// Applies `f` to the tags of the activity `arn` (TagResource, UntagResource).
    pub(crate) async fn update_activity_tags(
        &self,
        arn: &str,
        f: impl FnOnce(&mut BTreeMap<String, String>) + Send + 'static,
    ) -> Result<(), AwsError> {
        let (account, region, name) = parse_activity_arn(arn).map_err(|_| error::resource_not_found(arn))?;
        let key = table::activity_key(&account, &region, &name);
        let arn = arn.to_string();
        self.kv
            .transact(move |txn| {
                let mut a: Activity = table::get(txn, &key)?.ok_or_else(|| error::resource_not_found(&arn))?;
                f(&mut a.tags);
                table::put(txn, &key, &a)?;
                Ok::<_, AwsError>(())
            })
            .await
    }

    /// The tags of the activity `arn` (ListTagsForResource).
    pub(crate) fn activity_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let (account, region, name) = parse_activity_arn(arn).map_err(|_| error::resource_not_found(arn))?;
        let a: Activity = table::get(&*self.kv, &table::activity_key(&account, &region, &name))?
            .ok_or_else(|| error::resource_not_found(arn))?;
        Ok(a.tags)
    }
}

pub(crate) type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What of a running execution an activity task needs: recording its history events and
/// saving its progress.
pub(crate) trait Recorder: Sync {
    fn sfn(&self) -> &Arc<StepFunctions>;
    /// The stored execution's key; `None` for EXPRESS executions.
    fn execution_key(&self) -> Option<Vec<u8>>;
    fn emit(&self, prev: &mut u64, kind: &str, details: Option<(&str, Value)>);
    /// The type of the recorded event `id`.
    fn event_type(&self, id: u64) -> Option<String>;
    fn save<'a>(&'a self, progress: &'a Progress) -> Boxed<'a, ()>;
}

/// A Task state's call of an activity.
pub(crate) struct Call<'a> {
    pub resource: &'a str,
    pub input: Value,
    pub timeout: Option<u64>,
    pub heartbeat: Option<u64>,
}

/// Runs a Task whose Resource is an activity: schedules its task, waits for a worker to
/// take it and answer, and records the Activity… events as AWS does. TimeoutSeconds
/// counts from the scheduling, HeartbeatSeconds from the take and each heartbeat; both
/// end the task with `States.Timeout`. A top-level state saves the task's token, so a
/// resumed execution waits for the same task.
pub(crate) async fn run<R: Recorder>(
    r: &R,
    call: Call<'_>,
    p: &mut Progress,
    prev: &mut u64,
    top: bool,
) -> Result<Value, Failure> {
    let sfn = r.sfn();
    let runtime = |e: AwsError| Failure::new(asl::RUNTIME, e.message);
    let (account, region, name) = parse_activity_arn(call.resource).map_err(runtime)?;
    let activity: Activity = table::get(&*sfn.kv, &table::activity_key(&account, &region, &name))
        .map_err(|e| runtime(e.into()))?
        .ok_or_else(|| Failure::new(asl::RUNTIME, format!("The activity {} does not exist.", call.resource)))?;
    let token = match p.token.clone() {
        Some(token) => token,
        None => {
            let mut details = json!({
                "resource": call.resource, "input": call.input.to_string(), "inputDetails": { "truncated": false },
            });
            if let Some(t) = call.timeout {
                details["timeoutInSeconds"] = json!(t);
            }
            if let Some(h) = call.heartbeat {
                details["heartbeatInSeconds"] = json!(h);
            }
            r.emit(prev, "ActivityScheduled", Some(("activityScheduledEventDetails", details)));
            let token = new_token();
            p.token = Some(token.clone());
            p.last_event = *prev;
            if top {
                r.save(p).await;
            }
            token
        }
    };
    let outcome = match sfn.enqueue(&token, &activity, &call, r.execution_key()).await {
        Ok(()) => wait(r, &token, call.heartbeat, p, prev, top).await,
        Err(e) => Err((runtime(e), false)),
    };
    sfn.end_task(&token).await;
    p.token = None;
    match outcome {
        Ok(output) => {
            let details = json!({ "output": output.to_string(), "outputDetails": { "truncated": false } });
            r.emit(prev, "ActivitySucceeded", Some(("activitySucceededEventDetails", details)));
            Ok(output)
        }
        Err((f, true)) => {
            let details = crate::engine::error_details(&f);
            r.emit(prev, "ActivityTimedOut", Some(("activityTimedOutEventDetails", details)));
            Err(f)
        }
        Err((f, false)) => {
            let details = crate::engine::error_details(&f);
            r.emit(prev, "ActivityFailed", Some(("activityFailedEventDetails", details)));
            Err(f)
        }
    }
}

/// Waits for the answer to the activity task of `token`, recording ActivityStarted when a
/// worker takes it. The error's flag says whether the task timed out.
async fn wait<R: Recorder>(
    r: &R,
    token: &str,
    heartbeat: Option<u64>,
    p: &mut Progress,
    prev: &mut u64,
    top: bool,
) -> Result<Value, (Failure, bool)> {
    let sfn = r.sfn();
    let notify = sfn.notifier(token);
    // A resumed execution recorded ActivityStarted already if it is its last event.
    let mut started = r.event_type(p.last_event).as_deref() == Some("ActivityStarted");
    loop {
        let notified = notify.notified();
        let record = sfn
            .token_record(token)
            .map_err(|e| (Failure::new(asl::RUNTIME, e.message), false))?
            .ok_or_else(|| (Failure::new(asl::RUNTIME, "The task token is gone"), false))?;
        let claim = record.activity.clone();
        let taken = claim.as_ref().is_some_and(|c| c.taken);
        if taken && !started {
            let worker = claim.as_ref().and_then(|c| c.worker.clone());
            let details = worker.map_or_else(|| json!({}), |w| json!({ "workerName": w }));
            r.emit(prev, "ActivityStarted", Some(("activityStartedEventDetails", details)));
            started = true;
            p.last_event = *prev;
            if top {
                r.save(p).await;
            }
        }
        match record.outcome {
            Some(Outcome::Success(output)) => {
                return Ok(serde_json::from_str(&output).unwrap_or(Value::String(output)));
            }
            Some(Outcome::Failure { error, cause }) => return Err((Failure::new(error, cause), false)),
            None => {}
        }
        let now = now_ms();
        let deadline = claim.and_then(|c| c.deadline_ms);
        let beat = heartbeat.filter(|_| taken).map(|h| record.heartbeat_ms + h * 1000);
        // AWS records a missed heartbeat as `States.Timeout` too.
        if [deadline, beat].into_iter().flatten().any(|at| now >= at) {
            return Err((Failure::new("States.Timeout", ""), true));
        }
        match [deadline, beat].into_iter().flatten().min() {
            Some(at) => {
                let _ = tokio::time::timeout(Duration::from_millis(at.saturating_sub(now)), notified).await;
            }
            None => notified.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_arns_are_told_from_other_resources() {
        let arn = "arn:aws:states:us-east-1:000000000000:activity:work";
        assert!(is_activity(arn));
        assert_eq!(
            parse_activity_arn(arn).unwrap(),
            ("000000000000".to_string(), "us-east-1".to_string(), "work".to_string())
        );
        assert!(!is_activity("arn:aws:states:us-east-1:000000000000:stateMachine:work"));
        assert!(!is_activity("arn:aws:states:::sqs:sendMessage"));
        assert!(!is_activity("arn:aws:lambda:us-east-1:000000000000:function:activity"));
        let wrong = parse_activity_arn("arn:aws:states:us-east-1:000000000000:stateMachine:work").unwrap_err();
        assert_eq!(wrong.message, "Invalid Arn: 'Resource type not valid in this context: stateMachine'");
        let prefix = parse_activity_arn("work").unwrap_err();
        assert_eq!(prefix.message, "Invalid Arn: 'Invalid ARN prefix: work'");
        assert_eq!(parse_activity_arn("arn:aws:states:us-east-1:0:activity:").unwrap_err().code, "InvalidArn");
    }
}
