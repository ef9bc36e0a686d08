//! Dead-letter queues: the checks a RedrivePolicy must pass (the target exists, is of the
//! same type, and its RedriveAllowPolicy lets the source in), ListDeadLetterSourceQueues,
//! and message move tasks that send a dead-letter queue's messages back to their sources
//! (or to a chosen queue) at a bounded rate, recorded so their progress outlives restarts.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use brume_core::{AwsError, RequestContext};
use brume_storage::{Direction, Txn};
use serde::{Deserialize, Serialize};

use crate::table::{self, KEYSPACE, Message, MoveTask, Queue, parse_arn};
use crate::{Sqs, error, now_ms};

/// Messages moved per transaction when the task sets no rate.
const MOVE_BATCH: u64 = 100;
/// SQS keeps the last ten tasks of each source queue.
const TASKS_KEPT: usize = 10;

/// (account, name, maxReceiveCount) of the queue's dead-letter queue, if it has one.
pub(crate) fn redrive_target(queue: &Queue) -> Option<(String, String, u64)> {
    let policy: serde_json::Value = serde_json::from_str(queue.attributes.get("RedrivePolicy")?).ok()?;
    let (account, name) = parse_arn(policy.get("deadLetterTargetArn")?.as_str()?)?;
    let count = policy.get("maxReceiveCount").and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))?;
    Some((account, name, count))
}

