"""Test images built from real content: Debian's static busybox packed into OCI layouts by umoci."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from content import OCI_INDEX, OCI_MANIFEST, canonical_json, sha256
from harness import run_tool

BUSYBOX = Path("/bin/busybox")


def busybox_sha256() -> str:
    return hashlib.sha256(BUSYBOX.read_bytes()).hexdigest()


@dataclass
class LayoutImage:
    layout: Path
    ref: str              # the org.opencontainers.image.ref.name in index.json
    digest: str           # digest of the manifest (or index) the ref points at
    media_type: str
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def oci_ref(self) -> str:
        """The skopeo/containers-image transport reference."""
        return f"oci:{self.layout}:{self.ref}"

    def blob(self, digest: str) -> bytes:
        return blob_path(self.layout, digest).read_bytes()


def blob_path(layout: Path, digest: str) -> Path:
    algorithm, _, hexpart = digest.partition(":")
    return layout / "blobs" / algorithm / hexpart


def read_layout_ref(layout: Path, ref: str) -> LayoutImage:
    index = json.loads((layout / "index.json").read_text())
    for desc in index["manifests"]:
        if desc.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref:
            body = blob_path(layout, desc["digest"]).read_bytes()
            assert sha256(body) == desc["digest"], f"layout blob {desc['digest']} is corrupt"
            return LayoutImage(layout, ref, desc["digest"], desc["mediaType"], body)
    raise KeyError(f"no ref {ref!r} in {layout}/index.json: {index}")


def build_busybox_image(layout: Path, ref: str, workdir: Path, arch: str = "amd64",
                        extra_files: Optional[dict[str, bytes]] = None) -> LayoutImage:
    """Pack /bin/busybox (plus ``extra_files``) as a one-layer image tagged ``ref`` in ``layout``."""
    if not (layout / "index.json").exists():
        run_tool(["umoci", "init", "--layout", str(layout)])
    base = f"{ref}-base"
    bundle = workdir / f"bundle-{ref}"
    if bundle.exists():
        shutil.rmtree(bundle)
    run_tool(["umoci", "new", "--image", f"{layout}:{base}"])
    run_tool(["umoci", "unpack", "--rootless", "--image", f"{layout}:{base}", str(bundle)])
    rootfs = bundle / "rootfs"
    (rootfs / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    (rootfs / "bin" / "busybox").chmod(0o755)
    for path, data in (extra_files or {}).items():
        target = rootfs / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    run_tool(["umoci", "repack", "--image", f"{layout}:{base}", str(bundle)])
    run_tool(["umoci", "config", "--image", f"{layout}:{base}", "--tag", ref,
              "--config.entrypoint", "/bin/busybox", "--config.cmd", "sh",
              "--os", "linux", "--architecture", arch])
    run_tool(["umoci", "rm", "--image", f"{layout}:{base}"])
    run_tool(["umoci", "gc", "--layout", str(layout)])
    shutil.rmtree(bundle, ignore_errors=True)
    return read_layout_ref(layout, ref)


def add_index(layout: Path, ref: str, images: list[LayoutImage]) -> LayoutImage:
    """Write an OCI image index over ``images`` into the layout by hand and tag it ``ref``."""
    entries = []
    for img in images:
        config = json.loads(img.blob(img.json["config"]["digest"]))
        entries.append({"mediaType": img.media_type, "digest": img.digest, "size": len(img.body),
                        "platform": {"architecture": config["architecture"], "os": config["os"]}})
    body = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    digest = sha256(body)
    path = blob_path(layout, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    index["manifests"].append({"mediaType": OCI_INDEX, "digest": digest, "size": len(body),
                               "annotations": {"org.opencontainers.image.ref.name": ref}})
    index_path.write_text(json.dumps(index))
    return read_layout_ref(layout, ref)


def layer_files(layer: bytes) -> dict[str, bytes]:
    """Regular files in a (possibly gzip-compressed) tar layer, by normalized path."""
    if layer[:2] == b"\x1f\x8b":
        layer = gzip.decompress(layer)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                name = member.name
                while name.startswith("./") or name.startswith("/"):
                    name = name[2:] if name.startswith("./") else name[1:]
                files[name] = tar.extractfile(member).read()
    return files


def image_manifests(img: LayoutImage) -> list[dict]:
    """The image manifests reachable from ``img`` (itself, or an index's children)."""
    if img.media_type == OCI_INDEX or "manifests" in img.json:
        return [json.loads(img.blob(d["digest"])) for d in img.json["manifests"]]
    assert img.media_type == OCI_MANIFEST or "layers" in img.json
    return [img.json]
