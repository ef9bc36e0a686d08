"""Lambda's control plane through boto3 and the AWS CLI: functions, code, configuration,
versions, aliases, permissions, concurrency, tags, account settings and layers, with the
validations and errors Lambda answers, and their persistence across a kill -9."""
import base64
import hashlib
import io
import json
import urllib.request
import zipfile

import botocore.exceptions
import pytest

from conftest import kill_9_during_writes

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
HANDLER = "def handler(event, context):\n    return event\n"


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()


CODE = zip_of({"index.py": HANDLER})


def create(lam, name, code=CODE, **extra):
    args = {"FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "index.handler",
            "Code": {"ZipFile": code}, **extra}
    return lam.create_function(**args)


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(*args, **kwargs)
    response = e.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_create_function_answers_its_configuration(server):
    lam = server.client("lambda")
    created = create(lam, "conf", Description="d", Timeout=30, MemorySize=256,
                     Environment={"Variables": {"MODE": "1"}}, Tags={"team": "x"},
                     DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == "conf"
    assert created["FunctionArn"] == ARN + "conf"
    assert (created["Runtime"], created["Handler"], created["Role"]) == ("python3.12", "index.handler", ROLE)
    assert (created["Timeout"], created["MemorySize"], created["Description"]) == (30, 256, "d")
    assert created["CodeSha256"] == sha256_b64(CODE)
    assert created["CodeSize"] == len(CODE)
    assert created["Version"] == "$LATEST"
    assert created["State"] == "Active" and created["LastUpdateStatus"] == "Successful"
    assert created["PackageType"] == "Zip"
    assert created["Architectures"] == ["x86_64"]
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["TracingConfig"] == {"Mode": "PassThrough"}
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/conf"}
    assert created["SnapStart"]["ApplyOn"] == "None"
    assert created["Environment"] == {"Variables": {"MODE": "1"}}
    assert created["DeadLetterConfig"] == {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
    assert len(created["RevisionId"]) == 36
    # Lambda's own timestamp format, not ISO 8601 with a colon in the offset.
    assert created["LastModified"].endswith("+0000") and len(created["LastModified"]) == 28

    got = lam.get_function(FunctionName="conf")
    assert got["Configuration"]["RevisionId"] == created["RevisionId"]
    assert got["Tags"] == {"team": "x"}
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"]) as r:
        assert r.read() == CODE
    assert "Concurrency" not in got


def test_create_function_validations(server):
    lam = server.client("lambda")
    base = {"Runtime": "python3.12", "Role": ROLE, "Handler": "index.handler", "Code": {"ZipFile": CODE}}
    code, message, status = error_of(lam.create_function, FunctionName="bad name", **base)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value 'bad name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ")
    code, message, _ = error_of(lam.create_function, FunctionName="a" * 65, **base)
    assert (code, message.split(": ")[-1]) == ("ValidationException", "Member must have length less than or equal to 64")

    code, message, _ = error_of(lam.create_function, FunctionName="f", **{**base, "Role": "not-a-role"})
    assert code == "ValidationException"
    assert "Value 'not-a-role' at 'role' failed to satisfy constraint" in message

    code, message, status = error_of(lam.create_function, FunctionName="f", **{**base, "Runtime": "python2.9"})
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("Value python2.9 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [")

    code, message, _ = error_of(lam.create_function, FunctionName="f", **{**base, "Runtime": "python3.7"})
    assert (code, message) == ("InvalidParameterValueException",
                               "The runtime parameter of python3.7 is no longer supported for creating or updating AWS "
                               "Lambda functions. We recommend you use the new runtime (python3.13) while creating or "
                               "updating functions.")

    no_handler = {k: v for k, v in base.items() if k != "Handler"}
    code, message, _ = error_of(lam.create_function, FunctionName="f", **no_handler)
    assert (code, message) == ("InvalidParameterValueException",
                               "Runtime and Handler are mandatory parameters for functions created with deployment packages.")
    # A custom runtime needs no handler.
    assert lam.create_function(FunctionName="custom", **{**no_handler, "Runtime": "provided.al2023"})["FunctionName"] == "custom"

    # Without boto3's own checks, to see the server's.
    raw = server.client("lambda", parameter_validation=False)
    for member, value, bound in [("Timeout", 0, "greater than or equal to 1"), ("Timeout", 901, "less than or equal to 900"),
                                 ("MemorySize", 64, "greater than or equal to 128"),
                                 ("MemorySize", 10241, "less than or equal to 10240")]:
        code, message, _ = error_of(raw.create_function, FunctionName="f", **{**base, member: value})
        assert code == "ValidationException"
        assert message.endswith(f"Member must have value {bound}"), message
    code, message, _ = error_of(raw.create_function, FunctionName="f", EphemeralStorage={"Size": 511}, **base)
    assert (code, message.endswith("Member must have value greater than or equal to 512")) == ("ValidationException", True)

    code, message, _ = error_of(lam.create_function, FunctionName="f", **{**base, "Code": {"ZipFile": b"not a zip"}})
    assert (code, message) == ("InvalidParameterValueException",
                               "Could not unzip uploaded file. Please check your file, then try to upload again.")

    code, message, _ = error_of(lam.create_function, FunctionName="f", PackageType="Image",
                                **{**base, "Code": {"ImageUri": "repo/image:latest"}})
    assert code == "InvalidParameterValueException"

    create(lam, "dup")
    code, message, status = error_of(create, lam, "dup")
    assert (code, message, status) == ("ResourceConflictException", "Function already exist: dup", 409)


def test_code_from_s3_and_the_errors_of_a_missing_object(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="fn.zip", Body=CODE)
    lam = server.client("lambda")
    created = lam.create_function(FunctionName="from-s3", Runtime="python3.12", Role=ROLE, Handler="index.handler",
                                  Code={"S3Bucket": "code", "S3Key": "fn.zip"})
    assert created["CodeSha256"] == sha256_b64(CODE)
    code, message, _ = error_of(lam.create_function, FunctionName="missing", Runtime="python3.12", Role=ROLE,
                                Handler="index.handler", Code={"S3Bucket": "code", "S3Key": "nope.zip"})
    assert code == "InvalidParameterValueException"
    assert message.startswith("Error occurred while GetObject. S3 Error Code: NoSuchKey.")
    code, message, _ = error_of(lam.create_function, FunctionName="missing", Runtime="python3.12", Role=ROLE,
                                Handler="index.handler", Code={"S3Bucket": "no-such-bucket", "S3Key": "fn.zip"})
    assert (code, message) == ("InvalidParameterValueException", "Error occurred while GetObject. S3 Error Code: "
                               "NoSuchBucket. S3 Error Message: The specified bucket does not exist")

    other = zip_of({"index.py": HANDLER + "# v2\n"})
    s3.put_object(Bucket="code", Key="v2.zip", Body=other)
    updated = lam.update_function_code(FunctionName="from-s3", S3Bucket="code", S3Key="v2.zip")
    assert updated["CodeSha256"] == sha256_b64(other)


def test_get_and_delete_errors(server):
    lam = server.client("lambda")
    code, message, status = error_of(lam.get_function, FunctionName="ghost")
    assert (code, message, status) == ("ResourceNotFoundException", f"Function not found: {ARN}ghost", 404)
    code, message, status = error_of(lam.delete_function, FunctionName="ghost")
    assert (code, message, status) == ("ResourceNotFoundException", f"Function not found: {ARN}ghost", 404)
    create(lam, "there")
    code, message, _ = error_of(lam.get_function_configuration, FunctionName="there", Qualifier="7")
    assert (code, message) == ("ResourceNotFoundException", f"Function not found: {ARN}there:7")
    code, message, _ = error_of(lam.delete_function, FunctionName="there", Qualifier="$LATEST")
    assert (code, message) == ("InvalidParameterValueException",
                               "$LATEST version cannot be deleted without deleting the function.")
    # Every way of naming the function reaches it.
    for name in ["there", ARN + "there", "000000000000:function:there", ARN + "there:$LATEST"]:
        assert lam.get_function_configuration(FunctionName=name)["FunctionName"] == "there"
    lam.put_function_event_invoke_config(FunctionName="there", MaximumRetryAttempts=0)
    lam.delete_function(FunctionName=ARN + "there")
    assert error_of(lam.get_function, FunctionName="there")[0] == "ResourceNotFoundException"
    # A function created again under the name starts without the old one's settings.
    create(lam, "there")
    assert error_of(lam.get_function_event_invoke_config, FunctionName="there")[0] == "ResourceNotFoundException"


def test_list_functions_paginates_and_lists_versions(server):
    lam = server.client("lambda")
    for i in range(5):
        create(lam, f"list-{i}")
    lam.publish_version(FunctionName="list-0")
    page = lam.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in page["Functions"]] == ["list-0", "list-1"]
    names = []
    for p in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        names += [f["FunctionName"] for f in p["Functions"]]
    assert names == [f"list-{i}" for i in range(5)]
    everything = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert [(f["FunctionName"], f["Version"]) for f in everything][:2] == [("list-0", "$LATEST"), ("list-0", "1")]
    assert len(everything) == 6


def test_update_code_and_configuration(server):
    lam = server.client("lambda")
    created = create(lam, "upd")
    v2 = zip_of({"index.py": HANDLER + "# 2\n"})
    updated = lam.update_function_code(FunctionName="upd", ZipFile=v2)
    assert updated["CodeSha256"] == sha256_b64(v2)
    assert updated["RevisionId"] != created["RevisionId"]
    with urllib.request.urlopen(lam.get_function(FunctionName="upd")["Code"]["Location"]) as r:
        assert r.read() == v2

    code, message, status = error_of(lam.update_function_code, FunctionName="upd", ZipFile=CODE,
                                     RevisionId=created["RevisionId"])
    assert (code, status) == ("PreconditionFailedException", 412)
    assert message.startswith("The Revision Id provided does not match the latest Revision Id.")

    config = lam.update_function_configuration(FunctionName="upd", Timeout=60, Environment={"Variables": {"B_2": "2"}},
                                               LoggingConfig={"LogFormat": "JSON"}, RevisionId=updated["RevisionId"])
    assert (config["Timeout"], config["Environment"]) == (60, {"Variables": {"B_2": "2"}})
    assert config["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
                                       "LogGroup": "/aws/lambda/upd"}
    assert config["CodeSha256"] == sha256_b64(v2)
    code, _, _ = error_of(lam.update_function_configuration, FunctionName="upd", MemorySize=10241)
    assert code == "ValidationException"
    code, message, _ = error_of(lam.update_function_configuration, FunctionName="upd",
                                Environment={"Variables": {"X": "1"}})
    assert code == "ValidationException" and "Map keys must satisfy constraint" in message
    code, message, _ = error_of(lam.update_function_configuration, FunctionName="upd",
                                Environment={"Variables": {"AWS_REGION": "eu-west-1"}})
    assert code == "InvalidParameterValueException"
    assert message.endswith("Reserved keys used in this request: AWS_REGION")
    code, _, _ = error_of(lam.update_function_configuration, FunctionName="upd", Timeout=5, RevisionId="stale")
    assert code == "PreconditionFailedException"

    published = lam.update_function_code(FunctionName="upd", ZipFile=CODE, Publish=True)
    assert published["Version"] == "1"
    assert published["FunctionArn"] == ARN + "upd:1"


def test_waiters_through_the_cli(server):
    lam = server.client("lambda")
    create(lam, "waited")
    for waiter in ("function-exists", "function-active", "function-updated", "function-active-v2",
                   "function-updated-v2"):
        code, _, stderr = server.cli("lambda", "wait", waiter, "--function-name", "waited")
        assert code == 0, stderr
    code, out, _ = server.cli("lambda", "get-function-configuration", "--function-name", "waited")
    assert out["State"] == "Active"


def test_versions_publish_once_per_change(server):
    lam = server.client("lambda")
    created = create(lam, "ver", Publish=True)
    assert created["Version"] == "1"
    again = lam.publish_version(FunctionName="ver")
    assert again["Version"] == "1", "nothing changed since version 1"
    lam.update_function_configuration(FunctionName="ver", Description="second")
    second = lam.publish_version(FunctionName="ver", Description="v2")
    assert (second["Version"], second["Description"], second["FunctionArn"]) == ("2", "v2", ARN + "ver:2")

    code, message, _ = error_of(lam.publish_version, FunctionName="ver", CodeSha256="wrong")
    assert code == "InvalidParameterValueException"
    assert message.startswith("CodeSHA256 (wrong) is different from current CodeSHA256 in $LATEST")
    assert error_of(lam.publish_version, FunctionName="ver", RevisionId="stale")[0] == "PreconditionFailedException"

    versions = lam.list_versions_by_function(FunctionName="ver")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert lam.get_function(FunctionName="ver", Qualifier="1")["Configuration"]["Version"] == "1"
    assert lam.get_function_configuration(FunctionName=ARN + "ver:2")["Description"] == "v2"
    page = lam.list_versions_by_function(FunctionName="ver", MaxItems=2)
    assert len(page["Versions"]) == 2 and "NextMarker" in page

    lam.delete_function(FunctionName="ver", Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="ver")["Versions"]] == ["$LATEST", "2"]
    # Version numbers are never reused.
    lam.update_function_configuration(FunctionName="ver", Description="third")
    assert lam.publish_version(FunctionName="ver")["Version"] == "3"


