"""Nothing acknowledged is lost: kill -9 a server under write load, restart it on the same
data directory, and check every acknowledged write.

The write path exercised end to end is STS's: each issued temporary credential is a
durable storage commit before the answer, and must work after the restart.
"""
import signal
import threading

import botocore.exceptions
import pytest


def write_until_killed(server, workers=8, acknowledged_before_kill=150):
    acknowledged = []
    lock = threading.Lock()
    enough = threading.Event()

    def worker():
        sts = server.client("sts")
        while True:
            try:
                c = sts.get_session_token(DurationSeconds=900)["Credentials"]
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                return  # the server died under us: this request was never acknowledged
            with lock:
                acknowledged.append(c)
                if len(acknowledged) >= acknowledged_before_kill:
                    enough.set()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    assert enough.wait(timeout=120), "the server did not acknowledge enough writes"
    server.proc.send_signal(signal.SIGKILL)  # requests are still in flight
    server.proc.wait()
    for t in threads:
        t.join(timeout=30)
    with lock:
        return list(acknowledged)


@pytest.mark.parametrize("fsync", ["default", "always"])
def test_kill_9_under_write_load_loses_nothing_acknowledged(start_brume, tmp_path, fsync):
    first = start_brume(data_dir=str(tmp_path), args=["--fsync", fsync])
    acknowledged = write_until_killed(first)
    second = start_brume(data_dir=str(tmp_path), args=["--fsync", fsync])
    for c in acknowledged:
        sts = second.client("sts", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"], token=c["SessionToken"])
        assert sts.get_caller_identity()["Account"] == "000000000000", c["AccessKeyId"]
