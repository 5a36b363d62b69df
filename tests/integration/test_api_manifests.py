"""Manifests over raw HTTP: every manifest kind by tag and digest, validation, deletion."""

import base64
import json
import os
import re

import pytest

from content import (ACCEPT_MANIFESTS, DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED, OCI_EMPTY, OCI_MANIFEST, Manifest,
                     assert_error, canonical_json, describe, get_manifest, make_artifact, make_image, make_index,
                     media_type_of, push_blob, push_image, push_manifest, raw_request, reshape, sha256, sha512)
from harness import distribution_gap

KINDS = {
    "oci-image": lambda: make_image(layers=2),
    "oci-image-without-mediatype-field": lambda: make_image(with_media_type_field=False),
    "oci-index": lambda: make_index([make_image(arch="amd64"), make_image(arch="arm64")]),
    "docker-schema2": lambda: make_image(docker=True, layers=2),
    "docker-manifest-list": lambda: make_index([make_image(docker=True, arch="amd64"),
                                                make_image(docker=True, arch="arm64")], docker=True),
    "artifact-with-artifact-type": lambda: make_artifact(artifact_type="application/vnd.example.sbom.v1"),
    "artifact-custom-config-type": lambda: make_artifact(config_media_type="application/vnd.example.config.v1+json",
                                                         config_data=b'{"tool":"berth-test"}'),
    "artifact-index-with-artifact-type": lambda: make_index([make_image()],
                                                            artifact_type="application/vnd.example.bundle.v1"),
    "artifact-without-layers": lambda: reshape(make_artifact(artifact_type="application/vnd.example.empty.v1"),
                                               edit=lambda d: d.update(layers=[])),
    "descriptor-with-data-field": lambda: _with_data_field(make_image()),
    "unknown-fields": lambda: reshape(make_image(), edit=_add_unknown_fields),
    "nested-index": lambda: make_index([make_index([make_image(arch="amd64"), make_image(arch="arm64")]),
                                        make_image(arch="s390x")]),
    "pretty-printed": lambda: reshape(make_image(), indent=3, trailing=b"\n"),
}


def _with_data_field(manifest):
    config = manifest.blobs[0]
    return reshape(manifest, edit=lambda d: d["config"].update(data=base64.b64encode(config.data).decode()))


def _add_unknown_fields(doc):
    doc["org.example.unknown"] = {"nested": [1, 2, 3]}
    doc["layers"][0]["org.example.unknown"] = "kept"


@pytest.fixture(params=sorted(KINDS))
def kind(request):
    return request.param, KINDS[request.param]()


def assert_manifest_response(r, manifest: Manifest, with_body=True):
    assert r.status_code == 200, describe(r)
    assert media_type_of(r) == manifest.media_type, describe(r)
    assert r.headers.get("Docker-Content-Digest") == manifest.digest, describe(r)
    assert r.headers.get("Content-Length") == str(manifest.size), describe(r)
    if with_body:
        assert r.content == manifest.body, "manifest bytes differ from what was pushed"
    else:
        assert r.content == b""


def test_manifest_put_by_tag_then_get_by_tag_and_digest(registry, repo, kind):
    _, manifest = kind
    r = push_image(registry, repo, manifest, ref="v1")
    assert r.headers.get("Docker-Content-Digest") == manifest.digest, describe(r)
    assert r.headers.get("Location"), describe(r)
    assert_manifest_response(get_manifest(registry, repo, "v1"), manifest)
    assert_manifest_response(get_manifest(registry, repo, manifest.digest), manifest)
    assert_manifest_response(registry.get(r.headers["Location"], headers={"Accept": ACCEPT_MANIFESTS}), manifest)


