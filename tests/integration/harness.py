"""Process and client plumbing for berth's black-box integration tests.

Everything here talks to a real server process over loopback. Two targets are supported:

- ``berth`` (default): the binary from ``BERTH_BIN`` or ``<repo>/build/berth``.
- ``distribution``: CNCF Distribution (``/usr/bin/docker-registry``), selected with
  ``BERTH_TEST_TARGET=distribution``. It exists only to cross-check the tests themselves;
  where it deviates from the OCI distribution spec the tests mark it with ``distribution_gap``.

The ``Registry`` object is the one place that knows about authentication: when ``GET /v2/``
answers 401 with a Basic challenge, it obtains a registry password from the server's ECR
``GetAuthorizationToken`` operation with boto3 and sends it on every request.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Iterable, Optional
from urllib.parse import urljoin, urlsplit

import requests

from support import server as support_server
from support.binaries import BERTH_BIN, REPO_ROOT  # noqa: F401  (re-exported for the tests)
from support.ports import free_port  # noqa: F401
from support.tools import redact, run_tool  # noqa: F401

TARGET = os.environ.get("BERTH_TEST_TARGET", "berth").strip().lower() or "berth"
if TARGET not in ("berth", "distribution"):
    raise RuntimeError(f"BERTH_TEST_TARGET must be 'berth' or 'distribution', not {TARGET!r}")

# "off" starts berth with --no-auth (for a build whose auth endpoints are not ready); the default
# leaves berth's own default and logs in whenever GET /v2/ asks for credentials.
AUTH_MODE = os.environ.get("BERTH_TEST_AUTH", "auto").strip().lower() or "auto"
if AUTH_MODE not in ("auto", "off"):
    raise RuntimeError(f"BERTH_TEST_AUTH must be 'auto' or 'off', not {AUTH_MODE!r}")
DISTRIBUTION_BIN = Path(os.environ.get("DISTRIBUTION_BIN", "/usr/bin/docker-registry"))
# berth started with its defaults must ask for credentials; only BERTH_TEST_AUTH=off or the
# Distribution cross-check (which runs without auth) may answer GET /v2/ with 200.
AUTH_EXPECTED = TARGET == "berth" and AUTH_MODE == "auto"

# Fixed test credentials handed to berth; the registry password is derived from them via ECR.
ADMIN_ACCESS_KEY_ID = "BKIATESTADMIN0000000"
ADMIN_SECRET_ACCESS_KEY = "berthTestAdminSecretKey0000000000000000x"  # 40 characters
assert len(ADMIN_SECRET_ACCESS_KEY) == 40
AWS_REGION = "us-east-1"

# Distribution keeps upload state in an HMAC-signed query parameter; a fixed secret lets an
# upload survive a restart, as berth's on-disk upload sessions must.
DISTRIBUTION_HTTP_SECRET = "berth-integration-tests-fixed-secret"

DEFAULT_TIMEOUT = 60


def target_binary() -> Path:
    return DISTRIBUTION_BIN if TARGET == "distribution" else BERTH_BIN


class ServerProcess(support_server.ServerProcess):
    """The test target (``BERTH_TEST_TARGET``): berth with the suite's admin key, or Distribution.

    ``start()`` returns once ``GET /v2/`` answers 200 or 401.
    """

    def __init__(self, workdir: Path, data_dir: Optional[Path] = None, tls: Optional[tuple[Path, Path]] = None,
                 name: str = "berth", create_on_push: bool = True, extra_args: Iterable[str] = (),
                 config: Optional[dict] = None):
        super().__init__(workdir, data_dir=data_dir, tls=tls, name=name,
                         admin_credentials=(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY), extra_args=extra_args,
                         binary=target_binary, ready_statuses=(200, 401), config=config)
        # The generic protocol suites push to repositories nobody created, as Distribution allows;
        # berth does so only with --create-on-push (its default is ECR's NAME_UNKNOWN).
        self.create_on_push = create_on_push

    def base_command(self) -> list[str]:
        if TARGET == "distribution":
            config = self.workdir / "distribution.yml"
            tls_block = ""
            if self.tls:
                tls_block = f"  tls:\n    certificate: {self.tls[0]}\n    key: {self.tls[1]}\n"
            config.write_text(
                "version: 0.1\n"
                "log:\n  level: info\n  formatter: json\n"
                "storage:\n"
                f"  filesystem:\n    rootdirectory: {self.data_dir}\n"
                "  delete:\n    enabled: true\n"
                "http:\n"
                f"  addr: 127.0.0.1:{self.port}\n"
                f"  secret: {DISTRIBUTION_HTTP_SECRET}\n"
                + tls_block
            )
            return [str(DISTRIBUTION_BIN), "serve", str(config)]
        cmd = super().base_command()
        if AUTH_MODE == "off":
            cmd.append("--no-auth")
        if self.create_on_push:
            cmd.append("--create-on-push")
        return cmd


def obtain_registry_password(url: str, verify) -> str:
    """Ask the server's ECR API for an authorization token and return the registry password."""
    import boto3
    from botocore.config import Config

    # A session of its own: boto3's default session is not safe to create clients from in
    # several threads at once (the race tests log in from each worker thread).
    client = boto3.session.Session().client(
        "ecr", endpoint_url=url, region_name=AWS_REGION,
        aws_access_key_id=ADMIN_ACCESS_KEY_ID, aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
        verify=verify, config=Config(retries={"max_attempts": 1}),
    )
    data = client.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    if user != "AWS" or not password:
        raise RuntimeError(f"authorization token does not decode to 'AWS:<password>' (user {user!r})")
    return password


