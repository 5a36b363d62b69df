"""Image scanning of real file systems rather than a package database alone: the whole
`debootstrap --variant=minbase` bookworm root (tests/support/debian_root.py) packed as one gzip'd
tar layer, and the files of Debian's busybox-static package (as dpkg installed them on this
machine) as another image. The Debian root's findings are checked against what the test derives
itself from tests/testdata/osv and the root's own var/lib/dpkg/status (support/scan_data.py);
the busybox image has no package database and no os-release, so its scan ends UNSUPPORTED_IMAGE
with berth's reason."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from ecr_content import Image, descriptor, make_config, put_image, upload_blob
from ecr_support import ecr_client, registry_password, wait_until, V2
from support.debian_root import minbase_root
from support.scan_data import OSV, TRACKER_JSON, all_findings, dpkg_compare, expected_debian, findings_set, \
    import_advisories, installed_dpkg, stored_inventory

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
BUSYBOX_NO_OS = ("UnsupportedImageError: the image's operating system is unknown (it has no "
                 "os-release)")


class _Hashing:
    """A write-only file that hashes what passes through it on the way to ``out``."""

    def __init__(self, out):
        self.out, self.hash = out, hashlib.sha256()

    def write(self, data) -> int:
        self.hash.update(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def pack_layer(out_dir: Path, add) -> tuple[Path, str, str]:
    """A gzip'd tar layer written by ``add(tar)`` into ``out_dir`` in one streaming pass;
    (path, digest, diff_id)."""
    path = out_dir / "layer.tar.gz"
    with open(path, "wb") as f:
        compressed = _Hashing(f)
        with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=1, mtime=0) as gz:
            raw = _Hashing(gz)
            with tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                add(tar)
    return path, compressed.digest, raw.digest


def push_layer_image(ecr, url: str, repo: str, tag: str, layer: tuple[Path, str, str]) -> str:
    """Pushes a one-layer image: the (large) layer by a monolithic /v2 upload, the config by
    the ECR layer API, the manifest by PutImage. Returns the manifest digest."""
    path, digest, diff_id = layer
    v2 = V2(url, registry_password(ecr))
    r = v2.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    location = r.headers["Location"]
    with open(path, "rb") as f:
        r = v2.request("PUT", location + ("&" if "?" in location else "?") + f"digest={digest}", data=f,
                       headers={"Content-Type": "application/octet-stream"}, timeout=300)
    assert r.status_code == 201, r.text
    config = make_config([diff_id])
    upload_blob(ecr, repo, config)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                "layers": [{"mediaType": OCI_LAYER, "digest": digest, "size": path.stat().st_size}]}
    image = Image(json.dumps(manifest).encode(), OCI_MANIFEST, config, OCI_CONFIG)
    put_image(ecr, repo, image, tag)
    return image.digest


def scan_settled(ecr, repo: str, digest: str) -> dict:
    """StartImageScan, then DescribeImageScanFindings (all pages) once it left IN_PROGRESS."""
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    status = {}

    def settled():
        status.update(ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": digest})
                      ["imageScanStatus"])
        return status["status"] != "IN_PROGRESS"
    assert wait_until(settled, timeout=120, interval=0.5), status
    return all_findings(ecr, repo, digest, page_size=1000)


@pytest.fixture(scope="module")
def scanner(module_server_factory):
    server = module_server_factory.start()
    import_advisories(server.data_dir, OSV)
    return server


@pytest.fixture(scope="module")
def root() -> Path:
    return minbase_root()


def test_a_debootstrap_root_is_scanned_as_its_dpkg_status_says(scanner, root, tmp_path):
    ecr = ecr_client(scanner.url)
    repo = "scan/debootstrap"
    ecr.create_repository(repositoryName=repo)

    def add_root(tar: tarfile.TarFile):
        for entry in sorted(root.iterdir()):
            if entry.name != ".complete":  # debian_root.py's marker, not part of the system
                tar.add(entry, arcname=entry.name)
    digest = push_layer_image(ecr, scanner.url, repo, "bookworm", pack_layer(tmp_path, add_root))
    result = scan_settled(ecr, repo, digest)
    assert result["imageScanStatus"]["status"] == "COMPLETE", result["imageScanStatus"]

    status = (root / "var" / "lib" / "dpkg" / "status").read_bytes()
    installed = installed_dpkg(status)
    assert len(installed) > 50
    # The inventory berth stored is the status file's installed packages, one for one.
    assert stored_inventory(scanner.data_dir, digest) == sorted((p["name"], p["version"]) for p in installed)

    expected = expected_debian(status)
    found = findings_set(result)
    assert found == expected, (sorted(expected - found)[:20], sorted(found - expected)[:20])
    # A few by hand from the files: glibc's CVE-2023-4911 has no bookworm fix in this snapshot,
    # so libc6 and libc-bin have it; xz-utils' CVE-2024-3094 never affected bookworm.
    version = {p["name"]: p["version"] for p in installed}
    for name in ("libc6", "libc-bin"):
        assert ("CVE-2023-4911", name, version[name]) in found
    assert not any(cve == "CVE-2024-3094" for cve, _, _ in found)
    # A CVE whose bookworm fix is at or below the installed version is absent. Which one depends
    # on the mirror's bookworm at debootstrap time, so the test finds one in the data.
    fixed = fixed_in_root(installed)
    assert fixed, "no advisory in tests/testdata/osv is fixed by an installed package"
    cve, name, _ = fixed
    assert not any(f[0] == cve and f[1] == name for f in found), fixed


def fixed_in_root(installed: list[dict]):
    """(CVE, package, fixed version) of an advisory fixed at or below the installed source version
    of some installed package, by the rule berth applies to the tracker's files (the bookworm line
    of the package, else its release-less line); None when there is none. Which packages a
    minbase root has depends on the mirror's bookworm at debootstrap time (libssl3 came and went),
    so the release-less lines count too: zlib's CVE-2022-37434, fixed in 1:1.2.11.dfsg-4.1, is one
    on every bookworm."""
    by_source = {}
    for p in installed:
        by_source.setdefault(p["source"], p)
    for path in sorted(TRACKER_JSON.rglob("CVE-*.json")):
        doc = json.loads(path.read_text())
        lines = [a for a in doc.get("Annotations", []) if a.get("Type") == "package"]
        for source, pkg in sorted(by_source.items()):
            mine = [a for a in lines if a.get("Package") == source]
            line = next((a for a in mine if a.get("Release") == "bookworm"), None) or \
                next((a for a in mine if not a.get("Release")), None)
            if line is None or line.get("Kind") != "fixed" or not line.get("Version"):
                continue
            if dpkg_compare(pkg["source_version"], line["Version"]) >= 0:
                return doc["Header"]["ID"], pkg["name"], line["Version"]
    return None


def test_busybox_static_without_a_package_database_is_unsupported(scanner, tmp_path):
    ecr = ecr_client(scanner.url)
    repo = "scan/busybox-static"
    ecr.create_repository(repositoryName=repo)
    listed = subprocess.run(["dpkg", "-L", "busybox-static"], capture_output=True, text=True, check=True).stdout
    files = [Path(p) for p in listed.splitlines() if Path(p).is_file() and not Path(p).is_symlink()]
    assert Path("/bin/busybox") in files or Path("/usr/bin/busybox") in files

    def add_files(tar: tarfile.TarFile):
        for f in sorted(files):
            tar.add(f, arcname=str(f).lstrip("/"), recursive=False)
    digest = push_layer_image(ecr, scanner.url, repo, "static", pack_layer(tmp_path, add_files))
    result = scan_settled(ecr, repo, digest)
    assert result["imageScanStatus"] == {"status": "UNSUPPORTED_IMAGE", "description": BUSYBOX_NO_OS}
    assert "imageScanFindings" not in result
