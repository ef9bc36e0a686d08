//! Change sets: what CreateStack or UpdateStack would do, computed at once and kept until
//! executed or deleted (what `aws cloudformation deploy` and `sam deploy` use).

use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_storage::Direction;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::{Empty, ParameterInput, Tag, check_stack_name};
use crate::engine::{self, Run};
use crate::table::{self, ChangeSet, KEYSPACE};
use crate::{CloudFormation, error};

const NO_CHANGES: &str =
    "The submitted information didn't contain changes. Submit different information to create a change set.";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateChangeSetInput {
    stack_name: String,
    template_body: Option<String>,
    #[serde(rename = "TemplateURL")]
    template_url: Option<String>,
    #[serde(default)]
    use_previous_template: bool,
    #[serde(default)]
    parameters: Vec<ParameterInput>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default, rename = "NotificationARNs")]
    notification_arns: Vec<String>,
    tags: Option<Vec<Tag>>,
    change_set_name: String,
    description: Option<String>,
    change_set_type: Option<String>,
    on_stack_failure: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateChangeSetOutput {
    id: String,
    stack_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeSetInput {
    change_set_name: String,
    stack_name: Option<String>,
    disable_rollback: Option<bool>,
    client_request_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterOutput {
    parameter_key: String,
    parameter_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeChangeSetOutput {
    change_set_name: String,
    change_set_id: String,
    stack_id: String,
    stack_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    parameters: Vec<ParameterOutput>,
    creation_time: Timestamp,
    execution_status: String,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_reason: Option<String>,
    #[serde(rename = "NotificationARNs")]
    notification_arns: Vec<String>,
    capabilities: Vec<String>,
    tags: Vec<Tag>,
    changes: Vec<Value>,
    include_nested_stacks: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListChangeSetsInput {
    stack_name: String,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeSetSummary {
    stack_id: String,
    stack_name: String,
    change_set_id: String,
    change_set_name: String,
    execution_status: String,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_reason: Option<String>,
    creation_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    include_nested_stacks: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListChangeSetsOutput {
    summaries: Vec<ChangeSetSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// `[a-zA-Z][-a-zA-Z0-9]*`, at most 128 characters.
fn check_change_set_name(name: &str) -> Result<(), AwsError> {
    let valid = name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        return Ok(());
    }
    Err(error::validation(format!(
        "1 validation error detected: Value '{name}' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
    )))
}

impl CloudFormation {
    /// The stack's change set keys.
    pub(crate) fn change_set_names(&self, stack_id: &str) -> Result<Vec<Vec<u8>>, AwsError> {
        let rows = self.kv.scan(KEYSPACE, &table::change_sets_of(stack_id), Direction::Forward, usize::MAX)?;
        Ok(rows.into_iter().map(|(k, _)| k).collect())
    }

    /// A change set by ARN, or by name with its stack.
    pub(crate) fn change_set(
        &self,
        ctx: &RequestContext,
        name: &str,
        stack: Option<&str>,
    ) -> Result<ChangeSet, AwsError> {
        if name.starts_with("arn:") {
            let rows = self.kv.scan(KEYSPACE, &table::all_change_sets(), Direction::Forward, usize::MAX)?;
            for (_, value) in rows {
                let change_set: ChangeSet = table::decode(&value)?;
                if change_set.id == name {
                    return Ok(change_set);
                }
            }
            return Err(error::change_set_not_found(name));
        }
        let Some(stack) = stack else {
            return Err(error::validation("StackName must be specified if ChangeSetName is not specified as an ARN."));
        };
        let stack = self.find(ctx, stack).map_err(|_| error::change_set_not_found(name))?;
        let found = self.kv.get(KEYSPACE, &table::change_set_key(&stack.id, name))?;
        found.map(|b| table::decode(&b)).transpose()?.ok_or_else(|| error::change_set_not_found(name))
    }

    async fn put_change_set(&self, change_set: &ChangeSet) -> Result<(), AwsError> {
        let key = table::change_set_key(&change_set.stack_id, &change_set.name);
        let value = table::encode(change_set);
        self.kv.transact(move |txn| txn.put(KEYSPACE, &key, &value)).await?;
        Ok(())
    }

    pub(crate) async fn create_change_set(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateChangeSetInput,
    ) -> Result<CreateChangeSetOutput, AwsError> {
        check_change_set_name(&input.change_set_name)?;
        let kind = input.change_set_type.as_deref().unwrap_or("UPDATE");
        let existing = self.find(&ctx, &input.stack_name).ok();
        let stack = match (kind, existing) {
            ("CREATE", Some(stack)) if stack.status == "REVIEW_IN_PROGRESS" => stack,
            ("CREATE", Some(stack)) => return Err(error::already_exists(&stack.name)),
            ("CREATE", None) => {
                check_stack_name(&input.stack_name)?;
                let placeholder = crate::table::Template {
                    body: String::new(),
                    parsed: Value::Null,
                    description: None,
                    given: Default::default(),
                    parameters: Default::default(),
                    no_echo: Default::default(),
                };
                let stack = Self::new_stack(&ctx, &input.stack_name, placeholder);
                let mut run = Run::new(self.clone(), stack);
                run.stack_status("REVIEW_IN_PROGRESS", Some("User Initiated".to_string()));
                run.save().await?;
                run.stack
            }
            ("UPDATE", Some(stack)) if stack.status != "REVIEW_IN_PROGRESS" => {
                if !matches!(stack.status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE")
                {
                    return Err(error::in_progress(&stack.id, &stack.status, "updated."));
                }
                stack
            }
            ("UPDATE", _) => {
                return Err(error::validation(format!("Stack [{}] does not exist", input.stack_name)));
            }
            (other, _) => {
                return Err(error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'changeSetType' failed to satisfy constraint: Member must satisfy enum value set: [UPDATE, IMPORT, CREATE]"
                )));
            }
        };
        // An executed change set's name may be used again (the AWS CLI's deploy names its
        // change sets after the second it starts).
        let taken = self.kv.get(KEYSPACE, &table::change_set_key(&stack.id, &input.change_set_name))?;
        if let Some(taken) = taken
            && !table::decode::<ChangeSet>(&taken)?.execution_status.starts_with("EXECUTE_")
        {
            return Err(AwsError::new(
                400,
                "AlreadyExistsException",
                format!("ChangeSet {} already exists", input.change_set_name),
            ));
        }
        let previous = (kind == "UPDATE").then_some(&stack.template);
        let body = if input.use_previous_template {
            stack.template.body.clone()
        } else {
            self.template_text(&ctx, input.template_body, input.template_url).await?
        };
        let (template, _) =
            self.prepare((&ctx, &stack.name), body, &input.parameters, previous, &input.capabilities)?;
        let tags: Vec<(String, String)> = match input.tags {
            Some(tags) => tags.into_iter().map(|t| (t.key, t.value)).collect(),
            None => stack.tags.clone(),
        };
        let changes = engine::changes(&self, &stack, &template)?;
        let unchanged = kind == "UPDATE"
            && changes.is_empty()
            && template.parameters == stack.template.parameters
            && tags == stack.tags;
        let id = format!(
            "arn:aws:cloudformation:{}:{}:changeSet/{}/{}",
            ctx.region,
            ctx.account,
            input.change_set_name,
            uuid::Uuid::new_v4()
        );
        let on_failure = input.on_stack_failure.as_deref();
        let change_set = ChangeSet {
            id: id.clone(),
            name: input.change_set_name,
            stack_id: stack.id.clone(),
            stack_name: stack.name.clone(),
            kind: kind.to_string(),
            description: input.description,
            status: if unchanged { "FAILED" } else { "CREATE_COMPLETE" }.to_string(),
            reason: unchanged.then(|| NO_CHANGES.to_string()),
            execution_status: if unchanged { "UNAVAILABLE" } else { "AVAILABLE" }.to_string(),
            created: engine::now(),
            template,
            capabilities: input.capabilities,
            tags,
            notification_arns: input.notification_arns,
            changes,
            on_failure_delete: on_failure == Some("DELETE"),
            disable_rollback: on_failure == Some("DO_NOTHING"),
        };
        self.put_change_set(&change_set).await?;
        Ok(CreateChangeSetOutput { id, stack_id: stack.id })
    }

    pub(crate) async fn describe_change_set(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ChangeSetInput,
    ) -> Result<DescribeChangeSetOutput, AwsError> {
        let c = self.change_set(&ctx, &input.change_set_name, input.stack_name.as_deref())?;
        let parameters = c
            .template
            .parameters
            .iter()
            .map(|(key, value)| ParameterOutput {
                parameter_key: key.clone(),
                parameter_value: if c.template.no_echo.contains(key) {
                    "****".to_string()
                } else {
                    match value {
                        Value::String(s) => s.clone(),
                        Value::Array(items) => {
                            items.iter().map(|i| i.as_str().unwrap_or_default()).collect::<Vec<_>>().join(",")
                        }
                        other => other.to_string(),
                    }
                },
            })
            .collect();
        Ok(DescribeChangeSetOutput {
            change_set_name: c.name,
            change_set_id: c.id,
            stack_id: c.stack_id,
            stack_name: c.stack_name,
            description: c.description,
            parameters,
            creation_time: Timestamp(c.created),
            execution_status: c.execution_status,
            status: c.status,
            status_reason: c.reason,
            notification_arns: c.notification_arns,
            capabilities: c.capabilities,
            tags: c.tags.into_iter().map(|(key, value)| Tag { key, value }).collect(),
            changes: c.changes,
            include_nested_stacks: false,
        })
    }

    pub(crate) async fn execute_change_set(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ChangeSetInput,
    ) -> Result<Empty, AwsError> {
        let mut change_set = self.change_set(&ctx, &input.change_set_name, input.stack_name.as_deref())?;
        if input.client_request_token.is_some() {
            let stack = self.stack_by_id(&ctx.account, &ctx.region, &change_set.stack_id)?;
            if stack.is_some_and(|s| {
                s.client_request_token == input.client_request_token && s.change_set_id.as_ref() == Some(&change_set.id)
            }) {
                return Ok(Empty {});
            }
        }
        if change_set.execution_status != "AVAILABLE" {
            return Err(AwsError::new(
                400,
                "InvalidChangeSetStatusException",
                format!(
                    "ChangeSet [{}] cannot be executed in its current execution status of [{}]",
                    change_set.id, change_set.execution_status
                ),
            ));
        }
        let mut stack = self
            .stack_by_id(&ctx.account, &ctx.region, &change_set.stack_id)?
            .ok_or_else(|| error::stack_not_found(&change_set.stack_name))?;
        let expected = if change_set.kind == "CREATE" { "REVIEW_IN_PROGRESS" } else { "" };
        if (change_set.kind == "CREATE" && stack.status != expected)
            || (change_set.kind == "UPDATE"
                && !matches!(stack.status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE"))
        {
            return Err(error::in_progress(&stack.id, &stack.status, "updated."));
        }
        for key in self.change_set_names(&stack.id)? {
            if key != table::change_set_key(&stack.id, &change_set.name) {
                self.kv.transact(move |txn| txn.delete(KEYSPACE, &key)).await?;
            }
        }
        // The stack's operation ends it: EXECUTE_COMPLETE or EXECUTE_FAILED (`CloudFormation::save`).
        change_set.execution_status = "EXECUTE_IN_PROGRESS".to_string();
        self.put_change_set(&change_set).await?;
        let disable_rollback = input.disable_rollback.unwrap_or(change_set.disable_rollback);
        stack.client_request_token = input.client_request_token;
        if change_set.kind == "CREATE" {
            stack.template = change_set.template;
            stack.capabilities = change_set.capabilities;
            stack.tags = change_set.tags;
            stack.notification_arns = change_set.notification_arns;
            stack.change_set_id = Some(change_set.id);
            stack.disable_rollback = disable_rollback;
            stack.delete_on_failure = change_set.on_failure_delete;
            let mut run = Run::new(self.clone(), stack);
            run.stack_status("CREATE_IN_PROGRESS", Some("User Initiated".to_string()));
            self.begin(&mut run, false).await?;
        } else {
            stack.disable_rollback = disable_rollback;
            if !change_set.notification_arns.is_empty() {
                stack.notification_arns = change_set.notification_arns;
            }
            self.start_update(
                stack,
                change_set.template,
                change_set.capabilities,
                change_set.tags,
                Some(change_set.id),
            )
            .await?;
        }
        Ok(Empty {})
    }

    pub(crate) async fn delete_change_set(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ChangeSetInput,
    ) -> Result<Empty, AwsError> {
        let change_set = self.change_set(&ctx, &input.change_set_name, input.stack_name.as_deref())?;
        let key = table::change_set_key(&change_set.stack_id, &change_set.name);
        self.kv.transact(move |txn| txn.delete(KEYSPACE, &key)).await?;
        Ok(Empty {})
    }

    pub(crate) async fn list_change_sets(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListChangeSetsInput,
    ) -> Result<ListChangeSetsOutput, AwsError> {
        let stack = self.find(&ctx, &input.stack_name)?;
        let rows = self.kv.scan(KEYSPACE, &table::change_sets_of(&stack.id), Direction::Forward, usize::MAX)?;
        let (rows, next_token) = crate::api::page(rows, input.next_token.as_deref())?;
        let mut summaries = Vec::new();
        for (_, value) in rows {
            let c: ChangeSet = table::decode(&value)?;
            summaries.push(ChangeSetSummary {
                stack_id: c.stack_id,
                stack_name: c.stack_name,
                change_set_id: c.id,
                change_set_name: c.name,
                execution_status: c.execution_status,
                status: c.status,
                status_reason: c.reason,
                creation_time: Timestamp(c.created),
                description: c.description,
                include_nested_stacks: false,
            });
        }
        Ok(ListChangeSetsOutput { summaries, next_token })
    }
}
