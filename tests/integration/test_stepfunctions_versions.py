"""Step Functions versions and aliases: publishing (idempotent, numbers never reused, the
revision precondition), describing and deleting versions, aliases and their routing,
executions through a version or an alias, and all of it surviving kill -9."""

import json
import signal

import botocore.exceptions
import pytest

from test_stepfunctions import ACCOUNT, REGION, ROLE, error_of, finished, machine

ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine"


def pass_result(value):
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": value, "End": True}}}


def update(sfn, arn, value, **extra):
    return sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(pass_result(value)), **extra)


def output(sfn, arn, **extra):
    started = sfn.start_execution(stateMachineArn=arn, **extra)["executionArn"]
    done = finished(sfn, started)
    assert done["status"] == "SUCCEEDED"
    return json.loads(done["output"]), done


def test_publish_on_create_and_update_and_describe_a_version(server):
    sfn = server.client("stepfunctions")
    created = sfn.create_state_machine(name="pub", definition=json.dumps(pass_result(1)), roleArn=ROLE,
                                       publish=True, versionDescription="first")
    arn = created["stateMachineArn"]
    assert created["stateMachineVersionArn"] == f"{ARN}:pub:1"
    described = sfn.describe_state_machine(stateMachineArn=f"{arn}:1")
    assert described["stateMachineArn"] == f"{arn}:1"
    assert described["name"] == "pub"
    assert described["description"] == "first"
    assert json.loads(described["definition"]) == pass_result(1)
    assert described["type"] == "STANDARD" and described["status"] == "ACTIVE"
    assert "description" not in sfn.describe_state_machine(stateMachineArn=arn)

    updated = update(sfn, arn, 2, publish=True, versionDescription="second")
    assert updated["stateMachineVersionArn"] == f"{arn}:2"
    v2 = sfn.describe_state_machine(stateMachineArn=f"{arn}:2")
    assert v2["revisionId"] == updated["revisionId"]
    assert json.loads(v2["definition"]) == pass_result(2)
    assert json.loads(sfn.describe_state_machine(stateMachineArn=f"{arn}:1")["definition"]) == pass_result(1)
    assert "stateMachineVersionArn" not in update(sfn, arn, 3)

    err = error_of(sfn.describe_state_machine, stateMachineArn=f"{arn}:9")
    assert err == {"Code": "StateMachineDoesNotExist", "Message": f"State Machine Does Not Exist: '{arn}:9'"}
    for call, args in [
        (sfn.create_state_machine, {"name": "nopub", "definition": json.dumps(pass_result(1)), "roleArn": ROLE}),
        (sfn.update_state_machine, {"stateMachineArn": arn, "definition": json.dumps(pass_result(4))}),
    ]:
        err = error_of(call, versionDescription="orphan", **args)
        assert err == {"Code": "ValidationException",
                       "Message": "Version description can only be set when publish is true"}


def test_publish_is_idempotent_checks_the_revision_and_never_reuses_numbers(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "numbers", pass_result(1))
    first = sfn.publish_state_machine_version(stateMachineArn=arn, description="one", revisionId="INITIAL")
    assert first["stateMachineVersionArn"] == f"{arn}:1"
    again = sfn.publish_state_machine_version(stateMachineArn=arn)
    assert again == {**again, "stateMachineVersionArn": f"{arn}:1", "creationDate": first["creationDate"]}
    # Setting the same definition again is no change: still version 1.
    assert update(sfn, arn, 1, publish=True)["stateMachineVersionArn"] == f"{arn}:1"

    stale = sfn.describe_state_machine(stateMachineArn=arn)["revisionId"]
    current = update(sfn, arn, 2)["revisionId"]
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=stale)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    err = raised.value.response["Error"]
    assert err == {"Code": "ConflictException",
                   "Message": f"Failed to publish the State Machine version for revision {stale}. "
                              f"The current State Machine revision is {current}."}
    v2 = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=current)["stateMachineVersionArn"]
    assert v2 == f"{arn}:2"

    sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    update(sfn, arn, 3)
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == f"{arn}:3"

    err = error_of(sfn.publish_state_machine_version, stateMachineArn=f"{ARN}:missing")
    assert err == {"Code": "StateMachineDoesNotExist", "Message": f"State Machine Does Not Exist: '{ARN}:missing'"}


