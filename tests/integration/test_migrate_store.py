"""``berth migrate-store``: an embedded registry (SQLite + disk) moved to PostgreSQL + S3.

A berth on SQLite and the filesystem (named explicitly, whatever store the rest of the run uses)
gets real content through the raw /v2 API and the ECR API: images with tags, a multi-arch index,
a referrer, a repository with immutable tags, a lifecycle policy, a repository policy, resource
tags, and a second account whose admin user has an access key and an attached policy. It is
stopped, and the ECR answers it gave are kept. Then, each time into a fresh database on the test
command's PostgreSQL (``BERTH_TEST_POSTGRES_DSN``) and a fresh bucket on its RADOS Gateway
(``BERTH_TEST_S3_*``), with a secret key of its own (so the access keys' secrets are re-sealed):

- a migration, then a berth on the destination serves everything: every image pulled by tag and
  by digest with digests verified, the referrer listed, the same ECR answers, the second
  account's key works; a second run copies 0 blobs;
- a migration killed with SIGKILL midway (slowed by the test-only
  ``BERTH_TEST_MIGRATE_BLOB_PAUSE_MS``) and run again completes, with the same result;
- a source blob whose bytes were overwritten makes the command fail naming the digest;
- the same stores as source and destination are refused.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from content import (describe, get_manifest, make_artifact, make_image, make_index, push_blob, push_image,
                     push_manifest, sha256)
from ecr_helpers import blob_file, require_berth, wait_until
from harness import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, AWS_REGION, BERTH_BIN, Registry, ServerProcess

OTHER_ACCOUNT = "111111111111"
LIFECYCLE = json.dumps({"rules": [{"rulePriority": 1, "description": "keep 100",
                                   "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                 "countNumber": 100},
                                   "action": {"type": "expire"}}]})
REPO_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "pull", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
     "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})


def _require_env() -> None:
    names = ("BERTH_TEST_POSTGRES_DSN", "BERTH_TEST_S3_ENDPOINT", "BERTH_TEST_S3_ACCESS_KEY",
             "BERTH_TEST_S3_SECRET_KEY")
    missing = [n for n in names if not os.environ.get(n)]
    assert not missing, (f"{', '.join(missing)} unset: migrate-store's test needs the test command's PostgreSQL "
                         "and RADOS Gateway (scripts/test.sh; tests/infra/pg-up.sh, ceph-up.sh)")


def _fresh_database() -> str:
    base = os.environ["BERTH_TEST_POSTGRES_DSN"]
    name = f"berth_migrate_{os.getpid()}_{secrets.token_hex(4)}"
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", base, "-c", f"CREATE DATABASE {name} TEMPLATE template0"],
                   check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return f"{base} dbname={name}"


def _destination(workdir: Path) -> tuple[Path, dict]:
    """A config file naming a fresh database and bucket (and a data directory of its own, with
    its own secret key), and the same settings as a ServerProcess config dict."""
    _require_env()
    workdir.mkdir(parents=True, exist_ok=True)
    s3 = {"endpoint": os.environ["BERTH_TEST_S3_ENDPOINT"],
          "region": os.environ.get("BERTH_TEST_S3_REGION", "us-east-1"),
          "bucket": "berth-migrate-" + secrets.token_hex(6),
          "access-key-id": os.environ["BERTH_TEST_S3_ACCESS_KEY"],
          "secret-access-key": os.environ["BERTH_TEST_S3_SECRET_KEY"], "path-style": "true"}
    config = {"metadata": "{postgres: {dsn: '%s'}}" % _fresh_database(),
              "storage": "{s3: {" + ", ".join(f'{k}: "{v}"' for k, v in s3.items()) + "}}"}
    data_dir = workdir / "data"
    path = workdir / "to.yaml"
    path.write_text(f"data-dir: {data_dir}\n" + "".join(f"{k}: {v}\n" for k, v in config.items()))
    return path, config


def _ecr(url: str, key_id: str = ADMIN_ACCESS_KEY_ID, secret: str = ADMIN_SECRET_ACCESS_KEY):
    return boto3.session.Session().client("ecr", endpoint_url=url, region_name=AWS_REGION,
                                          aws_access_key_id=key_id, aws_secret_access_key=secret,
                                          config=Config(retries={"max_attempts": 1}))


def _berth(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(BERTH_BIN), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)


def _migrate(source_dir: Path, to_config: Path, *extra: str) -> subprocess.CompletedProcess:
    return _berth("migrate-store", "--from-data-dir", str(source_dir), "--to-config", str(to_config), *extra)


def _try_create(url: str, key: tuple[str, str], name: str) -> bool:
    try:
        _ecr(url, *key).create_repository(repositoryName=name)
        return True
    except ClientError as e:  # a key made by another process may take a moment to be seen
        return e.response["Error"]["Code"] == "RepositoryAlreadyExistsException"


class Source:
    """The embedded registry and what it holds: images per repository as
    {repo: {"tags": {tag: digest}, "manifests": {digest: (media type, body)}, "blobs": {digest: bytes}}}."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.data_dir = workdir / "data"
        config = {"metadata": "{sqlite: {path: '%s'}}" % (self.data_dir / "berth.db"),
                  "storage": "{filesystem: {root: '%s'}}" % self.data_dir}
        self.server = ServerProcess(workdir, data_dir=self.data_dir, name="berth (migration source)",
                                    create_on_push=False, config=config)
        self.content: dict[str, dict] = {}
        self.referrers: dict[str, tuple[str, str]] = {}  # repo -> (subject digest, referrer digest)
        self.other_key: tuple[str, str] = ("", "")
        self.answers: dict = {}

    def _record(self, repo: str, manifest, tag: str | None = None) -> None:
        c = self.content.setdefault(repo, {"tags": {}, "manifests": {}, "blobs": {}})
        c["manifests"][manifest.digest] = (manifest.media_type, manifest.body)
        for b in manifest.blobs:
            c["blobs"][b.digest] = b.data
        for child in manifest.children:
            self._record(repo, child)
        if tag:
            c["tags"][tag] = manifest.digest

    def fill(self) -> None:
        reg = Registry(self.server)
        ecr = _ecr(reg.url)
        app, locked = "mig/app", "mig/locked"
        ecr.create_repository(repositoryName=app, tags=[{"Key": "team", "Value": "core"},
                                                        {"Key": "env", "Value": "prod"}])
        ecr.create_repository(repositoryName=locked, imageTagMutability="IMMUTABLE")
        one, two = make_image(layers=2), make_image(layers=3, layer_size=300_000)
        for tag, image in (("v1", one), ("latest", one), ("v2", two)):
            push_image(reg, app, image, tag)
            self._record(app, image, tag)
        index = make_index([make_image(arch="amd64"), make_image(arch="arm64")])
        push_image(reg, app, index, "multi")
        self._record(app, index, "multi")
        signature = make_artifact(artifact_type="application/vnd.example.signature.v1", subject=one)
        push_image(reg, app, signature)
        self._record(app, signature)
        self.referrers[app] = (one.digest, signature.digest)
        frozen = make_image()
        push_image(reg, locked, frozen, "1.0")
        self._record(locked, frozen, "1.0")
        ecr.put_lifecycle_policy(repositoryName=app, lifecyclePolicyText=LIFECYCLE)
        ecr.set_repository_policy(repositoryName=app, policyText=REPO_POLICY)

        admin = ["admin", "--data-dir", str(self.data_dir)]
        for args in (["account", "create", "--id", OTHER_ACCOUNT, "--name", "team"],
                     ["user", "create", "--account", OTHER_ACCOUNT, "--name", "dev", "--admin"],
                     ["user", "policy", "attach", "--account", OTHER_ACCOUNT, "dev",
                      "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"]):
            p = _berth(*admin, *args)
            assert p.returncode == 0, p.stderr
        p = _berth(*admin, "key", "create", "--account", OTHER_ACCOUNT, "--user", "dev")
        assert p.returncode == 0, p.stderr
        fields = dict(line.split("=", 1) for line in p.stdout.split())
        self.other_key = (fields["access_key_id"], fields["secret_access_key"])
        wait_until(lambda: _try_create(reg.url, self.other_key, "team/tool"), 10, what="the new key to work")
        self.answers = ecr_answers(reg.url, self)
        self.server.stop()


