"""Lambda event source mappings: SQS queues (batches, partial batch failures, filters, the
queue's redrive policy) and DynamoDB streams (TRIM_HORIZON and LATEST, bisection, OnFailure
destinations) feeding functions; mapping CRUD and validation; mappings and their
checkpoints surviving a restart. The functions report what they received by sending it to
an SQS queue through Brume (their environment points AWS_ENDPOINT_URL at it)."""
import io
import json
import time
import uuid
import zipfile

import botocore.exceptions
import pytest

from conftest import Brume

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

# Sends each event it receives to the queue OUT; fails (or reports failures) as the
# records ask.
REPORTER = """
import json, os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(event))
    records = event.get("Records", [])
    def text(r):
        return r.get("body") or json.dumps(r.get("dynamodb", {}).get("NewImage", {}))
    if os.environ.get("MODE") == "partial":
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if "bad" in text(r)]}
    if any("bad" in text(r) for r in records):
        raise RuntimeError("bad record")
    return {}
"""


@pytest.fixture(scope="module")
def brume():
    b = Brume()
    yield b
    b.stop()


@pytest.fixture(autouse=True)
def clean(brume):
    brume.reset()


def zip_of(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", source)
    return buf.getvalue()


def queue(sqs, name, **attributes):
    # Fresh names: a poller of the previous test's mapping may still be finishing a long
    # poll of its queue when the reset between tests has removed the mapping.
    url = sqs.create_queue(QueueName=f"{name}-{uuid.uuid4().hex[:8]}", Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def reporter(brume, name="reporter", mode=""):
    """A function that reports its events to a new queue; answers that queue's URL."""
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    out, _ = queue(sqs, name + "-out")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": zip_of(REPORTER)},
                        Environment={"Variables": {"OUT": out, "MODE": mode}})
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return out


def events(sqs, url, until, timeout=60):
    """The events a reporter sent, until `until(events)` holds (or fails after `timeout`)."""
    got = []
    deadline = time.monotonic() + timeout
    while not until(got):
        assert time.monotonic() < deadline, f"gave up waiting; events so far: {got}"
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            got.append(json.loads(m["Body"]))
    return got


def records(evs):
    return [r for e in evs for r in e["Records"]]


def wait_state(lam, uuid, state, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        m = lam.get_event_source_mapping(UUID=uuid)
        if m["State"] == state:
            return m
        assert time.monotonic() < deadline, f"mapping stayed {m['State']}"
        time.sleep(0.1)


def until_empty(sqs, url, timeout=60):
    deadline = time.monotonic() + timeout
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while True:
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        if all(a[n] == "0" for n in names):
            return
        assert time.monotonic() < deadline, f"queue still holds messages: {a}"
        time.sleep(0.2)


def test_sqs_batches_reach_the_function_as_lambda_shapes_them(brume):
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    out = reporter(brume)
    url, arn = queue(sqs, "source")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}",
                         MessageAttributes={"n": {"DataType": "Number", "StringValue": str(i)}})
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="reporter", BatchSize=10)
    assert m["State"] == "Creating"
    assert (m["BatchSize"], m["MaximumBatchingWindowInSeconds"], m["FunctionResponseTypes"]) == (10, 0, [])
    got = records(events(sqs, out, lambda e: len(records(e)) >= 3))
    assert sorted(r["body"] for r in got) == ["m0", "m1", "m2"]
    r = got[0]
    assert r["eventSource"] == "aws:sqs"
    assert r["eventSourceARN"] == arn
    assert r["awsRegion"] == "us-east-1"
    assert set(r["attributes"]) >= {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                     "ApproximateFirstReceiveTimestamp"}
    assert r["attributes"]["ApproximateReceiveCount"] == "1"
    assert r["md5OfBody"] and r["messageId"] and r["receiptHandle"]
    n = r["messageAttributes"]["n"]
    assert n["dataType"] == "Number" and n["stringValue"] == r["body"][1:]
    assert n["stringListValues"] == [] and n["binaryListValues"] == []
    until_empty(sqs, url)
    assert wait_state(lam, m["UUID"], "Enabled")["EventSourceArn"] == arn


