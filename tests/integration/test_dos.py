"""Resource-exhaustion attacks on loopback, each bounded in count and time.

Every test runs one attack against a private berth and checks two things: the attack is contained
(memory, CPU, connection slots, upload slots stay bounded) and a legitimate client's ECR calls,
pushes and pulls still succeed while it goes on, within a generous stated latency bound.

Attackers connect from other loopback addresses (127.0.0.2 and up; Linux routes all of
127.0.0.0/8 to lo) so that the per-address connection cap, which the legitimate client on
127.0.0.1 never reaches, can be seen to work.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import socket
import subprocess
import threading
import time
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from content import get_manifest, make_image, push_image, unique
from ecr_helpers import (ECR_TARGET_PREFIX, ecr_ok, ecr_raw, ecr_error_type, log_records,
                         require_berth, start_server)
from harness import ADMIN_ACCESS_KEY_ID, AWS_REGION, BERTH_BIN, Registry, ServerProcess
from support.server import store_args

# A legitimate round trip (ECR call, push of a small image, pull of its manifest and a blob) must
# finish within this while an attack goes on. Unloaded it takes well under a second.
LEGIT_BOUND_S = 10.0

CLK_TCK = os.sysconf("SC_CLK_TCK")


@pytest.fixture(autouse=True)
def _berth_only():
    require_berth()


# ---------------------------------------------------------------------------------------------
# Helpers

def with_config(server_factory, tmp_path: Path, settings: dict, *flags: str):
    """A private berth with ``settings`` in a YAML config file plus ``flags``."""
    cfg = tmp_path / f"berth-{unique()}.yaml"
    cfg.write_text("".join(f"{k}: {v}\n" for k, v in settings.items()))
    return start_server(server_factory, "--config", str(cfg), *flags)


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def runnable_seconds(pid: int) -> float:
    """Seconds the process's threads have run or waited to run (schedstat), summed."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            run_ns, wait_ns, _ = (task / "schedstat").read_text().split()
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
        total += int(run_ns) + int(wait_ns)
    return total / 1e9


def cpu_share(pid: int, seconds: float) -> tuple[float, float]:
    """Over the next ``seconds``: the share of one core the process used (/proc/PID/stat), and
    the share of one core's time its threads were runnable, running or queued (schedstat). On a
    machine busy with other work a spinning process gets little CPU but is runnable all along,
    so the second figure shows a busy loop whatever the load."""
    start_cpu, start_runnable, start = cpu_seconds(pid), runnable_seconds(pid), time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - start
    return (cpu_seconds(pid) - start_cpu) / wall, (runnable_seconds(pid) - start_runnable) / wall


def connect_from(source: str, port: int, timeout: float = 5.0) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_by_peer(s: socket.socket) -> bool:
    """True when the server has closed (or reset) the connection; never blocks."""
    try:
        s.setblocking(False)
        data = s.recv(65536)
        return data == b"" or bool(data)  # EOF, or an error answer before the close
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def legit_round_trip(server, repo: str) -> float:
    """A fresh client (new connections, new login): one ECR call, a push and a pull. Returns the
    seconds it took; fails if any step fails."""
    start = time.monotonic()
    reg = Registry(server)
    try:
        ecr_ok(reg, "DescribeRepositories", {"repositoryNames": [repo]})
        image = make_image(layers=1, layer_size=4096)
        push_image(reg, repo, image, ref="v1")
        r = get_manifest(reg, repo, "v1")
        assert r.status_code == 200, f"pull manifest: {r.status_code} {r.text[:200]}"
        blob = image.blobs[-1]
        r = reg.get(f"/v2/{repo}/blobs/{blob.digest}")
        assert r.status_code == 200 and r.content == blob.data, f"pull blob: {r.status_code}"
    finally:
        reg.session.close()
    return time.monotonic() - start


def create_repository(server, name: str) -> None:
    reg = Registry(server)
    try:
        ecr_ok(reg, "CreateRepository", {"repositoryName": name})
    finally:
        reg.session.close()


