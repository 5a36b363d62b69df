"""Three berth nodes on one PostgreSQL database and one S3 bucket, behind haproxy.

The nodes are plain ``berth serve --config FILE`` processes whose config names the same database
(a fresh one on the test command's cluster, ``BERTH_TEST_POSTGRES_DSN``) and the same bucket (on
the test command's RADOS Gateway, ``BERTH_TEST_S3_*``), whatever store the rest of the run uses;
they share ``secret.key`` (copied from the first node's data directory). Debian's haproxy
balances them round robin with no stickiness. What it shows:

- an upload begun on node A continues on B and finishes on C; skopeo pushes and pulls through
  haproxy, so its requests land on every node;
- a registry token issued by one node is accepted by the others; an access key disabled (in the
  shared database) is refused by every node within the README's bound (one second) plus margin;
- ``berth gc`` run on two nodes at once deletes each blob once (the reclaimed counts add up to
  what a dry run found, every blob is gone); a gc killed mid-pass leaves work another node
  finishes; lifecycle running on all three nodes expires each image once (each expiry is
  logged by exactly one node) — both rest on per-item claims in the database;
- ``kill -9`` of a node during parallel pushes through haproxy: every acknowledged image is
  intact (pulled and digests verified), and an upload interrupted on the killed node is
  resumed and finished through another node.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from pathlib import Path

import boto3
import pytest
import requests

from content import OCTET, describe, get_manifest, make_image, push_image, sha256, unique, with_query
from ecr_helpers import require_berth
from harness import AWS_REGION, BERTH_BIN, Registry, ServerProcess, run_tool
from support.ports import free_port

NODES = 3
KEY_DISABLE_BOUND = 1.0   # README (PostgreSQL): "stops working on every node within a second"
KEY_DISABLE_MARGIN = 4.0  # generous: slow shared machines


def _require_env(*names: str) -> None:
    missing = [n for n in names if not os.environ.get(n)]
    assert not missing, (f"{', '.join(missing)} unset: the multi-node test needs the test command's PostgreSQL "
                         "and RADOS Gateway (scripts/test.sh; tests/infra/pg-up.sh, ceph-up.sh)")


def _fresh_database() -> str:
    base = os.environ["BERTH_TEST_POSTGRES_DSN"]
    name = f"berth_multinode_{os.getpid()}_{secrets.token_hex(4)}"
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", base, "-c", f"CREATE DATABASE {name} TEMPLATE template0"],
                   check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return f"{base} dbname={name}"


def _s3():
    return boto3.client("s3", endpoint_url=os.environ["BERTH_TEST_S3_ENDPOINT"],
                        aws_access_key_id=os.environ["BERTH_TEST_S3_ACCESS_KEY"],
                        aws_secret_access_key=os.environ["BERTH_TEST_S3_SECRET_KEY"],
                        region_name=os.environ.get("BERTH_TEST_S3_REGION", "us-east-1"))


class Proxy:
    """haproxy in front of the nodes, as the harness's Registry sees a server."""

    def __init__(self, workdir: Path, nodes: list[ServerProcess]):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.verify = True
        self.cfg = workdir / "haproxy.cfg"
        servers = "".join(f"  server n{i} 127.0.0.1:{n.port} check inter 300ms fall 1 rise 2\n"
                          for i, n in enumerate(nodes))
        self.cfg.write_text(
            "global\n  maxconn 2000\n"
            "defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n"
            "  retries 3\n  option redispatch\n"
            f"frontend registry\n  bind {self.host}\n  default_backend nodes\n"
            "backend nodes\n  balance roundrobin\n  option httpchk GET /v2/\n"
            "  http-check expect rstatus (200|401)\n" + servers)
        self.log = open(workdir / "haproxy.log", "wb")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(self.cfg)], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, f"haproxy exited: {(workdir / 'haproxy.log').read_text()}"
            try:
                if requests.get(self.url + "/v2/", timeout=2).status_code in (200, 401):
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "haproxy did not answer within 20 s"
            time.sleep(0.05)

    def command(self) -> list[str]:
        return []

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


