"""Garbage collection of blobs: ``berth gc`` on demand (dry run, exact reclaim, grace period) and
the online collector (``berth serve --gc-interval``), including a race of concurrent pushes and
deletes against a collector running every second. Also ``berth admin usage``.

Blob files live at ``<data-dir>/blobs/sha256/<xx>/<hex>``; the tests look at them directly.
Link times have one-second resolution, so a test waits into the next second before a
``--grace 0s`` pass that must treat a just-unreferenced blob as garbage.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import threading
import time

import pytest

from content import (OCTET, assert_error, describe, get_manifest, make_image, push_blob, push_image, sha256,
                     with_query)
from botocore.exceptions import ClientError

from ecr_helpers import (blob_file, client_error_code, ecr_client, image_from_layers, make_layer_blob, run_berth,
                         start_server, wait_until)
from harness import Registry

RECLAIMED = re.compile(r"^reclaimed (\d+) blobs, (\d+) bytes", re.M)
WOULD_RECLAIM = re.compile(r"^would reclaim (\d+) blobs, (\d+) bytes", re.M)


def next_second():
    now = time.time()
    time.sleep(int(now) + 1 - now + 0.05)


def gc(server, *args) -> tuple[int, int]:
    """Run ``berth gc`` on the server's data directory (berth keeps serving); returns (blobs, bytes)."""
    out = run_berth("gc", "--data-dir", str(server.data_dir), *args).stdout
    m = (WOULD_RECLAIM if "--dry-run" in args else RECLAIMED).search(out)
    assert m, f"unexpected gc report: {out!r}"
    return int(m.group(1)), int(m.group(2))


def files_exist(server, blobs) -> dict[str, bool]:
    return {b.digest: blob_file(server.data_dir, b.digest).exists() for b in blobs}


def assert_pulls(reg, repo, image):
    """The image is fully retrievable: manifest by digest, every blob with a matching digest."""
    r = get_manifest(reg, repo, image.digest)
    assert r.status_code == 200 and r.content == image.body, f"{repo}@{image.digest}: {describe(r)}"
    for blob in image.blobs:
        b = reg.get(f"/v2/{repo}/blobs/{blob.digest}")
        assert b.status_code == 200, f"{repo}: blob {blob.digest} of a live image: {describe(b)}"
        assert sha256(b.content) == blob.digest, f"{repo}: blob {blob.digest} is corrupt"


@pytest.fixture
def server(server_factory):
    """A private berth whose own collector stays idle (default interval), for on-demand gc."""
    return start_server(server_factory, name="gc on demand")


@pytest.fixture
def reg(server) -> Registry:
    return Registry(server)


def shared_layout(reg, repo_a, repo_b):
    """Image ``a`` in repo_a: base + cross + own layer; ``b`` in repo_a: base + own layer;
    ``c`` in repo_b: cross + own layer. Returns the images and the layers by name."""
    layers = {name: make_layer_blob(size=3000 + i * 100) for i, name in enumerate(["base", "cross", "a", "b", "c"])}
    a = image_from_layers([layers["base"], layers["cross"], layers["a"]])
    b = image_from_layers([layers["base"], layers["b"]])
    c = image_from_layers([layers["cross"], layers["c"]])
    push_image(reg, repo_a, a, "a")
    push_image(reg, repo_a, b, "b")
    push_image(reg, repo_b, c, "c")
    return a, b, c, {k: v[0] for k, v in layers.items()}


def unique_blobs_of_a(a, layers):
    return [a.blobs[0], layers["a"]]   # its config and its own layer


def test_gc_dry_run_reports_and_deletes_nothing(server, reg, repo_factory):
    repo_a, repo_b = repo_factory("a"), repo_factory("b")
    a, b, c, layers = shared_layout(reg, repo_a, repo_b)
    everything = a.blobs + b.blobs + c.blobs
    assert all(files_exist(server, everything).values()), "blobs are not where the tests expect them"

    assert gc(server, "--dry-run", "--grace", "0s") == (0, 0), "nothing is garbage yet"
    assert registry_delete(reg, repo_a, a.digest) == 202
    next_second()
    unique = unique_blobs_of_a(a, layers)
    expected = (len(unique), sum(x.size for x in unique))
    assert gc(server, "--dry-run", "--grace", "0s") == expected
    assert gc(server, "--dry-run", "--grace", "0s") == expected, "a dry run must not change what is pending"
    assert all(files_exist(server, everything).values()), "a dry run deleted files"
    assert gc(server, "--grace", "0s") == expected, "the real pass must reclaim what the dry run announced"


