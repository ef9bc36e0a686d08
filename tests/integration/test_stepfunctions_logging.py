"""Step Functions: loggingConfiguration validated and described as AWS does, history events
written to CloudWatch Logs at each level (with and without execution data, STANDARD and
EXPRESS), EXPRESS executions known only through their logs, and AWS's 256 KiB data limit."""

import json
import time

import botocore.exceptions
import pytest

from test_stepfunctions import ROLE, error_of, history, machine, run

GROUP = "/aws/vendedlogs/states/brume"
GROUP_ARN = f"arn:aws:logs:us-east-1:000000000000:log-group:{GROUP}:*"

PASS_FAIL = {
    "StartAt": "Step",
    "States": {
        "Step": {"Type": "Pass", "Result": {"x": 1}, "Next": "Boom"},
        "Boom": {"Type": "Fail", "Error": "MyError", "Cause": "it broke"},
    },
}
PASS_ONLY = {"StartAt": "Step", "States": {"Step": {"Type": "Pass", "Result": {"x": 1}, "End": True}}}


def config(level, data=False, group_arn=GROUP_ARN):
    return {"level": level, "includeExecutionData": data,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]}


def log_lines(logs, execution_arn, count, timeout=20):
    """The log events of one execution, parsed, once there are `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        events = logs.filter_log_events(logGroupName=GROUP)["events"]
        lines = [json.loads(e["message"]) for e in events]
        mine = [line for line in lines if line["execution_arn"] == execution_arn]
        if len(mine) >= count or time.monotonic() > deadline:
            return mine, events
        time.sleep(0.05)


def test_logging_configuration_validated_as_aws_does(server):
    sfn = server.client("stepfunctions")
    for bad in [{"level": "ALL"}, {"level": "ERROR", "destinations": []},
                {"level": "ALL", "destinations": config("ALL")["destinations"] * 2}]:
        err = error_of(sfn.create_state_machine, name="bad", definition=json.dumps(PASS_ONLY), roleArn=ROLE,
                       loggingConfiguration=bad)
        assert err["Code"] == "InvalidLoggingConfiguration"
        assert err["Message"] == "Invalid Logging Configuration: Must specify exactly one Log Destination."
    no_star = config("ALL", group_arn=GROUP_ARN[:-2])
    err = error_of(sfn.create_state_machine, name="bad", definition=json.dumps(PASS_ONLY), roleArn=ROLE,
                   loggingConfiguration=no_star)
    assert err == {"Code": "InvalidLoggingConfiguration",
                   "Message": "Invalid Logging Configuration: Log Group ARN must be provided with '*' qualifier."}
    arn = machine(sfn, "plain", PASS_ONLY, loggingConfiguration={})
    assert sfn.describe_state_machine(stateMachineArn=arn)["loggingConfiguration"] == {
        "level": "OFF", "includeExecutionData": False}
    sfn.update_state_machine(stateMachineArn=arn, loggingConfiguration=config("ERROR", True))
    assert sfn.describe_state_machine(stateMachineArn=arn)["loggingConfiguration"] == config("ERROR", True)
    err = error_of(sfn.update_state_machine, stateMachineArn=arn, loggingConfiguration={"level": "FATAL"})
    assert err["Code"] == "InvalidLoggingConfiguration"
    assert sfn.describe_state_machine(stateMachineArn=arn)["loggingConfiguration"] == config("ERROR", True)


def test_all_level_logs_every_history_event_as_aws_writes_it(server):
    sfn, logs = server.client("stepfunctions"), server.client("logs")
    arn = machine(sfn, "all", PASS_FAIL, loggingConfiguration=config("ALL", data=True))
    done = run(sfn, arn, {"in": "put"})
    assert done["status"] == "FAILED"
    events = history(sfn, done["executionArn"])
    lines, raw = log_lines(logs, done["executionArn"], len(events))
    assert [line["type"] for line in lines] == [e["type"] for e in events]
    assert [line["id"] for line in lines] == [str(e["id"]) for e in events]
    assert [line["previous_event_id"] for line in lines] == [str(e["previousEventId"]) for e in events]
    started = lines[0]
    assert started["details"]["input"] == '{"in": "put"}'
    assert started["details"]["roleArn"] == ROLE
    assert lines[2]["details"] == {"name": "Step", "output": '{"x":1}', "outputDetails": {"truncated": False}}
    assert lines[-1]["details"] == {"error": "MyError", "cause": "it broke"}
    assert all(int(line["event_timestamp"]) == e["timestamp"] for line, e in zip(lines, raw))
    stream = raw[0]["logStreamName"]
    assert stream.startswith("states/all/") and all(e["logStreamName"] == stream for e in raw)


@pytest.mark.parametrize("level,expected", [
    ("ERROR", ["FailStateEntered", "ExecutionFailed"]),
    ("FATAL", ["ExecutionFailed"]),
])
def test_error_and_fatal_levels_log_only_failures(server, level, expected):
    sfn, logs = server.client("stepfunctions"), server.client("logs")
    arn = machine(sfn, f"lvl-{level}", PASS_FAIL, loggingConfiguration=config(level))
    done = run(sfn, arn)
    lines, _ = log_lines(logs, done["executionArn"], len(expected))
    assert [line["type"] for line in lines] == expected
    # Without includeExecutionData the input leaves the entered state's details.
    if level == "ERROR":
        assert lines[0]["details"] == {"name": "Boom", "inputDetails": {"truncated": False}}


def test_off_level_and_execution_data_left_out(server):
    sfn, logs = server.client("stepfunctions"), server.client("logs")
    quiet = machine(sfn, "quiet", PASS_ONLY, loggingConfiguration=config("ALL"))
    sfn.update_state_machine(stateMachineArn=quiet, loggingConfiguration={"level": "OFF"})
    assert run(sfn, quiet)["status"] == "SUCCEEDED"
    terse = machine(sfn, "terse", PASS_ONLY, loggingConfiguration=config("ALL", data=False))
    done = run(sfn, terse, {"secret": 1})
    lines, _ = log_lines(logs, done["executionArn"], 5)
    assert [line["type"] for line in lines] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert all("input" not in line["details"] and "output" not in line["details"] for line in lines)
    assert lines[0]["details"]["roleArn"] == ROLE
    all_lines = [json.loads(e["message"]) for e in logs.filter_log_events(logGroupName=GROUP)["events"]]
    assert {line["execution_arn"] for line in all_lines} == {done["executionArn"]}


def test_stopped_execution_logs_its_abort(server):
    sfn, logs = server.client("stepfunctions"), server.client("logs")
    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
    arn = machine(sfn, "stopped", wait, loggingConfiguration=config("FATAL"))
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.stop_execution(executionArn=execution, error="Halt", cause="by test")
    lines, _ = log_lines(logs, execution, 1)
    assert [(line["type"], line["details"]) for line in lines] == [
        ("ExecutionAborted", {"error": "Halt", "cause": "by test"})]


def test_express_history_only_in_logs(server):
    sfn, logs = server.client("stepfunctions", inject_host_prefix=False), server.client("logs")
    loop = {
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Result": 0, "ResultPath": "$.i", "Next": "Inc"},
            "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Loop"},
            "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": 200, "Next": "Inc"}],
                     "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    arn = machine(sfn, "express", loop, type="EXPRESS", loggingConfiguration=config("ALL", data=True))
    out = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"i": 200}
    # Init, 200 x (Inc, Loop), Done: entered and exited each, with start and end.
    count = 2 + 2 * (1 + 400 + 1)
    lines, raw = log_lines(logs, out["executionArn"], count)
    assert len(lines) == count
    assert lines[0]["type"] == "ExecutionStarted" and lines[-1]["type"] == "ExecutionSucceeded"
    assert lines[-1]["details"]["output"] == '{"i":200}'
    assert [int(line["id"]) for line in lines] == list(range(1, count + 1))
    assert raw[0]["logStreamName"].startswith("states/express/")
    for call in (sfn.describe_execution, sfn.get_execution_history):
        err = error_of(call, executionArn=out["executionArn"])
        assert err == {"Code": "ExecutionDoesNotExist", "Message": f"Execution Does Not Exist: '{out['executionArn']}'"}
    # Asynchronous EXPRESS executions log too.
    started = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    lines, _ = log_lines(logs, started, count)
    assert len(lines) == count and lines[-1]["type"] == "ExecutionSucceeded"


def test_logs_read_back_with_the_cli(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "cli", PASS_FAIL, loggingConfiguration=config("ERROR"))
    done = run(sfn, arn)
    lines, _ = log_lines(server.client("logs"), done["executionArn"], 2)
    _, out, _ = server.cli("logs", "filter-log-events", "--log-group-name", GROUP,
                           "--filter-pattern", '"ExecutionFailed"')
    assert [json.loads(e["message"])["type"] for e in out["events"]] == ["ExecutionFailed"]


BIG = "x" * 262_144


def test_data_limit_exceeded_fails_the_execution_uncaught_by_states_all(server):
    sfn = server.client("stepfunctions")
    definition = {
        "StartAt": "Grow",
        "States": {
            "Grow": {"Type": "Pass", "Parameters": {"big.$": "$.half", "again.$": "$.half"}, "End": True},
        },
    }
    arn = machine(sfn, "grow", definition)
    half = "y" * 140_000
    done = run(sfn, arn, {"half": half})
    assert done["status"] == "FAILED"
    assert done["error"] == "States.DataLimitExceeded"
    assert done["cause"] == ("The state/task 'Grow' returned a result with a size exceeding the maximum number of "
                             "bytes service limit.")
    caught = {
        "StartAt": "Grow",
        "States": {
            "Grow": {"Type": "Parallel", "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
                {"StartAt": "C", "States": {"C": {"Type": "Pass", "End": True}}},
            ], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
            "Caught": {"Type": "Succeed"},
        },
    }
    arn = machine(sfn, "caught", caught)
    done = run(sfn, arn, {"half": half})
    assert (done["status"], done["error"]) == ("FAILED", "States.DataLimitExceeded")
    named = json.loads(json.dumps(caught))
    named["States"]["Grow"]["Catch"] = [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "Caught"}]
    arn = machine(sfn, "named", named)
    assert run(sfn, arn, {"half": half})["status"] == "SUCCEEDED"


def test_payloads_over_the_limit_refused(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "big", PASS_ONLY)
    err = error_of(sfn.start_execution, stateMachineArn=arn, input=json.dumps(BIG))
    assert err["Code"] == "ValidationException"
    assert err["Message"] == ("1 validation error detected: Value at 'input' failed to satisfy constraint: "
                              "Member must have length less than or equal to 262144")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sfn.send_task_success(taskToken="t" * 20, output=json.dumps(BIG))
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "Value at 'output' failed to satisfy constraint" in e.value.response["Error"]["Message"]
