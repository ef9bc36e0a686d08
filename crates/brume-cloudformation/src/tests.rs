//! The engine against a stand-in for the services: creation in dependency order, rollback
//! of a failed creation, deletion in reverse order, and a creation resumed from its stored
//! progress.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use brume_core::clients::AwsSdkClient;
use brume_core::{AwsError, RequestContext};
use brume_storage::Storage;
use serde_json::{Value, json};

use crate::table::{self, KEYSPACE, Stack};
use crate::{CloudFormation, engine};

/// SQS as far as queue providers use it; a queue whose name contains `bad` cannot be made.
#[derive(Default)]
struct FakeSqs {
    calls: Mutex<Vec<(String, String)>>,
}

#[async_trait::async_trait]
impl AwsSdkClient for FakeSqs {
    async fn call(&self, _: &str, operation: &str, _: &str, _: &str, input: Value) -> Result<Value, AwsError> {
        let url = |name: &str| format!("http://localhost/000000000000/{name}");
        let subject = input["QueueName"].as_str().or(input["QueueUrl"].as_str()).unwrap_or_default().to_string();
        self.calls.lock().unwrap().push((operation.to_string(), subject.clone()));
        match operation {
            "CreateQueue" if subject.contains("bad") => {
                Err(AwsError::new(400, "InvalidAttributeValue", "Invalid value for the parameter DelaySeconds."))
            }
            "CreateQueue" => Ok(json!({ "QueueUrl": url(&subject) })),
            "GetQueueAttributes" => {
                let name = subject.rsplit('/').next().unwrap_or_default();
                Ok(json!({ "Attributes": { "QueueArn": format!("arn:aws:sqs:us-east-1:000000000000:{name}") } }))
            }
            _ => Ok(json!({})),
        }
    }
}

fn setup() -> (Arc<CloudFormation>, Arc<FakeSqs>) {
    let sqs = Arc::new(FakeSqs::default());
    (CloudFormation::new(Storage::in_memory().kv, sqs.clone()), sqs)
}

fn ctx() -> RequestContext {
    RequestContext::new("000000000000", "us-east-1")
}

async fn create(cf: &Arc<CloudFormation>, name: &str, template: Value) -> String {
    let input = serde_json::from_value(json!({ "StackName": name, "TemplateBody": template.to_string() })).unwrap();
    let out = cf.clone().create_stack(ctx(), input).await.unwrap();
    serde_json::to_value(out).unwrap()["StackId"].as_str().unwrap().to_string()
}

