"""The process's lifecycle: /healthz and /readyz, SIGTERM draining an upload in progress while
new connections are refused and /readyz says 503, and SIGHUP reloading the TLS certificate while
an open keep-alive connection keeps working."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import requests

from ecr_support import (ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, basic, ecr_client, free_port,
                         registry_password, unique)
from support import server as support_server


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def test_health_healthz_and_readyz_answer_ok_without_credentials(berth):
    for path in ("/healthz", "/readyz"):
        r = requests.get(berth.url + path, timeout=30)
        assert r.status_code == 200, (path, r.text)
        assert r.json() == {"status": "ok"}, (path, r.text)


def test_health_readyz_names_the_failing_check_only(server_factory):
    # A threshold no disk meets: "disk" fails, and nothing else is revealed.
    server = server_factory.start(extra_args=["--ready-min-free", "1000000g"])
    r = requests.get(server.url + "/readyz", timeout=30)
    assert r.status_code == 503, r.text
    assert r.json() == {"status": "unavailable", "failing": ["disk"]}, r.text
    assert requests.get(server.url + "/healthz", timeout=30).status_code == 200
    assert "not ready" in server.log_text()


def _connect_refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def test_drain_sigterm_finishes_an_upload_in_progress_and_refuses_new_connections(server_factory):
    metrics_port = free_port()
    server = server_factory.start(extra_args=["--metrics-listen", f"127.0.0.1:{metrics_port}",
                                              "--drain-timeout", "60s", "--create-on-push"])
    monitoring = f"http://127.0.0.1:{metrics_port}"
    password = registry_password(ecr_client(server.url))
    repo = f"drain/{unique()}"
    data = os.urandom(256 * 1024)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = requests.post(f"{server.url}/v2/{repo}/blobs/uploads/", headers={"Authorization": basic(password)},
                          timeout=30)
    assert start.status_code == 202, start.text
    location = start.headers["Location"]
    path = location if location.startswith("/") else "/" + location.split("/", 3)[3]
    sep = "&" if "?" in path else "?"

    # A monolithic PUT whose body arrives in two halves, the second after SIGTERM.
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    head = (f"PUT {path}{sep}digest={digest} HTTP/1.1\r\nHost: {server.host}\r\n"
            f"Authorization: {basic(password)}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    sock.sendall(head + data[: len(data) // 2])
    in_flight = wait_until(lambda: re.search(r"^berth_uploads_in_flight 1$",
                                             requests.get(monitoring + "/metrics", timeout=10).text, re.M))
    assert in_flight, "the upload never showed as in flight"

    server.proc.send_signal(signal.SIGTERM)
    ready = wait_until(lambda: requests.get(monitoring + "/readyz", timeout=10).status_code == 503)
    assert ready, "/readyz did not turn 503 while draining"
    r = requests.get(monitoring + "/readyz", timeout=10)
    assert r.json() == {"status": "unavailable", "failing": ["draining"]}, r.text
    assert wait_until(lambda: _connect_refused(server.port)), "new connections are still accepted"
    assert server.alive(), "berth exited with an upload in progress"

    sock.sendall(data[len(data) // 2:])
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    sock.close()
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 201"), answer[:500]
    assert b"connection: close" in answer.lower(), answer[:500]
    assert server.proc.wait(timeout=30) == 0
    log = server.log_text()
    assert "drained: every connection has ended" in log


# ---------------------------------------------------------------------------------------------
# SIGHUP

def _make_cert(directory: Path, name: str) -> tuple[bytes, bytes]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN=127.0.0.1/O={name}", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert.read_bytes(), key.read_bytes()


def _der(pem: bytes) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.decode())


def _connection(port: int, cafile: Path) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(cafile))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    conn.connect()
    return conn


def _get(conn: http.client.HTTPSConnection, path: str) -> int:
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return r.status


def test_reload_sighup_serves_a_new_certificate_to_new_connections_only(tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    old_cert, old_key = _make_cert(certs, "old")
    new_cert, new_key = _make_cert(certs, "new")
    live_cert, live_key = certs / "live.crt", certs / "live.key"
    live_cert.write_bytes(old_cert)
    live_key.write_bytes(old_key)
    trust = certs / "both.pem"
    trust.write_bytes(old_cert + new_cert)
    server = support_server.ServerProcess(tmp_path / "berth", tls=(live_cert, live_key),
                                          admin_credentials=(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY))
    server.start()
    try:
        kept = _connection(server.port, trust)
        assert _get(kept, "/healthz") == 200
        kept_sock = kept.sock
        assert kept_sock.getpeercert(binary_form=True) == _der(old_cert)

        live_cert.write_bytes(new_cert)
        live_key.write_bytes(new_key)
        server.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "reload: new connections use the TLS certificate" in server.log_text()), \
            server.log_tail()

        fresh = _connection(server.port, trust)
        assert fresh.sock.getpeercert(binary_form=True) == _der(new_cert)
        assert _get(fresh, "/healthz") == 200
        fresh.close()
        # The connection opened before the reload still works, on its old certificate.
        assert _get(kept, "/healthz") == 200
        assert kept.sock is kept_sock and kept_sock.getpeercert(binary_form=True) == _der(old_cert)

        # A broken certificate file: an error in the log, and the last good certificate stays.
        live_cert.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        server.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "reload: cannot load the TLS certificate" in server.log_text()), server.log_tail()
        again = _connection(server.port, trust)
        assert again.sock.getpeercert(binary_form=True) == _der(new_cert)
        assert _get(again, "/healthz") == 200
        again.close()
        assert _get(kept, "/healthz") == 200
        kept.close()
        assert server.alive()
    finally:
        server.stop()


def test_reload_sighup_changes_the_log_level_from_the_config_file(tmp_path):
    server = support_server.ServerProcess(tmp_path / "berth", config={"log-level": "info"},
                                          admin_credentials=(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY))
    # The launcher passes --log-level debug, which would win over the file: leave it out here.
    server.base_command = lambda: [c for c in support_server.ServerProcess.base_command(server)
                                   if c not in ("--log-level", "debug")]
    server.start()
    try:
        def requests_logged():
            requests.get(server.url + "/healthz", timeout=10)
            return server.log_text().count('"msg":"request"')

        before = requests_logged()
        assert before > 0, server.log_tail()
        (tmp_path / "berth" / "berth.yaml").write_text("log-level: warn\n")
        server.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "SIGHUP: reloading" in server.log_text())
        time.sleep(0.2)
        settled = requests_logged()
        for _ in range(5):
            requests.get(server.url + "/healthz", timeout=10)
        assert requests_logged() == settled, "request lines are still logged at log-level warn"
        assert server.alive()
    finally:
        server.stop()
