//! Event (asynchronous) invocations. Invoke with `InvocationType: Event` writes the event
//! into the outbox (`brume-events`, target `lambda`, kind `invoke`) before it answers 202,
//! so a crash after the answer loses nothing; SNS subscriptions and S3 notifications queue
//! their records for functions the same way (their own kinds, `{"arn", "message"}`).
//!
//! The dispatcher waits for a whole batch of handlers before its next pass, so the handler
//! does not run the function itself: it records the event as in flight
//! (`eic/run/<request id>`) and hands it to a task. The task invokes the function, then
//! settles in one transaction: the in-flight record goes, and a retry (the next attempt,
//! due after the retry delay), a destination record, or nothing takes its place. In-flight
//! records left by an earlier process go back into the outbox at start.
//!
//! A function error is retried per the function's event invoke configuration (two retries
//! by default, about one then two minutes apart as on AWS: `BRUME_LAMBDA_ASYNC_RETRY_DELAY_MS`
//! sets the first delay), until MaximumEventAgeInSeconds; then the record goes to the
//! OnFailure destination, or the event to the function's dead-letter queue or topic.
//! Throttles are retried without counting as attempts.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use brume_core::clients::{MessageAttribute, OutgoingMessage};
use brume_core::{AwsError, RequestContext};
use brume_events::{DeliveryError, Event, Handler};
use brume_storage::key;
use brume_storage::{Direction, KeyRange, Txn};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Lambda;
use crate::config::{self, DEFAULT_MAX_AGE_SECONDS, DEFAULT_RETRIES};
use crate::executor::{Invocation, Outcome};
use crate::function::Resolved;
use crate::table::KEYSPACE;

/// The largest Event invocation payload.
const MAX_ASYNC_PAYLOAD: usize = 262_144;

/// The kind of the outbox events Invoke writes.
const INVOKE: &str = "invoke";

/// The delay before the first retry of a failed invocation; the second waits twice as long.
static RETRY_DELAY_MS: LazyLock<u64> = LazyLock::new(|| {
    std::env::var("BRUME_LAMBDA_ASYNC_RETRY_DELAY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(60_000)
});

/// This process's identity: in-flight records of other (earlier) processes are resumed.
static BOOT: LazyLock<String> = LazyLock::new(|| uuid::Uuid::new_v4().to_string());

/// What Lambda delivers through and reads from, besides the clients every part uses: the
/// outbox's dispatcher (Event invocations), SNS (destinations), DynamoDB Streams (event
/// source mappings).
pub struct Links {
    pub events: brume_events::Dispatcher,
    pub sns: Arc<dyn brume_core::clients::SnsClient>,
    pub streams: Arc<dyn brume_core::clients::DynamoDbStreamsClient>,
}

/// The function an invocation ran, as the control plane resolved it.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub name: String,
    /// The unqualified function ARN.
    pub arn: String,
    /// The version that ran.
    pub version: String,
    pub dead_letter_arn: Option<String>,
}

impl Target {
    fn of(resolved: &Resolved) -> Target {
        Target {
            name: resolved.spec.name.clone(),
            arn: resolved.spec.arn.clone(),
            version: resolved.spec.version.clone(),
            dead_letter_arn: resolved.dead_letter_arn.clone(),
        }
    }
}

/// One Event invocation, as the outbox carries it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Job {
    request_id: String,
    account: String,
    region: String,
    /// The function's name.
    function: String,
    /// The version or alias invoked; `None` for `$LATEST`.
    qualifier: Option<String>,
    payload: String,
    client_context: Option<String>,
    created_ms: u64,
    /// Invocations that ran (throttles do not count).
    attempts: u32,
    /// The last invocation's response, for the destination record.
    last: Option<Response>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Response {
    version: String,
    function_error: Option<String>,
    payload: String,
}

