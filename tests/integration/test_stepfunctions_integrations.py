"""Step Functions' service integrations driven through state machines: `aws-sdk:` calls to
every service Brume serves, the optimized DynamoDB and SNS ones, nested executions
(request-response, `.sync`, `.sync:2`, and a `.sync` wait surviving kill -9), and SNS
subscriptions that start executions."""

import json
import re
import signal
import time

import botocore.exceptions
import pytest

from test_stepfunctions import ACCOUNT, REGION, error_of, finished, history, machine, run, types


def task_machine(sfn, name, resource, parameters, **state):
    """A machine of one Task calling `resource` with `parameters`; failures are caught into
    the output as `{"Error", "Cause"}`."""
    return machine(sfn, name, {
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True,
                     "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], **state},
            "Caught": {"Type": "Pass", "End": True},
        },
    })


def output(described):
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])


def test_aws_sdk_s3_objects_bodies_times_and_errors(server):
    sfn = server.client("stepfunctions")
    s3 = server.client("s3")
    s3.create_bucket(Bucket="sdk-bucket")
    put = task_machine(sfn, "s3put", "arn:aws:states:::aws-sdk:s3:putObject",
                       {"Bucket": "sdk-bucket", "Key.$": "$.key", "Body.$": "$.body", "ContentType": "text/plain"})
    execution = run(sfn, put, {"key": "a.txt", "body": "hello from a state machine"})
    done = output(execution)
    scheduled = next(e for e in history(sfn, execution["executionArn"]) if e["type"] == "TaskScheduled")
    details = scheduled["taskScheduledEventDetails"]
    assert (details["resourceType"], details["resource"]) == ("aws-sdk:s3", "putObject")
    assert re.fullmatch(r'"[0-9a-f]{32}"', done["ETag"])
    assert s3.get_object(Bucket="sdk-bucket", Key="a.txt")["Body"].read() == b"hello from a state machine"
    get = task_machine(sfn, "s3get", "arn:aws:states:::aws-sdk:s3:getObject",
                       {"Bucket": "sdk-bucket", "Key.$": "$.key"})
    got = output(run(sfn, get, {"key": "a.txt"}))
    assert got["Body"] == "hello from a state machine"
    assert got["ContentType"] == "text/plain"
    assert got["ContentLength"] == 26
    listed = output(run(sfn, task_machine(sfn, "s3list", "arn:aws:states:::aws-sdk:s3:listObjectsV2",
                                          {"Bucket": "sdk-bucket"})))
    assert [o["Key"] for o in listed["Contents"]] == ["a.txt"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", listed["Contents"][0]["LastModified"])
    missing = output(run(sfn, get, {"key": "nope"}))
    assert missing["Error"] == "S3.NoSuchKeyException"
    assert re.fullmatch(r"The specified key does not exist\. \(Service: S3, Status Code: 404, Request ID: \w+, "
                        r"Extended Request ID: \S+\)", missing["Cause"]), missing["Cause"]


def test_aws_sdk_dynamodb_sqs_sts_logs_and_sfn(server):
    sfn = server.client("stepfunctions")
    ddb = server.client("dynamodb")
    ddb.create_table(TableName="sdk-table", AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    put = task_machine(sfn, "ddbput", "arn:aws:states:::aws-sdk:dynamodb:putItem", {
        "TableName": "sdk-table", "Item": {"id": {"S.$": "$.id"}, "n": {"N": "1"}},
        "ConditionExpression": "attribute_not_exists(id)",
    })
    assert output(run(sfn, put, {"id": "k1"})) == {}
    clash = output(run(sfn, put, {"id": "k1"}))
    assert clash["Error"] == "DynamoDb.ConditionalCheckFailedException"
    assert re.fullmatch(r"The conditional request failed \(Service: DynamoDb, Status Code: 400, Request ID: \w+\)",
                        clash["Cause"]), clash["Cause"]
    get = task_machine(sfn, "ddbget", "arn:aws:states:::aws-sdk:dynamodb:getItem",
                       {"TableName": "sdk-table", "Key": {"id": {"S": "k1"}}})
    assert output(run(sfn, get))["Item"] == {"id": {"S": "k1"}, "n": {"N": "1"}}

    queue = output(run(sfn, task_machine(sfn, "sqscreate", "arn:aws:states:::aws-sdk:sqs:createQueue",
                                         {"QueueName": "sdk-queue"})))["QueueUrl"]
    sent = output(run(sfn, task_machine(sfn, "sqssend", "arn:aws:states:::aws-sdk:sqs:sendMessage",
                                        {"QueueUrl": queue, "MessageBody": "via sdk"})))
    assert set(sent) == {"MessageId", "Md5OfMessageBody"}
    assert server.client("sqs").receive_message(QueueUrl=queue)["Messages"][0]["Body"] == "via sdk"
    gone = output(run(sfn, task_machine(sfn, "sqsmissing", "arn:aws:states:::aws-sdk:sqs:sendMessage",
                                        {"QueueUrl": f"{server.endpoint}/{ACCOUNT}/nope", "MessageBody": "x"})))
    assert gone["Error"] == "Sqs.QueueDoesNotExistException"

    me = output(run(sfn, task_machine(sfn, "whoami", "arn:aws:states:::aws-sdk:sts:getCallerIdentity", {})))
    assert me["Account"] == ACCOUNT

    output(run(sfn, task_machine(sfn, "logs", "arn:aws:states:::aws-sdk:cloudwatchlogs:createLogGroup",
                                 {"LogGroupName": "/sdk/group"})))
    groups = server.client("logs").describe_log_groups(logGroupNamePrefix="/sdk/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/sdk/group"]

    described = output(run(sfn, task_machine(sfn, "sfndescribe", "arn:aws:states:::aws-sdk:sfn:describeStateMachine",
                                             {"StateMachineArn.$": "$$.StateMachine.Id"})))
    assert described["Name"] == "sfndescribe"
    assert described["Type"] == "STANDARD"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", described["CreationDate"])
    missing = output(run(sfn, task_machine(sfn, "sfnmissing", "arn:aws:states:::aws-sdk:sfn:describeExecution", {
        "ExecutionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:none:none"})))
    assert missing["Error"] == "Sfn.ExecutionDoesNotExistException"


def test_aws_sdk_lambda_invoke_payload_is_text(server):
    from test_lambda_invoke import create
    lam = server.client("lambda")
    create(lam, "sdk-echo", {"index.py": "def handler(event, context):\n    return {'got': event}\n"})
    sfn = server.client("stepfunctions")
    arn = task_machine(sfn, "sdklambda", "arn:aws:states:::aws-sdk:lambda:invoke",
                       {"FunctionName": "sdk-echo", "Payload": {"a": 1}})
    done = output(run(sfn, arn))
    assert done["StatusCode"] == 200
    assert json.loads(done["Payload"]) == {"got": {"a": 1}}
    missing = output(run(sfn, task_machine(sfn, "sdklambdamissing", "arn:aws:states:::aws-sdk:lambda:invoke",
                                           {"FunctionName": "nope"})))
    assert missing["Error"] == "Lambda.ResourceNotFoundException"


def test_optimized_dynamodb_items(server):
    sfn = server.client("stepfunctions")
    ddb = server.client("dynamodb")
    ddb.create_table(TableName="opt", AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    arn = machine(sfn, "optddb", {
        "StartAt": "Put",
        "States": {
            "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "ResultPath": "$.put",
                    "Parameters": {"TableName": "opt", "Item": {"id": {"S": "a"}, "n": {"N": "1"}}}, "Next": "Update"},
            "Update": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem", "ResultPath": "$.update",
                       "Parameters": {"TableName": "opt", "Key": {"id": {"S": "a"}},
                                      "UpdateExpression": "SET n = n + :one",
                                      "ExpressionAttributeValues": {":one": {"N": "1"}}, "ReturnValues": "ALL_NEW"},
                       "Next": "Get"},
            "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem", "ResultPath": "$.get",
                    "Parameters": {"TableName": "opt", "Key": {"id": {"S": "a"}}}, "Next": "Delete"},
            "Delete": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:deleteItem", "ResultPath": "$.delete",
                       "Parameters": {"TableName": "opt", "Key": {"id": {"S": "a"}}, "ReturnValues": "ALL_OLD"},
                       "Next": "Again"},
            "Again": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                      "Parameters": {"TableName": "opt", "Item": {"id": {"S": "b"}},
                                     "ConditionExpression": "attribute_exists(id)"}, "End": True},
        },
    })
    done = run(sfn, arn)
    assert done["status"] == "FAILED"
    assert done["error"] == "DynamoDB.ConditionalCheckFailedException"
    assert re.fullmatch(r"The conditional request failed \(Service: AmazonDynamoDBv2; Status Code: 400; "
                        r"Error Code: ConditionalCheckFailedException; Request ID: [\w-]+; Proxy: null\)",
                        done["cause"]), done["cause"]
    events = history(sfn, done["executionArn"])
    outputs = [json.loads(e["taskSucceededEventDetails"]["output"]) for e in events if e["type"] == "TaskSucceeded"]
    put, update, get, delete = outputs
    assert put["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert put["SdkResponseMetadata"]["RequestId"] == put["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"]
    assert update["Attributes"] == {"id": {"S": "a"}, "n": {"N": "2"}}
    assert get["Item"] == {"id": {"S": "a"}, "n": {"N": "2"}}
    assert delete["Attributes"] == {"id": {"S": "a"}, "n": {"N": "2"}}
    assert "Item" not in ddb.get_item(TableName="opt", Key={"id": {"S": "a"}})


def test_sns_publish_honours_subject_and_message_structure(server):
    sfn = server.client("stepfunctions")
    sns = server.client("sns")
    sqs = server.client("sqs")
    topic = sns.create_topic(Name="sfn-subject")["TopicArn"]
    queue = sqs.create_queue(QueueName="sfn-subject-q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    arn = task_machine(sfn, "subject", "arn:aws:states:::sns:publish", {
        "TopicArn": topic, "Subject": "Order shipped", "MessageStructure": "json",
        "Message": {"default": "plain", "sqs": "for queues"}})
    done = output(run(sfn, arn))
    assert done["SdkHttpMetadata"]["HttpStatusCode"] == 200
    notification = json.loads(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"][0]["Body"])
    assert notification["Subject"] == "Order shipped"
    assert notification["Message"] == "for queues"
    assert notification["MessageId"] == done["MessageId"]


CHILD = {
    "StartAt": "Check",
    "States": {
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Fail"}],
                  "Default": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)",
                                                "parent.$": "$.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"},
                 "End": True},
        "Fail": {"Type": "Fail", "Error": "ChildError", "Cause": "the child failed"},
    },
}


