//! Point-in-time recovery: the history that RestoreTableToPointInTime reads, and the
//! restore itself.
//!
//! - `h/<table id>/<time, ms>/<table key…>` → the item as it was before the first change
//!   to it in that millisecond (empty: there was none)
//!
//! Every write to a table with point-in-time recovery enabled records one, in the write's
//! own transaction ([`record`]), so the table as it was at a time T is its items now with
//! every item changed after T put back as it was before its first change after T. Records
//! older than the recovery period (or than the moment recovery was last enabled) are
//! trimmed by a background job.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext, value::Timestamp};
use brume_storage::key::{self, Element};
use brume_storage::{Direction, KeyRange, KvPair, ReadView, Txn};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::backup::{Overrides, restored_table};
use crate::control::{backups_table_not_found, table_of_arn};
use crate::error::validation;
use crate::table::{self, KEYSPACE, Table, corrupt, encode_item};
use crate::value::Item;
use crate::{Ddb, table_name};

/// Records trimmed per storage transaction.
const TRIM_BATCH: usize = 1000;

/// How a table's items were before the changes after some time: by the encoding of their
/// key (as in the item's record key, after the table's prefix), the item's record, or
/// `None` if it did not exist.
pub type Before = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreTableToPointInTimeInput {
    source_table_arn: Option<String>,
    source_table_name: Option<String>,
    target_table_name: String,
    use_latest_restorable_time: Option<bool>,
    restore_date_time: Option<Timestamp>,
    #[serde(flatten)]
    overrides: Overrides,
}

fn prefix(table: &Table) -> Vec<u8> {
    key::encode_strings_then(&["h", &table.id], &[])
}

fn at(table: &Table, ms: i64) -> Vec<u8> {
    key::encode_strings_then(&["h", &table.id], &[Element::Int(ms.into())])
}

fn millis(seconds: f64) -> i64 {
    (seconds * 1000.0).floor() as i64
}

/// Records `old`, the item at `key` before a write, if this is the item's first change in
/// the current millisecond.
pub fn record(txn: &mut dyn Txn, table: &Table, key: &[Element], old: Option<&Item>) -> Result<(), AwsError> {
    let mut parts = vec![Element::Int(millis(Timestamp::now().0).into())];
    parts.extend(key.iter().cloned());
    let k = key::encode_strings_then(&["h", &table.id], &parts);
    if txn.get(KEYSPACE, &k)?.is_none() {
        txn.put(KEYSPACE, &k, &old.map(encode_item).unwrap_or_default())?;
    }
    Ok(())
}

/// The items of `table` that changed after `time` (seconds), as they were then.
pub fn before_changes_after(view: &dyn ReadView, table: &Table, time: f64) -> Result<Before, AwsError> {
    let skip = prefix(table).len();
    let all = KeyRange::prefix(&prefix(table));
    let mut range = KeyRange { start: Bound::Included(at(table, millis(time) + 1)), end: all.end };
    let mut before = Before::new();
    loop {
        let page = view.scan(KEYSPACE, &range, Direction::Forward, TRIM_BATCH)?;
        for (k, v) in &page {
            let elements = key::decode(&k[skip..]).map_err(|e| corrupt(&e))?;
            let item_key = key::encode(elements.get(1..).unwrap_or_default());
            before.entry(item_key).or_insert_with(|| (!v.is_empty()).then(|| v.clone()));
        }
        match page.last() {
            Some((k, _)) if page.len() == TRIM_BATCH => range.start = Bound::Excluded(k.clone()),
            _ => return Ok(before),
        }
    }
}

/// The items of a table as it was: those in a snapshot of it, with the ones in a
/// [`Before`] as they were before (or left out), a page at a time, as `(key, record)` with
/// the key's encoding after the table's prefix.
pub struct ItemsAt<'a> {
    view: &'a dyn ReadView,
    before: &'a Before,
    skip: usize,
    range: KeyRange,
    live_done: bool,
    earlier: std::collections::btree_map::Iter<'a, Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> ItemsAt<'a> {
    pub fn new(view: &'a dyn ReadView, table: &Table, before: &'a Before) -> Self {
        ItemsAt {
            view,
            before,
            skip: key::encode_strings_then(&["i", &table.id], &[]).len(),
            range: table::items_of(table),
            live_done: false,
            earlier: before.iter(),
        }
    }

    /// The next items, up to `n` of them; `None` once all have been given.
    pub fn next_page(&mut self, n: usize) -> Result<Option<Vec<KvPair>>, AwsError> {
        if !self.live_done {
            let page = self.view.scan(KEYSPACE, &self.range, Direction::Forward, n)?;
            self.live_done = page.len() < n;
            if let Some((k, _)) = page.last() {
                self.range.start = Bound::Excluded(k.clone());
            }
            let (skip, before) = (self.skip, self.before);
            return Ok(Some(
                page.into_iter()
                    .filter(|(k, _)| !before.contains_key(&k[skip..]))
                    .map(|(k, v)| (k[skip..].to_vec(), v))
                    .collect(),
            ));
        }
        let page: Vec<_> = self.earlier.by_ref().filter_map(|(k, v)| Some((k.clone(), v.clone()?))).take(n).collect();
        Ok((!page.is_empty()).then_some(page))
    }
}

/// The first moment `table` can be restored to at `now`, if it has recovery enabled.
pub fn earliest(table: &Table, now: f64) -> Option<f64> {
    table.pitr.map(|(since, days)| since.max(now - days as f64 * 86400.0))
}

