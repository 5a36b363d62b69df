"""Usage and cost report (README "Usage and cost"): bytes out of blob and manifest GETs, storage
samples, and ``berth admin usage report`` pricing them as ECR does. A private berth samples and
flushes every second so the report has figures within the test."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest

from ecr_content import push_image
from ecr_support import ACCOUNT_ID, OTHER_ACCOUNT_ID, REGION, V2, ecr_client, registry_password, unique

PULLS = 3


@pytest.fixture(scope="module")
def metered(module_server_factory):
    return module_server_factory.start(
        config={"usage": {"sample-interval": "1s", "flush-interval": "1s", "retention": "400d"}})


def _report(server, *args: str) -> dict:
    out = server.admin("usage", "report", "--format", "json", "--account", ACCOUNT_ID, *args).stdout
    return json.loads(out)


def _repository_line(report: dict, repo: str):
    for account in report["accounts"]:
        if account["account"] != ACCOUNT_ID:
            continue
        for line in account["repositories"]:
            if line["repository"] == repo:
                return account, line
    return None, None


def test_usage_report_counts_bytes_out_of_pulls_and_prices_storage(metered):
    client = ecr_client(metered.url)
    repo = f"usage/report-{unique()}"
    client.create_repository(repositoryName=repo)
    image = push_image(client, repo, "v1", layers=2)
    v2 = V2(metered.url, registry_password(client))

    # What the client received from berth itself: a blob store that serves GETs by redirect (S3)
    # sends the bytes, not berth, and berth counts none of them.
    received = 0
    redirected = 0
    for _ in range(PULLS):
        r = v2.request("GET", f"/v2/{repo}/manifests/v1", headers={"Accept": image.media_type})
        assert r.status_code == 200, r.text
        received += len(r.content)
        for digest, blob in zip([image.config_digest, *image.layer_digests], image.blobs):
            r = v2.request("GET", f"/v2/{repo}/blobs/{digest}")
            if r.status_code == 307:
                redirected += 1
                continue
            assert r.status_code == 200 and r.content == blob
            received += len(r.content)
    # A ranged GET counts what it sent; a HEAD sends no body and counts nothing.
    layer = image.layer_digests[0]
    r = v2.request("GET", f"/v2/{repo}/blobs/{layer}", headers={"Range": "bytes=0-9"})
    if r.status_code != 307:
        assert r.status_code == 206 and len(r.content) == 10
        received += len(r.content)
    assert v2.request("HEAD", f"/v2/{repo}/blobs/{layer}").status_code == 200
    if not redirected:
        assert received == PULLS * (len(image.manifest) + len(image.config) + image.layers_size) + 10

    # The flush and the sampling run every second: wait (bounded) for both to reach the store.
    deadline = time.monotonic() + 30
    while True:
        report = _report(metered)
        account, line = _repository_line(report, repo)
        if line and line["bytes_out"] >= received and line["gb_months_stored"] > 0:
            break
        assert time.monotonic() < deadline, f"no figures for {repo} within 30 s: {report}"
        time.sleep(0.5)

    assert line["bytes_out"] == received
    assert line["gb_out"] == pytest.approx(received / 2**30)
    # Under the free GiB: no transfer cost. Storage at 0.10 USD per GiB-month, in micro-dollars.
    assert line["transfer_cost_micros"] == 0
    assert line["gb_months_stored"] > 0
    assert abs(line["storage_cost_micros"] - round(line["gb_months_stored"] * 100_000)) <= 1
    assert line["total_cost_micros"] == line["storage_cost_micros"] + line["transfer_cost_micros"]
    assert account["bytes_out"] >= received
    assert report["pricing"]["storage_usd_per_gb_month"] == pytest.approx(0.10)
    assert report["pricing"]["free_transfer_gb"] == pytest.approx(1.0)
    assert [t.get("up_to_gb") for t in report["pricing"]["transfer_out_tiers"]] == [10240, 51200, 153600, None]

    # The same figures as CSV, and as a table; the current-bytes command still works.
    rows = list(csv.DictReader(io.StringIO(
        metered.admin("usage", "report", "--format", "csv", "--account", ACCOUNT_ID).stdout)))
    mine = [r for r in rows if r["repository"] == repo]
    assert len(mine) == 1 and float(mine[0]["gb_out"]) == pytest.approx(received / 2**30, abs=1e-6)
    assert any(r["repository"] == "" and r["account"] == ACCOUNT_ID for r in rows)
    table = metered.admin("usage", "report", "--format", "table").stdout
    assert "TOTAL-USD" in table and repo in table
    current = metered.admin("usage").stdout
    assert any(line.startswith(repo + "\t") for line in current.splitlines())


def test_usage_report_bills_a_cross_account_pull_to_the_repository_owner(metered, tmp_path):
    """ECR bills data transfer to the registry that serves it: bytes another account pulls
    through the owner's host name are the owner's, under the owner's repository."""
    owner = ecr_client(metered.url)
    repo = f"usage/shared-{unique()}"
    owner.create_repository(repositoryName=repo)
    image = push_image(owner, repo, "v1")
    metered.admin("account", "create", "--id", OTHER_ACCOUNT_ID, "--name", "other", check=False)
    name = f"puller-{unique()}"
    metered.admin("user", "create", "--account", OTHER_ACCOUNT_ID, "--name", name)
    policy = tmp_path / "pull.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage"], "Resource": "*"}]}))
    metered.admin("user", "policy", "put", "--account", OTHER_ACCOUNT_ID, name, "pull", str(policy))
    owner.set_repository_policy(repositoryName=repo, policyText=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT_ID}:user/{name}"},
            "Action": "ecr:BatchGetImage"}]}))
    puller = ecr_client(metered.url, metered.create_key(OTHER_ACCOUNT_ID, name))
    host = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.localhost:{metered.url.rsplit(':', 1)[1]}"
    r = V2(metered.url, registry_password(puller)).request(
        "GET", f"/v2/{repo}/manifests/v1", {"Accept": image.media_type, "Host": host})
    assert r.status_code == 200 and r.content == image.manifest, r.text

    def lines() -> list:
        report = json.loads(metered.admin("usage", "report", "--format", "json").stdout)
        return [(a["account"], line["repository"], line["bytes_out"])
                for a in report["accounts"] for line in a["repositories"] if line["repository"] == repo]

    deadline = time.monotonic() + 30
    while (ACCOUNT_ID, repo, len(image.manifest)) not in lines():
        assert time.monotonic() < deadline, f"no bytes out for {repo} under {ACCOUNT_ID}: {lines()}"
        time.sleep(0.5)
    assert not [line for line in lines() if line[0] == OTHER_ACCOUNT_ID], lines()


def test_usage_report_refuses_a_malformed_range(metered):
    bad = metered.admin("usage", "report", "--from", "yesterday", check=False)
    assert bad.returncode == 1 and "expected a UTC time" in bad.stderr
    both = metered.admin("usage", "report", "--month", "2026-11", "--from", "2026-11-02", check=False)
    assert both.returncode == 1 and "not both" in both.stderr
    # A month with nothing recorded is an empty report, not an error.
    empty = json.loads(metered.admin("usage", "report", "--month", "2001-01", "--format", "json").stdout)
    assert empty["from"] == "2001-01-01T00:00:00Z" and empty["to"] == "2001-02-01T00:00:00Z"
    assert empty["accounts"] == []
