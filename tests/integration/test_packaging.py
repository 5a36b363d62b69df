"""berth installed like a service: `make install`'s layout (cmake --install, PREFIX and DESTDIR),
the Debian package (scripts/make-deb.sh) installed with apt into a clean Debian 12 root made by
debootstrap and started from its systemd unit's command line, removed and purged cleanly, and the
OCI image (scripts/make-image.sh) built from that package, run with podman and a data volume.

Needs root (debootstrap, chroot, podman) and Debian's mirror, as the test command has them."""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests

from support.binaries import BERTH_BIN, REPO_ROOT
from support.debian_root import minbase_root
from support.ports import free_port
from support.tools import run_tool



@pytest.fixture(autouse=True, scope="module")
def _needs_root():
    assert os.geteuid() == 0, "the packaging tests need root (debootstrap, chroot, podman), as the test command has"


def _build_dir() -> Path:
    return Path(BERTH_BIN).resolve().parent


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("deb")
    proc = run_tool([str(REPO_ROOT / "scripts" / "make-deb.sh"), "--binary", str(BERTH_BIN), "--out", str(out)],
                    timeout=600)
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.name.endswith(".deb"), proc.stdout
    return path


@pytest.fixture(scope="module")
def clean_root() -> Path:
    """A minimal Debian 12 root (debootstrap minbase); each test works on its own copy."""
    return minbase_root()


def _copy_root(clean_root: Path, dest: Path) -> Path:
    run_tool(["cp", "-a", str(clean_root), str(dest)], timeout=300)
    return dest


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _wait_for_v2(port: int, proc: subprocess.Popen | None = None, timeout: float = 60) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"berth exited with {proc.returncode}: {proc.stderr.read()[-3000:]}")
        try:
            return requests.get(f"http://127.0.0.1:{port}/v2/", timeout=5)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# --- make install ---------------------------------------------------------------------------

def _install(destdir: Path, prefix: str) -> None:
    run_tool(["cmake", "--install", str(_build_dir()), "--prefix", prefix, "--strip"],
             env={"DESTDIR": str(destdir)}, timeout=300)


def test_install_lays_out_binary_unit_and_config_for_usr(tmp_path):
    _install(tmp_path, "/usr")
    binary = tmp_path / "usr/bin/berth"
    assert os.access(binary, os.X_OK)
    assert "berth" in run_tool([str(binary), "--version"]).stdout
    unit = (tmp_path / "lib/systemd/system/berth.service").read_text()
    assert "ExecStart=/usr/bin/berth serve --config /etc/berth/berth.yaml\n" in unit
    config = tmp_path / "etc/berth/berth.yaml"
    assert _mode(config) == 0o640
    assert "listen: 127.0.0.1:5000" in config.read_text()  # reachable from this machine only
    # The unit's sandbox is what the README promises.
    for line in ("User=berth", "ProtectSystem=strict", "StateDirectory=berth", "NoNewPrivileges=yes",
                 "CapabilityBoundingSet=\n"):
        assert line in unit, line
    # systemd itself accepts the unit (checked on this machine, with ExecStart pointing at the
    # staged binary, since systemd-analyze checks that the program exists).
    check = tmp_path / "verify" / "berth.service"
    check.parent.mkdir()
    check.write_text(unit.replace("ExecStart=/usr/bin/berth ", f"ExecStart={binary} "))
    proc = run_tool(["systemd-analyze", "verify", str(check)], check=False)
    assert proc.returncode == 0 and "berth.service" not in proc.stderr, proc.stdout + proc.stderr


def test_install_under_another_prefix_keeps_everything_there_and_the_operators_config(tmp_path):
    _install(tmp_path, "/opt/berth")
    unit = (tmp_path / "opt/berth/lib/systemd/system/berth.service").read_text()
    assert "ExecStart=/opt/berth/bin/berth serve --config /opt/berth/etc/berth/berth.yaml\n" in unit
    config = tmp_path / "opt/berth/etc/berth/berth.yaml"
    config.write_text("listen: 127.0.0.1:6000\n")
    _install(tmp_path, "/opt/berth")  # an upgrade
    assert config.read_text() == "listen: 127.0.0.1:6000\n"
    assert not (tmp_path / "etc").exists() and not (tmp_path / "usr").exists()


# --- the Debian package ---------------------------------------------------------------------

