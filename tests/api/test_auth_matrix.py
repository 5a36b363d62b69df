"""The authorization matrix: every /v2 route and every ECR operation, each with every kind of
bad or foreign credential, and with a valid key whose policies allow everything but also deny
explicitly, must be refused with the right status and error, and must leave the first account's
data exactly as it was (reference §1.8, §7, §8.5).

The matrix runs against private servers (module scope) so that a crash fails one case, not the
session: each case restarts its server if an earlier case killed it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

import pytest
import requests

from ecr_content import OCI_MANIFEST, make_image, push_image, sha256
from ecr_support import (ACCOUNT_ID, OTHER_ACCOUNT_ID, REGION, REPO_ROOT, AccessKey, BerthServer,
                         admin_cli_available, basic, ecr_client, ecr_raw, registry_password, unique, wait_until)

# README: "disabling or deleting the key revokes them within a second"; a small margin for the
# request itself on a loaded machine.
REVOCATION_BOUND = 1.5

REPO = "matrix/app"
# Account 0's stored policy: keeps everything. An attacker's PutLifecyclePolicy would replace it
# with EVIL_POLICY, which expires all but one image at the next evaluation.
SEEDED_POLICY = json.dumps({"rules": [{"rulePriority": 1, "description": "keep up to a thousand images",
                                       "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                     "countNumber": 1000}, "action": {"type": "expire"}}]})
EVIL_POLICY = json.dumps({"rules": [{"rulePriority": 1, "description": "expire all images but the newest one",
                                     "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                   "countNumber": 1}, "action": {"type": "expire"}}]})
TAG = f"seeded-{unique()}"
# Account 0's repository and registry policies: grant nothing to the matrix's identities. An
# attacker's SetRepositoryPolicy or PutRegistryPolicy would replace them with EVIL_ACCESS_POLICY,
# which opens everything to everyone.
SEEDED_REPOSITORY_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "seeded", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/nobody"},
     "Action": "ecr:ListImages"}]})
SEEDED_REGISTRY_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "seeded", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/nobody"},
     "Action": "ecr:CreateRepository", "Resource": "*"}]})
EVIL_ACCESS_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}]})
NEW_REPO = "matrix/new"


# ---------------------------------------------------------------------------------------------
# The seeded servers

@dataclass
class Seeded:
    """A server with account 000000000000's data that the matrix must not see or change."""
    server: BerthServer
    image: object = None
    referrer: object = None
    v2_upload: str = ""             # path of an open /v2 upload session with 10 bytes in it
    ecr_upload_id: str = ""         # an open ECR layer upload with 10 bytes in it
    upload_bytes: bytes = b""       # the full blob the open uploads are meant to become
    keys: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def admin(self):
        return ecr_client(self.url)

    def password(self) -> str:
        return registry_password(self.admin())

    def v2(self, method: str, path: str, headers: Optional[dict] = None, **kw) -> requests.Response:
        return requests.request(method, self.url + path, headers=headers or {}, timeout=30,
                                allow_redirects=False, **kw)

    def snapshot(self) -> dict:
        """Everything an attacker might have read-modified, as seen by the admin, and the bytes of
        the data directory's blob and upload files."""
        client = self.admin()
        auth = {"Authorization": basic(self.password())}
        repos = client.describe_repositories()["repositories"]
        ids = client.list_images(repositoryName=REPO)["imageIds"]
        tags = sorted({i["imageTag"] for i in ids if "imageTag" in i})
        manifests = client.batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": t} for t in tags])["images"] if tags else []
        probe = [self.image.config_digest, *self.image.layer_digests, sha256(self.upload_bytes),
                 sha256(self.upload_bytes[:10]), sha256(b"matrix evil blob")]
        layers = client.batch_check_layer_availability(repositoryName=REPO, layerDigests=probe)["layers"]
        upload = self.v2("GET", self.v2_upload, auth)
        referrers = self.v2("GET", f"/v2/{REPO}/referrers/{self.image.digest}", auth)
        policy = client.get_lifecycle_policy(repositoryName=REPO)
        preview = client.get_lifecycle_policy_preview(repositoryName=REPO)
        repository_policy = client.get_repository_policy(repositoryName=REPO)["policyText"]
        registry_policy = client.get_registry_policy()["policyText"]
        return {
            "repositories": sorted((r["repositoryName"], r["imageTagMutability"],
                                    r["imageScanningConfiguration"]["scanOnPush"]) for r in repos),
            "images": sorted((i["imageDigest"], i.get("imageTag", "")) for i in ids),
            "manifests": sorted((m["imageId"]["imageTag"], m["imageManifest"]) for m in manifests),
            "resource_tags": client.list_tags_for_resource(
                resourceArn=f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{REPO}")["tags"],
            "layers": sorted((l["layerDigest"], l["layerAvailability"]) for l in layers),
            "v2_upload": (upload.status_code, upload.headers.get("Range")),
            "referrers": (referrers.status_code, sorted(m["digest"] for m in referrers.json().get("manifests", []))),
            "lifecycle_policy": policy["lifecyclePolicyText"],
            "repository_policy": repository_policy,
            "registry_policy": registry_policy,
            "lifecycle_preview": (preview["status"], preview["lifecyclePolicyText"],
                                  sorted(r["imageDigest"] for r in preview.get("previewResults", []))),
            **self.files(),
        }

    def files(self) -> dict:
        """{"blob_files": {path: sha256}, "upload_files": {path: sha256}} under the data directory.
        Both open uploads (the /v2 session and the ECR layer upload) must be among the upload
        files, so that appending to or dropping either shows."""
        out = {}
        for kind in ("blobs", "uploads"):
            root = self.server.data_dir / kind
            out[f"{kind[:-1]}_files"] = {
                str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}
        return out

    def markers(self) -> list[str]:
        """Strings that only someone who can read account 0's repository could echo."""
        return [TAG, self.image.digest, self.referrer.digest, *self.image.layer_digests]


def seed(server: BerthServer) -> Seeded:
    s = Seeded(server)
    client = s.admin()
    client.create_repository(repositoryName=REPO, tags=[{"Key": "owner", "Value": "team"}])
    s.image = push_image(client, REPO, TAG)
    s.referrer = make_image(extra={"artifactType": "application/vnd.example.sbom",
                                   "subject": {"mediaType": OCI_MANIFEST, "digest": s.image.digest,
                                               "size": len(s.image.manifest)}})
    push_image(client, REPO, None, s.referrer)
    s.upload_bytes = b"0123456789abcdefghij"
    auth = {"Authorization": basic(s.password())}
    r = s.v2("POST", f"/v2/{REPO}/blobs/uploads/", auth)
    assert r.status_code == 202, r.text
    location = r.headers["Location"]
    location = location.split(server.host, 1)[-1] if "://" in location else location
    r = s.v2("PATCH", location, {**auth, "Content-Type": "application/octet-stream"}, data=s.upload_bytes[:10])
    assert r.status_code == 202, r.text
    s.v2_upload = r.headers.get("Location", location)
    s.v2_upload = s.v2_upload.split(server.host, 1)[-1] if "://" in s.v2_upload else s.v2_upload
    s.ecr_upload_id = client.initiate_layer_upload(repositoryName=REPO)["uploadId"]
    client.upload_layer_part(repositoryName=REPO, uploadId=s.ecr_upload_id, partFirstByte=0, partLastByte=9,
                             layerPartBlob=s.upload_bytes[:10])
    client.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=SEEDED_POLICY)
    client.start_lifecycle_policy_preview(repositoryName=REPO)
    client.set_repository_policy(repositoryName=REPO, policyText=SEEDED_REPOSITORY_POLICY)
    client.put_registry_policy(policyText=SEEDED_REGISTRY_POLICY)
    uploads = s.files()["upload_files"]
    for upload_id in (s.ecr_upload_id, s.v2_upload.split("?")[0].rstrip("/").rsplit("/", 1)[-1]):
        assert any(upload_id in path for path in uploads), \
            f"the data-directory snapshot does not see upload {upload_id}: {sorted(uploads)}"
    return s


