"""CloudWatch Logs through boto3 and the AWS CLI: log groups (paging, retention, tags),
log streams (orders, paging), PutLogEvents (ordering rules, rejected events), GetLogEvents
tokens, FilterLogEvents patterns and paging, `aws logs tail` (with --follow), and events
that survive a kill -9."""
import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

import botocore.exceptions
import pytest

ACCOUNT = "000000000000"
REGION = "us-east-1"
DAY_MS = 86_400_000
# `aws logs tail` exists only in AWS CLI v2, which is not on PyPI: Debian's `awscli`
# package is v2 (scripts/test installs it).
AWS_CLI_V2 = os.environ.get("AWS_CLI_V2", "/usr/bin/aws")


@pytest.fixture
def logs(server):
    return server.client("logs")


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r["ResponseMetadata"]["HTTPStatusCode"]


def now_ms():
    return int(time.time() * 1000)


def group_with_stream(logs, group="g", stream="s"):
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


def put(logs, group, stream, *messages, at=None):
    at = now_ms() if at is None else at
    events = [{"timestamp": at + i, "message": m} for i, m in enumerate(messages)]
    return logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def test_log_group_lifecycle(logs):
    before = now_ms()
    logs.create_log_group(logGroupName="/aws/lambda/fn")
    assert error_of(lambda: logs.create_log_group(logGroupName="/aws/lambda/fn")) == (
        "ResourceAlreadyExistsException", "The specified log group already exists", 400)
    [g] = logs.describe_log_groups()["logGroups"]
    assert g["logGroupName"] == "/aws/lambda/fn"
    assert g["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn:*"
    assert g["logGroupArn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn"
    assert before <= g["creationTime"] <= now_ms()
    assert g["storedBytes"] == 0 and g["logGroupClass"] == "STANDARD" and "retentionInDays" not in g

    logs.delete_log_group(logGroupName="/aws/lambda/fn")
    assert logs.describe_log_groups()["logGroups"] == []
    assert error_of(lambda: logs.delete_log_group(logGroupName="/aws/lambda/fn")) == (
        "ResourceNotFoundException", "The specified log group does not exist.", 400)


def test_invalid_names_are_refused(logs):
    code, message, status = error_of(lambda: logs.create_log_group(logGroupName="bad name"))
    assert (code, status) == ("InvalidParameterException", 400)
    assert "failed to satisfy constraint: Member must satisfy regular expression pattern" in message
    logs.create_log_group(logGroupName="g")
    code, _, _ = error_of(lambda: logs.create_log_stream(logGroupName="g", logStreamName="a:b"))
    assert code == "InvalidParameterException"


def test_describe_log_groups_prefix_pattern_and_pages(logs):
    for name in ["/app/api", "/app/worker", "/aws/lambda/One", "/aws/lambda/two", "other"]:
        logs.create_log_group(logGroupName=name)
    names = lambda r: [g["logGroupName"] for g in r["logGroups"]]
    assert names(logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")) == ["/aws/lambda/One", "/aws/lambda/two"]
    assert names(logs.describe_log_groups(logGroupNamePattern="one")) == ["/aws/lambda/One"]
    assert names(logs.describe_log_groups(logGroupNamePattern="WORK")) == ["/app/worker"]

    first = logs.describe_log_groups(limit=2)
    assert names(first) == ["/app/api", "/app/worker"] and "nextToken" in first
    pages = logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 2})
    assert [names(p) for p in pages] == [
        ["/app/api", "/app/worker"], ["/aws/lambda/One", "/aws/lambda/two"], ["other"]]

    code, message, _ = error_of(lambda: logs.describe_log_groups(limit=51))
    assert code == "InvalidParameterException" and "'limit'" in message
    code, _, _ = error_of(lambda: logs.describe_log_groups(logGroupNamePrefix="/a", logGroupNamePattern="a"))
    assert code == "InvalidParameterException"


def test_retention_policy(logs):
    logs.create_log_group(logGroupName="g")
    logs.put_retention_policy(logGroupName="g", retentionInDays=7)
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 7
    code, message, _ = error_of(lambda: logs.put_retention_policy(logGroupName="g", retentionInDays=2))
    assert code == "InvalidParameterException"
    assert "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90" in message
    logs.delete_retention_policy(logGroupName="g")
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]
    assert error_of(lambda: logs.put_retention_policy(logGroupName="nope", retentionInDays=1))[0] == (
        "ResourceNotFoundException")
    assert error_of(lambda: logs.delete_retention_policy(logGroupName="nope"))[0] == "ResourceNotFoundException"


