//! DynamoDB figures, over the awsJson 1.0 protocol the SDKs use: GetItem and PutItem of
//! ~200-byte items and a Query answering the 100 items of one partition, driven by the
//! load generator (every request signed); a large table loaded with BatchWriteItem, the
//! probe that times a restart to the first answered GetItem, and Query latencies sampled
//! on two servers in turn.
//!
//! Two tables: `bench-items` (partition key `pk` only) holds the GetItem/PutItem items
//! `item-000000`…; `bench-query` (`pk`, numeric sort key `sk`) holds items in partitions
//! of 100, item `i` in partition `i / 100` at sort key `i % 100`. A small `bench-query`
//! holds exactly the partition the large one is queried in, so both answer the same
//! Query with the same items.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};

use crate::body::Memory;
use crate::json::{Api, Client};
use crate::load::Requests;
use crate::sign::Signer;
use crate::stats::Latencies;

pub const API: Api = Api { service: "dynamodb", target_prefix: "DynamoDB_20120810" };
pub const ITEMS_TABLE: &str = "bench-items";
pub const QUERY_TABLE: &str = "bench-query";
/// The items the GetItem and PutItem loads spread over; all exist before either load.
pub const KEYS: usize = 1000;
/// Items per partition of `bench-query`, all of which the Query answers.
pub const PARTITION: usize = 100;
/// BatchWriteItem's limit.
const BATCH: usize = 25;
/// Concurrent BatchWriteItem callers filling a table.
pub const LOADERS: usize = 8;

/// Item `n` of `bench-items`: 200 bytes by DynamoDB's item size (attribute names plus
/// values), most of it one string attribute.
pub fn item(n: usize) -> Value {
    json!({
        "pk": { "S": format!("item-{n:06}") },
        "n": { "N": n.to_string() },
        "ok": { "BOOL": true },
        "data": { "S": data(n) },
    })
}

/// The `i`-th PutItem body's item: item `i mod KEYS` in one of two versions of the same
/// size, so that a PutItem replaces the stored item with a different one, as a real
/// overwrite does (the first version is the stored one).
fn put_item(i: usize) -> Value {
    let n = i % KEYS;
    let mut item = item(n);
    if i >= KEYS {
        item["data"]["S"] = Value::String(data(n).replace('x', "y"));
    }
    item
}

/// Item `i` of `bench-query`, of about the same size.
pub fn query_item(i: usize) -> Value {
    json!({
        "pk": { "S": partition_key(i / PARTITION) },
        "sk": { "N": (i % PARTITION).to_string() },
        "n": { "N": i.to_string() },
        "ok": { "BOOL": true },
        "data": { "S": data(i) },
    })
}

fn partition_key(p: usize) -> String {
    format!("p-{p:06}")
}

fn data(n: usize) -> String {
    format!("{n:08}{}", "x".repeat(168))
}

/// The partition the Query reads in a `bench-query` of `items` items: a full one in the
/// middle.
pub fn queried_partition(items: usize) -> usize {
    (items / PARTITION) / 2
}

/// The items of the partition the Query reads in a `bench-query` of `items` items.
pub fn partition_items(items: usize) -> Range<usize> {
    let p = queried_partition(items);
    p * PARTITION..(p + 1) * PARTITION
}

/// Creates both tables, on demand.
pub fn create_tables(port: u16) -> Result<()> {
    block_on(async move {
        let mut client = Client::new(port, API);
        let attr = |name: &str, ty: &str| json!({ "AttributeName": name, "AttributeType": ty });
        let key = |name: &str, ty: &str| json!({ "AttributeName": name, "KeyType": ty });
        client
            .ok(
                "CreateTable",
                &json!({
                    "TableName": ITEMS_TABLE,
                    "AttributeDefinitions": [attr("pk", "S")],
                    "KeySchema": [key("pk", "HASH")],
                    "BillingMode": "PAY_PER_REQUEST",
                }),
            )
            .await?;
        client
            .ok(
                "CreateTable",
                &json!({
                    "TableName": QUERY_TABLE,
                    "AttributeDefinitions": [attr("pk", "S"), attr("sk", "N")],
                    "KeySchema": [key("pk", "HASH"), key("sk", "RANGE")],
                    "BillingMode": "PAY_PER_REQUEST",
                }),
            )
            .await?;
        Ok(())
    })
}

