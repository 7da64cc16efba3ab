#!/usr/bin/env bash
# Manage the local demo "colo host": a Debian 13 systemd container under Podman.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/molecule/images/containers.conf}"
name=colostack-demo
# A project network with DNS: the default network gives hosts no name resolution under netavark.
net=colostack-demo-net
image=localhost/debian13-systemd:latest
port=${COLOSTACK_DEMO_PGBOUNCER_PORT:-16432}

case "${1:-}" in
  up)
    if [ "$(podman container inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
      podman rm -f "$name" >/dev/null 2>&1 || true
      podman network exists "$net" || podman network create "$net" >/dev/null
      podman run -d --name "$name" --hostname "$name" --systemd=always --network "$net" \
        -p "127.0.0.1:$port:6432" "$image" /sbin/init >/dev/null
    fi
    for _ in $(seq 30); do
      state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) exit 0 ;; esac
      sleep 1
    done
    echo "demo host did not boot (state: ${state:-unknown})" >&2; exit 1 ;;
  down)
    podman rm -f "$name" >/dev/null 2>&1 || true
    podman network rm -f "$net" >/dev/null 2>&1 || true ;;
  info)
    pw_file="$repo/.demo/postgresql_app_password"
    cat <<TXT

colostack demo host '$name' is up (Podman container, Debian 13).
Connect as the app user through pgbouncer (TLS required):

  PGPASSWORD="\$(cat $pw_file)" psql "host=127.0.0.1 port=$port dbname=colostack user=colostack_app sslmode=require"

Then, for example:  SELECT count(*) FROM document_embeddings;
Shell on the host:  podman exec -it $name bash
Remove it:          make demo-clean
TXT
    ;;
  *) echo "usage: $0 up|down|info" >&2; exit 2 ;;
esac