def test_list_versions_newest_first_with_pages(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "listed", pass_result(0))
    for i in range(1, 6):
        update(sfn, arn, i, publish=True)
    page = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=2)
    arns = [v["stateMachineVersionArn"] for v in page["stateMachineVersions"]]
    while "nextToken" in page:
        page = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=2, nextToken=page["nextToken"])
        arns += [v["stateMachineVersionArn"] for v in page["stateMachineVersions"]]
    assert arns == [f"{arn}:{n}" for n in range(5, 0, -1)]
    err = error_of(sfn.list_state_machine_versions, stateMachineArn=arn, nextToken="garbage")
    assert err["Code"] == "InvalidToken"


def test_executions_through_a_version_keep_its_definition(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "pinned", pass_result("v1"), publish=True)
    update(sfn, arn, "latest")
    result, done = output(sfn, f"{arn}:1", name="through-version")
    assert result == "v1"
    assert done["stateMachineArn"] == arn
    assert done["stateMachineVersionArn"] == f"{arn}:1"
    assert "stateMachineAliasArn" not in done
    for_execution = sfn.describe_state_machine_for_execution(executionArn=done["executionArn"])
    assert json.loads(for_execution["definition"]) == pass_result("v1")
    assert for_execution["stateMachineArn"] == arn

    assert output(sfn, arn, name="unqualified")[0] == "latest"
    by_version = sfn.list_executions(stateMachineArn=f"{arn}:1")["executions"]
    assert [(e["name"], e["stateMachineVersionArn"]) for e in by_version] == [("through-version", f"{arn}:1")]
    everything = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert sorted(e["name"] for e in everything) == ["through-version", "unqualified"]

    err = error_of(sfn.start_execution, stateMachineArn=f"{arn}:7")
    assert err == {"Code": "StateMachineDoesNotExist", "Message": f"State Machine Does Not Exist: '{arn}:7'"}


def test_a_running_version_execution_is_not_changed_by_an_update(server):
    sfn = server.client("stepfunctions")
    slow = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
                                       "P": {"Type": "Pass", "Result": "old", "End": True}}}
    arn = machine(sfn, "slow", slow, publish=True)
    started = sfn.start_execution(stateMachineArn=f"{arn}:1")["executionArn"]
    update(sfn, arn, "new", publish=True)
    done = finished(sfn, started)
    assert json.loads(done["output"]) == "old"
    assert done["stateMachineVersionArn"] == f"{arn}:1"


def test_express_versions_run_synchronously(server):
    sfn = server.client("stepfunctions", inject_host_prefix=False)
    arn = machine(sfn, "quick", pass_result("x1"), type="EXPRESS", publish=True)
    update(sfn, arn, "x2")
    answered = sfn.start_sync_execution(stateMachineArn=f"{arn}:1")
    assert answered["status"] == "SUCCEEDED"
    assert json.loads(answered["output"]) == "x1"
    assert json.loads(sfn.start_sync_execution(stateMachineArn=arn)["output"]) == "x2"


