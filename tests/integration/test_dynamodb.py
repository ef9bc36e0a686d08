"""DynamoDB through boto3 (client and resource APIs) and the AWS CLI: tables and indexes,
items of every type, expressions, Query/Scan, batches, transactions, concurrency and
durability."""
import base64
import concurrent.futures
import json
import time
import urllib.request
from decimal import Decimal

import boto3
import botocore.exceptions
import pytest
from boto3.dynamodb.conditions import Attr, Key

from conftest import kill_9_during_writes


@pytest.fixture
def ddb(server):
    return server.client("dynamodb")


@pytest.fixture
def resource(server):
    return boto3.resource(
        "dynamodb", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r


def make_table(ddb, name="items", hash_type="S", range_type=None, **extra):
    attrs = [{"AttributeName": "pk", "AttributeType": hash_type}]
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_type:
        attrs.append({"AttributeName": "sk", "AttributeType": range_type})
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
    attrs += extra.pop("more_attributes", [])
    return ddb.create_table(
        TableName=name, AttributeDefinitions=attrs, KeySchema=schema, BillingMode="PAY_PER_REQUEST", **extra
    )["TableDescription"]


# --- control plane ---------------------------------------------------------------------


def test_create_describe_list_delete_table(ddb):
    desc = make_table(ddb, "orders", range_type="N", Tags=[{"Key": "team", "Value": "core"}])
    assert desc["TableName"] == "orders" and desc["TableStatus"] == "ACTIVE"
    assert desc["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/orders"
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert desc["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    ddb.put_item(TableName="orders", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "hello"}})
    table = ddb.describe_table(TableName="orders")["Table"]
    assert table["ItemCount"] == 1 and table["TableSizeBytes"] == len("pk") + 1 + len("sk") + 2 + len("v") + 5
    assert ddb.list_tags_of_resource(ResourceArn=desc["TableArn"])["Tags"] == [{"Key": "team", "Value": "core"}]
    for name in ["alpha", "beta", "gamma"]:
        make_table(ddb, name)
    assert ddb.list_tables()["TableNames"] == ["alpha", "beta", "gamma", "orders"]
    page = ddb.list_tables(Limit=2)
    assert page["TableNames"] == ["alpha", "beta"] and page["LastEvaluatedTableName"] == "beta"
    rest = ddb.list_tables(ExclusiveStartTableName="beta")
    assert rest["TableNames"] == ["gamma", "orders"] and "LastEvaluatedTableName" not in rest
    assert ddb.delete_table(TableName="orders")["TableDescription"]["TableStatus"] == "DELETING"
    code, message, _ = error_of(lambda: ddb.describe_table(TableName="orders"))
    assert (code, message) == ("ResourceNotFoundException", "Requested resource not found: Table: orders not found")
    code, message, _ = error_of(lambda: ddb.get_item(TableName="orders", Key={"pk": {"S": "a"}, "sk": {"N": "1"}}))
    assert (code, message) == ("ResourceNotFoundException", "Requested resource not found")
    # A table created again under the same name starts empty.
    make_table(ddb, "orders", range_type="N")
    assert ddb.scan(TableName="orders")["Count"] == 0


def test_create_table_validation(ddb):
    make_table(ddb, "dupe")
    code, message, _ = error_of(lambda: make_table(ddb, "dupe"))
    assert (code, message) == ("ResourceInUseException", "Table already exists: dupe")
    code, message, _ = error_of(lambda: make_table(ddb, "ab"))
    assert code == "ValidationException"
    assert message == ("1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: "
                       "Member must have length greater than or equal to 3")
    code, message, _ = error_of(lambda: ddb.create_table(
        TableName="bad", AttributeDefinitions=[{"AttributeName": "x", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST"))
    assert message == ("One or more parameter values were invalid: Some index key attributes are not defined in "
                       "AttributeDefinitions. Keys: [pk], AttributeDefinitions: [x]")
    code, message, _ = error_of(lambda: make_table(ddb, "extra", more_attributes=[{"AttributeName": "z", "AttributeType": "S"}]))
    assert message == ("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly "
                       "match number of attributes defined in AttributeDefinitions")
    code, message, _ = error_of(lambda: ddb.create_table(
        TableName="prov", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}]))
    assert message == "No provisioned throughput specified for the table"
    code, message, _ = error_of(lambda: ddb.create_table(
        TableName="range", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "RANGE"}], BillingMode="PAY_PER_REQUEST"))
    assert message == "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
    code, message, _ = error_of(lambda: make_table(
        ddb, "nolsirange", LocalSecondaryIndexes=[{
            "IndexName": "lsi", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "x", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}],
        more_attributes=[{"AttributeName": "x", "AttributeType": "S"}]))
    assert message == ("One or more parameter values were invalid: Table KeySchema does not have a range key, "
                       "which is required when specifying a LocalSecondaryIndex")
    code, message, _ = error_of(lambda: make_table(ddb, "streamoff", StreamSpecification={"StreamEnabled": False, "StreamViewType": "NEW_IMAGE"}))
    assert message == ("One or more parameter values were invalid: Table is being created with a stream disabled, "
                       "UpdateViewType should not be specified")
    code, message, _ = error_of(lambda: make_table(
        ddb, "include", more_attributes=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "INCLUDE"}}]))
    assert message == "One or more parameter values were invalid: ProjectionType is INCLUDE, but NonKeyAttributes is not specified"
    code, message, _ = error_of(lambda: ddb.create_table(
        TableName="samekey", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "pk", "KeyType": "RANGE"}]))
    assert message == "Invalid KeySchema: Some index key attribute have no definition"


def test_provisioned_table_and_update_table(ddb):
    ddb.create_table(
        TableName="prov", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 3},
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        DeletionProtectionEnabled=True,
    )
    table = ddb.describe_table(TableName="prov")["Table"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["LatestStreamArn"] == f"{table['TableArn']}/stream/{table['LatestStreamLabel']}"
    code, message, _ = error_of(lambda: ddb.delete_table(TableName="prov"))
    assert code == "ValidationException" and "protected against deletion" in message
    code, message, _ = error_of(lambda: ddb.update_table(
        TableName="prov", BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 3}))
    assert message.startswith("The provisioned throughput for the table will not change. The requested value equals the current value.")
    updated = ddb.update_table(TableName="prov", BillingMode="PAY_PER_REQUEST", DeletionProtectionEnabled=False)["TableDescription"]
    assert updated["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert updated["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    code, message, _ = error_of(lambda: ddb.update_table(TableName="prov", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}))
    assert message == "Table already has an enabled stream: TableName: prov"
    ddb.update_table(TableName="prov", BillingMode="PAY_PER_REQUEST")  # the same mode again is accepted
    off = ddb.update_table(TableName="prov", StreamSpecification={"StreamEnabled": False})["TableDescription"]
    assert "StreamSpecification" not in off
    ddb.delete_table(TableName="prov")


def test_table_settings_round_trip(ddb):
    desc = make_table(ddb, "settings", SSESpecification={"Enabled": True}, TableClass="STANDARD_INFREQUENT_ACCESS",
                      OnDemandThroughput={"MaxReadRequestUnits": 10, "MaxWriteRequestUnits": 5})
    assert desc["SSEDescription"]["Status"] == "ENABLED" and desc["SSEDescription"]["SSEType"] == "KMS"
    assert desc["SSEDescription"]["KMSMasterKeyArn"].startswith("arn:aws:kms:us-east-1:000000000000:key/")
    assert desc["TableClassSummary"] == {"TableClass": "STANDARD_INFREQUENT_ACCESS"}
    assert desc["OnDemandThroughput"] == {"MaxReadRequestUnits": 10, "MaxWriteRequestUnits": 5}
    ddb.update_table(TableName="settings", OnDemandThroughput={"MaxReadRequestUnits": 20, "MaxWriteRequestUnits": 15})
    table = ddb.describe_table(TableName="settings")["Table"]
    assert table["OnDemandThroughput"] == {"MaxReadRequestUnits": 20, "MaxWriteRequestUnits": 15}
    assert table["SSEDescription"] == desc["SSEDescription"]
    assert "SSEDescription" not in make_table(ddb, "plain")


