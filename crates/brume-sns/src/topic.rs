//! Topics: create (SNS's naming and idempotency rules, standard and FIFO), delete, list
//! (100 a page), attributes (settable ones validated, computed ones counted), tags and the
//! stored data protection policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use brume_core::{AwsError, RequestContext};
use brume_storage::{Direction, KeyRange, StorageError, Txn};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::table::{self, KEYSPACE, Subscription, Topic};
use crate::{Sns, error};

/// Topics and subscriptions listed per page.
pub(crate) const PAGE: usize = 100;
/// Tags a resource may carry.
const MAX_TAGS: usize = 50;

/// Attributes CreateTopic and SetTopicAttributes accept.
const SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "DisplayName",
    "Policy",
    "SignatureVersion",
    "TracingConfig",
    "KmsMasterKeyId",
    "ContentBasedDeduplication",
    "ArchivePolicy",
    "FifoThroughputScope",
    "FifoTopic",
];

/// The delivery policy SNS applies to http/https subscriptions unless told otherwise.
pub(crate) fn default_delivery_policy() -> serde_json::Value {
    json!({"http": {
        "defaultHealthyRetryPolicy": {
            "minDelayTarget": 20,
            "maxDelayTarget": 20,
            "numRetries": 3,
            "numMaxDelayRetries": 0,
            "numNoDelayRetries": 0,
            "numMinDelayRetries": 0,
            "backoffFunction": "linear"
        },
        "disableSubscriptionOverrides": false,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}
    }})
}

/// The access policy a new topic gets, as SNS writes it.
fn default_policy(arn: &str, account: &str) -> String {
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes",
                "SNS:SetTopicAttributes",
                "SNS:AddPermission",
                "SNS:RemovePermission",
                "SNS:DeleteTopic",
                "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic",
                "SNS:Publish"
            ],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
        }]
    })
    .to_string()
}

fn valid_name(name: &str, fifo: bool) -> bool {
    let base = if fifo { name.strip_suffix(".fifo") } else { Some(name) };
    base.is_some_and(|b| {
        !b.is_empty() && name.len() <= 256 && b.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    })
}

