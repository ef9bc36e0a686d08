"""S3 archive storage classes (GLACIER, DEEP_ARCHIVE) and RestoreObject, through boto3
and the AWS CLI: archived objects are described and listed but neither read nor copied
until restored; a restore is in progress for a while, then completes (by the
`s3-restores` background job) with an expiry at a midnight UTC; listings show each
object's RestoreStatus when asked; restores send `ObjectRestore:*` events; restores in
progress and completed survive a restart."""
import datetime
import email.utils
import hashlib
import json
import time
import urllib.request

import pytest

from test_s3 import error_of

ARCHIVE_MESSAGE = "The operation is not valid for the object's storage class"
SOURCE_MESSAGE = "Operation is not valid for the source object's storage class"
ONGOING = 'ongoing-request="true"'


@pytest.fixture
def s3(server):
    return server.client("s3")


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket="archive-bucket")
    return "archive-bucket"


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def expiries(before, after, days):
    """The expiry (as a UTC datetime) of a restore of `days` days asked between `before`
    and `after`: the midnight UTC after the request time plus `days` — one candidate, or
    two when the call straddled midnight."""
    def at(t):
        d = (t + datetime.timedelta(days=days)).date() + datetime.timedelta(days=1)
        return datetime.datetime(d.year, d.month, d.day, tzinfo=datetime.timezone.utc)
    return {at(before), at(after)}


def restored_header(expiry):
    return f'ongoing-request="false", expiry-date="{email.utils.format_datetime(expiry, usegmt=True)}"'


def restore(s3, bucket, key, days, **kwargs):
    """RestoreObject; answers (HTTP status, the candidate expiries of this request)."""
    before = now_utc()
    r = s3.restore_object(Bucket=bucket, Key=key, RestoreRequest={"Days": days}, **kwargs)
    after = now_utc()
    return r["ResponseMetadata"]["HTTPStatusCode"], expiries(before, after, days)