def _flip(text: str, i: int) -> str:
    return text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1:]


@pytest.fixture(scope="module")
def seeded(module_server_factory) -> Seeded:
    """The main matrix server (default token lifetime) with keys for every credential kind."""
    s = seed(module_server_factory.start())
    assert admin_cli_available(), "the matrix needs 'berth admin' (README, Command line) for its other identities"
    srv = s.server
    srv.admin("account", "create", "--id", OTHER_ACCOUNT_ID, "--name", "other")
    srv.admin("user", "create", "--account", OTHER_ACCOUNT_ID, "--name", "alice", "--admin")
    srv.admin("user", "create", "--account", ACCOUNT_ID, "--name", "bob")   # no permissions
    s.keys["other"] = srv.create_key(OTHER_ACCOUNT_ID, "alice")
    s.keys["unprivileged"] = srv.create_key(ACCOUNT_ID, "bob")
    for user, text in (("deny_repositories", DENY_REPOSITORIES), ("deny_everything", DENY_EVERYTHING)):
        name = user.replace("_", "-")
        srv.admin("user", "create", "--account", ACCOUNT_ID, "--name", name)
        policy = srv.data_dir.parent / f"{name}.json"
        policy.write_text(text)
        srv.admin("user", "policy", "put", "--account", ACCOUNT_ID, name, "allow-then-deny", str(policy))
        s.keys[user] = srv.create_key(ACCOUNT_ID, name)
    s.keys["deny_repositories_token"] = registry_password(ecr_client(s.url, s.keys["deny_repositories"]))
    for kind in ("disabled", "deleted"):
        key = srv.create_key(ACCOUNT_ID, "admin")
        s.keys[kind] = key
        s.keys[kind + "_token"] = registry_password(ecr_client(s.url, key))
    for kind, verb in (("disabled", "disable"), ("deleted", "delete")):
        key = s.keys[kind]
        srv.admin("key", verb, key.access_key_id)
        assert wait_until(lambda: ecr_raw(s.url, "DescribeRegistry", {}, key).error_type
                          == "UnrecognizedClientException", timeout=REVOCATION_BOUND, interval=0.05), \
            f"the {kind} key still works {REVOCATION_BOUND} s after 'berth admin key {verb}'"
    return s


