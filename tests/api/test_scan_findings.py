"""Image scanning end to end, on real data: images whose layers carry a real package database
(Alpine 3.18's apk database and Debian bookworm's dpkg status, tests/testdata/pkgdb), the real
advisories of tests/testdata/osv imported with `berth advisories import`, scans run by the
server's workers, and the findings compared with what this test derives from the advisory files
on its own (tests/support/scan_data.py, with its own apk and dpkg version comparison). Also: an image berth cannot scan
ends UNSUPPORTED_IMAGE; a second import re-matches scanned images without a new scan; the real
AWS CLI (v2, and v1 where installed) drives scan-on-push, `aws ecr wait image-scan-complete` and
describe-image-scan-findings."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from ecr_content import make_image, make_layer, push_image
from ecr_support import berth_binary, ecr_client, expect_error, wait_until
from support import server as support_server
from support.scan_data import (ALPINE_OS_RELEASE, APK_DB, DEBIAN_OS_RELEASE, DPKG_STATUS, OSV, VULN_LIST_318,
                               all_findings, apk_less, dpkg_compare, expected_alpine, expected_debian,
                               findings_set)
from test_walkthrough import AWS_V2, Aws, cli_env, find_aws_cli_v1


# ---------------------------------------------------------------------------------------------
# The expectations (support/scan_data.py) checked against known cases

def test_this_tests_version_orderings_agree_with_known_cases():
    assert apk_less("3.1.0-r4", "3.1.1-r0") and apk_less("1.36.1-r2", "1.36.1-r10")
    assert apk_less("1.2.4_rc1-r0", "1.2.4-r0") and not apk_less("1.2.4-r1", "1.2.4-r1")
    assert dpkg_compare("1:1.2.13.dfsg-1", "1:1.2.11.dfsg-4.1") > 0
    assert dpkg_compare("3.0.11-1~deb12u2", "3.0.11-1") < 0 and dpkg_compare("6.4-4", "6.4-3") > 0
    assert dpkg_compare("2.36-9+deb12u4", "2.36-9+deb12u10") < 0


def test_the_expected_findings_are_not_trivial():
    alpine, debian = expected_alpine(), expected_debian()
    # Written down by hand from the files: libcrypto3 3.1.0-r4 is below openssl's 3.1.1-r0 fix of
    # CVE-2023-2650; glibc's CVE-2023-4911 is unfixed in this snapshot, so libc6 has it; zlib's
    # CVE-2023-45853 is under "0" (not affecting Alpine).
    assert ("CVE-2023-2650", "libcrypto3", "3.1.0-r4") in alpine
    assert not any(cve == "CVE-2023-45853" for cve, _, _ in alpine)
    assert any(cve == "CVE-2023-4911" and name == "libc6" for cve, name, _ in debian)
    assert not any(cve == "CVE-2024-3094" for cve, _, _ in debian)  # xz-utils: bookworm not affected
    assert len(alpine) > 20


# ---------------------------------------------------------------------------------------------
# A server with the advisories imported

class Advisories:
    def __init__(self, server):
        self.server = server

    def run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(berth_binary()), "advisories", args[0], *support_server.store_args(self.server.data_dir),
               "--data-dir", str(self.server.data_dir), *args[1:]]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc


@pytest.fixture(scope="module")
def scanner(module_server_factory, tmp_path_factory):
    """A private server; the advisories without Alpine's openssl file are imported first (the
    rescan test imports the rest later)."""
    server = module_server_factory.start()
    partial = tmp_path_factory.mktemp("advisories") / "partial"
    shutil.copytree(OSV, partial)
    (partial / "alpine-secdb-vuln-list" / "3.18" / "main" / "openssl.json").unlink()
    Advisories(server).run("import", str(partial))
    return server


@pytest.fixture(scope="module")
def ecr_s(scanner):
    return ecr_client(scanner.url)


def _image(files: dict[str, bytes]):
    layer, _ = make_layer(files)
    return make_image(layer_blobs=[layer])


def _scan(ecr, repo: str, digest: str) -> dict:
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    ecr.get_waiter("image_scan_complete").wait(repositoryName=repo, imageId={"imageDigest": digest},
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return _findings(ecr, repo, digest)


def _scan_until_settled(ecr, repo: str, digest: str) -> dict:
    """StartImageScan, then DescribeImageScanFindings until the scan left IN_PROGRESS (the
    image-scan-complete waiter knows only COMPLETE and FAILED, not UNSUPPORTED_IMAGE)."""
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    status = {}
    assert wait_until(lambda: status.update(_findings(ecr, repo, digest)["imageScanStatus"]) or
                      status.get("status") != "IN_PROGRESS", timeout=60), status
    return _findings(ecr, repo, digest)


def _findings(ecr, repo: str, digest: str) -> dict:
    return all_findings(ecr, repo, digest, page_size=7)  # small pages: the paging is exercised


_as_set = findings_set


def _repo(ecr, name: str) -> str:
    ecr.create_repository(repositoryName=name)
    return name


def test_alpine_image_findings_are_what_the_secdb_says(scanner, ecr_s):
    repo = _repo(ecr_s, "scan/alpine")
    image = push_image(ecr_s, repo, "3.18", image=_image({"lib/apk/db/installed": APK_DB,
                                                           "etc/os-release": ALPINE_OS_RELEASE}))
    result = _scan(ecr_s, repo, image.digest)
    assert result["imageScanStatus"]["status"] == "COMPLETE"
    without_openssl = {f for f in expected_alpine()
                       if f[1] not in ("libcrypto3", "libssl3")}  # openssl.json not imported yet
    assert _as_set(result) == without_openssl
    findings = result["imageScanFindings"]
    counts = findings["findingSeverityCounts"]
    assert sum(counts.values()) == len(findings["findings"])
    assert findings["imageScanCompletedAt"] and findings["vulnerabilitySourceUpdatedAt"]
    for f in findings["findings"]:
        assert re.fullmatch(r"CVE-\d{4}-\d{4,}", f["name"]) or f["name"].startswith(("XSA-", "ALPINE-")), f
        assert f["severity"] in ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL", "UNDEFINED")
    # DescribeImages carries the summary.
    described = ecr_s.describe_images(repositoryName=repo, imageIds=[{"imageDigest": image.digest}])["imageDetails"][0]
    assert described["imageScanStatus"]["status"] == "COMPLETE"
    assert described["imageScanFindingsSummary"]["findingSeverityCounts"] == counts

    # A second import brings Alpine's openssl advisories: the image is re-matched, without a new
    # StartImageScan (which its daily quota would refuse anyway).
    expect_error("LimitExceededException", ecr_s.start_image_scan, repositoryName=repo,
                 imageId={"imageDigest": image.digest})
    Advisories(scanner).run("import", str(VULN_LIST_318 / "openssl.json"))

    def rematched() -> bool:
        # A nextToken is bound to the findings it paged (the advisory version is part of it): when
        # the re-match lands between two pages, berth refuses the old token, as it should, and
        # the paging starts again.
        try:
            return _as_set(_findings(ecr_s, repo, image.digest)) == expected_alpine()
        except ClientError as e:
            if e.response["Error"]["Code"] != "InvalidParameterException":
                raise
            return False

    assert wait_until(rematched, timeout=60), \
        sorted(expected_alpine() - _as_set(_findings(ecr_s, repo, image.digest)))


def test_debian_image_findings_are_what_the_tracker_says(ecr_s):
    repo = _repo(ecr_s, "scan/debian")
    image = push_image(ecr_s, repo, "bookworm", image=_image({"var/lib/dpkg/status": DPKG_STATUS,
                                                              "etc/os-release": DEBIAN_OS_RELEASE}))
    result = _scan(ecr_s, repo, image.digest)
    assert result["imageScanStatus"]["status"] == "COMPLETE"
    assert _as_set(result) == expected_debian()



def test_describe_images_gives_each_image_of_a_page_its_own_findings_summary(ecr_s):
    """DescribeImages reads a whole page's findings summaries at once: on a listing page and by
    imageIds alike, each image's summary is its own (an Alpine and a Debian image with different
    findings, an image scanned clean), equal to what DescribeImageScanFindings counts for it; an
    image never scanned has neither status nor summary."""
    repo = _repo(ecr_s, "scan/page")
    alpine = push_image(ecr_s, repo, "alpine", image=_image({"lib/apk/db/installed": APK_DB,
                                                             "etc/os-release": ALPINE_OS_RELEASE}))
    debian = push_image(ecr_s, repo, "debian", image=_image({"var/lib/dpkg/status": DPKG_STATUS,
                                                             "etc/os-release": DEBIAN_OS_RELEASE}))
    clean_db = b"P:berth-page-test\nV:1.0-r0\nA:x86_64\no:berth-page-test\n\n"
    clean = push_image(ecr_s, repo, "clean", image=_image({"lib/apk/db/installed": clean_db,
                                                           "etc/os-release": ALPINE_OS_RELEASE}))
    never = push_image(ecr_s, repo, "never", image=_image({"lib/apk/db/installed": APK_DB,
                                                           "etc/os-release": ALPINE_OS_RELEASE}))
    counts = {}
    for image in (alpine, debian, clean):
        result = _scan(ecr_s, repo, image.digest)
        assert result["imageScanStatus"]["status"] == "COMPLETE"
        counts[image.digest] = result["imageScanFindings"].get("findingSeverityCounts", {})
    assert sum(counts[alpine.digest].values()) > 0 and sum(counts[debian.digest].values()) > 0
    assert counts[alpine.digest] != counts[debian.digest]
    assert counts[clean.digest] == {}

    listed = ecr_s.describe_images(repositoryName=repo, maxResults=100,
                                   filter={"tagStatus": "TAGGED"})["imageDetails"]
    by_ids = ecr_s.describe_images(repositoryName=repo, imageIds=[
        {"imageTag": t} for t in ("never", "clean", "debian", "alpine")])["imageDetails"]
    for details in (listed, by_ids):
        assert sorted(d["imageDigest"] for d in details) == sorted(
            i.digest for i in (alpine, debian, clean, never))
        for d in details:
            if d["imageDigest"] == never.digest:
                assert "imageScanStatus" not in d and "imageScanFindingsSummary" not in d, d
                continue
            assert d["imageScanStatus"]["status"] == "COMPLETE", d
            summary = d["imageScanFindingsSummary"]
            assert summary.get("findingSeverityCounts", {}) == counts[d["imageDigest"]], d["imageTags"]
            assert summary["imageScanCompletedAt"] and summary["vulnerabilitySourceUpdatedAt"]

def test_an_image_without_an_os_or_with_a_layer_that_is_not_tar_is_unsupported(ecr_s):
    repo = _repo(ecr_s, "scan/unsupported")
    no_os = push_image(ecr_s, repo, "no-os", image=make_image())
    result = _scan_until_settled(ecr_s, repo, no_os.digest)
    assert result["imageScanStatus"]["status"] == "UNSUPPORTED_IMAGE", result["imageScanStatus"]
    assert result["imageScanStatus"]["description"]
    not_tar = push_image(ecr_s, repo, "not-tar", image=make_image(
        layer_blobs=[gzip.compress(b"this is not a tar archive\n" * 40)]))
    result = _scan_until_settled(ecr_s, repo, not_tar.digest)
    assert result["imageScanStatus"]["status"] == "UNSUPPORTED_IMAGE", result["imageScanStatus"]


# ---------------------------------------------------------------------------------------------
# The AWS CLI: scan-on-push, the waiter, the findings

def _cli_flow(aws: Aws, ecr, repo: str):
    aws.json("create-repository", "--repository-name", repo)
    aws.json("put-image-scanning-configuration", "--repository-name", repo,
             "--image-scanning-configuration", "scanOnPush=true")
    image = push_image(ecr, repo, "latest", image=_image({"lib/apk/db/installed": APK_DB,
                                                          "etc/os-release": ALPINE_OS_RELEASE}))
    aws("wait", "image-scan-complete", "--repository-name", repo, "--image-id", f"imageDigest={image.digest}")
    result = aws.json("describe-image-scan-findings", "--repository-name", repo, "--image-id",
                      f"imageDigest={image.digest}")
    assert result["imageScanStatus"]["status"] == "COMPLETE"
    assert _as_set(result) and _as_set(result) <= expected_alpine()
    again = aws("start-image-scan", "--repository-name", repo, "--image-id", f"imageDigest={image.digest}",
                check=False)
    assert again.returncode != 0 and "LimitExceededException" in again.stderr


@pytest.mark.client("aws-cli")
def test_aws_cli_v2_scan_on_push_wait_and_findings(scanner, ecr_s, tmp_path):
    assert Path(AWS_V2).exists()
    _cli_flow(Aws(AWS_V2, scanner.url, cli_env(tmp_path)), ecr_s, "scan/cli-v2")


def test_aws_cli_v1_scan_on_push_wait_and_findings(scanner, ecr_s, tmp_path):
    env = cli_env(tmp_path)
    binary, found = find_aws_cli_v1(env)
    if binary is None:
        pytest.skip(f"no AWS CLI v1 installed (Debian 12 packages only v2; found {found})")
    _cli_flow(Aws(binary, scanner.url, env), ecr_s, "scan/cli-v1")
