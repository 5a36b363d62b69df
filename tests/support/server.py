"""One launcher for every registry process the suites start: ``ServerProcess``.

A server runs on 127.0.0.1 with its own work and data directories; its stdout and stderr go to
a log file (berth writes JSON lines). Every server still running is in ``LIVE_SERVERS``, whose
log tails the failure-report hook of ``support.plugin`` attaches to a failed test.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Optional

import requests

from support.binaries import BERTH_BIN
from support.ports import free_port

READY_TIMEOUT = 30.0

LIVE_SERVERS: list["ServerProcess"] = []
_LIVE_LOCK = threading.Lock()


# -- PostgreSQL metadata (BERTH_TEST_METADATA=postgres) -------------------------------------------
# With BERTH_TEST_METADATA=postgres and BERTH_TEST_POSTGRES_DSN (a key=value DSN, as
# tests/infra/pg-up.sh prints it), every berth this launcher starts keeps its metadata in a fresh
# database of that server, one per data directory (a restart on the same directory finds its
# data again), unless the test's own config names a metadata store. Operator commands run on
# such a data directory need the same config: ``store_args(data_dir)`` gives it.
_PG_DATABASES: dict[str, str] = {}  # data dir -> DSN of its database
_PG_CONFIGS: dict[str, Path] = {}   # data dir -> the config file naming it
_PG_COUNTER = itertools.count()


def postgres_metadata_enabled() -> bool:
    return os.environ.get("BERTH_TEST_METADATA", "sqlite") == "postgres"


def _fresh_postgres_database() -> str:
    base = os.environ.get("BERTH_TEST_POSTGRES_DSN", "")
    if not base:
        raise RuntimeError("BERTH_TEST_METADATA=postgres needs BERTH_TEST_POSTGRES_DSN (tests/infra/pg-up.sh)")
    name = f"berth_s_{os.getpid()}_{next(_PG_COUNTER)}_{secrets.token_hex(4)}"
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", base, "-c",
                    f"CREATE DATABASE {name} TEMPLATE template0"],
                   check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return f"{base} dbname={name}"


def postgres_metadata_config(data_dir: Path, config: Optional[dict]) -> Optional[dict]:
    """``config`` with ``metadata`` pointing at the data directory's database when PostgreSQL
    metadata is on (and the config names no metadata store itself); otherwise ``config``."""
    if not postgres_metadata_enabled() or (config is not None and "metadata" in config):
        return config
    key = str(Path(data_dir).resolve())
    if key not in _PG_DATABASES:
        _PG_DATABASES[key] = _fresh_postgres_database()
    return {**(config or {}), "metadata": "{postgres: {dsn: '%s'}}" % _PG_DATABASES[key]}


def add_store_settings(path: Path, data_dir: Path, config: dict, original: Optional[dict]) -> Optional[dict]:
    """Appends the store settings the launcher added to ``config`` (``metadata``, ``storage``:
    those not in ``original``) to the test's own config file ``path``, each unless the file
    names it already, and returns ``original``: the config berth gets besides that file. berth
    takes one --config, so the stores must go into the test's file, not into a second one."""
    text = path.read_text() if path.exists() else ""
    for key in ("metadata", "storage"):
        if key not in config or (original is not None and key in original):
            continue
        if not re.search(rf"^{key}:", text, re.M):
            text += ("" if text.endswith("\n") or not text else "\n") + f"{key}: {config[key]}\n"
            if key == "metadata":
                _PG_CONFIGS[str(Path(data_dir).resolve())] = path
    path.write_text(text)
    return original


def postgres_dsn_for(data_dir: Path) -> Optional[str]:
    """The DSN of the database holding the metadata of a server on ``data_dir``, or None when
    it is in SQLite (``<data_dir>/berth.db``)."""
    return _PG_DATABASES.get(str(Path(data_dir).resolve()))


