//! DynamoDB's records in the `dynamodb` keyspace.
//!
//! - `t/<account>/<region>/<name>` → [`Table`]: the definition
//! - `i/<table id>/<partition key>[/<sort key>]` → an item (its wire JSON), so a partition
//!   is one prefix and its items come in sort-key order (numbers by value, binaries
//!   bytewise, strings by UTF-8 bytes)
//! - `x/<table id>/<index>/<index partition key>[/<index sort key>]/<table key…>` → the
//!   item's projection into a secondary index, written in the same transaction as the item
//! - `s/<table id>` → [`Stats`]: live item counts and sizes of the table and its indexes
//! - `e/<table id>/<expiry time>/<table key…>` → nothing: the items of a table with TTL
//!   enabled, by the time in their TTL attribute, so expiry is a range scan
//!
//! - `d/<table id>` → nothing: a dropped table (or deleted backup) whose records are still
//!   being deleted
//! - `st/…` and `r/…`: streams and their records (see [`crate::stream`])
//! - `b/…`, `k/…` and `rn/…`: backups, their items and restores in progress (see
//!   [`crate::backup`]); `h/…`: the history point-in-time recovery reads (see
//!   [`crate::pitr`])
//!
//! Tables are keyed by a random id as well as their name, so a table deleted and created
//! again never sees its predecessor's records.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::AwsError;
use brume_storage::key::{self, Element};
use brume_storage::{DecodeMemo, Direction, KeyRange, ReadView, StorageError, Txn};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::capacity::{Consumed, write_units};
use crate::error::{invalid, key_mismatch, validation};
use crate::global;
use crate::pitr;
use crate::policy::Policy;
use crate::stream::{self, Writer};
use crate::value::{Item, Value, item_size};

pub const KEYSPACE: &str = "dynamodb";

