"""Step Functions distributed Map: items from the input or read from S3 (JSON, JSON Lines,
CSV, listObjectsV2), ItemSelector and ItemBatcher, tolerated failures, the ResultWriter's
files, the Map run operations, child executions, and a Map run that survives kill -9."""

import json
import signal
import time

import pytest

from test_stepfunctions import ACCOUNT, REGION, error_of, finished, history, machine, run, types


def distributed(processor_states, start="P", execution_type="STANDARD", **map_fields):
    """A machine whose one state is a distributed Map over `processor_states`."""
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                    "StartAt": start,
                    "States": processor_states,
                },
                "End": True,
                **map_fields,
            }
        },
    }


DOUBLE = {"P": {"Type": "Pass", "Parameters": {"v.$": "$.n", "label.$": "States.Format('n={}', $.n)"}, "End": True}}


def map_run_of(sfn, execution_arn):
    runs = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
    assert len(runs) == 1
    return runs[0]["mapRunArn"]


def test_items_from_the_input_run_as_child_executions_of_a_map_run(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "dist", distributed(DOUBLE, ItemsPath="$.items", MaxConcurrency=3, Label="Doubler",
                                           ItemSelector={"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"}))
    described = run(sfn, arn, {"items": [5, 6, 7, 8]})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [{"v": n, "label": f"n={n}"} for n in (5, 6, 7, 8)]
    events = history(sfn, described["executionArn"])
    assert types(events) == ["ExecutionStarted", "MapStateEntered", "MapRunStarted", "MapRunSucceeded",
                             "MapStateExited", "ExecutionSucceeded"]
    map_run_arn = events[2]["mapRunStartedEventDetails"]["mapRunArn"]
    assert map_run_arn.startswith(f"arn:aws:states:{REGION}:{ACCOUNT}:mapRun:dist/Doubler:")
    assert [e["previousEventId"] for e in events] == [0, 0, 2, 3, 4, 5]

    assert map_run_of(sfn, described["executionArn"]) == map_run_arn
    listed = sfn.list_map_runs(executionArn=described["executionArn"])["mapRuns"][0]
    assert listed["executionArn"] == described["executionArn"]
    assert listed["stateMachineArn"] == arn
    assert "stopDate" in listed
    run_info = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert run_info["status"] == "SUCCEEDED"
    assert run_info["maxConcurrency"] == 3
    assert run_info["toleratedFailureCount"] == 0
    assert run_info["toleratedFailurePercentage"] == 0
    for counts in (run_info["itemCounts"], run_info["executionCounts"]):
        assert counts["total"] == 4
        assert counts["succeeded"] == 4
        assert counts["pending"] == counts["running"] == counts["failed"] == 0

    children = sfn.list_executions(mapRunArn=map_run_arn)["executions"]
    assert len(children) == 4
    assert {c["status"] for c in children} == {"SUCCEEDED"}
    child = children[0]
    assert child["executionArn"].startswith(f"arn:aws:states:{REGION}:{ACCOUNT}:execution:dist/Doubler:")
    assert child["mapRunArn"] == map_run_arn
    one = sfn.describe_execution(executionArn=child["executionArn"])
    assert one["mapRunArn"] == map_run_arn
    assert json.loads(one["input"])["n"] in (5, 6, 7, 8)
    assert types(history(sfn, child["executionArn"])) == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                                           "ExecutionSucceeded"]
    # The parent machine's own executions do not include the children.
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1

    # The AWS CLI reads the same Map run.
    _, out, _ = server.cli("stepfunctions", "describe-map-run", "--map-run-arn", map_run_arn)
    assert out["status"] == "SUCCEEDED"
    assert out["executionCounts"]["succeeded"] == 4


def test_express_children_run_in_memory(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "dist-express", distributed(DOUBLE, execution_type="EXPRESS",
                                                   ItemSelector={"n.$": "$$.Map.Item.Value"}))
    described = run(sfn, arn, [1, 2, 3])
    assert described["status"] == "SUCCEEDED", described
    assert [o["v"] for o in json.loads(described["output"])] == [1, 2, 3]
    map_run_arn = map_run_of(sfn, described["executionArn"])
    assert sfn.describe_map_run(mapRunArn=map_run_arn)["executionCounts"]["succeeded"] == 3
    assert sfn.list_executions(mapRunArn=map_run_arn)["executions"] == []


def bucket_with(s3, name, objects):
    s3.create_bucket(Bucket=name)
    for key, body in objects.items():
        s3.put_object(Bucket=name, Key=key, Body=body)


ECHO = {"P": {"Type": "Pass", "End": True}}