/// An in-flight job and the process running it.
#[derive(Serialize, Deserialize)]
struct Running {
    boot: String,
    job: Job,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn run_key(request_id: &str) -> Vec<u8> {
    key::encode(&["eic".into(), "run".into(), request_id.into()])
}

fn running() -> KeyRange {
    KeyRange::prefix(&key::encode(&["eic".into(), "run".into()]))
}

/// The parts of a function ARN: account, region, name and qualifier.
fn parse_function_arn(arn: &str) -> Option<(String, String, String, Option<String>)> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", region, account, "function", name, rest @ ..] if rest.len() <= 1 => {
            Some((account.to_string(), region.to_string(), name.to_string(), rest.first().map(|q| q.to_string())))
        }
        _ => None,
    }
}

/// A JSON payload as a record embeds it: the document itself, or its text when it is not JSON.
fn embedded(payload: &str) -> Value {
    serde_json::from_str(payload).unwrap_or_else(|_| Value::String(payload.to_string()))
}

impl Job {
    fn qualifier(&self) -> &str {
        self.qualifier.as_deref().unwrap_or("$LATEST")
    }

    fn invoked_arn(&self) -> String {
        let base = format!("arn:aws:lambda:{}:{}:function:{}", self.region, self.account, self.function);
        match &self.qualifier {
            Some(q) => format!("{base}:{q}"),
            None => base,
        }
    }

    /// An SNS or S3 record for a function (`{"arn": FUNCTION_ARN, "message": RECORD}`).
    fn from_notification(event: &Event) -> Option<Job> {
        let arn = event.payload.get("arn")?.as_str()?;
        let (account, region, function, qualifier) = parse_function_arn(arn)?;
        let payload = match event.payload.get("message")? {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Some(Job {
            request_id: event.id.clone(),
            account,
            region,
            function,
            qualifier,
            payload,
            client_context: None,
            created_ms: event.created_ms,
            attempts: 0,
            last: None,
        })
    }

    /// The destination record (`condition`: Success, RetriesExhausted or EventAgeExceeded).
    fn record(&self, function_arn: &str, condition: &str) -> Value {
        let mut record = json!({
            "version": "1.0",
            "timestamp": brume_core::value::Timestamp::from_unix_millis(now_ms()).iso8601(),
            "requestContext": {
                "requestId": self.request_id,
                "functionArn": format!("{function_arn}:{}", self.qualifier()),
                "condition": condition,
                "approximateInvokeCount": self.attempts,
            },
            "requestPayload": embedded(&self.payload),
        });
        if let Some(last) = &self.last {
            let mut context = json!({"statusCode": 200, "executedVersion": last.version});
            if let Some(e) = &last.function_error {
                context["functionError"] = json!(e);
            }
            record["responseContext"] = context;
            record["responsePayload"] = embedded(&last.payload);
        }
        record
    }
}

/// What settling a job writes besides removing its in-flight record.
#[derive(Default)]
struct Settlement {
    events: Vec<Event>,
}

impl Lambda {
    /// The function `function` names at `qualifier`, or ResourceNotFoundException.
    pub(crate) async fn target(
        &self,
        account: &str,
        region: &str,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<Target, AwsError> {
        Ok(Target::of(&self.resolve(account, region, function, qualifier).await?))
    }

    /// Runs one invocation of `function` at `qualifier`, as a RequestResponse Invoke would.
    pub(crate) async fn run(
        &self,
        account: &str,
        region: &str,
        function: &str,
        qualifier: Option<&str>,
        invocation: Invocation,
    ) -> Result<(Target, Outcome), AwsError> {
        let (resolved, outcome) = self.invoke_function(account, region, function, qualifier, invocation).await?;
        Ok((Target::of(&resolved), outcome))
    }

    /// Queues an Event invocation of `function` at `qualifier`: once this returns, the event
    /// is durable and will run. A missing function is the caller's error.
    pub(crate) async fn invoke_async(
        &self,
        ctx: &RequestContext,
        function: &str,
        qualifier: Option<&str>,
        payload: Bytes,
        client_context: Option<String>,
    ) -> Result<(), AwsError> {
        let target = self.target(&ctx.account, &ctx.region, function, qualifier).await?;
        if payload.len() > MAX_ASYNC_PAYLOAD {
            return Err(AwsError::new(
                413,
                "RequestEntityTooLargeException",
                format!(
                    "{} byte payload is too large for the Event invocation type (limit {MAX_ASYNC_PAYLOAD} bytes)",
                    payload.len()
                ),
            )
            .with_member("Type", Value::String("User".into())));
        }
        let (_, in_name) = config::split_qualifier(function);
        let qualifier = qualifier.or(in_name).filter(|q| *q != "$LATEST").map(str::to_string);
        let job = Job {
            request_id: ctx.request_id.clone(),
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            function: target.name,
            qualifier,
            payload: if payload.is_empty() { "{}".into() } else { String::from_utf8_lossy(&payload).into_owned() },
            client_context,
            created_ms: self.events.now_ms(),
            attempts: 0,
            last: None,
        };
        let event = job_event(&job, job.created_ms);
        self.kv.transact(move |txn: &mut dyn Txn| brume_events::enqueue(txn, &event)).await?;
        self.events.notify();
        Ok(())
    }

    /// Puts the in-flight jobs of earlier processes back into the outbox.
    pub(crate) async fn resume_async(&self) -> Result<(), AwsError> {
        let now = self.events.now_ms();
        let found = self.kv.scan(KEYSPACE, &running(), Direction::Forward, usize::MAX)?;
        let stale: Vec<(Vec<u8>, Job)> = found
            .into_iter()
            .filter_map(|(k, v)| serde_json::from_slice::<Running>(&v).ok().map(|r| (k, r)))
            .filter(|(_, r)| r.boot != *BOOT)
            .map(|(k, r)| (k, r.job))
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                stale.iter().try_for_each(|(k, job)| {
                    txn.delete(KEYSPACE, k)?;
                    brume_events::enqueue(txn, &job_event(job, now))
                })
            })
            .await?;
        self.events.notify();
        Ok(())
    }

