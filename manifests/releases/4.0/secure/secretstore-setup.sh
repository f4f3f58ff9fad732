#!/bin/sh
# security-secretstore-setup in the secure EdgeX pod: initialise and unseal OpenBao, write each
# service's token and the known secrets, then open the "tokens ready" gate (54322) that the
# database, the broker and every service wait for, as upstream's entrypoint does.
set -eu
/bin/sh /etc/edgex-smoke/start/wait-for.sh tcp:8200 tcp:54321
mkdir -p /openbao/config/assets
/security-secretstore-setup --secretStoreInterval=10
/edgex-init/security-bootstrapper --configDir=/edgex-init/res listenTcp --port=54322 --host=localhost &
exec /security-secretstore-setup --secretStoreInterval=10 --longRun=true
