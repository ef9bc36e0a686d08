//! SQS figures, over the awsJson 1.0 protocol current SDKs use: the SendMessage +
//! ReceiveMessage + DeleteMessage round trip at concurrency (each worker with its own queue,
//! its own keep-alive connection, signing every request), and how soon a long poll wakes
//! after a message arrives.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyper::StatusCode;
use serde_json::json;

use crate::json::{Api, Client};
use crate::load::{Load, Tally, gather};
use crate::stats::Latencies;

pub const API: Api = Api { service: "sqs", target_prefix: "AmazonSQS" };

/// A signed SQS client on one keep-alive connection.
pub fn client(port: u16) -> Client {
    Client::new(port, API)
}

/// Creates queue `name` (or finds it); answers its URL.
pub async fn create_queue(client: &mut Client, name: &str) -> Result<String> {
    let out = client.ok("CreateQueue", &json!({ "QueueName": name })).await?;
    out["QueueUrl"].as_str().map(str::to_string).context("CreateQueue without QueueUrl")
}

/// `concurrency` workers each send a message to their own queue, receive it and delete it,
/// back to back, for `warmup` (not counted) and then `measure`.
pub fn round_trips(port: u16, concurrency: usize, warmup: Duration, measure: Duration) -> Result<Load> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let mut clients = Vec::new();
        for w in 0..concurrency {
            let mut client = client(port);
            let url = create_queue(&mut client, &format!("bench-{w}")).await?;
            clients.push((client, url));
        }
        let from = Instant::now() + warmup;
        let until = from + measure;
        let workers = clients
            .into_iter()
            .map(|(client, url)| tokio::spawn(round_trip_worker(client, url, Tally::new(from, until))));
        gather(workers.collect(), measure).await
    })
}

/// One worker: each send + receive + delete round trip counts as one call of the load.
async fn round_trip_worker(mut client: Client, url: String, mut tally: Tally) -> Result<Tally> {
    let body = "x".repeat(64);
    loop {
        let start = Instant::now();
        if tally.over(start) {
            return Ok(tally);
        }
        let (sent, _) = client.call("SendMessage", &json!({ "QueueUrl": url, "MessageBody": body })).await?;
        let (received, out) =
            client.call("ReceiveMessage", &json!({ "QueueUrl": url, "MaxNumberOfMessages": 1 })).await?;
        let mut ok = sent == StatusCode::OK && received == StatusCode::OK;
        match out["Messages"][0]["ReceiptHandle"].as_str() {
            Some(handle) => {
                let input = json!({ "QueueUrl": url, "ReceiptHandle": handle });
                let (deleted, _) = client.call("DeleteMessage", &input).await?;
                ok &= deleted == StatusCode::OK;
            }
            None => ok = false,
        }
        tally.record(start, ok);
    }
}

/// Long polls woken by arrivals, `samples` times: a ReceiveMessage waits on an empty
/// queue, a SendMessage puts a message in it. Answers, for each sample, the time from the
/// send's answer to the receive's answer (how long the woken poll took to answer once the
/// message was stored), and from the send's request to the receive's answer.
pub fn long_poll_wakes(port: u16, samples: usize) -> Result<(Latencies, Latencies)> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let mut sender = client(port);
        let url = create_queue(&mut sender, "bench-long-poll").await?;
        let (mut after_stored, mut after_sent) = (Vec::new(), Vec::new());
        for _ in 0..samples {
            let mut poller = client(port);
            let poll_url = url.clone();
            let poll = tokio::spawn(async move {
                let input = json!({ "QueueUrl": poll_url, "WaitTimeSeconds": 20, "MaxNumberOfMessages": 1 });
                let out = poller.ok("ReceiveMessage", &input).await;
                (Instant::now(), out)
            });
            // Let the poll reach the server and start waiting.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let sent_at = Instant::now();
            sender.ok("SendMessage", &json!({ "QueueUrl": url, "MessageBody": "wake" })).await?;
            let stored_at = Instant::now();
            let (received_at, out) = poll.await.context("long poll panicked")?;
            let handle = out?["Messages"][0]["ReceiptHandle"].as_str().map(str::to_string);
            let Some(handle) = handle else { bail!("the long poll answered without the message") };
            sender.ok("DeleteMessage", &json!({ "QueueUrl": url, "ReceiptHandle": handle })).await?;
            after_stored.push(received_at.saturating_duration_since(stored_at));
            after_sent.push(received_at - sent_at);
        }
        Ok((Latencies::new(after_stored), Latencies::new(after_sent)))
    })
}
