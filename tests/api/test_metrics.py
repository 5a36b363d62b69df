"""Metrics: GET /metrics on the main listener for admins only, the unauthenticated
--metrics-listen address scraped by a real Prometheus (queried through its HTTP API after known
traffic), promtool's checks of the exposition text and of the shipped alert rules."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from ecr_content import make_image, make_layer, push_image
from ecr_support import (ACCOUNT_ID, OTHER_ACCOUNT_ID, REPO_ROOT, V2, basic, ecr_client, free_port,
                         registry_password, unique, wait_until)
from support.scan_data import ALPINE_OS_RELEASE, APK_DB

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
RULES = REPO_ROOT / "deploy" / "prometheus" / "berth-rules.yml"
SCRAPE_CONFIG = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"


def _need_prometheus():
    # Installed by scripts/install-deps.sh --test; a missing one fails rather than skips.
    assert PROMETHEUS and PROMTOOL, "prometheus and promtool are needed (scripts/install-deps.sh --test)"


@pytest.fixture(scope="module")
def monitored(module_server_factory):
    """A private berth with --metrics-listen on a free port."""
    port = free_port()
    server = module_server_factory.start(extra_args=["--metrics-listen", f"127.0.0.1:{port}"])
    server.metrics_url = f"http://127.0.0.1:{port}"
    return server


def test_metrics_main_listener_answers_401_without_credentials(berth):
    r = requests.get(berth.url + "/metrics", timeout=30)
    assert r.status_code == 401, r.text
    assert r.headers.get("WWW-Authenticate", "").startswith("Basic"), r.headers
    assert "berth_" not in r.text


def test_metrics_main_listener_answers_401_for_a_refused_token(berth):
    r = requests.get(berth.url + "/metrics", headers={"Authorization": basic("not-a-token")}, timeout=30)
    assert r.status_code == 401, r.text


def test_metrics_main_listener_serves_an_admin_token(berth, registry_pw):
    r = requests.get(berth.url + "/metrics", headers={"Authorization": basic(registry_pw)}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    assert "# TYPE berth_http_requests_total counter" in r.text
    assert 'berth_build_info{version="' in r.text


def test_metrics_main_listener_refuses_another_accounts_admin(admin_cli, berth):
    # The metrics cover every account: an admin of another account gets 403. (A user who is no
    # admin cannot obtain a registry token at all: GetAuthorizationToken refuses them.)
    other_admin = f"metrics-admin-{unique()}"
    berth.admin("account", "create", "--id", OTHER_ACCOUNT_ID, "--name", "other", check=False)  # may exist
    berth.admin("user", "create", "--account", OTHER_ACCOUNT_ID, "--name", other_admin, "--admin")
    other_key = berth.create_key(OTHER_ACCOUNT_ID, other_admin)
    pw = registry_password(ecr_client(berth.url, other_key))
    r = requests.get(berth.url + "/metrics", headers={"Authorization": basic(pw)}, timeout=30)
    assert r.status_code == 403, (r.status_code, r.text)
    assert "berth_" not in r.text


def test_metrics_listen_needs_no_credentials_and_passes_promtool(monitored):
    _need_prometheus()
    r = requests.get(monitored.metrics_url + "/metrics", timeout=30)
    assert r.status_code == 200, r.text
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=r.text, capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, f"promtool check metrics:\n{check.stdout}\n{check.stderr}"
    # The metrics address serves nothing of the registry.
    assert requests.get(monitored.metrics_url + "/v2/", timeout=30).status_code == 404


def test_metrics_alert_rules_and_scrape_config_pass_promtool():
    _need_prometheus()
    rules = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert rules.returncode == 0, f"{rules.stdout}\n{rules.stderr}"
    config = subprocess.run([PROMTOOL, "check", "config", "--syntax-only", str(SCRAPE_CONFIG)],
                            capture_output=True, text=True, timeout=60)
    assert config.returncode == 0, f"{config.stdout}\n{config.stderr}"


class Prometheus:
    """A real Prometheus on a free 127.0.0.1 port scraping one target every second, its TSDB in
    a temporary directory; stopped by ``close()``."""

    def __init__(self, workdir: Path, target: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                          "scrape_configs:\n  - job_name: berth\n    static_configs:\n"
                          f"      - targets: ['{target}']\n")
        self.log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir)

    def query(self, promql: str):
        r = requests.get(self.url + "/api/v1/query", params={"query": promql}, timeout=10)
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def value(self, promql: str):
        """The single sample of an instant query, as a float, or None while there is none."""
        try:
            result = self.query(promql)
        except requests.RequestException:
            return None
        if len(result) != 1:
            return None
        return float(result[0]["value"][1])

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self.log.close()


def wait_for_value(prom: Prometheus, promql: str, expected: float, timeout: float = 60.0) -> float | None:
    """Polls the query until it returns `expected` (scrapes come every second) or `timeout`
    passes; returns the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = prom.value(promql)
        if last == expected:
            return last
        time.sleep(0.5)
    return last