def registry_delete(reg, repo, digest) -> int:
    return reg.delete(f"/v2/{repo}/manifests/{digest}").status_code


@pytest.mark.parametrize("how", ["oci-delete", "batch-delete-image"])
def test_gc_reclaims_exactly_the_unique_layers_of_deleted_images(server, reg, repo_factory, how):
    repo_a, repo_b = repo_factory("a"), repo_factory("b")
    a, b, c, layers = shared_layout(reg, repo_a, repo_b)
    if how == "oci-delete":
        assert registry_delete(reg, repo_a, a.digest) == 202
    else:
        out = ecr_client(reg).batch_delete_image(repositoryName=repo_a, imageIds=[{"imageTag": "a"}])
        assert out["failures"] == [] and out["imageIds"][0]["imageDigest"] == a.digest, out
    next_second()

    unique = unique_blobs_of_a(a, layers)
    assert gc(server, "--grace", "0s") == (len(unique), sum(x.size for x in unique))
    gone = files_exist(server, unique)
    assert not any(gone.values()), f"unique blobs of the deleted image are still on disk: {gone}"
    kept = files_exist(server, b.blobs + c.blobs)
    assert all(kept.values()), f"shared or foreign blobs were deleted: {kept}"
    assert_pulls(reg, repo_a, b)
    assert_pulls(reg, repo_b, c)     # 'cross' was shared across repositories
    assert gc(server, "--grace", "0s") == (0, 0), "a second pass found more garbage"

    # Now the rest: once nothing refers to them, the shared layers go too.
    assert registry_delete(reg, repo_a, b.digest) == 202
    assert registry_delete(reg, repo_b, c.digest) == 202
    next_second()
    rest = {x.digest: x for x in b.blobs + c.blobs}
    assert gc(server, "--grace", "0s") == (len(rest), sum(x.size for x in rest.values()))
    assert not any(files_exist(server, rest.values()).values())


def test_gc_grace_protects_unreferenced_uploads(server, reg, repo):
    kept = make_image(layers=1)
    push_image(reg, repo, kept, "v1")
    orphan = make_layer_blob(size=1500)[0]
    push_blob(reg, repo, orphan.data)
    next_second()

    assert gc(server, "--grace", "1h") == (0, 0)
    assert blob_file(server.data_dir, orphan.digest).exists()
    assert reg.head(f"/v2/{repo}/blobs/{orphan.digest}").status_code == 200

    # Past the grace period an upload nothing refers to is garbage.
    assert gc(server, "--grace", "0s") == (1, orphan.size)
    assert not blob_file(server.data_dir, orphan.digest).exists()
    assert reg.head(f"/v2/{repo}/blobs/{orphan.digest}").status_code == 404
    assert_pulls(reg, repo, kept)


def test_gc_keeps_a_blob_mounted_into_another_repository(server, reg, repo_factory):
    repo_a, repo_b = repo_factory("a"), repo_factory("b")
    shared = make_layer_blob()
    a = image_from_layers([shared, make_layer_blob()])
    push_image(reg, repo_a, a, "a")
    r = reg.post(f"/v2/{repo_b}/blobs/uploads/?mount={shared[0].digest}&from={repo_a}")
    assert r.status_code == 201, describe(r)
    b = image_from_layers([shared])
    for blob in b.blobs[:1]:               # the config; the layer came by mount
        push_blob(reg, repo_b, blob.data)
    r = reg.put(f"/v2/{repo_b}/manifests/b", data=b.body, headers={"Content-Type": b.media_type})
    assert r.status_code == 201, describe(r)

    assert registry_delete(reg, repo_a, a.digest) == 202
    next_second()
    unique = [a.blobs[0], a.blobs[2]]
    assert gc(server, "--grace", "0s") == (len(unique), sum(x.size for x in unique))
    assert blob_file(server.data_dir, shared[0].digest).exists()
    assert_pulls(reg, repo_b, b)


