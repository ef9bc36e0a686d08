//! The per-service compatibility tables in `docs/compatibility/`, generated from the AWS
//! models and the operations each service registers, so the README's claims stay honest.
//! `BRUME_BLESS=1 cargo test -p brume compat` rewrites them; the test fails when they are
//! out of date.

/// S3's Object Lock operations, which no bucket can need yet (see `brume-s3`'s `lock.rs`).
const NO_OBJECT_LOCK: &str = "answers as for a bucket without Object Lock, which is not implemented";

/// Operations that are registered but not complete, with what is missing.
const PARTIAL: &[(&str, &str, &str)] = &[
    ("sts", "AssumeRole", "roles are not checked against IAM; session policies and tags are accepted and not applied"),
    ("sts", "GetFederationToken", "session policies and tags are accepted and not applied (IAM is not enforced yet)"),
    (
        "sts",
        "GetAccessKeyInfo",
        "a key of AWS's older generation, whose account cannot be read from it, is answered with the default account",
    ),
    (
        "s3",
        "GetBucketPolicyStatus",
        "public as S3's user guide defines it, from the policy's principals and conditions; not checked against AWS's own analysis",
    ),
    (
        "s3",
        "RestoreObject",
        "a restore completes within two seconds whatever its tier (S3 takes minutes to hours); restores with Type SELECT are refused (NotImplemented)",
    ),
    (
        "s3",
        "CreateBucket",
        "ACLs S3 refuses are refused (any but the owner's with the default BucketOwnerEnforced, public ones while Block Public Access is on); others, with ObjectWriter or BucketOwnerPreferred, are accepted and not applied; Object Lock is refused (NotImplemented)",
    ),
    ("s3", "GetBucketLogging", "answers as for a bucket without logging: PutBucketLogging is not implemented"),
    (
        "s3",
        "GetBucketReplication",
        "answers as for a bucket without replication: PutBucketReplication is not implemented",
    ),
    ("s3", "GetObjectLockConfiguration", NO_OBJECT_LOCK),
    ("s3", "GetObjectRetention", NO_OBJECT_LOCK),
    ("s3", "PutObjectRetention", NO_OBJECT_LOCK),
    ("s3", "GetObjectLegalHold", NO_OBJECT_LOCK),
    ("s3", "PutObjectLegalHold", NO_OBJECT_LOCK),
    ("s3", "PutObject", "ACL grants and SSE-C/SSE-KMS parameters are accepted and not applied"),
    ("s3", "CopyObject", "ACL grants and SSE-C/SSE-KMS parameters are accepted and not applied"),
    ("sqs", "CreateQueue", "queue policies are stored and not evaluated; QueueDeletedRecently is not enforced"),
    (
        "sns",
        "CreateTopic",
        "topic policies are stored and not evaluated; KMS keys, tracing and archive policies are stored and not applied",
    ),
    ("sns", "Subscribe", "application and firehose endpoints answer NotImplemented"),
    ("sns", "Publish", "mobile push (application endpoint TargetArn) is refused; SMS is kept locally, not sent"),
    ("sns", "PutDataProtectionPolicy", "the policy is stored and not applied"),
    ("sns", "AddPermission", "the statement is added to the topic policy, which is not evaluated"),
    (
        "s3",
        "PutBucketNotificationConfiguration",
        "events are queued durably and delivered to SQS, SNS and Lambda; destinations are not checked for existence",
    ),
    (
        "dynamodb",
        "CreateTable",
        "SSE (with a made-up AWS-managed key ARN), table class and on-demand throughput caps are recorded and described, not applied",
    ),
    (
        "dynamodb",
        "UpdateTable",
        "a new index or replica is built at once, in one storage transaction (no CREATING/backfilling phase; the answer says ACTIVE); replicas take every write in the write's own transaction (no replication lag); a PROVISIONED table gets no replica, as AWS refuses one without write autoscaling, which Brume does not have; a replica's own on-demand read limit and index settings (OnDemandThroughputOverride, GlobalSecondaryIndexes) and MultiRegionConsistency are accepted and not applied; warm throughput is not supported",
    ),
    ("dynamodb", "UpdateTimeToLive", "expired items are deleted by a sweep every minute (AWS takes up to a few days)"),
    (
        "dynamodbstreams",
        "DescribeStream",
        "a stream has one shard, never split (AWS splits shards over time and by partition), so ShardFilter CHILD_SHARDS finds none",
    ),
    (
        "dynamodb",
        "CreateBackup",
        "the backup is made before the answer, which says AVAILABLE (AWS answers CREATING and copies in the background)",
    ),
    (
        "dynamodb",
        "RestoreTableFromBackup",
        "the table is restored before the answer, ACTIVE at once (AWS answers CREATING); a restore of millions of items can outlast a client's read timeout",
    ),
    (
        "dynamodb",
        "ExportTableToPointInTime",
        "full exports in DYNAMODB_JSON only (INCREMENTAL_EXPORT and ION are refused); no .md5 files beside the manifests; the bucket must be the table's account's",
    ),
    (
        "dynamodb",
        "PutResourcePolicy",
        "the policy is stored and returned, not evaluated (IAM is not enforced yet); the document is checked as JSON only",
    ),
    (
        "dynamodb",
        "ImportTable",
        "CSV and DYNAMODB_JSON, uncompressed or GZIP (ION and ZSTD are refused); bad items are counted, not logged to CloudWatch Logs; the table appears when the import completes (AWS describes it CREATING meanwhile); CSV's empty fields are left out",
    ),
    (
        "dynamodb",
        "RestoreTableToPointInTime",
        "the table is restored before the answer, ACTIVE at once (AWS answers CREATING); the latest restorable time is now (AWS's is about five minutes ago); a deleted table leaves no system backup to restore",
    ),
    (
        "lambda",
        "CreateFunction",
        "zip packages only (PackageType Image is refused); VPC, KMS, Active tracing and SnapStart are stored and not applied; Java, .NET and Ruby runtimes are accepted and cannot run",
    ),
    ("lambda", "AddPermission", "the resource policy is stored and not evaluated"),
    ("lambda", "PutFunctionEventInvokeConfig", "EventBridge and S3 destinations are accepted and not delivered to"),
    (
        "lambda",
        "CreateEventSourceMapping",
        "SQS queues and DynamoDB streams only; AT_TIMESTAMP is refused; a stream is read one batch at a time (ParallelizationFactor and TumblingWindowInSeconds are accepted and not applied)",
    ),
    (
        "lambda",
        "CreateFunctionUrlConfig",
        "RESPONSE_STREAM answers buffered; AuthType NONE does not check the resource policy for lambda:InvokeFunctionUrl",
    ),
    (
        "stepfunctions",
        "CreateStateMachine",
        "tracing configuration is stored, not applied; JSONata's parent operator `%` is not supported, and a distributed Map reads its fields as JSONPath only; ResultWriter's WriterConfig is refused; integrations of services Brume does not serve fail at run time",
    ),
    (
        "stepfunctions",
        "StartExecution",
        "event ids inside concurrently running branches may be ordered differently from AWS's; a crash between a task's request and the save that follows it sends the request again",
    ),
    (
        "stepfunctions",
        "DescribeExecution",
        "EXPRESS executions are not described: their history goes to CloudWatch Logs",
    ),
    (
        "stepfunctions",
        "RedriveExecution",
        "a failed Parallel or Map state runs again whole, not only its failed branches or items",
    ),
    (
        "stepfunctions",
        "TestState",
        "Task states that wait (`.sync`, `.waitForTaskToken`, activities) need a mock; a Wait state does not wait",
    ),
    ("stepfunctions", "GetExecutionHistory", "includeExecutionData=false only leaves out inputs and outputs"),
    ("logs", "FilterLogEvents", "space-delimited and regular-expression filter patterns are refused"),
    ("logs", "CreateLogGroup", "kmsKeyId and deletionProtectionEnabled are ignored"),
    (
        "cloudformation",
        "CreateStack",
        "TimeoutInMinutes is checked between waves of resources; RollbackConfiguration is stored and not monitored and RoleARN is not assumed; stack policies are stored and not enforced; notifications are published after each step is saved, so kill -9 may lose some",
    ),
    ("cloudformation", "UpdateStack", "an update interrupted by a restart rolls back rather than resuming"),
    (
        "cloudformation",
        "CreateChangeSet",
        "changes are computed at once; IMPORT change sets and nested stacks are not supported; Details are empty",
    ),
];

