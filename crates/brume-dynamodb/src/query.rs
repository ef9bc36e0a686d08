//! Query and Scan, on tables and on their secondary indexes.
//!
//! Both walk a key range of the ordered store (a partition, part of it, or everything),
//! count `Limit` items before the filter is applied, stop after 1 MB read, and answer
//! `LastEvaluatedKey` when they stopped early, as DynamoDB does.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_storage::key::{self, Element};
use brume_storage::{Direction, KeyRange, ReadView};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::capacity::{Consumed, read_units};
use crate::error::{constraint, invalid, resource_not_found, validation};
use crate::expr::{self, Cmp, Cond, Kind, Operand, Path, Placeholders, Step};
use crate::item::{Wire, placeholders, refuse_unusable};
use crate::table::{self, Index, KeyAttr, KeySchema, Table};
use crate::value::{Item, Value, item_from_wire, item_size};
use crate::{Ddb, legacy, table_name};

/// Which of Query and Scan is reading, where their messages differ.
const QUERY: bool = true;

/// DynamoDB stops a Query or Scan page after reading this much.
const PAGE_BYTES: usize = 1024 * 1024;
/// Records read from the store at a time while filling a page.
const BATCH: usize = 256;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryInput {
    table_name: String,
    index_name: Option<String>,
    select: Option<String>,
    attributes_to_get: Option<Vec<String>>,
    limit: Option<i64>,
    consistent_read: Option<bool>,
    key_conditions: Option<Wire>,
    query_filter: Option<Wire>,
    conditional_operator: Option<String>,
    scan_index_forward: Option<bool>,
    exclusive_start_key: Option<Wire>,
    return_consumed_capacity: Option<String>,
    projection_expression: Option<String>,
    filter_expression: Option<String>,
    key_condition_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<Wire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScanInput {
    table_name: String,
    index_name: Option<String>,
    attributes_to_get: Option<Vec<String>>,
    limit: Option<i64>,
    select: Option<String>,
    scan_filter: Option<Wire>,
    conditional_operator: Option<String>,
    exclusive_start_key: Option<Wire>,
    return_consumed_capacity: Option<String>,
    total_segments: Option<i64>,
    segment: Option<i64>,
    projection_expression: Option<String>,
    filter_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<Wire>,
    consistent_read: Option<bool>,
}

/// What a page reads from: the table's items, or an index's entries.
struct Source<'a> {
    table: &'a Table,
    index: Option<&'a Index>,
}

impl Source<'_> {
    fn schema(&self) -> &KeySchema {
        self.index.map_or(&self.table.key, |i| &i.key)
    }

    fn prefix(&self) -> Vec<Element> {
        match self.index {
            Some(i) => table::index_prefix(self.table, &i.name),
            None => vec!["i".into(), self.table.id.as_str().into()],
        }
    }

    /// The store key of the record holding `item`, from its key attributes (the
    /// ExclusiveStartKey, checked against the table's and index's schemas).
    fn position(&self, start: &Item) -> Result<Vec<u8>, AwsError> {
        let bad =
            || validation("The provided starting key is invalid: The provided key element does not match the schema");
        let mut wanted: Vec<&str> = self.table.key.names();
        if let Some(i) = self.index {
            wanted.extend(i.key.names().into_iter().filter(|n| !wanted.contains(n)).collect::<Vec<_>>());
        }
        if start.len() != wanted.len() || wanted.iter().any(|n| !start.contains_key(*n)) {
            return Err(bad());
        }
        let base = self.table.key.elements(start).ok_or_else(bad)?;
        let mut parts = self.prefix();
        if let Some(i) = self.index {
            parts.extend(i.key.elements(start).ok_or_else(bad)?);
        }
        parts.extend(base);
        Ok(key::encode(&parts))
    }

    /// The key attributes a LastEvaluatedKey carries for `item`.
    fn last_key(&self, item: &Item) -> Item {
        let mut out = self.table.key.key_of(item).unwrap_or_default();
        if let Some(i) = self.index {
            out.extend(i.key.key_of(item).unwrap_or_default());
        }
        out
    }
}

