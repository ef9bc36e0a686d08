"""S3 through boto3 and the AWS CLI: buckets, objects, listing, copy, conditions, ranges,
checksums, addressing, presigned URLs."""
import hashlib
import os
import subprocess
import urllib.error
import urllib.request

import botocore.exceptions
import pytest
from botocore.config import Config


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r["ResponseMetadata"]["HTTPStatusCode"], r


@pytest.fixture
def s3(server):
    return server.client("s3")


@pytest.fixture
def bucket(s3):
    s3.create_bucket(Bucket="test-bucket")
    return "test-bucket"


# --- buckets -----------------------------------------------------------------------------

def test_create_head_list_delete_bucket(s3):
    s3.create_bucket(Bucket="alpha")
    s3.create_bucket(Bucket="beta")
    assert s3.head_bucket(Bucket="alpha")["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    listed = s3.list_buckets()
    assert [b["Name"] for b in listed["Buckets"]] == ["alpha", "beta"]
    assert len(listed["Owner"]["ID"]) == 64
    s3.delete_bucket(Bucket="alpha")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["beta"]


def test_list_buckets_pagination(s3):
    for n in range(5):
        s3.create_bucket(Bucket=f"page-{n}")
    first = s3.list_buckets(MaxBuckets=2)
    assert [b["Name"] for b in first["Buckets"]] == ["page-0", "page-1"]
    second = s3.list_buckets(MaxBuckets=2, ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in second["Buckets"]] == ["page-2", "page-3"]
    assert [b["Name"] for b in s3.list_buckets(Prefix="page-4")["Buckets"]] == ["page-4"]


def test_invalid_bucket_name_errors(server):
    # botocore validates some names client-side; send ones it lets through.
    s3 = server.client("s3")
    for name in ["ab", "a..b", "192.168.5.4", "xn--bucket", "bucket-s3alias"]:
        code, _, status, r = error_of(lambda: s3.create_bucket(Bucket=name))
        assert (code, status) == ("InvalidBucketName", 400), name
        assert r["Error"]["BucketName"] == name


def test_bucket_already_owned_and_exists(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="mine")
    s3.create_bucket(Bucket="mine")  # us-east-1's legacy answer: success
    west = server.client("s3", region="us-west-2")
    west.create_bucket(Bucket="west-bucket", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    code, _, status, _ = error_of(lambda: west.create_bucket(Bucket="west-bucket", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}))
    assert (code, status) == ("BucketAlreadyOwnedByYou", 409)
    other = server.client("s3", access_key="111122223333")
    code, _, status, _ = error_of(lambda: other.create_bucket(Bucket="mine"))
    assert (code, status) == ("BucketAlreadyExists", 409)


def test_location_constraints(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="in-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket="in-eu")["LocationConstraint"] == "eu-west-1"
    s3.create_bucket(Bucket="in-use1")
    assert s3.get_bucket_location(Bucket="in-use1")["LocationConstraint"] is None
    code, _, status, _ = error_of(lambda: s3.create_bucket(Bucket="x-us-east-1", CreateBucketConfiguration={"LocationConstraint": "us-east-1"}))
    assert (code, status) == ("InvalidLocationConstraint", 400)
    west = server.client("s3", region="us-west-2")
    code, message, status, _ = error_of(lambda: west.create_bucket(Bucket="no-constraint"))
    assert (code, status) == ("IllegalLocationConstraintException", 400)
    assert "unspecified location constraint" in message


def test_delete_non_empty_and_missing_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    code, _, status, r = error_of(lambda: s3.delete_bucket(Bucket=bucket))
    assert (code, status) == ("BucketNotEmpty", 409)
    code, _, status, r = error_of(lambda: s3.delete_bucket(Bucket="nope-nope"))
    assert (code, status) == ("NoSuchBucket", 404)
    assert r["Error"]["BucketName"] == "nope-nope"
    code, _, status, _ = error_of(lambda: s3.head_bucket(Bucket="nope-nope"))
    assert status == 404


def test_other_accounts_are_denied(server, bucket):
    other = server.client("s3", access_key="111122223333")
    code, _, status, _ = error_of(lambda: other.put_object(Bucket=bucket, Key="k", Body=b"x"))
    assert (code, status) == ("AccessDenied", 403)


# --- objects -----------------------------------------------------------------------------

def test_put_get_head_delete_with_metadata(s3, bucket):
    body = b"hello brume" * 100
    put = s3.put_object(
        Bucket=bucket, Key="dir/file.txt", Body=body, ContentType="text/plain", Metadata={"Owner": "me", "x": "y z"},
        CacheControl="max-age=60", ContentDisposition="attachment", ContentEncoding="identity", ContentLanguage="en",
    )
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    got = s3.get_object(Bucket=bucket, Key="dir/file.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["ContentLength"] == len(body)
    assert got["Metadata"] == {"owner": "me", "x": "y z"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "attachment"
    assert got["ContentLanguage"] == "en"
    assert got["ETag"] == put["ETag"]
    assert got["AcceptRanges"] == "bytes"
    head = s3.head_object(Bucket=bucket, Key="dir/file.txt")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == put["ETag"]
    assert head["LastModified"] == got["LastModified"]
    s3.delete_object(Bucket=bucket, Key="dir/file.txt")
    code, _, status, r = error_of(lambda: s3.get_object(Bucket=bucket, Key="dir/file.txt"))
    assert (code, status) == ("NoSuchKey", 404)
    assert r["Error"]["Key"] == "dir/file.txt"
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="dir/file.txt"))[2] == 404
    # Deleting a missing key succeeds.
    assert s3.delete_object(Bucket=bucket, Key="never")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_default_content_type_and_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentType"] == "binary/octet-stream"
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


ODD_KEYS = ["a b", "plus+sign", "pct%20x", "double//slash", "/leading", "ünïcödé/ключ/鍵", "q?x=1&y", "tab\tchar", "k" * 1024]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_round_trip(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]


def test_key_too_long(s3, bucket):
    code, _, status, _ = error_of(lambda: s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x"))
    assert (code, status) == ("KeyTooLongError", 400)


def test_overwrite_replaces(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1


def test_empty_put_then_another_put_on_the_same_connection(server, bucket):
    # botocore sends `Expect: 100-continue` with every PutObject; an empty body gets no
    # `100 Continue`, and botocore used to misread the next response on that connection.
    s3 = server.client("s3", read_timeout=10, retries={"total_max_attempts": 1})
    bodies = [b"", b"x" * 8192, b"", b"", b"y"]
    for n, body in enumerate(bodies):
        put = s3.put_object(Bucket=bucket, Key=f"k{n}", Body=body, ChecksumAlgorithm="CRC32")
        assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    for n, body in enumerate(bodies):
        assert s3.get_object(Bucket=bucket, Key=f"k{n}")["Body"].read() == body


def test_content_md5_is_checked(server, bucket):
    import base64
    s3 = server.client("s3")
    good = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    code, _, status, _ = error_of(lambda: s3.put_object(Bucket=bucket, Key="k2", Body=b"data", ContentMD5=bad))
    assert (code, status) == ("BadDigest", 400)
    code, _, status, _ = error_of(lambda: s3.put_object(Bucket=bucket, Key="k2", Body=b"data", ContentMD5="notbase64!"))
    assert (code, status) == ("InvalidDigest", 400)
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="k2"))[2] == 404
    # The bucket is checked before the body, as S3 does.
    code, _, status, _ = error_of(lambda: s3.put_object(Bucket="no-such-bucket-md5", Key="k", Body=b"data", ContentMD5=bad))
    assert (code, status) == ("NoSuchBucket", 404)


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_flexible_checksums_are_validated_stored_and_returned(s3, bucket, algorithm):
    body = os.urandom(100_000)
    put = s3.put_object(Bucket=bucket, Key="c", Body=body, ChecksumAlgorithm=algorithm)
    value = put[f"Checksum{algorithm}"]
    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got[f"Checksum{algorithm}"] == value
    head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == value
    assert "ChecksumCRC32" not in s3.head_object(Bucket=bucket, Key="c") or algorithm == "CRC32"


def test_wrong_checksum_header_is_bad_digest(s3, bucket):
    code, _, status, _ = error_of(lambda: s3.put_object(Bucket=bucket, Key="c", Body=b"abc", ChecksumSHA256="47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="))
    assert (code, status) == ("BadDigest", 400)


def test_unsigned_payload_and_signed_payload_clients(server, bucket):
    unsigned = server.client("s3", s3={"payload_signing_enabled": False})
    unsigned.put_object(Bucket=bucket, Key="u", Body=b"unsigned body")
    signed = server.client("s3", s3={"payload_signing_enabled": True}, request_checksum_calculation="when_required")
    signed.put_object(Bucket=bucket, Key="s", Body=b"signed body")
    s3 = server.client("s3")
    assert s3.get_object(Bucket=bucket, Key="u")["Body"].read() == b"unsigned body"
    assert s3.get_object(Bucket=bucket, Key="s")["Body"].read() == b"signed body"


# --- ranges and conditions ------------------------------------------------------------------

def test_range_gets(s3, bucket):
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["Body"].read() == body[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["ContentLength"] == 10
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-")["Body"].read() == body[1000:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-99999")["Body"].read() == body[1000:]
    code, _, status, r = error_of(lambda: s3.get_object(Bucket=bucket, Key="r", Range="bytes=5000-"))
    assert (code, status) == ("InvalidRange", 416)
    assert r["Error"]["ActualObjectSize"] == str(len(body))
    whole = s3.get_object(Bucket=bucket, Key="r", Range="bytes=9-3")
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_conditional_reads(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    code, _, status, _ = error_of(lambda: s3.get_object(Bucket=bucket, Key="c", IfMatch='"nope"'))
    assert (code, status) == ("PreconditionFailed", 412)
    assert error_of(lambda: s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag))[2] == 304
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="c", IfNoneMatch=etag))[2] == 304
    assert error_of(lambda: s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified))[2] == 304
    import datetime
    earlier = modified - datetime.timedelta(hours=1)
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=earlier)["Body"].read() == b"v1"
    assert error_of(lambda: s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=earlier))[2] == 412
    # If-Match true wins over If-Unmodified-Since false (RFC 7232).
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=earlier)["Body"].read() == b"v1"


