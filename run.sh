#!/bin/sh
# Builds berth and runs it on its embedded defaults (127.0.0.1:5000, data under ./berth-data).
# Starts from a bare Debian 12: installs make, the compiler and the libraries from Debian's
# packages first, which needs root or sudo. Nothing is fetched from anywhere else.
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh
exec make run-only
