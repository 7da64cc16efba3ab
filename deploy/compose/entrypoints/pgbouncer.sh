#!/bin/bash
# pgbouncer in transaction mode: TLS required from clients, TLS verified (CA) to PostgreSQL.
set -euo pipefail
db=${COLOSTACK_DB:?} user=${COLOSTACK_DB_USER:?}
[ -s /run/secrets/pg_app_password ] || { echo "pgbouncer: secret pg_app_password is missing or empty" >&2; exit 1; }
conf=/run/pgbouncer-conf
install -d -o postgres -g postgres -m 0700 "$conf"
install -o postgres -g postgres -m 0600 /run/secrets/tls_key "$conf/server.key"
install -o postgres -g postgres -m 0644 /run/secrets/tls_cert "$conf/server.crt"
install -o postgres -g postgres -m 0644 /run/secrets/ca_cert "$conf/ca.crt"
umask 077
printf '"%s" "%s"\n' "$user" "$(cat /run/secrets/pg_app_password)" > "$conf/userlist.txt"
cat > "$conf/pgbouncer.ini" <<INI
[databases]
$db = host=postgres port=5432 dbname=$db
[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $conf/userlist.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits
client_tls_sslmode = require
client_tls_cert_file = $conf/server.crt
client_tls_key_file = $conf/server.key
server_tls_sslmode = verify-full
server_tls_ca_file = $conf/ca.crt
INI
chown postgres:postgres "$conf"/*
exec runuser -u postgres -- pgbouncer "$conf/pgbouncer.ini"