@pytest.fixture(scope="module")
def seeded_short_ttl(module_server_factory) -> Seeded:
    """A second server whose registry tokens live 2 s, with one token minted and left to expire."""
    s = seed(module_server_factory.start(config={"token-ttl": "2s"}))
    s.keys["expired_token"] = s.password()
    assert wait_until(lambda: s.v2("GET", "/v2/", {"Authorization": basic(s.keys["expired_token"])}).status_code
                      == 401, timeout=8, interval=0.25), "a registry token did not expire"
    return s


def _need_admin(s: Seeded, key: str):
    return s.keys[key]


def _clean_other_account(s: Seeded) -> None:
    """Removes what an earlier case may have created in account 111111111111's own namespace
    (berth creates a repository on first /v2 push), so that every case starts alike."""
    if "other" not in s.keys:
        return
    other = ecr_client(s.url, s.keys["other"])
    for name in (REPO, NEW_REPO):
        try:
            other.delete_repository(repositoryName=name, force=True)
        except Exception:
            pass
    try:
        other.delete_registry_policy()
    except Exception:
        pass


def _assert_unchanged(before: dict, after: dict, what: str, foreign: bool) -> None:
    """Account 0's data is exactly as it was. Another account (``foreign``) may have added files
    of its own (an upload or blob in its own namespace), but never changed or removed one."""
    if foreign:
        after = dict(after)
        for key in ("blob_files", "upload_files"):
            after[key] = {k: v for k, v in after[key].items() if k in before[key]}
    changed = sorted(k for k in before if before[k] != after.get(k))
    assert after == before, f"{what} changed account {ACCOUNT_ID}'s data: {changed}"


def _snapshot_or_died(s: Seeded, when: str) -> dict:
    try:
        return s.snapshot()
    except Exception:
        if not s.server.alive():
            raise AssertionError(f"berth died {when}:\n{s.server.log_tail(8)}") from None
        raise


# ---------------------------------------------------------------------------------------------
# /v2 routes

@dataclass
class Route:
    name: str
    method: str
    path: Callable[[Seeded], str]
    body: Callable[[Seeded], Optional[bytes]] = lambda s: None
    content_type: Optional[str] = None


def _evil_manifest(s: Seeded) -> bytes:
    body = json.loads(s.image.manifest)
    body["annotations"] = {"evil": "yes"}
    return json.dumps(body).encode()