def wait_restored(s3, bucket, key, deadline_seconds=30, **kwargs):
    """Polls HeadObject until the restore completed; answers the final HeadObject."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        head = s3.head_object(Bucket=bucket, Key=key, **kwargs)
        if head.get("Restore", "").startswith('ongoing-request="false"'):
            return head
        assert time.monotonic() < deadline, f"restore of {key} not complete: {head.get('Restore')!r}"
        time.sleep(0.1)


def assert_archived(s3, bucket, key, storage_class, **kwargs):
    code, message, status, r = error_of(lambda: s3.get_object(Bucket=bucket, Key=key, **kwargs))
    assert (code, status, message) == ("InvalidObjectState", 403, ARCHIVE_MESSAGE)
    assert r["Error"]["StorageClass"] == storage_class


# --- archived objects ---------------------------------------------------------------------

@pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE"])
def test_archived_object_is_described_and_listed_but_not_read(s3, bucket, storage_class):
    s3.put_object(Bucket=bucket, Key="cold.txt", Body=b"frozen bytes", StorageClass=storage_class)
    assert_archived(s3, bucket, "cold.txt", storage_class)
    # A ranged GET is refused as well.
    code, _, status, _ = error_of(lambda: s3.get_object(Bucket=bucket, Key="cold.txt", Range="bytes=0-3"))
    assert (code, status) == ("InvalidObjectState", 403)

    head = s3.head_object(Bucket=bucket, Key="cold.txt")
    assert head["StorageClass"] == storage_class
    assert head["ContentLength"] == len(b"frozen bytes")
    assert "Restore" not in head
    assert "x-amz-restore" not in head["ResponseMetadata"]["HTTPHeaders"]

    attrs = s3.get_object_attributes(Bucket=bucket, Key="cold.txt", ObjectAttributes=["StorageClass", "ObjectSize", "ETag"])
    assert attrs["StorageClass"] == storage_class
    assert attrs["ObjectSize"] == len(b"frozen bytes")
    assert attrs["ETag"] == hashlib.md5(b"frozen bytes").hexdigest()

    [v2] = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert (v2["Key"], v2["StorageClass"], v2["Size"]) == ("cold.txt", storage_class, 12)
    [v1] = s3.list_objects(Bucket=bucket)["Contents"]
    assert (v1["Key"], v1["StorageClass"]) == ("cold.txt", storage_class)
    [version] = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert (version["Key"], version["StorageClass"]) == ("cold.txt", storage_class)


def test_copy_and_multipart_make_archived_objects(s3, bucket):
    s3.put_object(Bucket=bucket, Key="warm.txt", Body=b"warm")
    s3.copy_object(Bucket=bucket, Key="copied.txt", CopySource=f"{bucket}/warm.txt", StorageClass="GLACIER")
    assert s3.head_object(Bucket=bucket, Key="copied.txt")["StorageClass"] == "GLACIER"
    assert_archived(s3, bucket, "copied.txt", "GLACIER")
    # The source is untouched and readable.
    assert s3.get_object(Bucket=bucket, Key="warm.txt")["Body"].read() == b"warm"

    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts.bin", StorageClass="DEEP_ARCHIVE")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="parts.bin", UploadId=upload, PartNumber=1, Body=b"p" * 1024)
    s3.complete_multipart_upload(Bucket=bucket, Key="parts.bin", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    head = s3.head_object(Bucket=bucket, Key="parts.bin")
    assert head["StorageClass"] == "DEEP_ARCHIVE"
    assert head["ContentLength"] == 1024
    assert_archived(s3, bucket, "parts.bin", "DEEP_ARCHIVE")


@pytest.mark.parametrize("storage_class", ["GLACIER_IR", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "REDUCED_REDUNDANCY"])
def test_other_storage_classes_stay_readable(s3, bucket, storage_class):
    s3.put_object(Bucket=bucket, Key="k", Body=b"readable", StorageClass=storage_class)
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"readable"
    assert got["StorageClass"] == storage_class
    assert "Restore" not in got
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/k")
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"readable"
    # A restore is for archives only.
    code, message, status, _ = error_of(lambda: s3.restore_object(Bucket=bucket, Key="k", RestoreRequest={"Days": 1}))
    assert (code, status, message) == ("InvalidObjectState", 403, "Restore is not allowed for the object's current storage class")


def test_archived_source_cannot_be_copied(s3, bucket):
    s3.put_object(Bucket=bucket, Key="cold", Body=b"x" * 100, StorageClass="GLACIER")
    code, message, status, _ = error_of(lambda: s3.copy_object(Bucket=bucket, Key="other", CopySource=f"{bucket}/cold"))
    assert (code, status, message) == ("InvalidObjectState", 403, SOURCE_MESSAGE)
    # Not even in place to take it out of the archive.
    code, message, status, _ = error_of(lambda: s3.copy_object(
        Bucket=bucket, Key="cold", CopySource=f"{bucket}/cold", StorageClass="STANDARD"))
    assert (code, status, message) == ("InvalidObjectState", 403, SOURCE_MESSAGE)
    assert "other" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]

    upload = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    code, message, status, _ = error_of(lambda: s3.upload_part_copy(
        Bucket=bucket, Key="assembled", UploadId=upload, PartNumber=1, CopySource=f"{bucket}/cold"))
    assert (code, status, message) == ("InvalidObjectState", 403, SOURCE_MESSAGE)
    assert s3.list_parts(Bucket=bucket, Key="assembled", UploadId=upload).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="assembled", UploadId=upload)


# --- RestoreObject ------------------------------------------------------------------------

@pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE"])
def test_restore_makes_object_readable_until_midnight_expiry(s3, bucket, storage_class):
    body = b"archived report\n" * 64
    s3.put_object(Bucket=bucket, Key="report.txt", Body=body, StorageClass=storage_class)
    status, candidates = restore(s3, bucket, "report.txt", 2)
    assert status == 202

    # In progress: described as such, still not readable nor copyable, not asked twice.
    head = s3.head_object(Bucket=bucket, Key="report.txt")
    assert head["Restore"] == ONGOING
    assert head["StorageClass"] == storage_class
    assert_archived(s3, bucket, "report.txt", storage_class)
    code, message, status, _ = error_of(lambda: s3.copy_object(Bucket=bucket, Key="early", CopySource=f"{bucket}/report.txt"))
    assert (code, status, message) == ("InvalidObjectState", 403, SOURCE_MESSAGE)
    code, message, status, _ = error_of(lambda: s3.restore_object(Bucket=bucket, Key="report.txt", RestoreRequest={"Days": 2}))
    assert (code, status, message) == ("RestoreAlreadyInProgress", 409, "Object restore is already in progress.")

    head = wait_restored(s3, bucket, "report.txt")
    assert head["Restore"] in {restored_header(e) for e in candidates}, head["Restore"]
    assert head["StorageClass"] == storage_class  # the object stays archived; a copy is readable
    got = s3.get_object(Bucket=bucket, Key="report.txt")
    assert got["Body"].read() == body
    assert got["Restore"] == head["Restore"]
    assert got["StorageClass"] == storage_class
    ranged = s3.get_object(Bucket=bucket, Key="report.txt", Range="bytes=0-7")
    assert ranged["Body"].read() == body[:8]

    # A restored copy can be a copy source (the default class of a copy: see below).
    s3.copy_object(Bucket=bucket, Key="copy.txt", CopySource=f"{bucket}/report.txt", StorageClass="STANDARD_IA")
    copy = s3.head_object(Bucket=bucket, Key="copy.txt")
    assert copy["StorageClass"] == "STANDARD_IA"
    assert "Restore" not in copy
    assert s3.get_object(Bucket=bucket, Key="copy.txt")["Body"].read() == body

    # Asking again moves the expiry, counted from now, at once.
    status, later = restore(s3, bucket, "report.txt", 5)
    assert status == 200
    head = s3.head_object(Bucket=bucket, Key="report.txt")
    assert head["Restore"] in {restored_header(e) for e in later}, head["Restore"]
    assert s3.get_object(Bucket=bucket, Key="report.txt")["Body"].read() == body

    # An in-place copy to STANDARD takes the object out of the archive for good.
    s3.copy_object(Bucket=bucket, Key="report.txt", CopySource=f"{bucket}/report.txt", StorageClass="STANDARD")
    head = s3.head_object(Bucket=bucket, Key="report.txt")
    assert head.get("StorageClass", "STANDARD") == "STANDARD"
    assert "Restore" not in head
    got = s3.get_object(Bucket=bucket, Key="report.txt")
    assert got["Body"].read() == body
    assert "Restore" not in got
    code, _, status, _ = error_of(lambda: s3.restore_object(Bucket=bucket, Key="report.txt", RestoreRequest={"Days": 1}))
    assert (code, status) == ("InvalidObjectState", 403)


def test_copy_of_restored_object_defaults_to_standard(s3, bucket):
    # CopyObject without x-amz-storage-class stores the copy in STANDARD (AWS's API
    # reference: "If the x-amz-storage-class header is not used, the copied object will be
    # stored in the STANDARD Storage Class by default"), so the copy of a restored object
    # is an ordinary readable object, not another archived one.
    s3.put_object(Bucket=bucket, Key="cold", Body=b"thawed", StorageClass="GLACIER")
    assert restore(s3, bucket, "cold", 1)[0] == 202
    wait_restored(s3, bucket, "cold")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/cold")
    copy = s3.head_object(Bucket=bucket, Key="copy")
    assert "Restore" not in copy
    assert copy.get("StorageClass", "STANDARD") == "STANDARD"
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"thawed"


def test_restore_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="standard", Body=b"s")
    s3.put_object(Bucket=bucket, Key="cold", Body=b"c", StorageClass="GLACIER")

    code, message, status, _ = error_of(lambda: s3.restore_object(Bucket=bucket, Key="standard", RestoreRequest={"Days": 1}))
    assert (code, status, message) == ("InvalidObjectState", 403, "Restore is not allowed for the object's current storage class")

    code, _, status, _ = error_of(lambda: s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={}))
    assert (code, status) == ("MalformedXML", 400)
    # An output location belongs to SELECT restores only.
    code, _, status, _ = error_of(lambda: s3.restore_object(
        Bucket=bucket, Key="cold", RestoreRequest={"Days": 1, "OutputLocation": {"S3": {"BucketName": bucket, "Prefix": "out/"}}}))
    assert (code, status) == ("MalformedXML", 400)

    code, _, status, r = error_of(lambda: s3.restore_object(Bucket=bucket, Key="missing", RestoreRequest={"Days": 1}))
    assert (code, status) == ("NoSuchKey", 404)

    code, _, status, _ = error_of(lambda: s3.restore_object(
        Bucket=bucket, Key="cold",
        RestoreRequest={"Type": "SELECT", "Tier": "Standard", "SelectParameters": {
            "InputSerialization": {"CSV": {}}, "ExpressionType": "SQL", "Expression": "select * from S3Object",
            "OutputSerialization": {"CSV": {}}},
            "OutputLocation": {"S3": {"BucketName": bucket, "Prefix": "out/"}}}))
    assert (code, status) == ("NotImplemented", 501)

    code, _, status, _ = error_of(lambda: s3.restore_object(Bucket="no-such-bucket-here", Key="cold", RestoreRequest={"Days": 1}))
    assert (code, status) == ("NoSuchBucket", 404)

    # None of the refused requests began a restore.
    head = s3.head_object(Bucket=bucket, Key="cold")
    assert "Restore" not in head
    assert_archived(s3, bucket, "cold", "GLACIER")


def test_restore_of_an_older_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="doc", Body=b"old version", StorageClass="GLACIER")["VersionId"]
    new = s3.put_object(Bucket=bucket, Key="doc", Body=b"new version", StorageClass="GLACIER")["VersionId"]
    assert old != new

    status, candidates = restore(s3, bucket, "doc", 1, VersionId=old)
    assert status == 202
    assert s3.head_object(Bucket=bucket, Key="doc", VersionId=old)["Restore"] == ONGOING
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="doc")

    head = wait_restored(s3, bucket, "doc", VersionId=old)
    assert head["Restore"] in {restored_header(e) for e in candidates}
    got = s3.get_object(Bucket=bucket, Key="doc", VersionId=old)
    assert got["Body"].read() == b"old version"
    assert got["VersionId"] == old
    # Only that version: the latest is still archived.
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="doc")
    assert "Restore" not in s3.head_object(Bucket=bucket, Key="doc", VersionId=new)
    assert_archived(s3, bucket, "doc", "GLACIER")
    assert_archived(s3, bucket, "doc", "GLACIER", VersionId=new)
    versions = {v["VersionId"]: v for v in s3.list_object_versions(
        Bucket=bucket, Prefix="doc", OptionalObjectAttributes=["RestoreStatus"])["Versions"] if v["Key"] == "doc"}
    assert versions[old]["RestoreStatus"]["IsRestoreInProgress"] is False
    assert "RestoreStatus" not in versions[new]

    # The restored version can be a copy source by its version id, the latest cannot.
    code, message, status, _ = error_of(lambda: s3.copy_object(Bucket=bucket, Key="doc-new", CopySource=f"{bucket}/doc"))
    assert (code, status, message) == ("InvalidObjectState", 403, SOURCE_MESSAGE)
    s3.copy_object(Bucket=bucket, Key="doc-old", CopySource={"Bucket": bucket, "Key": "doc", "VersionId": old})
    # No StorageClass given: the copy is STANDARD (CopyObject's default), hence readable.
    assert s3.head_object(Bucket=bucket, Key="doc-old").get("StorageClass", "STANDARD") == "STANDARD"
    assert s3.get_object(Bucket=bucket, Key="doc-old")["Body"].read() == b"old version"


# --- listings -----------------------------------------------------------------------------

def test_listings_show_restore_status_when_asked(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a-never", Body=b"a", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="b-restoring", Body=b"b", StorageClass="GLACIER")
    s3.put_object(Bucket=bucket, Key="c-standard", Body=b"c")
    status, candidates = restore(s3, bucket, "b-restoring", 3)
    assert status == 202

    def statuses(entries):
        return {o["Key"]: o.get("RestoreStatus") for o in entries}

    in_progress = {"a-never": None, "b-restoring": {"IsRestoreInProgress": True}, "c-standard": None}
    asked = ["RestoreStatus"]
    assert statuses(s3.list_objects_v2(Bucket=bucket, OptionalObjectAttributes=asked)["Contents"]) == in_progress
    assert statuses(s3.list_objects(Bucket=bucket, OptionalObjectAttributes=asked)["Contents"]) == in_progress
    assert statuses(s3.list_object_versions(Bucket=bucket, OptionalObjectAttributes=asked)["Versions"]) == in_progress
    nothing = {"a-never": None, "b-restoring": None, "c-standard": None}
    assert statuses(s3.list_objects_v2(Bucket=bucket)["Contents"]) == nothing
    assert statuses(s3.list_objects(Bucket=bucket)["Contents"]) == nothing
    assert statuses(s3.list_object_versions(Bucket=bucket)["Versions"]) == nothing

    wait_restored(s3, bucket, "b-restoring")
    for entries in (s3.list_objects_v2(Bucket=bucket, OptionalObjectAttributes=asked)["Contents"],
                    s3.list_objects(Bucket=bucket, OptionalObjectAttributes=asked)["Contents"],
                    s3.list_object_versions(Bucket=bucket, OptionalObjectAttributes=asked)["Versions"]):
        got = statuses(entries)
        assert got["a-never"] is None and got["c-standard"] is None
        done = got["b-restoring"]
        assert done["IsRestoreInProgress"] is False
        assert isinstance(done["RestoreExpiryDate"], datetime.datetime)
        assert done["RestoreExpiryDate"] in candidates, done
    assert statuses(s3.list_objects_v2(Bucket=bucket)["Contents"]) == nothing


# --- events -------------------------------------------------------------------------------

def test_restore_sends_post_and_completed_events(server, s3, bucket):
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="restores")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "restores", "QueueArn": arn, "Events": ["s3:ObjectRestore:*"]}]})
    s3.put_object(Bucket=bucket, Key="logs/day 1.gz", Body=b"compressed", StorageClass="GLACIER")
    status, candidates = restore(s3, bucket, "logs/day 1.gz", 1)
    assert status == 202

    records = []
    deadline = time.monotonic() + 30
    while len(records) < 2 and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if body.get("Event") == "s3:TestEvent":
                continue
            records.extend(body["Records"])
    assert [r["eventName"] for r in records] == ["ObjectRestore:Post", "ObjectRestore:Completed"]
    post, completed = records
    for r in records:
        assert r["eventSource"] == "aws:s3"
        assert r["awsRegion"] == "us-east-1"
        assert r["s3"]["bucket"]["name"] == bucket
        assert r["s3"]["configurationId"] == "restores"
        assert r["s3"]["object"]["key"] == "logs/day+1.gz"
        assert r["s3"]["object"]["size"] == len(b"compressed")
        assert r["s3"]["object"]["eTag"] == hashlib.md5(b"compressed").hexdigest()
    assert completed["userIdentity"]["principalId"] == "AmazonCustomer:000000000000"
    data = completed["glacierEventData"]["restoreEventData"]
    assert data["lifecycleRestoreStorageClass"] == "GLACIER"
    expiry = datetime.datetime.fromisoformat(data["lifecycleRestorationExpiryTime"].replace("Z", "+00:00"))
    assert expiry in candidates, data
    head = s3.head_object(Bucket=bucket, Key="logs/day 1.gz")
    assert head["Restore"] == restored_header(expiry)
    # Nothing else was sent (no ObjectCreated: not configured; no second Completed): the
    # outbox is empty and so is the queue.
    with urllib.request.urlopen(server.endpoint + "/_brume/events", timeout=5) as r:
        assert json.load(r)["events"] == []
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []) == []


# --- durability ---------------------------------------------------------------------------

def test_restores_survive_restart(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    s3 = first.client("s3")
    s3.create_bucket(Bucket="durable")
    s3.put_object(Bucket="durable", Key="in-progress", Body=b"one", StorageClass="GLACIER")
    s3.put_object(Bucket="durable", Key="done", Body=b"two", StorageClass="DEEP_ARCHIVE")
    s3.put_object(Bucket="durable", Key="never", Body=b"three", StorageClass="GLACIER")
    status, done_candidates = restore(s3, "durable", "done", 4)
    assert status == 202
    done_head = wait_restored(s3, "durable", "done")
    assert done_head["Restore"] in {restored_header(e) for e in done_candidates}
    status, candidates = restore(s3, "durable", "in-progress", 1)
    assert status == 202
    assert s3.head_object(Bucket="durable", Key="in-progress")["Restore"] == ONGOING
    first.proc.kill()
    first.proc.wait()

    second = start_brume(data_dir=str(tmp_path))
    s3 = second.client("s3")
    # The restore asked before the stop was kept, and completes after the restart.
    assert s3.head_object(Bucket="durable", Key="in-progress")["Restore"] in (
        {ONGOING} | {restored_header(e) for e in candidates})
    head = wait_restored(s3, "durable", "in-progress")
    assert head["Restore"] in {restored_header(e) for e in candidates}
    assert s3.get_object(Bucket="durable", Key="in-progress")["Body"].read() == b"one"
    # The completed one is as it was.
    assert s3.head_object(Bucket="durable", Key="done")["Restore"] == done_head["Restore"]
    assert s3.get_object(Bucket="durable", Key="done")["Body"].read() == b"two"
    assert_archived(s3, "durable", "never", "GLACIER")
    second.proc.kill()
    second.proc.wait()

    third = start_brume(data_dir=str(tmp_path))
    s3 = third.client("s3")
    assert s3.head_object(Bucket="durable", Key="in-progress")["Restore"] == head["Restore"]
    assert s3.get_object(Bucket="durable", Key="in-progress")["Body"].read() == b"one"
    assert s3.get_object(Bucket="durable", Key="done")["Body"].read() == b"two"
    [status_of] = [o["RestoreStatus"] for o in s3.list_objects_v2(
        Bucket="durable", OptionalObjectAttributes=["RestoreStatus"])["Contents"] if o["Key"] == "in-progress"]
    assert status_of["IsRestoreInProgress"] is False
    assert status_of["RestoreExpiryDate"] in candidates
    code, _, status, _ = error_of(lambda: s3.restore_object(Bucket="durable", Key="never", RestoreRequest={}))
    assert (code, status) == ("MalformedXML", 400)


# --- AWS CLI ------------------------------------------------------------------------------

def test_cli_restore_object_and_head_object(server, s3, bucket, tmp_path):
    src = tmp_path / "cold.txt"
    src.write_bytes(b"cli archived bytes")
    server.cli("s3api", "put-object", "--bucket", bucket, "--key", "cold.txt", "--body", str(src),
               "--storage-class", "GLACIER")
    _, head, _ = server.cli("s3api", "head-object", "--bucket", bucket, "--key", "cold.txt")
    assert head["StorageClass"] == "GLACIER"
    assert "Restore" not in head

    out_file = tmp_path / "out.txt"
    code, _, err = server.cli("s3api", "get-object", "--bucket", bucket, "--key", "cold.txt", str(out_file), check=False)
    assert code != 0
    assert "InvalidObjectState" in err

    before = now_utc()
    code, out, err = server.cli("s3api", "restore-object", "--bucket", bucket, "--key", "cold.txt",
                                "--restore-request", "Days=1")
    after = now_utc()
    assert code == 0, err
    candidates = expiries(before, after, 1)
    _, head, _ = server.cli("s3api", "head-object", "--bucket", bucket, "--key", "cold.txt")
    assert head["Restore"] in {ONGOING} | {restored_header(e) for e in candidates}


    deadline = time.monotonic() + 30
    while not head["Restore"].startswith('ongoing-request="false"'):
        assert time.monotonic() < deadline, head
        time.sleep(0.2)
        _, head, _ = server.cli("s3api", "head-object", "--bucket", bucket, "--key", "cold.txt")
    assert head["Restore"] in {restored_header(e) for e in candidates}
    code, got, err = server.cli("s3api", "get-object", "--bucket", bucket, "--key", "cold.txt", str(out_file))
    assert out_file.read_bytes() == b"cli archived bytes"
    assert got["Restore"] == head["Restore"]

    server.cli("s3api", "put-object", "--bucket", bucket, "--key", "warm.txt", "--body", str(src))
    code, _, err = server.cli("s3api", "restore-object", "--bucket", bucket, "--key", "warm.txt",
                              "--restore-request", "Days=1", check=False)
    assert code != 0
    assert "InvalidObjectState" in err