/// Whether `queue`'s dead-letter queue is `dlq`.
fn redrives_to(queue: &Queue, dlq: &Queue) -> bool {
    redrive_target(queue).is_some_and(|(account, name, _)| account == dlq.account && name == dlq.name)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSourcesInput {
    queue_url: String,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
pub struct ListSourcesOutput {
    #[serde(rename = "queueUrls")]
    queue_urls: Vec<String>,
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartMoveInput {
    source_arn: String,
    destination_arn: Option<String>,
    max_number_of_messages_per_second: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartMoveOutput {
    task_handle: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMovesInput {
    source_arn: String,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MoveTaskEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    task_handle: Option<String>,
    status: String,
    source_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_number_of_messages_per_second: Option<u64>,
    approximate_number_of_messages_moved: u64,
    approximate_number_of_messages_to_move: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    started_timestamp: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMovesOutput {
    results: Vec<MoveTaskEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelMoveInput {
    task_handle: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelMoveOutput {
    approximate_number_of_messages_moved: u64,
}

/// What a task handle carries: SQS's handles are base64 JSON naming the task and source.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Handle {
    task_id: String,
    source_arn: String,
}

fn handle_of(task: &MoveTask) -> String {
    let handle = Handle { task_id: task.id.clone(), source_arn: task.source_arn.clone() };
    B64.encode(serde_json::to_vec(&handle).unwrap_or_default())
}

fn not_found(what: &str) -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        format!("The resource that you specified for the {what} parameter doesn't exist."),
    )
}

impl Sqs {
    fn all_queues(&self, account: &str) -> Result<Vec<Queue>, AwsError> {
        self.kv
            .scan(KEYSPACE, &table::queues_of(account), Direction::Forward, usize::MAX)?
            .into_iter()
            .map(|(_, v)| Ok(table::decode(&v)?))
            .collect()
    }

    /// A RedrivePolicy being set on `source_arn` must name an existing queue of the same
    /// type whose RedriveAllowPolicy admits the source.
    pub(crate) fn check_redrive(
        &self,
        source_arn: &str,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let Some(value) = attributes.get("RedrivePolicy").filter(|v| !v.is_empty()) else { return Ok(()) };
        let invalid = |reason: &str| {
            error::invalid_parameter(format!("Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}"))
        };
        let policy: serde_json::Value = serde_json::from_str(value).map_err(|_| invalid("Invalid JSON."))?;
        let target = policy.get("deadLetterTargetArn").and_then(|a| a.as_str()).unwrap_or_default();
        let dlq = match parse_arn(target) {
            Some((account, name)) => self.queue_at(&account, &name)?,
            None => None,
        };
        let Some(dlq) = dlq else { return Err(invalid("Dead letter target does not exist.")) };
        let source_name = source_arn.rsplit(':').next().unwrap_or_default();
        if table::is_fifo(&dlq.name) != table::is_fifo(source_name) {
            return Err(invalid("Dead-letter queue must be same type of queue as the source."));
        }
        if let Some(allow) = dlq.attributes.get("RedriveAllowPolicy") {
            let allow: serde_json::Value = serde_json::from_str(allow).unwrap_or_default();
            let admitted = match allow.get("redrivePermission").and_then(|p| p.as_str()) {
                Some("denyAll") => false,
                Some("byQueue") => allow
                    .get("sourceQueueArns")
                    .and_then(|s| s.as_array())
                    .is_some_and(|arns| arns.iter().any(|a| a.as_str() == Some(source_arn))),
                _ => true,
            };
            if !admitted {
                return Err(invalid(&format!(
                    "Queue {target} does not allow this queue to use it as a dead-letter queue."
                )));
            }
        }
        Ok(())
    }

    pub(crate) async fn list_dead_letter_source_queues(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListSourcesInput,
    ) -> Result<ListSourcesOutput, AwsError> {
        let dlq = self.queue(&ctx, &input.queue_url)?;
        let max = match input.max_results {
            None => usize::MAX,
            Some(n @ 1..=1000) => n as usize,
            Some(_) => {
                return Err(error::invalid_parameter(
                    "Value for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.",
                ));
            }
        };
        let after = input.next_token.unwrap_or_default();
        let mut queue_urls = Vec::new();
        let mut next_token = None;
        for q in self.all_queues(&ctx.account)? {
            if !redrives_to(&q, &dlq) || (!after.is_empty() && q.name <= after) {
                continue;
            }
            if queue_urls.len() == max {
                next_token = queue_urls.last().and_then(|u: &String| u.rsplit('/').next()).map(str::to_string);
                break;
            }
            queue_urls.push(self.url(&q));
        }
        Ok(ListSourcesOutput { queue_urls, next_token })
    }

    pub(crate) async fn start_message_move_task(
        self: Arc<Self>,
        ctx: RequestContext,
        input: StartMoveInput,
    ) -> Result<StartMoveOutput, AwsError> {
        let source = parse_arn(&input.source_arn)
            .filter(|(account, _)| *account == ctx.account)
            .map(|(account, name)| self.queue_at(&account, &name))
            .transpose()?
            .flatten()
            .ok_or_else(|| not_found("SourceArn"))?;
        let source_arn = source.arn();
        if !self.all_queues(&ctx.account)?.iter().any(|q| redrives_to(q, &source)) {
            return Err(error::invalid_parameter("Source queue must be configured as a Dead Letter Queue."));
        }
        if let Some(destination) = &input.destination_arn {
            let found = parse_arn(destination).map(|(a, n)| self.queue_at(&a, &n)).transpose()?.flatten();
            if found.is_none() {
                return Err(not_found("DestinationArn"));
            }
        }
        let rate = match input.max_number_of_messages_per_second {
            None => None,
            Some(r @ 1..=500) => Some(r as u64),
            Some(r) => {
                return Err(error::invalid_parameter(format!(
                    "Value {r} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500."
                )));
            }
        };
        let to_move = self
            .kv
            .scan(
                KEYSPACE,
                &table::visible_at(
                    &source.account,
                    &source.name,
                    self.marks.get(&source.account, &source.name),
                    now_ms(),
                ),
                Direction::Forward,
                usize::MAX,
            )?
            .len() as u64;
        let task = MoveTask {
            id: uuid::Uuid::new_v4().to_string(),
            source_arn: source_arn.clone(),
            destination_arn: input.destination_arn,
            max_per_second: rate,
            status: "RUNNING".into(),
            moved: 0,
            to_move,
            started_ms: now_ms(),
            failure_reason: None,
        };
        let record = task.clone();
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let existing = txn.scan(KEYSPACE, &table::tasks_of(Some(&record.source_arn)), Direction::Forward, usize::MAX)?;
                for (_, v) in &existing {
                    if table::decode::<MoveTask>(v)?.status == "RUNNING" {
                        return Err(error::invalid_parameter(
                            "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
                        ));
                    }
                }
                // Keep the most recent tasks only.
                for (k, _) in existing.iter().take((existing.len() + 1).saturating_sub(TASKS_KEPT)) {
                    txn.delete(KEYSPACE, k)?;
                }
                txn.put(KEYSPACE, &table::task_key(&record.source_arn, record.started_ms, &record.id), &table::encode(&record))?;
                Ok::<_, AwsError>(())
            })
            .await?;
        let handle = handle_of(&task);
        self.run_move(task);
        Ok(StartMoveOutput { task_handle: handle })
    }

    pub(crate) async fn list_message_move_tasks(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListMovesInput,
    ) -> Result<ListMovesOutput, AwsError> {
        let max = match input.max_results {
            None => 1,
            Some(n @ 1..=10) => n as usize,
            Some(n) => {
                return Err(error::invalid_parameter(format!(
                    "Value {n} for parameter MaxResults is invalid. Reason: Must be between 1 and 10."
                )));
            }
        };
        let exists = parse_arn(&input.source_arn)
            .filter(|(account, _)| *account == ctx.account)
            .map(|(a, n)| self.queue_at(&a, &n))
            .transpose()?
            .flatten();
        if exists.is_none() {
            return Err(not_found("SourceArn"));
        }
        let tasks = self.kv.scan(KEYSPACE, &table::tasks_of(Some(&input.source_arn)), Direction::Reverse, max)?;
        let results = tasks
            .into_iter()
            .map(|(_, v)| {
                let t: MoveTask = table::decode(&v)?;
                Ok(MoveTaskEntry {
                    task_handle: (t.status == "RUNNING").then(|| handle_of(&t)),
                    status: t.status,
                    source_arn: t.source_arn,
                    destination_arn: t.destination_arn,
                    max_number_of_messages_per_second: t.max_per_second,
                    approximate_number_of_messages_moved: t.moved,
                    approximate_number_of_messages_to_move: t.to_move,
                    failure_reason: t.failure_reason,
                    started_timestamp: t.started_ms,
                })
            })
            .collect::<Result<_, AwsError>>()?;
        Ok(ListMovesOutput { results })
    }

    pub(crate) async fn cancel_message_move_task(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CancelMoveInput,
    ) -> Result<CancelMoveOutput, AwsError> {
        let missing = || AwsError::new(404, "ResourceNotFoundException", "Task does not exist.");
        let handle: Handle = B64
            .decode(&input.task_handle)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| error::invalid_parameter("Value for parameter TaskHandle is invalid."))?;
        if parse_arn(&handle.source_arn).is_none_or(|(account, _)| account != ctx.account) {
            return Err(missing());
        }
        let moved = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                for (k, v) in
                    txn.scan(KEYSPACE, &table::tasks_of(Some(&handle.source_arn)), Direction::Forward, usize::MAX)?
                {
                    let mut t: MoveTask = table::decode(&v)?;
                    if t.id != handle.task_id {
                        continue;
                    }
                    if t.status != "RUNNING" {
                        return Err(error::invalid_parameter("Only active tasks can be cancelled."));
                    }
                    t.status = "CANCELLING".into();
                    txn.put(KEYSPACE, &k, &table::encode(&t))?;
                    return Ok(t.moved);
                }
                Err(missing())
            })
            .await?;
        Ok(CancelMoveOutput { approximate_number_of_messages_moved: moved })
    }

    /// Picks up tasks a previous run of Brume left running: those running as the service
    /// starts, read before its first request (which may start a task, and runs it itself).
    pub(crate) fn resume_moves(self: &Arc<Self>) {
        let tasks = match self.kv.scan(KEYSPACE, &table::tasks_of(None), Direction::Forward, usize::MAX) {
            Ok(tasks) => tasks,
            Err(e) => return tracing::warn!(error = %e, "could not read message move tasks"),
        };
        for (_, v) in tasks {
            if let Ok(t) = table::decode::<MoveTask>(&v)
                && (t.status == "RUNNING" || t.status == "CANCELLING")
            {
                self.run_move(t);
            }
        }
    }

    /// Runs a move task in the background, one transaction per step, until it has moved
    /// what it counted, the source is empty, or it is cancelled.
    fn run_move(self: &Arc<Self>, task: MoveTask) {
        let state = self.clone();
        tokio::spawn(async move {
            let key = table::task_key(&task.source_arn, task.started_ms, &task.id);
            let per_step = task.max_per_second.unwrap_or(MOVE_BATCH);
            loop {
                let (key, marks) = (key.clone(), state.marks.clone());
                let step = state.kv.transact(move |txn: &mut dyn Txn| move_step(txn, &marks, &key, per_step)).await;
                match step {
                    Ok((woken, true)) => {
                        state.wake_arns(&woken);
                        if task.max_per_second.is_some() {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        } else {
                            tokio::task::yield_now().await;
                        }
                    }
                    Ok((woken, false)) => return state.wake_arns(&woken),
                    Err(e) => return tracing::warn!(error = %e.message, "message move task stopped"),
                }
            }
        });
    }

    fn wake_arns(&self, arns: &[String]) {
        for arn in arns {
            if let Some((account, name)) = parse_arn(arn) {
                self.wake_named(&account, &name);
            }
        }
    }
}

