"""The benchmark's report (tests/bench/bench.py) tells a row that was not run from one that failed.

``bench.py --only`` and ``--servers`` leave workloads and servers out; their figures must read
"not run", and only a workload that ran and was answered wrongly reads "FAILED". The scale-out
tables (PostgreSQL, S3, nodes) follow the same rule. No server is started: the report is fed
results shaped as ``run_workload`` records them (a target it attempted maps to None until the
workload succeeds).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench  # noqa: E402


def _row(out: str, label: str) -> list[str]:
    line = next(l for l in out.splitlines() if l.startswith(label))
    return line[len(label):].split()


def test_rows_left_out_by_only_and_servers_read_not_run(capsys):
    # `--only manifest_get --servers berth`: one workload, one server, and it succeeded.
    bench.report({"manifest_get": {"berth": {"requests_s": 1000.0, "p50_ms": 1.0}}}, bench.SMOKE)
    out = capsys.readouterr().out
    assert _row(out, "(d) manifest GET by tag (wrk)") == ["req/s", "1,000", "not", "run", "-", "higher"]
    assert _row(out, "(a) blob push, monolithic") == ["MiB/s", "not", "run", "not", "run", "-", "higher"]
    assert _row(out, "(d) manifest HEAD by tag (loadgen)") == ["req/s", "not", "run", "not", "run", "-", "higher"]


def test_failed_rows_read_failed_in_every_table(capsys):
    results = {
        "manifest_get": {"berth": {"requests_s": 1000.0, "p50_ms": 1.0}, "distribution": None},
        "pg_manifest_get": {"berth-postgres": {"requests_s": 500.0}},
        "nodes_manifest_get": {"1-node": None, "2-nodes": {"requests_s": 900.0}},
    }
    bench.report(results, bench.SMOKE)
    bench.report_scaleout(results, bench.SMOKE)
    out = capsys.readouterr().out
    assert _row(out, "(d) manifest GET by tag (wrk)") == ["req/s", "1,000", "FAILED", "-", "higher"]
    assert _row(out, "(a) blob push, monolithic") == ["MiB/s", "not", "run", "not", "run", "-", "higher"]
    # Scale-out tables: the SQLite figure comes from manifest_get, the PostgreSQL one ran.
    assert _row(out, "manifest GET by tag (wrk)")[:4] == ["req/s", "1,000", "500", "0.500"]
    assert _row(out, "manifest HEAD by tag (loadgen)")[:5] == ["req/s", "not", "run", "not", "run"]
    assert "blobs on disk vs in S3" not in out  # no S3 row was selected: no S3 table
    nodes = out[out.index("berth nodes behind haproxy"):]
    assert _row(nodes, "manifest GET by tag (wrk)")[:3] == ["req/s", "FAILED", "900"]
