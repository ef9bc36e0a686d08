"""S3 objects of up to 8 KiB are kept in their version record, larger ones in a blob file:
both sides of the threshold read, range, copy, version and survive kill -9 alike, and only
larger objects leave a file in the data directory."""
import hashlib
import os

import botocore.exceptions
import pytest

from conftest import kill_9_during_writes

INLINE_MAX = 8 * 1024


@pytest.fixture
def brume(start_brume, tmp_path):
    return start_brume(data_dir=str(tmp_path))


@pytest.fixture
def s3(brume):
    client = brume.client("s3")
    client.create_bucket(Bucket="small")
    return client


def blob_files(data_dir):
    return [p for p in (data_dir / "blobs").rglob("*") if p.is_file() and p.parent.name != "tmp"]


def test_objects_at_and_above_the_threshold(s3, tmp_path):
    bodies = {"empty": b"", "at": os.urandom(INLINE_MAX), "above": os.urandom(INLINE_MAX + 1)}
    for key, body in bodies.items():
        put = s3.put_object(Bucket="small", Key=key, Body=body, ChecksumAlgorithm="CRC32")
        assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    # Only the object above the threshold has a file of its own.
    assert len(blob_files(tmp_path)) == 1
    for key, body in bodies.items():
        got = s3.get_object(Bucket="small", Key=key, ChecksumMode="ENABLED")
        assert got["Body"].read() == body
        assert got["ContentLength"] == len(body)
        assert got["ChecksumCRC32"] == s3.head_object(Bucket="small", Key=key, ChecksumMode="ENABLED")["ChecksumCRC32"]
        attrs = s3.get_object_attributes(Bucket="small", Key=key, ObjectAttributes=["ObjectSize", "ETag", "Checksum"])
        assert attrs["ObjectSize"] == len(body)
        assert attrs["ETag"] == hashlib.md5(body).hexdigest()
        assert attrs["Checksum"]["ChecksumCRC32"] == got["ChecksumCRC32"]
    listed = s3.list_objects_v2(Bucket="small")["Contents"]
    assert {o["Key"]: o["Size"] for o in listed} == {k: len(b) for k, b in bodies.items()}


