"""The flows helm and oras perform, at the protocol level: Debian 12 packages neither client, so
the README claims only what is tested here.

- A Helm chart (what ``helm push`` / ``helm pull`` do with an ``oci://`` registry): an OCI image
  manifest whose config is ``application/vnd.cncf.helm.config.v1+json`` (the chart's metadata as
  JSON) and whose one layer is the chart archive, ``application/vnd.cncf.helm.chart.content.v1.tar+gzip``,
  tagged with the chart version. Pushed once with skopeo from an OCI layout and once with raw
  HTTP in helm's order (HEAD each blob, POST + PUT the missing ones, PUT the manifest), then
  listed and pulled back byte for byte.
- An artifact with a custom ``artifactType`` (what ``oras push --artifact-type`` does: the empty
  config ``{}`` and custom layer types) and one attached to it with ``subject`` (``oras attach``),
  found through the referrers API with and without an ``artifactType`` filter, then pulled
  (``oras pull``) byte for byte.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from content import (ACCEPT_MANIFESTS, EMPTY_JSON, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, OCTET, Blob, Manifest,
                     canonical_json, describe, get_manifest, media_type_of, sha256, unique, with_query)
import harness
from harness import run_tool

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
SBOM_TYPE = "application/vnd.example.sbom.v1+json"
SIGNATURE_TYPE = "application/vnd.example.signature.v1"
TITLE = "org.opencontainers.image.title"


def helm_chart(name: str, version: str) -> Manifest:
    """A chart as ``helm package`` makes it and ``helm push`` uploads it."""
    chart_yaml = (f"apiVersion: v2\nname: {name}\nversion: {version}\ndescription: a test chart\n"
                  "type: application\nappVersion: \"1.0\"\n").encode()
    files = {f"{name}/Chart.yaml": chart_yaml,
             f"{name}/values.yaml": b"replicaCount: 1\n",
             f"{name}/templates/configmap.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\n"}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    archive = gzip.compress(raw.getvalue(), mtime=0)
    config = Blob(canonical_json({"name": name, "version": version, "description": "a test chart",
                                  "apiVersion": "v2", "appVersion": "1.0", "type": "application"}), HELM_CONFIG)
    layer = Blob(archive, HELM_CHART)
    doc = {"schemaVersion": 2, "config": config.descriptor(), "layers": [layer.descriptor()],
           "annotations": {"org.opencontainers.image.title": name,
                           "org.opencontainers.image.version": version}}
    return Manifest(canonical_json(doc), OCI_MANIFEST, blobs=[config, layer])


def oras_artifact(artifact_type: str, files: dict[str, bytes], layer_type: str,
                  subject: Manifest | None = None) -> Manifest:
    """What ``oras push --artifact-type T file:layer_type ...`` (or ``oras attach``) uploads."""
    config = Blob(EMPTY_JSON, OCI_EMPTY)
    layers = [Blob(data, layer_type) for data in files.values()]
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
           "config": config.descriptor(),
           "layers": [b.descriptor(annotations={TITLE: name}) for b, name in zip(layers, files)]}
    if subject is not None:
        doc["subject"] = subject.descriptor()
    doc["annotations"] = {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}
    return Manifest(canonical_json(doc), OCI_MANIFEST, blobs=[config, *layers])


@pytest.fixture
def created_repo(registry, repo_factory):
    """``make(suffix)``: a fresh repository name, created through the ECR API on berth (helm and
    oras push into repositories that exist, as on ECR)."""
    def make(suffix: str) -> str:
        name = repo_factory(suffix)
        if harness.TARGET == "berth":
            from ecr_helpers import ecr_client
            ecr_client(registry).create_repository(repositoryName=name)
        return name
    return make


def push_like_a_client(reg, repo: str, manifest: Manifest, ref: str) -> str:
    """helm's and oras's order: HEAD every blob, upload only the missing ones (POST, then PUT
    with the digest and the bytes), then PUT the manifest. Returns the digest the registry gave."""
    for blob in manifest.blobs:
        head = reg.head(f"/v2/{repo}/blobs/{blob.digest}")
        if head.status_code == 200:
            continue
        assert head.status_code == 404, describe(head)
        r = reg.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, describe(r)
        r = reg.put(with_query(reg.abs_url(r.headers["Location"]), digest=blob.digest), data=blob.data,
                    headers={"Content-Type": OCTET})
        assert r.status_code == 201, describe(r)
    r = reg.put(f"/v2/{repo}/manifests/{ref}", data=manifest.body, headers={"Content-Type": manifest.media_type})
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Docker-Content-Digest") == manifest.digest, describe(r)
    return manifest.digest


def pull_like_a_client(reg, repo: str, ref: str, expected: Manifest) -> None:
    """``helm pull`` / ``oras pull``: the manifest by reference, then every blob, all byte for byte."""
    head = reg.head(f"/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT_MANIFESTS})
    assert head.status_code == 200 and head.headers.get("Docker-Content-Digest") == expected.digest, describe(head)
    r = get_manifest(reg, repo, ref)
    assert r.status_code == 200 and r.content == expected.body, describe(r)
    assert media_type_of(r) == OCI_MANIFEST, describe(r)
    for blob in expected.blobs:
        b = reg.get(f"/v2/{repo}/blobs/{blob.digest}")
        assert b.status_code == 200 and b.content == blob.data, f"{blob.media_type}: {describe(b)}"


def tags(reg, repo: str) -> list[str]:
    r = reg.get(f"/v2/{repo}/tags/list")
    assert r.status_code == 200, describe(r)
    return r.json()["tags"] or []


def write_oci_layout(layout: Path, manifest: Manifest, ref: str) -> None:
    """An OCI image layout holding ``manifest`` under ``ref``, as skopeo reads it."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for data in [manifest.body, *(b.data for b in manifest.blobs)]:
        (blobs / sha256(data).split(":")[1]).write_bytes(data)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
             "manifests": [manifest.descriptor(annotations={"org.opencontainers.image.ref.name": ref})]}
    (layout / "index.json").write_text(json.dumps(index))


