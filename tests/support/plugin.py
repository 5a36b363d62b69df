"""The pytest side of ``support``, loaded by both suites (``pytest_plugins`` in their conftest.py):
the log tails of live servers on a failure, and the ``server_factory`` fixtures, which build their
servers with the suite's session-scoped ``make_private_server(workdir, n, **kwargs)`` fixture."""

from __future__ import annotations

import pytest

from support import server as support_server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tail of every live server's log to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("setup", "call"):
        for server in list(support_server.LIVE_SERVERS):
            report.sections.append((f"{server.name} log tail ({server.log_path})", server.log_tail()))


@pytest.fixture
def server_factory(tmp_path, make_private_server):
    """Function-scoped: start private servers (own data directory, own settings); they are stopped
    at teardown. ``server_factory.start(**kwargs)`` passes ``kwargs`` to the suite's
    ``make_private_server``."""
    factory = support_server.ServerFactory(tmp_path, make_private_server)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory, make_private_server):
    factory = support_server.ServerFactory(tmp_path_factory.mktemp("module-servers"), make_private_server)
    yield factory
    factory.close()