/// Which attributes a page answers with.
enum Select {
    All,
    Projected,
    Paths(Vec<Path>),
    Count,
}

struct Page<'a> {
    source: Source<'a>,
    range: KeyRange,
    direction: Direction,
    limit: Option<usize>,
    filter: Option<Cond>,
    select: Select,
    segment: Option<(u64, u64)>,
    /// For LSI reads of attributes the index does not hold: the table's items are read.
    fetch_base: bool,
}

struct PageResult {
    items: Vec<Item>,
    count: usize,
    scanned: usize,
    last: Option<Item>,
    bytes: usize,
}

fn read_page(view: &dyn ReadView, page: Page) -> Result<PageResult, AwsError> {
    let mut result = PageResult { items: Vec::new(), count: 0, scanned: 0, last: None, bytes: 0 };
    let mut range = page.range.clone();
    loop {
        let want = page.limit.map_or(BATCH, |l| (l - result.scanned).min(BATCH));
        let batch = view.scan(table::KEYSPACE, &range, page.direction, want)?;
        let exhausted = batch.len() < want;
        for (k, bytes) in &batch {
            match page.direction {
                Direction::Forward => range.start = Bound::Excluded(k.clone()),
                Direction::Reverse => range.end = Bound::Excluded(k.clone()),
            }
            let mut item = table::decode_item(bytes)?;
            if let Some((segment, total)) = page.segment {
                let hash_name = &page.source.schema().hash.name;
                let element = item.get(hash_name).and_then(table::element);
                if element.map(|e| segment_of(&e, total)) != Some(segment) {
                    continue;
                }
            }
            result.scanned += 1;
            result.bytes += item_size(&item);
            if page.fetch_base
                && let Some(base) = page.source.table.key.elements(&item)
                && let Some(full) = table::get_item(view, page.source.table, &base)?
            {
                item = full;
            }
            let stop = page.limit.is_some_and(|l| result.scanned >= l) || result.bytes >= PAGE_BYTES;
            if stop {
                result.last = Some(page.source.last_key(&item));
            }
            if page.filter.as_ref().is_none_or(|f| expr::evaluate(f, &item)) {
                result.count += 1;
                match &page.select {
                    Select::Count => {}
                    Select::All | Select::Projected => result.items.push(item),
                    Select::Paths(paths) => result.items.push(expr::project(paths, &item)),
                }
            }
            if stop {
                return Ok(result);
            }
        }
        if exhausted {
            return Ok(result);
        }
    }
}

/// The parallel-scan segment of a partition key: a stable hash, so segments split the
/// table between them, each item in exactly one.
fn segment_of(partition: &Element, total: u64) -> u64 {
    let bytes = key::encode(std::slice::from_ref(partition));
    let mut h = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3));
    // FNV's low bits barely vary between similar keys; splitmix64's finalizer spreads them.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d049bb133111eb);
    (h ^ (h >> 31)) % total
}

/// `Limit` must be positive. Query words the error itself (the front end leaves Query's
/// `Limit` to it, see brume-protocol's `OWN_CHECKS`); Scan's is the front end's.
fn check_limit(limit: Option<i64>, query: bool) -> Result<Option<usize>, AwsError> {
    match limit {
        Some(l) if l < 1 && query => Err(validation(
            "1 validation error detected: Value at 'Limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        )),
        l => Ok(l.map(|l| l as usize)),
    }
}

/// The index named by the request, and whether its reads must go to the table.
fn resolve_index<'a>(table: &'a Table, name: Option<&str>, consistent: bool) -> Result<Option<&'a Index>, AwsError> {
    let Some(name) = name else {
        return Ok(None);
    };
    let index =
        table.index(name).ok_or_else(|| validation(format!("The table does not have the specified index: {name}")))?;
    if consistent && table.is_gsi(name) {
        return Err(validation("Consistent reads are not supported on global secondary indexes"));
    }
    Ok(Some(index))
}

