#!/bin/bash
# berth against CNCF Distribution (Debian's docker-registry), side by side in one run, plus berth's
# Google Benchmark micro-benchmarks. `make bench` installs the tools first and runs this.
#
#   scripts/bench.sh           the full benchmark (256 MiB blobs, 10,000 tags, ...; several minutes)
#   scripts/bench.sh --smoke   every workload at tiny sizes, for CI: fails on any wrong answer from
#                              either server, never on a time (also BENCH_SMOKE=1)
#   scripts/bench.sh --no-scaleout   without the scale-out rows (berth on PostgreSQL, blobs in S3,
#                              two nodes behind haproxy) and the PostgreSQL and Ceph RGW they start
#   scripts/bench.sh --only=manifest_get,pg_manifest_get   just those workloads (names: bench.py --help)
#
# Prints the machine's limits, the micro-benchmarks and one table (berth, Distribution, ratio) and
# writes everything to bench-results/<timestamp>.json. The harness is tests/bench/bench.py.
#
# Environment: BENCH_BUILD_DIR (default build-release), JOBS (ninja parallelism, default nproc),
# BENCH_TMPDIR (where the servers keep their data; default the system temp dir),
# DISTRIBUTION_BIN (default /usr/bin/docker-registry).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke="${BENCH_SMOKE:-0}"
scaleout=1
extra=()
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=1 ;;
    --no-scaleout) scaleout=0; extra+=(--no-scaleout) ;;
    --only=*) extra+=(--only "${arg#--only=}") ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--smoke] [--no-scaleout] [--only=WORKLOAD,...]" >&2; exit 2 ;;
  esac
done

tools=(cmake ninja wrk openssl dd "${DISTRIBUTION_BIN:-/usr/bin/docker-registry}")
# The scale-out rows: tests/infra/pg-up.sh and ceph-up.sh, and haproxy in front of two nodes.
if [ "$scaleout" = 1 ]; then tools+=(haproxy psql /usr/lib/postgresql/15/bin/initdb ceph-mon ceph-osd radosgw uuidgen); fi
for tool in "${tools[@]}"; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench: $tool is missing; run scripts/install-deps.sh --bench" >&2
    exit 1
  fi
done
if ! /usr/bin/python3 -c 'import requests, boto3' 2>/dev/null; then
  echo "bench: python3-requests and python3-boto3 are missing; run scripts/install-deps.sh --bench" >&2
  exit 1
fi

build_dir="${BENCH_BUILD_DIR:-build-release}"
echo "bench: building berth (Release) in $build_dir"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERTH_BUILD_BENCH=ON -DBERTH_BUILD_TESTS=OFF >/dev/null
ninja -C "$build_dir" -j"${JOBS:-$(nproc)}" berth berth_micro_bench
# The HEAD-capable load generator (wrk 4.1 cannot time HEAD): one file, no dependencies.
loadgen="$build_dir/berth_loadgen"
if [ ! -x "$loadgen" ] || [ tests/bench/loadgen.cc -nt "$loadgen" ]; then
  "${CXX:-c++}" -O2 -std=c++20 -Wall -Wextra -pthread tests/bench/loadgen.cc -o "$loadgen"
fi

args=(--berth "$PWD/$build_dir/berth" --micro "$PWD/$build_dir/berth_micro_bench" --loadgen "$PWD/$loadgen"
  --results-dir bench-results)
if [ "$smoke" = 1 ]; then args+=(--smoke); fi
args+=("${extra[@]}")
if [ -n "${BENCH_TMPDIR:-}" ]; then args+=(--tmpdir "$BENCH_TMPDIR"); fi
# bench.py stops both servers and removes its temp dir on exit, Ctrl-C and SIGTERM included; the
# servers also get SIGKILL if bench.py itself is killed (setpriv --pdeathsig).
exec /usr/bin/python3 tests/bench/bench.py "${args[@]}"
