"""STS through boto3 and the AWS CLI: identity, temporary credentials, auth failures."""
import datetime
import time

import botocore.exceptions
import pytest


def error_of(excinfo):
    err = excinfo.value.response["Error"]
    return err["Code"], err.get("Message"), excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_cli_get_caller_identity_reports_the_default_account(server):
    _, out, _ = server.cli("sts", "get-caller-identity")
    assert out["Account"] == "000000000000"
    assert out["Arn"] == "arn:aws:iam::000000000000:root"
    assert out["UserId"] == "000000000000"


def test_twelve_digit_access_key_is_the_root_of_that_account(server):
    ident = server.client("sts", access_key="111122223333").get_caller_identity()
    assert ident["Account"] == "111122223333"
    assert ident["Arn"] == "arn:aws:iam::111122223333:root"


def test_every_response_has_a_request_id(server):
    resp = server.client("sts").get_caller_identity()
    rid = resp["ResponseMetadata"]["RequestId"]
    assert len(rid) == 36
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == rid


def test_wrong_secret_is_refused_with_signature_does_not_match(server):
    sts = server.client("sts", secret_key="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    code, message, status = error_of(e)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert "signature we calculated does not match" in message


def test_cli_wrong_secret_fails(server):
    code, _, err = server.cli("sts", "get-caller-identity", secret_key="wrong", check=False)
    assert code != 0
    assert "SignatureDoesNotMatch" in err


def test_unknown_access_key_is_invalid_client_token_id(server):
    sts = server.client("sts", access_key="AKIANOTAREALKEY00000")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    code, message, status = error_of(e)
    assert (code, status) == ("InvalidClientTokenId", 403)
    assert message.startswith("The security token included in the request is invalid")


def test_unsigned_request_is_missing_authentication_token(server):
    import urllib.request
    import urllib.error
    req = urllib.request.Request(
        server.endpoint + "/",
        data=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 403
    body = e.value.read().decode()
    assert "<Code>MissingAuthenticationToken</Code>" in body
    assert "<ErrorResponse" in body and "<RequestId>" in body


def test_get_session_token_issues_working_temporary_credentials(server):
    creds = server.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert len(creds["SecretAccessKey"]) == 40
    now = datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(minutes=14) < creds["Expiration"] - now <= datetime.timedelta(minutes=15, seconds=5)
    temp = server.client("sts", access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"], token=creds["SessionToken"])
    assert temp.get_caller_identity()["Account"] == "000000000000"


def test_temporary_credentials_need_their_session_token(server):
    creds = server.client("sts").get_session_token()["Credentials"]
    without_token = server.client("sts", access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        without_token.get_caller_identity()
    assert error_of(e)[2] in (400, 403)


def test_assume_role_returns_role_session_identity(server):
    sts = server.client("sts")
    resp = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/app/Worker", RoleSessionName="job-1", DurationSeconds=1800)
    assert resp["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/Worker/job-1"
    assert resp["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    assert resp["AssumedRoleUser"]["AssumedRoleId"].endswith(":job-1")
    c = resp["Credentials"]
    role = server.client("sts", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"], token=c["SessionToken"])
    ident = role.get_caller_identity()
    assert ident["Arn"] == "arn:aws:sts::000000000000:assumed-role/Worker/job-1"
    assert ident["UserId"] == resp["AssumedRoleUser"]["AssumedRoleId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        role.get_session_token()
    assert error_of(e)[0] == "AccessDenied"


def test_assume_role_in_another_account(server):
    resp = server.client("sts").assume_role(RoleArn="arn:aws:iam::444455556666:role/Cross", RoleSessionName="x1")
    c = resp["Credentials"]
    role = server.client("sts", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"], token=c["SessionToken"])
    assert role.get_caller_identity()["Account"] == "444455556666"


def test_assume_role_validation_errors(server):
    sts = server.client("sts")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/R", RoleSessionName="bad name")
    code, message, status = error_of(e)
    assert (code, status) == ("ValidationError", 400)
    assert "roleSessionName" in message
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/R", RoleSessionName="ok", DurationSeconds=43201)
    assert "less than or equal to 43200" in error_of(e)[1]


def test_cli_assume_role(server):
    _, out, _ = server.cli("sts", "assume-role", "--role-arn", "arn:aws:iam::000000000000:role/R", "--role-session-name", "cli")
    assert out["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/R/cli"


def test_get_federation_token_issues_a_federated_user_session(server):
    resp = server.client("sts").get_federation_token(Name="bob@proxy", DurationSeconds=7200)
    assert resp["FederatedUser"] == {"FederatedUserId": "000000000000:bob@proxy",
                                     "Arn": "arn:aws:sts::000000000000:federated-user/bob@proxy"}
    c = resp["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    # The root user's federated sessions are cut to an hour.
    left = c["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(minutes=59) < left <= datetime.timedelta(hours=1, seconds=5)
    fed = server.client("sts", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"], token=c["SessionToken"])
    assert fed.get_caller_identity() | {"ResponseMetadata": None} == {
        "UserId": "000000000000:bob@proxy", "Account": "000000000000",
        "Arn": "arn:aws:sts::000000000000:federated-user/bob@proxy", "ResponseMetadata": None}
    # Temporary credentials cannot ask for more.
    for call in (lambda: fed.get_federation_token(Name="again"), lambda: fed.get_session_token()):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_of(e)[0] == "AccessDenied" and error_of(e)[2] == 403
    session = server.client("sts").get_session_token()["Credentials"]
    temp = server.client("sts", access_key=session["AccessKeyId"], secret_key=session["SecretAccessKey"],
                         token=session["SessionToken"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        temp.get_federation_token(Name="carol")
    assert error_of(e) == ("AccessDenied", "Cannot call GetFederationToken with session credentials", 403)


def test_get_federation_token_validation_errors(server):
    sts = server.client("sts", parameter_validation=False)
    for name, constraint in [("x", "Member must have length greater than or equal to 2"),
                             ("n" * 33, "Member must have length less than or equal to 32"),
                             ("two words", "Member must satisfy regular expression pattern: [\\w+=,.@-]*")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sts.get_federation_token(Name=name)
        assert error_of(e) == (
            "ValidationError",
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: {constraint}",
            400,
        )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_federation_token(Name="ok", DurationSeconds=129601)
    assert "less than or equal to 129600" in error_of(e)[1]
    code, _, err = server.cli("sts", "get-federation-token", "--name", "two words", check=False)
    assert code != 0 and "ValidationError" in err


def test_get_access_key_info_names_the_account_of_a_key(server):
    sts = server.client("sts")
    # Brume's temporary credentials, by their record.
    c = sts.assume_role(RoleArn="arn:aws:iam::444455556666:role/Cross", RoleSessionName="x1")["Credentials"]
    assert sts.get_access_key_info(AccessKeyId=c["AccessKeyId"])["Account"] == "444455556666"
    assert sts.get_access_key_info(AccessKeyId=sts.get_session_token()["Credentials"]["AccessKeyId"])[
        "Account"] == "000000000000"
    # AWS's keys of the current generation carry their account (this pair is one AWS answered).
    _, out, _ = server.cli("sts", "get-access-key-info", "--access-key-id", "ASIAY34FZKBOKMUTVV7A")
    assert out == {"Account": "609629065308"}
    # Older keys do not; they are the default account's here.
    assert sts.get_access_key_info(AccessKeyId="AKIAIOSFODNN7EXAMPLE")["Account"] == "000000000000"


def test_unimplemented_sts_operation_answers_not_implemented(server):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        server.client("sts").decode_authorization_message(EncodedMessage="abc")
    code, message, status = error_of(e)
    assert (code, status) == ("NotImplemented", 501)
    assert "DecodeAuthorizationMessage" in message


def test_temporary_credentials_survive_a_restart(start_brume, tmp_path):
    first = start_brume(data_dir=str(tmp_path))
    c = first.client("sts").get_session_token()["Credentials"]
    first.stop()
    second = start_brume(data_dir=str(tmp_path))
    temp = second.client("sts", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"], token=c["SessionToken"])
    assert temp.get_caller_identity()["Account"] == "000000000000"


def test_open_auth_mode_accepts_any_secret(start_brume):
    b = start_brume(args=["--auth", "open"])
    assert b.client("sts", access_key="anything", secret_key="whatever").get_caller_identity()["Account"] == "000000000000"
    assert b.client("sts", access_key="222233334444", secret_key="x").get_caller_identity()["Account"] == "222233334444"


def test_credentials_file_adds_users(start_brume, tmp_path):
    f = tmp_path / "creds"
    f.write_text("# key secret account user\nAKIAALICE00000000001 alicesecret 111111111111 alice\n")
    b = start_brume(data_dir=str(tmp_path / "data"), args=["--credentials", str(f)])
    ident = b.client("sts", access_key="AKIAALICE00000000001", secret_key="alicesecret").get_caller_identity()
    assert ident["Arn"] == "arn:aws:iam::111111111111:user/alice"
    # An IAM user's federated sessions may last the twelve hours asked by default.
    alice = b.client("sts", access_key="AKIAALICE00000000001", secret_key="alicesecret")
    _, out, _ = b.cli("sts", "get-federation-token", "--name", "proxy-user",
                      access_key="AKIAALICE00000000001", secret_key="alicesecret")
    assert out["FederatedUser"]["Arn"] == "arn:aws:sts::111111111111:federated-user/proxy-user"
    expires = datetime.datetime.fromisoformat(out["Credentials"]["Expiration"].replace("Z", "+00:00"))
    left = expires - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=11, minutes=59) < left <= datetime.timedelta(hours=12, seconds=5)
    c = out["Credentials"]
    assert alice.get_caller_identity()["Account"] == "111111111111"
    assert b.client("sts").get_access_key_info(AccessKeyId="AKIAALICE00000000001")["Account"] == "111111111111"
    # Federated credentials are kept like the others: they work after a restart.
    b.stop()
    again = start_brume(data_dir=b.data_dir, args=["--credentials", str(f)])
    fed = again.client("sts", access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"], token=c["SessionToken"])
    assert fed.get_caller_identity()["UserId"] == "111111111111:proxy-user"