/// Decides what a page returns from `Select` and `ProjectionExpression`.
fn selection(
    table: &Table,
    index: Option<&Index>,
    select: Option<&str>,
    projection: Option<Vec<Path>>,
) -> Result<(Select, bool), AwsError> {
    let projected_all = index.is_none_or(|i| i.projection.ty == "ALL");
    let lsi = index.is_some_and(|i| !table.is_gsi(&i.name));
    let select = match (select, projection) {
        (Some("COUNT"), None) => Select::Count,
        (Some("SPECIFIC_ATTRIBUTES") | None, Some(paths)) => Select::Paths(paths),
        (Some(other), Some(_)) => {
            return Err(validation(format!("Cannot specify the ProjectionExpression when choosing to get {other}")));
        }
        (Some("SPECIFIC_ATTRIBUTES"), None) => {
            return Err(validation(
                "1 validation error detected: SPECIFIC_ATTRIBUTES requires ProjectionExpression or AttributesToGet",
            ));
        }
        // DynamoDB says "Querying" for Scans too.
        (Some("ALL_PROJECTED_ATTRIBUTES"), None) if index.is_none() => {
            return Err(invalid("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"));
        }
        (Some("ALL_PROJECTED_ATTRIBUTES"), None) => Select::Projected,
        (Some("ALL_ATTRIBUTES"), None) if !projected_all && !lsi => {
            let name = index.map(|i| i.name.as_str()).unwrap_or_default();
            return Err(invalid(&format!(
                "Select type ALL_ATTRIBUTES is not supported for global secondary index {name} because its projection type is not ALL"
            )));
        }
        (Some("ALL_ATTRIBUTES"), None) => Select::All,
        (None, None) if index.is_some() => Select::Projected,
        (None, None) => Select::All,
        (Some(other), None) => {
            return Err(constraint(
                other,
                "select",
                "Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]",
            ));
        }
    };
    // An LSI answers for attributes it does not hold by reading the table, as DynamoDB does.
    let fetch_base = lsi && !projected_all && matches!(select, Select::All | Select::Paths(_));
    Ok((select, fetch_base))
}

/// A key condition taken apart: the partition key's value and the sort key's condition.
struct KeyCondition {
    hash: Value,
    range: Option<Cond>,
}

fn key_not_supported() -> AwsError {
    validation("Query key condition not supported")
}

