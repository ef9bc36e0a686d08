"""The AWS::Serverless-2016-10-31 transform (SAM): Brume's expansion of each template in
sam/*.yaml, read back with GetTemplate(TemplateStage=Processed), compared with what AWS's own
translator (aws-sam-translator) produces for the same input; a SAM application deployed with
`aws cloudformation deploy` (an SQS message in, the function's item in the table); and the
types and events Brume cannot expand yet refused with the transform's error.

Intended differences from the translator, asserted below: API Gateway resources and events
(AWS::Serverless::Api, HttpApi, Api/HttpApi events) and EventBridge events (Schedule,
ScheduleV2, EventBridgeRule, CloudWatchEvent), which the translator expands, are refused
until Brume has those services; every other expansion of the templates in sam/ is identical."""
import json
import os
import pathlib
import time

import botocore.exceptions
import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

SAM = pathlib.Path(__file__).parent / "sam"
TEMPLATES = sorted(p.name for p in SAM.glob("*.yaml"))


class ManagedPolicies:
    """The translator asks IAM for the ARN of a managed policy named in Policies only when
    its bundled list lacks the name; the one it always adds is answered here."""

    def load(self):
        return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}


def reference(body):
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(yaml_parse(body), {"AWS::Region": "us-east-1"}, ManagedPolicies())


def processed(cfn, name, body):
    change_set = cfn.create_change_set(
        StackName=name, ChangeSetName="sam", ChangeSetType="CREATE", TemplateBody=body,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )["Id"]
    cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=change_set, WaiterConfig={"Delay": 1})
    stages = cfn.get_template(ChangeSetName=change_set, TemplateStage="Processed")
    assert stages["StagesAvailable"] == ["Original", "Processed"]
    original = cfn.get_template(ChangeSetName=change_set, TemplateStage="Original")["TemplateBody"]
    assert original == body
    return stages["TemplateBody"] if isinstance(stages["TemplateBody"], dict) else json.loads(stages["TemplateBody"])


@pytest.mark.parametrize("name", TEMPLATES)
def test_expansion_matches_the_translator(server, name):
    body = (SAM / name).read_text()
    expected = reference(body)
    actual = processed(server.client("cloudformation"), name.removesuffix(".yaml").replace("_", "-"), body)
    assert "Transform" not in actual and "Globals" not in actual
    assert {k: v["Type"] for k, v in actual["Resources"].items()} == {
        k: v["Type"] for k, v in expected["Resources"].items()
    }
    for logical_id, resource in expected["Resources"].items():
        assert actual["Resources"][logical_id] == resource, logical_id
    assert actual.get("Outputs") == expected.get("Outputs")


def test_summary_declares_the_transform(server):
    cfn = server.client("cloudformation")
    body = (SAM / "function_sqs.yaml").read_text()
    summary = cfn.get_template_summary(TemplateBody=body)
    assert summary["DeclaredTransforms"] == ["AWS::Serverless-2016-10-31"]
    assert summary["Capabilities"] == ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    validated = cfn.validate_template(TemplateBody=body)
    assert validated["DeclaredTransforms"] == ["AWS::Serverless-2016-10-31"]


