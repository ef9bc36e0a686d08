"""Step Functions: the API's validations and errors, every state type, data flow, Retry and
Catch, Lambda tasks, history event sequences as AWS records them, and executions that
survive kill -9."""

import hashlib
import json
import signal
import time

import botocore.exceptions
import pytest

from test_lambda_invoke import create

ROLE = "arn:aws:iam::000000000000:role/sfn-role"
ACCOUNT = "000000000000"
REGION = "us-east-1"


def machine(sfn, name, definition, **extra):
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE,
                                    **extra)["stateMachineArn"]


def finished(sfn, arn, timeout=60):
    """DescribeExecution once the execution is no longer RUNNING."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running after {timeout}s")


def run(sfn, arn, payload=None, name=None):
    args = {"stateMachineArn": arn, "input": json.dumps(payload if payload is not None else {})}
    if name:
        args["name"] = name
    return finished(sfn, sfn.start_execution(**args)["executionArn"])


def history(sfn, execution_arn, **extra):
    return sfn.get_execution_history(executionArn=execution_arn, **extra)["events"]


def types(events):
    return [e["type"] for e in events]


def error_of(call, **args):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**args)
    return e.value.response["Error"]


PASS_CHOICE = {
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "Next": "Pick"},
        "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.r.x", "NumericEquals": 1, "Next": "Pause"}],
                 "Default": "Boom"},
        "Pause": {"Type": "Wait", "Seconds": 0, "Next": "Done"},
        "Done": {"Type": "Succeed", "OutputPath": "$.r"},
        "Boom": {"Type": "Fail", "Error": "Never", "Cause": "not taken"},
    },
}


def test_state_machine_lifecycle_and_pagination(server):
    sfn = server.client("stepfunctions")
    arns = [machine(sfn, f"m{i}", PASS_CHOICE) for i in range(3)]
    assert arns[0] == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m0"
    described = sfn.describe_state_machine(stateMachineArn=arns[0])
    assert described["name"] == "m0"
    assert described["status"] == "ACTIVE"
    assert described["type"] == "STANDARD"
    assert described["roleArn"] == ROLE
    assert json.loads(described["definition"]) == PASS_CHOICE
    page = sfn.list_state_machines(maxResults=2)
    assert [m["name"] for m in page["stateMachines"]] == ["m0", "m1"]
    rest = sfn.list_state_machines(maxResults=2, nextToken=page["nextToken"])
    assert [m["name"] for m in rest["stateMachines"]] == ["m2"]
    assert "nextToken" not in rest
    updated = dict(PASS_CHOICE, Comment="new")
    answer = sfn.update_state_machine(stateMachineArn=arns[1], definition=json.dumps(updated))
    assert answer["revisionId"] != described["revisionId"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arns[1])["definition"])["Comment"] == "new"
    same = sfn.update_state_machine(stateMachineArn=arns[1], definition=json.dumps(updated))
    assert same["revisionId"] == answer["revisionId"]
    sfn.delete_state_machine(stateMachineArn=arns[2])
    err = error_of(sfn.describe_state_machine, stateMachineArn=arns[2])
    assert err["Code"] == "StateMachineDoesNotExist"
    assert err["Message"] == f"State Machine Does Not Exist: '{arns[2]}'"


def test_create_is_idempotent_for_the_same_machine_only(server):
    sfn = server.client("stepfunctions")
    first = sfn.create_state_machine(name="same", definition=json.dumps(PASS_CHOICE), roleArn=ROLE)
    again = sfn.create_state_machine(name="same", definition=json.dumps(PASS_CHOICE), roleArn=ROLE)
    assert again["stateMachineArn"] == first["stateMachineArn"]
    assert again["creationDate"] == first["creationDate"]
    other_role = "arn:aws:iam::000000000000:role/other"
    ignored = sfn.create_state_machine(name="same", definition=json.dumps(PASS_CHOICE), roleArn=other_role,
                                       tags=[{"key": "k", "value": "v"}])
    assert ignored["stateMachineArn"] == first["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=first["stateMachineArn"])["roleArn"] == ROLE
    assert sfn.list_tags_for_resource(resourceArn=first["stateMachineArn"])["tags"] == []
    other = dict(PASS_CHOICE, Comment="different")
    err = error_of(sfn.create_state_machine, name="same", definition=json.dumps(other), roleArn=ROLE)
    assert err["Code"] == "StateMachineAlreadyExists"
    assert err["Message"] == f"State Machine Already Exists: '{first['stateMachineArn']}'"


def test_names_arns_and_definitions_are_validated(server):
    sfn = server.client("stepfunctions")
    for name in ["has space", "a/b", "star*"]:
        err = error_of(sfn.create_state_machine, name=name, definition=json.dumps(PASS_CHOICE), roleArn=ROLE)
        assert err["Code"] == "InvalidName", name
        assert err["Message"] == f"Invalid Name: '{name}'"
    # The length is the model's, checked by the front end before the service's own rules.
    too_long = {"Code": "ValidationException", "Message": f"1 validation error detected: Value '{'x' * 81}' at "
                "'name' failed to satisfy constraint: Member must have length less than or equal to 80"}
    assert error_of(sfn.create_state_machine, name="x" * 81, definition=json.dumps(PASS_CHOICE),
                    roleArn=ROLE) == too_long
    err = error_of(sfn.create_state_machine, name="bad", definition="{not json", roleArn=ROLE)
    assert err["Code"] == "InvalidDefinition"
    assert err["Message"].startswith("Invalid State Machine Definition: ")
    err = error_of(sfn.create_state_machine, name="bad", definition=json.dumps({"States": {}}), roleArn=ROLE)
    assert err["Code"] == "InvalidDefinition"
    assert "SCHEMA_VALIDATION_FAILED" in err["Message"]
    err = error_of(sfn.describe_state_machine, stateMachineArn="not-an-arn")
    assert err["Code"] == "InvalidArn"
    err = error_of(sfn.describe_execution,
                   executionArn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:nope:nothing")
    assert err["Code"] == "ExecutionDoesNotExist"
    arn = machine(sfn, "valid", PASS_CHOICE)
    err = error_of(sfn.start_execution, stateMachineArn=arn, input="{oops")
    assert err["Code"] == "InvalidExecutionInput"
    err = error_of(sfn.start_execution, stateMachineArn=arn, name="bad name")
    assert err["Code"] == "InvalidName"
    assert error_of(sfn.start_execution, stateMachineArn=arn, name="x" * 81) == too_long
    err = error_of(sfn.start_execution, stateMachineArn=arn, input="")
    assert err == {"Code": "InvalidExecutionInput",
                   "Message": "Invalid State Machine Execution Input: 'Invalid execution input.'"}
    err = error_of(sfn.list_state_machines, maxResults=1001)
    assert err["Code"] == "ValidationException"
    assert err["Message"] == ("1 validation error detected: Value '1001' at 'maxResults' failed to satisfy "
                              "constraint: Member must have value less than or equal to 1000")


def test_validate_state_machine_definition(server):
    sfn = server.client("stepfunctions")
    ok = sfn.validate_state_machine_definition(definition=json.dumps(PASS_CHOICE))
    assert ok["result"] == "OK"
    assert ok["diagnostics"] == []
    bad = {"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": True}}}
    failed = sfn.validate_state_machine_definition(definition=json.dumps(bad))
    assert failed["result"] == "FAIL"
    assert failed["diagnostics"][0]["severity"] == "ERROR"


def test_pass_choice_wait_succeed_history_as_aws_records_it(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "flow", PASS_CHOICE)
    done = run(sfn, arn, {"a": 2}, name="first")
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"x": 1}
    assert done["executionArn"] == f"arn:aws:states:{REGION}:{ACCOUNT}:execution:flow:first"
    events = history(sfn, done["executionArn"])
    assert types(events) == [
        "ExecutionStarted",
        "PassStateEntered", "PassStateExited",
        "ChoiceStateEntered", "ChoiceStateExited",
        "WaitStateEntered", "WaitStateExited",
        "SucceedStateEntered", "SucceedStateExited",
        "ExecutionSucceeded",
    ]
    assert [e["id"] for e in events] == list(range(1, 11))
    # The first state's entry points at no event, as ExecutionStarted does.
    assert [e["previousEventId"] for e in events] == [0, 0] + list(range(2, 10))
    assert events[0]["executionStartedEventDetails"]["roleArn"] == ROLE
    assert json.loads(events[0]["executionStartedEventDetails"]["input"]) == {"a": 2}
    assert events[1]["stateEnteredEventDetails"]["name"] == "Init"
    assert json.loads(events[2]["stateExitedEventDetails"]["output"]) == {"a": 2, "r": {"x": 1}}
    assert json.loads(events[-1]["executionSucceededEventDetails"]["output"]) == {"x": 1}
    reversed_events = history(sfn, done["executionArn"], reverseOrder=True, maxResults=3)
    assert [e["id"] for e in reversed_events] == [10, 9, 8]
    page = sfn.get_execution_history(executionArn=done["executionArn"], maxResults=4)
    rest = sfn.get_execution_history(executionArn=done["executionArn"], nextToken=page["nextToken"])
    assert [e["id"] for e in page["events"] + rest["events"]] == list(range(1, 11))
    bare = history(sfn, done["executionArn"], includeExecutionData=False)
    assert "input" not in bare[0]["executionStartedEventDetails"]
    for_execution = sfn.describe_state_machine_for_execution(executionArn=done["executionArn"])
    assert for_execution["stateMachineArn"] == arn
    assert json.loads(for_execution["definition"]) == PASS_CHOICE


def test_fail_state_with_error_and_cause_paths(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "fails", {
        "StartAt": "F",
        "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}},
    })
    done = run(sfn, arn, {"e": "Custom.Error", "c": "because"})
    assert done["status"] == "FAILED"
    assert (done["error"], done["cause"]) == ("Custom.Error", "because")
    events = history(sfn, done["executionArn"])
    assert types(events) == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    assert events[-1]["executionFailedEventDetails"] == {"error": "Custom.Error", "cause": "because"}


def test_parallel_and_map_states(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "fanout", {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$.n", "End": True}}},
                ],
                "ResultPath": "$.parallel",
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
                "ResultPath": "$.mapped",
                "End": True,
            },
        },
    })
    done = run(sfn, arn, {"n": 7, "items": ["x", "y", "z"]})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["parallel"] == ["a", 7]
    assert output["mapped"] == [{"value": "x", "index": 0}, {"value": "y", "index": 1}, {"value": "z", "index": 2}]
    events = history(sfn, done["executionArn"])
    kinds = types(events)
    assert kinds[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert sorted(kinds[3:7]) == ["PassStateEntered", "PassStateEntered", "PassStateExited", "PassStateExited"]
    assert kinds[7:11] == ["ParallelStateSucceeded", "ParallelStateExited", "MapStateEntered", "MapStateStarted"]
    assert kinds.count("MapIterationStarted") == 3
    assert kinds.count("MapIterationSucceeded") == 3
    assert kinds[-3:] == ["MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    started = next(e for e in events if e["type"] == "MapStateStarted")
    assert started["mapStateStartedEventDetails"] == {"length": 3}
    iterations = [e["mapIterationStartedEventDetails"] for e in events if e["type"] == "MapIterationStarted"]
    assert sorted(i["index"] for i in iterations) == [0, 1, 2]
    assert {i["name"] for i in iterations} == {"Each"}


def test_a_failing_branch_fails_the_parallel_state_and_catch_handles_it(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "branchfail", {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Bad", "States": {"Bad": {"Type": "Fail", "Error": "Oops", "Cause": "branch"}}},
                ],
                "Catch": [{"ErrorEquals": ["Oops"], "ResultPath": "$.caught", "Next": "After"}],
                "Next": "After",
            },
            "After": {"Type": "Pass", "End": True},
        },
    })
    done = run(sfn, arn, {"k": 1})
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"k": 1, "caught": {"Error": "Oops", "Cause": "branch"}}
    assert "ParallelStateFailed" in types(history(sfn, done["executionArn"]))


def test_start_execution_idempotency_and_stop(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "slow", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}})
    first = sfn.start_execution(stateMachineArn=arn, name="once", input='{"a": 1}')
    again = sfn.start_execution(stateMachineArn=arn, name="once", input='{"a": 1}')
    assert again["executionArn"] == first["executionArn"]
    assert again["startDate"] == first["startDate"]
    err = error_of(sfn.start_execution, stateMachineArn=arn, name="once", input='{"a": 2}')
    assert err["Code"] == "ExecutionAlreadyExists"
    assert err["Message"] == f"Execution Already Exists: '{first['executionArn']}'"
    running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
    assert [e["name"] for e in running] == ["once"]
    sfn.stop_execution(executionArn=first["executionArn"], error="Stopped.ByTest", cause="enough")
    described = sfn.describe_execution(executionArn=first["executionArn"])
    assert described["status"] == "ABORTED"
    assert (described["error"], described["cause"]) == ("Stopped.ByTest", "enough")
    assert "stopDate" in described
    events = history(sfn, first["executionArn"])
    assert types(events) == ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]
    assert events[-1]["executionAbortedEventDetails"] == {"error": "Stopped.ByTest", "cause": "enough"}
    assert events[-1]["previousEventId"] == 0
    err = error_of(sfn.start_execution, stateMachineArn=arn, name="once", input='{"a": 1}')
    assert err["Code"] == "ExecutionAlreadyExists"
    assert sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"] == []
    assert [e["status"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == ["ABORTED"]


def test_execution_timeout(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "timesout", {
        "StartAt": "W", "TimeoutSeconds": 1, "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}},
    })
    done = run(sfn, arn)
    assert done["status"] == "TIMED_OUT"
    assert types(history(sfn, done["executionArn"]))[-1] == "ExecutionTimedOut"


DOUBLER = """
def handler(event, context):
    return {"doubled": event["n"] * 2}
