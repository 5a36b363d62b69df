"""Tag immutability: the four ECR modes and their exclusion filters, reported by the management
API and enforced on both write paths (OCI manifest PUT, ECR PutImage), with skopeo and podman as
real clients. Deleting a tag is always allowed and frees the name for a new push."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from content import assert_error, get_manifest, make_image, push_blob, push_image, push_manifest
from ecr_helpers import client_error_code, ecr_client, ecr_expect_error, ecr_ok, require_berth
from harness import Registry, run_tool

DEV_FILTER = [{"filterType": "WILDCARD", "filter": "dev-*"}]


@pytest.fixture(autouse=True)
def _berth_only():
    require_berth()


@pytest.fixture
def ecr(registry):
    return ecr_client(registry)


def create_repository(registry, name, mode, filters=None) -> dict:
    payload = {"repositoryName": name, "imageTagMutability": mode}
    if filters is not None:
        payload["imageTagMutabilityExclusionFilters"] = filters
    return ecr_ok(registry, "CreateRepository", payload)["repository"]


def describe_repository(registry, name) -> dict:
    repos = ecr_ok(registry, "DescribeRepositories", {"repositoryNames": [name]})["repositories"]
    assert len(repos) == 1 and repos[0]["repositoryName"] == name, repos
    return repos[0]


def push_blobs(registry, repo, image):
    for blob in image.blobs:
        push_blob(registry, repo, blob.data)


def assert_tag_points_to(registry, repo, tag, image):
    r = get_manifest(registry, repo, tag)
    assert r.status_code == 200, r.text
    assert r.headers.get("Docker-Content-Digest") == image.digest and r.content == image.body, \
        f"tag {tag} no longer points to {image.digest}"


def assert_overwrite_refused(registry, repo, tag, image):
    """PUT of ``image`` to the existing ``tag`` is refused with TAG_INVALID and changes nothing."""
    r = push_manifest(registry, repo, tag, image, expect=None)
    body = assert_error(r, 400, "TAG_INVALID")
    messages = " ".join(e["message"] for e in body["errors"]).lower()
    assert "immutable" in messages and tag in messages, f"message should say tag {tag} is immutable: {body}"
    assert get_manifest(registry, repo, image.digest).status_code == 404, \
        "a refused manifest PUT must not store the manifest under its digest"


# ---------------------------------------------------------------------------------------------
# Management API: settings and validation

@pytest.mark.parametrize("mode, filters", [
    ("MUTABLE", None),
    ("IMMUTABLE", None),
    ("MUTABLE_WITH_EXCLUSION", DEV_FILTER),
    ("IMMUTABLE_WITH_EXCLUSION", DEV_FILTER + [{"filterType": "WILDCARD", "filter": "latest"}]),
])
def test_immutability_create_repository_reports_mode_and_filters(registry, repo, mode, filters):
    created = create_repository(registry, repo, mode, filters)
    assert created["imageTagMutability"] == mode
    described = describe_repository(registry, repo)
    assert described["imageTagMutability"] == mode
    if filters:
        assert created["imageTagMutabilityExclusionFilters"] == filters
        assert described["imageTagMutabilityExclusionFilters"] == filters
    else:
        assert not described.get("imageTagMutabilityExclusionFilters"), described


def test_immutability_default_is_mutable_and_boto3_sees_it(registry, repo, ecr):
    ecr.create_repository(repositoryName=repo)
    described = ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]
    assert described["imageTagMutability"] == "MUTABLE"
    out = ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="IMMUTABLE")
    assert out["imageTagMutability"] == "IMMUTABLE" and out["repositoryName"] == repo
    assert ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["imageTagMutability"] == "IMMUTABLE"


def test_immutability_put_image_tag_mutability_with_exclusion_filters(registry, repo):
    create_repository(registry, repo, "MUTABLE")
    out = ecr_ok(registry, "PutImageTagMutability", {
        "repositoryName": repo, "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": DEV_FILTER})
    assert out["repositoryName"] == repo
    assert out["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert out["imageTagMutabilityExclusionFilters"] == DEV_FILTER
    described = describe_repository(registry, repo)
    assert described["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert described["imageTagMutabilityExclusionFilters"] == DEV_FILTER

    # Back to a plain mode: the filters go away.
    ecr_ok(registry, "PutImageTagMutability", {"repositoryName": repo, "imageTagMutability": "MUTABLE"})
    described = describe_repository(registry, repo)
    assert described["imageTagMutability"] == "MUTABLE"
    assert not described.get("imageTagMutabilityExclusionFilters"), described


@pytest.mark.parametrize("mode, filters", [
    ("IMMUTABLE_WITH_EXCLUSION", None),                                        # mode needs filters
    ("MUTABLE_WITH_EXCLUSION", []),                                            # 1..5 filters
    ("IMMUTABLE", DEV_FILTER),                                                 # plain mode forbids them
    ("MUTABLE", DEV_FILTER),
    ("SOMETIMES", None),                                                       # not in the enum
    ("immutable", None),                                                       # enums are case-sensitive
    ("IMMUTABLE_WITH_EXCLUSION", [{"filterType": "REGEX", "filter": "dev-.*"}]),
    ("IMMUTABLE_WITH_EXCLUSION", [{"filterType": "WILDCARD", "filter": "dev/*"}]),
    ("IMMUTABLE_WITH_EXCLUSION", [{"filterType": "WILDCARD", "filter": ""}]),
    ("IMMUTABLE_WITH_EXCLUSION", [{"filterType": "WILDCARD", "filter": "a" * 129}]),
    ("IMMUTABLE_WITH_EXCLUSION", [{"filterType": "WILDCARD"}]),
    ("IMMUTABLE_WITH_EXCLUSION", [{"filterType": "WILDCARD", "filter": f"f{i}-*"} for i in range(6)]),
], ids=["exclusion-without-filters", "empty-filter-list", "immutable-with-filters", "mutable-with-filters",
        "unknown-mode", "lower-case-mode", "regex-filter-type", "slash-in-filter", "empty-filter",
        "filter-too-long", "filter-missing", "six-filters"])
def test_immutability_invalid_settings_are_rejected(registry, repo, mode, filters):
    payload = {"repositoryName": repo, "imageTagMutability": mode}
    if filters is not None:
        payload["imageTagMutabilityExclusionFilters"] = filters
    # On CreateRepository: refused, and no repository is left behind.
    ecr_expect_error(registry, "CreateRepository", payload, "InvalidParameterException")
    ecr_expect_error(registry, "DescribeRepositories", {"repositoryNames": [repo]}, "RepositoryNotFoundException")
    # On PutImageTagMutability: refused, and the previous setting stays.
    create_repository(registry, repo, "MUTABLE_WITH_EXCLUSION", [{"filterType": "WILDCARD", "filter": "keep"}])
    ecr_expect_error(registry, "PutImageTagMutability", payload, "InvalidParameterException")
    described = describe_repository(registry, repo)
    assert described["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert described["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "keep"}]


def test_immutability_put_image_tag_mutability_unknown_repository(registry, repo):
    ecr_expect_error(registry, "PutImageTagMutability",
                     {"repositoryName": repo, "imageTagMutability": "IMMUTABLE"}, "RepositoryNotFoundException")


# ---------------------------------------------------------------------------------------------
# Enforcement on PUT /v2/<name>/manifests/<tag>

def test_immutability_manifest_put_refuses_overwrite_with_tag_invalid(registry, repo):
    create_repository(registry, repo, "IMMUTABLE")
    first, second = make_image(), make_image()
    push_image(registry, repo, first, "v1")
    push_blobs(registry, repo, second)

    assert_overwrite_refused(registry, repo, "v1", second)
    assert_tag_points_to(registry, repo, "v1", first)

    # The identical manifest to the same tag changes nothing and is accepted.
    r = push_manifest(registry, repo, "v1", first, expect=201)
    assert r.headers.get("Docker-Content-Digest") == first.digest
    assert_tag_points_to(registry, repo, "v1", first)

    # New tags and pushes by digest are always allowed.
    push_manifest(registry, repo, second.digest, second, expect=201)
    push_manifest(registry, repo, "v2", second, expect=201)
    push_manifest(registry, repo, "also-first", first, expect=201)
    assert_tag_points_to(registry, repo, "v2", second)
    assert_tag_points_to(registry, repo, "v1", first)
    tags = registry.get(f"/v2/{repo}/tags/list").json()["tags"]
    assert sorted(tags) == ["also-first", "v1", "v2"]


def test_immutability_mutable_repository_moves_tag_and_keeps_old_image(registry, repo):
    create_repository(registry, repo, "MUTABLE")
    first, second = make_image(), make_image()
    push_image(registry, repo, first, "v1")
    push_image(registry, repo, second, "v1")
    assert_tag_points_to(registry, repo, "v1", second)
    old = get_manifest(registry, repo, first.digest)
    assert old.status_code == 200 and old.content == first.body, "the previous image must stay, untagged"


@pytest.mark.parametrize("mode, mutable_tags, immutable_tags", [
    ("IMMUTABLE_WITH_EXCLUSION", ["dev-1", "dev-"], ["v1", "latest", "nodev-1", "dev"]),
    ("MUTABLE_WITH_EXCLUSION", ["v1", "latest", "nodev-1", "dev"], ["dev-1", "dev-"]),
])
def test_immutability_exclusion_filters_select_tags_by_whole_wildcard_match(registry, repo, mode,
                                                                             mutable_tags, immutable_tags):
    create_repository(registry, repo, mode, DEV_FILTER)
    first, second = make_image(), make_image()
    push_image(registry, repo, first)
    push_image(registry, repo, second)
    for tag in mutable_tags + immutable_tags:
        push_manifest(registry, repo, tag, first, expect=201)
    for tag in mutable_tags:
        push_manifest(registry, repo, tag, second, expect=201)
        assert_tag_points_to(registry, repo, tag, second)
    for tag in immutable_tags:
        r = push_manifest(registry, repo, tag, second, expect=None)
        body = assert_error(r, 400, "TAG_INVALID")
        assert "immutable" in json.dumps(body).lower(), body
        assert_tag_points_to(registry, repo, tag, first)
        push_manifest(registry, repo, tag, first, expect=201)  # identical re-push is fine


def test_immutability_mode_change_applies_to_later_pushes(registry, repo, ecr):
    ecr.create_repository(repositoryName=repo, imageTagMutability="MUTABLE")
    images = [make_image() for _ in range(3)]
    for image in images:
        push_blobs(registry, repo, image)
    push_manifest(registry, repo, "v1", images[0], expect=201)

    ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="IMMUTABLE")
    assert_tag_points_to(registry, repo, "v1", images[0])  # existing tags are untouched
    assert_overwrite_refused(registry, repo, "v1", images[1])
    assert_tag_points_to(registry, repo, "v1", images[0])

    ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="MUTABLE")
    push_manifest(registry, repo, "v1", images[2], expect=201)
    assert_tag_points_to(registry, repo, "v1", images[2])


def test_immutability_concurrent_pushes_to_a_new_tag_have_one_winner(registry, repo):
    create_repository(registry, repo, "IMMUTABLE")
    images = [make_image(layers=1, layer_size=256) for _ in range(6)]
    for image in images:
        push_blobs(registry, repo, image)
    barrier = threading.Barrier(len(images))
    results: dict[str, object] = {}

    def put(image):
        reg = Registry(registry.server)
        barrier.wait(timeout=30)
        results[image.digest] = push_manifest(reg, repo, "race", image, expect=None)

    threads = [threading.Thread(target=put, args=(image,)) for image in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [d for d, r in results.items() if r.status_code == 201]
    assert len(results) == len(images) and len(winners) == 1, \
        {d: (r.status_code, r.text[:200]) for d, r in results.items()}
    for digest, r in results.items():
        if digest != winners[0]:
            assert_error(r, 400, "TAG_INVALID")
            assert get_manifest(registry, repo, digest).status_code == 404
    winner = next(i for i in images if i.digest == winners[0])
    assert_tag_points_to(registry, repo, "race", winner)


# ---------------------------------------------------------------------------------------------
# Enforcement on PutImage

def test_immutability_put_image_refuses_overwrite(registry, repo, ecr):
    ecr.create_repository(repositoryName=repo, imageTagMutability="IMMUTABLE")
    first, second = make_image(), make_image()
    push_blobs(registry, repo, first)
    push_blobs(registry, repo, second)

    out = ecr.put_image(repositoryName=repo, imageManifest=first.body.decode(),
                        imageManifestMediaType=first.media_type, imageTag="v1")
    assert out["image"]["imageId"] == {"imageDigest": first.digest, "imageTag": "v1"}

    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName=repo, imageManifest=second.body.decode(),
                      imageManifestMediaType=second.media_type, imageTag="v1")
    assert client_error_code(info.value) == "ImageTagAlreadyExistsException", info.value.response
    assert "immutable" in info.value.response["Error"]["Message"].lower()
    assert_tag_points_to(registry, repo, "v1", first)
    assert get_manifest(registry, repo, second.digest).status_code == 404

    # Identical manifest and tag: the API's "nothing to change" answer, not an immutability error.
    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName=repo, imageManifest=first.body.decode(),
                      imageManifestMediaType=first.media_type, imageTag="v1")
    assert client_error_code(info.value) == "ImageAlreadyExistsException", info.value.response

    # A new tag for a new image, and a second tag for an existing image, are fine.
    ecr.put_image(repositoryName=repo, imageManifest=second.body.decode(),
                  imageManifestMediaType=second.media_type, imageTag="v2")
    ecr.put_image(repositoryName=repo, imageManifest=first.body.decode(),
                  imageManifestMediaType=first.media_type, imageTag="stable")
    assert_tag_points_to(registry, repo, "v2", second)
    assert_tag_points_to(registry, repo, "stable", first)


def test_immutability_put_image_identical_on_mutable_is_image_already_exists(registry, repo, ecr):
    ecr.create_repository(repositoryName=repo)
    image = make_image()
    push_blobs(registry, repo, image)
    ecr.put_image(repositoryName=repo, imageManifest=image.body.decode(), imageTag="v1")
    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName=repo, imageManifest=image.body.decode(), imageTag="v1")
    assert client_error_code(info.value) == "ImageAlreadyExistsException", info.value.response


def test_immutability_put_image_respects_exclusion_filters(registry, repo, ecr):
    create_repository(registry, repo, "IMMUTABLE_WITH_EXCLUSION", DEV_FILTER)
    first, second = make_image(), make_image()
    push_blobs(registry, repo, first)
    push_blobs(registry, repo, second)
    for tag in ("dev-7", "rel-7"):
        ecr.put_image(repositoryName=repo, imageManifest=first.body.decode(), imageTag=tag)
    ecr.put_image(repositoryName=repo, imageManifest=second.body.decode(), imageTag="dev-7")
    assert_tag_points_to(registry, repo, "dev-7", second)
    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName=repo, imageManifest=second.body.decode(), imageTag="rel-7")
    assert client_error_code(info.value) == "ImageTagAlreadyExistsException", info.value.response
    assert_tag_points_to(registry, repo, "rel-7", first)


# ---------------------------------------------------------------------------------------------
# Deletion frees an immutable tag

def test_immutability_batch_delete_tag_then_push_again(registry, repo, ecr):
    ecr.create_repository(repositoryName=repo, imageTagMutability="IMMUTABLE")
    first, second = make_image(), make_image()
    push_image(registry, repo, first, "v1")
    push_blobs(registry, repo, second)
    assert_overwrite_refused(registry, repo, "v1", second)

    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert out["failures"] == [], out
    assert out["imageIds"] == [{"imageDigest": first.digest, "imageTag": "v1"}], out
    assert get_manifest(registry, repo, "v1").status_code == 404

    push_manifest(registry, repo, "v1", second, expect=201)
    assert_tag_points_to(registry, repo, "v1", second)
    # ... and, now that it exists again, the new tag is as immutable as the old one.
    push_blobs(registry, repo, first)
    assert_overwrite_refused(registry, repo, "v1", first)


def test_immutability_oci_tag_delete_then_push_again(registry, repo):
    create_repository(registry, repo, "IMMUTABLE")
    first, second = make_image(), make_image()
    push_image(registry, repo, first, "v1")
    push_blobs(registry, repo, second)
    r = registry.delete(f"/v2/{repo}/manifests/v1")
    assert r.status_code == 202, r.text
    assert get_manifest(registry, repo, "v1").status_code == 404
    assert get_manifest(registry, repo, first.digest).status_code == 200, "deleting a tag keeps the manifest"
    push_manifest(registry, repo, "v1", second, expect=201)
    assert_tag_points_to(registry, repo, "v1", second)


def test_immutability_delete_by_digest_then_put_image_again(registry, repo, ecr):
    ecr.create_repository(repositoryName=repo, imageTagMutability="IMMUTABLE")
    first, second = make_image(), make_image()
    push_image(registry, repo, first, "v1")
    r = registry.delete(f"/v2/{repo}/manifests/{first.digest}")
    assert r.status_code == 202, r.text
    push_blobs(registry, repo, second)
    out = ecr.put_image(repositoryName=repo, imageManifest=second.body.decode(), imageTag="v1")
    assert out["image"]["imageId"]["imageDigest"] == second.digest
    assert_tag_points_to(registry, repo, "v1", second)


# ---------------------------------------------------------------------------------------------
# Real clients

def skopeo_copy(registry, source: str, dest_ref: str, check=True):
    return run_tool(["skopeo", "copy", "--retry-times", "0", *registry.skopeo_dest_args(), source,
                     f"docker://{registry.host}/{dest_ref}"], check=check)


def test_immutability_skopeo_copy_to_existing_immutable_tag_fails(registry, repo, busybox_layout):
    create_repository(registry, repo, "IMMUTABLE")
    amd64, arm64 = busybox_layout["busybox"], busybox_layout["busybox-arm64"]
    skopeo_copy(registry, amd64.oci_ref, f"{repo}:v1")

    failed = skopeo_copy(registry, arm64.oci_ref, f"{repo}:v1", check=False)
    assert failed.returncode != 0, "skopeo overwrote an immutable tag"
    assert "immutable" in failed.stderr.lower() or "tag invalid" in failed.stderr.lower(), failed.stderr
    r = get_manifest(registry, repo, "v1")
    assert r.status_code == 200 and r.headers.get("Docker-Content-Digest") == amd64.digest

    # The same image to the same tag again succeeds, and a different image to a new tag too.
    skopeo_copy(registry, amd64.oci_ref, f"{repo}:v1")
    skopeo_copy(registry, arm64.oci_ref, f"{repo}:v2")
    assert get_manifest(registry, repo, "v2").headers.get("Docker-Content-Digest") == arm64.digest


def test_immutability_podman_push_to_existing_immutable_tag_fails(registry, repo, busybox_layout, tmp_path):
    create_repository(registry, repo, "IMMUTABLE")
    amd64, arm64 = busybox_layout["busybox"], busybox_layout["busybox-arm64"]
    skopeo_copy(registry, amd64.oci_ref, f"{repo}:v1")

    (tmp_path / "root").mkdir()
    (tmp_path / "auth.json").write_text("{}")
    runroot = Path(tempfile.mkdtemp(prefix="berth-podman-", dir="/tmp"))  # podman wants a short path
    env = {"REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "CONTAINERS_REGISTRIES_CONF": "/dev/null"}
    remote = ["--tls-verify=false"] + (["--creds", registry.skopeo_creds] if registry.skopeo_creds else [])

    def podman(*args, check=True):
        return run_tool(["podman", "--root", str(tmp_path / "root"), "--runroot", str(runroot),
                         "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none",
                         *args], env=env, check=check)

    try:
        local = "localhost/berth-immutability:arm64"
        podman("pull", "--arch", "arm64", arm64.oci_ref)
        image_id = podman("images", "--quiet", "--no-trunc").stdout.split()[0]
        podman("tag", image_id, local)
        target = f"{registry.host}/{repo}:v1"
        podman("tag", local, target)
        failed = podman("push", *remote, target, check=False)
        assert failed.returncode != 0, "podman overwrote an immutable tag"
        assert "immutable" in failed.stderr.lower() or "tag invalid" in failed.stderr.lower(), failed.stderr
        r = get_manifest(registry, repo, "v1")
        assert r.status_code == 200 and r.headers.get("Docker-Content-Digest") == amd64.digest

        fresh = f"{registry.host}/{repo}:v3"
        podman("tag", local, fresh)
        podman("push", *remote, fresh)
        assert get_manifest(registry, repo, "v3").status_code == 200
    finally:
        podman("rmi", "--all", "--force", check=False)
        shutil.rmtree(runroot, ignore_errors=True)
