"""PutImage, ListImages, DescribeImages, BatchGetImage, BatchDeleteImage (reference §3.4–3.8,
§6.1), and "one truth": what goes in through /v2 is what the ECR API reports, and the reverse."""

from __future__ import annotations

import datetime
import json
import time

import pytest

from ecr_content import (DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, make_image, make_index,
                         push_blobs, push_image, put_image, sha256, upload_blob, write_oci_layout)
from ecr_support import ACCOUNT_ID, expect_error, run_tool, tampered_tokens, unique

ZERO_DIGEST = "sha256:" + "0" * 64


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _ids(entries) -> set:
    return {(e["imageDigest"], e.get("imageTag")) for e in entries}


# ---------------------------------------------------------------------------------------------
# PutImage

@pytest.mark.parametrize("kind", ["oci", "docker"])
def test_put_image_returns_image(ecr, repo, kind):
    image = make_image(kind)
    push_blobs(ecr, repo, image)
    result = put_image(ecr, repo, image, "v1")
    assert result["registryId"] == ACCOUNT_ID
    assert result["repositoryName"] == repo
    assert result["imageId"] == {"imageDigest": image.digest, "imageTag": "v1"}
    assert result["imageManifest"].encode() == image.manifest
    assert result["imageManifestMediaType"] == (DOCKER_MANIFEST if kind == "docker" else OCI_MANIFEST)


def test_put_image_takes_media_type_from_manifest(ecr, repo):
    image = make_image("docker")
    push_blobs(ecr, repo, image)
    result = put_image(ecr, repo, image, "v1", send_media_type=False)
    assert result["imageManifestMediaType"] == DOCKER_MANIFEST
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])["images"][0]
    assert got["imageManifestMediaType"] == DOCKER_MANIFEST


def test_put_image_without_any_media_type(ecr, repo):
    image = make_image("oci", include_media_type=False)
    push_blobs(ecr, repo, image)
    expect_error("InvalidParameterException", put_image, ecr, repo, image, "v1", send_media_type=False)
    # Given as a parameter, the same manifest is fine.
    assert put_image(ecr, repo, image, "v1")["imageManifestMediaType"] == OCI_MANIFEST


def test_put_image_stores_manifest_byte_for_byte(ecr, repo):
    image = make_image(annotations={"note": "ünïcødé ✓", "spaces": "  a   b  "})
    push_image(ecr, repo, "v1", image)
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])["images"][0]
    assert got["imageManifest"].encode() == image.manifest
    assert sha256(got["imageManifest"].encode()) == image.digest == got["imageId"]["imageDigest"]


def test_put_image_rejects_non_json_manifest(ecr, repo):
    expect_error("InvalidParameterException", ecr.put_image, repositoryName=repo, imageTag="v1",
                 imageManifest="this is not json", imageManifestMediaType=OCI_MANIFEST)
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []


def test_put_image_already_exists_same_tag(ecr, repo):
    image = push_image(ecr, repo, "v1")
    e = expect_error("ImageAlreadyExistsException", put_image, ecr, repo, image, "v1")
    assert image.digest in e.response["Error"]["Message"]


def test_put_image_already_exists_untagged(ecr, repo):
    image = push_image(ecr, repo)
    expect_error("ImageAlreadyExistsException", put_image, ecr, repo, image)
    assert ecr.list_images(repositoryName=repo)["imageIds"] == [{"imageDigest": image.digest}]


def test_put_image_adds_tag_to_existing_image(ecr, repo):
    image = push_image(ecr, repo, "v1")
    put_image(ecr, repo, image, "v2")
    assert _ids(ecr.list_images(repositoryName=repo)["imageIds"]) == {(image.digest, "v1"), (image.digest, "v2")}


def test_put_image_digest_does_not_match(ecr, repo):
    image = make_image()
    push_blobs(ecr, repo, image)
    expect_error("ImageDigestDoesNotMatchException", put_image, ecr, repo, image, "v1", digest=ZERO_DIGEST)
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []
    assert put_image(ecr, repo, image, "v1", digest=image.digest)["imageId"]["imageDigest"] == image.digest


def test_put_image_layers_not_found(ecr, repo):
    image = make_image(layers=2)
    upload_blob(ecr, repo, image.config)
    upload_blob(ecr, repo, image.layers[0])      # the second layer is never uploaded
    expect_error("LayersNotFoundException", put_image, ecr, repo, image, "v1")
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []


