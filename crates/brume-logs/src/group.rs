//! Log groups: create, delete (with their streams and events), describe with paging,
//! retention policies, and tags (TagResource by ARN and the legacy TagLogGroup family).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use brume_core::{AwsError, RequestContext};
use brume_storage::{Direction, KeyRange, ReadView, Txn};
use serde::{Deserialize, Serialize};

use crate::table::{self, Group, KEYSPACE};
use crate::{Empty, Logs, error, now_ms};

/// The retention periods AWS accepts, in days.
const RETENTION_DAYS: &[i32] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
const MAX_TAGS: usize = 50;

/// The group a request names, by `logGroupName` or by `logGroupIdentifier` (a name or an
/// ARN; the front end refuses the trailing `:*` of a group's own `arn`).
pub(crate) fn group_name(name: Option<String>, identifier: Option<String>) -> Result<String, AwsError> {
    match (name, identifier) {
        (Some(_), Some(_)) => {
            Err(error::invalid_parameter("LogGroup name and LogGroup ARN are mutually exclusive parameters."))
        }
        (Some(name), None) => Ok(name),
        (None, Some(id)) if id.starts_with("arn:") => {
            parse_group_arn(&id).map(|(_, _, name)| name).ok_or_else(error::group_not_found)
        }
        (None, Some(id)) => Ok(id),
        (None, None) => Err(error::invalid_parameter("Should provide either name or ARN of the log group.")),
    }
}

/// `(region, account, name)` of `arn:aws:logs:<region>:<account>:log-group:<name>[:*]`.
fn parse_group_arn(arn: &str) -> Option<(String, String, String)> {
    let mut parts = arn.splitn(7, ':');
    let (Some("arn"), Some(_), Some("logs"), Some(region), Some(account), Some("log-group"), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty() && !name.contains(':')).then(|| (region.to_string(), account.to_string(), name.to_string()))
}

/// Group `name` of the caller's account and region, or AWS's ResourceNotFoundException.
pub(crate) fn load(view: &dyn ReadView, ctx: &RequestContext, name: &str) -> Result<Group, AwsError> {
    match view.get(KEYSPACE, &table::group_key(&ctx.account, &ctx.region, name))? {
        Some(bytes) => Ok(table::decode(&bytes)?),
        None => Err(error::group_not_found()),
    }
}

