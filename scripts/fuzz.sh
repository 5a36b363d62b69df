#!/bin/bash
# Builds the libFuzzer targets of tests/fuzz with clang in build-fuzz/ and runs
# each, one after the other, on its seed corpus (tests/fuzz/corpus/<target>/):
# first a replay of every seed, then FUZZ_SECONDS of fuzzing.
#
#   scripts/fuzz.sh [target...]      default: every target (what the test command runs)
#   scripts/fuzz.sh --smoke          the light targets only: all but ecr_request and
#                                    http_request, which need the whole of berth built
#                                    under the sanitizers (a quick local check)
#
# FUZZ_SECONDS   fuzzing time per target (default 60)
# FUZZ_RUNS      stop a target earlier, after this many executions (default: no limit)
# FUZZ_WORK_DIR  where new corpus entries go (default: a fresh temporary
#                directory; the seed corpus in the repository is never written)
# JOBS           build parallelism (default: nproc)
# FUZZ_BUILD_UNIT_TESTS  ON to keep the unit tests in build-fuzz/ as well (the test command
#                builds them there under the same sanitizers; default OFF)
#
# Crash, leak, timeout and out-of-memory reproducers go to build-fuzz/crashes/.
# Exits non-zero when any target found one.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc)}
BUILD=build-fuzz
FUZZ_RUNS=${FUZZ_RUNS:--1}
SMOKE=(base64 byte_range routes manifest lifecycle tag_mutability sigv4 registry_token config pkgdb)
SMOKE+=(advisory policy)
# ecr_request and http_request link the whole of berth built under ASan, UBSan
# and coverage, the largest part of this script's build.
ALL=("${SMOKE[@]}" ecr_request http_request)
targets=("$@")
if [ "${1:-}" = --smoke ]; then
  targets=("${SMOKE[@]}")
elif [ ${#targets[@]} -eq 0 ]; then
  targets=("${ALL[@]}")
fi

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DBERTH_FUZZ=ON -DBERTH_BUILD_TESTS="${FUZZ_BUILD_UNIT_TESTS:-OFF}" -DBERTH_WERROR=ON >/dev/null
ninja -C "$BUILD" -j"$JOBS" "${targets[@]/%/_fuzz}"

work=${FUZZ_WORK_DIR:-$(mktemp -d -t berth-fuzz.XXXXXX)}
mkdir -p "$BUILD/crashes"
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  log="$work/$t.log"
  # The first corpus directory receives new entries; the seeds are only read.
  if TMPDIR="$work" "$BUILD/${t}_fuzz" -max_total_time="$FUZZ_SECONDS" -runs="$FUZZ_RUNS" -timeout=30 -rss_limit_mb=2560 \
      -artifact_prefix="$BUILD/crashes/$t-" -print_final_stats=1 "$work/$t" "tests/fuzz/corpus/$t" \
      >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    printf '%-16s ok   %10s runs %8s exec/s\n' "$t" "$runs" "$rate"
  else
    printf '%-16s FAILED (log: %s)\n' "$t" "$log"
    grep -E 'ERROR|SUMMARY|property violated|runtime error|Test unit written' "$log" | head -n 20 || true
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets with findings: ${failed[*]} (reproducers in $BUILD/crashes/)"
  exit 1
fi
