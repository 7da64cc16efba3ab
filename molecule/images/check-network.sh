#!/usr/bin/env bash
# Fast check before any scenario: two throw-away test hosts on a project network resolve each
# other by name and resolve Debian's archive. Prints one line with the cause and the fix on failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
net=colostack-netcheck
image=localhost/debian13-systemd:latest
a=colostack-netcheck-a
b=colostack-netcheck-b
fail() { echo "network check failed: $*" >&2; cleanup; exit 1; }
cleanup() { podman rm -f -t 0 "$a" "$b" >/dev/null 2>&1; podman network rm -f "$net" >/dev/null 2>&1; }

backend=$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null) ||
  fail "podman info failed; run 'podman info' to see why"
[ "$backend" = netavark ] ||
  fail "Podman uses the '$backend' network backend, which gives test hosts no DNS; run 'podman system reset --force' (removes all containers and images) and 'make test' again"
[ -x /usr/lib/podman/aardvark-dns ] || [ -x /usr/libexec/podman/aardvark-dns ] ||
  fail "aardvark-dns is not installed; run 'apt-get install aardvark-dns'"

cleanup
podman network create "$net" >/dev/null || fail "could not create the Podman network $net"
for h in "$a" "$b"; do
  podman run -d --name "$h" --hostname "$h" --network "$net" "$image" sleep 60 >/dev/null ||
    fail "could not start a test host from $image (run molecule/images/build.sh)"
done
podman exec "$a" getent hosts "$b" >/dev/null ||
  fail "test host $a cannot resolve $b on network $net: DNS (aardvark-dns) is not working; check 'podman network inspect $net' shows dns_enabled: true"
podman exec "$b" getent hosts deb.debian.org >/dev/null ||
  fail "test host $b on network $net cannot resolve deb.debian.org: aardvark-dns does not forward to the host's resolvers ($(grep -m1 nameserver /etc/resolv.conf))"
cleanup
echo "network check: test hosts on a Podman network resolve each other and deb.debian.org"
