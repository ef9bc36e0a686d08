"""Regenerates requests.json: requests signed by botocore, the independent signer the
Rust tests verify against.

    python3 crates/brume-auth/tests/botocore/generate.py

Time is pinned (botocore.auth.get_current_datetime) so the output is stable; the Rust tests
inject the same clock. Each request records the raw request target (path and query exactly
as botocore would send them), the headers, and the body.
"""

import datetime
import json
import os
from urllib.parse import urlsplit

import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode

NOW = datetime.datetime(2024, 5, 1, 12, 0, 0)
botocore.auth.get_current_datetime = lambda *args, **kwargs: NOW
ENDPOINT = "http://localhost:4566"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN/+=="


def record(name, request, description, **extra):
    split = urlsplit(request.url)
    target = split.path + ("?" + split.query if split.query else "")
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    entry = {
        "name": name,
        "description": description,
        "method": request.method,
        "target": target,
        # The HTTP client adds Host from the URL after signing.
        "host": split.netloc,
        "headers": [[k, v] for k, v in request.headers.items()],
        "body": body.decode(),
    }
    entry.update(extra)
    return entry


def header_signed(name, description, auth_class, creds, service, method, url, headers, body=b"", context=None, **extra):
    request = AWSRequest(method=method, url=url, headers=headers, data=body)
    request.context.update(context or {})
    auth_class(creds, service, "us-east-1").add_auth(request)
    return record(name, request, description, **extra)


def presigned(name, description, creds, key_path, expires):
    request = AWSRequest(method="GET", url=ENDPOINT + key_path)
    botocore.auth.S3SigV4QueryAuth(creds, "s3", "us-east-1", expires=expires).add_auth(request)
    return record(name, request, description, expires=expires)


def main():
    test = Credentials("test", "test")
    account_key = Credentials("111122223333", "test")
    wrong = Credentials("test", "not-the-secret")
    unknown = Credentials("AKIAUNKNOWNKEY000000", "whatever")
    session = Credentials("ASIAEXAMPLESESSION01", "SessionSecretKeyExample0000000000000000a", SESSION_TOKEN)
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    json10 = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"}
    odd_key = "/bucket/" + percent_encode("dir/a b+c//ünï ★~(1).txt", safe="/~")

    requests = [
        header_signed("sts-get-caller-identity", "query service, header auth", botocore.auth.SigV4Auth, test, "sts",
                      "POST", ENDPOINT + "/", form, b"Action=GetCallerIdentity&Version=2011-06-15"),
        header_signed("sts-account-key", "12-digit access key id", botocore.auth.SigV4Auth, account_key, "sts",
                      "POST", ENDPOINT + "/", form, b"Action=GetCallerIdentity&Version=2011-06-15"),
        header_signed("dynamodb-list-tables", "JSON service, header auth", botocore.auth.SigV4Auth, test, "dynamodb",
                      "POST", ENDPOINT + "/", json10, b"{}"),
        header_signed("lambda-encoded-path", "restJson path signed double-encoded", botocore.auth.SigV4Auth, test, "lambda",
                      "GET", ENDPOINT + "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/configuration?Qualifier=a%20b", {}),
        header_signed("s3-put-unsigned", "S3 header auth, UNSIGNED-PAYLOAD, odd key", botocore.auth.S3SigV4Auth, test, "s3",
                      "PUT", ENDPOINT + odd_key, {"Content-Type": "text/plain"}, b"hello",
                      context={"client_config": Config(s3={"payload_signing_enabled": False})}),
        header_signed("s3-put-signed-payload", "S3 header auth, signed payload over http", botocore.auth.S3SigV4Auth, test, "s3",
                      "PUT", ENDPOINT + "/bucket/plain.txt?tagging=&x-id=PutObject", {"x-amz-meta-note": "a  b"}, b"hello"),
        header_signed("sts-wrong-secret", "signed with the wrong secret", botocore.auth.SigV4Auth, wrong, "sts",
                      "POST", ENDPOINT + "/", form, b"Action=GetCallerIdentity&Version=2011-06-15"),
        header_signed("dynamodb-unknown-key", "unknown access key", botocore.auth.SigV4Auth, unknown, "dynamodb",
                      "POST", ENDPOINT + "/", json10, b"{}"),
        header_signed("dynamodb-session", "temporary credentials", botocore.auth.SigV4Auth, session, "dynamodb",
                      "POST", ENDPOINT + "/", json10, b"{}"),
        presigned("s3-presigned-odd-key", "S3 presigned GET, key with spaces, +, //, unicode", test, odd_key, 3600),
        presigned("s3-presigned-session", "S3 presigned GET with a session token", session, "/bucket/k", 600),
    ]
    out = {
        "generator": "botocore " + botocore.__version__,
        "now": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "session": {"access_key_id": session.access_key, "secret_access_key": session.secret_key, "session_token": SESSION_TOKEN},
        "requests": requests,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requests.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


main()
