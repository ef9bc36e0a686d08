//! A state machine's `loggingConfiguration`: its validation, and the delivery of its
//! executions' history events to CloudWatch Logs as AWS writes them.
//!
//! Each execution logs to its own stream, `states/<machine>/<YYYY-MM-DD-HH-MM>/<8 hex>`,
//! one JSON line per event: `id`, `type`, `details`, `previous_event_id`,
//! `event_timestamp` (ms) and `execution_arn`, numbers as strings as AWS writes them.
//! The level chooses the event types ([`logged`]); without `includeExecutionData` the
//! details lose their `input` and `output`.
//!
//! Events are handed over in batches (when a run saves, waits, or ends) to a task per
//! execution that delivers them in order, merging what queued meanwhile, so logging
//! never holds a transition up; the end of a run waits for its last batch.

use std::sync::{Arc, Mutex};

use brume_core::AwsError;
use brume_core::clients::{LogEvent, LogsClient};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::error;

/// Largest number of events in one delivery, CloudWatch's PutLogEvents limit.
const MAX_BATCH: usize = 10_000;

/// The event types the ERROR level logs (FATAL logs the first three only).
const ERROR_TYPES: &[&str] = &[
    "ExecutionAborted",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "FailStateEntered",
    "LambdaFunctionFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut",
    "MapStateAborted",
    "MapStateFailed",
    "MapIterationAborted",
    "MapIterationFailed",
    "MapRunAborted",
    "MapRunFailed",
    "ParallelStateAborted",
    "ParallelStateFailed",
    "TaskFailed",
    "TaskStartFailed",
    "TaskStateAborted",
    "TaskSubmitFailed",
    "TaskTimedOut",
    "WaitStateAborted",
];

/// Whether `level` logs events of type `kind`.
pub(crate) fn logged(level: &str, kind: &str) -> bool {
    match level {
        "ALL" => true,
        "ERROR" => ERROR_TYPES.contains(&kind),
        "FATAL" => ERROR_TYPES[..3].contains(&kind),
        _ => false,
    }
}

fn invalid(message: &str) -> AwsError {
    AwsError::new(400, "InvalidLoggingConfiguration", format!("Invalid Logging Configuration: {message}"))
}

/// `(account, region, group)` of a destination's `logGroupArn`,
/// `arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*`.
fn parse_group_arn(arn: &str) -> Result<(String, String, String), AwsError> {
    let Some(rest) = arn.strip_suffix(":*") else {
        return Err(invalid("Log Group ARN must be provided with '*' qualifier."));
    };
    let parts: Vec<&str> = rest.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", _, "logs", region, account, "log-group", name]
            if !region.is_empty() && !account.is_empty() && !name.is_empty() =>
        {
            Ok((account.to_string(), region.to_string(), name.to_string()))
        }
        _ => Err(invalid("Log Destination not found.")),
    }
}

/// The configuration as stored and described: `level` (OFF when absent) and
/// `includeExecutionData` (false when absent) always present, or AWS's error for it.
pub(crate) fn check(config: &Value) -> Result<Value, AwsError> {
    let level = match config.get("level") {
        None | Some(Value::Null) => "OFF",
        Some(v) => v.as_str().unwrap_or_default(),
    };
    if !["ALL", "ERROR", "FATAL", "OFF"].contains(&level) {
        return Err(error::validation(format!(
            "1 validation error detected: Value '{level}' at 'loggingConfiguration.level' failed to satisfy constraint: Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]"
        )));
    }
    let destinations = config.get("destinations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if destinations.len() > 1 || (level != "OFF" && destinations.is_empty()) {
        return Err(invalid("Must specify exactly one Log Destination."));
    }
    for destination in destinations {
        let arn = destination["cloudWatchLogsLogGroup"]["logGroupArn"].as_str().unwrap_or_default();
        parse_group_arn(arn)?;
    }
    let mut stored = config.clone();
    stored["level"] = json!(level);
    stored["includeExecutionData"] = json!(config["includeExecutionData"].as_bool().unwrap_or(false));
    Ok(stored)
}