/// Moves up to `limit` messages for the task at `key`; answers the queues it sent to and
/// whether the task goes on.
fn move_step(txn: &mut dyn Txn, marks: &table::Marks, key: &[u8], limit: u64) -> Result<(Vec<String>, bool), AwsError> {
    let Some(v) = txn.get(KEYSPACE, key)? else { return Ok((Vec::new(), false)) };
    let mut task: MoveTask = table::decode(&v)?;
    let finish = |txn: &mut dyn Txn, task: &mut MoveTask, status: &str| {
        task.status = status.into();
        txn.put(KEYSPACE, key, &table::encode(task))
    };
    if task.status == "CANCELLING" {
        finish(txn, &mut task, "CANCELLED")?;
        return Ok((Vec::new(), false));
    }
    let Some((account, name)) = parse_arn(&task.source_arn) else { return Ok((Vec::new(), false)) };
    let now = now_ms();
    let remaining = task.to_move.saturating_sub(task.moved).min(limit) as usize;
    let from = marks.get(&account, &name);
    let batch = txn.scan(KEYSPACE, &table::visible_at(&account, &name, from, now), Direction::Forward, remaining)?;
    let mut woken = Vec::new();
    for (_, v) in &batch {
        let mut m: Message = table::decode(v)?;
        let Some(destination) = task.destination_arn.clone().or_else(|| m.dead_letter_source.clone()) else {
            task.failure_reason = Some("The message has no source queue to return to: set DestinationArn.".into());
            finish(txn, &mut task, "FAILED")?;
            return Ok((woken, false));
        };
        let target = parse_arn(&destination)
            .map(|(a, n)| txn.get(KEYSPACE, &table::queue_key(&a, &n)).map(|q| q.map(|_| (a, n))))
            .transpose()?
            .flatten();
        let Some((dest_account, dest_name)) = target else {
            task.failure_reason = Some(format!("Destination queue {destination} does not exist."));
            finish(txn, &mut task, "FAILED")?;
            return Ok((woken, false));
        };
        table::remove(txn, &account, &name, &m)?;
        m.visible_ms = now;
        m.receive_count = 0;
        m.first_receive_ms = None;
        m.receipt_token.clear();
        m.dead_letter_source = None;
        table::insert(txn, marks, &dest_account, &dest_name, &m)?;
        task.moved += 1;
        if !woken.contains(&destination) {
            woken.push(destination);
        }
    }
    let more = batch.len() == remaining && task.moved < task.to_move;
    if more {
        txn.put(KEYSPACE, key, &table::encode(&task))?;
    } else {
        finish(txn, &mut task, "COMPLETED")?;
    }
    Ok((woken, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_arns() {
        assert_eq!(parse_arn("arn:aws:sqs:us-east-1:000000000000:dlq"), Some(("000000000000".into(), "dlq".into())));
        assert_eq!(parse_arn("arn:aws:sns:us-east-1:000000000000:t"), None);
        assert_eq!(parse_arn("dlq"), None);
    }

    #[test]
    fn handles_are_base64_json() {
        let task = MoveTask {
            id: "t1".into(),
            source_arn: "arn:aws:sqs:us-east-1:000000000000:dlq".into(),
            destination_arn: None,
            max_per_second: None,
            status: "RUNNING".into(),
            moved: 0,
            to_move: 0,
            started_ms: 0,
            failure_reason: None,
        };
        let decoded: serde_json::Value = serde_json::from_slice(&B64.decode(handle_of(&task)).unwrap()).unwrap();
        assert_eq!(decoded["taskId"], "t1");
        assert_eq!(decoded["sourceArn"], "arn:aws:sqs:us-east-1:000000000000:dlq");
    }
}