fn key_condition(cond: Cond, schema: &KeySchema) -> Result<KeyCondition, AwsError> {
    fn flatten(c: Cond, out: &mut Vec<Cond>) -> Result<(), AwsError> {
        match c {
            Cond::And(a, b) => {
                flatten(*a, out)?;
                flatten(*b, out)
            }
            Cond::Or(..) => Err(crate::expr::invalid_expression(
                Kind::KeyCondition,
                "Invalid operator used in KeyConditionExpression: OR",
            )),
            Cond::Not(..) => Err(crate::expr::invalid_expression(
                Kind::KeyCondition,
                "Invalid operator used in KeyConditionExpression: NOT",
            )),
            Cond::In(..) => Err(crate::expr::invalid_expression(
                Kind::KeyCondition,
                "Invalid operator used in KeyConditionExpression: IN",
            )),
            Cond::Cmp(Cmp::Ne, ..) => Err(crate::expr::invalid_expression(
                Kind::KeyCondition,
                "Invalid operator used in KeyConditionExpression: <>",
            )),
            Cond::Exists(_) | Cond::NotExists(_) | Cond::Type(..) | Cond::Contains(..) => {
                let name = match &c {
                    Cond::Exists(_) => "attribute_exists",
                    Cond::NotExists(_) => "attribute_not_exists",
                    Cond::Type(..) => "attribute_type",
                    _ => "contains",
                };
                Err(crate::expr::invalid_expression(
                    Kind::KeyCondition,
                    format!("Invalid operator used in KeyConditionExpression: {name}"),
                ))
            }
            other => {
                out.push(other);
                Ok(())
            }
        }
    }
    let mut parts = Vec::new();
    flatten(cond, &mut parts)?;
    let mut hash = None;
    let mut range = None;
    for part in parts {
        // `:lo <= sk` is `sk >= :lo`.
        let part = match part {
            Cond::Cmp(cmp, v @ Operand::Value(_), p @ Operand::Path(_)) => Cond::Cmp(cmp.reversed(), p, v),
            other => other,
        };
        let op = match &part {
            Cond::Cmp(_, op, _) | Cond::Between(op, ..) | Cond::BeginsWith(op, _) => op,
            _ => return Err(key_not_supported()),
        };
        let attribute = match op {
            Operand::Path(Path(steps)) if steps.len() > 1 => {
                return Err(crate::expr::invalid_expression(
                    Kind::KeyCondition,
                    "KeyConditionExpressions cannot have conditions on nested attributes",
                ));
            }
            Operand::Path(Path(steps)) => match &steps[0] {
                Step::Key(k) => k.clone(),
                Step::Index(_) => return Err(key_not_supported()),
            },
            _ => return Err(key_not_supported()),
        };
        if attribute == schema.hash.name {
            if hash.is_some() {
                return Err(crate::expr::invalid_expression(
                    Kind::KeyCondition,
                    "KeyConditionExpressions must only contain one condition per key",
                ));
            }
            let Cond::Cmp(Cmp::Eq, _, Operand::Value(v)) = part else {
                return Err(key_not_supported());
            };
            check_key_type(&v, &schema.hash)?;
            hash = Some(v);
        } else if schema.range.as_ref().is_some_and(|r| r.name == attribute) {
            if range.is_some() {
                return Err(crate::expr::invalid_expression(
                    Kind::KeyCondition,
                    "KeyConditionExpressions must only contain one condition per key",
                ));
            }
            let attr = schema.range.as_ref().expect("checked above");
            match &part {
                Cond::Cmp(_, _, Operand::Value(v)) | Cond::BeginsWith(_, Operand::Value(v)) => check_key_type(v, attr)?,
                Cond::Between(_, Operand::Value(lo), Operand::Value(hi)) => {
                    check_key_type(lo, attr)?;
                    check_key_type(hi, attr)?;
                }
                _ => return Err(key_not_supported()),
            }
            range = Some(part);
        } else {
            return Err(validation(format!(
                "Query condition missed key schema element: {}",
                missing_name(schema, &hash)
            )));
        }
    }
    let hash =
        hash.ok_or_else(|| validation(format!("Query condition missed key schema element: {}", schema.hash.name)))?;
    Ok(KeyCondition { hash, range })
}

fn missing_name(schema: &KeySchema, hash: &Option<Value>) -> String {
    match (hash, &schema.range) {
        (Some(_), Some(r)) => r.name.clone(),
        _ => schema.hash.name.clone(),
    }
}

fn check_key_type(v: &Value, attr: &KeyAttr) -> Result<(), AwsError> {
    if v.type_code() != attr.ty {
        return Err(invalid("Condition parameter type does not match schema type"));
    }
    Ok(())
}

