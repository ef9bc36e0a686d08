//! Brume's one HTTP port. Every request is identified (which service), authenticated
//! (SigV4), decoded by its protocol's codec, handed to its service's handler, and
//! answered; `/_brume/*` (and LocalStack's health path) serve health and admin.
//!
//! Services are registered as factories and built on their first request, so start-up
//! loads nothing a request does not need.

mod admin;
mod cors;
mod dispatch;
mod endpoint;
mod form_upload;
mod payload;
pub mod route;
mod server;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use brume_auth::Verifier;
use brume_protocol::Service;
use brume_storage::Storage;

pub use server::serve;

/// How one Brume instance answers: region and account defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    pub region: String,
    pub version: &'static str,
}

type Factory = Box<dyn Fn() -> Service + Send + Sync>;

/// A background job a service runs periodically, which `POST /_brume/jobs/NAME` runs now
/// (so tests need not wait for its period). It answers a JSON summary.
pub type Job = Arc<dyn Fn() -> brume_protocol::service::BoxFuture<Result<serde_json::Value, String>> + Send + Sync>;

/// A read-only admin view a service serves at `GET /_brume/NAME`: given the request's
/// query string, it answers a content type and a body (what SNS "sent" to email
/// endpoints, its signing certificate, a Lambda function's code package).
pub type View = Arc<
    dyn Fn(Option<String>) -> brume_protocol::service::BoxFuture<Result<(&'static str, bytes::Bytes), String>>
        + Send
        + Sync,
>;

struct Entry {
    /// The storage keyspaces the service owns, wiped by `/_brume/reset`.
    keyspaces: &'static [&'static str],
    factory: Factory,
    built: OnceLock<Arc<Service>>,
}

/// Everything a request needs: the services, the verifier, the storage.
pub struct Gateway {
    services: BTreeMap<&'static str, Entry>,
    /// Woken after each request, so events a service queued are delivered at once.
    dispatcher: Option<brume_events::Dispatcher>,
    /// The CORS rules of S3 buckets, for browsers' requests.
    cors: Option<Arc<dyn brume_core::cors::CorsPolicy>>,
    jobs: BTreeMap<&'static str, Job>,
    views: BTreeMap<&'static str, View>,
    /// Services' own endpoints by the host label that names them (`lambda-url`).
    endpoints: BTreeMap<&'static str, brume_protocol::endpoint::HostEndpoint>,
    verifier: Arc<Verifier>,
    storage: Storage,
    settings: Settings,
    started: Instant,
}

impl Gateway {
    pub fn new(storage: Storage, verifier: Arc<Verifier>, settings: Settings) -> Self {
        Gateway {
            services: BTreeMap::new(),
            dispatcher: None,
            cors: None,
            jobs: BTreeMap::new(),
            views: BTreeMap::new(),
            endpoints: BTreeMap::new(),
            verifier,
            storage,
            settings,
            started: Instant::now(),
        }
    }

    /// The dispatcher that delivers the outbox: woken after every request.
    pub fn set_dispatcher(&mut self, dispatcher: brume_events::Dispatcher) {
        self.dispatcher = Some(dispatcher);
    }

    /// Where browsers' CORS requests to S3 are decided.
    pub fn set_cors(&mut self, cors: Arc<dyn brume_core::cors::CorsPolicy>) {
        self.cors = Some(cors);
    }

    /// Registers a job that `POST /_brume/jobs/NAME` runs.
    pub fn register_job(&mut self, name: &'static str, job: Job) {
        self.jobs.insert(name, job);
    }

    /// Registers a view that `GET /_brume/NAME` answers (`NAME` may contain slashes).
    pub fn register_view(&mut self, name: &'static str, view: View) {
        self.views.insert(name, view);
    }

    /// Registers a service by its model name, built by `factory` on first use.
    pub fn register(
        &mut self,
        name: &'static str,
        keyspaces: &'static [&'static str],
        factory: impl Fn() -> Service + Send + Sync + 'static,
    ) {
        self.services.insert(name, Entry { keyspaces, factory: Box::new(factory), built: OnceLock::new() });
    }

    /// The service named `name`, built now if this is its first request; services call
    /// each other's operations through it (Step Functions' `aws-sdk` integrations).
    pub fn service(&self, name: &str) -> Option<&Arc<Service>> {
        let entry = self.services.get(name)?;
        Some(entry.built.get_or_init(|| Arc::new((entry.factory)())))
    }

    /// The operations service `name` implements (building it if needed).
    pub fn implemented_operations(&self, name: &str) -> Vec<&'static str> {
        self.service(name).map(|s| s.operations()).unwrap_or_default()
    }

    /// The names of the registered services.
    pub fn service_names(&self) -> Vec<&'static str> {
        self.services.keys().copied().collect()
    }
}
