"""Image scanning survives a crash: a scan whose worker is killed (kill -9) while it holds the
scan's lease is taken over after a restart on the same data once the lease has run out
(`scan-lease`, 5 s here instead of the default 60 s), and it ends with the findings an
uninterrupted scan of the same packages has, in the one scan record the image has. Also: two
StartImageScan racing for one image queue one scan (the other is refused with the quota).

The scan is held in the worker by the test-only delay (BERTH_TEST_SCAN_DELAY_MS, README "Testing
hooks"); the worker logs "scan claimed" (debug) when it takes a scan, which is how the test knows
the scan is leased before it kills the server."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

from content import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Blob, Manifest, canonical_json, image_config, \
    make_layer, push_image, sha256, unique
from ecr_helpers import ecr_client, require_berth
from harness import Registry
from support.scan_data import (DEBIAN_OS_RELEASE, DPKG_STATUS, OSV, all_findings, expected_debian, findings_set,
                               import_advisories, stored_scans)

pytestmark = pytest.mark.slow

LEASE = "5s"
HOLD_MS = 30_000  # how long the first server's worker sits on its claimed scan (it is killed first)


def debian_image() -> Manifest:
    """An image whose one layer is Debian bookworm's dpkg status and os-release (a fresh config
    label each time, so each call is a different image with the same packages)."""
    gz, raw = make_layer({"var/lib/dpkg/status": DPKG_STATUS, "etc/os-release": DEBIAN_OS_RELEASE})
    layer = Blob(gz, OCI_LAYER_GZIP)
    config = Blob(image_config([sha256(raw)], label=unique()), OCI_CONFIG)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
           "layers": [layer.descriptor()]}
    return Manifest(canonical_json(doc), OCI_MANIFEST, blobs=[config, layer])


def scan_status(ecr, repo: str, digest: str) -> dict:
    return ecr.describe_image_scan_findings(repositoryName=repo,
                                            imageId={"imageDigest": digest})["imageScanStatus"]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def claims_logged(server, digest: str) -> int:
    """How many "scan claimed" lines of ``digest`` the server's log (all its starts) holds."""
    n = 0
    for line in server.log_text().splitlines():
        if "scan claimed" in line and digest in line:
            n += 1
    return n


def start_scan_racing(ecr, repo: str, digest: str, n: int = 2) -> list[str]:
    """``n`` StartImageScan of one image released at once; each thread's outcome ("ok" or the
    error code)."""
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one():
        barrier.wait(timeout=30)
        try:
            ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
            outcome = "ok"
        except ClientError as e:
            outcome = e.response["Error"]["Code"]
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(outcomes)


def test_a_scan_killed_with_its_server_completes_after_the_restart(server_factory, monkeypatch):
    require_berth()
    monkeypatch.setenv("BERTH_TEST_SCAN_DELAY_MS", str(HOLD_MS))
    server = server_factory.start(config={"scan-lease": LEASE})
    import_advisories(server.data_dir, OSV)
    reg = Registry(server)
    ecr = ecr_client(reg)
    repo = f"scan/crash-{unique()}"
    ecr.create_repository(repositoryName=repo)
    image = debian_image()
    push_image(reg, repo, image, "bookworm")

    # Two requests at once: one scan is queued, the other request meets the quota.
    assert start_scan_racing(ecr, repo, image.digest) == ["LimitExceededException", "ok"]
    assert scan_status(ecr, repo, image.digest)["status"] == "IN_PROGRESS"

    # The worker has claimed it (and now sits on it): kill -9.
    wait_for(lambda: claims_logged(server, image.digest) == 1, 30, "the worker to claim the scan")
    server.kill()

    # Restart on the same data, without the delay: the scan is still IN_PROGRESS, then (once the
    # dead worker's lease has run out) taken over and finished.
    monkeypatch.delenv("BERTH_TEST_SCAN_DELAY_MS")
    server.start()
    reg = Registry(server)
    ecr = ecr_client(reg)
    assert scan_status(ecr, repo, image.digest)["status"] in ("IN_PROGRESS", "COMPLETE")
    wait_for(lambda: scan_status(ecr, repo, image.digest)["status"] != "IN_PROGRESS", 60,
             "the restarted server to finish the scan")
    result = all_findings(ecr, repo, image.digest, page_size=100)
    assert result["imageScanStatus"] == {"status": "COMPLETE",
                                         "description": "The scan was completed successfully."}
    assert findings_set(result) == expected_debian()

    # The same packages scanned without a crash give the same findings.
    control = debian_image()
    push_image(reg, repo, control, "control")
    ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": control.digest})
    wait_for(lambda: scan_status(ecr, repo, control.digest)["status"] != "IN_PROGRESS", 60,
             "the uninterrupted scan")
    assert findings_set(all_findings(ecr, repo, control.digest, page_size=100)) == findings_set(result)

    # One scan record, claimed twice (the killed worker, then the restarted one), and the quota
    # still counts it.
    assert claims_logged(server, image.digest) == 2
    assert stored_scans(server.data_dir, image.digest) == [("COMPLETE", 2)]
    with pytest.raises(ClientError) as refused:
        ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": image.digest})
    assert refused.value.response["Error"]["Code"] == "LimitExceededException"
    described = ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": image.digest}])
    assert described["imageDetails"][0]["imageScanStatus"]["status"] == "COMPLETE"
