"""Reading, deleting and cross-repository mounting of blobs over raw HTTP."""

import os

import pytest

from content import OCTET, assert_error, describe, push_blob, sha256, with_query


@pytest.fixture
def stored(registry, repo):
    """A 10 000-byte blob pushed to ``repo``."""
    data = os.urandom(10_000)
    return data, push_blob(registry, repo, data)


def test_blob_head_returns_length_and_digest(registry, repo, stored):
    data, digest = stored
    r = registry.head(f"/v2/{repo}/blobs/{digest}")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Length") == str(len(data)), describe(r)
    assert r.headers.get("Docker-Content-Digest") == digest, describe(r)
    assert r.content == b""


def test_blob_get_returns_exact_bytes_and_headers(registry, repo, stored):
    data, digest = stored
    r = registry.get(f"/v2/{repo}/blobs/{digest}")
    assert r.status_code == 200, describe(r)
    assert r.content == data
    assert r.headers.get("Content-Length") == str(len(data)), describe(r)
    assert r.headers.get("Docker-Content-Digest") == digest, describe(r)


def test_blob_get_range_returns_206_with_content_range(registry, repo, stored):
    data, digest = stored
    r = registry.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=10-109"})
    assert r.status_code == 206, describe(r)
    assert r.headers.get("Content-Range") == f"bytes 10-109/{len(data)}", describe(r)
    assert r.headers.get("Content-Length") == "100", describe(r)
    assert r.content == data[10:110]


def test_blob_get_open_ended_range_resumes_download(registry, repo, stored):
    data, digest = stored
    start = len(data) - 777
    r = registry.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": f"bytes={start}-"})
    assert r.status_code == 206, describe(r)
    assert r.headers.get("Content-Range") == f"bytes {start}-{len(data) - 1}/{len(data)}", describe(r)
    assert r.content == data[start:]


def test_blob_get_suffix_range_returns_the_tail(registry, repo, stored):
    data, digest = stored
    r = registry.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=-100"})
    assert r.status_code == 206, describe(r)
    assert r.headers.get("Content-Range") == f"bytes {len(data) - 100}-{len(data) - 1}/{len(data)}", describe(r)
    assert r.content == data[-100:]


def test_blob_get_unsatisfiable_range_returns_416(registry, repo, stored):
    data, digest = stored
    r = registry.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": f"bytes={len(data) + 10}-"})
    assert r.status_code == 416, describe(r)


def test_blob_get_unknown_returns_404_blob_unknown(registry, repo, stored):
    missing = sha256(os.urandom(32))
    assert_error(registry.get(f"/v2/{repo}/blobs/{missing}"), 404, "BLOB_UNKNOWN")
    head = registry.head(f"/v2/{repo}/blobs/{missing}")
    assert head.status_code == 404 and head.content == b"", describe(head)


@pytest.mark.parametrize("bad", ["sha256:zzz", "sha256:" + "a" * 63, "sha256:" + "A" * 64 + "x"])
def test_blob_get_malformed_digest_returns_400_digest_invalid(registry, repo, stored, bad):
    assert_error(registry.get(f"/v2/{repo}/blobs/{bad}"), 400, "DIGEST_INVALID")


