"""S3 versioning with boto3: version ids, reads and deletes by version, delete markers,
suspended buckets and the `null` version, and ListObjectVersions."""
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import pytest


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r


@pytest.fixture
def s3(server):
    c = server.client("s3")
    c.create_bucket(Bucket="ver")
    return c


def test_versioning_state(s3):
    assert "Status" not in s3.get_bucket_versioning(Bucket="ver")
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="ver")["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket="ver")["Status"] == "Suspended"


def test_versions_delete_markers_and_restore(s3):
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="ver", Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="ver", Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket="ver", Key="doc")["Body"].read() == b"two"
    assert s3.get_object(Bucket="ver", Key="doc", VersionId=v1)["Body"].read() == b"one"
    assert s3.head_object(Bucket="ver", Key="doc", VersionId=v1)["VersionId"] == v1
    marker = s3.delete_object(Bucket="ver", Key="doc")
    assert marker["DeleteMarker"] is True
    code, status, r = error_of(lambda: s3.get_object(Bucket="ver", Key="doc"))
    assert (code, status) == ("NoSuchKey", 404)
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    code, status, _ = error_of(lambda: s3.get_object(Bucket="ver", Key="doc", VersionId=marker["VersionId"]))
    assert (code, status) == ("MethodNotAllowed", 405)
    assert "Contents" not in s3.list_objects_v2(Bucket="ver")
    listed = s3.list_object_versions(Bucket="ver")
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [(v2, False), (v1, False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(marker["VersionId"], True)]
    # Deleting the marker brings the object back.
    s3.delete_object(Bucket="ver", Key="doc", VersionId=marker["VersionId"])
    assert s3.get_object(Bucket="ver", Key="doc")["Body"].read() == b"two"
    # Deleting a version for good.
    s3.delete_object(Bucket="ver", Key="doc", VersionId=v2)
    assert s3.get_object(Bucket="ver", Key="doc")["Body"].read() == b"one"
    assert error_of(lambda: s3.get_object(Bucket="ver", Key="doc", VersionId=v2))[0] == "NoSuchVersion"
    assert error_of(lambda: s3.delete_bucket(Bucket="ver"))[0] == "BucketNotEmpty"


def test_suspended_bucket_writes_the_null_version(s3):
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket="ver", Key="k", Body=b"kept")["VersionId"]
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket="ver", Key="k", Body=b"null one")
    s3.put_object(Bucket="ver", Key="k", Body=b"null two")
    ids = [v["VersionId"] for v in s3.list_object_versions(Bucket="ver")["Versions"]]
    assert ids == ["null", kept]
    assert s3.get_object(Bucket="ver", Key="k", VersionId="null")["Body"].read() == b"null two"
    assert s3.get_object(Bucket="ver", Key="k", VersionId=kept)["Body"].read() == b"kept"


def test_list_object_versions_pagination_and_prefixes(s3):
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
    for key in ["a/1", "a/2", "b"]:
        for body in [b"x", b"y"]:
            s3.put_object(Bucket="ver", Key=key, Body=body)
    seen = []
    kwargs = {}
    while True:
        page = s3.list_object_versions(Bucket="ver", MaxKeys=4, **kwargs)
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert [k for k, _ in seen] == ["a/1", "a/1", "a/2", "a/2", "b", "b"]
    assert len(set(seen)) == 6
    grouped = s3.list_object_versions(Bucket="ver", Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/"]
    assert {v["Key"] for v in grouped["Versions"]} == {"b"}


def test_list_object_versions_pages_through_many_keys_in_order(s3):
    # More keys than Brume reads per batch (256), each with a noncurrent version or a
    # delete marker, listed in pages that end inside a key's versions.
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
    keys = [f"k/{i:03}" for i in range(300)]

    def write(key):
        first = s3.put_object(Bucket="ver", Key=key, Body=b"1")["VersionId"]
        if int(key[2:]) % 2:
            return [(key, s3.delete_object(Bucket="ver", Key=key)["VersionId"], True), (key, first, False)]
        return [(key, s3.put_object(Bucket="ver", Key=key, Body=b"2")["VersionId"], True), (key, first, False)]

    with ThreadPoolExecutor(8) as pool:
        expected = [entry for written in pool.map(write, keys) for entry in written]
    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket="ver", PaginationConfig={"PageSize": 7}):
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        # Versions and markers come in two lists; within a page, one key's versions are
        # newest first and keys in order.
        entries.sort(key=lambda e: (e["Key"], not e["IsLatest"]))
        seen += [(e["Key"], e["VersionId"], e["IsLatest"]) for e in entries]
    assert seen == expected
    first_page = s3.list_object_versions(Bucket="ver", MaxKeys=3, KeyMarker="k/150")
    assert sorted(v["Key"] for v in first_page["Versions"] + first_page["DeleteMarkers"]) == ["k/151", "k/151", "k/152"]


def test_invalid_status_is_malformed_xml(s3):
    code, status, _ = error_of(lambda: s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "On"}))
    assert (code, status) == ("MalformedXML", 400)
