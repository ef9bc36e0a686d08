//! Amazon DynamoDB (awsJson 1.0) for Brume: tables with their secondary indexes, items of
//! every attribute type, the whole expression language, Query and Scan with DynamoDB's
//! ordering and paging, batches and transactions.
//!
//! Items and index entries live in the `dynamodb` keyspace under order-preserving keys
//! (see [`table`]); every write, with its index maintenance, is one storage transaction,
//! durable when the request is answered. The expression language is a pure core
//! ([`expr`]) over the attribute values of [`value`].
//!
//! Tables with a stream get a record of every change in the transaction of the change
//! ([`stream`]); [`streams_service`] serves the DynamoDB Streams API that reads them.
//! On-demand backups copy a table's items aside and restore them into new tables
//! ([`backup`]); tables with point-in-time recovery keep the history that restores them as
//! they were at an earlier time ([`pitr`]) or exports them so to S3 ([`export`]); imports
//! make tables of objects in S3 ([`import`]).

mod backup;
mod batch;
mod capacity;
mod client;
mod control;
mod error;
mod export;
mod expr;
mod global;
mod import;
mod item;
mod legacy;
mod number;
mod partiql;
mod pitr;
mod policy;
mod query;
mod stream;
mod streams_api;
mod table;
mod transact;
mod ttl;
mod value;

use std::sync::Arc;

use brume_core::AwsError;
use brume_core::clients::S3Client;
use brume_protocol::{Service, ServiceBuilder};
use brume_storage::{Kv, Txn};

pub use stream::{Batch, Position};
pub use table::KEYSPACE;

/// DynamoDB's state: the store, and S3, which exports are written to.
pub struct Ddb {
    kv: Arc<dyn Kv>,
    s3: Arc<dyn S3Client>,
}

impl Ddb {
    /// DynamoDB over `kv`. Cheap: nothing is read until a request needs it.
    pub fn new(kv: Arc<dyn Kv>, s3: Arc<dyn S3Client>) -> Arc<Ddb> {
        Arc::new(Ddb { kv, s3 })
    }
}

/// Records of a dropped table deleted per storage transaction.
const PURGE_BATCH: usize = 1000;

impl Ddb {
    /// Deletes a dropped table's (or deleted backup's) records in the background.
    fn purge(self: &Arc<Self>, id: String) {
        let state = self.clone();
        tokio::spawn(async move {
            if let Err(e) = state.purge_now(&id).await {
                tracing::warn!(error = %e, "could not delete a dropped table's items");
            }
        });
    }

    /// Deletes the records under tombstone `id`, a batch per transaction.
    async fn purge_now(&self, id: &str) -> Result<(), AwsError> {
        let id = id.to_string();
        self.in_batches(PURGE_BATCH, move |txn| {
            Ok(if table::purge_step(txn, &id, PURGE_BATCH)? { 0 } else { PURGE_BATCH })
        })
        .await
        .map(|_| ())
    }

    /// Runs `step` — a transaction doing at most `batch` units of work and answering how
    /// many it did — until one does fewer; answers the total. The background jobs' way
    /// through work too large for one transaction.
    async fn in_batches<F>(&self, batch: usize, step: F) -> Result<u64, AwsError>
    where
        F: Fn(&mut dyn Txn) -> Result<usize, AwsError> + Clone + Send + 'static,
    {
        let mut total = 0;
        loop {
            let step = step.clone();
            let done = self.kv.transact(move |txn: &mut dyn Txn| step(txn)).await?;
            total += done as u64;
            if done < batch {
                return Ok(total);
            }
        }
    }

    /// Resumes the deletions a stop interrupted.
    fn resume_purges(self: &Arc<Self>) {
        let state = self.clone();
        tokio::spawn(async move {
            match table::tombstones(&*state.kv) {
                Ok(ids) => ids.into_iter().for_each(|id| state.purge(id)),
                Err(e) => tracing::warn!(error = %e, "could not read dropped tables"),
            }
        });
    }
}

/// Data-plane operations take a table name or its ARN.
fn table_name(name_or_arn: &str) -> &str {
    match name_or_arn.strip_prefix("arn:") {
        Some(_) => {
            name_or_arn.split_once(":table/").map_or(name_or_arn, |(_, rest)| rest.split('/').next().unwrap_or(rest))
        }
        None => name_or_arn,
    }
}

