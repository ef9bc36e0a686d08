"""S3 multipart uploads with boto3's transfer manager, the AWS CLI and the raw API."""
import base64
import hashlib
import os
import zlib

import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig

MIB = 1024 * 1024


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r["ResponseMetadata"]["HTTPStatusCode"], r


@pytest.fixture
def s3(server):
    c = server.client("s3")
    c.create_bucket(Bucket="mpu")
    return c


def multipart_etag(parts):
    return '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest(), len(parts))


def crc32(data):
    return zlib.crc32(data).to_bytes(4, "big")


def b64(raw):
    return base64.b64encode(raw).decode()


def chunks(path, size):
    with open(path, "rb") as f:
        while block := f.read(size):
            yield block


def test_upload_file_100mb_with_default_settings_round_trips(s3, tmp_path):
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(MIB))
    # The transfer manager's defaults: 8 MiB threshold and parts, ChecksumAlgorithm=CRC32 on
    # CreateMultipartUpload without a type, so S3's default for CRC32 applies: COMPOSITE.
    s3.upload_file(str(src), "mpu", "big.bin")
    parts = list(chunks(src, 8 * MIB))
    assert len(parts) == 13
    head = s3.head_object(Bucket="mpu", Key="big.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == 100 * MIB
    assert head["ETag"] == multipart_etag(parts)
    assert head["ChecksumType"] == "COMPOSITE"
    assert head["ChecksumCRC32"] == "%s-13" % b64(crc32(b"".join(crc32(p) for p in parts)))
    dst = tmp_path / "back.bin"
    s3.download_file("mpu", "big.bin", str(dst))
    assert hashlib.sha256(src.read_bytes()).digest() == hashlib.sha256(dst.read_bytes()).digest()


def test_cli_cp_multipart(server, s3, tmp_path):
    src = tmp_path / "cli.bin"
    src.write_bytes(os.urandom(20 * MIB))
    server.cli("s3", "cp", str(src), "s3://mpu/cli.bin")
    assert s3.head_object(Bucket="mpu", Key="cli.bin")["ETag"] == multipart_etag(list(chunks(src, 8 * MIB)))
    back = tmp_path / "cli-back.bin"
    server.cli("s3", "cp", "s3://mpu/cli.bin", str(back))
    assert src.read_bytes() == back.read_bytes()


def test_raw_api_etag_parts_and_part_number_reads(s3):
    up = s3.create_multipart_upload(Bucket="mpu", Key="raw", ContentType="text/x-raw", Metadata={"m": "1"})
    uid = up["UploadId"]
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), b"tail"]
    etags = [s3.upload_part(Bucket="mpu", Key="raw", UploadId=uid, PartNumber=i + 1, Body=p)["ETag"] for i, p in enumerate(parts)]
    assert etags[0] == '"%s"' % hashlib.md5(parts[0]).hexdigest()
    listed = s3.list_parts(Bucket="mpu", Key="raw", UploadId=uid)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert [p["Size"] for p in listed["Parts"]] == [len(p) for p in parts]
    page = s3.list_parts(Bucket="mpu", Key="raw", UploadId=uid, MaxParts=2)
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 2
    assert [p["PartNumber"] for p in s3.list_parts(Bucket="mpu", Key="raw", UploadId=uid, PartNumberMarker=2)["Parts"]] == [3]
    uploads = s3.list_multipart_uploads(Bucket="mpu")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("raw", uid)]
    done = s3.complete_multipart_upload(Bucket="mpu", Key="raw", UploadId=uid,
                                        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    assert done["ETag"] == multipart_etag(parts)
    got = s3.get_object(Bucket="mpu", Key="raw")
    assert got["Body"].read() == b"".join(parts)
    assert (got["ContentType"], got["Metadata"]) == ("text/x-raw", {"m": "1"})
    second = s3.get_object(Bucket="mpu", Key="raw", PartNumber=2)
    assert second["Body"].read() == parts[1]
    assert second["PartsCount"] == 3
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="mpu")