    /// Runs `job` once and settles it.
    async fn process(self: Arc<Self>, mut job: Job) {
        let config = self.event_invoke_config(&job.account, &job.region, &job.function, job.qualifier()).ok().flatten();
        let retries = config.as_ref().and_then(|c| c.maximum_retry_attempts).unwrap_or(DEFAULT_RETRIES);
        let max_age_ms =
            config.as_ref().and_then(|c| c.maximum_event_age_in_seconds).unwrap_or(DEFAULT_MAX_AGE_SECONDS) * 1000;
        let destinations = config.map(|c| c.destination_config).unwrap_or_default();
        let mut settlement = Settlement::default();
        let now = self.events.now_ms();
        if now.saturating_sub(job.created_ms) > max_age_ms {
            self.failed(&job, "EventAgeExceeded", destinations.on_failure(), &mut settlement).await;
            return self.settle(&job, settlement).await;
        }
        let invocation = Invocation {
            request_id: job.request_id.clone(),
            payload: Bytes::from(job.payload.clone()),
            invoked_arn: job.invoked_arn(),
            client_context: job.client_context.clone(),
            ..Default::default()
        };
        let qualifier = job.qualifier.clone();
        match self.run(&job.account, &job.region, &job.function, qualifier.as_deref(), invocation).await {
            Err(e) if e.code == "ResourceNotFoundException" => {
                tracing::warn!(function = %job.invoked_arn(), request_id = %job.request_id, "dropping an Event invocation of a function that no longer exists");
            }
            Err(e) => {
                // Throttled (or the service failed): again soon, not counted as an attempt.
                tracing::debug!(function = %job.invoked_arn(), error = %e.message, "Event invocation deferred");
                let due = now + RETRY_DELAY_MS.clamp(1, 1000);
                settlement.events.push(job_event(&job, now).with_due_ms(due));
            }
            Ok((target, outcome)) => {
                job.attempts += 1;
                let function_error = outcome.function_error.map(|e| e.as_str().to_string());
                job.last = Some(Response {
                    version: target.version.clone(),
                    function_error: function_error.clone(),
                    payload: String::from_utf8_lossy(&outcome.payload).into_owned(),
                });
                if function_error.is_none() {
                    if let Some(arn) = destinations.on_success() {
                        self.destination(arn, job.record(&target.arn, "Success"), &mut settlement);
                    }
                } else if job.attempts <= retries {
                    let delay = RETRY_DELAY_MS.saturating_mul(1 << (job.attempts - 1).min(16));
                    settlement.events.push(job_event(&job, now).with_due_ms(now + delay.max(1)));
                } else {
                    self.failed(&job, "RetriesExhausted", destinations.on_failure(), &mut settlement).await;
                }
            }
        }
        self.settle(&job, settlement).await
    }