def test_retention_hides_then_deletes_older_events(server, logs):
    group_with_stream(logs)
    now = now_ms()
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now - 3 * DAY_MS, "message": "old"}, {"timestamp": now - 3 * DAY_MS + 1, "message": "old2"}])
    put(logs, "g", "s", "new")
    messages = lambda r: [e["message"] for e in r["events"]]
    assert messages(logs.filter_log_events(logGroupName="g")) == ["old", "old2", "new"]
    logs.put_retention_policy(logGroupName="g", retentionInDays=1)
    assert messages(logs.filter_log_events(logGroupName="g")) == ["new"]
    assert messages(logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)) == ["new"]

    # The retention job deletes them, and they no longer count as stored.
    def sweep():
        req = urllib.request.Request(server.endpoint + "/_brume/jobs/logs-retention", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)["removed"]

    assert sweep() == 2
    assert sweep() == 0
    assert logs.describe_log_groups()["logGroups"][0]["storedBytes"] == len("new") + 26
    assert messages(logs.filter_log_events(logGroupName="g")) == ["new"]

    # Past the retention period, new events are refused as expired.
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now - 2 * DAY_MS, "message": "expired"}, {"timestamp": now - 2 * DAY_MS + 1, "message": "too"}])
    assert r["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    assert messages(logs.filter_log_events(logGroupName="g")) == ["new"]


def test_log_stream_lifecycle(logs):
    assert error_of(lambda: logs.create_log_stream(logGroupName="g", logStreamName="s")) == (
        "ResourceNotFoundException", "The specified log group does not exist.", 400)
    group_with_stream(logs)
    assert error_of(lambda: logs.create_log_stream(logGroupName="g", logStreamName="s")) == (
        "ResourceAlreadyExistsException", "The specified log stream already exists", 400)
    [s] = logs.describe_log_streams(logGroupName="g")["logStreams"]
    assert s["logStreamName"] == "s"
    assert s["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:g:log-stream:s"
    assert s["storedBytes"] == 0 and "creationTime" in s
    assert "lastEventTimestamp" not in s and "uploadSequenceToken" not in s

    at = now_ms()
    put(logs, "g", "s", "hello", "world", at=at)
    [s] = logs.describe_log_streams(logGroupName="g")["logStreams"]
    assert (s["firstEventTimestamp"], s["lastEventTimestamp"]) == (at, at + 1)
    assert s["lastIngestionTime"] >= at and s["uploadSequenceToken"].isdigit()
    assert s["storedBytes"] == len("hello") + len("world") + 2 * 26
    assert logs.describe_log_groups()["logGroups"][0]["storedBytes"] == s["storedBytes"]

    logs.delete_log_stream(logGroupName="g", logStreamName="s")
    assert logs.describe_log_streams(logGroupName="g")["logStreams"] == []
    assert logs.filter_log_events(logGroupName="g")["events"] == []
    assert error_of(lambda: logs.delete_log_stream(logGroupName="g", logStreamName="s")) == (
        "ResourceNotFoundException", "The specified log stream does not exist.", 400)
    assert error_of(lambda: logs.describe_log_streams(logGroupName="nope"))[0] == "ResourceNotFoundException"


def test_describe_log_streams_orders_and_pages(logs):
    logs.create_log_group(logGroupName="g")
    now = now_ms()
    for name, offset in [("a", 30), ("b", 10), ("c", 20), ("d", 40)]:
        logs.create_log_stream(logGroupName="g", logStreamName=name)
        put(logs, "g", name, "x", at=now - 1000 + offset)
    names = lambda r: [s["logStreamName"] for s in r["logStreams"]]
    assert names(logs.describe_log_streams(logGroupName="g")) == ["a", "b", "c", "d"]
    assert names(logs.describe_log_streams(logGroupName="g", descending=True)) == ["d", "c", "b", "a"]
    assert names(logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime")) == ["b", "c", "a", "d"]
    by_time = logs.get_paginator("describe_log_streams").paginate(
        logGroupName="g", orderBy="LastEventTime", descending=True, PaginationConfig={"PageSize": 3})
    assert [names(p) for p in by_time] == [["d", "a", "c"], ["b"]]
    by_name = logs.get_paginator("describe_log_streams").paginate(logGroupName="g", PaginationConfig={"PageSize": 2})
    assert [names(p) for p in by_name] == [["a", "b"], ["c", "d"]]
    logs.create_log_stream(logGroupName="g", logStreamName="b2")
    assert names(logs.describe_log_streams(logGroupName="g", logStreamNamePrefix="b")) == ["b", "b2"]
    code, _, _ = error_of(lambda: logs.describe_log_streams(
        logGroupName="g", logStreamNamePrefix="b", orderBy="LastEventTime"))
    assert code == "InvalidParameterException"
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:g"
    assert names(logs.describe_log_streams(logGroupIdentifier=arn, limit=1)) == ["a"]
    # The identifier's pattern leaves out the `:*` that a group's own `arn` ends with; the
    # message no longer shows the value (AWS's answer since 2026).
    code, message, _ = error_of(lambda: logs.describe_log_streams(logGroupIdentifier=arn + ":*"))
    assert (code, message) == ("InvalidParameterException", (
        "1 validation error detected: Value at 'logGroupIdentifier' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w#+=/:,.@-]*"))


def test_put_log_events_rules(logs):
    group_with_stream(logs)
    r = put(logs, "g", "s", "one")
    assert r["nextSequenceToken"].isdigit() and "rejectedLogEventsInfo" not in r
    # The sequence token is ignored, as AWS now does.
    r2 = logs.put_log_events(logGroupName="g", logStreamName="s", sequenceToken="bogus",
                             logEvents=[{"timestamp": now_ms(), "message": "two"}])
    assert r2["nextSequenceToken"] != r["nextSequenceToken"]

    now = now_ms()
    code, message, status = error_of(lambda: logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}]))
    assert (code, message, status) == (
        "InvalidParameterException", "Log events in a single PutLogEvents request must be in chronological order.", 400)
    code, message, _ = error_of(lambda: logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now - 2 * DAY_MS, "message": "a"}, {"timestamp": now, "message": "b"}]))
    assert (code, message) == ("InvalidParameterException",
                               "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")

    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now - 14 * DAY_MS - 3_600_000, "message": "too old"},
        {"timestamp": now - 14 * DAY_MS - 3_600_000 + 1, "message": "too old too"},
        {"timestamp": now - 14 * DAY_MS + 60_000, "message": "fine"},
    ])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now, "message": "now"}, {"timestamp": now + 3 * 3_600_000, "message": "too new"}])
    assert r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    got = [e["message"] for e in logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)["events"]]
    assert got == ["fine", "one", "two", "now"]

    assert error_of(lambda: put(logs, "g", "nope", "x")) == (
        "ResourceNotFoundException", "The specified log stream does not exist.", 400)
    assert error_of(lambda: put(logs, "nope", "s", "x")) == (
        "ResourceNotFoundException", "The specified log group does not exist.", 400)