def test_conditional_writes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    code, _, status, _ = error_of(lambda: s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*"))
    assert (code, status) == ("PreconditionFailed", 412)
    etag = s3.head_object(Bucket=bucket, Key="once")["ETag"]
    s3.put_object(Bucket=bucket, Key="once", Body=b"third", IfMatch=etag)
    assert error_of(lambda: s3.put_object(Bucket=bucket, Key="once", Body=b"x", IfMatch=etag))[2] == 412
    assert error_of(lambda: s3.put_object(Bucket=bucket, Key="missing", Body=b"x", IfMatch=etag))[0] == "NoSuchKey"
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"third"


# --- copy and batch delete -------------------------------------------------------------------

def test_copy_object_copies_or_replaces_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", ContentType="text/x-src", Metadata={"a": "1"})
    out = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert out["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"payload").hexdigest()
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"payload"
    assert (got["ContentType"], got["Metadata"]) == ("text/x-src", {"a": "1"})
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src", MetadataDirective="REPLACE", ContentType="text/new", Metadata={"b": "2"})
    got = s3.get_object(Bucket=bucket, Key="dst2")
    assert (got["ContentType"], got["Metadata"]) == ("text/new", {"b": "2"})
    code, message, status, _ = error_of(lambda: s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src"))
    assert (code, status) == ("InvalidRequest", 400)
    assert "copy an object to itself" in message
    assert error_of(lambda: s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/nope"))[0] == "NoSuchKey"
    code, _, status, _ = error_of(lambda: s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/src", CopySourceIfMatch='"zzz"'))
    assert (code, status) == ("PreconditionFailed", 412)


def test_user_metadata_is_limited_to_2_kb(s3, bucket):
    # Names (without x-amz-meta-) and values, in bytes: 2048 fit, one more does not.
    full = {"a": "x" * 1000, "b": "y" * 1046}
    s3.put_object(Bucket=bucket, Key="full", Body=b"x", Metadata=full)
    assert s3.head_object(Bucket=bucket, Key="full")["Metadata"] == full
    over = {"a": "x" * 1000, "b": "y" * 1046, "c": ""}
    code, message, status, r = error_of(lambda: s3.put_object(Bucket=bucket, Key="over", Body=b"x", Metadata=over))
    assert (code, status) == ("MetadataTooLarge", 400)
    assert message == "Your metadata headers exceed the maximum allowed metadata size."
    assert (r["Error"]["Size"], r["Error"]["MaxSizeAllowed"]) == ("2049", "2048")
    assert error_of(lambda: s3.head_object(Bucket=bucket, Key="over"))[2] == 404
    code, _, status, _ = error_of(lambda: s3.create_multipart_upload(Bucket=bucket, Key="over", Metadata=over))
    assert (code, status) == ("MetadataTooLarge", 400)
    code, _, status, _ = error_of(lambda: s3.copy_object(
        Bucket=bucket, Key="over", CopySource=f"{bucket}/full", MetadataDirective="REPLACE", Metadata=over))
    assert (code, status) == ("MetadataTooLarge", 400)
    # A copy that keeps the source's metadata keeps what was accepted.
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/full")
    assert s3.head_object(Bucket=bucket, Key="copy")["Metadata"] == full


def signed_put_line_by_line(server, target, headers, payload_hash, content_length, body=b""):
    """A PUT signed by botocore and sent by http.client a header line at a time: boto3's
    own transport keeps one value of a repeated header, and always sends the body it
    declares. `headers` are (name, value) pairs, repeats kept. Returns (status, body)."""
    import http.client
    from urllib.parse import urlsplit
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    request = AWSRequest(method="PUT", url=server.endpoint + target)
    for name, value in headers:
        request.headers.add_header(name, value)
    request.headers["x-amz-content-sha256"] = payload_hash
    SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    parts = urlsplit(server.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("PUT", target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", parts.netloc)
        for name, value in request.headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(content_length))
        conn.endheaders(body or None)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_repeated_metadata_headers_are_joined_by_commas(server, s3, bucket):
    # The signature covers both values, joined; each is sent on its own line.
    headers = [("x-amz-meta-k", "a"), ("x-amz-meta-k", "b")]
    status, body = signed_put_line_by_line(
        server, f"/{bucket}/repeated", headers, hashlib.sha256(b"x").hexdigest(), 1, b"x")
    assert status == 200, body
    assert s3.head_object(Bucket=bucket, Key="repeated")["Metadata"] == {"k": "a,b"}


def test_a_body_declared_over_5_gib_is_refused_before_it_is_sent(server, s3, bucket):
    # The head declares 6 GiB and no byte follows.
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    declared = 6 * 1024 ** 3
    for target in [f"/{bucket}/big", f"/{bucket}/big?partNumber=1&uploadId={upload_id}"]:
        status, body = signed_put_line_by_line(server, target, [], "UNSIGNED-PAYLOAD", declared)
        assert status == 400, body
        assert b"<Code>EntityTooLarge</Code>" in body
        assert f"<ProposedSize>{declared}</ProposedSize>".encode() in body
        assert f"<MaxSizeAllowed>{5 * 1024 ** 3}</MaxSizeAllowed>".encode() in body
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert "Parts" not in s3.list_parts(Bucket=bucket, Key="big", UploadId=upload_id)


def test_request_header_section_is_limited_to_8_kb(server, s3, bucket):
    def status_and_body(header_bytes):
        # Each header line is `name: value\r\n`; boto3 adds its own few hundred bytes.
        extra = {"x-amz-meta-pad": "p" * (header_bytes - len("x-amz-meta-pad") - 4)}
        req = urllib.request.Request(f"{server.endpoint}/{bucket}/k", data=b"x", method="PUT", headers=extra)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
    status, body = status_and_body(9000)
    assert status == 400
    assert b"<Code>RequestHeaderSectionTooLarge</Code>" in body
    assert b"<Message>Your request header section exceeds the maximum allowed size.</Message>" in body
    assert b"<MaxSizeAllowed>8192</MaxSizeAllowed>" in body
    # Under the limit the request goes on to be checked as usual (here: it is not signed).
    status, body = status_and_body(7000)
    assert status == 403 and b"RequestHeaderSectionTooLarge" not in body
    # A signed request with 2 KB of metadata and boto3's own headers is well under it.
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"a": "x" * 2047})


def test_copy_odd_key(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a b+c/ü", Body=b"odd")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "a b+c/ü"})
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"odd"


def test_delete_objects_batch_and_quiet(s3, bucket):
    for k in ["a", "b", "c"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["a", "b", "zz"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet or quiet["Deleted"] == []
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


# --- listing ---------------------------------------------------------------------------------

def test_list_v2_prefix_delimiter_pagination(s3, bucket):
    keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/x/y"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    out = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in out["Contents"]] == ["c"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "b/", "d/"]
    assert out["KeyCount"] == 4
    out = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in out["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/b/"]
    seen, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, **kwargs)
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, StartAfter="b/1")["Contents"]] == ["c", "d/x/y"]
    owner = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]["Owner"]
    assert len(owner["ID"]) == 64


def test_list_paginator_over_many_keys(s3, bucket):
    for i in range(1205):
        s3.put_object(Bucket=bucket, Key=f"k{i:05d}", Body=b"")
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))
    assert [len(p["Contents"]) for p in pages] == [1000, 205]
    assert pages[0]["MaxKeys"] == 1000


def test_list_v1_markers(s3, bucket):
    for k in ["x/1", "x/2", "y", "z"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    page = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert [o["Key"] for o in page["Contents"]] == ["x/1", "x/2"]
    assert page["IsTruncated"] and "NextMarker" not in page
    page = s3.list_objects(Bucket=bucket, Marker="x/2")
    assert [o["Key"] for o in page["Contents"]] == ["y", "z"]
    page = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["x/"]
    assert page["NextMarker"] == "x/"
    all_keys = [o["Key"] for p in s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1}) for o in p.get("Contents", [])]
    assert all_keys == ["x/1", "x/2", "y", "z"]


