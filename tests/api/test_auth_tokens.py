"""GetAuthorizationToken and the credentials around it (reference §1.8, §3.9, §8.5): the token
format, its use on /v2, its expiry and revocation, the bootstrap admin credentials file, and the
operator's key commands."""

from __future__ import annotations

import base64
import configparser
import datetime
import stat
import time

import requests

from ecr_content import push_image
from ecr_support import (ACCOUNT_ID, ADMIN_KEY, OTHER_ACCOUNT_ID, AccessKey, V2, basic, ecr_client, ecr_raw,
                         expect_error, registry_password, wait_until)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _v2_status(url: str, password: str, path: str = "/v2/") -> int:
    return requests.get(url + path, headers={"Authorization": basic(password)}, timeout=30).status_code


# README (First steps): "disabling or deleting the key revokes them within a second". The bound
# is checked with a small margin for the requests themselves, with berth's real recheck interval.
REVOCATION_BOUND = 1.5


def _all_true_within(bound: float, since: float, checks: dict) -> None:
    """Polls every check until all hold; fails unless they all held by ``since + bound``
    (``since``: time.monotonic() when the change was made)."""
    pending = dict(checks)
    while pending:
        for name, check in list(pending.items()):
            if check():
                del pending[name]
        if pending and time.monotonic() > since + bound:
            raise AssertionError(f"still not true {bound} s after the change: {', '.join(pending)}")
        time.sleep(0.05)


def _key_works(url: str, key: AccessKey, password: str) -> None:
    """Uses the key on both APIs, so that berth has it cached when the operator changes it."""
    assert ecr_raw(url, "DescribeRegistry", {}, key).status == 200
    assert _v2_status(url, password) == 200


# ---------------------------------------------------------------------------------------------
# The token

def test_get_authorization_token_format(ecr, berth):
    data = ecr.get_authorization_token()["authorizationData"]
    assert len(data) == 1
    entry = data[0]
    decoded = base64.b64decode(entry["authorizationToken"], validate=True).decode()
    user, sep, password = decoded.partition(":")
    assert (user, sep) == ("AWS", ":")
    assert password and ":" not in password, "aws ecr get-login-password splits at ':'"
    assert not any(c.isspace() for c in entry["authorizationToken"])
    lifetime = (entry["expiresAt"] - _now()).total_seconds()
    assert abs(lifetime - 12 * 3600) < 300, f"token lifetime {lifetime}s, expected 12 h"
    proxy = entry["proxyEndpoint"]
    assert proxy.startswith(("http://", "https://")) and not proxy.endswith("/")
    repository = ecr.describe_repositories()["repositories"]
    if repository:
        # The endpoint docker logs in to is where the repository URIs point.
        assert repository[0]["repositoryUri"].startswith(proxy.split("://", 1)[1] + "/")


def test_get_authorization_token_opens_v2(ecr, berth, repo):
    image = push_image(ecr, repo, "v1")
    v2 = V2(berth.url, registry_password(ecr))
    r = v2.request("GET", "/v2/")
    assert r.status_code == 200
    assert r.headers.get("Docker-Distribution-API-Version") == "registry/2.0"
    catalog = v2.request("GET", "/v2/_catalog?n=10000").json()["repositories"]
    assert repo in catalog
    assert v2.request("GET", f"/v2/{repo}/tags/list").json()["tags"] == ["v1"]
    r = v2.request("HEAD", f"/v2/{repo}/manifests/v1", headers={"Accept": image.media_type})
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == image.digest


def test_get_authorization_token_tokens_are_independent(ecr, berth):
    first, second = registry_password(ecr), registry_password(ecr)
    assert _v2_status(berth.url, first) == 200
    assert _v2_status(berth.url, second) == 200


def test_get_authorization_token_for_own_registry_id(ecr):
    data = ecr.get_authorization_token(registryIds=[ACCOUNT_ID])["authorizationData"]
    assert len(data) == 1
    assert base64.b64decode(data[0]["authorizationToken"]).startswith(b"AWS:")


def test_get_authorization_token_rejects_malformed_registry_id(ecr):
    expect_error("InvalidParameterException", ecr.get_authorization_token, registryIds=["12345"])


def test_get_authorization_token_refuses_foreign_registry_id(server_factory):
    server = server_factory.start()
    r = ecr_raw(server.url, "GetAuthorizationToken", {"registryIds": ["999999999999"]})
    assert server.proc.poll() is None, f"berth died:\n{server.log_tail(5)}"
    assert r.status == 400 and r.error_type in ("InvalidParameterException", "AccessDeniedException"), r.text


def test_v2_without_credentials_is_challenged(berth):
    r = requests.get(berth.url + "/v2/", timeout=30)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_v2_rejects_token_with_other_user_name(berth, registry_pw):
    # ECR tokens decode to "AWS:<password>"; anything else is not an ECR login.
    r = requests.get(berth.url + "/v2/", headers={"Authorization": basic(registry_pw, user="admin")}, timeout=30)
    assert r.status_code == 401