def test_get_log_events_tokens(logs):
    group_with_stream(logs)
    base = now_ms() - 60_000
    logs.put_log_events(logGroupName="g", logStreamName="s",
                        logEvents=[{"timestamp": base + i, "message": f"m{i}"} for i in range(25)])
    messages = lambda r: [e["message"] for e in r["events"]]

    latest = logs.get_log_events(logGroupName="g", logStreamName="s", limit=10)
    assert messages(latest) == [f"m{i}" for i in range(15, 25)]
    assert latest["nextForwardToken"].startswith("f/") and latest["nextBackwardToken"].startswith("b/")
    older = logs.get_log_events(logGroupName="g", logStreamName="s", limit=10, nextToken=latest["nextBackwardToken"])
    assert messages(older) == [f"m{i}" for i in range(5, 15)]

    seen, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {"startFromHead": True}
        r = logs.get_log_events(logGroupName="g", logStreamName="s", limit=10, **kwargs)
        seen += messages(r)
        if r["nextForwardToken"] == token:
            break
        token = r["nextForwardToken"]
    assert seen == [f"m{i}" for i in range(25)]

    # Nothing newer: the same token comes back, and picks up what arrives next.
    again = logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=token)
    assert again["events"] == [] and again["nextForwardToken"] == token
    put(logs, "g", "s", "later")
    assert messages(logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=token)) == ["later"]

    window = logs.get_log_events(logGroupName="g", logStreamName="s", startTime=base + 3, endTime=base + 6,
                                 startFromHead=True)
    assert messages(window) == ["m3", "m4", "m5"]
    code, _, _ = error_of(lambda: logs.get_log_events(logGroupName="g", logStreamName="s", nextToken="f/garbage"))
    assert code == "InvalidParameterException"
    assert error_of(lambda: logs.get_log_events(logGroupName="g", logStreamName="nope"))[1] == (
        "The specified log stream does not exist.")


