//! Which services this binary serves, and what each is built from.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use brume_auth::CredentialStore;
use brume_core::clients::{
    AwsSdkClient, DynamoDbStreamsClient, LambdaClient, LogsClient, S3Client, SnsClient, SqsClient, StepFunctionsClient,
};
use brume_core::value::Timestamp;
use brume_events::{DeliveryError, Dispatcher, Event, Handler};
use brume_gateway::{Gateway, Job, View};
use brume_storage::Storage;

/// Registers every built service with the gateway, each with the keyspaces it owns, and
/// the handlers that deliver the outbox's events between them. `endpoint` is the URL
/// clients reach Brume at (queue URLs start with it). The answer is the client of
/// Step Functions' `aws-sdk` integrations, to bind to the gateway once it is built, and
/// Lambda, to shut down when Brume stops.
pub fn register(
    gateway: &mut Gateway,
    dispatcher: &Dispatcher,
    storage: &Storage,
    credentials: Arc<CredentialStore>,
    endpoint: &str,
    work_dir: &Path,
    lambda: &LambdaLimits,
) -> (Arc<crate::sdk::GatewaySdk>, Arc<brume_lambda::Lambda>) {
    let sts_credentials = credentials.clone();
    gateway.register("sts", &[brume_sts::KEYSPACE], move || brume_sts::service(sts_credentials.clone()));
    gateway.set_cors(Arc::new(brume_s3::BucketCors(storage.kv.clone())));
    let s3 = brume_s3::S3::new(storage);
    let s3_client: Arc<dyn S3Client> = s3.clone();
    cleanup(gateway, dispatcher, "s3-lifecycle", LIFECYCLE_PERIOD, s3.clone(), |s3, now| async move {
        s3.apply_lifecycle(now).await.map(|n| n as u64)
    });
    cleanup(gateway, dispatcher, "s3-restores", RESTORE_PERIOD, s3.clone(), |s3, now| async move {
        s3.run_restores(now).await
    });
    gateway.register("s3", &[brume_s3::KEYSPACE], move || brume_s3::service(s3.clone()));
    let sqs = brume_sqs::Sqs::new(storage.kv.clone(), endpoint.to_string());
    dispatcher.register("sqs", Arc::new(brume_sqs::Delivery(sqs.clone())));
    let sqs_client: Arc<dyn SqsClient> = sqs.clone();
    gateway.register("sqs", &[brume_sqs::KEYSPACE], move || brume_sqs::service(sqs.clone()));
    let sns = brume_sns::Sns::new(storage.kv.clone(), sqs_client.clone(), endpoint.to_string());
    dispatcher.register("sns", Arc::new(brume_sns::Delivery(sns.clone())));
    let sns_client: Arc<dyn SnsClient> = Arc::new(brume_sns::Publisher(sns.clone()));
    let messages = sns.clone();
    let sent: View = Arc::new(move |query| {
        let sns = messages.clone();
        Box::pin(async move {
            let endpoint = query.as_deref().and_then(|q| {
                form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "endpoint").map(|(_, v)| v.into_owned())
            });
            let messages = sns.local_messages(endpoint.as_deref()).map_err(|e| e.message)?;
            Ok(("application/json", serde_json::json!({ "messages": messages }).to_string().into()))
        })
    });
    gateway.register_view("sns/messages", sent);
    let signer = sns.clone();
    let certificate: View = Arc::new(move |_| {
        let sns = signer.clone();
        Box::pin(
            async move { Ok(("application/x-pem-file", sns.certificate_pem().await.map_err(|e| e.message)?.into())) },
        )
    });
    gateway.register_view(&brume_sns::CERTIFICATE_PATH["/_brume/".len()..], certificate);
    let sns_links = sns.clone();
    gateway.register("sns", &[brume_sns::KEYSPACE], move || brume_sns::service(sns.clone()));
    let dynamodb = brume_dynamodb::Ddb::new(storage.kv.clone(), s3_client.clone());
    let streams_client: Arc<dyn DynamoDbStreamsClient> = dynamodb.clone();
    cleanup(gateway, dispatcher, "dynamodb-ttl", TTL_PERIOD, dynamodb.clone(), |ddb, now| async move {
        ddb.expire(now.0).await
    });
    cleanup(gateway, dispatcher, "dynamodb-streams-trim", TTL_PERIOD, dynamodb.clone(), |ddb, now| async move {
        ddb.trim_streams(now.0).await
    });
    cleanup(gateway, dispatcher, "dynamodb-pitr-trim", TTL_PERIOD, dynamodb.clone(), |ddb, now| async move {
        ddb.trim_history(now.0).await
    });
    let streams = dynamodb.clone();
    gateway.register("dynamodbstreams", &[brume_dynamodb::KEYSPACE], move || {
        brume_dynamodb::streams_service(streams.clone())
    });
    gateway.register("dynamodb", &[brume_dynamodb::KEYSPACE], move || brume_dynamodb::service(dynamodb.clone()));
    let logs = brume_logs::Logs::new(storage.kv.clone());
    cleanup(gateway, dispatcher, "logs-retention", RETENTION_PERIOD, logs.clone(), |logs, now| async move {
        logs.expire((now.0 * 1000.0) as i64).await
    });
    let logs_client: Arc<dyn LogsClient> = logs.clone();
    let sfn_logs = logs_client.clone();
    gateway.register("logs", &[brume_logs::KEYSPACE], move || brume_logs::service(logs.clone()));
    let settings = brume_lambda::Settings {
        work_dir: work_dir.join("lambda"),
        endpoint: endpoint.to_string(),
        concurrency: lambda.concurrency,
        idle: lambda.idle,
        sandbox: lambda.sandbox.clone(),
    };
    let lambda = brume_lambda::Lambda::new(
        storage.kv.clone(),
        storage.blobs.clone(),
        settings,
        credentials,
        logs_client,
        sqs_client.clone(),
        s3_client.clone(),
        brume_lambda::Links { events: dispatcher.clone(), sns: sns_client.clone(), streams: streams_client },
    );
    dispatcher.register("lambda", Arc::new(brume_lambda::Events(lambda.clone())));
    brume_lambda::start(&lambda);
    let packages = lambda.clone();
    let code: View = Arc::new(move |query| {
        let lambda = packages.clone();
        Box::pin(async move { Ok(("application/zip", lambda.code_package(query.as_deref()).await?.into())) })
    });
    gateway.register_view(&brume_lambda::CODE_VIEW["_brume/".len()..], code);
    let urls = lambda.clone();
    gateway.register_endpoint("lambda-url", Arc::new(move |request| Box::pin(urls.clone().serve_url(request))));
    let lambda_client: Arc<dyn LambdaClient> = lambda.clone();
    let stopping = lambda.clone();
    gateway.register("lambda", &[brume_lambda::KEYSPACE], move || brume_lambda::service(lambda.clone()));
    let sdk = crate::sdk::GatewaySdk::new(dispatcher.clone());
    let sdk_client: Arc<dyn AwsSdkClient> = sdk.clone();
    let sfn = brume_stepfunctions::StepFunctions::new(
        storage.kv.clone(),
        lambda_client,
        sqs_client,
        sfn_logs,
        sdk_client,
        s3_client,
    );
    let sfn_client: Arc<dyn StepFunctionsClient> = Arc::new(brume_stepfunctions::Executions(sfn.clone()));
    sns_links.set_step_functions(sfn_client);
    brume_stepfunctions::start(&sfn);
    gateway
        .register("stepfunctions", &[brume_stepfunctions::KEYSPACE], move || brume_stepfunctions::service(sfn.clone()));
    let cloudformation = brume_cloudformation::CloudFormation::new(storage.kv.clone(), sdk.clone());
    brume_cloudformation::start(&cloudformation);
    gateway.register("cloudformation", &[brume_cloudformation::KEYSPACE], move || {
        brume_cloudformation::service(cloudformation.clone())
    });
    dispatcher.set_dead_letter(Arc::new(LogDeadLetters));
    (sdk, stopping)
}

