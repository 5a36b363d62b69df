"""Crash safety: kill -9 during concurrent pushes, restart on the same data directory, and check
that everything acknowledged is intact and nothing half-written is visible: every blob and
manifest answered 201 is there byte for byte, every manifest that resolves after the restart
(acknowledged or caught in flight) has all its blobs, and an upload session fed before the kill
resumes where it stopped."""

import os
import random
import signal
import json
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from content import OCTET, describe, get_manifest, make_image, push_image, sha256, start_upload, with_query
from harness import Registry, distribution_gap

pytestmark = pytest.mark.slow

WORKERS = 4
MIN_ACKED = 12          # kill only after this many manifests were acknowledged
MIN_PUSH_SECONDS = 1.5  # and this much pushing, at a moment the workers do not choose ...
MAX_PUSH_SECONDS = 30   # ... or after this long, whichever comes first


@dataclass
class Unfinished:
    """An upload deliberately left open: ``sent`` was acknowledged (PATCH 202), ``rest`` never sent."""
    repo: str
    location: str
    sent: bytes
    rest: bytes


class Recorder:
    """What the pushing threads did, as seen from the client side."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = []         # (repo, tag, Manifest) whose PUT answered 201
        self.acked_blobs = []   # (repo, Blob) whose upload's final PUT answered 201
        self.attempted = []     # (repo, Blob) whose upload was started, finished or not
        self.unfinished = []    # Unfinished uploads, the first half acknowledged

    def add(self, kind, item):
        with self.lock:
            getattr(self, kind).append(item)

    def acked_count(self):
        with self.lock:
            return len(self.acked)


def push_blob_in_chunks(reg, repo, data, chunk=64 * 1024):
    """Upload ``data`` in PATCH chunks; returns once the final PUT answered 201."""
    loc = start_upload(reg, repo)
    for start in range(0, len(data), chunk):
        piece = data[start:start + chunk]
        r = reg.patch(loc, data=piece,
                      headers={"Content-Type": OCTET, "Content-Range": f"{start}-{start + len(piece) - 1}"})
        assert r.status_code == 202, describe(r)
        loc = reg.abs_url(r.headers["Location"])
    r = reg.put(with_query(loc, digest=sha256(data)), headers={"Content-Type": OCTET})
    assert r.status_code == 201, describe(r)


def worker(server, index, stop, killed, rec):
    reg = Registry(server)
    rng = random.Random(index)
    repo = f"crash/worker{index}"
    n = 0
    while not stop.is_set():
        n += 1
        image = make_image(layers=2, layer_size=rng.choice([1_000, 40_000, 300_000]))
        try:
            for blob in image.blobs:
                rec.add("attempted", (repo, blob))
                if blob.size > 100_000:
                    push_blob_in_chunks(reg, repo, blob.data)
                else:
                    loc = start_upload(reg, repo)
                    r = reg.put(with_query(loc, digest=blob.digest), data=blob.data, headers={"Content-Type": OCTET})
                    assert r.status_code == 201, describe(r)
                rec.add("acked_blobs", (repo, blob))
            # An upload that is started and fed but never completed (before the kill).
            partial = os.urandom(rng.choice([5_000, 80_000]))
            half = len(partial) // 2
            loc = start_upload(reg, repo)
            r = reg.patch(loc, data=partial[:half], headers={"Content-Type": OCTET, "Content-Range": f"0-{half - 1}"})
            assert r.status_code == 202, describe(r)
            rec.add("unfinished", Unfinished(repo, reg.abs_url(r.headers["Location"]), partial[:half], partial[half:]))
            tag = f"img{n}"
            r = reg.put(f"/v2/{repo}/manifests/{tag}", data=image.body, headers={"Content-Type": image.media_type})
            if r.status_code == 201:
                assert r.headers.get("Docker-Content-Digest") == image.digest, describe(r)
                rec.add("acked", (repo, tag, image))
        except (requests.RequestException, AssertionError):
            if not killed.is_set():
                raise
            return  # the server was killed under us


@pytest.fixture(scope="module")
def crashed(module_server_factory):
    """Push concurrently, kill -9 mid-flight, restart on the same data directory."""
    server = module_server_factory.start(name="crash target")
    rec = Recorder()
    stop, killed = threading.Event(), threading.Event()
    errors = []

    def run(i):
        try:
            worker(server, i, stop, killed, rec)
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(WORKERS)]
    for t in threads:
        t.start()
    started = time.monotonic()
    kill_after = started + MIN_PUSH_SECONDS + random.uniform(0, 0.5)
    deadline = started + MAX_PUSH_SECONDS
    while (rec.acked_count() < MIN_ACKED or time.monotonic() < kill_after) \
            and time.monotonic() < deadline and not errors:
        time.sleep(0.01)
    killed.set()
    server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not errors, f"a pushing thread failed before the kill: {errors[0]!r}"
    assert rec.acked_count() >= 1, "nothing was acknowledged before the kill"
    server.start()
    print(f"crash: {len(rec.acked)} manifests acknowledged, {len(rec.attempted)} blob uploads started, "
          f"{len(rec.acked_blobs)} acknowledged, {len(rec.unfinished)} left unfinished")
    return Registry(server), rec


def test_crash_acknowledged_manifests_survive_restart(crashed):
    reg, rec = crashed
    for repo, tag, image in rec.acked:
        for ref in (tag, image.digest):
            r = get_manifest(reg, repo, ref)
            assert r.status_code == 200, describe(r)
            assert r.content == image.body, f"{repo}:{ref} bytes changed across the crash"
            assert r.headers.get("Docker-Content-Digest") == image.digest, describe(r)


def test_crash_acknowledged_blobs_are_complete_after_restart(crashed):
    """Every blob answered 201, whether or not a manifest refers to it yet, is there byte for byte."""
    reg, rec = crashed
    acked = {(repo, blob.digest): blob for repo, blob in rec.acked_blobs}
    acked.update({(repo, blob.digest): blob for repo, _, image in rec.acked for blob in image.blobs})
    assert len(rec.acked_blobs) >= 3 * len(rec.acked), "every acknowledged manifest's blobs were acknowledged first"
    lost = []
    for (repo, digest), blob in acked.items():
        r = reg.get(f"/v2/{repo}/blobs/{digest}")
        if r.status_code != 200 or r.content != blob.data:
            lost.append(f"{repo}@{digest}: {r.status_code}, {len(r.content)} of {blob.size} bytes")
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged blobs are missing or changed: {lost[:5]}"


def test_crash_unfinished_uploads_are_not_visible_after_restart(crashed):
    """The bytes of an upload nobody completed are no blob, neither under the digest of what was
    sent nor under the digest the whole would have had."""
    reg, rec = crashed
    assert rec.unfinished
    for u in rec.unfinished:
        for digest in (sha256(u.sent), sha256(u.sent + u.rest)):
            r = reg.head(f"/v2/{u.repo}/blobs/{digest}")
            assert r.status_code == 404, describe(r)


def test_crash_any_visible_blob_is_whole(crashed):
    """A blob whose upload was cut off may or may not have been committed, but never in part."""
    reg, rec = crashed
    for repo, blob in rec.attempted:
        head = reg.head(f"/v2/{repo}/blobs/{blob.digest}")
        if head.status_code == 404:
            continue
        assert head.status_code == 200, describe(head)
        assert head.headers.get("Content-Length") == str(blob.size), describe(head)
        r = reg.get(f"/v2/{repo}/blobs/{blob.digest}")
        assert r.status_code == 200 and r.content == blob.data, describe(r)


def referenced_blobs(manifest: dict) -> list[dict]:
    """The blob descriptors an image manifest refers to (config, layers)."""
    return ([manifest["config"]] if "config" in manifest else []) + list(manifest.get("layers", []))


def test_crash_every_listed_tag_resolves_after_restart(crashed):
    """Every tag listed after the restart, the manifest caught in flight by the kill included,
    resolves to a manifest whose every blob is fetchable byte for byte."""
    reg, rec = crashed
    repos = {repo for repo, _, _ in rec.acked} | {repo for repo, _ in rec.attempted}
    acked_tags = {(repo, tag) for repo, tag, _ in rec.acked}
    checked = 0
    for repo in sorted(repos):
        r = reg.get(f"/v2/{repo}/tags/list")
        assert r.status_code == 200, describe(r)
        tags = r.json()["tags"] or []
        assert {t for rp, t in acked_tags if rp == repo} <= set(tags), "an acknowledged tag is missing"
        for tag in tags:
            m = get_manifest(reg, repo, tag)
            assert m.status_code == 200, f"tag {repo}:{tag} is listed but does not resolve: {describe(m)}"
            assert m.headers.get("Docker-Content-Digest") == sha256(m.content)
            for desc in referenced_blobs(json.loads(m.content)):
                b = reg.get(f"/v2/{repo}/blobs/{desc['digest']}")
                assert b.status_code == 200, f"{repo}:{tag} refers to a missing blob {desc['digest']}: {describe(b)}"
                assert sha256(b.content) == desc["digest"] and len(b.content) == desc["size"], \
                    f"{repo}:{tag} refers to a damaged blob {desc['digest']}"
                checked += 1
    assert checked >= 2 * len(rec.acked), "fewer blobs checked than the acknowledged manifests have"


def test_crash_unfinished_uploads_resume_after_restart(crashed):
    """An upload session whose first half was acknowledged reports that half after the restart,
    takes the rest, and completes into exactly the blob that was meant. (Runs after the
    visibility checks above: it completes the uploads.)"""
    reg, rec = crashed
    assert rec.unfinished
    for u in rec.unfinished:
        status = reg.get(reg.rebase(u.location))
        assert status.status_code == 204, describe(status)
        assert status.headers.get("Range") == f"0-{len(u.sent) - 1}", describe(status)
        loc = reg.rebase(status.headers.get("Location") or u.location)
        r = reg.patch(loc, data=u.rest, headers={"Content-Type": OCTET,
                                                 "Content-Range": f"{len(u.sent)}-{len(u.sent) + len(u.rest) - 1}"})
        assert r.status_code == 202, describe(r)
        whole = u.sent + u.rest
        r = reg.put(with_query(reg.rebase(r.headers["Location"]), digest=sha256(whole)), headers={"Content-Type": OCTET})
        assert r.status_code == 201, describe(r)
        got = reg.get(f"/v2/{u.repo}/blobs/{sha256(whole)}")
        assert got.status_code == 200 and got.content == whole, describe(got)


def test_crash_registry_accepts_pushes_after_restart(crashed):
    reg, _ = crashed
    image = make_image()
    push_image(reg, "crash/after-restart", image, ref="v1")
    r = get_manifest(reg, "crash/after-restart", "v1")
    assert r.status_code == 200 and r.content == image.body, describe(r)


def test_crash_chunked_upload_resumes_after_restart(server_factory):
    server = server_factory.start(name="resume target")
    reg = Registry(server)
    repo = "crash/resume"
    data = os.urandom(300_000)
    loc = start_upload(reg, repo)
    r = reg.patch(loc, data=data[:120_000], headers={"Content-Type": OCTET, "Content-Range": "0-119999"})
    assert r.status_code == 202, describe(r)
    loc = r.headers["Location"]

    server.kill()
    server.start()
    reg.reconnect()

    status = reg.get(reg.rebase(loc))
    assert status.status_code == 204, describe(status)
    assert status.headers.get("Range") == "0-119999", describe(status)
    loc = reg.rebase(status.headers.get("Location") or loc)
    r = reg.patch(loc, data=data[120_000:], headers={"Content-Type": OCTET, "Content-Range": f"120000-{len(data) - 1}"})
    assert r.status_code == 202, describe(r)
    assert r.headers.get("Range") == f"0-{len(data) - 1}", describe(r)
    r = reg.put(with_query(reg.rebase(r.headers["Location"]), digest=sha256(data)), headers={"Content-Type": OCTET})
    assert r.status_code == 201, describe(r)
    got = reg.get(f"/v2/{repo}/blobs/{sha256(data)}")
    assert got.status_code == 200 and got.content == data, describe(got)


@distribution_gap("without http.draintimeout 2.8 dies by the signal (status -15) instead of exiting 0")
def test_shutdown_on_sigterm_is_clean_and_keeps_data(server_factory):
    server = server_factory.start(name="sigterm target")
    reg = Registry(server)
    image = make_image()
    push_image(reg, "shutdown/clean", image, ref="v1")
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=15) == 0, f"exit status {server.proc.returncode}:\n{server.log_tail()}"
    server.stop()
    server.start()
    reg.reconnect()
    r = get_manifest(reg, "shutdown/clean", "v1")
    assert r.status_code == 200 and r.content == image.body, describe(r)
