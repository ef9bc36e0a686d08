//! The outbox handler of the `sns` target. It delivers SNS's own events (a notification or
//! a subscription confirmation for one subscription) to SQS, HTTP endpoints, or the local
//! store that stands in for email and SMS; and it publishes other services' events (S3
//! notifications, payload `{arn, message}`) to the topic they name.
//!
//! Retries follow SNS's delivery policies rather than the dispatcher's back-off: a failed
//! attempt is re-queued as a new event due when the policy says, and once the policy is
//! exhausted (or at once, for errors that retrying cannot fix) the message goes to the
//! subscription's dead-letter queue, if it has one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use brume_core::AwsError;
use brume_core::clients::{MessageAttribute, OutgoingMessage};
use brume_events::{DeliveryError, Event, Handler};
use brume_storage::{Direction, ReadView, Txn};
use bytes::Bytes;
use http_body_util::Full;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::envelope::Notification;
use crate::subscription::{CONFIRMATION, NOTIFICATION, STEP_FUNCTIONS};
use crate::table::{self, KEYSPACE, LocalMessage, Subscription, Topic};
use crate::topic::{default_delivery_policy, merge};
use crate::{Sns, now_ms};

/// How long an HTTP endpoint has to answer, as in SNS.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// The most local messages `/_brume/sns/messages` lists.
const MAX_LOCAL: usize = 10_000;

/// The retry schedule of a delivery policy's `healthyRetryPolicy`: immediate retries, then
/// retries at the minimum delay, then a back-off phase from the minimum to the maximum
/// delay, then retries at the maximum delay.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RetryPolicy {
    num_retries: u32,
    no_delay: u32,
    min_delay_retries: u32,
    max_delay_retries: u32,
    min_delay_s: u32,
    max_delay_s: u32,
    backoff: String,
}

impl RetryPolicy {
    /// The policy SNS applies to SQS (and Lambda) endpoints, which cannot be changed:
    /// 100,015 retries over about 23 days.
    fn sqs() -> Self {
        RetryPolicy {
            num_retries: 100_015,
            no_delay: 3,
            min_delay_retries: 2,
            max_delay_retries: 100_000,
            min_delay_s: 1,
            max_delay_s: 20,
            backoff: "exponential".into(),
        }
    }

    fn from_json(p: &Value) -> Self {
        let n = |k: &str, d: u32| p.get(k).and_then(Value::as_u64).map_or(d, |v| v as u32);
        RetryPolicy {
            num_retries: n("numRetries", 3),
            no_delay: n("numNoDelayRetries", 0),
            min_delay_retries: n("numMinDelayRetries", 0),
            max_delay_retries: n("numMaxDelayRetries", 0),
            min_delay_s: n("minDelayTarget", 20),
            max_delay_s: n("maxDelayTarget", 20),
            backoff: p.get("backoffFunction").and_then(Value::as_str).unwrap_or("linear").to_string(),
        }
    }

    /// The delay before retry number `retry` (1-based), or `None` once retries are spent.
    pub(crate) fn delay_ms(&self, retry: u32) -> Option<u64> {
        if retry == 0 || retry > self.num_retries {
            return None;
        }
        let (min, max) = (f64::from(self.min_delay_s), f64::from(self.max_delay_s.max(self.min_delay_s)));
        let backoff_retries =
            self.num_retries.saturating_sub(self.no_delay + self.min_delay_retries + self.max_delay_retries);
        let seconds = if retry <= self.no_delay {
            0.0
        } else if retry <= self.no_delay + self.min_delay_retries {
            min
        } else if retry <= self.no_delay + self.min_delay_retries + backoff_retries {
            let step = f64::from(retry - self.no_delay - self.min_delay_retries) / f64::from(backoff_retries.max(1));
            match self.backoff.as_str() {
                "exponential" if min > 0.0 => min * (max / min).powf(step),
                "geometric" => min + (max - min) * step * step,
                // `arithmetic` grows by equal steps as `linear` does.
                _ => min + (max - min) * step,
            }
        } else {
            max
        };
        Some((seconds * 1000.0) as u64)
    }
}