def test_completion_errors(s3):
    uid = s3.create_multipart_upload(Bucket="mpu", Key="bad")["UploadId"]
    small = s3.upload_part(Bucket="mpu", Key="bad", UploadId=uid, PartNumber=1, Body=b"x" * 100)["ETag"]
    last = s3.upload_part(Bucket="mpu", Key="bad", UploadId=uid, PartNumber=2, Body=b"y")["ETag"]
    code, _, status, r = error_of(lambda: s3.complete_multipart_upload(Bucket="mpu", Key="bad", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": small}, {"PartNumber": 2, "ETag": last}]}))
    assert (code, status) == ("EntityTooSmall", 400)
    code, _, status, _ = error_of(lambda: s3.complete_multipart_upload(Bucket="mpu", Key="bad", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 2, "ETag": last}, {"PartNumber": 1, "ETag": small}]}))
    assert (code, status) == ("InvalidPartOrder", 400)
    code, _, status, _ = error_of(lambda: s3.complete_multipart_upload(Bucket="mpu", Key="bad", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": '"0123"'}]}))
    assert (code, status) == ("InvalidPart", 400)
    code, _, status, _ = error_of(lambda: s3.upload_part(Bucket="mpu", Key="bad", UploadId=uid, PartNumber=10001, Body=b"z"))
    assert (code, status) == ("InvalidArgument", 400)
    s3.abort_multipart_upload(Bucket="mpu", Key="bad", UploadId=uid)
    code, _, status, r = error_of(lambda: s3.list_parts(Bucket="mpu", Key="bad", UploadId=uid))
    assert (code, status) == ("NoSuchUpload", 404)
    assert error_of(lambda: s3.upload_part(Bucket="mpu", Key="bad", UploadId="nope", PartNumber=1, Body=b"z"))[0] == "NoSuchUpload"


def test_upload_part_copy_with_range(s3):
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket="mpu", Key="source", Body=source)
    uid = s3.create_multipart_upload(Bucket="mpu", Key="copied")["UploadId"]
    first = s3.upload_part_copy(Bucket="mpu", Key="copied", UploadId=uid, PartNumber=1, CopySource="mpu/source",
                                CopySourceRange=f"bytes=0-{5 * MIB - 1}")["CopyPartResult"]["ETag"]
    second = s3.upload_part_copy(Bucket="mpu", Key="copied", UploadId=uid, PartNumber=2, CopySource="mpu/source",
                                 CopySourceRange=f"bytes={5 * MIB}-{6 * MIB - 1}")["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(Bucket="mpu", Key="copied", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]})
    assert s3.get_object(Bucket="mpu", Key="copied")["Body"].read() == source


def test_part_replacement_and_unlisted_parts(s3):
    uid = s3.create_multipart_upload(Bucket="mpu", Key="re")["UploadId"]
    s3.upload_part(Bucket="mpu", Key="re", UploadId=uid, PartNumber=1, Body=b"old")
    e1 = s3.upload_part(Bucket="mpu", Key="re", UploadId=uid, PartNumber=1, Body=b"new")["ETag"]
    s3.upload_part(Bucket="mpu", Key="re", UploadId=uid, PartNumber=2, Body=b"unlisted")
    s3.complete_multipart_upload(Bucket="mpu", Key="re", UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert s3.get_object(Bucket="mpu", Key="re")["Body"].read() == b"new"


def test_bucket_with_upload_in_progress_is_not_empty(s3):
    s3.create_multipart_upload(Bucket="mpu", Key="pending")
    assert error_of(lambda: s3.delete_bucket(Bucket="mpu"))[0] == "BucketNotEmpty"


def test_incomplete_upload_survives_restart(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    s3 = first.client("s3")
    s3.create_bucket(Bucket="resume")
    uid = s3.create_multipart_upload(Bucket="resume", Key="k")["UploadId"]
    part1 = os.urandom(5 * MIB)
    e1 = s3.upload_part(Bucket="resume", Key="k", UploadId=uid, PartNumber=1, Body=part1)["ETag"]
    assert first.stop() == 0  # SIGTERM: a clean shutdown
    second = start_brume(data_dir=str(tmp_path))
    s3 = second.client("s3")
    e2 = s3.upload_part(Bucket="resume", Key="k", UploadId=uid, PartNumber=2, Body=b"end")["ETag"]
    s3.complete_multipart_upload(Bucket="resume", Key="k", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert s3.get_object(Bucket="resume", Key="k")["Body"].read() == part1 + b"end"
    assert s3.get_object(Bucket="resume", Key="k")["ETag"] == multipart_etag([part1, b"end"])


def test_error_details(s3):
    uid = s3.create_multipart_upload(Bucket="mpu", Key="e")["UploadId"]
    small = b"x" * 100
    e1 = s3.upload_part(Bucket="mpu", Key="e", UploadId=uid, PartNumber=1, Body=small)["ETag"]
    e2 = s3.upload_part(Bucket="mpu", Key="e", UploadId=uid, PartNumber=2, Body=b"y")["ETag"]
    _, message, _, r = error_of(lambda: s3.complete_multipart_upload(Bucket="mpu", Key="e", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]}))
    assert message == "Your proposed upload is smaller than the minimum allowed size"
    err = r["Error"]
    assert (err["ProposedSize"], err["MinSizeAllowed"], err["PartNumber"]) == ("100", str(5 * MIB), "1")
    assert err["ETag"] == hashlib.md5(small).hexdigest()
    code, message, _, r = error_of(lambda: s3.complete_multipart_upload(Bucket="mpu", Key="e", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 3, "ETag": e2}]}))
    assert code == "InvalidPart"
    assert message.startswith("One or more of the specified parts could not be found.")
    assert (r["Error"]["UploadId"], r["Error"]["PartNumber"]) == (uid, "3")
    _, message, _, r = error_of(lambda: s3.complete_multipart_upload(Bucket="mpu", Key="e", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 2, "ETag": e2}]}))
    assert message == "The list of parts was not in ascending order. Parts must be ordered by part number."
    assert r["Error"]["UploadId"] == uid
    code, _, status, _ = error_of(lambda: s3.complete_multipart_upload(Bucket="mpu", Key="e", UploadId=uid,
                                                                        MultipartUpload={"Parts": []}))
    assert (code, status) == ("MalformedXML", 400)
    code, _, status, _ = error_of(lambda: s3.upload_part(Bucket="mpu", Key="e", UploadId=uid, PartNumber=1, Body=b"z",
                                                         ContentMD5=b64(hashlib.md5(b"other").digest())))
    assert (code, status) == ("BadDigest", 400)
    code, _, status, r = error_of(lambda: s3.upload_part(Bucket="mpu", Key="e", UploadId=uid, PartNumber=0, Body=b"z"))
    assert (code, status, r["Error"]["ArgumentName"]) == ("InvalidArgument", 400, "partNumber")
    s3.abort_multipart_upload(Bucket="mpu", Key="e", UploadId=uid)
    code, message, status, r = error_of(lambda: s3.abort_multipart_upload(Bucket="mpu", Key="e", UploadId=uid))
    assert (code, status, r["Error"]["UploadId"]) == ("NoSuchUpload", 404, uid)
    assert message == ("The specified upload does not exist. The upload ID may be invalid, "
                       "or the upload may have been aborted or completed.")
    assert error_of(lambda: s3.complete_multipart_upload(Bucket="mpu", Key="e", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}]}))[0] == "NoSuchUpload"
    assert error_of(lambda: s3.get_object(Bucket="mpu", Key="e"))[0] == "NoSuchKey"