/// The DynamoDB service, ready for the gateway.
pub fn service(state: Arc<Ddb>) -> Service {
    state.resume_purges();
    state.resume_backups();
    ServiceBuilder::new("dynamodb", state)
        .op("CreateTable", Ddb::create_table)
        .op("DescribeTable", Ddb::describe_table)
        .op("ListTables", Ddb::list_tables)
        .op("DeleteTable", Ddb::delete_table)
        .op("UpdateTable", Ddb::update_table)
        .op("TagResource", Ddb::tag_resource)
        .op("UntagResource", Ddb::untag_resource)
        .op("ListTagsOfResource", Ddb::list_tags_of_resource)
        .op("UpdateTimeToLive", Ddb::update_time_to_live)
        .op("DescribeTimeToLive", Ddb::describe_time_to_live)
        .op("DescribeContinuousBackups", Ddb::describe_continuous_backups)
        .op("UpdateContinuousBackups", Ddb::update_continuous_backups)
        .op("CreateBackup", Ddb::create_backup)
        .op("DescribeBackup", Ddb::describe_backup)
        .op("ListBackups", Ddb::list_backups)
        .op("DeleteBackup", Ddb::delete_backup)
        .op("RestoreTableFromBackup", Ddb::restore_table_from_backup)
        .op("RestoreTableToPointInTime", Ddb::restore_table_to_point_in_time)
        .op("ExportTableToPointInTime", Ddb::export_table_to_point_in_time)
        .op("DescribeExport", Ddb::describe_export)
        .op("ListExports", Ddb::list_exports)
        .op("ImportTable", Ddb::import_table)
        .op("DescribeImport", Ddb::describe_import)
        .op("ListImports", Ddb::list_imports)
        .op("PutResourcePolicy", Ddb::put_resource_policy)
        .op("GetResourcePolicy", Ddb::get_resource_policy)
        .op("DeleteResourcePolicy", Ddb::delete_resource_policy)
        .op("CreateGlobalTable", Ddb::create_global_table)
        .op("ListGlobalTables", Ddb::list_global_tables)
        .op("DescribeGlobalTable", Ddb::legacy_global_table)
        .op("UpdateGlobalTable", Ddb::legacy_global_table)
        .op("DescribeGlobalTableSettings", Ddb::legacy_global_table)
        .op("UpdateGlobalTableSettings", Ddb::legacy_global_table)
        .op("DescribeLimits", Ddb::describe_limits)
        .op("DescribeEndpoints", Ddb::describe_endpoints)
        .op("PutItem", Ddb::put_item)
        .op("GetItem", Ddb::get_item)
        .op("DeleteItem", Ddb::delete_item)
        .op("UpdateItem", Ddb::update_item)
        .op("Query", Ddb::query)
        .op("Scan", Ddb::scan)
        .op("BatchGetItem", Ddb::batch_get_item)
        .op("BatchWriteItem", Ddb::batch_write_item)
        .op("TransactGetItems", Ddb::transact_get_items)
        .op("TransactWriteItems", Ddb::transact_write_items)
        .op("ExecuteStatement", Ddb::execute_statement)
        .op("BatchExecuteStatement", Ddb::batch_execute_statement)
        .op("ExecuteTransaction", Ddb::execute_transaction)
        .build()
}

/// The DynamoDB Streams service (`dynamodbstreams`), reading the records the DynamoDB
/// service's writes leave.
pub fn streams_service(state: Arc<Ddb>) -> Service {
    ServiceBuilder::new("dynamodbstreams", state)
        .op("ListStreams", Ddb::list_streams)
        .op("DescribeStream", Ddb::describe_stream)
        .op("GetShardIterator", Ddb::get_shard_iterator)
        .op("GetRecords", Ddb::get_records)
        .build()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use super::*;
    use brume_core::AwsError;
    use brume_core::clients::ListedObject;

    /// S3 for tests: keeps what is put, as `(bucket, key, body)`.
    #[derive(Default)]
    pub(crate) struct Puts(pub Mutex<Vec<(String, String, Vec<u8>)>>);

    #[async_trait::async_trait]
    impl S3Client for Puts {
        async fn get_object_bytes(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: Option<&str>,
            _: u64,
        ) -> Result<Vec<u8>, AwsError> {
            Err(AwsError::internal())
        }

        async fn get_object_range(&self, _: &str, _: &str, _: &str, _: u64, _: u64) -> Result<Vec<u8>, AwsError> {
            Err(AwsError::internal())
        }

        async fn list_objects(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: Option<&str>,
            _: usize,
        ) -> Result<(Vec<ListedObject>, bool), AwsError> {
            Err(AwsError::internal())
        }

        async fn put_object_bytes(
            &self,
            _: &str,
            bucket: &str,
            key: &str,
            body: Vec<u8>,
            _: &str,
        ) -> Result<String, AwsError> {
            self.0.lock().unwrap().push((bucket.into(), key.into(), body));
            Ok("\"etag\"".into())
        }
    }

    /// DynamoDB over `kv`, with an S3 that keeps what is put.
    pub(crate) fn ddb(kv: Arc<dyn Kv>) -> Arc<Ddb> {
        Ddb::new(kv, Arc::new(Puts::default()))
    }
}
