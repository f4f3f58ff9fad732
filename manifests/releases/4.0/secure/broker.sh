#!/bin/sh
# mosquitto in the secure EdgeX pod. After the tokens are ready, security-bootstrapper writes the
# broker's password file and configuration from the secret store's "message-bus" secret. Its
# listener takes every address; in one pod only the gateway needs the broker, so it moves to
# loopback (docs/secure-mode.md, gotcha 6).
set -eu
/bin/sh /etc/edgex-smoke/start/wait-for.sh tcp:54322
mkdir -p /mosquitto/config
/edgex-init/security-bootstrapper --configDir=/edgex-init/bootstrap-mosquitto/res setupMessageBusCreds mosquitto
sed -i 's/^listener 1883$/listener 1883 127.0.0.1/' /mosquitto/config/mosquitto.conf
grep -q '^listener 1883 127.0.0.1$' /mosquitto/config/mosquitto.conf || {
  echo "broker.sh: the broker configuration has no 'listener 1883'; not starting a broker on every address" >&2
  exit 1
}
exec mosquitto -c /mosquitto/config/mosquitto.conf
