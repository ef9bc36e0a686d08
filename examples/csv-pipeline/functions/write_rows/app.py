"""Writes the rows of each page published to the topic into the rows table."""
import json
import os
from decimal import Decimal

import boto3

table = boto3.resource("dynamodb").Table(os.environ["ROWS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        page = json.loads(record["Sns"]["Message"])
        with table.batch_writer() as batch:
            for row in page["rows"]:
                batch.put_item(Item={
                    "file": page["key"],
                    "line": row["line"],
                    "id": row["id"],
                    "name": row["name"],
                    "amount": Decimal(row["amount"]),
                })
