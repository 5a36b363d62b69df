"""skopeo (containers/image) against the registry: copy in and out, multi-arch, inspect, tags, delete."""

import json

import pytest

from content import ACCEPT_MANIFESTS, DOCKER_MANIFEST, OCI_INDEX, get_manifest, media_type_of, sha256
from harness import run_tool
from images import busybox_sha256, image_manifests, layer_files, read_layout_ref


def skopeo(*args, **kw):
    return run_tool(["skopeo", *args], **kw)


def copy_in(registry, image, dest, *extra):
    registry.create_repository(dest.split(":")[0])  # ECR's flow: create, then push
    skopeo("copy", "--retry-times", "0", *registry.skopeo_dest_args(), *extra, image.oci_ref,
           f"docker://{registry.host}/{dest}")


def copy_out(registry, src, layout, ref, *extra):
    skopeo("copy", "--retry-times", "0", *registry.skopeo_src_args(), *extra, f"docker://{registry.host}/{src}",
           f"oci:{layout}:{ref}")
    return read_layout_ref(layout, ref)


def test_skopeo_copy_roundtrip_preserves_manifest_and_layer_digests(registry, repo, busybox_layout, tmp_path):
    image = busybox_layout["busybox"]
    copy_in(registry, image, f"{repo}:v1")

    r = get_manifest(registry, repo, "v1")
    assert r.status_code == 200 and r.content == image.body, "registry does not hold the pushed manifest bytes"
    assert r.headers.get("Docker-Content-Digest") == image.digest

    out = copy_out(registry, f"{repo}:v1", tmp_path / "out", "v1")
    assert out.digest == image.digest
    assert [l["digest"] for l in out.json["layers"]] == [l["digest"] for l in image.json["layers"]]
    assert out.json["config"]["digest"] == image.json["config"]["digest"]
    layer = out.blob(out.json["layers"][0]["digest"])
    assert sha256(layer) == out.json["layers"][0]["digest"]
    files = layer_files(layer)
    assert sha256(files["bin/busybox"]) == "sha256:" + busybox_sha256()


def test_skopeo_copy_multiarch_index_with_all(registry, repo, busybox_layout, tmp_path):
    index = busybox_layout["multi"]
    copy_in(registry, index, f"{repo}:multi", "--all")

    r = get_manifest(registry, repo, "multi")
    assert r.status_code == 200, r.text
    assert media_type_of(r) == OCI_INDEX
    assert r.content == index.body and r.headers.get("Docker-Content-Digest") == index.digest
    for child in index.json["manifests"]:
        c = get_manifest(registry, repo, child["digest"])
        assert c.status_code == 200 and sha256(c.content) == child["digest"]
        for layer in json.loads(c.content)["layers"]:
            assert registry.head(f"/v2/{repo}/blobs/{layer['digest']}").status_code == 200

    out = copy_out(registry, f"{repo}:multi", tmp_path / "out", "multi", "--all")
    assert out.digest == index.digest
    archs = set()
    for manifest in image_manifests(out):
        config = json.loads(out.blob(manifest["config"]["digest"]))
        archs.add(config["architecture"])
        files = layer_files(out.blob(manifest["layers"][0]["digest"]))
        assert files["etc/berth-arch"].decode().strip() == config["architecture"]
    assert archs == {"amd64", "arm64"}


def test_skopeo_copy_selects_platform_from_index(registry, repo, busybox_layout, tmp_path):
    index = busybox_layout["multi"]
    copy_in(registry, index, f"{repo}:multi", "--all")
    out = copy_out(registry, f"{repo}:multi", tmp_path / "out", "arm", "--override-arch", "arm64")
    assert out.digest == busybox_layout["busybox-arm64"].digest


def test_skopeo_inspect_reports_digest_layers_and_platform(registry, repo, busybox_layout):
    image = busybox_layout["busybox"]
    copy_in(registry, image, f"{repo}:v1")
    info = json.loads(skopeo("inspect", *registry.skopeo_args(), f"docker://{registry.host}/{repo}:v1").stdout)
    assert info["Digest"] == image.digest
    assert info["Layers"] == [l["digest"] for l in image.json["layers"]]
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert "v1" in info["RepoTags"]
    raw = skopeo("inspect", "--raw", *registry.skopeo_args(), f"docker://{registry.host}/{repo}:v1").stdout
    assert raw.encode() == image.body


def test_skopeo_list_tags(registry, repo, busybox_layout):
    image = busybox_layout["busybox"]
    for tag in ("v1", "v2", "latest"):
        copy_in(registry, image, f"{repo}:{tag}")
    out = json.loads(skopeo("list-tags", *registry.skopeo_args(), f"docker://{registry.host}/{repo}").stdout)
    assert out["Repository"].endswith(repo)
    assert sorted(out["Tags"]) == ["latest", "v1", "v2"]


def test_skopeo_delete_removes_manifest(registry, repo, busybox_layout):
    image = busybox_layout["busybox"]
    copy_in(registry, image, f"{repo}:v1")
    skopeo("delete", *registry.skopeo_args(), f"docker://{registry.host}/{repo}@{image.digest}")
    assert get_manifest(registry, repo, image.digest).status_code == 404
    assert get_manifest(registry, repo, "v1").status_code == 404
    failed = skopeo("inspect", *registry.skopeo_args(), f"docker://{registry.host}/{repo}:v1", check=False)
    assert failed.returncode != 0


def test_skopeo_copy_as_docker_schema2(registry, repo, busybox_layout, tmp_path):
    image = busybox_layout["busybox"]
    copy_in(registry, image, f"{repo}:docker", "--format", "v2s2")
    r = get_manifest(registry, repo, "docker")
    assert r.status_code == 200 and media_type_of(r) == DOCKER_MANIFEST, r.headers
    manifest = json.loads(r.content)
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert r.headers.get("Docker-Content-Digest") == sha256(r.content)
    out = copy_out(registry, f"{repo}:docker", tmp_path / "out", "docker")
    files = layer_files(out.blob(out.json["layers"][0]["digest"]))
    assert sha256(files["bin/busybox"]) == "sha256:" + busybox_sha256()


def test_skopeo_copy_between_repositories_uses_existing_blobs(registry, repo_factory, busybox_layout):
    src, dst = repo_factory("src"), repo_factory("dst")
    image = busybox_layout["busybox"]
    copy_in(registry, image, f"{src}:v1")
    registry.create_repository(dst)
    skopeo("copy", "--retry-times", "0", *registry.skopeo_src_args(), *registry.skopeo_dest_args(),
           f"docker://{registry.host}/{src}:v1", f"docker://{registry.host}/{dst}:v1")
    r = registry.get(f"/v2/{dst}/manifests/v1", headers={"Accept": ACCEPT_MANIFESTS})
    assert r.status_code == 200 and r.content == image.body
    for layer in image.json["layers"]:
        got = registry.get(f"/v2/{dst}/blobs/{layer['digest']}")
        assert got.status_code == 200 and sha256(got.content) == layer["digest"]


@pytest.mark.parametrize("tag", ["v1", "1.0.0-rc.1_build.7"])
def test_skopeo_copy_to_nested_repository(registry, repo_factory, busybox_layout, tag):
    repo = repo_factory("team/app/api")
    image = busybox_layout["busybox"]
    copy_in(registry, image, f"{repo}:{tag}")
    r = get_manifest(registry, repo, tag)
    assert r.status_code == 200 and r.content == image.body