def test_put_image_config_not_found(ecr, repo):
    image = make_image()
    upload_blob(ecr, repo, image.layers[0])
    expect_error("LayersNotFoundException", put_image, ecr, repo, image, "v1")


def test_put_image_layers_of_another_repository_are_not_visible(ecr, repo_factory):
    first, second = repo_factory(), repo_factory()
    image = push_image(ecr, first, "v1")
    expect_error("LayersNotFoundException", put_image, ecr, second, image, "v1")
    assert ecr.list_images(repositoryName=second)["imageIds"] == []


def test_put_image_mutable_tag_moves_and_keeps_old_image(ecr, repo):
    old = push_image(ecr, repo, "latest")
    new = push_image(ecr, repo, "latest")
    assert _ids(ecr.list_images(repositoryName=repo)["imageIds"]) == {(new.digest, "latest"), (old.digest, None)}


def test_put_image_immutable_tag_already_exists(ecr, repo_factory):
    repo = repo_factory(imageTagMutability="IMMUTABLE")
    old = push_image(ecr, repo, "v1")
    new = make_image()
    push_blobs(ecr, repo, new)
    e = expect_error("ImageTagAlreadyExistsException", put_image, ecr, repo, new, "v1")
    assert "v1" in e.response["Error"]["Message"]
    assert ecr.list_images(repositoryName=repo)["imageIds"] == [{"imageDigest": old.digest, "imageTag": "v1"}]


def test_put_image_immutable_same_image_same_tag(ecr, repo_factory):
    # Real ECR refuses this too (§6.1); either "nothing to do" error is acceptable, success is not.
    repo = repo_factory(imageTagMutability="IMMUTABLE")
    image = push_image(ecr, repo, "v1")
    try:
        put_image(ecr, repo, image, "v1")
    except ecr.exceptions.ImageTagAlreadyExistsException:
        pass
    except ecr.exceptions.ImageAlreadyExistsException:
        pass
    else:
        raise AssertionError("re-pushing an existing tag to an IMMUTABLE repository succeeded")


def test_put_image_immutable_allows_new_tags_and_untagged(ecr, repo_factory):
    repo = repo_factory(imageTagMutability="IMMUTABLE")
    image = push_image(ecr, repo, "v1")
    put_image(ecr, repo, image, "v2")
    untagged = push_image(ecr, repo)
    assert _ids(ecr.list_images(repositoryName=repo)["imageIds"]) == {
        (image.digest, "v1"), (image.digest, "v2"), (untagged.digest, None)}


def test_put_image_immutable_tag_reusable_after_delete(ecr, repo_factory):
    repo = repo_factory(imageTagMutability="IMMUTABLE")
    push_image(ecr, repo, "v1")
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    new = push_image(ecr, repo, "v1")
    assert ecr.list_images(repositoryName=repo)["imageIds"] == [{"imageDigest": new.digest, "imageTag": "v1"}]


def test_put_image_index_requires_referenced_images(ecr, repo):
    children = [make_image(architecture="amd64"), make_image(architecture="arm64")]
    push_image(ecr, repo, None, children[0])
    index = make_index(children)
    expect_error("ReferencedImagesNotFoundException", put_image, ecr, repo, index, "multi")
    push_image(ecr, repo, None, children[1])
    assert put_image(ecr, repo, index, "multi")["imageManifestMediaType"] == OCI_INDEX
    details = ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": c.digest} for c in children]
                                  + [{"imageTag": "multi"}])["imageDetails"]
    assert {d["imageDigest"] for d in details} == {index.digest, *(c.digest for c in children)}
    index_detail = next(d for d in details if d["imageDigest"] == index.digest)
    assert index_detail["imageManifestMediaType"] == OCI_INDEX
    assert "artifactMediaType" not in index_detail or index_detail["artifactMediaType"] != OCI_CONFIG


def test_describe_images_index_size_is_largest_child(ecr, repo):
    # push_image pushes an index's children (by digest) before the index.
    children = [make_image(layers=1), make_image(layers=3)]
    index = push_image(ecr, repo, "multi", make_index(children))
    details = ecr.describe_images(repositoryName=repo)["imageDetails"]
    sizes = {d["imageDigest"]: d["imageSizeInBytes"] for d in details}
    assert sizes[index.digest] == max(sizes[c.digest] for c in children)


