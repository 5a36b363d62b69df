"""Storage quotas (README "Storage quotas"): `berth admin quota`, a push over a repository or
account quota refused on /v2 (403 DENIED) and on ECR (LimitExceededException) with a message
naming the quota, and the quota freed by deleting an image and collecting garbage.

A private server for the module: an account quota on the session server would refuse other
tests' pushes."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from ecr_content import Image, make_image, make_layer, push_image, put_image, sha256, upload_blob
from ecr_support import V2, berth_binary, ecr_client, expect_error, registry_password, unique
from support import server as support_server

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory.start()


@pytest.fixture(scope="module")
def ecr_q(server):
    return ecr_client(server.url)


@pytest.fixture(scope="module")
def v2_q(server, ecr_q):
    return V2(server.url, registry_password(ecr_q))


def quotas(server) -> dict[tuple[str, str], tuple[int, int]]:
    """`berth admin quota list`: (account, repository or "-") -> (quota, used)."""
    out = server.admin("quota", "list").stdout.splitlines()
    assert out[0].split("\t") == ["account", "repository", "quota", "used"], out
    rows = {}
    for line in out[1:]:
        account, repository, quota, used = line.split("\t")
        rows[(account, repository)] = (int(quota), int(used))
    return rows


def image_bytes(image) -> int:
    return sum(len(b) for b in image.blobs) + len(image.manifest)


def same_blobs(image: Image, note: str) -> Image:
    """Another manifest over the blobs of ``image`` (an annotation differs)."""
    manifest = json.loads(image.manifest)
    manifest["annotations"] = {"note": note}
    return Image(json.dumps(manifest).encode(), image.media_type, image.config, image.config_media_type,
                 image.layers)


def v2_push_blob(v2: V2, repo: str, data: bytes):
    """A monolithic /v2 upload (POST, then PUT ?digest= with the bytes)."""
    r = v2.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    location = r.headers["Location"]
    sep = "&" if "?" in location else "?"
    return v2.request("PUT", f"{location}{sep}digest={sha256(data)}", data=data,
                      headers={"Content-Type": "application/octet-stream"})


def gc(server) -> None:
    """`berth gc --grace 0s` from the next whole second on (blob ages count in whole seconds)."""
    now = time.time()
    time.sleep(int(now) + 1 - now + 0.05)
    proc = subprocess.run([str(berth_binary()), "gc", *support_server.store_args(server.data_dir), "--data-dir",
                           str(server.data_dir), "--grace", "0s"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^reclaimed [1-9]\d* blobs", proc.stdout, re.M), proc.stdout


def test_admin_quota_set_list_clear_with_sizes(server):
    name = f"quota/cli-{unique()}"
    assert "set to 10737418240 bytes" in server.admin("quota", "set", "--account", ACCOUNT, "--repository", name,
                                                      "--bytes", "10GiB").stdout
    assert quotas(server)[(ACCOUNT, name)] == (10 * 2**30, 0)   # before the repository exists
    server.admin("quota", "set", "--account", ACCOUNT, "--repository", name, "--bytes", "512m")
    assert quotas(server)[(ACCOUNT, name)] == (512 * 2**20, 0)
    bad = server.admin("quota", "set", "--repository", name, "--bytes", "ten", check=False)
    assert bad.returncode != 0 and "invalid size 'ten'" in bad.stderr, bad.stderr
    server.admin("quota", "clear", "--account", ACCOUNT, "--repository", name)
    assert (ACCOUNT, name) not in quotas(server)
    again = server.admin("quota", "clear", "--account", ACCOUNT, "--repository", name, check=False)
    assert again.returncode != 0 and "no quota set for repository " + name in again.stderr


def test_repository_quota_refuses_on_both_apis_until_gc_frees(server, ecr_q, v2_q):
    repo = f"quota/app-{unique()}"
    ecr_q.create_repository(repositoryName=repo)
    first = make_image(layers=1)
    limit = image_bytes(first)
    server.admin("quota", "set", "--account", ACCOUNT, "--repository", repo, "--bytes", str(limit))
    push_image(ecr_q, repo, "v1", first)            # exactly the quota: allowed
    assert quotas(server)[(ACCOUNT, repo)] == (limit, limit)

    layer, _ = make_layer()
    message = (f"storage quota of repository {repo} exceeded: {limit} bytes allowed, "
               f"{limit + len(layer)} would be stored")
    r = v2_push_blob(v2_q, repo, layer)
    assert r.status_code == 403, r.text
    assert r.json()["errors"][0]["code"] == "DENIED"
    assert r.json()["errors"][0]["message"] == message
    assert v2_q.request("HEAD", f"/v2/{repo}/blobs/{sha256(layer)}").status_code == 404
    # A mount from a repository without a quota is refused alike, rather than opening an upload.
    other = f"quota/other-{unique()}"
    ecr_q.create_repository(repositoryName=other)
    upload_blob(ecr_q, other, layer)
    r = v2_q.request("POST", f"/v2/{repo}/blobs/uploads/?mount={sha256(layer)}&from={other}")
    assert r.status_code == 403 and r.json()["errors"][0]["message"] == message, r.text

    e = expect_error("LimitExceededException", upload_blob, ecr_q, repo, layer)
    assert e.response["Error"]["Message"] == message
    # Blobs already in the repository add nothing: uploading them again is never refused.
    upload_blob(ecr_q, repo, first.layers[0])
    assert v2_push_blob(v2_q, repo, first.config).status_code == 201

    # A new manifest over the same blobs: only its own bytes are new, and they do not fit.
    retagged = same_blobs(first, unique())
    e = expect_error("LimitExceededException", put_image, ecr_q, repo, retagged, "v2")
    assert e.response["Error"]["Message"] == (f"storage quota of repository {repo} exceeded: {limit} bytes "
                                              f"allowed, {limit + len(retagged.manifest)} would be stored")
    r = v2_q.request("PUT", f"/v2/{repo}/manifests/v2", data=retagged.manifest,
                     headers={"Content-Type": retagged.media_type})
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED", r.text
    # The same manifest again is free.
    put_image(ecr_q, repo, first, "again")

    # Deleting the image and collecting its blobs frees the quota: the push fits.
    ecr_q.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": first.digest}])
    gc(server)
    assert quotas(server)[(ACCOUNT, repo)] == (limit, 0)
    # The first image again, all of its bytes stored anew: exactly the quota, as at the start. (A
    # fresh random image can be a byte larger: its gzip'd layer's size varies.)
    push_image(ecr_q, repo, "v2", first)
    assert quotas(server)[(ACCOUNT, repo)] == (limit, limit)


def test_account_quota_counts_a_shared_layer_once(server_factory):
    server = server_factory.start()   # its own account quota, apart from the module's server
    ecr = ecr_client(server.url)
    v2 = V2(server.url, registry_password(ecr))
    a, b = "team/a", "team/b"
    for name in (a, b):
        ecr.create_repository(repositoryName=name)
    base = make_image(layers=1)
    on_b = same_blobs(base, "b")
    # The layer and the config once, each manifest its own bytes.
    limit = image_bytes(base) + len(on_b.manifest)
    server.admin("quota", "set", "--account", ACCOUNT, "--bytes", str(limit))
    push_image(ecr, a, "v1", base)
    push_image(ecr, b, "v1", on_b)   # the shared layer and config counted once: exactly the quota
    assert quotas(server)[(ACCOUNT, "-")] == (limit, limit)

    extra = make_image(layers=1)
    r = v2_push_blob(v2, b, extra.layers[0])
    assert r.status_code == 403, r.text
    assert r.json()["errors"][0]["message"] == (f"storage quota of account {ACCOUNT} exceeded: {limit} bytes "
                                                f"allowed, {limit + len(extra.layers[0])} would be stored")
    # Mounting a blob the account holds adds nothing.
    ecr.create_repository(repositoryName="team/c")
    r = v2.request("POST", f"/v2/team/c/blobs/uploads/?mount={sha256(base.layers[0])}&from={a}")
    assert r.status_code == 201, r.text