def parent_machine(sfn, name, child, resource):
    return machine(sfn, name, {
        "StartAt": "Child",
        "States": {"Child": {"Type": "Task", "Resource": resource, "End": True, "Parameters": {
            "StateMachineArn": child,
            "Input": {"n.$": "$.n", "fail.$": "$.fail", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"},
        }}},
    })


def test_nested_executions_request_response_sync_and_sync2(server):
    sfn = server.client("stepfunctions")
    child = machine(sfn, "child", CHILD)

    started = run(sfn, parent_machine(sfn, "parent-rr", child, "arn:aws:states:::states:startExecution"),
                  {"n": 2, "fail": False})
    answer = output(started)
    assert answer["ExecutionArn"].startswith(f"arn:aws:states:{REGION}:{ACCOUNT}:execution:child:")
    assert isinstance(answer["StartDate"], int)
    assert answer["SdkHttpMetadata"]["HttpStatusCode"] == 200
    child_done = finished(sfn, answer["ExecutionArn"])
    assert json.loads(child_done["input"])["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] == started["executionArn"]

    sync = run(sfn, parent_machine(sfn, "parent-sync", child, "arn:aws:states:::states:startExecution.sync"),
               {"n": 3, "fail": False})
    result = output(sync)
    assert result["Status"] == "SUCCEEDED"
    assert json.loads(result["Output"]) == {"doubled": 6, "parent": sync["executionArn"]}
    assert result["StateMachineArn"] == child
    assert isinstance(result["StartDate"], int) and isinstance(result["StopDate"], int)
    events = history(sfn, sync["executionArn"])
    assert types(events) == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
                             "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    submitted = events[4]["taskSubmittedEventDetails"]
    assert submitted["resourceType"] == "states"
    assert submitted["resource"] == "startExecution.sync"
    assert json.loads(submitted["output"])["ExecutionArn"] == result["ExecutionArn"]

    sync2 = output(run(sfn, parent_machine(sfn, "parent-sync2", child, "arn:aws:states:::states:startExecution.sync:2"),
                       {"n": 4, "fail": False}))
    assert sync2["Output"]["doubled"] == 8

    failed = run(sfn, parent_machine(sfn, "parent-fail", child, "arn:aws:states:::states:startExecution.sync"),
                 {"n": 1, "fail": True})
    assert failed["status"] == "FAILED"
    assert failed["error"] == "States.TaskFailed"
    cause = json.loads(failed["cause"])
    assert cause["Status"] == "FAILED"
    assert cause["Error"] == "ChildError"
    assert cause["Cause"] == "the child failed"


def test_lambda_invoke_has_no_sync_pattern(server):
    sfn = server.client("stepfunctions")
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.sync",
        "Parameters": {"FunctionName": "f"}, "End": True}}}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        machine(sfn, "nosync", definition)
    error = e.value.response["Error"]
    assert error["Code"] == "InvalidDefinition"
    assert ("SCHEMA_VALIDATION_FAILED: The resource provided arn:aws:states:::lambda:invoke.sync is not recognized."
            in error["Message"])


