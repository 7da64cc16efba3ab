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
# Ansible reaches the host over SSH, as in a colo: inventories/demo/hosts.yml points at this config.
ssh_dir=$repo/.demo/ssh

case "${1:-}" in
  up)
    mkdir -p "$ssh_dir" && chmod 700 "$ssh_dir"
    [ -f "$ssh_dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/id_ed25519"
    if [ "$(podman container inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
      podman rm -f "$name" >/dev/null 2>&1 || true
      podman network exists "$net" || podman network create "$net" >/dev/null
      podman run -d --name "$name" --hostname "$name" --systemd=always --network "$net" \
        -v "$ssh_dir/id_ed25519.pub:/root/.ssh/authorized_keys:ro" \
        -p "127.0.0.1:$port:6432" "$image" /sbin/init >/dev/null
    fi
    for _ in $(seq 30); do
      state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) break ;; esac
      sleep 1
    done
    case "$state" in running|degraded) ;; *) echo "demo host did not boot (state: ${state:-unknown})" >&2; exit 1 ;; esac
    # The host key, read out of band, so the first connection trusts nothing it is shown.
    key=$(podman exec "$name" sh -c 'systemctl start ssh && cat /etc/ssh/ssh_host_ed25519_key.pub' | cut -d' ' -f1,2)
    echo "$name $key" > "$ssh_dir/known_hosts"
    ip=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")
    cat > "$ssh_dir/config" <<CFG
Host $name
  HostName $ip
  HostKeyAlias $name
  User root
  IdentityFile $ssh_dir/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $ssh_dir/known_hosts
  StrictHostKeyChecking yes
CFG
    ;;
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
Shell on the host:  ssh -F $ssh_dir/config $name
Remove it:          make demo-clean
TXT
    ;;
  *) echo "usage: $0 up|down|info" >&2; exit 2 ;;
esac
