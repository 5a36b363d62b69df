"""Stores chosen by configuration, and the metadata schema version.

- ``metadata: {sqlite: {path: ...}}`` and ``storage: {filesystem: {root: ...}}`` put the database
  and the blobs where the configuration says, apart from ``data-dir`` (which keeps the secret key);
- an unknown driver is refused at start with the key named;
- a database whose schema version is newer than the binary's is refused at start, naming both
  versions, and ``berth migrate`` reports the version it found and left.

The database's version is SQLite's ``PRAGMA user_version``; the tests read and set it directly.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

import harness
from content import push_blob, sha256, unique
from ecr_helpers import require_berth, run_berth
from harness import BERTH_BIN, Registry, ServerProcess


class ConfiguredServer(ServerProcess):
    """``berth serve --config FILE``: the file alone says where the stores are (no --data-dir)."""

    def __init__(self, workdir: Path, config_file: Path, **kw):
        super().__init__(workdir, **kw)
        self.config_file = config_file

    def base_command(self) -> list[str]:
        cmd = [str(BERTH_BIN), "serve", "--config", str(self.config_file), "--listen", self.host,
               "--log-level", "debug", "--create-on-push"]
        if harness.AUTH_MODE == "off":
            cmd.append("--no-auth")
        return cmd


# These tests read and edit the SQLite file itself: SQLite metadata even when the suite runs on
# PostgreSQL (BERTH_TEST_METADATA=postgres; its migrations are tested in the unit tests).
SQLITE = {"metadata": "{sqlite: {}}"}


def user_version(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def serve_until_exit(*args: str, timeout: int = 30) -> subprocess.CompletedProcess:
    """Start ``berth serve`` expecting it to refuse to start; it must exit by itself."""
    return subprocess.run([str(BERTH_BIN), "serve", "--listen", f"127.0.0.1:{harness.free_port()}", *args],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_stores_from_metadata_and_storage_sections(server_factory, tmp_path):
    require_berth()
    data_dir, db, root = tmp_path / "data", tmp_path / "fast" / "meta.db", tmp_path / "big" / "blobs"
    config = tmp_path / "berth.yml"
    config.write_text(f"data-dir: {data_dir}\n"
                      f"metadata:\n  sqlite:\n    path: {db}\n"
                      f"storage:\n  filesystem:\n    root: {root}\n")
    server = ConfiguredServer(tmp_path / "server", config, name="berth (stores from config)")
    server_factory.servers.append(server)
    server.start()
    reg = Registry(server)
    data = unique("a blob in the configured root ").encode()
    digest = push_blob(reg, "configured/stores", data)
    hex_ = digest.split(":", 1)[1]
    assert (root / "blobs" / "sha256" / hex_[:2] / hex_).read_bytes() == data
    assert not (data_dir / "blobs").exists(), "the blob store must not be in data-dir"
    assert db.is_file() and not (data_dir / "berth.db").exists()
    assert (data_dir / "secret.key").is_file(), "data-dir keeps the secret key"
    with sqlite3.connect(db) as conn:
        linked = conn.execute("SELECT count(*) FROM blob_links WHERE digest=?", (digest,)).fetchone()[0]
    assert linked == 1
    r = reg.head(f"/v2/configured/stores/blobs/{digest}")
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(data)


def test_stores_unknown_driver_is_refused_naming_the_key(tmp_path):
    require_berth()
    config = tmp_path / "berth.yml"
    config.write_text(f"data-dir: {tmp_path / 'data'}\nmetadata:\n  mysql:\n    dsn: mysql://x\n")
    proc = serve_until_exit("--config", str(config))
    assert proc.returncode != 0
    assert "key 'metadata'" in proc.stderr and "unknown metadata driver 'mysql'" in proc.stderr, proc.stderr
    assert not (tmp_path / "data").exists(), "nothing is created for a refused configuration"


def test_stores_newer_database_is_refused_at_start(server_factory, tmp_path):
    require_berth()
    server = server_factory.start(name="berth (schema version)", config=SQLITE)
    server.stop()
    db = server.data_dir / "berth.db"
    latest = user_version(db)
    assert latest >= 2, "the schema has at least two versions (seconds, then milliseconds)"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version={latest + 1}")
    proc = serve_until_exit("--data-dir", str(server.data_dir))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"schema version {latest + 1}, newer than the {latest} this berth knows" in out, out
    assert user_version(db) == latest + 1, "a refused database is left as it was"

    migrate = run_berth("migrate", "--data-dir", str(server.data_dir), check=False)
    assert migrate.returncode == 1
    assert f"schema version {latest + 1}" in migrate.stderr, migrate.stderr


def test_stores_migrate_reports_the_versions(server_factory, tmp_path):
    require_berth()
    server = server_factory.start(name="berth (migrate)", config=SQLITE)
    server.stop()
    db = server.data_dir / "berth.db"
    latest = user_version(db)
    # What a berth of version 1 left: times in seconds, the version in its own table.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_version SET version=1")
        conn.execute("PRAGMA user_version=0")
    out = run_berth("migrate", "--data-dir", str(server.data_dir)).stdout
    assert f"schema version 1 -> {latest}" in out, out
    assert user_version(db) == latest
    again = run_berth("migrate", "--data-dir", str(server.data_dir)).stdout
    assert f"schema version {latest}, already current" in again, again
    missing = run_berth("migrate", "--data-dir", str(tmp_path / "nowhere"), check=False)
    assert missing.returncode == 1 and "no berth database" in missing.stderr, missing.stderr
    assert not (tmp_path / "nowhere").exists()


def test_stores_s3_run_keeps_a_test_config_file(server_factory, tmp_path, monkeypatch):
    """Under the S3 rerun (BERTH_TEST_STORAGE=s3) a test that passes its own ``--config FILE``
    still gets one config file holding both its settings and the S3 storage: berth takes a single
    --config (a second one made it exit with CLI11's status 114 at start-up). The server starts
    with the file's setting and its blobs land in S3, not in the data directory."""
    import os

    import boto3
    from ecr_helpers import start_server

    for var in ("BERTH_TEST_S3_ENDPOINT", "BERTH_TEST_S3_ACCESS_KEY", "BERTH_TEST_S3_SECRET_KEY"):
        assert os.environ.get(var), f"{var} unset: run under scripts/test.sh or source ceph-up.sh's env"
    monkeypatch.setenv("BERTH_TEST_STORAGE", "s3")
    cfg = tmp_path / "own.yaml"
    cfg.write_text("max-connections: 64\n")
    server = start_server(server_factory, "--config", str(cfg), "--header-timeout", "2s")
    assert "storage:" in cfg.read_text() and "max-connections: 64" in cfg.read_text()
    assert server.command().count("--config") == 1, server.command()
    reg = Registry(server)
    data = b"kept in s3 " + unique().encode()
    digest = push_blob(reg, unique("it/s3cfg"), data)
    s3 = boto3.client("s3", endpoint_url=os.environ["BERTH_TEST_S3_ENDPOINT"],
                      aws_access_key_id=os.environ["BERTH_TEST_S3_ACCESS_KEY"],
                      aws_secret_access_key=os.environ["BERTH_TEST_S3_SECRET_KEY"],
                      region_name=os.environ.get("BERTH_TEST_S3_REGION", "us-east-1"))
    bucket = re.search(r'bucket: "([^"]+)"', cfg.read_text()).group(1)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert any(digest.split(":")[1] in k for k in keys), keys
    assert not list(server.data_dir.rglob(digest.split(":")[1] + "*")), "blob bytes in the data directory"
