"""Step Functions activities: their API and its errors, workers polling with GetActivityTask
(boto3 threads and the AWS CLI), the history of activity tasks as AWS records it, timeouts,
heartbeats, Catch, StopExecution, and an execution waiting on an activity across kill -9."""

import json
import signal
import threading
import time

from test_stepfunctions import error_of, finished, history, machine, types

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/sfn-role"


def activity_arn(name):
    return f"arn:aws:states:{REGION}:{ACCOUNT}:activity:{name}"


def task_machine(sfn, name, activity, **task):
    return machine(sfn, name, {
        "StartAt": "ActivityTask",
        "States": {"ActivityTask": {"Type": "Task", "Resource": activity, "End": True, **task}},
    })


def worker_client(brume):
    # GetActivityTask holds a poll open for up to 60 seconds.
    return brume.client("stepfunctions", read_timeout=70)


def take(brume, activity, worker="worker-1"):
    """One GetActivityTask call, as a worker makes it."""
    args = {"activityArn": activity}
    if worker is not None:
        args["workerName"] = worker
    return worker_client(brume).get_activity_task(**args)


def in_thread(f, *args):
    """Runs `f(*args)` on a thread; the returned function joins it and answers its result."""
    box = {}

    def target():
        try:
            box["result"] = f(*args)
        except Exception as e:  # handed to the test's thread
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()

    def join(timeout=75):
        t.join(timeout)
        assert not t.is_alive(), "the worker is still polling"
        if "error" in box:
            raise box["error"]
        return box["result"]

    return join


def wait_for_event(sfn, execution, kind, timeout=20):
    deadline = time.monotonic() + timeout
    while kind not in types(history(sfn, execution)):
        assert time.monotonic() < deadline, f"no {kind} in {types(history(sfn, execution))}"
        time.sleep(0.05)


def strip(events):
    """The events without their timestamps, to compare with AWS's recordings."""
    return [{k: v for k, v in e.items() if k != "timestamp"} for e in events]


