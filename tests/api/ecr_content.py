"""Real image content made in the test: gzip'd tar layers, image configs, OCI and Docker
manifests and indexes, and the ECR layer-upload + PutImage push that puts them into berth."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from botocore.exceptions import ClientError

from ecr_support import error_code, unique

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

MIB = 1024 * 1024


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def make_layer(files: Optional[dict[str, bytes]] = None) -> tuple[bytes, str]:
    """A gzip'd tar layer with ``files`` (default: one file with random content).
    Returns (compressed bytes, diff_id of the uncompressed tar)."""
    files = files if files is not None else {f"data/{unique()}.txt": f"berth api test {unique(16)}\n".encode()}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({p.rsplit("/", 1)[0] for p in files if "/" in p})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), sha256(tar_bytes)


def make_config(diff_ids: list[str], architecture: str = "amd64", docker: bool = False) -> bytes:
    config = {
        "architecture": architecture,
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "Labels": {"test": unique()}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "berth api test"} for _ in diff_ids],
    }
    if docker:
        config["created"] = "2024-01-01T00:00:00Z"
    return canonical_json(config)


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


@dataclass
class Image:
    """An image made in the test: manifest bytes plus the blobs it references."""
    manifest: bytes
    media_type: str
    config: bytes
    config_media_type: str
    layers: list[bytes] = field(default_factory=list)
    children: list["Image"] = field(default_factory=list)  # for an index

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def layer_digests(self) -> list[str]:
        return [sha256(layer) for layer in self.layers]

    @property
    def config_digest(self) -> str:
        return sha256(self.config)

    @property
    def blobs(self) -> list[bytes]:
        return [self.config, *self.layers]

    @property
    def layers_size(self) -> int:
        return sum(len(layer) for layer in self.layers)

    @property
    def is_index(self) -> bool:
        return bool(self.children)


def make_image(kind: str = "oci", layers: int = 1, architecture: str = "amd64",
               include_media_type: bool = True, layer_blobs: Optional[list[bytes]] = None,
               annotations: Optional[dict] = None, extra: Optional[dict] = None) -> Image:
    """An image manifest (``kind`` "oci" or "docker") with fresh random layers (or the given
    compressed ``layer_blobs``) and a matching config."""
    docker = kind == "docker"
    if layer_blobs is None:
        made = [make_layer() for _ in range(layers)]
    else:
        made = [(blob, sha256(gzip.decompress(blob))) for blob in layer_blobs]
    config = make_config([diff for _, diff in made], architecture, docker)
    config_type, layer_type, manifest_type = ((DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST) if docker
                                              else (OCI_CONFIG, OCI_LAYER, OCI_MANIFEST))
    manifest = {"schemaVersion": 2}
    if include_media_type:
        manifest["mediaType"] = manifest_type
    manifest["config"] = descriptor(config_type, config)
    manifest["layers"] = [descriptor(layer_type, blob) for blob, _ in made]
    if annotations:
        manifest["annotations"] = annotations
    manifest.update(extra or {})
    body = json.dumps(manifest, indent=3).encode()  # not canonical: the digest is of these bytes
    return Image(body, manifest_type, config, config_type, [blob for blob, _ in made])


def make_index(children: list[Image], kind: str = "oci") -> Image:
    media_type = DOCKER_LIST if kind == "docker" else OCI_INDEX
    entries = []
    for child in children:
        arch = json.loads(child.config)["architecture"]
        entries.append({"mediaType": child.media_type, "digest": child.digest, "size": len(child.manifest),
                        "platform": {"architecture": arch, "os": "linux"}})
    body = canonical_json({"schemaVersion": 2, "mediaType": media_type, "manifests": entries})
    return Image(body, media_type, b"", "", [], list(children))


# ---------------------------------------------------------------------------------------------
# Pushing through the ECR layer API

def upload_blob(ecr, repo: str, data: bytes, part_size: Optional[int] = None) -> str:
    """InitiateLayerUpload / UploadLayerPart (in ``part_size`` pieces, default one part) /
    CompleteLayerUpload. A blob the repository already has counts as uploaded."""
    digest = sha256(data)
    upload = ecr.initiate_layer_upload(repositoryName=repo)
    upload_id = upload["uploadId"]
    step = part_size or max(len(data), 1)
    first = 0
    while first < len(data):
        chunk = data[first:first + step]
        r = ecr.upload_layer_part(repositoryName=repo, uploadId=upload_id, partFirstByte=first,
                                  partLastByte=first + len(chunk) - 1, layerPartBlob=chunk)
        assert r["lastByteReceived"] == first + len(chunk) - 1
        first += len(chunk)
    try:
        r = ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[digest])
    except ClientError as e:
        if error_code(e) == "LayerAlreadyExistsException":
            return digest
        raise
    assert r["layerDigest"] == digest
    return digest


def push_blobs(ecr, repo: str, image: Image) -> None:
    for child in image.children:
        push_blobs(ecr, repo, child)
    for blob in image.blobs:
        if blob:
            upload_blob(ecr, repo, blob)


def put_image(ecr, repo: str, image: Image, tag: Optional[str] = None, send_media_type: bool = True,
              digest: Optional[str] = None) -> dict:
    kwargs = {"repositoryName": repo, "imageManifest": image.manifest.decode()}
    if send_media_type:
        kwargs["imageManifestMediaType"] = image.media_type
    if tag is not None:
        kwargs["imageTag"] = tag
    if digest is not None:
        kwargs["imageDigest"] = digest
    return ecr.put_image(**kwargs)["image"]


def push_image(ecr, repo: str, tag: Optional[str] = None, image: Optional[Image] = None, **make) -> Image:
    """Uploads the blobs of ``image`` (default: a fresh one from ``make_image(**make)``), then
    PutImage with ``tag``. For an index, the children are pushed by digest first."""
    image = image or make_image(**make)
    for child in image.children:
        push_image(ecr, repo, None, child)
    if not image.is_index:
        push_blobs(ecr, repo, image)
    put_image(ecr, repo, image, tag)
    return image


# ---------------------------------------------------------------------------------------------
# OCI image layouts (the skopeo/podman "oci:" transport)

def write_oci_layout(layout: Path, image: Image, ref: str) -> str:
    """Writes ``image`` into the OCI layout directory ``layout`` under ``ref``; returns the
    skopeo reference ``oci:<layout>:<ref>``."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    for data in [image.manifest, *image.blobs]:
        (blobs / sha256(data).split(":")[1]).write_bytes(data)
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {"schemaVersion": 2, "manifests": []}
    index["manifests"].append({"mediaType": image.media_type, "digest": image.digest,
                               "size": len(image.manifest),
                               "annotations": {"org.opencontainers.image.ref.name": ref}})
    index_path.write_text(json.dumps(index))
    return f"oci:{layout}:{ref}"


def read_oci_layout(layout: Path, ref: Optional[str] = None) -> tuple[str, bytes]:
    """(digest, manifest bytes) of ``ref`` (or the only entry) in an OCI layout."""
    index = json.loads((layout / "index.json").read_text())
    entries = index["manifests"]
    if ref is not None:
        entries = [d for d in entries if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref]
    assert len(entries) == 1, f"expected one manifest for {ref!r} in {layout}: {index}"
    digest = entries[0]["digest"]
    body = (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()
    assert sha256(body) == digest
    return digest, body