def test_tags_ttl_limits_endpoints(ddb):
    arn = make_table(ddb, "tagged")["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    code, _, _ = error_of(lambda: ddb.list_tags_of_resource(ResourceArn=arn + "x"))
    assert code == "ResourceNotFoundException"
    code, _, _ = error_of(lambda: ddb.list_tags_of_resource(ResourceArn=arn.replace("000000000000", "111111111111")))
    assert code == "AccessDeniedException"  # another account's table
    code, message, _ = error_of(lambda: ddb.tag_resource(ResourceArn="not-a-valid-arn", Tags=[{"Key": "k", "Value": "v"}]))
    assert (code, message) == ("ValidationException", "Invalid TableArn: Invalid ResourceArn provided as input not-a-valid-arn")
    assert ddb.describe_time_to_live(TableName="tagged")["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    spec = {"Enabled": True, "AttributeName": "expires"}
    assert ddb.update_time_to_live(TableName="tagged", TimeToLiveSpecification=spec)["TimeToLiveSpecification"] == spec
    assert ddb.describe_time_to_live(TableName="tagged")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    code, message, _ = error_of(lambda: ddb.update_time_to_live(TableName="tagged", TimeToLiveSpecification=spec))
    assert (code, message) == ("ValidationException", "TimeToLive is already enabled")
    backups = ddb.describe_continuous_backups(TableName="tagged")["ContinuousBackupsDescription"]
    assert backups == {"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}
    enabled = ddb.update_continuous_backups(TableName="tagged", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    pitr = enabled["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED" and pitr["RecoveryPeriodInDays"] == 35
    code, message, _ = error_of(lambda: ddb.describe_continuous_backups(TableName="nosuch"))
    assert (code, message) == ("TableNotFoundException", "Table not found: nosuch")
    assert ddb.describe_limits()["TableMaxReadCapacityUnits"] == 40000
    assert ddb.describe_endpoints()["Endpoints"][0]["Address"] == "dynamodb.us-east-1.amazonaws.com"


def test_ttl_sweep_deletes_expired_items(server, ddb):
    make_table(ddb, "expiring", more_attributes=[{"AttributeName": "g", "AttributeType": "S"}],
               GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                        "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    now = int(time.time())
    # Written before TTL is enabled: enabling it must find them.
    ddb.put_item(TableName="expiring", Item={"pk": {"S": "early"}, "exp": {"N": str(now - 60)}, "g": {"S": "all"}})
    ddb.update_time_to_live(TableName="expiring", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    items = {
        "past": {"N": str(now - 60)},
        "future": {"N": str(now + 3600)},
        "later": {"N": str(now + 3600)},
        "ancient": {"N": str(now - 6 * 365 * 24 * 3600)},  # more than five years: ignored
        "text": {"S": str(now - 60)},  # not a number: ignored
    }
    for name, exp in items.items():
        ddb.put_item(TableName="expiring", Item={"pk": {"S": name}, "exp": exp, "g": {"S": "all"}})
    ddb.put_item(TableName="expiring", Item={"pk": {"S": "none"}, "g": {"S": "all"}})
    # An update moves an item's expiry into the past.
    ddb.update_item(TableName="expiring", Key={"pk": {"S": "later"}}, UpdateExpression="SET #e = :t",
                    ExpressionAttributeNames={"#e": "exp"}, ExpressionAttributeValues={":t": {"N": str(now - 1)}})

    def sweep():
        req = urllib.request.Request(server.endpoint + "/_brume/jobs/dynamodb-ttl", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)["removed"]

    assert sweep() == 3
    assert sweep() == 0
    left = sorted(i["pk"]["S"] for i in ddb.scan(TableName="expiring")["Items"])
    assert left == ["ancient", "future", "none", "text"]
    assert ddb.query(TableName="expiring", IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "all"}})["Count"] == 4
    assert ddb.describe_table(TableName="expiring")["Table"]["ItemCount"] == 4
    # Disabled, nothing expires any more.
    ddb.update_time_to_live(TableName="expiring", TimeToLiveSpecification={"Enabled": False, "AttributeName": "exp"})
    ddb.put_item(TableName="expiring", Item={"pk": {"S": "past2"}, "exp": {"N": str(now - 60)}})
    assert sweep() == 0


def test_cli_waiter_and_items(server):
    server.cli("dynamodb", "create-table", "--table-name", "clitable",
               "--attribute-definitions", "AttributeName=id,AttributeType=S",
               "--key-schema", "AttributeName=id,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST")
    server.cli("dynamodb", "wait", "table-exists", "--table-name", "clitable")
    server.cli("dynamodb", "put-item", "--table-name", "clitable", "--item", '{"id": {"S": "1"}, "n": {"N": "42"}}')
    _, out, _ = server.cli("dynamodb", "get-item", "--table-name", "clitable", "--key", '{"id": {"S": "1"}}')
    assert out["Item"] == {"id": {"S": "1"}, "n": {"N": "42"}}
    _, out, _ = server.cli("dynamodb", "scan", "--table-name", "clitable")
    assert out["Count"] == 1
    code, _, err = server.cli("dynamodb", "get-item", "--table-name", "nosuch", "--key", '{"id": {"S": "1"}}', check=False)
    assert code != 0 and "ResourceNotFoundException" in err
    server.cli("dynamodb", "delete-table", "--table-name", "clitable")
    server.cli("dynamodb", "wait", "table-not-exists", "--table-name", "clitable")


# --- items -----------------------------------------------------------------------------


def test_every_attribute_type_round_trips(ddb, resource):
    make_table(ddb, "types")
    item = {
        "pk": {"S": "all"}, "s": {"S": "text ünïcode"}, "n": {"N": "-12.50"}, "big": {"N": "12345678901234567890123456789012345678"},
        "b": {"B": b"\x00\x01\xff"}, "t": {"BOOL": True}, "nil": {"NULL": True}, "empty": {"S": ""},
        "m": {"M": {"inner": {"L": [{"N": "1"}, {"S": "two"}, {"M": {}}]}}},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"x", b"y"]},
    }
    ddb.put_item(TableName="types", Item=item)
    got = ddb.get_item(TableName="types", Key={"pk": {"S": "all"}}, ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "-12.5"}  # normalised as DynamoDB stores it
    assert got["big"] == item["big"] and got["b"] == item["b"] and got["m"] == item["m"]
    assert sorted(got["ss"]["SS"]) == ["a", "b"] and sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert sorted(got["bs"]["BS"]) == [b"x", b"y"]
    table = resource.Table("types")
    table.put_item(Item={"pk": "res", "price": Decimal("19.99"), "tags": {"x", "y"}, "doc": {"list": [1, "a", None, True]}})
    got = table.get_item(Key={"pk": "res"})["Item"]
    assert got == {"pk": "res", "price": Decimal("19.99"), "tags": {"x", "y"}, "doc": {"list": [Decimal(1), "a", None, True]}}


@pytest.mark.parametrize("item,message", [
    ({"pk": {"S": "k"}, "s": {"SS": []}}, "One or more parameter values were invalid: An string set  may not be empty"),
    ({"pk": {"S": "k"}, "s": {"NS": []}}, "One or more parameter values were invalid: An number set  may not be empty"),
    ({"pk": {"S": "k"}, "s": {"SS": ["a", "a"]}}, "One or more parameter values were invalid: Input collection [a, a] contains duplicates."),
    ({"pk": {"S": "k"}, "n": {"N": "abc"}}, "A value provided cannot be converted into a number"),
    ({"pk": {"S": "k"}, "n": {"N": "1" * 39}}, "Attempting to store more than 38 significant digits in a Number"),
    ({"pk": {"S": "k"}, "n": {"N": "1E+126"}}, "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ({"pk": {"S": "k"}, "n": {"N": "1E-131"}}, "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
    ({"other": {"S": "k"}}, "One or more parameter values were invalid: Missing the key pk in the item"),
    ({"pk": {"N": "1"}}, "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"),
    ({"pk": {"S": ""}}, "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"),
    ({"pk": {"S": "x" * 2049}}, "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"),
    ({"pk": {"S": "k"}, "big": {"S": "x" * 409600}}, "Item size has exceeded the maximum allowed size"),
])
def test_invalid_items_are_refused_with_dynamodb_messages(ddb, item, message):
    make_table(ddb, "strict")
    code, got, _ = error_of(lambda: ddb.put_item(TableName="strict", Item=item))
    assert (code, got) == ("ValidationException", message)


def test_null_false_is_stored_as_null_and_nesting_is_limited(ddb):
    make_table(ddb, "nulls")
    ddb.put_item(TableName="nulls", Item={"pk": {"S": "k"}, "x": {"NULL": False}})
    assert ddb.get_item(TableName="nulls", Key={"pk": {"S": "k"}})["Item"]["x"] == {"NULL": True}
    deep = {"S": "leaf"}
    for _ in range(31):
        deep = {"M": {"d": deep}}
    ddb.put_item(TableName="nulls", Item={"pk": {"S": "deep"}, "doc": deep})
    code, message, _ = error_of(lambda: ddb.put_item(TableName="nulls", Item={"pk": {"S": "deeper"}, "doc": {"L": [deep]}}))
    assert (code, message) == ("ValidationException", "Nesting Levels have exceeded supported limits: "
                               "Attributes in the item have nested levels beyond supported limit")


def test_largest_item_fits(ddb):
    make_table(ddb, "sized")
    # 400 KB exactly: name "pk" + "k" (3 bytes) plus "big" + value.
    ddb.put_item(TableName="sized", Item={"pk": {"S": "k"}, "big": {"S": "x" * (409600 - 3 - 3)}})
    assert len(ddb.get_item(TableName="sized", Key={"pk": {"S": "k"}})["Item"]["big"]["S"]) == 409594


def test_key_validation_on_reads(ddb):
    make_table(ddb, "keyed", range_type="N")
    for key in [{"pk": {"S": "a"}}, {"pk": {"S": "a"}, "sk": {"S": "1"}}, {"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "y"}}]:
        code, message, _ = error_of(lambda: ddb.get_item(TableName="keyed", Key=key))
        assert (code, message) == ("ValidationException", "The provided key element does not match the schema")
    assert "Item" not in ddb.get_item(TableName="keyed", Key={"pk": {"S": "a"}, "sk": {"N": "1"}})


def test_conditional_writes_and_return_values(ddb):
    make_table(ddb, "cond")
    key = {"pk": {"S": "a"}}
    ddb.put_item(TableName="cond", Item={**key, "v": {"N": "1"}}, ConditionExpression="attribute_not_exists(pk)")
    code, message, r = error_of(lambda: ddb.put_item(
        TableName="cond", Item={**key, "v": {"N": "2"}}, ConditionExpression="attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD"))
    assert (code, message) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert r["Item"] == {**key, "v": {"N": "1"}}
    old = ddb.put_item(TableName="cond", Item={**key, "v": {"N": "3"}}, ConditionExpression="v = :one",
                       ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_OLD")
    assert old["Attributes"] == {**key, "v": {"N": "1"}}
    code, message, _ = error_of(lambda: ddb.delete_item(TableName="cond", Key=key, ConditionExpression="v > :n",
                                                        ExpressionAttributeValues={":n": {"N": "5"}}))
    assert code == "ConditionalCheckFailedException"
    gone = ddb.delete_item(TableName="cond", Key=key, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL",
                           ReturnItemCollectionMetrics="SIZE")
    assert "ItemCollectionMetrics" not in gone  # only tables with local secondary indexes have item collections
    assert gone["Attributes"]["v"] == {"N": "3"}
    assert gone["ConsumedCapacity"] == {"TableName": "cond", "CapacityUnits": 1.0}
    code, message, _ = error_of(lambda: ddb.put_item(TableName="cond", Item=key, ReturnValues="ALL_NEW"))
    assert (code, message) == ("ValidationException", "Return values set to invalid value")


def test_update_expressions(ddb, resource):
    make_table(ddb, "upd")
    key = {"pk": {"S": "u"}}

    def update(expr, names=None, values=None, **kw):
        args = {"TableName": "upd", "Key": key, "UpdateExpression": expr, "ReturnValues": "ALL_NEW", **kw}
        if names:
            args["ExpressionAttributeNames"] = names
        if values:
            args["ExpressionAttributeValues"] = values
        return ddb.update_item(**args)["Attributes"]

    got = update("SET n = if_not_exists(n, :zero) + :one, #s = :s, doc = :doc, l = :l",
                 names={"#s": "status"}, values={":zero": {"N": "0"}, ":one": {"N": "1"}, ":s": {"S": "new"},
                                                 ":doc": {"M": {"a": {"N": "1"}}}, ":l": {"L": [{"S": "x"}]}})
    assert got == {**key, "n": {"N": "1"}, "status": {"S": "new"}, "doc": {"M": {"a": {"N": "1"}}}, "l": {"L": [{"S": "x"}]}}
    got = update("SET n = n + :five, doc.b = :s, l = list_append(l, :more) ADD tags :tags REMOVE #s",
                 names={"#s": "status"},
                 values={":five": {"N": "5"}, ":s": {"S": "deep"}, ":more": {"L": [{"S": "y"}]}, ":tags": {"SS": ["t1", "t2"]}})
    assert got["n"] == {"N": "6"} and got["doc"]["M"]["b"] == {"S": "deep"} and "status" not in got
    assert got["l"] == {"L": [{"S": "x"}, {"S": "y"}]} and sorted(got["tags"]["SS"]) == ["t1", "t2"]
    got = update("DELETE tags :t REMOVE l[0]", values={":t": {"SS": ["t1"]}})
    assert got["tags"] == {"SS": ["t2"]} and got["l"] == {"L": [{"S": "y"}]}
    partial = ddb.update_item(TableName="upd", Key=key, UpdateExpression="SET n = n - :one",
                              ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_OLD")
    assert partial["Attributes"] == {"n": {"N": "6"}}
    partial = ddb.update_item(TableName="upd", Key=key, UpdateExpression="SET doc.a = :v",
                              ExpressionAttributeValues={":v": {"N": "9"}}, ReturnValues="UPDATED_NEW")
    assert partial["Attributes"] == {"doc": {"M": {"a": {"N": "9"}}}}
    # A missing item is created from the key.
    ddb.update_item(TableName="upd", Key={"pk": {"S": "fresh"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"BOOL": False}})
    assert ddb.get_item(TableName="upd", Key={"pk": {"S": "fresh"}})["Item"] == {"pk": {"S": "fresh"}, "v": {"BOOL": False}}
    # The resource API's conditions and updates.
    table = resource.Table("upd")
    table.update_item(Key={"pk": "res"}, UpdateExpression="ADD hits :one", ExpressionAttributeValues={":one": 1})
    table.update_item(Key={"pk": "res"}, UpdateExpression="ADD hits :one", ExpressionAttributeValues={":one": 1},
                      ConditionExpression=Attr("hits").eq(1))
    assert table.get_item(Key={"pk": "res"})["Item"]["hits"] == 2


@pytest.mark.parametrize("kwargs,message", [
    ({"UpdateExpression": "SET status = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
     "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status"),
    ({"UpdateExpression": "SET a = :v", "ExpressionAttributeValues": {":v": {"S": "x"}, ":w": {"S": "y"}}},
     "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"),
    ({"UpdateExpression": "SET a = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}, "ExpressionAttributeNames": {"#a": "a"}},
     "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a}"),
    ({"UpdateExpression": "SET #a = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
     "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: #a"),
    ({"UpdateExpression": "SET a = :nope"},
     "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :nope"),
    ({"UpdateExpression": "SET a = :v", "ExpressionAttributeValues": {"v": {"S": "x"}}},
     "ExpressionAttributeValues contains invalid key: Syntax error; key: \"v\""),
    ({"UpdateExpression": "SET a = :v", "ExpressionAttributeValues": {}}, "ExpressionAttributeValues must not be empty"),
    ({"UpdateExpression": "SET a :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
     "Invalid UpdateExpression: Syntax error; token: \":v\", near: \"a :v\""),
    ({"UpdateExpression": "SET pk = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
     "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"),
    ({"UpdateExpression": "SET a = :v, a = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
     "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"),
    ({"UpdateExpression": "SET n = n + :v", "ExpressionAttributeValues": {":v": {"N": "1"}}},
     "The provided expression refers to an attribute that does not exist in the item"),
    ({"UpdateExpression": "SET s = s + :v", "ExpressionAttributeValues": {":v": {"N": "1"}}},
     "An operand in the update expression has an incorrect data type"),
    ({"UpdateExpression": "ADD s :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
     "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"),
    ({"UpdateExpression": "SET m.x = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
     "The document path provided in the update expression is invalid for update"),
    ({"ConditionExpression": "a = :v"},
     "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v"),
    ({"ExpressionAttributeValues": {":v": {"S": "x"}}},
     "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null"),
])
def test_update_errors_match_dynamodb(ddb, kwargs, message):
    make_table(ddb, "upderr")
    ddb.put_item(TableName="upderr", Item={"pk": {"S": "k"}, "s": {"S": "text"}})
    code, got, _ = error_of(lambda: ddb.update_item(TableName="upderr", Key={"pk": {"S": "k"}}, **kwargs))
    assert (code, got) == ("ValidationException", message)


def test_condition_functions(ddb):
    make_table(ddb, "funcs")
    ddb.put_item(TableName="funcs", Item={
        "pk": {"S": "f"}, "name": {"S": "brume"}, "tags": {"SS": ["a", "b"]}, "n": {"N": "10"}, "l": {"L": [{"N": "1"}]}})
    ok = [
        ("attribute_exists(#n) AND attribute_not_exists(nope)", {}),
        ("attribute_type(#n, :s)", {":s": {"S": "S"}}),
        ("begins_with(#n, :p)", {":p": {"S": "br"}}),
        ("contains(tags, :a) AND contains(#n, :u)", {":a": {"S": "a"}, ":u": {"S": "ru"}}),
        ("size(tags) = :two AND size(#n) > :two", {":two": {"N": "2"}}),
        ("n BETWEEN :lo AND :hi", {":lo": {"N": "5"}, ":hi": {"N": "10"}}),
        ("n IN (:a, :b) OR NOT (n < :b)", {":a": {"N": "1"}, ":b": {"N": "10"}}),
        ("l[0] = :one", {":one": {"N": "1"}}),
    ]
    for expr, values in ok:
        args = {"TableName": "funcs", "Key": {"pk": {"S": "f"}}, "UpdateExpression": "SET touched = :t",
                "ConditionExpression": expr, "ExpressionAttributeValues": {":t": {"BOOL": True}, **values}}
        if "#n" in expr:
            args["ExpressionAttributeNames"] = {"#n": "name"}
        ddb.update_item(**args)
    code, message, _ = error_of(lambda: ddb.delete_item(
        TableName="funcs", Key={"pk": {"S": "f"}}, ConditionExpression="attribute_type(n, :t)",
        ExpressionAttributeValues={":t": {"S": "X"}}))
    assert message == "Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
    code, message, _ = error_of(lambda: ddb.delete_item(
        TableName="funcs", Key={"pk": {"S": "f"}}, ConditionExpression="n BETWEEN :hi AND :lo",
        ExpressionAttributeValues={":lo": {"N": "1"}, ":hi": {"N": "9"}}))
    assert message == ("Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
                       "lower bound operand: AttributeValue: {N:9}, upper bound operand: AttributeValue: {N:1}")
    code, message, _ = error_of(lambda: ddb.delete_item(
        TableName="funcs", Key={"pk": {"S": "f"}}, ConditionExpression="((attribute_exists(pk)))"))
    assert message == "Invalid ConditionExpression: The expression has redundant parentheses;"
    code, message, _ = error_of(lambda: ddb.delete_item(
        TableName="funcs", Key={"pk": {"S": "f"}}, ConditionExpression="contains(#a, #a)", ExpressionAttributeNames={"#a": "data"}))
    assert message == ("Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this "
                       "operator or function; operator: contains, first operand: [data]")


def test_deeply_nested_expressions_are_refused_and_brume_stays_up(ddb):
    # The parsers recurse with the nesting; unbounded, a 4 KB expression of parentheses
    # exhausted a thread's stack and aborted the whole server.
    make_table(ddb, "deep")
    values = {":v": {"S": "x"}}
    code, message, r = error_of(lambda: ddb.scan(
        TableName="deep", FilterExpression="(" * 2000 + "a = :v" + ")" * 2000, ExpressionAttributeValues=values))
    assert (code, r["ResponseMetadata"]["HTTPStatusCode"]) == ("ValidationException", 400)
    assert message == "Invalid FilterExpression: The expression has redundant parentheses;"
    code, message, _ = error_of(lambda: ddb.delete_item(
        TableName="deep", Key={"pk": {"S": "k"}}, ConditionExpression="NOT (" * 301 + "a = :v" + ")" * 301,
        ExpressionAttributeValues=values))
    # DynamoDB stops counting at the first operator over its limit of 300.
    assert message == "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    # Flat, or nested shallower than the parser's bound, the limit holds too: 909 operators
    # fit in 4 KB (DynamoDB names the 301st of them).
    for flat in (" OR ".join(["a = :v"] * 151), "a<b OR(" * 454 + "a<b" + ")" * 454):
        code, message, _ = error_of(lambda: ddb.scan(TableName="deep", FilterExpression=flat, ExpressionAttributeValues=values))
        assert (code, message) == ("ValidationException",
                                   "Invalid FilterExpression: The expression contains too many operators; operator count: 301")
    # 150 comparisons and 149 ORs are within it.
    assert ddb.scan(TableName="deep", FilterExpression=" OR ".join(["a = :v"] * 150), ExpressionAttributeValues=values)["Count"] == 0
    # 299 NOTs and a comparison are 300 operators, DynamoDB's limit: accepted, and true.
    ddb.put_item(TableName="deep", Item={"pk": {"S": "k"}, "a": {"S": "y"}},
                 ConditionExpression="NOT (" * 299 + "a = :v" + ")" * 299, ExpressionAttributeValues=values)
    code, message, _ = error_of(lambda: ddb.execute_statement(
        Statement='SELECT * FROM "deep" WHERE ' + "(" * 1000 + "pk = 'k'" + ")" * 1000))
    assert (code, message) == ("ValidationException",
                               "Statement wasn't well formed, can't be processed: Expression nesting exceeds the supported depth")
    code, message, _ = error_of(lambda: ddb.execute_statement(
        Statement="INSERT INTO \"deep\" VALUE {'pk': 'n', 'v': " + "[" * 1000 + "1" + "]" * 1000 + "}"))
    assert message == ("Nesting Levels have exceeded supported limits: "
                       "Attributes in the item have nested levels beyond supported limit")
    assert ddb.get_item(TableName="deep", Key={"pk": {"S": "k"}})["Item"]["a"] == {"S": "y"}


def test_projection_expressions(ddb):
    make_table(ddb, "proj")
    ddb.put_item(TableName="proj", Item={
        "pk": {"S": "p"}, "a": {"S": "x"}, "doc": {"M": {"keep": {"N": "1"}, "drop": {"N": "2"}}},
        "l": {"L": [{"S": "0"}, {"S": "1"}, {"S": "2"}]}})
    got = ddb.get_item(TableName="proj", Key={"pk": {"S": "p"}}, ProjectionExpression="a, doc.keep, l[2], #l[0]",
                       ExpressionAttributeNames={"#l": "l"})["Item"]
    assert got == {"a": {"S": "x"}, "doc": {"M": {"keep": {"N": "1"}}}, "l": {"L": [{"S": "0"}, {"S": "2"}]}}
    code, message, _ = error_of(lambda: ddb.get_item(TableName="proj", Key={"pk": {"S": "p"}}, ProjectionExpression="a, a.b"))
    assert message == ("Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite "
                       "one of these paths; path one: [a], path two: [a, b]")


def test_legacy_parameters(ddb):
    make_table(ddb, "legacy", range_type="N")
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    ddb.put_item(TableName="legacy", Item={**key, "n": {"N": "1"}}, Expected={"pk": {"Exists": False}})
    code, message, _ = error_of(lambda: ddb.put_item(TableName="legacy", Item=key, Expected={"pk": {"Exists": False}}))
    assert (code, message) == ("ConditionalCheckFailedException", "The conditional request failed")
    got = ddb.update_item(
        TableName="legacy", Key=key, ReturnValues="ALL_NEW",
        AttributeUpdates={"n": {"Action": "ADD", "Value": {"N": "5"}}, "s": {"Action": "PUT", "Value": {"S": "x"}},
                          "l": {"Action": "ADD", "Value": {"L": [{"N": "1"}]}}},
        Expected={"s": {"ComparisonOperator": "NULL"}, "n": {"Value": {"N": "1"}}},
    )["Attributes"]
    assert got == {**key, "n": {"N": "6"}, "s": {"S": "x"}, "l": {"L": [{"N": "1"}]}}
    assert ddb.get_item(TableName="legacy", Key=key, AttributesToGet=["n", "s"])["Item"] == {"n": {"N": "6"}, "s": {"S": "x"}}
    for i in range(2, 6):
        ddb.put_item(TableName="legacy", Item={"pk": {"S": "a"}, "sk": {"N": str(i)}, "n": {"N": str(i * 10)}})
    queried = ddb.query(TableName="legacy", KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
        "sk": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "2"}]},
    }, QueryFilter={"n": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "40"}]}})
    assert [i["sk"]["N"] for i in queried["Items"]] == ["4", "5"] and queried["ScannedCount"] == 3
    scanned = ddb.scan(TableName="legacy", ConditionalOperator="OR", ScanFilter={
        "s": {"ComparisonOperator": "NOT_NULL"}, "n": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "20"}]}})
    assert sorted(i["sk"]["N"] for i in scanned["Items"]) == ["1", "2"]
    code, message, _ = error_of(lambda: ddb.get_item(TableName="legacy", Key=key, AttributesToGet=["n"], ProjectionExpression="s"))
    assert message == ("Can not use both expression and non-expression parameters in the same request: "
                       "Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}")
    code, message, _ = error_of(lambda: ddb.query(TableName="legacy", KeyConditions={
        "pk": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "a"}]}}))
    assert message == "Attempted conditional constraint is not an indexable operation"


# --- query and scan --------------------------------------------------------------------


def test_query_orders_by_sort_key_type(ddb):
    make_table(ddb, "numbers", range_type="N")
    for n in ["10", "-1", "2", "0.5", "1E+3", "-20"]:
        ddb.put_item(TableName="numbers", Item={"pk": {"S": "p"}, "sk": {"N": n}})
    ddb.put_item(TableName="numbers", Item={"pk": {"S": "other"}, "sk": {"N": "1"}})
    items = ddb.query(TableName="numbers", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})["Items"]
    assert [i["sk"]["N"] for i in items] == ["-20", "-1", "0.5", "2", "10", "1000"]
    reversed_operands = ddb.query(TableName="numbers", KeyConditionExpression=":p = pk AND :lo <= sk",
                                  ExpressionAttributeValues={":p": {"S": "p"}, ":lo": {"N": "2"}})["Items"]
    assert [i["sk"]["N"] for i in reversed_operands] == ["2", "10", "1000"]
    back = ddb.query(TableName="numbers", KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b", ScanIndexForward=False,
                     ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "-1"}, ":b": {"N": "10"}})["Items"]
    assert [i["sk"]["N"] for i in back] == ["10", "2", "0.5", "-1"]
    make_table(ddb, "strings", range_type="S")
    for s in ["b", "a", "ab", "B", "é", "a\u0000z"]:
        ddb.put_item(TableName="strings", Item={"pk": {"S": "p"}, "sk": {"S": s}})
    items = ddb.query(TableName="strings", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})["Items"]
    assert [i["sk"]["S"] for i in items] == ["B", "a", "a\u0000z", "ab", "b", "é"]
    prefixed = ddb.query(TableName="strings", KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
                         ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"S": "a"}})["Items"]
    assert [i["sk"]["S"] for i in prefixed] == ["a", "a\u0000z", "ab"]
    make_table(ddb, "binaries", range_type="B")
    for b in [b"\x80", b"\x00\x01", b"\x7f", b"\x00"]:
        ddb.put_item(TableName="binaries", Item={"pk": {"S": "p"}, "sk": {"B": b}})
    items = ddb.query(TableName="binaries", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})["Items"]
    assert [i["sk"]["B"] for i in items] == [b"\x00", b"\x00\x01", b"\x7f", b"\x80"]


