"""Reads one page of rows of a CSV object: the state machine calls it until no page is left."""
import csv
import io
import os

import boto3

s3 = boto3.client("s3")
PAGE_SIZE = int(os.environ.get("PAGE_SIZE", "100"))


def handler(event, context):
    body = s3.get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(body)))
    page = event["page"]
    start = page * PAGE_SIZE
    return {
        "bucket": event["bucket"],
        "key": event["key"],
        "page": page + 1,
        # Each row keeps its line number so that it has a stable id in the table.
        "rows": [{"line": start + i + 1, **row} for i, row in enumerate(rows[start:start + PAGE_SIZE])],
        "more": start + PAGE_SIZE < len(rows),
    }
