"""S3 event notifications: configuration round trip and validation, S3 event records
queued durably in the outbox for each matching object change, and their delivery to SQS
and, through SNS topics, to the topics' subscribers, and to Lambda functions (whose Event
invocations report to a queue here, through an OnSuccess destination)."""
import json
import urllib.request

import botocore.exceptions
import pytest

QUEUE = "arn:aws:sqs:us-east-1:000000000000:uploads"
TOPIC = "arn:aws:sns:us-east-1:000000000000:changes"
FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:thumbnails"


def thumbnails(server, source="def handler(event, context):\n    return event\n"):
    """The function of FUNCTION (by default answering its event); its Event invocations
    report to a queue, whose records this answers as they arrive (deleted), up to `count`."""
    import io
    import time
    import zipfile
    lam, sqs = server.client("lambda"), server.client("sqs")
    url = sqs.create_queue(QueueName="thumbnails-done")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", source)
    lam.create_function(FunctionName="thumbnails", Runtime="python3.12", Handler="index.handler",
                        Role="arn:aws:iam::000000000000:role/lambda-role", Code={"ZipFile": buf.getvalue()})
    lam.get_waiter("function_active_v2").wait(FunctionName="thumbnails")
    lam.put_function_event_invoke_config(FunctionName="thumbnails",
                                         DestinationConfig={"OnSuccess": {"Destination": arn}})

    def records(count):
        got = []
        deadline = time.monotonic() + 30
        while len(got) < count and time.monotonic() < deadline:
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
                got.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return got

    return records


def pending(server):
    with urllib.request.urlopen(server.endpoint + "/_brume/events", timeout=5) as r:
        return json.load(r)["events"]


@pytest.fixture
def s3(server):
    c = server.client("s3")
    c.create_bucket(Bucket="notified")
    return c


@pytest.fixture
def topic_queue(server):
    """The topic of CONFIG, with a queue subscribed (raw delivery): where its events land."""
    sns, sqs = server.client("sns"), server.client("sqs")
    sns.create_topic(Name=TOPIC.rsplit(":", 1)[1])
    url = sqs.create_queue(QueueName="changes")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=TOPIC, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return sqs, url


def received(topic_queue, count):
    sqs, url = topic_queue
    bodies = []
    deadline = __import__("time").monotonic() + 10
    while len(bodies) < count and __import__("time").monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


CONFIG = {
    "LambdaFunctionConfigurations": [{
        "Id": "images",
        "LambdaFunctionArn": FUNCTION,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "images/"}, {"Name": "suffix", "Value": ".jpg"}]}},
    }],
    "TopicConfigurations": [{"Id": "removals", "TopicArn": TOPIC, "Events": ["s3:ObjectRemoved:*"]}],
}


def test_configuration_round_trip_and_test_events(server, s3, topic_queue):
    s3.put_bucket_notification_configuration(Bucket="notified", NotificationConfiguration=CONFIG)
    got = s3.get_bucket_notification_configuration(Bucket="notified")
    assert got["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"] == FUNCTION
    assert got["LambdaFunctionConfigurations"][0]["Filter"]["Key"]["FilterRules"][1] == {"Name": "suffix", "Value": ".jpg"}
    assert got["TopicConfigurations"][0]["Events"] == ["s3:ObjectRemoved:*"]
    # S3 sends a test event to topics and queues (not functions) when configured.
    [test] = received(topic_queue, 1)
    assert test["Event"] == "s3:TestEvent"
    assert test["Bucket"] == "notified"


def test_empty_configuration_reads_back_empty(s3):
    got = s3.get_bucket_notification_configuration(Bucket="notified")
    assert "LambdaFunctionConfigurations" not in got and "TopicConfigurations" not in got


