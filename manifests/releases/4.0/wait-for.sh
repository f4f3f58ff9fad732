#!/bin/sh
# Start order and readiness inside the single EdgeX pod (ConfigMap edgex-start).
#
#   wait-for.sh [--timeout S] DEPENDENCY... [-- COMMAND [ARG...]]
#
# Waits until every DEPENDENCY is up, then execs COMMAND (or exits 0 without
# one, which makes it a readiness probe). A DEPENDENCY is
#   tcp:PORT   something listens on PORT in the pod's network namespace, read
#              from /proc/net/tcp and tcp6 (no network tool needed);
#   http:PORT  http://127.0.0.1:PORT/api/v3/ping answers 2xx (busybox wget,
#              within 2 s).
# Gives up after S seconds (default 60; 0 checks once), naming what it waited
# for, and exits 1: the container then restarts, visibly, instead of the
# service failing later for a reason its own log hides.
#
# It runs with nothing but a busybox shell (the upstream Alpine images and the
# lab images both have one), so one manifest serves both image families.
set -u

timeout_s=60
if [ "${1:-}" = "--timeout" ]; then
  timeout_s=$2
  shift 2
fi
dependencies=""
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  dependencies="$dependencies $1"
  shift
done
[ "$#" -gt 0 ] && shift

is_up() {
  port=${1#*:}
  case "$1" in
    tcp:*)
      hex=$(printf '%04X' "$port")
      grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:[0-9A-F]+ 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
      ;;
    http:*)
      # timeout, not wget -T: Debian's static busybox wget crashes on -T.
      timeout 2 wget -q -O /dev/null "http://127.0.0.1:$port/api/v3/ping" 2>/dev/null
      ;;
    *)
      echo "wait-for: unknown dependency '$1'; write tcp:PORT or http:PORT" >&2
      exit 2
      ;;
  esac
}

started=$(date +%s)
for dependency in $dependencies; do
  until is_up "$dependency"; do
    waited=$(( $(date +%s) - started ))
    if [ "$waited" -ge "$timeout_s" ]; then
      echo "wait-for: $dependency is not up after ${waited} s; not starting ${1:-}" >&2
      exit 1
    fi
    sleep 0.2
  done
done
if [ "$#" -gt 0 ]; then
  echo "wait-for:$dependencies up after $(( $(date +%s) - started )) s; starting $1"
  exec "$@"
fi
