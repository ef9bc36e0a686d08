"""SQS dead-letter queues through boto3 and the AWS CLI: redrive policy checks,
RedriveAllowPolicy, ListDeadLetterSourceQueues, and message move tasks back to the source
queues (start, list, cancel)."""
import json
import time

import botocore.exceptions
import pytest


@pytest.fixture
def sqs(server):
    return server.client("sqs")


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r["ResponseMetadata"]["HTTPStatusCode"]


def arn_of(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def redrive(arn, count=1):
    return json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": count})


def poison(sqs, src, bodies):
    """Sends `bodies` to `src` and receives each once with no visibility, so the next
    receive moves them to the dead-letter queue (maxReceiveCount 1)."""
    for b in bodies:
        sqs.send_message(QueueUrl=src, MessageBody=b)
    seen = 0
    while seen < len(bodies):
        for m in sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", []):
            seen += 1
    assert "Messages" not in sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10)


def wait_for_task(sqs, dlq_arn, status):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        task = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
        if task["Status"] == status:
            return task
        time.sleep(0.05)
    raise AssertionError(f"task never reached {status}: {task}")


def test_redrive_policy_checks_its_target(sqs):
    missing = "arn:aws:sqs:us-east-1:000000000000:nope"
    code, message, _ = error_of(lambda: sqs.create_queue(QueueName="a", Attributes={"RedrivePolicy": redrive(missing)}))
    assert code == "InvalidParameterValue" and "Dead letter target does not exist" in message
    dlq = sqs.create_queue(QueueName="picky-dlq")["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    allowed = sqs.create_queue(QueueName="allowed")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(
        {"redrivePermission": "byQueue", "sourceQueueArns": [arn_of(sqs, allowed)]})})
    sqs.set_queue_attributes(QueueUrl=allowed, Attributes={"RedrivePolicy": redrive(dlq_arn)})
    code, message, _ = error_of(lambda: sqs.create_queue(QueueName="denied", Attributes={"RedrivePolicy": redrive(dlq_arn)}))
    assert code == "InvalidParameterValue" and "RedrivePolicy" in message
    code, _, _ = error_of(lambda: sqs.set_queue_attributes(QueueUrl=dlq, Attributes={
        "RedriveAllowPolicy": json.dumps({"redrivePermission": "sometimes"})}))
    assert code == "InvalidParameterValue"
    # An empty policy removes it.
    sqs.set_queue_attributes(QueueUrl=allowed, Attributes={"RedrivePolicy": ""})
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == []


def test_list_dead_letter_source_queues(sqs):
    dlq = sqs.create_queue(QueueName="shared-dlq")["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    urls = [sqs.create_queue(QueueName=f"src-{i}", Attributes={"RedrivePolicy": redrive(dlq_arn, 3)})["QueueUrl"] for i in range(3)]
    sqs.create_queue(QueueName="unrelated")
    assert sorted(sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]) == urls
    page = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2)
    assert page["queueUrls"] == urls[:2] and page["NextToken"]
    rest = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2, NextToken=page["NextToken"])
    assert rest["queueUrls"] == urls[2:] and "NextToken" not in rest
    paged = [u for p in sqs.get_paginator("list_dead_letter_source_queues").paginate(QueueUrl=dlq, MaxResults=1) for u in p["queueUrls"]]
    assert paged == urls


def test_move_task_returns_messages_to_their_sources(sqs):
    dlq = sqs.create_queue(QueueName="moves-dlq")["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    src = sqs.create_queue(QueueName="moves-src", Attributes={"RedrivePolicy": redrive(dlq_arn)})["QueueUrl"]
    poison(sqs, src, [f"m{i}" for i in range(5)])
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == "5"

    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    task = wait_for_task(sqs, dlq_arn, "COMPLETED")
    assert task["ApproximateNumberOfMessagesMoved"] == 5 and task["ApproximateNumberOfMessagesToMove"] == 5
    assert task["SourceArn"] == dlq_arn and "TaskHandle" not in task and task["StartedTimestamp"] > 0
    back = sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert sorted(m["Body"] for m in back) == [f"m{i}" for i in range(5)]
    assert back[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq)


def test_move_task_to_a_destination_and_cancel(sqs):
    dlq = sqs.create_queue(QueueName="slow-dlq")["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    src = sqs.create_queue(QueueName="slow-src", Attributes={"RedrivePolicy": redrive(dlq_arn)})["QueueUrl"]
    elsewhere = sqs.create_queue(QueueName="elsewhere")["QueueUrl"]
    poison(sqs, src, [f"m{i}" for i in range(6)])

    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=arn_of(sqs, elsewhere), MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    code, message, _ = error_of(lambda: sqs.start_message_move_task(SourceArn=dlq_arn))
    assert code == "InvalidParameterValue" and "already a task running" in message
    running = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle
    assert running["MaxNumberOfMessagesPerSecond"] == 1
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert moved < 6
    task = wait_for_task(sqs, dlq_arn, "CANCELLED")
    left = int(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
    arrived = int(sqs.get_queue_attributes(QueueUrl=elsewhere, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
    assert left + arrived == 6 and arrived == task["ApproximateNumberOfMessagesMoved"] and left > 0
    code, _, _ = error_of(lambda: sqs.cancel_message_move_task(TaskHandle=handle))
    assert code == "InvalidParameterValue"


def test_move_task_errors(sqs, server):
    code, _, _ = error_of(lambda: sqs.start_message_move_task(SourceArn="arn:aws:sqs:us-east-1:000000000000:ghost"))
    assert code == "ResourceNotFoundException"
    plain = sqs.create_queue(QueueName="not-a-dlq")["QueueUrl"]
    code, message, _ = error_of(lambda: sqs.start_message_move_task(SourceArn=arn_of(sqs, plain)))
    assert code == "InvalidParameterValue" and "Dead Letter Queue" in message
    code, _, _ = error_of(lambda: sqs.list_message_move_tasks(SourceArn="arn:aws:sqs:us-east-1:000000000000:ghost"))
    assert code == "ResourceNotFoundException"
    assert sqs.list_message_move_tasks(SourceArn=arn_of(sqs, plain))["Results"] == []
    # The CLI drives the same operations.
    _, out, _ = server.cli("sqs", "list-message-move-tasks", "--source-arn", arn_of(sqs, plain))
    assert out["Results"] == []


def test_a_move_task_running_at_kill_9_finishes_after_restart(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    sqs = first.client("sqs")
    dlq = sqs.create_queue(QueueName="kept-dlq")["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    src = sqs.create_queue(QueueName="kept-src", Attributes={"RedrivePolicy": redrive(dlq_arn)})["QueueUrl"]
    poison(sqs, src, [f"m{i}" for i in range(4)])
    # One message a second: the task is still running when the server dies.
    sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)
    first.proc.kill()
    first.proc.wait()

    sqs = start_brume(data_dir=str(tmp_path)).client("sqs")
    task = wait_for_task(sqs, dlq_arn, "COMPLETED")
    assert task["ApproximateNumberOfMessagesMoved"] == 4
    moved = []
    while len(moved) < 4:
        moved += [m["Body"] for m in sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10).get("Messages", [])]
    assert sorted(moved) == [f"m{i}" for i in range(4)]
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq)
