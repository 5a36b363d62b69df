"""Fixtures for berth's black-box integration tests. See README.md in this folder."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
pytest_plugins = ["skip_policy"]   # tests/skip_policy.py: README clients must run; skips are listed

import harness
from content import unique
from harness import Registry, ServerProcess, make_self_signed_cert
from images import add_index, build_busybox_image


def pytest_report_header(config):
    return [f"registry target: {harness.TARGET} ({harness.target_binary()})"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tail of every live server's log to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("setup", "call"):
        for server in list(harness.LIVE_SERVERS):
            report.sections.append((f"{server.name} log tail ({server.log_path})", server.log_tail()))


# ---------------------------------------------------------------------------------------------
# Servers

@pytest.fixture(scope="session")
def session_server(tmp_path_factory):
    """One registry process for the whole run, with a temporary data directory."""
    server = ServerProcess(tmp_path_factory.mktemp("session-server"), name=f"{harness.TARGET} (session)")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry(session_server) -> Registry:
    """The session registry: ``.url``, ``.host``, ``.auth``, ``.skopeo_creds`` and request helpers."""
    return Registry(session_server)


class ServerFactory:
    """Starts private registry processes; everything it started is stopped at teardown."""

    def __init__(self, base: Path):
        self.base = base
        self.servers: list[ServerProcess] = []
        self._count = 0

    def start(self, tls: bool = False, data_dir: Path | None = None, name: str | None = None,
              create_on_push: bool = True) -> ServerProcess:
        self._count += 1
        workdir = self.base / f"server{self._count}"
        cert = make_self_signed_cert(workdir / "tls") if tls else None
        server = ServerProcess(workdir, data_dir=data_dir, tls=cert,
                               name=name or f"{harness.TARGET} (private #{self._count})",
                               create_on_push=create_on_push)
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def server_factory(tmp_path):
    """Function-scoped: start extra private servers (crash, TLS); they are stopped afterwards."""
    factory = ServerFactory(tmp_path)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory):
    factory = ServerFactory(tmp_path_factory.mktemp("module-servers"))
    yield factory
    factory.close()


# ---------------------------------------------------------------------------------------------
# Names

@pytest.fixture
def repo(request) -> str:
    """A fresh, valid, nested repository name unique to this test."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    return f"it/{stem}-{unique()}"


@pytest.fixture
def repo_factory(request):
    """Make several fresh repository names in one test."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:30].strip("-")

    def make(suffix: str = "") -> str:
        name = f"it/{stem}-{unique()}"
        return f"{name}/{suffix}" if suffix else name

    return make


# ---------------------------------------------------------------------------------------------
# Images built from busybox, once per run

@pytest.fixture(scope="session")
def busybox_layout(tmp_path_factory):
    """An OCI layout with busybox images: refs ``busybox`` (amd64), ``busybox-arm64`` and the
    hand-assembled index ``multi`` over the two."""
    work = tmp_path_factory.mktemp("images")
    layout = work / "layout"
    amd64 = build_busybox_image(layout, "busybox", work, arch="amd64",
                                extra_files={"etc/berth-arch": b"amd64\n"})
    arm64 = build_busybox_image(layout, "busybox-arm64", work, arch="arm64",
                                extra_files={"etc/berth-arch": b"arm64\n"})
    multi = add_index(layout, "multi", [amd64, arm64])
    return {"layout": layout, "busybox": amd64, "busybox-arm64": arm64, "multi": multi}