/// The effective HTTP delivery policy of `sub`: SNS's default, the topic's `http` section,
/// and the subscription's own unless the topic disables overrides.
pub(crate) fn effective_http_policy(topic: Option<&Topic>, sub: &Subscription) -> Value {
    let mut http = default_delivery_policy()["http"].clone();
    if let Some(topic_policy) =
        topic.and_then(|t| t.attributes.get("DeliveryPolicy")).and_then(|p| serde_json::from_str::<Value>(p).ok())
        && let Some(section) = topic_policy.get("http")
    {
        http = merge(http, section.clone());
    }
    let mut healthy = http["defaultHealthyRetryPolicy"].clone();
    let mut request = http["defaultRequestPolicy"].clone();
    let throttle = http.get("defaultThrottlePolicy").cloned().unwrap_or(Value::Null);
    let overrides_allowed = !http["disableSubscriptionOverrides"].as_bool().unwrap_or(false);
    if overrides_allowed
        && let Some(own) = sub.attributes.get("DeliveryPolicy").and_then(|p| serde_json::from_str::<Value>(p).ok())
    {
        if let Some(h) = own.get("healthyRetryPolicy") {
            healthy = merge(healthy, h.clone());
        }
        if let Some(r) = own.get("requestPolicy") {
            request = merge(request, r.clone());
        }
    }
    json!({
        "healthyRetryPolicy": healthy,
        "sicklyRetryPolicy": null,
        "throttlePolicy": throttle,
        "requestPolicy": request,
        "guaranteed": false,
    })
}

/// An event's payload (both kinds carry the subscription; the rest depends on the kind).
#[derive(Deserialize)]
struct Payload {
    subscription: String,
    message_id: String,
    #[serde(default)]
    message: String,
    subject: Option<String>,
    timestamp: String,
    #[serde(default)]
    attributes: BTreeMap<String, MessageAttribute>,
    group_id: Option<String>,
    dedup_id: Option<String>,
    sequence_number: Option<String>,
    #[serde(default = "version_one")]
    signature_version: String,
    /// Confirmations: the token.
    token: Option<String>,
    /// Failed attempts so far.
    #[serde(default)]
    attempt: u32,
}

fn version_one() -> String {
    "1".into()
}

/// Why one attempt failed.
enum Failure {
    /// Worth retrying (the endpoint is down, answered 5xx, timed out).
    Retry(String),
    /// Retrying cannot help (the queue does not exist, the payload is refused).
    Client(String),
    /// Brume's own store failed: the dispatcher retries the event as it is.
    Internal(String),
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Internal(e.to_string())
    }
}

/// The outbox handler for the `sns` target.
pub struct Delivery(pub Arc<Sns>);

#[async_trait]
impl Handler for Delivery {
    async fn deliver(&self, event: &Event) -> Result<(), DeliveryError> {
        let sns = &self.0;
        if event.kind != NOTIFICATION && event.kind != CONFIRMATION {
            let arn = event.payload.get("arn").and_then(Value::as_str).unwrap_or_default();
            let message = match event.payload.get("message") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return Err(DeliveryError::Permanent("event has no message".into())),
            };
            return match sns.publish_from_service(arn, &event.kind, message).await {
                Ok(()) => Ok(()),
                Err(e) if e.status >= 500 => Err(DeliveryError::Retryable(e.message)),
                Err(e) => Err(DeliveryError::Permanent(format!("{arn}: {}", e.message))),
            };
        }
        let payload: Payload = serde_json::from_value(event.payload.clone())
            .map_err(|e| DeliveryError::Permanent(format!("malformed sns event: {e}")))?;
        sns.deliver(event, payload).await
    }
}

