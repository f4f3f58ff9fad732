#!/bin/sh
# device-mqtt in the secure EdgeX pod: its own broker client must log in too. 4.0.1 ignores
# environment overrides of its custom configuration, so its res/configuration.yaml is copied
# with MQTTBrokerInfo's AuthMode and CredentialsName changed, and the service reads the copy
# (-cd). Then the usual bounded wait, and the service with the arguments it was given.
set -eu
mkdir -p /tmp/device-mqtt-res
sed -e 's/^\(  AuthMode: \)"none"/\1"usernamepassword"/' \
    -e 's/^\(  CredentialsName: \)"credentials"/\1"message-bus"/' \
    res/configuration.yaml > /tmp/device-mqtt-res/configuration.yaml
grep -q '^  AuthMode: "usernamepassword"' /tmp/device-mqtt-res/configuration.yaml || {
  echo "device-mqtt.sh: MQTTBrokerInfo.AuthMode not found in res/configuration.yaml; not starting" >&2
  exit 1
}
exec "$@" -cd /tmp/device-mqtt-res
