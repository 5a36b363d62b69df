"""A minimal Debian 12 root made by debootstrap (``--variant=minbase``) from this machine's Debian
mirror, for the tests that need a clean Debian system: berth's package is installed into a copy
of it, and its image is built from it.

Bootstrapping takes minutes, mostly waiting on the mirror, so scripts/test.sh starts it in the
background before it builds (``python3 tests/support/debian_root.py``) and the tests wait for
it; a test that runs alone makes it itself. The root is kept under ``build/test-cache/`` and
reused; callers copy it (``cp -a``) before changing anything in it."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.binaries import REPO_ROOT  # noqa: E402

CACHE = REPO_ROOT / "build" / "test-cache"
ROOT = CACHE / "bookworm-minbase"


def debian_mirror() -> str:
    """The first Debian archive URI in apt's sources (deb822 or one-line), else deb.debian.org."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                for uri in line.split()[1:]:
                    if uri.rstrip("/").endswith("/debian"):
                        return uri
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "deb" and parts[1].rstrip("/").endswith("/debian"):
                return parts[1]
    return "http://deb.debian.org/debian"


def minbase_root() -> Path:
    """The pristine bookworm minbase root, made now unless it exists (or waiting for the run that
    is making it). Do not modify it: copy it first."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "bookworm-minbase.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one debootstrap at a time; the others wait for it
        if (ROOT / ".complete").exists():
            return ROOT
        work = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=CACHE))
        cmd = ["debootstrap", "--variant=minbase", "bookworm", str(work / "root"), debian_mirror()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            raise AssertionError(f"debootstrap failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        (work / "root" / ".complete").write_text("")
        shutil.rmtree(ROOT, ignore_errors=True)
        (work / "root").rename(ROOT)
        shutil.rmtree(work, ignore_errors=True)
        return ROOT


if __name__ == "__main__":
    print(minbase_root())
