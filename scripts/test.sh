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
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_WERROR=ON -DBERTH_BUILD_BENCH=ON >/dev/null
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

if [ "${BERTH_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== unit tests under ASan/UBSan"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBERTH_SANITIZE=ON -DBERTH_WERROR=ON >/dev/null
  ninja -C build-asan -j"$JOBS" berth_unit_tests
  # Sharded over the cores (GoogleTest's GTEST_TOTAL_SHARDS/GTEST_SHARD_INDEX: every test runs
  # in exactly one shard); every shard must pass, and each shard's output is printed.
  shards=$JOBS
  pids=()
  for ((i = 0; i < shards; i++)); do
    GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i \
      ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      build-asan/berth_unit_tests --gtest_brief=1 > "build-asan/unit-shard-$i.log" 2>&1 &
    pids+=($!)
  done
  asan_failed=0
  for ((i = 0; i < shards; i++)); do
    wait "${pids[$i]}" || asan_failed=1
    echo "-- shard $((i + 1)) of $shards"
    cat "build-asan/unit-shard-$i.log"
  done
  [ "$asan_failed" = 0 ] || { echo "unit tests under ASan/UBSan failed" >&2; exit 1; }
fi

if [ "${BERTH_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz targets (corpus replay + a few seconds each)"
  FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-5} JOBS="$JOBS" scripts/fuzz.sh
fi

echo "== integration tests"
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
"$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/integration
echo "== benchmark smoke run (correctness only, no timings asserted)"
c++ -O2 -std=c++20 -Wall -Wextra -pthread tests/bench/loadgen.cc -o build/berth_loadgen
"$PYTHON" tests/bench/bench.py --smoke --berth "$PWD/build/berth" --loadgen "$PWD/build/berth_loadgen" \
  --micro "$PWD/build/berth_micro_bench" \
  --results-dir "$(mktemp -d)" > build/bench-smoke.log 2>&1 || { cat build/bench-smoke.log; exit 1; }
tail -n 40 build/bench-smoke.log

echo "== ECR API tests"
"$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/api

echo "== integration and ECR API tests again: metadata on PostgreSQL, blobs in S3 (Ceph RGW)"
# Every berth the shared launcher starts gets a fresh database of the cluster above and a bucket
# of its own (tests/support/server.py). Left out of the S3 run, with their reasons: the power-loss
# test cuts a FUSE file system under the data directory, which neither store then uses; the ECR
# authorization matrix proves "no side effect" by snapshotting the data directory's uploads/ and
# blobs/, which are then in S3; the integrity tests corrupt, truncate and chmod blob files and fill
# the disk; the GC tests look for blob files on disk. These three run again with their blobs on
# disk and their metadata on PostgreSQL. Not rerun, as they already ran on these stores or do not
# use them: the multi-node test (its three nodes always run on PostgreSQL and the gateway) and the
# package and image tests (which install berth into a Debian root and start it there).
# Each suite is its own pytest run: each directory has its own pytest.ini (so node ids, as
# --deselect takes them, are relative to it).
started=$SECONDS
export BERTH_TEST_METADATA=postgres
BERTH_TEST_STORAGE=s3 "$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/integration \
  --ignore tests/integration/test_power_loss.py \
  --ignore tests/integration/test_packaging.py --ignore tests/integration/test_multinode.py \
  --ignore tests/integration/test_integrity.py --ignore tests/integration/test_gc.py
BERTH_TEST_STORAGE=s3 "$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/api --ignore tests/api/test_auth_matrix.py
"$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/integration/test_integrity.py tests/integration/test_gc.py
"$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/api/test_auth_matrix.py
unset BERTH_TEST_METADATA
echo "== PostgreSQL + S3 rerun took $((SECONDS - started))s"