def test_activity_lifecycle_errors_and_tags(server):
    sfn = server.client("stepfunctions")
    created = sfn.create_activity(name="act-1", tags=[{"key": "team", "value": "a"}])
    arn = created["activityArn"]
    assert arn == activity_arn("act-1")
    # Idempotent by name: the same ARN and creation date, other tags ignored.
    again = sfn.create_activity(name="act-1", tags=[{"key": "team", "value": "b"}])
    assert (again["activityArn"], again["creationDate"]) == (arn, created["creationDate"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "a"}]
    err = error_of(sfn.create_activity, name="act-1",
                   encryptionConfiguration={"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": "k"})
    assert err["Code"] == "ActivityAlreadyExists"

    described = sfn.describe_activity(activityArn=arn)
    assert described["name"] == "act-1"
    assert described["activityArn"] == arn
    assert described["encryptionConfiguration"] == {"type": "AWS_OWNED_KEY"}
    assert described["creationDate"] == created["creationDate"]

    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}]

    for i in range(2, 6):
        sfn.create_activity(name=f"act-{i}")
    page = sfn.list_activities(maxResults=2)
    assert [a["name"] for a in page["activities"]] == ["act-1", "act-2"]
    assert set(page["activities"][0]) == {"activityArn", "name", "creationDate"}
    rest = sfn.list_activities(maxResults=10, nextToken=page["nextToken"])
    assert [a["name"] for a in rest["activities"]] == ["act-3", "act-4", "act-5"]
    assert "nextToken" not in rest

    err = error_of(sfn.create_activity, name="activity name")
    assert err == {"Code": "InvalidName", "Message": "Invalid Name: 'activity name'"}
    err = error_of(sfn.describe_activity, activityArn="no_an_activity_arn")
    assert err == {"Code": "InvalidArn", "Message": "Invalid Arn: 'Invalid ARN prefix: no_an_activity_arn'"}
    err = error_of(sfn.get_activity_task, activityArn="no_an_activity_arn")
    assert err["Code"] == "InvalidArn"
    err = error_of(sfn.describe_activity, activityArn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:act-1")
    assert err == {"Code": "InvalidArn",
                   "Message": "Invalid Arn: 'Resource type not valid in this context: stateMachine'"}

    sfn.delete_activity(activityArn=arn)
    sfn.delete_activity(activityArn=arn)  # deleting again succeeds, as in AWS
    missing = {"Code": "ActivityDoesNotExist", "Message": f"Activity Does Not Exist: '{arn}'"}
    assert error_of(sfn.describe_activity, activityArn=arn) == missing
    assert error_of(sfn.get_activity_task, activityArn=arn) == missing
    assert error_of(sfn.list_tags_for_resource, resourceArn=arn)["Code"] == "ResourceNotFound"
    assert [a["name"] for a in sfn.list_activities()["activities"]] == ["act-2", "act-3", "act-4", "act-5"]


def test_a_worker_runs_the_task_and_the_history_is_aws_s(server):
    sfn = server.client("stepfunctions")
    activity = sfn.create_activity(name="greeter")["activityArn"]
    arn = task_machine(sfn, "greet", activity)

    # The worker polls before any task exists: the task scheduled later wakes its poll.
    def worker():
        task = take(server, activity, "BASE_ID_ACTIVITY_CONSUMER")
        worker_client(server).send_task_success(taskToken=task["taskToken"], output=task["input"])
        return task

    join = in_thread(worker)
    execution = sfn.start_execution(stateMachineArn=arn, input='{"Value1": "HelloWorld"}')["executionArn"]
    task = join()
    assert json.loads(task["input"]) == {"Value1": "HelloWorld"}
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"Value1": "HelloWorld"}
    data = '{"Value1":"HelloWorld"}'
    # As AWS records it (localstack's snapshot of test_activity_task, recorded against AWS).
    assert strip(history(sfn, execution)) == [
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted",
         "executionStartedEventDetails": {"input": '{"Value1": "HelloWorld"}', "inputDetails": {"truncated": False},
                                          "roleArn": ROLE}},
        {"id": 2, "previousEventId": 0, "type": "TaskStateEntered",
         "stateEnteredEventDetails": {"name": "ActivityTask", "input": data, "inputDetails": {"truncated": False}}},
        {"id": 3, "previousEventId": 2, "type": "ActivityScheduled",
         "activityScheduledEventDetails": {"resource": activity, "input": data,
                                           "inputDetails": {"truncated": False}}},
        {"id": 4, "previousEventId": 3, "type": "ActivityStarted",
         "activityStartedEventDetails": {"workerName": "BASE_ID_ACTIVITY_CONSUMER"}},
        {"id": 5, "previousEventId": 4, "type": "ActivitySucceeded",
         "activitySucceededEventDetails": {"output": data, "outputDetails": {"truncated": False}}},
        {"id": 6, "previousEventId": 5, "type": "TaskStateExited",
         "stateExitedEventDetails": {"name": "ActivityTask", "output": data, "outputDetails": {"truncated": False}}},
        {"id": 7, "previousEventId": 6, "type": "ExecutionSucceeded",
         "executionSucceededEventDetails": {"output": data, "outputDetails": {"truncated": False}}},
    ]
    # The answered token is spent.
    err = error_of(sfn.send_task_success, taskToken=task["taskToken"], output="{}")
    assert err["Code"] == "TaskTimedOut"

    # A worker without a name: ActivityStarted has empty details, as in AWS.
    execution = sfn.start_execution(stateMachineArn=arn, input='{"n": 2}')["executionArn"]
    task = take(server, activity, worker=None)
    sfn.send_task_success(taskToken=task["taskToken"], output='{"done": true}')
    done = finished(sfn, execution)
    assert json.loads(done["output"]) == {"done": True}
    started = next(e for e in history(sfn, execution) if e["type"] == "ActivityStarted")
    assert started["activityStartedEventDetails"] == {}


