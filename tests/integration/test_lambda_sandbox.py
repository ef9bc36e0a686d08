"""Lambda's --sandbox mode: functions run under bubblewrap, see a read-only machine without
Brume's data, write only to their own /tmp, and reach nothing on the network but Brume."""
import glob
import json
import os
import signal
import socket
import tempfile
import threading

from test_lambda_invoke import create, invoke

PROBE = """
import os, socket, boto3

def attempt(action):
    try:
        return "ok: " + str(action())
    except Exception as e:
        return "denied: " + type(e).__name__

def handler(event, context):
    def write(path):
        with open(path, "w") as f:
            f.write("x")
        return path
    def connect():
        s = socket.create_connection(("127.0.0.1", event["port"]), timeout=2)
        s.close()
        return "connected"
    boto3.client("s3").put_object(Bucket="sandboxed", Key="k", Body=b"from the sandbox")
    return {
        "data": sorted(os.listdir(event["data_dir"])),
        "write_code": attempt(lambda: write(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "x"))),
        "write_tmp": attempt(lambda: write("/tmp/scratch")),
        "tmpdir": os.environ.get("TMPDIR"),
        "network": attempt(connect),
        "code": os.listdir(os.environ["LAMBDA_TASK_ROOT"]),
    }
"""


def accept_until_closed(listener):
    """Answers one connection; the socket closed with the test ends the wait quietly."""
    try:
        listener.accept()
    except OSError:
        pass


def test_sandboxed_functions_see_only_their_code_tmp_and_brume(start_brume, tmp_path):
    data_dir = str(tmp_path / "data")
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "brume-*", "brume.sock")))
    brume = start_brume(data_dir=data_dir, args=["--sandbox"])
    # A service on the host that an unsandboxed function could reach.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    threading.Thread(target=accept_until_closed, args=(listener,), daemon=True).start()
    brume.client("s3").create_bucket(Bucket="sandboxed")
    lam = brume.client("lambda")
    create(lam, "probe", {"index.py": PROBE}, Timeout=30)
    response, body = invoke(lam, "probe", {"data_dir": data_dir, "port": listener.getsockname()[1]})
    assert "FunctionError" not in response, body
    # Brume's data directory is hidden: only the mount points of the function's own parts.
    assert body["data"] == ["lambda"], body
    assert body["write_code"].startswith("denied: "), body
    assert body["write_tmp"] == "ok: /tmp/scratch", body
    assert body["tmpdir"] == "/tmp"
    assert body["network"].startswith("denied: "), body
    assert body["code"] == ["index.py"]
    # The function reached Brume's S3 through the sandbox's bridge.
    assert brume.client("s3").get_object(Bucket="sandboxed", Key="k")["Body"].read() == b"from the sandbox"
    listener.close()
    # The socket that leads sandboxes to Brume lives in a directory of its own, removed when
    # Brume stops.
    sockets = set(glob.glob(os.path.join(tempfile.gettempdir(), "brume-*", "brume.sock"))) - before
    assert len(sockets) == 1, sockets
    assert brume.stop() == 0
    assert not os.path.exists(os.path.dirname(sockets.pop()))


def test_the_socket_directory_of_a_killed_brume_is_removed_by_the_next(start_brume, tmp_path):
    pattern = os.path.join(tempfile.gettempdir(), "brume-*", "brume.sock")
    before = set(glob.glob(pattern))
    data_dir = str(tmp_path / "data")
    first = start_brume(data_dir=data_dir, args=["--sandbox"])
    create(first.client("lambda"), "hello", {"index.py": "def handler(event, context):\n    return 'hi'\n"})
    assert invoke(first.client("lambda"), "hello")[1] == "hi"
    (left,) = set(glob.glob(pattern)) - before
    # Nothing runs at SIGKILL: the directory stays behind.
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    assert os.path.exists(left)
    second = start_brume(data_dir=data_dir, args=["--sandbox"])
    assert invoke(second.client("lambda"), "hello")[1] == "hi"
    assert not os.path.exists(os.path.dirname(left))
    # The running Brume's own directory stays.
    (own,) = set(glob.glob(pattern)) - before
    assert own != left
    assert second.stop() == 0
    assert not os.path.exists(os.path.dirname(own))
