"""A cached manifest is answered on the event loop; anything else still goes through the offloader.

berth keeps recently pulled manifests in memory while the metadata store has committed nothing
since; such a pull makes no store call and is answered without a trip to the worker pool. These
tests start berth with ONE worker (``--offload-threads 1``) and the test-only store delay on one
repository, keep that single worker busy with a delayed lookup, and check in which order
requests complete: one answered from the cache finishes while the worker is still busy, one that
needs the store waits for it (it cannot finish before the delay has passed since the delayed
request was sent). No upper bound on any latency is asserted.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urljoin

import pytest
import requests

from content import OCI_MANIFEST, make_image, push_image, sha256
from harness import TARGET, ServerProcess

pytestmark = pytest.mark.skipif(TARGET != "berth", reason="berth's own worker pool and test hook")

DELAY_MS = 3000
SLOW_REPO = "inline/slow"
FAST_REPO = "inline/fast"
ACCEPT = {"Accept": OCI_MANIFEST}


class OneWorkerServer(ServerProcess):
    """berth with one event-loop thread, one offload worker, no auth, create-on-push, and the
    store delay for SLOW_REPO."""

    def command(self) -> list[str]:
        return super().command() + ["--threads", "1", "--offload-threads", "1", "--no-auth", "--create-on-push"]


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTH_TEST_STORE_DELAY_MS", str(DELAY_MS))
    monkeypatch.setenv("BERTH_TEST_STORE_DELAY_REPOSITORY", SLOW_REPO)
    # The manifest cache needs a write generation, which only the SQLite store offers (every
    # writer in one process); on PostgreSQL every pull goes to a worker, so the metadata stays
    # in SQLite here whichever store the run chooses.
    s = OneWorkerServer(tmp_path / "inline", name="berth-inline", config={"metadata": "{sqlite: {}}"}).start()
    yield s
    s.stop()


class Client:
    """Just enough of the harness Registry for content.push_image, without auth."""

    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()

    def abs_url(self, path_or_url: str) -> str:
        return urljoin(self.url + "/", path_or_url)

    def _u(self, path_or_url: str) -> str:
        return self.abs_url(path_or_url)

    def get(self, p, **kw):
        return self.session.get(self._u(p), timeout=60, **kw)

    def head(self, p, **kw):
        return self.session.head(self._u(p), timeout=60, **kw)

    def put(self, p, **kw):
        return self.session.put(self._u(p), timeout=60, **kw)

    def post(self, p, **kw):
        return self.session.post(self._u(p), timeout=60, **kw)

    def delete(self, p, **kw):
        return self.session.delete(self._u(p), timeout=60, **kw)


def _occupy_the_worker(url: str) -> tuple[threading.Thread, dict]:
    """A lookup in SLOW_REPO: it holds the only worker for DELAY_MS."""
    done: dict = {}

    def run() -> None:
        done["sent"] = time.monotonic()
        r = requests.get(f"{url}/v2/{SLOW_REPO}/manifests/latest", timeout=60)
        done["status"] = r.status_code
        done["finished"] = time.monotonic()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    # Let it reach the worker and its delay: on a loaded machine the thread itself may start late.
    time.sleep(1.0)
    return t, done


def _timed(fn) -> tuple[requests.Response, float]:
    r = fn()
    return r, time.monotonic()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_manifest_cached_pull_is_answered_while_the_only_worker_is_busy(server, method):
    c = Client(server.url)
    image = make_image(layers=1)
    push_image(c, FAST_REPO, image, "v1")
    path = f"/v2/{FAST_REPO}/manifests/v1"
    # Pulls through the store fill the cache (a GET's first pull is also recorded, a write, after
    # which the next pull reads the manifest again).
    for _ in range(3):
        r = c.session.request(method, server.url + path, headers=ACCEPT, timeout=60)
        assert r.status_code == 200
    t, slow = _occupy_the_worker(server.url)
    r, cached_finished = _timed(lambda: c.session.request(method, server.url + path, headers=ACCEPT, timeout=60))
    assert r.status_code == 200
    assert r.headers["Docker-Content-Digest"] == image.digest
    if method == "GET":
        assert sha256(r.content) == image.digest
    assert "finished" not in slow, "the delayed lookup should still hold the worker"
    t.join(timeout=60)
    assert slow["status"] == 404
    assert cached_finished < slow["sent"] + DELAY_MS / 1000, "a cached manifest waited for the busy worker"


def test_manifest_uncached_pull_goes_through_the_offloader(server):
    c = Client(server.url)
    image = make_image(layers=1)
    push_image(c, FAST_REPO, image, "v1")
    # Never pulled by digest: not in the cache, so it needs the store, and the store only
    # through the one worker.
    t, slow = _occupy_the_worker(server.url)
    r, finished = _timed(lambda: c.head(f"/v2/{FAST_REPO}/manifests/{image.digest}", headers=ACCEPT))
    assert r.status_code == 200
    t.join(timeout=60)
    assert slow["status"] == 404
    # The worker is not free before the delay has passed since the slow request was sent.
    assert finished >= slow["sent"] + DELAY_MS / 1000, "an uncached manifest was answered without the worker"


def test_manifest_cache_never_serves_a_moved_tag(server):
    c = Client(server.url)
    first, second = make_image(layers=1), make_image(layers=1)
    push_image(c, FAST_REPO, first, "moving")
    path = f"/v2/{FAST_REPO}/manifests/moving"
    for _ in range(3):
        assert c.head(path, headers=ACCEPT).headers["Docker-Content-Digest"] == first.digest
    push_image(c, FAST_REPO, second, "moving")
    assert c.head(path, headers=ACCEPT).headers["Docker-Content-Digest"] == second.digest
    r = c.get(path, headers=ACCEPT)
    assert r.status_code == 200 and sha256(r.content) == second.digest
    assert c.delete(path).status_code == 202
    assert c.head(path, headers=ACCEPT).status_code == 404
