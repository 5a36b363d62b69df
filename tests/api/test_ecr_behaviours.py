"""Behaviour ECR users rely on beyond the operations' happy paths: the words of an expired token,
the expected region in a signature error, PutImage media types, lastEvaluatedAt, presigned layer
URLs fetched by plain curl, sub-second push times, the bootstrap AWS config file, and what the
access log says about each call."""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import requests

from ecr_content import make_image, push_blobs, push_image, put_image, sha256
from ecr_support import (ACCOUNT_ID, ADMIN_KEY, REGION, AccessKey, basic, ecr_client, ecr_raw, expect_error,
                         registry_password, unique, wait_until)

EXPIRED_MESSAGE = "Your authorization token has expired. Reauthenticate and try again."
AWS_V2 = "/usr/bin/aws"


def log_records(server) -> list[dict]:
    out = []
    for line in server.log_text().splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def request_records(server, **match) -> list[dict]:
    return [r for r in log_records(server)
            if r.get("msg") == "request" and all(r.get(k) == v for k, v in match.items())]


def request_records_eventually(server, ok=bool, timeout: float = 5, **match) -> list[dict]:
    """request_records once `ok` holds for them, or as they are after `timeout` seconds: an
    access-log line is written after its answer has gone out."""
    records: list[dict] = []

    def found() -> bool:
        nonlocal records
        records = request_records(server, **match)
        return ok(records)

    wait_until(found, timeout=timeout, interval=0.1)
    return records


# ---------------------------------------------------------------------------------------------
# Registry tokens

def test_expired_token_gets_ecr_message_and_the_reason_is_logged(server_factory):
    server = server_factory.start(config={"token-ttl": "2s"})
    password = registry_password(ecr_client(server.url))
    headers = {"Authorization": basic(password)}
    assert requests.get(server.url + "/v2/", headers=headers, timeout=30).status_code == 200
    assert wait_until(lambda: requests.get(server.url + "/v2/", headers=headers, timeout=30).status_code == 401,
                      timeout=8, interval=0.25)
    r = requests.get(server.url + "/v2/_catalog", headers=headers, timeout=30)
    assert r.status_code == 401
    assert r.json()["errors"][0]["message"] == EXPIRED_MESSAGE, r.text
    assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
    # The access-log line is written after the answer has gone out: wait for it.
    assert wait_until(lambda: request_records(server, path="/v2/_catalog", status=401), timeout=5, interval=0.1)
    refused = request_records(server, path="/v2/_catalog", status=401)
    assert refused[-1].get("auth_error") == "registry token expired", refused
    assert password not in server.log_text(), "the token must never be logged"


def test_revoked_token_gets_ecr_message(server_factory):
    server = server_factory.start()
    key = server.create_key(ACCOUNT_ID, "admin")
    password = registry_password(ecr_client(server.url, key))
    headers = {"Authorization": basic(password)}
    assert requests.get(server.url + "/v2/", headers=headers, timeout=30).status_code == 200
    server.admin("key", "disable", key.access_key_id)
    assert wait_until(lambda: requests.get(server.url + "/v2/", headers=headers, timeout=30).status_code == 401,
                      timeout=6, interval=0.25)
    r = requests.get(server.url + "/v2/", headers=headers, timeout=30)
    assert r.json()["errors"][0]["message"] == EXPIRED_MESSAGE, r.text
    assert wait_until(lambda: any(rec.get("auth_error") == "the token's access key is disabled or deleted"
                                  for rec in request_records(server, path="/v2/", status=401)),
                      timeout=5, interval=0.1)


def test_bad_token_is_not_called_expired(berth):
    r = requests.get(berth.url + "/v2/", headers={"Authorization": basic("not-a-token")}, timeout=30)
    assert r.status_code == 401
    assert r.json()["errors"][0]["message"] != EXPIRED_MESSAGE


# ---------------------------------------------------------------------------------------------
# SigV4

def test_wrong_region_error_names_the_expected_region(berth):
    err = expect_error("InvalidSignatureException", ecr_client(berth.url, region="eu-west-1").describe_registry)
    message = err.response["Error"]["Message"]
    assert "eu-west-1" in message and f"'{REGION}'" in message, message


# ---------------------------------------------------------------------------------------------
# PutImage media types

@pytest.mark.parametrize("kind", ["docker", "oci"])
def test_put_image_without_media_type_field_takes_the_parameter(ecr, repo, kind):
    image = make_image(kind, include_media_type=False)
    assert "mediaType" not in json.loads(image.manifest)
    push_blobs(ecr, repo, image)
    result = put_image(ecr, repo, image, "v1", send_media_type=True)
    assert result["imageManifestMediaType"] == image.media_type
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])["images"]
    assert got[0]["imageManifest"].encode() == image.manifest
    assert got[0]["imageManifestMediaType"] == image.media_type


