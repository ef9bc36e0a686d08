"""SNS through boto3 and the AWS CLI: topics, subscriptions, filter policies, publishing
(plain, JSON structure, FIFO, batches), delivery to SQS (enveloped and raw, signed),
HTTP endpoints (confirmation handshake, retries, dead letters), email and SMS stand-ins,
and durable fan-out across a kill -9."""
import base64
import http.server
import json
import os
import re
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import botocore.exceptions
import pytest

ACCOUNT = "000000000000"


@pytest.fixture
def sns(server):
    return server.client("sns")


@pytest.fixture
def sqs(server):
    return server.client("sqs")


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r["ResponseMetadata"]["HTTPStatusCode"]


def queue(sqs, name, **attributes):
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url, count=1, timeout=10, **kwargs):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **kwargs)
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def local_messages(server, endpoint=None):
    url = server.endpoint + "/_brume/sns/messages"
    if endpoint:
        url += "?" + urllib.parse.urlencode({"endpoint": endpoint})
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)["messages"]


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def verify_signature(server, doc):
    """Checks a message's signature with openssl against the certificate at its URL."""
    if doc["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    canonical = "".join(f"{n}\n{doc[n]}\n" for n in names if n in doc)
    cert_url = doc.get("SigningCertURL") or doc["SigningCertUrl"]
    assert cert_url.startswith(f"http://localhost:{server.port}/_brume/sns/")
    with urllib.request.urlopen(server.endpoint + urllib.parse.urlparse(cert_url).path, timeout=5) as r:
        pem = r.read()
    digest = "-sha256" if doc["SignatureVersion"] == "2" else "-sha1"
    with tempfile.TemporaryDirectory() as d:
        paths = {n: os.path.join(d, n) for n in ("cert", "key", "sig", "data")}
        open(paths["cert"], "wb").write(pem)
        open(paths["sig"], "wb").write(base64.b64decode(doc["Signature"]))
        open(paths["data"], "wb").write(canonical.encode())
        key = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", paths["cert"]], capture_output=True, check=True)
        open(paths["key"], "wb").write(key.stdout)
        ok = subprocess.run(
            ["openssl", "dgst", digest, "-verify", paths["key"], "-signature", paths["sig"], paths["data"]],
            capture_output=True,
        )
    assert ok.returncode == 0, ok.stdout + ok.stderr


# --- topics -------------------------------------------------------------------------------


def test_create_topic_attributes_and_idempotency(sns):
    arn = sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders"}, Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:{ACCOUNT}:orders"
    assert sns.create_topic(Name="orders")["TopicArn"] == arn
    assert sns.create_topic(Name="orders", Attributes={"DisplayName": "Orders"})["TopicArn"] == arn
    code, message, status = error_of(lambda: sns.create_topic(Name="orders", Attributes={"DisplayName": "Other"}))
    assert (code, status) == ("InvalidParameter", 400)
    assert message == "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
    code, message, _ = error_of(lambda: sns.create_topic(Name="orders", Tags=[{"Key": "team", "Value": "b"}]))
    assert message == "Invalid parameter: Tags Reason: Topic already exists with different tags"

    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn and attrs["Owner"] == ACCOUNT and attrs["DisplayName"] == "Orders"
    assert (attrs["SubscriptionsConfirmed"], attrs["SubscriptionsPending"], attrs["SubscriptionsDeleted"]) == ("0", "0", "0")
    policy = json.loads(attrs["Policy"])
    assert policy["Id"] == "__default_policy_ID" and policy["Version"] == "2008-10-17"
    statement = policy["Statement"][0]
    assert statement["Resource"] == arn and statement["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}
    assert "SNS:Publish" in statement["Action"]
    effective = json.loads(attrs["EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    assert "FifoTopic" not in attrs

    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Renamed")
    delivery = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1, "maxDelayTarget": 2}}}
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(delivery))
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "Renamed"
    assert json.loads(attrs["DeliveryPolicy"]) == delivery
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 5
    code, message, _ = error_of(lambda: sns.set_topic_attributes(TopicArn=arn, AttributeName="Color", AttributeValue="x"))
    assert (code, message) == ("InvalidParameter", "Invalid parameter: AttributeName")
    code, _, _ = error_of(lambda: sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue="{no"))
    assert code == "InvalidParameter"