def test_readers_json_jsonl_and_csv(server):
    sfn, s3 = server.client("stepfunctions"), server.client("s3")
    bucket_with(s3, "items", {
        "a.json": json.dumps([{"k": 1}, {"k": 2}, {"k": 3}]),
        "a.jsonl": '{"k": "x"}\n{"k": "y"}\n\n',
        "a.csv": 'name,qty\r\napple,3\n"pear, green","1"\n',
        "b.csv": "x|1\ny|2\nz|3\n",
    })

    def read(config, key, payload=None, **extra):
        reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config,
                  "Parameters": {"Bucket": "items", "Key.$": "$.key"}}
        arn = machine(sfn, f"reader-{abs(hash(json.dumps([config, key, extra]))) % 10**8}",
                      distributed(ECHO, ItemReader=reader, **extra))
        described = run(sfn, arn, {"key": key, **(payload or {})})
        assert described["status"] == "SUCCEEDED", described
        return json.loads(described["output"])

    assert read({"InputType": "JSON"}, "a.json") == [{"k": 1}, {"k": 2}, {"k": 3}]
    assert read({"InputType": "JSON", "MaxItems": 2}, "a.json") == [{"k": 1}, {"k": 2}]
    assert read({"InputType": "JSONL"}, "a.jsonl") == [{"k": "x"}, {"k": "y"}]
    assert read({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}, "a.csv") == [
        {"name": "apple", "qty": "3"}, {"name": "pear, green", "qty": "1"}]
    given = {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["id", "n"], "CSVDelimiter": "PIPE",
             "MaxItemsPath": "$.max"}
    assert read(given, "b.csv", {"max": 2}) == [{"id": "x", "n": "1"}, {"id": "y", "n": "2"}]

    # A missing object fails the Map with States.ItemReaderFailed.
    arn = machine(sfn, "reader-missing", distributed(ECHO, ItemReader={
        "Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": "items", "Key": "nope.json"}}))
    described = run(sfn, arn, {})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ItemReaderFailed"
    assert "NoSuchKey" in described["cause"]


def test_list_objects_v2_reader_reads_every_page(server):
    sfn, s3 = server.client("stepfunctions"), server.client("s3")
    s3.create_bucket(Bucket="listed")
    for i in range(1003):
        s3.put_object(Bucket="listed", Key=f"in/{i:05}.txt", Body=b"x" * (i % 7 + 1))
    s3.put_object(Bucket="listed", Key="out/other.txt", Body=b"no")
    reader = {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "listed", "Prefix": "in/"}}
    arn = machine(sfn, "lister", distributed(ECHO, execution_type="EXPRESS", ItemReader=reader, MaxConcurrency=200))
    described = run(sfn, arn, {})
    assert described["status"] == "SUCCEEDED", described
    items = json.loads(described["output"])
    assert [i["Key"] for i in items] == [f"in/{i:05}.txt" for i in range(1003)]
    head = s3.head_object(Bucket="listed", Key="in/00003.txt")
    third = items[3]
    assert set(third) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert third["Etag"] == head["ETag"]
    assert third["Size"] == 4
    assert third["StorageClass"] == "STANDARD"
    assert third["LastModified"] == int(head["LastModified"].timestamp())


def test_item_batcher_groups_items_with_batch_input(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "batches", distributed(ECHO, ItemBatcher={"MaxItemsPerBatch": 3, "BatchInput": {"tag.$": "$.tag"}},
                                              ItemsPath="$.items"))
    described = run(sfn, arn, {"items": list(range(7)), "tag": "t"})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [
        {"Items": [0, 1, 2], "BatchInput": {"tag": "t"}},
        {"Items": [3, 4, 5], "BatchInput": {"tag": "t"}},
        {"Items": [6], "BatchInput": {"tag": "t"}},
    ]
    info = sfn.describe_map_run(mapRunArn=map_run_of(sfn, described["executionArn"]))
    assert info["itemCounts"]["total"] == 7
    assert info["executionCounts"]["total"] == 3


FAIL_ODD = {
    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.odd", "BooleanEquals": True, "Next": "Boom"}],
              "Default": "Fine"},
    "Boom": {"Type": "Fail", "Error": "Odd", "Cause": "odd item"},
    "Fine": {"Type": "Succeed"},
}


