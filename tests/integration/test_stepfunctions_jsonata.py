"""Step Functions: workflow variables (Assign, `$name` in JSONPath, scopes of Parallel and
Map, kill -9) and the JSONata query language (Arguments, Output, Assign, Condition, Items,
`$states`, Step Functions' own functions, evaluation errors and their Catch, validation)."""

import json
import signal
import time

from test_lambda_invoke import create
from test_stepfunctions import ROLE, error_of, finished, history, machine, run, types


def exited(events, name):
    return next(e["stateExitedEventDetails"] for e in events
                if e["type"].endswith("StateExited") and e["stateExitedEventDetails"]["name"] == name)


def test_jsonpath_variables_are_assigned_after_the_state_and_read_with_dollar_names(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "vars", {
        "StartAt": "Remember",
        "States": {
            "Remember": {"Type": "Pass", "Parameters": {"id.$": "$.order.id"},
                         "Assign": {"count": 1, "orderId.$": "$.id", "customer.$": "$$.Execution.Input.who"},
                         "Next": "Bump"},
            "Bump": {"Type": "Pass", "Result": {"n": 5},
                     "Assign": {"count.$": "States.MathAdd($count, $.n)", "before.$": "$count"}, "Next": "Use"},
            "Use": {"Type": "Pass", "Parameters": {
                "count.$": "$count", "before.$": "$before", "text.$": "States.Format('{} for {}', $orderId, $customer)"},
                "End": True},
        },
    })
    done = run(sfn, arn, {"order": {"id": "o-7"}, "who": "ana"})
    assert done["status"] == "SUCCEEDED"
    # Assign reads the variables as they were before the state: `before` is the old count.
    assert json.loads(done["output"]) == {"count": 6, "before": 1, "text": "o-7 for ana"}
    events = history(sfn, done["executionArn"])
    remember = exited(events, "Remember")
    assert remember["assignedVariables"] == {"count": "1", "orderId": '"o-7"', "customer": '"ana"'}
    assert remember["assignedVariablesDetails"] == {"truncated": False}
    assert "assignedVariables" not in exited(events, "Use")


def test_an_unassigned_variable_fails_the_execution(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "novar", {
        "StartAt": "Use",
        "States": {"Use": {"Type": "Pass", "Parameters": {"x.$": "$nothing"}, "End": True}},
    })
    done = run(sfn, arn)
    assert done["status"] == "FAILED"
    assert done["error"] == "States.Runtime"
    assert "'x.$'" in done["cause"] and "nothing" in done["cause"]


def test_branches_read_outer_variables_and_keep_their_own(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "scopes", {
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"factor": 10}, "Next": "Both"},
            "Both": {"Type": "Parallel", "Branches": [
                {"StartAt": "B1", "States": {
                    "B1": {"Type": "Pass", "Assign": {"inner": "b1"}, "Next": "B2"},
                    "B2": {"Type": "Pass", "Parameters": {"f.$": "$factor", "i.$": "$inner"}, "End": True}}},
                {"StartAt": "C1", "States": {
                    "C1": {"Type": "Pass", "Parameters": {"f.$": "$factor"}, "End": True}}},
            ], "Assign": {"fromBranches.$": "$[0].i"}, "ResultPath": "$.both", "Next": "Each"},
            "Each": {"Type": "Map", "ItemsPath": "$$.Execution.Input.items", "ItemProcessor": {
                "StartAt": "Times", "States": {
                    "Times": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $factor)"}, "End": True}}},
                "ResultPath": "$.mapped", "Next": "Out"},
            "Out": {"Type": "Pass", "Parameters": {"b.$": "$fromBranches", "mapped.$": "$.mapped"}, "Next": "Leak"},
            "Leak": {"Type": "Pass", "Parameters": {"x.$": "$inner"}, "End": True},
        },
    })
    done = run(sfn, arn, {"items": [1, 2]})
    assert done["status"] == "FAILED"
    assert done["error"] == "States.Runtime"
    assert "inner" in done["cause"]
    events = history(sfn, done["executionArn"])
    assert json.loads(exited(events, "Both")["output"])["both"] == [{"f": 10, "i": "b1"}, {"f": 10}]
    assert json.loads(exited(events, "Out")["output"]) == {"b": "b1", "mapped": [{"v": 11}, {"v": 12}]}


