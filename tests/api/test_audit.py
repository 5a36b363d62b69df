"""The audit trail (README "Audit log"): one JSON line per mutating call, denied call and login,
on both APIs, in ``<data-dir>/audit.log``; never a secret; read back by ``berth admin audit``."""

from __future__ import annotations

import json
import re
import signal

import pytest

from ecr_content import make_image, push_blobs, put_image
from ecr_support import (ACCOUNT_ID, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, AccessKey, V2, basic,
                         ecr_client, ecr_raw, expect_error, registry_password, unique, wait_until)

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def read_records(server) -> list[dict]:
    path = server.data_dir / "audit.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def find(records, **want) -> list[dict]:
    return [r for r in records if all(r.get(k) == v for k, v in want.items())]


def wait_for(server, **want) -> dict:
    """The first record with the fields ``want`` (the writer appends off the request path)."""
    found: list[dict] = []

    def seen() -> bool:
        found[:] = find(read_records(server), **want)
        return bool(found)

    assert wait_until(seen, timeout=10), f"no audit record with {want}; records: {read_records(server)}"
    return found[0]


@pytest.fixture
def audited(server_factory):
    return server_factory.start()


def test_audit_records_mutations_logins_and_denials_without_secrets(audited):
    server = audited
    ecr = ecr_client(server.url)
    repo = f"audit/{unique()}"
    ecr.create_repository(repositoryName=repo)
    created = wait_for(server, operation="CreateRepository", repository=repo)
    assert TIME.match(created["time"]), created
    assert created["api"] == "ecr"
    assert created["account"] == ACCOUNT_ID
    assert created["principal_arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{created['user']}"
    assert created["access_key_id"] == ADMIN_ACCESS_KEY_ID
    assert created["source"] == "127.0.0.1"
    assert created["result"] == "success" and created["status"] == 200
    assert created["request_id"]

    # ECR push (PutImage) with a tag: digest and tag in the record.
    image = make_image()
    push_blobs(ecr, repo, image)
    put_image(ecr, repo, image, tag="v1")
    put = wait_for(server, operation="PutImage", repository=repo)
    assert put["image_digests"] == [image.digest] and put["image_tags"] == ["v1"], put
    assert put["result"] == "success"
    # Layer uploads change state too.
    wait_for(server, operation="CompleteLayerUpload", repository=repo)

    # A read is not audited; the login is.
    ecr.describe_repositories(repositoryNames=[repo])
    password = registry_password(ecr)
    login = wait_for(server, operation="GetAuthorizationToken")
    assert login["result"] == "success" and login["access_key_id"] == ADMIN_ACCESS_KEY_ID

    # /v2 push of a manifest under a second tag, then its delete by digest.
    v2 = V2(server.url, password)
    other = make_image()
    push_blobs(ecr, repo, other)
    r = v2.request("PUT", f"/v2/{repo}/manifests/v2tag", data=other.manifest,
                   headers={"Content-Type": other.media_type})
    assert r.status_code == 201, r.text
    oci_put = wait_for(server, api="oci", operation="PutManifest", repository=repo)
    assert oci_put["image_digests"] == [other.digest] and oci_put["image_tags"] == ["v2tag"], oci_put
    assert oci_put["route"] == f"PUT /v2/{repo}/manifests/v2tag"
    assert oci_put["user"] and oci_put["access_key_id"] == ADMIN_ACCESS_KEY_ID
    r = v2.request("DELETE", f"/v2/{repo}/manifests/{other.digest}")
    assert r.status_code == 202, r.text
    oci_delete = wait_for(server, api="oci", operation="DeleteManifest", repository=repo)
    assert oci_delete["image_digests"] == [other.digest] and oci_delete["result"] == "success"

    # ECR delete, one that fails (nothing there), and a delete by tag.
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    deleted = wait_for(server, operation="BatchDeleteImage", repository=repo)
    assert deleted["image_tags"] == ["v1"] and image.digest in deleted["image_digests"], deleted
    expect_error("RepositoryNotFoundException", ecr.delete_repository, repositoryName=repo + "-missing")
    missing = wait_for(server, operation="DeleteRepository", repository=repo + "-missing")
    assert missing["result"] == "failure" and missing["error_code"] == "RepositoryNotFoundException"

    # Denied: a wrong secret (ECR), a user the access decision refuses (ECR), a wrong password (/v2).
    bad = ecr_raw(server.url, "DescribeRepositories", {}, secret_override="x" * 40)
    assert bad.status in (400, 403), bad.text
    refused = wait_for(server, operation="DescribeRepositories", result="denied")
    assert refused["access_key_id"] == ADMIN_ACCESS_KEY_ID and "account" not in refused
    assert refused["error_code"] in ("InvalidSignatureException", "UnrecognizedClientException"), refused

    server.admin("user", "create", "--account", ACCOUNT_ID, "--name", "bob")
    bob = server.create_key(ACCOUNT_ID, "bob")
    expect_error("AccessDeniedException", ecr_client(server.url, bob).put_image_tag_mutability,
                 repositoryName=repo, imageTagMutability="IMMUTABLE")
    denied = wait_for(server, operation="PutImageTagMutability", user="bob")
    assert denied["result"] == "denied" and denied["error_code"] == "AccessDeniedException"
    assert denied["repository"] == repo and denied["access_key_id"] == bob.access_key_id

    wrong_password = "A" + password[1:] if password[0] != "A" else "B" + password[1:]
    r = V2(server.url, wrong_password).request("GET", f"/v2/{repo}/tags/list")
    assert r.status_code == 401
    v2_denied = wait_for(server, api="oci", operation="ListTags", result="denied")
    assert v2_denied["status"] == 401 and v2_denied["repository"] == repo

    # The protocol's anonymous challenge is not a denial.
    anonymous = V2(server.url, None).request("GET", "/v2/")
    assert anonymous.status_code == 401
    before = len(read_records(server))
    ecr.describe_repositories(repositoryNames=[repo])  # a read: no record either
    ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="MUTABLE")
    wait_for(server, operation="PutImageTagMutability", result="success")
    assert len(read_records(server)) == before + 1, read_records(server)[before:]
    assert not find(read_records(server), operation="Base")

    # No secret anywhere: the secret keys, the registry token, a Basic header, a signature.
    text = (server.data_dir / "audit.log").read_text()
    for secret in (ADMIN_SECRET_ACCESS_KEY, bob.secret_access_key, password, wrong_password,
                   basic(password).split()[1], "Signature=", "AWS4-HMAC-SHA256", "Basic "):
        assert secret not in text, f"the audit log holds a secret ({secret[:6]}...)"


