//! The SAM transform's expansions checked against what the translator produces.

use serde_json::json;

use super::*;

fn expanded(resources: Value) -> Value {
    expand(json!({"Transform": TRANSFORM, "Resources": resources}), "us-east-1", "123456789012", "app").unwrap()
}

fn failure(resources: Value) -> String {
    expand(json!({"Transform": [TRANSFORM], "Resources": resources}), "us-east-1", "123456789012", "app")
        .unwrap_err()
        .message
}

#[test]
fn a_template_without_the_transform_is_unchanged() {
    let template = json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}});
    assert_eq!(expand(template.clone(), "us-east-1", "1", "s").unwrap(), template);
}

#[test]
fn globals_merge_maps_concatenate_lists_and_yield_to_the_function() {
    let template = json!({
        "Transform": TRANSFORM,
        "Globals": {"Function": {"Runtime": "python3.11", "Timeout": 3, "Layers": ["arn:g"],
                                 "Environment": {"Variables": {"A": "1", "B": "2"}}}},
        "Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {
            "InlineCode": "x", "Handler": "i.h", "Timeout": 9, "Layers": ["arn:l"],
            "Environment": {"Variables": {"B": "3"}}}}},
    });
    let out = expand(template, "us-east-1", "1", "s").unwrap();
    assert!(out.get("Globals").is_none() && out.get("Transform").is_none());
    let f = &out["Resources"]["F"]["Properties"];
    assert_eq!(f["Runtime"], "python3.11");
    assert_eq!(f["Timeout"], 9);
    assert_eq!(f["Layers"], json!(["arn:g", "arn:l"]));
    assert_eq!(f["Environment"], json!({"Variables": {"A": "1", "B": "3"}}));
    assert_eq!(f["Code"], json!({"ZipFile": "x"}));
    assert_eq!(f["Role"], json!({"Fn::GetAtt": ["FRole", "Arn"]}));
}

