"""CloudFormation: stacks created, updated and deleted through the services' own operations,
with the AWS CLI's `cloudformation deploy`, boto3's change sets and waiters, rollbacks,
DeletionPolicy Retain, exports and imports, and a creation interrupted by kill -9."""
import json
import signal

import botocore.exceptions
import pytest

QUEUE_TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Description: a queue and a topic
Parameters:
  QueueName:
    Type: String
  Secret:
    Type: String
    NoEcho: true
    Default: hush
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Ref QueueName
      VisibilityTimeout: 45
  Topic:
    Type: AWS::SNS::Topic
  Subscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Queue.Arn
  ProdOnly:
    Type: AWS::SQS::Queue
    Condition: IsProd
Outputs:
  QueueUrl:
    Value: !Ref Queue
  QueueArn:
    Value: !GetAtt Queue.Arn
    Export:
      Name: !Sub "${AWS::StackName}-queue-arn"
  TopicArn:
    Value: !Ref Topic
"""


def write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(body)
    return str(path)


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def stack(cfn, name):
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def events(cfn, name):
    """The stack's events, oldest first, as (logical id, status, reason)."""
    listed = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in reversed(listed)]


def waiter(cfn, name):
    return cfn.get_waiter(name), {"Delay": 1, "MaxAttempts": 60}


def wait(cfn, name, **kwargs):
    w, config = waiter(cfn, name)
    w.wait(WaiterConfig=config, **kwargs)