impl Sns {
    async fn deliver(&self, event: &Event, p: Payload) -> Result<(), DeliveryError> {
        let retryable = |e: AwsError| DeliveryError::Retryable(e.to_string());
        // Unsubscribed since: nothing to deliver.
        let Some(sub) = self.subscription(&p.subscription).map_err(retryable)? else { return Ok(()) };
        let topic = self.topic_by_arn_parts(&sub.account, &sub.region, &sub.topic).map_err(retryable)?;
        let confirmation = event.kind == CONFIRMATION;
        let outcome = match sub.protocol.as_str() {
            "sqs" => self.to_sqs(&sub, &p).await,
            STEP_FUNCTIONS => self.to_step_functions(&sub, &p).await,
            "http" | "https" => self.to_http(&sub, topic.as_ref(), &p, confirmation).await,
            _ => self.to_local(&sub, &p).await,
        };
        let reason = match outcome {
            Ok(()) => return Ok(()),
            Err(Failure::Internal(reason)) => return Err(DeliveryError::Retryable(reason)),
            Err(Failure::Client(reason)) => reason,
            Err(Failure::Retry(reason)) => {
                let policy = if sub.protocol == "sqs" || sub.protocol == STEP_FUNCTIONS {
                    RetryPolicy::sqs()
                } else {
                    RetryPolicy::from_json(&effective_http_policy(topic.as_ref(), &sub)["healthyRetryPolicy"])
                };
                if let Some(delay) = policy.delay_ms(p.attempt + 1) {
                    return self.retry_later(event, p.attempt + 1, delay).await;
                }
                reason
            }
        };
        tracing::debug!(subscription = %sub.arn(), %reason, "sns delivery failed for good");
        if confirmation {
            return Ok(());
        }
        self.dead_letter(&sub, &p, &reason).await
    }

    /// Re-queues `event` as attempt `attempt`, due in `delay_ms`.
    async fn retry_later(&self, event: &Event, attempt: u32, delay_ms: u64) -> Result<(), DeliveryError> {
        let mut payload = event.payload.clone();
        payload["attempt"] = json!(attempt);
        let now = now_ms();
        let retry = Event::new(event.target.clone(), event.kind.clone(), payload, now).with_due_ms(now + delay_ms);
        self.kv
            .transact(move |txn: &mut dyn Txn| brume_events::enqueue(txn, &retry))
            .await
            .map_err(|e| DeliveryError::Retryable(e.to_string()))
    }

    /// Sends what could not be delivered to the subscription's dead-letter queue.
    async fn dead_letter(&self, sub: &Subscription, p: &Payload, reason: &str) -> Result<(), DeliveryError> {
        let target = sub
            .attributes
            .get("RedrivePolicy")
            .and_then(|r| serde_json::from_str::<Value>(r).ok())
            .and_then(|r| r.get("deadLetterTargetArn").and_then(Value::as_str).map(str::to_string));
        let Some(dlq) = target else {
            tracing::warn!(subscription = %sub.arn(), %reason, "sns message dropped after failed deliveries");
            return Ok(());
        };
        let message = match self.body(sub, p).await {
            Ok(m) => m,
            Err(e) => return Err(DeliveryError::Retryable(e.to_string())),
        };
        match self.sqs.send_message(&dlq, message).await {
            Ok(_) => Ok(()),
            Err(e) if e.status >= 500 => Err(DeliveryError::Retryable(e.message)),
            Err(e) => {
                tracing::warn!(subscription = %sub.arn(), dead_letter_queue = %dlq, error = %e.message, "sns dead-letter queue refused the message");
                Ok(())
            }
        }
    }

    /// What an SQS queue receives: the raw message with its attributes, or the signed JSON
    /// notification.
    async fn body(&self, sub: &Subscription, p: &Payload) -> Result<OutgoingMessage, AwsError> {
        let raw = sub.flag("RawMessageDelivery");
        let body = if raw { p.message.clone() } else { self.signed_notification(sub, p).await?.to_string() };
        Ok(OutgoingMessage {
            body,
            attributes: if raw { p.attributes.clone() } else { BTreeMap::new() },
            group_id: p.group_id.clone(),
            deduplication_id: p.dedup_id.clone(),
        })
    }

