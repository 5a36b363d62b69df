"""IAM and STS over the AWS Query protocol: boto3 and the real ``aws iam`` / ``aws sts`` (CLI v2,
and v1 where one is installed) manage berth's users, access keys and policies, and what they set
decides the ECR API's answers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ecr_support import ACCOUNT_ID, ADMIN_KEY, REGION, AccessKey, ecr_client, error_code, run_tool, unique
from test_walkthrough import AWS_V2, cli_env, find_aws_cli_v1

READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


def client(service: str, url: str, key: AccessKey = ADMIN_KEY, region: str = REGION):
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id=key.access_key_id,
                        aws_secret_access_key=key.secret_access_key,
                        config=Config(retries={"max_attempts": 1}, connect_timeout=10, read_timeout=60))


def iam_error(call, *args, **kwargs) -> tuple[str, int]:
    """(error code, HTTP status) of a call that must fail."""
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return error_code(info.value), info.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def iam(berth):
    return client("iam", berth.url)


@pytest.fixture
def new_user(iam, request):
    """``make(prefix)`` creates a user with a unique name and returns it; its keys and policies
    are removed at teardown."""
    made: list[str] = []

    def make(prefix: str = "u") -> str:
        name = f"{prefix}-{unique()}"
        iam.create_user(UserName=name)
        made.append(name)
        return name

    yield make
    for name in made:
        for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
        for p in iam.list_user_policies(UserName=name)["PolicyNames"]:
            iam.delete_user_policy(UserName=name, PolicyName=p)
        for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
            iam.detach_user_policy(UserName=name, PolicyArn=p["PolicyArn"])


def key_of(iam, user: str) -> AccessKey:
    k = iam.create_access_key(UserName=user)["AccessKey"]
    assert k["UserName"] == user and k["Status"] == "Active"
    return AccessKey(k["AccessKeyId"], k["SecretAccessKey"], ACCOUNT_ID)


def push_policy(prefix: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": "ecr:*",
         "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{prefix}/*"}]})


# ---------------------------------------------------------------------------------------------
# boto3

def test_iam_new_user_key_is_who_sts_says(berth, iam, new_user):
    name = new_user("who")
    user = iam.get_user(UserName=name)["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{name}" and user["UserId"].startswith("AIDA")
    key = key_of(iam, name)
    me = client("sts", berth.url, key).get_caller_identity()
    assert (me["Arn"], me["Account"], me["UserId"]) == (user["Arn"], ACCOUNT_ID, user["UserId"])
    keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(key.access_key_id, "Active")]
    admin = client("sts", berth.url).get_caller_identity()
    assert admin["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/admin"


def test_iam_user_policy_scopes_push_to_its_prefix(berth, iam, new_user, ecr):
    name = new_user("ci")
    iam.put_user_policy(UserName=name, PolicyName="push-app", PolicyDocument=push_policy("app"))
    got = iam.get_user_policy(UserName=name, PolicyName="push-app")
    assert got["PolicyDocument"] == json.loads(push_policy("app"))  # URL-encoded on the wire, decoded by boto3
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["push-app"]
    ci = ecr_client(berth.url, key_of(iam, name))
    repo = f"app/iam-{unique()}"
    try:
        ci.create_repository(repositoryName=repo)
        ci.get_authorization_token()
        assert ci.list_images(repositoryName=repo)["imageIds"] == []
        with pytest.raises(ClientError) as denied:
            ci.create_repository(repositoryName=f"other/iam-{unique()}")
        assert error_code(denied.value) == "AccessDeniedException"
    finally:
        ecr.delete_repository(repositoryName=repo, force=True)


def test_iam_attached_read_only_reads_and_cannot_push(berth, iam, new_user, ecr, repo):
    name = new_user("deploy")
    iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    attached = iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]
    assert attached == [{"PolicyName": "AmazonEC2ContainerRegistryReadOnly", "PolicyArn": READ_ONLY}]
    deploy = ecr_client(berth.url, key_of(iam, name))
    got = deploy.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert got["images"] == [] and got["failures"][0]["failureCode"] == "ImageNotFound"
    with pytest.raises(ClientError) as denied:
        deploy.put_image(repositoryName=repo, imageTag="v1", imageManifest="{}")
    assert error_code(denied.value) == "AccessDeniedException"
    iam.detach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    with pytest.raises(ClientError) as denied:
        deploy.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert error_code(denied.value) == "AccessDeniedException"


def test_iam_non_admin_cannot_manage_iam(berth, iam, new_user):
    name = new_user("plain")
    key = key_of(iam, name)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess")
    plain = client("iam", berth.url, key)
    assert iam_error(plain.create_user, UserName=f"x-{unique()}") == ("AccessDenied", 403)
    assert iam_error(plain.list_users) == ("AccessDenied", 403)
    # sts:GetCallerIdentity needs no permission.
    assert client("sts", berth.url, key).get_caller_identity()["Arn"].endswith(f":user/{name}")
    # An inline policy granting iam:* makes another administrator of IAM.
    iam.put_user_policy(UserName=name, PolicyName="iam-admin", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}))
    assert any(u["UserName"] == name for u in plain.list_users(MaxItems=1000)["Users"])


def test_iam_errors_carry_iam_codes(berth, iam, new_user):
    name = new_user("err")
    assert iam_error(iam.get_user, UserName=f"nobody-{unique()}") == ("NoSuchEntity", 404)
    assert iam_error(iam.create_user, UserName=name) == ("EntityAlreadyExists", 409)
    assert iam_error(iam.create_user, UserName="bad name!") == ("ValidationError", 400)
    assert iam_error(iam.put_user_policy, UserName=name, PolicyName="p",
                     PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}') == \
        ("MalformedPolicyDocument", 400)
    assert iam_error(iam.put_user_policy, UserName=name, PolicyName="p", PolicyDocument="not json") == \
        ("MalformedPolicyDocument", 400)
    assert iam_error(iam.get_user_policy, UserName=name, PolicyName="none") == ("NoSuchEntity", 404)
    assert iam_error(iam.attach_user_policy, UserName=name,
                     PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess") == ("NoSuchEntity", 404)
    assert iam_error(iam.detach_user_policy, UserName=name, PolicyArn=READ_ONLY) == ("NoSuchEntity", 404)
    assert iam_error(iam.list_access_keys, UserName=f"nobody-{unique()}") == ("NoSuchEntity", 404)
    key_of(iam, name)
    key_of(iam, name)
    assert iam_error(iam.create_access_key, UserName=name) == ("LimitExceeded", 409)
    assert iam_error(iam.delete_access_key, UserName=name, AccessKeyId=ADMIN_KEY.access_key_id) == \
        ("NoSuchEntity", 404), "another user's key is not found under this user"


def test_iam_error_xml_is_iams(berth, iam):
    """The raw answer: IAM's ErrorResponse document, its namespace, Type and RequestId."""
    import xml.etree.ElementTree as ET
    captured = {}

    def keep(http_response, **kwargs):
        captured.setdefault("body", http_response.content)

    iam.meta.events.register("after-call.iam.GetUser", keep)
    try:
        assert iam_error(iam.get_user, UserName="no-such-user-at-all") == ("NoSuchEntity", 404)
    finally:
        iam.meta.events.unregister("after-call.iam.GetUser", keep)
    root = ET.fromstring(captured["body"])
    assert root.tag == f"{{{IAM_NS}}}ErrorResponse"
    assert root.find(f"{{{IAM_NS}}}Error/{{{IAM_NS}}}Type").text == "Sender"
    assert root.find(f"{{{IAM_NS}}}Error/{{{IAM_NS}}}Code").text == "NoSuchEntity"
    assert "no-such-user-at-all" in root.find(f"{{{IAM_NS}}}Error/{{{IAM_NS}}}Message").text
    assert root.find(f"{{{IAM_NS}}}RequestId").text


