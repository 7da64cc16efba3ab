#!/bin/bash
# Health check of one service of the bundle, run inside its container: healthy.sh SERVICE
set -euo pipefail
case "${1:?service}" in
  postgres) exec pg_isready -q -h 127.0.0.1 -d "${COLOSTACK_DB:?}" ;;
  pgbouncer) exec pg_isready -q -h 127.0.0.1 -p 6432 -d "${COLOSTACK_DB:?}" -U "${COLOSTACK_DB_USER:?}" ;;
  redis)
    redis-cli --tls --cacert /run/secrets/ca_cert -h localhost --no-auth-warning \
      -a "$(cat /run/secrets/redis_password)" ping | grep -qx PONG ;;
  vllm) exec python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health', timeout=5)" ;;
  gateway)
    exec python3 -c "import ssl, urllib.request as u; u.urlopen('https://localhost:8443/health', timeout=5,
context=ssl.create_default_context(cafile='/run/secrets/ca_cert'))" ;;
  *) echo "healthy.sh: unknown service $1" >&2; exit 2 ;;
esac
