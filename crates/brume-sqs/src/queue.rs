//! Queues: create (with AWS's idempotency rule), find, list, delete, attributes (settable
//! ones validated, computed ones counted truthfully), purge, tags.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_storage::{Direction, Txn};
use serde::{Deserialize, Serialize};

use crate::table::{self, KEYSPACE, Message, Queue};
use crate::{Sqs, error, now_ms};

/// Settable attributes with their defaults and (min, max) for the numeric ones.
const NUMERIC: &[(&str, u64, u64, u64)] = &[
    ("DelaySeconds", 0, 0, 900),
    ("MaximumMessageSize", crate::message::MAX_MESSAGE_SIZE, 1024, crate::message::MAX_MESSAGE_SIZE),
    ("MessageRetentionPeriod", 345_600, 60, 1_209_600),
    ("ReceiveMessageWaitTimeSeconds", 0, 0, 20),
    ("VisibilityTimeout", 30, 0, 43_200),
];

const OTHER: &[&str] = &[
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

const COMPUTED: &[&str] = &[
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
];

/// One purge per queue per minute.
const PURGE_INTERVAL_MS: u64 = 60_000;

/// FIFO queues' own attributes, with their defaults.
const FIFO_DEFAULTS: &[(&str, &str)] = &[
    ("FifoQueue", "true"),
    ("ContentBasedDeduplication", "false"),
    ("DeduplicationScope", "queue"),
    ("FifoThroughputLimit", "perQueue"),
];

fn validate(attributes: &BTreeMap<String, String>, fifo: bool) -> Result<(), AwsError> {
    for (name, value) in attributes {
        let allowed: &[&str] = match name.as_str() {
            "FifoQueue" => &["true"],
            "ContentBasedDeduplication" => &["true", "false"],
            "DeduplicationScope" => &["messageGroup", "queue"],
            "FifoThroughputLimit" => &["perQueue", "perMessageGroupId"],
            _ => &[],
        };
        if !allowed.is_empty() {
            if !fifo {
                return Err(error::invalid_attribute_name(name));
            }
            if !allowed.contains(&value.as_str()) {
                return Err(error::invalid_attribute_value(name));
            }
        } else if name == "RedriveAllowPolicy" {
            let policy: serde_json::Value =
                serde_json::from_str(value).map_err(|_| error::invalid_attribute_value(name))?;
            let permission = policy.get("redrivePermission").and_then(|p| p.as_str());
            let sources = policy.get("sourceQueueArns").and_then(|s| s.as_array());
            let valid = match permission {
                Some("allowAll" | "denyAll") => sources.is_none(),
                Some("byQueue") => sources.is_some_and(|s| (1..=10).contains(&s.len())),
                _ => false,
            };
            if !valid {
                return Err(error::invalid_parameter(format!(
                    "Value {value} for parameter RedriveAllowPolicy is invalid. Reason: Amazon SQS can't create the redrive allow policy, as it's in an unsupported format."
                )));
            }
        } else if let Some((_, _, min, max)) = NUMERIC.iter().find(|(n, ..)| n == name) {
            match value.parse::<u64>() {
                Ok(v) if (*min..=*max).contains(&v) => {}
                _ => return Err(error::invalid_attribute_value(name)),
            }
        } else if name == "RedrivePolicy" && !value.is_empty() {
            let policy: serde_json::Value = serde_json::from_str(value)
                .map_err(|_| error::invalid_parameter("Value for parameter RedrivePolicy is invalid."))?;
            let count = policy.get("maxReceiveCount").and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()));
            if policy.get("deadLetterTargetArn").and_then(|a| a.as_str()).is_none()
                || !count.is_some_and(|c| (1..=1000).contains(&c))
            {
                return Err(error::invalid_parameter(
                    "Value for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map or is missing deadLetterTargetArn or maxReceiveCount.",
                ));
            }
        } else if !OTHER.contains(&name.as_str()) {
            return Err(error::invalid_attribute_name(name));
        }
    }
    Ok(())
}

/// `{account, name}` of a queue URL (`http://host/000000000000/name`).
pub fn parse_url(url: &str) -> Result<(String, String), AwsError> {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let name = segments.next().filter(|n| !n.is_empty()).ok_or_else(error::queue_does_not_exist)?;
    let account = segments.next().filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()));
    Ok((account.ok_or_else(error::queue_does_not_exist)?.to_string(), name.to_string()))
}