def test_list_encoding_type_url(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a b/ü", Body=b"")
    # boto3 asks for url encoding by default and decodes the answer.
    assert s3.list_objects_v2(Bucket=bucket, Prefix="a b/")["Contents"][0]["Key"] == "a b/ü"
    assert s3.list_objects(Bucket=bucket, Delimiter="/")["CommonPrefixes"][0]["Prefix"] == "a b/"


# --- addressing, presigned URLs, the CLI -----------------------------------------------------

@pytest.mark.parametrize("signature", ["s3v4", "s3"])
def test_virtual_host_addressing(server, bucket, localhost_names, signature):
    import boto3
    vh = boto3.client("s3", endpoint_url=server.endpoint.replace("127.0.0.1", "s3.localhost"), region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(s3={"addressing_style": "virtual"}, signature_version=signature))
    vh.put_object(Bucket=bucket, Key="vh/key", Body=b"virtual")
    assert server.client("s3").get_object(Bucket=bucket, Key="vh/key")["Body"].read() == b"virtual"
    assert [o["Key"] for o in vh.list_objects_v2(Bucket=bucket)["Contents"]] == ["vh/key"]
    url = vh.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "vh/key"})
    assert f"{bucket}.s3.localhost" in url
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"virtual"


@pytest.mark.parametrize("signature", [None, "s3v4"])
def test_presigned_get_and_put_urls_work_with_plain_http(server, bucket, signature):
    # boto3's default presigns with Signature Version 2 in us-east-1; s3v4 on request.
    s3 = server.client("s3", signature_version=signature) if signature else server.client("s3")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre signed+key"}, ExpiresIn=300)
    # urllib would add a form Content-Type, which the signature did not cover.
    req = urllib.request.Request(put_url, data=b"from presigned put", method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre signed+key"}, ExpiresIn=300)
    with urllib.request.urlopen(get_url, timeout=10) as r:
        assert r.read() == b"from presigned put"
    tampered = get_url.replace("Signature=", "Signature=0")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()


def test_presigned_put_with_curl(server, bucket, tmp_path):
    s3 = server.client("s3", signature_version="s3v4")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "curl.txt"}, ExpiresIn=300)
    f = tmp_path / "up.txt"
    f.write_bytes(b"uploaded with curl")
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(f), url], capture_output=True, text=True)
    assert out.stdout == "200", out.stderr
    assert s3.get_object(Bucket=bucket, Key="curl.txt")["Body"].read() == b"uploaded with curl"


