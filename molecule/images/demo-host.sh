#!/usr/bin/env bash
# Manage the local demo "colo": two Debian 13 systemd containers under Podman on one network.
#   colostack-demo      databases, ops, gateways: PostgreSQL + pgvector, Redis, the HAProxy gateway
#   colostack-demo-gpu  gpu_nodes: STAND-IN driver, STAND-IN vLLM, validation replaying a recording
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/molecule/images/containers.conf}"
hosts=(colostack-demo colostack-demo-gpu)
# A project network with DNS: the default network gives hosts no name resolution under netavark.
net=colostack-demo-net
image=localhost/debian13-systemd:latest
pg_port=${COLOSTACK_DEMO_PGBOUNCER_PORT:-16432}
gw_port=${COLOSTACK_DEMO_GATEWAY_PORT:-18443}
# Ansible reaches the hosts over SSH, as in a colo: inventories/demo/hosts.yml points at this config.
ssh_dir=$repo/.demo/ssh

start() {  # name, podman run options...
  local name=$1; shift
  if [ "$(podman container inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
    podman rm -f "$name" >/dev/null 2>&1 || true
    podman run -d --name "$name" --hostname "$name" --systemd=always --network "$net" \
      -v "$ssh_dir/id_ed25519.pub:/root/.ssh/authorized_keys:ro" "$@" "$image" /sbin/init >/dev/null
  fi
  local state=""
  for _ in $(seq 30); do
    state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 1
  done
  case "$state" in running|degraded) ;; *) echo "demo host $name did not boot (state: ${state:-unknown})" >&2; exit 1 ;; esac
  # The host key, read out of band, so the first connection trusts nothing it is shown.
  key=$(podman exec "$name" sh -c 'systemctl start ssh && cat /etc/ssh/ssh_host_ed25519_key.pub' | cut -d' ' -f1,2)
  echo "$name $key" >> "$ssh_dir/known_hosts"
  ip=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")
  cat >> "$ssh_dir/config" <<CFG
Host $name
  HostName $ip
  HostKeyAlias $name
  User root
  IdentityFile $ssh_dir/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $ssh_dir/known_hosts
  StrictHostKeyChecking yes
CFG
}

case "${1:-}" in
  up)
    mkdir -p "$ssh_dir" && chmod 700 "$ssh_dir"
    [ -f "$ssh_dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/id_ed25519"
    podman network exists "$net" || podman network create "$net" >/dev/null
    : > "$ssh_dir/known_hosts"; : > "$ssh_dir/config"
    start colostack-demo -p "127.0.0.1:$pg_port:6432" -p "127.0.0.1:$gw_port:443"
    start colostack-demo-gpu --ulimit nofile=20000:20000 --ulimit nproc=32768:32768
    ;;
  down)
    podman rm -f "${hosts[@]}" >/dev/null 2>&1 || true
    podman network rm -f "$net" >/dev/null 2>&1 || true ;;
  info)
    pw_file="$repo/.demo/postgresql_app_password"
    key=$(sed -n 's/^vllm_api_key: *\([^ #]*\).*/\1/p' "$repo/molecule/vllm/vars/nodes.yml")
    echo
    echo "A chat completion through the gateway (HAProxy -> nginx -> the STAND-IN vLLM on colostack-demo-gpu):"
    curl -sk --fail-with-body -m 60 "https://127.0.0.1:$gw_port/v1/chat/completions" \
      -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d '{"model":"standin","messages":[{"role":"user","content":"Hello from colostack"}],"max_tokens":8}'
    echo
    echo
    echo "GPU validation on colostack-demo-gpu (a SYNTHETIC H100 recording replayed; there is no GPU here):"
    ssh -F "$ssh_dir/config" colostack-demo-gpu 'cat /var/lib/colostack/validate/report.json 2>/dev/null | python3 -c "import json,sys; r=json.load(sys.stdin); ok=sum(x[\"status\"] == \"pass\" for x in r[\"results\"]); print(\"  verdict:\", r[\"verdict\"], \"-\", ok, \"of\", len(r[\"results\"]), \"checks passed on\", len(r[\"gpus\"]), \"replayed GPUs\")"' || true
    cat <<TXT

colostack demo is up (Podman containers, Debian 13): colostack-demo (PostgreSQL + pgvector, Redis,
the gateway) and colostack-demo-gpu (STAND-IN NVIDIA driver packages, STAND-IN vLLM, no GPU).
The same completion again:

  curl -sk https://127.0.0.1:$gw_port/v1/chat/completions -H "Authorization: Bearer $key" \\
    -H 'Content-Type: application/json' -d '{"model":"standin","messages":[{"role":"user","content":"hi"}]}'

PostgreSQL as the app user through pgbouncer (TLS required):

  PGPASSWORD="\$(cat $pw_file)" psql "host=127.0.0.1 port=$pg_port dbname=colostack user=colostack_app sslmode=require"

Then, for example:  SELECT count(*) FROM document_embeddings;
Shell on a host:    ssh -F $ssh_dir/config colostack-demo-gpu
Remove it:          make demo-clean
TXT
    ;;
  *) echo "usage: $0 up|down|info" >&2; exit 2 ;;
esac
