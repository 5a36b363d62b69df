"""podman pulling from and pushing to the registry, with private vfs storage."""

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from content import get_manifest, sha256
from harness import run_tool


class Podman:
    def __init__(self, registry, base):
        self.registry = registry
        self.base = base
        (base / "root").mkdir()
        # podman refuses a runroot path longer than 50 characters; pytest's tmp paths are longer.
        self.runroot = Path(tempfile.mkdtemp(prefix="berth-podman-", dir="/tmp"))
        (base / "auth.json").write_text("{}")  # keep podman away from the user's credentials
        self.env = {"REGISTRY_AUTH_FILE": str(base / "auth.json"), "XDG_CONFIG_HOME": str(base / "config"),
                    "CONTAINERS_REGISTRIES_CONF": "/dev/null"}

    def __call__(self, *args, check=True):
        cmd = ["podman", "--root", str(self.base / "root"), "--runroot", str(self.runroot),
               "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", *args]
        return run_tool(cmd, env=self.env, check=check)

    def remote_args(self):
        args = ["--tls-verify=false"]
        return args + (["--creds", self.registry.skopeo_creds] if self.registry.skopeo_creds else [])


@pytest.fixture
def podman(registry, tmp_path):
    p = Podman(registry, tmp_path)
    yield p
    shutil.rmtree(p.runroot, ignore_errors=True)


@pytest.fixture
def seeded(registry, repo, busybox_layout):
    """busybox pushed to ``repo:v1`` with skopeo."""
    image = busybox_layout["busybox"]
    registry.create_repository(repo)  # ECR's flow: create, then push
    run_tool(["skopeo", "copy", *registry.skopeo_dest_args(), image.oci_ref, f"docker://{registry.host}/{repo}:v1"])
    return image


def test_podman_pull_tag_push_and_pull_again(registry, repo, repo_factory, podman, seeded):
    src = f"{registry.host}/{repo}:v1"
    podman("pull", *podman.remote_args(), src)
    inspect = json.loads(podman("image", "inspect", src).stdout)[0]
    assert inspect["Digest"] == seeded.digest
    assert inspect["Id"] == seeded.json["config"]["digest"].split(":")[1]

    dest_repo = repo_factory("pushed")
    dest = f"{registry.host}/{dest_repo}:v2"
    podman("tag", src, dest)
    registry.create_repository(dest_repo)
    podman("push", *podman.remote_args(), dest)

    r = get_manifest(registry, dest_repo, "v2")
    assert r.status_code == 200, r.text
    pushed = json.loads(r.content)
    assert pushed["config"]["digest"] == seeded.json["config"]["digest"], "image config changed on the way"
    for layer in pushed["layers"]:
        blob = registry.get(f"/v2/{dest_repo}/blobs/{layer['digest']}")
        assert blob.status_code == 200 and sha256(blob.content) == layer["digest"]

    podman("rmi", "--all", "--force")
    podman("pull", *podman.remote_args(), dest)
    again = json.loads(podman("image", "inspect", dest).stdout)[0]
    assert again["Id"] == inspect["Id"]
    assert again["Digest"] == r.headers["Docker-Content-Digest"]


def test_podman_pull_by_digest(registry, repo, podman, seeded):
    ref = f"{registry.host}/{repo}@{seeded.digest}"
    podman("pull", *podman.remote_args(), ref)
    inspect = json.loads(podman("image", "inspect", ref).stdout)[0]
    assert inspect["Digest"] == seeded.digest


def test_podman_pull_of_missing_tag_fails(registry, repo, podman, seeded):
    failed = podman("pull", *podman.remote_args(), f"{registry.host}/{repo}:does-not-exist", check=False)
    assert failed.returncode != 0
    assert "manifest unknown" in failed.stderr.lower() or "not found" in failed.stderr.lower(), failed.stderr