def test_aliases(server):
    lam = server.client("lambda")
    create(lam, "al", Publish=True)
    lam.update_function_configuration(FunctionName="al", Description="two")
    lam.publish_version(FunctionName="al")
    alias = lam.create_alias(FunctionName="al", Name="live", FunctionVersion="1", Description="prod")
    assert alias["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (alias["AliasArn"], alias["FunctionVersion"], alias["Description"]) == (ARN + "al:live", "1", "prod")
    code, message, status = error_of(lam.create_alias, FunctionName="al", Name="live", FunctionVersion="1")
    assert (code, message, status) == ("ResourceConflictException", f"Alias already exists: {ARN}al:live", 409)
    code, message, _ = error_of(lam.create_alias, FunctionName="al", Name="bad", FunctionVersion="9")
    assert (code, message) == ("ResourceNotFoundException", f"Function not found: {ARN}al:9")
    assert error_of(lam.create_alias, FunctionName="al", Name="123", FunctionVersion="1")[0] == "ValidationException"

    routed = lam.update_alias(FunctionName="al", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
                              RevisionId=alias["RevisionId"])
    assert routed["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert error_of(lam.update_alias, FunctionName="al", Name="live", Description="x",
                    RevisionId=alias["RevisionId"])[0] == "PreconditionFailedException"
    code, _, _ = error_of(lam.update_alias, FunctionName="al", Name="live",
                          RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}})
    assert code == "ValidationException"
    code, message, _ = error_of(lam.update_alias, FunctionName="al", Name="live",
                                RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    assert code == "InvalidParameterValueException"

    assert lam.get_alias(FunctionName="al", Name="live")["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.25}
    # Invocations of the alias follow its weights: all of them, at weight 1.
    lam.update_alias(FunctionName="al", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}})
    assert lam.invoke(FunctionName="al", Qualifier="live")["ExecutedVersion"] == "2"
    lam.update_alias(FunctionName="al", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.0}})
    assert lam.invoke(FunctionName="al:live")["ExecutedVersion"] == "1"
    lam.update_alias(FunctionName="al", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    by_alias = lam.get_function_configuration(FunctionName="al", Qualifier="live")
    # The alias's version, under the ARN the caller named.
    assert (by_alias["Version"], by_alias["FunctionArn"]) == ("1", ARN + "al:live")
    assert lam.get_function(FunctionName="al:$LATEST")["Configuration"]["FunctionArn"] == ARN + "al:$LATEST"
    assert lam.get_function(FunctionName="al")["Configuration"]["FunctionArn"] == ARN + "al"
    lam.create_alias(FunctionName="al", Name="latest", FunctionVersion="$LATEST")
    assert [a["Name"] for a in lam.list_aliases(FunctionName="al")["Aliases"]] == ["latest", "live"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName="al", FunctionVersion="2")["Aliases"]] == ["live"]
    assert len(lam.list_aliases(FunctionName="al", MaxItems=1)["Aliases"]) == 1

    code, message, _ = error_of(lam.delete_function, FunctionName="al", Qualifier="1")
    assert (code, message) == ("ResourceConflictException",
                               "Unable to delete version because the following aliases reference it: [live]")
    lam.delete_alias(FunctionName="al", Name="live")
    code, message, status = error_of(lam.get_alias, FunctionName="al", Name="live")
    assert (code, message, status) == ("ResourceNotFoundException", f"Cannot find alias arn: {ARN}al:live", 404)
    lam.delete_function(FunctionName="al", Qualifier="1")