/// The store range a key condition selects under `prefix`.
fn key_range(prefix: Vec<Element>, kc: &KeyCondition) -> KeyRange {
    let mut partition = prefix;
    partition.push(table::element(&kc.hash).expect("checked key type"));
    let whole = KeyRange::prefix(&key::encode(&partition));
    let at = |v: &Value| {
        let mut parts = partition.clone();
        parts.push(table::element(v).expect("checked key type"));
        key::encode(&parts)
    };
    let Some(range) = &kc.range else {
        return whole;
    };
    match range {
        Cond::Cmp(cmp, _, Operand::Value(v)) => {
            let exact = KeyRange::prefix(&at(v));
            match cmp {
                Cmp::Eq => exact,
                Cmp::Lt => KeyRange { start: whole.start, end: Bound::Excluded(at(v)) },
                Cmp::Le => KeyRange { start: whole.start, end: exact.end },
                Cmp::Gt => KeyRange { start: bound_after(exact.end), end: whole.end },
                _ => KeyRange { start: Bound::Included(at(v)), end: whole.end },
            }
        }
        Cond::Between(_, Operand::Value(lo), Operand::Value(hi)) => {
            KeyRange { start: Bound::Included(at(lo)), end: KeyRange::prefix(&at(hi)).end }
        }
        Cond::BeginsWith(_, Operand::Value(v)) => {
            // The encoding of a string or binary ends with a terminator byte; without it,
            // it is a byte prefix of the encoding of every value that starts with it.
            let mut encoded = at(v);
            encoded.pop();
            KeyRange::prefix(&encoded)
        }
        _ => whole,
    }
}

fn bound_after(end: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match end {
        Bound::Excluded(k) => Bound::Included(k),
        other => other,
    }
}

/// Narrows `range` to what comes after `start` in the scan's direction (a start outside
/// the range leaves it whole on that side).
fn after(mut range: KeyRange, start: Vec<u8>, direction: Direction) -> KeyRange {
    let within = |bound: &Bound<Vec<u8>>, beyond: fn(&[u8], &[u8]) -> bool| match bound {
        Bound::Included(b) | Bound::Excluded(b) => !beyond(&start, b),
        Bound::Unbounded => true,
    };
    match direction {
        Direction::Forward if within(&range.start, |s, b| s < b) => range.start = Bound::Excluded(start),
        Direction::Reverse if within(&range.end, |s, b| s > b) => range.end = Bound::Excluded(start),
        _ => {}
    }
    range
}

/// The page as the response: items (unless only counted), counts, where to resume, and
/// the read units, charged to the index when one was read.
fn answer(
    result: PageResult,
    select_count: bool,
    mode: Option<&str>,
    table: &Table,
    index: Option<&str>,
    consistent: bool,
) -> Json {
    let mut out = json!({ "Count": result.count, "ScannedCount": result.scanned });
    if !select_count {
        out["Items"] = serde_json::to_value(&result.items).unwrap_or_default();
    }
    if let Some(last) = result.last {
        out["LastEvaluatedKey"] = serde_json::to_value(last).unwrap_or_default();
    }
    if let Some(c) = read_consumed(table, index, result.bytes, consistent).report(mode, &table.name) {
        out["ConsumedCapacity"] = c;
    }
    out
}

/// The read units of `bytes` read, charged to the index when one was read.
pub fn read_consumed(table: &Table, index: Option<&str>, bytes: usize, consistent: bool) -> Consumed {
    let units = read_units(bytes, consistent);
    match index {
        Some(name) if table.is_gsi(name) => {
            Consumed { gsis: [(name.to_string(), units)].into(), ..Consumed::default() }
        }
        Some(name) => Consumed { lsis: [(name.to_string(), units)].into(), ..Consumed::default() },
        None => Consumed::table(units),
    }
}

/// A read planned by another front end (PartiQL's SELECT): a key condition as a
/// KeyConditionExpression parses to (a Query) or none (a Scan), with a filter and a
/// projection, run as Query and Scan run.
pub struct Read<'a> {
    pub table: &'a Table,
    pub index: Option<&'a Index>,
    pub key: Option<Cond>,
    pub filter: Option<Cond>,
    pub projection: Option<Vec<Path>>,
    pub limit: Option<usize>,
    pub start: Option<Item>,
    pub forward: bool,
}

/// One page of a [`Read`]: the items, where to resume, the items and bytes read.
pub struct ReadPage {
    pub items: Vec<Item>,
    pub last: Option<Item>,
    pub scanned: usize,
    pub bytes: usize,
}