def test_sqs_partial_batch_failures_leave_the_failed_messages_for_the_dead_letter_queue(brume):
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    out = reporter(brume, mode="partial")
    dlq_url, dlq_arn = queue(sqs, "dlq")
    url, arn = queue(sqs, "source", VisibilityTimeout="1",
                     RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}))
    for body in ["good-1", "bad-1", "good-2"]:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="reporter", BatchSize=10,
                                    FunctionResponseTypes=["ReportBatchItemFailures"])
    events(sqs, out, lambda e: {"good-1", "bad-1", "good-2"} <= {r["body"] for r in records(e)})
    dead = []
    deadline = time.monotonic() + 60
    while not dead:
        assert time.monotonic() < deadline
        dead = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in dead] == ["bad-1"]
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=dead[0]["ReceiptHandle"])
    until_empty(sqs, url)


def test_sqs_function_error_returns_the_batch_to_the_queue(brume):
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    out = reporter(brume)
    dlq_url, dlq_arn = queue(sqs, "dlq")
    url, arn = queue(sqs, "source", VisibilityTimeout="1",
                     RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    sqs.send_message(QueueUrl=url, MessageBody="bad")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="reporter")
    got = records(events(sqs, out, lambda e: len(records(e)) >= 2))
    assert [r["attributes"]["ApproximateReceiveCount"] for r in got[:2]] == ["1", "2"]
    dead = []
    deadline = time.monotonic() + 60
    while not dead:
        assert time.monotonic() < deadline
        dead = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", [])
    assert dead[0]["Body"] == "bad"


def test_sqs_filter_criteria_drop_the_records_they_reject(brume):
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    out = reporter(brume)
    url, arn = queue(sqs, "source")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "drop"}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "keep", "n": 1}))
    sqs.send_message(QueueUrl=url, MessageBody="plain text")
    m = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="reporter",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]})
    assert m["FilterCriteria"] == {"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]}
    got = records(events(sqs, out, lambda e: len(records(e)) >= 1))
    until_empty(sqs, url)
    # Every message is dealt with: anything the function was given is in OUT by now.
    late = sqs.receive_message(QueueUrl=out, MaxNumberOfMessages=10).get("Messages", [])
    got += records(json.loads(m["Body"]) for m in late)
    assert [json.loads(r["body"]) for r in got] == [{"kind": "keep", "n": 1}]


def table_with_stream(ddb, name):
    t = ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST",
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    return t["TableDescription"]["LatestStreamArn"]


def put(ddb, table, key, **extra):
    ddb.put_item(TableName=table, Item={"id": {"S": key}, **{k: {"S": v} for k, v in extra.items()}})


def test_dynamodb_stream_from_trim_horizon_in_lambdas_shape(brume):
    lam, sqs, ddb = brume.client("lambda"), brume.client("sqs"), brume.client("dynamodb")
    out = reporter(brume)
    stream = table_with_stream(ddb, "items")
    put(ddb, "items", "a", v="1")
    m = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="reporter",
                                        StartingPosition="TRIM_HORIZON", BatchSize=5)
    assert m["StartingPosition"] == "TRIM_HORIZON"
    assert m["MaximumRetryAttempts"] == -1 and m["BisectBatchOnFunctionError"] is False
    assert m["LastProcessingResult"] == "No records processed"
    put(ddb, "items", "a", v="2")
    got = records(events(sqs, out, lambda e: len(records(e)) >= 2))
    assert [r["eventName"] for r in got] == ["INSERT", "MODIFY"]
    r = got[1]
    assert r["eventSource"] == "aws:dynamodb"
    assert r["eventVersion"] == "1.1"
    assert r["awsRegion"] == "us-east-1"
    assert r["eventSourceARN"] == stream
    assert r["eventID"]
    body = r["dynamodb"]
    assert body["Keys"] == {"id": {"S": "a"}}
    assert body["NewImage"] == {"id": {"S": "a"}, "v": {"S": "2"}}
    assert body["OldImage"] == {"id": {"S": "a"}, "v": {"S": "1"}}
    assert body["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert int(body["SequenceNumber"]) > int(got[0]["dynamodb"]["SequenceNumber"])
    assert body["SizeBytes"] > 0 and body["ApproximateCreationDateTime"] > 0
    deadline = time.monotonic() + 30
    while lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"] != "OK":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_dynamodb_stream_from_latest_skips_earlier_records(brume):
    lam, sqs, ddb = brume.client("lambda"), brume.client("sqs"), brume.client("dynamodb")
    out = reporter(brume)
    stream = table_with_stream(ddb, "items")
    put(ddb, "items", "before")
    lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="reporter", StartingPosition="LATEST")
    put(ddb, "items", "after")
    got = records(events(sqs, out, lambda e: any(r["dynamodb"]["Keys"]["id"]["S"] == "after" for r in records(e))))
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in got] == ["after"]


