"""What the scanning tests expect, derived from the test data on their own: the real advisories
of tests/testdata/osv, the package databases of tests/testdata/pkgdb (or of any dpkg status
file), and this module's own apk and dpkg version orderings (written from apk-tools' and dpkg's
rules, independently of berth's). Also ``import_advisories``, which runs ``berth advisories
import`` against a server's stores. Shared by tests/api (test_scan_findings.py,
test_scan_debian_root.py) and tests/integration (test_scan_crash.py)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path

from support.binaries import private_berth_copy
from support.server import postgres_dsn_for, store_args

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


# ---------------------------------------------------------------------------------------------
# What the advisory files say, read here

def installed_apk(apk_db: bytes = APK_DB) -> list[dict]:
    packages, current = [], {}
    for line in apk_db.decode().splitlines() + [""]:
        if not line:
            if current:
                packages.append(current)
            current = {}
        elif line[1:2] == ":":
            current[line[0]] = line[2:]
    return packages


def expected_alpine(apk_db: bytes = APK_DB) -> set[tuple[str, str, str]]:
    """(CVE, package, installed version) for every installed apk whose origin the 3.18 secdb
    lists as fixed in a later version."""
    expected = set()
    for pkg in installed_apk(apk_db):
        path = VULN_LIST_318 / f"{pkg.get('o', pkg['P'])}.json"
        if not path.exists():
            continue
        for fixed, ids in json.loads(path.read_text()).get("secfixes", {}).items():
            if fixed == "0" or not apk_less(pkg["V"], fixed):
                continue
            for entry in ids:
                expected.add((entry.split()[0], pkg["P"], pkg["V"]))
    return expected


def installed_dpkg(status: bytes = DPKG_STATUS) -> list[dict]:
    """The packages a dpkg status file lists as ``install ok installed``."""
    packages = []
    for stanza in status.decode().split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.M))
        if fields.get("Status") != "install ok installed":
            continue
        source = fields.get("Source", fields["Package"])
        m = re.match(r"^(\S+)(?: \((.+)\))?$", source)
        packages.append({"name": fields["Package"], "version": fields["Version"], "source": m[1],
                         "source_version": m[2] or fields["Version"]})
    return packages


def expected_debian(status: bytes = DPKG_STATUS) -> set[tuple[str, str, str]]:
    """(CVE, package, installed version) from the tracker's per-CVE files for bookworm: a
    bookworm line of its own, else the release-less (unstable) line; fixed below the installed
    source version means not affected."""
    expected = set()
    installed = installed_dpkg(status)
    for path in sorted(TRACKER_JSON.rglob("CVE-*.json")):
        doc = json.loads(path.read_text())
        lines = [a for a in doc.get("Annotations", []) if a.get("Type") == "package"]
        for pkg in installed:
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


def all_findings(ecr, repo: str, digest: str, page_size: int) -> dict:
    """DescribeImageScanFindings through boto3's paginator, ``page_size`` findings a page: the
    first page's answer with every page's findings joined into it."""
    pages = ecr.get_paginator("describe_image_scan_findings").paginate(
        repositoryName=repo, imageId={"imageDigest": digest}, PaginationConfig={"PageSize": page_size})
    result = None
    for page in pages:
        if result is None:
            result = page
        else:
            result["imageScanFindings"]["findings"] += page["imageScanFindings"]["findings"]
    return result


def findings_set(result: dict) -> set[tuple[str, str, str]]:
    """(name, package_name, package_version) of every finding of a DescribeImageScanFindings
    answer (all pages already joined)."""
    out = set()
    for f in result["imageScanFindings"]["findings"]:
        attrs = {a["key"]: a["value"] for a in f.get("attributes", [])}
        out.add((f["name"], attrs["package_name"], attrs["package_version"]))
    return out


# ---------------------------------------------------------------------------------------------
# Importing advisories into a server's stores

def import_advisories(data_dir: Path, source: Path) -> subprocess.CompletedProcess:
    """``berth advisories import SOURCE`` against the stores of the server on ``data_dir`` (started
    at least once, so that its store settings are known)."""
    cmd = [str(private_berth_copy()), "advisories", "import", *store_args(data_dir), "--data-dir", str(data_dir),
           str(source)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


# ---------------------------------------------------------------------------------------------
# What the metadata store holds (no API shows a scan's inventory or how often it was claimed)

def _query(data_dir: Path, sql: str) -> list[tuple[str, ...]]:
    dsn = postgres_dsn_for(data_dir)
    if dsn is None:
        db = sqlite3.connect(f"file:{Path(data_dir) / 'berth.db'}?mode=ro", uri=True, timeout=30)
        try:
            return [tuple(str(v) for v in row) for row in db.execute(sql)]
        finally:
            db.close()
    proc = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=True)
    return [tuple(line.split("\t")) for line in proc.stdout.splitlines() if line]


def _checked(digest: str) -> str:
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), digest
    return digest


def stored_scans(data_dir: Path, digest: str) -> list[tuple[str, int]]:
    """(status, attempts) of every scan row of the manifest ``digest`` (in any repository)."""
    rows = _query(data_dir, f"SELECT status, attempts FROM scans WHERE digest = '{_checked(digest)}'")
    return [(status, int(attempts)) for status, attempts in rows]


def stored_inventory(data_dir: Path, digest: str) -> list[tuple[str, str]]:
    """(name, version) of every package of the inventory stored for the manifest ``digest``."""
    return sorted(_query(data_dir, "SELECT p.name, p.version FROM image_inventory_packages p "
                                   "JOIN manifests m ON m.id = p.manifest_id "
                                   f"WHERE m.digest = '{_checked(digest)}'"))