def test_cli_deploy_creates_replaces_and_finds_nothing_to_change(server, tmp_path):
    template = write(tmp_path, "queue.yaml", QUEUE_TEMPLATE)
    code, out, err = server.cli(
        "cloudformation", "deploy", "--template-file", template, "--stack-name", "app",
        "--parameter-overrides", "QueueName=first-queue", "--tags", "team=blue",
    )
    assert code == 0, err
    cfn, sqs = server.client("cloudformation"), server.client("sqs")
    created = stack(cfn, "app")
    assert created["StackStatus"] == "CREATE_COMPLETE"
    assert created["Description"] == "a queue and a topic"
    assert created["Tags"] == [{"Key": "team", "Value": "blue"}]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in created["Parameters"]}
    assert params == {"QueueName": "first-queue", "Secret": "****", "Stage": "dev"}
    outputs = {o["OutputKey"]: o for o in created["Outputs"]}
    first_url = sqs.get_queue_url(QueueName="first-queue")["QueueUrl"]
    assert outputs["QueueUrl"]["OutputValue"] == first_url
    assert outputs["QueueArn"]["ExportName"] == "app-queue-arn"
    attributes = sqs.get_queue_attributes(QueueUrl=first_url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert sqs.list_queue_tags(QueueUrl=first_url)["Tags"]["team"] == "blue"
    resources = {r["LogicalResourceId"]: r for r in cfn.list_stack_resources(StackName="app")["StackResourceSummaries"]}
    assert set(resources) == {"Queue", "Topic", "Subscription"}
    assert all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in resources.values())
    assert resources["Queue"]["PhysicalResourceId"] == first_url

    code, out, err = server.cli(
        "cloudformation", "deploy", "--template-file", template, "--stack-name", "app",
        "--parameter-overrides", "QueueName=second-queue",
    )
    assert code == 0, err
    updated = stack(cfn, "app")
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    second_url = sqs.get_queue_url(QueueName="second-queue")["QueueUrl"]
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        sqs.get_queue_url(QueueName="first-queue")
    assert "NonExistentQueue" in error_of(gone)[0]
    assert {o["OutputKey"]: o["OutputValue"] for o in updated["Outputs"]}["QueueUrl"] == second_url
    history = events(cfn, "app")
    update = history[history.index(("app", "UPDATE_IN_PROGRESS", "User Initiated")):]
    assert ("Queue", "UPDATE_IN_PROGRESS",
            "Requested update requires the creation of a new physical resource; hence creating one.") in update
    assert ("app", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None) in update
    cleanup = update[update.index(("app", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None)):]
    # The subscription's endpoint is the queue's ARN, and a new endpoint replaces it too; the
    # old ones go in reverse dependency order.
    assert cleanup[1:] == [
        ("Subscription", "DELETE_IN_PROGRESS", None), ("Subscription", "DELETE_COMPLETE", None),
        ("Queue", "DELETE_IN_PROGRESS", None), ("Queue", "DELETE_COMPLETE", None),
        ("app", "UPDATE_COMPLETE", None),
    ]

    code, out, err = server.cli(
        "cloudformation", "deploy", "--template-file", template, "--stack-name", "app",
        "--parameter-overrides", "QueueName=second-queue", check=False,
    )
    assert code == 255
    assert "No changes to deploy. Stack app is up to date" in err
    # The empty change set stays, FAILED, as on AWS. The CLI names change sets after the
    # second it starts, so the next deploy could collide with it: delete it as a user would.
    [empty] = [c for c in cfn.list_change_sets(StackName="app")["Summaries"] if c["Status"] == "FAILED"]
    assert (empty["Status"], empty["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert "didn't contain changes" in empty["StatusReason"]
    cfn.delete_change_set(StackName="app", ChangeSetName=empty["ChangeSetName"])
    code, out, err = server.cli(
        "cloudformation", "deploy", "--template-file", template, "--stack-name", "app",
        "--parameter-overrides", "QueueName=second-queue", "--no-fail-on-empty-changeset",
    )
    assert code == 0
    with pytest.raises(botocore.exceptions.ClientError) as same:
        cfn.update_stack(StackName="app", UsePreviousTemplate=True,
                         Parameters=[{"ParameterKey": "QueueName", "UsePreviousValue": True}])
    assert error_of(same) == ("ValidationError", "No updates are to be performed.")


def test_the_event_sequence_of_a_creation_is_aws_s(server):
    cfn = server.client("cloudformation")
    body = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
    stack_id = cfn.create_stack(StackName="seq", TemplateBody=body)["StackId"]
    wait(cfn, "stack_create_complete", StackName="seq")
    assert events(cfn, "seq") == [
        ("seq", "CREATE_IN_PROGRESS", "User Initiated"),
        ("Queue", "CREATE_IN_PROGRESS", None),
        ("Queue", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
        ("Queue", "CREATE_COMPLETE", None),
        ("seq", "CREATE_COMPLETE", None),
    ]
    listed = cfn.describe_stack_events(StackName="seq")["StackEvents"]
    assert listed[0]["PhysicalResourceId"] == stack_id
    assert listed[0]["ResourceType"] == "AWS::CloudFormation::Stack"
    detail = cfn.describe_stack_resource(StackName="seq", LogicalResourceId="Queue")["StackResourceDetail"]
    assert detail["ResourceType"] == "AWS::SQS::Queue"
    assert detail["PhysicalResourceId"].endswith("/seq-Queue-" + detail["PhysicalResourceId"].rsplit("-", 1)[1])
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        cfn.describe_stack_resource(StackName="seq", LogicalResourceId="Nope")
    assert error_of(missing) == ("ValidationError", "Resource Nope does not exist for stack seq")
    by_physical = cfn.describe_stack_resources(PhysicalResourceId=detail["PhysicalResourceId"])["StackResources"]
    assert [r["StackName"] for r in by_physical] == ["seq"]


def test_change_sets_create_then_update(server):
    cfn, sqs = server.client("cloudformation"), server.client("sqs")
    body = QUEUE_TEMPLATE
    created = cfn.create_change_set(
        StackName="cs", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body,
        Parameters=[{"ParameterKey": "QueueName", "ParameterValue": "cs-queue"}],
    )
    assert stack(cfn, "cs")["StackStatus"] == "REVIEW_IN_PROGRESS"
    wait(cfn, "change_set_create_complete", ChangeSetName=created["Id"])
    described = cfn.describe_change_set(ChangeSetName="first", StackName="cs")
    assert described["Status"] == "CREATE_COMPLETE"
    assert described["ExecutionStatus"] == "AVAILABLE"
    assert sorted((c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
                  for c in described["Changes"]) == [("Add", "Queue"), ("Add", "Subscription"), ("Add", "Topic")]
    assert [s["ChangeSetName"] for s in cfn.list_change_sets(StackName="cs")["Summaries"]] == ["first"]
    cfn.execute_change_set(ChangeSetName=created["Id"])
    wait(cfn, "stack_create_complete", StackName="cs")
    assert stack(cfn, "cs")["ChangeSetId"] == created["Id"]

    changed = body.replace("VisibilityTimeout: 45", "VisibilityTimeout: 60").replace(
        "  Topic:\n    Type: AWS::SNS::Topic\n", "  Topic:\n    Type: AWS::SNS::Topic\n  Table:\n"
        "    Type: AWS::DynamoDB::Table\n    Properties:\n      AttributeDefinitions:\n"
        "        - {AttributeName: id, AttributeType: S}\n      KeySchema:\n"
        "        - {AttributeName: id, KeyType: HASH}\n      BillingMode: PAY_PER_REQUEST\n")
    cfn.create_change_set(StackName="cs", ChangeSetName="second", TemplateBody=changed,
                          Parameters=[{"ParameterKey": "QueueName", "UsePreviousValue": True}])
    wait(cfn, "change_set_create_complete", ChangeSetName="second", StackName="cs")
    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]
               for c in cfn.describe_change_set(ChangeSetName="second", StackName="cs")["Changes"]}
    assert changes["Queue"]["Action"] == "Modify"
    assert changes["Queue"]["Replacement"] == "False"
    assert changes["Table"]["Action"] == "Add"
    assert set(changes) == {"Queue", "Table"}
    renamed = changed.replace("QueueName: !Ref QueueName", "QueueName: !Sub '${QueueName}-2'")
    cfn.create_change_set(StackName="cs", ChangeSetName="third", TemplateBody=renamed,
                          Parameters=[{"ParameterKey": "QueueName", "UsePreviousValue": True}])
    third = cfn.describe_change_set(ChangeSetName="third", StackName="cs")["Changes"]
    replacements = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"].get("Replacement") for c in third}
    # The subscription's endpoint is the new queue's ARN, not known before the queue is made.
    assert replacements == {"Queue": "True", "Subscription": "Conditional", "Table": None}
    cfn.delete_change_set(ChangeSetName="third", StackName="cs")
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        cfn.describe_change_set(ChangeSetName="third", StackName="cs")
    assert error_of(gone) == ("ChangeSetNotFound", "ChangeSet [third] does not exist")
    cfn.create_change_set(StackName="cs", ChangeSetName="spare", TemplateBody=renamed,
                          Parameters=[{"ParameterKey": "QueueName", "UsePreviousValue": True}])

    cfn.execute_change_set(ChangeSetName="second", StackName="cs")
    # Executing a change set removes the stack's others; it stays, its execution the stack's.
    assert [(s["ChangeSetName"], s["ExecutionStatus"]) for s in cfn.list_change_sets(StackName="cs")["Summaries"]] \
        in ([("second", "EXECUTE_IN_PROGRESS")], [("second", "EXECUTE_COMPLETE")])
    wait(cfn, "stack_update_complete", StackName="cs")
    assert cfn.describe_change_set(ChangeSetName="second", StackName="cs")["ExecutionStatus"] == "EXECUTE_COMPLETE"
    with pytest.raises(botocore.exceptions.ClientError) as again:
        cfn.execute_change_set(ChangeSetName="second", StackName="cs")
    assert error_of(again)[0] == "InvalidChangeSetStatus"
    url = sqs.get_queue_url(QueueName="cs-queue")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "60"}
    table = cfn.describe_stack_resource(StackName="cs", LogicalResourceId="Table")["StackResourceDetail"]
    server.client("dynamodb").describe_table(TableName=table["PhysicalResourceId"])
    assert cfn.list_change_sets(StackName="cs")["Summaries"][0]["ExecutionStatus"] == "EXECUTE_COMPLETE"

    cfn.create_change_set(StackName="cs", ChangeSetName="empty", TemplateBody=changed,
                          Parameters=[{"ParameterKey": "QueueName", "UsePreviousValue": True}])
    empty = cfn.describe_change_set(ChangeSetName="empty", StackName="cs")
    assert (empty["Status"], empty["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert empty["StatusReason"] == ("The submitted information didn't contain changes. "
                                     "Submit different information to create a change set.")
    failing = changed.replace("VisibilityTimeout: 60", "VisibilityTimeout: 60\n      MaximumMessageSize: 1")
    cfn.create_change_set(StackName="cs", ChangeSetName="failing", TemplateBody=failing,
                          Parameters=[{"ParameterKey": "QueueName", "UsePreviousValue": True}])
    wait(cfn, "change_set_create_complete", ChangeSetName="failing", StackName="cs")
    cfn.execute_change_set(ChangeSetName="failing", StackName="cs")
    with pytest.raises(botocore.exceptions.WaiterError):
        wait(cfn, "stack_update_complete", StackName="cs")
    assert stack(cfn, "cs")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert [(s["ChangeSetName"], s["ExecutionStatus"]) for s in cfn.list_change_sets(StackName="cs")["Summaries"]] \
        == [("failing", "EXECUTE_FAILED")]


def test_a_failing_resource_rolls_the_creation_back(server):
    cfn, sqs = server.client("cloudformation"), server.client("sqs")
    body = json.dumps({"Resources": {
        "Good": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "rollback-good"}},
        "Bad": {"Type": "AWS::SQS::Queue", "DependsOn": "Good",
                "Properties": {"QueueName": "rollback-bad", "VisibilityTimeout": 99999}},
    }})
    cfn.create_stack(StackName="rb", TemplateBody=body)
    with pytest.raises(botocore.exceptions.WaiterError):
        wait(cfn, "stack_create_complete", StackName="rb")
    assert stack(cfn, "rb")["StackStatus"] == "ROLLBACK_COMPLETE"
    history = events(cfn, "rb")
    failed = [e for e in history if e[1] == "CREATE_FAILED"]
    assert [e[0] for e in failed] == ["Bad"]
    assert failed[0][2].startswith('Resource handler returned message: "')
    assert ("rb", "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [Bad]. Rollback requested by user.") in history
    tail = history[history.index(("rb", "ROLLBACK_IN_PROGRESS",
                                  "The following resource(s) failed to create: [Bad]. Rollback requested by user.")):]
    assert ("Good", "DELETE_COMPLETE", None) in tail
    assert tail[-1] == ("rb", "ROLLBACK_COMPLETE", None)
    with pytest.raises(botocore.exceptions.ClientError):
        sqs.get_queue_url(QueueName="rollback-good")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        cfn.update_stack(StackName="rb", TemplateBody=body)
    code, message = error_of(refused)
    assert code == "ValidationError" and "is in ROLLBACK_COMPLETE state and can not be updated." in message
    cfn.delete_stack(StackName="rb")
    wait(cfn, "stack_delete_complete", StackName="rb")


