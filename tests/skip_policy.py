"""A pytest plugin both suites load (``pytest_plugins`` in their conftest.py): nothing the README
promises goes untested in silence.

- A test marked ``@pytest.mark.client("docker")`` drives a client the README names. If it skips
  (the client is missing or cannot start), the skip becomes a failure, unless the environment
  variable ``BERTH_ALLOW_SKIP`` names that client (comma- or space-separated, or ``all``).
- Every skip that remains is listed at the end of the run with its reason, and appended as one
  line ``<suite> SKIPPED <test id>: <reason>`` to the file named by ``BERTH_SKIP_REPORT`` (when
  set), so that scripts/test.sh can print one summary over both suites.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ALLOW_ENV = "BERTH_ALLOW_SKIP"
REPORT_ENV = "BERTH_SKIP_REPORT"


def allowed_skips() -> set[str]:
    return {name for name in re.split(r"[\s,]+", os.environ.get(ALLOW_ENV, "").strip().lower()) if name}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "client(name): drives a client the README names; a skip fails the run unless "
                   f"{ALLOW_ENV} names the client")
    config._berth_skips = []  # (test id, reason)


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    clients = [m.args[0] for m in item.iter_markers("client") if m.args]
    allowed = allowed_skips()
    refused = [c for c in clients if c.lower() not in allowed and "all" not in allowed]
    if refused:
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} drives {', '.join(clients)}, which the README says are tested, "
                           f"but it skipped: {reason}\nInstall or fix the client, or set {ALLOW_ENV} to name "
                           f"the missing one to accept the skip (it is then listed at the end of the run).")
        return
    item.config._berth_skips.append((item.nodeid, reason))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skips = getattr(config, "_berth_skips", [])
    suite = Path(str(config.rootpath)).name
    if skips:
        terminalreporter.section(f"{len(skips)} skipped in {suite}, each with its reason")
        for nodeid, reason in skips:
            terminalreporter.write_line(f"SKIPPED {nodeid}: {reason}")
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            for nodeid, reason in skips:
                f.write(f"{suite} SKIPPED {nodeid}: {reason}\n")
