"""Request framing over raw sockets: ambiguous or malformed messages get 400 and a closed
connection, never a retryable 5xx and never silence.

A front proxy and berth must agree on where a request ends. Anything they could read
differently (Content-Length with Transfer-Encoding, two different Content-Lengths, a broken
chunk) is refused outright, and the connection is closed because its framing is lost.
"""

import socket
import time
from urllib.parse import urlsplit

import pytest

import harness
from content import OCTET, sha256, start_upload

# Every test sends at most a few kilobytes and waits at most this long for the server.
TIMEOUT = 10.0


def raw_exchange(reg, data: bytes) -> tuple[bytes, bool]:
    """Send `data` on a fresh connection; return (everything received, whether the server
    closed the connection within TIMEOUT)."""
    parts = urlsplit(reg.url)
    assert parts.scheme == "http", "raw sockets speak plain HTTP only"
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                return received, False
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk


def status_of(response: bytes) -> int:
    line = response.split(b"\r\n", 1)[0]
    assert line.startswith(b"HTTP/1."), f"no HTTP response, got {response[:200]!r}"
    return int(line.split()[1])


def head(reg, request_line: str, headers: list[tuple[str, str]], with_host: bool = True) -> bytes:
    lines = [request_line]
    if with_host:
        lines.append(f"Host: {reg.host}")
    lines += [f"{k}: {v}" for k, v in reg.auth_header().items()]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_refused_and_closed(reg, data: bytes):
    response, closed = raw_exchange(reg, data)
    assert status_of(response) == 400, response[:300]
    assert closed, f"the connection stayed open after {response[:100]!r}"
    return response


# --- the header alone decides ------------------------------------------------------------------

@pytest.mark.parametrize("framing", [
    [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
    [("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
    [("Transfer-Encoding", "gzip"), ("Content-Length", "5")],
    [("Transfer-Encoding", "chunked, gzip")],
    [("Content-Length", "5"), ("Content-Length", "6")],
    [("Content-Length", "5, 6")],
    [("Content-Length", "-1")],
    [("Content-Length", "five")],
], ids=["cl-then-te", "te-then-cl", "te-gzip-with-cl", "te-not-ending-chunked", "two-cls", "cl-list",
        "negative-cl", "non-numeric-cl"])
def test_framing_ambiguous_length_is_400_and_closes(registry, repo, framing):
    data = head(registry, f"POST /v2/{repo}/blobs/uploads/ HTTP/1.1",
                [("Content-Type", OCTET), *framing]) + b"5\r\nhello\r\n0\r\n\r\n"
    assert_refused_and_closed(registry, data)


def test_framing_same_content_length_twice_is_accepted(registry):
    """RFC 9110 §8.6 lets a recipient accept a repeated identical value; only differing ones are
    ambiguous."""
    data = head(registry, "GET /v2/ HTTP/1.1", [("Content-Length", "0"), ("Content-Length", "0"),
                                                ("Connection", "close")])
    response, _ = raw_exchange(registry, data)
    assert status_of(response) in (200, 401), response[:300]


def test_framing_http11_without_host_is_400(registry):
    data = head(registry, "GET /v2/ HTTP/1.1", [], with_host=False)
    assert_refused_and_closed(registry, data)


def test_framing_two_host_headers_are_400(registry):
    data = head(registry, "GET /v2/ HTTP/1.1", [("Host", "elsewhere.example")])
    assert_refused_and_closed(registry, data)


def test_framing_http10_without_host_is_served(registry):
    data = head(registry, "GET /v2/ HTTP/1.0", [], with_host=False)
    response, _ = raw_exchange(registry, data)
    assert status_of(response) in (200, 401), response[:300]


# --- a malformed chunked body -----------------------------------------------------------------

BAD_CHUNKS = {
    "non-hex-size": b"zz\r\nhello\r\n0\r\n\r\n",
    "missing-crlf": b"5\r\nhelloXX0\r\n\r\n",
    "size-overflow": b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("body", BAD_CHUNKS.values(), ids=BAD_CHUNKS.keys())
def test_framing_bad_chunk_in_upload_is_400_not_503(registry, repo, body):
    location = urlsplit(start_upload(registry, repo))
    path = location.path + (f"?{location.query}" if location.query else "")
    data = head(registry, f"PATCH {path} HTTP/1.1",
                [("Content-Type", OCTET), ("Transfer-Encoding", "chunked")]) + body
    response = assert_refused_and_closed(registry, data)
    assert b"BLOB_UPLOAD_INVALID" in response, response[:300]


@pytest.mark.parametrize("body", BAD_CHUNKS.values(), ids=BAD_CHUNKS.keys())
def test_framing_bad_chunk_in_monolithic_push_is_400(registry, repo, body):
    data = head(registry, f"POST /v2/{repo}/blobs/uploads/?digest={sha256(b'hello')} HTTP/1.1",
                [("Content-Type", OCTET), ("Transfer-Encoding", "chunked")]) + body
    assert_refused_and_closed(registry, data)


def ecr_chunked_request(registry, body: bytes, authorization: str | None) -> bytes:
    lines = ["POST / HTTP/1.1", f"Host: {registry.host}",
             "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
             "Content-Type: application/x-amz-json-1.1", "Transfer-Encoding: chunked"]
    if authorization is not None:
        lines += [f"X-Amz-Date: {time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}",
                  f"Authorization: {authorization}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize("body", BAD_CHUNKS.values(), ids=BAD_CHUNKS.keys())
def test_framing_bad_chunk_without_credentials_is_refused_from_the_head(registry, body):
    """No credentials: refused from the request head, before the broken body is read, with
    the caller's error (400), never a 500, and the connection closed."""
    if harness.TARGET != "berth":
        pytest.skip("the ECR API exists only on berth")
    response = assert_refused_and_closed(registry, ecr_chunked_request(registry, body, None))
    assert b"MissingAuthenticationTokenException" in response, response[:300]


@pytest.mark.parametrize("body", BAD_CHUNKS.values(), ids=BAD_CHUNKS.keys())
def test_framing_bad_chunk_before_ecr_signature_check_is_400(registry, body):
    """Credentials whose head checks pass (a known key, the right date and scope) make berth read
    the body before it can verify the signature: a broken body is still the caller's error."""
    if harness.TARGET != "berth":
        pytest.skip("the ECR API exists only on berth")
    day = time.strftime("%Y%m%d", time.gmtime())
    authorization = (f"AWS4-HMAC-SHA256 Credential={harness.ADMIN_ACCESS_KEY_ID}/{day}/"
                     f"{harness.AWS_REGION}/ecr/aws4_request, "
                     "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64)
    response = assert_refused_and_closed(registry, ecr_chunked_request(registry, body, authorization))
    assert b"SerializationException" in response, response[:300]


def test_framing_well_formed_chunked_upload_still_works(registry, repo):
    payload = b"hello, chunked world"
    location = urlsplit(start_upload(registry, repo))
    path = location.path + (f"?{location.query}&" if location.query else "?") + f"digest={sha256(payload)}"
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    data = head(registry, f"PUT {path} HTTP/1.1",
                [("Content-Type", OCTET), ("Transfer-Encoding", "chunked"), ("Connection", "close")]) + body
    response, _ = raw_exchange(registry, data)
    assert status_of(response) == 201, response[:300]
