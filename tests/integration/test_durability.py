"""Nothing acknowledged is lost: kill -9 a server under write load, restart it on the same
data directory, and check every acknowledged write.

The write path exercised end to end is STS's: each issued temporary credential is a
durable storage commit before the answer, and must work after the restart.
"""
import pytest

from conftest import kill_9_during_writes


@pytest.mark.parametrize("fsync", ["default", "always"])
def test_kill_9_under_write_load_loses_nothing_acknowledged(start_brume, tmp_path, fsync):
    first = start_brume(data_dir=str(tmp_path), args=["--fsync", fsync])
    acknowledged = kill_9_during_writes(
        first, "sts", lambda sts, w, i: sts.get_session_token(DurationSeconds=900)["Credentials"], enough=150, writers=8
    )
    second = start_brume(data_dir=str(tmp_path), args=["--fsync", fsync])
    for c in acknowledged:
        sts = second.client("sts", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"], token=c["SessionToken"])
        assert sts.get_caller_identity()["Account"] == "000000000000", c["AccessKeyId"]


def test_kill_9_during_s3_uploads_keeps_every_acknowledged_object(start_brume, tmp_path):
    import hashlib
    import os
    first = start_brume(data_dir=str(tmp_path))
    first.client("s3").create_bucket(Bucket="crash")

    def write(s3, n, i):
        key = f"w{n}/obj{i}"
        # Sizes from a few bytes to a few hundred KiB, so some uploads are mid-body at the kill.
        body = os.urandom(17 + (i * 7919) % 400_000)
        s3.put_object(Bucket="crash", Key=key, Body=body)
        return key, hashlib.md5(body).hexdigest()

    acknowledged = dict(kill_9_during_writes(first, "s3", write, enough=120))
    second = start_brume(data_dir=str(tmp_path))
    s3 = second.client("s3")
    for key, md5 in acknowledged.items():
        body = s3.get_object(Bucket="crash", Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == md5, key
    # Nothing half-written is visible: every listed object reads back whole.
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crash"):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket="crash", Key=o["Key"])["Body"].read()
            assert len(body) == o["Size"]
            assert hashlib.md5(body).hexdigest() == o["ETag"].strip('"')