def test_topic_names_and_fifo_topics(sns):
    for bad in ["", "has space", "a" * 257, "dots.not.allowed"]:
        code, message, _ = error_of(lambda: sns.create_topic(Name=bad))
        assert code == "InvalidParameter", bad
    code, message, _ = error_of(lambda: sns.create_topic(Name="plain.fifo"))
    assert message.startswith("Invalid parameter: Fifo Topic names must end with .fifo")
    code, message, _ = error_of(lambda: sns.create_topic(Name="nofifo", Attributes={"FifoTopic": "true"}))
    assert code == "InvalidParameter"
    arn = sns.create_topic(Name="events.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["FifoTopic"] == "true" and attrs["ContentBasedDeduplication"] == "true"
    code, _, _ = error_of(lambda: sns.create_topic(Name="std", Attributes={"ContentBasedDeduplication": "true"}))
    assert code == "InvalidParameter"


def test_delete_topic_and_not_found(sns):
    arn = sns.create_topic(Name="gone")["TopicArn"]
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)  # deleting twice is fine
    code, message, status = error_of(lambda: sns.get_topic_attributes(TopicArn=arn))
    assert (code, message, status) == ("NotFound", "Topic does not exist", 404)
    code, _, status = error_of(lambda: sns.publish(TopicArn=arn, Message="x"))
    assert (code, status) == ("NotFound", 404)
    code, _, _ = error_of(lambda: sns.get_topic_attributes(TopicArn="not-an-arn"))
    assert code == "InvalidParameter"


def test_list_topics_pages_of_100(sns):
    arns = {sns.create_topic(Name=f"t{i:03}")["TopicArn"] for i in range(205)}
    pages, token, seen = 0, None, []
    while True:
        r = sns.list_topics(**({"NextToken": token} if token else {}))
        pages += 1
        seen += [t["TopicArn"] for t in r["Topics"]]
        token = r.get("NextToken")
        if not token:
            break
    assert pages == 3 and len(seen) == 205 and set(seen) == arns
    listed = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]]
    assert len(listed) == 205


def test_tags_and_data_protection_policy(sns):
    arn = sns.create_topic(Name="tagged")["TopicArn"]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    sns.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    missing = arn + "-missing"
    code, _, status = error_of(lambda: sns.list_tags_for_resource(ResourceArn=missing))
    assert (code, status) == ("ResourceNotFound", 404)
    policy = json.dumps({
        "Name": "p", "Version": "2021-06-01",
        "Statement": [{"Sid": "s", "DataDirection": "Inbound", "Principal": ["*"],
                       "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
                       "Operation": {"Audit": {"SampleRate": "99", "FindingsDestination": {}}}}],
    })
    assert "DataProtectionPolicy" not in sns.get_data_protection_policy(ResourceArn=arn)
    sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy=policy)
    assert sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"] == policy
    code, _, _ = error_of(lambda: sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy="[]"))
    assert code == "InvalidParameter"


def test_add_and_remove_permission_edit_the_policy(sns):
    arn = sns.create_topic(Name="shared")["TopicArn"]
    sns.add_permission(TopicArn=arn, Label="partners", AWSAccountId=["111122223333"], ActionName=["Publish", "Subscribe"])
    statements = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["__default_statement_ID", "partners"]
    assert statements[1]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert statements[1]["Action"] == ["SNS:Publish", "SNS:Subscribe"] and statements[1]["Resource"] == arn
    code, message, _ = error_of(lambda: sns.add_permission(TopicArn=arn, Label="partners", AWSAccountId=["1"], ActionName=["Publish"]))
    assert (code, message) == ("InvalidParameter", "Invalid parameter: Statement already exists")
    sns.remove_permission(TopicArn=arn, Label="partners")
    statements = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["__default_statement_ID"]
    code, _, _ = error_of(lambda: sns.remove_permission(TopicArn=arn, Label="partners"))
    assert code == "InvalidParameter"


# --- subscriptions ------------------------------------------------------------------------


def test_sqs_subscriptions(sns, sqs):
    topic = sns.create_topic(Name="subs")["TopicArn"]
    _, qarn = queue(sqs, "subs-q")
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    assert sub.startswith(topic + ":")
    assert sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"] == sub  # idempotent
    code, message, _ = error_of(lambda: sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"}))
    assert message == "Invalid parameter: Attributes Reason: Subscription already exists with different attributes"
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["PendingConfirmation"] == "false" and attrs["ConfirmationWasAuthenticated"] == "true"
    assert (attrs["Protocol"], attrs["Endpoint"], attrs["TopicArn"], attrs["Owner"]) == ("sqs", qarn, topic, ACCOUNT)
    assert attrs["SubscriptionArn"] == sub and attrs["RawMessageDelivery"] == "false"
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="true")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue='{"k": ["v"]}')
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["RawMessageDelivery"] == "true" and attrs["FilterPolicyScope"] == "MessageAttributes"
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"] == "1"
    by_topic = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert by_topic == [{"SubscriptionArn": sub, "Owner": ACCOUNT, "Protocol": "sqs", "Endpoint": qarn, "TopicArn": topic}]
    sns.unsubscribe(SubscriptionArn=sub)
    code, message, status = error_of(lambda: sns.get_subscription_attributes(SubscriptionArn=sub))
    assert (code, message, status) == ("NotFound", "Subscription does not exist", 404)
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert (attrs["SubscriptionsConfirmed"], attrs["SubscriptionsDeleted"]) == ("0", "1")