def test_put_image_missing_repository(ecr):
    image = make_image()
    expect_error("RepositoryNotFoundException", put_image, ecr, f"api/missing-{unique()}", image, "v1")


@pytest.mark.parametrize("tag", ["t" * 301, ""], ids=["301-chars", "empty"])
def test_put_image_rejects_bad_tag(ecr_unvalidated, repo, tag):
    image = make_image()
    push_blobs(ecr_unvalidated, repo, image)
    expect_error("InvalidParameterException", put_image, ecr_unvalidated, repo, image, tag)
    assert ecr_unvalidated.list_images(repositoryName=repo)["imageIds"] == []


# ---------------------------------------------------------------------------------------------
# ListImages

def test_list_images_one_entry_per_tag(ecr, repo):
    tagged = push_image(ecr, repo, "a")
    put_image(ecr, repo, tagged, "b")
    untagged = push_image(ecr, repo)
    ids = ecr.list_images(repositoryName=repo)["imageIds"]
    assert len(ids) == 3
    assert _ids(ids) == {(tagged.digest, "a"), (tagged.digest, "b"), (untagged.digest, None)}
    assert {"imageDigest": untagged.digest} in ids, "an untagged image is listed without an imageTag member"


def test_list_images_filter_tag_status(ecr, repo):
    tagged = push_image(ecr, repo, "a")
    put_image(ecr, repo, tagged, "b")
    untagged = push_image(ecr, repo)
    by_status = {s: _ids(ecr.list_images(repositoryName=repo, filter={"tagStatus": s})["imageIds"])
                 for s in ("TAGGED", "UNTAGGED", "ANY")}
    assert by_status["TAGGED"] == {(tagged.digest, "a"), (tagged.digest, "b")}
    assert by_status["UNTAGGED"] == {(untagged.digest, None)}
    assert by_status["ANY"] == by_status["TAGGED"] | by_status["UNTAGGED"]


def test_list_images_rejects_bad_tag_status(ecr, repo):
    e = expect_error("InvalidParameterException", ecr.list_images, repositoryName=repo,
                     filter={"tagStatus": "SOMETIMES"})
    assert "tagStatus" in e.response["Error"]["Message"]


def test_list_images_empty_repository(ecr, repo):
    page = ecr.list_images(repositoryName=repo)
    assert page["imageIds"] == [] and "nextToken" not in page


def test_list_images_paginates_without_duplicates_or_gaps(ecr, repo):
    expected = set()
    for i in range(7):
        tag = f"t{i}" if i % 3 else None    # t1 t2 t4 t5 tagged, three untagged
        image = push_image(ecr, repo, tag)
        expected.add((image.digest, tag))
    put_image(ecr, repo, image, "extra")        # the untagged image 6 gets a tag
    expected = (expected - {(image.digest, None)}) | {(image.digest, "extra")}
    extra = push_image(ecr, repo, "u1")
    put_image(ecr, repo, extra, "u2")           # one image, two entries
    expected |= {(extra.digest, "u1"), (extra.digest, "u2")}
    seen, token, pages = [], None, 0
    while True:
        page = ecr.list_images(repositoryName=repo, maxResults=2, **({"nextToken": token} if token else {}))
        pages += 1
        assert len(page["imageIds"]) <= 2
        seen += [(e["imageDigest"], e.get("imageTag")) for e in page["imageIds"]]
        token = page.get("nextToken")
        if not token:
            break
        assert pages < 100
    assert len(seen) == len(set(seen)) == 9, seen
    assert set(seen) == expected
    # The same walk through botocore's paginator.
    full = ecr.get_paginator("list_images").paginate(repositoryName=repo, PaginationConfig={"PageSize": 3})
    assert _ids(full.build_full_result()["imageIds"]) == expected


def test_list_images_paginates_with_filter(ecr, repo):
    expected = {(push_image(ecr, repo, f"t{i}").digest, f"t{i}") for i in range(5)}
    push_image(ecr, repo)
    push_image(ecr, repo)
    seen, token = [], None
    while True:
        page = ecr.list_images(repositoryName=repo, maxResults=2, filter={"tagStatus": "TAGGED"},
                               **({"nextToken": token} if token else {}))
        seen += [(e["imageDigest"], e.get("imageTag")) for e in page["imageIds"]]
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(seen) == sorted(expected)


