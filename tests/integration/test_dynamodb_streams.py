"""DynamoDB Streams through boto3's `dynamodbstreams` client and the AWS CLI: records of
every write path in each view type, shard iterators of every type, paging, errors,
disabled streams, TTL deletions, and records surviving kill -9."""
import base64
import json
import time
import urllib.request

import botocore.exceptions
import pytest

from conftest import kill_9_during_writes


@pytest.fixture
def ddb(server):
    return server.client("dynamodb")


@pytest.fixture
def streams(server):
    return server.client("dynamodbstreams")


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r


def make_table(ddb, name, view="NEW_AND_OLD_IMAGES", range_key=False, **extra):
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_key:
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
    if view:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    return ddb.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=schema,
                            BillingMode="PAY_PER_REQUEST", **extra)["TableDescription"]


def shard_of(streams, arn):
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    assert len(shards) == 1
    return shards[0]["ShardId"]


def iterator(streams, arn, kind="TRIM_HORIZON", **extra):
    return streams.get_shard_iterator(StreamArn=arn, ShardId=shard_of(streams, arn), ShardIteratorType=kind,
                                      **extra)["ShardIterator"]


def read_all(streams, arn, kind="TRIM_HORIZON", limit=None, **extra):
    """Every record from the position named, following NextShardIterator until a page
    comes back empty (or the shard is closed)."""
    it = iterator(streams, arn, kind, **extra)
    records = []
    while it:
        page = streams.get_records(ShardIterator=it, **({"Limit": limit} if limit else {}))
        records += page["Records"]
        it = page.get("NextShardIterator")
        if not page["Records"]:
            break
    return records


def events(records):
    return [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]


def sweep(server, job):
    req = urllib.request.Request(server.endpoint + f"/_brume/jobs/{job}", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["removed"]


# --- records --------------------------------------------------------------------------


@pytest.mark.parametrize("view,old,new", [
    ("KEYS_ONLY", False, False),
    ("NEW_IMAGE", False, True),
    ("OLD_IMAGE", True, False),
    ("NEW_AND_OLD_IMAGES", True, True),
])
def test_single_item_writes_in_each_view_type(ddb, streams, view, old, new):
    desc = make_table(ddb, "viewed", view=view)
    arn = desc["LatestStreamArn"]
    assert arn == f"arn:aws:dynamodb:us-east-1:000000000000:table/viewed/stream/{desc['LatestStreamLabel']}"
    assert time.strptime(desc["LatestStreamLabel"][:19], "%Y-%m-%dT%H:%M:%S") and desc["LatestStreamLabel"][19] == "."
    ddb.put_item(TableName="viewed", Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    ddb.update_item(TableName="viewed", Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "2"}})
    ddb.delete_item(TableName="viewed", Key={"pk": {"S": "a"}})
    records = read_all(streams, arn)
    assert events(records) == [("INSERT", "a"), ("MODIFY", "a"), ("REMOVE", "a")]
    before = [None, {"pk": {"S": "a"}, "v": {"N": "1"}}, {"pk": {"S": "a"}, "v": {"N": "2"}}]
    after = [{"pk": {"S": "a"}, "v": {"N": "1"}}, {"pk": {"S": "a"}, "v": {"N": "2"}}, None]
    sequence = []
    for record, b, a in zip(records, before, after):
        assert record["eventVersion"] == "1.1" and record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1" and len(record["eventID"]) == 32
        assert "userIdentity" not in record
        body = record["dynamodb"]
        assert body["Keys"] == {"pk": {"S": "a"}} and body["StreamViewType"] == view
        assert abs(body["ApproximateCreationDateTime"].timestamp() - time.time()) < 3600
        assert body.get("OldImage") == (b if old else None)
        assert body.get("NewImage") == (a if new else None)
        # Keys "pk"+"a" = 3 bytes; each image adds its item's size ("v" with a one-digit number: 3 + 1 + 2).
        expected = 3 + sum(6 for image, shown in ((b, old), (a, new)) if image and shown)
        assert body["SizeBytes"] == expected
        sequence.append(body["SequenceNumber"])
    assert all(s.isdigit() and 21 <= len(s) <= 40 for s in sequence)
    assert [int(s) for s in sequence] == sorted(int(s) for s in sequence) and len(set(sequence)) == 3