/// Where and what an execution logs.
struct Target {
    account: String,
    region: String,
    group: String,
    stream: String,
    level: String,
    data: bool,
    execution_arn: String,
}

impl Target {
    /// The log line of `event`, if the level logs its type.
    fn line(&self, event: &Value) -> Option<LogEvent> {
        let kind = event["type"].as_str().unwrap_or_default();
        if !logged(&self.level, kind) {
            return None;
        }
        let timestamp_ms = (event["timestamp"].as_f64().unwrap_or_default() * 1000.0).round() as i64;
        let mut details = event
            .as_object()
            .and_then(|o| o.iter().find(|(k, v)| k.ends_with("EventDetails") && v.is_object()))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| json!({}));
        if !self.data
            && let Some(d) = details.as_object_mut()
        {
            d.remove("input");
            d.remove("output");
        }
        let line = json!({
            "id": event["id"].as_u64().unwrap_or_default().to_string(),
            "type": kind,
            "details": details,
            "previous_event_id": event["previousEventId"].as_u64().unwrap_or_default().to_string(),
            "event_timestamp": timestamp_ms.to_string(),
            "execution_arn": self.execution_arn,
            "redrive_count": "0",
        });
        Some(LogEvent { timestamp_ms, message: line.to_string() })
    }
}