ROUTES = [
    Route("base", "GET", lambda s: "/v2/"),
    Route("catalog", "GET", lambda s: "/v2/_catalog"),
    Route("tags_list", "GET", lambda s: f"/v2/{REPO}/tags/list"),
    Route("manifest_get", "GET", lambda s: f"/v2/{REPO}/manifests/{TAG}"),
    Route("manifest_head", "HEAD", lambda s: f"/v2/{REPO}/manifests/{TAG}"),
    Route("manifest_get_by_digest", "GET", lambda s: f"/v2/{REPO}/manifests/{s.image.digest}"),
    Route("manifest_put", "PUT", lambda s: f"/v2/{REPO}/manifests/evil", _evil_manifest, OCI_MANIFEST),
    Route("manifest_put_over_tag", "PUT", lambda s: f"/v2/{REPO}/manifests/{TAG}", _evil_manifest, OCI_MANIFEST),
    Route("manifest_delete", "DELETE", lambda s: f"/v2/{REPO}/manifests/{s.image.digest}"),
    Route("manifest_delete_tag", "DELETE", lambda s: f"/v2/{REPO}/manifests/{TAG}"),
    Route("blob_get", "GET", lambda s: f"/v2/{REPO}/blobs/{s.image.layer_digests[0]}"),
    Route("blob_head", "HEAD", lambda s: f"/v2/{REPO}/blobs/{s.image.layer_digests[0]}"),
    Route("blob_delete", "DELETE", lambda s: f"/v2/{REPO}/blobs/{s.image.layer_digests[0]}"),
    Route("upload_post", "POST", lambda s: f"/v2/{REPO}/blobs/uploads/"),
    Route("upload_post_monolithic", "POST",
          lambda s: f"/v2/{REPO}/blobs/uploads/?digest={sha256(b'matrix evil blob')}",
          lambda s: b"matrix evil blob", "application/octet-stream"),
    Route("upload_post_mount", "POST",
          lambda s: f"/v2/{REPO}/blobs/uploads/?mount={s.image.layer_digests[0]}&from={REPO}"),
    Route("upload_patch", "PATCH", lambda s: s.v2_upload, lambda s: b"EVILEVILEV", "application/octet-stream"),
    Route("upload_put", "PUT",
          lambda s: s.v2_upload + ("&" if "?" in s.v2_upload else "?") + f"digest={sha256(s.upload_bytes[:10])}",
          lambda s: b"", "application/octet-stream"),
    Route("upload_get", "GET", lambda s: s.v2_upload),
    Route("upload_delete", "DELETE", lambda s: s.v2_upload),
    Route("referrers", "GET", lambda s: f"/v2/{REPO}/referrers/{s.image.digest}"),
]

V2_CREDENTIALS = ["none", "bad_password", "garbage_basic", "basic_without_colon", "expired_token",
                  "revoked_token", "disabled_key_token", "other_account", "explicit_deny"]

# Identity policies of the explicit-deny users: each allows every ECR action on everything, and
# denies again, so only AWS's "an explicit deny wins" stands between them and the data. The /v2
# user's deny covers the repositories only, so it can still be issued a registry token; the ECR
# user's covers everything.
ALLOW_ALL = {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}
DENY_REPOSITORIES = json.dumps({"Version": "2012-10-17", "Statement": [
    ALLOW_ALL, {"Effect": "Deny", "Action": "ecr:*", "Resource": f"arn:aws:ecr:*:{ACCOUNT_ID}:repository/*"}]})
DENY_EVERYTHING = json.dumps({"Version": "2012-10-17", "Statement": [
    ALLOW_ALL, {"Effect": "Deny", "Action": "ecr:*", "Resource": "*"}]})