class Cluster:
    def __init__(self, workdir: Path):
        _require_env("BERTH_TEST_POSTGRES_DSN", "BERTH_TEST_S3_ENDPOINT", "BERTH_TEST_S3_ACCESS_KEY",
                     "BERTH_TEST_S3_SECRET_KEY")
        self.bucket = "berth-multinode-" + secrets.token_hex(6)
        s3 = {"endpoint": os.environ["BERTH_TEST_S3_ENDPOINT"],
              "region": os.environ.get("BERTH_TEST_S3_REGION", "us-east-1"), "bucket": self.bucket,
              "access-key-id": os.environ["BERTH_TEST_S3_ACCESS_KEY"],
              "secret-access-key": os.environ["BERTH_TEST_S3_SECRET_KEY"], "path-style": "true"}
        config = {"metadata": "{postgres: {dsn: '%s'}}" % _fresh_database(),
                  "storage": "{s3: {" + ", ".join(f'{k}: "{v}"' for k, v in s3.items()) + "}}"}
        # Lifecycle every second on every node (they race for the same work); no background gc
        # (the tests run gc themselves).
        flags = ["--lifecycle-interval", "1s", "--gc-interval", "0"]
        self.nodes = [ServerProcess(workdir / f"node{i}", name=f"berth (node {'ABC'[i]})", config=dict(config),
                                    extra_args=flags) for i in range(NODES)]
        self.proxy = None
        self.nodes[0].start()
        for n in self.nodes[1:]:
            shutil.copy2(self.nodes[0].data_dir / "secret.key", n.data_dir / "secret.key")
            n.start()
        self.proxy = Proxy(workdir, self.nodes)

    def config_args(self, node: ServerProcess) -> list[str]:
        """``--config FILE --data-dir DIR`` for an operator command run as ``node``."""
        return ["--config", str(node.workdir / "berth.yaml"), "--data-dir", str(node.data_dir)]

    def berth(self, node: ServerProcess, *args: str) -> subprocess.CompletedProcess:
        cmd, rest = args[0], args[1:]
        sub = list(rest[:2]) if cmd == "admin" else []
        proc = subprocess.run([str(BERTH_BIN), cmd, *self.config_args(node), *rest], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"berth {cmd} {sub}: {proc.stdout}{proc.stderr}"
        return proc

    def close(self) -> None:
        if self.proxy:
            self.proxy.stop()
        for n in self.nodes:
            n.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require_berth()
    c = Cluster(tmp_path_factory.mktemp("multinode"))
    try:
        yield c
    finally:
        c.close()


def _blob_keys(bucket: str) -> set[str]:
    s3, keys, token = _s3(), set(), None
    while True:
        kw = {"Bucket": bucket, "Prefix": "blobs/"}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        keys |= {o["Key"] for o in page.get("Contents", [])}
        if not page.get("IsTruncated"):
            return keys
        token = page["NextContinuationToken"]


def _push_blobs(regs: list[Registry], repo: str, count: int) -> list[str]:
    """``count`` random blobs linked to ``repo`` (no manifest refers to them), pushed through the
    given registries in turn from four threads."""
    digests: list[str] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        for j in range(i, count, 4):
            reg = regs[j % len(regs)]
            data = os.urandom(512)
            loc = reg.rebase(reg.post(f"/v2/{repo}/blobs/uploads/").headers["Location"])
            r = reg.put(with_query(loc, digest=sha256(data)), data=data, headers={"Content-Type": OCTET})
            assert r.status_code == 201, describe(r)
            with lock:
                digests.append(sha256(data))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(digests) == count
    return digests


def _reclaimed(out: str) -> int:
    m = re.search(r"(?:reclaimed|would reclaim) (\d+) blobs", out)
    assert m, out
    return int(m.group(1))


def test_multinode_upload_begun_on_a_continued_on_b_finished_on_c(cluster):
    a, b, c = (Registry(n) for n in cluster.nodes)
    repo = unique("multinode/chunked")
    a.create_repository(repo)
    chunks = [os.urandom(1536 * 1024), os.urandom(700 * 1024), os.urandom(300 * 1024)]
    data = b"".join(chunks)
    r = a.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, describe(r)
    loc = r.headers["Location"]
    offset = 0
    for reg, chunk in ((b, chunks[0]), (c, chunks[1])):
        r = reg.patch(reg.rebase(loc), data=chunk, headers={
            "Content-Type": OCTET, "Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
        assert r.status_code == 202, describe(r)
        offset += len(chunk)
        assert r.headers["Range"] == f"0-{offset - 1}", describe(r)
        loc = r.headers["Location"]
    r = c.put(with_query(c.rebase(loc), digest=sha256(data)), data=chunks[2], headers={"Content-Type": OCTET})
    assert r.status_code == 201, describe(r)
    got = a.get(f"/v2/{repo}/blobs/{sha256(data)}")
    assert got.status_code == 200 and sha256(got.content) == sha256(data)


def test_multinode_skopeo_push_and_pull_through_haproxy(cluster, busybox_layout, tmp_path):
    proxy = Registry(cluster.proxy)
    image = busybox_layout["busybox"]
    repo = unique("multinode/skopeo")
    proxy.create_repository(repo)
    run_tool(["skopeo", "copy", "--retry-times", "0", *proxy.skopeo_dest_args(), image.oci_ref,
              f"docker://{proxy.host}/{repo}:v1"])
    run_tool(["skopeo", "copy", "--retry-times", "0", *proxy.skopeo_src_args(), f"docker://{proxy.host}/{repo}:v1",
              f"oci:{tmp_path / 'out'}:v1"])
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [image.digest]
    for layer in image.json["layers"]:
        path = tmp_path / "out" / "blobs" / "sha256" / layer["digest"].split(":")[1]
        assert "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest() == layer["digest"]
    # Round robin without stickiness: every node served some of the push and pull.
    for n in cluster.nodes:
        assert repo in n.log_path.read_text(errors="replace"), f"{n.name} served none of the skopeo requests"


def test_multinode_token_from_one_node_is_accepted_by_the_others(cluster):
    a = Registry(cluster.nodes[0])
    assert a.auth, "berth runs with authentication in this test"
    repo = unique("multinode/token")
    a.create_repository(repo)
    for n in cluster.nodes[1:]:
        r = requests.get(f"{n.url}/v2/{repo}/tags/list", auth=a.auth, timeout=30)
        assert r.status_code == 200, describe(r)
        forged = requests.get(f"{n.url}/v2/{repo}/tags/list", auth=("AWS", a.auth[1][:-2] + "xx"), timeout=30)
        assert forged.status_code == 401, describe(forged)


def test_multinode_disabled_key_is_refused_by_every_node_within_the_bound(cluster):
    from botocore.config import Config
    from botocore.exceptions import ClientError

    a = cluster.nodes[0]
    account = str(secrets.randbelow(9 * 10**11) + 10**11)
    cluster.berth(a, "admin", "account", "create", "--id", account, "--name", f"multi-{account}")
    cluster.berth(a, "admin", "user", "create", "--account", account, "--name", "dev", "--admin")
    out = cluster.berth(a, "admin", "key", "create", "--account", account, "--user", "dev").stdout
    found = dict(re.findall(r"^\s*(access_key_id|secret_access_key)\s*[=:]\s*(\S+)\s*$", out, re.M))
    key = (found["access_key_id"], found["secret_access_key"])

    def ecr(node):
        return boto3.session.Session().client(
            "ecr", endpoint_url=node.url, region_name=AWS_REGION, aws_access_key_id=key[0],
            aws_secret_access_key=key[1], config=Config(retries={"max_attempts": 1}))

    token = ecr(a).get_authorization_token()["authorizationData"][0]["authorizationToken"]
    basic = {"Authorization": "Basic " + token}
    for n in cluster.nodes:
        assert requests.get(f"{n.url}/v2/", headers=basic, timeout=30).status_code == 200
        ecr(n).describe_repositories()

    cluster.berth(a, "admin", "key", "disable", key[0])
    start = time.monotonic()
    pending = {(i, how) for i in range(NODES) for how in ("token", "sigv4")}
    while pending and time.monotonic() - start < KEY_DISABLE_BOUND + KEY_DISABLE_MARGIN + 5:
        for i, how in sorted(pending):
            n = cluster.nodes[i]
            if how == "token":
                refused = requests.get(f"{n.url}/v2/", headers=basic, timeout=30).status_code == 401
            else:
                try:
                    ecr(n).describe_repositories()
                    refused = False
                except ClientError as e:  # a refusal of the key, not a failure to reach the node
                    refused = e.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 401, 403)
            if refused:
                pending.discard((i, how))
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    print(f"disabled key refused by all {NODES} nodes after {elapsed:.2f} s (bound {KEY_DISABLE_BOUND} s)")
    assert not pending, f"still accepted after {elapsed:.1f} s: {sorted(pending)}"
    assert elapsed <= KEY_DISABLE_BOUND + KEY_DISABLE_MARGIN, f"refused by all only after {elapsed:.2f} s"


def test_multinode_gc_killed_mid_pass_is_finished_by_another_node(cluster):
    regs = [Registry(n) for n in cluster.nodes]
    repo = unique("multinode/gckill")
    regs[0].create_repository(repo)
    digests = _push_blobs(regs, repo, 120)
    keys = {"blobs/sha256/" + d.split(":")[1] for d in digests}
    assert keys <= _blob_keys(cluster.bucket)
    a, b = cluster.nodes[0], cluster.nodes[1]
    gc = subprocess.Popen([str(BERTH_BIN), "gc", *cluster.config_args(a), "--grace", "0s"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and gc.poll() is None:
            left = len(keys & _blob_keys(cluster.bucket))
            if left < len(keys):
                break
            time.sleep(0.02)
        gc.kill()
        gc.wait(10)
    finally:
        if gc.poll() is None:
            gc.kill()
    left = len(keys & _blob_keys(cluster.bucket))
    print(f"gc on node A killed with {left} of {len(keys)} blobs left (exit {gc.returncode})")
    assert gc.returncode == -9 and 0 < left < len(keys), (
        f"the gc was not caught mid-pass (exit {gc.returncode}, {left} of {len(keys)} left): {gc.stdout.read()}")
    # Another node's pass takes the dead pass's claims over: with --abandoned-after 0s at once
    # (by default only claims older than an hour, as a younger one may be a live pass's). Claims
    # are dated in whole seconds and taken over once strictly older, so from the next second on.
    time.sleep(1.1)
    out = cluster.berth(b, "gc", "--grace", "0s", "--abandoned-after", "0s").stdout
    assert not keys & _blob_keys(cluster.bucket), "blobs the killed gc left behind are still stored"
    for d in digests[:10]:
        assert regs[2].head(f"/v2/{repo}/blobs/{d}").status_code == 404
    print("node B:", out.strip())


def test_multinode_gc_on_two_nodes_at_once_deletes_each_blob_once(cluster):
    regs = [Registry(n) for n in cluster.nodes]
    repo = unique("multinode/gc")
    regs[0].create_repository(repo)
    digests = _push_blobs(regs, repo, 40)
    keys = {"blobs/sha256/" + d.split(":")[1] for d in digests}
    b, c = cluster.nodes[1], cluster.nodes[2]
    # GC takes candidates queued strictly before now - grace, in whole seconds: with a grace of 0 s,
    # a blob queued in the current second waits for the next one.
    time.sleep(1.1)
    expected = _reclaimed(cluster.berth(b, "gc", "--dry-run", "--grace", "0s").stdout)
    assert expected >= len(digests)
    procs = [subprocess.Popen([str(BERTH_BIN), "gc", *cluster.config_args(n), "--grace", "0s"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL) for n in (b, c)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, out + err
    counts = [_reclaimed(out) for out, _ in outs]
    print(f"dry run: {expected} blobs; node B reclaimed {counts[0]}, node C {counts[1]}")
    assert sum(counts) == expected, f"{counts} reclaimed by the two nodes, {expected} to reclaim: some twice?"
    assert not keys & _blob_keys(cluster.bucket)
    assert _reclaimed(cluster.berth(c, "gc", "--dry-run", "--grace", "0s").stdout) == 0


def test_multinode_lifecycle_on_three_nodes_expires_each_image_once(cluster):
    proxy = Registry(cluster.proxy)
    repo = unique("multinode/lifecycle")
    proxy.create_repository(repo)
    pushed = []
    for i in range(5):
        m = make_image(layer_size=256)
        push_image(proxy, repo, m, f"v{i}")
        pushed.append(m.digest)
        time.sleep(0.01)
    from ecr_helpers import ecr_client
    policy = {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                          "countNumber": 1}, "action": {"type": "expire"}}]}
    ecr_client(proxy).put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=json.dumps(policy))

    def expiries():
        found = []
        for i, n in enumerate(cluster.nodes):
            for line in n.log_path.read_text(errors="replace").splitlines():
                if "lifecycle expired an image" in line and repo in line:
                    found.append(("ABC"[i], json.loads(line[line.index("{"):])["digest"]))
        return found

    deadline = time.monotonic() + 20
    while len(expiries()) < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.5)  # every node runs its lifecycle job twice more: nothing more may expire
    found = expiries()
    print(f"expiries by node: {sorted(found)}")
    assert sorted(d for _, d in found) == sorted(pushed[:4]), found
    assert get_manifest(proxy, repo, "v4").status_code == 200
    for d in pushed[:4]:
        assert get_manifest(proxy, repo, d).status_code == 404


def test_multinode_kill_9_during_parallel_pushes_keeps_acknowledged_images(cluster):
    proxy_reg = Registry(cluster.proxy)
    repo = unique("multinode/kill")
    proxy_reg.create_repository(repo)
    acked: list = []
    failures: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def pusher(k: int) -> None:
        reg = Registry(cluster.proxy)
        i = 0
        while not stop.is_set():
            m = make_image(layers=2, layer_size=48 * 1024)
            try:
                for blob in m.blobs:
                    loc = reg.post(f"/v2/{repo}/blobs/uploads/")
                    if loc.status_code != 202:
                        raise RuntimeError(f"POST {loc.status_code}")
                    put = reg.put(with_query(reg.abs_url(loc.headers["Location"]), digest=blob.digest),
                                  data=blob.data, headers={"Content-Type": OCTET})
                    if put.status_code != 201:
                        raise RuntimeError(f"PUT blob {put.status_code}")
                r = reg.put(f"/v2/{repo}/manifests/t{k}-{i}", data=m.body, headers={"Content-Type": m.media_type})
                if r.status_code == 201:
                    with lock:
                        acked.append(m)
                else:
                    raise RuntimeError(f"PUT manifest {r.status_code}")
            except Exception as e:  # the push met the killed node: not acknowledged, so no promise
                with lock:
                    failures.append(repr(e)[:200])
            i += 1

    threads = [threading.Thread(target=pusher, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    victim = cluster.nodes[1]
    other = Registry(cluster.nodes[0])
    try:
        time.sleep(1.5)
        # An upload begun on the victim, one chunk in, then the victim dies.
        vreg = Registry(victim)
        part1, part2 = os.urandom(600 * 1024), os.urandom(400 * 1024)
        r = vreg.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, describe(r)
        r = vreg.patch(vreg.rebase(r.headers["Location"]), data=part1,
                       headers={"Content-Type": OCTET, "Content-Range": f"0-{len(part1) - 1}"})
        assert r.status_code == 202, describe(r)
        upload = r.headers["Location"]
        acked_before = len(acked)
        victim.kill()
        time.sleep(2.5)
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    print(f"{len(acked)} images acknowledged ({acked_before} before the kill), {len(failures)} pushes failed: "
          f"{failures[:3]}")
    assert len(acked) > acked_before > 0, "pushes did not go on through the other nodes"

    # The interrupted upload: its state is in the database and the bucket, so node A continues it.
    status = other.get(other.rebase(upload))
    assert status.status_code == 204 and status.headers["Range"] == f"0-{len(part1) - 1}", describe(status)
    r = other.put(with_query(other.rebase(upload), digest=sha256(part1 + part2)), data=part2,
                  headers={"Content-Type": OCTET})
    assert r.status_code == 201, describe(r)
    assert sha256(other.get(f"/v2/{repo}/blobs/{sha256(part1 + part2)}").content) == sha256(part1 + part2)

    # Every acknowledged image is whole: manifest bytes and every blob, pulled through haproxy.
    for m in acked:
        got = get_manifest(proxy_reg, repo, m.digest)
        assert got.status_code == 200 and got.content == m.body, describe(got)
        for blob in m.blobs:
            g = proxy_reg.get(f"/v2/{repo}/blobs/{blob.digest}")
            assert g.status_code == 200 and sha256(g.content) == blob.digest, describe(g)