def test_subscribe_errors(sns):
    topic = sns.create_topic(Name="errs")["TopicArn"]
    cases = [
        ({"Protocol": "carrier-pigeon", "Endpoint": "x"}, "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon"),
        ({"Protocol": "sqs", "Endpoint": "not-an-arn"}, "Invalid parameter: SQS endpoint ARN"),
        ({"Protocol": "http", "Endpoint": "https://example.com"}, "Invalid parameter: Endpoint must match the specified protocol"),
        ({"Protocol": "email", "Endpoint": "nobody"}, "Invalid parameter: Email address"),
        ({"Protocol": "email", "Endpoint": "a@b.example", "Attributes": {"RawMessageDelivery": "true"}},
         "Invalid parameter: Attributes Reason: Delivery protocol [email] does not support raw message delivery."),
        ({"Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:000000000000:q", "Attributes": {"FilterPolicy": '{"a": "b"}'}},
         'Invalid parameter: FilterPolicy: "a" must be an object or an array'),
        ({"Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:000000000000:q",
          "Attributes": {"FilterPolicy": json.dumps({k: ["x"] for k in "abcdef"})}},
         "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"),
        ({"Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:000000000000:q",
          "Attributes": {"FilterPolicy": json.dumps({"a": list(range(13)), "b": list(range(13))})}},
         "Invalid parameter: FilterPolicy: Filter policy is too complex"),
        ({"Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:000000000000:q", "Attributes": {"FilterPolicyScope": "Body"}},
         "Invalid parameter: FilterPolicyScope: Invalid value [Body]. Please use either MessageBody or MessageAttributes"),
        ({"Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:000000000000:q", "Attributes": {"Colour": "blue"}},
         "Invalid parameter: AttributeName"),
        ({"Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:000000000000:q", "Attributes": {"RedrivePolicy": '{"x": 1}'}},
         "Invalid parameter: RedrivePolicy: Redrive policy does not contain mandatory attribute: deadLetterTargetArn"),
    ]
    for kwargs, expected in cases:
        code, message, status = error_of(lambda: sns.subscribe(TopicArn=topic, **kwargs))
        assert (code, message, status) == ("InvalidParameter", expected, 400), kwargs
    code, _, status = error_of(lambda: sns.subscribe(TopicArn=topic + "x", Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:000000000000:q"))
    assert (code, status) == ("NotFound", 404)
    fifo = sns.create_topic(Name="only-sqs.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    code, _, _ = error_of(lambda: sns.subscribe(TopicArn=fifo, Protocol="email", Endpoint="a@b.example"))
    assert code == "InvalidParameter"


def test_list_subscriptions_pages_of_100(sns):
    topics = [sns.create_topic(Name=f"many{i}")["TopicArn"] for i in range(2)]
    for i in range(150):
        sns.subscribe(TopicArn=topics[i % 2], Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:q{i}")
    first = sns.list_subscriptions()
    assert len(first["Subscriptions"]) == 100 and first["NextToken"]
    second = sns.list_subscriptions(NextToken=first["NextToken"])
    assert len(second["Subscriptions"]) == 50 and "NextToken" not in second
    by_topic = [s for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topics[0]) for s in page["Subscriptions"]]
    assert len(by_topic) == 75 and {s["TopicArn"] for s in by_topic} == {topics[0]}


def test_email_and_sms_go_to_the_local_outbox(server, sns):
    topic = sns.create_topic(Name="mail", Attributes={"DisplayName": "Mail"})["TopicArn"]
    r = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="dev@example.com")
    assert r["SubscriptionArn"] == "pending confirmation"
    arn = sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint="json@example.com", ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "true"
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted(s["SubscriptionArn"] for s in listed) == ["PendingConfirmation", "PendingConfirmation"]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "2"
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550100")

    # Nothing goes to pending subscriptions.
    sns.publish(TopicArn=topic, Message="before")
    confirm = local_messages(server, "dev@example.com")
    assert [m["type"] for m in confirm] == ["SubscriptionConfirmation"]
    assert "ConfirmSubscription" in confirm[0]["body"] and confirm[0]["token"] in confirm[0]["body"]
    confirmed = sns.confirm_subscription(TopicArn=topic, Token=confirm[0]["token"])["SubscriptionArn"]
    json_confirm = local_messages(server, "json@example.com")[0]
    doc = json.loads(json_confirm["body"])
    assert doc["Type"] == "SubscriptionConfirmation" and doc["Token"] == json_confirm["token"]
    verify_signature(server, doc)
    assert sns.confirm_subscription(TopicArn=topic, Token=doc["Token"])["SubscriptionArn"] == arn
    code, message, _ = error_of(lambda: sns.confirm_subscription(TopicArn=topic, Token="nope"))
    assert (code, message) == ("InvalidParameter", "Invalid parameter: Token")
    attrs = sns.get_subscription_attributes(SubscriptionArn=confirmed)["Attributes"]
    assert attrs["PendingConfirmation"] == "false" and attrs["ConfirmationWasAuthenticated"] == "false"

    sns.publish(TopicArn=topic, Message="hello", Subject="Greetings")
    mail = wait_for(lambda: [m for m in local_messages(server, "dev@example.com") if m["type"] == "Notification"])
    assert (mail[0]["body"], mail[0]["subject"], mail[0]["subscriptionArn"]) == ("hello", "Greetings", confirmed)
    as_json = wait_for(lambda: [m for m in local_messages(server, "json@example.com") if m["type"] == "Notification"])
    assert json.loads(as_json[0]["body"])["Message"] == "hello"
    # SMS subscriptions need no confirmation: it got both.
    sms = wait_for(lambda: len(local_messages(server, "+15555550100")) == 2 and local_messages(server, "+15555550100"))
    assert [m["body"] for m in sms] == ["before", "hello"]
    # Publishing straight to a phone number.
    sns.publish(PhoneNumber="+15555550199", Message="code 1234")
    assert [m["body"] for m in local_messages(server, "+15555550199")] == ["code 1234"]


def test_subscribe_and_unsubscribe_urls_work_unsigned(server, sns, sqs):
    topic = sns.create_topic(Name="links")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="link@example.com")
    token = local_messages(server, "link@example.com")[0]["token"]
    url = server.endpoint + "/?" + urllib.parse.urlencode({"Action": "ConfirmSubscription", "TopicArn": topic, "Token": token})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = r.read().decode()
    arn = re.search(r"<SubscriptionArn>(.*)</SubscriptionArn>", body).group(1)
    assert arn.startswith(topic + ":") and "ConfirmSubscriptionResponse" in body
    url, qarn = queue(sqs, "links-q")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    sns.publish(TopicArn=topic, Message="bye")
    doc = json.loads(receive(sqs, url)[0]["Body"])
    with urllib.request.urlopen(doc["UnsubscribeURL"].replace(f"localhost:{server.port}", f"127.0.0.1:{server.port}"), timeout=5) as r:
        assert r.status == 200 and "UnsubscribeResponse" in r.read().decode()
    assert all(s["Protocol"] != "sqs" for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"])
    # Other operations still need a signature.
    publish = server.endpoint + "/?" + urllib.parse.urlencode({"Action": "Publish", "TopicArn": topic, "Message": "x"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(publish, timeout=5)
    assert e.value.code == 403 and b"MissingAuthenticationToken" in e.value.read()


# --- publishing ---------------------------------------------------------------------------


def test_notification_envelope_is_signed(server, sns, sqs):
    topic = sns.create_topic(Name="env")["TopicArn"]
    url, qarn = queue(sqs, "env-q")
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    attributes = {
        "store": {"DataType": "String", "StringValue": "example_corp"},
        "price": {"DataType": "Number", "StringValue": "10.5"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    message_id = sns.publish(TopicArn=topic, Message="hello\nworld", Subject="Hi", MessageAttributes=attributes)["MessageId"]
    doc = json.loads(receive(sqs, url)[0]["Body"])
    assert list(doc) == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                         "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes"]
    assert (doc["Type"], doc["MessageId"], doc["TopicArn"], doc["Subject"], doc["Message"]) == ("Notification", message_id, topic, "Hi", "hello\nworld")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["Timestamp"])
    assert doc["SignatureVersion"] == "1"
    assert doc["UnsubscribeURL"] == f"http://localhost:{server.port}/?Action=Unsubscribe&SubscriptionArn=" + urllib.parse.quote(sub, safe="")
    assert doc["MessageAttributes"] == {
        "blob": {"Type": "Binary", "Value": "AAE="},
        "price": {"Type": "Number", "Value": "10.5"},
        "store": {"Type": "String", "Value": "example_corp"},
    }
    verify_signature(server, doc)
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=topic, Message="v2")
    doc = json.loads(receive(sqs, url)[0]["Body"])
    assert doc["SignatureVersion"] == "2" and "Subject" not in doc and "MessageAttributes" not in doc
    verify_signature(server, doc)


def test_raw_delivery_maps_attributes(sns, sqs):
    topic = sns.create_topic(Name="raw")["TopicArn"]
    url, qarn = queue(sqs, "raw-q")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="just this", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "order"},
        "n": {"DataType": "Number", "StringValue": "3"},
        "b": {"DataType": "Binary", "BinaryValue": b"\xff"},
    })
    m = receive(sqs, url, MessageAttributeNames=["All"])[0]
    assert m["Body"] == "just this"
    assert m["MessageAttributes"] == {
        "kind": {"StringValue": "order", "DataType": "String"},
        "n": {"StringValue": "3", "DataType": "Number"},
        "b": {"BinaryValue": b"\xff", "DataType": "Binary"},
    }