def test_object_changes_queue_s3_event_records(server, s3, topic_queue):
    invoked = thumbnails(server)
    s3.put_bucket_notification_configuration(Bucket="notified", NotificationConfiguration=CONFIG)
    s3.put_object(Bucket="notified", Key="images/a cat.jpg", Body=b"meow")
    s3.put_object(Bucket="notified", Key="images/a.png", Body=b"no")  # filtered out by suffix
    s3.put_object(Bucket="notified", Key="docs/b.jpg", Body=b"no")  # filtered out by prefix
    s3.copy_object(Bucket="notified", Key="images/copy.jpg", CopySource="notified/images/a cat.jpg")
    s3.delete_object(Bucket="notified", Key="docs/b.jpg")
    events = [r["requestPayload"] for r in invoked(2)]
    assert sorted(e["Records"][0]["eventName"] for e in events) == ["ObjectCreated:Copy", "ObjectCreated:Put"]
    through_topic = [b for b in received(topic_queue, 2) if "Records" in b]
    assert [b["Records"][0]["eventName"] for b in through_topic] == ["ObjectRemoved:Delete"]
    record = next(e for e in events if e["Records"][0]["eventName"] == "ObjectCreated:Put")["Records"][0]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["awsRegion"] == "us-east-1"
    assert record["s3"]["bucket"]["name"] == "notified"
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::notified"
    assert record["s3"]["object"]["key"] == "images/a+cat.jpg"
    assert record["s3"]["object"]["size"] == 4
    assert record["s3"]["object"]["eTag"] == "4a4be40c96ac6314e91d93f38043a634"
    assert record["s3"]["configurationId"] == "images"
    assert record["responseElements"]["x-amz-request-id"]


def test_events_are_durable_across_restart(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    thumbnails(first)
    s3 = first.client("s3")
    s3.create_bucket(Bucket="durable-events")
    s3.put_bucket_notification_configuration(Bucket="durable-events", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": FUNCTION, "Events": ["s3:ObjectCreated:Put"]}]})
    s3.put_object(Bucket="durable-events", Key="k", Body=b"x")
    first.proc.kill()
    first.proc.wait()
    second = start_brume(data_dir=str(tmp_path))
    sqs = second.client("sqs")
    url = sqs.get_queue_url(QueueName="thumbnails-done")["QueueUrl"]
    got = []
    deadline = __import__("time").monotonic() + 30
    while not got and __import__("time").monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    event = json.loads(got[0]["Body"])["requestPayload"]
    assert event["Records"][0]["eventName"] == "ObjectCreated:Put"


@pytest.mark.parametrize("config,message", [
    ({"QueueConfigurations": [{"QueueArn": QUEUE, "Events": ["s3:ObjectCreated:Nope"]}]}, "The event is not supported for notifications"),
    ({"QueueConfigurations": [{"QueueArn": TOPIC, "Events": ["s3:ObjectCreated:*"]}]}, "The ARN is not well formed"),
    ({"QueueConfigurations": [{"QueueArn": QUEUE, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {"FilterRules": [
        {"Name": "prefix", "Value": "a"}, {"Name": "prefix", "Value": "b"}]}}}]}, "Cannot specify more than one prefix rule in a filter."),
])
def test_invalid_configurations(s3, config, message):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket="notified", NotificationConfiguration=config)
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    assert e.value.response["Error"]["Message"] == message


def test_reset_empties_the_outbox(server, s3):
    thumbnails(server, "def handler(event, context):\n    raise RuntimeError('later')\n")
    s3.put_bucket_notification_configuration(Bucket="notified", NotificationConfiguration=CONFIG)
    s3.put_object(Bucket="notified", Key="images/a.jpg", Body=b"x")
    # The function fails: its retry waits in the outbox for a minute.
    deadline = __import__("time").monotonic() + 30
    while not any(e["kind"] == "invoke" for e in pending(server)):
        assert __import__("time").monotonic() < deadline
        __import__("time").sleep(0.05)
    server.reset()
    assert pending(server) == []