def test_manifest_head_by_tag_and_digest(registry, repo, kind):
    _, manifest = kind
    push_image(registry, repo, manifest, ref="v1")
    for ref in ("v1", manifest.digest):
        r = registry.head(f"/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT_MANIFESTS})
        assert_manifest_response(r, manifest, with_body=False)


def test_manifest_put_by_digest_then_get(registry, repo, kind):
    _, manifest = kind
    r = push_image(registry, repo, manifest)  # reference is the digest
    assert r.headers.get("Docker-Content-Digest") == manifest.digest, describe(r)
    assert_manifest_response(get_manifest(registry, repo, manifest.digest), manifest)


def test_manifest_deleted_then_pushed_again(registry, repo):
    manifest = make_image()
    push_image(registry, repo, manifest, ref="again")
    assert registry.delete(f"/v2/{repo}/manifests/{manifest.digest}").status_code == 202
    assert get_manifest(registry, repo, "again").status_code == 404
    push_manifest(registry, repo, "again", manifest)
    assert_manifest_response(get_manifest(registry, repo, "again"), manifest)
    assert registry.get(f"/v2/{repo}/tags/list").json()["tags"] == ["again"]


def test_manifest_tags_are_case_sensitive(registry, repo):
    upper, lower = make_image(), make_image()
    push_image(registry, repo, upper, ref="V1")
    push_image(registry, repo, lower, ref="v1")
    assert_manifest_response(get_manifest(registry, repo, "V1"), upper)
    assert_manifest_response(get_manifest(registry, repo, "v1"), lower)


@distribution_gap("a manifest PUT to a sha512 digest answers DIGEST_INVALID (it only computes sha256)")
def test_manifest_put_by_sha512_digest(registry, repo):
    manifest = make_image()
    for blob in manifest.blobs:
        push_blob(registry, repo, blob.data)
    digest = sha512(manifest.body)
    r = push_manifest(registry, repo, digest, manifest)
    assert r.headers.get("Docker-Content-Digest") == digest, "the spec requires the client-provided digest back"
    got = get_manifest(registry, repo, digest)
    assert got.status_code == 200 and got.content == manifest.body, describe(got)


@distribution_gap("without an Accept header it refuses OCI manifests ('accept header does not support OCI "
                  "manifests'); berth serves what was stored")
def test_manifest_get_by_digest_without_accept_returns_stored_bytes(registry, repo):
    manifest = make_image()
    push_image(registry, repo, manifest, ref="v1")
    r = registry.get(f"/v2/{repo}/manifests/{manifest.digest}")
    assert_manifest_response(r, manifest)


def test_manifest_content_type_parameters_are_ignored(registry, repo):
    manifest = make_image()
    for blob in manifest.blobs:
        push_blob(registry, repo, blob.data)
    r = registry.put(f"/v2/{repo}/manifests/v1", data=manifest.body,
                     headers={"Content-Type": f"{OCI_MANIFEST}; charset=utf-8"})
    assert r.status_code == 201, describe(r)
    got = get_manifest(registry, repo, "v1")
    assert got.headers.get("Content-Type") == OCI_MANIFEST, describe(got)
    assert got.content == manifest.body


def test_manifest_tag_overwrite_moves_tag(registry, repo):
    first, second = make_image(), make_image()
    push_image(registry, repo, first, ref="moving")
    push_image(registry, repo, second, ref="moving")
    assert_manifest_response(get_manifest(registry, repo, "moving"), second)
    assert_manifest_response(get_manifest(registry, repo, first.digest), first)
    assert registry.get(f"/v2/{repo}/tags/list").json()["tags"] == ["moving"]


def test_manifest_one_digest_under_two_tags(registry, repo):
    manifest = make_image()
    push_image(registry, repo, manifest, ref="a")
    push_manifest(registry, repo, "b", manifest)
    for ref in ("a", "b"):
        assert_manifest_response(get_manifest(registry, repo, ref), manifest)


def test_manifest_longest_valid_tag_is_accepted(registry, repo):
    manifest = make_image()
    tag = "T" + "a1._-" * 25 + "xy"
    assert len(tag) == 128
    push_image(registry, repo, manifest, ref=tag)
    assert_manifest_response(get_manifest(registry, repo, tag), manifest)


@pytest.mark.parametrize("tag", ["a" * 129, "-leading-dash", ".leading-dot"])
def test_manifest_invalid_tag_is_refused(registry, repo, tag):
    manifest = make_image()
    for blob in manifest.blobs:
        push_blob(registry, repo, blob.data)
    r = push_manifest(registry, repo, tag, manifest, expect=None)
    assert r.status_code in (400, 404), describe(r)
    assert get_manifest(registry, repo, manifest.digest).status_code == 404


def test_manifest_nested_repository_name(registry, repo_factory):
    repo = repo_factory("team/app/api")
    manifest = make_image()
    push_image(registry, repo, manifest, ref="v1")
    assert_manifest_response(get_manifest(registry, repo, "v1"), manifest)


def test_manifest_missing_layer_returns_400_manifest_blob_unknown(registry, repo):
    manifest = make_image(layers=2)
    for blob in manifest.blobs[:-1]:
        push_blob(registry, repo, blob.data)
    r = push_manifest(registry, repo, "v1", manifest, expect=None)
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
    assert get_manifest(registry, repo, "v1").status_code == 404


def test_manifest_missing_config_returns_400_manifest_blob_unknown(registry, repo):
    manifest = make_image()
    for blob in manifest.blobs[1:]:
        push_blob(registry, repo, blob.data)
    assert_error(push_manifest(registry, repo, "v1", manifest, expect=None), 400, "MANIFEST_BLOB_UNKNOWN")


def test_manifest_blobs_in_another_repository_only_are_unknown(registry, repo_factory):
    owner, other = repo_factory("owner"), repo_factory("other")
    manifest = make_image()
    for blob in manifest.blobs:
        push_blob(registry, owner, blob.data)
    assert_error(push_manifest(registry, other, "v1", manifest, expect=None), 400, "MANIFEST_BLOB_UNKNOWN")


def test_manifest_referencing_a_deleted_blob_returns_400_manifest_blob_unknown(registry, repo):
    manifest = make_image()
    for blob in manifest.blobs:
        push_blob(registry, repo, blob.data)
    layer = manifest.blobs[-1]
    assert registry.delete(f"/v2/{repo}/blobs/{layer.digest}").status_code == 202
    assert_error(push_manifest(registry, repo, "v1", manifest, expect=None), 400, "MANIFEST_BLOB_UNKNOWN")


@distribution_gap("answers 500 UNKNOWN when a manifest reference names a plain blob")
def test_manifest_endpoint_does_not_serve_plain_blobs(registry, repo):
    manifest = make_image()
    push_image(registry, repo, manifest, ref="v1")
    config = manifest.blobs[0]
    assert_error(get_manifest(registry, repo, config.digest), 404, "MANIFEST_UNKNOWN")
    head = registry.head(f"/v2/{repo}/manifests/{config.digest}", headers={"Accept": ACCEPT_MANIFESTS})
    assert head.status_code == 404, describe(head)


def test_manifest_index_with_missing_child_returns_400_manifest_blob_unknown(registry, repo):
    present, missing = make_image(arch="amd64"), make_image(arch="arm64")
    push_image(registry, repo, present)
    index = make_index([present, missing])
    # The spec names MANIFEST_BLOB_UNKNOWN for any descriptor (blob or manifest) that is unknown.
    assert_error(push_manifest(registry, repo, "multi", index, expect=None), 400, "MANIFEST_BLOB_UNKNOWN")
    assert get_manifest(registry, repo, "multi").status_code == 404


def test_manifest_with_subject_to_missing_manifest_is_accepted(registry, repo):
    absent_subject = make_image()  # never pushed
    artifact = make_artifact(artifact_type="application/vnd.example.signature.v1", subject=absent_subject)
    push_image(registry, repo, artifact)
    assert_manifest_response(get_manifest(registry, repo, artifact.digest), artifact)


def test_manifest_invalid_json_returns_400_manifest_invalid(registry, repo):
    r = registry.put(f"/v2/{repo}/manifests/v1", data=b'{"schemaVersion": 2, "config": ',
                     headers={"Content-Type": OCI_MANIFEST})
    assert_error(r, 400, "MANIFEST_INVALID")


def _broken_manifests():
    config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"{}"), "size": 2}
    return {
        "json-array": b"[1, 2, 3]",
        "schema-version-3": canonical_json({"schemaVersion": 3, "mediaType": OCI_MANIFEST, "config": config_desc,
                                            "layers": []}),
        "no-config": canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}),
        "layers-not-a-list": canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc,
                                             "layers": "nope"}),
        "malformed-config-digest": canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                                   "config": dict(config_desc, digest="sha256:zzz"), "layers": []}),
        "media-type-field-disagrees": canonical_json({"schemaVersion": 2,
                                                      "mediaType": "application/vnd.oci.image.index.v1+json",
                                                      "config": config_desc, "layers": []}),
    }


