"""The ECR getting-started walkthrough with real clients: the AWS CLI against berth's ECR API,
and podman, skopeo and docker against its /v2 API with the password from
``aws ecr get-login-password``. The image is busybox from ``/bin/busybox``, packed with umoci.

The AWS CLI is the one Debian 12 installs: package awscli 2.9.19, a v2, at /usr/bin/aws. Debian
12 packages no AWS CLI v1; the v1 test runs when one is found (``BERTH_AWS_CLI_V1``, or any
``aws`` on PATH that reports ``aws-cli/1.``) and is otherwise skipped and listed at the end.
Every other client here is required (``client`` marker, tests/skip_policy.py): if it is missing
or cannot start, the test fails unless ``BERTH_ALLOW_SKIP`` names it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from ecr_content import push_image, read_oci_layout
from ecr_support import ADMIN_KEY, basic, run_tool, unique

pytestmark = pytest.mark.tools

AWS_V2 = "/usr/bin/aws"   # Debian 12's awscli package (v2)
BUSYBOX = Path("/bin/busybox")


# ---------------------------------------------------------------------------------------------
# Fixtures: the image, the CLI environment, podman, docker

@pytest.fixture(scope="module")
def busybox_layout(tmp_path_factory) -> Path:
    """An OCI layout with ref ``busybox``: one layer holding /bin/busybox and /bin/sh."""
    if not shutil.which("umoci") or not BUSYBOX.exists():
        pytest.skip("umoci or /bin/busybox (busybox-static) is missing")
    work = tmp_path_factory.mktemp("busybox")
    layout, bundle = work / "layout", work / "bundle"
    run_tool(["umoci", "init", "--layout", str(layout)])
    run_tool(["umoci", "new", "--image", f"{layout}:base"])
    run_tool(["umoci", "unpack", "--rootless", "--image", f"{layout}:base", str(bundle)])
    bin_dir = bundle / "rootfs" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, bin_dir / "busybox")
    (bin_dir / "busybox").chmod(0o755)
    os.symlink("busybox", bin_dir / "sh")
    (bundle / "rootfs" / "etc").mkdir(exist_ok=True)
    (bundle / "rootfs" / "etc" / "berth-walkthrough").write_text(unique(16) + "\n")
    run_tool(["umoci", "repack", "--image", f"{layout}:base", str(bundle)])
    run_tool(["umoci", "config", "--image", f"{layout}:base", "--tag", "busybox", "--os", "linux",
              "--architecture", "amd64", "--config.entrypoint", "/bin/busybox", "--config.cmd", "sh"])
    run_tool(["umoci", "rm", "--image", f"{layout}:base"])
    run_tool(["umoci", "gc", "--layout", str(layout)])
    return layout


def cli_env(tmp: Path) -> dict:
    """Environment for an AWS CLI that knows nothing but the admin key and the region."""
    config, credentials = tmp / "aws-config", tmp / "aws-credentials"
    config.write_text("")
    credentials.write_text("")
    return {"AWS_ACCESS_KEY_ID": ADMIN_KEY.access_key_id, "AWS_SECRET_ACCESS_KEY": ADMIN_KEY.secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "1"}


class Aws:
    """``aws ecr ...`` with --endpoint-url pointing at berth and JSON output."""

    def __init__(self, binary: str, url: str, env: dict):
        self.binary, self.url, self.env = binary, url, env

    def __call__(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        return run_tool([self.binary, "ecr", *args, "--endpoint-url", self.url, "--output", "json"],
                        env=self.env, check=check, input=input, timeout=120)

    def json(self, *args: str) -> dict:
        return json.loads(self(*args).stdout or "{}")

    def password(self) -> str:
        out = self("get-login-password").stdout
        password = out.strip()
        assert password and "\n" not in password and ":" not in password, out
        return password


@pytest.fixture
def aws(berth, tmp_path) -> Aws:
    if not Path(AWS_V2).exists():
        pytest.skip(f"{AWS_V2} (AWS CLI v2, Debian package awscli) is not installed")
    return Aws(AWS_V2, berth.url, cli_env(tmp_path))


class Podman:
    def __init__(self, base: Path):
        self.base = base
        self.authfile = base / "auth.json"
        self.global_args = ["podman", "--root", str(base / "root"), "--runroot", str(base / "runroot"),
                            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]

    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        return run_tool([*self.global_args, *args], input=input, check=check, timeout=300,
                        env={"REGISTRY_AUTH_FILE": str(self.authfile), "XDG_RUNTIME_DIR": str(self.base / "xdg")})


@pytest.fixture
def podman() -> Podman:
    if not shutil.which("podman"):
        pytest.skip("podman is not installed")
    base = Path("/tmp") / f"berth-api-podman-{unique()}"   # short: podman limits the runroot to 50
    (base / "xdg").mkdir(parents=True)
    p = Podman(base)
    yield p
    p("system", "reset", "--force", check=False)
    subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.fixture
def walk_repo(berth, ecr):
    """A repository name for one walkthrough; the CLI creates it, teardown removes it."""
    name = f"walk/{unique()}"
    yield name
    try:
        ecr.delete_repository(repositoryName=name, force=True)
    except Exception:
        pass


# ---------------------------------------------------------------------------------------------
# AWS CLI v2 + podman

@pytest.mark.client("aws-cli")
@pytest.mark.client("podman")
def test_walkthrough_aws_cli_v2_with_podman(aws, podman, berth, ecr, walk_repo, busybox_layout, tmp_path):
    # 1. Create the repository and find its URI.
    created = aws.json("create-repository", "--repository-name", walk_repo,
                       "--image-scanning-configuration", "scanOnPush=true")["repository"]
    assert created["repositoryName"] == walk_repo
    assert created["imageScanningConfiguration"] == {"scanOnPush": True}
    uri = created["repositoryUri"]
    assert uri.endswith("/" + walk_repo)
    described = aws.json("describe-repositories", "--repository-names", walk_repo)["repositories"]
    assert [r["repositoryUri"] for r in described] == [uri]

    # 2. docker-style login with the CLI's password.
    registry = uri.split("/", 1)[0]
    out = podman("login", "-u", "AWS", "--password-stdin", "--tls-verify=false", "--authfile",
                 str(podman.authfile), registry, input=aws.password()).stdout
    assert "Login Succeeded" in out

    # 3. Bring busybox into podman's storage, tag it with the repository URI, push it.
    image_id = podman("pull", "--quiet", f"oci:{busybox_layout}:busybox").stdout.strip().splitlines()[-1]
    podman("tag", image_id, f"{uri}:v1")
    digest_file = tmp_path / "pushed.digest"
    podman("push", "--tls-verify=false", "--authfile", str(podman.authfile), "--digestfile", str(digest_file),
           f"{uri}:v1")
    digest = digest_file.read_text().strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)

    # 4. The ECR API sees exactly that.
    assert aws.json("list-images", "--repository-name", walk_repo)["imageIds"] == [
        {"imageDigest": digest, "imageTag": "v1"}]

    # 5. Pull it back into empty storage; describe-images shows the image and the pull.
    podman("rmi", "--all", "--force")
    podman("pull", "--tls-verify=false", "--authfile", str(podman.authfile), f"{uri}:v1")
    inspect = json.loads(podman("image", "inspect", f"{uri}:v1").stdout)[0]
    assert inspect["Digest"] == digest
    assert any(d.endswith("@" + digest) for d in inspect["RepoDigests"])
    detail = aws.json("describe-images", "--repository-name", walk_repo)["imageDetails"]
    assert len(detail) == 1
    assert detail[0]["imageDigest"] == digest and detail[0]["imageTags"] == ["v1"]
    assert detail[0]["imageSizeInBytes"] > BUSYBOX.stat().st_size // 4, "the compressed busybox layer"
    assert "imagePushedAt" in detail[0] and "lastRecordedPullTime" in detail[0]

    # 6. Clean up through the CLI.
    deleted = aws.json("batch-delete-image", "--repository-name", walk_repo, "--image-ids", "imageTag=v1")
    assert deleted["imageIds"] == [{"imageDigest": digest, "imageTag": "v1"}] and deleted["failures"] == []
    assert aws.json("delete-repository", "--repository-name", walk_repo, "--force")["repository"][
        "repositoryName"] == walk_repo
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[walk_repo])


@pytest.mark.client("aws-cli")
def test_walkthrough_aws_cli_v2_reports_errors(aws, walk_repo):
    aws.json("create-repository", "--repository-name", walk_repo)
    again = aws("create-repository", "--repository-name", walk_repo, check=False)
    assert again.returncode == 254, (again.returncode, again.stderr)
    assert "RepositoryAlreadyExistsException" in again.stderr
    bad = aws("create-repository", "--repository-name", "Bad/Name", check=False)
    assert bad.returncode == 254 and "InvalidParameterException" in bad.stderr


@pytest.mark.client("aws-cli")
def test_walkthrough_aws_cli_v2_paginates(aws, ecr, walk_repo):
    aws.json("create-repository", "--repository-name", walk_repo)
    digests = {push_image(ecr, walk_repo, f"t{i}").digest for i in range(5)}
    listed = aws.json("list-images", "--repository-name", walk_repo, "--page-size", "2")["imageIds"]
    assert {i["imageDigest"] for i in listed} == digests and len(listed) == 5
    described = aws.json("describe-images", "--repository-name", walk_repo, "--page-size", "2")["imageDetails"]
    assert {d["imageDigest"] for d in described} == digests


# ---------------------------------------------------------------------------------------------
# AWS CLI v2 + skopeo

@pytest.mark.client("aws-cli")
@pytest.mark.client("skopeo")
def test_walkthrough_aws_cli_v2_with_skopeo(aws, berth, walk_repo, busybox_layout, tmp_path):
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    uri = aws.json("create-repository", "--repository-name", walk_repo)["repository"]["repositoryUri"]
    creds = f"AWS:{aws.password()}"
    source_digest, source_manifest = read_oci_layout(busybox_layout, "busybox")
    digest_file = tmp_path / "digest"
    run_tool(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", creds,
              "--digestfile", str(digest_file), f"oci:{busybox_layout}:busybox", f"docker://{uri}:v1"])
    digest = digest_file.read_text().strip()
    assert digest == source_digest, "an OCI image goes up unchanged"
    assert aws.json("list-images", "--repository-name", walk_repo)["imageIds"] == [
        {"imageDigest": digest, "imageTag": "v1"}]
    inspect = json.loads(run_tool(["skopeo", "inspect", "--tls-verify=false", "--creds", creds,
                                   f"docker://{uri}:v1"]).stdout)
    assert inspect["Digest"] == digest and inspect["Architecture"] == "amd64"
    back = tmp_path / "back"
    run_tool(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--src-creds", creds,
              f"docker://{uri}:v1", f"oci:{back}:v1"])
    assert read_oci_layout(back, "v1") == (source_digest, source_manifest)
    wrong = run_tool(["skopeo", "inspect", "--tls-verify=false", "--creds", "AWS:wrong", f"docker://{uri}:v1"],
                     check=False)
    assert wrong.returncode != 0


# ---------------------------------------------------------------------------------------------
# AWS CLI v1, where one is installed (Debian 12 packages none)

def find_aws_cli_v1(env: dict) -> tuple[str | None, str]:
    """(path of a working AWS CLI v1, or None; what was found). ``BERTH_AWS_CLI_V1`` names one
    explicitly (then it must work); else every ``aws`` on PATH is asked for its version."""
    explicit = os.environ.get("BERTH_AWS_CLI_V1")
    candidates = [explicit] if explicit else []
    if not explicit:
        for directory in os.environ.get("PATH", "").split(os.pathsep):
            path = Path(directory or ".") / "aws"
            if path.is_file() and os.access(path, os.X_OK) and str(path) not in candidates:
                candidates.append(str(path))
    seen = []
    for binary in candidates:
        proc = subprocess.run([binary, "--version"], capture_output=True, text=True, env={**os.environ, **env})
        version = (proc.stdout + proc.stderr).strip()
        if proc.returncode == 0 and version.startswith("aws-cli/1."):
            return binary, version
        seen.append(f"{binary}: {version[:60] or proc.returncode}")
    if explicit:
        raise AssertionError(f"BERTH_AWS_CLI_V1={explicit} is not a working AWS CLI v1: {seen}")
    return None, "; ".join(seen) or "no aws on PATH"


def test_walkthrough_aws_cli_v1(berth, walk_repo, tmp_path):
    env = cli_env(tmp_path)
    binary, found = find_aws_cli_v1(env)
    if binary is None:
        pytest.skip(f"no AWS CLI v1 installed (Debian 12 packages only v2; found {found})")
    aws = Aws(binary, berth.url, env)
    created = aws.json("create-repository", "--repository-name", walk_repo)["repository"]
    assert created["repositoryName"] == walk_repo
    password = aws.password()
    assert requests.get(berth.url + "/v2/", headers={"Authorization": basic(password)}, timeout=30).status_code == 200
    missing = aws("describe-repositories", "--repository-names", walk_repo + "-nope", check=False)
    assert missing.returncode == 255 and "RepositoryNotFoundException" in missing.stderr
    aws.json("delete-repository", "--repository-name", walk_repo)


# ---------------------------------------------------------------------------------------------
# AWS CLI v2 + docker (when a private dockerd can start here)

class Dockerd:
    def __init__(self, base: Path, insecure: str):
        self.base = base
        self.sock = base / "docker.sock"
        self.log = base / "dockerd.log"
        self.proc = None
        self.insecure = insecure
        self.env = {"DOCKER_HOST": f"unix://{self.sock}", "DOCKER_CONFIG": str(base / "client")}

    def start(self) -> str | None:
        """Starts dockerd; returns None on success, else why it could not start."""
        binary = shutil.which("dockerd")
        if not binary or not Path("/usr/bin/docker").exists():
            return "dockerd or /usr/bin/docker is not installed"
        (self.base / "client").mkdir(parents=True, exist_ok=True)
        cmd = [binary, "--storage-driver=vfs", "--iptables=false", "--bridge=none", "--ip-masq=false",
               "--data-root", str(self.base / "data"), "--exec-root", str(self.base / "exec"),
               "--pidfile", str(self.base / "dockerd.pid"), "--host", f"unix://{self.sock}",
               "--insecure-registry", self.insecure]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"dockerd exited with {self.proc.returncode}: {self.log.read_text()[-800:]}"
            if self.sock.exists() and self.docker("version", check=False).returncode == 0:
                return None
            time.sleep(0.3)
        return f"dockerd did not answer within 40 s: {self.log.read_text()[-800:]}"

    def docker(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        return run_tool(["/usr/bin/docker", *args], env=self.env, check=check, input=input, timeout=300)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)   # dockerd and the containerd it started
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def dockerd(berth, tmp_path_factory):
    base = Path("/tmp") / f"berth-api-docker-{unique()}"   # short: unix socket paths are limited
    base.mkdir()
    daemon = Dockerd(base, berth.host)
    reason = daemon.start()
    if reason:
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"cannot start a private dockerd here: {reason}")
    yield daemon
    daemon.stop()
    subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.mark.client("aws-cli")
@pytest.mark.client("docker")
def test_walkthrough_aws_cli_v2_with_docker(aws, dockerd, berth, walk_repo, busybox_layout, tmp_path):
    uri = aws.json("create-repository", "--repository-name", walk_repo)["repository"]["repositoryUri"]
    registry = uri.split("/", 1)[0]
    out = dockerd.docker("login", "-u", "AWS", "--password-stdin", registry, input=aws.password()).stdout
    assert "Login Succeeded" in out
    archive = tmp_path / "busybox.tar"
    run_tool(["skopeo", "copy", "--quiet", f"oci:{busybox_layout}:busybox",
              f"docker-archive:{archive}:busybox-walk:latest"])
    dockerd.docker("load", "-i", str(archive))
    dockerd.docker("tag", "busybox-walk:latest", f"{uri}:v1")
    pushed = dockerd.docker("push", f"{uri}:v1").stdout
    match = re.search(r"v1: digest: (sha256:[0-9a-f]{64}) size: \d+", pushed)
    assert match, pushed
    digest = match.group(1)
    detail = aws.json("describe-images", "--repository-name", walk_repo)["imageDetails"]
    assert [(d["imageDigest"], d["imageTags"]) for d in detail] == [(digest, ["v1"])]
    assert detail[0]["imageManifestMediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    # Pushing again is a no-op success for docker.
    assert "Layer already exists" in dockerd.docker("push", f"{uri}:v1").stdout
    dockerd.docker("rmi", f"{uri}:v1", "busybox-walk:latest")
    dockerd.docker("pull", f"{uri}:v1")
    repo_digests = json.loads(dockerd.docker("image", "inspect", f"{uri}:v1").stdout)[0]["RepoDigests"]
    assert f"{uri}@{digest}" in repo_digests
    dockerd.docker("logout", registry)
    denied = dockerd.docker("pull", f"{uri}:v1-nope", check=False)
    assert denied.returncode != 0
