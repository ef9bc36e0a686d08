//! The stack engine: one task per stack drives its current operation from the stored
//! state, phase after phase, saving after each step, so that an operation interrupted by
//! a restart picks up where it stopped (a creation, deletion, cleanup or rollback resumes;
//! an update rolls back).
//!
//! Resources go in waves: every resource whose dependencies are done is provisioned
//! concurrently, then the next wave. Deletions go in reverse dependency order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use brume_core::AwsError;
use brume_core::value::Timestamp;
use serde_json::Value;

use crate::provider::{self, Provisioned, Request};
use crate::table::{Event, Resource, Stack, StoredOutput, Template};
use crate::template::{self, Resolved, ResourceDecl, Scope};
use crate::{CloudFormation, error};

pub(crate) const STACK_TYPE: &str = "AWS::CloudFormation::Stack";

pub(crate) fn now() -> f64 {
    Timestamp::now().0
}

/// The seconds of a minute of TimeoutInMinutes: `BRUME_CLOUDFORMATION_MINUTE_MS` shortens it
/// for tests.
fn minute() -> f64 {
    std::env::var("BRUME_CLOUDFORMATION_MINUTE_MS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(60.0, |ms| ms / 1000.0)
}

/// Whether a stack status is final: nothing runs on the stack.
pub(crate) fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS") || status == "REVIEW_IN_PROGRESS"
}

/// A stack being worked on, with the events not yet saved.
pub(crate) struct Run {
    pub cf: Arc<CloudFormation>,
    pub stack: Stack,
    pub events: Vec<Event>,
}

impl Run {
    pub fn new(cf: Arc<CloudFormation>, stack: Stack) -> Run {
        Run { cf, stack, events: Vec::new() }
    }

    /// An event of the stack itself, and its new status.
    pub fn stack_status(&mut self, status: &str, reason: Option<String>) {
        self.stack.status = status.to_string();
        self.stack.reason = reason.clone();
        self.events.push(Event {
            id: uuid::Uuid::new_v4().to_string(),
            logical_id: self.stack.name.clone(),
            physical_id: Some(self.stack.id.clone()),
            kind: STACK_TYPE.to_string(),
            status: status.to_string(),
            reason,
            properties: None,
            time: now(),
            client_request_token: self.stack.client_request_token.clone(),
        });
    }

    /// An event of a resource, and its new status when it is the stack's current one.
    fn resource_event(&mut self, resource: &Resource, status: &str, reason: Option<String>) {
        self.events.push(Event {
            id: format!("{}-{}-{}", resource.logical_id, status, uuid::Uuid::new_v4()),
            logical_id: resource.logical_id.clone(),
            physical_id: resource.physical_id.clone(),
            kind: resource.kind.clone(),
            status: status.to_string(),
            reason,
            properties: (status.ends_with("IN_PROGRESS") && !resource.properties.is_null())
                .then(|| resource.properties.to_string()),
            time: now(),
            client_request_token: self.stack.client_request_token.clone(),
        });
    }

    fn set_resource(&mut self, mut resource: Resource, status: &str, reason: Option<String>) {
        resource.status = status.to_string();
        resource.reason = reason.clone();
        resource.updated = now();
        self.resource_event(&resource, status, reason);
        self.stack.resources.insert(resource.logical_id.clone(), resource);
    }

    pub async fn save(&mut self) -> Result<(), AwsError> {
        let events = std::mem::take(&mut self.events);
        self.stack = self.cf.save(self.stack.clone(), events.clone()).await?;
        self.notify(&events).await;
        Ok(())
    }