def test_audit_records_iam_changes_and_denials_but_not_reads_or_secrets(audited):
    """IAM over the Query protocol is audited like ECR: a change names the IAM user it acted on,
    a refused caller is "denied", reads (GetUser, ListUsers, sts GetCallerIdentity) are not
    recorded, and the secret CreateAccessKey returns never reaches the log."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    def client(service: str, key: AccessKey):
        return boto3.client(service, endpoint_url=audited.url, region_name="us-east-1",
                            aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key,
                            config=Config(retries={"max_attempts": 1}))

    admin = AccessKey(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY)
    iam = client("iam", admin)
    name = f"audited-{unique()}"
    iam.create_user(UserName=name)
    created = wait_for(audited, api="iam", operation="CreateUser")
    assert created["iam_user"] == name and created["result"] == "success", created
    assert created["access_key_id"] == ADMIN_ACCESS_KEY_ID and created["account"] == ACCOUNT_ID
    new_key = iam.create_access_key(UserName=name)["AccessKey"]
    wait_for(audited, api="iam", operation="CreateAccessKey", iam_user=name)

    before = len(read_records(audited))
    iam.get_user(UserName=name)
    iam.list_users()
    client("sts", admin).get_caller_identity()
    iam.put_user_policy(UserName=name, PolicyName="none", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ecr:*", "Resource": "*"}]}))
    wait_for(audited, api="iam", operation="PutUserPolicy", iam_user=name)
    assert [r["operation"] for r in read_records(audited)[before:]] == ["PutUserPolicy"], \
        "reads are not audited"

    plain = client("iam", AccessKey(new_key["AccessKeyId"], new_key["SecretAccessKey"]))
    with pytest.raises(ClientError) as info:
        plain.create_user(UserName=f"not-{unique()}")
    assert info.value.response["Error"]["Code"] == "AccessDenied"
    denied = wait_for(audited, api="iam", operation="CreateUser", result="denied")
    assert denied["user"] == name and denied["error_code"] == "AccessDenied", denied

    text = (audited.data_dir / "audit.log").read_text()
    assert new_key["SecretAccessKey"] not in text and ADMIN_SECRET_ACCESS_KEY not in text


def test_admin_audit_reads_back_filtered_oldest_first(audited):
    server = audited
    ecr = ecr_client(server.url)
    repo_a, repo_b = f"audit/a-{unique()}", f"audit/b-{unique()}"
    for name in (repo_a, repo_b, repo_a + "-x"):
        ecr.create_repository(repositoryName=name)
    wait_for(server, operation="CreateRepository", repository=repo_a + "-x")

    out = server.admin("audit", "--repository", repo_a).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["repository"] for r in lines] == [repo_a], out

    everything = [json.loads(line) for line in server.admin("audit").stdout.splitlines()]
    times = [r["time"] for r in everything]
    assert times == sorted(times) and len(everything) >= 3
    assert [r["repository"] for r in everything if r["operation"] == "CreateRepository"] == \
        [repo_a, repo_b, repo_a + "-x"]

    assert server.admin("audit", "--account", "999999999999").stdout == ""
    assert len(server.admin("audit", "--account", ACCOUNT_ID).stdout.splitlines()) == len(everything)
    assert server.admin("audit", "--since", "2999-01-01T00:00:00Z").stdout == ""
    assert len(server.admin("audit", "--since", "1h").stdout.splitlines()) == len(everything)
    assert server.admin("audit", "--since", "yesterday", check=False).returncode == 1


def test_audit_log_off_and_elsewhere(server_factory, tmp_path):
    elsewhere = tmp_path / "trail" / "audit.jsonl"
    elsewhere.parent.mkdir()
    server = server_factory.start(config={"audit": "{log: " + str(elsewhere) + "}"})
    ecr_client(server.url).create_repository(repositoryName=f"audit/{unique()}")
    assert wait_until(lambda: elsewhere.exists() and "CreateRepository" in elsewhere.read_text(), timeout=10)
    assert not (server.data_dir / "audit.log").exists()
    assert (elsewhere.stat().st_mode & 0o777) == 0o600

    off = server_factory.start(extra_args=["--audit-log", "off"])
    ecr_client(off.url).create_repository(repositoryName=f"audit/{unique()}")
    off.stop()
    assert not (off.data_dir / "audit.log").exists()
    assert off.admin("audit", check=False).returncode == 1


def test_audit_log_reopened_on_sighup_after_rotation(audited):
    """logrotate's ``mv audit.log audit.log.1; kill -HUP``: records before the signal stay in the
    moved file, later ones go to a new audit.log; each is in exactly one of the two."""
    server = audited
    ecr = ecr_client(server.url)
    repo = f"audit/rotate-{unique()}"
    ecr.create_repository(repositoryName=repo)
    before, after = make_image(), make_image()
    push_blobs(ecr, repo, before)
    put_image(ecr, repo, before, tag="before")
    wait_for(server, operation="PutImage", repository=repo)

    live, rotated = server.data_dir / "audit.log", server.data_dir / "audit.log.1"
    live.rename(rotated)
    server.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: "reopened the audit log" in server.log_text(), timeout=10), server.log_tail()
    assert live.exists() and (live.stat().st_mode & 0o777) == 0o600

    push_blobs(ecr, repo, after)
    put_image(ecr, repo, after, tag="after")
    pushed_after = wait_for(server, operation="PutImage", repository=repo)  # reads the new audit.log
    assert pushed_after["image_digests"] == [after.digest], pushed_after

    old_records = [json.loads(line) for line in rotated.read_text().splitlines()]  # each line parses
    new_records = [json.loads(line) for line in live.read_text().splitlines()]
    puts_old = find(old_records, operation="PutImage", repository=repo)
    assert [r["image_digests"] for r in puts_old] == [[before.digest]], puts_old
    assert find(new_records, operation="PutImage", repository=repo) == [pushed_after]
    assert find(old_records, operation="CreateRepository", repository=repo)
    assert not find(new_records, operation="CreateRepository", repository=repo)
    ids_old, ids_new = {r["request_id"] for r in old_records}, {r["request_id"] for r in new_records}
    assert not ids_old & ids_new, "a record was written to both files"