/// Lambda's limits from the command line.
pub struct LambdaLimits {
    pub concurrency: u32,
    pub idle: Duration,
    pub sandbox: Option<brume_lambda::executor::Sandbox>,
}

/// How often lifecycle rules are applied.
const LIFECYCLE_PERIOD: Duration = Duration::from_secs(60);
/// How often restores of archived S3 objects are completed and their copies expired: a
/// restore is in progress for one to two seconds.
const RESTORE_PERIOD: Duration = Duration::from_secs(1);

/// How often expired DynamoDB items are swept, and stream records older than a day
/// trimmed.
const TTL_PERIOD: Duration = Duration::from_secs(60);

/// How often log events past their group's retention period are deleted.
const RETENTION_PERIOD: Duration = Duration::from_secs(300);

/// Runs `job` every `period` in the background, logging failures.
/// A clean-up that runs every `period`, and at once on `POST /_brume/jobs/NAME`: `run` on
/// `state` at the time of the run, answering how many records it removed.
fn cleanup<S, F, Fut>(
    gateway: &mut Gateway,
    dispatcher: &Dispatcher,
    name: &'static str,
    period: Duration,
    state: Arc<S>,
    run: F,
) where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Timestamp) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u64, brume_core::AwsError>> + Send + 'static,
{
    let run = Arc::new(run);
    let job: Job = Arc::new(move || {
        let (state, run) = (state.clone(), run.clone());
        Box::pin(async move {
            let removed = run(state, Timestamp::now()).await.map_err(|e| e.message)?;
            Ok(serde_json::json!({ "removed": removed }))
        })
    });
    gateway.register_job(name, job.clone());
    every(period, job, dispatcher);
}

fn every(period: Duration, job: Job, dispatcher: &Dispatcher) {
    let dispatcher = dispatcher.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let enqueued = brume_events::enqueued();
            if let Err(e) = job().await {
                tracing::warn!(error = %e, "background job failed");
            }
            // What the job queued (S3's lifecycle expirations notify) goes out now.
            if brume_events::enqueued() != enqueued {
                dispatcher.notify();
            }
        }
    });
}

/// Where events go that could not be delivered: the log, with why.
struct LogDeadLetters;

#[async_trait::async_trait]
impl Handler for LogDeadLetters {
    async fn deliver(&self, event: &Event) -> Result<(), DeliveryError> {
        tracing::warn!(
            target = %event.target,
            kind = %event.kind,
            attempts = event.attempts,
            error = event.last_error.as_deref().unwrap_or(""),
            "event dropped after failed deliveries"
        );
        Ok(())
    }
}
