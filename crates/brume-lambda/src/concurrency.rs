//! Reserved concurrency: PutFunctionConcurrency, GetFunctionConcurrency,
//! DeleteFunctionConcurrency, within the account's limit of 1,000 concurrent executions of
//! which 100 always stay unreserved. The executor reads it from each invocation's spec.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_protocol::ServiceBuilder;
use brume_storage::{Direction, Txn};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::function::{FunctionRef, validation};
use crate::table::{self, Function, KEYSPACE};
use crate::version::read;
use crate::{Lambda, error};

/// The account's concurrent executions (`ConcurrentExecutions`).
pub const ACCOUNT_CONCURRENCY: u32 = 1000;
/// What reservations must leave unreserved.
pub const MIN_UNRESERVED: u32 = 100;

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder
        .op("PutFunctionConcurrency", Lambda::put_function_concurrency)
        .op("GetFunctionConcurrency", Lambda::get_function_concurrency)
        .op("DeleteFunctionConcurrency", Lambda::delete_function_concurrency)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInput {
    function_name: String,
    reserved_concurrent_executions: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionNameInput {
    function_name: String,
}

/// The concurrency reserved by the functions of `account` in `region`, leaving out `except`.
pub(crate) fn reserved(
    view: &dyn brume_storage::ReadView,
    account: &str,
    region: &str,
    except: Option<&str>,
) -> Result<u32, AwsError> {
    let mut total = 0;
    for (_, v) in view.scan(KEYSPACE, &table::functions_of(account, region), Direction::Forward, usize::MAX)? {
        let function: Function = table::decode(&v)?;
        if Some(function.name.as_str()) != except {
            total += function.reserved_concurrency.unwrap_or(0);
        }
    }
    Ok(total)
}

impl Lambda {
    fn unqualified(&self, ctx: &RequestContext, name: &str) -> Result<FunctionRef, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, name, None)?;
        if target.qualifier.is_some() {
            return Err(error::invalid_parameter("Concurrency cannot be configured for a qualified function."));
        }
        Ok(target)
    }

    pub(crate) async fn put_function_concurrency(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PutInput,
    ) -> Result<Value, AwsError> {
        let target = self.unqualified(&ctx, &input.function_name)?;
        let wanted = input.reserved_concurrent_executions;
        if wanted < 0 {
            return Err(validation(
                &wanted.to_string(),
                "reservedConcurrentExecutions",
                "Member must have value greater than or equal to 0",
            ));
        }
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::function_key(&target.account, &target.region, &target.name);
                let mut function: Function =
                    read(txn, &key)?.ok_or_else(|| error::function_not_found(&target.arn()))?;
                let others = reserved(txn, &target.account, &target.region, Some(&target.name))?;
                if others as i64 + wanted > (ACCOUNT_CONCURRENCY - MIN_UNRESERVED) as i64 {
                    return Err(error::invalid_parameter(format!(
                        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
                    )));
                }
                function.reserved_concurrency = Some(wanted as u32);
                txn.put(KEYSPACE, &key, &table::encode(&function))?;
                Ok::<_, AwsError>(json!({"ReservedConcurrentExecutions": wanted}))
            })
            .await
    }

    pub(crate) async fn get_function_concurrency(
        self: Arc<Self>,
        ctx: RequestContext,
        input: FunctionNameInput,
    ) -> Result<Value, AwsError> {
        let target = self.unqualified(&ctx, &input.function_name)?;
        let function = self.function(&target)?;
        Ok(match function.reserved_concurrency {
            Some(n) => json!({"ReservedConcurrentExecutions": n}),
            None => json!({}),
        })
    }

    pub(crate) async fn delete_function_concurrency(
        self: Arc<Self>,
        ctx: RequestContext,
        input: FunctionNameInput,
    ) -> Result<Value, AwsError> {
        let target = self.unqualified(&ctx, &input.function_name)?;
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::function_key(&target.account, &target.region, &target.name);
                let mut function: Function =
                    read(txn, &key)?.ok_or_else(|| error::function_not_found(&target.arn()))?;
                if function.reserved_concurrency.take().is_some() {
                    txn.put(KEYSPACE, &key, &table::encode(&function))?;
                }
                Ok::<_, AwsError>(json!({}))
            })
            .await
    }
}
