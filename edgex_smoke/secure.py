"""Secure mode's credentials: what a smoke run needs to talk to a secured EdgeX, and nothing more.

All of it is made by the deployment itself, inside its pod; the run reads it the way an
operator would, and keeps it in memory only:

- the gateway's CA certificate (public), copied out of the gateway container to verify TLS;
- a proxy user and its JWT: ``secrets-config proxy adduser`` in the security-proxy-setup
  container prints the user's password, which goes straight to the token flow through the
  gateway (`edgex_client.tokens`);
- the broker's ``message-bus`` credentials, read inside the pod with device-virtual's own
  secret-store token, for the run's MQTT clients.

Passwords and tokens never reach a log line, a message, the report or the JUnit file: the
commands that print them run with testinfra's logger silenced, and errors quote stderr only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import manifests
from distros import Deployment, Distro, Target
from edgex_client import tokens
from harness.errors import ProductError

PROXY_USER = "edgex-smoke"
CA_IN_POD = "/etc/edgex-smoke/tls/ca.crt"
PROXY_SETUP_CONTAINER = "security-proxy-setup"
ADD_USER = f"/edgex/secrets-config proxy adduser --user {PROXY_USER} --useRootToken"
BUS_SECRET_OWNER = "device-virtual"  # noqa: S105 - a container's name, not a secret
BUS_SECRET = (
    'token=$(sed -n \'s/.*"client_token":"\\([^"]*\\)".*/\\1/p\' '
    f"/tmp/edgex/secrets/{BUS_SECRET_OWNER}/secrets-token.json) && "  # noqa: S108 - inside the container
    'wget -q -O - --header "X-Vault-Token: $token" '
    f"http://127.0.0.1:8200/v1/secret/edgex/{BUS_SECRET_OWNER}/message-bus"
)
"""Inside device-virtual's container: its token never leaves the pod, only the secret's value does."""
STDERR_CHARS = 300


@dataclass(frozen=True)
class Credentials:
    """What the run's clients present to a secured EdgeX; `repr` shows none of the secrets."""

    ca_path: Path
    server_name: str
    jwt: str = field(repr=False)
    bus_username: str = field(repr=False)
    bus_password: str = field(repr=False)


def obtain(
    distro: Distro, target: Target, deployment: Deployment, *, gateway: str, gateway_url: str, work_dir: Path
) -> Credentials:
    """Read the CA, make the proxy user, get its JWT and the broker's credentials.

    Args:
        distro: The target's driver, for exec into the pod's containers.
        target: The target the pod runs on.
        deployment: The secure EdgeX pod.
        gateway: The gateway's container name.
        gateway_url: Where the gateway answers (``https://…``).
        work_dir: Where the CA certificate is written (it is public).

    Raises:
        ProductError: A step failed; the message names the container or endpoint and quotes
            no secret. Callers retry while the pod is still starting.
    """
    pod = _PodShell(distro, target, deployment)
    ca = pod.run(gateway, f"cat {CA_IN_POD}", "cat")
    if "BEGIN CERTIFICATE" not in ca:
        raise ProductError(f"gateway: {CA_IN_POD} holds no certificate yet; the gateway makes it at start")
    work_dir.mkdir(parents=True, exist_ok=True)
    ca_path = work_dir / "gateway-ca.crt"
    ca_path.write_text(ca, encoding="utf-8")
    user = _json(pod.run(PROXY_SETUP_CONTAINER, ADD_USER, "secrets-config"), "secrets-config proxy adduser")
    jwt = tokens.user_jwt(
        gateway_url,
        str(user.get("username") or PROXY_USER),
        str(user.get("password") or ""),
        verify=str(ca_path),
        server_name=manifests.GATEWAY_SERVER_NAME,
    )
    bus = _json(pod.run(BUS_SECRET_OWNER, BUS_SECRET, "wget of the message-bus secret"), "the message-bus secret")
    data = bus.get("data")
    secret = data if isinstance(data, dict) else {}
    username, password = str(secret.get("username") or ""), str(secret.get("password") or "")
    if not username or not password:
        raise ProductError(
            f"{BUS_SECRET_OWNER}: the secret store's message-bus secret has no username and password; "
            "check security-secretstore-setup's EDGEX_ADD_KNOWN_SECRETS"
        )
    return Credentials(ca_path, manifests.GATEWAY_SERVER_NAME, jwt, username, password)


@contextmanager
def _testinfra_quiet() -> Iterator[None]:
    """Testinfra logs every command's output at debug level; these outputs are secrets."""
    logger = logging.getLogger("testinfra")
    was = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = was


@dataclass(frozen=True)
class _PodShell:
    """Commands inside the pod's containers, through the target's exec, with their output kept out of logs."""

    distro: Distro
    target: Target
    deployment: Deployment

    def run(self, container: str, command: str, what: str) -> str:
        host = self.distro.container_host(self.target, self.deployment, container)
        with _testinfra_quiet():
            try:
                result = host.run(command)
            except Exception as err:  # testinfra raises its own errors; the message holds no output
                raise ProductError(f"{container}: exec failed: {type(err).__name__}") from None
        if result.rc != 0:
            stderr = " ".join(str(result.stderr).split())[-STDERR_CHARS:]
            raise ProductError(f"{container}: {what} exited {result.rc}: {stderr or 'no stderr'}")
        return str(result.stdout)


def _json(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise ProductError(f"{what}: printed no JSON object; check the container's log") from None
    if not isinstance(value, dict):
        raise ProductError(f"{what}: printed JSON that is not an object")
    return value
