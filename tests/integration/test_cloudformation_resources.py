"""CloudFormation's resource providers: a template per service deployed with boto3, each
resource then checked through its own service's API (names CloudFormation generates, the
tags it adds, Ref and Fn::GetAtt answers, updates in place and replacements, deletion)."""
import io
import json
import re
import time
import zipfile

import botocore.exceptions
import pytest

ROLE_TEMPLATE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        },
    },
}


def wait(cfn, name):
    """Polls DescribeStacks until the stack's operation ends; its description."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        time.sleep(0.1)
    raise AssertionError(f"stack {name} still in progress")


def reasons(cfn, name):
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
            for e in cfn.describe_stack_events(StackName=name)["StackEvents"] if "FAILED" in e["ResourceStatus"]]


def deploy(cfn, name, template, capabilities=("CAPABILITY_IAM",), **kwargs):
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template), Capabilities=list(capabilities), **kwargs)
    stack = wait(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    return stack


def update(cfn, name, template):
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
    stack = wait(cfn, name)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", reasons(cfn, name)
    return stack


def delete(cfn, name):
    stack_id = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=name)
    stack = wait(cfn, stack_id)
    assert stack["StackStatus"] == "DELETE_COMPLETE", reasons(cfn, stack_id)


def error_code(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


def outputs(stack):
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def physical(cfn, name, logical):
    return cfn.describe_stack_resource(StackName=name, LogicalResourceId=logical)[
        "StackResourceDetail"]["PhysicalResourceId"]


def test_sqs_queues_sns_topics_and_policies(server):
    cfn, sqs, sns = server.client("cloudformation"), server.client("sqs"), server.client("sns")
    template = {
        "Resources": {
            "DeadLetters": {"Type": "AWS::SQS::Queue"},
            "Work": {"Type": "AWS::SQS::Queue", "Properties": {
                "VisibilityTimeout": 45,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]},
                                  "maxReceiveCount": 3},
                "Tags": [{"Key": "team", "Value": "blue"}],
            }},
            "Fifo": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True, "ContentBasedDeduplication": True}},
            "Alerts": {"Type": "AWS::SNS::Topic", "Properties": {
                "DisplayName": "alerts",
                "Subscription": [{"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Work", "Arn"]}}],
            }},
            "Raw": {"Type": "AWS::SNS::Subscription", "Properties": {
                "TopicArn": {"Ref": "Alerts"}, "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["DeadLetters", "Arn"]},
                "RawMessageDelivery": True, "FilterPolicy": {"kind": ["x"]},
            }},
            "Policy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
                "Queues": [{"Ref": "Work"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                    "Resource": {"Fn::GetAtt": ["Work", "Arn"]}}]},
            }},
            "TopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
                "Topics": [{"Ref": "Alerts"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish",
                    "Resource": {"Ref": "Alerts"}}]},
            }},
        },
        "Outputs": {
            "Url": {"Value": {"Ref": "Work"}},
            "Name": {"Value": {"Fn::GetAtt": ["Work", "QueueName"]}},
            "FifoName": {"Value": {"Fn::GetAtt": ["Fifo", "QueueName"]}},
            "Topic": {"Value": {"Ref": "Alerts"}},
            "TopicName": {"Value": {"Fn::GetAtt": ["Alerts", "TopicName"]}},
        },
    }
    stack = deploy(cfn, "messaging", template, Tags=[{"Key": "env", "Value": "test"}])
    out = outputs(stack)
    assert re.fullmatch(r"messaging-Work-[A-Z0-9]{12}", out["Name"]), out
    assert re.fullmatch(r"messaging-Fifo-[A-Z0-9]{12}\.fifo", out["FifoName"]), out
    assert out["Url"] == sqs.get_queue_url(QueueName=out["Name"])["QueueUrl"]

    attrs = sqs.get_queue_attributes(QueueUrl=out["Url"], AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "45"
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 3
    assert json.loads(attrs["Policy"])["Statement"][0]["Action"] == "sqs:SendMessage"
    tags = sqs.list_queue_tags(QueueUrl=out["Url"])["Tags"]
    assert tags["team"] == "blue" and tags["env"] == "test"
    assert tags["aws:cloudformation:stack-name"] == "messaging"
    assert tags["aws:cloudformation:logical-id"] == "Work"
    assert tags["aws:cloudformation:stack-id"] == stack["StackId"]
    fifo_url = sqs.get_queue_url(QueueName=out["FifoName"])["QueueUrl"]
    fifo = sqs.get_queue_attributes(QueueUrl=fifo_url, AttributeNames=["All"])["Attributes"]
    assert fifo["FifoQueue"] == "true" and fifo["ContentBasedDeduplication"] == "true"

    topic = out["Topic"]
    assert topic.endswith(":" + out["TopicName"]) and out["TopicName"].startswith("messaging-Alerts-")
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "alerts"
    assert json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])["Statement"][0][
        "Action"] == "sns:Publish"
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert len(subs) == 2
    raw = physical(cfn, "messaging", "Raw")
    sub_attrs = sns.get_subscription_attributes(SubscriptionArn=raw)["Attributes"]
    assert sub_attrs["RawMessageDelivery"] == "true" and json.loads(sub_attrs["FilterPolicy"]) == {"kind": ["x"]}

    sns.publish(TopicArn=topic, Message="hello")
    received = sqs.receive_message(QueueUrl=out["Url"], WaitTimeSeconds=5)["Messages"]
    assert json.loads(received[0]["Body"])["Message"] == "hello"

    # VisibilityTimeout changes in place; a new QueueName replaces the queue.
    template["Resources"]["Work"]["Properties"]["VisibilityTimeout"] = 60
    template["Resources"]["Fifo"]["Properties"]["QueueName"] = "orders.fifo"
    out2 = outputs(update(cfn, "messaging", template))
    assert out2["Url"] == out["Url"]
    assert sqs.get_queue_attributes(QueueUrl=out["Url"], AttributeNames=["VisibilityTimeout"])[
        "Attributes"]["VisibilityTimeout"] == "60"
    assert out2["FifoName"] == "orders.fifo"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sqs.get_queue_url(QueueName=out["FifoName"])
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"

    delete(cfn, "messaging")
    assert "QueueUrls" not in sqs.list_queues()
    assert sns.list_topics()["Topics"] == []


def test_s3_buckets_with_their_configuration(server):
    cfn, s3 = server.client("cloudformation"), server.client("s3")
    template = {
        "Resources": {
            "Site": {"Type": "AWS::S3::Bucket", "Properties": {
                "VersioningConfiguration": {"Status": "Enabled"},
                "AccelerateConfiguration": {"AccelerationStatus": "Enabled"},
                "CorsConfiguration": {"CorsRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"],
                                                     "MaxAge": 300}]},
                "LifecycleConfiguration": {"Rules": [{"Id": "old", "Status": "Enabled", "Prefix": "tmp/",
                                                      "ExpirationInDays": 7}]},
                "Tags": [{"Key": "app", "Value": "site"}],
            }},
            # A public policy needs the bucket's public access block to allow it, as on S3.
            "Named": {"Type": "AWS::S3::Bucket", "Properties": {
                "BucketName": "cfn-named-bucket",
                "PublicAccessBlockConfiguration": {"BlockPublicPolicy": False, "RestrictPublicBuckets": False}}},
            "NamedPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
                "Bucket": {"Ref": "Named"},
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": {"Fn::Sub": "${Named.Arn}/*"}}]},
            }},
        },
        "Outputs": {
            "Name": {"Value": {"Ref": "Site"}},
            "Arn": {"Value": {"Fn::GetAtt": ["Site", "Arn"]}},
            "Domain": {"Value": {"Fn::GetAtt": ["Site", "RegionalDomainName"]}},
        },
    }
    out = outputs(deploy(cfn, "Web-Stack", template))
    name = out["Name"]
    assert re.fullmatch(r"web-stack-site-[a-z0-9]{12}", name), name
    assert out["Arn"] == f"arn:aws:s3:::{name}"
    assert out["Domain"] == f"{name}.s3.us-east-1.amazonaws.com"
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    assert s3.get_bucket_accelerate_configuration(Bucket=name)["Status"] == "Enabled"
    assert s3.get_bucket_cors(Bucket=name)["CORSRules"][0]["MaxAgeSeconds"] == 300
    rule = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"][0]
    assert rule["ID"] == "old" and rule["Expiration"]["Days"] == 7
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}
    assert tags["app"] == "site" and tags["aws:cloudformation:logical-id"] == "Site"
    assert json.loads(s3.get_bucket_policy(Bucket="cfn-named-bucket")["Policy"])["Statement"][0][
        "Resource"] == "arn:aws:s3:::cfn-named-bucket/*"

    # Removing CORS deletes it; versioning and acceleration removed are suspended.
    del template["Resources"]["Site"]["Properties"]["CorsConfiguration"]
    del template["Resources"]["Site"]["Properties"]["VersioningConfiguration"]
    del template["Resources"]["Site"]["Properties"]["AccelerateConfiguration"]
    update(cfn, "Web-Stack", template)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket=name)
    assert e.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Suspended"
    assert s3.get_bucket_accelerate_configuration(Bucket=name)["Status"] == "Suspended"

    delete(cfn, "Web-Stack")
    assert s3.list_buckets()["Buckets"] == []


def test_dynamodb_tables_update_in_place(server):
    cfn, ddb = server.client("cloudformation"), server.client("dynamodb")
    # Parameters' values are text: the numbers and booleans they give are typed as the
    # services take them.
    template = {
        "Parameters": {"Reads": {"Type": "Number", "Default": 5}, "Expiring": {"Type": "String", "Default": "true"}},
        "Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": {"Ref": "Reads"}, "WriteCapacityUnits": "5"},
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": {"Ref": "Expiring"}},
            "ResourcePolicy": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": "000000000000"}, "Action": "dynamodb:GetItem", "Resource": "*"}]}},
        }}},
        "Outputs": {
            "Name": {"Value": {"Ref": "Table"}},
            "Arn": {"Value": {"Fn::GetAtt": ["Table", "Arn"]}},
            "Stream": {"Value": {"Fn::GetAtt": ["Table", "StreamArn"]}},
        },
    }
    out = outputs(deploy(cfn, "data", template))
    name = out["Name"]
    assert name.startswith("data-Table-")
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableArn"] == out["Arn"] and table["LatestStreamArn"] == out["Stream"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=out["Arn"])["Tags"]}
    assert tags["aws:cloudformation:stack-name"] == "data"
    assert json.loads(ddb.get_resource_policy(ResourceArn=out["Arn"])["Policy"])["Statement"][0]["Action"] == "dynamodb:GetItem"

    props = template["Resources"]["Table"]["Properties"]
    props["AttributeDefinitions"].append({"AttributeName": "gk", "AttributeType": "S"})
    props["BillingMode"] = "PAY_PER_REQUEST"
    del props["ProvisionedThroughput"]
    props["GlobalSecondaryIndexes"] = [{"IndexName": "byG", "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}],
                                        "Projection": {"ProjectionType": "ALL"}}]
    props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": "true", "RecoveryPeriodInDays": "7"}
    del props["ResourcePolicy"]
    assert outputs(update(cfn, "data", template))["Name"] == name
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["byG"]
    pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED" and pitr["RecoveryPeriodInDays"] == 7
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "gk": {"S": "g"}})
    ddb.restore_table_to_point_in_time(SourceTableName=name, TargetTableName="restored", UseLatestRestorableTime=True)
    assert ddb.scan(TableName="restored")["Items"] == [{"pk": {"S": "a"}, "gk": {"S": "g"}}]
    ddb.delete_table(TableName="restored")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.get_resource_policy(ResourceArn=out["Arn"])
    assert e.value.response["Error"]["Code"] == "PolicyNotFoundException"

    delete(cfn, "data")
    assert ddb.list_tables()["TableNames"] == []


def test_global_tables_keep_a_replica_per_region(server):
    # What CDK's TableV2 makes: a table in the stack's region, replicas elsewhere.
    cfn, ddb, west = server.client("cloudformation"), server.client("dynamodb"), server.client("dynamodb", region="eu-west-1")
    table = {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
        "Replicas": [{"Region": {"Ref": "AWS::Region"}, "Tags": [{"Key": "team", "Value": "east"}]}],
    }}
    template = {"Resources": {"Table": table}, "Outputs": {
        "Name": {"Value": {"Ref": "Table"}}, "Arn": {"Value": {"Fn::GetAtt": ["Table", "Arn"]}},
        "Id": {"Value": {"Fn::GetAtt": ["Table", "TableId"]}}}}
    out = outputs(deploy(cfn, "glob", template))
    name = out["Name"]
    described = ddb.describe_table(TableName=name)["Table"]
    assert (described["TableArn"], described["TableId"]) == (out["Arn"], out["Id"])
    # One region only is a plain table.
    assert "Replicas" not in described and "GlobalTableVersion" not in described
    assert "StreamSpecification" not in described
    assert error_code(lambda: west.describe_table(TableName=name)) == "ResourceNotFoundException"

    props = table["Properties"]
    props["StreamSpecification"] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    props["Replicas"].insert(0, {"Region": "eu-west-1", "DeletionProtectionEnabled": True, "TableClass": "STANDARD_INFREQUENT_ACCESS",
                                 "Tags": [{"Key": "team", "Value": "west"}]})
    template["Outputs"]["Stream"] = {"Value": {"Fn::GetAtt": ["Table", "StreamArn"]}}
    out = outputs(update(cfn, "glob", template))
    assert out["Stream"] == ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    there = west.describe_table(TableName=name)["Table"]
    assert there["GlobalTableVersion"] == "2019.11.21"
    assert sorted(r["RegionName"] for r in there["Replicas"]) == ["eu-west-1", "us-east-1"]
    assert there["DeletionProtectionEnabled"] is True
    assert there["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert west.describe_time_to_live(TableName=name)["TimeToLiveDescription"]["AttributeName"] == "expires"
    tags = {t["Key"]: t["Value"] for t in west.list_tags_of_resource(ResourceArn=there["TableArn"])["Tags"]}
    assert tags["team"] == "west"
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=out["Arn"])["Tags"]}
    assert tags["team"] == "east"
    ddb.put_item(TableName=name, Item={"pk": {"S": "from-east"}})
    assert west.get_item(TableName=name, Key={"pk": {"S": "from-east"}})["Item"] == {"pk": {"S": "from-east"}}

    # A shared setting changed in the stack reaches the replica; the replica's own stay.
    props["AttributeDefinitions"].append({"AttributeName": "gk", "AttributeType": "S"})
    props["GlobalSecondaryIndexes"] = [{"IndexName": "byG", "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}],
                                        "Projection": {"ProjectionType": "KEYS_ONLY"}}]
    props["Replicas"][0]["DeletionProtectionEnabled"] = False
    update(cfn, "glob", template)
    there = west.describe_table(TableName=name)["Table"]
    assert [i["IndexName"] for i in there["GlobalSecondaryIndexes"]] == ["byG"]
    assert there["DeletionProtectionEnabled"] is False

    del props["Replicas"][0]
    update(cfn, "glob", template)
    assert error_code(lambda: west.describe_table(TableName=name)) == "ResourceNotFoundException"
    assert "Replicas" not in ddb.describe_table(TableName=name)["Table"]
    delete(cfn, "glob")
    assert error_code(lambda: ddb.describe_table(TableName=name)) == "ResourceNotFoundException"


def test_a_global_table_without_the_stack_s_region_fails(server):
    cfn = server.client("cloudformation")
    template = {"Resources": {"Table": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST",
        "Replicas": [{"Region": "eu-west-1"}]}}}}
    cfn.create_stack(StackName="noregion", TemplateBody=json.dumps(template))
    assert wait(cfn, "noregion")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any("The Replicas section must contain an entry for the current region" in (r or "")
               for _, _, r in reasons(cfn, "noregion"))


def test_lambda_functions_versions_aliases_urls_and_permissions(server):
    cfn, lam = server.client("cloudformation"), server.client("lambda")
    template = {
        "Resources": {
            "Role": ROLE_TEMPLATE,
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Timeout": "10",
                "Environment": {"Variables": {"GREETING": "hello"}},
                "Code": {"ZipFile": "import os\ndef handler(event, context):\n"
                                    "    return {'greeting': os.environ['GREETING'], 'event': event}\n"},
            }},
            "V1": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "Live": {"Type": "AWS::Lambda::Alias", "Properties": {
                "FunctionName": {"Ref": "Fn"}, "Name": "live", "FunctionVersion": {"Fn::GetAtt": ["V1", "Version"]}}},
            "Url": {"Type": "AWS::Lambda::Url", "Properties": {
                "TargetFunctionArn": {"Fn::GetAtt": ["Fn", "Arn"]}, "AuthType": "NONE"}},
            "Async": {"Type": "AWS::Lambda::EventInvokeConfig", "Properties": {
                "FunctionName": {"Ref": "Fn"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 1}},
            "Invoke": {"Type": "AWS::Lambda::Permission", "Properties": {
                "FunctionName": {"Ref": "Fn"}, "Action": "lambda:InvokeFunction", "Principal": "sns.amazonaws.com"}},
        },
        "Outputs": {
            "Name": {"Value": {"Ref": "Fn"}},
            "Arn": {"Value": {"Fn::GetAtt": ["Fn", "Arn"]}},
            "RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}},
            "Alias": {"Value": {"Ref": "Live"}},
            "FunctionUrl": {"Value": {"Fn::GetAtt": ["Url", "FunctionUrl"]}},
        },
    }
    out = outputs(deploy(cfn, "fns", template))
    name = out["Name"]
    assert re.fullmatch(r"fns-Fn-[A-Z0-9]{12}", name), name
    assert re.fullmatch(r"arn:aws:iam::000000000000:role/fns-Role-[A-Z0-9]{12}", out["RoleArn"]), out
    config = lam.get_function_configuration(FunctionName=name)
    assert config["Timeout"] == 10 and config["Role"] == out["RoleArn"] and config["FunctionArn"] == out["Arn"]
    result = json.loads(lam.invoke(FunctionName=name, Payload=b'{"a": 1}')["Payload"].read())
    assert result == {"greeting": "hello", "event": {"a": 1}}
    code = lam.get_function(FunctionName=name)["Code"]
    assert code["RepositoryType"] == "S3"
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    assert out["Alias"] == f"{out['Arn']}:live"
    assert lam.get_function_url_config(FunctionName=name)["FunctionUrl"] == out["FunctionUrl"]
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}
    assert lam.list_tags(Resource=out["Arn"])["Tags"]["aws:cloudformation:logical-id"] == "Fn"
    assert lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 1

    # Code and configuration change in place.
    fn = template["Resources"]["Fn"]["Properties"]
    fn["Environment"]["Variables"]["GREETING"] = "bonjour"
    fn["Code"]["ZipFile"] = fn["Code"]["ZipFile"].replace("'event': event", "'updated': True")
    assert outputs(update(cfn, "fns", template))["Name"] == name
    result = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert result == {"greeting": "bonjour", "updated": True}

    delete(cfn, "fns")
    assert lam.list_functions()["Functions"] == []


def test_inline_node_code_is_index_js(server):
    cfn, lam = server.client("cloudformation"), server.client("lambda")
    template = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {
        "FunctionName": "node-inline", "Runtime": "nodejs20.x", "Handler": "index.handler",
        "Role": "arn:aws:iam::000000000000:role/r",
        "Code": {"ZipFile": "exports.handler = async (e) => ({ doubled: e.n * 2 });\n"},
    }}}}
    deploy(cfn, "node", template)
    result = json.loads(lam.invoke(FunctionName="node-inline", Payload=b'{"n": 21}')["Payload"].read())
    assert result == {"doubled": 42}


def test_state_machines_activities_and_log_groups(server):
    cfn, sfn, logs = server.client("cloudformation"), server.client("stepfunctions"), server.client("logs")
    template = {
        "Resources": {
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
            "Stream": {"Type": "AWS::Logs::LogStream", "Properties": {
                "LogGroupName": {"Ref": "Logs"}, "LogStreamName": "audit"}},
            "V1": {"Type": "AWS::StepFunctions::StateMachineVersion", "Properties": {
                "StateMachineArn": {"Ref": "Machine"}, "Description": "first"}},
            "Prod": {"Type": "AWS::StepFunctions::StateMachineAlias", "Properties": {
                "Name": "prod", "RoutingConfiguration": [{"StateMachineVersionArn": {"Ref": "V1"}, "Weight": 100}]}},
            "Work": {"Type": "AWS::StepFunctions::Activity", "Properties": {"Name": "cfn-activity"}},
            "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
                "RoleArn": "arn:aws:iam::000000000000:role/sfn",
                "Definition": {"StartAt": "Greet", "States": {
                    "Greet": {"Type": "Pass", "Result": {"greeting": "${Greeting}"}, "End": True}}},
                "DefinitionSubstitutions": {"Greeting": "hi"},
                "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": True, "Destinations": [
                    {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["Logs", "Arn"]}}}]},
            }},
        },
        "Outputs": {
            "Machine": {"Value": {"Ref": "Machine"}},
            "MachineName": {"Value": {"Fn::GetAtt": ["Machine", "Name"]}},
            "Activity": {"Value": {"Ref": "Work"}},
            "Group": {"Value": {"Ref": "Logs"}},
            "Version": {"Value": {"Ref": "V1"}},
            "Alias": {"Value": {"Fn::GetAtt": ["Prod", "Arn"]}},
        },
    }
    out = outputs(deploy(cfn, "flows", template))
    assert re.fullmatch(r"Machine-[A-Z0-9]{12}", out["MachineName"]), out
    described = sfn.describe_state_machine(stateMachineArn=out["Machine"])
    assert json.loads(described["definition"])["States"]["Greet"]["Result"] == {"greeting": "hi"}
    assert described["loggingConfiguration"]["level"] == "ALL"
    execution = sfn.start_execution(stateMachineArn=out["Machine"])["executionArn"]
    deadline = time.monotonic() + 30
    while (result := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert json.loads(result["output"]) == {"greeting": "hi"}
    assert sfn.describe_activity(activityArn=out["Activity"])["name"] == "cfn-activity"
    group = logs.describe_log_groups(logGroupNamePrefix=out["Group"])["logGroups"][0]
    assert group["retentionInDays"] == 7 and out["Group"].startswith("flows-Logs-")
    streams = logs.describe_log_streams(logGroupName=out["Group"], logStreamNamePrefix="audit")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["audit"]
    assert out["Version"] == out["Machine"] + ":1"
    alias = sfn.describe_state_machine_alias(stateMachineAliasArn=out["Alias"])
    assert alias["name"] == "prod" and alias["routingConfiguration"] == [
        {"stateMachineVersionArn": out["Version"], "weight": 100}]

    template["Resources"]["Machine"]["Properties"]["DefinitionSubstitutions"]["Greeting"] = "hey"
    template["Resources"]["Logs"]["Properties"]["RetentionInDays"] = 30
    out2 = outputs(update(cfn, "flows", template))
    assert out2["Machine"] == out["Machine"]
    described = sfn.describe_state_machine(stateMachineArn=out["Machine"])
    assert json.loads(described["definition"])["States"]["Greet"]["Result"] == {"greeting": "hey"}
    assert logs.describe_log_groups(logGroupNamePrefix=out["Group"])["logGroups"][0]["retentionInDays"] == 30

    delete(cfn, "flows")
    assert sfn.list_state_machines()["stateMachines"] == []
    assert sfn.list_activities()["activities"] == []
    assert logs.describe_log_groups(logGroupNamePrefix="flows-")["logGroups"] == []


def test_a_service_error_fails_the_resource_with_its_message(server):
    cfn = server.client("cloudformation")
    template = {"Resources": {"Bad": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 999999}}}}
    cfn.create_stack(StackName="bad", TemplateBody=json.dumps(template))
    stack = wait(cfn, "bad")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [r for r in reasons(cfn, "bad") if r[0] == "Bad"]
    assert failed and "Resource handler returned message:" in failed[0][2], failed


def test_bucket_notifications_reach_a_queue(server):
    cfn, s3, sqs = server.client("cloudformation"), server.client("s3"), server.client("sqs")
    template = {
        "Resources": {
            "Events": {"Type": "AWS::SQS::Queue"},
            "Uploads": {"Type": "AWS::S3::Bucket", "Properties": {
                "NotificationConfiguration": {"QueueConfigurations": [{
                    "Event": "s3:ObjectCreated:*", "Queue": {"Fn::GetAtt": ["Events", "Arn"]},
                    "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "in/"}]}},
                }]},
            }},
        },
        "Outputs": {"Bucket": {"Value": {"Ref": "Uploads"}}, "Queue": {"Value": {"Ref": "Events"}}},
    }
    out = outputs(deploy(cfn, "uploads", template))
    config = s3.get_bucket_notification_configuration(Bucket=out["Bucket"])["QueueConfigurations"][0]
    assert config["Events"] == ["s3:ObjectCreated:*"]
    [rule] = config["Filter"]["Key"]["FilterRules"]
    assert (rule["Name"].lower(), rule["Value"]) == ("prefix", "in/")
    s3.put_object(Bucket=out["Bucket"], Key="in/a.txt", Body=b"x")
    keys = []
    deadline = time.monotonic() + 10
    while not keys and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=out["Queue"], WaitTimeSeconds=1).get("Messages", []):
            keys += [r["s3"]["object"]["key"] for r in json.loads(m["Body"]).get("Records", [])]
    assert keys == ["in/a.txt"]


def test_event_source_mappings_update_in_place(server):
    cfn, lam = server.client("cloudformation"), server.client("lambda")
    template = {
        "Resources": {
            "Jobs": {"Type": "AWS::SQS::Queue"},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "python3.12", "Handler": "index.handler", "Role": "arn:aws:iam::000000000000:role/r",
                "Code": {"ZipFile": "def handler(event, context):\n    return None\n"},
            }},
            "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["Jobs", "Arn"]}, "FunctionName": {"Ref": "Fn"}, "BatchSize": 5,
            }},
        },
        "Outputs": {"Id": {"Value": {"Ref": "Mapping"}}, "Queue": {"Value": {"Fn::GetAtt": ["Jobs", "Arn"]}}},
    }
    out = outputs(deploy(cfn, "jobs", template))
    mapping = lam.get_event_source_mapping(UUID=out["Id"])
    assert mapping["BatchSize"] == 5 and mapping["EventSourceArn"] == out["Queue"]
    template["Resources"]["Mapping"]["Properties"]["BatchSize"] = 7
    assert outputs(update(cfn, "jobs", template))["Id"] == out["Id"]
    assert lam.get_event_source_mapping(UUID=out["Id"])["BatchSize"] == 7
    delete(cfn, "jobs")
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_resources_deleted_behind_the_stack_s_back_do_not_fail_its_deletion(server):
    cfn, sqs, sns = server.client("cloudformation"), server.client("sqs"), server.client("sns")
    ddb = server.client("dynamodb")
    template = {"Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}},
        "Bucket": {"Type": "AWS::S3::Bucket"},
    }}
    deploy(cfn, "gone", template)
    sqs.delete_queue(QueueUrl=physical(cfn, "gone", "Queue"))
    sns.delete_topic(TopicArn=physical(cfn, "gone", "Topic"))
    ddb.delete_table(TableName=physical(cfn, "gone", "Table"))
    server.client("s3").delete_bucket(Bucket=physical(cfn, "gone", "Bucket"))
    delete(cfn, "gone")


def test_topic_updates_change_attributes_and_subscriptions(server):
    cfn, sns, sqs = server.client("cloudformation"), server.client("sns"), server.client("sqs")
    template = {
        "Resources": {
            "A": {"Type": "AWS::SQS::Queue"},
            "B": {"Type": "AWS::SQS::Queue"},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {
                "TopicName": "news", "DisplayName": "News",
                "Subscription": [{"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["A", "Arn"]}}],
            }},
        },
        "Outputs": {"A": {"Value": {"Fn::GetAtt": ["A", "Arn"]}}, "B": {"Value": {"Fn::GetAtt": ["B", "Arn"]}}},
    }
    out = outputs(deploy(cfn, "news", template))
    topic = physical(cfn, "news", "Topic")
    assert topic == "arn:aws:sns:us-east-1:000000000000:news"
    template["Resources"]["Topic"]["Properties"]["DisplayName"] = "Daily news"
    template["Resources"]["Topic"]["Properties"]["Subscription"] = [
        {"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["B", "Arn"]}}]
    update(cfn, "news", template)
    assert physical(cfn, "news", "Topic") == topic
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "Daily news"
    endpoints = [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]
    assert endpoints == [out["B"]]
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=topic)["Tags"]}
    assert tags["aws:cloudformation:logical-id"] == "Topic"


def test_bucket_access_encryption_website_and_iam_names(server):
    cfn, s3 = server.client("cloudformation"), server.client("s3")
    template = {
        "Resources": {
            "Site": {"Type": "AWS::S3::Bucket", "Properties": {
                "BucketName": "cfn-site",
                "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                   "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "WebsiteConfiguration": {"IndexDocument": "index.html", "ErrorDocument": "error.html"},
            }},
            "Role": {**ROLE_TEMPLATE, "Properties": {**ROLE_TEMPLATE["Properties"], "RoleName": "site-role",
                                                      "Path": "/web/"}},
            "Managed": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
                "ManagedPolicyName": "site-read", "PolicyDocument": {"Version": "2012-10-17", "Statement": []}}},
            "Inline": {"Type": "AWS::IAM::Policy", "Properties": {
                "PolicyName": "inline", "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": []}}},
            "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        },
        "Outputs": {
            "Website": {"Value": {"Fn::GetAtt": ["Site", "WebsiteURL"]}},
            "Role": {"Value": {"Ref": "Role"}},
            "RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}},
            "RoleId": {"Value": {"Fn::GetAtt": ["Role", "RoleId"]}},
            "Managed": {"Value": {"Ref": "Managed"}},
        },
    }
    out = outputs(deploy(cfn, "site", template, capabilities=["CAPABILITY_NAMED_IAM"]))
    assert out["Website"] == "http://cfn-site.s3-website-us-east-1.amazonaws.com"
    assert out["Role"] == "site-role"
    assert out["RoleArn"] == "arn:aws:iam::000000000000:role/web/site-role"
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", out["RoleId"]), out
    assert out["Managed"] == "arn:aws:iam::000000000000:policy/site-read"
    block = s3.get_public_access_block(Bucket="cfn-site")["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                     "RestrictPublicBuckets": True}
    rules = s3.get_bucket_encryption(Bucket="cfn-site")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_ownership_controls(Bucket="cfn-site")["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    website = s3.get_bucket_website(Bucket="cfn-site")
    assert website["IndexDocument"] == {"Suffix": "index.html"} and website["ErrorDocument"] == {"Key": "error.html"}
    delete(cfn, "site")


def test_policies_aliases_urls_and_groups_update_in_place(server):
    cfn, sqs, lam, logs = (server.client(s) for s in ("cloudformation", "sqs", "lambda", "logs"))
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}]}
    template = {
        "Resources": {
            "A": {"Type": "AWS::SQS::Queue"},
            "B": {"Type": "AWS::SQS::Queue"},
            "Policy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
                "Queues": [{"Ref": "A"}], "PolicyDocument": policy}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                "FunctionName": "aliased", "Runtime": "python3.12", "Handler": "index.handler",
                "Role": "arn:aws:iam::000000000000:role/r",
                "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"}}},
            "V1": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "Live": {"Type": "AWS::Lambda::Alias", "Properties": {
                "FunctionName": {"Ref": "Fn"}, "Name": "live", "FunctionVersion": "$LATEST"}},
            "Url": {"Type": "AWS::Lambda::Url", "Properties": {
                "TargetFunctionArn": {"Fn::GetAtt": ["Fn", "Arn"]}, "AuthType": "AWS_IAM"}},
            "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {
                "LogGroupName": "/app/cfn", "Tags": [{"Key": "tier", "Value": "1"}]}},
        },
        "Outputs": {"A": {"Value": {"Ref": "A"}}, "B": {"Value": {"Ref": "B"}}},
    }
    out = outputs(deploy(cfn, "updates", template))
    assert "Policy" in sqs.get_queue_attributes(QueueUrl=out["A"], AttributeNames=["Policy"])["Attributes"]

    resources = template["Resources"]
    resources["Policy"]["Properties"]["Queues"] = [{"Ref": "B"}]
    resources["Live"]["Properties"]["FunctionVersion"] = {"Fn::GetAtt": ["V1", "Version"]}
    resources["Url"]["Properties"]["AuthType"] = "NONE"
    resources["Group"]["Properties"]["Tags"] = [{"Key": "tier", "Value": "2"}]
    resources["Group"]["Properties"]["RetentionInDays"] = 3
    update(cfn, "updates", template)
    cleared = sqs.get_queue_attributes(QueueUrl=out["A"], AttributeNames=["Policy"]).get("Attributes", {})
    assert cleared.get("Policy", "") == ""
    assert "Policy" in sqs.get_queue_attributes(QueueUrl=out["B"], AttributeNames=["Policy"])["Attributes"]
    assert lam.get_alias(FunctionName="aliased", Name="live")["FunctionVersion"] == "1"
    assert lam.get_function_url_config(FunctionName="aliased")["AuthType"] == "NONE"
    group = logs.describe_log_groups(logGroupNamePrefix="/app/cfn")["logGroups"][0]
    assert group["retentionInDays"] == 3
    assert logs.list_tags_log_group(logGroupName="/app/cfn")["tags"] == {"tier": "2"}
    delete(cfn, "updates")
    assert logs.describe_log_groups(logGroupNamePrefix="/app/cfn")["logGroups"] == []


def test_state_machine_definitions_from_text_and_s3(server):
    cfn, sfn, s3 = server.client("cloudformation"), server.client("stepfunctions"), server.client("s3")
    s3.create_bucket(Bucket="definitions")
    s3.put_object(Bucket="definitions", Key="flow.json", Body=json.dumps(
        {"StartAt": "S", "States": {"S": {"Type": "Pass", "Result": "${Value}", "End": True}}}).encode())
    template = {"Resources": {
        "FromS3": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": "from-s3", "RoleArn": "arn:aws:iam::000000000000:role/sfn",
            "DefinitionS3Location": {"Bucket": "definitions", "Key": "flow.json"},
            "DefinitionSubstitutions": {"Value": "stored"}}},
        "Express": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineType": "EXPRESS", "RoleArn": "arn:aws:iam::000000000000:role/sfn",
            "DefinitionString": json.dumps({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}})}},
    }}
    deploy(cfn, "defs", template)
    stored = sfn.describe_state_machine(stateMachineArn=physical(cfn, "defs", "FromS3"))
    assert json.loads(stored["definition"])["States"]["S"]["Result"] == "stored"
    express = sfn.describe_state_machine(stateMachineArn=physical(cfn, "defs", "Express"))
    assert express["type"] == "EXPRESS" and express["name"].startswith("Express-")

    # A new type replaces the state machine: a new ARN, the old one deleted.
    old_arn = express["stateMachineArn"]
    template["Resources"]["Express"]["Properties"]["StateMachineType"] = "STANDARD"
    update(cfn, "defs", template)
    new_arn = physical(cfn, "defs", "Express")
    assert new_arn != old_arn and sfn.describe_state_machine(stateMachineArn=new_arn)["type"] == "STANDARD"
    arns = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
    assert old_arn not in arns


def test_bucket_notifications_invoke_a_function(server):
    cfn, s3, sqs = server.client("cloudformation"), server.client("s3"), server.client("sqs")
    template = {
        "Resources": {
            "Seen": {"Type": "AWS::SQS::Queue"},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "python3.12", "Handler": "index.handler", "Timeout": 30,
                "Role": "arn:aws:iam::000000000000:role/r",
                "Environment": {"Variables": {"QUEUE": {"Ref": "Seen"}}},
                "Code": {"ZipFile": "import boto3, os\n"
                                    "def handler(event, context):\n"
                                    "    sqs = boto3.client('sqs')\n"
                                    "    for r in event['Records']:\n"
                                    "        key = r['s3']['object']['key']\n"
                                    "        sqs.send_message(QueueUrl=os.environ['QUEUE'], MessageBody=key)\n"}}},
            "S3Invoke": {"Type": "AWS::Lambda::Permission", "Properties": {
                "FunctionName": {"Ref": "Fn"}, "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}},
            "Uploads": {"Type": "AWS::S3::Bucket", "DependsOn": "S3Invoke", "Properties": {
                "NotificationConfiguration": {"LambdaConfigurations": [{
                    "Event": "s3:ObjectCreated:*", "Function": {"Fn::GetAtt": ["Fn", "Arn"]}}]}}},
        },
        "Outputs": {"Bucket": {"Value": {"Ref": "Uploads"}}, "Queue": {"Value": {"Ref": "Seen"}}},
    }
    out = outputs(deploy(cfn, "triggers", template))
    s3.put_object(Bucket=out["Bucket"], Key="photo.jpg", Body=b"x")
    bodies = []
    deadline = time.monotonic() + 30
    while not bodies and time.monotonic() < deadline:
        bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=out["Queue"], WaitTimeSeconds=1).get("Messages", [])]
    assert bodies == ["photo.jpg"]