def test_permissions_build_lambdas_policy_document(server):
    lam = server.client("lambda")
    create(lam, "pol", Publish=True)
    code, message, status = error_of(lam.get_policy, FunctionName="pol")
    assert (code, message, status) == ("ResourceNotFoundException", "No policy is associated with the given resource.", 404)
    added = lam.add_permission(FunctionName="pol", StatementId="s3", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket",
                               SourceAccount="000000000000")
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {
        "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": ARN + "pol",
        "Condition": {"StringEquals": {"AWS:SourceAccount": "000000000000"},
                      "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}},
    }
    lam.add_permission(FunctionName="pol", StatementId="acct", Action="lambda:GetFunction", Principal="111111111111")
    policy = lam.get_policy(FunctionName="pol")
    document = json.loads(policy["Policy"])
    assert document["Version"] == "2012-10-17"
    assert [s["Sid"] for s in document["Statement"]] == ["s3", "acct"]
    assert document["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}

    code, message, status = error_of(lam.add_permission, FunctionName="pol", StatementId="s3",
                                     Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
    assert (code, status) == ("ResourceConflictException", 409)
    assert message.startswith("The statement id (s3) provided already exists.")
    assert error_of(lam.add_permission, FunctionName="pol", StatementId="x", Action="s3:GetObject",
                    Principal="sns.amazonaws.com")[0] == "ValidationException"
    assert error_of(lam.add_permission, FunctionName="pol", StatementId="x", Action="lambda:InvokeFunction",
                    Principal="sns.amazonaws.com", RevisionId="stale")[0] == "PreconditionFailedException"

    # A version has its own policy, with the qualified ARN as resource.
    versioned = lam.add_permission(FunctionName="pol", Qualifier="1", StatementId="v1",
                                   Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
    assert json.loads(versioned["Statement"])["Resource"] == ARN + "pol:1"
    assert [s["Sid"] for s in json.loads(lam.get_policy(FunctionName="pol", Qualifier="1")["Policy"])["Statement"]] == ["v1"]

    assert error_of(lam.remove_permission, FunctionName="pol", StatementId="s3",
                    RevisionId=policy["RevisionId"])[0] == "PreconditionFailedException", "the policy changed since"
    lam.remove_permission(FunctionName="pol", StatementId="s3", RevisionId=lam.get_policy(FunctionName="pol")["RevisionId"])
    code, message, _ = error_of(lam.remove_permission, FunctionName="pol", StatementId="s3")
    assert (code, message) == ("ResourceNotFoundException", "Statement s3 is not found in resource policy.")
    lam.remove_permission(FunctionName="pol", StatementId="acct")
    assert error_of(lam.get_policy, FunctionName="pol")[0] == "ResourceNotFoundException"


def test_reserved_concurrency_and_account_settings(server):
    lam = server.client("lambda")
    create(lam, "conc")
    create(lam, "other")
    settings = lam.get_account_settings()
    assert settings["AccountLimit"] == {
        "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000,
    }
    assert settings["AccountUsage"] == {"TotalCodeSize": 2 * len(CODE), "FunctionCount": 2}

    assert lam.get_function_concurrency(FunctionName="conc").get("ReservedConcurrentExecutions") is None
    assert lam.put_function_concurrency(FunctionName="conc", ReservedConcurrentExecutions=800)[
        "ReservedConcurrentExecutions"] == 800
    assert lam.get_function_concurrency(FunctionName="conc")["ReservedConcurrentExecutions"] == 800
    assert lam.get_function(FunctionName="conc")["Concurrency"] == {"ReservedConcurrentExecutions": 800}
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 200
    code, message, status = error_of(lam.put_function_concurrency, FunctionName="other",
                                     ReservedConcurrentExecutions=101)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message == ("Specified ReservedConcurrentExecutions for function decreases account's "
                       "UnreservedConcurrentExecution below its minimum value of [100].")
    lam.put_function_concurrency(FunctionName="other", ReservedConcurrentExecutions=100)
    lam.delete_function_concurrency(FunctionName="conc")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="conc")
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 900
    assert error_of(lam.put_function_concurrency, FunctionName="ghost",
                    ReservedConcurrentExecutions=1)[0] == "ResourceNotFoundException"


def test_tags(server):
    lam = server.client("lambda")
    arn = create(lam, "tagged", Tags={"a": "1"})["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"b": "2", "a": "3"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "3", "b": "2"}
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    assert lam.get_function(FunctionName="tagged")["Tags"] == {"b": "2"}
    code, message, _ = error_of(lam.list_tags, Resource=ARN + "ghost")
    assert (code, message) == ("ResourceNotFoundException", f"Function not found: {ARN}ghost")
    code, out, _ = server.cli("lambda", "list-tags", "--resource", arn)
    assert out == {"Tags": {"b": "2"}}


def test_layers(server):
    lam = server.client("lambda")
    content = zip_of({"python/helper.py": "VALUE = 1\n"})
    first = lam.publish_layer_version(LayerName="helpers", Content={"ZipFile": content}, Description="one",
                                      CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"],
                                      LicenseInfo="MIT")
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    layer_arn = "arn:aws:lambda:us-east-1:000000000000:layer:helpers"
    assert (first["LayerArn"], first["LayerVersionArn"], first["Version"]) == (layer_arn, layer_arn + ":1", 1)
    assert first["Content"]["CodeSha256"] == sha256_b64(content)
    assert first["Content"]["CodeSize"] == len(content)
    assert (first["LicenseInfo"], first["CompatibleRuntimes"]) == ("MIT", ["python3.12"])
    with urllib.request.urlopen(first["Content"]["Location"]) as r:
        assert r.read() == content
    second = lam.publish_layer_version(LayerName="helpers", Content={"ZipFile": content},
                                       CompatibleRuntimes=["nodejs20.x"])
    assert second["Version"] == 2

    assert lam.get_layer_version(LayerName="helpers", VersionNumber=1)["Description"] == "one"
    assert lam.get_layer_version_by_arn(Arn=layer_arn + ":2")["Version"] == 2
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="helpers")["LayerVersions"]] == [2, 1]
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="helpers", CompatibleRuntime="python3.12")[
        "LayerVersions"]] == [1]
    layers = lam.list_layers()["Layers"]
    assert [(l["LayerName"], l["LatestMatchingVersion"]["Version"]) for l in layers] == [("helpers", 2)]
    assert lam.list_layers(CompatibleRuntime="python3.12")["Layers"][0]["LatestMatchingVersion"]["Version"] == 1

    uses_layer = zip_of({"index.py": "import helper\n\ndef handler(event, context):\n    return helper.VALUE\n"})
    created = create(lam, "with-layer", code=uses_layer, Layers=[layer_arn + ":1"])
    assert created["Layers"] == [{"Arn": layer_arn + ":1", "CodeSize": len(content)}]
    # The layer is unpacked where the runtime finds it, as /opt/python on Lambda.
    assert json.loads(lam.invoke(FunctionName="with-layer")["Payload"].read()) == 1
    code, message, _ = error_of(create, lam, "bad-layer", Layers=[layer_arn + ":9"])
    assert (code, message) == ("InvalidParameterValueException", f"Layer version {layer_arn}:9 does not exist.")

    lam.delete_layer_version(LayerName="helpers", VersionNumber=1)
    code, message, status = error_of(lam.get_layer_version, LayerName="helpers", VersionNumber=1)
    assert (code, message, status) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    # Deleting twice is fine, and the function that uses it keeps its layer.
    lam.delete_layer_version(LayerName="helpers", VersionNumber=1)
    assert lam.get_function_configuration(FunctionName="with-layer")["Layers"][0]["Arn"] == layer_arn + ":1"
    lam.update_function_configuration(FunctionName="with-layer", Description="cold again")
    assert json.loads(lam.invoke(FunctionName="with-layer")["Payload"].read()) == 1


