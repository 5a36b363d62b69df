"""Shared plumbing for the tag-immutability, lifecycle and garbage-collection tests.

- private servers started with extra ``berth serve`` flags (``--lifecycle-interval``,
  ``--gc-interval``, ...), registered with the ``server_factory`` fixture so they stop at teardown;
- the ECR management API twice: through boto3 (what users run) and as raw SigV4-signed JSON 1.1
  requests, for members the machine's botocore 1.29 model does not know
  (``imageTagMutabilityExclusionFilters``, the ``*_WITH_EXCLUSION`` modes);
- images built from explicit layers (to share a base layer between images) and helpers that read
  the filesystem blob store of a data directory, and run ``berth gc``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Optional

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

import harness
from content import (OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Blob, Manifest, canonical_json, image_config,
                     make_layer, sha256, unique)
from harness import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, AWS_REGION, BERTH_BIN, Registry, ServerProcess
from support.server import with_store_args

ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."


def require_berth():
    """These features are berth's own (ECR API, lifecycle, gc); Distribution has none of them."""
    if harness.TARGET != "berth":
        pytest.skip("ECR management API, lifecycle and gc exist only on berth")


# ---------------------------------------------------------------------------------------------
# Private servers with extra flags

def start_server(server_factory, *extra_args: str, name: str = "") -> ServerProcess:
    """Start a private berth with ``extra_args``; ``server_factory`` stops it at teardown."""
    require_berth()
    n = len(server_factory.servers) + 1
    label = name or " ".join(extra_args)
    server = ServerProcess(server_factory.base / f"flagged{n}", extra_args=extra_args, name=f"berth ({label})")
    server_factory.servers.append(server)
    return server.start()


# ---------------------------------------------------------------------------------------------
# ECR API

def ecr_client(reg: Registry):
    """A boto3 ECR client for the admin identity; no retries, so a refusal is seen as it is."""
    return boto3.client(
        "ecr", endpoint_url=reg.url, region_name=AWS_REGION,
        aws_access_key_id=ADMIN_ACCESS_KEY_ID, aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
        verify=reg.verify, config=Config(retries={"max_attempts": 1}),
    )


class EcrError(AssertionError):
    pass


def ecr_raw(reg: Registry, operation: str, payload: dict) -> tuple[int, dict]:
    """One SigV4-signed ECR JSON 1.1 request; returns (HTTP status, decoded body)."""
    body = json.dumps(payload).encode()
    url = reg.url + "/"
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": ECR_TARGET_PREFIX + operation}
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(Credentials(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY), "ecr", AWS_REGION).add_auth(request)
    r = requests.post(url, data=body, headers=dict(request.headers.items()), timeout=60, verify=reg.verify)
    try:
        decoded = r.json() if r.content else {}
    except ValueError:
        raise EcrError(f"{operation} answered {r.status_code} with a non-JSON body: {r.content[:400]!r}")
    return r.status_code, decoded


def ecr_ok(reg: Registry, operation: str, payload: dict) -> dict:
    status, body = ecr_raw(reg, operation, payload)
    if status != 200:
        raise EcrError(f"{operation} {payload} -> {status} {body}")
    return body


def ecr_error_type(body: dict) -> str:
    """The error code the way botocore derives it (``__type``, namespace and ':' suffix dropped)."""
    code = str(body.get("__type", ""))
    return code.split(":")[0].rsplit("#", 1)[-1]


def ecr_expect_error(reg: Registry, operation: str, payload: dict, code: str) -> dict:
    status, body = ecr_raw(reg, operation, payload)
    assert status == 400 and ecr_error_type(body) == code, \
        f"{operation} {payload}: expected 400 {code}, got {status} {body}"
    assert isinstance(body.get("message"), str) and body["message"], f"{code} without a message: {body}"
    return body


def client_error_code(exc) -> str:
    return exc.response["Error"]["Code"]


# ---------------------------------------------------------------------------------------------
# Images from explicit layers

def make_layer_blob(size: int = 2048, name: str = "") -> tuple[Blob, str]:
    """A real tar.gz layer with random content; returns (blob, diff_id)."""
    gz, raw = make_layer({f"data/{name or unique()}.bin": os.urandom(size)})
    return Blob(gz, OCI_LAYER_GZIP), sha256(raw)


def image_from_layers(layers: list[tuple[Blob, str]], label: str = "") -> Manifest:
    """An OCI image manifest over the given (blob, diff_id) layers with its own config."""
    config = Blob(image_config([d for _, d in layers], label=label or unique()), OCI_CONFIG)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
           "layers": [b.descriptor() for b, _ in layers]}
    return Manifest(canonical_json(doc), OCI_MANIFEST, blobs=[config] + [b for b, _ in layers])


# ---------------------------------------------------------------------------------------------
# The filesystem blob store and `berth gc`

def blob_file(data_dir: Path, digest: str) -> Path:
    algorithm, _, hexpart = digest.partition(":")
    return Path(data_dir) / "blobs" / algorithm / hexpart[:2] / hexpart


def run_berth(*args: str, timeout: int = 120, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BERTH_BIN), *with_store_args(args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"berth {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
    return proc


def wait_until(predicate, timeout: float, interval: float = 0.25, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; returns it, or fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def log_records(server: ServerProcess, msg: Optional[str] = None) -> list[dict]:
    """The server's JSON log lines (optionally only those whose ``msg`` equals ``msg``)."""
    out = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if msg is None or rec.get("msg") == msg:
            out.append(rec)
    return out