/// Writes items `make(i)` for `i` in `items` into `table` with BatchWriteItem, 25 a call,
/// `callers` calls at a time; answers how long it took.
pub fn put_items(
    port: u16,
    table: &str,
    items: Range<usize>,
    make: fn(usize) -> Value,
    callers: usize,
) -> Result<Duration> {
    block_on(async move {
        let started = Instant::now();
        let batches = items.len().div_ceil(BATCH);
        let tasks: Vec<_> = (0..callers)
            .map(|c| {
                let (table, items) = (table.to_string(), items.clone());
                tokio::spawn(async move {
                    let mut client = Client::new(port, API);
                    for b in (c..batches).step_by(callers) {
                        let start = items.start + b * BATCH;
                        let requests: Vec<Value> = (start..(start + BATCH).min(items.end))
                            .map(|i| json!({ "PutRequest": { "Item": make(i) } }))
                            .collect();
                        let out = client.ok("BatchWriteItem", &json!({ "RequestItems": { &table: requests } })).await?;
                        if out["UnprocessedItems"].as_object().is_some_and(|u| !u.is_empty()) {
                            bail!("BatchWriteItem left items unprocessed");
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for t in tasks {
            t.await.context("BatchWriteItem caller panicked")??;
        }
        Ok(started.elapsed())
    })
}

fn get_body(n: usize) -> Value {
    json!({ "TableName": ITEMS_TABLE, "Key": { "pk": { "S": format!("item-{n:06}") } } })
}

fn query_body(items: usize) -> Value {
    json!({
        "TableName": QUERY_TABLE,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": { ":p": { "S": partition_key(queried_partition(items)) } },
    })
}

/// Which request a load sends.
#[derive(Clone, Copy)]
pub enum Op {
    GetItem,
    PutItem,
    /// The Query of the partition read in a `bench-query` of this many items.
    Query(usize),
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::GetItem => "GetItem",
            Op::PutItem => "PutItem",
            Op::Query(_) => "Query",
        }
    }

    /// The request bodies, serialized before any clock starts: one per key, or the one
    /// Query.
    pub fn bodies(self) -> Result<Arc<[Bytes]>> {
        let body = |v: Value| serde_json::to_vec(&v).map(Bytes::from);
        Ok(match self {
            Op::GetItem => (0..KEYS).map(|n| body(get_body(n))).collect::<Result<_, _>>()?,
            Op::PutItem => (0..2 * KEYS)
                .map(|i| body(json!({ "TableName": ITEMS_TABLE, "Item": put_item(i) })))
                .collect::<Result<_, _>>()?,
            Op::Query(items) => Arc::new([body(query_body(items))?]),
        })
    }
}

/// One worker's requests of a load: worker `w` of `c` sends its `n`-th request to key
/// `(c * n + w) mod KEYS`, so the workers spread over all the keys.
pub struct Calls {
    signer: Signer,
    operation: &'static str,
    bodies: Arc<[Bytes]>,
    next: usize,
    stride: usize,
}

impl Calls {
    pub fn new(addr: SocketAddr, op: Op, bodies: Arc<[Bytes]>, worker: usize, workers: usize) -> Calls {
        Calls { signer: API.signer(addr), operation: op.name(), bodies, next: worker, stride: workers }
    }
}

impl Requests for Calls {
    fn next(&mut self) -> Result<Request<Memory>> {
        let body = self.bodies[self.next % self.bodies.len()].clone();
        self.next += self.stride;
        API.request(&mut self.signer, self.operation, body)
    }
}

/// Checks that the server answers GetItem with the item put, so that the loads measure
/// real answers (the load generator only sees statuses).
pub fn check_item(port: u16) -> Result<()> {
    block_on(async move {
        let got = Client::new(port, API).ok("GetItem", &get_body(7)).await?;
        if got["Item"] != item(7) {
            bail!("GetItem answered {got}, not the item put");
        }
        Ok(())
    })
}

/// Checks that the server answers the Query of a `bench-query` of `items` items with the
/// 100 items of its partition, in order.
pub fn check_query(port: u16, items: usize) -> Result<()> {
    block_on(async move {
        let queried = Client::new(port, API).ok("Query", &query_body(items)).await?;
        let count = queried["Items"].as_array().map_or(0, Vec::len);
        if count != PARTITION || queried["Items"][5] != query_item(partition_items(items).start + 5) {
            bail!("the Query answered {count} items, not the {PARTITION} of its partition in order");
        }
        Ok(())
    })
}

/// The raw signed GetItem of the first item of the partition read in a `bench-query` of
/// `items` items, for the start-up probe (a table that is not there yet answers 400).
pub fn probe(addr: SocketAddr, items: usize) -> Vec<u8> {
    let n = partition_items(items).start;
    let key =
        json!({ "pk": { "S": partition_key(queried_partition(items)) }, "sk": { "N": (n % PARTITION).to_string() } });
    let body = json!({ "TableName": QUERY_TABLE, "Key": key });
    API.raw_request(addr, "GetItem", body.to_string().as_bytes())
}

/// The Query of the partition read in a `bench-query` of `items` items, on each server
/// in turn, one at a time, for `warmup` (not kept) and then `measure`: the latency of
/// each, from sending the request to the last byte of the answer. Taking the samples in
/// turn makes noise on the host weigh on every server alike.
pub fn query_latencies(ports: &[u16], items: usize, warmup: Duration, measure: Duration) -> Result<Vec<Latencies>> {
    let ports = ports.to_vec();
    block_on(async move {
        let body = Bytes::from(serde_json::to_vec(&query_body(items))?);
        let mut clients: Vec<_> = ports.iter().map(|&port| (Client::new(port, API), Vec::new())).collect();
        let from = Instant::now() + warmup;
        let until = from + measure;
        while Instant::now() < until {
            for (client, latencies) in &mut clients {
                let start = Instant::now();
                let (status, _) = client.send("Query", body.clone()).await?;
                if status != StatusCode::OK {
                    bail!("the Query answered {status}");
                }
                if start >= from {
                    latencies.push(start.elapsed());
                }
            }
        }
        Ok(clients.into_iter().map(|(_, l)| Latencies::new(l)).collect())
    })
}

fn block_on<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(future)
}
