"""Running external clients (skopeo, podman, the aws CLI, openssl...) from the tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional


def run_tool(cmd: list[str], timeout: int = 240, check: bool = True, env: Optional[dict] = None,
             input: Optional[str] = None, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """Runs an external client; on failure the assertion carries its output (secrets redacted)."""
    if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
        raise RuntimeError(f"tool {cmd[0]} is not installed")
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {redact(cmd)}\n"
                             f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
    return proc


def redact(cmd: list[str]) -> str:
    """The command line with credential arguments hidden."""
    shown, hide_next = [], False
    for arg in cmd:
        shown.append("***" if hide_next else re.sub(r"^(--(?:src-|dest-)?creds=).*", r"\1***", arg))
        hide_next = arg in ("--creds", "--src-creds", "--dest-creds", "-p", "--password")
    return " ".join(shown)
