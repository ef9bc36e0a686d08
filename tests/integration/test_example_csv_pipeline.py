"""The seed's application, examples/csv-pipeline, as the acceptance test of CloudFormation
and SAM: deployed from its template with `brume deploy`, fed a CSV with the AWS CLI, and
removed with `brume destroy`."""
import csv
import os
import subprocess
import time
from decimal import Decimal

import botocore.exceptions
import pytest

from conftest import BRUME_BIN, ROOT

EXAMPLE = os.path.join(ROOT, "examples", "csv-pipeline")
STACK = "csv-pipeline"


def poll(what, check, timeout=60):
    """Calls `what()` until `check` accepts its answer; fails with the last answer after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if check(got):
            return got
        assert time.monotonic() < deadline, f"still {got!r}"
        time.sleep(0.25)


def brume(server, *args):
    done = subprocess.run([BRUME_BIN, *args, "--endpoint", server.endpoint, "--no-progress"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def query_all(ddb, table, file):
    items, kwargs = [], {}
    while True:
        page = ddb.query(TableName=table, KeyConditionExpression="#f = :f", ExpressionAttributeNames={"#f": "file"},
                         ExpressionAttributeValues={":f": {"S": file}}, **kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def test_a_csv_uploaded_to_the_deployed_pipeline_ends_in_the_table_and_its_summary(server, tmp_path):
    out = brume(server, "deploy", os.path.join(EXAMPLE, "template.yaml"), "--stack-name", STACK)
    assert f"Stack {STACK} CREATE_COMPLETE" in out
    lines = out.split("Outputs:\n", 1)[1].splitlines()
    outputs = dict(line.strip().split(" = ", 1) for line in lines if " = " in line)
    env = {"AWS_ENDPOINT_URL": server.endpoint}

    rows = [{"id": f"r{n:03}", "name": f"row {n}", "amount": f"{n}.25"} for n in range(1, 251)]
    source = tmp_path / "rows.csv"
    with open(source, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "name", "amount"])
        writer.writeheader()
        writer.writerows(rows)
    server.cli("s3", "cp", str(source), f"s3://{outputs['BucketName']}/incoming/sales 2026.csv", env=env)

    ddb = server.client("dynamodb")
    key = {"file": {"S": "incoming/sales 2026.csv"}}
    summary = poll(lambda: ddb.get_item(TableName=outputs["SummaryTableName"], Key=key).get("Item"),
                   lambda item: item is not None and item["row_count"]["N"] == "250")
    assert Decimal(summary["amount_total"]["N"]) == sum(Decimal(r["amount"]) for r in rows) == Decimal("31437.5")
    items = query_all(ddb, outputs["RowsTableName"], "incoming/sales 2026.csv")
    assert [(i["line"]["N"], i["id"]["S"], i["name"]["S"], i["amount"]["N"]) for i in items] == [
        (str(n), r["id"], r["name"], r["amount"]) for n, r in enumerate(rows, 1)]

    # One execution read the 250 rows in three pages of 100.
    sfn = server.client("stepfunctions")
    # Its last page may reach the table a moment before the execution records its end.
    [execution] = poll(lambda: sfn.list_executions(stateMachineArn=outputs["StateMachineArn"])["executions"],
                       lambda executions: all(e["status"] != "RUNNING" for e in executions))
    assert execution["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    assert sum(e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "PublishPage"
               for e in history) == 3

    # The bucket must be empty before its stack can delete it, as on AWS.
    server.cli("s3", "rm", f"s3://{outputs['BucketName']}", "--recursive", env=env)
    assert f"Stack {STACK} DELETE_COMPLETE" in brume(server, "destroy", STACK)
    cfn = server.client("cloudformation")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cfn.describe_stacks(StackName=STACK)
    assert e.value.response["Error"]["Message"] == f"Stack with id {STACK} does not exist"
    for table in (outputs["RowsTableName"], outputs["SummaryTableName"]):
        with pytest.raises(ddb.exceptions.ResourceNotFoundException):
            ddb.describe_table(TableName=table)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.client("s3").head_bucket(Bucket=outputs["BucketName"])
    assert e.value.response["Error"]["Code"] == "404"
    assert sfn.list_state_machines()["stateMachines"] == []
    assert server.client("lambda").list_functions()["Functions"] == []