def _chroot(root: Path, *cmd: str, check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
    return run_tool(["chroot", str(root), "env", "DEBIAN_FRONTEND=noninteractive", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                     *cmd], check=check, timeout=timeout)


def _owner(root: Path, path: str) -> tuple[str, str]:
    out = _chroot(root, "stat", "-c", "%U %G", path).stdout.split()
    return out[0], out[1]


def test_deb_installs_in_a_clean_debian_root_starts_from_its_unit_and_removes_cleanly(tmp_path, deb, clean_root):
    root = _copy_root(clean_root, tmp_path / "root")
    shutil.copy(deb, root / "tmp" / deb.name)
    # As on any fresh machine: apt fetches the package's dependencies from the Debian mirror.
    _chroot(root, "apt-get", "update", timeout=600)
    _chroot(root, "apt-get", "install", "-y", "--no-install-recommends", f"/tmp/{deb.name}", timeout=600)
    assert "install ok installed" in _chroot(root, "dpkg-query", "-W", "-f=${Status}", "berth").stdout
    # The licence, in Debian's machine-readable form, pointing at the system's copy of its text.
    copyright_text = (root / "usr/share/doc/berth/copyright").read_text()
    assert "License: Apache-2.0" in copyright_text and "/usr/share/common-licenses/Apache-2.0" in copyright_text

    # A system user of its own, a private data directory, a configuration only berth can read.
    passwd = _chroot(root, "getent", "passwd", "berth").stdout.strip().split(":")
    assert int(passwd[2]) < 1000 and passwd[6] in ("/usr/sbin/nologin", "/bin/false"), passwd
    assert _owner(root, "/var/lib/berth") == ("berth", "berth") and _mode(root / "var/lib/berth") == 0o750
    assert _owner(root, "/etc/berth/berth.yaml") == ("root", "berth")
    assert _mode(root / "etc/berth/berth.yaml") == 0o640 and _mode(root / "etc/berth") == 0o750

    # Start berth as its unit does (same user, same command line), on a free port.
    unit = (root / "lib/systemd/system/berth.service").read_text()
    exec_start = next(line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ExecStart="))
    port = free_port()
    (root / "proc").mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    try:
        proc = subprocess.Popen(["chroot", "--userspec=berth:berth", str(root), *shlex.split(exec_start),
                                 "--listen", f"127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            response = _wait_for_v2(port, proc)
            assert response.status_code == 401  # nothing without credentials
            # The admin key berth wrote on first start is the berth user's alone.
            credentials = root / "var/lib/berth/admin.credentials"
            assert credentials.is_file() and _mode(credentials) == 0o600
            assert _owner(root, "/var/lib/berth/admin.credentials") == ("berth", "berth")
            world_readable = [p for p in (root / "var/lib/berth").rglob("*") if _mode(p) & 0o004]
            assert world_readable == []
        finally:
            proc.send_signal(signal.SIGTERM)  # the unit's KillSignal: drains, then exits
            assert proc.wait(timeout=60) == 0, proc.stderr.read()[-3000:]
    finally:
        subprocess.run(["umount", str(root / "proc")], check=False)

    # Remove: the program goes, the configuration (a conffile) and the data stay.
    _chroot(root, "apt-get", "remove", "-y", "berth")
    assert not (root / "usr/bin/berth").exists()
    assert not (root / "lib/systemd/system/berth.service").exists()
    assert (root / "etc/berth/berth.yaml").exists()
    assert (root / "var/lib/berth/admin.credentials").exists()
    # Purge: the configuration goes too; a registry's data is never deleted by the package manager.
    _chroot(root, "dpkg", "--purge", "berth")
    assert not (root / "etc/berth").exists()
    assert (root / "var/lib/berth/admin.credentials").exists()
    assert _chroot(root, "dpkg-query", "-W", "berth", check=False).returncode != 0


# --- the OCI image --------------------------------------------------------------------------

# The test machine's root lacks CAP_SYS_RESOURCE and runs cgroups in hybrid mode: podman's default
# rlimits cannot be set there, and crun refuses hybrid cgroups. So the container runs under runc
# with limits at or below the current ones. Nothing about the image depends on this.
_NOFILE = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
_CONTAINER_LIMITS = ["--runtime", "runc", "--ulimit", f"nofile={_NOFILE}:{_NOFILE}", "--ulimit", "nproc=4096:4096"]


def test_oci_image_built_from_the_package_runs_with_a_data_volume(tmp_path, deb, clean_root):
    archive = tmp_path / "berth-image.tar"
    run_tool([str(REPO_ROOT / "scripts" / "make-image.sh"), "--deb", str(deb), "--rootfs", str(clean_root),
              "--out", str(archive)], timeout=900)
    loaded = run_tool(["podman", "load", "-q", "-i", str(archive)], timeout=300).stdout
    image = loaded.strip().splitlines()[-1].split(":", 1)[1].strip()  # "Loaded image: NAME"
    volume = f"berth-test-{os.getpid()}-{free_port()}"
    name = f"berth-image-test-{os.getpid()}"
    port = free_port()
    try:
        run_tool(["podman", "volume", "create", volume])
        config = run_tool(["podman", "image", "inspect", "--format",
                           "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Volumes}}", image]).stdout
        assert config.startswith("berth:berth ") and '"/usr/bin/berth","serve"' in config
        assert "/var/lib/berth" in config
        run_tool(["podman", "run", "-d", "--name", name, *_CONTAINER_LIMITS, "--network", "host",
                  "-v", f"{volume}:/var/lib/berth", image, "--listen", f"127.0.0.1:{port}",
                  "--data-dir", "/var/lib/berth"], timeout=120)
        response = _wait_for_v2(port)
        assert response.status_code == 401
        # The admin key went into the volume, readable by berth only.
        listing = run_tool(["podman", "exec", name, "stat", "-c", "%U %a %n",
                            "/var/lib/berth/admin.credentials"]).stdout.split()
        assert listing[:2] == ["berth", "600"], listing
    finally:
        run_tool(["podman", "rm", "-f", "-t", "5", name], check=False)
        run_tool(["podman", "volume", "rm", "-f", volume], check=False)
        run_tool(["podman", "rmi", "-f", image], check=False)
