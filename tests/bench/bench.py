#!/usr/bin/python3
"""berth against CNCF Distribution, side by side in one run, plus berth's micro-benchmarks.

Run through scripts/bench.sh (``make bench``), which builds berth in Release mode first.

Both registries run on 127.0.0.1 with equivalent settings: the filesystem on a temporary
directory, deletes enabled, access logs off. berth runs as users run it, with authentication on:
the harness asks its ECR API for a registry token (boto3 ``get_authorization_token``) and sends
``Authorization: Basic ...`` on every /v2 request. Distribution runs without authentication.

Each workload is one function taking a ``Target`` (a running server and the means to talk to and
observe it); ``run_workload`` calls it for berth, then for Distribution, and records the figures,
the server CPU it cost and the server RSS during it. A workload that sees a wrong status, a wrong
length or a digest mismatch raises ``WorkloadFailure``; the run goes on with the next workload
and exits non-zero at the end. No figure is ever asserted.

The machine's own limits are measured in the same run (single-core SHA-256, loopback TCP, disk
write with fsync), so every figure can be read against what the hardware allows.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import gzip
import hashlib
import http.client
import io
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the shared support package
from support.ports import free_port  # noqa: E402
from support.scan_data import ALPINE_OS_RELEASE, APK_DB, OSV, all_findings, expected_alpine, findings_set  # noqa: E402

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "manifest.lua"
DISTRIBUTION_BIN = os.environ.get("DISTRIBUTION_BIN", "/usr/bin/docker-registry")

MiB = 1024 * 1024
REQUEST_TIMEOUT = 300  # seconds; one request, including a 256 MiB body with fsync
READY_TIMEOUT = 30.0

# berth's admin key for this run: handed to berth in its environment, used by boto3 only.
ADMIN_ACCESS_KEY_ID = "BKIABENCHADMIN000000"
ADMIN_SECRET_ACCESS_KEY = "berthBenchAdminSecretKey0000000000000000"
assert len(ADMIN_SECRET_ACCESS_KEY) == 40
REGION = "us-east-1"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MANIFEST_ACCEPT = f"{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"
OCTET = {"Content-Type": "application/octet-stream"}


@dataclass(frozen=True)
class Sizes:
    """How big each workload is. FULL is the contract; SMOKE only proves the harness works."""

    mode: str
    blob_mib: int            # (a)(b)(c) big blob size
    blob_chunks: int         # (b) PATCH requests per blob
    blob_reps: int           # (a)(b)(c) repetitions, distinct blobs; the median is reported
    wrk_seconds: int         # (d) per method
    wrk_connections: int     # (d)
    images: int              # (e) Python row
    push_images: int         # (e) berth_loadgen row
    image_clients: int       # (e)
    tags: int                # (f)
    repos: int               # (f)
    populate_clients: int    # (f) parallel connections filling tags and repositories
    page_size: int           # (f) n= of the paged walks (smoke: small, so that paging is exercised)
    list_reps: int           # (f) repetitions of each listing; the median is reported
    pull_clients: int        # (g)
    pull_layer_mib: int      # (g) each of 3 layers
    scan_images: int         # (i) tagged images in each of the two repositories
    describe_calls: int      # (i) timed DescribeImages calls per repository
    openssl_seconds: int     # machine limit: openssl speed
    loopback_seconds: float  # machine limit: socket pump
    dd_mib: int              # machine limit: dd with fsync
    micro_min_time: float    # Google Benchmark --benchmark_min_time, seconds
    run_seconds: int         # hard bound on the whole run


FULL = Sizes("full", blob_mib=256, blob_chunks=16, blob_reps=3, wrk_seconds=10, wrk_connections=64,
             images=200, push_images=2000, image_clients=8, tags=10_000, repos=2_000, populate_clients=16, page_size=100, list_reps=5,
             pull_clients=50, pull_layer_mib=4, scan_images=50, describe_calls=30, openssl_seconds=3, loopback_seconds=2.0, dd_mib=256,
             micro_min_time=0.5, run_seconds=3600)
SMOKE = Sizes("smoke", blob_mib=4, blob_chunks=16, blob_reps=2, wrk_seconds=2, wrk_connections=64,
              images=20, push_images=40, image_clients=8, tags=100, repos=20, populate_clients=8, page_size=10, list_reps=2,
              pull_clients=5, pull_layer_mib=1, scan_images=4, describe_calls=3, openssl_seconds=1, loopback_seconds=1.0, dd_mib=32,
              micro_min_time=0.01, run_seconds=600)


# --- failures and bounds -----------------------------------------------------------------------

class WorkloadFailure(Exception):
    """A server answered wrongly: the message names the request, what was expected and what came."""


class Deadline:
    """The whole run's time bound; every loop checks it."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise WorkloadFailure("the run's time bound expired")


DEADLINE = Deadline(FULL.run_seconds)


def describe(method: str, url: str) -> str:
    parts = urlsplit(url)
    query = re.sub(r"_state=[^&]*", "_state=...", parts.query)  # Distribution's long upload state
    return f"{method} {parts.path}{'?' + query if query else ''}"


def expect_status(r: requests.Response, ok: tuple[int, ...]) -> requests.Response:
    if r.status_code not in ok:
        body = r.content[:400].decode(errors="replace")
        raise WorkloadFailure(f"{describe(r.request.method, r.request.url)}: expected "
                              f"{' or '.join(map(str, ok))}, got {r.status_code}: {body.strip()}")
    return r


def expect_equal(what: str, expected, got) -> None:
    if expected != got:
        raise WorkloadFailure(f"{what}: expected {expected!r}, got {got!r}")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- observing a server process ----------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def proc_status_kib(pid: int, key: str) -> Optional[int]:
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM), or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def proc_cpu_seconds(pid: int, reaped_children: bool = False) -> float:
    """utime + stime of all the process's threads, from /proc/<pid>/stat; with reaped_children,
    plus cutime + cstime (the children it has waited for)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # fields 16 and 17
    return ticks / CLOCK_TICKS


def tree_cpu_seconds(root: int) -> float:
    """CPU of a process that forks workers (PostgreSQL's postmaster): its own, its reaped
    children's, and that of its live children. 0 when it is gone."""
    try:
        total = proc_cpu_seconds(root, reaped_children=True)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == root:  # field 4, ppid
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def pids_cpu_seconds(pids: list[int]) -> float:
    """utime + stime summed over processes; one that is gone counts 0."""
    total = 0.0
    for pid in pids:
        try:
            total += proc_cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


class ProcessMonitor:
    """Samples a process's VmRSS every 100 ms on a thread, into every open window. Given several
    pids (the nodes behind a load balancer), every figure is their sum."""

    INTERVAL = 0.1

    def __init__(self, pid: int | list[int]):
        self.pids = [pid] if isinstance(pid, int) else list(pid)
        self.pid = self.pids[0]
        self._lock = threading.Lock()
        self._windows: list[list[int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            values = [proc_status_kib(pid, "VmRSS") for pid in self.pids]
            if None in values:
                return
            rss = sum(values)
            with self._lock:
                for window in self._windows:
                    window.append(rss)

    @contextmanager
    def window(self):
        samples: list[int] = []
        with self._lock:
            self._windows.append(samples)
        try:
            yield samples
        finally:
            with self._lock:
                self._windows.remove(samples)

    def rss_mib(self) -> float:
        return sum(proc_status_kib(pid, "VmRSS") or 0 for pid in self.pids) / 1024

    def hwm_mib(self) -> float:
        return sum(proc_status_kib(pid, "VmHWM") or 0 for pid in self.pids) / 1024

    def cpu_seconds(self) -> float:
        return sum(proc_cpu_seconds(pid) for pid in self.pids)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


# --- the two servers ---------------------------------------------------------------------------

class ServerProcess:
    """One registry on 127.0.0.1 with its own data directory and log; dies with this process."""

    name = "server"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True)
        self.log_path = workdir / "server.log"
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.auth_headers: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def login(self) -> None:
        """Sets auth_headers; the default is a registry without authentication."""

    def version(self) -> str:
        raise NotImplementedError

    def start(self) -> "ServerProcess":
        cmd = self.command()
        # setpriv --pdeathsig: the server is killed even if this harness is killed outright.
        if shutil.which("setpriv"):
            cmd = ["setpriv", "--pdeathsig", "KILL", "--", *cmd]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=self.environment(), cwd=self.workdir, start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start-up:\n{self.log_tail()}")
            try:
                r = requests.get(self.url + "/v2/", timeout=2)
                if r.status_code in (200, 401):
                    break
                last = f"status {r.status_code}"
            except requests.RequestException as e:
                last = type(e).__name__
            time.sleep(0.05)
        else:
            raise RuntimeError(f"{self.name} did not answer GET /v2/ in {READY_TIMEOUT}s ({last}):\n{self.log_tail()}")
        self.login()
        r = requests.get(self.url + "/v2/", headers=self.auth_headers, timeout=10)
        if r.status_code != 200:
            raise RuntimeError(f"{self.name}: GET /v2/ with credentials: expected 200, got {r.status_code}")
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> str:
        """SIGTERM, then SIGKILL after 10 s. Returns "" for a clean exit, else what happened."""
        if self.proc is None or self.proc.poll() is not None:
            return ""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return "did not exit within 10 s of SIGTERM and was killed"
        return "" if code in (0, -signal.SIGTERM) else f"exited with {code} on SIGTERM"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class BerthServer(ServerProcess):
    name = "berth"

    def __init__(self, workdir: Path, binary: Path, name: str = "berth", config: Optional[dict[str, str]] = None):
        """`config`: top-level keys of a berth config file (`metadata`, `storage`) with their
        YAML values; None: no config file (SQLite and blobs in the data directory)."""
        super().__init__(workdir)
        self.binary = binary
        self.name = name
        self.config = config

    def command(self) -> list[str]:
        # --create-on-push: the workloads push to repositories nobody created, which Distribution
        # allows; without it berth answers NAME_UNKNOWN, as ECR does.
        cmd = [str(self.binary), "serve", "--listen", f"127.0.0.1:{self.port}",
               "--data-dir", str(self.data_dir), "--log-level", "warn", "--create-on-push"]
        if self.config:
            path = self.workdir / "berth.yaml"
            path.write_text("".join(f"{k}: {v}\n" for k, v in self.config.items()))
            cmd += ["--config", str(path)]
        return cmd

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["BERTH_ADMIN_ACCESS_KEY_ID"] = ADMIN_ACCESS_KEY_ID
        env["BERTH_ADMIN_SECRET_ACCESS_KEY"] = ADMIN_SECRET_ACCESS_KEY
        return env

    def login(self) -> None:
        """A registry token from berth's ECR API, as `aws ecr get-login-password` gets it."""
        import boto3
        from botocore.config import Config

        ecr = boto3.client("ecr", endpoint_url=self.url, region_name=REGION,
                           aws_access_key_id=ADMIN_ACCESS_KEY_ID, aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
                           config=Config(retries={"max_attempts": 1}))
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        user, _, password = base64.b64decode(token).decode().partition(":")
        if user != "AWS" or not password:
            raise RuntimeError("berth's authorizationToken does not decode to AWS:<password>")
        basic = base64.b64encode(f"AWS:{password}".encode()).decode()
        self.auth_headers = {"Authorization": f"Basic {basic}"}

    def version(self) -> str:
        out = subprocess.run([str(self.binary), "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or out.stderr.strip()


class DistributionServer(ServerProcess):
    name = "distribution"

    def __init__(self, workdir: Path, name: str = "distribution", storage: Optional[str] = None):
        """`storage`: the driver's lines of config.yml's `storage:` block (indented two spaces);
        None: the filesystem driver on the data directory."""
        super().__init__(workdir)
        self.name = name
        self.storage = storage

    def environment(self) -> dict[str, str]:
        # The AWS SDK in 2.8 panics at start when AWS_CA_BUNDLE is set and its transport is the
        # registry's own ("unable to load custom CA bundle"); the gateway is plain http anyway.
        return {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}

    def command(self) -> list[str]:
        config = self.workdir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            "storage:\n"
            + (self.storage or f"  filesystem:\n    rootdirectory: {self.data_dir}\n") +
            "  delete:\n    enabled: true\n"
            "  cache:\n    blobdescriptor: inmemory\n"  # as Debian's and upstream's shipped config.yml
            "http:\n"
            f"  addr: 127.0.0.1:{self.port}\n"
            "  secret: berth-bench-fixed-http-secret\n")
        return [DISTRIBUTION_BIN, "serve", str(config)]

    def version(self) -> str:
        out = subprocess.run([DISTRIBUTION_BIN, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip()


# --- talking to a server -----------------------------------------------------------------------

class Client:
    """One keep-alive connection's worth of registry client: not thread-safe, one per thread."""

    def __init__(self, server: ServerProcess):
        self.base = server.url
        self.session = requests.Session()
        self.session.headers.update(server.auth_headers)

    def url(self, path_or_url: str) -> str:
        return urljoin(self.base + "/", path_or_url)

    def call(self, method: str, path_or_url: str, ok: tuple[int, ...], **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        return expect_status(self.session.request(method, self.url(path_or_url), **kwargs), ok)

    def close(self) -> None:
        self.session.close()


def location(r: requests.Response) -> str:
    loc = r.headers.get("Location")
    if not loc:
        raise WorkloadFailure(f"{describe(r.request.method, r.request.url)}: {r.status_code} without Location")
    return urljoin(r.request.url, loc)


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def check_digest_header(r: requests.Response, digest: str) -> None:
    got = r.headers.get("Docker-Content-Digest")
    if got is not None and got != digest:
        raise WorkloadFailure(f"{describe(r.request.method, r.request.url)}: Docker-Content-Digest "
                              f"expected {digest}, got {got}")


def push_blob(c: Client, repo: str, data: bytes, digest: str) -> None:
    """The upload every client supports: POST opens a session, PUT ?digest= carries the body."""
    r = c.call("POST", f"/v2/{repo}/blobs/uploads/", (202,))
    r = c.call("PUT", with_query(location(r), digest=digest), (201,), data=data, headers=OCTET)
    check_digest_header(r, digest)


def push_blob_single_post(c: Client, repo: str, data: bytes, digest: str) -> None:
    """The one-request monolithic upload: POST ?digest= with the whole body."""
    r = c.call("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", (201,), data=data, headers=OCTET)
    check_digest_header(r, digest)


def push_blob_chunked(c: Client, repo: str, data: bytes, digest: str, chunks: int) -> None:
    """POST, then `chunks` PATCHes with Content-Range, then PUT ?digest= without a body."""
    r = c.call("POST", f"/v2/{repo}/blobs/uploads/", (202,))
    url = location(r)
    step = -(-len(data) // chunks)
    for start in range(0, len(data), step):
        end = min(start + step, len(data))
        r = c.call("PATCH", url, (202,), data=data[start:end],
                   headers={**OCTET, "Content-Range": f"{start}-{end - 1}"})
        expect_equal(f"{describe('PATCH', url)}: Range after the chunk", f"0-{end - 1}", r.headers.get("Range"))
        url = location(r)
    r = c.call("PUT", with_query(url, digest=digest), (201,))
    check_digest_header(r, digest)


def check_blob(c: Client, repo: str, digest: str, size: int) -> None:
    r = c.call("HEAD", f"/v2/{repo}/blobs/{digest}", (200,))
    expect_equal(f"HEAD /v2/{repo}/blobs/{digest}: Content-Length", str(size), r.headers.get("Content-Length"))


@dataclass
class Blob:
    digest: str
    size: int
    data: Optional[bytes]


_RANDOM_MIB = os.urandom(MiB)


def make_blob(seed: str, size: int) -> Blob:
    """`size` incompressible bytes unique to `seed`: one random MiB, repeated, with every MiB
    stamped with the seed and its offset (fast: generating 256 MiB of fresh randomness is not)."""
    buf = bytearray(size)
    for off in range(0, size, MiB):
        end = min(off + MiB, size)
        buf[off:end] = _RANDOM_MIB[:end - off]
        stamp = f"{seed}@{off}".encode()[:end - off]
        buf[off:off + len(stamp)] = stamp
    data = bytes(buf)
    return Blob(sha256_digest(data), size, data)


@dataclass
class Image:
    config: Blob
    layers: list[Blob]
    manifest: bytes
    digest: str


def make_image(seed: str, layer_sizes: list[int]) -> Image:
    layers = [make_blob(f"{seed}/layer{i}", n) for i, n in enumerate(layer_sizes)]
    config_bytes = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"bench": seed}},
                               "rootfs": {"type": "layers", "diff_ids": [b.digest for b in layers]}},
                              separators=(",", ":")).encode()
    config = Blob(sha256_digest(config_bytes), len(config_bytes), config_bytes)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.digest, "size": config.size},
        "layers": [{"mediaType": OCI_LAYER, "digest": b.digest, "size": b.size} for b in layers],
    }, separators=(",", ":")).encode()
    return Image(config, layers, manifest, sha256_digest(manifest))


