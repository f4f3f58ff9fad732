"""EdgeX's token flow from outside, through the gateway: a proxy user's password in, a JWT out.

As EdgeX documents it (edgex-docs, security/Ch-Authenticating.md): the user logs in to the
secret store's userpass endpoint for a client token, then asks its OIDC endpoint for an
identity token, the JWT every service call carries. Both endpoints are reachable only through
the gateway, under ``/vault/``. Neither the password nor a token ever goes into a message or a
log line.
"""

from __future__ import annotations

from urllib.parse import quote

import requests

from edgex_client import _http
from harness.errors import GatewayAuthError, GatewayError

LOGIN_PATH = "/vault/v1/auth/userpass/login/{user}"
OIDC_PATH = "/vault/v1/identity/oidc/token/{user}"
SUBJECT = "secret store"


def user_jwt(
    base_url: str,
    username: str,
    password: str,
    *,
    verify: str,
    server_name: str | None = None,
    timeout_s: float = 10.0,
) -> str:
    """Log `username` in through the gateway at `base_url` and return its JWT.

    Raises:
        GatewayAuthError: The secret store refused the password or the client token.
        GatewayError: No answer, or an answer without the expected field.
    """
    session = requests.Session()
    if server_name is not None:
        session.mount("https://", _http.NamedServerAdapter(server_name))
    user = quote(username, safe="")
    with session:
        login = _http.Call("POST", SUBJECT, LOGIN_PATH.format(user=user), base_url.rstrip("/"), has_token=False)
        body = _http.json_object(
            login, _http.send(session, login, verify=verify, timeout_s=timeout_s, json_body={"password": password})
        )
        client_token = _field(login, body, "auth", "client_token")
        oidc = _http.Call("GET", SUBJECT, OIDC_PATH.format(user=user), base_url.rstrip("/"), has_token=True)
        headers = {"Authorization": f"Bearer {client_token}"}
        body = _http.json_object(oidc, _http.send(session, oidc, verify=verify, timeout_s=timeout_s, headers=headers))
        return _field(oidc, body, "data", "token")


def _field(call: _http.Call, body: dict[str, object], section: str, key: str) -> str:
    inner = body.get(section)
    value = inner.get(key) if isinstance(inner, dict) else None
    if not isinstance(value, str) or not value:
        error = GatewayAuthError if section == "auth" else GatewayError
        raise error(
            f"{SUBJECT}: {call.display} answered without {section}.{key}; check that the gateway routes "
            "/vault/ to the secret store and that the proxy user exists (secrets-config proxy adduser)"
        )
    return value