def test_message_structure_json(sns, sqs):
    topic = sns.create_topic(Name="structured")["TopicArn"]
    url, qarn = queue(sqs, "structured-q")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"default": "for all", "sqs": "for queues"}))
    sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"default": "only default", "email": "mail"}))
    bodies = sorted(json.loads(m["Body"])["Message"] for m in receive(sqs, url, count=2))
    assert bodies == ["for queues", "only default"]
    code, message, _ = error_of(lambda: sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"sqs": "x"})))
    assert (code, message) == ("InvalidParameter", "Invalid parameter: Message Structure - No default entry in JSON message body")
    code, message, _ = error_of(lambda: sns.publish(TopicArn=topic, MessageStructure="json", Message="not json"))
    assert message == "Invalid parameter: Message Structure - JSON message body failed to parse"


def test_publish_validation(sns):
    topic = sns.create_topic(Name="valid")["TopicArn"]
    cases = [
        ({"Message": ""}, "InvalidParameter", "Invalid parameter: Empty message"),
        ({"Message": "x" * (256 * 1024 + 1)}, "InvalidParameter", "Invalid parameter: Message too long"),
        ({"Message": "x", "Subject": "line\nbreak"}, "InvalidParameter", "Invalid parameter: Subject"),
        ({"Message": "x", "Subject": "s" * 101}, "InvalidParameter", "Invalid parameter: Subject"),
        ({"Message": "x", "MessageDeduplicationId": "d"}, "InvalidParameter",
         "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type"),
        ({"Message": "x", "MessageAttributes": {"a": {"DataType": "Text", "StringValue": "v"}}}, "ParameterValueInvalid",
         "The message attribute 'a' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."),
        ({"Message": "x", "MessageAttributes": {"a": {"DataType": "String", "StringValue": ""}}}, "ParameterValueInvalid",
         "The message attribute 'a' must contain non-empty message attribute value for message attribute type 'String'."),
        ({"Message": "x", "MessageAttributes": {"a": {"DataType": "Number", "StringValue": "ten"}}}, "ParameterValueInvalid",
         "Could not cast message attribute 'a' value to number."),
        ({"Message": "x", "MessageAttributes": {"AWS.x": {"DataType": "String", "StringValue": "v"}}}, "ParameterValueInvalid",
         "The message attribute name 'AWS.x' is invalid."),
    ]
    for kwargs, code, message in cases:
        assert error_of(lambda: sns.publish(TopicArn=topic, **kwargs))[:2] == (code, message), kwargs
    code, message, _ = error_of(lambda: sns.publish(Message="x"))
    assert code == "InvalidParameter" and "TopicArn or TargetArn" in message
    # TargetArn names a topic as well.
    assert sns.publish(TargetArn=topic, Message="x")["MessageId"]