def test_cli_creates_and_reads_a_function(server, tmp_path):
    path = tmp_path / "code.zip"
    path.write_bytes(CODE)
    code, out, stderr = server.cli("lambda", "create-function", "--function-name", "cli-fn", "--runtime", "python3.12",
                                   "--role", ROLE, "--handler", "index.handler", "--zip-file", f"fileb://{path}")
    assert code == 0, stderr
    assert out["CodeSha256"] == sha256_b64(CODE)
    code, out, _ = server.cli("lambda", "list-functions")
    assert [f["FunctionName"] for f in out["Functions"]] == ["cli-fn"]
    code, _, stderr = server.cli("lambda", "get-function", "--function-name", "nope", check=False)
    assert code != 0 and "ResourceNotFoundException" in stderr


def test_functions_versions_and_aliases_survive_kill_9(start_brume, tmp_path):
    data = str(tmp_path / "data")
    brume = start_brume(data_dir=data)
    lam = brume.client("lambda")
    create(lam, "durable", Publish=True, Tags={"k": "v"})
    lam.create_alias(FunctionName="durable", Name="live", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName="durable", ReservedConcurrentExecutions=5)
    lam.add_permission(FunctionName="durable", StatementId="s", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com")
    layer = lam.publish_layer_version(LayerName="l", Content={"ZipFile": CODE})["LayerVersionArn"]
    revision = lam.get_function(FunctionName="durable")["Configuration"]["RevisionId"]
    brume.proc.kill()
    brume.proc.wait()

    again = start_brume(data_dir=data)
    lam = again.client("lambda")
    got = lam.get_function(FunctionName="durable")
    assert got["Configuration"]["RevisionId"] == revision
    assert got["Tags"] == {"k": "v"}
    assert got["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    with urllib.request.urlopen(got["Code"]["Location"]) as r:
        assert r.read() == CODE
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="durable")["Versions"]] == ["$LATEST", "1"]
    assert lam.get_alias(FunctionName="durable", Name="live")["FunctionVersion"] == "1"
    assert json.loads(lam.get_policy(FunctionName="durable")["Policy"])["Statement"][0]["Sid"] == "s"
    assert lam.get_layer_version_by_arn(Arn=layer)["Version"] == 1
    response = lam.invoke(FunctionName="durable", Qualifier="live", Payload=b'{"back": true}')
    assert json.loads(response["Payload"].read()) == {"back": True}