_BROKEN_GAPS = {
    "malformed-config-digest": "answers 500 UNKNOWN for a malformed descriptor digest",
    "schema-version-3": "answers 500 UNKNOWN for schemaVersion 3",
    "no-config": "treats a missing config as an empty digest: 400 DIGEST_INVALID/MANIFEST_BLOB_UNKNOWN",
}


@pytest.mark.parametrize("case", [pytest.param(c, marks=distribution_gap(_BROKEN_GAPS[c])) if c in _BROKEN_GAPS
                                  else c for c in sorted(_broken_manifests())])
def test_manifest_structurally_invalid_returns_400_manifest_invalid(registry, repo, case):
    push_blob(registry, repo, b"{}")
    r = registry.put(f"/v2/{repo}/manifests/broken", data=_broken_manifests()[case],
                     headers={"Content-Type": OCI_MANIFEST})
    assert_error(r, 400, "MANIFEST_INVALID")
    assert get_manifest(registry, repo, "broken").status_code == 404


@pytest.mark.parametrize("content_type", [DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED])
@distribution_gap("refuses schema 1 with a bare 'manifest invalid' that does not say why")
def test_manifest_docker_schema1_is_refused_with_a_clear_message(registry, repo, content_type):
    layer = os.urandom(64)
    push_blob(registry, repo, layer)
    body = canonical_json({"schemaVersion": 1, "name": repo, "tag": "old", "architecture": "amd64",
                           "fsLayers": [{"blobSum": sha256(layer)}],
                           "history": [{"v1Compatibility": json.dumps({"id": "a" * 64})}]})
    r = registry.put(f"/v2/{repo}/manifests/old", data=body, headers={"Content-Type": content_type})
    err = assert_error(r, 400, "MANIFEST_INVALID", "UNSUPPORTED")
    text = json.dumps(err).lower()
    assert re.search(r"schema ?(version)? ?1|schema1|v1\+", text), f"message does not name schema 1: {text}"
    assert get_manifest(registry, repo, "old").status_code == 404


