"""SQS FIFO queues through boto3: group ordering, one batch in flight per group,
deduplication (explicit, content-based, per group), receive attempt ids, sequence numbers,
FIFO dead-letter queues, and the errors for parameters that do not fit the queue type."""
import hashlib
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


def fifo(sqs, name, **attributes):
    attrs = {"FifoQueue": "true", **{k: str(v) for k, v in attributes.items()}}
    return sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]


def test_create_fifo_queue_and_its_attributes(sqs):
    url = fifo(sqs, "orders.fifo")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "false"
    assert attrs["DeduplicationScope"] == "queue" and attrs["FifoThroughputLimit"] == "perQueue"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "ContentBasedDeduplication": "true", "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"})
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ContentBasedDeduplication"] == "true" and attrs["FifoThroughputLimit"] == "perMessageGroupId"
    # The name and the attribute must agree; FIFO attributes do not apply to standard queues.
    code, _, _ = error_of(lambda: sqs.create_queue(QueueName="plain.fifo"))
    assert code == "InvalidParameterValue"
    code, _, _ = error_of(lambda: sqs.create_queue(QueueName="plain", Attributes={"FifoQueue": "true"}))
    assert code in ("InvalidParameterValue", "InvalidAttributeName")
    std = sqs.create_queue(QueueName="standard")["QueueUrl"]
    code, _, _ = error_of(lambda: sqs.set_queue_attributes(QueueUrl=std, Attributes={"ContentBasedDeduplication": "true"}))
    assert code == "InvalidAttributeName"
    code, _, _ = error_of(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"DeduplicationScope": "everywhere"}))
    assert code == "InvalidAttributeValue"


def test_order_within_group_and_one_batch_in_flight(sqs):
    url = fifo(sqs, "ordered.fifo", ContentBasedDeduplication="true")
    seqs = []
    for i in range(6):
        out = sqs.send_message(QueueUrl=url, MessageBody=f"a{i}", MessageGroupId="A")
        seqs.append(int(out["SequenceNumber"]))
        assert len(out["SequenceNumber"]) == 20
    sqs.send_message(QueueUrl=url, MessageBody="b0", MessageGroupId="B")
    assert seqs == sorted(seqs) and len(set(seqs)) == 6

    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, AttributeNames=["All"])["Messages"]
    bodies = [m["Body"] for m in first]
    assert bodies == ["a0", "a1", "a2"]
    assert first[0]["Attributes"]["MessageGroupId"] == "A"
    assert first[0]["Attributes"]["SequenceNumber"] == str(seqs[0]).zfill(20)
    assert first[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"a0").hexdigest()

    # Group A is blocked while its batch is in flight; group B is not.
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in second] == ["b0"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)

    # Deleting the batch unblocks the group, which continues in order.
    sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(first)])
    third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in third] == ["a3", "a4", "a5"]

    # A message made visible again comes back first, still in order.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=third[0]["ReceiptHandle"], VisibilityTimeout=0)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # a4, a5 still in flight
    for m in third[1:]:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert [m["Body"] for m in again] == ["a3", "a4", "a5"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_deduplication(sqs):
    url = fifo(sqs, "dedup.fifo")
    code, message, _ = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g"))
    assert code == "InvalidParameterValue" and "ContentBasedDeduplication" in message
    first = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d1")
    again = sqs.send_message(QueueUrl=url, MessageBody="other body", MessageGroupId="g", MessageDeduplicationId="d1")
    assert again["MessageId"] == first["MessageId"] and again["SequenceNumber"] == first["SequenceNumber"]
    sqs.send_message(QueueUrl=url, MessageBody="y", MessageGroupId="h", MessageDeduplicationId="d1")  # queue scope
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["x"]

    cbd = fifo(sqs, "cbd.fifo", ContentBasedDeduplication="true", DeduplicationScope="messageGroup")
    out = sqs.send_message_batch(QueueUrl=cbd, Entries=[
        {"Id": "1", "MessageBody": "same", "MessageGroupId": "g1"},
        {"Id": "2", "MessageBody": "same", "MessageGroupId": "g1"},
        {"Id": "3", "MessageBody": "same", "MessageGroupId": "g2"}])
    assert len(out["Successful"]) == 3 and all("SequenceNumber" in e for e in out["Successful"])
    ids = {e["Id"]: e["MessageId"] for e in out["Successful"]}
    assert ids["1"] == ids["2"] != ids["3"]
    got = sqs.receive_message(QueueUrl=cbd, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["same", "same"]
    # Deduplication outlives deletion of the message (within the five-minute window).
    for m in got:
        sqs.delete_message(QueueUrl=cbd, ReceiptHandle=m["ReceiptHandle"])
    sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g1")
    assert "Messages" not in sqs.receive_message(QueueUrl=cbd)


def test_parameters_that_do_not_fit_fifo(sqs):
    url = fifo(sqs, "strict.fifo", ContentBasedDeduplication="true")
    code, message, _ = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))
    assert code == "MissingParameter" and "MessageGroupId" in message
    code, message, _ = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", DelaySeconds=5))
    assert code == "InvalidParameterValue" and "DelaySeconds" in message
    code, _, _ = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g" * 129))
    assert code == "InvalidParameterValue"
    out = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "x", "MessageGroupId": "g"},
        {"Id": "bad", "MessageBody": "y"}])
    assert [e["Id"] for e in out["Successful"]] == ["ok"]
    assert out["Failed"][0]["Id"] == "bad" and out["Failed"][0]["Code"] == "MissingParameter"