def test_alias_lifecycle_routing_and_executions(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "aliased", pass_result("one"), publish=True)
    update(sfn, arn, "two", publish=True)
    created = sfn.create_state_machine_alias(
        name="PROD", description="production",
        routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 100}])
    alias = created["stateMachineAliasArn"]
    assert alias == f"{arn}:PROD"
    again = sfn.create_state_machine_alias(
        name="PROD", description="production",
        routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 100}])
    assert again["creationDate"] == created["creationDate"]
    for different in [
        {"description": "other", "routingConfiguration": [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]},
        {"description": "production", "routingConfiguration": [{"stateMachineVersionArn": f"{arn}:2", "weight": 100}]},
    ]:
        err = error_of(sfn.create_state_machine_alias, name="PROD", **different)
        assert err == {"Code": "ConflictException",
                       "Message": "Failed to create alias because an alias with the same name and a "
                                  "different routing configuration already exists."}

    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert described["name"] == "PROD" and described["description"] == "production"
    assert described["routingConfiguration"] == [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    assert described["updateDate"] == described["creationDate"]

    result, done = output(sfn, alias, name="via-alias")
    assert result == "one"
    assert done["stateMachineAliasArn"] == alias
    assert done["stateMachineVersionArn"] == f"{arn}:1"
    assert done["stateMachineArn"] == arn

    sfn.update_state_machine_alias(stateMachineAliasArn=alias,
                                   routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 0},
                                                         {"stateMachineVersionArn": f"{arn}:2", "weight": 100}])
    assert output(sfn, alias, name="via-alias-2")[0] == "two"
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, description="moved")
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert described["description"] == "moved" and len(described["routingConfiguration"]) == 2

    by_alias = sfn.list_executions(stateMachineArn=alias)["executions"]
    assert sorted((e["name"], e["stateMachineVersionArn"]) for e in by_alias) == [
        ("via-alias", f"{arn}:1"), ("via-alias-2", f"{arn}:2")]
    assert all(e["stateMachineAliasArn"] == alias for e in by_alias)

    sfn.create_state_machine_alias(name="beta", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:2",
                                                                       "weight": 100}])
    listed = sfn.list_state_machine_aliases(stateMachineArn=arn, maxResults=1)
    assert [a["stateMachineAliasArn"] for a in listed["stateMachineAliases"]] == [alias]
    rest = sfn.list_state_machine_aliases(stateMachineArn=arn, nextToken=listed["nextToken"])
    assert [a["stateMachineAliasArn"] for a in rest["stateMachineAliases"]] == [f"{arn}:beta"]
    by_version = sfn.list_state_machine_aliases(stateMachineArn=f"{arn}:1")["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in by_version] == [alias]

    err = error_of(sfn.delete_state_machine_version, stateMachineVersionArn=f"{arn}:2")
    assert err == {"Code": "ConflictException",
                   "Message": "Version to be deleted must not be referenced by an alias. "
                              "Current list of aliases referencing this version: [PROD, beta]"}
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    err = error_of(sfn.describe_state_machine_alias, stateMachineAliasArn=alias)
    assert err == {"Code": "ResourceNotFound", "Message": "Request references a resource that does not exist."}
    err = error_of(sfn.update_state_machine_alias, stateMachineAliasArn=alias, description="x")
    assert err == {"Code": "ResourceNotFound", "Message": "Request references a resource that does not exist."}
    err = error_of(sfn.start_execution, stateMachineArn=alias)
    assert err["Code"] == "StateMachineDoesNotExist"
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:1")


def test_alias_validation(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "checked", pass_result(1), publish=True)
    update(sfn, arn, 2, publish=True)
    update(sfn, arn, 3, publish=True)
    v = [f"{arn}:{n}" for n in (1, 2, 3)]

    def route(*pairs):
        return [{"stateMachineVersionArn": a, "weight": w} for a, w in pairs]

    cases = [
        ({"name": "123", "routingConfiguration": route((v[0], 100))},
         "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: Member must satisfy "
         "regular expression pattern: ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$"),
        ({"name": "A" * 81, "routingConfiguration": route((v[0], 100))},
         f"1 validation error detected: Value '{'A' * 81}' at 'name' failed to satisfy constraint: "
         "Member must have length less than or equal to 80"),
        ({"name": "ok", "routingConfiguration": route((v[0], 50), (v[1], 30), (v[2], 20))},
         f"1 validation error detected: Value '[RoutingConfigurationListItem(stateMachineVersionArn={v[0]}, "
         f"weight=50), RoutingConfigurationListItem(stateMachineVersionArn={v[1]}, weight=30), "
         f"RoutingConfigurationListItem(stateMachineVersionArn={v[2]}, weight=20)]' at 'routingConfiguration' "
         "failed to satisfy constraint: Member must have length less than or equal to 2"),
        ({"name": "ok", "routingConfiguration": route((v[0], 50), (v[0], 50))},
         f"Routing configuration must contain distinct state machine version ARNs. Received: [{v[0]}, {v[0]}]"),
        ({"name": "ok", "routingConfiguration": route((arn, 50), (v[1], 50))},
         f"Routing configuration must contain state machine version ARNs. Received: [{arn}, {v[1]}]"),
        ({"name": "ok", "routingConfiguration": route((v[0], 101))},
         "1 validation error detected: Value '101' at 'routingConfiguration.1.member.weight' failed to satisfy "
         "constraint: Member must have value less than or equal to 100"),
        ({"name": "ok", "routingConfiguration": route((v[0], 70), (v[1], 29))},
         "Sum of routing configuration weights must equal 100. Received: [70, 29]"),
        ({"name": "ok", "routingConfiguration": route((f"{arn}:9", 100))},
         f"Routing configuration must contain state machine version ARNs. Received: [{arn}:9]"),
    ]
    for args, message in cases:
        assert error_of(sfn.create_state_machine_alias, **args) == {"Code": "ValidationException",
                                                                     "Message": message}
    err = error_of(sfn.describe_state_machine_alias, stateMachineAliasArn=arn)
    assert err["Code"] == "InvalidArn"
    assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []


def test_tags_are_for_state_machines_not_versions_or_aliases(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "tagless", pass_result(1), publish=True)
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    )["stateMachineAliasArn"]
    for resource in (alias, f"{arn}:1"):
        err = error_of(sfn.tag_resource, resourceArn=resource, tags=[{"key": "k", "value": "v"}])
        assert err == {"Code": "ResourceNotFound", "Message": f"Resource not found: '{resource}'"}


