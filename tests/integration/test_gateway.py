"""The gateway: health, reset, request ids, errors for unknown services and operations in
each protocol, auth edge cases, graceful shutdown."""
import datetime
import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request
import botocore.exceptions
import pytest

from conftest import BRUME_BIN, signing_clock


def test_health_lists_services_and_version(server):
    health = server.health()
    assert health["version"]
    assert health["services"]["sts"] in ("available", "running")
    assert health["uptime_seconds"] >= 0


def test_localstack_health_path_answers_the_same(server):
    with urllib.request.urlopen(server.endpoint + "/_localstack/health", timeout=5) as r:
        body = json.load(r)
    assert set(body["services"]) == set(server.health()["services"])


def test_service_becomes_running_after_first_request(start_brume):
    b = start_brume()
    assert b.health()["services"]["sts"] == "available"
    b.client("sts").get_caller_identity()
    assert b.health()["services"]["sts"] == "running"


def test_reset_of_unknown_service_is_404(server):
    with pytest.raises(urllib.error.HTTPError) as e:
        server.reset("nope")
    assert e.value.code == 404


def test_reset_one_service(server):
    assert server.reset("sts") == {"reset": ["sts"]}


def test_unknown_admin_path_is_404_json(server):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.endpoint + "/_brume/nothing", timeout=5)
    assert e.value.code == 404
    assert "error" in json.load(e.value)


def client_error(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r["ResponseMetadata"]["HTTPStatusCode"], r["ResponseMetadata"]


# One not-yet-served operation per protocol: the error must parse in the real client.
@pytest.mark.parametrize(
    "service,call",
    [
        ("dynamodb", lambda c: c.list_contributor_insights()),  # awsJson 1.0
        ("logs", lambda c: c.describe_destinations()),  # awsJson 1.1
        ("sns", lambda c: c.list_platform_applications()),  # awsQuery
        ("lambda", lambda c: c.list_code_signing_configs()),  # restJson1
        ("s3", lambda c: c.get_bucket_analytics_configuration(Bucket="b", Id="i")),  # restXml
        ("cloudwatch", lambda c: c.list_metrics()),  # smithy-rpc-v2-cbor
    ],
)
def test_services_not_built_yet_answer_not_implemented_in_their_protocol(server, service, call):
    code, message, status, meta = client_error(lambda: call(server.client(service)))
    assert (code, status) == ("NotImplemented", 501), message
    assert meta.get("RequestId"), meta


def test_unknown_service_gets_a_well_formed_error(server):
    code, message, status, _ = client_error(lambda: server.client("ec2").describe_instances())
    assert (code, status) == ("NotImplemented", 501)
    assert "ec2" in message


def test_unknown_json_operation(server):
    req = urllib.request.Request(
        server.endpoint + "/",
        data=b"{}",
        headers={"X-Amz-Target": "DynamoDB_20120810.NoSuchThing", "Content-Type": "application/x-amz-json-1.0"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code in (400, 403)
    assert e.value.headers["x-amzn-requestid"]


def test_malformed_json_body_is_a_serialization_error_not_a_crash(server):
    # Signed correctly, so the failure comes from the codec.
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    body = b"{not json"
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=server.endpoint + "/", data=body,
        headers={"X-Amz-Target": "AWSSecurityTokenServiceV20110615.GetCallerIdentity", "Content-Type": "application/x-amz-json-1.1"},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "sts", "us-east-1").add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers), method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(r, timeout=5)
    assert 400 <= e.value.code < 500


def test_request_signed_too_long_ago_is_refused(server):
    sts = server.client("sts")
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    with signing_clock(past):
        code, message, status, _ = client_error(sts.get_caller_identity)
    assert status == 403
    assert code == "SignatureDoesNotMatch"
    assert "Signature expired" in message


def test_request_within_skew_is_accepted(server):
    sts = server.client("sts")
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    with signing_clock(past):
        assert sts.get_caller_identity()["Account"] == "000000000000"


def test_presigned_query_url_works_and_expires(server):
    # botocore presigns query operations for POST with an empty body.
    sts = server.client("sts")
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60)
    with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=5) as r:
        assert b"<Account>000000000000</Account>" in r.read()
    # STS allows 15 minutes from X-Amz-Date, whatever X-Amz-Expires says.
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=16)
    with signing_clock(past):
        expired = sts.generate_presigned_url("get_caller_identity", ExpiresIn=3600)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(expired, data=b"", method="POST"), timeout=5)
    assert e.value.code == 403
    assert b"Signature expired" in e.value.read()


def test_sigterm_shuts_down_cleanly_with_exit_code_zero(start_brume, tmp_path):
    b = start_brume(data_dir=str(tmp_path))
    b.client("sts").get_caller_identity()
    assert b.stop(signal.SIGTERM) == 0


def test_sigint_shuts_down_cleanly(start_brume):
    b = start_brume()
    assert b.stop(signal.SIGINT) == 0


def test_startup_prints_endpoint_and_services(start_brume):
    b = start_brume()
    b.stop()
    out = b.output()
    assert f"http://127.0.0.1:{b.port}" in out
    assert "sts" in out


def test_binds_loopback_by_default():
    out = subprocess.run([BRUME_BIN, "up", "--help"], capture_output=True, text=True).stdout
    assert "127.0.0.1" in out
    assert subprocess.run([BRUME_BIN, "--version"], capture_output=True, text=True).stdout.startswith("brume ")


def test_workers_default_to_one_per_cpu_but_one_and_can_be_set(start_brume):
    b = start_brume()
    b.client("sts").get_caller_identity()
    b.stop()
    # Brume counts the CPUs it may use, a CPU quota included, which affinity does not show.
    workers = int(re.search(r"(\d+) workers?,", b.output()).group(1))
    assert 1 <= workers <= max(1, len(os.sched_getaffinity(0)) - 1)
    b = start_brume(args=["--workers", "3"])
    b.client("sts").get_caller_identity()
    b.stop()
    assert "3 workers," in b.output()
    refused = subprocess.run([BRUME_BIN, "up", "--ephemeral", "--workers", "0"], capture_output=True, text=True)
    assert refused.returncode == 2 and "--workers" in refused.stderr
