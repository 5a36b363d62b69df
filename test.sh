#!/bin/sh
# Builds berth and runs every test: unit tests (also under ASan/UBSan), fuzz targets briefly,
# and the integration suites against live berth processes driven by real clients.
# Starts from a bare Debian 12: installs make, the toolchain, the clients and services the
# tests drive from Debian's packages first, which needs root or sudo.
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh --test
exec make test-only