def _padded_artifact(registry, repo, total_size: int) -> Manifest:
    """An artifact manifest padded with an annotation to exactly ``total_size`` bytes."""
    push_blob(registry, repo, b"{}")
    layer = os.urandom(32)
    push_blob(registry, repo, layer)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.big.v1",
           "config": {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2},
           "layers": [{"mediaType": "application/vnd.example.data.v1", "digest": sha256(layer), "size": 32}],
           "annotations": {"pad": ""}}
    overhead = len(canonical_json(doc))
    doc["annotations"]["pad"] = "x" * (total_size - overhead)
    body = canonical_json(doc)
    assert len(body) == total_size
    return Manifest(body, OCI_MANIFEST)


def test_manifest_of_4_megabytes_is_accepted(registry, repo):
    manifest = _padded_artifact(registry, repo, 4_000_000)
    push_manifest(registry, repo, "big", manifest)
    assert_manifest_response(get_manifest(registry, repo, "big"), manifest)


@distribution_gap("answers 400 MANIFEST_INVALID ('http: request body too large') instead of 413")
def test_manifest_over_4_mebibytes_returns_413(registry, repo):
    manifest = _padded_artifact(registry, repo, 4 * 1024 * 1024 + 4096)
    status, headers, body = raw_request(registry, "PUT", f"/v2/{repo}/manifests/too-big",
                                        {"Content-Type": OCI_MANIFEST}, manifest.body, expect_continue=True)
    assert status == 413, f"status {status}, headers {headers}, body {body[:300]!r}"
    assert get_manifest(registry, repo, "too-big").status_code == 404


@distribution_gap("answers 400 MANIFEST_INVALID ('http: request body too large') instead of 413")
def test_manifest_over_4_mebibytes_with_chunked_encoding_returns_413(registry, repo):
    manifest = _padded_artifact(registry, repo, 4 * 1024 * 1024 + 4096)
    status, headers, body = raw_request(registry, "PUT", f"/v2/{repo}/manifests/too-big-chunked",
                                        {"Content-Type": OCI_MANIFEST}, manifest.body, chunked=True)
    assert status == 413, f"status {status}, headers {headers}, body {body[:300]!r}"
    assert get_manifest(registry, repo, "too-big-chunked").status_code == 404


def test_manifest_put_with_chunked_transfer_encoding(registry, repo):
    manifest = make_image()
    for blob in manifest.blobs:
        push_blob(registry, repo, blob.data)

    def pieces():
        for i in range(0, manifest.size, 100):
            yield manifest.body[i:i + 100]

    r = registry.put(f"/v2/{repo}/manifests/streamed", data=pieces(), headers={"Content-Type": OCI_MANIFEST})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 201, describe(r)
    assert_manifest_response(get_manifest(registry, repo, "streamed"), manifest)


def test_manifest_empty_body_returns_400_manifest_invalid(registry, repo):
    r = registry.put(f"/v2/{repo}/manifests/empty", data=b"", headers={"Content-Type": OCI_MANIFEST})
    assert_error(r, 400, "MANIFEST_INVALID")


def test_manifest_put_by_wrong_digest_returns_400_digest_invalid(registry, repo):
    manifest = make_image()
    for blob in manifest.blobs:
        push_blob(registry, repo, blob.data)
    wrong = sha256(manifest.body + b" ")
    r = push_manifest(registry, repo, wrong, manifest, expect=None)
    assert_error(r, 400, "DIGEST_INVALID")
    assert get_manifest(registry, repo, manifest.digest).status_code == 404
    assert get_manifest(registry, repo, wrong).status_code == 404