def test_filter_log_events_patterns_and_streams(logs):
    logs.create_log_group(logGroupName="g")
    for s in ["app-1", "app-2", "db"]:
        logs.create_log_stream(logGroupName="g", logStreamName=s)
    base = now_ms() - 60_000
    logs.put_log_events(logGroupName="g", logStreamName="app-1", logEvents=[
        {"timestamp": base, "message": "ERROR disk full"}, {"timestamp": base + 20, "message": "INFO started"}])
    logs.put_log_events(logGroupName="g", logStreamName="app-2", logEvents=[
        {"timestamp": base + 10, "message": "WARN low memory"}, {"timestamp": base + 30, "message": "ERROR Exiting"}])
    logs.put_log_events(logGroupName="g", logStreamName="db", logEvents=[
        {"timestamp": base + 5, "message": "query took 5ms"}])

    def messages(**kwargs):
        return [e["message"] for e in logs.filter_log_events(logGroupName="g", **kwargs)["events"]]

    assert messages() == ["ERROR disk full", "query took 5ms", "WARN low memory", "INFO started", "ERROR Exiting"]
    assert messages(filterPattern="ERROR") == ["ERROR disk full", "ERROR Exiting"]
    assert messages(filterPattern="ERROR disk") == ["ERROR disk full"]
    assert messages(filterPattern='"low memory"') == ["WARN low memory"]
    assert messages(filterPattern="?WARN ?INFO") == ["WARN low memory", "INFO started"]
    assert messages(filterPattern="ERROR -Exiting") == ["ERROR disk full"]
    assert messages(filterPattern="error") == []
    assert messages(logStreamNames=["app-2", "db"]) == ["query took 5ms", "WARN low memory", "ERROR Exiting"]
    assert messages(logStreamNamePrefix="app-") == [
        "ERROR disk full", "WARN low memory", "INFO started", "ERROR Exiting"]
    assert messages(startTime=base + 10, endTime=base + 20) == ["WARN low memory", "INFO started"]

    r = logs.filter_log_events(logGroupName="g", logStreamNamePrefix="app-", interleaved=True)
    e = r["events"][0]
    assert e["logStreamName"] == "app-1" and e["timestamp"] == base and e["eventId"] and e["ingestionTime"] >= base
    assert sorted(s["logStreamName"] for s in r["searchedLogStreams"]) == ["app-1", "app-2"]

    pages = logs.get_paginator("filter_log_events").paginate(logGroupName="g", PaginationConfig={"PageSize": 2})
    assert [[e["message"] for e in p["events"]] for p in pages] == [
        ["ERROR disk full", "query took 5ms"], ["WARN low memory", "INFO started"], ["ERROR Exiting"]]

    code, message, _ = error_of(lambda: logs.filter_log_events(logGroupName="g", filterPattern="[ip, user, ...]"))
    assert code == "InvalidParameterException" and "not implemented" in message
    code, _, _ = error_of(lambda: logs.filter_log_events(
        logGroupName="g", logStreamNames=["a"], logStreamNamePrefix="a"))
    assert code == "InvalidParameterException"
    assert error_of(lambda: logs.filter_log_events(logGroupName="nope"))[1] == "The specified log group does not exist."


def test_filter_log_events_json_patterns(logs):
    group_with_stream(logs)
    put(logs, "g", "s", '{"level": "ERROR", "latency": 250, "user": {"id": "u-1"}}',
        '{"level": "INFO", "latency": 20, "user": {"id": "u-2"}}', "plain text ERROR")

    def messages(pattern):
        return [e["message"] for e in logs.filter_log_events(logGroupName="g", filterPattern=pattern)["events"]]

    assert messages('{ $.level = "ERROR" }') == ['{"level": "ERROR", "latency": 250, "user": {"id": "u-1"}}']
    assert messages("{ $.latency < 100 && $.user.id = u-* }") == [
        '{"level": "INFO", "latency": 20, "user": {"id": "u-2"}}']
    assert len(messages("{ $.level = ERROR || $.level = INFO }")) == 2
    assert messages("{ $.missing NOT EXISTS && $.latency > 1000 }") == []
    assert error_of(lambda: messages("{ $.level = }"))[:2] == ("InvalidParameterException", "Invalid filter pattern")
    # Grouped past what the parser follows: refused (it recursed once per group, and a
    # pattern of a few thousand aborted Brume); groups within it still match.
    deep = "{ " + "(" * 450 + "$.level = ERROR" + ")" * 450 + " }"
    assert error_of(lambda: messages(deep))[:2] == ("InvalidParameterException", "Invalid filter pattern")
    assert len(messages("{ " + "(" * 50 + "$.level = ERROR" + ")" * 50 + " }")) == 1


