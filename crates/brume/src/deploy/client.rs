//! A small SigV4-signed HTTP client of a running Brume: awsQuery calls (CloudFormation, STS)
//! answered in XML, and S3 path-style PUTs.

use anyhow::{Context, Result, anyhow};
use brume_auth::sign::{Signer, payload_hash};
use brume_protocol::codec::xml_read::{self, Element};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// An error answered by a service: its code and message as AWS words them.
#[derive(Debug)]
pub struct ServiceError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ServiceError {}

/// Where and as whom requests go.
pub struct Client {
    http: HttpClient<HttpConnector, Full<Bytes>>,
    endpoint: String,
    host: String,
    region: String,
    access_key: String,
    secret: String,
}

impl Client {
    pub fn new(endpoint: &str, region: &str, access_key: &str, secret: &str) -> Result<Client> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let uri: Uri = endpoint.parse().with_context(|| format!("invalid endpoint {endpoint}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(anyhow!("the endpoint must be an http:// URL, not {endpoint}"));
        }
        let host = uri.authority().ok_or_else(|| anyhow!("the endpoint {endpoint} names no host"))?.to_string();
        Ok(Client {
            http: HttpClient::builder(TokioExecutor::new()).build_http(),
            endpoint,
            host,
            region: region.to_string(),
            access_key: access_key.to_string(),
            secret: secret.to_string(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    fn signer(&self, service: &'static str) -> Signer {
        Signer::for_service(self.host.clone(), service).with_credentials(&self.region, &self.access_key, &self.secret)
    }

    /// Calls an awsQuery operation and answers its `<Action>Result` element.
    pub async fn query(
        &self,
        service: &'static str,
        version: &str,
        action: &str,
        params: &[(String, String)],
    ) -> Result<Element> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action).append_pair("Version", version);
        for (name, value) in params {
            form.append_pair(name, value);
        }
        let body = form.finish();
        let signed = self.signer(service).sign_query(&payload_hash(body.as_bytes()));
        let request = Request::post(format!("{}/", self.endpoint))
            .header("host", &self.host)
            .header("content-type", brume_auth::sign::FORM_CONTENT_TYPE)
            .header("x-amz-date", signed.amz_date)
            .header("authorization", signed.authorization)
            .body(Full::new(Bytes::from(body)))?;
        let (status, answer) = self.send(request).await?;
        let root = xml_read::parse(&answer).map_err(|e| anyhow!("unreadable answer to {action}: {e}"))?;
        if !status.is_success() {
            return Err(service_error(&root, status).into());
        }
        let result = format!("{action}Result");
        Ok(root.children.into_iter().find(|c| c.name == result).unwrap_or_default())
    }

    /// PUTs `body` at `/bucket[/key]` in S3.
    pub async fn s3_put(&self, path: &str, body: Vec<u8>) -> Result<()> {
        let hash = payload_hash(&body);
        let signed = self.signer("s3").sign_s3("PUT", path, &hash);
        let request = Request::builder()
            .method(Method::PUT)
            .uri(format!("{}{path}", self.endpoint))
            .header("host", &self.host)
            .header("x-amz-content-sha256", &hash)
            .header("x-amz-date", signed.amz_date)
            .header("authorization", signed.authorization)
            .body(Full::new(Bytes::from(body)))?;
        let (status, answer) = self.send(request).await?;
        if status.is_success() {
            return Ok(());
        }
        let root = xml_read::parse(&answer).map_err(|e| anyhow!("unreadable answer of S3 to PUT {path}: {e}"))?;
        Err(service_error(&root, status).into())
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes)> {
        let response =
            self.http.request(request).await.with_context(|| format!("cannot reach Brume at {}", self.endpoint))?;
        let status = response.status();
        let body = response.into_body().collect().await.context("reading Brume's answer")?.to_bytes();
        Ok((status, body))
    }
}

/// The `<Error>` of an answer (awsQuery's `<ErrorResponse><Error>` or S3's root `<Error>`).
fn service_error(root: &Element, status: StatusCode) -> ServiceError {
    let error = if root.name == "Error" { Some(root) } else { root.child("Error") };
    let text = |name| error.and_then(|e| e.child(name)).map(|e| e.text.clone()).unwrap_or_default();
    let code = text("Code");
    ServiceError { code: if code.is_empty() { status.to_string() } else { code }, message: text("Message") }
}

/// The text of the element at `path` below `element`.
pub fn text<'a>(element: &'a Element, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(element, |e, name| e.child(name)).map(|e| e.text.as_str())
}

/// The `<member>`s of the list at `path` below `element`.
pub fn members<'a>(element: &'a Element, path: &[&str]) -> impl Iterator<Item = &'a Element> {
    path.iter().try_fold(element, |e, name| e.child(name)).into_iter().flat_map(|list| list.children.iter())
}
