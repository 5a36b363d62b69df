"""TLS: a private server with a self-signed certificate for 127.0.0.1; one presenting a chain
(root CA -> intermediate -> server) to podman, the AWS CLI v2 and requests that trust only the
root; and start-up with certificate or key files berth cannot use."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

import harness
from content import describe, get_manifest, push_blob, sha256
from harness import Registry, ServerProcess, run_tool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tls_registry(module_server_factory):
    server = module_server_factory.start(tls=True, name="tls target")
    return Registry(server)


def cert_dir(reg, tmp_path):
    """A containers/image certificate directory trusting the server's certificate."""
    d = tmp_path / "certs"
    d.mkdir()
    (d / "ca.crt").write_bytes(open(reg.verify, "rb").read())
    return d


def test_tls_v2_answers_over_https_with_the_certificate(tls_registry):
    assert tls_registry.url.startswith("https://127.0.0.1:")
    r = requests.get(tls_registry.url + "/v2/", verify=tls_registry.verify, timeout=30)
    assert r.status_code in (200, 401), describe(r)
    assert r.headers.get("Docker-Distribution-API-Version") == "registry/2.0", describe(r)


def test_tls_certificate_is_not_trusted_by_default(tls_registry):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_registry.url + "/v2/", timeout=30)


def test_tls_plain_http_is_not_served_on_the_tls_port(tls_registry):
    try:
        r = requests.get(f"http://{tls_registry.host}/v2/", timeout=10)
    except requests.exceptions.ConnectionError:
        return
    assert r.status_code not in (200, 401), describe(r)


def test_tls_blob_push_and_pull(tls_registry):
    repo = "tls/blobs"
    data = os.urandom(200_000)
    digest = push_blob(tls_registry, repo, data)
    r = tls_registry.get(f"/v2/{repo}/blobs/{digest}")
    assert r.status_code == 200 and r.content == data, describe(r)
    part = tls_registry.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000], describe(part)


def _creds(reg, flag):
    return [flag, reg.skopeo_creds] if reg.skopeo_creds else []


def test_tls_skopeo_copy_verifying_with_cert_dir(tls_registry, busybox_layout, tmp_path):
    image = busybox_layout["busybox"]
    certs = cert_dir(tls_registry, tmp_path)
    run_tool(["skopeo", "copy", "--dest-cert-dir", str(certs), *_creds(tls_registry, "--dest-creds"),
              image.oci_ref, f"docker://{tls_registry.host}/tls/skopeo:verified"])
    r = get_manifest(tls_registry, "tls/skopeo", "verified")
    assert r.status_code == 200 and r.content == image.body, describe(r)
    out = tmp_path / "out"
    run_tool(["skopeo", "copy", "--src-cert-dir", str(certs), *_creds(tls_registry, "--src-creds"),
              f"docker://{tls_registry.host}/tls/skopeo:verified", f"oci:{out}:back"])
    assert (out / "blobs" / "sha256" / image.digest.split(":")[1]).exists()


def test_tls_skopeo_copy_without_verification(tls_registry, busybox_layout):
    image = busybox_layout["busybox"]
    run_tool(["skopeo", "copy", "--dest-tls-verify=false", *_creds(tls_registry, "--dest-creds"),
              image.oci_ref, f"docker://{tls_registry.host}/tls/skopeo:unverified"])
    r = get_manifest(tls_registry, "tls/skopeo", "unverified")
    assert r.status_code == 200 and sha256(r.content) == image.digest, describe(r)


def test_tls_skopeo_refuses_untrusted_certificate(tls_registry, busybox_layout, tmp_path):
    image = busybox_layout["busybox"]
    empty = tmp_path / "no-certs"
    empty.mkdir()
    failed = run_tool(["skopeo", "copy", "--retry-times", "0", "--dest-cert-dir", str(empty),
                       *_creds(tls_registry, "--dest-creds"), image.oci_ref,
                       f"docker://{tls_registry.host}/tls/skopeo:refused"], check=False)
    assert failed.returncode != 0
    assert "certificate" in failed.stderr.lower() or "x509" in failed.stderr.lower(), failed.stderr


# ---------------------------------------------------------------------------------------------
# A real chain: root CA -> intermediate CA -> server certificate. berth presents the server
# certificate and the intermediate; clients trust only the root.