    async fn signed_notification(&self, sub: &Subscription, p: &Payload) -> Result<Value, AwsError> {
        let arn = sub.arn();
        let topic_arn = sub.topic_arn();
        let n = Notification {
            message_id: &p.message_id,
            topic_arn: &topic_arn,
            subscription_arn: &arn,
            subject: p.subject.as_deref(),
            message: &p.message,
            timestamp: &p.timestamp,
            attributes: &p.attributes,
            sequence_number: p.sequence_number.as_deref(),
            signature_version: &p.signature_version,
        };
        self.notification(&n, false).await
    }

    async fn to_sqs(&self, sub: &Subscription, p: &Payload) -> Result<(), Failure> {
        let message = self.body(sub, p).await?;
        match self.sqs.send_message(&sub.endpoint, message).await {
            Ok(_) => Ok(()),
            Err(e) if e.status >= 500 => Err(Failure::Retry(e.message)),
            Err(e) => Err(Failure::Client(format!("{}: {}", e.code, e.message))),
        }
    }

    /// Starts an execution named after the message, so that a redelivery finds the one
    /// it started (StartExecution answers it again, or says it exists once it has ended).
    async fn to_step_functions(&self, sub: &Subscription, p: &Payload) -> Result<(), Failure> {
        let Some(sfn) = self.step_functions.get() else {
            return Err(Failure::Retry("Step Functions is not running".into()));
        };
        let message = self.body(sub, p).await?;
        match sfn.start_execution(&sub.endpoint, &p.message_id, message.body).await {
            Ok(_) => Ok(()),
            Err(e) if e.code.as_ref() == "ExecutionAlreadyExists" => Ok(()),
            Err(e) if e.status >= 500 => Err(Failure::Retry(e.message)),
            Err(e) => Err(Failure::Client(format!("{}: {}", e.code, e.message))),
        }
    }

    async fn to_http(
        &self,
        sub: &Subscription,
        topic: Option<&Topic>,
        p: &Payload,
        confirmation: bool,
    ) -> Result<(), Failure> {
        let topic_arn = sub.topic_arn();
        let raw = !confirmation && sub.flag("RawMessageDelivery");
        let body = if confirmation {
            let token = p.token.as_deref().unwrap_or_default();
            self.confirmation(&p.message_id, &topic_arn, token, &p.timestamp, &p.signature_version).await?.to_string()
        } else if raw {
            p.message.clone()
        } else {
            self.signed_notification(sub, p).await?.to_string()
        };
        let policy = effective_http_policy(topic, sub);
        let content_type =
            policy["requestPolicy"]["headerContentType"].as_str().unwrap_or("text/plain; charset=UTF-8").to_string();
        let kind = if confirmation { "SubscriptionConfirmation" } else { "Notification" };
        let mut request = http::Request::post(sub.endpoint.as_str())
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::USER_AGENT, "Amazon Simple Notification Service Agent")
            .header("x-amz-sns-message-type", kind)
            .header("x-amz-sns-message-id", p.message_id.as_str())
            .header("x-amz-sns-topic-arn", topic_arn.as_str());
        if !confirmation {
            request = request.header("x-amz-sns-subscription-arn", sub.arn());
        }
        if raw {
            request = request.header("x-amz-sns-rawdelivery", "true");
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Failure::Client(format!("invalid endpoint: {e}")))?;
        match tokio::time::timeout(HTTP_TIMEOUT, self.http().request(request)).await {
            Ok(Ok(response)) if response.status().is_success() => Ok(()),
            Ok(Ok(response)) => Err(Failure::Retry(format!("endpoint answered {}", response.status()))),
            Ok(Err(e)) => Err(Failure::Retry(format!("endpoint unreachable: {e}"))),
            Err(_) => Err(Failure::Retry("endpoint did not answer in 15 seconds".into())),
        }
    }

    /// Email, email-json and SMS: the message is kept in SNS's keyspace.
    async fn to_local(&self, sub: &Subscription, p: &Payload) -> Result<(), Failure> {
        let body = if sub.protocol == "email-json" {
            self.signed_notification(sub, p).await?.to_string()
        } else {
            p.message.clone()
        };
        let now = now_ms();
        let message = LocalMessage {
            id: p.message_id.clone(),
            protocol: sub.protocol.clone(),
            endpoint: sub.endpoint.clone(),
            subscription_arn: sub.arn(),
            topic_arn: sub.topic_arn(),
            kind: "Notification".into(),
            subject: p.subject.clone(),
            body,
            timestamp: p.timestamp.clone(),
            token: None,
        };
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                txn.put(
                    KEYSPACE,
                    &table::local_key(now, &format!("{}:{}", message.id, message.subscription_arn)),
                    &table::encode(&message),
                )
            })
            .await
            .map_err(|e| Failure::Internal(e.to_string()))
    }
}