    /// Publishes the events to the stack's notification topics, as CloudFormation does;
    /// a topic that cannot take them is logged and skipped.
    async fn notify(&self, events: &[Event]) {
        let stack = &self.stack;
        for event in events {
            let text = |v: Option<&str>| v.map_or_else(|| "null".to_string(), str::to_string);
            let message = [
                ("StackId", stack.id.clone()),
                ("Timestamp", Timestamp(event.time).iso8601()),
                ("EventId", event.id.clone()),
                ("LogicalResourceId", event.logical_id.clone()),
                ("Namespace", stack.account.clone()),
                ("PhysicalResourceId", text(event.physical_id.as_deref())),
                ("PrincipalId", stack.account.clone()),
                ("ResourceProperties", text(event.properties.as_deref())),
                ("ResourceStatus", event.status.clone()),
                ("ResourceStatusReason", text(event.reason.as_deref())),
                ("ResourceType", event.kind.clone()),
                ("StackName", stack.name.clone()),
                ("ClientRequestToken", text(event.client_request_token.as_deref())),
            ]
            .iter()
            .map(|(k, v)| format!("{k}='{v}'\n"))
            .collect::<String>();
            for topic in &stack.notification_arns {
                let input = serde_json::json!({
                    "TopicArn": topic,
                    "Subject": "AWS CloudFormation Notification",
                    "Message": message,
                });
                if let Err(e) = self.cf.sdk.call("sns", "Publish", &stack.account, &stack.region, input).await {
                    tracing::warn!(topic = %topic, error = %e.message, "stack notification not published");
                }
            }
        }
    }
}

/// Drives the stack's operation to a final status, unless a task already does.
pub(crate) fn spawn(cf: &Arc<CloudFormation>, account: &str, region: &str, id: &str, resumed: bool) {
    {
        let mut running = cf.running.lock().unwrap_or_else(|p| p.into_inner());
        if !running.insert(id.to_string()) {
            return;
        }
    }
    let cf = cf.clone();
    let (account, region, id) = (account.to_string(), region.to_string(), id.to_string());
    tokio::spawn(async move {
        if let Err(e) = drive(&cf, &account, &region, &id, resumed).await {
            tracing::error!(stack = %id, error = %e.message, "stack operation stopped");
        }
        cf.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    });
}

async fn drive(cf: &Arc<CloudFormation>, account: &str, region: &str, id: &str, resumed: bool) -> Result<(), AwsError> {
    let mut first = true;
    loop {
        let Some(stack) = cf.stack_by_id(account, region, id)? else { return Ok(()) };
        if is_terminal(&stack.status) {
            return Ok(());
        }
        let mut run = Run::new(cf.clone(), stack);
        match run.stack.status.as_str() {
            "CREATE_IN_PROGRESS" => create(&mut run).await?,
            "ROLLBACK_IN_PROGRESS" | "DELETE_IN_PROGRESS" => teardown(&mut run).await?,
            "UPDATE_IN_PROGRESS" if first && resumed => {
                run.stack.done.clear();
                run.stack.cleanup.clear();
                run.stack_status(
                    "UPDATE_ROLLBACK_IN_PROGRESS",
                    Some("The update was interrupted by a restart of Brume.".to_string()),
                );
                run.save().await?;
            }
            "UPDATE_IN_PROGRESS" => update(&mut run).await?,
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" | "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS" => {
                cleanup(&mut run).await?
            }
            "UPDATE_ROLLBACK_IN_PROGRESS" => update_rollback(&mut run).await?,
            other => {
                tracing::error!(stack = %id, status = other, "no engine phase for this status");
                return Ok(());
            }
        }
        first = false;
    }
}

/// What a stack's template functions resolve against, owned.
pub(crate) struct Env {
    pub conditions: BTreeMap<String, bool>,
    pub resources: BTreeMap<String, Resolved>,
    pub exports: BTreeMap<String, String>,
}

impl Env {
    pub fn new(cf: &CloudFormation, stack: &Stack) -> Result<Env, AwsError> {
        let exports =
            cf.exports(&stack.account, &stack.region)?.into_iter().map(|(name, (value, _))| (name, value)).collect();
        let mut env = Env { conditions: BTreeMap::new(), resources: BTreeMap::new(), exports };
        env.refresh(stack);
        Ok(env)
    }

    /// The resources provisioned so far.
    pub fn refresh(&mut self, stack: &Stack) {
        self.resources = stack
            .resources
            .values()
            .filter(|r| r.physical_id.is_some() && (r.status.ends_with("_COMPLETE") && r.status != "DELETE_COMPLETE"))
            .map(|r| {
                let resolved = Resolved {
                    physical_id: r.physical_id.clone().unwrap_or_default(),
                    attributes: r.attributes.clone(),
                };
                (r.logical_id.clone(), resolved)
            })
            .collect();
    }

