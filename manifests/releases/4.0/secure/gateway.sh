#!/bin/sh
# The secure gateway: a CA and a server certificate made at start, then nginx (TLS only).
# The CA's key is deleted as soon as it signed, so nothing can issue another certificate; the
# harness reads the CA certificate (public) from /etc/edgex-smoke/tls/ca.crt to verify the
# gateway, by the name the certificate carries: edgex-gateway.
set -eu
tls=/etc/edgex-smoke/tls
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
  -subj "/CN=edgex-smoke gateway CA" -keyout "$tls/ca.key" -out "$tls/ca.crt" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=edgex-gateway" \
  -keyout "$tls/nginx.key" -out "$tls/nginx.csr" 2>/dev/null
printf 'subjectAltName=DNS:edgex-gateway\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n' \
  > "$tls/server.ext"
openssl x509 -req -in "$tls/nginx.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 7 \
  -extfile "$tls/server.ext" -out "$tls/nginx.crt" 2>/dev/null
rm -f "$tls/ca.key" "$tls/ca.srl" "$tls/nginx.csr" "$tls/server.ext"
chmod 0644 "$tls/ca.crt" "$tls/nginx.crt"
exec nginx -g 'daemon off;' -c /etc/edgex-smoke/gateway/nginx.conf
