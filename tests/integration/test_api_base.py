"""The version check endpoint and authentication on the Distribution API."""

import pytest
import requests

import harness
from content import ACCEPT_MANIFESTS, assert_error, describe, make_image, push_image
from harness import run_tool


def test_base_v2_answers_200_with_api_version_header(registry):
    r = registry.get("/v2/")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Docker-Distribution-API-Version") == "registry/2.0", describe(r)


def test_base_unknown_api_path_returns_404(registry):
    r = registry.get("/v3/")
    assert r.status_code == 404, describe(r)


def test_auth_missing_credentials_answer_401_with_basic_challenge(registry):
    registry.require_auth()
    r = requests.get(registry.url + "/v2/", timeout=30, verify=registry.verify)
    assert r.status_code == 401, describe(r)
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("basic realm="), describe(r)
    assert r.headers.get("Docker-Distribution-API-Version") == "registry/2.0", describe(r)


def test_auth_wrong_password_is_refused(registry, repo):
    registry.require_auth()
    r = registry.get(f"/v2/{repo}/tags/list", auth=("AWS", "not-the-password"))
    assert_error(r, 401, "UNAUTHORIZED")


def test_auth_protects_repository_routes(registry, repo):
    registry.require_auth()
    r = registry.post(f"/v2/{repo}/blobs/uploads/", auth=None)
    assert_error(r, 401, "UNAUTHORIZED")


def test_auth_unauthenticated_pull_answers_401_with_challenge(registry, repo):
    registry.require_auth()
    manifest = make_image()
    push_image(registry, repo, manifest, ref="v1")
    r = registry.get(f"/v2/{repo}/manifests/v1", auth=None, headers={"Accept": ACCEPT_MANIFESTS})
    assert_error(r, 401, "UNAUTHORIZED")
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("basic"), describe(r)
    assert registry.get(f"/v2/{repo}/blobs/{manifest.blobs[0].digest}", auth=None).status_code == 401


def test_auth_token_request_with_a_wrong_secret_is_refused(registry):
    registry.require_auth()
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client("ecr", endpoint_url=registry.url, region_name=harness.AWS_REGION,
                          aws_access_key_id=harness.ADMIN_ACCESS_KEY_ID,
                          aws_secret_access_key="x" * 40, verify=registry.verify)
    with pytest.raises(ClientError) as info:
        client.get_authorization_token()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403), info.value.response


def test_auth_skopeo_without_credentials_is_refused(registry, repo, busybox_layout):
    registry.require_auth()
    failed = run_tool(["skopeo", "copy", "--retry-times", "0", "--dest-tls-verify=false", "--dest-no-creds",
                       busybox_layout["busybox"].oci_ref, f"docker://{registry.host}/{repo}:v1"], check=False)
    assert failed.returncode != 0
    assert "unauthorized" in failed.stderr.lower() or "authentication required" in failed.stderr.lower(), \
        failed.stderr
    assert registry.get(f"/v2/{repo}/tags/list").status_code == 404