def test_v2_rejects_tampered_token(berth, registry_pw):
    for i in (5, len(registry_pw) // 2, len(registry_pw) - 2):
        bad = registry_pw[:i] + ("A" if registry_pw[i] != "A" else "B") + registry_pw[i + 1:]
        assert _v2_status(berth.url, bad) == 401, f"token changed at {i} was accepted"


def test_get_authorization_token_expires(server_factory):
    server = server_factory.start(config={"token-ttl": "2s"})
    client = ecr_client(server.url)
    entry = client.get_authorization_token()["authorizationData"][0]
    assert (entry["expiresAt"] - _now()).total_seconds() < 10
    password = base64.b64decode(entry["authorizationToken"]).decode().partition(":")[2]
    assert _v2_status(server.url, password) == 200
    assert wait_until(lambda: _v2_status(server.url, password) == 401, timeout=6, interval=0.25), \
        "a token past its expiresAt still opens /v2"
    r = requests.get(server.url + "/v2/", headers={"Authorization": basic(password)}, timeout=30)
    assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert _v2_status(server.url, registry_password(client)) == 200, "a fresh token works again"


# ---------------------------------------------------------------------------------------------
# Bootstrap credentials

def test_admin_credentials_file_written_without_environment(server_factory):
    server = server_factory.start(admin_env=False)
    path = server.data_dir / "admin.credentials"
    assert path.exists(), f"no {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parser = configparser.ConfigParser()
    parser.read(path)
    assert parser.sections() == ["default"]
    key = AccessKey(parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"])
    assert len(key.secret_access_key) >= 40
    client = ecr_client(server.url, key)
    client.create_repository(repositoryName="boot/strap")
    assert _v2_status(server.url, registry_password(client)) == 200
    assert key.secret_access_key not in server.log_text(), "the secret must not be logged"
    # A restart on the same data keeps the key and does not mint a new one.
    content = path.read_bytes()
    server.stop()
    server.start()
    assert path.read_bytes() == content
    assert [r["repositoryName"] for r in ecr_client(server.url, key).describe_repositories()["repositories"]] == [
        "boot/strap"]


def test_admin_environment_key_is_not_logged(berth, ecr):
    ecr.describe_registry()
    assert ADMIN_KEY.secret_access_key not in berth.log_text()


def test_wrong_secret_for_admin_key_is_refused(berth):
    wrong = AccessKey(ADMIN_KEY.access_key_id, "x" * 40)
    expect_error("InvalidSignatureException", ecr_client(berth.url, wrong).describe_registry)


# ---------------------------------------------------------------------------------------------
# Operator key commands

def test_key_list_never_shows_secrets(admin_cli):
    key = admin_cli.create_key(ACCOUNT_ID, "admin")
    listing = admin_cli.admin("key", "list").stdout
    assert key.access_key_id in listing
    assert key.secret_access_key not in listing
    assert ADMIN_KEY.access_key_id in listing and ADMIN_KEY.secret_access_key not in listing
    admin_cli.admin("key", "delete", key.access_key_id)
    assert key.access_key_id not in admin_cli.admin("key", "list").stdout


def test_key_create_gives_working_credentials(admin_cli):
    key = admin_cli.create_key(ACCOUNT_ID, "admin")
    try:
        assert ecr_client(admin_cli.url, key).describe_registry()["registryId"] == ACCOUNT_ID
    finally:
        admin_cli.admin("key", "delete", key.access_key_id)


def test_key_disable_and_enable(admin_cli):
    key = admin_cli.create_key(ACCOUNT_ID, "admin")
    client = ecr_client(admin_cli.url, key)
    password = registry_password(client)
    try:
        _key_works(admin_cli.url, key, password)
        admin_cli.admin("key", "disable", key.access_key_id)
        disabled_at = time.monotonic()
        _all_true_within(REVOCATION_BOUND, disabled_at, {
            "a disabled key still signs ECR requests":
                lambda: ecr_raw(admin_cli.url, "DescribeRegistry", {}, key).error_type == "UnrecognizedClientException",
            "a token of a disabled key still opens /v2": lambda: _v2_status(admin_cli.url, password) == 401,
        })
        r = ecr_raw(admin_cli.url, "DescribeRegistry", {}, key)
        assert r.status == 400
        admin_cli.admin("key", "enable", key.access_key_id)
        _all_true_within(REVOCATION_BOUND, time.monotonic(), {
            "an enabled key does not work again": lambda: ecr_raw(admin_cli.url, "DescribeRegistry", {}, key).status == 200,
        })
    finally:
        admin_cli.admin("key", "delete", key.access_key_id)


def test_key_delete_revokes_key_and_its_tokens(admin_cli):
    key = admin_cli.create_key(ACCOUNT_ID, "admin")
    password = registry_password(ecr_client(admin_cli.url, key))
    _key_works(admin_cli.url, key, password)
    admin_cli.admin("key", "delete", key.access_key_id)
    _all_true_within(REVOCATION_BOUND, time.monotonic(), {
        "a deleted key's token still opens /v2": lambda: _v2_status(admin_cli.url, password) == 401,
        "a deleted key still signs ECR requests":
            lambda: ecr_raw(admin_cli.url, "DescribeRegistry", {}, key).error_type == "UnrecognizedClientException",
    })
    r = ecr_raw(admin_cli.url, "GetAuthorizationToken", {}, key)
    assert (r.status, r.error_type) == (400, "UnrecognizedClientException"), r.text


def test_other_account_token_sees_only_its_own_registry(admin_cli, other_account, ecr, repo):
    push_image(ecr, repo, "v1")
    other = ecr_client(admin_cli.url, other_account)
    entry = other.get_authorization_token()["authorizationData"][0]
    password = base64.b64decode(entry["authorizationToken"]).decode().partition(":")[2]
    v2 = V2(admin_cli.url, password)
    assert v2.request("GET", "/v2/").status_code == 200
    assert repo not in v2.request("GET", "/v2/_catalog?n=10000").json().get("repositories", [])
    r = v2.request("GET", f"/v2/{repo}/tags/list")
    assert r.status_code in (401, 403, 404), r.status_code
    assert other.describe_registry()["registryId"] == OTHER_ACCOUNT_ID
