//! Resource-based policies of tables and their streams: PutResourcePolicy,
//! GetResourcePolicy, DeleteResourcePolicy (and CreateTable's `ResourcePolicy`).
//!
//! A policy is kept in its table's definition with its revision id — the time it was put,
//! in milliseconds, so revisions compare as AWS's do — and goes with the table. Policies
//! are stored and returned; they are not evaluated (Brume does not enforce IAM yet).

use std::sync::Arc;

use brume_core::{AwsError, RequestContext, value::Timestamp};
use brume_storage::Txn;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::Ddb;
use crate::control::table_of_arn;
use crate::error::{invalid, table_not_found, validation};
use crate::table::{self, Table};

/// The largest policy document, in bytes.
const MAX_POLICY: usize = 20 * 1024;
/// The revision to expect when a policy is to be put only where there is none.
const NO_POLICY: &str = "NO_POLICY";

/// A policy document and its revision id.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Policy {
    pub document: String,
    pub revision: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutResourcePolicyInput {
    resource_arn: String,
    policy: String,
    expected_revision_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetResourcePolicyInput {
    resource_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteResourcePolicyInput {
    resource_arn: String,
    expected_revision_id: Option<String>,
}

/// What a resource ARN names: a table, or the stream of the given label.
enum Resource {
    Table(String),
    Stream(String, String),
}

fn resource_of(ctx: &RequestContext, arn: &str, action: &str) -> Result<Resource, AwsError> {
    let name = table_of_arn(ctx, arn, action)?;
    let rest = arn.split_once(":table/").map_or("", |(_, r)| r).strip_prefix(name.as_str()).unwrap_or_default();
    match rest.strip_prefix("/stream/") {
        None if rest.is_empty() => Ok(Resource::Table(name)),
        Some(label) if !label.is_empty() => Ok(Resource::Stream(name, label.to_string())),
        _ => Err(invalid(&format!("Provided Arn is not a DynamoDB resource arn: {arn}"))),
    }
}

fn not_found(detail: &str) -> AwsError {
    AwsError::new(
        400,
        "PolicyNotFoundException",
        format!("Resource-based policy not found for the provided ResourceArn: {detail}"),
    )
}

/// Checks `expected` against the policy there now, as a conditional put or delete does.
fn check_revision(table: &str, current: Option<&Policy>, expected: Option<&str>) -> Result<(), AwsError> {
    match (current, expected) {
        (_, None) | (None, Some(NO_POLICY)) => Ok(()),
        (Some(policy), Some(NO_POLICY)) => Err(not_found(&format!(
            "Requested policy update expecting none to be present for table {table}, but a policy exists with revision id {}.",
            policy.revision
        ))),
        (Some(policy), Some(expected)) if policy.revision == expected => Ok(()),
        (Some(policy), Some(expected)) => Err(not_found(&format!(
            "Requested update for policy with revision id {expected}, but the policy associated to target table {table} has revision id {}.",
            policy.revision
        ))),
        (None, Some(expected)) => Err(not_found(&format!(
            "Requested update for policy with revision id {expected}, but no policy is associated to target table {table}."
        ))),
    }
}

/// A policy document as PutResourcePolicy and CreateTable take it: JSON, at most 20 KB.
pub fn check_document(document: &str) -> Result<(), AwsError> {
    if document.len() > MAX_POLICY {
        return Err(validation(format!(
            "Policy size should be less than or equal to {MAX_POLICY} bytes; the policy given is {} bytes",
            document.len()
        )));
    }
    match serde_json::from_str::<Json>(document) {
        Ok(Json::Object(_)) => Ok(()),
        _ => Err(validation("Invalid policy document: the policy must be a JSON object")),
    }
}

/// A new revision of `document`, or the current one if the document is the same (a put
/// of the same policy changes nothing).
pub fn revision(current: Option<&Policy>, document: &str) -> Policy {
    match current {
        Some(policy) if policy.document == document => policy.clone(),
        _ => Policy { document: document.to_string(), revision: format!("{}", (Timestamp::now().0 * 1000.0) as u64) },
    }
}

impl Table {
    /// The policy slot of `resource`, if it is this table or its current stream.
    fn policy_of(&mut self, resource: &Resource) -> Option<&mut Option<Policy>> {
        match resource {
            Resource::Table(_) => Some(&mut self.policy),
            Resource::Stream(_, label) if self.stream_label.as_deref() == Some(label.as_str()) => {
                Some(&mut self.stream_policy)
            }
            Resource::Stream(..) => None,
        }
    }
}

impl Ddb {
    /// Runs `f` on the policy slot `arn` names, in a transaction that saves the table after.
    async fn with_policy<T: Send + 'static>(
        &self,
        ctx: &RequestContext,
        arn: &str,
        action: &str,
        f: impl FnOnce(&str, &mut Option<Policy>) -> Result<T, AwsError> + Send + 'static,
    ) -> Result<T, AwsError> {
        let resource = resource_of(ctx, arn, action)?;
        let (account, region, arn) = (ctx.account.clone(), ctx.region.clone(), arn.to_string());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let (Resource::Table(name) | Resource::Stream(name, _)) = &resource;
                let table = table::load_table(txn, &account, &region, name)?.ok_or_else(|| table_not_found(name))?;
                let mut table = Arc::unwrap_or_clone(table);
                let slot = table.policy_of(&resource).ok_or_else(|| not_found(&arn))?;
                let before = slot.clone();
                let out = f(name, slot)?;
                if *slot != before {
                    table::save_table(txn, &table)?;
                }
                Ok(out)
            })
            .await
    }

    pub async fn put_resource_policy(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PutResourcePolicyInput,
    ) -> Result<Json, AwsError> {
        check_document(&input.policy)?;
        let (document, expected) = (input.policy, input.expected_revision_id);
        self.with_policy(&ctx, &input.resource_arn, "PutResourcePolicy", move |table, slot| {
            check_revision(table, slot.as_ref(), expected.as_deref())?;
            let policy = revision(slot.as_ref(), &document);
            let out = json!({ "RevisionId": policy.revision });
            *slot = Some(policy);
            Ok(out)
        })
        .await
    }

    pub async fn get_resource_policy(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetResourcePolicyInput,
    ) -> Result<Json, AwsError> {
        let resource = resource_of(&ctx, &input.resource_arn, "GetResourcePolicy")?;
        let (Resource::Table(name) | Resource::Stream(name, _)) = &resource;
        let table =
            table::load_table(&*self.kv, &ctx.account, &ctx.region, name)?.ok_or_else(|| table_not_found(name))?;
        match Arc::unwrap_or_clone(table).policy_of(&resource) {
            Some(Some(policy)) => Ok(json!({ "Policy": policy.document, "RevisionId": policy.revision })),
            _ => Err(not_found(&input.resource_arn)),
        }
    }

    pub async fn delete_resource_policy(
        self: Arc<Self>,
        ctx: RequestContext,
        input: DeleteResourcePolicyInput,
    ) -> Result<Json, AwsError> {
        let (arn, expected) = (input.resource_arn.clone(), input.expected_revision_id);
        self.with_policy(&ctx, &input.resource_arn, "DeleteResourcePolicy", move |table, slot| {
            let Some(current) = slot.clone() else {
                return Err(not_found(&arn));
            };
            check_revision(table, Some(&current), expected.as_deref())?;
            *slot = None;
            Ok(json!({ "RevisionId": current.revision }))
        })
        .await
    }
}