def ecr_answers(url: str, source: Source) -> dict:
    """What the ECR API says about the registry, minus what depends on the server's address or on
    pulls made while checking."""
    ecr = _ecr(url)
    out: dict = {}
    repos = ecr.describe_repositories()["repositories"]
    for r in repos:
        r.pop("repositoryUri", None)
    out["repositories"] = sorted(repos, key=lambda r: r["repositoryName"])
    for repo in source.content:
        images = ecr.describe_images(repositoryName=repo)["imageDetails"]
        for i in images:
            i.pop("lastRecordedPullTime", None)
            i["imageTags"] = sorted(i.get("imageTags", []))
        out[f"images {repo}"] = sorted(images, key=lambda i: i["imageDigest"])
        arn = next(r["repositoryArn"] for r in repos if r["repositoryName"] == repo)
        out[f"tags {repo}"] = sorted(ecr.list_tags_for_resource(resourceArn=arn)["tags"], key=lambda t: t["Key"])
    app = "mig/app"
    lifecycle = ecr.get_lifecycle_policy(repositoryName=app)
    out["lifecycle"] = {k: lifecycle[k] for k in ("repositoryName", "registryId", "lifecyclePolicyText")}
    policy = ecr.get_repository_policy(repositoryName=app)
    out["policy"] = {k: policy[k] for k in ("repositoryName", "registryId", "policyText")}
    other = _ecr(url, *source.other_key).describe_repositories()["repositories"]
    out["other account"] = sorted((r["repositoryName"], r["registryId"]) for r in other)
    return out


