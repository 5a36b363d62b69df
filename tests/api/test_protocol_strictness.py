"""Protocol strictness on the ECR API: what the signature must cover, what error messages may
repeat, how long a disabled key's registry tokens stay dead, and what PutImage checks in a
manifest's descriptors."""

from __future__ import annotations

import datetime
import json

import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ecr_content import OCI_LAYER, descriptor, make_image, push_blobs, put_image
from ecr_support import (ACCOUNT_ID, ADMIN_KEY, HTTP_TIMEOUT, JSON_11, REGION, TARGET_PREFIX,
                         FixedTimeSigV4Auth, basic, ecr_client, ecr_raw, expect_error, registry_password,
                         wait_until)


# ---------------------------------------------------------------------------------------------
# SigV4: X-Amz-Target and Content-Type must be signed

def _signed_without(url: str, body: dict, unsigned: dict, signed: dict) -> requests.Response:
    """Signs a request carrying only the `signed` headers (plus Host and X-Amz-Date), then adds
    `unsigned` headers, as an attacker replaying a captured request under another operation
    would."""
    data = json.dumps(body).encode()
    req = AWSRequest(method="POST", url=url + "/", data=data, headers=dict(signed))
    creds = Credentials(ADMIN_KEY.access_key_id, ADMIN_KEY.secret_access_key)
    FixedTimeSigV4Auth(creds, "ecr", REGION, datetime.datetime.utcnow()).add_auth(req)
    headers = {**dict(req.prepare().headers), **unsigned}
    headers.pop("Content-Length", None)
    return requests.post(url + "/", data=data, headers=headers, timeout=HTTP_TIMEOUT)


def _error_type(r: requests.Response) -> str:
    try:
        return r.json().get("__type", "").split("#")[-1]
    except ValueError:
        return ""


def test_sigv4_unsigned_target_cannot_be_replayed_as_another_operation(berth, ecr, repo):
    # Signed as if for CreateRepository, with X-Amz-Target left out of SignedHeaders; the body
    # {"repositoryName": ...} means the same to DeleteRepository.
    r = _signed_without(berth.url, {"repositoryName": repo},
                        unsigned={"X-Amz-Target": TARGET_PREFIX + "DeleteRepository"},
                        signed={"Content-Type": JSON_11})
    assert (r.status_code, _error_type(r)) == (400, "IncompleteSignatureException"), r.text
    assert "X-Amz-Target" in r.json()["message"], r.text
    names = [x["repositoryName"] for x in ecr.describe_repositories(repositoryNames=[repo])["repositories"]]
    assert names == [repo]


def test_sigv4_unsigned_content_type_is_refused(berth):
    r = _signed_without(berth.url, {}, unsigned={"Content-Type": JSON_11},
                        signed={"X-Amz-Target": TARGET_PREFIX + "DescribeRegistry"})
    assert (r.status_code, _error_type(r)) == (400, "IncompleteSignatureException"), r.text
    assert "Content-Type" in r.json()["message"], r.text


def test_sigv4_fully_signed_raw_request_still_works(berth):
    r = _signed_without(berth.url, {}, unsigned={},
                        signed={"Content-Type": JSON_11, "X-Amz-Target": TARGET_PREFIX + "DescribeRegistry"})
    assert r.status_code == 200, r.text
    assert r.json()["registryId"] == ACCOUNT_ID


# ---------------------------------------------------------------------------------------------
# Error messages never repeat the Authorization header

MARKER = "Zq9AuthorizationMarkerZq9"


@pytest.mark.parametrize("authorization", [
    MARKER,
    f"AWS4-HMAC-SHA256 Credential={ADMIN_KEY.access_key_id}/20260101/{REGION}/ecr/aws4_request, Signature={MARKER}",
    f"AWS4-HMAC-SHA256 Credential={ADMIN_KEY.access_key_id}/20260101/{REGION}/ecr/aws4_request, {MARKER}, "
    f"SignedHeaders=host, Signature=00",
    f"AWS4-HMAC-SHA256 Credential={MARKER}/x, SignedHeaders=host, Signature=00",
    f"AWS4-HMAC-SHA256 Credential=A/20260101/{REGION}/ecr/aws4_request, SignedHeaders=host;;{MARKER}, "
    f"Signature=00",
], ids=["no-algorithm", "no-signed-headers", "not-key-value", "bad-credential", "empty-header-name"])
def test_ecr_errors_never_echo_the_authorization_header(berth, authorization):
    def replace(headers, data):
        return {**headers, "Authorization": authorization}, data

    r = ecr_raw(berth.url, "DescribeRegistry", {}, after_signing=replace)
    assert r.status == 400, r.text
    assert MARKER not in r.text, r.text
    assert all(MARKER not in v for v in r.headers.values()), r.headers


