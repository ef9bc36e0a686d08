"""The front end's model validation, shared by every service whose AWS front end checks
input against the service model: lengths, ranges, enums and patterns of members at any
depth, listed in one error with AWS's wording and each service's error code. Values are
chosen past what botocore itself checks (it checks required members, types and minimums)."""
import json

import botocore.exceptions
import pytest

REGION = "us-east-1"


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    r = e.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r["ResponseMetadata"]["HTTPStatusCode"]


def constraint(value, at, rule):
    """One failing member as the message words it; CloudWatch Logs (value None) no longer
    shows the value."""
    shown = "" if value is None else f" '{value}'"
    return f"Value{shown} at '{at}' failed to satisfy constraint: Member must {rule}"


def test_logs_lists_a_batch_of_too_many_events_without_showing_it(server):
    logs = server.client("logs")
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    events = [{"timestamp": 1_700_000_000_000, "message": "m"}] * 10_001
    code, message, _ = error_of(logs.put_log_events, logGroupName="g", logStreamName="s", logEvents=events)
    assert (code, message) == ("InvalidParameterException", "1 validation error detected: " + constraint(
        None, "logEvents", "have length less than or equal to 10000"))
    # botocore would refuse the request itself; the server must too.
    raw = server.client("logs", parameter_validation=False)
    code, message, _ = error_of(raw.put_log_events, logGroupName="g", logStreamName="s",
                                logEvents=[{"timestamp": 1_700_000_000_000, "message": "m"}, {"message": "m"}])
    assert (code, message) == ("InvalidParameterException", "1 validation error detected: Value null at "
                               "'logEvents.2.member.timestamp' failed to satisfy constraint: Member must not be null")


def test_logs_filter_pattern_longer_than_1024_is_refused(server):
    logs = server.client("logs")
    logs.create_log_group(logGroupName="g")
    pattern = "a" * 1025
    code, message, status = error_of(logs.filter_log_events, logGroupName="g", filterPattern=pattern)
    assert (code, status) == ("InvalidParameterException", 400)
    assert message == "1 validation error detected: " + constraint(
        None, "filterPattern", "have length less than or equal to 1024")
    assert logs.filter_log_events(logGroupName="g", filterPattern="a" * 1024)["events"] == []


def test_dynamodb_lists_every_broken_member_with_its_path(server):
    ddb = server.client("dynamodb")
    code, message, status = error_of(
        ddb.create_table, TableName="tbl",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "SIDEWAYS"}],
        BillingMode="FREE")
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("2 validation errors detected: "), message
    parts = message.removeprefix("2 validation errors detected: ").split("; ")
    assert sorted(parts) == sorted([
        constraint("FREE", "billingMode", "satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"),
        constraint("SIDEWAYS", "keySchema.1.member.keyType", "satisfy enum value set: [HASH, RANGE]"),
    ])
    assert ddb.list_tables()["TableNames"] == []


