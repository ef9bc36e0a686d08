//! PartiQL: ExecuteStatement, BatchExecuteStatement and ExecuteTransaction.
//!
//! Statements are parsed ([`parse`]) into the trees of [`crate::expr`] and run by the
//! machinery of the item API: a SELECT is a Query when its WHERE fixes the partition key
//! with an equality (one Query per value for `IN` or an OR of such conditions; a sort-key
//! condition narrows each), a Scan otherwise, both through [`crate::query::read`];
//! INSERT, UPDATE and DELETE go through [`Ddb::write_one`], the write of PutItem,
//! UpdateItem and DeleteItem; ExecuteTransaction plans its statements as
//! TransactWriteItems plans its items and runs them through [`Ddb::run_transaction`].

mod parse;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use brume_core::{AwsError, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::Ddb;
use crate::capacity::{Consumed, read_units};
use crate::error::{conditional_check_failed, constraint, resource_not_found, validation};
use crate::expr::{self, Action, Cmp, Cond, Kind, Operand, Path, Step, Update};
use crate::item::{Written, check_failure_return, check_new_item, condition_failed, updated};
use crate::query::{self, Read};
use crate::table::{self, KeySchema, Table};
use crate::transact::{CONDITION_FAILED, Planned, Write, digest};
use crate::value::{Item, Value, item_from_wire, item_size};
use parse::{Returning, Select, Statement, missing_where, parse};

const MAX_BATCH: usize = 25;
const MAX_TRANSACTION: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteStatementInput {
    statement: String,
    parameters: Option<Vec<Json>>,
    consistent_read: Option<bool>,
    next_token: Option<String>,
    return_consumed_capacity: Option<String>,
    limit: Option<i64>,
    return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchStatementRequest {
    statement: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Vec<Json>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consistent_read: Option<bool>,
    /// DynamoDB accepts it on a batch member and returns no item with the member's
    /// ConditionalCheckFailed error, whatever it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchExecuteStatementInput {
    statements: Vec<BatchStatementRequest>,
    return_consumed_capacity: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterizedStatement {
    statement: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Vec<Json>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_values_on_condition_check_failure: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteTransactionInput {
    transact_statements: Vec<ParameterizedStatement>,
    client_request_token: Option<String>,
    return_consumed_capacity: Option<String>,
}

/// The longest statement the model allows.
const MAX_STATEMENT: usize = 8192;

/// The request's `Parameters`, read as attribute values.
fn parameters(raw: Option<&[Json]>) -> Result<Vec<Value>, AwsError> {
    if raw.is_some_and(<[Json]>::is_empty) {
        return Err(constraint("[]", "parameters", "Member must have length greater than or equal to 1"));
    }
    raw.unwrap_or_default().iter().map(Value::from_wire).collect()
}

/// The model's length constraints on a statement.
fn check_statement(statement: &str) -> Result<(), AwsError> {
    let bound = match statement.chars().count() {
        0 => "greater than or equal to 1".to_string(),
        n if n > MAX_STATEMENT => format!("less than or equal to {MAX_STATEMENT}"),
        _ => return Ok(()),
    };
    Err(constraint(statement, "statement", &format!("Member must have length {bound}")))
}

fn duplicate_item() -> AwsError {
    AwsError::new(400, "DuplicateItemException", "Duplicate primary key exists in table")
}

/// One to `max` statements, refused with the list echoed as DynamoDB does.
fn check_count<T: Serialize>(items: &[T], max: usize, member: &str) -> Result<(), AwsError> {
    let bound = match items.len() {
        0 => "greater than or equal to 1".to_string(),
        n if n > max => format!("less than or equal to {max}"),
        _ => return Ok(()),
    };
    let shown: Vec<String> = items.iter().map(|i| serde_json::to_string(i).unwrap_or_default()).collect();
    Err(constraint(format!("[{}]", shown.join(", ")), member, &format!("Member must have length {bound}")))
}

fn load(ddb: &Ddb, ctx: &RequestContext, name: &str) -> Result<Arc<Table>, AwsError> {
    table::load_table(&*ddb.kv, &ctx.account, &ctx.region, name)?.ok_or_else(resource_not_found)
}

/// The conditions joined by AND at the top of `cond`.
fn conjuncts(cond: &Cond) -> Vec<&Cond> {
    match cond {
        Cond::And(a, b) => {
            let mut out = conjuncts(a);
            out.extend(conjuncts(b));
            out
        }
        other => vec![other],
    }
}

fn and_all(conds: Vec<Cond>) -> Option<Cond> {
    conds.into_iter().reduce(|a, b| Cond::And(Box::new(a), Box::new(b)))
}

/// `name = value` (either way round) on a top-level attribute: its name and value.
fn equality(cond: &Cond) -> Option<(&str, &Value)> {
    match cond {
        Cond::Cmp(Cmp::Eq, Operand::Path(Path(steps)), Operand::Value(v))
        | Cond::Cmp(Cmp::Eq, Operand::Value(v), Operand::Path(Path(steps))) => match steps.as_slice() {
            [Step::Key(name)] => Some((name, v)),
            _ => None,
        },
        _ => None,
    }
}

fn attribute(name: &str) -> Path {
    Path(vec![Step::Key(name.to_string())])
}

/// Splits a WHERE that must name one item into the item's key and the rest of the
/// condition.
fn key_of_where(schema: &KeySchema, cond: &Cond) -> Result<(Item, Option<Cond>), AwsError> {
    let mut key = Item::new();
    let mut rest = Vec::new();
    for term in conjuncts(cond) {
        match equality(term) {
            Some((name, v)) if schema.names().contains(&name) && !key.contains_key(name) => {
                key.insert(name.to_string(), v.clone());
            }
            _ => rest.push(term.clone()),
        }
    }
    for attr in std::iter::once(&schema.hash).chain(schema.range.as_ref()) {
        let v = key.get(&attr.name).ok_or_else(missing_where)?;
        if v.type_code() != attr.ty {
            return Err(validation(format!(
                "Key attribute's data type should match its data type in table's schema: Key {}",
                attr.name
            )));
        }
    }
    Ok((key, and_all(rest)))
}

/// The partitions a SELECT's WHERE fixes: the partition key's equality or `IN` list, or
/// an OR of conditions that each fix some, with values of the key's type. `None` when it
/// fixes none: the SELECT scans.
fn partitions(schema: &KeySchema, cond: &Cond) -> Option<Vec<Value>> {
    if let Cond::Or(a, b) = cond {
        let mut values = partitions(schema, a)?;
        for v in partitions(schema, b)? {
            if !values.contains(&v) {
                values.push(v);
            }
        }
        return Some(values);
    }
    let hash = &schema.hash;
    let on_hash = |o: &Operand| matches!(o, Operand::Path(Path(s)) if s.as_slice() == [Step::Key(hash.name.clone())]);
    let terms = conjuncts(cond);
    if let Some((_, v)) =
        terms.iter().filter_map(|t| equality(t)).find(|(name, v)| *name == hash.name && v.type_code() == hash.ty)
    {
        return Some(vec![v.clone()]);
    }
    terms.iter().find_map(|t| match t {
        Cond::In(a, options) if on_hash(a) => {
            let mut values: Vec<Value> = Vec::new();
            for o in options {
                match o {
                    Operand::Value(v) if v.type_code() == hash.ty => {
                        if !values.contains(v) {
                            values.push(v.clone());
                        }
                    }
                    _ => return None,
                }
            }
            Some(values)
        }
        _ => None,
    })
}

/// OR branches reading one partition may not mix a whole-partition read with a sort-key
/// range: DynamoDB refuses reads that would overlap.
fn check_overlap(schema: &KeySchema, cond: &Cond) -> Result<(), AwsError> {
    fn branches<'a>(c: &'a Cond, out: &mut Vec<&'a Cond>) {
        match c {
            Cond::Or(a, b) => {
                branches(a, out);
                branches(b, out);
            }
            other => out.push(other),
        }
    }
    let mut all = Vec::new();
    branches(cond, &mut all);
    let mut whole: Vec<Value> = Vec::new();
    let mut ranged: Vec<Value> = Vec::new();
    for branch in all {
        let into = if range_condition(schema, branch).is_some() { &mut ranged } else { &mut whole };
        into.extend(partitions(schema, branch).unwrap_or_default());
    }
    if whole.iter().any(|v| ranged.contains(v)) {
        return Err(validation("Overlapping conditions with range keys are not supported in where clause"));
    }
    Ok(())
}

/// The sort-key condition of a SELECT's WHERE a key range can serve (one term, of the
/// key's type), if there is one.
fn range_condition(schema: &KeySchema, cond: &Cond) -> Option<Cond> {
    let range = schema.range.as_ref()?;
    let on_range = |o: &Operand| matches!(o, Operand::Path(Path(s)) if s.as_slice() == [Step::Key(range.name.clone())]);
    let typed = |v: &Value| v.type_code() == range.ty;
    conjuncts(cond)
        .into_iter()
        .find(|t| match t {
            Cond::Cmp(cmp, a, Operand::Value(v)) => *cmp != Cmp::Ne && on_range(a) && typed(v),
            Cond::Between(a, Operand::Value(lo), Operand::Value(hi)) => {
                on_range(a) && typed(lo) && typed(hi) && expr::compare(lo, hi).is_some_and(|o| o.is_le())
            }
            Cond::BeginsWith(a, Operand::Value(v)) => on_range(a) && typed(v) && range.ty != "N",
            _ => false,
        })
        .cloned()
}

/// A NextToken: where the page stopped, and which statement it belongs to.
#[derive(Serialize, Deserialize)]
struct Token {
    key: Item,
    statement: u64,
}

fn statement_digest(statement: &str, parameters: Option<&[Json]>) -> u64 {
    digest(format!("{statement}\u{0}{}", serde_json::to_string(&parameters).unwrap_or_default()).as_bytes())
}

fn encode_token(key: Item, statement: u64) -> String {
    let bytes = serde_json::to_vec(&Token { key, statement }).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode_token(token: &str, statement: u64) -> Result<Item, AwsError> {
    let invalid = || validation("Invalid NextToken");
    let bytes = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| invalid())?;
    let raw: serde_json::Map<String, Json> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let wire: BTreeMap<String, Json> =
        raw.get("key").and_then(|k| serde_json::from_value(k.clone()).ok()).ok_or_else(invalid)?;
    if raw.get("statement").and_then(Json::as_u64) != Some(statement) {
        return Err(validation("NextToken does not match request"));
    }
    item_from_wire(&wire).map_err(|_| invalid())
}

/// The page of a SELECT and what it cost.
struct Selected {
    table: Arc<Table>,
    items: Vec<Item>,
    last: Option<Item>,
    consumed: Consumed,
}

/// What a write statement did: its table, the item RETURNING asked for, its units.
struct WriteOutcome {
    table: Arc<Table>,
    returned: Option<Item>,
    consumed: Consumed,
}

impl Ddb {
    fn select(
        &self,
        ctx: &RequestContext,
        s: Select,
        consistent: bool,
        limit: Option<usize>,
        start: Option<Item>,
    ) -> Result<Selected, AwsError> {
        let view = self.kv.snapshot()?;
        let table = table::load_table(&*view, &ctx.account, &ctx.region, &s.table)?.ok_or_else(resource_not_found)?;
        let index = match &s.index {
            Some(name) => {
                let index = table
                    .index(name)
                    .ok_or_else(|| validation(format!("The table does not have the specified index: {name}")))?;
                if consistent && table.is_gsi(name) {
                    return Err(validation("Strongly consistent read is not supported on Global Secondary Indexes"));
                }
                Some(index)
            }
            None => None,
        };
        let schema = index.map_or(&table.key, |i| &i.key);
        let mut hashes = s.condition.as_ref().and_then(|c| partitions(schema, c));
        if let (Some(c), Some(_)) = (&s.condition, &hashes) {
            check_overlap(schema, c)?;
        }
        let range = s.condition.as_ref().and_then(|c| range_condition(schema, c));
        let mut forward = true;
        if !s.order.is_empty() {
            if s.condition.is_none() {
                return Err(validation("Must have WHERE clause in the statement when using ORDER BY clause."));
            }
            let Some(values) = &mut hashes else {
                return Err(validation(
                    "Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause.",
                ));
            };
            if values.len() > 1 && !s.order.iter().any(|(name, _)| *name == schema.hash.name) {
                return Err(validation(
                    "Must have hash key in ORDER BY clause when more than one hash key condition specified in WHERE clause.",
                ));
            }
            for (name, descending) in &s.order {
                if !schema.names().contains(&name.as_str()) {
                    return Err(validation(format!(
                        "Variable reference {name} in ORDER BY clause must be part of the primary key"
                    )));
                }
                if schema.range.as_ref().is_some_and(|r| &r.name == name) {
                    forward = !descending;
                }
                if *name == schema.hash.name {
                    values.sort_by(|a, b| expr::compare(a, b).unwrap_or(std::cmp::Ordering::Equal));
                    if *descending {
                        values.reverse();
                    }
                }
            }
        }
        let Some(hashes) = hashes else {
            let read = Read {
                table: &table,
                index,
                key: None,
                filter: s.condition,
                projection: s.projection,
                limit,
                start,
                forward,
            };
            let page = query::read(&*view, read)?;
            let consumed = query::read_consumed(&table, s.index.as_deref(), page.bytes, consistent);
            return Ok(Selected { items: page.items, last: page.last, consumed, table });
        };
        // A Query of each partition in turn, resuming in the partition the page stopped in.
        let first = match &start {
            Some(key) => hashes.iter().position(|h| key.get(&schema.hash.name) == Some(h)).unwrap_or(hashes.len()),
            None => 0,
        };
        let mut start = start;
        let (mut items, mut last, mut scanned, mut bytes) = (Vec::new(), None, 0, 0);
        for hash in &hashes[first..] {
            let equal = Cond::Cmp(Cmp::Eq, Operand::Path(attribute(&schema.hash.name)), Operand::Value(hash.clone()));
            let key = match &range {
                Some(r) => Cond::And(Box::new(equal), Box::new(r.clone())),
                None => equal,
            };
            let read = Read {
                table: &table,
                index,
                key: Some(key),
                filter: s.condition.clone(),
                projection: s.projection.clone(),
                limit: limit.map(|l| l - scanned),
                start: start.take(),
                forward,
            };
            let page = query::read(&*view, read)?;
            items.extend(page.items);
            scanned += page.scanned;
            bytes += page.bytes;
            if page.last.is_some() {
                last = page.last;
                break;
            }
        }
        let consumed = query::read_consumed(&table, s.index.as_deref(), bytes, consistent);
        Ok(Selected { items, last, consumed, table })
    }

    /// Runs an INSERT, UPDATE or DELETE through the item API's single-item write.
    async fn write_statement(
        &self,
        ctx: &RequestContext,
        statement: Statement,
        return_old: bool,
    ) -> Result<WriteOutcome, AwsError> {
        match statement {
            Statement::Insert { table, item } => {
                let Written { table, consumed, .. } = self
                    .write_one(
                        ctx,
                        &table,
                        item,
                        true,
                        Box::new(move |_, old, item| match old {
                            Some(_) => Err(duplicate_item()),
                            None => Ok(Some(item)),
                        }),
                    )
                    .await?;
                Ok(WriteOutcome { table, returned: None, consumed })
            }
            Statement::Update { table, actions, condition, returning } => {
                let schema = load(self, ctx, &table)?.key.clone();
                let (key, extra) = key_of_where(&schema, &condition)?;
                let update = Update { actions };
                expr::check_paths(Kind::Update, &update.actions.iter().map(Action::path).collect::<Vec<_>>())?;
                let paths = update.paths();
                let Written { table, old, new, consumed } = self
                    .write_one(
                        ctx,
                        &table,
                        key,
                        false,
                        Box::new(move |table, old, target| {
                            // UPDATE changes an item that exists; it never creates one.
                            let Some(current) = old else {
                                return Err(conditional_check_failed());
                            };
                            if extra.as_ref().is_some_and(|c| !expr::evaluate(c, current)) {
                                return Err(condition_failed(old, return_old));
                            }
                            let new = updated(old, &target, &update)?;
                            check_new_item(table, &new, true)?;
                            Ok(Some(new))
                        }),
                    )
                    .await?;
                let returned = match returning {
                    Some(Returning::AllOld) => old,
                    Some(Returning::AllNew) => new,
                    Some(Returning::ModifiedOld) => old.map(|o| expr::project(&paths, &o)),
                    Some(Returning::ModifiedNew) => new.map(|n| expr::project(&paths, &n)),
                    None => None,
                };
                Ok(WriteOutcome { table, returned, consumed })
            }
            Statement::Delete { table, condition, returning } => {
                let schema = load(self, ctx, &table)?.key.clone();
                let (key, extra) = key_of_where(&schema, &condition)?;
                let Written { table, old, consumed, .. } = self
                    .write_one(
                        ctx,
                        &table,
                        key,
                        false,
                        Box::new(move |_, old, _| {
                            // Deleting a missing item succeeds; the rest of the WHERE is a
                            // condition on an item that exists.
                            if let (Some(current), Some(c)) = (old, &extra)
                                && !expr::evaluate(c, current)
                            {
                                return Err(condition_failed(old, return_old));
                            }
                            Ok(None)
                        }),
                    )
                    .await?;
                let returned = old.filter(|_| returning == Some(Returning::AllOld));
                Ok(WriteOutcome { table, returned, consumed })
            }
            // SELECTs are read before writes are considered; only EXISTS comes here.
            Statement::Select(_) | Statement::Exists(_) => {
                Err(validation("EXISTS can only be used in ExecuteTransaction write requests."))
            }
        }
    }

    /// A SELECT that names one item by its whole key (BatchExecuteStatement's and
    /// ExecuteTransaction's reads): the table and the item, if it exists and the rest of
    /// the WHERE holds for it.
    fn get_one(
        &self,
        ctx: &RequestContext,
        view: &dyn brume_storage::ReadView,
        s: &Select,
        refused: &'static str,
    ) -> Result<(Arc<Table>, Option<Item>), AwsError> {
        let table = table::load_table(view, &ctx.account, &ctx.region, &s.table)?.ok_or_else(resource_not_found)?;
        let by_key = match (&s.index, &s.condition) {
            (None, Some(c)) => key_of_where(&table.key, c).ok(),
            _ => None,
        };
        let (key, extra) = by_key.ok_or_else(|| validation(refused))?;
        let elements = table.check_key(&key)?;
        let item = table::get_item(view, &table, &elements)?
            .filter(|item| extra.as_ref().is_none_or(|c| expr::evaluate(c, item)))
            .map(|item| match &s.projection {
                Some(paths) => expr::project(paths, &item),
                None => item,
            });
        Ok((table, item))
    }

    pub async fn execute_statement(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ExecuteStatementInput,
    ) -> Result<Json, AwsError> {
        let limit = match input.limit {
            Some(l) if l < 1 => {
                return Err(constraint(l, "limit", "Member must have value greater than or equal to 1"));
            }
            l => l.map(|l| l as usize),
        };
        check_statement(&input.statement)?;
        let return_old = check_failure_return(input.return_values_on_condition_check_failure.as_deref())?;
        let params = parameters(input.parameters.as_deref())?;
        let mode = input.return_consumed_capacity.as_deref();
        let statement = parse(&input.statement, &params)?;
        let Statement::Select(select) = statement else {
            if input.next_token.is_some() {
                return Err(validation("Invalid NextToken"));
            }
            let outcome = self.write_statement(&ctx, statement, return_old).await?;
            // An empty MODIFIED projection is no item.
            let returned: Vec<Item> = outcome.returned.into_iter().filter(|i| !i.is_empty()).collect();
            let mut out = json!({ "Items": returned });
            if let Some(c) = outcome.consumed.report(mode, &outcome.table.name) {
                out["ConsumedCapacity"] = c;
            }
            return Ok(out);
        };
        let digest = statement_digest(&input.statement, input.parameters.as_deref());
        let start = input.next_token.as_deref().map(|t| decode_token(t, digest)).transpose()?;
        let consistent = input.consistent_read.unwrap_or(false);
        let page = self.select(&ctx, select, consistent, limit, start)?;
        let mut out = json!({ "Items": page.items });
        if let Some(last) = page.last {
            out["LastEvaluatedKey"] = serde_json::to_value(&last).unwrap_or_default();
            out["NextToken"] = json!(encode_token(last, digest));
        }
        if let Some(c) = page.consumed.report(mode, &page.table.name) {
            out["ConsumedCapacity"] = c;
        }
        Ok(out)
    }

    pub async fn batch_execute_statement(
        self: Arc<Self>,
        ctx: RequestContext,
        input: BatchExecuteStatementInput,
    ) -> Result<Json, AwsError> {
        check_count(&input.statements, MAX_BATCH, "statements")?;
        let parsed: Vec<Result<Statement, AwsError>> =
            input.statements.iter().map(|s| parse(&s.statement, &parameters(s.parameters.as_deref())?)).collect();
        let reads = parsed.iter().any(|p| matches!(p, Ok(Statement::Select(_))));
        let writes = parsed
            .iter()
            .any(|p| matches!(p, Ok(Statement::Insert { .. } | Statement::Update { .. } | Statement::Delete { .. })));
        if reads && writes {
            return Err(validation(
                "BatchExecuteStatement API does not support both read and write operations in the same request.",
            ));
        }
        let view = self.kv.snapshot()?;
        let mut units: BTreeMap<String, Consumed> = BTreeMap::new();
        let mut responses = Vec::new();
        for (request, statement) in input.statements.iter().zip(parsed) {
            let target = statement.as_ref().ok().map(|s| s.table().to_string());
            let result = match statement {
                Ok(Statement::Select(s)) => {
                    let refused = "Select statements within BatchExecuteStatement must specify the primary key in the where clause.";
                    self.get_one(&ctx, &*view, &s, refused).map(|(table, item)| {
                        let consistent = request.consistent_read.unwrap_or(false);
                        let size = item.as_ref().map_or(0, item_size);
                        units
                            .entry(table.name.clone())
                            .or_default()
                            .add(&Consumed::table(read_units(size, consistent)));
                        (table.name.clone(), item)
                    })
                }
                Ok(write) => self.write_statement(&ctx, write, false).await.map(|o| {
                    units.entry(o.table.name.clone()).or_default().add(&o.consumed);
                    (o.table.name.clone(), o.returned)
                }),
                Err(e) => Err(e),
            };
            responses.push(match result {
                Ok((table, item)) => {
                    let mut r = json!({ "TableName": table });
                    if let Some(item) = item.filter(|i| !i.is_empty()) {
                        r["Item"] = serde_json::to_value(item).unwrap_or_default();
                    }
                    r
                }
                Err(e) => batch_error(&e, target),
            });
        }
        let mut out = json!({ "Responses": responses });
        let mode = input.return_consumed_capacity.as_deref();
        let capacity: Vec<Json> = units.iter().filter_map(|(t, c)| c.report(mode, t)).collect();
        if !capacity.is_empty() {
            out["ConsumedCapacity"] = Json::Array(capacity);
        }
        Ok(out)
    }

    pub async fn execute_transaction(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ExecuteTransactionInput,
    ) -> Result<Json, AwsError> {
        check_count(&input.transact_statements, MAX_TRANSACTION, "transactStatements")?;
        let mut statements = Vec::new();
        for (i, s) in input.transact_statements.iter().enumerate() {
            let return_old =
                check_failure_return(s.return_values_on_condition_check_failure.as_deref()).map_err(in_statement(i))?;
            let statement =
                parameters(s.parameters.as_deref()).and_then(|p| parse(&s.statement, &p)).map_err(in_statement(i))?;
            statements.push((statement, return_old));
        }
        let reads = statements.iter().filter(|(s, _)| matches!(s, Statement::Select(_))).count();
        if reads > 0 && reads < statements.len() {
            return Err(validation(
                "ExecuteTransaction API does not support both read and write operations in the same request.",
            ));
        }
        let mode = input.return_consumed_capacity;
        if reads > 0 {
            return self.read_transaction(&ctx, statements.into_iter().map(|(s, _)| s).collect(), mode.as_deref());
        }
        let mut planned = Vec::new();
        for (i, (statement, return_old)) in statements.into_iter().enumerate() {
            planned.push(self.plan(&ctx, statement, return_old).map_err(in_statement(i))?);
        }
        let digest = digest(serde_json::to_string(&input.transact_statements).unwrap_or_default().as_bytes());
        let capacity = self.run_transaction(&ctx, planned, digest, input.client_request_token, mode).await?;
        let mut out = json!({});
        if !capacity.is_empty() {
            out["ConsumedCapacity"] = Json::Array(capacity);
        }
        Ok(out)
    }

    /// A transaction of SELECTs: each names one item; all read from one snapshot.
    fn read_transaction(
        &self,
        ctx: &RequestContext,
        statements: Vec<Statement>,
        mode: Option<&str>,
    ) -> Result<Json, AwsError> {
        let view = self.kv.snapshot()?;
        let mut responses = Vec::new();
        let mut units: BTreeMap<String, f64> = BTreeMap::new();
        for (i, statement) in statements.into_iter().enumerate() {
            let Statement::Select(s) = statement else { continue };
            if s.index.is_some() {
                return Err(in_statement(i)(validation("Reads on indices are not supported within transactions.")));
            }
            let refused =
                "Select statements within ExecuteTransaction must specify the primary key in the where clause.";
            let (table, item) = self.get_one(ctx, &*view, &s, refused).map_err(in_statement(i))?;
            // Transactional reads cost twice a consistent read.
            *units.entry(table.name.clone()).or_default() += 2.0 * read_units(item.as_ref().map_or(0, item_size), true);
            responses.push(match item {
                Some(item) => json!({ "Item": item }),
                None => json!({}),
            });
        }
        let mut out = json!({ "Responses": responses });
        let capacity: Vec<Json> = units.into_iter().filter_map(|(t, u)| Consumed::table(u).report(mode, &t)).collect();
        if !capacity.is_empty() {
            out["ConsumedCapacity"] = Json::Array(capacity);
        }
        Ok(out)
    }

    /// A write statement of a transaction as TransactWriteItems plans its items: the
    /// conditions PartiQL implies (an INSERTed key must be free, an UPDATEd item must
    /// exist) joined to the rest of the WHERE.
    fn plan(&self, ctx: &RequestContext, statement: Statement, return_old: bool) -> Result<Planned, AwsError> {
        let returning = match &statement {
            Statement::Update { returning, .. } | Statement::Delete { returning, .. } => *returning,
            _ => None,
        };
        if returning.is_some() {
            return Err(validation("Unsupported clause: RETURNING"));
        }
        let (table, key, condition, write, failure) = match statement {
            Statement::Insert { table, item } => {
                let hash = load(self, ctx, &table)?.key.hash.name.clone();
                let free = Cond::NotExists(attribute(&hash));
                (
                    table,
                    item.clone(),
                    Some(free),
                    Write::Put(item),
                    ("DuplicateItem", "Duplicate primary key exists in table"),
                )
            }
            Statement::Update { table, actions, condition, .. } => {
                let schema = load(self, ctx, &table)?.key.clone();
                let (key, extra) = key_of_where(&schema, &condition)?;
                let update = Update { actions };
                expr::check_paths(Kind::Update, &update.actions.iter().map(Action::path).collect::<Vec<_>>())?;
                let exists = Cond::Exists(attribute(&schema.hash.name));
                let condition = and_all(std::iter::once(exists).chain(extra).collect());
                (table, key, condition, Write::Update(update), CONDITION_FAILED)
            }
            Statement::Delete { table, condition, .. } => {
                let schema = load(self, ctx, &table)?.key.clone();
                let (key, extra) = key_of_where(&schema, &condition)?;
                let missing = Cond::NotExists(attribute(&schema.hash.name));
                let condition = extra.map(|c| Cond::Or(Box::new(missing), Box::new(c)));
                (table, key, condition, Write::Delete, CONDITION_FAILED)
            }
            Statement::Exists(s) => {
                if s.index.is_some() {
                    return Err(validation("Operations on indices are not supported in transactions"));
                }
                let schema = load(self, ctx, &s.table)?.key.clone();
                let refused = || validation("EXISTS() must contain a single item read with additional condition");
                let (key, extra) =
                    s.condition.as_ref().map(|c| key_of_where(&schema, c)).transpose()?.ok_or_else(refused)?;
                let extra = extra.ok_or_else(refused)?;
                let exists = Cond::Exists(attribute(&schema.hash.name));
                let condition = Cond::And(Box::new(exists), Box::new(extra));
                (s.table, key, Some(condition), Write::Check, CONDITION_FAILED)
            }
            Statement::Select(_) => return Err(validation("Unsupported operation in transaction.")),
        };
        Ok(Planned { table, key, condition, write, return_old, failure })
    }
}

/// A transaction's validation errors name the statement at fault.
fn in_statement(index: usize) -> impl Fn(AwsError) -> AwsError {
    move |e| match e.code.as_ref() {
        "ValidationException" => validation(format!("Validation failed in TransactStatements[{index}]: {}", e.message)),
        _ => e,
    }
}

/// A failed batch member: DynamoDB's short error code, and the table when the statement
/// reached its item.
fn batch_error(e: &AwsError, table: Option<String>) -> Json {
    let code = match e.code.as_ref() {
        "ConditionalCheckFailedException" => "ConditionalCheckFailed",
        "DuplicateItemException" => "DuplicateItem",
        "ResourceNotFoundException" => "ResourceNotFound",
        "ValidationException" => "ValidationError",
        "TransactionConflictException" => "TransactionConflict",
        _ => "InternalServerError",
    };
    let mut out = json!({ "Error": { "Code": code, "Message": e.message } });
    if let Some(table) = table.filter(|_| matches!(code, "ConditionalCheckFailed" | "DuplicateItem")) {
        out["TableName"] = json!(table);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::KeyAttr;

    fn schema() -> KeySchema {
        KeySchema {
            hash: KeyAttr { name: "pk".into(), ty: "S".into() },
            range: Some(KeyAttr { name: "sk".into(), ty: "N".into() }),
        }
    }

    fn where_of(src: &str) -> Cond {
        match parse(&format!("SELECT * FROM t WHERE {src}"), &[]).unwrap() {
            Statement::Select(Select { condition: Some(c), .. }) => c,
            other => panic!("{other:?}"),
        }
    }

    fn check_key(src: &str, expected: Result<(&str, bool), &str>) {
        let got = key_of_where(&schema(), &where_of(src)).map_err(|e| e.message);
        let got = got.map(|(key, rest)| (serde_json::to_string(&key).unwrap(), rest.is_some()));
        let expected = expected.map(|(k, rest)| (k.to_string(), rest)).map_err(str::to_string);
        assert_eq!(got, expected, "{src}");
    }

    #[test]
    fn writes_name_one_item_by_its_key() {
        check_key("pk = 'a' AND sk = 1", Ok((r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#, false)));
        check_key("1 = sk AND pk = 'a' AND n > 2", Ok((r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#, true)));
        let incomplete = "Where clause does not contain a mandatory equality on all key attributes";
        check_key("pk = 'a'", Err(incomplete));
        check_key("pk = 'a' OR sk = 1", Err(incomplete));
        check_key("pk = 'a' AND sk > 1", Err(incomplete));
        check_key(
            "pk = 'a' AND sk = '1'",
            Err("Key attribute's data type should match its data type in table's schema: Key sk"),
        );
    }

    fn check_read(src: &str, hashes: Option<&[&str]>, range: bool) {
        let cond = where_of(src);
        let got = partitions(&schema(), &cond)
            .map(|v| v.iter().map(|h| if let Value::S(s) = h { s.clone() } else { String::new() }).collect::<Vec<_>>());
        assert_eq!(got, hashes.map(|h| h.iter().map(|s| s.to_string()).collect()), "{src}");
        assert_eq!(range_condition(&schema(), &cond).is_some(), range, "{src}");
    }

    #[test]
    fn selects_query_when_the_partition_is_fixed() {
        check_read("pk = 'a'", Some(&["a"]), false);
        check_read("pk = 'a' AND sk BETWEEN 1 AND 3", Some(&["a"]), true);
        check_read("sk > 1 AND pk IN ['b', 'a', 'b']", Some(&["b", "a"]), true);
        check_read("pk = 1", None, false);
        check_read("pk = 'a' OR pk = 'b' AND n = 1 OR pk IN ['c', 'a']", Some(&["a", "b", "c"]), false);
        check_read("pk = 'a' OR n = 1", None, false);
        check_read("pk > 'a'", None, false);
        check_read("pk = 'a' AND sk <> 1", Some(&["a"]), false);
        check_read("pk = 'a' AND sk BETWEEN 3 AND 1", Some(&["a"]), false);
        check_read("pk = 'a' AND begins_with(sk, '1')", Some(&["a"]), false);
    }
}
