//! Step Functions figures over awsJson 1.0: state transitions per second of an EXPRESS
//! execution looping through Pass and Choice states (StartSyncExecution), of STANDARD
//! executions saving each transition durably, and an inline Map over many items calling a
//! no-op Python Lambda function, checked by its history's last event.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::json::{Api, Client};

pub const API: Api = Api { service: "states", target_prefix: "AWSStepFunctions" };

const ROLE: &str = "arn:aws:iam::000000000000:role/bench";

/// A signed Step Functions client on one keep-alive connection.
pub fn client(port: u16) -> Client {
    Client::new(port, API)
}

/// A machine counting `$.i` up to `$.n`: Init, then `n` times Inc and Loop, then Done.
fn counting_loop() -> Value {
    json!({
        "StartAt": "Init",
        "States": {
            "Init": { "Type": "Pass", "Result": 0, "ResultPath": "$.i", "Next": "Inc" },
            "Inc": { "Type": "Pass", "Parameters": { "n.$": "$.n", "i.$": "States.MathAdd($.i, 1)" }, "Next": "Loop" },
            "Loop": {
                "Type": "Choice",
                "Choices": [{ "Variable": "$.i", "NumericLessThanPath": "$.n", "Next": "Inc" }],
                "Default": "Done"
            },
            "Done": { "Type": "Succeed" }
        }
    })
}

/// The transitions (states entered) of one run of [`counting_loop`] to `n`.
pub fn loop_transitions(n: usize) -> usize {
    2 * n + 2
}

/// Creates state machine `name` of `kind` running `definition`, logging at `level`
/// (`OFF` for none); answers its ARN.
pub async fn create(client: &mut Client, name: &str, kind: &str, definition: &Value, level: &str) -> Result<String> {
    let mut input = json!({
        "name": name, "definition": definition.to_string(), "roleArn": ROLE, "type": kind,
    });
    if level != "OFF" {
        let arn = format!("arn:aws:logs:us-east-1:000000000000:log-group:/aws/vendedlogs/states/{name}:*");
        input["loggingConfiguration"] = json!({
            "level": level, "includeExecutionData": true,
            "destinations": [{ "cloudWatchLogsLogGroup": { "logGroupArn": arn } }],
        });
    }
    let out = client.ok("CreateStateMachine", &input).await?;
    out["stateMachineArn"].as_str().map(str::to_string).context("CreateStateMachine without stateMachineArn")
}

/// EXPRESS: the best of `runs` StartSyncExecution calls of a loop to `n`, in transitions
/// per second, with the machine logging at `level`.
pub fn express_rate(port: u16, n: usize, runs: usize, level: &str) -> Result<f64> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let mut client = client(port);
        let arn =
            create(&mut client, &format!("bench-express-{}", level.to_lowercase()), "EXPRESS", &counting_loop(), level)
                .await?;
        let mut best: f64 = 0.0;
        for _ in 0..runs {
            let started = Instant::now();
            let out = client
                .ok("StartSyncExecution", &json!({ "stateMachineArn": arn, "input": json!({ "n": n }).to_string() }))
                .await?;
            let took = started.elapsed();
            if out["status"] != "SUCCEEDED" {
                bail!("the EXPRESS loop ended {}: {out}", out["status"]);
            }
            best = best.max(loop_transitions(n) as f64 / took.as_secs_f64());
        }
        Ok(best)
    })
}