AWS_V2 = "/usr/bin/aws"  # Debian's awscli package is the AWS CLI v2; an older v1 may come first on PATH


def openssl(*args, cwd):
    run_tool(["openssl", *args], cwd=cwd, timeout=60)


def make_ca_chain(d: Path) -> dict:
    """Root and intermediate CAs and a server certificate for 127.0.0.1 and localhost, in ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
                              "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    (d / "server.ext").write_text("basicConstraints=critical,CA:FALSE\n"
                                  "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                  "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                  "authorityKeyIdentifier=keyid\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=berth test root CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", "root.key", "-out", "root.crt", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=berth test intermediate CA",
            "-keyout", "intermediate.key", "-out", "intermediate.csr", cwd=d)
    openssl("x509", "-req", "-in", "intermediate.csr", "-CA", "root.crt", "-CAkey", "root.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ca.ext", "-out", "intermediate.crt", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "intermediate.crt", "-CAkey", "intermediate.key",
            "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.crt", cwd=d)
    (d / "chain.crt").write_bytes((d / "server.crt").read_bytes() + (d / "intermediate.crt").read_bytes())
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=berth test other CA",
            "-keyout", "other-root.key", "-out", "other-root.crt", cwd=d)
    return {"root": d / "root.crt", "chain": d / "chain.crt", "key": d / "server.key",
            "leaf": d / "server.crt", "intermediate": d / "intermediate.crt", "other_root": d / "other-root.crt"}


class CaServer(ServerProcess):
    """A berth presenting ``chain`` whose clients verify against the root CA alone."""

    def __init__(self, workdir, pki):
        super().__init__(workdir, tls=(pki["chain"], pki["key"]), name="tls target (CA chain)")
        self.root = pki["root"]

    @property
    def verify(self):
        return str(self.root)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_ca_chain(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def ca_registry(tmp_path_factory, pki):
    server = CaServer(tmp_path_factory.mktemp("ca-server"), pki)
    server.start()
    yield Registry(server)
    server.stop()


def create_repository(reg, name):
    """Repositories are made through the ECR API before a push, as on ECR."""
    if harness.TARGET != "berth":
        return
    from ecr_helpers import ecr_client
    ecr_client(reg).create_repository(repositoryName=name)


def test_tls_ca_server_presents_the_intermediate(ca_registry, pki):
    out = run_tool(["openssl", "s_client", "-connect", ca_registry.host, "-servername", "localhost",
                    "-showcerts", "-verify_return_error", "-CAfile", str(pki["root"])], timeout=30).stdout
    assert out.count("-----BEGIN CERTIFICATE-----") == 2, out
    assert "Verify return code: 0 (ok)" in out, out


def test_tls_ca_requests_verifies_with_the_root_alone(ca_registry):
    r = requests.get(ca_registry.url + "/v2/", verify=ca_registry.verify, timeout=30)
    assert r.status_code in (200, 401), describe(r)


class TlsPodman:
    """podman with private vfs storage that trusts only the certificates in ``cert_dir``."""

    def __init__(self, base: Path, cert_dir: Path):
        self.base, self.cert_dir = base, cert_dir
        (base / "root").mkdir(parents=True)
        self.runroot = Path(tempfile.mkdtemp(prefix="berth-podman-", dir="/tmp"))  # podman: at most 50 chars
        (base / "auth.json").write_text("{}")
        self.env = {"REGISTRY_AUTH_FILE": str(base / "auth.json"), "XDG_CONFIG_HOME": str(base / "config"),
                    "CONTAINERS_REGISTRIES_CONF": "/dev/null"}

    def __call__(self, *args, check=True, input=None):
        cmd = ["podman", "--root", str(self.base / "root"), "--runroot", str(self.runroot),
               "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", *args]
        full_env = dict(os.environ, **self.env)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=full_env, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {args[0]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                                 f"{proc.stderr[-3000:]}")
        return proc

    def close(self):
        shutil.rmtree(self.runroot, ignore_errors=True)


@pytest.fixture
def root_cert_dir(pki, tmp_path):
    d = tmp_path / "root-only"
    d.mkdir()
    shutil.copyfile(pki["root"], d / "ca.crt")
    return d


@pytest.fixture
def tls_podman(tmp_path, root_cert_dir):
    if not shutil.which("podman"):
        pytest.skip("podman is not installed")
    p = TlsPodman(tmp_path / "podman", root_cert_dir)
    yield p
    p.close()


def test_tls_ca_podman_login_push_and_pull(ca_registry, tls_podman, busybox_layout):
    reg, podman = ca_registry, tls_podman
    image = busybox_layout["busybox"]
    repo = "tls/podman"
    create_repository(reg, repo)
    certs = ["--cert-dir", str(podman.cert_dir)]
    if reg.auth:
        podman("login", *certs, "-u", reg.auth[0], "--password-stdin", reg.host, input=reg.auth[1])
    local = podman("pull", "-q", image.oci_ref).stdout.split()[-1]
    ref = f"{reg.host}/{repo}:v1"
    podman("tag", local, ref)
    podman("push", *certs, ref)
    r = get_manifest(reg, repo, "v1")
    assert r.status_code == 200, describe(r)
    pushed = json.loads(r.content)
    assert pushed["config"]["digest"] == image.json["config"]["digest"]
    podman("rmi", "--all", "--force")
    podman("pull", *certs, ref)
    inspect = json.loads(podman("image", "inspect", ref).stdout)[0]
    assert inspect["Digest"] == r.headers["Docker-Content-Digest"]


def test_tls_ca_podman_refuses_a_server_it_cannot_verify(ca_registry, tls_podman, tmp_path, pki):
    # (Go, unlike OpenSSL, accepts any trusted certificate as an anchor, the intermediate too.)
    wrong = tmp_path / "other-ca"
    wrong.mkdir()
    shutil.copyfile(pki["other_root"], wrong / "ca.crt")
    failed = tls_podman("pull", "--cert-dir", str(wrong), f"{ca_registry.host}/tls/podman:v1",
                        check=False)
    assert failed.returncode != 0
    assert "x509" in failed.stderr or "certificate" in failed.stderr.lower(), failed.stderr


def aws_cli(reg, tmp_path, *args, ca_bundle=None, check=True, input=None):
    if not Path(AWS_V2).exists():
        pytest.skip(f"{AWS_V2} (AWS CLI v2, Debian's awscli package) is not installed")
    (tmp_path / "aws-config").write_text("")
    (tmp_path / "aws-credentials").write_text("")
    env = {"AWS_ACCESS_KEY_ID": harness.ADMIN_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": harness.ADMIN_SECRET_ACCESS_KEY,
           "AWS_DEFAULT_REGION": harness.AWS_REGION, "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"), "AWS_PAGER": "",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"}
    env = dict(os.environ, **env)
    env.pop("AWS_CA_BUNDLE", None)
    if ca_bundle:
        env["AWS_CA_BUNDLE"] = str(ca_bundle)
    proc = subprocess.run([AWS_V2, "ecr", *args, "--endpoint-url", reg.url, "--output", "json"],
                          capture_output=True, text=True, timeout=120, env=env, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"aws ecr {args[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_tls_ca_aws_cli_v2_manages_the_registry(ca_registry, pki, tmp_path, tls_podman, busybox_layout):
    if harness.TARGET != "berth":
        pytest.skip("the ECR API exists only on berth")
    reg = ca_registry
    version = subprocess.run([AWS_V2, "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith("aws-cli/2."), version.stdout + version.stderr
    repo = "tls/aws-cli"
    created = json.loads(aws_cli(reg, tmp_path, "create-repository", "--repository-name", repo,
                                 ca_bundle=pki["root"]).stdout)
    assert created["repository"]["repositoryName"] == repo
    password = aws_cli(reg, tmp_path, "get-login-password", ca_bundle=pki["root"]).stdout.strip()
    certs = ["--cert-dir", str(tls_podman.cert_dir)]
    tls_podman("login", *certs, "-u", "AWS", "--password-stdin", reg.host, input=password)
    image = busybox_layout["busybox"]
    local = tls_podman("pull", "-q", image.oci_ref).stdout.split()[-1]
    tls_podman("tag", local, f"{reg.host}/{repo}:cli")
    tls_podman("push", *certs, f"{reg.host}/{repo}:cli")
    images = json.loads(aws_cli(reg, tmp_path, "describe-images", "--repository-name", repo,
                                ca_bundle=pki["root"]).stdout)["imageDetails"]
    assert [d.get("imageTags") for d in images] == [["cli"]], images


def test_tls_ca_aws_cli_v2_refuses_an_unverified_server(ca_registry, tmp_path, pki):
    failed = aws_cli(ca_registry, tmp_path, "describe-repositories", check=False)
    assert failed.returncode != 0
    assert "SSL" in failed.stderr or "certificate" in failed.stderr.lower(), failed.stderr
    # Trusting the intermediate alone does not anchor the chain either.
    failed = aws_cli(ca_registry, tmp_path, "describe-repositories", ca_bundle=pki["intermediate"], check=False)
    assert failed.returncode != 0
    assert "SSL" in failed.stderr or "certificate" in failed.stderr.lower(), failed.stderr


# ---------------------------------------------------------------------------------------------
# Start-up with a certificate or key berth cannot use: a clear error naming the file, a non-zero
# exit status, no crash.

def start_berth_expecting_failure(tmp_path, cert, key):
    if harness.TARGET != "berth":
        pytest.skip("berth's own start-up checks")
    cmd = [str(harness.BERTH_BIN), "serve", "--listen", f"127.0.0.1:{harness.free_port()}",
           "--data-dir", str(tmp_path / "data"), "--tls-cert", str(cert), "--tls-key", str(key)]
    env = dict(os.environ, BERTH_ADMIN_ACCESS_KEY_ID=harness.ADMIN_ACCESS_KEY_ID,
               BERTH_ADMIN_SECRET_ACCESS_KEY=harness.ADMIN_SECRET_ACCESS_KEY)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("berth started (or hung) with an unusable certificate/key instead of refusing")
    output = proc.stdout + proc.stderr
    assert proc.returncode > 0, f"exit status {proc.returncode} (negative: killed by a signal):\n{output}"
    assert "Sanitizer" not in output and "terminate called" not in output, output
    return output


def other_key(tmp_path, kind):
    key = tmp_path / f"other-{kind}.key"
    algorithm = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] if kind == "rsa" else \
        ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    run_tool(["openssl", "genpkey", *algorithm, "-out", str(key)], timeout=60)
    return key


@pytest.mark.parametrize("which", ["cert", "key"])
def test_tls_start_refuses_a_missing_file(tmp_path, pki, which):
    missing = tmp_path / f"no-such-{which}.pem"
    cert, key = (missing, pki["key"]) if which == "cert" else (pki["chain"], missing)
    out = start_berth_expecting_failure(tmp_path, cert, key)
    assert str(missing) in out, out
    assert "no such file" in out.lower() or "not found" in out.lower() or "does not exist" in out.lower(), out


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_tls_start_refuses_a_key_of_another_certificate(tmp_path, pki, kind):
    key = other_key(tmp_path, kind)
    out = start_berth_expecting_failure(tmp_path, pki["chain"], key)
    assert str(key) in out, out
    assert "does not match" in out or "mismatch" in out, out


@pytest.mark.parametrize("which", ["cert", "key"])
def test_tls_start_refuses_an_unreadable_file(tmp_path, pki, which):
    # A directory where the file should be: unreadable as a file even for root, who ignores modes.
    unreadable = tmp_path / f"{which}.pem"
    unreadable.mkdir()
    cert, key = (unreadable, pki["key"]) if which == "cert" else (pki["chain"], unreadable)
    out = start_berth_expecting_failure(tmp_path, cert, key)
    assert str(unreadable) in out, out
    assert "is a directory" in out.lower(), out


@pytest.mark.parametrize("which", ["cert", "key"])
def test_tls_start_refuses_a_file_that_is_not_pem(tmp_path, pki, which):
    garbage = tmp_path / f"{which}-garbage.pem"
    garbage.write_text("this is not PEM\n")
    cert, key = (garbage, pki["key"]) if which == "cert" else (pki["chain"], garbage)
    out = start_berth_expecting_failure(tmp_path, cert, key)
    assert str(garbage) in out, out
    assert ("certificate" if which == "cert" else "key") in out.lower(), out