def test_gc_full_scan_reclaims_stray_files(server, reg, repo):
    """``--full`` also finds files in the blob store that no metadata knows (e.g. left by a crash)."""
    kept = make_image(layers=1)
    push_image(reg, repo, kept, "v1")
    stray = b"left behind by a crash " * 100
    path = blob_file(server.data_dir, sha256(stray))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(stray)
    old = time.time() - 7200
    os.utime(path, (old, old))

    assert gc(server, "--grace", "0s") == (0, 0), "without --full only known candidates are examined"
    assert path.exists()
    assert gc(server, "--full", "--grace", "1h") == (1, len(stray)), "a two-hour-old stray file is garbage"
    assert not path.exists()
    assert all(files_exist(server, kept.blobs).values())
    assert_pulls(reg, repo, kept)


def test_gc_reclaims_blobs_of_lifecycle_expired_images(server_factory):
    server = start_server(server_factory, "--lifecycle-interval", "1s")
    reg = Registry(server)
    ecr = ecr_client(reg)
    repo = "gc/lifecycle"
    base = make_layer_blob()
    old_image = image_from_layers([base, make_layer_blob()])
    new_image = image_from_layers([base, make_layer_blob()])
    push_image(reg, repo, old_image, "old")
    next_second()
    push_image(reg, repo, new_image, "new")
    text = ('{"rules":[{"rulePriority":1,"description":"keep only the newest image","selection":'
            '{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}')
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
    wait_until(lambda: get_manifest(reg, repo, old_image.digest).status_code == 404, timeout=15,
               what="the lifecycle job to expire the older image")
    next_second()
    unique = [old_image.blobs[0], old_image.blobs[2]]
    assert gc(server, "--grace", "0s") == (len(unique), sum(x.size for x in unique))
    assert not any(files_exist(server, unique).values())
    assert_pulls(reg, repo, new_image)


def test_gc_online_collector_respects_grace(server_factory):
    server = start_server(server_factory, "--gc-interval", "1s", "--gc-grace", "1h")
    reg = Registry(server)
    repo = "gc/online-grace"
    image = make_image(layers=2)
    for blob in image.blobs:
        push_blob(reg, repo, blob.data)
    time.sleep(3.5)  # several collector passes
    assert all(files_exist(server, image.blobs).values()), "the collector took blobs inside the grace period"
    r = reg.put(f"/v2/{repo}/manifests/v1", data=image.body, headers={"Content-Type": image.media_type})
    assert r.status_code == 201, describe(r)
    assert_pulls(reg, repo, image)


def test_gc_online_collector_reclaims_deleted_images(server_factory):
    # Pushed while the collector is idle, so that no pass can fall between a blob's upload and
    # its manifest (with --gc-grace 0s that blob would be fair game); then the collector runs
    # every second on the same data directory.
    server = start_server(server_factory, name="gc online, idle collector first")
    reg = Registry(server)
    base = make_layer_blob()
    doomed_layer = make_layer_blob()
    doomed = image_from_layers([base, doomed_layer])
    survivor = image_from_layers([base, make_layer_blob()])
    ecr_client(reg).create_repository(repositoryName="gc/online")
    push_image(reg, "gc/online", doomed, "doomed")
    push_image(reg, "gc/online", survivor, "survivor")
    server.stop()
    server.extra_args = ["--gc-interval", "1s", "--gc-grace", "0s"]
    server.start()
    reg.reconnect()
    time.sleep(2.5)
    assert all(files_exist(server, doomed.blobs + survivor.blobs).values()), "referenced blobs were collected"
    assert registry_delete(reg, "gc/online", doomed.digest) == 202
    unique = [doomed.blobs[0], doomed_layer[0]]
    wait_until(lambda: not any(files_exist(server, unique).values()), timeout=10,
               what="the online collector to delete the deleted image's unique blobs")
    assert all(files_exist(server, survivor.blobs).values())
    assert_pulls(reg, "gc/online", survivor)
    # A manifest referring to a collected blob is refused with a clear error.
    r = reg.put("/v2/gc/online/manifests/again", data=doomed.body, headers={"Content-Type": doomed.media_type})
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")


# ---------------------------------------------------------------------------------------------
# The race: concurrent pushes and deletes against a collector running every second

RACE_SECONDS = 20
RACE_WORKERS = 8
PUSH_ATTEMPTS = 4
RACE_REPOS = ["race/one", "race/two", "race/three"]