def test_filter_policies_on_attributes_and_body(sns, sqs):
    topic = sns.create_topic(Name="filtered")["TopicArn"]
    attr_url, attr_arn = queue(sqs, "by-attributes")
    body_url, body_arn = queue(sqs, "by-body")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=attr_arn, Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({
        "store": ["example_corp"], "price": [{"numeric": [">", 100]}], "region": [{"anything-but": ["eu-west-1"]}],
    })})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=body_arn, Attributes={
        "RawMessageDelivery": "true", "FilterPolicyScope": "MessageBody",
        "FilterPolicy": json.dumps({"order": {"status": [{"prefix": "pa"}]}, "$or": [{"vip": [True]}, {"total": [{"numeric": [">=", 50]}]}]}),
    })

    def attrs(store, price, region):
        return {"store": {"DataType": "String", "StringValue": store}, "price": {"DataType": "Number", "StringValue": str(price)},
                "region": {"DataType": "String", "StringValue": region}}

    sns.publish(TopicArn=topic, Message="match", MessageAttributes=attrs("example_corp", 150, "us-east-1"))
    sns.publish(TopicArn=topic, Message="cheap", MessageAttributes=attrs("example_corp", 50, "us-east-1"))
    sns.publish(TopicArn=topic, Message="excluded region", MessageAttributes=attrs("example_corp", 150, "eu-west-1"))
    sns.publish(TopicArn=topic, Message=json.dumps({"order": {"status": "paid"}, "total": 60}))
    sns.publish(TopicArn=topic, Message=json.dumps({"order": {"status": "paid"}, "vip": True, "total": 1}))
    sns.publish(TopicArn=topic, Message=json.dumps({"order": {"status": "new"}, "total": 60}))
    sns.publish(TopicArn=topic, Message=json.dumps({"order": {"status": "paid"}, "total": 10}))
    assert [m["Body"] for m in receive(sqs, attr_url, count=2, timeout=3)] == ["match"]
    bodies = sorted(json.loads(m["Body"])["total"] for m in receive(sqs, body_url, count=3, timeout=3))
    assert bodies == [1, 60]


