"""DynamoDB global tables (version 2019.11.21) through boto3 (client and resource APIs) and
the AWS CLI: replicas made and removed with UpdateTable's ReplicaUpdates, every write path
replicated to every replica and recorded in each replica's stream, the settings replicas
share and those each keeps for itself, DeleteTable of one replica, errors, and replicas
surviving kill -9."""
import json
import time
import urllib.request
from decimal import Decimal

import boto3
import pytest

from test_dynamodb import error_of

VERSION = "2019.11.21"
ACCOUNT = "000000000000"
# Distinctive parts of the ValidationException messages of ReplicaUpdates.
LOCAL_REGION = "Cannot add, delete, or update the local region through ReplicaUpdates"
ALREADY_THERE = "because one or more replicas already existed as tables"
NOT_A_REGION = "not a valid"
NOT_A_REPLICA = "not part of the global table"


@pytest.fixture
def us(server):
    return server.client("dynamodb", region="us-east-1")


@pytest.fixture
def eu(server):
    return server.client("dynamodb", region="eu-west-1")


@pytest.fixture
def ap(server):
    return server.client("dynamodb", region="ap-southeast-2")


def region_of(table):
    return table["TableArn"].split(":")[3]


def assert_global(table, *regions):
    """`table` (DescribeTable's Table, or a TableDescription) is one replica of a global
    table whose replicas are in `regions` (its own region among them); with no other region
    it is not a global table. Replicas lists every replica, the table's own region among
    them: this is the one place to change should that change."""
    own = region_of(table)
    assert own in regions
    if set(regions) == {own}:
        assert "Replicas" not in table and "GlobalTableVersion" not in table, table
        return
    assert table["GlobalTableVersion"] == VERSION
    assert {r["RegionName"] for r in table["Replicas"]} == set(regions)
    assert len(table["Replicas"]) == len(set(regions))
    assert all(r["ReplicaStatus"] == "ACTIVE" for r in table["Replicas"])


def describe(ddb, name):
    return ddb.describe_table(TableName=name)["Table"]


def billing(table):
    # DescribeTable may leave BillingModeSummary out for provisioned tables.
    return table.get("BillingModeSummary", {"BillingMode": "PROVISIONED"})["BillingMode"]


def create(ddb, name, range_key=True, billing="PAY_PER_REQUEST", more_attributes=(), **extra):
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_key:
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
    attrs += list(more_attributes)
    if billing == "PROVISIONED":
        extra.setdefault("ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    return ddb.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=schema, BillingMode=billing,
                            **extra)["TableDescription"]


def add_replica(ddb, name, region, **spec):
    return ddb.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": region, **spec}}])[
        "TableDescription"]


def remove_replica(ddb, name, region):
    return ddb.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": region}}])["TableDescription"]


def item(pk, sk=1, **attrs):
    out = {"pk": {"S": pk}, "sk": {"N": str(sk)}}
    for k, v in attrs.items():
        out[k] = {"N": str(v)} if isinstance(v, int) else {"S": v}
    return out


def get(ddb, name, pk, sk=1):
    return ddb.get_item(TableName=name, Key={"pk": {"S": pk}, "sk": {"N": str(sk)}}, ConsistentRead=True).get("Item")


def scan_all(ddb, name):
    items, kwargs = [], {}
    while True:
        page = ddb.scan(TableName=name, ConsistentRead=True, **kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["pk"]["S"], int(i.get("sk", {"N": "0"})["N"])))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def fill(ddb, name, count):
    for first in range(0, count, 25):
        ddb.batch_write_item(RequestItems={name: [
            {"PutRequest": {"Item": item(f"p{i % 5}", i, g=f"g{i % 3}", n=i)}}
            for i in range(first, min(first + 25, count))]})


def by_g_counts(ddb, name):
    return [ddb.query(TableName=name, IndexName="by-g", KeyConditionExpression="g = :g", Select="COUNT",
                      ExpressionAttributeValues={":g": {"S": f"g{n}"}})["Count"] for n in range(3)]


