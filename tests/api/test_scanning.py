"""Image scanning through the ECR API (reference §3.16, §3.25, §3.26, §6.2): StartImageScan and its
quota, DescribeImageScanFindings' errors, scan-on-push (the repository setting and the registry's
SCAN_ON_PUSH rules), the registry scanning configuration (BASIC only) and
BatchGetRepositoryScanningConfiguration, DescribeImages' imageScanStatus."""

from __future__ import annotations

import json

import pytest

from ecr_content import make_image, push_image, put_image, push_blobs
from ecr_support import ACCOUNT_ID, REGION, expect_error

QUOTA_MESSAGE = "The scan quota per image has been exceeded. Wait and try again."


@pytest.fixture
def registry_rules(ecr):
    """Puts registry scanning rules for the test and removes them afterwards (the configuration is
    the account's, shared by the session)."""
    def put(rules):
        return ecr.put_registry_scanning_configuration(scanType="BASIC", rules=rules)
    yield put
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])


def _scan_status(ecr, repo, digest):
    return ecr.describe_image_scan_findings(repositoryName=repo,
                                            imageId={"imageDigest": digest})["imageScanStatus"]


# ---------------------------------------------------------------------------------------------
# StartImageScan

def test_start_image_scan_queues_once_then_hits_the_quota(ecr, repo):
    image = push_image(ecr, repo, "v1")
    started = ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "v1"})
    assert started["registryId"] == ACCOUNT_ID
    assert started["repositoryName"] == repo
    assert started["imageId"] == {"imageTag": "v1", "imageDigest": image.digest}
    assert started["imageScanStatus"]["status"] == "IN_PROGRESS"

    err = expect_error("LimitExceededException", ecr.start_image_scan, repositoryName=repo,
                       imageId={"imageDigest": image.digest})
    assert err.response["Error"]["Message"] == QUOTA_MESSAGE
    # The scan exists from now on, whatever state it has reached.
    assert _scan_status(ecr, repo, image.digest)["status"] in ("IN_PROGRESS", "COMPLETE", "FAILED",
                                                               "UNSUPPORTED_IMAGE")


def test_start_image_scan_errors(ecr, repo):
    push_image(ecr, repo, "v1")
    expect_error("RepositoryNotFoundException", ecr.start_image_scan,
                 repositoryName=repo + "-missing", imageId={"imageTag": "v1"})
    err = expect_error("ImageNotFoundException", ecr.start_image_scan, repositoryName=repo,
                       imageId={"imageTag": "nope"})
    assert repo in err.response["Error"]["Message"]


def test_start_image_scan_refuses_a_non_image_artifact(ecr, repo):
    # An OCI artifact: its config is not an image configuration.
    image = make_image()
    manifest = json.loads(image.manifest)
    manifest["artifactType"] = "application/vnd.example.thing"
    manifest["config"] = {"mediaType": "application/vnd.oci.empty.v1+json",
                          "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
                          "size": 2}
    image.manifest = json.dumps(manifest).encode()
    image.config = b"{}"
    push_blobs(ecr, repo, image)
    put_image(ecr, repo, image, "artifact")
    expect_error("UnsupportedImageTypeException", ecr.start_image_scan, repositoryName=repo,
                 imageId={"imageTag": "artifact"})


# ---------------------------------------------------------------------------------------------
# DescribeImageScanFindings errors

def test_describe_image_scan_findings_errors(ecr, repo):
    image = push_image(ecr, repo, "v1")
    err = expect_error("ScanNotFoundException", ecr.describe_image_scan_findings, repositoryName=repo,
                       imageId={"imageTag": "v1"})
    message = err.response["Error"]["Message"]
    assert message == (f"Image scan does not exist for the image with '{{imageDigest:'null', imageTag:'v1'}}' "
                       f"in the repository with name '{repo}' in the registry with id '{ACCOUNT_ID}'")
    expect_error("ImageNotFoundException", ecr.describe_image_scan_findings, repositoryName=repo,
                 imageId={"imageDigest": "sha256:" + "0" * 64})
    expect_error("RepositoryNotFoundException", ecr.describe_image_scan_findings,
                 repositoryName=repo + "-missing", imageId={"imageDigest": image.digest})


# ---------------------------------------------------------------------------------------------
# Scan-on-push

