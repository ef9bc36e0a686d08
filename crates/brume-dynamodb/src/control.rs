//! The control plane: tables, their indexes, tags, TTL, limits and endpoints.
//!
//! Tables are usable as soon as CreateTable answers, so they are `ACTIVE` at once (AWS
//! answers `CREATING` and turns `ACTIVE` seconds later; waiters accept both paths).

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext, value::Timestamp};
use brume_storage::{Direction, Txn};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::backup;
use crate::error::{constraint, invalid, resource_in_use, table_not_found, validation};
use crate::global;
use crate::policy;
use crate::stream;
use crate::table::{self, Index, KeyAttr, KeySchema, Projection, Table};
use crate::{Ddb, table_name};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    attribute_name: String,
    key_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionInput {
    projection_type: Option<String>,
    non_key_attributes: Option<Vec<String>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
pub struct Throughput {
    read_capacity_units: i64,
    write_capacity_units: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexInput {
    index_name: String,
    key_schema: Vec<KeySchemaElement>,
    projection: ProjectionInput,
    provisioned_throughput: Option<Throughput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpecification {
    stream_enabled: bool,
    stream_view_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTableInput {
    table_name: String,
    #[serde(default)]
    attribute_definitions: Vec<AttributeDefinition>,
    #[serde(default)]
    key_schema: Vec<KeySchemaElement>,
    local_secondary_indexes: Option<Vec<IndexInput>>,
    global_secondary_indexes: Option<Vec<IndexInput>>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<Throughput>,
    stream_specification: Option<StreamSpecification>,
    #[serde(rename = "SSESpecification")]
    sse_specification: Option<Json>,
    tags: Option<Vec<Tag>>,
    table_class: Option<String>,
    deletion_protection_enabled: Option<bool>,
    on_demand_throughput: Option<Json>,
    resource_policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableNameInput {
    table_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTablesInput {
    exclusive_start_table_name: Option<String>,
    limit: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GsiCreate {
    index_name: String,
    key_schema: Vec<KeySchemaElement>,
    projection: ProjectionInput,
    provisioned_throughput: Option<Throughput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GsiUpdate {
    index_name: String,
    provisioned_throughput: Option<Throughput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GsiDelete {
    index_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GsiAction {
    create: Option<GsiCreate>,
    update: Option<GsiUpdate>,
    delete: Option<GsiDelete>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTableInput {
    table_name: String,
    #[serde(default)]
    attribute_definitions: Vec<AttributeDefinition>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<Throughput>,
    global_secondary_index_updates: Option<Vec<GsiAction>>,
    stream_specification: Option<StreamSpecification>,
    #[serde(rename = "SSESpecification")]
    sse_specification: Option<Json>,
    table_class: Option<String>,
    deletion_protection_enabled: Option<bool>,
    on_demand_throughput: Option<Json>,
    replica_updates: Option<Vec<global::ReplicaUpdate>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    resource_arn: String,
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
    resource_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TtlSpecification {
    enabled: bool,
    attribute_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTtlInput {
    table_name: String,
    time_to_live_specification: TtlSpecification,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PitrSpecification {
    point_in_time_recovery_enabled: bool,
    recovery_period_in_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateContinuousBackupsInput {
    table_name: String,
    point_in_time_recovery_specification: PitrSpecification,
}

#[derive(Deserialize)]
pub struct Empty {}

/// How long point-in-time recovery keeps, unless the request says otherwise.
const PITR_DEFAULT_DAYS: u64 = 35;

/// The continuous-backups operations name a missing table their own way.
pub(crate) fn backups_table_not_found(name: &str) -> AwsError {
    AwsError::new(400, "TableNotFoundException", format!("Table not found: {name}"))
}

fn continuous_backups(table: &Table) -> Json {
    let pitr = match table.pitr {
        Some((since, days)) => {
            let now = Timestamp::now().0;
            json!({
                "PointInTimeRecoveryStatus": "ENABLED",
                "RecoveryPeriodInDays": days,
                "EarliestRestorableDateTime": since.max(now - days as f64 * 86400.0),
                "LatestRestorableDateTime": now,
            })
        }
        None => json!({"PointInTimeRecoveryStatus": "DISABLED"}),
    };
    json!({ "ContinuousBackupsDescription": {
        "ContinuousBackupsStatus": "ENABLED",
        "PointInTimeRecoveryDescription": pitr,
    }})
}

/// Table and index names: 3 to 255 of `[a-zA-Z0-9_.-]`.
fn check_name(name: &str, at: &str) -> Result<(), AwsError> {
    if name.len() < 3 {
        return Err(constraint(name, at, "Member must have length greater than or equal to 3"));
    }
    if name.len() > 255 {
        return Err(constraint(name, at, "Member must have length less than or equal to 255"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
        return Err(constraint(name, at, "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"));
    }
    Ok(())
}

fn key_schema(elements: &[KeySchemaElement], defs: &BTreeMap<String, String>, at: &str) -> Result<KeySchema, AwsError> {
    if elements.is_empty() || elements.len() > 2 {
        let bound = if elements.is_empty() { "greater than or equal to 1" } else { "less than or equal to 2" };
        return Err(validation(format!(
            "1 validation error detected: Value '[{}]' at '{at}' failed to satisfy constraint: Member must have length {bound}",
            elements
                .iter()
                .map(|e| format!("KeySchemaElement(attributeName={}, keyType={})", e.attribute_name, e.key_type))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for (i, e) in elements.iter().enumerate() {
        if e.key_type != "HASH" && e.key_type != "RANGE" {
            return Err(constraint(
                &e.key_type,
                &format!("{at}.{}.member.keyType", i + 1),
                "Member must satisfy enum value set: [HASH, RANGE]",
            ));
        }
    }
    if elements[0].key_type != "HASH" {
        return Err(validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type"));
    }
    if elements.len() == 2 {
        if elements[1].key_type != "RANGE" {
            return Err(validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"));
        }
        if elements[0].attribute_name == elements[1].attribute_name {
            return Err(validation("Invalid KeySchema: Some index key attribute have no definition"));
        }
    }
    let attr = |e: &KeySchemaElement| -> Result<KeyAttr, AwsError> {
        let ty = defs.get(&e.attribute_name).ok_or_else(|| {
            invalid(&format!(
                "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                elements.iter().map(|e| e.attribute_name.as_str()).collect::<Vec<_>>().join(", "),
                defs.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
            ))
        })?;
        Ok(KeyAttr { name: e.attribute_name.clone(), ty: ty.clone() })
    };
    Ok(KeySchema { hash: attr(&elements[0])?, range: elements.get(1).map(attr).transpose()? })
}

fn projection(p: &ProjectionInput) -> Result<Projection, AwsError> {
    let ty = p.projection_type.clone().unwrap_or_else(|| "KEYS_ONLY".to_string());
    let non_key = p.non_key_attributes.clone().unwrap_or_default();
    match ty.as_str() {
        "INCLUDE" if non_key.is_empty() => {
            Err(invalid("ProjectionType is INCLUDE, but NonKeyAttributes is not specified"))
        }
        "ALL" | "KEYS_ONLY" if !non_key.is_empty() => {
            Err(invalid(&format!("ProjectionType is {ty}, but NonKeyAttributes is specified")))
        }
        "ALL" | "KEYS_ONLY" | "INCLUDE" => Ok(Projection { ty, non_key }),
        _ => Err(constraint(
            &ty,
            "projection.projectionType",
            "Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]",
        )),
    }
}

/// Local and global secondary indexes, and the attributes keys use.
pub(crate) type Indexes = (Vec<Index>, Vec<Index>, Vec<String>);

/// The secondary indexes a table is created (or restored) with, checked against its key
/// schema and attribute definitions; with the names of the attributes the table's and the
/// indexes' keys use.
pub(crate) fn secondary_indexes(
    key: &KeySchema,
    defs: &BTreeMap<String, String>,
    billing: &str,
    (read, write): (u64, u64),
    lsis_in: Option<&[IndexInput]>,
    gsis_in: Option<&[IndexInput]>,
) -> Result<Indexes, AwsError> {
    let mut used: Vec<String> = key.names().into_iter().map(str::to_string).collect();
    let mut names: Vec<&str> = Vec::new();
    let mut lsis = Vec::new();
    for lsi in lsis_in.unwrap_or_default() {
        check_name(&lsi.index_name, "localSecondaryIndexes.member.indexName")?;
        let ikey = key_schema(&lsi.key_schema, defs, "localSecondaryIndexes.member.keySchema")?;
        if key.range.is_none() {
            return Err(invalid(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        if ikey.range.is_none() {
            return Err(invalid(&format!("Index KeySchema does not have a range key for index: {}", lsi.index_name)));
        }
        if ikey.hash.name != key.hash.name {
            return Err(invalid(&format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                lsi.index_name, ikey.hash.name, key.hash.name
            )));
        }
        if names.contains(&lsi.index_name.as_str()) {
            return Err(invalid(&format!("Duplicate index name: {}", lsi.index_name)));
        }
        names.push(&lsi.index_name);
        used.extend(ikey.names().into_iter().map(str::to_string));
        let projection = projection(&lsi.projection)?;
        lsis.push(Index { name: lsi.index_name.clone(), key: ikey, projection, read, write });
    }
    let mut gsis = Vec::new();
    for gsi in gsis_in.unwrap_or_default() {
        check_name(&gsi.index_name, "globalSecondaryIndexes.member.indexName")?;
        let ikey = key_schema(&gsi.key_schema, defs, "globalSecondaryIndexes.member.keySchema")?;
        if names.contains(&gsi.index_name.as_str()) {
            return Err(invalid(&format!("Duplicate index name: {}", gsi.index_name)));
        }
        names.push(&gsi.index_name);
        used.extend(ikey.names().into_iter().map(str::to_string));
        let projection = projection(&gsi.projection)?;
        let (r, w) = index_throughput(billing, gsi.provisioned_throughput, &gsi.index_name)?;
        gsis.push(Index { name: gsi.index_name.clone(), key: ikey, projection, read: r, write: w });
    }
    Ok((lsis, gsis, used))
}

/// Read and write units, each at least 1 (the front end has refused less).
pub(crate) fn throughput(t: Throughput) -> (u64, u64) {
    (t.read_capacity_units as u64, t.write_capacity_units as u64)
}

/// An index's throughput under the table's billing mode.
pub(crate) fn index_throughput(billing: &str, given: Option<Throughput>, index: &str) -> Result<(u64, u64), AwsError> {
    match (billing, given) {
        ("PAY_PER_REQUEST", Some(_)) => Err(invalid(&format!(
            "ProvisionedThroughput should not be specified for index: {index} when BillingMode is PAY_PER_REQUEST"
        ))),
        ("PAY_PER_REQUEST", None) => Ok((0, 0)),
        (_, Some(t)) => Ok(throughput(t)),
        (_, None) => Err(invalid(&format!("ProvisionedThroughput must be specified for index: {index}"))),
    }
}

fn stream_view(spec: &StreamSpecification) -> Result<Option<String>, AwsError> {
    if !spec.stream_enabled {
        return Ok(None);
    }
    match spec.stream_view_type.as_deref() {
        Some(v @ ("KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES")) => Ok(Some(v.to_string())),
        Some(other) => Err(constraint(
            other,
            "streamSpecification.streamViewType",
            "Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]",
        )),
        None => Err(validation("StreamViewType is required when StreamEnabled is true")),
    }
}

/// What DescribeTable says of an SSESpecification: encryption with the named KMS key, or
/// with the account's AWS-managed key (an ARN made up once, as KMS would make it).
pub(crate) fn sse_description(ctx: &RequestContext, spec: &Json) -> Option<Json> {
    if spec.get("Enabled").and_then(Json::as_bool) != Some(true) {
        return None;
    }
    let key = match spec.get("KMSMasterKeyId").and_then(Json::as_str) {
        Some(key) => kms_key_arn(key, &ctx.region, &ctx.account),
        None => format!("arn:aws:kms:{}:{}:key/{}", ctx.region, ctx.account, uuid::Uuid::new_v4()),
    };
    Some(json!({
        "Status": "ENABLED",
        "SSEType": spec.get("SSEType").and_then(Json::as_str).unwrap_or("KMS"),
        "KMSMasterKeyArn": key,
    }))
}

/// A KMS key's ARN from its id or ARN, in `region` of `account`.
pub(crate) fn kms_key_arn(key: &str, region: &str, account: &str) -> String {
    if key.starts_with("arn:") { key.to_string() } else { format!("arn:aws:kms:{region}:{account}:key/{key}") }
}

/// A table ARN of another account is refused as IAM refuses it; `action` names the
/// operation in that refusal.
pub(crate) fn table_of_arn(ctx: &RequestContext, arn: &str, action: &str) -> Result<String, AwsError> {
    let invalid_arn = || validation(format!("Invalid TableArn: Invalid ResourceArn provided as input {arn}"));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, "dynamodb", region, account, resource] = parts[..] else {
        return Err(invalid_arn());
    };
    let Some(name) = resource.strip_prefix("table/").and_then(|r| r.split('/').next()).filter(|n| !n.is_empty()) else {
        return Err(invalid_arn());
    };
    if account != ctx.account || region != ctx.region {
        return Err(not_authorized(ctx, arn, action));
    }
    Ok(name.to_string())
}

/// A resource of another account or region, refused as IAM refuses it.
pub(crate) fn not_authorized(ctx: &RequestContext, arn: &str, action: &str) -> AwsError {
    AwsError::new(
        400,
        "AccessDeniedException",
        format!(
            "User: {} is not authorized to perform: dynamodb:{action} on resource: {arn} because no resource-based policy allows the dynamodb:{action} action",
            ctx.caller_arn()
        ),
    )
}

/// The table CreateTable (or ImportTable) makes of `input`, checked as CreateTable checks
/// it; `now` is its creation time.
pub(crate) fn new_table(ctx: &RequestContext, input: &CreateTableInput, now: f64) -> Result<Table, AwsError> {
    check_name(&input.table_name, "tableName")?;
    if let Some(document) = &input.resource_policy {
        policy::check_document(document)?;
    }
    let mut defs = BTreeMap::new();
    for (i, d) in input.attribute_definitions.iter().enumerate() {
        if !["S", "N", "B"].contains(&d.attribute_type.as_str()) {
            return Err(constraint(
                &d.attribute_type,
                &format!("attributeDefinitions.{}.member.attributeType", i + 1),
                "Member must satisfy enum value set: [B, N, S]",
            ));
        }
        if defs.insert(d.attribute_name.clone(), d.attribute_type.clone()).is_some() {
            return Err(invalid("Duplicate AttributeName in AttributeDefinitions"));
        }
    }
    let key = key_schema(&input.key_schema, &defs, "keySchema")?;
    let billing = input.billing_mode.clone().unwrap_or_else(|| "PROVISIONED".to_string());
    let (read, write) = match (billing.as_str(), input.provisioned_throughput) {
        ("PROVISIONED", Some(t)) => throughput(t),
        ("PROVISIONED", None) => return Err(validation("No provisioned throughput specified for the table")),
        ("PAY_PER_REQUEST", Some(_)) => {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        ("PAY_PER_REQUEST", None) => (0, 0),
        (other, _) => {
            return Err(constraint(
                other,
                "billingMode",
                "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
            ));
        }
    };
    let (lsis, gsis, used) = secondary_indexes(
        &key,
        &defs,
        &billing,
        (read, write),
        input.local_secondary_indexes.as_deref(),
        input.global_secondary_indexes.as_deref(),
    )?;
    if defs.keys().any(|d| !used.contains(d)) {
        return Err(invalid(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    if let Some(StreamSpecification { stream_enabled: false, stream_view_type: Some(_) }) = &input.stream_specification
    {
        return Err(invalid("Table is being created with a stream disabled, UpdateViewType should not be specified"));
    }
    let stream_view = input.stream_specification.as_ref().map(stream_view).transpose()?.flatten();
    Ok(Table {
        account: ctx.account.clone(),
        region: ctx.region.clone(),
        name: input.table_name.clone(),
        id: uuid::Uuid::new_v4().to_string(),
        created: now,
        attributes: input
            .attribute_definitions
            .iter()
            .map(|d| KeyAttr { name: d.attribute_name.clone(), ty: d.attribute_type.clone() })
            .collect(),
        key,
        billing,
        read,
        write,
        billing_switched: None,
        gsis,
        lsis,
        stream_label: stream_view.as_ref().map(|_| stream::label(now)),
        stream_view,
        tags: input.tags.iter().flatten().map(|t| (t.key.clone(), t.value.clone())).collect(),
        deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
        ttl_attribute: None,
        sse: input.sse_specification.as_ref().and_then(|spec| sse_description(ctx, spec)),
        on_demand: input.on_demand_throughput.clone(),
        table_class: input.table_class.clone(),
        pitr: None,
        restored: None,
        policy: input.resource_policy.as_deref().map(|p| policy::revision(None, p)),
        stream_policy: None,
        replicas: vec![],
        sourced_replica: None,
    })
}

impl Ddb {
    pub async fn create_table(self: Arc<Self>, ctx: RequestContext, input: CreateTableInput) -> Result<Json, AwsError> {
        let now = Timestamp::now().0;
        let table = new_table(&ctx, &input, now)?;
        let description = table::describe(&table, &table::Stats::default(), "ACTIVE");
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                // A table being restored or imported is there already, as on AWS (where it
                // is `CREATING`).
                if backup::name_taken(txn, &table.account, &table.region, &table.name)? {
                    return Err(resource_in_use(format!("Table already exists: {}", table.name)));
                }
                table::save_table(txn, &table)?;
                stream::open(txn, &table, now)
            })
            .await?;
        Ok(json!({ "TableDescription": description }))
    }

    pub async fn describe_table(self: Arc<Self>, ctx: RequestContext, input: TableNameInput) -> Result<Json, AwsError> {
        let name = table_name(&input.table_name);
        let table =
            table::load_table(&*self.kv, &ctx.account, &ctx.region, name)?.ok_or_else(|| table_not_found(name))?;
        let stats = table::load_stats(&*self.kv, &table)?;
        Ok(json!({ "Table": table::describe(&table, &stats, "ACTIVE") }))
    }

    pub async fn list_tables(self: Arc<Self>, ctx: RequestContext, input: ListTablesInput) -> Result<Json, AwsError> {
        // The front end keeps it within 1..=100.
        let limit = input.limit.unwrap_or(100);
        let mut names: Vec<String> = Vec::new();
        for (_, bytes) in self.kv.scan(
            table::KEYSPACE,
            &table::tables_of(&ctx.account, &ctx.region),
            Direction::Forward,
            usize::MAX,
        )? {
            let t: Table = serde_json::from_slice(&bytes).map_err(|_| AwsError::internal())?;
            if input.exclusive_start_table_name.as_ref().is_none_or(|start| t.name.as_str() > start.as_str()) {
                names.push(t.name);
            }
        }
        let more = names.len() > limit as usize;
        names.truncate(limit as usize);
        let mut out = json!({ "TableNames": names });
        if more {
            out["LastEvaluatedTableName"] = json!(names.last());
        }
        Ok(out)
    }

    pub async fn delete_table(self: Arc<Self>, ctx: RequestContext, input: TableNameInput) -> Result<Json, AwsError> {
        let name = table_name(&input.table_name).to_string();
        let (account, region) = (ctx.account.clone(), ctx.region.clone());
        let (description, id) = self
            .kv
            .transact(move |txn: &mut dyn Txn| -> Result<_, AwsError> {
                let table = table::load_table(txn, &account, &region, &name)?.ok_or_else(|| table_not_found(&name))?;
                let now = Timestamp::now().0;
                global::check_delete(&table, now)?;
                let stats = table::load_stats(txn, &table)?;
                table::drop_table(txn, &table, now)?;
                // The other replicas of a global table stay, without this one.
                global::leave(txn, &mut Arc::unwrap_or_clone(table.clone()), &table.region)?;
                Ok((table::describe(&table, &stats, "DELETING"), table.id.clone()))
            })
            .await?;
        self.purge(id);
        Ok(json!({ "TableDescription": description }))
    }

    pub async fn update_table(self: Arc<Self>, ctx: RequestContext, input: UpdateTableInput) -> Result<Json, AwsError> {
        let name = table_name(&input.table_name).to_string();
        let (account, region) = (ctx.account.clone(), ctx.region.clone());
        let (description, dropped) = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                let mut table =
                    Arc::unwrap_or_clone(table::load_table(txn, &account, &region, &name)?.ok_or_else(|| table_not_found(&name))?);
                // Naming the current billing mode again is accepted as a change that
                // changes nothing, as DynamoDB accepts it.
                let mut changed = input.billing_mode.is_some();
                let switching = input.billing_mode.as_ref().is_some_and(|m| *m != table.billing);
                if let Some(mode) = &input.billing_mode {
                    if !["PROVISIONED", "PAY_PER_REQUEST"].contains(&mode.as_str()) {
                        return Err(constraint(mode, "billingMode", "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"));
                    }
                    if *mode != table.billing {
                        if mode == "PAY_PER_REQUEST" {
                            table.billing_switched = Some(Timestamp::now().0);
                            table.read = 0;
                            table.write = 0;
                            for gsi in &mut table.gsis {
                                (gsi.read, gsi.write) = (0, 0);
                            }
                        } else if input.provisioned_throughput.is_none() {
                            return Err(invalid(
                                "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                            ));
                        }
                        table.billing = mode.clone();
                    }
                }
                if let Some(t) = input.provisioned_throughput {
                    if table.billing == "PAY_PER_REQUEST" {
                        return Err(invalid(
                            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                        ));
                    }
                    let (read, write) = throughput(t);
                    if !switching && (read, write) == (table.read, table.write) {
                        return Err(validation(format!(
                            "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {read}. Requested ReadCapacityUnits: {read}. Current WriteCapacityUnits provisioned for the table: {write}. Requested WriteCapacityUnits: {write}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits."
                        )));
                    }
                    (table.read, table.write) = (read, write);
                    changed = true;
                }
                for d in &input.attribute_definitions {
                    if !table.attributes.iter().any(|a| a.name == d.attribute_name) {
                        table.attributes.push(KeyAttr { name: d.attribute_name.clone(), ty: d.attribute_type.clone() });
                    }
                }
                let defs: BTreeMap<String, String> = table.attributes.iter().map(|a| (a.name.clone(), a.ty.clone())).collect();
                let mut created = Vec::new();
                for action in input.global_secondary_index_updates.iter().flatten() {
                    if let Some(c) = &action.create {
                        check_name(&c.index_name, "globalSecondaryIndexUpdates.member.create.indexName")?;
                        if table.index(&c.index_name).is_some() {
                            return Err(validation(format!(
                                "One or more parameter values were invalid: Index with name {} already exists",
                                c.index_name
                            )));
                        }
                        let key = key_schema(&c.key_schema, &defs, "globalSecondaryIndexUpdates.member.create.keySchema")?;
                        let projection = projection(&c.projection)?;
                        let (read, write) = index_throughput(&table.billing, c.provisioned_throughput, &c.index_name)?;
                        let index = Index { name: c.index_name.clone(), key, projection, read, write };
                        created.push(index.clone());
                        table.gsis.push(index);
                    }
                    if let Some(u) = &action.update {
                        let billing = table.billing.clone();
                        let gsi = table.gsis.iter_mut().find(|g| g.name == u.index_name).ok_or_else(|| {
                            AwsError::new(400, "ResourceNotFoundException", format!("Requested resource not found: Index: {} not found", u.index_name))
                        })?;
                        (gsi.read, gsi.write) = index_throughput(&billing, u.provisioned_throughput, &u.index_name)?;
                    }
                    if let Some(d) = &action.delete {
                        let before = table.gsis.len();
                        table.gsis.retain(|g| g.name != d.index_name);
                        if table.gsis.len() == before {
                            return Err(AwsError::new(
                                400,
                                "ResourceNotFoundException",
                                format!("Requested resource not found: Index: {} not found", d.index_name),
                            ));
                        }
                        table::drop_index(txn, &table, &d.index_name)?;
                        // Definitions only that index used go with it.
                        let keyed: Vec<String> = std::iter::once(&table.key)
                            .chain(table.gsis.iter().chain(&table.lsis).map(|i| &i.key))
                            .flat_map(|k| k.names())
                            .map(str::to_string)
                            .collect();
                        table.attributes.retain(|a| keyed.contains(&a.name));
                    }
                    changed = true;
                }
                if let Some(spec) = &input.stream_specification {
                    let view = stream_view(spec)?;
                    let mut now = Timestamp::now().0;
                    match (&table.stream_view, &view) {
                        (Some(_), Some(_)) => {
                            return Err(validation(format!("Table already has an enabled stream: TableName: {}", table.name)));
                        }
                        (None, None) => {
                            return Err(validation(format!("Table already has stream disabled: TableName: {}", table.name)));
                        }
                        (None, Some(_)) => {
                            now = stream::unused_moment(txn, &table, now)?;
                            table.stream_label = Some(stream::label(now));
                            // A new stream starts without the old one's policy.
                            table.stream_policy = None;
                        }
                        (Some(_), None) if !table.replicas.is_empty() => {
                            return Err(invalid("Disabling Stream is not allowed for a Global Table replica."));
                        }
                        (Some(_), None) => stream::close(txn, &table, now)?,
                    }
                    table.stream_view = view;
                    // Enabling again makes a new stream; the old one stays readable.
                    stream::open(txn, &table, now)?;
                    changed = true;
                }
                if let Some(sse) = &input.sse_specification {
                    table.sse = sse_description(&ctx, sse);
                    changed = true;
                }
                if let Some(limits) = &input.on_demand_throughput {
                    table.on_demand = Some(limits.clone());
                    changed = true;
                }
                if let Some(class) = &input.table_class {
                    table.table_class = Some(class.clone());
                    changed = true;
                }
                if let Some(protect) = input.deletion_protection_enabled {
                    table.deletion_protection = protect;
                    changed = true;
                }
                let mut dropped = Vec::new();
                if let Some(updates) = &input.replica_updates {
                    dropped = global::update_replicas(txn, &mut table, updates, Timestamp::now().0)?;
                    changed = true;
                }
                if !changed {
                    return Err(validation(
                        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
                    ));
                }
                table::save_table(txn, &table)?;
                for index in &created {
                    table::backfill(txn, &table, index)?;
                }
                global::sync_settings(txn, &table)?;
                let stats = table::load_stats(txn, &table)?;
                Ok((table::describe(&table, &stats, "ACTIVE"), dropped))
            })
            .await?;
        dropped.into_iter().for_each(|id| self.purge(id));
        Ok(json!({ "TableDescription": description }))
    }

    /// Applies `f` to the table an ARN names, in one transaction.
    async fn with_table_arn(
        &self,
        ctx: &RequestContext,
        arn: &str,
        action: &str,
        f: impl FnOnce(&mut Table) + Send + 'static,
    ) -> Result<(), AwsError> {
        let name = table_of_arn(ctx, arn, action)?;
        let (account, region) = (ctx.account.clone(), ctx.region.clone());
        let arn = arn.to_string();
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let table = table::load_table(txn, &account, &region, &name)?.ok_or_else(|| {
                    AwsError::new(
                        400,
                        "ResourceNotFoundException",
                        format!("Requested resource not found: ResourcArn: {arn} not found"),
                    )
                })?;
                let mut table = Arc::unwrap_or_clone(table);
                f(&mut table);
                table::save_table(txn, &table)
            })
            .await
    }

    pub async fn tag_resource(self: Arc<Self>, ctx: RequestContext, input: TagResourceInput) -> Result<Json, AwsError> {
        let tags: Vec<(String, String)> = input.tags.into_iter().map(|t| (t.key, t.value)).collect();
        self.with_table_arn(&ctx, &input.resource_arn, "TagResource", move |t| t.tags.extend(tags)).await?;
        Ok(json!({}))
    }

    pub async fn untag_resource(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UntagResourceInput,
    ) -> Result<Json, AwsError> {
        let keys = input.tag_keys;
        self.with_table_arn(&ctx, &input.resource_arn, "UntagResource", move |t| {
            t.tags.retain(|k, _| !keys.contains(k))
        })
        .await?;
        Ok(json!({}))
    }

    pub async fn list_tags_of_resource(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListTagsInput,
    ) -> Result<Json, AwsError> {
        let name = table_of_arn(&ctx, &input.resource_arn, "ListTagsOfResource")?;
        let table = table::load_table(&*self.kv, &ctx.account, &ctx.region, &name)?.ok_or_else(|| {
            AwsError::new(
                400,
                "ResourceNotFoundException",
                format!("Requested resource not found: ResourcArn: {} not found", input.resource_arn),
            )
        })?;
        let tags: Vec<Json> = table.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        Ok(json!({ "Tags": tags }))
    }

    pub async fn update_time_to_live(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UpdateTtlInput,
    ) -> Result<Json, AwsError> {
        let name = table_name(&input.table_name).to_string();
        let spec = input.time_to_live_specification;
        let (account, region) = (ctx.account.clone(), ctx.region.clone());
        let (enabled, attribute) = (spec.enabled, spec.attribute_name.clone());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let mut table = Arc::unwrap_or_clone(
                    table::load_table(txn, &account, &region, &name)?.ok_or_else(|| table_not_found(&name))?,
                );
                match (&table.ttl_attribute, enabled) {
                    (Some(_), true) => return Err(validation("TimeToLive is already enabled")),
                    (None, false) => return Err(validation("TimeToLive is already disabled")),
                    (Some(current), false) if *current != attribute => {
                        return Err(validation(
                            "The attribute name specified does not match the current TTL attribute",
                        ));
                    }
                    _ => {}
                }
                table.ttl_attribute = enabled.then(|| attribute.clone());
                table::reindex_expiries(txn, &table)?;
                table::save_table(txn, &table)?;
                global::sync_settings(txn, &table)
            })
            .await?;
        Ok(json!({ "TimeToLiveSpecification": { "Enabled": spec.enabled, "AttributeName": spec.attribute_name } }))
    }

    pub async fn describe_time_to_live(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TableNameInput,
    ) -> Result<Json, AwsError> {
        let name = table_name(&input.table_name);
        let table =
            table::load_table(&*self.kv, &ctx.account, &ctx.region, name)?.ok_or_else(|| table_not_found(name))?;
        Ok(json!({ "TimeToLiveDescription": match &table.ttl_attribute {
            Some(attribute) => json!({"TimeToLiveStatus": "ENABLED", "AttributeName": attribute}),
            None => json!({"TimeToLiveStatus": "DISABLED"}),
        }}))
    }

    pub async fn describe_continuous_backups(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TableNameInput,
    ) -> Result<Json, AwsError> {
        let name = table_name(&input.table_name);
        let table = table::load_table(&*self.kv, &ctx.account, &ctx.region, name)?
            .ok_or_else(|| backups_table_not_found(name))?;
        Ok(continuous_backups(&table))
    }

    pub async fn update_continuous_backups(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UpdateContinuousBackupsInput,
    ) -> Result<Json, AwsError> {
        let spec = input.point_in_time_recovery_specification;
        // The front end keeps the period within 1..=35 days.
        let days = spec.recovery_period_in_days.map_or(PITR_DEFAULT_DAYS, |d| d as u64);
        let name = table_name(&input.table_name).to_string();
        let (account, region) = (ctx.account.clone(), ctx.region.clone());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let mut table = Arc::unwrap_or_clone(
                    table::load_table(txn, &account, &region, &name)?.ok_or_else(|| backups_table_not_found(&name))?,
                );
                table.pitr = match (spec.point_in_time_recovery_enabled, table.pitr) {
                    (false, _) => None,
                    (true, Some((since, _))) => Some((since, days)),
                    (true, None) => Some((Timestamp::now().0, days)),
                };
                table::save_table(txn, &table)?;
                Ok(continuous_backups(&table))
            })
            .await
    }

    pub async fn describe_limits(self: Arc<Self>, _ctx: RequestContext, _input: Empty) -> Result<Json, AwsError> {
        Ok(json!({
            "AccountMaxReadCapacityUnits": 80000,
            "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000,
            "TableMaxWriteCapacityUnits": 40000,
        }))
    }

    pub async fn describe_endpoints(self: Arc<Self>, ctx: RequestContext, _input: Empty) -> Result<Json, AwsError> {
        Ok(
            json!({ "Endpoints": [{ "Address": format!("dynamodb.{}.amazonaws.com", ctx.region), "CachePeriodInMinutes": 1440 }] }),
        )
    }
}