def test_tolerated_failures(server):
    sfn = server.client("stepfunctions")
    items = {"items": [{"odd": n % 2 == 1} for n in range(6)]}
    tolerant = machine(sfn, "tolerant", distributed(FAIL_ODD, start="Check", ItemsPath="$.items",
                                                    ToleratedFailurePercentage=50))
    described = run(sfn, tolerant, items)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output[1] == {"Error": "Odd", "Cause": "odd item"}
    info = sfn.describe_map_run(mapRunArn=map_run_of(sfn, described["executionArn"]))
    assert info["itemCounts"]["failed"] == 3
    assert info["itemCounts"]["succeeded"] == 3
    assert info["toleratedFailurePercentage"] == 50

    strict = machine(sfn, "strict", distributed(FAIL_ODD, start="Check", ItemsPath="$.items", MaxConcurrency=1,
                                                ToleratedFailureCountPath="$.tolerate"))
    described = run(sfn, strict, {**items, "tolerate": 1})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ExceedToleratedFailureThreshold"
    events = history(sfn, described["executionArn"])
    assert types(events) == ["ExecutionStarted", "MapStateEntered", "MapRunStarted", "MapRunFailed",
                             "ExecutionFailed"]
    assert events[3]["mapRunFailedEventDetails"]["error"] == "States.ExceedToleratedFailureThreshold"
    map_run_arn = map_run_of(sfn, described["executionArn"])
    info = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert info["status"] == "FAILED"
    assert info["toleratedFailureCount"] == 1
    assert info["itemCounts"]["failed"] == 2
    assert info["itemCounts"]["pending"] == 2
    failed = sfn.list_executions(mapRunArn=map_run_arn, statusFilter="FAILED")["executions"]
    assert len(failed) == 2
    child = sfn.describe_execution(executionArn=failed[0]["executionArn"])
    assert (child["error"], child["cause"]) == ("Odd", "odd item")

    # Without a tolerated threshold, one failed child fails the Map, which Catch catches.
    caught = distributed(FAIL_ODD, start="Check", ItemsPath="$.items")
    caught["States"]["M"]["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}]
    caught["States"]["Handled"] = {"Type": "Pass", "End": True}
    described = run(sfn, machine(sfn, "caught", caught), items)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["Error"] == "States.ExceedToleratedFailureThreshold"


def test_result_writer_files(server):
    sfn, s3 = server.client("stepfunctions"), server.client("s3")
    bucket_with(s3, "rows", {"in.csv": "n,odd\n1,true\n2,false\n3,false\n"})
    s3.create_bucket(Bucket="results")
    states = {
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.odd", "StringEquals": "true", "Next": "Boom"}],
                  "Default": "Fine"},
        "Boom": {"Type": "Fail", "Error": "Odd", "Cause": "odd item"},
        "Fine": {"Type": "Pass", "Parameters": {"got.$": "$.n"}, "End": True},
    }
    arn = machine(sfn, "writer", distributed(
        states, start="Check", ToleratedFailureCount=1,
        ItemReader={"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV"},
                    "Parameters": {"Bucket": "rows", "Key": "in.csv"}},
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                      "Parameters": {"Bucket": "results", "Prefix": "runs/"}}))
    described = run(sfn, arn, {})
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    map_run_arn = map_run_of(sfn, described["executionArn"])
    map_run_id = map_run_arn.rsplit(":", 1)[1]
    assert output == {"MapRunArn": map_run_arn,
                      "ResultWriterDetails": {"Bucket": "results", "Key": f"runs/{map_run_id}/manifest.json"}}
    manifest = json.loads(s3.get_object(Bucket="results", Key=f"runs/{map_run_id}/manifest.json")["Body"].read())
    assert manifest["DestinationBucket"] == "results"
    assert manifest["MapRunArn"] == map_run_arn
    assert manifest["ResultFiles"]["PENDING"] == []
    [succeeded_file] = manifest["ResultFiles"]["SUCCEEDED"]
    [failed_file] = manifest["ResultFiles"]["FAILED"]
    assert succeeded_file["Key"] == f"runs/{map_run_id}/SUCCEEDED_0.json"
    body = s3.get_object(Bucket="results", Key=succeeded_file["Key"])["Body"].read()
    assert succeeded_file["Size"] == len(body)
    succeeded = json.loads(body)
    assert sorted(json.loads(r["Output"])["got"] for r in succeeded) == ["2", "3"]
    first = succeeded[0]
    assert first["Status"] == "SUCCEEDED"
    assert first["StateMachineArn"] == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:writer/M"
    assert sfn.describe_execution(executionArn=first["ExecutionArn"])["status"] == "SUCCEEDED"
    assert {"Input", "InputDetails", "Name", "StartDate", "StopDate", "OutputDetails"} <= set(first)
    failed = json.loads(s3.get_object(Bucket="results", Key=failed_file["Key"])["Body"].read())
    assert [(r["Status"], r["Error"], r["Cause"]) for r in failed] == [("FAILED", "Odd", "odd item")]
    info = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert info["executionCounts"]["resultsWritten"] == 3


