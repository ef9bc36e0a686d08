"""S3 multipart uploads with boto3's transfer manager, the AWS CLI and the raw API."""
import hashlib
import os

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


def test_upload_file_100mb_with_default_settings_round_trips(s3, tmp_path):
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(MIB))
    s3.upload_file(str(src), "mpu", "big.bin")  # 8 MiB threshold and parts, CRC32 checksums
    head = s3.head_object(Bucket="mpu", Key="big.bin")
    assert head["ContentLength"] == 100 * MIB
    assert head["ETag"].endswith('-13"')
    dst = tmp_path / "back.bin"
    s3.download_file("mpu", "big.bin", str(dst))
    assert hashlib.sha256(src.read_bytes()).digest() == hashlib.sha256(dst.read_bytes()).digest()
    attrs = s3.head_object(Bucket="mpu", Key="big.bin", ChecksumMode="ENABLED")
    assert attrs.get("ChecksumCRC32")


def test_cli_cp_multipart(server, s3, tmp_path):
    src = tmp_path / "cli.bin"
    src.write_bytes(os.urandom(20 * MIB))
    server.cli("s3", "cp", str(src), "s3://mpu/cli.bin")
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
    first.proc.kill()
    first.proc.wait()
    second = start_brume(data_dir=str(tmp_path))
    s3 = second.client("s3")
    e2 = s3.upload_part(Bucket="resume", Key="k", UploadId=uid, PartNumber=2, Body=b"end")["ETag"]
    s3.complete_multipart_upload(Bucket="resume", Key="k", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert s3.get_object(Bucket="resume", Key="k")["Body"].read() == part1 + b"end"