def refused(cfn, body):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cfn.create_change_set(
            StackName="refused", ChangeSetName="sam", ChangeSetType="CREATE", TemplateBody=body,
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
    assert e.value.response["Error"]["Code"] == "ValidationError"
    return e.value.response["Error"]["Message"]


FUNCTION = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: %s
"""

PREFIX = (
    "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document. "
    "Number of errors found: 1. "
)


def test_what_brume_cannot_expand_is_refused_in_the_translators_words(server):
    cfn = server.client("cloudformation")
    local = FUNCTION % "./src"
    message = refused(cfn, local)
    assert message == PREFIX + (
        "Resource with id [Fn] is invalid. 'CodeUri' is not a valid S3 Uri of the form 's3://bucket/key' "
        "with optional versionId query parameter."
    )
    with pytest.raises(Exception) as e:
        reference(local)
    assert message == "Transform AWS::Serverless-2016-10-31 failed with: " + " ".join(
        [e.value.message] + [cause.message for cause in e.value.causes]
    )

    schedule = FUNCTION % "s3://b/k" + "      Events:\n        Tick:\n          Type: Schedule\n" \
        "          Properties: {Schedule: rate(1 minute)}\n"
    assert refused(cfn, schedule) == PREFIX + (
        "Resource with id [Fn] is invalid. Event with id [Tick] is invalid. EventBridge is not available in Brume yet."
    )
    api = "Transform: AWS::Serverless-2016-10-31\nResources:\n  Api:\n    Type: AWS::Serverless::Api\n" \
        "    Properties: {StageName: prod}\n"
    assert refused(cfn, api) == PREFIX + "Resource with id [Api] is invalid. API Gateway is not available in Brume yet."
    assert "AWS::ApiGateway::RestApi" in {r["Type"] for r in reference(api)["Resources"].values()}
    assert "AWS::Events::Rule" in {r["Type"] for r in reference(schedule)["Resources"].values()}

    policies = "Globals:\n  Function:\n    Policies: [AWSLambdaExecute]\n" + FUNCTION % "s3://b/k"
    with pytest.raises(Exception) as e:
        reference(policies)
    translator = " ".join([e.value.message] + [cause.message for cause in e.value.causes])
    assert refused(cfn, policies) == "Transform AWS::Serverless-2016-10-31 failed with: " + translator
    assert translator.endswith(
        "'Globals' section is invalid. 'Policies' is not a supported property of 'Function'. "
        "Must be one of the following values - ['Handler', 'Runtime', 'CodeUri', 'DeadLetterQueue', 'Description', "
        "'MemorySize', 'Timeout', 'VpcConfig', 'Environment', 'Tags', 'PropagateTags', 'Tracing', 'KmsKeyArn', "
        "'AutoPublishAlias', 'AutoPublishAliasAllProperties', 'Layers', 'DeploymentPreference', 'RolePath', "
        "'PermissionsBoundary', 'ReservedConcurrentExecutions', 'ProvisionedConcurrencyConfig', "
        "'AssumeRolePolicyDocument', 'EventInvokeConfig', 'FileSystemConfigs', 'CodeSigningConfigArn', "
        "'Architectures', 'SnapStart', 'EphemeralStorage', 'FunctionUrlConfig', 'RuntimeManagementConfig', "
        "'LoggingConfig', 'RecursiveLoop', 'SourceKMSKeyArn', 'TenancyConfig', 'DurableConfig', "
        "'CapacityProviderConfig', 'FunctionScalingConfig', 'PublishToLatestPublished', 'VersionDeletionPolicy']"
    )


def test_a_deployed_function_consumes_its_queue(server, tmp_path):
    template = tmp_path / "app.yaml"
    template.write_text((SAM / "function_sqs.yaml").read_text())
    server.cli(
        "cloudformation", "deploy", "--template-file", str(template), "--stack-name", "sam-app",
        "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND",
    )
    cfn, sqs, ddb, lam = (server.client(s) for s in ("cloudformation", "sqs", "dynamodb", "lambda"))
    resources = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName="sam-app")["StackResources"]}
    assert {k: r["ResourceType"] for k, r in resources.items()} == {
        "Queue": "AWS::SQS::Queue", "Table": "AWS::DynamoDB::Table", "Worker": "AWS::Lambda::Function",
        "WorkerRole": "AWS::IAM::Role", "WorkerMessages": "AWS::Lambda::EventSourceMapping",
    }
    function = lam.get_function(FunctionName=resources["Worker"]["PhysicalResourceId"])
    assert function["Configuration"]["Environment"]["Variables"]["STAGE"] == "test"
    assert function["Tags"]["lambda:createdBy"] == "SAM"
    table = resources["Table"]["PhysicalResourceId"]
    sqs.send_message(QueueUrl=resources["Queue"]["PhysicalResourceId"], MessageBody="hello")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "Item" not in ddb.get_item(TableName=table, Key={"id": {"S": "hello"}}):
        time.sleep(0.2)
    assert ddb.get_item(TableName=table, Key={"id": {"S": "hello"}})["Item"] == {"id": {"S": "hello"}}


def test_create_stack_asks_for_auto_expand_and_a_change_set_does_not(server):
    cfn = server.client("cloudformation")
    body = FUNCTION % "s3://b/k"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cfn.create_stack(StackName="direct", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    assert e.value.response["Error"]["Code"] == "InsufficientCapabilitiesException"
    assert e.value.response["Error"]["Message"] == "Requires capabilities : [CAPABILITY_AUTO_EXPAND]"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cfn.create_change_set(StackName="direct", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=body)
    assert e.value.response["Error"]["Message"] == "Requires capabilities : [CAPABILITY_IAM]"
    cfn.create_change_set(
        StackName="direct", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=body, Capabilities=["CAPABILITY_IAM"]
    )
