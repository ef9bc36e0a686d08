"""Step Functions TestState: one state run once, its status (SUCCEEDED, FAILED, RETRIABLE,
CAUGHT_ERROR), next state and inspection data, with variables, context and mocks, in both
query languages. TestState's endpoint has the `sync-` host prefix, which boto3 is told not to add
(as for StartSyncExecution: `sync-127.0.0.1` does not resolve)."""

import json

from test_lambda_invoke import create
from test_stepfunctions import ROLE, error_of


def try_state(sfn, state, payload=None, **extra):
    return sfn.test_state(definition=json.dumps(state), roleArn=ROLE,
                          input=json.dumps(payload if payload is not None else {}), **extra)


def test_a_pass_state_shows_each_step_of_its_data_flow(server):
    sfn = server.client("stepfunctions", inject_host_prefix=False)
    state = {"Type": "Pass", "InputPath": "$.order", "Parameters": {"id.$": "$.id", "who.$": "$who"},
             "ResultPath": "$.shaped", "OutputPath": "$.shaped", "Assign": {"seen.$": "$.id"}, "Next": "Elsewhere"}
    answer = try_state(sfn, state, {"order": {"id": 7}}, inspectionLevel="DEBUG",
                        variables=json.dumps({"who": "ann"}))
    assert answer["status"] == "SUCCEEDED"
    assert answer["nextState"] == "Elsewhere"
    assert json.loads(answer["output"]) == {"id": 7, "who": "ann"}
    data = answer["inspectionData"]
    assert json.loads(data["input"]) == {"order": {"id": 7}}
    assert json.loads(data["afterInputPath"]) == {"id": 7}
    assert json.loads(data["variables"]) == {"who": "ann", "seen": 7}
    info = try_state(sfn, state, {"order": {"id": 7}}, variables=json.dumps({"who": "ann"}))
    assert "inspectionData" not in info


def test_a_task_calls_its_resource_and_shows_result_selector_and_result_path(server):
    sfn = server.client("stepfunctions", inject_host_prefix=False)
    lam = server.client("lambda")
    create(lam, "teststate-echo", {"index.py": "def handler(event, context):\n    return {'got': event}\n"})
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": "teststate-echo", "Payload.$": "$.x"},
             "ResultSelector": {"got.$": "$.Payload.got"}, "ResultPath": "$.r", "End": True}
    answer = try_state(sfn, state, {"x": 5}, inspectionLevel="TRACE")
    assert answer["status"] == "SUCCEEDED", answer
    assert "nextState" not in answer
    assert json.loads(answer["output"]) == {"x": 5, "r": {"got": 5}}
    data = answer["inspectionData"]
    assert json.loads(data["afterParameters"]) == {"FunctionName": "teststate-echo", "Payload": 5}
    assert json.loads(data["result"])["StatusCode"] == 200
    assert json.loads(data["afterResultSelector"]) == {"got": 5}
    assert json.loads(data["afterResultPath"]) == {"x": 5, "r": {"got": 5}}


def test_mocked_errors_are_retriable_caught_or_failed(server):
    sfn = server.client("stepfunctions", inject_host_prefix=False)
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": "never-called"},
             "Retry": [{"ErrorEquals": ["Busy"], "MaxAttempts": 2, "IntervalSeconds": 3, "BackoffRate": 2.0}],
             "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle"}], "End": True}
    busy = {"errorOutput": {"error": "Busy", "cause": "try later"}}
    retriable = try_state(sfn, state, {"a": 1}, mock=busy, inspectionLevel="DEBUG")
    assert retriable["status"] == "RETRIABLE"
    assert (retriable["error"], retriable["cause"]) == ("Busy", "try later")
    assert retriable["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 3}
    second = try_state(sfn, state, {"a": 1}, mock=busy, inspectionLevel="DEBUG",
                        stateConfiguration={"retrierRetryCount": 1})
    assert second["inspectionData"]["errorDetails"]["retryBackoffIntervalSeconds"] == 6
    exhausted = try_state(sfn, state, {"a": 1}, mock=busy, inspectionLevel="DEBUG",
                           stateConfiguration={"retrierRetryCount": 2})
    assert exhausted["status"] == "CAUGHT_ERROR"
    assert exhausted["nextState"] == "Handle"
    assert json.loads(exhausted["output"]) == {"a": 1, "error": {"Error": "Busy", "Cause": "try later"}}
    assert exhausted["inspectionData"]["errorDetails"] == {"catchIndex": 0}
    plain = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "x"},
             "End": True}
    failed = try_state(sfn, plain, mock={"errorOutput": {"error": "Boom", "cause": "bad"}})
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Boom", "bad")
    mocked = try_state(sfn, plain, mock={"result": '{"Payload": 1}'})
    assert (mocked["status"], json.loads(mocked["output"])) == ("SUCCEEDED", {"Payload": 1})


def test_jsonata_states_choice_and_a_state_of_a_whole_definition(server):
    sfn = server.client("stepfunctions", inject_host_prefix=False)
    state = {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.n * $factor %}",
             "Assign": {"last": "{% $states.context.Execution.Name %}"}, "End": True}
    answer = try_state(sfn, state, {"n": 4}, variables=json.dumps({"factor": 3}), inspectionLevel="DEBUG",
                        context=json.dumps({"Execution": {"Name": "given"}}))
    assert answer["status"] == "SUCCEEDED", answer
    assert json.loads(answer["output"]) == 12
    assert json.loads(answer["inspectionData"]["variables"]) == {"factor": 3, "last": "given"}
    definition = {"StartAt": "Pick", "States": {
        "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 3, "Next": "Big"}],
                 "Default": "Small"},
        "Big": {"Type": "Succeed"}, "Small": {"Type": "Succeed"}}}
    picked = sfn.test_state(definition=json.dumps(definition), stateName="Pick", input='{"n": 4}', roleArn=ROLE)
    assert picked["status"] == "SUCCEEDED"
    assert picked["nextState"] == "Big"
    failing = try_state(sfn, {"Type": "Fail", "Error": "Nope", "Cause": "because"})
    assert (failing["status"], failing["error"], failing["cause"]) == ("FAILED", "Nope", "because")
    waited = try_state(sfn, {"Type": "Wait", "Seconds": 3600, "Next": "After"}, {"k": 1})
    assert (waited["status"], waited["nextState"], json.loads(waited["output"])) == ("SUCCEEDED", "After", {"k": 1})


def test_bad_requests_get_aws_errors(server):
    sfn = server.client("stepfunctions", inject_host_prefix=False)
    invalid = error_of(sfn.test_state, definition=json.dumps({"Type": "Pass", "Bogus": 1, "End": True}),
                       roleArn=ROLE)
    assert invalid["Code"] == "InvalidDefinition"
    assert "Field 'Bogus' is not supported" in invalid["Message"]
    bad_input = error_of(sfn.test_state, definition=json.dumps({"Type": "Pass", "End": True}), roleArn=ROLE,
                         input="{nope")
    assert bad_input["Code"] == "InvalidExecutionInput"
    missing = error_of(sfn.test_state, definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
                       roleArn=ROLE, stateName="B")
    assert missing["Code"] == "ValidationException"
    token = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
             "Parameters": {"QueueUrl": "q", "MessageBody.$": "$$.Task.Token"}, "End": True}
    assert error_of(sfn.test_state, definition=json.dumps(token), roleArn=ROLE)["Code"] == "ValidationException"
