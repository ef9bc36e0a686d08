//! Resource policies: AddPermission, RemovePermission, GetPolicy. Each qualifier (the
//! function itself, a version, an alias) has its own policy document, built statement by
//! statement as Lambda builds it. Policies are kept, not evaluated.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_protocol::ServiceBuilder;
use brume_storage::Txn;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::function::{FunctionRef, precondition_failed, validation};
use crate::table::{self, Function, KEYSPACE};
use crate::version::read;
use crate::{Lambda, error};

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder
        .op("AddPermission", Lambda::add_permission)
        .op("RemovePermission", Lambda::remove_permission)
        .op("GetPolicy", Lambda::get_policy)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionInput {
    function_name: String,
    statement_id: String,
    action: String,
    principal: String,
    source_arn: Option<String>,
    source_account: Option<String>,
    event_source_token: Option<String>,
    qualifier: Option<String>,
    revision_id: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    principal_org_id: Option<String>,
    function_url_auth_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionInput {
    function_name: String,
    statement_id: String,
    qualifier: Option<String>,
    revision_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPolicyInput {
    function_name: String,
    qualifier: Option<String>,
}

fn no_policy() -> AwsError {
    error::not_found("No policy is associated with the given resource.")
}

/// The `Principal` of a statement: a service, an account (as its root), an ARN, or anyone.
fn principal(principal: &str) -> Value {
    if principal == "*" {
        json!("*")
    } else if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        json!({"AWS": format!("arn:aws:iam::{principal}:root")})
    } else if principal.starts_with("arn:") {
        json!({"AWS": principal})
    } else {
        json!({"Service": principal})
    }
}

/// One policy statement, as AddPermission builds it.
fn statement(input: &AddPermissionInput, resource: &str) -> Value {
    let mut condition = Map::new();
    let mut string_equals = Map::new();
    if let Some(account) = &input.source_account {
        string_equals.insert("AWS:SourceAccount".into(), json!(account));
    }
    if let Some(org) = &input.principal_org_id {
        string_equals.insert("aws:PrincipalOrgID".into(), json!(org));
    }
    if let Some(token) = &input.event_source_token {
        string_equals.insert("lambda:EventSourceToken".into(), json!(token));
    }
    if let Some(auth) = &input.function_url_auth_type {
        string_equals.insert("lambda:FunctionUrlAuthType".into(), json!(auth));
    }
    if !string_equals.is_empty() {
        condition.insert("StringEquals".into(), Value::Object(string_equals));
    }
    if let Some(arn) = &input.source_arn {
        condition.insert("ArnLike".into(), json!({"AWS:SourceArn": arn}));
    }
    let mut statement = json!({
        "Sid": input.statement_id,
        "Effect": "Allow",
        "Principal": principal(&input.principal),
        "Action": input.action,
        "Resource": resource,
    });
    if !condition.is_empty() {
        statement["Condition"] = Value::Object(condition);
    }
    statement
}

fn check_statement_id(sid: &str) -> Result<(), AwsError> {
    if sid.is_empty() || sid.len() > 100 {
        return Err(validation(sid, "statementId", "Member must have length less than or equal to 100"));
    }
    if !sid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(validation(sid, "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"));
    }
    Ok(())
}

fn check_action(action: &str) -> Result<(), AwsError> {
    let valid = action == "*"
        || action
            .strip_prefix("lambda:")
            .is_some_and(|a| a == "*" || (!a.is_empty() && a.chars().all(|c| c.is_ascii_alphabetic())));
    if valid {
        Ok(())
    } else {
        Err(validation(
            action,
            "action",
            "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
        ))
    }
}

/// The policy document of `statements`, as GetPolicy answers it.
fn document(statements: &[Value]) -> String {
    json!({"Version": "2012-10-17", "Id": "default", "Statement": statements}).to_string()
}

impl Lambda {
    /// The function `target` names and the policy key of its qualifier, which must exist.
    fn policy_target(txn: &dyn brume_storage::ReadView, target: &FunctionRef) -> Result<(Function, String), AwsError> {
        let function: Function = read(txn, &table::function_key(&target.account, &target.region, &target.name))?
            .ok_or_else(|| error::function_not_found(&target.arn()))?;
        let qualifier = match target.qualifier.as_deref() {
            None | Some("$LATEST") => String::new(),
            Some(q) => {
                let exists = match q.parse::<u64>() {
                    Ok(n) => {
                        txn.get(KEYSPACE, &table::version_key(&target.account, &target.region, &target.name, n))?
                    }
                    Err(_) => txn.get(KEYSPACE, &table::alias_key(&target.account, &target.region, &target.name, q))?,
                };
                if exists.is_none() {
                    return Err(error::function_not_found(&target.qualified_arn()));
                }
                q.to_string()
            }
        };
        Ok((function, qualifier))
    }

