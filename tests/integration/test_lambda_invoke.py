"""Lambda invocations with real functions: Python, Node.js and a Rust `lambda_runtime`
binary run as local processes on the Runtime API, driven by boto3 and the AWS CLI."""
import base64
import io
import json
import os
import subprocess
import time
import zipfile

import botocore.exceptions
import pytest

from conftest import ROOT

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name == "bootstrap" else 0o644) << 16
            z.writestr(info, content)
    return buf.getvalue()


def create(lam, name, files, runtime="python3.12", handler="index.handler", **extra):
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                        Code={"ZipFile": zip_of(files)}, **extra)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)


def invoke(lam, name, event=None, **extra):
    args = {"FunctionName": name, **extra}
    if event is not None:
        args["Payload"] = json.dumps(event)
    response = lam.invoke(**args)
    return response, json.loads(response["Payload"].read() or b"null")


@pytest.fixture(scope="module")
def rust_bootstrap():
    """The fixture function built with the official Rust runtime, as `bootstrap`."""
    manifest = os.path.join(ROOT, "tests", "fixtures", "rust-function", "Cargo.toml")
    target = os.path.join(ROOT, "target", "fixtures")
    subprocess.run(["cargo", "build", "--quiet", "--release", "--manifest-path", manifest, "--target-dir", target],
                   check=True)
    with open(os.path.join(target, "release", "bootstrap"), "rb") as f:
        return f.read()


PYTHON_ECHO = """
import os
calls = 0

def handler(event, context):
    global calls
    calls += 1
    print("event", event)
    return {
        "event": event,
        "calls": calls,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "name": context.function_name,
        "version": context.function_version,
        "memory": context.memory_limit_in_mb,
        "group": context.log_group_name,
        "stream": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "custom": context.client_context.custom if context.client_context else None,
        "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "LAMBDA_", "_HANDLER", "TZ", "MY_"))},
        "cwd": os.getcwd(),
    }
"""


def test_python_handler_runs_with_lambdas_context_and_environment(server):
    lam = server.client("lambda")
    create(lam, "echo", {"index.py": PYTHON_ECHO}, Environment={"Variables": {"MY_SETTING": "on"}}, MemorySize=256)
    response, body = invoke(lam, "echo", {"hello": "world"})
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert body["event"] == {"hello": "world"}
    assert body["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert body["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:echo"
    assert (body["name"], body["version"], body["memory"]) == ("echo", "$LATEST", "256")
    assert body["group"] == "/aws/lambda/echo"
    assert body["stream"].endswith("]" + body["stream"].split("]")[-1]) and "[$LATEST]" in body["stream"]
    assert 0 < body["remaining"] <= 3000
    env = body["env"]
    assert env["MY_SETTING"] == "on"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "index.handler"
    assert env["TZ"] == ":UTC"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/echo"
    assert env["AWS_ENDPOINT_URL"].startswith("http://localhost:")
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and env["AWS_SESSION_TOKEN"]
    assert env["LAMBDA_TASK_ROOT"] == body["cwd"]
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")

    # The same environment serves the next invocation: module state survives.
    _, again = invoke(lam, "echo", {})
    assert again["calls"] == 2


def test_log_tail_and_client_context(server):
    lam = server.client("lambda")
    create(lam, "tail", {"index.py": PYTHON_ECHO})
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t1"}}).encode()).decode()
    response, body = invoke(lam, "tail", {"n": 1}, LogType="Tail", ClientContext=context)
    assert body["custom"] == {"tenant": "t1"}
    log = base64.b64decode(response["LogResult"]).decode()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id} Version: $LATEST" in log
    assert "event {'n': 1}" in log
    assert f"END RequestId: {request_id}" in log
    report = [line for line in log.splitlines() if line.startswith("REPORT")][0]
    for field in ("Duration:", "Billed Duration:", "Memory Size: 128 MB", "Max Memory Used:", "Init Duration:"):
        assert field in report


def test_function_calls_brume_with_its_roles_credentials(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="from-lambda")
    lam = server.client("lambda")
    code = """
import boto3

def handler(event, context):
    boto3.client("s3").put_object(Bucket="from-lambda", Key="hello.txt", Body=b"written by a function")
    return boto3.client("sts").get_caller_identity()["Arn"]
"""
    create(lam, "writer", {"index.py": code}, Timeout=30)
    response, arn = invoke(lam, "writer", {})
    assert "FunctionError" not in response, arn
    assert arn == "arn:aws:sts::000000000000:assumed-role/lambda-role/writer"
    assert s3.get_object(Bucket="from-lambda", Key="hello.txt")["Body"].read() == b"written by a function"