def legit_under_attack(server, repo: str, rounds: int = 2) -> list[float]:
    times = []
    for _ in range(rounds):
        elapsed = legit_round_trip(server, repo)
        assert elapsed < LEGIT_BOUND_S, f"a legitimate round trip took {elapsed:.1f}s under attack"
        times.append(elapsed)
    return times


# ---------------------------------------------------------------------------------------------
# Request bodies held in memory (the ECR endpoint)

def ecr_head(port: int, operation: str, length: int, authorization: str | None,
             extra: dict | None = None) -> bytes:
    lines = [f"POST / HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/x-amz-json-1.1",
             f"X-Amz-Target: {ECR_TARGET_PREFIX}{operation}", f"Content-Length: {length}"]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    for k, v in (extra or {}).items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(s: socket.socket) -> tuple[int, dict]:
    """Status and JSON body of one answer, or (0, {}) when the connection ended without one."""
    s.settimeout(10)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return 0, {}
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, (json.loads(rest) if rest else {})
    except (OSError, ValueError):
        return 0, {}


def signed_headers(port: int, operation: str, key_id: str, secret: str) -> str:
    """Authorization (and the X-Amz-Date and X-Amz-Content-Sha256 it signs) for a request whose
    body is not what was signed: well formed and current, but never a valid signature."""
    req = AWSRequest(method="POST", url=f"http://127.0.0.1:{port}/", data=b"",
                     headers={"Content-Type": "application/x-amz-json-1.1",
                              "X-Amz-Target": ECR_TARGET_PREFIX + operation, "X-Amz-Content-Sha256": "0" * 64})
    SigV4Auth(Credentials(key_id, secret), "ecr", AWS_REGION).add_auth(req)
    return (req.headers["Authorization"] + "\r\nX-Amz-Date: " + req.headers["X-Amz-Date"]
            + "\r\nX-Amz-Content-Sha256: " + "0" * 64)


def head_only_probe(port: int, operation: str, length: int, authorization) -> tuple[int, dict, float]:
    """Sends only the head of a request announcing ``length`` body bytes; returns the answer and
    how long it took. A server that waits for the body before refusing never answers."""
    start = time.monotonic()
    s = connect_from("127.0.0.1", port)
    try:
        s.sendall(ecr_head(port, operation, length, authorization))
        status, body = read_answer(s)
    finally:
        s.close()
    return status, body, time.monotonic() - start


def body_attacker(port: int, source: str, operation: str, size: int, authorization, results: list,
                  hold_s: float = 0.0, deadline_s: float = 30.0) -> None:
    """Sends one ECR request with a ``size``-byte body: all but the last MiB at once, then waits
    ``hold_s`` (so that many bodies are in flight together), then the rest. Records the answer."""
    end = time.monotonic() + deadline_s
    try:
        s = connect_from(source, port)
    except OSError as e:
        results.append((0, {"error": repr(e)}))
        return
    try:
        s.sendall(ecr_head(port, operation, size, authorization(size) if callable(authorization) else authorization))
        chunk = b"x" * (1 << 20)
        sent, held = 0, False
        while sent < size and time.monotonic() < end:
            if not held and hold_s and size - sent <= len(chunk):
                time.sleep(hold_s)
                held = True
            n = min(len(chunk), size - sent)
            s.sendall(chunk[:n])
            sent += n
    except OSError:
        pass  # refused early: the server closed the connection without reading the body
    results.append(read_answer(s))
    s.close()