    /// Sends a job that will not run again to its OnFailure destination, or else to the
    /// function's dead-letter queue or topic.
    async fn failed(&self, job: &Job, condition: &str, on_failure: Option<&str>, settlement: &mut Settlement) {
        let target = self.target(&job.account, &job.region, &job.function, job.qualifier.as_deref()).await;
        let Ok(target) = target else {
            return;
        };
        if let Some(arn) = on_failure {
            self.destination(arn, job.record(&target.arn, condition), settlement);
            return;
        }
        let Some(dlq) = target.dead_letter_arn else {
            tracing::warn!(function = %job.invoked_arn(), request_id = %job.request_id, condition, "Event invocation discarded");
            return;
        };
        let error_message = match &job.last {
            Some(last) => serde_json::from_str::<Value>(&last.payload)
                .ok()
                .and_then(|v| v.get("errorMessage").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| last.payload.clone()),
            None => "Event age exceeded".to_string(),
        };
        let error_message: String = error_message.chars().take(1024).collect();
        let string = |v: &str| MessageAttribute {
            data_type: "String".into(),
            string_value: Some(v.to_string()),
            binary_value: None,
        };
        let attributes = BTreeMap::from([
            ("RequestID".to_string(), string(&job.request_id)),
            (
                "ErrorCode".to_string(),
                MessageAttribute { data_type: "Number".into(), string_value: Some("200".into()), binary_value: None },
            ),
            ("ErrorMessage".to_string(), string(&error_message)),
        ]);
        let sent = if dlq.split(':').nth(2) == Some("sqs") {
            let message = OutgoingMessage { body: job.payload.clone(), attributes, ..Default::default() };
            self.sqs.send_message(&dlq, message).await
        } else {
            self.sns.publish(&dlq, job.payload.clone(), attributes).await
        };
        if let Err(e) = sent {
            tracing::warn!(target = %dlq, error = %e.message, "cannot send a failed Event invocation to its dead-letter queue or topic");
        }
    }

    /// Queues `record` for the destination `arn` (within the settlement's transaction).
    fn destination(&self, arn: &str, record: Value, settlement: &mut Settlement) {
        let now = self.events.now_ms();
        match arn.split(':').nth(2) {
            Some("sqs") => settlement.events.push(Event::new(
                "sqs",
                "lambda:Destination",
                json!({"arn": arn, "message": record}),
                now,
            )),
            Some("sns") => settlement.events.push(Event::new(
                "sns",
                "lambda:Destination",
                json!({"arn": arn, "message": record}),
                now,
            )),
            Some("lambda") => match parse_function_arn(arn) {
                Some((account, region, function, qualifier)) => {
                    let job = Job {
                        request_id: uuid::Uuid::new_v4().to_string(),
                        account,
                        region,
                        function,
                        qualifier,
                        payload: record.to_string(),
                        client_context: None,
                        created_ms: now,
                        attempts: 0,
                        last: None,
                    };
                    settlement.events.push(job_event(&job, now));
                }
                None => tracing::warn!(destination = %arn, "not a function ARN"),
            },
            _ => tracing::warn!(destination = %arn, "Brume does not deliver to EventBridge or S3 destinations yet"),
        }
    }