def check_destination(workdir: Path, config: dict, source: Source) -> None:
    """A berth on the destination answers as the source did and serves every image intact."""
    server = ServerProcess(workdir / "serve", data_dir=workdir / "data", name="berth (migration destination)",
                           create_on_push=False, config=config)
    server.start()
    try:
        reg = Registry(server)
        assert ecr_answers(reg.url, source) == source.answers
        for repo, c in source.content.items():
            for tag, digest in c["tags"].items():
                r = get_manifest(reg, repo, tag)
                assert r.status_code == 200, describe(r)
                assert sha256(r.content) == digest and r.headers["Docker-Content-Digest"] == digest
            for digest, (media_type, body) in c["manifests"].items():
                r = get_manifest(reg, repo, digest)
                assert r.status_code == 200, describe(r)
                assert r.content == body and sha256(r.content) == digest
                assert r.headers["Content-Type"].split(";")[0] == media_type
            for digest, data in c["blobs"].items():
                r = reg.get(f"/v2/{repo}/blobs/{digest}", allow_redirects=True)
                assert r.status_code == 200, describe(r)
                assert sha256(r.content) == digest and r.content == data
        subject, referrer = source.referrers["mig/app"]
        r = reg.get(f"/v2/mig/app/referrers/{subject}")
        assert r.status_code == 200, describe(r)
        assert [m["digest"] for m in r.json()["manifests"]] == [referrer]
        # The immutable repository still refuses to move its tag.
        other = make_image()
        for blob in other.blobs:
            push_blob(reg, "mig/locked", blob.data)
        r = push_manifest(reg, "mig/locked", "1.0", other, expect=None)
        assert r.status_code == 400 and "immutable" in r.text, describe(r)
        # The second account's key works (its secret was re-sealed under the destination's key).
        token = _ecr(reg.url, *source.other_key).get_authorization_token()["authorizationData"]
        assert token and token[0]["authorizationToken"]
    finally:
        server.stop()


def all_blobs(source: Source) -> set[str]:
    return {d for c in source.content.values() for d in c["blobs"]}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Source:
    require_berth()
    _require_env()
    s = Source(tmp_path_factory.mktemp("migrate-source"))
    s.server.start()
    try:
        s.fill()
    finally:
        s.server.stop()
    return s


def test_migrate_store_copies_everything_and_a_rerun_copies_nothing(source, tmp_path):
    to_config, config = _destination(tmp_path)
    p = _migrate(source.data_dir, to_config, "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["failures"] == []
    assert report["blobs_copied"] >= len(all_blobs(source)) and report["blobs_present"] == 0
    assert (report["accounts"], report["repositories"], report["lifecycle_policies"]) == (2, 3, 1)
    assert report["access_keys"] == 2 and report["repository_policies"] == 1 and report["resource_tags"] == 2
    assert ADMIN_SECRET_ACCESS_KEY not in p.stdout + p.stderr
    assert source.other_key[1] not in p.stdout + p.stderr
    assert os.environ["BERTH_TEST_S3_SECRET_KEY"] not in p.stdout + p.stderr

    check_destination(tmp_path, config, source)

    again = _migrate(source.data_dir, to_config, "--json")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["blobs_copied"] == 0 and second["bytes_copied"] == 0
    assert second["blobs_present"] == report["blobs_copied"]


def test_migrate_store_resumes_after_kill(source, tmp_path):
    to_config, config = _destination(tmp_path)
    env = dict(os.environ, BERTH_TEST_MIGRATE_BLOB_PAUSE_MS="400")
    proc = subprocess.Popen([str(BERTH_BIN), "migrate-store", "--from-data-dir", str(source.data_dir),
                             "--to-config", str(to_config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, text=True)
    seen = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, f"migrate-store ended before copying blobs: {''.join(seen)}"
            seen.append(line)
            if line.startswith("blobs: "):
                done = int(line.split()[1].split("/")[0])
                if done >= 2:
                    break
        else:
            pytest.fail(f"no blob progress within 60 s: {''.join(seen)}")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    p = _migrate(source.data_dir, to_config, "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["failures"] == []
    assert report["blobs_present"] >= 2, report  # what the killed run had committed
    check_destination(tmp_path, config, source)
    again = _migrate(source.data_dir, to_config, "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["blobs_copied"] == 0, again.stdout + again.stderr


def test_migrate_store_fails_on_a_corrupt_source_blob(source, tmp_path):
    copy = tmp_path / "source"
    shutil.copytree(source.data_dir, copy)
    content = source.content["mig/locked"]
    digest = max(content["blobs"], key=lambda d: len(content["blobs"][d]))  # its layer
    path = blob_file(copy, digest)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    to_config, _ = _destination(tmp_path / "dest")
    p = _migrate(copy, to_config, "--json")
    assert p.returncode == 1, p.stdout + p.stderr
    assert digest in p.stderr and "corrupt" in p.stderr
    report = json.loads(p.stdout)
    assert any(digest in f for f in report["failures"]), report


def test_migrate_store_refuses_the_same_stores(source, tmp_path):
    same = tmp_path / "same.yaml"
    same.write_text(f"data-dir: {source.data_dir}\nmetadata: {{sqlite: {{path: '{source.data_dir}/berth.db'}}}}\n")
    p = _migrate(source.data_dir, same)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "same" in p.stderr