def test_put_image_with_no_media_type_anywhere_has_ecr_message(ecr, repo):
    image = make_image("docker", include_media_type=False)
    push_blobs(ecr, repo, image)
    err = expect_error("InvalidParameterException", put_image, ecr, repo, image, "v1", send_media_type=False)
    assert err.response["Error"]["Message"] == (
        "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'")


# ---------------------------------------------------------------------------------------------
# Lifecycle policy responses

POLICY = json.dumps({"rules": [{"rulePriority": 1, "description": "keep ten",
                                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                              "countNumber": 10},
                                "action": {"type": "expire"}}]})


def test_get_and_delete_lifecycle_policy_carry_last_evaluated_at(berth, ecr, repo):
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=POLICY)
    got = ecr_raw(berth.url, "GetLifecyclePolicy", {"repositoryName": repo})
    assert got.status == 200 and "lastEvaluatedAt" in got.body, got.text
    assert isinstance(got.body["lastEvaluatedAt"], (int, float))
    deleted = ecr_raw(berth.url, "DeleteLifecyclePolicy", {"repositoryName": repo})
    assert deleted.status == 200 and "lastEvaluatedAt" in deleted.body, deleted.text
    assert deleted.body["lifecyclePolicyText"] == POLICY


# ---------------------------------------------------------------------------------------------
# Push times

def test_image_pushed_at_has_sub_second_precision(berth, ecr, repo):
    for i in range(5):
        push_image(ecr, repo, f"t{i}")
    details = ecr_raw(berth.url, "DescribeImages", {"repositoryName": repo}).body["imageDetails"]
    stamps = [d["imagePushedAt"] for d in details]
    assert len(stamps) == 5
    # Five pushes all landing on whole seconds has odds of 1e-15 with millisecond times.
    assert any(s != int(s) for s in stamps), stamps


# ---------------------------------------------------------------------------------------------
# GetDownloadUrlForLayer: a presigned URL

def curl(url: str, out: Path) -> int:
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    proc = subprocess.run(["curl", "-sS", "-g", "-o", str(out), "-w", "%{http_code}", url],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


def test_download_url_works_with_plain_curl_and_no_credentials(ecr, repo, tmp_path):
    image = push_image(ecr, repo, "v1", layers=2)
    for layer in image.layers:
        url = ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=sha256(layer))["downloadUrl"]
        out = tmp_path / "layer"
        assert curl(url, out) == 200, out.read_bytes()[:300]
        assert "sha256:" + hashlib.sha256(out.read_bytes()).hexdigest() == sha256(layer)


def test_download_url_is_bound_to_its_layer_and_tamper_evident(ecr, repo, tmp_path):
    image = push_image(ecr, repo, "v1", layers=2)
    first, second = image.layer_digests
    url = ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=first)["downloadUrl"]
    out = tmp_path / "body"
    # The same signature on another layer's path.
    assert curl(url.replace(first, second), out) == 403
    assert b"DENIED" in out.read_bytes()
    # Any signed field altered.
    base, _, query = url.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    for field, value in [("X-Berth-Expires", str(int(params["X-Berth-Expires"]) + 86400)),
                         ("X-Berth-Account", "111111111111"),
                         ("X-Berth-Signature", params["X-Berth-Signature"][:-1] +
                          ("0" if params["X-Berth-Signature"][-1] != "0" else "1"))]:
        altered = "&".join(f"{k}={value if k == field else v}" for k, v in params.items())
        assert curl(f"{base}?{altered}", out) == 403, field
    # Without the signature it is an ordinary unauthenticated request.
    assert curl(base, out) == 401


def test_download_url_stops_working_when_its_key_is_disabled(server_factory, tmp_path):
    server = server_factory.start()
    key = server.create_key(ACCOUNT_ID, "admin")
    client = ecr_client(server.url, key)
    repo = f"api/dl-{unique()}"
    client.create_repository(repositoryName=repo)
    image = push_image(client, repo, "v1")
    url = client.get_download_url_for_layer(repositoryName=repo, layerDigest=image.layer_digests[0])["downloadUrl"]
    out = tmp_path / "body"
    assert curl(url, out) == 200
    server.admin("key", "disable", key.access_key_id)
    assert wait_until(lambda: curl(url, out) == 403, timeout=6, interval=0.25)


# ---------------------------------------------------------------------------------------------
# Bootstrap AWS files

