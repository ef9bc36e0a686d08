//! `/_brume/*`: health (also at LocalStack's `/_localstack/health`, for tooling that waits
//! on it), reset, which wipes all state or one service's without a restart, jobs, and the
//! read-only views services register.

use http::request::Parts;
use http::{Method, Response, StatusCode};
use serde_json::{Value, json};

use brume_protocol::codec::{ResponseBody, full_body};
use brume_storage::{Direction, KeyRange, StorageError, Txn};

use crate::Gateway;

/// How many keys one reset transaction deletes, so a large keyspace never makes one huge
/// transaction.
const RESET_BATCH: usize = 1000;

/// How many pending events `/_brume/events` lists.
const MAX_LISTED_EVENTS: usize = 1000;

impl Gateway {
    /// Answers admin paths; `None` for every other request.
    pub(crate) async fn admin(&self, parts: &Parts) -> Option<Response<ResponseBody>> {
        let path = parts.uri.path();
        match (&parts.method, path) {
            (&Method::GET | &Method::HEAD, "/_brume/health" | "/_localstack/health") => {
                Some(json_response(StatusCode::OK, self.health()))
            }
            (&Method::POST, "/_brume/reset") => Some(self.reset(parts).await),
            (&Method::GET, "/_brume/events") => Some(self.pending_events()),
            (&Method::POST, _) if path.starts_with("/_brume/jobs/") => {
                Some(self.run_job(&path["/_brume/jobs/".len()..]).await)
            }
            (&Method::GET, _) if path.strip_prefix("/_brume/").is_some_and(|n| self.views.contains_key(n)) => {
                Some(self.view(&path["/_brume/".len()..], parts.uri.query()).await)
            }
            _ if path.starts_with("/_brume/") => {
                Some(json_response(StatusCode::NOT_FOUND, json!({"error": format!("no admin endpoint {path}")})))
            }
            _ => None,
        }
    }

    fn health(&self) -> Value {
        let services: serde_json::Map<String, Value> = self
            .services
            .iter()
            .map(|(name, e)| {
                // "available" until the first request builds the service, as LocalStack says.
                let state = if e.built.get().is_some() { "running" } else { "available" };
                (name.to_string(), Value::from(state))
            })
            .collect();
        json!({
            "version": self.settings.version,
            "edition": "brume",
            "uptime_seconds": self.started.elapsed().as_secs_f64(),
            "services": services,
        })
    }

    async fn run_job(&self, name: &str) -> Response<ResponseBody> {
        let Some(job) = self.jobs.get(name) else {
            return json_response(StatusCode::NOT_FOUND, json!({"error": format!("no job {name}")}));
        };
        match job().await {
            Ok(summary) => json_response(StatusCode::OK, summary),
            Err(e) => {
                tracing::error!(job = name, error = %e, "job failed");
                json_response(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": e}))
            }
        }
    }

    async fn view(&self, name: &str, query: Option<&str>) -> Response<ResponseBody> {
        let Some(view) = self.views.get(name) else {
            return json_response(StatusCode::NOT_FOUND, json!({"error": format!("no admin endpoint /_brume/{name}")}));
        };
        match view(query.map(str::to_string)).await {
            Ok((content_type, body)) => {
                let mut resp = Response::new(full_body(body));
                if let Ok(value) = http::HeaderValue::from_str(content_type) {
                    resp.headers_mut().insert(http::header::CONTENT_TYPE, value);
                }
                resp
            }
            Err(e) => {
                tracing::error!(view = name, error = %e, "admin view failed");
                json_response(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": e}))
            }
        }
    }

    /// The deliveries waiting in the outbox: what services have queued for each other.
    fn pending_events(&self) -> Response<ResponseBody> {
        match brume_events::pending(self.storage.kv.as_ref(), MAX_LISTED_EVENTS) {
            Ok(events) => json_response(StatusCode::OK, json!({ "events": events })),
            Err(e) => {
                tracing::error!(error = %e, "listing pending events failed");
                json_response(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "listing events failed"}))
            }
        }
    }

    async fn reset(&self, parts: &Parts) -> Response<ResponseBody> {
        let only = parts.uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "service").map(|(_, v)| v.into_owned())
        });
        let names: Vec<&'static str> = match &only {
            Some(name) => match self.services.get_key_value(name.as_str()) {
                Some((n, _)) => vec![*n],
                None => {
                    return json_response(StatusCode::NOT_FOUND, json!({"error": format!("no service {name}")}));
                }
            },
            None => self.service_names(),
        };
        for name in &names {
            for keyspace in self.services[name].keyspaces {
                if let Err(e) = self.clear(keyspace).await {
                    tracing::error!(error = %e, keyspace, "reset failed");
                    return json_response(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "reset failed"}));
                }
            }
        }
        // A full reset also empties the outbox and the blob store, which no one keyspace owns.
        if only.is_none() {
            let wiped = async {
                self.clear(brume_events::EVENTS_KEYSPACE).await?;
                self.storage.blobs.sweep(&Default::default()).await
            };
            if let Err(e) = wiped.await {
                tracing::error!(error = %e, "reset failed");
                return json_response(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "reset failed"}));
            }
        }
        tracing::info!(services = ?names, "state reset");
        json_response(StatusCode::OK, json!({"reset": names}))
    }

    async fn clear(&self, keyspace: &'static str) -> Result<(), StorageError> {
        loop {
            let deleted = self
                .storage
                .kv
                .transact(move |txn: &mut dyn Txn| {
                    let batch = txn.scan(keyspace, &KeyRange::all(), Direction::Forward, RESET_BATCH)?;
                    for (k, _) in &batch {
                        txn.delete(keyspace, k)?;
                    }
                    Ok::<_, StorageError>(batch.len())
                })
                .await?;
            if deleted < RESET_BATCH {
                return Ok(());
            }
        }
    }
}

fn json_response(status: StatusCode, body: Value) -> Response<ResponseBody> {
    let mut resp = Response::new(full_body(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}
