//! Aliases: CreateAlias, GetAlias, ListAliases, UpdateAlias, DeleteAlias. An alias names a
//! version (or `$LATEST`) and may send a weighted share of invocations to one additional
//! published version ([`crate::function`]'s resolve draws it).

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_protocol::ServiceBuilder;
use brume_storage::{Direction, Txn};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::function::{FunctionRef, paginate, precondition_failed, validation};
use crate::table::{self, Alias, Function, KEYSPACE};
use crate::version::read;
use crate::{Lambda, error};

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder
        .op("CreateAlias", Lambda::create_alias)
        .op("GetAlias", Lambda::get_alias)
        .op("ListAliases", Lambda::list_aliases)
        .op("UpdateAlias", Lambda::update_alias)
        .op("DeleteAlias", Lambda::delete_alias)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoutingInput {
    #[serde(default)]
    additional_version_weights: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasInput {
    function_name: String,
    name: String,
    function_version: Option<String>,
    description: Option<String>,
    routing_config: Option<RoutingInput>,
    revision_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamedAliasInput {
    function_name: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesInput {
    function_name: String,
    function_version: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

fn check_name(name: &str) -> Result<(), AwsError> {
    if name.is_empty() || name.len() > 128 {
        return Err(validation(name, "name", "Member must have length less than or equal to 128"));
    }
    let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid || name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(validation(
            name,
            "name",
            "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        ));
    }
    Ok(())
}

fn alias_arn(function: &Function, name: &str) -> String {
    format!("{}:{name}", function.arn())
}

fn alias_not_found(function: &FunctionRef, name: &str) -> AwsError {
    error::not_found(format!("Cannot find alias arn: {}:{name}", function.arn()))
}

/// `AliasConfiguration` as Lambda answers it.
fn alias_json(function: &Function, alias: &Alias) -> Value {
    let mut out = json!({
        "AliasArn": alias_arn(function, &alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    });
    if !alias.routing.is_empty() {
        out["RoutingConfig"] = json!({"AdditionalVersionWeights": alias.routing});
    }
    out
}

/// Checks that `version` exists for an alias of `function`.
fn check_version(txn: &dyn brume_storage::ReadView, function: &Function, version: &str) -> Result<(), AwsError> {
    if version == "$LATEST" {
        return Ok(());
    }
    let exists = version.parse::<u64>().ok().is_some_and(|n| {
        let key = table::version_key(&function.account, &function.region, &function.name, n);
        matches!(txn.get(KEYSPACE, &key), Ok(Some(_)))
    });
    if exists { Ok(()) } else { Err(error::function_not_found(&format!("{}:{version}", function.arn()))) }
}

/// Checks a routing configuration against the alias's primary version.
fn check_routing(
    txn: &dyn brume_storage::ReadView,
    function: &Function,
    primary: &str,
    routing: &BTreeMap<String, f64>,
) -> Result<(), AwsError> {
    if routing.len() > 1 {
        return Err(validation(
            &format!("{routing:?}"),
            "routingConfig.additionalVersionWeights",
            "Member must have length less than or equal to 1",
        ));
    }
    for (version, weight) in routing {
        if !(0.0..=1.0).contains(weight) {
            let constraint = if *weight < 0.0 {
                "Member must have value greater than or equal to 0.0"
            } else {
                "Member must have value less than or equal to 1.0"
            };
            return Err(validation(&weight.to_string(), "routingConfig.additionalVersionWeights", constraint));
        }
        if primary == "$LATEST" || version == "$LATEST" {
            return Err(error::invalid_parameter(
                "$LATEST is not supported for an alias pointing to more than 1 version",
            ));
        }
        if version == primary {
            return Err(error::invalid_parameter(format!(
                "Invalid function version {version}. Function version {version} is already included in routing configuration."
            )));
        }
        check_version(txn, function, version)?;
    }
    Ok(())
}

impl Lambda {
    fn alias_target(&self, ctx: &RequestContext, function_name: &str) -> Result<FunctionRef, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, function_name, None)?;
        if target.qualifier.is_some() {
            return Err(error::invalid_parameter("Qualifiers are not supported for alias operations."));
        }
        Ok(target)
    }

    pub(crate) async fn create_alias(
        self: Arc<Self>,
        ctx: RequestContext,
        input: AliasInput,
    ) -> Result<Value, AwsError> {
        let target = self.alias_target(&ctx, &input.function_name)?;
        check_name(&input.name)?;
        let version = input
            .function_version
            .clone()
            .ok_or_else(|| validation("null", "functionVersion", "Member must not be null"))?;
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let function: Function =
                    read(txn, &table::function_key(&target.account, &target.region, &target.name))?
                        .ok_or_else(|| error::function_not_found(&target.arn()))?;
                let key = table::alias_key(&target.account, &target.region, &target.name, &input.name);
                if txn.get(KEYSPACE, &key)?.is_some() {
                    return Err(error::conflict(format!(
                        "Alias already exists: {}",
                        alias_arn(&function, &input.name)
                    )));
                }
                check_version(txn, &function, &version)?;
                let routing = input.routing_config.unwrap_or_default().additional_version_weights;
                check_routing(txn, &function, &version, &routing)?;
                let alias = Alias {
                    name: input.name,
                    function_version: version,
                    description: input.description.unwrap_or_default(),
                    routing,
                    revision_id: table::new_revision(),
                };
                txn.put(KEYSPACE, &key, &table::encode(&alias))?;
                Ok::<_, AwsError>(alias_json(&function, &alias))
            })
            .await
    }

    pub(crate) async fn get_alias(
        self: Arc<Self>,
        ctx: RequestContext,
        input: NamedAliasInput,
    ) -> Result<Value, AwsError> {
        let target = self.alias_target(&ctx, &input.function_name)?;
        let function = self.function(&target)?;
        let key = table::alias_key(&target.account, &target.region, &target.name, &input.name);
        let alias: Alias = read(self.kv.as_ref(), &key)?.ok_or_else(|| alias_not_found(&target, &input.name))?;
        Ok(alias_json(&function, &alias))
    }

    pub(crate) async fn list_aliases(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListAliasesInput,
    ) -> Result<Value, AwsError> {
        let target = self.alias_target(&ctx, &input.function_name)?;
        let function = self.function(&target)?;
        let range = table::aliases_of(&target.account, &target.region, &target.name);
        let mut all = Vec::new();
        for (_, v) in self.kv.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)? {
            let alias: Alias = table::decode(&v)?;
            let wanted = input
                .function_version
                .as_deref()
                .is_none_or(|version| alias.function_version == version || alias.routing.contains_key(version));
            if wanted {
                all.push(alias_json(&function, &alias));
            }
        }
        let (page, next) = paginate(all, input.marker.as_deref(), input.max_items)?;
        let mut out = json!({"Aliases": page});
        if let Some(next) = next {
            out["NextMarker"] = json!(next);
        }
        Ok(out)
    }

    pub(crate) async fn update_alias(
        self: Arc<Self>,
        ctx: RequestContext,
        input: AliasInput,
    ) -> Result<Value, AwsError> {
        let target = self.alias_target(&ctx, &input.function_name)?;
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let function: Function =
                    read(txn, &table::function_key(&target.account, &target.region, &target.name))?
                        .ok_or_else(|| error::function_not_found(&target.arn()))?;
                let key = table::alias_key(&target.account, &target.region, &target.name, &input.name);
                let mut alias: Alias = read(txn, &key)?.ok_or_else(|| alias_not_found(&target, &input.name))?;
                if input.revision_id.is_some_and(|r| r != alias.revision_id) {
                    return Err(precondition_failed());
                }
                if let Some(version) = input.function_version {
                    check_version(txn, &function, &version)?;
                    alias.function_version = version;
                }
                if let Some(description) = input.description {
                    alias.description = description;
                }
                if let Some(routing) = input.routing_config {
                    alias.routing = routing.additional_version_weights;
                }
                check_routing(txn, &function, &alias.function_version, &alias.routing)?;
                alias.revision_id = table::new_revision();
                txn.put(KEYSPACE, &key, &table::encode(&alias))?;
                Ok::<_, AwsError>(alias_json(&function, &alias))
            })
            .await
    }

    pub(crate) async fn delete_alias(
        self: Arc<Self>,
        ctx: RequestContext,
        input: NamedAliasInput,
    ) -> Result<Value, AwsError> {
        let target = self.alias_target(&ctx, &input.function_name)?;
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let function_key = table::function_key(&target.account, &target.region, &target.name);
                let mut function: Function =
                    read(txn, &function_key)?.ok_or_else(|| error::function_not_found(&target.arn()))?;
                let key = table::alias_key(&target.account, &target.region, &target.name, &input.name);
                if txn.get(KEYSPACE, &key)?.is_none() {
                    return Err(alias_not_found(&target, &input.name));
                }
                txn.delete(KEYSPACE, &key)?;
                let config = crate::config::config_key(&target.account, &target.region, &target.name, &input.name);
                txn.delete(KEYSPACE, &config)?;
                // The alias's permissions and event invoke configuration go with it.
                if function.policies.remove(&input.name).is_some() {
                    txn.put(KEYSPACE, &function_key, &table::encode(&function))?;
                }
                Ok::<_, AwsError>(json!({}))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_are_checked() {
        assert!(check_name("live").is_ok());
        assert!(check_name("v-1_a").is_ok());
        assert_eq!(check_name("12").unwrap_err().code, "ValidationException");
        assert_eq!(check_name("a b").unwrap_err().code, "ValidationException");
        assert_eq!(check_name(&"a".repeat(129)).unwrap_err().code, "ValidationException");
    }
}