def test_dynamodb_stream_bisects_a_failing_batch_and_reports_the_bad_record(brume):
    lam, sqs, ddb = brume.client("lambda"), brume.client("sqs"), brume.client("dynamodb")
    out = reporter(brume)
    failures, failures_arn = queue(sqs, "failures")
    stream = table_with_stream(ddb, "items")
    for key in ["k1", "k2", "bad", "k4"]:
        put(ddb, "items", key)
    lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="reporter", StartingPosition="TRIM_HORIZON",
                                    BatchSize=4, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
                                    DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    [message] = events(sqs, failures, lambda e: len(e) >= 1)
    info = message["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == stream
    assert info["shardId"].startswith("shardId-")
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 1
    assert message["requestContext"]["functionArn"].endswith(":function:reporter")
    assert message["responseContext"]["functionError"] == "Unhandled"
    assert message["version"] == "1.0"
    # The other records were delivered in halves, in order, with the bad one alone at the end.
    keys = [[r["dynamodb"]["Keys"]["id"]["S"] for r in e["Records"]] for e in events(sqs, out, lambda e: len(e) >= 4)]
    assert keys[:4] == [["k1", "k2", "bad", "k4"], ["k1", "k2"], ["bad", "k4"], ["bad"]]


def test_dynamodb_stream_retries_then_reports_through_a_topic(brume):
    lam, sqs, ddb, sns = brume.client("lambda"), brume.client("sqs"), brume.client("dynamodb"), brume.client("sns")
    out = reporter(brume)
    failures, failures_arn = queue(sqs, "failures")
    topic = sns.create_topic(Name="stream-failures")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=failures_arn, Attributes={"RawMessageDelivery": "true"})
    stream = table_with_stream(ddb, "items")
    put(ddb, "items", "bad")
    put(ddb, "items", "good")
    lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="reporter", StartingPosition="TRIM_HORIZON",
                                    BatchSize=1, MaximumRetryAttempts=1,
                                    DestinationConfig={"OnFailure": {"Destination": topic}})
    [message] = events(sqs, failures, lambda e: len(e) >= 1)
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 2
    assert message["DDBStreamBatchInfo"]["batchSize"] == 1
    # Given up on, the bad record is passed: the next one reaches the function.
    keys = [r["dynamodb"]["Keys"]["id"]["S"] for r in records(events(
        sqs, out, lambda e: any(r["dynamodb"]["Keys"]["id"]["S"] == "good" for r in records(e))))]
    assert keys == ["bad", "bad", "good"]


