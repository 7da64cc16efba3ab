#!/usr/bin/env bash
# Build the Compose bundle's two images locally (no registry is reachable):
#   localhost/colostack-compose:latest      Debian 13 + PostgreSQL 17 + pgvector, pgbouncer, Redis, HAProxy
#   localhost/colostack-vllm-standin:latest the STAND-IN vLLM server (tests/fixtures/vllm_standin), not vLLM
# Each carries the label colostack.content, a hash of its recipe; an image is rebuilt only when
# that hash changed, so a second run takes a second.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
standin="$root/tests/fixtures/vllm_standin"
pkgs=postgresql-17,postgresql-17-pgvector,postgresql-client-17,pgbouncer,redis-server,redis-tools,haproxy,python3,openssl,ca-certificates,util-linux
base_hash=$( { cat "$here/build.sh"; echo "$pkgs"; } | sha256sum | cut -c1-16)
standin_hash=$( { echo "$base_hash"; cat "$here/Containerfile.vllm-standin";
  find "$standin/vllm_standin" -name '*.py' | sort | xargs cat; } | sha256sum | cut -c1-16)

current() { podman image inspect -f '{{index .Labels "colostack.content"}}' "$1" 2>/dev/null || true; }

if [ "$(current localhost/colostack-compose:latest)" != "$base_hash" ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  aptopt=()
  # The test hosts' apt cache (molecule/images/apt-cache.sh), when it is up.
  if timeout 1 bash -c 'echo > /dev/tcp/127.0.0.1/3942' 2>/dev/null; then
    aptopt=(--aptopt='Acquire::http::Proxy "http://127.0.0.1:3942";')
  fi
  mmdebstrap --variant=minbase --include="$pkgs" "${aptopt[@]}" \
    --customize-hook='rm -f "$1"/etc/apt/apt.conf.d/99mmdebstrap' \
    --format=tar trixie "$tmp/rootfs.tar" http://deb.debian.org/debian
  podman import --change "LABEL colostack.content=$base_hash" \
    --change 'CMD ["/bin/bash"]' "$tmp/rootfs.tar" localhost/colostack-compose:latest
else
  echo "image localhost/colostack-compose:latest current"
fi

if [ "$(current localhost/colostack-vllm-standin:latest)" != "$standin_hash" ]; then
  podman build --pull=never -f "$here/Containerfile.vllm-standin" \
    --label "colostack.content=$standin_hash" -t localhost/colostack-vllm-standin:latest "$standin"
else
  echo "image localhost/colostack-vllm-standin:latest current"
fi
