"""buildah builds an image from scratch with busybox, pushes it, and skopeo pulls it back."""

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from content import DOCKER_MANIFEST, OCI_MANIFEST, get_manifest, media_type_of, sha256
from harness import run_tool
from images import BUSYBOX, busybox_sha256, layer_files, read_layout_ref


@pytest.fixture
def buildah(tmp_path):
    runroot = Path(tempfile.mkdtemp(prefix="berth-buildah-", dir="/tmp"))
    (tmp_path / "auth.json").write_text("{}")
    env = {"REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"), "XDG_CONFIG_HOME": str(tmp_path / "config")}

    def run(*args):
        return run_tool(["buildah", "--root", str(tmp_path / "root"), "--runroot", str(runroot),
                         "--storage-driver", "vfs", *args], env=env)

    yield run
    shutil.rmtree(runroot, ignore_errors=True)


@pytest.mark.parametrize("fmt,media_type", [("oci", OCI_MANIFEST), ("docker", DOCKER_MANIFEST)])
def test_buildah_from_scratch_push_then_pull_has_busybox(registry, repo, buildah, tmp_path, fmt, media_type):
    container = buildah("from", "scratch").stdout.strip()
    buildah("copy", "--chmod", "0755", container, str(BUSYBOX), "/bin/busybox")
    buildah("config", "--entrypoint", '["/bin/busybox"]', "--cmd", "sh", "--os", "linux", "--arch", "amd64",
            "--label", "org.example.built-by=berth-integration", container)
    image_id = buildah("commit", "--format", fmt, container, f"localhost/{repo}:built").stdout.strip().splitlines()[-1]
    creds = ["--creds", registry.skopeo_creds] if registry.skopeo_creds else []
    registry.create_repository(repo)  # ECR's flow: create, then push
    buildah("push", "--tls-verify=false", *creds, "--format", fmt, f"localhost/{repo}:built",
            f"docker://{registry.host}/{repo}:{fmt}")

    r = get_manifest(registry, repo, fmt)
    assert r.status_code == 200, r.text
    assert media_type_of(r) == media_type
    assert r.headers.get("Docker-Content-Digest") == sha256(r.content)
    manifest = json.loads(r.content)
    assert manifest["config"]["digest"].split(":")[1] == image_id

    out = tmp_path / "pulled"
    run_tool(["skopeo", "copy", *registry.skopeo_src_args(), f"docker://{registry.host}/{repo}:{fmt}",
              f"oci:{out}:pulled"])
    pulled = read_layout_ref(out, "pulled")
    config = json.loads(pulled.blob(pulled.json["config"]["digest"]))
    assert config["config"]["Entrypoint"] == ["/bin/busybox"]
    assert config["config"]["Labels"]["org.example.built-by"] == "berth-integration"
    files = {}
    for layer in pulled.json["layers"]:
        blob = pulled.blob(layer["digest"])
        assert sha256(blob) == layer["digest"]
        files.update(layer_files(blob))
    assert "bin/busybox" in files, sorted(files)
    assert sha256(files["bin/busybox"]) == "sha256:" + busybox_sha256()
