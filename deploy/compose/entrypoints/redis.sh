#!/bin/bash
# Redis with TLS only (no plain port) and a password from a secret, append-only file on the volume.
set -euo pipefail
[ -s /run/secrets/redis_password ] || { echo "redis: secret redis_password is missing or empty" >&2; exit 1; }
conf=/run/redis-conf
install -d -o redis -g redis -m 0700 "$conf"
install -d -o redis -g redis -m 0750 /var/lib/redis
install -o redis -g redis -m 0600 /run/secrets/tls_key "$conf/server.key"
install -o redis -g redis -m 0644 /run/secrets/tls_cert "$conf/server.crt"
install -o redis -g redis -m 0644 /run/secrets/ca_cert "$conf/ca.crt"
umask 077
cat > "$conf/redis.conf" <<CONF
bind 0.0.0.0
protected-mode no
port 0
tls-port 6379
tls-cert-file $conf/server.crt
tls-key-file $conf/server.key
tls-ca-cert-file $conf/ca.crt
tls-auth-clients no
requirepass "$(cat /run/secrets/redis_password)"
dir /var/lib/redis
appendonly yes
CONF
chown redis:redis "$conf/redis.conf"
exec runuser -u redis -- redis-server "$conf/redis.conf"
