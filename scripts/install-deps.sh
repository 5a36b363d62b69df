#!/bin/sh
# Installs everything berth needs to build, test and benchmark, from Debian 12 packages only.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --bench  also the benchmark tools
set -eu

BUILD="build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev libsqlite3-dev libpq-dev libarchive-dev libyaml-cpp-dev libcli11-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev"

# Real clients and tools the integration tests drive.
TEST="python3 python3-pytest python3-boto3 python3-requests awscli
  skopeo podman buildah umoci busybox-static fuse-overlayfs uidmap openssl curl
  docker.io postgresql"

BENCH="docker-registry wrk hyperfine"

PKGS="$BUILD $TEST"
if [ "${1:-}" = "--bench" ]; then PKGS="$PKGS $BENCH"; fi

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