@pytest.mark.parametrize("max_results", [0, 1001])
def test_list_images_rejects_max_results_out_of_range(ecr_unvalidated, repo, max_results):
    expect_error("InvalidParameterException", ecr_unvalidated.list_images, repositoryName=repo,
                 maxResults=max_results)


def test_list_images_rejects_tampered_or_foreign_next_token(ecr, repo_factory):
    first, second = repo_factory(), repo_factory()
    for i in range(3):
        push_image(ecr, first, f"t{i}")
        push_image(ecr, second, f"t{i}")
    token = ecr.list_images(repositoryName=first, maxResults=1)["nextToken"]
    for bad in tampered_tokens(token):
        expect_error("InvalidParameterException", ecr.list_images, repositoryName=first, nextToken=bad)
    expect_error("InvalidParameterException", ecr.list_images, repositoryName=second, nextToken=token)
    expect_error("InvalidParameterException", ecr.list_images, repositoryName=first, nextToken=token,
                 filter={"tagStatus": "UNTAGGED"})


def test_list_images_missing_repository(ecr):
    expect_error("RepositoryNotFoundException", ecr.list_images, repositoryName=f"api/missing-{unique()}")


# ---------------------------------------------------------------------------------------------
# DescribeImages

def test_describe_images_fields(ecr, repo):
    before = _now() - datetime.timedelta(seconds=5)
    image = push_image(ecr, repo, "v2", layers=3)
    put_image(ecr, repo, image, "v1")
    detail = ecr.describe_images(repositoryName=repo)["imageDetails"]
    assert len(detail) == 1
    detail = detail[0]
    assert detail["registryId"] == ACCOUNT_ID
    assert detail["repositoryName"] == repo
    assert detail["imageDigest"] == image.digest
    assert sorted(detail["imageTags"]) == ["v1", "v2"]
    assert detail["imageSizeInBytes"] >= image.layers_size
    assert before <= detail["imagePushedAt"] <= _now() + datetime.timedelta(seconds=5)
    assert detail["imageManifestMediaType"] == OCI_MANIFEST
    assert detail["artifactMediaType"] == OCI_CONFIG
    assert "lastRecordedPullTime" not in detail


def test_describe_images_size_is_sum_of_layers(ecr, repo):
    image = push_image(ecr, repo, "v1", layers=3)
    detail = ecr.describe_images(repositoryName=repo)["imageDetails"][0]
    assert detail["imageSizeInBytes"] == image.layers_size


def test_describe_images_untagged_image_has_no_tags_member(ecr, repo):
    image = push_image(ecr, repo, kind="docker")
    detail = ecr.describe_images(repositoryName=repo)["imageDetails"][0]
    assert detail["imageDigest"] == image.digest
    assert "imageTags" not in detail
    assert detail["imageManifestMediaType"] == DOCKER_MANIFEST
    assert detail["artifactMediaType"] == "application/vnd.docker.container.image.v1+json"


def test_describe_images_records_pull_time(ecr, repo, v2):
    image = push_image(ecr, repo, "v1")
    assert "lastRecordedPullTime" not in ecr.describe_images(repositoryName=repo)["imageDetails"][0]
    before = _now() - datetime.timedelta(seconds=2)
    r = v2.request("GET", f"/v2/{repo}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200 and r.content == image.manifest
    deadline = time.monotonic() + 5
    while True:   # berth may record pulls asynchronously
        detail = ecr.describe_images(repositoryName=repo)["imageDetails"][0]
        if "lastRecordedPullTime" in detail or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "lastRecordedPullTime" in detail, "a pull through /v2 must set lastRecordedPullTime"
    assert before <= detail["lastRecordedPullTime"] <= _now() + datetime.timedelta(seconds=5)
    assert detail["lastRecordedPullTime"] >= detail["imagePushedAt"]


def test_describe_images_push_time_is_stable(ecr, repo):
    image = push_image(ecr, repo, "v1")
    pushed = ecr.describe_images(repositoryName=repo)["imageDetails"][0]["imagePushedAt"]
    time.sleep(1.1)
    put_image(ecr, repo, image, "v2")
    assert ecr.describe_images(repositoryName=repo)["imageDetails"][0]["imagePushedAt"] == pushed


def test_describe_images_by_ids(ecr, repo):
    a = push_image(ecr, repo, "a")
    b = push_image(ecr, repo)
    push_image(ecr, repo, "c")
    details = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "a"}, {"imageDigest": b.digest},
                                                                 {"imageDigest": a.digest, "imageTag": "a"},
                                                                 {"imageDigest": a.digest}])["imageDetails"]
    assert sorted(d["imageDigest"] for d in details) == sorted([a.digest, b.digest]), "duplicates collapse"


