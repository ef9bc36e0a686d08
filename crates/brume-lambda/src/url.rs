//! Function URLs: the configuration operations, and the HTTP endpoint that serves each
//! URL at `http://URL_ID.lambda-url.REGION.localhost:PORT/`, turning requests into the
//! payload format 2.0 event and the function's answer into the HTTP response, as
//! Lambda's URLs do (CORS answered by the URL itself, `AWS_IAM` URLs only for signed
//! callers).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use brume_core::{AwsError, RequestContext};
use brume_protocol::ServiceBuilder;
use brume_protocol::endpoint::{Caller, EndpointRequest};
use brume_storage::{Direction, KeyRange};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::executor::Invocation;
use crate::{KEYSPACE, Lambda, error};

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder
        .op("CreateFunctionUrlConfig", Lambda::create_function_url_config)
        .op("GetFunctionUrlConfig", Lambda::get_function_url_config)
        .op("UpdateFunctionUrlConfig", Lambda::update_function_url_config)
        .op("DeleteFunctionUrlConfig", Lambda::delete_function_url_config)
        .op("ListFunctionUrlConfigs", Lambda::list_function_url_configs)
}

/// A function URL, stored under `url/ID`, with `urlfn/FUNCTION_ARN/QUALIFIER` naming it.
#[derive(Clone, Serialize, Deserialize)]
struct UrlRecord {
    id: String,
    account: String,
    region: String,
    /// The function's unqualified ARN, and the alias (or `$LATEST`) the URL invokes.
    function: String,
    qualifier: Option<String>,
    auth_type: String,
    cors: Option<Value>,
    invoke_mode: String,
    created: String,
    modified: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UrlConfigInput {
    function_name: String,
    qualifier: Option<String>,
    auth_type: Option<String>,
    cors: Option<Value>,
    invoke_mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UrlTarget {
    function_name: String,
    qualifier: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUrlsInput {
    function_name: String,
    marker: Option<String>,
    max_items: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UrlConfig {
    function_url: String,
    function_arn: String,
    auth_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cors: Option<Value>,
    creation_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified_time: Option<String>,
    invoke_mode: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUrlsOutput {
    function_url_configs: Vec<UrlConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

fn url_key(id: &str) -> Vec<u8> {
    format!("url/{id}").into_bytes()
}

fn function_key(function: &str, qualifier: Option<&str>) -> Vec<u8> {
    format!("urlfn/{function}/{}", qualifier.unwrap_or("")).into_bytes()
}

/// Removes the URLs of function `function` (its unqualified ARN), in the transaction
/// that deletes it.
pub(crate) fn delete_function_urls(txn: &mut dyn brume_storage::Txn, function: &str) -> Result<(), AwsError> {
    let prefix = format!("urlfn/{function}/").into_bytes();
    for (key, id) in txn.scan(KEYSPACE, &KeyRange::prefix(&prefix), Direction::Forward, usize::MAX)? {
        txn.delete(KEYSPACE, &url_key(&String::from_utf8_lossy(&id)))?;
        txn.delete(KEYSPACE, &key)?;
    }
    Ok(())
}

fn now() -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

fn validate(auth_type: Option<&str>, invoke_mode: Option<&str>) -> Result<(), AwsError> {
    if let Some(auth) = auth_type.filter(|a| !matches!(*a, "NONE" | "AWS_IAM")) {
        return Err(error::invalid_parameter(format!(
            "1 validation error detected: Value '{auth}' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"
        )));
    }
    if let Some(mode) = invoke_mode.filter(|m| !matches!(*m, "BUFFERED" | "RESPONSE_STREAM")) {
        return Err(error::invalid_parameter(format!(
            "1 validation error detected: Value '{mode}' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"
        )));
    }
    Ok(())
}

/// URLs point at `$LATEST` or an alias, never at a version number.
fn check_qualifier(qualifier: Option<&str>) -> Result<(), AwsError> {
    if qualifier.is_some_and(|q| q.bytes().all(|b| b.is_ascii_digit())) {
        return Err(error::invalid_parameter(
            "1 validation error detected: Value at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)",
        ));
    }
    Ok(())
}

fn not_found() -> AwsError {
    error::not_found("The resource you requested does not exist.")
}

impl Lambda {
    /// The URL clients reach a function URL at.
    fn url_of(&self, record: &UrlRecord) -> String {
        let port = self.settings.endpoint.rsplit(':').next().unwrap_or("4566").trim_end_matches('/');
        format!("http://{}.lambda-url.{}.localhost:{port}/", record.id, record.region)
    }

    fn url_config(&self, record: &UrlRecord, modified: bool) -> UrlConfig {
        let arn = match &record.qualifier {
            Some(q) => format!("{}:{q}", record.function),
            None => record.function.clone(),
        };
        UrlConfig {
            function_url: self.url_of(record),
            function_arn: arn,
            auth_type: record.auth_type.clone(),
            cors: record.cors.clone(),
            creation_time: record.created.clone(),
            last_modified_time: modified.then(|| record.modified.clone()),
            invoke_mode: record.invoke_mode.clone(),
        }
    }

    async fn url_record(&self, ctx: &RequestContext, target: &UrlTarget) -> Result<UrlRecord, AwsError> {
        check_qualifier(target.qualifier.as_deref())?;
        let resolved =
            self.resolve(&ctx.account, &ctx.region, &target.function_name, target.qualifier.as_deref()).await?;
        let key = function_key(&resolved.spec.arn, target.qualifier.as_deref());
        let id = self.kv.get(KEYSPACE, &key)?.ok_or_else(not_found)?;
        let raw = self.kv.get(KEYSPACE, &url_key(&String::from_utf8_lossy(&id)))?.ok_or_else(not_found)?;
        serde_json::from_slice(&raw).map_err(|_| AwsError::internal())
    }

    async fn create_function_url_config(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UrlConfigInput,
    ) -> Result<UrlConfig, AwsError> {
        check_qualifier(input.qualifier.as_deref())?;
        validate(input.auth_type.as_deref(), input.invoke_mode.as_deref())?;
        let auth_type = input.auth_type.ok_or_else(|| {
            error::invalid_parameter(
                "1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null",
            )
        })?;
        let resolved =
            self.resolve(&ctx.account, &ctx.region, &input.function_name, input.qualifier.as_deref()).await?;
        let stamp = now();
        let record = UrlRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            function: resolved.spec.arn.clone(),
            qualifier: input.qualifier.clone(),
            auth_type,
            cors: input.cors,
            invoke_mode: input.invoke_mode.unwrap_or_else(|| "BUFFERED".into()),
            created: stamp.clone(),
            modified: stamp,
        };
        let stored = record.clone();
        let arn = resolved.invoked_arn.clone();
        self.kv
            .transact(move |txn| {
                let by_function = function_key(&stored.function, stored.qualifier.as_deref());
                if txn.get(KEYSPACE, &by_function)?.is_some() {
                    return Err(error::conflict(format!(
                        "Failed to create function url config for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this Lambda function"
                    )));
                }
                txn.put(KEYSPACE, &by_function, stored.id.as_bytes())?;
                let value = serde_json::to_vec(&stored).map_err(|_| AwsError::internal())?;
                txn.put(KEYSPACE, &url_key(&stored.id), &value)?;
                Ok(())
            })
            .await?;
        Ok(self.url_config(&record, false))
    }

    async fn get_function_url_config(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UrlTarget,
    ) -> Result<UrlConfig, AwsError> {
        let record = self.url_record(&ctx, &input).await?;
        Ok(self.url_config(&record, true))
    }

    async fn update_function_url_config(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UrlConfigInput,
    ) -> Result<UrlConfig, AwsError> {
        validate(input.auth_type.as_deref(), input.invoke_mode.as_deref())?;
        let target = UrlTarget { function_name: input.function_name, qualifier: input.qualifier };
        let mut record = self.url_record(&ctx, &target).await?;
        if let Some(auth) = input.auth_type {
            record.auth_type = auth;
        }
        if let Some(cors) = input.cors {
            record.cors = Some(cors);
        }
        if let Some(mode) = input.invoke_mode {
            record.invoke_mode = mode;
        }
        record.modified = now();
        let value = serde_json::to_vec(&record).map_err(|_| AwsError::internal())?;
        let key = url_key(&record.id);
        self.kv.transact(move |txn| txn.put(KEYSPACE, &key, &value)).await?;
        Ok(self.url_config(&record, true))
    }

    async fn delete_function_url_config(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UrlTarget,
    ) -> Result<serde_json::Map<String, Value>, AwsError> {
        let record = self.url_record(&ctx, &input).await?;
        self.kv
            .transact(move |txn| {
                txn.delete(KEYSPACE, &url_key(&record.id))?;
                txn.delete(KEYSPACE, &function_key(&record.function, record.qualifier.as_deref()))
            })
            .await?;
        Ok(serde_json::Map::new())
    }

    async fn list_function_url_configs(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListUrlsInput,
    ) -> Result<ListUrlsOutput, AwsError> {
        let resolved = self.resolve(&ctx.account, &ctx.region, &input.function_name, None).await?;
        let prefix = format!("urlfn/{}/", resolved.spec.arn).into_bytes();
        let limit = input.max_items.unwrap_or(50).clamp(1, 50);
        let start = match &input.marker {
            Some(marker) => {
                let mut key = prefix.clone();
                key.extend_from_slice(marker.as_bytes());
                key.push(0);
                key
            }
            None => prefix.clone(),
        };
        let mut end = prefix.clone();
        end.push(0xff);
        let pairs = self.kv.scan(KEYSPACE, &KeyRange::between(&start, &end), Direction::Forward, limit + 1)?;
        let more = pairs.len() > limit;
        let mut configs = Vec::new();
        let mut last = None;
        for (key, id) in pairs.into_iter().take(limit) {
            if let Some(raw) = self.kv.get(KEYSPACE, &url_key(&String::from_utf8_lossy(&id)))? {
                let record: UrlRecord = serde_json::from_slice(&raw).map_err(|_| AwsError::internal())?;
                configs.push(self.url_config(&record, true));
            }
            last = Some(String::from_utf8_lossy(&key[prefix.len()..]).into_owned());
        }
        Ok(ListUrlsOutput { function_url_configs: configs, next_marker: if more { last } else { None } })
    }

    /// Serves one request to a function URL.
    pub async fn serve_url(self: Arc<Self>, request: EndpointRequest) -> Response<Bytes> {
        let record = match self.kv.get(KEYSPACE, &url_key(&request.id)) {
            Ok(Some(raw)) => match serde_json::from_slice::<UrlRecord>(&raw) {
                Ok(record) => record,
                Err(_) => return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
            },
            Ok(None) => return message(StatusCode::NOT_FOUND, "Not Found"),
            Err(_) => return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        };
        let cors = record.cors.as_ref().map(Cors::from_config);
        let origin = request.request.headers().get("origin").and_then(|o| o.to_str().ok()).map(str::to_string);
        if let (Some(cors), Some(origin)) = (&cors, &origin)
            && request.request.method() == http::Method::OPTIONS
            && request.request.headers().contains_key("access-control-request-method")
        {
            return cors.preflight(origin);
        }
        let iam = match (&request.caller, record.auth_type.as_str()) {
            (_, "NONE") => None,
            (Caller::Signed(ctx), _) => Some(ctx.clone()),
            (Caller::Rejected(e), _) => return message(StatusCode::FORBIDDEN, &e.message),
            (Caller::Unsigned, _) => return message(StatusCode::FORBIDDEN, "Forbidden"),
        };
        let event = url_event(&record, &request, iam.as_ref());
        let invocation = Invocation {
            request_id: request.request_id.clone(),
            payload: Bytes::from(event.to_string()),
            ..Default::default()
        };
        let outcome = self
            .invoke_function(&record.account, &record.region, &record.function, record.qualifier.as_deref(), invocation)
            .await;
        let mut response = match outcome {
            Ok((_, outcome)) if outcome.function_error.is_none() => http_response(&outcome.payload),
            Ok(_) => message(StatusCode::BAD_GATEWAY, "Internal Server Error"),
            Err(e) if e.status == 429 => message(StatusCode::TOO_MANY_REQUESTS, "Rate Exceeded."),
            Err(e) => message(StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_GATEWAY), &e.message),
        };
        if let (Some(cors), Some(origin)) = (&cors, &origin) {
            cors.decorate(origin, response.headers_mut());
        }
        if let Ok(id) = HeaderValue::from_str(&request.request_id) {
            response.headers_mut().insert("x-amzn-requestid", id);
        }
        response
    }
}

fn message(status: StatusCode, text: &str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(json!({ "Message": text }).to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Whether a body of `content_type` is passed to the function as text.
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    ct.starts_with("text/")
        || ["application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded"]
            .contains(&ct.as_str())
        || ct.ends_with("+json")
        || ct.ends_with("+xml")
}

/// The payload format 2.0 event of an HTTP request.
fn url_event(record: &UrlRecord, request: &EndpointRequest, iam: Option<&RequestContext>) -> Value {
    let req = &request.request;
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers() {
        if name == http::header::COOKIE {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.entry(name.as_str().to_string()).and_modify(|v| *v = format!("{v},{value}")).or_insert(value);
    }
    let cookies: Vec<String> = req
        .headers()
        .get_all(http::header::COOKIE)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes()).split(';').map(|c| c.trim().to_string()).collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
        .collect();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        query.entry(k.into_owned()).and_modify(|e| *e = format!("{e},{v}")).or_insert_with(|| v.into_owned());
    }
    let body = req.body();
    let text = is_text(headers.get("content-type").map(String::as_str)) && std::str::from_utf8(body).is_ok();
    let now = time::OffsetDateTime::now_utc();
    let time_format =
        time::macros::format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    let host = headers.get("host").cloned().unwrap_or_default();
    let mut context = json!({
        "accountId": if iam.is_some() { Value::from(record.account.clone()) } else { Value::from("anonymous") },
        "apiId": record.id,
        "domainName": host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h),
        "domainPrefix": record.id,
        "http": {
            "method": req.method().as_str(),
            "path": req.uri().path(),
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
        },
        "requestId": request.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": now.format(&time_format).unwrap_or_default(),
        "timeEpoch": (now.unix_timestamp_nanos() / 1_000_000) as i64,
    });
    if let Some(ctx) = iam {
        context["authorizer"] = json!({ "iam": {
            "accessKey": ctx.access_key_id,
            "accountId": ctx.account,
            "callerId": ctx.access_key_id,
            "cognitoIdentity": null,
            "principalOrgId": null,
            "userArn": ctx.caller_arn(),
            "userId": ctx.access_key_id,
        }});
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": req.uri().path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": !text,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !body.is_empty() {
        event["body"] = if text {
            Value::from(String::from_utf8_lossy(body).into_owned())
        } else {
            Value::from(BASE64.encode(body))
        };
    }
    event
}

/// The HTTP response of a function's answer: a `statusCode` object as it says, anything
/// else as a JSON 200.
fn http_response(payload: &[u8]) -> Response<Bytes> {
    let value: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let Some(status) = value.get("statusCode").and_then(Value::as_u64) else {
        let mut response = Response::new(Bytes::copy_from_slice(payload));
        response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return response;
    };
    let body = match value.get("body") {
        Some(Value::String(s)) if value.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
            BASE64.decode(s).map(Bytes::from).unwrap_or_default()
        }
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(Value::Null) | None => Bytes::new(),
        Some(other) => Bytes::from(other.to_string()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(map) = value.get("headers").and_then(Value::as_object) {
        for (name, v) in map {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            if let (Ok(name), Ok(v)) = (http::HeaderName::try_from(name.as_str()), HeaderValue::from_str(&text)) {
                headers.insert(name, v);
            }
        }
    }
    for cookie in value.get("cookies").and_then(Value::as_array).into_iter().flatten() {
        if let Some(Ok(v)) = cookie.as_str().map(HeaderValue::from_str) {
            headers.append(http::header::SET_COOKIE, v);
        }
    }
    response
}

/// A URL's CORS configuration.
struct Cors {
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    expose: Vec<String>,
    credentials: bool,
    max_age: Option<u64>,
}

impl Cors {
    fn from_config(config: &Value) -> Cors {
        let list = |name: &str| -> Vec<String> {
            config
                .get(name)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        Cors {
            origins: list("AllowOrigins"),
            methods: list("AllowMethods"),
            headers: list("AllowHeaders"),
            expose: list("ExposeHeaders"),
            credentials: config.get("AllowCredentials").and_then(Value::as_bool).unwrap_or(false),
            max_age: config.get("MaxAge").and_then(Value::as_u64),
        }
    }

    fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }

    fn decorate(&self, origin: &str, headers: &mut HeaderMap) {
        if !self.allows(origin) {
            return;
        }
        let allowed = if self.origins.iter().any(|o| o == "*") && !self.credentials { "*" } else { origin };
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        set("access-control-allow-origin", allowed.to_string());
        if self.credentials {
            set("access-control-allow-credentials", "true".into());
        }
        if !self.expose.is_empty() {
            set("access-control-expose-headers", self.expose.join(","));
        }
    }

    fn preflight(&self, origin: &str) -> Response<Bytes> {
        let mut response = Response::new(Bytes::new());
        if !self.allows(origin) {
            return response;
        }
        self.decorate(origin, response.headers_mut());
        let headers = response.headers_mut();
        for (name, values) in
            [("access-control-allow-methods", &self.methods), ("access-control-allow-headers", &self.headers)]
        {
            if let Ok(v) = HeaderValue::from_str(&values.join(",")) {
                headers.insert(name, v);
            }
        }
        if let Some(age) = self.max_age {
            headers.insert("access-control-max-age", HeaderValue::from(age));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_http_responses() {
        let plain = http_response(br#"{"a": 1}"#);
        assert_eq!(plain.status(), 200);
        assert_eq!(&plain.body()[..], br#"{"a": 1}"#);
        let shaped = http_response(
            br#"{"statusCode": 201, "headers": {"x-one": "1", "content-type": "text/plain"}, "body": "made", "cookies": ["a=1", "b=2"]}"#,
        );
        assert_eq!(shaped.status(), 201);
        assert_eq!(shaped.headers()["content-type"], "text/plain");
        assert_eq!(shaped.headers().get_all("set-cookie").iter().count(), 2);
        assert_eq!(&shaped.body()[..], b"made");
        let binary = http_response(br#"{"statusCode": 200, "body": "AAEC", "isBase64Encoded": true}"#);
        assert_eq!(&binary.body()[..], &[0, 1, 2]);
    }

    #[test]
    fn text_bodies_are_told_from_binary_ones() {
        assert!(is_text(Some("application/json; charset=utf-8")));
        assert!(is_text(Some("text/html")));
        assert!(is_text(None));
        assert!(!is_text(Some("image/png")));
        assert!(!is_text(Some("application/octet-stream")));
    }
}
