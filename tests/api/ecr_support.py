"""Process and client plumbing for berth's black-box ECR API tests.

Everything here talks to a real ``berth serve`` over loopback: the process itself
(``BerthServer``), boto3 clients, the operator CLI (``berth admin``), the /v2 side with the
Basic credentials that GetAuthorizationToken hands out, and raw SigV4 requests signed by
botocore's own signer (for cases a normal client never produces: no signature, a wrong
secret, a stale clock).
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import boto3
import requests
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from support import server as support_server
from support.binaries import BERTH_BIN, REPO_ROOT  # noqa: F401  (re-exported for the tests)
from support.binaries import private_berth_copy as berth_binary
from support.ports import free_port  # noqa: F401
from support.tools import redact, run_tool  # noqa: F401

ADMIN_ACCESS_KEY_ID = "BKIATESTADMIN0000000"
ADMIN_SECRET_ACCESS_KEY = "berthApiTestAdminSecret00000000000000000"
assert len(ADMIN_SECRET_ACCESS_KEY) == 40
ACCOUNT_ID = "000000000000"
REGION = "us-east-1"
OTHER_ACCOUNT_ID = "111111111111"
TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
JSON_11 = "application/x-amz-json-1.1"

HTTP_TIMEOUT = 60


def unique(n: int = 8) -> str:
    return uuid.uuid4().hex[:n]


# ---------------------------------------------------------------------------------------------
# The server process

class BerthServer(support_server.ServerProcess):
    """One ``berth serve`` (a private copy of the binary) with the suite's admin key, unless
    ``admin_env=False``; ``start()`` returns once ``GET /v2/`` answers 401. The log is
    ``berth.log`` in the work directory."""

    def __init__(self, workdir: Path, name: str = "berth", admin_env: bool = True,
                 config: Optional[dict] = None, extra_args: Iterable[str] = ()):
        super().__init__(workdir, name=name,
                         admin_credentials=(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY) if admin_env else None,
                         config=config, extra_args=extra_args, binary=berth_binary, ready_statuses=(401,),
                         log_name="berth.log")

    # -- operator commands -----------------------------------------------------------------

    def admin(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``berth admin --data-dir DIR ARGS...`` against this server's data directory."""
        proc = subprocess.run([str(berth_binary()), "admin", *support_server.store_args(self.data_dir), "--data-dir",
                               str(self.data_dir), *args],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"berth admin {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def create_key(self, account: str, user: str) -> "AccessKey":
        out = self.admin("key", "create", "--account", account, "--user", user).stdout
        return AccessKey.parse(out, account)


@dataclass
class AccessKey:
    access_key_id: str
    secret_access_key: str
    account: str = ACCOUNT_ID

    @staticmethod
    def parse(text: str, account: str) -> "AccessKey":
        """Reads the ``access_key_id=...`` / ``secret_access_key=...`` lines ``key create`` prints."""
        found = dict(re.findall(r"^\s*(access_key_id|secret_access_key)\s*[=:]\s*(\S+)\s*$", text, re.M))
        if set(found) != {"access_key_id", "secret_access_key"}:
            raise AssertionError(f"cannot find access_key_id=/secret_access_key= lines in:\n{text}")
        return AccessKey(found["access_key_id"], found["secret_access_key"], account)


ADMIN_KEY = AccessKey(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, ACCOUNT_ID)


def admin_cli_available() -> bool:
    """Whether ``berth admin --help`` works (its wording is not checked: a changed help text must
    not turn the tests that use ``berth admin`` into skips)."""
    proc = subprocess.run([str(berth_binary()), "admin", "--help"], capture_output=True, text=True, timeout=30)
    return proc.returncode == 0


# ---------------------------------------------------------------------------------------------
# ECR clients

def ecr_client(url: str, key: AccessKey = ADMIN_KEY, validate: bool = True, region: str = REGION):
    """A boto3 ECR client for ``url``; ``validate=False`` switches off botocore's client-side
    checks (required members, minimums) so the server's own validation is reached."""
    return boto3.client(
        "ecr", endpoint_url=url, region_name=region,
        aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key,
        config=Config(retries={"max_attempts": 1}, parameter_validation=validate,
                      connect_timeout=10, read_timeout=120),
    )


def error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def expect_error(code: str, call: Callable, *args, **kwargs) -> ClientError:
    """Runs ``call`` and asserts it fails with ECR error ``code`` and HTTP 400; returns it."""
    try:
        result = call(*args, **kwargs)
    except ClientError as e:
        got = error_code(e)
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert got == code, f"expected {code}, got {got} ({status}): {e.response['Error'].get('Message')}"
        assert status == 400, f"{code} came with HTTP {status}, expected 400"
        return e
    result = {k: v for k, v in (result or {}).items() if k != "ResponseMetadata"}
    raise AssertionError(f"expected {code}, but the call succeeded: {result}")


def registry_password(client) -> str:
    """The /v2 password from GetAuthorizationToken (the part after the first ':')."""
    data = client.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS", f"token user is {user!r}, expected 'AWS'"
    return password


def basic(password: str, user: str = "AWS") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class V2:
    """The /v2 API of one server with one set of Basic credentials (``password=None``: none)."""

    def __init__(self, url: str, password: Optional[str]):
        self.url = url
        self.password = password
        self.session = requests.Session()

    def request(self, method: str, path: str, headers: Optional[dict] = None, **kw) -> requests.Response:
        headers = dict(headers or {})
        if self.password is not None and "Authorization" not in headers:
            headers["Authorization"] = basic(self.password)
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        url = path if path.startswith("http") else self.url + path
        return self.session.request(method, url, headers=headers, **kw)


# ---------------------------------------------------------------------------------------------
# Raw SigV4 requests

class FixedTimeSigV4Auth(SigV4Auth):
    """botocore's SigV4 signer with a chosen signing time instead of the current clock."""

    def __init__(self, credentials, service_name, region_name, when: datetime.datetime):
        super().__init__(credentials, service_name, region_name)
        self.when = when

    def add_auth(self, request):
        request.context["timestamp"] = self.when.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


@dataclass
class RawResponse:
    status: int
    headers: dict
    body: dict
    text: str

    @property
    def error_type(self) -> Optional[str]:
        t = self.body.get("__type") if isinstance(self.body, dict) else None
        return t.split("#")[-1].split(":")[0] if t else None

    @property
    def message(self) -> str:
        return (self.body.get("message") or self.body.get("Message") or "") if isinstance(self.body, dict) else ""


def ecr_raw(url: str, operation: str, body, key: Optional[AccessKey] = ADMIN_KEY,
            when: Optional[datetime.datetime] = None, region: str = REGION,
            secret_override: Optional[str] = None, headers: Optional[dict] = None,
            target: Optional[str] = None, service: str = "ecr",
            after_signing: Optional[Callable[[dict, bytes], tuple[dict, bytes]]] = None) -> RawResponse:
    """POSTs one ECR request signed with botocore's SigV4 signer.

    ``key=None`` sends no Authorization header at all; ``secret_override`` signs with a wrong
    secret under the key's id; ``when`` sets the signing time (default: now); ``service`` the
    scope's service name. ``after_signing(headers, body)`` may return changed headers and body to
    send instead of the signed ones. ``body`` is a dict (JSON-encoded) or raw bytes."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    hdrs = {"Content-Type": JSON_11, "X-Amz-Target": target or (TARGET_PREFIX + operation)}
    hdrs.update(headers or {})
    req = AWSRequest(method="POST", url=url + "/", data=data, headers=hdrs)
    if key is not None:
        creds = Credentials(key.access_key_id, secret_override or key.secret_access_key)
        when = when or datetime.datetime.utcnow()
        FixedTimeSigV4Auth(creds, service, region, when).add_auth(req)
    prepared = req.prepare()
    send_headers, send_data = dict(prepared.headers), data
    if after_signing is not None:
        send_headers, send_data = after_signing(send_headers, send_data)
        send_headers.pop("Content-Length", None)
    r = requests.post(prepared.url, data=send_data, headers=send_headers, timeout=HTTP_TIMEOUT)
    try:
        parsed = r.json()
    except ValueError:
        parsed = {}
    return RawResponse(r.status_code, dict(r.headers), parsed, r.text)


def wait_until(predicate: Callable[[], bool], timeout: float = 3.5, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tampered_tokens(token: str) -> list[str]:
    """Variants of an opaque pagination token that a server must not accept: a character
    changed near the start and near the end, truncated, extended, and plain garbage."""
    def flip(i: int) -> str:
        return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
    return [flip(2), flip(len(token) - 2), token[: len(token) // 2], token + "AAAA", "not-a-token"]