def test_ecr_signature_mismatch_message_never_shows_a_signed_authorization(berth):
    """A client that lists Authorization among its signed headers would get it back inside the
    expected canonical request; such a list is refused instead."""
    def sign_authorization_too(headers, data):
        auth = headers["Authorization"]
        return {**headers, "Authorization": auth.replace("SignedHeaders=", "SignedHeaders=authorization;")}, data

    r = ecr_raw(berth.url, "DescribeRegistry", {}, after_signing=sign_authorization_too)
    assert (r.status, r.error_type) == (400, "IncompleteSignatureException"), r.text
    assert "Signature=" not in r.text, r.text


# ---------------------------------------------------------------------------------------------
# A disabled key's registry tokens stay dead when the key is enabled again

def _v2_status(url: str, password: str) -> int:
    return requests.get(url + "/v2/", headers={"Authorization": basic(password)}, timeout=30).status_code


def test_token_from_before_a_disable_stays_dead_after_re_enable(admin_cli):
    key = admin_cli.create_key(ACCOUNT_ID, "admin")
    client = ecr_client(admin_cli.url, key)
    old_password = registry_password(client)
    try:
        assert _v2_status(admin_cli.url, old_password) == 200
        admin_cli.admin("key", "disable", key.access_key_id)
        assert wait_until(lambda: _v2_status(admin_cli.url, old_password) == 401), \
            "a token of a disabled key still opens /v2"
        admin_cli.admin("key", "enable", key.access_key_id)
        assert wait_until(lambda: ecr_raw(admin_cli.url, "DescribeRegistry", {}, key).status == 200), \
            "the enabled key does not work again"
        # Longer than the server's identity recheck interval (1 s): the refusal is not a stale cache.
        assert not wait_until(lambda: _v2_status(admin_cli.url, old_password) != 401, timeout=2.5), \
            "a token issued before the disable works again after the enable"
        new_password = registry_password(client)
        assert _v2_status(admin_cli.url, new_password) == 200
        assert _v2_status(admin_cli.url, old_password) == 401
    finally:
        admin_cli.admin("key", "delete", key.access_key_id)


# ---------------------------------------------------------------------------------------------
# PutImage checks descriptor sizes and urls

def test_put_image_with_a_wrong_layer_size_is_refused(ecr, repo):
    image = make_image()
    push_blobs(ecr, repo, image)
    manifest = json.loads(image.manifest)
    manifest["layers"][0]["size"] += 1
    image.manifest = json.dumps(manifest).encode()
    e = expect_error("InvalidParameterException", put_image, ecr, repo, image, "v1")
    assert "size" in str(e), e
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []


def test_put_image_with_a_wrong_config_size_is_refused(ecr, repo):
    image = make_image()
    push_blobs(ecr, repo, image)
    manifest = json.loads(image.manifest)
    manifest["config"]["size"] -= 1
    image.manifest = json.dumps(manifest).encode()
    expect_error("InvalidParameterException", put_image, ecr, repo, image, "v1")


@pytest.mark.parametrize("media_type", [
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    OCI_LAYER,
])
def test_put_image_with_layer_urls_is_refused_by_default(ecr, repo, media_type):
    image = make_image()
    push_blobs(ecr, repo, image)
    manifest = json.loads(image.manifest)
    foreign = descriptor(media_type, b"foreign layer, stored elsewhere",
                         urls=["https://mcr.microsoft.com/v2/windows/blobs/x"])
    manifest["layers"].insert(0, foreign)
    image.manifest = json.dumps(manifest).encode()
    expect_error("InvalidParameterException", put_image, ecr, repo, image, "v1")
