#!/bin/sh
# PostgreSQL in the secure EdgeX pod. After the tokens are ready, security-bootstrapper reads the
# database users EdgeX's secret store holds and writes create-users.sh and the superuser's
# password file; the image's entrypoint then runs the script before it listens (both the official
# image and the lab's edgex-smoke-postgres honour POSTGRES_PASSWORD_FILE and the init directory).
set -eu
/bin/sh /etc/edgex-smoke/start/wait-for.sh tcp:54322
mkdir -p /docker-entrypoint-initdb.d
DATABASECONFIG_PATH=/docker-entrypoint-initdb.d DATABASECONFIG_NAME=create-users.sh \
  /edgex-init/security-bootstrapper --configDir=/edgex-init/bootstrap-postgres/res configurePostgres
export POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password POSTGRES_DB=edgex_db
if command -v edgex-smoke-postgres >/dev/null; then
  exec edgex-smoke-postgres
fi
exec docker-entrypoint.sh postgres -c listen_addresses=localhost
