"""HTTP-level behaviour: keep-alive after refused requests, and concurrent writers on one repository."""

import http.client
import os
import threading
from urllib.parse import urlsplit

import pytest

from content import (OCI_MANIFEST, OCTET, describe, get_manifest, make_image, push_blob, push_image,
                     push_manifest, sha256, start_upload, with_query)
from harness import Registry


def two_requests_on_one_connection(registry, method, path, body, headers):
    """Send a refused request with a body, then GET /v2/ on the same keep-alive connection.
    Returns (first status, second status or None if the server closed the connection)."""
    parts = urlsplit(registry.url)
    assert parts.scheme == "http"
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    auth = registry.auth_header()
    try:
        conn.request(method, path, body=body, headers={**headers, **auth})
        first = conn.getresponse()
        first.read()
        try:
            conn.request("GET", "/v2/", headers=auth)
            second = conn.getresponse()
            second.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            return first.status, None  # closing is fine; answering the leftover body is not
        return first.status, second.status
    finally:
        conn.close()


BODY = os.urandom(64 * 1024)


@pytest.mark.parametrize("case", ["unknown-upload", "invalid-name", "wrong-digest", "invalid-manifest"])
def test_http_refused_request_body_does_not_corrupt_keepalive(registry, repo, case):
    if case == "unknown-upload":
        start_upload(registry, repo)
        req = ("PATCH", f"/v2/{repo}/blobs/uploads/00000000-0000-4000-8000-000000000000", BODY,
               {"Content-Type": OCTET}, 404)
    elif case == "invalid-name":
        req = ("POST", f"/v2/{repo}/bad..dots/blobs/uploads/?digest={sha256(BODY)}", BODY,
               {"Content-Type": OCTET}, None)
    elif case == "wrong-digest":
        loc = urlsplit(with_query(start_upload(registry, repo), digest=sha256(b"not the body")))
        req = ("PUT", f"{loc.path}?{loc.query}", BODY, {"Content-Type": OCTET}, 400)
    else:
        req = ("PUT", f"/v2/{repo}/manifests/v1", b"{" + BODY, {"Content-Type": OCI_MANIFEST}, 400)
    method, path, body, headers, expected = req
    first, second = two_requests_on_one_connection(registry, method, path, body, headers)
    if expected is not None:
        assert first == expected
    else:
        assert 400 <= first < 500, first
    assert second in (200, None), f"the request after a refused {method} was answered {second}"


def test_concurrency_same_blob_pushed_in_parallel(registry, repo):
    data = os.urandom(1024 * 1024)
    results, errors = [], []

    def push():
        try:
            results.append(push_blob(Registry(registry.server), repo, data))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=push) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[0]
    assert results == [sha256(data)] * 6
    got = registry.get(f"/v2/{repo}/blobs/{sha256(data)}")
    assert got.status_code == 200 and got.content == data, describe(got)


def test_concurrency_same_tag_pushed_in_parallel_ends_on_one_manifest(registry, repo):
    images = [make_image() for _ in range(6)]
    for image in images:
        push_image(registry, repo, image)  # blobs and the manifest by digest
    statuses, errors = [], []

    def tag(image):
        try:
            client = Registry(registry.server)
            statuses.append(push_manifest(client, repo, "race", image, expect=None).status_code)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=tag, args=(image,)) for image in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[0]
    assert statuses == [201] * len(images)
    final = get_manifest(registry, repo, "race")
    assert final.status_code == 200, describe(final)
    assert final.content in [image.body for image in images]
    assert final.headers.get("Docker-Content-Digest") == sha256(final.content)
    assert registry.get(f"/v2/{repo}/tags/list").json()["tags"] == ["race"]