def put_manifest(c: Client, repo: str, reference: str, image: Image) -> None:
    r = c.call("PUT", f"/v2/{repo}/manifests/{reference}", (201,), data=image.manifest,
               headers={"Content-Type": OCI_MANIFEST})
    check_digest_header(r, image.digest)


def push_image(c: Client, repo: str, tag: str, image: Image) -> None:
    for blob in [*image.layers, image.config]:
        push_blob(c, repo, blob.data, blob.digest)
    put_manifest(c, repo, tag, image)


class LightClient:
    """GETs on one keep-alive http.client connection, for figures made of many small requests
    (the listings): about a third of requests' per-request cost, so the client stays out of them."""

    def __init__(self, server: ServerProcess):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT)
        self.headers = dict(server.auth_headers)

    def get(self, path: str) -> tuple[bytes, Optional[str]]:
        """The body of `path`, which must answer 200, and its Link header."""
        self.conn.request("GET", path, headers=self.headers)
        r = self.conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise WorkloadFailure(f"GET {path}: expected 200, got {r.status}: {body[:400].decode(errors='replace')}")
        return body, r.getheader("Link")

    def close(self) -> None:
        self.conn.close()


def next_link(link: Optional[str]) -> Optional[str]:
    """The path and query of a Link header's rel="next" target (it may be a path or a URL)."""
    m = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link or "")
    if not m:
        return None
    parts = urlsplit(m.group(1))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def walk_pages(c: LightClient, first: str, key: str, max_pages: int) -> tuple[list[str], int]:
    """Follows Link rel="next" from `first`; returns every `key` entry and the page count."""
    items: list[str] = []
    path: Optional[str] = first
    pages = 0
    while path:
        DEADLINE.check()
        pages += 1
        if pages > max_pages:
            raise WorkloadFailure(f"GET {first}: more than {max_pages} pages (a Link loop?)")
        body, link = c.get(path)
        items += json.loads(body).get(key) or []
        path = next_link(link)
    return items, pages


def download(conn: http.client.HTTPConnection, path: str, headers: dict[str, str], buf: memoryview,
             hasher=None) -> int:
    """GET `path` on a keep-alive http.client connection, reading straight into `buf` (a few
    syscalls per MiB, no copies: the client stays out of the way of a throughput figure)."""
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    if resp.status != 200:
        body = resp.read()[:400].decode(errors="replace")
        raise WorkloadFailure(f"GET {path}: expected 200, got {resp.status}: {body}")
    n = 0
    while True:
        k = resp.readinto(buf)
        if not k:
            break
        if hasher is not None:
            hasher.update(buf[:k])
        n += k
    return n


def parallel(target: "Target", workers: int, items: list, job: Callable[[Client, object], None]) -> None:
    """Runs job(client, item) for every item on `workers` threads, one keep-alive client each;
    the first failure cancels what has not started and is raised."""
    local = threading.local()
    clients: list[Client] = []
    lock = threading.Lock()

    def run(item) -> None:
        DEADLINE.check()
        c = getattr(local, "client", None)
        if c is None:
            c = local.client = target.client()
            with lock:
                clients.append(c)
        job(c, item)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, item) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for f in pending:
            f.cancel()
        for f in done:
            if f.exception() is not None:
                raise f.exception()
    for c in clients:
        c.close()


# --- one server under test ---------------------------------------------------------------------

@dataclass
class Target:
    name: str
    server: ServerProcess
    monitor: ProcessMonitor  # the server's processes: berth, or every berth node behind a proxy
    single_post_upload: bool = False  # whether POST ?digest= with a body completes an upload
    rss_idle_mib: float = 0.0
    pushed_big_blobs: set[str] = field(default_factory=set)  # by (a), for (c) to pull
    load_samples_kib: list[int] = field(default_factory=list)
    namespace: str = "bench"  # repositories the workloads push to go under it (image_push)
    # Other processes whose CPU each workload reports (figure cpu_s_<name>): the proxy, each
    # node, PostgreSQL, the gateway. Each callable returns cumulative CPU seconds.
    components: dict[str, Callable[[], float]] = field(default_factory=dict)

    def client(self) -> Client:
        return Client(self.server)

    def authorization(self) -> str:
        return self.server.auth_headers.get("Authorization", "")


def probe_single_post(t: Target) -> bool:
    """Distribution 2.8 answers POST ?digest= with 202 and opens a session instead of taking the
    body as the blob (the spec lets it); the monolithic workload then uses POST + PUT there."""
    c = t.client()
    data = b"berth bench probe"
    digest = sha256_digest(data)
    r = c.call("POST", f"/v2/bench/probe/blobs/uploads/?digest={digest}", (201, 202), data=data, headers=OCTET)
    if r.status_code == 202:
        c.session.delete(location(r), timeout=30)
        return False
    check_blob(c, "bench/probe", digest, len(data))
    return True


# --- the machine's own limits --------------------------------------------------------------------

def openssl_sha256_mb_s(seconds: int) -> float:
    """Single-core `openssl speed -evp sha256`, 16 KiB blocks only (-bytes), in MB/s (10^6)."""
    out = subprocess.run(["openssl", "speed", "-mr", "-seconds", str(seconds), "-bytes", "16384", "-evp", "sha256"],
                         capture_output=True, text=True, timeout=seconds * 10 + 30)
    m = re.search(r"^\+F:\d+:sha256:([\d.]+)", out.stdout, re.M)
    if not m:
        raise RuntimeError(f"unexpected openssl speed output: {out.stdout[-300:]} {out.stderr[-300:]}")
    return float(m.group(1)) / 1e6


def loopback_mib_s(seconds: float) -> float:
    """One TCP stream over 127.0.0.1, 1 MiB sendall()/recv_into() calls (the GIL is released in
    both), for `seconds`: what one connection can carry, an upper bound for a blob pull."""
    server = socket.create_server(("127.0.0.1", 0))
    received = [0]

    def sink() -> None:
        conn, _ = server.accept()
        with conn:
            buf = memoryview(bytearray(MiB))
            while n := conn.recv_into(buf):
                received[0] += n

    reader = threading.Thread(target=sink, daemon=True)
    reader.start()
    payload = bytes(MiB)
    with socket.create_connection(server.getsockname()) as out:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            out.sendall(payload)
        out.shutdown(socket.SHUT_WR)
        reader.join(timeout=30)
        elapsed = time.monotonic() - start
    server.close()
    return received[0] / MiB / elapsed


def disk_fsync_mib_s(directory: Path, mib: int) -> float:
    """`dd if=/dev/zero bs=1M count=N conv=fsync` into the benchmark's temp directory."""
    path = directory / "dd.bin"
    start = time.monotonic()
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={mib}", "conv=fsync"],
                   check=True, capture_output=True, timeout=600)
    elapsed = time.monotonic() - start
    path.unlink()
    return mib / elapsed