fn valid_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    (1..=80).contains(&name.len()) && base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateQueueInput {
    queue_name: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default, rename = "tags")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueUrlOutput {
    queue_url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueUrlInput {
    queue_name: String,
    queue_owner_a_w_s_account_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueUrlInput {
    pub queue_url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesInput {
    queue_name_prefix: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesOutput {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    queue_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAttributesInput {
    queue_url: String,
    #[serde(default)]
    attribute_names: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributesOutput {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetAttributesInput {
    queue_url: String,
    attributes: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    queue_url: String,
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagInput {
    queue_url: String,
    tag_keys: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagsOutput {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize)]
pub struct Empty {}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionInput {
    queue_url: String,
    label: String,
    #[serde(default, rename = "AWSAccountIds")]
    a_w_s_account_ids: Vec<String>,
    #[serde(default)]
    actions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionInput {
    queue_url: String,
    label: String,
}

/// The queue's policy document, or an empty one in the form AddPermission starts from.
fn policy_of(queue: &Queue) -> serde_json::Value {
    queue
        .attributes
        .get("Policy")
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .filter(|p| p["Statement"].is_array())
        .unwrap_or_else(|| {
            serde_json::json!({"Version": "2012-10-17", "Id": format!("{}/SQSDefaultPolicy", queue.arn()), "Statement": []})
        })
}

impl Sqs {
    pub(crate) fn url(&self, queue: &Queue) -> String {
        format!("{}/{}/{}", self.endpoint, queue.account, queue.name)
    }

    /// The queue `account`/`name`, if it exists.
    pub(crate) fn queue_at(&self, account: &str, name: &str) -> Result<Option<Queue>, AwsError> {
        Ok(self.kv.get(KEYSPACE, &table::queue_key(account, name))?.map(|b| table::decode(&b)).transpose()?)
    }

    /// The queue a URL names, when the caller's account owns it.
    pub(crate) fn queue(&self, ctx: &RequestContext, url: &str) -> Result<Queue, AwsError> {
        let (account, name) = parse_url(url)?;
        // Queue policies are not evaluated yet: only the owner gets in.
        if account != ctx.account {
            return Err(error::queue_does_not_exist());
        }
        let found = self.kv.get(KEYSPACE, &table::queue_key(&account, &name))?;
        found.map(|b| table::decode(&b)).transpose()?.ok_or_else(error::queue_does_not_exist)
    }

    pub(crate) async fn create_queue(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateQueueInput,
    ) -> Result<QueueUrlOutput, AwsError> {
        let name = input.queue_name;
        if !valid_name(&name) {
            return Err(error::invalid_parameter(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            ));
        }
        let fifo = name.ends_with(".fifo");
        if fifo != (input.attributes.get("FifoQueue").map(String::as_str) == Some("true")) {
            return Err(if fifo {
                error::invalid_parameter("The queue name must end with the .fifo suffix and FifoQueue must be true.")
            } else {
                error::invalid_attribute_name("FifoQueue")
            });
        }
        validate(&input.attributes, fifo)?;
        let arn = format!("arn:aws:sqs:{}:{}:{name}", ctx.region, ctx.account);
        self.check_redrive(&arn, &input.attributes)?;
        let now = (now_ms() / 1000) as i64;
        let mut attributes: BTreeMap<String, String> =
            NUMERIC.iter().map(|(n, default, ..)| (n.to_string(), default.to_string())).collect();
        attributes.insert("SqsManagedSseEnabled".into(), "true".into());
        if fifo {
            for (n, v) in FIFO_DEFAULTS {
                attributes.insert(n.to_string(), v.to_string());
            }
        }
        attributes.extend(input.attributes.clone());
        let queue = Queue {
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            name: name.clone(),
            attributes,
            tags: input.tags,
            created: now,
            last_modified: now,
            last_purge_ms: None,
        };
        let requested = input.attributes;
        let queue = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::queue_key(&queue.account, &queue.name);
                if let Some(existing) = txn.get(KEYSPACE, &key)? {
                    let existing: Queue = table::decode(&existing)?;
                    // Creating an existing queue is fine when no attribute asked for differs.
                    if let Some((differs, _)) = requested.iter().find(|(k, v)| existing.attributes.get(*k) != Some(v)) {
                        return Err(AwsError::new(
                            400,
                            "QueueNameExists",
                            format!("A queue already exists with the same name and a different value for attribute {differs}"),
                        ));
                    }
                    return Ok(existing);
                }
                txn.put(KEYSPACE, &key, &table::encode(&queue))?;
                Ok::<_, AwsError>(queue)
            })
            .await?;
        Ok(QueueUrlOutput { queue_url: self.url(&queue) })
    }

    pub(crate) async fn get_queue_url(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetQueueUrlInput,
    ) -> Result<QueueUrlOutput, AwsError> {
        let account = input.queue_owner_a_w_s_account_id.unwrap_or_else(|| ctx.account.clone());
        let url = format!("{}/{account}/{}", self.endpoint, input.queue_name);
        let queue = self.queue(&ctx, &url)?;
        Ok(QueueUrlOutput { queue_url: self.url(&queue) })
    }

    pub(crate) async fn list_queues(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListQueuesInput,
    ) -> Result<ListQueuesOutput, AwsError> {
        let max = match input.max_results {
            None => 1000,
            Some(n @ 1..=1000) => n as usize,
            Some(_) => {
                return Err(error::invalid_parameter(
                    "Value for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.",
                ));
            }
        };
        let prefix = input.queue_name_prefix.unwrap_or_default();
        let after = input.next_token.unwrap_or_default();
        let mut urls = Vec::new();
        let mut next = None;
        for (_, v) in self.kv.scan(KEYSPACE, &table::queues_of(&ctx.account), Direction::Forward, usize::MAX)? {
            let q: Queue = table::decode(&v)?;
            if !q.name.starts_with(&prefix) || (!after.is_empty() && q.name <= after) {
                continue;
            }
            if urls.len() == max {
                next = Some(after_name(&urls));
                break;
            }
            urls.push(self.url(&q));
        }
        // SQS only pages when MaxResults is given.
        if input.max_results.is_none() {
            next = None;
        }
        Ok(ListQueuesOutput { queue_urls: urls, next_token: next })
    }

    pub(crate) async fn delete_queue(
        self: Arc<Self>,
        ctx: RequestContext,
        input: QueueUrlInput,
    ) -> Result<Empty, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        let (account, name) = (queue.account.clone(), queue.name.clone());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                txn.delete(KEYSPACE, &table::queue_key(&queue.account, &queue.name))?;
                clear(txn, &queue, &["msg", "grp", "gmsg", "dedup", "attempt"])
            })
            .await?;
        self.marks.forget(&account, &name);
        Ok(Empty {})
    }

    pub(crate) async fn purge_queue(
        self: Arc<Self>,
        ctx: RequestContext,
        input: QueueUrlInput,
    ) -> Result<Empty, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        let url = input.queue_url;
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::queue_key(&queue.account, &queue.name);
                let mut q: Queue = table::decode(&txn.get(KEYSPACE, &key)?.ok_or_else(error::queue_does_not_exist)?)?;
                let now = now_ms();
                if q.last_purge_ms.is_some_and(|t| now < t + PURGE_INTERVAL_MS) {
                    return Err(AwsError::new(
                        403,
                        "PurgeQueueInProgress",
                        format!("Only one PurgeQueue operation on {} is allowed every 60 seconds.", q.name),
                    ));
                }
                q.last_purge_ms = Some(now);
                txn.put(KEYSPACE, &key, &table::encode(&q))?;
                tracing::debug!(queue = %url, "purged");
                clear(txn, &q, &["msg", "grp", "gmsg", "attempt"])
            })
            .await?;
        Ok(Empty {})
    }

    pub(crate) async fn get_queue_attributes(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetAttributesInput,
    ) -> Result<AttributesOutput, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        let all = input.attribute_names.iter().any(|n| n == "All");
        for n in &input.attribute_names {
            if n != "All"
                && !COMPUTED.contains(&n.as_str())
                && !NUMERIC.iter().any(|(x, ..)| x == n)
                && !OTHER.contains(&n.as_str())
            {
                return Err(error::invalid_attribute_name(n));
            }
        }
        let wanted = |n: &str| all || input.attribute_names.iter().any(|x| x == n);
        let mut out: BTreeMap<String, String> =
            queue.attributes.iter().filter(|(k, _)| wanted(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        if COMPUTED.iter().any(|n| wanted(n)) {
            let (visible, in_flight, delayed) = self.counts(&queue)?;
            let computed = [
                ("QueueArn", queue.arn()),
                ("ApproximateNumberOfMessages", visible.to_string()),
                ("ApproximateNumberOfMessagesNotVisible", in_flight.to_string()),
                ("ApproximateNumberOfMessagesDelayed", delayed.to_string()),
                ("CreatedTimestamp", queue.created.to_string()),
                ("LastModifiedTimestamp", queue.last_modified.to_string()),
            ];
            out.extend(computed.into_iter().filter(|(n, _)| wanted(n)).map(|(n, v)| (n.to_string(), v)));
        }
        Ok(AttributesOutput { attributes: out })
    }

    /// Visible, in flight, and delayed messages, counted from the records.
    fn counts(&self, queue: &Queue) -> Result<(u64, u64, u64), AwsError> {
        let now = now_ms();
        let retention_ms = queue.number("MessageRetentionPeriod", 345_600) * 1000;
        let (mut visible, mut in_flight, mut delayed) = (0, 0, 0);
        for (_, v) in self.kv.scan(
            KEYSPACE,
            &table::messages_from(&queue.account, &queue.name, self.marks.get(&queue.account, &queue.name)),
            Direction::Forward,
            usize::MAX,
        )? {
            let m: Message = table::decode(&v)?;
            // Messages past retention are gone for SQS, though removed only when next met.
            if m.sent_ms + retention_ms <= now {
                continue;
            }
            match (m.visible_ms <= now, m.receive_count > 0) {
                (true, _) => visible += 1,
                (false, true) => in_flight += 1,
                (false, false) => delayed += 1,
            }
        }
        Ok((visible, in_flight, delayed))
    }

    pub(crate) async fn set_queue_attributes(
        self: Arc<Self>,
        ctx: RequestContext,
        input: SetAttributesInput,
    ) -> Result<Empty, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        if input.attributes.contains_key("FifoQueue") && !table::is_fifo(&queue.name) {
            return Err(error::invalid_attribute_name("FifoQueue"));
        }
        validate(&input.attributes, table::is_fifo(&queue.name))?;
        self.check_redrive(&queue.arn(), &input.attributes)?;
        self.update(queue, move |q| {
            q.attributes.extend(input.attributes);
            q.last_modified = (now_ms() / 1000) as i64;
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn tag_queue(self: Arc<Self>, ctx: RequestContext, input: TagInput) -> Result<Empty, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        self.update(queue, move |q| q.tags.extend(input.tags)).await?;
        Ok(Empty {})
    }

    pub(crate) async fn untag_queue(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UntagInput,
    ) -> Result<Empty, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        self.update(queue, move |q| q.tags.retain(|k, _| !input.tag_keys.contains(k))).await?;
        Ok(Empty {})
    }

    pub(crate) async fn list_queue_tags(
        self: Arc<Self>,
        ctx: RequestContext,
        input: QueueUrlInput,
    ) -> Result<TagsOutput, AwsError> {
        Ok(TagsOutput { tags: self.queue(&ctx, &input.queue_url)?.tags })
    }

    pub(crate) async fn add_permission(
        self: Arc<Self>,
        ctx: RequestContext,
        input: AddPermissionInput,
    ) -> Result<Empty, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        if input.a_w_s_account_ids.is_empty() || input.actions.is_empty() {
            return Err(AwsError::new(
                400,
                "MissingParameter",
                "The request must contain the parameter Actions and AWSAccountIds.",
            ));
        }
        let label = input.label;
        let arn = queue.arn();
        let mut policy = policy_of(&queue);
        let statements = policy["Statement"].as_array_mut().ok_or_else(AwsError::internal)?;
        if statements.iter().any(|s| s["Sid"] == label.as_str()) {
            return Err(error::invalid_parameter(format!(
                "Value {label} for parameter Label is invalid. Reason: Already exists."
            )));
        }
        let principals: Vec<String> =
            input.a_w_s_account_ids.iter().map(|a| format!("arn:aws:iam::{a}:root")).collect();
        let actions: Vec<String> = input.actions.iter().map(|a| format!("SQS:{a}")).collect();
        statements.push(serde_json::json!({
            "Sid": label, "Effect": "Allow", "Principal": {"AWS": principals}, "Action": actions, "Resource": arn,
        }));
        self.update(queue, move |q| {
            q.attributes.insert("Policy".into(), policy.to_string());
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn remove_permission(
        self: Arc<Self>,
        ctx: RequestContext,
        input: RemovePermissionInput,
    ) -> Result<Empty, AwsError> {
        let queue = self.queue(&ctx, &input.queue_url)?;
        let label = input.label;
        let mut policy = policy_of(&queue);
        let statements = policy["Statement"].as_array_mut().ok_or_else(AwsError::internal)?;
        let before = statements.len();
        statements.retain(|s| s["Sid"] != label.as_str());
        if statements.len() == before {
            return Err(error::invalid_parameter(format!(
                "Value {label} for parameter Label is invalid. Reason: can't find label on existing policy."
            )));
        }
        let empty = statements.is_empty();
        self.update(queue, move |q| {
            if empty {
                q.attributes.remove("Policy");
            } else {
                q.attributes.insert("Policy".into(), policy.to_string());
            }
        })
        .await?;
        Ok(Empty {})
    }

    /// Applies `change` to the stored queue record in one transaction.
    async fn update(&self, queue: Queue, change: impl FnOnce(&mut Queue) + Send + 'static) -> Result<(), AwsError> {
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::queue_key(&queue.account, &queue.name);
                let mut q: Queue = table::decode(&txn.get(KEYSPACE, &key)?.ok_or_else(error::queue_does_not_exist)?)?;
                change(&mut q);
                txn.put(KEYSPACE, &key, &table::encode(&q))?;
                Ok(())
            })
            .await
    }
}

fn after_name(urls: &[String]) -> String {
    urls.last().and_then(|u| u.rsplit('/').next()).unwrap_or_default().to_string()
}

/// Deletes the queue's records of the given kinds (see `table`).
fn clear(txn: &mut dyn Txn, queue: &Queue, kinds: &[&str]) -> Result<(), AwsError> {
    for range in table::queue_records(&queue.account, &queue.name, kinds) {
        loop {
            let batch = txn.scan(KEYSPACE, &range, Direction::Forward, 1000)?;
            if batch.is_empty() {
                break;
            }
            for (k, _) in batch {
                txn.delete(KEYSPACE, &k)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_and_names() {
        assert_eq!(parse_url("http://localhost:4566/000000000000/q1").unwrap(), ("000000000000".into(), "q1".into()));
        assert_eq!(parse_url("https://sqs.us-east-1.amazonaws.com/123456789012/a_b-c/").unwrap().1, "a_b-c");
        assert!(parse_url("q1").is_err());
        assert!(valid_name("jobs") && valid_name("jobs.fifo") && valid_name(&"a".repeat(80)));
        assert!(!valid_name("bad name") && !valid_name("") && !valid_name(&"a".repeat(81)));
    }

    #[test]
    fn attributes_are_validated() {
        let attrs = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert!(validate(&attrs(&[("VisibilityTimeout", "60"), ("DelaySeconds", "900")]), false).is_ok());
        assert_eq!(
            validate(&attrs(&[("VisibilityTimeout", "43201")]), false).unwrap_err().code,
            "InvalidAttributeValue"
        );
        assert_eq!(validate(&attrs(&[("Nope", "1")]), false).unwrap_err().code, "InvalidAttributeName");
        let redrive = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#;
        assert!(validate(&attrs(&[("RedrivePolicy", redrive)]), false).is_ok());
        assert!(validate(&attrs(&[("RedrivePolicy", "{}")]), false).is_err());
        assert_eq!(
            validate(&attrs(&[("ContentBasedDeduplication", "true")]), false).unwrap_err().code,
            "InvalidAttributeName"
        );
        assert!(
            validate(&attrs(&[("ContentBasedDeduplication", "true"), ("DeduplicationScope", "messageGroup")]), true)
                .is_ok()
        );
        assert_eq!(
            validate(&attrs(&[("DeduplicationScope", "group")]), true).unwrap_err().code,
            "InvalidAttributeValue"
        );
        let allow = r#"{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:000000000000:src"]}"#;
        assert!(validate(&attrs(&[("RedriveAllowPolicy", allow)]), false).is_ok());
        let bad = r#"{"redrivePermission":"byQueue"}"#;
        assert_eq!(validate(&attrs(&[("RedriveAllowPolicy", bad)]), false).unwrap_err().code, "InvalidParameterValue");
    }
}
