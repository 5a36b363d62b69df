"""Fixtures for berth's black-box integration tests. See README.md in this folder."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# tests/skip_policy.py: README clients must run; skips are listed. tests/support/plugin.py: log
# tails of live servers on a failure, and the server_factory fixtures.
pytest_plugins = ["skip_policy", "support.plugin"]

import harness
from content import unique
from harness import Registry, ServerProcess, make_self_signed_cert
from images import add_index, build_busybox_image


def pytest_report_header(config):
    return [f"registry target: {harness.TARGET} ({harness.target_binary()})"]


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


@pytest.fixture(scope="session")
def make_private_server():
    """How ``server_factory`` and ``module_server_factory`` (tests/support/plugin.py) build the
    extra private servers (crash, TLS): ``start(tls=False, data_dir=None, name=None,
    create_on_push=True, config=None)``."""
    def make(workdir: Path, n: int, tls: bool = False, data_dir: Path | None = None, name: str | None = None,
             create_on_push: bool = True, config: dict | None = None) -> ServerProcess:
        cert = make_self_signed_cert(workdir / "tls") if tls else None
        return ServerProcess(workdir, data_dir=data_dir, tls=cert, name=name or f"{harness.TARGET} (private #{n})",
                             create_on_push=create_on_push, config=config)

    return make


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