def filesystem_type(directory: Path) -> str:
    out = subprocess.run(["stat", "-f", "-c", "%T", str(directory)], capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def machine_limits(sizes: Sizes, tmp: Path) -> dict:
    return {
        "cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
                          platform.processor()),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "tmp_filesystem": filesystem_type(tmp),
        "load_average_at_start": os.getloadavg()[0],
        "sha256_16k_mb_s": openssl_sha256_mb_s(sizes.openssl_seconds),
        "loopback_mib_s": loopback_mib_s(sizes.loopback_seconds),
        "disk_write_fsync_mib_s": disk_fsync_mib_s(tmp, sizes.dd_mib),
    }


# --- micro-benchmarks --------------------------------------------------------------------------

def run_micro(binary: Path, min_time: float, tmp: Path) -> list[dict]:
    out_path = tmp / "micro.json"
    proc = subprocess.run([str(binary), f"--benchmark_min_time={min_time}", f"--benchmark_out={out_path}",
                           "--benchmark_out_format=json"], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or not out_path.exists():
        raise WorkloadFailure(f"{binary.name} exited with {proc.returncode}: {proc.stderr[-1000:]}")
    results = []
    for b in json.loads(out_path.read_text())["benchmarks"]:
        if b.get("error_occurred"):
            raise WorkloadFailure(f"micro-benchmark {b['name']}: {b.get('error_message')}")
        results.append({k: b[k] for k in ("name", "iterations", "real_time", "cpu_time", "time_unit",
                                          "bytes_per_second", "items_per_second", "threads") if k in b})
    return results


# --- the workloads -----------------------------------------------------------------------------
# Each takes a Target, the shared payloads and the sizes, and returns its figures. Payloads are
# generated once (outside every timed region) so both servers see exactly the same bytes.

class Payloads:
    def __init__(self, sizes: Sizes):
        self.sizes = sizes
        self._lock = threading.Lock()
        self._cache: dict[str, object] = {}

    def _memo(self, key: str, make: Callable[[], object]):
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]

    def big_blobs(self, flow: str) -> list[Blob]:
        n = self.sizes.blob_mib * MiB
        return self._memo(f"big/{flow}", lambda: [make_blob(f"big/{flow}/{i}", n) for i in range(self.sizes.blob_reps)])

    def release_big_blob_bytes(self) -> None:
        for key, blobs in self._cache.items():
            if key.startswith("big/"):
                for b in blobs:
                    b.data = None

    def manifest_image(self) -> Image:
        return self._memo("manifest", lambda: make_image("manifest", [1024]))

    def small_images(self) -> list[Image]:
        return self._memo("small", lambda: [make_image(f"small/{i}", [1024]) for i in range(self.sizes.images)])

    def tiny_image(self) -> Image:
        return self._memo("tiny", lambda: make_image("tiny", []))

    def pull_image(self) -> Image:
        return self._memo("pull", lambda: make_image("pull", [self.sizes.pull_layer_mib * MiB] * 3))


def mib_s(nbytes: int, seconds: float) -> float:
    return nbytes / MiB / seconds if seconds > 0 else float("nan")


def blob_push_monolithic(t: Target, p: Payloads, sizes: Sizes) -> dict:
    """(a) The whole blob in one request body: POST ?digest= where the server supports it, else
    (Distribution 2.8) POST then PUT ?digest= with the body. Each repetition is a new blob."""
    c = t.client()
    push = push_blob_single_post if t.single_post_upload else push_blob
    seconds = []
    for blob in p.big_blobs("monolithic"):
        DEADLINE.check()
        start = time.monotonic()
        push(c, "bench/blobs", blob.data, blob.digest)
        seconds.append(time.monotonic() - start)
        check_blob(c, "bench/blobs", blob.digest, blob.size)
        t.pushed_big_blobs.add(blob.digest)
    c.close()
    return {"push_mib_s": mib_s(sizes.blob_mib * MiB, median(seconds)), "push_seconds": seconds,
            "requests": "POST ?digest=" if t.single_post_upload else "POST + PUT ?digest="}


def blob_push_chunked(t: Target, p: Payloads, sizes: Sizes) -> dict:
    """(b) POST, PATCH x blob_chunks with Content-Range, PUT ?digest=."""
    c = t.client()
    seconds = []
    for blob in p.big_blobs("chunked"):
        DEADLINE.check()
        start = time.monotonic()
        push_blob_chunked(c, "bench/blobs", blob.data, blob.digest, sizes.blob_chunks)
        seconds.append(time.monotonic() - start)
        check_blob(c, "bench/blobs", blob.digest, blob.size)
    c.close()
    return {"push_mib_s": mib_s(sizes.blob_mib * MiB, median(seconds)), "push_seconds": seconds}


def blob_pull(t: Target, p: Payloads, sizes: Sizes) -> dict:
    """(c) GET of each blob (a) pushed, on one keep-alive connection. The timed reads only count
    bytes; one untimed extra GET per blob checks the digest."""
    headers = dict(t.server.auth_headers)
    buf = memoryview(bytearray(MiB))
    conn = http.client.HTTPConnection("127.0.0.1", t.server.port, timeout=REQUEST_TIMEOUT)
    seconds = []
    try:
        for blob in p.big_blobs("monolithic"):
            DEADLINE.check()
            if blob.digest not in t.pushed_big_blobs:
                raise WorkloadFailure(f"nothing to pull: blob_push_monolithic did not push {blob.digest}")
            path = f"/v2/bench/blobs/blobs/{blob.digest}"
            hasher = hashlib.sha256()
            n = download(conn, path, headers, buf, hasher)
            expect_equal(f"GET {path}: length", blob.size, n)
            expect_equal(f"GET {path}: content digest", blob.digest, "sha256:" + hasher.hexdigest())
            start = time.monotonic()
            n = download(conn, path, headers, buf)
            seconds.append(time.monotonic() - start)
            expect_equal(f"GET {path}: length", blob.size, n)
    finally:
        conn.close()
    return {"pull_mib_s": mib_s(sizes.blob_mib * MiB, median(seconds)), "pull_seconds": seconds}


LOADGEN: Optional[Path] = None  # tests/bench/loadgen.cc, built by bench.sh