def test_create_settings_reach_the_object_and_listings(s3):
    uid = s3.create_multipart_upload(Bucket="mpu", Key="dir/conf", ContentType="application/x-conf",
                                     CacheControl="no-cache", Metadata={"who": "me"}, Tagging="a=1&b=2",
                                     StorageClass="STANDARD_IA")["UploadId"]
    s3.upload_part(Bucket="mpu", Key="dir/conf", UploadId=uid, PartNumber=1, Body=b"data")
    listed = s3.list_parts(Bucket="mpu", Key="dir/conf", UploadId=uid)
    assert listed["StorageClass"] == "STANDARD_IA"
    assert listed["Owner"]["ID"] and listed["Initiator"]["ID"] == listed["Owner"]["ID"]
    assert s3.list_multipart_uploads(Bucket="mpu")["Uploads"][0]["StorageClass"] == "STANDARD_IA"
    etag = listed["Parts"][0]["ETag"]
    s3.complete_multipart_upload(Bucket="mpu", Key="dir/conf", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    head = s3.head_object(Bucket="mpu", Key="dir/conf")
    assert (head["ContentType"], head["CacheControl"], head["Metadata"]) == ("application/x-conf", "no-cache", {"who": "me"})
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["ETag"] == multipart_etag([b"data"])
    tags = s3.get_object_tagging(Bucket="mpu", Key="dir/conf")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "2")]