def test_query_paging_filters_and_select(ddb, resource):
    make_table(ddb, "paged", range_type="N")
    table = resource.Table("paged")
    with table.batch_writer() as batch:
        for i in range(10):
            batch.put_item(Item={"pk": "p", "sk": i, "even": i % 2 == 0, "payload": "x" * i})
    first = ddb.query(TableName="paged", KeyConditionExpression="pk = :p", Limit=4, ExpressionAttributeValues={":p": {"S": "p"}})
    assert first["Count"] == 4 and first["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"N": "3"}}
    second = ddb.query(TableName="paged", KeyConditionExpression="pk = :p", Limit=4, ExclusiveStartKey=first["LastEvaluatedKey"],
                       ExpressionAttributeValues={":p": {"S": "p"}})
    assert [i["sk"]["N"] for i in second["Items"]] == ["4", "5", "6", "7"]
    # Limit counts items read, before the filter.
    filtered = ddb.query(TableName="paged", KeyConditionExpression="pk = :p", FilterExpression="even = :t", Limit=5,
                         ExpressionAttributeValues={":p": {"S": "p"}, ":t": {"BOOL": True}})
    assert filtered["ScannedCount"] == 5 and filtered["Count"] == 3
    counted = ddb.query(TableName="paged", KeyConditionExpression="pk = :p", Select="COUNT", ExpressionAttributeValues={":p": {"S": "p"}})
    assert counted["Count"] == 10 and "Items" not in counted
    projected = ddb.query(TableName="paged", KeyConditionExpression="pk = :p AND sk >= :n", ProjectionExpression="sk",
                          ExpressionAttributeValues={":p": {"S": "p"}, ":n": {"N": "8"}})
    assert projected["Items"] == [{"sk": {"N": "8"}}, {"sk": {"N": "9"}}]
    backwards, start = [], None
    while True:
        kwargs = {"ExclusiveStartKey": start} if start else {}
        page = ddb.query(TableName="paged", KeyConditionExpression="pk = :p AND sk < :n", ScanIndexForward=False, Limit=3,
                         ExpressionAttributeValues={":p": {"S": "p"}, ":n": {"N": "8"}}, **kwargs)
        backwards += [int(i["sk"]["N"]) for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert backwards == [7, 6, 5, 4, 3, 2, 1, 0]
    # The resource API with boto3's condition builders, and a paginator over every page.
    assert [i["sk"] for i in table.query(KeyConditionExpression=Key("pk").eq("p") & Key("sk").lt(3))["Items"]] == [0, 1, 2]
    pages = ddb.get_paginator("query").paginate(TableName="paged", KeyConditionExpression="pk = :p",
                                                ExpressionAttributeValues={":p": {"S": "p"}}, PaginationConfig={"PageSize": 3})
    assert sum(p["Count"] for p in pages) == 10


@pytest.mark.parametrize("kce,values,message", [
    ("sk = :n", {":n": {"N": "1"}}, "Query condition missed key schema element: pk"),
    ("pk > :p", {":p": {"S": "p"}}, "Query key condition not supported"),
    ("pk = :p OR sk = :n", {":p": {"S": "p"}, ":n": {"N": "1"}}, "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR"),
    ("pk = :n", {":n": {"N": "1"}}, "One or more parameter values were invalid: Condition parameter type does not match schema type"),
    ("pk = :p AND sk.x = :n", {":p": {"S": "p"}, ":n": {"N": "1"}},
     "Invalid KeyConditionExpression: KeyConditionExpressions cannot have conditions on nested attributes"),
    ("attr1 = :p", {":p": {"S": "p"}}, "Query condition missed key schema element: pk"),
])
def test_query_key_condition_errors(ddb, kce, values, message):
    make_table(ddb, "qerr", range_type="N")
    code, got, _ = error_of(lambda: ddb.query(TableName="qerr", KeyConditionExpression=kce, ExpressionAttributeValues=values))
    assert (code, got) == ("ValidationException", message)


def test_scan_pages_and_segments(server, ddb):
    make_table(ddb, "scanned", hash_type="N")
    for i in range(30):
        ddb.put_item(TableName="scanned", Item={"pk": {"N": str(i)}, "odd": {"BOOL": i % 2 == 1}})
    seen = []
    start = None
    while True:
        kwargs = {"ExclusiveStartKey": start} if start else {}
        page = ddb.scan(TableName="scanned", Limit=7, **kwargs)
        seen += [i["pk"]["N"] for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    assert sorted(seen, key=int) == [str(i) for i in range(30)]
    segments = [ddb.scan(TableName="scanned", Segment=s, TotalSegments=3)["Items"] for s in range(3)]
    keys = [i["pk"]["N"] for seg in segments for i in seg]
    assert sorted(keys, key=int) == [str(i) for i in range(30)] and all(segments)
    odd = ddb.scan(TableName="scanned", FilterExpression="odd = :t", ExpressionAttributeValues={":t": {"BOOL": True}})
    assert odd["Count"] == 15 and odd["ScannedCount"] == 30
    unchecked = server.client("dynamodb", parameter_validation=False)  # boto3 would refuse these itself
    code, message, _ = error_of(lambda: unchecked.scan(TableName="scanned", Limit=0))
    assert message == "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
    code, message, _ = error_of(lambda: unchecked.query(TableName="scanned", Limit=0, KeyConditionExpression="pk = :p",
                                                  ExpressionAttributeValues={":p": {"N": "1"}}))
    assert message == "1 validation error detected: Value at 'Limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
    code, message, _ = error_of(lambda: ddb.scan(TableName="scanned", Segment=3, TotalSegments=3))
    assert message == "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 3 is not less than TotalSegments: 3"


def test_page_stops_at_one_megabyte(ddb):
    make_table(ddb, "heavy", range_type="N")
    for i in range(12):
        ddb.put_item(TableName="heavy", Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "blob": {"S": "x" * 100_000}})
    page = ddb.query(TableName="heavy", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
    assert 10 <= page["Count"] < 12 and "LastEvaluatedKey" in page


# --- indexes ---------------------------------------------------------------------------


def test_global_and_local_secondary_indexes(ddb):
    make_table(
        ddb, "indexed", range_type="S",
        more_attributes=[{"AttributeName": "email", "AttributeType": "S"}, {"AttributeName": "age", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "by-email", "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}], "Projection": {"ProjectionType": "KEYS_ONLY"}},
        ],
        LocalSecondaryIndexes=[
            {"IndexName": "by-age", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "age", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["nick"]}},
        ],
    )
    people = [("u1", "a@x", 40, "al"), ("u2", "b@x", 25, "bo"), ("u3", None, 33, "cy")]
    for sk, email, age, nick in people:
        item = {"pk": {"S": "team"}, "sk": {"S": sk}, "age": {"N": str(age)}, "nick": {"S": nick}, "secret": {"S": "s"}}
        if email:
            item["email"] = {"S": email}
        ddb.put_item(TableName="indexed", Item=item)
    metrics = ddb.update_item(TableName="indexed", Key={"pk": {"S": "team"}, "sk": {"S": "u3"}}, UpdateExpression="SET nick = :n",
                              ExpressionAttributeValues={":n": {"S": "cyd"}}, ReturnItemCollectionMetrics="SIZE")
    assert metrics["ItemCollectionMetrics"] == {"ItemCollectionKey": {"pk": {"S": "team"}}, "SizeEstimateRangeGB": [0.0, 1.0]}
    by_email = ddb.query(TableName="indexed", IndexName="by-email", KeyConditionExpression="email = :e",
                         ExpressionAttributeValues={":e": {"S": "b@x"}})["Items"]
    assert by_email == [{"pk": {"S": "team"}, "sk": {"S": "u2"}, "email": {"S": "b@x"}}]
    assert ddb.scan(TableName="indexed", IndexName="by-email")["Count"] == 2  # sparse: u3 has no email
    by_age = ddb.query(TableName="indexed", IndexName="by-age", KeyConditionExpression="pk = :p AND age > :a",
                       ExpressionAttributeValues={":p": {"S": "team"}, ":a": {"N": "30"}})["Items"]
    assert [i["sk"]["S"] for i in by_age] == ["u3", "u1"] and all("secret" not in i and "nick" in i for i in by_age)
    # An LSI reads unprojected attributes from the table.
    full = ddb.query(TableName="indexed", IndexName="by-age", KeyConditionExpression="pk = :p", Select="ALL_ATTRIBUTES",
                     ExpressionAttributeValues={":p": {"S": "team"}})["Items"]
    assert [i["secret"] for i in full] == [{"S": "s"}] * 3
    # Index entries follow updates and deletes.
    ddb.update_item(TableName="indexed", Key={"pk": {"S": "team"}, "sk": {"S": "u2"}}, UpdateExpression="SET email = :e",
                    ExpressionAttributeValues={":e": {"S": "new@x"}})
    ddb.delete_item(TableName="indexed", Key={"pk": {"S": "team"}, "sk": {"S": "u1"}})
    emails = sorted(i["email"]["S"] for i in ddb.scan(TableName="indexed", IndexName="by-email")["Items"])
    assert emails == ["new@x"]
    desc = ddb.describe_table(TableName="indexed")["Table"]
    assert desc["GlobalSecondaryIndexes"][0]["ItemCount"] == 1 and desc["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
    assert desc["LocalSecondaryIndexes"][0]["ItemCount"] == 2
    code, message, _ = error_of(lambda: ddb.query(TableName="indexed", IndexName="by-email", ConsistentRead=True,
                                                  KeyConditionExpression="email = :e", ExpressionAttributeValues={":e": {"S": "b@x"}}))
    assert message == "Consistent reads are not supported on global secondary indexes"
    code, message, _ = error_of(lambda: ddb.query(TableName="indexed", IndexName="nope", KeyConditionExpression="pk = :p",
                                                  ExpressionAttributeValues={":p": {"S": "team"}}))
    assert message == "The table does not have the specified index: nope"
    code, message, _ = error_of(lambda: ddb.scan(TableName="indexed", Select="ALL_PROJECTED_ATTRIBUTES"))
    assert message == "One or more parameter values were invalid: ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
    code, message, _ = error_of(lambda: ddb.put_item(TableName="indexed", Item={"pk": {"S": "t"}, "sk": {"S": "x"}, "email": {"N": "1"}}))
    assert message == "One or more parameter values were invalid: Type mismatch for Index Key email Expected: S Actual: N IndexName: by-email"


def test_index_pages_resume_between_items_sharing_an_index_key(ddb):
    arn = make_table(ddb, "shared", more_attributes=[{"AttributeName": "kind", "AttributeType": "S"}],
                     GlobalSecondaryIndexes=[{"IndexName": "by-kind", "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "ALL"}}])["TableArn"]
    for i in range(7):
        ddb.put_item(TableName=arn, Item={"pk": {"S": f"k{i}"}, "kind": {"S": "same"}})  # tables are named by ARN too
    seen, start = [], None
    while True:
        kwargs = {"ExclusiveStartKey": start} if start else {}
        page = ddb.query(TableName="shared", IndexName="by-kind", KeyConditionExpression="kind = :k", Limit=3,
                         ExpressionAttributeValues={":k": {"S": "same"}}, **kwargs)
        seen += [i["pk"]["S"] for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if start:
            assert set(start) == {"pk", "kind"}  # the table's key and the index's
        else:
            break
    assert sorted(seen) == [f"k{i}" for i in range(7)]
    code, message, _ = error_of(lambda: ddb.query(TableName="shared", IndexName="by-kind", KeyConditionExpression="kind = :k",
                                                  ExpressionAttributeValues={":k": {"S": "same"}}, ExclusiveStartKey={"pk": {"S": "k1"}}))
    assert message == "The provided starting key is invalid: The provided key element does not match the schema"


def test_index_write_capacity(ddb):
    make_table(
        ddb, "metered", range_type="S",
        more_attributes=[{"AttributeName": "gsiPk", "AttributeType": "S"}, {"AttributeName": "lsiSk", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi-inc", "KeySchema": [{"AttributeName": "gsiPk", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["proj"]}}],
        LocalSecondaryIndexes=[{"IndexName": "lsi1", "Projection": {"ProjectionType": "ALL"},
                                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "lsiSk", "KeyType": "RANGE"}]}],
    )

    def arms(cc):
        return (cc["CapacityUnits"], cc["Table"]["CapacityUnits"],
                cc.get("GlobalSecondaryIndexes", {}).get("gsi-inc", {}).get("CapacityUnits"),
                cc.get("LocalSecondaryIndexes", {}).get("lsi1", {}).get("CapacityUnits"))

    def put(pk, **attrs):
        item = {"pk": {"S": pk}, "sk": {"S": "1"}, **{k: {"S": v} for k, v in attrs.items()}}
        return arms(ddb.put_item(TableName="metered", Item=item, ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"])

    def update(pk, expr, values=None):
        kwargs = {"ExpressionAttributeValues": values} if values else {}
        return arms(ddb.update_item(TableName="metered", Key={"pk": {"S": pk}, "sk": {"S": "1"}}, UpdateExpression=expr,
                                    ReturnConsumedCapacity="INDEXES", **kwargs)["ConsumedCapacity"])

    full = {"gsiPk": "g", "lsiSk": "L1", "proj": "p", "misc": "o"}
    assert put("a", gsiPk="g1", proj="p") == (2.0, 1.0, 1.0, None)
    assert put("b", other="o") == (1.0, 1.0, None, None)
    assert put("c", **full) == (3.0, 1.0, 1.0, 1.0)
    assert put("c", **full) == (1.0, 1.0, None, None)  # an identical overwrite changes no index
    assert update("c", "SET misc = :v", {":v": {"S": "o2"}}) == (2.0, 1.0, None, 1.0)
    assert update("c", "SET proj = :v", {":v": {"S": "p2"}}) == (3.0, 1.0, 1.0, 1.0)
    assert update("c", "SET gsiPk = :v", {":v": {"S": "moved"}}) == (4.0, 1.0, 2.0, 1.0)
    assert update("c", "REMOVE gsiPk") == (3.0, 1.0, 1.0, 1.0)
    assert update("c", "SET lsiSk = :v", {":v": {"S": "L2"}}) == (3.0, 1.0, None, 2.0)
    deleted = ddb.delete_item(TableName="metered", Key={"pk": {"S": "a"}, "sk": {"S": "1"}}, ReturnConsumedCapacity="TOTAL")
    assert deleted["ConsumedCapacity"] == {"TableName": "metered", "CapacityUnits": 2.0}
    read = ddb.query(TableName="metered", IndexName="lsi1", KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": "c"}}, ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]
    assert read == {"TableName": "metered", "CapacityUnits": 0.5, "LocalSecondaryIndexes": {"lsi1": {"CapacityUnits": 0.5}}}


def test_update_table_adds_and_removes_a_gsi(ddb):
    make_table(ddb, "evolving")
    for i in range(5):
        ddb.put_item(TableName="evolving", Item={"pk": {"S": f"k{i}"}, "colour": {"S": "red" if i < 3 else "blue"}})
    desc = ddb.update_table(
        TableName="evolving", AttributeDefinitions=[{"AttributeName": "colour", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "by-colour", "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}}],
    )["TableDescription"]
    assert desc["GlobalSecondaryIndexes"][0]["IndexName"] == "by-colour"
    red = ddb.query(TableName="evolving", IndexName="by-colour", KeyConditionExpression="colour = :c",
                    ExpressionAttributeValues={":c": {"S": "red"}})
    assert red["Count"] == 3
    ddb.update_table(TableName="evolving", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-colour"}}])
    table = ddb.describe_table(TableName="evolving")["Table"]
    assert "GlobalSecondaryIndexes" not in table
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    code, message, _ = error_of(lambda: ddb.query(TableName="evolving", IndexName="by-colour", KeyConditionExpression="colour = :c",
                                                  ExpressionAttributeValues={":c": {"S": "red"}}))
    assert message == "The table does not have the specified index: by-colour"


# --- batches and transactions ----------------------------------------------------------


def test_batch_get_and_write(ddb):
    make_table(ddb, "batch")
    make_table(ddb, "batch2")
    writes = [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "v": {"N": str(i)}}}} for i in range(20)]
    assert ddb.batch_write_item(RequestItems={"batch": writes, "batch2": writes[:5]})["UnprocessedItems"] == {}
    ddb.batch_write_item(RequestItems={"batch": [{"DeleteRequest": {"Key": {"pk": {"S": "k0"}}}}]})
    got = ddb.batch_get_item(RequestItems={
        "batch": {"Keys": [{"pk": {"S": "k0"}}, {"pk": {"S": "k1"}}, {"pk": {"S": "k19"}}], "ProjectionExpression": "v"},
        "batch2": {"Keys": [{"pk": {"S": "k4"}}]},
    })
    assert sorted(i["v"]["N"] for i in got["Responses"]["batch"]) == ["1", "19"]
    assert got["Responses"]["batch2"] == [{"pk": {"S": "k4"}, "v": {"N": "4"}}] and got["UnprocessedKeys"] == {}
    metered = ddb.batch_get_item(RequestItems={"batch": {"Keys": [{"pk": {"S": "k1"}}, {"pk": {"S": "k0"}}], "ConsistentRead": True}},
                                 ReturnConsumedCapacity="TOTAL")
    assert metered["ConsumedCapacity"] == [{"TableName": "batch", "CapacityUnits": 2.0}]  # per key, found or not
    too_many = [{"PutRequest": {"Item": {"pk": {"S": f"x{i}"}}}} for i in range(26)]
    code, message, _ = error_of(lambda: ddb.batch_write_item(RequestItems={"batch": too_many}))
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value '{batch=[") and message.endswith(
        "]}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must have length less than or equal to 25, Member must have length greater than or equal to 1]")
    code, message, _ = error_of(lambda: ddb.batch_write_item(RequestItems={"batch": too_many[:13], "batch2": too_many[13:]}))
    assert (code, message) == ("ValidationException", "Too many items requested for the BatchWriteItem call")
    code, message, _ = error_of(lambda: ddb.batch_get_item(RequestItems={"batch": {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(101)]}}))
    assert message == ("1 validation error detected: Value at 'requestItems.batch.member.keys' failed to satisfy constraint: "
                       "Member must have length less than or equal to 100")
    code, message, _ = error_of(lambda: ddb.batch_get_item(RequestItems={
        "batch": {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(60)]}, "batch2": {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(41)]}}))
    assert message == "Too many items requested for the BatchGetItem call"
    code, message, _ = error_of(lambda: ddb.batch_write_item(RequestItems={}))
    assert message == "The requestItems parameter is required for BatchWriteItem"
    code, message, _ = error_of(lambda: ddb.batch_write_item(RequestItems={"batch": [{"PutRequest": {"Item": {"pk": {"N": "1"}}}}]}))
    assert message == "The provided key element does not match the schema"
    code, message, _ = error_of(lambda: ddb.batch_write_item(RequestItems={"batch": writes[:1] * 2}))
    assert message == "Provided list of item keys contains duplicates"
    code, message, _ = error_of(lambda: ddb.batch_get_item(RequestItems={"nosuch": {"Keys": [{"pk": {"S": "a"}}]}}))
    assert code == "ResourceNotFoundException"


def test_transactions(server, ddb):
    make_table(ddb, "accounts")
    ddb.put_item(TableName="accounts", Item={"pk": {"S": "alice"}, "balance": {"N": "100"}})
    ddb.put_item(TableName="accounts", Item={"pk": {"S": "bob"}, "balance": {"N": "0"}})
    ddb.put_item(TableName="accounts", Item={"pk": {"S": "bank"}, "open": {"BOOL": True}})

    def transfer(amount, token=None):
        items = [
            {"Update": {"TableName": "accounts", "Key": {"pk": {"S": "alice"}}, "UpdateExpression": "SET balance = balance - :a",
                        "ConditionExpression": "balance >= :a", "ExpressionAttributeValues": {":a": {"N": str(amount)}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Update": {"TableName": "accounts", "Key": {"pk": {"S": "bob"}}, "UpdateExpression": "SET balance = balance + :a",
                        "ExpressionAttributeValues": {":a": {"N": str(amount)}}}},
            {"ConditionCheck": {"TableName": "accounts", "Key": {"pk": {"S": "bank"}}, "ConditionExpression": "#o = :t",
                                "ExpressionAttributeNames": {"#o": "open"}, "ExpressionAttributeValues": {":t": {"BOOL": True}}}},
        ]
        kwargs = {"ClientRequestToken": token} if token else {}
        return ddb.transact_write_items(TransactItems=items, **kwargs)

    transfer(60, token="t-1")
    transfer(60, token="t-1")  # the same request again: answered, not applied twice
    balances = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": "accounts", "Key": {"pk": {"S": "alice"}}}},
        {"Get": {"TableName": "accounts", "Key": {"pk": {"S": "bob"}}}},
        {"Get": {"TableName": "accounts", "Key": {"pk": {"S": "nobody"}}}},
    ])["Responses"]
    assert [r.get("Item", {}).get("balance") for r in balances] == [{"N": "40"}, {"N": "60"}, None]
    code, message, r = error_of(lambda: transfer(60))
    assert code == "TransactionCanceledException"
    assert message == "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None, None]"
    assert r["CancellationReasons"] == [
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
         "Item": {"pk": {"S": "alice"}, "balance": {"N": "40"}}},
        {"Code": "None"}, {"Code": "None"},
    ]
    assert ddb.get_item(TableName="accounts", Key={"pk": {"S": "bob"}})["Item"]["balance"] == {"N": "60"}  # nothing applied
    code, message, _ = error_of(lambda: transfer(1, token="t-1"))
    assert code == "IdempotentParameterMismatchException"
    code, message, _ = error_of(lambda: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "accounts", "Item": {"pk": {"S": "carol"}}}},
        {"Delete": {"TableName": "accounts", "Key": {"pk": {"S": "carol"}}}},
    ]))
    assert (code, message) == ("ValidationException", "Transaction request cannot include multiple operations on one item")
    # boto3 raises the modeled exception class, whose response carries the reasons.
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        transfer(1000)
    # Keys of the wrong type cancel with a reason; empty key values fail the request.
    code, message, r = error_of(lambda: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "accounts", "Item": {"pk": {"N": "5"}}}},
        {"Delete": {"TableName": "accounts", "Key": {"pk": {"N": "5"}}}},
    ]))
    assert code == "TransactionCanceledException"
    assert r["CancellationReasons"] == [
        {"Code": "ValidationError", "Message": "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"},
        {"Code": "ValidationError", "Message": "The provided key element does not match the schema"},
    ]
    code, message, _ = error_of(lambda: ddb.transact_write_items(TransactItems=[
        {"ConditionCheck": {"TableName": "accounts", "Key": {"pk": {"S": ""}}, "ConditionExpression": "attribute_exists(pk)"}}]))
    assert (code, message) == ("ValidationException", "One or more parameter values are not valid. The AttributeValue for a "
                               "key attribute cannot contain an empty string value. Key: pk")
    code, message, r = error_of(lambda: ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": "accounts", "Key": {"pk": {"S": "alice"}}}}, {"Get": {"TableName": "accounts", "Key": {}}}]))
    assert code == "TransactionCanceledException"
    assert r["CancellationReasons"] == [
        {"Code": "None"}, {"Code": "ValidationError", "Message": "The provided key element does not match the schema"}]
    unchecked = server.client("dynamodb", parameter_validation=False)  # boto3 would refuse these itself
    code, message, _ = error_of(lambda: unchecked.transact_write_items(TransactItems=[]))
    assert message == "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1"
    code, message, _ = error_of(lambda: unchecked.transact_write_items(TransactItems=[
        {"ConditionCheck": {"TableName": "accounts", "Key": {"pk": {"S": f"k{i}"}},
                            "ConditionExpression": "attribute_exists(pk)"}} for i in range(101)]))
    assert (code, message) == ("ValidationException", "1 validation error detected at 'transactItems' failed to satisfy "
                               "constraint: Member must have length less than or equal to 100.")


def test_concurrent_conditional_increments_lose_nothing(server, ddb):
    make_table(ddb, "counter")
    ddb.put_item(TableName="counter", Item={"pk": {"S": "c"}, "n": {"N": "0"}})
    workers, per_worker = 8, 25

    def work(_):
        client = server.client("dynamodb")
        done = 0
        while done < per_worker:
            n = client.get_item(TableName="counter", Key={"pk": {"S": "c"}}, ConsistentRead=True)["Item"]["n"]["N"]
            try:
                client.update_item(TableName="counter", Key={"pk": {"S": "c"}}, UpdateExpression="SET n = :new",
                                   ConditionExpression="n = :old",
                                   ExpressionAttributeValues={":new": {"N": str(int(n) + 1)}, ":old": {"N": n}})
                done += 1
            except client.exceptions.ConditionalCheckFailedException:
                pass  # someone else won this round: read again

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, range(workers)))
    final = ddb.get_item(TableName="counter", Key={"pk": {"S": "c"}})["Item"]["n"]["N"]
    assert final == str(workers * per_worker)


