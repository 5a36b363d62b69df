"""Process and client plumbing for berth's black-box ECR API tests.

Everything here talks to a real ``berth serve`` over loopback: the process itself
(``BerthServer``), boto3 clients, the operator CLI (``berth admin``), the /v2 side with the
Basic credentials that GetAuthorizationToken hands out, and raw SigV4 requests signed by
botocore's own signer (for cases a normal client never produces: no signature, a wrong
secret, a stale clock).
"""

from __future__ import annotations

import atexit
import base64
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
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

REPO_ROOT = Path(__file__).resolve().parents[2]
BERTH_BIN = Path(os.environ.get("BERTH_BIN", REPO_ROOT / "build" / "berth"))

ADMIN_ACCESS_KEY_ID = "BKIATESTADMIN0000000"
ADMIN_SECRET_ACCESS_KEY = "berthApiTestAdminSecret00000000000000000"
assert len(ADMIN_SECRET_ACCESS_KEY) == 40
ACCOUNT_ID = "000000000000"
REGION = "us-east-1"
OTHER_ACCOUNT_ID = "111111111111"
TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
JSON_11 = "application/x-amz-json-1.1"

READY_TIMEOUT = 30.0
HTTP_TIMEOUT = 60

# Every berth process started by this module and still running; conftest prints their log
# tails when a test fails.
LIVE_SERVERS: list["BerthServer"] = []
_LIVE_LOCK = threading.Lock()


_BINARY_COPY: Optional[Path] = None


def berth_binary() -> Path:
    """A private copy of ``BERTH_BIN``, made once per run, so that a rebuild while the suite
    runs cannot swap (or truncate) the binary under the servers and ``berth admin`` calls."""
    global _BINARY_COPY
    if _BINARY_COPY is None:
        deadline = time.monotonic() + 180
        while True:  # wait for a build in progress to finish writing the file
            try:
                before = BERTH_BIN.stat()
                time.sleep(0.5)
                after = BERTH_BIN.stat()
                if os.access(BERTH_BIN, os.X_OK) and (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size):
                    break
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"berth binary {BERTH_BIN} is missing or not executable; build it or set BERTH_BIN")
            time.sleep(1)
        directory = Path(tempfile.mkdtemp(prefix="berth-api-bin-"))
        atexit.register(shutil.rmtree, directory, True)
        copy = directory / "berth"
        shutil.copy2(BERTH_BIN, copy)
        _BINARY_COPY = copy
    return _BINARY_COPY


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(n: int = 8) -> str:
    return uuid.uuid4().hex[:n]


# ---------------------------------------------------------------------------------------------
# The server process

class BerthServer:
    """One ``berth serve`` on 127.0.0.1 with its own data directory; stderr+stdout go to a log
    file (JSON lines). ``start()`` returns once ``GET /v2/`` answers 401."""

    def __init__(self, workdir: Path, name: str = "berth", admin_env: bool = True,
                 config: Optional[dict] = None, extra_args: Iterable[str] = ()):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.name = name
        self.admin_env = admin_env
        self.config = config
        self.extra_args = list(extra_args)
        self.port: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.workdir / "berth.log"
        self._log = None
        self.restarts_after_death = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def command(self) -> list[str]:
        cmd = [str(berth_binary()), "serve", "--listen", self.host, "--data-dir", str(self.data_dir),
               "--log-level", "debug"]
        if self.config is not None:
            path = self.workdir / "berth.yaml"
            path.write_text("".join(f"{k}: {v}\n" for k, v in self.config.items()))
            cmd += ["--config", str(path)]
        return cmd + self.extra_args

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_ADMIN_")}
        if self.admin_env:
            env["BERTH_ADMIN_ACCESS_KEY_ID"] = ADMIN_ACCESS_KEY_ID
            env["BERTH_ADMIN_SECRET_ACCESS_KEY"] = ADMIN_SECRET_ACCESS_KEY
        return env

    def start(self) -> "BerthServer":
        self.port = free_port()
        self._log = open(self.log_path, "ab")
        self._log.write(f"===== {' '.join(self.command())}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env(), cwd=self.workdir)
        with _LIVE_LOCK:
            LIVE_SERVERS.append(self)
        try:
            self._wait_ready()
        except Exception:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} during start-up:\n"
                                   f"{self.log_tail()}")
            try:
                r = requests.get(self.url + "/v2/", timeout=2)
                if r.status_code == 401:
                    return
                last = f"status {r.status_code}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer GET /v2/ with 401 within {READY_TIMEOUT}s "
                           f"({last}):\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> None:
        """Restarts the server on the same data directory (and a new port) if it died, so that one
        crash fails one test rather than every test after it."""
        if not self.alive():
            self.restarts_after_death += 1
            self.stop()
            self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        with _LIVE_LOCK:
            if self in LIVE_SERVERS:
                LIVE_SERVERS.remove(self)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 25) -> str:
        all_lines = self.log_text().splitlines()
        problems = [line for line in all_lines
                    if re.search(r'"level"\s*:\s*"(warn|error|fatal)"', line)][-15:]
        out = (["--- warnings and errors ---", *problems, "--- last lines ---"] if problems else [])
        return "\n".join(out + all_lines[-lines:])

    # -- operator commands -----------------------------------------------------------------

    def admin(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``berth admin --data-dir DIR ARGS...`` against this server's data directory."""
        proc = subprocess.run([str(berth_binary()), "admin", "--data-dir", str(self.data_dir), *args],
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


def run_tool(cmd: list[str], timeout: int = 240, check: bool = True, env: Optional[dict] = None,
             input: Optional[str] = None, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """Runs an external client; on failure the assertion carries its output (secrets redacted)."""
    if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
        raise RuntimeError(f"tool {cmd[0]} is not installed")
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {redact(cmd)}\n"
                             f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
    return proc


def redact(cmd: list[str]) -> str:
    shown, hide_next = [], False
    for arg in cmd:
        shown.append("***" if hide_next else re.sub(r"^(--(?:src-|dest-)?creds=).*", r"\1***", arg))
        hide_next = arg in ("--creds", "--src-creds", "--dest-creds", "-p", "--password")
    return " ".join(shown)


def tampered_tokens(token: str) -> list[str]:
    """Variants of an opaque pagination token that a server must not accept: a character
    changed near the start and near the end, truncated, extended, and plain garbage."""
    def flip(i: int) -> str:
        return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
    return [flip(2), flip(len(token) - 2), token[: len(token) // 2], token + "AAAA", "not-a-token"]
