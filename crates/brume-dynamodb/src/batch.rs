//! BatchGetItem and BatchWriteItem.
//!
//! Brume processes every request of a batch (there is no throughput to exceed), so
//! `UnprocessedKeys`/`UnprocessedItems` are always empty; a batch's writes are applied in
//! one storage transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_storage::Txn;
use brume_storage::key::Element;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::capacity::{Consumed, read_units, write_units};
use crate::error::{key_mismatch, resource_not_found, validation};
use crate::expr::{self, Path};
use crate::item::{Wire, check_item_body, placeholders, projection};
use crate::table::{self, Table};
use crate::value::{Item, item_from_wire, item_size};
use crate::{Ddb, legacy, table_name};

/// The most keys one BatchGetItem reads, and writes one BatchWriteItem makes.
const MAX_GETS: usize = 100;
const MAX_WRITES: usize = 25;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeysAndAttributes {
    keys: Vec<Wire>,
    attributes_to_get: Option<Vec<String>>,
    consistent_read: Option<bool>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetItemInput {
    request_items: BTreeMap<String, KeysAndAttributes>,
    return_consumed_capacity: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRequest {
    item: Wire,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRequest {
    key: Wire,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WriteRequest {
    put_request: Option<PutRequest>,
    delete_request: Option<DeleteRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchWriteItemInput {
    request_items: BTreeMap<String, Vec<WriteRequest>>,
    return_consumed_capacity: Option<String>,
    return_item_collection_metrics: Option<String>,
}

impl WriteRequest {
    /// The request as DynamoDB echoes it in validation errors.
    fn describe(&self) -> String {
        let show = |w: &Wire| serde_json::to_string(w).unwrap_or_default();
        match (&self.put_request, &self.delete_request) {
            (Some(p), _) => format!("WriteRequest(PutRequest=PutRequest(Item={}))", show(&p.item)),
            (_, Some(d)) => format!("WriteRequest(DeleteRequest=DeleteRequest(Key={}))", show(&d.key)),
            _ => "WriteRequest()".to_string(),
        }
    }
}

fn duplicates() -> AwsError {
    validation("Provided list of item keys contains duplicates")
}

fn load(kv: &dyn brume_storage::ReadView, ctx: &RequestContext, name: &str) -> Result<Arc<Table>, AwsError> {
    table::load_table(kv, &ctx.account, &ctx.region, table_name(name))?.ok_or_else(resource_not_found)
}

impl Ddb {
    pub async fn batch_get_item(
        self: Arc<Self>,
        ctx: RequestContext,
        input: BatchGetItemInput,
    ) -> Result<Json, AwsError> {
        if input.request_items.is_empty() {
            return Err(validation("The requestItems parameter is required for BatchGetItem"));
        }
        if let Some((name, _)) = input.request_items.iter().find(|(_, r)| r.keys.len() > MAX_GETS) {
            return Err(validation(format!(
                "1 validation error detected: Value at 'requestItems.{name}.member.keys' failed to satisfy constraint: Member must have length less than or equal to {MAX_GETS}"
            )));
        }
        if input.request_items.values().map(|r| r.keys.len()).sum::<usize>() > MAX_GETS {
            return Err(validation("Too many items requested for the BatchGetItem call"));
        }
        // One request may not project with expressions for one table and the legacy
        // way for another.
        legacy::check_mixing(
            &[("AttributesToGet", input.request_items.values().any(|r| r.attributes_to_get.is_some()))],
            &[("ProjectionExpression", input.request_items.values().any(|r| r.projection_expression.is_some()))],
        )?;
        let view = self.kv.snapshot()?;
        let mut responses = serde_json::Map::new();
        let mut capacity = Vec::new();
        for (name, request) in input.request_items {
            let mut ph = placeholders(request.expression_attribute_names, None)?;
            let projection: Option<Vec<Path>> =
                projection(request.attributes_to_get.as_deref(), request.projection_expression.as_deref(), &mut ph)?;
            ph.finish()?;
            let table = load(&*view, &ctx, &name)?;
            let mut seen: Vec<Vec<Element>> = Vec::new();
            let mut items = Vec::new();
            let consistent = request.consistent_read.unwrap_or(false);
            // Each item is metered on its own, rounded up to 4 KB, found or not.
            let mut units = 0.0;
            for key in &request.keys {
                let elements = table.check_key(&item_from_wire(key)?)?;
                if seen.contains(&elements) {
                    return Err(duplicates());
                }
                let found = table::get_item(&*view, &table, &elements)?;
                units += read_units(found.as_ref().map_or(0, item_size), consistent);
                if let Some(item) = found {
                    items.push(match &projection {
                        Some(paths) => expr::project(paths, &item),
                        None => item,
                    });
                }
                seen.push(elements);
            }
            capacity.extend(Consumed::table(units).report(input.return_consumed_capacity.as_deref(), &table.name));
            responses.insert(name, serde_json::to_value(items).unwrap_or_default());
        }
        let mut out = json!({ "Responses": responses, "UnprocessedKeys": {} });
        if !capacity.is_empty() {
            out["ConsumedCapacity"] = Json::Array(capacity);
        }
        Ok(out)
    }

    pub async fn batch_write_item(
        self: Arc<Self>,
        ctx: RequestContext,
        input: BatchWriteItemInput,
    ) -> Result<Json, AwsError> {
        if input.request_items.is_empty() {
            return Err(validation("The requestItems parameter is required for BatchWriteItem"));
        }
        if let Some((name, requests)) = input.request_items.iter().find(|(_, r)| r.is_empty() || r.len() > MAX_WRITES) {
            let shown: Vec<String> = requests.iter().map(WriteRequest::describe).collect();
            return Err(validation(format!(
                "1 validation error detected: Value '{{{name}=[{}]}}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {MAX_WRITES}, Member must have length greater than or equal to 1]",
                shown.join(", ")
            )));
        }
        if input.request_items.values().map(Vec::len).sum::<usize>() > MAX_WRITES {
            return Err(validation("Too many items requested for the BatchWriteItem call"));
        }
        // Everything is read and checked before the transaction, which only writes.
        let mut writes: Vec<(String, Item, bool)> = Vec::new();
        for (name, requests) in &input.request_items {
            for request in requests {
                match (&request.put_request, &request.delete_request) {
                    (Some(put), None) => writes.push((name.clone(), item_from_wire(&put.item)?, true)),
                    (None, Some(delete)) => writes.push((name.clone(), item_from_wire(&delete.key)?, false)),
                    _ => {
                        return Err(validation(
                            "A WriteRequest must contain exactly one of PutRequest or DeleteRequest",
                        ));
                    }
                }
            }
        }
        let written: Vec<(String, Item)> =
            writes.iter().map(|(name, item, _)| (table_name(name).to_string(), item.clone())).collect();
        let (account, region) = (ctx.account.clone(), ctx.region.clone());
        let mode = input.return_consumed_capacity.clone();
        let capacity = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                let mut tables: BTreeMap<String, Arc<Table>> = BTreeMap::new();
                let mut seen: Vec<(String, Vec<Element>)> = Vec::new();
                let mut planned = Vec::new();
                for (name, item, is_put) in writes {
                    if !tables.contains_key(&name) {
                        let t = table::load_table(txn, &account, &region, table_name(&name))?
                            .ok_or_else(resource_not_found)?;
                        tables.insert(name.clone(), t);
                    }
                    let table = &tables[&name];
                    if let Some(e) = table.empty_key_error(&item, false) {
                        return Err(e);
                    }
                    // A put's key is checked as a key: a wrong type is a schema mismatch
                    // here, not PutItem's type-mismatch message.
                    let key = if is_put { table.key.key_of(&item).ok_or_else(key_mismatch)? } else { item.clone() };
                    let elements = table.check_key(&key)?;
                    if is_put {
                        check_item_body(table, &item, false)?;
                    }
                    if seen.contains(&(name.clone(), elements.clone())) {
                        return Err(duplicates());
                    }
                    seen.push((name.clone(), elements.clone()));
                    planned.push((name, elements, is_put.then_some(item)));
                }
                let mut units: BTreeMap<String, Consumed> = BTreeMap::new();
                for (name, elements, new) in planned {
                    let table = &tables[&name];
                    let old = table::get_item(txn, table, &elements)?;
                    let consumed = match (&old, &new) {
                        (None, None) => Consumed::table(write_units(0)),
                        _ => table::write_item(txn, table, &elements, old.as_ref(), new.as_ref())?,
                    };
                    units.entry(table.name.clone()).or_default().add(&consumed);
                }
                Ok(units.iter().filter_map(|(t, c)| c.report(mode.as_deref(), t)).collect::<Vec<_>>())
            })
            .await?;
        let mut out = json!({ "UnprocessedItems": {} });
        if !capacity.is_empty() {
            out["ConsumedCapacity"] = Json::Array(capacity);
        }
        let metrics_mode = input.return_item_collection_metrics.as_deref();
        if let Some(metrics) = self.collections_metrics(&ctx, metrics_mode, &written)? {
            out["ItemCollectionMetrics"] = metrics;
        }
        Ok(out)
    }
}
