#!/usr/bin/env bash
# Build the Debian systemd test-host images with mmdebstrap + podman import.
# No registry is reachable, so images are made locally; an image is rebuilt only when it is
# missing or older than this recipe (the colostack.image label below).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
version=3  # bump when the recipe or rootfs/ changes
pkgs=systemd,systemd-sysv,python3,python3-apt,dbus,sudo,ca-certificates,iproute2,procps,curl,gnupg,openssh-server
build() {  # suite tag
  local suite=$1 tag=$2
  if [ "$(podman image inspect -f '{{index .Labels "colostack.image"}}' "$tag" 2>/dev/null)" = "$version" ]; then
    echo "image $tag present"; return
  fi
  local tmp; tmp=$(mktemp -d)
  # rootfs/: sshd makes its host keys at first boot (none are baked in), apt uses the test cache.
  mmdebstrap --variant=minbase --include="$pkgs" \
    --components="main contrib non-free non-free-firmware" \
    --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
    --customize-hook="sync-in $here/rootfs /" \
    --format=tar "$suite" "$tmp/rootfs.tar" http://deb.debian.org/debian
  podman import --change 'CMD ["/sbin/init"]' --change "LABEL colostack.image=$version" \
    "$tmp/rootfs.tar" "$tag"
  rm -rf "$tmp"
}
# Side by side: each build mostly waits on the mirror and on dpkg in its own chroot.
build bookworm localhost/debian12-systemd:latest & d12=$!
build trixie localhost/debian13-systemd:latest & d13=$!
wait "$d12"
wait "$d13"
