"""Plumbing both pytest suites share (tests/integration, tests/api): locating and starting berth,
free ports, external tools, and the pytest hooks and fixtures that go with them.

Each suite's conftest.py puts ``tests/`` on ``sys.path`` and loads ``support.plugin``."""