pub fn read(view: &dyn ReadView, r: Read) -> Result<ReadPage, AwsError> {
    let source = Source { table: r.table, index: r.index };
    let mut range = match r.key {
        Some(cond) => key_range(source.prefix(), &key_condition(cond, source.schema())?),
        None => KeyRange::prefix(&key::encode(&source.prefix())),
    };
    let direction = if r.forward { Direction::Forward } else { Direction::Reverse };
    if let Some(start) = &r.start {
        range = after(range, source.position(start)?, direction);
    }
    let (select, fetch_base) = selection(r.table, r.index, None, r.projection)?;
    let page = Page { source, range, direction, limit: r.limit, filter: r.filter, select, segment: None, fetch_base };
    let result = read_page(view, page)?;
    Ok(ReadPage { items: result.items, last: result.last, scanned: result.scanned, bytes: result.bytes })
}

/// The legacy and expression forms of a read's filter and projection.
struct ReadParameters<'a> {
    filter_expression: Option<&'a str>,
    projection_expression: Option<&'a str>,
    key_condition_expression: Option<&'a str>,
    legacy_filter: Option<(&'static str, &'a Wire)>,
    key_conditions: Option<&'a Wire>,
    attributes_to_get: Option<&'a [String]>,
    conditional_operator: Option<&'a str>,
}

/// Parses a read's filter and projection, refusing a mix of legacy and expression
/// parameters.
fn parse_common(ph: &mut Placeholders, p: &ReadParameters) -> Result<(Option<Cond>, Option<Vec<Path>>), AwsError> {
    let (names, values) = ph.given();
    let filter_name = p.legacy_filter.map_or("QueryFilter", |(n, _)| n);
    legacy::check_mixing(
        &[
            ("KeyConditions", p.key_conditions.is_some()),
            (filter_name, p.legacy_filter.is_some()),
            ("AttributesToGet", p.attributes_to_get.is_some()),
            ("ConditionalOperator", p.conditional_operator.is_some()),
        ],
        &[
            ("KeyConditionExpression", p.key_condition_expression.is_some()),
            ("FilterExpression", p.filter_expression.is_some()),
            ("ProjectionExpression", p.projection_expression.is_some()),
            ("ExpressionAttributeNames", names),
            ("ExpressionAttributeValues", values),
        ],
    )?;
    let filter = match p.legacy_filter {
        Some((_, conditions)) => legacy::conditions(conditions, p.conditional_operator, false)?,
        None => p.filter_expression.map(|f| expr::parse_condition(Kind::Filter, f, ph)).transpose()?,
    };
    let projection = match p.attributes_to_get {
        Some(names) => Some(legacy::attributes_to_get(names)?),
        None => p.projection_expression.map(|e| expr::parse_projection(e, ph)).transpose()?,
    };
    Ok((filter, projection))
}

/// The legacy KeyConditions as the condition a key condition expression parses to; only
/// the operators a key can serve are allowed.
fn legacy_key_conditions(conditions: &Wire) -> Result<Cond, AwsError> {
    for spec in conditions.values() {
        let op = spec.get("ComparisonOperator").and_then(Json::as_str).unwrap_or_default();
        if !["EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN"].contains(&op) {
            return Err(validation("Attempted conditional constraint is not an indexable operation"));
        }
    }
    legacy::conditions(conditions, None, false)?.ok_or_else(|| validation("Conditions can be of length 1 or 2 only"))
}

