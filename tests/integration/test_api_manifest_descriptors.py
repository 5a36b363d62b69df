"""What a manifest PUT checks in its descriptors: each size must be the stored blob's, and
`urls` are accepted only on foreign layers and only for hosts the operator allows
(`--manifest-urls-allow`, as Distribution's validation.manifests.urls.allow)."""

import subprocess

import pytest

import harness
from content import assert_error, get_manifest, make_image, push_blob, push_manifest, reshape
from ecr_helpers import ecr_client, start_server
from harness import Registry

FOREIGN_DOCKER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
WINDOWS_BASE = "https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:" + "ab" * 32


def berth_only():
    if harness.TARGET != "berth":
        pytest.skip("berth's own validation policy")


def push_blobs(reg, repo, manifest):
    for blob in manifest.blobs:
        push_blob(reg, repo, blob.data)


def with_foreign_layer(manifest, media_type, urls):
    def edit(doc):
        layer = {"mediaType": media_type, "digest": "sha256:" + "cd" * 32, "size": 123456}
        if urls:
            layer["urls"] = urls
        doc["layers"].insert(0, layer)
    return reshape(manifest, edit)


@pytest.mark.parametrize("where", ["layer", "config"])
def test_manifest_descriptor_size_must_match_the_blob(registry, repo, where):
    berth_only()
    image = make_image()
    push_blobs(registry, repo, image)

    def grow(doc):
        target = doc["layers"][0] if where == "layer" else doc["config"]
        target["size"] += 1

    r = push_manifest(registry, repo, "wrong-size", reshape(image, grow), expect=None)
    assert_error(r, 400, "MANIFEST_INVALID")
    assert get_manifest(registry, repo, "wrong-size").status_code == 404
    push_manifest(registry, repo, "right-size", image)


def test_manifest_urls_are_refused_by_default(registry, repo):
    berth_only()
    image = make_image(docker=True)
    push_blobs(registry, repo, image)
    for media_type in (FOREIGN_DOCKER, NONDISTRIBUTABLE, "application/vnd.docker.image.rootfs.diff.tar.gzip"):
        r = push_manifest(registry, repo, "foreign", with_foreign_layer(image, media_type, [WINDOWS_BASE]),
                          expect=None)
        assert_error(r, 400, "MANIFEST_INVALID")
    # A foreign layer without urls is an ordinary layer whose blob must be here.
    r = push_manifest(registry, repo, "foreign", with_foreign_layer(image, FOREIGN_DOCKER, []), expect=None)
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")


@pytest.fixture
def permissive(server_factory):
    server = start_server(server_factory, "--manifest-urls-allow", r"^https://mcr\.microsoft\.com/",
                          name="manifest urls allowed")
    return Registry(server)


def test_manifest_allowed_foreign_urls_need_no_stored_blob(permissive):
    repo = "win/app"
    ecr_client(permissive).create_repository(repositoryName=repo)
    image = make_image(docker=True)
    push_blobs(permissive, repo, image)
    foreign = with_foreign_layer(image, FOREIGN_DOCKER, [WINDOWS_BASE])
    r = push_manifest(permissive, repo, "v1", foreign, expect=None)
    assert r.status_code == 201, r.text
    got = get_manifest(permissive, repo, "v1")
    assert got.status_code == 200 and got.content == foreign.body

    elsewhere = with_foreign_layer(image, FOREIGN_DOCKER, ["https://mirror.example/mcr.microsoft.com/x"])
    assert_error(push_manifest(permissive, repo, "v2", elsewhere, expect=None), 400, "MANIFEST_INVALID")
    ordinary = with_foreign_layer(image, "application/vnd.docker.image.rootfs.diff.tar.gzip", [WINDOWS_BASE])
    assert_error(push_manifest(permissive, repo, "v3", ordinary, expect=None), 400, "MANIFEST_INVALID")


def test_manifest_urls_allow_with_a_bad_pattern_refuses_to_start(tmp_path):
    berth_only()
    proc = subprocess.run(
        [str(harness.BERTH_BIN), "serve", "--listen", f"127.0.0.1:{harness.free_port()}",
         "--data-dir", str(tmp_path / "data"), "--manifest-urls-allow", "(unclosed"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert "manifest-urls-allow" in proc.stdout + proc.stderr
