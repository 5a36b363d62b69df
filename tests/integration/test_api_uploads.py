"""Blob uploads over raw HTTP: monolithic, POST+PUT, chunked, streamed, status, resume, cancel."""

import os
import uuid

import pytest

from content import (OCTET, assert_error, describe, sha256, sha512, start_upload, verify_digest,
                     with_query)
from harness import distribution_gap

NO_ORDER_CHECK = "ignores Content-Range on PATCH (Go strips Content-Length from the header map), " \
                 "so out-of-order chunks are appended instead of answering 416"


def patch_chunk(reg, loc, data, start=None, end=None):
    headers = {"Content-Type": OCTET}
    if start is not None:
        headers["Content-Range"] = f"{start}-{end if end is not None else start + len(data) - 1}"
    return reg.patch(loc, data=data, headers=headers)


def finish(reg, loc, digest, data=b"", content_range=None):
    headers = {"Content-Type": OCTET}
    if content_range:
        headers["Content-Range"] = content_range
    return reg.put(with_query(loc, digest=digest), data=data, headers=headers)


def assert_blob(reg, repo, data, digest=None):
    digest = digest or sha256(data)
    r = reg.get(f"/v2/{repo}/blobs/{digest}")
    assert r.status_code == 200, describe(r)
    assert r.content == data, f"blob {digest} content differs ({len(r.content)} vs {len(data)} bytes)"


def assert_blob_absent(reg, repo, digest):
    r = reg.head(f"/v2/{repo}/blobs/{digest}")
    assert r.status_code == 404, describe(r)


@distribution_gap("single-POST monolithic upload is not implemented (spec: MAY); it answers 202")
def test_upload_single_post_with_digest_returns_201(registry, repo):
    data = os.urandom(4096)
    digest = sha256(data)
    r = registry.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data,
                      headers={"Content-Type": OCTET})
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Docker-Content-Digest") == digest, describe(r)
    loc = r.headers.get("Location")
    assert loc, describe(r)
    got = registry.get(loc)
    assert got.status_code == 200 and got.content == data, describe(got)


def test_upload_post_returns_202_with_location_containing_uuid(registry, repo):
    r = registry.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    assert r.status_code == 202, describe(r)
    loc = r.headers.get("Location")
    upload_id = r.headers.get("Docker-Upload-UUID")
    assert loc and upload_id, describe(r)
    assert upload_id in loc, f"Location {loc!r} does not contain the upload id {upload_id!r}"
    r2 = registry.post(f"/v2/{repo}/blobs/uploads/")
    assert r2.headers.get("Docker-Upload-UUID") != upload_id, "two sessions share an id"


def test_upload_post_then_put_creates_blob(registry, repo):
    data = os.urandom(10_000)
    digest = sha256(data)
    loc = start_upload(registry, repo)
    r = finish(registry, loc, digest, data)
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Docker-Content-Digest") == digest, describe(r)
    blob_loc = r.headers.get("Location")
    assert blob_loc, describe(r)
    got = registry.get(blob_loc)
    assert got.status_code == 200 and got.content == data, describe(got)
    assert_blob(registry, repo, data)