def test_unchanged_writes_leave_no_record(ddb, streams):
    arn = make_table(ddb, "quiet")["LatestStreamArn"]
    item = {"pk": {"S": "a"}, "v": {"S": "x"}, "n": {"N": "1.50"}}
    ddb.put_item(TableName="quiet", Item=item)
    ddb.put_item(TableName="quiet", Item={**item, "n": {"N": "1.5"}})  # the same number
    ddb.update_item(TableName="quiet", Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"S": "x"}})
    ddb.delete_item(TableName="quiet", Key={"pk": {"S": "missing"}})
    ddb.batch_write_item(RequestItems={"quiet": [{"PutRequest": {"Item": item}}]})
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName="quiet", Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)")
    assert events(read_all(streams, arn)) == [("INSERT", "a")]


def test_batches_and_transactions_write_records(ddb, streams):
    arn = make_table(ddb, "multi", view="NEW_IMAGE", range_key=True)["LatestStreamArn"]
    ddb.put_item(TableName="multi", Item={"pk": {"S": "old"}, "sk": {"N": "1"}})
    ddb.batch_write_item(RequestItems={"multi": [
        {"PutRequest": {"Item": {"pk": {"S": "b1"}, "sk": {"N": "1"}}}},
        {"PutRequest": {"Item": {"pk": {"S": "b2"}, "sk": {"N": "2"}}}},
        {"DeleteRequest": {"Key": {"pk": {"S": "old"}, "sk": {"N": "1"}}}},
    ]})
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "multi", "Item": {"pk": {"S": "t1"}, "sk": {"N": "1"}, "v": {"S": "new"}}}},
        {"Update": {"TableName": "multi", "Key": {"pk": {"S": "b1"}, "sk": {"N": "1"}},
                    "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"S": "u"}}}},
        {"Delete": {"TableName": "multi", "Key": {"pk": {"S": "b2"}, "sk": {"N": "2"}}}},
        {"ConditionCheck": {"TableName": "multi", "Key": {"pk": {"S": "t1"}, "sk": {"N": "9"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}},
    ])
    # A cancelled transaction writes nothing, so records nothing.
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "multi", "Item": {"pk": {"S": "never"}, "sk": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": "multi", "Key": {"pk": {"S": "t1"}, "sk": {"N": "1"}},
                                "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    records = read_all(streams, arn)
    got = events(records)
    assert got[0] == ("INSERT", "old")
    assert sorted(got[1:4]) == [("INSERT", "b1"), ("INSERT", "b2"), ("REMOVE", "old")]
    assert sorted(got[4:]) == [("INSERT", "t1"), ("MODIFY", "b1"), ("REMOVE", "b2")]
    modify = next(r for r in records if r["eventName"] == "MODIFY")
    assert modify["dynamodb"]["NewImage"] == {"pk": {"S": "b1"}, "sk": {"N": "1"}, "v": {"S": "u"}}
    assert modify["dynamodb"]["Keys"] == {"pk": {"S": "b1"}, "sk": {"N": "1"}}
    removed = next(r for r in records if r["eventName"] == "REMOVE")
    assert "NewImage" not in removed["dynamodb"]


def test_partiql_writes_write_records(ddb, streams):
    arn = make_table(ddb, "sql", view="NEW_AND_OLD_IMAGES")["LatestStreamArn"]
    ddb.execute_statement(Statement="INSERT INTO \"sql\" VALUE {'pk': 'a', 'v': 1}")
    ddb.execute_statement(Statement="UPDATE \"sql\" SET v = 2 WHERE pk = 'a'")
    ddb.execute_transaction(TransactStatements=[
        {"Statement": "DELETE FROM \"sql\" WHERE pk = 'a'"},
        {"Statement": "INSERT INTO \"sql\" VALUE {'pk': 'b'}"},
    ])
    records = read_all(streams, arn)
    assert events(records)[:2] == [("INSERT", "a"), ("MODIFY", "a")]
    assert sorted(events(records)[2:]) == [("INSERT", "b"), ("REMOVE", "a")]
    assert records[1]["dynamodb"]["OldImage"]["v"] == {"N": "1"} and records[1]["dynamodb"]["NewImage"]["v"] == {"N": "2"}


def test_records_of_one_item_keep_its_order(ddb, streams):
    arn = make_table(ddb, "ordered", view="NEW_IMAGE")["LatestStreamArn"]
    for i in range(30):
        ddb.put_item(TableName="ordered", Item={"pk": {"S": f"k{i % 3}"}, "n": {"N": str(i)}})
    records = read_all(streams, arn, limit=7)
    assert len(records) == 30
    for k in range(3):
        ns = [int(r["dynamodb"]["NewImage"]["n"]["N"]) for r in records if r["dynamodb"]["Keys"]["pk"]["S"] == f"k{k}"]
        assert ns == list(range(k, 30, 3))


def test_ttl_deletions_name_the_service(server, ddb, streams):
    arn = make_table(ddb, "ttl")["LatestStreamArn"]
    ddb.update_time_to_live(TableName="ttl", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    now = int(time.time())
    ddb.put_item(TableName="ttl", Item={"pk": {"S": "gone"}, "exp": {"N": str(now - 10)}})
    ddb.put_item(TableName="ttl", Item={"pk": {"S": "kept"}, "exp": {"N": str(now + 3600)}})
    ddb.delete_item(TableName="ttl", Key={"pk": {"S": "kept"}})
    assert sweep(server, "dynamodb-ttl") == 1
    records = read_all(streams, arn)
    assert events(records) == [("INSERT", "gone"), ("INSERT", "kept"), ("REMOVE", "kept"), ("REMOVE", "gone")]
    by_client, by_ttl = records[2], records[3]
    assert "userIdentity" not in by_client
    assert by_ttl["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
    assert by_ttl["dynamodb"]["OldImage"] == {"pk": {"S": "gone"}, "exp": {"N": str(now - 10)}}
    # Records younger than a day stay.
    assert sweep(server, "dynamodb-streams-trim") == 0
    assert len(read_all(streams, arn)) == 4


# --- iterators and paging ------------------------------------------------------------


def test_iterator_types_and_paging(ddb, streams):
    arn = make_table(ddb, "iter", view="KEYS_ONLY")["LatestStreamArn"]
    latest = iterator(streams, arn, "LATEST")
    assert streams.get_records(ShardIterator=latest)["Records"] == []
    for i in range(5):
        ddb.put_item(TableName="iter", Item={"pk": {"S": f"k{i}"}})
    # An iterator taken at LATEST sees what came after it.
    page = streams.get_records(ShardIterator=latest)
    assert events(page["Records"]) == [("INSERT", f"k{i}") for i in range(5)]
    assert streams.get_records(ShardIterator=page["NextShardIterator"])["Records"] == []
    assert streams.get_records(ShardIterator=iterator(streams, arn, "LATEST"))["Records"] == []
    records = read_all(streams, arn)
    seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
    at = read_all(streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=seqs[2])
    assert [r["dynamodb"]["SequenceNumber"] for r in at] == seqs[2:]
    after = read_all(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=seqs[2])
    assert [r["dynamodb"]["SequenceNumber"] for r in after] == seqs[3:]
    assert read_all(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=seqs[-1]) == []
    # Pages of two follow NextShardIterator; an iterator can be read again.
    it = iterator(streams, arn)
    first = streams.get_records(ShardIterator=it, Limit=2)
    assert [r["dynamodb"]["SequenceNumber"] for r in first["Records"]] == seqs[:2]
    assert streams.get_records(ShardIterator=it, Limit=2)["Records"] == first["Records"]
    second = streams.get_records(ShardIterator=first["NextShardIterator"], Limit=2)
    assert [r["dynamodb"]["SequenceNumber"] for r in second["Records"]] == seqs[2:4]
    assert first["NextShardIterator"].startswith(arn + "|")


def test_list_and_describe_streams(ddb, streams):
    for name in ["alpha", "beta", "gamma"]:
        make_table(ddb, name, view="NEW_IMAGE", range_key=name == "beta")
    make_table(ddb, "nostream", view=None)
    listed = streams.list_streams()["Streams"]
    assert [s["TableName"] for s in listed] == ["alpha", "beta", "gamma"]
    table = ddb.describe_table(TableName="beta")["Table"]
    assert listed[1] == {"StreamArn": table["LatestStreamArn"], "TableName": "beta",
                         "StreamLabel": table["LatestStreamLabel"]}
    page = streams.list_streams(Limit=2)
    assert [s["TableName"] for s in page["Streams"]] == ["alpha", "beta"]
    assert page["LastEvaluatedStreamArn"] == listed[1]["StreamArn"]
    rest = streams.list_streams(ExclusiveStartStreamArn=page["LastEvaluatedStreamArn"])
    assert [s["TableName"] for s in rest["Streams"]] == ["gamma"] and "LastEvaluatedStreamArn" not in rest
    assert streams.list_streams(TableName="beta")["Streams"] == [listed[1]]
    assert streams.list_streams(TableName="nostream")["Streams"] == []
    desc = streams.describe_stream(StreamArn=listed[1]["StreamArn"])["StreamDescription"]
    assert desc["StreamArn"] == listed[1]["StreamArn"] and desc["StreamLabel"] == listed[1]["StreamLabel"]
    assert desc["StreamStatus"] == "ENABLED" and desc["StreamViewType"] == "NEW_IMAGE"
    assert desc["TableName"] == "beta"
    assert desc["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert abs(desc["CreationRequestDateTime"].timestamp() - time.time()) < 3600
    [shard] = desc["Shards"]
    assert shard["ShardId"].startswith("shardId-") and 28 <= len(shard["ShardId"]) <= 65
    millis, tail = shard["ShardId"][len("shardId-"):].split("-")
    assert len(millis) == 20 and millis.isdigit() and len(tail) == 8
    assert set(shard["SequenceNumberRange"]) == {"StartingSequenceNumber"}  # open
    assert "LastEvaluatedShardId" not in desc
    after = streams.describe_stream(StreamArn=desc["StreamArn"], ExclusiveStartShardId=shard["ShardId"])
    assert after["StreamDescription"]["Shards"] == []
    children = streams.describe_stream(StreamArn=desc["StreamArn"],
                                       ShardFilter={"Type": "CHILD_SHARDS", "ShardId": shard["ShardId"]})
    assert children["StreamDescription"]["Shards"] == []


def test_cli(server, ddb):
    arn = make_table(ddb, "clistream", view="NEW_AND_OLD_IMAGES")["LatestStreamArn"]
    ddb.put_item(TableName="clistream", Item={"pk": {"S": "a"}, "v": {"B": b"\x00\x01"}})
    _, listed, _ = server.cli("dynamodbstreams", "list-streams", "--table-name", "clistream")
    assert listed["Streams"][0]["StreamArn"] == arn
    _, desc, _ = server.cli("dynamodbstreams", "describe-stream", "--stream-arn", arn)
    shard = desc["StreamDescription"]["Shards"][0]["ShardId"]
    _, it, _ = server.cli("dynamodbstreams", "get-shard-iterator", "--stream-arn", arn, "--shard-id", shard,
                          "--shard-iterator-type", "TRIM_HORIZON")
    _, page, _ = server.cli("dynamodbstreams", "get-records", "--shard-iterator", it["ShardIterator"])
    [record] = page["Records"]
    assert record["eventName"] == "INSERT"
    assert record["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"B": base64.b64encode(b"\x00\x01").decode()}}
    code, _, err = server.cli("dynamodbstreams", "describe-stream", "--stream-arn", arn + "0", check=False)
    assert code != 0 and "ResourceNotFoundException" in err


# --- errors ---------------------------------------------------------------------------


def test_errors(server, ddb, streams):
    arn = make_table(ddb, "errs")["LatestStreamArn"]
    shard = shard_of(streams, arn)
    missing = arn.replace("table/errs/", "table/nosuch/")
    code, message, r = error_of(lambda: streams.describe_stream(StreamArn=missing))
    assert (code, message) == ("ResourceNotFoundException", f"Requested resource not found: Stream: {missing} not found")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
    code, message, _ = error_of(lambda: streams.get_shard_iterator(
        StreamArn=missing, ShardId=shard, ShardIteratorType="LATEST"))
    assert code == "ResourceNotFoundException"
    code, message, _ = error_of(lambda: streams.get_shard_iterator(
        StreamArn=arn, ShardId="shardId-00000000000000000000-00000000", ShardIteratorType="LATEST"))
    assert (code, message) == ("ResourceNotFoundException", "Requested resource not found: Shard does not exist")
    code, message, _ = error_of(lambda: streams.list_streams(TableName="nosuch"))
    assert (code, message) == ("ResourceNotFoundException", "Requested resource not found: Table: nosuch not found")
    code, message, _ = error_of(lambda: streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER"))
    assert (code, message) == ("ValidationException", "SequenceNumber must be provided when ShardIteratorType is AT_SEQUENCE_NUMBER")
    code, _, _ = error_of(lambda: streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber="999999999999999999999999"))
    assert code == "ValidationException"
    code, message, _ = error_of(lambda: streams.get_records(ShardIterator="garbage"))
    assert (code, message) == ("ValidationException", "Invalid ShardIterator")
    unchecked = server.client("dynamodbstreams", parameter_validation=False)  # boto3 would refuse these itself
    code, message, _ = error_of(lambda: unchecked.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="OLDEST"))
    assert (code, message) == ("ValidationException", "1 validation error detected: Value 'OLDEST' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER]")
    it = iterator(streams, arn)
    code, message, _ = error_of(lambda: unchecked.get_records(ShardIterator=it, Limit=1001))
    assert (code, message) == ("ValidationException", "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000")
    code, message, _ = error_of(lambda: unchecked.get_records(ShardIterator=it, Limit=0))
    assert message.endswith("Member must have value greater than or equal to 1")
    code, message, _ = error_of(lambda: unchecked.describe_stream(StreamArn="arn:aws:dynamodb"))
    assert (code, message) == ("ValidationException", "1 validation error detected: Value 'arn:aws:dynamodb' at 'streamArn' failed to satisfy constraint: Member must have length greater than or equal to 37")
    code, message, _ = error_of(lambda: unchecked.get_shard_iterator(StreamArn=arn, ShardId="shardId-1", ShardIteratorType="LATEST"))
    assert (code, message) == ("ValidationException", "1 validation error detected: Value 'shardId-1' at 'shardId' failed to satisfy constraint: Member must have length greater than or equal to 28")
    code, message, _ = error_of(lambda: unchecked.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber="12"))
    assert message.startswith("1 validation error detected: Value '12' at 'sequenceNumber' failed to satisfy constraint")
    code, message, _ = error_of(lambda: unchecked.get_records())
    assert (code, message) == ("ValidationException", "1 validation error detected: Value null at 'shardIterator' failed to satisfy constraint: Member must not be null")
    # An iterator older than 15 minutes: the same stream and position, issued long ago.
    stale = arn + "|1|" + base64.b64encode(f"0/{int(time.time() * 1000) - 16 * 60 * 1000}".encode()).decode()
    code, message, _ = error_of(lambda: streams.get_records(ShardIterator=stale))
    assert code == "ExpiredIteratorException" and message.startswith("Iterator expired. The iterator was created at time ")
    assert message.endswith("which is further in the future than the tolerated delay of 900000 milliseconds.")


# --- stream lifecycle -----------------------------------------------------------------


def test_disabled_and_reenabled_streams(ddb, streams):
    first = make_table(ddb, "cycle", view="KEYS_ONLY")["LatestStreamArn"]
    ddb.put_item(TableName="cycle", Item={"pk": {"S": "a"}})
    ddb.update_table(TableName="cycle", StreamSpecification={"StreamEnabled": False})
    ddb.put_item(TableName="cycle", Item={"pk": {"S": "unrecorded"}})
    table = ddb.describe_table(TableName="cycle")["Table"]
    assert table["LatestStreamArn"] == first and "StreamSpecification" not in table
    desc = streams.describe_stream(StreamArn=first)["StreamDescription"]
    assert desc["StreamStatus"] == "DISABLED"
    assert desc["Shards"][0]["SequenceNumberRange"]["EndingSequenceNumber"] >= desc["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"]
    # Still readable; the closed shard ends the iteration.
    page = streams.get_records(ShardIterator=iterator(streams, first))
    assert events(page["Records"]) == [("INSERT", "a")] and "NextShardIterator" not in page
    second = ddb.update_table(TableName="cycle", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    second = second["TableDescription"]["LatestStreamArn"]
    assert second != first
    ddb.put_item(TableName="cycle", Item={"pk": {"S": "b"}})
    assert [s["StreamArn"] for s in streams.list_streams(TableName="cycle")["Streams"]] == [first, second]
    assert events(read_all(streams, second)) == [("INSERT", "b")]
    assert events(read_all(streams, first)) == [("INSERT", "a")]
    assert streams.describe_stream(StreamArn=second)["StreamDescription"]["StreamStatus"] == "ENABLED"
    # A deleted table's stream stays readable, disabled.
    ddb.delete_table(TableName="cycle")
    desc = streams.describe_stream(StreamArn=second)["StreamDescription"]
    assert desc["StreamStatus"] == "DISABLED"
    assert events(read_all(streams, second)) == [("INSERT", "b")]
    assert len(streams.list_streams(TableName="cycle")["Streams"]) == 2


# --- durability -----------------------------------------------------------------------


def test_kill_9_keeps_every_acknowledged_write_and_its_record(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    arn = make_table(first.client("dynamodb"), "durable", view="NEW_IMAGE")["LatestStreamArn"]

    def write(client, w, i):
        client.put_item(TableName="durable", Item={"pk": {"S": f"w{w}-{i}"}, "n": {"N": str(i)}})
        return f"w{w}-{i}"

    acknowledged = kill_9_during_writes(first, "dynamodb", write, enough=200)
    second = start_brume(data_dir=str(tmp_path))
    ddb, streams = second.client("dynamodb"), second.client("dynamodbstreams")
    records = read_all(streams, arn, limit=1000)
    recorded = [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]
    assert set(acknowledged) <= set(recorded)
    assert len(recorded) == len(set(recorded))
    # Every record's item is there and every item has its record: one transaction each.
    stored = set()
    for page in ddb.get_paginator("scan").paginate(TableName="durable"):
        stored |= {i["pk"]["S"] for i in page["Items"]}
    assert stored == set(recorded)
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Numbering carries on after the restart.
    ddb.put_item(TableName="durable", Item={"pk": {"S": "after"}})
    [late] = streams.get_records(ShardIterator=iterator(streams, arn, "AFTER_SEQUENCE_NUMBER",
                                                         SequenceNumber=records[-1]["dynamodb"]["SequenceNumber"]))["Records"]
    assert int(late["dynamodb"]["SequenceNumber"]) > seqs[-1]
