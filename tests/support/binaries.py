"""Where the berth binary under test is: ``BERTH_BIN``, or ``<repo>/build/berth``."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
BERTH_BIN = Path(os.environ.get("BERTH_BIN", REPO_ROOT / "build" / "berth"))

_PRIVATE_COPY: Optional[Path] = None


def private_berth_copy() -> Path:
    """A private copy of ``BERTH_BIN``, made once per run, so that a rebuild while a suite runs
    cannot swap (or truncate) the binary under its servers and ``berth admin`` calls."""
    global _PRIVATE_COPY
    if _PRIVATE_COPY is None:
        deadline = time.monotonic() + 180
        while True:  # wait for a build in progress to finish writing the file
            try:
                before = BERTH_BIN.stat()
                time.sleep(0.5)
                after = BERTH_BIN.stat()
                if os.access(BERTH_BIN, os.X_OK) and (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size):
                    break
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"berth binary {BERTH_BIN} is missing or not executable; build it or set BERTH_BIN")
            time.sleep(1)
        directory = Path(tempfile.mkdtemp(prefix="berth-test-bin-"))
        atexit.register(shutil.rmtree, directory, True)
        copy = directory / "berth"
        shutil.copy2(BERTH_BIN, copy)
        _PRIVATE_COPY = copy
    return _PRIVATE_COPY