/// The stack once its operation is over.
async fn settled(cf: &CloudFormation, id: &str) -> Stack {
    for _ in 0..500 {
        let stack = cf.stack_by_id("000000000000", "us-east-1", id).unwrap().unwrap();
        if engine::is_terminal(&stack.status) && !cf.running.lock().unwrap().contains(id) {
            return stack;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the stack's operation did not end");
}

fn statuses(cf: &CloudFormation, id: &str) -> Vec<(String, String)> {
    let rows = cf.kv.scan(KEYSPACE, &table::events_of(id), brume_storage::Direction::Forward, usize::MAX).unwrap();
    rows.iter().map(|(_, v)| table::decode::<table::Event>(v).unwrap()).map(|e| (e.logical_id, e.status)).collect()
}

fn chain(last: &str) -> Value {
    json!({ "Resources": {
        "First": { "Type": "AWS::SQS::Queue", "Properties": { "QueueName": "first" } },
        "Second": { "Type": "AWS::SQS::Queue", "Properties": { "QueueName": { "Fn::Join": ["-", [last, { "Fn::GetAtt": ["First", "QueueName"] }]] } } },
    }})
}

#[tokio::test]
async fn resources_are_created_in_dependency_order_and_deleted_in_reverse() {
    let (cf, sqs) = setup();
    let id = create(&cf, "ok", chain("second")).await;
    let stack = settled(&cf, &id).await;
    assert_eq!(stack.status, "CREATE_COMPLETE");
    assert_eq!(stack.resources["Second"].physical_id.as_deref(), Some("http://localhost/000000000000/second-first"));
    let made: Vec<String> =
        sqs.calls.lock().unwrap().iter().filter(|(op, _)| op == "CreateQueue").map(|(_, q)| q.clone()).collect();
    assert_eq!(made, ["first", "second-first"]);
    let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
    assert_eq!(
        statuses(&cf, &id),
        pairs(&[
            ("ok", "CREATE_IN_PROGRESS"),
            ("First", "CREATE_IN_PROGRESS"),
            ("First", "CREATE_IN_PROGRESS"),
            ("First", "CREATE_COMPLETE"),
            ("Second", "CREATE_IN_PROGRESS"),
            ("Second", "CREATE_IN_PROGRESS"),
            ("Second", "CREATE_COMPLETE"),
            ("ok", "CREATE_COMPLETE"),
        ])
    );
    sqs.calls.lock().unwrap().clear();
    let input = serde_json::from_value(json!({ "StackName": "ok" })).unwrap();
    cf.clone().delete_stack(ctx(), input).await.unwrap();
    assert_eq!(settled(&cf, &id).await.status, "DELETE_COMPLETE");
    let deleted: Vec<String> =
        sqs.calls.lock().unwrap().iter().filter(|(op, _)| op == "DeleteQueue").map(|(_, q)| q.clone()).collect();
    assert_eq!(deleted, ["http://localhost/000000000000/second-first", "http://localhost/000000000000/first"]);
}

#[tokio::test]
async fn a_failed_creation_deletes_what_was_made() {
    let (cf, sqs) = setup();
    let id = create(&cf, "rb", chain("bad")).await;
    let stack = settled(&cf, &id).await;
    assert_eq!(stack.status, "ROLLBACK_COMPLETE");
    assert_eq!(stack.resources["Second"].status, "DELETE_COMPLETE");
    let events = statuses(&cf, &id);
    assert!(events.contains(&("Second".to_string(), "CREATE_FAILED".to_string())));
    assert_eq!(events.last().unwrap(), &("rb".to_string(), "ROLLBACK_COMPLETE".to_string()));
    assert!(sqs.calls.lock().unwrap().contains(&("DeleteQueue".into(), "http://localhost/000000000000/first".into())));
    let reason = cf
        .kv
        .scan(KEYSPACE, &table::events_of(&id), brume_storage::Direction::Forward, usize::MAX)
        .unwrap()
        .iter()
        .map(|(_, v)| table::decode::<table::Event>(v).unwrap())
        .find(|e| e.status == "CREATE_FAILED")
        .and_then(|e| e.reason);
    assert_eq!(
        reason.as_deref(),
        Some("Resource handler returned message: \"Invalid value for the parameter DelaySeconds.\"")
    );
}

#[tokio::test]
async fn a_creation_resumes_from_its_stored_progress() {
    let (cf, sqs) = setup();
    let id = create(&cf, "resumed", chain("second")).await;
    let mut stack = settled(&cf, &id).await;
    // As if Brume had stopped once First was made: Second not done, the stack in progress.
    stack.status = "CREATE_IN_PROGRESS".to_string();
    stack.done = ["First".to_string()].into();
    stack.resources.get_mut("Second").unwrap().status = "CREATE_IN_PROGRESS".to_string();
    cf.save(stack, Vec::new()).await.unwrap();
    sqs.calls.lock().unwrap().clear();
    crate::start(&cf);
    assert_eq!(settled(&cf, &id).await.status, "CREATE_COMPLETE");
    let made: Vec<String> =
        sqs.calls.lock().unwrap().iter().filter(|(op, _)| op == "CreateQueue").map(|(_, q)| q.clone()).collect();
    assert_eq!(made, ["second-first"]);
}
