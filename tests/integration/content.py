"""Real test content (tar layers, configs, manifests of every kind) and raw-HTTP push helpers.

Layers are genuine gzip-compressed tarballs and configs carry the matching ``diff_ids``, so what
the tests push is a valid image, not a blob of random bytes with an image's name on it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import select
import socket
import tarfile
import uuid
from dataclasses import dataclass, field
from http.client import HTTPResponse
from typing import Optional
from urllib.parse import urlsplit

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCTET = "application/octet-stream"

ACCEPT_MANIFESTS = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])

EMPTY_JSON = b"{}"
ERROR_CODES = {
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN",
    "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:" + hashlib.new(algorithm, data).hexdigest()


def verify_digest(data: bytes, digest: str) -> bool:
    algorithm, _, _ = digest.partition(":")
    return digest_of(data, algorithm) == digest


def unique(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:10]


def canonical_json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=False).encode()


def make_layer(files: dict[str, bytes]) -> tuple[bytes, bytes]:
    """A tar layer holding ``files``; returns (gzip-compressed bytes, uncompressed tar bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for path in sorted(files):
            parts = path.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    info.mtime = 1700000000
                    tar.addfile(info)
            info = tarfile.TarInfo(path.strip("/"))
            info.size = len(files[path])
            info.mode = 0o644
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(files[path]))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0), raw


@dataclass
class Blob:
    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return sha256(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra) -> dict:
        d = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        d.update(extra)
        return d


@dataclass
class Manifest:
    body: bytes
    media_type: str
    blobs: list[Blob] = field(default_factory=list)        # blobs it references directly
    children: list["Manifest"] = field(default_factory=list)  # manifests it references (indexes)

    @property
    def digest(self) -> str:
        return sha256(self.body)

    @property
    def size(self) -> int:
        return len(self.body)

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def descriptor(self, **extra) -> dict:
        d = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        d.update(extra)
        return d


def image_config(diff_ids: list[str], arch: str = "amd64", os_name: str = "linux", label: str = "") -> bytes:
    cfg = {
        "created": "2024-01-01T00:00:00Z",
        "architecture": arch,
        "os": os_name,
        "config": {"Env": ["PATH=/bin"], "Labels": {"berth.test": label or unique()}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "berth integration test"}
                    for _ in diff_ids],
    }
    return canonical_json(cfg)


def make_image(layers: int = 1, arch: str = "amd64", docker: bool = False, layer_size: int = 2048,
               annotations: Optional[dict] = None, subject: Optional[Manifest] = None,
               with_media_type_field: bool = True) -> Manifest:
    """A complete single-platform image: real tar.gz layers, a config, and its manifest."""
    layer_type = DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP
    config_type = DOCKER_CONFIG if docker else OCI_CONFIG
    manifest_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    layer_blobs, diff_ids = [], []
    for i in range(layers):
        gz, raw = make_layer({f"data/file{i}.bin": os.urandom(layer_size), "etc/berth-test": unique().encode()})
        layer_blobs.append(Blob(gz, layer_type))
        diff_ids.append(sha256(raw))
    config = Blob(image_config(diff_ids, arch=arch), config_type)
    doc: dict = {"schemaVersion": 2}
    if with_media_type_field or docker:
        doc["mediaType"] = manifest_type
    doc["config"] = config.descriptor()
    doc["layers"] = [b.descriptor() for b in layer_blobs]
    if subject is not None:
        doc["subject"] = subject.descriptor()
    if annotations:
        doc["annotations"] = annotations
    return Manifest(canonical_json(doc), manifest_type, blobs=[config] + layer_blobs)


def make_index(children: list[Manifest], docker: bool = False, annotations: Optional[dict] = None,
               artifact_type: Optional[str] = None, subject: Optional[Manifest] = None) -> Manifest:
    """An OCI image index (or Docker manifest list) over ``children``, with platforms from their configs."""
    media_type = DOCKER_LIST if docker else OCI_INDEX
    entries = []
    for child in children:
        platform = None
        config = next((b for b in child.blobs if b.media_type in (OCI_CONFIG, DOCKER_CONFIG)), None)
        if config is not None:
            cfg = json.loads(config.data)
            platform = {"architecture": cfg["architecture"], "os": cfg["os"]}
        desc = child.descriptor()
        if platform:
            desc["platform"] = platform
        entries.append(desc)
    doc: dict = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc["manifests"] = entries
    if subject is not None:
        doc["subject"] = subject.descriptor()
    if annotations:
        doc["annotations"] = annotations
    return Manifest(canonical_json(doc), media_type, children=list(children))


def make_artifact(artifact_type: Optional[str] = None, config_media_type: str = OCI_EMPTY,
                  config_data: bytes = EMPTY_JSON, layer_media_type: str = "application/vnd.example.data.v1",
                  layer_data: Optional[bytes] = None, subject: Optional[Manifest] = None,
                  annotations: Optional[dict] = None) -> Manifest:
    """An OCI 1.1 artifact: an image manifest with ``artifactType`` and/or a non-image config type."""
    config = Blob(config_data, config_media_type)
    layer = Blob(layer_data if layer_data is not None else os.urandom(512), layer_media_type)
    doc: dict = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc["config"] = config.descriptor()
    doc["layers"] = [layer.descriptor()]
    if subject is not None:
        doc["subject"] = subject.descriptor()
    if annotations:
        doc["annotations"] = annotations
    return Manifest(canonical_json(doc), OCI_MANIFEST, blobs=[config, layer])


