"""Counts the instructions a Brume build spends per request (see scripts/instructions).

Each scenario starts the build under callgrind on a fresh data directory, warms it up,
zeroes the counters, sends the measured requests one at a time with boto3, dumps the
counters and divides the total by the number of requests. Every thread of the server is
counted: the gateway's, the storage writer's and the background ones.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
from botocore.config import Config

WARMUP = 200


def client(service, port):
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def item(n, version=0):
    data = f"{n:08}" + ("x" if version == 0 else "y") * 168
    return {"pk": {"S": f"item-{n:06}"}, "n": {"N": str(n)}, "ok": {"BOOL": True}, "data": {"S": data}}


def sts_setup(port):
    sts = client("sts", port)
    return lambda i: sts.get_caller_identity()


def ddb_table(port):
    ddb = client("dynamodb", port)
    ddb.create_table(
        TableName="bench-items",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(1000):
        ddb.put_item(TableName="bench-items", Item=item(n))
    return ddb


def put_item_setup(port):
    ddb = ddb_table(port)
    # Each put replaces an item with another version of the same size, as the bench does.
    return lambda i: ddb.put_item(TableName="bench-items", Item=item(i % 1000, (i // 1000) % 2 + 1))


def get_item_setup(port):
    ddb = ddb_table(port)
    return lambda i: ddb.get_item(TableName="bench-items", Key={"pk": {"S": f"item-{i % 1000:06}"}})


def s3_bucket(port):
    s3 = client("s3", port)
    s3.create_bucket(Bucket="bench-bucket")
    return s3


def put_object_setup(port):
    s3 = s3_bucket(port)
    body = os.urandom(1024)
    return lambda i: s3.put_object(Bucket="bench-bucket", Key=f"k{i % 64}", Body=body)


def get_object_setup(port):
    s3 = s3_bucket(port)
    for k in range(64):
        s3.put_object(Bucket="bench-bucket", Key=f"k{k}", Body=os.urandom(1024))
    return lambda i: s3.get_object(Bucket="bench-bucket", Key=f"k{i % 64}")["Body"].read()


SCENARIOS = {
    "sts-get-caller-identity": sts_setup,
    "dynamodb-put-item": put_item_setup,
    "dynamodb-get-item": get_item_setup,
    "s3-put-object-1k": put_object_setup,
    "s3-get-object-1k": get_object_setup,
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(brume, scenario, requests):
    """Instructions per request of `scenario` served by the build `brume`."""
    work = tempfile.mkdtemp(prefix="brume-instructions-")
    port = free_port()
    out = os.path.join(work, "callgrind.out")
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         brume, "up", "--port", str(port), "--data-dir", os.path.join(work, "data"), "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_brume/health", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{brume} did not start under valgrind")
                time.sleep(0.5)
        call = SCENARIOS[scenario](port)
        for i in range(WARMUP):
            call(i)
        subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True, capture_output=True)
        for i in range(WARMUP, WARMUP + requests):
            call(i)
        subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True, capture_output=True)
        dumps = [f for f in os.listdir(work) if f.startswith("callgrind.out.")]
        if len(dumps) != 1:
            raise RuntimeError(f"expected one callgrind dump, found {dumps}")
        with open(os.path.join(work, dumps[0])) as f:
            total = next(int(m.group(1)) for line in f if (m := re.match(r"(?:summary|totals): (\d+)", line)))
        return total / requests
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brume", default="target/release/brume", help="the build to count")
    parser.add_argument("--against", help="a second build, counted the same way for comparison")
    parser.add_argument("--requests", type=int, default=1000, help="measured requests per scenario")
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="scenarios to run")
    args = parser.parse_args()
    builds = [args.brume] + ([args.against] if args.against else [])
    for b in builds:
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} is not an executable; build it with `cargo build --release -p brume`")
    names = ["brume", "against"][: len(builds)]
    for name, b in zip(names, builds):
        print(f"{name}: {b}")
    print(f"{'instructions per request':<26}" + "".join(f" | {n:>12}" for n in names) + (" | brume/against" if args.against else ""))
    for scenario in args.only or SCENARIOS:
        counts = [measure(b, scenario, args.requests) for b in builds]
        row = f"{scenario:<26}" + "".join(f" | {c:>12,.0f}" for c in counts)
        if args.against:
            row += f" | {counts[0] / counts[1]:.3f}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