def test_describe_images_missing_id_fails_whole_call(ecr, repo):
    push_image(ecr, repo, "a")
    expect_error("ImageNotFoundException", ecr.describe_images, repositoryName=repo,
                 imageIds=[{"imageTag": "a"}, {"imageTag": "nope"}])
    expect_error("ImageNotFoundException", ecr.describe_images, repositoryName=repo,
                 imageIds=[{"imageDigest": ZERO_DIGEST}])


def test_describe_images_tag_and_digest_must_agree(ecr, repo):
    push_image(ecr, repo, "a")
    b = push_image(ecr, repo, "b")
    expect_error("ImageNotFoundException", ecr.describe_images, repositoryName=repo,
                 imageIds=[{"imageTag": "a", "imageDigest": b.digest}])


def test_describe_images_rejects_ids_with_pagination(ecr, repo):
    push_image(ecr, repo, "a")
    expect_error("InvalidParameterException", ecr.describe_images, repositoryName=repo,
                 imageIds=[{"imageTag": "a"}], maxResults=5)


def test_describe_images_filter_tag_status(ecr, repo):
    tagged = push_image(ecr, repo, "a")
    untagged = push_image(ecr, repo)
    digests = lambda s: [d["imageDigest"] for d in
                         ecr.describe_images(repositoryName=repo, filter={"tagStatus": s})["imageDetails"]]
    assert digests("TAGGED") == [tagged.digest]
    assert digests("UNTAGGED") == [untagged.digest]
    assert sorted(digests("ANY")) == sorted([tagged.digest, untagged.digest])


def test_describe_images_paginates_without_duplicates_or_gaps(ecr, repo):
    expected = set()
    for i in range(7):
        image = push_image(ecr, repo, f"t{i}" if i % 2 else None)
        expected.add(image.digest)
    put_image(ecr, repo, image, "second-tag")   # two tags, still one detail
    seen, token, pages = [], None, 0
    while True:
        page = ecr.describe_images(repositoryName=repo, maxResults=2, **({"nextToken": token} if token else {}))
        pages += 1
        assert len(page["imageDetails"]) <= 2
        seen += [d["imageDigest"] for d in page["imageDetails"]]
        token = page.get("nextToken")
        if not token:
            break
        assert pages < 100
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == expected


@pytest.mark.parametrize("max_results", [0, 1001])
def test_describe_images_rejects_max_results_out_of_range(ecr_unvalidated, repo, max_results):
    expect_error("InvalidParameterException", ecr_unvalidated.describe_images, repositoryName=repo,
                 maxResults=max_results)


def test_describe_images_rejects_foreign_or_tampered_next_token(ecr, repo):
    for i in range(3):
        push_image(ecr, repo, f"t{i}")
    token = ecr.list_images(repositoryName=repo, maxResults=1)["nextToken"]
    expect_error("InvalidParameterException", ecr.describe_images, repositoryName=repo, nextToken=token)
    token = ecr.describe_images(repositoryName=repo, maxResults=1)["nextToken"]
    for bad in tampered_tokens(token):
        expect_error("InvalidParameterException", ecr.describe_images, repositoryName=repo, nextToken=bad)


def test_describe_images_missing_repository(ecr):
    expect_error("RepositoryNotFoundException", ecr.describe_images, repositoryName=f"api/missing-{unique()}")


# ---------------------------------------------------------------------------------------------
# BatchGetImage

