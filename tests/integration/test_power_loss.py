"""Power loss: berth runs on powerloss_fs (tests/powerloss/), a FUSE layer that keeps every change
in a simulated page cache until it is fsynced and throws the unsynced rest away when the power is
cut. Several clients push blobs, images and tags and change repository settings through the ECR
API; power is cut at random moments; the file system is mounted again with only its durable
state; berth restarts on it. Everything berth acknowledged must have survived every cut so far,
byte for byte, and no manifest may point at a missing blob.

kill -9 (test_crash.py) keeps the page cache and so cannot notice a missing fsync; this can.
The tool is built by CMake where libfuse3 is installed (the test command builds it); without it
the module is skipped, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from botocore.exceptions import BotoCoreError, ClientError

from content import OCTET, describe, get_manifest, make_image, push_blob, sha256, start_upload, with_query
from ecr_helpers import ecr_client, require_berth
from harness import BERTH_BIN, Registry, ServerProcess

pytestmark = pytest.mark.slow

POWERLOSS_FS = Path(os.environ.get("POWERLOSS_FS_BIN", BERTH_BIN.parent / "powerloss_fs"))
CUT_ATTRIBUTE = "user.powerloss.cut"

ROUNDS = 12                 # power cuts, at most ...
PUSHING_BUDGET = 120.0      # ... within this much pushing time in total (seconds)
CUT_DELAY = (0.3, 4.0)      # each cut comes this long (uniformly random) after the pushing started
PUSH_WORKERS = 4
BLOB_SIZES = [300, 6_000, 60_000, 250_000]


def require_powerloss_fs():
    problem = None
    if not POWERLOSS_FS.exists():
        problem = (f"{POWERLOSS_FS} is not built (CMake builds it where libfuse3-dev is installed; "
                   "scripts/test.sh builds it)")
    elif not os.access("/dev/fuse", os.R_OK | os.W_OK):
        problem = "/dev/fuse is not usable here"
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"power-loss test cannot run under CI: {problem}")
        pytest.skip(problem)


def is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == target for line in f)


class PowerLossFs:
    """One powerloss_fs process: BACKING holds the durable state, MOUNTPOINT shows the cached one."""

    def __init__(self, backing: Path, mountpoint: Path, log: Path):
        self.backing, self.mountpoint, self.log = backing, mountpoint, log
        backing.mkdir(parents=True, exist_ok=True)
        mountpoint.mkdir(parents=True, exist_ok=True)
        self.proc = None

    def mount(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(POWERLOSS_FS), str(self.backing), str(self.mountpoint)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not is_mounted(self.mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"powerloss_fs did not mount: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.02)

    def cut_power(self) -> None:
        """Returns once the file system has dropped its cache and refuses all I/O."""
        os.setxattr(self.mountpoint, CUT_ATTRIBUTE, b"1")

    def unmount(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if is_mounted(self.mountpoint):
            subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)], check=False,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)


class Ledger:
    """What clients were told was stored (acknowledged), and what was in flight at a cut."""

    def __init__(self):
        self.lock = threading.Lock()
        self.repos: list[str] = []
        self.blobs: dict[tuple[str, str], bytes] = {}        # (repo, digest) -> data, answered 201
        self.manifests: dict[tuple[str, str], bytes] = {}    # (repo, digest) -> body, answered 201
        self.tags: dict[tuple[str, str], str] = {}           # (repo, tag) -> digest, answered 201
        # (repo, setting) -> value: the last one acknowledged (None: the default) and the one in flight.
        self.settings: dict[tuple[str, str], object] = {}
        self.in_flight: dict[tuple[str, str], object] = {}
        self.cuts = 0
        self.acked = {"blobs": 0, "manifests": 0, "settings": 0}  # counts, lost or not

    def add_blob(self, repo, data):
        with self.lock:
            self.blobs[(repo, sha256(data))] = data
            self.acked["blobs"] += 1

    def add_manifest(self, repo, tag, image):
        with self.lock:
            self.manifests[(repo, image.digest)] = image.body
            self.acked["manifests"] += 1
            if tag:
                self.tags[(repo, tag)] = image.digest


def push_blob_in_chunks(reg, repo, data, chunk=64 * 1024):
    loc = start_upload(reg, repo)
    for start in range(0, len(data), chunk):
        piece = data[start:start + chunk]
        r = reg.patch(loc, data=piece,
                      headers={"Content-Type": OCTET, "Content-Range": f"{start}-{start + len(piece) - 1}"})
        assert r.status_code == 202, describe(r)
        loc = reg.abs_url(r.headers["Location"])
    r = reg.put(with_query(loc, digest=sha256(data)), headers={"Content-Type": OCTET})
    assert r.status_code == 201, describe(r)


def push_worker(reg, repo, seed, cut, ledger):
    rng = random.Random(seed)
    n = 0
    while not cut.is_set():
        n += 1
        try:
            if rng.random() < 0.3:
                data = os.urandom(rng.choice(BLOB_SIZES))
                if len(data) > 100_000 and rng.random() < 0.5:
                    push_blob_in_chunks(reg, repo, data)
                else:
                    push_blob(reg, repo, data)
                ledger.add_blob(repo, data)
                continue
            image = make_image(layers=rng.choice([1, 2]), layer_size=rng.choice(BLOB_SIZES))
            for blob in image.blobs:
                push_blob(reg, repo, blob.data)
                ledger.add_blob(repo, blob.data)
            tag = None if rng.random() < 0.2 else f"{seed}-{n}"
            r = reg.put(f"/v2/{repo}/manifests/{tag or image.digest}", data=image.body,
                        headers={"Content-Type": image.media_type})
            assert r.status_code == 201, describe(r)
            assert r.headers.get("Docker-Content-Digest") == image.digest, describe(r)
            ledger.add_manifest(repo, tag, image)
        except (requests.RequestException, AssertionError):
            if cut.is_set():
                return  # the power went out under this request
            raise


def lifecycle_policy(n: int) -> str:
    """A valid policy that never expires anything here; ``n`` makes each one distinct."""
    return json.dumps({"rules": [{
        "rulePriority": 1, "description": f"policy {n}",
        "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                      "countUnit": "days", "countNumber": 1000 + n},
        "action": {"type": "expire"}}]}, sort_keys=True)


def settings_worker(reg, repos, seed, cut, ledger):
    client = ecr_client(reg)
    rng = random.Random(seed)
    n = 0
    while not cut.is_set():
        n += 1
        repo = rng.choice(repos)
        try:
            if n % 2:
                key, value = (repo, "mutability"), rng.choice(["MUTABLE", "IMMUTABLE"])
                ledger.in_flight[key] = value
                client.put_image_tag_mutability(repositoryName=repo, imageTagMutability=value)
            else:
                key, value = (repo, "lifecycle"), lifecycle_policy(n)
                ledger.in_flight[key] = value
                client.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=value)
            with ledger.lock:
                ledger.settings[key] = value
                del ledger.in_flight[key]
                ledger.acked["settings"] += 1
        except (BotoCoreError, ClientError):
            if cut.is_set():
                return
            raise


def read_settings(client, repo) -> dict:
    desc = client.describe_repositories(repositoryNames=[repo])["repositories"][0]
    try:
        text = client.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"]
        policy = json.dumps(json.loads(text), sort_keys=True)
    except ClientError as e:
        if e.response["Error"]["Code"] != "LifecyclePolicyNotFoundException":
            raise
        policy = None
    return {"mutability": desc["imageTagMutability"], "lifecycle": policy}


def verify(reg, ledger, problems, round_no):
    """Everything acknowledged so far is there after the latest cut; ``problems`` collects what is not."""
    where = f"after cut {round_no}"
    client = ecr_client(reg)
    existing = {r["repositoryName"] for page in client.get_paginator("describe_repositories").paginate()
                for r in page["repositories"]}
    # What is found lost is reported once and then forgotten, so each round reports its own losses.
    for repo in list(ledger.repos):
        if repo not in existing:
            problems["repositories"].append(f"{where}: repository {repo} is gone")
            ledger.repos.remove(repo)
    for (repo, digest), data in list(ledger.blobs.items()):
        r = reg.get(f"/v2/{repo}/blobs/{digest}")
        if r.status_code != 200 or r.content != data:
            problems["blobs"].append(f"{where}: blob {repo}@{digest} ({len(data)} bytes): "
                                     f"status {r.status_code}, {len(r.content)} bytes")
            del ledger.blobs[(repo, digest)]
    for (repo, digest), body in list(ledger.manifests.items()):
        r = get_manifest(reg, repo, digest)
        if r.status_code != 200 or r.content != body:
            problems["manifests"].append(f"{where}: manifest {repo}@{digest}: status {r.status_code}")
            del ledger.manifests[(repo, digest)]
    for (repo, tag), digest in list(ledger.tags.items()):
        r = get_manifest(reg, repo, tag)
        if r.status_code != 200 or r.headers.get("Docker-Content-Digest") != digest:
            problems["manifests"].append(f"{where}: tag {repo}:{tag}: status {r.status_code}, "
                                         f"digest {r.headers.get('Docker-Content-Digest')} not {digest}")
            del ledger.tags[(repo, tag)]
    # Every manifest berth lists, acknowledged or not, references only blobs it has.
    for repo in ledger.repos:
        if repo not in existing:
            continue
        for page in client.get_paginator("list_images").paginate(repositoryName=repo):
            for image_id in page["imageIds"]:
                m = get_manifest(reg, repo, image_id["imageDigest"])
                if m.status_code != 200:
                    problems["dangling"].append(f"{where}: listed manifest {repo}@{image_id['imageDigest']} "
                                                f"does not resolve: {m.status_code}")
                    continue
                doc = json.loads(m.content)
                for desc in [doc.get("config")] + doc.get("layers", []):
                    if not desc:
                        continue
                    h = reg.head(f"/v2/{repo}/blobs/{desc['digest']}")
                    if h.status_code != 200 or h.headers.get("Content-Length") != str(desc["size"]):
                        problems["dangling"].append(f"{where}: manifest {repo}@{image_id['imageDigest']} "
                                                    f"points at {desc['digest']}: status {h.status_code}")
    # Settings: the last acknowledged value, or the one in flight when the power went.
    for key in set(ledger.settings) | set(ledger.in_flight):
        repo, name = key
        if repo not in existing:
            ledger.settings.pop(key, None)
            continue  # reported above
        actual = read_settings(client, repo)[name]
        default = "MUTABLE" if name == "mutability" else None
        allowed = {ledger.settings.get(key, default)}
        if key in ledger.in_flight:
            allowed.add(ledger.in_flight[key])
        if actual not in allowed:
            problems["settings"].append(f"{where}: {name} of {repo} is {actual!r}, expected one of {allowed!r}")
        ledger.settings[key] = actual  # what survived is the base for the next round
    ledger.in_flight.clear()


@pytest.fixture(scope="module")
def power_loss(tmp_path_factory):
    require_berth()
    require_powerloss_fs()
    base = tmp_path_factory.mktemp("power-loss")
    fs = PowerLossFs(base / "backing", base / "mnt", base / "powerloss_fs.log")
    ledger = Ledger()
    problems = {k: [] for k in ("repositories", "blobs", "manifests", "dangling", "settings")}
    seed = os.environ.get("BERTH_POWER_LOSS_SEED", str(time.time_ns()))
    problems["seed"] = seed
    rng = random.Random(seed)
    pushed_for = 0.0
    server = None
    try:
        fs.mount()
        data_dir = fs.mountpoint / "data"
        server = ServerProcess(base / "berth", data_dir=data_dir, name="berth on powerloss_fs")
        data_dir.rmdir()  # berth creates its data directory itself, and must make it durable
        server.start()
        reg = Registry(server)
        for round_no in range(1, ROUNDS + 1):
            if pushed_for >= PUSHING_BUDGET:
                break
            client = ecr_client(reg)
            repos = [f"power/r{round_no}-w{i}" for i in range(PUSH_WORKERS)]
            for repo in repos:
                client.create_repository(repositoryName=repo)
                ledger.repos.append(repo)
            cut = threading.Event()
            errors = []

            def run(fn, *args):
                try:
                    fn(*args)
                except BaseException as e:  # reported below
                    errors.append(e)

            threads = [threading.Thread(target=run, daemon=True,
                                        args=(push_worker, Registry(server), repo, f"r{round_no}w{i}", cut, ledger))
                       for i, repo in enumerate(repos)]
            threads.append(threading.Thread(target=run, daemon=True,
                                            args=(settings_worker, Registry(server), list(ledger.repos),
                                                  f"settings{round_no}", cut, ledger)))
            delay = rng.uniform(*CUT_DELAY)
            started = time.monotonic()
            for t in threads:
                t.start()
            while time.monotonic() - started < delay and not errors:
                time.sleep(0.01)
            cut.set()  # first: a request failing from here on may be the cut's doing
            fs.cut_power()
            pushed_for += time.monotonic() - started
            server.kill()
            for t in threads:
                t.join(timeout=60)
            assert not errors, f"a client failed before the power cut of round {round_no}: {errors[0]!r}"
            ledger.cuts += 1
            fs.unmount()
            fs.mount()
            server.start()
            reg = Registry(server)
            verify(reg, ledger, problems, round_no)
        print(f"power loss: {ledger.cuts} cuts; acknowledged {ledger.acked}; BERTH_POWER_LOSS_SEED={seed}")
        yield reg, ledger, problems
    finally:
        if server is not None:
            server.stop()
        fs.unmount()


def _assert_none(problems, kind):
    assert not problems[kind], (f"{len(problems[kind])} lost (cut delays from BERTH_POWER_LOSS_SEED={problems['seed']}):\n"
                                + "\n".join(problems[kind][:20]))


def test_power_loss_cuts_happened_with_work_acknowledged(power_loss):
    _, ledger, _ = power_loss
    assert ledger.cuts >= 8
    assert ledger.acked["blobs"] >= 20 and ledger.acked["manifests"] >= 8 and ledger.acked["settings"] >= 4


def test_power_loss_acknowledged_repositories_survive(power_loss):
    _assert_none(power_loss[2], "repositories")


def test_power_loss_acknowledged_blobs_survive_byte_exact(power_loss):
    _assert_none(power_loss[2], "blobs")


def test_power_loss_acknowledged_manifests_and_tags_survive(power_loss):
    _assert_none(power_loss[2], "manifests")


def test_power_loss_no_manifest_points_at_a_missing_blob(power_loss):
    _assert_none(power_loss[2], "dangling")


def test_power_loss_acknowledged_settings_survive(power_loss):
    _assert_none(power_loss[2], "settings")


def test_power_loss_registry_accepts_pushes_after_the_last_cut(power_loss):
    reg, _, _ = power_loss
    client = ecr_client(reg)
    client.create_repository(repositoryName="power/after")
    image = make_image()
    for blob in image.blobs:
        push_blob(reg, "power/after", blob.data)
    r = reg.put("/v2/power/after/manifests/v1", data=image.body, headers={"Content-Type": image.media_type})
    assert r.status_code == 201, describe(r)
    assert get_manifest(reg, "power/after", "v1").content == image.body