def test_tasks_are_handed_out_oldest_first_and_once(server):
    sfn = server.client("stepfunctions")
    activity = sfn.create_activity(name="fifo")["activityArn"]
    arn = task_machine(sfn, "fifo", activity, Parameters={"n.$": "$.n"})
    executions = []
    for n in range(3):
        executions.append(sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": n}))["executionArn"])
        wait_for_event(sfn, executions[-1], "ActivityScheduled")
    tasks = [take(server, activity) for _ in range(3)]
    assert [json.loads(t["input"]) for t in tasks] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert len({t["taskToken"] for t in tasks}) == 3
    for t in reversed(tasks):
        sfn.send_task_success(taskToken=t["taskToken"], output=json.dumps({"got": json.loads(t["input"])["n"]}))
    assert [json.loads(finished(sfn, e)["output"]) for e in executions] == [{"got": 0}, {"got": 1}, {"got": 2}]


def test_parallel_branches_wait_on_their_own_tasks(server):
    sfn = server.client("stepfunctions")
    activity = sfn.create_activity(name="branches")["activityArn"]

    def branch(n):
        return {"StartAt": f"B{n}", "States": {f"B{n}": {
            "Type": "Task", "Resource": activity, "Parameters": {"branch": n}, "End": True}}}

    arn = machine(sfn, "parallel", {
        "StartAt": "Both", "States": {"Both": {"Type": "Parallel", "Branches": [branch(1), branch(2)], "End": True}},
    })
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    tasks = [take(server, activity), take(server, activity)]
    for t in tasks:
        n = json.loads(t["input"])["branch"]
        sfn.send_task_success(taskToken=t["taskToken"], output=json.dumps({"from": n}))
    done = finished(sfn, execution)
    assert json.loads(done["output"]) == [{"from": 1}, {"from": 2}]
    assert types(history(sfn, execution)).count("ActivitySucceeded") == 2


def test_a_poll_with_nothing_queued_answers_without_a_task(server):
    sfn = server.client("stepfunctions")
    activity = sfn.create_activity(name="idle")["activityArn"]
    answered = take(server, activity)
    assert "taskToken" not in answered
    assert "input" not in answered


def test_failure_recorded_as_aws_does_and_caught_by_catch(server):
    sfn = server.client("stepfunctions")
    activity = sfn.create_activity(name="failing")["activityArn"]
    arn = task_machine(sfn, "fails", activity)
    execution = sfn.start_execution(stateMachineArn=arn, input='{"a": 1}')["executionArn"]
    task = take(server, activity)
    sfn.send_task_failure(taskToken=task["taskToken"], error="Programmatic Error", cause='{"a":1}')
    done = finished(sfn, execution)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Programmatic Error", '{"a":1}')
    events = strip(history(sfn, execution))
    assert [(e["id"], e["previousEventId"], e["type"]) for e in events] == [
        (1, 0, "ExecutionStarted"), (2, 0, "TaskStateEntered"), (3, 2, "ActivityScheduled"),
        (4, 3, "ActivityStarted"), (5, 4, "ActivityFailed"), (6, 5, "ExecutionFailed"),
    ]
    assert events[4]["activityFailedEventDetails"] == {"error": "Programmatic Error", "cause": '{"a":1}'}
    assert events[5]["executionFailedEventDetails"] == {"error": "Programmatic Error", "cause": '{"a":1}'}

    caught = machine(sfn, "caught", {
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": activity, "Next": "Done",
                     "Catch": [{"ErrorEquals": ["Programmatic Error"], "ResultPath": "$.failure", "Next": "Handle"}]},
            "Handle": {"Type": "Pass", "Result": "handled", "ResultPath": "$.handled", "End": True},
            "Done": {"Type": "Succeed"},
        },
    })
    execution = sfn.start_execution(stateMachineArn=caught, input='{"k": 1}')["executionArn"]
    task = take(server, activity)
    sfn.send_task_failure(taskToken=task["taskToken"], error="Programmatic Error", cause="bad input")
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {
        "k": 1, "failure": {"Error": "Programmatic Error", "Cause": "bad input"}, "handled": "handled"}
    assert types(history(sfn, execution)) == [
        "ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted", "ActivityFailed",
        "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded",
    ]

    # A retried activity task is scheduled again, with a new token.
    retried = task_machine(sfn, "retried", activity,
                           Retry=[{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1}])
    execution = sfn.start_execution(stateMachineArn=retried, input='{"try": 1}')["executionArn"]
    first = take(server, activity)
    sfn.send_task_failure(taskToken=first["taskToken"], error="Flaky")
    second = take(server, activity)
    assert second["taskToken"] != first["taskToken"]
    assert json.loads(second["input"]) == {"try": 1}
    sfn.send_task_success(taskToken=second["taskToken"], output='"second time"')
    done = finished(sfn, execution)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", "second time")
    assert types(history(sfn, execution))[2:8] == [
        "ActivityScheduled", "ActivityStarted", "ActivityFailed",
        "ActivityScheduled", "ActivityStarted", "ActivitySucceeded",
    ]