def test_iam_lists_page_with_marker(iam, new_user):
    names = {new_user("page") for _ in range(3)}
    seen, marker, pages = [], None, 0
    while True:
        kwargs = {"MaxItems": 2} | ({"Marker": marker} if marker else {})
        page = iam.list_users(**kwargs)
        pages += 1
        assert len(page["Users"]) <= 2
        seen += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        marker = page["Marker"]
    assert pages >= 2 and names <= set(seen) and seen == sorted(set(seen))
    # The paginator follows the same markers.
    listed = [u["UserName"] for p in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 1})
              for u in p["Users"]]
    assert listed == seen
    user = sorted(names)[0]
    for p in ("c", "a", "b"):
        iam.put_user_policy(UserName=user, PolicyName=p, PolicyDocument=push_policy(p))
    first = iam.list_user_policies(UserName=user, MaxItems=2)
    assert first["PolicyNames"] == ["a", "b"] and first["IsTruncated"]
    rest = iam.list_user_policies(UserName=user, MaxItems=2, Marker=first["Marker"])
    assert rest["PolicyNames"] == ["c"] and not rest["IsTruncated"]


def test_iam_inactive_key_is_refused_until_active_again(berth, iam, new_user):
    name = new_user("onoff")
    key = key_of(iam, name)
    sts = client("sts", berth.url, key)
    assert sts.get_caller_identity()["Account"] == ACCOUNT_ID
    iam.update_access_key(UserName=name, AccessKeyId=key.access_key_id, Status="Inactive")
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    assert iam_error(sts.get_caller_identity) == ("InvalidClientTokenId", 403)
    assert error_code(pytest.raises(ClientError, ecr_client(berth.url, key).get_authorization_token).value) == \
        "UnrecognizedClientException"
    iam.update_access_key(UserName=name, AccessKeyId=key.access_key_id, Status="Active")
    assert sts.get_caller_identity()["Account"] == ACCOUNT_ID
    iam.delete_access_key(UserName=name, AccessKeyId=key.access_key_id)
    assert iam_error(sts.get_caller_identity) == ("InvalidClientTokenId", 403)
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []


