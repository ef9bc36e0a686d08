"""Lambda function URLs: configuration with boto3, and requests to
URL_ID.lambda-url.REGION.localhost turned into payload format 2.0 events."""
import base64
import json
import urllib.error
import urllib.parse
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest

from test_lambda_invoke import create

HANDLER = """
import base64, json

def handler(event, context):
    if event["rawPath"] == "/shaped":
        return {"statusCode": 201, "headers": {"content-type": "text/plain", "x-extra": "yes"},
                "cookies": ["a=1", "b=2"], "body": "created"}
    if event["rawPath"] == "/binary":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(b"\\x00\\x01\\x02").decode(), "isBase64Encoded": True}
    if event["rawPath"] == "/fail":
        raise RuntimeError("nope")
    return event
"""


def call(server, url, path="/", method="GET", body=None, headers=None):
    """Sends a request to the function URL through Brume's port, with the URL's host."""
    host = urllib.parse.urlparse(url).netloc
    request = urllib.request.Request(f"{server.endpoint}{path}", data=body, method=method,
                                     headers={"Host": host, **(headers or {})})
    try:
        with urllib.request.urlopen(request) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read(), response.headers.get_all("set-cookie")
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read(), None


def test_url_configuration_operations(server):
    lam = server.client("lambda")
    create(lam, "web", {"index.py": HANDLER})
    created = lam.create_function_url_config(FunctionName="web", AuthType="NONE",
                                             Cors={"AllowOrigins": ["https://app.example"], "MaxAge": 60})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    url = created["FunctionUrl"]
    assert url.startswith("http://") and ".lambda-url.us-east-1.localhost:" in url and url.endswith("/")
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:web"
    assert created["AuthType"] == "NONE" and created["InvokeMode"] == "BUFFERED"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.create_function_url_config(FunctionName="web", AuthType="NONE")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"

    got = lam.get_function_url_config(FunctionName="web")
    assert got["FunctionUrl"] == url and got["Cors"]["MaxAge"] == 60 and "LastModifiedTime" in got
    updated = lam.update_function_url_config(FunctionName="web", AuthType="AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM" and updated["FunctionUrl"] == url
    listed = lam.list_function_url_configs(FunctionName="web")["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [url]

    lam.delete_function_url_config(FunctionName="web")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function_url_config(FunctionName="web")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert call(server, url)[0] == 404

    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.create_function_url_config(FunctionName="missing", AuthType="NONE")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_requests_become_version_2_events(server):
    lam = server.client("lambda")
    create(lam, "echo-url", {"index.py": HANDLER})
    url = lam.create_function_url_config(FunctionName="echo-url", AuthType="NONE")["FunctionUrl"]
    status, headers, body, _ = call(server, url, "/some/path?a=1&a=2&b=x", "POST", b'{"hello": "web"}',
                                    {"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2"})
    assert status == 200 and headers["content-type"] == "application/json"
    event = json.loads(body)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/path" and event["rawQueryString"] == "a=1&a=2&b=x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"hello": "web"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"]["method"] == "POST" and context["http"]["path"] == "/some/path"
    assert context["domainPrefix"] == url.split("//")[1].split(".")[0]
    assert context["requestId"] == headers["x-amzn-requestid"]

    status, headers, body, cookies = call(server, url, "/shaped")
    assert (status, body, headers["x-extra"], headers["content-type"]) == (201, b"created", "yes", "text/plain")
    assert cookies == ["a=1", "b=2"]
    status, _, body, _ = call(server, url, "/binary")
    assert (status, body) == (200, b"\x00\x01\x02")
    status, _, body, _ = call(server, url, "/upload", "PUT", b"\xff\xfe", {"Content-Type": "image/png"})
    event = json.loads(body)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\xfe"
    status, _, body, _ = call(server, url, "/fail")
    assert status == 502 and json.loads(body) == {"Message": "Internal Server Error"}


def test_cors_and_iam_auth(server):
    lam = server.client("lambda")
    create(lam, "private", {"index.py": HANDLER})
    url = lam.create_function_url_config(
        FunctionName="private", AuthType="AWS_IAM",
        Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-custom"],
              "MaxAge": 300})["FunctionUrl"]
    status, headers, _, _ = call(server, url, "/", "OPTIONS", None,
                                 {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET,POST"
    assert headers["access-control-max-age"] == "300"

    # Unsigned callers are refused; a SigV4-signed request (service `lambda`) gets through.
    assert call(server, url)[0] == 403
    host = urllib.parse.urlparse(url).netloc
    request = botocore.awsrequest.AWSRequest(method="GET", url=f"http://{host}/signed", headers={"Origin": "https://app.example"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
    status, headers, body, _ = call(server, url, "/signed", headers=dict(request.headers))
    assert status == 200, body
    event = json.loads(body)
    assert event["requestContext"]["authorizer"]["iam"]["userArn"] == "arn:aws:iam::000000000000:root"
    assert headers["access-control-allow-origin"] == "https://app.example"


def test_deleting_a_function_deletes_its_urls(server):
    lam = server.client("lambda")
    create(lam, "short-lived", {"index.py": HANDLER})
    url = lam.create_function_url_config(FunctionName="short-lived", AuthType="NONE")["FunctionUrl"]
    lam.delete_function(FunctionName="short-lived")
    assert call(server, url)[0] == 404
    create(lam, "short-lived", {"index.py": HANDLER})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function_url_config(FunctionName="short-lived")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lam.create_function_url_config(FunctionName="short-lived", AuthType="NONE")["FunctionUrl"] != url
