"""Starts one Step Functions execution per CSV uploaded to the bucket.

The bucket's object-created notifications reach this function through the SQS queue.
"""
import json
import os
from urllib.parse import unquote_plus

import boto3

sfn = boto3.client("stepfunctions")


def handler(event, context):
    for message in event["Records"]:
        notification = json.loads(message["body"])
        # S3 sends a test event to the queue when the notification is configured.
        for record in notification.get("Records", []):
            bucket = record["s3"]["bucket"]["name"]
            # Keys come URL-encoded in S3's notifications.
            key = unquote_plus(record["s3"]["object"]["key"])
            sfn.start_execution(
                stateMachineArn=os.environ["STATE_MACHINE_ARN"],
                input=json.dumps({"bucket": bucket, "key": key, "page": 0}),
            )