def test_fifo_topic_to_fifo_queue(sns, sqs):
    topic = sns.create_topic(Name="orders.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, qarn = queue(sqs, "orders.fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    code, message, _ = error_of(lambda: sns.publish(TopicArn=topic, Message="x", MessageDeduplicationId="d"))
    assert message == "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    code, message, _ = error_of(lambda: sns.publish(TopicArn=topic, Message="x", MessageGroupId="g"))
    assert message == "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
    first = sns.publish(TopicArn=topic, Message="one", MessageGroupId="g", MessageDeduplicationId="d1")
    again = sns.publish(TopicArn=topic, Message="one", MessageGroupId="g", MessageDeduplicationId="d1")
    second = sns.publish(TopicArn=topic, Message="two", MessageGroupId="g", MessageDeduplicationId="d2")
    assert again["MessageId"] == first["MessageId"] and again["SequenceNumber"] == first["SequenceNumber"]
    assert len(first["SequenceNumber"]) == 20 and int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    got = receive(sqs, url, count=2, timeout=5, AttributeNames=["All"])
    docs = [json.loads(m["Body"]) for m in got]
    assert [d["Message"] for d in docs] == ["one", "two"]
    assert docs[0]["SequenceNumber"] == first["SequenceNumber"]
    assert got[0]["Attributes"]["MessageGroupId"] == "g"
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "d1"
    batch = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "three", "MessageGroupId": "g", "MessageDeduplicationId": "d3"},
        {"Id": "b", "Message": "four", "MessageGroupId": "g"},
    ])
    assert [s["Id"] for s in batch["Successful"]] == ["a"] and batch["Successful"][0]["SequenceNumber"]
    assert batch["Failed"][0]["Id"] == "b" and batch["Failed"][0]["Code"] == "InvalidParameter" and batch["Failed"][0]["SenderFault"]


def test_publish_batch(sns, sqs):
    topic = sns.create_topic(Name="batch")["TopicArn"]
    url, qarn = queue(sqs, "batch-q")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    r = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "one", "Message": "1"},
        {"Id": "two", "Message": "2", "MessageAttributes": {"a": {"DataType": "String", "StringValue": "x"}}},
        {"Id": "bad", "Message": ""},
    ])
    assert sorted(s["Id"] for s in r["Successful"]) == ["one", "two"]
    assert r["Failed"] == [{"Id": "bad", "Code": "InvalidParameter", "Message": "Invalid parameter: Empty message", "SenderFault": True}]
    assert sorted(m["Body"] for m in receive(sqs, url, count=2)) == ["1", "2"]
    cases = [
        ([], "EmptyBatchRequest", "The batch request doesn't contain any entries."),
        ([{"Id": str(i), "Message": "x"} for i in range(11)], "TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible."),
        ([{"Id": "a", "Message": "x"}, {"Id": "a", "Message": "y"}], "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id."),
        ([{"Id": "no spaces", "Message": "x"}], "InvalidBatchEntryId", "The Id of a batch entry in a batch request doesn't abide by the specification."),
        ([{"Id": "a", "Message": "x" * 200_000}, {"Id": "b", "Message": "x" * 100_000}], "BatchRequestTooLong",
         "The length of all the messages put together is more than the limit."),
    ]
    for entries, code, message in cases:
        assert error_of(lambda: sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries))[:2] == (code, message)


def test_failed_sqs_delivery_goes_to_the_dead_letter_queue(sns, sqs):
    topic = sns.create_topic(Name="dlq")["TopicArn"]
    dlq_url, dlq_arn = queue(sqs, "dlq")
    missing = f"arn:aws:sqs:us-east-1:{ACCOUNT}:does-not-exist"
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=missing, Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    message_id = sns.publish(TopicArn=topic, Message="lost?")["MessageId"]
    doc = json.loads(receive(sqs, dlq_url)[0]["Body"])
    assert (doc["MessageId"], doc["Message"]) == (message_id, "lost?")


def echo_function(server, name):
    """A function answering its event, whose Event invocations report to a new queue;
    answers the function's ARN and the queue's URL."""
    import io
    import zipfile
    lam, sqs = server.client("lambda"), server.client("sqs")
    url, arn = queue(sqs, f"{name}-done")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return event\n")
    function = lam.create_function(FunctionName=name, Runtime="python3.12", Handler="index.handler",
                                   Role=f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
                                   Code={"ZipFile": buf.getvalue()})["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}})
    return function, url


def test_lambda_subscriptions_invoke_the_function_with_the_sns_record(server, sns, sqs):
    topic = sns.create_topic(Name="to-functions")["TopicArn"]
    function, done = echo_function(server, "handler")
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)["SubscriptionArn"]
    assert sub.startswith(topic + ":")
    message_id = sns.publish(TopicArn=topic, Message="for the function", Subject="S")["MessageId"]
    event = json.loads(receive(sqs, done)[0]["Body"])["requestPayload"]
    record = event["Records"][0]
    assert (record["EventSource"], record["EventSubscriptionArn"]) == ("aws:sns", sub)
    assert (record["Sns"]["MessageId"], record["Sns"]["Message"], record["Sns"]["Subject"]) == (message_id, "for the function", "S")
    assert record["Sns"]["MessageAttributes"] == {}
    verify_signature(server, record["Sns"])