def test_disable_rollback_keeps_what_was_created(server):
    cfn, sqs = server.client("cloudformation"), server.client("sqs")
    body = json.dumps({"Resources": {
        "Good": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "kept-good"}},
        "Bad": {"Type": "AWS::SQS::Queue", "DependsOn": "Good",
                "Properties": {"QueueName": "kept-bad", "MessageRetentionPeriod": 1}},
    }})
    cfn.create_stack(StackName="keep", TemplateBody=body, DisableRollback=True)
    with pytest.raises(botocore.exceptions.WaiterError):
        wait(cfn, "stack_create_complete", StackName="keep")
    described = stack(cfn, "keep")
    assert described["StackStatus"] == "CREATE_FAILED"
    assert described["StackStatusReason"] == "The following resource(s) failed to create: [Bad]. "
    assert described["DisableRollback"] is True
    sqs.get_queue_url(QueueName="kept-good")
    resources = {r["LogicalResourceId"]: r["ResourceStatus"]
                 for r in cfn.describe_stack_resources(StackName="keep")["StackResources"]}
    assert resources == {"Good": "CREATE_COMPLETE", "Bad": "CREATE_FAILED"}


def test_deletion_honours_retain_and_keeps_the_stack_describable_by_id(server):
    cfn, s3, sqs = server.client("cloudformation"), server.client("s3"), server.client("sqs")
    body = json.dumps({"Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                   "Properties": {"BucketName": "retained-bucket"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "deleted-queue"}},
    }})
    stack_id = cfn.create_stack(StackName="gone", TemplateBody=body,
                                EnableTerminationProtection=True)["StackId"]
    wait(cfn, "stack_create_complete", StackName="gone")
    with pytest.raises(botocore.exceptions.ClientError) as protected:
        cfn.delete_stack(StackName="gone")
    assert error_of(protected) == (
        "ValidationError", "Stack [gone] cannot be deleted while TerminationProtection is enabled")
    cfn.update_termination_protection(StackName="gone", EnableTerminationProtection=False)
    cfn.delete_stack(StackName="gone")
    wait(cfn, "stack_delete_complete", StackName="gone")
    s3.head_bucket(Bucket="retained-bucket")
    with pytest.raises(botocore.exceptions.ClientError):
        sqs.get_queue_url(QueueName="deleted-queue")
    with pytest.raises(botocore.exceptions.ClientError) as by_name:
        cfn.describe_stacks(StackName="gone")
    assert error_of(by_name) == ("ValidationError", "Stack with id gone does not exist")
    deleted = stack(cfn, stack_id)
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    assert "DeletionTime" in deleted
    history = events(cfn, stack_id)
    assert ("Bucket", "DELETE_SKIPPED", None) in history
    summaries = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert [s["StackId"] for s in summaries] == [stack_id]
    assert cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"] == []
    # Deleting again, or a stack that never was, succeeds as on AWS.
    cfn.delete_stack(StackName="gone")
    cfn.delete_stack(StackName="never-was")


