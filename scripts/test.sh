#!/bin/bash
# Builds berth with warnings as errors, runs the unit tests (also under
# AddressSanitizer and UndefinedBehaviorSanitizer) and the integration suites
# against live berth processes driven by real clients; builds the fuzz targets
# and runs each briefly so the harness keeps compiling and its seeds keep passing.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
PYTHON=/usr/bin/python3   # Debian's own, with python3-pytest and python3-boto3

echo "== layering (scripts/check-layers.sh)"
scripts/check-layers.sh
echo "== formatting (scripts/check-format.sh, clang-format-14)"
scripts/check-format.sh

# The package and image tests (tests/integration/test_packaging.py) install berth into a clean
# Debian 12 root that debootstrap makes from the Debian mirror. That takes minutes, mostly
# waiting on the network, so it runs in the background from here on, while berth builds; the
# tests wait for it (tests/support/debian_root.py keeps it under build/test-cache/).
mkdir -p build
"$PYTHON" tests/support/debian_root.py > build/debootstrap.log 2>&1 &

echo "== build"
# The micro-benchmarks are built (and run briefly in the benchmark smoke run) so they keep compiling.
# Line tables only (-g1) instead of full debug information: backtraces and sanitizer reports
# still name file and line, and the compile takes about a sixth less CPU with a third of the
# object size (measured on src/ecr/repositories.cc: 11.5 s and 6.0 MB with -g, 9.6 s and 1.9 MB
# with -g1).
TEST_FLAGS="-O2 -g1 -DNDEBUG"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$TEST_FLAGS" \
  -DBERTH_WERROR=ON -DBERTH_BUILD_BENCH=ON >/dev/null
ninja -C build -j"$JOBS" berth berth_unit_tests berth_micro_bench
# The power-loss test's FUSE file system exists where CMake found libfuse3
# (scripts/install-deps.sh --test installs it); without it that test skips,
# or fails under CI=true.
if ninja -C build -t targets all | grep -q '^powerloss_fs:'; then
  ninja -C build -j"$JOBS" powerloss_fs
fi

echo "== PostgreSQL and Ceph RADOS Gateway for the tests (tests/infra/pg-up.sh, ceph-up.sh)"
# A throwaway PostgreSQL cluster: the unit tests run every metadata and identity conformance
# suite on it too. A throwaway single-node Ceph with its RADOS Gateway: the S3 blob store's tests.
# The last phase reruns the API suites on both. Stopped at exit, however the run ends.
BERTH_TEST_POSTGRES_DSN=$(tests/infra/pg-up.sh)
export BERTH_TEST_POSTGRES_DSN
CEPH_DIR=$(mktemp -d /tmp/ceph.XXXXXX)
stop_services() {
  tests/infra/pg-down.sh "$BERTH_TEST_POSTGRES_DSN" || true
  tests/infra/ceph-down.sh "$CEPH_DIR" || true
}
trap stop_services EXIT
tests/infra/ceph-up.sh "$CEPH_DIR"
. "$CEPH_DIR/env"   # BERTH_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _REGION, BERTH_TEST_CEPH_DIR

echo "== unit tests"
(cd build && ctest --output-on-failure -j"$JOBS" -E 'S3') | tee build/ctest.log
# A PostgreSQL test that skipped did not test anything: fail rather than count it.
if grep -E '(Postgres|postgres).*(\*\*\*Skipped|\(Skipped\))' build/ctest.log; then
  echo "PostgreSQL unit tests were skipped (is BERTH_TEST_POSTGRES_DSN reachable?)" >&2
  exit 1
fi
# The S3 store's tests (conformance and its own) against the gateway: they must run, not skip.
build/berth_unit_tests --gtest_filter='S3/*:S3BlobStore*' > build/s3-unit.log 2>&1 || { tail -n 60 build/s3-unit.log; exit 1; }
grep -q '^\[  SKIPPED \]' build/s3-unit.log && { grep '^\[  SKIPPED \]' build/s3-unit.log; echo "S3 store tests were skipped" >&2; exit 1; }
grep '^\[  PASSED  \]' build/s3-unit.log