SLOW = {"Nap": {"Type": "Wait", "Seconds": 1, "Next": "Done"}, "Done": {"Type": "Pass", "End": True}}


def test_update_map_run(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "slow", distributed(SLOW, start="Nap", ItemsPath="$.items", MaxConcurrency=1))
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": list(range(6))}))["executionArn"]
    deadline = time.monotonic() + 10
    while not sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    map_run_arn = map_run_of(sfn, execution_arn)
    running = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert running["status"] == "RUNNING"
    assert running["executionCounts"]["running"] == 1
    sfn.update_map_run(mapRunArn=map_run_arn, maxConcurrency=6, toleratedFailureCount=2)
    updated = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert updated["maxConcurrency"] == 6
    assert updated["toleratedFailureCount"] == 2
    started = time.monotonic()
    described = finished(sfn, execution_arn)
    assert described["status"] == "SUCCEEDED"
    # With all the rest at once, the other five children took about one Wait, not five.
    assert time.monotonic() - started < 4
    error = error_of(sfn.update_map_run, mapRunArn=map_run_arn, maxConcurrency=2)
    assert error["Code"] == "ValidationException"
    error = error_of(sfn.describe_map_run, mapRunArn=map_run_arn[:-3] + "abc")
    assert error["Code"] == "ResourceNotFound"
    error = error_of(sfn.list_map_runs, executionArn=execution_arn + "x")
    assert error["Code"] == "ExecutionDoesNotExist"


def test_stopping_the_parent_aborts_its_map_run_and_running_children(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "stopped", distributed(SLOW, start="Nap", ItemsPath="$.items", MaxConcurrency=2))
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": list(range(6))}))["executionArn"]
    deadline = time.monotonic() + 10
    while not sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    map_run_arn = map_run_of(sfn, execution_arn)
    sfn.stop_execution(executionArn=execution_arn)
    deadline = time.monotonic() + 10
    while sfn.describe_map_run(mapRunArn=map_run_arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    info = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert info["status"] == "ABORTED"
    assert "stopDate" in info
    children = sfn.list_executions(mapRunArn=map_run_arn)["executions"]
    assert len(children) == 2
    assert {c["status"] for c in children} == {"ABORTED"}
    assert types(history(sfn, children[0]["executionArn"]))[-1] == "ExecutionAborted"


def test_definitions_with_bad_distributed_fields_are_refused(server):
    sfn = server.client("stepfunctions")
    bad_reader = distributed(ECHO, ItemReader={"Resource": "arn:aws:states:::s3:getObject",
                                               "ReaderConfig": {"InputType": "XML"},
                                               "Parameters": {"Bucket": "b", "Key": "k"}})
    error = error_of(sfn.create_state_machine, name="bad", definition=json.dumps(bad_reader),
                     roleArn="arn:aws:iam::000000000000:role/r")
    assert error["Code"] == "InvalidDefinition"
    bad_type = distributed(ECHO, execution_type="FAST")
    error = error_of(sfn.create_state_machine, name="bad", definition=json.dumps(bad_type),
                     roleArn="arn:aws:iam::000000000000:role/r")
    assert error["Code"] == "InvalidDefinition"


def test_a_map_run_survives_kill_9_without_rerunning_ended_children(start_brume, tmp_path):
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    sfn = brume.client("stepfunctions")
    arn = machine(sfn, "durable", distributed(SLOW, start="Nap", ItemsPath="$.items", MaxConcurrency=4))
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": list(range(12))}))["executionArn"]
    deadline = time.monotonic() + 20
    while True:
        runs = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
        done = sfn.list_executions(mapRunArn=runs[0]["mapRunArn"], statusFilter="SUCCEEDED")["executions"] if runs else []
        if len(done) >= 4:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    before = {e["executionArn"]: e["stopDate"] for e in done}
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()

    sfn = start_brume(data_dir=data_dir).client("stepfunctions")
    described = finished(sfn, execution_arn, timeout=60)
    assert described["status"] == "SUCCEEDED", described
    assert len(json.loads(described["output"])) == 12
    map_run_arn = map_run_of(sfn, execution_arn)
    children = sfn.list_executions(mapRunArn=map_run_arn)["executions"]
    assert len(children) == 12
    assert {c["status"] for c in children} == {"SUCCEEDED"}
    after = {c["executionArn"]: c["stopDate"] for c in children}
    assert all(after[arn] == stop for arn, stop in before.items())
    info = sfn.describe_map_run(mapRunArn=map_run_arn)
    assert info["status"] == "SUCCEEDED"
    assert info["itemCounts"]["succeeded"] == 12
    assert types(history(sfn, execution_arn)).count("MapRunStarted") == 1