def test_notifications_are_delivered_to_sqs(server, s3):
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket="notified", NotificationConfiguration={
        "QueueConfigurations": [{"Id": "all", "QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
    s3.put_object(Bucket="notified", Key="report.csv", Body=b"a,b\n")
    s3.delete_object(Bucket="notified", Key="report.csv")
    bodies = []
    deadline = __import__("time").monotonic() + 10
    while len(bodies) < 3 and __import__("time").monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert bodies[0]["Event"] == "s3:TestEvent"
    names = [b["Records"][0]["eventName"] for b in bodies[1:]]
    assert sorted(names) == ["ObjectCreated:Put", "ObjectRemoved:Delete"]
    assert all(b["Records"][0]["s3"]["object"]["key"] == "report.csv" for b in bodies[1:])
    assert pending(server) == []


def queued(server, events):
    """A queue that `notified`'s events of `events` go to, and a reader of its S3 records
    (the test event left out)."""
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="changes-of-state")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    server.client("s3").put_bucket_notification_configuration(Bucket="notified", NotificationConfiguration={
        "QueueConfigurations": [{"Id": "state", "QueueArn": arn, "Events": events}]})

    def records(count):
        got = []
        for body in received((sqs, url), count + 1):
            got += body.get("Records", [])
        return got

    return records


def test_tagging_and_acl_changes_send_their_events(server, s3):
    records = queued(server, ["s3:ObjectTagging:*", "s3:ObjectAcl:Put", "s3:ObjectCreated:*"])
    s3.put_object(Bucket="notified", Key="doc", Body=b"x", Tagging="a=1")
    s3.put_object_tagging(Bucket="notified", Key="doc", Tagging={"TagSet": [{"Key": "b", "Value": "2"}]})
    s3.delete_object_tagging(Bucket="notified", Key="doc")
    s3.put_object_acl(Bucket="notified", Key="doc", ACL="private")
    got = records(4)
    assert [r["eventName"] for r in got] == ["ObjectCreated:Put", "ObjectTagging:Put", "ObjectTagging:Delete", "ObjectAcl:Put"]
    assert all(r["s3"]["object"]["key"] == "doc" for r in got)
    # A refused change sends nothing.
    with pytest.raises(botocore.exceptions.ClientError):
        s3.put_object_tagging(Bucket="notified", Key="missing", Tagging={"TagSet": []})
    assert pending(server) == []


def test_lifecycle_changes_send_lifecycle_events_not_removals(server, s3):
    records = queued(server, ["s3:LifecycleExpiration:*", "s3:LifecycleTransition", "s3:ObjectRemoved:*"])
    s3.put_object(Bucket="notified", Key="old/gone", Body=b"x")
    s3.put_object(Bucket="notified", Key="cold/big", Body=b"x" * (128 * 1024))
    s3.put_bucket_lifecycle_configuration(Bucket="notified", LifecycleConfiguration={"Rules": [
        {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "old/"}, "Expiration": {"Date": "2020-01-01T00:00:00Z"}},
        {"ID": "freeze", "Status": "Enabled", "Filter": {"Prefix": "cold/"},
         "Transitions": [{"Date": "2020-01-01T00:00:00Z", "StorageClass": "GLACIER"}]},
    ]})
    req = urllib.request.Request(server.endpoint + "/_brume/jobs/s3-lifecycle", method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert json.load(r)["removed"] == 2
    got = {r["eventName"]: r for r in records(2)}
    assert sorted(got) == ["LifecycleExpiration:Delete", "LifecycleTransition"]
    expired, moved = got["LifecycleExpiration:Delete"], got["LifecycleTransition"]
    assert expired["s3"]["object"]["key"] == "old/gone"
    assert moved["s3"]["object"]["key"] == "cold/big" and moved["s3"]["object"]["size"] == 128 * 1024
    assert moved["lifecycleEventData"] == {"transitionEventData": {"destinationStorageClass": "GLACIER"}}
    # Made by S3, not by the object's owner.
    assert expired["userIdentity"]["principalId"] == moved["userIdentity"]["principalId"] == "s3.amazonaws.com"
    # A client's own deletion is still an ObjectRemoved event.
    s3.put_object(Bucket="notified", Key="mine", Body=b"x")
    s3.delete_object(Bucket="notified", Key="mine")
    assert [r["eventName"] for r in records(1)] == ["ObjectRemoved:Delete"]
