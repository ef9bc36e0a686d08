"""SQS through boto3 (awsJson), the AWS CLI and the awsQuery protocol: queues, messages,
visibility, long polling, dead letters, durability."""
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
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


def test_create_get_list_delete_queue(server, sqs):
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    assert url == f"http://localhost:{server.port}/000000000000/jobs"
    assert sqs.create_queue(QueueName="jobs")["QueueUrl"] == url  # idempotent
    assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url
    sqs.create_queue(QueueName="jobs-2")
    sqs.create_queue(QueueName="other")
    assert sorted(sqs.list_queues()["QueueUrls"]) == sorted([url, url + "-2", url.replace("jobs", "other")])
    assert len(sqs.list_queues(QueueNamePrefix="jobs")["QueueUrls"]) == 2
    page = sqs.list_queues(MaxResults=1)
    assert len(page["QueueUrls"]) == 1 and page["NextToken"]
    rest = sqs.list_queues(MaxResults=5, NextToken=page["NextToken"])
    assert len(rest["QueueUrls"]) == 2 and "NextToken" not in rest
    sqs.delete_queue(QueueUrl=url)
    code, message, status = error_of(lambda: sqs.get_queue_url(QueueName="jobs"))
    # As from SQS, boto3 reports the awsQuery code (and raises QueueDoesNotExist).
    assert status == 400 and code == "AWS.SimpleQueueService.NonExistentQueue"
    assert message == "The specified queue does not exist."


def test_create_with_different_attributes_conflicts(sqs):
    sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "60"})
    code, message, _ = error_of(lambda: sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "61"}))
    assert code == "QueueAlreadyExists"
    assert "VisibilityTimeout" in message


def test_attributes_validated_and_counted(sqs):
    url = sqs.create_queue(QueueName="attrs", Attributes={"DelaySeconds": "0", "MessageRetentionPeriod": "120"})["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:attrs"
    assert attrs["VisibilityTimeout"] == "30" and attrs["MessageRetentionPeriod"] == "120"
    sqs.send_message(QueueUrl=url, MessageBody="a")
    sqs.send_message(QueueUrl=url, MessageBody="b")
    sqs.send_message(QueueUrl=url, MessageBody="c", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"])["Attributes"]
    assert counts == {"ApproximateNumberOfMessages": "1", "ApproximateNumberOfMessagesNotVisible": "1", "ApproximateNumberOfMessagesDelayed": "1"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {"VisibilityTimeout": "5"}
    assert error_of(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "99999"}))[0] == "InvalidAttributeValue"
    assert error_of(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"Bogus": "1"}))[0] == "InvalidAttributeName"


def test_send_receive_delete_with_attributes_and_md5(sqs):
    url = sqs.create_queue(QueueName="msgs")["QueueUrl"]
    attrs = {
        "s": {"DataType": "String", "StringValue": "hello"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        "custom": {"DataType": "String.custom", "StringValue": "x"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="payload ü", MessageAttributes=attrs)  # boto3 checks the MD5s
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"]
    assert len(got) == 1
    m = got[0]
    assert (m["MessageId"], m["Body"]) == (sent["MessageId"], "payload ü")
    assert m["MessageAttributes"]["b"]["BinaryValue"] == b"\x00\x01"
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert int(m["Attributes"]["SentTimestamp"]) > 0
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_visibility_timeout_hides_then_returns(sqs):
    url = sqs.create_queue(QueueName="vis")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3)["Messages"][0]
    assert again["MessageId"] == first["MessageId"]
    assert again["ReceiptHandle"] != first["ReceiptHandle"]
    # A stale receipt handle deletes nothing; the current one does.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert error_of(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage"))[0] == "ReceiptHandleIsInvalid"


def test_long_poll_wakes_on_arrival(server, sqs):
    url = sqs.create_queue(QueueName="poll")["QueueUrl"]
    result = {}

    def poll():
        start = time.monotonic()
        result["messages"] = server.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
        result["waited"] = time.monotonic() - start

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    t.join(timeout=15)
    assert [m["Body"] for m in result["messages"]] == ["wake up"]
    assert result["waited"] < 9  # woken by the arrival, not by the timeout


def test_delay_seconds(sqs):
    url = sqs.create_queue(QueueName="delayed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3)["Messages"][0]["Body"] == "later"


def test_batches(sqs):
    url = sqs.create_queue(QueueName="batch")["QueueUrl"]
    out = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": f"body {i}"} for i in range(10)])
    assert len(out["Successful"]) == 10
    got = []
    while len(got) < 10:
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == sorted(f"body {i}" for i in range(10))
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    assert len(deleted["Successful"]) == 10
    assert error_of(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "x", "MessageBody": "a"}, {"Id": "x", "MessageBody": "b"}]))[0] == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    assert error_of(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": "a"} for i in range(11)]))[0] == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


def test_limits_and_parameter_errors(sqs):
    url = sqs.create_queue(QueueName="limits")["QueueUrl"]
    # SQS's limit is 1 MiB since 2025 (it was 256 KiB).
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_576)
    code, message, _ = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_577))
    assert code == "InvalidParameterValue" and "shorter than 1048576 bytes" in message
    small = sqs.create_queue(QueueName="small", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    code, message, _ = error_of(lambda: sqs.send_message(QueueUrl=small, MessageBody="x" * 1025))
    assert code == "InvalidParameterValue" and "shorter than 1024 bytes" in message
    code, message, _ = error_of(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": "x" * 300_000} for i in range(4)]))
    assert code == "AWS.SimpleQueueService.BatchRequestTooLong" and "1200000 bytes" in message
    code, message, _ = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d"))
    assert code == "InvalidParameterValue" and "MessageDeduplicationId" in message
    code, message, _ = error_of(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11))
    assert code == "InvalidParameterValue" and "MaxNumberOfMessages" in message
    assert error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="bad \x00 char"))[0] == "InvalidMessageContents"