impl Ddb {
    pub async fn query(self: Arc<Self>, ctx: RequestContext, input: QueryInput) -> Result<Json, AwsError> {
        let limit = check_limit(input.limit, QUERY)?;
        let consistent = input.consistent_read.unwrap_or(false);
        let mut ph = placeholders(input.expression_attribute_names, input.expression_attribute_values)?;
        let parameters = ReadParameters {
            filter_expression: input.filter_expression.as_deref(),
            projection_expression: input.projection_expression.as_deref(),
            key_condition_expression: input.key_condition_expression.as_deref(),
            legacy_filter: input.query_filter.as_ref().map(|f| ("QueryFilter", f)),
            key_conditions: input.key_conditions.as_ref(),
            attributes_to_get: input.attributes_to_get.as_deref(),
            conditional_operator: input.conditional_operator.as_deref(),
        };
        let (filter, projection) = parse_common(&mut ph, &parameters)?;
        let cond = match (&input.key_conditions, input.key_condition_expression.as_deref()) {
            (Some(conditions), _) => legacy_key_conditions(conditions)?,
            (None, Some(kce)) => expr::parse_condition(Kind::KeyCondition, kce, &mut ph)?,
            (None, None) => {
                return Err(validation(
                    "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
                ));
            }
        };
        ph.finish()?;
        let view = self.kv.snapshot()?;
        let table = table::load_table(&*view, &ctx.account, &ctx.region, table_name(&input.table_name))?
            .ok_or_else(resource_not_found)?;
        let index = resolve_index(&table, input.index_name.as_deref(), consistent)?;
        let source = Source { table: &table, index };
        let kc = key_condition(cond, source.schema())?;
        if let Some(f) = &filter {
            check_filter_keys(f, source.schema())?;
        }
        let (select, fetch_base) = selection(&table, index, input.select.as_deref(), projection)?;
        let count_only = matches!(select, Select::Count);
        let direction = if input.scan_index_forward.unwrap_or(true) { Direction::Forward } else { Direction::Reverse };
        let mut range = key_range(source.prefix(), &kc);
        if let Some(start) = &input.exclusive_start_key {
            range = after(range, source.position(&item_from_wire(start)?)?, direction);
        }
        let page = Page { source, range, direction, limit, filter, select, segment: None, fetch_base };
        let result = read_page(&*view, page)?;
        let mode = input.return_consumed_capacity.as_deref();
        Ok(answer(result, count_only, mode, &table, input.index_name.as_deref(), consistent))
    }

    pub async fn scan(self: Arc<Self>, ctx: RequestContext, input: ScanInput) -> Result<Json, AwsError> {
        let limit = check_limit(input.limit, !QUERY)?;
        let segment = match (input.segment, input.total_segments) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(validation(
                    "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
                ));
            }
            (None, Some(_)) => {
                return Err(validation(
                    "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
                ));
            }
            // The front end keeps TotalSegments within 1..=1,000,000 and Segment at 0 or more.
            (Some(s), Some(t)) => {
                if s >= t {
                    return Err(validation(format!(
                        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {t}"
                    )));
                }
                Some((s as u64, t as u64))
            }
        };
        let consistent = input.consistent_read.unwrap_or(false);
        let mut ph = placeholders(input.expression_attribute_names, input.expression_attribute_values)?;
        let parameters = ReadParameters {
            filter_expression: input.filter_expression.as_deref(),
            projection_expression: input.projection_expression.as_deref(),
            key_condition_expression: None,
            legacy_filter: input.scan_filter.as_ref().map(|f| ("ScanFilter", f)),
            key_conditions: None,
            attributes_to_get: input.attributes_to_get.as_deref(),
            conditional_operator: input.conditional_operator.as_deref(),
        };
        let (filter, projection) = parse_common(&mut ph, &parameters)?;
        if input.filter_expression.is_none() && input.projection_expression.is_none() {
            refuse_unusable(&ph, "FilterExpression is")?;
        }
        ph.finish()?;
        let view = self.kv.snapshot()?;
        let table = table::load_table(&*view, &ctx.account, &ctx.region, table_name(&input.table_name))?
            .ok_or_else(resource_not_found)?;
        let index = resolve_index(&table, input.index_name.as_deref(), consistent)?;
        let source = Source { table: &table, index };
        let (select, fetch_base) = selection(&table, index, input.select.as_deref(), projection)?;
        let count_only = matches!(select, Select::Count);
        let mut range = KeyRange::prefix(&key::encode(&source.prefix()));
        if let Some(start) = &input.exclusive_start_key {
            range = after(range, source.position(&item_from_wire(start)?)?, Direction::Forward);
        }
        let page = Page { source, range, direction: Direction::Forward, limit, filter, select, segment, fetch_base };
        let result = read_page(&*view, page)?;
        let mode = input.return_consumed_capacity.as_deref();
        Ok(answer(result, count_only, mode, &table, input.index_name.as_deref(), consistent))
    }
}