def test_choice_rules_and_catchers_assign(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "assigns", {
        "StartAt": "Pick",
        "States": {
            "Pick": {"Type": "Choice", "Choices": [
                {"Variable": "$.n", "NumericGreaterThan": 1, "Assign": {"size": "big", "n.$": "$.n"}, "Next": "Fail"}],
                "Default": "Fail"},
            "Fail": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                     "Parameters": {"QueueUrl": "http://localhost:4566/000000000000/missing", "MessageBody": "x"},
                     "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err",
                                "Assign": {"caught.$": "$.Error"}, "Next": "Report"}], "End": True},
            "Report": {"Type": "Pass", "Parameters": {"size.$": "$size", "n.$": "$n", "caught.$": "$caught"},
                       "End": True},
        },
    })
    done = run(sfn, arn, {"n": 3})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["size"] == "big" and output["n"] == 3
    assert output["caught"].startswith("SQS.")


def test_variables_survive_kill_9(start_brume, tmp_path):
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    sfn = brume.client("stepfunctions")
    arn = machine(sfn, "durablevars", {
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"kept.$": "$.id"}, "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 3, "Next": "Use"},
            "Use": {"Type": "Pass", "Parameters": {"kept.$": "$kept"}, "End": True},
        },
    })
    execution = sfn.start_execution(stateMachineArn=arn, input='{"id": 42}')["executionArn"]
    deadline = time.monotonic() + 10
    while "WaitStateEntered" not in types(history(sfn, execution)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()
    sfn = start_brume(data_dir=data_dir).client("stepfunctions")
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"kept": 42}


def test_jsonata_states_transform_with_states_and_variables(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "jsonata", {
        "QueryLanguage": "JSONata",
        "StartAt": "Shape",
        "States": {
            "Shape": {"Type": "Pass",
                      "Assign": {"total": "{% $sum($states.input.items.price) %}",
                                 "names": "{% $states.input.items.name %}"},
                      "Output": {"count": "{% $count($states.input.items) %}",
                                 "exec": "{% $states.context.Execution.Name %}"},
                      "Next": "Decide"},
            "Decide": {"Type": "Choice", "Choices": [
                {"Condition": "{% $total > 100 %}", "Next": "Big", "Assign": {"label": "big"}},
                {"Condition": "{% $total > 10 %}", "Next": "Big", "Assign": {"label": "medium"}}],
                "Default": "Big"},
            "Big": {"Type": "Wait", "Seconds": "{% $count($names) - 2 %}", "Next": "Each"},
            "Each": {"Type": "Map", "Items": "{% $names %}",
                     "ItemSelector": {"name": "{% $uppercase($states.context.Map.Item.Value) %}",
                                      "at": "{% $states.context.Map.Item.Index %}"},
                     "ItemProcessor": {"StartAt": "Echo", "States": {
                         "Echo": {"Type": "Pass", "Output": "{% $states.input.name & '#' & $states.input.at %}",
                                  "End": True}}},
                     "Next": "Done"},
            "Done": {"Type": "Succeed", "Output": {
                "label": "{% $label %}", "total": "{% $total %}", "tags": "{% $states.input %}",
                "parts": "{% $partition([1,2,3,4,5], 2) %}", "range": "{% $range(0, 10, 5) %}",
                "hash": "{% $hash('abc', 'SHA-256') %}", "parsed": "{% $parse('{\"a\": [1]}') %}",
                "uuidLength": "{% $length($uuid()) %}"}},
        },
    })
    done = run(sfn, arn, {"items": [{"name": "ab", "price": 7}, {"name": "cd", "price": 8}]}, name="jx")
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {
        "label": "medium", "total": 15, "tags": ["AB#0", "CD#1"],
        "parts": [[1, 2], [3, 4], [5]], "range": [0, 5, 10],
        "hash": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "parsed": {"a": [1]}, "uuidLength": 36,
    }
    events = history(sfn, done["executionArn"])
    assert json.loads(exited(events, "Shape")["output"]) == {"count": 2, "exec": "jx"}
    assert exited(events, "Shape")["assignedVariables"] == {"total": "15", "names": '["ab","cd"]'}


def test_jsonata_tasks_take_arguments_and_catch_with_error_output(server):
    sfn = server.client("stepfunctions")
    lam = server.client("lambda")
    function = "sfn-jsonata-echo"
    create(lam, function, {"index.py": "def handler(event, context):\n"
                                       "    if event.get('fail'):\n"
                                       "        raise ValueError('no ' + event['who'])\n"
                                       "    return {'hello': event['who']}\n"})
    arn = machine(sfn, "jsonatatask", {
        "QueryLanguage": "JSONata",
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Arguments": {"FunctionName": function,
                                   "Payload": {"who": "{% $states.input.who %}", "fail": "{% $states.input.fail %}"}},
                     "Output": "{% $states.result.Payload %}",
                     "Assign": {"status": "{% $states.result.StatusCode %}"},
                     "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed",
                                "Output": {"error": "{% $states.errorOutput.Error %}"},
                                "Assign": {"input": "{% $states.input %}"}}],
                     "Next": "Ok"},
            "Ok": {"Type": "Pass", "Output": {"result": "{% $states.input %}", "status": "{% $status %}"}, "End": True},
            "Failed": {"Type": "Pass", "Output": {"error": "{% $states.input.error %}", "who": "{% $input.who %}"},
                       "End": True},
        },
    })
    done = run(sfn, arn, {"who": "ann", "fail": False})
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"result": {"hello": "ann"}, "status": 200}
    caught = run(sfn, arn, {"who": "bob", "fail": True})
    assert caught["status"] == "SUCCEEDED", caught
    assert json.loads(caught["output"]) == {"error": "ValueError", "who": "bob"}