"""

FLAKY = """
class Flaky(Exception):
    pass

def handler(event, context):
    if event["retry"] < event["failures"]:
        raise Flaky("attempt %d failed" % event["retry"])
    return {"attempts": event["retry"] + 1}
"""

SLOW = """
import time
def handler(event, context):
    time.sleep(5)
    return {}
"""


@pytest.fixture
def functions(server):
    lam = server.client("lambda")
    create(lam, "doubler", {"index.py": DOUBLER})
    create(lam, "flaky", {"index.py": FLAKY})
    create(lam, "slow", {"index.py": SLOW}, Timeout=30)
    return lam


def function_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def test_lambda_invoke_integration_result_and_history(server, functions):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "invoke", {
        "StartAt": "Call",
        "States": {"Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "doubler", "Payload": {"n.$": "$.n"}},
            "ResultSelector": {"body.$": "$.Payload", "code.$": "$.StatusCode"},
            "End": True,
        }},
    })
    done = run(sfn, arn, {"n": 21})
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"body": {"doubled": 42}, "code": 200}
    events = history(sfn, done["executionArn"])
    assert types(events) == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
        "TaskStateExited", "ExecutionSucceeded",
    ]
    scheduled = events[2]["taskScheduledEventDetails"]
    assert (scheduled["resourceType"], scheduled["resource"], scheduled["region"]) == ("lambda", "invoke", REGION)
    assert json.loads(scheduled["parameters"]) == {"FunctionName": "doubler", "Payload": {"n": 21}}
    result = json.loads(events[4]["taskSucceededEventDetails"]["output"])
    assert result["ExecutedVersion"] == "$LATEST"
    assert result["StatusCode"] == 200
    assert result["Payload"] == {"doubled": 42}
    assert result["SdkHttpMetadata"]["HttpStatusCode"] == 200


def test_plain_function_arn_resource(server, functions):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "plain", {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": function_arn("doubler"), "End": True}},
    })
    done = run(sfn, arn, {"n": 5})
    assert json.loads(done["output"]) == {"doubled": 10}
    assert types(history(sfn, done["executionArn"])) == [
        "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded",
    ]


def flaky_machine(sfn, name, failures, retry, catch=None):
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "flaky",
                       "Payload": {"retry.$": "$$.State.RetryCount", "failures": failures}},
        "OutputPath": "$.Payload",
        "Retry": retry,
        "End": True,
    }
    states = {"Call": task}
    if catch:
        task["Catch"] = catch
        states["Handled"] = {"Type": "Pass", "End": True}
    return machine(sfn, name, {"StartAt": "Call", "States": states})


def test_retry_until_the_function_succeeds(server, functions):
    sfn = server.client("stepfunctions")
    arn = flaky_machine(sfn, "retries", 2, [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 3,
                                              "BackoffRate": 1.0}])
    done = run(sfn, arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"attempts": 3}
    assert types(history(sfn, done["executionArn"])) == [
        "ExecutionStarted", "TaskStateEntered",
        "TaskScheduled", "TaskStarted", "TaskFailed",
        "TaskScheduled", "TaskStarted", "TaskFailed",
        "TaskScheduled", "TaskStarted", "TaskSucceeded",
        "TaskStateExited", "ExecutionSucceeded",
    ]


def test_retries_exhausted_then_caught_or_failed(server, functions):
    sfn = server.client("stepfunctions")
    caught = flaky_machine(sfn, "caught", 5, [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                           catch=[{"ErrorEquals": ["Flaky"], "ResultPath": "$.error", "Next": "Handled"}])
    done = run(sfn, caught, {"keep": True})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["keep"] is True
    assert output["error"]["Error"] == "Flaky"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "attempt 1 failed"
    assert types(history(sfn, done["executionArn"]))[-5:] == [
        "TaskFailed", "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded",
    ]
    uncaught = flaky_machine(sfn, "uncaught", 5, [])
    done = run(sfn, uncaught)
    assert done["status"] == "FAILED"
    assert done["error"] == "Flaky"
    assert json.loads(done["cause"])["errorType"] == "Flaky"
    assert types(history(sfn, done["executionArn"]))[-2:] == ["TaskFailed", "ExecutionFailed"]


def test_missing_function_is_a_lambda_error(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "nofunction", {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "ghost", "Payload": {}}, "End": True}},
    })
    done = run(sfn, arn)
    assert done["status"] == "FAILED"
    assert done["error"] == "Lambda.ResourceNotFoundException"


def test_task_timeout(server, functions):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "tasktimeout", {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 1,
                            "Parameters": {"FunctionName": "slow", "Payload": {}}, "End": True}},
    })
    done = run(sfn, arn)
    assert done["status"] == "FAILED"
    assert done["error"] == "States.Timeout"
    assert types(history(sfn, done["executionArn"]))[-2:] == ["TaskTimedOut", "ExecutionFailed"]


def test_timeout_seconds_path(server, functions):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "timeoutpath", {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                            "TimeoutSecondsPath": "$.limit",
                            "Parameters": {"FunctionName": "slow", "Payload": {}}, "End": True}},
    })
    done = run(sfn, arn, {"limit": 1})
    assert (done["status"], done["error"]) == ("FAILED", "States.Timeout")
    scheduled = next(e for e in history(sfn, done["executionArn"]) if e["type"] == "TaskScheduled")
    assert scheduled["taskScheduledEventDetails"]["timeoutInSeconds"] == 1
    done = run(sfn, arn, {"limit": "soon"})
    assert (done["status"], done["error"]) == ("FAILED", "States.Runtime")


def test_express_machines_run_synchronously(server):
    sfn = server.client("stepfunctions", inject_host_prefix=False)
    arn = machine(sfn, "express", PASS_CHOICE, type="EXPRESS")
    assert sfn.describe_state_machine(stateMachineArn=arn)["type"] == "EXPRESS"
    answer = sfn.start_sync_execution(stateMachineArn=arn, input='{"z": 0}')
    assert answer["status"] == "SUCCEEDED"
    assert json.loads(answer["output"]) == {"x": 1}
    assert answer["executionArn"].startswith(f"arn:aws:states:{REGION}:{ACCOUNT}:express:express:")
    failing = machine(sfn, "expressfail", {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}},
                      type="EXPRESS")
    answer = sfn.start_sync_execution(stateMachineArn=failing)
    assert (answer["status"], answer["error"]) == ("FAILED", "E")
    standard = machine(sfn, "standard", PASS_CHOICE)
    err = error_of(sfn.start_sync_execution, stateMachineArn=standard)
    assert err["Code"] == "StateMachineTypeNotSupported"
    err = error_of(sfn.list_executions, stateMachineArn=arn)
    assert err["Code"] == "StateMachineTypeNotSupported"


def test_tags(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "tagged", PASS_CHOICE, tags=[{"key": "team", "value": "a"}])
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}]
    err = error_of(sfn.list_tags_for_resource, resourceArn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:none")
    assert err["Code"] == "ResourceNotFound"


def test_aws_cli(server):
    code, created, _ = server.cli("stepfunctions", "create-state-machine", "--name", "cli",
                                  "--definition", json.dumps(PASS_CHOICE), "--role-arn", ROLE)
    assert code == 0
    code, started, _ = server.cli("stepfunctions", "start-execution", "--state-machine-arn",
                                  created["stateMachineArn"], "--input", '{"q": 1}')
    assert code == 0
    sfn = server.client("stepfunctions")
    assert finished(sfn, started["executionArn"])["status"] == "SUCCEEDED"
    code, listed, _ = server.cli("stepfunctions", "list-executions", "--state-machine-arn", created["stateMachineArn"])
    assert [e["status"] for e in listed["executions"]] == ["SUCCEEDED"]
    code, _, stderr = server.cli("stepfunctions", "describe-state-machine", "--state-machine-arn",
                                 created["stateMachineArn"] + "x", check=False)
    assert code != 0
    assert "StateMachineDoesNotExist" in stderr


def test_a_standard_execution_survives_kill_9_and_keeps_its_wait(start_brume, tmp_path):
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    sfn = brume.client("stepfunctions")
    arn = machine(sfn, "durable", {
        "StartAt": "Before",
        "States": {
            "Before": {"Type": "Pass", "Result": "set", "ResultPath": "$.before", "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 3, "Next": "After"},
            "After": {"Type": "Pass", "Result": "done", "ResultPath": "$.after", "End": True},
        },
    })
    execution = sfn.start_execution(stateMachineArn=arn, name="survivor", input='{"id": 1}')["executionArn"]
    deadline = time.monotonic() + 10
    while "WaitStateEntered" not in types(history(sfn, execution)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()
    restarted = start_brume(data_dir=data_dir)
    sfn = restarted.client("stepfunctions")
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"id": 1, "before": "set", "after": "done"}
    events = history(sfn, execution)
    assert types(events) == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "WaitStateEntered", "WaitStateExited",
        "PassStateEntered", "PassStateExited", "ExecutionSucceeded",
    ]
    assert [e["id"] for e in events] == list(range(1, 9))


def test_sqs_send_message_and_sns_publish_integrations(server):
    sfn = server.client("stepfunctions")
    sqs = server.client("sqs")
    sns = server.client("sns")
    queue = sqs.create_queue(QueueName="from-sfn")["QueueUrl"]
    topic = sns.create_topic(Name="sfn-topic")["TopicArn"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    arn = machine(sfn, "messages", {
        "StartAt": "Send",
        "States": {
            "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                     "Parameters": {"QueueUrl": queue, "MessageBody": {"hello.$": "$.who"}},
                     "ResultPath": "$.sent", "Next": "Publish"},
            "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                        "Parameters": {"TopicArn": topic, "Message": "published"},
                        "ResultPath": "$.published", "End": True},
        },
    })
    done = run(sfn, arn, {"who": "world"})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["sent"]["MD5OfMessageBody"] == hashlib.md5(b'{"hello":"world"}').hexdigest()
    bodies = []
    deadline = time.monotonic() + 10
    while len(bodies) < 2 and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(m["Body"])
    assert sorted(bodies) == sorted(['{"hello":"world"}', "published"])
    assert output["sent"]["MessageId"]
    assert output["published"]["MessageId"]
    scheduled = [e for e in history(sfn, done["executionArn"]) if e["type"] == "TaskScheduled"]
    assert [(e["taskScheduledEventDetails"]["resourceType"], e["taskScheduledEventDetails"]["resource"])
            for e in scheduled] == [("sqs", "sendMessage"), ("sns", "publish")]


def token_machine(sfn, name, queue, **task):
    return machine(sfn, name, {
        "StartAt": "Ask",
        "States": {"Ask": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token", "input.$": "$"}},
            "End": True, **task,
        }},
    })


def received_token(sqs, queue):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            return json.loads(m["Body"])["token"]
    raise AssertionError("no task token arrived")


def test_wait_for_task_token_success_failure_and_heartbeat(server):
    sfn = server.client("stepfunctions")
    sqs = server.client("sqs")
    queue = sqs.create_queue(QueueName="tokens")["QueueUrl"]
    arn = token_machine(sfn, "tokens", queue)
    execution = sfn.start_execution(stateMachineArn=arn, input='{"q": 1}')["executionArn"]
    token = received_token(sqs, queue)
    sfn.send_task_success(taskToken=token, output='{"answer": 42}')
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"answer": 42}
    assert types(history(sfn, execution)) == [
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded",
        "TaskStateExited", "ExecutionSucceeded",
    ]
    err = error_of(sfn.send_task_success, taskToken=token, output="{}")
    assert err["Code"] == "TaskTimedOut"
    err = error_of(sfn.send_task_success, taskToken="garbage", output="{}")
    assert err["Code"] == "InvalidToken"

    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.send_task_failure(taskToken=received_token(sqs, queue), error="Denied", cause="no")
    done = finished(sfn, execution)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Denied", "no")

    caught = machine(sfn, "tokencatch", {
        "StartAt": "Ask",
        "States": {
            "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failed", "Next": "Caught"}],
                    "End": True},
            "Caught": {"Type": "Pass", "End": True},
        },
    })
    execution = sfn.start_execution(stateMachineArn=caught, input='{"k": 1}')["executionArn"]
    sfn.send_task_failure(taskToken=received_token(sqs, queue))
    done = finished(sfn, execution)
    # What SendTaskFailure left out is absent from TaskFailed and null in the caught error.
    assert json.loads(done["output"]) == {"k": 1, "failed": {"Error": None, "Cause": None}}
    failed = next(e for e in history(sfn, execution) if e["type"] == "TaskFailed")
    assert failed["taskFailedEventDetails"] == {"resource": "sendMessage.waitForTaskToken", "resourceType": "sqs"}

    beats = token_machine(sfn, "heartbeats", queue, HeartbeatSeconds=1)
    execution = sfn.start_execution(stateMachineArn=beats)["executionArn"]
    token = received_token(sqs, queue)
    sfn.send_task_heartbeat(taskToken=token)
    done = finished(sfn, execution)
    # AWS records a missed heartbeat as States.Timeout.
    assert (done["status"], done["error"]) == ("FAILED", "States.Timeout")
    events = history(sfn, execution)
    assert types(events)[-2:] == ["TaskTimedOut", "ExecutionFailed"]
    assert events[-2]["taskTimedOutEventDetails"] == {
        "error": "States.Timeout", "resource": "sendMessage.waitForTaskToken", "resourceType": "sqs"}


def test_a_task_waiting_for_its_token_survives_kill_9(start_brume, tmp_path):
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    sfn = brume.client("stepfunctions")
    sqs = brume.client("sqs")
    queue = sqs.create_queue(QueueName="durable-tokens")["QueueUrl"]
    arn = token_machine(sfn, "durabletokens", queue)
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    token = received_token(sqs, queue)
    deadline = time.monotonic() + 10
    while "TaskSubmitted" not in types(history(sfn, execution)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()
    restarted = start_brume(data_dir=data_dir)
    sfn = restarted.client("stepfunctions")
    sfn.send_task_success(taskToken=token, output='"ok"')
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == "ok"
    assert types(history(sfn, execution)).count("TaskScheduled") == 1


def test_data_flow_paths_and_the_context_object(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "dataflow", {
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "InputPath": "$.order",
                "Parameters": {
                    "id.$": "$.id",
                    "delay.$": "$.delay",
                    "execution.$": "$$.Execution.Name",
                    "state.$": "$$.State.Name",
                    "machine.$": "$$.StateMachine.Name",
                    "role.$": "$$.Execution.RoleArn",
                    "original.$": "$$.Execution.Input.order.id",
                },
                "ResultPath": "$.shaped",
                "OutputPath": "$.shaped",
                "Next": "Pause",
            },
            "Pause": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Until"},
            "Until": {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z", "Next": "Done"},
            "Done": {"Type": "Pass", "ResultPath": None, "End": True},
        },
    })
    done = run(sfn, arn, {"order": {"id": "o-1", "delay": 0}}, name="flow-1")
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {
        "id": "o-1", "delay": 0, "execution": "flow-1", "state": "Shape", "machine": "dataflow", "role": ROLE, "original": "o-1",
    }


def test_a_path_that_selects_nothing_fails_with_states_runtime(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "badpath", {
        "StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.missing", "End": True}},
    })
    done = run(sfn, arn, {"present": 1})
    assert done["status"] == "FAILED"
    assert done["error"] == "States.Runtime"


def test_map_tolerated_failures(server):
    sfn = server.client("stepfunctions")
    processor = {
        "StartAt": "Check",
        "States": {
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": 1, "Next": "Bad"}],
                      "Default": "Good"},
            "Bad": {"Type": "Fail", "Error": "TooBig"},
            "Good": {"Type": "Pass", "End": True},
        },
    }
    tolerant = machine(sfn, "tolerant", {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemProcessor": processor, "ToleratedFailureCount": 1, "End": True}}})
    done = run(sfn, tolerant, [0, 1, 2])
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])[:2] == [0, 1]
    assert types(history(sfn, done["executionArn"])).count("MapIterationFailed") == 1
    done = run(sfn, tolerant, [2, 3])
    assert (done["status"], done["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    strict = machine(sfn, "strict", {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemProcessor": processor, "End": True}}})
    done = run(sfn, strict, [0, 5])
    assert (done["status"], done["error"]) == ("FAILED", "TooBig")
    assert types(history(sfn, done["executionArn"]))[-2:] == ["MapStateFailed", "ExecutionFailed"]


def test_a_slow_map_iteration_does_not_hold_back_the_next_ones(server):
    # MaxConcurrency 2: the first item waits two seconds in one slot while the other four
    # go through the other one after another; the output keeps the items' order.
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "slowfirst", {"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 2, "End": True,
        "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}}}})
    done = run(sfn, arn, [{"s": 2, "i": 0}] + [{"s": 0, "i": i} for i in range(1, 5)])
    assert done["status"] == "SUCCEEDED", done
    assert [o["i"] for o in json.loads(done["output"])] == [0, 1, 2, 3, 4]
    events = history(sfn, done["executionArn"])
    ended = [e["mapIterationSucceededEventDetails"]["index"] for e in events if e["type"] == "MapIterationSucceeded"]
    assert ended == [1, 2, 3, 4, 0]

def chain(events):
    return [(e["id"], e["previousEventId"], e["type"]) for e in events]


def test_map_and_parallel_event_ids_chain_as_aws_records_them(server):
    # Sequences recorded from AWS for the same machines: an iteration's end event and
    # MapStateSucceeded/ParallelStateSucceeded are side branches of the previousEventId chain.
    sfn = server.client("stepfunctions")
    mapped = machine(sfn, "mapchain", {
        "StartAt": "Start",
        "States": {
            "Start": {"Type": "Pass", "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.arr", "MaxConcurrency": 1, "End": True,
                  "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}}},
        },
    })
    done = run(sfn, mapped, {"arr": [1, 2]})
    assert chain(history(sfn, done["executionArn"])) == [
        (1, 0, "ExecutionStarted"), (2, 0, "PassStateEntered"), (3, 2, "PassStateExited"),
        (4, 3, "MapStateEntered"), (5, 4, "MapStateStarted"),
        (6, 5, "MapIterationStarted"), (7, 6, "PassStateEntered"), (8, 7, "PassStateExited"),
        (9, 8, "MapIterationSucceeded"),
        (10, 8, "MapIterationStarted"), (11, 10, "PassStateEntered"), (12, 11, "PassStateExited"),
        (13, 12, "MapIterationSucceeded"),
        (14, 13, "MapStateSucceeded"), (15, 13, "MapStateExited"), (16, 15, "ExecutionSucceeded"),
    ]
    caught = machine(sfn, "mapcatch", {
        "StartAt": "M",
        "States": {
            "M": {"Type": "Map", "Next": "Caught",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                  "ItemProcessor": {"StartAt": "Bad", "States": {"Bad": {"Type": "Fail", "Error": "E", "Cause": "C"}}}},
            "Caught": {"Type": "Pass", "End": True},
        },
    })
    done = run(sfn, caught, [1])
    assert json.loads(done["output"]) == {"Error": "E", "Cause": "C"}
    assert chain(history(sfn, done["executionArn"])) == [
        (1, 0, "ExecutionStarted"), (2, 0, "MapStateEntered"), (3, 2, "MapStateStarted"),
        (4, 3, "MapIterationStarted"), (5, 4, "FailStateEntered"), (6, 5, "MapIterationFailed"),
        (7, 5, "MapStateFailed"), (8, 7, "MapStateExited"), (9, 8, "PassStateEntered"), (10, 9, "PassStateExited"),
        (11, 10, "ExecutionSucceeded"),
    ]
    parallel = machine(sfn, "parallelfail", {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Bad", "States": {"Bad": {"Type": "Fail", "Error": "FailureType"}}}]}},
    })
    done = run(sfn, parallel)
    assert (done["status"], done["error"], done.get("cause")) == ("FAILED", "FailureType", None)
    events = history(sfn, done["executionArn"])
    assert chain(events) == [
        (1, 0, "ExecutionStarted"), (2, 0, "ParallelStateEntered"), (3, 2, "ParallelStateStarted"),
        (4, 3, "FailStateEntered"), (5, 4, "ParallelStateFailed"), (6, 5, "ExecutionFailed"),
    ]
    assert events[-1]["executionFailedEventDetails"] == {"error": "FailureType"}
    ok = machine(sfn, "parallelok", {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}]}},
    })
    done = run(sfn, ok)
    assert chain(history(sfn, done["executionArn"])) == [
        (1, 0, "ExecutionStarted"), (2, 0, "ParallelStateEntered"), (3, 2, "ParallelStateStarted"),
        (4, 3, "PassStateEntered"), (5, 4, "PassStateExited"), (6, 5, "ParallelStateSucceeded"),
        (7, 5, "ParallelStateExited"), (8, 7, "ExecutionSucceeded"),
    ]


def test_runtime_failures_name_the_state_and_its_entered_event(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "runtime", {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Next": "Broken"},
            "Broken": {"Type": "Pass", "InputPath": "$.missing", "End": True},
        },
    })
    done = run(sfn, arn, {"present": 1})
    assert done["error"] == "States.Runtime"
    assert done["cause"].startswith("An error occurred while executing the state 'Broken' (entered at the event id #4). ")


def test_a_parallel_state_interrupted_by_kill_9_completes_after_restart(start_brume, tmp_path):
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    sfn = brume.client("stepfunctions")
    arn = machine(sfn, "durableparallel", {
        "StartAt": "Both",
        "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}},
            {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "p", "End": True}}},
        ]}},
    })
    execution = sfn.start_execution(stateMachineArn=arn, input='{"n": 1}')["executionArn"]
    deadline = time.monotonic() + 10
    while "ParallelStateEntered" not in types(history(sfn, execution)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()
    sfn = start_brume(data_dir=data_dir).client("stepfunctions")
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == [{"n": 1}, "p"]
    kinds = types(history(sfn, execution))
    assert kinds.count("ParallelStateEntered") == 1
    assert kinds[-3:] == ["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]