/// A Query's filter may not name the key attributes (the key condition is for those).
fn check_filter_keys(filter: &Cond, schema: &KeySchema) -> Result<(), AwsError> {
    let mut named = Vec::new();
    paths_of(filter, &mut named);
    match named.iter().find(|p| schema.names().contains(&p.head())) {
        Some(p) => Err(validation(format!(
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: {}",
            p.head()
        ))),
        None => Ok(()),
    }
}

fn paths_of<'a>(c: &'a Cond, out: &mut Vec<&'a Path>) {
    let operand = |o: &'a Operand, out: &mut Vec<&'a Path>| {
        if let Operand::Path(p) | Operand::Size(p) = o {
            out.push(p);
        }
    };
    match c {
        Cond::And(a, b) | Cond::Or(a, b) => {
            paths_of(a, out);
            paths_of(b, out);
        }
        Cond::Not(a) => paths_of(a, out),
        Cond::Exists(p) | Cond::NotExists(p) => out.push(p),
        Cond::Type(p, _) => out.push(p),
        Cond::Cmp(_, a, b) | Cond::BeginsWith(a, b) | Cond::Contains(a, b) => {
            operand(a, out);
            operand(b, out);
        }
        Cond::Between(a, b, c) => {
            operand(a, out);
            operand(b, out);
            operand(c, out);
        }
        Cond::In(a, list) => {
            operand(a, out);
            for o in list {
                operand(o, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> KeySchema {
        KeySchema {
            hash: KeyAttr { name: "pk".into(), ty: "S".into() },
            range: Some(KeyAttr { name: "sk".into(), ty: "N".into() }),
        }
    }

    fn check(src: &str, expected: Result<(), &str>) {
        let values = [
            (":p", Value::S("a".into())),
            (":n", Value::N(crate::number::Num::parse("1").unwrap())),
            (":s", Value::S("x".into())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut ph = Placeholders::new(None, Some(values)).unwrap();
        let cond = expr::parse_condition(Kind::KeyCondition, src, &mut ph).unwrap();
        assert_eq!(
            key_condition(cond, &schema()).map(|_| ()).map_err(|e| e.message),
            expected.map_err(str::to_string),
            "{src}"
        );
    }

    #[test]
    fn key_conditions_are_checked_against_the_schema() {
        check("pk = :p", Ok(()));
        check("pk = :p AND sk > :n", Ok(()));
        check("sk BETWEEN :n AND :n AND pk = :p", Ok(()));
        check("sk = :n", Err("Query condition missed key schema element: pk"));
        check("pk > :p", Err("Query key condition not supported"));
        check(
            "pk = :p OR sk = :n",
            Err("Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR"),
        );
        check(
            "pk = :n",
            Err("One or more parameter values were invalid: Condition parameter type does not match schema type"),
        );
        check("pk = :p AND colour = :n", Err("Query condition missed key schema element: sk"));
        check(
            "pk = :p AND pk = :p",
            Err("Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key"),
        );
        check(
            "pk = :p AND begins_with(sk, :s)",
            Err("One or more parameter values were invalid: Condition parameter type does not match schema type"),
        );
    }

    #[test]
    fn segments_partition_the_keys() {
        let mut counts = [0; 3];
        for i in 0..300 {
            counts[segment_of(&Element::String(format!("k{i}")), 3) as usize] += 1;
            let n = crate::number::Num::parse(&i.to_string()).unwrap().to_key();
            counts[segment_of(&Element::Number(n), 3) as usize] += 1;
        }
        assert!(counts.iter().all(|c| *c > 150), "{counts:?}");
    }
}
