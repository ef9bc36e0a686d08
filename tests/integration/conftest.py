"""Starts real Brume servers for the integration suite and hands tests real clients.

Every server runs on a free port with a temporary data directory. The session-wide server
is reset (POST /_brume/reset) before each test, so tests start clean without a restart.
"""
import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

from unittest import mock

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BRUME_BIN = os.environ.get("BRUME_BIN", os.path.join(ROOT, "target", "debug", "brume"))
VENV_BIN = os.path.dirname(os.path.realpath(os.sys.executable))
AWS_CLI = os.path.join(os.path.dirname(os.sys.executable), "aws")


@contextlib.contextmanager
def signing_clock(when):
    """Makes botocore sign as if the time were `when` (its own signers and, when awscrt is
    installed, the CRT ones)."""
    import botocore.auth
    targets = [botocore.auth]
    try:
        import botocore.crt.auth
        targets.append(botocore.crt.auth)
    except ImportError:
        pass
    with contextlib.ExitStack() as stack:
        for module in targets:
            stack.enter_context(mock.patch.object(module, "get_current_datetime", return_value=when))
        yield


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Brume:
    """One running Brume process."""

    def __init__(self, data_dir=None, args=(), env=None):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        cmd = [BRUME_BIN, "up", "--port", str(self.port), "--log-level", "warn", *args]
        cmd += ["--data-dir", data_dir] if data_dir else ["--ephemeral"]
        self.log = tempfile.TemporaryFile()
        # Python functions run on the test interpreter, which has boto3 as Lambda's does.
        base = {**os.environ, "BRUME_LAMBDA_PYTHON": os.sys.executable}
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env={**base, **(env or {})})
        self.wait_healthy()

    def wait_healthy(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"brume exited with {self.proc.returncode}: {self.output()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/_brume/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"brume did not become healthy: {self.output()}")

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def health(self):
        with urllib.request.urlopen(self.endpoint + "/_brume/health", timeout=5) as r:
            return json.load(r)

    def reset(self, service=None):
        url = self.endpoint + "/_brume/reset" + (f"?service={service}" if service else "")
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10) as r:
            return json.load(r)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def client(self, service, access_key="test", secret_key="test", token=None, region="us-east-1", **config):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=token,
            config=Config(**{"retries": {"max_attempts": 1}, **config}),
        )

    def cli(self, *args, access_key="test", secret_key="test", check=True, env=None):
        """Runs the AWS CLI against this server; returns (exit code, parsed JSON or text, stderr)."""
        full_env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            **(env or {}),
        }
        proc = subprocess.run(
            [AWS_CLI, "--endpoint-url", self.endpoint, "--output", "json", *args],
            capture_output=True, text=True, env=full_env, timeout=60,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        out = proc.stdout
        try:
            out = json.loads(out) if out.strip() else None
        except ValueError:
            pass
        return proc.returncode, out, proc.stderr


@pytest.fixture(scope="session")
def server():
    b = Brume()
    yield b
    code = b.stop()
    assert code == 0, f"brume exited with {code} on SIGTERM: {b.output()}"


@pytest.fixture(autouse=True)
def clean_state(request):
    if "server" in request.fixturenames:
        request.getfixturevalue("server").reset()
    yield


@pytest.fixture
def start_brume():
    """Starts extra servers (own data dirs, flags); stops them at the end of the test."""
    started = []

    def start(data_dir=None, args=(), env=None):
        b = Brume(data_dir=data_dir, args=args, env=env)
        started.append(b)
        return b

    yield start
    for b in started:
        if b.proc.poll() is None:
            b.proc.kill()
            b.proc.wait()


@pytest.fixture
def localhost_names(monkeypatch):
    """Resolves `*.localhost` to loopback in this process, as systemd-resolved and
    browsers do; this machine's libc resolver does not."""
    import socket
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def kill_9_during_writes(brume, service, write, enough, writers=6):
    """Runs `write(client, w, i)` for i = 0, 1, ... on `writers` threads, each with its own
    `service` client of `brume`; kills `brume` with SIGKILL once `enough` writes were
    acknowledged, and answers what each acknowledged write returned. A write that raises
    (the server died under it) ends its thread: what it was doing was never acknowledged."""
    acknowledged = []
    lock = threading.Lock()
    done = threading.Event()

    def worker(w):
        client = brume.client(service)
        i = 0
        while True:
            try:
                result = write(client, w, i)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                return
            with lock:
                acknowledged.append(result)
                if len(acknowledged) >= enough:
                    done.set()
            i += 1

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(writers)]
    for t in threads:
        t.start()
    assert done.wait(timeout=120)
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()
    for t in threads:
        t.join(timeout=30)
    return acknowledged

