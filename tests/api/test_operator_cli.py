"""Operator paper cuts on the command line: `berth admin` and `berth gc` where there is no
database, `--listen` with host names and IPv6 literals, and configuration errors that name their
key."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from ecr_support import berth_binary, free_port


def run_berth(*args: str, cwd: Path, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(berth_binary()), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args", [["admin", "--data-dir", "{typo}", "account", "list"],
                                  ["admin", "--data-dir", "{typo}", "usage"],
                                  ["gc", "--data-dir", "{typo}", "--dry-run"]])
def test_operator_commands_refuse_a_directory_without_database(tmp_path, args):
    typo = tmp_path / "no" / "such" / "berth-data"
    proc = run_berth(*[a.replace("{typo}", str(typo)) for a in args], cwd=tmp_path)
    assert proc.returncode != 0, proc.stdout
    assert "no berth database" in proc.stderr and str(typo) in proc.stderr, proc.stderr
    assert not typo.exists() and not (tmp_path / "no").exists(), "created an empty data directory"


def test_admin_usage_in_the_wrong_directory_creates_nothing(tmp_path):
    proc = run_berth("admin", "usage", cwd=tmp_path)   # default ./berth-data, which is not here
    assert proc.returncode != 0
    assert "no berth database" in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


class Serve:
    """``berth serve`` with given arguments; stopped at the end of the test."""

    def __init__(self, tmp_path: Path, *args: str):
        self.log = tmp_path / "serve.log"
        self.proc = subprocess.Popen([str(berth_binary()), "serve", "--data-dir", str(tmp_path / "data"), *args],
                                     stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=tmp_path)

    def wait_for(self, url: str, timeout: float = 20) -> requests.Response:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                return requests.get(url, timeout=2)
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError(f"no answer at {url}: {self.log.read_text()[-2000:]}")

    def exit_text(self, timeout: float = 20) -> tuple[int, str]:
        rc = self.proc.wait(timeout=timeout)
        return rc, self.log.read_text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(*args: str) -> Serve:
        s = Serve(tmp_path, *args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def test_listen_accepts_a_host_name(serve):
    port = free_port()
    s = serve("--listen", f"localhost:{port}")
    r = s.wait_for(f"http://localhost:{port}/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_listen_accepts_a_bracketed_ipv6_literal(serve):
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.bind(("::1", 0))
        port = sock.getsockname()[1]
    s = serve("--listen", f"[::1]:{port}")
    assert s.wait_for(f"http://[::1]:{port}/healthz").status_code == 200


def test_listen_errors_keep_the_port(serve):
    port = free_port()
    rc, text = serve("--listen", f"no-such-host.invalid:{port}").exit_text()
    assert rc != 0
    assert f"no-such-host.invalid:{port}" in text, text
    rc, text = serve("--listen", "localhost:99999").exit_text()
    assert rc != 0 and "localhost:99999" in text, text


def test_config_error_names_its_key(serve, tmp_path):
    config = tmp_path / "berth.yaml"
    config.write_text("region: us-east-1\nio-timeout: 5x\n")
    rc, text = serve("--config", str(config), "--listen", f"127.0.0.1:{free_port()}").exit_text()
    assert rc != 0
    assert "key 'io-timeout'" in text and "'5x'" in text, text
