//! Layers: PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers,
//! ListLayerVersions, DeleteLayerVersion. A layer's content is stored and unpacked like a
//! function's code; functions keep the package of each layer version they reference, so
//! they keep working after the version is deleted, as on Lambda.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_protocol::ServiceBuilder;
use brume_storage::{Direction, Txn};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::code::CodeInput;
use crate::function::{paginate, validation};
use crate::table::{self, Config, Function, KEYSPACE, Layer, LayerRef, LayerVersion};
use crate::version::read;
use crate::{Lambda, error};

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder
        .op("PublishLayerVersion", Lambda::publish_layer_version)
        .op("GetLayerVersion", Lambda::get_layer_version)
        .op("GetLayerVersionByArn", Lambda::get_layer_version_by_arn)
        .op("ListLayers", Lambda::list_layers)
        .op("ListLayerVersions", Lambda::list_layer_versions)
        .op("DeleteLayerVersion", Lambda::delete_layer_version)
}

const LAYER_NAME_PATTERN: &str = r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+";
const LAYER_VERSION_ARN_PATTERN: &str = r"arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishInput {
    layer_name: String,
    description: Option<String>,
    content: CodeInput,
    #[serde(default)]
    compatible_runtimes: Vec<String>,
    license_info: Option<String>,
    #[serde(default)]
    compatible_architectures: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInput {
    layer_name: String,
    version_number: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArnInput {
    arn: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    layer_name: Option<String>,
    compatible_runtime: Option<String>,
    compatible_architecture: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

/// `(account, region, name, version)` of a layer version ARN.
fn parse_version_arn(arn: &str) -> Option<(String, String, String, u64)> {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, "lambda", region, account, "layer", name, version] if partition.starts_with("aws") => {
            Some((account.to_string(), region.to_string(), name.to_string(), version.parse().ok()?))
        }
        _ => None,
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 140 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `(account, region, name)` of a layer named by its name or its ARN.
fn layer_of(ctx: &RequestContext, layer: &str) -> Result<(String, String, String), AwsError> {
    let invalid = || {
        validation(layer, "layerName", &format!("Member must satisfy regular expression pattern: {LAYER_NAME_PATTERN}"))
    };
    let (account, region, name) = match layer.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "lambda", region, account, "layer", name] => (account.to_string(), region.to_string(), *name),
        [name] => (ctx.account.clone(), ctx.region.clone(), *name),
        _ => return Err(invalid()),
    };
    if !valid_name(name) {
        return Err(invalid());
    }
    Ok((account, region, name.to_string()))
}

fn resource_not_found() -> AwsError {
    error::not_found("The resource you requested does not exist.")
}

impl Lambda {
    /// The layer version `arn` names, as a function references it.
    pub(crate) fn layer_ref(&self, arn: &str) -> Result<LayerRef, AwsError> {
        let (account, region, name, version) = parse_version_arn(arn).ok_or_else(|| {
            validation(
                arn,
                "layers",
                &format!("Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}"),
            )
        })?;
        let key = table::layer_version_key(&account, &region, &name, version);
        let layer: LayerVersion = read(self.kv.as_ref(), &key)?
            .ok_or_else(|| error::invalid_parameter(format!("Layer version {arn} does not exist.")))?;
        Ok(LayerRef { arn: arn.to_string(), code_size: layer.package.size, package: layer.package })
    }

    /// A layer version as GetLayerVersion and PublishLayerVersion answer it.
    fn layer_json(&self, account: &str, region: &str, layer: &LayerVersion) -> Value {
        let arn = table::layer_arn(region, account, &layer.name);
        let location = format!(
            "{}/{}?account={account}&region={region}&layer={}&version={}",
            self.settings.endpoint.trim_end_matches('/'),
            crate::function::CODE_VIEW,
            layer.name,
            layer.version
        );
        let mut out = json!({
            "Content": {"Location": location, "CodeSha256": layer.package.sha256, "CodeSize": layer.package.size},
            "LayerArn": arn,
            "LayerVersionArn": format!("{arn}:{}", layer.version),
            "Description": layer.description,
            "CreatedDate": layer.created,
            "Version": layer.version,
            "CompatibleRuntimes": layer.compatible_runtimes,
            "CompatibleArchitectures": layer.compatible_architectures,
        });
        if let Some(license) = &layer.license_info {
            out["LicenseInfo"] = json!(license);
        }
        out
    }