def test_dead_letter_queue_after_max_receives(sqs):
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(QueueName="src", Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    for _ in range(2):
        m = sqs.receive_message(QueueUrl=src)["Messages"][0]
        sqs.change_message_visibility(QueueUrl=src, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    moved = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"][0]
    assert moved["Body"] == "poison"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"].endswith(":src")


def test_purge_and_its_sixty_second_rule(sqs):
    url = sqs.create_queue(QueueName="purge")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    code, _, status = error_of(lambda: sqs.purge_queue(QueueUrl=url))
    assert code == "AWS.SimpleQueueService.PurgeQueueInProgress" and status == 403


def test_tags(sqs):
    url = sqs.create_queue(QueueName="tagged", tags={"team": "a"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}


def test_change_visibility_batch_and_system_attributes(sqs):
    url = sqs.create_queue(QueueName="vis")["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="traced", MessageSystemAttributes={
        "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}})
    assert len(sent["MD5OfMessageSystemAttributes"]) == 32
    sqs.send_message(QueueUrl=url, MessageBody="second")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["AWSTraceHeader"])["Messages"]
    assert len(got) == 2
    traced = next(m for m in got if m["Body"] == "traced")
    assert traced["Attributes"] == {"AWSTraceHeader": "Root=1-5759e988-bd862e3fe1be46a994272793"}
    out = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": got[1]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "c", "ReceiptHandle": "garbage", "VisibilityTimeout": 0}])
    assert sorted(e["Id"] for e in out["Successful"]) == ["a", "b"]
    assert out["Failed"][0]["Id"] == "c" and out["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    assert out["Failed"][0]["SenderFault"] is True
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 2
    code, _, _ = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageSystemAttributes={
        "Other": {"DataType": "String", "StringValue": "v"}}))
    assert code == "InvalidParameterValue"


def test_cli(server):
    _, out, _ = server.cli("sqs", "create-queue", "--queue-name", "cli-q")
    url = out["QueueUrl"]
    server.cli("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli")
    _, out, _ = server.cli("sqs", "receive-message", "--queue-url", url)
    assert out["Messages"][0]["Body"] == "from the cli"


def query(server, params):
    """A signed awsQuery request, as older SDKs send SQS calls: (status, XML text)."""
    body = urllib.parse.urlencode({**params, "Version": "2012-11-05"})
    req = botocore.awsrequest.AWSRequest(method="POST", url=server.endpoint + "/", data=body,
                                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "sqs", "us-east-1").add_auth(req)
    p = req.prepare()
    r = urllib.request.Request(p.url, data=body.encode(), headers=dict(p.headers), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_query_protocol(server):
    """The 2012-11-05 awsQuery names: `Attribute.N.Name`, `AttributeName.N`,
    `MessageAttribute.N.Value.*`, `SendMessageBatchRequestEntry.N.*`, flattened `<Message>`,
    `<Attribute><Name/><Value/></Attribute>`, and the legacy error codes."""
    _, xml = query(server, {"Action": "CreateQueue", "QueueName": "legacy", "Attribute.1.Name": "VisibilityTimeout",
                            "Attribute.1.Value": "45", "Tag.1.Key": "team", "Tag.1.Value": "a"})
    assert "<CreateQueueResponse" in xml and "/000000000000/legacy</QueueUrl>" in xml
    url = f"http://localhost:{server.port}/000000000000/legacy"
    _, xml = query(server, {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "old school",
                            "MessageAttribute.1.Name": "k", "MessageAttribute.1.Value.DataType": "String",
                            "MessageAttribute.1.Value.StringValue": "v"})
    assert "<MD5OfMessageBody>" in xml and "<MD5OfMessageAttributes>" in xml
    _, xml = query(server, {"Action": "SendMessageBatch", "QueueUrl": url,
                            "SendMessageBatchRequestEntry.1.Id": "one", "SendMessageBatchRequestEntry.1.MessageBody": "b1",
                            "SendMessageBatchRequestEntry.2.Id": "two", "SendMessageBatchRequestEntry.2.MessageBody": "b2"})
    assert xml.count("<SendMessageBatchResultEntry>") == 2 and "<Id>one</Id>" in xml
    _, xml = query(server, {"Action": "ReceiveMessage", "QueueUrl": url, "MaxNumberOfMessages": "10",
                            "AttributeName.1": "SentTimestamp", "MessageAttributeName.1": "All"})
    assert xml.count("<Message>") == 3 and "<Body>old school</Body>" in xml
    assert "<Attribute><Name>SentTimestamp</Name><Value>" in xml
    assert "<MessageAttribute><Name>k</Name><Value><StringValue>v</StringValue><DataType>String</DataType></Value></MessageAttribute>" in xml
    _, xml = query(server, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "VisibilityTimeout"})
    assert "<Attribute><Name>VisibilityTimeout</Name><Value>45</Value></Attribute>" in xml
    _, xml = query(server, {"Action": "ListQueueTags", "QueueUrl": url})
    assert "<Tag><Key>team</Key><Value>a</Value></Tag>" in xml
    _, xml = query(server, {"Action": "ListQueues"})
    assert f"<QueueUrl>{url}</QueueUrl>" in xml
    status, xml = query(server, {"Action": "GetQueueUrl", "QueueName": "missing"})
    assert status == 400 and "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in xml


def test_json_errors_carry_the_query_code(server, sqs):
    """boto3 reads the awsQuery code from `x-amzn-query-error`, as with SQS itself."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.get_queue_url(QueueName="missing")
    headers = e.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="missing")


def test_messages_survive_restart_and_in_flight_ones_return(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    sqs = first.client("sqs")
    url = sqs.create_queue(QueueName="durable")["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=1)
    first.proc.kill()
    first.proc.wait()
    second = start_brume(data_dir=str(tmp_path))
    sqs = second.client("sqs")
    url = url.replace(str(first.port), str(second.port))
    bodies = []
    deadline = time.monotonic() + 10
    while len(bodies) < 5 and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", []):
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(bodies) == [f"m{i}" for i in range(5)]


def test_add_and_remove_permission(sqs):
    url = sqs.create_queue(QueueName="shared")["QueueUrl"]
    sqs.add_permission(QueueUrl=url, Label="send", AWSAccountIds=["111111111111"], Actions=["SendMessage"])
    sqs.add_permission(QueueUrl=url, Label="recv", AWSAccountIds=["222222222222"], Actions=["ReceiveMessage", "DeleteMessage"])
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Version"] == "2012-10-17"
    assert [s["Sid"] for s in policy["Statement"]] == ["send", "recv"]
    send = policy["Statement"][0]
    assert send["Principal"] == {"AWS": ["arn:aws:iam::111111111111:root"]} and send["Action"] == ["SQS:SendMessage"]
    assert send["Resource"].endswith(":shared") and send["Effect"] == "Allow"
    code, message, _ = error_of(lambda: sqs.add_permission(QueueUrl=url, Label="send", AWSAccountIds=["1"], Actions=["SendMessage"]))
    assert code == "InvalidParameterValue" and "Already exists" in message
    sqs.remove_permission(QueueUrl=url, Label="send")
    sqs.remove_permission(QueueUrl=url, Label="recv")
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    code, _, _ = error_of(lambda: sqs.remove_permission(QueueUrl=url, Label="send"))
    assert code == "InvalidParameterValue"


def test_queue_urls_in_the_host_form(server, localhost_names):
    """SDKs configured with the regional endpoint form reach the same queues."""
    import boto3
    from botocore.config import Config
    regional = boto3.client("sqs", endpoint_url=f"http://sqs.us-east-1.localhost:{server.port}", region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    regional.create_queue(QueueName="hosted")
    host_form = f"http://sqs.us-east-1.localhost:{server.port}/000000000000/hosted"
    regional.send_message(QueueUrl=host_form, MessageBody="via host form")
    path_form = server.client("sqs").get_queue_url(QueueName="hosted")["QueueUrl"]
    assert server.client("sqs").receive_message(QueueUrl=path_form)["Messages"][0]["Body"] == "via host form"