def test_jsonata_evaluation_errors_are_query_evaluation_errors(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "jsonataerr", {
        "QueryLanguage": "JSONata",
        "StartAt": "Bad",
        "States": {
            "Bad": {"Type": "Pass", "Output": "{% $states.input.missing %}", "End": True},
        },
    })
    done = run(sfn, arn, {"a": 1})
    assert done["status"] == "FAILED"
    assert done["error"] == "States.QueryEvaluationError"
    assert done["cause"].startswith("An error occurred while executing the state 'Bad'")
    assert "returned nothing (undefined)" in done["cause"]
    typed = machine(sfn, "jsonatatype", {
        "QueryLanguage": "JSONata",
        "StartAt": "Bad",
        "States": {
            "Bad": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                    "Arguments": {"QueueUrl": "x", "MessageBody": "{% 'a' + 1 %}"},
                    "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Caught"}],
                    "End": True},
            "Caught": {"Type": "Pass", "Output": "{% $states.input.Error %}", "End": True},
        },
    })
    caught = run(sfn, typed)
    assert caught["status"] == "SUCCEEDED", caught
    assert json.loads(caught["output"]) == "States.QueryEvaluationError"
    failed = machine(sfn, "jsonatafail", {
        "QueryLanguage": "JSONata",
        "StartAt": "F",
        "States": {"F": {"Type": "Fail", "Error": "{% 'Custom.' & $states.input.kind %}",
                         "Cause": "{% $string($states.input.n * 2) %}"}},
    })
    done = run(sfn, failed, {"kind": "Oops", "n": 21})
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Custom.Oops", "42")


def test_jsonata_states_mix_with_jsonpath_states(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "mixed", {
        "StartAt": "Path",
        "States": {
            "Path": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Assign": {"seen.$": "$.n"}, "Next": "Nata"},
            "Nata": {"Type": "Pass", "QueryLanguage": "JSONata",
                     "Output": {"double": "{% $states.input.n * 2 %}", "seen": "{% $seen %}"}, "End": True},
        },
    })
    done = run(sfn, arn, {"n": 4})
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"double": 8, "seen": 4}


def test_jsonata_definitions_are_validated(server):
    sfn = server.client("stepfunctions")
    bad = {"QueryLanguage": "JSONata", "StartAt": "A",
           "States": {"A": {"Type": "Pass", "InputPath": "$.x", "End": True}}}
    error = error_of(sfn.create_state_machine, name="badjsonata", definition=json.dumps(bad), roleArn=ROLE)
    assert error["Code"] == "InvalidDefinition"
    assert "SCHEMA_VALIDATION_FAILED: Field 'InputPath' is not supported at /States/A" in error["Message"]
    broken = {"QueryLanguage": "JSONata", "StartAt": "A",
              "States": {"A": {"Type": "Pass", "Output": "{% $states.input.( %}", "End": True}}}
    _, diagnostics, _ = server.cli("stepfunctions", "validate-state-machine-definition",
                                   "--definition", json.dumps(broken))
    assert diagnostics["result"] == "FAIL"
    assert diagnostics["diagnostics"][0]["code"] == "SCHEMA_VALIDATION_FAILED"
    assert diagnostics["diagnostics"][0]["location"] == "/States/A/Output"
    # Nested past what the parsers follow: refused, where 20,000 levels aborted Brume.
    for deep in ({"QueryLanguage": "JSONata", "Output": "{% " + "(" * 20000 + "1" + ")" * 20000 + " %}"},
                 {"Parameters": {"a.$": "States.Array(" * 20000 + "1" + ")" * 20000}}):
        definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, **deep}}}
        error = error_of(sfn.create_state_machine, name="deep", definition=json.dumps(definition), roleArn=ROLE)
        assert error["Code"] == "InvalidDefinition"
    assert sfn.list_state_machines()["stateMachines"] is not None