/// The markdown table of one service.
pub fn table(model_name: &str, implemented: &[&str]) -> String {
    let model = brume_protocol::model(model_name).expect("an embedded model");
    let mut ops: Vec<&str> = model.operations.keys().map(String::as_str).collect();
    ops.sort_unstable();
    let done = ops.iter().filter(|op| implemented.contains(op)).count();
    let mut out = format!(
        "# {} compatibility\n\nGenerated from the AWS model (`{}`, API {}) and the operations Brume registers; \
         regenerate with `BRUME_BLESS=1 cargo test -p brume compat`.\n\n{done} of {} operations implemented. \
         The others answer `NotImplemented` (HTTP 501).\n\n| operation | status |\n|---|---|\n",
        model.metadata.service_id,
        model_name,
        model.metadata.api_version,
        ops.len()
    );
    for op in ops {
        let partial = PARTIAL.iter().find(|(s, o, _)| *s == model_name && *o == op);
        let status = match (implemented.contains(&op), partial) {
            (true, Some((_, _, note))) => format!("partial: {note}"),
            (true, None) => "implemented".to_string(),
            (false, _) => "not yet".to_string(),
        };
        out.push_str(&format!("| {op} | {status} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use brume_auth::{AuthMode, CredentialStore, MemorySessions, SystemClock, Verifier};
    use brume_gateway::{Gateway, Settings};

    #[tokio::test]
    async fn compatibility_docs_are_current() {
        let store = Arc::new(CredentialStore::new("000000000000", Arc::new(MemorySessions::default())).unwrap());
        let verifier = Arc::new(Verifier::new(store.clone(), AuthMode::Verify, Arc::new(SystemClock)));
        let settings = Settings { region: "us-east-1".into(), version: "test" };
        let storage = brume_storage::Storage::in_memory();
        let mut gateway = Gateway::new(storage.clone(), verifier, settings);
        let dispatcher = brume_events::Dispatcher::start(
            storage.kv.clone(),
            Default::default(),
            std::sync::Arc::new(brume_events::SystemClock),
        );
        let work = tempfile::tempdir().unwrap();
        let lambda =
            crate::services::LambdaLimits { concurrency: 10, idle: std::time::Duration::from_secs(60), sandbox: None };
        crate::services::register(
            &mut gateway,
            &dispatcher,
            &storage,
            store,
            "http://localhost:4566",
            work.path(),
            &lambda,
        );
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/compatibility");
        let bless = std::env::var_os("BRUME_BLESS").is_some();
        let mut stale = Vec::new();
        for name in brume_protocol::model::MODEL_NAMES {
            let implemented = gateway.implemented_operations(name);
            let expected = super::table(name, &implemented);
            let path = dir.join(format!("{name}.md"));
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &expected).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(expected.as_str()) {
                stale.push(path.display().to_string());
            }
        }
        assert!(stale.is_empty(), "out of date (run BRUME_BLESS=1 cargo test -p brume compat): {stale:?}");
    }
}
