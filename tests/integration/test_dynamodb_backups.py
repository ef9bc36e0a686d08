"""DynamoDB backups through boto3 and the AWS CLI: on-demand backups (CreateBackup,
DescribeBackup, ListBackups, DeleteBackup, RestoreTableFromBackup) and point-in-time
recovery (RestoreTableToPointInTime), exports to S3 (ExportTableToPointInTime,
DescribeExport, ListExports), their errors, and all of them across restarts."""
import base64
import datetime
import gzip
import hashlib
import json
import math
import re
import time
import urllib.request

import pytest

from test_dynamodb import error_of, make_table

BACKUP_ARN = re.compile(r"arn:aws:dynamodb:us-east-1:000000000000:table/(\S+)/backup/\d{14}-[0-9a-f]{8}$")


@pytest.fixture
def ddb(server):
    return server.client("dynamodb")


def fill(ddb, table, count, start=0):
    for first in range(start, start + count, 25):
        requests = [{"PutRequest": {"Item": {"pk": {"S": f"p{i % 7}"}, "sk": {"N": str(i)}, "g": {"S": f"g{i % 3}"},
                                             "body": {"S": "x" * (i % 50)}}}}
                    for i in range(first, min(first + 25, start + count))]
        ddb.batch_write_item(RequestItems={table: requests})