def test_batch_get_image_by_tag_and_by_digest(ecr, repo):
    a = push_image(ecr, repo, "a")
    b = push_image(ecr, repo, kind="docker")
    r = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "a"}, {"imageDigest": b.digest}])
    assert r["failures"] == []
    by_digest = {i["imageId"]["imageDigest"]: i for i in r["images"]}
    assert by_digest[a.digest]["imageId"] == {"imageDigest": a.digest, "imageTag": "a"}
    assert by_digest[a.digest]["imageManifest"].encode() == a.manifest
    assert by_digest[a.digest]["imageManifestMediaType"] == OCI_MANIFEST
    assert by_digest[b.digest]["imageId"] == {"imageDigest": b.digest}
    assert by_digest[b.digest]["imageManifest"].encode() == b.manifest
    assert by_digest[b.digest]["imageManifestMediaType"] == DOCKER_MANIFEST
    assert all(i["registryId"] == ACCOUNT_ID and i["repositoryName"] == repo for i in r["images"])


def test_batch_get_image_reports_failures_per_id(ecr, repo):
    a = push_image(ecr, repo, "a")
    b = push_image(ecr, repo, "b")
    r = ecr.batch_get_image(repositoryName=repo, imageIds=[
        {"imageTag": "a"},
        {"imageTag": "missing"},
        {"imageDigest": ZERO_DIGEST},
        {"imageDigest": "not-a-digest"},
        {},
        {"imageTag": "a", "imageDigest": b.digest},
    ])
    assert [i["imageId"]["imageDigest"] for i in r["images"]] == [a.digest]
    codes = {json.dumps(f["imageId"], sort_keys=True): f["failureCode"] for f in r["failures"]}
    assert codes == {
        json.dumps({"imageTag": "missing"}): "ImageNotFound",
        json.dumps({"imageDigest": ZERO_DIGEST}): "ImageNotFound",
        json.dumps({"imageDigest": "not-a-digest"}): "InvalidImageDigest",
        json.dumps({}): "MissingDigestAndTag",
        json.dumps({"imageDigest": b.digest, "imageTag": "a"}, sort_keys=True): "ImageTagDoesNotMatchDigest",
    }
    assert all(f.get("failureReason") for f in r["failures"])


def test_batch_get_image_accepted_media_types(ecr, repo):
    image = push_image(ecr, repo, "a")
    ok = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "a"}],
                             acceptedMediaTypes=[DOCKER_MANIFEST, OCI_MANIFEST])
    assert [i["imageManifest"].encode() for i in ok["images"]] == [image.manifest] and ok["failures"] == []
    refused = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "a"}],
                                  acceptedMediaTypes=[DOCKER_MANIFEST])
    assert refused["images"] == [], "an OCI manifest must not be returned to a Docker-only client"
    assert len(refused["failures"]) == 1
    assert refused["failures"][0]["imageId"] == {"imageTag": "a"}
    assert refused["failures"][0]["failureReason"]


def test_batch_get_image_missing_repository(ecr):
    expect_error("RepositoryNotFoundException", ecr.batch_get_image, repositoryName=f"api/missing-{unique()}",
                 imageIds=[{"imageTag": "a"}])


# ---------------------------------------------------------------------------------------------
# BatchDeleteImage

def test_batch_delete_image_by_tag_keeps_other_tags(ecr, repo):
    image = push_image(ecr, repo, "a")
    put_image(ecr, repo, image, "b")
    r = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "a"}])
    assert r["imageIds"] == [{"imageDigest": image.digest, "imageTag": "a"}] and r["failures"] == []
    assert ecr.list_images(repositoryName=repo)["imageIds"] == [{"imageDigest": image.digest, "imageTag": "b"}]


def test_batch_delete_image_last_tag_deletes_image(ecr, repo):
    image = push_image(ecr, repo, "only")
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "only"}])
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []
    expect_error("ImageNotFoundException", ecr.describe_images, repositoryName=repo,
                 imageIds=[{"imageDigest": image.digest}])


def test_batch_delete_image_by_digest_removes_all_tags(ecr, repo):
    image = push_image(ecr, repo, "a")
    put_image(ecr, repo, image, "b")
    keep = push_image(ecr, repo, "c")
    r = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": image.digest}])
    assert r["failures"] == []
    assert _ids(r["imageIds"]) == {(image.digest, "a"), (image.digest, "b")}
    assert ecr.list_images(repositoryName=repo)["imageIds"] == [{"imageDigest": keep.digest, "imageTag": "c"}]


