#!/bin/bash
# Builds berth's Debian package from a built binary: /usr/bin/berth (stripped), the systemd unit,
# the default configuration /etc/berth/berth.yaml (a conffile), the README, and the maintainer
# scripts of deploy/debian/. Dependencies are computed by dpkg-shlibdeps from the binary.
#
#   scripts/make-deb.sh [--binary PATH] [--out DIR]
#     --binary  the berth binary to package (default: build-release/berth, as `make deb` builds)
#     --out     where the .deb goes (default: build/); prints its path on the last line
set -euo pipefail
cd "$(dirname "$0")/.."

binary=build-release/berth
out=build
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--out DIR]" >&2; exit 2 ;;
  esac
done
[ -x "$binary" ] || { echo "make-deb: $binary is not an executable (build it first: make deb)" >&2; exit 1; }

version=$(sed -n 's/.*kVersion = "\(.*\)";/\1/p' src/app/version.h)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/berth_${version}_${arch}

install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/berth" \
  "$root/usr/share/doc/berth"
install -m 0755 "$binary" "$root/usr/bin/berth"
strip --strip-unneeded "$root/usr/bin/berth"
install -m 0644 deploy/systemd/berth.service "$root/lib/systemd/system/berth.service"
install -m 0640 deploy/berth.yaml "$root/etc/berth/berth.yaml"
install -m 0644 README.md "$root/usr/share/doc/berth/README.md"
gzip -9n "$root/usr/share/doc/berth/README.md"
cat > "$root/usr/share/doc/berth/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: berth
Files: *
Copyright: the berth authors
License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may not
 use this software except in compliance with the License. You may obtain a
 copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 .
 On Debian systems, the full text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
for s in postinst prerm postrm; do install -m 0755 "deploy/debian/$s" "$root/DEBIAN/$s"; done
echo /etc/berth/berth.yaml > "$root/DEBIAN/conffiles"

# dpkg-shlibdeps reads debian/control of a source tree: give it a minimal one.
mkdir -p "$stage/src/debian"
printf 'Source: berth\n\nPackage: berth\nArchitecture: any\n' > "$stage/src/debian/control"
shlibs=$(cd "$stage/src" && dpkg-shlibdeps -O -e "$root/usr/bin/berth" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: berth
Version: $version
Architecture: $arch
Maintainer: berth authors <berth@localhost>
Installed-Size: $size
Depends: $shlibs, adduser
Section: net
Priority: optional
Homepage: https://github.com/berth-registry/berth
Description: private container registry with the OCI Distribution and ECR APIs
 berth serves container images to docker, podman, skopeo, buildah, helm and oras over the
 OCI Distribution API, and manages repositories, users, lifecycle policies and scans over an
 ECR-compatible API that the AWS CLI and SDKs use unchanged. One binary, SQLite and local disk
 by default, PostgreSQL and S3-compatible storage to scale out.
CONTROL

mkdir -p "$out"
deb="$out/berth_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
