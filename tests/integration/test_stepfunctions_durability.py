"""Step Functions: Parallel branches and inline Map iterations of a STANDARD execution
survive kill -9. After a restart the finished ones are not run again (their SQS messages are
counted), the one in progress goes on where it was, and the history holds each event once."""

import collections
import json
import signal
import time

from test_stepfunctions import finished, history, machine, types


def send(queue, body, **state):
    """A Task state sending `body` (a payload template) to `queue`."""
    return {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": queue, "MessageBody": body}, "ResultPath": None, **state}


def wait(seconds, **state):
    return {"Type": "Wait", "Seconds": seconds, **state}


def bodies(sqs, queue):
    """Every message body in `queue`, taken out of it."""
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return sorted(found)
        for m in messages:
            found.append(m["Body"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


def entered(events, name):
    return [e for e in events if e.get("stateEnteredEventDetails", {}).get("name") == name]


def killed_when(start_brume, tmp_path, definition, payload, ready):
    """Starts an execution of `definition`, kills Brume with SIGKILL once `ready(events)`
    holds of its stored history, restarts it on the same data, and answers the finished
    execution, its history and the messages its tasks sent to the queue."""
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    sfn, sqs = brume.client("stepfunctions"), brume.client("sqs")
    queue = sqs.create_queue(QueueName="effects")["QueueUrl"]
    arn = machine(sfn, "durable", definition(queue))
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 20
    while not ready(history(sfn, execution)):
        assert time.monotonic() < deadline, history(sfn, execution)
        time.sleep(0.05)
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()
    restarted = start_brume(data_dir=data_dir)
    sfn, sqs = restarted.client("stepfunctions"), restarted.client("sqs")
    done = finished(sfn, execution)
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return done, events, bodies(sqs, queue)


def assert_chained(events):
    """Ids run 1, 2, 3… and each event follows one recorded before it."""
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(0 <= e["previousEventId"] < e["id"] for e in events)


def test_a_parallel_branch_finished_before_kill_9_is_not_run_again(start_brume, tmp_path):
    def definition(queue):
        return {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Send", "States": {
                "Send": send(queue, {"branch.$": "$.n"}, Next="Sent"),
                "Sent": {"Type": "Pass", "Result": "sent", "End": True}}},
            {"StartAt": "Short", "States": {"Short": wait(1, Next="Long"), "Long": wait(3, End=True)}},
        ]}}}

    done, events, sent = killed_when(start_brume, tmp_path, definition, {"n": 7}, lambda events: entered(events, "Long"))
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == ["sent", {"n": 7}]
    assert sent == ['{"branch":7}']
    assert_chained(events)
    assert collections.Counter(types(events)) == {
        "ExecutionStarted": 1, "ParallelStateEntered": 1, "ParallelStateStarted": 1,
        "TaskStateEntered": 1, "TaskScheduled": 1, "TaskStarted": 1, "TaskSucceeded": 1, "TaskStateExited": 1,
        "PassStateEntered": 1, "PassStateExited": 1, "WaitStateEntered": 2, "WaitStateExited": 2,
        "ParallelStateSucceeded": 1, "ParallelStateExited": 1, "ExecutionSucceeded": 1,
    }


def test_inline_map_iterations_done_before_kill_9_are_not_run_again(start_brume, tmp_path):
    def definition(queue):
        return {"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": True,
            "ItemProcessor": {"StartAt": "Send", "States": {
                "Send": send(queue, {"item.$": "$"}, Next="Pause"),
                "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
                "Done": {"Type": "Pass", "Parameters": {"done.$": "$"}, "End": True}}},
        }}}

    def third_waits(events):
        return types(events).count("MapIterationSucceeded") == 2 and len(entered(events, "Pause")) == 3

    done, events, sent = killed_when(start_brume, tmp_path, definition, {"items": [0, 1, 2, 3, 4]}, third_waits)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [{"done": i} for i in range(5)]
    assert sent == sorted(json.dumps({"item": i}, separators=(",", ":")) for i in range(5))
    assert_chained(events)
    kinds = collections.Counter(types(events))
    assert (kinds["MapStateEntered"], kinds["MapStateStarted"], kinds["MapStateSucceeded"]) == (1, 1, 1)
    for kind in ("MapIterationStarted", "MapIterationSucceeded", "TaskScheduled", "TaskSucceeded",
                 "WaitStateEntered", "WaitStateExited", "PassStateEntered", "PassStateExited"):
        assert kinds[kind] == 5, (kind, kinds)
    started = [e["mapIterationStartedEventDetails"]["index"] for e in events if e["type"] == "MapIterationStarted"]
    assert started == [0, 1, 2, 3, 4]


def test_a_parallel_inside_a_map_iteration_resumes_its_branches(start_brume, tmp_path):
    def definition(queue):
        return {"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "ItemsPath": "$", "MaxConcurrency": 1, "End": True,
            "ItemProcessor": {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "Send", "States": {"Send": send(queue, {"item.$": "$"}, End=True)}},
                {"StartAt": "Short", "States": {"Short": wait(1, Next="Long"), "Long": wait(2, End=True)}},
            ]}}},
        }}}

    done, events, sent = killed_when(start_brume, tmp_path, definition, ["a", "b"], lambda events: len(entered(events, "Long")) == 2)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [["a", "a"], ["b", "b"]]
    assert sent == ['{"item":"a"}', '{"item":"b"}']
    assert_chained(events)
    kinds = collections.Counter(types(events))
    assert (kinds["MapStateStarted"], kinds["MapIterationStarted"], kinds["MapIterationSucceeded"]) == (1, 2, 2)
    for kind in ("ParallelStateEntered", "ParallelStateStarted", "ParallelStateSucceeded", "TaskScheduled"):
        assert kinds[kind] == 2, (kind, kinds)
    assert kinds["WaitStateEntered"] == kinds["WaitStateExited"] == 4


def all_events(sfn, execution):
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution)
    return [e for page in pages for e in page["events"]]


def test_a_map_of_many_items_and_a_large_input_runs_each_item_once_across_kill_9(start_brume, tmp_path):
    """Fifty iterations at a time save while the execution's record holds a 200 kB input; after
    the restart each item that had not ended runs, and each is recorded once."""
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    sfn = brume.client("stepfunctions")
    arn = machine(sfn, "many", {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 50, "End": True,
        "ItemProcessor": {"StartAt": "Pause", "States": {"Pause": wait(1, End=True)}},
    }}})
    payload = {"items": list(range(300)), "padding": "x" * 200_000}
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 30
    while types(all_events(sfn, execution)).count("MapIterationSucceeded") < 100:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()
    sfn = start_brume(data_dir=data_dir).client("stepfunctions")
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == list(range(300))
    events = all_events(sfn, execution)
    assert_chained(events)
    kinds = collections.Counter(types(events))
    for kind in ("MapIterationStarted", "WaitStateEntered", "WaitStateExited", "MapIterationSucceeded"):
        assert kinds[kind] == 300, (kind, kinds)
    started = sorted(e["mapIterationStartedEventDetails"]["index"] for e in events if e["type"] == "MapIterationStarted")
    assert started == list(range(300))
