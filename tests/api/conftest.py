"""Fixtures for berth's black-box ECR API tests (pytest + boto3). See README.md in this folder."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# tests/skip_policy.py: README clients must run; skips are listed. tests/support/plugin.py: log
# tails of live servers on a failure, and the server_factory fixtures.
pytest_plugins = ["skip_policy", "support.plugin"]
from botocore.exceptions import ClientError

from ecr_support import (BERTH_BIN, OTHER_ACCOUNT_ID, AccessKey, BerthServer, V2, admin_cli_available, ecr_client,
                         error_code, registry_password, unique)


def pytest_report_header(config):
    return [f"berth binary: {BERTH_BIN}"]


# ---------------------------------------------------------------------------------------------
# Servers

@pytest.fixture(scope="session")
def berth(tmp_path_factory) -> BerthServer:
    """One berth for the whole run, admin key of account 000000000000 from the environment."""
    server = BerthServer(tmp_path_factory.mktemp("berth-session"), name="berth (session)").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def make_private_server():
    """How ``server_factory`` and ``module_server_factory`` (tests/support/plugin.py) build private
    berth processes (own data directory, own settings): ``start(**kwargs)`` with the keyword
    arguments of ``BerthServer``."""
    def make(workdir: Path, n: int, **kwargs) -> BerthServer:
        return BerthServer(workdir, name=f"berth (private #{n})", **kwargs)

    return make


# ---------------------------------------------------------------------------------------------
# Clients

@pytest.fixture(scope="session")
def ecr(berth):
    """boto3 ECR client as the admin of account 000000000000, retries off."""
    return ecr_client(berth.url)


@pytest.fixture(scope="session")
def ecr_unvalidated(berth):
    """Same, with botocore's client-side parameter validation off (to reach berth's own)."""
    return ecr_client(berth.url, validate=False)


@pytest.fixture(scope="session")
def registry_pw(ecr) -> str:
    return registry_password(ecr)


@pytest.fixture
def v2(berth, registry_pw) -> V2:
    """The session server's /v2 API with the admin's registry token."""
    return V2(berth.url, registry_pw)


@pytest.fixture(scope="session")
def admin_cli(berth):
    """The session server, whose ``berth admin`` commands (README "Command line") the tests use;
    a build without them fails these tests rather than skipping them."""
    assert admin_cli_available(), f"{BERTH_BIN} has no working 'berth admin' (berth admin --help fails)"
    return berth


@pytest.fixture(scope="session")
def other_account(admin_cli) -> AccessKey:
    """An admin key of a second account, 111111111111 (user alice)."""
    admin_cli.admin("account", "create", "--id", OTHER_ACCOUNT_ID, "--name", "other")
    admin_cli.admin("user", "create", "--account", OTHER_ACCOUNT_ID, "--name", "alice", "--admin")
    return admin_cli.create_key(OTHER_ACCOUNT_ID, "alice")


# ---------------------------------------------------------------------------------------------
# Repositories

def _stem(request, width: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:width].strip("-")


def _force_delete(client, name: str) -> None:
    try:
        client.delete_repository(repositoryName=name, force=True)
    except ClientError as e:
        if error_code(e) != "RepositoryNotFoundException":
            raise


@pytest.fixture
def repo_factory(ecr, request):
    """``make(suffix="", **create_kwargs)`` creates a uniquely named repository (deleted with
    force at teardown) and returns its name."""
    made: list[str] = []
    stem = _stem(request, 36)

    def make(suffix: str = "", **kwargs) -> str:
        name = f"api/{stem}-{unique()}" + (f"/{suffix}" if suffix else "")
        ecr.create_repository(repositoryName=name, **kwargs)
        made.append(name)
        return name

    yield make
    for name in made:
        _force_delete(ecr, name)


@pytest.fixture
def repo(repo_factory) -> str:
    """A fresh, empty, MUTABLE repository unique to this test."""
    return repo_factory()


@pytest.fixture
def repo_name(ecr, request):
    """A unique repository name that is not created (deleted with force at teardown if a test
    created it)."""
    name = f"api/{_stem(request, 36)}-{unique()}"
    yield name
    _force_delete(ecr, name)
