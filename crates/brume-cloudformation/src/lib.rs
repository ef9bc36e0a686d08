//! AWS CloudFormation (awsQuery) for Brume: a template's resources created, updated and
//! deleted in dependency order through the services' own operations.
//!
//! - [`template`]: the template language as pure functions (parsing JSON and YAML with the
//!   short-form tags, parameters, conditions, intrinsic functions, dependencies, outputs).
//! - [`provider`]: one provider per resource type, calling the owning service through
//!   [`brume_core::clients::AwsSdkClient`], never its storage.
//! - the API (stacks, change sets, exports) and the engine, whose progress is stored
//!   (`table`) so that a restart resumes or rolls back what was under way.

mod api;
mod change_set;
mod engine;
mod error;
pub mod provider;
pub mod sam;
mod table;
pub mod template;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use brume_protocol::{Service, ServiceBuilder};
use brume_storage::{Direction, Kv};

pub use table::KEYSPACE;
use table::{Event, Stack};

/// CloudFormation's state: the store, the services' operations, and the stacks an engine
/// task is driving.
pub struct CloudFormation {
    kv: Arc<dyn Kv>,
    sdk: Arc<dyn AwsSdkClient>,
    running: Mutex<HashSet<String>>,
}

impl CloudFormation {
    pub fn new(kv: Arc<dyn Kv>, sdk: Arc<dyn AwsSdkClient>) -> Arc<CloudFormation> {
        Arc::new(CloudFormation { kv, sdk, running: Mutex::new(HashSet::new()) })
    }

    fn stack_by_id(&self, account: &str, region: &str, id: &str) -> Result<Option<Stack>, AwsError> {
        let found = self.kv.get(KEYSPACE, &table::stack_key(account, region, id))?;
        Ok(found.map(|b| table::decode(&b)).transpose()?)
    }

    fn stacks(&self, account: &str, region: &str) -> Result<Vec<Stack>, AwsError> {
        let rows = self.kv.scan(KEYSPACE, &table::stacks_of(account, region), Direction::Forward, usize::MAX)?;
        Ok(rows.iter().map(|(_, v)| table::decode(v)).collect::<Result<_, _>>()?)
    }

    /// Every live stack's exports in the region: name → (value, exporting stack id).
    fn exports(&self, account: &str, region: &str) -> Result<BTreeMap<String, (String, String)>, AwsError> {
        let mut exports = BTreeMap::new();
        for stack in self.stacks(account, region)? {
            if stack.status == "DELETE_COMPLETE" {
                continue;
            }
            for output in &stack.outputs {
                if let Some(name) = &output.export_name {
                    exports.insert(name.clone(), (output.value.clone(), stack.id.clone()));
                }
            }
        }
        Ok(exports)
    }

    /// Writes `stack` and `events` in one transaction; the termination protection, the
    /// stack policy and a deletion request, set by their own operations while an engine
    /// runs, are kept as stored. The operation's end ends the execution of the change set
    /// that started it.
    async fn save(&self, mut stack: Stack, events: Vec<Event>) -> Result<Stack, AwsError> {
        self.kv
            .transact(move |txn| {
                let key = table::stack_key(&stack.account, &stack.region, &stack.id);
                if let Some(stored) = txn.get(KEYSPACE, &key)? {
                    let stored: Stack = table::decode(&stored)?;
                    stack.termination_protection = stored.termination_protection;
                    stack.policy = stored.policy;
                    stack.delete_requested = stored.delete_requested;
                }
                for event in events {
                    stack.event_seq += 1;
                    txn.put(KEYSPACE, &table::event_key(&stack.id, stack.event_seq), &table::encode(&event))?;
                }
                txn.put(KEYSPACE, &key, &table::encode(&stack))?;
                if engine::is_terminal(&stack.status)
                    && let Some(id) = &stack.change_set_id
                    && let Some(name) = id.split('/').nth(1)
                {
                    let key = table::change_set_key(&stack.id, name);
                    if let Some(stored) = txn.get(KEYSPACE, &key)? {
                        let mut change_set: table::ChangeSet = table::decode(&stored)?;
                        if change_set.id == *id && change_set.execution_status == "EXECUTE_IN_PROGRESS" {
                            let done = matches!(stack.status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE");
                            change_set.execution_status =
                                if done { "EXECUTE_COMPLETE" } else { "EXECUTE_FAILED" }.to_string();
                            txn.put(KEYSPACE, &key, &table::encode(&change_set))?;
                        }
                    }
                }
                let name = table::name_key(&stack.account, &stack.region, &stack.name);
                if stack.status == "DELETE_COMPLETE" {
                    if txn.get(KEYSPACE, &name)?.as_deref() == Some(stack.id.as_bytes()) {
                        txn.delete(KEYSPACE, &name)?;
                    }
                } else {
                    txn.put(KEYSPACE, &name, stack.id.as_bytes())?;
                }
                Ok::<_, AwsError>(stack)
            })
            .await
    }
}

/// Resumes every stack operation a restart interrupted: creations, deletions, cleanups and
/// rollbacks go on; updates roll back.
pub fn start(state: &Arc<CloudFormation>) {
    let rows = match state.kv.scan(KEYSPACE, &table::all_stacks(), Direction::Forward, usize::MAX) {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the stacks to resume");
            return;
        }
    };
    for (_, value) in rows {
        match table::decode::<Stack>(&value) {
            Ok(stack) if !engine::is_terminal(&stack.status) => {
                tracing::info!(stack = %stack.id, status = %stack.status, "resuming the stack's operation");
                engine::spawn(state, &stack.account, &stack.region, &stack.id, true);
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "unreadable stack record"),
        }
    }
}

/// The CloudFormation service, ready for the gateway.
pub fn service(state: Arc<CloudFormation>) -> Service {
    ServiceBuilder::new("cloudformation", state)
        .op("CreateStack", CloudFormation::create_stack)
        .op("UpdateStack", CloudFormation::update_stack)
        .op("DeleteStack", CloudFormation::delete_stack)
        .op("DescribeStacks", CloudFormation::describe_stacks)
        .op("ListStacks", CloudFormation::list_stacks)
        .op("DescribeStackEvents", CloudFormation::describe_stack_events)
        .op("DescribeStackResource", CloudFormation::describe_stack_resource)
        .op("DescribeStackResources", CloudFormation::describe_stack_resources)
        .op("ListStackResources", CloudFormation::list_stack_resources)
        .op("GetTemplate", CloudFormation::get_template)
        .op("ValidateTemplate", CloudFormation::validate_template)
        .op("GetTemplateSummary", CloudFormation::get_template_summary)
        .op("ListExports", CloudFormation::list_exports)
        .op("ListImports", CloudFormation::list_imports)
        .op("UpdateTerminationProtection", CloudFormation::update_termination_protection)
        .op("SetStackPolicy", CloudFormation::set_stack_policy)
        .op("GetStackPolicy", CloudFormation::get_stack_policy)
        .op("CreateChangeSet", CloudFormation::create_change_set)
        .op("DescribeChangeSet", CloudFormation::describe_change_set)
        .op("ExecuteChangeSet", CloudFormation::execute_change_set)
        .op("DeleteChangeSet", CloudFormation::delete_change_set)
        .op("ListChangeSets", CloudFormation::list_change_sets)
        .build()
}

#[cfg(test)]
mod tests;