@distribution_gap("PUT of a manifest to a malformed digest reference answers 500")
def test_manifest_put_by_malformed_digest_returns_400(registry, repo):
    manifest = make_image()
    for blob in manifest.blobs:
        push_blob(registry, repo, blob.data)
    r = push_manifest(registry, repo, "sha256:baddigeststring", manifest, expect=None)
    assert r.status_code == 400, describe(r)


@distribution_gap("GET of a manifest by a malformed digest answers 500 (it is looked up as a tag path)")
def test_manifest_get_by_malformed_digest_returns_400_or_404(registry, repo):
    push_image(registry, repo, make_image(), ref="v1")
    r = get_manifest(registry, repo, "sha256:baddigeststring")
    assert r.status_code in (400, 404), describe(r)


def test_manifest_get_unknown_tag_returns_404_manifest_unknown(registry, repo):
    push_image(registry, repo, make_image(), ref="v1")
    assert_error(get_manifest(registry, repo, "no-such-tag"), 404, "MANIFEST_UNKNOWN")
    head = registry.head(f"/v2/{repo}/manifests/no-such-tag")
    assert head.status_code == 404 and head.content == b"", describe(head)


def test_manifest_get_unknown_digest_returns_404_manifest_unknown(registry, repo):
    push_image(registry, repo, make_image(), ref="v1")
    assert_error(get_manifest(registry, repo, sha256(os.urandom(16))), 404, "MANIFEST_UNKNOWN")


def test_manifest_get_in_unknown_repository_returns_404(registry, repo):
    assert_error(get_manifest(registry, repo, "latest"), 404, "NAME_UNKNOWN", "MANIFEST_UNKNOWN")


def test_manifest_blob_endpoint_does_not_serve_manifests_as_tags(registry, repo):
    manifest = make_image()
    push_image(registry, repo, manifest, ref="v1")
    # A manifest is addressable by digest; a tag is not a blob reference.
    r = registry.get(f"/v2/{repo}/blobs/v1")
    assert r.status_code in (400, 404), describe(r)


def test_manifest_delete_by_digest_returns_202_and_removes_tags(registry, repo):
    manifest = make_image()
    push_image(registry, repo, manifest, ref="doomed")
    keep = make_image()
    push_image(registry, repo, keep, ref="keep")
    r = registry.delete(f"/v2/{repo}/manifests/{manifest.digest}")
    assert r.status_code == 202, describe(r)
    assert_error(get_manifest(registry, repo, manifest.digest), 404, "MANIFEST_UNKNOWN")
    assert_error(get_manifest(registry, repo, "doomed"), 404, "MANIFEST_UNKNOWN")
    tags = registry.get(f"/v2/{repo}/tags/list").json()["tags"]
    assert tags == ["keep"], tags
    assert_manifest_response(get_manifest(registry, repo, "keep"), keep)


@distribution_gap("tag deletion is not supported; answers 400 DIGEST_INVALID (the spec allows 400 when disabled)")
def test_manifest_delete_tag_returns_202_and_keeps_manifest(registry, repo):
    manifest = make_image()
    push_image(registry, repo, manifest, ref="old")
    push_manifest(registry, repo, "stays", manifest)
    r = registry.delete(f"/v2/{repo}/manifests/old")
    assert r.status_code == 202, describe(r)
    assert_error(get_manifest(registry, repo, "old"), 404, "MANIFEST_UNKNOWN")
    assert_manifest_response(get_manifest(registry, repo, manifest.digest), manifest)
    assert_manifest_response(get_manifest(registry, repo, "stays"), manifest)
    assert registry.get(f"/v2/{repo}/tags/list").json()["tags"] == ["stays"]


def test_manifest_delete_unknown_digest_returns_404_manifest_unknown(registry, repo):
    push_image(registry, repo, make_image(), ref="v1")
    assert_error(registry.delete(f"/v2/{repo}/manifests/{sha256(os.urandom(8))}"), 404, "MANIFEST_UNKNOWN")


@distribution_gap("tag deletion is not supported; answers 400 DIGEST_INVALID")
def test_manifest_delete_unknown_tag_returns_404_manifest_unknown(registry, repo):
    push_image(registry, repo, make_image(), ref="v1")
    assert_error(registry.delete(f"/v2/{repo}/manifests/never-was"), 404, "MANIFEST_UNKNOWN")


def test_manifest_index_child_still_served_after_index_deleted(registry, repo):
    child = make_image()
    index = make_index([child])
    push_image(registry, repo, index, ref="multi")
    assert registry.delete(f"/v2/{repo}/manifests/{index.digest}").status_code == 202
    assert_manifest_response(get_manifest(registry, repo, child.digest), child)
