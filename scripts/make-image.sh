#!/bin/bash
# Builds an OCI image of berth from Debian 12 packages only: a minimal bookworm root
# (debootstrap --variant=minbase from the Debian mirror) with berth's package installed by apt,
# committed with buildah. No base image is pulled from any registry.
#
#   scripts/make-image.sh --deb DEB [--rootfs DIR] [--mirror URL] [--out FILE]
#     --deb     berth's package (make deb)
#     --rootfs  a minbase bookworm root to start from (copied, not changed; apt fetches berth's
#               dependencies into the copy); without it the script bootstraps one
#     --mirror  the Debian mirror for debootstrap (default: the first deb.debian.org-style URI
#               of this machine's apt sources, else http://deb.debian.org/debian)
#     --out     the OCI archive to write (default build/berth-image.tar); load it with
#               `podman load -i FILE`, or `skopeo copy oci-archive:FILE docker-daemon:berth:TAG`
# The image runs `berth serve --listen 0.0.0.0:5000 --data-dir /var/lib/berth` as the berth
# user; /var/lib/berth is a volume. Needs root (debootstrap, chroot).
set -euo pipefail
cd "$(dirname "$0")/.."

deb="" rootfs="" mirror="" out=build/berth-image.tar
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb=$2; shift 2 ;;
    --rootfs) rootfs=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 --deb DEB [--rootfs DIR] [--mirror URL] [--out FILE]" >&2; exit 2 ;;
  esac
done
[ -f "$deb" ] || { echo "make-image: --deb names no file" >&2; exit 2; }
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

version=$(dpkg-deb -f "$deb" Version)
# The package's dependencies, by name, for debootstrap to include.
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | grep . | paste -sd,)

work=$(mktemp -d)
ctr=""
cleanup() {
  [ -z "$ctr" ] || buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
if [ -n "$rootfs" ]; then
  cp -a "$rootfs" "$root"
else
  echo "== debootstrap bookworm (minbase) from $mirror"
  debootstrap --variant=minbase --include="$deps" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
fi

echo "== installing $(basename "$deb") with apt"
cp "$deb" "$root/tmp/berth.deb"
if [ -n "$rootfs" ]; then
  # A root made elsewhere may lack the package's dependencies: apt fetches them from the mirror.
  chroot "$root" apt-get update >"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; exit 1; }
fi
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  /tmp/berth.deb >>"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; exit 1; }
# What a running registry does not need.
rm -rf "$root/tmp/"* "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"* "$root/var/log/"*.log \
  "$root/usr/share/man" "$root/usr/share/info"
tar -C "$root" --numeric-owner -cf "$work/root.tar" .

echo "== committing the image"
ctr=$(buildah from scratch)
buildah add "$ctr" "$work/root.tar" / >/dev/null
buildah config --entrypoint '["/usr/bin/berth","serve"]' \
  --cmd '["--listen","0.0.0.0:5000","--data-dir","/var/lib/berth"]' \
  --user berth:berth --workingdir /var/lib/berth --volume /var/lib/berth --port 5000 \
  --label org.opencontainers.image.title=berth \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.description="private container registry with the OCI Distribution and ECR APIs" \
  "$ctr"
mkdir -p "$(dirname "$out")"
rm -f "$out"
buildah commit --quiet --format oci "$ctr" "oci-archive:$out:berth:$version" >/dev/null
echo "$out"