def test_batch_delete_image_untagged_by_digest(ecr, repo):
    image = push_image(ecr, repo)
    r = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": image.digest}])
    assert r["imageIds"] == [{"imageDigest": image.digest}] and r["failures"] == []
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []


def test_batch_delete_image_reports_failures_per_id(ecr, repo):
    a = push_image(ecr, repo, "a")
    b = push_image(ecr, repo, "b")
    r = ecr.batch_delete_image(repositoryName=repo, imageIds=[
        {"imageTag": "missing"},
        {"imageDigest": ZERO_DIGEST},
        {"imageDigest": "nope"},
        {},
        {"imageTag": "a", "imageDigest": b.digest},
    ])
    assert r["imageIds"] == []
    codes = sorted(f["failureCode"] for f in r["failures"])
    assert codes == sorted(["ImageNotFound", "ImageNotFound", "InvalidImageDigest", "MissingDigestAndTag",
                            "ImageTagDoesNotMatchDigest"])
    assert _ids(ecr.list_images(repositoryName=repo)["imageIds"]) == {(a.digest, "a"), (b.digest, "b")}


def test_batch_delete_image_mixed_success_and_failure(ecr, repo):
    a = push_image(ecr, repo, "a")
    r = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "a"}, {"imageTag": "gone"}])
    assert r["imageIds"] == [{"imageDigest": a.digest, "imageTag": "a"}]
    assert [(f["imageId"], f["failureCode"]) for f in r["failures"]] == [({"imageTag": "gone"}, "ImageNotFound")]


def test_batch_delete_image_child_of_index(ecr, repo):
    child = push_image(ecr, repo)
    index = make_index([child])
    put_image(ecr, repo, index, "multi")
    r = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": child.digest}])
    assert r["imageIds"] == []
    assert [f["failureCode"] for f in r["failures"]] == ["ImageReferencedByManifestList"]
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "multi"}])
    r = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": child.digest}])
    assert r["imageIds"] == [{"imageDigest": child.digest}]


def test_batch_delete_image_missing_repository(ecr):
    expect_error("RepositoryNotFoundException", ecr.batch_delete_image,
                 repositoryName=f"api/missing-{unique()}", imageIds=[{"imageTag": "a"}])


# ---------------------------------------------------------------------------------------------
# One truth: /v2 and the ECR API see the same images

def test_describe_images_shows_image_pushed_with_skopeo(ecr, repo_factory, berth, registry_pw, tmp_path):
    repo, other_repo = repo_factory(), repo_factory()
    image = make_image(layers=2)
    source = write_oci_layout(tmp_path / "layout", image, "v1")
    digest_file = tmp_path / "digest"
    run_tool(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"AWS:{registry_pw}",
              "--digestfile", str(digest_file), source, f"docker://{berth.host}/{repo}:v1"])
    assert digest_file.read_text().strip() == image.digest, "skopeo kept the manifest as it was"
    detail = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "v1"}])["imageDetails"][0]
    assert detail["imageDigest"] == image.digest
    assert detail["imageTags"] == ["v1"]
    assert detail["imageManifestMediaType"] == OCI_MANIFEST
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])["images"][0]
    assert got["imageManifest"].encode() == image.manifest
    layers = ecr.batch_check_layer_availability(repositoryName=repo, layerDigests=image.layer_digests)["layers"]
    assert {(l["layerDigest"], l["layerAvailability"], l["layerSize"]) for l in layers} == {
        (sha256(b), "AVAILABLE", len(b)) for b in image.layers}
    # The same content pushed through the ECR API gets the same size.
    push_image(ecr, other_repo, "v1", image)
    twin = ecr.describe_images(repositoryName=other_repo)["imageDetails"][0]
    assert (twin["imageDigest"], twin["imageSizeInBytes"]) == (image.digest, detail["imageSizeInBytes"])