    pub(crate) async fn add_permission(
        self: Arc<Self>,
        ctx: RequestContext,
        input: AddPermissionInput,
    ) -> Result<Value, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, &input.function_name, input.qualifier.as_deref())?;
        check_statement_id(&input.statement_id)?;
        check_action(&input.action)?;
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let (mut function, qualifier) = Self::policy_target(txn, &target)?;
                if input.revision_id.as_ref().is_some_and(|r| *r != function.policy_revision) {
                    return Err(precondition_failed());
                }
                let statements = function.policies.entry(qualifier).or_default();
                if statements.iter().any(|s| s["Sid"] == input.statement_id.as_str()) {
                    return Err(error::conflict(format!(
                        "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                        input.statement_id
                    )));
                }
                let resource = match target.qualifier.as_deref() {
                    None | Some("$LATEST") => target.arn(),
                    Some(_) => target.qualified_arn(),
                };
                let added = statement(&input, &resource);
                statements.push(added.clone());
                function.policy_revision = table::new_revision();
                let key = table::function_key(&target.account, &target.region, &target.name);
                txn.put(KEYSPACE, &key, &table::encode(&function))?;
                Ok::<_, AwsError>(json!({"Statement": added.to_string()}))
            })
            .await
    }

    pub(crate) async fn remove_permission(
        self: Arc<Self>,
        ctx: RequestContext,
        input: RemovePermissionInput,
    ) -> Result<Value, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, &input.function_name, input.qualifier.as_deref())?;
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let (mut function, qualifier) = Self::policy_target(txn, &target)?;
                if input.revision_id.as_ref().is_some_and(|r| *r != function.policy_revision) {
                    return Err(precondition_failed());
                }
                let Some(statements) = function.policies.get_mut(&qualifier) else { return Err(no_policy()) };
                let before = statements.len();
                statements.retain(|s| s["Sid"] != input.statement_id.as_str());
                if statements.len() == before {
                    return Err(error::not_found(format!(
                        "Statement {} is not found in resource policy.",
                        input.statement_id
                    )));
                }
                if statements.is_empty() {
                    function.policies.remove(&qualifier);
                }
                function.policy_revision = table::new_revision();
                let key = table::function_key(&target.account, &target.region, &target.name);
                txn.put(KEYSPACE, &key, &table::encode(&function))?;
                Ok::<_, AwsError>(json!({}))
            })
            .await
    }

    pub(crate) async fn get_policy(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetPolicyInput,
    ) -> Result<Value, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, &input.function_name, input.qualifier.as_deref())?;
        let (function, qualifier) = Self::policy_target(self.kv.as_ref(), &target)?;
        let statements = function.policies.get(&qualifier).filter(|s| !s.is_empty()).ok_or_else(no_policy)?;
        Ok(json!({"Policy": document(statements), "RevisionId": function.policy_revision}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_built_as_lambda_builds_them() {
        let input = AddPermissionInput {
            function_name: "f".into(),
            statement_id: "s3".into(),
            action: "lambda:InvokeFunction".into(),
            principal: "s3.amazonaws.com".into(),
            source_arn: Some("arn:aws:s3:::bucket".into()),
            source_account: Some("000000000000".into()),
            event_source_token: None,
            qualifier: None,
            revision_id: None,
            principal_org_id: None,
            function_url_auth_type: None,
        };
        let s = statement(&input, "arn:aws:lambda:us-east-1:000000000000:function:f");
        assert_eq!(
            s,
            json!({
                "Sid": "s3",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:us-east-1:000000000000:function:f",
                "Condition": {
                    "StringEquals": {"AWS:SourceAccount": "000000000000"},
                    "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"},
                },
            })
        );
        assert_eq!(principal("111111111111"), json!({"AWS": "arn:aws:iam::111111111111:root"}));
        assert!(check_action("lambda:InvokeFunction").is_ok() && check_action("s3:GetObject").is_err());
    }
}