def test_blob_not_visible_from_another_repository(registry, repo_factory):
    a, b = repo_factory("a"), repo_factory("b")
    data = os.urandom(500)
    digest = push_blob(registry, a, data)
    push_blob(registry, b, os.urandom(10))  # b exists, but never received ``data``
    assert_error(registry.get(f"/v2/{b}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert registry.head(f"/v2/{b}/blobs/{digest}").status_code == 404


def test_blob_delete_returns_202_then_404(registry, repo, stored):
    _, digest = stored
    r = registry.delete(f"/v2/{repo}/blobs/{digest}")
    assert r.status_code == 202, describe(r)
    assert registry.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
    assert_error(registry.get(f"/v2/{repo}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


def test_blob_deleted_then_pushed_again_is_served(registry, repo, stored):
    data, digest = stored
    assert registry.delete(f"/v2/{repo}/blobs/{digest}").status_code == 202
    push_blob(registry, repo, data)
    got = registry.get(f"/v2/{repo}/blobs/{digest}")
    assert got.status_code == 200 and got.content == data, describe(got)


def test_blob_delete_unknown_returns_404_blob_unknown(registry, repo, stored):
    assert_error(registry.delete(f"/v2/{repo}/blobs/{sha256(os.urandom(16))}"), 404, "BLOB_UNKNOWN")


def test_blob_delete_in_one_repository_keeps_it_in_another(registry, repo_factory):
    a, b = repo_factory("a"), repo_factory("b")
    data = os.urandom(700)
    digest = push_blob(registry, a, data)
    push_blob(registry, b, data)
    r = registry.delete(f"/v2/{a}/blobs/{digest}")
    assert r.status_code == 202, describe(r)
    assert registry.head(f"/v2/{a}/blobs/{digest}").status_code == 404
    got = registry.get(f"/v2/{b}/blobs/{digest}")
    assert got.status_code == 200 and got.content == data, describe(got)


def test_mount_from_repository_returns_201(registry, repo_factory):
    src, dst = repo_factory("src"), repo_factory("dst")
    data = os.urandom(2000)
    digest = push_blob(registry, src, data)
    r = registry.post(f"/v2/{dst}/blobs/uploads/", params={"mount": digest, "from": src})
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Location"), describe(r)
    if "Docker-Content-Digest" in r.headers:
        assert r.headers["Docker-Content-Digest"] == digest, describe(r)
    got = registry.get(r.headers["Location"])
    assert got.status_code == 200 and got.content == data, describe(got)
    head = registry.head(f"/v2/{dst}/blobs/{digest}")
    assert head.status_code == 200 and head.headers.get("Content-Length") == str(len(data)), describe(head)


def test_mount_from_repository_without_the_blob_returns_202_upload(registry, repo_factory):
    src, other, dst = repo_factory("src"), repo_factory("other"), repo_factory("dst")
    push_blob(registry, src, os.urandom(10))
    data = os.urandom(900)
    digest = push_blob(registry, other, data)  # exists in the registry, but not in ``src``
    r = registry.post(f"/v2/{dst}/blobs/uploads/", params={"mount": digest, "from": src})
    assert r.status_code == 202, describe(r)
    assert r.headers.get("Location"), describe(r)
    assert registry.head(f"/v2/{dst}/blobs/{digest}").status_code == 404
    put = registry.put(with_query(registry.abs_url(r.headers["Location"]), digest=digest), data=data,
                       headers={"Content-Type": OCTET})
    assert put.status_code == 201, describe(put)
    assert registry.get(f"/v2/{dst}/blobs/{digest}").content == data


def test_mount_from_the_same_repository_returns_201(registry, repo, stored):
    data, digest = stored
    r = registry.post(f"/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": repo})
    assert r.status_code == 201, describe(r)
    assert registry.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_mount_from_unknown_repository_returns_202_upload(registry, repo_factory):
    dst = repo_factory("dst")
    digest = sha256(os.urandom(64))
    r = registry.post(f"/v2/{dst}/blobs/uploads/", params={"mount": digest, "from": repo_factory("never-pushed")})
    assert r.status_code == 202, describe(r)
    assert r.headers.get("Location"), describe(r)


def test_mount_without_from_mounts_or_starts_upload(registry, repo_factory):
    src, dst = repo_factory("src"), repo_factory("dst")
    data = os.urandom(1500)
    digest = push_blob(registry, src, data)
    r = registry.post(f"/v2/{dst}/blobs/uploads/", params={"mount": digest})
    # The spec lets a registry treat ``from`` as optional (201) or fall back to an upload (202).
    assert r.status_code in (201, 202), describe(r)
    assert r.headers.get("Location"), describe(r)
    if r.status_code == 202:
        put = registry.put(with_query(registry.abs_url(r.headers["Location"]), digest=digest), data=data,
                           headers={"Content-Type": OCTET})
        assert put.status_code == 201, describe(put)
    got = registry.get(f"/v2/{dst}/blobs/{digest}")
    assert got.status_code == 200 and got.content == data, describe(got)


def test_mount_source_blob_deleted_later_keeps_mounted_copy(registry, repo_factory):
    src, dst = repo_factory("src"), repo_factory("dst")
    data = os.urandom(1200)
    digest = push_blob(registry, src, data)
    r = registry.post(f"/v2/{dst}/blobs/uploads/", params={"mount": digest, "from": src})
    assert r.status_code == 201, describe(r)
    assert registry.delete(f"/v2/{src}/blobs/{digest}").status_code == 202
    got = registry.get(f"/v2/{dst}/blobs/{digest}")
    assert got.status_code == 200 and got.content == data, describe(got)