pub(crate) fn local_messages(view: &dyn ReadView, endpoint: Option<&str>) -> Result<Vec<Value>, AwsError> {
    let rows = view.scan(KEYSPACE, &table::local_messages(), Direction::Forward, MAX_LOCAL)?;
    let mut out = Vec::new();
    for (_, v) in rows {
        let m: LocalMessage = table::decode(&v)?;
        if endpoint.is_none_or(|e| e == m.endpoint) {
            out.push(serde_json::to_value(&m).unwrap_or_default());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: RetryPolicy, expected: &[Option<u64>]) {
        let got: Vec<Option<u64>> = (1..=expected.len() as u32).map(|r| policy.delay_ms(r)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn retry_schedules() {
        // SNS's default for HTTP: three retries, 20 seconds apart.
        check(RetryPolicy::from_json(&json!({})), &[Some(20_000), Some(20_000), Some(20_000), None]);
        check(
            RetryPolicy::from_json(&json!({
                "numRetries": 6, "numNoDelayRetries": 1, "numMinDelayRetries": 1, "numMaxDelayRetries": 1,
                "minDelayTarget": 1, "maxDelayTarget": 7, "backoffFunction": "linear"
            })),
            &[Some(0), Some(1000), Some(3000), Some(5000), Some(7000), Some(7000), None],
        );
        let sqs = RetryPolicy::sqs();
        assert_eq!(
            (sqs.delay_ms(1), sqs.delay_ms(4), sqs.delay_ms(15), sqs.delay_ms(100_015)),
            (Some(0), Some(1000), Some(20_000), Some(20_000))
        );
        assert_eq!(sqs.delay_ms(100_016), None);
    }

    #[test]
    fn subscription_overrides_unless_disabled() {
        let mut sub = Subscription {
            id: "i".into(),
            account: "000000000000".into(),
            region: "us-east-1".into(),
            topic: "t".into(),
            protocol: "http".into(),
            endpoint: "http://x".into(),
            attributes: BTreeMap::new(),
            pending_token: None,
            confirmation_was_authenticated: false,
        };
        sub.attributes.insert("DeliveryPolicy".into(), r#"{"healthyRetryPolicy":{"numRetries":1}}"#.into());
        assert_eq!(effective_http_policy(None, &sub)["healthyRetryPolicy"]["numRetries"], 1);
        let mut topic = Topic {
            account: sub.account.clone(),
            region: sub.region.clone(),
            name: "t".into(),
            attributes: BTreeMap::new(),
            tags: BTreeMap::new(),
            data_protection_policy: None,
            deleted_subscriptions: 0,
        };
        topic.attributes.insert(
            "DeliveryPolicy".into(),
            r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":9},"disableSubscriptionOverrides":true}}"#.into(),
        );
        assert_eq!(effective_http_policy(Some(&topic), &sub)["healthyRetryPolicy"]["numRetries"], 9);
    }
}