def test_replaced_and_deleted_packages_leave_the_blob_store(start_brume, tmp_path):
    import os
    data = str(tmp_path / "data")
    brume = start_brume(data_dir=data)
    lam = brume.client("lambda")

    def blobs():
        return sorted(f for _, _, files in os.walk(os.path.join(data, "blobs")) for f in files
                      if len(f) == 32 and all(c in "0123456789abcdef" for c in f))

    create(lam, "stored", Publish=True)
    assert len(blobs()) == 1
    # Version 1 keeps the first package; the replaced $LATEST package without a version goes.
    lam.update_function_code(FunctionName="stored", ZipFile=zip_of({"index.py": HANDLER + "# 2\n"}))
    lam.update_function_code(FunctionName="stored", ZipFile=zip_of({"index.py": HANDLER + "# 3\n"}))
    assert len(blobs()) == 2
    lam.delete_function(FunctionName="stored", Qualifier="1")
    assert len(blobs()) == 1
    lam.delete_function(FunctionName="stored")
    assert blobs() == []


def test_kill_9_during_creates_and_publishes_keeps_every_acknowledged_version(start_brume, tmp_path):
    data = str(tmp_path / "data")
    first = start_brume(data_dir=data)

    def write(lam, w, i):
        # Each writer creates a function, then publishes a changed version of it.
        name = f"crash-{w}-{i // 2}"
        code = zip_of({"index.py": HANDLER + f"# {w} {i}\n"})
        if i % 2 == 0:
            created = create(lam, name, code=code)
            return name, "$LATEST", created["CodeSha256"], code
        lam.update_function_code(FunctionName=name, ZipFile=code)
        published = lam.publish_version(FunctionName=name)
        return name, published["Version"], published["CodeSha256"], code

    acknowledged = kill_9_during_writes(first, "lambda", write, enough=40)
    lam = start_brume(data_dir=data).client("lambda")
    for name, version, sha, code in acknowledged:
        got = lam.get_function(FunctionName=name, Qualifier=version)
        if version == "$LATEST":
            # An update after the create may have landed without its answer.
            continue
        assert got["Configuration"]["CodeSha256"] == sha, (name, version)
        with urllib.request.urlopen(got["Code"]["Location"]) as r:
            assert r.read() == code, (name, version)
    # Nothing half-made is visible: every listed version has its package.
    for f in lam.list_functions(FunctionVersion="ALL")["Functions"]:
        got = lam.get_function(FunctionName=f["FunctionName"], Qualifier=f["Version"])
        with urllib.request.urlopen(got["Code"]["Location"]) as r:
            assert sha256_b64(r.read()) == f["CodeSha256"]