def store_args(data_dir: Path) -> list[str]:
    """``--config FILE`` naming the metadata store of a server on ``data_dir`` when it is not
    the default (PostgreSQL); else nothing. Goes before ``--data-dir`` on an operator command."""
    path = _PG_CONFIGS.get(str(Path(data_dir).resolve()))
    return ["--config", str(path)] if path else []


def with_store_args(args: Iterable[str]) -> list[str]:
    """An operator command line (``berth CMD ...``) with ``store_args`` added before each
    ``--data-dir DIR`` of a server whose metadata is elsewhere."""
    args = list(args)
    out: list[str] = []
    for i, a in enumerate(args):
        if a == "--data-dir" and i + 1 < len(args) and "--config" not in args:
            out += store_args(Path(args[i + 1]))
        out.append(a)
    return out


# -- S3 storage (BERTH_TEST_STORAGE=s3) ------------------------------------------------------------
def s3_storage_config(config: Optional[dict], data_dir: Path) -> Optional[dict]:
    """With BERTH_TEST_STORAGE=s3 (and the BERTH_TEST_S3_* variables scripts/test.sh sets), a
    berth's blobs go to S3: ``storage.s3`` with a bucket of its own, named after its data
    directory so that a restart on the same directory finds its blobs again. A config that
    chooses its own storage keeps it. Otherwise the config as given."""
    if os.environ.get("BERTH_TEST_STORAGE") != "s3" or (config is not None and "storage" in config):
        return config
    import hashlib
    bucket = "berth-" + hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:20]
    s3 = {"endpoint": os.environ["BERTH_TEST_S3_ENDPOINT"], "region": os.environ.get("BERTH_TEST_S3_REGION", "us-east-1"),
          "bucket": bucket, "access-key-id": os.environ["BERTH_TEST_S3_ACCESS_KEY"],
          "secret-access-key": os.environ["BERTH_TEST_S3_SECRET_KEY"], "path-style": "true"}
    if os.environ.get("BERTH_TEST_S3_REDIRECT") == "1":
        s3["redirect"] = "true"
    merged = dict(config or {})
    merged["storage"] = "{s3: {" + ", ".join(f'{k}: "{v}"' for k, v in s3.items()) + "}}"
    return merged