def test_iam_groups_members_and_their_policies_decide(berth, iam, new_user, repo):
    name = new_user("member")
    key = key_of(iam, name)
    group = f"g-{unique()}"
    iam.create_group(GroupName=group)
    try:
        assert iam_error(iam.create_group, GroupName=group) == ("EntityAlreadyExists", 409)
        got = iam.get_group(GroupName=group)
        assert got["Group"]["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:group/{group}" and got["Users"] == []
        assert group in [g["GroupName"] for g in iam.list_groups(MaxItems=1000)["Groups"]]
        iam.add_user_to_group(GroupName=group, UserName=name)
        assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [name]
        deploy = ecr_client(berth.url, key)
        with pytest.raises(ClientError):
            deploy.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
        iam.attach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
        assert iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"][0]["PolicyArn"] == READ_ONLY
        assert deploy.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])["images"] == []
        deny = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "ecr:BatchGetImage", "Resource": "*"}]})
        iam.put_group_policy(GroupName=group, PolicyName="deny-pull", PolicyDocument=deny)
        assert iam.get_group_policy(GroupName=group, PolicyName="deny-pull")["PolicyDocument"] == json.loads(deny)
        assert iam.list_group_policies(GroupName=group)["PolicyNames"] == ["deny-pull"]
        with pytest.raises(ClientError) as denied:
            deploy.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
        assert error_code(denied.value) == "AccessDeniedException"
        assert iam_error(iam.delete_group, GroupName=group) == ("DeleteConflict", 409)
        iam.remove_user_from_group(GroupName=group, UserName=name)
        assert iam_error(iam.remove_user_from_group, GroupName=group, UserName=name) == ("NoSuchEntity", 404)
        iam.delete_group_policy(GroupName=group, PolicyName="deny-pull")
        iam.detach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    finally:
        iam.delete_group(GroupName=group)
    assert iam_error(iam.get_group, GroupName=group) == ("NoSuchEntity", 404)


def test_iam_delete_user_conflicts_until_bare_and_tag_user(iam):
    name = f"gone-{unique()}"
    iam.create_user(UserName=name)
    iam.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "platform"}])
    k = iam.create_access_key(UserName=name)["AccessKey"]
    assert iam_error(iam.delete_user, UserName=name) == ("DeleteConflict", 409)
    iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    iam.delete_user(UserName=name)
    assert iam_error(iam.get_user, UserName=name) == ("NoSuchEntity", 404)
    assert iam_error(iam.delete_user, UserName=name) == ("NoSuchEntity", 404)
    assert iam_error(iam.tag_user, UserName=name, Tags=[{"Key": "a", "Value": "b"}]) == ("NoSuchEntity", 404)


# ---------------------------------------------------------------------------------------------
# The AWS CLI: one walkthrough per version (each call costs about a second)

def cli_walkthrough(binary: str, url: str, tmp_path: Path, iam) -> None:
    env = cli_env(tmp_path)

    def aws(*args: str, key: AccessKey | None = None, check: bool = True) -> subprocess.CompletedProcess:
        e = dict(env)
        if key is not None:
            e |= {"AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key}
        return run_tool([binary, *args, "--endpoint-url", url, "--output", "json"], env=e, check=check, timeout=120)

    name = f"cli-{unique()}"
    try:
        created = json.loads(aws("iam", "create-user", "--user-name", name).stdout)["User"]
        assert created["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"
        k = json.loads(aws("iam", "create-access-key", "--user-name", name).stdout)["AccessKey"]
        key = AccessKey(k["AccessKeyId"], k["SecretAccessKey"], ACCOUNT_ID)
        doc = tmp_path / "push.json"
        doc.write_text(push_policy("app"))
        aws("iam", "put-user-policy", "--user-name", name, "--policy-name", "push", "--policy-document",
            f"file://{doc}")
        aws("iam", "attach-user-policy", "--user-name", name, "--policy-arn", READ_ONLY)
        me = json.loads(aws("sts", "get-caller-identity", key=key).stdout)
        assert me["Arn"] == created["Arn"] and me["Account"] == ACCOUNT_ID
        denied = aws("iam", "create-user", "--user-name", f"x-{unique()}", key=key, check=False)
        assert denied.returncode != 0 and "AccessDenied" in denied.stderr, denied.stderr
    finally:
        for item in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=item["AccessKeyId"])


def test_iam_aws_cli_v2_walkthrough(berth, iam, tmp_path):
    if not Path(AWS_V2).exists():
        pytest.skip(f"{AWS_V2} (AWS CLI v2, Debian package awscli) is not installed")
    cli_walkthrough(AWS_V2, berth.url, tmp_path, iam)


def test_iam_aws_cli_v1_walkthrough(berth, iam, tmp_path):
    binary, found = find_aws_cli_v1(cli_env(tmp_path))
    if binary is None:
        pytest.skip(f"no AWS CLI v1 installed (Debian 12 packages only v2; found {found})")
    cli_walkthrough(binary, berth.url, tmp_path, iam)
