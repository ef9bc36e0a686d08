"""S3 browser form uploads (POST Object) with policies made by boto3's
generate_presigned_post, sent as a browser would (multipart/form-data)."""
import uuid
import urllib.error
import urllib.request

import pytest


def post_form(url, fields, file_bytes, filename="upload.bin"):
    boundary = uuid.uuid4().hex
    parts = []
    for k, v in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode() + file_bytes + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    req = urllib.request.Request(url, data=b"".join(parts), method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


@pytest.fixture
def bucket(server):
    server.client("s3").create_bucket(Bucket="forms")
    return "forms"


@pytest.mark.parametrize("signature", ["s3v4", "s3"])
def test_presigned_post_uploads_the_file(server, bucket, signature):
    s3 = server.client("s3", signature_version=signature)
    post = s3.generate_presigned_post(bucket, "uploads/${filename}", Fields={"Content-Type": "text/plain"},
                                      Conditions=[["starts-with", "$key", "uploads/"], {"Content-Type": "text/plain"},
                                                  ["content-length-range", 1, 1000]], ExpiresIn=300)
    status, headers, _ = post_form(post["url"], post["fields"], b"hello from a browser", filename="hi.txt")
    assert status == 204
    assert headers["etag"].strip('"')
    got = s3.get_object(Bucket=bucket, Key="uploads/hi.txt")
    assert got["Body"].read() == b"hello from a browser"
    assert got["ContentType"] == "text/plain"


def test_success_action_status_201_returns_post_response(server, bucket):
    s3 = server.client("s3")
    post = s3.generate_presigned_post(bucket, "k.txt", Fields={"success_action_status": "201"},
                                      Conditions=[{"success_action_status": "201"}])
    status, _, body = post_form(post["url"], post["fields"], b"x")
    assert status == 201
    assert b"<PostResponse>" in body and b"<Key>k.txt</Key>" in body and b"<Bucket>forms</Bucket>" in body


def test_policy_conditions_are_enforced(server, bucket):
    s3 = server.client("s3")
    post = s3.generate_presigned_post(bucket, "small.txt", Conditions=[["content-length-range", 1, 10]])
    status, _, body = post_form(post["url"], post["fields"], b"x" * 11)
    assert status == 400 and b"<Code>EntityTooLarge</Code>" in body
    assert b"<ProposedSize>11</ProposedSize><MaxSizeAllowed>10</MaxSizeAllowed>" in body
    # The size reported is the whole file's, though only the limit's worth was kept.
    big = 3 * 1024 * 1024 + 5
    status, _, body = post_form(post["url"], post["fields"], b"x" * big)
    assert status == 400 and f"<ProposedSize>{big}</ProposedSize>".encode() in body
    status, _, body = post_form(post["url"], post["fields"], b"")
    assert status == 400 and b"<Code>EntityTooSmall</Code>" in body
    assert b"<ProposedSize>0</ProposedSize><MinSizeAllowed>1</MinSizeAllowed>" in body
    fields = dict(post["fields"], key="other.txt")
    status, _, body = post_form(post["url"], fields, b"x")
    assert status == 403 and b"Invalid according to Policy: Policy Condition failed" in body
    extra = dict(post["fields"], **{"x-amz-meta-sneaky": "1"})
    status, _, body = post_form(post["url"], extra, b"x")
    assert status == 403 and b"Extra input fields: x-amz-meta-sneaky" in body
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_tampered_signature_is_refused(server, bucket):
    s3 = server.client("s3")
    post = s3.generate_presigned_post(bucket, "t.txt")
    fields = dict(post["fields"])
    sig_field = "x-amz-signature" if "x-amz-signature" in fields else "signature"
    signature = fields[sig_field]
    # A different first character, whatever the signature starts with.
    fields[sig_field] = ("1" if signature[0] == "0" else "0") + signature[1:]
    status, _, body = post_form(post["url"], fields, b"x")
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_expired_policy_is_refused(server, bucket):
    import time
    s3 = server.client("s3")
    post = s3.generate_presigned_post(bucket, "late.txt", ExpiresIn=1)
    time.sleep(1.5)
    status, _, body = post_form(post["url"], post["fields"], b"x")
    assert status == 403 and b"Policy expired" in body