    pub fn scope<'a>(&'a self, stack: &'a Stack, template: &'a Template) -> Scope<'a> {
        Scope {
            account: &stack.account,
            region: &stack.region,
            stack_name: &stack.name,
            stack_id: &stack.id,
            notification_arns: &stack.notification_arns,
            parameters: &template.parameters,
            conditions: &self.conditions,
            resources: &self.resources,
            exports: &self.exports,
        }
    }

    /// The template's conditions and resources.
    pub fn load(&mut self, stack: &Stack, template: &Template) -> Result<BTreeMap<String, ResourceDecl>, String> {
        self.conditions =
            template::conditions(&template.parsed, &self.scope(stack, template)).map_err(|e| e.message)?;
        template::resources(&template.parsed, &self.conditions).map_err(|e| e.message)
    }
}

/// What a provider is asked to do in a wave.
enum Action {
    /// `resumed`: a creation a restart interrupted, made again under the same name.
    Create {
        resumed: bool,
    },
    Replace(Resource),
    Update(Resource),
}

/// The properties of `decl`, resolved.
fn resolve(env: &Env, stack: &Stack, decl: &ResourceDecl) -> Result<Value, String> {
    let properties =
        if decl.properties.is_null() { Value::Object(Default::default()) } else { decl.properties.clone() };
    template::resolve(&properties, &env.scope(stack, &stack.template)).map_err(|e| e.message)
}

fn handler_message(e: &AwsError) -> String {
    format!("Resource handler returned message: \"{}\"", e.message)
}

async fn provision(
    cf: &CloudFormation,
    stack: &Stack,
    resource: &Resource,
    action: &Action,
) -> Result<Provisioned, AwsError> {
    let Some(provider) = provider::provider(&resource.kind) else {
        return Err(error::validation(format!("Unrecognized resource types: [{}]", resource.kind)));
    };
    let suffix = provider::name_suffix(&stack.id, &resource.logical_id, resource.attempt);
    let request = Request {
        account: &stack.account,
        region: &stack.region,
        stack_name: &stack.name,
        stack_id: &stack.id,
        logical_id: &resource.logical_id,
        properties: &resource.properties,
        tags: &stack.tags,
        suffix: &suffix,
    };
    match action {
        Action::Create { resumed: true } => {
            // What the interrupted attempt made under the same generated name is removed,
            // so that the stack ends with one resource, made whole.
            if let Some(leftover) = provider.generated_id(&request) {
                provider.delete(cf.sdk.as_ref(), &request, &leftover).await?;
            }
            provider.create(cf.sdk.as_ref(), &request).await
        }
        Action::Create { .. } | Action::Replace(_) => provider.create(cf.sdk.as_ref(), &request).await,
        Action::Update(old) => {
            let physical = old.physical_id.clone().unwrap_or_default();
            provider.update(cf.sdk.as_ref(), &request, &physical, &old.properties).await
        }
    }
}

async fn unprovision(cf: &CloudFormation, stack: &Stack, resource: &Resource) -> Result<(), AwsError> {
    let Some(provider) = provider::provider(&resource.kind) else { return Ok(()) };
    let suffix = provider::name_suffix(&stack.id, &resource.logical_id, resource.attempt);
    let request = Request {
        account: &stack.account,
        region: &stack.region,
        stack_name: &stack.name,
        stack_id: &stack.id,
        logical_id: &resource.logical_id,
        properties: &resource.properties,
        tags: &stack.tags,
        suffix: &suffix,
    };
    // A creation a restart interrupted has no physical id yet: what it may have made is
    // found by its generated name.
    let physical = match &resource.physical_id {
        Some(physical) => physical.clone(),
        None if resource.status == "CREATE_IN_PROGRESS" => match provider.generated_id(&request) {
            Some(leftover) => leftover,
            None => return Ok(()),
        },
        None => return Ok(()),
    };
    provider.delete(cf.sdk.as_ref(), &request, &physical).await
}