# ---------------------------------------------------------------------------------------------
# Helm

def test_helm_chart_push_list_pull(registry, created_repo):
    repo = created_repo("charts/berth-demo")
    chart = helm_chart("berth-demo", "0.1.0")
    push_like_a_client(registry, repo, chart, "0.1.0")
    newer = helm_chart("berth-demo", "0.2.0")
    push_like_a_client(registry, repo, newer, "0.2.0")
    assert sorted(tags(registry, repo)) == ["0.1.0", "0.2.0"]
    pull_like_a_client(registry, repo, "0.1.0", chart)
    pull_like_a_client(registry, repo, newer.digest, newer)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(chart.blobs[1].data))) as tar:
        assert b"version: 0.1.0" in tar.extractfile("berth-demo/Chart.yaml").read()


def test_helm_chart_copied_by_skopeo_from_an_oci_layout(registry, created_repo, tmp_path):
    repo = created_repo("charts/copied")
    chart = helm_chart("copied", "1.2.3")
    source = tmp_path / "chart-layout"
    write_oci_layout(source, chart, "1.2.3")
    run_tool(["skopeo", "copy", "--retry-times", "0", *registry.skopeo_dest_args(), f"oci:{source}:1.2.3",
              f"docker://{registry.host}/{repo}:1.2.3"])
    assert tags(registry, repo) == ["1.2.3"]
    pull_like_a_client(registry, repo, "1.2.3", chart)   # skopeo sent the chart unchanged
    back = tmp_path / "back"
    run_tool(["skopeo", "copy", "--retry-times", "0", *registry.skopeo_src_args(),
              f"docker://{registry.host}/{repo}:1.2.3", f"oci:{back}:1.2.3"])
    index = json.loads((back / "index.json").read_text())
    assert [d["digest"] for d in index["manifests"]] == [chart.digest]
    for blob in chart.blobs:
        assert (back / "blobs" / "sha256" / blob.digest.split(":")[1]).read_bytes() == blob.data


# ---------------------------------------------------------------------------------------------
# oras

@pytest.fixture
def artifact_repo(created_repo):
    return created_repo("artifacts")


def test_oras_artifact_with_custom_type_push_list_pull(registry, artifact_repo):
    files = {"sbom.spdx.json": json.dumps({"spdxVersion": "SPDX-2.3", "name": unique()}).encode(),
             "notes.txt": b"built by the berth tests\n"}
    artifact = oras_artifact(SBOM_TYPE, files, "application/vnd.example.file.v1")
    push_like_a_client(registry, artifact_repo, artifact, "sbom-v1")
    assert tags(registry, artifact_repo) == ["sbom-v1"]
    pull_like_a_client(registry, artifact_repo, "sbom-v1", artifact)
    got = json.loads(get_manifest(registry, artifact_repo, "sbom-v1").content)
    assert got["artifactType"] == SBOM_TYPE
    assert [l["annotations"][TITLE] for l in got["layers"]] == list(files)


def test_oras_attach_and_discover_through_referrers(registry, artifact_repo):
    subject = oras_artifact(SBOM_TYPE, {"subject.json": b'{"k":"v"}'}, "application/vnd.example.file.v1")
    push_like_a_client(registry, artifact_repo, subject, "v1")
    signature = oras_artifact(SIGNATURE_TYPE, {"sig": b"signed " + unique().encode()},
                              "application/vnd.example.sig.v1", subject=subject)
    sbom = oras_artifact(SBOM_TYPE, {"sbom.json": b'{"packages":[]}'}, "application/vnd.example.file.v1",
                         subject=subject)
    for attached in (signature, sbom):    # oras attach pushes by digest: no tag
        push_like_a_client(registry, artifact_repo, attached, attached.digest)
    assert tags(registry, artifact_repo) == ["v1"]

    r = registry.get(f"/v2/{artifact_repo}/referrers/{subject.digest}")
    assert r.status_code == 200 and media_type_of(r) == OCI_INDEX, describe(r)
    found = {m["digest"]: m for m in r.json()["manifests"]}
    assert set(found) == {signature.digest, sbom.digest}
    assert found[signature.digest]["artifactType"] == SIGNATURE_TYPE
    assert found[sbom.digest]["artifactType"] == SBOM_TYPE
    assert found[sbom.digest]["size"] == sbom.size and found[sbom.digest]["mediaType"] == OCI_MANIFEST

    r = registry.get(f"/v2/{artifact_repo}/referrers/{subject.digest}", params={"artifactType": SIGNATURE_TYPE})
    assert r.status_code == 200, describe(r)
    assert [m["digest"] for m in r.json()["manifests"]] == [signature.digest]

    for attached in (signature, sbom):    # oras pull of what discover found
        pull_like_a_client(registry, artifact_repo, attached.digest, attached)
