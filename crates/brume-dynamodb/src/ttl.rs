//! Time to live: items whose TTL attribute holds a past time (epoch seconds, a Number)
//! are deleted in the background, as DynamoDB's sweeper does. Items whose time is more
//! than five years past are left alone, as DynamoDB documents.
//!
//! Items wait under their expiry time (see [`table`]), so a sweep reads only the items
//! that are due, however large the table. Their REMOVE stream records name DynamoDB's
//! service as the user.

use std::ops::Bound;

use brume_core::AwsError;
use brume_storage::key::{self, Element};
use brume_storage::{Direction, KeyRange, Txn};

use crate::Ddb;
use crate::number::Num;
use crate::stream::Writer;
use crate::table::{self, KEYSPACE, Table};

/// Items deleted per storage transaction.
const BATCH: usize = 256;
const FIVE_YEARS: f64 = 5.0 * 365.0 * 24.0 * 3600.0;

/// The expiry records of `table` due at `now`: times from five years ago up to now.
fn due(table: &Table, now: f64) -> KeyRange {
    let at = |t: f64| {
        let mut parts = table::expiries_prefix(table);
        let n = Num::parse(&format!("{t:.3}")).expect("a clock reading is a number");
        parts.push(Element::Number(n.to_key()));
        key::encode(&parts)
    };
    KeyRange { start: Bound::Excluded(at(now - FIVE_YEARS)), end: KeyRange::prefix(&at(now)).end }
}

impl Ddb {
    /// Deletes every expired item of every table with TTL enabled; answers how many.
    pub async fn expire(&self, now: f64) -> Result<u64, AwsError> {
        let tables: Vec<Table> = table::all(&*self.kv)?.into_iter().filter(|t| t.ttl_attribute.is_some()).collect();
        let mut removed = 0;
        for table in tables {
            removed += self.in_batches(BATCH, move |txn| sweep(txn, &table, now)).await?;
        }
        Ok(removed)
    }
}

/// Deletes up to [`BATCH`] of the items due; answers how many.
fn sweep(txn: &mut dyn Txn, table: &Table, now: f64) -> Result<usize, AwsError> {
    // The table may have been deleted, or its TTL turned off, since the list was read.
    let current = table::load_table(txn, &table.account, &table.region, &table.name)?;
    let Some(table) = current.filter(|t| t.id == table.id && t.ttl_attribute.is_some()) else {
        return Ok(0);
    };
    let due = txn.scan(KEYSPACE, &due(&table, now), Direction::Forward, BATCH)?;
    for (k, _) in &due {
        let base: Vec<Element> = key::decode(k).map_err(|_| AwsError::internal())?.split_off(3);
        match table::get_item(txn, &table, &base)? {
            Some(item) => {
                table::write_item_by(txn, &table, &base, Some(&item), None, Writer::Ttl)?;
            }
            // Never left behind by writes; cleared so a sweep cannot stall on it.
            None => txn.delete(KEYSPACE, k)?,
        }
    }
    Ok(due.len())
}