def sweep(server, job):
    req = urllib.request.Request(server.endpoint + f"/_brume/jobs/{job}", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["removed"]


def stream_records(streams, table_name):
    """Every record of the table's one stream, from TRIM_HORIZON, found the way a consumer
    finds it: ListStreams, DescribeStream, GetShardIterator, GetRecords."""
    listed = streams.list_streams(TableName=table_name)["Streams"]
    assert len(listed) == 1 and listed[0]["TableName"] == table_name
    arn = listed[0]["StreamArn"]
    desc = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert desc["StreamViewType"] == "NEW_AND_OLD_IMAGES" and desc["TableName"] == table_name
    records = []
    for shard in desc["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = streams.get_records(ShardIterator=it)
            records += page["Records"]
            it = page.get("NextShardIterator")
            if not page["Records"]:
                break
    return arn, records


def of_key(records, pk):
    return [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"] == pk]


# --- making a replica --------------------------------------------------------------------


def test_a_replica_copies_the_table_its_indexes_settings_and_items(us, eu):
    created = create(
        us, "orders", more_attributes=[{"AttributeName": "g", "AttributeType": "S"},
                                       {"AttributeName": "n", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        LocalSecondaryIndexes=[{"IndexName": "by-n", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                                   {"AttributeName": "n", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        Tags=[{"Key": "team", "Value": "core"}])
    assert "StreamSpecification" not in created and "LatestStreamArn" not in created
    fill(us, "orders", 60)
    us.update_time_to_live(TableName="orders", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert_global(describe(us, "orders"), "us-east-1")  # not global yet

    answer = add_replica(us, "orders", "eu-west-1")
    assert answer["TableName"] == "orders"
    assert_global(answer, "us-east-1", "eu-west-1")
    # The first replica turns on a stream of new and old images.
    assert answer["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert ":us-east-1:" in answer["LatestStreamArn"]

    home, replica = describe(us, "orders"), describe(eu, "orders")
    assert_global(home, "us-east-1", "eu-west-1")
    assert_global(replica, "us-east-1", "eu-west-1")
    assert replica["TableArn"] == f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders"
    assert replica["TableStatus"] == "ACTIVE" and replica["TableId"] != home["TableId"]
    assert replica["KeySchema"] == home["KeySchema"]
    key = lambda d: d["AttributeName"]  # noqa: E731
    assert sorted(replica["AttributeDefinitions"], key=key) == sorted(home["AttributeDefinitions"], key=key)
    assert replica["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [(g["IndexName"], g["KeySchema"], g["Projection"]) for g in replica["GlobalSecondaryIndexes"]] == \
        [("by-g", [{"AttributeName": "g", "KeyType": "HASH"}], {"ProjectionType": "ALL"})]
    assert [(i["IndexName"], i["KeySchema"], i["Projection"]) for i in replica["LocalSecondaryIndexes"]] == \
        [(i["IndexName"], i["KeySchema"], i["Projection"]) for i in home["LocalSecondaryIndexes"]]
    assert replica["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert replica["LatestStreamArn"].startswith(f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders/stream/")
    assert replica["ItemCount"] == home["ItemCount"] == 60
    assert replica["TableSizeBytes"] == home["TableSizeBytes"]
    assert eu.describe_time_to_live(TableName="orders")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}

    # The items are there, and so are the index entries.
    assert scan_all(eu, "orders") == scan_all(us, "orders")
    assert by_g_counts(eu, "orders") == by_g_counts(us, "orders") == [20, 20, 20]
    lsi = eu.query(TableName="orders", IndexName="by-n", KeyConditionExpression="pk = :p AND n < :n",
                   ExpressionAttributeValues={":p": {"S": "p0"}, ":n": {"N": "30"}})["Items"]
    assert sorted(int(i["sk"]["N"]) for i in lsi) == [0, 5, 10, 15, 20, 25]

    # Tags are each replica's own: the new one starts without the table's.
    assert us.list_tags_of_resource(ResourceArn=home["TableArn"])["Tags"] == [{"Key": "team", "Value": "core"}]
    assert eu.list_tags_of_resource(ResourceArn=replica["TableArn"])["Tags"] == []


def test_a_stream_of_new_and_old_images_is_kept(us, eu):
    created = create(us, "keep", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    answer = add_replica(us, "keep", "eu-west-1")
    assert answer["LatestStreamArn"] == created["LatestStreamArn"]
    assert describe(us, "keep")["LatestStreamArn"] == created["LatestStreamArn"]
    assert_global(describe(eu, "keep"), "us-east-1", "eu-west-1")


@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE"])
def test_a_stream_of_another_view_type_stays_as_it_is(server, us, eu, view):
    # As on DynamoDB, which only turns a stream on (of new and old images) when there is none.
    created = create(us, "viewed", StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    answer = add_replica(us, "viewed", "eu-west-1")
    assert_global(answer, "us-east-1", "eu-west-1")
    table = describe(us, "viewed")
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": view}
    assert table["LatestStreamArn"] == created["LatestStreamArn"]
    assert_global(describe(eu, "viewed"), "us-east-1", "eu-west-1")
    # Replication does not depend on the images.
    eu.put_item(TableName="viewed", Item=item("k", v=1))
    assert get(us, "viewed", "k") == item("k", v=1)
    streams = server.client("dynamodbstreams", region="us-east-1")
    shard = streams.describe_stream(StreamArn=created["LatestStreamArn"])["StreamDescription"]["Shards"][0]
    it = streams.get_shard_iterator(StreamArn=created["LatestStreamArn"], ShardId=shard["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    [record] = streams.get_records(ShardIterator=it)["Records"]
    assert record["eventName"] == "INSERT" and record["dynamodb"]["StreamViewType"] == view
    assert ("NewImage" in record["dynamodb"]) == (view == "NEW_IMAGE")
    assert "OldImage" not in record["dynamodb"]
    # Nor can it be changed while the table is global.
    code, _, _ = error_of(lambda: us.update_table(TableName="viewed", StreamSpecification={"StreamEnabled": False}))
    assert code == "ValidationException"


def test_replicas_of_replicas_make_one_group(us, eu, ap):
    create(us, "trio")
    add_replica(us, "trio", "eu-west-1")
    # A replica adds the third region: every replica knows every other.
    assert_global(add_replica(eu, "trio", "ap-southeast-2"), "us-east-1", "eu-west-1", "ap-southeast-2")
    for ddb in (us, eu, ap):
        assert_global(describe(ddb, "trio"), "us-east-1", "eu-west-1", "ap-southeast-2")
    for i, writer in enumerate((us, eu, ap)):
        writer.put_item(TableName="trio", Item=item(f"from{i}"))
    for ddb in (us, eu, ap):
        assert [i["pk"]["S"] for i in scan_all(ddb, "trio")] == ["from0", "from1", "from2"]


# --- replicated writes -------------------------------------------------------------------


def test_single_item_writes_reach_the_other_replica(us, eu):
    create(us, "single")
    add_replica(us, "single", "eu-west-1")

    us.put_item(TableName="single", Item=item("a", v=1, s="first"))
    assert get(eu, "single", "a") == item("a", v=1, s="first")
    eu.update_item(TableName="single", Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
                   UpdateExpression="SET v = v + :one REMOVE s", ExpressionAttributeValues={":one": {"N": "1"}})
    assert get(us, "single", "a") == item("a", v=2)
    # UpdateItem making an item.
    us.update_item(TableName="single", Key={"pk": {"S": "b"}, "sk": {"N": "1"}},
                   UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "7"}})
    assert get(eu, "single", "b") == item("b", v=7)
    eu.delete_item(TableName="single", Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
    assert get(us, "single", "a") is None and get(eu, "single", "a") is None

    # A write whose condition fails changes no replica.
    code, _, _ = error_of(lambda: us.put_item(TableName="single", Item=item("b", v=99),
                                              ConditionExpression="attribute_not_exists(pk)"))
    assert code == "ConditionalCheckFailedException"
    assert get(eu, "single", "b") == item("b", v=7)

    # Conditions are checked against the replica written to, which holds the same item.
    eu.put_item(TableName="single", Item=item("b", v=8), ConditionExpression="v = :v",
                ExpressionAttributeValues={":v": {"N": "7"}})
    assert get(us, "single", "b") == item("b", v=8)
    assert scan_all(us, "single") == scan_all(eu, "single") == [item("b", v=8)]
    assert describe(us, "single")["ItemCount"] == describe(eu, "single")["ItemCount"] == 1


def test_batches_and_transactions_reach_the_other_replica(us, eu):
    create(us, "batched")
    add_replica(us, "batched", "eu-west-1")

    eu.batch_write_item(RequestItems={"batched": [{"PutRequest": {"Item": item(f"b{i}", i)}} for i in range(10)]})
    assert scan_all(us, "batched") == [item(f"b{i}", i) for i in range(10)]
    us.batch_write_item(RequestItems={"batched": [
        {"DeleteRequest": {"Key": {"pk": {"S": "b0"}, "sk": {"N": "0"}}}},
        {"PutRequest": {"Item": item("b1", 1, v=11)}}]})
    assert scan_all(eu, "batched") == [item("b1", 1, v=11)] + [item(f"b{i}", i) for i in range(2, 10)]

    us.transact_write_items(TransactItems=[
        {"Put": {"TableName": "batched", "Item": item("t1", v=1)}},
        {"Update": {"TableName": "batched", "Key": {"pk": {"S": "b2"}, "sk": {"N": "2"}},
                    "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"N": "22"}}}},
        {"Delete": {"TableName": "batched", "Key": {"pk": {"S": "b3"}, "sk": {"N": "3"}}}},
        {"ConditionCheck": {"TableName": "batched", "Key": {"pk": {"S": "b4"}, "sk": {"N": "4"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
    ])
    assert get(eu, "batched", "t1") == item("t1", v=1)
    assert get(eu, "batched", "b2", 2) == item("b2", 2, v=22)
    assert get(eu, "batched", "b3", 3) is None

    # A cancelled transaction changes no replica.
    code, _, _ = error_of(lambda: eu.transact_write_items(TransactItems=[
        {"Put": {"TableName": "batched", "Item": item("t2", v=2)}},
        {"ConditionCheck": {"TableName": "batched", "Key": {"pk": {"S": "b3"}, "sk": {"N": "3"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
    ]))
    assert code == "TransactionCanceledException"
    assert get(us, "batched", "t2") is None and get(eu, "batched", "t2") is None

    eu.transact_write_items(TransactItems=[{"Put": {"TableName": "batched", "Item": item("t3", v=3)}}])
    assert get(us, "batched", "t3") == item("t3", v=3)
    assert scan_all(us, "batched") == scan_all(eu, "batched")
    assert len(scan_all(us, "batched")) == 10


def test_partiql_writes_reach_the_other_replica(us, eu):
    create(us, "parti")
    add_replica(us, "parti", "eu-west-1")

    eu.execute_statement(Statement="INSERT INTO parti VALUE {'pk': 'q', 'sk': 1, 'v': 1}")
    assert get(us, "parti", "q") == item("q", v=1)
    us.execute_statement(Statement="UPDATE parti SET v = 2 WHERE pk = 'q' AND sk = 1")
    assert get(eu, "parti", "q") == item("q", v=2)
    us.batch_execute_statement(Statements=[
        {"Statement": "INSERT INTO parti VALUE {'pk': 'r', 'sk': 1}"},
        {"Statement": "INSERT INTO parti VALUE {'pk': 's', 'sk': 1}"}])
    assert get(eu, "parti", "r") == item("r") and get(eu, "parti", "s") == item("s")
    eu.execute_transaction(TransactStatements=[
        {"Statement": "DELETE FROM parti WHERE pk = 'r' AND sk = 1"},
        {"Statement": "UPDATE parti SET v = 3 WHERE pk = 's' AND sk = 1"}])
    assert get(us, "parti", "r") is None and get(us, "parti", "s") == item("s", v=3)
    eu.execute_statement(Statement="DELETE FROM parti WHERE pk = 'q' AND sk = 1")
    assert scan_all(us, "parti") == scan_all(eu, "parti") == [item("s", v=3)]


def test_ttl_deletions_reach_every_replica(server, us, eu):
    create(us, "expiring")
    us.update_time_to_live(TableName="expiring", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    add_replica(us, "expiring", "eu-west-1")
    now = int(time.time())
    eu.put_item(TableName="expiring", Item=item("gone", exp=now - 10))
    us.put_item(TableName="expiring", Item=item("kept", exp=now + 3600))
    assert get(us, "expiring", "gone") is not None

    assert sweep(server, "dynamodb-ttl") >= 1
    for ddb in (us, eu):
        assert get(ddb, "expiring", "gone") is None
        assert scan_all(ddb, "expiring") == [item("kept", exp=now + 3600)]
    # The item was deleted once: each replica's stream has one REMOVE of it. The region whose
    # sweep deleted it names the service; the replicated deletion names no one.
    identities = []
    for region in ("us-east-1", "eu-west-1"):
        _, records = stream_records(server.client("dynamodbstreams", region=region), "expiring")
        assert [r["eventName"] for r in of_key(records, "gone")] == ["INSERT", "REMOVE"]
        assert of_key(records, "gone")[1]["dynamodb"]["OldImage"] == item("gone", exp=now - 10)
        identities.append(of_key(records, "gone")[1].get("userIdentity"))
    assert sorted(identities, key=bool) == [None, {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}]


# --- streams -----------------------------------------------------------------------------


def test_each_replica_stream_records_every_write(server, us, eu):
    create(us, "streamed")
    us.put_item(TableName="streamed", Item=item("before"))
    add_replica(us, "streamed", "eu-west-1")

    eu.put_item(TableName="streamed", Item=item("x", v=1))
    us.update_item(TableName="streamed", Key={"pk": {"S": "x"}, "sk": {"N": "1"}},
                   UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "2"}})
    eu.delete_item(TableName="streamed", Key={"pk": {"S": "x"}, "sk": {"N": "1"}})

    us_arn, us_records = stream_records(server.client("dynamodbstreams", region="us-east-1"), "streamed")
    eu_arn, eu_records = stream_records(server.client("dynamodbstreams", region="eu-west-1"), "streamed")
    assert us_arn == describe(us, "streamed")["LatestStreamArn"] and ":us-east-1:" in us_arn
    assert eu_arn == describe(eu, "streamed")["LatestStreamArn"] and ":eu-west-1:" in eu_arn

    for region, arn, records in (("us-east-1", us_arn, us_records), ("eu-west-1", eu_arn, eu_records)):
        mine = of_key(records, "x")
        assert [r["eventName"] for r in mine] == ["INSERT", "MODIFY", "REMOVE"], region
        insert, modify, remove = mine
        assert insert["dynamodb"]["NewImage"] == item("x", v=1) and "OldImage" not in insert["dynamodb"]
        assert insert["dynamodb"]["Keys"] == {"pk": {"S": "x"}, "sk": {"N": "1"}}
        assert insert["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert modify["dynamodb"]["OldImage"] == item("x", v=1) and modify["dynamodb"]["NewImage"] == item("x", v=2)
        assert remove["dynamodb"]["OldImage"] == item("x", v=2) and "NewImage" not in remove["dynamodb"]
        assert all(r["awsRegion"] == region and r["eventSource"] == "aws:dynamodb" for r in mine)
        seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in mine]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
    # The items copied when the replica was made are not changes of the new replica's stream.
    assert of_key(eu_records, "before") == []


# --- settings ----------------------------------------------------------------------------


def test_billing_stays_on_demand_and_its_limits_are_shared(us, eu):
    create(us, "capacity")
    add_replica(us, "capacity", "eu-west-1")

    # Provisioned write capacity needs auto scaling on a global table, which Brume has not:
    # neither replica can switch to it.
    for ddb in (us, eu):
        code, message, _ = error_of(lambda: ddb.update_table(
            TableName="capacity", BillingMode="PROVISIONED",
            ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7}))
        assert code == "ValidationException" and "Pay-Per-Request or AutoScaled" in message, message
    for ddb in (us, eu):
        table = describe(ddb, "capacity")
        assert billing(table) == "PAY_PER_REQUEST"
        assert_global(table, "us-east-1", "eu-west-1")

    # Request-unit limits, set through either replica.
    limits = {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 50}
    eu.update_table(TableName="capacity", BillingMode="PAY_PER_REQUEST", OnDemandThroughput=limits)
    for ddb in (us, eu):
        assert describe(ddb, "capacity")["OnDemandThroughput"] == limits
    us.update_table(TableName="capacity", OnDemandThroughput={"MaxReadRequestUnits": 200, "MaxWriteRequestUnits": 60})
    assert describe(eu, "capacity")["OnDemandThroughput"] == {"MaxReadRequestUnits": 200, "MaxWriteRequestUnits": 60}


def test_indexes_are_added_and_deleted_in_every_replica(us, eu):
    create(us, "indexed")
    add_replica(us, "indexed", "eu-west-1")
    fill(us, "indexed", 45)

    eu.update_table(TableName="indexed", AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
                    GlobalSecondaryIndexUpdates=[{"Create": {
                        "IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"}}}])
    home = describe(us, "indexed")
    assert [g["IndexName"] for g in home["GlobalSecondaryIndexes"]] == ["by-g"]
    assert home["GlobalSecondaryIndexes"][0]["KeySchema"] == [{"AttributeName": "g", "KeyType": "HASH"}]
    # Backfilled in both, and kept up to date by writes in either.
    assert by_g_counts(us, "indexed") == by_g_counts(eu, "indexed") == [15, 15, 15]
    us.put_item(TableName="indexed", Item=item("late", 100, g="g0"))
    assert by_g_counts(eu, "indexed") == [16, 15, 15]
    eu.put_item(TableName="indexed", Item=item("later", 101, g="g1"))
    assert by_g_counts(us, "indexed") == [16, 16, 15]

    us.update_table(TableName="indexed", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-g"}}])
    assert "GlobalSecondaryIndexes" not in describe(eu, "indexed")
    code, _, _ = error_of(lambda: by_g_counts(eu, "indexed"))
    assert code == "ValidationException"
    assert len(scan_all(eu, "indexed")) == 47


def test_ttl_and_encryption_are_shared(us, eu):
    create(us, "shared")
    add_replica(us, "shared", "eu-west-1")

    eu.update_time_to_live(TableName="shared", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert us.describe_time_to_live(TableName="shared")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    us.update_time_to_live(TableName="shared", TimeToLiveSpecification={"Enabled": False, "AttributeName": "exp"})
    assert eu.describe_time_to_live(TableName="shared")["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"

    us.update_table(TableName="shared", SSESpecification={"Enabled": True, "SSEType": "KMS"})
    for region, ddb in (("us-east-1", us), ("eu-west-1", eu)):
        sse = describe(ddb, "shared")["SSEDescription"]
        assert sse["Status"] == "ENABLED" and sse["SSEType"] == "KMS"
        # Each replica is encrypted with a key of its own region.
        assert sse["KMSMasterKeyArn"].startswith(f"arn:aws:kms:{region}:{ACCOUNT}:key/"), (region, sse)
    us_key = describe(us, "shared")["SSEDescription"]["KMSMasterKeyArn"]
    # A replica's own key is one of its settings.
    us.update_table(TableName="shared", ReplicaUpdates=[
        {"Update": {"RegionName": "eu-west-1", "KMSMasterKeyId": "eu-own-key"}}])
    assert describe(eu, "shared")["SSEDescription"]["KMSMasterKeyArn"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/eu-own-key"
    assert describe(us, "shared")["SSEDescription"]["KMSMasterKeyArn"] == us_key


def test_table_class_tags_deletion_protection_and_pitr_are_each_replicas(us, eu):
    create(us, "own")
    add_replica(us, "own", "eu-west-1", TableClassOverride="STANDARD_INFREQUENT_ACCESS")
    home, replica = describe(us, "own"), describe(eu, "own")
    assert replica["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert home.get("TableClassSummary", {"TableClass": "STANDARD"})["TableClass"] == "STANDARD"

    # Table class, through an override and through the table's own UpdateTable.
    us.update_table(TableName="own", ReplicaUpdates=[
        {"Update": {"RegionName": "eu-west-1", "TableClassOverride": "STANDARD"}}])
    assert describe(eu, "own")["TableClassSummary"]["TableClass"] == "STANDARD"
    us.update_table(TableName="own", TableClass="STANDARD_INFREQUENT_ACCESS")
    assert describe(us, "own")["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert describe(eu, "own")["TableClassSummary"]["TableClass"] == "STANDARD"

    # Tags.
    us_arn, eu_arn = home["TableArn"], replica["TableArn"]
    us.tag_resource(ResourceArn=us_arn, Tags=[{"Key": "site", "Value": "virginia"}])
    eu.tag_resource(ResourceArn=eu_arn, Tags=[{"Key": "site", "Value": "ireland"}, {"Key": "gdpr", "Value": "yes"}])
    assert us.list_tags_of_resource(ResourceArn=us_arn)["Tags"] == [{"Key": "site", "Value": "virginia"}]
    assert sorted(eu.list_tags_of_resource(ResourceArn=eu_arn)["Tags"], key=lambda t: t["Key"]) == [
        {"Key": "gdpr", "Value": "yes"}, {"Key": "site", "Value": "ireland"}]
    eu.untag_resource(ResourceArn=eu_arn, TagKeys=["site"])
    assert us.list_tags_of_resource(ResourceArn=us_arn)["Tags"] == [{"Key": "site", "Value": "virginia"}]

    # Point-in-time recovery.
    us.update_continuous_backups(TableName="own",
                                 PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    pitr = lambda ddb: ddb.describe_continuous_backups(TableName="own")[  # noqa: E731
        "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    assert pitr(us) == "ENABLED" and pitr(eu) == "DISABLED"

    # Deletion protection.
    eu.update_table(TableName="own", DeletionProtectionEnabled=True)
    assert describe(eu, "own")["DeletionProtectionEnabled"] is True
    assert describe(us, "own")["DeletionProtectionEnabled"] is False
    code, _, _ = error_of(lambda: eu.delete_table(TableName="own"))
    assert code == "ValidationException"
    code, message, _ = error_of(lambda: us.update_table(TableName="own", ReplicaUpdates=[
        {"Delete": {"RegionName": "eu-west-1"}}]))
    assert code == "ValidationException" and "protected against deletion" in message
    assert_global(describe(eu, "own"), "us-east-1", "eu-west-1")
    eu.update_table(TableName="own", DeletionProtectionEnabled=False)
    eu.delete_table(TableName="own")
    assert_global(describe(us, "own"), "us-east-1")


# --- removing replicas -------------------------------------------------------------------


def test_deleting_replicas_until_none_is_left(us, eu, ap):
    create(us, "shrink")
    add_replica(us, "shrink", "eu-west-1")
    add_replica(us, "shrink", "ap-southeast-2")
    us.put_item(TableName="shrink", Item=item("a"))

    # From a replica, of another replica.
    answer = remove_replica(eu, "shrink", "ap-southeast-2")
    assert_global(answer, "us-east-1", "eu-west-1")
    assert error_of(lambda: describe(ap, "shrink"))[0] == "ResourceNotFoundException"
    assert "shrink" not in ap.list_tables()["TableNames"]
    assert_global(describe(us, "shrink"), "us-east-1", "eu-west-1")
    assert_global(describe(eu, "shrink"), "us-east-1", "eu-west-1")

    # The name is free in ap-southeast-2 again, for a table of its own that nothing replicates to.
    create(ap, "shrink")
    assert_global(describe(ap, "shrink"), "ap-southeast-2")
    assert scan_all(ap, "shrink") == []
    eu.put_item(TableName="shrink", Item=item("b"))
    assert get(us, "shrink", "b") == item("b") and get(ap, "shrink", "b") is None
    ap.put_item(TableName="shrink", Item=item("own"))
    assert get(us, "shrink", "own") is None and get(eu, "shrink", "own") is None

    # The last one: what is left is a table of one region again.
    answer = remove_replica(us, "shrink", "eu-west-1")
    assert_global(answer, "us-east-1")
    assert error_of(lambda: describe(eu, "shrink"))[0] == "ResourceNotFoundException"
    table = describe(us, "shrink")
    assert_global(table, "us-east-1")
    # The stream the first replica turned on stays, and can now be turned off.
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert scan_all(us, "shrink") == [item("a"), item("b")]
    us.put_item(TableName="shrink", Item=item("c"))
    assert get(us, "shrink", "c") == item("c")
    assert get(ap, "shrink", "c") is None and error_of(lambda: get(eu, "shrink", "c"))[0] == "ResourceNotFoundException"
    us.update_table(TableName="shrink", StreamSpecification={"StreamEnabled": False})
    assert "StreamSpecification" not in describe(us, "shrink")


def test_delete_table_deletes_only_that_replica(us, eu, ap):
    create(us, "parts")
    add_replica(us, "parts", "eu-west-1")
    add_replica(us, "parts", "ap-southeast-2")
    eu.put_item(TableName="parts", Item=item("a"))

    deleted = eu.delete_table(TableName="parts")["TableDescription"]
    assert deleted["TableName"] == "parts" and region_of(deleted) == "eu-west-1"
    assert error_of(lambda: describe(eu, "parts"))[0] == "ResourceNotFoundException"
    assert_global(describe(us, "parts"), "us-east-1", "ap-southeast-2")
    assert_global(describe(ap, "parts"), "us-east-1", "ap-southeast-2")
    us.put_item(TableName="parts", Item=item("b"))
    assert scan_all(ap, "parts") == [item("a"), item("b")]

    # As on DynamoDB, the replica new ones were made from cannot be deleted for a day.
    code, message, _ = error_of(lambda: us.delete_table(TableName="parts"))
    assert code == "ValidationException" and "acted as a source region" in message
    assert_global(describe(us, "parts"), "us-east-1", "ap-southeast-2")
    code, message, _ = error_of(lambda: ap.update_table(TableName="parts", ReplicaUpdates=[
        {"Delete": {"RegionName": "us-east-1"}}]))
    assert code == "ValidationException" and "acted as a source region" in message

    ap.delete_table(TableName="parts")
    assert error_of(lambda: describe(ap, "parts"))[0] == "ResourceNotFoundException"
    assert_global(describe(us, "parts"), "us-east-1")
    assert scan_all(us, "parts") == [item("a"), item("b")]


# --- errors ------------------------------------------------------------------------------


def test_errors(us, eu):
    create(us, "errs")
    eu.create_table(TableName="taken", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    eu.put_item(TableName="taken", Item={"pk": {"S": "mine"}})
    create(us, "taken")

    def refused(ddb, name, update):
        code, message, _ = error_of(lambda: ddb.update_table(TableName=name, ReplicaUpdates=[update]))
        assert code == "ValidationException", (code, message)
        return message

    # The table's own region.
    assert LOCAL_REGION in refused(us, "errs", {"Create": {"RegionName": "us-east-1"}})
    assert LOCAL_REGION in refused(us, "errs", {"Delete": {"RegionName": "us-east-1"}})
    assert LOCAL_REGION in refused(us, "errs", {"Update": {"RegionName": "us-east-1", "TableClassOverride": "STANDARD"}})
    # Where a table of that name already is: it is left alone.
    assert ALREADY_THERE in refused(
        us, "taken", {"Create": {"RegionName": "eu-west-1"}})
    assert scan_all(eu, "taken") == [{"pk": {"S": "mine"}}]
    assert_global(describe(eu, "taken"), "eu-west-1")
    assert_global(describe(us, "taken"), "us-east-1")
    # Not a region.
    assert NOT_A_REGION in refused(us, "errs", {"Create": {"RegionName": "nowhere"}})
    # Update or Delete of a region with no replica.
    assert NOT_A_REPLICA in refused(us, "errs", {"Update": {
        "RegionName": "eu-west-1", "TableClassOverride": "STANDARD"}})
    assert NOT_A_REPLICA in refused(us, "errs", {"Delete": {"RegionName": "eu-west-1"}})
    # Provisioned write capacity without auto scaling, as on DynamoDB.
    create(us, "prov", billing="PROVISIONED")
    assert "Pay-Per-Request or AutoScaled" in refused(us, "prov", {"Create": {"RegionName": "eu-west-1"}})
    assert error_of(lambda: describe(eu, "prov"))[0] == "ResourceNotFoundException"
    # One replica action per request.
    code, _, _ = error_of(lambda: us.update_table(TableName="errs", ReplicaUpdates=[
        {"Create": {"RegionName": "eu-west-1"}}, {"Create": {"RegionName": "ap-southeast-2"}}]))
    assert code == "ValidationException"
    assert_global(describe(us, "errs"), "us-east-1")
    assert error_of(lambda: describe(eu, "errs"))[0] == "ResourceNotFoundException"

    add_replica(us, "errs", "eu-west-1")
    # Where it already is, asked from either replica.
    assert ALREADY_THERE in refused(
        us, "errs", {"Create": {"RegionName": "eu-west-1"}})
    assert ALREADY_THERE in refused(
        eu, "errs", {"Create": {"RegionName": "us-east-1"}})
    assert NOT_A_REPLICA in refused(us, "errs", {"Delete": {"RegionName": "ap-southeast-2"}})
    assert NOT_A_REPLICA in refused(eu, "errs", {"Update": {
        "RegionName": "ap-southeast-2", "TableClassOverride": "STANDARD"}})

    # The stream of a table with replicas stays on.
    for ddb in (us, eu):
        code, message, _ = error_of(lambda: ddb.update_table(TableName="errs",
                                                             StreamSpecification={"StreamEnabled": False}))
        assert code == "ValidationException" and "not allowed for a Global Table" in message, message
        assert describe(ddb, "errs")["StreamSpecification"] == {
            "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}

    code, _, _ = error_of(lambda: add_replica(us, "missing", "eu-west-1"))
    assert code == "ResourceNotFoundException"
    code, _, _ = error_of(lambda: remove_replica(us, "missing", "eu-west-1"))
    assert code == "ResourceNotFoundException"

    # After all of that, one replica in each region, still linked.
    assert_global(describe(us, "errs"), "us-east-1", "eu-west-1")
    assert_global(describe(eu, "errs"), "us-east-1", "eu-west-1")
    us.put_item(TableName="errs", Item=item("after"))
    assert get(eu, "errs", "after") == item("after")


# --- other clients -----------------------------------------------------------------------


def described(table):
    """What DescribeTable said of a boto3 resource Table, as assert_global reads it."""
    out = {"TableArn": table.table_arn}
    if table.global_table_version is not None:
        out["GlobalTableVersion"] = table.global_table_version
    if table.replicas is not None:
        out["Replicas"] = table.replicas
    return out


def test_resource_api(server):
    def resource(region):
        return boto3.resource("dynamodb", endpoint_url=server.endpoint, region_name=region,
                              aws_access_key_id="test", aws_secret_access_key="test")

    home = resource("us-east-1").create_table(
        TableName="people", AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    home.wait_until_exists()
    home.update(ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
    assert_global(described(home), "us-east-1", "eu-west-1")
    assert home.stream_specification == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}

    replica = resource("eu-west-1").Table("people")
    replica.load()
    assert replica.table_arn == f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/people"
    assert_global(described(replica), "us-east-1", "eu-west-1")

    with replica.batch_writer() as batch:
        for i in range(30):
            batch.put_item(Item={"id": f"u{i:02}", "age": i, "tags": {"a", "b"}})
    assert home.get_item(Key={"id": "u07"}, ConsistentRead=True)["Item"] == {
        "id": "u07", "age": Decimal(7), "tags": {"a", "b"}}
    home.update_item(Key={"id": "u07"}, UpdateExpression="SET age = age + :one",
                     ExpressionAttributeValues={":one": 1})
    assert replica.get_item(Key={"id": "u07"}, ConsistentRead=True)["Item"]["age"] == Decimal(8)
    assert len(replica.scan(ConsistentRead=True)["Items"]) == len(home.scan(ConsistentRead=True)["Items"]) == 30

    replica.delete()
    home.reload()
    assert home.global_table_version is None and home.replicas is None
    assert_global(described(home), "us-east-1")
    assert len(home.scan(ConsistentRead=True)["Items"]) == 30


def test_cli(server, us):
    create(us, "clitab")
    us.put_item(TableName="clitab", Item=item("seed"))
    _, out, _ = server.cli("dynamodb", "update-table", "--table-name", "clitab",
                           "--replica-updates", json.dumps([{"Create": {"RegionName": "eu-west-1"}}]))
    assert_global(out["TableDescription"], "us-east-1", "eu-west-1")

    _, out, _ = server.cli("dynamodb", "describe-table", "--table-name", "clitab", "--region", "eu-west-1")
    assert out["Table"]["TableArn"] == f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/clitab"
    assert_global(out["Table"], "us-east-1", "eu-west-1")
    assert out["Table"]["ItemCount"] == 1

    server.cli("dynamodb", "put-item", "--table-name", "clitab", "--region", "eu-west-1",
               "--item", json.dumps(item("cli", v=5)))
    _, out, _ = server.cli("dynamodb", "get-item", "--table-name", "clitab", "--consistent-read",
                           "--key", json.dumps({"pk": {"S": "cli"}, "sk": {"N": "1"}}))
    assert out["Item"] == item("cli", v=5)

    code, _, err = server.cli("dynamodb", "update-table", "--table-name", "clitab", "--replica-updates",
                              json.dumps([{"Create": {"RegionName": "nowhere"}}]), check=False)
    assert code != 0 and "ValidationException" in err and "not a valid" in err

    server.cli("dynamodb", "update-table", "--table-name", "clitab", "--replica-updates",
               json.dumps([{"Delete": {"RegionName": "eu-west-1"}}]))
    code, _, err = server.cli("dynamodb", "describe-table", "--table-name", "clitab", "--region", "eu-west-1",
                              check=False)
    assert code != 0 and "ResourceNotFoundException" in err
    _, out, _ = server.cli("dynamodb", "describe-table", "--table-name", "clitab")
    assert_global(out["Table"], "us-east-1")


# --- durability --------------------------------------------------------------------------


def test_replicas_survive_kill_9(start_brume, tmp_path):
    b = start_brume(data_dir=str(tmp_path))
    us, eu = b.client("dynamodb"), b.client("dynamodb", region="eu-west-1")
    create(us, "durable")
    fill(us, "durable", 40)
    add_replica(us, "durable", "eu-west-1")
    eu.put_item(TableName="durable", Item=item("from-eu", v=1))
    us.delete_item(TableName="durable", Key={"pk": {"S": "p0"}, "sk": {"N": "0"}})
    before = scan_all(us, "durable")
    assert len(before) == 40 and scan_all(eu, "durable") == before
    b.proc.kill()
    b.proc.wait()

    b = start_brume(data_dir=str(tmp_path))
    us, eu = b.client("dynamodb"), b.client("dynamodb", region="eu-west-1")
    assert scan_all(us, "durable") == before
    assert scan_all(eu, "durable") == before
    assert_global(describe(us, "durable"), "us-east-1", "eu-west-1")
    assert_global(describe(eu, "durable"), "us-east-1", "eu-west-1")
    # Still linked, both ways.
    eu.put_item(TableName="durable", Item=item("after-eu"))
    us.put_item(TableName="durable", Item=item("after-us"))
    assert get(us, "durable", "after-eu") == item("after-eu")
    assert get(eu, "durable", "after-us") == item("after-us")
    assert scan_all(us, "durable") == scan_all(eu, "durable")
    _, records = stream_records(b.client("dynamodbstreams", region="eu-west-1"), "durable")
    assert [r["eventName"] for r in of_key(records, "after-us")] == ["INSERT"]


# --- the legacy version ------------------------------------------------------------------


def test_legacy_global_table_operations_answer_as_dynamodb_does_today(us, eu):
    # DynamoDB makes no 2017.11.29 global tables any more, and a 2019.11.21 one is not one.
    create(us, "legacy")
    create(eu, "legacy")
    code, message, _ = error_of(lambda: us.create_global_table(
        GlobalTableName="legacy", ReplicationGroup=[{"RegionName": "us-east-1"}, {"RegionName": "eu-west-1"}]))
    assert code == "ValidationException" and "2017.11.29 is not supported" in message
    eu.delete_table(TableName="legacy")
    add_replica(us, "legacy", "eu-west-1")
    assert us.list_global_tables()["GlobalTables"] == []
    for call in (lambda: us.describe_global_table(GlobalTableName="legacy"),
                 lambda: us.describe_global_table_settings(GlobalTableName="legacy"),
                 lambda: us.update_global_table(GlobalTableName="legacy",
                                                ReplicaUpdates=[{"Delete": {"RegionName": "eu-west-1"}}])):
        code, message, _ = error_of(call)
        assert (code, message) == ("GlobalTableNotFoundException", "Global table with name 'legacy' does not exist.")
    # Nothing changed: the replica is still there.
    assert_global(describe(eu, "legacy"), "us-east-1", "eu-west-1")