# One clang build serves both sanitizer phases: every library is built once with ASan, UBSan and
# libFuzzer's coverage instrumentation (scripts/fuzz.sh's build-fuzz/), and both the unit tests and
# the fuzz targets link those libraries. (A separate GCC Debug+ASan build of the unit tests, as
# `-DBERTH_SANITIZE=ON` gives, would compile everything a third time.)
if [ "${BERTH_SKIP_SANITIZERS:-0}" != 1 ] || [ "${BERTH_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== sanitizer build (clang; ASan, UBSan, libFuzzer coverage) in build-fuzz/"
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$TEST_FLAGS" \
    -DCMAKE_CXX_COMPILER=clang++ \
    -DBERTH_FUZZ=ON -DBERTH_BUILD_TESTS=ON -DBERTH_WERROR=ON >/dev/null
  ninja -C build-fuzz -j"$JOBS" berth_unit_tests fuzz_targets
fi

if [ "${BERTH_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== unit tests under ASan/UBSan"
  # Sharded over the cores (GoogleTest's GTEST_TOTAL_SHARDS/GTEST_SHARD_INDEX: every test runs
  # in exactly one shard); every shard must pass, and each shard's output is printed. An
  # undefined-behaviour report aborts the test binary (-fno-sanitize-recover=undefined).
  shards=$JOBS
  pids=()
  for ((i = 0; i < shards; i++)); do
    GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i \
      ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      build-fuzz/berth_unit_tests --gtest_brief=1 > "build-fuzz/unit-shard-$i.log" 2>&1 &
    pids+=($!)
  done
  asan_failed=0
  for ((i = 0; i < shards; i++)); do
    wait "${pids[$i]}" || asan_failed=1
    echo "-- shard $((i + 1)) of $shards"
    cat "build-fuzz/unit-shard-$i.log"
  done
  [ "$asan_failed" = 0 ] || { echo "unit tests under ASan/UBSan failed" >&2; exit 1; }
fi

if [ "${BERTH_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz targets (corpus replay + a few seconds each)"
  # Keeps the unit tests in build-fuzz/'s configuration, so nothing is reconfigured or rebuilt.
  FUZZ_BUILD_UNIT_TESTS=ON FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-5} JOBS="$JOBS" scripts/fuzz.sh
fi

echo "== test suites"
export BERTH_BIN="$PWD/build/berth"
# Every skip of either pytest suite is appended here (tests/skip_policy.py) and printed at the
# end. A client the README names (docker, podman, skopeo, the AWS CLI) that cannot run fails its
# test instead, unless BERTH_ALLOW_SKIP names it.
export BERTH_SKIP_REPORT="$PWD/build/skipped-tests.txt"
: > "$BERTH_SKIP_REPORT"
print_skips() {
  echo "== skipped tests: $(wc -l < "$BERTH_SKIP_REPORT")"
  cat "$BERTH_SKIP_REPORT"
}
trap 'print_skips; stop_services' EXIT

# The suites run in two streams at once, each a sequence of pytest runs: most of a test's time is
# spent waiting on a client (docker, podman, skopeo, the AWS CLI) or on a server's fsync, not on a
# core. Every berth a test starts has its own ports and data directory, and, on PostgreSQL and S3,
# its own database and bucket (tests/support/server.py), so the streams share nothing but the
# machine. Each stream's output goes to its own log, printed when the stream ends.
#
# The PostgreSQL + S3 runs: every berth the shared launcher starts gets a fresh database of the
# cluster above and a bucket of its own. Left out of the S3 run, with their reasons: the power-loss
# test cuts a FUSE file system under the data directory, which neither store then uses; the ECR
# authorization matrix proves "no side effect" by snapshotting the data directory's uploads/ and
# blobs/, which are then in S3; the integrity tests corrupt, truncate and chmod blob files and fill
# the disk; the GC tests look for blob files on disk. These three run again with their blobs on
# disk and their metadata on PostgreSQL. Not rerun, as they already ran on these stores or do not
# use them: the multi-node test (its three nodes always run on PostgreSQL and the gateway) and the
# package and image tests (which install berth into a Debian root and start it there).
# Each suite is its own pytest run: each directory has its own pytest.ini (so node ids, as
# --deselect takes them, are relative to it).
pytest_run() { "$PYTHON" -m pytest -q -rs -p no:cacheprovider "$@"; }
stream_integration() {
  echo "== integration tests (SQLite, disk)"
  pytest_run tests/integration
  echo "== integration tests again: metadata on PostgreSQL, blobs in S3 (Ceph RGW)"
  BERTH_TEST_METADATA=postgres BERTH_TEST_STORAGE=s3 pytest_run tests/integration \
    --ignore tests/integration/test_power_loss.py \
    --ignore tests/integration/test_packaging.py --ignore tests/integration/test_multinode.py \
    --ignore tests/integration/test_integrity.py --ignore tests/integration/test_gc.py
  echo "== integrity and GC tests again: metadata on PostgreSQL"
  BERTH_TEST_METADATA=postgres pytest_run tests/integration/test_integrity.py tests/integration/test_gc.py
}
stream_api() {
  echo "== ECR API tests (SQLite, disk)"
  pytest_run tests/api
  echo "== benchmark smoke run (correctness only, no timings asserted)"
  c++ -O2 -std=c++20 -Wall -Wextra -pthread tests/bench/loadgen.cc -o build/berth_loadgen
  "$PYTHON" tests/bench/bench.py --smoke --berth "$PWD/build/berth" --loadgen "$PWD/build/berth_loadgen" \
    --micro "$PWD/build/berth_micro_bench" \
    --results-dir "$(mktemp -d)" > build/bench-smoke.log 2>&1 || { cat build/bench-smoke.log; return 1; }
  tail -n 40 build/bench-smoke.log
  echo "== ECR API tests again: metadata on PostgreSQL, blobs in S3 (Ceph RGW)"
  BERTH_TEST_METADATA=postgres BERTH_TEST_STORAGE=s3 pytest_run tests/api --ignore tests/api/test_auth_matrix.py
  echo "== the authorization matrix again: metadata on PostgreSQL"
  BERTH_TEST_METADATA=postgres pytest_run tests/api/test_auth_matrix.py
}
started=$SECONDS
# Each stream is a subshell that inherits `set -e`: it stops at its first failed run.
stream_integration > build/stream-integration.log 2>&1 &
integration_pid=$!
stream_api > build/stream-api.log 2>&1 &
api_pid=$!
failed=()
wait "$api_pid" || failed+=(api)
echo "== stream: ECR API suites, benchmark smoke run ($((SECONDS - started))s)"
cat build/stream-api.log
wait "$integration_pid" || failed+=(integration)
echo "== stream: integration suites ($((SECONDS - started))s)"
cat build/stream-integration.log
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]} (see the stream output above)" >&2
  exit 1
fi
echo "== all test suites passed in $((SECONDS - started))s"