class RaceLog:
    def __init__(self):
        self.lock = threading.Lock()
        self.live: dict[str, tuple[str, object]] = {}      # digest -> (repo, Manifest), acknowledged
        self.deleted: dict[str, tuple[str, object]] = {}   # digest -> (repo, Manifest), deleted after 201
        self.retries: dict[str, int] = {}                  # refusal kind -> count
        self.pushes = 0                                    # race_push calls
        self.recovered = 0                                 # pushes refused at first, then 201
        self.gave_up = 0                                   # pushes refused PUSH_ATTEMPTS times
        self.unexpected: list[str] = []

    def note_retry(self, kind):
        with self.lock:
            self.retries[kind] = self.retries.get(kind, 0) + 1


def refusal_kind(resp):
    """The refusal if it is one a push may legitimately meet while the collector runs, else None."""
    if resp.status_code == 503:
        return "503"
    if resp.status_code in (400, 404):
        try:
            codes = [e.get("code") for e in resp.json().get("errors", [])]
        except ValueError:
            return None
        for code in ("MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"):
            if code in codes:
                return code
    return None


def race_push(reg, repo, image, tag, rng, log) -> bool:
    """Push like a real client (HEAD each blob, upload the missing ones, then the manifest),
    with a pause before the manifest to widen the window for the collector. True on 201."""
    with log.lock:
        log.pushes += 1
    for attempt in range(PUSH_ATTEMPTS):
        refused = None
        for blob in image.blobs:
            if reg.head(f"/v2/{repo}/blobs/{blob.digest}").status_code == 200:
                continue
            r = reg.post(f"/v2/{repo}/blobs/uploads/")
            if r.status_code != 202:
                refused = refusal_kind(r)
                if refused is None:
                    log.unexpected.append(describe(r))
                    return False
                break
            r = reg.put(with_query(reg.abs_url(r.headers["Location"]), digest=blob.digest), data=blob.data,
                        headers={"Content-Type": OCTET})
            if r.status_code != 201:
                refused = refusal_kind(r)
                if refused is None:
                    log.unexpected.append(describe(r))
                    return False
                break
        if refused is None:
            time.sleep(rng.uniform(0, 0.8))
            r = reg.put(f"/v2/{repo}/manifests/{tag}", data=image.body, headers={"Content-Type": image.media_type})
            if r.status_code == 201:
                if r.headers.get("Docker-Content-Digest") != image.digest:
                    log.unexpected.append(f"201 with the wrong digest: {describe(r)}")
                if attempt > 0:
                    with log.lock:
                        log.recovered += 1
                return True
            refused = refusal_kind(r)
            if refused is None:
                log.unexpected.append(describe(r))
                return False
        log.note_retry(refused)
    with log.lock:
        log.gave_up += 1
    return False


def race_worker(server, index, base, stop, log):
    reg = Registry(server)
    rng = random.Random(index)
    mine: list[str] = []
    n = 0
    try:
        while not stop.is_set():
            n += 1
            repo = RACE_REPOS[(index + n) % len(RACE_REPOS)]
            with log.lock:
                revivable = [d for d, (r, _) in log.deleted.items() if r == repo]
            if revivable and rng.random() < 0.15:
                # Push a deleted image again: its blobs may be half-collected right now.
                digest = rng.choice(revivable)
                with log.lock:
                    entry = log.deleted.pop(digest, None)
                if entry is None:
                    continue
                image = entry[1]
                if race_push(reg, repo, image, f"w{index}-again{n}", rng, log):
                    with log.lock:
                        log.live[image.digest] = (repo, image)
                    mine.append(image.digest)
                else:
                    with log.lock:
                        log.deleted[image.digest] = entry
                continue
            image = image_from_layers([base, make_layer_blob(size=rng.choice([500, 5000, 40000]))])
            if race_push(reg, repo, image, f"w{index}-{n}", rng, log):
                with log.lock:
                    log.live[image.digest] = (repo, image)
                mine.append(image.digest)
            if mine and rng.random() < 0.35:
                digest = mine.pop(rng.randrange(len(mine)))
                with log.lock:
                    repo_of, image_of = log.live[digest]
                r = reg.delete(f"/v2/{repo_of}/manifests/{digest}")
                if r.status_code != 202:
                    log.unexpected.append(describe(r))
                    continue
                with log.lock:
                    del log.live[digest]
                    log.deleted[digest] = (repo_of, image_of)
    except Exception as e:  # noqa: BLE001 - reported by the test
        log.unexpected.append(f"worker {index}: {e!r}")