def test_admin_config_file_carries_the_region_for_the_aws_cli(server_factory, tmp_path):
    server = server_factory.start(admin_env=False)
    credentials, config = server.data_dir / "admin.credentials", server.data_dir / "admin.config"
    assert config.exists(), f"no {config}"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    parser = configparser.ConfigParser()
    parser.read(config)
    assert parser["default"]["region"] == REGION
    if not Path(AWS_V2).exists():
        pytest.skip(f"{AWS_V2} is not installed")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
           "AWS_CONFIG_FILE": str(config), "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true"}
    out = subprocess.run([AWS_V2, "ecr", "describe-repositories", "--endpoint-url", server.url, "--output", "json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["repositories"] == []


def test_aws_endpoint_url_ecr_as_the_readme_says(berth, tmp_path):
    """README: CLI v1 (from 1.29) honours AWS_ENDPOINT_URL_ECR; Debian's CLI v2.9 does not."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": ADMIN_KEY.access_key_id,
           "AWS_SECRET_ACCESS_KEY": ADMIN_KEY.secret_access_key, "AWS_DEFAULT_REGION": REGION,
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": "",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_ECR": berth.url, "AWS_MAX_ATTEMPTS": "1",
           "AWS_RETRY_MODE": "standard"}
    v1 = shutil.which("aws")
    checked = 0
    if v1 and Path(v1).resolve() != Path(AWS_V2).resolve():
        version = subprocess.run([v1, "--version"], capture_output=True, text=True, env=env, timeout=60)
        if (version.stdout + version.stderr).startswith("aws-cli/1."):
            out = subprocess.run([v1, "ecr", "describe-registry", "--output", "json"], capture_output=True,
                                 text=True, env=env, timeout=120)
            assert out.returncode == 0, out.stderr
            assert json.loads(out.stdout)["registryId"] == ACCOUNT_ID
            checked += 1
    if Path(AWS_V2).exists():
        version = subprocess.run([AWS_V2, "--version"], capture_output=True, text=True, env=env, timeout=60)
        if (version.stdout + version.stderr).startswith("aws-cli/2.9."):
            out = subprocess.run([AWS_V2, "ecr", "describe-registry", "--output", "json", "--cli-connect-timeout",
                                  "2", "--cli-read-timeout", "2"], capture_output=True, text=True, env=env,
                                 timeout=120)
            assert out.returncode != 0, "CLI 2.9 honoured AWS_ENDPOINT_URL_ECR after all: fix the README"
            checked += 1
    if not checked:
        pytest.skip("neither a CLI v1 nor Debian's CLI v2.9 is here")


# ---------------------------------------------------------------------------------------------
# The access log

def test_access_log_names_operation_error_principal_and_account(berth, ecr):
    missing = f"api/missing-{unique()}"
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[missing])
    lines = request_records_eventually(berth, operation="DescribeRepositories", error_code="RepositoryNotFoundException")
    assert lines, "no access-log line names the operation and its error"
    line = lines[-1]
    assert line["user"] == "admin" and line["account"] == ACCOUNT_ID
    assert line["user_arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/admin"
    assert line["principal"] == ADMIN_KEY.access_key_id
    ecr.describe_registry()
    ok = request_records_eventually(berth, ok=lambda recs: any(r["status"] == 200 for r in recs),
                                    operation="DescribeRegistry")
    ok = [r for r in ok if r["status"] == 200]
    assert ok and "error_code" not in ok[-1] and ok[-1]["status"] == 200


def test_access_log_of_a_failed_signature_names_the_claimed_key(berth):
    claimed = AccessKey("BKIACLAIMEDBUTWRONG0", "y" * 40)
    r = ecr_raw(berth.url, "DescribeRegistry", {}, key=claimed)
    assert r.status == 400 and r.error_type == "UnrecognizedClientException", r.text
    wrong = ecr_raw(berth.url, "DescribeRegistry", {}, secret_override="z" * 40)
    assert wrong.error_type == "InvalidSignatureException", wrong.text
    def claims(key_id):
        return lambda recs: any(line.get("claimed_access_key_id") == key_id for line in recs)

    lines = request_records_eventually(berth, ok=claims(claimed.access_key_id),
                                       operation="DescribeRegistry", error_code="UnrecognizedClientException")
    assert claims(claimed.access_key_id)(lines), lines[-3:]
    lines = request_records_eventually(berth, ok=claims(ADMIN_KEY.access_key_id),
                                       operation="DescribeRegistry", error_code="InvalidSignatureException")
    assert claims(ADMIN_KEY.access_key_id)(lines), lines[-3:]
    assert "z" * 40 not in berth.log_text() and "y" * 40 not in berth.log_text()
