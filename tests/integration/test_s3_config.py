"""S3 object tags and stored bucket configurations, through boto3 and the AWS CLI."""
import json

import botocore.exceptions
import pytest


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def s3(server):
    c = server.client("s3")
    c.create_bucket(Bucket="cfg")
    return c


def test_object_tagging(s3):
    s3.put_object(Bucket="cfg", Key="k", Body=b"x", Tagging="a=1&b=two%20words")
    assert s3.get_object(Bucket="cfg", Key="k")["TagCount"] == 2
    tags = s3.get_object_tagging(Bucket="cfg", Key="k")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "two words")]
    s3.put_object_tagging(Bucket="cfg", Key="k", Tagging={"TagSet": [{"Key": "only", "Value": "this"}]})
    assert s3.get_object_tagging(Bucket="cfg", Key="k")["TagSet"] == [{"Key": "only", "Value": "this"}]
    s3.delete_object_tagging(Bucket="cfg", Key="k")
    assert s3.get_object_tagging(Bucket="cfg", Key="k")["TagSet"] == []
    too_many = {"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]}
    assert error_of(lambda: s3.put_object_tagging(Bucket="cfg", Key="k", Tagging=too_many))[1] == 400
    assert error_of(lambda: s3.get_object_tagging(Bucket="cfg", Key="missing"))[0] == "NoSuchKey"


def test_object_tags_per_version(s3):
    s3.put_bucket_versioning(Bucket="cfg", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="cfg", Key="v", Body=b"1")["VersionId"]
    s3.put_object(Bucket="cfg", Key="v", Body=b"2")
    s3.put_object_tagging(Bucket="cfg", Key="v", VersionId=v1, Tagging={"TagSet": [{"Key": "old", "Value": "yes"}]})
    assert s3.get_object_tagging(Bucket="cfg", Key="v", VersionId=v1)["TagSet"] == [{"Key": "old", "Value": "yes"}]
    assert s3.get_object_tagging(Bucket="cfg", Key="v")["TagSet"] == []


def test_bucket_tagging(s3):
    assert error_of(lambda: s3.get_bucket_tagging(Bucket="cfg")) == ("NoSuchTagSet", 404)
    s3.put_bucket_tagging(Bucket="cfg", Tagging={"TagSet": [{"Key": "team", "Value": "data"}]})
    assert s3.get_bucket_tagging(Bucket="cfg")["TagSet"] == [{"Key": "team", "Value": "data"}]
    s3.delete_bucket_tagging(Bucket="cfg")
    assert error_of(lambda: s3.get_bucket_tagging(Bucket="cfg"))[0] == "NoSuchTagSet"


def test_cors_configuration_round_trip(s3):
    assert error_of(lambda: s3.get_bucket_cors(Bucket="cfg")) == ("NoSuchCORSConfiguration", 404)
    rules = [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["https://app.example"], "AllowedHeaders": ["*"],
              "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 300}]
    s3.put_bucket_cors(Bucket="cfg", CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket="cfg")["CORSRules"] == rules
    s3.delete_bucket_cors(Bucket="cfg")
    assert error_of(lambda: s3.get_bucket_cors(Bucket="cfg"))[0] == "NoSuchCORSConfiguration"


def test_bucket_policy(s3):
    assert error_of(lambda: s3.get_bucket_policy(Bucket="cfg")) == ("NoSuchBucketPolicy", 404)
    assert error_of(lambda: s3.get_bucket_policy_status(Bucket="cfg")) == ("NoSuchBucketPolicy", 404)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cfg/*"}]}
    # A new bucket blocks public policies, as S3's have since April 2023.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket="cfg", Policy=json.dumps(policy))
    assert (e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert e.value.response["Error"]["Message"] == (
        'User: arn:aws:iam::000000000000:root is not authorized to perform: s3:PutBucketPolicy on resource: '
        '"arn:aws:s3:::cfg" because public policies are blocked by the BlockPublicPolicy block public access setting.')
    # A policy that names who it trusts is not public.
    named = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cfg/*",
                                                     "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-91237329"}}}]}
    s3.put_bucket_policy(Bucket="cfg", Policy=json.dumps(named))
    assert s3.get_bucket_policy_status(Bucket="cfg")["PolicyStatus"] == {"IsPublic": False}
    # With the block off, a public policy is stored, and said to be public.
    s3.put_public_access_block(Bucket="cfg", PublicAccessBlockConfiguration={"BlockPublicPolicy": False})
    s3.put_bucket_policy(Bucket="cfg", Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket="cfg")["Policy"]) == policy
    assert s3.get_bucket_policy_status(Bucket="cfg")["PolicyStatus"] == {"IsPublic": True}
    # Turning the block on again leaves the policy there.
    s3.put_public_access_block(Bucket="cfg", PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    assert s3.get_bucket_policy_status(Bucket="cfg")["PolicyStatus"] == {"IsPublic": True}
    assert error_of(lambda: s3.put_bucket_policy(Bucket="cfg", Policy="not json")) == ("MalformedPolicy", 400)
    s3.delete_bucket_policy(Bucket="cfg")
    assert error_of(lambda: s3.get_bucket_policy(Bucket="cfg"))[0] == "NoSuchBucketPolicy"


def test_lifecycle_website_public_access_ownership(s3):
    lifecycle = {"Rules": [{"ID": "expire-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}}]}
    s3.put_bucket_lifecycle_configuration(Bucket="cfg", LifecycleConfiguration=lifecycle)
    assert s3.get_bucket_lifecycle_configuration(Bucket="cfg")["Rules"] == lifecycle["Rules"]
    s3.delete_bucket_lifecycle(Bucket="cfg")
    assert error_of(lambda: s3.get_bucket_lifecycle_configuration(Bucket="cfg"))[0] == "NoSuchLifecycleConfiguration"
    s3.put_bucket_website(Bucket="cfg", WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"}})
    site = s3.get_bucket_website(Bucket="cfg")
    assert (site["IndexDocument"]["Suffix"], site["ErrorDocument"]["Key"]) == ("index.html", "404.html")
    # A new bucket has every block of public access on and ACLs disabled, as real
    # configurations that can be deleted.
    every = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert s3.get_public_access_block(Bucket="cfg")["PublicAccessBlockConfiguration"] == every
    assert s3.get_bucket_ownership_controls(Bucket="cfg")["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    s3.delete_public_access_block(Bucket="cfg")
    assert error_of(lambda: s3.get_public_access_block(Bucket="cfg")) == ("NoSuchPublicAccessBlockConfiguration", 404)
    s3.delete_bucket_ownership_controls(Bucket="cfg")
    assert error_of(lambda: s3.get_bucket_ownership_controls(Bucket="cfg")) == ("OwnershipControlsNotFoundError", 404)
    # Settings left out are off.
    s3.put_public_access_block(Bucket="cfg", PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True})
    pab = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    assert s3.get_public_access_block(Bucket="cfg")["PublicAccessBlockConfiguration"] == pab
    s3.put_bucket_ownership_controls(Bucket="cfg", OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert s3.get_bucket_ownership_controls(Bucket="cfg")["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"


def test_encryption_defaults_to_sse_s3(server, s3):
    rule = s3.get_bucket_encryption(Bucket="cfg")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    server.cli("s3api", "put-bucket-encryption", "--bucket", "cfg", "--server-side-encryption-configuration",
               json.dumps({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k1"}}]}))
    _, out, _ = server.cli("s3api", "get-bucket-encryption", "--bucket", "cfg")
    assert out["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == "k1"


def test_transfer_acceleration_and_request_payment(server, s3):
    cli = lambda *a, **kw: server.cli("s3api", *a, **kw)
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket="cfg")
    s3.put_bucket_accelerate_configuration(Bucket="cfg", AccelerateConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_accelerate_configuration(Bucket="cfg")["Status"] == "Enabled"
    cli("put-bucket-accelerate-configuration", "--bucket", "cfg", "--accelerate-configuration", "Status=Suspended")
    _, out, _ = cli("get-bucket-accelerate-configuration", "--bucket", "cfg")
    assert out["Status"] == "Suspended"
    code, _, err = cli("put-bucket-accelerate-configuration", "--bucket", "cfg",
                       "--accelerate-configuration", "Status=Fast", check=False)
    assert code != 0 and "MalformedXML" in err
    s3.create_bucket(Bucket="cfg.with.dots")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_accelerate_configuration(Bucket="cfg.with.dots", AccelerateConfiguration={"Status": "Enabled"})
    assert e.value.response["Error"] == {
        "Code": "InvalidRequest",
        "Message": "S3 Transfer Acceleration is not supported for buckets with periods (.) in their names",
    }
    assert error_of(lambda: s3.get_bucket_accelerate_configuration(Bucket="no-such-bucket-here")) == ("NoSuchBucket", 404)

    assert s3.get_bucket_request_payment(Bucket="cfg")["Payer"] == "BucketOwner"
    cli("put-bucket-request-payment", "--bucket", "cfg", "--request-payment-configuration", "Payer=Requester")
    assert s3.get_bucket_request_payment(Bucket="cfg")["Payer"] == "Requester"
    bogus = {"Payer": "Nobody"}
    assert error_of(lambda: s3.put_bucket_request_payment(Bucket="cfg", RequestPaymentConfiguration=bogus)) == (
        "MalformedXML", 400)


def test_configurations_brume_cannot_act_on_read_as_absent(server, s3):
    """Logging, replication and Object Lock: their Get answers as S3 does for a bucket
    without them (what infrastructure tools read on every refresh); setting one is refused
    rather than stored and ignored."""
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket="cfg")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_replication(Bucket="cfg")
    assert e.value.response["Error"]["Code"] == "ReplicationConfigurationNotFoundError"
    assert e.value.response["Error"]["Message"] == "The replication configuration was not found"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    code, _, err = server.cli("s3api", "get-object-lock-configuration", "--bucket", "cfg", check=False)
    assert code != 0 and "ObjectLockConfigurationNotFoundError" in err
    assert "Object Lock configuration does not exist for this bucket" in err
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="cfg-locked", ObjectLockEnabledForBucket=True)
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert e.value.response["Error"]["Message"] == "A header you provided implies functionality that is not implemented"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error_of(lambda: s3.head_bucket(Bucket="cfg-locked")) == ("404", 404)
    # Writes asking for retention or a legal hold are refused as on a bucket without Object
    # Lock (S3 spells the message without spaces for these three), and nothing is written.
    until = "2030-01-01T00:00:00Z"
    s3.put_object(Bucket="cfg", Key="src", Body=b"x")
    for call in [
        lambda: s3.put_object(Bucket="cfg", Key="held", Body=b"x", ObjectLockLegalHoldStatus="ON"),
        lambda: s3.copy_object(Bucket="cfg", Key="held", CopySource="cfg/src", ObjectLockMode="COMPLIANCE",
                               ObjectLockRetainUntilDate=until),
        lambda: s3.create_multipart_upload(Bucket="cfg", Key="held", ObjectLockLegalHoldStatus="OFF"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response["Error"] == {"Code": "InvalidRequest", "Message": "Bucket is missing ObjectLockConfiguration"}
    code, _, err = server.cli("s3api", "put-object", "--bucket", "cfg", "--key", "held", "--object-lock-mode",
                              "GOVERNANCE", "--object-lock-retain-until-date", until, check=False)
    assert code != 0 and "(InvalidRequest)" in err and "Bucket is missing ObjectLockConfiguration" in err
    assert error_of(lambda: s3.head_object(Bucket="cfg", Key="held")) == ("404", 404)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="cfg")
    for call in [
        lambda: s3.get_object_retention(Bucket="cfg", Key="src"),
        lambda: s3.put_object_retention(Bucket="cfg", Key="src", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until}),
        lambda: s3.get_object_legal_hold(Bucket="cfg", Key="src"),
        lambda: s3.put_object_legal_hold(Bucket="cfg", Key="src", LegalHold={"Status": "ON"}),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response["Error"] == {"Code": "InvalidRequest", "Message": "Bucket is missing Object Lock Configuration"}
    assert error_of(lambda: s3.get_object_legal_hold(Bucket="no-such-bucket-here", Key="k")) == ("NoSuchBucket", 404)
    logging = {"LoggingEnabled": {"TargetBucket": "cfg", "TargetPrefix": "logs/"}}
    assert error_of(lambda: s3.put_bucket_logging(Bucket="cfg", BucketLoggingStatus=logging)) == ("NotImplemented", 501)


def preflight(server, path, origin, method, headers=None):
    import urllib.error
    import urllib.request
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    req = urllib.request.Request(server.endpoint + path, method="OPTIONS", headers=h)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_browser_cors_preflight_and_response_headers(server, s3):
    status, _, body = preflight(server, "/cfg/upload.txt", "https://app.example", "PUT")
    assert status == 403 and b"CORS is not enabled for this bucket" in body
    s3.put_bucket_cors(Bucket="cfg", CORSConfiguration={"CORSRules": [{
        "AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["https://app.example"],
        "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]})
    status, headers, _ = preflight(server, "/cfg/upload.txt", "https://app.example", "PUT", "Content-Type, X-Amz-Date")
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET, PUT"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-date"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-expose-headers"] == "ETag"
    status, _, body = preflight(server, "/cfg/upload.txt", "https://evil.example", "PUT")
    assert status == 403 and b"This CORS request is not allowed" in body
    status, _, _ = preflight(server, "/cfg/upload.txt", "https://app.example", "DELETE")
    assert status == 403
    # An actual request from the allowed origin carries the CORS headers.
    s3.put_object(Bucket="cfg", Key="page.txt", Body=b"hi")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "cfg", "Key": "page.txt"})
    import urllib.request
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Origin": "https://app.example"}), timeout=5) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert r.read() == b"hi"


def run_lifecycle(server):
    import urllib.request
    req = urllib.request.Request(server.endpoint + "/_brume/jobs/s3-lifecycle", method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["removed"]


def test_lifecycle_expiration_removes_objects(server, s3):
    for key in ["logs/a", "logs/b", "keep/c"]:
        s3.put_object(Bucket="cfg", Key=key, Body=b"x")
    s3.put_bucket_lifecycle_configuration(Bucket="cfg", LifecycleConfiguration={"Rules": [
        {"ID": "old-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Date": "2020-01-01T00:00:00Z"}},
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"}, "Expiration": {"Date": "2020-01-01T00:00:00Z"}},
        {"ID": "later", "Status": "Enabled", "Filter": {"Prefix": "keep/"}, "Expiration": {"Days": 30}},
    ]})
    assert run_lifecycle(server) == 2
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="cfg")["Contents"]] == ["keep/c"]
    assert run_lifecycle(server) == 0


def test_lifecycle_transitions_move_objects_to_colder_classes(server, s3):
    big, small = b"b" * (128 * 1024), b"s"
    for key, body in [("cold/big", big), ("cold/small", small), ("sized/small", small), ("warm/big", big)]:
        s3.put_object(Bucket="cfg", Key=key, Body=body)
    answer = s3.put_bucket_lifecycle_configuration(Bucket="cfg", LifecycleConfiguration={"Rules": [
        # Of two transitions due, the colder class wins.
        {"ID": "freeze", "Status": "Enabled", "Filter": {"Prefix": "cold/"}, "Transitions": [
            {"Date": "2020-01-01T00:00:00Z", "StorageClass": "STANDARD_IA"},
            {"Date": "2020-01-01T00:00:00Z", "StorageClass": "GLACIER"}]},
        # A rule that bounds sizes itself moves small objects too.
        {"ID": "sized", "Status": "Enabled", "Filter": {"And": {"Prefix": "sized/", "ObjectSizeGreaterThan": 0}},
         "Transitions": [{"Date": "2020-01-01T00:00:00Z", "StorageClass": "GLACIER_IR"}]},
        {"ID": "later", "Status": "Enabled", "Filter": {"Prefix": "warm/"}, "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]},
    ]})
    assert answer["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    assert s3.get_bucket_lifecycle_configuration(Bucket="cfg")["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    assert run_lifecycle(server) == 2
    classes = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket="cfg")["Contents"]}
    # Objects under 128 KiB stay, as S3 leaves them by default.
    assert classes == {"cold/big": "GLACIER", "cold/small": "STANDARD", "sized/small": "GLACIER_IR", "warm/big": "STANDARD"}
    head = s3.head_object(Bucket="cfg", Key="cold/big")
    assert head["StorageClass"] == "GLACIER" and head["ContentLength"] == len(big)
    # An archived object is not read until restored; one in GLACIER_IR is.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="cfg", Key="cold/big")
    assert e.value.response["Error"]["Code"] == "InvalidObjectState"
    assert s3.get_object(Bucket="cfg", Key="sized/small")["Body"].read() == small
    assert run_lifecycle(server) == 0

    # varies_by_storage_class lets small objects go to the archive classes.
    s3.put_bucket_lifecycle_configuration(Bucket="cfg", TransitionDefaultMinimumObjectSize="varies_by_storage_class",
                                          LifecycleConfiguration={"Rules": [
        {"ID": "deep", "Status": "Enabled", "Filter": {"Prefix": "cold/"},
         "Transitions": [{"Date": "2020-01-01T00:00:00Z", "StorageClass": "DEEP_ARCHIVE"}]}]})
    assert s3.get_bucket_lifecycle_configuration(Bucket="cfg")["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    assert run_lifecycle(server) == 2
    assert {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket="cfg", Prefix="cold/")["Contents"]} == {
        "cold/big": "DEEP_ARCHIVE", "cold/small": "DEEP_ARCHIVE"}


def test_lifecycle_transition_rules_are_checked(s3):
    def refused(rule, **extra):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_lifecycle_configuration(Bucket="cfg", LifecycleConfiguration={"Rules": [rule]}, **extra)
        return e.value.response["Error"]

    err = refused({"ID": "ia", "Status": "Enabled", "Filter": {}, "Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]})
    assert err == {"Code": "InvalidArgument",
                   "Message": "'Days' in Transition action must be greater than or equal to 30 for storageClass 'STANDARD_IA'"}
    err = refused({"ID": "nc", "Status": "Enabled", "Filter": {},
                   "NoncurrentVersionTransitions": [{"NoncurrentDays": 1, "StorageClass": "ONEZONE_IA"}]})
    assert "'NoncurrentDays' in NoncurrentVersionTransition action" in err["Message"]
    err = refused({"ID": "d", "Status": "Enabled", "Filter": {}, "Expiration": {"Date": "2030-01-01T10:00:00Z"}})
    assert (err["Code"], err["Message"], err["ArgumentName"]) == ("InvalidArgument", "'Date' must be at midnight GMT", "Date")
    assert error_of(lambda: s3.get_bucket_lifecycle_configuration(Bucket="cfg")) == ("NoSuchLifecycleConfiguration", 404)


def test_lifecycle_on_versioned_bucket_leaves_markers_then_cleans_them(server, s3):
    s3.put_bucket_versioning(Bucket="cfg", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="cfg", Key="tmp/x", Body=b"x")
    s3.put_bucket_lifecycle_configuration(Bucket="cfg", LifecycleConfiguration={"Rules": [
        {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Date": "2020-01-01T00:00:00Z"}}]})
    assert run_lifecycle(server) == 1
    listed = s3.list_object_versions(Bucket="cfg")
    assert len(listed["Versions"]) == 1 and len(listed["DeleteMarkers"]) == 1
    s3.delete_object(Bucket="cfg", Key="tmp/x", VersionId=listed["Versions"][0]["VersionId"])
    s3.put_bucket_lifecycle_configuration(Bucket="cfg", LifecycleConfiguration={"Rules": [
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"ExpiredObjectDeleteMarker": True}}]})
    assert run_lifecycle(server) == 1
    assert "DeleteMarkers" not in s3.list_object_versions(Bucket="cfg")


def test_lifecycle_judges_each_key_on_its_own_versions_across_many_keys(server, s3):
    # More keys than one batch of the versions listing the lifecycle pass reads: a marker is
    # expired only where it is its key's last version, wherever the batches end.
    s3.put_bucket_versioning(Bucket="cfg", VersioningConfiguration={"Status": "Enabled"})
    alone = set()
    for i in range(300):
        key = f"m/{i:03d}"
        version = s3.put_object(Bucket="cfg", Key=key, Body=b"x")["VersionId"]
        s3.delete_object(Bucket="cfg", Key=key)
        if i % 3 == 0:
            s3.delete_object(Bucket="cfg", Key=key, VersionId=version)
            alone.add(key)
    s3.put_object(Bucket="cfg", Key="n/kept", Body=b"x")
    s3.delete_object(Bucket="cfg", Key="n/kept")
    s3.put_bucket_lifecycle_configuration(Bucket="cfg", LifecycleConfiguration={"Rules": [
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "m/"}, "Expiration": {"ExpiredObjectDeleteMarker": True}}]})
    assert run_lifecycle(server) == 100
    markers, versions = [], []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket="cfg"):
        markers += [m["Key"] for m in page.get("DeleteMarkers", [])]
        versions += [v["Key"] for v in page.get("Versions", [])]
    expected = [f"m/{i:03d}" for i in range(300) if f"m/{i:03d}" not in alone]
    assert sorted(markers) == expected + ["n/kept"]
    assert sorted(versions) == expected + ["n/kept"]
    assert run_lifecycle(server) == 0


def test_get_object_attributes(s3):
    import os
    s3.put_object(Bucket="cfg", Key="plain", Body=b"12345", ChecksumAlgorithm="SHA256")
    attrs = s3.get_object_attributes(Bucket="cfg", Key="plain", ObjectAttributes=["ETag", "Checksum", "ObjectSize", "StorageClass"])
    assert attrs["ETag"] == "827ccb0eea8a706c4c34a16891f84e7b"
    assert attrs["ObjectSize"] == 5 and attrs["StorageClass"] == "STANDARD"
    assert attrs["Checksum"]["ChecksumSHA256"]
    uid = s3.create_multipart_upload(Bucket="cfg", Key="multi")["UploadId"]
    parts = [os.urandom(5 * 1024 * 1024), b"end"]
    etags = [s3.upload_part(Bucket="cfg", Key="multi", UploadId=uid, PartNumber=i + 1, Body=p)["ETag"] for i, p in enumerate(parts)]
    s3.complete_multipart_upload(Bucket="cfg", Key="multi", UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    attrs = s3.get_object_attributes(Bucket="cfg", Key="multi", ObjectAttributes=["ObjectParts"], MaxParts=1)
    assert attrs["ObjectParts"]["TotalPartsCount"] == 2
    assert attrs["ObjectParts"]["IsTruncated"] is True
    assert [p["Size"] for p in attrs["ObjectParts"]["Parts"]] == [5 * 1024 * 1024]


def test_acls_report_the_owner_and_accept_only_private(server, s3):
    acl = s3.get_bucket_acl(Bucket="cfg")
    assert [(g["Grantee"]["Type"], g["Grantee"]["ID"], g["Permission"]) for g in acl["Grants"]] == [
        ("CanonicalUser", acl["Owner"]["ID"], "FULL_CONTROL")]
    s3.put_bucket_acl(Bucket="cfg", ACL="private")
    s3.put_bucket_acl(Bucket="cfg", AccessControlPolicy={"Owner": acl["Owner"], "Grants": acl["Grants"]})
    public = {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"}
    s3.put_object(Bucket="cfg", Key="o", Body=b"x")
    # A public ACL is refused first by Block Public Access (on in a new bucket)...
    assert error_of(lambda: s3.put_bucket_acl(Bucket="cfg", ACL="public-read")) == ("AccessDenied", 403)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_acl(Bucket="cfg", Key="o", GrantRead="uri=http://acs.amazonaws.com/groups/global/AllUsers")
    assert e.value.response["Error"]["Message"] == (
        'User: arn:aws:iam::000000000000:root is not authorized to perform: s3:PutObjectAcl on resource: '
        '"arn:aws:s3:::cfg/o" because public access control lists (ACLs) are blocked by the BlockPublicAcls block public access setting.')
    code, _, err = server.cli("s3api", "put-bucket-acl", "--bucket", "cfg", "--acl", "public-read", check=False)
    assert code != 0 and "AccessDenied" in err
    # ...then, and for any ACL granting others, by the default object ownership (ACLs disabled).
    other = {"Grantee": {"Type": "CanonicalUser", "ID": "0" * 64}, "Permission": "READ"}
    assert error_of(lambda: s3.put_bucket_acl(
        Bucket="cfg", AccessControlPolicy={"Owner": acl["Owner"], "Grants": acl["Grants"] + [other]})) == ("AccessControlListNotSupported", 400)
    s3.delete_public_access_block(Bucket="cfg")
    assert error_of(lambda: s3.put_bucket_acl(Bucket="cfg", ACL="public-read")) == ("AccessControlListNotSupported", 400)
    assert error_of(lambda: s3.put_bucket_acl(
        Bucket="cfg", AccessControlPolicy={"Owner": acl["Owner"], "Grants": acl["Grants"] + [public]}))[0] == "AccessControlListNotSupported"
    grants = s3.get_object_acl(Bucket="cfg", Key="o")["Grants"]
    assert [(g["Grantee"]["ID"], g["Permission"]) for g in grants] == [(acl["Owner"]["ID"], "FULL_CONTROL")]
    s3.put_object_acl(Bucket="cfg", Key="o", ACL="bucket-owner-full-control")
    assert error_of(lambda: s3.put_object_acl(Bucket="cfg", Key="o", GrantRead="uri=http://acs.amazonaws.com/groups/global/AllUsers"))[0] == "AccessControlListNotSupported"
    assert error_of(lambda: s3.get_object_acl(Bucket="cfg", Key="missing")) == ("NoSuchKey", 404)
    _, out, _ = server.cli("s3api", "get-object-acl", "--bucket", "cfg", "--key", "o")
    assert out["Grants"][0]["Permission"] == "FULL_CONTROL"


def test_create_bucket_checks_acls_against_ownership_and_public_access(server):
    s3 = server.client("s3")
    # ACLs are disabled unless the bucket is made with another object ownership...
    assert error_of(lambda: s3.create_bucket(Bucket="acl-default", ACL="public-read")) == ("InvalidBucketAclWithObjectOwnership", 400)
    # ...and a public one is refused by the public access block every new bucket has.
    assert error_of(lambda: s3.create_bucket(Bucket="acl-writer", ACL="public-read", ObjectOwnership="ObjectWriter")) == (
        "InvalidBucketAclWithBlockPublicAccessError", 400)
    assert error_of(lambda: s3.head_bucket(Bucket="acl-writer"))[1] == 404
    s3.create_bucket(Bucket="acl-private", ACL="private")
    s3.create_bucket(Bucket="acl-preferred", ObjectOwnership="BucketOwnerPreferred")
    assert s3.get_bucket_ownership_controls(Bucket="acl-preferred")["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]
    assert s3.get_public_access_block(Bucket="acl-preferred")["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True


def test_object_tag_limits(s3):
    s3.put_object(Bucket="cfg", Key="t", Body=b"x")
    def put(tags):
        return lambda: s3.put_object_tagging(Bucket="cfg", Key="t", Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags]})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put([(f"k{i}", "v") for i in range(11)])()
    assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == (
        "InvalidTag", "Object tags cannot be greater than 10")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put([("k" * 129, "v")])()
    assert e.value.response["Error"]["Message"] == "The TagKey you have provided is too long, max 128"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put([("k", "v" * 257)])()
    assert e.value.response["Error"]["Message"] == "The TagValue you have provided is too long, max 256"
    put([("k" * 128, "v" * 256)])()
    # The x-amz-tagging header of PutObject answers too many tags with BadRequest.
    header = "&".join(f"k{i}=v" for i in range(11))
    assert error_of(lambda: s3.put_object(Bucket="cfg", Key="t2", Body=b"x", Tagging=header)) == ("BadRequest", 400)


def test_versioning_with_the_cli(server, s3):
    cli = lambda *a, **kw: server.cli("s3api", *a, **kw)
    _, out, _ = cli("get-bucket-versioning", "--bucket", "cfg")
    assert not out or "Status" not in out
    cli("put-bucket-versioning", "--bucket", "cfg", "--versioning-configuration", "Status=Enabled")
    _, out, _ = cli("get-bucket-versioning", "--bucket", "cfg")
    assert out["Status"] == "Enabled"
    code, _, err = cli("put-bucket-versioning", "--bucket", "cfg", "--versioning-configuration", "Status=Bogus", check=False)
    assert code != 0 and "MalformedXML" in err
    v1 = s3.put_object(Bucket="cfg", Key="doc", Body=b"one")["VersionId"]
    s3.put_object(Bucket="cfg", Key="doc", Body=b"two")
    _, out, _ = cli("delete-object", "--bucket", "cfg", "--key", "doc")
    assert out["DeleteMarker"] is True
    _, out, _ = cli("list-object-versions", "--bucket", "cfg")
    assert len(out["Versions"]) == 2 and out["DeleteMarkers"][0]["IsLatest"] is True
    assert "Contents" not in s3.list_objects_v2(Bucket="cfg")
    _, out, _ = cli("head-object", "--bucket", "cfg", "--key", "doc", "--version-id", v1)
    assert out["VersionId"] == v1 and out["ContentLength"] == 3
    # The bucket can be deleted once every version and marker is gone.
    assert error_of(lambda: s3.delete_bucket(Bucket="cfg"))[0] == "BucketNotEmpty"
    listed = s3.list_object_versions(Bucket="cfg")
    for v in listed["Versions"] + listed["DeleteMarkers"]:
        s3.delete_object(Bucket="cfg", Key=v["Key"], VersionId=v["VersionId"])
    cli("delete-bucket", "--bucket", "cfg")


def test_suspended_versioning_delete_writes_a_null_marker(s3):
    s3.put_bucket_versioning(Bucket="cfg", VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket="cfg", Key="k", Body=b"kept")["VersionId"]
    s3.put_bucket_versioning(Bucket="cfg", VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket="cfg", Key="k", Body=b"null")
    marker = s3.delete_object(Bucket="cfg", Key="k")
    assert marker["DeleteMarker"] is True and marker.get("VersionId", "null") == "null"
    listed = s3.list_object_versions(Bucket="cfg")
    # The delete marker replaced the null version; the real version stays.
    assert [v["VersionId"] for v in listed["Versions"]] == [kept]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == ["null"]
    s3.delete_object(Bucket="cfg", Key="k", VersionId="null")
    assert s3.get_object(Bucket="cfg", Key="k")["Body"].read() == b"kept"


def test_list_object_versions_markers_prefixes_and_encoding(s3):
    s3.put_bucket_versioning(Bucket="cfg", VersioningConfiguration={"Status": "Enabled"})
    for key in ["a/1", "a/2", "b/1", "c d", "e"]:
        s3.put_object(Bucket="cfg", Key=key, Body=b"x")
    pages, kwargs = [], {}
    while True:
        page = s3.list_object_versions(Bucket="cfg", Delimiter="/", MaxKeys=1, **kwargs)
        pages.append([p["Prefix"] for p in page.get("CommonPrefixes", [])] + [v["Key"] for v in page.get("Versions", [])])
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"]}
        if "NextVersionIdMarker" in page:
            kwargs["VersionIdMarker"] = page["NextVersionIdMarker"]
    assert pages == [["a/"], ["b/"], ["c d"], ["e"]]
    encoded = s3.list_object_versions(Bucket="cfg", Prefix="c", EncodingType="url")
    assert encoded["EncodingType"] == "url"
    # boto3 decodes keys only when it asked for the encoding itself.
    assert [v["Key"] for v in encoded["Versions"]] == ["c%20d"]
    assert [v["Key"] for v in s3.list_object_versions(Bucket="cfg", Prefix="c")["Versions"]] == ["c d"]
    assert error_of(lambda: s3.list_object_versions(Bucket="cfg", VersionIdMarker="x"))[0] == "InvalidArgument"
    assert error_of(lambda: s3.list_object_versions(Bucket="cfg", EncodingType="base64"))[0] == "InvalidArgument"


def test_preflight_errors_name_the_resource(server, s3):
    import re
    import urllib.error
    import urllib.request
    status, _, body = preflight(server, "/cfg", "https://app.example", "GET")
    assert status == 403 and b"<ResourceType>BUCKET</ResourceType>" in body and b"<Method>GET</Method>" in body
    s3.put_bucket_cors(Bucket="cfg", CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]})
    status, _, body = preflight(server, "/cfg/some/key", "https://app.example", "PUT")
    assert status == 403 and b"<ResourceType>OBJECT</ResourceType>" in body
    assert re.search(rb"<Code>AccessForbidden</Code>", body)
    status, headers, _ = preflight(server, "/cfg/some/key", "https://any.example", "GET")
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    req = urllib.request.Request(server.endpoint + "/cfg/k", method="OPTIONS", headers={"Origin": "https://app.example"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 400 and b"Invalid Access-Control-Request-Method: null" in e.value.read()