#[test]
fn code_uri_forms_and_a_local_path() {
    let out = expanded(json!({
        "A": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://b/k.zip?versionId=3", "Role": "r"}},
        "B": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": {"Bucket": "b", "Key": "k"}, "Role": "r"}},
    }));
    assert_eq!(
        out["Resources"]["A"]["Properties"]["Code"],
        json!({"S3Bucket": "b", "S3Key": "k.zip", "S3ObjectVersion": "3"})
    );
    assert_eq!(out["Resources"]["B"]["Properties"]["Code"], json!({"S3Bucket": "b", "S3Key": "k"}));
    assert!(out["Resources"].get("ARole").is_none());
    let message = failure(json!({"F": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./src"}}}));
    assert!(message.ends_with(
        "Resource with id [F] is invalid. 'CodeUri' is not a valid S3 Uri of the form 's3://bucket/key' with optional \
         versionId query parameter."
    ));
}

#[test]
fn policy_templates_become_inline_policies_with_their_parameters() {
    let out = expanded(json!({"F": {"Type": "AWS::Serverless::Function", "Properties": {
        "InlineCode": "x", "Policies": ["AmazonS3ReadOnlyAccess", {"SQSSendMessagePolicy": {"QueueName": "q"}}]}}}));
    let role = &out["Resources"]["FRole"]["Properties"];
    assert_eq!(
        role["ManagedPolicyArns"],
        json!([
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
        ])
    );
    assert_eq!(role["Policies"][0]["PolicyName"], "FRolePolicy1");
    let statement = &role["Policies"][0]["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Action"], json!(["sqs:SendMessage*"]));
    assert_eq!(statement["Resource"]["Fn::Sub"][1], json!({"queueName": "q"}));
    let missing = failure(json!({"F": {"Type": "AWS::Serverless::Function", "Properties": {
        "InlineCode": "x", "Policies": [{"DynamoDBCrudPolicy": {}}]}}}));
    assert!(missing.ends_with("Missing parameter values: [TableName] for policy template DynamoDBCrudPolicy"));
}

#[test]
fn events_generate_mappings_subscriptions_permissions_and_bucket_notifications() {
    let out = expanded(json!({
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "F": {"Type": "AWS::Serverless::Function", "Properties": {"InlineCode": "x", "Events": {
            "Up": {"Type": "S3", "Properties": {"Bucket": {"Ref": "Bucket"}, "Events": "s3:ObjectCreated:*"}},
            "Msg": {"Type": "SQS", "Properties": {"Queue": "arn:q"}},
            "Note": {"Type": "SNS", "Properties": {"Topic": "arn:t"}},
        }}},
    }));
    let r = &out["Resources"];
    assert_eq!(r["FMsg"]["Type"], "AWS::Lambda::EventSourceMapping");
    assert_eq!(r["FNote"]["Properties"]["Endpoint"], json!({"Fn::GetAtt": ["F", "Arn"]}));
    assert_eq!(r["FNotePermission"]["Properties"]["Principal"], "sns.amazonaws.com");
    assert_eq!(r["FUpPermission"]["Properties"]["SourceAccount"], json!({"Ref": "AWS::AccountId"}));
    assert_eq!(r["Bucket"]["DependsOn"], json!(["FUpPermission"]));
    assert_eq!(
        r["Bucket"]["Properties"]["NotificationConfiguration"]["LambdaConfigurations"],
        json!([{"Function": {"Fn::GetAtt": ["F", "Arn"]}, "Event": "s3:ObjectCreated:*"}])
    );
    let foreign = failure(json!({"F": {"Type": "AWS::Serverless::Function", "Properties": {"InlineCode": "x",
        "Events": {"Up": {"Type": "S3", "Properties": {"Bucket": "elsewhere", "Events": "s3:ObjectCreated:*"}}}}}}));
    assert!(
        foreign.ends_with("Event with id [Up] is invalid. S3 events must reference an S3 bucket in the same template.")
    );
}

#[test]
fn auto_publish_alias_hashes_the_code_and_names_the_alias() {
    let out = expanded(json!({"F": {"Type": "AWS::Serverless::Function", "Properties": {
        "CodeUri": "s3://b/k", "AutoPublishAlias": {"Ref": "AWS::Region"}}}}));
    let code = canonical(&json!({"S3Bucket": "b", "S3Key": "k"}));
    let version = format!("FVersion{}", hash10(&code));
    assert_eq!(out["Resources"][&version]["DeletionPolicy"], "Retain");
    assert_eq!(out["Resources"]["FAliasus-east-1"]["Properties"]["FunctionVersion"]["Fn::GetAtt"][0], version);
}

#[test]
fn simple_tables_state_machines_and_layers() {
    let out = expanded(json!({
        "T": {"Type": "AWS::Serverless::SimpleTable"},
        "M": {"Type": "AWS::Serverless::StateMachine", "Properties": {"DefinitionUri": "s3://b/d.json", "Role": "r"}},
        "L": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "s3://b/l.zip", "RetentionPolicy": "Delete"}},
        "F": {"Type": "AWS::Serverless::Function", "Properties": {"InlineCode": "x", "Role": "r", "Layers": [{"Ref": "L"}]}},
    }));
    let r = &out["Resources"];
    assert_eq!(r["T"]["Properties"]["KeySchema"], json!([{"AttributeName": "id", "KeyType": "HASH"}]));
    assert_eq!(r["T"]["Properties"]["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(r["M"]["Properties"]["DefinitionS3Location"], json!({"Bucket": "b", "Key": "d.json"}));
    let layer = r.as_object().unwrap().keys().find(|k| k.starts_with('L') && k.len() == 11).unwrap().clone();
    assert_eq!(r[&layer]["DeletionPolicy"], "Delete");
    assert_eq!(r[&layer]["Properties"]["LayerName"], "L");
    assert_eq!(r["F"]["Properties"]["Layers"], json!([{"Ref": layer}]));
    let api = failure(json!({"A": {"Type": "AWS::Serverless::HttpApi"}}));
    assert!(api.ends_with("Resource with id [A] is invalid. API Gateway is not available in Brume yet."));
}

#[test]
fn globals_sections_and_properties_are_checked() {
    let with = |globals: Value| {
        expand(json!({"Transform": TRANSFORM, "Globals": globals, "Resources": {}}), "us-east-1", "1", "s")
            .unwrap_err()
            .message
    };
    assert!(with(json!({"Queue": {}})).ends_with(
        "'Globals' section is invalid. 'Queue' is not supported. Must be one of the following values - ['Api', \
         'CapacityProvider', 'Function', 'HttpApi', 'LayerVersion', 'MicrovmImage', 'NetworkConnector', \
         'SimpleTable', 'StateMachine', 'WebSocketApi']"
    ));
    assert!(with(json!({"StateMachine": {"Tracing": {}}})).ends_with(
        "'Tracing' is not a supported property of 'StateMachine'. Must be one of the following values - \
         ['PropagateTags']"
    ));
}