/// Creates or updates the template's resources wave by wave; the logical ids that failed,
/// and whether each failure was a creation, or the reason the stack failed as a whole.
async fn apply(run: &mut Run, updating: bool) -> Result<Result<(), (Vec<String>, bool, Option<String>)>, AwsError> {
    let template = run.stack.template.clone();
    let mut env = Env::new(&run.cf, &run.stack)?;
    let decls = match env.load(&run.stack, &template) {
        Ok(decls) => decls,
        Err(message) => return Ok(Err((Vec::new(), !updating, Some(message)))),
    };
    let deadline = run.stack.timeout.filter(|_| !updating).map(|m| run.stack.created + m as f64 * minute());
    let mut waves = 0;
    loop {
        if run.stack.delete_requested && !updating {
            return Ok(Ok(()));
        }
        env.refresh(&run.stack);
        let ready: Vec<(&String, &ResourceDecl)> = decls
            .iter()
            .filter(|(id, decl)| {
                !run.stack.done.contains(*id)
                    && decl.depends_on.iter().all(|d| run.stack.done.contains(d) || !decls.contains_key(d))
            })
            .collect();
        if ready.is_empty() {
            break;
        }
        // TimeoutInMinutes is checked between waves: a wave under way finishes. Times have
        // millisecond precision, so a deadline reached is passed (a zero-length minute
        // must end the creation after its first wave even if that took under 1 ms).
        if waves > 0 && deadline.is_some_and(|d| now() >= d) {
            return Ok(Err((Vec::new(), true, Some("Stack creation time exceeded the specified timeout".into()))));
        }
        waves += 1;
        let mut wave = Vec::new();
        let mut failed = Vec::new();
        for (id, decl) in ready {
            let current = run.stack.resources.get(id).cloned();
            let mut resource = Resource {
                logical_id: id.clone(),
                kind: decl.kind.clone(),
                physical_id: None,
                status: String::new(),
                reason: None,
                updated: now(),
                properties: Value::Null,
                attributes: Default::default(),
                depends_on: decl.depends_on.clone(),
                deletion_policy: decl.deletion_policy.clone(),
                update_replace_policy: decl.update_replace_policy.clone(),
                attempt: 0,
            };
            let properties = match resolve(&env, &run.stack, decl) {
                Ok(p) => p,
                Err(message) => {
                    let status = if current.is_some() { "UPDATE_FAILED" } else { "CREATE_FAILED" };
                    if let Some(c) = &current {
                        resource = Resource { status: c.status.clone(), ..c.clone() };
                    }
                    run.set_resource(resource, status, Some(message));
                    failed.push((id.clone(), current.is_none()));
                    continue;
                }
            };
            resource.properties = properties;
            // A creation's attempt is recorded with its CREATE_IN_PROGRESS, before the
            // provider is called: resumed, it makes the same name again.
            let interrupted = current
                .as_ref()
                .filter(|c| !updating && c.status == "CREATE_IN_PROGRESS" && c.physical_id.is_none())
                .map(|c| c.attempt);
            resource.attempt = interrupted.unwrap_or(run.stack.event_seq + run.events.len() as u64 + 1);
            let existing = current.filter(|c| {
                updating && c.physical_id.is_some() && c.status != "DELETE_COMPLETE" && !c.status.ends_with("_FAILED")
            });
            let action = match existing {
                None => Action::Create { resumed: interrupted.is_some() },
                Some(old) if old.kind != decl.kind => Action::Replace(old),
                Some(old) if old.properties == resource.properties => {
                    let kept = Resource {
                        depends_on: decl.depends_on.clone(),
                        deletion_policy: decl.deletion_policy.clone(),
                        update_replace_policy: decl.update_replace_policy.clone(),
                        ..old
                    };
                    run.stack.resources.insert(id.clone(), kept);
                    run.stack.done.insert(id.clone());
                    continue;
                }
                Some(old) => match provider::provider(&decl.kind) {
                    Some(p) if p.replaces(&old.properties, &resource.properties) => Action::Replace(old),
                    _ => Action::Update(old),
                },
            };
            if let Action::Update(old) = &action {
                // Updated in place, it keeps the name its creation made.
                resource.attempt = old.attempt;
            }
            match &action {
                Action::Create { .. } => {
                    run.set_resource(resource.clone(), "CREATE_IN_PROGRESS", None);
                    run.resource_event(&resource, "CREATE_IN_PROGRESS", Some("Resource creation Initiated".into()));
                }
                Action::Replace(old) => {
                    let shown = Resource { physical_id: old.physical_id.clone(), ..resource.clone() };
                    run.set_resource(
                        shown,
                        "UPDATE_IN_PROGRESS",
                        Some(
                            "Requested update requires the creation of a new physical resource; hence creating one."
                                .into(),
                        ),
                    );
                    run.resource_event(&resource, "UPDATE_IN_PROGRESS", Some("Resource creation Initiated".into()));
                }
                Action::Update(old) => {
                    let shown = Resource {
                        physical_id: old.physical_id.clone(),
                        attributes: old.attributes.clone(),
                        ..resource.clone()
                    };
                    run.set_resource(shown, "UPDATE_IN_PROGRESS", None);
                }
            }
            wave.push((resource, action));
        }
        run.save().await?;
        let cf = run.cf.clone();
        let stack = run.stack.clone();
        let results = futures_util::future::join_all(
            wave.iter().map(|(resource, action)| provision(&cf, &stack, resource, action)),
        )
        .await;
        for ((mut resource, action), result) in wave.into_iter().zip(results) {
            let created = matches!(action, Action::Create { .. });
            match (result, action) {
                (Ok(provisioned), action) => {
                    resource.physical_id = Some(provisioned.physical_id);
                    resource.attributes = provisioned.attributes;
                    let status = if created { "CREATE_COMPLETE" } else { "UPDATE_COMPLETE" };
                    if let Action::Replace(old) = action {
                        run.stack.cleanup.push(old);
                    }
                    run.stack.done.insert(resource.logical_id.clone());
                    run.set_resource(resource, status, None);
                }
                (Err(e), action) => {
                    let status = if created { "CREATE_FAILED" } else { "UPDATE_FAILED" };
                    failed.push((resource.logical_id.clone(), created));
                    let shown = match action {
                        Action::Create { .. } => resource,
                        Action::Replace(old) | Action::Update(old) => Resource { status: old.status.clone(), ..old },
                    };
                    run.set_resource(shown, status, Some(handler_message(&e)));
                }
            }
        }
        run.save().await?;
        if !failed.is_empty() {
            let created = failed.iter().all(|(_, c)| *c);
            return Ok(Err((failed.into_iter().map(|(id, _)| id).collect(), created, None)));
        }
    }
    env.refresh(&run.stack);
    let outputs = match template::outputs(&template.parsed, &env.scope(&run.stack, &template)) {
        Ok(outputs) => outputs,
        Err(e) => return Ok(Err((Vec::new(), !updating, Some(e.message)))),
    };
    let taken = run.cf.exports(&run.stack.account, &run.stack.region)?;
    for output in &outputs {
        if let Some(name) = &output.export_name
            && let Some((_, owner)) = taken.get(name)
            && *owner != run.stack.id
        {
            let owner_name = owner.split('/').nth(1).unwrap_or(owner);
            let message = format!("Export with name {name} is already exported by stack {owner_name}");
            return Ok(Err((Vec::new(), !updating, Some(message))));
        }
    }
    if updating {
        let ctx = brume_core::RequestContext::new(run.stack.account.clone(), run.stack.region.clone());
        for (name, importer) in run.cf.imports_of(&ctx, &run.stack)? {
            let old = run.stack.outputs.iter().find(|o| o.export_name.as_ref() == Some(&name));
            let new = outputs.iter().find(|o| o.export_name.as_ref() == Some(&name));
            let message = match (old, new) {
                (_, None) => format!("Cannot delete export {name} as it is in use by {importer}."),
                (Some(old), Some(new)) if old.value != new.value => {
                    format!("Cannot update export {name} as it is in use by {importer}.")
                }
                _ => continue,
            };
            return Ok(Err((Vec::new(), false, Some(message))));
        }
    }
    run.stack.outputs = outputs
        .into_iter()
        .map(|o| StoredOutput { key: o.key, value: o.value, description: o.description, export_name: o.export_name })
        .collect();
    Ok(Ok(()))
}

