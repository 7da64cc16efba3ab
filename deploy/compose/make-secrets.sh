#!/usr/bin/env bash
# Make the Compose bundle's secrets in DIR (default: ./secrets next to this script), one file each:
# random passwords and API key, a CA and one server certificate for every service name. Existing
# files are kept, so running it again changes nothing. There are no default passwords: the services
# refuse to start when a secret file is empty.
#   deploy/compose/make-secrets.sh [DIR]
set -euo pipefail
dir=${1:-$(cd "$(dirname "$0")" && pwd)/secrets}
install -d -m 0700 "$dir"
cd "$dir"
umask 077
for name in pg_app_password redis_password vllm_api_key; do
  [ -s "$name" ] || openssl rand -hex 24 > "$name"
done
if [ ! -s ca_cert ]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -days 825 \
    -subj "/CN=colostack compose CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca_key -out ca_cert 2>/dev/null
  rm -f tls_cert tls_key
fi
if [ ! -s tls_cert ]; then
  sans="DNS:postgres,DNS:pgbouncer,DNS:redis,DNS:gateway,DNS:vllm,DNS:localhost,IP:127.0.0.1"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -subj "/CN=colostack compose" \
    -keyout tls_key -out tls.csr 2>/dev/null
  # The extensions strict verifiers (Python 3.13, OpenSSL 3.5) require of a server certificate.
  printf '%s\n' "subjectAltName=$sans" "extendedKeyUsage=serverAuth" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" > tls.ext
  openssl x509 -req -in tls.csr -CA ca_cert -CAkey ca_key -CAcreateserial -days 825 \
    -extfile tls.ext -out tls_cert 2>/dev/null
  rm -f tls.csr tls.ext ca_cert.srl
fi
echo "secrets in $dir"
