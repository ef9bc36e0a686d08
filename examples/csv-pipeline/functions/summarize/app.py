"""Keeps a summary item per file (row count, sum of amounts) from the rows table's stream."""
import os
from collections import defaultdict
from decimal import Decimal

import boto3

table = boto3.resource("dynamodb").Table(os.environ["SUMMARY_TABLE"])


def contribution(image):
    """What one row adds to its file's summary: (1 row, its amount), nothing if absent."""
    if not image:
        return 0, Decimal(0)
    return 1, Decimal(image["amount"]["N"])


def handler(event, context):
    changes = defaultdict(lambda: [0, Decimal(0)])
    for record in event["Records"]:
        keys = record["dynamodb"]["Keys"]
        new_rows, new_amount = contribution(record["dynamodb"].get("NewImage"))
        old_rows, old_amount = contribution(record["dynamodb"].get("OldImage"))
        change = changes[keys["file"]["S"]]
        change[0] += new_rows - old_rows
        change[1] += new_amount - old_amount
    # One atomic ADD per file and batch.
    for file, (rows, amount) in changes.items():
        table.update_item(
            Key={"file": file},
            UpdateExpression="ADD row_count :rows, amount_total :amount",
            ExpressionAttributeValues={":rows": rows, ":amount": amount},
        )