def scan_all(ddb, table):
    items, kwargs = [], {}
    while True:
        page = ddb.scan(TableName=table, **kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: int(i["sk"]["N"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def gsi_counts(ddb, table):
    return [ddb.query(TableName=table, IndexName="by-g", KeyConditionExpression="g = :g", Select="COUNT",
                      ExpressionAttributeValues={":g": {"S": f"g{n}"}})["Count"] for n in range(3)]


def source_table(ddb, name="source"):
    return make_table(
        ddb, name, range_type="N", more_attributes=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        Tags=[{"Key": "team", "Value": "core"}])


def test_a_restored_table_holds_the_items_of_the_backup_time(ddb):
    source_table(ddb)
    fill(ddb, "source", 2300)  # more than one copy batch
    ddb.update_time_to_live(TableName="source", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    before = scan_all(ddb, "source")
    size = ddb.describe_table(TableName="source")["Table"]["TableSizeBytes"]

    details = ddb.create_backup(TableName="source", BackupName="nightly")["BackupDetails"]
    assert BACKUP_ARN.match(details["BackupArn"]).group(1) == "source"
    assert details["BackupName"] == "nightly" and details["BackupStatus"] == "AVAILABLE"
    assert details["BackupType"] == "USER" and details["BackupSizeBytes"] == size
    assert isinstance(details["BackupCreationDateTime"], datetime.datetime)

    # Changes after the backup are not in it.
    ddb.delete_item(TableName="source", Key={"pk": {"S": "p0"}, "sk": {"N": "0"}})
    ddb.put_item(TableName="source", Item={"pk": {"S": "late"}, "sk": {"N": "99999"}, "g": {"S": "g0"}})

    description = ddb.describe_backup(BackupArn=details["BackupArn"])["BackupDescription"]
    assert description["BackupDetails"] == details
    source = description["SourceTableDetails"]
    assert source["TableName"] == "source" and source["ItemCount"] == 2300 and source["TableSizeBytes"] == size
    assert source["BillingMode"] == "PAY_PER_REQUEST"
    assert source["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/source"
    assert source["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    features = description["SourceTableFeatureDetails"]
    assert [i["IndexName"] for i in features["GlobalSecondaryIndexes"]] == ["by-g"]
    assert features["StreamDescription"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert features["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}

    restored = ddb.restore_table_from_backup(TargetTableName="copy", BackupArn=details["BackupArn"])["TableDescription"]
    assert restored["TableName"] == "copy" and restored["ItemCount"] == 2300
    summary = restored["RestoreSummary"]
    assert summary["SourceBackupArn"] == details["BackupArn"] and summary["RestoreInProgress"] is False
    assert summary["SourceTableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/source"
    assert summary["RestoreDateTime"] == details["BackupCreationDateTime"]
    ddb.get_waiter("table_exists").wait(TableName="copy", WaiterConfig={"Delay": 1})

    assert scan_all(ddb, "copy") == before
    assert gsi_counts(ddb, "copy") == [767, 767, 766]
    table = ddb.describe_table(TableName="copy")["Table"]
    assert table["TableSizeBytes"] == size and table["TableId"] != ddb.describe_table(TableName="source")["Table"]["TableId"]
    assert table["GlobalSecondaryIndexes"][0]["ItemCount"] == 2300
    assert table["RestoreSummary"] == summary
    # Streams, TTL and tags are not restored, as on AWS.
    assert "StreamSpecification" not in table and "LatestStreamArn" not in table
    assert ddb.describe_time_to_live(TableName="copy")["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    assert ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"] == []
    # The restored table is a table like any other.
    ddb.put_item(TableName="copy", Item={"pk": {"S": "new"}, "sk": {"N": "1"}, "g": {"S": "g1"}})
    assert gsi_counts(ddb, "copy") == [767, 768, 766]
    # The backup outlives its table.
    ddb.delete_table(TableName="source")
    assert ddb.describe_backup(BackupArn=details["BackupArn"])["BackupDescription"]["BackupDetails"]["BackupStatus"] == "AVAILABLE"
    ddb.restore_table_from_backup(TargetTableName="source", BackupArn=details["BackupArn"])
    assert scan_all(ddb, "source") == before


def test_restore_overrides_billing_indexes_and_encryption(ddb):
    source_table(ddb, "plain")
    fill(ddb, "plain", 40)
    arn = ddb.create_backup(TableName="plain", BackupName="bk1")["BackupDetails"]["BackupArn"]

    table = ddb.restore_table_from_backup(
        TargetTableName="provisioned", BackupArn=arn, BillingModeOverride="PROVISIONED",
        ProvisionedThroughputOverride={"ReadCapacityUnits": 7, "WriteCapacityUnits": 3},
        GlobalSecondaryIndexOverride=[], SSESpecificationOverride={"Enabled": True, "SSEType": "KMS"},
    )["TableDescription"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 7 and table["ProvisionedThroughput"]["WriteCapacityUnits"] == 3
    assert "GlobalSecondaryIndexes" not in table
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}]
    assert table["SSEDescription"]["Status"] == "ENABLED" and table["SSEDescription"]["SSEType"] == "KMS"
    assert table["ItemCount"] == 40
    code, message, _ = error_of(lambda: ddb.query(TableName="provisioned", IndexName="by-g", KeyConditionExpression="g = :g",
                                                  ExpressionAttributeValues={":g": {"S": "g0"}}))
    assert code == "ValidationException" and "by-g" in message

    # Another index instead of the backed-up one: built from the restored items.
    other = ddb.restore_table_from_backup(
        TargetTableName="by-pk", BackupArn=arn,
        GlobalSecondaryIndexOverride=[{"IndexName": "by-sk", "KeySchema": [{"AttributeName": "sk", "KeyType": "HASH"}],
                                       "Projection": {"ProjectionType": "KEYS_ONLY"}}],
    )["TableDescription"]
    assert [(i["IndexName"], i["ItemCount"]) for i in other["GlobalSecondaryIndexes"]] == [("by-sk", 40)]
    hit = ddb.query(TableName="by-pk", IndexName="by-sk", KeyConditionExpression="sk = :s",
                    ExpressionAttributeValues={":s": {"N": "12"}})["Items"]
    assert hit == [{"pk": {"S": "p5"}, "sk": {"N": "12"}}]

    code, message, _ = error_of(lambda: ddb.restore_table_from_backup(
        TargetTableName="bad", BackupArn=arn, BillingModeOverride="PROVISIONED"))
    assert (code, message) == ("ValidationException", "No provisioned throughput specified for the table")
    code, message, _ = error_of(lambda: ddb.restore_table_from_backup(
        TargetTableName="bad", BackupArn=arn, ProvisionedThroughputOverride={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}))
    assert code == "ValidationException" and "PAY_PER_REQUEST" in message


def test_backup_errors(ddb, server):
    make_table(ddb, "tab1")
    arn = ddb.create_backup(TableName="tab1", BackupName="first")["BackupDetails"]["BackupArn"]

    code, message, _ = error_of(lambda: ddb.create_backup(TableName="nosuch", BackupName="bkp"))
    assert (code, message) == ("TableNotFoundException", "Table not found: nosuch")
    code, message, _ = error_of(lambda: ddb.create_backup(TableName="tab1", BackupName="has space"))
    assert code == "ValidationException"
    assert "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+" in message

    missing = arn[:-8] + "00000000"
    for call in (lambda: ddb.describe_backup(BackupArn=missing), lambda: ddb.delete_backup(BackupArn=missing),
                 lambda: ddb.restore_table_from_backup(TargetTableName="tab2", BackupArn=missing)):
        code, message, _ = error_of(call)
        assert (code, message) == ("BackupNotFoundException", f"Backup not found: {missing}")

    code, message, _ = error_of(lambda: ddb.restore_table_from_backup(TargetTableName="tab1", BackupArn=arn))
    assert (code, message) == ("TableAlreadyExistsException", "Table already exists: tab1")
    code, _, _ = error_of(lambda: ddb.describe_backup(BackupArn=arn.replace("000000000000", "111111111111")))
    assert code == "AccessDeniedException"
    # Another account does not see this account's backups.
    other = server.client("dynamodb", access_key="111111111111")
    assert other.list_backups()["BackupSummaries"] == []

    deleted = ddb.delete_backup(BackupArn=arn)["BackupDescription"]
    assert deleted["BackupDetails"]["BackupStatus"] == "DELETED" and deleted["SourceTableDetails"]["TableName"] == "tab1"
    code, _, _ = error_of(lambda: ddb.describe_backup(BackupArn=arn))
    assert code == "BackupNotFoundException"
    assert ddb.list_backups()["BackupSummaries"] == []


def test_list_backups_filters_and_pages(ddb):
    make_table(ddb, "alpha")
    make_table(ddb, "beta")
    arns = [ddb.create_backup(TableName=t, BackupName=f"{t}-{n}")["BackupDetails"]["BackupArn"]
            for n in range(3) for t in ("alpha", "beta")]
    listed = ddb.list_backups()["BackupSummaries"]
    assert len(listed) == 6 and "LastEvaluatedBackupArn" not in ddb.list_backups()
    # By table, then in the order they were made.
    assert [b["BackupName"] for b in listed] == ["alpha-0", "alpha-1", "alpha-2", "beta-0", "beta-1", "beta-2"]
    assert set(listed[0]) >= {"TableName", "TableId", "TableArn", "BackupArn", "BackupName", "BackupCreationDateTime",
                              "BackupStatus", "BackupType", "BackupSizeBytes"}
    assert [b["BackupArn"] for b in ddb.list_backups(TableName="beta")["BackupSummaries"]] == arns[1::2]

    pages, kwargs = [], {}
    while True:
        page = ddb.list_backups(Limit=4, **kwargs)
        pages.append([b["BackupName"] for b in page["BackupSummaries"]])
        if "LastEvaluatedBackupArn" not in page:
            break
        kwargs["ExclusiveStartBackupArn"] = page["LastEvaluatedBackupArn"]
    assert pages == [["alpha-0", "alpha-1", "alpha-2", "beta-0"], ["beta-1", "beta-2"]]

    # boto3 sends whole seconds: all were made at or after the second of the first, and before
    # the one after the last.
    first = listed[0]["BackupCreationDateTime"].replace(microsecond=0)
    after_last = max(b["BackupCreationDateTime"] for b in listed).replace(microsecond=0) + datetime.timedelta(seconds=1)

    def names(**bounds):
        return [b["BackupName"] for b in ddb.list_backups(TableName="alpha", **bounds)["BackupSummaries"]]
    assert names(TimeRangeLowerBound=first, TimeRangeUpperBound=after_last) == ["alpha-0", "alpha-1", "alpha-2"]
    assert names(TimeRangeUpperBound=first) == []
    assert names(TimeRangeLowerBound=after_last) == []
    assert ddb.list_backups(BackupType="SYSTEM")["BackupSummaries"] == []
    assert len(ddb.list_backups(BackupType="ALL")["BackupSummaries"]) == 6
    code, _, _ = error_of(lambda: ddb.list_backups(Limit=101))
    assert code == "ValidationException"


def test_backups_with_the_cli(server):
    ddb = server.client("dynamodb")
    make_table(ddb, "clitable")
    ddb.put_item(TableName="clitable", Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    _, made, _ = server.cli("dynamodb", "create-backup", "--table-name", "clitable", "--backup-name", "cli-backup")
    arn = made["BackupDetails"]["BackupArn"]
    _, listed, _ = server.cli("dynamodb", "list-backups", "--table-name", "clitable")
    assert [b["BackupArn"] for b in listed["BackupSummaries"]] == [arn]
    server.cli("dynamodb", "restore-table-from-backup", "--target-table-name", "clirestored", "--backup-arn", arn)
    server.cli("dynamodb", "wait", "table-exists", "--table-name", "clirestored")
    _, got, _ = server.cli("dynamodb", "get-item", "--table-name", "clirestored", "--key", '{"pk": {"S": "a"}}')
    assert got["Item"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    _, deleted, _ = server.cli("dynamodb", "delete-backup", "--backup-arn", arn)
    assert deleted["BackupDescription"]["BackupDetails"]["BackupStatus"] == "DELETED"


def test_backups_survive_a_restart(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    ddb = first.client("dynamodb")
    source_table(ddb, "kept")
    fill(ddb, "kept", 1200)
    arn = ddb.create_backup(TableName="kept", BackupName="before-restart")["BackupDetails"]["BackupArn"]
    before = scan_all(ddb, "kept")
    first.proc.kill()
    first.proc.wait()

    second = start_brume(data_dir=str(tmp_path))
    ddb = second.client("dynamodb")
    # The restore is the service's first request: what the service finds in progress as it
    # starts is not this restore, which its own request finishes.
    ddb.restore_table_from_backup(TargetTableName="after", BackupArn=arn)
    assert [b["BackupArn"] for b in ddb.list_backups()["BackupSummaries"]] == [arn]
    assert scan_all(ddb, "after") == before
    assert gsi_counts(ddb, "after") == [400, 400, 400]


def next_second():
    """Waits past the next whole second and answers it: boto3 sends times in whole seconds."""
    second = math.floor(time.time()) + 1
    time.sleep(second - time.time() + 0.05)
    return datetime.datetime.fromtimestamp(second, datetime.timezone.utc)


def run_job(server, job):
    req = urllib.request.Request(server.endpoint + f"/_brume/jobs/{job}", method="POST")
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def change_after(ddb, table):
    ddb.update_item(TableName=table, Key={"pk": {"S": "p1"}, "sk": {"N": "1"}}, UpdateExpression="SET body = :b, g = :g",
                    ExpressionAttributeValues={":b": {"S": "changed"}, ":g": {"S": "g2"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "p2"}, "sk": {"N": "2"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "late"}, "sk": {"N": "100"}, "g": {"S": "g0"}})


def test_a_table_is_restored_as_it_was_at_a_point_in_time(ddb, server):
    source_table(ddb, "history")
    ddb.update_continuous_backups(TableName="history", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    fill(ddb, "history", 30)
    ddb.update_item(TableName="history", Key={"pk": {"S": "p1"}, "sk": {"N": "1"}}, UpdateExpression="SET body = :b",
                    ExpressionAttributeValues={":b": {"S": "first"}})
    then = scan_all(ddb, "history")
    moment = next_second()
    change_after(ddb, "history")
    now = scan_all(ddb, "history")
    assert now != then

    table = ddb.restore_table_to_point_in_time(SourceTableName="history", TargetTableName="history-then",
                                               RestoreDateTime=moment)["TableDescription"]
    assert table["ItemCount"] == 30
    summary = table["RestoreSummary"]
    assert summary["SourceTableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/history"
    assert summary["RestoreDateTime"] == moment and summary["RestoreInProgress"] is False
    assert "SourceBackupArn" not in summary
    assert scan_all(ddb, "history-then") == then
    assert gsi_counts(ddb, "history-then") == [10, 10, 10]
    assert ddb.describe_continuous_backups(TableName="history-then")["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"

    arn = ddb.describe_table(TableName="history")["Table"]["TableArn"]
    ddb.restore_table_to_point_in_time(SourceTableArn=arn, TargetTableName="history-now", UseLatestRestorableTime=True)
    assert scan_all(ddb, "history-now") == now
    assert gsi_counts(ddb, "history-now") == [11, 9, 10]
    # The restores' own copies are not backups anyone sees.
    assert ddb.list_backups()["BackupSummaries"] == []

    make_table(ddb, "no-recovery")
    code, message, _ = error_of(lambda: ddb.restore_table_to_point_in_time(
        SourceTableName="no-recovery", TargetTableName="x-copy", UseLatestRestorableTime=True))
    assert (code, message) == ("PointInTimeRecoveryUnavailableException",
                               "Point in time recovery is not enabled for table 'no-recovery'")
    for at in (moment - datetime.timedelta(days=1), moment + datetime.timedelta(days=1)):
        code, _, _ = error_of(lambda: ddb.restore_table_to_point_in_time(
            SourceTableName="history", TargetTableName="x-copy", RestoreDateTime=at))
        assert code == "InvalidRestoreTimeException"
    code, message, _ = error_of(lambda: ddb.restore_table_to_point_in_time(
        SourceTableName="history", TargetTableName="history-then", UseLatestRestorableTime=True))
    assert (code, message) == ("TableAlreadyExistsException", "Table already exists: history-then")
    code, message, _ = error_of(lambda: ddb.restore_table_to_point_in_time(
        SourceTableName="nosuch", TargetTableName="x-copy", UseLatestRestorableTime=True))
    assert (code, message) == ("TableNotFoundException", "Table not found: nosuch")
    code, _, _ = error_of(lambda: ddb.restore_table_to_point_in_time(
        SourceTableName="history", TargetTableName="x-copy", UseLatestRestorableTime=True, RestoreDateTime=moment))
    assert code == "ValidationException"

    # Turned off, the history is forgotten; turned on again, restores start from then.
    ddb.update_continuous_backups(TableName="history", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    assert run_job(server, "dynamodb-pitr-trim")["removed"] >= 33
    ddb.update_continuous_backups(TableName="history", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    code, _, _ = error_of(lambda: ddb.restore_table_to_point_in_time(
        SourceTableName="history", TargetTableName="x-copy", RestoreDateTime=moment))
    assert code == "InvalidRestoreTimeException"
    assert run_job(server, "dynamodb-pitr-trim")["removed"] == 0


def test_point_in_time_history_survives_kill_9(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    ddb = first.client("dynamodb")
    source_table(ddb, "durable")
    ddb.update_continuous_backups(TableName="durable", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    fill(ddb, "durable", 60)
    then = scan_all(ddb, "durable")
    moment = next_second()
    change_after(ddb, "durable")
    first.proc.kill()
    first.proc.wait()

    ddb = start_brume(data_dir=str(tmp_path)).client("dynamodb")
    ddb.restore_table_to_point_in_time(SourceTableName="durable", TargetTableName="durable-then", RestoreDateTime=moment)
    assert scan_all(ddb, "durable-then") == then


def wait_done(describe, status):
    """Polls `describe` until its answer's `status` leaves IN_PROGRESS; that answer."""
    for _ in range(300):
        described = describe()
        if described[status] != "IN_PROGRESS":
            return described
        time.sleep(0.1)
    raise AssertionError(f"{described} did not end")


def wait_export(ddb, arn):
    return wait_done(lambda: ddb.describe_export(ExportArn=arn)["ExportDescription"], "ExportStatus")


def test_export_to_s3_writes_the_table_as_it_was(ddb, server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="exports")
    source_table(ddb, "exported")
    arn = ddb.describe_table(TableName="exported")["Table"]["TableArn"]
    ddb.update_continuous_backups(TableName="exported", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    fill(ddb, "exported", 1500)
    then = scan_all(ddb, "exported")
    moment = next_second()
    change_after(ddb, "exported")

    started = ddb.export_table_to_point_in_time(TableArn=arn, ExportTime=moment, S3Bucket="exports", S3Prefix="snap",
                                                ClientToken="nightly-1")["ExportDescription"]
    assert started["ExportStatus"] == "IN_PROGRESS" and started["ExportFormat"] == "DYNAMODB_JSON"
    assert re.match(r"arn:aws:dynamodb:us-east-1:000000000000:table/exported/export/\d{14}-[0-9a-f]{8}$", started["ExportArn"])
    export = wait_export(ddb, started["ExportArn"])
    assert export["ExportStatus"] == "COMPLETED" and export["ItemCount"] == 1500
    assert export["ExportTime"] == moment and export["TableArn"] == arn and export["S3Prefix"] == "snap"
    folder = f"snap/AWSDynamoDB/{started['ExportArn'].rsplit('/', 1)[1]}/"
    assert export["ExportManifest"] == folder + "manifest-summary.json"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="exports", Prefix=folder)["Contents"]]
    assert folder + "_started" in keys and folder + "manifest-files.json" in keys

    summary = json.loads(s3.get_object(Bucket="exports", Key=export["ExportManifest"])["Body"].read())
    assert summary["itemCount"] == 1500 and summary["exportArn"] == started["ExportArn"]
    assert summary["outputFormat"] == "DYNAMODB_JSON" and summary["manifestFilesS3Key"] == folder + "manifest-files.json"
    files = [json.loads(line) for line in s3.get_object(Bucket="exports", Key=folder + "manifest-files.json")["Body"].read().splitlines()]
    exported = []
    for f in files:
        body = s3.get_object(Bucket="exports", Key=f["dataFileS3Key"])["Body"].read()
        assert base64.b64encode(hashlib.md5(body).digest()).decode() == f["md5Checksum"]
        lines = gzip.decompress(body).decode().splitlines()
        assert len(lines) == f["itemCount"]
        exported += [json.loads(line)["Item"] for line in lines]
    assert sorted(exported, key=lambda i: int(i["sk"]["N"])) == then

    # The same client token answers the same export.
    again = ddb.export_table_to_point_in_time(TableArn=arn, ExportTime=moment, S3Bucket="exports", S3Prefix="snap",
                                              ClientToken="nightly-1")["ExportDescription"]
    assert again["ExportArn"] == started["ExportArn"]
    # Without a time: the table now; into a bucket that does not exist: failed.
    now = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="exports")["ExportDescription"]
    assert wait_export(ddb, now["ExportArn"])["ItemCount"] == 1500  # one added, one deleted
    missing = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="no-such-bucket")["ExportDescription"]
    failed = wait_export(ddb, missing["ExportArn"])
    assert failed["ExportStatus"] == "FAILED" and failed["FailureCode"] == "NoSuchBucket"

    listed = ddb.list_exports(TableArn=arn)["ExportSummaries"]
    assert [e["ExportArn"] for e in listed] == [started["ExportArn"], now["ExportArn"], missing["ExportArn"]]
    assert [e["ExportStatus"] for e in listed] == ["COMPLETED", "COMPLETED", "FAILED"]
    first = ddb.list_exports(MaxResults=2)
    assert len(first["ExportSummaries"]) == 2
    rest = ddb.list_exports(MaxResults=2, NextToken=first["NextToken"])
    assert [e["ExportArn"] for e in rest["ExportSummaries"]] == [missing["ExportArn"]] and "NextToken" not in rest

    make_table(ddb, "unrecovered")
    other = ddb.describe_table(TableName="unrecovered")["Table"]["TableArn"]
    code, message, _ = error_of(lambda: ddb.export_table_to_point_in_time(TableArn=other, S3Bucket="exports"))
    assert (code, message) == ("PointInTimeRecoveryUnavailableException",
                               "Point in time recovery is not enabled for table 'unrecovered'")
    code, _, _ = error_of(lambda: ddb.export_table_to_point_in_time(
        TableArn=arn, S3Bucket="exports", ExportTime=moment + datetime.timedelta(days=1)))
    assert code == "InvalidExportTimeException"
    code, message, _ = error_of(lambda: ddb.describe_export(ExportArn=started["ExportArn"][:-8] + "00000000"))
    assert code == "ExportNotFoundException"


def test_export_with_the_cli(server):
    ddb = server.client("dynamodb")
    server.client("s3").create_bucket(Bucket="cli-exports")
    make_table(ddb, "cliexport")
    ddb.update_continuous_backups(TableName="cliexport", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    ddb.put_item(TableName="cliexport", Item={"pk": {"S": "a"}})
    arn = ddb.describe_table(TableName="cliexport")["Table"]["TableArn"]
    _, started, _ = server.cli("dynamodb", "export-table-to-point-in-time", "--table-arn", arn, "--s3-bucket", "cli-exports")
    export = wait_export(ddb, started["ExportDescription"]["ExportArn"])
    assert export["ExportStatus"] == "COMPLETED" and export["ItemCount"] == 1
    _, described, _ = server.cli("dynamodb", "describe-export", "--export-arn", export["ExportArn"])
    assert described["ExportDescription"]["ExportManifest"] == export["ExportManifest"]


def wait_import(ddb, arn):
    return wait_done(lambda: ddb.describe_import(ImportArn=arn)["ImportTableDescription"], "ImportStatus")


PEOPLE = {"TableName": "people", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
          "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"},
                                   {"AttributeName": "team", "AttributeType": "S"}],
          "BillingMode": "PAY_PER_REQUEST",
          "GlobalSecondaryIndexes": [{"IndexName": "by-team", "KeySchema": [{"AttributeName": "team", "KeyType": "HASH"}],
                                      "Projection": {"ProjectionType": "ALL"}}]}


def test_import_from_s3_makes_a_table_of_csv_or_dynamodb_json(ddb, server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="seed")
    s3.put_object(Bucket="seed", Key="people/a.csv",
                  Body=b'id,name,team,age\r\n1,Ann,core,30\r\n2,"Bob, Jr.",core,\r\n3,"two\nlines ""quoted""",web,5\r\nx,bad,core,1\r\n')
    s3.put_object(Bucket="seed", Key="people/b.csv", Body=b"id,name,team\n4,Dee,web\n")
    s3.put_object(Bucket="seed", Key="elsewhere.csv", Body=b"id,name\n9,Not imported\n")

    started = ddb.import_table(S3BucketSource={"S3Bucket": "seed", "S3KeyPrefix": "people/"}, InputFormat="CSV",
                               TableCreationParameters=PEOPLE, ClientToken="seed-1")["ImportTableDescription"]
    assert started["ImportStatus"] == "IN_PROGRESS"
    assert re.match(r"arn:aws:dynamodb:us-east-1:000000000000:table/people/import/\d{14}-[0-9a-f]{8}$", started["ImportArn"])
    done = wait_import(ddb, started["ImportArn"])
    assert done["ImportStatus"] == "COMPLETED"
    assert (done["ProcessedItemCount"], done["ImportedItemCount"], done["ErrorCount"]) == (5, 4, 1)
    assert done["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/people"
    ddb.get_waiter("table_exists").wait(TableName="people", WaiterConfig={"Delay": 1})
    items = sorted(ddb.scan(TableName="people")["Items"], key=lambda i: int(i["id"]["N"]))
    assert items == [
        {"id": {"N": "1"}, "name": {"S": "Ann"}, "team": {"S": "core"}, "age": {"S": "30"}},
        {"id": {"N": "2"}, "name": {"S": "Bob, Jr."}, "team": {"S": "core"}},
        {"id": {"N": "3"}, "name": {"S": 'two\nlines "quoted"'}, "team": {"S": "web"}, "age": {"S": "5"}},
        {"id": {"N": "4"}, "name": {"S": "Dee"}, "team": {"S": "web"}},
    ]
    web = ddb.query(TableName="people", IndexName="by-team", KeyConditionExpression="team = :t",
                    ExpressionAttributeValues={":t": {"S": "web"}})["Items"]
    assert sorted(i["id"]["N"] for i in web) == ["3", "4"]
    again = ddb.import_table(S3BucketSource={"S3Bucket": "seed", "S3KeyPrefix": "people/"}, InputFormat="CSV",
                             TableCreationParameters=PEOPLE, ClientToken="seed-1")["ImportTableDescription"]
    assert again["ImportArn"] == started["ImportArn"]

    # Gzipped CSV with its header given, and another delimiter.
    s3.put_object(Bucket="seed", Key="semi/part-1.csv.gz", Body=gzip.compress(b"7;Eve;ops\n8;Fay;ops\n"))
    params = dict(PEOPLE, TableName="semicolons")
    semi = ddb.import_table(S3BucketSource={"S3Bucket": "seed", "S3KeyPrefix": "semi/"}, InputFormat="CSV",
                            InputCompressionType="GZIP", TableCreationParameters=params,
                            InputFormatOptions={"Csv": {"Delimiter": ";", "HeaderList": ["id", "name", "team"]}})
    assert wait_import(ddb, semi["ImportTableDescription"]["ImportArn"])["ImportedItemCount"] == 2
    assert ddb.get_item(TableName="semicolons", Key={"id": {"N": "8"}})["Item"]["name"] == {"S": "Fay"}

    # What an export wrote, imported back.
    lines = b"".join(json.dumps({"Item": i}).encode() + b"\n" for i in items) + b"not json\n"
    s3.put_object(Bucket="seed", Key="dump/AWSDynamoDB/x/data/one.json.gz", Body=gzip.compress(lines))
    copy = ddb.import_table(S3BucketSource={"S3Bucket": "seed", "S3KeyPrefix": "dump/"}, InputFormat="DYNAMODB_JSON",
                            InputCompressionType="GZIP", TableCreationParameters=dict(PEOPLE, TableName="people-copy"))
    copied = wait_import(ddb, copy["ImportTableDescription"]["ImportArn"])
    assert (copied["ImportedItemCount"], copied["ErrorCount"]) == (4, 1)
    assert sorted(ddb.scan(TableName="people-copy")["Items"], key=lambda i: int(i["id"]["N"])) == items

    listed = ddb.list_imports()["ImportSummaryList"]
    assert {i["ImportArn"] for i in listed} == {started["ImportArn"], semi["ImportTableDescription"]["ImportArn"],
                                                 copy["ImportTableDescription"]["ImportArn"]}
    assert [i["ImportStatus"] for i in ddb.list_imports(TableArn=done["TableArn"])["ImportSummaryList"]] == ["COMPLETED"]
    page = ddb.list_imports(PageSize=2)
    assert len(page["ImportSummaryList"]) == 2 and len(ddb.list_imports(PageSize=2, NextToken=page["NextToken"])["ImportSummaryList"]) == 1


def test_import_errors(ddb, server):
    server.client("s3").create_bucket(Bucket="seed2")
    # An empty prefix makes an empty table.
    empty = ddb.import_table(S3BucketSource={"S3Bucket": "seed2"}, InputFormat="CSV",
                             TableCreationParameters=PEOPLE)["ImportTableDescription"]
    assert wait_import(ddb, empty["ImportArn"])["ImportStatus"] == "COMPLETED"
    assert ddb.describe_table(TableName="people")["Table"]["ItemCount"] == 0
    code, message, _ = error_of(lambda: ddb.import_table(
        S3BucketSource={"S3Bucket": "seed2"}, InputFormat="CSV", TableCreationParameters=PEOPLE))
    assert (code, message) == ("ResourceInUseException", "Table already exists: people")
    code, _, _ = error_of(lambda: ddb.import_table(
        S3BucketSource={"S3Bucket": "seed2"}, InputFormat="ION", TableCreationParameters=dict(PEOPLE, TableName="ion")))
    assert code == "ValidationException"
    code, message, _ = error_of(lambda: ddb.import_table(
        S3BucketSource={"S3Bucket": "seed2"}, InputFormat="CSV",
        TableCreationParameters=dict(PEOPLE, KeySchema=[{"AttributeName": "nope", "KeyType": "HASH"}], TableName="bad")))
    assert code == "ValidationException" and "AttributeDefinitions" in message
    missing = ddb.import_table(S3BucketSource={"S3Bucket": "no-such-bucket"}, InputFormat="CSV",
                               TableCreationParameters=dict(PEOPLE, TableName="never"))["ImportTableDescription"]
    failed = wait_import(ddb, missing["ImportArn"])
    assert failed["ImportStatus"] == "FAILED" and failed["FailureCode"] == "NoSuchBucket"
    code, _, _ = error_of(lambda: ddb.describe_table(TableName="never"))
    assert code == "ResourceNotFoundException"
    code, _, _ = error_of(lambda: ddb.describe_import(ImportArn=missing["ImportArn"][:-8] + "00000000"))
    assert code == "ImportNotFoundException"


def test_import_with_the_cli(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="cli-seed")
    s3.put_object(Bucket="cli-seed", Key="rows.csv", Body=b"pk,v\na,1\nb,2\n")
    params = json.dumps({"TableName": "cliimport", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                         "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"})
    _, started, _ = server.cli("dynamodb", "import-table", "--s3-bucket-source", "S3Bucket=cli-seed", "--input-format", "CSV",
                               "--table-creation-parameters", params)
    ddb = server.client("dynamodb")
    assert wait_import(ddb, started["ImportTableDescription"]["ImportArn"])["ImportedItemCount"] == 2
    server.cli("dynamodb", "wait", "table-exists", "--table-name", "cliimport")
    _, got, _ = server.cli("dynamodb", "get-item", "--table-name", "cliimport", "--key", '{"pk": {"S": "b"}}')
    assert got["Item"] == {"pk": {"S": "b"}, "v": {"S": "2"}}


def test_an_import_and_an_export_interrupted_by_kill_9_finish_after_restart(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    s3, ddb = first.client("s3"), first.client("dynamodb")
    s3.create_bucket(Bucket="big")
    rows = b"pk,n\n" + b"".join(b"k%06d,%d\n" % (i, i) for i in range(40000))
    s3.put_object(Bucket="big", Key="rows.csv", Body=rows)
    source_table(ddb, "exported")
    ddb.update_continuous_backups(TableName="exported", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    fill(ddb, "exported", 2000)
    arn = ddb.describe_table(TableName="exported")["Table"]["TableArn"]
    params = {"TableName": "imported", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
              "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"}
    imported = ddb.import_table(S3BucketSource={"S3Bucket": "big"}, InputFormat="CSV",
                                TableCreationParameters=params)["ImportTableDescription"]["ImportArn"]
    s3.create_bucket(Bucket="dumps")  # apart, or a rerun import would read the export's files too
    exported = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket="dumps")["ExportDescription"]["ExportArn"]
    # Wherever they are (reading, restoring, writing files, or done), a restart finishes them.
    first.proc.kill()
    first.proc.wait()

    second = start_brume(data_dir=str(tmp_path))
    ddb = second.client("dynamodb")
    done = wait_import(ddb, imported)
    assert (done["ImportStatus"], done["ImportedItemCount"], done["ErrorCount"]) == ("COMPLETED", 40000, 0)
    assert ddb.describe_table(TableName="imported")["Table"]["ItemCount"] == 40000
    assert ddb.get_item(TableName="imported", Key={"pk": {"S": "k039999"}})["Item"]["n"] == {"S": "39999"}
    export = wait_export(ddb, exported)
    assert (export["ExportStatus"], export["ItemCount"]) == ("COMPLETED", 2000)


def test_an_import_as_the_first_request_of_a_new_server_completes(start_brume):
    brume = start_brume()
    s3 = brume.client("s3")
    s3.create_bucket(Bucket="first")
    s3.put_object(Bucket="first", Key="rows.csv", Body=b"pk\n" + b"".join(b"k%d\n" % i for i in range(3000)))
    ddb = brume.client("dynamodb")
    params = {"TableName": "first", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
              "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"}
    arn = ddb.import_table(S3BucketSource={"S3Bucket": "first"}, InputFormat="CSV",
                           TableCreationParameters=params)["ImportTableDescription"]["ImportArn"]
    done = wait_import(ddb, arn)
    assert (done["ImportStatus"], done["ImportedItemCount"], done["ErrorCount"]) == ("COMPLETED", 3000, 0)