def test_tags_by_arn_and_legacy(logs):
    logs.create_log_group(logGroupName="g", tags={"team": "a"})
    arn = logs.describe_log_groups()["logGroups"][0]["logGroupArn"]
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a"}
    logs.tag_resource(resourceArn=arn, tags={"env": "dev", "team": "b"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev", "team": "b"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName="g")["tags"] == {"env": "dev"}
    logs.tag_log_group(logGroupName="g", tags={"x": "1"})
    logs.untag_log_group(logGroupName="g", tags=["env"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"x": "1"}

    missing = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:nope"
    assert error_of(lambda: logs.tag_resource(resourceArn=missing, tags={"a": "b"}))[0] == "ResourceNotFoundException"
    assert error_of(lambda: logs.list_tags_log_group(logGroupName="nope"))[0] == "ResourceNotFoundException"
    code, message, _ = error_of(lambda: logs.tag_resource(
        resourceArn=arn, tags={f"k{i}": "v" for i in range(50)}))
    assert code == "TooManyTagsException"


def cli_v2_env():
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": "",
            "PYTHONUNBUFFERED": "1"}


def test_cli_get_log_events_and_tail(server, logs):
    group_with_stream(logs, "/aws/lambda/cli", "2024/01/01/[$LATEST]abc")
    base = now_ms() - 5_000
    logs.put_log_events(logGroupName="/aws/lambda/cli", logStreamName="2024/01/01/[$LATEST]abc",
                        logEvents=[{"timestamp": base + i, "message": f"line {i}"} for i in range(3)])
    _, out, _ = server.cli("logs", "get-log-events", "--log-group-name", "/aws/lambda/cli",
                           "--log-stream-name", "2024/01/01/[$LATEST]abc", "--start-from-head")
    assert [e["message"] for e in out["events"]] == ["line 0", "line 1", "line 2"]

    proc = subprocess.run([AWS_CLI_V2, "--endpoint-url", server.endpoint, "logs", "tail", "/aws/lambda/cli"],
                          capture_output=True, text=True, env=cli_v2_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3
    assert all("2024/01/01/[$LATEST]abc" in line for line in lines)
    assert [line.rsplit(" ", 2)[-2:] for line in lines] == [["line", "0"], ["line", "1"], ["line", "2"]]


def test_cli_tail_follow_streams_new_events(server, logs):
    group_with_stream(logs, "follow", "s")
    put(logs, "follow", "s", "before")
    proc = subprocess.Popen([AWS_CLI_V2, "--endpoint-url", server.endpoint, "logs", "tail", "follow", "--follow",
                             "--format", "short"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_v2_env())
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in proc.stdout], daemon=True).start()

    def next_line():
        try:
            return lines.get(timeout=60)
        except queue.Empty:
            proc.kill()
            raise AssertionError(f"aws logs tail --follow printed nothing: {proc.stderr.read()}")

    try:
        assert next_line().endswith(" before")
        put(logs, "follow", "s", "after one", "after two")
        assert next_line().endswith(" after one")
        assert next_line().endswith(" after two")
    finally:
        proc.kill()
        proc.wait()


def test_acknowledged_events_survive_kill_9(start_brume):
    with tempfile.TemporaryDirectory() as data:
        b = start_brume(data_dir=data)
        c = b.client("logs")
        group_with_stream(c)
        put(c, "g", "s", *[f"m{i}" for i in range(100)])
        b.stop(sig=signal.SIGKILL)
        b = start_brume(data_dir=data)
        c = b.client("logs")
        got = c.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)["events"]
        assert [e["message"] for e in got] == [f"m{i}" for i in range(100)]