    /// The zip of layer `name` version `version` (for `Content.Location`).
    pub(crate) async fn layer_package(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: u64,
    ) -> Result<Vec<u8>, AwsError> {
        let key = table::layer_version_key(account, region, name, version);
        let layer: LayerVersion = read(self.kv.as_ref(), &key)?.ok_or_else(resource_not_found)?;
        self.package_bytes(&layer.package).await
    }

    pub(crate) async fn publish_layer_version(
        self: Arc<Self>,
        ctx: RequestContext,
        input: PublishInput,
    ) -> Result<Value, AwsError> {
        let (account, region, name) = layer_of(&ctx, &input.layer_name)?;
        if account != ctx.account {
            return Err(error::invalid_parameter("Layers can only be published in the caller's account."));
        }
        if input.compatible_runtimes.len() > 15 {
            return Err(validation(
                &format!("{:?}", input.compatible_runtimes),
                "compatibleRuntimes",
                "Member must have length less than or equal to 15",
            ));
        }
        if let Some(bad) = input.compatible_architectures.iter().find(|a| *a != "x86_64" && *a != "arm64") {
            return Err(validation(
                bad,
                "compatibleArchitectures",
                "Member must satisfy enum value set: [x86_64, arm64]",
            ));
        }
        if input.compatible_architectures.len() > 2 {
            return Err(validation(
                &format!("{:?}", input.compatible_architectures),
                "compatibleArchitectures",
                "Member must have length less than or equal to 2",
            ));
        }
        if input.license_info.as_ref().is_some_and(|l| l.len() > 512) {
            return Err(validation("…", "licenseInfo", "Member must have length less than or equal to 512"));
        }
        if input.content.is_empty() {
            return Err(error::invalid_parameter("Please provide a source for the layer's content."));
        }
        let zip = self.code_bytes(&ctx.account, input.content, "PublishLayerVersion").await?;
        let package = self.store_package(&zip).await?;
        let layer = LayerVersion {
            name: name.clone(),
            version: 0,
            description: input.description.unwrap_or_default(),
            created: table::now_lambda(),
            compatible_runtimes: input.compatible_runtimes,
            compatible_architectures: input.compatible_architectures,
            license_info: input.license_info,
            package: package.clone(),
        };
        let (txn_account, txn_region) = (account.clone(), region.clone());
        let published = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::layer_key(&txn_account, &txn_region, &layer.name);
                let mut record: Layer = read(txn, &key)?.unwrap_or(Layer { name: layer.name.clone(), next_version: 1 });
                let layer = LayerVersion { version: record.next_version, ..layer };
                record.next_version += 1;
                txn.put(KEYSPACE, &key, &table::encode(&record))?;
                let version_key = table::layer_version_key(&txn_account, &txn_region, &layer.name, layer.version);
                txn.put(KEYSPACE, &version_key, &table::encode(&layer))?;
                Ok::<_, AwsError>(layer)
            })
            .await;
        match published {
            Ok(layer) => Ok(self.layer_json(&account, &region, &layer)),
            Err(e) => {
                self.delete_packages([package]).await;
                Err(e)
            }
        }
    }

    fn layer_version(&self, account: &str, region: &str, name: &str, version: u64) -> Result<Value, AwsError> {
        let key = table::layer_version_key(account, region, name, version);
        let layer: LayerVersion = read(self.kv.as_ref(), &key)?.ok_or_else(resource_not_found)?;
        Ok(self.layer_json(account, region, &layer))
    }

    pub(crate) async fn get_layer_version(
        self: Arc<Self>,
        ctx: RequestContext,
        input: VersionInput,
    ) -> Result<Value, AwsError> {
        let (account, region, name) = layer_of(&ctx, &input.layer_name)?;
        let version = u64::try_from(input.version_number).map_err(|_| resource_not_found())?;
        self.layer_version(&account, &region, &name, version)
    }

    pub(crate) async fn get_layer_version_by_arn(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: ArnInput,
    ) -> Result<Value, AwsError> {
        let (account, region, name, version) = parse_version_arn(&input.arn).ok_or_else(|| {
            validation(
                &input.arn,
                "arn",
                &format!("Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}"),
            )
        })?;
        self.layer_version(&account, &region, &name, version)
    }

    /// The versions of layer `name`, newest first, that match the list filters.
    fn matching_versions(
        &self,
        account: &str,
        region: &str,
        name: &str,
        input: &ListInput,
    ) -> Result<Vec<LayerVersion>, AwsError> {
        let range = table::layer_versions_of(account, region, name);
        let mut versions = Vec::new();
        for (_, v) in self.kv.scan(KEYSPACE, &range, Direction::Reverse, usize::MAX)? {
            let layer: LayerVersion = table::decode(&v)?;
            let runtime = input.compatible_runtime.as_ref().is_none_or(|r| layer.compatible_runtimes.contains(r));
            let architecture =
                input.compatible_architecture.as_ref().is_none_or(|a| layer.compatible_architectures.contains(a));
            if runtime && architecture {
                versions.push(layer);
            }
        }
        Ok(versions)
    }

    fn list_item(&self, account: &str, region: &str, layer: &LayerVersion) -> Value {
        let mut item = self.layer_json(account, region, layer);
        if let Some(obj) = item.as_object_mut() {
            obj.remove("Content");
            obj.remove("LayerArn");
        }
        item
    }

    pub(crate) async fn list_layers(self: Arc<Self>, ctx: RequestContext, input: ListInput) -> Result<Value, AwsError> {
        let mut all = Vec::new();
        for (_, v) in
            self.kv.scan(KEYSPACE, &table::layers_of(&ctx.account, &ctx.region), Direction::Forward, usize::MAX)?
        {
            let name = table::decode::<Layer>(&v)?.name;
            if let Some(latest) = self.matching_versions(&ctx.account, &ctx.region, &name, &input)?.into_iter().next() {
                all.push(json!({
                    "LayerName": name,
                    "LayerArn": table::layer_arn(&ctx.region, &ctx.account, &name),
                    "LatestMatchingVersion": self.list_item(&ctx.account, &ctx.region, &latest),
                }));
            }
        }
        let (page, next) = paginate(all, input.marker.as_deref(), input.max_items)?;
        let mut out = json!({"Layers": page});
        if let Some(next) = next {
            out["NextMarker"] = json!(next);
        }
        Ok(out)
    }

    pub(crate) async fn list_layer_versions(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListInput,
    ) -> Result<Value, AwsError> {
        let layer_name = input.layer_name.clone().unwrap_or_default();
        let (account, region, name) = layer_of(&ctx, &layer_name)?;
        let versions = self.matching_versions(&account, &region, &name, &input)?;
        let all: Vec<Value> = versions.iter().map(|l| self.list_item(&account, &region, l)).collect();
        let (page, next) = paginate(all, input.marker.as_deref(), input.max_items)?;
        let mut out = json!({"LayerVersions": page});
        if let Some(next) = next {
            out["NextMarker"] = json!(next);
        }
        Ok(out)
    }

    pub(crate) async fn delete_layer_version(
        self: Arc<Self>,
        ctx: RequestContext,
        input: VersionInput,
    ) -> Result<Value, AwsError> {
        let (account, region, name) = layer_of(&ctx, &input.layer_name)?;
        let Ok(version) = u64::try_from(input.version_number) else { return Ok(json!({})) };
        let (txn_account, txn_region) = (account.clone(), region.clone());
        let removed = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::layer_version_key(&txn_account, &txn_region, &name, version);
                let Some(layer) = read::<LayerVersion>(txn, &key)? else { return Ok::<_, AwsError>(None) };
                txn.delete(KEYSPACE, &key)?;
                Ok(Some(layer.package))
            })
            .await?;
        // Functions keep using a deleted layer version: its package goes only when none does.
        if let Some(package) = removed
            && !self.package_referenced(&account, &region, &package.blob)?
        {
            self.delete_packages([package]).await;
        }
        Ok(json!({}))
    }

    /// Whether a function version of `account` in `region` uses the layer package `blob`.
    fn package_referenced(&self, account: &str, region: &str, blob: &str) -> Result<bool, AwsError> {
        let uses = |config: &Config| config.layers.iter().any(|l| l.package.blob == blob);
        for (_, v) in self.kv.scan(KEYSPACE, &table::functions_of(account, region), Direction::Forward, usize::MAX)? {
            let function: Function = table::decode(&v)?;
            if uses(&function.latest) {
                return Ok(true);
            }
            let versions = table::versions_of(account, region, &function.name);
            for (_, v) in self.kv.scan(KEYSPACE, &versions, Direction::Forward, usize::MAX)? {
                if uses(&table::decode(&v)?) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}
