//! Published versions: PublishVersion (which answers the last version again when nothing
//! changed since, as Lambda does) and ListVersionsByFunction; versions are deleted through
//! DeleteFunction's Qualifier.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_protocol::ServiceBuilder;
use brume_storage::{Direction, Txn};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::function::{FunctionRef, configuration};
use crate::table::{self, Alias, Config, Function, KEYSPACE, Package};
use crate::{Lambda, error};

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder.op("PublishVersion", Lambda::publish_version).op("ListVersionsByFunction", Lambda::list_versions)
}

pub(crate) fn read<T: serde::de::DeserializeOwned>(
    view: &dyn brume_storage::ReadView,
    key: &[u8],
) -> Result<Option<T>, AwsError> {
    Ok(view.get(KEYSPACE, key)?.map(|b| table::decode(&b)).transpose()?)
}

/// Publishes `function`'s `$LATEST` as a new version, or answers the last published one
/// when `$LATEST` has not changed since. The caller stores `function`.
pub(crate) fn publish(
    txn: &mut dyn Txn,
    function: &mut Function,
    description: Option<String>,
) -> Result<Config, AwsError> {
    if let Some(last) = function.last_published
        && function.published_revision.as_ref() == Some(&function.latest.revision_id)
    {
        let key = table::version_key(&function.account, &function.region, &function.name, last);
        if let Some(existing) = read::<Config>(txn, &key)? {
            return Ok(existing);
        }
    }
    let n = function.next_version;
    let mut version = function.latest.clone();
    version.version = n.to_string();
    version.revision_id = table::new_revision();
    version.last_modified = table::now_lambda();
    if let Some(description) = description {
        version.description = description;
    }
    txn.put(
        KEYSPACE,
        &table::version_key(&function.account, &function.region, &function.name, n),
        &table::encode(&version),
    )?;
    function.next_version = n + 1;
    function.last_published = Some(n);
    function.published_revision = Some(function.latest.revision_id.clone());
    Ok(version)
}

/// Every package `function`'s records name.
pub(crate) fn packages_in_use(
    view: &dyn brume_storage::ReadView,
    function: &Function,
) -> Result<Vec<String>, AwsError> {
    let mut blobs = vec![function.latest.code.blob.clone()];
    let versions = table::versions_of(&function.account, &function.region, &function.name);
    for (_, v) in view.scan(KEYSPACE, &versions, Direction::Forward, usize::MAX)? {
        blobs.push(table::decode::<Config>(&v)?.code.blob);
    }
    Ok(blobs)
}

/// Deletes version `n` of `target`'s function; answers its package when no other version
/// uses it.
pub(crate) fn delete_version(txn: &mut dyn Txn, target: &FunctionRef, n: u64) -> Result<Vec<Package>, AwsError> {
    let function: Function = read(txn, &table::function_key(&target.account, &target.region, &target.name))?
        .ok_or_else(|| error::function_not_found(&target.arn()))?;
    let key = table::version_key(&target.account, &target.region, &target.name, n);
    let Some(version) = read::<Config>(txn, &key)? else {
        return Err(error::function_not_found(&target.qualified_arn()));
    };
    let aliases = table::aliases_of(&target.account, &target.region, &target.name);
    let mut referencing = Vec::new();
    for (_, v) in txn.scan(KEYSPACE, &aliases, Direction::Forward, usize::MAX)? {
        let alias: Alias = table::decode(&v)?;
        if alias.function_version == version.version || alias.routing.contains_key(&version.version) {
            referencing.push(alias.name);
        }
    }
    if !referencing.is_empty() {
        return Err(error::conflict(format!(
            "Unable to delete version because the following aliases reference it: [{}]",
            referencing.join(", ")
        )));
    }
    txn.delete(KEYSPACE, &key)?;
    txn.delete(KEYSPACE, &crate::config::config_key(&target.account, &target.region, &target.name, &version.version))?;
    let in_use = packages_in_use(txn, &function)?;
    Ok(if in_use.contains(&version.code.blob) { Vec::new() } else { vec![version.code] })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishVersionInput {
    function_name: String,
    code_sha256: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsInput {
    function_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

impl Lambda {
    pub(crate) async fn publish_version(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PublishVersionInput,
    ) -> Result<Value, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, &input.function_name, None)?;
        if target.qualifier.is_some() {
            return Err(error::invalid_parameter("Qualifier is not supported for PublishVersion."));
        }
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::function_key(&target.account, &target.region, &target.name);
                let mut function: Function = read(txn, &key)?.ok_or_else(|| error::function_not_found(&target.arn()))?;
                if let Some(sha) = &input.code_sha256
                    && *sha != function.latest.code.sha256
                {
                    return Err(error::invalid_parameter(format!(
                        "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                        function.latest.code.sha256
                    )));
                }
                if let Some(revision) = &input.revision_id
                    && *revision != function.latest.revision_id
                {
                    return Err(crate::function::precondition_failed());
                }
                let version = publish(txn, &mut function, input.description)?;
                txn.put(KEYSPACE, &key, &table::encode(&function))?;
                Ok::<_, AwsError>(configuration(&function, &version))
            })
            .await
    }

    pub(crate) async fn list_versions(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListVersionsInput,
    ) -> Result<Value, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, &input.function_name, None)?;
        let function = self.function(&target)?;
        let mut all = vec![configuration(&function, &function.latest)];
        let versions = table::versions_of(&target.account, &target.region, &target.name);
        for (_, v) in self.kv.scan(KEYSPACE, &versions, Direction::Forward, usize::MAX)? {
            all.push(configuration(&function, &table::decode::<Config>(&v)?));
        }
        let (page, next) = crate::function::paginate(all, input.marker.as_deref(), input.max_items)?;
        let mut out = json!({"Versions": page});
        if let Some(next) = next {
            out["NextMarker"] = json!(next);
        }
        Ok(out)
    }
}
