//! What other services ask of DynamoDB Streams through the typed
//! [`DynamoDbStreamsClient`]: Lambda's event source mappings read shards with it.

use async_trait::async_trait;
use brume_core::AwsError;
use brume_core::clients::{DynamoDbStreamsClient, StreamRecords, StreamStart};

use brume_core::value::Timestamp;

use crate::Ddb;
use crate::stream::{self, Position};

#[async_trait]
impl DynamoDbStreamsClient for Ddb {
    async fn stream_position(&self, stream_arn: &str, start: StreamStart) -> Result<u64, AwsError> {
        let at = match start {
            StreamStart::TrimHorizon => Position::TrimHorizon,
            StreamStart::Latest => Position::Latest,
        };
        Ddb::stream_position(self, stream_arn, at)
    }

    async fn read_records(&self, stream_arn: &str, after: u64, limit: usize) -> Result<StreamRecords, AwsError> {
        let batch = Ddb::read_records(self, stream_arn, after, limit)?;
        let shard_id = stream::find(&*self.kv.snapshot()?, stream_arn, Timestamp::now().0)?.shard_id();
        Ok(StreamRecords { records: batch.records, position: batch.position, finished: batch.finished, shard_id })
    }
}