def test_unauthenticated_ecr_bodies_are_refused_before_reading(server_factory, tmp_path):
    """Large ECR bodies without valid credentials are answered from the head alone: berth's
    memory stays flat and the connection closes, while legitimate calls go on."""
    server = start_server(server_factory, name="dos-bodies")
    repo = unique("dos/bodies")
    create_repository(server, repo)
    pid = server.proc.pid
    hwm_before = vm_kib(pid, "VmHWM")

    size = 24 << 20  # below the UploadLayerPart limit: only the credentials can refuse it early
    bad_headers = [
        None,  # no Authorization at all
        signed_headers(server.port, "UploadLayerPart", "BKIANOSUCHKEY0000000", "x" * 40),  # unknown key
        "Bearer nonsense",  # not SigV4
    ]
    results: list = []
    threads = [threading.Thread(target=body_attacker,
                                args=(server.port, "127.0.0.2", "UploadLayerPart", size,
                                      bad_headers[i % len(bad_headers)], results),
                                kwargs={"hold_s": 2.0}, daemon=True)
               for i in range(16)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    times = legit_under_attack(server, repo)
    for t in threads:
        t.join(timeout=40)
    assert not any(t.is_alive() for t in threads)

    hwm_after = vm_kib(pid, "VmHWM")
    grew_mib = (hwm_after - hwm_before) / 1024
    print(f"VmHWM {hwm_before / 1024:.1f} -> {hwm_after / 1024:.1f} MiB under 16 x 24 MiB "
          f"unauthenticated bodies; legit round trips {['%.2f' % t for t in times]} s; "
          f"attackers' answers {sorted(str(r[0]) for r in results)}")
    assert grew_mib < 64, f"peak RSS grew by {grew_mib:.0f} MiB under unauthenticated bodies"

    # The refusal comes from the head alone, with the error ECR gives for those credentials.
    expected = ["MissingAuthenticationTokenException", "UnrecognizedClientException", "IncompleteSignatureException"]
    for authorization, error_type in zip(bad_headers, expected):
        status, body, took = head_only_probe(server.port, "UploadLayerPart", size, authorization)
        assert status in (400, 403) and ecr_error_type(body) == error_type, (authorization, status, body)
        assert took < 5, f"the refusal took {took:.1f}s"


def test_ecr_body_over_the_operation_limit_is_refused_from_content_length(server_factory):
    """A signed call announcing more body than its operation accepts is refused before the body
    is read; ECR's own limits (1 MiB for ordinary calls) are far below a layer."""
    server = start_server(server_factory, name="dos-body-limit")
    reg = Registry(server)
    body = json.dumps({"repositoryNames": ["x" * (2 << 20)]}).encode()
    url = server.url + "/"
    headers = {"Content-Type": "application/x-amz-json-1.1",
               "X-Amz-Target": ECR_TARGET_PREFIX + "DescribeRepositories"}
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    from harness import ADMIN_SECRET_ACCESS_KEY
    SigV4Auth(Credentials(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY), "ecr", AWS_REGION).add_auth(request)
    r = reg.session.post(url, data=body, headers=dict(request.headers.items()), timeout=30)
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert ecr_error_type(r.json()) == "SerializationException"
    # An ordinary call on a new connection still works.
    assert ecr_raw(Registry(server), "DescribeRepositories", {})[0] == 200


def test_body_memory_budget_bounds_bodies_of_known_keys(server_factory, tmp_path):
    """Bodies that pass the header checks (a known key; the signature needs the body) share one
    byte budget: past it berth answers a retryable ThrottlingException instead of allocating."""
    server = start_server(server_factory, "--max-body-memory", str(32 << 20), name="dos-budget")
    repo = unique("dos/budget")
    create_repository(server, repo)
    pid = server.proc.pid
    hwm_before = vm_kib(pid, "VmHWM")

    size = 20 << 20

    def wrong_signature(length: int) -> str:
        # Signed with the admin's key id but a wrong secret: only the body's hash and the
        # signature can show it, so berth has to read the body to refuse it.
        return signed_headers(server.port, "UploadLayerPart", ADMIN_ACCESS_KEY_ID, "not-the-secret-" + "x" * 25)

    results: list = []
    threads = [threading.Thread(target=body_attacker,
                                args=(server.port, "127.0.0.2", "UploadLayerPart", size, wrong_signature, results),
                                kwargs={"hold_s": 3.0}, daemon=True)
               for i in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    # While the attackers' bodies hold the budget, another body of that size is turned away at
    # once with a retryable error; the head is all it takes.
    probes = []
    for _ in range(2):
        status, body, took = head_only_probe(server.port, "UploadLayerPart", size, wrong_signature(size))
        probes.append(ecr_error_type(body) if status else f"no answer after {took:.1f}s")
    times = legit_under_attack(server, repo)
    for t in threads:
        t.join(timeout=40)
    assert not any(t.is_alive() for t in threads)

    hwm_after = vm_kib(pid, "VmHWM")
    grew_mib = (hwm_after - hwm_before) / 1024
    kinds = sorted(ecr_error_type(b) for s, b in results if s) + probes
    print(f"VmHWM {hwm_before / 1024:.1f} -> {hwm_after / 1024:.1f} MiB under 8 x 20 MiB bodies with a "
          f"32 MiB budget; answers {kinds}; legit round trips {['%.2f' % t for t in times]} s")
    assert grew_mib < 32 + 40, f"peak RSS grew by {grew_mib:.0f} MiB with a 32 MiB body budget"
    assert "ThrottlingException" in probes, f"while the budget was taken, a probe got {probes}"
    assert set(kinds) <= {"ThrottlingException", "InvalidSignatureException"}, kinds


# ---------------------------------------------------------------------------------------------
# Slowloris

def partial_heads(port: int, source: str, count: int, head: bytes) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        try:
            s = connect_from(source, port, timeout=2)
            s.sendall(head)
            socks.append(s)
        except OSError:
            pass  # refused or reset at once: that is the cap working
    return socks


def test_slowloris_head_has_a_total_deadline(server_factory, tmp_path):
    """A head trickled a byte at a time is cut off after header-timeout in total (not per read),
    so such connections free their slots quickly."""
    server = with_config(server_factory, tmp_path, {"max-connections": 200}, "--header-timeout", "2s")
    repo = unique("dos/head")
    create_repository(server, repo)
    socks = partial_heads(server.port, "127.0.0.3", 150, b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert len(socks) == 150
    start = time.monotonic()
    open_socks = list(socks)
    legit_times = []
    try:
        # Trickle one byte per socket every half second for up to 8 s: each read makes
        # progress, so only a deadline for the whole head ends it.
        while open_socks and time.monotonic() - start < 8:
            for s in list(open_socks):
                try:
                    s.send(b"a")
                except OSError:
                    open_socks.remove(s)
                    continue
                if closed_by_peer(s):
                    open_socks.remove(s)
            if not legit_times:
                legit_times = legit_under_attack(server, repo, rounds=1)
            time.sleep(0.5)
        elapsed = time.monotonic() - start
    finally:
        close_all(socks)
    print(f"{150 - len(open_socks)} of 150 trickling heads cut within {elapsed:.1f}s (header-timeout 2s); "
          f"legit round trip {legit_times}")
    assert not open_socks, f"{len(open_socks)} of 150 trickling heads still open after {elapsed:.1f}s"


def test_slowloris_per_address_cap_keeps_serving_others(server_factory, tmp_path):
    """One address opening far more connections than it needs, each holding a partial request
    line, gets only its share of the slots; clients elsewhere keep being served."""
    server = with_config(server_factory, tmp_path, {"max-connections": 300}, "--max-connections-per-ip", "50")
    repo = unique("dos/perip")
    create_repository(server, repo)
    socks = partial_heads(server.port, "127.0.0.2", 400, b"GET /v2/ HT")
    try:
        time.sleep(0.5)
        held = [s for s in socks if not closed_by_peer(s)]
        times = legit_under_attack(server, repo, rounds=3)
        print(f"attacker holds {len(held)} of {len(socks)} connections; legit round trips "
              f"{['%.2f' % t for t in times]} s")
        assert len(held) <= 50, f"one address holds {len(held)} connections (cap 50)"
    finally:
        close_all(socks)


# ---------------------------------------------------------------------------------------------
# Out of file descriptors

class LimitedServer(ServerProcess):
    """berth started under ``prlimit --nofile=SOFT:HARD``."""

    def __init__(self, workdir: Path, nofile: tuple[int, int], **kw):
        super().__init__(workdir, **kw)
        self.nofile = nofile

    def command(self) -> list[str]:
        return ["prlimit", f"--nofile={self.nofile[0]}:{self.nofile[1]}"] + super().command()


def start_limited(server_factory, nofile: tuple[int, int]):
    n = len(server_factory.servers) + 1
    server = LimitedServer(server_factory.base / f"limited{n}", nofile, name=f"berth (nofile {nofile})")
    server_factory.servers.append(server)
    return server.start()


def idle_connections(port: int, source: str, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        try:
            socks.append(connect_from(source, port, timeout=2))
        except OSError:
            break
    return socks


def test_low_fd_limit_sizes_the_connection_cap(server_factory):
    """Started under a low open-file limit, berth raises its soft limit to the hard one and sizes
    its connection cap from it, so idle connections cannot exhaust its descriptors."""
    server = start_limited(server_factory, (64, 128))
    pid = server.proc.pid
    soft = resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]
    repo = unique("dos/nofile")
    create_repository(server, repo)
    socks = idle_connections(server.port, "127.0.0.4", 200)
    try:
        time.sleep(0.3)
        share, runnable = cpu_share(pid, 2.0)
        print(f"soft limit {soft}; {len(socks)} idle connections; berth CPU {share:.0%} of a core, "
              f"runnable {runnable:.0%}")
        assert share < 0.5 and runnable < 0.5, \
            f"berth used {share:.0%} of a core (runnable {runnable:.0%}) with {len(socks)} idle connections"
        assert soft == 128, f"the soft open-file limit stayed at {soft}"
    finally:
        close_all(socks)
    time.sleep(0.5)
    legit_under_attack(server, repo, rounds=1)


def test_accept_backs_off_when_out_of_descriptors(server_factory):
    """When descriptors run out anyway (here: the limit lowered under a running berth), the
    accept loop pauses instead of spinning, warns once (not per attempt), and resumes when
    descriptors free up."""
    server = start_limited(server_factory, (256, 256))
    pid = server.proc.pid
    repo = unique("dos/emfile")
    create_repository(server, repo)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (64, 256))
    socks = idle_connections(server.port, "127.0.0.5", 150)
    try:
        time.sleep(0.3)
        share, runnable = cpu_share(pid, 2.0)
        warnings = [r for r in log_records(server) if "out of file descriptors" in str(r.get("msg", ""))]
        print(f"{len(socks)} idle connections at a 64-descriptor limit; berth CPU {share:.0%} of a core, "
              f"runnable {runnable:.0%}; {len(warnings)} warning(s)")
        assert share < 0.5 and runnable < 0.5, \
            f"berth used {share:.0%} of a core (runnable {runnable:.0%}) while out of descriptors"
        assert len(warnings) == 1, f"expected one warning for the episode, got {len(warnings)}"
    finally:
        close_all(socks)
    time.sleep(1.0)
    legit_under_attack(server, repo, rounds=1)


# ---------------------------------------------------------------------------------------------
# Upload slots

def admin_cli(server, *args: str) -> str:
    proc = subprocess.run([str(BERTH_BIN), "admin", *store_args(server.data_dir), "--data-dir", str(server.data_dir),
                           *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"berth admin {args}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def new_key(server, account: str, user: str) -> tuple[str, str]:
    import re
    out = admin_cli(server, "key", "create", "--account", account, "--user", user)
    found = dict(re.findall(r"^\s*(access_key_id|secret_access_key)\s*[=:]\s*(\S+)\s*$", out, re.M))
    return found["access_key_id"], found["secret_access_key"]


def ecr_for(server, key: tuple[str, str]):
    return boto3.client("ecr", endpoint_url=server.url, region_name=AWS_REGION, aws_access_key_id=key[0],
                        aws_secret_access_key=key[1], config=Config(retries={"max_attempts": 1}))


def basic_auth_for(server, key: tuple[str, str]) -> str:
    data = ecr_for(server, key).get_authorization_token()["authorizationData"][0]
    return "Basic " + data["authorizationToken"]


def slow_patch(port: int, repo: str, authorization: str) -> tuple[socket.socket | None, int]:
    """Starts an upload and a PATCH announcing 1 MiB, of which it sends one byte. Returns the
    socket (None when refused) and the status of the refusal, if any."""
    s = connect_from("127.0.0.6", port)
    s.sendall(f"POST /v2/{repo}/blobs/uploads/ HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\n"
              f"Content-Length: 0\r\n\r\n".encode())
    s.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(65536)
        assert chunk, "connection closed while starting an upload"
        head += chunk
    status = int(head.split(b" ", 2)[1])
    assert status == 202, head
    location = [line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
                if line.lower().startswith(b"location:")][0]
    path = "/" + location.split("/", 3)[3] if location.startswith("http") else location
    s.sendall(f"PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\n"
              f"Content-Type: application/octet-stream\r\nContent-Length: {1 << 20}\r\n\r\nx".encode())
    s.settimeout(0.5)
    try:
        answer = s.recv(65536)
        if answer:
            s.close()
            return None, int(answer.split(b" ", 2)[1])
    except socket.timeout:
        pass
    return s, 0


def test_upload_slots_are_capped_per_account(server_factory, tmp_path):
    """An account trickling many PATCH uploads gets its share of the upload slots, not all of
    them; another account's pushes and pulls still go through."""
    server = with_config(server_factory, tmp_path, {"max-concurrent-uploads": 12},
                         "--max-uploads-per-account", "6", "--max-uploads-per-key", "4")
    attacker_account = "111111111111"
    admin_cli(server, "account", "create", "--id", attacker_account, "--name", "mallory-inc")
    admin_cli(server, "user", "create", "--account", attacker_account, "--name", "mallory", "--admin")
    keys = [new_key(server, attacker_account, "mallory") for _ in range(2)]
    attacker_repo = unique("dos/hog")
    ecr_for(server, keys[0]).create_repository(repositoryName=attacker_repo)
    victim_repo = unique("dos/victim")
    create_repository(server, victim_repo)

    held, refused = [], []
    try:
        for i in range(12):
            s, status = slow_patch(server.port, attacker_repo, basic_auth_for(server, keys[i % 2]))
            (held.append(s) if s else refused.append(status))
        times = legit_under_attack(server, victim_repo)
        print(f"attacker account holds {len(held)} upload slots, refused {refused}; the other account's "
              f"round trips {['%.2f' % t for t in times]} s")
        assert len(held) <= 6, f"one account holds {len(held)} upload slots (cap 6)"
        assert refused and set(refused) == {429}, refused
    finally:
        close_all(held)


def test_trickling_upload_is_cut_and_frees_its_slot(server_factory, tmp_path):
    """A PATCH body sent slower than upload-min-rate over upload-rate-window is cut off, so a
    trickle cannot hold an upload slot for ever."""
    server = with_config(server_factory, tmp_path, {"max-concurrent-uploads": 2},
                         "--upload-min-rate", "1000", "--upload-rate-window", "2s")
    repo = unique("dos/trickle")
    create_repository(server, repo)
    auth = basic_auth_for(server, (ADMIN_ACCESS_KEY_ID, __import__("harness").ADMIN_SECRET_ACCESS_KEY))
    socks = []
    try:
        for _ in range(2):
            s, status = slow_patch(server.port, repo, auth)
            assert s is not None, f"a PATCH was refused with {status} before the slots were full"
            socks.append(s)
        start = time.monotonic()
        open_socks = list(socks)
        while open_socks and time.monotonic() - start < 10:
            for s in list(open_socks):
                try:
                    s.send(b"y")  # one byte every 0.3 s: ~3 B/s, far below 1000 B/s
                except OSError:
                    open_socks.remove(s)
                    continue
                if closed_by_peer(s):
                    open_socks.remove(s)
            time.sleep(0.3)
        elapsed = time.monotonic() - start
        print(f"{2 - len(open_socks)} of 2 trickling uploads cut within {elapsed:.1f}s "
              f"(min rate 1000 B/s over 2s)")
        assert not open_socks, f"a trickling upload still holds its slot after {elapsed:.1f}s"
        legit_under_attack(server, repo, rounds=1)
    finally:
        close_all(socks)
