//! Single-item operations: PutItem, GetItem, DeleteItem, UpdateItem.
//!
//! Each write reads the current item, checks its condition and writes the item and its
//! index entries in one storage transaction, so conditional writes are atomic under
//! concurrent clients.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_protocol::WithVerbatim;
use brume_storage::Txn;
use brume_storage::key::Element;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value as Json, json};

use crate::capacity::{Consumed, read_units, write_units};
use crate::error::{conditional_check_failed, invalid, resource_not_found, validation};
use crate::expr::{self, Cond, Kind, Path, Placeholders, Update};
use crate::table::{self, Table};
use crate::value::{Attributes, Item, MAX_DEPTH, MAX_ITEM_SIZE, NESTING_LIMIT_EXCEEDED, item_size};
use crate::{Ddb, legacy, table_name};

pub type Wire = BTreeMap<String, Json>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutItemInput {
    table_name: String,
    item: Attributes,
    expected: Option<Wire>,
    conditional_operator: Option<String>,
    condition_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<Wire>,
    return_values: Option<String>,
    return_consumed_capacity: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    return_item_collection_metrics: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemInput {
    table_name: String,
    key: Attributes,
    attributes_to_get: Option<Vec<String>>,
    consistent_read: Option<bool>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    return_consumed_capacity: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItemInput {
    table_name: String,
    key: Attributes,
    expected: Option<Wire>,
    conditional_operator: Option<String>,
    condition_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<Wire>,
    return_values: Option<String>,
    return_consumed_capacity: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    return_item_collection_metrics: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateItemInput {
    table_name: String,
    key: Attributes,
    attribute_updates: Option<Wire>,
    expected: Option<Wire>,
    conditional_operator: Option<String>,
    update_expression: Option<String>,
    condition_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<Wire>,
    return_values: Option<String>,
    return_consumed_capacity: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    return_item_collection_metrics: Option<String>,
}

/// The condition of a write: its ConditionExpression, or the legacy `Expected` (never
/// both).
pub fn write_condition(
    expected: Option<&Wire>,
    operator: Option<&str>,
    expression: Option<&str>,
    ph: &mut Placeholders,
) -> Result<Option<Cond>, AwsError> {
    let (names, values) = ph.given();
    legacy::check_mixing(
        &[("Expected", expected.is_some()), ("ConditionalOperator", operator.is_some())],
        &[
            ("ConditionExpression", expression.is_some()),
            ("ExpressionAttributeNames", names),
            ("ExpressionAttributeValues", values),
        ],
    )?;
    match expected {
        Some(e) => legacy::conditions(e, operator, true),
        None => parse_condition(expression, ph),
    }
}

/// `ExpressionAttributeNames`/`Values`, read and checked.
pub fn placeholders(names: Option<BTreeMap<String, String>>, values: Option<Wire>) -> Result<Placeholders, AwsError> {
    let values = values
        .map(|v| {
            v.iter()
                .map(|(k, json)| {
                    let value = crate::value::Value::from_wire(json).map_err(|e| {
                        validation(format!(
                            "ExpressionAttributeValues contains invalid value: {} for key {k}",
                            e.message
                        ))
                    })?;
                    Ok((k.clone(), value))
                })
                .collect::<Result<Item, AwsError>>()
        })
        .transpose()?;
    Placeholders::new(names, values)
}

/// Names or values given with no expression to use them.
pub fn refuse_unusable(placeholders: &Placeholders, expressions: &str) -> Result<(), AwsError> {
    match placeholders.given() {
        (true, _) => Err(validation("ExpressionAttributeNames can only be specified when using expressions")),
        (_, true) => Err(validation(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {expressions} null"
        ))),
        _ => Ok(()),
    }
}

pub fn check_return_values(given: Option<&str>, allowed: &[&str]) -> Result<(), AwsError> {
    match given {
        Some(v) if !allowed.contains(&v) && v != "NONE" => Err(validation("Return values set to invalid value")),
        _ => Ok(()),
    }
}

/// `ALL_OLD` makes a failed condition carry the item as it is.
pub fn check_failure_return(given: Option<&str>) -> Result<bool, AwsError> {
    match given {
        None | Some("NONE") => Ok(false),
        Some("ALL_OLD") => Ok(true),
        Some(other) => Err(crate::error::constraint(
            other,
            "returnValuesOnConditionCheckFailure",
            "Member must satisfy enum value set: [ALL_OLD, NONE]",
        )),
    }
}

/// The error of a failed condition, with the item when the request asked for it.
pub fn condition_failed(old: Option<&Item>, return_old: bool) -> AwsError {
    let err = conditional_check_failed();
    match old {
        Some(item) if return_old => err.with_member("Item", serde_json::to_value(item).unwrap_or_default()),
        _ => err,
    }
}

/// The attributes a read returns: its ProjectionExpression, or the legacy
/// `AttributesToGet` (never both); `None` for all of them.
pub fn projection(
    attributes_to_get: Option<&[String]>,
    expression: Option<&str>,
    ph: &mut Placeholders,
) -> Result<Option<Vec<Path>>, AwsError> {
    let (names, _) = ph.given();
    legacy::check_mixing(
        &[("AttributesToGet", attributes_to_get.is_some())],
        &[("ProjectionExpression", expression.is_some()), ("ExpressionAttributeNames", names)],
    )?;
    if let Some(names) = attributes_to_get {
        return legacy::attributes_to_get(names).map(Some);
    }
    let projection = expression.map(|p| expr::parse_projection(p, ph)).transpose()?;
    if projection.is_none() {
        refuse_unusable(ph, "")?;
    }
    Ok(projection)
}

pub fn parse_condition(source: Option<&str>, placeholders: &mut Placeholders) -> Result<Option<Cond>, AwsError> {
    source.map(|s| expr::parse_condition(Kind::Condition, s, placeholders)).transpose()
}

/// Checks an item about to be stored: its key, its index keys, its nesting, its size.
pub fn check_new_item(table: &Table, item: &Item, updating: bool) -> Result<Vec<Element>, AwsError> {
    let key = table.check_item_key(item)?;
    check_item_body(table, item, updating)?;
    Ok(key)
}

/// The checks of an item about to be stored beyond its table key.
pub fn check_item_body(table: &Table, item: &Item, updating: bool) -> Result<(), AwsError> {
    table.check_index_keys(item, updating)?;
    if item.values().any(|v| v.depth() > MAX_DEPTH) {
        return Err(validation(NESTING_LIMIT_EXCEEDED));
    }
    if item_size(item) > MAX_ITEM_SIZE {
        return Err(validation(if updating {
            "Item size to update has exceeded the maximum allowed size"
        } else {
            "Item size has exceeded the maximum allowed size"
        }));
    }
    Ok(())
}

fn with_metrics(mut out: Json, metrics: Option<Json>) -> Json {
    if let Some(m) = metrics {
        out["ItemCollectionMetrics"] = m;
    }
    out
}

fn with_consumed(mut out: Json, capacity: Option<Json>) -> Json {
    if let Some(c) = capacity {
        out["ConsumedCapacity"] = c;
    }
    out
}

fn attributes(mut out: Json, item: Option<Item>) -> Json {
    if let Some(item) = item.filter(|i| !i.is_empty()) {
        out["Attributes"] = serde_json::to_value(item).unwrap_or_default();
    }
    out
}

/// What a single-item write did: the table, the item before and after, the units.
pub struct Written {
    pub table: Arc<Table>,
    pub old: Option<Item>,
    pub new: Option<Item>,
    pub consumed: Consumed,
}

/// One write decided inside a transaction: what to store at the key, given what is there
/// and the item or key the write was given (handed back, so a new item is not copied).
pub type Decide = Box<dyn FnOnce(&Table, Option<&Item>, Item) -> Result<Option<Item>, AwsError> + Send>;

impl Ddb {
    /// ItemCollectionMetrics for `ReturnItemCollectionMetrics` SIZE: the size of the
    /// written item's collection (its partition, on tables with local secondary indexes,
    /// the only ones DynamoDB reports it for), as a range of gigabytes.
    pub fn collection_metrics(&self, mode: Option<&str>, table: &Table, key: &Item) -> Result<Option<Json>, AwsError> {
        if mode != Some("SIZE") || table.lsis.is_empty() {
            return Ok(None);
        }
        let Some(partition) = key.get(&table.key.hash.name) else {
            return Ok(None);
        };
        let bytes = table::collection_size(&*self.kv, table, partition)?;
        let gb = (bytes as f64 / (1u64 << 30) as f64).floor();
        Ok(Some(json!({
            "ItemCollectionKey": { &table.key.hash.name: partition },
            "SizeEstimateRangeGB": [gb, gb + 1.0],
        })))
    }

    /// ItemCollectionMetrics of a write of several items (BatchWriteItem,
    /// TransactWriteItems): per table with local secondary indexes, one entry for each
    /// item collection written.
    pub fn collections_metrics(
        &self,
        ctx: &RequestContext,
        mode: Option<&str>,
        written: &[(String, Item)],
    ) -> Result<Option<Json>, AwsError> {
        if mode != Some("SIZE") {
            return Ok(None);
        }
        let mut tables: BTreeMap<String, Option<Arc<Table>>> = BTreeMap::new();
        let mut out = serde_json::Map::new();
        for (name, key) in written {
            if !tables.contains_key(name) {
                tables.insert(name.clone(), table::load_table(&*self.kv, &ctx.account, &ctx.region, name)?);
            }
            let Some(table) = &tables[name] else { continue };
            let Some(metrics) = self.collection_metrics(mode, table, key)? else { continue };
            if let Json::Array(list) = out.entry(table.name.clone()).or_insert_with(|| json!([]))
                && !list.contains(&metrics)
            {
                list.push(metrics);
            }
        }
        Ok((!out.is_empty()).then_some(Json::Object(out)))
    }

    /// Runs `decide` on the item at `key` of `table_name` and stores its answer, all in one
    /// transaction; answers the table, the old item and the new one.
    pub async fn write_one(
        &self,
        ctx: &RequestContext,
        table_name: &str,
        key: Item,
        from_item: bool,
        decide: Decide,
    ) -> Result<Written, AwsError> {
        let (account, region, name) = (ctx.account.clone(), ctx.region.clone(), table_name.to_string());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let table = table::load_table(txn, &account, &region, &name)?.ok_or_else(resource_not_found)?;
                let elements = if from_item { check_new_item(&table, &key, false)? } else { table.check_key(&key)? };
                let old = table::get_item(txn, &table, &elements)?;
                let new = decide(&table, old.as_ref(), key)?;
                let consumed = match (&old, &new) {
                    // Deleting nothing still costs a write.
                    (None, None) => Consumed::table(write_units(0)),
                    _ => table::write_item(txn, &table, &elements, old.as_ref(), new.as_ref())?,
                };
                Ok(Written { table, old, new, consumed })
            })
            .await
    }

    pub async fn put_item(self: Arc<Self>, ctx: RequestContext, input: PutItemInput) -> Result<Json, AwsError> {
        check_return_values(input.return_values.as_deref(), &["ALL_OLD"])?;
        let return_old_on_failure = check_failure_return(input.return_values_on_condition_check_failure.as_deref())?;
        let item = input.item.into_item()?;
        let mut ph = placeholders(input.expression_attribute_names, input.expression_attribute_values)?;
        let condition = write_condition(
            input.expected.as_ref(),
            input.conditional_operator.as_deref(),
            input.condition_expression.as_deref(),
            &mut ph,
        )?;
        if input.condition_expression.is_none() {
            refuse_unusable(&ph, "ConditionExpression is")?;
        }
        ph.finish()?;
        // Only the partition key is needed, and only when metrics are asked for.
        let key_of_write = if input.return_item_collection_metrics.is_some() { item.clone() } else { Item::new() };
        let Written { table, old, consumed, .. } = self
            .write_one(
                &ctx,
                table_name(&input.table_name),
                item,
                true,
                Box::new(move |_, old, item| {
                    if let Some(c) = &condition
                        && !expr::evaluate(c, old.unwrap_or(&Item::new()))
                    {
                        return Err(condition_failed(old, return_old_on_failure));
                    }
                    Ok(Some(item))
                }),
            )
            .await?;
        let capacity = consumed.report(input.return_consumed_capacity.as_deref(), &table.name);
        let returned = (input.return_values.as_deref() == Some("ALL_OLD")).then_some(old).flatten();
        let metrics =
            self.collection_metrics(input.return_item_collection_metrics.as_deref(), &table, &key_of_write)?;
        Ok(with_metrics(with_consumed(attributes(json!({}), returned), capacity), metrics))
    }

    pub async fn get_item(self: Arc<Self>, ctx: RequestContext, input: GetItemInput) -> Result<WithVerbatim, AwsError> {
        let key = input.key.into_item()?;
        let mut ph = placeholders(input.expression_attribute_names, None)?;
        let projection =
            projection(input.attributes_to_get.as_deref(), input.projection_expression.as_deref(), &mut ph)?;
        ph.finish()?;
        let name = table_name(&input.table_name);
        let table = table::load_table(&*self.kv, &ctx.account, &ctx.region, name)?.ok_or_else(resource_not_found)?;
        let elements = table.check_key(&key)?;
        let stored = self.kv.get(table::KEYSPACE, &table::item_key(&table, &elements))?;
        let mode = input.return_consumed_capacity.as_deref();
        let mut out = json!({});
        let stored = match (stored, &projection, mode) {
            // The record is the item's wire form: with nothing to project or meter, its
            // text is the answer, neither decoded nor encoded back.
            (Some(bytes), None, None | Some("NONE")) => {
                let text = String::from_utf8(bytes).map_err(|e| table::corrupt(&e))?;
                let item = RawValue::from_string(text).map_err(|e| table::corrupt(&e))?;
                return Ok(WithVerbatim { output: out, verbatim: vec![("Item", item)] });
            }
            (stored, ..) => stored,
        };
        let item = stored.map(|b| table::decode_item(&b)).transpose()?;
        let units = read_units(item.as_ref().map_or(0, item_size), input.consistent_read.unwrap_or(false));
        let capacity = Consumed::table(units).report(mode, &table.name);
        if let Some(item) = item {
            let item = match &projection {
                Some(paths) => expr::project(paths, &item),
                None => item,
            };
            out["Item"] = serde_json::to_value(item).unwrap_or_default();
        }
        Ok(WithVerbatim { output: with_consumed(out, capacity), verbatim: Vec::new() })
    }

    pub async fn delete_item(self: Arc<Self>, ctx: RequestContext, input: DeleteItemInput) -> Result<Json, AwsError> {
        check_return_values(input.return_values.as_deref(), &["ALL_OLD"])?;
        let return_old_on_failure = check_failure_return(input.return_values_on_condition_check_failure.as_deref())?;
        let key = input.key.into_item()?;
        let mut ph = placeholders(input.expression_attribute_names, input.expression_attribute_values)?;
        let condition = write_condition(
            input.expected.as_ref(),
            input.conditional_operator.as_deref(),
            input.condition_expression.as_deref(),
            &mut ph,
        )?;
        if input.condition_expression.is_none() {
            refuse_unusable(&ph, "ConditionExpression is")?;
        }
        ph.finish()?;
        let key_of_write = key.clone();
        let Written { table, old, consumed, .. } = self
            .write_one(
                &ctx,
                table_name(&input.table_name),
                key,
                false,
                Box::new(move |_, old, _| {
                    if let Some(c) = &condition
                        && !expr::evaluate(c, old.unwrap_or(&Item::new()))
                    {
                        return Err(condition_failed(old, return_old_on_failure));
                    }
                    Ok(None)
                }),
            )
            .await?;
        let capacity = consumed.report(input.return_consumed_capacity.as_deref(), &table.name);
        let returned = (input.return_values.as_deref() == Some("ALL_OLD")).then_some(old).flatten();
        let metrics =
            self.collection_metrics(input.return_item_collection_metrics.as_deref(), &table, &key_of_write)?;
        Ok(with_metrics(with_consumed(attributes(json!({}), returned), capacity), metrics))
    }

    pub async fn update_item(self: Arc<Self>, ctx: RequestContext, input: UpdateItemInput) -> Result<Json, AwsError> {
        check_return_values(input.return_values.as_deref(), &["ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"])?;
        let return_old_on_failure = check_failure_return(input.return_values_on_condition_check_failure.as_deref())?;
        let key = input.key.into_item()?;
        let mut ph = placeholders(input.expression_attribute_names, input.expression_attribute_values)?;
        let (names, values) = ph.given();
        legacy::check_mixing(
            &[
                ("AttributeUpdates", input.attribute_updates.is_some()),
                ("Expected", input.expected.is_some()),
                ("ConditionalOperator", input.conditional_operator.is_some()),
            ],
            &[
                ("UpdateExpression", input.update_expression.is_some()),
                ("ConditionExpression", input.condition_expression.is_some()),
                ("ExpressionAttributeNames", names),
                ("ExpressionAttributeValues", values),
            ],
        )?;
        let update = match &input.attribute_updates {
            Some(updates) => Some(legacy::attribute_updates(updates)?),
            None => input.update_expression.as_deref().map(|u| expr::parse_update(u, &mut ph)).transpose()?,
        };
        let condition = write_condition(
            input.expected.as_ref(),
            input.conditional_operator.as_deref(),
            input.condition_expression.as_deref(),
            &mut ph,
        )?;
        if input.update_expression.is_none() && input.condition_expression.is_none() {
            refuse_unusable(&ph, "UpdateExpression and ConditionExpression are")?;
        }
        ph.finish()?;
        let update = update.unwrap_or(Update { actions: Vec::new() });
        let paths: Vec<Path> = update.paths();
        let key_of_write = key.clone();
        let Written { table, old, new, consumed } = self
            .write_one(
                &ctx,
                table_name(&input.table_name),
                key,
                false,
                Box::new(move |table, old, key| {
                    if let Some(c) = &condition
                        && !expr::evaluate(c, old.unwrap_or(&Item::new()))
                    {
                        return Err(condition_failed(old, return_old_on_failure));
                    }
                    let new = updated(old, &key, &update)?;
                    check_new_item(table, &new, true)?;
                    Ok(Some(new))
                }),
            )
            .await?;
        let new = new.expect("an update always leaves an item");
        let capacity = consumed.report(input.return_consumed_capacity.as_deref(), &table.name);
        let returned = match input.return_values.as_deref() {
            Some("ALL_OLD") => old,
            Some("ALL_NEW") => Some(new),
            Some("UPDATED_OLD") => old.map(|o| expr::project(&paths, &o)),
            Some("UPDATED_NEW") => Some(expr::project(&paths, &new)),
            _ => None,
        };
        let metrics =
            self.collection_metrics(input.return_item_collection_metrics.as_deref(), &table, &key_of_write)?;
        Ok(with_metrics(with_consumed(attributes(json!({}), returned), capacity), metrics))
    }
}

/// Key attributes may not be the target of an update.
pub fn check_key_untouched(update: &Update, key: &Item) -> Result<(), AwsError> {
    for action in &update.actions {
        let head = action.path().head();
        if key.contains_key(head) {
            return Err(invalid(&format!("Cannot update attribute {head}. This attribute is part of the key")));
        }
    }
    Ok(())
}

/// The item an update leaves: the old one (or just the key, when there was none) with the
/// update applied. Key attributes may not be touched.
pub fn updated(old: Option<&Item>, key: &Item, update: &Update) -> Result<Item, AwsError> {
    check_key_untouched(update, key)?;
    let base = old.cloned().unwrap_or_else(|| key.clone());
    expr::apply(update, &base)
}