@pytest.mark.parametrize("kind", ["oci", "docker"])
def test_put_image_pulls_with_skopeo(ecr, repo, berth, registry_pw, tmp_path, kind):
    image = push_image(ecr, repo, "v1", kind=kind, layers=2)
    dest = tmp_path / "pulled"
    # The dir: transport stores the manifest and blobs exactly as fetched.
    run_tool(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--src-creds", f"AWS:{registry_pw}",
              f"docker://{berth.host}/{repo}:v1", f"dir:{dest}"])
    body = (dest / "manifest.json").read_bytes()
    assert sha256(body) == image.digest
    assert body == image.manifest
    for blob in image.blobs:
        assert (dest / sha256(blob).split(":")[1]).read_bytes() == blob
    inspect = json.loads(run_tool(["skopeo", "inspect", "--tls-verify=false", "--creds", f"AWS:{registry_pw}",
                                   f"docker://{berth.host}/{repo}:v1"]).stdout)
    assert inspect["Digest"] == image.digest


def test_list_images_matches_v2_tag_list(ecr, repo, v2):
    image = push_image(ecr, repo, "b")
    put_image(ecr, repo, image, "a")
    push_image(ecr, repo)
    ecr_tags = sorted(i["imageTag"] for i in ecr.list_images(repositoryName=repo)["imageIds"] if "imageTag" in i)
    assert v2.request("GET", f"/v2/{repo}/tags/list").json() == {"name": repo, "tags": ecr_tags}


def test_put_image_tag_mutability_applies_to_v2_push(ecr, repo_factory, v2):
    repo = repo_factory(imageTagMutability="IMMUTABLE")
    old = push_image(ecr, repo, "v1")
    new = make_image()
    push_blobs(ecr, repo, new)
    r = v2.request("PUT", f"/v2/{repo}/manifests/v1", data=new.manifest, headers={"Content-Type": new.media_type})
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json()["errors"][0]["code"] == "TAG_INVALID"
    assert ecr.list_images(repositoryName=repo)["imageIds"] == [{"imageDigest": old.digest, "imageTag": "v1"}]


def test_batch_delete_image_is_seen_by_v2(ecr, repo, v2):
    image = push_image(ecr, repo, "v1")
    assert v2.request("HEAD", f"/v2/{repo}/manifests/v1", headers={"Accept": image.media_type}).status_code == 200
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": image.digest}])
    r = v2.request("GET", f"/v2/{repo}/manifests/{image.digest}", headers={"Accept": image.media_type})
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert v2.request("GET", f"/v2/{repo}/tags/list").json().get("tags") in ([], None)


def test_list_images_sees_v2_manifest_delete(ecr, repo, v2):
    image = push_image(ecr, repo, "v1")
    keep = push_image(ecr, repo, "v2")
    assert v2.request("DELETE", f"/v2/{repo}/manifests/{image.digest}").status_code == 202
    assert ecr.list_images(repositoryName=repo)["imageIds"] == [{"imageDigest": keep.digest, "imageTag": "v2"}]


def test_delete_repository_is_seen_by_v2(ecr, repo_name, v2):
    ecr.create_repository(repositoryName=repo_name)
    push_image(ecr, repo_name, "v1")
    assert repo_name in v2.request("GET", "/v2/_catalog?n=10000").json()["repositories"]
    ecr.delete_repository(repositoryName=repo_name, force=True)
    r = v2.request("GET", f"/v2/{repo_name}/tags/list")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    assert repo_name not in v2.request("GET", "/v2/_catalog?n=10000").json()["repositories"]


@pytest.mark.parametrize("operation", ["batch_get_image", "batch_delete_image", "describe_images"])
def test_batch_get_image_rejects_more_than_100_ids(ecr, repo, operation):
    image = push_image(ecr, repo, "v1")
    ids = [{"imageTag": f"t{i}"} for i in range(101)]
    expect_error("InvalidParameterException", getattr(ecr, operation), repositoryName=repo, imageIds=ids)
    assert ecr.list_images(repositoryName=repo)["imageIds"] == [{"imageDigest": image.digest, "imageTag": "v1"}]


def test_put_image_with_own_registry_id(ecr, repo):
    image = make_image()
    push_blobs(ecr, repo, image)
    r = ecr.put_image(registryId=ACCOUNT_ID, repositoryName=repo, imageManifest=image.manifest.decode(),
                      imageManifestMediaType=image.media_type, imageTag="v1")
    assert r["image"]["registryId"] == ACCOUNT_ID
    ids = ecr.list_images(registryId=ACCOUNT_ID, repositoryName=repo)["imageIds"]
    assert ids == [{"imageDigest": image.digest, "imageTag": "v1"}]
