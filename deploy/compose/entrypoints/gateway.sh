#!/bin/bash
# The gateway: HAProxy terminating TLS in front of vLLM, health-checking it on /health. Clients send
# the vLLM API key (Authorization: Bearer), which vLLM checks.
set -euo pipefail
conf=/run/haproxy-conf
install -d -m 0700 "$conf"
umask 077
cat /run/secrets/tls_cert /run/secrets/tls_key > "$conf/gateway.pem"
cat > "$conf/haproxy.cfg" <<CFG
global
    user haproxy
    group haproxy
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 600s
    timeout server 600s
resolvers compose
    parse-resolv-conf
    hold valid 10s
frontend api
    bind :8443 ssl crt $conf/gateway.pem
    http-request deny status 404 unless { path_beg /v1/ } || { path /health }
    default_backend vllm
backend vllm
    option httpchk GET /health
    http-check expect status 200
    server vllm vllm:8000 check inter 2s fall 3 rise 2 resolvers compose init-addr last,libc,none
CFG
exec haproxy -W -db -f "$conf/haproxy.cfg"