/// Why an operation failed: the resources that failed (the text ends with a space, as
/// AWS's does), or the stack-wide message, ended as a sentence.
fn failure_reason(failed: &[String], created: bool, message: Option<String>) -> String {
    message.map(|m| if m.ends_with('.') { format!("{m} ") } else { format!("{m}. ") }).unwrap_or_else(|| {
        let verb = if created { "create" } else { "update" };
        format!("The following resource(s) failed to {verb}: [{}]. ", failed.join(", "))
    })
}

async fn create(run: &mut Run) -> Result<(), AwsError> {
    let result = apply(run, false).await?;
    if run.stack.delete_requested {
        run.stack.done.clear();
        run.stack_status("DELETE_IN_PROGRESS", Some("User Initiated".to_string()));
        return run.save().await;
    }
    match result {
        Ok(()) => {
            run.stack.done.clear();
            run.stack_status("CREATE_COMPLETE", None);
        }
        Err((failed, created, message)) => {
            let reason = failure_reason(&failed, created, message);
            if run.stack.disable_rollback {
                run.stack_status("CREATE_FAILED", Some(reason));
            } else {
                run.stack.done.clear();
                run.stack_status("ROLLBACK_IN_PROGRESS", Some(format!("{reason}Rollback requested by user.")));
            }
        }
    }
    run.save().await
}

