"""Image scanning end to end, on real data: images whose layers carry a real package database
(Alpine 3.18's apk database and Debian bookworm's dpkg status, tests/testdata/pkgdb), the real
advisories of tests/testdata/osv imported with `berth advisories import`, scans run by the
server's workers, and the findings compared with what this test derives from the advisory files
on its own (its own apk and dpkg version comparison, below). Also: an image berth cannot scan
ends UNSUPPORTED_IMAGE; a second import re-matches scanned images without a new scan; the real
AWS CLI (v2, and v1 where installed) drives scan-on-push, `aws ecr wait image-scan-complete` and
describe-image-scan-findings."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ecr_content import make_image, make_layer, push_image
from ecr_support import berth_binary, ecr_client, expect_error, wait_until
from support import server as support_server
from test_walkthrough import AWS_V2, Aws, cli_env, find_aws_cli_v1

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
OSV = TESTDATA / "osv"
APK_DB = (TESTDATA / "pkgdb" / "alpine-3.18-base" / "lib" / "apk" / "db" / "installed").read_bytes()
DPKG_STATUS = (TESTDATA / "pkgdb" / "debian-bookworm-minbase" / "var" / "lib" / "dpkg" / "status").read_bytes()
DEBIAN_OS_RELEASE = (TESTDATA / "pkgdb" / "debian-bookworm-minbase" / "os-release").read_bytes()
ALPINE_OS_RELEASE = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME="Alpine Linux v3.18"\n'
VULN_LIST_318 = OSV / "alpine-secdb-vuln-list" / "3.18" / "main"
TRACKER_JSON = OSV / "debian-tracker-vuln-list-debian"


# ---------------------------------------------------------------------------------------------
# Version ordering, written here independently of berth's (apk-tools' and dpkg's rules)

_APK = re.compile(r"^(?P<nums>\d+(?:\.\d+)*)(?P<letter>[a-z]?)(?P<suffixes>(?:_[a-z]+\d*)*)(?:-r(?P<rel>\d+))?$")
_APK_SUFFIX = {"alpha": -4, "beta": -3, "pre": -2, "rc": -1, "cvs": 1, "svn": 2, "git": 3, "hg": 4, "p": 5}


def apk_key(version: str):
    m = _APK.match(version)
    assert m, f"this test's apk comparison does not know the form of {version!r}"
    suffixes = [(_APK_SUFFIX[s.rstrip("0123456789")], int(s.lstrip("abcdefghijklmnopqrstuvwxyz") or 0))
                for s in m["suffixes"].split("_")[1:]]
    return ([int(n) for n in m["nums"].split(".")], m["letter"], suffixes + [(0, 0)], int(m["rel"] or 0))


def apk_less(a: str, b: str) -> bool:
    return apk_key(a) < apk_key(b)


def _dpkg_order(c: str) -> int:
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256 if c else 0


def _dpkg_part(a: str, b: str) -> int:
    while a or b:
        na = re.match(r"^[^0-9]*", a).group(0)
        nb = re.match(r"^[^0-9]*", b).group(0)
        for i in range(max(len(na), len(nb))):
            ca = _dpkg_order(na[i]) if i < len(na) else 0
            cb = _dpkg_order(nb[i]) if i < len(nb) else 0
            if ca != cb:
                return -1 if ca < cb else 1
        a, b = a[len(na):], b[len(nb):]
        da = re.match(r"^[0-9]*", a).group(0)
        db = re.match(r"^[0-9]*", b).group(0)
        if int(da or 0) != int(db or 0):
            return -1 if int(da or 0) < int(db or 0) else 1
        a, b = a[len(da):], b[len(db):]
    return 0


def dpkg_compare(a: str, b: str) -> int:
    def split(v):
        epoch, _, rest = v.rpartition(":") if ":" in v else ("0", "", v)
        upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
        return int(epoch or 0), upstream, revision
    ea, ua, ra = split(a)
    eb, ub, rb = split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _dpkg_part(ua, ub) or _dpkg_part(ra, rb)


def test_this_tests_version_orderings_agree_with_known_cases():
    assert apk_less("3.1.0-r4", "3.1.1-r0") and apk_less("1.36.1-r2", "1.36.1-r10")
    assert apk_less("1.2.4_rc1-r0", "1.2.4-r0") and not apk_less("1.2.4-r1", "1.2.4-r1")
    assert dpkg_compare("1:1.2.13.dfsg-1", "1:1.2.11.dfsg-4.1") > 0
    assert dpkg_compare("3.0.11-1~deb12u2", "3.0.11-1") < 0 and dpkg_compare("6.4-4", "6.4-3") > 0
    assert dpkg_compare("2.36-9+deb12u4", "2.36-9+deb12u10") < 0


# ---------------------------------------------------------------------------------------------
# What the advisory files say, read here

def installed_apk() -> list[dict]:
    packages, current = [], {}
    for line in APK_DB.decode().splitlines() + [""]:
        if not line:
            if current:
                packages.append(current)
            current = {}
        elif line[1:2] == ":":
            current[line[0]] = line[2:]
    return packages


def expected_alpine() -> set[tuple[str, str, str]]:
    """(CVE, package, installed version) for every installed apk whose origin the 3.18 secdb
    lists as fixed in a later version."""
    expected = set()
    for pkg in installed_apk():
        path = VULN_LIST_318 / f"{pkg.get('o', pkg['P'])}.json"
        if not path.exists():
            continue
        for fixed, ids in json.loads(path.read_text()).get("secfixes", {}).items():
            if fixed == "0" or not apk_less(pkg["V"], fixed):
                continue
            for entry in ids:
                expected.add((entry.split()[0], pkg["P"], pkg["V"]))
    return expected


def installed_dpkg() -> list[dict]:
    packages = []
    for stanza in DPKG_STATUS.decode().split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.M))
        if fields.get("Status") != "install ok installed":
            continue
        source = fields.get("Source", fields["Package"])
        m = re.match(r"^(\S+)(?: \((.+)\))?$", source)
        packages.append({"name": fields["Package"], "version": fields["Version"], "source": m[1],
                         "source_version": m[2] or fields["Version"]})
    return packages


def expected_debian() -> set[tuple[str, str, str]]:
    """(CVE, package, installed version) from the tracker's per-CVE files for bookworm: a
    bookworm line of its own, else the release-less (unstable) line; fixed below the installed
    source version means not affected."""
    expected = set()
    for path in sorted(TRACKER_JSON.rglob("CVE-*.json")):
        doc = json.loads(path.read_text())
        lines = [a for a in doc.get("Annotations", []) if a.get("Type") == "package"]
        for pkg in installed_dpkg():
            mine = [a for a in lines if a.get("Package") == pkg["source"]]
            line = next((a for a in mine if a.get("Release") == "bookworm"), None) or \
                next((a for a in mine if not a.get("Release")), None)
            if line is None or line["Kind"] == "not-affected":
                continue
            fixed = line.get("Version", "") if line["Kind"] == "fixed" else ""
            if fixed and dpkg_compare(pkg["source_version"], fixed) >= 0:
                continue
            expected.add((doc["Header"]["ID"], pkg["name"], pkg["version"]))
    return expected


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
    pages = ecr.get_paginator("describe_image_scan_findings").paginate(
        repositoryName=repo, imageId={"imageDigest": digest}, PaginationConfig={"PageSize": 7})
    result = None
    for page in pages:
        if result is None:
            result = page
        else:
            result["imageScanFindings"]["findings"] += page["imageScanFindings"]["findings"]
    return result


def _as_set(result: dict) -> set[tuple[str, str, str]]:
    out = set()
    for f in result["imageScanFindings"]["findings"]:
        attrs = {a["key"]: a["value"] for a in f.get("attributes", [])}
        out.add((f["name"], attrs["package_name"], attrs["package_version"]))
    return out


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
    assert wait_until(lambda: _as_set(_findings(ecr_s, repo, image.digest)) == expected_alpine(), timeout=60), \
        sorted(expected_alpine() - _as_set(_findings(ecr_s, repo, image.digest)))


def test_debian_image_findings_are_what_the_tracker_says(ecr_s):
    repo = _repo(ecr_s, "scan/debian")
    image = push_image(ecr_s, repo, "bookworm", image=_image({"var/lib/dpkg/status": DPKG_STATUS,
                                                              "etc/os-release": DEBIAN_OS_RELEASE}))
    result = _scan(ecr_s, repo, image.digest)
    assert result["imageScanStatus"]["status"] == "COMPLETE"
    assert _as_set(result) == expected_debian()


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
