#!/bin/bash
# PostgreSQL 17 + pgvector: initdb on an empty volume (app role password from a secret, the schema
# from init.sql), then the server with TLS only (hostssl, scram-sha-256) on the Compose network.
set -euo pipefail
bin=/usr/lib/postgresql/17/bin
data=/var/lib/postgresql/data
db=${COLOSTACK_DB:?} user=${COLOSTACK_DB_USER:?}
[ -s /run/secrets/pg_app_password ] || { echo "postgres: secret pg_app_password is missing or empty" >&2; exit 1; }
install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/tls "$data"
install -d -o postgres -g postgres -m 2775 /run/postgresql
install -o postgres -g postgres -m 0644 /run/secrets/tls_cert /var/lib/postgresql/tls/server.crt
install -o postgres -g postgres -m 0600 /run/secrets/tls_key /var/lib/postgresql/tls/server.key
if [ ! -s "$data/PG_VERSION" ]; then
  runuser -u postgres -- "$bin/initdb" -D "$data" -E UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  printf '%s\n' 'local all all peer' 'hostssl all all 0.0.0.0/0 scram-sha-256' \
    'hostssl all all ::/0 scram-sha-256' > "$data/pg_hba.conf"
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -o "-c listen_addresses=''" -w start >/dev/null
  runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -v pw="$(cat /run/secrets/pg_app_password)" <<SQL
CREATE ROLE $user LOGIN PASSWORD :'pw';
CREATE DATABASE $db OWNER $user;
SQL
  runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -d "$db" -f /colostack/init.sql
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  echo "postgres: initialised $db with $(sed -n 's/^CREATE INDEX IF NOT EXISTS \([a-z_]*\) .* USING \([a-z]*\).*/\1 (\2)/p' /colostack/init.sql)"
fi
exec runuser -u postgres -- "$bin/postgres" -D "$data" -c listen_addresses='*' -c ssl=on \
  -c ssl_cert_file=/var/lib/postgresql/tls/server.crt -c ssl_key_file=/var/lib/postgresql/tls/server.key \
  -c password_encryption=scram-sha-256