class ServerProcess:
    """One ``berth serve`` (or, with ``command()`` overridden, another registry) on 127.0.0.1.

    ``start()`` returns once ``GET /v2/`` answers one of ``ready_statuses``. ``kill()`` sends
    SIGKILL (a crash); ``stop()`` sends SIGTERM and escalates. A stopped server can be started
    again on the same data directory (by default on a new port).

    ``admin_credentials`` (access key id, secret) go to berth as ``BERTH_ADMIN_ACCESS_KEY_ID`` and
    ``BERTH_ADMIN_SECRET_ACCESS_KEY``; with None berth creates its own admin key. ``config`` (a
    dict) is written as a YAML file and passed with ``--config``; ``extra_args`` are appended to
    the command line (and may be changed between starts).
    """

    def __init__(self, workdir: Path, data_dir: Optional[Path] = None, tls: Optional[tuple[Path, Path]] = None,
                 name: str = "berth", admin_credentials: Optional[tuple[str, str]] = None,
                 config: Optional[dict] = None, extra_args: Iterable[str] = (),
                 binary: Callable[[], Path] = lambda: BERTH_BIN, ready_statuses: tuple[int, ...] = (200, 401),
                 log_name: str = "server.log"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.tls = tls
        self.name = name
        self.admin_credentials = admin_credentials
        self.config = config
        self.extra_args = list(extra_args)
        self.binary = binary
        self.ready_statuses = ready_statuses
        self.port: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.workdir / log_name
        self._log_file = None
        self.starts = 0
        self.restarts_after_death = 0

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def verify(self):
        return str(self.tls[0]) if self.tls else True

    def command(self) -> list[str]:
        """The whole command line: ``base_command()`` and then ``extra_args``."""
        return self.base_command() + self.extra_args

    def base_command(self) -> list[str]:
        """``berth serve`` with this server's address, data directory, TLS files and config file."""
        cmd = [str(self.binary()), "serve", "--listen", self.host, "--data-dir", str(self.data_dir),
               "--log-level", "debug"]
        if self.tls:
            cmd += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        config = s3_storage_config(self.config, self.data_dir)
        config = postgres_metadata_config(self.data_dir, config)
        if config is not self.config and "--config" in self.extra_args:
            # The test passes its own config file: the stores go into that one.
            config = add_store_settings(Path(self.extra_args[self.extra_args.index("--config") + 1]),
                                        self.data_dir, config, self.config)
        if config is not None:
            path = self.workdir / "berth.yaml"
            path.write_text("".join(f"{k}: {v}\n" for k, v in config.items()))
            cmd += ["--config", str(path)]
            if config is not self.config:
                _PG_CONFIGS[str(self.data_dir.resolve())] = path
        return cmd

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_ADMIN_")}
        if self.admin_credentials:
            env["BERTH_ADMIN_ACCESS_KEY_ID"], env["BERTH_ADMIN_SECRET_ACCESS_KEY"] = self.admin_credentials
        return env

    def start(self, port: Optional[int] = None) -> "ServerProcess":
        binary = Path(self.binary())
        if not binary.exists():
            raise RuntimeError(f"registry binary {binary} does not exist; build berth or set BERTH_BIN")
        self.port = port or free_port()
        command = self.command()
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"\n===== start #{self.starts + 1}: {' '.join(command)}\n".encode())
        self._log_file.flush()
        self.proc = subprocess.Popen(command, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env(), cwd=self.workdir)
        self.starts += 1
        with _LIVE_LOCK:
            LIVE_SERVERS.append(self)
        try:
            self._wait_ready()
        except Exception:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} during start-up;"
                                   f" log tail:\n{self.log_tail()}")
            try:
                r = requests.get(self.url + "/v2/", timeout=2, verify=self.verify)
                if r.status_code in self.ready_statuses:
                    return
                last = f"status {r.status_code}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer GET /v2/ with {' or '.join(map(str, self.ready_statuses))}"
                           f" within {READY_TIMEOUT}s ({last}); log tail:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> None:
        """Restarts the server on the same data directory (and a new port) if it died, so that one
        crash fails one test rather than every test after it."""
        if not self.alive():
            self.restarts_after_death += 1
            self.stop()
            self.start()

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or clean up."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        """SIGTERM; SIGKILL if the process has not exited 10 s later."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
            keep = os.environ.get("BERTH_TEST_LOG_DIR")
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{self.workdir.name}-{self.name}").strip("-")
                shutil.copyfile(self.log_path, Path(keep) / f"{slug}-{os.getpid()}.log")
        with _LIVE_LOCK:
            if self in LIVE_SERVERS:
                LIVE_SERVERS.remove(self)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30, problems: int = 20) -> str:
        """The last ``lines`` log lines, preceded by the last ``problems`` warnings and errors."""
        if not self.log_path.exists():
            return "(no log)"
        all_lines = self.log_text().splitlines()
        bad = [line for line in all_lines
               if re.search(r'"level"\s*:\s*"(warn|warning|error|fatal|critical|panic)"', line, re.I)
               or re.search(r"\b(panic|fatal|abort|sanitizer|segmentation)\b", line, re.I)]
        out = []
        if bad:
            out += ["--- warnings and errors ---", *bad[-problems:], "--- last lines ---"]
        return "\n".join(out + all_lines[-lines:])


class ServerFactory:
    """Starts private servers in numbered work directories under ``base``; ``close()`` stops every
    one it started. ``make(workdir, n, **kwargs)`` builds the n-th server (not yet started)."""

    def __init__(self, base: Path, make: Callable[..., ServerProcess], prefix: str = "server"):
        self.base = Path(base)
        self.make = make
        self.prefix = prefix
        self.servers: list[ServerProcess] = []

    def start(self, **kwargs) -> ServerProcess:
        n = len(self.servers) + 1
        server = self.make(self.base / f"{self.prefix}{n}", n, **kwargs)
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        for server in self.servers:
            server.stop()