def test_range_gets_of_an_inline_object(s3):
    body = bytes(range(256)) * 4
    s3.put_object(Bucket="small", Key="k", Body=body)
    for header, expected, content_range in [
        ("bytes=0-9", body[:10], "bytes 0-9/1024"),
        ("bytes=1000-", body[1000:], "bytes 1000-1023/1024"),
        ("bytes=-5", body[-5:], "bytes 1019-1023/1024"),
        ("bytes=1020-5000", body[1020:], "bytes 1020-1023/1024"),
    ]:
        got = s3.get_object(Bucket="small", Key="k", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == content_range
        assert got["Body"].read() == expected
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="small", Key="k", Range="bytes=1024-")
    assert e.value.response["Error"]["Code"] == "InvalidRange"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_copies_between_inline_and_blob_objects(s3, tmp_path):
    small, large = os.urandom(3000), os.urandom(INLINE_MAX + 500)
    s3.put_object(Bucket="small", Key="small", Body=small, Metadata={"a": "1"})
    s3.put_object(Bucket="small", Key="large", Body=large)
    s3.create_bucket(Bucket="other")
    s3.copy_object(Bucket="other", Key="small-copy", CopySource="small/small")
    s3.copy_object(Bucket="other", Key="large-copy", CopySource={"Bucket": "small", "Key": "large"})
    s3.copy_object(Bucket="small", Key="small", CopySource="small/small", MetadataDirective="REPLACE",
                   Metadata={"b": "2"})
    # The large object and its copy have a file each; the small ones none.
    assert len(blob_files(tmp_path)) == 2
    for bucket, key, body in [("other", "small-copy", small), ("other", "large-copy", large),
                              ("small", "small", small)]:
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body
        assert got["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert s3.head_object(Bucket="other", Key="small-copy")["Metadata"] == {"a": "1"}
    assert s3.head_object(Bucket="small", Key="small")["Metadata"] == {"b": "2"}
    # Deleting the source leaves the copies whole.
    s3.delete_object(Bucket="small", Key="small")
    s3.delete_object(Bucket="small", Key="large")
    assert len(blob_files(tmp_path)) == 1
    assert s3.get_object(Bucket="other", Key="small-copy")["Body"].read() == small
    assert s3.get_object(Bucket="other", Key="large-copy")["Body"].read() == large


def test_overwrites_between_inline_and_blob_leave_no_file_behind(s3, tmp_path):
    large = os.urandom(INLINE_MAX * 3)
    s3.put_object(Bucket="small", Key="k", Body=large)
    assert len(blob_files(tmp_path)) == 1
    s3.put_object(Bucket="small", Key="k", Body=b"now small")
    assert blob_files(tmp_path) == []
    assert s3.get_object(Bucket="small", Key="k")["Body"].read() == b"now small"
    s3.put_object(Bucket="small", Key="k", Body=large)
    s3.delete_object(Bucket="small", Key="k")
    assert blob_files(tmp_path) == []


def test_versioned_overwrites_of_inline_objects(s3, tmp_path):
    s3.put_bucket_versioning(Bucket="small", VersioningConfiguration={"Status": "Enabled"})
    bodies = [b"first", os.urandom(INLINE_MAX + 10), b"third"]
    ids = [s3.put_object(Bucket="small", Key="k", Body=b)["VersionId"] for b in bodies]
    assert len(set(ids)) == 3
    for version_id, body in zip(ids, bodies):
        assert s3.get_object(Bucket="small", Key="k", VersionId=version_id)["Body"].read() == body
        ranged = s3.get_object(Bucket="small", Key="k", VersionId=version_id, Range="bytes=1-3")
        assert ranged["Body"].read() == body[1:4]
    assert s3.get_object(Bucket="small", Key="k")["Body"].read() == b"third"
    listed = s3.list_object_versions(Bucket="small")["Versions"]
    assert [(v["VersionId"], v["Size"], v["IsLatest"]) for v in listed] == [
        (ids[2], 5, True), (ids[1], INLINE_MAX + 10, False), (ids[0], 5, False)]
    # Removing the newest version makes the previous one current again, bytes and all.
    s3.delete_object(Bucket="small", Key="k", VersionId=ids[2])
    assert s3.get_object(Bucket="small", Key="k")["Body"].read() == bodies[1]
    s3.delete_object(Bucket="small", Key="k", VersionId=ids[1])
    assert blob_files(tmp_path) == []
    assert s3.get_object(Bucket="small", Key="k")["Body"].read() == b"first"
    # A suspended bucket's null version is replaced in place.
    s3.put_bucket_versioning(Bucket="small", VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket="small", Key="k", Body=b"null one")
    s3.put_object(Bucket="small", Key="k", Body=b"null two")
    listed = s3.list_object_versions(Bucket="small")["Versions"]
    assert [v["VersionId"] for v in listed] == ["null", ids[0]]
    assert s3.get_object(Bucket="small", Key="k", VersionId="null")["Body"].read() == b"null two"


def test_kill_9_after_inline_puts_keeps_every_acknowledged_object(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    first.client("s3").create_bucket(Bucket="crash")

    attempted = {}

    def write(s3, w, i):
        # Each writer overwrites its own few keys: after the restart a key holds its last
        # acknowledged body, or the one whose PUT the kill interrupted.
        key, body = f"w{w}/k{i % 5}", os.urandom(1 + (i * 811) % INLINE_MAX)
        attempted[key] = hashlib.md5(body).hexdigest()
        s3.put_object(Bucket="crash", Key=key, Body=body)
        return key, attempted[key]

    acknowledged = dict(kill_9_during_writes(first, "s3", write, enough=150))
    second = start_brume(data_dir=str(tmp_path))
    s3 = second.client("s3")
    for key, md5 in acknowledged.items():
        got = s3.get_object(Bucket="crash", Key=key)
        stored = hashlib.md5(got["Body"].read()).hexdigest()
        assert stored in (md5, attempted[key]), key
        assert got["ETag"] == f'"{stored}"'
    assert blob_files(tmp_path) == []