def test_a_parent_waiting_on_a_sync_child_survives_kill_9(start_brume, tmp_path):
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    sfn = brume.client("stepfunctions")
    sqs = brume.client("sqs")
    queue = sqs.create_queue(QueueName="child-tokens")["QueueUrl"]
    child = machine(sfn, "waitingchild", {"StartAt": "Wait", "States": {"Wait": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}}}})
    parent = machine(sfn, "waitingparent", {"StartAt": "Child", "States": {"Child": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "End": True,
        "Parameters": {"StateMachineArn": child, "Input": {}}, "OutputPath": "$.Output"}}})
    execution = sfn.start_execution(stateMachineArn=parent)["executionArn"]
    messages = []
    deadline = time.monotonic() + 10
    while not messages:
        assert time.monotonic() < deadline
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
    token = json.loads(messages[0]["Body"])["token"]
    while "TaskSubmitted" not in types(history(sfn, execution)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()
    sfn = start_brume(data_dir=data_dir).client("stepfunctions")
    sfn.send_task_success(taskToken=token, output='{"from": "child"}')
    done = finished(sfn, execution)
    assert output(done) == {"from": "child"}
    assert types(history(sfn, execution)).count("TaskScheduled") == 1
    assert len(sfn.list_executions(stateMachineArn=child)["executions"]) == 1


def test_sns_subscription_starts_one_execution_per_message(server):
    sfn = server.client("stepfunctions")
    sns = server.client("sns")
    arn = machine(sfn, "fromsns", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    raw_arn = machine(sfn, "fromsnsraw", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    topic = sns.create_topic(Name="starts")["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="stepfunctions", Endpoint=arn)["SubscriptionArn"]
    assert sub.startswith(topic + ":")
    sns.subscribe(TopicArn=topic, Protocol="stepfunctions", Endpoint=raw_arn,
                  Attributes={"RawMessageDelivery": "true"})
    message_id = sns.publish(TopicArn=topic, Message='{"order": 7}', Subject="hello")["MessageId"]
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:fromsns:{message_id}"
    deadline = time.monotonic() + 10
    while True:
        listed = sfn.list_executions(stateMachineArn=arn)["executions"]
        raw = sfn.list_executions(stateMachineArn=raw_arn)["executions"]
        if listed and raw:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert [e["executionArn"] for e in listed] == [execution]
    notification = json.loads(finished(sfn, execution)["input"])
    assert notification["Type"] == "Notification"
    assert notification["MessageId"] == message_id
    assert notification["Subject"] == "hello"
    assert notification["Message"] == '{"order": 7}'
    assert notification["TopicArn"] == topic
    assert json.loads(finished(sfn, raw[0]["executionArn"])["input"]) == {"order": 7}

    err = error_of(sns.subscribe, TopicArn=topic, Protocol="stepfunctions", Endpoint="arn:aws:sqs:us-east-1:1:q")
    assert err["Code"] == "InvalidParameter"


def test_aws_cli_runs_an_sdk_integration(server):
    server.client("s3").create_bucket(Bucket="cli-sdk")
    definition = json.dumps({"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "End": True,
        "Parameters": {"Bucket": "cli-sdk", "Key": "k", "Body.$": "$.text"}}}})
    _, created, _ = server.cli("stepfunctions", "create-state-machine", "--name", "cli-sdk", "--definition",
                               definition, "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/r")
    _, started, _ = server.cli("stepfunctions", "start-execution", "--state-machine-arn",
                               created["stateMachineArn"], "--input", '{"text": "from the cli"}')
    sfn = server.client("stepfunctions")
    assert finished(sfn, started["executionArn"])["status"] == "SUCCEEDED"
    body = server.client("s3").get_object(Bucket="cli-sdk", Key="k")["Body"].read()
    assert body == b"from the cli"
