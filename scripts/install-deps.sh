#!/bin/sh
# Installs everything berth needs to build, test and benchmark, from Debian 12 packages only.
#   scripts/install-deps.sh          what building and running berth needs
#   scripts/install-deps.sh --test   also the real clients the tests drive
#   scripts/install-deps.sh --bench  also CNCF Distribution and the load tools
set -eu

BUILD="build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev libsqlite3-dev libpq-dev libarchive-dev libyaml-cpp-dev libcli11-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev"

# Real clients and tools the integration tests drive.
# CNCF Distribution and wrk: the benchmark's smoke run in the test command.
# libfuse3-dev and fuse3: the power-loss test's file system (tests/powerloss/).
TEST="python3 python3-pytest python3-boto3 python3-requests awscli
  skopeo podman buildah umoci busybox-static uidmap openssl curl
  docker.io docker-registry wrk libfuse3-dev fuse3"

BENCH="hyperfine"

case "${1:-}" in
  "") PKGS="$BUILD" ;;
  --test) PKGS="$BUILD $TEST" ;;
  --bench) PKGS="$BUILD $TEST $BENCH" ;;
  *) echo "usage: $0 [--test|--bench]" >&2; exit 2 ;;
esac

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

export DEBIAN_FRONTEND=noninteractive
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