fn retained(stack: &Stack, resource: &Resource) -> bool {
    resource.deletion_policy.as_deref() == Some("Retain") || stack.retain.contains(&resource.logical_id)
}

/// Deletes the stack's resources in reverse dependency order: a rollback or a deletion.
async fn teardown(run: &mut Run) -> Result<(), AwsError> {
    let deleting = run.stack.status == "DELETE_IN_PROGRESS";
    loop {
        let remaining: BTreeSet<String> = run
            .stack
            .resources
            .values()
            .filter(|r| !run.stack.done.contains(&r.logical_id))
            .map(|r| r.logical_id.clone())
            .collect();
        if remaining.is_empty() {
            break;
        }
        let ready: Vec<Resource> =
            run.stack
                .resources
                .values()
                .filter(|r| {
                    remaining.contains(&r.logical_id)
                        && !run.stack.resources.values().any(|other| {
                            remaining.contains(&other.logical_id) && other.depends_on.contains(&r.logical_id)
                        })
                })
                .cloned()
                .collect();
        let ready = if ready.is_empty() {
            run.stack.resources.values().filter(|r| remaining.contains(&r.logical_id)).cloned().collect()
        } else {
            ready
        };
        let mut wave = Vec::new();
        for resource in ready {
            run.stack.done.insert(resource.logical_id.clone());
            if resource.status == "DELETE_COMPLETE" {
                continue;
            }
            if resource.physical_id.is_some() && retained(&run.stack, &resource) {
                run.set_resource(resource, "DELETE_SKIPPED", None);
            } else if resource.physical_id.is_none() && resource.status != "CREATE_IN_PROGRESS" {
                run.set_resource(resource, "DELETE_COMPLETE", None);
            } else {
                run.set_resource(resource.clone(), "DELETE_IN_PROGRESS", None);
                wave.push(resource);
            }
        }
        run.save().await?;
        let cf = run.cf.clone();
        let stack = run.stack.clone();
        let results = futures_util::future::join_all(wave.iter().map(|r| unprovision(&cf, &stack, r))).await;
        let mut failed = Vec::new();
        for (resource, result) in wave.into_iter().zip(results) {
            match result {
                Ok(()) => run.set_resource(resource, "DELETE_COMPLETE", None),
                Err(e) => {
                    failed.push(resource.logical_id.clone());
                    run.set_resource(resource, "DELETE_FAILED", Some(handler_message(&e)));
                }
            }
        }
        if !failed.is_empty() {
            let reason = format!("The following resource(s) failed to delete: [{}]. ", failed.join(", "));
            run.stack.done.clear();
            run.stack_status(if deleting { "DELETE_FAILED" } else { "ROLLBACK_FAILED" }, Some(reason));
            return run.save().await;
        }
        run.save().await?;
    }
    run.stack.done.clear();
    if deleting {
        run.stack.deleted = Some(now());
        run.stack_status("DELETE_COMPLETE", None);
    } else if run.stack.delete_on_failure {
        run.stack_status("ROLLBACK_COMPLETE", None);
        run.stack_status("DELETE_IN_PROGRESS", None);
    } else {
        run.stack_status("ROLLBACK_COMPLETE", None);
    }
    run.save().await
}

async fn update(run: &mut Run) -> Result<(), AwsError> {
    match apply(run, true).await? {
        Ok(()) => {
            let template = run.stack.template.clone();
            let mut env = Env::new(&run.cf, &run.stack)?;
            let kept = env.load(&run.stack, &template).map_err(error::validation)?;
            let removed: Vec<String> =
                run.stack.resources.keys().filter(|id| !kept.contains_key(*id)).cloned().collect();
            for id in removed {
                if let Some(resource) = run.stack.resources.remove(&id) {
                    run.stack.cleanup.push(resource);
                }
            }
            run.stack.done.clear();
            run.stack_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None);
        }
        Err((failed, created, message)) => {
            let reason = failure_reason(&failed, created, message);
            run.stack.done.clear();
            if run.stack.disable_rollback {
                run.stack_status("UPDATE_FAILED", Some(reason));
            } else {
                // The replaced resources are the ones being restored: not to be deleted.
                run.stack.cleanup.clear();
                run.stack_status("UPDATE_ROLLBACK_IN_PROGRESS", Some(reason));
            }
        }
    }
    run.save().await
}