def test_exports_imports_lambda_and_a_template_in_s3(server):
    cfn, s3 = server.client("cloudformation"), server.client("s3")
    producer = """
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
Outputs:
  TableName:
    Value: !Ref Table
    Export: {Name: shared-table}
"""
    s3.create_bucket(Bucket="templates")
    s3.put_object(Bucket="templates", Key="producer.yaml", Body=producer.encode())
    cfn.create_stack(StackName="producer", TemplateURL=f"{server.endpoint}/templates/producer.yaml")
    wait(cfn, "stack_create_complete", StackName="producer")
    table = stack(cfn, "producer")["Outputs"][0]["OutputValue"]
    consumer = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Environment:
        Variables:
          TABLE: !ImportValue shared-table
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              return {"table": os.environ["TABLE"]}
Outputs:
  FunctionName:
    Value: !Ref Function
"""
    with pytest.raises(botocore.exceptions.ClientError) as caps:
        cfn.create_stack(StackName="consumer", TemplateBody=consumer)
    assert error_of(caps) == ("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]")
    cfn.create_stack(StackName="consumer", TemplateBody=consumer, Capabilities=["CAPABILITY_IAM"])
    wait(cfn, "stack_create_complete", StackName="consumer")
    function = stack(cfn, "consumer")["Outputs"][0]["OutputValue"]
    answer = server.client("lambda").invoke(FunctionName=function)
    assert json.loads(answer["Payload"].read()) == {"table": table}
    exports = cfn.list_exports()["Exports"]
    assert [(e["Name"], e["Value"]) for e in exports] == [("shared-table", table)]
    assert cfn.list_imports(ExportName="shared-table")["Imports"] == ["consumer"]
    with pytest.raises(botocore.exceptions.ClientError) as in_use:
        cfn.delete_stack(StackName="producer")
    assert error_of(in_use) == ("ValidationError", "Export shared-table cannot be deleted as it is in use by consumer")
    cfn.create_stack(StackName="duplicate", TemplateBody=producer)
    with pytest.raises(botocore.exceptions.WaiterError):
        wait(cfn, "stack_create_complete", StackName="duplicate")
    assert stack(cfn, "duplicate")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert ("duplicate", "ROLLBACK_IN_PROGRESS",
            "Export with name shared-table is already exported by stack producer. Rollback requested by user."
            ) in events(cfn, "duplicate")
    body = cfn.get_template(StackName="producer")["TemplateBody"]
    assert body == producer
    summary = cfn.get_template_summary(StackName="consumer")
    assert sorted(summary["ResourceTypes"]) == ["AWS::IAM::Role", "AWS::Lambda::Function"]
    assert summary["Capabilities"] == ["CAPABILITY_IAM"]


def test_api_errors_in_aws_words(server):
    cfn = server.client("cloudformation")
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    cfn.create_stack(StackName="twice", TemplateBody=body)
    with pytest.raises(botocore.exceptions.ClientError) as twice:
        cfn.create_stack(StackName="twice", TemplateBody=body)
    assert error_of(twice) == ("AlreadyExistsException", "Stack [twice] already exists")
    unknown = json.dumps({"Resources": {"X": {"Type": "AWS::Made::Up"}}})
    with pytest.raises(botocore.exceptions.ClientError) as bad_type:
        cfn.create_stack(StackName="unknown", TemplateBody=unknown)
    assert error_of(bad_type) == ("ValidationError", "Template format error: Unrecognized resource types: [AWS::Made::Up]")
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        cfn.describe_stacks(StackName="nothing")
    assert error_of(missing) == ("ValidationError", "Stack with id nothing does not exist")
    with pytest.raises(botocore.exceptions.ClientError) as no_change_set:
        cfn.describe_change_set(ChangeSetName="nope", StackName="twice")
    assert error_of(no_change_set) == ("ChangeSetNotFound", "ChangeSet [nope] does not exist")
    validated = cfn.validate_template(TemplateBody=QUEUE_TEMPLATE)
    assert [(p["ParameterKey"], p["NoEcho"]) for p in validated["Parameters"]] == [
        ("QueueName", False), ("Secret", True), ("Stage", False)]
    assert validated["Description"] == "a queue and a topic"
    wait(cfn, "stack_create_complete", StackName="twice")
    policy = json.dumps({"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]})
    cfn.set_stack_policy(StackName="twice", StackPolicyBody=policy)
    assert cfn.get_stack_policy(StackName="twice")["StackPolicyBody"] == policy


def test_a_creation_interrupted_by_kill_9_reaches_a_final_state(start_brume, tmp_path):
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    cfn = brume.client("cloudformation")
    # Generated names: a creation in flight at the kill makes the same name again after the
    # restart, so that each resource exists once.
    resources = {f"Queue{i}": {"Type": "AWS::SQS::Queue"} for i in range(64)}
    key = {"AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
           "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}
    resources.update({f"Table{i}": {"Type": "AWS::DynamoDB::Table", "Properties": key} for i in range(8)})
    resources["Topic"] = {"Type": "AWS::SNS::Topic", "DependsOn": sorted(resources)}
    stack_id = cfn.create_stack(StackName="interrupted", TemplateBody=json.dumps({"Resources": resources}))["StackId"]
    # Killed once the first wave has made a table: the wave's outcome is saved when all of it is done.
    dynamodb = brume.client("dynamodb")
    while not dynamodb.list_tables()["TableNames"]:
        pass
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()
    restarted = start_brume(data_dir=data_dir)
    cfn = restarted.client("cloudformation")
    wait(cfn, "stack_create_complete", StackName=stack_id)
    described = stack(cfn, "interrupted")
    assert described["StackStatus"] == "CREATE_COMPLETE"
    listed = cfn.list_stack_resources(StackName="interrupted")["StackResourceSummaries"]
    assert len(listed) == 73 and all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in listed)
    # A queue's URL names the port, which the restart changed: queues compare by name.
    queues = [url.rsplit("/", 1)[1] for url in restarted.client("sqs").list_queues().get("QueueUrls", [])]
    made = [r["PhysicalResourceId"].rsplit("/", 1)[1] for r in listed if r["ResourceType"] == "AWS::SQS::Queue"]
    assert sorted(queues) == sorted(made) and all(q.startswith("interrupted-Queue") for q in queues)
    tables = restarted.client("dynamodb").list_tables()["TableNames"]
    assert sorted(tables) == sorted(r["PhysicalResourceId"] for r in listed if r["ResourceType"] == "AWS::DynamoDB::Table")
    topics = restarted.client("sns").list_topics()["Topics"]
    assert [t["TopicArn"] for t in topics] == [r["PhysicalResourceId"] for r in listed if r["LogicalResourceId"] == "Topic"]
    cfn.delete_stack(StackName="interrupted")
    wait(cfn, "stack_delete_complete", StackName=stack_id)
    assert restarted.client("sqs").list_queues().get("QueueUrls", []) == []
    assert restarted.client("dynamodb").list_tables()["TableNames"] == []


def test_a_failed_update_rolls_back_to_the_previous_state(server):
    cfn, sqs = server.client("cloudformation"), server.client("sqs")
    before = {"Resources": {"Kept": {"Type": "AWS::SQS::Queue",
                                     "Properties": {"QueueName": "upd-kept", "VisibilityTimeout": 10}}},
              "Outputs": {"Timeout": {"Value": "10"}}}
    cfn.create_stack(StackName="upd", TemplateBody=json.dumps(before))
    wait(cfn, "stack_create_complete", StackName="upd")
    after = {"Resources": {
        "Kept": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "upd-kept", "VisibilityTimeout": 20}},
        "Added": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "upd-added"}},
        "Broken": {"Type": "AWS::SQS::Queue", "DependsOn": ["Kept", "Added"],
                   "Properties": {"QueueName": "upd-broken", "DelaySeconds": 5000}},
    }, "Outputs": {"Timeout": {"Value": "20"}}}
    cfn.update_stack(StackName="upd", TemplateBody=json.dumps(after))
    with pytest.raises(botocore.exceptions.WaiterError):
        wait(cfn, "stack_update_complete", StackName="upd")
    described = stack(cfn, "upd")
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert described["Outputs"] == [{"OutputKey": "Timeout", "OutputValue": "10"}]
    history = events(cfn, "upd")
    assert ("upd", "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Broken]. ") in history
    assert history[-1] == ("upd", "UPDATE_ROLLBACK_COMPLETE", None)
    assert ("Added", "DELETE_COMPLETE", None) in history
    url = sqs.get_queue_url(QueueName="upd-kept")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "10"}
    with pytest.raises(botocore.exceptions.ClientError):
        sqs.get_queue_url(QueueName="upd-added")
    assert [r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="upd")["StackResourceSummaries"]] == [
        "Kept"]
    # botocore decodes a JSON template body.
    assert cfn.get_template(StackName="upd")["TemplateBody"] == before


def test_cli_deploy_through_an_s3_bucket_and_package(server, tmp_path):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="artifacts")
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "index.py").write_text("def handler(event, context):\n    return {'packaged': True}\n")
    template = write(tmp_path, "app.yaml", """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code: code
