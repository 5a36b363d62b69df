"""berth's SBOM referrers: every image scan that completes leaves a CycloneDX 1.5 SBOM of the
image's packages in its repository, as an OCI referrer of the image (README, "Image scanning").
The images carry Alpine 3.18's real apk database (tests/testdata/pkgdb, as in
test_scan_findings.py); the SBOM is read back through /v2 (the referrers API, manifest and blob
GETs) and with skopeo, and compared with the database itself. Also: the SBOM goes with its image
(BatchDeleteImage, DELETE manifest; `berth gc` then reclaims its blob), lifecycle rules do not
count it as an untagged image of its own, a rescan after a new advisory import leaves one SBOM,
and `sbom: {generate: false}` turns it off."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from ecr_content import push_image, sha256
from ecr_support import V2, berth_binary, ecr_client, registry_password, wait_until
from support import server as support_server
from support.tools import run_tool
from support.scan_data import ALPINE_OS_RELEASE, APK_DB, VULN_LIST_318, installed_apk
from test_scan_findings import Advisories, _image, _scan

CYCLONEDX = "application/vnd.cyclonedx+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_DIGEST = sha256(b"{}")
RECLAIMED = re.compile(r"^reclaimed (\d+) blobs, (\d+) bytes", re.M)


@pytest.fixture(scope="module")
def server(module_server_factory):
    """A private server with the Alpine advisories but openssl's imported (the rescan test
    imports that file later, which re-matches the scanned images)."""
    server = module_server_factory.start()
    Advisories(server).run("import", str(VULN_LIST_318 / "musl.json"))
    return server


@pytest.fixture(scope="module")
def ecr_s(server):
    return ecr_client(server.url)


@pytest.fixture(scope="module")
def v2_s(server, ecr_s):
    return V2(server.url, registry_password(ecr_s))


def _alpine_image():
    return _image({"lib/apk/db/installed": APK_DB, "etc/os-release": ALPINE_OS_RELEASE})


def _referrers(v2: V2, repo: str, digest: str, artifact_type: str | None = None) -> list[dict]:
    params = {"artifactType": artifact_type} if artifact_type else None
    r = v2.request("GET", f"/v2/{repo}/referrers/{digest}", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == OCI_INDEX
    return r.json()["manifests"]


def _scanned_with_sbom(ecr, v2: V2, repo: str, tag: str = "3.18", on_push: bool = False):
    """Pushes the Alpine image, scans it (StartImageScan, or scan-on-push when `on_push`), and
    waits for its SBOM; returns (image, the SBOM's descriptor in the referrers list)."""
    image = push_image(ecr, repo, tag, image=_alpine_image())
    if on_push:
        ecr.get_waiter("image_scan_complete").wait(repositoryName=repo, imageId={"imageDigest": image.digest},
                                                    WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    else:
        assert _scan(ecr, repo, image.digest)["imageScanStatus"]["status"] == "COMPLETE"
    found: list[dict] = []
    assert wait_until(lambda: bool(found.extend(_referrers(v2, repo, image.digest)) or found), timeout=30), \
        "no SBOM referrer appeared after the scan completed"
    return image, found[0]


def _gc(server) -> tuple[int, int]:
    """`berth gc --grace 0s`, from the next whole second on (the collector counts blob ages in
    whole seconds, as tests/integration/test_gc.py's next_second() says)."""
    now = time.time()
    time.sleep(int(now) + 1 - now + 0.05)
    cmd = [str(berth_binary()), "gc", *support_server.store_args(server.data_dir), "--data-dir",
           str(server.data_dir), "--grace", "0s"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = RECLAIMED.search(proc.stdout)
    assert m, f"unexpected gc report: {proc.stdout!r}"
    return int(m.group(1)), int(m.group(2))


def test_sbom_referrer_lists_the_image_packages(server, ecr_s, v2_s, tmp_path):
    repo = "sbom/alpine"
    # Immutable tags and scan-on-push: neither may stop or re-trigger berth's own untagged push.
    ecr_s.create_repository(repositoryName=repo, imageTagMutability="IMMUTABLE",
                            imageScanningConfiguration={"scanOnPush": True})
    image, listed = _scanned_with_sbom(ecr_s, v2_s, repo, on_push=True)

    # Exactly one referrer, a CycloneDX artifact; the artifactType filter keeps it, another drops it.
    assert len(_referrers(v2_s, repo, image.digest)) == 1
    assert listed["artifactType"] == CYCLONEDX and listed["mediaType"] == OCI_MANIFEST
    assert listed["annotations"]["dev.berth.sbom.generator"] == "berth"
    assert _referrers(v2_s, repo, image.digest, CYCLONEDX) == [listed]
    assert _referrers(v2_s, repo, image.digest, "application/spdx+json") == []

    r = v2_s.request("GET", f"/v2/{repo}/manifests/{listed['digest']}", headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200, r.text
    assert sha256(r.content) == listed["digest"] and len(r.content) == listed["size"]
    manifest = r.json()
    assert manifest["artifactType"] == CYCLONEDX and manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"] == {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2}
    assert manifest["subject"] == {"mediaType": image.media_type, "digest": image.digest,
                                   "size": len(image.manifest)}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["annotations"]["org.opencontainers.image.created"])
    [layer] = manifest["layers"]
    assert layer["mediaType"] == CYCLONEDX

    blob = v2_s.request("GET", f"/v2/{repo}/blobs/{layer['digest']}", allow_redirects=True)
    assert blob.status_code == 200 and sha256(blob.content) == layer["digest"]
    bom = json.loads(blob.content)
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5"
    assert bom["metadata"]["component"]["version"] == image.digest
    packages = installed_apk()
    components = bom["components"]
    assert len(components) == len(packages) > 10
    assert {(c["name"], c["version"]) for c in components} == {(p["P"], p["V"]) for p in packages}
    purls = {c["purl"] for c in components}
    for name in ("musl", "busybox", "libcrypto3"):
        p = next(p for p in packages if p["P"] == name)
        assert f"pkg:apk/alpine/{name}@{p['V']}?arch={p['A']}&distro=3.18.4" in purls

    # Untagged and never scanned itself; the image's one tag is all there is.
    assert v2_s.request("GET", f"/v2/{repo}/tags/list").json()["tags"] == ["3.18"]
    scans = ecr_s.describe_images(repositoryName=repo, imageIds=[{"imageDigest": listed["digest"]}])
    assert "imageScanStatus" not in scans["imageDetails"][0]

    # skopeo reads the referrer by digest: its manifest as stored, and its SBOM blob.
    pw = v2_s.password
    ref = f"docker://{server.host}/{repo}@{listed['digest']}"
    raw = run_tool(["skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", f"AWS:{pw}", ref]).stdout
    assert sha256(raw.encode()) == listed["digest"]
    dest = tmp_path / "sbom"
    run_tool(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--src-creds", f"AWS:{pw}", ref, f"dir:{dest}"])
    assert sha256((dest / "manifest.json").read_bytes()) == listed["digest"]
    assert (dest / layer["digest"].split(":")[1]).read_bytes() == blob.content


def test_sbom_goes_with_its_image_and_gc_reclaims_its_blob(server, ecr_s, v2_s):
    repo = "sbom/deleted"
    ecr_s.create_repository(repositoryName=repo)
    image, listed = _scanned_with_sbom(ecr_s, v2_s, repo, "one")
    layer = v2_s.request("GET", f"/v2/{repo}/manifests/{listed['digest']}").json()["layers"][0]

    deleted = ecr_s.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": image.digest}])
    assert deleted["failures"] == [] and [i["imageDigest"] for i in deleted["imageIds"]] == [image.digest]
    assert _referrers(v2_s, repo, image.digest) == []
    assert v2_s.request("GET", f"/v2/{repo}/manifests/{listed['digest']}").status_code == 404
    assert ecr_s.list_images(repositoryName=repo)["imageIds"] == []

    blobs, size = _gc(server)
    assert blobs >= 1 and size >= layer["size"]
    assert v2_s.request("GET", f"/v2/{repo}/blobs/{layer['digest']}").status_code == 404

    # DELETE of the manifest on /v2 takes the SBOM along too.
    image, listed = _scanned_with_sbom(ecr_s, v2_s, repo, "two")
    assert v2_s.request("DELETE", f"/v2/{repo}/manifests/{image.digest}").status_code == 202
    assert _referrers(v2_s, repo, image.digest) == []
    assert v2_s.request("GET", f"/v2/{repo}/manifests/{listed['digest']}").status_code == 404


def test_lifecycle_does_not_count_the_sbom_as_an_untagged_image(server, ecr_s, v2_s):
    repo = "sbom/lifecycle"
    ecr_s.create_repository(repositoryName=repo)
    image, listed = _scanned_with_sbom(ecr_s, v2_s, repo, "live")
    older, newer = push_image(ecr_s, repo), push_image(ecr_s, repo)
    push_image(ecr_s, repo, "live-b")

    def preview(rule: dict) -> set[str]:
        ecr_s.start_lifecycle_policy_preview(repositoryName=repo,
                                             lifecyclePolicyText=json.dumps({"rules": [rule]}))
        result = ecr_s.get_lifecycle_policy_preview(repositoryName=repo)
        assert result["status"] == "COMPLETE", result
        return {r["imageDigest"] for r in result["previewResults"]}

    expire = {"type": "expire"}
    untagged_rule = {"rulePriority": 1, "action": expire,
                     "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}}
    # Counted as an untagged image, the SBOM (the oldest) would expire too.
    assert preview(untagged_rule) == {older.digest}
    assert newer.digest
    tagged_rule = {"rulePriority": 1, "action": expire,
                   "selection": {"tagStatus": "tagged", "tagPrefixList": ["live"],
                                 "countType": "imageCountMoreThan", "countNumber": 1}}
    assert preview(tagged_rule) == {image.digest, listed["digest"]}, "the SBOM expires with its image"


def test_rescan_after_an_advisory_import_leaves_one_sbom(server, ecr_s, v2_s):
    repo = "sbom/rescan"
    ecr_s.create_repository(repositoryName=repo)
    image, listed = _scanned_with_sbom(ecr_s, v2_s, repo)
    before = ecr_s.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": image.digest})
    Advisories(server).run("import", str(VULN_LIST_318 / "openssl.json"))

    def rematched() -> bool:
        now = ecr_s.describe_image_scan_findings(repositoryName=repo, imageId={"imageDigest": image.digest})
        return now["imageScanFindings"].get("findings", []) != before["imageScanFindings"].get("findings", [])
    assert wait_until(rematched, timeout=60), "the import did not re-match the image"
    assert _referrers(v2_s, repo, image.digest) == [listed]


def test_no_sbom_when_generation_is_off(module_server_factory):
    server = module_server_factory.start(config={"sbom": "{generate: false}"})
    ecr = ecr_client(server.url)
    v2 = V2(server.url, registry_password(ecr))
    repo = "sbom/off"
    ecr.create_repository(repositoryName=repo)
    image = push_image(ecr, repo, "3.18", image=_alpine_image())
    assert _scan(ecr, repo, image.digest)["imageScanStatus"]["status"] == "COMPLETE"
    # With generation on, the SBOM is there within milliseconds of COMPLETE (the tests above).
    time.sleep(2)
    assert _referrers(v2, repo, image.digest) == []
    assert [i["imageDigest"] for i in ecr.list_images(repositoryName=repo)["imageIds"]] == [image.digest]