/// Deletes up to [`TRIM_BATCH`] of `table`'s history records from before what it can be
/// restored to (all of them if recovery is off); answers how many.
fn trim_step(txn: &mut dyn Txn, table: &Table, now: f64) -> Result<usize, AwsError> {
    let range = KeyRange {
        start: Bound::Included(prefix(table)),
        end: match earliest(table, now) {
            Some(time) => Bound::Excluded(at(table, millis(time))),
            None => KeyRange::prefix(&prefix(table)).end,
        },
    };
    let old = txn.scan(KEYSPACE, &range, Direction::Forward, TRIM_BATCH)?;
    for (k, _) in &old {
        txn.delete(KEYSPACE, k)?;
    }
    Ok(old.len())
}

pub fn unavailable(name: &str) -> AwsError {
    AwsError::new(
        400,
        "PointInTimeRecoveryUnavailableException",
        format!("Point in time recovery is not enabled for table '{name}'"),
    )
}

impl Ddb {
    /// Trims the history every table keeps for point-in-time recovery to its recovery
    /// period; answers how many records went.
    pub async fn trim_history(&self, now: f64) -> Result<u64, AwsError> {
        let mut removed = 0;
        for t in table::all(&*self.kv)? {
            removed += self
                .in_batches(TRIM_BATCH, move |txn| {
                    // Recovery may have been turned on or off since the list was read.
                    let current = table::load_table(txn, &t.account, &t.region, &t.name)?;
                    match current.filter(|c| c.id == t.id) {
                        Some(current) => trim_step(txn, &current, now),
                        None => Ok(0),
                    }
                })
                .await?;
        }
        Ok(removed)
    }

    pub async fn restore_table_to_point_in_time(
        self: Arc<Self>,
        ctx: RequestContext,
        input: RestoreTableToPointInTimeInput,
    ) -> Result<Json, AwsError> {
        let name = match (&input.source_table_arn, &input.source_table_name) {
            (Some(arn), _) => table_of_arn(&ctx, arn, "RestoreTableToPointInTime")?,
            (None, Some(name)) => table_name(name).to_string(),
            (None, None) => return Err(validation("Either SourceTableArn or SourceTableName must be specified")),
        };
        let time = match (input.use_latest_restorable_time, input.restore_date_time) {
            (Some(true), Some(_)) => {
                return Err(validation("Only one of RestoreDateTime or UseLatestRestorableTime can be specified"));
            }
            (Some(true), None) => None,
            (_, Some(time)) => Some(time.0),
            (_, None) => {
                return Err(validation("Either RestoreDateTime or UseLatestRestorableTime must be specified"));
            }
        };
        // The table now, and its history up to now, from one snapshot.
        let snapshot = self.kv.snapshot()?;
        let source = table::load_table(&*snapshot, &ctx.account, &ctx.region, &name)?
            .ok_or_else(|| backups_table_not_found(&name))?;
        let now = Timestamp::now().0;
        let earliest = earliest(&source, now).ok_or_else(|| unavailable(&name))?;
        let time = time.unwrap_or(now);
        if time < earliest || time > now {
            return Err(AwsError::new(
                400,
                "InvalidRestoreTimeException",
                "RestoreDateTime must be between EarliestRestorableDateTime and LatestRestorableDateTime",
            ));
        }
        let summary = json!({"SourceTableArn": source.arn(), "RestoreDateTime": time, "RestoreInProgress": false});
        let target = restored_table(&ctx, &source, &input.target_table_name, summary, &input.overrides)?;
        let before = before_changes_after(&*snapshot, &source, time)?;
        let table = self.clone().restore_from_snapshot(Arc::unwrap_or_clone(source), snapshot, before, target).await?;
        Ok(json!({ "TableDescription": table::describe(&table, &table::load_stats(&*self.kv, &table)?, "ACTIVE") }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::table;
    use crate::value::Value;
    use brume_storage::Storage;

    /// Whatever millisecond the writes fall in, the item before the first of them (an
    /// insert) did not exist; an item deleted since is put back as it was.
    #[tokio::test]
    async fn the_first_change_after_a_time_gives_the_item_as_it_was() {
        let kv = Storage::in_memory().kv;
        let mut t = table();
        t.pitr = Some((0.0, 35));
        let item = |pk: &str, v: &str| -> Item {
            [("pk".to_string(), Value::S(pk.into())), ("g".to_string(), Value::S(v.into()))].into()
        };
        let (a, b) = (item("a", "1"), item("b", "1"));
        let (ta, tb) = (a.clone(), b.clone());
        let start = Timestamp::now().0 - 0.001;
        let table = t.clone();
        kv.transact(move |txn: &mut dyn Txn| -> Result<(), AwsError> {
            let (ka, kb) = (table.check_item_key(&ta)?, table.check_item_key(&tb)?);
            table::write_item(txn, &table, &ka, None, Some(&ta))?;
            table::write_item(txn, &table, &ka, Some(&ta), Some(&item("a", "2")))?;
            table::write_item(txn, &table, &kb, None, Some(&tb))?;
            Ok(())
        })
        .await
        .unwrap();
        let mid = Timestamp::now().0;
        std::thread::sleep(std::time::Duration::from_millis(5));
        let (table, tb) = (t.clone(), b.clone());
        kv.transact(move |txn: &mut dyn Txn| -> Result<(), AwsError> {
            let kb = table.check_item_key(&tb)?;
            table::write_item(txn, &table, &kb, Some(&tb), None)?;
            Ok(())
        })
        .await
        .unwrap();

        let key_of = |i: &Item| key::encode(&t.check_item_key(i).unwrap());
        let before = before_changes_after(&*kv, &t, start).unwrap();
        assert_eq!(before, [(key_of(&a), None), (key_of(&b), None)].into());
        let before = before_changes_after(&*kv, &t, mid).unwrap();
        assert_eq!(before, [(key_of(&b), Some(encode_item(&b)))].into());
    }
}
