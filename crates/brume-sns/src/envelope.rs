//! The JSON documents SNS sends: notifications (to SQS queues that do not ask for raw
//! delivery, to HTTP and email-json endpoints), subscription confirmations, and the
//! signature over their canonical fields.

use std::collections::BTreeMap;

use base64::Engine as _;
use brume_core::AwsError;
use brume_core::clients::MessageAttribute;
use serde_json::{Map, Value, json};

use crate::signing::canonical;
use crate::{CERTIFICATE_PATH, Sns};

/// A notification as the outbox carries it, before it is given its signature.
pub struct Notification<'a> {
    pub message_id: &'a str,
    pub topic_arn: &'a str,
    pub subscription_arn: &'a str,
    pub subject: Option<&'a str>,
    pub message: &'a str,
    pub timestamp: &'a str,
    pub attributes: &'a BTreeMap<String, MessageAttribute>,
    pub sequence_number: Option<&'a str>,
    pub signature_version: &'a str,
}

/// Message attributes as notifications carry them: `{"Name": {"Type": .., "Value": ..}}`,
/// binary values in base64.
pub fn attributes_json(attributes: &BTreeMap<String, MessageAttribute>) -> Value {
    let map: Map<String, Value> = attributes
        .iter()
        .map(|(name, a)| {
            let value = match (&a.string_value, &a.binary_value) {
                (Some(s), _) => s.clone(),
                (None, Some(b)) => base64::engine::general_purpose::STANDARD.encode(&b.0),
                (None, None) => String::new(),
            };
            (name.clone(), json!({"Type": a.data_type, "Value": value}))
        })
        .collect();
    Value::Object(map)
}

fn query_url(endpoint: &str, pairs: &[(&str, &str)]) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{endpoint}/?{query}")
}

impl Sns {
    pub fn unsubscribe_url(&self, subscription_arn: &str) -> String {
        query_url(&self.endpoint, &[("Action", "Unsubscribe"), ("SubscriptionArn", subscription_arn)])
    }

    pub fn subscribe_url(&self, topic_arn: &str, token: &str) -> String {
        query_url(&self.endpoint, &[("Action", "ConfirmSubscription"), ("TopicArn", topic_arn), ("Token", token)])
    }

    fn certificate_url(&self) -> String {
        format!("{}{CERTIFICATE_PATH}", self.endpoint)
    }

    /// The signed JSON notification. `lambda` spells two URL keys the way Lambda's SNS
    /// event records do (`SigningCertUrl`, `UnsubscribeUrl`).
    pub async fn notification(&self, n: &Notification<'_>, lambda: bool) -> Result<Value, AwsError> {
        let fields = [
            ("Message", Some(n.message)),
            ("MessageId", Some(n.message_id)),
            ("Subject", n.subject),
            ("Timestamp", Some(n.timestamp)),
            ("TopicArn", Some(n.topic_arn)),
            ("Type", Some("Notification")),
        ];
        let signature = self.sign(n.signature_version, canonical(&fields)).await?;
        let mut doc = Map::new();
        doc.insert("Type".into(), json!("Notification"));
        doc.insert("MessageId".into(), json!(n.message_id));
        if let Some(seq) = n.sequence_number {
            doc.insert("SequenceNumber".into(), json!(seq));
        }
        doc.insert("TopicArn".into(), json!(n.topic_arn));
        if let Some(subject) = n.subject {
            doc.insert("Subject".into(), json!(subject));
        }
        doc.insert("Message".into(), json!(n.message));
        doc.insert("Timestamp".into(), json!(n.timestamp));
        doc.insert("SignatureVersion".into(), json!(n.signature_version));
        doc.insert("Signature".into(), json!(signature));
        let (cert_key, unsubscribe_key) =
            if lambda { ("SigningCertUrl", "UnsubscribeUrl") } else { ("SigningCertURL", "UnsubscribeURL") };
        doc.insert(cert_key.into(), json!(self.certificate_url()));
        doc.insert(unsubscribe_key.into(), json!(self.unsubscribe_url(n.subscription_arn)));
        if !n.attributes.is_empty() {
            doc.insert("MessageAttributes".into(), attributes_json(n.attributes));
        }
        Ok(Value::Object(doc))
    }

    /// The signed SubscriptionConfirmation sent to an endpoint that must confirm.
    pub async fn confirmation(
        &self,
        message_id: &str,
        topic_arn: &str,
        token: &str,
        timestamp: &str,
        signature_version: &str,
    ) -> Result<Value, AwsError> {
        let message = format!(
            "You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, visit the SubscribeURL included in this message."
        );
        let subscribe_url = self.subscribe_url(topic_arn, token);
        let fields = [
            ("Message", Some(message.as_str())),
            ("MessageId", Some(message_id)),
            ("SubscribeURL", Some(subscribe_url.as_str())),
            ("Timestamp", Some(timestamp)),
            ("Token", Some(token)),
            ("TopicArn", Some(topic_arn)),
            ("Type", Some("SubscriptionConfirmation")),
        ];
        let signature = self.sign(signature_version, canonical(&fields)).await?;
        Ok(json!({
            "Type": "SubscriptionConfirmation",
            "MessageId": message_id,
            "Token": token,
            "TopicArn": topic_arn,
            "Message": message,
            "SubscribeURL": subscribe_url,
            "Timestamp": timestamp,
            "SignatureVersion": signature_version,
            "Signature": signature,
            "SigningCertURL": self.certificate_url(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_carry_type_and_value() {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "n".to_string(),
            MessageAttribute { data_type: "Number".into(), string_value: Some("5".into()), binary_value: None },
        );
        attributes.insert(
            "b".to_string(),
            MessageAttribute {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(brume_core::value::Blob(b"hi".to_vec())),
            },
        );
        assert_eq!(
            attributes_json(&attributes),
            json!({"b": {"Type": "Binary", "Value": "aGk="}, "n": {"Type": "Number", "Value": "5"}})
        );
    }
}