/// An execution's log: the events handed over so far, and the task delivering them.
pub(crate) struct Sink {
    target: Arc<Target>,
    /// How many of the execution's history events have been handed over.
    handed: Mutex<usize>,
    /// When events were last handed over, in ms.
    last_ms: Mutex<u64>,
    queue: Mutex<Option<mpsc::UnboundedSender<Vec<LogEvent>>>>,
    delivery: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Sink {
    /// The log of execution `execution_arn` of machine `machine` (started at `start_ms`)
    /// under `config`, or `None` when it logs nothing. `handed` events are logged already.
    pub(crate) fn open(
        logs: &Arc<dyn LogsClient>,
        config: Option<&Value>,
        machine: &str,
        execution_arn: &str,
        start_ms: u64,
        handed: usize,
    ) -> Option<Sink> {
        let config = config?;
        let level = config["level"].as_str().unwrap_or("OFF");
        if level == "OFF" {
            return None;
        }
        let arn = config["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"].as_str()?;
        let (account, region, group) = parse_group_arn(arn).ok()?;
        let minute = crate::iso(start_ms);
        let minute = format!("{}-{}", &minute[..10], minute[11..16].replace(':', "-"));
        let hash = {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(execution_arn.as_bytes());
            digest[..4].iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let target = Arc::new(Target {
            account,
            region,
            group,
            stream: format!("states/{machine}/{minute}/{hash}"),
            level: level.to_string(),
            data: config["includeExecutionData"].as_bool().unwrap_or(false),
            execution_arn: execution_arn.to_string(),
        });
        let (queue, mut batches) = mpsc::unbounded_channel::<Vec<LogEvent>>();
        let logs = logs.clone();
        let to = target.clone();
        let delivery = tokio::spawn(async move {
            while let Some(mut events) = batches.recv().await {
                while events.len() < MAX_BATCH
                    && let Ok(more) = batches.try_recv()
                {
                    events.extend(more);
                }
                while !events.is_empty() {
                    let rest = events.split_off(events.len().min(MAX_BATCH));
                    let sent = logs.put_log_events(&to.account, &to.region, &to.group, &to.stream, events).await;
                    if let Err(e) = sent {
                        tracing::warn!(execution = %to.execution_arn, error = %e.message, "logging execution events failed");
                    }
                    events = rest;
                }
            }
        });
        Some(Sink {
            target,
            handed: Mutex::new(handed),
            last_ms: Mutex::new(crate::now_ms()),
            queue: Mutex::new(Some(queue)),
            delivery: tokio::sync::Mutex::new(Some(delivery)),
        })
    }

    /// Whether a batch is due: `pending` events wait, or some have waited a second.
    pub(crate) fn due(&self, total: usize) -> bool {
        let handed = *self.handed.lock().unwrap_or_else(|e| e.into_inner());
        let last = *self.last_ms.lock().unwrap_or_else(|e| e.into_inner());
        total > handed && (total - handed >= 1000 || crate::now_ms() >= last + 1000)
    }

    /// How many events are handed over already.
    pub(crate) fn handed(&self) -> usize {
        *self.handed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands over `events`, the history's events from [`Sink::handed`] on.
    pub(crate) fn hand(&self, events: &[Value]) {
        let lines: Vec<LogEvent> = events.iter().filter_map(|e| self.target.line(e)).collect();
        *self.handed.lock().unwrap_or_else(|e| e.into_inner()) += events.len();
        *self.last_ms.lock().unwrap_or_else(|e| e.into_inner()) = crate::now_ms();
        if lines.is_empty() {
            return;
        }
        if let Some(queue) = &*self.queue.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = queue.send(lines);
        }
    }

    /// Hands over the last `events` and waits until everything is delivered.
    pub(crate) async fn close(&self, events: &[Value]) {
        self.hand(events);
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(delivery) = self.delivery.lock().await.take() {
            let _ = delivery.await;
        }
    }
}

/// Logs one event recorded outside a run (StopExecution's ExecutionAborted) to the log of
/// execution `execution_arn`.
pub(crate) async fn log_one(
    logs: &Arc<dyn LogsClient>,
    config: Option<&Value>,
    machine: &str,
    execution_arn: &str,
    start_ms: u64,
    event: &Value,
) {
    if let Some(sink) = Sink::open(logs, config, machine, execution_arn, start_ms, 0) {
        sink.close(std::slice::from_ref(event)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/states/x:*";

    fn config(level: &str, data: bool) -> Value {
        json!({ "level": level, "includeExecutionData": data,
                "destinations": [{ "cloudWatchLogsLogGroup": { "logGroupArn": ARN } }] })
    }

    #[test]
    fn configurations_checked_and_completed() {
        assert_eq!(check(&json!({})).unwrap(), json!({ "level": "OFF", "includeExecutionData": false }));
        assert_eq!(check(&config("ERROR", true)).unwrap(), config("ERROR", true));
        let one = "Invalid Logging Configuration: Must specify exactly one Log Destination.";
        assert_eq!(check(&json!({ "level": "ALL" })).unwrap_err().message, one);
        let mut two = config("ALL", false);
        two["destinations"] = json!([two["destinations"][0], two["destinations"][0]]);
        assert_eq!(check(&two).unwrap_err().message, one);
        let mut bare = config("ALL", false);
        bare["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"] = json!(&ARN[..ARN.len() - 2]);
        assert_eq!(check(&bare).unwrap_err().code, "InvalidLoggingConfiguration");
        assert_eq!(check(&json!({ "level": "LOUD" })).unwrap_err().code, "ValidationException");
    }

    #[test]
    fn levels_choose_event_types() {
        assert!(logged("ALL", "PassStateEntered"));
        assert!(logged("ERROR", "TaskFailed") && !logged("ERROR", "TaskSucceeded"));
        assert!(logged("FATAL", "ExecutionTimedOut") && !logged("FATAL", "TaskFailed"));
        assert!(!logged("OFF", "ExecutionFailed"));
    }

    #[test]
    fn lines_as_aws_writes_them() {
        let target = Target {
            account: "000000000000".into(),
            region: "us-east-1".into(),
            group: "g".into(),
            stream: "s".into(),
            level: "ALL".into(),
            data: false,
            execution_arn: "arn:e".into(),
        };
        let event = json!({
            "timestamp": 1.5, "type": "PassStateExited", "id": 3, "previousEventId": 2,
            "stateExitedEventDetails": { "name": "P", "output": "{}", "outputDetails": { "truncated": false } },
        });
        let line = target.line(&event).unwrap();
        assert_eq!(line.timestamp_ms, 1500);
        let message: Value = serde_json::from_str(&line.message).unwrap();
        assert_eq!(
            message,
            json!({
                "id": "3", "type": "PassStateExited", "previous_event_id": "2", "event_timestamp": "1500",
                "execution_arn": "arn:e", "redrive_count": "0",
                "details": { "name": "P", "outputDetails": { "truncated": false } },
            })
        );
    }
}