def test_dynamodb_nested_required_member(server):
    # botocore would refuse the request itself; the server must too.
    ddb = server.client("dynamodb", parameter_validation=False)
    code, message, _ = error_of(
        ddb.create_table, TableName="tbl", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    assert (code, message) == ("ValidationException", "1 validation error detected: Value null at "
                               "'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: "
                               "Member must not be null")


def test_lambda_nested_enum(server):
    lam = server.client("lambda")
    code, message, status = error_of(
        lam.create_function, FunctionName="f", Runtime="python3.12", Handler="h.h",
        Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": b"x"}, TracingConfig={"Mode": "Sometimes"})
    assert (code, status) == ("ValidationException", 400)
    assert message == "1 validation error detected: " + constraint(
        "Sometimes", "tracingConfig.mode", "satisfy enum value set: [Active, PassThrough]")


def test_lambda_map_keys_are_reported_at_the_map_without_its_sensitive_value(server):
    lam = server.client("lambda")
    code, message, _ = error_of(
        lam.create_function, FunctionName="f", Runtime="python3.12", Handler="h.h",
        Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": b"x"},
        Environment={"Variables": {"GOOD": "1", "1bad": "secret"}})
    assert code == "ValidationException"
    assert message == ("1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: "
                       "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
                       "[a-zA-Z]([a-zA-Z0-9_])+]")
    assert "secret" not in message


def test_sts_query_protocol_pattern(server):
    sts = server.client("sts")
    code, message, status = error_of(sts.get_session_token, SerialNumber="bad serial!")
    assert (code, status) == ("ValidationError", 400)
    assert message == "1 validation error detected: " + constraint(
        "bad serial!", "serialNumber", "satisfy regular expression pattern: [\\w+=/:,.@-]*")


def test_lists_of_structures_over_their_length_are_refused_without_their_value(server):
    # AWS shows such a list as Java prints its objects (with hash codes), which no model can
    # say; the constraint, path and code are AWS's. botocore checks no maximum itself.
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    sts = server.client("sts")
    code, message, status = error_of(sts.assume_role, RoleArn="arn:aws:iam::000000000000:role/r",
                                     RoleSessionName="session", Tags=tags)
    assert (code, status) == ("ValidationError", 400)
    assert message == "1 validation error detected: " + constraint(
        None, "tags", "have length less than or equal to 50")
    assert sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/r", RoleSessionName="session",
                           Tags=tags[:50])["Credentials"]["AccessKeyId"]

    cfn = server.client("cloudformation")
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    code, message, _ = error_of(cfn.create_stack, StackName="too-many-tags", TemplateBody=body, Tags=tags)
    assert (code, message) == ("ValidationError", "1 validation error detected: " + constraint(
        None, "tags", "have length less than or equal to 50"))
    assert cfn.list_stacks(StackStatusFilter=["CREATE_IN_PROGRESS", "CREATE_COMPLETE"])["StackSummaries"] == []
    triggers = [{"Arn": f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:a{i}",
                 "Type": "AWS::CloudWatch::Alarm"} for i in range(6)]
    code, message, _ = error_of(cfn.create_change_set, StackName="s", ChangeSetName="c", TemplateBody=body,
                                RollbackConfiguration={"RollbackTriggers": triggers})
    assert (code, message) == ("ValidationError", "1 validation error detected: " + constraint(
        None, "rollbackConfiguration.rollbackTriggers", "have length less than or equal to 5"))


def test_cloudformation_enum_in_aws_order(server):
    cfn = server.client("cloudformation")
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    code, message, _ = error_of(cfn.create_change_set, StackName="s", ChangeSetName="c", TemplateBody=body,
                                ChangeSetType="REPLACE")
    # AWS lists this set in its own order, not the model's (CREATE, UPDATE, IMPORT).
    assert (code, message) == ("ValidationError", "1 validation error detected: " + constraint(
        "REPLACE", "changeSetType", "satisfy enum value set: [UPDATE, IMPORT, CREATE]"))


def test_dynamodb_enum_in_aws_order(server):
    ddb = server.client("dynamodb")
    ddb.create_table(TableName="tbl", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    code, message, _ = error_of(ddb.scan, TableName="tbl", Select="EVERYTHING")
    assert (code, message) == ("ValidationException", "1 validation error detected: " + constraint(
        "EVERYTHING", "select",
        "satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"))


def test_step_functions_sensitive_values_are_not_echoed(server):
    sfn = server.client("stepfunctions")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(name="m", definition=definition,
                                   roleArn="arn:aws:iam::000000000000:role/r")["stateMachineArn"]
    code, message, _ = error_of(sfn.start_execution, stateMachineArn=arn, input="x" * (256 * 1024 + 1))
    assert (code, message) == ("ValidationException", "1 validation error detected: Value at 'input' failed to "
                               "satisfy constraint: Member must have length less than or equal to 262144")


def test_calls_made_in_process_are_checked_as_requests_are(server):
    """CloudFormation creates a log group through CloudWatch Logs' front end: a name the
    model refuses fails the resource with the error a client would get."""
    cfn = server.client("cloudformation")
    body = json.dumps({"Resources": {"G": {"Type": "AWS::Logs::LogGroup",
                                           "Properties": {"LogGroupName": "bad name!"}}}})
    cfn.create_stack(StackName="lg", TemplateBody=body)
    with pytest.raises(botocore.exceptions.WaiterError):
        cfn.get_waiter("stack_create_complete").wait(StackName="lg", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    listed = cfn.describe_stack_events(StackName="lg")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in listed
               if e["LogicalResourceId"] == "G" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert len(reasons) == 1
    assert constraint(None, "logGroupName", "satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+") \
        in reasons[0], reasons[0]


def test_aws_cli_sees_the_same_error(server):
    server.client("logs").create_log_group(logGroupName="g")
    code, _, err = server.cli("logs", "describe-log-streams", "--log-group-name", "g",
                              "--order-by", "Sideways", check=False)
    assert code != 0
    assert "(InvalidParameterException)" in err
    assert constraint(None, "orderBy", "satisfy enum value set: [LogStreamName, LastEventTime]") in err


def test_dynamodb_ranges_and_lengths_are_the_front_ends(server):
    """Checks DynamoDB's handlers used to make themselves, now the front end's."""
    ddb = server.client("dynamodb", parameter_validation=False)  # botocore checks minimums itself
    ddb.create_table(TableName="tbl", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    cases = [
        (ddb.list_tables, {"Limit": 101}, constraint(101, "limit", "have value less than or equal to 100")),
        (ddb.scan, {"TableName": "tbl", "Segment": 0, "TotalSegments": 0},
         constraint(0, "totalSegments", "have value greater than or equal to 1")),
        (ddb.scan, {"TableName": "tbl", "Segment": -1, "TotalSegments": 2},
         constraint(-1, "segment", "have value greater than or equal to 0")),
        (ddb.update_time_to_live, {"TableName": "tbl",
                                   "TimeToLiveSpecification": {"Enabled": True, "AttributeName": ""}},
         constraint("", "timeToLiveSpecification.attributeName", "have length greater than or equal to 1")),
        (ddb.update_continuous_backups, {"TableName": "tbl", "PointInTimeRecoverySpecification": {
            "PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 36}},
         constraint(36, "pointInTimeRecoverySpecification.recoveryPeriodInDays",
                    "have value less than or equal to 35")),
        (ddb.create_table, {"TableName": "prov", "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                            "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 5}},
         constraint(0, "provisionedThroughput.readCapacityUnits", "have value greater than or equal to 1")),
    ]
    for call, kwargs, expected in cases:
        assert error_of(call, **kwargs) == ("ValidationException", "1 validation error detected: " + expected, 400)
    # What the service itself still words: a segment not below the total.
    code, message, _ = error_of(ddb.scan, TableName="tbl", Segment=2, TotalSegments=2)
    assert message.startswith("The Segment parameter is zero-based and must be less than parameter TotalSegments")
