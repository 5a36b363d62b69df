"""TLS protocol versions and cipher suites, probed with `openssl s_client`.

berth follows Mozilla's "intermediate" profile: TLS 1.3 with OpenSSL's suites, TLS 1.2 only with
forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305), nothing older. Each
probe lowers the client's own security level so that a refusal is the server's doing.
"""

import shutil
import subprocess

import pytest

import harness

pytestmark = pytest.mark.slow

# One handshake per probe; s_client exits as soon as its stdin is empty.
PROBE_TIMEOUT = 20


@pytest.fixture(scope="module")
def tls_server(module_server_factory):
    if harness.TARGET != "berth":
        pytest.skip("the cipher policy is berth's own")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return module_server_factory.start(tls=True, name="tls cipher target")


def handshake(server, *args: str) -> tuple[bool, str]:
    """(whether a TLS session was established, s_client's output)."""
    proc = subprocess.run(
        ["openssl", "s_client", "-connect", server.host, *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    out = proc.stdout + proc.stderr
    established = proc.returncode == 0 and "Cipher is (NONE)" not in out and "Cipher is" in out
    return established, out


@pytest.mark.parametrize("cipher", [
    "AES128-SHA256",                # RSA key exchange: no forward secrecy
    "AES256-GCM-SHA384",            # AEAD, but RSA key exchange
    "ECDHE-RSA-AES128-SHA256",      # forward secret, but CBC
    "ECDHE-RSA-AES256-SHA",         # forward secret, CBC, SHA-1
])
def test_tls12_weak_suites_are_refused(tls_server, cipher):
    ok, out = handshake(tls_server, "-tls1_2", "-cipher", f"{cipher}:@SECLEVEL=0")
    assert not ok, f"TLS 1.2 with {cipher} was accepted:\n{out[-2000:]}"


@pytest.mark.parametrize("cipher", [
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305",
])
def test_tls12_forward_secret_aead_suites_work(tls_server, cipher):
    ok, out = handshake(tls_server, "-tls1_2", "-cipher", cipher)
    assert ok, f"TLS 1.2 with {cipher} failed:\n{out[-2000:]}"
    assert f"Cipher is {cipher}" in out, out[-2000:]


def test_tls13_works(tls_server):
    ok, out = handshake(tls_server, "-tls1_3")
    assert ok, out[-2000:]
    assert "TLSv1.3" in out, out[-2000:]


@pytest.mark.parametrize("version", ["-tls1_1", "-tls1"])
def test_tls_versions_below_12_are_refused(tls_server, version):
    ok, out = handshake(tls_server, version, "-cipher", "DEFAULT:@SECLEVEL=0")
    assert not ok, f"{version} was accepted:\n{out[-2000:]}"
