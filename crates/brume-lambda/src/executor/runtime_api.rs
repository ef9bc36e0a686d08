//! The Lambda Runtime API (`2018-06-01`) of one execution environment, on its own
//! loopback port: the runtime long-polls `invocation/next`, then posts the response or
//! the error of that invocation; `init/error` reports a runtime that cannot start.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Notify, mpsc, oneshot};

use super::Invocation;

/// Where an environment's Runtime API listens: loopback TCP, or a Unix socket that a
/// sandboxed runtime reaches through its bridge.
pub(super) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// The largest response a synchronous invocation may return: Lambda's "6 MB" is 6,291,556
/// bytes, as its error message says.
pub(super) const MAX_RESPONSE: usize = 6_291_556;

/// An invocation handed to the runtime, and where its result goes.
pub(super) struct Job {
    pub invocation: Invocation,
    pub deadline_ms: u64,
    /// Told when the runtime takes the invocation: its initialisation is over.
    pub picked: oneshot::Sender<()>,
    pub done: oneshot::Sender<RuntimeResult>,
}

/// What the runtime posted for an invocation.
#[derive(Debug)]
pub(super) enum RuntimeResult {
    Response(Bytes),
    /// The error document, and the `Lambda-Runtime-Function-Error-Type` header.
    Error(Bytes, Option<String>),
    /// The response was larger than [`MAX_RESPONSE`].
    TooLarge,
}

/// The state one environment's Runtime API serves from.
pub(super) struct RuntimeApi {
    jobs: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    /// The invocation the runtime holds: its request id and where its result goes.
    current: Mutex<Option<(String, oneshot::Sender<RuntimeResult>)>>,
    /// The error the runtime posted to `init/error`, if it did.
    init_error: Mutex<Option<Bytes>>,
    pub init_failed: Notify,
}

impl RuntimeApi {
    pub fn new(jobs: mpsc::Receiver<Job>) -> Arc<RuntimeApi> {
        Arc::new(RuntimeApi {
            jobs: tokio::sync::Mutex::new(jobs),
            current: Mutex::new(None),
            init_error: Mutex::new(None),
            init_failed: Notify::new(),
        })
    }

    pub fn init_error(&self) -> Option<Bytes> {
        self.init_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Serves the API on `listener` until the environment drops the returned task.
    pub fn serve(self: &Arc<Self>, listener: Listener) -> tokio::task::JoinHandle<()> {
        let api = self.clone();
        tokio::spawn(async move {
            loop {
                match &listener {
                    Listener::Tcp(tcp) => {
                        let Ok((stream, _)) = tcp.accept().await else { continue };
                        let _ = stream.set_nodelay(true);
                        api.connection(stream);
                    }
                    Listener::Unix(unix) => {
                        let Ok((stream, _)) = unix.accept().await else { continue };
                        api.connection(stream);
                    }
                }
            }
        })
    }

    fn connection<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static>(
        self: &Arc<Self>,
        stream: S,
    ) {
        let api = self.clone();
        let svc = service_fn(move |req| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(api.handle(req).await) }
        });
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "runtime API connection ended with an error");
            }
        });
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
            return reply(StatusCode::NOT_FOUND, error_doc("InvalidRequest", "unknown path"));
        };
        match (req.method(), rest) {
            (&Method::GET, "invocation/next") => self.next().await,
            (&Method::POST, "init/error") => {
                let body = read_body(req).await.unwrap_or_default();
                *self.init_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(body);
                self.init_failed.notify_one();
                reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.into())
            }
            (&Method::POST, rest) => {
                let Some((id, what)) = rest.strip_prefix("invocation/").and_then(|r| r.rsplit_once('/')) else {
                    return reply(StatusCode::NOT_FOUND, error_doc("InvalidRequest", "unknown path"));
                };
                let error_type = header(&req, "lambda-runtime-function-error-type");
                let id = id.to_string();
                let result = match (what, read_body(req).await) {
                    ("response", Ok(body)) => RuntimeResult::Response(body),
                    ("response", Err(())) => RuntimeResult::TooLarge,
                    ("error", body) => RuntimeResult::Error(body.unwrap_or_default(), error_type),
                    _ => return reply(StatusCode::NOT_FOUND, error_doc("InvalidRequest", "unknown path")),
                };
                self.complete(&id, result)
            }
            _ => reply(StatusCode::METHOD_NOT_ALLOWED, error_doc("InvalidRequest", "method not allowed")),
        }
    }

    /// Waits for the next invocation and hands it to the runtime.
    async fn next(&self) -> Response<Full<Bytes>> {
        let job = {
            let mut jobs = self.jobs.lock().await;
            match jobs.recv().await {
                Some(job) => job,
                // The environment is going away; the runtime is about to be killed.
                None => return reply(StatusCode::GONE, error_doc("EnvironmentStopped", "environment stopped")),
            }
        };
        let inv = &job.invocation;
        let mut response = Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &inv.request_id)
            .header("lambda-runtime-deadline-ms", job.deadline_ms.to_string())
            .header("lambda-runtime-invoked-function-arn", &inv.invoked_arn);
        if let Some(trace) = &inv.trace_id {
            response = response.header("lambda-runtime-trace-id", trace);
        }
        if let Some(context) = &inv.client_context {
            response = response.header("lambda-runtime-client-context", context);
        }
        if let Some(identity) = &inv.cognito_identity {
            response = response.header("lambda-runtime-cognito-identity", identity);
        }
        let response = response.body(Full::new(inv.payload.clone()));
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some((inv.request_id.clone(), job.done));
        let _ = job.picked.send(());
        response.unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, Bytes::new()))
    }

    fn complete(&self, id: &str, result: RuntimeResult) -> Response<Full<Bytes>> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match current.take() {
            Some((held, done)) if held == id => {
                let status = match result {
                    RuntimeResult::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::ACCEPTED,
                };
                let _ = done.send(result);
                reply(status, r#"{"status":"OK"}"#.into())
            }
            other => {
                *current = other;
                reply(StatusCode::BAD_REQUEST, error_doc("InvalidRequestID", "Invalid request ID"))
            }
        }
    }
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// The body, unless it is larger than [`MAX_RESPONSE`].
async fn read_body(req: Request<Incoming>) -> Result<Bytes, ()> {
    Limited::new(req.into_body(), MAX_RESPONSE).collect().await.map(|body| body.to_bytes()).map_err(|_| ())
}

fn error_doc(kind: &str, message: &str) -> Bytes {
    serde_json::json!({ "errorType": kind, "errorMessage": message }).to_string().into()
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", http::HeaderValue::from_static("application/json"));
    response
}