def test_s3_notifications_reach_queues_through_a_topic(server, sns, sqs):
    topic = sns.create_topic(Name="uploads")["TopicArn"]
    url, qarn = queue(sqs, "uploads-q")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    s3 = server.client("s3")
    s3.create_bucket(Bucket="sns-bucket")
    s3.put_bucket_notification_configuration(Bucket="sns-bucket", NotificationConfiguration={
        "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket="sns-bucket", Key="a.txt", Body=b"x")
    docs = [json.loads(m["Body"]) for m in receive(sqs, url, count=2)]
    assert {d["Subject"] for d in docs} == {"Amazon S3 Notification"}
    records = [json.loads(d["Message"]) for d in docs]
    assert any(r.get("Event") == "s3:TestEvent" for r in records)
    created = next(r for r in records if "Records" in r)["Records"][0]
    assert created["eventName"] == "ObjectCreated:Put" and created["s3"]["object"]["key"] == "a.txt"


# --- HTTP endpoints -----------------------------------------------------------------------


class Endpoint:
    """A tiny HTTP server that records what SNS posts, and answers `status`."""

    def __init__(self, tls=None):
        self.requests = []
        self.status = 200
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.headers, body.decode()))  # case-insensitive lookups
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/sns"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def of_type(self, kind):
        return [(h, json.loads(b) if b.startswith("{") else b) for h, b in self.requests if h.get("x-amz-sns-message-type") == kind]

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.close()


def test_http_subscription_handshake_and_notification(server, sns, endpoint):
    topic = sns.create_topic(Name="web")["TopicArn"]
    assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)["SubscriptionArn"] == "pending confirmation"
    headers, doc = wait_for(lambda: endpoint.of_type("SubscriptionConfirmation"))[0]
    assert headers["x-amz-sns-topic-arn"] == topic and headers["x-amz-sns-message-id"] == doc["MessageId"]
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert doc["Type"] == "SubscriptionConfirmation" and doc["TopicArn"] == topic and doc["Token"]
    assert doc["Message"] == f"You have chosen to subscribe to the topic {topic}.\nTo confirm the subscription, visit the SubscribeURL included in this message."
    verify_signature(server, doc)
    # The endpoint confirms by visiting the SubscribeURL, unsigned, as a web hook would.
    with urllib.request.urlopen(doc["SubscribeURL"].replace("localhost", "127.0.0.1"), timeout=5) as r:
        arn = re.search(r"<SubscriptionArn>(.*)</SubscriptionArn>", r.read().decode()).group(1)
    attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["healthyRetryPolicy"]["numRetries"] == 3

    message_id = sns.publish(TopicArn=topic, Message="ping", Subject="S")["MessageId"]
    headers, doc = wait_for(lambda: endpoint.of_type("Notification"))[0]
    assert headers["x-amz-sns-subscription-arn"] == arn and headers["x-amz-sns-message-id"] == message_id
    assert headers["User-Agent"] == "Amazon Simple Notification Service Agent"
    assert (doc["Message"], doc["Subject"], doc["TopicArn"]) == ("ping", "S", topic)
    verify_signature(server, doc)

    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue="true")
    sns.publish(TopicArn=topic, Message="raw body")
    headers, body = wait_for(lambda: [r for r in endpoint.of_type("Notification") if r[1] == "raw body"])[0]
    assert headers["x-amz-sns-rawdelivery"] == "true"


@pytest.fixture
def test_ca(tmp_path):
    """A CA and a certificate it issued for 127.0.0.1, made with openssl."""
    run = lambda *args: subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=brume-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1")
    (tmp_path / "leaf.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")
    return {"ca": str(tmp_path / "ca.pem"), "cert": (str(tmp_path / "leaf.pem"), str(tmp_path / "leaf.key"))}


def test_https_subscription_over_tls_trusting_ssl_cert_file(start_brume, test_ca):
    # Brume trusts the system's CA certificates, or the bundle SSL_CERT_FILE names.
    brume = start_brume(env={"SSL_CERT_FILE": test_ca["ca"]})
    sns = brume.client("sns")
    endpoint = Endpoint(tls=test_ca["cert"])
    try:
        topic = sns.create_topic(Name="secure")["TopicArn"]
        assert sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=endpoint.url)["SubscriptionArn"] == "pending confirmation"
        _, doc = wait_for(lambda: endpoint.of_type("SubscriptionConfirmation"))[0]
        verify_signature(brume, doc)
        with urllib.request.urlopen(doc["SubscribeURL"].replace("localhost", "127.0.0.1"), timeout=5) as r:
            arn = re.search(r"<SubscriptionArn>(.*)</SubscriptionArn>", r.read().decode()).group(1)
        assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "false"
        message_id = sns.publish(TopicArn=topic, Message="over tls")["MessageId"]
        headers, doc = wait_for(lambda: endpoint.of_type("Notification"))[0]
        assert headers["x-amz-sns-message-id"] == message_id and doc["Message"] == "over tls"
        verify_signature(brume, doc)
    finally:
        endpoint.close()