/// The largest partition and sort key values.
const MAX_HASH_KEY: usize = 2048;
const MAX_RANGE_KEY: usize = 1024;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KeyAttr {
    pub name: String,
    /// `S`, `N` or `B`.
    pub ty: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KeySchema {
    pub hash: KeyAttr,
    pub range: Option<KeyAttr>,
}

impl KeySchema {
    pub fn names(&self) -> Vec<&str> {
        let mut names = vec![self.hash.name.as_str()];
        names.extend(self.range.as_ref().map(|r| r.name.as_str()));
        names
    }

    pub fn describe(&self) -> Json {
        let mut out = vec![json!({"AttributeName": self.hash.name, "KeyType": "HASH"})];
        if let Some(r) = &self.range {
            out.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
        }
        Json::Array(out)
    }

    /// The key attributes of `item`, if it has all of them (index keys may be absent).
    pub fn key_of(&self, item: &Item) -> Option<Item> {
        let mut key = Item::new();
        for name in self.names() {
            key.insert(name.to_string(), item.get(name)?.clone());
        }
        Some(key)
    }

    /// The key elements of `item` when it belongs in an index with this schema: every key
    /// attribute present with the declared type (sparse indexes skip the others).
    pub fn elements(&self, item: &Item) -> Option<Vec<Element>> {
        let mut out = Vec::with_capacity(2);
        for attr in std::iter::once(&self.hash).chain(self.range.as_ref()) {
            let v = item.get(&attr.name)?;
            if v.type_code() != attr.ty {
                return None;
            }
            out.push(element(v)?);
        }
        Some(out)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Projection {
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub ty: String,
    pub non_key: Vec<String>,
}

impl Projection {
    pub fn describe(&self) -> Json {
        let mut out = json!({"ProjectionType": self.ty});
        if self.ty == "INCLUDE" {
            out["NonKeyAttributes"] = json!(self.non_key);
        }
        out
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub key: KeySchema,
    pub projection: Projection,
    pub read: u64,
    pub write: u64,
}

impl Index {
    /// What of `item` the index keeps: everything, or the table's and index's keys plus
    /// the included attributes.
    pub fn project(&self, table_key: &KeySchema, item: &Item) -> Item {
        if self.projection.ty == "ALL" {
            return item.clone();
        }
        item.iter()
            .filter(|(k, _)| {
                table_key.names().contains(&k.as_str())
                    || self.key.names().contains(&k.as_str())
                    || self.projection.non_key.contains(k)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Table {
    pub account: String,
    pub region: String,
    pub name: String,
    pub id: String,
    pub created: f64,
    pub attributes: Vec<KeyAttr>,
    pub key: KeySchema,
    pub billing: String,
    pub read: u64,
    pub write: u64,
    pub billing_switched: Option<f64>,
    pub gsis: Vec<Index>,
    pub lsis: Vec<Index>,
    pub stream_view: Option<String>,
    pub stream_label: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub deletion_protection: bool,
    pub ttl_attribute: Option<String>,
    pub sse: Option<Json>,
    pub table_class: Option<String>,
    /// Point-in-time recovery: since when (epoch seconds) and for how many days.
    #[serde(default)]
    pub pitr: Option<(f64, u64)>,
    /// OnDemandThroughput as given (request-unit caps), recorded and described.
    #[serde(default)]
    pub on_demand: Option<Json>,
    /// The RestoreSummary of a table restored from a backup.
    #[serde(default)]
    pub restored: Option<Json>,
    /// The resource-based policies of the table and of its stream.
    #[serde(default)]
    pub policy: Option<Policy>,
    #[serde(default)]
    pub stream_policy: Option<Policy>,
    /// The other replicas' regions of the global table (version 2019.11.21, the only one
    /// Brume makes) this table is a replica of.
    #[serde(default)]
    pub replicas: Vec<String>,
    /// When this replica last was the source of a new one.
    #[serde(default)]
    pub sourced_replica: Option<f64>,
}

/// Live counts: the table's, then each index's, by name.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Stats {
    pub items: i64,
    pub bytes: i64,
    pub indexes: BTreeMap<String, (i64, i64)>,
    /// The sequence number of the table's last stream record.
    #[serde(default)]
    pub stream_seq: u64,
}

impl Table {
    pub fn arn(&self) -> String {
        format!("arn:aws:dynamodb:{}:{}:table/{}", self.region, self.account, self.name)
    }

    pub fn index(&self, name: &str) -> Option<&Index> {
        self.gsis.iter().chain(&self.lsis).find(|i| i.name == name)
    }

    pub fn is_gsi(&self, name: &str) -> bool {
        self.gsis.iter().any(|i| i.name == name)
    }

    pub fn stream_arn(&self) -> Option<String> {
        self.stream_label.as_ref().map(|l| format!("{}/stream/{l}", self.arn()))
    }

    /// The item's key, checked against the schema: exactly the key attributes, of the
    /// declared types, non-empty and within the size limits.
    pub fn check_key(&self, key: &Item) -> Result<Vec<Element>, AwsError> {
        if key.len() != self.key.names().len() {
            return Err(key_mismatch());
        }
        let mut out = Vec::with_capacity(2);
        for (attr, limit) in
            std::iter::once((&self.key.hash, MAX_HASH_KEY)).chain(self.key.range.as_ref().map(|r| (r, MAX_RANGE_KEY)))
        {
            let v = key.get(&attr.name).ok_or_else(key_mismatch)?;
            if v.type_code() != attr.ty {
                return Err(key_mismatch());
            }
            out.push(self.key_element(attr, v, limit)?);
        }
        Ok(out)
    }

    /// The key of an item being written: every key attribute present with its type.
    pub fn check_item_key(&self, item: &Item) -> Result<Vec<Element>, AwsError> {
        let mut out = Vec::with_capacity(2);
        for (attr, limit) in
            std::iter::once((&self.key.hash, MAX_HASH_KEY)).chain(self.key.range.as_ref().map(|r| (r, MAX_RANGE_KEY)))
        {
            let v =
                item.get(&attr.name).ok_or_else(|| invalid(&format!("Missing the key {} in the item", attr.name)))?;
            if v.type_code() != attr.ty {
                return Err(invalid(&format!(
                    "Type mismatch for key {} expected: {} actual: {}",
                    attr.name,
                    attr.ty,
                    v.type_code()
                )));
            }
            out.push(self.key_element(attr, v, limit)?);
        }
        Ok(out)
    }

    fn key_element(&self, attr: &KeyAttr, v: &Value, limit: usize) -> Result<Element, AwsError> {
        let size = v.size();
        if size == 0 {
            return Err(empty_key(v, &attr.name));
        }
        if size > limit {
            return Err(invalid(&if limit == MAX_HASH_KEY {
                format!("Size of hashkey has exceeded the maximum size limit of{MAX_HASH_KEY} bytes")
            } else {
                format!("Aggregated size of all range keys has exceeded the size limit of {MAX_RANGE_KEY} bytes")
            }));
        }
        Ok(element(v).expect("key types are S, N or B"))
    }

    /// The secondary indexes in name order: when an attribute keys several, DynamoDB's
    /// errors name the first.
    fn indexes_by_name(&self) -> Vec<&Index> {
        let mut indexes: Vec<&Index> = self.gsis.iter().chain(&self.lsis).collect();
        indexes.sort_by(|a, b| a.name.cmp(&b.name));
        indexes
    }

    /// Index key attributes an item carries must not be empty and must have the declared
    /// type (they may be absent, which leaves the item out of the index).
    pub fn check_index_keys(&self, item: &Item, updating: bool) -> Result<(), AwsError> {
        if let Some(e) = self.empty_index_key(item, updating) {
            return Err(e);
        }
        for index in self.indexes_by_name() {
            for attr in std::iter::once(&index.key.hash).chain(index.key.range.as_ref()) {
                match item.get(&attr.name) {
                    Some(v) if v.type_code() != attr.ty => {
                        return Err(invalid(&format!(
                            "Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                            attr.name,
                            attr.ty,
                            v.type_code(),
                            index.name
                        )));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn empty_index_key(&self, item: &Item, updating: bool) -> Option<AwsError> {
        for index in self.indexes_by_name() {
            for attr in std::iter::once(&index.key.hash).chain(index.key.range.as_ref()) {
                let Some(v @ (Value::S(_) | Value::B(_))) = item.get(&attr.name) else {
                    continue;
                };
                if v.size() > 0 {
                    continue;
                }
                let what = if matches!(v, Value::B(_)) { "binary" } else { "string" };
                return Some(validation(if updating {
                    format!(
                        "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty {what} value."
                    )
                } else {
                    format!(
                        "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {what} value. IndexName: {}, IndexKey: {}",
                        index.name, attr.name
                    )
                }));
            }
        }
        None
    }

    /// The error for a key attribute of `item` (the table's or an index's) holding an
    /// empty string or binary: DynamoDB raises it before anything else, even inside
    /// transactions.
    pub fn empty_key_error(&self, item: &Item, updating: bool) -> Option<AwsError> {
        for attr in std::iter::once(&self.key.hash).chain(self.key.range.as_ref()) {
            if let Some(v @ (Value::S(_) | Value::B(_))) = item.get(&attr.name)
                && v.size() == 0
            {
                return Some(empty_key(v, &attr.name));
            }
        }
        self.empty_index_key(item, updating)
    }
}

fn empty_key(v: &Value, name: &str) -> AwsError {
    let what = if matches!(v, Value::B(_)) { "binary" } else { "string" };
    validation(format!(
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {what} value. Key: {name}"
    ))
}

/// The key element of a key attribute value.
pub fn element(v: &Value) -> Option<Element> {
    Some(match v {
        Value::S(s) => Element::String(s.clone()),
        Value::N(n) => Element::Number(n.to_key()),
        Value::B(b) => Element::Bytes(b.clone()),
        _ => return None,
    })
}

pub fn table_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    key::encode_strings_then(&["t", account, region, name], &[])
}

pub fn tables_of(account: &str, region: &str) -> KeyRange {
    KeyRange::prefix(&key::encode(&["t".into(), account.into(), region.into()]))
}

pub fn item_key(table: &Table, key: &[Element]) -> Vec<u8> {
    key::encode_strings_then(&["i", &table.id], key)
}

pub fn items_of(table: &Table) -> KeyRange {
    KeyRange::prefix(&key::encode(&["i".into(), table.id.as_str().into()]))
}

pub fn index_prefix(table: &Table, index: &str) -> Vec<Element> {
    vec!["x".into(), table.id.as_str().into(), index.into()]
}

fn index_entry_key(table: &Table, index: &Index, item: &Item, base: &[Element]) -> Option<Vec<u8>> {
    let mut parts = index_prefix(table, &index.name);
    parts.extend(index.key.elements(item)?);
    parts.extend(base.iter().cloned());
    Some(key::encode(&parts))
}

fn stats_key(table: &Table) -> Vec<u8> {
    key::encode_strings_then(&["s", &table.id], &[])
}

pub fn load_table(
    view: &dyn ReadView,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<Arc<Table>>, AwsError> {
    let key = table_key(account, region, name);
    match view.get(KEYSPACE, &key)? {
        Some(bytes) => DECODED.decode(&key, &bytes, |b| serde_json::from_slice(b).map_err(|e| corrupt(&e))).map(Some),
        None => Ok(None),
    }
}

/// Every item request reads its table's definition, and decoding it from JSON cost more
/// than the rest of a GetItem's own work; the definitions last decoded are kept with the
/// bytes they came from.
static DECODED: DecodeMemo<Table> = DecodeMemo::new(1024);

/// Every table of every account and region, for the background jobs; a definition that
/// does not read is logged and passed over, so that it does not stop the others' jobs.
pub fn all(view: &dyn ReadView) -> Result<Vec<Table>, AwsError> {
    Ok(view
        .scan(KEYSPACE, &KeyRange::prefix(&key::encode(&["t".into()])), Direction::Forward, usize::MAX)?
        .into_iter()
        .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).map_err(|e| corrupt(&e)).ok())
        .collect())
}

pub fn save_table(txn: &mut dyn Txn, table: &Table) -> Result<(), AwsError> {
    let bytes = serde_json::to_vec(table).map_err(|e| corrupt(&e))?;
    txn.put(KEYSPACE, &table_key(&table.account, &table.region, &table.name), &bytes)?;
    Ok(())
}

pub fn load_stats(view: &dyn ReadView, table: &Table) -> Result<Stats, AwsError> {
    match view.get(KEYSPACE, &stats_key(table))? {
        Some(bytes) => Stats::decode(&bytes),
        None => Ok(Stats::default()),
    }
}

impl Stats {
    /// Every item write reads and rewrites its table's counts, so they are stored as a
    /// tuple of integers — items, bytes, stream sequence, then name, items and bytes of
    /// each index — rather than as JSON, which cost the writer more than the item's own
    /// record. Records written as JSON before (they start with `{`, which no tuple does)
    /// still read.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        for n in [self.items, self.bytes] {
            key::encode_into(&mut out, &Element::Int(n.into()));
        }
        key::encode_into(&mut out, &Element::Int(self.stream_seq.into()));
        for (name, (items, bytes)) in &self.indexes {
            key::encode_into(&mut out, &Element::String(name.clone()));
            key::encode_into(&mut out, &Element::Int((*items).into()));
            key::encode_into(&mut out, &Element::Int((*bytes).into()));
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Stats, AwsError> {
        if bytes.first() == Some(&b'{') {
            return serde_json::from_slice(bytes).map_err(|e| corrupt(&e));
        }
        let malformed = || corrupt(&"malformed table counts");
        let elements = key::decode(bytes).map_err(|e| corrupt(&e))?;
        let int = |e: &Element| match e {
            Element::Int(n) => Ok(*n),
            _ => Err(malformed()),
        };
        let count = |e: &Element| int(e).and_then(|n| i64::try_from(n).map_err(|_| malformed()));
        let [items, bytes, seq, indexes @ ..] = elements.as_slice() else {
            return Err(malformed());
        };
        let mut stats = Stats {
            items: count(items)?,
            bytes: count(bytes)?,
            indexes: BTreeMap::new(),
            stream_seq: u64::try_from(int(seq)?).map_err(|_| malformed())?,
        };
        for index in indexes.chunks(3) {
            let [Element::String(name), items, bytes] = index else {
                return Err(malformed());
            };
            stats.indexes.insert(name.clone(), (count(items)?, count(bytes)?));
        }
        Ok(stats)
    }
}

/// A stored record that does not decode: logged, and answered as an internal failure.
pub fn corrupt(e: &dyn std::fmt::Display) -> AwsError {
    tracing::error!(error = %e, "unreadable DynamoDB record");
    AwsError::internal()
}

pub fn decode_item(bytes: &[u8]) -> Result<Item, AwsError> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(&e))
}

pub fn encode_item(item: &Item) -> Vec<u8> {
    // Sized for the item's JSON (its content, plus quotes and type tags for each
    // attribute), so that writing it seldom grows the buffer.
    let mut out = Vec::with_capacity(item_size(item) + 16 * item.len() + 2);
    serde_json::to_writer(&mut out, item).expect("items serialize");
    out
}

pub fn get_item(view: &dyn ReadView, table: &Table, key: &[Element]) -> Result<Option<Item>, AwsError> {
    view.get(KEYSPACE, &item_key(table, key))?.map(|b| decode_item(&b)).transpose()
}

/// The bytes of an item collection: the items of one partition and their local index
/// entries.
pub fn collection_size(view: &dyn ReadView, table: &Table, partition: &Value) -> Result<usize, AwsError> {
    let Some(element) = element(partition) else {
        return Ok(0);
    };
    let mut total = 0;
    let mut ranges = vec![KeyRange::prefix(&key::encode(&["i".into(), table.id.as_str().into(), element.clone()]))];
    for lsi in &table.lsis {
        let mut prefix = index_prefix(table, &lsi.name);
        prefix.push(element.clone());
        ranges.push(KeyRange::prefix(&key::encode(&prefix)));
    }
    for range in ranges {
        for (_, bytes) in view.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)? {
            total += item_size(&decode_item(&bytes)?);
        }
    }
    Ok(total)
}

/// Replaces the item at `key` (`old` is what is there now) with `new`, or deletes it when
/// `new` is `None`, keeping every index and the counts in step. Answers the write's
/// capacity units: the table's, and each index's whose content the write changed (an
/// entry moved to another index key costs its delete and its insert). The change goes to
/// the table's stream too, when it has one.
pub fn write_item(
    txn: &mut dyn Txn,
    table: &Table,
    key: &[Element],
    old: Option<&Item>,
    new: Option<&Item>,
) -> Result<Consumed, AwsError> {
    write_item_by(txn, table, key, old, new, Writer::Client)
}

/// [`write_item`] on behalf of `writer`, whom the stream record names. A replica of a
/// global table passes the write on to the others in the same transaction.
pub fn write_item_by(
    txn: &mut dyn Txn,
    table: &Table,
    key: &[Element],
    old: Option<&Item>,
    new: Option<&Item>,
    writer: Writer,
) -> Result<Consumed, AwsError> {
    let consumed = write_here(txn, table, key, old, new, writer)?;
    if !table.replicas.is_empty() {
        global::replicate(txn, table, key, new)?;
    }
    Ok(consumed)
}

/// [`write_item_by`] in `table` alone.
pub fn write_here(
    txn: &mut dyn Txn,
    table: &Table,
    key: &[Element],
    old: Option<&Item>,
    new: Option<&Item>,
    writer: Writer,
) -> Result<Consumed, AwsError> {
    let k = item_key(table, key);
    match new {
        Some(item) => txn.put(KEYSPACE, &k, &encode_item(item))?,
        None => txn.delete(KEYSPACE, &k)?,
    }
    let loaded = load_stats(txn, table)?;
    let mut stats = loaded.clone();
    let size = |i: Option<&Item>| i.map_or(0, item_size);
    stats.items += i64::from(new.is_some()) - i64::from(old.is_some());
    stats.bytes += size(new) as i64 - size(old) as i64;
    let mut consumed = Consumed::table(write_units(size(new).max(size(old))));
    for index in table.gsis.iter().chain(&table.lsis) {
        let entry_of = |item: Option<&Item>| {
            let item = item?;
            Some((index_entry_key(table, index, item, key)?, index.project(&table.key, item)))
        };
        let (before, after) = (entry_of(old), entry_of(new));
        let units = match (&before, &after) {
            (None, None) => continue,
            (Some((bk, b)), Some((ak, a))) if bk == ak && b == a => continue,
            (Some((bk, b)), Some((ak, a))) if bk == ak => write_units(item_size(b).max(item_size(a))),
            (b, a) => b.iter().chain(a).map(|(_, p)| write_units(item_size(p))).sum(),
        };
        let counts = stats.indexes.entry(index.name.clone()).or_default();
        if let Some((bk, b)) = &before {
            txn.delete(KEYSPACE, bk)?;
            counts.0 -= 1;
            counts.1 -= item_size(b) as i64;
        }
        if let Some((ak, a)) = &after {
            txn.put(KEYSPACE, ak, &encode_item(a))?;
            counts.0 += 1;
            counts.1 += item_size(a) as i64;
        }
        let arms = if table.is_gsi(&index.name) { &mut consumed.gsis } else { &mut consumed.lsis };
        arms.insert(index.name.clone(), units);
    }
    let (before, after) = (old.and_then(|o| expiry_key(table, o, key)), new.and_then(|n| expiry_key(table, n, key)));
    if before != after {
        if let Some(k) = before {
            txn.delete(KEYSPACE, &k)?;
        }
        if let Some(k) = after {
            txn.put(KEYSPACE, &k, &[])?;
        }
    }
    stream::emit(txn, table, &mut stats.stream_seq, old, new, writer)?;
    if table.pitr.is_some() {
        pitr::record(txn, table, key, old)?;
    }
    // An overwrite that keeps the item's size (a flag or a counter changed) leaves the
    // counts as they were: rewriting them would be a second record for the writer to
    // insert and log on every such write.
    if stats != loaded {
        save_stats(txn, table, &stats)?;
    }
    Ok(consumed)
}

/// Where an item waits for its expiry: under its TTL time, so the sweep reads only the
/// items whose time has come. Only items whose TTL attribute is a number have one.
fn expiry_key(table: &Table, item: &Item, base: &[Element]) -> Option<Vec<u8>> {
    let Value::N(at) = item.get(table.ttl_attribute.as_deref()?)? else {
        return None;
    };
    let mut parts = expiries_prefix(table);
    parts.push(Element::Number(at.to_key()));
    parts.extend(base.iter().cloned());
    Some(key::encode(&parts))
}

pub fn expiries_prefix(table: &Table) -> Vec<Element> {
    vec!["e".into(), table.id.as_str().into()]
}

/// Records every item's expiry (TTL just enabled), or forgets them all (`table` without a
/// TTL attribute: just disabled).
pub fn reindex_expiries(txn: &mut dyn Txn, table: &Table) -> Result<(), AwsError> {
    delete_range(txn, &KeyRange::prefix(&key::encode(&expiries_prefix(table))))?;
    if table.ttl_attribute.is_none() {
        return Ok(());
    }
    for (k, bytes) in txn.scan(KEYSPACE, &items_of(table), Direction::Forward, usize::MAX)? {
        let base = key::decode(&k).map_err(|e| corrupt(&e))?.split_off(2);
        if let Some(e) = expiry_key(table, &decode_item(&bytes)?, &base) {
            txn.put(KEYSPACE, &e, &[])?;
        }
    }
    Ok(())
}

/// Builds index `index` from the table's items (a GSI added by UpdateTable).
pub fn backfill(txn: &mut dyn Txn, table: &Table, index: &Index) -> Result<(), AwsError> {
    let mut stats = load_stats(txn, table)?;
    let entry = stats.indexes.entry(index.name.clone()).or_default();
    for (k, bytes) in txn.scan(KEYSPACE, &items_of(table), Direction::Forward, usize::MAX)? {
        let item = decode_item(&bytes)?;
        let base = key::decode(&k).map_err(|e| corrupt(&e))?.split_off(2);
        if let Some(ik) = index_entry_key(table, index, &item, &base) {
            let projected = index.project(&table.key, &item);
            txn.put(KEYSPACE, &ik, &encode_item(&projected))?;
            entry.0 += 1;
            entry.1 += item_size(&projected) as i64;
        }
    }
    save_stats(txn, table, &stats)
}

/// Deletes index `name`'s entries and counts (a GSI removed by UpdateTable).
pub fn drop_index(txn: &mut dyn Txn, table: &Table, name: &str) -> Result<(), AwsError> {
    delete_range(txn, &KeyRange::prefix(&key::encode(&index_prefix(table, name))))?;
    let mut stats = load_stats(txn, table)?;
    stats.indexes.remove(name);
    save_stats(txn, table, &stats)
}

fn save_stats(txn: &mut dyn Txn, table: &Table, stats: &Stats) -> Result<(), AwsError> {
    txn.put(KEYSPACE, &stats_key(table), &stats.encode())?;
    Ok(())
}

/// Deletes every record under `range`.
pub fn delete_range(txn: &mut dyn Txn, range: &KeyRange) -> Result<(), StorageError> {
    for (k, _) in txn.scan(KEYSPACE, range, Direction::Forward, usize::MAX)? {
        txn.delete(KEYSPACE, &k)?;
    }
    Ok(())
}

/// Deletes a table: its definition and counts at once, in the caller's transaction; its
/// items, index entries and expiries are left under a tombstone for [`purge_step`], so
/// deleting a large table does not hold the store's writer. Its stream is disabled and
/// stays readable for a day, as DynamoDB keeps it.
pub fn drop_table(txn: &mut dyn Txn, table: &Table, at: f64) -> Result<(), AwsError> {
    stream::close(txn, table, at)?;
    txn.delete(KEYSPACE, &table_key(&table.account, &table.region, &table.name))?;
    txn.delete(KEYSPACE, &stats_key(table))?;
    bury(txn, &table.id)
}

/// Leaves the records under `id` (a dropped table's or a deleted backup's) to
/// [`purge_step`].
pub fn bury(txn: &mut dyn Txn, id: &str) -> Result<(), AwsError> {
    txn.put(KEYSPACE, &tombstone_key(id), &[])?;
    Ok(())
}

/// Takes back [`bury`] before any purge has begun (a backup made under a tombstone).
pub fn unbury(txn: &mut dyn Txn, id: &str) -> Result<(), AwsError> {
    txn.delete(KEYSPACE, &tombstone_key(id))?;
    Ok(())
}

fn tombstone_key(id: &str) -> Vec<u8> {
    key::encode(&["d".into(), id.into()])
}

/// The ids of dropped tables and deleted backups whose records are still being deleted.
pub fn tombstones(view: &dyn ReadView) -> Result<Vec<String>, AwsError> {
    let mut ids = Vec::new();
    for (k, _) in view.scan(KEYSPACE, &KeyRange::prefix(&key::encode(&["d".into()])), Direction::Forward, usize::MAX)? {
        if let Some(Element::String(id)) = key::decode(&k).map_err(|e| corrupt(&e))?.pop() {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Deletes up to `limit` records of dropped table or deleted backup `id`; answers true once
/// none is left (and the tombstone is gone too).
pub fn purge_step(txn: &mut dyn Txn, id: &str, limit: usize) -> Result<bool, AwsError> {
    let mut budget = limit;
    for kind in ["i", "x", "e", "k", "h"] {
        let range = KeyRange::prefix(&key::encode(&[kind.into(), id.into()]));
        for (k, _) in txn.scan(KEYSPACE, &range, Direction::Forward, budget)? {
            txn.delete(KEYSPACE, &k)?;
            budget -= 1;
        }
        if budget == 0 {
            return Ok(false);
        }
    }
    txn.delete(KEYSPACE, &tombstone_key(id))?;
    Ok(true)
}

/// The description DescribeTable (and the other control-plane answers) give.
pub fn describe(table: &Table, stats: &Stats, status: &str) -> Json {
    let throughput = |read: u64, write: u64| json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": read, "WriteCapacityUnits": write});
    let index = |i: &Index, global: bool| {
        let (count, bytes) = stats.indexes.get(&i.name).copied().unwrap_or_default();
        let mut out = json!({
            "IndexName": i.name,
            "KeySchema": i.key.describe(),
            "Projection": i.projection.describe(),
            "IndexSizeBytes": bytes,
            "ItemCount": count,
            "IndexArn": format!("{}/index/{}", table.arn(), i.name),
        });
        if global {
            out["IndexStatus"] = json!("ACTIVE");
            out["ProvisionedThroughput"] = throughput(i.read, i.write);
        }
        out
    };
    let mut out = json!({
        "AttributeDefinitions": table.attributes.iter().map(|a| json!({"AttributeName": a.name, "AttributeType": a.ty})).collect::<Vec<_>>(),
        "TableName": table.name,
        "KeySchema": table.key.describe(),
        "TableStatus": status,
        "CreationDateTime": table.created,
        "ProvisionedThroughput": throughput(table.read, table.write),
        "TableSizeBytes": stats.bytes,
        "ItemCount": stats.items,
        "TableArn": table.arn(),
        "TableId": table.id,
        "DeletionProtectionEnabled": table.deletion_protection,
    });
    if table.billing == "PAY_PER_REQUEST" || table.billing_switched.is_some() {
        let mut summary = json!({"BillingMode": table.billing});
        if let Some(at) = table.billing_switched {
            summary["LastUpdateToPayPerRequestDateTime"] = json!(at);
        }
        out["BillingModeSummary"] = summary;
    }
    if !table.gsis.is_empty() {
        out["GlobalSecondaryIndexes"] = Json::Array(table.gsis.iter().map(|i| index(i, true)).collect());
    }
    if !table.lsis.is_empty() {
        out["LocalSecondaryIndexes"] = Json::Array(table.lsis.iter().map(|i| index(i, false)).collect());
    }
    if let Some(view) = &table.stream_view {
        out["StreamSpecification"] = json!({"StreamEnabled": true, "StreamViewType": view});
    }
    if let (Some(label), Some(arn)) = (&table.stream_label, table.stream_arn()) {
        out["LatestStreamLabel"] = json!(label);
        out["LatestStreamArn"] = json!(arn);
    }
    if let Some(sse) = &table.sse {
        out["SSEDescription"] = sse.clone();
    }
    if let Some(class) = &table.table_class {
        out["TableClassSummary"] = json!({"TableClass": class});
    }
    if let Some(limits) = &table.on_demand {
        out["OnDemandThroughput"] = limits.clone();
    }
    if let Some(summary) = &table.restored {
        out["RestoreSummary"] = summary.clone();
    }
    global::describe(table, &mut out);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use brume_storage::Storage;

    pub(crate) fn table() -> Table {
        let attr = |name: &str| KeyAttr { name: name.into(), ty: "S".into() };
        Table {
            account: "000000000000".into(),
            region: "us-east-1".into(),
            name: "t".into(),
            id: "id-1".into(),
            created: 0.0,
            attributes: vec![attr("pk"), attr("g")],
            key: KeySchema { hash: attr("pk"), range: None },
            billing: "PAY_PER_REQUEST".into(),
            read: 0,
            write: 0,
            billing_switched: None,
            gsis: vec![Index {
                name: "by-g".into(),
                key: KeySchema { hash: attr("g"), range: None },
                projection: Projection { ty: "ALL".into(), non_key: vec![] },
                read: 0,
                write: 0,
            }],
            lsis: vec![],
            stream_view: None,
            stream_label: None,
            tags: BTreeMap::new(),
            deletion_protection: false,
            ttl_attribute: Some("exp".into()),
            sse: None,
            table_class: None,
            pitr: None,
            on_demand: None,
            restored: None,
            policy: None,
            stream_policy: None,
            replicas: vec![],
            sourced_replica: None,
        }
    }

    #[test]
    fn counts_read_back_in_either_format() {
        let stats = Stats {
            items: 3,
            bytes: 1 << 40,
            indexes: [("by-g".to_string(), (2, 17)), ("z\0".to_string(), (0, 0))].into(),
            stream_seq: u64::MAX,
        };
        assert_eq!(Stats::decode(&stats.encode()).unwrap(), stats);
        assert_eq!(Stats::decode(&Stats::default().encode()).unwrap(), Stats::default());
        // Data directories written before the tuple form keep their counts.
        let json = br#"{"items":3,"bytes":9,"indexes":{"by-g":[2,17]},"stream_seq":4}"#;
        let old = Stats::decode(json).unwrap();
        assert_eq!((old.items, old.bytes, old.indexes["by-g"], old.stream_seq), (3, 9, (2, 17), 4));
        assert!(Stats::decode(&key::encode(&[Element::Int(1)])).is_err());
    }

    /// Counts through an insert, an overwrite of the same size (which leaves the counts
    /// record as it was), a larger overwrite and a delete, for the table and its index.
    #[tokio::test]
    async fn counts_follow_every_write_including_same_size_overwrites() {
        /// Items and bytes of the table, then of its index.
        type Counts = (i64, i64, (i64, i64));
        let kv = Storage::in_memory().kv;
        let t = table();
        let counts = kv
            .transact(move |txn: &mut dyn Txn| -> Result<Vec<Counts>, AwsError> {
                let item = |d: &str| -> Item {
                    [
                        ("pk".to_string(), Value::S("k".into())),
                        ("g".to_string(), Value::S("g".into())),
                        ("d".to_string(), Value::S(d.into())),
                    ]
                    .into()
                };
                let (a, b, longer) = (item("aaaa"), item("bbbb"), item("bbbbbbbb"));
                let key = t.check_item_key(&a)?;
                let mut seen = Vec::new();
                let mut record = |txn: &mut dyn Txn| -> Result<(), AwsError> {
                    let s = load_stats(txn, &t)?;
                    seen.push((s.items, s.bytes, s.indexes.get("by-g").copied().unwrap_or_default()));
                    Ok(())
                };
                write_item(txn, &t, &key, None, Some(&a))?;
                record(txn)?;
                write_item(txn, &t, &key, Some(&a), Some(&b))?;
                record(txn)?;
                write_item(txn, &t, &key, Some(&b), Some(&longer))?;
                record(txn)?;
                write_item(txn, &t, &key, Some(&longer), None)?;
                record(txn)?;
                Ok(seen)
            })
            .await
            .unwrap();
        let size = (2 + 1) + (1 + 1) + (1 + 4);
        assert_eq!(counts, [(1, size, (1, size)), (1, size, (1, size)), (1, size + 4, (1, size + 4)), (0, 0, (0, 0))]);
    }

    #[tokio::test]
    async fn a_dropped_table_is_purged_in_steps() {
        let kv = Storage::in_memory().kv;
        let t = table();
        kv.transact(move |txn: &mut dyn Txn| -> Result<(), AwsError> {
            save_table(txn, &t)?;
            for i in 0..25 {
                let item: Item = [
                    ("pk".to_string(), Value::S(format!("k{i}"))),
                    ("g".to_string(), Value::S("g".into())),
                    ("exp".to_string(), Value::N(crate::number::Num::parse("5").unwrap())),
                ]
                .into();
                let key = t.check_item_key(&item)?;
                write_item(txn, &t, &key, None, Some(&item))?;
            }
            drop_table(txn, &t, 0.0)
        })
        .await
        .unwrap();
        assert_eq!(tombstones(&*kv).unwrap(), vec!["id-1".to_string()]);
        let mut steps = 0;
        loop {
            steps += 1;
            let done = kv.transact(|txn: &mut dyn Txn| purge_step(txn, "id-1", 10)).await.unwrap();
            if done {
                break;
            }
        }
        // 25 items, 25 index entries and 25 expiries, ten at a time.
        assert_eq!(steps, 8);
        assert!(kv.scan(KEYSPACE, &KeyRange::all(), Direction::Forward, usize::MAX).unwrap().is_empty());
    }
}