def test_full_object_crc32(s3):
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    whole = b"".join(parts)
    up = s3.create_multipart_upload(Bucket="mpu", Key="full", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
    assert (up["ChecksumAlgorithm"], up["ChecksumType"]) == ("CRC32", "FULL_OBJECT")
    uid = up["UploadId"]
    done = [s3.upload_part(Bucket="mpu", Key="full", UploadId=uid, PartNumber=i + 1, Body=p, ChecksumAlgorithm="CRC32")
            for i, p in enumerate(parts)]
    assert done[0]["ChecksumCRC32"] == b64(crc32(parts[0]))
    listed = s3.list_parts(Bucket="mpu", Key="full", UploadId=uid)
    assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == ("CRC32", "FULL_OBJECT")
    assert [p["ChecksumCRC32"] for p in listed["Parts"]] == [d["ChecksumCRC32"] for d in done]
    completed = [{"PartNumber": i + 1, "ETag": d["ETag"]} for i, d in enumerate(done)]
    code, message, _, _ = error_of(lambda: s3.complete_multipart_upload(
        Bucket="mpu", Key="full", UploadId=uid, MultipartUpload={"Parts": completed}, ChecksumCRC32=b64(crc32(b"no")),
        ChecksumType="FULL_OBJECT"))
    assert (code, message) == ("BadDigest", "The crc32 you specified did not match the calculated checksum.")
    code, message, _, _ = error_of(lambda: s3.complete_multipart_upload(
        Bucket="mpu", Key="full", UploadId=uid, MultipartUpload={"Parts": completed}, MpuObjectSize=1))
    assert code == "InvalidRequest" and "x-amz-mp-object-size" in message
    code, message, _, _ = error_of(lambda: s3.complete_multipart_upload(
        Bucket="mpu", Key="full", UploadId=uid, MultipartUpload={"Parts": completed}, ChecksumType="COMPOSITE"))
    assert code == "InvalidRequest" and "FULL_OBJECT checksum mode" in message
    out = s3.complete_multipart_upload(Bucket="mpu", Key="full", UploadId=uid, MultipartUpload={"Parts": completed},
                                       ChecksumCRC32=b64(crc32(whole)), ChecksumType="FULL_OBJECT",
                                       MpuObjectSize=len(whole))
    assert (out["ChecksumCRC32"], out["ChecksumType"]) == (b64(crc32(whole)), "FULL_OBJECT")
    head = s3.head_object(Bucket="mpu", Key="full", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (b64(crc32(whole)), "FULL_OBJECT")
    assert s3.get_object(Bucket="mpu", Key="full")["Body"].read() == whole


def test_composite_sha256_requires_part_checksums(s3):
    uid = s3.create_multipart_upload(Bucket="mpu", Key="sha", ChecksumAlgorithm="SHA256")["UploadId"]
    part = s3.upload_part(Bucket="mpu", Key="sha", UploadId=uid, PartNumber=1, Body=b"abc", ChecksumAlgorithm="SHA256")
    sha = hashlib.sha256(b"abc").digest()
    assert part["ChecksumSHA256"] == b64(sha)
    code, message, _, _ = error_of(lambda: s3.upload_part(Bucket="mpu", Key="sha", UploadId=uid, PartNumber=2,
                                                          Body=b"d", ChecksumAlgorithm="CRC32"))
    assert (code, message) == ("InvalidRequest", "Checksum Type mismatch occurred, expected checksum Type: sha256, "
                                                 "actual checksum Type: crc32")
    code, message, _, _ = error_of(lambda: s3.complete_multipart_upload(Bucket="mpu", Key="sha", UploadId=uid,
                                                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}))
    assert (code, message) == ("InvalidRequest", "The upload was created using a sha256 checksum. The complete request "
                                                 "must include the checksum for each part. It was missing for part 1 in the request.")
    wrong = b64(hashlib.sha256(b"x").digest())
    assert error_of(lambda: s3.complete_multipart_upload(Bucket="mpu", Key="sha", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"], "ChecksumSHA256": wrong}]}))[0] == "InvalidPart"
    out = s3.complete_multipart_upload(Bucket="mpu", Key="sha", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"], "ChecksumSHA256": part["ChecksumSHA256"]}]})
    assert (out["ChecksumSHA256"], out["ChecksumType"]) == (b64(hashlib.sha256(sha).digest()) + "-1", "COMPOSITE")


@pytest.mark.parametrize("algorithm,kind,message", [
    ("CRC64NVME", "COMPOSITE", "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."),
    ("SHA1", "FULL_OBJECT", "The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm."),
    (None, "FULL_OBJECT", "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."),
])
def test_checksum_type_rules(s3, algorithm, kind, message):
    args = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    code, got, status, _ = error_of(lambda: s3.create_multipart_upload(Bucket="mpu", Key="k", ChecksumType=kind, **args))
    assert (code, got, status) == ("InvalidRequest", message, 400)


def test_crc64nvme_defaults_to_full_object(s3):
    up = s3.create_multipart_upload(Bucket="mpu", Key="nv", ChecksumAlgorithm="CRC64NVME")
    assert up["ChecksumType"] == "FULL_OBJECT"


def test_list_multipart_uploads_pages_in_key_then_initiation_order(s3):
    started = []
    for key in ["b", "a", "b", "c/1", "c/2", "a"]:
        started.append((key, s3.create_multipart_upload(Bucket="mpu", Key=key)["UploadId"]))
    expected = sorted(started, key=lambda kv: kv[0])  # stable: initiation order within a key
    seen, kwargs = [], {}
    while True:
        page = s3.list_multipart_uploads(Bucket="mpu", MaxUploads=2, **kwargs)
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        assert len(page["Uploads"]) == 2
        kwargs = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert seen == expected
    only_c = s3.list_multipart_uploads(Bucket="mpu", Prefix="c/")
    assert [u["Key"] for u in only_c["Uploads"]] == ["c/1", "c/2"]
    rolled = s3.list_multipart_uploads(Bucket="mpu", Delimiter="/")
    assert [u["Key"] for u in rolled["Uploads"]] == ["a", "a", "b", "b"]
    assert rolled["CommonPrefixes"] == [{"Prefix": "c/"}]
    after_a = s3.list_multipart_uploads(Bucket="mpu", KeyMarker="a")
    assert [u["Key"] for u in after_a["Uploads"]] == ["b", "b", "c/1", "c/2"]
    paginator = s3.get_paginator("list_multipart_uploads")
    assert sum(len(p.get("Uploads", [])) for p in paginator.paginate(Bucket="mpu", PaginationConfig={"PageSize": 4})) == 6


def test_list_parts_pages(s3):
    uid = s3.create_multipart_upload(Bucket="mpu", Key="many")["UploadId"]
    for n in range(1, 8):
        s3.upload_part(Bucket="mpu", Key="many", UploadId=uid, PartNumber=n, Body=bytes([n]))
    numbers, marker = [], 0
    while True:
        page = s3.list_parts(Bucket="mpu", Key="many", UploadId=uid, MaxParts=3, PartNumberMarker=marker)
        numbers += [p["PartNumber"] for p in page["Parts"]]
        assert page["MaxParts"] == 3
        if not page["IsTruncated"]:
            break
        marker = page["NextPartNumberMarker"]
    assert numbers == list(range(1, 8))
    paginator = s3.get_paginator("list_parts")
    pages = list(paginator.paginate(Bucket="mpu", Key="many", UploadId=uid, PaginationConfig={"PageSize": 2}))
    assert [p["PartNumber"] for page in pages for p in page["Parts"]] == list(range(1, 8))


def test_complete_honours_if_none_match_and_versioning(s3):
    s3.put_object(Bucket="mpu", Key="taken", Body=b"first")
    uid = s3.create_multipart_upload(Bucket="mpu", Key="taken")["UploadId"]
    etag = s3.upload_part(Bucket="mpu", Key="taken", UploadId=uid, PartNumber=1, Body=b"second")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    code, _, status, _ = error_of(lambda: s3.complete_multipart_upload(Bucket="mpu", Key="taken", UploadId=uid,
                                                                        MultipartUpload=parts, IfNoneMatch="*"))
    assert (code, status) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket="mpu", Key="taken")["Body"].read() == b"first"
    s3.put_bucket_versioning(Bucket="mpu", VersioningConfiguration={"Status": "Enabled"})
    out = s3.complete_multipart_upload(Bucket="mpu", Key="taken", UploadId=uid, MultipartUpload=parts)
    assert out["VersionId"] and out["VersionId"] != "null"
    assert s3.get_object(Bucket="mpu", Key="taken", VersionId=out["VersionId"])["Body"].read() == b"second"
    versions = s3.list_object_versions(Bucket="mpu", Prefix="taken")["Versions"]
    assert len(versions) == 2


def test_upload_part_copy_checks_range_and_carries_checksum(s3):
    s3.put_object(Bucket="mpu", Key="src", Body=b"0123456789")
    uid = s3.create_multipart_upload(Bucket="mpu", Key="dst", ChecksumAlgorithm="CRC32")["UploadId"]
    result = s3.upload_part_copy(Bucket="mpu", Key="dst", UploadId=uid, PartNumber=1, CopySource={"Bucket": "mpu", "Key": "src"},
                                 CopySourceRange="bytes=2-5")["CopyPartResult"]
    assert result["ETag"] == '"%s"' % hashlib.md5(b"2345").hexdigest()
    assert result["ChecksumCRC32"] == b64(crc32(b"2345"))
    code, _, status, _ = error_of(lambda: s3.upload_part_copy(Bucket="mpu", Key="dst", UploadId=uid, PartNumber=2,
                                                              CopySource="mpu/src", CopySourceRange="bytes=5-"))
    assert (code, status) == ("InvalidArgument", 400)
    assert error_of(lambda: s3.upload_part_copy(Bucket="mpu", Key="dst", UploadId=uid, PartNumber=2,
                                                CopySource="mpu/missing"))[0] == "NoSuchKey"
    s3.complete_multipart_upload(Bucket="mpu", Key="dst", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": result["ETag"], "ChecksumCRC32": result["ChecksumCRC32"]}]})
    assert s3.get_object(Bucket="mpu", Key="dst")["Body"].read() == b"2345"


def test_abort_removes_parts(s3):
    uid = s3.create_multipart_upload(Bucket="mpu", Key="gone")["UploadId"]
    s3.upload_part(Bucket="mpu", Key="gone", UploadId=uid, PartNumber=1, Body=b"bytes")
    s3.abort_multipart_upload(Bucket="mpu", Key="gone", UploadId=uid)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="mpu")
    assert error_of(lambda: s3.upload_part(Bucket="mpu", Key="gone", UploadId=uid, PartNumber=2, Body=b"z"))[0] == "NoSuchUpload"
    s3.delete_bucket(Bucket="mpu")  # nothing of the upload is left behind


def test_an_empty_part_makes_an_empty_object_that_copies(s3):
    upload = s3.create_multipart_upload(Bucket="mpu", Key="empty")["UploadId"]
    part = s3.upload_part(Bucket="mpu", Key="empty", UploadId=upload, PartNumber=1, Body=b"")
    s3.complete_multipart_upload(
        Bucket="mpu", Key="empty", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    )
    assert s3.get_object(Bucket="mpu", Key="empty")["Body"].read() == b""
    s3.copy_object(Bucket="mpu", Key="copy", CopySource={"Bucket": "mpu", "Key": "empty"})
    assert s3.get_object(Bucket="mpu", Key="copy")["Body"].read() == b""