/// Deletes what the update left behind (replaced and removed resources, or those an update
/// rollback undid), one by one in reverse dependency order, then completes the operation.
async fn cleanup(run: &mut Run) -> Result<(), AwsError> {
    while !run.stack.cleanup.is_empty() {
        let ids: BTreeSet<String> = run.stack.cleanup.iter().map(|r| r.logical_id.clone()).collect();
        let index = run
            .stack
            .cleanup
            .iter()
            .position(|r| {
                !run.stack.cleanup.iter().any(|o| ids.contains(&o.logical_id) && o.depends_on.contains(&r.logical_id))
            })
            .unwrap_or(0);
        let resource = run.stack.cleanup.remove(index);
        let replaced = run.stack.resources.contains_key(&resource.logical_id);
        // What a failed update made is deleted whatever its policies say.
        let kept = if run.stack.status == "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS" {
            false
        } else if replaced {
            resource.update_replace_policy.as_deref() == Some("Retain")
        } else {
            retained(&run.stack, &resource)
        };
        if kept {
            run.resource_event(&resource, "DELETE_SKIPPED", None);
        } else {
            run.resource_event(&resource, "DELETE_IN_PROGRESS", None);
            match unprovision(&run.cf, &run.stack, &resource).await {
                Ok(()) => run.resource_event(&resource, "DELETE_COMPLETE", None),
                Err(e) => run.resource_event(&resource, "DELETE_FAILED", Some(handler_message(&e))),
            }
        }
        run.save().await?;
    }
    run.stack.previous = None;
    run.stack.previous_resources = None;
    run.stack.previous_outputs = None;
    run.stack.done.clear();
    let done = if run.stack.status == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" {
        "UPDATE_COMPLETE"
    } else {
        "UPDATE_ROLLBACK_COMPLETE"
    };
    run.stack_status(done, None);
    run.save().await
}

/// Puts every resource back as it was before the update; what the update created goes to
/// the cleanup phase.
async fn update_rollback(run: &mut Run) -> Result<(), AwsError> {
    let previous = run.stack.previous_resources.clone().unwrap_or_default();
    let ids: Vec<String> = run.stack.resources.keys().chain(previous.keys()).cloned().collect();
    let mut failed = Vec::new();
    for id in ids {
        if run.stack.done.contains(&id) {
            continue;
        }
        run.stack.done.insert(id.clone());
        let current = run.stack.resources.get(&id).cloned();
        match (current, previous.get(&id).cloned()) {
            (Some(current), None) => {
                run.stack.resources.remove(&id);
                // A creation a restart interrupted goes too: its leftover is found by name.
                let made = current.physical_id.is_some() || current.status == "CREATE_IN_PROGRESS";
                if made && !current.status.ends_with("_FAILED") {
                    run.stack.cleanup.push(current);
                }
            }
            (Some(current), Some(old)) if current.physical_id != old.physical_id => {
                if current.physical_id.is_some() && current.status != "UPDATE_FAILED" {
                    run.stack.cleanup.push(Resource { logical_id: id.clone(), ..current });
                }
                run.set_resource(old, "UPDATE_COMPLETE", None);
            }
            (Some(current), Some(old)) if current.properties != old.properties && current.status != "UPDATE_FAILED" => {
                let shown = Resource { properties: old.properties.clone(), ..current.clone() };
                run.set_resource(shown, "UPDATE_IN_PROGRESS", None);
                run.save().await?;
                let target = Resource { properties: old.properties.clone(), ..old.clone() };
                match provision(&run.cf, &run.stack, &target, &Action::Update(current.clone())).await {
                    Ok(provisioned) => {
                        let restored = Resource { attributes: provisioned.attributes, ..old };
                        run.set_resource(restored, "UPDATE_COMPLETE", None);
                    }
                    Err(e) => {
                        failed.push(id.clone());
                        run.set_resource(current, "UPDATE_FAILED", Some(handler_message(&e)));
                    }
                }
            }
            (_, Some(old)) => {
                run.stack.resources.insert(id.clone(), old);
            }
            (None, None) => {}
        }
        run.save().await?;
    }
    run.stack.done.clear();
    if let Some(template) = run.stack.previous.clone() {
        run.stack.template = template;
    }
    if let Some(outputs) = run.stack.previous_outputs.clone() {
        run.stack.outputs = outputs;
    }
    if failed.is_empty() {
        run.stack_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None);
    } else {
        let reason = format!("The following resource(s) failed to update: [{}]. ", failed.join(", "));
        run.stack_status("UPDATE_ROLLBACK_FAILED", Some(reason));
    }
    run.save().await
}