@pytest.mark.parametrize("signature", ["s3", "s3v4"])
def test_presigned_url_expires(server, bucket, signature):
    import time
    s3 = server.client("s3", signature_version=signature)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=10)
    assert e.value.code == 403
    body = e.value.read()
    assert b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body


def test_cli_presign_and_cp_ls_rm(server, tmp_path, bucket):
    f = tmp_path / "hello.txt"
    f.write_bytes(b"hello from the cli")
    server.cli("s3", "cp", str(f), f"s3://{bucket}/cli/hello.txt")
    _, out, _ = server.cli("s3", "ls", f"s3://{bucket}/cli/")
    assert "hello.txt" in out
    _, url, _ = server.cli("s3", "presign", f"s3://{bucket}/cli/hello.txt")
    url = url.strip() if isinstance(url, str) else url
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"hello from the cli"
    back = tmp_path / "back.txt"
    server.cli("s3", "cp", f"s3://{bucket}/cli/hello.txt", str(back))
    assert back.read_bytes() == b"hello from the cli"
    server.cli("s3", "rm", f"s3://{bucket}/cli/hello.txt")
    _, out, _ = server.cli("s3api", "list-objects-v2", "--bucket", bucket)
    assert out is None or "Contents" not in out


def test_cli_sync_round_trip_is_byte_identical(server, tmp_path, bucket):
    src = tmp_path / "src"
    for rel, size in [("a.txt", 10), ("sub/b.bin", 70_000), ("sub/deeper/c.bin", 1), ("space name.txt", 5), ("ü.txt", 3)]:
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(size))
    server.cli("s3", "sync", str(src), f"s3://{bucket}/tree")
    dst = tmp_path / "dst"
    server.cli("s3", "sync", f"s3://{bucket}/tree", str(dst))
    files = sorted(p.relative_to(src) for p in src.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(dst) for p in dst.rglob("*") if p.is_file())
    for rel in files:
        assert (src / rel).read_bytes() == (dst / rel).read_bytes(), rel


def test_state_survives_restart(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    s3 = first.client("s3")
    s3.create_bucket(Bucket="durable")
    body = os.urandom(300_000)
    s3.put_object(Bucket="durable", Key="obj", Body=body)
    first.stop()
    second = start_brume(data_dir=str(tmp_path))
    assert second.client("s3").get_object(Bucket="durable", Key="obj")["Body"].read() == body
