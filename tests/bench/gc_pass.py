#!/usr/bin/python3
"""How long a garbage-collection pass takes on a registry with many images, and
how much it stalls concurrent manifest GETs (p99 with and without GC).

    /usr/bin/python3 tests/bench/gc_pass.py [--images 10000] [--delete 2000] [--berth build-release/berth]

Starts its own berth on a free loopback port and a temp data dir, fills it
through the /v2 API, deletes a share of the images, then runs wrk against a
manifest GET twice: once idle, once while `berth gc --grace 0s` reclaims the
deleted images' blobs. Prints one JSON document. Times nothing in asserts.
"""
import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import boto3
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))  # tests/: support
from support.ports import free_port  # noqa: E402

KEY_ID = "BKIAGCBENCHADMIN0000"
SECRET = "gcbenchsecretgcbenchsecretgcbenchsecret0"


def start_berth(binary, data_dir, port):
    env = dict(os.environ, BERTH_ADMIN_ACCESS_KEY_ID=KEY_ID, BERTH_ADMIN_SECRET_ACCESS_KEY=SECRET)
    proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir,
                             "--log-level", "warn", "--gc-interval", "0s", "--lifecycle-interval", "0s",
                             "--create-on-push"],  # it fills repositories nobody created
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            requests.get(url + "/v2/", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    ecr = boto3.client("ecr", endpoint_url=url, region_name="us-east-1", aws_access_key_id=KEY_ID,
                       aws_secret_access_key=SECRET)
    token = base64.b64decode(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"])
    password = token.decode().split(":", 1)[1]
    return proc, url, password


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_image(session, url, repo, i):
    layer = os.urandom(1024)
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": i}).encode()
    for blob in (layer, config):
        r = session.post(f"{url}/v2/{repo}/blobs/uploads/?digest={digest(blob)}", data=blob,
                         headers={"Content-Type": "application/octet-stream"})
        r.raise_for_status()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer),
                    "size": len(layer)}]}).encode()
    r = session.put(f"{url}/v2/{repo}/manifests/t{i}", data=manifest,
                    headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    r.raise_for_status()
    return digest(manifest)


def wrk(url, path, password, seconds):
    auth = base64.b64encode(f"AWS:{password}".encode()).decode()
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "-H", f"Authorization: Basic {auth}",
                          "-H", "Accept: application/vnd.oci.image.manifest.v1+json", url + path],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    return {"requests_per_second": rps, "p50_ms": pct(50), "p99_ms": pct(99)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--delete", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--berth", default=os.path.join(os.path.dirname(__file__), "..", "..", "build-release", "berth"))
    args = ap.parse_args()
    binary = os.path.abspath(args.berth)
    data_dir = tempfile.mkdtemp(prefix="berth-gc-bench-")
    port = free_port()
    proc, url, password = start_berth(binary, data_dir, port)
    result = {"images": args.images, "deleted": args.delete}
    try:
        local = threading.local()

        def session():
            if not hasattr(local, "s"):
                local.s = requests.Session()
                local.s.auth = ("AWS", password)
            return local.s

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            digests = list(pool.map(lambda i: push_image(session(), url, "bench/gc", i), range(args.images)))
        result["fill_seconds"] = round(time.monotonic() - t0, 2)

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(lambda d: session().delete(f"{url}/v2/bench/gc/manifests/{d}").raise_for_status(),
                          digests[:args.delete]))
        result["delete_seconds"] = round(time.monotonic() - t0, 2)
        time.sleep(1.1)  # links made in the last second are always protected

        path = f"/v2/bench/gc/manifests/t{args.images - 1}"
        result["get_without_gc"] = wrk(url, path, password, args.wrk_seconds)

        # The pass runs beside the load: start wrk, then gc, and let wrk cover it.
        gc_out = {}

        def run_gc():
            time.sleep(1)
            t = time.monotonic()
            out = subprocess.run([binary, "gc", "--data-dir", data_dir, "--grace", "0s"], capture_output=True,
                                 text=True, check=True).stdout
            gc_out["seconds"] = round(time.monotonic() - t, 3)
            gc_out["output"] = out.strip()

        g = threading.Thread(target=run_gc)
        g.start()
        result["get_during_gc"] = wrk(url, path, password, args.wrk_seconds)
        g.join()
        result["gc_pass"] = gc_out
        # A second pass with nothing changed shows the incremental cost.
        t = time.monotonic()
        out = subprocess.run([binary, "gc", "--data-dir", data_dir, "--grace", "0s"], capture_output=True,
                             text=True, check=True).stdout
        result["gc_pass_nothing_changed"] = {"seconds": round(time.monotonic() - t, 3), "output": out.strip()}
        # Every kept image still pulls.
        s = session()
        bad = sum(1 for d in digests[args.delete:][::max(1, (args.images - args.delete) // 200)]
                  if s.get(f"{url}/v2/bench/gc/manifests/{d}").status_code != 200)
        result["kept_images_missing_in_sample"] = bad
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 1 if result.get("kept_images_missing_in_sample") else 0


if __name__ == "__main__":
    sys.exit(main())