def run_load(tool: str, t: Target, method: str, path: str, sizes: Sizes) -> dict:
    """`wrk` (with manifest.lua) or berth_loadgen for wrk_seconds on wrk_connections keep-alive
    connections; both print the same BENCH_RESULT line."""
    env = dict(os.environ, BENCH_METHOD=method, BENCH_ACCEPT=MANIFEST_ACCEPT, BENCH_AUTHORIZATION=t.authorization())
    if tool == "wrk":
        cmd = ["wrk", "-t2", f"-c{sizes.wrk_connections}", f"-d{sizes.wrk_seconds}s", "--timeout", "5s",
               "--latency", "-s", str(WRK_SCRIPT), t.server.url + path]
    else:
        if LOADGEN is None:
            raise WorkloadFailure("no berth_loadgen binary (--loadgen)")
        cmd = [str(LOADGEN), "--port", str(t.server.port), "--path", path, "--method", method,
               "--connections", str(sizes.wrk_connections), "--threads", "2", "--seconds", str(sizes.wrk_seconds)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=sizes.wrk_seconds + 120, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r"^BENCH_RESULT (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or not m:
        raise WorkloadFailure(f"{tool} {method} {path} exited with {proc.returncode}: "
                              f"{proc.stdout[-500:]} {proc.stderr[-500:]}")
    result = json.loads(m.group(1))
    # The load generator's own CPU (it is a child this process waited for), as a share of one core.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["client_cpu_pct"] = 100 * cpu / max(result.get("duration_us", 0) / 1e6, 1e-9)
    return result


def manifest_requests(method: str, tool: str) -> Callable[[Target, Payloads, Sizes], dict]:
    def workload(t: Target, p: Payloads, sizes: Sizes) -> dict:
        """(d) wrk_connections keep-alive connections asking for one manifest by tag for
        wrk_seconds: requests/s, latency percentiles, and server CPU per request (utime+stime
        delta / requests). GET uses wrk; HEAD uses berth_loadgen, since wrk 4.1 waits forever for
        the body a HEAD response announces; berth_loadgen also runs GET, to check it against wrk."""
        image = p.manifest_image()
        path = "/v2/bench/manifest/manifests/latest"
        c = t.client()
        push_image(c, "bench/manifest", "latest", image)
        r = c.call(method, path, (200,), headers={"Accept": MANIFEST_ACCEPT})
        check_digest_header(r, image.digest)
        expect_equal(f"{method} {path}: Content-Length", str(len(image.manifest)), r.headers.get("Content-Length"))
        if method == "GET":
            expect_equal(f"GET {path}: body digest", image.digest, sha256_digest(r.content))
        c.close()
        cpu_before = t.monitor.cpu_seconds()
        w = run_load(tool, t, method, path, sizes)
        cpu = t.monitor.cpu_seconds() - cpu_before
        errors = {k: v for k, v in w.items() if k.startswith("errors_") and v}
        if errors or w["requests"] == 0:
            raise WorkloadFailure(f"{tool} {method} {path}: expected only 200s, got {w['requests']} responses "
                                  f"and errors {errors}")
        return {"requests_s": w["requests"] / (w["duration_us"] / 1e6), "p50_ms": w["latency_p50_us"] / 1e3,
                "p99_ms": w["latency_p99_us"] / 1e3, "cpu_us_per_request": cpu / w["requests"] * 1e6,
                "requests": w["requests"], "load_s": w["duration_us"] / 1e6, "client_cpu_pct": w["client_cpu_pct"],
                "tool": tool, "raw": w}
    workload.__name__ = f"manifest_{method.lower()}_{tool}"
    return workload


@contextmanager
def client_cpu():
    """This harness's own CPU over a block, as a share of the wall time: near 100% (one core, the
    GIL) means the Python client, not the server, may be what limits the figure."""
    out = {}
    cpu0, wall0 = time.process_time(), time.monotonic()
    yield out
    out["client_cpu_pct"] = 100 * (time.process_time() - cpu0) / max(time.monotonic() - wall0, 1e-9)


def image_push(t: Target, p: Payloads, sizes: Sizes) -> dict:
    """(e) `push_images` images (a unique 1 KiB layer, a config, a manifest) by berth_loadgen on
    `image_clients` keep-alive connections, each blob as POST + PUT ?digest= with the body on both
    servers, as the Python row and docker and containerd do (berth_loadgen --single-post 1 would
    send one POST ?digest= instead; the row keeps today's protocol). The images are made before the clock starts; the figure is the
    server's, with the client's CPU beside it. An untimed check reads back the tag count and the
    first image's manifest."""
    if LOADGEN is None:
        raise WorkloadFailure("no berth_loadgen binary (--loadgen)")
    repo = f"{t.namespace}/pushes"
    env = dict(os.environ, BENCH_AUTHORIZATION=t.authorization())
    cmd = [str(LOADGEN), "--mode", "push", "--port", str(t.server.port), "--repo", repo,
           "--images", str(sizes.push_images), "--tag-prefix", "img-",
           "--single-post", "0",
           "--connections", str(sizes.image_clients), "--threads", "2", "--seconds", "300"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    m = re.search(r"^BENCH_RESULT (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or not m:
        raise WorkloadFailure(f"berth_loadgen push exited with {proc.returncode}: {proc.stdout[-500:]} "
                              f"{proc.stderr[-500:]}")
    w = json.loads(m.group(1))
    errors = {k: v for k, v in w.items() if k.startswith("errors_") and v}
    if errors or w["unfinished"] or w["images"] != sizes.push_images:
        raise WorkloadFailure(f"berth_loadgen push to {repo}: {w['images']} of {sizes.push_images} images pushed, "
                              f"errors {errors}; {proc.stderr.strip()[-300:]}")
    c = t.client()
    tags = c.call("GET", f"/v2/{repo}/tags/list", (200,)).json().get("tags") or []
    expect_equal(f"GET /v2/{repo}/tags/list: tag count", sizes.push_images, len(set(tags)))
    r = c.call("GET", f"/v2/{repo}/manifests/{w['first_tag']}", (200,), headers={"Accept": MANIFEST_ACCEPT})
    expect_equal(f"GET /v2/{repo}/manifests/{w['first_tag']}: body digest", w["first_manifest_digest"],
                 sha256_digest(r.content))
    c.close()
    return {"images_s": w["images_s"], "seconds": w["duration_us"] / 1e6, "client_cpu_pct": w["client_cpu_pct"],
            "p50_ms": w["latency_p50_us"] / 1e3, "p99_ms": w["latency_p99_us"] / 1e3,
            "images": w["images"], "raw": w}


def image_push_python(t: Target, p: Payloads, sizes: Sizes) -> dict:
    """(e, secondary) `images` images (a unique 1 KiB layer, a config, a manifest) by `image_clients` parallel
    keep-alive clients, each blob as POST + PUT ?digest= (what docker and containerd send)."""
    images = p.small_images()
    with client_cpu() as cpu:
        start = time.monotonic()
        parallel(t, sizes.image_clients, list(enumerate(images)),
                 lambda c, item: push_image(c, "bench/images", f"img-{item[0]:04d}", item[1]))
        seconds = time.monotonic() - start
    c = t.client()
    tags = c.call("GET", "/v2/bench/images/tags/list", (200,)).json().get("tags") or []
    expect_equal("GET /v2/bench/images/tags/list: tag count", len(images), len(set(tags)))
    r = c.call("GET", "/v2/bench/images/manifests/img-0000", (200,), headers={"Accept": MANIFEST_ACCEPT})
    expect_equal("GET /v2/bench/images/manifests/img-0000: body digest", images[0].digest, sha256_digest(r.content))
    c.close()
    return {"images_s": len(images) / seconds, "seconds": seconds, **cpu}


def tag_listing(t: Target, p: Payloads, sizes: Sizes) -> dict:
    """(f) One manifest under `tags` tags (PUT by `populate_clients` connections), then the full
    tag list and a walk of n=page_size pages following Link."""
    image = p.tiny_image()
    repo = "bench/tags"
    tags = [f"t{i:05d}" for i in range(sizes.tags)]
    c = t.client()
    push_image(c, repo, tags[0], image)
    with client_cpu() as cpu:
        start = time.monotonic()
        parallel(t, sizes.populate_clients, tags[1:], lambda cl, tag: put_manifest(cl, repo, tag, image))
        populate_seconds = time.monotonic() - start
    c.close()
    light = LightClient(t.server)
    full_ms, paged_ms, pages = [], [], 0
    for _ in range(sizes.list_reps):
        start = time.monotonic()
        body, _ = light.get(f"/v2/{repo}/tags/list")
        full_ms.append((time.monotonic() - start) * 1e3)
        got = json.loads(body).get("tags") or []
        expect_equal(f"GET /v2/{repo}/tags/list: the tags", sorted(tags), sorted(got))
        start = time.monotonic()
        first = f"/v2/{repo}/tags/list?n={sizes.page_size}"
        got, pages = walk_pages(light, first, "tags", sizes.tags // sizes.page_size + 10)
        paged_ms.append((time.monotonic() - start) * 1e3)
        expect_equal(f"GET {first} and its Link pages: the tags", sorted(tags), sorted(got))
    light.close()
    return {"tag_puts_s": (len(tags) - 1) / populate_seconds, "populate_client_cpu_pct": cpu["client_cpu_pct"],
            "full_list_ms": median(full_ms), "paged_walk_ms": median(paged_ms), "pages": pages}


def catalog_listing(t: Target, p: Payloads, sizes: Sizes) -> dict:
    """(f) A tiny image pushed into `repos` repositories (by `populate_clients` connections), then
    a walk of the whole _catalog in n=page_size pages following Link."""
    image = p.tiny_image()
    repos = [f"cat/r{i:05d}" for i in range(sizes.repos)]
    with client_cpu() as cpu:
        start = time.monotonic()
        parallel(t, sizes.populate_clients, repos, lambda c, repo: push_image(c, repo, "v1", image))
        populate_seconds = time.monotonic() - start
    c = LightClient(t.server)
    walk_ms, pages, listed = [], 0, []
    for _ in range(sizes.list_reps):
        start = time.monotonic()
        first = f"/v2/_catalog?n={sizes.page_size}"
        listed, pages = walk_pages(c, first, "repositories", sizes.repos // sizes.page_size + 50)
        walk_ms.append((time.monotonic() - start) * 1e3)
        expect_equal(f"GET {first} and its Link pages: entries listed twice", 0, len(listed) - len(set(listed)))
        expect_equal(f"GET {first} and its Link pages: the cat/ repositories", repos,
                     sorted(r for r in listed if r.startswith("cat/")))
    c.close()
    return {"repo_pushes_s": len(repos) / populate_seconds, "populate_client_cpu_pct": cpu["client_cpu_pct"],
            "walk_ms": median(walk_ms), "pages": pages, "repositories_listed": len(listed)}


def concurrent_pull(t: Target, p: Payloads, sizes: Sizes) -> dict:
    """(g) `pull_clients` clients, each on its own new connection, pull the same image (manifest +
    3 layers) at once. Timed reads check lengths (and, in smoke mode, digests); one untimed pull
    checks every digest."""
    image = p.pull_image()
    repo = "bench/pull"
    c = t.client()
    push_image(c, repo, "latest", image)
    c.close()
    headers = dict(t.server.auth_headers)
    manifest_headers = {**headers, "Accept": MANIFEST_ACCEPT}
    hash_all = sizes.mode == "smoke"

    def pull_once(hashed: bool) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", t.server.port, timeout=REQUEST_TIMEOUT)
        try:
            buf = memoryview(bytearray(MiB))
            path = f"/v2/{repo}/manifests/latest"
            mbuf = memoryview(bytearray(len(image.manifest) + 1))
            hasher = hashlib.sha256()
            n = download(conn, path, manifest_headers, mbuf, hasher)
            expect_equal(f"GET {path}: manifest digest", image.digest, "sha256:" + hasher.hexdigest())
            for blob in image.layers:
                path = f"/v2/{repo}/blobs/{blob.digest}"
                hasher = hashlib.sha256() if hashed else None
                n = download(conn, path, headers, buf, hasher)
                expect_equal(f"GET {path}: length", blob.size, n)
                if hasher is not None:
                    expect_equal(f"GET {path}: content digest", blob.digest, "sha256:" + hasher.hexdigest())
        finally:
            conn.close()

    pull_once(hashed=True)
    barrier = threading.Barrier(sizes.pull_clients + 1, timeout=60)
    finished: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client() -> None:
        try:
            barrier.wait()
            pull_once(hash_all)
            with lock:
                finished.append(time.monotonic())
        except BaseException as e:  # reported below, in the main thread
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(sizes.pull_clients)]
    for th in threads:
        th.start()
    with client_cpu() as cpu:
        barrier.wait()
        start = time.monotonic()
        for th in threads:
            th.join(timeout=max(1.0, DEADLINE.end - time.monotonic()))
    if errors:
        raise errors[0]
    if len(finished) != sizes.pull_clients:
        raise WorkloadFailure(f"{sizes.pull_clients - len(finished)} pull clients did not finish in time")
    seconds = max(finished) - start
    total = sizes.pull_clients * (sum(b.size for b in image.layers) + len(image.manifest))
    latencies = sorted(f - start for f in finished)
    return {"seconds": seconds, "mib_s": mib_s(total, seconds), "client_p50_s": median(latencies), **cpu}



# --- (i) DescribeImages with scan findings summaries (berth only) -----------------------------

def percentile(values: list[float], q: float) -> float:
    """The nearest-rank `q` percentile (0 < q <= 1)."""
    ordered = sorted(values)
    return ordered[max(0, -(-int(q * 100) * len(ordered) // 100) - 1)]


def alpine_layer() -> Blob:
    """A gzip'd tar layer holding Alpine 3.18's installed apk database and an os-release
    (tests/testdata/pkgdb, as tests/api/test_scan_findings.py scans it)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("etc", "lib", "lib/apk", "lib/apk/db"):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for path, data in (("etc/os-release", ALPINE_OS_RELEASE), ("lib/apk/db/installed", APK_DB)):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    data = gzip.compress(raw.getvalue(), mtime=0)
    return Blob(sha256_digest(data), len(data), data)


def alpine_image(seed: str, layer: Blob) -> Image:
    """An image of `layer` whose config (a label) makes its digest its own."""
    config_bytes = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"bench": seed}},
                               "rootfs": {"type": "layers", "diff_ids": [layer.digest]}},
                              separators=(",", ":")).encode()
    config = Blob(sha256_digest(config_bytes), len(config_bytes), config_bytes)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config.digest, "size": config.size},
        "layers": [{"mediaType": OCI_LAYER + "+gzip", "digest": layer.digest, "size": layer.size}],
    }, separators=(",", ":")).encode()
    return Image(config, [layer], manifest, sha256_digest(manifest))


def wait_for(what: str, seconds: float, poll: Callable[[], bool]) -> None:
    end = min(time.monotonic() + seconds, DEADLINE.end)
    while not poll():
        if time.monotonic() > end:
            raise WorkloadFailure(f"{what}: not within {seconds:.0f}s")
        time.sleep(0.2)


def describe_images(t: Target, p: Payloads, sizes: Sizes) -> dict:
    """(i) berth only: Distribution has no ECR API (its cells read n/a). One repository of
    `scan_images` tagged images carrying Alpine 3.18's installed database, described before and
    after they are scanned (StartImageScan on each, against the Alpine secdb advisories of
    tests/testdata/osv imported with `berth advisories import`; SBOMs generated, as by default), so
    "before" is the current latency of the very same images. Each phase times `describe_calls`
    calls of two listings, alternated call by call: the default one (maxResults 100), which after
    the scan also lists the untagged SBOM referrers berth pushes, and the tagged one (tagStatus
    TAGGED), which holds exactly the same images in both phases, so its after/before ratio is what
    the findings summaries cost. Each call is the request boto3 sends, SigV4-signed by botocore
    before the clock starts and parsed after it stops, on one keep-alive connection: the figure is
    the server's answer, not boto3's CPU. Every answer is checked: before the scan no image has a
    scan status; after it each image's findings summary equals what DescribeImageScanFindings
    counts for it, which must be the findings the secdb gives (support/scan_data.py), and the
    default listing holds the images and their SBOM referrers and nothing else."""
    if not isinstance(t.server, BerthServer):
        return {}
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials

    ecr = boto3.client("ecr", endpoint_url=t.server.url, region_name=REGION,
                       aws_access_key_id=ADMIN_ACCESS_KEY_ID, aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
                       config=Config(retries={"max_attempts": 1}))
    source = OSV / "alpine-secdb-vuln-list"
    proc = subprocess.run([str(t.server.binary), "advisories", "import", "--data-dir", str(t.server.data_dir),
                           str(source)], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise WorkloadFailure(f"berth advisories import {source}: exit {proc.returncode}: {proc.stderr[-500:]}")
    repo = f"{t.namespace}/describe-images"
    ecr.create_repository(repositoryName=repo)  # no scan-on-push: the scans start after "before"
    layer = alpine_layer()
    images = [alpine_image(f"describe/{i}", layer) for i in range(sizes.scan_images)]
    c = t.client()
    for i, image in enumerate(images):
        push_image(c, repo, f"v{i:03d}", image)
    c.close()
    image_digests = sorted(i.digest for i in images)

    listings = {"all": {}, "tagged": {"tagStatus": "TAGGED"}}

    def page(listing: str) -> dict:
        kwargs = {"filter": listings[listing]} if listings[listing] else {}
        return ecr.describe_images(repositoryName=repo, maxResults=100, **kwargs)

    def statuses() -> list[str]:
        return [d.get("imageScanStatus", {}).get("status", "none") for d in page("tagged")["imageDetails"]]

    def untagged() -> list[str]:
        return sorted(i["imageDigest"] for i in
                      ecr.list_images(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})["imageIds"])

    expected_counts: dict[str, dict] = {}
    sboms: list[str] = []

    def check(phase: str, listing: str, answer: dict) -> None:
        what = f"DescribeImages {repo} ({listing}, {phase} the scan)"
        details = answer["imageDetails"]
        if "nextToken" in answer:
            raise WorkloadFailure(f"{what}: a nextToken on a page of {len(details)} of 100")
        expected = image_digests if listing == "tagged" or phase == "before" else sorted(image_digests + sboms)
        expect_equal(f"{what}: images", expected, sorted(d["imageDigest"] for d in details))
        for d in details:
            if phase == "before" or d["imageDigest"] in sboms:
                if "imageScanStatus" in d or "imageScanFindingsSummary" in d:
                    raise WorkloadFailure(f"{what}: {d['imageDigest']} has a scan status")
                if d["imageDigest"] in sboms and not d.get("artifactMediaType"):
                    raise WorkloadFailure(f"{what}: SBOM {d['imageDigest']} has no artifactMediaType")
                continue
            summary = d.get("imageScanFindingsSummary")
            if summary is None or d.get("imageScanStatus", {}).get("status") != "COMPLETE":
                raise WorkloadFailure(f"{what}: {d['imageDigest']} has no completed scan summary")
            expect_equal(f"{what}: findingSeverityCounts of {d['imageDigest']}",
                         expected_counts[d["imageDigest"]], summary.get("findingSeverityCounts", {}))

    # The timed calls: the same request as boto3's, SigV4-signed by botocore before the clock
    # starts, sent on one keep-alive connection; the answer is parsed after it stops.
    credentials = Credentials(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY)

    def signed(listing: str) -> tuple[bytes, dict[str, str]]:
        request_body: dict = {"repositoryName": repo, "maxResults": 100}
        if listings[listing]:
            request_body["filter"] = listings[listing]
        body = json.dumps(request_body).encode()
        request = AWSRequest(method="POST", url=t.server.url + "/", data=body, headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeImages"})
        SigV4Auth(credentials, "ecr", REGION).add_auth(request)
        return body, dict(request.headers.items())

    figures: dict = {"images": len(images)}

    def timed_phase(phase: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", t.server.port, timeout=REQUEST_TIMEOUT)
        try:
            for listing in listings:
                check(phase, listing, page(listing))  # boto3's answer too; also warms both up
            latencies: dict[str, list[float]] = {listing: [] for listing in listings}
            answer_bytes: dict[str, list[int]] = {listing: [] for listing in listings}
            for _ in range(sizes.describe_calls):
                for listing in listings:
                    DEADLINE.check()
                    body, headers = signed(listing)
                    start = time.perf_counter()
                    conn.request("POST", "/", body=body, headers=headers)
                    r = conn.getresponse()
                    data = r.read()
                    latencies[listing].append((time.perf_counter() - start) * 1e3)
                    if r.status != 200:
                        raise WorkloadFailure(f"DescribeImages {repo}: status {r.status}: {data[:300]!r}")
                    check(phase, listing, json.loads(data))
                    answer_bytes[listing].append(len(data))
            for listing in listings:
                figures[f"{phase}_{listing}_p50_ms"] = median(latencies[listing])
                figures[f"{phase}_{listing}_p90_ms"] = percentile(latencies[listing], 0.9)
                figures[f"{phase}_{listing}_answer_bytes"] = median(answer_bytes[listing])
        finally:
            conn.close()

    timed_phase("before")

    for image in images:
        ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": image.digest})
    wait_for(f"scans of the {len(images)} images of {repo} (StartImageScan)", 300,
             lambda: all(s not in ("PENDING", "IN_PROGRESS", "none") for s in statuses()))
    expect_equal(f"DescribeImages {repo}: scan statuses", ["COMPLETE"] * len(images), statuses())
    # Each completed scan pushes an SBOM referrer: wait for them, so that no push runs while timing.
    try:
        wait_for("SBOM referrers", 60, lambda: len(untagged()) >= len(images))
    except WorkloadFailure:
        pass  # the default listing is checked against whatever is there
    sboms.extend(untagged())

    # What each image's summary must say: DescribeImageScanFindings' own counts of its findings,
    # and the findings the secdb gives for the installed packages.
    for image in images:
        found = all_findings(ecr, repo, image.digest, 100)
        if image is images[0]:
            expect_equal(f"DescribeImageScanFindings {repo}@{image.digest}: findings",
                         sorted(expected_alpine()), sorted(findings_set(found)))
        expected_counts[image.digest] = found["imageScanFindings"].get("findingSeverityCounts", {})
    total = sum(expected_counts[images[0].digest].values())
    if total == 0:
        raise WorkloadFailure(f"{repo}: the scanned images have no findings")
    figures.update({"findings_per_image": total, "sbom_referrers": len(sboms)})

    timed_phase("after")
    for listing in listings:
        figures[f"{listing}_after_over_before"] = (figures[f"after_{listing}_p50_ms"] /
                                                   figures[f"before_{listing}_p50_ms"])
    return figures


# In running order; (h), memory and CPU, is observed around all of them.
WORKLOADS: list[tuple[str, Callable[[Target, Payloads, Sizes], dict]]] = [
    ("blob_push_monolithic", blob_push_monolithic),                 # (a)
    ("blob_push_chunked", blob_push_chunked),                       # (b)
    ("blob_pull", blob_pull),                                       # (c)
    ("manifest_get", manifest_requests("GET", "wrk")),              # (d)
    ("manifest_head", manifest_requests("HEAD", "loadgen")),        # (d)
    ("manifest_get_loadgen", manifest_requests("GET", "loadgen")),  # (d) the two tools, compared
    ("image_push", image_push),                                     # (e) berth_loadgen
    ("image_push_python", image_push_python),                       # (e) the Python client, as before
    ("tag_listing", tag_listing),                                   # (f)
    ("catalog_listing", catalog_listing),                           # (f)
    ("concurrent_pull", concurrent_pull),                           # (g)
    ("describe_images", describe_images),                           # (i) berth only
]


def run_workload(name: str, fn, targets: list[Target], payloads: Payloads, sizes: Sizes,
                 results: dict, failures: list[str]) -> None:
    results[name] = {}
    for t in targets:
        label = f"{name} against {t.name}"
        print(f"  {label} ...", end="", flush=True)
        results[name][t.name] = None  # attempted: None until it succeeds (the report says FAILED)
        if not t.server.alive():
            failures.append(f"{label}: the server is not running (exit code {t.server.proc.returncode})")
            print(" skipped, server not running", flush=True)
            continue
        os.sync()  # the other server's dirty pages are not this one's cost
        cpu_before = t.monitor.cpu_seconds()
        components_before = {k: f() for k, f in t.components.items()}
        start = time.monotonic()
        with t.monitor.window() as samples:
            try:
                figures = fn(t, payloads, sizes)
            except Exception as e:  # every failure is reported; the next workload still runs
                figures = None
                message = str(e) if isinstance(e, WorkloadFailure) else f"{type(e).__name__}: {e}"
                if not t.server.alive():
                    message += (f" (the server exited with {t.server.proc.returncode}; log tail:\n"
                                f"{t.server.log_tail()})")
                failures.append(f"{label}: {message}")
        t.load_samples_kib += samples
        elapsed = time.monotonic() - start
        if figures is None:
            print(f" FAILED ({elapsed:.1f}s)", flush=True)
            continue
        figures["server_cpu_s"] = t.monitor.cpu_seconds() - cpu_before if t.server.alive() else float("nan")
        figures["server_rss_max_mib"] = max(samples, default=0) / 1024
        figures["wall_s"] = elapsed
        # Each component's CPU as a share of one core over the loaded part of the workload (its
        # few untimed set-up requests are counted in the CPU, not in the time: a slight overstatement).
        busy = figures.get("load_s", figures.get("seconds", elapsed))
        figures["cpu_pct_server"] = 100 * figures["server_cpu_s"] / busy
        for k, f in t.components.items():
            figures[f"cpu_s_{k}"] = f() - components_before[k]
            figures[f"cpu_pct_{k}"] = 100 * figures[f"cpu_s_{k}"] / busy
            if isinstance(figures.get("requests"), int) and figures["requests"]:
                figures[f"cpu_us_per_request_{k}"] = figures[f"cpu_s_{k}"] / figures["requests"] * 1e6
        results[name][t.name] = figures
        print(f" {elapsed:.1f}s", flush=True)


# --- scale-out rows: PostgreSQL metadata, blobs in S3 (Ceph RGW), two nodes behind haproxy ----

REPO_ROOT = HERE.parents[1]
INFRA = REPO_ROOT / "tests" / "infra"


class Services:
    """A throwaway PostgreSQL (tests/infra/pg-up.sh) and a single-node Ceph RADOS Gateway
    (tests/infra/ceph-up.sh), started side by side; stop() stops whatever of them started."""

    def __init__(self):
        self.dsn = ""
        self.ceph_dir: Optional[Path] = None
        self.s3: dict[str, str] = {}

    def start(self, tmp: Path, sizes: Sizes) -> None:
        # Short: the gateway's admin sockets must fit in 107 bytes.
        self.ceph_dir = Path(tempfile.mkdtemp(prefix="ceph.", dir="/tmp"))
        env = dict(os.environ)
        # The OSD keeps objects in RAM (memstore): room for every big blob both servers push.
        env.setdefault("MEMSTORE_BYTES", str(max(4 << 30, 10 * sizes.blob_reps * sizes.blob_mib * MiB)))
        with open(tmp / "services.log", "ab") as log:
            pg = subprocess.Popen([str(INFRA / "pg-up.sh")], stdout=subprocess.PIPE, stderr=log,
                                  stdin=subprocess.DEVNULL)
            ceph = subprocess.Popen([str(INFRA / "ceph-up.sh"), str(self.ceph_dir)], stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL, env=env)
            try:
                out, _ = pg.communicate(timeout=120)
                ceph.wait(timeout=180)
            except subprocess.TimeoutExpired:
                pg.kill()
                ceph.kill()
                raise RuntimeError(f"PostgreSQL or the gateway did not start within minutes; see {tmp}/services.log")
        self.dsn = out.decode().strip() if pg.returncode == 0 else ""
        if pg.returncode != 0 or not self.dsn:
            raise RuntimeError(f"tests/infra/pg-up.sh exited with {pg.returncode}: "
                               f"{(tmp / 'services.log').read_text(errors='replace')[-1500:]}")
        if ceph.returncode != 0:
            raise RuntimeError(f"tests/infra/ceph-up.sh exited with {ceph.returncode}: "
                               f"{(tmp / 'services.log').read_text(errors='replace')[-1500:]}")
        for line in (self.ceph_dir / "env").read_text().splitlines():
            m = re.match(r"export BERTH_TEST_S3_(\w+)=(.*)$", line)
            if m:
                self.s3[m.group(1).lower()] = m.group(2)

    def fresh_database(self, name: str) -> str:
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.dsn, "-c", f"CREATE DATABASE {name}"],
                       check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        return f"{self.dsn} dbname={name}"

    def berth_s3(self, bucket: str) -> str:
        """A berth `storage:` value naming `bucket` on the gateway (berth creates the bucket)."""
        s3 = {"endpoint": self.s3["endpoint"], "region": self.s3.get("region", REGION), "bucket": bucket,
              "access-key-id": self.s3["access_key"], "secret-access-key": self.s3["secret_key"], "path-style": "true"}
        return "{s3: {" + ", ".join(f'{k}: "{v}"' for k, v in s3.items()) + "}}"

    def distribution_s3(self, bucket: str) -> str:
        """Distribution 2.8's s3-aws driver on `bucket`, which it needs to exist: made here. 2.8
        addresses buckets path-style whenever regionendpoint is set (forcepathstyle came later)."""
        import boto3

        boto3.client("s3", endpoint_url=self.s3["endpoint"], region_name=self.s3.get("region", REGION),
                     aws_access_key_id=self.s3["access_key"],
                     aws_secret_access_key=self.s3["secret_key"]).create_bucket(Bucket=bucket)
        return ("  s3:\n"
                f"    regionendpoint: {self.s3['endpoint']}\n"
                f"    region: {self.s3.get('region', REGION)}\n"
                f"    bucket: {bucket}\n"
                f"    accesskey: {self.s3['access_key']}\n"
                f"    secretkey: {self.s3['secret_key']}\n"
                "    secure: false\n"
                "    v4auth: true\n"
                # Blob GETs through the registry, as berth serves them (redirect: false is its
                # default); Distribution's default would answer 307 to a presigned gateway URL.
                "  redirect:\n    disable: true\n")

    def postgres_cpu(self) -> Callable[[], float]:
        port = re.search(r"port=(\d+)", self.dsn).group(1)
        postmaster = int(Path(f"/tmp/berth-pg-{port}/data/postmaster.pid").read_text().split()[0])
        return lambda: tree_cpu_seconds(postmaster)

    def gateway_cpu(self) -> Callable[[], float]:
        """radosgw and the (memstore) OSD behind it."""
        pids = [int((self.ceph_dir / "run" / f).read_text().strip()) for f in ("client.rgw.a.pid", "osd.0.pid")]
        return lambda: pids_cpu_seconds(pids)

    def stop(self) -> None:
        if self.dsn:
            subprocess.run([str(INFRA / "pg-down.sh"), self.dsn], capture_output=True, timeout=60)
        if self.ceph_dir is not None:
            subprocess.run([str(INFRA / "ceph-down.sh"), str(self.ceph_dir)], capture_output=True, timeout=60)


class ProxyServer(ServerProcess):
    """Debian's haproxy, round robin over berth nodes, no stickiness, as
    tests/integration/test_multinode.py runs it; looks like one registry to the workloads."""

    def __init__(self, workdir: Path, name: str, nodes: list[BerthServer]):
        super().__init__(workdir)
        self.name = name
        self.nodes = nodes

    def command(self) -> list[str]:
        cfg = self.workdir / "haproxy.cfg"
        servers = "".join(f"  server n{i} 127.0.0.1:{n.port} check inter 2s\n" for i, n in enumerate(self.nodes))
        cfg.write_text(
            "global\n  maxconn 4000\n"
            "defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  timeout server 300s\n"
            "  option http-keep-alive\n"
            f"frontend registry\n  bind 127.0.0.1:{self.port}\n  default_backend nodes\n"
            "backend nodes\n  balance roundrobin\n  option httpchk GET /v2/\n"
            "  http-check expect rstatus (200|401)\n" + servers)
        return ["haproxy", "-db", "-f", str(cfg)]

    def login(self) -> None:
        self.auth_headers = dict(self.nodes[0].auth_headers)  # a token from one node is good on all

    def alive(self) -> bool:
        return super().alive() and all(n.alive() for n in self.nodes)

    def version(self) -> str:
        out = subprocess.run(["haproxy", "-v"], capture_output=True, text=True, timeout=10)
        return out.stdout.splitlines()[0] if out.stdout else ""


# (workload name, group, the workload function). A group's servers start before its first
# selected workload and stop after its last, so that no group's servers run during another's.
SCALEOUT_WORKLOADS: list[tuple[str, str, Callable[[Target, Payloads, Sizes], dict]]] = [
    ("pg_manifest_get", "postgres", manifest_requests("GET", "wrk")),
    ("pg_manifest_head", "postgres", manifest_requests("HEAD", "loadgen")),
    ("s3_blob_push_monolithic", "s3", blob_push_monolithic),
    ("s3_blob_push_chunked", "s3", blob_push_chunked),
    ("s3_blob_pull", "s3", blob_pull),
    ("nodes_manifest_get", "nodes", manifest_requests("GET", "wrk")),
    ("nodes_image_push", "nodes", image_push),
]

GROUP_TARGETS = {"postgres": ["berth-postgres"], "s3": ["berth-s3", "distribution-s3"], "nodes": ["1-node", "2-nodes"]}


def start_group(group: str, args: argparse.Namespace, tmp: Path, services: Services, servers: list[ServerProcess],
                record: "RunRecord") -> list[Target]:
    """Starts one group's servers (appending each to `servers` before it starts, so that it is
    stopped however this ends) and returns its targets, in running order."""
    base = tmp / group
    tag = f"{os.getpid()}_{int(time.time())}"

    def start(server: ServerProcess) -> ServerProcess:
        servers.append(server)
        server.start()
        record.versions.setdefault(server.name, server.version())
        return server

    if group == "postgres":
        # Metadata in PostgreSQL, blobs on disk: the manifest rows read only metadata.
        b = start(BerthServer(base / "berth", args.berth, name="berth-postgres",
                              config={"metadata": "{postgres: {dsn: '%s'}}" % services.fresh_database(f"bench_pg_{tag}")}))
        return [Target(b.name, b, ProcessMonitor(b.pid), components={"postgres": services.postgres_cpu()})]
    if group == "s3":
        # Metadata in SQLite (each berth's default), blobs in the gateway.
        gateway = services.gateway_cpu()
        b = start(BerthServer(base / "berth", args.berth, name="berth-s3",
                              config={"storage": services.berth_s3(f"bench-berth-{tag}".replace("_", "-"))}))
        d = start(DistributionServer(base / "distribution", name="distribution-s3",
                                     storage=services.distribution_s3(f"bench-dist-{tag}".replace("_", "-"))))
        targets = [Target(s.name, s, ProcessMonitor(s.pid), components={"gateway": gateway}) for s in (b, d)]
        for t in targets:
            t.single_post_upload = probe_single_post(t)
        return targets
    # Two nodes on one database and one bucket sharing secret.key; one haproxy in front of node
    # A alone, another in front of both. Node B idles while the one-node rows run.
    config = {"metadata": "{postgres: {dsn: '%s'}}" % services.fresh_database(f"bench_nodes_{tag}"),
              "storage": services.berth_s3(f"bench-nodes-{tag}".replace("_", "-"))}
    a = start(BerthServer(base / "node-a", args.berth, name="berth-node-a", config=config))
    node_b = BerthServer(base / "node-b", args.berth, name="berth-node-b", config=config)
    shutil.copy2(a.data_dir / "secret.key", node_b.data_dir / "secret.key")
    b = start(node_b)
    one = start(ProxyServer(base / "haproxy-1", "haproxy", [a]))
    two = start(ProxyServer(base / "haproxy-2", "haproxy", [a, b]))
    pg, gateway = services.postgres_cpu(), services.gateway_cpu()
    node_a_cpu, node_b_cpu = (lambda: pids_cpu_seconds([a.pid])), (lambda: pids_cpu_seconds([b.pid]))
    return [
        Target("1-node", one, ProcessMonitor(a.pid), namespace="one",
               components={"node_a": node_a_cpu, "haproxy": lambda: pids_cpu_seconds([one.pid]),
                           "postgres": pg, "gateway": gateway}),
        Target("2-nodes", two, ProcessMonitor([a.pid, b.pid]), namespace="two",
               components={"node_a": node_a_cpu, "node_b": node_b_cpu,
                           "haproxy": lambda: pids_cpu_seconds([two.pid]), "postgres": pg, "gateway": gateway}),
    ]


def scaleout_sizes(sizes: Sizes) -> Sizes:
    """The scale-out rows' sizes. A full run keeps the first rows' blob size, chunking and load
    duration but pushes each big blob once (not blob_reps times) and 200 small images (not
    push_images): through the single-OSD gateway on this machine, those take minutes each.
    Smoke mode keeps them short (the test command runs it) but still makes the S3 store's
    chunked commit copy two segments (each chunk over its 5 MiB segment minimum), as the full
    run's 16 chunks do."""
    if sizes.mode != "smoke":
        return dataclasses.replace(sizes, blob_reps=1, push_images=min(sizes.push_images, 200))
    return dataclasses.replace(sizes, blob_mib=12, blob_chunks=2, blob_reps=1, wrk_seconds=1, push_images=16)


def run_scaleout(args: argparse.Namespace, sizes: Sizes, tmp: Path, record: "RunRecord", selected: list[str]) -> None:
    """The scale-out rows in `selected`, group by group, with their own PostgreSQL and gateway, on
    their own payloads (the same seeds: the same big blobs as the first rows, when sizes match)."""
    sizes = scaleout_sizes(sizes)
    payloads = Payloads(sizes)
    print("starting PostgreSQL and the Ceph RADOS Gateway for the scale-out rows ...", flush=True)
    services = Services()
    groups = list(dict.fromkeys(g for n, g, _ in SCALEOUT_WORKLOADS if n in selected))

    def group_failed(group: str, why: str) -> None:
        record.failures.append(f"scale-out rows ({group}): {why}")
        for name, g, _ in SCALEOUT_WORKLOADS:
            if g == group and name in selected:
                record.results[name] = {t: None for t in GROUP_TARGETS[group]}

    try:
        start = time.monotonic()
        try:
            services.start(tmp, sizes)
        except Exception as e:
            for group in groups:
                group_failed(group, f"PostgreSQL and the gateway: {type(e).__name__}: {e}")
            return
        print(f"  up in {time.monotonic() - start:.1f}s", flush=True)
        for group in groups:
            servers: list[ServerProcess] = []
            targets: list[Target] = []
            try:
                print(f"starting the {group} servers ...", flush=True)
                try:
                    targets = start_group(group, args, tmp, services, servers, record)
                except Exception as e:  # this group's rows fail; the next group still runs
                    group_failed(group, f"start-up: {type(e).__name__}: {e}")
                    continue
                for name, g, fn in SCALEOUT_WORKLOADS:
                    if g != group or name not in selected:
                        continue
                    DEADLINE.check()
                    run_workload(name, fn, targets, payloads, sizes, record.results, record.failures)
                    if name == "s3_blob_pull":
                        payloads.release_big_blob_bytes()
            finally:
                for t in targets:
                    t.monitor.close()
                for server in reversed(servers):
                    if server.proc is not None and server.proc.poll() is not None:
                        record.failures.append(f"{server.name} exited with {server.proc.returncode} during the "
                                               f"run; log tail:\n{server.log_tail()}")
                    ending = server.stop()
                    if ending:
                        record.notes.append(f"{server.name} {ending}")
    finally:
        services.stop()


# --- the report --------------------------------------------------------------------------------

# (workload key, figure key, label, unit, which is better)
TABLE: list[tuple[str, str, str, str, str]] = [
    ("blob_push_monolithic", "push_mib_s", "(a) blob push, monolithic", "MiB/s", "higher"),
    ("blob_push_chunked", "push_mib_s", "(b) blob push, 16 PATCH chunks", "MiB/s", "higher"),
    ("blob_pull", "pull_mib_s", "(c) blob pull", "MiB/s", "higher"),
    ("manifest_get", "requests_s", "(d) manifest GET by tag (wrk)", "req/s", "higher"),
    ("manifest_get", "p50_ms", "(d) manifest GET p50", "ms", "lower"),
    ("manifest_get", "p99_ms", "(d) manifest GET p99", "ms", "lower"),
    ("manifest_get", "cpu_us_per_request", "(h) server CPU per manifest GET", "us", "lower"),
    ("manifest_head", "requests_s", "(d) manifest HEAD by tag (loadgen)", "req/s", "higher"),
    ("manifest_head", "p50_ms", "(d) manifest HEAD p50", "ms", "lower"),
    ("manifest_head", "p99_ms", "(d) manifest HEAD p99", "ms", "lower"),
    ("manifest_head", "cpu_us_per_request", "(h) server CPU per manifest HEAD", "us", "lower"),
    ("manifest_get_loadgen", "requests_s", "(d) manifest GET by tag (loadgen)", "req/s", "higher"),
    ("manifest_get_loadgen", "p99_ms", "(d) manifest GET p99 (loadgen)", "ms", "lower"),
    ("image_push", "images_s", "(e) small image push, parallel (loadgen)", "images/s", "higher"),
    ("image_push", "p50_ms", "(e)   per-image p50 (loadgen)", "ms", "lower"),
    ("image_push", "client_cpu_pct", "(e)   loadgen CPU during it", "% core", "info"),
    ("image_push_python", "images_s", "(e) small image push, parallel (Python client)", "images/s", "higher"),
    ("image_push_python", "client_cpu_pct", "(e)   harness CPU during it", "% core", "info"),
    ("tag_listing", "tag_puts_s", "(f) tag PUT (populate)", "tags/s", "higher"),
    ("tag_listing", "full_list_ms", "(f) tag list, full", "ms", "lower"),
    ("tag_listing", "paged_walk_ms", "(f) tag list, n={n} pages", "ms", "lower"),
    ("tag_listing", "pages", "(f)   pages walked", "pages", "info"),
    ("catalog_listing", "repo_pushes_s", "(f) repositories pushed (populate)", "repos/s", "higher"),
    ("catalog_listing", "walk_ms", "(f) _catalog walk, n={n} pages", "ms", "lower"),
    ("catalog_listing", "pages", "(f)   pages walked", "pages", "info"),
    ("concurrent_pull", "seconds", "(g) concurrent pull, total", "s", "lower"),
    ("concurrent_pull", "mib_s", "(g) concurrent pull", "MiB/s", "higher"),
    ("describe_images", "before_tagged_p50_ms", "(i) ECR DescribeImages, tagged, before scan, median", "ms", "lower"),
    ("describe_images", "after_tagged_p50_ms", "(i) ECR DescribeImages, tagged, after scan, median", "ms", "lower"),
    ("describe_images", "before_tagged_p90_ms", "(i) ECR DescribeImages, tagged, before scan, p90", "ms", "lower"),
    ("describe_images", "after_tagged_p90_ms", "(i) ECR DescribeImages, tagged, after scan, p90", "ms", "lower"),
    ("describe_images", "tagged_after_over_before", "(i)   tagged: after / before median", "x", "info"),
    ("describe_images", "before_all_p50_ms", "(i) ECR DescribeImages, default, before scan, median", "ms", "lower"),
    ("describe_images", "after_all_p50_ms", "(i) ECR DescribeImages, default (+SBOMs), after, median", "ms", "lower"),
    ("describe_images", "all_after_over_before", "(i)   default: after / before median", "x", "info"),
    ("describe_images", "before_tagged_answer_bytes", "(i)   tagged answer before scan", "bytes", "info"),
    ("describe_images", "after_tagged_answer_bytes", "(i)   tagged answer after scan", "bytes", "info"),
    ("describe_images", "findings_per_image", "(i)   findings per scanned image", "findings", "info"),
    ("memory", "rss_idle_mib", "(h) RSS idle", "MiB", "lower"),
    ("memory", "rss_load_mean_mib", "(h) RSS under load, mean", "MiB", "lower"),
    ("memory", "rss_load_max_mib", "(h) RSS under load, max sample", "MiB", "lower"),
    ("memory", "vmhwm_mib", "(h) RSS peak (VmHWM)", "MiB", "lower"),
]


def fmt(v) -> str:
    if v is None:
        return "FAILED"
    if isinstance(v, int):
        return f"{v:,}"
    if v != v:  # nan
        return "n/a"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join
    print(f"\n{title}")
    print(line(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
    print(line("-" * w for w in widths))
    for r in rows:
        print(line(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


NOT_RUN = object()


def figure(results: dict, workload: str, target: str, key: str):
    """A number; None when that workload failed against that target; NOT_RUN when it was not
    selected (--only, --servers, --no-scaleout); nan when it ran but has no such figure."""
    entry = results.get(workload, {}).get(target, NOT_RUN)
    if entry is NOT_RUN or entry is None:
        return entry
    return entry.get(key, float("nan"))


def cell(v) -> str:
    return "not run" if v is NOT_RUN else fmt(v)


def ratio(a, b, better: str) -> str:
    numbers = isinstance(a, (int, float)) and isinstance(b, (int, float)) and b and a == a and b == b
    return fmt(a / b) if numbers and better != "info" else "-"


def report(results: dict, sizes: Sizes) -> None:
    rows = []
    for workload, key, label, unit, better in TABLE:
        b = figure(results, workload, "berth", key)
        d = figure(results, workload, "distribution", key)
        rows.append([label.format(n=sizes.page_size), unit, cell(b), cell(d), ratio(b, d, better), better])
    print_table(f"berth vs CNCF Distribution ({sizes.mode} mode; ratio = berth / distribution)",
                ["figure", "unit", "berth", "distribution", "ratio", "better"], rows)


# (SQLite workload, PostgreSQL workload, figure key, label, unit, which is better)
POSTGRES_TABLE = [
    ("manifest_get", "pg_manifest_get", "requests_s", "manifest GET by tag (wrk)", "req/s", "higher"),
    ("manifest_get", "pg_manifest_get", "p50_ms", "manifest GET p50", "ms", "lower"),
    ("manifest_get", "pg_manifest_get", "p99_ms", "manifest GET p99", "ms", "lower"),
    ("manifest_get", "pg_manifest_get", "cpu_us_per_request", "berth CPU per GET", "us", "lower"),
    ("manifest_get", "pg_manifest_get", "cpu_us_per_request_postgres", "PostgreSQL CPU per GET", "us", "lower"),
    ("manifest_head", "pg_manifest_head", "requests_s", "manifest HEAD by tag (loadgen)", "req/s", "higher"),
    ("manifest_head", "pg_manifest_head", "p99_ms", "manifest HEAD p99", "ms", "lower"),
    ("manifest_head", "pg_manifest_head", "cpu_us_per_request", "berth CPU per HEAD", "us", "lower"),
    ("manifest_head", "pg_manifest_head", "cpu_us_per_request_postgres", "PostgreSQL CPU per HEAD", "us", "lower"),
]

# (disk workload, gateway workload, figure key, label, unit, which is better)
S3_TABLE = [
    ("blob_push_monolithic", "s3_blob_push_monolithic", "push_mib_s", "(a) blob push, monolithic", "MiB/s", "higher"),
    ("blob_push_chunked", "s3_blob_push_chunked", "push_mib_s", "(b) blob push, chunked (PATCH)", "MiB/s", "higher"),
    ("blob_pull", "s3_blob_pull", "pull_mib_s", "(c) blob pull", "MiB/s", "higher"),
    ("blob_push_monolithic", "s3_blob_push_monolithic", "cpu_pct_server", "(a)   server CPU", "% core", "info"),
    ("blob_push_monolithic", "s3_blob_push_monolithic", "cpu_pct_gateway", "(a)   gateway + OSD CPU", "% core", "info"),
    ("blob_pull", "s3_blob_pull", "cpu_pct_server", "(c)   server CPU", "% core", "info"),
    ("blob_pull", "s3_blob_pull", "cpu_pct_gateway", "(c)   gateway + OSD CPU", "% core", "info"),
]

# (workload, figure key, label, unit, which is better)
NODES_TABLE = [
    ("nodes_manifest_get", "requests_s", "manifest GET by tag (wrk)", "req/s", "higher"),
    ("nodes_manifest_get", "p50_ms", "manifest GET p50", "ms", "lower"),
    ("nodes_manifest_get", "p99_ms", "manifest GET p99", "ms", "lower"),
    ("nodes_manifest_get", "cpu_pct_node_a", "  CPU: node A", "% core", "info"),
    ("nodes_manifest_get", "cpu_pct_node_b", "  CPU: node B", "% core", "info"),
    ("nodes_manifest_get", "cpu_pct_haproxy", "  CPU: haproxy", "% core", "info"),
    ("nodes_manifest_get", "client_cpu_pct", "  CPU: wrk", "% core", "info"),
    ("nodes_manifest_get", "cpu_pct_postgres", "  CPU: PostgreSQL", "% core", "info"),
    ("nodes_manifest_get", "cpu_pct_gateway", "  CPU: gateway + OSD", "% core", "info"),
    ("nodes_image_push", "images_s", "small image push, parallel (loadgen)", "images/s", "higher"),
    ("nodes_image_push", "p50_ms", "  per-image p50", "ms", "lower"),
    ("nodes_image_push", "cpu_pct_node_a", "  CPU: node A", "% core", "info"),
    ("nodes_image_push", "cpu_pct_node_b", "  CPU: node B", "% core", "info"),
    ("nodes_image_push", "cpu_pct_haproxy", "  CPU: haproxy", "% core", "info"),
    ("nodes_image_push", "client_cpu_pct", "  CPU: berth_loadgen", "% core", "info"),
    ("nodes_image_push", "cpu_pct_postgres", "  CPU: PostgreSQL", "% core", "info"),
    ("nodes_image_push", "cpu_pct_gateway", "  CPU: gateway + OSD", "% core", "info"),
]
NODES_CPU_KEYS = ["cpu_pct_node_a", "cpu_pct_node_b", "cpu_pct_haproxy", "client_cpu_pct", "cpu_pct_postgres",
                  "cpu_pct_gateway"]


def report_scaleout(results: dict, sizes: Sizes) -> None:
    """The scale-out tables; each only when one of its rows was selected."""
    if any(w in results for _, w, *_ in POSTGRES_TABLE):
        rows = []
        for sqlite_w, pg_w, key, label, unit, better in POSTGRES_TABLE:
            a, b = figure(results, sqlite_w, "berth", key), figure(results, pg_w, "berth-postgres", key)
            if key.endswith("_postgres"):
                a = "-"  # SQLite runs inside berth: its CPU is in berth's row
            rows.append([label, unit, a if a == "-" else cell(a), cell(b), ratio(b, a, better), better])
        print_table(f"berth: metadata in SQLite vs PostgreSQL, blobs on disk ({sizes.mode} mode; "
                    "ratio = PostgreSQL / SQLite)", ["figure", "unit", "SQLite", "PostgreSQL", "ratio", "better"], rows)
    if any(w in results for _, w, *_ in S3_TABLE):
        rows = []
        for disk_w, s3_w, key, label, unit, better in S3_TABLE:
            bd, bs = figure(results, disk_w, "berth", key), figure(results, s3_w, "berth-s3", key)
            dd, ds = figure(results, disk_w, "distribution", key), figure(results, s3_w, "distribution-s3", key)
            if key == "cpu_pct_gateway":
                bd = dd = "-"
            rows.append([label.format(n=sizes.page_size), unit] + [v if v == "-" else cell(v) for v in (bd, bs, dd, ds)]
                        + [ratio(bs, bd, better), ratio(bs, ds, better), better])
        print_table(f"blobs on disk vs in S3 (Ceph RGW, one memstore OSD) ({sizes.mode} mode; berth's metadata in "
                    "SQLite)", ["figure", "unit", "berth disk", "berth RGW", "distr. disk", "distr. RGW",
                                "berth RGW/disk", "berth/distr. RGW", "better"], rows)
    if any(w in results for w, *_ in NODES_TABLE):
        rows = []
        for workload, key, label, unit, better in NODES_TABLE:
            one, two = figure(results, workload, "1-node", key), figure(results, workload, "2-nodes", key)
            if key == "cpu_pct_node_b":
                one = "-"  # idle: not behind the one-node proxy
            rows.append([label, unit, one if one == "-" else cell(one), cell(two), ratio(two, one, better), better])
            if key == NODES_CPU_KEYS[-1]:
                total = []
                for target in ("1-node", "2-nodes"):
                    values = [figure(results, workload, target, k) for k in NODES_CPU_KEYS]
                    numbers = [v for v in values if isinstance(v, (int, float)) and v == v]
                    total.append(fmt(sum(numbers) / (os.cpu_count() or 1)) if numbers else "-")
                rows.append([f"  all of the above, share of the {os.cpu_count()} cores", "%", *total, "-", "info"])
        print_table(f"berth nodes behind haproxy, PostgreSQL + RGW ({sizes.mode} mode; ratio = 2 nodes / 1 node)",
                    ["figure", "unit", "1 node", "2 nodes", "ratio", "better"], rows)


def print_micro(micro: list[dict]) -> None:
    rows = []
    for b in micro:
        rate = ""
        if "bytes_per_second" in b:
            rate = f"{b['bytes_per_second'] / MiB:,.0f} MiB/s"
        elif "items_per_second" in b:
            rate = f"{b['items_per_second']:,.0f} /s"
        rows.append([b["name"], f"{b['real_time']:,.1f} {b['time_unit']}", f"{b['cpu_time']:,.1f} {b['time_unit']}", rate])
    print_table("berth micro-benchmarks (Google Benchmark)", ["benchmark", "time", "cpu", "rate"], rows)


def print_limits(limits: dict) -> None:
    print_table("this machine's limits, measured in this run", ["limit", "value"], [
        ["cpu", f"{limits['cpu_model']} x {limits['cpus']}"],
        ["sha256, one core, 16 KiB blocks (openssl speed)", f"{limits['sha256_16k_mb_s']:,.0f} MB/s"],
        ["loopback TCP, one stream (socket pump)", f"{limits['loopback_mib_s']:,.0f} MiB/s"],
        [f"disk write + fsync, dd into the temp dir ({limits['tmp_filesystem']})",
         f"{limits['disk_write_fsync_mib_s']:,.0f} MiB/s"],
        ["load average at start", f"{limits['load_average_at_start']:.2f}"],
    ])


def notes(results: dict, targets: list[Target], sizes: Sizes) -> list[str]:
    out = []
    for t in targets:
        if not t.single_post_upload:
            out.append(f"{t.name} does not complete an upload on POST ?digest= with a body (202: session opened); "
                       "its monolithic push is POST + PUT ?digest= with the body")
    for name, f in results.get("tag_listing", {}).items():
        if f and f.get("pages") == 1 and sizes.tags > sizes.page_size:
            out.append(f"{name} ignores n on tags/list: its paged walk is one full list")
    out.append("berth fsyncs every blob and commits metadata with SQLite synchronous=FULL; Distribution's "
               "filesystem driver never fsyncs: push figures include that durability cost")
    out.append("berth checks a registry token on every /v2 request; Distribution runs without auth")
    if results.get("image_push"):
        out.append("(e) loadgen: a C++ client (berth_loadgen --mode push), each blob as POST + PUT ?digest= on "
                   "both servers; the Python row below it is the same workload through requests")
    if results.get("describe_images", {}).get("berth"):
        f = results["describe_images"]["berth"]
        out.append(f"(i) berth only (Distribution has no ECR API): the same {f['images']} tagged images described "
                   f"before and after their scan; after it the default listing also holds their "
                   f"{f.get('sbom_referrers', 0)} SBOM referrers; each call SigV4-signed (botocore) before the "
                   "clock starts and parsed after it stops")
    for workload in ("image_push_python", "tag_listing", "catalog_listing", "concurrent_pull"):
        for name, f in results.get(workload, {}).items():
            if not f:
                continue
            pct = f.get("client_cpu_pct", f.get("populate_client_cpu_pct"))
            if pct is not None and pct >= 85:
                out.append(f"{workload} against {name}: the Python client used {pct:.0f}% of a core, so the "
                           "client may be what limits that figure")
    return out


def scaleout_notes(results: dict) -> list[str]:
    out = []
    if any(w in results for w, _, _ in SCALEOUT_WORKLOADS):
        out.append("scale-out rows: their own throwaway PostgreSQL 15 (fsync=off, synchronous_commit=off: "
                   "tests/infra/pg-up.sh) and a single-node Ceph RGW whose one OSD keeps objects in RAM "
                   "(memstore: tests/infra/ceph-up.sh), on this same machine: they share its cores with the servers")
    if any(w in results for w in ("s3_blob_push_monolithic", "s3_blob_push_chunked", "s3_blob_pull")):
        out.append("S3 rows: berth keeps its metadata in SQLite (synchronous=FULL); Distribution's s3-aws driver "
                   "has redirect disabled so that blob GETs go through it, as berth's do by default")
    if any(w in results for w in ("nodes_manifest_get", "nodes_image_push")):
        out.append("node rows: berth nodes on one PostgreSQL database and one bucket, behind haproxy (round "
                   "robin); the 1-node proxy sends everything to node A while node B idles")
    return out


# --- main --------------------------------------------------------------------------------------

@dataclass
class RunRecord:
    """Everything one run found out, filled in as it goes, so that a run stopped half-way still
    reports and saves what it measured."""

    sizes: Sizes
    timestamp: str
    limits: dict = field(default_factory=dict)
    micro: list[dict] = field(default_factory=list)
    versions: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_everything(args: argparse.Namespace, sizes: Sizes, tmp: Path, record: RunRecord) -> None:
    print(f"berth bench, {sizes.mode} mode, temp dir {tmp}", flush=True)
    print("measuring the machine's limits ...", flush=True)
    record.limits = machine_limits(sizes, tmp) if not args.only else {}
    if args.micro and not args.only:
        print("running the micro-benchmarks ...", flush=True)
        try:
            record.micro = run_micro(args.micro, sizes.micro_min_time, tmp)
        except WorkloadFailure as e:
            record.failures.append(f"micro-benchmarks: {e}")

    main_selected = [n for n, _ in WORKLOADS if not args.only or n in args.only]
    scaleout_selected = [n for n, _, _ in SCALEOUT_WORKLOADS
                         if not args.no_scaleout and (not args.only or n in args.only)]
    if main_selected:
        run_main(args, sizes, tmp, record, Payloads(sizes), main_selected)
    if scaleout_selected:
        run_scaleout(args, sizes, tmp, record, scaleout_selected)
        record.notes += scaleout_notes(record.results)


def run_main(args: argparse.Namespace, sizes: Sizes, tmp: Path, record: RunRecord, payloads: Payloads,
             selected: list[str]) -> None:
    """berth and Distribution on the filesystem, side by side: the workloads in `selected`."""
    servers: list[ServerProcess] = []
    targets: list[Target] = []
    try:
        print("starting berth and Distribution ...", flush=True)
        for server in (BerthServer(tmp / "berth", args.berth), DistributionServer(tmp / "distribution")):
            if args.servers and server.name not in args.servers:
                continue
            servers.append(server)
            server.start()
            record.versions[server.name] = server.version()
        targets = [Target(s.name, s, ProcessMonitor(s.pid)) for s in servers]
        time.sleep(1.0)  # let both settle before the idle figure
        for t in targets:
            t.rss_idle_mib = t.monitor.rss_mib()
            t.single_post_upload = probe_single_post(t)

        for name, fn in WORKLOADS:
            if name not in selected:
                continue
            DEADLINE.check()
            run_workload(name, fn, targets, payloads, sizes, record.results, record.failures)
            if name == "blob_pull":
                payloads.release_big_blob_bytes()

        record.results["memory"] = {t.name: {
            "rss_idle_mib": t.rss_idle_mib,
            "rss_load_mean_mib": statistics.fmean(t.load_samples_kib) / 1024 if t.load_samples_kib else float("nan"),
            "rss_load_max_mib": max(t.load_samples_kib, default=0) / 1024,
            "vmhwm_mib": t.monitor.hwm_mib(),
            "load_samples": len(t.load_samples_kib),
        } for t in targets if t.server.alive()}
    finally:
        record.notes += notes(record.results, targets, sizes)
        for t in targets:
            t.monitor.close()
        for server in servers:
            if server.proc is not None and server.proc.poll() is not None:
                record.failures.append(f"{server.name} exited with {server.proc.returncode} during the run; "
                                       f"log tail:\n{server.log_tail()}")
            ending = server.stop()
            if ending:
                record.notes.append(f"{server.name} {ending}")


def main() -> int:
    global DEADLINE, LOADGEN
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--berth", type=Path, required=True, help="the berth binary (a Release build)")
    parser.add_argument("--micro", type=Path, help="the berth_micro_bench binary; omitted: no micro-benchmarks")
    parser.add_argument("--loadgen", type=Path, help="the berth_loadgen binary (tests/bench/loadgen.cc)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves every workload works, quickly")
    parser.add_argument("--results-dir", type=Path, default=Path("bench-results"))
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the servers' data directories go")
    parser.add_argument("--only", type=lambda v: v.split(","), default=None,
                        help="comma-separated workload names: run just those, without the machine limits and "
                             "micro-benchmarks; names: " + ", ".join([n for n, _ in WORKLOADS] +
                                                                    [n for n, _, _ in SCALEOUT_WORKLOADS]))
    parser.add_argument("--servers", type=lambda v: v.split(","), default=None,
                        help="comma-separated server names (berth, distribution) of the first rows; default both")
    parser.add_argument("--no-scaleout", action="store_true",
                        help="leave out the scale-out rows (PostgreSQL, S3, two nodes) and the PostgreSQL and "
                             "Ceph RADOS Gateway they start")
    args = parser.parse_args()
    if args.only:
        known = [name for name, _ in WORKLOADS] + [name for name, _, _ in SCALEOUT_WORKLOADS]
        unknown = set(args.only) - set(known)
        if unknown:
            parser.error(f"unknown workload(s) {sorted(unknown)}; known: {known}")
    sizes = SMOKE if args.smoke else FULL
    DEADLINE = Deadline(sizes.run_seconds)
    LOADGEN = args.loadgen

    # SIGTERM/SIGHUP unwind through the finally clauses, like Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))

    started = time.time()
    record = RunRecord(sizes, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)))
    tmp = Path(tempfile.mkdtemp(prefix="berth-bench-", dir=args.tmpdir))
    try:
        try:
            run_everything(args, sizes, tmp, record)
        except Exception as e:  # a server that would not start, a tool that broke: report what we have
            record.failures.append(f"the run stopped early: {type(e).__name__}: {e}")

        if record.limits:
            print_limits(record.limits)
        if record.micro:
            print_micro(record.micro)
        report(record.results, sizes)
        report_scaleout(record.results, sizes)
        for n in record.notes:
            print(f"note: {n}")
        args.results_dir.mkdir(parents=True, exist_ok=True)
        out_path = args.results_dir / f"{record.timestamp}.json"
        out_path.write_text(json.dumps({
            "timestamp": record.timestamp, "mode": sizes.mode, "sizes": sizes.__dict__, "versions": record.versions,
            "machine": record.limits, "workloads": record.results, "micro": record.micro,
            "failures": record.failures, "notes": record.notes, "ok": not record.failures,
            "seconds": time.time() - started,
        }, indent=2, default=str) + "\n")
        print(f"\nresults: {out_path} ({time.time() - started:.0f}s)", flush=True)
    finally:
        print(f"removing {tmp} ...", flush=True)  # Distribution's 10,000 tags are ~60,000 files
        shutil.rmtree(tmp, ignore_errors=True)

    if record.failures:
        print(f"\n{len(record.failures)} FAILURE(S):", file=sys.stderr)
        for f in record.failures:
            print(f"  - {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