def test_http_retries_per_delivery_policy_then_dead_letter(server, sns, sqs, endpoint):
    topic = sns.create_topic(Name="flaky")["TopicArn"]
    dlq_url, dlq_arn = queue(sqs, "http-dlq")
    arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url, ReturnSubscriptionArn=True)["SubscriptionArn"]
    token = wait_for(lambda: endpoint.of_type("SubscriptionConfirmation"))[0][1]["Token"]
    sns.confirm_subscription(TopicArn=topic, Token=token, AuthenticateOnUnsubscribe="true")
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["ConfirmationWasAuthenticated"] == "true"
    policy = {"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 1, "maxDelayTarget": 1, "numNoDelayRetries": 1}}
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(policy))
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RedrivePolicy", AttributeValue=json.dumps({"deadLetterTargetArn": dlq_arn}))
    endpoint.status = 500
    started = time.monotonic()
    sns.publish(TopicArn=topic, Message="retry me")
    dead = receive(sqs, dlq_url, timeout=15)
    assert json.loads(dead[0]["Body"])["Message"] == "retry me"
    # One attempt and two retries (the first at once, the second a second later).
    assert len(endpoint.of_type("Notification")) == 3
    assert time.monotonic() - started >= 1

    endpoint.status = 200
    sns.publish(TopicArn=topic, Message="fine now")
    wait_for(lambda: [r for r in endpoint.of_type("Notification") if r[1]["Message"] == "fine now"])


# --- the AWS CLI --------------------------------------------------------------------------


def test_cli(server, sqs):
    _, created, _ = server.cli("sns", "create-topic", "--name", "cli-topic", "--attributes", "DisplayName=Cli")
    topic = created["TopicArn"]
    _, listed, _ = server.cli("sns", "list-topics")
    assert [t["TopicArn"] for t in listed["Topics"]] == [topic]
    url, qarn = queue(sqs, "cli-q")
    _, sub, _ = server.cli("sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs", "--notification-endpoint", qarn,
                           "--attributes", '{"RawMessageDelivery": "true"}')
    _, published, _ = server.cli("sns", "publish", "--topic-arn", topic, "--message", "from the cli",
                                 "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')
    assert published["MessageId"]
    assert receive(sqs, url)[0]["Body"] == "from the cli"
    _, attrs, _ = server.cli("sns", "get-subscription-attributes", "--subscription-arn", sub["SubscriptionArn"])
    assert attrs["Attributes"]["RawMessageDelivery"] == "true"
    code, _, err = server.cli("sns", "get-topic-attributes", "--topic-arn", topic + "-nope", check=False)
    assert code != 0 and "NotFound" in err and "Topic does not exist" in err
    server.cli("sns", "delete-topic", "--topic-arn", topic)
    _, listed, _ = server.cli("sns", "list-topics")
    assert listed["Topics"] == []


# --- durability ---------------------------------------------------------------------------


def test_kill_9_during_fan_out_delivers_every_message_after_restart(start_brume, tmp_path):
    """Messages fanned out to three queues by four publishers: SIGKILL while publishes and
    deliveries are under way, restart on the same data, and every acknowledged message
    reaches every queue at least once."""
    first = start_brume(data_dir=str(tmp_path))
    sns, sqs = first.client("sns"), first.client("sqs")
    topic = sns.create_topic(Name="durable")["TopicArn"]
    queues = []
    for i in range(3):
        url, arn = queue(sqs, f"durable-{i}")
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        queues.append(url.rsplit("/", 1)[1])
    total = 10_000
    sent = set()
    killed = threading.Event()
    errors = []

    def publish(start):
        client = first.client("sns")
        for batch in range(start, total, 10 * 4):
            entries = [{"Id": str(i), "Message": f"m{i}"} for i in range(batch, min(batch + 10, total))]
            try:
                r = client.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
            except Exception as e:
                # Only a publish answered before the kill counts as sent.
                if not killed.is_set():
                    errors.append(e)
                return
            assert not r["Failed"]
            sent.update(e["Message"] for e in entries)

    def pending():
        with urllib.request.urlopen(first.endpoint + "/_brume/events", timeout=5) as r:
            return len(json.load(r)["events"])

    workers = [threading.Thread(target=publish, args=(w * 10,)) for w in range(4)]
    for w in workers:
        w.start()
    # The kill comes once a third of the messages are acknowledged and deliveries are
    # queued, while the publishers are still sending.
    deadline = time.monotonic() + 120
    while len(sent) < total // 3 or pending() == 0:
        assert any(w.is_alive() for w in workers) and time.monotonic() < deadline, "no delivery was under way"
        time.sleep(0.01)
    killed.set()
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait()
    for w in workers:
        w.join()
    assert not errors, errors
    assert 0 < len(sent) < total, "the kill came after the last publish; the test proves nothing"

    second = start_brume(data_dir=str(tmp_path))
    seen = {name: set() for name in queues}

    def drain(name):
        sqs = second.client("sqs")
        url = f"{second.endpoint}/{ACCOUNT}/{name}"
        deadline = time.monotonic() + 240
        while not sent <= seen[name] and time.monotonic() < deadline:
            # Received messages stay invisible for the rest of the test: no deletes needed.
            r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=3600)
            seen[name].update(m["Body"] for m in r.get("Messages", []))

    drains = [threading.Thread(target=drain, args=(name,)) for name in queues]
    for d in drains:
        d.start()
    for d in drains:
        d.join()
    for name in queues:
        assert sent <= seen[name], f"{name}: {len(sent - seen[name])} of {len(sent)} missing"
