"""A metadata store outage at run time: both APIs answer 503 with a Retry-After hint, and berth
serves again once the store is back, without a restart.

The test starts a PostgreSQL cluster of its own (tests/infra/pg-up.sh; the test command's cluster
stays untouched), stops it with ``pg_ctl stop`` while berth serves, starts it again on the same
port and data, and checks both APIs on the way.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from content import describe, make_image, push_image, unique
from ecr_helpers import ECR_TARGET_PREFIX, require_berth
from harness import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, AWS_REGION, Registry, ServerProcess

INFRA = Path(__file__).resolve().parents[1] / "infra"
PGBIN = "/usr/lib/postgresql/15/bin"


class PrivateCluster:
    """A throwaway PostgreSQL cluster (pg-up.sh) that the test may stop and start."""

    def __init__(self):
        self.dsn = subprocess.run([str(INFRA / "pg-up.sh")], check=True, capture_output=True, text=True,
                                  timeout=120, stdin=subprocess.DEVNULL).stdout.strip()
        self.port = int(re.search(r"port=(\d+)", self.dsn).group(1))
        self.dir = Path(f"/tmp/berth-pg-{self.port}")  # where pg-up.sh keeps the cluster

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", f"{PGBIN}/pg_ctl", "-D", str(self.dir / "data"), *args],
                       check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        # The options pg-up.sh starts it with: the same port, socket directory and settings.
        self._pg_ctl("-l", str(self.dir / "server.log"), "-w", "-t", "30", "start", "-o",
                     f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
                     "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")

    def down(self) -> None:
        subprocess.run([str(INFRA / "pg-down.sh"), self.dsn], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)


@pytest.fixture
def private_pg():
    cluster = PrivateCluster()
    try:
        yield cluster
    finally:
        cluster.down()


def ecr_request(url: str, operation: str, payload: dict) -> requests.Response:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": ECR_TARGET_PREFIX + operation}
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    SigV4Auth(Credentials(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY), "ecr", AWS_REGION).add_auth(request)
    return requests.post(url + "/", data=body, headers=dict(request.headers.items()), timeout=60)


def test_store_outage_answers_503_with_retry_after_and_recovers(tmp_path, private_pg):
    require_berth()
    server = ServerProcess(tmp_path / "outage", name="berth (PostgreSQL outage)",
                           config={"metadata": "{postgres: {dsn: '%s'}}" % private_pg.dsn})
    server.start()
    try:
        reg = Registry(server)
        repo = unique("outage/repo")
        reg.create_repository(repo)
        image = make_image(layer_size=512)
        push_image(reg, repo, image, "v1")

        r = ecr_request(server.url, "InitiateLayerUpload", {"repositoryName": repo})
        assert r.status_code == 200, describe(r)
        upload_id = r.json()["uploadId"]

        private_pg.stop()
        # /v2: a call that needs the metadata (starting an upload, listing tags).
        for method, path in (("POST", f"/v2/{repo}/blobs/uploads/"), ("GET", f"/v2/{repo}/tags/list")):
            r = reg.request(method, path)
            assert r.status_code == 503, describe(r)
            assert r.headers.get("Retry-After") == "1", describe(r)
            assert r.json()["errors"][0]["code"] == "UNAVAILABLE", describe(r)
        # ECR: the same outage, as a JSON 1.1 error.
        r = ecr_request(server.url, "DescribeRepositories", {})
        assert r.status_code == 503, describe(r)
        assert r.headers.get("Retry-After") == "1", describe(r)
        assert r.json()["__type"] == "ServiceUnavailableException", describe(r)
        # A repository or an upload the store cannot be asked about is not a missing one: the
        # outage is reported as such, never as RepositoryNotFound or UploadNotFound.
        for operation, payload in (
            ("DescribeImages", {"repositoryName": repo}),
            ("UploadLayerPart", {"repositoryName": repo, "uploadId": upload_id, "partFirstByte": 0,
                                 "partLastByte": 0, "layerPartBlob": "YQ=="}),
            ("CompleteLayerUpload", {"repositoryName": repo, "uploadId": upload_id,
                                     "layerDigests": ["sha256:" + "0" * 64]}),
        ):
            r = ecr_request(server.url, operation, payload)
            assert r.status_code == 503, (operation, describe(r))
            assert r.json()["__type"] == "ServiceUnavailableException", (operation, describe(r))
        assert server.alive(), "berth exited during the outage"

        private_pg.start()
        deadline = time.monotonic() + 30
        while True:
            r = reg.get(f"/v2/{repo}/tags/list")
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 200 and r.json()["tags"] == ["v1"], describe(r)
        r = ecr_request(server.url, "DescribeRepositories", {"repositoryNames": [repo]})
        assert r.status_code == 200, describe(r)
        push_image(reg, repo, make_image(layer_size=512), "v2")  # writes work again too
        assert server.starts == 1 and server.alive()
    finally:
        server.stop()
