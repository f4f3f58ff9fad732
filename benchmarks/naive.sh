#!/bin/sh
# The naive smoke test that `python -m benchmarks compare` measures the harness against (issue 14):
# play the pod, poll with curl and `sleep 1` until core-data answers through the gateway and until
# Random-Integer-Device has an event in core-data, then take the pod down. It checks two things
# where the harness checks nine; it is the yardstick, not a test.
#
#   sh benchmarks/naive.sh <manifest.yaml> <gateway URL> [<deadline s>]
set -eu
manifest=$1
gateway=$2
deadline=$(( $(date +%s) + ${3:-180} ))

podman kube play "$manifest" >/dev/null
trap 'podman kube down "$manifest" >/dev/null' EXIT

until curl -fsS -o /dev/null "$gateway/core-data/api/v3/ping" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "naive: core-data did not answer at $gateway" >&2; exit 1; }
    sleep 1
done

count() {
    curl -fsS "$gateway/core-data/api/v3/event/count/device/name/Random-Integer-Device" 2>/dev/null \
        | sed -n 's/.*"count":\([0-9]*\).*/\1/p'
}
until [ "$(count)" -gt 0 ] 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "naive: no Random-Integer-Device event in core-data" >&2; exit 1; }
    sleep 1
done