class Registry:
    """A live registry as seen by a client: base URL, credentials and request helpers.

    ``get/put/post/patch/delete/head`` accept a path (``/v2/...``) or an absolute URL (as found in a
    ``Location`` header) and add authentication. ``auth`` is a requests auth tuple or None;
    ``skopeo_creds`` is ``"AWS:<password>"`` or None.
    """

    def __init__(self, server: ServerProcess):
        self.server = server
        self.session = requests.Session()
        self.auth: Optional[tuple[str, str]] = None
        self.skopeo_creds: Optional[str] = None
        self._login()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def verify(self):
        return self.server.verify

    @property
    def auth_required(self) -> bool:
        return self.auth is not None

    def require_auth(self) -> None:
        """Skips an authentication test against a target deliberately run without authentication
        (Distribution, or berth with BERTH_TEST_AUTH=off); berth's default never gets here (see
        ``_login``)."""
        if not self.auth_required:
            import pytest

            assert not AUTH_EXPECTED, "berth runs without authentication although the tests expect it"
            pytest.skip(f"target {TARGET} runs without authentication (BERTH_TEST_AUTH={AUTH_MODE})")

    def _login(self) -> None:
        r = requests.get(self.url + "/v2/", timeout=DEFAULT_TIMEOUT, verify=self.verify)
        if r.status_code == 200:
            if AUTH_EXPECTED and "--no-auth" not in self.server.command():
                raise RuntimeError("berth answered GET /v2/ without credentials with 200: authentication is on by "
                                   "default and the auth tests must not turn into skips (BERTH_TEST_AUTH=off runs "
                                   "berth with --no-auth on purpose)")
            return
        challenge = r.headers.get("WWW-Authenticate", "")
        if r.status_code != 401 or not challenge.lower().startswith("basic"):
            raise RuntimeError(f"GET /v2/ answered {r.status_code} with challenge {challenge!r}; "
                               "the harness supports no auth or Basic auth only")
        try:
            password = obtain_registry_password(self.url, self.verify)
        except Exception as e:
            raise RuntimeError(f"GET /v2/ asks for Basic credentials but the ECR GetAuthorizationToken call "
                               f"failed: {e!r} (BERTH_TEST_AUTH=off runs berth with --no-auth)") from e
        self.auth = ("AWS", password)
        self.skopeo_creds = f"AWS:{password}"

    def reconnect(self) -> None:
        """Call after the server restarted (possibly on another port): new session, new login."""
        self.session.close()
        self.session = requests.Session()
        self.auth = None
        self.skopeo_creds = None
        self._login()

    def abs_url(self, path_or_url: str) -> str:
        return urljoin(self.url + "/", path_or_url)

    def rebase(self, location: str) -> str:
        """Keep a Location's path and query but point it at this server's current address."""
        parts = urlsplit(self.abs_url(location))
        return self.url + parts.path + (f"?{parts.query}" if parts.query else "")

    def request(self, method: str, path_or_url: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
        kwargs.setdefault("verify", self.verify)
        if "auth" not in kwargs:
            kwargs["auth"] = self.auth
        return self.session.request(method, self.abs_url(path_or_url), **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        kw.setdefault("allow_redirects", False)
        return self.request("HEAD", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def create_repository(self, name: str) -> None:
        """Creates ``name`` through the ECR API, as ECR users do before pushing (berth only;
        Distribution creates repositories on push). An existing repository is fine."""
        if TARGET != "berth":
            return
        import boto3
        from botocore.config import Config
        client = boto3.client("ecr", endpoint_url=self.url, region_name=AWS_REGION,
                              aws_access_key_id=ADMIN_ACCESS_KEY_ID, aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
                              verify=self.verify, config=Config(retries={"max_attempts": 1}))
        try:
            client.create_repository(repositoryName=name)
        except client.exceptions.RepositoryAlreadyExistsException:
            pass

    def auth_header(self) -> dict:
        if not self.auth:
            return {}
        token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    # Arguments for the containers/image tools (skopeo, podman, buildah).
    def skopeo_src_args(self) -> list[str]:
        args = ["--src-tls-verify=false"]
        return args + (["--src-creds", self.skopeo_creds] if self.skopeo_creds else [])

    def skopeo_dest_args(self) -> list[str]:
        args = ["--dest-tls-verify=false"]
        return args + (["--dest-creds", self.skopeo_creds] if self.skopeo_creds else [])

    def skopeo_args(self) -> list[str]:
        args = ["--tls-verify=false"]
        return args + (["--creds", self.skopeo_creds] if self.skopeo_creds else [])


def distribution_gap(reason: str):
    """Mark a test that Distribution (the cross-check target) fails because it deviates from the
    OCI distribution spec or lacks a feature berth has. Strict: an unexpected pass is reported."""
    import pytest

    return pytest.mark.xfail(TARGET == "distribution", reason=f"Distribution: {reason}", strict=True)


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (CN and IP SAN); returns (cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "server.crt", directory / "server.key"
    run_tool(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
              "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
              "-keyout", str(key), "-out", str(cert)], timeout=60)
    return cert, key
