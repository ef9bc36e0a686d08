"""Lambda's asynchronous invocations: Event invokes queued durably and retried, event invoke
configurations, destinations and dead-letter queues, SNS subscriptions and S3 notifications
that invoke functions, and no Event invoke lost to a kill -9."""
import io
import json
import time
import zipfile

import botocore.exceptions
import pytest

from conftest import Brume, kill_9_during_writes

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
# Retries a second apart instead of AWS's minutes.
FAST = {"BRUME_LAMBDA_ASYNC_RETRY_DELAY_MS": "300"}

ECHO = """
def handler(event, context):
    return {"echo": event}
"""

FAIL = """
def handler(event, context):
    raise ValueError("no good: " + str(event.get("n")))
"""


@pytest.fixture(scope="module")
def brume():
    b = Brume(env=FAST)
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


def create(lam, name, source, **extra):
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": zip_of(source)}, **extra)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def queue(sqs, name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url, count, timeout=60, **extra):
    """The first `count` messages to arrive in the queue (deleted), or fails after `timeout`."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **extra)
        for m in r.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            got.append(m)
    assert len(got) >= count, f"only {len(got)} of {count} messages arrived"
    return got


def test_event_invoke_answers_202_and_runs_the_function(brume):
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    arn = create(lam, "echo", ECHO)
    url, qarn = queue(sqs, "success")
    lam.put_function_event_invoke_config(FunctionName="echo",
                                         DestinationConfig={"OnSuccess": {"Destination": qarn}})
    r = lam.invoke(FunctionName="echo", InvocationType="Event", Payload=json.dumps({"n": 1}))
    assert r["StatusCode"] == 202
    assert r["Payload"].read() == b""
    record = json.loads(receive(sqs, url, 1)[0]["Body"])
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z")
    context = record["requestContext"]
    assert context["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert context["functionArn"] == arn + ":$LATEST"
    assert context["condition"] == "Success"
    assert context["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": {"n": 1}}


def test_failing_function_is_retried_then_its_record_goes_to_on_failure(brume):
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    arn = create(lam, "fails", FAIL)
    url, qarn = queue(sqs, "failures")
    lam.put_function_event_invoke_config(FunctionName="fails", MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": qarn}})
    lam.invoke(FunctionName="fails", InvocationType="Event", Payload=json.dumps({"n": 7}))
    record = json.loads(receive(sqs, url, 1)[0]["Body"])
    context = record["requestContext"]
    assert context["functionArn"] == arn + ":$LATEST"
    assert context["condition"] == "RetriesExhausted"
    assert context["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"n": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "no good: 7"


def test_default_retries_are_two(brume):
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    create(lam, "fails", FAIL)
    url, qarn = queue(sqs, "failures")
    lam.put_function_event_invoke_config(FunctionName="fails", DestinationConfig={"OnFailure": {"Destination": qarn}})
    lam.invoke(FunctionName="fails", InvocationType="Event", Payload=b"{}")
    record = json.loads(receive(sqs, url, 1)[0]["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 3


def test_dead_letter_queue_gets_the_event_with_the_error_attributes(brume):
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    url, qarn = queue(sqs, "dlq")
    create(lam, "fails", FAIL, DeadLetterConfig={"TargetArn": qarn})
    lam.put_function_event_invoke_config(FunctionName="fails", MaximumRetryAttempts=0)
    r = lam.invoke(FunctionName="fails", InvocationType="Event", Payload=json.dumps({"n": 3}))
    m = receive(sqs, url, 1, MessageAttributeNames=["All"])[0]
    assert json.loads(m["Body"]) == {"n": 3}
    attributes = m["MessageAttributes"]
    assert attributes["RequestID"] == {"StringValue": r["ResponseMetadata"]["RequestId"], "DataType": "String"}
    assert attributes["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert attributes["ErrorMessage"] == {"StringValue": "no good: 3", "DataType": "String"}


def test_event_invoke_errors_are_answered_at_once(brume):
    lam = brume.client("lambda")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName="missing", InvocationType="Event", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    create(lam, "echo", ECHO)
    big = json.dumps({"x": "a" * 262_144})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName="echo", InvocationType="Event", Payload=big)
    assert e.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert e.value.response["Error"]["Message"] == \
        f"{len(big)} byte payload is too large for the Event invocation type (limit 262144 bytes)"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_event_invoke_config_crud_and_validation(brume):
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    arn = create(lam, "echo", ECHO)
    _, qarn = queue(sqs, "dest")
    put = lam.put_function_event_invoke_config(FunctionName="echo", MaximumRetryAttempts=1,
                                               MaximumEventAgeInSeconds=600)
    assert put["FunctionArn"] == arn + ":$LATEST"
    assert put["MaximumRetryAttempts"] == 1 and put["MaximumEventAgeInSeconds"] == 600
    updated = lam.update_function_event_invoke_config(FunctionName="echo",
                                                      DestinationConfig={"OnFailure": {"Destination": qarn}})
    assert updated["MaximumRetryAttempts"] == 1
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": qarn}
    got = lam.get_function_event_invoke_config(FunctionName=arn)
    assert got["DestinationConfig"] == updated["DestinationConfig"]
    assert got["MaximumEventAgeInSeconds"] == 600
    # Put replaces the whole configuration.
    replaced = lam.put_function_event_invoke_config(FunctionName="echo", MaximumRetryAttempts=0)
    assert "MaximumEventAgeInSeconds" not in replaced
    listed = lam.list_function_event_invoke_configs(FunctionName="echo")["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [arn + ":$LATEST"]
    lam.delete_function_event_invoke_config(FunctionName="echo")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName="echo")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == f"The function {arn}:$LATEST doesn't have an EventInvokeConfig"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.update_function_event_invoke_config(FunctionName="echo", MaximumRetryAttempts=1)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"

    def refused(**args):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.put_function_event_invoke_config(FunctionName="echo", **args)
        return e.value.response["Error"]

    error = refused(MaximumRetryAttempts=3)
    assert error["Code"] == "ValidationException"
    assert error["Message"] == ("1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy "
                                "constraint: Member must have value less than or equal to 2")
    assert refused(MaximumEventAgeInSeconds=21601)["Code"] == "ValidationException"
    error = refused(DestinationConfig={"OnSuccess": {"Destination": "arn:aws:dynamodb:us-east-1:000000000000:table/t"}})
    assert error["Code"] == "InvalidParameterValueException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName="missing", MaximumRetryAttempts=1)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_sns_subscription_invokes_the_function(brume):
    lam, sqs, sns = brume.client("lambda"), brume.client("sqs"), brume.client("sns")
    arn = create(lam, "echo", ECHO)
    url, qarn = queue(sqs, "success")
    lam.put_function_event_invoke_config(FunctionName="echo", DestinationConfig={"OnSuccess": {"Destination": qarn}})
    topic = sns.create_topic(Name="t")["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)["SubscriptionArn"]
    sns.publish(TopicArn=topic, Message="hello", Subject="greeting")
    event = json.loads(receive(sqs, url, 1)[0]["Body"])["requestPayload"]
    [record] = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == sub
    assert record["Sns"]["Message"] == "hello"
    assert record["Sns"]["Subject"] == "greeting"
    assert record["Sns"]["TopicArn"] == topic


def test_s3_notification_invokes_the_function(brume):
    lam, sqs, s3 = brume.client("lambda"), brume.client("sqs"), brume.client("s3")
    arn = create(lam, "echo", ECHO)
    url, qarn = queue(sqs, "success")
    lam.put_function_event_invoke_config(FunctionName="echo", DestinationConfig={"OnSuccess": {"Destination": qarn}})
    s3.create_bucket(Bucket="uploads")
    s3.put_bucket_notification_configuration(Bucket="uploads", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket="uploads", Key="a.txt", Body=b"hello")
    event = json.loads(receive(sqs, url, 1)[0]["Body"])["requestPayload"]
    [record] = event["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == "uploads"
    assert record["s3"]["object"]["key"] == "a.txt"
    assert record["s3"]["object"]["size"] == 5


def test_no_event_invoke_is_lost_to_kill_9(tmp_path):
    first = Brume(data_dir=str(tmp_path), env=FAST)
    lam, sqs = first.client("lambda"), first.client("sqs")
    create(lam, "echo", ECHO)
    url, qarn = queue(sqs, "success")
    lam.put_function_event_invoke_config(FunctionName="echo", DestinationConfig={"OnSuccess": {"Destination": qarn}})

    def write(client, w, i):
        client.invoke(FunctionName="echo", InvocationType="Event", Payload=json.dumps({"w": w, "i": i}))
        return (w, i)

    acknowledged = kill_9_during_writes(first, "lambda", write, enough=60)
    second = Brume(data_dir=str(tmp_path), env=FAST)
    try:
        sqs = second.client("sqs")
        seen = set()
        deadline = time.monotonic() + 120
        while not set(acknowledged) <= seen and time.monotonic() < deadline:
            r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in r.get("Messages", []):
                payload = json.loads(m["Body"])["requestPayload"]
                seen.add((payload["w"], payload["i"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        assert set(acknowledged) - seen == set()
    finally:
        second.stop()


def test_destinations_may_be_topics_and_functions(brume):
    lam, sqs, sns = brume.client("lambda"), brume.client("sqs"), brume.client("sns")
    url, qarn = queue(sqs, "final")
    topic = sns.create_topic(Name="failures")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    next_arn = create(lam, "next", ECHO)
    lam.put_function_event_invoke_config(FunctionName="next", DestinationConfig={"OnSuccess": {"Destination": qarn}})
    create(lam, "echo", ECHO)
    create(lam, "fails", FAIL)
    lam.put_function_event_invoke_config(FunctionName="echo",
                                         DestinationConfig={"OnSuccess": {"Destination": next_arn}})
    lam.put_function_event_invoke_config(FunctionName="fails", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": topic}})
    lam.invoke(FunctionName="echo", InvocationType="Event", Payload=json.dumps({"n": 1}))
    lam.invoke(FunctionName="fails", InvocationType="Event", Payload=json.dumps({"n": 2}))
    records = [json.loads(m["Body"]) for m in receive(sqs, url, 2)]
    by_condition = {r["requestContext"]["condition"]: r for r in records}
    # The function destination received echo's Success record as its event.
    chained = by_condition["Success"]
    assert chained["requestContext"]["functionArn"] == next_arn + ":$LATEST"
    assert chained["requestPayload"]["requestContext"]["condition"] == "Success"
    assert chained["requestPayload"]["responsePayload"] == {"echo": {"n": 1}}
    failed = by_condition["RetriesExhausted"]
    assert failed["requestPayload"] == {"n": 2}
    assert failed["requestContext"]["approximateInvokeCount"] == 1


def test_throttled_events_wait_without_using_attempts(brume):
    lam, sqs = brume.client("lambda"), brume.client("sqs")
    create(lam, "echo", ECHO)
    url, qarn = queue(sqs, "success")
    lam.put_function_event_invoke_config(FunctionName="echo", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnSuccess": {"Destination": qarn}})
    lam.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=0)
    assert lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"n": 1}')["StatusCode"] == 202
    # Throttled for as long as the function may not run; none of that counts as an attempt.
    deadline = time.monotonic() + 30
    while not any(e["kind"] == "invoke" and e["attempts"] == 0 and e["due_ms"] > e["created_ms"]
                  for e in pending_events(brume)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    lam.delete_function_concurrency(FunctionName="echo")
    record = json.loads(receive(sqs, url, 1)[0]["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def pending_events(brume):
    import urllib.request
    with urllib.request.urlopen(brume.endpoint + "/_brume/events", timeout=5) as r:
        return json.load(r)["events"]


def test_dead_letter_topic_gets_the_event_with_the_error_attributes(brume):
    lam, sqs, sns = brume.client("lambda"), brume.client("sqs"), brume.client("sns")
    url, qarn = queue(sqs, "dead-letters")
    topic = sns.create_topic(Name="dead-letters")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    create(lam, "fails", FAIL, DeadLetterConfig={"TargetArn": topic})
    lam.put_function_event_invoke_config(FunctionName="fails", MaximumRetryAttempts=0)
    r = lam.invoke(FunctionName="fails", InvocationType="Event", Payload=json.dumps({"n": 4}))
    notification = json.loads(receive(sqs, url, 1)[0]["Body"])
    assert notification["TopicArn"] == topic
    assert json.loads(notification["Message"]) == {"n": 4}
    assert notification["MessageAttributes"] == {
        "RequestID": {"Type": "String", "Value": r["ResponseMetadata"]["RequestId"]},
        "ErrorCode": {"Type": "Number", "Value": "200"},
        "ErrorMessage": {"Type": "String", "Value": "no good: 4"},
    }
