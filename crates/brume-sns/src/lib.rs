//! Amazon SNS (awsQuery) for Brume: standard and FIFO topics, subscriptions with filter
//! policies, and fan-out through the durable outbox: one event per matching subscription
//! is written in the publish's transaction, then delivered at least once to SQS queues,
//! HTTP endpoints (with SNS's confirmation handshake and delivery-policy retries) and
//! local stand-ins for email and SMS (kept in SNS's keyspace, readable at
//! `/_brume/sns/messages`). Deliveries that exhaust their retries go to the subscription's
//! dead-letter queue. Brume adds a `stepfunctions` protocol (endpoint: a state machine ARN):
//! each message starts one execution, named after the message id. Messages are signed
//! (SignatureVersion 1 and 2) with a local key whose certificate is served at the
//! `SigningCertURL`.

mod client;
mod delivery;
mod envelope;
mod error;
pub mod filter;
mod publish;
mod signing;
mod subscription;
mod table;
mod topic;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use brume_core::AwsError;
use brume_core::clients::{SqsClient, StepFunctionsClient};
use brume_protocol::{Service, ServiceBuilder};
use brume_storage::Kv;
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use sha2::Digest as _;
use tokio::sync::{OnceCell, Semaphore};

pub use client::Publisher;
pub use delivery::Delivery;
pub use table::{KEYSPACE, SIGNING_KEYSPACE};

/// Where the signing certificate is served, under the endpoint.
pub const CERTIFICATE_PATH: &str = "/_brume/sns/SimpleNotificationService-brume.pem";

/// Signatures remembered, so that a message fanned out to many subscriptions is signed
/// once; the memory is dropped whole when it reaches this size.
const REMEMBERED_SIGNATURES: usize = 4096;

/// SNS's state: the store, SQS to deliver to, the endpoint its URLs start with, the
/// signing key (made on first use), recent signatures, and the HTTP client of http
/// subscriptions.
pub struct Sns {
    kv: Arc<dyn Kv>,
    sqs: Arc<dyn SqsClient>,
    /// Bound after both services are built: Step Functions publishes through SNS too.
    step_functions: OnceLock<Arc<dyn StepFunctionsClient>>,
    endpoint: String,
    signer: OnceCell<Arc<signing::Signer>>,
    signatures: Mutex<HashMap<[u8; 32], String>>,
    /// An RSA signature takes milliseconds of CPU: they run on the blocking pool, on at most
    /// half the cores, so that a burst of deliveries leaves the others to requests.
    signing: Semaphore,
    /// Made on the first delivery to a web hook: it reads the system's CA certificates.
    http: OnceLock<HttpClient>,
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

impl Sns {
    /// SNS's state over `kv`; SubscribeURL, UnsubscribeURL and SigningCertURL start with
    /// `endpoint` (`http://localhost:4566`). Cheap: nothing is read until needed.
    pub fn new(kv: Arc<dyn Kv>, sqs: Arc<dyn SqsClient>, endpoint: String) -> Arc<Sns> {
        Arc::new(Sns {
            kv,
            sqs,
            step_functions: OnceLock::new(),
            endpoint,
            signer: OnceCell::new(),
            signatures: Mutex::new(HashMap::new()),
            signing: Semaphore::new(std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))),
            http: OnceLock::new(),
        })
    }

    /// Where `stepfunctions` subscriptions start executions.
    pub fn set_step_functions(&self, client: Arc<dyn StepFunctionsClient>) {
        let _ = self.step_functions.set(client);
    }

    /// The client of http and https subscriptions. HTTPS endpoints must present a
    /// certificate the system trusts (`SSL_CERT_FILE` names another bundle), as SNS requires
    /// a CA-signed one; without any system certificates, the Mozilla roots are used.
    fn http(&self) -> &HttpClient {
        self.http.get_or_init(|| {
            let builder = HttpsConnectorBuilder::new();
            let builder = match builder.with_native_roots() {
                Ok(native) => native,
                Err(e) => {
                    tracing::warn!(error = %e, "no system CA certificates; https deliveries trust the Mozilla roots");
                    HttpsConnectorBuilder::new().with_webpki_roots()
                }
            };
            Client::builder(hyper_util::rt::TokioExecutor::new()).build(builder.https_or_http().enable_http1().build())
        })
    }

    async fn signer(&self) -> Result<Arc<signing::Signer>, AwsError> {
        self.signer.get_or_try_init(|| signing::Signer::load_or_create(self.kv.clone())).await.cloned()
    }

    /// The base64 signature of `canonical` for SignatureVersion `version`.
    async fn sign(&self, version: &str, canonical: String) -> Result<String, AwsError> {
        let id: [u8; 32] =
            sha2::Sha256::new().chain_update(version).chain_update([0]).chain_update(&canonical).finalize().into();
        let remembered = |id: &[u8; 32]| self.signatures.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned();
        if let Some(signature) = remembered(&id) {
            return Ok(signature);
        }
        let _permit = self.signing.acquire().await.map_err(|_| AwsError::internal())?;
        // Another delivery of the same message may have signed it while this one waited.
        if let Some(signature) = remembered(&id) {
            return Ok(signature);
        }
        let signer = self.signer().await?;
        let version = version.to_string();
        let signature = tokio::task::spawn_blocking(move || signer.sign(&version, &canonical))
            .await
            .map_err(|_| AwsError::internal())??;
        let mut signatures = self.signatures.lock().unwrap_or_else(|p| p.into_inner());
        if signatures.len() >= REMEMBERED_SIGNATURES {
            signatures.clear();
        }
        signatures.insert(id, signature.clone());
        Ok(signature)
    }

    /// The PEM certificate messages are signed with (served at [`CERTIFICATE_PATH`]).
    pub async fn certificate_pem(&self) -> Result<String, AwsError> {
        Ok(self.signer().await?.certificate_pem().to_string())
    }

    /// What was sent to email, email-json and sms endpoints, oldest first, as JSON
    /// objects; only those to `endpoint` when given.
    pub fn local_messages(&self, endpoint: Option<&str>) -> Result<Vec<serde_json::Value>, AwsError> {
        delivery::local_messages(self.kv.as_ref(), endpoint)
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// The SNS service, ready for the gateway.
pub fn service(state: Arc<Sns>) -> Service {
    ServiceBuilder::new("sns", state)
        .op("CreateTopic", Sns::create_topic)
        .op("DeleteTopic", Sns::delete_topic)
        .op("GetTopicAttributes", Sns::get_topic_attributes)
        .op("SetTopicAttributes", Sns::set_topic_attributes)
        .op("ListTopics", Sns::list_topics)
        .op("TagResource", Sns::tag_resource)
        .op("UntagResource", Sns::untag_resource)
        .op("ListTagsForResource", Sns::list_tags_for_resource)
        .op("AddPermission", Sns::add_permission)
        .op("RemovePermission", Sns::remove_permission)
        .op("GetDataProtectionPolicy", Sns::get_data_protection_policy)
        .op("PutDataProtectionPolicy", Sns::put_data_protection_policy)
        .op("Subscribe", Sns::subscribe)
        .op("ConfirmSubscription", Sns::confirm_subscription)
        .op("Unsubscribe", Sns::unsubscribe)
        .op("ListSubscriptions", Sns::list_subscriptions)
        .op("ListSubscriptionsByTopic", Sns::list_subscriptions_by_topic)
        .op("GetSubscriptionAttributes", Sns::get_subscription_attributes)
        .op("SetSubscriptionAttributes", Sns::set_subscription_attributes)
        .op("Publish", Sns::publish)
        .op("PublishBatch", Sns::publish_batch)
        .build()
}