Outputs:
  Name:
    Value: !Ref Function
""")
    env = {"AWS_ENDPOINT_URL": server.endpoint}
    packaged = str(tmp_path / "packaged.yaml")
    server.cli("cloudformation", "package", "--template-file", template, "--s3-bucket", "artifacts",
               "--output-template-file", packaged, env=env)
    code, out, err = server.cli(
        "cloudformation", "deploy", "--template-file", packaged, "--stack-name", "packaged",
        "--s3-bucket", "artifacts", "--force-upload", "--capabilities", "CAPABILITY_IAM", env=env,
    )
    assert code == 0, err
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="artifacts")["Contents"]]
    assert any(k.endswith(".template") for k in keys)
    cfn = server.client("cloudformation")
    name = stack(cfn, "packaged")["Outputs"][0]["OutputValue"]
    answer = server.client("lambda").invoke(FunctionName=name)
    assert json.loads(answer["Payload"].read()) == {"packaged": True}


def test_an_update_interrupted_by_kill_9_is_finished_or_rolled_back(start_brume, tmp_path):
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    cfn = brume.client("cloudformation")
    before = {"Resources": {f"Q{i}": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 10}}
                            for i in range(8)}}
    cfn.create_stack(StackName="upd9", TemplateBody=json.dumps(before))
    wait(cfn, "stack_create_complete", StackName="upd9")
    after = {"Resources": {f"Q{i}": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 20}}
                           for i in range(8)}}
    after["Resources"]["Extra"] = {"Type": "AWS::SNS::Topic", "DependsOn": sorted(after["Resources"])}
    cfn.update_stack(StackName="upd9", TemplateBody=json.dumps(after))
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()
    restarted = start_brume(data_dir=data_dir)
    cfn, sqs = restarted.client("cloudformation"), restarted.client("sqs")
    w = cfn.get_waiter("stack_update_complete")
    try:
        w.wait(StackName="upd9", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    except botocore.exceptions.WaiterError:
        pass
    described = stack(cfn, "upd9")
    assert described["StackStatus"] in ("UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
    expected = "20" if described["StackStatus"] == "UPDATE_COMPLETE" else "10"
    resources = cfn.list_stack_resources(StackName="upd9")["StackResourceSummaries"]
    for r in resources:
        if r["ResourceType"] == "AWS::SQS::Queue":
            attributes = sqs.get_queue_attributes(QueueUrl=r["PhysicalResourceId"], AttributeNames=["VisibilityTimeout"])
            assert attributes["Attributes"]["VisibilityTimeout"] == expected
    topics = [t["TopicArn"] for t in restarted.client("sns").list_topics()["Topics"]]
    extra = [r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "Extra"]
    assert len(extra) == (1 if described["StackStatus"] == "UPDATE_COMPLETE" else 0)
    # A topic the interrupted update was making is gone with the rollback.
    assert topics == extra


def test_on_failure_delete_removes_the_failed_stack(server):
    cfn = server.client("cloudformation")
    body = json.dumps({"Resources": {
        "Good": {"Type": "AWS::SQS::Queue", "Metadata": {"Owner": "tests"}},
        "Bad": {"Type": "AWS::SQS::Queue", "DependsOn": "Good", "Properties": {"MaximumMessageSize": 1}},
    }})
    stack_id = cfn.create_stack(StackName="doomed", TemplateBody=body, OnFailure="DELETE")["StackId"]
    with pytest.raises(botocore.exceptions.WaiterError):
        wait(cfn, "stack_create_complete", StackName=stack_id)
    wait(cfn, "stack_delete_complete", StackName=stack_id)
    statuses = [e[1] for e in events(cfn, stack_id) if e[0] == "doomed"]
    assert statuses == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS",
                        "DELETE_COMPLETE"]
    with pytest.raises(botocore.exceptions.ClientError) as both:
        cfn.create_stack(StackName="both", TemplateBody=body, OnFailure="DELETE", DisableRollback=True)
    assert error_of(both) == ("ValidationError", "You can specify either DisableRollback or OnFailure, but not both.")
    cfn.create_stack(StackName="meta", TemplateBody=json.dumps({"Resources": {
        "Good": {"Type": "AWS::SQS::Queue", "Metadata": {"Owner": "tests"}}}}))
    # Stacks are created in the background, as on AWS: the resource exists once it is.
    wait(cfn, "stack_create_complete", StackName="meta")
    detail = cfn.describe_stack_resource(StackName="meta", LogicalResourceId="Good")["StackResourceDetail"]
    assert json.loads(detail["Metadata"]) == {"Owner": "tests"}
    cfn.create_stack(StackName="later", TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    assert [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]] == ["later", "meta", "doomed"]


def test_stack_events_are_published_to_the_notification_topics(server):
    cfn, sns, sqs = server.client("cloudformation"), server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name="stack-events")["TopicArn"]
    queue = sqs.create_queue(QueueName="stack-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    cfn.create_stack(StackName="noisy", TemplateBody=body, NotificationARNs=[topic])
    wait(cfn, "stack_create_complete", StackName="noisy")
    assert stack(cfn, "noisy")["NotificationARNs"] == [topic]
    received = []
    while len(received) < 5:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=5).get("Messages", [])
        assert batch, f"only {len(received)} notifications arrived"
        received += [m["Body"] for m in batch]
    parsed = [dict(line.split("=", 1) for line in body.strip().split("\n")) for body in received]
    statuses = sorted((p["LogicalResourceId"], p["ResourceStatus"]) for p in parsed)
    assert statuses == sorted([("'noisy'", "'CREATE_IN_PROGRESS'"), ("'Q'", "'CREATE_IN_PROGRESS'"),
                               ("'Q'", "'CREATE_IN_PROGRESS'"), ("'Q'", "'CREATE_COMPLETE'"),
                               ("'noisy'", "'CREATE_COMPLETE'")])
    assert all(p["StackName"] == "'noisy'" and p["Namespace"] == "'000000000000'" for p in parsed)


def test_deleting_a_stack_being_created_deletes_what_it_made(server):
    cfn, sqs = server.client("cloudformation"), server.client("sqs")
    resources = {f"Q{i}": {"Type": "AWS::SQS::Queue", **({"DependsOn": f"Q{i - 1}"} if i else {})} for i in range(10)}
    stack_id = cfn.create_stack(StackName="cancelled", TemplateBody=json.dumps({"Resources": resources}))["StackId"]
    cfn.delete_stack(StackName="cancelled")
    wait(cfn, "stack_delete_complete", StackName=stack_id)
    assert stack(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert sqs.list_queues().get("QueueUrls", []) == []
    history = events(cfn, stack_id)
    assert ("cancelled", "DELETE_IN_PROGRESS", "User Initiated") in history
    assert history[-1] == ("cancelled", "DELETE_COMPLETE", None)


def test_an_export_in_use_cannot_change_and_update_replace_policy_retain_keeps_the_old(server):
    cfn, sqs = server.client("cloudformation"), server.client("sqs")

    def exporting(queue_name, export=True):
        template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "UpdateReplacePolicy": "Retain",
                                            "Properties": {"QueueName": queue_name}}},
                    "Outputs": {"Name": {"Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}}}
        if export:
            template["Outputs"]["Name"]["Export"] = {"Name": "the-queue"}
        return json.dumps(template)

    cfn.create_stack(StackName="exporter", TemplateBody=exporting("old-name"))
    wait(cfn, "stack_create_complete", StackName="exporter")
    importer = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic",
                                        "Properties": {"DisplayName": {"Fn::ImportValue": "the-queue"}}}}}
    cfn.create_stack(StackName="importer", TemplateBody=json.dumps(importer))
    wait(cfn, "stack_create_complete", StackName="importer")

    cfn.update_stack(StackName="exporter", TemplateBody=exporting("new-name"))
    with pytest.raises(botocore.exceptions.WaiterError):
        wait(cfn, "stack_update_complete", StackName="exporter")
    assert stack(cfn, "exporter")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert ("exporter", "UPDATE_ROLLBACK_IN_PROGRESS",
            "Cannot update export the-queue as it is in use by importer. ") in events(cfn, "exporter")
    with pytest.raises(botocore.exceptions.ClientError):
        sqs.get_queue_url(QueueName="new-name")
    cfn.update_stack(StackName="exporter", TemplateBody=exporting("old-name", export=False))
    with pytest.raises(botocore.exceptions.WaiterError):
        wait(cfn, "stack_update_complete", StackName="exporter")
    assert ("exporter", "UPDATE_ROLLBACK_IN_PROGRESS",
            "Cannot delete export the-queue as it is in use by importer. ") in events(cfn, "exporter")

    cfn.delete_stack(StackName="importer")
    wait(cfn, "stack_delete_complete", StackName="importer")
    cfn.update_stack(StackName="exporter", TemplateBody=exporting("new-name"))
    wait(cfn, "stack_update_complete", StackName="exporter")
    sqs.get_queue_url(QueueName="new-name")
    sqs.get_queue_url(QueueName="old-name")
    assert ("Queue", "DELETE_SKIPPED", None) in events(cfn, "exporter")


FOR_EACH_TEMPLATE = """
Transform: AWS::LanguageExtensions
Parameters:
  Names:
    Type: CommaDelimitedList
    Default: default