@pytest.mark.slow
def test_gc_race_concurrent_pushes_and_deletes_lose_nothing(server_factory):
    server = start_server(server_factory, "--gc-interval", "1s", "--gc-grace", "0s")
    base = make_layer_blob(size=20000, name="common-base")
    log = RaceLog()
    stop = threading.Event()
    workers = [threading.Thread(target=race_worker, args=(server, i, base, stop, log), daemon=True)
               for i in range(RACE_WORKERS)]
    for w in workers:
        w.start()
    time.sleep(RACE_SECONDS)
    stop.set()
    for w in workers:
        w.join(timeout=60)
    assert not any(w.is_alive() for w in workers), "a worker hung"
    assert server.alive(), "berth died during the race"
    assert not log.unexpected, "unexpected answers:\n" + "\n".join(log.unexpected[:5])
    summary = (f"{log.pushes} pushes, {len(log.live)} live, {len(log.deleted)} deleted, refusals {log.retries}, "
               f"{log.recovered} recovered on retry, {log.gave_up} gave up")
    print(f"gc race: {summary}")
    assert len(log.live) >= 20 and len(log.deleted) >= 5, f"the race did too little to mean anything: {summary}"
    # The race happened: pushes met the collector (a blob they relied on was claimed under them)
    # and were refused in a way a client retries, and retrying got them through.
    assert sum(log.retries.values()) >= 1, f"no push ever met the collector, so nothing raced: {summary}"
    assert log.recovered >= 1, f"no refused push succeeded on a retry: {summary}"
    assert log.gave_up <= max(2, log.pushes // 5), f"too many pushes never got through: {summary}"

    reg = Registry(server)
    for digest, (repo, image) in log.live.items():
        assert_pulls(reg, repo, image)
    for digest, (repo, image) in log.deleted.items():
        assert get_manifest(reg, repo, digest).status_code == 404, f"deleted {repo}@{digest} is still served"

    next_second()
    gc(server, "--grace", "0s")
    live_blobs = {b.digest for _, image in log.live.values() for b in image.blobs}
    dead = [b for _, image in log.deleted.values() for b in image.blobs if b.digest not in live_blobs]
    assert dead, "no deleted image had a blob of its own"
    left = [b.digest for b in dead if blob_file(server.data_dir, b.digest).exists()]
    assert not left, f"{len(left)} blobs of deleted images survived a final gc: {left[:5]}"
    assert blob_file(server.data_dir, base[0].digest).exists(), "the shared base layer was collected"
    for digest, (repo, image) in list(log.live.items())[:10]:
        assert_pulls(reg, repo, image)


def test_gc_upload_of_a_blob_being_deleted_is_refused_with_a_retryable_error(server, reg, repo):
    """README: "an upload of a blob being deleted is refused with a retryable error rather than
    racing it". The deletion is held open deterministically: the blob's file is replaced by a
    directory, so the collector claims the blob and then cannot remove its bytes, and the blob
    stays pending deletion until a later pass finishes it."""
    ecr = ecr_client(reg)
    ecr.create_repository(repositoryName=repo)
    orphan = make_layer_blob(size=1500)[0]
    push_blob(reg, repo, orphan.data)
    path = blob_file(server.data_dir, orphan.digest)
    path.unlink()
    path.mkdir()
    (path / "held").write_bytes(b"keeps the collector's unlink failing")
    next_second()
    stuck = run_berth("gc", "--data-dir", str(server.data_dir), "--grace", "0s", check=False)
    assert stuck.returncode != 0, f"the collector should have failed to delete the held blob: {stuck.stdout}"

    # Being deleted: not served, and every way of uploading it again is refused with 503.
    assert reg.head(f"/v2/{repo}/blobs/{orphan.digest}").status_code == 404
    r = reg.post(with_query(reg.abs_url(f"/v2/{repo}/blobs/uploads/"), digest=orphan.digest), data=orphan.data,
                 headers={"Content-Type": OCTET})
    assert r.status_code == 503, f"one-request upload: {describe(r)}"
    r = reg.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, describe(r)
    r = reg.put(with_query(reg.abs_url(r.headers["Location"]), digest=orphan.digest), data=orphan.data,
                headers={"Content-Type": OCTET})
    assert r.status_code == 503, f"session upload: {describe(r)}"
    upload_id = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    ecr.upload_layer_part(repositoryName=repo, uploadId=upload_id, partFirstByte=0,
                          partLastByte=orphan.size - 1, layerPartBlob=orphan.data)
    with pytest.raises(ClientError) as refused:
        ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[orphan.digest])
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503, refused.value.response
    assert client_error_code(refused.value) == "ServiceUnavailableException", refused.value.response

    # Once the deletion finishes, the same upload succeeds: the refusal was worth retrying. The
    # first pass has exited, so its claim is abandoned: --abandoned-after 0s finishes it now (by
    # default a pass leaves a claim younger than 1 h alone, as it may be a live pass's on another
    # node). Claims count in whole seconds: it is older than 0 s from the next second on.
    shutil.rmtree(path)
    next_second()
    run_berth("gc", "--data-dir", str(server.data_dir), "--grace", "1h", "--abandoned-after", "0s")
    assert not path.exists()
    push_blob(reg, repo, orphan.data)
    got = reg.get(f"/v2/{repo}/blobs/{orphan.digest}")
    assert got.status_code == 200 and got.content == orphan.data, describe(got)