def test_upload_session_is_gone_after_completion(registry, repo):
    data = os.urandom(700)
    loc = start_upload(registry, repo)
    r = patch_chunk(registry, loc, data, 0)
    assert r.status_code == 202, describe(r)
    loc = registry.abs_url(r.headers["Location"])
    assert finish(registry, loc, sha256(data)).status_code == 201
    assert_error(registry.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(patch_chunk(registry, loc, b"late", 700), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_blob(registry, repo, data)


def test_upload_monolithic_put_with_chunked_transfer_encoding(registry, repo):
    data = os.urandom(300_000)

    def pieces():
        for i in range(0, len(data), 10_000):
            yield data[i:i + 10_000]

    r = registry.put(with_query(start_upload(registry, repo), digest=sha256(data)), data=pieces(),
                     headers={"Content-Type": OCTET})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 201, describe(r)
    assert_blob(registry, repo, data)


def test_upload_chunked_patches_report_range_and_complete(registry, repo):
    data = os.urandom(3 * 1024 + 37)
    loc = start_upload(registry, repo)
    for start in range(0, len(data), 1024):
        chunk = data[start:start + 1024]
        r = patch_chunk(registry, loc, chunk, start)
        assert r.status_code == 202, describe(r)
        assert r.headers.get("Range") == f"0-{start + len(chunk) - 1}", describe(r)
        assert r.headers.get("Location"), describe(r)
        loc = registry.abs_url(r.headers["Location"])
    r = finish(registry, loc, sha256(data))
    assert r.status_code == 201, describe(r)
    assert_blob(registry, repo, data)


def test_upload_streamed_patch_without_content_range(registry, repo):
    data = os.urandom(50_000)
    loc = start_upload(registry, repo)
    r = patch_chunk(registry, loc, data)
    assert r.status_code == 202, describe(r)
    assert r.headers.get("Range") == f"0-{len(data) - 1}", describe(r)
    r = finish(registry, registry.abs_url(r.headers["Location"]), sha256(data))
    assert r.status_code == 201, describe(r)
    assert_blob(registry, repo, data)


def test_upload_streamed_patches_with_chunked_transfer_encoding_append(registry, repo):
    part1, part2 = os.urandom(70_000), os.urandom(33_333)
    loc = start_upload(registry, repo)

    def stream(data, piece=8192):
        for i in range(0, len(data), piece):
            yield data[i:i + piece]

    r = registry.patch(loc, data=stream(part1), headers={"Content-Type": OCTET})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 202, describe(r)
    assert r.headers.get("Range") == f"0-{len(part1) - 1}", describe(r)
    r = registry.patch(registry.abs_url(r.headers["Location"]), data=stream(part2),
                       headers={"Content-Type": OCTET})
    assert r.status_code == 202, describe(r)
    assert r.headers.get("Range") == f"0-{len(part1) + len(part2) - 1}", describe(r)
    r = finish(registry, registry.abs_url(r.headers["Location"]), sha256(part1 + part2))
    assert r.status_code == 201, describe(r)
    assert_blob(registry, repo, part1 + part2)


@distribution_gap(NO_ORDER_CHECK)
def test_upload_first_chunk_not_at_zero_returns_416(registry, repo):
    data = os.urandom(300)
    loc = start_upload(registry, repo)
    r = patch_chunk(registry, loc, data[100:200], 100)
    assert r.status_code == 416, describe(r)


@distribution_gap(NO_ORDER_CHECK)
def test_upload_out_of_order_chunk_returns_416_and_session_survives(registry, repo):
    data = os.urandom(300)
    loc = start_upload(registry, repo)
    r = patch_chunk(registry, loc, data[:100], 0)
    assert r.status_code == 202, describe(r)
    loc = registry.abs_url(r.headers["Location"])
    r = patch_chunk(registry, loc, data[200:300], 200)  # skips bytes 100-199
    assert r.status_code == 416, describe(r)
    assert r.headers.get("Range") == "0-99", f"416 must report the current range: {describe(r)}"
    status = registry.get(loc)
    assert status.status_code == 204, describe(status)
    assert status.headers.get("Range") == "0-99", describe(status)
    loc = registry.abs_url(status.headers.get("Location") or loc)
    r = patch_chunk(registry, loc, data[100:], 100)
    assert r.status_code == 202, describe(r)
    r = finish(registry, registry.abs_url(r.headers["Location"]), sha256(data))
    assert r.status_code == 201, describe(r)
    assert_blob(registry, repo, data)


@distribution_gap(NO_ORDER_CHECK)
def test_upload_overlapping_chunk_returns_416_with_current_range(registry, repo):
    data = os.urandom(300)
    loc = start_upload(registry, repo)
    r = patch_chunk(registry, loc, data[:100], 0)
    assert r.status_code == 202, describe(r)
    loc = registry.abs_url(r.headers["Location"])
    r = patch_chunk(registry, loc, data[50:150], 50)  # re-sends bytes 50-99
    assert r.status_code == 416, describe(r)
    assert r.headers.get("Range") == "0-99", f"416 must report the current range: {describe(r)}"
    status = registry.get(loc)
    assert status.status_code == 204 and status.headers.get("Range") == "0-99", describe(status)


@distribution_gap(NO_ORDER_CHECK)
def test_upload_out_of_order_final_chunk_in_put_returns_416(registry, repo):
    data = os.urandom(300)
    loc = start_upload(registry, repo)
    r = patch_chunk(registry, loc, data[:100], 0)
    assert r.status_code == 202, describe(r)
    loc = registry.abs_url(r.headers["Location"])
    r = finish(registry, loc, sha256(data), data[200:], content_range="200-299")
    assert r.status_code == 416, describe(r)
    assert_blob_absent(registry, repo, sha256(data))
    status = registry.get(loc)
    assert status.status_code == 204 and status.headers.get("Range") == "0-99", describe(status)


def test_upload_empty_patch_keeps_the_offset(registry, repo):
    data = os.urandom(100)
    loc = start_upload(registry, repo)
    r = patch_chunk(registry, loc, data, 0)
    assert r.status_code == 202, describe(r)
    loc = registry.abs_url(r.headers["Location"])
    r = registry.patch(loc, data=b"", headers={"Content-Type": OCTET})
    assert r.status_code == 202, describe(r)
    assert r.headers.get("Range") == "0-99", describe(r)
    assert finish(registry, registry.abs_url(r.headers["Location"]), sha256(data)).status_code == 201
    assert_blob(registry, repo, data)


@distribution_gap("a session used under another repository's path answers BLOB_UPLOAD_INVALID")
def test_upload_session_cannot_be_used_from_another_repository(registry, repo_factory):
    owner, intruder = repo_factory("owner"), repo_factory("intruder")
    start_upload(registry, intruder)
    loc = start_upload(registry, owner)
    data = os.urandom(100)
    foreign = loc.replace(f"/v2/{owner}/", f"/v2/{intruder}/", 1)
    assert foreign != loc
    assert_error(patch_chunk(registry, foreign, data, 0), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(finish(registry, foreign, sha256(data), data), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_blob_absent(registry, intruder, sha256(data))


def test_upload_status_reports_range_location_and_uuid(registry, repo):
    data = os.urandom(300)
    r = registry.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, describe(r)
    upload_id = r.headers.get("Docker-Upload-UUID")
    loc = registry.abs_url(r.headers["Location"])
    r = patch_chunk(registry, loc, data, 0)
    assert r.status_code == 202, describe(r)
    loc = registry.abs_url(r.headers["Location"])
    status = registry.get(loc)
    assert status.status_code == 204, describe(status)
    assert status.headers.get("Range") == "0-299", describe(status)
    assert status.headers.get("Location"), describe(status)
    assert status.headers.get("Docker-Upload-UUID") == upload_id, describe(status)
    assert status.content == b"", describe(status)


@distribution_gap("upload state lives in the Location's signed _state, so an earlier Location is refused "
                  "with BLOB_UPLOAD_INVALID once data was appended")
def test_upload_status_answers_on_the_post_location(registry, repo):
    data = os.urandom(300)
    post_loc = start_upload(registry, repo)
    r = patch_chunk(registry, post_loc, data, 0)
    assert r.status_code == 202, describe(r)
    status = registry.get(post_loc)
    assert status.status_code == 204, describe(status)
    assert status.headers.get("Range") == "0-299", describe(status)


def test_upload_resumes_from_status_after_interruption(registry, repo):
    data = os.urandom(5000)
    loc = start_upload(registry, repo)
    r = patch_chunk(registry, loc, data[:2000], 0)
    assert r.status_code == 202, describe(r)
    # A new client only knows the session URL: it asks where to resume.
    status = registry.get(registry.abs_url(r.headers["Location"]))
    assert status.status_code == 204, describe(status)
    offset = int(status.headers["Range"].split("-")[1]) + 1
    assert offset == 2000, describe(status)
    loc = registry.abs_url(status.headers["Location"])
    r = patch_chunk(registry, loc, data[offset:], offset)
    assert r.status_code == 202, describe(r)
    r = finish(registry, registry.abs_url(r.headers["Location"]), sha256(data))
    assert r.status_code == 201, describe(r)
    assert_blob(registry, repo, data)


def test_upload_put_carries_final_chunk(registry, repo):
    data = os.urandom(3000)
    loc = start_upload(registry, repo)
    r = patch_chunk(registry, loc, data[:1000], 0)
    assert r.status_code == 202, describe(r)
    r = finish(registry, registry.abs_url(r.headers["Location"]), sha256(data), data[1000:],
               content_range=f"1000-{len(data) - 1}")
    assert r.status_code == 201, describe(r)
    assert_blob(registry, repo, data)


def test_upload_cancel_then_session_is_unknown(registry, repo):
    data = os.urandom(500)
    loc = start_upload(registry, repo)
    r = patch_chunk(registry, loc, data, 0)
    assert r.status_code == 202, describe(r)
    loc = registry.abs_url(r.headers["Location"])
    r = registry.delete(loc)
    assert r.status_code == 204, describe(r)
    assert_error(registry.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(patch_chunk(registry, loc, b"more", 500), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(finish(registry, loc, sha256(data)), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_blob_absent(registry, repo, sha256(data))


@distribution_gap("a made-up upload id answers BLOB_UPLOAD_INVALID, not BLOB_UPLOAD_UNKNOWN")
def test_upload_unknown_session_returns_404_blob_upload_unknown(registry, repo):
    start_upload(registry, repo)
    r = registry.get(f"/v2/{repo}/blobs/uploads/{uuid.uuid4()}")
    assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")


def _upload_with_claimed_digest(registry, repo, data, claimed, style):
    if style == "single-post":
        return registry.post(f"/v2/{repo}/blobs/uploads/", params={"digest": claimed}, data=data,
                             headers={"Content-Type": OCTET})
    loc = start_upload(registry, repo)
    if style == "post-put":
        return finish(registry, loc, claimed, data)
    if style == "chunked":
        r = patch_chunk(registry, loc, data[:100], 0)
        assert r.status_code == 202, describe(r)
        r = patch_chunk(registry, registry.abs_url(r.headers["Location"]), data[100:], 100)
    else:  # streamed
        r = patch_chunk(registry, loc, data)
    assert r.status_code == 202, describe(r)
    return finish(registry, registry.abs_url(r.headers["Location"]), claimed)


@pytest.mark.parametrize("style", [
    pytest.param("single-post", marks=distribution_gap("single-POST upload answers 202 and ignores the body")),
    "post-put", "chunked", "streamed"])
def test_upload_wrong_digest_returns_400_and_nothing_is_visible(registry, repo, style):
    data = os.urandom(1000)
    claimed = sha256(b"something else entirely " + os.urandom(8))
    r = _upload_with_claimed_digest(registry, repo, data, claimed, style)
    assert_error(r, 400, "DIGEST_INVALID")
    assert_blob_absent(registry, repo, claimed)
    assert_blob_absent(registry, repo, sha256(data))


@pytest.mark.parametrize("bad_digest", [
    "sha256:xyz", "sha256:" + "0" * 63, "sha256:" + "G" * 64, "sha256", "sha256:", ":abc", "nonsense"])
def test_upload_malformed_digest_returns_400_digest_invalid(registry, repo, bad_digest):
    loc = start_upload(registry, repo)
    r = finish(registry, loc, bad_digest, b"payload")
    assert_error(r, 400, "DIGEST_INVALID")


def test_upload_unsupported_digest_algorithm_is_refused(registry, repo):
    loc = start_upload(registry, repo)
    r = finish(registry, loc, "md5:" + "0" * 32, b"payload")
    assert_error(r, 400, "DIGEST_INVALID", "UNSUPPORTED")


def test_upload_put_without_digest_returns_400_digest_invalid(registry, repo):
    loc = start_upload(registry, repo)
    r = registry.put(loc, data=b"payload", headers={"Content-Type": OCTET})
    assert_error(r, 400, "DIGEST_INVALID")


@distribution_gap(NO_ORDER_CHECK)
def test_upload_patch_length_disagreeing_with_content_range_returns_400_size_invalid(registry, repo):
    data = os.urandom(300)
    loc = start_upload(registry, repo)
    r = patch_chunk(registry, loc, data[:100], 0)
    assert r.status_code == 202, describe(r)
    loc = registry.abs_url(r.headers["Location"])
    r = patch_chunk(registry, loc, data[100:200], 100, 299)  # claims 200 bytes, sends 100
    assert_error(r, 400, "SIZE_INVALID")
    status = registry.get(loc)
    assert status.status_code == 204 and status.headers.get("Range") == "0-99", describe(status)


def test_upload_empty_blob(registry, repo):
    loc = start_upload(registry, repo)
    digest = sha256(b"")
    r = finish(registry, loc, digest)
    assert r.status_code == 201, describe(r)
    head = registry.head(f"/v2/{repo}/blobs/{digest}")
    assert head.status_code == 200 and head.headers.get("Content-Length") == "0", describe(head)
    get = registry.get(f"/v2/{repo}/blobs/{digest}")
    assert get.status_code == 200 and get.content == b"", describe(get)


def test_upload_sha512_digest(registry, repo):
    data = os.urandom(2048)
    digest = sha512(data)
    loc = start_upload(registry, repo)
    r = finish(registry, loc, digest, data)
    assert r.status_code == 201, describe(r)
    got = registry.get(f"/v2/{repo}/blobs/{digest}")
    assert got.status_code == 200 and got.content == data, describe(got)
    header = got.headers.get("Docker-Content-Digest")
    assert header and verify_digest(got.content, header), describe(got)


def test_upload_multi_mebibyte_blob_in_chunks(registry, repo):
    data = os.urandom(5 * 1024 * 1024 + 123)
    loc = start_upload(registry, repo)
    step = 1024 * 1024
    for start in range(0, len(data), step):
        r = patch_chunk(registry, loc, data[start:start + step], start)
        assert r.status_code == 202, describe(r)
        loc = registry.abs_url(r.headers["Location"])
    r = finish(registry, loc, sha256(data))
    assert r.status_code == 201, describe(r)
    got = registry.get(f"/v2/{repo}/blobs/{sha256(data)}")
    assert got.status_code == 200 and sha256(got.content) == sha256(data), describe(got)


def test_upload_concurrent_sessions_are_independent(registry, repo):
    a, b = os.urandom(4000), os.urandom(4000)
    loc_a, loc_b = start_upload(registry, repo), start_upload(registry, repo)
    assert loc_a != loc_b
    for start in range(0, 4000, 1000):
        ra = patch_chunk(registry, loc_a, a[start:start + 1000], start)
        rb = patch_chunk(registry, loc_b, b[start:start + 1000], start)
        assert ra.status_code == 202 and rb.status_code == 202, describe(ra) + describe(rb)
        loc_a, loc_b = registry.abs_url(ra.headers["Location"]), registry.abs_url(rb.headers["Location"])
    assert finish(registry, loc_a, sha256(a)).status_code == 201
    assert finish(registry, loc_b, sha256(b)).status_code == 201
    assert_blob(registry, repo, a)
    assert_blob(registry, repo, b)


def test_upload_same_blob_twice_is_accepted(registry, repo):
    data = os.urandom(1000)
    for _ in range(2):
        r = finish(registry, start_upload(registry, repo), sha256(data), data)
        assert r.status_code == 201, describe(r)
    assert_blob(registry, repo, data)


def test_upload_nested_repository_name(registry, repo_factory):
    repo = repo_factory("team/app/api")
    data = os.urandom(100)
    r = finish(registry, start_upload(registry, repo), sha256(data), data)
    assert r.status_code == 201, describe(r)
    assert_blob(registry, repo, data)
