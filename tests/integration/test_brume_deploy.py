"""`brume deploy TEMPLATE` and `brume destroy STACK` against a running Brume: local code
packaged into S3, the stack created then updated through change sets, an unchanged template
left alone, a failing resource reported, parameters overridden and kept, the stack deleted."""
import hashlib
import json
import subprocess

import botocore.exceptions
import pytest

from conftest import BRUME_BIN

APP = """
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code: ./src
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  FunctionName:
    Value: !Ref Function
  QueueUrl:
    Value: !Ref Queue
"""


def brume(server, *args):
    done = subprocess.run([BRUME_BIN, *args, "--endpoint", server.endpoint], capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin"})
    return done.returncode, done.stdout, done.stderr


def outputs(text):
    lines = text.split("Outputs:\n", 1)[1].splitlines()
    return dict(line.strip().split(" = ", 1) for line in lines if " = " in line)


def write_code(tmp_path, version):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "index.py").write_text(f"import helper\n\ndef handler(event, context):\n    return helper.answer({version})\n")
    (src / "helper.py").write_text("def answer(version):\n    return {'version': version}\n")


def invoke(server, name):
    answer = server.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    return json.loads(answer["Payload"].read())


def test_deploy_packages_local_code_updates_it_and_finds_nothing_to_change(server, tmp_path):
    write_code(tmp_path, 1)
    template = tmp_path / "app.yaml"
    template.write_text(APP)
    code, out, err = brume(server, "deploy", str(template))
    assert code == 0, out + err
    assert "CREATE_COMPLETE                AWS::Lambda::Function                Function" in out
    assert "Stack app CREATE_COMPLETE" in out
    values = outputs(out)
    assert invoke(server, values["FunctionName"]) == {"version": 1}
    assert server.client("sqs").get_queue_attributes(QueueUrl=values["QueueUrl"])["ResponseMetadata"]
    account = server.client("sts").get_caller_identity()["Account"]
    s3 = server.client("s3")
    bucket = f"brume-deploy-{account}-us-east-1"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("app/")
    package = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    assert keys[0] == "app/" + hashlib.md5(package).hexdigest()
    function = server.client("lambda").get_function(FunctionName=values["FunctionName"])
    assert function["Configuration"]["CodeSha256"]

    write_code(tmp_path, 2)
    code, out, err = brume(server, "deploy", str(template))
    assert code == 0, out + err
    assert "Modify   AWS::Lambda::Function" in out
    assert "Stack app UPDATE_COMPLETE" in out
    assert invoke(server, values["FunctionName"]) == {"version": 2}
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 2

    code, out, err = brume(server, "deploy", str(template))
    assert code == 0, out + err
    assert "No changes to deploy. Stack app is up to date" in out
    cfn = server.client("cloudformation")
    assert [s["ExecutionStatus"] for s in cfn.list_change_sets(StackName="app")["Summaries"]] == ["EXECUTE_COMPLETE"]
    assert cfn.describe_stacks(StackName="app")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_a_failing_resource_exits_1_with_its_reason(server, tmp_path):
    template = tmp_path / "broken.json"
    template.write_text(json.dumps({"Resources": {
        "Good": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "deploy-good"}},
        "Bad": {"Type": "AWS::SQS::Queue", "DependsOn": "Good",
                "Properties": {"QueueName": "deploy-bad", "VisibilityTimeout": 99999}},
    }}))
    code, out, err = brume(server, "deploy", str(template), "--stack-name", "broken")
    assert code == 1, out + err
    assert "Stack broken ROLLBACK_COMPLETE" in err
    assert 'Error: Bad (AWS::SQS::Queue) CREATE_FAILED: Resource handler returned message: "' in err
    assert "CREATE_FAILED" in out and "DELETE_COMPLETE" in out
    with pytest.raises(botocore.exceptions.ClientError):
        server.client("sqs").get_queue_url(QueueName="deploy-good")


PARAMETERS = """
Parameters:
  QueueName:
    Type: String
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${QueueName}-${Stage}"
Outputs:
  Name:
    Value: !GetAtt Queue.QueueName
"""


def test_parameter_overrides_and_previous_values(server, tmp_path):
    template = tmp_path / "params.yaml"
    template.write_text(PARAMETERS)
    code, out, err = brume(server, "deploy", str(template), "--parameter-overrides", "QueueName=orders", "Stage=prod")
    assert code == 0, out + err
    assert outputs(out) == {"Name": "orders-prod"}
    code, out, err = brume(server, "deploy", str(template))
    assert code == 0, out + err
    assert "No changes to deploy. Stack params is up to date" in out
    code, out, err = brume(server, "deploy", str(template), "--parameter-overrides", "Stage=dev")
    assert code == 0, out + err
    assert outputs(out) == {"Name": "orders-dev"}
    code, out, err = brume(server, "deploy", str(template), "--stack-name", "fresh")
    assert code == 1
    assert "Error: " in err and "QueueName" in err


def test_destroy_deletes_the_stack_and_accepts_one_already_gone(server, tmp_path):
    template = tmp_path / "gone.yaml"
    template.write_text("Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: destroyed}\n")
    code, out, err = brume(server, "deploy", str(template))
    assert code == 0, out + err
    code, out, err = brume(server, "destroy", "gone")
    assert code == 0, out + err
    assert "DELETE_COMPLETE                AWS::SQS::Queue                      Queue" in out
    assert "Stack gone DELETE_COMPLETE" in out
    with pytest.raises(botocore.exceptions.ClientError):
        server.client("sqs").get_queue_url(QueueName="destroyed")
    code, out, err = brume(server, "destroy", "gone")
    assert code == 0, out + err
    assert "Stack gone does not exist: nothing to destroy" in out