fn is_true(value: Option<&String>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Checks one settable attribute's value.
fn validate_attribute(name: &str, value: &str, fifo: bool) -> Result<(), AwsError> {
    match name {
        "Policy" | "DeliveryPolicy" | "ArchivePolicy" if !value.is_empty() => {
            match serde_json::from_str::<serde_json::Value>(value) {
                Ok(serde_json::Value::Object(_)) => Ok(()),
                _ => Err(error::invalid_parameter(format!("Attributes Reason: {name}: failed to parse JSON"))),
            }
        }
        "SignatureVersion" if value != "1" && value != "2" => Err(error::invalid_parameter(
            "Attributes Reason: SignatureVersion: Invalid value [".to_string() + value + "]. Must be 1 or 2.",
        )),
        "TracingConfig" if value != "Active" && value != "PassThrough" => Err(error::invalid_parameter(
            "Attributes Reason: TracingConfig: Invalid value [".to_string()
                + value
                + "]. Must be Active or PassThrough.",
        )),
        "ContentBasedDeduplication" | "FifoThroughputScope" if !fifo => {
            Err(error::invalid_parameter(format!("Attributes Reason: {name} can only be set for FIFO topics")))
        }
        "DisplayName" if value.len() > 100 => Err(error::invalid_parameter("DisplayName")),
        _ => Ok(()),
    }
}

#[derive(Deserialize, Serialize, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTopicInput {
    name: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    tags: Vec<Tag>,
    data_protection_policy: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicArnOutput {
    topic_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicArnInput {
    topic_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributesOutput {
    pub(crate) attributes: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetTopicAttributesInput {
    topic_arn: String,
    attribute_name: String,
    #[serde(default)]
    attribute_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    pub(crate) next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTopicsOutput {
    topics: Vec<TopicArnOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    resource_arn: String,
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceInput {
    resource_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagsOutput {
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutDataProtectionPolicyInput {
    resource_arn: String,
    data_protection_policy: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataProtectionPolicyOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    data_protection_policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionInput {
    topic_arn: String,
    label: String,
    #[serde(rename = "AWSAccountId")]
    aws_account_id: Vec<String>,
    action_name: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionInput {
    topic_arn: String,
    label: String,
}

#[derive(Serialize)]
pub struct Empty {}

/// A page token: the last name or key listed, opaque to clients.
pub(crate) fn token_of(last: &[u8]) -> String {
    B64.encode(last)
}

/// The range after a page token, within `range`.
pub(crate) fn after_token(range: KeyRange, token: Option<&str>) -> Result<KeyRange, AwsError> {
    let Some(token) = token else { return Ok(range) };
    let last = B64.decode(token).map_err(|_| error::invalid_parameter("NextToken"))?;
    if !range.contains(&last) {
        return Err(error::invalid_parameter("NextToken"));
    }
    Ok(KeyRange { start: std::ops::Bound::Excluded(last), end: range.end })
}

impl Sns {
    /// The topic an ARN names, in the caller's account.
    pub(crate) fn topic(&self, ctx: &RequestContext, arn: &str) -> Result<Topic, AwsError> {
        let (account, region, name) =
            table::parse_topic_arn(arn).ok_or_else(|| error::invalid_parameter("TopicArn"))?;
        if account != ctx.account {
            return Err(error::authorization(format!(
                "User: {} is not authorized to perform this action on resource: {arn}",
                ctx.caller_arn()
            )));
        }
        self.topic_by_arn_parts(&account, &region, &name)?.ok_or_else(error::topic_not_found)
    }

    pub(crate) fn topic_by_arn_parts(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Topic>, AwsError> {
        let found = self.kv.get(KEYSPACE, &table::topic_key(account, region, name))?;
        Ok(found.map(|b| table::decode(&b)).transpose()?)
    }

    pub(crate) fn subscriptions_of(&self, topic: &Topic) -> Result<Vec<Subscription>, AwsError> {
        let range = table::subscriptions_of_topic(&topic.account, &topic.region, &topic.name);
        let rows = self.kv.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)?;
        Ok(rows.iter().map(|(_, v)| table::decode(v)).collect::<Result<_, _>>()?)
    }

    pub(crate) async fn create_topic(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateTopicInput,
    ) -> Result<TopicArnOutput, AwsError> {
        let name = input.name;
        let mut attributes = input.attributes;
        let fifo = is_true(attributes.get("FifoTopic"));
        if !valid_name(&name, fifo) || (!fifo && name.ends_with(".fifo")) {
            let message = if fifo || name.ends_with(".fifo") {
                "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."
            } else {
                "Topic Name"
            };
            return Err(error::invalid_parameter(message));
        }
        for (attribute, value) in &attributes {
            if !SETTABLE.contains(&attribute.as_str()) {
                return Err(error::invalid_parameter(format!("Attributes Reason: Unknown attribute {attribute}")));
            }
            validate_attribute(attribute, value, fifo)?;
        }
        if let Some(policy) = &input.data_protection_policy {
            validate_data_protection_policy(policy)?;
        }
        if fifo {
            attributes.insert("FifoTopic".into(), "true".into());
            attributes.entry("ContentBasedDeduplication".into()).or_insert_with(|| "false".into());
        } else {
            attributes.remove("FifoTopic");
        }
        let tags: BTreeMap<String, String> = input.tags.into_iter().map(|t| (t.key, t.value)).collect();
        if tags.len() > MAX_TAGS {
            return Err(tag_limit());
        }
        let mut topic = Topic {
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            name,
            attributes,
            tags,
            data_protection_policy: input.data_protection_policy,
            deleted_subscriptions: 0,
        };
        let arn = topic.arn();
        topic.attributes.entry("Policy".into()).or_insert_with(|| default_policy(&arn, &topic.account));
        let key = table::topic_key(&topic.account, &topic.region, &topic.name);
        let default = default_policy(&arn, &topic.account);
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                if let Some(existing) = txn.get(KEYSPACE, &key)? {
                    let existing: Topic = table::decode(&existing)?;
                    // Asking again for the same topic is fine; for a different one, not.
                    let same_attributes = topic
                        .attributes
                        .iter()
                        .all(|(k, v)| existing.attributes.get(k) == Some(v) || (k == "Policy" && *v == default));
                    if !same_attributes {
                        return Err(error::invalid_parameter(
                            "Attributes Reason: Topic already exists with different attributes",
                        ));
                    }
                    if !topic.tags.is_empty() && topic.tags != existing.tags {
                        return Err(error::invalid_parameter("Tags Reason: Topic already exists with different tags"));
                    }
                    return Ok(());
                }
                txn.put(KEYSPACE, &key, &table::encode(&topic))?;
                Ok(())
            })
            .await?;
        Ok(TopicArnOutput { topic_arn: arn })
    }

    pub(crate) async fn delete_topic(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TopicArnInput,
    ) -> Result<Empty, AwsError> {
        let topic = match self.topic(&ctx, &input.topic_arn) {
            Ok(topic) => topic,
            // Deleting a topic that does not exist succeeds, as in SNS.
            Err(e) if e.status == 404 => return Ok(Empty {}),
            Err(e) => return Err(e),
        };
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                txn.delete(KEYSPACE, &table::topic_key(&topic.account, &topic.region, &topic.name))?;
                txn.delete(KEYSPACE, &table::seq_key(&topic.account, &topic.region, &topic.name))?;
                for range in table::topic_records(&topic.account, &topic.region, &topic.name) {
                    for (k, _) in txn.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)? {
                        txn.delete(KEYSPACE, &k)?;
                    }
                }
                Ok::<_, StorageError>(())
            })
            .await?;
        Ok(Empty {})
    }

    pub(crate) async fn get_topic_attributes(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TopicArnInput,
    ) -> Result<AttributesOutput, AwsError> {
        let topic = self.topic(&ctx, &input.topic_arn)?;
        let subscriptions = self.subscriptions_of(&topic)?;
        let pending = subscriptions.iter().filter(|s| s.pending()).count();
        let mut attributes = topic.attributes.clone();
        attributes.insert("TopicArn".into(), topic.arn());
        attributes.insert("Owner".into(), topic.account.clone());
        attributes.insert("SubscriptionsPending".into(), pending.to_string());
        attributes.insert("SubscriptionsConfirmed".into(), (subscriptions.len() - pending).to_string());
        attributes.insert("SubscriptionsDeleted".into(), topic.deleted_subscriptions.to_string());
        attributes.entry("DisplayName".into()).or_default();
        let effective = match topic.attributes.get("DeliveryPolicy").and_then(|p| serde_json::from_str(p).ok()) {
            Some(policy) => merge(default_delivery_policy(), policy),
            None => default_delivery_policy(),
        };
        attributes.insert("EffectiveDeliveryPolicy".into(), effective.to_string());
        Ok(AttributesOutput { attributes })
    }

    pub(crate) async fn set_topic_attributes(
        self: Arc<Self>,
        ctx: RequestContext,
        input: SetTopicAttributesInput,
    ) -> Result<Empty, AwsError> {
        let topic = self.topic(&ctx, &input.topic_arn)?;
        let name = input.attribute_name;
        // FifoTopic is fixed at creation.
        if !SETTABLE.contains(&name.as_str()) || name == "FifoTopic" {
            return Err(error::invalid_parameter("AttributeName"));
        }
        let value = input.attribute_value.unwrap_or_default();
        validate_attribute(&name, &value, topic.is_fifo())?;
        self.update_topic(&topic, move |t| {
            if value.is_empty() && name != "DisplayName" {
                t.attributes.remove(&name);
            } else {
                t.attributes.insert(name, value);
            }
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    /// Applies `change` to the stored topic in one transaction (NotFound when it is gone).
    pub(crate) async fn update_topic(
        &self,
        topic: &Topic,
        change: impl FnOnce(&mut Topic) -> Result<(), AwsError> + Send + 'static,
    ) -> Result<(), AwsError> {
        let key = table::topic_key(&topic.account, &topic.region, &topic.name);
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let found = txn.get(KEYSPACE, &key)?.ok_or_else(error::topic_not_found)?;
                let mut topic: Topic = table::decode(&found)?;
                change(&mut topic)?;
                txn.put(KEYSPACE, &key, &table::encode(&topic))?;
                Ok(())
            })
            .await
    }

    pub(crate) async fn list_topics(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListInput,
    ) -> Result<ListTopicsOutput, AwsError> {
        let range = after_token(table::topics_of(&ctx.account, &ctx.region), input.next_token.as_deref())?;
        let rows = self.kv.scan(KEYSPACE, &range, Direction::Forward, PAGE + 1)?;
        let more = rows.len() > PAGE;
        let page = &rows[..rows.len().min(PAGE)];
        let topics = page
            .iter()
            .map(|(_, v)| table::decode::<Topic>(v).map(|t| TopicArnOutput { topic_arn: t.arn() }))
            .collect::<Result<_, _>>()?;
        let next_token = more.then(|| page.last().map(|(k, _)| token_of(k))).flatten();
        Ok(ListTopicsOutput { topics, next_token })
    }

    /// The topic a tagging or data protection call names; SNS answers those with
    /// `ResourceNotFound` rather than `NotFound`.
    fn tagged_topic(&self, ctx: &RequestContext, arn: &str) -> Result<Topic, AwsError> {
        match self.topic(ctx, arn) {
            Err(e) if e.status == 404 => Err(error::resource_not_found()),
            other => other,
        }
    }

    pub(crate) async fn tag_resource(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TagResourceInput,
    ) -> Result<Empty, AwsError> {
        let topic = self.tagged_topic(&ctx, &input.resource_arn)?;
        for tag in &input.tags {
            if tag.key.is_empty() || tag.key.len() > 128 || tag.value.len() > 256 {
                return Err(AwsError::new(400, "InvalidParameterException", "Invalid parameter: Tags"));
            }
        }
        self.update_topic(&topic, move |t| {
            for tag in input.tags {
                t.tags.insert(tag.key, tag.value);
            }
            if t.tags.len() > MAX_TAGS {
                return Err(tag_limit());
            }
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn untag_resource(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UntagResourceInput,
    ) -> Result<Empty, AwsError> {
        let topic = self.tagged_topic(&ctx, &input.resource_arn)?;
        self.update_topic(&topic, move |t| {
            for key in &input.tag_keys {
                t.tags.remove(key);
            }
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn list_tags_for_resource(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ResourceInput,
    ) -> Result<TagsOutput, AwsError> {
        let topic = self.tagged_topic(&ctx, &input.resource_arn)?;
        let tags = topic.tags.into_iter().map(|(key, value)| Tag { key, value }).collect();
        Ok(TagsOutput { tags })
    }

    pub(crate) async fn get_data_protection_policy(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ResourceInput,
    ) -> Result<DataProtectionPolicyOutput, AwsError> {
        let topic = self.tagged_topic(&ctx, &input.resource_arn)?;
        Ok(DataProtectionPolicyOutput { data_protection_policy: topic.data_protection_policy })
    }

    pub(crate) async fn put_data_protection_policy(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PutDataProtectionPolicyInput,
    ) -> Result<Empty, AwsError> {
        let topic = self.tagged_topic(&ctx, &input.resource_arn)?;
        validate_data_protection_policy(&input.data_protection_policy)?;
        let policy = input.data_protection_policy;
        self.update_topic(&topic, move |t| {
            t.data_protection_policy = (!policy.is_empty()).then_some(policy);
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }
}

/// The topic's policy document with `change` applied to its statements.
fn edit_statements(
    topic: &mut Topic,
    change: impl FnOnce(&mut Vec<serde_json::Value>) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    let arn = topic.arn();
    let text = topic.attributes.get("Policy").cloned().unwrap_or_else(|| default_policy(&arn, &topic.account));
    let mut policy: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| json!({"Statement": []}));
    let mut statements = match policy.get_mut("Statement").map(serde_json::Value::take) {
        Some(serde_json::Value::Array(list)) => list,
        Some(one @ serde_json::Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    change(&mut statements)?;
    policy["Statement"] = serde_json::Value::Array(statements);
    topic.attributes.insert("Policy".into(), policy.to_string());
    Ok(())
}

impl Sns {
    pub(crate) async fn add_permission(
        self: Arc<Self>,
        ctx: RequestContext,
        input: AddPermissionInput,
    ) -> Result<Empty, AwsError> {
        let topic = self.topic(&ctx, &input.topic_arn)?;
        if input.aws_account_id.is_empty() || input.action_name.is_empty() {
            return Err(error::invalid_parameter("Policy statement action out of service scope!"));
        }
        let arn = topic.arn();
        let principals: Vec<String> = input.aws_account_id.iter().map(|a| format!("arn:aws:iam::{a}:root")).collect();
        let actions: Vec<String> = input.action_name.iter().map(|a| format!("SNS:{a}")).collect();
        let statement = json!({
            "Sid": input.label,
            "Effect": "Allow",
            "Principal": {"AWS": if principals.len() == 1 { json!(principals[0]) } else { json!(principals) }},
            "Action": if actions.len() == 1 { json!(actions[0]) } else { json!(actions) },
            "Resource": arn,
        });
        self.update_topic(&topic, move |t| {
            edit_statements(t, |statements| {
                if statements.iter().any(|s| s["Sid"] == statement["Sid"]) {
                    return Err(error::invalid_parameter("Statement already exists"));
                }
                statements.push(statement);
                Ok(())
            })
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn remove_permission(
        self: Arc<Self>,
        ctx: RequestContext,
        input: RemovePermissionInput,
    ) -> Result<Empty, AwsError> {
        let topic = self.topic(&ctx, &input.topic_arn)?;
        let label = input.label;
        self.update_topic(&topic, move |t| {
            edit_statements(t, |statements| {
                let before = statements.len();
                statements.retain(|s| s["Sid"] != label.as_str());
                if statements.len() == before {
                    return Err(error::invalid_parameter("Statement doesn't exist"));
                }
                Ok(())
            })
        })
        .await?;
        Ok(Empty {})
    }
}

/// Data protection policies are stored, not applied: only their shape is checked.
fn validate_data_protection_policy(policy: &str) -> Result<(), AwsError> {
    if policy.is_empty() {
        return Ok(());
    }
    match serde_json::from_str::<serde_json::Value>(policy) {
        Ok(serde_json::Value::Object(o)) if o.get("Statement").is_some_and(|s| s.is_array()) => Ok(()),
        _ => Err(error::invalid_parameter("DataProtectionPolicy")),
    }
}

fn tag_limit() -> AwsError {
    AwsError::new(400, "TagLimitExceededException", "Could not complete request: tag quota of per resource exceeded")
}

/// `overlay` over `base`, object members merged recursively.
pub(crate) fn merge(base: serde_json::Value, overlay: serde_json::Value) -> serde_json::Value {
    match (base, overlay) {
        (serde_json::Value::Object(mut b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                let merged = match b.remove(&k) {
                    Some(existing) => merge(existing, v),
                    None => v,
                };
                b.insert(k, merged);
            }
            serde_json::Value::Object(b)
        }
        (_, overlay) => overlay,
    }
}