def test_metrics_prometheus_scrapes_the_expected_series_after_known_traffic(monitored, tmp_path):
    _need_prometheus()
    prom = Prometheus(tmp_path, monitored.metrics_url.removeprefix("http://"))
    try:
        client = ecr_client(monitored.url)
        repo = f"metrics/known-{unique()}"
        client.create_repository(repositoryName=repo)
        v2 = V2(monitored.url, registry_password(client))
        data = os.urandom(70_000)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        r = v2.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", data=data,
                       headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        for _ in range(3):
            r = v2.request("GET", f"/v2/{repo}/blobs/{digest}")
            assert r.status_code == 200 and r.content == data
        for _ in range(2):
            assert v2.request("GET", f"/v2/{repo}/manifests/missing").status_code == 404

        expectations = {
            f'berth_http_requests_total{{api="oci",route="blob",status_class="2xx"}}': 3,
            f'berth_http_requests_total{{api="oci",route="manifest",status_class="4xx"}}': 2,
            f'berth_http_requests_total{{api="oci",route="upload_start",status_class="2xx"}}': 1,
            f'berth_http_requests_total{{api="ecr",route="CreateRepository",status_class="2xx"}}': 1,
            f'berth_http_request_duration_seconds_count{{api="oci",route="blob"}}': 3,
            f'berth_repository_received_bytes_total{{account="{ACCOUNT_ID}",repository="{repo}"}}': len(data),
            f'berth_build_info{{version!=""}}': 1,
            'berth_uploads_in_flight': 0,
        }
        for promql, expected in expectations.items():
            got = wait_for_value(prom, promql, float(expected))
            assert got == float(expected), f"{promql}: expected {expected}, Prometheus says {got}"
        # Blob bytes went out three times (plus the response heads).
        sent = prom.value(f'berth_repository_sent_bytes_total{{repository="{repo}"}}')
        assert sent is not None and sent >= 3 * len(data), sent
        # Store calls were timed, and the listener counted its connections.
        assert (prom.value("berth_store_call_duration_seconds_count") or 0) > 0
        assert (prom.value("berth_connections_accepted_total") or 0) >= 1
        # Storage bytes are read from the database at most every 30 s: the series is there.
        assert prom.query(f'berth_storage_bytes{{account="{ACCOUNT_ID}"}}'), "no berth_storage_bytes series"
    finally:
        prom.close()


def _samples(text: str) -> dict[str, float]:
    """The exposition text's samples, by series (name and labels as written)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def test_metrics_scan_series_move_when_a_scan_completes(monitored):
    _need_prometheus()

    def scrape() -> str:
        r = requests.get(monitored.metrics_url + "/metrics", timeout=30)
        assert r.status_code == 200, r.text
        return r.text

    before = _samples(scrape())
    for series in ("berth_scans_started_total", 'berth_scans_completed_total{status="COMPLETE"}',
                   "berth_scans_failed_total", "berth_scan_duration_seconds_count",
                   'berth_scans_queued{status="PENDING"}', 'berth_scans_queued{status="IN_PROGRESS"}'):
        assert series in before, f"{series} is missing before any scan"

    client = ecr_client(monitored.url)
    repo = f"metrics/scan-{unique()}"
    client.create_repository(repositoryName=repo)
    layer, _ = make_layer({"lib/apk/db/installed": APK_DB, "etc/os-release": ALPINE_OS_RELEASE})
    image = push_image(client, repo, "3.18", image=make_image(layer_blobs=[layer]))
    client.start_image_scan(repositoryName=repo, imageId={"imageDigest": image.digest})

    def status() -> str:
        d = client.describe_images(repositoryName=repo, imageIds=[{"imageDigest": image.digest}])
        return d["imageDetails"][0].get("imageScanStatus", {}).get("status", "")

    assert wait_until(lambda: status() == "COMPLETE", timeout=60), status()
    # The worker counts the scan after its SBOM follow-up, a moment after the status is stored.
    completed = 'berth_scans_completed_total{status="COMPLETE"}'
    assert wait_until(lambda: _samples(scrape())[completed] > before[completed], timeout=30)
    after = _samples(scrape())
    assert after["berth_scans_started_total"] == before["berth_scans_started_total"] + 1
    assert after[completed] == before[completed] + 1
    assert after["berth_scans_failed_total"] == before["berth_scans_failed_total"]
    assert after["berth_scan_duration_seconds_count"] == before["berth_scan_duration_seconds_count"] + 1
    assert after['berth_scans_queued{status="PENDING"}'] == 0
    assert after['berth_scans_queued{status="IN_PROGRESS"}'] == 0
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=scrape(), capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, f"promtool check metrics:\n{check.stdout}\n{check.stderr}"
