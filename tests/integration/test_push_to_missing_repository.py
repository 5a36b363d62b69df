"""A push to a repository that does not exist: refused by default with NAME_UNKNOWN and a message
that says how to create it (ECR's behaviour), created on the fly with ``--create-on-push``.

These tests start their own berth; the shared session server runs with ``--create-on-push`` for
the generic protocol suites (harness.py)."""

import shutil
import tempfile
from pathlib import Path

import pytest

from content import make_image, push_image, push_manifest, sha256, unique
from ecr_helpers import ecr_client, log_records, require_berth
from harness import Registry, run_tool


@pytest.fixture
def strict(server_factory):
    """A berth with its default: no repository is created by a push."""
    require_berth()
    server = server_factory.start(create_on_push=False, name="berth (default, no create on push)")
    return Registry(server)


@pytest.fixture
def lenient(server_factory):
    require_berth()
    server = server_factory.start(create_on_push=True, name="berth (--create-on-push)")
    return Registry(server)


def name_unknown_message(r) -> str:
    assert r.status_code == 404, (r.status_code, r.text)
    errors = r.json()["errors"]
    assert errors[0]["code"] == "NAME_UNKNOWN", errors
    return errors[0]["message"]


def test_push_to_missing_repository_blob_upload_is_name_unknown(strict):
    name = f"it/missing-{unique()}"
    message = name_unknown_message(strict.post(f"/v2/{name}/blobs/uploads/"))
    assert f"repository '{name}' does not exist" in message, message
    assert f"aws ecr create-repository --repository-name {name}" in message, message
    data = b"monolithic bytes " + unique().encode()
    name_unknown_message(strict.post(f"/v2/{name}/blobs/uploads/?digest={sha256(data)}", data=data,
                                     headers={"Content-Type": "application/octet-stream"}))
    ecr = ecr_client(strict)
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[name])


def test_push_to_missing_repository_manifest_put_is_name_unknown(strict):
    name = f"it/missing-{unique()}"
    r = push_manifest(strict, name, "v1", make_image(), expect=None)
    assert "create-repository" in name_unknown_message(r)
    assert strict.get("/v2/_catalog").json().get("repositories") in ([], None)


def test_push_after_create_repository_works(strict):
    name = f"it/created-{unique()}"
    ecr_client(strict).create_repository(repositoryName=name)
    image = make_image()
    r = push_image(strict, name, image, "v1")
    assert r.headers["Docker-Content-Digest"] == image.digest


def test_skopeo_push_to_missing_repository_fails_clearly(strict, busybox_layout):
    name = f"it/missing-{unique()}"
    image = busybox_layout["busybox"]
    out = run_tool(["skopeo", "copy", "--retry-times", "0", *strict.skopeo_dest_args(), image.oci_ref,
                    f"docker://{strict.host}/{name}:v1"], check=False)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "does not exist" in text and "create-repository" in text, text[-2000:]


def test_podman_push_to_missing_repository_fails_clearly(strict, busybox_layout, tmp_path):
    if not shutil.which("podman"):
        pytest.skip("podman is not installed")
    runroot = Path(tempfile.mkdtemp(prefix="berth-podman-", dir="/tmp"))  # podman limits its length
    (tmp_path / "root").mkdir()
    (tmp_path / "auth.json").write_text("{}")
    env = {"REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "CONTAINERS_REGISTRIES_CONF": "/dev/null"}
    podman = ["podman", "--root", str(tmp_path / "root"), "--runroot", str(runroot), "--storage-driver", "vfs",
              "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
    try:
        image_id = run_tool([*podman, "pull", "--quiet", busybox_layout["busybox"].oci_ref],
                            env=env).stdout.strip().splitlines()[-1]
        name = f"it/missing-{unique()}"
        out = run_tool([*podman, "push", "--tls-verify=false", "--creds", strict.skopeo_creds, image_id,
                        f"{strict.host}/{name}:v1"], env=env, check=False)
        assert out.returncode != 0
        text = out.stdout + out.stderr
        assert "does not exist" in text and "create-repository" in text, text[-2000:]
    finally:
        shutil.rmtree(runroot, ignore_errors=True)


def test_create_on_push_creates_and_logs(lenient):
    name = f"it/created-on-push-{unique()}"
    r = lenient.post(f"/v2/{name}/blobs/uploads/")
    assert r.status_code == 202, (r.status_code, r.text)
    repos = ecr_client(lenient).describe_repositories(repositoryNames=[name])["repositories"]
    assert [x["repositoryName"] for x in repos] == [name]
    created = [rec for rec in log_records(lenient.server, "created a repository on push")
               if rec.get("repository") == name]
    assert len(created) == 1, created
    # A second push to it creates nothing more.
    assert lenient.post(f"/v2/{name}/blobs/uploads/").status_code == 202
    assert len([rec for rec in log_records(lenient.server, "created a repository on push")
                if rec.get("repository") == name]) == 1