def _v2_headers(kind: str, main: Seeded, short: Seeded) -> tuple[Seeded, dict]:
    if kind == "none":
        return main, {}
    if kind == "bad_password":
        password = main.password()
        return main, {"Authorization": basic(_flip(password, len(password) // 2))}
    if kind == "garbage_basic":
        return main, {"Authorization": "Basic %%%not*base64%%%"}
    if kind == "basic_without_colon":
        return main, {"Authorization": "Basic " + base64.b64encode(b"AWS" + main.password().encode()).decode()}
    if kind == "expired_token":
        return short, {"Authorization": basic(short.keys["expired_token"])}
    if kind == "revoked_token":
        return main, {"Authorization": basic(_need_admin(main, "deleted_token"))}
    if kind == "disabled_key_token":
        return main, {"Authorization": basic(_need_admin(main, "disabled_token"))}
    if kind == "other_account":
        key = _need_admin(main, "other")
        return main, {"Authorization": basic(registry_password(ecr_client(main.url, key)))}
    if kind == "explicit_deny":
        return main, {"Authorization": basic(_need_admin(main, "deny_repositories_token"))}
    raise AssertionError(kind)


def _assert_unauthorized(r: requests.Response, method: str) -> None:
    assert r.status_code == 401, f"expected 401, got {r.status_code}: {r.text[:300]}"
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Basic realm="), f"WWW-Authenticate is {challenge!r}"
    if method != "HEAD":
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED", r.text


def _assert_denied(s: Seeded, route: Route, r: requests.Response) -> None:
    """A valid token whose every repository action is denied explicitly: /v2/ itself answers (it
    checks the credentials only); all else, the catalog included (judged on repository/*), is 403
    DENIED, and nothing of the repository is echoed."""
    text = r.text + " " + " ".join(f"{k}: {v}" for k, v in r.headers.items())
    for marker in s.markers():
        assert marker not in text, f"{route.name} revealed {marker} despite the deny: {r.status_code} {text[:300]}"
    if route.name == "base":
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 403, f"{route.name} answered {r.status_code} despite the deny: {r.text[:300]}"
        if route.method != "HEAD":
            assert r.json()["errors"][0]["code"] == "DENIED", r.text


def _assert_nothing_leaked(s: Seeded, route: Route, r: requests.Response) -> None:
    """Account 111111111111 looking at account 000000000000's repository."""
    if route.name == "base":
        assert r.status_code == 200, r.text
        return
    text = r.text + " " + " ".join(f"{k}: {v}" for k, v in r.headers.items())
    for marker in s.markers():
        assert marker not in text, f"{route.name} revealed {marker} to another account: {r.status_code} {text[:300]}"
    if route.name == "catalog":
        assert r.status_code == 200 and REPO not in r.json().get("repositories", []), r.text
    elif route.name in ("upload_post", "upload_post_monolithic", "upload_post_mount", "manifest_put",
                        "manifest_put_over_tag", "referrers"):
        # These may succeed in the other account's own namespace (berth creates a repository on
        # first push); the snapshot proves account 0 saw nothing of it.
        pass
    else:
        assert r.status_code in (401, 403, 404), \
            f"{route.name} answered {r.status_code} to another account: {r.text[:300]}"


@pytest.mark.parametrize("kind", V2_CREDENTIALS)
@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_v2_route_refuses_bad_credentials(seeded, seeded_short_ttl, route, kind):
    seeded.server.ensure_running()
    seeded_short_ttl.server.ensure_running()
    target, headers = _v2_headers(kind, seeded, seeded_short_ttl)
    if kind == "other_account":
        _clean_other_account(target)
    before = _snapshot_or_died(target, "before the request")
    if route.content_type:
        headers["Content-Type"] = route.content_type
    try:
        r = target.v2(route.method, route.path(target), headers, data=route.body(target))
    except requests.ConnectionError as e:
        raise AssertionError(f"berth dropped {route.method} {route.path(target)}: {e}\n"
                             f"{target.server.log_tail(8)}") from None
    after = _snapshot_or_died(target, f"after {route.method} {route.path(target)}")
    if kind == "other_account":
        _assert_nothing_leaked(target, route, r)
    elif kind == "explicit_deny":
        _assert_denied(target, route, r)
    else:
        _assert_unauthorized(r, route.method)
    _assert_unchanged(before, after, f"{route.method} {route.path(target)} with {kind}", kind == "other_account")


def test_v2_other_account_cannot_mount_first_account_blob(seeded):
    seeded.server.ensure_running()
    key = _need_admin(seeded, "other")
    _clean_other_account(seeded)
    other = ecr_client(seeded.url, key)
    other.create_repository(repositoryName=NEW_REPO)
    auth = {"Authorization": basic(registry_password(other))}
    layer = seeded.image.layer_digests[0]
    r = seeded.v2("POST", f"/v2/{NEW_REPO}/blobs/uploads/?mount={layer}&from={REPO}", auth)
    assert r.status_code != 201, "a blob of another account was mounted"
    assert seeded.v2("HEAD", f"/v2/{NEW_REPO}/blobs/{layer}", auth).status_code == 404
    r = seeded.v2("PUT", f"/v2/{NEW_REPO}/manifests/stolen", {**auth, "Content-Type": OCI_MANIFEST},
                  data=seeded.image.manifest)
    assert r.status_code >= 400, "a manifest over another account's blobs was accepted"
    assert other.list_images(repositoryName=NEW_REPO)["imageIds"] == []


# ---------------------------------------------------------------------------------------------
# ECR operations

def _ecr_requests(s: Seeded) -> dict[str, dict]:
    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{REPO}"
    evil = make_image(layer_blobs=s.image.layers)
    return {
        "CreateRepository": {"repositoryName": NEW_REPO},
        "DescribeRepositories": {"repositoryNames": [REPO]},
        "DeleteRepository": {"repositoryName": REPO, "force": True},
        "PutImageTagMutability": {"repositoryName": REPO, "imageTagMutability": "IMMUTABLE"},
        "PutImageScanningConfiguration": {"repositoryName": REPO, "imageScanningConfiguration": {"scanOnPush": True}},
        "TagResource": {"resourceArn": arn, "tags": [{"Key": "evil", "Value": "1"}]},
        "UntagResource": {"resourceArn": arn, "tagKeys": ["owner"]},
        "ListTagsForResource": {"resourceArn": arn},
        "ListImages": {"repositoryName": REPO},
        "DescribeImages": {"repositoryName": REPO},
        "BatchGetImage": {"repositoryName": REPO, "imageIds": [{"imageTag": TAG}]},
        "BatchDeleteImage": {"repositoryName": REPO, "imageIds": [{"imageTag": TAG}]},
        "PutImage": {"repositoryName": REPO, "imageTag": TAG, "imageManifest": evil.manifest.decode(),
                     "imageManifestMediaType": OCI_MANIFEST},
        "BatchCheckLayerAvailability": {"repositoryName": REPO, "layerDigests": s.image.layer_digests},
        "InitiateLayerUpload": {"repositoryName": REPO},
        "UploadLayerPart": {"repositoryName": REPO, "uploadId": s.ecr_upload_id, "partFirstByte": 10,
                            "partLastByte": 19, "layerPartBlob": base64.b64encode(s.upload_bytes[10:]).decode()},
        "CompleteLayerUpload": {"repositoryName": REPO, "uploadId": s.ecr_upload_id,
                                "layerDigests": [sha256(s.upload_bytes[:10])]},
        "GetDownloadUrlForLayer": {"repositoryName": REPO, "layerDigest": s.image.layer_digests[0]},
        "PutLifecyclePolicy": {"repositoryName": REPO, "lifecyclePolicyText": EVIL_POLICY},
        "GetLifecyclePolicy": {"repositoryName": REPO},
        "DeleteLifecyclePolicy": {"repositoryName": REPO},
        "StartLifecyclePolicyPreview": {"repositoryName": REPO, "lifecyclePolicyText": EVIL_POLICY},
        "GetLifecyclePolicyPreview": {"repositoryName": REPO},
        "GetAuthorizationToken": {},
        "DescribeRegistry": {},
        "SetRepositoryPolicy": {"repositoryName": REPO, "policyText": EVIL_ACCESS_POLICY, "force": True},
        "GetRepositoryPolicy": {"repositoryName": REPO},
        "DeleteRepositoryPolicy": {"repositoryName": REPO},
        "PutRegistryPolicy": {"policyText": EVIL_ACCESS_POLICY},
        "GetRegistryPolicy": {},
        "DeleteRegistryPolicy": {},
        "StartImageScan": {"repositoryName": REPO, "imageId": {"imageTag": TAG}},
        "DescribeImageScanFindings": {"repositoryName": REPO, "imageId": {"imageTag": TAG}},
        "PutRegistryScanningConfiguration": {"scanType": "BASIC", "rules": []},
        "GetRegistryScanningConfiguration": {},
        "BatchGetRepositoryScanningConfiguration": {"repositoryNames": [REPO]},
    }


# The operations berth dispatches, read from its one operation table, so that an operation added
# to the table joins the matrix the same day (and fails it until _ecr_requests has a request for
# it). test_matrix_covers_every_operation_berth_dispatches checks this list against the server.
ECR_TABLE = REPO_ROOT / "src" / "ecr" / "ecr_api.cc"
TABLE_ENTRY = re.compile(r'\{"([A-Za-z0-9]+)",\s*&EcrApi::\w+\}')


def _table_operations() -> list[str]:
    names = TABLE_ENTRY.findall(ECR_TABLE.read_text())
    assert len(names) >= 20, f"cannot read the operation table in {ECR_TABLE} (found {names})"
    return names


OPERATIONS = _table_operations()

ECR_CREDENTIALS = {
    # kind: (expected __type, message fragment or None)
    "no_signature": ("MissingAuthenticationTokenException", None),
    "bad_signature": ("InvalidSignatureException", None),
    "stale_date": ("InvalidSignatureException", "Signature expired"),
    "future_date": ("InvalidSignatureException", "not yet current"),
    "unknown_key": ("UnrecognizedClientException", None),
    "disabled_key": ("UnrecognizedClientException", None),
    "deleted_key": ("UnrecognizedClientException", None),
    "unprivileged_user": ("AccessDeniedException", None),
    "explicit_deny": ("AccessDeniedException", "explicit deny"),
    "other_account": (None, None),
    "other_account_registry_id": (None, None),
}

REGISTRY_SCOPED = {"TagResource", "UntagResource", "ListTagsForResource", "DescribeRegistry", "GetAuthorizationToken",
                   "PutRegistryPolicy", "GetRegistryPolicy", "DeleteRegistryPolicy",
                   "PutRegistryScanningConfiguration", "GetRegistryScanningConfiguration",
                   "BatchGetRepositoryScanningConfiguration"}
# Another account's admin may read and set its own registry's scanning configuration, and asking
# for a repository of this account answers a failure entry naming only the repository.
OWN_SCANNING = {"PutRegistryScanningConfiguration", "GetRegistryScanningConfiguration",
                "BatchGetRepositoryScanningConfiguration"}
# The caller's own registry policy: another account's admin may manage its own.
OWN_REGISTRY_POLICY = {"PutRegistryPolicy", "GetRegistryPolicy", "DeleteRegistryPolicy"}
FOREIGN_OK = {"RepositoryNotFoundException", "AccessDeniedException", "InvalidParameterException"}


def _send(s: Seeded, operation: str, body: dict, kind: str):
    now = datetime.datetime.utcnow()
    if kind == "no_signature":
        return ecr_raw(s.url, operation, body, key=None)
    if kind == "bad_signature":
        return ecr_raw(s.url, operation, body, secret_override="W" * 40)
    if kind == "stale_date":
        return ecr_raw(s.url, operation, body, when=now - datetime.timedelta(minutes=10))
    if kind == "future_date":
        return ecr_raw(s.url, operation, body, when=now + datetime.timedelta(minutes=10))
    if kind == "unknown_key":
        return ecr_raw(s.url, operation, body, key=AccessKey("BKIAUNKNOWN" + unique(9).upper(), "u" * 40))
    if kind in ("disabled_key", "deleted_key"):
        return ecr_raw(s.url, operation, body, key=_need_admin(s, kind.split("_")[0]))
    if kind == "unprivileged_user":
        return ecr_raw(s.url, operation, body, key=_need_admin(s, "unprivileged"))
    if kind == "explicit_deny":
        return ecr_raw(s.url, operation, body, key=_need_admin(s, "deny_everything"))
    if kind == "other_account":
        return ecr_raw(s.url, operation, body, key=_need_admin(s, "other"))
    if kind == "other_account_registry_id":
        key = _need_admin(s, "other")
        body = dict(body)
        if operation == "GetAuthorizationToken":
            body["registryIds"] = [ACCOUNT_ID]
        elif operation not in REGISTRY_SCOPED:
            body["registryId"] = ACCOUNT_ID
        return ecr_raw(s.url, operation, body, key=key)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", list(ECR_CREDENTIALS))
@pytest.mark.parametrize("operation", OPERATIONS)
def test_ecr_operation_refuses_bad_credentials(seeded, operation, kind):
    seeded.server.ensure_running()
    if kind.startswith("other_account"):
        _need_admin(seeded, "other")
        _clean_other_account(seeded)
    body = _ecr_requests(seeded)[operation]
    before = _snapshot_or_died(seeded, "before the request")
    try:
        r = _send(seeded, operation, body, kind)
    except requests.ConnectionError as e:
        raise AssertionError(f"berth dropped {operation} with {kind}: {e}\n{seeded.server.log_tail(8)}") from None
    after = _snapshot_or_died(seeded, f"after {operation} with {kind}")
    expected_type, fragment = ECR_CREDENTIALS[kind]
    if expected_type is not None:
        assert (r.status, r.error_type) == (400, expected_type), f"{r.status} {r.text[:300]}"
        if fragment:
            assert fragment in r.message, r.message
    else:
        foreign_registry = kind == "other_account_registry_id"
        legit_own = {"DescribeRegistry"} | OWN_REGISTRY_POLICY | OWN_SCANNING | (
            {"CreateRepository", "GetAuthorizationToken"} if not foreign_registry else set())
        if operation in OWN_REGISTRY_POLICY and r.error_type == "RegistryPolicyNotFoundException":
            pass  # its own registry has none
        elif r.status == 200:
            assert operation in legit_own, f"{operation} succeeded for another account: {r.text[:300]}"
            assert ACCOUNT_ID not in r.text, f"{operation} revealed account {ACCOUNT_ID}: {r.text[:300]}"
        else:
            assert r.status == 400 and r.error_type in FOREIGN_OK, f"{r.status} {r.text[:300]}"
        for marker in seeded.markers():
            assert marker not in r.text
    _assert_unchanged(before, after, f"{operation} with {kind}", kind.startswith("other_account"))


def _operations_the_server_dispatches(s: Seeded) -> set[str]:
    """Every name from botocore's ECR model and from the operation table, sent to the server with
    a body that is not JSON by a key without permissions: an operation it dispatches answers
    SerializationException (or AccessDeniedException), one it does not know UnknownOperationException.
    Nothing is changed either way."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecr")
    names = set(model.operation_names) | set(OPERATIONS)
    probe = ecr_raw(s.url, "NoSuchOperationInEcr", b"{not json", key=s.keys["unprivileged"])
    assert probe.error_type == "UnknownOperationException", f"the probe cannot tell: {probe.status} {probe.text[:200]}"
    dispatched = set()
    for name in sorted(names):
        r = ecr_raw(s.url, name, b"{not json", key=s.keys["unprivileged"])
        assert r.status in (400, 403), f"{name}: {r.status} {r.text[:200]}"
        if r.error_type != "UnknownOperationException":
            dispatched.add(name)
    return dispatched


def test_matrix_covers_every_operation_berth_dispatches(seeded):
    seeded.server.ensure_running()
    dispatched = _operations_the_server_dispatches(seeded)
    assert set(OPERATIONS) == dispatched, \
        f"the matrix misses {sorted(dispatched - set(OPERATIONS))}; lists operations berth does not dispatch: " \
        f"{sorted(set(OPERATIONS) - dispatched)}"
    assert set(_ecr_requests(seeded)) == set(OPERATIONS), \
        f"operations without a request in _ecr_requests: {sorted(set(OPERATIONS) - set(_ecr_requests(seeded)))}"


# ---------------------------------------------------------------------------------------------
# SigV4 details (§8.5): what the signature covers

def test_sigv4_body_changed_after_signing(seeded):
    seeded.server.ensure_running()
    before = _snapshot_or_died(seeded, "before the request")
    evil = json.dumps({"repositoryName": REPO, "imageTagMutability": "IMMUTABLE"}).encode()
    r = ecr_raw(seeded.url, "PutImageTagMutability", {"repositoryName": REPO, "imageTagMutability": "MUTABLE"},
                after_signing=lambda h, b: (h, evil))
    assert (r.status, r.error_type) == (400, "InvalidSignatureException"), r.text
    assert _snapshot_or_died(seeded, "after the request") == before


def test_sigv4_target_changed_after_signing(seeded):
    seeded.server.ensure_running()
    before = _snapshot_or_died(seeded, "before the request")
    body = {"repositoryName": REPO, "force": True}

    def retarget(headers, data):
        return {**headers, "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DeleteRepository"}, data

    r = ecr_raw(seeded.url, "DescribeRepositories", body, after_signing=retarget)
    assert (r.status, r.error_type) == (400, "InvalidSignatureException"), r.text
    assert _snapshot_or_died(seeded, "after the request") == before


def test_sigv4_wrong_service_in_scope(seeded):
    seeded.server.ensure_running()
    r = ecr_raw(seeded.url, "DescribeRegistry", {}, service="s3")
    assert (r.status, r.error_type) == (400, "InvalidSignatureException"), r.text


def test_sigv4_incomplete_authorization_header(seeded):
    seeded.server.ensure_running()

    def strip_signature(headers, data):
        auth = headers["Authorization"]
        return {**headers, "Authorization": auth[:auth.index(", Signature=")]}, data

    r = ecr_raw(seeded.url, "DescribeRegistry", {}, after_signing=strip_signature)
    assert (r.status, r.error_type) == (400, "IncompleteSignatureException"), r.text


def test_sigv4_missing_date(seeded):
    seeded.server.ensure_running()

    def drop_date(headers, data):
        return {k: v for k, v in headers.items() if k.lower() != "x-amz-date"}, data

    r = ecr_raw(seeded.url, "DescribeRegistry", {}, after_signing=drop_date)
    assert r.status == 400 and r.error_type in ("IncompleteSignatureException", "InvalidSignatureException"), r.text


def test_sigv4_other_region_scope_is_not_accepted_silently(seeded):
    seeded.server.ensure_running()
    r = ecr_raw(seeded.url, "DescribeRegistry", {}, region="eu-west-1")
    # berth answers for one region (§8.5 check 7); a signature scoped elsewhere is refused.
    assert (r.status, r.error_type) == (400, "InvalidSignatureException"), r.text