# ---------------------------------------------------------------------------------------------
# Storage usage

def numbers_on_lines(text: str, needle: str) -> set[int]:
    found = set()
    for line in text.splitlines():
        if needle in line:
            found |= {int(x) for x in re.findall(r"(?<![\w.:-])(\d+)(?![\w.:-])", line)}
    return found


def test_gc_admin_usage_counts_shared_layers_once(server, reg, repo_factory):
    repo_a, repo_b = repo_factory("a"), repo_factory("b")
    a, b, c, layers = shared_layout(reg, repo_a, repo_b)

    def totals(images, with_config, with_manifest):
        blobs = {}
        for image in images:
            for blob in image.blobs[0 if with_config else 1:]:
                blobs[blob.digest] = blob.size
        return sum(blobs.values()) + (sum(i.size for i in images) if with_manifest else 0)

    models = [(False, False), (True, False), (True, True)]
    expected = {m: {"a": totals([a, b], *m), "b": totals([c], *m), "total": totals([a, b, c], *m)} for m in models}
    for extra in ([], ["--account", "000000000000"]):
        out = run_berth("admin", "--data-dir", str(server.data_dir), "usage", *extra).stdout
        matching = [m for m in models
                    if expected[m]["a"] in numbers_on_lines(out, repo_a)
                    and expected[m]["b"] in numbers_on_lines(out, repo_b)
                    and expected[m]["total"] in numbers_on_lines(out.lower(), "total")]
        assert matching, (f"usage output does not count each blob once per repository and once in the total "
                          f"(expected one of {expected}):\n{out}")


def test_gc_untagged_manifests_when_the_repository_opts_in(reg, server, repo_factory):
    """A repository tagged berth:gc-untagged=true loses untagged manifests no index lists;
    a repository without the tag keeps them."""
    opted, plain = repo_factory("untagged-on"), repo_factory("untagged-off")
    images = {}
    for repo in (opted, plain):
        old = image_from_layers([make_layer_blob(size=2500)])
        new = image_from_layers([make_layer_blob(size=2600)])
        push_image(reg, repo, old, "latest")
        push_image(reg, repo, new, "latest")  # the tag moves: `old` is now untagged
        images[repo] = (old, new)
    arn = f"arn:aws:ecr:us-east-1:000000000000:repository/{opted}"
    ecr_client(reg).tag_resource(resourceArn=arn, tags=[{"Key": "berth:gc-untagged", "Value": "true"}])
    next_second()
    out = run_berth("gc", "--data-dir", str(server.data_dir), "--grace", "0s").stdout
    assert re.search(r"; 1 untagged manifests;", out), out
    old, new = images[opted]
    assert get_manifest(reg, opted, old.digest).status_code == 404
    assert_pulls(reg, opted, new)
    for image in images[plain]:
        assert_pulls(reg, plain, image)
    # The untagged manifest's own layer goes in the next pass.
    next_second()
    gc(server, "--grace", "0s")
    assert not blob_file(server.data_dir, old.blobs[-1].digest).exists()