/// The changes a change set would make to `stack` with `template`: Add, Modify (with
/// whether the resource is replaced) and Remove. Resources go in dependency order, so that
/// one referring to a resource being replaced or added sees a value not known yet: it is
/// modified too, its replacement `Conditional` when the property it changes would replace it.
pub(crate) fn changes(cf: &CloudFormation, stack: &Stack, template: &Template) -> Result<Vec<Value>, AwsError> {
    let mut env = Env::new(cf, stack)?;
    let target = Stack { template: template.clone(), ..stack.clone() };
    let decls = env.load(&target, template).map_err(error::validation)?;
    let mut changes = Vec::new();
    let live = |r: &&Resource| r.physical_id.is_some() && r.status != "DELETE_COMPLETE";
    let mut seen = BTreeSet::new();
    let mut renewed = BTreeSet::new();
    while seen.len() < decls.len() {
        let ready: Vec<(&String, &ResourceDecl)> = decls
            .iter()
            .filter(|(id, d)| {
                !seen.contains(*id) && d.depends_on.iter().all(|x| seen.contains(x) || !decls.contains_key(x))
            })
            .collect();
        let ready = if ready.is_empty() { decls.iter().filter(|(id, _)| !seen.contains(*id)).collect() } else { ready };
        for (id, decl) in ready {
            seen.insert(id.clone());
            let existing = stack.resources.get(id).filter(live);
            let unknown = decl.depends_on.iter().any(|d| renewed.contains(d));
            let change = match existing {
                None => {
                    renewed.insert(id.clone());
                    env.resources.remove(id);
                    serde_json::json!({"Action": "Add", "LogicalResourceId": id, "ResourceType": decl.kind})
                }
                Some(old) => {
                    let replacement = if old.kind != decl.kind {
                        "True"
                    } else {
                        match resolve(&env, &target, decl) {
                            Ok(new) if new == old.properties => continue,
                            Ok(new) => match provider::provider(&decl.kind) {
                                Some(p) if p.replaces(&old.properties, &new) && unknown => "Conditional",
                                Some(p) if p.replaces(&old.properties, &new) => "True",
                                _ => "False",
                            },
                            Err(_) => "Conditional",
                        }
                    };
                    if replacement != "False" {
                        renewed.insert(id.clone());
                        let placeholder = Value::String(format!("{{{{{id} after the update}}}}"));
                        let resolved = Resolved {
                            physical_id: placeholder.as_str().unwrap_or_default().to_string(),
                            attributes: old.attributes.keys().map(|k| (k.clone(), placeholder.clone())).collect(),
                        };
                        env.resources.insert(id.clone(), resolved);
                    }
                    serde_json::json!({
                        "Action": "Modify",
                        "LogicalResourceId": id,
                        "PhysicalResourceId": old.physical_id,
                        "ResourceType": decl.kind,
                        "Replacement": replacement,
                        "Scope": ["Properties"],
                        "Details": [],
                    })
                }
            };
            changes.push(serde_json::json!({"Type": "Resource", "ResourceChange": change}));
        }
    }
    for (id, old) in &stack.resources {
        if !decls.contains_key(id) && live(&old) {
            let change = serde_json::json!({
                "Action": "Remove",
                "LogicalResourceId": id,
                "PhysicalResourceId": old.physical_id,
                "ResourceType": old.kind,
                "Scope": [],
                "Details": [],
            });
            changes.push(serde_json::json!({"Type": "Resource", "ResourceChange": change}));
        }
    }
    Ok(changes)
}