fn save(txn: &mut dyn Txn, ctx: &RequestContext, group: &Group) -> Result<(), AwsError> {
    Ok(txn.put(KEYSPACE, &table::group_key(&ctx.account, &ctx.region, &group.name), &table::encode(group))?)
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
    if tags.len() > MAX_TAGS {
        return Err(AwsError::new(400, "TooManyTagsException", "A resource can have no more than 50 tags."));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") {
            return Err(error::invalid_parameter(format!("Invalid tag key: {k}")));
        }
        if v.chars().count() > 256 {
            return Err(error::invalid_parameter(format!("Invalid tag value: {v}")));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateLogGroupInput {
    log_group_name: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    log_group_class: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupNameInput {
    log_group_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeLogGroupsInput {
    log_group_name_prefix: Option<String>,
    log_group_name_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
    log_group_class: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogGroup {
    log_group_name: String,
    creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_in_days: Option<i32>,
    metric_filter_count: i32,
    arn: String,
    log_group_arn: String,
    stored_bytes: i64,
    log_group_class: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeLogGroupsOutput {
    log_groups: Vec<LogGroup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutRetentionPolicyInput {
    log_group_name: String,
    retention_in_days: i32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagResourceInput {
    resource_arn: String,
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UntagResourceInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResourceArnInput {
    resource_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TagLogGroupInput {
    log_group_name: String,
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UntagLogGroupInput {
    log_group_name: String,
    tags: Vec<String>,
}

#[derive(Serialize)]
pub(crate) struct TagsOutput {
    tags: BTreeMap<String, String>,
}

impl Logs {
    pub(crate) async fn create_log_group(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateLogGroupInput,
    ) -> Result<Empty, AwsError> {
        check_tags(&input.tags)?;
        let class = input.log_group_class.unwrap_or_else(|| "STANDARD".into());
        self.kv
            .transact(move |txn| {
                let key = table::group_key(&ctx.account, &ctx.region, &input.log_group_name);
                if txn.get(KEYSPACE, &key)?.is_some() {
                    return Err(error::group_exists());
                }
                let mut group = Group::new(&input.log_group_name, now_ms());
                group.tags = input.tags;
                group.class = class;
                save(txn, &ctx, &group)?;
                Ok(Empty {})
            })
            .await
    }

    pub(crate) async fn delete_log_group(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GroupNameInput,
    ) -> Result<Empty, AwsError> {
        self.kv
            .transact(move |txn| {
                let (account, region, name) = (&ctx.account, &ctx.region, &input.log_group_name);
                load(txn, &ctx, name)?;
                txn.delete(KEYSPACE, &table::group_key(account, region, name))?;
                let ranges = [
                    table::streams_of(account, region, name),
                    table::group_stream_events(account, region, name),
                    table::group_events(account, region, name, 0, i64::MAX - 1),
                ];
                for range in ranges {
                    for (k, _) in txn.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)? {
                        txn.delete(KEYSPACE, &k)?;
                    }
                }
                Ok(Empty {})
            })
            .await
    }

    pub(crate) async fn describe_log_groups(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DescribeLogGroupsInput,
    ) -> Result<DescribeLogGroupsOutput, AwsError> {
        // The front end keeps it within 1..=50.
        let limit = input.limit.map_or(50, |n| n as usize);
        if input.log_group_name_prefix.is_some() && input.log_group_name_pattern.is_some() {
            return Err(error::invalid_parameter(
                "LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.",
            ));
        }
        let mut range = match &input.log_group_name_prefix {
            // A group key ends with the name's terminator, which a prefix must leave out.
            Some(prefix) => {
                let key = table::group_key(&ctx.account, &ctx.region, prefix);
                KeyRange::prefix(&key[..key.len() - 1])
            }
            None => table::groups_of(&ctx.account, &ctx.region),
        };
        if let Some(token) = input.next_token.as_deref() {
            let last = B64
                .decode(token)
                .ok()
                .filter(|k| range.contains(k))
                .ok_or_else(|| error::invalid_parameter("The specified nextToken is invalid."))?;
            range.start = std::ops::Bound::Excluded(last);
        }
        let pattern = input.log_group_name_pattern.map(|p| p.to_lowercase());
        let mut log_groups = Vec::new();
        let mut next_token = None;
        for (_, v) in self.kv.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)? {
            let group: Group = table::decode(&v)?;
            if pattern.as_ref().is_some_and(|p| !group.name.to_lowercase().contains(p.as_str()))
                || input.log_group_class.as_ref().is_some_and(|c| *c != group.class)
            {
                continue;
            }
            if log_groups.len() == limit {
                next_token = Some(B64.encode(last_key(&ctx, &log_groups)));
                break;
            }
            log_groups.push(describe(&ctx, group));
        }
        Ok(DescribeLogGroupsOutput { log_groups, next_token })
    }

    pub(crate) async fn put_retention_policy(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PutRetentionPolicyInput,
    ) -> Result<Empty, AwsError> {
        let days = input.retention_in_days;
        if !RETENTION_DAYS.contains(&days) {
            let allowed: Vec<String> = RETENTION_DAYS.iter().map(i32::to_string).collect();
            return Err(error::constraint(
                "retentionInDays",
                &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
            ));
        }
        self.update(ctx, input.log_group_name, move |g| g.retention_days = Some(days)).await
    }

    pub(crate) async fn delete_retention_policy(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GroupNameInput,
    ) -> Result<Empty, AwsError> {
        self.update(ctx, input.log_group_name, |g| g.retention_days = None).await
    }

    pub(crate) async fn tag_resource(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TagResourceInput,
    ) -> Result<Empty, AwsError> {
        let name = arn_group(&ctx, &input.resource_arn)?;
        self.add_tags(ctx, name, input.tags).await
    }

    pub(crate) async fn untag_resource(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UntagResourceInput,
    ) -> Result<Empty, AwsError> {
        let name = arn_group(&ctx, &input.resource_arn)?;
        self.update(ctx, name, move |g| input.tag_keys.iter().for_each(|k| drop(g.tags.remove(k)))).await
    }

    pub(crate) async fn list_tags_for_resource(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ResourceArnInput,
    ) -> Result<TagsOutput, AwsError> {
        let name = arn_group(&ctx, &input.resource_arn)?;
        self.tags(&ctx, &name)
    }

    pub(crate) async fn tag_log_group(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TagLogGroupInput,
    ) -> Result<Empty, AwsError> {
        self.add_tags(ctx, input.log_group_name, input.tags).await
    }

    pub(crate) async fn untag_log_group(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UntagLogGroupInput,
    ) -> Result<Empty, AwsError> {
        self.update(ctx, input.log_group_name, move |g| input.tags.iter().for_each(|k| drop(g.tags.remove(k)))).await
    }

    pub(crate) async fn list_tags_log_group(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GroupNameInput,
    ) -> Result<TagsOutput, AwsError> {
        self.tags(&ctx, &input.log_group_name)
    }

    fn tags(&self, ctx: &RequestContext, name: &str) -> Result<TagsOutput, AwsError> {
        Ok(TagsOutput { tags: load(self.kv.as_ref(), ctx, name)?.tags })
    }

    async fn add_tags(
        &self,
        ctx: RequestContext,
        name: String,
        tags: BTreeMap<String, String>,
    ) -> Result<Empty, AwsError> {
        check_tags(&tags)?;
        self.kv
            .transact(move |txn| {
                let mut group = load(txn, &ctx, &name)?;
                group.tags.extend(tags);
                check_tags(&group.tags)?;
                save(txn, &ctx, &group)?;
                Ok(Empty {})
            })
            .await
    }

    /// Applies `f` to group `name`, which must exist.
    async fn update(
        &self,
        ctx: RequestContext,
        name: String,
        f: impl FnOnce(&mut Group) + Send + 'static,
    ) -> Result<Empty, AwsError> {
        self.kv
            .transact(move |txn| {
                let mut group = load(txn, &ctx, &name)?;
                f(&mut group);
                save(txn, &ctx, &group)?;
                Ok(Empty {})
            })
            .await
    }
}

/// The group a TagResource-family ARN names, in the caller's account and region.
fn arn_group(ctx: &RequestContext, arn: &str) -> Result<String, AwsError> {
    let (region, account, name) =
        parse_group_arn(arn).ok_or_else(|| error::invalid_parameter(format!("Invalid resource arn: {arn}")))?;
    if region != ctx.region || account != ctx.account {
        return Err(error::group_not_found());
    }
    Ok(name)
}

fn last_key(ctx: &RequestContext, listed: &[LogGroup]) -> Vec<u8> {
    let last = listed.last().map_or("", |g| g.log_group_name.as_str());
    table::group_key(&ctx.account, &ctx.region, last)
}

fn describe(ctx: &RequestContext, group: Group) -> LogGroup {
    let arn = table::group_arn(&ctx.region, &ctx.account, &group.name);
    LogGroup {
        creation_time: group.created_ms,
        retention_in_days: group.retention_days,
        metric_filter_count: 0,
        arn: format!("{arn}:*"),
        log_group_arn: arn,
        stored_bytes: group.stored_bytes,
        log_group_class: group.class,
        log_group_name: group.name,
    }
}