def test_receive_request_attempt_id_replays(sqs):
    url = fifo(sqs, "attempts.fifo", ContentBasedDeduplication="true")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId=f"g{i}")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1")["Messages"]
    retry = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="try-1")["Messages"]
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in retry] == [(m["MessageId"], m["ReceiptHandle"]) for m in first]
    other = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="try-2")["Messages"]
    assert [m["Body"] for m in other] == ["m2"]


def test_fifo_dead_letter_queue_keeps_group(sqs):
    dlq = fifo(sqs, "dead.fifo")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    std = sqs.create_queue(QueueName="std-dlq")["QueueUrl"]
    std_arn = sqs.get_queue_attributes(QueueUrl=std, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    code, message, _ = error_of(lambda: fifo(sqs, "mixed.fifo", RedrivePolicy=json.dumps({"deadLetterTargetArn": std_arn, "maxReceiveCount": 1})))
    assert code == "InvalidParameterValue" and "same type" in message
    src = fifo(sqs, "work.fifo", ContentBasedDeduplication="true",
               RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
    sqs.send_message(QueueUrl=src, MessageBody="poison", MessageGroupId="g")
    sqs.send_message(QueueUrl=src, MessageBody="next", MessageGroupId="g")
    m = sqs.receive_message(QueueUrl=src)["Messages"][0]
    assert m["Body"] == "poison"
    sqs.change_message_visibility(QueueUrl=src, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    got = sqs.receive_message(QueueUrl=src)["Messages"]
    assert [x["Body"] for x in got] == ["next"]
    moved = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"][0]
    assert moved["Body"] == "poison" and moved["Attributes"]["MessageGroupId"] == "g"


def test_fifo_order_and_dedup_survive_kill(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    sqs = first.client("sqs")
    url = fifo(sqs, "durable.fifo", ContentBasedDeduplication="true")
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=1)["Messages"]
    assert [m["Body"] for m in got] == ["m0", "m1"]
    first.proc.kill()
    first.proc.wait()
    second = start_brume(data_dir=str(tmp_path))
    sqs = second.client("sqs")
    url = url.replace(str(first.port), str(second.port))
    # Deduplication records outlive the crash too.
    sqs.send_message(QueueUrl=url, MessageBody="m0", MessageGroupId="g")
    bodies = []
    deadline = time.monotonic() + 10
    while len(bodies) < 5 and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", []):
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert bodies == [f"m{i}" for i in range(5)]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
