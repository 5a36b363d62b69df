#!/bin/sh
# Installs everything berth needs to build, test and benchmark, from Debian 12 packages only.
#   scripts/install-deps.sh          what building and running berth needs
#   scripts/install-deps.sh --test   also the real clients and services the tests drive
#   scripts/install-deps.sh --bench  also CNCF Distribution and the load tools (everything --test
#                                    installs, PostgreSQL, Ceph's mon, OSD and RGW and haproxy
#                                    included: the benchmark's scale-out rows use them)
# Needs root, or sudo for a user that may use it. Installs only packages that are missing;
# apt's own output goes to build/install-deps.log, and only a failure prints it.
set -eu

BUILD="make build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev libsqlite3-dev libpq-dev libarchive-dev libyaml-cpp-dev libcli11-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev"

# Real clients and tools the integration tests drive; clang and its runtime for the fuzz
# targets; FUSE for the power-loss filesystem; clang-format-14 for `make format` and
# scripts/check-format.sh.
# CNCF Distribution and wrk: the benchmark's smoke run in the test command.
# PostgreSQL's server and psql: the metadata store's tests on PostgreSQL (tests/infra/pg-up.sh).
# Ceph's mon, OSD and RADOS Gateway (and uuidgen): the real S3 the S3 blob store is tested on
# (tests/infra/ceph-up.sh).
# prometheus (with promtool): scrapes berth's /metrics and checks the alert rules in a test.
# haproxy: balances three berth nodes in the multi-node test (tests/integration/test_multinode.py).
# debootstrap and systemd (systemd-analyze): the package and image tests install berth's .deb into
# a clean Debian 12 root and check its unit (tests/integration/test_packaging.py).
# lld: the test command's builds link with it (CMake uses it where it is installed); GNU ld
# takes several times longer on the large debug and sanitizer binaries.
TEST="ceph-mon ceph-osd radosgw uuid-runtime
  python3 python3-pytest python3-boto3 python3-requests awscli
  skopeo podman buildah umoci busybox-static uidmap openssl curl ca-certificates procps
  docker.io docker-registry wrk clang libclang-rt-14-dev clang-format-14 fuse3 libfuse3-dev
  postgresql prometheus haproxy debootstrap systemd lld"

BENCH="hyperfine"

case "${1:-}" in
  "") PKGS="$BUILD" ;;
  --test) PKGS="$BUILD $TEST" ;;
  --bench) PKGS="$BUILD $TEST $BENCH" ;;
  *) echo "usage: $0 [--test|--bench]" >&2; exit 2 ;;
esac

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "== packages: all $(echo $PKGS | wc -w) present"
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "error: installing$missing needs root; run this as root or install sudo" >&2
  exit 1
fi

mkdir -p build
log=build/install-deps.log
echo "== packages: installing$(echo "$missing" | wc -w | sed 's/^/ /') from Debian (apt output in $log)"
echo $missing | fold -s -w 96 | sed "s/^/  /"
APT="$SUDO env DEBIAN_FRONTEND=noninteractive apt-get"
# shellcheck disable=SC2086
if ! { $APT update && $APT install -y --no-install-recommends $missing; } >"$log" 2>&1; then
  echo "error: apt-get failed; the last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi
echo "== packages: done"