def test_mapping_crud_and_states(brume):
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    reporter(brume)
    _, arn = queue(sqs, "source")
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="reporter", BatchSize=5,
                                        ScalingConfig={"MaximumConcurrency": 2})
    uuid = m["UUID"]
    assert m["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert m["FunctionArn"].endswith(":function:reporter")
    assert m["EventSourceMappingArn"] == f"arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{uuid}"
    assert m["StateTransitionReason"] == "USER_INITIATED"
    assert m["ResponseMetadata"]["HTTPStatusCode"] == 202
    wait_state(lam, uuid, "Enabled")
    listed = lam.list_event_source_mappings(FunctionName="reporter")["EventSourceMappings"]
    assert [x["UUID"] for x in listed] == [uuid]
    assert lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"][0]["UUID"] == uuid
    assert lam.list_event_source_mappings(EventSourceArn=arn + "x")["EventSourceMappings"] == []
    updated = lam.update_event_source_mapping(UUID=uuid, Enabled=False, BatchSize=7)
    assert updated["State"] == "Disabling" and updated["BatchSize"] == 7
    wait_state(lam, uuid, "Disabled")
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    wait_state(lam, uuid, "Enabled")
    deleted = lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["State"] == "Deleting"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_event_source_mapping(UUID=uuid)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_mapping_validation(brume):
    lam, sqs, ddb = brume.client("lambda"), brume.client("sqs"), brume.client("dynamodb")
    reporter(brume)
    _, arn = queue(sqs, "source")
    stream = table_with_stream(ddb, "items")

    def refused(**args):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.create_event_source_mapping(**args)
        return e.value.response["Error"]

    error = refused(EventSourceArn=arn, FunctionName="reporter", BatchSize=11)
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == \
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
    assert lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="reporter", BatchSize=100,
                                           MaximumBatchingWindowInSeconds=1)["BatchSize"] == 100
    error = refused(EventSourceArn=arn, FunctionName="reporter")
    assert error["Code"] == "ResourceConflictException"
    assert error["Message"].startswith(f'An event source mapping with SQS arn (" {arn} ") and function (" reporter ")')
    assert refused(EventSourceArn=arn, FunctionName="missing")["Code"] == "ResourceNotFoundException"
    assert refused(EventSourceArn=stream, FunctionName="reporter")["Code"] == "InvalidParameterValueException"
    assert refused(EventSourceArn=stream, FunctionName="reporter", StartingPosition="LATEST",
                   MaximumRetryAttempts=10001)["Code"] == "InvalidParameterValueException"
    error = refused(EventSourceArn=stream, FunctionName="reporter", StartingPosition="LATEST",
                    FilterCriteria={"Filters": [{"Pattern": "not json"}]})
    assert (error["Code"], error["Message"]) == ("InvalidParameterValueException", "Invalid filter pattern definition.")
    error = refused(EventSourceArn="arn:aws:s3:::bucket", FunctionName="reporter")
    assert error["Code"] == "InvalidParameterValueException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.update_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000", BatchSize=1)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_mappings_and_checkpoints_survive_a_restart(tmp_path):
    first = Brume(data_dir=str(tmp_path))
    lam, sqs, ddb = first.client("lambda"), first.client("sqs"), first.client("dynamodb")
    out = reporter(first)
    url, arn = queue(sqs, "source")
    stream = table_with_stream(ddb, "items")
    sqs_mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="reporter")["UUID"]
    ddb_mapping = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="reporter",
                                                  StartingPosition="TRIM_HORIZON")["UUID"]
    put(ddb, "items", "one")
    events(sqs, out, lambda e: len(records(e)) >= 1)
    wait_state(lam, ddb_mapping, "Enabled")
    deadline = time.monotonic() + 30
    while lam.get_event_source_mapping(UUID=ddb_mapping)["LastProcessingResult"] != "OK":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    first.stop()
    second = Brume(data_dir=str(tmp_path))
    try:
        lam, sqs, ddb = second.client("lambda"), second.client("sqs"), second.client("dynamodb")
        assert wait_state(lam, sqs_mapping, "Enabled")["EventSourceArn"] == arn
        assert wait_state(lam, ddb_mapping, "Enabled")["EventSourceArn"] == stream
        put(ddb, "items", "two")
        sqs.send_message(QueueUrl=url, MessageBody="after restart")
        got = records(events(sqs, out, lambda e: len(records(e)) >= 2))
        assert sorted(r.get("body") or r["dynamodb"]["Keys"]["id"]["S"] for r in got) == ["after restart", "two"]
    finally:
        second.stop()