def test_errors_are_reported_as_lambda_reports_them(server):
    lam = server.client("lambda")
    code = """
def handler(event, context):
    if event.get("kind") == "raise":
        raise ValueError("bad input")
    return object()
"""
    create(lam, "failing", {"index.py": code})
    response, body = invoke(lam, "failing", {"kind": "raise"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad input"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]

    response, body = invoke(lam, "failing", {"kind": "marshal"})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.MarshalError"

    create(lam, "broken-import", {"index.py": "import not_a_module\n"})
    response, body = invoke(lam, "broken-import", {})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Unable to import module 'index': No module named 'not_a_module'")

    create(lam, "no-handler", {"index.py": "def other(e, c):\n    return 1\n"})
    response, body = invoke(lam, "no-handler", {})
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "Handler 'handler' missing on module 'index'"


def test_responses_over_the_limit_are_function_errors(server):
    lam = server.client("lambda")
    create(lam, "big", {"index.py": "def handler(e, c):\n    return 'A' * e['n']\n"}, MemorySize=512)
    response, body = invoke(lam, "big", {"n": 7_000_000})
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert body == {"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                    "errorType": "Function.ResponseSizeTooLarge"}
    # The environment is still good: a response under the limit goes through.
    response, body = invoke(lam, "big", {"n": 6_000_000})
    assert "FunctionError" not in response and len(body) == 6_000_000


def test_timeouts_kill_the_environment(server):
    lam = server.client("lambda")
    code = """
import time
def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return "done"
"""
    create(lam, "slow", {"index.py": code}, Timeout=1)
    response, body = invoke(lam, "slow", {"sleep": 5}, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert body == {"errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"}
    log = base64.b64decode(response["LogResult"]).decode()
    assert f"{request_id} Task timed out after 1.00 seconds" in log
    # A new environment takes the next invocation.
    response, body = invoke(lam, "slow", {})
    assert body == "done"


def test_memory_size_is_enforced(server):
    lam = server.client("lambda")
    code = """
def handler(event, context):
    hog = bytearray(400 * 1024 * 1024)
    for i in range(0, len(hog), 4096):
        hog[i] = 1
    return len(hog)
"""
    create(lam, "hog", {"index.py": code}, MemorySize=128, Timeout=20)
    response, body = invoke(lam, "hog", {})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    assert body["errorMessage"].endswith("Runtime exited with error: signal: killed")


def test_node_handlers_in_every_style(server):
    lam = server.client("lambda")
    create(lam, "node-cjs", {"index.js": """
exports.handler = async (event, context) => {
  console.log("node got", JSON.stringify(event));
  return { echo: event, name: context.functionName, id: context.awsRequestId,
           remaining: context.getRemainingTimeInMillis() > 0, region: process.env.AWS_REGION };
};
"""}, runtime="nodejs20.x")
    response, body = invoke(lam, "node-cjs", {"a": 1}, LogType="Tail")
    assert body["echo"] == {"a": 1} and body["name"] == "node-cjs" and body["remaining"]
    assert body["id"] == response["ResponseMetadata"]["RequestId"] and body["region"] == "us-east-1"
    log = base64.b64decode(response["LogResult"]).decode()
    assert f"\t{body['id']}\tINFO\tnode got {{\"a\":1}}" in log

    create(lam, "node-esm", {"app.mjs": "export const main = async (event) => ({ esm: true, n: event.n * 2 });\n"},
           runtime="nodejs22.x", handler="app.main")
    assert invoke(lam, "node-esm", {"n": 21})[1] == {"esm": True, "n": 42}

    create(lam, "node-callback", {"index.js": """
exports.handler = function (event, context, callback) {
  setTimeout(() => callback(null, { called: "back" }), 10);
};
"""}, runtime="nodejs18.x")
    assert invoke(lam, "node-callback", {})[1] == {"called": "back"}

    create(lam, "node-error", {"index.js": """
class BadThing extends Error { constructor(m) { super(m); this.name = "BadThing"; } }
exports.handler = async () => { throw new BadThing("it broke"); };
"""}, runtime="nodejs20.x")
    response, body = invoke(lam, "node-error", {})
    assert response["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("BadThing", "it broke")
    assert isinstance(body["trace"], list)


def test_rust_lambda_runtime_binary_runs_as_provided_al2023(server, rust_bootstrap):
    lam = server.client("lambda")
    lam.create_function(FunctionName="rusty", Runtime="provided.al2023", Role=ROLE, Handler="bootstrap",
                        Code={"ZipFile": zip_of({"bootstrap": rust_bootstrap})}, Architectures=["x86_64"])
    lam.get_waiter("function_active_v2").wait(FunctionName="rusty")
    response, body = invoke(lam, "rusty", {"x": [1, 2]}, LogType="Tail")
    assert "FunctionError" not in response, body
    assert body["echo"] == {"x": [1, 2]}
    assert body["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert body["function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:rusty"
    assert body["function_name"] == "rusty"
    assert 'rust handler got {"x":[1,2]}' in base64.b64decode(response["LogResult"]).decode()

    response, body = invoke(lam, "rusty", {"fail": True})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorMessage"] == "asked to fail"


def test_invocation_types_and_request_validation(server):
    lam = server.client("lambda")
    create(lam, "types", {"index.py": "def handler(e, c):\n    return e\n"})
    assert lam.invoke(FunctionName="types", InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName="types", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    # No payload: the function gets an empty object.
    assert invoke(lam, "types")[1] == {}

    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName="types", Payload=b"not json")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName="types", Payload=json.dumps({"big": "x" * (6 * 1024 * 1024)}))
    assert e.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413

    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName="missing", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == \
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_reserved_concurrency_of_zero_throttles(server):
    lam = server.client("lambda")
    create(lam, "throttled", {"index.py": "def handler(e, c):\n    return 1\n"})
    lam.put_function_concurrency(FunctionName="throttled", ReservedConcurrentExecutions=0)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName="throttled", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    lam.delete_function_concurrency(FunctionName="throttled")
    assert invoke(lam, "throttled", {})[1] == 1


def test_code_updates_and_versions_run_their_own_code(server):
    lam = server.client("lambda")
    create(lam, "evolving", {"index.py": "def handler(e, c):\n    return 'one'\n"})
    assert invoke(lam, "evolving", {})[1] == "one"
    version = lam.publish_version(FunctionName="evolving")["Version"]
    lam.update_function_code(FunctionName="evolving", ZipFile=zip_of({"index.py": "def handler(e, c):\n    return 'two'\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName="evolving")
    assert invoke(lam, "evolving", {})[1] == "two"
    response, body = invoke(lam, "evolving", {}, Qualifier=version)
    assert (response["ExecutedVersion"], body) == (version, "one")
    lam.create_alias(FunctionName="evolving", Name="live", FunctionVersion=version)
    response, body = invoke(lam, "evolving:live", {})
    assert (response["ExecutedVersion"], body) == (version, "one")


def test_function_logs_reach_cloudwatch_logs(server):
    lam = server.client("lambda")
    create(lam, "logged", {"index.py": "def handler(e, c):\n    print('hello logs', e['n'])\n    return 1\n"})
    ids = [invoke(lam, "logged", {"n": n})[0]["ResponseMetadata"]["RequestId"] for n in range(2)]
    logs = server.client("logs")
    messages = []
    for _ in range(50):
        events = logs.filter_log_events(logGroupName="/aws/lambda/logged")["events"]
        messages = [e["message"] for e in events]
        if sum(m.startswith("REPORT") for m in messages) == 2:
            break
        time.sleep(0.1)
    assert any(m.strip() == "hello logs 1" for m in messages), messages
    for request_id in ids:
        assert any(m.startswith(f"START RequestId: {request_id}") for m in messages)
        assert any(m.startswith(f"REPORT RequestId: {request_id}") for m in messages)
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/logged")["logStreams"]
    assert streams and "[$LATEST]" in streams[0]["logStreamName"]


def test_aws_cli_invokes_a_function(server, tmp_path):
    lam = server.client("lambda")
    create(lam, "cli", {"index.py": "def handler(e, c):\n    return {'got': e}\n"})
    out = tmp_path / "out.json"
    # The pinned CLI (v1) sends a blob given on the command line as it is.
    _, result, _ = server.cli("lambda", "invoke", "--function-name", "cli", "--payload", '{"via": "cli"}', str(out))
    assert result["StatusCode"] == 200 and result["ExecutedVersion"] == "$LATEST"
    assert json.loads(out.read_text()) == {"got": {"via": "cli"}}
