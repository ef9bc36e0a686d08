//! Subscriptions: subscribe (endpoint checks per protocol, attributes, idempotent
//! re-subscribe, the confirmation handshake for http/https and email), confirm,
//! unsubscribe, listings (100 a page) and attributes.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::Principal;
use brume_core::{AwsError, RequestContext};
use brume_events::Event;
use brume_storage::{Direction, StorageError, Txn};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::filter::{self, Scope};
use crate::table::{self, KEYSPACE, LocalMessage, Subscription, Topic};
use crate::topic::{self, AttributesOutput, Empty, ListInput, PAGE};
use crate::{Sns, error, now_ms};

/// Attributes Subscribe and SetSubscriptionAttributes accept.
const SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

/// Protocols whose endpoints must confirm before they receive anything.
const CONFIRMED_BY_ENDPOINT: &[&str] = &["http", "https", "email", "email-json"];

/// The outbox event kinds SNS delivers itself.
pub(crate) const NOTIFICATION: &str = "sns:Notification";
pub(crate) const CONFIRMATION: &str = "sns:SubscriptionConfirmation";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeInput {
    topic_arn: String,
    protocol: String,
    endpoint: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    return_subscription_arn: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionArnOutput {
    subscription_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfirmSubscriptionInput {
    topic_arn: String,
    token: String,
    authenticate_on_unsubscribe: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionArnInput {
    subscription_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListByTopicInput {
    topic_arn: String,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListedSubscription {
    subscription_arn: String,
    owner: String,
    protocol: String,
    endpoint: String,
    topic_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSubscriptionsOutput {
    subscriptions: Vec<ListedSubscription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetSubscriptionAttributesInput {
    subscription_arn: String,
    attribute_name: String,
    attribute_value: Option<String>,
}

/// Brume's own protocol (not AWS's): each message starts an execution of the state machine
/// the endpoint names, its input the notification an SQS subscriber would receive.
pub(crate) const STEP_FUNCTIONS: &str = "stepfunctions";

/// Checks an endpoint against its protocol, as SNS does at Subscribe.
fn validate_endpoint(protocol: &str, endpoint: &str) -> Result<(), AwsError> {
    let ok = match protocol {
        "http" => endpoint.starts_with("http://") && endpoint.len() > 7,
        "https" => endpoint.starts_with("https://") && endpoint.len() > 8,
        "email" | "email-json" => {
            endpoint.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
        }
        "sms" => {
            let digits = endpoint.strip_prefix('+').unwrap_or(endpoint);
            (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        }
        "sqs" => sqs_arn(endpoint),
        "lambda" => {
            let parts: Vec<&str> = endpoint.split(':').collect();
            parts.len() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function"
        }
        STEP_FUNCTIONS => {
            let parts: Vec<&str> = endpoint.split(':').collect();
            parts.len() == 7 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "stateMachine"
        }
        _ => true,
    };
    if ok {
        return Ok(());
    }
    Err(error::invalid_parameter(match protocol {
        "sqs" => "SQS endpoint ARN".to_string(),
        "lambda" => "Lambda endpoint ARN".to_string(),
        STEP_FUNCTIONS => "Step Functions state machine ARN".to_string(),
        "email" | "email-json" => "Email address".to_string(),
        "sms" => format!("Invalid SMS endpoint: {endpoint}"),
        _ => "Endpoint must match the specified protocol".to_string(),
    }))
}

fn sqs_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    parts.len() == 6 && parts[0] == "arn" && parts[2] == "sqs" && !parts[5].is_empty()
}

/// Checks one settable attribute in the context of the subscription's others.
fn validate_attribute(
    protocol: &str,
    name: &str,
    value: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if !SETTABLE.contains(&name) {
        return Err(error::invalid_parameter("AttributeName"));
    }
    match name {
        "RawMessageDelivery" => {
            if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                return Err(error::invalid_parameter("Attributes Reason: RawMessageDelivery: Invalid value"));
            }
            if !["sqs", "http", "https", "firehose", STEP_FUNCTIONS].contains(&protocol)
                && value.eq_ignore_ascii_case("true")
            {
                return Err(error::invalid_parameter(format!(
                    "Attributes Reason: Delivery protocol [{protocol}] does not support raw message delivery."
                )));
            }
        }
        "FilterPolicyScope" => {
            let scope = Scope::parse(value).ok_or_else(|| {
                error::invalid_parameter(format!(
                    "FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or MessageAttributes"
                ))
            })?;
            if let Some(policy) = attributes.get("FilterPolicy").filter(|p| !p.is_empty()) {
                filter::parse(policy, scope).map_err(|e| error::filter_policy(&e))?;
            }
        }
        "FilterPolicy" if !value.is_empty() => {
            let scope =
                attributes.get("FilterPolicyScope").and_then(|s| Scope::parse(s)).unwrap_or(Scope::MessageAttributes);
            filter::parse(value, scope).map_err(|e| error::filter_policy(&e))?;
        }
        "RedrivePolicy" if !value.is_empty() => {
            let policy: serde_json::Value = serde_json::from_str(value)
                .map_err(|_| error::invalid_parameter("RedrivePolicy: Redrive policy is not a valid JSON map"))?;
            let target = policy.get("deadLetterTargetArn").and_then(|t| t.as_str());
            match target {
                Some(arn) if sqs_arn(arn) => {}
                Some(_) => {
                    return Err(error::invalid_parameter("RedrivePolicy: deadLetterTargetArn is an invalid arn"));
                }
                None => {
                    return Err(error::invalid_parameter(
                        "RedrivePolicy: Redrive policy does not contain mandatory attribute: deadLetterTargetArn",
                    ));
                }
            }
        }
        "DeliveryPolicy"
            if !value.is_empty() && !matches!(serde_json::from_str(value), Ok(serde_json::Value::Object(_))) =>
        {
            return Err(error::invalid_parameter("DeliveryPolicy: failed to parse JSON"));
        }
        _ => {}
    }
    Ok(())
}

/// A new confirmation token: SNS's are long hex strings.
fn new_token() -> String {
    let mut bytes = [0u8; 64];
    rand::Rng::fill(&mut rand::rng(), &mut bytes[..]);
    brume_core::hex(&bytes)
}

impl Sns {
    /// The subscription an ARN names.
    pub(crate) fn subscription(&self, arn: &str) -> Result<Option<Subscription>, AwsError> {
        let Some((account, region, topic, id)) = table::parse_subscription_arn(arn) else {
            return Err(error::invalid_parameter("SubscriptionArn"));
        };
        let found = self.kv.get(KEYSPACE, &table::subscription_key(&account, &region, &topic, &id))?;
        Ok(found.map(|b| table::decode(&b)).transpose()?)
    }

    fn owned_subscription(&self, ctx: &RequestContext, arn: &str) -> Result<Subscription, AwsError> {
        let sub = self.subscription(arn)?.ok_or_else(error::subscription_not_found)?;
        if sub.account != ctx.account {
            return Err(error::authorization(format!(
                "User: {} is not authorized to perform this action on resource: {arn}",
                ctx.caller_arn()
            )));
        }
        Ok(sub)
    }

    pub(crate) async fn subscribe(
        self: Arc<Self>,
        ctx: RequestContext,
        input: SubscribeInput,
    ) -> Result<SubscriptionArnOutput, AwsError> {
        let topic = self.topic(&ctx, &input.topic_arn)?;
        let protocol = input.protocol.to_ascii_lowercase();
        match protocol.as_str() {
            "http" | "https" | "email" | "email-json" | "sms" | "sqs" | "lambda" | STEP_FUNCTIONS => {}
            "application" | "firehose" => {
                return Err(AwsError::new(
                    501,
                    "NotImplemented",
                    format!("Brume does not implement SNS {protocol} subscriptions yet"),
                ));
            }
            _ => {
                return Err(error::invalid_parameter(format!(
                    "Amazon SNS does not support this protocol string: {protocol}"
                )));
            }
        }
        let endpoint = input.endpoint.unwrap_or_default();
        validate_endpoint(&protocol, &endpoint)?;
        if topic.is_fifo() && !["sqs"].contains(&protocol.as_str()) {
            return Err(error::invalid_parameter(format!(
                "Invalid protocol type: {protocol}. FIFO topics only support the sqs protocol"
            )));
        }
        let mut attributes = BTreeMap::new();
        for (name, value) in &input.attributes {
            attributes.insert(name.clone(), value.clone());
        }
        for (name, value) in &attributes {
            validate_attribute(&protocol, name, value, &attributes)?;
        }
        attributes.retain(|_, v| !v.is_empty());
        let confirm = CONFIRMED_BY_ENDPOINT.contains(&protocol.as_str());
        let sub = Subscription {
            id: uuid::Uuid::new_v4().to_string(),
            account: topic.account.clone(),
            region: topic.region.clone(),
            topic: topic.name.clone(),
            protocol,
            endpoint,
            attributes,
            pending_token: confirm.then(new_token),
            confirmation_was_authenticated: !confirm,
        };
        let signature_version = topic.attributes.get("SignatureVersion").cloned().unwrap_or_else(|| "1".into());
        let topic_key = table::topic_key(&topic.account, &topic.region, &topic.name);
        let range = table::subscriptions_of_topic(&topic.account, &topic.region, &topic.name);
        let confirmation = if confirm { Some(self.confirmation_record(&sub, &signature_version).await?) } else { None };
        let sub = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                if txn.get(KEYSPACE, &topic_key)?.is_none() {
                    return Err(error::topic_not_found());
                }
                for (_, v) in txn.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)? {
                    let existing: Subscription = table::decode(&v)?;
                    if existing.protocol == sub.protocol && existing.endpoint == sub.endpoint {
                        if !input.attributes.is_empty() && existing.attributes != sub.attributes {
                            return Err(error::invalid_parameter(
                                "Attributes Reason: Subscription already exists with different attributes",
                            ));
                        }
                        return Ok(existing);
                    }
                }
                let key = table::subscription_key(&sub.account, &sub.region, &sub.topic, &sub.id);
                if let Some(record) = confirmation {
                    match record {
                        Confirmation::Event(mut event) => {
                            event.payload["subscription"] = json!(sub.arn());
                            brume_events::enqueue(txn, &event)?;
                        }
                        Confirmation::Local(mut message) => {
                            message.subscription_arn = sub.arn();
                            txn.put(KEYSPACE, &table::local_key(now_ms(), &message.id), &table::encode(&message))?;
                        }
                    }
                }
                txn.put(KEYSPACE, &key, &table::encode(&sub))?;
                Ok(sub)
            })
            .await?;
        let subscription_arn = if sub.pending() && !input.return_subscription_arn {
            "pending confirmation".to_string()
        } else {
            sub.arn()
        };
        Ok(SubscriptionArnOutput { subscription_arn })
    }

    /// What asks an endpoint to confirm `sub`: an outbox event for http/https (posted by
    /// the delivery handler), a local message for email.
    async fn confirmation_record(&self, sub: &Subscription, signature_version: &str) -> Result<Confirmation, AwsError> {
        let token = sub.pending_token.clone().unwrap_or_default();
        let now = now_ms();
        if sub.protocol.starts_with("http") {
            let payload = json!({
                "message_id": uuid::Uuid::new_v4().to_string(),
                "token": token,
                "timestamp": brume_core::value::Timestamp::from_unix_millis(now).iso8601(),
                "signature_version": signature_version,
            });
            return Ok(Confirmation::Event(Event::new("sns", CONFIRMATION, payload, now)));
        }
        let topic_arn = sub.topic_arn();
        let message_id = uuid::Uuid::new_v4().to_string();
        let timestamp = brume_core::value::Timestamp::from_unix_millis(now).iso8601();
        let body = if sub.protocol == "email-json" {
            self.confirmation(&message_id, &topic_arn, &token, &timestamp, signature_version).await?.to_string()
        } else {
            format!(
                "You have chosen to subscribe to the topic:\n{topic_arn}\n\nTo confirm this subscription, visit:\n{}",
                self.subscribe_url(&topic_arn, &token)
            )
        };
        Ok(Confirmation::Local(LocalMessage {
            id: message_id,
            protocol: sub.protocol.clone(),
            endpoint: sub.endpoint.clone(),
            subscription_arn: String::new(),
            kind: "SubscriptionConfirmation".into(),
            subject: Some("AWS Notification - Subscription Confirmation".into()),
            body,
            topic_arn,
            timestamp,
            token: Some(token),
        }))
    }

    pub(crate) async fn confirm_subscription(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ConfirmSubscriptionInput,
    ) -> Result<SubscriptionArnOutput, AwsError> {
        let (account, region, name) =
            table::parse_topic_arn(&input.topic_arn).ok_or_else(|| error::invalid_parameter("TopicArn"))?;
        // The SubscribeURL is visited unsigned: the token is the credential.
        if ctx.principal != Principal::Anonymous && account != ctx.account {
            return Err(error::authorization(format!(
                "User: {} is not authorized to perform this action on resource: {}",
                ctx.caller_arn(),
                input.topic_arn
            )));
        }
        self.topic_by_arn_parts(&account, &region, &name)?.ok_or_else(error::topic_not_found)?;
        let authenticated = ctx.principal != Principal::Anonymous
            && input.authenticate_on_unsubscribe.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let range = table::subscriptions_of_topic(&account, &region, &name);
        let token = input.token;
        let sub = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                for (k, v) in txn.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)? {
                    let mut sub: Subscription = table::decode(&v)?;
                    if sub.pending_token.as_deref() == Some(token.as_str()) {
                        sub.pending_token = None;
                        sub.confirmation_was_authenticated = authenticated;
                        txn.put(KEYSPACE, &k, &table::encode(&sub))?;
                        return Ok(sub);
                    }
                }
                Err(error::invalid_parameter("Token"))
            })
            .await?;
        Ok(SubscriptionArnOutput { subscription_arn: sub.arn() })
    }

    pub(crate) async fn unsubscribe(
        self: Arc<Self>,
        ctx: RequestContext,
        input: SubscriptionArnInput,
    ) -> Result<Empty, AwsError> {
        // The UnsubscribeURL is visited unsigned: the subscription ARN is the credential.
        let sub = match self.subscription(&input.subscription_arn)? {
            Some(sub) if ctx.principal == Principal::Anonymous || sub.account == ctx.account => sub,
            Some(_) => {
                return Err(error::authorization(format!(
                    "User: {} is not authorized to perform this action on resource: {}",
                    ctx.caller_arn(),
                    input.subscription_arn
                )));
            }
            // Removing a subscription that is already gone succeeds.
            None => return Ok(Empty {}),
        };
        let key = table::subscription_key(&sub.account, &sub.region, &sub.topic, &sub.id);
        let topic_key = table::topic_key(&sub.account, &sub.region, &sub.topic);
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                txn.delete(KEYSPACE, &key)?;
                if let Some(found) = txn.get(KEYSPACE, &topic_key)? {
                    let mut topic: Topic = table::decode(&found)?;
                    topic.deleted_subscriptions += 1;
                    txn.put(KEYSPACE, &topic_key, &table::encode(&topic))?;
                }
                Ok::<_, StorageError>(())
            })
            .await?;
        Ok(Empty {})
    }

    fn list_page(
        &self,
        range: brume_storage::KeyRange,
        next_token: Option<&str>,
    ) -> Result<ListSubscriptionsOutput, AwsError> {
        let range = topic::after_token(range, next_token)?;
        let rows = self.kv.scan(KEYSPACE, &range, Direction::Forward, PAGE + 1)?;
        let more = rows.len() > PAGE;
        let page = &rows[..rows.len().min(PAGE)];
        let subscriptions = page
            .iter()
            .map(|(_, v)| {
                table::decode::<Subscription>(v).map(|s| ListedSubscription {
                    subscription_arn: if s.pending() { "PendingConfirmation".into() } else { s.arn() },
                    owner: s.account.clone(),
                    topic_arn: s.topic_arn(),
                    protocol: s.protocol,
                    endpoint: s.endpoint,
                })
            })
            .collect::<Result<_, _>>()?;
        let next_token = more.then(|| page.last().map(|(k, _)| topic::token_of(k))).flatten();
        Ok(ListSubscriptionsOutput { subscriptions, next_token })
    }

    pub(crate) async fn list_subscriptions(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListInput,
    ) -> Result<ListSubscriptionsOutput, AwsError> {
        self.list_page(table::subscriptions_of(&ctx.account, &ctx.region), input.next_token.as_deref())
    }

    pub(crate) async fn list_subscriptions_by_topic(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListByTopicInput,
    ) -> Result<ListSubscriptionsOutput, AwsError> {
        let topic = self.topic(&ctx, &input.topic_arn)?;
        let range = table::subscriptions_of_topic(&topic.account, &topic.region, &topic.name);
        self.list_page(range, input.next_token.as_deref())
    }

    pub(crate) async fn get_subscription_attributes(
        self: Arc<Self>,
        ctx: RequestContext,
        input: SubscriptionArnInput,
    ) -> Result<AttributesOutput, AwsError> {
        let sub = self.owned_subscription(&ctx, &input.subscription_arn)?;
        let mut attributes = sub.attributes.clone();
        attributes.insert("SubscriptionArn".into(), sub.arn());
        attributes.insert("TopicArn".into(), sub.topic_arn());
        attributes.insert("Owner".into(), sub.account.clone());
        attributes.insert("Protocol".into(), sub.protocol.clone());
        attributes.insert("Endpoint".into(), sub.endpoint.clone());
        attributes.insert("PendingConfirmation".into(), sub.pending().to_string());
        attributes.insert("ConfirmationWasAuthenticated".into(), sub.confirmation_was_authenticated.to_string());
        attributes.insert("SubscriptionPrincipal".into(), format!("arn:aws:iam::{}:root", sub.account));
        attributes.entry("RawMessageDelivery".into()).or_insert_with(|| "false".into());
        if attributes.contains_key("FilterPolicy") {
            attributes.entry("FilterPolicyScope".into()).or_insert_with(|| "MessageAttributes".into());
        }
        if sub.protocol.starts_with("http") {
            let topic = self.topic_by_arn_parts(&sub.account, &sub.region, &sub.topic)?;
            let policy = crate::delivery::effective_http_policy(topic.as_ref(), &sub);
            attributes.insert("EffectiveDeliveryPolicy".into(), policy.to_string());
        }
        Ok(AttributesOutput { attributes })
    }

    pub(crate) async fn set_subscription_attributes(
        self: Arc<Self>,
        ctx: RequestContext,
        input: SetSubscriptionAttributesInput,
    ) -> Result<Empty, AwsError> {
        let sub = self.owned_subscription(&ctx, &input.subscription_arn)?;
        let name = input.attribute_name;
        let value = input.attribute_value.unwrap_or_default();
        validate_attribute(&sub.protocol, &name, &value, &sub.attributes)?;
        let key = table::subscription_key(&sub.account, &sub.region, &sub.topic, &sub.id);
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let found = txn.get(KEYSPACE, &key)?.ok_or_else(error::subscription_not_found)?;
                let mut sub: Subscription = table::decode(&found)?;
                if value.is_empty() {
                    sub.attributes.remove(&name);
                } else {
                    sub.attributes.insert(name, value);
                }
                txn.put(KEYSPACE, &key, &table::encode(&sub))?;
                Ok::<_, AwsError>(())
            })
            .await?;
        Ok(Empty {})
    }
}

enum Confirmation {
    Event(Event),
    Local(LocalMessage),
}