Resources:
  Fn::ForEach::Queues:
    - Name
    - !Ref Names
    - Queue${Name}:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: !Sub each-${Name}
"""


def test_for_each_over_a_parameter_loops_over_the_value_given(server):
    cfn, sqs = server.client("cloudformation"), server.client("sqs")

    def queues():
        return sorted(url.rsplit("/", 1)[1] for url in sqs.list_queues(QueueNamePrefix="each-").get("QueueUrls", []))

    def logical_ids():
        return sorted(r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="each")["StackResourceSummaries"])

    cfn.create_stack(StackName="each", TemplateBody=FOR_EACH_TEMPLATE,
                     Parameters=[{"ParameterKey": "Names", "ParameterValue": "a,b"}])
    wait(cfn, "stack_create_complete", StackName="each")
    assert logical_ids() == ["Queuea", "Queueb"]
    assert queues() == ["each-a", "each-b"]
    cfn.update_stack(StackName="each", TemplateBody=FOR_EACH_TEMPLATE,
                     Parameters=[{"ParameterKey": "Names", "ParameterValue": "b,c,d"}])
    wait(cfn, "stack_update_complete", StackName="each")
    assert logical_ids() == ["Queueb", "Queuec", "Queued"]
    assert queues() == ["each-b", "each-c", "each-d"]
    # The previous value kept, the loop makes the same resources: nothing to update.
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        cfn.update_stack(StackName="each", UsePreviousTemplate=True,
                         Parameters=[{"ParameterKey": "Names", "UsePreviousValue": True}])
    assert error_of(excinfo) == ("ValidationError", "No updates are to be performed.")
    change_set = cfn.create_change_set(StackName="each", ChangeSetName="fewer", UsePreviousTemplate=True,
                                       Parameters=[{"ParameterKey": "Names", "ParameterValue": "c"}])["Id"]
    wait(cfn, "change_set_create_complete", ChangeSetName=change_set)
    changes = cfn.describe_change_set(ChangeSetName=change_set)["Changes"]
    assert sorted((c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"]) for c in changes) == [
        ("Remove", "Queueb"), ("Remove", "Queued")]
    cfn.delete_stack(StackName="each")
    wait(cfn, "stack_delete_complete", StackName="each")


def test_list_and_describe_operations_page_by_a_hundred(start_brume):
    brume = start_brume()
    cfn = brume.client("cloudformation")
    handles = {f"Handle{i:03}": {"Type": "AWS::CloudFormation::WaitConditionHandle"} for i in range(120)}
    outputs = {f"Out{i:03}": {"Value": f"v{i}", "Export": {"Name": f"page-export-{i:03}"}} for i in range(105)}
    cfn.create_stack(StackName="exporter", TemplateBody=json.dumps({"Resources": handles, "Outputs": outputs}))
    wait(cfn, "stack_create_complete", StackName="exporter")
    importer = json.dumps({"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                           "Outputs": {"Imported": {"Value": {"Fn::ImportValue": "page-export-000"}}}})
    for i in range(101):
        cfn.create_stack(StackName=f"importer-{i:03}", TemplateBody=importer)
    for i in range(101):
        wait(cfn, "stack_create_complete", StackName=f"importer-{i:03}")
    for i in range(101):
        cfn.create_change_set(StackName="importer-000", ChangeSetName=f"cs-{i:03}", UsePreviousTemplate=True)

    def paged(operation, key, **kwargs):
        pages = list(cfn.get_paginator(operation).paginate(**kwargs))
        assert [len(p[key]) for p in pages[:-1]] == [100] * (len(pages) - 1)
        assert all("NextToken" in p for p in pages[:-1]) and "NextToken" not in pages[-1]
        return [item for p in pages for item in p[key]]

    stacks = sorted(["exporter"] + [f"importer-{i:03}" for i in range(101)])
    assert sorted(s["StackName"] for s in paged("list_stacks", "StackSummaries")) == stacks
    assert sorted(s["StackName"] for s in paged("describe_stacks", "Stacks")) == stacks
    assert sorted(paged("list_imports", "Imports", ExportName="page-export-000")) == stacks[1:]
    assert [e["Name"] for e in paged("list_exports", "Exports")] == [f"page-export-{i:03}" for i in range(105)]
    resources = paged("list_stack_resources", "StackResourceSummaries", StackName="exporter")
    assert sorted(r["LogicalResourceId"] for r in resources) == sorted(handles)
    events = paged("describe_stack_events", "StackEvents", StackName="exporter")
    assert len(events) == len({e["EventId"] for e in events}) == 2 + 3 * 120
    assert events[0]["ResourceStatus"] == "CREATE_COMPLETE" and events[0]["LogicalResourceId"] == "exporter"
    change_sets = paged("list_change_sets", "Summaries", StackName="importer-000")
    assert sorted(c["ChangeSetName"] for c in change_sets) == [f"cs-{i:03}" for i in range(101)]


def test_client_request_tokens_make_retries_start_nothing(server):
    cfn = server.client("cloudformation")
    body = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 5}}}})
    rollback = {"RollbackTriggers": [{"Arn": "arn:aws:cloudwatch:us-east-1:000000000000:alarm:a",
                                      "Type": "AWS::CloudWatch::Alarm"}], "MonitoringTimeInMinutes": 5}
    role = "arn:aws:iam::000000000000:role/cfn"
    created = cfn.create_stack(StackName="tokens", TemplateBody=body, ClientRequestToken="create-1",
                               RoleARN=role, RollbackConfiguration=rollback)["StackId"]
    # The retry answers the stack made; another token meets the stack already there.
    assert cfn.create_stack(StackName="tokens", TemplateBody=body, ClientRequestToken="create-1")["StackId"] == created
    with pytest.raises(botocore.exceptions.ClientError) as exists:
        cfn.create_stack(StackName="tokens", TemplateBody=body, ClientRequestToken="create-2")
    assert error_of(exists) == ("AlreadyExistsException", "Stack [tokens] already exists")
    wait(cfn, "stack_create_complete", StackName="tokens")
    described = stack(cfn, "tokens")
    assert (described["RoleARN"], described["RollbackConfiguration"]) == (role, rollback)
    listed = cfn.describe_stack_events(StackName="tokens")["StackEvents"]
    assert {e.get("ClientRequestToken") for e in listed} == {"create-1"}

    updated = body.replace('"VisibilityTimeout": 5', '"VisibilityTimeout": 6')
    cfn.update_stack(StackName="tokens", TemplateBody=updated, ClientRequestToken="update-1")
    cfn.update_stack(StackName="tokens", TemplateBody=updated, ClientRequestToken="update-1")
    wait(cfn, "stack_update_complete", StackName="tokens")
    listed = cfn.describe_stack_events(StackName="tokens")["StackEvents"]
    starts = [e for e in listed if e["LogicalResourceId"] == "tokens" and e["ResourceStatus"] == "UPDATE_IN_PROGRESS"]
    assert len(starts) == 1 and starts[0]["ClientRequestToken"] == "update-1"
    assert stack(cfn, "tokens")["RollbackConfiguration"] == rollback

    change_set = cfn.create_change_set(StackName="tokens", ChangeSetName="seven", TemplateBody=body.replace(
        '"VisibilityTimeout": 5', '"VisibilityTimeout": 7'))["Id"]
    wait(cfn, "change_set_create_complete", ChangeSetName=change_set)
    cfn.execute_change_set(ChangeSetName=change_set, ClientRequestToken="execute-1")
    cfn.execute_change_set(ChangeSetName=change_set, ClientRequestToken="execute-1")
    wait(cfn, "stack_update_complete", StackName="tokens")
    listed = cfn.describe_stack_events(StackName="tokens")["StackEvents"]
    starts = [e for e in listed if e["LogicalResourceId"] == "tokens" and e["ResourceStatus"] == "UPDATE_IN_PROGRESS"]
    assert [e["ClientRequestToken"] for e in starts] == ["execute-1", "update-1"]

    cfn.delete_stack(StackName="tokens", ClientRequestToken="delete-1")
    cfn.delete_stack(StackName="tokens", ClientRequestToken="delete-1")
    wait(cfn, "stack_delete_complete", StackName=created)
    listed = cfn.describe_stack_events(StackName=created)["StackEvents"]
    assert listed[0]["ResourceStatus"] == "DELETE_COMPLETE" and listed[0]["ClientRequestToken"] == "delete-1"
    assert len([e for e in listed if e["ResourceStatus"] == "DELETE_IN_PROGRESS" and e["LogicalResourceId"] == "tokens"]) == 1


def test_a_creation_past_its_timeout_fails_and_rolls_back(start_brume):
    # A minute of TimeoutInMinutes lasts no time here: the creation times out after its first wave.
    brume = start_brume(env={"BRUME_CLOUDFORMATION_MINUTE_MS": "0"})
    cfn, sqs = brume.client("cloudformation"), brume.client("sqs")
    body = json.dumps({"Resources": {
        "First": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "timeout-first"}},
        "Second": {"Type": "AWS::SQS::Queue", "DependsOn": "First", "Properties": {"QueueName": "timeout-second"}}}})
    cfn.create_stack(StackName="slow", TemplateBody=body, TimeoutInMinutes=1)
    with pytest.raises(botocore.exceptions.WaiterError):
        wait(cfn, "stack_create_complete", StackName="slow")
    described = stack(cfn, "slow")
    assert (described["StackStatus"], described["TimeoutInMinutes"]) == ("ROLLBACK_COMPLETE", 1)
    reasons = [(l, s, r) for l, s, r in events(cfn, "slow") if l == "slow"]
    assert reasons[1] == ("slow", "ROLLBACK_IN_PROGRESS",
                          "Stack creation time exceeded the specified timeout. Rollback requested by user.")
    assert ("First", "DELETE_COMPLETE", None) in events(cfn, "slow")
    assert not any(l == "Second" for l, _, _ in events(cfn, "slow"))
    assert sqs.list_queues().get("QueueUrls", []) == []
