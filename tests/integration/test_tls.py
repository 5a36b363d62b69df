"""TLS: a private server with a self-signed certificate for 127.0.0.1."""

import os

import pytest
import requests

from content import describe, get_manifest, push_blob, sha256
from harness import Registry, run_tool

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