def test_kill_9_keeps_every_acknowledged_item(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    make_table(first.client("dynamodb"), "durable", range_type="N",
               more_attributes=[{"AttributeName": "g", "AttributeType": "S"}],
               GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                        "Projection": {"ProjectionType": "ALL"}}])

    def write(client, w, i):
        item = {"pk": {"S": f"w{w}"}, "sk": {"N": str(i)}, "g": {"S": f"g{i % 3}"}, "body": {"B": base64.b64decode("AAEC")}}
        client.put_item(TableName="durable", Item=item)
        return f"w{w}", i

    acknowledged = kill_9_during_writes(first, "dynamodb", write, enough=200)
    second = start_brume(data_dir=str(tmp_path))
    client = second.client("dynamodb")
    for pk, sk in acknowledged:
        item = client.get_item(TableName="durable", Key={"pk": {"S": pk}, "sk": {"N": str(sk)}})["Item"]
        assert item["body"] == {"B": b"\x00\x01\x02"}
    in_index = sum(
        client.query(TableName="durable", IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": f"g{n}"}}, Select="COUNT")["Count"] for n in range(3))
    assert in_index >= len(acknowledged)
    assert client.describe_table(TableName="durable")["Table"]["ItemCount"] == in_index


def policy_document(action):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "000000000000"}, "Action": [action], "Resource": "*"}]})


