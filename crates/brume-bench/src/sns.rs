//! SNS figures, over the awsQuery protocol the SDKs use for SNS: Publish at concurrency to
//! a topic with one SQS subscription (each worker on its own keep-alive connection, signing
//! every request), how fast published messages reach the subscribed queue, and how soon
//! one published message can be received from it.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::body::Memory;
use crate::load::{self, Load, Requests, connect};
use crate::sign::{CONTENT_TYPE as FORM, Signer};
use crate::sqs;
use crate::stats::Latencies;

/// A signed awsQuery SNS request with `params` (Action first).
fn request(signer: &mut Signer, params: &[(&str, &str)]) -> Result<Request<Memory>> {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    let signed = signer.sign_query(&hex::encode(Sha256::digest(body.as_bytes())));
    Ok(Request::post("/")
        .header(HOST, signer.host())
        .header(CONTENT_TYPE, FORM)
        .header("x-amz-date", signed.amz_date)
        .header(AUTHORIZATION, signed.authorization)
        .body(Memory::whole(Bytes::from(body)))?)
}

/// Calls SNS once on a new connection; answers the XML response.
async fn call(port: u16, params: &[(&str, &str)]) -> Result<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut signer = Signer::for_service(addr.to_string(), "sns");
    let mut sender = connect(addr).await?;
    let response = sender.send_request(request(&mut signer, params)?).await?;
    let status = response.status();
    let body = String::from_utf8_lossy(&response.into_body().collect().await?.to_bytes()).into_owned();
    if status != StatusCode::OK {
        bail!("{} answered {status}: {body}", params[0].1);
    }
    Ok(body)
}

/// The text of the first `<name>` element of `xml`.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..end].to_string())
}

/// A topic named `name` with one SQS subscription (with raw message delivery when `raw`)
/// to a new queue of the same name; answers the topic's ARN and the queue's URL. The
/// queue's ARN is asked of the server (moto's account is not Brume's).
pub fn topic_with_queue(port: u16, name: &str, raw: bool) -> Result<(String, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let mut queues = sqs::client(port);
        let url = sqs::create_queue(&mut queues, name).await?;
        let (status, attributes) =
            queues.call("GetQueueAttributes", &json!({ "QueueUrl": url, "AttributeNames": ["QueueArn"] })).await?;
        let queue_arn = attributes["Attributes"]["QueueArn"].as_str().filter(|_| status == StatusCode::OK);
        let queue_arn = queue_arn.context("GetQueueAttributes without QueueArn")?.to_string();
        let created = call(port, &[("Action", "CreateTopic"), ("Version", "2010-03-31"), ("Name", name)]).await?;
        let topic = element(&created, "TopicArn").context("CreateTopic without TopicArn")?;
        let mut subscribe = vec![
            ("Action", "Subscribe"),
            ("Version", "2010-03-31"),
            ("TopicArn", topic.as_str()),
            ("Protocol", "sqs"),
            ("Endpoint", queue_arn.as_str()),
        ];
        if raw {
            subscribe.extend([("Attributes.entry.1.key", "RawMessageDelivery"), ("Attributes.entry.1.value", "true")]);
        }
        call(port, &subscribe).await?;
        Ok((topic, url))
    })
}

/// Publish of a 64 B message to one topic, for the load generator.
struct Publish {
    signer: Signer,
    topic: String,
    message: String,
}

impl Requests for Publish {
    fn next(&mut self) -> Result<Request<Memory>> {
        let params = [
            ("Action", "Publish"),
            ("Version", "2010-03-31"),
            ("TopicArn", self.topic.as_str()),
            ("Message", self.message.as_str()),
        ];
        request(&mut self.signer, &params)
    }
}

/// `concurrency` workers publishing to `topic` back to back.
pub fn publishes(port: u16, topic: &str, concurrency: usize, warmup: Duration, measure: Duration) -> Result<Load> {
    load::run(port, concurrency, warmup, measure, |addr, _| Publish {
        signer: Signer::for_service(addr.to_string(), "sns"),
        topic: topic.to_string(),
        message: "x".repeat(64),
    })
}

/// Publishes `count` messages to `topic` (PublishBatch, 10 a call, 8 calls at a time) and
/// waits until the queue `url` holds them all; answers the time from the first request.
pub fn fan_out(port: u16, topic: &str, url: &str, count: usize) -> Result<Duration> {
    const CALLERS: usize = 8;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let started = Instant::now();
        let callers: Vec<_> = (0..CALLERS)
            .map(|c| {
                let topic = topic.to_string();
                tokio::spawn(async move {
                    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                    let mut signer = Signer::for_service(addr.to_string(), "sns");
                    for batch in (c * 10..count).step_by(CALLERS * 10) {
                        let entries: Vec<(String, String)> = (batch..(batch + 10).min(count))
                            .enumerate()
                            .flat_map(|(i, m)| {
                                let prefix = format!("PublishBatchRequestEntries.member.{}", i + 1);
                                [
                                    (format!("{prefix}.Id"), format!("m{m}")),
                                    (format!("{prefix}.Message"), format!("message {m}")),
                                ]
                            })
                            .collect();
                        let mut params =
                            vec![("Action", "PublishBatch"), ("Version", "2010-03-31"), ("TopicArn", topic.as_str())];
                        params.extend(entries.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                        let mut sender = connect(addr).await?;
                        let response = sender.send_request(request(&mut signer, &params)?).await?;
                        let status = response.status();
                        let body = response.into_body().collect().await?.to_bytes();
                        if status != StatusCode::OK || String::from_utf8_lossy(&body).contains("<Failed><member>") {
                            bail!("PublishBatch answered {status}: {}", String::from_utf8_lossy(&body));
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for c in callers {
            c.await.context("publisher panicked")??;
        }
        let mut queues = sqs::client(port);
        loop {
            let input = json!({ "QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"] });
            let (_, out) = queues.call("GetQueueAttributes", &input).await?;
            let held: usize =
                out["Attributes"]["ApproximateNumberOfMessages"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0);
            if held >= count {
                return Ok(started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(300) {
                bail!("only {held} of {count} messages reached the queue");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

/// `samples` times: a long poll waits on the empty queue `url`, a Publish to `topic` is
/// sent; answers the time from the Publish request to the long poll's answer with the
/// message (the delivery through the outbox included).
pub fn publish_to_receive(port: u16, topic: &str, url: &str, samples: usize) -> Result<Latencies> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let mut sender = sqs::client(port);
        let mut took = Vec::with_capacity(samples);
        for _ in 0..samples {
            let mut poller = sqs::client(port);
            let poll_url = url.to_string();
            let poll = tokio::spawn(async move {
                let input = json!({ "QueueUrl": poll_url, "WaitTimeSeconds": 20, "MaxNumberOfMessages": 1 });
                let out = poller.call("ReceiveMessage", &input).await;
                (Instant::now(), out)
            });
            // Let the poll reach the server and start waiting.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let published_at = Instant::now();
            call(port, &[("Action", "Publish"), ("Version", "2010-03-31"), ("TopicArn", topic), ("Message", "hi")])
                .await?;
            let (received_at, out) = poll.await.context("long poll panicked")?;
            let (_, out) = out?;
            let Some(handle) = out["Messages"][0]["ReceiptHandle"].as_str() else {
                bail!("the long poll answered without the message: {out}");
            };
            sender.call("DeleteMessage", &json!({ "QueueUrl": url, "ReceiptHandle": handle })).await?;
            took.push(received_at - published_at);
        }
        Ok(Latencies::new(took))
    })
}
