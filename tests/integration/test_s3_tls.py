"""Blobs in S3 over https, and the S3 readiness probe.

- ``storage: {s3: {endpoint: https://..., ca-file: ...}}``: berth verifies the gateway's
  certificate against the CA it is given and serves a push and a pull through it; without the
  ``ca-file`` (the system's CAs only) ``berth serve`` exits at once naming the endpoint and the
  certificate problem.
- ``/readyz`` on S3 writes (and deletes) a probe object: 200 while the gateway answers, 503
  naming ``storage`` when the gateway refuses connections or takes them and never answers (the
  probe's timeout keeps /readyz from hanging), 200 again once it is back, without a restart.

The gateway is the RADOS Gateway of tests/infra/ceph-up.sh (its https port and throwaway CA:
BERTH_TEST_S3_TLS_ENDPOINT, BERTH_TEST_S3_CA_FILE). The outage is made by a TCP relay in front of
it that the test opens, closes and stalls, so the shared gateway itself keeps serving the other
suites.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid

import requests

import harness
from content import push_blob, unique
from ecr_helpers import require_berth
from harness import BERTH_BIN, Registry, ServerProcess


def s3_env(*names: str) -> dict:
    for var in ("BERTH_TEST_S3_ENDPOINT", "BERTH_TEST_S3_ACCESS_KEY", "BERTH_TEST_S3_SECRET_KEY", *names):
        assert os.environ.get(var), f"{var} unset: run under scripts/test.sh or source ceph-up.sh's env"
    return os.environ


def s3_storage(endpoint: str, **extra: str) -> dict:
    """A ``storage`` setting for a bucket of this test's own."""
    env = s3_env()
    s3 = {"endpoint": endpoint, "region": env.get("BERTH_TEST_S3_REGION", "us-east-1"),
          "bucket": "berth-tls-" + uuid.uuid4().hex[:16], "access-key-id": env["BERTH_TEST_S3_ACCESS_KEY"],
          "secret-access-key": env["BERTH_TEST_S3_SECRET_KEY"], **extra}
    return {"storage": "{s3: {" + ", ".join(f'{k}: "{v}"' for k, v in s3.items()) + "}}"}


def test_s3_https_with_ca_file_serves_push_and_pull(tmp_path):
    require_berth()
    env = s3_env("BERTH_TEST_S3_TLS_ENDPOINT", "BERTH_TEST_S3_CA_FILE")
    server = ServerProcess(tmp_path / "https", name="berth (S3 over https)",
                           config=s3_storage(env["BERTH_TEST_S3_TLS_ENDPOINT"],
                                             **{"ca-file": env["BERTH_TEST_S3_CA_FILE"]}))
    server.start()
    try:
        reg = Registry(server)
        repo = unique("it/s3tls")
        # 7 MiB: a full 5 MiB segment written in the background, then the rest, then the commit.
        data = os.urandom(7 * 1024 * 1024)
        digest = push_blob(reg, repo, data)
        r = reg.get(f"/v2/{repo}/blobs/{digest}")
        assert r.status_code == 200 and r.content == data, r.status_code
        r = reg.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=5242000-5242999"})
        assert r.status_code == 206 and r.content == data[5242000:5243000], r.status_code
        r = requests.get(server.url + "/readyz", timeout=30)
        assert r.status_code == 200, r.text
    finally:
        server.stop()


def test_s3_https_without_ca_file_fails_fast_naming_the_certificate_problem(tmp_path):
    require_berth()
    env = s3_env("BERTH_TEST_S3_TLS_ENDPOINT")
    endpoint = env["BERTH_TEST_S3_TLS_ENDPOINT"]
    config = tmp_path / "berth.yaml"
    config.write_text("".join(f"{k}: {v}\n" for k, v in s3_storage(endpoint).items()))
    r = subprocess.run([str(BERTH_BIN), "serve", "--listen", f"127.0.0.1:{harness.free_port()}",
                        "--data-dir", str(tmp_path / "data"), "--config", str(config)],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode != 0, r.stderr[-2000:]
    assert endpoint in r.stderr and "certificate verification failed" in r.stderr, r.stderr[-2000:]


class Relay:
    """A TCP relay on 127.0.0.1 in front of the gateway: ``open`` relays, ``close`` refuses
    connections, ``stall`` takes connections and never answers. Closing and stalling drop the
    connections already relayed."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = harness.free_port()
        self.stalled = False
        self.listener = None
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []

    def open(self) -> None:
        self.stalled = False
        if self.listener is None:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", self.port))
            s.listen(64)
            self.listener = s
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def stall(self) -> None:
        self.stalled = True
        self._drop()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
            self.listener.close()
            self.listener = None
        self._drop()

    def _drop(self) -> None:
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self.lock:
                self.sockets.append(client)
            if self.stalled:
                continue  # held open, never answered
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass


def wait_ready(server, status: int) -> requests.Response:
    deadline = time.monotonic() + 30
    while True:
        r = requests.get(server.url + "/readyz", timeout=30)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_s3_readyz_follows_the_gateway(tmp_path):
    require_berth()
    env = s3_env()
    relay = Relay(int(env["BERTH_TEST_S3_ENDPOINT"].rsplit(":", 1)[1]))
    relay.open()
    server = ServerProcess(tmp_path / "ready", name="berth (S3 readiness)",
                           config=s3_storage(f"http://127.0.0.1:{relay.port}"))
    try:
        server.start()
        r = wait_ready(server, 200)
        assert r.status_code == 200 and r.json() == {"status": "ok"}, r.text

        relay.close()  # connections refused
        r = wait_ready(server, 503)
        assert r.status_code == 503 and r.json()["failing"] == ["storage"], r.text
        relay.open()
        r = wait_ready(server, 200)
        assert r.status_code == 200, r.text

        # Connections taken, never answered: the probe's own timeout answers /readyz (an S3
        # request's 60 s I/O timeout would outlast this client's).
        relay.stall()
        time.sleep(1.2)  # past the second for which one run of the store checks answers
        r = requests.get(server.url + "/readyz", timeout=20)
        assert r.status_code == 503 and r.json()["failing"] == ["storage"], r.text
        relay.open()
        r = wait_ready(server, 200)
        assert r.status_code == 200, r.text
        assert server.starts == 1 and server.alive()
        assert "not ready" in server.log_text() and "storage" in server.log_text()
    finally:
        server.stop()
        relay.close()
