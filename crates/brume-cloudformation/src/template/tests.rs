//! A whole template through the functions in the order the engine calls them: parse,
//! validate, parameters, conditions, resources, resolve, outputs.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::*;

const TEMPLATE: &str = r#"
AWSTemplateFormatVersion: 2010-09-09
Description: A queue, a topic and a mapping
Parameters:
  Env:
    Type: String
    AllowedValues: [dev, prod]
    Default: dev
  Sizes:
    Type: CommaDelimitedList
    Default: "1,2"
Mappings:
  Retention:
    us-east-1: {dev: 60, prod: 1209600}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-${Env}"
      MessageRetentionPeriod: !FindInMap [Retention, !Ref "AWS::Region", !Ref Env]
      DelaySeconds: !If [IsProd, 5, !Ref AWS::NoValue]
  Topic:
    Type: AWS::SNS::Topic
    Condition: IsProd
  Subscription:
    Type: AWS::SNS::Subscription
    DependsOn: [Queue]
    Properties:
      Endpoint: !GetAtt Queue.Arn
      TopicArn: !If [IsProd, !Ref Topic, arn:aws:sns:us-east-1:000000000000:other]
Outputs:
  QueueUrl:
    Value: !Ref Queue
    Export: {Name: !Sub "${AWS::StackName}-QueueUrl"}
  Zones:
    Value: !GetAZs ""
  TopicArn:
    Condition: IsProd
    Value: !Ref Topic
  Doc:
    Value: !ToJsonString {size: !Select [1, !Ref Sizes]}
"#;

struct World {
    parameters: Map<String, Value>,
    conditions: BTreeMap<String, bool>,
    resources: BTreeMap<String, Resolved>,
    exports: BTreeMap<String, String>,
}

impl World {
    fn scope(&self) -> Scope<'_> {
        Scope {
            account: "000000000000",
            region: "us-east-1",
            stack_name: "app",
            stack_id: "arn:aws:cloudformation:us-east-1:000000000000:stack/app/1",
            notification_arns: &[],
            parameters: &self.parameters,
            conditions: &self.conditions,
            resources: &self.resources,
            exports: &self.exports,
        }
    }
}

#[test]
fn a_whole_template_from_body_to_outputs() {
    let template = parse(TEMPLATE).unwrap();
    let summary = validate(&template).unwrap();
    assert_eq!(summary.resource_types, ["AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::SNS::Subscription"]);
    assert_eq!(summary.parameters.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(), ["Env", "Sizes"]);

    let mut world = World {
        parameters: parameters(&template, &BTreeMap::new()).unwrap(),
        conditions: BTreeMap::new(),
        resources: BTreeMap::new(),
        exports: BTreeMap::new(),
    };
    world.conditions = conditions(&template, &world.scope()).unwrap();
    assert_eq!(world.conditions, [("IsProd".to_string(), false), ("NotProd".to_string(), true)].into_iter().collect());

    let decls = resources(&template, &world.conditions).unwrap();
    assert_eq!(decls.keys().collect::<Vec<_>>(), ["Queue", "Subscription"]);
    assert_eq!(decls["Subscription"].depends_on.iter().collect::<Vec<_>>(), ["Queue"]);
    assert_eq!(
        resolve(&decls["Queue"].properties, &world.scope()).unwrap(),
        json!({"QueueName": "app-dev", "MessageRetentionPeriod": 60})
    );

    let mut attributes = Map::new();
    attributes.insert("Arn".into(), json!("arn:aws:sqs:us-east-1:000000000000:app-dev"));
    world.resources.insert("Queue".into(), Resolved { physical_id: "http://q/app-dev".into(), attributes });
    assert_eq!(
        resolve(&decls["Subscription"].properties, &world.scope()).unwrap(),
        json!({"Endpoint": "arn:aws:sqs:us-east-1:000000000000:app-dev", "TopicArn": "arn:aws:sns:us-east-1:000000000000:other"})
    );

    let outputs = outputs(&template, &world.scope()).unwrap();
    let shown: Vec<(&str, &str, Option<&str>)> =
        outputs.iter().map(|o| (o.key.as_str(), o.value.as_str(), o.export_name.as_deref())).collect();
    assert_eq!(
        shown,
        [
            ("QueueUrl", "http://q/app-dev", Some("app-QueueUrl")),
            ("Zones", "us-east-1a,us-east-1b,us-east-1c", None),
            ("Doc", "{\"size\":\"2\"}", None),
        ]
    );
}

#[test]
fn the_prod_variant_creates_the_topic_first() {
    let template = parse(TEMPLATE).unwrap();
    let given = [("Env".to_string(), "prod".to_string())].into_iter().collect();
    let mut world = World {
        parameters: parameters(&template, &given).unwrap(),
        conditions: BTreeMap::new(),
        resources: BTreeMap::new(),
        exports: BTreeMap::new(),
    };
    world.conditions = conditions(&template, &world.scope()).unwrap();
    let decls = resources(&template, &world.conditions).unwrap();
    assert_eq!(decls["Subscription"].depends_on.iter().collect::<Vec<_>>(), ["Queue", "Topic"]);
    assert_eq!(
        resolve(&decls["Queue"].properties, &world.scope()).unwrap(),
        json!({"QueueName": "app-prod", "MessageRetentionPeriod": 1209600, "DelaySeconds": 5})
    );
    let bad = [("Env".to_string(), "test".to_string())].into_iter().collect();
    assert_eq!(parameters(&template, &bad).unwrap_err().message, "Parameter 'Env' must be one of AllowedValues");
}

#[test]
fn json_bodies_and_language_extensions() {
    let body = r#"{"Transform": "AWS::LanguageExtensions", "Resources": {
        "Fn::ForEach::Topics": ["Name", ["A", "B"], {"Topic${Name}": {"Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": {"Ref": "Name"}}}}]},
        "Outputs": {"Count": {"Value": {"Fn::Length": [1, 2, 3]}}}}"#;
    let template = parse(body).unwrap();
    assert_eq!(validate(&template).unwrap().declared_transforms, ["AWS::LanguageExtensions"]);
    let decls = resources(&template, &BTreeMap::new()).unwrap();
    assert_eq!(decls.keys().collect::<Vec<_>>(), ["TopicA", "TopicB"]);
    assert_eq!(decls["TopicB"].properties, json!({"TopicName": "B"}));
    let world = World {
        parameters: Map::new(),
        conditions: BTreeMap::new(),
        resources: BTreeMap::new(),
        exports: BTreeMap::new(),
    };
    assert_eq!(outputs(&template, &world.scope()).unwrap()[0].value, "3");
}