/// Polls DescribeExecution until `execution` is no longer RUNNING; answers its description.
async fn finished(client: &mut Client, execution: &str, patience: Duration) -> Result<Value> {
    let deadline = Instant::now() + patience;
    loop {
        let out = client.ok("DescribeExecution", &json!({ "executionArn": execution })).await?;
        if out["status"] != "RUNNING" {
            return Ok(out);
        }
        if Instant::now() > deadline {
            bail!("{execution} still running after {patience:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// STANDARD: `executions` loops to `n` started at once, each saving every transition;
/// answers the transitions per second of them all, from the first start to the last end.
pub fn standard_rate(port: u16, n: usize, executions: usize) -> Result<f64> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let mut setup = client(port);
        let arn = create(&mut setup, "bench-standard", "STANDARD", &counting_loop(), "OFF").await?;
        let started = Instant::now();
        let tasks: Vec<_> = (0..executions)
            .map(|e| {
                let arn = arn.clone();
                tokio::spawn(async move {
                    let mut client = client(port);
                    let input = json!({ "stateMachineArn": arn, "name": format!("run-{e}"), "input": json!({ "n": n }).to_string() });
                    let execution = client.ok("StartExecution", &input).await?;
                    let execution = execution["executionArn"].as_str().context("StartExecution without executionArn")?;
                    let out = finished(&mut client, execution, Duration::from_secs(600)).await?;
                    if out["status"] != "SUCCEEDED" {
                        bail!("a STANDARD loop ended {}: {out}", out["status"]);
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        for task in tasks {
            task.await.context("execution task")??;
        }
        Ok((executions * loop_transitions(n)) as f64 / started.elapsed().as_secs_f64())
    })
}

/// What the inline Map run measured.
pub struct MapRun {
    pub took: Duration,
    /// The id of the history's last event, and its type.
    pub last_event: u64,
    pub last_type: String,
}

/// A STANDARD execution of an inline Map over `items` items, at most `concurrency` at once,
/// each a Task invoking the Lambda function `function` (its ARN), results dropped.
pub fn inline_map(port: u16, function: &str, items: usize, concurrency: usize) -> Result<MapRun> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let mut client = client(port);
        let definition = json!({
            "StartAt": "Parse",
            "States": {
                "Parse": { "Type": "Pass", "Parameters": { "items.$": "States.StringToJson($.items)" }, "Next": "Fan" },
                "Fan": {
                    "Type": "Map",
                    "MaxConcurrency": concurrency,
                    "ItemProcessor": {
                        "ProcessorConfig": { "Mode": "INLINE" },
                        "StartAt": "Call",
                        "States": { "Call": { "Type": "Task", "Resource": function, "End": true } }
                    },
                    "ItemsPath": "$.items",
                    "ResultPath": null,
                    "End": true
                }
            }
        });
        let arn = create(&mut client, "bench-map", "STANDARD", &definition, "OFF").await?;
        // Zeros: 100,000 of them stay under the 256 KiB input limit. They come as one string,
        // parsed by the first state: `$$.Execution.Input`, copied into every state's context
        // object, is then one string rather than an array of 100,000 values.
        let input = json!({ "items": json!(vec![0; items]).to_string() }).to_string();
        let started = Instant::now();
        let execution = client.ok("StartExecution", &json!({ "stateMachineArn": arn, "input": input })).await?;
        let execution = execution["executionArn"].as_str().context("StartExecution without executionArn")?.to_string();
        let out = finished(&mut client, &execution, Duration::from_secs(3600)).await?;
        let took = started.elapsed();
        if out["status"] != "SUCCEEDED" {
            bail!("the inline Map ended {}: {out}", out["status"]);
        }
        // The end of a history of 700,000 events is written in one commit that readers may
        // see part of while it is applied: the status can be read before the last events.
        let request = json!({ "executionArn": execution, "reverseOrder": true, "maxResults": 1 });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let last = client.ok("GetExecutionHistory", &request).await?;
            let last = &last["events"][0];
            let run = MapRun {
                took,
                last_event: last["id"].as_u64().unwrap_or(0),
                last_type: last["type"].as_str().unwrap_or_default().to_string(),
            };
            if run.last_type == "ExecutionSucceeded" || Instant::now() > deadline {
                return Ok(run);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

/// The history events of a Pass state then an inline Map over `items` items of one Lambda
/// Task each: the execution's start and end, the Pass state's two, the Map state's four,
/// and seven per item.
pub fn map_events(items: usize) -> u64 {
    8 + 7 * items as u64
}