    /// Removes `job`'s in-flight record and writes what follows it, in one transaction.
    async fn settle(&self, job: &Job, settlement: Settlement) {
        let key = run_key(&job.request_id);
        let events = settlement.events;
        let more = !events.is_empty();
        let done = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                txn.delete(KEYSPACE, &key)?;
                events.iter().try_for_each(|e| brume_events::enqueue(txn, e))
            })
            .await;
        match done {
            Ok(()) if more => self.events.notify(),
            Ok(()) => {}
            Err(e) => tracing::error!(error = %e, request_id = %job.request_id, "cannot settle an Event invocation"),
        }
    }
}

fn job_event(job: &Job, now: u64) -> Event {
    Event::new("lambda", INVOKE, serde_json::to_value(job).unwrap_or_default(), now)
}

/// The outbox handler for the `lambda` target: Event invocations, and SNS and S3 records
/// for functions.
pub struct Events(pub Arc<Lambda>);

#[async_trait]
impl Handler for Events {
    async fn deliver(&self, event: &Event) -> Result<(), DeliveryError> {
        let lambda = &self.0;
        let job = if event.kind == INVOKE {
            serde_json::from_value::<Job>(event.payload.clone())
                .map_err(|e| DeliveryError::Permanent(format!("malformed Event invocation: {e}")))?
        } else {
            Job::from_notification(event)
                .ok_or_else(|| DeliveryError::Permanent(format!("malformed {} record for Lambda", event.kind)))?
        };
        let running = Running { boot: BOOT.clone(), job: job.clone() };
        let key = run_key(&job.request_id);
        lambda
            .kv
            .transact(move |txn: &mut dyn Txn| txn.put(KEYSPACE, &key, &config::encode(&running)))
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))?;
        tokio::spawn(lambda.clone().process(job));
        Ok(())
    }
}

/// How long a throttled invocation waits before it is tried again.
pub(crate) fn throttle_delay() -> Duration {
    Duration::from_millis(RETRY_DELAY_MS.clamp(1, 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_arns_name_account_region_function_and_qualifier() {
        assert_eq!(
            parse_function_arn("arn:aws:lambda:eu-west-1:123456789012:function:f:prod"),
            Some(("123456789012".into(), "eu-west-1".into(), "f".into(), Some("prod".into())))
        );
        assert_eq!(
            parse_function_arn("arn:aws:lambda:us-east-1:000000000000:function:f"),
            Some(("000000000000".into(), "us-east-1".into(), "f".into(), None))
        );
        assert_eq!(parse_function_arn("arn:aws:sqs:us-east-1:000000000000:q"), None);
    }

    #[test]
    fn destination_records_have_aws_shape() {
        let job = Job {
            request_id: "r-1".into(),
            account: "000000000000".into(),
            region: "us-east-1".into(),
            function: "f".into(),
            qualifier: None,
            payload: r#"{"k": 1}"#.into(),
            client_context: None,
            created_ms: 0,
            attempts: 3,
            last: Some(Response {
                version: "$LATEST".into(),
                function_error: Some("Unhandled".into()),
                payload: r#"{"errorMessage": "boom"}"#.into(),
            }),
        };
        let record = job.record("arn:aws:lambda:us-east-1:000000000000:function:f", "RetriesExhausted");
        assert_eq!(record["version"], "1.0");
        assert_eq!(
            record["requestContext"],
            json!({
                "requestId": "r-1",
                "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            })
        );
        assert_eq!(record["requestPayload"], json!({"k": 1}));
        assert_eq!(
            record["responseContext"],
            json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
        );
        assert_eq!(record["responsePayload"], json!({"errorMessage": "boom"}));
        assert!(record["timestamp"].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 24));
    }
}
