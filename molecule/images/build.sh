#!/usr/bin/env bash
# Build the Debian systemd test-host images with mmdebstrap + podman import.
# No registry is reachable, so images are made locally; existing ones are reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
pkgs=systemd,systemd-sysv,python3,python3-apt,dbus,sudo,ca-certificates,iproute2,procps,curl,gnupg
build() {  # suite tag
  local suite=$1 tag=$2
  if podman image exists "$tag"; then echo "image $tag present"; return; fi
  local tmp; tmp=$(mktemp -d)
  mmdebstrap --variant=minbase --include="$pkgs" \
    --components="main contrib non-free non-free-firmware" \
    --format=tar "$suite" "$tmp/rootfs.tar" http://deb.debian.org/debian
  podman import --change 'CMD ["/sbin/init"]' "$tmp/rootfs.tar" "$tag"
  rm -rf "$tmp"
}
build bookworm localhost/debian12-systemd:latest
build trixie localhost/debian13-systemd:latest
