//! TransactWriteItems and TransactGetItems.
//!
//! A write transaction is one storage transaction: every condition is checked against the
//! items as they are, and either every write is applied or none is, with the per-item
//! reasons DynamoDB gives in `TransactionCanceledException`. A `ClientRequestToken` is
//! recorded in the same transaction for ten minutes, so a retried request is answered
//! without being applied twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_storage::Txn;
use brume_storage::key::{self, Element};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::capacity::{Consumed, read_units, write_units};
use crate::error::{resource_not_found, validation};
use crate::expr::{self, Cond, Path, Update};
use crate::item::{
    Wire, check_failure_return, check_item_body, check_key_untouched, check_new_item, parse_condition, placeholders,
    updated,
};
use crate::table::{self, KEYSPACE, Table};
use crate::value::{Item, item_from_wire, item_size};
use crate::{Ddb, table_name};

const MAX_ITEMS: usize = 100;
/// How long a ClientRequestToken is remembered.
const TOKEN_SECONDS: f64 = 600.0;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItemsInput {
    transact_items: Vec<Json>,
    return_consumed_capacity: Option<String>,
    return_item_collection_metrics: Option<String>,
    client_request_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Operation {
    table_name: String,
    key: Option<Wire>,
    item: Option<Wire>,
    update_expression: Option<String>,
    condition_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<Wire>,
    return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WriteItem {
    condition_check: Option<Operation>,
    put: Option<Operation>,
    delete: Option<Operation>,
    update: Option<Operation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItemsInput {
    transact_items: Vec<GetItem>,
    return_consumed_capacity: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetItem {
    get: Get,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Get {
    table_name: String,
    key: Wire,
    projection_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
}

/// What one transaction item does once its condition holds.
pub enum Write {
    Check,
    Put(Item),
    Delete,
    Update(Update),
}

/// One transaction item, parsed and checked before the transaction runs.
pub struct Planned {
    pub table: String,
    pub key: Item,
    pub condition: Option<Cond>,
    pub write: Write,
    pub return_old: bool,
    /// The cancellation reason when the condition fails: code and message.
    pub failure: (&'static str, &'static str),
}

/// The reason of a failed ConditionExpression.
pub const CONDITION_FAILED: (&str, &str) = ("ConditionalCheckFailed", "The conditional request failed");

/// A remembered ClientRequestToken: a digest of the request it came with.
#[derive(Serialize, Deserialize)]
struct Token {
    digest: u64,
    expires: f64,
}

fn token_key(account: &str, token: &str) -> Vec<u8> {
    key::encode(&["tok".into(), account.into(), token.into()])
}

/// FNV-1a: stable across runs, unlike the standard hasher.
pub fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

fn plan(json: &Json) -> Result<Planned, AwsError> {
    let item: WriteItem =
        serde_json::from_value(json.clone()).map_err(|e| validation(format!("Invalid input: {e}")))?;
    let (op, kind) = match (item.condition_check, item.put, item.delete, item.update) {
        (Some(op), None, None, None) => (op, "ConditionCheck"),
        (None, Some(op), None, None) => (op, "Put"),
        (None, None, Some(op), None) => (op, "Delete"),
        (None, None, None, Some(op)) => (op, "Update"),
        _ => {
            return Err(validation("TransactItems can only contain one of Check, Put, Update or Delete"));
        }
    };
    let return_old = check_failure_return(op.return_values_on_condition_check_failure.as_deref())?;
    let mut ph = placeholders(op.expression_attribute_names, op.expression_attribute_values)?;
    let update = match (kind, &op.update_expression) {
        ("Update", Some(u)) => Some(expr::parse_update(u, &mut ph)?),
        _ => None,
    };
    let condition = parse_condition(op.condition_expression.as_deref(), &mut ph)?;
    ph.finish()?;
    let (key, write) = match kind {
        "Put" => {
            let item = item_from_wire(op.item.as_ref().ok_or_else(|| missing("item"))?)?;
            (item.clone(), Write::Put(item))
        }
        _ => {
            let key = item_from_wire(op.key.as_ref().ok_or_else(|| missing("key"))?)?;
            let write = match kind {
                "ConditionCheck" if condition.is_none() => return Err(missing("conditionExpression")),
                "ConditionCheck" => Write::Check,
                "Delete" => Write::Delete,
                _ => Write::Update(update.ok_or_else(|| missing("updateExpression"))?),
            };
            (key, write)
        }
    };
    Ok(Planned { table: op.table_name, key, condition, write, return_old, failure: CONDITION_FAILED })
}

/// At most 100 items (the front end has refused none), in DynamoDB's words for it.
fn check_count<T>(items: &[T]) -> Result<(), AwsError> {
    if items.len() <= MAX_ITEMS {
        return Ok(());
    }
    Err(validation(format!(
        "1 validation error detected at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to {MAX_ITEMS}."
    )))
}

fn missing(member: &str) -> AwsError {
    validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

/// A `CancellationReasons` entry.
fn reason(code: &str, message: Option<&str>, item: Option<&Item>) -> Json {
    let mut out = json!({ "Code": code });
    if let Some(m) = message {
        out["Message"] = json!(m);
    }
    if let Some(item) = item {
        out["Item"] = serde_json::to_value(item).unwrap_or_default();
    }
    out
}

impl Ddb {
    pub async fn transact_write_items(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TransactWriteItemsInput,
    ) -> Result<Json, AwsError> {
        check_count(&input.transact_items)?;
        let planned: Vec<Planned> = input.transact_items.iter().map(plan).collect::<Result<_, _>>()?;
        let digest = digest(serde_json::to_string(&input.transact_items).unwrap_or_default().as_bytes());
        let written: Vec<(String, Item)> = planned
            .iter()
            .filter(|p| !matches!(p.write, Write::Check))
            .map(|p| (table_name(&p.table).to_string(), p.key.clone()))
            .collect();
        let capacity = self
            .run_transaction(&ctx, planned, digest, input.client_request_token, input.return_consumed_capacity)
            .await?;
        let mut out = json!({});
        if !capacity.is_empty() {
            out["ConsumedCapacity"] = Json::Array(capacity);
        }
        let mode = input.return_item_collection_metrics.as_deref();
        if let Some(metrics) = self.collections_metrics(&ctx, mode, &written)? {
            out["ItemCollectionMetrics"] = metrics;
        }
        Ok(out)
    }

    /// Runs planned writes as one transaction, remembering `token` (with the request's
    /// `digest`) so that a retry is answered without being applied again; answers the
    /// ConsumedCapacity entries.
    pub async fn run_transaction(
        &self,
        ctx: &RequestContext,
        planned: Vec<Planned>,
        digest: u64,
        token: Option<String>,
        mode: Option<String>,
    ) -> Result<Vec<Json>, AwsError> {
        let (account, region) = (ctx.account.clone(), ctx.region.clone());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let now = Timestamp::now().0;
                if let Some(token) = &token {
                    let k = token_key(&account, token);
                    if let Some(bytes) = txn.get(KEYSPACE, &k)? {
                        let seen: Token = serde_json::from_slice(&bytes).map_err(|_| AwsError::internal())?;
                        if seen.expires > now {
                            if seen.digest != digest {
                                return Err(AwsError::new(
                                    400,
                                    "IdempotentParameterMismatchException",
                                    "The request uses the same client token as a previous, but non-identical request.",
                                ));
                            }
                            return Ok(Vec::new());
                        }
                    }
                    let record = serde_json::to_vec(&Token { digest, expires: now + TOKEN_SECONDS })
                        .map_err(|_| AwsError::internal())?;
                    txn.put(KEYSPACE, &k, &record)?;
                }
                run_writes(txn, &account, &region, planned, mode.as_deref())
            })
            .await
    }

    pub async fn transact_get_items(
        self: Arc<Self>,
        ctx: RequestContext,
        input: TransactGetItemsInput,
    ) -> Result<Json, AwsError> {
        check_count(&input.transact_items)?;
        let view = self.kv.snapshot()?;
        let mut tables: BTreeMap<String, Arc<Table>> = BTreeMap::new();
        let mut seen: Vec<(String, Vec<Element>)> = Vec::new();
        // Everything is parsed and checked first: request-level problems fail the
        // request, a key that does not fit its table cancels with a reason for that item.
        let mut gets = Vec::new();
        let mut reasons = Vec::new();
        let mut failed = false;
        for item in input.transact_items {
            let get = item.get;
            let mut ph = placeholders(get.expression_attribute_names, None)?;
            let projection: Option<Vec<Path>> =
                get.projection_expression.as_deref().map(|p| expr::parse_projection(p, &mut ph)).transpose()?;
            ph.finish()?;
            let name = table_name(&get.table_name).to_string();
            if let std::collections::btree_map::Entry::Vacant(slot) = tables.entry(name.clone()) {
                let t = table::load_table(&*view, &ctx.account, &ctx.region, &name)?.ok_or_else(resource_not_found)?;
                slot.insert(t);
            }
            let table = &tables[&name];
            let key = item_from_wire(&get.key)?;
            if let Some(e) = table.empty_key_error(&key, false) {
                return Err(e);
            }
            match table.check_key(&key) {
                Ok(elements) => {
                    if seen.contains(&(name.clone(), elements.clone())) {
                        return Err(validation("Transaction request cannot include multiple operations on one item"));
                    }
                    seen.push((name.clone(), elements.clone()));
                    reasons.push(reason("None", None, None));
                    gets.push((name, elements, projection));
                }
                Err(e) => {
                    failed = true;
                    reasons.push(reason("ValidationError", Some(&e.message), None));
                }
            }
        }
        if failed {
            return Err(cancelled(reasons));
        }
        let mut responses = Vec::new();
        let mut units: BTreeMap<String, f64> = BTreeMap::new();
        for (name, elements, projection) in gets {
            let found = table::get_item(&*view, &tables[&name], &elements)?;
            *units.entry(name).or_default() += 2.0 * read_units(found.as_ref().map_or(0, item_size), true);
            responses.push(match found {
                Some(item) => {
                    let item = match &projection {
                        Some(paths) => expr::project(paths, &item),
                        None => item,
                    };
                    json!({ "Item": item })
                }
                None => json!({}),
            });
        }
        let mut out = json!({ "Responses": responses });
        let mode = input.return_consumed_capacity.as_deref();
        let capacity: Vec<Json> = units.into_iter().filter_map(|(t, u)| Consumed::table(u).report(mode, &t)).collect();
        if !capacity.is_empty() {
            out["ConsumedCapacity"] = Json::Array(capacity);
        }
        Ok(out)
    }
}

/// TransactionCanceledException with one reason per item, summarised in the message.
fn cancelled(reasons: Vec<Json>) -> AwsError {
    let codes: Vec<&str> = reasons.iter().map(|r| r["Code"].as_str().unwrap_or("None")).collect();
    let message =
        format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", "));
    AwsError::new(400, "TransactionCanceledException", message).with_member("CancellationReasons", Json::Array(reasons))
}

/// Checks every item's condition, then applies every write, inside the transaction.
///
/// Empty key values and updates of key attributes fail the whole request; a key of the
/// wrong type, a failed condition or an update that cannot apply cancel the transaction
/// with a reason for that item.
fn run_writes(
    txn: &mut dyn Txn,
    account: &str,
    region: &str,
    planned: Vec<Planned>,
    mode: Option<&str>,
) -> Result<Vec<Json>, AwsError> {
    let mut tables: BTreeMap<String, Arc<Table>> = BTreeMap::new();
    for p in &planned {
        let name = table_name(&p.table).to_string();
        if let std::collections::btree_map::Entry::Vacant(slot) = tables.entry(name) {
            let t = table::load_table(txn, account, region, slot.key())?.ok_or_else(resource_not_found)?;
            slot.insert(t);
        }
    }
    let mut seen: Vec<(String, Vec<Element>)> = Vec::new();
    let mut keyed = Vec::new();
    for p in planned {
        let table = &tables[table_name(&p.table)];
        let probe = match &p.write {
            Write::Put(item) => item,
            _ => &p.key,
        };
        if let Some(e) = table.empty_key_error(probe, false) {
            return Err(e);
        }
        if let Write::Update(u) = &p.write {
            check_key_untouched(u, &p.key)?;
        }
        let elements = match &p.write {
            Write::Put(item) => check_new_item(table, item, false),
            _ => table.check_key(&p.key),
        };
        if let Ok(elements) = &elements {
            if seen.contains(&(table.name.clone(), elements.clone())) {
                return Err(validation("Transaction request cannot include multiple operations on one item"));
            }
            seen.push((table.name.clone(), elements.clone()));
        }
        keyed.push((p, elements));
    }
    let mut reasons = Vec::new();
    let mut failed = false;
    let mut outcomes = Vec::new();
    let mut checked: Vec<(String, usize)> = Vec::new();
    for (p, elements) in &keyed {
        let table = &tables[table_name(&p.table)];
        let elements = match elements {
            Ok(e) => e,
            Err(e) => {
                failed = true;
                reasons.push(reason("ValidationError", Some(&e.message), None));
                continue;
            }
        };
        let old = table::get_item(txn, table, elements)?;
        if let Some(c) = &p.condition
            && !expr::evaluate(c, old.as_ref().unwrap_or(&Item::new()))
        {
            failed = true;
            let item = old.as_ref().filter(|_| p.return_old);
            reasons.push(reason(p.failure.0, Some(p.failure.1), item));
            continue;
        }
        let new = match &p.write {
            Write::Check => {
                reasons.push(reason("None", None, None));
                checked.push((table.name.clone(), old.as_ref().map_or(0, item_size)));
                continue;
            }
            Write::Put(item) => Some(item.clone()),
            Write::Delete => None,
            Write::Update(u) => {
                let new = match updated(old.as_ref(), &p.key, u) {
                    Ok(n) => n,
                    Err(e) => {
                        failed = true;
                        reasons.push(reason("ValidationError", Some(&e.message), None));
                        continue;
                    }
                };
                if let Some(e) = table.empty_key_error(&new, true) {
                    return Err(e);
                }
                if let Err(e) = check_item_body(table, &new, true) {
                    failed = true;
                    reasons.push(reason("ValidationError", Some(&e.message), None));
                    continue;
                }
                Some(new)
            }
        };
        reasons.push(reason("None", None, None));
        outcomes.push((table.clone(), elements.clone(), old, new));
    }
    if failed {
        let codes: Vec<&str> = reasons.iter().map(|r| r["Code"].as_str().unwrap_or("None")).collect();
        return Err(AwsError::new(
            400,
            "TransactionCanceledException",
            format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
        )
        .with_member("CancellationReasons", Json::Array(reasons)));
    }
    // Transactional writes cost twice what plain ones do.
    let mut units: BTreeMap<String, Consumed> = BTreeMap::new();
    for (table, elements, old, new) in outcomes {
        let consumed = match (&old, &new) {
            (None, None) => Consumed::table(write_units(0)),
            _ => table::write_item(txn, &table, &elements, old.as_ref(), new.as_ref())?,
        };
        units.entry(table.name.clone()).or_default().add(&consumed.scaled(2.0));
    }
    // A condition check is metered as a transactional write of the item it reads.
    for (table, size) in checked {
        units.entry(table).or_default().add(&Consumed::table(2.0 * write_units(size)));
    }
    Ok(units.iter().filter_map(|(t, c)| c.report(mode, t)).collect())
}