def test_a_large_template_goes_through_s3(server, tmp_path):
    template = tmp_path / "large.json"
    body = {"Metadata": {"Padding": "x" * 60_000}, "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    template.write_text(json.dumps(body))
    code, out, err = brume(server, "deploy", str(template))
    assert code == 0, out + err
    account = server.client("sts").get_caller_identity()["Account"]
    keys = [o["Key"] for o in server.client("s3").list_objects_v2(Bucket=f"brume-deploy-{account}-us-east-1")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("large/") and keys[0].endswith(".template")


def on_terminal(server, *args):
    """Runs brume with its output on a pseudo-terminal, answering the exit status and output."""
    import os
    import pty
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([BRUME_BIN, *args, "--endpoint", server.endpoint], stdout=terminal, stderr=terminal,
                            env={"PATH": "/usr/bin:/bin"})
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return proc.wait(timeout=60), b"".join(chunks).decode()


def test_on_a_terminal_the_table_is_redrawn_in_place_unless_no_progress(server, tmp_path):
    template = tmp_path / "live.yaml"
    template.write_text("Resources:\n  First:\n    Type: AWS::SQS::Queue\n  Second:\n    Type: AWS::SQS::Queue\n"
                        "    DependsOn: First\n")
    code, out = on_terminal(server, "deploy", str(template))
    assert code == 0, out
    assert "\x1b[2K" in out and "\x1b[3A" in out
    assert "Stack live CREATE_COMPLETE" in out
    code, out = on_terminal(server, "destroy", "live", "--no-progress")
    assert code == 0, out
    assert "\x1b[" not in out
    assert "DELETE_COMPLETE                AWS::SQS::Queue                      Second" in out


def test_a_local_state_machine_definition_is_uploaded_as_it_is(server, tmp_path):
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": "${Greeting}", "End": True}}})
    (tmp_path / "machine.asl.json").write_text(definition)
    template = tmp_path / "flow.yaml"
    template.write_text("""
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: !GetAtt Role.Arn
      DefinitionS3Location: machine.asl.json
      DefinitionSubstitutions:
        Greeting: hello
Outputs:
  Arn:
    Value: !Ref Machine
""")
    code, out, err = brume(server, "deploy", str(template))
    assert code == 0, out + err
    account = server.client("sts").get_caller_identity()["Account"]
    key = "flow/" + hashlib.md5(definition.encode()).hexdigest()
    s3 = server.client("s3")
    assert s3.get_object(Bucket=f"brume-deploy-{account}-us-east-1", Key=key)["Body"].read() == definition.encode()
    sfn = server.client("stepfunctions")
    described = sfn.describe_state_machine(stateMachineArn=outputs(out)["Arn"])
    assert json.loads(described["definition"])["States"]["Done"]["Result"] == "hello"


SAM_APP = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Timeout: 10
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./src
      Handler: index.handler
      Events:
        FromJobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
Outputs:
  Worker:
    Value: !Ref Worker
"""


def test_a_sam_function_is_packaged_from_its_code_uri(server, tmp_path):
    write_code(tmp_path, 7)
    template = tmp_path / "sam.yaml"
    template.write_text(SAM_APP)
    code, out, err = brume(server, "deploy", str(template))
    assert code == 0, out + err
    assert "AWS::Lambda::EventSourceMapping" in out
    name = outputs(out)["Worker"]
    assert invoke(server, name) == {"version": 7}
    cfn = server.client("cloudformation")
    original = cfn.get_template(StackName="sam", TemplateStage="Original")["TemplateBody"]
    uri = original["Resources"]["Worker"]["Properties"]["CodeUri"]
    assert uri.startswith("s3://brume-deploy-") and "/sam/" in uri
    mappings = server.client("lambda").list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert len(mappings) == 1
    code, out, err = brume(server, "destroy", "sam")
    assert code == 0, out + err


def test_a_packaged_template_is_sent_with_its_language_extensions_unexpanded(server, tmp_path):
    write_code(tmp_path, 3)
    template = tmp_path / "loops.yaml"
    template.write_text("""
Transform: AWS::LanguageExtensions
Parameters:
  Names:
    Type: CommaDelimitedList
    Default: a
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code: src
  Fn::ForEach::Queues:
    - Name
    - !Ref Names
    - Queue${Name}:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: !Sub loops-${Name}
""")
    code, out, err = brume(server, "deploy", str(template))
    assert code == 0, out + err
    original = server.client("cloudformation").get_template(StackName="loops", TemplateStage="Original")["TemplateBody"]
    assert original["Resources"]["Fn::ForEach::Queues"] == [
        "Name", {"Ref": "Names"}, {"Queue${Name}": {"Type": "AWS::SQS::Queue",
                                                    "Properties": {"QueueName": {"Fn::Sub": "loops-${Name}"}}}}]
    assert set(original["Resources"]["Function"]["Properties"]["Code"]) == {"S3Bucket", "S3Key"}
    assert server.client("sqs").get_queue_url(QueueName="loops-a")["QueueUrl"]