def reshape(manifest: Manifest, edit=None, indent: Optional[int] = None, trailing: bytes = b"") -> Manifest:
    """The same manifest edited and/or serialised differently (registries must keep exact bytes)."""
    doc = manifest.json
    if edit:
        edit(doc)
    body = json.dumps(doc, indent=indent).encode() if indent else canonical_json(doc)
    return Manifest(body + trailing, manifest.media_type, blobs=manifest.blobs, children=manifest.children)


# ---------------------------------------------------------------------------------------------
# Push helpers (raw HTTP). They assert the happy path so that a broken step fails loudly where
# it happens; the API tests use the registry helpers directly for the steps they examine.

def describe(resp) -> str:
    body = resp.content[:600] if resp.content else b""
    return (f"{resp.request.method} {resp.request.url} -> {resp.status_code}\n"
            f"headers: {dict(resp.headers)}\nbody: {body!r}")


def start_upload(reg, repo: str) -> str:
    r = reg.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, describe(r)
    assert r.headers.get("Location"), describe(r)
    return reg.abs_url(r.headers["Location"])


def with_query(url: str, **params) -> str:
    from urllib.parse import urlencode
    sep = "&" if urlsplit(url).query else "?"
    return url + sep + urlencode(params)


def push_blob(reg, repo: str, data: bytes, digest: Optional[str] = None) -> str:
    """POST then PUT; returns the digest."""
    digest = digest or sha256(data)
    loc = start_upload(reg, repo)
    r = reg.put(with_query(loc, digest=digest), data=data, headers={"Content-Type": OCTET})
    assert r.status_code == 201, describe(r)
    return digest


def push_manifest(reg, repo: str, ref: str, manifest: Manifest, expect: int = 201):
    r = reg.put(f"/v2/{repo}/manifests/{ref}", data=manifest.body,
                headers={"Content-Type": manifest.media_type})
    if expect is not None:
        assert r.status_code == expect, describe(r)
    return r


def push_image(reg, repo: str, manifest: Manifest, ref: Optional[str] = None):
    """Push every blob (recursively through index children) and the manifest itself."""
    for child in manifest.children:
        push_image(reg, repo, child)
    for blob in manifest.blobs:
        push_blob(reg, repo, blob.data)
    return push_manifest(reg, repo, ref or manifest.digest, manifest)


def get_manifest(reg, repo: str, ref: str, accept: str = ACCEPT_MANIFESTS):
    return reg.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": accept})


def media_type_of(resp) -> str:
    return resp.headers.get("Content-Type", "").split(";")[0].strip()


def assert_error(resp, status: int, *codes: str) -> dict:
    """The response has ``status`` and a spec-shaped error body containing one of ``codes``."""
    assert resp.status_code == status, describe(resp)
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {describe(resp)}")
    errors = body.get("errors") if isinstance(body, dict) else None
    assert isinstance(errors, list) and errors, f"no 'errors' list: {describe(resp)}"
    for e in errors:
        assert isinstance(e.get("code"), str) and re.fullmatch(r"[A-Z_]+", e["code"]), describe(resp)
        assert isinstance(e.get("message"), str), f"error without a message string: {describe(resp)}"
    found = [e["code"] for e in errors]
    assert any(c in codes for c in found), f"expected one of {codes}, got {found}: {describe(resp)}"
    return body


def parse_link_next(resp) -> Optional[str]:
    """The target of an RFC 5988 ``Link: <url>; rel="next"`` header, or None."""
    link = resp.headers.get("Link")
    if not link:
        return None
    m = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
    assert m, f"Link header not in RFC 5988 form: {link!r}"
    return m.group(1)


# ---------------------------------------------------------------------------------------------
# A raw HTTP/1.1 request for a case requests cannot express: a server that answers before the
# body is sent (Expect: 100-continue), as a registry refusing an oversized manifest should.

def raw_request(reg, method: str, path: str, headers: dict, body: bytes = b"",
                expect_continue: bool = False, chunked: bool = False, wait_for_continue: float = 3.0,
                timeout: float = 30.0):
    """Send one request on a fresh plain-HTTP connection; returns (status, headers, body).

    With ``expect_continue`` the body is only sent after ``100 Continue`` (or after
    ``wait_for_continue`` seconds of silence). With ``chunked`` the body goes out with
    ``Transfer-Encoding: chunked`` in 64 KiB chunks. Either way, a final response that arrives
    before the whole body was sent stops the sending and is returned.
    """
    parts = urlsplit(reg.url)
    assert parts.scheme == "http", "raw_request supports plain HTTP only"
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    try:
        hdrs = {"Host": reg.host, "Connection": "close"}
        if chunked:
            hdrs["Transfer-Encoding"] = "chunked"
        else:
            hdrs["Content-Length"] = str(len(body))
        hdrs.update(reg.auth_header())
        hdrs.update(headers)
        if expect_continue:
            hdrs["Expect"] = "100-continue"
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        sock.sendall(head.encode())
        if expect_continue:
            readable, _, _ = select.select([sock], [], [], wait_for_continue)
            if readable:
                first = sock.recv(65536, socket.MSG_PEEK)
                if not (first.startswith(b"HTTP/1.1 100") or first.startswith(b"HTTP/1.0 100")):
                    return _read_response(sock, method)
                consumed = b""
                while b"\r\n\r\n" not in consumed:  # drop the interim response
                    consumed += sock.recv(1)
        step = 64 * 1024
        try:
            for start in range(0, len(body), step):
                if select.select([sock], [], [], 0)[0]:
                    return _read_response(sock, method)  # answered early
                piece = body[start:start + step]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _read_response(sock, method)
    finally:
        sock.close()


def _read_response(sock, method: str):
    resp = HTTPResponse(sock, method=method)
    resp.begin()
    data = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
