"""Integrity of stored data: blobs whose bytes went bad on disk, ``berth scrub`` and the background
scrub, a full disk, and the modes of everything in the data directory.

The tests damage blob files directly (``<data-dir>/blobs/sha256/<xx>/<hex>``) as bit rot, a bad
disk or an operator's mistake would. The disk-full test mounts a small tmpfs, so it needs root; it
is skipped otherwise, except under CI, where it must run.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest

from content import OCTET, assert_error, describe, push_blob, push_image, sha256, with_query
from ecr_helpers import (blob_file, ecr_ok, ecr_raw, image_from_layers, log_records, make_layer_blob,
                         require_berth, run_berth, start_server, wait_until)
from harness import Registry, ServerProcess
from support.server import postgres_dsn_for


def new_repo(reg: Registry, prefix: str) -> str:
    name = f"{prefix}-{os.urandom(4).hex()}"
    ecr_ok(reg, "CreateRepository", {"repositoryName": name})
    return name


def flip_a_bit(path: Path, offset: int):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    # Same size, same inode, different bytes: what bit rot leaves.
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes([data[offset]]))


def layer_available(reg: Registry, repo: str, digest: str) -> str:
    body = ecr_ok(reg, "BatchCheckLayerAvailability", {"repositoryName": repo, "layerDigests": [digest]})
    assert not body.get("failures"), body
    return body["layers"][0]["layerAvailability"]


@pytest.fixture
def server(server_factory):
    return start_server(server_factory, name="integrity")


@pytest.fixture
def reg(server) -> Registry:
    return Registry(server)


# ---------------------------------------------------------------------------------------------
# Serving: a blob whose stored size is not the recorded one reads as missing

def test_truncated_blob_reads_as_missing_until_pushed_again(server, reg):
    repo = new_repo(reg, "truncated")
    data = os.urandom(20000)
    digest = push_blob(reg, repo, data)
    path = blob_file(server.data_dir, digest)
    os.truncate(path, 5000)

    for _ in range(2):
        head = reg.head(f"/v2/{repo}/blobs/{digest}")
        assert head.status_code == 404, describe(head)
        assert_error(reg.get(f"/v2/{repo}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert layer_available(reg, repo, digest) == "UNAVAILABLE"
    errors = [r for r in log_records(server) if r.get("digest") == digest and r.get("level") == "error"]
    assert len(errors) == 1, f"expected one error naming the digest, got {errors}"
    assert errors[0]["recorded_size"] == 20000 and errors[0]["stored_size"] == 5000

    # The client re-uploads (HEAD said 404) and that heals the blob.
    push_blob(reg, repo, data)
    r = reg.get(f"/v2/{repo}/blobs/{digest}")
    assert r.status_code == 200 and r.content == data, describe(r)
    assert layer_available(reg, repo, digest) == "AVAILABLE"


def test_blob_whose_file_is_gone_is_missing_for_both_apis(server, reg):
    repo = new_repo(reg, "gone")
    digest = push_blob(reg, repo, os.urandom(3000))
    assert layer_available(reg, repo, digest) == "AVAILABLE"
    blob_file(server.data_dir, digest).unlink()
    assert reg.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
    assert layer_available(reg, repo, digest) == "UNAVAILABLE"


# ---------------------------------------------------------------------------------------------
# berth scrub

def scrub(server, *args: str) -> subprocess.CompletedProcess:
    return run_berth("scrub", "--data-dir", str(server.data_dir), *args, check=False)


def test_scrub_names_a_bit_flipped_blob_and_repair_quarantines_it(server, reg):
    repo = new_repo(reg, "scrub")
    image = image_from_layers([make_layer_blob(size=40000), make_layer_blob(size=3000)])
    push_image(reg, repo, image, "v1")
    bad = image.blobs[1]
    path = blob_file(server.data_dir, bad.digest)
    flip_a_bit(path, len(bad.data) // 2)
    # Served with the right size and the wrong bytes: only a scrub can tell.
    r = reg.get(f"/v2/{repo}/blobs/{bad.digest}")
    assert r.status_code == 200 and sha256(r.content) != bad.digest

    found = scrub(server)
    assert found.returncode == 1, f"{found.returncode}\n{found.stdout}\n{found.stderr}"
    assert re.findall(r"^corrupt (sha256:[0-9a-f]{64})", found.stdout, re.M) == [bad.digest], found.stdout
    assert re.search(r"scrubbed \d+ blobs.*1 corrupt, 0 missing, 0 quarantined", found.stderr), found.stderr
    assert path.exists(), "a scrub without --repair must not move anything"

    repaired = scrub(server, "--repair")
    assert repaired.returncode == 1
    assert f"corrupt {bad.digest}" in repaired.stdout and "quarantined" in repaired.stdout
    algorithm, _, hexpart = bad.digest.partition(":")
    assert (server.data_dir / "quarantine" / algorithm / hexpart).read_bytes() != bad.data
    assert not path.exists()
    assert reg.head(f"/v2/{repo}/blobs/{bad.digest}").status_code == 404
    assert layer_available(reg, repo, bad.digest) == "UNAVAILABLE"

    # Until a push heals it, the blob is reported missing.
    missing = scrub(server)
    assert missing.returncode == 1 and f"missing {bad.digest}" in missing.stdout, missing.stdout

    # A client pushing the image again uploads the blob again, since HEAD says it is gone.
    assert reg.head(f"/v2/{repo}/blobs/{bad.digest}").status_code == 404
    push_image(reg, repo, image, "v1")
    r = reg.get(f"/v2/{repo}/blobs/{bad.digest}")
    assert r.status_code == 200 and r.content == bad.data, describe(r)
    clean = scrub(server)
    assert clean.returncode == 0 and clean.stdout == "", f"{clean.stdout}\n{clean.stderr}"
    assert re.search(r"0 corrupt, 0 missing", clean.stderr), clean.stderr


def test_background_scrub_quarantines_a_corrupt_blob(server_factory):
    server = start_server(server_factory, "--scrub-interval", "1s", "--scrub-rate", "4m", name="background scrub")
    reg = Registry(server)
    repo = new_repo(reg, "bgscrub")
    data = os.urandom(50000)
    digest = push_blob(reg, repo, data)
    flip_a_bit(blob_file(server.data_dir, digest), 7)
    algorithm, _, hexpart = digest.partition(":")
    quarantined = server.data_dir / "quarantine" / algorithm / hexpart
    wait_until(quarantined.exists, timeout=30, what="the background scrub to quarantine the blob")
    assert reg.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
    # The scrub moves the file first and reports it after, so on a busy machine the log line can
    # come a moment after the file is in quarantine.
    wait_until(lambda: any(r.get("digest") == digest and "quarantined" in r.get("msg", "")
                           for r in log_records(server)),
               timeout=10, what="the scrub's log line naming the quarantined blob")
    push_blob(reg, repo, data)
    assert reg.get(f"/v2/{repo}/blobs/{digest}").content == data


# ---------------------------------------------------------------------------------------------
# Modes

def test_every_file_in_the_data_dir_is_private(server_factory):
    require_berth()
    old = os.umask(0o022)  # a usual umask: berth must not depend on it
    try:
        server = start_server(server_factory, name="modes")
    finally:
        os.umask(old)
    reg = Registry(server)
    repo = new_repo(reg, "modes")
    push_image(reg, repo, image_from_layers([make_layer_blob()]), "v1")
    r = reg.post(f"/v2/{repo}/blobs/uploads/")  # an upload left open: its file exists
    assert r.status_code == 202, describe(r)
    r = reg.patch(reg.abs_url(r.headers["Location"]), data=b"partial", headers={"Content-Type": OCTET})
    assert r.status_code == 202, describe(r)

    seen = set()
    wrong = []
    for root, dirs, files in os.walk(server.data_dir):
        for d in dirs:
            mode = stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode)
            if mode != 0o700:
                wrong.append(f"{os.path.join(root, d)}: {oct(mode)}")
        for f in files:
            p = os.path.join(root, f)
            seen.add(os.path.relpath(p, server.data_dir).split(os.sep)[0])
            mode = stat.S_IMODE(os.stat(p).st_mode)
            if mode != 0o600:
                wrong.append(f"{p}: {oct(mode)}")
    mode = stat.S_IMODE(os.stat(server.data_dir).st_mode)
    if mode != 0o700:
        wrong.append(f"{server.data_dir}: {oct(mode)}")
    assert not wrong, "files not 0600 / directories not 0700:\n" + "\n".join(wrong)
    database = () if postgres_dsn_for(server.data_dir) else ("berth.db", "berth.db-wal", "berth.db-shm")
    for expected in (*database, "blobs", "uploads", "secret.key"):
        assert expected in seen, f"{expected} not found in {sorted(seen)}"


# ---------------------------------------------------------------------------------------------
# A full disk

@contextlib.contextmanager
def small_filesystem(base: Path, size: str):
    mnt = base / "small-fs"
    mnt.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the disk-full test must run under CI, which runs as root; mounting a tmpfs needs root")
        pytest.skip("mounting a size-limited tmpfs needs root (under CI=true this fails instead)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> int:
    """Appends to ``path`` until the filesystem is full; returns the bytes written."""
    written = 0
    chunk = b"\0" * (256 * 1024)
    with open(path, "ab", buffering=0) as f:
        for size in (len(chunk), 4096, 1):
            while True:
                try:
                    n = f.write(chunk[:size])
                except OSError:
                    break
                written += n
                if n < size:
                    break
    return written


def test_full_disk_is_reported_clearly_and_deletes_and_gc_still_work(server_factory, tmp_path):
    require_berth()
    with small_filesystem(tmp_path, "48m") as mnt:
        data_dir = mnt / "data"
        # One setting for the server and for berth gc, which sets the reserve aside again.
        config = tmp_path / "berth.yml"
        # Metadata in SQLite on the full disk too (even when the suite runs on PostgreSQL): what
        # the reserve is for is letting that database's deletes through.
        config.write_text("space-reserve: 4m\nmetadata: {sqlite: {}}\n")
        server = ServerProcess(server_factory.base / "diskfull", extra_args=["--config", str(config)],
                               data_dir=data_dir, name="berth (disk full)")
        server_factory.servers.append(server)
        server.start()
        assert (data_dir / "space.reserve").stat().st_size == 4 << 20
        reg = Registry(server)
        repo = new_repo(reg, "full")
        a = image_from_layers([make_layer_blob(size=200000)])
        b = image_from_layers([make_layer_blob(size=200000)])
        push_image(reg, repo, a, "a")
        push_image(reg, repo, b, "b")
        upload = ecr_ok(reg, "InitiateLayerUpload", {"repositoryName": repo})
        filler = mnt / "filler"
        assert fill(filler) > 0

        # A push: 507 with a message that names the cause, and the cause in the log with the request id.
        data = os.urandom(300000)
        r = reg.post(f"/v2/{repo}/blobs/uploads/?digest={sha256(data)}", data=data, headers={"Content-Type": OCTET})
        if r.status_code == 202:  # the session row fit; the bytes will not
            r = reg.put(with_query(reg.abs_url(r.headers["Location"]), digest=sha256(data)), data=data,
                        headers={"Content-Type": OCTET})
        body = assert_error(r, 507, "UNKNOWN")
        assert "no space left on device" in body["errors"][0]["message"], body
        failures = [x for x in log_records(server, "request failed") if "No space left on device" in x.get("cause", "")
                    or "full" in x.get("cause", "").lower()]
        assert failures and all(x.get("request_id") for x in failures), log_records(server, "request failed")

        # ECR: a part that cannot be stored is a ServerException naming the cause.
        fill(filler)
        part = base64.b64encode(os.urandom(300000)).decode()
        status, err = ecr_raw(reg, "UploadLayerPart", {"repositoryName": repo, "uploadId": upload["uploadId"],
                                                      "partFirstByte": 0, "partLastByte": 299999,
                                                      "layerPartBlob": part})
        assert status == 500 and err.get("__type") == "ServerException", (status, err)
        assert "no space left on device" in err["message"], err

        # Deleting an existing image works on the full disk (the reserve makes room for the metadata).
        fill(filler)
        deleted = ecr_ok(reg, "BatchDeleteImage", {"repositoryName": repo, "imageIds": [{"imageTag": "a"}]})
        assert deleted["failures"] == [] and deleted["imageIds"] == [{"imageDigest": a.digest, "imageTag": "a"}], \
            deleted
        assert not (data_dir / "space.reserve").exists()
        assert any("released the space reserve" in x.get("msg", "") for x in log_records(server))

        # With space again, berth gc reclaims and sets the reserve aside again.
        filler.unlink()
        time.sleep(1.1)
        out = run_berth("gc", "--config", str(config), "--data-dir", str(data_dir), "--grace", "0s")
        assert re.search(r"^reclaimed [1-9]\d* blobs", out.stdout, re.M), out.stdout
        assert (data_dir / "space.reserve").stat().st_size == 4 << 20

        # berth gc on a full disk: releases the reserve and collects.
        deleted = ecr_ok(reg, "BatchDeleteImage", {"repositoryName": repo, "imageIds": [{"imageTag": "b"}]})
        assert deleted["failures"] == [], deleted
        fill(filler)
        time.sleep(1.1)
        out = run_berth("gc", "--config", str(config), "--data-dir", str(data_dir), "--grace", "0s",
                        check=False)
        assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
        assert re.search(r"^reclaimed [1-9]\d* blobs", out.stdout, re.M), out.stdout
        assert not (data_dir / "space.reserve").exists(), "the collection needed the reserve on the full disk"

        # And once space is free, pushes work again.
        filler.unlink()
        assert push_blob(reg, repo, data) == sha256(data)
        server.stop()
