"""Brume's Python runtime: the Lambda Runtime API loop for a `module.function` handler.

Started by Brume in an execution environment; speaks http://$AWS_LAMBDA_RUNTIME_API as
Lambda's own Python runtime does, with the same context object, log format and error
documents.
"""
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
PREFIX = "/2018-06-01/runtime"
_connection = http.client.HTTPConnection(API)


def _request(method, path, body=None, headers=None):
    global _connection
    for attempt in range(2):
        try:
            _connection.request(method, PREFIX + path, body=body, headers=headers or {})
            response = _connection.getresponse()
            return response, response.read()
        except (http.client.HTTPException, ConnectionError):
            if attempt:
                raise
            _connection.close()
            _connection = http.client.HTTPConnection(API)


def _error_doc(error, request_id=None):
    doc = {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)),
    }
    if request_id:
        doc["requestId"] = request_id
    return doc


def _post_json(path, doc, error_type=None):
    headers = {"Content-Type": "application/json"}
    if error_type:
        headers["Lambda-Runtime-Function-Error-Type"] = error_type
    _request("POST", path, json.dumps(doc).encode(), headers)


class _CognitoIdentity:
    def __init__(self, raw):
        raw = raw or {}
        self.cognito_identity_id = raw.get("cognitoIdentityId")
        self.cognito_identity_pool_id = raw.get("cognitoIdentityPoolId")


class _ClientContext:
    def __init__(self, raw):
        self.client = raw.get("client")
        self.custom = raw.get("custom")
        self.env = raw.get("env")


class LambdaContext:
    def __init__(self, request_id, deadline_ms, invoked_arn, identity, client_context):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = _CognitoIdentity(identity)
        self.client_context = _ClientContext(client_context) if client_context else None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def __repr__(self):
        return f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name}])"


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = _RequestIdFilter.request_id
        return True


def _configure_logging():
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"))
    handler.formatter.converter = time.gmtime
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "WARNING").upper())


def _load_handler():
    spec = os.environ["_HANDLER"]
    module_path, _, name = spec.rpartition(".")
    if not module_path:
        raise _InitError("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)")
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise _InitError("Runtime.ImportModuleError", f"Unable to import module '{module_path}': {e}")
    except SyntaxError as e:
        raise _InitError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_path}': {e}")
    except Exception as e:
        print(f"[ERROR] {type(e).__name__}: {e}", flush=True)
        raise _InitError(type(e).__name__, str(e), e)
    handler = getattr(module, name, None)
    if handler is None:
        raise _InitError("Runtime.HandlerNotFound", f"Handler '{name}' missing on module '{module_path}'")
    return handler


class _InitError(Exception):
    def __init__(self, kind, message, cause=None):
        super().__init__(message)
        self.kind = kind
        self.cause = cause


def main():
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    # Lambda's order: the package, then the layers' python directories.
    layers = [p for p in os.environ.pop("BRUME_LAMBDA_PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[0:0] = [task_root] + layers
    _configure_logging()
    try:
        handler = _load_handler()
    except _InitError as e:
        doc = {"errorMessage": str(e), "errorType": e.kind, "requestId": "", "stackTrace": []}
        print(f"[ERROR] {e.kind}: {e}", flush=True)
        _post_json("/init/error", doc, e.kind)
        sys.exit(1)
    while True:
        response, body = _request("GET", "/invocation/next")
        if response.status != 200:
            sys.exit(0)
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        _RequestIdFilter.request_id = request_id
        trace = response.getheader("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        identity = response.getheader("Lambda-Runtime-Cognito-Identity")
        client_context = response.getheader("Lambda-Runtime-Client-Context")
        context = LambdaContext(
            request_id,
            int(response.getheader("Lambda-Runtime-Deadline-Ms") or 0),
            response.getheader("Lambda-Runtime-Invoked-Function-Arn"),
            json.loads(identity) if identity else None,
            json.loads(client_context) if client_context else None,
        )
        try:
            event = json.loads(body) if body else None
            result = handler(event, context)
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError) as e:
                doc = {"errorMessage": f"Unable to marshal response: {e}", "errorType": "Runtime.MarshalError",
                       "requestId": request_id, "stackTrace": []}
                print(f"[ERROR] Runtime.MarshalError: Unable to marshal response: {e}", flush=True)
                _post_json(f"/invocation/{request_id}/error", doc, "Runtime.MarshalError")
                continue
        except Exception as e:
            doc = _error_doc(e, request_id)
            sys.stdout.write(f"[ERROR] {doc['errorType']}: {doc['errorMessage']}\nTraceback (most recent call last):\n"
                             + "".join(doc["stackTrace"]))
            sys.stdout.flush()
            _post_json(f"/invocation/{request_id}/error", doc, "Unhandled")
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        _request("POST", f"/invocation/{request_id}/response", payload, {"Content-Type": "application/json"})


if __name__ == "__main__":
    main()
