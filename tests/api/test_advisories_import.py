"""`berth advisories import` and `berth advisories status` beside a running server: the real
advisory data in tests/testdata/osv imported whole, counts checked against the files themselves,
versions, atomicity (one broken file: nothing imported), zip archives, and files that are not
advisories skipped. Runs on SQLite and, under BERTH_TEST_METADATA=postgres, on PostgreSQL (the
command then gets the server's --config)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import requests
import yaml

from ecr_support import berth_binary
from support import server as support_server

OSV = Path(__file__).resolve().parents[1] / "testdata" / "osv"
FILE_LINE = re.compile(r"^(?P<name>.+): (?P<format>[a-z-]+), (?P<advisories>\d+) advisories, "
                       r"(?P<affected>\d+) affected")
TOTAL_LINE = re.compile(r"^imported version (?P<version>\d+): (?P<files>\d+) files, "
                        r"(?P<advisories>\d+) advisories, (?P<affected>\d+) affected")


def data_files() -> list[str]:
    """The data files SHA256SUMS lists (every file but README.md and SHA256SUMS), relative."""
    names = []
    for line in (OSV / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            names.append(line.split(None, 1)[1].lstrip("*").removeprefix("./"))
    return sorted(names)


def alpine_counts(path: Path) -> tuple[int, int]:
    """(advisories, affected) of an Alpine secdb file, counted here: every secfixes entry names
    one vulnerability by its first word; an advisory has one entry per origin package."""
    text = path.read_text()
    doc = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=yaml.BaseLoader)
    packages = [p["pkg"] for p in doc["packages"]] if "packages" in doc else [doc]
    pairs = set()
    for pkg in packages:
        for ids in (pkg.get("secfixes") or {}).values():
            for entry in ids if isinstance(ids, list) else [ids]:
                words = str(entry).split()
                if words and pkg.get("name"):
                    pairs.add((words[0], pkg["name"]))
    return len({i for i, _ in pairs}), len(pairs)


def osv_counts(path: Path) -> tuple[int, int]:
    """(advisories, affected) of one OSV record: one advisory; an entry per ECOSYSTEM range
    interval (each "introduced" opens one) of each affected package, or one for a package given
    by its list of versions alone; nothing for a withdrawn record."""
    doc = json.loads(path.read_text())
    if doc.get("withdrawn"):
        return 0, 0   # a withdrawn record names nothing
    affected = 0
    for entry in doc.get("affected", []):
        ranges = [r for r in entry.get("ranges", []) if r.get("type") == "ECOSYSTEM" and "events" in r]
        affected += sum(1 for r in ranges for e in r["events"] if "introduced" in e)
        if not ranges and entry.get("versions"):
            affected += 1   # only a list of versions: one entry
    return (1 if affected else 0), affected


class Cli:
    def __init__(self, server):
        self.server = server

    def run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(berth_binary()), "advisories", args[0],
               *support_server.store_args(self.server.data_dir), "--data-dir", str(self.server.data_dir),
               *args[1:]]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)

    def status(self) -> dict:
        proc = self.run("status", "--json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def import_ok(self, *paths: Path) -> subprocess.CompletedProcess:
        proc = self.run("import", *map(str, paths))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc


def file_lines(stdout: str) -> dict[str, re.Match]:
    return {m["name"]: m for m in map(FILE_LINE.match, stdout.splitlines()) if m}


def total_line(stdout: str) -> re.Match:
    totals = [m for m in map(TOTAL_LINE.match, stdout.splitlines()) if m]
    assert len(totals) == 1, stdout
    return totals[0]


@pytest.fixture
def cli(server_factory):
    return Cli(server_factory.start())


def test_import_while_serving_counts_match_the_files(cli):
    assert cli.status() == {"version": 0}
    proc = cli.import_ok(OSV)
    lines = file_lines(proc.stdout)
    # Every data file was read, and only those: README.md and SHA256SUMS were skipped, and said so.
    assert sorted(str(Path(n).relative_to(OSV)) for n in lines) == data_files(), proc.stdout
    for skipped in ("README.md", "SHA256SUMS"):
        assert f"{OSV / skipped}: skipped, not advisory data" in proc.stdout, proc.stdout
    checked = 0
    for name, m in lines.items():
        path = Path(name)
        if m["format"] == "alpine-secdb":
            want = alpine_counts(path)
        elif m["format"] == "osv":
            want = osv_counts(path)
        else:
            continue
        assert (int(m["advisories"]), int(m["affected"])) == want, name
        checked += 1
    assert checked == 25 + 10, "the Alpine secdb files and OSV records"
    formats = {m["format"] for m in lines.values()}
    assert formats == {"alpine-secdb", "osv", "debian-tracker-list", "debian-tracker-json"}

    total = total_line(proc.stdout)
    assert int(total["version"]) == 1 and int(total["files"]) == len(lines)
    # Ids repeat across files (one CVE in several releases), so the import's rows are at most the
    # files' sums, and at least their largest.
    assert int(total["affected"]) <= sum(int(m["affected"]) for m in lines.values())
    assert int(total["affected"]) >= max(int(m["affected"]) for m in lines.values())
    status = cli.status()
    assert status["version"] == 1
    assert status["advisories"] == int(total["advisories"]) and status["affected"] == int(total["affected"])
    # The newest date the data names: DSA-5380-1 of 29 Mar 2023 is older than the OSV records'
    # "modified" and the files' times, so it is at least that.
    assert status["produced_at_ms"] >= 1680048000000
    assert str(OSV) in status["sources"]
    # The server went on serving throughout.
    assert requests.get(cli.server.url + "/v2/", timeout=10).status_code in (200, 401)

    again = cli.import_ok(OSV)
    assert int(total_line(again.stdout)["version"]) == 2
    second = cli.status()
    assert second["version"] == 2
    assert (second["advisories"], second["affected"]) == (status["advisories"], status["affected"])

    text = cli.run("status")
    assert text.returncode == 0 and text.stdout.startswith("version 2:"), text.stdout


def test_one_broken_file_imports_nothing(cli, tmp_path):
    cli.import_ok(OSV / "osv-records")
    before = cli.status()
    data = tmp_path / "data"
    shutil.copytree(OSV, data)
    broken = data / "debian-security-tracker" / "data" / "DSA" / "broken-list"
    broken.write_text("[29 Mar 2023] DSA-9999-1 foo - security update\n\tNOTE: x\n[broken header\n")
    proc = cli.run("import", str(data))
    assert proc.returncode != 0, proc.stdout
    assert str(broken) in proc.stderr and "nothing imported" in proc.stderr, proc.stderr
    assert TOTAL_LINE.search(proc.stdout) is None
    assert cli.status() == before


def test_a_named_file_that_is_not_advisory_data_is_refused(cli):
    proc = cli.run("import", str(OSV / "README.md"))
    assert proc.returncode != 0
    assert "not advisory data" in proc.stderr and "nothing imported" in proc.stderr, proc.stderr
    assert cli.status() == {"version": 0}


def test_a_zip_of_the_directory_imports_the_same_counts(cli, tmp_path):
    plain = total_line(cli.import_ok(OSV).stdout)
    archive = tmp_path / "osv.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for path in sorted(OSV.rglob("*")):
            if path.is_file():
                z.write(path, "osv/" + str(path.relative_to(OSV)))
    proc = cli.import_ok(archive)
    zipped = total_line(proc.stdout)
    assert int(zipped["version"]) == 2
    for key in ("files", "advisories", "affected"):
        assert zipped[key] == plain[key], key
    assert f"{archive}:osv/README.md: skipped, not advisory data" in proc.stdout, proc.stdout
    assert f"{archive}:osv/SHA256SUMS: skipped, not advisory data" in proc.stdout, proc.stdout
    names = {str(n).split(":", 1)[1].removeprefix("osv/") for n in file_lines(proc.stdout)}
    assert sorted(names) == data_files()