def test_resource_policies_of_tables_and_streams(ddb):
    arn = make_table(ddb, "guarded", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
                     ResourcePolicy=policy_document("dynamodb:GetItem"))["TableArn"]
    created = ddb.get_resource_policy(ResourceArn=arn)
    assert json.loads(created["Policy"])["Statement"][0]["Action"] == ["dynamodb:GetItem"]

    # The same document again changes nothing; another one gets a later revision.
    same = ddb.put_resource_policy(ResourceArn=arn, Policy=created["Policy"])["RevisionId"]
    assert same == created["RevisionId"]
    time.sleep(0.01)
    second = ddb.put_resource_policy(ResourceArn=arn, Policy=policy_document("dynamodb:PutItem"),
                                     ExpectedRevisionId=same)["RevisionId"]
    assert int(second) > int(same)
    assert ddb.get_resource_policy(ResourceArn=arn)["RevisionId"] == second

    code, message, _ = error_of(lambda: ddb.put_resource_policy(
        ResourceArn=arn, Policy=policy_document("dynamodb:Query"), ExpectedRevisionId=same))
    assert (code, message) == ("PolicyNotFoundException",
                               f"Resource-based policy not found for the provided ResourceArn: Requested update for policy "
                               f"with revision id {same}, but the policy associated to target table guarded has revision id {second}.")
    code, message, _ = error_of(lambda: ddb.put_resource_policy(
        ResourceArn=arn, Policy=policy_document("dynamodb:Query"), ExpectedRevisionId="NO_POLICY"))
    assert (code, message) == ("PolicyNotFoundException",
                               "Resource-based policy not found for the provided ResourceArn: Requested policy update expecting "
                               f"none to be present for table guarded, but a policy exists with revision id {second}.")
    code, message, _ = error_of(lambda: ddb.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId="unknown"))
    assert code == "PolicyNotFoundException" and "revision id unknown" in message

    assert ddb.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId=second)["RevisionId"] == second
    code, message, _ = error_of(lambda: ddb.get_resource_policy(ResourceArn=arn))
    assert (code, message) == ("PolicyNotFoundException", f"Resource-based policy not found for the provided ResourceArn: {arn}")
    assert ddb.put_resource_policy(ResourceArn=arn, Policy=policy_document("dynamodb:Scan"), ExpectedRevisionId="NO_POLICY")

    # The stream has a policy of its own.
    stream = ddb.describe_table(TableName="guarded")["Table"]["LatestStreamArn"]
    code, _, _ = error_of(lambda: ddb.get_resource_policy(ResourceArn=stream))
    assert code == "PolicyNotFoundException"
    ddb.put_resource_policy(ResourceArn=stream, Policy=policy_document("dynamodb:GetRecords"))
    assert "GetRecords" in ddb.get_resource_policy(ResourceArn=stream)["Policy"]
    assert "Scan" in ddb.get_resource_policy(ResourceArn=arn)["Policy"]
    # A new stream starts without a policy; the old stream's ARN has none either.
    ddb.update_table(TableName="guarded", StreamSpecification={"StreamEnabled": False})
    ddb.update_table(TableName="guarded", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    new_stream = ddb.describe_table(TableName="guarded")["Table"]["LatestStreamArn"]
    assert new_stream != stream
    for old_or_new in (stream, new_stream):
        code, _, _ = error_of(lambda: ddb.get_resource_policy(ResourceArn=old_or_new))
        assert code == "PolicyNotFoundException"

    code, message, _ = error_of(lambda: ddb.get_resource_policy(ResourceArn=arn + "unknown"))
    assert (code, message) == ("ResourceNotFoundException", "Requested resource not found: Table: guardedunknown not found")
    code, message, _ = error_of(lambda: ddb.put_resource_policy(ResourceArn=arn + "/backup/0170", Policy="{}"))
    assert (code, message) == ("ValidationException", "One or more parameter values were invalid: "
                               f"Provided Arn is not a DynamoDB resource arn: {arn}/backup/0170")
    code, _, _ = error_of(lambda: ddb.put_resource_policy(ResourceArn=arn, Policy="not json"))
    assert code == "ValidationException"
    code, _, _ = error_of(lambda: ddb.get_resource_policy(ResourceArn=arn.replace("000000000000", "111111111111")))
    assert code == "AccessDeniedException"
    # The policy goes with its table.
    ddb.delete_table(TableName="guarded")
    make_table(ddb, "guarded")
    code, _, _ = error_of(lambda: ddb.get_resource_policy(ResourceArn=arn))
    assert code == "PolicyNotFoundException"
