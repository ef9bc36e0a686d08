//! Time to live: items whose TTL attribute holds a past time (epoch seconds, a Number)
//! are deleted in the background, as DynamoDB's sweeper does. Items whose time is more
//! than five years past are left alone, as DynamoDB documents.

use brume_core::AwsError;
use brume_storage::key::{self, Element};
use brume_storage::{Direction, KeyRange, Txn};

use crate::Ddb;
use crate::table::{self, KEYSPACE, Table};
use crate::value::{Item, Value};

/// Items examined, and deleted, per storage transaction.
const BATCH: usize = 256;
const FIVE_YEARS: f64 = 5.0 * 365.0 * 24.0 * 3600.0;

/// True when `item` has expired at `now` under TTL attribute `attribute`.
pub fn expired(item: &Item, attribute: &str, now: f64) -> bool {
    match item.get(attribute) {
        Some(Value::N(n)) => n.to_string().parse::<f64>().is_ok_and(|at| at <= now && at > now - FIVE_YEARS),
        _ => false,
    }
}

impl Ddb {
    /// Deletes every expired item of every table with TTL enabled; answers how many.
    pub async fn expire(&self, now: f64) -> Result<u64, AwsError> {
        let tables: Vec<Table> = self
            .kv
            .scan(KEYSPACE, &KeyRange::prefix(&key::encode(&["t".into()])), Direction::Forward, usize::MAX)?
            .into_iter()
            .filter_map(|(_, bytes)| serde_json::from_slice::<Table>(&bytes).ok())
            .filter(|t| t.ttl_attribute.is_some())
            .collect();
        let mut removed = 0;
        for table in tables {
            let mut from = table::items_of(&table);
            loop {
                let (table, range) = (table.clone(), from.clone());
                let (count, next) = self.kv.transact(move |txn: &mut dyn Txn| sweep(txn, &table, &range, now)).await?;
                removed += count;
                match next {
                    Some(k) => from.start = std::ops::Bound::Excluded(k),
                    None => break,
                }
            }
        }
        Ok(removed)
    }
}

/// Deletes the expired items among the next [`BATCH`] of `range`; answers how many, and
/// the last key examined when there may be more.
fn sweep(txn: &mut dyn Txn, table: &Table, range: &KeyRange, now: f64) -> Result<(u64, Option<Vec<u8>>), AwsError> {
    // The table may have been deleted or its TTL turned off since the list was read.
    let current = table::load_table(txn, &table.account, &table.region, &table.name)?;
    let Some(attribute) = current.filter(|t| t.id == table.id).and_then(|t| t.ttl_attribute) else {
        return Ok((0, None));
    };
    let batch = txn.scan(KEYSPACE, range, Direction::Forward, BATCH)?;
    let mut removed = 0;
    for (k, bytes) in &batch {
        let item = table::decode_item(bytes)?;
        if expired(&item, &attribute, now) {
            let elements: Vec<Element> = key::decode(k).map_err(|_| AwsError::internal())?.split_off(2);
            table::write_item(txn, table, &elements, Some(&item), None)?;
            removed += 1;
        }
    }
    let next = (batch.len() == BATCH).then(|| batch.last().map(|(k, _)| k.clone())).flatten();
    Ok((removed, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Num;

    fn check(value: Value, now: f64, expected: bool) {
        let item: Item = [("exp".to_string(), value.clone())].into();
        assert_eq!(expired(&item, "exp", now), expected, "{value:?} at {now}");
    }

    #[test]
    fn only_past_epoch_second_numbers_expire() {
        let n = |s: &str| Value::N(Num::parse(s).unwrap());
        check(n("1000"), 2000.0, true);
        check(n("1000.5"), 1000.5, true);
        check(n("3000"), 2000.0, false);
        check(Value::S("1000".into()), 2000.0, false);
        check(n("1000"), 1000.0 + FIVE_YEARS + 1.0, false);
        assert!(!expired(&Item::new(), "exp", 1.0));
    }
}
