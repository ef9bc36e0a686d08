"""Step Functions RedriveExecution: failed and aborted executions go on from the state that
did not succeed, with their variables; redrive counts, dates, statuses and filters; the
errors of executions that cannot be redriven; clientToken idempotency; the AWS CLI."""

import json

from test_stepfunctions import error_of, finished, history, machine, types

ACCOUNT = "000000000000"


def send_to_queue_machine(sfn, name):
    return machine(sfn, name, {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Assign": {"who.$": "$.who"}, "Next": "Send"},
            "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                     "Parameters": {"QueueUrl.$": "$.queue", "MessageBody.$": "$.who"},
                     "ResultSelector": {"sent.$": "$.MessageId"}, "Next": "Report"},
            "Report": {"Type": "Pass", "Parameters": {"who.$": "$who", "sent.$": "$.sent"}, "End": True},
        },
    })


def test_a_failed_execution_is_redriven_from_the_failed_state(server):
    sfn = server.client("stepfunctions")
    sqs = server.client("sqs")
    arn = send_to_queue_machine(sfn, "redrive")
    queue_url = f"{server.endpoint}/{ACCOUNT}/later"
    execution = sfn.start_execution(stateMachineArn=arn, name="r1",
                                    input=json.dumps({"who": "ann", "queue": queue_url}))["executionArn"]
    failed = finished(sfn, execution)
    assert failed["status"] == "FAILED"
    assert failed["redriveCount"] == 0
    assert failed["redriveStatus"] == "REDRIVABLE"
    assert "redriveStatusReason" not in failed
    sqs.create_queue(QueueName="later")
    redriven = sfn.redrive_execution(executionArn=execution)
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED", done
    assert done["redriveCount"] == 1
    assert done["redriveDate"] == redriven["redriveDate"]
    assert done["redriveStatus"] == "NOT_REDRIVABLE"
    assert done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    output = json.loads(done["output"])
    assert output["who"] == "ann" and output["sent"]
    events = history(sfn, execution)
    assert types(events) == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "TaskStateEntered", "TaskScheduled",
        "TaskStarted", "TaskFailed", "ExecutionFailed", "ExecutionRedriven", "TaskStateEntered", "TaskScheduled",
        "TaskStarted", "TaskSucceeded", "TaskStateExited", "PassStateEntered", "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    redrive_event = events[8]
    assert redrive_event["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert redrive_event["previousEventId"] == 8
    assert events[9]["previousEventId"] == 9
    received = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName="later")["QueueUrl"])["Messages"]
    assert received[0]["Body"] == "ann"
    listed = sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")["executions"]
    assert [(e["name"], e["redriveCount"]) for e in listed] == [("r1", 1)]
    assert listed[0]["redriveDate"] == redriven["redriveDate"]
    assert sfn.list_executions(stateMachineArn=arn, redriveFilter="NOT_REDRIVEN")["executions"] == []


def test_executions_that_cannot_be_redriven(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "noredrive", {"StartAt": "Ok", "States": {"Ok": {"Type": "Succeed"}}})
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert finished(sfn, execution)["status"] == "SUCCEEDED"
    error = error_of(sfn.redrive_execution, executionArn=execution)
    assert error["Code"] == "ExecutionNotRedrivable"
    assert error["Message"] == "Execution is SUCCEEDED and cannot be redriven"
    missing = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:noredrive:nope"
    assert error_of(sfn.redrive_execution, executionArn=missing)["Code"] == "ExecutionDoesNotExist"
    bad = error_of(sfn.list_executions, stateMachineArn=arn, redriveFilter="SOMETIMES")
    assert bad["Code"] == "ValidationException"


def test_the_client_token_makes_a_retried_redrive_answer_the_same(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "tokenredrive", {
        "StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Again"}},
    })
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert finished(sfn, execution)["status"] == "FAILED"
    first = sfn.redrive_execution(executionArn=execution, clientToken="t-1")
    assert finished(sfn, execution)["status"] == "FAILED"
    again = sfn.redrive_execution(executionArn=execution, clientToken="t-1")
    assert again["redriveDate"] == first["redriveDate"]
    assert sfn.describe_execution(executionArn=execution)["redriveCount"] == 1
    sfn.redrive_execution(executionArn=execution, clientToken="t-2")
    assert finished(sfn, execution)["redriveCount"] == 2
    assert types(history(sfn, execution)).count("ExecutionRedriven") == 2


def test_an_aborted_execution_is_redriven_with_the_aws_cli(server):
    sfn = server.client("stepfunctions")
    sqs = server.client("sqs")
    queue = sqs.create_queue(QueueName="redrive-tokens")["QueueUrl"]
    arn = machine(sfn, "abortredrive", {
        "StartAt": "Wait",
        "States": {"Wait": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                            "Parameters": {"QueueUrl": queue, "MessageBody.$": "$$.Task.Token"}, "End": True}},
    })
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    first = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"][0]
    sfn.stop_execution(executionArn=execution, error="Stopped", cause="by test")
    aborted = sfn.describe_execution(executionArn=execution)
    assert (aborted["status"], aborted["redriveStatus"]) == ("ABORTED", "REDRIVABLE")
    _, answer, _ = server.cli("stepfunctions", "redrive-execution", "--execution-arn", execution)
    assert "redriveDate" in answer
    second = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"][0]
    assert second["Body"] != first["Body"]
    sfn.send_task_success(taskToken=second["Body"], output='{"done": true}')
    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"done": True}