def test_a_missing_activity_fails_the_execution_as_aws_does(server):
    sfn = server.client("stepfunctions")
    activity = sfn.create_activity(name="gone")["activityArn"]
    sfn.delete_activity(activityArn=activity)
    arn = task_machine(sfn, "orphan", activity)
    execution = sfn.start_execution(stateMachineArn=arn, input='{"Value1": "HelloWorld"}')["executionArn"]
    done = finished(sfn, execution)
    cause = (f"An error occurred while executing the state 'ActivityTask' (entered at the event id #2). "
             f"The activity {activity} does not exist.")
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "States.Runtime", cause)
    events = strip(history(sfn, execution))
    assert [(e["id"], e["previousEventId"], e["type"]) for e in events] == [
        (1, 0, "ExecutionStarted"), (2, 0, "TaskStateEntered"), (3, 2, "ExecutionFailed"),
    ]
    assert events[2]["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": cause}


def test_timeouts_and_heartbeats(server):
    sfn = server.client("stepfunctions")
    activity = sfn.create_activity(name="slow")["activityArn"]

    # TimeoutSeconds runs from the scheduling: the worker took it, never answered.
    arn = task_machine(sfn, "timeout", activity, TimeoutSeconds=2)
    execution = sfn.start_execution(stateMachineArn=arn, input='{"Value1": "HelloWorld"}')["executionArn"]
    task = take(server, activity, "BASE_ID_ACTIVITY_CONSUMER")
    done = finished(sfn, execution)
    assert (done["status"], done["error"]) == ("FAILED", "States.Timeout")
    events = strip(history(sfn, execution))
    assert [(e["id"], e["previousEventId"], e["type"]) for e in events] == [
        (1, 0, "ExecutionStarted"), (2, 0, "TaskStateEntered"), (3, 2, "ActivityScheduled"),
        (4, 3, "ActivityStarted"), (5, 4, "ActivityTimedOut"), (6, 5, "ExecutionFailed"),
    ]
    assert events[2]["activityScheduledEventDetails"]["timeoutInSeconds"] == 2
    assert "heartbeatInSeconds" not in events[2]["activityScheduledEventDetails"]
    assert events[4]["activityTimedOutEventDetails"] == {"error": "States.Timeout"}
    assert events[5]["executionFailedEventDetails"] == {"error": "States.Timeout"}
    assert error_of(sfn.send_task_success, taskToken=task["taskToken"], output="{}")["Code"] == "TaskTimedOut"

    # A task no worker took before its timeout is never handed out afterwards.
    execution = sfn.start_execution(stateMachineArn=arn, input='{"first": true}')["executionArn"]
    assert finished(sfn, execution)["error"] == "States.Timeout"
    assert types(history(sfn, execution))[-3:] == ["ActivityScheduled", "ActivityTimedOut", "ExecutionFailed"]

    # HeartbeatSeconds runs from the take; each heartbeat starts it again.
    beats = task_machine(sfn, "beats", activity, TimeoutSeconds=60, HeartbeatSeconds=3)
    execution = sfn.start_execution(stateMachineArn=beats, input='{"second": true}')["executionArn"]
    task = take(server, activity)
    assert json.loads(task["input"]) == {"second": True}
    for _ in range(4):
        time.sleep(1)
        sfn.send_task_heartbeat(taskToken=task["taskToken"])
    sfn.send_task_success(taskToken=task["taskToken"], output='"beat"')
    done = finished(sfn, execution)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", "beat")
    scheduled = next(e for e in history(sfn, execution) if e["type"] == "ActivityScheduled")
    assert (scheduled["activityScheduledEventDetails"]["timeoutInSeconds"],
            scheduled["activityScheduledEventDetails"]["heartbeatInSeconds"]) == (60, 3)

    # A worker that stops sending heartbeats: States.Timeout, caught here by Catch.
    caught = machine(sfn, "missed", {
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 1, "End": True,
                     "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.err", "Next": "Late"}]},
            "Late": {"Type": "Pass", "End": True},
        },
    })
    execution = sfn.start_execution(stateMachineArn=caught, input="{}")["executionArn"]
    task = take(server, activity)
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"err": {"Error": "States.Timeout", "Cause": None}}
    assert types(history(sfn, execution))[2:5] == ["ActivityScheduled", "ActivityStarted", "ActivityTimedOut"]
    assert error_of(sfn.send_task_heartbeat, taskToken=task["taskToken"])["Code"] == "TaskTimedOut"


