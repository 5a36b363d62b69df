"""Blocking work runs beside the event loop, not on it.

berth runs every registry call (and so every store call) from the /v2 and ECR handlers on a
bounded worker pool (``co_await offload``), so one slow store call does not stall the other
connections served by the same event-loop thread. These tests start berth with ONE event-loop
thread and the test-only store delay (``BERTH_TEST_STORE_DELAY_MS`` and
``BERTH_TEST_STORE_DELAY_REPOSITORY``, both required), make one request hit the delay and check
that unrelated requests are answered while it is still in flight.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from harness import TARGET, ServerProcess

pytestmark = pytest.mark.skipif(TARGET != "berth", reason="berth's own worker pool and test hook")

DELAY_MS = 3000
SLOW_REPO = "offload/slow"


class OneThreadServer(ServerProcess):
    """berth with one event-loop thread, no auth and the store delay for SLOW_REPO."""

    def command(self) -> list[str]:
        return super().command() + ["--threads", "1", "--no-auth"]


@pytest.fixture
def slow_server(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTH_TEST_STORE_DELAY_MS", str(DELAY_MS))
    monkeypatch.setenv("BERTH_TEST_STORE_DELAY_REPOSITORY", SLOW_REPO)
    server = OneThreadServer(tmp_path / "offload", name="berth-offload").start()
    yield server
    server.stop()


def _slow_request(url: str, done: dict) -> None:
    done["started"] = time.monotonic()
    r = requests.get(f"{url}/v2/{SLOW_REPO}/manifests/latest", timeout=60)
    done["status"] = r.status_code
    done["finished"] = time.monotonic()


def _start_slow(url: str) -> tuple[threading.Thread, dict]:
    done: dict = {}
    t = threading.Thread(target=_slow_request, args=(url, done), daemon=True)
    t.start()
    # Give the slow request time to reach the server and its delayed store call.
    time.sleep(0.5)
    return t, done


def test_offload_slow_store_call_does_not_stall_base_request(slow_server):
    t, slow = _start_slow(slow_server.url)
    r = requests.get(f"{slow_server.url}/v2/", timeout=60)
    base_finished = time.monotonic()
    assert r.status_code == 200
    assert "finished" not in slow, "the slow request should still be in flight"
    t.join(timeout=60)
    assert slow["status"] == 404  # the repository does not exist; the delay came first
    assert base_finished < slow["finished"], "GET /v2/ waited for the slow store call"


def test_offload_slow_store_call_does_not_stall_other_repository(slow_server):
    t, slow = _start_slow(slow_server.url)
    # Another repository's manifest HEAD goes through the same worker pool and the same store.
    r = requests.head(f"{slow_server.url}/v2/offload/fast/manifests/latest", timeout=60)
    other_finished = time.monotonic()
    assert r.status_code == 404
    assert "finished" not in slow, "the slow request should still be in flight"
    t.join(timeout=60)
    assert other_finished < slow["finished"], "a manifest HEAD in another repository waited for the slow one"


