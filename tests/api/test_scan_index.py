"""Image scanning of an image index, as ECR scans multi-platform images: each platform image the
index lists is scanned as its own image, with its own status, findings and quota; the index has
no scan of its own (DescribeImageScanFindings answers ScanNotFoundException for it, as ECR does for
an image it never scanned). StartImageScan on an index (by tag or digest) queues its platform
images' scans; scan-on-push of an index does the same. Here: an index of an Alpine 3.18 and a
Debian bookworm image, with the real advisories of tests/testdata/osv imported."""

from __future__ import annotations

import pytest

from ecr_content import make_image, make_index, make_layer, push_image, put_image
from ecr_support import ecr_client, expect_error, wait_until
from support.scan_data import (ALPINE_OS_RELEASE, APK_DB, DEBIAN_OS_RELEASE, DPKG_STATUS, OSV, expected_alpine,
                               all_findings, expected_debian, findings_set, import_advisories)


@pytest.fixture(scope="module")
def ecr_s(module_server_factory):
    server = module_server_factory.start()
    import_advisories(server.data_dir, OSV)
    return ecr_client(server.url)


def platform_index():
    """An index of two platform images: Alpine (arm64) and Debian (amd64)."""
    alpine_layer, _ = make_layer({"lib/apk/db/installed": APK_DB, "etc/os-release": ALPINE_OS_RELEASE})
    debian_layer, _ = make_layer({"var/lib/dpkg/status": DPKG_STATUS, "etc/os-release": DEBIAN_OS_RELEASE})
    alpine = make_image(layer_blobs=[alpine_layer], architecture="arm64")
    debian = make_image(layer_blobs=[debian_layer], architecture="amd64")
    return make_index([alpine, debian]), alpine, debian


def findings(ecr, repo: str, digest: str) -> dict:
    return all_findings(ecr, repo, digest, page_size=50)


def wait_complete(ecr, repo: str, digest: str) -> dict:
    status = {}

    def done():
        try:
            status.update(ecr.describe_image_scan_findings(
                repositoryName=repo, imageId={"imageDigest": digest})["imageScanStatus"])
        except ecr.exceptions.ScanNotFoundException:
            status["status"] = "no scan"
        return status["status"] not in ("IN_PROGRESS", "no scan")
    assert wait_until(done, timeout=60, interval=0.25), (digest, status)
    result = findings(ecr, repo, digest)
    assert result["imageScanStatus"]["status"] == "COMPLETE", result["imageScanStatus"]
    return result


def assert_no_scan_of_the_index(ecr, repo: str, index_digest: str):
    err = expect_error("ScanNotFoundException", ecr.describe_image_scan_findings, repositoryName=repo,
                       imageId={"imageDigest": index_digest})
    assert index_digest in err.response["Error"]["Message"]
    detail = ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": index_digest}])["imageDetails"][0]
    assert "imageScanStatus" not in detail


def test_start_image_scan_of_an_index_scans_each_platform_image_on_its_own(ecr_s):
    repo = "scan/index-manual"
    ecr_s.create_repository(repositoryName=repo)
    index, alpine, debian = platform_index()
    push_image(ecr_s, repo, "multi", image=index)

    started = ecr_s.start_image_scan(repositoryName=repo, imageId={"imageTag": "multi"})
    assert started["imageId"] == {"imageTag": "multi", "imageDigest": index.digest}
    assert started["imageScanStatus"]["status"] == "IN_PROGRESS"

    alpine_result = wait_complete(ecr_s, repo, alpine.digest)
    debian_result = wait_complete(ecr_s, repo, debian.digest)
    assert findings_set(alpine_result) == expected_alpine()
    assert findings_set(debian_result) == expected_debian()
    assert expected_alpine().isdisjoint(expected_debian())  # so neither can hold the other's
    assert_no_scan_of_the_index(ecr_s, repo, index.digest)

    # Each platform image's scan counts against its own quota; the index's, against all of them.
    expect_error("LimitExceededException", ecr_s.start_image_scan, repositoryName=repo,
                 imageId={"imageDigest": index.digest})
    expect_error("LimitExceededException", ecr_s.start_image_scan, repositoryName=repo,
                 imageId={"imageDigest": debian.digest})


def test_an_index_whose_images_were_scanned_only_queues_the_others(ecr_s):
    repo = "scan/index-partial"
    ecr_s.create_repository(repositoryName=repo)
    index, alpine, debian = platform_index()
    push_image(ecr_s, repo, "multi", image=index)
    ecr_s.start_image_scan(repositoryName=repo, imageId={"imageDigest": debian.digest})
    debian_first = wait_complete(ecr_s, repo, debian.digest)["imageScanFindings"]["imageScanCompletedAt"]

    ecr_s.start_image_scan(repositoryName=repo, imageId={"imageTag": "multi"})
    assert findings_set(wait_complete(ecr_s, repo, alpine.digest)) == expected_alpine()
    # The Debian image was not scanned again (its quota was used): same scan, same time.
    assert findings(ecr_s, repo, debian.digest)["imageScanFindings"]["imageScanCompletedAt"] == debian_first


def test_scan_on_push_of_an_index_scans_each_platform_image(ecr_s):
    repo = "scan/index-on-push"
    ecr_s.create_repository(repositoryName=repo)
    index, alpine, debian = platform_index()
    # The platform images go in before scan-on-push is on, so only the index's push can scan them.
    for child in (alpine, debian):
        push_image(ecr_s, repo, None, image=child)
    ecr_s.put_image_scanning_configuration(repositoryName=repo, imageScanningConfiguration={"scanOnPush": True})
    put_image(ecr_s, repo, index, "multi")

    assert findings_set(wait_complete(ecr_s, repo, alpine.digest)) == expected_alpine()
    assert findings_set(wait_complete(ecr_s, repo, debian.digest)) == expected_debian()
    assert_no_scan_of_the_index(ecr_s, repo, index.digest)