def test_deleting_the_machine_deletes_its_versions_and_aliases(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "doomed", pass_result(1), publish=True)
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    )["stateMachineAliasArn"]
    sfn.delete_state_machine(stateMachineArn=arn)
    assert error_of(sfn.describe_state_machine, stateMachineArn=f"{arn}:1")["Code"] == "StateMachineDoesNotExist"
    assert error_of(sfn.describe_state_machine_alias, stateMachineAliasArn=alias)["Code"] == "ResourceNotFound"
    recreated = sfn.create_state_machine(name="doomed", definition=json.dumps(pass_result(2)), roleArn=ROLE,
                                         publish=True)
    assert recreated["stateMachineVersionArn"] == f"{arn}:1"
    assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []


def test_aws_cli_publishes_and_lists_versions(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "cli-versions", pass_result(1))
    code, published, _ = server.cli("stepfunctions", "publish-state-machine-version", "--state-machine-arn", arn,
                                    "--description", "from the CLI")
    assert code == 0
    assert published["stateMachineVersionArn"] == f"{arn}:1"
    code, listed, _ = server.cli("stepfunctions", "list-state-machine-versions", "--state-machine-arn", arn)
    assert code == 0
    assert [v["stateMachineVersionArn"] for v in listed["stateMachineVersions"]] == [f"{arn}:1"]
    code, _, stderr = server.cli("stepfunctions", "create-state-machine-alias", "--name", "cli",
                                 "--routing-configuration", f"stateMachineVersionArn={arn}:1,weight=60",
                                 check=False)
    assert code != 0
    assert "ValidationException" in stderr and "Sum of routing configuration weights must equal 100" in stderr


def test_versions_and_aliases_survive_kill_9(start_brume, tmp_path):
    data_dir = str(tmp_path)
    brume = start_brume(data_dir=data_dir)
    sfn = brume.client("stepfunctions")
    arn = machine(sfn, "durable-versions", pass_result("kept"), publish=True)
    update(sfn, arn, "later", publish=True)
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:2")
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    )["stateMachineAliasArn"]
    _, done = output(sfn, alias, name="before-crash")
    brume.proc.send_signal(signal.SIGKILL)
    brume.proc.wait()

    sfn = start_brume(data_dir=data_dir).client("stepfunctions")
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:1"]
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["routingConfiguration"] == [
        {"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    described = sfn.describe_execution(executionArn=done["executionArn"])
    assert (described["stateMachineVersionArn"], described["stateMachineAliasArn"]) == (f"{arn}:1", alias)
    update(sfn, arn, "after")
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == f"{arn}:3"
    assert output(sfn, alias)[0] == "kept"


def test_a_machine_has_at_most_1000_versions(server):
    sfn = server.client("stepfunctions")
    arn = machine(sfn, "crowded", pass_result(0), publish=True)
    for i in range(1, 1000):
        update(sfn, arn, i, publish=True)
    update(sfn, arn, 1000)
    err = error_of(sfn.publish_state_machine_version, stateMachineArn=arn)
    assert err == {"Code": "ServiceQuotaExceededException",
                   "Message": f"Maximum number of versions (1000) reached for state machine '{arn}'"}
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:1")
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == f"{arn}:1001"
