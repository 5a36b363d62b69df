"""ECR-shaped events delivered to webhooks (README "Events"): a real HTTP receiver on 127.0.0.1
that refuses the first deliveries, checks every signature, the order per repository, the
filters, the lifecycle events, and that no acknowledged push loses its event across kill -9."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import shutil
import subprocess

from ecr_content import make_image, make_layer, push_blobs, push_image, put_image
from ecr_support import ACCOUNT_ID, REGION, berth_binary, ecr_client, unique, wait_until
from support import server as support_server
from support.scan_data import ALPINE_OS_RELEASE, APK_DB, OSV

SECRET = "webhook-secret-for-tests"
FILE_SECRET = "another-secret-from-a-file"


class Receiver:
    """An HTTP receiver that answers 500 to its first ``fail_first`` requests, then 200, and
    keeps every request (headers and body) it saw."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.requests: list[tuple[str, dict, bytes, int]] = []
        self.times: list[float] = []  # when each request arrived (time.time()), as requests
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = 500 if len(receiver.requests) < receiver.fail_first else 200
                    receiver.requests.append((self.path, dict(self.headers), body, status))
                    receiver.times.append(time.time())
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def accepted(self, path: str) -> list[dict]:
        """The events answered 200 on ``path``, in arrival order."""
        with self.lock:
            return [json.loads(body) for p, _, body, status in self.requests if p == path and status == 200]

    def all(self, path: str) -> list[tuple[dict, bytes, int]]:
        with self.lock:
            return [(headers, body, status) for p, headers, body, status in self.requests if p == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver(fail_first=2)
    yield r
    r.close()


def events_config(receiver: Receiver, secret_file) -> dict:
    hooks = [
        {"name": "all", "url": receiver.url("/all"), "secret": SECRET},
        {"name": "filtered", "url": receiver.url("/filtered"), "secret-file": str(secret_file),
         "accounts": [ACCOUNT_ID], "repository-prefixes": ["ev/keep"], "event-types": ["ECR Image Action"]},
    ]
    return {"events": json.dumps({"webhooks": hooks})}


def test_events_signed_retried_in_order_and_filtered(server_factory, receiver, tmp_path):
    secret_file = tmp_path / "hook.secret"
    secret_file.write_text(FILE_SECRET + "\n")
    server = server_factory.start(config=events_config(receiver, secret_file),
                                  extra_args=["--lifecycle-interval", "1s"])
    ecr = ecr_client(server.url)
    keep, other = f"ev/keep-{unique()}", f"ev/other-{unique()}"
    for name in (keep, other):
        ecr.create_repository(repositoryName=name)
    first, second = make_image(), make_image()
    for image, tag in ((first, "v1"), (second, "v2")):
        push_blobs(ecr, keep, image)
        put_image(ecr, keep, image, tag=tag)
    ecr.batch_delete_image(repositoryName=keep, imageIds=[{"imageTag": "v1"}])
    lone = make_image()
    push_blobs(ecr, other, lone)
    put_image(ecr, other, lone, tag="x")

    assert wait_until(lambda: len(receiver.accepted("/all")) >= 4, timeout=30), receiver.all("/all")
    got = receiver.accepted("/all")
    for event in got:
        assert event["version"] == "0" and event["source"] == "aws.ecr"
        assert event["detail-type"] == "ECR Image Action" and event["account"] == ACCOUNT_ID
        assert event["region"] == REGION and event["resources"] == [] and event["time"].endswith("Z")
    in_keep = [(e["detail"]["action-type"], e["detail"].get("image-tag"), e["detail"]["image-digest"])
               for e in got if e["detail"]["repository-name"] == keep]
    assert in_keep == [("PUSH", "v1", first.digest), ("PUSH", "v2", second.digest),
                       ("DELETE", "v1", first.digest)], in_keep
    assert all(e["detail"]["result"] == "SUCCESS" for e in got)
    assert [e["detail"]["image-digest"] for e in got if e["detail"]["repository-name"] == other] == [lone.digest]

    # The receiver's first two answers (on either path) were 500: each refused event came again,
    # its id unchanged, and was accepted once.
    attempts = receiver.all("/all")
    refused = [json.loads(body)["id"] for _, body, status in attempts + receiver.all("/filtered") if status == 500]
    assert len(refused) == 2, refused
    accepted_ids = [e["id"] for e in got] + [e["id"] for e in receiver.accepted("/filtered")]
    assert all(i in accepted_ids for i in refused), (refused, accepted_ids)
    assert len({e["id"] for e in got}) == len(got)

    # Every request is signed over its body, and names its event.
    for headers, body, _ in attempts:
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Berth-Signature"] == want
        assert headers["X-Berth-Event-Id"] == json.loads(body)["id"]
        assert headers["X-Berth-Timestamp"].isdigit()

    # The filtered webhook: only ev/keep, with the secret from its file.
    assert wait_until(lambda: len(receiver.accepted("/filtered")) >= 3, timeout=30)
    for headers, body, _ in receiver.all("/filtered"):
        want = "sha256=" + hmac.new(FILE_SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Berth-Signature"] == want
    assert {e["detail"]["repository-name"] for e in receiver.accepted("/filtered")} == {keep}

    # A lifecycle policy keeping one image expires the other: a Lifecycle Policy Action event,
    # delivered to "all" and filtered out of "filtered" by its event type.
    policy = {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                          "countNumber": 1}, "action": {"type": "expire"}}]}
    third = make_image()
    push_blobs(ecr, other, third)
    put_image(ecr, other, third, tag="y")
    ecr.put_lifecycle_policy(repositoryName=other, lifecyclePolicyText=json.dumps(policy))

    def expired():
        return [e for e in receiver.accepted("/all") if e["detail-type"] == "ECR Lifecycle Policy Action"]

    assert wait_until(lambda: bool(expired()), timeout=30), receiver.all("/all")[-3:]
    event = expired()[0]
    assert event["detail"]["action-type"] == "EXPIRE" and event["detail"]["image-digest"] == lone.digest
    assert event["detail"]["image-tags"] == ["x"] and event["detail"]["repository-name"] == other
    assert event["resources"] == [f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{other}"]
    assert not [e for e in receiver.accepted("/filtered") if e["detail-type"] != "ECR Image Action"]


def test_events_of_acknowledged_pushes_survive_kill_9(server_factory, tmp_path):
    down = Receiver(fail_first=10**9)  # refuses everything until berth has been killed
    try:
        secret_file = tmp_path / "hook.secret"
        secret_file.write_text(FILE_SECRET)
        server = server_factory.start(config=events_config(down, secret_file))
        ecr = ecr_client(server.url)
        repo = f"ev/keep-{unique()}"
        ecr.create_repository(repositoryName=repo)
        pushed = []
        for tag in ("a", "b", "c"):
            image = make_image()
            push_blobs(ecr, repo, image)
            put_image(ecr, repo, image, tag=tag)  # acknowledged
            pushed.append(image.digest)
        assert wait_until(lambda: len(down.all("/all")) >= 1, timeout=15)
        server.kill()
        with down.lock:
            down.fail_first = 0
            down.requests.clear()
        server.start()
        assert wait_until(lambda: len(down.accepted("/all")) >= 3, timeout=30), down.all("/all")
        assert [e["detail"]["image-digest"] for e in down.accepted("/all")] == pushed
        assert [e["detail"]["image-tag"] for e in down.accepted("/all")] == ["a", "b", "c"]
    finally:
        down.close()


def test_events_config_refuses_a_webhook_without_a_secret(server_factory, tmp_path):
    r = Receiver()
    try:
        bad = {"events": json.dumps({"webhooks": [{"name": "x", "url": r.url("/x")}]})}
        with pytest.raises(RuntimeError, match="secret"):
            server_factory.start(config=bad)
    finally:
        r.close()


def test_webhook_backoff_survives_kill_9(server_factory):
    """The retry schedule is in the store: after two refusals (delay 4 s, then 8 s) and kill -9,
    the restarted berth waits for the stored next attempt instead of retrying at once, and the
    event then arrives once, with its original id."""
    first_retry = 4.0
    down = Receiver(fail_first=10**9)
    try:
        hooks = [{"name": "slow", "url": down.url("/slow"), "secret": SECRET}]
        config = {"events": json.dumps({"first-retry": f"{int(first_retry)}s", "webhooks": hooks})}
        server = server_factory.start(config=config)
        ecr = ecr_client(server.url)
        repo = f"ev/backoff-{unique()}"
        ecr.create_repository(repositoryName=repo)
        image = make_image()
        push_blobs(ecr, repo, image)
        put_image(ecr, repo, image, tag="v1")

        assert wait_until(lambda: len(down.all("/slow")) >= 2, timeout=30), down.all("/slow")
        server.kill()
        with down.lock:
            assert len(down.requests) == 2, [status for *_, status in down.requests]
            refused_ids = [json.loads(body)["id"] for _, _, body, _ in down.requests]
            first_at, second_at = down.times
            down.fail_first = 0  # accepts from now on
        assert refused_ids[0] == refused_ids[1], refused_ids
        # The delay grew: the second attempt came about first_retry after the first.
        assert second_at - first_at >= first_retry - 1.0, (first_at, second_at)

        restarted_at = time.time()
        server.start()
        assert wait_until(lambda: len(down.accepted("/slow")) >= 1, timeout=40), down.all("/slow")
        with down.lock:
            third_at = down.times[2]
        due = second_at + 2 * first_retry  # the stored next attempt: the delay doubled
        # Retried at once (the schedule forgotten), it would come within a pass or two of the
        # restart, well before `due`; the bound allows for a second of scheduling slack.
        assert third_at >= due - 1.0, (f"retried {third_at - second_at:.1f}s after the second refusal "
                                       f"({third_at - restarted_at:.1f}s after the restart); due at "
                                       f"{due - second_at:.1f}s")
        assert third_at <= due + 20.0, third_at - due

        time.sleep(2.5)  # two more delivery passes: nothing is sent again
        accepted = down.accepted("/slow")
        assert [e["id"] for e in accepted] == [refused_ids[0]], accepted
        assert accepted[0]["detail"]["image-digest"] == image.digest
        assert len(down.all("/slow")) == 3, [s for *_, s in down.all("/slow")]
    finally:
        down.close()


def test_image_scan_events_carry_the_status_and_the_findings_counts(server_factory, tmp_path):
    """A basic scan's end is an "ECR Image Scan" event, as ECR sends to EventBridge: the scan's
    status, the image's digest and tags, its repository's ARN, and the same severity counts
    DescribeImageScanFindings reports; an image berth cannot scan gets one too."""
    receiver = Receiver()
    try:
        server = server_factory.start(config={"events": json.dumps(
            {"webhooks": [{"name": "scans", "url": receiver.url("/scans"), "secret": SECRET,
                           "event-types": ["ECR Image Scan"]}]})})
        # Only Alpine's openssl advisories: enough for findings (of severity UNDEFINED: the
        # vuln-list records carry none).
        advisories = tmp_path / "advisories"
        wanted = Path("alpine-secdb-vuln-list") / "3.18" / "main" / "openssl.json"
        (advisories / wanted).parent.mkdir(parents=True)
        shutil.copy(OSV / wanted, advisories / wanted)
        proc = subprocess.run([str(berth_binary()), "advisories", "import", *support_server.store_args(server.data_dir),
                               "--data-dir", str(server.data_dir), str(advisories)],
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stdout + proc.stderr

        ecr = ecr_client(server.url)
        repo = f"ev/scan-{unique()}"
        ecr.create_repository(repositoryName=repo, imageScanningConfiguration={"scanOnPush": True})
        layer, _ = make_layer({"lib/apk/db/installed": APK_DB, "etc/os-release": ALPINE_OS_RELEASE})
        alpine = push_image(ecr, repo, "3.18", image=make_image(layer_blobs=[layer]))
        bare = push_image(ecr, repo, "bare")  # no os-release: UNSUPPORTED_IMAGE

        def scans() -> dict:
            return {e["detail"]["image-digest"]: e for e in receiver.accepted("/scans")}

        assert wait_until(lambda: len(scans()) == 2, timeout=60), receiver.all("/scans")
        ecr.get_waiter("image_scan_complete").wait(repositoryName=repo, imageId={"imageDigest": alpine.digest},
                                                    WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        counts = ecr.describe_image_scan_findings(
            repositoryName=repo, imageId={"imageDigest": alpine.digest})["imageScanFindings"]["findingSeverityCounts"]
        assert sum(counts.values()) > 0, counts  # findings exist: the counts are not trivially empty

        event = scans()[alpine.digest]
        assert event["detail-type"] == "ECR Image Scan" and event["source"] == "aws.ecr"
        assert event["account"] == ACCOUNT_ID and event["region"] == REGION
        assert event["resources"] == [f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{repo}"]
        assert event["detail"] == {"scan-status": "COMPLETE", "repository-name": repo,
                                   "finding-severity-counts": counts, "image-digest": alpine.digest,
                                   "image-tags": ["3.18"]}, event
        other = scans()[bare.digest]["detail"]
        assert other["scan-status"] == "UNSUPPORTED_IMAGE" and other["finding-severity-counts"] == {}, other
        assert other["image-tags"] == ["bare"]
        assert len(receiver.accepted("/scans")) == 2, "one event per scan"
    finally:
        receiver.close()