def test_scan_on_push_repository_setting_queues_a_scan_that_counts_against_the_quota(ecr, repo_factory):
    scanned = repo_factory(imageScanningConfiguration={"scanOnPush": True})
    plain = repo_factory()
    image = push_image(ecr, scanned, "v1")
    other = push_image(ecr, plain, "v1")
    assert _scan_status(ecr, scanned, image.digest)["status"] in ("IN_PROGRESS", "COMPLETE", "FAILED",
                                                                  "UNSUPPORTED_IMAGE")
    expect_error("ScanNotFoundException", ecr.describe_image_scan_findings, repositoryName=plain,
                 imageId={"imageDigest": other.digest})
    expect_error("LimitExceededException", ecr.start_image_scan, repositoryName=scanned,
                 imageId={"imageDigest": image.digest})
    # DescribeImages mirrors it.
    detail = ecr.describe_images(repositoryName=scanned, imageIds=[{"imageTag": "v1"}])["imageDetails"][0]
    assert detail["imageScanStatus"]["status"] in ("IN_PROGRESS", "COMPLETE", "FAILED", "UNSUPPORTED_IMAGE")
    plain_detail = ecr.describe_images(repositoryName=plain, imageIds=[{"imageTag": "v1"}])["imageDetails"][0]
    assert "imageScanStatus" not in plain_detail


def test_put_image_scanning_configuration_turns_scan_on_push_on_for_later_pushes(ecr, repo):
    before = push_image(ecr, repo, "before")
    out = ecr.put_image_scanning_configuration(repositoryName=repo,
                                               imageScanningConfiguration={"scanOnPush": True})
    assert out["imageScanningConfiguration"] == {"scanOnPush": True}
    after = push_image(ecr, repo, "after")
    expect_error("ScanNotFoundException", ecr.describe_image_scan_findings, repositoryName=repo,
                 imageId={"imageDigest": before.digest})
    assert _scan_status(ecr, repo, after.digest)["status"]


def test_registry_scan_on_push_rule_queues_scans_of_matching_repositories(ecr, repo_factory, registry_rules):
    matching = repo_factory("scanned")
    other = repo_factory("other")
    registry_rules([{"scanFrequency": "SCAN_ON_PUSH",
                     "repositoryFilters": [{"filter": "api/*/scanned", "filterType": "WILDCARD"}]}])
    image = push_image(ecr, matching, "v1")
    unscanned = push_image(ecr, other, "v1")
    assert _scan_status(ecr, matching, image.digest)["status"]
    expect_error("ScanNotFoundException", ecr.describe_image_scan_findings, repositoryName=other,
                 imageId={"imageDigest": unscanned.digest})


# ---------------------------------------------------------------------------------------------
# Registry scanning configuration

def test_registry_scanning_configuration_round_trips_and_refuses_enhanced(ecr, registry_rules):
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}
    rules = [{"scanFrequency": "SCAN_ON_PUSH",
              "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}]},
             {"scanFrequency": "MANUAL", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}]
    put = registry_rules(rules)
    assert put["registryScanningConfiguration"] == {"scanType": "BASIC", "rules": rules}
    got = ecr.get_registry_scanning_configuration()
    assert got["registryId"] == ACCOUNT_ID
    assert got["scanningConfiguration"] == {"scanType": "BASIC", "rules": rules}

    err = expect_error("ValidationException", ecr.put_registry_scanning_configuration, scanType="ENHANCED",
                       rules=[])
    assert "BASIC" in err.response["Error"]["Message"]
    expect_error("ValidationException", ecr.put_registry_scanning_configuration, scanType="BASIC",
                 rules=[{"scanFrequency": "CONTINUOUS_SCAN",
                         "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}])
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"] == rules, \
        "a refused configuration changes nothing"


def test_batch_get_repository_scanning_configuration(ecr, repo_factory, registry_rules):
    on_push = repo_factory(imageScanningConfiguration={"scanOnPush": True})
    by_rule = repo_factory("ruled")
    manual = repo_factory()
    registry_rules([{"scanFrequency": "SCAN_ON_PUSH",
                     "repositoryFilters": [{"filter": "api/*/ruled", "filterType": "WILDCARD"}]}])
    out = ecr.batch_get_repository_scanning_configuration(
        repositoryNames=[on_push, by_rule, manual, on_push + "-missing"])
    configs = {c["repositoryName"]: c for c in out["scanningConfigurations"]}
    assert configs[on_push]["scanOnPush"] is True
    assert configs[on_push]["scanFrequency"] == "SCAN_ON_PUSH"
    assert configs[on_push]["repositoryArn"] == f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{on_push}"
    assert configs[by_rule]["scanFrequency"] == "SCAN_ON_PUSH"
    assert configs[by_rule]["appliedScanFilters"] == [{"filter": "api/*/ruled", "filterType": "WILDCARD"}]
    assert configs[manual]["scanOnPush"] is False
    assert configs[manual]["scanFrequency"] == "MANUAL"
    assert out["failures"] == [{"repositoryName": on_push + "-missing", "failureCode": "REPOSITORY_NOT_FOUND",
                                "failureReason": "REPOSITORY_NOT_FOUND"}]
