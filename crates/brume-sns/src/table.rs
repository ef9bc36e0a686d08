//! SNS's records in the `sns` keyspace.
//!
//! - `topic/<account>/<region>/<name>` → [`Topic`]
//! - `sub/<account>/<region>/<topic name>/<id>` → [`Subscription`]: a topic's subscriptions
//!   are a prefix of the range and a region's are a wider one, so both listings are scans
//! - `seq/<account>/<region>/<topic name>` → the FIFO topic's last sequence number
//! - `dedup/<account>/<region>/<topic name>/<deduplication id>` → [`Dedup`], five minutes
//! - `local/<ms>/<id>` → [`LocalMessage`]: what email, email-json and sms endpoints were
//!   sent, kept here because nothing leaves the machine
//!
//! The signing key lives in its own keyspace, [`SIGNING_KEYSPACE`], which a reset of SNS's
//! state does not wipe: messages signed before a reset stay verifiable.

use std::collections::BTreeMap;

use brume_storage::key::{self, Element};
use brume_storage::{KeyRange, StorageError};
use serde::{Deserialize, Serialize};

pub const KEYSPACE: &str = "sns";
pub const SIGNING_KEYSPACE: &str = "sns-signing";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Topic {
    pub account: String,
    pub region: String,
    pub name: String,
    /// Settable attributes as SNS names them (`DisplayName`, `Policy`, `FifoTopic`…).
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub data_protection_policy: Option<String>,
    /// Subscriptions removed since the topic was created (`SubscriptionsDeleted`).
    pub deleted_subscriptions: u64,
}

impl Topic {
    pub fn arn(&self) -> String {
        format!("arn:aws:sns:{}:{}:{}", self.region, self.account, self.name)
    }

    pub fn is_fifo(&self) -> bool {
        self.attributes.get("FifoTopic").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn content_based_deduplication(&self) -> bool {
        self.attributes.get("ContentBasedDeduplication").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub account: String,
    pub region: String,
    pub topic: String,
    pub protocol: String,
    pub endpoint: String,
    /// Settable attributes (`RawMessageDelivery`, `FilterPolicy`, `RedrivePolicy`…).
    pub attributes: BTreeMap<String, String>,
    /// Set until the endpoint confirms; the token it must present.
    pub pending_token: Option<String>,
    pub confirmation_was_authenticated: bool,
}

impl Subscription {
    pub fn topic_arn(&self) -> String {
        format!("arn:aws:sns:{}:{}:{}", self.region, self.account, self.topic)
    }

    pub fn arn(&self) -> String {
        format!("{}:{}", self.topic_arn(), self.id)
    }

    pub fn pending(&self) -> bool {
        self.pending_token.is_some()
    }

    pub fn flag(&self, name: &str) -> bool {
        self.attributes.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dedup {
    pub message_id: String,
    pub sequence_number: String,
    pub expires_ms: u64,
}

/// A message "sent" to an email, email-json or sms endpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalMessage {
    pub id: String,
    pub protocol: String,
    pub endpoint: String,
    pub subscription_arn: String,
    pub topic_arn: String,
    /// `Notification` or `SubscriptionConfirmation`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
    /// ISO-8601, as SNS writes timestamps.
    pub timestamp: String,
    /// The confirmation token, for confirmation messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `(account, region, name)` of a topic ARN.
pub fn parse_topic_arn(arn: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "sns", region, account, name] if !name.is_empty() => {
            Some((account.to_string(), region.to_string(), name.to_string()))
        }
        _ => None,
    }
}

/// `(account, region, topic name, id)` of a subscription ARN.
pub fn parse_subscription_arn(arn: &str) -> Option<(String, String, String, String)> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "sns", region, account, topic, id] if !topic.is_empty() && !id.is_empty() => {
            Some((account.to_string(), region.to_string(), topic.to_string(), id.to_string()))
        }
        _ => None,
    }
}

pub fn topic_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    key::encode(&["topic".into(), account.into(), region.into(), name.into()])
}

pub fn topics_of(account: &str, region: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["topic".into(), account.into(), region.into()]))
}

pub fn subscription_key(account: &str, region: &str, topic: &str, id: &str) -> Vec<u8> {
    key::encode(&["sub".into(), account.into(), region.into(), topic.into(), id.into()])
}

pub fn subscriptions_of_topic(account: &str, region: &str, topic: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["sub".into(), account.into(), region.into(), topic.into()]))
}

pub fn subscriptions_of(account: &str, region: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["sub".into(), account.into(), region.into()]))
}

pub fn seq_key(account: &str, region: &str, topic: &str) -> Vec<u8> {
    key::encode(&["seq".into(), account.into(), region.into(), topic.into()])
}

pub fn dedup_key(account: &str, region: &str, topic: &str, id: &str) -> Vec<u8> {
    key::encode(&["dedup".into(), account.into(), region.into(), topic.into(), id.into()])
}

/// Every record a topic owns besides itself, for DeleteTopic.
pub fn topic_records(account: &str, region: &str, topic: &str) -> Vec<KeyRange> {
    vec![
        subscriptions_of_topic(account, region, topic),
        KeyRange::prefix(&key::encode(&["dedup".into(), account.into(), region.into(), topic.into()])),
    ]
}

pub fn local_key(ms: u64, id: &str) -> Vec<u8> {
    key::encode(&["local".into(), Element::from(ms), id.into()])
}

pub fn local_messages() -> KeyRange {
    KeyRange::prefix(&key::encode(&["local".into()]))
}

pub fn signing_key() -> Vec<u8> {
    key::encode(&["key".into()])
}

pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Engine(format!("corrupt sns record: {e}")))
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialize")
}