def test_stop_execution_withdraws_its_task(server):
    sfn = server.client("stepfunctions")
    activity = sfn.create_activity(name="stoppable")["activityArn"]
    arn = task_machine(sfn, "stoppable", activity)
    stopped = sfn.start_execution(stateMachineArn=arn, input='{"which": "stopped"}')["executionArn"]
    wait_for_event(sfn, stopped, "ActivityScheduled")
    sfn.stop_execution(executionArn=stopped, error="Halt", cause="not needed")
    kept = sfn.start_execution(stateMachineArn=arn, input='{"which": "kept"}')["executionArn"]
    wait_for_event(sfn, kept, "ActivityScheduled")
    # The stopped execution's task, queued first, is not handed out.
    task = take(server, activity)
    assert json.loads(task["input"]) == {"which": "kept"}

    # A task taken before its execution was stopped: its token answers TaskTimedOut.
    sfn.stop_execution(executionArn=kept)
    err = error_of(sfn.send_task_success, taskToken=task["taskToken"], output="{}")
    assert err == {"Code": "TaskTimedOut", "Message": "Task Timed Out: 'Provided task does not exist anymore'"}
    assert sfn.describe_execution(executionArn=kept)["status"] == "ABORTED"
    assert types(history(sfn, kept))[-1] == "ExecutionAborted"


def test_a_worker_using_the_aws_cli(server):
    sfn = server.client("stepfunctions")
    activity = sfn.create_activity(name="cli-worker")["activityArn"]
    arn = task_machine(sfn, "cli", activity, ResultPath="$.result")
    execution = sfn.start_execution(stateMachineArn=arn, input='{"job": 7}')["executionArn"]
    wait_for_event(sfn, execution, "ActivityScheduled")
    _, task, _ = server.cli("stepfunctions", "get-activity-task", "--activity-arn", activity,
                            "--worker-name", "cli-worker")
    assert json.loads(task["input"]) == {"job": 7}
    server.cli("stepfunctions", "send-task-heartbeat", "--task-token", task["taskToken"])
    server.cli("stepfunctions", "send-task-success", "--task-token", task["taskToken"], "--task-output", '{"ok": 1}')
    done = finished(sfn, execution)
    assert json.loads(done["output"]) == {"job": 7, "result": {"ok": 1}}
    started = next(e for e in history(sfn, execution) if e["type"] == "ActivityStarted")
    assert started["activityStartedEventDetails"] == {"workerName": "cli-worker"}


def test_executions_waiting_on_an_activity_survive_kill_9(start_brume, tmp_path):
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    sfn = brume.client("stepfunctions")
    activity = sfn.create_activity(name="durable")["activityArn"]
    arn = task_machine(sfn, "durable", activity)
    # One task taken by a worker before the crash, one still queued.
    held = sfn.start_execution(stateMachineArn=arn, name="held", input='{"n": 1}')["executionArn"]
    wait_for_event(sfn, held, "ActivityScheduled")
    task = take(brume, activity)
    assert json.loads(task["input"]) == {"n": 1}
    wait_for_event(sfn, held, "ActivityStarted")
    queued = sfn.start_execution(stateMachineArn=arn, name="queued", input='{"n": 2}')["executionArn"]
    wait_for_event(sfn, queued, "ActivityScheduled")
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()

    restarted = start_brume(data_dir=data_dir)
    sfn = restarted.client("stepfunctions")
    sfn.send_task_success(taskToken=task["taskToken"], output='{"answer": 1}')
    second = take(restarted, activity)
    assert json.loads(second["input"]) == {"n": 2}
    sfn.send_task_success(taskToken=second["taskToken"], output='{"answer": 2}')
    for execution, answer in ((held, 1), (queued, 2)):
        done = finished(sfn, execution)
        assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"answer": answer})
        assert types(history(sfn, execution)) == [
            "ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted", "ActivitySucceeded",
            "TaskStateExited", "ExecutionSucceeded",
        ]
