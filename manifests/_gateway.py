"""The gateway's nginx.conf, generated from a route table.

The same text runs in both image families:

- ``include /etc/nginx/modules-enabled/*.conf;`` loads Debian's dynamic stream
  module (lab image, host nginx in tests) and matches nothing in the official
  nginx image, whose stream module is built in;
- pid file and every temp path live under one runtime directory (``/tmp`` in
  the pod), so nothing is written below /etc, /var or /run;
- errors go to stderr and the access log to stdout, where the container
  runtime collects them.

HTTP: ``location /<name>/`` proxies to ``http://<upstream host>:<port>/``; the
trailing slash in ``proxy_pass`` makes nginx replace the matched prefix with
``/``, so ``/core-data/api/v3/ping`` reaches core-data as ``/api/v3/ping``.
MQTT: a ``stream`` server passes TCP through to the broker unchanged.

Secure mode (`Tls`): both servers speak TLS 1.3 only, with the certificate the gateway makes
at start; every service route asks security-proxy-auth first (``auth_request``: its 204 lets
the call through, 401 or 403 ends it), and OpenBao's userpass login and OIDC token endpoints
are passed through under ``/vault/`` without that check, as EdgeX's own gateway does
(edgex-go v4.0.1, cmd/security-proxy-setup/entrypoint.sh).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from harness.errors import ManifestError

UPSTREAM_HOST = "127.0.0.1"
RUNTIME_DIR = "/tmp"  # noqa: S108 - the container's own /tmp; the pod shares it with nobody
MODULES_INCLUDE = "/etc/nginx/modules-enabled/*.conf"

# Idle timeout of a proxied MQTT connection: well above the keepalive of EdgeX's
# bus clients (10 s) and of paho's default (60 s), so only dead clients are cut.
MQTT_IDLE_TIMEOUT = "10m"

_ROUTE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


TLS_DIR = "/etc/edgex-smoke/tls"
SERVER_NAME = "edgex-gateway"
"""The name in the gateway's certificate: clients verify the certificate by it, at any address."""
SECRET_STORE_PATHS = ("v1/auth/userpass/login/", "v1/identity/oidc/token/")
"""OpenBao's endpoints of EdgeX's token flow, reachable through the gateway under /vault/."""


@dataclass(frozen=True)
class Tls:
    """The secure gateway's upstreams: security-proxy-auth and OpenBao on the pod's loopback."""

    proxy_auth_port: int
    secret_store_port: int
    certificate: str = f"{TLS_DIR}/nginx.crt"
    key: str = f"{TLS_DIR}/nginx.key"


def check_port(what: str, port: int) -> None:
    """Raise `ManifestError` unless `port` is a TCP port number."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ManifestError(f"gateway: {what} is {port!r}; use a TCP port between 1 and 65535")


def _listen(host: str | None, port: int) -> str:
    return f"{host}:{port}" if host else str(port)


def nginx_conf(
    routes: Mapping[str, int],
    *,
    http_port: int,
    mqtt_port: int,
    broker_port: int,
    upstream_host: str = UPSTREAM_HOST,
    listen_host: str | None = None,
    runtime_dir: str = RUNTIME_DIR,
    tls: Tls | None = None,
) -> str:
    """Return the gateway's nginx.conf.

    Args:
        routes: Route name (``core-data``) → upstream HTTP port, in the order to write them.
        http_port: Port of the HTTP server.
        mqtt_port: Port of the MQTT stream server.
        broker_port: The broker's port on `upstream_host`.
        upstream_host: Where the services and the broker listen (the pod's loopback).
        listen_host: Address to listen on; ``None`` listens on every address.
        runtime_dir: Directory for the pid file and temp paths (must exist).
        tls: Secure mode: TLS on both servers, every route checked by security-proxy-auth.

    Raises:
        ManifestError: A route name or port is invalid.
    """
    check_port("http_port", http_port)
    check_port("mqtt_port", mqtt_port)
    check_port("broker_port", broker_port)
    if http_port == mqtt_port:
        raise ManifestError(f"gateway: http_port and mqtt_port are both {http_port}; use two different ports")
    for name, port in routes.items():
        if not _ROUTE.match(name):
            raise ManifestError(
                f"gateway: route name {name!r} is not a lowercase DNS label; rename it (e.g. core-data)"
            )
        check_port(f"port of route {name!r}", port)
    run = runtime_dir.rstrip("/") or "/"
    temp_paths = "".join(f"    {kind}_temp_path {run}/nginx-{kind.replace('_', '-')};\n" for kind in _TEMP_PATHS)
    check = "            auth_request /auth;\n" if tls else ""
    locations = "".join(
        f"        location /{name}/ {{\n{check}            proxy_pass http://{upstream_host}:{port}/;\n        }}\n"
        for name, port in routes.items()
    )
    http_listen, stream_listen, certificates = _listen(listen_host, http_port), _listen(listen_host, mqtt_port), ""
    if tls is not None:
        check_port("proxy_auth_port", tls.proxy_auth_port)
        check_port("secret_store_port", tls.secret_store_port)
        http_listen, stream_listen = f"{http_listen} ssl", f"{stream_listen} ssl"
        certificates = (
            f"        ssl_certificate {tls.certificate};\n        ssl_certificate_key {tls.key};\n"
            "        ssl_protocols TLSv1.3;\n"
        )
        locations = _auth_location(upstream_host, tls) + _secret_store_locations(upstream_host, tls) + locations
    return f"""\
# EdgeX single-pod API gateway. Generated by edgex-smoke (manifests/_gateway.py)
# from the release profile's service table; do not edit by hand.
include {MODULES_INCLUDE};

worker_processes 1;
pid {run}/nginx.pid;
error_log stderr notice;

events {{
    worker_connections 1024;
}}

http {{
    access_log /dev/stdout;
{temp_paths}
    proxy_http_version 1.1;
    proxy_connect_timeout 5s;
    proxy_read_timeout 60s;
    proxy_send_timeout 60s;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;

    server {{
        listen {http_listen};
{certificates}
{locations}
        location / {{
            return 404;
        }}
    }}
}}

stream {{
    server {{
        listen {stream_listen};
{certificates}        proxy_pass {upstream_host}:{broker_port};
        proxy_connect_timeout 5s;
        proxy_timeout {MQTT_IDLE_TIMEOUT};
    }}
}}
"""


def _auth_location(upstream_host: str, tls: Tls) -> str:
    """security-proxy-auth's ``GET /auth`` (204, 401 or 403), asked with the original URI and no body."""
    return (
        "        location = /auth {\n"
        "            internal;\n"
        f"            proxy_pass http://{upstream_host}:{tls.proxy_auth_port}/auth;\n"
        "            proxy_pass_request_body off;\n"
        '            proxy_set_header Content-Length "";\n'
        "            proxy_set_header X-Forwarded-URI $request_uri;\n"
        "        }\n"
    )


def _secret_store_locations(upstream_host: str, tls: Tls) -> str:
    return "".join(
        f"        location /vault/{path} {{\n"
        f"            proxy_pass http://{upstream_host}:{tls.secret_store_port}/{path};\n"
        "        }\n"
        for path in SECRET_STORE_PATHS
    )
