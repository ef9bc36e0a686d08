//! The retention sweep: deletes events older than their group's retention period (reads
//! already leave them out), a batch per transaction, run as the `logs-retention` job.

use std::collections::HashMap;

use brume_core::AwsError;
use brume_storage::{Direction, Txn};

use crate::Logs;
use crate::table::{self, Event, Group, KEYSPACE, Stream};

/// Events deleted per transaction, so a long backlog never holds the writer for long.
const BATCH: usize = 1_000;

impl Logs {
    /// Deletes the events that were past their group's retention period at `now_ms`;
    /// answers how many.
    pub async fn expire(&self, now_ms: i64) -> Result<u64, AwsError> {
        let mut removed = 0;
        for (k, v) in self.kv.scan(KEYSPACE, &table::all_groups(), Direction::Forward, usize::MAX)? {
            let group: Group = table::decode(&v)?;
            if group.retention_days.is_none() {
                continue;
            }
            let (account, region) = table::owner_of_group_key(&k)?;
            loop {
                let (account, region, name) = (account.clone(), region.clone(), group.name.clone());
                let n = self.kv.transact(move |txn| expire_batch(txn, &account, &region, &name, now_ms)).await?;
                removed += n as u64;
                if n < BATCH {
                    break;
                }
            }
        }
        Ok(removed)
    }
}

/// Deletes up to [`BATCH`] expired events of one group and counts them off its and their
/// streams' stored bytes. Reads the group again, so a retention changed meanwhile wins.
fn expire_batch(txn: &mut dyn Txn, account: &str, region: &str, name: &str, now_ms: i64) -> Result<usize, AwsError> {
    let gk = table::group_key(account, region, name);
    let Some(bytes) = txn.get(KEYSPACE, &gk)? else { return Ok(0) };
    let mut group: Group = table::decode(&bytes)?;
    if group.retention_days.is_none() {
        return Ok(0);
    }
    let cutoff = group.cutoff(now_ms);
    let range = table::group_events(account, region, name, 0, cutoff - 1);
    if range.is_empty() {
        return Ok(0);
    }
    let batch = txn.scan(KEYSPACE, &range, Direction::Forward, BATCH)?;
    let mut freed: HashMap<String, i64> = HashMap::new();
    for (k, v) in &batch {
        let event: Event = table::decode(v)?;
        let (ts, seq) = table::position_of(k)?;
        txn.delete(KEYSPACE, k)?;
        txn.delete(KEYSPACE, &table::stream_event_key(account, region, name, &event.stream, ts, seq))?;
        *freed.entry(event.stream).or_default() += table::event_size(&event.message);
    }
    for (stream_name, size) in freed {
        group.stored_bytes = (group.stored_bytes - size).max(0);
        let sk = table::stream_key(account, region, name, &stream_name);
        if let Some(bytes) = txn.get(KEYSPACE, &sk)? {
            let mut stream: Stream = table::decode(&bytes)?;
            stream.stored_bytes = (stream.stored_bytes - size).max(0);
            txn.put(KEYSPACE, &sk, &table::encode(&stream))?;
        }
    }
    txn.put(KEYSPACE, &gk, &table::encode(&group))?;
    Ok(batch.len())
}

#[cfg(test)]
mod tests {
    use brume_core::clients::{LogEvent, LogsClient};
    use brume_storage::Storage;

    use super::*;
    use crate::table::DAY_MS;

    #[tokio::test]
    async fn expire_deletes_only_events_past_retention() {
        let logs = Logs::new(Storage::in_memory().kv);
        let now = crate::now_ms();
        let events = vec![
            LogEvent { timestamp_ms: now - 3 * DAY_MS, message: "old".into() },
            LogEvent { timestamp_ms: now - 3 * DAY_MS + 1, message: "old too".into() },
        ];
        logs.put_log_events("000000000000", "us-east-1", "g", "s", events).await.unwrap();
        let recent = vec![LogEvent { timestamp_ms: now, message: "new".into() }];
        logs.put_log_events("000000000000", "us-east-1", "g", "s", recent).await.unwrap();
        assert_eq!(logs.expire(now).await.unwrap(), 0, "no retention policy, nothing expires");

        let gk = table::group_key("000000000000", "us-east-1", "g");
        logs.kv
            .transact(move |txn| -> Result<(), AwsError> {
                let mut group: Group = table::decode(&txn.get(KEYSPACE, &gk)?.unwrap())?;
                group.retention_days = Some(1);
                Ok(txn.put(KEYSPACE, &gk, &table::encode(&group))?)
            })
            .await
            .unwrap();
        assert_eq!(logs.expire(now).await.unwrap(), 2);
        let left = logs
            .kv
            .scan(
                KEYSPACE,
                &table::group_events("000000000000", "us-east-1", "g", 0, i64::MAX - 1),
                Direction::Forward,
                usize::MAX,
            )
            .unwrap();
        assert_eq!(left.len(), 1);
        let group: Group = table::decode(
            &logs.kv.get(KEYSPACE, &table::group_key("000000000000", "us-east-1", "g")).unwrap().unwrap(),
        )
        .unwrap();
        assert_eq!(group.stored_bytes, table::event_size("new"));
    }
}
